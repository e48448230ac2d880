"""Real books for the simulator: several collateral and debt assets, perps, isolated buckets.

A :class:`Book` is a list of accounts in smallest units, each remembering where it came
from (``book.csv:3``), so a problem found later (the protocol refusing the position) is
reported by line. Books come from:

- files (:func:`read_book`, written by :func:`write_book`): a lending book
  ``account,asset,supplied,borrowed`` (optionally ``emode``: the account's Aave e-mode
  category, on any of its rows) and a perp book ``account,market,size,entry_price,
  quote``, as CSV or Parquet, read by the one reader every face uses
  (:mod:`marginengine.ledger.book_file`, re-exported here). An account id ``owner/label``
  is an isolated bucket (a sub-account with its own margin); ``quote`` is the bucket's
  perp quote balance, given on one of its rows;
- snapshots (:func:`book_from_snapshot`): the ``[[accounts]]`` of a snapshot TOML file;
- a seeded synthetic draw (:func:`synthetic_multi_book`): profiles of collateral and debt
  mixes (WETH / USDC, wstETH / WETH loops, USDC / WETH shorts), lognormal sizes with
  whales, and a lognormal spread of health above what initial margin allows.

A book is opened in an engine by :func:`open_book` through the engine's own events
(``SetUserEMode``, ``Deposit``, ``DepositQuote``, ``Borrow``, ``Trade``), so the protocol
decides what it would have refused: for a file, every refusal is reported by line and nothing runs.
Opened ``how="import"``, its lending balances are imported as they stand
(``ImportAccount``, structural checks only): a book read from a protocol's state, with
accounts already under margin (:func:`opened_under_margin` counts them).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field, model_validator

from marginengine.config import ProtocolConfig
from marginengine.config.amounts import parse_amount
from marginengine.config.base import StrictModel
from marginengine.decisions import Code
from marginengine.engine import (
    Borrow,
    Deposit,
    DepositQuote,
    Event,
    ImportAccount,
    Outcome,
    SetUserEMode,
    Trade,
)
from marginengine.engine.snapshot import emode_fields
from marginengine.engine.state import StateReads
from marginengine.errors import field_path
from marginengine.fixedpoint import PRICE_DECIMALS, PRICE_UNIT, WAD, format_units
from marginengine.ledger import book_file, check_account_id
from marginengine.ledger.book_file import (
    COUNTERPARTY,
    LENDING_COLUMNS,
    LENDING_OPTIONAL,
    MAX_PROBLEMS,
    PERP_COLUMNS,
    RESERVED_ACCOUNTS,
    Book,
    BookAccount,
    raise_problems,
    write_book,
)
from marginengine.margin import initial_shortfall
from marginengine.margin.account_import import book_problems
from marginengine.margin.emode import (
    emode_problems,
    reserve_liquidation_threshold_bps,
    reserve_ltv_bps,
)


def read_book(protocol: ProtocolConfig, lending: str | Path | None = None,
              perps: str | Path | None = None) -> Book:
    """Read and validate a lending book and/or a perp book
    (:func:`marginengine.ledger.book_file.read_book`), each account's e-mode category and
    balances checked by the protocol's rule
    (:func:`marginengine.margin.account_import.book_problems`: e-mode and borrowability,
    Comet's signed base balance).

    Raises
    ------
    ConfigError
        Every problem of both files, each ``FILE:LINE: field: reason``.
    """
    return book_file.read_book(protocol, lending, perps,
                               borrowing=functools.partial(book_problems, protocol))


# ---------------------------------------------------------------------- snapshots
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
        if raw.id in RESERVED_ACCOUNTS:
            problems.append(f"{where}.id: {raw.id!r} is reserved ({RESERVED_ACCOUNTS[raw.id]})")
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
        problems.extend(emode_fields(protocol, raw.emode, acct.borrowed, where,
                                     supplied=acct.supplied))
        for market, pos in raw.positions.items():
            perp = protocol.perps.get(market)
            if perp is None:
                problems.append(f"{where}.positions.{market}: unknown perp market")
                continue
            size = parse_amount(pos.size, perp.base_decimals,
                                f"{where}.positions.{market}.size", problems, signed=True)
            entry = parse_amount(pos.entry, PRICE_DECIMALS,
                                 f"{where}.positions.{market}.entry", problems)
            if size and entry:
                acct.positions[market] = (size, entry)
        if raw.quote is not None and protocol.perps:
            quote_asset = next(iter(protocol.perps.values())).quote
            acct.quote = parse_amount(raw.quote, protocol.markets[quote_asset].decimals,
                                      f"{where}.quote", problems) or 0
        book.accounts.append(acct)
    raise_problems(problems)
    return book


# ---------------------------------------------------------------------- opening a book
#: How a book opens (``[book] open``): through borrows the protocol decides, or imported as
#: it stands.
BookOpen = Literal["borrow", "import"]


def emode_events(book: Book) -> list[tuple[BookAccount, SetUserEMode]]:
    """The ``SetUserEMode`` that enters each account of ``book`` with an e-mode category
    into it, in book order, with its account: what opens the book before any position
    (:func:`open_book`; the service's genesis,
    :func:`marginengine.service.startup.genesis_events`), as a user entering e-mode first,
    so the engine decides every later deposit and borrow at the category's parameters."""
    return [(acct, SetUserEMode(acct.id, acct.emode)) for acct in book.accounts if acct.emode]


def open_book(apply: Callable[[Event], Outcome], book: Book, protocol: ProtocolConfig,
              counterparty_quote: int = 0, how: BookOpen = "borrow") -> list[str]:
    """Open every account of ``book`` through the engine's events.

    ``how="borrow"`` (default): the e-mode category (``SetUserEMode``, before any
    position, as a user entering e-mode first), deposits, then perp quote and positions
    (against :data:`COUNTERPARTY`, funded with ``counterparty_quote``), then borrows, each
    decided by the protocol. ``how="import"``: each account's lending balances and
    category as they stand (``ImportAccount``: no margin check, at genesis), then the perp
    quote and positions as above. Lenders' liquidity must be in place already (under
    "import", what it lacks the protocol funds, as the snapshot builder does).

    Returns
    -------
    list of str
        One ``where: account ID: reason`` per refused event (the protocol's own reason):
        under "borrow" a position the protocol would not have allowed at the engine's
        prices; under "import" a structural problem (``INVALID_IMPORT``), by the line of
        the field it names.
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

    if how == "import":
        for acct in book.accounts:
            if not (acct.supplied or acct.borrowed):
                continue  # a perp-only account: its quote and positions below
            outcome = apply(ImportAccount(acct.id, tuple(acct.supplied.items()),
                                          tuple(acct.borrowed.items()), acct.emode))
            if not outcome.accepted:
                field = str(outcome.data.get("field", ""))
                key = "emode" if field == "emode" else field.partition(".")[2]
                refused.append(f"{acct.at(key)}: account {acct.id}: {outcome.reason}")
    else:
        for acct, switch in emode_events(book):
            do(acct, "emode", switch)
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
    if how == "borrow":
        for acct in book.accounts:
            for asset, amount in acct.borrowed.items():
                do(acct, asset, Borrow(acct.id, asset, amount))
    return refused


def opened_under_margin(reads: StateReads, accounts: Iterable[str]) -> tuple[int, int]:
    """How many of ``accounts`` (those the ledger holds) stand above their borrowing power
    and how many below health 1 now: the book's figures once opened
    (``opened_above_borrowing_power``, ``opened_below_health_1`` in the simulator's
    summary). Above borrowing power: the debt exceeds what initial margin lets the
    collateral back (:func:`marginengine.margin.initial_shortfall`, the borrow rule, at
    the initial-margin prices); below health 1: debt with a health factor under 1 (the
    liquidation rule's). Both are 0 for a book opened by borrows, which initial margin
    decided one by one; an imported book may hold either."""
    above = below = 0
    held = reads.ledger.accounts
    for account in accounts:
        if account not in held:
            continue
        data = reads.account_data(account)
        if not data.total_debt:
            continue
        above += initial_shortfall(reads.rules, reads.initial_account_data(account))
        below += data.health_factor < WAD
    return above, below


# ---------------------------------------------------------------------- synthetic books
class _Spec(StrictModel):
    """Frozen, unknown fields, booleans and text for plain numbers refused (as every
    configuration table)."""


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


__all__ = ["COUNTERPARTY", "LENDING_COLUMNS", "LENDING_OPTIONAL", "MAX_PROBLEMS",
           "PERP_COLUMNS", "Book", "BookAccount", "BookOpen", "ProfileSpec",
           "book_from_snapshot", "check_profiles", "emode_events", "initial_health_floor",
           "open_book", "opened_under_margin",
           "read_book", "synthetic_multi_book", "write_book"]
