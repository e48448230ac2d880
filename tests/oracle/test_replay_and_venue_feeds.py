"""Replay feeds (CSV, JSON, in memory) and venue feeds (a callable)."""

import pytest

from marginengine.errors import ConfigError, OracleError
from marginengine.oracle import (
    PriceStatus,
    ReplayFeed,
    VenueFeed,
    load_price_series,
    parse_price_series_csv,
    parse_price_series_json,
)
from tests.conftest import USD


def test_replay_latest_is_last_point_at_or_before_time():
    feed = ReplayFeed([(100, 2_000 * USD), (160, 1_900 * USD), (220, 2_100 * USD)])
    assert feed.latest(99) is None
    at_100 = feed.latest(100)
    assert at_100 is not None and (at_100.price, at_100.updated_at) == (2_000 * USD, 100)
    between = feed.latest(219)
    assert between is not None and (between.price, between.updated_at) == (1_900 * USD, 160)
    # Past the end the last point is served with its own timestamp, so readers see its age.
    after = feed.latest(10_000)
    assert after is not None and (after.price, after.updated_at) == (2_100 * USD, 220)
    assert after.status is PriceStatus.FRESH
    # No clock: reading backwards is deterministic.
    assert feed.latest(150) == at_100


@pytest.mark.parametrize(
    ("series", "message"),
    [
        ([], "series: is empty"),
        ([(0, USD), (0, USD)], r"series\.1.time: 0 is not after 0"),
        ([(10, USD), (5, USD)], r"series\.1.time: 5 is not after 10"),
        ([(0, 0)], r"series\.0.price: must be positive"),
        ([(0, 1.5)], r"series\.0.price: must be an int price"),
        ([(-1, USD)], r"series\.0.time: must not be negative"),
        ([(0,)], r"series\.0: must be a \(timestamp, price\) pair"),
    ],
)
def test_replay_when_bad_series_then_error_names_point(series, message):
    with pytest.raises(OracleError, match=message):
        ReplayFeed(series)


def test_parse_csv_converts_human_prices_exactly():
    text = "timestamp,price,volume\n1700000000,2000.5,7\n1700000060,0.00000001,8\n"
    assert parse_price_series_csv(text) == ((1_700_000_000, 200_050_000_000), (1_700_000_060, 1))


def test_parse_csv_when_bad_rows_then_every_problem_named_by_line_and_field():
    text = (
        "timestamp,price\n"
        "100,2000\n"      # line 2: fine
        "100,2001\n"      # line 3: timestamp not increasing
        "160,nan\n"       # line 4: NaN
        "220,0\n"         # line 5: zero
        "280,-3\n"        # line 6: negative
        "1.5,2000\n"      # line 7: fractional timestamp
        "340,1e999x\n"    # line 8: not a number
        "400,0.123456789\n"  # line 9: more than 8 decimals
    )
    with pytest.raises(ConfigError) as caught:
        parse_price_series_csv(text, "eth.csv")
    problems = caught.value.problems
    assert problems[0] == (
        "line 3: timestamp: 100 is not after the previous row's 100 (timestamps must strictly "
        "increase)"
    )
    assert problems[1] == "line 4: price: must be a finite number ('nan' is not)"
    assert problems[2] == "line 5: price: must be positive (got '0')"
    assert problems[3] == "line 6: price: must be positive (got '-3')"
    assert problems[4] == "line 7: timestamp: must be a whole number of seconds ('1.5')"
    assert problems[5].startswith("line 8: price: must be a number")
    assert problems[6] == "line 9: price: has more than 8 decimal places ('0.123456789')"
    assert len(problems) == 7
    assert str(caught.value).startswith("eth.csv: line 3: timestamp")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "header: the file is empty"),
        ("time,price\n1,2\n", "header: missing column 'timestamp' .found: time, price."),
        ("timestamp,price\n", "no rows"),
    ],
)
def test_parse_csv_when_bad_shape_then_config_error(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_price_series_csv(text)


def test_parse_json_objects_and_pairs_exactly():
    text = '[{"timestamp": 0, "price": 0.1}, [60, "2000.5"], {"timestamp": "120", "price": 3}]'
    assert parse_price_series_json(text) == (
        (0, 10_000_000), (60, 200_050_000_000), (120, 3 * USD)
    )


def test_parse_json_when_bad_items_then_named_by_index():
    text = '[{"timestamp": 0, "price": 1}, {"price": 1}, [1, 2, 3]]'
    with pytest.raises(ConfigError) as caught:
        parse_price_series_json(text)
    assert caught.value.problems == [
        "1: missing timestamp",
        "2: must be an object with timestamp and price, or a [timestamp, price] pair",
    ]
    with pytest.raises(ConfigError) as caught:
        parse_price_series_json('[{"timestamp": 0, "price": NaN}, {"timestamp": 1.5, "price": 1}]')
    assert caught.value.problems == [
        "0: price: must be a finite number ('NaN' is not)",
        "1: timestamp: must be a whole number of seconds (Decimal('1.5'))",
    ]
    with pytest.raises(ConfigError, match="top level: must be a list"):
        parse_price_series_json('{"timestamp": 0}')
    with pytest.raises(ConfigError, match="line 1 column 2: invalid JSON"):
        parse_price_series_json("[x]")


def test_from_file_reads_csv_and_json(tmp_path):
    csv_path = tmp_path / "eth.csv"
    csv_path.write_text("timestamp,price\n0,2000\n60,1990\n")
    json_path = tmp_path / "eth.json"
    json_path.write_text('[[0, 2000], [60, 1990]]')
    assert ReplayFeed.from_file(csv_path).series == ReplayFeed.from_file(json_path).series
    assert load_price_series(csv_path) == ((0, 2_000 * USD), (60, 1_990 * USD))
    with pytest.raises(ConfigError, match="unknown series format '.txt'"):
        load_price_series(tmp_path / "eth.txt")
    with pytest.raises(ConfigError, match="missing.csv: cannot read the file"):
        load_price_series(tmp_path / "missing.csv")


def test_venue_feed_reads_the_callable_at_every_request():
    pool = {"price": 2_000 * USD}
    feed = VenueFeed(lambda: pool["price"], kind="twap", name="univ3")
    first = feed.latest(12)
    pool["price"] = 1_800 * USD
    second = feed.latest(24)
    assert (first.price, first.updated_at) == (2_000 * USD, 12)
    assert (second.price, second.updated_at) == (1_800 * USD, 24)


@pytest.mark.parametrize(("value", "message"), [(0, "must be positive"), (1.5, "not the float")])
def test_venue_feed_when_venue_returns_bad_price_then_error_names_venue(value, message):
    feed = VenueFeed(lambda: value, kind="spot", name="amm")
    with pytest.raises(OracleError, match=f"amm spot price: .*{message}"):
        feed.latest(0)
