"""Books, prices and protocols on disk, and the engine they build.

BOOK (CSV or Parquet), one row per account and asset::

    account,asset,supplied,borrowed
    alice,WETH,10,
    alice,USDC,,15000

Amounts are whole tokens written as decimals (at most the asset's decimals; empty or 0
means none), as everywhere in marginengine's files. A Parquet book has the same four
columns (strings, or integer / decimal numbers). An optional fifth column ``emode`` puts
the account in an Aave e-mode category of the protocol (``[emode.categories.N]``; empty
or 0: none), given on any of its rows (rows of one account that give it must agree).
PRICES is a TOML file with a ``[prices]`` table (USD per whole token); a protocol is a
TOML file with the protocol's keys at the top level or under ``[protocol]`` (so a
scenario or snapshot file serves).

The engine is built by the snapshot builder
(:func:`marginengine.engine.snapshot.engine_from_snapshot`): balances at index 1, the
protocol funding whatever the listed suppliers did not. Problems are reported all at
once, each naming the line (or row) and the column.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from marginengine.config import ProtocolConfig, protocol_from_dict, read_toml
from marginengine.config.amounts import parse_asset_amounts
from marginengine.config.families import LiquidationMechanism
from marginengine.engine import Engine
from marginengine.engine.snapshot import emode_problems, engine_from_snapshot
from marginengine.errors import ConfigError
from marginengine.fixedpoint import parse_units
from marginengine.ledger import check_account_id

COLUMNS = ("account", "asset", "supplied", "borrowed")
#: Columns a book may add: the account's Aave e-mode category.
OPTIONAL_COLUMNS = ("emode",)
#: Problems listed before the rest are summarised as "... and N more".
MAX_PROBLEMS = 20


@dataclass
class BookFile:
    """A validated book: per account, supplied and borrowed whole-token amounts (text).

    ``accounts`` keeps the file's order; zero amounts are left out.
    """

    source: str
    accounts: dict[str, tuple[dict[str, str], dict[str, str]]] = field(default_factory=dict)
    rows: int = 0
    #: Accounts in an e-mode category: ``{account: category}``.
    emode: dict[str, int] = field(default_factory=dict)

    def assets(self) -> set[str]:
        """Every asset held."""
        return {a for s, b in self.accounts.values() for a in (*s, *b)}


def load_pyarrow() -> tuple[Any, Any]:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ConfigError([
            "reading or writing Parquet needs pyarrow: pip install 'marginengine[parquet]'"
        ]) from None
    return pa, pq


def read_protocol(path: str | Path | None, preset: str | None = None) -> ProtocolConfig:
    """The protocol from ``path`` (top-level keys or a ``[protocol]`` table), or the
    ``preset`` with all its markets (default ``aave-v3``)."""
    if path is None:
        return protocol_from_dict({"preset": preset or "aave-v3"})
    data = read_toml(path)
    table = data.get("protocol", data)
    prefix = "protocol" if "protocol" in data else ""
    if preset is not None and isinstance(table, dict):
        table = {**table, "preset": table.get("preset", preset)}
    return protocol_from_dict(table, source=str(path), prefix=prefix)


def read_prices(path: str | Path, config: ProtocolConfig) -> dict[str, int]:
    """Exact prices (8 decimals) from a TOML ``[prices]`` table."""
    data = read_toml(path)
    table = data.get("prices")
    if not isinstance(table, dict):
        raise ConfigError(["prices: required table is missing (write [prices] then "
                           "ASSET = price lines)"], source=str(path))
    problems: list[str] = []
    prices = parse_asset_amounts(table, config, "prices", problems, prices=True)
    if problems:
        raise ConfigError(problems, source=str(path))
    return prices


def _csv_rows(path: Path) -> Iterator[tuple[str, dict[str, object] | str]]:
    try:
        f = open(path, newline="", encoding="utf-8-sig")  # noqa: SIM115  (BOM allowed)
    except FileNotFoundError:
        raise ConfigError([f"file not found: {path}"]) from None
    except IsADirectoryError:
        raise ConfigError([f"is a directory, not a book: {path}"]) from None
    with f:
        reader = csv.reader(f)
        try:
            header = next(reader, None)
            if header is None:
                raise ConfigError(["line 1: empty file (expected the header "
                                   f"{','.join(COLUMNS)})"], source=str(path))
            names = [h.strip() for h in header]
            _check_header(names, "line 1", str(path))
            for record in reader:
                where = f"line {reader.line_num}"
                if not record or all(not c.strip() for c in record):
                    continue
                if len(record) != len(names):
                    yield where, f"{len(record)} fields, expected {len(names)}"
                    continue
                if [c.strip() for c in record] == names:
                    yield where, "the header again (a repeated header row)"
                    continue
                yield where, dict(zip(names, record, strict=True))
        except UnicodeDecodeError:
            raise ConfigError(["not UTF-8 text"], source=str(path)) from None
        except csv.Error as exc:
            raise ConfigError([f"line {reader.line_num}: malformed CSV ({exc})"],
                              source=str(path)) from None


def _check_header(names: list[str], where: str, source: str) -> None:
    missing = [c for c in COLUMNS if c not in names]
    unknown = [c for c in names if c not in COLUMNS + OPTIONAL_COLUMNS]
    problems = []
    if missing:
        problems.append(f"{where}: missing column(s) {', '.join(missing)} (expected "
                        f"{','.join(COLUMNS)})")
    if unknown:
        problems.append(f"{where}: unknown column(s) {', '.join(unknown)}")
    if len(set(names)) != len(names):
        problems.append(f"{where}: a column appears twice")
    if problems:
        raise ConfigError(problems, source=source)


def _parquet_rows(path: Path) -> Iterator[tuple[str, dict[str, object] | str]]:
    _, pq = load_pyarrow()
    if not path.exists():
        raise ConfigError([f"file not found: {path}"])
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for unreadable files
        raise ConfigError([f"not a readable Parquet file ({exc})"], source=str(path)) from None
    _check_header(list(table.column_names), "schema", str(path))
    names = [c for c in COLUMNS + OPTIONAL_COLUMNS if c in table.column_names]
    columns = {c: table.column(c).to_pylist() for c in names}
    for i in range(table.num_rows):
        yield f"row {i + 1}", {c: columns[c][i] for c in names}


def read_book(path: str | Path, config: ProtocolConfig) -> BookFile:
    """Read and validate a CSV (``.csv``) or Parquet (``.parquet``, ``.pq``) book.

    Raises
    ------
    ConfigError
        Every problem, each naming the line (CSV) or row (Parquet) and the column.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".csv":
        records = _csv_rows(p)
    elif suffix in (".parquet", ".pq"):
        records = _parquet_rows(p)
    else:
        raise ConfigError([f"{p}: unknown book format {suffix or '(no suffix)'!r} "
                           "(use .csv or .parquet)"])
    book = BookFile(str(p))
    problems: list[str] = []
    first_seen: dict[tuple[str, str], str] = {}
    emode_at: dict[str, str] = {}
    borrowed_at: dict[tuple[str, str], str] = {}
    markets = ", ".join(sorted(config.markets))
    for where, record in records:
        book.rows += 1
        if isinstance(record, str):
            problems.append(f"{where}: {record}")
            continue
        account = str(record["account"] or "").strip()
        asset = str(record["asset"] or "").strip()
        try:
            check_account_id(account, f"{where}, column account")
        except ValueError as exc:
            problems.append(str(exc))
            continue
        if asset not in config.markets:
            problems.append(f"{where}, column asset: unknown asset {asset!r} "
                            f"(markets: {markets})")
            continue
        category = _emode_cell(record.get("emode"), f"{where}, column emode", problems)
        if category:
            if account in book.emode and book.emode[account] != category:
                problems.append(f"{where}, column emode: {category} differs from "
                                f"{book.emode[account]} given for {account!r} at "
                                f"{emode_at[account]}")
            elif account not in book.emode:
                book.emode[account] = category
                emode_at[account] = where
        key = (account, asset)
        if key in first_seen:
            problems.append(f"{where}: duplicate row for account {account!r} and asset "
                            f"{asset} (first at {first_seen[key]})")
            continue
        first_seen[key] = where
        decimals = config.markets[asset].decimals
        amounts: dict[str, str] = {}
        for column in ("supplied", "borrowed"):
            raw = record[column]
            text = "" if raw is None else str(raw).strip()
            if not text:
                continue
            try:
                value = parse_units(text, decimals)
            except ValueError as exc:
                problems.append(f"{where}, column {column}: {exc}")
                continue
            if value < 0:
                problems.append(f"{where}, column {column}: must not be negative (got {text})")
            elif value > 0:
                amounts[column] = text
        if "borrowed" in amounts:
            borrowed_at[key] = where  # checked at the end, against the account's category
        supplied, borrowed = book.accounts.setdefault(account, ({}, {}))
        if "supplied" in amounts:
            supplied[asset] = amounts["supplied"]
        if "borrowed" in amounts:
            borrowed[asset] = amounts["borrowed"]
    for account, category in book.emode.items():
        problems.extend(f"{emode_at[account]}, column emode: {reason}"
                        for _, reason in emode_problems(config, category, ()))
    for (account, asset), where in borrowed_at.items():
        category = book.emode.get(account, 0)
        if category and config.emode_category(category) is None:
            continue  # reported above
        problems.extend(f"{where}, column borrowed: {reason}"
                        for _, reason in emode_problems(config, category, (asset,)))
    if problems:
        shown = problems[:MAX_PROBLEMS]
        if len(problems) > MAX_PROBLEMS:
            shown.append(f"... and {len(problems) - MAX_PROBLEMS} more")
        raise ConfigError(shown, source=str(p))
    return book


def _emode_cell(raw: object, where: str, problems: list[str]) -> int:
    """An ``emode`` cell as a category id (0 when empty), else a problem naming it."""
    text = "" if raw is None else str(raw).strip()
    if not text:
        return 0
    if not text.isdigit() or int(text) > 255:
        problems.append(f"{where}: must be an e-mode category id within 0 and 255 "
                        f"(got {text!r})")
        return 0
    return int(text)


def engine_from_book(config: ProtocolConfig, prices: dict[str, int], book: BookFile,
                     prices_source: str | None = None) -> Engine:
    """An engine holding the book's balances at ``prices``, built by the snapshot builder.

    Raises
    ------
    ConfigError
        If an asset the book holds has no price.
    """
    missing = sorted(book.assets() - set(prices))
    if missing:
        raise ConfigError([f"prices.{a}: missing (the book holds {a})" for a in missing],
                          source=prices_source)
    snapshot = {
        "protocol": config.model_dump(mode="json"),
        "prices": {a: _price_text(p) for a, p in prices.items()},
        "accounts": [
            {"id": account, "supplied": supplied, "borrowed": borrowed,
             **({"emode": book.emode[account]} if account in book.emode else {})}
            for account, (supplied, borrowed) in book.accounts.items()
        ],
    }
    return engine_from_snapshot(snapshot, source=book.source)


def _price_text(price: int) -> str:
    whole, frac = divmod(price, 10**8)
    return f"{whole}.{frac:08d}"


def load_engine(book_path: str | Path, prices_path: str | Path,
                protocol_path: str | Path | None = None,
                preset: str | None = None) -> Engine:
    """Read a protocol (or preset), prices and a book, and build the engine."""
    config = read_protocol(protocol_path, preset)
    if config.rules.liquidation is LiquidationMechanism.MORPHO:
        # The book's rows are pooled-lending balances; Morpho positions live per market.
        raise ConfigError([f"preset: {config.preset} has isolated markets, which a book of "
                           "pooled balances cannot describe (build them with the engine's "
                           "Morpho events and scan its event log: marginengine scan --log "
                           "LOG)"],
                          source=str(protocol_path) if protocol_path else None)
    if config.rules.liquidation is LiquidationMechanism.LIQUITY:
        # Troves are not pooled-lending balances either.
        raise ConfigError([f"preset: {config.preset} has troves, which a book of pooled "
                           "balances cannot describe (build them with the engine's Liquity "
                           "events and scan its event log: marginengine scan --log LOG)"],
                          source=str(protocol_path) if protocol_path else None)
    if config.rules.liquidation in (LiquidationMechanism.EULER, LiquidationMechanism.MANGO,
                                    LiquidationMechanism.DRIFT):
        # Their accounts live in the family's book, built by the family's events.
        raise ConfigError([f"preset: {config.preset} keeps its accounts in a family book, "
                           "which a book of pooled balances cannot describe (build it with "
                           "the engine's events and scan its event log: marginengine scan "
                           "--log LOG)"],
                          source=str(protocol_path) if protocol_path else None)
    prices = read_prices(prices_path, config)
    book = read_book(book_path, config)
    return engine_from_book(config, prices, book, prices_source=str(prices_path))
