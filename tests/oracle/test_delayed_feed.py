"""Delayed feed (Maker's OSM): peek is the price read one poke ago, peep the one queued."""

import pytest

from marginengine.errors import ConfigError, OracleError
from marginengine.oracle import DelayedFeed, DelayedFeedParams
from tests.conftest import USD

HOUR = 3600


def prices(feed, time):
    current, queued = feed.peek(time), feed.peep(time)
    return (
        None if current is None else (current.price // USD, current.updated_at),
        None if queued is None else (queued.price // USD, queued.updated_at),
    )


def test_poke_over_several_hops_then_peek_is_one_hop_late():
    feed = DelayedFeed(DelayedFeedParams(hop=HOUR))
    feed.poke(0, 100 * USD)
    assert prices(feed, 0) == (None, (100, 0))            # nothing current before two pokes
    feed.poke(3_600, 110 * USD)
    assert prices(feed, 3_600) == ((100, 0), (110, 3_600))
    feed.poke(7_300, 120 * USD)                            # counts as the 7,200 period
    assert prices(feed, 7_300) == ((110, 3_600), (120, 7_300))
    assert not feed.ready(10_799)                          # next period starts at 10,800
    feed.poke(10_800, 90 * USD)                            # the market has crashed to 90 ...
    assert prices(feed, 10_800) == ((120, 7_300), (90, 10_800))  # ... readers still see 120
    # After two missed hops the OSM steps once: the queued 90 becomes current, not skipped.
    feed.poke(20_000, 80 * USD)
    assert prices(feed, 20_000) == ((90, 10_800), (80, 20_000))
    assert feed.latest(20_000) == feed.peek(20_000)


def test_poke_when_hop_not_passed_then_rejected_and_unchanged():
    feed = DelayedFeed(DelayedFeedParams(hop=HOUR))
    feed.poke(0, 100 * USD)
    feed.poke(3_600, 110 * USD)
    with pytest.raises(OracleError, match="poke at 5000 is before the next hop period at 7200"):
        feed.poke(5_000, 999 * USD)
    assert prices(feed, 3_600) == ((100, 0), (110, 3_600))


def test_observe_every_block_then_pokes_once_per_hop():
    feed = DelayedFeed(DelayedFeedParams(hop=HOUR))
    poked = [t for t in range(0, 4 * HOUR, 600) if feed.observe(t, (100 + t // 600) * USD)]
    assert poked == [0, 3_600, 7_200, 10_800]
    # The price at 10,800 (block 18) is queued; the one read at 7,200 (block 12) is current.
    assert prices(feed, 14_000) == ((112, 7_200), (118, 10_800))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda f: f.poke(7_200, 0), "source_price: must be positive"),
        (lambda f: f.observe(7_200, float("nan")), "market_price: is NaN"),
        (lambda f: f.observe(10, 100 * USD), "time: 10 is before the last time seen, 3600"),
        (lambda f: f.peek(-1), "time: must not be negative"),
    ],
)
def test_bad_input_then_error_and_feed_unchanged(call, message):
    feed = DelayedFeed(DelayedFeedParams(hop=HOUR))
    feed.poke(0, 100 * USD)
    feed.poke(3_600, 110 * USD)
    with pytest.raises(OracleError, match=message):
        call(feed)
    assert prices(feed, 3_600) == ((100, 0), (110, 3_600))
    assert feed.ready(7_200)


def test_params_when_hop_zero_then_config_error():
    with pytest.raises(ConfigError, match="hop: must be at least 1 seconds"):
        DelayedFeedParams(hop=0)
