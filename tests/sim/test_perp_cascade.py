"""Perps in the cascade (sim/perps.py): perp markets on the simulated price, a book of
traders, the perp liquidator and the engine's backstop waterfall per step."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from marginengine.config import read_toml
from marginengine.errors import ConfigError
from marginengine.sim.cascade import CascadeRunner, run_cascade, scenario_spec
from marginengine.sim.montecarlo import monte_carlo
from marginengine.sim.perps import WATERFALL
from tests.cli.test_cli import EXAMPLES, run

EXAMPLE = EXAMPLES / "perp_cascade.toml"


def alone(data: dict[str, Any], **perp: Any) -> dict[str, Any]:
    """The example's first venue on its own (no ``[[protocols]]``), smaller: 400 traders
    over the first 16 steps (the first gap included) with a 15,000 USDC fund; ``perp``
    overrides its ETH-PERP rules."""
    out = copy.deepcopy({k: v for k, v in data.items() if k != "protocols"})
    out["steps"] = 16
    out["perps"]["book"].update(accounts=400, total_notional=5_000_000)
    out["perps"]["insurance"] = {"ETH-PERP": 15_000}
    out["protocol"]["perps"]["ETH-PERP"].update(perp)
    return out


def runner_of(data: dict[str, Any]) -> CascadeRunner:
    spec, protocol = scenario_spec(data)
    runner = CascadeRunner(spec, protocol, np.random.default_rng(spec.seed))
    runner.run()
    return runner


def insurance(data: dict[str, Any], amount: int) -> dict[str, Any]:
    data["perps"]["insurance"] = {"ETH-PERP": amount}
    return data


def check_waterfall(runner: CascadeRunner) -> dict[str, int]:
    """Every step: fund + ADL + socialized + deficit == shortfall (exact quote units);
    over the run the parts are the clearing's own counters. Returns the totals."""
    perps = runner.perps
    assert perps is not None
    assert len(perps.waterfall) == runner.spec.steps + 1
    for step in perps.waterfall:
        assert step["insurance_paid"] + step["adl_covered"] + step["socialized"] + \
            step["deficit"] == step["shortfall"]
    totals = {p: sum(w[p] for w in perps.waterfall) for p in WATERFALL}
    clearing = runner.engine.ledger.clearing
    assert totals["insurance_paid"] == clearing.insurance_drawdown
    assert totals["socialized"] == clearing.socialized_loss
    assert totals["deficit"] == clearing.deficit
    runner.engine.ledger.check_conservation()
    return totals


def test_waterfall_when_crash_then_conserves_money_each_step() -> None:
    totals = check_waterfall(runner_of(alone(read_toml(EXAMPLE))))
    assert totals["shortfall"] > 0
    assert totals["insurance_paid"] > 0 and totals["adl_covered"] > 0


def test_waterfall_when_hyperliquid_rules_shared_fund_push_index_then_conserved() -> None:
    # Hyperliquid's preset: takeover at the mark, 20% partial liquidations above 100k USDC,
    # one shared fund; the index published by a push feed (1% deviation).
    data = alone(read_toml(EXAMPLE))
    data["protocol"]["perps"]["ETH-PERP"] = {"preset": "hyperliquid", "base_decimals": 18}
    data["perps"]["insurance"] = {"shared": 20_000}
    data["perps"]["markets"] = {"ETH-PERP": {"oracle": {"kind": "push", "deviation": 0.01}}}
    runner = runner_of(data)
    totals = check_waterfall(runner)
    # No liquidation fee under the preset: the fund only pays out, down to what is left.
    assert runner.perps is not None
    assert totals["insurance_paid"] == 20_000 * 10**6 - runner.perps.insurance_total() > 0
    assert totals["adl_covered"] > 0
    assert runner.engine.ledger.clearing.markets["ETH-PERP"].insurance == 0  # shared fund


def test_waterfall_when_adl_off_then_fund_then_socialized_each_step_conserved() -> None:
    runner = runner_of(alone(read_toml(EXAMPLE), adl=False))
    totals = check_waterfall(runner)
    assert totals["adl_covered"] == 0 and totals["socialized"] > 0
    assert runner.summary()["adl_volume"] == 0


def test_large_insurance_fund_when_crash_then_no_adl_and_no_socialized_loss() -> None:
    data = insurance(alone(read_toml(EXAMPLE)), 10_000_000)
    runner = runner_of(data)
    totals = check_waterfall(runner)
    assert totals["shortfall"] > 0
    assert totals["insurance_paid"] == totals["shortfall"]
    assert totals["adl_covered"] == totals["socialized"] == 0
    s = runner.summary()
    assert s["adl_volume"] == 0 and s["socialized_loss"] == 0
    # The same fund is what the run started with, less what it paid, plus the fees.
    assert s["insurance_fund_start"] == 10_000_000


def test_zero_insurance_fund_when_crash_then_adl_happens() -> None:
    data = alone(read_toml(EXAMPLE))
    data["perps"].pop("insurance")
    runner = runner_of(data)
    totals = check_waterfall(runner)
    s = runner.summary()
    assert s["insurance_fund_start"] == 0
    assert totals["adl_covered"] > 0 and s["adl_volume"] > 0
    # With the fund empty at the first bankruptcy only the fees collected since can pay:
    # less than with the example's fund.
    with_fund = check_waterfall(runner_of(alone(read_toml(EXAMPLE))))
    assert totals["insurance_paid"] < with_fund["insurance_paid"]


def test_venue_feedback_when_liquidators_hedge_then_the_mark_falls_to_the_index() -> None:
    data = alone(read_toml(EXAMPLE))
    data["venue"]["depth_at_1pct"] = 100  # a thinner book than the example's
    s = runner_of(data).series
    # The liquidator sells what it takes on the thin book: after the 214 liquidations of
    # minute 13 its mid is 1,678.6 against an index of 1,713, and the prints below the
    # index pull the mark (the median of index, print and basis) down to the index
    # (minute 16: 1,692 = the index).
    assert max(s["perp_liquidations"]) == s["perp_liquidations"][13] == 214
    assert s["venue_price_usd"][13] < s["external_price_usd"][13] - 30
    assert s["perp_mark_usd.ETH-PERP"][16] == s["perp_index_usd.ETH-PERP"][16] == 1692
    data["venue"]["feedback"] = False
    quiet = runner_of(data).series
    # Without feedback the book's low is the arbitrage lag behind the index only, and the
    # mark stays above the index (minute 16: 1,711.2).
    assert min(quiet["venue_price_usd"]) > min(s["venue_price_usd"]) + 30
    assert quiet["perp_mark_usd.ETH-PERP"][16] > quiet["perp_index_usd.ETH-PERP"][16] + 15


# How these arose: examples/perp_cascade.toml run once (seed 5) when the perp cascade was
# written. 1,000 + 400 synthetic traders (80% long, ~10x) through -10% at minute 12 and
# -8% at minute 30; "dydx"'s fund (60,000 USDC, refilled by the 1.5% fees) pays the first
# bankruptcies and ADL takes the rest at minute 13; "socializer" (adl = false) spreads what
# its fund (30,000 USDC) cannot pay over the market's open positions. A change of any rule they
# rest on (fillable price, fees, ADL, socialization, the book's draw) moves them.
# Re-pinned by the dYdX v4 audit: the fillable price from the exact PMMR (was the PMMF
# rounded up to whole ppm), rounded as dYdX's subticks (a long's up), dYdX's floored fee
# capped at the fill less the bankruptcy quote: dydx shortfall 178,506,284,232 ->
# 178,505,877,236, socializer 104,770,216,972 -> 104,770,195,291 (counts unchanged).
# Re-pinned when dydx-v4 came to margin and liquidate at the oracle price (margin_price =
# "oracle", as dYdX's GetNetCollateralAndMarginRequirements and GetFillablePrice do) instead
# of the mark: the book lags the falling index, so the mark stood above the oracle (minute
# 13: 1,752.8 against 1,713) and fillable prices from it were higher; from the oracle the
# bankrupt longs fill lower. dydx shortfall 178,505,877,236 -> 306,930,141,113 (fund
# 90,238,770,852 -> 89,326,723,957, ADL 88,267,106,384 -> 217,603,417,156), socializer
# 104,770,195,291 -> 109,017,260,314 (fund 38,639,411,990 -> 39,349,484,305, socialized
# 66,130,783,301 -> 69,667,776,009); counts unchanged.
# Re-pinned when the socialized loss went to the liquidated market's open positions, long
# and short, per unit of size (Drift v2 calculate_funding_rate_deltas_to_resolve_bankruptcy,
# Mango v4 PerpMarket::socialize_loss) instead of every account's positive perp balance:
# the charge now falls on the open positions, longs included (the shorts' sale proceeds
# carried nearly all of it), so the longs liquidated later start from lower balances.
# socializer shortfall 109,017,260,314 -> 114,574,389,777
# (fund 39,349,484,305 -> 39,124,570,076, socialized 69,667,776,009 -> 75,449,819,701);
# dydx and the counts unchanged.
PINNED_COUNTS = (789, 309)
PINNED_WATERFALL = {  # quote (USDC) smallest units
    "dydx": {"shortfall": "306930141113", "insurance_paid": "89326723957",
             "adl_covered": "217603417156", "socialized": "0", "deficit": "0"},
    "socializer": {"shortfall": "114574389777", "insurance_paid": "39124570076",
                   "adl_covered": "0", "socialized": "75449819701", "deficit": "0"},
}


def test_example_when_simulated_then_pinned_waterfall_and_columns_with_units(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "perp"
    code, stdout, err = run(["simulate", str(EXAMPLE), "--out", str(out), "--json",
                             "--quiet"], capsys)
    assert code == 0, err
    s = json.loads(stdout)
    per = s["protocols"]
    assert set(per) == {"dydx", "socializer"}
    dydx, soc = per["dydx"], per["socializer"]
    assert (dydx["perp_accounts"], soc["perp_accounts"]) == (1000, 400)
    assert dydx["perp_setup_rejected"] == soc["perp_setup_rejected"] == 0
    assert (dydx["perp_liquidation_count"], soc["perp_liquidation_count"]) == PINNED_COUNTS
    for venue, figures in (("dydx", dydx), ("socializer", soc)):
        assert figures["waterfall_quote_units"] == PINNED_WATERFALL[venue], venue
    # Through the insurance fund, ADL and socialized loss; nothing left as deficit.
    assert s["insurance_fund_drawdown"] == pytest.approx(128_451.294033)
    assert s["adl_covered"] == pytest.approx(217_603.417156)
    assert s["socialized_loss"] == pytest.approx(75_449.819701)
    assert s["bankrupt_shortfall"] == pytest.approx(421_504.53089)
    assert s["perp_deficit"] == 0
    import pyarrow.parquet as pq

    table = pq.read_table(out / "steps.parquet")
    meta = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
    units, kinds = json.loads(meta["marginengine.units"]), json.loads(meta["marginengine.kinds"])
    for column in ("insurance_fund_usd", "insurance_drawdown_usd", "adl_volume_usd",
                   "socialized_loss_usd", "perp_liquidations", "open_interest_usd"):
        assert column in table.column_names and column in units
    assert kinds["insurance_fund_usd"] == "state"
    assert kinds["socialized_loss_usd"] == "per_step"
    # The per-step columns add up to each venue's totals, and without a suffix to both
    # venues' (the summary's figures; they were the first venue's alone).
    series = table.to_pydict()
    for column, key in (("insurance_drawdown_usd", "insurance_fund_drawdown"),
                        ("adl_covered_usd", "adl_covered"),
                        ("socialized_loss_usd", "socialized_loss")):
        assert sum(series[column]) == pytest.approx(s[key], abs=1e-6)
        assert sum(series[f"{column}.dydx"]) == pytest.approx(dydx[key], abs=1e-6)
        assert sum(series[f"{column}.socializer"]) == pytest.approx(soc[key], abs=1e-6)
    assert (out / "perp_waterfall.png").is_file()
    assert "perp_waterfall" in (out / "report.html").read_text()


def test_monte_carlo_when_perp_cascade_then_runs_and_perp_estimates(tmp_path: Path) -> None:
    data = alone(read_toml(EXAMPLE))
    data["steps"] = 13
    stats = monte_carlo(data, 5, 3, "process", 1, tmp_path)
    assert stats["runs"] == 3
    for field in ("mean_bankrupt_shortfall", "mean_adl_covered", "mean_socialized_loss",
                  "mean_perp_liquidation_count"):
        assert field in stats["estimates"]
    assert stats["mean_perp_liquidation_count"] > 0
    import pyarrow.parquet as pq

    rows = pq.read_table(tmp_path / "runs.parquet").to_pylist()
    assert [r["run"] for r in rows] == [0, 1, 2]
    assert len({r["perp_liquidation_count"] for r in rows}) > 1  # each run its own book


def test_sweep_when_perp_cascade_then_rows_and_points_carry_the_waterfall(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Before: a sweep's rows had the lending figures only, so a perp scenario's sweep read
    # bad debt 0 at every point and its shortfall, ADL and socialized loss were nowhere.
    import pyarrow.parquet as pq

    scenario = tmp_path / "perp.toml"
    scenario.write_text(small_toml(13))
    out = tmp_path / "sweep"
    code, stdout, _ = run(["sweep", str(scenario), "--grid",
                           "perps.insurance.ETH-PERP=0,60000", "--out", str(out),
                           "--json", "--quiet"], capsys)
    assert code == 0
    points = json.loads(stdout)["points"]
    rows = pq.read_table(out / "sweep.parquet").to_pylist()
    for point, row in zip(points, rows, strict=True):
        for field in ("bankrupt_shortfall", "adl_covered", "socialized_loss"):
            assert point[f"mean_{field}"] == row[field]
    without_fund, with_fund = points
    assert without_fund["mean_bankrupt_shortfall"] > 0
    assert without_fund["mean_adl_covered"] > with_fund["mean_adl_covered"]
    assert "perp shortfall" in (out / "report.html").read_text()


def small_toml(steps: int) -> str:
    """The example's text with its first venue only, over ``steps`` steps."""
    text = EXAMPLE.read_text().split("[[protocols]]")[0]
    assert "steps = 60\n" in text
    return text.replace("steps = 60\n", f"steps = {steps}\n")


def test_monte_carlo_cli_when_runs_given_on_a_perp_cascade_then_exit_0(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "small.toml"
    path.write_text(small_toml(steps=12))
    code, stdout, err = run(["simulate", str(path), "--runs", "2", "--workers", "1",
                             "--out", str(tmp_path / "mc"), "--json", "--quiet"], capsys)
    assert code == 0, err
    assert json.loads(stdout)["runs"] == 2


# ---------------------------------------------------------------------- the CSV book
CSV_HEADER = "account,market,size,entry_price,quote\n"


def csv_data(tmp_path: Path, rows: str) -> dict[str, Any]:
    book = tmp_path / "perps.csv"
    book.write_text(CSV_HEADER + rows)
    data = alone(read_toml(EXAMPLE))
    data["perps"]["book"] = {"file": str(book)}
    return data


def test_csv_book_when_loaded_then_positions_opened_and_liquidated(tmp_path: Path) -> None:
    # Two 15x longs and a 2x short at the step-0 index: the -10% gap at minute 12 takes
    # both longs through maintenance (and past bankruptcy), the short is their ADL side.
    data = csv_data(tmp_path, "alice,ETH-PERP,50,2000,6700\n"
                              "bob,ETH-PERP,30,2000,4000\n"
                              "carol,ETH-PERP,-20,2000,20000\n")
    runner = runner_of(data)
    ledger = runner.engine.ledger
    assert runner.perps is not None and runner.perps.traders == ["alice", "bob", "carol"]
    assert ledger.perp_size("alice", "ETH-PERP") == 0
    assert ledger.perp_size("bob", "ETH-PERP") == 0
    assert runner.perps.liquidations >= 2
    check_waterfall(runner)


@pytest.mark.parametrize(("rows", "message"), [
    ("alice,ETH-PERP,0,2000,100\n", "perps.csv:2: size: must not be zero"),
    ("alice,BTC-PERP,1,2000,100\n", "perps.csv:2: market: unknown perp market 'BTC-PERP'"),
    ("alice,ETH-PERP,1,,100\n", "perps.csv:2: entry_price: required"),
    ("alice,ETH-PERP,1,2000,100\nbob,ETH-PERP,1,abc,100\n", "perps.csv:3: entry_price"),
    # 100 ETH at 2,000 on 100 USDC: far beyond initial margin; the engine's reason, by line.
    ("alice,ETH-PERP,100,2000,100\n", "perps.csv:2: account alice: initial margin"),
])
def test_csv_book_when_bad_row_then_error_names_line_and_field(
        tmp_path: Path, rows: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        run_cascade(csv_data(tmp_path, rows), amplification=False)
    assert message in str(info.value)


# ---------------------------------------------------------------------- bad config
@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["perps"].update(markets={"BTC-PERP": {}}),
     "perps.markets.BTC-PERP: unknown perp market (perp markets: ETH-PERP)"),
    (lambda d: d["perps"].update(markets={"ETH-PERP": {"asset": "USDC"}}),
     "perps.markets.ETH-PERP.asset: 'USDC' has no simulated price"),
    (lambda d: d["perps"].update(insurance={"BTC-PERP": 5}),
     "perps.insurance.BTC-PERP: unknown perp market"),
    (lambda d: d["perps"].update(insurance={"shared": -5}),
     "perps.insurance.shared: must not be negative"),
    (lambda d: d["perps"].update(insurance={"ETH-PERP": "lots"}),
     "perps.insurance.ETH-PERP:"),
    (lambda d: d["perps"]["book"].update(accounts=0),
     "perps.book: no traders (give accounts or file)"),
    (lambda d: d["perps"]["book"].update(file="nowhere.csv"),
     "perps.book: give accounts (a synthetic book) or file, not both"),
    (lambda d: d["perps"]["book"].update(leverage_median=0.5),
     "perps.book.leverage_median"),
    (lambda d: d["perps"]["book"].update(long_share=2),
     "perps.book.long_share"),
    # Deposited in USDC's smallest units: 1e-9 failed at run time in parse_units, unnamed.
    (lambda d: d["perps"].update(keepers=[{"id": "pk", "capital": 1e-9}]),
     "perps.keepers.0.capital: has more than 6 decimal places ('1E-9')"),
    (lambda d: d["perps"]["book"].update(counterparty_quote=0.0000001),
     "perps.book.counterparty_quote: has more than 6 decimal places"),
    (lambda d: d["perps"].update(keepers=[{"id": "_mark"}]),
     "perps.keepers.0.id: '_mark' is the runner's own account"),
    (lambda d: d["prices"].update({"ETH-PERP": 2000}),
     "prices.ETH-PERP: ETH-PERP's index comes from its asset's path"),
    (lambda d: d.update(perps={"book": {"accounts": 10}}) or d["protocol"].pop("perps"),
     "perps: the protocol has no perp markets"),
])
def test_perp_config_when_bad_then_one_line_error_naming_the_field(
        change: Any, message: str) -> None:
    data = alone(read_toml(EXAMPLE))
    change(data)
    with pytest.raises(ConfigError) as info:
        scenario_spec(data)
    assert message in str(info.value)


def test_synthetic_perp_book_when_no_whales_then_every_trader_ordinary() -> None:
    # whales = 0 divided the whales' share by 0 (ZeroDivisionError at run time).
    data = alone(read_toml(EXAMPLE))
    data["perps"]["book"].update(whales=0, accounts=40)
    data["steps"] = 2
    runner = runner_of(data)
    perps = runner.perps
    assert perps is not None
    traders = [a for a in perps.accounts if a.startswith("trader")]
    assert len(traders) == 40
    check_waterfall(runner)


def test_perp_config_when_bad_at_the_cli_then_exit_2_and_no_traceback(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(small_toml(steps=12).replace("ETH-PERP = 60_000", "BTC-PERP = 5"))
    code, _, err = run(["simulate", str(path), "--out", str(tmp_path / "o"), "--quiet"],
                       capsys)
    assert code == 2
    assert "perps.insurance.BTC-PERP: unknown perp market" in err
    assert "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_lending_and_perp_venue_when_sharing_the_eth_book_then_hedges_cause_liquidations(
) -> None:
    # The perp venue first ([protocol] and [perps]), a lending market as [[protocols]]
    # reading the shared book's spot price, its borrowers at 1.434 collateralization: safe
    # at the external price (its low over the 16 steps, 1,692, is above their liquidation
    # price of about 2,000 / (0.83 x 1.434) = 1,680), not at the book's once the perp
    # liquidator has hedged the 196 liquidations of minute 13 on it.
    data = alone(read_toml(EXAMPLE))
    data["venue"]["depth_at_1pct"] = 100
    data["perps"]["book"].update(accounts=1000, total_notional=12_000_000)
    data["protocols"] = [{
        "name": "lender",
        "protocol": {"preset": "aave-v3", "name": "lender",
                     "markets": {"WETH": {}, "USDC": {}}},
        "oracle": {"kind": "venue"},
        "book": {"accounts": 200, "total_debt": 2_000_000, "whales": 2, "whale_share": 0.2,
                 "collateralization_median": 1.434, "collateralization_sigma": 0.002,
                 "min_collateralization": 1.43, "debt_asset": "USDC"},
        "keepers": [{"id": "keeper2", "flash_loan": True}],
    }]
    both = run_cascade(data, amplification=False).summary["protocols"]
    assert both["dydx"]["perp_liquidation_count"] > 700
    assert both["lender"]["liquidation_count"] > 100
    data["perps"]["hedge"] = False  # the liquidator keeps its takeovers off the book
    quiet = run_cascade(data, amplification=False).summary["protocols"]
    assert quiet["lender"]["liquidation_count"] == 0
