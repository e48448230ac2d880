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

import copy
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

from marginengine.config.auction import AuctionConfig
from marginengine.engine.events import Bark, Deal, Dent, Redo, Take, Tend, Tick
from marginengine.engine.rejected import Rejected
from marginengine.fixedpoint import RAY, WAD, Rounding, div
from marginengine.liquidation.abaci import (
    ExponentialDecrease,
    LinearDecrease,
    StairstepExponentialDecrease,
)
from marginengine.liquidation.base import LiquidationRefused
from marginengine.liquidation.dutch_auction import Clipper, ClipperParams, Dog, DogParams
from marginengine.liquidation.english_auction import Flipper, FlipperParams

if TYPE_CHECKING:
    from marginengine.engine.engine import Engine


def _wad(value: Any) -> int:
    return int(value * WAD)


def _ray(value: Any) -> int:
    return int(value * RAY)


@dataclass
class AuctionRecord:
    """What the engine remembers of one auction (amounts in the assets' smallest units)."""

    id: int
    account: str
    debt: int
    lot: int
    kicked_at: int
    price_at_kick: int
    raised: int = 0
    lot_sold: int = 0
    returned: int = 0


@dataclass(frozen=True)
class AuctionOutcome:
    """A finished auction: what it raised for what, against the oracle price at its start."""

    id: int
    account: str
    debt: int
    raised: int
    lot_sold: int
    returned: int
    price_at_kick: int
    shortfall: int
    settled_at: int

    @property
    def settle_price(self) -> int:
        """DAI per whole collateral token the buyers paid (8 decimals)."""
        return self.raised * 10**8 // self.lot_sold if self.lot_sold else 0

    @property
    def near_zero(self) -> bool:
        """Settled below 5% of the oracle price at its start (Black Thursday's zero bids)."""
        return self.settle_price * 20 < self.price_at_kick


@dataclass
class AuctionHouse:
    """The protocol's auction state: the Dog, one Clipper or Flipper, and the records."""

    config: AuctionConfig
    dog: Dog
    clipper: Clipper | None
    flipper: Flipper | None
    records: dict[int, AuctionRecord] = field(default_factory=dict)
    outcomes: list[AuctionOutcome] = field(default_factory=list)

    @classmethod
    def of(cls, cfg: AuctionConfig) -> AuctionHouse:
        """Build the machines from human-unit parameters."""
        dog = Dog(DogParams(Hole=_wad(cfg.Hole) * RAY, hole=_wad(cfg.hole) * RAY,
                            chop=_wad(cfg.chop), dust=_wad(cfg.dust) * RAY))
        clipper = flipper = None
        if cfg.kind == "clip":
            calc: Any
            if cfg.curve == "linear":
                calc = LinearDecrease(cfg.tau)
            elif cfg.curve == "exponential":
                calc = ExponentialDecrease(_ray(cfg.cut))
            else:
                calc = StairstepExponentialDecrease(cfg.step, _ray(cfg.cut))
            clipper = Clipper.from_dog(ClipperParams(
                buf=_ray(cfg.buf), tail=cfg.tail, cusp=_ray(cfg.cusp), chip=_wad(cfg.chip),
                tip=_wad(cfg.tip) * RAY, calc=calc), dog)
        else:
            flipper = Flipper(FlipperParams(beg=_wad(cfg.beg), ttl=cfg.ttl, tau=cfg.flip_tau))
        return cls(cfg, dog, clipper, flipper)

    def copy(self) -> AuctionHouse:
        """An independent copy (the engine mutates a copy and commits it once the event is
        logged): the mutable parts are copied, the frozen ones shared, in O(running
        auctions)."""
        dog = copy.copy(self.dog)
        clipper = flipper = None
        if self.clipper is not None:
            clipper = copy.copy(self.clipper)
            clipper.active = dict(self.clipper.active)
            clipper._ids = list(self.clipper._ids)
        if self.flipper is not None:
            flipper = copy.copy(self.flipper)
            flipper.bids = dict(self.flipper.bids)
        return AuctionHouse(self.config, dog, clipper, flipper, dict(self.records),
                            list(self.outcomes))

    def own(self, auction: int) -> None:
        """Copy one auction's mutable entries before changing them (copy on write: the
        dictionaries of a copy share their entries with the original until then)."""
        if self.clipper is not None and auction in self.clipper.active:
            self.clipper.active[auction] = replace(self.clipper.active[auction])
        if self.flipper is not None and auction in self.flipper.bids:
            self.flipper.bids[auction] = replace(self.flipper.bids[auction])
        if auction in self.records:
            self.records[auction] = replace(self.records[auction])

    def state_dict(self) -> dict[str, object]:
        """Plain data for the state hash."""
        machines: dict[str, object] = {"Dirt": self.dog.Dirt, "dirt": self.dog.dirt}
        if self.clipper is not None:
            machines["sales"] = {i: asdict(s) for i, s in sorted(self.clipper.active.items())}
            machines["kicks"] = self.clipper.kicks
        if self.flipper is not None:
            machines["bids"] = {i: asdict(b) for i, b in sorted(self.flipper.bids.items())}
            machines["kicks"] = self.flipper.kicks
        return {
            "machines": machines,
            "records": {i: asdict(r) for i, r in sorted(self.records.items())},
            "outcomes": [asdict(o) for o in self.outcomes],
        }

    @property
    def running(self) -> list[int]:
        """Ids of running auctions."""
        if self.clipper is not None:
            return self.clipper.ids()
        assert self.flipper is not None
        return sorted(self.flipper.bids)


def _house(engine: Engine, auction: int | None = None) -> AuctionHouse:
    """The auction state to change in this event (a copy, committed with the event), with
    ``auction``'s entries owned by the copy."""
    if engine.auctions is None:
        raise Rejected(f"{engine.config.preset} has no auctions; it liquidates directly")
    if engine._pending_auctions is None:
        engine._pending_auctions = engine.auctions.copy()
    if auction is not None:
        engine._pending_auctions.own(auction)
    return engine._pending_auctions


def feed_price_ray(engine: Engine) -> int:
    """The collateral's oracle price in DAI per collateral, ray."""
    cfg = engine.config.auction
    assert cfg is not None
    return engine._price(cfg.collateral) * RAY // engine._price(cfg.debt)


def _refused(exc: LiquidationRefused) -> Rejected:
    return Rejected(exc.reason)


def bark(engine: Engine, e: Bark) -> dict[str, Any]:
    engine._account_id(e.keeper, "keeper")
    engine._existing(e.account)
    house = _house(engine)
    cfg = house.config
    engine._require_prices(engine.priced_assets(e.account), for_liquidation=True)
    if not engine.is_liquidatable(e.account):
        raise Rejected(f"{e.account} is not unsafe: health factor "
                       f"{engine.health_factor(e.account) / WAD:.4f}")
    ledger = engine.ledger
    debt = ledger.debt_of(e.account, cfg.debt)
    ink = ledger.supply_of(e.account, cfg.collateral)
    if debt == 0 or ink == 0:
        raise Rejected(f"{e.account} has no {cfg.debt} debt against {cfg.collateral}")
    try:
        dart, dink, tab = house.dog.bark(debt, ink, RAY)
        price = feed_price_ray(engine)
        if house.clipper is not None:
            kick = house.clipper.kick(tab, dink, e.account, e.keeper, price, ledger.time)
            auction, coin = kick.id, kick.coin
        else:
            assert house.flipper is not None
            auction = house.flipper.kick(e.account, "vow", tab, dink, 0, ledger.time)
            coin = 0
    except LiquidationRefused as exc:
        raise _refused(exc) from None
    ledger.absorb_debt_amount(e.account, cfg.debt, dart)
    ledger.seize_supply_amount(e.account, cfg.collateral, dink)
    incentive = coin // RAY
    if incentive:
        ledger.pay_out_reserves(cfg.debt, incentive)
    house.records[auction] = AuctionRecord(auction, e.account, dart, dink, ledger.time,
                                           engine._price(cfg.collateral))
    return {"auction": auction, "debt": dart, "lot": dink, "tab": tab, "incentive": incentive}


def _finish(engine: Engine, house: AuctionHouse, auction: int, tab_left: int) -> dict[str, Any]:
    record = house.records.pop(auction)
    cfg = house.config
    shortfall = max(0, record.debt - record.raised)
    if shortfall:
        engine.ledger.reserves_to_deficit(cfg.debt, shortfall)
    if tab_left:
        house.dog.digs(tab_left)
    outcome = AuctionOutcome(record.id, record.account, record.debt, record.raised,
                             record.lot_sold, record.returned, record.price_at_kick, shortfall,
                             engine.ledger.time)
    house.outcomes.append(outcome)
    return {"settled": True, "shortfall": shortfall, "near_zero": outcome.near_zero}


def take(engine: Engine, e: Take) -> dict[str, Any]:
    engine._account_id(e.keeper, "keeper")
    house = _house(engine, e.auction)
    if house.clipper is None:
        raise Rejected("Take is for Dutch auctions (kind = \"clip\"); use Tend/Dent")
    cfg = house.config
    engine._require_prices([cfg.collateral, cfg.debt], for_liquidation=True)
    record = house.records.get(e.auction)
    if record is None:
        raise Rejected(f"auction: no running auction {e.auction}")
    try:
        result = house.clipper.take(e.auction, e.amount, e.max_price, e.keeper,
                                    engine.ledger.time)
    except LiquidationRefused as exc:
        raise _refused(exc) from None
    ledger = engine.ledger
    paid = div(result.owe, RAY, Rounding.UP)
    ledger.receive_into_reserves(cfg.debt, paid)
    ledger.pay_out_reserves(cfg.collateral, result.slice)
    if result.digs:
        house.dog.digs(result.digs)
    record.raised += paid
    record.lot_sold += result.slice
    details: dict[str, Any] = {"bought": result.slice, "paid": paid, "price": result.price}
    if result.done:
        if result.leftover_lot:
            ledger.credit_supply(record.account, cfg.collateral, result.leftover_lot)
            record.returned += result.leftover_lot
        # The take already released the whole tab from the Dog's limits (result.digs).
        details.update(_finish(engine, house, e.auction, 0))
    return details


def redo(engine: Engine, e: Redo) -> dict[str, Any]:
    engine._account_id(e.keeper, "keeper")
    house = _house(engine, e.auction)
    if house.clipper is None:
        raise Rejected("Redo is for Dutch auctions (kind = \"clip\")")
    cfg = house.config
    engine._require_prices([cfg.collateral, cfg.debt], for_liquidation=True)
    try:
        kick = house.clipper.redo(e.auction, e.keeper, feed_price_ray(engine),
                                  engine.ledger.time)
    except LiquidationRefused as exc:
        raise _refused(exc) from None
    incentive = kick.coin // RAY
    if incentive:
        engine.ledger.pay_out_reserves(cfg.debt, incentive)
    return {"top": kick.top, "incentive": incentive}


def _flipper(engine: Engine, auction: int) -> tuple[AuctionHouse, Flipper]:
    house = _house(engine, auction)
    if house.flipper is None:
        raise Rejected("Tend, Dent, Deal and Tick are for English auctions (kind = \"flip\")")
    return house, house.flipper


def tend(engine: Engine, e: Tend) -> dict[str, Any]:
    engine._account_id(e.keeper, "keeper")
    house, flipper = _flipper(engine, e.auction)
    before = flipper.bids.get(e.auction)
    # The Cat kicks with a bid of 0, so there is nothing to refund before the first bid.
    old_bid = before.bid if before is not None else 0
    try:
        flipper.tend(e.auction, e.lot, e.bid, e.keeper, engine.ledger.time)
    except LiquidationRefused as exc:
        raise _refused(exc) from None
    paid, refund = _rebid(engine, house, e.auction, e.bid, old_bid)
    return {"bid": e.bid, "paid": paid, "refund": refund}


def _rebid(engine: Engine, house: AuctionHouse, auction: int, bid: int,
           old_bid: int) -> tuple[int, int]:
    """The new bidder pays its bid (rad, rounded up to DAI units) and the bidder it
    outbids gets its bid back (rounded down); return ``(paid, refund)``."""
    ledger = engine.ledger
    debt = house.config.debt
    paid = div(bid, RAY, Rounding.UP)
    ledger.receive_into_reserves(debt, paid)
    refund = old_bid // RAY
    if refund:
        ledger.pay_out_reserves(debt, refund)
    house.records[auction].raised += paid - refund
    return paid, refund


def dent(engine: Engine, e: Dent) -> dict[str, Any]:
    engine._account_id(e.keeper, "keeper")
    house, flipper = _flipper(engine, e.auction)
    before = flipper.bids.get(e.auction)
    if before is None:
        raise Rejected(f"auction: no running auction {e.auction}")
    old_lot, old_bid, old_guy = before.lot, before.bid, before.guy
    try:
        flipper.dent(e.auction, e.lot, e.bid, e.keeper, engine.ledger.time)
    except LiquidationRefused as exc:
        raise _refused(exc) from None
    if old_guy != e.keeper:
        _rebid(engine, house, e.auction, e.bid, old_bid)
    record = house.records[e.auction]
    returned = old_lot - e.lot
    if returned:
        engine.ledger.credit_supply(record.account, house.config.collateral, returned)
        record.returned += returned
    return {"lot": e.lot, "returned": returned}


def deal(engine: Engine, e: Deal) -> dict[str, Any]:
    house, flipper = _flipper(engine, e.auction)
    try:
        final = flipper.deal(e.auction, engine.ledger.time)
    except LiquidationRefused as exc:
        raise _refused(exc) from None
    record = house.records[e.auction]
    engine.ledger.pay_out_reserves(house.config.collateral, final.lot)
    record.lot_sold += final.lot
    details = {"winner": final.guy, "lot": final.lot, "bid": final.bid}
    details.update(_finish(engine, house, e.auction, final.tab))
    return details


def tick(engine: Engine, e: Tick) -> dict[str, Any]:
    _, flipper = _flipper(engine, e.auction)
    try:
        flipper.tick(e.auction, engine.ledger.time)
    except LiquidationRefused as exc:
        raise _refused(exc) from None
    return {"end": flipper.bids[e.auction].end}
