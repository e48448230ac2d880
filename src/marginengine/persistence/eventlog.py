"""The engine's event log: a store plus a durability, per event or per batch.

The engine hands every outcome, with its encoder, to :meth:`EventLog.write_encoder` inside
its transaction. With per-event durability the outcome is committed there, before ``apply``
returns (a failure to write raises :class:`~marginengine.errors.LogError` and the engine
rolls the event back: nothing is acknowledged that is not durable, and the state never runs
ahead of the log). With per-batch durability, and inside any ``with log.batch():`` block,
outcomes are held in memory, then encoded, chained and committed together, once, with
one ``executemany`` and one acknowledgement-file write, by :meth:`EventLog.commit` (or the
end of the outermost block, or :meth:`EventLog.close`): a crash loses the batch in progress
and replay ends at the last whole batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

from marginengine.errors import LogError
from marginengine.persistence.chain import encode
from marginengine.persistence.sqlite_store import SQLiteStore
from marginengine.persistence.store import Durability, EventRecord, LogStore


class _Held(NamedTuple):
    """An outcome held for a batch, with its payload's encoder (called at the commit)."""

    seq: int
    outcome: str
    accepted: bool
    payload: Callable[[], str]


class EventLog:
    """Outcomes to a :class:`~marginengine.persistence.LogStore`, with a durability.

    Parameters
    ----------
    store
        Where the outcomes go (a writer).
    durability
        ``"event"`` (default): each outcome is committed before ``write`` returns, except
        inside :meth:`batch`; ``"batch"``: outcomes wait for :meth:`commit`.
    """

    def __init__(self, store: LogStore, durability: Durability | str = Durability.EVENT) -> None:
        try:
            self.durability = Durability(durability)
        except ValueError:
            raise LogError(f"durability: must be 'event' or 'batch' (got {durability!r})") from None
        self.store = store
        self._pending: list[EventRecord | _Held] = []
        self._depth = 0

    @classmethod
    def sqlite(cls, path: str | Path, meta: Mapping[str, str], *, synchronous: str = "FULL",
               durability: Durability | str = Durability.EVENT,
               checkpoint_every: int | None = None) -> EventLog:
        """A new SQLite log at ``path`` (see :meth:`SQLiteStore.create`)."""
        try:
            chosen = Durability(durability)
        except ValueError:
            raise LogError(f"durability: must be 'event' or 'batch' (got {durability!r})") from None
        store = SQLiteStore.create(path, meta, synchronous=synchronous,
                                   checkpoint_every=checkpoint_every)
        return cls(store, chosen)

    @property
    def count(self) -> int:
        """Outcomes committed."""
        return self.store.count

    @property
    def pending(self) -> int:
        """Outcomes written but not committed yet (per batch)."""
        return len(self._pending)

    def write(self, seq: int, outcome: str, accepted: bool, record: Mapping[str, Any]) -> None:
        """Log one outcome record (encoded with :func:`~marginengine.persistence.encode`):
        committed now (per event), or held for the batch's commit."""
        self.write_json(seq, outcome, accepted, encode(record))

    def write_json(self, seq: int, outcome: str, accepted: bool, payload: str) -> None:
        """:meth:`write` for a record already encoded as
        :func:`~marginengine.persistence.encode` writes it."""
        if self.durability is Durability.EVENT and self._depth == 0:
            self.store.append((EventRecord(seq, outcome, accepted, payload),))
        else:
            self._pending.append(EventRecord(seq, outcome, accepted, payload))

    def write_encoder(self, seq: int, outcome: str, accepted: bool,
                      payload: Callable[[], str]) -> None:
        """:meth:`write_json` with the payload's encoder (the engine's ``Outcome.to_json``):
        per event, encoded and committed now; held for a batch, encoded at its commit, all
        the batch's records in one pass (cheaper than one at a time between events: the
        encoder stays warm). The encoder must give the same payload then as now: an
        outcome's record is its own and is not changed after ``apply`` returns it."""
        if self.durability is Durability.EVENT and self._depth == 0:
            self.store.append((EventRecord(seq, outcome, accepted, payload()),))
        else:
            self._pending.append(_Held(seq, outcome, accepted, payload))

    def commit(self) -> None:
        """Encode the records held by their encoders, then commit them all in one
        transaction (nothing to do per event).

        On failure they stay held (encoded), so a later commit (or close) can retry.
        """
        if not self._pending:
            return
        records: list[EventRecord] = []
        for held in self._pending:
            if isinstance(held, EventRecord):
                records.append(held)
                continue
            try:
                records.append(EventRecord(held.seq, held.outcome, held.accepted,
                                           held.payload()))
            except (TypeError, ValueError) as exc:  # a record that is not JSON: a bug
                raise LogError(f"cannot encode event {held.seq} ({held.outcome}): "
                               f"{exc}") from None
        self._pending = list(records)
        self.store.append(records)
        self._pending = []

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Hold outcomes until the end of the (outermost) block, then commit them once.

        The commit happens even if the block raises: outcomes already returned by ``apply``
        are part of the engine's state, so the log must hold them too.
        """
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            if self._depth == 0:
                self.commit()

    def close(self) -> None:
        """Commit what is held, then close the store."""
        try:
            self.commit()
        finally:
            self.store.close()
