"""A feed that replays a recorded price series, and the CSV and JSON loaders for one.

A series is a sequence of ``(timestamp, price)`` points, timestamps in seconds strictly
increasing, prices positive ints in USD with 8 decimals. Files hold human prices
(``"2000.5"``), converted exactly with :func:`~marginengine.fixedpoint.parse_units`; every
bad row is reported at once, by line (CSV) or index (JSON) and field, in one
:class:`~marginengine.errors.ConfigError`.

CSV: a header with ``timestamp`` and ``price`` columns (others are ignored)::

    timestamp,price
    1700000000,2000.5

JSON: a list of ``{"timestamp": ..., "price": ...}`` objects or ``[timestamp, price]`` pairs.
"""

from __future__ import annotations

import csv
import io
import json
from bisect import bisect_right
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from marginengine.config.amounts import parse_positive
from marginengine.errors import ConfigError, OracleError, field_path
from marginengine.fixedpoint import PRICE_DECIMALS
from marginengine.oracle.inputs import require_price, require_time
from marginengine.oracle.status import PriceReading

#: One point of a series: (timestamp in seconds, price in USD with 8 decimals).
PricePoint = tuple[int, int]


class ReplayFeed:
    """Answers, at any time, the last point of a recorded series at or before it.

    The feed has no clock of its own: the series is fixed, so reading in any order is
    deterministic. ``updated_at`` is the point's timestamp, so a gap in the series shows as
    staleness to the reader.

    Parameters
    ----------
    series
        ``(timestamp, price)`` points, at least one; timestamps strictly increasing.

    Raises
    ------
    OracleError
        If the series is empty or a point is invalid (``series.3.time: ...``).
    """

    def __init__(self, series: Sequence[PricePoint]) -> None:
        if not series:
            raise OracleError("series", "is empty: a replay needs at least one point")
        times: list[int] = []
        prices: list[int] = []
        for index, point in enumerate(series):
            if not isinstance(point, tuple) or len(point) != 2:
                raise OracleError(field_path("series", index), "must be a (timestamp, price) pair")
            time = require_time(point[0], field_path("series", index, "time"))
            if times and time <= times[-1]:
                raise OracleError(
                    field_path("series", index, "time"),
                    f"{time} is not after {times[-1]} (timestamps must strictly increase)",
                )
            times.append(time)
            prices.append(require_price(point[1], field_path("series", index, "price")))
        self._times = tuple(times)
        self._prices = tuple(prices)

    @classmethod
    def from_file(cls, path: str | Path) -> ReplayFeed:
        """Load a series from a ``.csv`` or ``.json`` file (see the module docstring).

        Raises
        ------
        ConfigError
            If the file cannot be read or any row is invalid.
        """
        return cls(load_price_series(path))

    @property
    def series(self) -> tuple[PricePoint, ...]:
        """The points, in time order."""
        return tuple(zip(self._times, self._prices, strict=True))

    def latest(self, time: int) -> PriceReading | None:
        """Return the last point at or before ``time`` (``None`` before the first point).

        Raises
        ------
        OracleError
            If ``time`` is not a non-negative int.
        """
        time = require_time(time, "time")
        index = bisect_right(self._times, time) - 1
        if index < 0:
            return None
        return PriceReading(self._prices[index], self._times[index])


def load_price_series(path: str | Path) -> tuple[PricePoint, ...]:
    """Read a price series from a ``.csv`` or ``.json`` file.

    Raises
    ------
    ConfigError
        If the file cannot be read, has another suffix, or any row is invalid.
    """
    path = Path(path)
    source = str(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".json"):
        raise ConfigError([f"unknown series format {suffix!r}: use .csv or .json"], source)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError([f"cannot read the file: {error.strerror}"], source) from None
    if suffix == ".csv":
        return parse_price_series_csv(text, source)
    return parse_price_series_json(text, source)


def parse_price_series_csv(text: str, source: str | None = None) -> tuple[PricePoint, ...]:
    """Parse CSV text with ``timestamp`` and ``price`` columns.

    Parameters
    ----------
    text
        The CSV, header first.
    source
        Where the text came from, for the error.

    Raises
    ------
    ConfigError
        Naming every bad row by line number and field.
    """
    reader = csv.DictReader(io.StringIO(text))
    columns = reader.fieldnames
    if columns is None:
        raise ConfigError(["header: the file is empty (need timestamp,price)"], source)
    missing = [name for name in ("timestamp", "price") if name not in columns]
    if missing:
        raise ConfigError(
            [f"header: missing column {name!r} (found: {', '.join(columns)})" for name in missing],
            source,
        )
    rows = [(f"line {reader.line_num}", row["timestamp"], row["price"]) for row in reader]
    return _check_rows(rows, source)


def parse_price_series_json(text: str, source: str | None = None) -> tuple[PricePoint, ...]:
    """Parse a JSON list of ``{"timestamp", "price"}`` objects or ``[timestamp, price]`` pairs.

    Numbers are read as exact decimals, never through a float.

    Parameters
    ----------
    text
        The JSON document.
    source
        Where the text came from, for the error.

    Raises
    ------
    ConfigError
        Naming every bad item by index and field.
    """
    try:
        # NaN and Infinity are kept as text so the price check names them.
        document = json.loads(text, parse_float=Decimal, parse_constant=str)
    except json.JSONDecodeError as error:
        raise ConfigError(
            [f"line {error.lineno} column {error.colno}: invalid JSON ({error.msg})"], source
        ) from None
    if not isinstance(document, list):
        raise ConfigError(
            [f"top level: must be a list of points, not {type(document).__name__}"], source
        )
    rows: list[tuple[str, object, object]] = []
    problems: list[str] = []
    for index, item in enumerate(document):
        where = field_path(index)
        if isinstance(item, dict):
            absent = [key for key in ("timestamp", "price") if key not in item]
            if absent:
                problems.append(f"{where}: missing {' and '.join(absent)}")
                continue
            rows.append((where, item["timestamp"], item["price"]))
        elif isinstance(item, list) and len(item) == 2:
            rows.append((where, item[0], item[1]))
        else:
            problems.append(
                f"{where}: must be an object with timestamp and price, or a [timestamp, price] "
                "pair"
            )
    if problems:
        raise ConfigError(problems, source)
    return _check_rows(rows, source)


def _check_rows(
    rows: Sequence[tuple[str, object, object]], source: str | None
) -> tuple[PricePoint, ...]:
    if not rows:
        raise ConfigError(["no rows: a series needs at least one (timestamp, price) point"], source)
    problems: list[str] = []
    points: list[PricePoint] = []
    previous: int | None = None
    for where, raw_time, raw_price in rows:
        time = _parse_time(raw_time, where, problems)
        price = _parse_price(raw_price, where, problems)
        if time is not None:
            if previous is not None and time <= previous:
                problems.append(
                    f"{where}: timestamp: {time} is not after the previous row's {previous} "
                    "(timestamps must strictly increase)"
                )
            previous = time
        if time is not None and price is not None:
            points.append((time, price))
    if problems:
        raise ConfigError(problems, source)
    return tuple(points)


def _parse_time(raw: object, where: str, problems: list[str]) -> int | None:
    text = raw.strip() if isinstance(raw, str) else raw
    if isinstance(text, str) and text.lstrip("-").isdigit():
        text = int(text)
    if isinstance(text, bool) or not isinstance(text, int):
        problems.append(f"{where}: timestamp: must be a whole number of seconds ({raw!r})")
        return None
    if text < 0:
        problems.append(f"{where}: timestamp: must not be negative ({text})")
        return None
    return text


def _parse_price(raw: object, where: str, problems: list[str]) -> int | None:
    return parse_positive(raw, PRICE_DECIMALS, f"{where}: price", problems)
