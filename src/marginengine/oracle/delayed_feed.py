"""A delayed feed: the price of the previous period, one hop late (Maker's OSM).

Each ``poke`` (allowed once per ``hop``-aligned period) moves the queued price to current and
queues the source price read now. Readers (``peek``) therefore act on a price at least one
hop old, which gives governance and keepers a full hop to react to a bad source price
before it is used: the delay is the protection. A crash reaches the engine a hop late too.

As in the OSM, periods are aligned to multiples of ``hop`` (a poke at 7,300 with a one-hour
hop counts as the 7,200 period) and a poke after several missed hops advances one step
only: the queued price becomes current, it is not skipped.
"""

from __future__ import annotations

from dataclasses import dataclass

from marginengine.errors import OracleError
from marginengine.oracle.inputs import require_param, require_price, require_time
from marginengine.oracle.status import PriceReading


@dataclass(frozen=True, slots=True)
class DelayedFeedParams:
    """Delay of a delayed feed.

    Parameters
    ----------
    hop
        Seconds between pokes, and so the delay (Maker's default is one hour).

    Raises
    ------
    ConfigError
        If ``hop`` is not a positive int.
    """

    hop: int = 3600

    def __post_init__(self) -> None:
        require_param(self.hop, "hop", 1, "seconds")


class DelayedFeed:
    """An OSM: ``peek`` is the price read at the previous poke, ``peep`` the one queued.

    The readings' ``updated_at`` is the time their price was read from the source, so a
    reader's staleness limit for this feed must allow for the delay: up to two hops.

    Parameters
    ----------
    params
        The hop.
    """

    def __init__(self, params: DelayedFeedParams | None = None) -> None:
        self.params = params or DelayedFeedParams()
        self._current: PriceReading | None = None
        self._next: PriceReading | None = None
        self._period_start: int | None = None
        self._clock: int | None = None

    def ready(self, time: int) -> bool:
        """Return whether a poke at ``time`` is allowed (a new hop period has begun)."""
        require_time(time, "time")
        return self._period_start is None or time >= self._period_start + self.params.hop

    def poke(self, time: int, source_price: int) -> None:
        """Advance one hop: the queued price becomes current, ``source_price`` is queued.

        Parameters
        ----------
        time
            Seconds; not before the feed's last poke or read.
        source_price
            The source's price now (a positive int, USD with 8 decimals).

        Raises
        ------
        OracleError
            On a bad price, a time out of order, or a poke before the next hop period (the
            OSM's ``poke`` reverts with "not passed"); the feed is then unchanged.
        """
        time = require_time(time, "time", self._clock)
        price = require_price(source_price, "source_price")
        if not self.ready(time):
            assert self._period_start is not None
            raise OracleError(
                "time",
                f"poke at {time} is before the next hop period at "
                f"{self._period_start + self.params.hop}",
            )
        self._clock = time
        self._current = self._next
        self._next = PriceReading(price, time)
        self._period_start = time - time % self.params.hop

    def observe(self, time: int, market_price: int) -> bool:
        """Poke if a new hop period has begun, else only advance the clock.

        This is how a simulator drives the feed at every block.

        Returns
        -------
        bool
            Whether the feed was poked.

        Raises
        ------
        OracleError
            On a bad price or a time out of order; the feed is then unchanged.
        """
        time = require_time(time, "time", self._clock)
        require_price(market_price, "market_price")
        if self.ready(time):
            self.poke(time, market_price)
            return True
        self._clock = time
        return False

    def peek(self, time: int) -> PriceReading | None:
        """Return the current price (read at the poke before last), ``None`` before two pokes.

        Raises
        ------
        OracleError
            If ``time`` is before the feed's last poke or read.
        """
        self._clock = require_time(time, "time", self._clock)
        return self._current

    def peep(self, time: int) -> PriceReading | None:
        """Return the queued price (read at the last poke), ``None`` before the first poke.

        Raises
        ------
        OracleError
            If ``time`` is before the feed's last poke or read.
        """
        self._clock = require_time(time, "time", self._clock)
        return self._next

    def latest(self, time: int) -> PriceReading | None:
        """The :class:`~marginengine.oracle.status.Feed` answer: :meth:`peek`."""
        return self.peek(time)
