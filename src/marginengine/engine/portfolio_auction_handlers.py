"""Portfolio liquidation in the engine: Derive's (Lyra v2) Dutch auction of a whole
options portfolio, with the security module behind insolvent ones.

The rules are :mod:`marginengine.liquidation.portfolio_auction` (pure, exact); the money
moves inside the options clearing (``ledger/options.py``: cash, positions, the security
module and the socialized loss), so conservation of the clearing covers every transfer.
The margins are PMRM_2's (``margin/portfolio.py``) at the engine's prices and surfaces,
fixed into quote smallest units rounding down (a margin and a mark-to-market are never
overstated). Reference: derivexyz/v2-core ``src/liquidation/DutchAuction.sol`` and
``src/risk-managers/BaseManager.sol`` (``executeBid``) at commit 7736900d; what differs is
in the rules module's docstring and docs/portfolio.md.
"""

from __future__ import annotations

from typing import Any

from marginengine.decisions import Code
from marginengine.engine.context import HandlerContext
from marginengine.engine.events import (
    BidPortfolioAuction,
    ConvertToInsolventAuction,
    FundSecurityModule,
    StartPortfolioAuction,
    TerminatePortfolioAuction,
)
from marginengine.fixedpoint import WAD
from marginengine.ledger.options import OptionClearing
from marginengine.liquidation.portfolio_auction import (
    PortfolioAuction,
    PortfolioAuctionParams,
    PortfolioAuctions,
    buffer_margin,
    can_terminate,
    liquidation_fee,
    max_proportion,
    quote_bid,
    share,
    solvent_bid_price,
)


def auction_params(ctx: HandlerContext) -> PortfolioAuctionParams:
    """The protocol's auction parameters as exact ints."""
    opts = ctx.config.options
    assert opts is not None
    return PortfolioAuctionParams.of(opts.auction, ctx.config.markets[opts.quote].unit)


def _books(ctx: HandlerContext) -> tuple[OptionClearing, PortfolioAuctions]:
    clearing = ctx.state.options_for_update()
    auctions = ctx.state.portfolio_auctions_for_update()
    if clearing is None or auctions is None:
        ctx.refuse(Code.EVENT_NOT_SUPPORTED,
                   f"{ctx.config.name} has no options: add an [options] table")
    return clearing, auctions


def margins(ctx: HandlerContext, account: str) -> tuple[int, int]:
    """The account's PMRM_2 ``(maintenance margin, mark-to-market)`` in quote smallest
    units, each rounded down; refuses when a price or surface it needs is missing or not
    usable for a liquidation."""
    underlying = ctx.option_underlying(account)
    if underlying is not None:
        ctx.require_prices([underlying], for_liquidation=True)
        missing = ctx.missing_vols(account)
        if missing:
            ctx.refuse(Code.VOL_NOT_SET, f"no vol surface for {missing[0].symbol} "
                       f"(send SetVolSurface for expiry {missing[0].expiry})",
                       series=missing[0].symbol)
    units = ctx.portfolio_margin_units(account)
    assert units is not None  # _books() refused already without options
    return units


def _running(ctx: HandlerContext, auctions: PortfolioAuctions, account: str,
             code: Code = Code.DA_NOT_ONGOING_AUCTION) -> PortfolioAuction:
    auction = auctions.running.get(account)
    if auction is None:
        ctx.refuse(code, f"account: {account} is not under a portfolio auction",
                   field="account", account=account)
    return auction


def _status(ctx: HandlerContext, params: PortfolioAuctionParams,
            auction: PortfolioAuction) -> tuple[bool, int, int, int]:
    """``(can_terminate, mtm, mm, bm)`` now (Derive's ``getAuctionStatus``)."""
    mm, mtm = margins(ctx, auction.account)
    return (can_terminate(params, auction, ctx.time, mm, mtm), mtm, mm,
            buffer_margin(params, mm, mtm))


def fund_security_module(ctx: HandlerContext, e: FundSecurityModule) -> dict[str, Any]:
    clearing, _ = _books(ctx)
    ctx.positive(e.amount)
    clearing.fund_security_module(e.amount)
    clearing.check()
    return {"security_module": clearing.security_module}


def start_portfolio_auction(ctx: HandlerContext, e: StartPortfolioAuction) -> dict[str, Any]:
    ctx.account_id(e.keeper, "keeper")
    ctx.account_id(e.account)
    clearing, auctions = _books(ctx)
    params = auction_params(ctx)
    mm, mtm = margins(ctx, e.account)
    if mm >= 0:
        ctx.refuse(Code.DA_ABOVE_MAINTENANCE_MARGIN,
                   f"{e.account} meets its portfolio maintenance margin ({mm} >= 0)",
                   account=e.account, maintenance_margin=mm, mtm=mtm)
    if e.account in auctions.running:
        ctx.refuse(Code.DA_AUCTION_ALREADY_STARTED,
                   f"{e.account} is already under a portfolio auction", account=e.account)
    if mtm > 0:
        bm = buffer_margin(params, mm, mtm)
        fee = liquidation_fee(params, mtm, bm)
        if fee:
            clearing.fee_to_security_module(e.account, fee)
        auction = auctions.start(e.account, ctx.time, insolvent=False)
        details: dict[str, Any] = {"buffer_margin": bm, "fee": fee,
                                   "max_fraction": max_proportion(
                                       params, mtm - fee, bm - fee,
                                       params.starting_mtm_percentage, 0)}
    else:
        auction = auctions.start(e.account, ctx.time, insolvent=True, cached_mm=-mm)
        details = {"fee": 0}
    clearing.check()
    return {"auction": auction.id, "insolvent": auction.insolvent, "maintenance_margin": mm,
            "mtm": mtm, **details}


def _transfer(clearing: OptionClearing, source: str, target: str, fraction: int,
              reserved: int) -> tuple[dict[str, int], int]:
    """Move ``fraction`` (wad) of every position of ``source`` and of its cash less the
    reserved cash to ``target`` (Derive's ``executeBid``), each rounded toward zero."""
    moved: dict[str, int] = {}
    for series, size in sorted(clearing.positions.get(source, {}).items()):
        part = share(size, fraction)
        if part:
            clearing.transfer_position(source, target, series, part)
            moved[series.symbol] = part
    cash = share(clearing.cash.get(source, 0) - reserved, fraction)
    if cash:
        clearing.transfer_cash(source, target, cash)
    return moved, cash


def bid_portfolio_auction(ctx: HandlerContext, e: BidPortfolioAuction) -> dict[str, Any]:
    ctx.account_id(e.bidder, "bidder")
    ctx.account_id(e.account)
    clearing, auctions = _books(ctx)
    if not 0 < e.fraction <= WAD:
        ctx.refuse(Code.DA_INVALID_PERCENTAGE, f"fraction: must be in 1..{WAD} (wad: "
                   f"{WAD} is 100%; got {e.fraction})", field="fraction", value=e.fraction)
    if e.bidder == e.account:
        ctx.refuse(Code.SELF_LIQUIDATION, "bidder: must differ from the account",
                   field="bidder")
    params = auction_params(ctx)
    auction = _running(ctx, auctions, e.account)
    if clearing.positions.get(e.bidder):
        ctx.refuse(Code.DA_INVALID_BIDDER_PORTFOLIO,
                   f"bidder: {e.bidder} holds options; a bidder's account holds only cash "
                   f"(Derive: a fresh subaccount per bid)", field="bidder", account=e.bidder)
    done, mtm, mm, bm = _status(ctx, params, auction)
    if done:
        ctx.refuse(Code.DA_AUCTION_SHOULD_BE_TERMINATED,
                   f"{e.account} is back above its margin: terminate the auction",
                   account=e.account, maintenance_margin=mm, buffer_margin=bm, mtm=mtm)
    quote = quote_bid(params, auction, ctx.time, mm, mtm, e.fraction)
    if quote is None:
        ctx.refuse(Code.DA_SOLVENT_AUCTION_ENDED,
                   f"{e.account}'s solvent auction has ended: convert it to insolvent",
                   account=e.account)
    if e.price_limit != 0 and quote.cash_from_bidder - quote.cash_to_bidder > e.price_limit:
        ctx.refuse(Code.DA_PRICE_LIMIT_EXCEEDED,
                   f"price_limit: the bid pays {quote.cash_from_bidder} and receives "
                   f"{quote.cash_to_bidder}, beyond {e.price_limit}", field="price_limit",
                   cash_from_bidder=quote.cash_from_bidder,
                   cash_to_bidder=quote.cash_to_bidder)
    have = clearing.cash.get(e.bidder, 0)
    if have < quote.cash_needed:
        ctx.refuse(Code.DA_INSUFFICIENT_CASH,
                   f"bidder: {e.bidder} has {have} cash, needs {quote.cash_needed}",
                   field="bidder", cash=have, needed=quote.cash_needed)
    reserved = auction.reserved_cash
    fraction = quote.fraction
    paid = socialized = 0
    if quote.cash_to_bidder:
        paid, socialized = clearing.pay_from_security_module(e.bidder, quote.cash_to_bidder)
    moved, cash = _transfer(clearing, e.account, e.bidder, fraction, reserved)
    if quote.cash_from_bidder:
        clearing.transfer_cash(e.bidder, e.account, quote.cash_from_bidder)
        auctions.reserve(e.account, quote.cash_from_bidder)
    terminate = quote.terminates
    details: dict[str, Any] = {"requested": e.fraction, "maintenance_margin": mm, "mtm": mtm,
               "buffer_margin": bm, "insolvent": auction.insolvent, "price": quote.price,
               "cash_from_bidder": quote.cash_from_bidder,
               "cash_to_bidder": quote.cash_to_bidder, "security_module_paid": paid,
               "socialized": socialized}
    if not auction.insolvent:
        details.update(discount=quote.discount, max_fraction=quote.max_fraction)
    if terminate:
        auctions.end(e.account)
    clearing.check()
    return {**details, "auction": auction.id, "fraction": fraction, "positions": moved,
            "cash_moved": cash, "mtm_taken": share(mtm - reserved, fraction),
            "terminated": terminate}


def terminate_portfolio_auction(ctx: HandlerContext,
                                e: TerminatePortfolioAuction) -> dict[str, Any]:
    ctx.account_id(e.account)
    _, auctions = _books(ctx)
    auction = _running(ctx, auctions, e.account)
    done, mtm, mm, bm = _status(ctx, auction_params(ctx), auction)
    if not done:
        ctx.refuse(Code.DA_AUCTION_CANNOT_TERMINATE,
                   f"{e.account} is still below its margin (maintenance {mm}, buffer {bm})",
                   account=e.account, maintenance_margin=mm, buffer_margin=bm, mtm=mtm)
    auctions.end(e.account)
    return {"auction": auction.id, "insolvent": auction.insolvent, "maintenance_margin": mm,
            "buffer_margin": bm, "mtm": mtm}


def convert_to_insolvent_auction(ctx: HandlerContext,
                                 e: ConvertToInsolventAuction) -> dict[str, Any]:
    ctx.account_id(e.account)
    _, auctions = _books(ctx)
    auction = _running(ctx, auctions, e.account, Code.DA_AUCTION_NOT_STARTED)
    params = auction_params(ctx)
    mm, mtm = margins(ctx, e.account)
    if auction.insolvent:
        ctx.refuse(Code.DA_ALREADY_INSOLVENT, f"{e.account}'s auction is already insolvent",
                   account=e.account)
    elapsed = ctx.time - auction.start_time
    if elapsed < params.solvent_length and auction.reserved_cash > mtm:
        ctx.refuse(Code.DA_RESERVED_CASH_ABOVE_MTM,
                   f"{e.account}: cash reserved by bids ({auction.reserved_cash}) exceeds "
                   f"its mark-to-market ({mtm}): terminate and restart the auction",
                   reserved=auction.reserved_cash, mtm=mtm)
    if solvent_bid_price(params, elapsed, mtm, auction.reserved_cash) > 0:
        ctx.refuse(Code.DA_ONGOING_SOLVENT_AUCTION,
                   f"{e.account}'s solvent auction still has a positive price",
                   account=e.account)
    if mm >= 0:
        ctx.refuse(Code.DA_ABOVE_MAINTENANCE_MARGIN,
                   f"{e.account} meets its portfolio maintenance margin ({mm} >= 0)",
                   account=e.account, maintenance_margin=mm, mtm=mtm)
    auction = auctions.start(e.account, ctx.time, insolvent=True, cached_mm=-mm)
    return {"auction": auction.id, "maintenance_margin": mm, "mtm": mtm}


__all__ = ["auction_params", "bid_portfolio_auction", "convert_to_insolvent_auction",
           "fund_security_module", "margins", "start_portfolio_auction",
           "terminate_portfolio_auction"]
