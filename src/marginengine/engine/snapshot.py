"""Snapshots: a protocol, prices and account balances, evaluated without any history.

Format (TOML)::

    [protocol]                 # as in a scenario: preset and per-market overrides
    preset = "aave-v3"
    [protocol.markets.WETH]
    [protocol.markets.USDC]

    [prices]                   # base currency (USD) per whole token
    WETH = 2000
    USDC = 1

    [[accounts]]
    id = "alice"
    supplied = { WETH = "10" }        # whole tokens, exact decimals
    borrowed = { USDC = "15000" }
    quote = 5000                      # perp quote balance (whole quote tokens)
    positions = { ETH-PERP = { size = -2, entry = 2100 } }

Perp positions are opened against an account ``_book`` holding the other side, so sizes
sum to zero.

Balances are taken at index 1 (no interest history). The pool is assumed to hold what
the listed suppliers left; where the listed borrowers owe more than the listed suppliers
supplied, the difference is booked as protocol-owned liquidity so the books balance.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from marginengine.config import protocol_from_dict, read_toml, validate_model
from marginengine.config.amounts import HumanNumber, parse_asset_amounts, parse_positive
from marginengine.config.base import StrictModel
from marginengine.engine.engine import Engine
from marginengine.engine.events import SetPrice
from marginengine.errors import ConfigError
from marginengine.fixedpoint import PRICE_DECIMALS, parse_units
from marginengine.ledger import check_account_id


class SnapshotPosition(StrictModel):
    """A perp position: ``size`` whole base tokens (negative: short) opened at ``entry``."""

    size: HumanNumber
    entry: HumanNumber


class SnapshotAccount(StrictModel):
    """One account's balances in whole tokens, its perp quote balance and positions."""

    id: str
    supplied: dict[str, HumanNumber] = Field(default_factory=dict)
    borrowed: dict[str, HumanNumber] = Field(default_factory=dict)
    quote: HumanNumber | None = None
    positions: dict[str, SnapshotPosition] = Field(default_factory=dict)


class SnapshotFile(StrictModel):
    """The snapshot file's shape (see the module docstring)."""

    protocol: dict[str, Any] = Field(default_factory=lambda: {"preset": "aave-v3"})
    prices: dict[str, HumanNumber]
    accounts: list[SnapshotAccount] = Field(default_factory=list)


def engine_from_snapshot(data: dict[str, Any], source: str | None = None) -> Engine:
    """Build an engine holding the snapshot's prices and balances.

    Raises
    ------
    ConfigError
        One message per problem, each naming its field.
    """
    snap = validate_model(SnapshotFile, data, source=source)
    config = protocol_from_dict(snap.protocol, source=source, prefix="protocol")
    problems: list[str] = []
    prices = parse_asset_amounts(snap.prices, config, "prices", problems, prices=True)
    balances = []
    quotes: list[tuple[str, int]] = []
    fills: list[tuple[str, str, int, int]] = []
    seen: set[str] = set()
    for i, acct in enumerate(snap.accounts):
        where = f"accounts[{i}]"
        try:
            check_account_id(acct.id, f"{where}.id")
        except ValueError as exc:
            problems.append(str(exc))
        if acct.id in seen:
            problems.append(f"{where}.id: duplicate account id {acct.id!r}")
        seen.add(acct.id)
        supplied = parse_asset_amounts(acct.supplied, config, f"{where}.supplied", problems)
        borrowed = parse_asset_amounts(acct.borrowed, config, f"{where}.borrowed", problems)
        for asset in borrowed:
            if not config.markets[asset].borrowable:
                problems.append(f"{where}.borrowed.{asset}: {asset} is not borrowable")
        balances.append((acct.id, supplied, borrowed))
        quote_asset = next(iter({p.quote for p in config.perps.values()}), "")
        if acct.quote is not None:
            if not quote_asset:
                problems.append(f"{where}.quote: the protocol has no perp markets")
            else:
                amount = parse_positive(acct.quote, config.markets[quote_asset].decimals,
                                        f"{where}.quote", problems)
                if amount is not None:
                    quotes.append((acct.id, amount))
        for market, pos in acct.positions.items():
            at = f"{where}.positions.{market}"
            perp = config.perps.get(market)
            if perp is None:
                problems.append(f"{at}: unknown perp market")
                continue
            size = _signed_units(pos.size, perp.base_decimals, f"{at}.size", problems)
            entry = parse_positive(pos.entry, PRICE_DECIMALS, f"{at}.entry", problems)
            if size == 0:
                problems.append(f"{at}.size: must not be zero")
            elif size is not None and entry is not None:
                fills.append((acct.id, market, size, entry))
    used = {a for _, s, b in balances for a in (*s, *b)} | {m for _, m, _, _ in fills}
    for asset in sorted(used - set(snap.prices)):  # a bad price is reported once, above
        problems.append(f"prices.{asset}: missing (an account holds {asset})")
    if problems:
        raise ConfigError(problems, source=source)
    engine = Engine(config)
    for asset, price in sorted(prices.items()):
        engine.apply(SetPrice(asset, price))
    ledger = engine.ledger
    for account_id, supplied, _ in balances:
        for asset, amount in supplied.items():
            ledger.deposit(account_id, asset, amount)
    for asset in config.markets:
        owed = sum(b.get(asset, 0) for _, _, b in balances)
        gap = owed - ledger.reserves[asset].cash
        if gap > 0:
            ledger.fund_from_protocol(asset, gap)
    for account_id, _, borrowed in balances:
        for asset, amount in borrowed.items():
            ledger.borrow(account_id, asset, amount)
    for account_id, amount in quotes:
        ledger.deposit_quote(account_id, amount)
    for account_id, market, size, entry in fills:
        perp = config.perps[market]
        unit = config.markets[perp.quote].unit
        ledger.fill(account_id, market, size, entry, perp.base_unit, unit)
        ledger.fill(BOOK, market, -size, entry, perp.base_unit, unit)
    for asset in config.markets:
        ledger.update_rates(asset)
    ledger.check_conservation()
    return engine


#: The account that holds the other side of a snapshot's perp positions, so that sizes
#: sum to zero as on any exchange.
BOOK = "_book"


def _signed_units(raw: object, decimals: int, where: str, problems: list[str]) -> int | None:
    try:
        return parse_units(raw, decimals)
    except ValueError as exc:
        problems.append(f"{where}: {exc}")
        return None


def load_snapshot(path: str | Path) -> Engine:
    """Read a snapshot TOML file into an engine (see :func:`engine_from_snapshot`)."""
    return engine_from_snapshot(read_toml(path), source=str(path))
