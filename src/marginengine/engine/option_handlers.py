"""The options handlers: options cash, bilateral trades, settlement, vol surfaces.

The clearing (:class:`~marginengine.ledger.options.OptionClearing`) lives in the engine
state, journalled like Morpho's markets: a refused event leaves no trace. A trade is
bilateral (two accounts at a premium; no protocol market maker) and each side is checked
pre-trade (:func:`~marginengine.margin.portfolio.validate_trade`: initial margin >= 0
after it, or for PMRM_2 not lowered by it) by the protocol's portfolio rule
(``[options].portfolio_preset``: PMRM_2, PMRM v1 or the SRM). As in Derive's PMRM_2,
where one portfolio manager margins one currency, a portfolio account holds options on
one underlying. Settlement
pays intrinsic value at the expiry's settlement price: under ``[options].settlement_rule
== "twap"`` (Derive's presets) the spot's 30-minute TWAP before the expiry, from the
prices ``SetPrice`` reported (:func:`observe_settlement_spot`;
:mod:`marginengine.oracle.settlement_feed`), else the oracle's price; conservation of the clearing
(``cash_in == balances + settlement dust``, sizes net to zero) is checked after every
options event.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

from marginengine.decisions import Code
from marginengine.engine.context import HandlerContext
from marginengine.engine.events import (
    DepositOptionCash,
    SetSviSurface,
    SettleOption,
    SetVolSurface,
    TradeOption,
    WithdrawOptionCash,
)
from marginengine.errors import FieldError
from marginengine.ledger.options import OptionClearing, OptionSeries, expired
from marginengine.margin.portfolio import PortfolioMargin, WhatIf, validate_trade
from marginengine.oracle.settlement_feed import SETTLEMENT_TWAP_DURATION


def _require_options(ctx: HandlerContext) -> None:
    if ctx.state.options is None:
        ctx.refuse(Code.EVENT_NOT_SUPPORTED,
                   f"{ctx.config.name} has no options: add an [options] table")


def _clearing(ctx: HandlerContext) -> OptionClearing:
    _require_options(ctx)
    clearing = ctx.state.options_for_update()
    assert clearing is not None
    return clearing


def _underlying(ctx: HandlerContext, underlying: str) -> str:
    if underlying not in ctx.config.markets and underlying not in ctx.config.perps:
        ctx.refuse(Code.UNKNOWN_ASSET, f"underlying: unknown asset {underlying!r}",
                   field="underlying", asset=underlying)
    if underlying == _quote(ctx):
        # Derive holds the quote only as cash: the SRM's handleAdjustment lets the cash
        # asset through and refuses any other asset not whitelisted to a market
        # (SRM_UnsupportedAsset), and each PMRM margins one currency against that cash. An
        # option on the quote, quoted in the quote, has a spot fixed at 1: no model here
        # has a risk to measure in it, under any preset.
        ctx.refuse(Code.OPTION_ON_QUOTE,
                   f"underlying: {underlying} is the options quote asset (options settle "
                   f"in it; an option on it cannot be margined)", field="underlying",
                   asset=underlying)
    return underlying


def _live_expiry(ctx: HandlerContext, underlying: str, expiry: int) -> None:
    """Refuse a surface for an expiry at or before the engine's time: from then the
    series settle at the expiry's settlement price (SettleOption; Derive's
    OptionAsset.calcSettlementValue once ``block.timestamp >= expiry``) and no vol enters
    their value. The surface an
    expired, unsettled position was margined with stays as it was."""
    if expired(expiry, ctx.time):
        ctx.refuse(Code.OPTION_EXPIRED,
                   f"expiry: {underlying} expiry {expiry} is not after the engine's time "
                   f"{ctx.time} (expired series settle: SettleOption)", field="expiry",
                   expiry=expiry, now=ctx.time)


def _margin(ctx: HandlerContext, account: str) -> PortfolioMargin:
    """The account's portfolio margin now (by the protocol's rule), refusing when a price
    or surface it needs is missing or unusable."""
    underlying = ctx.option_underlying(account)
    if underlying is not None:
        ctx.require_prices([underlying])
        missing = ctx.missing_vols(account)
        if missing:
            ctx.refuse(Code.VOL_NOT_SET, f"no vol surface for {missing[0].symbol} "
                       f"(send SetVolSurface for expiry {missing[0].expiry})",
                       series=missing[0].symbol)
    margin = ctx.portfolio_margin(account)
    assert margin is not None  # _clearing() refused already without options
    return margin


def _check(ctx: HandlerContext, account: str, before: PortfolioMargin) -> PortfolioMargin:
    after = _margin(ctx, account)
    quote_unit = ctx.config.markets[_quote(ctx)].unit
    refusal = validate_trade(account, WhatIf(before, after), quote_unit)
    if refusal is not None:
        ctx.refuse_with(refusal)
    return after


def margin_units(ctx: HandlerContext, margin: Fraction) -> int:
    """A (signed) margin in quote smallest units, floored: never overstated (exact from
    :meth:`~marginengine.margin.portfolio.PortfolioMargin.fraction`)."""
    unit = ctx.config.markets[_quote(ctx)].unit
    return math.floor(Fraction(margin) * unit)


def _quote(ctx: HandlerContext) -> str:
    opts = ctx.config.options
    assert opts is not None
    return opts.quote


def _not_under_auction(ctx: HandlerContext, account: str, field: str = "account") -> None:
    """Derive's managers refuse every change to an account under liquidation
    (``BM_AccountUnderLiquidation``); deposits stay open here, so that an owner can top
    the account up and end its auction (``TerminatePortfolioAuction``)."""
    if ctx.portfolio_auction(account) is not None:
        ctx.refuse(Code.ACCOUNT_UNDER_LIQUIDATION,
                   f"{field}: {account} is under a portfolio auction", field=field,
                   account=account)


def deposit_option_cash(ctx: HandlerContext, e: DepositOptionCash) -> dict[str, Any]:
    ctx.account_id(e.account)
    clearing = _clearing(ctx)
    ctx.positive(e.amount)
    clearing.deposit(e.account, e.amount)
    clearing.check()
    return {"cash": clearing.cash[e.account]}


def withdraw_option_cash(ctx: HandlerContext, e: WithdrawOptionCash) -> dict[str, Any]:
    ctx.account_id(e.account)
    clearing = _clearing(ctx)
    ctx.positive(e.amount)
    _not_under_auction(ctx, e.account)
    auctions = ctx.state.portfolio_auctions
    if auctions is not None and auctions.total_insolvent_mm > clearing.security_module:
        # Derive's CashAsset.withdraw: no cash leaves while insolvent auctions' shortfall
        # (their maintenance margins at the start) exceeds the security module.
        ctx.refuse(Code.WITHDRAW_BLOCKED_BY_AUCTION,
                   f"withdrawals are blocked: insolvent auctions need "
                   f"{auctions.total_insolvent_mm}, the security module holds "
                   f"{clearing.security_module}", insolvent_mm=auctions.total_insolvent_mm,
                   security_module=clearing.security_module)
    before = _margin(ctx, e.account)
    try:
        clearing.withdraw(e.account, e.amount)
    except FieldError as exc:
        ctx.refuse(Code.INSUFFICIENT_QUOTE, f"amount: {exc.reason}", field="amount",
                   amount=e.amount)
    after = _check(ctx, e.account, before)
    clearing.check()
    return {"cash": clearing.cash[e.account],
            "initial_margin": margin_units(ctx, after.fraction("initial"))}


def trade_option(ctx: HandlerContext, e: TradeOption) -> dict[str, Any]:
    ctx.account_id(e.buyer, "buyer")
    ctx.account_id(e.seller, "seller")
    clearing = _clearing(ctx)
    _underlying(ctx, e.underlying)
    if e.buyer == e.seller:
        ctx.refuse(Code.SELF_TRADE, "seller: must differ from the buyer", field="seller")
    ctx.positive(e.size, "size")       # the event refuses <= 0; this, beyond a uint256
    if e.premium:
        ctx.positive(e.premium, "premium")
    series = OptionSeries(e.underlying, e.expiry, e.strike, e.is_call)
    if series in clearing.settled or expired(series.expiry, ctx.time):
        ctx.refuse(Code.OPTION_EXPIRED, f"{series.symbol} has expired (expiry {e.expiry}, "
                   f"now {ctx.time})", series=series.symbol)
    for field, account in (("buyer", e.buyer), ("seller", e.seller)):
        _not_under_auction(ctx, account, field)
        held = ctx.option_underlying(account)
        if held is not None and held != e.underlying:
            ctx.refuse(Code.OPTION_ONE_UNDERLYING,
                       f"{field}: {account} holds {held} options; a portfolio account "
                       f"margins one underlying (Derive PMRM_2: one manager per currency)",
                       field=field, account=account)
    before = {a: _margin(ctx, a) for a in (e.buyer, e.seller)}
    clearing.trade(e.buyer, e.seller, series, e.size, e.premium, ctx.time)
    after = {a: _check(ctx, a, before[a]) for a in (e.buyer, e.seller)}
    clearing.check()
    return {"series": series.symbol, "premium": e.premium,
            "buyer_initial_margin": margin_units(ctx, after[e.buyer].fraction("initial")),
            "seller_initial_margin": margin_units(ctx, after[e.seller].fraction("initial")),
            "open_interest": clearing.open_interest.get(series, 0)}


def settle_option(ctx: HandlerContext, e: SettleOption) -> dict[str, Any]:
    clearing = _clearing(ctx)
    _underlying(ctx, e.underlying)
    series = OptionSeries(e.underlying, e.expiry, e.strike, e.is_call)
    if series in clearing.settled:
        ctx.refuse(Code.OPTION_ALREADY_SETTLED, f"{series.symbol} is already settled",
                   series=series.symbol)
    if not expired(series.expiry, ctx.time):
        ctx.refuse(Code.OPTION_NOT_EXPIRED, f"{series.symbol} expires at {e.expiry}, not "
                   f"yet (now {ctx.time})", series=series.symbol)
    # One settlement price per expiry: fixed at the first settlement of any of its series,
    # then that one for every other (Derive's settlement feed fixes one price per
    # expiry). Settling the legs of a spread at two prices would let it pay more than its
    # width, which the margin rules (the SRM's max loss) bound it by.
    price = clearing.expiry_price(e.underlying, e.expiry)
    if price is None and ctx.twap_settlement():
        # Derive's: the spot's 30-minute TWAP before the expiry (LyraForwardFeed).
        price = ctx.settlement_price_now(e.underlying, e.expiry)
        if price is None:
            start = e.expiry - SETTLEMENT_TWAP_DURATION
            ctx.refuse(Code.OPTION_NOT_SETTLEABLE,
                       f"{series.symbol}: no {e.underlying} price observed at or before "
                       f"the settlement window's start ({start}, {SETTLEMENT_TWAP_DURATION} "
                       f"s before expiry): its TWAP is unknown (Derive's settlement feed "
                       f"answers unsettled)", series=series.symbol, window_start=start)
    if price is None:
        ctx.require_prices([e.underlying], for_liquidation=True)
        price = ctx.price(e.underlying)
    dust = clearing.settlement_dust
    changes = clearing.settle(series, price, ctx.time)
    clearing.check()
    return {"series": series.symbol, "price": price, "changes": dict(sorted(changes.items())),
            "dust": clearing.settlement_dust - dust}


def observe_settlement_spot(ctx: HandlerContext, asset: str, price: int) -> None:
    """Record a usable ``SetPrice`` of a possible options underlying (any priced asset
    but the options quote) for TWAP settlements, when the protocol settles so."""
    opts = ctx.config.options
    if opts is not None and asset != opts.quote and ctx.twap_settlement():
        ctx.state.observe_settlement_spot(asset, price)


def set_vol_surface(ctx: HandlerContext, e: SetVolSurface) -> dict[str, Any]:
    _require_options(ctx)
    _underlying(ctx, e.underlying)
    _live_expiry(ctx, e.underlying, e.expiry)
    ctx.state.set_vol(e.underlying, e.expiry, e.vol_ppm, e.skew_ppm)
    return {}


def set_svi_surface(ctx: HandlerContext, e: SetSviSurface) -> dict[str, Any]:
    _require_options(ctx)
    _underlying(ctx, e.underlying)
    _live_expiry(ctx, e.underlying, e.expiry)
    ctx.state.set_svi(e.underlying, e.expiry,
                      (e.a_ppm, e.b_ppm, e.rho_ppm, e.m_ppm, e.sigma_ppm))
    return {}


__all__ = ["deposit_option_cash", "observe_settlement_spot", "set_svi_surface",
           "set_vol_surface", "settle_option", "trade_option", "withdraw_option_cash"]
