"""Push feed (Chainlink scheme): deviation and heartbeat publishing, answer clamps."""

import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marginengine.errors import ConfigError, OracleError
from marginengine.oracle import PriceStatus, PushFeed, PushFeedParams
from tests.conftest import USD

CENT = USD // 100


def test_observe_when_threshold_50bps_heartbeat_3600_then_known_observations_publish():
    feed = PushFeed(PushFeedParams(deviation_bps=50, heartbeat=3600))
    series = [
        (0, 2_000_00),     # first observation: always publishes
        (600, 2_009_00),   # 9.00 / 2,000.00 = 45 bps: no
        (1200, 2_010_00),  # 10.00 / 2,000.00 = 50 bps exactly: publishes (>= threshold)
        (1800, 2_000_00),  # 10.00 / 2,010.00 = 49.75 bps: no
        (2400, 1_999_95),  # 10.05 / 2,010.00 = 50 bps exactly: publishes
        (4000, 2_001_00),  # 1.05 / 1,999.95 = 5.25 bps, 1,600 s since the answer: no
        (6000, 2_001_00),  # 5.25 bps, but 3,600 s since the answer: heartbeat publishes
        (6100, 1_990_00),  # 11.00 / 2,001.00 = 54.97 bps: publishes
    ]
    published = [t for t, cents in series if feed.observe(t, cents * CENT) is not None]
    assert published == [0, 1200, 2400, 6000, 6100]
    assert feed.round == 5
    latest = feed.latest(6200)
    assert latest is not None
    assert (latest.price, latest.updated_at) == (1_990 * USD, 6100)
    assert latest.status is PriceStatus.FRESH


def test_latest_when_market_moved_below_threshold_then_last_answer_is_served():
    feed = PushFeed(PushFeedParams(deviation_bps=50, heartbeat=3600))
    feed.observe(0, 2_000 * USD)
    assert feed.observe(600, 2_009 * USD) is None
    latest = feed.latest(600)
    assert latest is not None and latest.price == 2_000 * USD and latest.updated_at == 0


def test_observe_when_one_unit_short_of_threshold_then_no_publication():
    feed = PushFeed(PushFeedParams(deviation_bps=50, heartbeat=3600))
    feed.observe(0, 2_000 * USD)
    # 50 bps of 2,000 USD is exactly 10 USD: one smallest unit less does not publish.
    assert feed.observe(1, 2_010 * USD - 1) is None
    assert feed.observe(2, 1_990 * USD + 1) is None
    assert feed.observe(3, 1_990 * USD) is not None


def test_latest_before_first_observation_then_none():
    assert PushFeed().latest(0) is None


def test_observe_when_market_falls_below_min_answer_then_answer_stuck_at_min_and_clamped():
    # LUNA, May 2022: the feed's min answer was 0.10 USD while the market went to 0.0001.
    feed = PushFeed(PushFeedParams(deviation_bps=50, heartbeat=3600, min_answer=10 * CENT))
    steps = [
        (0, 12 * CENT, 12 * CENT, PriceStatus.FRESH),
        (60, 105 * CENT // 10, 105 * CENT // 10, PriceStatus.FRESH),
        (120, 9 * CENT, 10 * CENT, PriceStatus.CLAMPED),
        (180, 5 * CENT, 10 * CENT, PriceStatus.CLAMPED),
        (240, 1 * CENT, 10 * CENT, PriceStatus.CLAMPED),
        (300, 11 * CENT, 11 * CENT, PriceStatus.FRESH),
    ]
    for time, market, answer, status in steps:
        reading = feed.observe(time, market)
        # The reporters compare the market with the on-chain answer, so every observation
        # below the floor republishes: the answer looks fresh (updated_at == time) and only
        # its status reveals that it is wrong.
        assert reading is not None
        assert (reading.price, reading.updated_at, reading.status) == (answer, time, status)
    clamped = PushFeed(PushFeedParams(min_answer=10 * CENT)).observe(0, 5 * CENT)
    assert clamped is not None
    assert clamped.reason == "market 0.05 is below min_answer 0.1; answer held at min_answer"


def test_observe_when_market_above_max_answer_then_answer_held_at_max():
    feed = PushFeed(PushFeedParams(max_answer=10 * USD))
    reading = feed.observe(0, 15 * USD)
    assert reading is not None
    assert (reading.price, reading.status) == (10 * USD, PriceStatus.CLAMPED)
    assert "above max_answer 10" in reading.reason


@pytest.mark.parametrize(
    ("bad", "field", "reason"),
    [
        (math.nan, "market_price", "is NaN, not a price"),
        (math.inf, "market_price", "is inf, not a finite price"),
        (2000.0, "market_price", "not the float 2000.0"),
        (0, "market_price", "must be positive (got 0)"),
        (-5, "market_price", "must be positive (got -5)"),
        (True, "market_price", "not bool"),
        ("2000", "market_price", "not str"),
    ],
)
def test_observe_when_bad_price_then_error_names_field_and_feed_unchanged(bad, field, reason):
    feed = PushFeed()
    feed.observe(100, 2_000 * USD)
    with pytest.raises(OracleError, match=re.escape(reason)) as caught:
        feed.observe(99_999, bad)
    assert caught.value.field == field
    # The clock did not move either: an observation at 200 (before 99,999) is still fine.
    assert feed.round == 1
    assert feed.observe(200, 2_000 * USD) is None
    latest = feed.latest(200)
    assert latest is not None and latest.updated_at == 100


def test_observe_when_time_out_of_order_then_rejected_and_unchanged():
    feed = PushFeed()
    feed.observe(100, 2_000 * USD)
    with pytest.raises(OracleError, match=r"time: 50 is before the last time seen, 100"):
        feed.observe(50, 3_000 * USD)
    with pytest.raises(OracleError, match="time: must not be negative"):
        feed.latest(-1)
    assert feed.round == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"deviation_bps": 0}, "deviation_bps: must be at least 1 bps"),
        ({"heartbeat": 0}, "heartbeat: must be at least 1 seconds"),
        ({"min_answer": 0}, "min_answer: must be at least 1"),
        ({"min_answer": 10, "max_answer": 10}, "max_answer: must be above min_answer"),
        ({"heartbeat": 1.5}, r"heartbeat: must be an int \(seconds\), not float"),
    ],
)
def test_params_when_out_of_range_then_config_error(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        PushFeedParams(**kwargs)


@given(
    markets=st.lists(st.integers(1, 10_000 * USD), min_size=1, max_size=30),
    gaps=st.lists(st.integers(0, 5_000), min_size=30, max_size=30),
)
def test_property_answer_within_bounds_and_clamped_iff_market_outside(markets, gaps):
    low, high = 100 * USD, 5_000 * USD
    params = PushFeedParams(deviation_bps=50, heartbeat=3600, min_answer=low, max_answer=high)
    feed = PushFeed(params)
    time = 0
    for market, gap in zip(markets, gaps, strict=False):
        time += gap
        before = feed.latest(time)
        reading = feed.observe(time, market)
        should_publish = (
            before is None
            or time - before.updated_at >= 3600
            or abs(market - before.price) * 10_000 >= 50 * before.price
        )
        assert (reading is not None) == should_publish
        if reading is not None:
            assert low <= reading.price <= high
            assert (reading.status is PriceStatus.CLAMPED) == (not low <= market <= high)
