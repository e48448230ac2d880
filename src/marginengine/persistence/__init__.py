"""Event-log stores behind one protocol: append a batch, read, verify.

- :class:`LogStore`: the protocol; :class:`SQLiteStore`: the SQLite store (format 2);
- :class:`EventLog`: what the engine writes to, a store plus a :class:`Durability`
  (per event, per batch; no log at all is ``Engine(config)``);
- :class:`PostgresStore`: the PostgreSQL store (same chain; resumable; LISTEN/NOTIFY);
- :func:`open_log`: a store opened read-only, for replay and verification.

See docs/formats.md for the file layout, what is verified, and which faults are detected
and which survived.
"""

from pathlib import Path

from marginengine.persistence.ackfile import ack_path
from marginengine.persistence.chain import encode, event_digest, meta_digest
from marginengine.persistence.eventlog import EventLog
from marginengine.persistence.postgres_store import (
    CHANNEL,
    Follower,
    PostgresStore,
    is_postgres_url,
)
from marginengine.persistence.sqlite_store import (
    CHECKPOINT_WAL_PAGES,
    FORMAT_VERSION,
    READABLE_FORMATS,
    SQLiteStore,
    wal_path,
)
from marginengine.persistence.store import (
    Durability,
    EventRecord,
    LogRecord,
    LogStatus,
    LogStore,
)


def open_log(path: str | Path) -> LogStore:
    """The log at ``path``, opened for reading: a SQLite file, or a PostgreSQL database
    when ``path`` is a ``postgresql://`` URL (:class:`PostgresStore`)."""
    if is_postgres_url(path):
        assert isinstance(path, str)
        return PostgresStore.open(path)
    return SQLiteStore.open(path)


__all__ = [
    "CHANNEL",
    "CHECKPOINT_WAL_PAGES",
    "FORMAT_VERSION",
    "READABLE_FORMATS",
    "Durability",
    "EventLog",
    "EventRecord",
    "Follower",
    "LogRecord",
    "LogStatus",
    "LogStore",
    "PostgresStore",
    "SQLiteStore",
    "ack_path",
    "encode",
    "event_digest",
    "is_postgres_url",
    "meta_digest",
    "open_log",
    "wal_path",
]
