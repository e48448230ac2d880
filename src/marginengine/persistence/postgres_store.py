"""The PostgreSQL event log: the SQLite store's chained records, in three tables.

Layout (in the schema the connection's ``search_path`` names, ``public`` by default)::

    marginengine_meta(key text primary key, value text)
        format_version ("2"), protocol (JSON), meta_checksum (also the chain's start)
    marginengine_events(seq bigint primary key, outcome text, accepted boolean,
                        payload text, checksum text)
        one row per outcome, chained exactly as in SQLite (persistence.chain.event_digest)
    marginengine_checkpoint(id = 1, acknowledged, last_checksum, closed, checksum)
        rewritten in the same transaction as every batch

Durability: :meth:`PostgresStore.append` is one transaction (the rows, the checkpoint record
and a ``NOTIFY``), committed with the server's ``synchronous_commit`` (on by default: the
commit is flushed to the server's WAL before it returns). PostgreSQL never exposes half a
transaction, so there is no torn tail: a reader sees whole batches, and the checkpoint
record always holds the count and digest of the last one, so a lost or extra row is damage.

Writers: one at a time, held by a session-level advisory lock; it is released when the
writer's connection ends, even by ``kill -9`` (the server notices the closed socket), so a
restarted service can :meth:`PostgresStore.resume` the log: verify it whole, then go on
appending to the same chain. Followers ``LISTEN`` on :data:`CHANNEL` (the payload is the
last sequence number committed) and read the new rows with :meth:`PostgresStore.read_after`.

psycopg (3) is imported when a store is opened: ``pip install 'marginengine[serve]'``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from marginengine.errors import LogError
from marginengine.persistence.chain import checkpoint_digest, event_digest, meta_digest
from marginengine.persistence.store import EventRecord, LogRecord, LogStatus

FORMAT_VERSION = "2"
#: The LISTEN/NOTIFY channel; the payload is the last sequence number committed.
CHANNEL = "marginengine_log"
#: Advisory-lock key of the single writer (an arbitrary constant: "MELOG" in ASCII).
WRITER_LOCK = 0x4D454C4F47
URL_PREFIXES = ("postgresql://", "postgres://")

_SCHEMA = (
    "CREATE TABLE marginengine_meta (key text PRIMARY KEY, value text NOT NULL)",
    "CREATE TABLE marginengine_events (seq bigint PRIMARY KEY, outcome text NOT NULL, "
    "accepted boolean NOT NULL, payload text NOT NULL, checksum text NOT NULL)",
    "CREATE TABLE marginengine_checkpoint (id integer PRIMARY KEY CHECK (id = 1), "
    "acknowledged bigint NOT NULL, last_checksum text NOT NULL, closed boolean NOT NULL, "
    "checksum text NOT NULL)",
)
_INSERT = ("INSERT INTO marginengine_events(seq, outcome, accepted, payload, checksum) "
           "VALUES (%s, %s, %s, %s, %s)")
_CHECKPOINT = ("UPDATE marginengine_checkpoint SET acknowledged = %s, last_checksum = %s, "
               "closed = %s, checksum = %s WHERE id = 1")


def is_postgres_url(target: object) -> bool:
    """Whether ``target`` is a PostgreSQL connection URL (``postgresql://...``)."""
    return isinstance(target, str) and target.startswith(URL_PREFIXES)


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    head, sep, rest = url.partition("://")
    creds, at, host = rest.rpartition("@")
    if not at:
        return url
    user = creds.partition(":")[0]
    return f"{head}{sep}{user}:***@{host}" if ":" in creds else url


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise LogError("a PostgreSQL log needs psycopg: pip install 'marginengine[serve]'"
                       ) from None
    return psycopg


@dataclass(frozen=True)
class _Checkpoint:
    acknowledged: int
    last: str
    closed: bool


class PostgresStore:
    """The PostgreSQL log store; build one with :meth:`create`, :meth:`resume` (writers)
    or :meth:`open` (reader). Implements :class:`marginengine.persistence.LogStore`."""

    def __init__(self, url: str, conn: Any, meta: dict[str, str], *, writer: bool,
                 count: int = 0, last: str | None = None) -> None:
        self.url = url
        self._conn = conn
        self._meta = meta
        self._writer = writer
        self._digest = meta["meta_checksum"]
        self._last = last if last is not None else self._digest
        self._count = count
        self._closed = False
        self._status: LogStatus | None = None

    @property
    def where(self) -> str:
        """The URL without its password."""
        return redact(self.url)

    # ------------------------------------------------------------------ protocol
    @property
    def meta(self) -> Mapping[str, str]:
        """The meta pairs (``format_version``, ``protocol``, ...)."""
        return self._meta

    @property
    def format_version(self) -> str:
        """Always ``"2"`` (the chained format)."""
        return FORMAT_VERSION

    @property
    def count(self) -> int:
        """Events appended (writer) or read so far (reader)."""
        return self._count

    # ------------------------------------------------------------------ connecting
    @classmethod
    def _connect(cls, url: str) -> Any:
        psycopg = _psycopg()
        try:
            return psycopg.connect(url, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise LogError(f"{redact(url)}: cannot connect to PostgreSQL ({first})") from None
        except UnicodeError:
            # Raised by the resolver (the idna codec), not psycopg: an "internal error".
            raise LogError(f"{redact(url)}: cannot connect to PostgreSQL (the host name is "
                           "not a valid DNS name: a label longer than 63 characters, or "
                           "empty)") from None

    @classmethod
    def _lock(cls, url: str, conn: Any) -> None:
        got = conn.execute("SELECT pg_try_advisory_lock(%s)", (WRITER_LOCK,)).fetchone()[0]
        if not got:
            conn.close()
            raise LogError(f"{redact(url)}: another writer holds this log (one writer at a "
                           f"time)")

    @staticmethod
    def _exists(conn: Any) -> bool:
        row = conn.execute("SELECT to_regclass('marginengine_meta')").fetchone()
        return row[0] is not None

    # ------------------------------------------------------------------ writing
    @classmethod
    def create(cls, url: str, meta: Mapping[str, str]) -> PostgresStore:
        """A new, empty log in the database (and schema) ``url`` names; never over an
        existing one. The tables and the meta appear in one transaction."""
        psycopg = _psycopg()
        conn = cls._connect(url)
        try:
            cls._lock(url, conn)
            if cls._exists(conn):
                raise LogError(f"{redact(url)}: already holds an event log; an event log is "
                               f"never overwritten (resume it, or use another database)")
            pairs = {"format_version": FORMAT_VERSION, **dict(meta)}
            digest = meta_digest(pairs)
            pairs["meta_checksum"] = digest
            with conn.transaction():
                for statement in _SCHEMA:
                    conn.execute(statement)
                with conn.cursor() as cur:
                    cur.executemany("INSERT INTO marginengine_meta(key, value) VALUES (%s, %s)",
                                    sorted(pairs.items()))
                conn.execute("INSERT INTO marginengine_checkpoint VALUES (1, 0, %s, false, %s)",
                             (digest, checkpoint_digest(digest, 0, digest, 0)))
        except psycopg.Error as exc:
            conn.close()
            raise LogError(f"{redact(url)}: cannot create the event log ({exc})") from None
        except BaseException:
            conn.close()
            raise
        return cls(url, conn, pairs, writer=True)

    @classmethod
    def resume(cls, url: str) -> tuple[PostgresStore, list[LogRecord]]:
        """Reopen an existing log for appending, after a crash or a clean close.

        The whole log is read and verified first (as :meth:`read` does); the store then
        goes on with the same chain. Returns the store and the records read, for the
        caller to replay. A closed log is reopened (its close record is rewritten by the
        next batch).
        """
        conn = cls._connect(url)
        try:
            cls._lock(url, conn)
            if not cls._exists(conn):
                raise LogError(f"{redact(url)}: holds no event log to resume")
            reader = cls(url, conn, cls._read_meta(url, conn), writer=False)
            records = list(reader.read())
        except BaseException:
            conn.close()
            raise
        store = cls(url, conn, reader._meta, writer=True, count=len(records),
                    last=records[-1].checksum if records else None)
        return store, records

    def append(self, batch: Sequence[EventRecord]) -> None:
        """Commit ``batch`` (rows, checkpoint record, NOTIFY) as one transaction."""
        if not batch:
            return
        psycopg = _psycopg()
        first = batch[0].seq
        if not self._writer or self._closed:
            raise LogError(f"{self.where}: cannot append event {first}: the log is "
                           f"{'closed' if self._writer else 'open for reading only'}")
        rows: list[tuple[int, str, bool, str, str]] = []
        last, expected = self._last, self._count + 1
        for record in batch:
            if record.seq != expected:
                raise LogError(f"{self.where}: cannot append event {record.seq}: the next "
                               f"event of this log is {expected}")
            last = event_digest(last, record.seq, record.outcome.encode(),
                                1 if record.accepted else 0, record.payload.encode())
            rows.append((record.seq, record.outcome, record.accepted, record.payload, last))
            expected += 1
        count = expected - 1
        try:
            with self._conn.transaction():
                with self._conn.cursor() as cur:
                    cur.executemany(_INSERT, rows)
                self._conn.execute(_CHECKPOINT, (count, last, False, checkpoint_digest(
                    self._digest, count, last, 0)))
                self._conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, str(count)))
        except psycopg.Error as exc:
            raise LogError(f"{self.where}: cannot append event {first}: {exc}") from None
        self._count, self._last = count, last

    def close(self) -> None:
        """Write the close record and disconnect (a reader just disconnects)."""
        if self._closed:
            return
        self._closed = True
        psycopg = _psycopg()
        try:
            if self._writer:
                self._conn.execute(_CHECKPOINT, (self._count, self._last, True,
                                                 checkpoint_digest(self._digest, self._count,
                                                                   self._last, 1)))
        except psycopg.Error as exc:
            raise LogError(f"{self.where}: cannot close the event log: {exc}") from None
        finally:
            self._conn.close()

    def disconnect(self) -> None:
        """Drop the connection without a close record (the log stays as it is, not closed;
        the writer's lock is released)."""
        if not self._closed:
            self._closed = True
            self._conn.close()

    # ------------------------------------------------------------------ reading
    @classmethod
    def open(cls, url: str) -> PostgresStore:
        """Open an existing log for reading, changing nothing."""
        conn = cls._connect(url)
        try:
            if not cls._exists(conn):
                raise LogError(f"{redact(url)}: holds no event log")
            meta = cls._read_meta(url, conn)
        except BaseException:
            conn.close()
            raise
        return cls(url, conn, meta, writer=False)

    @staticmethod
    def _read_meta(url: str, conn: Any) -> dict[str, str]:
        rows = conn.execute("SELECT key, value FROM marginengine_meta").fetchall()
        meta = {str(k): str(v) for k, v in rows}
        if meta.get("format_version") != FORMAT_VERSION:
            raise LogError(f"{redact(url)}: unsupported log format "
                           f"{meta.get('format_version')!r}")
        stored = meta.get("meta_checksum")
        pairs = {k: v for k, v in meta.items() if k != "meta_checksum"}
        if stored is None or meta_digest(pairs) != stored:
            raise LogError(f"{redact(url)}: meta is damaged: its pairs do not match "
                           f"meta_checksum")
        return meta

    def _checkpoint(self) -> _Checkpoint:
        rows = self._conn.execute("SELECT id, acknowledged, last_checksum, closed, checksum "
                                  "FROM marginengine_checkpoint").fetchall()
        if len(rows) != 1:
            raise LogError(f"{self.where}: the checkpoint record is damaged ({len(rows)} rows)")
        _, acknowledged, last, closed, check = rows[0]
        if checkpoint_digest(self._digest, acknowledged, last, int(closed)) != check:
            raise LogError(f"{self.where}: the checkpoint record is damaged (its checksum "
                           f"does not match)")
        return _Checkpoint(int(acknowledged), str(last), bool(closed))

    def read(self) -> Iterator[LogRecord]:
        """Every event in order, each verified (chain, columns) before it is yielded; at the
        end, the count and last digest must match the checkpoint record."""
        return self._read(0, self._digest, check_end=True)

    def read_after(self, seq: int, digest: str) -> Iterator[LogRecord]:
        """The events after ``seq`` (whose chain digest is ``digest``), verified: what a
        follower reads once notified. The checkpoint is not compared (more may come)."""
        return self._read(seq, digest, check_end=False)

    def _read(self, after: int, prev: str, check_end: bool) -> Iterator[LogRecord]:
        psycopg = _psycopg()
        self._status = None
        expected = after + 1
        try:
            with self._conn.transaction():
                # One snapshot for the checkpoint and the rows.
                self._conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                checkpoint = self._checkpoint()
                with self._conn.cursor(name="marginengine_read") as cur:
                    cur.itersize = 2000
                    cur.execute("SELECT seq, outcome, accepted, payload, checksum FROM "
                                "marginengine_events WHERE seq > %s ORDER BY seq", (after,))
                    for seq, outcome, accepted, payload, check in cur:
                        if seq != expected:
                            raise LogError(f"{self.where}: event {expected} is missing (the "
                                           f"next row is event {seq})")
                        digest = event_digest(prev, seq, outcome.encode(), int(accepted),
                                              payload.encode())
                        if digest != check:
                            raise LogError(
                                f"{self.where}: event {seq} is damaged: its checksum does "
                                f"not match its columns and its predecessor's checksum "
                                f"(edited, reordered, forged or damaged)")
                        record = self._record(seq, outcome, accepted, payload)
                        prev = digest
                        self._count = seq
                        yield LogRecord(seq, outcome, bool(accepted), record, digest)
                        expected += 1
        except psycopg.Error as exc:
            raise LogError(f"{self.where}: the events cannot be read ({exc})") from None
        last = expected - 1
        if check_end and (last != checkpoint.acknowledged or prev != checkpoint.last):
            raise LogError(f"{self.where}: the log ends at event {last} but the checkpoint "
                           f"record acknowledges {checkpoint.acknowledged} events (rows were "
                           f"deleted, added or edited)")
        note = "" if checkpoint.closed else (
            f"the log was not closed (its writer stopped, or is still writing): it ends at "
            f"event {last}, and all {checkpoint.acknowledged} acknowledged events are in it")
        self._status = LogStatus(last, not checkpoint.closed, note, FORMAT_VERSION,
                                 checkpoint.acknowledged)

    def _record(self, seq: int, outcome: str, accepted: bool, payload: str) -> dict[str, Any]:
        try:
            record = json.loads(payload)
        except ValueError:
            raise LogError(f"{self.where}: event {seq} is damaged: its payload is not whole "
                           f"JSON") from None
        if not isinstance(record, dict) or record.get("seq") != seq \
                or record.get("outcome") != outcome or record.get("accepted") is not accepted:
            raise LogError(f"{self.where}: event {seq} is damaged: its columns differ from "
                           f"its payload")
        return record

    def status(self) -> LogStatus:
        """How the last complete :meth:`read` ended."""
        if self._status is None:
            raise LogError(f"{self.where}: the log has not been read to its end")
        return self._status

    def verify(self) -> LogStatus:
        """Read and verify the whole log; its status."""
        for _ in self.read():
            pass
        return self.status()


class Follower:
    """Tells when a PostgreSQL log grows: ``LISTEN`` on :data:`CHANNEL`, then read the new
    events, verified, with :meth:`poll`.

    Parameters
    ----------
    url
        The log's database.
    """

    def __init__(self, url: str) -> None:
        self.store = PostgresStore.open(url)
        self._listen = PostgresStore._connect(url)
        self._listen.execute(f"LISTEN {CHANNEL}")
        self.seq = 0
        self._last = self.store.meta["meta_checksum"]

    def poll(self, timeout: float = 1.0) -> list[LogRecord]:
        """The events committed since the last poll, waiting up to ``timeout`` seconds for a
        notification when there are none yet."""
        fresh = list(self.store.read_after(self.seq, self._last))
        if not fresh:
            for _ in self._listen.notifies(timeout=timeout, stop_after=1):
                pass
            fresh = list(self.store.read_after(self.seq, self._last))
        if fresh:
            self.seq, self._last = fresh[-1].seq, fresh[-1].checksum
        return fresh

    def close(self) -> None:
        """Disconnect."""
        self._listen.close()
        self.store.close()
