"""Aggregation: lower median of fresh sources, staleness, quorum, spread, confidence."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marginengine.errors import ConfigError, OracleError
from marginengine.oracle import (
    AggregationParams,
    PriceReading,
    PriceStatus,
    PushFeed,
    PushFeedParams,
    ReplayFeed,
    VenueFeed,
    aggregate,
    lower_median,
    read_sources,
)
from tests.conftest import USD

THREE = AggregationParams(
    max_age={"chainlink": 3600, "pyth": 60, "redstone": 600}, min_fresh=2, max_spread_bps=200
)


def reading(usd, at=1000, **kw):
    return PriceReading(usd * USD, at, **kw)


def test_aggregate_when_three_fresh_then_median_and_spread():
    result = aggregate(
        THREE,
        {"chainlink": reading(2_000), "pyth": reading(2_010), "redstone": reading(1_995)},
        now=1000,
    )
    assert result.status is PriceStatus.FRESH
    assert result.price == 2_000 * USD
    assert result.sources == ("chainlink", "pyth", "redstone")
    assert result.spread_bps == 76  # 2,010 / 1,995 - 1 = 75.19 bps, rounded up
    assert result.reason == ""


def test_aggregate_when_even_count_then_lower_median():
    params = AggregationParams(max_age={"a": 60, "b": 60, "c": 60, "d": 60})
    readings = {"a": reading(2_004), "b": reading(2_001), "c": reading(2_003), "d": reading(2_002)}
    # Sorted: 2,001 2,002 2,003 2,004; the lower median is 2,002 (a published price), not the
    # mean 2,002.5 of the middle two.
    assert aggregate(params, readings, 1000).price == 2_002 * USD


def test_aggregate_when_one_source_stale_then_median_of_the_others_and_reason():
    result = aggregate(
        THREE,
        # pyth is 61 s old with a 60 s limit; redstone is exactly at its 600 s limit (fresh).
        {"chainlink": reading(2_000), "pyth": reading(1_500, at=939),
         "redstone": reading(2_010, at=400)},
        now=1000,
    )
    assert result.status is PriceStatus.FRESH
    assert result.price == 2_000 * USD  # lower median of 2,000 and 2,010
    assert result.sources == ("chainlink", "redstone")
    assert result.reason == "left out: pyth: stale, 61 s old > 60 s"


def test_aggregate_when_too_few_fresh_then_stale_and_no_price():
    result = aggregate(
        THREE,
        {"chainlink": reading(2_000, at=0), "pyth": reading(2_000, at=900),
         "redstone": reading(2_000, at=990)},
        now=5000,
    )
    assert result.status is PriceStatus.STALE
    assert result.price is None and result.low is None and result.high is None
    assert result.reason == (
        "0 of 3 sources fresh, 2 needed: chainlink: stale, 5000 s old > 3600 s; "
        "pyth: stale, 4100 s old > 60 s; redstone: stale, 4010 s old > 600 s"
    )


def test_aggregate_when_fresh_sources_spread_too_far_then_divergent_with_median():
    result = aggregate(
        THREE,
        {"chainlink": reading(2_000), "pyth": reading(2_050), "redstone": reading(1_950, at=0)},
        now=1000,
    )
    # redstone is stale; chainlink and pyth differ by 2,050 / 2,000 - 1 = 250 bps > 200.
    assert result.status is PriceStatus.DIVERGENT
    assert result.price == 2_000 * USD
    assert result.spread_bps == 250
    assert result.reason == (
        "sources diverge: chainlink at 2000 and pyth at 2050 spread 250 bps > 200 bps; "
        "left out: redstone: stale, 1000 s old > 600 s"
    )


def test_aggregate_when_spread_exactly_at_limit_then_fresh():
    result = aggregate(
        THREE, {"chainlink": reading(2_000), "pyth": reading(2_040), "redstone": None}, 1000
    )
    assert (result.status, result.spread_bps) == (PriceStatus.FRESH, 200)


def test_aggregate_when_clamped_source_leaves_too_few_then_clamped():
    clamped = PriceReading(10 * USD // 100, 1000, PriceStatus.CLAMPED, "held at min_answer")
    result = aggregate(
        THREE, {"chainlink": clamped, "pyth": reading(1, at=0), "redstone": reading(1)}, 1000
    )
    # One fresh of two needed; of the causes (clamped, stale) CLAMPED is reported.
    assert result.status is PriceStatus.CLAMPED
    assert result.price is None
    assert "chainlink: clamped (held at min_answer)" in result.reason


def test_aggregate_when_no_answers_then_insufficient():
    result = aggregate(THREE, {"chainlink": None, "pyth": None, "redstone": None}, 1000)
    assert result.status is PriceStatus.INSUFFICIENT
    assert result.reason == (
        "0 of 3 sources fresh, 2 needed: chainlink: no answer; pyth: no answer; "
        "redstone: no answer"
    )


def test_aggregate_confidence_rejects_wide_sources_and_widens_with_the_widest():
    params = AggregationParams(max_age={"a": 60, "b": 60, "c": 60}, max_confidence_bps=100)
    result = aggregate(
        params,
        {
            "a": reading(2_000, confidence=10 * USD),   # 50 bps: used
            "b": reading(2_002, confidence=20 * USD),   # 99.9 bps: used, the widest
            "c": reading(1_990, confidence=30 * USD),   # 150.8 bps: rejected
        },
        1000,
    )
    assert result.status is PriceStatus.FRESH
    assert result.sources == ("a", "b")
    assert result.reason == "left out: c: confidence 151 bps of price > 100 bps"
    assert (result.price, result.confidence) == (2_000 * USD, 20 * USD)
    assert (result.low, result.high) == (1_980 * USD, 2_020 * USD)


def test_aggregate_when_all_too_uncertain_then_uncertain():
    params = AggregationParams(max_age={"a": 60}, max_confidence_bps=100)
    result = aggregate(params, {"a": reading(100, confidence=2 * USD)}, 1000)
    assert (result.status, result.price) == (PriceStatus.UNCERTAIN, None)


@pytest.mark.parametrize(
    ("readings", "field", "message"),
    [
        ({"chainlink": None, "pyth": None}, "readings", "missing source 'redstone'"),
        ({"chainlink": None, "pyth": None, "redstone": None, "x": None}, "readings",
         "unknown source 'x'"),
        ({"chainlink": reading(1, at=1001), "pyth": None, "redstone": None},
         "readings.chainlink.updated_at", "1001 is after now"),
        ({"chainlink": 2_000 * USD, "pyth": None, "redstone": None},
         "readings.chainlink", "must be a PriceReading or None, not int"),
    ],
)
def test_aggregate_when_bad_readings_then_error_names_field(readings, field, message):
    with pytest.raises(OracleError, match=message) as caught:
        aggregate(THREE, readings, 1000)
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_age": {}}, "max_age: must map at least one source"),
        ({"max_age": {"a": 0}}, "max_age.a: must be at least 1 seconds"),
        ({"max_age": {"a": 60}, "min_fresh": 2}, "min_fresh: 2 is more than the 1 sources"),
        ({"max_age": {"a": 60}, "max_spread_bps": -1}, "max_spread_bps: must be at least 0"),
        ({"max_age": {"a": 60}, "max_confidence_bps": 10_000}, "max_confidence_bps: must be below"),
    ],
)
def test_params_when_out_of_range_then_config_error(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        AggregationParams(**kwargs)


def test_params_limits_cannot_change_after_construction():
    limits = {"a": 60}
    params = AggregationParams(max_age=limits)
    limits["a"] = 10**9
    assert params.max_age["a"] == 60
    with pytest.raises(TypeError):
        params.max_age["a"] = 1  # type: ignore[index]


def test_read_sources_then_aggregate_real_feeds():
    push = PushFeed(PushFeedParams(deviation_bps=50, heartbeat=3600))
    push.observe(0, 2_000 * USD)
    replay = ReplayFeed([(0, 1_990 * USD), (500, 2_030 * USD)])
    venue = VenueFeed(lambda: 2_010 * USD)
    params = AggregationParams(max_age={"push": 3600, "replay": 600, "venue": 60}, min_fresh=2)
    readings = read_sources({"push": push, "replay": replay, "venue": venue}, 600)
    result = aggregate(params, readings, 600)
    assert (result.status, result.price) == (PriceStatus.FRESH, 2_010 * USD)


def test_lower_median_of_nothing_is_an_error():
    with pytest.raises(ValueError, match="median of no prices"):
        lower_median([])


prices = st.integers(1, 10**15)


@given(st.dictionaries(st.sampled_from("abcdefg"), st.tuples(prices, st.integers(0, 200)),
                       min_size=1))
def test_property_median_is_a_fresh_source_price_within_min_max(sources):
    params = AggregationParams(max_age=dict.fromkeys(sources, 100))
    readings = {name: PriceReading(price, 1000 - age) for name, (price, age) in sources.items()}
    result = aggregate(params, readings, 1000)
    fresh = [price for price, age in sources.values() if age <= 100]
    if not fresh:
        assert (result.status, result.price) == (PriceStatus.STALE, None)
        return
    assert result.status in (PriceStatus.FRESH, PriceStatus.DIVERGENT)
    assert result.price in fresh
    assert min(fresh) <= result.price <= max(fresh)
    below = sum(1 for p in fresh if p < result.price)
    above = sum(1 for p in fresh if p > result.price)
    assert below <= (len(fresh) - 1) // 2 and above <= len(fresh) // 2
    # Order of the mapping does not matter.
    assert aggregate(params, dict(reversed(list(readings.items()))), 1000) == result
