"""Scenario feeds: how each asset's price reaches the engine during a run.

Each step gives market prices (``prices``) and, optionally, what a reporter prints
(``reporter``). A feed reads its source (the reporter's price where given, else the market
price) and turns it into ``SetPrice`` events with the oracle layer's status:

``direct``
    every price given in a step is published at once, fresh.
``push``
    a Chainlink-style push feed: publishes on ``deviation`` or after ``heartbeat``, its
    answer clamped to ``[min_answer, max_answer]`` (a clamped answer is reported as such).
``delayed``
    Maker's OSM: publishes, every ``hop`` seconds, the price read one hop earlier.
``anchored``
    Compound's anchored view: the reporter's price is accepted only within ``tolerance``
    of the market price's TWAP over ``window``; otherwise refused, the last price stands.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field

from marginengine.config.base import StrictModel
from marginengine.engine import SetPrice
from marginengine.fixedpoint import PRICE_DECIMALS, parse_units
from marginengine.oracle import (
    AnchoredFeed,
    AnchoredFeedParams,
    DelayedFeed,
    DelayedFeedParams,
    PriceReading,
    PushFeed,
    PushFeedParams,
)

FeedKind = Literal["direct", "push", "delayed", "anchored"]


#: A push feed's deviation threshold, a fraction in whole basis points (0.0001 to 1): the
#: feed compares in bps (``oracle.PushFeedParams.deviation_bps``), so 0.00005 was cut to
#: 0 and refused by the feed under its own name, and 0.00015 silently read as 1 bps.
Deviation = Annotated[Decimal, Field(ge=Decimal("0.0001"), le=1, multiple_of=Decimal("0.0001"),
                                     allow_inf_nan=False)]


class FeedSpec(StrictModel):
    """One asset's feed in a scenario (``[feeds.ASSET]``)."""

    kind: FeedKind = "direct"
    deviation: Deviation = Decimal("0.005")
    heartbeat: int = Field(default=3600, gt=0)
    min_answer: Decimal = Field(default=Decimal("0.00000001"), gt=0, allow_inf_nan=False)
    max_answer: Decimal | None = Field(default=None, gt=0, allow_inf_nan=False)
    hop: int = Field(default=3600, gt=0)
    tolerance: Decimal = Field(default=Decimal("0.20"), gt=0, lt=1, allow_inf_nan=False)
    window: int = Field(default=1800, gt=0)


class ScenarioFeed:
    """Drives one asset's feed through a run and says what to publish each step."""

    def __init__(self, asset: str, spec: FeedSpec) -> None:
        self.asset = asset
        self.spec = spec
        self.market: int | None = None
        self.reported: int | None = None
        self.refusals: list[str] = []
        self._push: PushFeed | None = None
        self._osm: DelayedFeed | None = None
        self._anchored: AnchoredFeed | None = None
        if spec.kind == "push":
            self._push = PushFeed(PushFeedParams(
                deviation_bps=int(spec.deviation * 10_000), heartbeat=spec.heartbeat,
                min_answer=parse_units(spec.min_answer, PRICE_DECIMALS),
                max_answer=(parse_units(spec.max_answer, PRICE_DECIMALS)
                            if spec.max_answer is not None else None),
            ))
        elif spec.kind == "delayed":
            self._osm = DelayedFeed(DelayedFeedParams(hop=spec.hop))
        elif spec.kind == "anchored":
            self._anchored = AnchoredFeed(AnchoredFeedParams(
                tolerance_bps=int(spec.tolerance * 10_000), window=spec.window))

    def step(self, time: int, market: int | None, reported: int | None) -> SetPrice | None:
        """Take this step's prices (``None``: unchanged); return the event to publish."""
        fresh_input = market is not None or reported is not None
        if market is not None:
            self.market = market
        if reported is not None:
            self.reported = reported
        if self.market is None:
            return None
        source = self.reported if self.reported is not None else self.market
        reading: PriceReading | None = None
        if self._push is not None:
            reading = self._push.observe(time, source)
        elif self._osm is not None:
            reading = self._osm.peek(time) if self._osm.observe(time, source) else None
        elif self._anchored is not None:
            if not fresh_input:
                return None
            reading = self._anchored.observe(time, source, self.market)
            if reading is None:
                self.refusals.append(f"t={time}: {self._anchored.refusals[-1]}")
        elif fresh_input:
            reading = PriceReading(source, time)
        if reading is None:
            return None
        return SetPrice(self.asset, reading.price, reading.status.value, reading.reason)
