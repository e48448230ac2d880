"""Several protocols in one cascade (sim/protocols.py): shared paths, gas and venues; one
protocol's liquidations cause another's through the venue its oracle reads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from marginengine.config import read_toml
from marginengine.errors import ConfigError
from marginengine.sim import apply_overrides
from marginengine.sim.cascade import run_cascade, scenario_spec
from marginengine.sim.protocols import protocol_rng
from tests.cli.test_cli import EXAMPLES, run

SHARED = EXAMPLES / "shared_collateral.toml"


def alone(data: dict[str, Any]) -> dict[str, Any]:
    """The scenario with its further protocol as the only one."""
    extra = data["protocols"][0]
    out = {k: v for k, v in data.items()
           if k not in ("protocols", "protocol", "book", "keepers", "oracle")}
    out.update(protocol=extra["protocol"], book=extra["book"], keepers=extra["keepers"],
               oracle=extra["oracle"])
    return out


def test_liquidations_in_one_protocol_cause_liquidations_in_the_other() -> None:
    data = read_toml(SHARED)
    both = run_cascade(data, amplification=False)
    per = both.summary["protocols"]
    assert set(per) == {"aave", "lender2"}
    assert per["aave"]["liquidation_count"] > 0
    assert per["lender2"]["liquidation_count"] > 50
    # lender2's oracle reads the pool, which aave's keepers' sales pushed below the
    # external price (1,640 at the end) long before lender2's own liquidations began.
    series = both.series
    first = next(i for i, n in enumerate(series["liquidations_cum.lender2"]) if n)
    assert series["liquidations_cum"][first] > 0  # aave's came first
    assert series["oracle_price_usd.lender2"][first] < series["external_price_usd"][first]
    # Without aave, the same paths and the same lender2 book: no liquidation at all.
    single = run_cascade(alone(data), amplification=False)
    assert single.summary["liquidation_count"] == 0
    assert single.summary["bad_debt"] == 0
    assert single.summary["min_price"] == both.summary["min_price"]


def test_combined_figures_are_the_sums_over_protocols() -> None:
    result = run_cascade(read_toml(SHARED), amplification=False)
    s, per = result.summary, result.summary["protocols"]
    for key in ("bad_debt", "liquidation_count", "liquidated_value", "borrower_loss",
                "accounts", "events"):
        assert s[key] == pytest.approx(per["aave"][key] + per["lender2"][key]), key
    assert s["accounts"] == 500
    # Capacity too: before, borrowed_value was aave's 30M alone, beside a combined bad debt.
    for key in ("borrowing_power", "borrowed_value", "borrow_demand"):
        assert s[key] == pytest.approx(per["aave"][key] + per["lender2"][key]), key
    assert s["borrow_demand"] == pytest.approx(35_000_000)
    assert s["state_hash"] == per["aave"]["state_hash"]
    assert per["lender2"]["state_hash"] != per["aave"]["state_hash"]
    assert len(result.series["bad_debt_usd.lender2"]) == 61


def test_series_when_several_protocols_then_additive_columns_are_the_sums() -> None:
    # bad_debt_usd was aave's alone while the summary's bad_debt was the sum; now the
    # column without a suffix is the sum, and each protocol, the first too, has its own.
    result = run_cascade(read_toml(SHARED), amplification=False)
    s, per, series = result.summary, result.summary["protocols"], result.series
    # The column read 0 at the end (aave's) beside a summary of 605,952.61 (lender2's).
    assert per["aave"]["bad_debt"] == 0
    assert round(per["lender2"]["bad_debt"], 2) == round(s["bad_debt"], 2) == 605_952.61
    assert series["bad_debt_usd"][-1] == s["bad_debt"]
    assert series["bad_debt_usd.aave"][-1] == per["aave"]["bad_debt"]
    assert series["bad_debt_usd.lender2"][-1] == per["lender2"]["bad_debt"]
    assert series["liquidations_cum"][-1] == s["liquidation_count"] == \
        series["liquidations_cum.aave"][-1] + series["liquidations_cum.lender2"][-1]
    assert series["liquidated_value_usd_cum"][-1] == pytest.approx(s["liquidated_value"])
    assert series["borrower_loss_usd_cum"][-1] == pytest.approx(s["borrower_loss"])
    for i in range(61):
        assert series["bad_debt_usd"][i] == pytest.approx(
            series["bad_debt_usd.aave"][i] + series["bad_debt_usd.lender2"][i])
        assert series["bad_debt_usd"][i] == pytest.approx(
            series["bad_debt_realized_usd_cum"][i] + series["bad_debt_in_auctions_usd"][i]
            + series["underwater_usd"][i])
        assert series["liquidatable_accounts"][i] == (
            series["liquidatable_accounts.aave"][i] + series["liquidatable_accounts.lender2"][i])
    # The first protocol's own columns are its series as it recorded them.
    assert series["oracle_price_usd.aave"] == series["oracle_price_usd"]


def test_combined_time_to_liquidate_is_the_mean_over_every_protocols_liquidations() -> None:
    # It was the first protocol's alone (0 steps for families_cascade, whose Aave protocol
    # liquidates at once, while Liquity's and Morpho's took 1.37 and 2.27 steps).
    from marginengine.sim.protocols import combined_summary

    def one(mean: float | None, count: int) -> dict[str, Any]:
        return {"time_to_liquidate_mean_steps": mean, "liquidation_count": count}

    s = combined_summary(["a", "b", "c"], [one(0.0, 110), one(1.5, 92), one(3.0, 150)])
    assert s["time_to_liquidate_mean_steps"] == pytest.approx((92 * 1.5 + 150 * 3.0) / 352)
    assert s["liquidation_count"] == 352
    # a protocol without liquidations (mean None) counts for nothing; none at all: None
    s = combined_summary(["a", "b"], [one(None, 0), one(2.0, 4)])
    assert s["time_to_liquidate_mean_steps"] == 2.0
    assert combined_summary(["a"], [one(None, 0)])["time_to_liquidate_mean_steps"] is None


def test_combined_capacity_when_two_books_then_sums_and_ratios_of_the_sums() -> None:
    from marginengine.sim.protocols import combined_summary

    def one(power: float, borrowed: float, demand: float) -> dict[str, Any]:
        return {"borrowing_power": power, "borrowed_value": borrowed,
                "borrow_demand": demand, "borrow_usage": borrowed / power,
                "demand_served": borrowed / demand}

    s = combined_summary(["a", "b"], [one(400.0, 300.0, 300.0), one(100.0, 50.0, 100.0)])
    assert (s["borrowing_power"], s["borrowed_value"], s["borrow_demand"]) == (500, 350, 400)
    assert s["borrow_usage"] == 350 / 500        # was a's 0.75
    assert s["demand_served"] == 350 / 400       # was a's 1.0
    assert s["protocols"]["b"]["borrow_usage"] == 0.5


def test_a_further_protocol_has_its_own_generator() -> None:
    rng = np.random.default_rng(5)
    state = rng.bit_generator.state
    a, b = protocol_rng(state, 1), protocol_rng(state, 1)
    assert a.random() == b.random()
    assert protocol_rng(state, 2).random() != protocol_rng(state, 1).random()
    assert rng.bit_generator.state == state  # nothing drawn from the run's stream
    other = np.random.default_rng(6).bit_generator.state
    assert protocol_rng(other, 1).random() != protocol_rng(state, 1).random()


def test_same_scenario_same_figures() -> None:
    data = read_toml(SHARED)
    data["steps"] = 45
    a = run_cascade(data, amplification=False)
    b = run_cascade(data, amplification=False)
    assert {n: p["state_hash"] for n, p in a.summary["protocols"].items()} == \
        {n: p["state_hash"] for n, p in b.summary["protocols"].items()}


@pytest.mark.parametrize(("change", "problem"), [
    (lambda d: d["protocols"][0].update(name="aave"),
     "protocols.0.name: 'aave' is taken (protocol names: aave; the scenario's own is "
     "[protocol] name)"),
    (lambda d: d["protocols"][0]["book"].update(debt_asset="DAI"),
     "protocols.0.book.debt_asset: unknown asset 'DAI' (markets: USDC, WETH)"),
    (lambda d: d["protocols"][0]["protocol"]["markets"].update(DAI={}) or
     d["protocols"][0]["book"].update(debt_asset="DAI"),
     "protocols.0.book: its venue quote differs from the first protocol's (the venues are "
     "shared): give both books the same kind (single-asset with debt assets of the same "
     "decimals, or both of several assets)"),
])
def test_bad_further_protocols_are_refused_naming_the_field(change: Any,
                                                            problem: str) -> None:
    data = read_toml(SHARED)
    change(data)
    with pytest.raises(ConfigError) as info:
        scenario_spec(data)
    assert problem in info.value.problems


def test_cli_writes_a_log_per_protocol_that_replays(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "shared"
    code, stdout, _ = run(["simulate", str(SHARED), "--out", str(out), "--json", "--quiet",
                           "--set", "steps=20"], capsys)
    assert code == 0
    summary = json.loads(stdout)
    for name, log in (("aave", "events.sqlite"), ("lender2", "events.lender2.sqlite")):
        code, replayed, _ = run(["replay", str(out / log), "--json"], capsys)
        assert code == 0
        assert json.loads(replayed)["state_hash"] == summary["protocols"][name]["state_hash"]


def test_further_protocols_book_file_when_run_from_another_cwd_then_read_beside_scenario(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # Regression (issue 11): anchor_files anchored the top-level book.file but not a
    # [[protocols]] entry's, so lender2's relative book.file was looked up in the working
    # directory and the run exited 2 with "protocols[0].book.file: no such file".
    folder = tmp_path / "scenario"
    folder.mkdir()
    # Both books from files (a file book is a book of several assets; the venues' quote
    # must agree). alice: 10 WETH against 12,000 USDC; bob: 5 WETH against 4,000 USDC.
    (folder / "aave.csv").write_text("account,asset,supplied,borrowed\n"
                                     "alice,WETH,10,\nalice,USDC,,12000\n")
    (folder / "books").mkdir()
    (folder / "books" / "lender2.csv").write_text("account,asset,supplied,borrowed\n"
                                                  "bob,WETH,5,\nbob,USDC,,4000\n")
    scenario = folder / "two.toml"
    scenario.write_text("""kind = "cascade"
name = "two"
steps = 5
step_seconds = 60
protocol = { preset = "aave-v3", name = "aave", markets = { WETH = {}, USDC = {} } }
prices = { USDC = 1 }
price = { asset = "WETH", process = "bridge", s0 = 2000, end = 1640, sigma = 0.3 }
venue = { kind = "amm", base_reserve = 3000 }
book = { file = "aave.csv" }
liquidity = { USDC = 100000 }

[[protocols]]
name = "lender2"
protocol = { preset = "aave-v3", name = "lender2", markets = { WETH = {}, USDC = {} } }
book = { file = "books/lender2.csv" }
liquidity = { USDC = 100000 }
keepers = [{ id = "keeper2", flash_loan = true }]
""")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    code, stdout, stderr = run(["simulate", str(scenario), "--out", "run", "--json",
                                "--quiet"], capsys)
    assert code == 0, stderr
    summary = json.loads(stdout)
    assert summary["protocols"]["aave"]["accounts"] == 1
    assert summary["protocols"]["lender2"]["accounts"] == 1
    # The anchored path is the file beside the scenario, whatever the working directory.
    spec, _ = scenario_spec(read_toml(scenario), source=str(scenario))
    assert Path(spec.protocols[0].book.file) == folder / "books" / "lender2.csv"


def _with_carol(actions: list[dict[str, Any]]) -> dict[str, Any]:
    """examples/shared_collateral.toml with carol, an explicit account of lender2 only
    (10 WETH against 15,000 USDC: health 20,000 x 0.83 / 15,000 = 1.11 at the start,
    16,400 x 0.83 / 15,000 = 0.91 at the end's 1,640), and ``actions``."""
    data = read_toml(SHARED)
    data["protocols"][0]["accounts"] = [
        {"id": "carol", "deposit": {"WETH": 10}, "borrow": {"USDC": 15_000}}]
    data["actions"] = actions
    return data


def _run_each(data: dict[str, Any]) -> list[Any]:
    """Every protocol's runner after the run (the runners run_cascade builds)."""
    from marginengine.sim.cascade import protocol_configs, runner_class
    from marginengine.sim.protocols import run_together

    spec, protocol = scenario_spec(data)
    rng = np.random.default_rng(spec.seed)
    state = rng.bit_generator.state
    main = runner_class(protocol)(spec, protocol, rng)
    runners = [main, *(runner_class(config)(sub, config, protocol_rng(state, k), shared=main)
                       for k, (_, sub, config) in enumerate(protocol_configs(spec), start=1))]
    run_together(runners, spec.steps)
    return runners


@pytest.mark.parametrize("named", [True, False])
def test_actions_when_protocol_named_or_account_explicit_there_then_act_on_that_protocol(
        named: bool) -> None:
    # Regression (issue 11): [[actions]] always acted on the first protocol, so carol's
    # repay went to aave (where carol has no account) and lender2 liquidated her. Now it
    # acts on lender2, named or told by carol's explicit account there.
    repay = {"step": 1, "type": "repay", "account": "carol", "asset": "USDC",
             "amount": 10_000, **({"protocol": "lender2"} if named else {})}
    withdraw = {"step": 2, "type": "withdraw", "account": "carol", "asset": "WETH",
                "amount": 100, "protocol": "lender2"}
    aave, lender2 = _run_each(_with_carol([repay, withdraw]))
    # Repaid to 5,000 at step 1 (plus an hour's interest, under 0.05 USD): health stays
    # above 1 even with lender2's oracle reading the pool her neighbours' sales sink
    # (10 WETH x 1,117.86 x 0.83 / 5,000 = 1.86 at the end): never liquidated.
    carol = lender2.engine.account_data("carol")
    assert 5_000 <= carol.total_debt / 10**8 < 5_000.05
    assert carol.health_factor > 10**18
    assert carol.total_collateral == 10 * lender2.engine.prices["WETH"]  # her 10 WETH
    assert "carol" not in aave.engine.ledger.accounts
    summary = run_cascade(_with_carol([repay, withdraw]), amplification=False).summary
    assert summary["explicit_actions"] == 2
    assert summary["protocols"]["aave"]["explicit_actions"] == 0
    assert summary["protocols"]["lender2"]["explicit_actions"] == 2
    assert summary["rejected_actions"] == [
        'lender2: WithdrawRejected(reason="amount 100 WETH is beyond the supplied balance '
        '10 WETH")']


def test_actions_when_protocol_unknown_ambiguous_or_asset_not_its_market_then_named() -> None:
    data = _with_carol([
        {"step": 1, "type": "repay", "account": "carol", "asset": "USDC", "amount": 1,
         "protocol": "lendr2"},
        {"step": 1, "type": "repay", "account": "dave", "asset": "USDC", "amount": 1},
        {"step": 1, "type": "repay", "account": "carol", "asset": "DAI", "amount": 1}])
    data["protocol"]["markets"]["DAI"] = {}        # aave lists DAI; lender2 does not
    dave = {"id": "dave", "deposit": {"WETH": 1}, "borrow": {"USDC": 100}}
    data["accounts"] = [dave]
    data["protocols"][0]["accounts"].append(dave)
    with pytest.raises(ConfigError) as info:
        scenario_spec(data)
    assert info.value.problems == [
        "actions.0.protocol: unknown protocol 'lendr2' (protocols: aave, lender2)",
        "actions.1.protocol: ambiguous: account 'dave' is an explicit account of aave and "
        "lender2; name the protocol (protocols: aave, lender2)",
        "actions.2.asset: unknown asset 'DAI' (markets of lender2: USDC, WETH)"]


def test_entry_when_its_protocol_table_names_none_then_the_entry_name_keys_it() -> None:
    # The table's name defaulted to "protocol", the first protocol's: the summary's
    # protocols held one entry and the further protocol's columns overwrote the first's.
    data = read_toml(SHARED)
    data["steps"] = 5
    data["protocol"].pop("name")
    data["protocols"][0]["protocol"].pop("name")
    result = run_cascade(data, amplification=False)
    assert list(result.summary["protocols"]) == ["protocol", "lender2"]
    assert "bad_debt_usd.lender2" in result.series and "bad_debt_usd.protocol" in result.series


def test_entry_when_its_protocol_table_names_another_then_refused() -> None:
    data = read_toml(SHARED)
    data["protocols"][0]["name"] = "other"
    with pytest.raises(ConfigError) as err:
        scenario_spec(data)
    assert err.value.problems == [
        "protocols.0.protocol.name: 'lender2' differs from the entry's name 'other' (the "
        "name its figures and log are kept under); remove it or give the same"]


def test_entry_when_scenario_oracles_are_per_asset_then_inherited_without_conflict() -> None:
    # lst_crash reads WETH through [oracles.WETH]; a further protocol giving no oracle of
    # its own was refused with "protocols.0.oracles.WETH: WETH's oracle is also given in
    # [oracle]; keep one", an [oracle] it never gave.
    data = apply_overrides(read_toml(EXAMPLES / "lst_crash.toml"), [
        "steps=3", "book.accounts=30",
        'protocols=[{name="p2", protocol={preset="aave-v3", markets={WETH={}, USDC={}, '
        'wstETH={ltv=0.7, liquidation_threshold=0.75, liquidation_bonus=0.05}}}, '
        'book={accounts=10, total_debt=100000, profiles=[{name="a", share=1, '
        'collateral={WETH=1}, debt={USDC=1}}]}}]'])
    result = run_cascade(data, amplification=False)
    assert list(result.summary["protocols"]) == ["protocol", "p2"]
    # p2 reads WETH through the scenario's push oracle, as the first protocol does.
    assert result.series["oracle_price_usd.p2"] == result.series["oracle_price_usd"]


def test_venue_figures_when_several_protocols_then_the_shared_pool_after_every_sale() -> None:
    # Each protocol records the shared pool after its own keepers' sales. The combined
    # figures were aave's (the first): the pool before lender2's sales of the same step,
    # min_venue_price 1,117.86 while lender2 sold it down to 1,075.43, and the series'
    # venue_price_usd ("the venue's mid price after the step") missed lender2's sales.
    result = run_cascade(read_toml(SHARED), amplification=False)
    s, per, series = result.summary, result.summary["protocols"], result.series
    assert round(per["aave"]["min_venue_price"], 2) == 1_117.86
    assert round(per["lender2"]["min_venue_price"], 2) == 1_075.43
    assert s["min_venue_price"] == per["lender2"]["min_venue_price"]
    assert s["asset_prices"]["WETH"]["min_venue_price"] == per["lender2"]["min_venue_price"]
    # The series and the summary agree: the lowest end-of-step price is the summary's.
    assert min(series["venue_price_usd"]) == s["min_venue_price"]
    assert series["venue_price_usd"][-1] == pytest.approx(1_075.43, abs=0.005)


def test_combined_venue_low_when_protocols_read_the_pool_apart_then_the_lowest() -> None:
    from marginengine.sim.protocols import combined_summary

    def one(low: float) -> dict[str, Any]:
        return {"min_venue_price": low, "min_price": 1_640.0,
                "asset_prices": {"WETH": {"min_price": 1_640.0, "final_price": 1_640.0,
                                          "min_venue_price": low}}}

    s = combined_summary(["a", "b", "c"], [one(1_117.86), one(1_075.43), one(1_090.0)])
    assert s["min_venue_price"] == 1_075.43
    assert s["asset_prices"]["WETH"] == {"min_price": 1_640.0, "final_price": 1_640.0,
                                         "min_venue_price": 1_075.43}
    assert s["protocols"]["a"]["min_venue_price"] == 1_117.86  # each its own, unchanged
