"""The engine core: applies events in one journalled transaction, logs every outcome, and
tells listeners what changed.

For each event the core finds its handler in the one table
(:data:`~marginengine.engine.handlers.HANDLERS`), checks that the protocol's rule family
accepts it, and runs it with a :class:`~marginengine.engine.context.HandlerContext` inside
one transaction over all the state (ledger, prices, oracles, auctions, conditions). It
then refreshes the rates of the assets touched, checks conservation and writes the outcome
to the log; only then is the outcome returned. A refused event is rolled back everywhere
and logged as ``<Type>Rejected`` with its code, message and data. After the commit,
listeners receive the values that changed; a listener that raises is reported, never
propagated. Same events, same state hash.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from marginengine.config import ProtocolConfig, validate_model
from marginengine.decisions import Code
from marginengine.engine.context import HandlerContext
from marginengine.engine.eventlog import EventLog, LogReader
from marginengine.engine.events import Event, Outcome, event_from_dict
from marginengine.engine.handlers import HANDLERS
from marginengine.engine.keeper import LiquidationQuote, liquidation_plan, liquidation_quote
from marginengine.engine.rejected import Rejected, fmt_health, fmt_usd
from marginengine.engine.state import EngineState, StateReads
from marginengine.errors import ConfigError, EventError, LogError, MarginEngineError
from marginengine.ledger import Account, ReserveState
from marginengine.liquidation import CloseFactorPlan

_log = logging.getLogger(__name__)


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
    """

    outcome: Outcome
    accounts: Mapping[str, Account | None] = field(default_factory=dict)
    assets: Mapping[str, ReserveState] = field(default_factory=dict)
    prices: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ReplayReport:
    """What ``replay`` found: the events applied, the state hash, and any truncation."""

    events: int
    state_hash: str
    truncated: bool
    note: str


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
        self._listeners: list[Callable[[Change], None]] = []

    @classmethod
    def with_log(cls, config: ProtocolConfig, path: str | Path,
                 synchronous: str = "FULL") -> Engine:
        """An engine writing a new SQLite event log at ``path``."""
        meta = {"protocol": json.dumps(config.model_dump(mode="json"), sort_keys=True)}
        return cls(config, EventLog(path, meta, synchronous=synchronous))

    # ------------------------------------------------------------------ applying events
    def apply(self, event: Event) -> Outcome:
        """Apply one event; return its outcome once it is in the log."""
        handler = HANDLERS.get(type(event))
        if handler is None:
            raise EventError(f"not an event the engine applies: {event!r}")
        seq = self.seq + 1
        state = self.state
        change: Change | None = None
        try:
            with state.transaction():
                ctx = HandlerContext(state)
                if not self.rules.accepts(event.name):
                    message = self.rules.unsupported.get(
                        event.name, f"{self.rules.family} does not apply {event.name}")
                    ctx.refuse(Code.EVENT_NOT_SUPPORTED, message, event=event.name)
                details = {**ctx.details, **handler(ctx, event)}
                ledger = state.ledger
                for asset in ledger.touched_assets():
                    ledger.update_rates(asset)
                if self.check_invariants:
                    ledger.check_transaction()
                outcome = Outcome(seq, event, True, None, details)
                self._write(outcome)
                if self._listeners:
                    change = Change(
                        outcome,
                        {a: ledger.accounts.get(a) for a in ledger.touched_accounts()},
                        {a: ledger.reserves[a] for a in ledger.touched_assets()},
                        state.changed_prices(),
                    )
        except Rejected as rejection:
            outcome = Outcome.refused(seq, event, rejection.refusal)
            self._write(outcome)
        self.seq = seq
        if change is not None:
            self._notify(change)
        return outcome

    def _notify(self, change: Change) -> None:
        # After the commit: a listener cannot undo, fail or block the event.
        for listener in self._listeners:
            try:
                listener(change)
            except Exception as exc:
                note = f"listener {listener!r} failed on event {change.outcome.seq}: {exc!r}"
                self.listener_errors.append(note)
                _log.error(note)

    def subscribe(self, listener: Callable[[Change], None]) -> None:
        """Call ``listener`` with the :class:`Change` of every accepted event, after it is
        logged and committed. A listener that raises is reported in
        :attr:`listener_errors` (and logged); the event stands."""
        self._listeners.append(listener)

    def apply_all(self, events: Iterable[Event]) -> list[Outcome]:
        """Apply events in order."""
        return [self.apply(e) for e in events]

    def _write(self, outcome: Outcome) -> None:
        if self.log is not None:
            self.log.append(outcome.seq, outcome.name, outcome.accepted, outcome.to_dict())

    def close(self) -> None:
        """Close the log, if any."""
        if self.log is not None:
            self.log.close()

    # ------------------------------------------------------------------ reads
    def state_hash(self) -> str:
        """SHA-256 over the ledger, the prices, the oracles, the auctions, the market
        conditions and the event count."""
        return self.ledger.state_hash({"seq": self.seq, **self.state.hash_parts()})

    def borrowing_power(self, account_id: str, asset: str) -> int:
        """Units of ``asset`` the account could borrow at most now (initial margin)."""
        data = self.initial_account_data(account_id)
        _, debt = self.initial_prices()
        return data.available_borrows * self.config.markets[asset].unit // debt[asset]

    def liquidation_quote(self, account_id: str) -> LiquidationQuote:
        """The largest liquidation allowed now (see :func:`keeper.liquidation_quote`)."""
        return liquidation_quote(self, account_id)

    def liquidation_plan(self, account_id: str, debt_asset: str, collateral_asset: str,
                         debt_to_cover: int) -> CloseFactorPlan | None:
        """What ``Liquidate(..., debt_to_cover)`` would do now (``None``: refused)."""
        return liquidation_plan(self, account_id, debt_asset, collateral_asset,
                                debt_to_cover)

    # ------------------------------------------------------------------ replay
    @classmethod
    def replay(cls, path: str | Path, verify: bool = True) -> tuple[Engine, ReplayReport]:
        """Rebuild an engine from a log; stop at a torn last event and say so.

        With ``verify``, every replayed outcome must make the logged decision (same
        acceptance and details; for a refusal the same code and data, never the message,
        which may be reworded), or :class:`LogError` names the first event that diverges.
        A log written before refusals had codes is compared on acceptance and details.
        """
        reader = LogReader(path)
        try:
            raw = json.loads(reader.meta["protocol"])
            config = validate_model(ProtocolConfig, raw, source=f"{path} (meta.protocol)")
        except (KeyError, ValueError, ConfigError) as exc:
            reader.close()
            raise LogError(f"{path}: the log has no readable protocol ({exc})") from None
        engine = cls(config)
        count = 0
        try:
            for row in reader:
                try:
                    event = event_from_dict(row.record["event"])
                except (MarginEngineError, KeyError, TypeError) as exc:
                    raise LogError(f"{path}: event {row.seq} is malformed: {exc}") from None
                outcome = engine.apply(event)
                if verify and not _same_decision(outcome, row.accepted, row.record):
                    raise LogError(
                        f"{path}: replay diverged at event {row.seq}: logged {row.outcome}, "
                        f"replayed {outcome.name}"
                    )
                count += 1
        finally:
            reader.close()
        return engine, ReplayReport(count, engine.state_hash(), reader.truncated, reader.note)


def _plain(value: object) -> object:
    return json.loads(json.dumps(value))


def _same_decision(outcome: Outcome, accepted: bool, record: dict[str, Any]) -> bool:
    """Whether a replayed outcome makes the logged decision: codes and data, not prose."""
    if outcome.accepted != accepted:
        return False
    if outcome.accepted:
        return _plain(outcome.details) == record.get("details")
    if "code" not in record:  # written before refusals had codes
        return True
    return outcome.code == record.get("code") and _plain(outcome.data) == record.get("data")


__all__ = [
    "Change",
    "Engine",
    "LiquidationQuote",
    "Rejected",
    "ReplayReport",
    "fmt_health",
    "fmt_usd",
]
