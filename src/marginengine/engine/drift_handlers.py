"""The Drift v2 handlers: spot deposits and withdrawals (borrows), perp fills, and the
spot liquidation that transfers the liability covering a margin shortage.

Each handler reaches the engine through its :class:`~marginengine.engine.context.HandlerContext`:
it takes the exchange's book (``state.family``), asks the pure rules of
:mod:`marginengine.margin.drift` (``margin_calculation``, the weights) and
:mod:`marginengine.liquidation.drift` (the transfer sizing) through
:mod:`marginengine.engine.family_state`, and replaces the book (journalled). Refusals carry
Drift's ``ErrorCode`` names (programs/drift/src/error.rs): a withdrawal or fill that leaves
the initial requirement unmet is ``InsufficientCollateral`` (``meets_withdraw_margin_
requirement``, ``meets_place_order_margin_requirement``); liquidating an account that meets
its maintenance requirement is ``SufficientCollateral``; a liquidator left below its
initial requirement is ``InsufficientCollateral`` ("Liquidator doesnt have enough
collateral to take over borrow", ``controller/liquidation.rs``).

The perp liquidation follows ``liquidate_perp`` (``programs/drift/src/controller/
liquidation.rs`` at commit ``0ae3e3b1db782a6765c3525b3dec38ad4d9d3a62``): the account must
fail its maintenance requirement (``SufficientCollateral``) and hold base in the market
(``UserHasNoPositionInMarket``, ``PositionDoesntHaveOpenPositionOrOrders``); the
liquidator's maximum, floored to the step size, must not be 0
(``InvalidBaseAssetAmountForLiquidatePerp``); the base to cover the margin shortage against
the maintenance ratio plus the liquidation buffer, net of the liquidator's and the
insurance fund's fees, rounded up to the step size, bounds the transfer (the whole position
when it is worth $50 or less); both positions must remain multiples of the step size
(``InvalidPerpPosition``) and the liquidator must then meet its initial requirement
(``InsufficientCollateral``).

The perp bankruptcy follows ``resolve_perp_bankruptcy`` (same file and commit): the account
must be cross-margin bankrupt (``UserNotBankrupt``: ``math/bankruptcy.rs``), the liquidator
not (``UserBankrupt``), its quote in the market negative
(``InvalidPerpPositionToLiquidate``); the insurance fund pays first (at most its vault less
1 and the market's remaining ``quote_max_insurance``), the market's fee pool next, and the
rest is socialized over the market's open positions by the cumulative funding rates
(``CantResolvePerpBankruptcy`` when none is open). Drift settles each position's funding
payment when it is next touched (the margin system counts it before); the engine settles
them at once, so the book holds no funding rates.

The spot bankruptcy follows ``resolve_spot_bankruptcy`` (same file and commit) and
``calculate_cumulative_deposit_interest_delta_to_resolve_bankruptcy``
(``math/liquidation.rs``): the account must be cross-margin bankrupt
(``UserNotBankrupt``), the liquidator not (``UserBankrupt``), the account must have a
position in the market (``CouldNotFindSpotPosition``; the engine: it held it once) and it
must be a borrow (``UserHasInvalidBorrow``: an emptied position, 0); the market's
insurance fund pays first (at most its vault less 1), and the rest is taken from the
market's deposits by lowering its cumulative deposit interest by ``interest x loss /
deposits`` (rounded up; 0 without deposits: the loss then stays uncovered, as in Drift;
more than the deposits hold fails Drift's subtraction, ``MathError``). The engine holds
token amounts, not scaled balances: each deposit is cut at once to ``amount x (interest -
delta) / interest``, rounded down, which is Drift's token amount of a scaled balance
taken at the previous interest.

The perp PnL liquidation follows ``liquidate_perp_pnl_for_deposit`` (same file and
commit): refused by the account itself (``UserCantLiquidateThemself``), for a bankrupt
account or liquidator (``UserBankrupt``), without a position in the perp market
(``UserHasNoPositionInMarket``) or in the asset market (``CouldNotFindSpotPosition``), for
a borrow of the asset (``WrongSpotBalanceType``), with base left or a quote that is not
negative (``InvalidPerpPositionToLiquidate``), while the maintenance requirement is met
(``SufficientCollateral``, the liquidation context's calculation), when nothing would move
(``InvalidLiquidation``) or when the liquidator then fails its initial requirement
(``InsufficientCollateral``); the sizing is ``drift_perp_pnl_liq_plan``.

The three liquidations are gradual, as Drift's (``math/liquidation.rs``
``calculate_max_pct_to_liquidate``, ``state/user.rs`` ``enter_cross_margin_liquidation``,
same commit): the first one that goes on starts the account's liquidation at the event's
slot (the engine's clock at ``drift.slot_ms``) in the book's ``liquidations``; each moves
at most the share of what covers the shortage that the slots since the start allow, adds
the shortage it freed to the status, and ends the liquidation when it covers the
shortage. An account being liquidated is liquidated until it meets its requirement plus
the buffer: then the next liquidation ends it and moves nothing
(``can_exit_cross_margin_liquidation``); only an account not being liquidated that meets
its maintenance requirement is ``SufficientCollateral``. A bankruptcy resolution that
leaves the account no longer bankrupt ends it too. The perp liquidator's fee is
``get_liquidation_fee`` of the slots since the start.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from marginengine.decisions import Code
from marginengine.engine.context import HandlerContext
from marginengine.engine.events import (
    DriftDeposit,
    DriftDisableHighLeverageMode,
    DriftEnableHighLeverageMode,
    DriftLiquidatePerp,
    DriftLiquidatePerpPnlForDeposit,
    DriftLiquidateSpot,
    DriftPerpTrade,
    DriftResolvePerpBankruptcy,
    DriftResolveSpotBankruptcy,
    DriftSetUserStatusToBeingLiquidated,
    DriftWithdraw,
)
from marginengine.engine.family_state import (
    DriftBook,
    DriftLiquidation,
    drift_after_liquidation,
    drift_can_exit_liquidation,
    drift_enter_liquidation,
    drift_is_bankrupt,
    drift_margin,
    drift_perp_bankruptcy_plan,
    drift_perp_liq_plan,
    drift_perp_market,
    drift_perp_pnl_liq_plan,
    drift_slot,
    drift_spot_bankruptcy_plan,
    drift_spot_liq_plan,
    drift_status_bankrupt,
    drift_step_floor,
)
from marginengine.liquidation import drift as liquidation
from marginengine.margin import drift as rules

INITIAL = rules.MarginRequirementType.INITIAL
MAINTENANCE = rules.MarginRequirementType.MAINTENANCE
MarginMode = rules.MarginMode
#: ``get_margin_calculation_for_disable_high_leverage_mode``: ``MARGIN_PRECISION / 100``.
DISABLE_HIGH_LEVERAGE_BUFFER = rules.MARGIN_PRECISION // 100


def _assets(ctx: HandlerContext, book: DriftBook, account: str) -> list[str]:
    held = book.account(account)
    return sorted({*(m for m, a in held.spot.items() if a),
                   *(m for m, p in held.perps.items() if any(p))})


def _require_initial(ctx: HandlerContext, book: DriftBook, account: str,
                     who: str = "") -> None:
    ctx.require_prices(_assets(ctx, book, account))
    calc = drift_margin(ctx.config, book, ctx.prices, account, INITIAL)
    if not calc.meets:
        name = f"{who} {account}" if who else account
        ctx.refuse(Code.DRIFT_INSUFFICIENT_COLLATERAL,
                   f"insufficient collateral: {name} would have a total collateral of "
                   f"{calc.total_collateral} against an initial margin requirement of "
                   f"{calc.margin_requirement} (quote, 1e6)", account=account,
                   total_collateral=calc.total_collateral,
                   margin_requirement=calc.margin_requirement)


def _spot(ctx: HandlerContext, market: object, field: str = "market") -> str:
    cfg = ctx.config.drift
    assert cfg is not None
    if not isinstance(market, str) or market not in cfg.spot:
        ctx.refuse(Code.UNKNOWN_MARKET, f"{field}: {market!r} is not a spot market "
                   f"(spot: {', '.join(sorted(cfg.spot))})", field=field, market=str(market))
    return market


def _moved(book: DriftBook, account: str, market: str, change: int) -> DriftBook:
    held = book.account(account)
    spot = dict(held.spot)
    spot[market] = spot.get(market, 0) + change
    return book.with_account(account, replace(held, spot=spot))


def _refuse_bankrupt(ctx: HandlerContext, book: DriftBook, account: str, who: str = "") -> None:
    """``validate!(!user.is_bankrupt(), ErrorCode::UserBankrupt)``: the status, set by a
    liquidation that left the account bankrupt, not its balances."""
    if drift_status_bankrupt(book, account):
        name = f"{who} {account}" if who else account
        ctx.refuse(Code.DRIFT_USER_BANKRUPT,
                   f"{name} is bankrupt (status set by its liquidation; a bankruptcy "
                   "resolution clears it)", account=account)


def _exit_if_can(ctx: HandlerContext, book: DriftBook, account: str) -> DriftBook:
    """``book`` with ``account``'s liquidation ended if it is being liquidated and meets its
    maintenance requirement with the buffer (``is_cross_margin_being_liquidated`` false:
    ``exit_cross_margin_liquidation``)."""
    if account in book.liquidations:
        ctx.require_prices(_assets(ctx, book, account))
        if drift_can_exit_liquidation(ctx.config, book, ctx.prices, account):
            return book.with_liquidation(account, None)
    return book


def deposit(ctx: HandlerContext, e: DriftDeposit) -> dict[str, Any]:
    ctx.account_id(e.account)
    book = ctx.drift_book()
    market = _spot(ctx, e.market)
    ctx.positive(e.amount)
    _refuse_bankrupt(ctx, book, e.account)
    # handle_deposit: "try to update liquidation status if user is was already being liq'd"
    after = _exit_if_can(ctx, _moved(book, e.account, market, e.amount), e.account)
    ctx.set_family(after)
    out: dict[str, Any] = {"balance": after.account(e.account).spot[market]}
    if e.account in book.liquidations:
        out["exited_liquidation"] = e.account not in after.liquidations
    return out


def withdraw(ctx: HandlerContext, e: DriftWithdraw) -> dict[str, Any]:
    ctx.account_id(e.account)
    book = ctx.drift_book()
    market = _spot(ctx, e.market)
    ctx.positive(e.amount)
    _refuse_bankrupt(ctx, book, e.account)
    after = _moved(book, e.account, market, -e.amount)
    _require_initial(ctx, after, e.account)
    # handle_withdraw: an account that meets its initial requirement after the withdrawal
    # is out of liquidation (exit_cross_margin_liquidation)
    out: dict[str, Any] = {"balance": after.account(e.account).spot[market]}
    if e.account in after.liquidations:
        after = after.with_liquidation(e.account, None)
        out["exited_liquidation"] = True
    ctx.set_family(after)
    return out


def _validate_not_being_liquidated(ctx: HandlerContext, book: DriftBook,
                                   account: str) -> DriftBook:
    """``validate_user_not_being_liquidated`` (``math/liquidation.rs``), which placing an
    order starts with: an account being liquidated (or bankrupt) that meets its maintenance
    requirement with the buffer leaves liquidation; one that does not is refused
    (``UserIsBeingLiquidated``)."""
    if account not in book.liquidations:
        return book
    after = _exit_if_can(ctx, book, account)
    if account in after.liquidations:
        calc = drift_margin(ctx.config, book, ctx.prices, account, MAINTENANCE,
                            _cfg(ctx).margin_buffer())
        ctx.refuse(Code.DRIFT_USER_IS_BEING_LIQUIDATED,
                   f"{account} is being liquidated: total collateral "
                   f"{calc.total_collateral + calc.total_collateral_buffer} is below its "
                   f"maintenance requirement plus the buffer "
                   f"{calc.margin_requirement_plus_buffer} (quote, 1e6)", account=account,
                   total_collateral=calc.total_collateral,
                   margin_requirement_plus_buffer=calc.margin_requirement_plus_buffer)
    return after


def _cfg(ctx: HandlerContext) -> Any:
    cfg = ctx.config.drift
    assert cfg is not None  # the Drift handlers run only with [drift]
    return cfg


def perp_trade(ctx: HandlerContext, e: DriftPerpTrade) -> dict[str, Any]:
    ctx.account_id(e.account)
    book = ctx.drift_book()
    cfg = ctx.config.drift
    assert cfg is not None
    if e.market not in cfg.perps:
        ctx.refuse(Code.UNKNOWN_MARKET, f"market: {e.market!r} is not a perp market "
                   f"(perps: {', '.join(sorted(cfg.perps)) or 'none'})",
                   field="market", market=e.market)
    if e.base == 0 and e.quote == 0:
        ctx.refuse(Code.INVALID_AMOUNT, "base and quote: a fill moves one of them",
                   field="base")
    # place_perp_order: validate_user_not_being_liquidated, then UserBankrupt
    book = _validate_not_being_liquidated(ctx, book, e.account)
    _refuse_bankrupt(ctx, book, e.account)
    held = book.account(e.account)
    base, quote = held.perps.get(e.market, (0, 0))
    perps = dict(held.perps)
    perps[e.market] = (base + e.base, quote + e.quote)
    after = book.with_account(e.account, replace(held, perps=perps))
    _require_initial(ctx, after, e.account)
    ctx.set_family(after)
    return {"base": perps[e.market][0], "quote": perps[e.market][1]}


def _liquidation_book(ctx: HandlerContext, liquidator: str, account: str) -> DriftBook:
    """The Drift book after the checks every liquidation and bankruptcy starts with: both
    account ids valid, and no account liquidating itself (``UserCantLiquidateThemself``)."""
    ctx.account_id(liquidator, "liquidator")
    ctx.account_id(account)
    if liquidator == account:
        ctx.refuse(Code.DRIFT_USER_CANT_LIQUIDATE_THEMSELF, "an account cannot liquidate itself")
    return ctx.drift_book()


def _refuse_bankrupt_parties(ctx: HandlerContext, book: DriftBook, account: str,
                             liquidator: str) -> None:
    """The checks ``liquidate_spot``, ``liquidate_perp`` and
    ``liquidate_perp_pnl_for_deposit`` start with: neither the account ("user bankrupt")
    nor the liquidator ("liquidator bankrupt") has the ``Bankrupt`` status
    (``UserBankrupt``)."""
    _refuse_bankrupt(ctx, book, account)
    _refuse_bankrupt(ctx, book, liquidator, "liquidator")


def _bankruptcy_gate(ctx: HandlerContext, book: DriftBook, account: str,
                     liquidator: str) -> DriftBook:
    """The start of ``resolve_perp_bankruptcy`` and ``resolve_spot_bankruptcy``: an account
    left with a liability and nothing else enters bankruptcy
    (``enter_cross_margin_bankruptcy``) if its status is not yet ``Bankrupt``; it must then
    be (``UserNotBankrupt``); the liquidator must be neither bankrupt (``UserBankrupt``)
    nor being liquidated (``UserIsBeingLiquidated``)."""
    if not drift_status_bankrupt(book, account) and drift_is_bankrupt(book, account):
        status = book.liquidations.get(account) or DriftLiquidation(
            drift_slot(ctx.config, ctx.time))
        book = book.with_liquidation(account, replace(status, bankrupt=True))
    if not drift_status_bankrupt(book, account):
        ctx.refuse(Code.DRIFT_USER_NOT_BANKRUPT,
                   f"{account} is not bankrupt (it holds a deposit, perp base or a positive "
                   "perp quote, or owes nothing)")
    _refuse_bankrupt(ctx, book, liquidator, "liquidator")
    if liquidator in book.liquidations:
        ctx.refuse(Code.DRIFT_USER_IS_BEING_LIQUIDATED,
                   f"liquidator {liquidator} is being liquidated", account=liquidator)
    return book


def _refuse_sufficient_collateral(ctx: HandlerContext, account: str,
                                  calc: rules.MarginCalculation) -> None:
    """Refuse a liquidation of an account that meets its maintenance requirement (Drift's
    ``SufficientCollateral``), with its figures."""
    ctx.refuse(Code.DRIFT_SUFFICIENT_COLLATERAL,
               f"{account} meets its maintenance margin requirement (total "
               f"collateral {calc.total_collateral} >= {calc.margin_requirement})",
               total_collateral=calc.total_collateral,
               margin_requirement=calc.margin_requirement)


def _liquidation_gate(ctx: HandlerContext, book: DriftBook, account: str,
                      calc: rules.MarginCalculation) -> bool:
    """The start of every Drift liquidation (``controller/liquidation.rs``): an account
    not being liquidated that meets its maintenance requirement is refused
    (``SufficientCollateral``); one being liquidated that meets it with the buffer
    (``can_exit_cross_margin_liquidation``) leaves liquidation and nothing moves (``True``:
    the caller returns); else the liquidation goes on (``False``)."""
    if account not in book.liquidations:
        if calc.meets:
            _refuse_sufficient_collateral(ctx, account, calc)
        return False
    if calc.meets_with_buffer:
        ctx.set_family(book.with_liquidation(account, None))
        return True
    return False


def _freed(ctx: HandlerContext, after: DriftBook, account: str, shortage: int) -> int:
    """``calculate_margin_freed``: the margin shortage (with the buffer) before less after,
    at least 0."""
    cfg = ctx.config.drift
    assert cfg is not None
    now = drift_margin(ctx.config, after, ctx.prices, account, MAINTENANCE, cfg.margin_buffer())
    return max(shortage - now.margin_shortage, 0)


def liquidate_spot(ctx: HandlerContext, e: DriftLiquidateSpot) -> dict[str, Any]:
    book = _liquidation_book(ctx, e.liquidator, e.account)
    _refuse_bankrupt_parties(ctx, book, e.account, e.liquidator)
    cfg = ctx.config.drift
    assert cfg is not None
    asset = _spot(ctx, e.asset_market, "asset_market")
    liab = _spot(ctx, e.liability_market, "liability_market")
    ctx.require_prices([*_assets(ctx, book, e.account), asset, liab], for_liquidation=True)
    # MarginContext::liquidation: the requirement is met without the buffer
    # (meets_cross_margin_requirement), the shortage counts it.
    calc = drift_margin(ctx.config, book, ctx.prices, e.account, MAINTENANCE, cfg.margin_buffer())
    slot = drift_slot(ctx.config, ctx.time)
    if _liquidation_gate(ctx, book, e.account, calc):
        return {"liability_transfer": 0, "asset_transfer": 0,
                "margin_shortage": calc.margin_shortage, "to_cover": 0, "if_fee": 0,
                "max_pct": 0, "slot": slot, "exited_liquidation": True}
    held = book.account(e.account)
    asset_amount, liab_amount = held.spot.get(asset, 0), -held.spot.get(liab, 0)
    if asset_amount <= 0 or liab_amount <= 0:
        ctx.refuse(Code.DRIFT_INVALID_SPOT_POSITION,
                   f"{e.account} needs a deposit of {asset} and a borrow of {liab} "
                   f"(has {held.spot.get(asset, 0)} and {held.spot.get(liab, 0)})",
                   asset_amount=held.spot.get(asset, 0), liability_amount=-liab_amount)
    cap = (None if e.max_liability_transfer == -1
           else ctx.positive(e.max_liability_transfer, "max_liability_transfer"))
    plan = drift_spot_liq_plan(ctx.config, book, ctx.prices, e.account, asset, liab, calc, cap,
                               slot=slot)
    transfer, asset_transfer = plan.liability_transfer, plan.asset_transfer
    # The liquidator borrows the whole transfer; the account's borrow falls by the
    # transfer less the insurance fund's fee, which the liability market's revenue pool
    # takes as a deposit (controller/liquidation.rs liquidate_spot).
    after = _moved(_moved(book, e.account, liab, transfer - plan.if_fee), e.account, asset,
                   -asset_transfer)
    after = _moved(_moved(after, e.liquidator, liab, -transfer), e.liquidator, asset,
                   asset_transfer)
    if plan.if_fee:
        revenue = dict(after.spot_revenue)
        revenue[liab] = revenue.get(liab, 0) + plan.if_fee
        after = replace(after, spot_revenue=revenue)
    _require_initial(ctx, after, e.liquidator, "liquidator")
    # increment_margin_freed; exit_cross_margin_liquidation once the shortage is covered
    covered = transfer > 0 and transfer >= plan.to_cover
    after = drift_after_liquidation(after, e.account, slot,
                                    _freed(ctx, after, e.account, plan.margin_shortage),
                                    covered)
    ctx.set_family(after)
    return {"liability_transfer": transfer, "asset_transfer": asset_transfer,
            "margin_shortage": plan.margin_shortage, "to_cover": plan.to_cover,
            "if_fee": plan.if_fee, "max_pct": plan.max_pct, "slot": slot,
            "exited_liquidation": covered}


def liquidate_perp(ctx: HandlerContext, e: DriftLiquidatePerp) -> dict[str, Any]:
    book = _liquidation_book(ctx, e.liquidator, e.account)
    _refuse_bankrupt_parties(ctx, book, e.account, e.liquidator)
    cfg = ctx.config.drift
    assert cfg is not None
    if not isinstance(e.market, str) or e.market not in cfg.perps:
        ctx.refuse(Code.UNKNOWN_MARKET, f"market: {e.market!r} is not a perp market "
                   f"(perps: {', '.join(sorted(cfg.perps)) or 'none'})",
                   field="market", market=str(e.market))
    if e.max_base != -1:
        ctx.positive(e.max_base, "max_base")
    perp_cfg = cfg.perps[e.market]
    step = perp_cfg.order_step_size
    buffer = cfg.margin_buffer()
    ctx.require_prices([*_assets(ctx, book, e.account), e.market], for_liquidation=True)
    # MarginContext::liquidation: the requirement is met without the buffer
    # (meets_cross_margin_requirement), the shortage counts it.
    calc = drift_margin(ctx.config, book, ctx.prices, e.account, MAINTENANCE, buffer)
    slot = drift_slot(ctx.config, ctx.time)
    if _liquidation_gate(ctx, book, e.account, calc):
        return {"base_transfer": 0, "quote_transfer": 0, "liquidator_fee": 0, "if_fee": 0,
                "margin_shortage": calc.margin_shortage, "to_cover": 0, "max_pct": 0,
                "liquidator_fee_rate": 0, "slot": slot, "exited_liquidation": True}
    held = book.account(e.account)
    if e.market not in held.perps or not any(held.perps[e.market]):
        ctx.refuse(Code.DRIFT_USER_HAS_NO_POSITION_IN_MARKET,
                   f"{e.account} has no position in perp market {e.market}",
                   market=e.market)
    base, quote = held.perps[e.market]
    if base == 0:
        ctx.refuse(Code.DRIFT_POSITION_DOESNT_HAVE_OPEN_POSITION_OR_ORDERS,
                   f"{e.account}'s {e.market} position has no base (quote {quote})",
                   market=e.market)
    liquidator_max = drift_step_floor(
        liquidation.U64_MAX if e.max_base == -1 else e.max_base, step)
    if liquidator_max == 0:
        ctx.refuse(Code.DRIFT_INVALID_BASE_ASSET_AMOUNT_FOR_LIQUIDATE_PERP,
                   f"max_base: {e.max_base} is below the step size {step}",
                   field="max_base", step=step)
    plan = drift_perp_liq_plan(ctx.config, book, ctx.prices, e.account, e.market, calc,
                               None if e.max_base == -1 else liquidator_max, slot=slot)
    amount, value = plan.base_transfer, plan.quote_transfer
    fee_quote, if_quote = plan.liquidator_fee, plan.if_fee
    shortage, to_cover = plan.margin_shortage, plan.to_cover
    # The account fills in the closing direction, the liquidator in the position's.
    sign = 1 if base > 0 else -1
    liq_held = book.account(e.liquidator)
    l_base, l_quote = liq_held.perps.get(e.market, (0, 0))
    user_after = (base - sign * amount, quote + sign * value - fee_quote - if_quote)
    liq_after = (l_base + sign * amount, l_quote - sign * value + fee_quote)
    for who, position in ((e.account, user_after), (e.liquidator, liq_after)):
        if abs(position[0]) % step:
            ctx.refuse(Code.DRIFT_INVALID_PERP_POSITION,
                       f"{who}'s {e.market} base {position[0]} would not be a multiple of "
                       f"the step size {step}", account=who, base=position[0], step=step)
    after = book.with_account(e.account, replace(held, perps={**held.perps,
                                                               e.market: user_after}))
    liq_held = after.account(e.liquidator)
    after = after.with_account(e.liquidator, replace(liq_held, perps={**liq_held.perps,
                                                                      e.market: liq_after}))
    after = after.with_liquidation_fee(e.market, if_quote)
    _require_initial(ctx, after, e.liquidator, "liquidator")
    # increment_free_margin; exit_liquidation once the base covers the shortage
    covered = amount > 0 and amount >= to_cover
    after = drift_after_liquidation(after, e.account, slot,
                                    _freed(ctx, after, e.account, shortage), covered)
    ctx.set_family(after)
    return {"base_transfer": amount, "quote_transfer": value, "liquidator_fee": fee_quote,
            "if_fee": if_quote, "margin_shortage": shortage, "to_cover": to_cover,
            "max_pct": plan.max_pct, "liquidator_fee_rate": plan.liquidator_fee_rate,
            "slot": slot, "exited_liquidation": covered}


def resolve_perp_bankruptcy(ctx: HandlerContext, e: DriftResolvePerpBankruptcy
                            ) -> dict[str, Any]:
    book = _liquidation_book(ctx, e.liquidator, e.account)   # handle_resolve_perp_bankruptcy
    cfg = ctx.config.drift
    assert cfg is not None
    if not isinstance(e.market, str) or e.market not in cfg.perps:
        ctx.refuse(Code.UNKNOWN_MARKET, f"market: {e.market!r} is not a perp market "
                   f"(perps: {', '.join(sorted(cfg.perps)) or 'none'})",
                   field="market", market=str(e.market))
    book = _bankruptcy_gate(ctx, book, e.account, e.liquidator)
    held = book.account(e.account)
    if e.market not in held.perps:
        ctx.refuse(Code.DRIFT_USER_HAS_NO_POSITION_IN_MARKET,
                   f"{e.account} has no position in perp market {e.market}", market=e.market)
    quote = held.perps[e.market][1]
    if quote >= 0:
        ctx.refuse(Code.DRIFT_INVALID_PERP_POSITION_TO_LIQUIDATE,
                   f"{e.account}'s {e.market} quote is {quote}: it must have negative pnl",
                   market=e.market, quote=quote)
    plan = drift_perp_bankruptcy_plan(ctx.config, book, e.account, e.market)
    if plan is None:
        ctx.refuse(Code.DRIFT_CANT_RESOLVE_PERP_BANKRUPTCY,
                   f"no position is open in {e.market}: the loss cannot be socialized "
                   "(total base asset amount 0)", market=e.market)
    after = book
    for account, paid in plan.payments.items():
        x = after.account(account)
        b, q = x.perps[e.market]
        # the funding payment, settled into the position's quote at once
        after = after.with_account(account, replace(x, perps={**x.perps,
                                                               e.market: (b, q + paid)}))
    x = after.account(e.account)
    after = after.with_account(e.account, replace(x, perps={**x.perps, e.market: (0, 0)}))
    m = e.market
    after = replace(
        after, insurance_fund=after.insurance_fund - plan.if_payment,
        fee_pools={**after.fee_pools, m: after.fee_pools.get(m, 0) - plan.fee_pool_payment},
        settled_insurance={**after.settled_insurance,
                           m: after.settled_insurance.get(m, 0) + plan.if_payment},
        social_loss={**after.social_loss,
                     m: after.social_loss.get(m, 0) + plan.loss_to_socialize})
    if not drift_is_bankrupt(after, e.account):   # exit_bankruptcy: out of liquidation
        after = after.with_liquidation(e.account, None)
    ctx.set_family(after)
    return {"loss": plan.loss, "if_payment": plan.if_payment,
            "fee_pool_payment": plan.fee_pool_payment,
            "loss_to_socialize": plan.loss_to_socialize,
            "socialized_charged": plan.socialized_charged,
            "cumulative_funding_rate_delta": plan.funding_rate_delta,
            "payments": dict(plan.payments)}


def resolve_spot_bankruptcy(ctx: HandlerContext, e: DriftResolveSpotBankruptcy
                            ) -> dict[str, Any]:
    book = _liquidation_book(ctx, e.liquidator, e.account)   # handle_resolve_spot_bankruptcy
    market = _spot(ctx, e.market)
    book = _bankruptcy_gate(ctx, book, e.account, e.liquidator)
    held = book.account(e.account)
    if market not in held.spot:   # get_spot_position: the account never held the market
        ctx.refuse(Code.DRIFT_COULD_NOT_FIND_SPOT_POSITION,
                   f"{e.account} has no position in spot market {market}", market=market)
    if held.spot[market] >= 0:   # bankrupt: no deposit, so a position emptied (0)
        ctx.refuse(Code.DRIFT_USER_HAS_INVALID_BORROW,
                   f"{e.account}'s {market} balance {held.spot[market]} is not a borrow",
                   market=market)
    # the margin calculation (recorded by Drift) and the social loss's value need prices
    ctx.require_prices([*_assets(ctx, book, e.account), market], for_liquidation=True)
    calc = drift_margin(ctx.config, book, ctx.prices, e.account, MAINTENANCE)
    try:
        plan = drift_spot_bankruptcy_plan(ctx.config, book, ctx.prices, e.account, market)
    except ValueError as exc:
        ctx.refuse(Code.DRIFT_MATH_ERROR,
                   f"{market}: the loss is more than the market's deposits hold ({exc})",
                   market=market)
    after = _moved(book, e.account, market, plan.borrow)
    for account, cut in plan.haircuts.items():
        after = _moved(after, account, market, -cut)
    cfg = ctx.config.drift
    assert cfg is not None
    if market == cfg.quote:
        after = replace(after, insurance_fund=after.insurance_fund - plan.if_payment)
    else:
        after = replace(after, spot_insurance={
            **after.spot_insurance,
            market: after.spot_insurance.get(market, 0) - plan.if_payment})
    after = replace(
        after,
        deposit_interest={**after.deposit_interest, market: plan.interest_after},
        spot_social_loss={**after.spot_social_loss,
                          market: after.spot_social_loss.get(market, 0) + plan.borrow})
    if not drift_is_bankrupt(after, e.account):   # exit_cross_margin_bankruptcy
        after = after.with_liquidation(e.account, None)
    ctx.set_family(after)
    return {"borrow_amount": plan.borrow, "if_payment": plan.if_payment,
            "loss_to_socialize": plan.loss_to_socialize,
            "socialized_charged": plan.socialized_charged,
            "cumulative_deposit_interest_delta": plan.interest_delta,
            "cumulative_deposit_interest": plan.interest_after,
            "quote_social_loss": plan.quote_social_loss,
            "outside_charged": plan.outside_charged,
            "margin_requirement": calc.margin_requirement,
            "total_collateral": calc.total_collateral,
            "haircuts": dict(plan.haircuts)}


def liquidate_perp_pnl_for_deposit(ctx: HandlerContext, e: DriftLiquidatePerpPnlForDeposit
                                   ) -> dict[str, Any]:
    book = _liquidation_book(ctx, e.liquidator, e.account)   # handle_liquidate_perp_pnl_for_deposit
    cfg = ctx.config.drift
    assert cfg is not None
    market = e.perp_market
    if not isinstance(market, str) or market not in cfg.perps:
        ctx.refuse(Code.UNKNOWN_MARKET, f"perp_market: {market!r} is not a perp market "
                   f"(perps: {', '.join(sorted(cfg.perps)) or 'none'})",
                   field="perp_market", market=str(market))
    asset = _spot(ctx, e.asset_market, "asset_market")
    cap = (None if e.max_pnl_transfer == -1
           else ctx.positive(e.max_pnl_transfer, "max_pnl_transfer"))
    if drift_is_bankrupt(book, e.account):
        ctx.refuse(Code.DRIFT_USER_BANKRUPT, f"{e.account} is bankrupt")
    if drift_is_bankrupt(book, e.liquidator):
        ctx.refuse(Code.DRIFT_USER_BANKRUPT, f"liquidator {e.liquidator} is bankrupt")
    _refuse_bankrupt_parties(ctx, book, e.account, e.liquidator)
    held = book.account(e.account)
    if market not in held.perps:
        ctx.refuse(Code.DRIFT_USER_HAS_NO_POSITION_IN_MARKET,
                   f"{e.account} has no position in perp market {market}", market=market)
    if asset not in held.spot:
        ctx.refuse(Code.DRIFT_COULD_NOT_FIND_SPOT_POSITION,
                   f"{e.account} has no position in spot market {asset}", market=asset)
    if held.spot[asset] < 0:
        ctx.refuse(Code.DRIFT_WRONG_SPOT_BALANCE_TYPE,
                   f"{e.account}'s {asset} balance {held.spot[asset]} is a borrow, not a "
                   "deposit", market=asset)
    base, quote = held.perps[market]
    if base != 0:
        ctx.refuse(Code.DRIFT_INVALID_PERP_POSITION_TO_LIQUIDATE,
                   f"{e.account}'s {market} position still has base {base} (liquidate the "
                   "perp first)", market=market, base=base)
    if quote >= 0:
        ctx.refuse(Code.DRIFT_INVALID_PERP_POSITION_TO_LIQUIDATE,
                   f"{e.account}'s {market} quote is {quote}: it must have negative pnl",
                   market=market, quote=quote)
    ctx.require_prices([*_assets(ctx, book, e.account), market, asset, cfg.quote],
                       for_liquidation=True)
    # MarginContext::liquidation: met without the buffer, the shortage counts it
    calc = drift_margin(ctx.config, book, ctx.prices, e.account, MAINTENANCE,
                        cfg.margin_buffer())
    slot = drift_slot(ctx.config, ctx.time)
    if _liquidation_gate(ctx, book, e.account, calc):
        return {"pnl_transfer": 0, "asset_transfer": 0,
                "margin_shortage": calc.margin_shortage, "to_cover": 0,
                "bankrupt": drift_is_bankrupt(book, e.account), "max_pct": 0, "slot": slot,
                "exited_liquidation": True}
    plan = drift_perp_pnl_liq_plan(ctx.config, book, ctx.prices, e.account, market, asset,
                                   calc, cap, slot=slot)
    if plan.max_pct * plan.to_cover < liquidation.LIQUIDATION_PCT_PRECISION:
        # "max_pnl_allowed_to_be_transferred == 0": Drift enters the liquidation, moves
        # nothing and succeeds
        ctx.set_family(drift_after_liquidation(book, e.account, slot, 0, False))
        return {"pnl_transfer": 0, "asset_transfer": 0,
                "margin_shortage": plan.margin_shortage, "to_cover": plan.to_cover,
                "bankrupt": drift_is_bankrupt(book, e.account), "max_pct": plan.max_pct,
                "slot": slot, "exited_liquidation": False}
    if plan.pnl_transfer == 0 or plan.asset_transfer == 0:
        ctx.refuse(Code.DRIFT_INVALID_LIQUIDATION,
                   f"nothing to move: {e.account}'s {asset} deposit "
                   f"{held.spot[asset]} pays for no quote of its {market} pnl {quote}",
                   market=market)
    pnl, paid = plan.pnl_transfer, plan.asset_transfer
    after = _moved(book, e.account, asset, -paid)
    after = _moved(after, e.liquidator, asset, paid)
    x = after.account(e.account)
    after = after.with_account(e.account, replace(x, perps={**x.perps,
                                                             market: (0, quote + pnl)}))
    x = after.account(e.liquidator)
    l_base, l_quote = x.perps.get(market, (0, 0))
    after = after.with_account(e.liquidator, replace(x, perps={
        **x.perps, market: (l_base, l_quote - pnl)}))
    _require_initial(ctx, after, e.liquidator, "liquidator")
    covered = pnl >= plan.to_cover
    after = drift_after_liquidation(after, e.account, slot,
                                    _freed(ctx, after, e.account, plan.margin_shortage),
                                    covered)
    ctx.set_family(after)
    return {"pnl_transfer": pnl, "asset_transfer": paid,
            "margin_shortage": plan.margin_shortage, "to_cover": plan.to_cover,
            "bankrupt": drift_is_bankrupt(after, e.account), "max_pct": plan.max_pct,
            "slot": slot, "exited_liquidation": covered}


__all__ = ["deposit", "liquidate_perp", "liquidate_perp_pnl_for_deposit", "liquidate_spot",
           "perp_trade",
           "resolve_perp_bankruptcy", "resolve_spot_bankruptcy", "withdraw"]


def set_user_status_to_being_liquidated(ctx: HandlerContext,
                                        e: DriftSetUserStatusToBeingLiquidated
                                        ) -> dict[str, Any]:
    """``controller/liquidation.rs`` ``set_user_status_to_being_liquidated``: a keeper puts
    an account below its maintenance requirement into liquidation without moving
    anything, so that it can no longer trade or withdraw out of it."""
    ctx.account_id(e.account)
    book = ctx.drift_book()
    _refuse_bankrupt(ctx, book, e.account)
    if e.account in book.liquidations:
        ctx.refuse(Code.DRIFT_USER_IS_BEING_LIQUIDATED,
                   f"{e.account} is already being liquidated (since slot "
                   f"{book.liquidations[e.account].start_slot})", account=e.account)
    ctx.require_prices(_assets(ctx, book, e.account), for_liquidation=True)
    # MarginContext::liquidation: meets_cross_margin_requirement, without the buffer
    calc = drift_margin(ctx.config, book, ctx.prices, e.account, MAINTENANCE,
                        _cfg(ctx).margin_buffer())
    if calc.meets:
        _refuse_sufficient_collateral(ctx, e.account, calc)
    slot = drift_slot(ctx.config, ctx.time)
    ctx.set_family(drift_enter_liquidation(book, e.account, slot))
    return {"slot": slot, "total_collateral": calc.total_collateral,
            "margin_requirement": calc.margin_requirement,
            "margin_shortage": calc.margin_shortage}


def _high_leverage_users(book: DriftBook) -> int:
    """``HighLeverageModeConfig.current_users``: the accounts in ``HighLeverage`` mode (not
    those in ``HighLeverageMaintenance``, which Drift counts apart)."""
    return sum(1 for held in book.accounts.values()
               if held.margin_mode is MarginMode.HIGH_LEVERAGE)


def enable_high_leverage_mode(ctx: HandlerContext, e: DriftEnableHighLeverageMode
                              ) -> dict[str, Any]:
    """``handle_enable_user_high_leverage_mode``: ``validate_user_can_enable_high_leverage_
    mode`` (not in the mode already, ``DefaultError``; the maintenance requirement met,
    ``InsufficientCollateral``), then ``HighLeverageModeConfig::enable_high_leverage``
    (``current_users + 1 <= max_users``, ``InvalidHighLeverageModeConfig``)."""
    ctx.account_id(e.account)
    book = ctx.drift_book()
    held = book.account(e.account)
    if held.margin_mode is MarginMode.HIGH_LEVERAGE:
        ctx.refuse(Code.DRIFT_DEFAULT_ERROR, f"{e.account} is already in high leverage mode",
                   account=e.account)
    ctx.require_prices(_assets(ctx, book, e.account))
    calc = drift_margin(ctx.config, book, ctx.prices, e.account, MAINTENANCE)
    if not calc.meets:
        ctx.refuse(Code.DRIFT_INSUFFICIENT_COLLATERAL,
                   f"{e.account} does not meet its maintenance margin requirement (total "
                   f"collateral {calc.total_collateral} < {calc.margin_requirement})",
                   total_collateral=calc.total_collateral,
                   margin_requirement=calc.margin_requirement)
    users, limit = _high_leverage_users(book) + 1, _cfg(ctx).high_leverage_max_users
    if users > limit:
        ctx.refuse(Code.DRIFT_INVALID_HIGH_LEVERAGE_MODE_CONFIG,
                   f"high leverage mode is full: {users} users would exceed "
                   f"drift.high_leverage_max_users = {limit}", current_users=users - 1,
                   max_users=limit)
    ctx.set_family(book.with_account(e.account, replace(
        held, margin_mode=MarginMode.HIGH_LEVERAGE)))
    return {"margin_mode": MarginMode.HIGH_LEVERAGE.value, "current_users": users,
            "max_users": limit}


def disable_high_leverage_mode(ctx: HandlerContext, e: DriftDisableHighLeverageMode
                               ) -> dict[str, Any]:
    """``handle_disable_user_high_leverage_mode`` (``instructions/keeper.rs``), signed by
    the account's authority (so without the 2,250-slot inactivity rule a keeper meets).

    The new mode is ``Default`` (``disable_maintenance``: only from
    ``HighLeverageMaintenance``; else when the account holds no position in a market with
    the mode) or ``HighLeverageMaintenance`` (only from ``HighLeverage``); an account with
    perp base and a position in a market with the mode must then meet its initial
    requirement with a 1% buffer (``get_margin_calculation_for_disable_high_leverage_
    mode``). Every refusal is Drift's ``DefaultError``."""
    ctx.account_id(e.account)
    book = ctx.drift_book()
    held = book.account(e.account)
    old = held.margin_mode
    if not old.is_high_leverage(MAINTENANCE):
        ctx.refuse(Code.DRIFT_DEFAULT_ERROR, f"{e.account} is not in high leverage mode",
                   account=e.account)
    enabled = [m for m, p in held.perps.items() if any(p)
               and drift_perp_market(ctx.config, m).high_leverage_enabled]
    if e.disable_maintenance:
        if old is not MarginMode.HIGH_LEVERAGE_MAINTENANCE:
            ctx.refuse(Code.DRIFT_DEFAULT_ERROR,
                       f"disable_maintenance: {e.account} must be in high leverage "
                       f"maintenance mode (is {old.value})", field="disable_maintenance")
        new = MarginMode.DEFAULT
    elif not enabled:
        new = MarginMode.DEFAULT
    else:
        if old is not MarginMode.HIGH_LEVERAGE:
            ctx.refuse(Code.DRIFT_DEFAULT_ERROR,
                       f"{e.account} must be in high leverage mode to move to high leverage "
                       f"maintenance mode (is {old.value}; positions in {', '.join(enabled)})",
                       account=e.account)
        new = MarginMode.HIGH_LEVERAGE_MAINTENANCE
    after = book.with_account(e.account, replace(held, margin_mode=new))
    out: dict[str, Any] = {"margin_mode": new.value}
    liabilities = any(p[0] for p in held.perps.values())
    if liabilities and enabled:
        ctx.require_prices(_assets(ctx, after, e.account))
        calc = drift_margin(ctx.config, after, ctx.prices, e.account, INITIAL,
                            DISABLE_HIGH_LEVERAGE_BUFFER)
        if not calc.meets_with_buffer:
            ctx.refuse(Code.DRIFT_DEFAULT_ERROR,
                       f"{e.account} does not meet its initial margin requirement with the "
                       f"1% buffer: total collateral "
                       f"{calc.total_collateral + calc.total_collateral_buffer} < "
                       f"{calc.margin_requirement_plus_buffer} (quote, 1e6)",
                       account=e.account, total_collateral=calc.total_collateral,
                       margin_requirement_plus_buffer=calc.margin_requirement_plus_buffer)
        out["margin_requirement_plus_buffer"] = calc.margin_requirement_plus_buffer
    ctx.set_family(after)
    return out
