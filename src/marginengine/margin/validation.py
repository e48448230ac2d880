"""Validation of lending actions as pure functions: allowed (``None``) or a typed refusal.

As Aave's ``ValidationLogic`` separates "is this action allowed" from the state, each
function here takes explicit inputs (the market's configuration, the reserve's totals, the
account data before or after the action, the family's rules) and returns ``None`` or a
:class:`~marginengine.decisions.Refusal` with the family's own code. Nothing here changes
state, and nothing needs an engine: tests call each rule directly.

Sources: aave-dao/aave-v3-origin ``src/contracts/protocol/libraries/logic/ValidationLogic.sol``
(``validateSupply``, ``validateWithdraw``, ``validateBorrow``, ``validateHFAndLtv``,
``validateLiquidationCall``); compound-finance/comet ``contracts/Comet.sol`` (``withdrawBase``,
``withdrawCollateral``, ``absorb``, ``buyCollateral``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from marginengine.config import MarketConfig
from marginengine.config.amounts import MAX_UNITS
from marginengine.config.families import (
    InitialCheck,
    LendingRules,
    StorageWidths,
    WithdrawCheck,
)
from marginengine.config.models import DEBT_CEILING_DECIMALS
from marginengine.decisions import Code, Refusal
from marginengine.fixedpoint import WAD, Rounding, bps_div, format_units
from marginengine.margin.base import NO_DEBT_HEALTH, MarginRisk, MarginState
from marginengine.margin.weighted import AccountData


def fmt_usd(value_base: int) -> str:
    """Base-currency units as ``12,345.67 USD`` (display only)."""
    return f"{format_units(value_base, 8, 2)} USD"


def fmt_health(health: int) -> str:
    """A wad health factor as ``0.93`` (``inf`` without debt)."""
    return "inf" if health == NO_DEBT_HEALTH else f"{health / WAD:.4f}".rstrip("0").rstrip(".")


def _units(amount: int, asset: str, market: MarketConfig) -> str:
    return f"{format_units(amount, market.decimals)} {asset}"


def initial_shortfall(rules: LendingRules, data: AccountData) -> bool:
    """Whether debt exceeds borrowing power at these (initial-margin) account data.

    Aave (``validateBorrow``): ``percentDiv(debt, avgLtv) > collateral``, and any debt with a
    zero average LTV. Comet (``isBorrowCollateralized``): borrow-weighted collateral < debt.
    """
    if data.total_debt == 0:
        return False
    if rules.initial_check in (InitialCheck.AAVE_LTV, InitialCheck.AAVE_LTV_CEIL):
        if data.avg_ltv_bps == 0:
            return True
        # v3.3 percentDiv (half up); v3.5+ percentDivCeil.
        rounding = (Rounding.UP if rules.initial_check is InitialCheck.AAVE_LTV_CEIL
                    else Rounding.HALF_UP)
        return bps_div(data.total_debt, data.avg_ltv_bps, rounding) > data.total_collateral
    return data.initial_value < data.total_debt


def _width_refusal(asset: str, name: str, bits: int, value: int, revert: str,
                   signed: bool = False) -> Refusal:
    kind = f"int{bits + 1}" if signed else f"uint{bits}"
    return Refusal(
        Code.SAFECAST_OVERFLOW,
        f"{asset} {name} would be {value}, beyond {kind} (at most 2**{bits} - 1): the "
        f"protocol's cast reverts ({revert})",
        {"asset": asset, "name": name, "bits": bits, "value": value,
         "limit": 2**bits - 1, "revert": revert})


def validate_index_widths(widths: StorageWidths | None, asset: str, base: bool,
                          liquidity_index: int, borrow_index: int) -> Refusal | None:
    """Whether a reserve's indices after an accrual fit the protocol's storage.

    Aave's ``ReserveLogic._updateIndexes`` stores each new index with
    ``SafeCast.toUint128`` (a ray index above ``2**128 - 1`` reverts); Comet's
    ``accruedInterestIndices`` keeps its 1e15 indices in ``uint64`` (``safe64`` and a
    checked add), so only its base asset's count (``base``). ``MathUtils``' interest
    overflows ``2**256`` before this only where no chain gets: v3.3's checked products and
    v3.4+'s ``rayMul`` exceed it with a rate only when the growth factor, which the index
    is at least, is far beyond ``2**128``; v3.3's ``exp x (exp - 1) x (exp - 2)`` alone
    needs more than ``2**85`` seconds, v3.4+'s unchecked ``rate x exp`` more than
    ``2**128`` (timestamps are ``uint40``). Those are not modelled. One comparison per
    index.

    Parameters
    ----------
    widths
        The family's widths (``rules.widths``); ``None``: not modelled.
    asset
        The reserve, for the message.
    base
        Whether the reserve is Compound III's base asset.
    liquidity_index, borrow_index
        The new indices, in the ledger's ray.
    """
    if widths is None or (widths.base_only and not base):
        return None
    limit = widths.index_limit
    for name, index in (("liquidity_index", liquidity_index), ("borrow_index", borrow_index)):
        if index > limit:
            return _width_refusal(asset, name, widths.index_bits, index // widths.index_unit,
                                  widths.index_revert)
    return None


def validate_clock(widths: StorageWidths | None, time: int) -> Refusal | None:
    """Whether the protocol's clock holds ``time`` (seconds).

    Comet's ``getNowInternal`` returns ``uint40(block.timestamp)`` and reverts
    ``TimestampTooLarge`` once ``block.timestamp >= 2**40`` (compound-finance/comet@d5a30b0a
    ``contracts/Comet.sol``): every call that accrues reverts from then on, so the engine
    refuses the ``AdvanceTime`` that would take its clock there
    (``test/accrue-test.ts`` "supports up to the maximum timestamp then breaks"). The
    engine's clock counts from 0, so it holds every time up to ``2**40 - 1`` seconds.

    Parameters
    ----------
    widths
        The family's widths (``rules.widths``); ``None`` or no ``clock_bits``: unbounded.
    time
        The clock after the event, seconds.
    """
    if widths is None or widths.clock_bits is None:
        return None
    limit = (1 << widths.clock_bits) - 1
    if time <= limit:
        return None
    return Refusal(
        Code.TIMESTAMP_TOO_LARGE,
        f"time would be {time} s, beyond the protocol's uint{widths.clock_bits} clock (at "
        f"most 2**{widths.clock_bits} - 1 = {limit} s): every call reverts "
        f"({widths.clock_revert})",
        {"time": time, "limit": limit, "bits": widths.clock_bits,
         "revert": widths.clock_revert})


def validate_balance_widths(widths: StorageWidths | None, asset: str, base: bool,
                            scaled_balance: int, scaled_total: int,
                            debt: bool = False, revert: str | None = None) -> Refusal | None:
    """Whether an account's scaled balance and the reserve's scaled total, after a mint,
    fit the protocol's storage.

    Aave: ``UserState.balance`` is ``uint128`` (v3.3, ``toUint128``) or ``uint120``
    (v3.4+, ``toUint120``); the total is a ``uint256``. Comet's base: the principal is an
    ``int104`` (``signed104``), ``totalSupplyBase``/``totalBorrowBase`` ``uint104``;
    a collateral balance and total ``uint128`` (``safe128``).

    Parameters
    ----------
    widths
        The family's widths (``rules.widths``); ``None``: not modelled.
    asset
        The reserve, for the message.
    base
        Whether the reserve is Compound III's base asset.
    scaled_balance, scaled_total
        The account's scaled balance and the side's scaled total after the action.
    debt
        Whether the balance is a debt (for the message).
    revert
        The protocol's error for the account's balance where it is not the mint's cast:
        an aToken transfer (a liquidator receiving ``receive_supply``) adds to
        ``UserState.balance`` unchecked by SafeCast, a checked ``uint128``/``uint120``
        add (``IncentivizedERC20._transfer``: panic 0x11); ``None``: the family's.
    """
    if widths is None:
        return None
    side = "debt" if debt else "supply"
    if widths.base_only and not base:
        if widths.collateral_bits is None:
            return None
        for name, value in ((f"scaled {side} balance", scaled_balance),
                            (f"total scaled {side}", scaled_total)):
            if value >= 1 << widths.collateral_bits:
                return _width_refusal(asset, name, widths.collateral_bits, value,
                                      "InvalidUInt128")
        return None
    if scaled_balance >= 1 << widths.balance_bits:
        return _width_refusal(asset, f"scaled {side} balance", widths.balance_bits,
                              scaled_balance, revert or widths.balance_revert,
                              signed=widths.base_only)
    if widths.total_bits is not None and scaled_total >= 1 << widths.total_bits:
        return _width_refusal(asset, f"total scaled {side}", widths.total_bits, scaled_total,
                              widths.total_revert)
    return None


def validate_supply(asset: str, market: MarketConfig, total_supplied: int, amount: int,
                    rules: LendingRules) -> Refusal | None:
    """``validateSupply``: the supply cap (``total_supplied`` includes the treasury); 0 is
    no cap. Compound III (``rules.comet_supply_caps``): ``supplyCollateral``'s
    ``totalSupplyAsset + amount > supplyCap`` at the cap in whole tokens, where 0 refuses
    every supply (:attr:`~marginengine.config.MarketConfig.comet_supply_cap_units`)."""
    if rules.comet_supply_caps:
        cap = market.comet_supply_cap_units
        over = total_supplied + amount > cap
    else:
        cap = market.supply_cap_units
        over = bool(cap) and total_supplied + amount > cap
    if over:
        return Refusal(
            rules.codes.supply_cap,
            f"supply cap of {_units(cap, asset, market)} would be exceeded "
            f"(total would be {_units(total_supplied + amount, asset, market)})",
            {"cap": cap, "total": total_supplied + amount},
        )
    return None


def withdraw_amount(rules: LendingRules, asset: str, base_asset: str | None, amount: int,
                    balance: int) -> int:
    """The amount a ``Withdraw`` of ``amount`` asks for: ``type(uint256).max`` (``2**256 -
    1``) is the whole supplied ``balance`` where the protocol reads it so, else ``amount``.

    Aave v3 ``SupplyLogic.executeWithdraw``: ``if (params.amount == type(uint256).max)
    amountToWithdraw = userBalance`` (aave-dao/aave-v3-origin@4fbd7442). Comet's
    ``withdrawBase`` reads it as the whole base balance (``balanceOf``); its collateral
    withdrawal does not (``safe128`` reverts), so a collateral ``Withdraw`` of it stays
    beyond the balance there.
    """
    if amount == MAX_UNITS and (not rules.signed_base_balance or asset == base_asset):
        return balance
    return amount


def validate_withdraw_amount(account: str, asset: str, market: MarketConfig, balance: int,
                             amount: int) -> Refusal | None:
    """``validateWithdraw``: something supplied, and no more than the balance."""
    if balance == 0:
        return Refusal(Code.UNDERLYING_BALANCE_ZERO, f"{account} has no {asset} supplied",
                       {"account": account, "asset": asset})
    if amount > balance:
        return Refusal(
            Code.NOT_ENOUGH_AVAILABLE_USER_BALANCE,
            f"amount {_units(amount, asset, market)} is beyond the supplied balance "
            f"{_units(balance, asset, market)}",
            {"amount": amount, "balance": balance},
        )
    return None


def validate_health_after_withdraw(rules: LendingRules, after: AccountData,
                                   initial_after: AccountData) -> Refusal | None:
    """``validateHFAndLtv`` (Aave: HF stays at or above 1) or Comet's
    ``isBorrowCollateralized`` after withdrawing collateral."""
    if not after.total_debt:
        return None
    if rules.withdraw_check is WithdrawCheck.HEALTH_FACTOR:
        if after.health_factor < WAD:
            return Refusal(
                rules.codes.withdraw_unhealthy,
                f"health factor would fall to {fmt_health(after.health_factor)}, below 1",
                {"health_factor": after.health_factor},
            )
        return None
    if initial_shortfall(rules, initial_after):
        return Refusal(
            rules.codes.withdraw_unhealthy,
            f"borrowing power would fall to {fmt_usd(after.initial_value)}, below the "
            f"debt of {fmt_usd(after.total_debt)}",
            {"borrowing_power": after.initial_value, "debt": after.total_debt},
        )
    return None


def validate_ltv_zero_withdraw(rules: LendingRules, account: str, asset: str,
                               asset_ltv_bps: int,
                               zero_ltv_collateral: list[str]) -> Refusal | None:
    """Aave's ``validateHFAndLtvzero`` (v3.5+; ``validateHFAndLtv`` in v3.3): while an
    indebted account keeps collateral with a loan-to-value of 0, it may withdraw only such
    collateral (``LTV_VALIDATION_FAILED``), so a multi-collateral position sheds its
    zero-LTV asset first (aave-dao/aave-v3-origin@4fbd7442 ``ValidationLogic.sol``).
    ``zero_ltv_collateral`` lists the account's zero-LTV collateral after the withdrawal."""
    if rules.initial_check not in (InitialCheck.AAVE_LTV, InitialCheck.AAVE_LTV_CEIL):
        return None
    if not zero_ltv_collateral or asset_ltv_bps == 0:
        return None
    return Refusal(
        Code.LTV_VALIDATION_FAILED,
        f"{account} holds collateral with a loan-to-value of 0 "
        f"({', '.join(zero_ltv_collateral)}): withdraw it before {asset}",
        {"account": account, "asset": asset, "zero_ltv_collateral": zero_ltv_collateral},
    )


def validate_enable_as_collateral(account: str, asset: str, scaled_supply: int,
                                  asset_ltv_bps: int, rules: LendingRules | None = None,
                                  collateral_on: Sequence[str] = (),
                                  markets: Mapping[str, MarketConfig] | None = None
                                  ) -> Refusal | None:
    """Aave's ``executeUseReserveAsCollateral`` switching ``asset`` on: the account must
    hold some of it (``UNDERLYING_BALANCE_ZERO``) and ``validateUseAsCollateral`` must pass:
    in v3.7 a loan-to-value above 0 in the account's e-mode category
    (``getUserReserveLtv``; ``USER_HAS_ASSET_WITH_ZERO_LTV``) (aave-dao/aave-v3-origin@4fbd7442
    ``SupplyLogic.sol``, ``ValidationLogic.sol``); in v3.3/v3.5 (``rules.isolation_mode``,
    with ``collateral_on``, the other assets switched on, and the ``markets``) the
    reserve's LTV above 0 and no isolation conflict (:func:`use_as_collateral_allowed`;
    ``USER_IN_ISOLATION_MODE_OR_LTV_ZERO``)."""
    if scaled_supply == 0:
        return Refusal(Code.UNDERLYING_BALANCE_ZERO,
                       f"{account} holds no {asset} to use as collateral",
                       {"account": account, "asset": asset})
    if rules is not None and rules.isolation_mode and markets is not None:
        if use_as_collateral_allowed(rules, asset, asset_ltv_bps, collateral_on, markets):
            return None
        isolated = isolated_collateral(collateral_on, markets)
        why = ("has a loan-to-value of 0" if asset_ltv_bps == 0 else
               f"is isolated: it is collateral only alone ({account} uses "
               f"{', '.join(collateral_on)})" if markets[asset].isolated else
               f"cannot join {isolated}: {account} is in isolation mode")
        return Refusal(Code.USER_IN_ISOLATION_MODE_OR_LTV_ZERO,
                       f"{asset} {why}: it cannot be switched on as collateral",
                       {"account": account, "asset": asset,
                        "collateral": list(collateral_on)})
    if asset_ltv_bps == 0:
        return Refusal(Code.USER_HAS_ASSET_WITH_ZERO_LTV,
                       f"{asset} has a loan-to-value of 0 for {account}: it cannot be "
                       "switched on as collateral",
                       {"account": account, "asset": asset})
    return None


def validate_disable_as_collateral(account: str, asset: str, after: AccountData | None,
                                   asset_ltv_bps: int,
                                   zero_ltv_collateral: list[str]) -> Refusal | None:
    """Aave's ``executeUseReserveAsCollateral`` switching ``asset`` off:
    ``validateHFAndLtvzero`` after the switch. An indebted account's health factor
    (``after``: its account data after the switch; ``None`` without debt) must stay at
    least 1 (``HEALTH_FACTOR_LOWER_THAN_LIQUIDATION_THRESHOLD``); and, debt or not, while
    the account keeps zero-LTV collateral (``zero_ltv_collateral``, after the switch) only
    a zero-LTV asset may be switched off (``LTV_VALIDATION_FAILED``)
    (aave-dao/aave-v3-origin@4fbd7442 ``SupplyLogic.sol``, ``ValidationLogic.sol``)."""
    if after is not None and after.total_debt and after.health_factor < WAD:
        return Refusal(
            Code.HEALTH_FACTOR_LOWER_THAN_LIQUIDATION_THRESHOLD,
            f"health factor would fall to {fmt_health(after.health_factor)} without "
            f"{asset} as collateral, below 1",
            {"account": account, "asset": asset, "health_factor": after.health_factor})
    if zero_ltv_collateral and asset_ltv_bps != 0:
        return Refusal(
            Code.LTV_VALIDATION_FAILED,
            f"{account} holds collateral with a loan-to-value of 0 "
            f"({', '.join(zero_ltv_collateral)}): switch it off before {asset}",
            {"account": account, "asset": asset, "zero_ltv_collateral": zero_ltv_collateral})
    return None


# ---------------------------------------------------------------------- isolation mode
# Aave v3.3/v3.5 (aave-dao/aave-v3-origin@v3.3.0 5431379f, @v3.5.0 6138e1fd):
# UserConfiguration.getIsolationModeState, IsolationModeLogic, ValidationLogic
# (validateBorrow, validateUseAsCollateral, validateAutomaticUseAsCollateral); removed in
# v3.7 (docs/3.7/mode-removal.md).
def isolated_collateral(collateral_on: Sequence[str],
                        markets: Mapping[str, MarketConfig]) -> str | None:
    """``getIsolationModeState``: the account is in isolation mode when exactly one of its
    reserves is switched on as collateral (``isUsingAsCollateralOne``, the flag whatever
    the balance's value) and that asset has a debt ceiling; returns that asset, else
    ``None``. ``collateral_on``: the assets whose collateral switch is on."""
    if len(collateral_on) != 1:
        return None
    asset = collateral_on[0]
    return asset if markets[asset].isolated else None


def isolated_debt_units(amount: int, decimals: int) -> int:
    """``convertToIsolatedDebtUnits``: an amount of the borrowed (or repaid) asset in the
    debt ceiling's units, ``amount / 10**(decimals - DEBT_CEILING_DECIMALS)``, floored
    (Solidity's integer division): a borrow of 1,000.009999 USDC (6 decimals) counts
    100,000 cents, as 1,000.00 USD; a whole token counts 100 cents, whatever its price."""
    return amount // int(10 ** (decimals - DEBT_CEILING_DECIMALS))


def validate_isolated_borrow(account: str, asset: str, market: MarketConfig,
                             isolated_asset: str, isolated_market: MarketConfig,
                             total_debt_units: int, amount: int) -> Refusal | None:
    """Borrowing ``amount`` of ``asset`` in isolation mode against ``isolated_asset``
    (whose ``isolationModeTotalDebt`` is ``total_debt_units``, in cents): the asset must
    be borrowable in isolation (``ASSET_NOT_BORROWABLE_IN_ISOLATION``) and the total with
    this borrow at most the ceiling (``DEBT_CEILING_EXCEEDED``): v3.3's
    ``validateBorrow``, v3.5's ``increaseIsolatedDebtIfIsolated``."""
    if not market.borrowable_in_isolation:
        return Refusal(Code.ASSET_NOT_BORROWABLE_IN_ISOLATION,
                       f"{account} is in isolation mode (its only collateral is "
                       f"{isolated_asset}) and {asset} is not borrowable in isolation",
                       {"account": account, "asset": asset, "isolated": isolated_asset})
    after = total_debt_units + isolated_debt_units(amount, market.decimals)
    ceiling = isolated_market.debt_ceiling_units
    if after > ceiling:
        return Refusal(
            Code.DEBT_CEILING_EXCEEDED,
            f"debt against isolated {isolated_asset} would reach "
            f"{format_units(after, DEBT_CEILING_DECIMALS, 2)} USD, above its debt ceiling "
            f"of {format_units(ceiling, DEBT_CEILING_DECIMALS, 2)} USD",
            {"isolated": isolated_asset, "total": after, "ceiling": ceiling})
    return None


def isolated_debt_after_repay(total_debt_units: int, amount: int, decimals: int) -> int:
    """``updateIsolatedDebt`` (repay, ``reduceIsolatedDebtIfIsolated``; liquidation of an
    isolated collateral): the total less the repaid amount in cents, saturating at 0:
    the ceiling does not count accrued interest, so a repayment can exceed what the
    total recorded (``isolationModeTotalDebt > repaid ? total - repaid : 0``)."""
    return max(total_debt_units - isolated_debt_units(amount, decimals), 0)


def validate_siloed_borrow(account: str, asset: str, borrowed: Sequence[str],
                           markets: Mapping[str, MarketConfig]) -> Refusal | None:
    """``validateBorrow``'s siloed-borrowing check, for an account already borrowing
    (``borrowed``: the assets it owes): owing one siloed asset it may borrow only that one
    (``getSiloedBorrowingState``); otherwise it may not add a siloed asset
    (``SILOED_BORROWING_VIOLATION``)."""
    if not borrowed:
        return None
    if len(borrowed) == 1 and markets[borrowed[0]].siloed_borrowing:
        if borrowed[0] == asset:
            return None
        return Refusal(Code.SILOED_BORROWING_VIOLATION,
                       f"{account} owes {borrowed[0]}, a siloed asset: it may borrow "
                       f"nothing else ({asset})",
                       {"account": account, "asset": asset, "siloed": borrowed[0]})
    if markets[asset].siloed_borrowing:
        return Refusal(Code.SILOED_BORROWING_VIOLATION,
                       f"{asset} is siloed: it may be borrowed only by an account owing "
                       f"nothing else ({account} owes {', '.join(borrowed)})",
                       {"account": account, "asset": asset, "borrowed": list(borrowed)})
    return None


def use_as_collateral_allowed(rules: LendingRules, asset: str, asset_ltv_bps: int,
                              collateral_on: Sequence[str],
                              markets: Mapping[str, MarketConfig]) -> bool:
    """``validateUseAsCollateral``: whether ``asset`` may be switched on.

    v3.7 (``rules.isolation_mode`` false; aave-dao/aave-v3-origin@4fbd7442): its LTV in
    the account's e-mode category is not 0 (``asset_ltv_bps``, ``getUserReserveLtv``).
    v3.3/v3.5: the reserve's own LTV is not 0 (``asset_ltv_bps`` is then the market's,
    ``reserveConfig.getLtv()``), and either no reserve is switched on yet
    (``collateral_on``, the other assets switched on) or the account is not in isolation
    mode and ``asset`` has no debt ceiling: an isolated asset is collateral alone."""
    if asset_ltv_bps == 0:
        return False
    if not rules.isolation_mode or not collateral_on:
        return True
    return (isolated_collateral(collateral_on, markets) is None
            and not markets[asset].isolated)


def automatic_use_as_collateral(rules: LendingRules, asset: str, asset_ltv_bps: int,
                                collateral_on: Sequence[str],
                                markets: Mapping[str, MarketConfig],
                                sender_is_isolated_supplier: bool = False) -> bool:
    """Whether a first supply of ``asset`` (a balance credited from 0) is switched on as
    collateral: v3.3/v3.5's ``validateAutomaticUseAsCollateral``, an isolated asset only
    when the sender holds ``ISOLATED_COLLATERAL_SUPPLIER_ROLE``
    (``sender_is_isolated_supplier``), then :func:`use_as_collateral_allowed`; v3.7's
    ``executeSupply`` asks :func:`use_as_collateral_allowed` alone. So an LTV-0 asset is
    never switched on by a supply, in any version."""
    if rules.isolation_mode and markets[asset].isolated and not sender_is_isolated_supplier:
        return False
    return use_as_collateral_allowed(rules, asset, asset_ltv_bps, collateral_on, markets)


# ---------------------------------------------------------------------- grace period
#: Aave's ``PoolConfigurator.MAX_GRACE_PERIOD`` (4 hours; v3.1+).
MAX_GRACE_PERIOD = 4 * 3600


def validate_liquidation_grace(now: int, collateral_asset: str, collateral_until: int,
                               debt_asset: str, debt_until: int) -> Refusal | None:
    """``validateLiquidationCall``'s grace-period check (v3.1+): a liquidation is allowed
    only once both reserves' ``liquidationGracePeriodUntil`` are strictly before now
    (``until < block.timestamp``), else ``LIQUIDATION_GRACE_SENTINEL_CHECK_FAILED``."""
    for asset, until in ((collateral_asset, collateral_until), (debt_asset, debt_until)):
        if until >= now and until:
            return Refusal(
                Code.LIQUIDATION_GRACE_SENTINEL_CHECK_FAILED,
                f"liquidations involving {asset} are paused until {until} s (its "
                f"liquidation grace period; now {now} s)",
                {"asset": asset, "until": until, "time": now})
    return None


def validate_grace_period(grace_period: int) -> Refusal | None:
    """``setReservePause(asset, false, gracePeriod)``: at most ``MAX_GRACE_PERIOD``
    (``INVALID_GRACE_PERIOD``)."""
    if not 0 <= grace_period <= MAX_GRACE_PERIOD:
        return Refusal(Code.INVALID_GRACE_PERIOD,
                       f"grace_period: must be within 0 and {MAX_GRACE_PERIOD} s (Aave's "
                       f"MAX_GRACE_PERIOD, 4 hours), got {grace_period}",
                       {"field": "grace_period", "grace_period": grace_period})
    return None


def validate_initial_margin(account: str, state: MarginState,
                            who: str = "") -> Refusal | None:
    """An account's initial margin after an action: its value at least its requirement
    (``state``: the bucket's initial :class:`MarginState`), else ``UNDERCOLLATERALIZED``
    naming the account (``who``: its role in the message, as ``liquidator``)."""
    if state.value >= state.requirement:
        return None
    name = f"{who} {account}" if who else account
    return Refusal(
        Code.UNDERCOLLATERALIZED,
        f"initial margin: {name} would need {fmt_usd(state.requirement)} and would have "
        f"{fmt_usd(state.value)}",
        {"account": account, "requirement": state.requirement, "value": state.value},
    )


def dydx_undercollateralized_transition(account: str, before: MarginRisk,
                                        after: MarginRisk) -> Refusal | None:
    """Whether an update that leaves an account below initial margin is still allowed, as
    dYdX v4 decides it, or the refusal.

    protocol/x/subaccounts/lib/updates.go ``IsValidStateTransitionForUndercollateralizedSubaccount``
    (dydxprotocol/v4-chain@84d4664b), called by x/subaccounts/keeper/subaccount.go
    ``internalCanUpdateSubaccountsWithLeverage`` for every subaccount of an update whose net
    collateral is below its initial margin afterwards. Allowed (``None``) when the
    maintenance requirement does not rise and the account is no riskier:
    ``after.nc x before.mmr >= before.nc x after.mmr`` (protocol/lib/margin/risk.go
    ``Risk.Cmp``, without division; on a tie the higher maintenance requirement is the
    riskier, and with both requirements 0 the lower net collateral). When either
    requirement is 0, only a transition between two zero requirements that raises the net
    collateral is allowed. Otherwise ``UNDERCOLLATERALIZED`` (dYdX's
    ``NewlyUndercollateralized`` when the account met initial margin before, else
    ``StillUndercollateralized``).

    Parameters
    ----------
    account
        The account's id, for the message.
    before, after
        The account's net collateral and requirements before and after the update (one
        unit; ``after.imr`` is not read).
    """
    if after.mmr <= before.mmr:
        if after.mmr == 0 or before.mmr == 0:
            if after.mmr == 0 and before.mmr == 0 and after.nc > before.nc:
                return None
        elif _dydx_risk_cmp(after, before) <= 0:
            return None
    status = ("NewlyUndercollateralized" if before.imr <= before.nc
              else "StillUndercollateralized")
    return Refusal(
        Code.UNDERCOLLATERALIZED,
        f"initial margin: {account} would be below its initial margin "
        f"({fmt_usd(after.nc)} against {fmt_usd(after.imr)}) and the trade would not leave "
        f"it less risky (maintenance {fmt_usd(before.mmr)} -> {fmt_usd(after.mmr)}, net "
        f"collateral {fmt_usd(before.nc)} -> {fmt_usd(after.nc)}): dYdX {status}",
        {"account": account, "status": status, "value": after.nc,
         "requirement": after.imr, "maintenance_before": before.mmr,
         "maintenance_after": after.mmr, "value_before": before.nc},
    )


def _dydx_risk_cmp(a: MarginRisk, b: MarginRisk) -> int:
    """dYdX ``Risk.Cmp``: 1 if ``a`` is riskier than ``b``, -1 if less, 0 if equal."""
    a_nc_b_mmr, b_nc_a_mmr = a.nc * b.mmr, b.nc * a.mmr
    result = (b_nc_a_mmr > a_nc_b_mmr) - (b_nc_a_mmr < a_nc_b_mmr)
    if result == 0:
        if a.mmr == 0 and b.mmr == 0:
            return (b.nc > a.nc) - (b.nc < a.nc)
        return (a.mmr > b.mmr) - (a.mmr < b.mmr)
    return result


def validate_borrow_asset(account: str, asset: str, market: MarketConfig, supplied: int,
                          total_debt: int, amount: int, rules: LendingRules,
                          borrowing_enabled: bool = True) -> Refusal | None:
    """``validateBorrow``, the parts that need no prices: borrowing enabled (unless
    ``borrowing_enabled`` is false: Aave v3.6+ in e-mode asks the category instead, see
    :func:`marginengine.margin.emode.borrowing_enabled_applies`), Comet's signed base
    balance, the borrow cap."""
    if borrowing_enabled and not market.borrowable:
        return Refusal(Code.BORROWING_NOT_ENABLED, f"{asset} is not borrowable",
                       {"asset": asset})
    if rules.signed_base_balance and supplied:
        return Refusal(
            Code.INVALID_ARGUMENT,
            f"{account} supplies {asset}; in {rules.family} the base balance is signed, "
            "so withdraw the supply before borrowing",
            {"supplied": supplied},
        )
    cap = market.borrow_cap_units
    if cap and total_debt + amount > cap:
        return Refusal(
            Code.BORROW_CAP_EXCEEDED,
            f"borrow cap of {_units(cap, asset, market)} would be exceeded "
            f"(total debt would be {_units(total_debt + amount, asset, market)})",
            {"cap": cap, "total": total_debt + amount},
        )
    return None


def _zero_ltv(account: str, data: AccountData) -> Refusal:
    what = ("has no collateral" if data.total_collateral == 0 else
            "has only collateral with a loan-to-value of 0")
    return Refusal(Code.LTV_VALIDATION_FAILED, f"{account} {what}: it backs no borrow",
                   {"account": account, "ltv": 0, "collateral": data.total_collateral})


def _health_text(health: int) -> str:
    # Four decimals, or eight when four would round a refused value to "1".
    text = fmt_health(health)
    return f"{health / WAD:.8f}" if text == "1" and health != WAD else text


def _health_below_one(health: int, before: bool) -> Refusal:
    message = (f"health factor {_health_text(health)} is "
               f"{'not above' if health == WAD else 'below'} 1; no new borrows" if before
               else f"health factor would fall to {_health_text(health)}, below 1; "
                    "no new borrows")
    return Refusal(Code.HEALTH_FACTOR_LOWER_THAN_LIQUIDATION_THRESHOLD, message,
                   {"health_factor": health})


def validate_borrow_health(account: str, before: AccountData,
                           rules: LendingRules | None = None) -> Refusal | None:
    """``validateBorrow`` before the borrow.

    Aave v3.3 (``rules.borrow_hf_strict``; aave-dao/aave-v3-origin@v3.3.0
    ``ValidationLogic.validateBorrow``): collateral exists (``COLLATERAL_BALANCE_IS_ZERO``),
    its average LTV is not 0 (``LTV_VALIDATION_FAILED``) and the health factor is *above*
    1. Aave v3.5+ checks nothing here: ``BorrowLogic.executeBorrow`` runs
    ``validateHFAndLtv`` after minting (:func:`validate_borrow_power`). Other families
    (and ``rules`` not given): collateral exists and the health factor is at least 1.
    """
    aave = rules is not None and rules.initial_check in (InitialCheck.AAVE_LTV,
                                                         InitialCheck.AAVE_LTV_CEIL)
    if aave and rules is not None and not rules.borrow_hf_strict:
        return None
    if before.total_collateral == 0:
        return Refusal(Code.COLLATERAL_BALANCE_IS_ZERO, f"{account} has no collateral",
                       {"account": account})
    if aave and before.avg_ltv_bps == 0:
        return _zero_ltv(account, before)
    if before.total_debt and (before.health_factor <= WAD if aave
                              else before.health_factor < WAD):
        return _health_below_one(before.health_factor, before=True)
    return None


def validate_borrow_power(rules: LendingRules, after: AccountData,
                          initial_after: AccountData, account: str = "") -> Refusal | None:
    """``validateBorrow``'s collateral check after the borrow (at initial-margin prices).

    Aave v3.5+ ``validateHFAndLtv`` (aave-dao/aave-v3-origin@4fbd7442): the average LTV
    is not 0 (``LTV_VALIDATION_FAILED``), the health factor is at least 1, then
    ``collateral >= percentDivCeil(debt, avgLtv)`` (``COLLATERAL_CANNOT_COVER_NEW_BORROW``).
    """
    if rules.initial_check is InitialCheck.AAVE_LTV_CEIL and after.total_debt:
        if initial_after.avg_ltv_bps == 0:
            return _zero_ltv(account, initial_after)
        if after.health_factor < WAD:
            return _health_below_one(after.health_factor, before=False)
    if initial_shortfall(rules, initial_after):
        return Refusal(
            rules.codes.borrow_uncovered,
            f"debt would rise to {fmt_usd(initial_after.total_debt)}, above the borrowing "
            f"power of {fmt_usd(initial_after.initial_value)}; health factor would be "
            f"{fmt_health(after.health_factor)}",
            {"debt": initial_after.total_debt, "borrowing_power": initial_after.initial_value,
             "health_factor": after.health_factor},
        )
    return None


def validate_min_borrow(asset: str, market: MarketConfig, debt: int,
                        minimum: int) -> Refusal | None:
    """Comet's ``baseBorrowMin``: a borrow may not leave a debt below it."""
    if debt < minimum:
        return Refusal(
            Code.BORROW_TOO_SMALL,
            f"debt of {_units(debt, asset, market)} would be below base_borrow_min "
            f"{_units(minimum, asset, market)}",
            {"debt": debt, "minimum": minimum},
        )
    return None


def validate_repay(account: str, asset: str, debt: int) -> Refusal | None:
    """``validateRepay``: the account owes this asset."""
    if debt == 0:
        return Refusal(Code.NO_DEBT_OF_SELECTED_TYPE, f"{account} owes no {asset}",
                       {"account": account, "asset": asset})
    return None


def validate_liquidation_call(liquidator: str, account: str, uses_collateral: bool,
                              collateral_asset: str) -> Refusal | None:
    """``validateLiquidationCall``, the parts before the plan: not oneself, and the
    collateral is enabled as collateral (the HF and balance checks are the plan's, in
    :func:`~marginengine.liquidation.plan_liquidation`)."""
    if liquidator == account:
        return Refusal(Code.SELF_LIQUIDATION, "an account cannot liquidate itself")
    if not uses_collateral:
        return Refusal(Code.COLLATERAL_CANNOT_BE_LIQUIDATED,
                       f"{account} does not use {collateral_asset} as collateral",
                       {"asset": collateral_asset})
    return None


#: Aave's ``MINIMUM_HEALTH_FACTOR_LIQUIDATION_THRESHOLD``: below it the sentinel never
#: blocks a liquidation (ValidationLogic.sol, v3.3 and v3.5).
MINIMUM_HEALTH_FACTOR_LIQUIDATION_THRESHOLD = 95 * WAD // 100


def sentinel_allows(up: bool, since: int, now: int, grace_period: int) -> bool:
    """Aave's ``PriceOracleSentinel._isUpAndGracePeriodPassed``: the sequencer is up and
    came up more than ``grace_period`` seconds ago (``block.timestamp - startedAt >
    gracePeriod``)."""
    return up and now - since > grace_period


def validate_sentinel_borrow(status: tuple[bool, int] | None, now: int,
                             grace_period: int | None) -> Refusal | None:
    """``validateBorrow``'s ``isBorrowAllowed()``: refused while the sequencer is down or
    within the grace period. ``status`` is ``(up, since)``; ``None`` (never reported) counts
    as up since long ago; ``grace_period`` ``None`` means no sentinel."""
    if grace_period is None or status is None:
        return None
    up, since = status
    if sentinel_allows(up, since, now, grace_period):
        return None
    why = ("the sequencer is down" if not up else
           f"the sequencer came up {now - since} s ago, within the grace period of "
           f"{grace_period} s")
    return Refusal(Code.PRICE_ORACLE_SENTINEL_CHECK_FAILED, f"borrowing paused: {why}",
                   {"up": up, "since": since, "grace_period": grace_period})


def validate_sentinel_liquidation(status: tuple[bool, int] | None, now: int,
                                  grace_period: int | None,
                                  health_factor: int) -> Refusal | None:
    """``validateLiquidationCall``'s sentinel check: while the sequencer is down or within
    the grace period, only accounts below HF 0.95 may be liquidated."""
    if health_factor < MINIMUM_HEALTH_FACTOR_LIQUIDATION_THRESHOLD:
        return None
    refusal = validate_sentinel_borrow(status, now, grace_period)
    if refusal is None:
        return None
    return Refusal(
        Code.PRICE_ORACLE_SENTINEL_CHECK_FAILED,
        refusal.message.replace("borrowing paused", "liquidation paused above HF 0.95"),
        {**refusal.data, "health_factor": health_factor})


def validate_absorb(account: str, liquidatable: bool, data: AccountData,
                    rules: LendingRules) -> Refusal | None:
    """Comet ``absorb``: only an account that is liquidatable (``NotLiquidatable``)."""
    if not liquidatable:
        return Refusal(
            rules.codes.not_liquidatable,
            f"{account} is not liquidatable: collateral at liquidate factors "
            f"{fmt_usd(data.maintenance_value)} covers the debt {fmt_usd(data.total_debt)}",
            {"liquidation_value": data.maintenance_value, "debt": data.total_debt},
        )
    return None


__all__ = [
    "MAX_GRACE_PERIOD",
    "MINIMUM_HEALTH_FACTOR_LIQUIDATION_THRESHOLD",
    "automatic_use_as_collateral",
    "fmt_health",
    "fmt_usd",
    "initial_shortfall",
    "isolated_collateral",
    "isolated_debt_after_repay",
    "isolated_debt_units",
    "sentinel_allows",
    "use_as_collateral_allowed",
    "validate_absorb",
    "validate_balance_widths",
    "validate_borrow_asset",
    "validate_borrow_health",
    "validate_borrow_power",
    "validate_clock",
    "validate_grace_period",
    "validate_health_after_withdraw",
    "validate_index_widths",
    "validate_initial_margin",
    "validate_isolated_borrow",
    "validate_liquidation_call",
    "validate_liquidation_grace",
    "validate_ltv_zero_withdraw",
    "validate_min_borrow",
    "validate_repay",
    "validate_sentinel_borrow",
    "validate_sentinel_liquidation",
    "validate_siloed_borrow",
    "validate_supply",
    "validate_withdraw_amount",
    "withdraw_amount",
]
