"""The SQLite event log (format 2): chained records, a checkpoint record, an ack file.

Layout of ``events.sqlite`` (WAL mode):

``meta(key, value)``
    ``format_version`` (``"2"``), ``protocol`` (the configuration, JSON) and
    ``meta_checksum``, the digest of the other pairs; it also starts the chain.
``events(seq, outcome, accepted, payload, checksum)``
    One row per outcome. ``checksum`` chains the row to its predecessor and covers every
    other column (:func:`marginengine.persistence.chain.event_digest`); ``outcome``,
    ``accepted`` and ``seq`` must also equal the payload's own fields.
``checkpoint(id = 1, acknowledged, last_checksum, closed, checksum)``
    How many events were acknowledged and the last one's digest, rewritten (in the same
    transaction as the events) at every checkpoint and at close, when ``closed`` becomes 1.

Durability. Every :meth:`SQLiteStore.append` is one transaction, committed with the chosen
``synchronous`` setting (``FULL``: durable against power loss; ``NORMAL``: against a crash
of the process; see docs/formats.md) before it returns. Commits live in the ``-wal`` file
until a checkpoint copies them into the main file, with the acknowledged count: whenever the
``-wal`` file has reached 1,000 pages (about 4 MB: SQLite's own threshold; about 1,000 events
committed one by one, far more in batches), or every ``checkpoint_every`` events if given,
and at close (``wal_checkpoint(TRUNCATE)``), so a closed log is one file. Between checkpoints the
acknowledgement file (:mod:`marginengine.persistence.ackfile`) records the last acknowledged
event outside the ``-wal`` file, so losing that file is detected, not replayed as a shorter
history.

Reading. A reader opens the log read-only (``immutable`` when there is no ``-wal`` file, so
it leaves nothing behind) inside one read transaction, after reading the ack file. It
verifies every row before yielding it and, at the end, that no acknowledged event is
missing. The one fault it survives rather than reports is the expected one: a log whose
writer stopped without closing it (``truncated``), possibly with a last, unacknowledged row
that did not verify (ignored, and said so). Anything else raises :class:`LogError` naming
the first bad event and what is wrong.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from marginengine.errors import LogError
from marginengine.persistence.ackfile import Ack, AckFile, ack_path, read_ack
from marginengine.persistence.chain import checkpoint_digest, event_digest, meta_digest
from marginengine.persistence.store import EventRecord, LogRecord, LogStatus

FORMAT_VERSION = "2"
READABLE_FORMATS = ("1", "2")
SYNCHRONOUS = ("FULL", "NORMAL", "OFF")
CHECKPOINT_WAL_PAGES = 1_000
_PAGE = 4096  # SQLite's default page size, used for every log
_WAL_LIMIT = 32 + CHECKPOINT_WAL_PAGES * (24 + _PAGE)  # the -wal header, then framed pages

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE events (
    seq INTEGER PRIMARY KEY,
    outcome TEXT NOT NULL,
    accepted INTEGER NOT NULL,
    payload TEXT NOT NULL,
    checksum TEXT NOT NULL
);
CREATE TABLE checkpoint (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    acknowledged INTEGER NOT NULL,
    last_checksum TEXT NOT NULL,
    closed INTEGER NOT NULL,
    checksum TEXT NOT NULL
);
"""
_INSERT = "INSERT INTO events(seq, outcome, accepted, payload, checksum) VALUES (?, ?, ?, ?, ?)"
_SELECT = "SELECT seq, outcome, accepted, payload, checksum FROM events ORDER BY seq"
_CHECKPOINT = ("UPDATE checkpoint SET acknowledged = ?, last_checksum = ?, closed = ?, "
               "checksum = ? WHERE id = 1")


def wal_path(log: Path) -> Path:
    """SQLite's write-ahead file of ``log``."""
    return log.with_name(log.name + "-wal")


@dataclass(frozen=True)
class _Checkpoint:
    acknowledged: int
    last: str
    closed: bool


def _fsync_dir(path: Path) -> None:
    # Make a created or renamed entry durable (not every platform allows opening a folder).
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class SQLiteStore:
    """The SQLite log store; build one with :meth:`create` (writer) or :meth:`open` (reader).

    Implements :class:`marginengine.persistence.LogStore`.
    """

    def __init__(self, path: Path, db: sqlite3.Connection, meta: dict[str, str], *,
                 writer: bool, ack: AckFile | None = None, acked: Ack | None = None,
                 checkpoint: _Checkpoint | None = None,
                 checkpoint_every: int | None = None) -> None:
        self.path = path
        self._db = db
        self._meta = meta
        self._writer = writer
        self._ack = ack
        self._acked = acked
        self._checkpoint = checkpoint
        self.checkpoint_every = checkpoint_every
        self._format = meta["format_version"]
        self._digest = meta.get("meta_checksum", "")
        self._last = self._digest
        self._count = 0
        self._closed = False
        self._broken: str | None = None
        self._status: LogStatus | None = None
        self._wal = wal_path(path)

    # ------------------------------------------------------------------ protocol
    @property
    def meta(self) -> Mapping[str, str]:
        """The meta pairs (``format_version``, ``protocol``, ...)."""
        return self._meta

    @property
    def format_version(self) -> str:
        """``"2"`` for a log this version writes; ``"1"`` for an older one being read."""
        return self._format

    @property
    def count(self) -> int:
        """Events appended (writer) or read so far (reader)."""
        return self._count

    # ------------------------------------------------------------------ writing
    @classmethod
    def create(cls, path: str | Path, meta: Mapping[str, str], *, synchronous: str = "FULL",
               checkpoint_every: int | None = None) -> SQLiteStore:
        """A new, empty log at ``path`` (never over an existing file).

        Parameters
        ----------
        path
            The SQLite file to create; neither it nor ``<path>-ack`` may exist.
        meta
            Pairs stored once (the protocol configuration as JSON, under ``protocol``).
        synchronous
            SQLite's ``synchronous``: ``FULL`` (default; a commit survives power loss),
            ``NORMAL`` (survives a crash of the process; the last commits may be lost on
            power loss) or ``OFF`` (likewise, and a power loss may damage the file).
        checkpoint_every
            Copy the ``-wal`` file into the main file, with the acknowledged count, every
            this many events; by default (``None``) whenever it reaches
            :data:`CHECKPOINT_WAL_PAGES` pages. Always at close.

        The file appears whole or not at all: it is built under a temporary name, then
        linked into place.
        """
        path = Path(path)
        if synchronous not in SYNCHRONOUS:
            raise LogError(f"synchronous: must be FULL, NORMAL or OFF (got {synchronous!r})")
        if checkpoint_every is not None and (
                isinstance(checkpoint_every, bool) or not isinstance(checkpoint_every, int)
                or checkpoint_every < 1):
            raise LogError(f"checkpoint_every: must be a positive integer "
                           f"(got {checkpoint_every!r})")
        for existing in (path, ack_path(path), wal_path(path)):
            if existing.exists() or existing.is_symlink():
                raise LogError(f"{existing}: already exists; an event log is never overwritten")
        pairs = {"format_version": FORMAT_VERSION, **dict(meta)}
        digest = meta_digest(pairs)
        pairs["meta_checksum"] = digest
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LogError(f"{path}: cannot create the event log: {exc}") from None
        temp: Path | None = None
        ack: AckFile | None = None
        try:
            fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                        suffix=".creating")
            os.close(fd)
            temp = Path(name)
            # The temporary file needs no journal and no syncs of its own: it is fsynced
            # once, whole, before it is linked into place.
            with contextlib.closing(sqlite3.connect(temp, isolation_level=None)) as build:
                build.execute("PRAGMA journal_mode=OFF")
                build.execute("PRAGMA synchronous=OFF")
                build.execute("BEGIN")
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        build.execute(statement)
                build.executemany("INSERT INTO meta(key, value) VALUES (?, ?)",
                                  sorted(pairs.items()))
                build.execute("INSERT INTO checkpoint VALUES (1, 0, ?, 0, ?)",
                              (digest, checkpoint_digest(digest, 0, digest, 0)))
                build.execute("COMMIT")
                build.execute("PRAGMA journal_mode=WAL")  # recorded in the file's header
            with open(temp, "rb") as handle:
                os.fsync(handle.fileno())
            ack = AckFile(ack_path(path), digest)
            try:
                os.link(temp, path)  # fails, rather than overwrites, if the path appeared
                temp.unlink()
            except FileExistsError:
                raise
            except OSError:  # a file system without hard links: rename, checking first
                if path.exists():
                    raise FileExistsError(17, "File exists", str(path)) from None
                os.rename(temp, path)
            temp = None
            _fsync_dir(path.parent)
            db = sqlite3.connect(path, isolation_level=None)
            mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                db.close()
                raise LogError(f"{path}: cannot use SQLite's WAL journal here (got {mode})")
            db.execute(f"PRAGMA synchronous={synchronous}")
            # Checkpoints are the store's own (every checkpoint_every events, with the
            # acknowledged count), not SQLite's automatic ones inside random commits.
            db.execute("PRAGMA wal_autocheckpoint=0")
        except (OSError, sqlite3.Error) as exc:
            if ack is not None:
                ack.close(delete=True)
            if temp is not None:
                temp.unlink(missing_ok=True)
            if isinstance(exc, FileExistsError) and exc.filename == str(ack_path(path)):
                raise LogError(f"{exc.filename}: already exists; an event log is never "
                               f"overwritten") from None
            if isinstance(exc, FileExistsError):
                raise LogError(f"{path}: already exists; an event log is never "
                               f"overwritten") from None
            raise LogError(f"{path}: cannot create the event log: {exc}") from None
        return cls(path, db, pairs, writer=True, ack=ack, checkpoint_every=checkpoint_every)

    def append(self, batch: Sequence[EventRecord]) -> None:
        """Commit ``batch`` as one transaction; acknowledged when this returns."""
        if not batch:
            return
        first = batch[0].seq
        if not self._writer or self._closed:
            raise LogError(f"{self.path}: cannot append event {first}: the log is "
                           f"{'closed' if self._writer else 'open for reading only'}")
        if self._broken is not None:
            raise LogError(f"{self.path}: cannot append event {first}: {self._broken}")
        # The rows of the whole batch, chained in one pass, for one executemany.
        rows: list[tuple[int, str, int, str, str]] = []
        add = rows.append
        last, expected = self._last, self._count + 1
        for seq, outcome, accepted_flag, payload in batch:
            if seq != expected:
                raise LogError(f"{self.path}: cannot append event {seq}: the next "
                               f"event of this log is {expected}")
            accepted = 1 if accepted_flag else 0
            last = event_digest(last, seq, outcome.encode(), accepted, payload.encode())
            add((seq, outcome, accepted, payload, last))
            expected += 1
        count = expected - 1
        every = self.checkpoint_every
        if every is None:
            try:
                due = os.stat(self._wal).st_size >= _WAL_LIMIT
            except OSError:
                due = False
        else:
            due = count // every > self._count // every
        try:
            if len(rows) == 1 and not due:
                self._db.execute(_INSERT, rows[0])  # one statement: SQLite's own transaction
            else:
                self._db.execute("BEGIN")
                try:
                    self._db.executemany(_INSERT, rows)
                    if due:
                        self._db.execute(_CHECKPOINT, (count, last, 0, checkpoint_digest(
                            self._digest, count, last, 0)))
                    self._db.execute("COMMIT")
                except BaseException:
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                    raise
        except sqlite3.Error as exc:
            raise LogError(f"{self.path}: cannot append event {first}: {exc}") from None
        # Committed: from here on nothing may raise, or the caller would roll back an event
        # the log holds. A failure is kept and refuses the next append instead.
        self._count, self._last = count, last
        try:
            if self._ack is not None:
                self._ack.write(count, last)
            if due:
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        except (OSError, sqlite3.Error) as exc:
            self._broken = (f"recording event {count} as acknowledged failed ({exc}); the log "
                            f"holds it: close the log and replay it")

    def close(self) -> None:
        """Write the close record, checkpoint the ``-wal`` file into the main file, close.

        A reader close just releases the file. Closing twice does nothing.
        """
        if self._closed:
            return
        self._closed = True
        if not self._writer:
            self._db.close()
            return
        whole = False
        try:
            self._db.execute(_CHECKPOINT, (self._count, self._last, 1, checkpoint_digest(
                self._digest, self._count, self._last, 1)))
            busy, _, _ = self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            self._db.close()
            # The ack file is no longer needed once the main file holds the close record; a
            # reader still open can keep the checkpoint from completing, then it stays.
            whole = busy == 0 and not wal_path(self.path).exists()
        except sqlite3.Error as exc:
            raise LogError(f"{self.path}: cannot close the event log: {exc}") from None
        finally:
            if self._ack is not None:
                self._ack.close(delete=whole)
                self._ack = None

    # ------------------------------------------------------------------ reading
    @classmethod
    def open(cls, path: str | Path) -> SQLiteStore:
        """Open an existing log for reading (formats 1 and 2), changing nothing."""
        text = str(path)
        path = Path(path)
        if path.is_dir():
            # A run's folder given for its log (``replay runs/quickstart``): name the log.
            logs = sorted(path.glob("*.sqlite"))
            named = [p for p in logs if p.name == "events.sqlite"] or logs
            hint = f" (did you mean {named[0]}?)" if len(named) == 1 else ""
            raise LogError(f"{path}: a folder, not an event log{hint}")
        if not path.is_file():
            bare = Path(text[len("sqlite:"):]) if text.startswith("sqlite:") else None
            if bare is not None and bare.is_file():
                # serve's --log spelling; a log is read back by its path alone.
                raise LogError(f"{text}: no such event log (a log is read by its path, "
                               f"without serve's sqlite: prefix: {bare})")
            raise LogError(f"{path}: no such event log")
        has_wal = wal_path(path).exists()
        ack_bytes = ack_path(path)
        try:
            ack_raw = ack_bytes.read_bytes() if ack_bytes.exists() else None
        except OSError as exc:
            raise LogError(f"{ack_bytes}: cannot read the acknowledgement file ({exc})") from None
        # Without a -wal file the main file is the whole log and no writer is at work (a log
        # is never reopened for writing): read it as immutable, which creates no -wal/-shm.
        uri = f"file:{path.resolve()}?mode=ro" + ("" if has_wal else "&immutable=1")
        try:
            db = sqlite3.connect(uri, uri=True, isolation_level=None)
        except sqlite3.Error as exc:
            raise LogError(f"{path}: not a readable event log ({exc})") from None
        db.text_factory = bytes
        try:
            db.execute("PRAGMA cell_size_check=ON")
            db.execute("BEGIN")  # one snapshot for meta, checkpoint and events
            rows = db.execute("SELECT key, value FROM meta").fetchall()
        except sqlite3.Error as exc:
            db.close()
            raise LogError(f"{path}: not a readable event log ({exc})") from None
        try:
            meta = cls._check_meta(path, rows)
            checkpoint: _Checkpoint | None = None
            acked: Ack | None = None
            if meta["format_version"] == FORMAT_VERSION:
                checkpoint = cls._read_checkpoint(path, db, meta["meta_checksum"])
                if ack_raw is not None:
                    acked = read_ack(ack_bytes, meta["meta_checksum"], ack_raw)
                elif not checkpoint.closed:
                    raise LogError(
                        f"{path}: the log was not closed and its acknowledgement file "
                        f"{ack_bytes.name} is missing: events after event "
                        f"{checkpoint.acknowledged} (the last checkpoint) cannot be verified"
                    )
        except BaseException:
            db.close()
            raise
        return cls(path, db, meta, writer=False, acked=acked, checkpoint=checkpoint)

    @staticmethod
    def _check_meta(path: Path, rows: list[Any]) -> dict[str, str]:
        meta: dict[str, str] = {}
        for key, value in rows:
            try:
                meta[bytes(key).decode()] = bytes(value).decode()
            except (UnicodeDecodeError, TypeError):
                raise LogError(f"{path}: meta is damaged (a key or value is not text)") from None
        version = meta.get("format_version")
        if version is None:
            raise LogError(f"{path}: meta is damaged or missing: no format_version")
        if version not in READABLE_FORMATS:
            raise LogError(f"{path}: unsupported log format {version!r} (this version reads "
                           f"formats {', '.join(READABLE_FORMATS)})")
        if version == FORMAT_VERSION:
            stored = meta.get("meta_checksum")
            pairs = {k: v for k, v in meta.items() if k != "meta_checksum"}
            if stored is None:
                raise LogError(f"{path}: meta is damaged: no meta_checksum")
            if meta_digest(pairs) != stored:
                raise LogError(f"{path}: meta is damaged: its pairs do not match meta_checksum "
                               f"(keys: {', '.join(sorted(pairs))})")
        return meta

    @staticmethod
    def _read_checkpoint(path: Path, db: sqlite3.Connection, digest: str) -> _Checkpoint:
        try:
            rows = db.execute("SELECT id, acknowledged, last_checksum, closed, checksum "
                              "FROM checkpoint").fetchall()
        except sqlite3.Error as exc:
            raise LogError(f"{path}: the checkpoint record cannot be read ({exc})") from None
        if len(rows) != 1:
            raise LogError(f"{path}: the checkpoint record is damaged ({len(rows)} rows)")
        ident, acknowledged, last, closed, check = rows[0]
        ok = (ident == 1 and type(acknowledged) is int and acknowledged >= 0
              and isinstance(last, bytes) and type(closed) is int and closed in (0, 1)
              and isinstance(check, bytes))
        if ok:
            last_text = last.decode("ascii", "replace")
            ok = checkpoint_digest(digest, acknowledged, last_text, closed) == check.decode(
                "ascii", "replace")
        if not ok:
            raise LogError(f"{path}: the checkpoint record is damaged (its checksum does not "
                           f"match)")
        return _Checkpoint(acknowledged, last_text, bool(closed))

    def read(self) -> Iterator[LogRecord]:
        """Every whole event in order (see the module docstring for what is verified)."""
        if self._writer:
            raise LogError(f"{self.path}: a log being written is read with SQLiteStore.open")
        self._status = None
        self._count = 0
        if self._format == "1":
            yield from self._read_v1()
            return
        checkpoint = self._checkpoint
        assert checkpoint is not None
        ack = self._acked
        acknowledged = max(checkpoint.acknowledged, ack.seq if ack is not None else 0)
        wanted = {checkpoint.acknowledged, ack.seq if ack is not None else 0}
        marks: dict[int, str] = {0: self._digest}
        prev, expected = self._digest, 1
        torn: tuple[int, str] | None = None
        cursor = self._cursor()
        for row in self._in_sequence(cursor):
            problem, record = self._check_row(row, prev)
            if problem is not None:
                last_row = self._fetch_is_end(cursor)
                if last_row and not checkpoint.closed and expected > acknowledged:
                    torn = (expected, problem)
                    break
                raise LogError(f"{self.path}: event {expected} is damaged: {problem}")
            assert record is not None
            prev = bytes(row[4]).decode()
            if expected in wanted:
                marks[expected] = prev
            self._count = expected
            yield LogRecord(expected, bytes(row[1]).decode(), bool(row[2]), record, prev)
            expected += 1
        self._status = self._finish(expected - 1, marks, torn)

    def _in_sequence(self, cursor: sqlite3.Cursor) -> Iterator[Any]:
        """The rows of ``cursor``, the n-th being event n, or :class:`LogError` naming the
        first missing event (both formats)."""
        expected = 1
        while True:
            row = self._fetch(cursor, expected)
            if row is None:
                return
            if row[0] != expected:
                raise LogError(f"{self.path}: event {expected} is missing (the next row is "
                               f"event {row[0]!r})")
            yield row
            expected += 1

    def _cursor(self) -> sqlite3.Cursor:
        try:
            return self._db.execute(_SELECT)
        except sqlite3.Error as exc:
            raise LogError(f"{self.path}: the events table cannot be read ({exc})") from None

    def _fetch(self, cursor: sqlite3.Cursor, expected: int) -> Any:
        try:
            return cursor.fetchone()
        except sqlite3.Error as exc:
            raise LogError(f"{self.path}: event {expected} cannot be read: the file is damaged "
                           f"({exc})") from None

    @staticmethod
    def _fetch_is_end(cursor: sqlite3.Cursor) -> bool:
        try:
            return cursor.fetchone() is None
        except sqlite3.Error:
            return False

    @staticmethod
    def _check_row(row: Any, prev: str) -> tuple[str | None, dict[str, Any] | None]:
        seq, outcome, accepted, payload, check = row
        if not (isinstance(outcome, bytes) and type(accepted) is int and accepted in (0, 1)
                and isinstance(payload, bytes) and isinstance(check, bytes)):
            return "a column has the wrong type", None
        try:
            text = payload.decode()
        except UnicodeDecodeError as exc:
            return f"its payload is not valid UTF-8 (byte {exc.start})", None
        try:
            record = json.loads(text)
        except ValueError:
            return "its payload is not whole JSON", None
        if event_digest(prev, seq, outcome, accepted, payload) != check.decode("ascii", "replace"):
            return ("its checksum does not match its columns and its predecessor's checksum "
                    "(edited, reordered, forged or damaged)"), None
        return SQLiteStore._check_fields(record, seq, outcome, accepted), record

    @staticmethod
    def _check_fields(record: Any, seq: int, outcome: bytes, accepted: int) -> str | None:
        if not isinstance(record, dict):
            return "its payload is not a JSON object"
        if record.get("seq") != seq:
            return f"its payload's seq is {record.get('seq')!r}"
        if record.get("outcome") != outcome.decode("utf-8", "replace"):
            return f"its outcome column {outcome!r} differs from its payload's"
        if record.get("accepted") is not bool(accepted):
            return f"its accepted column {accepted} differs from its payload's"
        return None

    def _finish(self, last: int, marks: dict[int, str], torn: tuple[int, str] | None) -> LogStatus:
        checkpoint = self._checkpoint
        assert checkpoint is not None
        ack = self._acked
        sources = [(checkpoint.acknowledged, checkpoint.last, "at the last checkpoint")]
        if ack is not None:
            sources.append((ack.seq, ack.last, f"per {ack_path(self.path).name}"))
        for seq, digest, where in sorted(sources, reverse=True):
            if last < seq:
                raise LogError(
                    f"{self.path}: the log ends at event {last} but {seq} events were "
                    f"acknowledged {where}: events {last + 1}..{seq} are lost (was the "
                    f"{wal_path(self.path).name} file deleted, cut or damaged?)"
                )
            if marks[seq] != digest:
                raise LogError(f"{self.path}: event {seq} is not the one acknowledged {where} "
                               f"(its checksum differs)")
        if checkpoint.closed:
            if last > checkpoint.acknowledged:
                raise LogError(f"{self.path}: event {checkpoint.acknowledged + 1} follows the "
                               f"close record (the log was closed after event "
                               f"{checkpoint.acknowledged})")
            return LogStatus(last, False, "", FORMAT_VERSION, checkpoint.acknowledged)
        acknowledged = max(seq for seq, _, _ in sources)
        note = (f"the log was not closed (its writer stopped, or is still writing): it ends "
                f"at event {last}, and all {acknowledged} acknowledged events are in it")
        if torn is not None:
            note += (f"; the last write (event {torn[0]}, never acknowledged) was cut off: "
                     f"{torn[1]}; ignored")
        return LogStatus(last, True, note, FORMAT_VERSION, acknowledged)

    def _read_v1(self) -> Iterator[LogRecord]:
        """Format 1: a checksum per payload, no chain, no acknowledged count.

        A bad row is damage unless it is the last one, which format 1 cannot tell from a
        torn write: it is then ignored and said so.
        """
        expected = 1
        torn: tuple[int, str] | None = None
        cursor = self._cursor()
        for row in self._in_sequence(cursor):
            seq, outcome, accepted, payload, check = row
            problem: str | None
            record: Any = None
            if not (isinstance(outcome, bytes) and type(accepted) is int
                    and isinstance(payload, bytes) and isinstance(check, bytes)):
                problem = "a column has the wrong type"
            elif hashlib.sha256(payload).hexdigest()[:32] != check.decode("ascii", "replace"):
                problem = "its payload does not match its checksum"
            else:
                try:
                    record = json.loads(payload.decode())
                    problem = self._check_fields(record, seq, outcome, accepted)
                except ValueError:
                    problem = "its payload is not whole JSON"
            if problem is not None:
                if self._fetch_is_end(cursor):
                    torn = (expected, problem)
                    break
                raise LogError(f"{self.path}: event {expected} is damaged: {problem}")
            self._count = expected
            yield LogRecord(expected, outcome.decode(), bool(accepted), record,
                            check.decode())
            expected += 1
        note = ""
        if torn is not None:
            note = f"the last event ({torn[0]}) was cut off: {torn[1]}; ignored"
        self._status = LogStatus(expected - 1, torn is not None, note, "1", None)

    def status(self) -> LogStatus:
        """How the last complete :meth:`read` ended."""
        if self._status is None:
            raise LogError(f"{self.path}: the log has not been read to its end")
        return self._status

    def verify(self) -> LogStatus:
        """Read and verify the whole log; its status."""
        for _ in self.read():
            pass
        return self.status()
