"""Aave v3's reserve flags (active, frozen, paused) and the pool configurator's setters
that move them and the debt ceiling, as pure functions: allowed (``None``) or a typed
refusal, and the LTV a freeze leaves.

Which action each flag refuses, as every version's ``ValidationLogic`` has it
(aave-dao/aave-v3-origin@v3.3.0 5431379f, @v3.5.0 6138e1fd and the v3.7.0 commit 4fbd7442:
``validateSupply``, ``validateWithdraw``, ``validateBorrow``, ``validateRepay``,
``validateSetUseReserveAsCollateral``, ``validateLiquidationCall``)::

    action                     inactive          paused           frozen
    supply                     RESERVE_INACTIVE  RESERVE_PAUSED   RESERVE_FROZEN
    borrow                     RESERVE_INACTIVE  RESERVE_PAUSED   RESERVE_FROZEN
    withdraw                   RESERVE_INACTIVE  RESERVE_PAUSED   allowed
    repay (and with aTokens)   RESERVE_INACTIVE  RESERVE_PAUSED   allowed
    collateral switch          RESERVE_INACTIVE  RESERVE_PAUSED   allowed
    liquidation (either side)  RESERVE_INACTIVE  RESERVE_PAUSED   allowed

checked in that order (inactive, then paused, then frozen). The codes are v3.3's
``Errors.sol`` names; v3.4+ reverts with the custom errors ``ReserveInactive()``,
``ReservePaused()``, ``ReserveFrozen()``, which ``data["error"]`` names when the family has
them (``rules.custom_errors``).

The setters (``PoolConfigurator.sol``, the same in the three versions where they exist):
``setReserveActive(false)`` and ``setDebtCeiling`` on a collateral reserve without a
ceiling need no suppliers (``_checkNoSuppliers``: the aToken supply and
``accruedToTreasury`` both 0, else ``RESERVE_LIQUIDITY_NOT_ZERO``); ``setReserveFreeze``
must change the flag (``INVALID_FREEZE_STATE``) and sets the reserve's LTV to 0, keeping it
as the pending LTV (:func:`ltv_after_freeze`); ``setReservePause`` and ``setPoolPause``
always pass (a grace period on unpausing is :func:`~marginengine.margin.validation.
validate_grace_period`'s).
"""

from __future__ import annotations

from enum import Enum

from marginengine.config.models import DEBT_CEILING_DECIMALS, MAX_VALID_DEBT_CEILING
from marginengine.decisions import Code, Refusal
from marginengine.fixedpoint import format_units


class ReserveAction(Enum):
    """An action on a reserve, by which flags refuse it (the module's table)."""

    SUPPLY = "supply"
    BORROW = "borrow"
    WITHDRAW = "withdraw"
    REPAY = "repay"
    COLLATERAL_SWITCH = "collateral switch"
    LIQUIDATION = "liquidation"


#: The actions a frozen reserve refuses (``validateSupply``, ``validateBorrow``).
FROZEN_REFUSES = frozenset({ReserveAction.SUPPLY, ReserveAction.BORROW})

#: Each stable code's name as a v3.4+ custom error.
_CUSTOM = {Code.RESERVE_INACTIVE: "ReserveInactive", Code.RESERVE_PAUSED: "ReservePaused",
           Code.RESERVE_FROZEN: "ReserveFrozen",
           Code.RESERVE_LIQUIDITY_NOT_ZERO: "ReserveLiquidityNotZero",
           Code.INVALID_FREEZE_STATE: "InvalidFreezeState",
           Code.INVALID_DEBT_CEILING: "InvalidDebtCeiling"}


def error_name(code: Code, custom_errors: bool) -> str:
    """The version's name of ``code``: v3.4+'s custom error (``ReservePaused``) when
    ``custom_errors``, else v3.3's string code (``RESERVE_PAUSED``)."""
    return _CUSTOM.get(code, code.value) if custom_errors else code.value


def _refusal(code: Code, message: str, custom_errors: bool, **data: object) -> Refusal:
    return Refusal(code, message, {**data, "error": error_name(code, custom_errors)})


def validate_reserve_flags(action: ReserveAction, asset: str, active: bool, paused: bool,
                           frozen: bool, custom_errors: bool = False) -> Refusal | None:
    """Whether ``action`` on reserve ``asset`` passes its flags (the module's table):
    ``RESERVE_INACTIVE``, then ``RESERVE_PAUSED``, then, for a supply or a borrow,
    ``RESERVE_FROZEN``; else ``None``."""
    if not active:
        return _refusal(Code.RESERVE_INACTIVE, f"{asset} is not active: no {action.value} "
                        "(the pool admin's setReserveActive)", custom_errors,
                        asset=asset, action=action.value)
    if paused:
        return _refusal(Code.RESERVE_PAUSED, f"{asset} is paused: no {action.value} "
                        "(setReservePause or setPoolPause)", custom_errors,
                        asset=asset, action=action.value)
    if frozen and action in FROZEN_REFUSES:
        return _refusal(Code.RESERVE_FROZEN, f"{asset} is frozen: no {action.value} "
                        "(setReserveFreeze; withdrawals, repayments and liquidations go "
                        "on)", custom_errors, asset=asset, action=action.value)
    return None


def validate_liquidation_flags(collateral_asset: str, collateral_active: bool,
                               collateral_paused: bool, debt_asset: str, debt_active: bool,
                               debt_paused: bool, custom_errors: bool = False
                               ) -> Refusal | None:
    """``validateLiquidationCall``'s flags: both reserves active (``RESERVE_INACTIVE``),
    then neither paused (``RESERVE_PAUSED``); a frozen reserve is liquidated."""
    for asset, active in ((collateral_asset, collateral_active), (debt_asset, debt_active)):
        if not active:
            return validate_reserve_flags(ReserveAction.LIQUIDATION, asset, False, False,
                                          False, custom_errors)
    for asset, paused in ((collateral_asset, collateral_paused), (debt_asset, debt_paused)):
        if paused:
            return validate_reserve_flags(ReserveAction.LIQUIDATION, asset, True, True,
                                          False, custom_errors)
    return None


def _no_suppliers(asset: str, scaled_supply: int, treasury: int, why: str,
                  custom_errors: bool) -> Refusal | None:
    """``_checkNoSuppliers``: no aTokens (``scaled_supply``) and nothing accrued to the
    treasury, else ``RESERVE_LIQUIDITY_NOT_ZERO``."""
    if scaled_supply == 0 and treasury == 0:
        return None
    return _refusal(Code.RESERVE_LIQUIDITY_NOT_ZERO,
                    f"{asset} has suppliers (scaled supply {scaled_supply}, treasury "
                    f"{treasury}): {why}", custom_errors, asset=asset,
                    scaled_supply=scaled_supply, treasury=treasury)


def validate_set_reserve_active(asset: str, active: bool, scaled_supply: int, treasury: int,
                                custom_errors: bool = False) -> Refusal | None:
    """``setReserveActive``: deactivating needs no suppliers (``_checkNoSuppliers``);
    activating always passes."""
    if active:
        return None
    return _no_suppliers(asset, scaled_supply, treasury,
                         "a reserve with liquidity cannot be deactivated", custom_errors)


def validate_set_reserve_freeze(asset: str, frozen: bool, freeze: bool,
                                custom_errors: bool = False) -> Refusal | None:
    """``setReserveFreeze``: the flag must change (``INVALID_FREEZE_STATE``)."""
    if freeze != frozen:
        return None
    state = "frozen" if frozen else "not frozen"
    return _refusal(Code.INVALID_FREEZE_STATE, f"{asset} is {state} already",
                    custom_errors, asset=asset, frozen=frozen)


def ltv_after_freeze(freeze: bool, ltv_bps: int, pending_ltv_bps: int,
                     restores_on_unfreeze: bool) -> tuple[int, int]:
    """The reserve's ``(ltv, pending ltv)`` after ``setReserveFreeze(freeze)``.

    v3.3/v3.5 (``restores_on_unfreeze``): a freeze puts the LTV aside as pending and sets
    it to 0; an unfreeze sets the pending LTV back and clears it. v3.6+
    (``_setReserveLtvzero(asset, true)``): a freeze does the same unless the LTV is 0
    already (then the pending LTV stays as it was); an unfreeze changes neither (the LTV
    comes back only with ``setReserveLtvzero(asset, false)``)."""
    if freeze:
        if ltv_bps == 0 and not restores_on_unfreeze:
            return 0, pending_ltv_bps
        return 0, ltv_bps
    if restores_on_unfreeze:
        return pending_ltv_bps, 0
    return ltv_bps, pending_ltv_bps


def validate_debt_ceiling_value(new_units: int,
                                custom_errors: bool = False) -> Refusal | None:
    """A debt ceiling (cents) fits its 40-bit field: at most ``MAX_VALID_DEBT_CEILING``
    (``ReserveConfiguration.setDebtCeiling``, ``INVALID_DEBT_CEILING``). The check of
    :func:`validate_set_debt_ceiling` that needs no state (a scenario's action asks it
    at load)."""
    if not 0 <= new_units <= MAX_VALID_DEBT_CEILING:
        return _refusal(Code.INVALID_DEBT_CEILING,
                        f"debt_ceiling: must be within 0 and {MAX_VALID_DEBT_CEILING} cents "
                        f"(Aave's MAX_VALID_DEBT_CEILING, 2**40 - 1), got {new_units}",
                        custom_errors, field="debt_ceiling", debt_ceiling=new_units)
    return None


def validate_set_debt_ceiling(asset: str, old_units: int, new_units: int,
                              liquidation_threshold_bps: int, scaled_supply: int,
                              treasury: int, custom_errors: bool = False) -> Refusal | None:
    """``setDebtCeiling(asset, newDebtCeiling)`` (cents, ``DEBT_CEILING_DECIMALS``): at
    most ``MAX_VALID_DEBT_CEILING`` (``ReserveConfiguration.setDebtCeiling``,
    ``INVALID_DEBT_CEILING``); on a collateral reserve (threshold not 0) without a ceiling
    yet (``old_units`` 0), no suppliers (``_checkNoSuppliers``,
    ``RESERVE_LIQUIDITY_NOT_ZERO``): its suppliers' collateral would become isolated under
    them. A ceiling to another ceiling, or to 0, passes."""
    refusal = validate_debt_ceiling_value(new_units, custom_errors)
    if refusal is not None:
        return refusal
    if liquidation_threshold_bps != 0 and old_units == 0:
        ceiling = format_units(new_units, DEBT_CEILING_DECIMALS, 2)
        return _no_suppliers(asset, scaled_supply, treasury,
                             f"a debt ceiling ({ceiling} USD) cannot be set on a collateral "
                             "reserve without one while it has suppliers", custom_errors)
    return None


__all__ = [
    "FROZEN_REFUSES",
    "ReserveAction",
    "error_name",
    "ltv_after_freeze",
    "validate_debt_ceiling_value",
    "validate_liquidation_flags",
    "validate_reserve_flags",
    "validate_set_debt_ceiling",
    "validate_set_reserve_active",
    "validate_set_reserve_freeze",
]
