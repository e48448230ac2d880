"""The log-store protocol: what every event-log backend provides, and the records it holds.

A store appends *batches* of events, each batch one atomic, durable commit; reads them back
in order, verifying each one; and says at the end whether the log is whole, ends in a torn
(unacknowledged) write, or is damaged (then :class:`~marginengine.errors.LogError` names the
first bad event). SQLite (:mod:`marginengine.persistence.sqlite_store`) is the default
store; a PostgreSQL store would implement the same protocol (``append`` as one transaction,
the chain and checkpoint record as columns), and nothing above this layer would change.

How often the engine commits is the *durability* (:class:`Durability`), chosen by the
caller, not by the store: per event, per batch, or no log at all.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NamedTuple, Protocol


class Durability(StrEnum):
    """When an outcome becomes durable.

    ``EVENT``
        Every event is committed before ``Engine.apply`` returns it (the engine API's
        default). A crash loses no acknowledged event.
    ``BATCH``
        Outcomes are held in memory and committed together by ``Engine.commit()`` or at the
        end of a ``with engine.batch():`` block (a simulator step, a service tick): one commit
        per batch. A crash loses the batch in progress; replay reaches the last whole batch.

    No log at all (Monte Carlo, what-if copies) is ``Engine(config)``: nothing is durable
    and nothing is written.
    """

    EVENT = "event"
    BATCH = "batch"


class EventRecord(NamedTuple):
    """One outcome to append: its sequence number, name, acceptance and encoded record.

    ``payload`` is the JSON of the outcome (:func:`marginengine.persistence.encode`); the
    store chains and stores it as is. (A named tuple: one is built per event, cheaply.)
    """

    seq: int
    outcome: str
    accepted: bool
    payload: str


@dataclass(frozen=True)
class LogRecord:
    """One whole, verified event read back from a log."""

    seq: int
    outcome: str
    accepted: bool
    record: dict[str, Any]
    checksum: str


@dataclass(frozen=True)
class LogStatus:
    """What a complete read of a log found (every event before it was verified).

    Attributes
    ----------
    events
        Whole events read.
    truncated
        The log does not end with a clean close: its writer stopped (or is still writing),
        and, if ``note`` says so, its last, unacknowledged write was torn and is ignored.
        Every acknowledged event is among ``events``.
    note
        What the reader found at the end, in words (empty for a closed, whole log).
    format_version
        The log's format (``"1"``: records not chained, no acknowledged count; ``"2"``).
    acknowledged
        How many events the writer had acknowledged, as far as the log records it (the
        close record, else the larger of the last checkpoint and the acknowledgement file;
        ``None`` for format 1, which does not record it).
    """

    events: int
    truncated: bool
    note: str
    format_version: str
    acknowledged: int | None


class LogStore(Protocol):
    """An event log: append batches, read and verify them, open and close.

    A writer is created with its meta (never over an existing log); a reader opens an
    existing log read-only and never changes it.
    """

    @property
    def meta(self) -> Mapping[str, str]:
        """Key-value pairs stored once at creation (``protocol``: the configuration)."""
        ...

    @property
    def format_version(self) -> str:
        """The log's format version."""
        ...

    @property
    def count(self) -> int:
        """Events durably appended (a writer) or read so far (a reader)."""
        ...

    def append(self, batch: Sequence[EventRecord]) -> None:
        """Commit ``batch`` atomically and durably; when this returns, it is acknowledged.

        Raises :class:`~marginengine.errors.LogError` (and writes nothing) if it cannot.
        """
        ...

    def read(self) -> Iterator[LogRecord]:
        """Every whole event, in order, each verified before it is yielded.

        Raises :class:`~marginengine.errors.LogError` at the first damaged event, or at the
        end if acknowledged events are missing; afterwards :meth:`status` says how it ended.
        """
        ...

    def status(self) -> LogStatus:
        """How the last complete :meth:`read` ended."""
        ...

    def verify(self) -> LogStatus:
        """Read the whole log without applying it; its status (or a LogError)."""
        ...

    def close(self) -> None:
        """Commit the close record (a writer) and release the files."""
        ...
