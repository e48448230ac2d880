"""The cascade simulator (issue 6): the known shapes of Black Thursday, feedback, the CRV
spiral, Monte Carlo determinism across backends, and bad input."""

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from marginengine.config import read_toml
from marginengine.errors import ConfigError
from marginengine.sim import apply_overrides
from marginengine.sim.cascade import run_cascade, scenario_spec
from marginengine.sim.montecarlo import iterate_dask, iterate_process, statistics

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
REDUCED = ["book.accounts=250", "book.total_debt=12500000", "book.whales=1"]


def run(name: str, *overrides: str, amplification: bool = False) -> Any:
    path = EXAMPLES / f"{name}.toml"
    data = apply_overrides(read_toml(path), list(overrides))
    return run_cascade(data, amplification=amplification, source=str(path))


@pytest.fixture(scope="module")
def flip_gas_limited() -> Any:
    return run("black_thursday_flip", *REDUCED)


def test_black_thursday_flip_when_gas_limited_then_zero_bids_and_millions_of_deficit(
    flip_gas_limited: Any,
):
    s = flip_gas_limited.summary
    # A sizeable share of the auctions is won by the 1-wei bidder while the others' bots
    # are priced out by gas, and the deficit is in the millions for this eighth-size book.
    assert s["auctions_started"] >= 30
    assert s["auctions_settled_near_zero"] >= 0.25 * s["auctions_settled"]
    assert s["bad_debt"] > 1_000_000
    assert s["bad_debt"] > 0.05 * 12_500_000
    near_zero = [a for a in flip_gas_limited.auctions if a["near_zero"]]
    assert all(a["settle_price"] < 0.05 * a["price_at_kick"] for a in near_zero)


def test_black_thursday_flip_when_keepers_not_gas_limited_then_deficit_nearly_vanishes(
    flip_gas_limited: Any,
):
    free = run("black_thursday_flip", *REDUCED, "keepers.0.max_gas_gwei=100000",
               "keepers.1.max_gas_gwei=100000").summary
    assert free["auctions_settled_near_zero"] == 0
    assert free["bad_debt"] < 0.05 * flip_gas_limited.summary["bad_debt"]


def test_black_thursday_liq2_when_dutch_auctions_then_none_settles_near_zero():
    result = run("black_thursday_liq2", *REDUCED)
    s = result.summary
    assert s["auctions_started"] >= 30 and s["auctions_settled"] > 0
    assert s["auctions_settled_near_zero"] == 0
    assert min(a["settle_price"] / a["price_at_kick"] for a in result.auctions) > 0.5


def feedback_run(feedback: bool) -> Any:
    """A 20% gap down at step 3 of a flat path; the oracle reads a thin pool that arbitrage
    pulls toward the external price at 30% a step."""
    data = read_toml(EXAMPLES / "crv_spiral.toml")
    data["price"] = {"asset": "CRV", "process": "path", "path": [0.6, 0.6, 0.6, 0.48]}
    data["steps"] = 40
    data["book"].update({"accounts": 150, "whales": 0, "whale_share": 0,
                         "total_debt": 3_000_000, "collateralization_median": 1.9,
                         "collateralization_sigma": 0.15, "min_collateralization": 1.82})
    data["venue"].update({"base_reserve": 8_000_000, "feedback": feedback,
                          "arbitrage_speed": 0.3})
    return run_cascade(data, np.random.default_rng(1), amplification=False)


def test_feedback_when_turned_off_then_no_second_round_liquidations():
    with_feedback = feedback_run(True)
    without = feedback_run(False)
    # Without feedback the venue never goes below the external 0.48, so every account
    # liquidated was already unsafe at the gap's price: the first round only.
    assert without.summary["min_venue_price"] >= 0.48 - 1e-6
    first_round = {r["account"] for r in without.ltv_log}
    assert first_round
    # With feedback the sales push the venue (and the oracle reading it) below 0.48, and
    # accounts that the gap alone left safe are liquidated too: a second round.
    assert with_feedback.summary["min_venue_price"] < 0.47
    second_round = {r["account"] for r in with_feedback.ltv_log} - first_round
    assert second_round
    assert with_feedback.summary["liquidation_count"] > without.summary["liquidation_count"]


def test_crv_spiral_when_ltv_above_one_over_one_plus_bonus_then_each_liquidation_worse():
    result = run("crv_spiral")
    # (The last liquidation takes the remaining collateral and writes the rest off: LTV 0.)
    whale = [r for r in result.ltv_log if r["account"].startswith("whale")
             and r["ltv_after"] > 0]
    toxic_line = 1 / 1.10
    above = [r for r in whale if r["ltv_before"] > toxic_line + 1e-3]
    below = [r for r in whale if r["ltv_before"] < toxic_line - 1e-3]
    assert above and below
    assert all(r["ltv_after"] > r["ltv_before"] for r in above)
    assert all(r["ltv_after"] < r["ltv_before"] for r in below)
    assert result.summary["bad_debt"] > 1_000_000
    assert result.summary["toxic_liquidations"] >= len(above)


def test_crv_spiral_when_venue_deep_then_no_spiral():
    result = run("crv_spiral", "venue.base_reserve=400000000")
    assert result.summary["toxic_liquidations"] == 0
    assert result.summary["bad_debt"] == 0
    assert all(r["ltv_after"] < r["ltv_before"] for r in result.ltv_log)


def small_mc() -> dict[str, Any]:
    data = apply_overrides(read_toml(EXAMPLES / "gbm_stress.toml"),
                           ["book.accounts=60", "book.total_debt=3000000", "steps=48"])
    return data


def test_monte_carlo_when_same_seed_then_identical_on_pool_sizes_and_dask():
    data = small_mc()
    one = list(iterate_process(data, 99, 6, workers=1))
    two = list(iterate_process(data, 99, 6, workers=2))
    dask = list(iterate_dask(data, 99, 6, workers=2, scheduler=None))
    assert one == two == dask
    assert [r["seed"] for r in one] == [f"99/{i}" for i in range(6)]
    other = list(iterate_process(data, 100, 6, workers=1))
    assert [r["liquidated_value"] for r in other] != [r["liquidated_value"] for r in one]


def test_statistics_when_known_rows_then_var_es_lar_by_hand():
    rows = [{"bad_debt": float(i), "liquidated_value": 10.0 * i} for i in range(101)]
    stats = statistics(rows)
    assert stats["var95_bad_debt"] == 95.0
    assert stats["lar95"] == 950.0
    assert stats["es99_bad_debt"] == 99.5  # mean of 99 and 100
    assert stats["p_bad_debt"] == pytest.approx(100 / 101)


def test_cascade_when_bad_scenario_then_fields_named():
    data = read_toml(EXAMPLES / "quickstart.toml")
    data["price"]["process"] = "levy"
    data["venue"]["exponent"] = 1.37
    with pytest.raises(ConfigError) as err:
        scenario_spec(data)
    assert err.value.problems[0].startswith("price.process: must be 'replay'")
    assert err.value.problems[1].startswith("venue.exponent: must be a multiple")
    data = read_toml(EXAMPLES / "quickstart.toml")
    data["keepers"].append({"id": "fast"})
    with pytest.raises(ConfigError, match="keepers: ids must be unique"):
        scenario_spec(data)
    data = read_toml(EXAMPLES / "quickstart.toml")
    data["book"]["debt_asset"] = "DAI"
    with pytest.raises(ConfigError, match="book.debt_asset"):
        run_cascade(data, amplification=False)


# ------------------------------------------------------- gas and venue at the edges
# backtest_crash.toml at step_seconds = 1 ended in "gas overflowed float64": its 8-sigma
# (daily) crash within one 1-second step is z ~ 1,300 calm per-step deviations. The gas
# process now stops at MAX_GAS_GWEI (sim/gas.py), a price no keeper pays.
ONE_SECOND_CRASH = ["steps=12", "step_seconds=1", "price.crash_at=3", "book.accounts=40"]


def test_cascade_when_crash_within_one_second_step_then_gas_at_ceiling_and_no_keeper_acts():
    from marginengine.sim.gas import MAX_GAS_GWEI

    result = run("backtest_crash", *ONE_SECOND_CRASH)
    gas = result.series["gas_gwei"]
    # The trailing window (10 one-minute returns, 600 one-second steps: sim/gas.py
    # RETURN_SECONDS) holds the crash from step 3 to the end. Before it, gas is a calm
    # market's at three times the reference volatility (vol_scale 3): 195 gwei, then
    # 1,184 at step 2, whose return is now read over the two steps so far (+0.086% over
    # 2 s, 0.061% a second's worth) instead of its own second (+0.053%: 820 gwei).
    assert gas[3:] == [MAX_GAS_GWEI] * 10
    assert max(gas[:3]) < 2_000
    assert result.summary["liquidation_count"] == 0
    assert result.summary["keeper_gas_spent"] == 0.0


def test_cascade_when_crash_within_one_second_and_cap_gwei_then_keepers_bid_at_the_cap():
    result = run("backtest_crash", *ONE_SECOND_CRASH, "gas.cap_gwei=200")
    assert result.series["gas_gwei"][3:] == [200.0] * 10
    assert result.summary["liquidation_count"] == 30


QUICK_SMALL = ["book.accounts=20", "book.whales=1", "book.total_debt=600000", "steps=40"]


@pytest.mark.parametrize(("overrides", "liquidations"), [
    (["gas.gwei=0"], 15),                                 # the process: 0 times any factor
    (["gas.kind=constant", "gas.gwei=0"], 12),
])
def test_cascade_when_chain_has_no_fee_then_zero_gas_and_keepers_pay_nothing(
    overrides: list[str], liquidations: int,
):
    result = run("quickstart", *QUICK_SMALL, *overrides)
    assert result.series["gas_gwei"] == [0.0] * 41
    assert result.summary["keeper_gas_spent"] == 0.0
    assert result.summary["liquidation_count"] == liquidations


def test_cascade_when_arbitrage_speed_zero_then_venue_moves_only_with_the_keepers_sales():
    # The push-oracle quickstart: the external price falls from 2,010 to 1,328 at step 36,
    # where 12 liquidations sell their collateral on the AMM. Nobody pulls the AMM back:
    # it starts at 2,000, moves only with those sales, and holds there.
    result = run("quickstart", *QUICK_SMALL, "venue.arbitrage_speed=0")
    venue = result.series["venue_price_usd"]
    sales = result.series["liquidations_step"]
    first = next(i for i, n in enumerate(sales) if n)
    assert first == 36 and sales[first] == 12
    assert venue[:first] == [2_000.0] * first
    assert 1_900 < venue[first] < 2_000
    assert venue[first:] == [venue[first]] * (41 - first)
    assert result.series["external_price_usd"][first] < 1_330
    # With arbitrage, the same sales end near the external price instead.
    pulled = run("quickstart", *QUICK_SMALL).series["venue_price_usd"]
    assert pulled[40] < 1_500


def test_cascade_when_path_falls_below_one_price_unit_then_floored_there_and_run_goes_on():
    # mu = -1e300 a year underflows exp to 0 after one step (its log return was -inf, and
    # the gas process refused it). The path is floored at 1e-8 USD, the engine's price.
    result = run("quickstart", "book.accounts=20", "book.whales=1", "book.total_debt=600000",
                 "steps=3", "price.mu=-1e300")
    assert result.series["external_price_usd"] == [2_000.0, 1e-8, 1e-8, 1e-8]
    assert result.series["oracle_price_usd"] == [2_000.0, 1e-8, 1e-8, 1e-8]
    # The fall is an infinite z for the gas process: capped at the scenario's 500 gwei.
    assert result.series["gas_gwei"] == [500.0] * 4


def test_joint_paths_when_an_asset_falls_below_one_price_unit_then_floored_there():
    # The joint model (lst_crash.toml): WETH as a GBM with mu = -1e300 drags wstETH (a
    # spread over WETH) down with it; both are floored at 1e-8 USD.
    result = run("lst_crash", "steps=3", "price.assets.WETH.process=gbm",
                 "price.assets.WETH.mu=-1e300")
    assert result.series["external_price_usd"] == [2_000.0, 1e-8, 1e-8, 1e-8]
    assert result.series["external_price_usd.wstETH"] == [2_340.0, 1e-8, 1e-8, 1e-8]


def test_replay_when_hourly_years_on_one_second_steps_then_only_the_window_resampled():
    # Four years of hourly Gemini bars on 1-second steps (126 million grid points) timed
    # out building the whole grid. The window (drawn on the whole grid, as before) starts
    # at 12:10:56 and holds the 12:00 bar, the hourly replay's step 1 on the same seed.
    second = run("backtest_eth_hourly", "steps=3", "step_seconds=1")
    assert second.summary["start_time_utc"] == "2017-03-09T12:10:56Z"
    assert second.series["external_price_usd"] == [17.39] * 4
    hourly = run("backtest_eth_hourly", "steps=3")
    assert hourly.summary["start_time_utc"] == "2017-03-09T11:00:00Z"
    assert hourly.series["external_price_usd"] == [17.12, 17.39, 17.14, 17.28]


@pytest.mark.parametrize("step_seconds", [1, 12])
def test_cascade_when_steps_shorter_than_a_minute_then_gas_as_at_one_minute(step_seconds):
    # gas_chains's hour (WETH 2,000 -> 1,500 by a Brownian bridge, seed 5) with its
    # mainnet gas on the default chain (60 gwei, sensitivity 0.1, noise 0.1, cap 500),
    # cut into 60-, 12- and 1-second steps. The gas process read per-step returns over a
    # 10-step window, so the same hour's mean gas was 361 gwei at 60 s, 125 at 12 s and
    # 68 at 1 s (the trend is sqrt(step) fewer per-step deviations); on one-minute
    # returns (sim/gas.py RETURN_SECONDS) it is 355 at 1 s and 353 at 12 s.
    def mean_gas(dt: int) -> float:
        data = read_toml(EXAMPLES / "gas_chains.toml")
        del data["protocols"]
        data["gas"] = {"kind": "process", "gwei": 60, "vol_sensitivity": 0.1,
                       "noise": 0.1, "cap_gwei": 500}
        data["book"]["accounts"] = 5
        data.update(steps=3_600 // dt, step_seconds=dt)
        gas = run_cascade(data, amplification=False).series["gas_gwei"][1:]
        assert len(gas) == 3_600 // dt
        return sum(gas) / len(gas)

    minute = mean_gas(60)
    assert minute == pytest.approx(361.0, abs=0.05)  # as before: 60 s is one return
    assert mean_gas(step_seconds) == pytest.approx(minute, rel=0.05)


@pytest.mark.parametrize(("override", "problem"), [
    ("gas.return_seconds=0", "gas.return_seconds: must be greater than 0 (got 0)"),
    ("gas.chains.mainnet.return_seconds=-1",
     "gas.chains.mainnet.return_seconds: must be greater than 0 (got -1)"),
])
def test_cascade_when_gas_return_seconds_not_positive_then_named(override, problem):
    data = apply_overrides(read_toml(EXAMPLES / "gas_chains.toml"), [override])
    with pytest.raises(ConfigError) as err:
        scenario_spec(data)
    assert err.value.problems == [problem]
