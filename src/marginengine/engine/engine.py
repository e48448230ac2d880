"""The engine core: applies events in one journalled transaction, logs every outcome, and
tells listeners what changed.

For each event the core finds its handler in the one table
(:data:`~marginengine.engine.handlers.HANDLERS`), checks that the protocol's rule family
accepts it, and runs it with a :class:`~marginengine.engine.context.HandlerContext` inside
one transaction over all the state (ledger, prices, oracles, auctions, conditions). It
then refreshes the rates of the assets touched, checks conservation and writes the outcome
to the log; only then is the outcome returned. A refused event is rolled back everywhere
and logged as ``<Type>Rejected`` with its code, message and data. Same events, same state
hash.

Why the outcome is written inside the transaction: with per-event durability the write is
the commit, so a log that cannot take the outcome raises there and the event is rolled
back with it; nothing is acknowledged (returned, or told to a listener) that is not
durable, and the state never runs ahead of the log.

Listeners receive the values that changed (a :class:`Change`) *after the commit*: per
event, right after the event's own commit, before ``apply`` returns; per batch (and inside
``with engine.batch():``), the changes are queued and delivered in order once the batch is
committed (:meth:`Engine.commit`, the end of the block, :meth:`Engine.close`); without a
log, right after the event (nothing to commit). A listener that needs the state as applied
within a batch (a mirror the engine's own state is compared with, as the risk book) asks
for it: ``subscribe(listener, when="apply")``. A listener that raises is reported in
``listener_errors``, never propagated: it cannot fail or undo ``apply`` or a commit.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from marginengine.config import ProtocolConfig, validate_model
from marginengine.decisions import Code, Refusal
from marginengine.engine.context import HandlerContext
from marginengine.engine.events import Event, Outcome, event_from_dict
from marginengine.engine.handlers import HANDLERS
from marginengine.engine.keeper import (
    LiquidationQuote,
    liquidation_inputs,
    liquidation_pause,
    liquidation_plan,
    liquidation_quote,
)
from marginengine.engine.log_meta import log_meta, logged_protocol
from marginengine.engine.rejected import Rejected, fmt_health, fmt_usd
from marginengine.engine.state import EngineState, StateReads
from marginengine.errors import ConfigError, EventError, LogError, MarginEngineError
from marginengine.ledger import Account, ReserveState
from marginengine.liquidation import CloseFactorInputs, CloseFactorPlan
from marginengine.margin.adaptive_model import MarketParams, PerpParams
from marginengine.persistence import (
    Durability,
    EventLog,
    LogRecord,
    open_log,
)

_log = logging.getLogger(__name__)

Listener = Callable[["Change"], None]
#: When a listener hears of an accepted event: once it is committed (the default), or as
#: soon as it is applied (before a per-batch log commits it).
ListenWhen = Literal["commit", "apply"]


@dataclass(frozen=True)
class Change:
    """What an accepted event changed, with the new values (for mirrors: the risk book).

    Iterating any of the mappings gives the names, as before values were carried.

    Attributes
    ----------
    outcome
        The accepted outcome.
    accounts
        Accounts whose positions changed, each with its state after the event (``None``:
        the account no longer exists).
    assets
        Assets whose reserve changed (totals, indices, rates), with the reserve after.
    prices
        Assets whose price changed, with the new price.
    params
        Markets whose risk parameters changed (``SetRiskParams``, the direct adaptive
        mode), with the parameters in force after.
    perp_params
        Perp markets whose first-tier margin fractions changed, with those in force after.
    addons
        Accounts whose crowding add-on changed (``SetCrowding``), with the new one (ppm).
    """

    outcome: Outcome
    accounts: Mapping[str, Account | None] = field(default_factory=dict)
    assets: Mapping[str, ReserveState] = field(default_factory=dict)
    prices: Mapping[str, int] = field(default_factory=dict)
    params: Mapping[str, MarketParams] = field(default_factory=dict)
    perp_params: Mapping[str, PerpParams] = field(default_factory=dict)
    addons: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ReplayReport:
    """What ``replay`` found: the events applied, the state hash, and how the log ended.

    ``truncated``: the log was not closed (its writer stopped); every acknowledged event
    was replayed, and ``note`` says where it ends and whether a torn last write was ignored.
    ``format_version``: the log's format (``"1"`` logs have no chain and no acknowledged
    count, so a lost tail cannot be detected in them).
    ``writer_state_hash``: for a log written before a part of the state existed
    (:data:`LOG_ADDITIONS`), the hash of the same state without that part, as the engine
    that wrote the log computed it (what its run recorded); ``writer_note`` says which
    part and why ``state_hash`` differs. ``None`` and ``""`` when the two are the same.
    """

    events: int
    state_hash: str
    truncated: bool
    note: str
    format_version: str = "2"
    writer_state_hash: str | None = None
    writer_note: str = ""


@dataclass(frozen=True)
class LogAddition:
    """What an event type gained after logs were written without it, so that such a log
    still replays and verifies (see :meth:`Engine.replay`).

    Attributes
    ----------
    fields
        The event's fields added, each with a default that gives the rule of the log's
        writer: a logged event without them replays at those defaults.
    details
        The outcome's details added: not in such a log's records, so not compared.
    hash_part
        The part of :meth:`~marginengine.engine.state.EngineState.hash_parts` they brought
        (absent from the hash the writer computed).
    what, defaults
        The addition and what its defaults do, in words, for the replay's note.
    """

    fields: frozenset[str]
    details: frozenset[str]
    hash_part: str
    what: str
    defaults: str


#: Per event type, what it gained since logs were first written (one entry per change of
#: an event's shape; a log lacking the fields was written before it).
LOG_ADDITIONS: dict[str, LogAddition] = {
    # Comet's liquidator points (compound-finance/comet@d5a30b0a contracts/Comet.sol
    # absorb; marginengine commit 84a9c60): gas_used and base_fee at 0 add no
    # approxSpend; numAbsorbs and numAbsorbed are credited all the same, and hashed.
    "Absorb": LogAddition(
        frozenset({"gas_used", "base_fee"}), frozenset({"liquidator_points"}),
        "liquidator_points", "Comet's liquidator points", "0: no approxSpend"),
}


class Engine(StateReads):
    """The margin engine for one protocol.

    Parameters
    ----------
    config
        The validated protocol.
    log
        Where to write outcomes; ``None`` keeps no log (tests, what-if copies).
    check_invariants
        Check conservation after every event, in O(what the event touched) (on by
        default; an ``InvariantViolation`` means a bug, and the event is rolled back).
        ``engine.ledger.check_conservation()`` audits the whole ledger at any time.
    """

    def __init__(self, config: ProtocolConfig, log: EventLog | None = None,
                 check_invariants: bool = True) -> None:
        self.state = EngineState(config)
        self.log = log
        self.check_invariants = check_invariants
        self.seq = 0
        self.listener_errors: list[str] = []
        self._listeners: list[Listener] = []  # when="commit"
        self._apply_listeners: list[Listener] = []  # when="apply"
        self._queued: list[Change] = []  # applied, waiting for their batch's commit

    @classmethod
    def with_log(cls, config: ProtocolConfig, path: str | Path, synchronous: str = "FULL",
                 durability: Durability | str = Durability.EVENT,
                 checkpoint_every: int | None = None) -> Engine:
        """An engine writing a new SQLite event log at ``path``.

        Parameters
        ----------
        synchronous
            ``FULL`` (default): a commit survives power loss; ``NORMAL``: a crash of the
            process (see :meth:`marginengine.persistence.SQLiteStore.create`).
        durability
            ``"event"`` (default): every outcome is durable before :meth:`apply` returns it
            (it is written inside the event's transaction, so a log that fails rolls the
            event back), and listeners hear of it right after that commit; ``"batch"``:
            outcomes are committed together by :meth:`commit` or at the end of a
            ``with engine.batch():`` block (and at :meth:`close`), and the batch's changes
            reach the listeners then, in order (see :meth:`subscribe`).
        checkpoint_every
            Checkpoint the WAL into the main file, with the acknowledged count, every this
            many events (default: whenever the WAL reaches 1,000 pages, and at close).
        """
        return cls(config, EventLog.sqlite(path, log_meta(config), synchronous=synchronous,
                                           durability=durability,
                                           checkpoint_every=checkpoint_every))

    # ------------------------------------------------------------------ applying events
    def apply(self, event: Event) -> Outcome:
        """Apply one event; return its outcome once it is in the log."""
        handler = HANDLERS.get(type(event))
        if handler is None:
            raise EventError(f"not an event the engine applies: {event!r}")
        seq = self.seq + 1
        state = self.state
        change: Change | None = None
        ledger = state.ledger
        try:
            # One transaction over all the state: the ledger's journal and the rest's
            # (begin, rollback and end called here: ``ledger.transaction()`` would cost a
            # generator and a context manager per event).
            ledger.begin()
            try:
                state.begin()
                try:
                    ctx = HandlerContext(state)
                    rules = state.rules
                    if not rules.accepts(event.name):
                        message = rules.unsupported.get(
                            event.name, f"{rules.family} does not apply {event.name}")
                        ctx.refuse(Code.EVENT_NOT_SUPPORTED, message, event=event.name)
                    details = handler(ctx, event)
                    if ctx.details:
                        details = {**ctx.details, **details}
                    touched = ledger.touched_assets()
                    for asset in touched:
                        ledger.update_rates(asset)
                    if self.check_invariants:
                        ledger.check_transaction()
                    outcome = Outcome(seq, event, True, None, details)
                    self._write(outcome)
                    if self._listeners or self._apply_listeners:
                        reserves = ledger.reserves
                        change = Change(
                            outcome,
                            {a: ledger.accounts.get(a) for a in ledger.touched_accounts()},
                            # update_rates journals only assets already touched: the same
                            # list as before it.
                            {a: reserves[a] for a in touched},
                            state.changed_prices(),
                            state.changed_params(),
                            state.changed_perp_params(),
                            state.changed_addons(),
                        )
                except BaseException:
                    state.rollback()
                    raise
                finally:
                    state.end()
            except BaseException:
                ledger.rollback()
                raise
            finally:
                ledger.end()
        except Rejected as rejection:
            outcome = Outcome.refused(seq, event, rejection.refusal)
            self._write(outcome)
        self.seq = seq
        if state.genesis_closed_by is None and outcome.accepted:
            state.note_accepted(event)
        if change is not None:
            self._notify(self._apply_listeners, change)
            if self.log is not None and self.log.pending:
                self._queued.append(change)  # delivered when its batch is committed
            else:
                self._notify(self._listeners, change)
        return outcome

    def _notify(self, listeners: list[Listener], change: Change) -> None:
        # A listener cannot undo, fail or block the event (or the commit that delivers it).
        for listener in listeners:
            try:
                listener(change)
            except Exception as exc:
                note = f"listener {listener!r} failed on event {change.outcome.seq}: {exc!r}"
                self.listener_errors.append(note)
                _log.error(note)

    def _deliver(self) -> None:
        """Hand the queued changes, in order, to the commit listeners, once the log holds
        them all (a commit that failed keeps them queued with the records)."""
        if self.log is not None and self.log.pending:
            return
        queued, self._queued = self._queued, []
        for change in queued:
            self._notify(self._listeners, change)

    def subscribe(self, listener: Listener, when: ListenWhen = "commit") -> None:
        """Call ``listener`` with the :class:`Change` of every accepted event.

        Parameters
        ----------
        listener
            Called with each :class:`Change`, in the order of the events. One that raises
            is reported in :attr:`listener_errors` (and logged); the event and its commit
            stand.
        when
            ``"commit"`` (default): once the event is committed to the log, so a listener
            never hears of an event a crash could still lose. Per event that is before
            ``apply`` returns; per batch, at the batch's commit (:meth:`commit`, the end of
            a ``with engine.batch():`` block, :meth:`close`), every change of the batch in
            order; without a log, right after the event. ``"apply"``: right after the event
            is applied, before a per-batch log commits it: for a mirror of the engine's
            current state that the engine's own reads are compared with within a batch
            (the risk book: its candidates are confirmed on the engine's state).
        """
        if when == "commit":
            self._listeners.append(listener)
        elif when == "apply":
            self._apply_listeners.append(listener)
        else:
            raise ValueError(f"when: must be 'commit' or 'apply' (got {when!r})")

    def apply_all(self, events: Iterable[Event]) -> list[Outcome]:
        """Apply events in order."""
        return [self.apply(e) for e in events]

    def _write(self, outcome: Outcome) -> None:
        if self.log is not None:
            self.log.write_encoder(outcome.seq, outcome.name, outcome.accepted, outcome.to_json)

    def copy(self, accounts: Collection[str] | None = None) -> Engine:
        """An engine at this engine's state, independent of it, with no log and no
        listeners (:meth:`EngineState.copy`): the events this engine applies next
        leave it as it was, so it can be read in another thread while they are applied
        (the service's heatmap and what-if read their portfolio accounts so).

        Take it between events (not inside ``apply``; inside a ``batch()`` block it
        holds the events applied so far). Its :attr:`seq` is this engine's.

        Parameters
        ----------
        accounts
            Copy only these ledger accounts (every other one is absent from it: it is
            then for reads of these accounts); ``None``: the whole state (its
            :meth:`state_hash` is this engine's).
        """
        twin = Engine(self.config, check_invariants=self.check_invariants)
        twin.state = self.state.copy(accounts)
        twin.seq = self.seq
        return twin

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Commit the outcomes of the events applied in the block once, at its end.

        For a simulator step or a service tick: one commit per block instead of one per
        event, whatever the log's durability; a crash loses the block in progress (replay
        reaches the last whole block). Without a log it does nothing.
        """
        if self.log is None:
            yield
            return
        try:
            with self.log.batch():
                yield
        finally:
            self._deliver()

    def commit(self) -> None:
        """Commit the outcomes held by a per-batch log (nothing to do per event or without
        a log), then deliver their changes to the commit listeners; a :class:`LogError`
        leaves outcomes and changes held for a retry."""
        if self.log is not None:
            self.log.commit()
            self._deliver()

    def close(self) -> None:
        """Commit what is held, write the close record and close the log, if any (then
        deliver the changes just committed)."""
        if self.log is not None:
            self.log.close()
            self._deliver()

    # ------------------------------------------------------------------ reads
    def state_hash(self, omit: Collection[str] = ()) -> str:
        """SHA-256 over the ledger, the prices, the oracles, the auctions, the market
        conditions and the event count.

        ``omit``: parts of :meth:`~marginengine.engine.state.EngineState.hash_parts` left
        out (the hash an engine older than them computed; see :data:`LOG_ADDITIONS`)."""
        parts = self.state.hash_parts()
        if omit:
            parts = {k: v for k, v in parts.items() if k not in omit}
        return self.ledger.state_hash({"seq": self.seq, **parts})

    def borrowing_power(self, account_id: str, asset: str) -> int:
        """Units of ``asset`` the account could borrow at most now (initial margin)."""
        data = self.initial_account_data(account_id)
        _, debt = self.initial_prices()
        return data.available_borrows * self.config.markets[asset].unit // debt[asset]

    def liquidation_quote(self, account_id: str) -> LiquidationQuote:
        """The largest liquidation allowed now (see :func:`keeper.liquidation_quote`)."""
        return liquidation_quote(self, account_id)

    def liquidation_inputs(self, account_id: str) -> tuple[str, str, CloseFactorInputs] | None:
        """The pair a keeper liquidates and the close-factor inputs for it (see
        :func:`keeper.liquidation_inputs`)."""
        return liquidation_inputs(self, account_id)

    def liquidation_pause(self, account_id: str, debt_asset: str,
                          collateral_asset: str) -> Refusal | None:
        """Why a ``Liquidate`` of this pair is refused now whatever its amount (a
        reserve inactive or paused, the sentinel, a grace period), else ``None`` (see
        :func:`keeper.liquidation_pause`)."""
        return liquidation_pause(self, account_id, debt_asset, collateral_asset)

    def liquidation_plan(self, account_id: str, debt_asset: str, collateral_asset: str,
                         debt_to_cover: int) -> CloseFactorPlan | None:
        """What ``Liquidate(..., debt_to_cover)`` would do now (``None``: refused; an
        unknown asset raises ``FieldError`` naming it, see :func:`keeper.liquidation_plan`)."""
        return liquidation_plan(self, account_id, debt_asset, collateral_asset,
                                debt_to_cover)

    # ------------------------------------------------------------------ replay
    @classmethod
    def replay(cls, path: str | Path, verify: bool = True) -> tuple[Engine, ReplayReport]:
        """Rebuild an engine from a log, verifying it; stop at a torn tail and say so.

        Every record is verified by the store (chain, columns, acknowledged count; see
        docs/formats.md) before it is applied; damage raises :class:`LogError` naming the
        first bad event. With ``verify``, every replayed outcome must also equal the logged
        one (acceptance, outcome, event and details, and the refusal code and data where the
        log has them; refusal prose is compared only in format-2 logs without codes), or
        :class:`LogError` names the first event that diverges.
        """
        store = open_log(path)
        try:
            try:
                raw = logged_protocol(store.meta)
                config = validate_model(ProtocolConfig, raw, source=f"{path} (meta.protocol)")
            except (KeyError, ValueError, ConfigError) as exc:
                raise LogError(f"{path}: the log has no readable protocol ({exc})") from None
            engine = cls(config)
            legacy = store.format_version == "1"
            # The additions this log predates, and how many of its events showed it.
            older: dict[str, int] = {}
            for row in store.read():
                try:
                    logged = row.record["event"]
                    event = event_from_dict(logged)
                except (MarginEngineError, KeyError, TypeError) as exc:
                    raise LogError(f"{path}: event {row.seq} is malformed: {exc}") from None
                addition = LOG_ADDITIONS.get(event.name)
                if addition is not None and not addition.fields <= logged.keys():
                    older[event.name] = older.get(event.name, 0) + 1
                else:
                    addition = None
                outcome = engine.apply(event)
                if verify:
                    differ = _replay_differences(outcome, row, legacy, addition)
                    if differ:
                        raise LogError(
                            f"{path}: replay diverged at event {row.seq}: logged {row.outcome}, "
                            f"replayed {outcome.name} ({', '.join(differ)} differ)"
                        )
            status = store.status()
        finally:
            store.close()
        state_hash = engine.state_hash()
        writer_hash, writer_note = None, ""
        if older:
            omitted = [LOG_ADDITIONS[name] for name in sorted(older)]
            writer_hash = engine.state_hash(omit={a.hash_part for a in omitted})
            if writer_hash == state_hash:
                writer_hash = None  # nothing of the addition is in the state
            else:
                writer_note = "; ".join(
                    f"the log predates {a.what}: {older[name]} {name} event"
                    f"{'s' if older[name] != 1 else ''} without {' or '.join(sorted(a.fields))}"
                    f" (replayed at {a.defaults}); the state hash includes {a.hash_part}, "
                    f"the writer's did not"
                    for name, a in zip(sorted(older), omitted, strict=True))
        return engine, ReplayReport(status.events, state_hash, status.truncated,
                                    status.note, status.format_version, writer_hash,
                                    writer_note)


def _replay_differences(outcome: Outcome, row: LogRecord, legacy: bool,
                        addition: LogAddition | None = None) -> list[str]:
    """The fields in which a replayed outcome differs from the logged one.

    The fields the log holds are compared (a newer engine may record more), refusal codes
    and data included. Refusal prose is a message for people, not a contract: it is
    compared only in a format-2 log without refusal codes, never in format 1.

    ``addition``: what the logged event's type gained since this log was written (its
    record lacks the fields): the event is compared without those fields (the replay
    took their defaults) and the details without those added.
    """
    replayed = json.loads(outcome.to_json())
    logged = row.record
    if addition is not None:
        replayed["event"] = {k: v for k, v in replayed["event"].items()
                             if k not in addition.fields or k in logged["event"]}
        replayed["details"] = {k: v for k, v in replayed["details"].items()
                               if k not in addition.details}
    keys = {"seq", "outcome", "event", "accepted", "details"} | set(logged)
    if legacy or "code" in logged:
        keys.discard("reason")
    return sorted(k for k in keys if replayed.get(k) != logged.get(k))


__all__ = [
    "LOG_ADDITIONS",
    "Change",
    "Engine",
    "LiquidationQuote",
    "LogAddition",
    "Rejected",
    "ReplayReport",
    "fmt_health",
    "fmt_usd",
]
