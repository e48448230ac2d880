"""The engine's event log: a store plus a durability, per event or per batch.

The engine hands every outcome to :meth:`EventLog.write` inside its transaction. With
per-event durability the outcome is committed there, before ``apply`` returns (a failure to
write raises :class:`~marginengine.errors.LogError` and the engine rolls the event back).
With per-batch durability, and inside any ``with log.batch():`` block, outcomes are encoded
and held in memory, then committed together, once, by :meth:`EventLog.commit` (or the end of
the outermost block, or :meth:`EventLog.close`): a crash loses the batch in progress and
replay ends at the last whole batch.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from marginengine.errors import LogError
from marginengine.persistence.chain import encode
from marginengine.persistence.sqlite_store import SQLiteStore
from marginengine.persistence.store import Durability, EventRecord, LogStore


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
        self._pending: list[EventRecord] = []
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
        """Log one outcome: committed now (per event), or held for the batch's commit."""
        entry = EventRecord(seq, outcome, accepted, encode(record))
        if self.durability is Durability.EVENT and self._depth == 0:
            self.store.append((entry,))
        else:
            self._pending.append(entry)

    def commit(self) -> None:
        """Commit the outcomes held, in one transaction (nothing to do per event).

        On failure they stay held, so a later commit (or close) can retry.
        """
        if self._pending:
            self.store.append(self._pending)
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
