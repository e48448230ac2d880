"""Auction liquidation in the engine: Maker's Dog + Clipper (Liquidations 2.0) and Flipper
(Liquidations 1.2), wired to the ledger.

``Bark`` takes an unsafe vault's debt (at the reserves' expense) and its collateral (into
protocol reserves) and starts an auction for ``tab = debt x chop``. Buyers pay DAI into the
reserves and receive collateral from them; collateral left once the tab is raised goes
back to the vault; DAI not raised by the end (the debt less what the auction raised) is
recognised as the debt asset's deficit (Maker's system debt). The auction machines are the
pure ones of :mod:`marginengine.liquidation.dutch_auction` and
:mod:`marginengine.liquidation.english_auction`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, NoReturn

from marginengine.decisions import Code
from marginengine.engine.context import HandlerContext
from marginengine.engine.events import Bark, Deal, Dent, Redo, Take, Tend, Tick
from marginengine.fixedpoint import PRICE_DECIMALS, RAY, WAD, Rounding, div
from marginengine.liquidation.auction_house import (
    AuctionHouse,
    AuctionOutcome,
    AuctionRecord,
    wad_of,
)
from marginengine.liquidation.base import LiquidationRefused
from marginengine.liquidation.dutch_auction import feed_price, units_to_ray
from marginengine.liquidation.english_auction import Flipper
from marginengine.margin.vat import validate_frob, vat_spot


def _house(ctx: HandlerContext, auction: int | None = None) -> AuctionHouse:
    """The auction state to change in this event (journalled), with ``auction``'s entries
    owned by this event."""
    return ctx.auction_house(auction)


def feed_price_ray(ctx: HandlerContext) -> int:
    """The Clipper's feed price, DAI per collateral (ray): dss clip.sol ``getFeedPrice``,
    ``rdiv(val * BLN, par)`` (:func:`feed_price`), with ``val`` the collateral's oracle price
    (USD, as a wad) and ``par`` the debt asset's (USD per DAI, as a ray; 1 when DAI is priced
    at 1, as in every example)."""
    cfg = ctx.config.auction
    assert cfg is not None
    val = ctx.price(cfg.collateral) * 10 ** (18 - PRICE_DECIMALS)
    return feed_price(val, units_to_ray(ctx.price(cfg.debt)))


def _refused(ctx: HandlerContext, exc: LiquidationRefused) -> NoReturn:
    ctx.refuse_with(exc.refusal)


def bark(ctx: HandlerContext, e: Bark) -> dict[str, Any]:
    ctx.account_id(e.keeper, "keeper")
    ctx.existing(e.account)
    house = _house(ctx)
    cfg = house.config
    ctx.require_prices(ctx.priced_assets(e.account), for_liquidation=True)
    if not ctx.is_liquidatable(e.account):
        health = ctx.health_factor(e.account)
        ctx.refuse(Code.DOG_NOT_UNSAFE if house.cat is None else Code.CAT_NOT_UNSAFE,
                   f"{e.account} is not unsafe: health factor {health / WAD:.4f}",
                   health_factor=health)
    ledger = ctx.ledger
    debt = ledger.debt_of(e.account, cfg.debt)
    ink = ledger.supply_of(e.account, cfg.collateral)
    if debt == 0 or ink == 0:
        ctx.refuse(Code.DOG_NO_VAULT,
                   f"{e.account} has no {cfg.debt} debt against {cfg.collateral}",
                   debt=debt, ink=ink)
    try:
        if house.clipper is not None:
            assert house.dog is not None
            dart, dink, tab = house.dog.bark(debt, ink, RAY)
            kick = house.clipper.kick(tab, dink, e.account, e.keeper, feed_price_ray(ctx),
                                      ledger.time)
            auction, coin = kick.id, kick.coin
        else:
            # Liquidations 1.2: Cat.bite, then Flipper.kick with a bid of 0, gal = vow.
            assert house.cat is not None and house.flipper is not None
            dart, dink, tab = house.cat.bite(debt, ink, RAY)
            auction = house.flipper.kick(e.account, "vow", tab, dink, 0, ledger.time)
            coin = 0
    except LiquidationRefused as exc:
        _refused(ctx, exc)
    ledger.absorb_debt_amount(e.account, cfg.debt, dart)
    ledger.seize_supply_amount(e.account, cfg.collateral, dink)
    incentive = coin // RAY
    if incentive:
        ledger.pay_out_reserves(cfg.debt, incentive)
    house.records[auction] = AuctionRecord(auction, e.account, dart, dink, ledger.time,
                                           ctx.price(cfg.collateral))
    return {"auction": auction, "debt": dart, "lot": dink, "tab": tab, "incentive": incentive}


def _finish(ctx: HandlerContext, house: AuctionHouse, auction: int,
            tab_left: int) -> dict[str, Any]:
    record = house.records.pop(auction)
    cfg = house.config
    shortfall = max(0, record.debt - record.raised)
    if shortfall:
        ctx.ledger.reserves_to_deficit(cfg.debt, shortfall)
    if tab_left:
        # Flipper.deal calls cat.claw(tab) (a Clipper's takes already released theirs).
        assert house.cat is not None
        house.cat.claw(tab_left)
    outcome = AuctionOutcome(record.id, record.account, record.debt, record.raised,
                             record.lot_sold, record.returned, record.price_at_kick, shortfall,
                             ctx.ledger.time)
    house.outcomes.append(outcome)
    return {"settled": True, "shortfall": shortfall, "near_zero": outcome.near_zero}


def take(ctx: HandlerContext, e: Take) -> dict[str, Any]:
    ctx.account_id(e.keeper, "keeper")
    house = _house(ctx, e.auction)
    if house.clipper is None:
        ctx.refuse(Code.WRONG_AUCTION_KIND,
                   "Take is for Dutch auctions (kind = \"clip\"); use Tend/Dent")
    cfg = house.config
    ctx.require_prices([cfg.collateral, cfg.debt], for_liquidation=True)
    record = house.records.get(e.auction)
    if record is None:
        ctx.refuse(Code.CLIPPER_NOT_RUNNING_AUCTION if house.clipper is not None
                   else Code.FLIPPER_GUY_NOT_SET,
                   f"auction: no running auction {e.auction}", auction=e.auction)
    try:
        result = house.clipper.take(e.auction, e.amount, e.max_price, e.keeper,
                                    ctx.ledger.time)
    except LiquidationRefused as exc:
        _refused(ctx, exc)
    ledger = ctx.ledger
    paid = div(result.owe, RAY, Rounding.UP)
    ledger.receive_into_reserves(cfg.debt, paid)
    ledger.pay_out_reserves(cfg.collateral, result.slice)
    if result.digs:
        assert house.dog is not None
        house.dog.digs(result.digs)
    record.raised += paid
    record.lot_sold += result.slice
    details: dict[str, Any] = {"bought": result.slice, "paid": paid, "price": result.price}
    if result.done:
        if result.leftover_lot:
            ledger.credit_supply(record.account, cfg.collateral, result.leftover_lot)
            record.returned += result.leftover_lot
        # The take already released the whole tab from the Dog's limits (result.digs).
        details.update(_finish(ctx, house, e.auction, 0))
    return details


def redo(ctx: HandlerContext, e: Redo) -> dict[str, Any]:
    ctx.account_id(e.keeper, "keeper")
    house = _house(ctx, e.auction)
    if house.clipper is None:
        ctx.refuse(Code.WRONG_AUCTION_KIND, "Redo is for Dutch auctions (kind = \"clip\")")
    cfg = house.config
    ctx.require_prices([cfg.collateral, cfg.debt], for_liquidation=True)
    try:
        kick = house.clipper.redo(e.auction, e.keeper, feed_price_ray(ctx),
                                  ctx.ledger.time)
    except LiquidationRefused as exc:
        _refused(ctx, exc)
    incentive = kick.coin // RAY
    if incentive:
        ctx.ledger.pay_out_reserves(cfg.debt, incentive)
    return {"top": kick.top, "incentive": incentive}


def _flipper(ctx: HandlerContext, auction: int) -> tuple[AuctionHouse, Flipper]:
    house = _house(ctx, auction)
    if house.flipper is None:
        ctx.refuse(Code.WRONG_AUCTION_KIND,
                   "Tend, Dent, Deal and Tick are for English auctions (kind = \"flip\")")
    return house, house.flipper


def tend(ctx: HandlerContext, e: Tend) -> dict[str, Any]:
    ctx.account_id(e.keeper, "keeper")
    house, flipper = _flipper(ctx, e.auction)
    before = flipper.bids.get(e.auction)
    # The Cat kicks with a bid of 0, so there is nothing to refund before the first bid.
    old_bid = before.bid if before is not None else 0
    try:
        flipper.tend(e.auction, e.lot, e.bid, e.keeper, ctx.ledger.time)
    except LiquidationRefused as exc:
        _refused(ctx, exc)
    paid, refund = _rebid(ctx, house, e.auction, e.bid, old_bid)
    return {"bid": e.bid, "paid": paid, "refund": refund}


def _rebid(ctx: HandlerContext, house: AuctionHouse, auction: int, bid: int,
           old_bid: int) -> tuple[int, int]:
    """The new bidder pays its bid (rad, rounded up to DAI units) and the bidder it
    outbids gets its bid back (rounded down); return ``(paid, refund)``."""
    ledger = ctx.ledger
    debt = house.config.debt
    paid = div(bid, RAY, Rounding.UP)
    ledger.receive_into_reserves(debt, paid)
    refund = old_bid // RAY
    if refund:
        ledger.pay_out_reserves(debt, refund)
    house.records[auction].raised += paid - refund
    return paid, refund


def dent(ctx: HandlerContext, e: Dent) -> dict[str, Any]:
    ctx.account_id(e.keeper, "keeper")
    house, flipper = _flipper(ctx, e.auction)
    before = flipper.bids.get(e.auction)
    if before is None:
        ctx.refuse(Code.CLIPPER_NOT_RUNNING_AUCTION if house.clipper is not None
                   else Code.FLIPPER_GUY_NOT_SET,
                   f"auction: no running auction {e.auction}", auction=e.auction)
    old_lot, old_bid, old_guy = before.lot, before.bid, before.guy
    try:
        flipper.dent(e.auction, e.lot, e.bid, e.keeper, ctx.ledger.time)
    except LiquidationRefused as exc:
        _refused(ctx, exc)
    if old_guy != e.keeper:
        _rebid(ctx, house, e.auction, e.bid, old_bid)
    record = house.records[e.auction]
    returned = old_lot - e.lot
    if returned:
        ctx.ledger.credit_supply(record.account, house.config.collateral, returned)
        record.returned += returned
    return {"lot": e.lot, "returned": returned}


def deal(ctx: HandlerContext, e: Deal) -> dict[str, Any]:
    house, flipper = _flipper(ctx, e.auction)
    try:
        final = flipper.deal(e.auction, ctx.ledger.time)
    except LiquidationRefused as exc:
        _refused(ctx, exc)
    record = house.records[e.auction]
    ctx.ledger.pay_out_reserves(house.config.collateral, final.lot)
    record.lot_sold += final.lot
    details = {"winner": final.guy, "lot": final.lot, "bid": final.bid}
    details.update(_finish(ctx, house, e.auction, final.tab))
    return details


def tick(ctx: HandlerContext, e: Tick) -> dict[str, Any]:
    _, flipper = _flipper(ctx, e.auction)
    try:
        flipper.tick(e.auction, ctx.ledger.time)
    except LiquidationRefused as exc:
        _refused(ctx, exc)
    return {"end": flipper.bids[e.auction].end}


def _rad(dai: Decimal) -> int:
    """DAI (a config amount, at most 18 decimals: ProtocolConfig's precision check) as a
    rad, exactly (the auction house's own conversion)."""
    return wad_of(dai) * RAY


def require_vat_frob(ctx: HandlerContext, account: str, asset: str, *, dink: int = 0,
                     dart: int = 0) -> None:
    """Refuse a Borrow, Repay, Withdraw or Deposit of a Maker vault that the Vat's ``frob``
    refuses (:func:`marginengine.margin.vat.validate_frob`, dss vat.sol): the vault is the
    account's ``debt`` asset owed against its ``collateral`` supplied; ``dink``/``dart``
    are the change in smallest units (wad: both assets have 18 decimals), ``asset`` the one
    moved (``dart`` of the debt asset, ``dink`` of the collateral). Nothing to ask outside
    the auction family or for another asset.

    The ilk as the engine holds it: ``rate = RAY`` (the debt is already in DAI),
    ``Art`` the debt asset's total debt, ``spot`` the Clipper's feed price times the
    collateral's liquidation threshold (:func:`~marginengine.margin.vat.vat_spot`; read
    only when the change is riskier), ``dust``/``line``/``Line`` from ``[auction]``. The
    Vat's total ``debt`` is ``Art`` plus the system debt not yet covered: the deficit
    recognised in the debt asset and the debt of running auctions not raised yet (Maker's
    ``vice``, taken as healed as DAI comes in; incentives paid from reserves, the Vow's
    surplus, count as healed).
    """
    cfg = ctx.config.auction
    if cfg is None or asset != (cfg.debt if dart else cfg.collateral):
        return  # not a frob: no vault, or another asset than the vault's
    ledger = ctx.ledger
    ink = ledger.supply_of(account, cfg.collateral)
    art = ledger.debt_of(account, cfg.debt)
    if art == 0 and dart <= 0:
        return  # no debt before or after: every check passes (dss: tab 0)
    reserve = ledger.reserves[cfg.debt]
    Art = reserve.total_debt()
    house = ctx.state.auctions
    unraised = sum(max(0, r.debt - r.raised) for r in house.records.values()) \
        if house is not None else 0
    debt = (Art + reserve.deficit + unraised) * RAY
    spot = 0
    if dart > 0 or dink < 0:
        ctx.require_prices([cfg.collateral, cfg.debt])
        spot = vat_spot(feed_price_ray(ctx),
                        ctx.config.markets[cfg.collateral].liquidation_threshold_bps)
    refusal = validate_frob(
        ink=ink, art=art, dink=dink, dart=dart, Art=Art, rate=RAY, spot=spot,
        dust=_rad(cfg.dust), debt=debt,
        line=None if cfg.line is None else _rad(cfg.line),
        Line=None if cfg.Line is None else _rad(cfg.Line))
    if refusal is not None:
        ctx.refuse_with(refusal)
