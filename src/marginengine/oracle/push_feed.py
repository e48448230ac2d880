"""A push feed: publishes on a deviation or when the heartbeat expires (the Chainlink scheme).

The reporters watch the market and write a new answer when it has moved from the last
published answer by at least ``deviation_bps``, or when ``heartbeat`` seconds have passed
since the last one. Between publications, readers see the last answer, however far the
market has gone.

Each answer is clamped to ``[min_answer, max_answer]``. The reporters compare the *market*
with the last answer (they do not know the clamp), so while the market stays beyond a bound
every observation republishes the same clamped answer with a fresh timestamp: a staleness
check alone cannot see the problem (LUNA, May 2022). Only the ``CLAMPED`` status says it.
"""

from __future__ import annotations

from dataclasses import dataclass

from marginengine.errors import ConfigError
from marginengine.fixedpoint import BPS, PRICE_DECIMALS, format_units
from marginengine.oracle.inputs import require_param, require_price, require_time
from marginengine.oracle.status import PriceReading, PriceStatus


@dataclass(frozen=True, slots=True)
class PushFeedParams:
    """Publication rule and answer bounds of a push feed.

    Parameters
    ----------
    deviation_bps
        Publish when ``|market - answer| / answer`` reaches this many basis points (50 is
        0.5%, Chainlink's ETH/USD threshold).
    heartbeat
        Publish when this many seconds have passed since the last answer.
    min_answer, max_answer
        Bounds of the answer (USD with 8 decimals); ``max_answer=None`` for no upper bound.

    Raises
    ------
    ConfigError
        If a value is not a positive int or ``max_answer <= min_answer``.
    """

    deviation_bps: int = 50
    heartbeat: int = 3600
    min_answer: int = 1
    max_answer: int | None = None

    def __post_init__(self) -> None:
        require_param(self.deviation_bps, "deviation_bps", 1, "bps")
        require_param(self.heartbeat, "heartbeat", 1, "seconds")
        require_param(self.min_answer, "min_answer", 1, "price units")
        if self.max_answer is not None:
            require_param(self.max_answer, "max_answer", 1, "price units")
            if self.max_answer <= self.min_answer:
                raise ConfigError(
                    [f"max_answer: must be above min_answer ({self.max_answer} <= "
                     f"{self.min_answer})"]
                )


def deviation_reached(market: int, answer: int, threshold_bps: int) -> bool:
    """Return whether ``|market - answer| / answer >= threshold_bps / 10000``, exactly.

    Parameters
    ----------
    market
        The price the reporters see now.
    answer
        The last published answer (positive).
    threshold_bps
        The deviation threshold in basis points.
    """
    # Cross-multiplied, so no division rounds the boundary: 50 bps of 2,000 is exactly 10.
    return abs(market - answer) * BPS >= threshold_bps * answer


class PushFeed:
    """A feed that publishes on deviation or heartbeat, driven by an explicit clock.

    Parameters
    ----------
    params
        Threshold, heartbeat and answer bounds.

    Examples
    --------
    >>> feed = PushFeed(PushFeedParams(deviation_bps=50, heartbeat=3600))
    >>> feed.observe(0, 2_000 * 10**8) is not None    # the first observation publishes
    True
    >>> feed.observe(600, 2_009 * 10**8) is None      # 45 bps: below the threshold
    True
    >>> feed.latest(600).price == 2_000 * 10**8
    True
    """

    def __init__(self, params: PushFeedParams | None = None) -> None:
        self.params = params or PushFeedParams()
        self._answer: PriceReading | None = None
        self._clock: int | None = None
        self._round = 0

    @property
    def round(self) -> int:
        """Number of answers published so far (Chainlink's round id, from 1)."""
        return self._round

    def observe(self, time: int, market_price: int) -> PriceReading | None:
        """Show the feed the market at ``time``; publish if the deviation or heartbeat says so.

        Parameters
        ----------
        time
            Seconds; not before the feed's last observation or read.
        market_price
            The market price the reporters see, a positive int (USD with 8 decimals).

        Returns
        -------
        PriceReading or None
            The new answer if one was published, else ``None``.

        Raises
        ------
        OracleError
            On a bad price or a time out of order; the feed is then unchanged.
        """
        time = require_time(time, "time", self._clock)
        market = require_price(market_price, "market_price")
        self._clock = time
        last = self._answer
        if not (
            last is None
            or time - last.updated_at >= self.params.heartbeat
            or deviation_reached(market, last.price, self.params.deviation_bps)
        ):
            return None
        reading = self._clamp(market, time)
        self._answer = reading
        self._round += 1
        return reading

    def latest(self, time: int) -> PriceReading | None:
        """Return the last published answer as of ``time`` (``None`` before the first).

        Staleness is not judged here: the reader compares ``updated_at`` with its own limit.

        Raises
        ------
        OracleError
            If ``time`` is before the feed's last observation or read.
        """
        self._clock = require_time(time, "time", self._clock)
        return self._answer

    def _clamp(self, market: int, time: int) -> PriceReading:
        low, high = self.params.min_answer, self.params.max_answer
        if market < low:
            return PriceReading(
                low, time, PriceStatus.CLAMPED,
                f"market {_usd(market)} is below min_answer {_usd(low)}; answer held at "
                "min_answer",
            )
        if high is not None and market > high:
            return PriceReading(
                high, time, PriceStatus.CLAMPED,
                f"market {_usd(market)} is above max_answer {_usd(high)}; answer held at "
                "max_answer",
            )
        return PriceReading(market, time)


def _usd(price: int) -> str:
    return format_units(price, PRICE_DECIMALS)
