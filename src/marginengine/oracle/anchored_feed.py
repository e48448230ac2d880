"""A reporter checked against an anchor: Compound's ``UniswapAnchoredView`` scheme.

A reporter (an exchange's signed price, say) is accepted only while it stays within
``tolerance_bps`` of the anchor, a time-weighted average of a second source (a DEX TWAP)
over ``window`` seconds. A reporter that prints a wrong number is refused and the last
accepted price stands; the refusal is reported with its reason.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from marginengine.fixedpoint import BPS, Rounding, div, format_units
from marginengine.oracle.inputs import require_param, require_price, require_time
from marginengine.oracle.status import PriceReading
from marginengine.oracle.twap import time_weighted_average


@dataclass(frozen=True, slots=True)
class AnchoredFeedParams:
    """``tolerance_bps``: largest accepted distance from the anchor; ``window``: TWAP seconds."""

    tolerance_bps: int = 2000
    window: int = 1800

    def __post_init__(self) -> None:
        require_param(self.tolerance_bps, "tolerance_bps", 1, "bps")
        require_param(self.window, "window", 1, "seconds")


class AnchoredFeed:
    """Accept the reporter's price only within the tolerance of the anchor's TWAP."""

    def __init__(self, params: AnchoredFeedParams | None = None) -> None:
        self.params = params or AnchoredFeedParams()
        self._anchor: deque[tuple[int, int]] = deque()
        self._clock: int | None = None
        self._latest: PriceReading | None = None
        self.refusals: list[str] = []

    def anchor_twap(self, time: int) -> int:
        """Time-weighted average of the anchor over the window ending at ``time`` (see
        :func:`~marginengine.oracle.twap.time_weighted_average`: rounded down)."""
        # One TWAP rule for the oracle and the venue: rounded down (oracle/twap.py).
        return time_weighted_average(list(self._anchor), time - self.params.window, time)

    def observe(self, time: int, reported: int, anchor: int) -> PriceReading | None:
        """Record the anchor's price and check the reporter's; return the reading if
        accepted (``None``: refused, the last accepted price stands)."""
        time = require_time(time, "time", self._clock)
        reported = require_price(reported, "reported")
        anchor = require_price(anchor, "anchor")
        self._clock = time
        self._anchor.append((time, anchor))
        while len(self._anchor) > 1 and self._anchor[1][0] <= time - self.params.window:
            self._anchor.popleft()
        twap = self.anchor_twap(time)
        low = div(twap * (BPS - self.params.tolerance_bps), BPS, Rounding.UP)
        high = div(twap * (BPS + self.params.tolerance_bps), BPS, Rounding.DOWN)
        if not low <= reported <= high:
            self.refusals.append(
                f"reporter {format_units(reported, 8)} is outside "
                f"{self.params.tolerance_bps} bps of the anchor TWAP {format_units(twap, 8)}"
            )
            return None
        self._latest = PriceReading(reported, time)
        return self._latest

    def latest(self, time: int) -> PriceReading | None:
        """The last accepted reading."""
        return self._latest
