"""Drift v2 spot margin in the cascade simulator (sim/drift_cascade.py): liquidate_spot
transfers just the liability that covers the margin shortage (drift-labs/protocol-v2
programs/drift/src/controller/liquidation.rs liquidate_spot,
math/liquidation.rs calculate_liability_transfer_to_cover_margin_shortage), the asset at
the 1% liquidator fee, the example's pinned figures and exact conservation, bad input."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from marginengine.errors import ConfigError
from marginengine.sim.cascade import run_cascade, runner_class, scenario_spec
from marginengine.sim.drift_cascade import DriftCascadeRunner

SOL = 10**9
USDC = 10**6
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def drift_scenario(path: list[int], accounts: list[dict[str, Any]]) -> dict[str, Any]:
    # The drift-v2 preset (SOL asset weights 0.8 initial / 0.9 maintenance, liquidator fee
    # 1%; USDC weights 1). One safe book account (10x); the accounts under test explicit;
    # a deep venue without a fee that follows the path; a keeper with 1M USDC deposited.
    return {"kind": "cascade", "name": "t", "steps": len(path) - 1, "step_seconds": 60,
            "protocol": {"preset": "drift-v2"},
            "prices": {"USDC": 1, "BTC-PERP": 60000},
            "price": {"asset": "SOL", "process": "path", "path": path},
            "venue": {"base_reserve": 10_000_000, "fee_bps": 0, "arbitrage_speed": 1},
            "book": {"accounts": 1, "whales": 0, "total_debt": 1000,
                     "collateralization_median": 10, "collateralization_sigma": 0,
                     "min_collateralization": 10, "debt_asset": "USDC"},
            "accounts": accounts,
            "keepers": [{"id": "keeper", "capital": 1_000_000}], "gas": {"gwei": 1}}


def test_liquidation_covers_the_margin_shortage_at_the_fee():
    # alice: 100 SOL at 100 (10,000), 7,900 USDC borrowed (initial: 10,000 x 0.8 = 8,000
    # covers it). At 85: maintenance collateral 8,500 x 0.9 = 7,650 < 7,900, a shortage of
    # 250, 408 with the preset's 2% liquidation buffer on the 7,900 of liability
    # (liquidate_spot: MarginContext::liquidation). Each USDC of liability taken over
    # removes 1.01 USD of SOL (0.909 of weighted collateral) and 1.02 of requirement plus
    # buffer: 408 / (1.02 - 0.909) = 3,675.68 USDC transferred for 3,675.68 x 1.01 / 85 =
    # 43.68 SOL, leaving her exactly at her maintenance line plus the buffer. (Before the
    # spot liquidation read the buffer: 2,747.25 USDC for 32.64 SOL, to the line itself.)
    data = drift_scenario([100, 85], [
        {"id": "alice", "deposit": {"SOL": 100}, "borrow": {"USDC": 7_900}}])
    result = run_cascade(data, amplification=False)
    fam = result.summary["family"]
    assert result.series["liquidations_step"] == [0, 1]
    moved = fam["exact"]["liability_transferred"]
    assert moved / USDC == pytest.approx(408 / (1.02 - 0.9 * 1.01), rel=1e-4)
    assert fam["exact"]["collateral_transferred"] / SOL == pytest.approx(
        moved / USDC * 1.01 / 85, rel=1e-6)
    book = result.engine.state.family
    alice = book.account("alice").spot
    assert alice["USDC"] == -7_900 * USDC + moved
    assert moved == 3_675_675_675 and fam["exact"]["collateral_transferred"] == 43_675_675_667
    # Her total collateral is then her requirement plus the buffer to the unit, above
    # maintenance (before: one quote unit under her line, still below maintenance).
    from marginengine.engine.family_state import drift_margin
    from marginengine.margin import drift as drift_rules

    m = drift_margin(result.engine.config, book, result.engine.prices, "alice",
                     drift_rules.MarginRequirementType.MAINTENANCE, 200)
    assert (m.total_collateral, m.margin_requirement, m.margin_requirement_plus_buffer) == (
        4_308_810_811, 4_224_324_325, 4_308_810_811)
    assert fam["accounts_below_maintenance"] == 0
    assert result.summary["bad_debt"] == 0


def test_drift_example_pinned_figures_and_conservation():
    # examples/drift_cascade.toml (seed 11): 200 accounts, 8M USDC borrowed against SOL,
    # SOL 150 -> 105 on a pool that lags the oracle. Pinned from the run (Drift's rules on
    # that book; a change means a rule or the draw changed): 366 liquidations moving
    # 2,458,585.004950 USDC of liability. Once the pool trades more than the 1% fee under
    # the oracle, liquidating loses money: 150,866.45 USD of debt ends above its
    # collateral (without feedback: none). 1 account was liquidated down to a borrow and
    # no SOL: resolve_spot_bankruptcy clears its 582.496176 USDC (no insurance fund: the
    # keeper's USDC deposit, the only one, pays it through the deposit interest), so 115
    # accounts stay below maintenance and the debt above collateral is 150,283.95
    # underwater plus 582.50 realized.
    # Moved when liquidate_spot came to size against the liquidation buffer (the
    # preset's 2%, on the shortage and the liability weight) and to take a liability of
    # $10 or less whole (controller/liquidation.rs): each liquidation moves more, so fewer
    # are needed. Were 459 liquidations, 2,443,137.696501 moved, 124 below maintenance,
    # bad debt 144,024.5142467 (143,709.6324037 underwater), 7 bankruptcies clearing
    # 314.881843 (charged 314.882898), deposit interest 9,998,782,220.
    data = tomllib.loads((EXAMPLES / "drift_cascade.toml").read_text())
    spec, protocol = scenario_spec(data)
    assert runner_class(protocol) is DriftCascadeRunner
    runner = DriftCascadeRunner(spec, protocol, np.random.default_rng(spec.seed))
    runner.run()
    s = runner.summary()
    x = s["family"]["exact"]
    assert s["liquidation_count"] == 366
    assert x["liability_transferred"] == 2_458_585_004_950
    assert s["family"]["accounts_below_maintenance"] == 115
    assert s["bad_debt"] == pytest.approx(150_866.44703373)
    assert s["bad_debt_underwater"] == pytest.approx(150_283.95085773)
    sb = s["family"]["spot_bankruptcies"]
    e = sb["exact"]
    assert (sb["bankruptcies"], sb["refused"]) == (1, 0)
    assert e["borrow_cleared"] == 582_496_176 == e["loss_to_socialize"]
    assert e["insurance_paid"] == 0 and s["insurance_fund_drawdown"] == 0
    assert s["bad_debt_realized"] == pytest.approx(582.496176)
    # the deposits pay the loss and the rounding (the delta up, each deposit down); the
    # keeper's is the only USDC deposit, its profit carries the cut
    assert e["socialized_charged"] == e["keepers_charged"] == 582_496_384
    assert sb["cumulative_deposit_interest"] == 9_997_707_984
    # Conservation (native units): no quote enters or leaves but the keepers' deposits,
    # the borrows and the bankruptcies (the borrow cleared less what the deposits lost);
    # the SOL is in the accounts or was withdrawn by the keepers.
    assert x["quote_balances"] == x["keeper_deposits"] - x["borrowed"] + \
        e["borrow_cleared"] - e["socialized_charged"]
    assert x["collateral_in"] == x["collateral_balances"] + x["collateral_withdrawn"]
    assert x["collateral_transferred"] == x["collateral_withdrawn"]
    # the series: 0 before the first, then the step's; they add up to the totals
    series = runner.series
    assert len(series["spot_bankruptcies"]) == len(series["below_maintenance"])
    assert sum(series["spot_bankruptcies"]) == 1
    assert sum(series["spot_socialized_loss"]) == pytest.approx(582.496176)
    assert series["spot_bankruptcies"][0] == 0


def test_no_spot_bankruptcy_no_new_figures():
    # SOL barely moves (150 -> 148): no account is left with only a borrow, so the
    # summary and the series keep the keys they had before spot bankruptcies existed
    data = tomllib.loads((EXAMPLES / "drift_cascade.toml").read_text())
    data["price"]["path"] = [150, 149, 148]
    data["steps"] = 3
    spec, protocol = scenario_spec(data)
    runner = DriftCascadeRunner(spec, protocol, np.random.default_rng(spec.seed))
    runner.run()
    s = runner.summary()
    assert "spot_bankruptcies" not in s["family"]
    assert "spot_bankruptcies" not in runner.series
    assert s["bad_debt_realized"] == 0


@pytest.mark.parametrize(("change", "message"), [
    ({"liquidity": {"USDC": 5}}, "liquidity.USDC: a Drift v2 protocol has no lenders"),
    ({"book": {"accounts": 1, "total_debt": 1000, "debt_asset": "SOL"}},
     "book.debt_asset: 'SOL' is not the Drift quote 'USDC'"),
    ({"price": {"asset": "USDC", "process": "path", "path": [1, 1]}},
     "price.asset: 'USDC' is not a Drift spot market besides the quote"),
    ({"family_agents": {"ltv_changes": [{"step": 1, "collateral": "SOL",
                                         "borrow_ltv": "0.7", "liquidation_ltv": "0.75"}]}},
     "family_agents.ltv_changes: setLTV is Euler v2 governance"),
])
def test_drift_cascade_bad_input_names_the_field(change: dict[str, Any], message: str):
    data = {**drift_scenario([100, 90], []), **change}
    with pytest.raises(ConfigError) as err:
        scenario_spec(data)
    assert any(p.startswith(message) for p in err.value.problems), err.value.problems
