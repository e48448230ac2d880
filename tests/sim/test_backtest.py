"""Backtests and the adaptive agents: the estimator's worked figures, the proposer within
steward bounds, common random numbers across policies, and the CLI's files and errors."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marginengine.config import protocol_from_dict, read_toml
from marginengine.config.adaptive import AdaptiveConfig
from marginengine.engine import (
    AdvanceTime,
    Borrow,
    Deposit,
    Engine,
    SetPrice,
    SetRiskParams,
    SetUseAsCollateral,
    SetUserEMode,
    Withdraw,
)
from marginengine.errors import ConfigError
from marginengine.margin.adaptive import fhs_haircut
from marginengine.margin.adaptive_model import YEAR_SECONDS, AdaptiveMarginModel
from marginengine.oracle.conditions import MarketConditions
from marginengine.oracle.volatility import log_returns
from marginengine.sim.adaptive_agent import conditions_event, propose_risk_params
from marginengine.sim.backtest import (
    BacktestRunner,
    BookPower,
    backtest,
    borrowing_power_base,
    parse_policy,
    policy_data,
)
from marginengine.sim.cascade import scenario_spec
from marginengine.sim.pipeline import child_seed
from tests.cli.test_cli import EXAMPLES, run

ROOT = Path(__file__).resolve().parents[2]
HOURLY = ROOT / "data" / "eth_hourly" / "eth_usd_gemini_1h_2016-05_2020-04.csv"
USD = 10**8


def test_conditions_event_ewma_matches_the_worked_example() -> None:
    # docs/margin.md section 1: 10,000, 11,000, 9,900, 10,890 daily, lam 0.94 -> 1,832,264.
    adaptive = AdaptiveConfig(apc="none", period_seconds=86_400)
    prices = [10_000 * USD, 11_000 * USD, 9_900 * USD, 10_890 * USD]
    event = conditions_event("WETH", prices, adaptive, depth=5 * USD, open_interest=7)
    assert (event.volatility_ppm, event.depth, event.open_interest) == (1_832_264, 5 * USD, 7)


def test_conditions_event_fhs_publishes_the_normal_equivalent_volatility() -> None:
    rng = np.random.default_rng(7)
    prices = [int(2_000 * USD * math.exp(x)) for x in np.cumsum(rng.standard_t(3, 300) * 0.01)]
    adaptive = AdaptiveConfig(model="fhs", apc="none", period_seconds=3_600)
    vol = conditions_event("WETH", prices, adaptive).volatility_ppm
    assert vol is not None
    config = protocol_from_dict({"markets": {"WETH": {}, "USDC": {"decimals": 6}}})
    model = AdaptiveMarginModel(config, adaptive)
    margin = model.haircut("WETH", MarketConditions(volatility_ppm=vol), None)
    assert margin is not None
    horizon = model.horizon.periods(3_600)
    fhs = fhs_haircut(log_returns(prices), horizon, 9_900).es_ppm
    # The margin model's one formula reproduces the FHS tail, never below it.
    assert fhs <= margin.risk_ppm <= fhs + 2
    assert model.horizon_years == model.horizon.periods(YEAR_SECONDS)


def test_estimator_on_the_hourly_eth_series_sees_black_thursday() -> None:
    with HOURLY.open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if float(r["Volume"]) > 0]  # zero volume: gaps
    rows.sort(key=lambda r: r["Date"])

    def closes(until: str) -> list[int]:
        return [round(float(r["Close"]) * USD) for r in rows if r["Date"] <= until]

    adaptive = AdaptiveConfig(apc="none")  # EWMA 0.94 over the last 720 hours
    before = conditions_event("ETH", closes("2020-03-11 23:00:00"), adaptive).volatility_ppm
    after = conditions_event("ETH", closes("2020-03-13 02:00:00"), adaptive).volatility_ppm
    assert (before, after) == (1_410_514, 6_690_210)  # 141% a year -> 669%, at the low


def test_propose_risk_params_when_volatility_jumps_then_clamped_with_its_cost() -> None:
    config = protocol_from_dict({"markets": {
        "WETH": {"ltv": "0.80", "liquidation_threshold": "0.825"}, "USDC": {"decimals": 6}},
        "adaptive": {"mode": "governed", "apc": "none", "measure": "var"}})
    engine = Engine(config)
    engine.apply(SetPrice("WETH", 2_000 * USD))
    engine.apply(SetPrice("USDC", USD))
    engine.apply(Deposit("lp", "USDC", 10**12))
    engine.apply(Deposit("alice", "WETH", 10**18))
    engine.apply(Borrow("alice", "USDC", 1_600 * 10**6))
    engine.apply(SetPrice("WETH", 1_940 * USD))  # HF 1.0003 at 82.5%
    engine.apply(conditions_event("WETH", [2_000 * USD, 1_500 * USD, 2_100 * USD, 1_940 * USD],
                                  config.adaptive))  # type: ignore[arg-type]
    assert engine.config.markets["WETH"].liquidation_threshold_bps == 8_250  # governed
    proposal = propose_risk_params(engine, "WETH")
    assert proposal is not None and proposal.event is not None
    assert proposal.target.liquidation_threshold_bps < 8_200  # the model wants much lower
    assert (proposal.event.ltv_bps, proposal.event.liquidation_threshold_bps) == (7_950, 8_200)
    assert proposal.newly_liquidatable == (("alice", 1_600 * USD),)
    outcome = engine.apply(proposal.event)
    assert outcome.accepted and outcome.details["newly_liquidatable_debt"] == 1_600 * USD
    again = propose_risk_params(engine, "WETH")
    assert again is not None and again.event is None  # three days must pass first
    assert {d.code for d in again.decisions} == {"debounce_not_respected"}


def test_parse_policy_and_bad_names() -> None:
    assert parse_policy("static") == ("static", None, None)
    assert parse_policy("adaptive") == ("adaptive", "ewma", None)
    assert parse_policy("adaptive:fhs:governed") == ("adaptive", "fhs", "governed")
    with pytest.raises(ConfigError, match="--margin: unknown adaptive mode 'auto'"):
        parse_policy("adaptive:ewma:auto")
    with pytest.raises(ConfigError, match="--margin: unknown adaptive model 'foo'"):
        parse_policy("adaptive:foo")
    with pytest.raises(ConfigError, match="--margin: 'dynamic' is not a policy"):
        parse_policy("dynamic")
    for text in ("static:", "adaptive:", "adaptive::governed", "adaptive:ewma:"):
        with pytest.raises(ConfigError) as info:
            parse_policy(text)
        assert info.value.problems == [f"--margin: {text!r} has an empty part (static or "
                                       "adaptive[:MODEL[:MODE]], e.g. adaptive:ewma:governed)"]


def _small_crash() -> dict[str, object]:
    data = read_toml(EXAMPLES / "backtest_crash.toml")
    data["steps"] = 12
    data["price"]["crash_at"] = 6
    data["book"]["accounts"] = 25
    return data


def test_backtest_runs_every_policy_on_the_same_paths() -> None:
    data = _small_crash()
    assert "adaptive" not in policy_data(data, "static")["protocol"]
    rows, result = backtest(data, ["static", "adaptive:realized"], runs=2)
    assert [(r["policy"], r["run"]) for r in rows] == [
        ("static", 0), ("adaptive:realized", 0), ("static", 1), ("adaptive:realized", 1)]
    for i in (0, 1):
        pair = [r for r in rows if r["run"] == i]
        assert pair[0]["min_price"] == pair[1]["min_price"]  # common random numbers
    assert rows[0]["final_threshold_bps"] == 8_300  # aave-v3's WETH, static
    assert rows[1]["final_threshold_bps"] != 8_300  # the adaptive policy moved it
    d = result["difference"]["adaptive:realized"]["bad_debt"]
    assert d["ci_low"] <= d["value"] <= d["ci_high"]
    again, _ = backtest(data, ["static", "adaptive:realized"], runs=2)
    assert [r["state_hash"] for r in again] == [r["state_hash"] for r in rows]


def test_backtest_garch_when_path_too_short_then_refused_naming_margin() -> None:
    # GARCH(1,1) fits 30 returns at least: a 12-step path gives 13 prices. The message
    # named only "returns" (and came from the first step of every path, however long).
    with pytest.raises(ConfigError) as info:
        backtest(_small_crash(), ["static", "adaptive:garch"], runs=1)
    assert info.value.problems == [
        "--margin adaptive:garch: the garch model needs at least 31 prices (30 returns); "
        "the scenario's path has 13 prices (steps = 12): give steps >= 30 or another model"]
    data = _small_crash()
    data["steps"] = 40
    data["protocol"] = {**data["protocol"], "adaptive": {"history": 20}}  # type: ignore[dict-item]
    with pytest.raises(ConfigError) as info:
        backtest(data, ["adaptive:garch"], runs=1)
    assert info.value.problems == [
        "--margin adaptive:garch: the garch model needs at least 31 prices (30 returns); "
        "protocol.adaptive.history keeps 20"]


def test_backtest_garch_when_path_long_enough_then_it_estimates_after_31_prices() -> None:
    # Before: every GARCH backtest stopped at the third price ("needs at least 30
    # returns (got 2)"). Now the static parameters stand until 31 prices, then it publishes.
    data = _small_crash()
    data["steps"] = 40
    data["price"]["crash_at"] = 35  # type: ignore[index]
    rows, _ = backtest(data, ["static", "adaptive:garch"], runs=1)
    assert rows[0]["final_threshold_bps"] == 8_300
    # aave-v3's 83% until the fit, then the crash's volatility: the 50% floor.
    assert (rows[1]["max_threshold_bps"], rows[1]["min_threshold_bps"],
            rows[1]["final_threshold_bps"]) == (8_300, 5_000, 5_000)


def test_cli_backtest_writes_its_files(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    text = (EXAMPLES / "backtest_crash.toml").read_text()
    text = text.replace("steps = 144", "steps = 8").replace("accounts = 300", "accounts = 10")
    scenario = tmp_path / "small.toml"
    scenario.write_text(text)
    out = tmp_path / "bt"
    code, stdout, err = run(["backtest", str(scenario), "--margin", "static", "--margin",
                             "adaptive:ewma", "--runs", "1", "--out", str(out)], capsys)
    assert code == 0, err
    assert "| bad debt (USD) |" in stdout
    assert {p.name for p in out.iterdir()} >= {"backtest.json", "backtest.parquet",
                                                "report.md"}
    result = json.loads((out / "backtest.json").read_text())
    assert set(result["policies"]) == {"static", "adaptive:ewma"}


def test_cli_backtest_default_folder_is_named_as_sweep_and_optimize_name_theirs(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # runs/<name>-backtest/, as runs/<name>-sweep/ and runs/<name>-optimize/ (it was
    # runs/<name>_backtest/).
    text = (EXAMPLES / "backtest_crash.toml").read_text()
    text = text.replace("steps = 144", "steps = 4").replace("accounts = 300", "accounts = 5")
    (tmp_path / "small.toml").write_text(text)
    monkeypatch.chdir(tmp_path)
    code, _, err = run(["backtest", "small.toml", "--margin", "static", "--runs", "1"],
                       capsys)
    assert code == 0, err
    (folder,) = (tmp_path / "runs").iterdir()
    assert folder.name.endswith("-backtest")
    assert (folder / "report.md").is_file()


def test_cli_backtest_bad_policy_is_one_line_and_writes_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bt"
    code, _, err = run(["backtest", str(EXAMPLES / "backtest_crash.toml"), "--margin",
                        "adaptive:nope", "--out", str(out)], capsys)
    assert code == 2 and err.count("\n") == 1
    assert "--margin: unknown adaptive model 'nope'" in err
    assert not out.exists()


def test_backtest_when_book_of_several_assets_then_every_market_measured() -> None:
    # lst_crash: WETH, wstETH and USDC collateral, USDC and WETH debt. The backtest measured
    # the headline collateral against book.debt_asset (default DAI, no market here): an
    # internal KeyError 'DAI'. Now every market's borrowers' collateral at its LTV and
    # every market's debt, the lender's supply left out (it is liquidity, not collateral).
    from marginengine.sim.backtest import BacktestRunner
    from marginengine.sim.cascade import scenario_spec

    data = read_toml(EXAMPLES / "lst_crash.toml")
    data["book"]["accounts"] = 40
    data["steps"] = 2
    spec, protocol = scenario_spec(policy_data(data, "static"))
    runner = BacktestRunner(spec, protocol, np.random.default_rng(7))
    runner.run()
    engine, ledger = runner.engine, runner.engine.ledger
    power = debt = 0
    for asset, m in protocol.markets.items():
        held = [ledger.supply_of(a, asset) for a in runner.borrowers]
        power += sum(held) * engine.prices[asset] // m.unit * m.ltv_bps // 10_000
        owed = sum(ledger.debt_of(a, asset) for a in ledger.accounts)
        debt += owed * engine.prices[asset] / m.unit
    # The borrowing power is the margin model's per account, summed (the lender left out):
    # each account at its average LTV floored to whole bps, as Aave's account data. Each
    # market's supply at its LTV (the backtest's own formula before) is 1,063.55 USD more
    # on this book (283,616,360.77 against 283,615,297.21), 3.7e-6 of it: the accounts
    # holding several of WETH, wstETH and USDC.
    model = sum(engine.account_data(a).initial_value for a in ledger.accounts
                if a != "lender")
    assert runner.power[-1] == model / USD
    assert (power - model) / USD == pytest.approx(1_063.55, abs=0.01)
    assert runner.usage[-1] == pytest.approx(debt / model, rel=1e-9)
    weth_only = (sum(ledger.supply_of(a, "WETH") for a in runner.borrowers)
                 * engine.prices["WETH"] // 10**18 * protocol.markets["WETH"].ltv_bps
                 // 10_000) / USD
    assert runner.power[-1] > weth_only * 1.5  # wstETH and USDC collateral count too
    rows, _ = backtest(data, ["static"], runs=1)
    assert rows[0]["avg_borrowing_power"] > 0 and 0 < rows[0]["borrow_usage"] < 1


def test_cli_backtest_when_several_protocols_then_refused_naming_the_field(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # shared_collateral's [[protocols]] (lender2, 0.6M of bad debt) were dropped silently:
    # a static bad debt of 0 from aave alone.
    out = tmp_path / "bt"
    code, _, err = run(["backtest", str(EXAMPLES / "shared_collateral.toml"), "--margin",
                        "static", "--runs", "1", "--out", str(out)], capsys)
    assert code == 2
    assert "protocols: backtest compares margin policies of one protocol ([protocol]); " \
           "this scenario has 2" in err
    assert len(err.strip().splitlines()) == 1 and not out.exists()


#: Aave v3's ETH-correlated e-mode (LTV 93%, LT 95%) over WETH and wstETH; wstETH's own
#: reserve at LTV 78.5%, LT 81% (examples/lst_crash_emode.toml). The category's LTV is
#: what an e-mode collateral counts at: aave-dao/aave-v3-origin@fd1fbd91
#: src/contracts/protocol/libraries/logic/ValidationLogic.sol getUserReserveLtv (v3.5.0
#: GenericLogic.sol calculateUserAccountData: eModeLtv, EModeLogic.sol).
ETH_EMODE: dict[str, object] = {"categories": {"1": {
    "label": "ETH correlated", "ltv": "0.93", "liquidation_threshold": "0.95",
    "liquidation_bonus": "0.01", "collateral": ["WETH", "wstETH"],
    "borrowable": ["WETH", "wstETH"]}}}


def _emode_engine() -> Engine:
    config = protocol_from_dict({"preset": "aave-v3", "emode": ETH_EMODE, "markets": {
        "WETH": {}, "USDC": {"decimals": 6},
        "wstETH": {"decimals": 18, "ltv": "0.785", "liquidation_threshold": "0.81",
                   "liquidation_bonus": "0.05"}}})
    engine = Engine(config)
    for asset, price in (("WETH", 2_000), ("USDC", 1), ("wstETH", 2_340)):
        engine.apply(SetPrice(asset, price * USD))
    engine.apply(Deposit("lender", "WETH", 1_000 * 10**18))  # liquidity, left out
    assert engine.apply(SetUserEMode("loop", 1)).accepted
    engine.apply(Deposit("loop", "wstETH", 10 * 10**18))
    engine.apply(Deposit("plain", "wstETH", 10 * 10**18))
    assert engine.apply(Borrow("loop", "WETH", 10 * 10**18)).accepted
    return engine


def test_borrowing_power_when_wsteth_in_emode_then_category_ltv() -> None:
    engine = _emode_engine()
    # 10 wstETH at 2,340 USD = 23,400 USD each. The e-mode loop counts at 93%: 21,762;
    # the account outside e-mode at the reserve's 78.5%: 18,369. 40,131 USD in all (the
    # reserve's LTV for both, as before: 36,738). The lender's 1,000 WETH are liquidity.
    assert borrowing_power_base(engine) == 40_131 * USD
    # The same figure the margin model gives each account (Aave's account data).
    assert engine.account_data("loop").initial_value == 21_762 * USD
    assert engine.account_data("plain").initial_value == 18_369 * USD
    # 10 WETH borrowed (20,000 USD): within the loop's 21,762 (outside e-mode 18,369
    # would refuse it); health 23,400 x 95% / 20,000 = 1.1115.
    assert engine.account_data("loop").health_factor == 1_111_500_000_000_000_000


def test_borrowing_power_when_accounts_hold_several_collaterals_then_each_at_its_avg_ltv(
) -> None:
    engine = _emode_engine()
    engine.apply(Deposit("plain", "WETH", 5 * 10**18))  # 10,000 USD at the reserve's 80.5%
    engine.apply(Deposit("loop", "USDC", 1_000 * 10**6))  # not in the category: 75%
    # Aave weighs an account of several collaterals at its average LTV, floored to whole
    # bps, then percentMulFloor (aave-dao/aave-v3-origin@fd1fbd91 GenericLogic.sol,
    # calculateUserAccountData: avgLtv = sum(value_i x ltv_i) / totalCollateralInBaseCurrency;
    # calculateAvailableBorrows: totalCollateral.percentMulFloor(avgLtv)).
    # loop: 23,400 x 9,300 + 1,000 x 7,500 = 225,120,000 over 24,400 = 9,226.2 -> 9,226 bps;
    #   24,400 x 92.26% = 22,511.44 USD (each asset at its own LTV: 21,762 + 750 = 22,512).
    # plain: 23,400 x 7,850 + 10,000 x 8,050 = 264,190,000 over 33,400 = 7,909.9 -> 7,909;
    #   33,400 x 79.09% = 26,416.06 (each at its own: 18,369 + 8,050 = 26,419).
    assert engine.account_data("loop").initial_value == 22_511_44_000_000
    assert engine.account_data("plain").initial_value == 26_416_06_000_000
    # The book: 48,927.50 USD, the margin model's per account. The backtest's own sum per
    # market and category (the rule before) gave 48,931: 3.50 USD the accounts cannot
    # borrow.
    assert borrowing_power_base(engine) == 48_927_50_000_000


def test_borrowing_power_when_reserve_switched_off_as_collateral_then_it_adds_nothing(
) -> None:
    engine = _emode_engine()
    engine.apply(Deposit("plain", "WETH", 5 * 10**18))
    assert engine.apply(SetUseAsCollateral("plain", "WETH", False)).accepted
    # plain's 5 WETH (10,000 USD, 8,050 at 80.5%) are supplied but not collateral: Aave's
    # account data skips a reserve not enabled as collateral (GenericLogic.sol
    # calculateUserAccountData, isEnabledAsCollateral). plain counts its 10 wstETH only,
    # 18,369; the book 21,762 + 18,369 = 40,131, as before the deposit. The sum per market
    # (the rule before) counted the WETH too: 48,181.
    assert engine.account_data("plain").initial_value == 18_369 * USD
    assert borrowing_power_base(engine) == 40_131 * USD
    assert engine.apply(SetUseAsCollateral("plain", "WETH", True)).accepted
    # On again: 33,400 at the average 7,909 bps (above) = 26,416.06; the book 48,178.06.
    assert borrowing_power_base(engine) == 48_178_06_000_000


def test_book_power_when_steps_move_nothing_then_kept_and_equal_to_the_sum() -> None:
    # BookPower reads an account again only when its positions, the margin model or a
    # supplied market's price or index moved; every figure equals borrowing_power_base's.
    engine = _emode_engine()
    book = BookPower()
    assert book(engine) == borrowing_power_base(engine) == 40_131 * USD
    assert book.reads == 2  # loop and plain; the lender is left out
    assert book(engine) == 40_131 * USD and book.reads == 2  # nothing moved: kept
    # A write to one account (its collateral flag included) reads that one again.
    engine.apply(Deposit("plain", "WETH", 5 * 10**18))
    assert book(engine) == borrowing_power_base(engine) == 48_178_06_000_000
    assert book.reads == 4  # a new market supplied: every account read again
    assert engine.apply(SetUseAsCollateral("plain", "WETH", False)).accepted
    assert book(engine) == borrowing_power_base(engine) == 40_131 * USD
    assert book.reads == 5  # plain alone
    # A price the book supplies: every account again. wstETH at 2,000: 20,000 x 93% +
    # 20,000 x 78.5% = 18,600 + 15,700.
    engine.apply(SetPrice("wstETH", 2_000 * USD))
    assert book(engine) == borrowing_power_base(engine) == 34_300 * USD
    assert book.reads == 7
    # A price the book does not supply (USDC: the loop borrowed WETH, supplies none) keeps
    # every figure.
    engine.apply(SetPrice("USDC", USD + 1))
    assert book(engine) == 34_300 * USD and book.reads == 7
    # A parameter change rebuilds the margin model: every account again, at the new LTV.
    # wstETH's LTV 78% (the steward's 0.5 point): plain 20,000 x 78% = 15,600; the loop
    # keeps the category's 93%.
    assert engine.apply(SetRiskParams("wstETH", ltv_bps=7_800)).accepted
    assert book(engine) == borrowing_power_base(engine) == 34_200 * USD
    assert book.reads == 9


class _CheckedRunner(BacktestRunner):
    """A backtest run that also sums every account afresh after each step."""

    def step(self, i: int) -> None:
        before = self.book_power.reads
        super().step(i)
        self.afresh.append(borrowing_power_base(self.engine) / USD)
        self.read_per_step.append(self.book_power.reads - before)

    afresh: list[float]
    read_per_step: list[int]


def test_backtest_power_when_accounts_kept_between_price_moves_then_equal_to_afresh() -> None:
    # Black Thursday's OSM moves the price once an hour over 10-minute steps (at step 6, 12,
    # ...): five steps in six read no account again (nothing the figures depend on moved),
    # the sixth reads all 60; the adaptive policy moves the threshold and liquidates.
    # Every step's figure is the sum over every account read afresh.
    data = read_toml(EXAMPLES / "backtest_black_thursday.toml")
    data["steps"] = 60
    data["book"]["accounts"] = 60
    source = str(EXAMPLES / "backtest_black_thursday.toml")
    spec, protocol = scenario_spec(policy_data(data, "adaptive"), source)
    runner = _CheckedRunner(spec, protocol, np.random.default_rng(child_seed(12, 0)))
    runner.afresh, runner.read_per_step = [], []
    runner.run()
    assert runner.power == runner.afresh
    assert runner.read_per_step == [60 if i == 1 or i % 6 == 0 else 0 for i in range(1, 61)]
    # The run covers accounts written by liquidations and a model rebuilt by the policy.
    assert runner.summary()["liquidation_count"] > 0
    assert runner.threshold_range[0] < runner.threshold_range[1] == 6_666


_ASSETS = ("WETH", "USDC", "wstETH")
_ACTION = st.one_of(
    st.tuples(st.just("deposit"), st.sampled_from(("loop", "plain")), st.sampled_from(_ASSETS),
              st.integers(1, 10**4)),
    st.tuples(st.just("withdraw"), st.sampled_from(("loop", "plain")),
              st.sampled_from(_ASSETS), st.integers(1, 10**4)),
    st.tuples(st.just("flag"), st.sampled_from(("loop", "plain")), st.sampled_from(_ASSETS),
              st.booleans()),
    st.tuples(st.just("price"), st.sampled_from(_ASSETS), st.integers(50, 150)),
    st.tuples(st.just("time"), st.integers(1, 86_400 * 30)),
    st.tuples(st.just("ltv"), st.sampled_from(("WETH", "wstETH")), st.integers(-50, 50)),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(_ACTION, max_size=25))
def test_book_power_is_the_sum_afresh_after_any_events(actions: list[tuple[Any, ...]]) -> None:
    # Whatever the events (supplies, withdrawals, collateral switches, prices, interest,
    # parameter changes; refused ones change nothing), the kept figures sum to the
    # margin model's per account read afresh.
    engine = _emode_engine()
    book = BookPower()
    units = {"WETH": 10**16, "USDC": 10**4, "wstETH": 10**16}  # 0.01 ETH, 0.01 USDC
    prices = {"WETH": 2_000, "USDC": 1, "wstETH": 2_340}
    for action in actions:
        kind = action[0]
        if kind in ("deposit", "withdraw"):
            _, account, asset, n = action
            event = Deposit if kind == "deposit" else Withdraw
            engine.apply(event(account, asset, n * units[asset]))
        elif kind == "flag":
            _, account, asset, on = action
            engine.apply(SetUseAsCollateral(account, asset, on))
        elif kind == "price":
            _, asset, pct = action
            engine.apply(SetPrice(asset, prices[asset] * USD * pct // 100))
        elif kind == "time":
            engine.apply(AdvanceTime(action[1]))
        else:
            _, asset, move = action
            ltv = engine.config.markets[asset].ltv_bps + move
            engine.apply(SetRiskParams(asset, ltv_bps=ltv))
        assert book(engine) == borrowing_power_base(engine)


def test_backtest_when_book_in_emode_then_power_is_the_accounts_initial_value() -> None:
    # lst_crash_emode's book (its lst_loop profile in category 1) for three steps: the
    # backtest's borrowing power is what the margin model lets the book's accounts
    # borrow, each at its own LTV; it counted the loops' wstETH at the reserve's 78.5%
    # instead of the category's 93%.
    data = read_toml(EXAMPLES / "lst_crash_emode.toml")
    data["steps"] = 3
    data["book"]["accounts"] = 200
    spec, protocol = scenario_spec(policy_data(data, "static"), None)
    runner = BacktestRunner(spec, protocol, np.random.default_rng(child_seed(7, 0)))
    runner.run()
    engine = runner.engine
    looping = [a for a, acct in engine.ledger.accounts.items() if acct.emode == 1]
    assert looping  # the profile's accounts are in e-mode
    expected = sum(engine.account_data(a).initial_value
                   for a in engine.ledger.accounts if a != "lender") / USD
    # Exactly: the backtest's power is the margin model's per account, summed (it was a
    # per-market sum within 1e-5 of this: Aave's account data weighs an account of
    # several collaterals at its average LTV floored to whole bps, GenericLogic's avgLtv).
    assert runner.power[-1] == expected
    # At the reserve's 78.5% (the rule before) the loops' wstETH, 93% of it in e-mode,
    # counted 0.785 / 0.93 of it: far outside that tolerance.
    loops = sum(engine.account_data(a).initial_value for a in looping) / USD
    at_reserve_ltv = expected - loops * (1 - 0.785 / 0.93)
    assert (expected - at_reserve_ltv) / expected > 0.01


def test_cli_backtest_when_set_then_fields_overridden_and_bad_one_named(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # backtest had no --set (simulate, sweep and optimize have it): a user could not
    # shrink lst_crash_emode's 5,000-account book without editing the file.
    out = tmp_path / "bt"
    code, _, err = run(["backtest", str(EXAMPLES / "lst_crash_emode.toml"), "--margin",
                        "static", "--runs", "1", "--set", "book.accounts=60", "--set",
                        "steps=3", "--out", str(out)], capsys)
    assert code == 0, err
    rows = json.loads((out / "backtest.json").read_text())
    assert rows["runs"] == 1
    code, _, err = run(["backtest", str(EXAMPLES / "lst_crash_emode.toml"), "--set",
                        "book.acounts=60", "--out", str(tmp_path / "bad")], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "book.acounts: unknown field (check the spelling)" in err
    assert not (tmp_path / "bad").exists()


def _one_loan_engine() -> Engine:
    # One borrower: 1 WETH at 2,000 USD (aave-v3 preset: LTV 80.5%, threshold 83%), owing
    # 1,100 USDC, opened under the static LTV; the lender's USDC is liquidity. Steward
    # bounds wide open so one SetRiskParams stands for an adaptive policy's cut.
    wide = {"max_change_bps": 10_000, "min_delay_seconds": 0}
    config = protocol_from_dict({"preset": "aave-v3", "markets": {
        "WETH": {}, "USDC": {"decimals": 6}},
        "stewards": {"ltv": wide, "liquidation_threshold": wide}})
    engine = Engine(config)
    for asset, price in (("WETH", 2_000), ("USDC", 1)):
        engine.apply(SetPrice(asset, price * USD))
    engine.apply(Deposit("lender", "USDC", 1_000_000 * 10**6))
    engine.apply(Deposit("alice", "WETH", 10**18))
    assert engine.apply(Borrow("alice", "USDC", 1_100 * 10**6)).accepted
    return engine


def test_usage_when_ltv_cut_below_the_debt_then_above_one_and_no_more_borrowing() -> None:
    from marginengine.engine import SetRiskParams
    from marginengine.sim.backtest import power_and_usage

    engine = _one_loan_engine()
    # Opened at LTV 80.5%: power 2,000 x 80.5% = 1,610 USD, usage 1,100 / 1,610 = 0.6832.
    power, usage = power_and_usage(engine)
    assert power == 1_610 and usage == pytest.approx(1_100 / 1_610, rel=1e-12)
    # The cut: LTV 52%, threshold 55.5% (the static 2.5-point gap below it, as the
    # adaptive model keeps it). Power 2,000 x 52% = 1,040 < the 1,100 owed: 1.0577.
    cut = SetRiskParams("WETH", ltv_bps=5_200, liquidation_threshold_bps=5_550)
    assert engine.apply(cut).accepted
    power, usage = power_and_usage(engine)
    assert power == 1_040 and usage == pytest.approx(1_100 / 1_040, rel=1e-12)
    # Numerator and denominator are the margin model's own figures for the account at the
    # LTV in force (not the cut LTV over debt valued some other way): Aave's
    # totalDebtBase over LTV x totalCollateralBase, availableBorrowsBase 0.
    data = engine.account_data("alice")
    assert (data.initial_value, data.total_debt) == (1_040 * USD, 1_100 * USD)
    assert data.available_borrows == 0
    # Legitimate, not an overdraft: the account is healthy at the cut threshold
    # (2,000 x 55.5% / 1,100 = 1.00909...), and may not borrow one USDC more.
    assert data.health_factor == 2_000 * 5_550 * 10**18 // (1_100 * 10_000)
    assert not engine.apply(Borrow("alice", "USDC", 10**6)).accepted


def test_report_when_usage_above_one_then_says_it_is_debt_over_cut_power() -> None:
    from marginengine.sim.backtest import USAGE_NOTE, report_markdown

    def figures(usage: float) -> dict[str, dict[str, float]]:
        return {m: {"value": usage if m == "borrow_usage" else 0.0, "ci_low": 0.0,
                    "ci_high": 0.0} for m in ("bad_debt", "liquidation_count",
                                              "liquidated_value", "avg_borrowing_power",
                                              "borrow_usage")}

    result = {"scenario": "s", "runs": 1, "seed": 7, "baseline": "static",
              "policies": {"static": figures(0.6832), "adaptive": figures(1_100 / 1_040)},
              "difference": {}, "verdict": {}}
    text = report_markdown(result)
    assert USAGE_NOTE in text
    assert "Usage above 1 (adaptive: 1.0577) is existing debt over the borrowing power " \
           "in force, not borrowing past a limit" in text
    assert "static: 0.6832" not in text
    result["policies"]["adaptive"] = figures(0.9713)
    text = report_markdown(result)
    assert USAGE_NOTE in text and "Usage above 1" not in text


def test_backtest_when_adaptive_cuts_ltv_then_usage_is_the_accounts_debt_over_initial() -> None:
    # The reviewer's 1.03: lst_crash_emode under the adaptive policy. Its first estimate
    # (step 2) cuts WETH's LTV from 80.5% to 47.5%; the usage recorded is then the margin
    # model's own debt over initial value of the book's accounts at that cut LTV (not
    # the cut LTV over debt read at another LTV, nor e-mode's LTV on one side only).
    data = read_toml(EXAMPLES / "lst_crash_emode.toml")
    data["steps"] = 3
    data["book"]["accounts"] = 40
    spec, protocol = scenario_spec(policy_data(data, "adaptive"), None)
    runner = BacktestRunner(spec, protocol, np.random.default_rng(child_seed(7, 0)))
    runner.run()
    engine = runner.engine
    assert engine.config.markets["WETH"].ltv_bps == 4_750
    accounts = [a for a in engine.ledger.accounts if a != "lender"]
    initial = sum(engine.account_data(a).initial_value for a in accounts)
    owed = sum(engine.account_data(a).total_debt for a in accounts)
    # The power is the model's own (above); the debt is read from the reserves' totals,
    # the model's per account rounded up: a few units apart.
    assert runner.power[-1] == initial / USD
    assert runner.usage[-1] == pytest.approx(owed / initial, rel=1e-9)
    # Below 1 at step 1, before the cut (every account opened within its LTV); above 1
    # after it: debt opened at 80.5% over power at 47.5%.
    assert runner.usage[0] < 1 < runner.usage[-1]


def test_report_when_mean_liquidations_over_runs_then_the_fraction_is_kept() -> None:
    from marginengine.sim.backtest import report_markdown

    def figures(count: float) -> dict[str, dict[str, float]]:
        return {m: {"value": count if m == "liquidation_count" else 0.0, "ci_low": 2.0,
                    "ci_high": 3.0} for m in ("bad_debt", "liquidation_count",
                                              "liquidated_value", "avg_borrowing_power",
                                              "borrow_usage")}

    result = {"scenario": "s", "runs": 5, "seed": 7, "baseline": "static",
              "policies": {"static": figures(2.4)}, "difference": {}, "verdict": {}}
    # The mean of 5 runs' counts (2, 2, 3, 2, 3) is 2.4: written 2.40, not rounded to 2.
    assert "| liquidations | 2.40 [2.00, 3.00] |" in report_markdown(result)
    result["runs"] = 1
    result["policies"]["static"] = figures(2.0)
    assert "| liquidations | 2 [2, 3] |" in report_markdown(result)
