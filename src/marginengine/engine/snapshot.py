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
    emode = 1                         # Aave e-mode category ([protocol.emode]; 0: none)
    quote = 5000                      # perp quote balance (whole quote tokens)
    positions = { ETH-PERP = { size = -2, entry = 2100 } }

    option_cash = 2000                # options cash (whole [protocol.options].quote tokens)
    options = [{ underlying = "WETH", expiry = 2592000, strike = 2000, type = "call",
                 size = -1 }]         # European options (size in options; < 0: short)

    [[vols]]                   # one surface per expiry held: ATM vol and linear skew
    underlying = "WETH"
    expiry = 2592000
    vol = 0.6
    skew = 0

Perp and option positions are opened against an account ``_book`` holding the other side,
so sizes sum to zero. Option expiries are unix seconds from the snapshot's time 0.

Balances are taken at index 1 (no interest history). The pool is assumed to hold what
the listed suppliers left; where the listed borrowers owe more than the listed suppliers
supplied, the difference is booked as protocol-owned liquidity so the books balance.

:func:`engine_from_snapshot` parses and checks the file, naming each field; the engine is
then built from the integers by :func:`engine_from_accounts`, which the scan's books
(:func:`marginengine.scan.files.engine_from_book`) call directly with what the book reader
has checked, so both go through the same rules and a book is not formatted back to text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field
from pydantic import Field as PydField

from marginengine.config import ProtocolConfig, protocol_from_dict, read_toml, validate_model
from marginengine.config.amounts import (
    HumanNumber,
    parse_amount,
    parse_asset_amounts,
    parse_positive,
)
from marginengine.config.base import StrictModel
from marginengine.engine.engine import Engine
from marginengine.engine.events import (
    DepositOptionCash,
    Event,
    SetPrice,
    SetVolSurface,
    TradeOption,
)
from marginengine.engine.lending_handlers import book_imported_isolated_debt
from marginengine.errors import ConfigError, field_path
from marginengine.fixedpoint import PRICE_DECIMALS
from marginengine.ledger import check_account_id
from marginengine.ledger.book_file import COUNTERPARTY, RESERVED_ACCOUNTS, BookAccount
from marginengine.ledger.imports import book_as_they_stand
from marginengine.ledger.options import OptionSeries, expired
from marginengine.margin.account_import import book_problems, import_problems
from marginengine.margin.validation import validate_balance_widths


class SnapshotPosition(StrictModel):
    """A perp position: ``size`` whole base tokens (negative: short) opened at ``entry``."""

    size: HumanNumber
    entry: HumanNumber


class SnapshotOption(StrictModel):
    """An option position: ``size`` options (negative: short) of one series."""

    underlying: str
    expiry: Annotated[int, PydField(ge=1)]
    strike: HumanNumber
    type: Literal["call", "put"]
    size: HumanNumber


class SnapshotVol(StrictModel):
    """One expiry's surface: ATM vol and linear skew (decimals: 0.6 is 60%)."""

    underlying: str
    expiry: Annotated[int, PydField(ge=0)]
    vol: Annotated[float, PydField(ge=0.01, le=10, allow_inf_nan=False)]
    skew: Annotated[float, PydField(ge=-10, le=10, allow_inf_nan=False)] = 0.0


class SnapshotAccount(StrictModel):
    """One account's balances in whole tokens, its perp quote balance and positions, its
    options cash and options."""

    id: str
    supplied: dict[str, HumanNumber] = Field(default_factory=dict)
    borrowed: dict[str, HumanNumber] = Field(default_factory=dict)
    quote: HumanNumber | None = None
    positions: dict[str, SnapshotPosition] = Field(default_factory=dict)
    option_cash: HumanNumber | None = None
    options: list[SnapshotOption] = Field(default_factory=list)
    emode: Annotated[int, PydField(ge=0, le=255)] = 0


class SnapshotFile(StrictModel):
    """The snapshot file's shape (see the module docstring)."""

    protocol: dict[str, Any] = Field(default_factory=lambda: {"preset": "aave-v3"})
    prices: dict[str, HumanNumber]
    accounts: list[SnapshotAccount] = Field(default_factory=list)
    vols: list[SnapshotVol] = Field(default_factory=list)


def emode_fields(config: ProtocolConfig, category_id: int, borrowed: Iterable[str],
                 where: str, *, supplied: Iterable[str]) -> list[str]:
    """:func:`marginengine.margin.account_import.book_problems` (the e-mode category and
    borrowability, Comet's signed base balance) as ``{where}.emode: ...`` /
    ``{where}.borrowed.X: ...``."""
    return [f"{where}.emode: {reason}" if what == "emode" else
            f"{where}.borrowed.{what}: {reason}"
            for what, reason in book_problems(config, category_id, supplied, borrowed)]


def engine_from_accounts(config: ProtocolConfig, prices: Mapping[str, int],
                         accounts: Sequence[BookAccount], source: str | None = None,
                         checked: bool = False) -> Engine:
    """Build an engine holding validated accounts at validated prices, as they stand: the
    snapshot builder's rules, which every snapshot and every scanned book goes through.

    The prices are set (``SetPrice``, by asset), then the accounts' lending balances are
    booked by the rule of ``ImportAccount`` (:func:`marginengine.ledger.imports.
    book_as_they_stand`, all accounts at once: every e-mode category, every supply at
    index 1, the protocol's funding of whatever the accounts owe beyond what they
    supplied, every borrow), with no margin check, so an account above its borrowing
    power or below health 1 is held as it is, and an account in isolation mode adds its
    debt to its collateral's ceiling (:func:`marginengine.engine.lending_handlers.
    book_imported_isolated_debt`); then every perp quote balance, and every
    perp position against :data:`BOOK`; then each market's rates are updated and
    conservation is checked.

    Parameters
    ----------
    config
        The protocol.
    prices
        Asset or perp market -> price, 8 decimals, positive.
    accounts
        In the order built; balances in smallest units, positive (zero amounts left out),
        of the protocol's markets, every one priced; ids well formed and distinct, none
        :data:`BOOK`; e-mode categories the protocol's, allowing what is borrowed; perp
        sizes nonzero. The readers check all this and name the field or line of each
        problem (:func:`engine_from_snapshot` ``accounts.N.field``, the book reader
        :func:`marginengine.ledger.book_file.read_book` ``FILE:LINE: field``).
    source
        Named in the errors raised.
    checked
        ``False`` (the default, for a caller holding accounts of its own): the lending
        balances are checked first by ``ImportAccount``'s structural rule
        (:func:`marginengine.margin.account_import.import_problems`; ids distinct too), so
        a caller that skipped a reader is told, field by field, not given a ledger no
        event could build. ``True``: the accounts come from a reader that has checked
        them by line (the snapshot builder, ``scan.files.engine_from_book``); the check,
        5 us an account, is not run twice.

    Raises
    ------
    ConfigError
        If the engine refuses a price (``prices.ASSET: reason``; a checked price never is),
        or an account's lending balances are malformed (``accounts.N.field: reason``).
    """
    problems: list[str] = []
    seen: set[str] = set()
    for i, acct in enumerate(() if checked else accounts):
        where = field_path("accounts", i)
        problems += [f"{where}.{'id' if f == 'account' else f}: {r}" for f, r in
                     import_problems(config, acct.id, acct.supplied.items(),
                                     acct.borrowed.items(), acct.emode)
                     # An account of perps or options only holds no lending balance.
                     if f != "supplied"]
        if acct.id in seen:
            problems.append(f"{where}.id: duplicate account id {acct.id!r}")
        seen.add(acct.id)
    if problems:
        raise ConfigError(problems, source=source)
    engine = Engine(config)
    for asset, price in sorted(prices.items()):
        out = engine.apply(SetPrice(asset, price))
        if not out.accepted:
            raise ConfigError([f"prices.{asset}: {out.reason}"], source=source)
    ledger = engine.ledger
    book_as_they_stand(ledger, accounts)
    problems = stored_width_problems(engine, accounts)
    if problems:
        # The engine is dropped: nothing of it was written anywhere.
        raise ConfigError(problems, source=source)
    for acct in accounts:
        book_imported_isolated_debt(ledger, config, acct.id, acct.borrowed.items())
    for acct in accounts:
        if acct.quote:
            ledger.deposit_quote(acct.id, acct.quote)
    for acct in accounts:
        for market, (size, entry) in acct.positions.items():
            perp = config.perps[market]
            unit = config.markets[perp.quote].unit
            ledger.fill(acct.id, market, size, entry, perp.base_unit, unit)
            ledger.fill(BOOK, market, -size, entry, perp.base_unit, unit)
    for asset in config.markets:
        ledger.update_rates(asset)
    ledger.check_conservation()
    return engine


def stored_width_problems(engine: Engine, accounts: Sequence[BookAccount]) -> list[str]:
    """The balances of ``accounts``, as booked on ``engine``'s ledger, that the protocol's
    storage cannot hold (:func:`~marginengine.margin.validation.validate_balance_widths`,
    the rule every mint of a running engine is refused by: ``SAFECAST_OVERFLOW``), one
    problem per account balance, and per asset side the account whose balance first took
    the reserve's total beyond its width.

    Each names the account's line where it was read from a book (``book.csv:3: supplied:
    reason``), else its field (``accounts.N.supplied.WETH: reason``).
    """
    config, ledger = engine.config, engine.ledger
    widths = config.rules.widths
    if widths is None:
        return []
    base_asset = config.compound.base_asset if config.compound is not None else None
    problems: list[str] = []
    totals: dict[tuple[str, bool], int] = {}
    over: set[tuple[str, bool]] = set()
    for i, acct in enumerate(accounts):
        for debt, held in ((False, acct.supplied), (True, acct.borrowed)):
            side = "borrowed" if debt else "supplied"
            for asset in held:
                scaled = (ledger.scaled_debt_of(acct.id, asset) if debt
                          else ledger.scaled_supply_of(acct.id, asset))
                key, base = (asset, debt), asset == base_asset
                totals[key] = totals.get(key, 0) + scaled
                # The balance alone; then, until it is first named, the total with it.
                refusal = validate_balance_widths(widths, asset, base, scaled, 0, debt)
                if refusal is None and key not in over:
                    refusal = validate_balance_widths(widths, asset, base, scaled,
                                                      totals[key], debt)
                    if refusal is not None:
                        over.add(key)
                if refusal is None:
                    continue
                at = (f"{acct.at(asset)}: {side}" if acct.where
                      else f"{field_path('accounts', i)}.{side}.{asset}")
                problems.append(f"{at}: {refusal.message}")
    return problems


def engine_from_snapshot(data: dict[str, Any], source: str | None = None,
                         notes: list[str] | None = None) -> Engine:
    """Build an engine holding the snapshot's prices and balances.

    A ``[[vols]]`` entry of an expiry passed at the snapshot's time (0;
    :func:`marginengine.ledger.options.expired`: its series would settle, and the engine
    refuses a surface for it) is left out, as the service leaves it out of a snapshot
    book, and a note naming the entry is appended to ``notes`` (``book.toml: vols.1:
    WETH expiry 0 is not after the snapshot's time 0 (its series settle; a surface for
    it is refused): skipped``). A position at such an expiry is refused by its field
    (``accounts.N.options.M.expiry: must be at least 1``).

    Raises
    ------
    ConfigError
        One message per problem, each naming its field.
    """
    snap = validate_model(SnapshotFile, data, source=source)
    config = protocol_from_dict(snap.protocol, source=source, prefix="protocol")
    problems: list[str] = []
    prices = parse_asset_amounts(snap.prices, config, "prices", problems, prices=True)
    accounts: list[BookAccount] = []
    seen: set[str] = set()
    for i, acct in enumerate(snap.accounts):
        where = field_path("accounts", i)
        try:
            check_account_id(acct.id, f"{where}.id")
        except ValueError as exc:
            problems.append(str(exc))
        if acct.id in RESERVED_ACCOUNTS:  # the builder's own counterparty, the service's
            problems.append(f"{where}.id: {acct.id!r} is reserved "
                            f"({RESERVED_ACCOUNTS[acct.id]})")
        if acct.id in seen:
            problems.append(f"{where}.id: duplicate account id {acct.id!r}")
        seen.add(acct.id)
        supplied = parse_asset_amounts(acct.supplied, config, f"{where}.supplied", problems)
        borrowed = parse_asset_amounts(acct.borrowed, config, f"{where}.borrowed", problems)
        problems.extend(emode_fields(config, acct.emode, borrowed, where,
                                     supplied=supplied))
        account = BookAccount(acct.id, supplied, borrowed, emode=acct.emode)
        accounts.append(account)
        quote_asset = next(iter({p.quote for p in config.perps.values()}), "")
        if acct.quote is not None:
            if not quote_asset:
                problems.append(f"{where}.quote: the protocol has no perp markets")
            else:
                amount = parse_positive(acct.quote, config.markets[quote_asset].decimals,
                                        f"{where}.quote", problems)
                if amount is not None:
                    account.quote = amount
        for market, pos in acct.positions.items():
            at = f"{where}.positions.{market}"
            perp = config.perps.get(market)
            if perp is None:
                problems.append(f"{at}: unknown perp market")
                continue
            size = parse_amount(pos.size, perp.base_decimals, f"{at}.size", problems,
                                signed=True)
            entry = parse_positive(pos.entry, PRICE_DECIMALS, f"{at}.entry", problems)
            if size == 0:
                problems.append(f"{at}.size: must not be zero")
            elif size is not None and entry is not None:
                account.positions[market] = (size, entry)
    opt_cash, opt_fills = _options(snap, config, problems)
    used = {a for x in accounts for a in (*x.supplied, *x.borrowed, *x.positions)}
    for asset in sorted(used - set(snap.prices)):  # a bad price is reported once, above
        problems.append(f"prices.{asset}: missing (an account holds {asset})")
    if problems:
        raise ConfigError(problems, source=source)
    engine = engine_from_accounts(config, prices, accounts, source=source, checked=True)
    now = engine.ledger.time
    for i, event in enumerate(snapshot_vol_events(snap)):
        note = passed_vol_note(event, now, source, field_path("vols", i), "snapshot")
        if note is not None:
            if notes is not None:
                notes.append(note)
            continue
        out = engine.apply(event)
        if not out.accepted:
            raise ConfigError([f"vols: {out.reason}"], source=source)
    clearing = engine.state.options     # after the events: the clearing is copy-on-write
    if clearing is not None:
        for account_id, amount in opt_cash:
            clearing.deposit(account_id, amount)
        for _, account_id, series, size in opt_fills:
            buyer, seller = (account_id, BOOK) if size > 0 else (BOOK, account_id)
            clearing.trade(buyer, seller, series, abs(size), 0, engine.ledger.time)
        clearing.check()
    return engine


def passed_vol_note(event: Event, now: int, source: str | None, where: str,
                    clock: str) -> str | None:
    """The note skipping a snapshot's ``[[vols]]`` entry ``event`` (at field ``where``
    of ``source``) because its expiry has passed at ``now``
    (:func:`marginengine.ledger.options.expired`), else ``None`` (not a vol event, or
    its expiry still open). ``clock`` names whose time ``now`` is (``"snapshot"`` for
    ``marginengine health``, ``"service"`` for ``serve``): the one rule both apply."""
    if not isinstance(event, SetVolSurface) or not expired(event.expiry, now):
        return None
    return (f"{source + ': ' if source else ''}{where}: {event.underlying} expiry "
            f"{event.expiry} is not after the {clock}'s time {now} (its series settle; a "
            f"surface for it is refused): skipped")


def snapshot_vol_events(snap: SnapshotFile) -> list[SetVolSurface]:
    """The snapshot's ``[[vols]]`` as ``SetVolSurface`` events (ppm, rounded), in order."""
    return [SetVolSurface(v.underlying, v.expiry, round(v.vol * 1e6), round(v.skew * 1e6))
            for v in snap.vols]


def snapshot_option_events(data: Mapping[str, Any], config: ProtocolConfig,
                           source: str | None = None) -> list[tuple[str, Event]]:
    """The options part of a snapshot as the events that open it on an engine of
    ``config``, each with the field it comes from: ``SetVolSurface`` per ``[[vols]]``
    entry (``vols.N``), ``DepositOptionCash`` per ``option_cash``
    (``accounts.N.option_cash``), then a ``TradeOption`` at premium 0 against
    :data:`BOOK` per option position (``accounts.N.options.M``), account by account, each
    account's longs before its shorts (a spread's long leg is held when the short leg's
    pre-trade check runs). These are the positions :func:`engine_from_snapshot` books
    without events; here each trade is decided by the engine (both sides' pre-trade
    margin check), so :data:`BOOK` must hold the options cash its sales need.

    Only ``[[accounts]]`` (``option_cash``, ``options``) and ``[[vols]]`` are read, checked
    as :func:`engine_from_snapshot` checks them against ``config`` (the snapshot's own
    ``[protocol]`` and ``[prices]`` are not used); an underlying must be priced by
    ``config``.

    Raises
    ------
    ConfigError
        One message per problem, each naming its field.
    """
    snap = validate_model(SnapshotFile, {**data, "prices": data.get("prices", {})},
                          source=source)
    problems: list[str] = []
    cash, fills = _options(snap, config, problems, priced=config.priced)
    if problems:
        raise ConfigError(problems, source=source)
    out: list[tuple[str, Event]] = [(field_path("vols", i), e)
                                    for i, e in enumerate(snapshot_vol_events(snap))]
    index = {acct.id: i for i, acct in enumerate(snap.accounts)}
    out += [(field_path("accounts", index[a], "option_cash"), DepositOptionCash(a, amount))
            for a, amount in cash]
    # Longs first within each account (a stable sort keeps the file's order otherwise).
    ordered = sorted(fills, key=lambda f: (index[f[1]], f[3] < 0))
    for where, account_id, series, size in ordered:
        buyer, seller = (account_id, BOOK) if size > 0 else (BOOK, account_id)
        out.append((where, TradeOption(buyer, seller, series.underlying, series.expiry,
                                       series.strike, series.is_call, abs(size), 0)))
    return out


def _options(snap: SnapshotFile, config: ProtocolConfig, problems: list[str],
             priced: Callable[[str], bool] | None = None
             ) -> tuple[list[tuple[str, int]], list[tuple[str, str, OptionSeries, int]]]:
    """The accounts' options cash and positions (each with its field), checked (problems
    appended); an underlying must be in the snapshot's prices, or ``priced``."""
    cash: list[tuple[str, int]] = []
    fills: list[tuple[str, str, OptionSeries, int]] = []
    opts = config.options
    surfaces = {(v.underlying, v.expiry) for v in snap.vols}
    if snap.vols and opts is None:
        problems.append("vols: the protocol has no [protocol.options]")
    first: dict[tuple[str, int], int] = {}
    for i, v in enumerate(snap.vols):
        # A second surface of one expiry would replace the first: one surface per expiry.
        key = (v.underlying, v.expiry)
        if key in first:
            problems.append(f"{field_path('vols', i)}: {v.underlying} expiry {v.expiry} "
                            f"given twice (first at {field_path('vols', first[key])})")
        else:
            first[key] = i
    for i, acct in enumerate(snap.accounts):
        where = field_path("accounts", i)
        if opts is None:
            if acct.option_cash is not None or acct.options:
                problems.append(f"{where}.options: the protocol has no [protocol.options]")
            continue
        if acct.option_cash is not None:
            amount = parse_positive(acct.option_cash, config.markets[opts.quote].decimals,
                                    f"{where}.option_cash", problems)
            if amount is not None:
                cash.append((acct.id, amount))
        underlyings = {o.underlying for o in acct.options}
        if len(underlyings) > 1:
            problems.append(f"{where}.options: a portfolio account holds one underlying "
                            f"(got {', '.join(sorted(underlyings))})")
        for j, o in enumerate(acct.options):
            at = field_path(where, "options", j)
            if not (priced(o.underlying) if priced is not None
                    else o.underlying in snap.prices):
                problems.append(f"{at}.underlying: no price for {o.underlying!r}")
                continue
            if (o.underlying, o.expiry) not in surfaces:
                problems.append(f"{at}.expiry: no [[vols]] entry for {o.underlying} "
                                f"expiry {o.expiry}")
            strike = parse_positive(o.strike, PRICE_DECIMALS, f"{at}.strike", problems)
            size = parse_amount(o.size, opts.size_decimals, f"{at}.size", problems,
                                signed=True)
            if size == 0:
                problems.append(f"{at}.size: must not be zero")
            elif size is not None and strike is not None:
                fills.append((at, acct.id, OptionSeries(o.underlying, o.expiry, strike,
                                                        o.type == "call"), size))
    return cash, fills


#: The account that holds the other side of a snapshot's perp and option positions, so
#: that sizes sum to zero as on any exchange (the one the simulator's book loader uses).
BOOK = COUNTERPARTY


def load_snapshot(path: str | Path, notes: list[str] | None = None) -> Engine:
    """Read a snapshot TOML file into an engine (see :func:`engine_from_snapshot`; what
    it left out is appended to ``notes``)."""
    return engine_from_snapshot(read_toml(path), source=str(path), notes=notes)
