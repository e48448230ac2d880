"""Aggregation: one price from several sources, with a status saying how far to trust it.

The rule, in order:

1. A source counts as *fresh* if it answered, its reading's status is ``FRESH``, its age
   (``now - updated_at``) is at most its own ``max_age``, and its confidence half-width is
   at most ``max_confidence_bps`` of its price. Every other source is left out with a reason.
2. Fewer fresh sources than ``min_fresh``: no price (``None``). The status names the most
   severe cause among the sources left out, in the order ``CLAMPED`` (the answer is known
   wrong), ``STALE``, ``UNCERTAIN``, ``DIVERGENT``, ``INSUFFICIENT`` (no answer at all).
3. Otherwise the price is the median of the fresh sources. For an even count it is the
   *lower* median: every aggregate is a price one source actually published, so a decision
   can always be traced to a source, and no division has to round.
4. If the fresh sources spread more than ``max_spread_bps`` (``max / min - 1``) the status is
   ``DIVERGENT``: the median is still given, the engine decides what a divergent price may do.

Confidence: sources whose interval is too wide are rejected (step 1); the aggregate carries
the widest interval among the sources used, so a caller that wants to widen rather than
trust the point value can value collateral at :attr:`AggregatedPrice.low` and debt at
:attr:`AggregatedPrice.high` (as Pyth recommends).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from marginengine.errors import ConfigError, OracleError, field_path
from marginengine.fixedpoint import BPS, PRICE_DECIMALS, Rounding, div, format_units
from marginengine.oracle.inputs import require_param, require_time
from marginengine.oracle.status import Feed, PriceReading, PriceStatus

#: Which cause a failed aggregate reports when several sources failed for different reasons.
SEVERITY: tuple[PriceStatus, ...] = (
    PriceStatus.CLAMPED,
    PriceStatus.STALE,
    PriceStatus.UNCERTAIN,
    PriceStatus.DIVERGENT,
    PriceStatus.INSUFFICIENT,
)


@dataclass(frozen=True)
class AggregationParams:
    """Which sources an aggregate reads and how much disagreement it tolerates.

    Parameters
    ----------
    max_age
        Source name -> staleness limit in seconds (a reading exactly this old is fresh).
        A delayed feed needs up to two hops here.
    min_fresh
        Least number of fresh sources for a price.
    max_spread_bps
        Largest ``max / min - 1`` among fresh sources, in basis points, before ``DIVERGENT``.
    max_confidence_bps
        Largest confidence half-width of a source, in basis points of its price; below
        10,000 so that ``low`` stays positive (1,000 is Mango's default filter).

    Raises
    ------
    ConfigError
        If there is no source, a name is empty, or a number is out of range.
    """

    max_age: Mapping[str, int]
    min_fresh: int = 1
    max_spread_bps: int = 500
    max_confidence_bps: int = 1000
    sources: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        if not isinstance(self.max_age, Mapping) or not self.max_age:
            raise ConfigError(["max_age: must map at least one source name to seconds"])
        for name, seconds in self.max_age.items():
            if not isinstance(name, str) or not name:
                raise ConfigError([f"max_age: source names must be non-empty text ({name!r})"])
            require_param(seconds, f"max_age.{name}", 1, "seconds")
        require_param(self.min_fresh, "min_fresh", 1, "sources")
        if self.min_fresh > len(self.max_age):
            raise ConfigError(
                [f"min_fresh: {self.min_fresh} is more than the {len(self.max_age)} sources"]
            )
        require_param(self.max_spread_bps, "max_spread_bps", 0, "bps")
        require_param(self.max_confidence_bps, "max_confidence_bps", 0, "bps")
        if self.max_confidence_bps >= BPS:
            raise ConfigError(
                [f"max_confidence_bps: must be below {BPS} (got {self.max_confidence_bps})"]
            )
        # A frozen copy, so nobody changes the limits behind the dataclass's back.
        object.__setattr__(self, "max_age", MappingProxyType(dict(self.max_age)))
        object.__setattr__(self, "sources", tuple(sorted(self.max_age)))


@dataclass(frozen=True, slots=True)
class AggregatedPrice:
    """The aggregate at one time.

    Parameters
    ----------
    time
        When it was computed, in seconds.
    price
        The (lower) median of the fresh sources, or ``None`` when there are too few.
    status
        ``FRESH``, ``DIVERGENT``, or the cause of too few fresh sources.
    reason
        Why the status is not ``FRESH``, and which sources were left out and why.
    sources
        The fresh sources the price is the median of, by name.
    spread_bps
        ``max / min - 1`` among those sources, in basis points rounded up.
    confidence
        The widest confidence half-width among those sources, in price units.
    """

    time: int
    price: int | None
    status: PriceStatus
    reason: str
    sources: tuple[str, ...] = ()
    spread_bps: int = 0
    confidence: int = 0

    @property
    def low(self) -> int | None:
        """``price - confidence``: the widened price to value collateral at."""
        return None if self.price is None else self.price - self.confidence

    @property
    def high(self) -> int | None:
        """``price + confidence``: the widened price to value debt at."""
        return None if self.price is None else self.price + self.confidence


def lower_median(prices: list[int]) -> int:
    """Return the lower median of a non-empty list (the middle one of an odd count).

    Parameters
    ----------
    prices
        Any order; not modified.
    """
    if not prices:
        raise ValueError("the median of no prices is undefined")
    ordered = sorted(prices)
    return ordered[(len(ordered) - 1) // 2]


def spread_exceeds(low: int, high: int, max_spread_bps: int) -> bool:
    """Return whether ``high / low - 1 > max_spread_bps / 10000``, exactly."""
    return (high - low) * BPS > max_spread_bps * low


def aggregate(
    params: AggregationParams, readings: Mapping[str, PriceReading | None], now: int
) -> AggregatedPrice:
    """Combine the sources' latest readings into one price with a status.

    Parameters
    ----------
    params
        Sources, staleness limits, quorum, spread and confidence limits.
    readings
        Exactly the sources of ``params``: each one's latest reading, or ``None`` if it has
        never answered.
    now
        The time of the aggregate, in seconds.

    Returns
    -------
    AggregatedPrice
        See the module docstring for the rule.

    Raises
    ------
    OracleError
        If a source is missing from or unknown to ``readings``, a reading is not a
        :class:`PriceReading`, or a reading is dated after ``now``.
    """
    now = require_time(now, "now")
    _check_sources(params, readings)
    fresh: list[tuple[str, PriceReading]] = []
    left_out: list[tuple[PriceStatus, str]] = []
    for name in params.sources:
        reading = readings[name]
        cause = _exclusion(params, name, reading, now)
        if cause is None:
            assert reading is not None
            fresh.append((name, reading))
        else:
            left_out.append(cause)
    notes = "; ".join(reason for _, reason in left_out)
    if len(fresh) < params.min_fresh:
        causes = {status for status, _ in left_out}
        status = next((s for s in SEVERITY if s in causes), PriceStatus.INSUFFICIENT)
        reason = (
            f"{len(fresh)} of {len(params.sources)} sources fresh, {params.min_fresh} needed"
            + (f": {notes}" if notes else "")
        )
        return AggregatedPrice(now, None, status, reason, tuple(name for name, _ in fresh))

    prices = [reading.price for _, reading in fresh]
    price = lower_median(prices)
    low, low_name = min((reading.price, name) for name, reading in fresh)
    high, high_name = max((reading.price, name) for name, reading in fresh)
    spread = div((high - low) * BPS, low, Rounding.UP)
    confidence = max(reading.confidence for _, reading in fresh)
    names = tuple(name for name, _ in fresh)
    if spread_exceeds(low, high, params.max_spread_bps):
        reason = (
            f"sources diverge: {low_name} at {_usd(low)} and {high_name} at {_usd(high)} "
            f"spread {spread} bps > {params.max_spread_bps} bps"
            + (f"; left out: {notes}" if notes else "")
        )
        return AggregatedPrice(
            now, price, PriceStatus.DIVERGENT, reason, names, spread, confidence
        )
    reason = f"left out: {notes}" if notes else ""
    return AggregatedPrice(now, price, PriceStatus.FRESH, reason, names, spread, confidence)


def read_sources(feeds: Mapping[str, Feed], time: int) -> dict[str, PriceReading | None]:
    """Ask every feed for its latest answer at ``time``, ready for :func:`aggregate`.

    Raises
    ------
    OracleError
        If a feed rejects the time (out of order) or returns a bad price.
    """
    return {name: feeds[name].latest(time) for name in sorted(feeds)}


def _check_sources(params: AggregationParams, readings: Mapping[str, object]) -> None:
    if not isinstance(readings, Mapping):
        raise OracleError("readings", f"must map source names to readings, not "
                          f"{type(readings).__name__}")
    missing = [name for name in params.sources if name not in readings]
    if missing:
        raise OracleError("readings", f"missing source {', '.join(map(repr, missing))} "
                          "(pass None for a source that has not answered)")
    unknown = sorted(str(name) for name in readings if name not in params.max_age)
    if unknown:
        raise OracleError("readings", f"unknown source {', '.join(map(repr, unknown))} "
                          f"(expected: {', '.join(params.sources)})")
    for name in params.sources:
        reading = readings[name]
        if reading is not None and not isinstance(reading, PriceReading):
            raise OracleError(field_path("readings", name), f"must be a PriceReading or None, not "
                              f"{type(reading).__name__}")


def _exclusion(
    params: AggregationParams, name: str, reading: PriceReading | None, now: int
) -> tuple[PriceStatus, str] | None:
    if reading is None:
        return PriceStatus.INSUFFICIENT, f"{name}: no answer"
    if reading.updated_at > now:
        raise OracleError(
            field_path("readings", name, "updated_at"), f"{reading.updated_at} is after now ({now})"
        )
    if reading.status is not PriceStatus.FRESH:
        return reading.status, f"{name}: {reading.status.value} ({reading.reason})"
    age = now - reading.updated_at
    if age > params.max_age[name]:
        return PriceStatus.STALE, f"{name}: stale, {age} s old > {params.max_age[name]} s"
    if reading.confidence * BPS > params.max_confidence_bps * reading.price:
        width = div(reading.confidence * BPS, reading.price, Rounding.UP)
        return (
            PriceStatus.UNCERTAIN,
            f"{name}: confidence {width} bps of price > {params.max_confidence_bps} bps",
        )
    return None


def _usd(price: int) -> str:
    return format_units(price, PRICE_DECIMALS)
