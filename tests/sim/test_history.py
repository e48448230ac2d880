"""Historical loaders: the Black Thursday files, Gemini hourly bars, and bad input."""

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from marginengine.errors import ConfigError
from marginengine.sim.history import (
    BLACK_THURSDAY_GAS,
    BLACK_THURSDAY_PRICES,
    Series,
    gas_fields,
    load_gas,
    load_gemini_hourly,
    load_price_bars,
    parse_utc,
)

GEMINI_CSV = Path("/work/shared/data/eth_usd_gemini_1h_2016-05_2020-04.csv")
MIDNIGHT = 1583971200.0  # 2020-03-12T00:00:00Z


def utc(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


# --------------------------------------------------------------------------- Black Thursday


def test_black_thursday_paths_point_into_the_repository_data_folder():
    assert BLACK_THURSDAY_PRICES.is_file()
    assert BLACK_THURSDAY_GAS.is_file()
    assert BLACK_THURSDAY_PRICES.parent.name == "black_thursday"


def test_load_price_bars_black_thursday_close():
    bars = load_price_bars(BLACK_THURSDAY_PRICES)
    assert len(bars) == 144
    assert (bars.name, bars.unit) == ("price_close", "USD")
    assert bars.times[0] == MIDNIGHT
    assert (np.diff(bars.times) == 600.0).all()
    assert bars.values[0] == 194.52
    assert bars.values[-1] == 107.52


def test_load_price_bars_black_thursday_open_and_low():
    assert load_price_bars(BLACK_THURSDAY_PRICES, field="price_open").values[0] == 195.21
    low = load_price_bars(BLACK_THURSDAY_PRICES, field="price_low")
    assert low.values.min() == 101.01
    assert low.times[np.argmin(low.values)] == utc("2020-03-12T23:20:00")


def test_load_gas_black_thursday_mean_in_gwei():
    gas = load_gas(BLACK_THURSDAY_GAS, field="avgGasDay")
    assert len(gas) == 144
    assert (gas.name, gas.unit) == ("avgGasDay", "gwei")
    assert gas.times[0] == MIDNIGHT
    assert (np.diff(gas.times) == 600.0).all()
    assert gas.values[0] == pytest.approx(9.9, abs=0.01)           # 9.8997 gwei at 00:00Z
    peak = int(np.argmax(gas.values))
    assert gas.values[peak] == pytest.approx(225.16, abs=0.01)     # 225 gwei ...
    assert gas.times[peak] == utc("2020-03-12T17:50:00")           # ... at 17:50Z
    assert gas.values[-1] == pytest.approx(112.2, abs=0.1)         # 23:50Z


def test_load_gas_percentile_fields_are_available_and_ordered():
    assert gas_fields(BLACK_THURSDAY_GAS) == ["avgGasDay", "30.0 Perc", "60.0 Perc",
                                              "90.0 Perc", "100.0 Perc"]
    p = {f: load_gas(BLACK_THURSDAY_GAS, field=f).values
         for f in ("30.0 Perc", "60.0 Perc", "90.0 Perc", "100.0 Perc")}
    assert (p["30.0 Perc"] <= p["60.0 Perc"]).all()
    assert (p["60.0 Perc"] <= p["90.0 Perc"]).all()
    assert (p["90.0 Perc"] <= p["100.0 Perc"]).all()
    default = load_gas(BLACK_THURSDAY_GAS)
    assert default.name == "90.0 Perc"
    assert np.array_equal(default.values, p["90.0 Perc"])
    at_peak = int(np.argmax(load_gas(BLACK_THURSDAY_GAS, field="avgGasDay").values))
    assert default.values[at_peak] == 200.0                         # p90 200 gwei at 17:50Z
    assert p["100.0 Perc"][at_peak] == 3640.0                       # max 3,640 gwei


# --------------------------------------------------------------------------- price bars, bad


def bar(start: str, close: object = 100.0) -> dict[str, object]:
    return {"time_period_start": start, "time_period_end": start, "price_open": 100.0,
            "price_high": 101.0, "price_low": 99.0, "price_close": close,
            "volume_traded": 1.5, "trades_count": 3}


def write(tmp_path: Path, name: str, content: object) -> Path:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


T0, T1, T2 = ("2020-03-12T00:00:00.0000000Z", "2020-03-12T00:10:00.0000000Z",
              "2020-03-12T00:20:00.0000000Z")


def test_load_price_bars_small_file_and_volume_fields(tmp_path):
    path = write(tmp_path, "bars.json", [bar(T0, 100.0), bar(T1, 90.5), bar(T2, 95)])
    bars = load_price_bars(path)
    assert bars.times.tolist() == [MIDNIGHT, MIDNIGHT + 600, MIDNIGHT + 1200]
    assert bars.values.tolist() == [100.0, 90.5, 95.0]
    trades = load_price_bars(path, field="trades_count")
    assert (trades.values.tolist(), trades.unit) == ([3.0, 3.0, 3.0], "trades")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[{", "malformed JSON"),
        ({"bars": []}, "expected a non-empty JSON list of OHLCV bars"),
        ([], r"expected a non-empty JSON list of OHLCV bars \(got an empty list\)"),
        ([bar(T0), 7], r": 1: must be an object"),
        ([bar(T0), {"time_period_start": T1}], r": 1\.price_close: missing"),
        ([bar(T0), bar(T1, "abc")], r": 1\.price_close: must be a number \(got 'abc'\)"),
        ([bar(T0), bar(T1, None)], r": 1\.price_close: must be a number \(got None\)"),
        ([bar(T0), bar(T1, 0)], r": 1\.price_close: must be > 0 \(got 0\)"),
        ([bar(T0), bar(T1, True)], r": 1\.price_close: must be a number"),
        ([bar(T0), bar("12 March 2020")], r": 1\.time_period_start: not an ISO 8601"),
        ([bar(T0), bar("2020-02-30T00:00:00Z")], r": 1\.time_period_start: not a valid"),
        ([bar(T0), bar(T2), bar(T1)],
         r": 2\.time_period_start: not after the previous row's \(1\)"),
        ([bar(T0), bar(T0)], r": 1\.time_period_start: not after"),
    ],
)
def test_load_price_bars_when_malformed_then_config_error_naming_file_row_field(
        tmp_path, content, message):
    path = write(tmp_path, "bars.json", content)
    with pytest.raises(ConfigError, match=message) as info:
        load_price_bars(path)
    assert info.value.source == str(path)


def test_load_price_bars_lists_every_bad_row(tmp_path):
    path = write(tmp_path, "bars.json", [bar(T0, -1), bar(T1), bar(T2, "x")])
    with pytest.raises(ConfigError) as info:
        load_price_bars(path)
    assert info.value.problems == ["0.price_close: must be > 0 (got -1)",
                                   "2.price_close: must be a number (got 'x')"]


def test_load_price_bars_when_file_missing_or_field_unknown_then_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_price_bars(tmp_path / "nope.json")
    with pytest.raises(ValueError, match="field: must be one of price_open"):
        load_price_bars(BLACK_THURSDAY_PRICES, field="close")


# --------------------------------------------------------------------------- gas, bad


def gas_file(tmp_path: Path, rows: list[dict[str, object]], schema: bool = True) -> Path:
    fields = [{"name": n, "type": "number"} for n in ("timestamp", "avgGasDay", "90.0 Perc")]
    content: dict[str, object] = {"data": rows}
    if schema:
        content["schema"] = {"fields": fields}
    return write(tmp_path, "gas.json", content)


def gas_row(ts: str, wei: object = 2e10) -> dict[str, object]:
    return {"datetime": "2020-03-12 05:50:00", "timestamp": ts, "avgGasDay": wei,
            "90.0 Perc": 3e10}


def test_load_gas_converts_wei_to_gwei_and_ignores_the_datetime_column(tmp_path):
    rows = [gas_row("2020-03-12T17:50:00.000Z", 225161936177.4765),
            gas_row("2020-03-12T18:00:00.000Z", 1e9) | {"datetime": "not a time"}]
    gas = load_gas(gas_file(tmp_path, rows, schema=False), field="avgGasDay")
    assert gas.times.tolist() == [utc("2020-03-12T17:50:00"), utc("2020-03-12T18:00:00")]
    assert gas.values[0] == pytest.approx(225.1619361774765, rel=1e-15)
    assert gas.values[1] == 1.0


@pytest.mark.parametrize(
    ("content", "field", "message"),
    [
        ([1, 2], "avgGasDay", 'expected a pandas "table" orient object'),
        ({"data": []}, "avgGasDay", "data: must be a non-empty list of rows"),
        ("rows", "doc_count", "field: unknown gas-price field 'doc_count'"),
        ("rows", "50.0 Perc", r"field: unknown gas-price field '50.0 Perc' \(this file has "
                              r"avgGasDay, 90.0 Perc\)"),
        ([gas_row("2020-03-12T00:00:00.000Z"), {"avgGasDay": 1e9}], "avgGasDay",
         r"data\.1\.timestamp: missing"),
        ([gas_row("2020-03-12T00:00:00.000Z", -5)], "avgGasDay",
         r"data\.0\.avgGasDay: must be >= 0 \(got -5\)"),
        ([gas_row("2020-03-12T00:10:00.000Z"), gas_row("2020-03-12T00:00:00.000Z")],
         "avgGasDay", r"data\.1\.timestamp: not after the previous row's \(data\.0\)"),
    ],
)
def test_load_gas_when_malformed_then_config_error(tmp_path, content, field, message):
    if content == "rows":
        path = gas_file(tmp_path, [gas_row("2020-03-12T00:00:00.000Z")])
    elif isinstance(content, list) and content and isinstance(content[0], dict):
        path = gas_file(tmp_path, content)
    else:
        path = write(tmp_path, "gas.json", content)
    with pytest.raises(ConfigError, match=message):
        load_gas(path, field=field)


# --------------------------------------------------------------------------- Gemini

GEMINI_HEADER = "Unix Timestamp,Date,Symbol,Open,High,Low,Close,Volume\n"
# The real file's quirks in six lines: newest first, ms timestamps in the newer rows and s in
# the older ones, a zero-volume bar (the venue was down), and a first bar with open 0.
GEMINI_ROWS = [
    "1584072000000,2020-03-13 04:00:00,ETHUSD,135.47,135.47,135.47,135.47,0.0",
    "1584068400000,2020-03-13 03:00:00,ETHUSD,114.97,140.0,110.0,135.47,1200.5",
    "1584064800000,2020-03-13 02:00:00,ETHUSD,97.63,125.0,86.62,114.97,35984.01397695",
    "1530097200000,2018-06-27 11:00:00,ETHUSD,439.25,439.25,432,433.54,290.82821136",
    "1530093600,2018-06-27 10:00:00,ETHUSD,437.22,441.96,436.86,439.25,143.7006237",
    "1462798800,2016-05-09 13:00:00,ETHUSD,0.0,12.0,0.0,9.55,432.5621152",
]


def gemini(tmp_path: Path, rows: list[str], header: str = GEMINI_HEADER) -> Path:
    path = tmp_path / "ETH_1H.csv"
    path.write_text(header + "".join(r + "\n" for r in rows))
    return path


def test_load_gemini_hourly_reads_descending_rows_of_both_timestamp_eras_ascending(tmp_path):
    close = load_gemini_hourly(gemini(tmp_path, GEMINI_ROWS))
    assert (close.name, close.unit) == ("close", "USD")
    assert close.times.tolist() == [utc("2016-05-09T13:00:00"), utc("2018-06-27T10:00:00"),
                                    utc("2018-06-27T11:00:00"), utc("2020-03-13T02:00:00"),
                                    utc("2020-03-13T03:00:00")]  # 04:00 had no volume
    assert close.values.tolist() == [9.55, 439.25, 433.54, 114.97, 135.47]


def test_load_gemini_hourly_drops_zero_volume_bars_and_zero_prices(tmp_path):
    opens = load_gemini_hourly(gemini(tmp_path, GEMINI_ROWS), field="Open")
    assert opens.values.tolist() == [437.22, 439.25, 97.63, 114.97]  # 2016 open was 0.0
    volume = load_gemini_hourly(gemini(tmp_path, GEMINI_ROWS), field="Volume")
    assert volume.unit == "base asset"
    assert 0.0 not in volume.values.tolist()


def test_load_gemini_hourly_accepts_an_ascending_file(tmp_path):
    ascending = load_gemini_hourly(gemini(tmp_path, GEMINI_ROWS[::-1]))
    assert ascending.values.tolist() == [9.55, 439.25, 433.54, 114.97, 135.47]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([GEMINI_ROWS[1].replace("1584068400000", "1584068400001")],
         r"line 2, column Unix Timestamp: 1584068400001 is not the Date "
         r"'2020-03-13 03:00:00' in s or ms"),
        ([GEMINI_ROWS[1].replace("2020-03-13 03:00:00", "13/03/2020 03:00")],
         "line 2, column Date: not an ISO 8601 date-time"),
        ([GEMINI_ROWS[1].replace("1584068400000", "1.5e12")],
         "line 2, column Unix Timestamp: must be a unix timestamp in s or ms"),
        ([GEMINI_ROWS[1].replace("135.47,1200.5", "n/a,1200.5")],
         r"line 2, column Close: must be a number \(got 'n/a'\)"),
        ([GEMINI_ROWS[1].replace("135.47,1200.5", "-1,1200.5")],
         r"line 2, column Close: must be >= 0 \(got '-1'\)"),
        ([GEMINI_ROWS[1].replace(",1200.5", ",")], "line 2, column Volume: must be a number"),
        ([GEMINI_ROWS[1], GEMINI_ROWS[1]], "line 3, column Date: repeats line 2"),
        ([GEMINI_ROWS[2], GEMINI_ROWS[1], GEMINI_ROWS[3]],
         r"line 4, column Date: out of order \(the file is in ascending time order, but this "
         r"bar is earlier than the one on line 3\)"),
        ([GEMINI_ROWS[1] + ",extra"], "line 2: 9 fields, expected 8"),
        ([GEMINI_ROWS[0]], "no bars with volume and a positive price"),
    ],
)
def test_load_gemini_hourly_when_malformed_then_config_error_naming_line_and_column(
        tmp_path, rows, message):
    path = gemini(tmp_path, rows)
    with pytest.raises(ConfigError, match=message) as info:
        load_gemini_hourly(path)
    assert info.value.source == str(path)


def test_load_gemini_hourly_when_header_wrong_or_file_empty_then_config_error(tmp_path):
    with pytest.raises(ConfigError, match="line 1: missing column"):
        load_gemini_hourly(gemini(tmp_path, GEMINI_ROWS, header="time,price\n"))
    with pytest.raises(ConfigError, match="line 1: empty file"):
        load_gemini_hourly(gemini(tmp_path, [], header=""))
    with pytest.raises(ValueError, match="field: must be one of Open"):
        load_gemini_hourly(gemini(tmp_path, GEMINI_ROWS), field="close")


@pytest.mark.skipif(not GEMINI_CSV.is_file(), reason="the shared Gemini CSV is not present")
def test_load_gemini_hourly_real_file_black_thursday():
    opens = load_gemini_hourly(GEMINI_CSV, field="Open")
    lows = load_gemini_hourly(GEMINI_CSV, field="Low")
    assert len(lows) == 34_497 - 2_442 - 1   # zero-volume bars and the 2016 low of 0.0 dropped
    assert (np.diff(lows.times) > 0).all()
    assert lows.times[0] == utc("2016-05-09T14:00:00")        # seconds era
    assert lows.times[-1] == utc("2020-04-16T00:00:00")       # milliseconds era
    assert opens.values[np.searchsorted(opens.times, utc("2020-03-12T00:00:00"))] == 194.46
    window = (lows.times >= utc("2020-03-12T00:00:00")) & (lows.times < utc("2020-03-14T00:00:00"))
    assert lows.values[window].min() == 86.62
    assert lows.times[window][np.argmin(lows.values[window])] == utc("2020-03-13T02:00:00")
    assert utc("2020-03-13T04:00:00") not in lows.times       # zero volume: missing


# --------------------------------------------------------------------------- Series, times


def test_series_is_frozen_with_read_only_arrays():
    s = Series(np.array([1.0, 2.0]), np.array([10.0, 20.0]), name="x", unit="USD")
    with pytest.raises(AttributeError):
        s.name = "y"  # type: ignore[misc]
    with pytest.raises(ValueError, match="read-only"):
        s.values[0] = 5.0


@pytest.mark.parametrize(
    ("times", "values", "message"),
    [
        ([2.0, 1.0], [1.0, 1.0], r"times: must be strictly increasing \(times\.1 = 1.0"),
        ([1.0, 2.0], [1.0], r"values: must have one value per time \(2\)"),
        ([1.0, 2.0], [1.0, float("nan")], r"values: must be finite \(values\.1 is nan\)"),
    ],
)
def test_series_when_invalid_then_value_error(times, values, message):
    with pytest.raises(ValueError, match=message):
        Series(np.array(times), np.array(values), name="x", unit="USD")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2020-03-12T00:00:00.0000000Z", MIDNIGHT),
        ("2020-03-12T00:04:55.9304460Z", MIDNIGHT + 295.930446),
        ("2020-03-12T00:00:00.000Z", MIDNIGHT),
        ("2020-03-12 00:00:00", MIDNIGHT),
        ("2020-03-12T01:00:00+01:00", MIDNIGHT),
        ("2020-03-11T19:00:00-0500", MIDNIGHT),
    ],
)
def test_parse_utc_formats(text, expected):
    assert parse_utc(text) == pytest.approx(expected, abs=1e-6)
