"""Historical series for replay scenarios: the Black Thursday price and gas files, Gemini bars.

Each loader returns a :class:`Series` (unix seconds, ascending, and float values) and reads
its file strictly: anything malformed raises :class:`~marginengine.errors.ConfigError` with
the file as its source and one problem per bad field, each naming the row and field
(``17.price_close: must be a number (got 'abc')``, ``data.3.timestamp: ...``,
``line 5, column Date: ...``). The quirks of each file (see ``data/black_thursday/README.md``
and the shared data README) are handled here, and each is stated in the loader's docstring.

The Black Thursday files ship in the repository's ``data/black_thursday/`` folder, not in
the wheel: :data:`BLACK_THURSDAY_PRICES` and :data:`BLACK_THURSDAY_GAS` point there relative
to this source file, which works from a checkout (editable install or ``src`` on the path).
With a non-editable install, pass the path to the files in a checkout instead.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from marginengine.config.loading import read_text
from marginengine.errors import ConfigError, field_path

__all__ = [
    "BLACK_THURSDAY_GAS",
    "BLACK_THURSDAY_PRICES",
    "GEMINI_COLUMNS",
    "PRICE_BAR_FIELDS",
    "Series",
    "gas_fields",
    "load_gas",
    "load_gemini_hourly",
    "load_price_bars",
    "load_replay",
    "parse_utc",
]

#: The repository's data folder (three levels above ``src/marginengine/sim/``).
DATA_DIR = Path(__file__).resolve().parents[3] / "data"
#: ETH/USD 10-minute CoinAPI bars of 12 March 2020 (StableSims); see its README.
BLACK_THURSDAY_PRICES = DATA_DIR / "black_thursday" / "eth_usd_10min_2020-03-12_stablesims.json"
#: Ethereum gas prices in 10-minute buckets of 12 March 2020 (StableSims), in wei.
BLACK_THURSDAY_GAS = DATA_DIR / "black_thursday" / "eth_gas_10min_2020-03-12_stablesims.json"

#: Numeric fields of a CoinAPI OHLCV bar that :func:`load_price_bars` can read.
PRICE_BAR_FIELDS = ("price_open", "price_high", "price_low", "price_close", "volume_traded",
                    "trades_count")
#: The header of the Gemini hourly CSV (CryptoDataDownload export).
GEMINI_COLUMNS = ("Unix Timestamp", "Date", "Symbol", "Open", "High", "Low", "Close", "Volume")
#: At most this many problems are listed in one error.
MAX_PROBLEMS = 20

_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"(Z|[+-]\d{2}:?\d{2})?"
)


@dataclass(frozen=True)
class Series:
    """A time series: ``values[i]`` observed at ``times[i]``.

    Attributes
    ----------
    times
        Unix seconds (UTC), float64, strictly increasing, finite. Read-only.
    values
        Observations, float64, same length, finite. Read-only.
    name
        What the values are (``"price_close"``, ``"90.0 Perc"``).
    unit
        Their unit (``"USD"``, ``"gwei"``).
    """

    times: NDArray[np.float64]
    values: NDArray[np.float64]
    name: str
    unit: str

    def __post_init__(self) -> None:
        times = _frozen_array(self.times, "times")
        values = _frozen_array(self.values, "values")
        if times.shape != values.shape:
            raise ValueError(f"values: must have one value per time ({times.size}), "
                             f"got {values.size}")
        if times.size and not (np.diff(times) > 0).all():
            i = int(np.argmax(np.diff(times) <= 0)) + 1
            raise ValueError(f"times: must be strictly increasing "
                             f"({field_path('times', i)} = {times[i]} after "
                             f"{field_path('times', i - 1)} = {times[i - 1]})")
        object.__setattr__(self, "times", times)
        object.__setattr__(self, "values", values)

    def __len__(self) -> int:
        return int(self.times.size)


def _frozen_array(data: ArrayLike, name: str) -> NDArray[np.float64]:
    try:
        arr = np.array(data, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: must be an array of numbers") from None
    if arr.ndim != 1:
        raise ValueError(f"{name}: must be 1-D (got shape {arr.shape})")
    if not np.isfinite(arr).all():
        i = int(np.argmax(~np.isfinite(arr)))
        raise ValueError(f"{name}: must be finite ({field_path(name, i)} is {arr[i]})")
    arr.setflags(write=False)
    return arr


def parse_utc(text: str) -> float:
    """Unix seconds of an ISO 8601 date-time; without a zone it is taken as UTC.

    Accepts ``2020-03-12T00:00:00.0000000Z`` (CoinAPI: 7 fractional digits), ``...000Z``,
    ``2020-03-12 00:00:00`` and explicit offsets (``+01:00``).

    Raises
    ------
    ValueError
        If ``text`` is not such a date-time.
    """
    if not isinstance(text, str):
        raise ValueError(f"must be a date-time string (got {text!r})")
    m = _ISO.fullmatch(text.strip())
    if m is None:
        raise ValueError(f"not an ISO 8601 date-time such as 2020-03-12T00:00:00Z (got {text!r})")
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    fraction, zone = m.group(7), m.group(8)
    try:
        moment = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError as exc:
        raise ValueError(f"not a valid date-time ({exc}; got {text!r})") from None
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        moment -= sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    seconds = moment.timestamp()
    if fraction:
        seconds += int(fraction) / 10 ** len(fraction)
    return seconds


def _number(raw: object) -> float:
    """A finite number from JSON (int or float) or CSV text; raises ValueError."""
    if isinstance(raw, bool) or raw is None:
        raise ValueError(f"must be a number (got {raw!r})")
    if isinstance(raw, int | float):
        x = float(raw)
    elif isinstance(raw, str):
        try:
            x = float(raw.strip())
        except ValueError:
            raise ValueError(f"must be a number (got {raw!r})") from None
    else:
        raise ValueError(f"must be a number (got {raw!r})")
    if not math.isfinite(x):
        raise ValueError(f"must be finite (got {raw!r})")
    return x


def _read_json(path: Path) -> Any:
    text = read_text(path, "JSON")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError([f"malformed JSON: {exc}"], source=str(path)) from None


def _raise_if(problems: list[str], source: str) -> None:
    if problems:
        shown = problems[:MAX_PROBLEMS]
        if len(problems) > MAX_PROBLEMS:
            shown.append(f"... and {len(problems) - MAX_PROBLEMS} more")
        raise ConfigError(shown, source=source)


def _check_increasing(times: list[float], labels: list[str], time_field: str,
                      problems: list[str]) -> None:
    for i in range(1, len(times)):
        if times[i] <= times[i - 1]:
            problems.append(f"{labels[i]}.{time_field}: not after the previous row's "
                            f"({labels[i - 1]}); times must be strictly increasing")


def _rows_to_series(records: list[Any], where: Callable[[int], str], time_field: str,
                    value_field: str, convert: Callable[[float], float],
                    check: Callable[[float], str | None], name: str, unit: str,
                    source: str) -> Series:
    """Parse JSON objects into a series, collecting every problem."""
    problems: list[str] = []
    times: list[float] = []
    values: list[float] = []
    labels: list[str] = []
    for i, record in enumerate(records):
        label = where(i)
        if not isinstance(record, dict):
            problems.append(f"{label}: must be an object (got {type(record).__name__})")
            continue
        row_ok = True
        for key in (time_field, value_field):
            if key not in record:
                problems.append(f"{label}.{key}: missing")
                row_ok = False
        if not row_ok:
            continue
        try:
            t = parse_utc(record[time_field])
        except ValueError as exc:
            problems.append(f"{label}.{time_field}: {exc}")
            row_ok = False
        try:
            v = _number(record[value_field])
            reason = check(v)
            if reason is not None:
                raise ValueError(f"{reason} (got {record[value_field]!r})")
        except ValueError as exc:
            problems.append(f"{label}.{value_field}: {exc}")
            row_ok = False
        if row_ok:
            times.append(t)
            values.append(convert(v))
            labels.append(label)
    _check_increasing(times, labels, time_field, problems)
    _raise_if(problems, source)
    return Series(np.array(times), np.array(values), name=name, unit=unit)


def _positive_check(v: float) -> str | None:
    return None if v > 0 else "must be > 0"


def _non_negative_check(v: float) -> str | None:
    return None if v >= 0 else "must be >= 0"


def load_price_bars(path: str | Path, field: str = "price_close", unit: str = "USD") -> Series:
    """CoinAPI OHLCV bars (a JSON list of objects), e.g. :data:`BLACK_THURSDAY_PRICES`.

    The time of a bar is its ``time_period_start`` (ISO UTC, 7 fractional digits); the value
    is ``field``. The CoinAPI format does not name the pair, so ``unit`` says what the
    prices are in.

    Parameters
    ----------
    path
        The JSON file.
    field
        One of :data:`PRICE_BAR_FIELDS`: ``price_open``, ``price_high``, ``price_low``,
        ``price_close`` (prices, must be > 0), ``volume_traded``, ``trades_count`` (>= 0).
    unit
        Unit of the prices (volumes are in the base asset, counts in trades).

    Raises
    ------
    ConfigError
        Unreadable file, malformed JSON, not a non-empty list, or a bar with a missing or
        bad ``time_period_start`` or ``field``, or out of time order; each problem names
        the bar (``17.price_close``).
    ValueError
        ``field`` is not one of :data:`PRICE_BAR_FIELDS`.
    """
    if field not in PRICE_BAR_FIELDS:
        raise ValueError(f"field: must be one of {', '.join(PRICE_BAR_FIELDS)} (got {field!r})")
    p = Path(path)
    data = _read_json(p)
    if not isinstance(data, list) or not data:
        raise ConfigError([f"expected a non-empty JSON list of OHLCV bars (got "
                           f"{'an empty list' if data == [] else type(data).__name__})"],
                          source=str(p))
    is_price = field.startswith("price_")
    return _rows_to_series(
        data, lambda i: field_path(i), "time_period_start", field, float,
        _positive_check if is_price else _non_negative_check, name=field,
        unit=unit if is_price else ("trades" if field == "trades_count" else "base asset"),
        source=str(p))


def _gas_table(path: Path) -> tuple[list[Any], list[str]]:
    """The rows and value fields of a pandas table-orient gas file."""
    data = _read_json(path)
    if not isinstance(data, dict) or "data" not in data:
        raise ConfigError(['expected a pandas "table" orient object with a "data" list '
                           f"(got {type(data).__name__}"
                           f"{' without data' if isinstance(data, dict) else ''})"],
                          source=str(path))
    rows = data["data"]
    if not isinstance(rows, list) or not rows:
        raise ConfigError(["data: must be a non-empty list of rows"], source=str(path))
    names: list[str] = []
    schema = data.get("schema")
    if isinstance(schema, dict) and isinstance(schema.get("fields"), list):
        names = [str(f.get("name")) for f in schema["fields"] if isinstance(f, dict)]
    elif isinstance(rows[0], dict):
        names = list(rows[0])
    return rows, [n for n in names if isinstance(n, str) and _is_wei_field(n)]


def _is_wei_field(name: str) -> bool:
    return name == "avgGasDay" or name.endswith(" Perc")


def gas_fields(path: str | Path) -> list[str]:
    """The gas-price fields (in wei) a gas file offers, e.g. ``avgGasDay``, ``90.0 Perc``."""
    return _gas_table(Path(path))[1]


def load_gas(path: str | Path, field: str = "90.0 Perc") -> Series:
    """A gas-price series in **gwei** from a pandas table-orient file (:data:`BLACK_THURSDAY_GAS`).

    Quirks handled: the time is the ``timestamp`` column (ISO UTC); the ``datetime`` column
    is ignored (a 12-hour clock without AM/PM). Values are stored in wei and converted to
    gwei (divided by 1e9).

    Parameters
    ----------
    path
        The JSON file (``{"schema": ..., "data": [...]}``).
    field
        A gas-price field: ``avgGasDay`` (the mean of the bucket) or a percentile
        ``30.0 Perc``, ``60.0 Perc``, ``90.0 Perc``, ``100.0 Perc`` (the bucket's maximum).
        The default, the 90th percentile, is what a keeper bidding to be included quickly
        pays. See :func:`gas_fields`.

    Raises
    ------
    ConfigError
        Unreadable file, malformed JSON, unknown ``field``, or a row with a missing or bad
        ``timestamp`` or ``field`` (negative, not a number), or out of time order; each
        problem names the row (``data.3.timestamp``).
    """
    p = Path(path)
    rows, fields = _gas_table(p)
    if not _is_wei_field(field) or (fields and field not in fields):
        raise ConfigError([f"field: unknown gas-price field {field!r} (this file has "
                           f"{', '.join(fields) or 'none'})"], source=str(p))
    return _rows_to_series(rows, lambda i: field_path("data", i), "timestamp", field,
                           lambda wei: wei / 1e9, _non_negative_check, name=field,
                           unit="gwei", source=str(p))


def _csv_records(path: Path) -> Iterator[tuple[int, list[str]]]:
    try:
        f = open(path, newline="", encoding="utf-8")  # noqa: SIM115
    except FileNotFoundError:
        raise ConfigError([f"file not found: {path}"]) from None
    except IsADirectoryError:
        raise ConfigError([f"is a directory, not a CSV file: {path}"]) from None
    except OSError as exc:
        raise ConfigError([f"cannot read {path}: {exc.strerror}"]) from None
    with f:
        reader = csv.reader(f)
        try:
            for record in reader:
                yield reader.line_num, record
        except UnicodeDecodeError:
            raise ConfigError(["not UTF-8 text"], source=str(path)) from None
        except csv.Error as exc:
            raise ConfigError([f"line {reader.line_num}: malformed CSV ({exc})"],
                              source=str(path)) from None


def _unix_seconds(text: str) -> float:
    """A unix timestamp in seconds (10 digits) or milliseconds (13 digits)."""
    digits = text.strip()
    if not digits.isdigit():
        raise ValueError(f"must be a unix timestamp in s or ms (got {text!r})")
    return int(digits) / 1000 if len(digits) >= 13 else float(int(digits))


def load_gemini_hourly(path: str | Path, field: str = "Close", unit: str = "USD") -> Series:
    """Hourly Gemini bars from a CryptoDataDownload CSV (the shared ``ETH_1H.csv``).

    Quirks handled:

    - rows are in **descending** time order: the series is returned ascending (a file
      in ascending order is read too; a file in neither order, or with a repeated time, is
      an error);
    - the ``Unix Timestamp`` unit changes (milliseconds in newer rows, seconds in older
      ones): the time is parsed from the ``Date`` column (UTC), and the timestamp, read as
      ms or s by its number of digits (13 or 10), must agree with it;
    - bars with **zero volume** (flat OHLC: the venue was down) are **missing data, not a
      stable price: they are dropped**, as are bars whose ``field`` is 0 (the first bar of
      the file has ``Open`` and ``Low`` 0.0). Resample with ``"previous"`` to hold the last
      real price over such gaps, or ``"linear"`` to bridge them.

    Parameters
    ----------
    path
        The CSV file, header ``Unix Timestamp,Date,Symbol,Open,High,Low,Close,Volume``.
    field
        ``Open``, ``High``, ``Low``, ``Close`` or ``Volume``.
    unit
        Unit of the prices.

    Raises
    ------
    ConfigError
        Unreadable file, a wrong header, or a line with a bad date, timestamp, number, a
        negative value or price, or a time out of order or repeated; each problem names the
        line and column (``line 5, column Date``).
    ValueError
        ``field`` is not a price or volume column.
    """
    columns = ("Open", "High", "Low", "Close", "Volume")
    if field not in columns:
        raise ValueError(f"field: must be one of {', '.join(columns)} (got {field!r})")
    p = Path(path)
    records = _csv_records(p)
    first = next(records, None)
    if first is None:
        raise ConfigError([f"line 1: empty file (expected the header "
                           f"{','.join(GEMINI_COLUMNS)})"], source=str(p))
    header = [h.strip() for h in first[1]]
    missing = [c for c in ("Unix Timestamp", "Date", field, "Volume") if c not in header]
    if missing:
        raise ConfigError([f"line 1: missing column(s) {', '.join(missing)} (expected "
                           f"{','.join(GEMINI_COLUMNS)})"], source=str(p))
    col = {name: header.index(name) for name in ("Unix Timestamp", "Date", field, "Volume")}
    problems: list[str] = []
    kept: list[tuple[float, float]] = []
    order: list[tuple[float, int]] = []  # (time, line) of every well-formed bar, file order
    for line, record in records:
        if not record or all(not c.strip() for c in record):
            continue
        if len(record) != len(header):
            problems.append(f"line {line}: {len(record)} fields, expected {len(header)}")
            continue
        row_ok = True
        try:
            t = parse_utc(record[col["Date"]])
        except ValueError as exc:
            problems.append(f"line {line}, column Date: {exc}")
            row_ok = False
        else:
            try:
                stamp = _unix_seconds(record[col["Unix Timestamp"]])
            except ValueError as exc:
                problems.append(f"line {line}, column Unix Timestamp: {exc}")
                row_ok = False
            else:
                if stamp != t:
                    problems.append(f"line {line}, column Unix Timestamp: "
                                    f"{record[col['Unix Timestamp']].strip()} is not the Date "
                                    f"{record[col['Date']].strip()!r} in s or ms")
                    row_ok = False
        numbers: dict[str, float] = {}
        for name in dict.fromkeys((field, "Volume")):
            try:
                numbers[name] = _number(record[col[name]])
                if numbers[name] < 0:
                    raise ValueError(f"must be >= 0 (got {record[col[name]]!r})")
            except ValueError as exc:
                problems.append(f"line {line}, column {name}: {exc}")
                row_ok = False
        if not row_ok:
            continue
        order.append((t, line))
        if numbers["Volume"] == 0 or numbers[field] == 0:
            continue  # missing data (venue down, or a zero price)
        kept.append((t, numbers[field]))
    _check_monotone(order, problems)
    if not problems and not kept:
        problems.append("no bars with volume and a positive price")
    _raise_if(problems, str(p))
    kept.sort()
    return Series(np.array([k[0] for k in kept]), np.array([k[1] for k in kept]),
                  name=field.lower(), unit=unit if field != "Volume" else "base asset")


def _check_monotone(order: list[tuple[float, int]], problems: list[str]) -> None:
    """Times in file order must all fall (as in the export) or all rise, none repeated."""
    if len(order) < 2:
        return
    falling = order[1][0] < order[0][0]
    for (t0, line0), (t1, line1) in itertools.pairwise(order):
        if t1 == t0:
            problems.append(f"line {line1}, column Date: repeats line {line0}")
        elif (t1 < t0) != falling:
            problems.append(f"line {line1}, column Date: out of order (the file is in "
                            f"{'descending' if falling else 'ascending'} time order, but "
                            f"this bar is {'later' if t1 > t0 else 'earlier'} than the one "
                            f"on line {line0})")


def load_replay(path: str | Path, field: str, where: str) -> Series:
    """The price series a scenario's ``replay`` reads, whichever model asks (the single
    ``[price]`` or an asset of ``[price.assets]``): a ``.csv`` is the Gemini hourly export
    (``data/eth_hourly/``) read by its ``Close``, anything else a 10-minute OHLCV JSON read
    by ``field``.

    Raises
    ------
    ConfigError
        What the loaders raise, and a ``field`` they do not read named ``{where}.field``.
    """
    p = Path(path)
    try:
        if p.suffix.lower() == ".csv":
            return load_gemini_hourly(p, field="Close")
        return load_price_bars(p, field=field)
    except ValueError as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError([f"{where}.{exc}"]) from None
