"""The time-weighted average of a step-function price: one rule, one rounding.

Each observation ``(time, price)`` holds from its time until the next one. Over the window
``[start, end]`` each price weighs the seconds it held; the average is rounded **down**, as
a reader of Uniswap v2's cumulative price gets it (``(cumulative_end - cumulative_start) /
elapsed`` truncates). When no second of the window is covered, the last price is the
average. Used by the anchored feed (oracle) and the venue's TWAP (venue), so both agree to
the unit.
"""

from __future__ import annotations

from collections.abc import Sequence

from marginengine.fixedpoint import Rounding, div


def time_weighted_average(points: Sequence[tuple[int, int]], start: int, end: int) -> int:
    """The average of ``points`` (sorted by time, non-empty) over ``[start, end]``,
    rounded down."""
    total = covered = 0
    for index, (begin, price) in enumerate(points):
        until = points[index + 1][0] if index + 1 < len(points) else end
        seconds = until - max(begin, start)
        if seconds > 0:
            total += price * seconds
            covered += seconds
    if covered == 0:
        return points[-1][1]
    return div(total, covered, Rounding.DOWN)


__all__ = ["time_weighted_average"]
