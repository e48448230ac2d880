"""Book files: accounts' lending balances and perp positions on disk, CSV or Parquet.

One reader and one writer of the shape every face reads (``marginengine scan`` and the
service through :mod:`marginengine.scan.files`, a cascade's ``book.file`` and
``[perps.book] file`` through :mod:`marginengine.sim.books`), so a file one accepts the
others accept, and a mistake is named the same way everywhere. Two formats:

- a **lending book**, ``account,asset,supplied,borrowed``: one row per account and asset
  (an optional column ``emode``: the account's Aave e-mode category, on any of its rows;
  rows that give it must agree);
- a **perp book**, ``account,market,size,entry_price,quote``: one row per account and perp
  market (``quote``, the account's perp quote balance, optional, on one of its rows).

An account id ``owner/label`` is an isolated bucket (a sub-account with its own margin;
:func:`marginengine.ledger.check_account_id`); the ids the tool uses itself
(:data:`RESERVED_ACCOUNTS`: ``_book``, ``_liquidity``) are refused. Amounts are whole
tokens as exact decimals, converted to smallest units
(:func:`marginengine.config.amounts.parse_amount`); an empty cell (a Parquet null) is none.

Problems are collected over every file read and raised together as one
:class:`~marginengine.errors.ConfigError`, each ``FILE:LINE: field: reason`` (Parquet:
``FILE:row N: field: reason``; the header ``FILE:1`` or ``FILE:schema``), and nothing is
returned when there is any: no partial book. The layer is the ledger's (DESIGN.md): a book
is accounts, sub-accounts, lending balances and perp positions, and the format needs only
the configuration (markets, decimals) and the ledger's account-id rule, so every face above
may import it.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from marginengine.config import ProtocolConfig
from marginengine.config.amounts import parse_amount, positive_problem
from marginengine.errors import ConfigError
from marginengine.fixedpoint import PRICE_DECIMALS, PRICE_UNIT, format_units
from marginengine.ledger.account import check_account_id

#: Columns of a lending book and of a perp book, in the order written.
LENDING_COLUMNS = ("account", "asset", "supplied", "borrowed")
#: The lending book's optional column: the account's Aave e-mode category (0 or empty: none).
LENDING_OPTIONAL = ("emode",)
PERP_COLUMNS = ("account", "market", "size", "entry_price", "quote")
#: Problems listed before the rest are summarised as "... and N more".
MAX_PROBLEMS = 20
#: The account that takes the other side of loaded perp positions (so sizes sum to zero,
#: as on any exchange): the simulator's loader and the snapshot builder both use it, so a
#: book may not name it.
COUNTERPARTY = "_book"
#: The account by which the service deposits what a book's borrowers owe beyond what its
#: suppliers supplied (the log's first batch; marginengine.service.startup), so neither a
#: book nor a service request may name it.
LIQUIDITY_ACCOUNT = "_liquidity"
#: Account ids the tool itself uses, each with what it is for: a book row naming one is
#: refused (``FILE:LINE: account: '_book' is reserved (...)``), and so is a service request.
RESERVED_ACCOUNTS = {
    COUNTERPARTY: "it takes the other side of loaded perp positions",
    LIQUIDITY_ACCOUNT: "the service's account that supplies what a book's borrowers owe "
                       "beyond its suppliers' supply",
}
#: Suffixes read as Parquet; ``.csv`` is read as CSV; anything else is refused.
PARQUET_SUFFIXES = (".parquet", ".pq")

#: A cell as read: CSV gives text; Parquet gives text, ints, decimals, floats or null.
Cell = str | int | float | Decimal | None
#: What is wrong with an account in an e-mode category (0: none) supplying and borrowing
#: these assets (``check(category, supplied, borrowed)``), as ``(what, reason)`` with
#: ``what`` ``"emode"`` or a borrowed asset: the protocol's rule
#: (:func:`marginengine.margin.account_import.book_problems`: the e-mode category and
#: borrowability, Comet's signed base balance), passed in by the faces because the rule
#: lives above this layer.
BorrowCheck = Callable[[int, Iterable[str], Iterable[str]], list[tuple[str, str]]]


@dataclass
class BookAccount:
    """One account (or isolated bucket ``owner/label``) in smallest units.

    Attributes
    ----------
    supplied, borrowed
        Asset -> amount in the asset's smallest units (zero amounts left out).
    quote
        Perp quote balance, smallest units of the perp quote asset.
    positions
        Perp market -> ``(size, entry_price)``: signed base smallest units, 8-decimal price.
    where
        Where it was read (``book.csv:3``, the account's first line), or its profile.
    lines
        Asset or perp market -> the line of its row, where the account has one
        (``"emode"``: the row that gave its category).
    emode
        The account's Aave e-mode category (0: none).
    """

    id: str
    supplied: dict[str, int] = field(default_factory=dict)
    borrowed: dict[str, int] = field(default_factory=dict)
    quote: int = 0
    positions: dict[str, tuple[int, int]] = field(default_factory=dict)
    where: str = ""
    lines: dict[str, str] = field(default_factory=dict)
    emode: int = 0

    def at(self, key: str) -> str:
        """The line of the account's row for ``key`` (an asset or market), else its first."""
        return self.lines.get(key, self.where)


@dataclass
class Book:
    """Accounts in the order read (or drawn)."""

    accounts: list[BookAccount] = field(default_factory=list)

    def assets(self) -> set[str]:
        """Every lending asset held or owed."""
        return {a for acct in self.accounts for a in (*acct.supplied, *acct.borrowed)}

    def borrowed_total(self) -> dict[str, int]:
        """Total owed per asset (smallest units)."""
        out: dict[str, int] = {}
        for acct in self.accounts:
            for asset, amount in acct.borrowed.items():
                out[asset] = out.get(asset, 0) + amount
        return out

    def debt_value(self, prices: dict[str, int], protocol: ProtocolConfig) -> float:
        """Total debt in USD at ``prices`` (8 decimals), a float for screens."""
        return float(sum(amount / protocol.markets[a].unit * prices[a] / PRICE_UNIT
                   for a, amount in self.borrowed_total().items()))


# ---------------------------------------------------------------------- the two formats
@dataclass(frozen=True)
class _Format:
    """A book format: its columns, those a file must have, and the column that, with the
    account, names a row (one row per account and asset, or per account and market)."""

    columns: tuple[str, ...]
    required: tuple[str, ...]
    key: str
    #: Columns holding identifiers (text); the others hold amounts.
    text: tuple[str, ...]


LENDING = _Format((*LENDING_COLUMNS, *LENDING_OPTIONAL), LENDING_COLUMNS, "asset",
                  ("account", "asset", "emode"))
PERPS = _Format(PERP_COLUMNS, PERP_COLUMNS[:4], "market", ("account", "market"))


def raise_problems(problems: list[str]) -> None:
    """Raise every problem (up to :data:`MAX_PROBLEMS`, then a count) as one error."""
    if problems:
        shown = problems[:MAX_PROBLEMS]
        if len(problems) > MAX_PROBLEMS:
            shown.append(f"... and {len(problems) - MAX_PROBLEMS} more")
        raise ConfigError(shown)


def load_pyarrow() -> tuple[Any, Any]:
    """``pyarrow`` and ``pyarrow.parquet``, or a :class:`ConfigError` naming the extra."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ConfigError([
            "reading or writing Parquet needs pyarrow: pip install 'marginengine[parquet]'"
        ]) from None
    return pa, pq


# ---------------------------------------------------------------------- reading tables
#: A record: ``(where, cells)``, or ``(where, reason)`` for a line that is not a row.
_Record = tuple[str, dict[str, Cell] | str]


def _records(path: Path, fmt: _Format, problems: list[str]) -> list[_Record] | None:
    """The file's records, or ``None`` (problems appended) when it cannot be read at all:
    missing, not a book format, not text or Parquet, a bad header."""
    suffix = path.suffix.lower()
    if suffix != ".csv" and suffix not in PARQUET_SUFFIXES:
        problems.append(f"{path}: unknown book format {suffix or '(no suffix)'!r} (use .csv "
                        "or .parquet)")
        return None
    if path.is_dir():
        problems.append(f"{path}: is a directory, not a book file")
        return None
    if not path.exists():
        problems.append(f"{path}: file not found")
        return None
    if suffix != ".csv":
        return _parquet_records(path, fmt, problems)
    try:
        data = path.read_bytes()
    except OSError as exc:
        problems.append(f"{path}: cannot be read ({exc.strerror or exc})")
        return None
    return _csv_records(path, data, fmt, problems)


def _csv_records(path: Path, data: bytes, fmt: _Format,
                 problems: list[str]) -> list[_Record] | None:
    if data.startswith(codecs.BOM_UTF8):  # as spreadsheets write it
        data = data[len(codecs.BOM_UTF8):]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        problems.append(f"{path}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x})")
        return None
    # newline="": the csv module sees \r\n and \r as written and counts physical lines.
    # skipinitialspace: `alice, "USDC"` is the quoted USDC, not the text '"USDC"' (cells
    # are stripped anyway, so no other cell changes).
    reader = csv.reader(io.StringIO(text, newline=""), skipinitialspace=True)
    records: list[_Record] = []
    try:
        header = next(reader, None)
        if header is None:
            problems.append(f"{path}:1: empty file (expected the header "
                            f"{','.join(fmt.required)})")
            return None
        names = [h.strip() for h in header]
        if not _header_ok(names, fmt, f"{path}:1", problems):
            return None
        end = reader.line_num
        for record in reader:
            # A quoted cell may hold a newline: a record is named by the line it starts on.
            start, end = end + 1, reader.line_num
            where = f"{path}:{start}"
            cells = [c.strip() for c in record]
            if not any(cells):
                continue  # a blank line, or one of empty cells only
            if len(cells) != len(names):
                hint = (f" (the row runs on to line {end}: a quote left open?)"
                        if end > start else
                        " (a trailing comma?)" if len(cells) > len(names) and not any(
                            cells[len(names):]) else "")
                records.append((where, f"{len(cells)} fields, expected {len(names)}{hint}"))
            elif cells == names:
                # Two files joined with ``cat``: say so, not "unknown asset 'asset'".
                records.append((where, "the header again (a repeated header row)"))
            else:
                records.append((where, dict(zip(names, cells, strict=True))))
    except csv.Error as exc:
        problems.append(f"{path}:{reader.line_num}: malformed CSV ({exc})")
        return None
    return records


def _header_ok(names: Sequence[str], fmt: _Format, where: str, problems: list[str]) -> bool:
    """Check a header (CSV) or schema (Parquet): every required column, no other, none
    twice, none unnamed. Columns may come in any order."""
    before = len(problems)
    optional = [c for c in fmt.columns if c not in fmt.required]
    expected = ",".join(fmt.required) + (f"; optional {','.join(optional)}" if optional
                                         else "")
    missing = [c for c in fmt.required if c not in names]
    unknown = [c for c in names if c and c not in fmt.columns]
    twice = sorted({c for c in names if c and names.count(c) > 1})
    unnamed = [i + 1 for i, c in enumerate(names) if not c]
    if missing:
        problems.append(f"{where}: missing column(s) {', '.join(missing)} (expected "
                        f"{expected})")
    if unknown:
        problems.append(f"{where}: unknown column(s) {', '.join(unknown)} (expected "
                        f"{expected})")
    if twice:
        problems.append(f"{where}: column(s) {', '.join(twice)} given twice")
    if unnamed:
        which = (f"column {unnamed[0]} has" if len(unnamed) == 1 else
                 f"columns {', '.join(map(str, unnamed))} have")
        hint = (" (a trailing comma?)" if unnamed[-1] == len(names) else
                " (an index written by pandas?)" if unnamed == [1] else "")
        problems.append(f"{where}: {which} no name{hint}")
    return len(problems) == before


def _parquet_records(path: Path, fmt: _Format, problems: list[str]) -> list[_Record] | None:
    pa, pq = load_pyarrow()
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for unreadable files
        problems.append(f"{path}: not a readable Parquet file ({exc})")
        return None
    where = f"{path}:schema"
    # pandas writes an unnamed index that is not a range (a sorted or filtered frame's) as
    # a column "__index_level_0__"; it is not the book's. A named index ("account", from
    # set_index) is a column of the book like any other.
    index = {c for c in (table.schema.pandas_metadata or {}).get("index_columns", [])
             if isinstance(c, str) and c.startswith("__index_level_")}
    names = [c for c in table.column_names if c not in index]
    if not _header_ok(names, fmt, where, problems):
        return None
    bad = [f"{where}: {name}: {reason}" for name in names
           if (reason := _column_type_problem(pa, table.schema.field(name).type,
                                              name in fmt.text))]
    if bad:
        problems.extend(bad)
        return None
    columns = {c: table.column(c).to_pylist() for c in names}
    return [(f"{path}:row {i + 1}", {c: columns[c][i] for c in names})
            for i in range(table.num_rows)]


def _column_type_problem(pa: Any, kind: Any, text: bool) -> str:
    """Why a Parquet column's type cannot hold its values ("" when it can): identifiers
    are strings (or integers); amounts are strings (exact), integers, decimals or floats
    (read as the shortest decimal giving the float back, as TOML numbers are)."""
    types = pa.types
    if types.is_dictionary(kind):  # pandas' categoricals
        kind = kind.value_type
    if (types.is_string(kind) or types.is_large_string(kind) or types.is_null(kind)
            or types.is_integer(kind) or (hasattr(types, "is_string_view")
                                          and types.is_string_view(kind))):
        return ""
    if not text and (types.is_decimal(kind) or types.is_floating(kind)):
        return ""
    if text:
        return f"type {kind} cannot hold an identifier (use strings)"
    return f"type {kind} cannot hold an amount (use strings (exact), integers or decimals)"


# ---------------------------------------------------------------------- reading rows
@dataclass(slots=True)
class _Row:
    """A data row whose account and key (asset or market) are known and first seen."""

    where: str
    account: str
    key: str
    cells: Mapping[str, Cell]


def _text(cell: Cell) -> str:
    return "" if cell is None else str(cell).strip()


def _rows(path: Path, fmt: _Format, keys: Iterable[str], kind: str, listing: str,
          problems: list[str]) -> Iterator[_Row]:
    """The rows of ``path`` with a good account and a known key (a ``kind``, one of the
    ``listing``), one per account and key; every other problem of the file appended, in
    the file's order (a generator, so the caller's problems with a row come in turn)."""
    known = set(keys)
    records = _records(path, fmt, problems)
    if records is None:
        return
    if not records:
        # A run (or a scan) of nobody's positions is almost surely an export that went
        # wrong, not the book meant; with no book at all, give none.
        problems.append(f"{path}: no rows after the header (the book is empty)")
        return
    first: dict[tuple[str, str], str] = {}
    for where, cells in records:
        if isinstance(cells, str):
            problems.append(f"{where}: {cells}")
            continue
        account = _account(_text(cells["account"]), where, problems)
        key = _text(cells[fmt.key])
        if not key:
            problems.append(f"{where}: {fmt.key}: required")
            continue
        if key not in known:
            problems.append(f"{where}: {fmt.key}: unknown {kind} {key!r} ({listing}: "
                            f"{', '.join(sorted(known)) or 'none'})")
            continue
        if account is None:
            continue
        if (account, key) in first:
            problems.append(f"{where}: {fmt.key}: a second row for account {account!r} and "
                            f"{key} (first at {first[account, key]})")
            continue
        first[account, key] = where
        yield _Row(where, account, key, cells)


def _account(raw: str, where: str, problems: list[str]) -> str | None:
    if not raw:
        problems.append(f"{where}: account: required")
        return None
    try:
        account = check_account_id(raw, f"{where}: account")
    except ValueError as exc:
        problems.append(str(exc))
        return None
    if account in RESERVED_ACCOUNTS:
        problems.append(f"{where}: account: {account!r} is reserved "
                        f"({RESERVED_ACCOUNTS[account]})")
        return None
    return account


def _amount(row: _Row, column: str, decimals: int, problems: list[str], *,
            signed: bool = False) -> int | None:
    """A cell in smallest units: 0 when empty, ``None`` when bad (a problem appended)."""
    cell = row.cells.get(column)
    if isinstance(cell, str):
        cell = cell.strip()
    elif isinstance(cell, Decimal):
        cell = format(cell, "f")  # a Parquet decimal as written (1E-7 is 0.0000001)
    if cell is None or cell == "":
        return 0
    return parse_amount(cell, decimals, f"{row.where}: {column}", problems, signed=signed)


def _account_of(accounts: dict[str, BookAccount], row: _Row) -> BookAccount:
    acct = accounts.get(row.account)
    if acct is None:
        acct = accounts[row.account] = BookAccount(row.account, where=row.where)
    acct.lines[row.key] = row.where
    return acct


def _lending(path: Path, protocol: ProtocolConfig, accounts: dict[str, BookAccount],
             problems: list[str], borrowing: BorrowCheck) -> None:
    markets = protocol.markets
    for row in _rows(path, LENDING, markets, "asset", "markets", problems):
        market = markets[row.key]
        supplied = _amount(row, "supplied", market.decimals, problems)
        borrowed = _amount(row, "borrowed", market.decimals, problems)
        if supplied == 0 and borrowed == 0:
            # The row's balance is its supplied or borrowed cell: 0 and 0 (or empty) is a
            # balance of 0, which a snapshot refuses as well (positive_problem); the book
            # would be scanned as accounts holding nothing.
            column = ("borrowed" if not _text(row.cells.get("supplied"))
                      and _text(row.cells.get("borrowed")) else "supplied")
            reason = positive_problem(0, _text(row.cells.get(column)) or 0)
            problems.append(f"{row.where}: {column}: {reason}: a row holds a supplied or a "
                            "borrowed balance (both are 0 or empty; leave the row out)")
            continue
        acct = _account_of(accounts, row)
        _emode_cell(acct, _text(row.cells.get("emode")), row.where, problems)
        if supplied:
            acct.supplied[row.key] = supplied
        if borrowed:
            acct.borrowed[row.key] = borrowed
    for acct in accounts.values():  # the lending book is read first: all its accounts
        # Borrowable where the account is: its category may be given on a later row; a
        # problem of a borrowed asset is named at that asset's row.
        problems.extend(f"{acct.at('emode')}: emode: {reason}" if what == "emode" else
                        f"{acct.at(what)}: borrowed: {reason}"
                        for what, reason in borrowing(acct.emode, acct.supplied,
                                                      acct.borrowed))


def _emode_cell(acct: BookAccount, text: str, where: str, problems: list[str]) -> None:
    """Record the ``emode`` cell of one of the account's rows (empty: nothing said)."""
    if not text:
        return
    if not text.isdigit() or int(text) > 255:  # Aave's category id is a uint8
        problems.append(f"{where}: emode: must be an e-mode category id within 0 and 255 "
                        f"(got {text!r})")
        return
    category = int(text)
    if "emode" in acct.lines and acct.emode != category:
        problems.append(f"{where}: emode: {category} differs from {acct.emode} given for "
                        f"account {acct.id!r} at {acct.lines['emode']}")
        return
    acct.emode = category
    acct.lines["emode"] = where


def _perps(path: Path, protocol: ProtocolConfig, accounts: dict[str, BookAccount],
           problems: list[str]) -> None:
    quote_at: dict[str, str] = {}
    for row in _rows(path, PERPS, protocol.perps, "perp market", "perp markets",
                     problems):
        perp = protocol.perps[row.key]
        size = _amount(row, "size", perp.base_decimals, problems, signed=True)
        entry = _amount(row, "entry_price", PRICE_DECIMALS, problems)
        acct = _account_of(accounts, row)
        if _text(row.cells.get("quote")):
            quote = _amount(row, "quote", protocol.markets[perp.quote].decimals, problems)
            if row.account in quote_at:
                problems.append(f"{row.where}: quote: given twice for {row.account!r} (first "
                                f"at {quote_at[row.account]}); a bucket has one quote balance")
            elif quote is not None:
                quote_at[row.account] = row.where
                acct.quote = quote
        if size == 0:
            problems.append(f"{row.where}: size: " + ("must not be zero" if _text(
                row.cells["size"]) else "required"))
        elif entry == 0:
            problems.append(f"{row.where}: entry_price: " + ("must be positive" if _text(
                row.cells["entry_price"]) else "required"))
        elif size is not None and entry is not None:
            acct.positions[row.key] = (size, entry)


def read_book(protocol: ProtocolConfig, lending: str | Path | None = None,
              perps: str | Path | None = None, *,
              borrowing: BorrowCheck | None = None) -> Book:
    """Read and validate a lending book and/or a perp book (CSV or Parquet by suffix).

    Parameters
    ----------
    protocol
        The markets (assets, decimals, borrowable) and perp markets rows must name.
    lending, perps
        A lending book (``account,asset,supplied,borrowed``) and a perp book
        (``account,market,size,entry_price,quote``); an account in both is one account.
    borrowing
        The protocol's check of each account's category and balances
        (``borrowing(category, supplied, borrowed)``: e-mode and borrowability, Comet's
        signed base balance), required with a lending book: the rule lives above this
        layer, so the faces pass
        ``functools.partial(marginengine.margin.account_import.book_problems, protocol)``
        (:func:`marginengine.sim.books.read_book` and
        :func:`marginengine.scan.files.read_book` do).

    Returns
    -------
    Book
        The accounts in the order first read (the lending book's first), zero amounts left
        out, each with the line of each of its rows.

    Raises
    ------
    ConfigError
        Every problem of both files (up to :data:`MAX_PROBLEMS`), each
        ``FILE:LINE: field: reason``; nothing is returned when there is any.
    """
    accounts: dict[str, BookAccount] = {}
    problems: list[str] = []
    if lending is not None:
        if borrowing is None:  # a caller's mistake, not the file's
            raise TypeError("read_book: a lending book needs borrowing= (the protocol's "
                            "check: margin.account_import.book_problems)")
        _lending(Path(lending), protocol, accounts, problems, borrowing)
    if perps is not None:
        _perps(Path(perps), protocol, accounts, problems)
    raise_problems(problems)
    return Book(list(accounts.values()))


# ---------------------------------------------------------------------- writing files
def write_book(book: Book, protocol: ProtocolConfig, lending: str | Path,
               perps: str | Path | None = None) -> None:
    """Write ``book`` as a lending book (and a perp book when ``perps`` is given) in the
    formats :func:`read_book` reads (CSV or Parquet by suffix; amounts as exact decimal
    strings, so reading what was written gives the same amounts)."""
    rows: list[tuple[str, ...]] = [
        (a.id, asset, _fmt(a.supplied.get(asset, 0), protocol.markets[asset].decimals),
         _fmt(a.borrowed.get(asset, 0), protocol.markets[asset].decimals))
        for a in book.accounts for asset in sorted({*a.supplied, *a.borrowed})]
    columns: tuple[str, ...] = LENDING_COLUMNS
    if any(a.emode for a in book.accounts):
        # The e-mode column only when used, so books without e-mode are written as before.
        emode = {a.id: str(a.emode) if a.emode else "" for a in book.accounts}
        rows = [(*r, emode[r[0]]) for r in rows]
        columns = (*LENDING_COLUMNS, *LENDING_OPTIONAL)
    _write(Path(lending), columns, rows)
    if perps is None:
        return
    prow: list[tuple[str, ...]] = []
    for a in book.accounts:
        for j, (market, (size, entry)) in enumerate(sorted(a.positions.items())):
            perp = protocol.perps[market]
            quote = _fmt(a.quote, protocol.markets[perp.quote].decimals) if j == 0 else ""
            sign = "-" if size < 0 else ""
            prow.append((a.id, market, sign + format_units(abs(size), perp.base_decimals),
                         format_units(entry, PRICE_DECIMALS), quote))
    _write(Path(perps), PERP_COLUMNS, prow)


def _fmt(amount: int, decimals: int) -> str:
    return format_units(amount, decimals) if amount else ""


def _write(path: Path, columns: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    if path.suffix.lower() in PARQUET_SUFFIXES:
        pa, pq = load_pyarrow()
        # Typed as strings even when empty: a column of no values would be typed null.
        table = pa.table({c: pa.array([r[i] for r in rows], pa.string())
                          for i, c in enumerate(columns)})
        pq.write_table(table, path)
        return
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        writer.writerows(rows)


__all__ = [
    "COUNTERPARTY",
    "LENDING_COLUMNS",
    "LENDING_OPTIONAL",
    "LIQUIDITY_ACCOUNT",
    "MAX_PROBLEMS",
    "PARQUET_SUFFIXES",
    "PERP_COLUMNS",
    "RESERVED_ACCOUNTS",
    "Book",
    "BookAccount",
    "BorrowCheck",
    "Cell",
    "load_pyarrow",
    "raise_problems",
    "read_book",
    "write_book",
]
