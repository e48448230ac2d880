"""What a feed reports: a price, when it was published, and whether it can be trusted."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from marginengine.errors import OracleError
from marginengine.oracle.inputs import require_price, require_time


class PriceStatus(Enum):
    """How far a price can be trusted; the engine acts on it, the oracle only reports it.

    Feeds report ``FRESH`` or ``CLAMPED``; aggregation adds the others.
    """

    #: Recent enough and agreed on by enough sources.
    FRESH = "fresh"
    #: Older than the staleness limit.
    STALE = "stale"
    #: Fresh sources disagree by more than the allowed spread.
    DIVERGENT = "divergent"
    #: The feed's answer sits at its min or max answer: the market is beyond it.
    CLAMPED = "clamped"
    #: The source's own confidence interval is wider than allowed.
    UNCERTAIN = "uncertain"
    #: Fewer sources answered than the minimum.
    INSUFFICIENT = "insufficient"


@dataclass(frozen=True, slots=True)
class PriceReading:
    """One answer of one feed.

    Parameters
    ----------
    price
        The answer, an int in USD with 8 decimals.
    updated_at
        When the answer was published (or, for a delayed feed, read from its source), in
        seconds; staleness is measured from here.
    status
        ``FRESH`` or ``CLAMPED`` from a feed; any status in an aggregate.
    reason
        Why the status is not ``FRESH`` (empty when it is).
    confidence
        Half-width of the source's confidence interval, in price units (0 when the source
        gives none, as push feeds do).

    Raises
    ------
    OracleError
        If the price is not a positive int, the time is not a non-negative int, or the
        confidence is negative.
    """

    price: int
    updated_at: int
    status: PriceStatus = PriceStatus.FRESH
    reason: str = ""
    confidence: int = 0

    def __post_init__(self) -> None:
        require_price(self.price, "price")
        require_time(self.updated_at, "updated_at")
        if isinstance(self.confidence, bool) or not isinstance(self.confidence, int):
            raise OracleError("confidence", "must be an int in price units")
        if self.confidence < 0:
            raise OracleError("confidence", f"must not be negative (got {self.confidence})")


class Feed(Protocol):
    """Anything that answers "what is your latest price at this time?"."""

    def latest(self, time: int) -> PriceReading | None:
        """Return the latest answer at ``time``, or ``None`` if the feed never answered."""
        ...
