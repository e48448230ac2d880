"""Drift v2's user status and margin mode through the engine: ``UserStatus::BeingLiquidated``
/ ``Bankrupt`` and ``MarginMode::HighLeverage``.

Source: drift-labs/protocol-v2@0ae3e3b1db782a6765c3525b3dec38ad4d9d3a62:
``controller/liquidation.rs`` ``set_user_status_to_being_liquidated``;
``instructions/user.rs`` ``handle_deposit`` (a deposit ends the liquidation when
``is_cross_margin_being_liquidated`` is false: the maintenance requirement plus
``liquidation_margin_buffer_ratio`` met), ``handle_withdraw`` and
``handle_enable_user_high_leverage_mode``; ``state/high_leverage_mode_config.rs``
(``current_users + 1 <= max_users``); ``math/margin.rs``
``validate_user_can_enable_high_leverage_mode``; ``instructions/keeper.rs``
``handle_disable_user_high_leverage_mode``. The account is the one of
``tests/engine/test_drift_gradual_liquidation.py``: 1,050 USDC against 10 SOL at 100
(maintenance liability weight 1.1, buffer 2%).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from marginengine.config import protocol_from_dict
from marginengine.decisions import Code
from marginengine.engine import (
    AdvanceTime,
    DriftDeposit,
    DriftDisableHighLeverageMode,
    DriftEnableHighLeverageMode,
    DriftSetUserStatusToBeingLiquidated,
    DriftWithdraw,
    Engine,
    Event,
    SetPrice,
)
from marginengine.engine.family_state import DriftBook, DriftLiquidation
from marginengine.fixedpoint import PRICE_UNIT
from marginengine.margin.drift import MarginMode

USDC = SOL = 10**6


def engine_of(max_users: int = 0) -> Engine:
    one = {"initial_asset_weight": "1", "maintenance_asset_weight": "1",
           "initial_liability_weight": "1", "maintenance_liability_weight": "1"}
    sol = {"initial_asset_weight": "0.8", "maintenance_asset_weight": "0.9",
           "initial_liability_weight": "1.2", "maintenance_liability_weight": "1.1"}
    return Engine(protocol_from_dict({"preset": "drift-v2", "markets": {
        "USDC": {"decimals": 6, "collateral": False, "borrowable": False},
        "SOL": {"decimals": 6, "collateral": False, "borrowable": False}},
        "drift": {"quote": "USDC", "spot": {"USDC": one, "SOL": sol},
                  "liquidation_margin_buffer_ratio": "0.02", "slot_ms": 1000,
                  "high_leverage_max_users": max_users}}))


def applied(engine: Engine, *events: Event) -> dict[str, Any]:
    details: dict[str, Any] = {}
    for event in events:
        out = engine.apply(event)
        assert out.accepted, (event, out.code, out.reason)
        details = dict(out.details)
    return details


def book(engine: Engine) -> DriftBook:
    family = engine.state.family
    assert isinstance(family, DriftBook)
    return family


def underwater(engine: Engine) -> None:
    """u: 1,050 USDC against 10 SOL borrowed at 50, then SOL at 100 (maintenance
    requirement 1,100, with the buffer 1,120); k: 1,000 USDC; slot 1."""
    applied(engine, SetPrice("USDC", PRICE_UNIT), SetPrice("SOL", 50 * PRICE_UNIT),
            DriftDeposit("u", "USDC", 1050 * USDC), DriftWithdraw("u", "SOL", 10 * SOL),
            DriftDeposit("k", "USDC", 1000 * USDC), SetPrice("SOL", 100 * PRICE_UNIT),
            AdvanceTime(1))


def test_set_status_when_below_maintenance_then_enters_and_nothing_moves():
    engine = engine_of()
    underwater(engine)
    before = book(engine).account("u")
    d = applied(engine, DriftSetUserStatusToBeingLiquidated("u"))
    assert (d["slot"], d["total_collateral"], d["margin_requirement"]) == (
        1, 1050 * USDC, 1100 * USDC)
    assert d["margin_shortage"] == 70 * USDC                       # 1,100 + 20 - 1,050
    assert book(engine).liquidations["u"] == DriftLiquidation(1, 0)
    assert book(engine).account("u") == before
    out = engine.apply(DriftSetUserStatusToBeingLiquidated("u"))
    assert (out.accepted, out.code) == (False, Code.DRIFT_USER_IS_BEING_LIQUIDATED)
    out = engine.apply(DriftSetUserStatusToBeingLiquidated("k"))
    assert (out.accepted, out.code) == (False, Code.DRIFT_SUFFICIENT_COLLATERAL)


def test_deposit_when_being_liquidated_then_exits_only_at_the_buffer():
    # handle_deposit: 60 USDC (1,110 < 1,120) leaves u being liquidated; 10 more reach
    # the maintenance requirement plus the 2% buffer exactly (1,120 >= 1,120) and end it
    engine = engine_of()
    underwater(engine)
    applied(engine, DriftSetUserStatusToBeingLiquidated("u"))
    assert applied(engine, DriftDeposit("u", "USDC", 60 * USDC))["exited_liquidation"] is False
    assert "u" in book(engine).liquidations
    assert applied(engine, DriftDeposit("u", "USDC", 10 * USDC))["exited_liquidation"] is True
    assert "u" not in book(engine).liquidations


def test_deposit_withdraw_when_bankrupt_status_then_user_bankrupt():
    engine = engine_of()
    underwater(engine)
    held = book(engine)
    engine.state.family = replace(held, liquidations={"u": DriftLiquidation(1, bankrupt=True)})
    frozen = engine.state.family
    for event in (DriftDeposit("u", "USDC", USDC), DriftWithdraw("u", "USDC", USDC),
                  DriftSetUserStatusToBeingLiquidated("u")):
        out = engine.apply(event)
        assert (out.accepted, out.code) == (False, Code.DRIFT_USER_BANKRUPT), event
    assert engine.state.family is frozen


def test_enable_high_leverage_when_config_full_or_underwater_then_refused():
    engine = engine_of()
    underwater(engine)
    # the default max_users 0 admits none: 0 + 1 > 0
    out = engine.apply(DriftEnableHighLeverageMode("k"))
    assert (out.accepted, out.code) == (False, Code.DRIFT_INVALID_HIGH_LEVERAGE_MODE_CONFIG)
    assert out.data == {"current_users": 0, "max_users": 0}
    engine = engine_of(max_users=1)
    underwater(engine)
    out = engine.apply(DriftEnableHighLeverageMode("u"))           # 1,050 < 1,100
    assert (out.accepted, out.code) == (False, Code.DRIFT_INSUFFICIENT_COLLATERAL)
    d = applied(engine, DriftEnableHighLeverageMode("k"))
    assert (d["current_users"], d["max_users"]) == (1, 1)
    assert book(engine).account("k").margin_mode is MarginMode.HIGH_LEVERAGE
    out = engine.apply(DriftEnableHighLeverageMode("k"))
    assert (out.accepted, out.code) == (False, Code.DRIFT_DEFAULT_ERROR)
    applied(engine, DriftDeposit("z", "USDC", USDC))
    out = engine.apply(DriftEnableHighLeverageMode("z"))           # 1 + 1 > 1
    assert (out.accepted, out.code) == (False, Code.DRIFT_INVALID_HIGH_LEVERAGE_MODE_CONFIG)


def test_disable_high_leverage_when_no_hlm_position_then_default():
    engine = engine_of(max_users=1)
    underwater(engine)
    applied(engine, DriftEnableHighLeverageMode("k"))
    out = engine.apply(DriftDisableHighLeverageMode("k", disable_maintenance=True))
    assert (out.accepted, out.code) == (False, Code.DRIFT_DEFAULT_ERROR)
    assert applied(engine, DriftDisableHighLeverageMode("k"))["margin_mode"] == "default"
    assert book(engine).account("k").margin_mode is MarginMode.DEFAULT
    out = engine.apply(DriftDisableHighLeverageMode("k"))
    assert (out.accepted, out.code) == (False, Code.DRIFT_DEFAULT_ERROR)
    applied(engine, DriftEnableHighLeverageMode("k"))              # room again: 0 + 1 <= 1
