"""Drift v2 ``liquidate_spot`` through the engine on the accounts of Drift's own controller
tests.

Source: drift-labs/protocol-v2@0ae3e3b1db782a6765c3525b3dec38ad4d9d3a62,
``programs/drift/src/controller/liquidation/tests.rs``, module ``liquidate_spot``:
``successful_liquidation_liability_transfer_implied_by_asset_amount``,
``successful_liquidation_liquidator_max_liability_transfer``,
``successful_liquidation_liability_transfer_to_cover_margin_shortage`` and
``successful_liquidation_dust_borrow``; the rule is
``controller/liquidation.rs`` ``liquidate_spot``. Their markets: USDC (weights 1, no fee)
and SOL at 100 (asset weights 0.8 / 0.9, liability weights 1.2 / 1.1, liquidator fee
0.1%). Drift's tests write scaled balances; the book holds token amounts (at a cumulative
interest of 1 a borrow's scaled balance is its token amount plus Drift's one rounding unit,
``get_spot_balance``), so the figures below are the tests' token amounts.
"""

from __future__ import annotations

from typing import Any

from marginengine.config import protocol_from_dict
from marginengine.engine import (
    DriftDeposit,
    DriftLiquidateSpot,
    DriftWithdraw,
    Engine,
    Event,
    SetPrice,
)
from marginengine.engine.family_state import DriftBook, drift_margin
from marginengine.fixedpoint import PRICE_UNIT
from marginengine.margin.drift import MarginRequirementType

USDC = 10**6


def engine_of(sol_decimals: int, buffer: str, if_fee: str = "0") -> Engine:
    one = {"initial_asset_weight": "1", "maintenance_asset_weight": "1",
           "initial_liability_weight": "1", "maintenance_liability_weight": "1"}
    sol = {"initial_asset_weight": "0.8", "maintenance_asset_weight": "0.9",
           "initial_liability_weight": "1.2", "maintenance_liability_weight": "1.1",
           "liquidator_fee": "0.001", "if_liquidation_fee": if_fee}
    return Engine(protocol_from_dict({"preset": "drift-v2", "markets": {
        "USDC": {"decimals": 6, "collateral": False, "borrowable": False},
        "SOL": {"decimals": sol_decimals, "collateral": False, "borrowable": False}},
        "drift": {"quote": "USDC", "spot": {"USDC": one, "SOL": sol},
                  "liquidation_margin_buffer_ratio": buffer}}))


def applied(engine: Engine, *events: Event) -> dict[str, Any]:
    details: dict[str, Any] = {}
    for event in events:
        out = engine.apply(event)
        assert out.accepted, (event, out.code, out.reason)
        details = dict(out.details)
    return details


def underwater(engine: Engine, usdc: int, sol: int) -> None:
    """The user: ``usdc`` deposited and ``sol`` borrowed at 50 (initial margin holds),
    then SOL at Drift's 100; the liquidator: 100 USDC."""
    applied(engine, SetPrice("USDC", PRICE_UNIT), SetPrice("SOL", 50 * PRICE_UNIT),
            DriftDeposit("u", "USDC", usdc), DriftWithdraw("u", "SOL", sol),
            DriftDeposit("k", "USDC", 100 * USDC), SetPrice("SOL", 100 * PRICE_UNIT))


def book(engine: Engine) -> DriftBook:
    family = engine.state.family
    assert isinstance(family, DriftBook)
    return family


def test_liquidate_spot_when_the_asset_limits_the_transfer_then_drifts_balances():
    # successful_liquidation_liability_transfer_implied_by_asset_amount: 100 USDC against
    # 1 SOL (9 decimals), buffer 0.1%: the 100 USDC buy 100 / (100 / 0.999) = 0.999 SOL.
    # Drift: user USDC 0, SOL scaled 999,999 (1,000,000 tokens + its rounding unit);
    # liquidator USDC 200, SOL scaled 999,000,001.
    engine = engine_of(9, "0.001")
    underwater(engine, 100 * USDC, 10**9)
    d = applied(engine, DriftLiquidateSpot("k", "u", "USDC", "SOL", 10**6 * 10**9))
    assert (d["liability_transfer"], d["asset_transfer"]) == (999_000_000, 100 * USDC)
    assert book(engine).account("u").spot == {"USDC": 0, "SOL": -1_000_000}
    assert book(engine).account("k").spot == {"USDC": 200 * USDC, "SOL": -999_000_000}


def test_liquidate_spot_when_the_liquidator_caps_the_transfer_then_drifts_balances():
    # successful_liquidation_liquidator_max_liability_transfer: the same account, at most
    # 0.1 SOL: 10.01001 USDC for it (100 x 0.1 / 0.999). Drift: user USDC scaled
    # 89,989,990,000 (89.98999 USDC), liquidator 110,010,010,000 (110.01001).
    engine = engine_of(9, "0.001")
    underwater(engine, 100 * USDC, 10**9)
    d = applied(engine, DriftLiquidateSpot("k", "u", "USDC", "SOL", 10**8))
    assert (d["liability_transfer"], d["asset_transfer"]) == (10**8, 10_010_010)
    assert book(engine).account("u").spot == {"USDC": 89_989_990, "SOL": -900_000_000}
    assert book(engine).account("k").spot == {"USDC": 110_010_010, "SOL": -10**8}


def test_liquidate_spot_when_shortage_with_buffer_and_if_fee_then_drifts_balances():
    # successful_liquidation_liability_transfer_to_cover_margin_shortage: 105 USDC against
    # 1 SOL (6 decimals), buffer 2%, IF fee 0.1%: shortage 110 + 2% x 100 - 105 = 7, at the
    # liability weight 1.1 + 2%; the IF fee saturates at its 0.1% maximum. Drift: user USDC
    # 45.558159, SOL 406,769; liquidator USDC 159.441841, SOL borrow 593,824 (scaled
    # 593,824,001); revenue pool 593; then margin requirement 44,744,590, total collateral
    # 45,558,159, requirement plus buffer 45,558,128 ("user out of liq territory").
    engine = engine_of(6, "0.02", if_fee="0.001")
    underwater(engine, 105 * USDC, 10**6)
    d = applied(engine, DriftLiquidateSpot("k", "u", "USDC", "SOL", 10**6))
    assert d["margin_shortage"] == 7 * USDC
    assert (d["liability_transfer"], d["if_fee"]) == (593_824, 593)
    after = book(engine)
    assert after.account("u").spot == {"USDC": 45_558_159, "SOL": -406_769}
    assert after.account("k").spot == {"USDC": 159_441_841, "SOL": -593_824}
    assert after.spot_revenue == {"SOL": 593}
    calc = drift_margin(engine.config, after, engine.prices, "u",
                        MarginRequirementType.MAINTENANCE, 200)
    assert (calc.margin_requirement, calc.total_collateral,
            calc.margin_requirement_plus_buffer) == (44_744_590, 45_558_159, 45_558_128)
    assert not engine.is_liquidatable("u")


def test_liquidate_spot_when_the_liability_is_dust_then_whole_as_drift():
    # successful_liquidation_dust_borrow: 2.14 USDC against 0.02 SOL (6 decimals, $2),
    # buffer 2%, IF fee 0.1%: the shortage (0.1) alone would move a sliver, but a
    # liability worth $10 or less goes whole: 0.02 SOL, and the asset for it is within $1
    # of the deposit, so all 2.14 USDC. Drift: user USDC 0 and SOL scaled 19,999 (the 20
    # units of the IF fee stay borrowed), liquidator USDC 102.14, SOL scaled 20,000,001.
    engine = engine_of(6, "0.02", if_fee="0.001")
    underwater(engine, 2_140_000, 20_000)
    d = applied(engine, DriftLiquidateSpot("k", "u", "USDC", "SOL", 10**6))
    assert (d["liability_transfer"], d["asset_transfer"], d["if_fee"]) == (20_000, 2_140_000,
                                                                           20)
    assert book(engine).account("u").spot == {"USDC": 0, "SOL": -20}
    assert book(engine).account("k").spot == {"USDC": 102_140_000, "SOL": -20_000}
