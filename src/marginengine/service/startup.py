"""Starting the service: its configuration file, its log (new or resumed), its book.

The state of the service is always the replay of its log, so a book enters through
ordinary events, in the log's first batch: the prices (``SetPrice``), each e-mode
account's category (``SetUserEMode``, before any position, as the simulator opens a book:
:func:`marginengine.sim.books.emode_events`; a book's optional ``emode`` column, a
snapshot account's ``emode``), every supply (``Deposit``), the liquidity the listed
suppliers did not provide (a ``Deposit`` by the account ``_liquidity``,
:data:`~marginengine.ledger.book_file.LIQUIDITY_ACCOUNT`, which a book or a request may
not name), then every borrow (``Borrow``). The engine's own rules
decide each one; a book the engine would refuse (an account borrowing beyond its borrowing
power at the configured prices) is refused before the log is created, naming the accounts.

With ``[service] book_open = "import"`` the book enters as it stands instead
(:func:`import_genesis`): the prices, the ``_liquidity`` deposits the imports need, then
one ``ImportAccount`` per account (its e-mode category, supplies and debt, with no margin
check; structural problems refuse the book, naming the account's row), so a snapshot
taken in a crash, holding accounts above their borrowing power or below health 1, loads
and its liquidatable accounts are alerted from the first tick. A flag rather than a rule
for snapshots: a snapshot may also be a book to check against the protocol, and
"borrow" stays what every existing configuration means.

An options book (``[protocol.options]``) enters the same way, from an ``[options]`` table
in the simulator's format (:mod:`marginengine.sim.options_scenario`: ``security_module``,
``cash``, ``[[options.expiries]]``, ``[[options.trades]]``), after the lending book:
``SetVolSurface`` per expiry, ``FundSecurityModule``, ``DepositOptionCash`` per account,
then ``TradeOption`` per trade, each decided by the portfolio rule's pre-trade check (a
trade beyond the seller's initial margin refuses the book).

A snapshot book (a ``.toml`` book: :mod:`marginengine.engine.snapshot`'s format) enters
the same way (:func:`read_service_book`): its lending balances as a lending book's, then
``SetVolSurface`` per ``[[vols]]``, ``DepositOptionCash`` per ``option_cash``, ``_book``'s
``[service] counterparty_cash`` and a ``TradeOption`` at premium 0 against ``_book`` per
option position, each decided by both sides' pre-trade check; a refusal names the
snapshot's field (``accounts.2.options.0``).

Logs (``--log``):

``sqlite:PATH``
    A new SQLite log, one commit per request (per batch). The SQLite store never reopens a
    log for writing, so an existing PATH is refused: replay it (``marginengine replay``),
    or use PostgreSQL, which the service resumes.
``postgresql://...``
    A PostgreSQL log: created if the database holds none, else *resumed*: verified whole,
    replayed (each outcome compared with the logged one), and continued with the same
    chain; the book is then not loaded again (the log holds it).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, StrictBool

from marginengine.config import LiquidationMechanism, ProtocolConfig, read_toml, validate_model
from marginengine.config.amounts import parse_positive
from marginengine.config.base import StrictModel
from marginengine.engine import (
    Borrow,
    Deposit,
    DepositOptionCash,
    Engine,
    Event,
    ImportAccount,
    SetPrice,
    TradeOption,
    event_from_dict,
)
from marginengine.engine.log_meta import log_meta, logged_protocol
from marginengine.engine.snapshot import passed_vol_note, snapshot_option_events
from marginengine.errors import ConfigError, LogError, field_path
from marginengine.ledger.book_file import COUNTERPARTY, LIQUIDITY_ACCOUNT, Book
from marginengine.persistence import EventLog, PostgresStore, is_postgres_url
from marginengine.scan.confirm import threshold_wad
from marginengine.scan.errors import ScanError
from marginengine.scan.files import read_book, read_prices, read_protocol
from marginengine.service.core import DEFAULT_THRESHOLDS, Settings
from marginengine.sim.books import BookOpen, book_from_snapshot, emode_events
from marginengine.sim.options_scenario import OptionsSpec, options_setup


class ServiceSection(StrictModel):
    """The ``[service]`` table of the configuration file (strict as every configuration
    table: ``max_quotes = true`` is not 1, ``rate = "5"`` not 5, ``screen_portfolios =
    "yes"`` not true)."""

    thresholds: list[Decimal] = Field(default_factory=lambda: list(DEFAULT_THRESHOLDS),
                                      min_length=1, max_length=10)
    max_quotes: int = Field(default=100, ge=0, le=100_000)
    max_events: int = Field(default=10_000, ge=1, le=1_000_000)
    max_body: int = Field(default=1 << 20, ge=1024, le=1 << 30)
    rate: float = Field(default=200.0, ge=0)
    burst: int = Field(default=400, ge=1)
    book: str | None = None
    #: Options cash (whole ``[protocol.options].quote`` tokens) of ``_book``, the account
    #: that takes the other side of a snapshot book's option positions: what its pre-trade
    #: margin checks need where it sells (the book's long positions).
    counterparty_cash: Annotated[Decimal, Field(ge=0, allow_inf_nan=False)] = Decimal(0)
    #: Screen portfolio accounts in one vector pass per tick (PMRM_2; see
    #: ``Settings.screen_portfolios``); false reads every one exactly.
    screen_portfolios: StrictBool = True
    #: How the book enters the log: "borrow" (deposits and borrows, each decided by the
    #: engine: a book beyond borrowing power is refused) or "import" (``ImportAccount``
    #: per account, as it stands: a snapshot holding accounts under margin loads).
    book_open: Literal["borrow", "import"] = "borrow"


@dataclass
class ServeConfig:
    """A validated configuration file: protocol, prices, service settings, book path."""

    protocol: ProtocolConfig
    prices: dict[str, int]
    section: ServiceSection
    book: Path | None
    source: str
    options: tuple[Event, ...] = ()
    #: ``[service] counterparty_cash`` in options quote smallest units.
    counterparty_cash: int = 0

    def settings(self) -> Settings:
        """The alert settings."""
        s = self.section
        return Settings(tuple(s.thresholds), s.max_quotes, s.max_events,
                        screen_portfolios=s.screen_portfolios)


#: The liquidation families whose accounts the service cannot read (not in the ledger or
#: the options clearing): ``serve`` refuses them at start.
UNSERVED = frozenset({LiquidationMechanism.MORPHO, LiquidationMechanism.LIQUITY,
                      LiquidationMechanism.EULER, LiquidationMechanism.MANGO,
                      LiquidationMechanism.DRIFT})


def read_config(path: str | Path) -> ServeConfig:
    """Read CONFIG: ``[protocol]``, ``[prices]`` and an optional ``[service]`` table."""
    p = Path(path)
    data = read_toml(p)
    if "protocol" not in data:
        raise ConfigError(["protocol: required table is missing (write [protocol] with "
                           "the preset and markets)"], source=str(p))
    unknown = sorted(set(data) - {"protocol", "prices", "service", "options"})
    if unknown:
        raise ConfigError([f"{unknown[0]}: unknown table (expected protocol, prices, "
                           f"service, options)"], source=str(p))
    protocol = read_protocol(p)
    if protocol.rules.liquidation in UNSERVED:
        # The service reads accounts from the ledger and the options clearing; these
        # families keep theirs in their own books, so it would start with nobody, refuse
        # every account event as naming an unknown account and never alert.
        raise ConfigError([f"protocol.preset: the service does not serve {protocol.preset} "
                           "(its accounts live in the family's own book, which the "
                           "service does not read); use marginengine simulate, scan or "
                           "the Python API for it"], source=str(p))
    prices = read_prices(p, protocol)
    section = validate_model(ServiceSection, data.get("service", {}), source=str(p),
                             prefix="service")
    bounds = []
    for i, value in enumerate(section.thresholds):
        try:
            threshold_wad(value)  # the risk book's bounds, named by index
        except ScanError as exc:
            reason = str(exc).removeprefix("threshold: ")
            bounds.append(f"{field_path('service.thresholds', i)}: {reason}")
    if bounds:
        raise ConfigError(bounds, source=str(p))
    try:
        Settings(tuple(section.thresholds), section.max_quotes, section.max_events)
    except ValueError as exc:
        raise ConfigError([f"service.thresholds: {exc}"], source=str(p)) from None
    book = (p.parent / section.book) if section.book else None
    options = options_events(protocol, data.get("options"), str(p))
    return ServeConfig(protocol, prices, section, book, str(p), options,
                       _counterparty_cash(protocol, section, str(p)))


def _counterparty_cash(config: ProtocolConfig, section: ServiceSection, source: str) -> int:
    """``[service] counterparty_cash`` in options quote smallest units."""
    if not section.counterparty_cash:
        return 0
    if config.options is None:
        raise ConfigError(["service.counterparty_cash: the protocol has no options (add "
                           "[protocol.options] to the configuration)"], source=source)
    problems: list[str] = []
    amount = parse_positive(section.counterparty_cash,
                            config.markets[config.options.quote].decimals,
                            "service.counterparty_cash", problems)
    if amount is None:
        raise ConfigError(problems, source=source)
    return amount


def options_events(config: ProtocolConfig, table: object, source: str) -> tuple[Event, ...]:
    """The ``[options]`` table as the genesis' options events (none without the table);
    every problem names its field."""
    if table is None:
        return ()
    if isinstance(table, dict) and "bidder" in table:
        raise ConfigError(["options.bidder: the service runs no agents (a bidder posts "
                           "BidPortfolioAuction events to POST /events)"], source=source)
    spec = validate_model(OptionsSpec, table, source=source, prefix="options")
    problems: list[str] = []
    setup = options_setup(spec, config, problems)
    if problems or setup is None:
        raise ConfigError(problems or ["options: not usable"], source=source)
    return setup.events


def genesis_events(config: ProtocolConfig, prices: dict[str, int],
                   book: Book | None, options: tuple[Event, ...] = (),
                   how: BookOpen = "borrow") -> list[Event]:
    """The events that bring a fresh engine to the book and the options book (see the
    module docstring); ``how="import"``: the book's accounts as they stand
    (:func:`import_genesis`)."""
    events: list[Event] = [SetPrice(a, p) for a, p in sorted(prices.items())]
    if book is None:
        return [*events, *options]
    if how == "import":
        return [*events, *import_genesis(book), *options]
    # The category first, so the engine decides each deposit and borrow in it (as the
    # simulator's open_book and the scan's snapshot builder do).
    events.extend(entry for _, entry in emode_events(book))
    supplied: dict[str, int] = {}
    borrowed: dict[str, int] = {}
    deposits: list[Event] = []
    borrows: list[Event] = []
    for acct in book.accounts:
        for asset, amount in acct.supplied.items():
            supplied[asset] = supplied.get(asset, 0) + amount
            deposits.append(Deposit(acct.id, asset, amount))
        for asset, amount in acct.borrowed.items():
            borrowed[asset] = borrowed.get(asset, 0) + amount
            borrows.append(Borrow(acct.id, asset, amount))
    liquidity = [Deposit(LIQUIDITY_ACCOUNT, a, borrowed[a] - supplied.get(a, 0))
                 for a in sorted(borrowed) if borrowed[a] > supplied.get(a, 0)]
    return [*events, *deposits, *liquidity, *borrows, *options]


def import_genesis(book: Book) -> list[Event]:
    """The book as it stands (``[service] book_open = "import"``): the liquidity its
    accounts need (a ``Deposit`` by ``_liquidity`` per asset, before any import), then an
    ``ImportAccount`` per account, in book order, with no margin check. Each import books
    its supplies, then its debt out of the pool's cash, so the liquidity is, per asset,
    the largest shortfall the imports meet in order (the debt booked so far less the
    supplies booked so far, at its peak): the book's debt less its supply when every
    supplier comes first, as under "borrow"; more when a borrower precedes the supplier
    of what it owes. The protocol then funds nothing."""
    need: dict[str, int] = {}
    balance: dict[str, int] = {}   # supplies less debt booked so far, per asset
    imports: list[Event] = []
    for acct in book.accounts:
        if not (acct.supplied or acct.borrowed):
            continue
        for asset, amount in acct.supplied.items():
            balance[asset] = balance.get(asset, 0) + amount
        for asset, amount in acct.borrowed.items():
            balance[asset] = balance.get(asset, 0) - amount
            need[asset] = max(need.get(asset, 0), -balance[asset])
        imports.append(ImportAccount(acct.id, tuple(acct.supplied.items()),
                                     tuple(acct.borrowed.items()), acct.emode))
    liquidity: list[Event] = [Deposit(LIQUIDITY_ACCOUNT, a, need[a])
                              for a in sorted(need) if need[a] > 0]
    return [*liquidity, *imports]


def check_genesis(config: ProtocolConfig, events: list[Event], source: str,
                  fields: Mapping[int, str] | None = None) -> Engine:
    """Apply the genesis on a scratch engine (no log); refuse the book, naming the events
    the engine refuses (and the book's field each came from, ``fields``: event index ->
    field), before anything is written; return the scratch engine."""
    scratch = Engine(config)
    problems = []
    fields = fields or {}
    for i, event in enumerate(events):
        outcome = scratch.apply(event)
        if not outcome.accepted:
            where = f"{fields[i]}: " if i in fields else ""
            hint = ""
            if (outcome.reason or "").startswith(f"{COUNTERPARTY}:"):
                hint = (f" ({COUNTERPARTY} takes the other side of the book's option "
                        f"positions; give it options cash with [service] "
                        f"counterparty_cash)")
            problems.append(f"{where}{event.name} {json.dumps(event.to_dict())} (event "
                            f"{i + 1}): {outcome.reason}{hint}")
    if problems:
        extra = [f"... and {len(problems) - 10} more"] if len(problems) > 10 else []
        raise ConfigError(["the engine refuses this book at the configured prices (a book "
                           "enters the service through its events):", *problems[:10],
                           *extra], source=source)
    return scratch


@dataclass
class Started:
    """An engine ready to serve, and how it was started (for the startup line)."""

    engine: Engine
    resumed: int
    log: str
    #: What the genesis left out, each naming its file and field (a snapshot's
    #: ``[[vols]]`` entry of an expiry passed at the start: :func:`read_service_book`).
    notes: list[str] = field(default_factory=list)


def start_engine(config: ProtocolConfig, prices: dict[str, int], book_path: Path | None,
                 log: str | None, source: str = "config",
                 options: tuple[Event, ...] = (),
                 check: Callable[[Engine], object] | None = None,
                 counterparty_cash: int = 0, book_open: BookOpen = "borrow") -> Started:
    """The engine of ``marginengine serve``: its log created (the book's genesis, then
    the ``options`` events, as its first batch) or resumed (PostgreSQL).

    ``check`` is called with the state the service will start from before anything is
    written (a scratch engine holding the genesis, or the resumed engine), so what needs
    that state (the ``--replay`` file's vol columns) is refused before a log exists;
    ``counterparty_cash`` is ``_book``'s options cash for a snapshot book's option
    positions (quote smallest units; :func:`read_service_book`); ``book_open`` how the
    book enters (``[service] book_open``: "borrow", or "import" as it stands,
    :func:`import_genesis`)."""
    if log is not None and is_postgres_url(log):
        probe = _resume_or_none(config, log)
        if probe is not None:
            if check is not None:
                try:
                    check(probe.engine)
                except BaseException:
                    probe.engine.close()
                    raise
            return probe
        notes: list[str] = []
        events = _checked_genesis(config, prices, book_path, source, options, check,
                                  counterparty_cash, notes, book_open)
        engine = Engine(config, EventLog(PostgresStore.create(log, log_meta(config)), "batch"))
        _apply_genesis(engine, events)
        return Started(engine, 0, _redact(log), notes)
    elif log is not None:
        if not log.startswith("sqlite:"):
            raise LogError(f"--log: expected sqlite:PATH or postgresql://... (got {log!r})")
        path = Path(log[len("sqlite:"):])
        if path.exists():
            raise LogError(f"{path}: already exists; the SQLite store never reopens a log "
                           f"for writing (replay it with marginengine replay, start on a new "
                           f"path, or use a PostgreSQL log, which the service resumes)")
        notes = []
        events = _checked_genesis(config, prices, book_path, source, options, check,
                                  counterparty_cash, notes, book_open)
        engine = Engine.with_log(config, path, durability="batch")
        _apply_genesis(engine, events)
        return Started(engine, 0, f"sqlite:{path}", notes)
    notes = []
    events = _checked_genesis(config, prices, book_path, source, options, check,
                              counterparty_cash, notes, book_open)
    engine = Engine(config)
    _apply_genesis(engine, events)
    return Started(engine, 0, "none (state is not durable)", notes)


def _redact(where: str) -> str:
    from marginengine.persistence.postgres_store import redact

    return redact(where)


def read_service_book(path: Path, config: ProtocolConfig, counterparty_cash: int = 0,
                      notes: list[str] | None = None, now: int = 0
                      ) -> tuple[Book, list[tuple[str, Event]]]:
    """A book for the service: a lending book (CSV or Parquet; no options), or a snapshot
    (``.toml``: its ``[[accounts]]`` lending balances, and with ``[protocol.options]`` its
    options cash, option positions and ``[[vols]]``), with the options events that open
    it, each with its field (:func:`marginengine.engine.snapshot.snapshot_option_events`),
    ``_book``'s ``counterparty_cash`` (options quote smallest units) deposited before the
    trades when it is positive and the book holds option positions.

    A ``[[vols]]`` entry of an expiry passed at ``now`` (the service's time when the
    genesis applies: 0) is left out, as a vol tick leaves it out
    (:func:`marginengine.ledger.options.expired`: its series would settle, and the engine
    refuses a surface for it), and a note naming the file and the entry is appended to
    ``notes`` (``book.toml: vols.1: WETH expiry 0 is not after the service's time 0 ...:
    skipped``); a position at such an expiry is refused by its field.

    Raises
    ------
    ConfigError
        Every problem, naming the file and field; a snapshot's perp positions or quote
        balance (``accounts.N.positions``: the service opens none from a book).
    """
    if path.suffix.lower() != ".toml":
        return read_book(path, config), []
    data = read_toml(path)
    book = book_from_snapshot(data, config, source=str(path))
    held = [a for a in book.accounts if a.positions or a.quote]
    if held:
        raise ConfigError([f"{held[0].where}.positions: the service opens no perp positions "
                           f"from a book (post Trade events to POST /events)"])
    events = []
    for where, event in snapshot_option_events(data, config, source=str(path)):
        note = passed_vol_note(event, now, str(path), where, "service")
        if note is not None:
            if notes is not None:
                notes.append(note)
            continue
        events.append((where, event))
    opts = config.options
    if counterparty_cash > 0 and opts is not None and any(
            isinstance(e, TradeOption) for _, e in events):
        at = next(i for i, (_, e) in enumerate(events) if isinstance(e, TradeOption))
        events.insert(at, ("service.counterparty_cash",
                           DepositOptionCash(COUNTERPARTY, counterparty_cash)))
    return book, events


def _checked_genesis(config: ProtocolConfig, prices: dict[str, int], book_path: Path | None,
                     source: str, options: tuple[Event, ...] = (),
                     check: Callable[[Engine], object] | None = None,
                     counterparty_cash: int = 0, notes: list[str] | None = None,
                     book_open: BookOpen = "borrow") -> list[Event]:
    # The genesis applies on a fresh engine, at its time 0, after the [options] table's
    # events (none of which moves the clock): read_service_book's default ``now``.
    book, book_options = (read_service_book(book_path, config, counterparty_cash, notes)
                          if book_path is not None else (None, []))
    events = genesis_events(config, prices, book, (*options, *(e for _, e in book_options)),
                            how=book_open)
    first = len(events) - len(book_options)
    fields = {first + i: where for i, (where, _) in enumerate(book_options)}
    if book is not None and book_open == "import":
        # Each import names its account's row (a snapshot's accounts.N).
        where = {acct.id: acct.where for acct in book.accounts}
        fields.update({i: where[e.account] for i, e in enumerate(events)
                       if isinstance(e, ImportAccount)})
    elif book is not None:
        # The e-mode entries follow the prices (genesis_events); name the row of each.
        entries = emode_events(book)
        fields.update({len(prices) + i: f"{acct.at('emode')}: emode"
                       for i, (acct, _) in enumerate(entries)})
    scratch = check_genesis(config, events, str(book_path or source), fields)
    if check is not None:
        check(scratch)
    return events


def _apply_genesis(engine: Engine, events: list[Event]) -> None:
    with engine.batch():
        for event in events:
            engine.apply(event)


def _resume_or_none(config: ProtocolConfig, url: str) -> Started | None:
    """Resume the PostgreSQL log at ``url`` if it holds one (else ``None``)."""
    try:
        store, records = PostgresStore.resume(url)
    except LogError as exc:
        if "holds no event log" in str(exc):
            return None
        raise
    try:
        logged = logged_protocol(store.meta)
        if logged != json.loads(log_meta(config)["protocol"]):
            raise LogError(f"{store.where}: the log was written for another protocol than "
                           f"the configuration's (start with the same CONFIG, or another "
                           f"database)")
        engine = Engine(config)
        for row in records:
            outcome = engine.apply(event_from_dict(row.record["event"]))
            if outcome.accepted != row.accepted or outcome.name != row.outcome:
                raise LogError(f"{store.where}: replay diverged at event {row.seq}: logged "
                               f"{row.outcome}, replayed {outcome.name}")
    except BaseException:
        store.disconnect()
        raise
    engine.log = EventLog(store, "batch")
    return Started(engine, len(records), store.where)


def replay_state(target: str) -> dict[str, Any]:
    """Replay a log (a SQLite path or a PostgreSQL URL): ``{events, state_hash, ...}``."""
    engine, report = Engine.replay(target if is_postgres_url(target) else Path(target))
    return {"events": report.events, "state_hash": report.state_hash,
            "truncated": report.truncated, "note": report.note,
            "accounts": len(engine.ledger.accounts)}


__all__ = ["LIQUIDITY_ACCOUNT", "ServeConfig", "ServiceSection", "Started", "check_genesis",
           "genesis_events", "read_config", "replay_state", "start_engine"]
