"""TWAP of a venue: the average of a step function over a trailing window, by hand."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marginengine.oracle import VenueFeed
from marginengine.venue import ConstantProductPool, Twap, VenueError
from tests.conftest import ETH, USD, USDC


def test_value_when_three_prices_in_a_600s_window_then_time_weighted_average():
    twap = Twap(window=600)
    twap.observe(0, 2_000 * USD)
    twap.observe(100, 1_800 * USD)
    twap.observe(400, 1_900 * USD)
    # [0, 600]: 100 s at 2,000 + 300 s at 1,800 + 200 s at 1,900 = 1,120,000 / 600
    # = 1,866.66666666..., rounded down.
    assert twap.value(600) == 186_666_666_666
    # [100, 700]: 300 s at 1,800 + 300 s at 1,900 = 1,850.
    assert twap.value(700) == 1_850 * USD
    # [400, 1000]: 1,900 throughout.
    assert twap.value(1_000) == 1_900 * USD
    assert twap.latest() == 1_900 * USD


def test_value_when_window_reaches_back_before_the_first_observation_then_covered_part_only():
    twap = Twap(window=600)
    twap.observe(1_000, 2_000 * USD)
    assert twap.value(1_000) == 2_000 * USD  # nothing covered yet: the price itself
    twap.observe(1_100, 1_000 * USD)
    # [400, 1200] covers [1000, 1200]: 100 s at 2,000 and 100 s at 1,000.
    assert twap.value(1_200) == 1_500 * USD


def test_value_when_a_one_block_spike_then_moved_by_spike_times_seconds_over_window():
    twap = Twap(window=1_800)
    twap.observe(0, 2_000 * USD)
    twap.observe(1_788, 20_000 * USD)  # a manipulator pumps the pool for one 12 s block
    twap.observe(1_800, 2_000 * USD)
    # 18,000 USD extra for 12 s of 1,800: +120 USD.
    assert twap.value(1_800) == 2_120 * USD


def test_observe_when_same_time_twice_then_the_later_price_holds():
    twap = Twap(window=100)
    twap.observe(0, 1_000 * USD)
    twap.observe(50, 2_000 * USD)
    twap.observe(50, 3_000 * USD)
    assert twap.value(100) == 2_000 * USD  # 50 s at 1,000 and 50 s at 3,000


@settings(max_examples=100, deadline=None)
@given(window=st.integers(1, 500),
       steps=st.lists(st.tuples(st.integers(0, 200), st.integers(1, 10**12)),
                      min_size=1, max_size=30),
       tail=st.integers(0, 300))
def test_value_equals_a_second_by_second_average_and_pruning_changes_nothing(
        window, steps, tail):
    twap = Twap(window)
    time = 0
    series: list[tuple[int, int]] = []
    for gap, price in steps:
        time += gap
        twap.observe(time, price)
        if series and series[-1][0] == time:
            series.pop()
        series.append((time, price))
    now = time + tail
    start = max(now - window, series[0][0])
    per_second = [next(p for t, p in reversed(series) if t <= s) for s in range(start, now)]
    expected = sum(per_second) // len(per_second) if per_second else series[-1][1]
    assert twap.value(now) == expected


def test_twap_reads_a_pool_for_a_venue_feed():
    pool = ConstantProductPool(1_000 * ETH, 2_000_000 * USDC, ETH, USDC)
    twap = Twap(window=600)
    twap.observe(0, pool.price())
    pool.sell_base(100 * ETH)  # a liquidation dumps 100 ETH: 1,654.09 USD spot
    twap.observe(300, pool.price())
    clock = {"now": 600}
    feed = VenueFeed(lambda: twap.value(clock["now"]), kind="twap", name="amm")
    spot = pool.price()
    assert feed.latest(600).price == (2_000 * USD + spot) // 2


@pytest.mark.parametrize("window", [0, -1, 1.5, True])
def test_twap_when_window_bad_then_error_names_window(window):
    with pytest.raises(VenueError, match="^window: "):
        Twap(window)


def test_twap_when_bad_observation_then_error_and_nothing_recorded():
    twap = Twap(600)
    with pytest.raises(VenueError, match="^twap: no price observed yet"):
        twap.value(0)
    twap.observe(100, 2_000 * USD)
    with pytest.raises(VenueError, match="^time: 50 is before the last observation, 100"):
        twap.observe(50, 1_000 * USD)
    with pytest.raises(VenueError, match="^price: must be positive"):
        twap.observe(200, 0)
    with pytest.raises(VenueError, match="^time: must be non-negative"):
        twap.observe(-1, 1)
    with pytest.raises(VenueError, match="^time: 99 is before the last observation"):
        twap.value(99)
    assert twap.value(700) == 2_000 * USD
