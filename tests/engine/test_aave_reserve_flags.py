"""Aave's reserve flags (active, frozen, paused) and the configurator's setters
(setReservePause, setPoolPause, setReserveFreeze, setReserveActive, setDebtCeiling with
resetIsolationModeTotalDebt), through the engine on Aave's own test listing
(:mod:`tests.aave_listing`).

Sources: aave-dao/aave-v3-origin@v3.5.0 (6138e1fd) ``tests/protocol/pool/Pool.Supply.t.sol``
(``test_reverts_supply_reserveInactive``, ``_reservePaused``, ``_reserveFrozen``),
``Pool.Borrow.t.sol``, ``Pool.Withdraw.t.sol``, ``Pool.Repay.t.sol`` (the same three),
``Pool.t.sol`` (``test_reverts_setUserUseReserveAsCollateral_true_reserve_inactive``,
``_reserve_paused``, ``test_resetIsolationModeTotalDebt``), ``Pool.Liquidations.t.sol``
(``test_reverts_liquidation_reservePaused``), ``pool-configurator/
PoolConfigurator.reserveRiskConfig.t.sol`` (``test_reverts_setReserveActive_false_if_suppliers``,
``test_setUnfrozenReserveFreeze_false_revert``, ``test_reverts_setDebtCeiling_suppliers``,
``test_setDebtCeiling``, ``test_setPoolPause``), ``PoolConfigurator.pendingLTV.t.sol``
(``test_freezeReserve_ltvSetTo0``, ``test_unfreezeReserve_pendingSetToLtv``); the rules in
``ValidationLogic.sol`` and ``PoolConfigurator.sol`` at v3.3.0, v3.5.0 and 4fbd7442 (v3.7).
"""

from __future__ import annotations

import pytest

from marginengine.config import protocol_from_dict
from marginengine.engine import (
    AdvanceTime,
    Borrow,
    Deposit,
    Engine,
    Liquidate,
    Repay,
    RepayWithATokens,
    SetDebtCeiling,
    SetPoolPause,
    SetPrice,
    SetReserveActive,
    SetReserveFreeze,
    SetReservePause,
    SetRiskParams,
    SetUseAsCollateral,
    Withdraw,
)
from tests.aave_listing import MARKETS, PRICES, USD, USDX, WBTC, pool

PRESETS = ["aave-v3.3", "aave-v3.5", "aave-v3.7"]


def _alice(preset: str) -> Engine:
    """carol supplies 100,000 USDX; alice supplies 1 WBTC and borrows 1,000 USDX."""
    engine = pool(preset)
    assert engine.apply(Deposit("alice", "WBTC", WBTC)).accepted
    assert engine.apply(Borrow("alice", "USDX", 1_000 * USDX)).accepted
    return engine


@pytest.mark.parametrize("preset", PRESETS)
def test_supply_when_reserve_inactive_paused_or_frozen_then_refused_with_that_flag(
        preset: str) -> None:
    # Pool.Supply.t.sol: setReserveActive(wbtc, false) (no WBTC supplier yet),
    # setReservePause(wbtc, true, 0), setReserveFreeze(wbtc, true); supply 0.2 WBTC.
    error = {"aave-v3.3": ("RESERVE_INACTIVE", "RESERVE_PAUSED", "RESERVE_FROZEN")}.get(
        preset, ("ReserveInactive", "ReservePaused", "ReserveFrozen"))
    for flag, code, name in ((SetReserveActive("WBTC", False), "RESERVE_INACTIVE", error[0]),
                             (SetReservePause("WBTC", True), "RESERVE_PAUSED", error[1]),
                             (SetReserveFreeze("WBTC", True), "RESERVE_FROZEN", error[2])):
        engine = pool(preset)
        assert engine.apply(flag).accepted
        before = engine.ledger.reserves["WBTC"].as_dict()
        out = engine.apply(Deposit("alice", "WBTC", WBTC // 5))
        assert (out.code, out.data["error"], out.data["action"]) == (code, name, "supply")
        assert engine.ledger.reserves["WBTC"].as_dict() == before
        assert "alice" not in engine.ledger.accounts


@pytest.mark.parametrize("preset", PRESETS)
def test_frozen_reserve_when_each_action_then_only_supply_and_borrow_refused(
        preset: str) -> None:
    engine = _alice(preset)
    assert engine.apply(SetReserveFreeze("USDX", True)).accepted
    assert engine.apply(Borrow("alice", "USDX", USDX)).code == "RESERVE_FROZEN"
    assert engine.apply(Deposit("dan", "USDX", USDX)).code == "RESERVE_FROZEN"
    assert engine.apply(Repay("alice", "USDX", 100 * USDX)).details == {"repaid": 100 * USDX}
    assert engine.apply(Withdraw("carol", "USDX", 10 * USDX)).accepted
    assert engine.apply(SetUseAsCollateral("carol", "USDX", False)).accepted


@pytest.mark.parametrize("preset", PRESETS)
def test_paused_reserve_when_each_action_then_every_one_refused_and_state_unchanged(
        preset: str) -> None:
    # Pool.Withdraw/Repay/Borrow.t.sol *_reservePaused, Pool.t.sol
    # test_reverts_setUserUseReserveAsCollateral_true_reserve_paused.
    engine = _alice(preset)
    assert engine.apply(SetReservePause("USDX", True)).details == {"paused": True}
    ledger = engine.ledger
    debt, supply = ledger.debt_of("alice", "USDX"), ledger.supply_of("carol", "USDX")
    for event in (Borrow("alice", "USDX", USDX), Repay("alice", "USDX", USDX),
                  Withdraw("carol", "USDX", USDX), Deposit("dan", "USDX", USDX),
                  SetUseAsCollateral("carol", "USDX", False),
                  RepayWithATokens("carol", "USDX", USDX)):
        out = engine.apply(event)
        assert out.code == "RESERVE_PAUSED", event
        assert "USDX is paused" in (out.reason or "")
    assert (ledger.debt_of("alice", "USDX"), ledger.supply_of("carol", "USDX")) == (debt, supply)
    # The WBTC reserve is not paused: alice's collateral moves.
    assert engine.apply(Withdraw("alice", "WBTC", WBTC // 10)).accepted


@pytest.mark.parametrize("preset", PRESETS)
def test_liquidation_when_either_reserve_paused_or_inactive_then_refused_before_the_health(
        preset: str) -> None:
    # Pool.Liquidations.t.sol test_reverts_liquidation_reservePaused: the flags come
    # before the health factor's check (alice is liquidatable once WBTC falls).
    engine = _alice(preset)
    assert engine.apply(Borrow("alice", "USDX", 20_000 * USDX)).accepted
    assert engine.apply(SetPrice("WBTC", 20_000 * USD)).accepted
    assert engine.is_liquidatable("alice")
    liquidate = Liquidate("bob", "alice", "USDX", "WBTC", 1_000 * USDX)
    assert engine.apply(SetReservePause("WBTC", True)).accepted
    assert engine.apply(liquidate).code == "RESERVE_PAUSED"
    assert engine.liquidation_quote("alice").plan is None
    # Unpausing with a grace period: paused no more, but the grace period holds.
    out = engine.apply(SetReservePause("WBTC", False, 3_600))
    assert out.details == {"paused": False, "until": 3_600}
    assert engine.apply(liquidate).code == "LIQUIDATION_GRACE_SENTINEL_CHECK_FAILED"
    assert engine.apply(AdvanceTime(3_601)).accepted
    assert engine.apply(liquidate).accepted


@pytest.mark.parametrize("preset", PRESETS)
def test_set_reserve_active_false_when_suppliers_then_refused(preset: str) -> None:
    # test_reverts_setReserveActive_false_if_suppliers: carol supplies USDX.
    engine = pool(preset)
    out = engine.apply(SetReserveActive("USDX", False))
    assert out.code == "RESERVE_LIQUIDITY_NOT_ZERO"
    assert out.data["scaled_supply"] == 100_000 * USDX
    assert engine.ledger.reserves["USDX"].active
    # WETH has no supplier: it is deactivated, and then refuses the collateral switch
    # and a supply (Pool.t.sol *_reserve_inactive).
    assert engine.apply(SetReserveActive("WETH", False)).details == {"active": False}
    assert engine.apply(Deposit("alice", "WETH", 10**18)).code == "RESERVE_INACTIVE"
    assert engine.apply(SetReserveActive("WETH", True)).accepted
    assert engine.apply(Deposit("alice", "WETH", 10**18)).accepted


@pytest.mark.parametrize("preset", PRESETS)
def test_set_reserve_freeze_when_flag_unchanged_then_invalid_freeze_state(preset: str) -> None:
    # test_setUnfrozenReserveFreeze_false_revert, test_setFrozenReserveFreeze_true_revert.
    engine = pool(preset)
    assert engine.apply(SetReserveFreeze("USDX", False)).code == "INVALID_FREEZE_STATE"
    assert engine.apply(SetReserveFreeze("USDX", True)).accepted
    assert engine.apply(SetReserveFreeze("USDX", True)).code == "INVALID_FREEZE_STATE"


@pytest.mark.parametrize("preset, unfrozen_ltv", [("aave-v3.3", 8_250), ("aave-v3.5", 8_250),
                                                  ("aave-v3.7", 0)])
def test_freeze_when_then_ltv_zero_and_pending_and_unfreeze_restores_before_v3_6(
        preset: str, unfrozen_ltv: int) -> None:
    # PoolConfigurator.pendingLTV.t.sol: freeze sets the LTV 82.50% to 0 and keeps it
    # pending; v3.3/v3.5's unfreeze sets it back and clears the pending LTV. v3.6+'s
    # setReserveFreeze(false) restores nothing (setReserveLtvzero does).
    engine = pool(preset)
    out = engine.apply(SetReserveFreeze("WBTC", True))
    assert out.details["ltv_bps"] == 0 and out.details["pending_ltv_bps"] == 8_250
    assert engine.config.markets["WBTC"].ltv_bps == 0
    assert engine.apply(Deposit("alice", "WETH", 10**18)).accepted
    out = engine.apply(SetReserveFreeze("WBTC", False))
    assert out.details["ltv_bps"] == unfrozen_ltv
    assert out.details["pending_ltv_bps"] == (0 if unfrozen_ltv else 8_250)
    assert engine.config.markets["WBTC"].ltv_bps == unfrozen_ltv


def test_frozen_collateral_when_borrowing_against_it_then_its_ltv_counts_zero() -> None:
    engine = pool("aave-v3.5")
    assert engine.apply(Deposit("alice", "WBTC", WBTC)).accepted
    assert engine.apply(SetReserveFreeze("WBTC", True)).accepted
    assert engine.apply(Borrow("alice", "USDX", USDX)).code == "LTV_VALIDATION_FAILED"
    # A steward's LTV update waits until the unfreeze (Aave keeps it pending).
    out = engine.apply(SetRiskParams("WBTC", ltv_bps=8_000))
    assert (out.code, out.data["field"]) == ("RESERVE_FROZEN", "ltv_bps")


@pytest.mark.parametrize("preset", PRESETS)
def test_pool_pause_when_then_every_reserve_paused_and_unpause_restores(preset: str) -> None:
    # test_setPoolPause / test_setPoolPause_unpause.
    engine = _alice(preset)
    out = engine.apply(SetPoolPause(True))
    assert out.details == {"paused": True, "reserves": ["USDX", "WBTC", "WETH"]}
    assert all(r.paused for r in engine.ledger.reserves.values())
    assert engine.apply(Repay("alice", "USDX", USDX)).code == "RESERVE_PAUSED"
    assert engine.apply(SetPoolPause(False, 4 * 3_600 + 1)).code == "INVALID_GRACE_PERIOD"
    assert all(r.paused for r in engine.ledger.reserves.values())  # nothing half done
    assert engine.apply(SetPoolPause(False)).accepted
    assert engine.apply(Repay("alice", "USDX", USDX)).accepted


def _isolating(preset: str, ceiling: str) -> Engine:
    markets = {**MARKETS, "WBTC": {**MARKETS["WBTC"], "debt_ceiling": ceiling},
               "USDX": {**MARKETS["USDX"], "borrowable_in_isolation": True}}
    engine = Engine(protocol_from_dict({"preset": preset, "markets": markets}))
    for asset, price in PRICES.items():
        assert engine.apply(SetPrice(asset, price)).accepted
    return engine


@pytest.mark.parametrize("preset", ["aave-v3.3", "aave-v3.5"])
def test_set_debt_ceiling_when_from_none_with_suppliers_then_refused(preset: str) -> None:
    # test_reverts_setDebtCeiling_suppliers: alice supplies 10 USDX, then
    # setDebtCeiling(usdx, 100) reverts ReserveLiquidityNotZero; test_setDebtCeiling on
    # an unsupplied reserve passes (0 -> 100 cents).
    engine = _isolating(preset, "0")
    assert engine.apply(SetDebtCeiling("WETH", 100)).details == {"previous": 0,
                                                                  "debt_ceiling": 100}
    assert engine.config.markets["WETH"].debt_ceiling_units == 100
    assert engine.apply(Deposit("alice", "USDX", 10 * USDX)).accepted
    out = engine.apply(SetDebtCeiling("USDX", 100))
    assert (out.code, out.data["error"]) == (
        "RESERVE_LIQUIDITY_NOT_ZERO",
        "RESERVE_LIQUIDITY_NOT_ZERO" if preset == "aave-v3.3" else "ReserveLiquidityNotZero")
    assert engine.config.markets["USDX"].debt_ceiling_units == 0
    out = engine.apply(SetDebtCeiling("WETH", 2**40))
    assert (out.code, out.data["field"]) == ("INVALID_DEBT_CEILING", "debt_ceiling")


@pytest.mark.parametrize("preset", ["aave-v3.3", "aave-v3.5"])
def test_set_debt_ceiling_to_zero_when_isolated_debt_then_reset_and_isolation_ends(
        preset: str) -> None:
    # Pool.t.sol test_resetIsolationModeTotalDebt: setDebtCeiling(wbtc, 10_000) (cents);
    # alice supplies 0.5 WBTC, switches it on, borrows 10 USDX (1,000 cents); then
    # setDebtCeiling(wbtc, 0) resets isolationModeTotalDebt to 0.
    engine = _isolating(preset, "100")
    assert engine.apply(Deposit("carol", "USDX", 100_000 * USDX)).accepted
    assert engine.apply(Deposit("alice", "WBTC", WBTC // 2)).accepted
    assert engine.apply(SetUseAsCollateral("alice", "WBTC", True)).accepted
    assert engine.apply(Borrow("alice", "USDX", 10 * USDX)).accepted
    assert engine.ledger.reserves["WBTC"].isolation_mode_total_debt == 1_000
    # A ceiling to another ceiling passes with suppliers (the check is on 0 only).
    assert engine.apply(SetDebtCeiling("WBTC", 1_500)).accepted
    assert engine.apply(Borrow("alice", "USDX", 6 * USDX)).code == "DEBT_CEILING_EXCEEDED"
    out = engine.apply(SetDebtCeiling("WBTC", 0))
    assert out.details == {"previous": 1_500, "debt_ceiling": 0,
                           "isolation_mode_total_debt_reset": 1_000}
    assert engine.ledger.reserves["WBTC"].isolation_mode_total_debt == 0
    # No longer isolated: the ceiling binds no more.
    assert engine.apply(Borrow("alice", "USDX", 6 * USDX)).accepted
    # And 0 -> a ceiling again is refused while WBTC has suppliers.
    assert engine.apply(SetDebtCeiling("WBTC", 1_000)).code == "RESERVE_LIQUIDITY_NOT_ZERO"


def test_set_debt_ceiling_when_v3_7_then_not_supported() -> None:
    out = pool("aave-v3.7").apply(SetDebtCeiling("WBTC", 100))
    assert out.code == "EVENT_NOT_SUPPORTED"


def test_flags_when_applied_twice_then_same_hash_and_untouched_run_hashes_as_before(
) -> None:
    # A run that never moves a flag hashes as before the flags existed: the reserve's
    # dict has no flag keys.
    engine = _alice("aave-v3.5")
    assert "paused" not in engine.ledger.reserves["USDX"].as_dict()
    assert engine.apply(SetReserveFreeze("WBTC", True)).accepted
    assert engine.apply(SetReservePause("USDX", True)).accepted
    twin = _alice("aave-v3.5")
    for event in (SetReserveFreeze("WBTC", True), SetReservePause("USDX", True)):
        assert twin.apply(event).accepted
    assert twin.state_hash() == engine.state_hash()
    other = _alice("aave-v3.5")
    assert other.apply(SetReservePause("USDX", True)).accepted
    assert other.state_hash() != engine.state_hash()  # the freeze is in the hash
