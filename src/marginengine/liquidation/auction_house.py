"""The auction state of a protocol that liquidates by auction: Maker's Dog with one
Clipper (Liquidations 2.0) or one Flipper (Liquidations 1.2), and the records the engine
keeps of each auction (debt, collateral, what was raised and returned).

The machines are the pure ones of :mod:`marginengine.liquidation.dutch_auction` and
:mod:`marginengine.liquidation.english_auction`; the engine's auction handlers drive them.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field, replace
from decimal import Decimal, localcontext
from typing import Any

from marginengine.config.auction import AuctionConfig
from marginengine.fixedpoint import RAY, WAD
from marginengine.liquidation.abaci import (
    ExponentialDecrease,
    LinearDecrease,
    StairstepExponentialDecrease,
)
from marginengine.liquidation.cat import Cat, CatParams
from marginengine.liquidation.dutch_auction import Clipper, ClipperParams, Dog, DogParams
from marginengine.liquidation.english_auction import Flipper, FlipperParams


def _scaled(value: Any, unit: int) -> int:
    # In a local context wide enough for any config amount: the thread's 28 significant
    # digits rounded a product of more (a Hole of 10^11 DAI with 18 decimals is 30
    # digits), where dss stores the amount whole. Truncated toward zero, as dss's casts.
    with localcontext() as context:
        context.prec = 100
        return int(Decimal(value) * unit)


def wad_of(value: Any) -> int:
    """A config amount (DAI, a fraction, a factor) as a wad (10**18), exactly, truncated
    toward zero past 18 decimals."""
    return _scaled(value, WAD)


def ray_of(value: Any) -> int:
    """A config amount as a ray (10**27), exactly, truncated toward zero past 27
    decimals."""
    return _scaled(value, RAY)


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
    """The protocol's auction state: the Dog and one Clipper (Liquidations 2.0), or the Cat
    and one Flipper (Liquidations 1.2), and the records."""

    config: AuctionConfig
    dog: Dog | None
    clipper: Clipper | None
    flipper: Flipper | None
    records: dict[int, AuctionRecord] = field(default_factory=dict)
    outcomes: list[AuctionOutcome] = field(default_factory=list)
    cat: Cat | None = None

    @classmethod
    def of(cls, cfg: AuctionConfig) -> AuctionHouse:
        """Build the machines from human-unit parameters."""
        clipper = flipper = None
        dog = cat = None
        if cfg.kind == "clip":
            dog = Dog(DogParams(Hole=wad_of(cfg.Hole) * RAY, hole=wad_of(cfg.hole) * RAY,
                                chop=wad_of(cfg.chop), dust=wad_of(cfg.dust) * RAY))
            calc: Any
            if cfg.curve == "linear":
                calc = LinearDecrease(cfg.tau)
            elif cfg.curve == "exponential":
                calc = ExponentialDecrease(ray_of(cfg.cut))
            else:
                calc = StairstepExponentialDecrease(cfg.step, ray_of(cfg.cut))
            clipper = Clipper.from_dog(ClipperParams(
                buf=ray_of(cfg.buf), tail=cfg.tail, cusp=ray_of(cfg.cusp), chip=wad_of(cfg.chip),
                tip=wad_of(cfg.tip) * RAY, calc=calc), dog)
        else:
            dunk = cfg.hole if cfg.dunk is None else cfg.dunk
            cat = Cat(CatParams(box=wad_of(cfg.Hole) * RAY, dunk=wad_of(dunk) * RAY,
                                chop=wad_of(cfg.chop), dust=wad_of(cfg.dust) * RAY))
            flipper = Flipper(FlipperParams(beg=wad_of(cfg.beg), ttl=cfg.ttl, tau=cfg.flip_tau))
        return cls(cfg, dog, clipper, flipper, cat=cat)

    def copy(self) -> AuctionHouse:
        """An independent copy (the engine mutates a copy and commits it once the event is
        logged): the mutable parts are copied, the frozen ones shared, in O(running
        auctions)."""
        dog = copy.copy(self.dog)
        cat = copy.copy(self.cat)
        clipper = self.clipper.copy() if self.clipper is not None else None
        flipper = self.flipper.copy() if self.flipper is not None else None
        return AuctionHouse(self.config, dog, clipper, flipper, dict(self.records),
                            list(self.outcomes), cat)

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
        machines: dict[str, object] = {}
        if self.dog is not None:
            machines.update(Dirt=self.dog.Dirt, dirt=self.dog.dirt)
        if self.cat is not None:
            machines["litter"] = self.cat.litter
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


__all__ = ["AuctionHouse", "AuctionOutcome", "AuctionRecord", "ray_of", "wad_of"]
