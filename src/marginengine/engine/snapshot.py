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

Balances are taken at index 1 (no interest history). The pool is assumed to hold what
the listed suppliers left; where the listed borrowers owe more than the listed suppliers
supplied, the difference is booked as protocol-owned liquidity so the books balance.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from marginengine.config import protocol_from_dict, read_toml, validate_model
from marginengine.config.amounts import HumanNumber, parse_asset_amounts
from marginengine.config.models import _Strict
from marginengine.engine.engine import Engine
from marginengine.engine.events import SetPrice
from marginengine.errors import ConfigError
from marginengine.ledger import check_account_id


class SnapshotAccount(_Strict):
    """One account's balances in whole tokens."""

    id: str
    supplied: dict[str, HumanNumber] = Field(default_factory=dict)
    borrowed: dict[str, HumanNumber] = Field(default_factory=dict)


class SnapshotFile(_Strict):
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
    used = {a for _, s, b in balances for a in (*s, *b)}
    for asset in sorted(used - set(prices)):
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
    for asset in config.markets:
        ledger.update_rates(asset)
    ledger.check_conservation()
    return engine


def load_snapshot(path: str | Path) -> Engine:
    """Read a snapshot TOML file into an engine (see :func:`engine_from_snapshot`)."""
    return engine_from_snapshot(read_toml(path), source=str(path))
