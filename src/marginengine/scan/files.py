"""Books, prices and protocols on disk, and the engine they build.

BOOK (CSV or Parquet), one row per account and asset::

    account,asset,supplied,borrowed
    alice,WETH,10,
    alice,USDC,,15000

(an optional column ``emode``: the account's Aave e-mode category).

The lending book every face reads, by the one reader
(:func:`marginengine.ledger.book_file.read_book`; docs/formats.md "Books"). PRICES is a
TOML file with a ``[prices]`` table (USD per whole token); a protocol is a TOML file with
the protocol's keys at the top level or under ``[protocol]`` (so a scenario or snapshot
file serves).

The engine is built by the snapshot builder's rules, from the book's integers
(:func:`marginengine.engine.snapshot.engine_from_accounts`, what
:func:`~marginengine.engine.snapshot.engine_from_snapshot` calls once it has parsed a
snapshot): balances at index 1, the protocol funding whatever the listed suppliers did
not. Problems are reported all at once, each naming the line (or row) and the column.
"""

from __future__ import annotations

import functools
from pathlib import Path

from marginengine.config import ProtocolConfig, protocol_from_dict, read_toml
from marginengine.config.amounts import parse_asset_amounts
from marginengine.config.families import LiquidationMechanism
from marginengine.engine import Engine
from marginengine.engine.snapshot import engine_from_accounts
from marginengine.errors import ConfigError
from marginengine.ledger import book_file
from marginengine.ledger.book_file import Book
from marginengine.margin.account_import import book_problems


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


def read_book(path: str | Path, config: ProtocolConfig) -> Book:
    """Read and validate a lending book (CSV ``.csv`` or Parquet ``.parquet``, ``.pq``).

    Raises
    ------
    ConfigError
        Every problem, each ``FILE:LINE: field: reason`` (Parquet ``FILE:row N: ...``).
    """
    return book_file.read_book(config, lending=path,
                               borrowing=functools.partial(book_problems, config))


def engine_from_book(config: ProtocolConfig, prices: dict[str, int], book: Book,
                     prices_source: str | None = None, source: str | None = None) -> Engine:
    """An engine holding the book's balances (and perp positions, where a book read with
    a perp book holds any) at ``prices``, built by the snapshot builder's rules
    (:func:`marginengine.engine.snapshot.engine_from_accounts`).

    The book's integers go straight in: the book reader has checked every row (ids,
    amounts, e-mode categories; :func:`read_book`) and ``prices`` are checked
    (:func:`read_prices`), so nothing is formatted back to text and parsed again.
    ``prices_source`` is named in an error about the prices; ``source``, the book's path,
    names nothing here now that its rows are checked when read (kept for callers).

    Raises
    ------
    ConfigError
        If an asset (or perp market) the book holds has no price.
    """
    held = book.assets() | {m for acct in book.accounts for m in acct.positions}
    missing = sorted(held - set(prices))
    if missing:
        raise ConfigError([f"prices.{a}: missing (the book holds {a})" for a in missing],
                          source=prices_source)
    # read_book checked every account by line: not checked again (engine_from_accounts).
    return engine_from_accounts(config, prices, book.accounts, source=prices_source,
                                checked=True)


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
    return engine_from_book(config, prices, book, prices_source=str(prices_path),
                            source=str(book_path))
