"""Real books for the simulator: several collateral and debt assets, perps, isolated buckets.

A :class:`Book` is a list of accounts in smallest units, each remembering where it came
from (``book.csv:3``), so a problem found later (the protocol refusing the position) is
reported by line. Books come from:

- files (:func:`read_book`): the scan's lending book ``account,asset,supplied,borrowed``
  (optionally ``emode``: the account's Aave e-mode category, on any of its rows) and a
  perp book ``account,market,size,entry_price,quote``, as CSV or Parquet. An account id
  ``owner/label`` is an isolated bucket (a sub-account with its own margin); ``quote`` is
  the bucket's perp quote balance, given on one of its rows;
- snapshots (:func:`book_from_snapshot`): the ``[[accounts]]`` of a snapshot TOML file;
- a seeded synthetic draw (:func:`synthetic_multi_book`): profiles of collateral and debt
  mixes (WETH / USDC, wstETH / WETH loops, USDC / WETH shorts), lognormal sizes with
  whales, and a lognormal spread of health above what initial margin allows.

A book is opened in an engine by :func:`open_book` through the engine's own events
(``SetUserEMode``, ``Deposit``, ``DepositQuote``, ``Borrow``, ``Trade``), so the protocol
decides what it would have refused: for a file, every refusal is reported by line and nothing runs.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from marginengine.config import ProtocolConfig
from marginengine.decisions import Code
from marginengine.engine import (
    Borrow,
    Deposit,
    DepositQuote,
    Event,
    Outcome,
    SetUserEMode,
    Trade,
)
from marginengine.engine.snapshot import emode_fields, emode_problems
from marginengine.errors import ConfigError, field_path
from marginengine.fixedpoint import PRICE_DECIMALS, PRICE_UNIT, format_units, parse_units
from marginengine.ledger import check_account_id
from marginengine.margin.emode import reserve_liquidation_threshold_bps, reserve_ltv_bps

#: Columns of a lending book (the scan's format) and of a perp book.
LENDING_COLUMNS = ("account", "asset", "supplied", "borrowed")
#: The lending book's optional column: the account's Aave e-mode category (0 or empty: none).
LENDING_OPTIONAL = ("emode",)
PERP_COLUMNS = ("account", "market", "size", "entry_price", "quote")
#: Problems listed before the rest are summarised as "... and N more".
MAX_PROBLEMS = 20
#: The account that takes the other side of loaded perp positions (sizes sum to zero).
COUNTERPARTY = "_book"


@dataclass
class BookAccount:
    """One account (or isolated bucket ``owner/label``) in smallest units.

    Attributes
    ----------
    supplied, borrowed
        Asset -> amount in the asset's smallest units.
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


# ---------------------------------------------------------------------- reading files
def _raise(problems: list[str]) -> None:
    if problems:
        shown = problems[:MAX_PROBLEMS]
        if len(problems) > MAX_PROBLEMS:
            shown.append(f"... and {len(problems) - MAX_PROBLEMS} more")
        raise ConfigError(shown)


def _rows(path: Path, columns: tuple[str, ...], required: tuple[str, ...],
          extra: tuple[str, ...] = ()) -> Iterator[tuple[str, dict[str, str]]]:
    """``(where, row)`` for every data row: ``where`` is ``file:line`` (CSV) or
    ``file:row N`` (Parquet); values are stripped text (``""`` for empty). ``extra``
    columns are allowed besides ``columns`` (optional, not named in messages)."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise ConfigError([f"{path}: unknown book format {suffix or '(no suffix)'!r} "
                           "(use .csv or .parquet)"])
    if not path.is_file():
        raise ConfigError([f"{path}: no such file"])
    if suffix == ".csv":
        yield from _csv(path, columns, required, extra)
        return
    pq = _parquet_module()
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for unreadable files
        raise ConfigError([f"{path}: not a readable Parquet file ({exc})"]) from None
    names = list(table.column_names)
    _check_header(names, columns, required, f"{path}:schema", extra)
    data = {c: table.column(c).to_pylist() for c in names}
    for i in range(table.num_rows):
        yield f"{path}:row {i + 1}", {c: _text(data[c][i]) for c in names}


def _text(value: object) -> str:
    return "" if value is None else str(value).strip()


def _csv(path: Path, columns: tuple[str, ...], required: tuple[str, ...],
         extra: tuple[str, ...] = ()) -> Iterator[tuple[str, dict[str, str]]]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:  # a BOM is allowed
            reader = csv.reader(f)
            header = next(reader, None)
            if header is None:
                raise ConfigError([f"{path}:1: empty file (expected the header "
                                   f"{','.join(columns)})"])
            names = [h.strip() for h in header]
            _check_header(names, columns, required, f"{path}:1", extra)
            for record in reader:
                where = f"{path}:{reader.line_num}"
                if not record or all(not c.strip() for c in record):
                    continue
                if len(record) != len(names):
                    yield where, {"": f"{len(record)} fields, expected {len(names)}"}
                    continue
                if [c.strip() for c in record] == names:
                    # Two files joined with ``cat``: say so, not "unknown asset 'asset'".
                    yield where, {"": "the header again (a repeated header row)"}
                    continue
                yield where, {n: c.strip() for n, c in zip(names, record, strict=True)}
    except UnicodeDecodeError:
        raise ConfigError([f"{path}: not UTF-8 text"]) from None
    except csv.Error as exc:
        raise ConfigError([f"{path}: malformed CSV ({exc})"]) from None


def _check_header(names: list[str], columns: tuple[str, ...], required: tuple[str, ...],
                  where: str, extra: tuple[str, ...] = ()) -> None:
    problems = []
    missing = [c for c in required if c not in names]
    unknown = [c for c in names if c not in columns and c not in extra]
    if missing:
        problems.append(f"{where}: missing column(s) {', '.join(missing)} (expected "
                        f"{','.join(columns)})")
    if unknown:
        problems.append(f"{where}: unknown column(s) {', '.join(unknown)} (expected "
                        f"{','.join(columns)})")
    if len(set(names)) != len(names):
        problems.append(f"{where}: a column appears twice")
    _raise(problems)


def _parquet_module() -> Any:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ConfigError(["reading or writing Parquet needs pyarrow: pip install "
                           "'marginengine[sim]'"]) from None
    return pq


def _amount(text: str, decimals: int, where: str, problems: list[str], *,
            signed: bool = False) -> int | None:
    """``text`` (whole tokens, exact decimals) in smallest units; ``None`` when empty or
    bad (a problem appended)."""
    if not text:
        return None
    try:
        value = parse_units(text, decimals)
    except ValueError as exc:
        problems.append(f"{where}: {exc}")
        return None
    if value < 0 and not signed:
        problems.append(f"{where}: must not be negative (got {text})")
        return None
    return value


def _account(accounts: dict[str, BookAccount], where: str, raw: str,
             problems: list[str]) -> BookAccount | None:
    try:
        account_id = check_account_id(raw, f"{where}: account")
    except ValueError as exc:
        problems.append(str(exc))
        return None
    if account_id == COUNTERPARTY:
        problems.append(f"{where}: account: {COUNTERPARTY!r} is the loader's own account "
                        "(it takes the other side of the perp positions)")
        return None
    if account_id not in accounts:
        accounts[account_id] = BookAccount(account_id, where=where)
    return accounts[account_id]


def _lending_rows(path: Path, protocol: ProtocolConfig, accounts: dict[str, BookAccount],
                  problems: list[str]) -> None:
    markets = protocol.markets
    names = ", ".join(sorted(markets))
    first: dict[tuple[str, str], str] = {}
    rows = 0
    for where, row in _rows(path, LENDING_COLUMNS, LENDING_COLUMNS, LENDING_OPTIONAL):
        rows += 1
        if "" in row:
            problems.append(f"{where}: {row['']}")
            continue
        acct = _account(accounts, where, row["account"], problems)
        asset = row["asset"]
        if asset not in markets:
            problems.append(f"{where}: asset: unknown asset {asset!r} (markets: {names})")
            continue
        if acct is None:
            continue
        _emode_of_row(acct, row.get("emode", ""), where, problems)
        key = (acct.id, asset)
        if key in first:
            problems.append(f"{where}: asset: a second row for account {acct.id!r} and "
                            f"{asset} (first at {first[key]})")
            continue
        first[key] = where
        acct.lines[asset] = where
        market = markets[asset]
        supplied = _amount(row["supplied"], market.decimals, f"{where}: supplied", problems)
        borrowed = _amount(row["borrowed"], market.decimals, f"{where}: borrowed", problems)
        if supplied:
            acct.supplied[asset] = supplied
        if borrowed:
            acct.borrowed[asset] = borrowed
    for acct in accounts.values():
        # Borrowable where the account is (its category, given on any of its rows).
        problems.extend(_emode_problems(protocol, acct))
    _check_rows(path, rows, problems)


def _emode_of_row(acct: BookAccount, text: str, where: str, problems: list[str]) -> None:
    """Record the ``emode`` cell of one of the account's rows (empty: nothing said)."""
    if not text:
        return
    if not text.isdigit() or int(text) > 255:
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


def _emode_problems(protocol: ProtocolConfig, acct: BookAccount) -> list[str]:
    """The account's category configured and its borrowed assets borrowable there
    (``engine.snapshot.emode_problems``), each named by the line that gave it."""
    return [f"{acct.at('emode')}: emode: {reason}" if what == "emode" else
            f"{acct.at(what)}: borrowed: {reason}"
            for what, reason in emode_problems(protocol, acct.emode, acct.borrowed)]


def _check_rows(path: Path, rows: int, problems: list[str]) -> None:
    """A book file with a header and no row is refused: a run of nobody's positions is
    almost surely an export that went wrong, not the book meant."""
    if rows == 0:
        problems.append(f"{path}: no rows after the header (the book is empty)")


def _perp_rows(path: Path, protocol: ProtocolConfig, accounts: dict[str, BookAccount],
               problems: list[str]) -> None:
    perps = protocol.perps
    names = ", ".join(sorted(perps)) or "none"
    first: dict[tuple[str, str], str] = {}
    quote_at: dict[str, str] = {}
    rows = 0
    for where, row in _rows(path, PERP_COLUMNS, ("account", "market", "size",
                                                 "entry_price")):
        rows += 1
        if "" in row:
            problems.append(f"{where}: {row['']}")
            continue
        acct = _account(accounts, where, row["account"], problems)
        market = row["market"]
        perp = perps.get(market)
        if perp is None:
            problems.append(f"{where}: market: unknown perp market {market!r} (perp "
                            f"markets: {names})")
            continue
        if acct is None:
            continue
        key = (acct.id, market)
        if key in first:
            problems.append(f"{where}: market: a second row for account {acct.id!r} and "
                            f"{market} (first at {first[key]})")
            continue
        first[key] = where
        acct.lines[market] = where
        size = _amount(row["size"], perp.base_decimals, f"{where}: size", problems,
                       signed=True)
        entry = _amount(row["entry_price"], PRICE_DECIMALS, f"{where}: entry_price",
                        problems)
        quote_text = row.get("quote", "")
        if quote_text:
            quote = _amount(quote_text, protocol.markets[perp.quote].decimals,
                            f"{where}: quote", problems)
            if acct.id in quote_at:
                problems.append(f"{where}: quote: given twice for {acct.id!r} (first at "
                                f"{quote_at[acct.id]}); a bucket has one quote balance")
            elif quote is not None:
                quote_at[acct.id] = where
                acct.quote = quote
        if size == 0 and row["size"]:
            problems.append(f"{where}: size: must not be zero")
        elif not row["size"]:
            problems.append(f"{where}: size: required")
        elif not row["entry_price"]:
            problems.append(f"{where}: entry_price: required")
        elif entry == 0:
            problems.append(f"{where}: entry_price: must be positive")
        elif size is not None and entry is not None:
            acct.positions[market] = (size, entry)
    _check_rows(path, rows, problems)


def read_book(protocol: ProtocolConfig, lending: str | Path | None = None,
              perps: str | Path | None = None) -> Book:
    """Read and validate a lending book and/or a perp book (CSV or Parquet).

    Raises
    ------
    ConfigError
        Every problem (up to :data:`MAX_PROBLEMS`), each ``file:line: field: reason``.
    """
    accounts: dict[str, BookAccount] = {}
    problems: list[str] = []
    if lending is not None:
        _lending_rows(Path(lending), protocol, accounts, problems)
    if perps is not None:
        _perp_rows(Path(perps), protocol, accounts, problems)
    _raise(problems)
    return Book(list(accounts.values()))


def book_from_snapshot(data: dict[str, Any], protocol: ProtocolConfig,
                       source: str = "snapshot") -> Book:
    """The ``[[accounts]]`` of a snapshot (see :mod:`marginengine.engine.snapshot`) as a
    book for ``protocol`` (the scenario's; the snapshot's own protocol and prices are not
    used), each account located as ``source: accounts[i]``."""
    from marginengine.config import validate_model
    from marginengine.config.amounts import parse_asset_amounts
    from marginengine.engine.snapshot import SnapshotFile

    snap = validate_model(SnapshotFile, {**data, "prices": data.get("prices", {})},
                          source=source)
    problems: list[str] = []
    book = Book()
    seen: set[str] = set()
    for i, raw in enumerate(snap.accounts):
        where = f"{source}: {field_path('accounts', i)}"
        try:
            check_account_id(raw.id, f"{where}.id")
        except ValueError as exc:
            problems.append(str(exc))
            continue
        if raw.id in seen:
            problems.append(f"{where}.id: duplicate account id {raw.id!r}")
        seen.add(raw.id)
        acct = BookAccount(raw.id, where=where)
        acct.supplied = parse_asset_amounts(raw.supplied, protocol, f"{where}.supplied",
                                            problems)
        acct.borrowed = parse_asset_amounts(raw.borrowed, protocol, f"{where}.borrowed",
                                            problems)
        acct.emode = raw.emode
        problems.extend(emode_fields(protocol, raw.emode, acct.borrowed, where))
        for market, pos in raw.positions.items():
            perp = protocol.perps.get(market)
            if perp is None:
                problems.append(f"{where}.positions.{market}: unknown perp market")
                continue
            size = _amount(str(pos.size), perp.base_decimals,
                           f"{where}.positions.{market}.size", problems, signed=True)
            entry = _amount(str(pos.entry), PRICE_DECIMALS,
                            f"{where}.positions.{market}.entry", problems)
            if size and entry:
                acct.positions[market] = (size, entry)
        if raw.quote is not None and protocol.perps:
            quote_asset = next(iter(protocol.perps.values())).quote
            acct.quote = _amount(str(raw.quote), protocol.markets[quote_asset].decimals,
                                 f"{where}.quote", problems) or 0
        book.accounts.append(acct)
    _raise(problems)
    return book


# ---------------------------------------------------------------------- writing files
def write_book(book: Book, protocol: ProtocolConfig, lending: str | Path,
               perps: str | Path | None = None) -> None:
    """Write ``book`` as a lending book (and a perp book when ``perps`` is given) in the
    formats :func:`read_book` reads (CSV or Parquet by suffix; amounts as exact decimals).
    """
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
    if path.suffix.lower() in (".parquet", ".pq"):
        import pyarrow as pa

        table = pa.table({c: [r[i] for r in rows] for i, c in enumerate(columns)})
        _parquet_module().write_table(table, path)
        return
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        writer.writerows(rows)


# ---------------------------------------------------------------------- opening a book
def open_book(apply: Callable[[Event], Outcome], book: Book, protocol: ProtocolConfig,
              counterparty_quote: int = 0) -> list[str]:
    """Open every account of ``book`` through the engine's events: the e-mode category
    (``SetUserEMode``, before any position, as a user entering e-mode first), deposits,
    then perp quote and positions (against :data:`COUNTERPARTY`, funded with
    ``counterparty_quote``), then borrows. Lenders' liquidity must be in place already.

    Returns
    -------
    list of str
        One ``where: account ID: reason`` per refused event (the protocol's own reason):
        a position the protocol would not have allowed at the engine's prices.
    """
    refused: list[str] = []

    def do(acct: BookAccount, key: str, event: Event) -> None:
        outcome = apply(event)
        if not outcome.accepted:
            reason = outcome.reason
            if (isinstance(event, Borrow) and outcome.code == Code.UNKNOWN_ACCOUNT
                    and not acct.supplied and not acct.quote):
                # The engine knows no account that never deposited; say why it has none.
                amount = format_units(event.amount, protocol.markets[key].decimals)
                reason = f"borrows {amount} {key} with no collateral ({reason})"
            refused.append(f"{acct.at(key)}: account {acct.id}: {reason}")

    for acct in book.accounts:
        if acct.emode:
            do(acct, "emode", SetUserEMode(acct.id, acct.emode))
    for acct in book.accounts:
        for asset, amount in acct.supplied.items():
            do(acct, asset, Deposit(acct.id, asset, amount))
    if any(a.positions for a in book.accounts) and counterparty_quote > 0:
        apply(DepositQuote(COUNTERPARTY, counterparty_quote))
    for acct in book.accounts:
        if acct.quote:
            do(acct, "", DepositQuote(acct.id, acct.quote))
        for market, (size, entry) in acct.positions.items():
            buyer, seller = (acct.id, COUNTERPARTY) if size > 0 else (COUNTERPARTY, acct.id)
            do(acct, market, Trade(buyer, seller, market, abs(size), entry))
    for acct in book.accounts:
        for asset, amount in acct.borrowed.items():
            do(acct, asset, Borrow(acct.id, asset, amount))
    return refused


# ---------------------------------------------------------------------- synthetic books
class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_Weight = Annotated[Decimal, Field(gt=0, allow_inf_nan=False)]


class ProfileSpec(_Spec):
    """A kind of borrower: its collateral and debt mixes (weights of USD value) and its
    share of the book's debt."""

    name: str
    share: Annotated[Decimal, Field(gt=0, le=1, allow_inf_nan=False)]
    collateral: dict[str, _Weight]
    debt: dict[str, _Weight]
    #: The borrowers' Aave e-mode category (``[protocol.emode.categories.N]``; 0: none).
    emode: Annotated[int, Field(ge=0, le=255)] = 0

    @model_validator(mode="after")
    def _mixes(self) -> ProfileSpec:
        if not self.collateral:
            raise ValueError("collateral: at least one collateral asset")
        if not self.debt:
            raise ValueError("debt: at least one debt asset")
        return self


def check_profiles(profiles: list[ProfileSpec], protocol: ProtocolConfig,
                   where: str = "book.profiles") -> list[str]:
    """Assets of the profiles that the protocol does not have, cannot take as collateral or
    does not lend; shares that do not sum to 1."""
    problems = []
    markets = protocol.markets
    names = ", ".join(sorted(markets))
    for i, p in enumerate(profiles):
        at = field_path(where, i)
        category_problems = [f"{at}.emode: {reason}"
                             for _, reason in emode_problems(protocol, p.emode, ())]
        problems.extend(category_problems)
        category = protocol.emode_category(p.emode)
        for asset in p.collateral:
            if asset not in markets:
                problems.append(f"{at}.collateral.{asset}: unknown asset (markets: {names})")
            elif not markets[asset].collateral or (
                    not category_problems and reserve_ltv_bps(
                        protocol.rules.emode, markets[asset], asset, category) == 0):
                where_ltv = f"in e-mode category {p.emode}" if p.emode else "in this protocol"
                problems.append(f"{at}.collateral.{asset}: not collateral {where_ltv} "
                                "(ltv 0)")
        for asset in p.debt:
            if asset not in markets:
                problems.append(f"{at}.debt.{asset}: unknown asset (markets: {names})")
            elif not category_problems:
                problems.extend(f"{at}.debt.{asset}: not borrowable"
                                + (f" in e-mode category {p.emode}" if p.emode else "")
                                for _ in emode_problems(protocol, p.emode, (asset,)))
    total = sum(p.share for p in profiles)
    if profiles and total != 1:
        problems.append(f"{where}: shares must sum to 1 (got {total})")
    return problems


def initial_health_floor(profile: ProfileSpec, protocol: ProtocolConfig) -> float:
    """The lowest health factor initial margin allows for the profile's collateral mix:
    debt may reach sum(value * ltv), so health (sum(value * threshold) / debt) is at least
    the value-weighted threshold over the value-weighted ltv."""
    weights = {a: float(w) for a, w in profile.collateral.items()}
    lt = sum(w * _params(protocol, profile, a)[1] for a, w in weights.items())
    ltv = sum(w * _params(protocol, profile, a)[0] for a, w in weights.items())
    return lt / ltv


def _params(protocol: ProtocolConfig, profile: ProfileSpec, asset: str) -> tuple[int, int]:
    """``(ltv, liquidation threshold)`` bps of ``asset`` for the profile's borrowers (in
    its e-mode category: ``margin/emode.py``)."""
    market = protocol.markets[asset]
    category = protocol.emode_category(profile.emode)
    return (reserve_ltv_bps(protocol.rules.emode, market, asset, category),
            reserve_liquidation_threshold_bps(market, asset, category))


def synthetic_multi_book(rng: np.random.Generator, protocol: ProtocolConfig,
                         prices: dict[str, int], profiles: list[ProfileSpec], accounts: int,
                         total_debt: float, whales: int, whale_share: float,
                         health_median: float, health_sigma: float,
                         min_health: float | None = None,
                         headroom: float = 1.002,
                         basis: str = "health") -> Book:
    """Draw a book of several collateral and debt assets.

    Debts (USD) are lognormal with ``whales`` accounts holding ``whale_share`` of
    ``total_debt``; each account gets a profile with probability its ``share``; its health
    factor (collateral value times liquidation thresholds over debt) is lognormal around
    ``health_median`` with log-sigma ``health_sigma``, floored at the larger of
    ``min_health`` and ``headroom`` times what initial margin allows for the profile
    (:func:`initial_health_floor`), so the protocol would have accepted every borrow.
    With ``basis="collateralization"`` the same draw is collateral value over debt instead
    (``health_median`` and ``health_sigma`` then hold the collateralization's median and
    log-sigma, ``min_health`` its floor), with no floor from initial margin: the book does
    not depend on the protocol's thresholds, so candidates of an optimization see the same
    borrowers, and a borrow the protocol refuses is refused when the book opens.
    Amounts are converted at ``prices`` (8 decimals), rounded down.

    Draws, in order: ``lognormal(0, 1.2, small)`` (sizes), ``choice(profiles, accounts)``,
    ``lognormal(log(health_median), health_sigma, accounts)``.
    """
    if accounts < 1 or total_debt <= 0:
        raise ValueError("accounts must be >= 1 and total_debt > 0")
    whales = min(whales, accounts - 1) if accounts > 1 else 0
    small = accounts - whales
    sizes = rng.lognormal(0.0, 1.2, size=small)
    sizes *= total_debt * (1 - whale_share if whales else 1) / sizes.sum()
    # No whales: every account ordinary (dividing the whales' share by 0 raised).
    debts = [*([total_debt * whale_share / whales] * whales if whales else []),
             *sizes.tolist()]
    shares = np.array([float(p.share) for p in profiles])
    kinds = rng.choice(len(profiles), size=accounts, p=shares / shares.sum())
    health = rng.lognormal(math.log(health_median), health_sigma, size=accounts)
    by_value = basis == "collateralization"
    floors = [(min_health or 0.0) if by_value else
              max(min_health or 0.0, headroom * initial_health_floor(p, protocol))
              for p in profiles]
    markets = protocol.markets
    book = Book()
    for i, debt_usd in enumerate(debts):
        p = profiles[int(kinds[i])]
        h = max(float(health[i]), floors[int(kinds[i])])
        cw = {a: float(w) for a, w in p.collateral.items()}
        lt = sum(w * _params(protocol, p, a)[1] / 10_000 for a, w in cw.items()) \
            / sum(cw.values())
        collateral_usd = debt_usd * h if by_value else debt_usd * h / lt
        prefix = "whale" if i < whales else "acct"
        acct = BookAccount(f"{prefix}{i:05d}", where=f"book profile {p.name}", emode=p.emode)
        total_c = sum(cw.values())
        for asset, w in cw.items():
            acct.supplied[asset] = _units(collateral_usd * w / total_c, prices[asset],
                                          markets[asset].unit)
        dw = {a: float(w) for a, w in p.debt.items()}
        total_d = sum(dw.values())
        for asset, w in dw.items():
            acct.borrowed[asset] = _units(debt_usd * w / total_d, prices[asset],
                                          markets[asset].unit)
        acct.supplied = {a: v for a, v in acct.supplied.items() if v > 0}
        acct.borrowed = {a: v for a, v in acct.borrowed.items() if v > 0}
        book.accounts.append(acct)
    return book


def _units(usd: float, price: int, unit: int) -> int:
    """USD worth of a token at an 8-decimal price, in smallest units, rounded down (exact
    from the float's binary value)."""
    num, den = usd.as_integer_ratio()
    return int(num * PRICE_UNIT * unit // (den * price))
