"""An option expiry's settlement price: the time-weighted average spot over the 30 minutes
before it, exactly as Derive's settlement feed computes it.

Reference: ``derivexyz/v2-core`` at commit 7736900d395703c4f675376caa4c315402943831,
``src/feeds/LyraForwardFeed.sol``. Its signed updates carry two *spot aggregates* (the
running sum of ``spot x seconds``): ``settlementStartAggregate`` at the window's start,
``expiry - SETTLEMENT_TWAP_DURATION`` (30 minutes), and ``currentSpotAggregate`` at the
update. ``getSettlementPrice(expiry)`` answers ``(settled, price)``: settled only once an
update stamped exactly at the expiry was accepted, and then
``price = (currentSpotAggregate - settlementStartAggregate) / SETTLEMENT_TWAP_DURATION``,
a ``uint`` division (truncated: rounded **down**). ``acceptData`` reverts
(``LFF_InvalidSettlementData``) on an update in the window whose start aggregate is not
below the current one, so a window whose spots integrate to 0 never settles. A settled
price of 0 is a settled price (``settled`` is the timestamp test alone, never
``price != 0``): ``OptionAsset.calcSettlementValue`` pays a put its strike at it.

Here the aggregates are computed from the spots the engine observed (``SetPrice``): each
observation ``(time, price)`` holds from its time until the next one (a step function, as
a feed's last value holds until it is replaced), so the aggregate at ``t`` is the sum of
``price x seconds`` up to ``t``, measured from the first observation (Derive's origin is
the off-chain aggregator's; only differences enter a price, so the origin cancels). The
window needs the aggregate at its start, so an observation at or before the start: without
one the expiry is not settled (Derive's ``(false, 0)``: no update carrying the start
aggregate was ever accepted). Observations after the expiry do not enter. Unlike
:func:`~marginengine.oracle.twap.time_weighted_average` (an oracle's TWAP over the seconds
covered), the divisor is always the full window, as Derive's.

Pure functions over tuples of ``(time, price)`` (times strictly increasing); the engine
keeps each options underlying's observations in its state (``EngineState.settlement_spots``,
pruned by :func:`retained_spots` to what a settlement can still need), so a replayed log
rebuilds the same observations and the same hash.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from operator import itemgetter

from marginengine.errors import FieldError

#: ``LyraForwardFeed.SETTLEMENT_TWAP_DURATION``: the settlement window, seconds.
SETTLEMENT_TWAP_DURATION = 30 * 60

#: Spot observations of one underlying: ``(time, price)``, times strictly increasing.
SpotPoints = tuple[tuple[int, int], ...]


def _int(name: str, value: object, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise FieldError(name, f"must be an int (got {value!r})")
    if value < minimum:
        raise FieldError(name, f"must be >= {minimum} (got {value})")
    return value


def check_spots(points: Sequence[tuple[int, int]]) -> None:
    """Refuse observations that are not ``(time, price)`` ints >= 0 with strictly
    increasing times.

    Raises
    ------
    FieldError
        Naming ``points.N`` and the reason.
    """
    previous = -1
    for i, point in enumerate(points):
        if not isinstance(point, tuple) or len(point) != 2:
            raise FieldError(f"points.{i}", f"must be a (time, price) pair (got {point!r})")
        time = _int(f"points.{i}.time", point[0])
        _int(f"points.{i}.price", point[1])
        if time <= previous:
            raise FieldError(f"points.{i}.time", f"times must increase strictly ({time} "
                                                 f"after {previous})")
        previous = time


def spot_aggregate(points: Sequence[tuple[int, int]], at: int) -> int:
    """The running sum of ``price x seconds`` of the step function ``points`` from its
    first observation to ``at`` (Derive's spot aggregate, up to its origin).

    Raises
    ------
    FieldError
        No observations, or ``at`` before the first (``at``).

    Examples
    --------
    >>> spot_aggregate(((0, 100), (10, 200)), 15)
    2000
    """
    if not points:
        raise FieldError("points", "no spot observed")
    _int("at", at)
    if at < points[0][0]:
        raise FieldError("at", f"{at} is before the first observation ({points[0][0]})")
    total = 0
    for index, (begin, price) in enumerate(points):
        if begin >= at:
            break
        until = points[index + 1][0] if index + 1 < len(points) else at
        total += price * (min(until, at) - begin)
    return total


def twap_settlement_price(start_aggregate: int, expiry_aggregate: int,
                          duration: int = SETTLEMENT_TWAP_DURATION) -> int:
    """Derive's settlement price from the two aggregates: ``(expiry_aggregate -
    start_aggregate) / duration`` rounded down (``LyraForwardFeed.getSettlementPrice``).

    Raises
    ------
    FieldError
        ``start_aggregate >= expiry_aggregate`` (``expiry_aggregate``): Derive's
        ``acceptData`` reverts on such data (``_verifySettlementDataValid``:
        ``LFF_InvalidSettlementData``), so no expiry settles from it.

    Examples
    --------
    v2-core ``test/feed/unit-tests/LyraForwardFeed.t.sol``, ``testCanSetSettlementData``:
    1,050 (18 decimals) over the whole window settles at 1,050.

    >>> expiry = 1_000_000
    >>> twap_settlement_price(1050 * 10**18 * (expiry - 1800), 1050 * 10**18 * expiry)
    1050000000000000000000
    """
    _int("start_aggregate", start_aggregate)
    _int("expiry_aggregate", expiry_aggregate)
    _int("duration", duration, 1)
    if start_aggregate >= expiry_aggregate:
        raise FieldError("expiry_aggregate",
                         f"must exceed the window's start aggregate ({expiry_aggregate} <= "
                         f"{start_aggregate}): Derive's forward feed refuses such settlement "
                         f"data (LFF_InvalidSettlementData), so the expiry does not settle")
    return (expiry_aggregate - start_aggregate) // duration


def settlement_price(points: Sequence[tuple[int, int]], expiry: int, now: int,
                     duration: int = SETTLEMENT_TWAP_DURATION) -> int | None:
    """The settlement price of ``expiry`` at ``now`` from the observations ``points``
    (the step function's average over ``[expiry - duration, expiry]``, rounded down), or
    ``None`` where Derive's feed answers ``(false, 0)``: before the expiry, or without an
    observation at or before the window's start (its aggregate is unknown).

    Raises
    ------
    FieldError
        ``points`` malformed (:func:`check_spots`), or observed spots of 0 over the whole
        window (:func:`twap_settlement_price`: Derive refuses that data).

    Examples
    --------
    2,000 until 20 minutes before the expiry, then 2,300: ``(2000 x 600 + 2300 x 1200) /
    1800 = 2200``.

    >>> settlement_price(((0, 2000), (10_000 - 1200, 2300)), 10_000, 10_000)
    2200
    >>> settlement_price(((10_000 - 1200, 2300),), 10_000, 10_000) is None
    True
    """
    check_spots(points)
    _int("expiry", expiry)
    _int("now", now)
    _int("duration", duration, 1)
    start = expiry - duration
    if now < expiry or not points or points[0][0] > start:
        return None
    return twap_settlement_price(spot_aggregate(points, start), spot_aggregate(points, expiry),
                                 duration)


def forward_portions(points: Sequence[tuple[int, int]], expiry: int, now: int, forward: int,
                     duration: int = SETTLEMENT_TWAP_DURATION) -> tuple[int, int] | None:
    """Derive's forward of ``expiry`` at ``now`` split as ``(fixed, variable)``
    (``LyraForwardFeed._getSettlementPricePortions``): before the window
    (``expiry - now >= duration``) all of ``forward`` is variable; inside it the fixed
    portion is the spots' aggregate since the window's start over the whole window,
    ``(A(now) - A(start)) / duration``, and the variable one ``forward x (expiry - now) /
    duration``, each rounded down (``uint`` divisions); from the expiry on, the settlement
    price is all fixed. ``None`` inside the window or after it without an observation at
    or before the window's start (Derive needs the start aggregate: its margin reverts on
    such data, ``LFF_SettlementDataTooOld`` / ``LFF_MissingExpiryData``).

    Raises
    ------
    FieldError
        ``points`` malformed; spots of 0 since the window's start (Derive's
        ``acceptData`` refuses that data: :func:`twap_settlement_price`).

    Examples
    --------
    v2-core ``LyraForwardFeed.t.sol``, ``testSplitForwardFeed``: 1,050 over the 20
    minutes gone, forward 1,000, 10 minutes to go: 1,050 x 2/3 fixed, 1,000 / 3 variable.

    >>> forward_portions(((0, 1050 * 10**18),), 10_000, 10_000 - 600, 1000 * 10**18)
    (700000000000000000000, 333333333333333333333)
    """
    check_spots(points)
    _int("expiry", expiry)
    _int("now", now)
    _int("forward", forward)
    _int("duration", duration, 1)
    if expiry - now >= duration:
        return 0, forward
    if now >= expiry:
        price = settlement_price(points, expiry, now, duration)
        return None if price is None else (price, 0)
    start = expiry - duration
    if not points or points[0][0] > start:
        return None
    fixed = twap_settlement_price(spot_aggregate(points, start), spot_aggregate(points, now),
                                  duration)
    return fixed, forward * (expiry - now) // duration


def observe_spot(points: SpotPoints, time: int, price: int) -> SpotPoints:
    """``points`` with the spot ``price`` observed at ``time`` (a later observation in the
    same second replaces the earlier, which held for no second).

    Raises
    ------
    FieldError
        ``time`` before the last observation (``time``), a negative ``price``.
    """
    _int("time", time)
    _int("price", price)
    if points and time < points[-1][0]:
        raise FieldError("time", f"{time} is before the last observation ({points[-1][0]})")
    if points and time == points[-1][0]:
        return (*points[:-1], (time, price))
    return (*points, (time, price))


def retained_spots(points: SpotPoints, now: int, pending: Iterable[int],
                   duration: int = SETTLEMENT_TWAP_DURATION) -> SpotPoints:
    """The observations a settlement can still need at ``now``: those holding during the
    window of an expiry passed and not yet settled (``pending``), or at any time from
    ``now - duration`` on (the window of any expiry still to come: a series may be listed
    until its expiry). An observation holds from its time until the next one's, so the
    last one at or before a window's start is kept with the window.

    Examples
    --------
    >>> retained_spots(((0, 1), (100, 2), (5000, 3), (6000, 4)), 7000, ())
    ((5000, 3), (6000, 4))
    >>> retained_spots(((0, 1), (100, 2), (5000, 3), (6000, 4)), 7000, (1900,))
    ((100, 2), (5000, 3), (6000, 4))
    """
    if not points:
        return points

    def holding_at(t: int) -> int:  # the index of the observation holding at t (or 0)
        return max(bisect_right(points, t, key=itemgetter(0)) - 1, 0)

    spans = [(holding_at(now - duration), len(points))]
    for expiry in pending:
        first = holding_at(expiry - duration)
        spans.append((first, max(bisect_left(points, expiry, key=itemgetter(0)), first + 1)))
    if len(spans) == 1:
        return points[spans[0][0]:]
    out: list[tuple[int, int]] = []
    reached = 0
    for first, last in sorted(spans):
        first = max(first, reached)
        if last > first:
            out.extend(points[first:last])
            reached = last
    return tuple(out)


__all__ = ["SETTLEMENT_TWAP_DURATION", "SpotPoints", "check_spots", "forward_portions",
           "observe_spot",
           "retained_spots", "settlement_price", "spot_aggregate", "twap_settlement_price"]
