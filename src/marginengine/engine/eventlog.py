"""Append-only SQLite event log (WAL): every outcome, written before it is acknowledged.

Each row holds the sequence number, the outcome name, the JSON payload and a checksum of
the payload, so a reader can tell a whole event from a torn one. The ``meta`` table holds
the format version and the protocol configuration, so a log replays on its own.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from marginengine.errors import LogError

FORMAT_VERSION = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    outcome TEXT NOT NULL,
    accepted INTEGER NOT NULL,
    payload TEXT NOT NULL,
    checksum TEXT NOT NULL
);
"""


def checksum(payload: str) -> str:
    """First 32 hex digits of the payload's SHA-256."""
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


def encode(record: dict[str, Any]) -> str:
    """Canonical JSON of one record."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"))


class EventLog:
    """Writer of a new event log.

    Parameters
    ----------
    path
        The SQLite file to create; it must not exist yet (a log is never overwritten).
    meta
        Key-value pairs stored once (the protocol configuration, as JSON).
    synchronous
        SQLite's ``synchronous`` setting: ``FULL`` (default) survives power loss;
        ``NORMAL`` survives a crash of the process.
    """

    def __init__(self, path: str | Path, meta: dict[str, str],
                 synchronous: str = "FULL") -> None:
        self.path = Path(path)
        if self.path.exists():
            raise LogError(f"{self.path}: already exists; an event log is never overwritten")
        if synchronous not in ("FULL", "NORMAL", "OFF"):
            raise LogError(f"synchronous: must be FULL, NORMAL or OFF (got {synchronous!r})")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={synchronous}")
            self._db.executescript(_SCHEMA)
            with self._db:
                self._db.execute("BEGIN")
                self._db.executemany(
                    "INSERT INTO meta(key, value) VALUES (?, ?)",
                    [("format_version", FORMAT_VERSION), *sorted(meta.items())],
                )
        except sqlite3.Error as exc:
            raise LogError(f"{self.path}: cannot create the event log: {exc}") from None
        self.count = 0

    def append(self, seq: int, outcome: str, accepted: bool, record: dict[str, Any]) -> None:
        """Write one event durably (committed when this returns)."""
        payload = encode(record)
        try:
            self._db.execute(
                "INSERT INTO events(seq, outcome, accepted, payload, checksum) "
                "VALUES (?, ?, ?, ?, ?)",
                (seq, outcome, int(accepted), payload, checksum(payload)),
            )
        except sqlite3.Error as exc:
            raise LogError(f"{self.path}: cannot append event {seq}: {exc}") from None
        self.count += 1

    def close(self) -> None:
        """Checkpoint the WAL into the main file and close."""
        try:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._db.close()
        except sqlite3.Error as exc:
            raise LogError(f"{self.path}: cannot close the event log: {exc}") from None


@dataclass(frozen=True)
class LogRecord:
    """One whole event read back from a log."""

    seq: int
    outcome: str
    accepted: bool
    record: dict[str, Any]


@dataclass
class LogReader:
    """Reader of an event log: its meta table and its whole events, in order.

    After iterating, ``truncated`` tells whether the log ended in a torn event (a last
    row whose payload does not match its checksum or cannot be read), and ``note`` says
    where.
    """

    path: Path
    truncated: bool = False
    note: str = ""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.truncated = False
        self.note = ""
        if not self.path.is_file():
            raise LogError(f"{self.path}: no such event log")
        try:
            self._db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
            rows = self._db.execute("SELECT key, value FROM meta").fetchall()
        except sqlite3.Error as exc:
            raise LogError(f"{self.path}: not a readable event log ({exc})") from None
        self.meta = dict(rows)
        if self.meta.get("format_version") != FORMAT_VERSION:
            raise LogError(
                f"{self.path}: unsupported log format {self.meta.get('format_version')!r}"
            )

    def __iter__(self) -> Iterator[LogRecord]:
        expected = 1
        pending: LogRecord | None = None
        bad: str | None = None
        try:
            cursor = self._db.execute(
                "SELECT seq, outcome, accepted, payload, checksum FROM events ORDER BY seq"
            )
            for seq, outcome, accepted, payload, check in cursor:
                if bad is not None:
                    raise LogError(f"{self.path}: corrupt event {expected - 1}: {bad}")
                if pending is not None:
                    yield pending
                    pending = None
                if seq != expected:
                    raise LogError(f"{self.path}: event {expected} is missing (found {seq})")
                expected += 1
                bad = self._check(payload, check)
                if bad is None:
                    pending = LogRecord(seq, outcome, bool(accepted), json.loads(payload))
        except sqlite3.DatabaseError as exc:
            # The file itself was cut off: keep what was read whole.
            if pending is not None:
                yield pending
            self.truncated = True
            self.note = f"the log's storage ends mid-write after event {expected - 1} ({exc})"
            return
        if pending is not None:
            yield pending
        if bad is not None:
            self.truncated = True
            self.note = f"the last event ({expected - 1}) was cut off: {bad}; ignored"

    @staticmethod
    def _check(payload: object, check: object) -> str | None:
        if not isinstance(payload, str) or checksum(payload) != check:
            return "its payload does not match its checksum"
        try:
            json.loads(payload)
        except ValueError:
            return "its payload is not whole JSON"
        return None

    def close(self) -> None:
        """Close the file."""
        self._db.close()
