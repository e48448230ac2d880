"""The settlement TWAP (oracle/settlement_feed.py): Derive's LyraForwardFeed arithmetic on
aggregates, the step function of observed spots, the window's coverage, and pruning.

Worked figures by hand; Derive's own vectors are in tests/test_derive_v2core_vectors.py.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marginengine.errors import FieldError
from marginengine.oracle.settlement_feed import (
    SETTLEMENT_TWAP_DURATION,
    observe_spot,
    retained_spots,
    settlement_price,
    spot_aggregate,
    twap_settlement_price,
)

W = SETTLEMENT_TWAP_DURATION
E = 100_000   # an expiry


def test_settlement_price_when_price_moves_in_window_then_time_weighted_rounded_down():
    # 2,000 from before the window to 10 minutes in, 2,001 for 20 minutes, 1,999 from 5
    # minutes before the expiry (and 5,000 after it, which does not enter):
    # (2,000 x 600 + 2,001 x 900 + 1,999 x 300) / 1,800 = 3,600,600 / 1,800 = 2,000.333..
    points = ((0, 2_000), (E - W + 600, 2_001), (E - 300, 1_999), (E + 10, 5_000))
    assert spot_aggregate(points, E) - spot_aggregate(points, E - W) == 3_600_600
    assert settlement_price(points, E, E + 10) == 2_000


def test_settlement_price_when_first_spot_inside_window_then_unsettled():
    # Derive needs the aggregate at the window's start; without a spot at or before it
    # the feed answers (false, 0): here None.
    assert settlement_price(((E - W + 1, 2_000),), E, E) is None
    assert settlement_price(((E - W, 2_000),), E, E) == 2_000  # exactly at the start
    assert settlement_price((), E, E) is None


def test_settlement_price_when_before_expiry_then_unsettled():
    assert settlement_price(((0, 2_000),), E, E - 1) is None


def test_settlement_price_when_one_spot_before_window_then_that_spot():
    assert settlement_price(((0, 1_234),), E, 10 * E) == 1_234


def test_settlement_price_when_tiny_prices_then_settled_at_zero():
    # A positive aggregate below the window's length floors to 0: settled at 0 (Derive's
    # settled flag is its timestamp test, not the price).
    assert settlement_price(((0, 0), (E - 1, 1)), E, E) == 0


def test_twap_settlement_price_when_aggregates_do_not_increase_then_refused():
    with pytest.raises(FieldError, match="LFF_InvalidSettlementData") as info:
        twap_settlement_price(5, 5)
    assert info.value.field == "expiry_aggregate"
    with pytest.raises(FieldError, match="LFF_InvalidSettlementData"):
        settlement_price(((0, 0),), E, E)


@pytest.mark.parametrize(("points", "field"), [
    (((1, 2), (1, 3)), "points.1.time"),
    (((1, -2),), "points.0.price"),
    (((1.5, 2),), "points.0.time"),
    ([(0, 1, 2)], "points.0"),
])
def test_settlement_price_when_points_malformed_then_names_the_field(points, field):
    with pytest.raises(FieldError) as info:
        settlement_price(points, E, E)
    assert info.value.field == field


def test_observe_spot_when_same_second_then_replaced_and_when_earlier_then_refused():
    points = observe_spot(observe_spot((), 5, 100), 5, 200)
    assert points == ((5, 200),)
    with pytest.raises(FieldError, match="before the last observation") as info:
        observe_spot(points, 4, 1)
    assert info.value.field == "time"


times = st.lists(st.integers(0, 4 * W), min_size=1, max_size=30, unique=True).map(sorted)


@given(times, st.data())
def test_twap_when_any_spots_then_between_min_and_max_of_window(ts, data):
    prices = data.draw(st.lists(st.integers(1, 10**12), min_size=len(ts), max_size=len(ts)))
    points = tuple(zip(ts, prices, strict=True))
    expiry = data.draw(st.integers(0, 5 * W))
    got = settlement_price(points, expiry, expiry)
    if points[0][0] > expiry - W:
        assert got is None
        return
    held = [p for i, (t, p) in enumerate(points)
            if t < expiry and (i + 1 == len(points) or points[i + 1][0] > expiry - W)]
    assert got is not None and min(held) <= got <= max(held)


@given(times, st.data())
def test_retained_spots_when_pruned_then_every_needed_settlement_unchanged(ts, data):
    prices = data.draw(st.lists(st.integers(1, 10**6), min_size=len(ts), max_size=len(ts)))
    points = tuple(zip(ts, prices, strict=True))
    now = data.draw(st.integers(ts[-1], 6 * W))
    pending = data.draw(st.lists(st.integers(0, now), max_size=3))
    kept = retained_spots(points, now, pending)
    assert set(kept) <= set(points) and kept == tuple(sorted(kept))
    # Every expiry still to come (a series may be listed until its expiry) and every
    # pending one settles at the same price from what is kept, at any later time.
    later = now + 5 * W
    for expiry in [*pending, *range(now + 1, now + 2 * W, 97)]:
        extended = (*points, (later, 7))
        assert (settlement_price((*kept, (later, 7)), expiry, later)
                == settlement_price(extended, expiry, later))
