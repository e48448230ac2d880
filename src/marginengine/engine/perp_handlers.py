"""The engine's perp handlers: quote deposits, trades, funding, liquidation and the
backstop waterfall (insurance fund, then auto-deleveraging, then socialized loss).

Functions take the handler context and the event and refuse through ``ctx.refuse``; the
engine wires them like its lending handlers, inside the same transaction, log and checks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from marginengine.config.perp import PPM, PerpMarketConfig
from marginengine.decisions import Code
from marginengine.engine.context import HandlerContext
from marginengine.engine.events import (
    DepositQuote,
    FundInsurance,
    LiquidatePerp,
    Trade,
    TransferQuote,
    WithdrawQuote,
)
from marginengine.engine.state import StateReads
from marginengine.fixedpoint import Rounding, div, format_units
from marginengine.ledger import LedgerError
from marginengine.ledger.perp import quote_value
from marginengine.liquidation.adl import (
    AdlCandidate,
    AdlPolicy,
    allocate_adl,
    dydx_can_deleverage,
    dydx_start_offset,
    rank_adl,
)
from marginengine.liquidation.backstop import insurance_cover, socialize_over_open_interest
from marginengine.liquidation.dydx_block_limits import (
    BlockLimitRefusal,
    after_liquidation,
    already_liquidated,
    block_limit_refusal,
    max_notional_liquidatable,
)
from marginengine.liquidation.perp_liquidation import PerpLiquidationPlan, dydx_close_bankruptcy
from marginengine.liquidation.perp_liquidation import plan_perp_liquidation as plan_perp
from marginengine.liquidation.perp_prices import dydx_insurance_fund_delta
from marginengine.margin import InitialScope, MarginKind, MarginRisk
from marginengine.margin.funding import funding_step
from marginengine.margin.validation import dydx_undercollateralized_transition, fmt_usd


def _perp(ctx: HandlerContext, market: str) -> PerpMarketConfig:
    if market not in ctx.config.perps:
        ctx.refuse(Code.UNKNOWN_MARKET, f"market: unknown perp market {market!r}",
                   field="market", market=market)
    return ctx.config.perps[market]


def _quote_unit(ctx: StateReads, perp: PerpMarketConfig) -> int:
    return ctx.config.markets[perp.quote].unit


def _units(perp: PerpMarketConfig, size: int) -> str:
    return format_units(size, perp.base_decimals)


def _same_owner(a: str, b: str) -> bool:
    return b.startswith(a + "/") or a.startswith(b + "/")


# ---------------------------------------------------------------------- quote balances
def deposit_quote(ctx: HandlerContext, e: DepositQuote) -> dict[str, Any]:
    ctx.account_id(e.account)
    if not ctx.config.perps:
        # A perp balance is valued in the perps' quote asset; without perps there is none.
        ctx.refuse(Code.EVENT_NOT_SUPPORTED,
                   f"{ctx.rules.family} has no perp markets: no perp quote balance to credit")
    ctx.positive(e.amount)
    ctx.ledger.deposit_quote(e.account, e.amount)
    return {"perp_quote": ctx.ledger.perp_quote_of(e.account)}


def withdraw_quote(ctx: HandlerContext, e: WithdrawQuote) -> dict[str, Any]:
    ctx.existing(e.account)
    ctx.positive(e.amount)
    settle_all_funding(ctx, e.account)
    try:
        ctx.ledger.withdraw_quote(e.account, e.amount)
    except LedgerError as exc:
        ctx.refuse(Code.INSUFFICIENT_QUOTE, str(exc), amount=e.amount)
    if ctx.has_risk(e.account):
        ctx.require_prices(ctx.priced_assets(e.account))
        ctx.require_initial_margin(e.account)
    return {"perp_quote": ctx.ledger.perp_quote_of(e.account)}


def transfer_quote(ctx: HandlerContext, e: TransferQuote) -> dict[str, Any]:
    ctx.existing(e.source, "source")
    ctx.account_id(e.target, "target")
    ctx.positive(e.amount)
    if not _same_owner(e.source, e.target):
        ctx.refuse(Code.NOT_A_SUBACCOUNT,
                   f"target: {e.target!r} is not an isolated sub-account of {e.source!r} "
                   "(or its owner); sub-accounts are named owner/label", field="target")
    settle_all_funding(ctx, e.source)
    try:
        ctx.ledger.move_quote(e.source, e.target, e.amount)
    except LedgerError as exc:
        ctx.refuse(Code.INSUFFICIENT_QUOTE, str(exc), amount=e.amount)
    if ctx.has_risk(e.source):
        ctx.require_prices(ctx.priced_assets(e.source))
        ctx.require_initial_margin(e.source)
    return {}


def fund_insurance(ctx: HandlerContext, e: FundInsurance) -> dict[str, Any]:
    ctx.positive(e.amount)
    market = e.market or None
    if market is not None:
        perp = _perp(ctx, market)
        if perp.insurance_fund != "market":
            ctx.refuse(Code.SHARED_INSURANCE_FUND,
                       f"market: {market} uses the shared insurance fund", field="market")
    ctx.ledger.fund_insurance(e.amount, market)
    return {"insurance": ctx.ledger.insurance_of(market)}


# ---------------------------------------------------------------------- funding
def settle_all_funding(ctx: HandlerContext, account_id: str) -> int:
    """Settle every position's funding of an account; return what it paid in total."""
    account = ctx.ledger.accounts.get(account_id)
    paid = 0
    for market in sorted(account.perps if account else ()):
        paid += ctx.ledger.settle_funding(account_id, market,
                                             ctx.config.perps[market].base_unit)
    return paid


def accrue_funding(ctx: HandlerContext, previous_time: int) -> list[dict[str, Any]]:
    """Apply the funding of every interval boundary crossed since ``previous_time``.

    The rate and the index move are the market's formula's (:func:`~marginengine.margin.
    funding.funding_step`: Binance, Hyperliquid or dYdX v4).
    """
    applied = []
    now = ctx.ledger.time
    for market, perp in sorted(ctx.config.perps.items()):
        interval = perp.funding.interval
        crossed = now // interval - previous_time // interval
        if crossed <= 0 or market not in ctx.prices:
            continue
        step = funding_step(perp, ctx.mark(market), ctx.prices[market],
                            _quote_unit(ctx, perp))
        if step.index_delta == 0:
            continue
        ctx.ledger.accrue_funding(market, step.index_delta * crossed, now)
        entry: dict[str, Any] = {"market": market, "rate": str(step.rate),
                                 "intervals": crossed}
        if step.rate_8h_ppm is not None:
            entry["rate_8h_ppm"] = step.rate_8h_ppm
        applied.append(entry)
    return applied


# ---------------------------------------------------------------------- trades
def _risk_increasing(old: int, new: int) -> bool:
    return abs(new) > abs(old) or (old != 0 and new != 0 and (old > 0) != (new > 0))


def trade(ctx: HandlerContext, e: Trade) -> dict[str, Any]:
    ctx.account_id(e.buyer, "buyer")
    ctx.account_id(e.seller, "seller")
    perp = _perp(ctx, e.market)
    ctx.positive(e.size, "size")
    ctx.positive(e.price, "price")
    if e.buyer == e.seller:
        ctx.refuse(Code.SELF_TRADE, "an account cannot trade with itself")
    step = perp.step_units
    if e.size % step:
        ctx.refuse(Code.STEP_SIZE, f"size: {_units(perp, e.size)} is not a multiple of the "
                   f"step size {perp.step_size}", field="size", size=e.size, step=step)
    ledger = ctx.ledger
    sides = ((e.buyer, e.size), (e.seller, -e.size))
    increasing = [(a, s) for a, s in sides
                  if _risk_increasing(ledger.perp_size(a, e.market),
                                      ledger.perp_size(a, e.market) + s)]
    for account_id, _ in increasing:
        ctx.require_prices([e.market, *ctx.priced_assets(account_id)])
    for account_id, _ in sides:
        settle_all_funding(ctx, account_id)
    # dYdX v4 checks every subaccount of a match, not only the ones adding risk: below
    # initial margin afterwards, the match must leave it no riskier (_require_dydx_update).
    dydx = perp.margin_model == "dydx-v4"
    before = {a: _dydx_risk(ctx, a) for a, _ in sides if _prices_usable(ctx, a)} \
        if dydx else {}
    quote_unit = _quote_unit(ctx, perp)
    for account_id, size in sides:
        ledger.fill(account_id, e.market, size, e.price, perp.base_unit, quote_unit)
    state = ledger.clearing.markets[e.market]
    cap = perp.oi_cap_units
    if cap and state.open_interest > cap and any(increasing):
        ctx.refuse(Code.OPEN_INTEREST_CAP,
                   f"open interest would reach {_units(perp, state.open_interest)} "
                   f"{e.market}, above the cap {perp.oi_cap}",
                   open_interest=state.open_interest, cap=cap)
    index = ctx.prices.get(e.market, e.price)
    basis = div(abs(e.price - index) * PPM, index, Rounding.DOWN) * (1 if e.price >= index
                                                                     else -1)
    alpha = perp.ppm("mark_basis_alpha")
    ema = state.basis_ema_ppm + (basis - state.basis_ema_ppm) * alpha // PPM
    ledger.record_trade(e.market, e.price, ema)
    if dydx:
        adding = {a for a, _ in increasing}
        for account_id, _ in sides:
            if account_id in before:
                _require_dydx_update(ctx, account_id, before[account_id],
                                     account_id in adding)
    else:
        for account_id, _ in increasing:
            ctx.require_initial_margin(account_id)
    return {"notional": quote_value(e.size, e.price, perp.base_unit, quote_unit, Rounding.UP)}


def _prices_usable(ctx: HandlerContext, account_id: str) -> bool:
    """Whether every price the account's margin reads is usable now (a side that only
    reduces risk may trade on stale prices; its dYdX check then is skipped)."""
    return all(ctx.oracles[a].refusal(ctx.time) is None for a in ctx.priced_assets(account_id))


def _dydx_risk(ctx: HandlerContext, account_id: str) -> MarginRisk:
    """The account's net collateral (at the margin valuation) and both requirements, the
    inputs of dYdX's transition rule."""
    initial = ctx.margin_state(account_id, MarginKind.INITIAL)
    maintenance = ctx.margin_state(account_id, MarginKind.MAINTENANCE)
    return MarginRisk(maintenance.value, initial.requirement, maintenance.requirement)


def _require_dydx_update(ctx: HandlerContext, account_id: str, before: MarginRisk,
                         adding: bool) -> None:
    """dYdX v4 ``internalCanUpdateSubaccountsWithLeverage`` (x/subaccounts/keeper/
    subaccount.go): a side that meets initial margin after the match passes; one below it
    passes only if :func:`~marginengine.margin.validation.dydx_undercollateralized_transition`
    allows the move from ``before``. A side adding risk is refused with the initial-margin
    refusal every other model gives it; a side reducing risk with the transition's."""
    refusal = ctx.margin_model.initial_refusal(ctx.ledger, ctx.initial_valuation(),
                                               account_id, InitialScope.ALWAYS)
    if refusal is None:
        return
    transition = dydx_undercollateralized_transition(account_id, before,
                                                     _dydx_risk(ctx, account_id))
    if transition is not None:
        ctx.refuse_with(refusal if adding else transition)


# ---------------------------------------------------------------------- liquidation
def _maintenance_at(reads: StateReads, account_id: str, market: str) -> Callable[[int], int]:
    """The position's maintenance requirement at another size (the engine's margin model)."""
    marks = reads.valuation().marks

    def maintenance_at(size: int) -> int:
        return reads.perp_model.position_risk(reads.ledger, account_id, market, marks,
                                              size=size).maintenance

    return maintenance_at


def block_limits(reads: StateReads, perp: PerpMarketConfig) -> tuple[int | None, int | None] | None:
    """The market's dYdX v4 subaccount block limits ``(max_notional_liquidated,
    max_insurance_lost)`` in quote smallest units (``None`` in a pair: that one is off), or
    ``None`` when neither is set (no block accounting at all, as before they existed)."""
    if perp.max_notional_liquidated is None and perp.max_insurance_lost is None:
        return None
    amounts = perp.quote_amounts(_quote_unit(reads, perp))
    return amounts.get("max_notional_liquidated"), amounts.get("max_insurance_lost")


def plan_perp_liquidation(reads: StateReads, account_id: str, market: str,
                          requested: int = 0) -> PerpLiquidationPlan:
    """Plan the liquidation of ``account_id``'s ``market`` position now (see
    :func:`marginengine.liquidation.perp_liquidation.plan_perp_liquidation`), whole while
    its owner is in the market's ``partial_cooldown`` (:func:`in_partial_cooldown`), cut to
    what is left of the account's ``max_notional_liquidated`` in the block (dYdX v4)."""
    perp = reads.config.perps[market]
    limits = block_limits(reads, perp)
    left = None
    if limits is not None:
        info = reads.ledger.block_liquidation_of(account_id)
        if market not in info.markets:
            left = max_notional_liquidatable(info, limits[0])
    return plan_perp(perp, reads.bucket(account_id), market, requested,
                     _maintenance_at(reads, account_id, market),
                     whole=in_partial_cooldown(reads, account_id, perp), max_notional=left)


def _refuse_block_limit(ctx: HandlerContext, refusal: BlockLimitRefusal, account_id: str,
                        market: str) -> None:
    """Refuse a liquidation dYdX's subaccount block limits do not allow (its error names)."""
    if not refusal.limit:
        ctx.refuse(refusal.code, f"{account_id} has already been liquidated in {market} in "
                   "this block (dYdX v4: one liquidation per subaccount and perpetual per "
                   "block)", market=market, limit="", allowed=0, requested=0)
    ctx.refuse(refusal.code,
               f"liquidating {account_id} in {market} needs {refusal.requested} quote units "
               f"of {refusal.limit}, only {refusal.allowed} are left in this block",
               market=market, limit=refusal.limit, allowed=refusal.allowed,
               requested=refusal.requested)


def in_partial_cooldown(reads: StateReads, account_id: str, perp: PerpMarketConfig) -> bool:
    """Whether ``account_id``'s owner was partially liquidated less than
    ``perp.partial_cooldown`` seconds ago (Hyperliquid docs, Trading > Liquidations: "After
    a block where any position of a user is partially liquidated, there is a cooldown period
    of 30 seconds. During this cooldown period, all market liquidation orders for that user
    will be for the entire position."). A liquidation at the same engine time as the partial
    one comes after it in the log, so it is inside the cooldown; at ``t + 30`` it is over."""
    if not perp.partial_cooldown:
        return False
    since = reads.ledger.partial_liquidation_time(account_id)
    return since is not None and reads.ledger.time - since < perp.partial_cooldown


def liquidate_perp(ctx: HandlerContext, e: LiquidatePerp) -> dict[str, Any]:
    ctx.account_id(e.liquidator, "liquidator")
    ctx.existing(e.account)
    perp = _perp(ctx, e.market)
    if e.size < 0:
        ctx.refuse(Code.INVALID_AMOUNT, f"size: must not be negative (got {e.size})",
                   field="size", value=e.size)
    if e.liquidator == e.account:
        ctx.refuse(Code.SELF_LIQUIDATION, "an account cannot liquidate itself")
    ledger = ctx.ledger
    size = ledger.perp_size(e.account, e.market)
    if size == 0:
        ctx.refuse(Code.NO_POSITION, f"{e.account} has no position in {e.market}",
                   account=e.account, market=e.market)
    ctx.require_prices([e.market, *ctx.priced_assets(e.account)], for_liquidation=True)
    settle_all_funding(ctx, e.account)
    if not ctx.is_liquidatable(e.account):
        state = ctx.margin_state(e.account, MarginKind.MAINTENANCE)
        ctx.refuse(Code.POSITION_NOT_LIQUIDATABLE,
                   f"{e.account} is not liquidatable: margin {fmt_usd(state.value)} covers "
                   f"the maintenance requirement {fmt_usd(state.requirement)}",
                   value=state.value, requirement=state.requirement)
    limits = block_limits(ctx, perp)
    info = ledger.block_liquidation_of(e.account)
    if limits is not None:
        done = already_liquidated(info, e.market)
        if done is not None:
            _refuse_block_limit(ctx, done, e.account, e.market)
    quote = plan_perp_liquidation(ctx, e.account, e.market, e.size)
    quote_unit = _quote_unit(ctx, perp)
    mark, bankrupt_at, price = quote.mark, quote.bankruptcy_price, quote.price
    underwater, close = quote.underwater, quote.close
    signed_close = -close if size > 0 else close
    fund_market = e.market if perp.insurance_fund == "market" else None
    # ``shortfall``: the loss beyond the bucket's equity this liquidation settles (the
    # negative equity a flat bucket is left with after its closing fills, plus what
    # auto-deleveraging moved onto the counterparties, ``adl_covered``); the waterfall
    # pays it: insurance_paid + adl_covered + socialized + deficit == shortfall.
    details: dict[str, Any] = {
        "closed": close, "mark": mark, "bankruptcy_price": bankrupt_at, "price": price,
        "insurance_paid": 0, "adl": [], "socialized": 0, "deficit": 0, "fee": 0,
        "shortfall": 0, "adl_covered": 0, "backstop_margin": 0,
    }
    if in_partial_cooldown(ctx, e.account, perp):
        # Only inside a cooldown, so outcomes of runs without one are unchanged: when it
        # ends (engine seconds), the reason the whole position was closed.
        since = ctx.ledger.partial_liquidation_time(e.account)
        assert since is not None
        details["cooldown_until"] = since + perp.partial_cooldown
    if quote.partial and perp.partial_cooldown:
        # Hyperliquid: a partial liquidation starts the owner's cooldown.
        ctx.ledger.record_partial_liquidation(e.account)
    notional = abs(quote_value(close, price, perp.base_unit, quote_unit, Rounding.DOWN))
    # What the liquidated account receives for the fill (negative: pays), rounded as
    # Ledger.fill rounds it.
    received = -quote_value(signed_close, price, perp.base_unit, quote_unit,
                            Rounding.UP if signed_close > 0 else Rounding.DOWN)
    fee_ppm = perp.ppm("liquidation_fee")
    # dYdX v4's subaccount block limits (only when configured, so runs without them are
    # unchanged): the fill's net notional at the margin price (GetNetNotional) and its
    # insurance fund delta must fit what is left of the block's limits.
    block_notional = delta = 0
    deleverage_now = False
    if limits is not None:
        assert quote.bankruptcy_quote is not None  # the limits need ``fillable``
        details["limited_by"] = quote.limited_by
        block_notional = abs(quote_value(close, mark, perp.base_unit, quote_unit,
                                         Rounding.DOWN))
        delta = dydx_insurance_fund_delta(received, quote.bankruptcy_quote, fee_ppm)
        refusal = block_limit_refusal(info, e.market, block_notional, delta, *limits)
        if refusal is not None:
            # A fill the insurance limit refuses is not made; a subaccount of negative net
            # collateral is deleveraged instead (dYdX's MaybeDeleverageSubaccount).
            deleverage_now = (refusal.code is Code.LIQUIDATION_EXCEEDS_MAX_INSURANCE_LOST
                              and perp.adl
                              and dydx_can_deleverage(ctx.equity_quote(ctx.bucket(e.account)))[0])
            if not deleverage_now:
                _refuse_block_limit(ctx, refusal, e.account, e.market)
            details["block_limit"] = refusal.limit
    if underwater:
        if quote.bankruptcy_quote is not None:
            # dYdX v4 GetLiquidationInsuranceFundDelta: the fund pays the fill's shortfall
            # below the closed size's bankruptcy quote.
            loss = -dydx_insurance_fund_delta(received, quote.bankruptcy_quote, fee_ppm)
        else:
            loss = abs(quote_value(close, abs(bankrupt_at - price), perp.base_unit,
                                   quote_unit, Rounding.UP))
        if (ledger.insurance_of(fund_market) >= loss or not perp.adl) and not deleverage_now:
            _take_over(ctx, e, perp, signed_close, price)
            if limits is not None:
                ledger.record_block_liquidation(
                    e.account, after_liquidation(info, e.market, block_notional, delta))
            details["shortfall"] = _negative_equity(ctx, e.account)
            if quote.bankruptcy_quote is not None and ctx.bucket(e.account).positions:
                # A bucket that keeps other positions is paid the delta at once (dYdX),
                # as far as the fund goes; a flat one is covered below.
                paid = min(loss, ledger.insurance_of(fund_market))
                if paid > 0:
                    ledger.pay_from_insurance(e.account, paid, fund_market)
                    details["insurance_paid"] += paid
            details["insurance_paid"] += _cover(ctx, e.account, fund_market)
        elif perp.adl_policy == AdlPolicy.DYDX_OFFSET.value:
            # dYdX v4: the whole position is deleveraged, fill by fill at the bankruptcy
            # quote, only for a subaccount of negative net collateral (CanDeleverageSubaccount).
            tnc = ctx.equity_quote(ctx.bucket(e.account))
            if not dydx_can_deleverage(tnc)[0]:
                ctx.refuse(Code.LIQUIDATION_REQUIRES_DELEVERAGING,
                           f"liquidating {e.account} in {e.market} needs {loss} quote units "
                           "from the insurance fund, beyond what it holds or may pay in this "
                           f"block, and its net collateral {tnc} is not negative, so it "
                           "cannot be deleveraged", market=e.market, loss=loss,
                           net_collateral=tnc)
            details["adl"] = _deleverage_dydx(ctx, e.account, e.market, perp, size)
            details["closed"] = abs(size) - abs(ledger.perp_size(e.account, e.market))
            details["price"] = bankrupt_at
            details["adl_covered"] = -tnc  # the net collateral before the fills, negative
            details["shortfall"] = details["adl_covered"] + _negative_equity(ctx, e.account)
            notional = abs(quote_value(details["closed"], mark, perp.base_unit, quote_unit,
                                       Rounding.DOWN))
            ledger.add_volume(e.market, adl=notional)
        else:
            details["adl"] = _deleverage(ctx, e.account, e.market, perp, size, bankrupt_at,
                                         mark)
            # The counterparties close at the bankruptcy price, not at the fill price:
            # they carry the loss the fund could not.
            details["adl_covered"] = loss
            details["shortfall"] = loss + _negative_equity(ctx, e.account)
            price = bankrupt_at
            details["price"] = price
            notional = abs(quote_value(close, price, perp.base_unit, quote_unit, Rounding.DOWN))
            ledger.add_volume(e.market, adl=notional)
    else:
        _take_over(ctx, e, perp, signed_close, price)
        if limits is not None:
            ledger.record_block_liquidation(
                e.account, after_liquidation(info, e.market, block_notional, delta))
        if quote.backstop:
            # Hyperliquid's backstop: no fee; the margin of a flat bucket goes to the
            # liquidator (its perp quote, at most its equity).
            details["backstop_margin"] = _backstop_margin(ctx, e)
            fee = 0
        elif quote.bankruptcy_quote is not None:
            # dYdX v4: floor(|received| x max fee), at most what the fill leaves above the
            # closed size's bankruptcy quote.
            fee = max(dydx_insurance_fund_delta(received, quote.bankruptcy_quote, fee_ppm), 0)
        else:
            after = ctx.equity_quote(ctx.bucket(e.account))
            fee = min(div(notional * fee_ppm, PPM, Rounding.UP), max(after, 0))
        if fee:
            ledger.fee_to_insurance(e.account, fee, fund_market)
        details["fee"] = fee
        details["shortfall"] = _negative_equity(ctx, e.account)
    ledger.add_volume(e.market, liquidated=notional)
    # Whatever negative equity is left (rounding, or a bucket whose other collateral is
    # gone) goes down the rest of the waterfall.
    details["insurance_paid"] += _cover(ctx, e.account, fund_market)
    details["socialized"], details["deficit"] = _socialize(ctx, e.account, e.market)
    _settle_from_supply(ctx, e.account)
    return details


def _take_over(ctx: HandlerContext, e: LiquidatePerp, perp: PerpMarketConfig, signed_close: int,
               price: int) -> None:
    """The liquidator takes the closed size at ``price`` and must hold its margin."""
    ledger = ctx.ledger
    quote_unit = _quote_unit(ctx, perp)
    settle_all_funding(ctx, e.liquidator)
    ledger.fill(e.account, e.market, signed_close, price, perp.base_unit, quote_unit)
    ledger.fill(e.liquidator, e.market, -signed_close, price, perp.base_unit, quote_unit)
    ctx.require_initial_margin(e.liquidator, who="liquidator")


def _backstop_margin(ctx: HandlerContext, e: LiquidatePerp) -> int:
    """Hyperliquid's backstop liquidation: a flat bucket's margin (its perp quote, at most
    its equity) goes to the liquidator; a bucket that keeps other positions keeps it."""
    risk = ctx.bucket(e.account)
    if risk.positions:
        return 0
    margin = min(max(risk.equity_quote(), 0), max(risk.perp_quote, 0))
    if margin:
        ctx.ledger.move_quote(e.account, e.liquidator, margin)
    return margin


def _negative_equity(ctx: HandlerContext, account_id: str) -> int:
    """A flat bucket's negative equity (quote smallest units; 0 while it holds positions or
    has equity left): what the rest of the waterfall must pay."""
    risk = ctx.bucket(account_id)
    if risk.positions:
        return 0
    return max(0, -risk.equity_quote())


def _cover(ctx: HandlerContext, account_id: str, fund_market: str | None) -> int:
    """The insurance fund covers as much of the account's negative perp equity as it can."""
    risk = ctx.bucket(account_id)
    if risk.positions:
        return 0
    short = -risk.equity_quote()
    if short <= 0:
        return 0
    paid = insurance_cover(short, ctx.ledger.insurance_of(fund_market), -risk.perp_quote)
    if paid:
        ctx.ledger.pay_from_insurance(account_id, paid, fund_market)
    return paid


def _adl_candidates(ctx: HandlerContext, account_id: str, market: str,
                    size: int) -> list[AdlCandidate]:
    """The positions opposite ``size`` in ``market`` (by account id, funding settled
    first), with the equity and maintenance deleveraging ranks or visits them by."""
    ledger = ctx.ledger
    candidates = []
    for other in sorted(ledger.accounts):
        other_size = ledger.perp_size(other, market)
        if other == account_id or other_size == 0 or (other_size > 0) == (size > 0):
            continue
        settle_all_funding(ctx, other)
        risk = ctx.bucket(other)
        pos = ledger.accounts[other].perps[market]
        candidates.append(AdlCandidate(
            other, other_size, pos.cost, risk.equity_quote(),
            sum(p.maintenance for p in risk.positions)))
    return candidates


def _deleverage(ctx: HandlerContext, account_id: str, market: str, perp: PerpMarketConfig,
                size: int, price: int, mark: int) -> list[dict[str, Any]]:
    """Close the bankrupt position at its bankruptcy price against opposite positions."""
    ledger = ctx.ledger
    quote_unit = _quote_unit(ctx, perp)
    candidates = _adl_candidates(ctx, account_id, market, size)
    exposure = sum(abs(c.size) for c in candidates)
    if exposure < abs(size):
        ctx.refuse(
            Code.ADL_NOT_ENOUGH_OPPOSITE,
            f"auto-deleveraging needs {_units(perp, abs(size))} of opposite positions "
            f"in {market}, only {_units(perp, exposure)} exist",
            needed=abs(size), available=exposure,
        )
    policy = AdlPolicy(perp.adl_policy)
    fills = allocate_adl(size, price, mark, candidates, policy, perp.base_unit, quote_unit,
                         step=perp.step_units)
    # The ranking's components go into the outcome, so the log says why each was chosen.
    ranks = {r.account: r for r in rank_adl(candidates, mark, policy, perp.base_unit,
                                            quote_unit)}
    out = []
    for f in fills:
        ledger.fill(f.account, market, -f.size, price, perp.base_unit, quote_unit)
        ledger.fill(account_id, market, f.size, price, perp.base_unit, quote_unit)
        rank = ranks[f.account]
        out.append({"account": f.account, "size": f.size, "haircut": f.haircut,
                    "policy": policy.value, "score": str(rank.score),
                    "pnl_pct": str(rank.pnl_pct), "leverage": str(rank.leverage)})
    return out


def _deleverage_dydx(ctx: HandlerContext, account_id: str, market: str,
                     perp: PerpMarketConfig, size: int) -> list[dict[str, Any]]:
    """dYdX v4's ``OffsetSubaccountPerpetualPosition``: offset the whole ``size`` against
    the opposite positions, visited by account id from :func:`dydx_start_offset` of the
    block (at most 500), each closing what is left or its whole position, at the
    bankruptcy quote of that fill (``GetBankruptcyPriceInQuoteQuantums`` on the account as
    the previous fills left it). What no position offsets stays open (dYdX persists the
    fills it made)."""
    ledger = ctx.ledger
    quote_unit = _quote_unit(ctx, perp)
    candidates = _adl_candidates(ctx, account_id, market, size)
    if not candidates:
        ctx.refuse(Code.ADL_NOT_ENOUGH_OPPOSITE,
                   f"deleveraging needs opposite positions in {market}, none exist",
                   needed=abs(size), available=0)
    offset = dydx_start_offset(ledger.time, len(candidates))
    mark = next(p.mark for p in ctx.bucket(account_id).positions if p.market == market)
    fills = allocate_adl(size, mark, mark, candidates, AdlPolicy.DYDX_OFFSET, perp.base_unit,
                         quote_unit, step=perp.step_units, offset=offset)
    out = []
    for f in fills:
        # f.size: what the deleveraged account trades (opposite to its position).
        bankruptcy, _ = dydx_close_bankruptcy(perp, ctx.bucket(account_id), market,
                                              abs(f.size),
                                              _maintenance_at(ctx, account_id, market))
        ledger.fill_quote(account_id, market, f.size, bankruptcy)
        ledger.fill_quote(f.account, market, -f.size, -bankruptcy)
        out.append({"account": f.account, "size": f.size, "quote": bankruptcy,
                    "policy": AdlPolicy.DYDX_OFFSET.value, "offset": offset})
    return out


def _socialize(ctx: HandlerContext, account_id: str, market: str) -> tuple[int, int]:
    """Spread a bankrupt account's remaining negative perp balance over the open positions
    of ``market`` (the liquidated one), long and short, in proportion to their size
    (Drift v2's and Mango v4's rule: :func:`socialize_over_open_interest`); record what is
    left (no open position) as deficit."""
    ledger = ctx.ledger
    risk = ctx.bucket(account_id)
    if risk.positions:
        return 0, 0
    short = min(-risk.equity_quote(), -risk.perp_quote)
    if short <= 0:
        return 0, 0
    sizes: dict[str, int] = {}
    for a in sorted(ledger.accounts):
        if a == account_id:
            continue
        size = ledger.perp_size(a, market)
        if size:
            sizes[a] = size
    plan = socialize_over_open_interest(short, sizes)
    if plan.taken:
        ledger.socialize(account_id, plan.shares)
    if plan.deficit:
        ledger.write_off_perp(account_id, plan.deficit)
    return plan.taken, plan.deficit


def _settle_from_supply(ctx: HandlerContext, account_id: str) -> None:
    """A negative perp balance is paid from the account's supplied quote asset, if any."""
    ledger = ctx.ledger
    owed = -ledger.perp_quote_of(account_id)
    asset = ctx.perp_model.quote_asset
    if owed <= 0 or not asset:
        return
    available = min(ledger.supply_of(account_id, asset), ledger.reserves[asset].cash)
    amount = min(owed, available)
    if amount > 0:
        ledger.quote_from_supply(account_id, asset, amount)

