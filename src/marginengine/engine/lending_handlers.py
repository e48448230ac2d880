"""The lending handlers: supply, withdraw, borrow, repay, Aave's e-mode switch, and the
liquidations of the lending families (Aave's close-factor ``Liquidate``, Comet's ``Absorb`` and
``BuyCollateral``).

Each handler takes the :class:`~marginengine.engine.context.HandlerContext` and its event;
it checks the arguments, asks the pure rules of :mod:`marginengine.margin.validation` and
:mod:`marginengine.liquidation` for a decision, and changes the ledger through its
primitives. What differs between families is read from ``ctx.rules``; nothing compares a
preset name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from marginengine.config import MarketConfig, ProtocolConfig
from marginengine.config.amounts import MAX_UNITS
from marginengine.config.families import InitialCheck
from marginengine.decisions import Code, Refusal
from marginengine.engine.auction_handlers import require_vat_frob
from marginengine.engine.context import HandlerContext
from marginengine.engine.events import (
    Absorb,
    Borrow,
    BuyCollateral,
    Deposit,
    ImportAccount,
    Liquidate,
    Repay,
    RepayWithATokens,
    SetUseAsCollateral,
    SetUserEMode,
    Withdraw,
)
from marginengine.engine.keeper import liquidation_pause
from marginengine.fixedpoint import RAY, WAD
from marginengine.ledger import Ledger, LedgerError
from marginengine.ledger.book_file import BookAccount
from marginengine.ledger.imports import book_as_they_stand
from marginengine.liquidation import (
    CloseFactorPlan,
    LiquidationRefused,
    absorb_collateral,
    plan_absorb,
    plan_liquidation,
    quote_collateral,
    require_liquidatable,
    store_front_price,
)
from marginengine.margin import AccountData, InitialScope
from marginengine.margin import emode as emode_rules
from marginengine.margin import validation as rules_of
from marginengine.margin.account_import import validate_import
from marginengine.margin.reserve_flags import ReserveAction, validate_reserve_flags


def collateral_on(ledger: Ledger, markets: Mapping[str, MarketConfig], account_id: str,
                  but: str | None = None) -> list[str]:
    """The assets whose collateral switch is on for the account (Aave's collateral bits of
    ``UserConfiguration``), sorted, ``but`` left out."""
    account = ledger.accounts.get(account_id)
    # Aave sets the bit only on a balance and clears it when the balance goes to 0; here a
    # position holding only debt, or a market that is not collateral (collateral = false,
    # never switched on in Aave: its LTV is 0; see _on_first_supply), may read on.
    return sorted(a for a, pos in (account.lending.items() if account else ())
                  if pos.use_as_collateral and pos.scaled_supply and markets[a].collateral
                  and a != but)


def _collateral_on(ctx: HandlerContext, account_id: str, but: str | None = None) -> list[str]:
    return collateral_on(ctx.ledger, ctx.config.markets, account_id, but)


def _switch_ltv(ctx: HandlerContext, account_id: str, asset: str) -> int:
    """The LTV ``validateUseAsCollateral`` reads: the reserve's own in v3.3/v3.5
    (``reserveConfig.getLtv()``), the account's e-mode one in v3.7 (``getUserReserveLtv``)."""
    if ctx.rules.isolation_mode:
        return ctx.config.markets[asset].ltv_bps
    return ctx.model.asset_ltv_bps(account_id, ctx.ledger, asset)


def _on_first_supply(ctx: HandlerContext, account_id: str, asset: str, sender: str) -> bool:
    """Whether a balance of ``asset`` credited to ``account_id`` from 0 is switched on as
    collateral (:func:`~marginengine.margin.validation.automatic_use_as_collateral`; Aave's
    pool; the other families switch every first supply on, their models read no switch).
    ``sender``: who supplies, for v3.3/v3.5's ``ISOLATED_COLLATERAL_SUPPLIER_ROLE``."""
    if not ctx.rules.accepts("SetUseAsCollateral") or not ctx.config.markets[asset].collateral:
        # A market that is not collateral keeps the switch a first supply always gave it:
        # it counts nowhere (the margin model, isolation mode and the validations read
        # the switch of collateral markets only), and the state of a run supplying it
        # hashes as before Aave's rule was modelled.
        return True
    return rules_of.automatic_use_as_collateral(
        ctx.rules, asset, _switch_ltv(ctx, account_id, asset),
        _collateral_on(ctx, account_id, but=asset), ctx.config.markets,
        sender in ctx.config.aave.isolated_collateral_suppliers)


def isolated_collateral_of(ledger: Ledger, config: ProtocolConfig,
                           account_id: str) -> str | None:
    """The account's isolated collateral (v3.3/v3.5 isolation mode: its only collateral
    switched on has a debt ceiling), else ``None``."""
    if not config.rules.isolation_mode:
        return None
    return rules_of.isolated_collateral(collateral_on(ledger, config.markets, account_id),
                                        config.markets)


def _isolated(ctx: HandlerContext, account_id: str) -> str | None:
    return isolated_collateral_of(ctx.ledger, ctx.config, account_id)


def _reduce_isolated_debt(ctx: HandlerContext, isolated: str, debt_asset: str,
                          amount: int) -> None:
    """``updateIsolatedDebt``: the isolated collateral's total less ``amount`` of
    ``debt_asset`` in cents, saturating at 0."""
    reserve = ctx.ledger.reserves[isolated]
    ctx.ledger.set_isolation_mode_total_debt(isolated, rules_of.isolated_debt_after_repay(
        reserve.isolation_mode_total_debt, amount, ctx.config.markets[debt_asset].decimals))


def _require_flags(ctx: HandlerContext, action: ReserveAction, asset: str) -> None:
    """Refuse ``action`` on a reserve its flags forbid (Aave's ``getFlags`` checks:
    :func:`~marginengine.margin.reserve_flags.validate_reserve_flags`); every reserve
    of a family without them is active, unpaused and unfrozen."""
    r = ctx.ledger.reserves[asset]
    refusal = validate_reserve_flags(action, asset, r.active, r.paused, r.frozen,
                                     ctx.rules.custom_errors)
    if refusal:
        ctx.refuse_with(refusal)


def deposit(ctx: HandlerContext, e: Deposit) -> dict[str, Any]:
    ctx.account_id(e.account)
    asset = ctx.market(e.asset)
    amount = ctx.positive(e.amount)
    # validateSupply: the flags after the amount, before the cap.
    _require_flags(ctx, ReserveAction.SUPPLY, asset)
    market = ctx.config.markets[asset]
    r = ctx.ledger.reserves[asset]
    # Comet's supplyBase has no cap (only supplyCollateral checks one).
    if not (ctx.rules.comet_supply_caps and asset == ctx.config.base_asset):
        refusal = rules_of.validate_supply(asset, market, r.total_supply() + r.treasury,
                                           amount, ctx.rules)
        if refusal:
            ctx.refuse_with(refusal)
    # A Maker vault's lock: a frob, refused only on a dusty vault (Vat/dust).
    require_vat_frob(ctx, e.account, asset, dink=amount)
    details: dict[str, Any] = {}
    debt = ctx.ledger.debt_of(e.account, asset)
    if ctx.rules.signed_base_balance and debt:
        # Comet's balance is signed: supplying base first repays the borrow.
        repaid = min(debt, amount)
        ctx.ledger.repay(e.account, asset, repaid)
        details["repaid"] = repaid
        amount -= repaid
    if amount:
        first = (ctx.ledger.scaled_supply_of(e.account, asset) == 0
                 and _on_first_supply(ctx, e.account, asset, e.account))
        try:
            details["scaled"] = ctx.ledger.deposit(e.account, asset, amount,
                                                   collateral_on_first=first)
        except LedgerError as exc:
            ctx.refuse(Code.INVALID_AMOUNT, str(exc), amount=amount)
        _require_widths(ctx, e.account, asset, debt=False)
    return details


#: An aToken transfer's overflow of the recipient's ``UserState.balance``: a checked add
#: (``uint128`` in v3.3, ``uint120`` in v3.4+), not a SafeCast (aave-dao/aave-v3-origin
#: @v3.3.0 and @v3.5.0 ``IncentivizedERC20._transfer``).
_TRANSFER_OVERFLOW = "panic 0x11 (IncentivizedERC20._transfer's checked add)"


def _require_widths(ctx: HandlerContext, account: str, asset: str, debt: bool,
                    revert: str | None = None) -> None:
    """Refuse a mint whose scaled balance or total the protocol cannot store
    (:func:`~marginengine.margin.validation.validate_balance_widths`)."""
    refusal = _widths_refusal(ctx, account, asset, debt, revert)
    if refusal:
        ctx.refuse_with(refusal)


def _widths_refusal(ctx: HandlerContext, account: str, asset: str, debt: bool,
                    revert: str | None = None) -> Refusal | None:
    """:func:`~marginengine.margin.validation.validate_balance_widths` of the account's
    scaled balance and the reserve's total of ``asset`` as they stand."""
    widths = ctx.rules.widths
    if widths is None:
        return None
    compound = ctx.config.compound
    base = compound is not None and asset == compound.base_asset
    ledger, r = ctx.ledger, ctx.ledger.reserves[asset]
    if debt:
        balance, total = ledger.scaled_debt_of(account, asset), r.scaled_debt
    else:
        balance, total = ledger.scaled_supply_of(account, asset), r.scaled_supply
    return rules_of.validate_balance_widths(widths, asset, base, balance, total, debt,
                                            revert)


def withdraw(ctx: HandlerContext, e: Withdraw) -> dict[str, Any]:
    ctx.existing(e.account)
    asset = ctx.market(e.asset)
    ledger = ctx.ledger
    balance = ledger.supply_of(e.account, asset)
    # type(uint256).max withdraws the whole balance (Aave, Comet's base).
    amount = rules_of.withdraw_amount(ctx.rules, asset, ctx.config.base_asset,
                                      ctx.positive(e.amount), balance)
    refusal = rules_of.validate_withdraw_amount(e.account, asset, ctx.config.markets[asset],
                                                balance, amount)
    if refusal:
        ctx.refuse_with(refusal)
    # validateWithdraw: the flags after the balance (a frozen reserve is withdrawn from).
    _require_flags(ctx, ReserveAction.WITHDRAW, asset)
    # Asked before withdrawing: withdrawing the whole balance removes the position.
    was_collateral = ledger.uses_as_collateral(e.account, asset)
    assets = ctx.account_assets(e.account)
    if was_collateral and any(ledger.debt_of(e.account, a) for a in assets):
        ctx.require_prices(assets)
    require_vat_frob(ctx, e.account, asset, dink=-amount)  # a Maker vault's free
    try:
        ledger.withdraw(e.account, asset, amount)
    except LedgerError as exc:
        ctx.refuse(Code.NOT_ENOUGH_LIQUIDITY, f"not enough liquidity: {exc}", amount=amount)
    if not was_collateral:
        return {"withdrawn": amount}
    ctx.require_initial_margin(e.account, InitialScope.OPEN_POSITIONS)
    data = ctx.account_data(e.account)
    if data.total_debt:
        refusal = rules_of.validate_health_after_withdraw(
            ctx.rules, data, ctx.initial_account_data(e.account))
        if refusal:
            ctx.refuse_with(refusal)
        # getUserReserveLtv: each asset's LTV in the account's e-mode category.
        ltv_of = {a: ctx.model.asset_ltv_bps(e.account, ledger, a) for a in assets}
        zero_ltv = [a for a in assets if ltv_of[a] == 0
                    and ledger.uses_as_collateral(e.account, a)
                    and ledger.scaled_supply_of(e.account, a)]
        refusal = rules_of.validate_ltv_zero_withdraw(
            ctx.rules, e.account, asset, ctx.model.asset_ltv_bps(e.account, ledger, asset),
            zero_ltv)
        if refusal:
            ctx.refuse_with(refusal)
    return {"withdrawn": amount}


def borrow(ctx: HandlerContext, e: Borrow) -> dict[str, Any]:
    ctx.existing(e.account)
    asset = ctx.market(e.asset)
    amount = ctx.positive(e.amount)
    # validateBorrow: the flags first, before borrowingEnabled and the e-mode.
    _require_flags(ctx, ReserveAction.BORROW, asset)
    market = ctx.config.markets[asset]
    ledger = ctx.ledger
    version, category_id = ctx.rules.emode, ledger.emode_of(e.account)
    category = ctx.config.emode_category(category_id)
    enabled = emode_rules.borrowing_enabled_applies(version, category_id)
    if not enabled:
        # v3.6+ validateBorrow: in e-mode the category's borrowable bit replaces the
        # reserve's borrowingEnabled, before the cap.
        refusal = emode_rules.validate_borrow_in_emode(version, asset, category_id, category)
        if refusal:
            ctx.refuse_with(refusal)
    refusal = rules_of.validate_borrow_asset(
        e.account, asset, market, ledger.supply_of(e.account, asset),
        ledger.reserves[asset].total_debt(), amount, ctx.rules, borrowing_enabled=enabled)
    if refusal:
        ctx.refuse_with(refusal)
    refusal = rules_of.validate_sentinel_borrow(ctx.sequencer_status, ctx.time,
                                                ctx.config.aave.sentinel_grace_period)
    if refusal:
        ctx.refuse_with(refusal)
    isolated = _isolated(ctx, e.account)
    strict = ctx.rules.borrow_hf_strict
    if isolated is not None and strict:
        # v3.3 validateBorrow: isolation mode after the cap, before the e-mode check.
        _require_isolated_borrow(ctx, e.account, asset, isolated, amount)
    if enabled:
        # v3.3/v3.5 validateBorrow: the e-mode check after the flags, the sentinel and
        # the cap, before the account data.
        refusal = emode_rules.validate_borrow_in_emode(version, asset, category_id, category)
        if refusal:
            ctx.refuse_with(refusal)
    # The assets owed before the borrow (validateBorrow's isBorrowingAny), for the silo.
    borrowed = ([a for a in ctx.account_assets(e.account) if ledger.debt_of(e.account, a)]
                if ctx.rules.isolation_mode else [])
    if ctx.rules.isolation_mode and not strict:
        # v3.5 validateBorrow: siloed borrowing after the e-mode check, before the mint.
        _require_siloed(ctx, e.account, asset, borrowed)
    ctx.require_prices([asset, *ctx.account_assets(e.account)])
    # A Maker vault's draw is a frob (ceilings, safety at spot, dust), asked before the
    # lending family's own collateral checks.
    require_vat_frob(ctx, e.account, asset, dart=amount)
    if ctx.rules.initial_check is not InitialCheck.WEIGHTED_VALUE:
        # Aave v3.3's validateBorrow checks collateral, LTV and HF first (v3.5+ nothing:
        # see validate_borrow_health); Comet's withdrawBase has no such step
        # (isBorrowCollateralized after the borrow refuses, NotCollateralized).
        refusal = rules_of.validate_borrow_health(e.account, ctx.account_data(e.account),
                                                  ctx.rules)
        if refusal:
            ctx.refuse_with(refusal)
    debt_before = ledger.debt_of(e.account, asset)
    try:
        ledger.borrow(e.account, asset, amount)
    except LedgerError as exc:
        ctx.refuse(Code.NOT_ENOUGH_LIQUIDITY, f"not enough liquidity: {exc}", amount=amount)
    _require_widths(ctx, e.account, asset, debt=True)
    if isolated is not None and not strict:
        # v3.5 executeBorrow: increaseIsolatedDebtIfIsolated after the mint, before
        # validateHFAndLtv.
        _require_isolated_borrow(ctx, e.account, asset, isolated, amount)
    compound = ctx.config.compound
    if ctx.rules.min_borrow and compound is not None:
        # Comet's withdrawBase: -(presentValue(principal) - amount) < baseBorrowMin reverts
        # BorrowTooSmall, before isBorrowCollateralized is asked.
        refusal = rules_of.validate_min_borrow(asset, market, debt_before + amount,
                                               compound.base_borrow_min_units(market.decimals))
        if refusal:
            ctx.refuse_with(refusal)
    after = ctx.account_data(e.account)
    refusal = rules_of.validate_borrow_power(ctx.rules, after,
                                             ctx.initial_account_data(e.account), e.account)
    if refusal:
        ctx.refuse_with(refusal)
    if ctx.rules.isolation_mode and strict:
        # v3.3 validateBorrow: siloed borrowing last, after COLLATERAL_CANNOT_COVER.
        _require_siloed(ctx, e.account, asset, borrowed)
    ctx.require_initial_margin(e.account, InitialScope.HOLDS_PERPS)
    details: dict[str, Any] = {"borrowed": amount, "health_factor": after.health_factor}
    if isolated is not None:
        details["isolation_mode_total_debt"] = ledger.reserves[isolated].isolation_mode_total_debt
    return details


def _require_isolated_borrow(ctx: HandlerContext, account: str, asset: str, isolated: str,
                             amount: int) -> None:
    """Refuse a borrow in isolation mode beyond the rules, else add it to the isolated
    collateral's ``isolationModeTotalDebt`` (the refusal of a later check undoes it)."""
    markets, total = ctx.config.markets, ctx.ledger.reserves[isolated].isolation_mode_total_debt
    refusal = rules_of.validate_isolated_borrow(account, asset, markets[asset], isolated,
                                                markets[isolated], total, amount)
    if refusal:
        ctx.refuse_with(refusal)
    ctx.ledger.set_isolation_mode_total_debt(
        isolated, total + rules_of.isolated_debt_units(amount, markets[asset].decimals))


def _require_siloed(ctx: HandlerContext, account: str, asset: str,
                    borrowed: list[str]) -> None:
    refusal = rules_of.validate_siloed_borrow(account, asset, borrowed, ctx.config.markets)
    if refusal:
        ctx.refuse_with(refusal)


def repay(ctx: HandlerContext, e: Repay) -> dict[str, Any]:
    ctx.existing(e.account)
    asset = ctx.market(e.asset)
    amount = ctx.positive(e.amount)
    # validateRepay: the flags before the debt (a frozen reserve is repaid).
    _require_flags(ctx, ReserveAction.REPAY, asset)
    debt = ctx.ledger.debt_of(e.account, asset)
    refusal = rules_of.validate_repay(e.account, asset, debt)
    if refusal:
        ctx.refuse_with(refusal)
    paid = min(amount, debt)
    require_vat_frob(ctx, e.account, asset, dart=-paid)  # a Maker vault's wipe: Vat/dust
    isolated = _isolated(ctx, e.account)
    ctx.ledger.repay(e.account, asset, paid)
    if isolated is not None:
        # reduceIsolatedDebtIfIsolated (v3.3 updateIsolatedDebtIfIsolated).
        _reduce_isolated_debt(ctx, isolated, asset, paid)
    return {"repaid": paid}


def repay_with_atokens(ctx: HandlerContext, e: RepayWithATokens) -> dict[str, Any]:
    """Aave's ``repayWithATokens`` (``BorrowLogic.executeRepay`` with ``useATokens``,
    aave-dao/aave-v3-origin@v3.3.0, @v3.5.0, @4fbd7442): ``validateRepay`` (the account
    owes the asset); ``type(uint256).max`` repays with the whole supplied balance
    (``getATokenBalance``, v3.3 ``balanceOf``); the payback is at most the debt; the
    isolated debt is reduced as a repayment's; the aTokens are burned (scaled rounded
    up), the debt (scaled rounded down), no token moves. If the asset was collateral, a
    balance burned to 0 is switched off and, v3.5+, an account still borrowing must keep
    HF at least 1 (``validateHealthFactor``)."""
    ctx.existing(e.account)
    asset = ctx.market(e.asset)
    amount = ctx.positive(e.amount)
    _require_flags(ctx, ReserveAction.REPAY, asset)  # validateRepay, as a repayment's
    ledger = ctx.ledger
    debt = ledger.debt_of(e.account, asset)
    refusal = rules_of.validate_repay(e.account, asset, debt)
    if refusal:
        ctx.refuse_with(refusal)
    balance = ledger.supply_of(e.account, asset)
    paid = min(balance if amount == MAX_UNITS else amount, debt)
    if balance == 0:
        ctx.refuse(Code.UNDERLYING_BALANCE_ZERO,
                   f"{e.account} has no {asset} supplied to repay with",
                   account=e.account, asset=asset)
    if paid > balance:
        # Aave's aToken burn of more than the balance reverts (an underflow, unnamed).
        ctx.refuse(Code.NOT_ENOUGH_AVAILABLE_USER_BALANCE,
                   f"{e.account} has {balance} of {asset} supplied, less than the {paid} "
                   "to repay with", amount=paid, balance=balance)
    isolated = _isolated(ctx, e.account)
    was_collateral = ledger.collateral_flag(e.account, asset)
    ledger.repay_with_supply(e.account, asset, paid)
    if isolated is not None:
        _reduce_isolated_debt(ctx, isolated, asset, paid)
    details: dict[str, Any] = {"repaid": paid,
                               "collateral": ledger.collateral_flag(e.account, asset)}
    assets = ctx.account_assets(e.account)
    if (was_collateral and ctx.rules.atoken_repay_health_check
            and any(ledger.debt_of(e.account, a) for a in assets)):
        ctx.require_prices(assets)
        data = ctx.account_data(e.account)
        if data.health_factor < WAD:
            ctx.refuse(Code.HEALTH_FACTOR_LOWER_THAN_LIQUIDATION_THRESHOLD,
                       f"health factor would fall to {rules_of.fmt_health(data.health_factor)} "
                       f"after burning {asset} collateral, below 1",
                       health_factor=data.health_factor)
        details["health_factor"] = data.health_factor
    return details


# ---------------------------------------------------------------------- an account as it stands
def import_account(ctx: HandlerContext, e: ImportAccount) -> dict[str, Any]:
    """Book an account as a protocol's state holds it, at genesis only, with structural
    checks only (:mod:`marginengine.margin.account_import`) and the snapshot builder's
    booking (:func:`marginengine.ledger.imports.book_as_they_stand`): no margin is asked,
    so an account above its borrowing power or below health 1 is booked as it is. An
    account in isolation mode (v3.3/v3.5: its only collateral switched on has a debt
    ceiling) adds its debt to that reserve's ``isolation_mode_total_debt`` as its borrows
    did (:func:`~marginengine.margin.validation.isolated_debt_units`, per asset)."""
    closed = ctx.genesis_closed_by
    if closed is not None:
        ctx.refuse(Code.IMPORT_AFTER_GENESIS,
                   f"an account is imported only at genesis, before any event but prices, "
                   f"market inputs, deposits and imports ({closed} was applied since)",
                   closed_by=closed, account=e.account)
    refusal = validate_import(ctx.config, e.account, e.supplied, e.borrowed, e.emode)
    if refusal:
        ctx.refuse_with(refusal)
    if e.account in ctx.ledger.accounts:
        reason = (f"{e.account!r} is held already: an account is imported whole, once, "
                  "before anything else books it")
        ctx.refuse(Code.INVALID_IMPORT, f"account: {reason}", field="account",
                   account=e.account, reason=reason)
    funded = book_as_they_stand(ctx.ledger, [BookAccount(
        e.account, dict(e.supplied), dict(e.borrowed), emode=e.emode)])
    for side, balances in (("supplied", e.supplied), ("borrowed", e.borrowed)):
        for asset, _ in balances:
            # A balance the protocol's storage cannot hold is no state of the protocol:
            # the import is malformed, named by its field as every import problem.
            width = _widths_refusal(ctx, e.account, asset, debt=side == "borrowed")
            if width is not None:
                field = f"{side}.{asset}"
                ctx.refuse(Code.INVALID_IMPORT, f"{field}: {width.message}", field=field,
                           account=e.account, reason=width.message,
                           **{k: v for k, v in width.data.items() if k != "asset"})
    details: dict[str, Any] = {"funded": funded}
    total = book_imported_isolated_debt(ctx.ledger, ctx.config, e.account, e.borrowed)
    if total is not None:
        details["isolation_mode_total_debt"] = total
    return details


def book_imported_isolated_debt(ledger: Ledger, config: ProtocolConfig, account_id: str,
                                borrowed: Iterable[tuple[str, int]]) -> int | None:
    """Add an imported account's debt to its isolated collateral's
    ``isolation_mode_total_debt`` (v3.3/v3.5 isolation mode: its only collateral switched
    on has a debt ceiling) as its borrows did (``increaseIsolatedDebtIfIsolated``): each
    borrowed asset in cents, floored
    (:func:`~marginengine.margin.validation.isolated_debt_units`). Booked as it stands: a
    total above the ceiling (lowered since the borrows) is booked, not refused.

    Returns
    -------
    int or None
        The reserve's new total, in cents; ``None``: not in isolation mode, or no debt.
    """
    markets = config.markets
    isolated = isolated_collateral_of(ledger, config, account_id)
    held = [(asset, amount) for asset, amount in borrowed if amount]
    if isolated is None or not held:
        return None
    total = ledger.reserves[isolated].isolation_mode_total_debt + sum(
        rules_of.isolated_debt_units(amount, markets[asset].decimals) for asset, amount in held)
    ledger.set_isolation_mode_total_debt(isolated, total)
    return total


# ---------------------------------------------------------------------- Aave setUserEMode
def set_user_emode(ctx: HandlerContext, e: SetUserEMode) -> dict[str, Any]:
    """Aave's ``setUserEMode`` (``EModeLogic.executeSetUserEMode`` in v3.3/v3.5,
    ``SupplyLogic.executeSetUserEMode`` in v3.7): nothing to do if the account is already
    in the category; else ``validateSetUserEMode``, the switch, then
    ``validateHealthFactor`` (HF at least 1 in the new category)."""
    ctx.account_id(e.account)
    ledger = ctx.ledger
    version = ctx.rules.emode
    assert version is not None  # the family accepts SetUserEMode only with an e-mode
    previous = ledger.emode_of(e.account)
    if previous == e.category:
        return {"category": e.category, "previous": previous, "changed": False}
    category = ctx.config.emode_category(e.category)
    assets = ctx.account_assets(e.account)
    borrowed = [a for a in assets if ledger.debt_of(e.account, a)]
    collateral = [a for a in assets if ledger.scaled_supply_of(e.account, a)
                  and ledger.uses_as_collateral(e.account, a)]
    refusal = emode_rules.validate_set_user_emode(
        version, e.account, e.category, category, borrowed, collateral, ctx.config.markets)
    if refusal:
        ctx.refuse_with(refusal)
    if borrowed:
        ctx.require_prices(assets)
    ledger.set_emode(e.account, e.category)
    data = ctx.account_data(e.account)
    if data.total_debt and data.health_factor < WAD:
        ctx.refuse(Code.HEALTH_FACTOR_LOWER_THAN_LIQUIDATION_THRESHOLD,
                   f"health factor would fall to {rules_of.fmt_health(data.health_factor)} "
                   f"in e-mode category {e.category}, below 1",
                   health_factor=data.health_factor, category=e.category)
    return {"category": e.category, "previous": previous, "changed": True,
            "health_factor": data.health_factor}


def set_use_as_collateral(ctx: HandlerContext, e: SetUseAsCollateral) -> dict[str, Any]:
    """Aave's ``setUserUseReserveAsCollateral`` (``SupplyLogic.executeUseReserveAsCollateral``,
    aave-dao/aave-v3-origin@4fbd7442): nothing to do if the switch is already so; on needs
    a balance and a loan-to-value above 0; off is checked after the switch by
    ``validateHFAndLtvzero``. The margin model reads the switch (``ledger.uses_as_collateral``)
    for health and borrowing power alike."""
    ctx.account_id(e.account)
    asset = ctx.market(e.asset)
    # validateSetUseReserveAsCollateral: the flags before the no-change return.
    _require_flags(ctx, ReserveAction.COLLATERAL_SWITCH, asset)
    ledger = ctx.ledger
    previous = ledger.collateral_flag(e.account, asset)
    if previous == e.enabled:
        return {"enabled": e.enabled, "changed": False}
    ltv = ctx.model.asset_ltv_bps(e.account, ledger, asset)
    if e.enabled:
        refusal = rules_of.validate_enable_as_collateral(
            e.account, asset, ledger.scaled_supply_of(e.account, asset),
            _switch_ltv(ctx, e.account, asset), ctx.rules,
            _collateral_on(ctx, e.account, but=asset), ctx.config.markets)
        if refusal:
            ctx.refuse_with(refusal)
        ledger.set_use_as_collateral(e.account, asset, True)
        return {"enabled": True, "changed": True}
    assets = ctx.account_assets(e.account)
    indebted = any(ledger.debt_of(e.account, a) for a in assets)
    if indebted:
        ctx.require_prices(assets)
    ledger.set_use_as_collateral(e.account, asset, False)
    ctx.require_initial_margin(e.account, InitialScope.OPEN_POSITIONS)
    after = ctx.account_data(e.account) if indebted else None
    zero_ltv = [a for a in assets if ledger.uses_as_collateral(e.account, a)
                and ledger.scaled_supply_of(e.account, a)
                and ctx.model.asset_ltv_bps(e.account, ledger, a) == 0]
    refusal = rules_of.validate_disable_as_collateral(e.account, asset, after, ltv, zero_ltv)
    if refusal:
        ctx.refuse_with(refusal)
    details: dict[str, Any] = {"enabled": False, "changed": True}
    if after is not None:
        details["health_factor"] = after.health_factor
    return details


# ---------------------------------------------------------------------- Aave liquidationCall
def liquidate(ctx: HandlerContext, e: Liquidate) -> dict[str, Any]:
    ctx.account_id(e.liquidator, "liquidator")
    ctx.existing(e.account)
    if e.liquidator == e.account:
        ctx.refuse(Code.SELF_LIQUIDATION, "an account cannot liquidate itself")
    debt_asset = ctx.market(e.debt_asset, "debt_asset")
    coll_asset = ctx.market(e.collateral_asset, "collateral_asset")
    ctx.positive(e.debt_to_cover, "debt_to_cover")
    ctx.require_prices([debt_asset, coll_asset, *ctx.account_assets(e.account)],
                       for_liquidation=True)
    data = ctx.account_data(e.account)
    # validateLiquidationCall: the reserves' flags, the sentinel, the grace periods (the
    # keeper's quote and the simulator's screen ask the same rule).
    refusal = liquidation_pause(ctx, e.account, debt_asset, coll_asset, data.health_factor)
    if refusal:
        ctx.refuse_with(refusal)
    health = ctx.liquidation_health(e.account, data)
    try:
        # validateLiquidationCall's order: the health factor, then the collateral flag,
        # then the debt (in the plan).
        require_liquidatable(health)
    except LiquidationRefused as refused:
        ctx.refuse_with(refused.refusal)
    refusal = rules_of.validate_liquidation_call(
        e.liquidator, e.account, ctx.ledger.uses_as_collateral(e.account, coll_asset),
        coll_asset)
    if refusal:
        ctx.refuse_with(refusal)
    # The keeper's read of this very state, if it made one (StateReads: once per state).
    inputs = ctx.close_factor_inputs(e.account, health, data, debt_asset, coll_asset)
    try:
        plan = plan_liquidation(inputs, e.debt_to_cover, ctx.config.aave,
                                ctx.rules.liquidation_rounding)
    except LiquidationRefused as refused:
        ctx.refuse_with(refused.refusal)
    return _execute_liquidation(ctx, e, plan, data)


def _execute_liquidation(ctx: HandlerContext, e: Liquidate, plan: CloseFactorPlan,
                         before: AccountData) -> dict[str, Any]:
    ledger = ctx.ledger
    deficit: dict[str, int] = {}
    ledger.repay(e.account, e.debt_asset, plan.debt_repaid)
    if ctx.rules.isolation_mode and ctx.config.markets[e.collateral_asset].isolated:
        # v3.3/v3.5 executeLiquidationCall: a ceiled collateral was the account's only one,
        # so its isolated debt falls by the debt repaid (not the deficit written off).
        _reduce_isolated_debt(ctx, e.collateral_asset, e.debt_asset, plan.debt_repaid)
    if e.receive_supply:
        # v3.3/v3.5 _liquidateATokens: validateAutomaticUseAsCollateral for the liquidator's
        # empty balance; v3.6+ never switches received aTokens on.
        first = ledger.scaled_supply_of(e.liquidator, e.collateral_asset) == 0 and (
            not ctx.rules.accepts("SetUseAsCollateral")
            or (ctx.rules.automatic_collateral_on_receipt
                and _on_first_supply(ctx, e.liquidator, e.collateral_asset, e.liquidator)))
        ledger.transfer_supply(e.account, e.liquidator, e.collateral_asset,
                               plan.collateral_to_liquidator, collateral_on_first=first)
        # The liquidator's balance grows by the scaled amount moved (the total does not):
        # IncentivizedERC20._transfer's checked add on UserState.balance.
        _require_widths(ctx, e.liquidator, e.collateral_asset, debt=False,
                        revert=_TRANSFER_OVERFLOW)
    else:
        try:
            ledger.pay_out_supply(e.account, e.collateral_asset, plan.collateral_to_liquidator)
        except LedgerError as exc:
            ctx.refuse(Code.NOT_ENOUGH_LIQUIDITY,
                       f"not enough liquidity to pay out the collateral ({exc}); "
                       "liquidate with receive_supply",
                       amount=plan.collateral_to_liquidator)
    # As Aave v3.3: the liquidator first, then the fee, clamped to the balance left
    # (burning the fee first, rounded up, can leave the account one unit short of the
    # liquidator's share when the whole balance is seized).
    fee = min(plan.protocol_fee, ledger.supply_of(e.account, e.collateral_asset))
    if plan.protocol_fee:
        ledger.supply_to_treasury(e.account, e.collateral_asset, fee)
    if (plan.takes_all_collateral and ctx.rules.collateral_off_when_no_collateral_left
            and ledger.collateral_flag(e.account, e.collateral_asset)):
        # v3.7: all the collateral value consumed switches the reserve off even with a few
        # wei worth 0 left (reserveFullyConsumed || hasNoCollateralLeft); a balance burned
        # to 0 is switched off by the ledger in every version.
        ledger.set_use_as_collateral(e.account, e.collateral_asset, False)
    if plan.takes_all_collateral:
        # Aave v3.3+: no collateral left, so every remaining debt becomes deficit; the
        # liquidated asset's is its debt less the repayment, unscaled (_burnDebtTokens).
        account = ledger.accounts.get(e.account)
        for asset in sorted(account.lending if account else ()):
            if ledger.debt_of(e.account, asset):
                deficit[asset] = ledger.write_off_debt(
                    e.account, asset, plan.debt_left if asset == e.debt_asset else None)
    after = ctx.account_data(e.account)
    return {
        "debt_repaid": plan.debt_repaid,
        "collateral_to_liquidator": plan.collateral_to_liquidator,
        "protocol_fee": fee,
        "close_factor_bps": plan.close_factor_bps,
        "health_before": before.health_factor,
        "health_after": after.health_factor,
        "deficit": deficit,
    }


# ---------------------------------------------------------------------- Comet
def absorb(ctx: HandlerContext, e: Absorb) -> dict[str, Any]:
    compound = ctx.config.compound
    assert compound is not None  # the absorb family always has its [compound] table
    ctx.account_id(e.absorber, "absorber")
    ctx.existing(e.account)
    for name in ("gas_used", "base_fee"):
        if getattr(e, name) < 0:
            ctx.refuse(Code.INVALID_AMOUNT,
                       f"{name}: must not be negative (got {getattr(e, name)})",
                       field=name, value=getattr(e, name))
    base = compound.base_asset
    ctx.require_prices([base, *ctx.account_assets(e.account)], for_liquidation=True)
    base_price = ctx.price(base)
    data = ctx.account_data(e.account)
    refusal = rules_of.validate_absorb(e.account, ctx.is_liquidatable(e.account), data,
                                       ctx.rules)
    if refusal:
        ctx.refuse_with(refusal)
    ledger = ctx.ledger
    collateral = absorb_collateral(ctx.config, ledger, ctx.prices, e.account)
    debt = ledger.debt_of(e.account, base)
    plan = plan_absorb(debt, base_price, ctx.config.markets[base].unit, collateral)
    for seized in plan.seized:
        ledger.seize_supply(e.account, seized.asset)
    ledger.absorb_debt(e.account, base)
    if plan.new_balance:
        ledger.credit_supply(e.account, base, plan.new_balance)
        # absorbInternal: principalValue(newBalance) is an int104 (signed104), and
        # totalSupplyBase += supplyAmount a checked uint104 add (compound-finance/
        # comet@d5a30b0a Comet.sol).
        _require_widths(ctx, e.account, base, debt=False)
    if plan.bad_debt:
        ledger.record_bad_debt(base, plan.bad_debt)
    # Comet's absorb credits the absorber's points after absorbing (contracts/Comet.sol
    # absorb, compound-finance/comet@d5a30b0a): one call, its accounts (one per event
    # here), and gasUsed x block.basefee.
    try:
        points = ctx.liquidator_points(e.absorber).credited(1, e.gas_used, e.base_fee)
    except ValueError as exc:
        ctx.refuse(Code.INVALID_AMOUNT, f"liquidator points: {exc}", absorber=e.absorber)
    ctx.set_liquidator_points(e.absorber, points)
    return {
        "debt_absorbed": debt,
        "seized": {s.asset: s.amount for s in plan.seized},
        "credit": plan.new_balance - plan.old_balance,
        "new_balance": plan.new_balance,
        "bad_debt": plan.bad_debt,
        "liquidator_points": points.as_dict(),
    }


def buy_collateral(ctx: HandlerContext, e: BuyCollateral) -> dict[str, Any]:
    compound = ctx.config.compound
    assert compound is not None
    ctx.account_id(e.buyer, "buyer")
    base = compound.base_asset
    asset = ctx.market(e.asset)
    if asset == base or not ctx.config.markets[asset].collateral:
        ctx.refuse(Code.BAD_ASSET, f"{asset} is not a collateral asset", asset=asset)
    ctx.positive(e.base_amount, "base_amount")
    ctx.require_prices([base, asset], for_liquidation=True)
    if e.min_amount < 0:
        ctx.refuse(Code.INVALID_AMOUNT,
                   f"min_amount: must not be negative (got {e.min_amount})",
                   field="min_amount", value=e.min_amount)
    ledger = ctx.ledger
    base_market = ctx.config.markets[base]
    reserves = ledger.reserves[base].present_value_reserves()
    target = compound.target_reserves_units(base_market.decimals)
    if reserves >= target:
        ctx.refuse(Code.NOT_FOR_SALE,
                   f"reserves {ctx.units(base, reserves)} are at or above the target "
                   f"{ctx.units(base, target)}: collateral is not for sale",
                   reserves=reserves, target=target)
    market = ctx.config.markets[asset]
    if store_front_price(ctx.price(asset), market.liquidation_factor_bps,
                         compound.store_front_price_factor_scaled) == 0:
        # Comet would divide by zero here (quoteCollateral); refuse instead (issue 9, 3).
        ctx.refuse(Code.BAD_ASSET,
                   f"the store-front price of {asset} rounds to 0 at its price "
                   f"{ctx.price(asset)} (8 decimals): collateral cannot be priced",
                   asset=asset, price=ctx.price(asset))
    quantity = quote_collateral(
        e.base_amount, ctx.price(base), base_market.unit, ctx.price(asset), market.unit,
        market.liquidation_factor_bps, compound.store_front_price_factor_scaled,
    )
    if quantity < e.min_amount:
        ctx.refuse(Code.TOO_MUCH_SLIPPAGE,
                   f"would buy {ctx.units(asset, quantity)}, below min_amount "
                   f"{ctx.units(asset, e.min_amount)}",
                   quantity=quantity, min_amount=e.min_amount)
    available = ledger.reserves[asset].reserves_ray // RAY
    if quantity > available:
        ctx.refuse(Code.INSUFFICIENT_RESERVES,
                   f"the protocol holds only {ctx.units(asset, max(available, 0))} of seized "
                   f"{asset}",
                   quantity=quantity, available=available)
    ledger.sell_from_reserves(asset, quantity, base, e.base_amount)
    return {"collateral_bought": quantity, "base_paid": e.base_amount}
