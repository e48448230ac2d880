"""The acknowledgement file: the last acknowledged event, outside the write-ahead log.

SQLite in WAL mode holds a commit in the ``-wal`` file until a checkpoint copies it into the
main file. If the ``-wal`` file is deleted, cut or damaged in between, SQLite silently
drops the commits it held, and the main file alone cannot tell that anything existed. The
writer therefore records, after every commit and before acknowledging it, the sequence
number and chain digest of its last event in ``<log>-ack``; a reader compares the log with
it and names any acknowledged event the log lacks.

The file is 128 bytes: two 64-byte slots, written alternately, each
``seq (8 bytes, big-endian) | chain digest (32 bytes) | tag (24 bytes)`` where the tag is a
digest of the log's meta digest, the sequence number and the chain digest. A write torn in
one slot leaves the other whole; the reader takes the whole slot with the larger sequence
number. A slot written is not fsynced (a process crash keeps it in the page cache; a power
loss may leave it one commit or more behind, which only weakens detection, never causes a
false alarm). It is created (and fsynced) before the log and deleted when the log closes
cleanly, since the close record in the main file then holds the count.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

from marginengine.errors import LogError
from marginengine.persistence.chain import ack_tag

SLOT = 64
SIZE = 2 * SLOT
_HEAD = struct.Struct(">Q32s")


def ack_path(log: Path) -> Path:
    """Where the acknowledgement file of ``log`` lives: ``<log>-ack``."""
    return log.with_name(log.name + "-ack")


def _slot(meta: str, seq: int, last: str) -> bytes:
    return _HEAD.pack(seq, bytes.fromhex(last)) + ack_tag(meta, seq, last)


@dataclass(frozen=True)
class Ack:
    """The last acknowledged event recorded in an acknowledgement file."""

    seq: int
    last: str


def read_ack(path: Path, meta: str, data: bytes) -> Ack:
    """The acknowledgement held in ``data``, the bytes of the file at ``path``.

    Raises :class:`LogError` if neither slot is whole for this log (``meta``: its digest).
    """
    found: list[Ack] = []
    if len(data) == SIZE:
        for i in range(2):
            chunk = data[i * SLOT:(i + 1) * SLOT]
            seq, digest = _HEAD.unpack(chunk[:_HEAD.size])
            last = digest.hex()
            if chunk[_HEAD.size:] == ack_tag(meta, seq, last):
                found.append(Ack(seq, last))
    if not found:
        raise LogError(
            f"{path}: the acknowledgement file is damaged or belongs to another log "
            f"({len(data)} bytes, no whole slot); the acknowledged count is unknown"
        )
    return max(found, key=lambda a: a.seq)


class AckFile:
    """Writer of an acknowledgement file (see the module docstring)."""

    def __init__(self, path: Path, meta: str) -> None:
        self.path = path
        self._meta = meta
        self._writes = 0
        self._fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o644)
        try:
            os.write(self._fd, _slot(meta, 0, meta) * 2)
            os.fsync(self._fd)
        except OSError:
            os.close(self._fd)
            raise

    def write(self, seq: int, last: str) -> None:
        """Record ``seq`` (digest ``last``) as acknowledged, in the older slot."""
        self._writes += 1
        os.pwrite(self._fd, _slot(self._meta, seq, last), (self._writes % 2) * SLOT)

    def close(self, delete: bool) -> None:
        """Close the file; delete it when the main file holds the close record."""
        os.close(self._fd)
        if delete:
            self.path.unlink(missing_ok=True)
