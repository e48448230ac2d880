"""A time-weighted average price of a venue, for an oracle that reads the venue.

The price is a step function: each observation holds from its time until the next one (a
venue's price changes only when someone trades). The average over the ``window`` seconds
ending at ``time`` weighs each price by the seconds it held:

    value(t) = sum(price_i * seconds_i held within [t - window, t]) / seconds covered

rounded down. Before the first observation there is no price: a window reaching back past
it averages over the part that is covered (from the first observation to ``time``); at the
first observation's own time the value is that price. Two observations at the same time:
the later one replaces the earlier (the price that holds from then on is the last one).

A spot price can be moved within one block by whoever trades against the pool; to move the
TWAP by ``d`` an attacker must hold the pool ``d * window / seconds`` away for ``seconds``.
This is what Uniswap v2's cumulative-price oracle gives a reader that samples the
accumulator ``window`` seconds apart.
"""

from __future__ import annotations

from collections import deque

from marginengine.oracle.twap import time_weighted_average
from marginengine.venue.amm import VenueError, require_int


class Twap:
    """Time-weighted average of a venue's price over a trailing window.

    Parameters
    ----------
    window
        Seconds averaged, a positive int.

    Raises
    ------
    VenueError
        If ``window`` is not a positive int.

    Examples
    --------
    >>> twap = Twap(window=600)
    >>> twap.observe(0, 2_000)
    >>> twap.observe(300, 1_000)
    >>> twap.value(600)  # 300 s at 2,000 and 300 s at 1,000
    1500
    """

    def __init__(self, window: int) -> None:
        self.window = require_int(window, "window", 1)
        self._points: deque[tuple[int, int]] = deque()

    def observe(self, time: int, price: int) -> None:
        """Record that the venue's price is ``price`` from ``time`` on.

        Raises
        ------
        VenueError
            If ``time`` is not a non-negative int or is before the last observation, or
            ``price`` is not a positive int; nothing is recorded.
        """
        time = require_int(time, "time", 0)
        price = require_int(price, "price", 1)
        if self._points and time < self._points[-1][0]:
            raise VenueError("time", f"{time} is before the last observation, "
                                     f"{self._points[-1][0]} (out of order)")
        if self._points and time == self._points[-1][0]:
            self._points.pop()
        self._points.append((time, price))
        # A point is needed while the one after it starts after some future window's start;
        # future windows start at or after time - window.
        while len(self._points) > 1 and self._points[1][0] <= time - self.window:
            self._points.popleft()

    def latest(self) -> int:
        """The last price observed (the spot).

        Raises
        ------
        VenueError
            If nothing has been observed.
        """
        if not self._points:
            raise VenueError("twap", "no price observed yet")
        return self._points[-1][1]

    def value(self, time: int) -> int:
        """The average price over ``[time - window, time]``, rounded down.

        Raises
        ------
        VenueError
            If nothing has been observed, or ``time`` is not an int at or after the last
            observation.
        """
        time = require_int(time, "time", 0)
        if not self._points:
            raise VenueError("twap", "no price observed yet")
        if time < self._points[-1][0]:
            raise VenueError("time", f"{time} is before the last observation, "
                                     f"{self._points[-1][0]}")
        return time_weighted_average(list(self._points), time - self.window, time)
