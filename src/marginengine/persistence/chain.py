"""Canonical encoding and the checksum chain of the event log (format 2).

Every digest is a full SHA-256, hex. The chain starts at the digest of the log's meta
(:func:`meta_digest`), so events cannot be moved to another log; each event's digest covers
its predecessor's digest, its sequence number and every stored column, with each field
length-prefixed so no two different rows hash the same input. A gap, a reordering, an
edited or a forged row therefore breaks the chain at the first row concerned.

The chain detects accidents and naive edits. It is not a signature: whoever can write the
file can also recompute every digest after an edit (that is what a keyed MAC would add).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True, check_circular=False)


def encode(record: Mapping[str, Any]) -> str:
    """Compact JSON of one outcome record: keys in the engine's (deterministic) order, no
    spaces, ASCII only. The chain covers the stored bytes, so verification never re-encodes;
    replay compares parsed values."""
    return _ENCODER.encode(record)


def meta_digest(meta: Mapping[str, str]) -> str:
    """Digest of the meta pairs (sorted by key): the chain's starting point."""
    body = json.dumps(sorted(meta.items()), separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(b"marginengine-log-meta:" + body.encode()).hexdigest()


def event_digest(prev: str, seq: int, outcome: bytes, accepted: int, payload: bytes) -> str:
    """Digest of one row, chained to ``prev`` (the previous row's digest, or the meta's)."""
    head = f"{prev}:{seq}:{len(outcome)}:".encode()
    mid = f":{accepted}:{len(payload)}:".encode()
    return hashlib.sha256(head + outcome + mid + payload).hexdigest()


def checkpoint_digest(meta: str, acknowledged: int, last: str, closed: int) -> str:
    """Digest of the checkpoint record (acknowledged count, last digest, closed flag)."""
    body = f"marginengine-log-checkpoint:{meta}:{acknowledged}:{last}:{closed}"
    return hashlib.sha256(body.encode()).hexdigest()


def ack_tag(meta: str, seq: int, last: str) -> bytes:
    """The 24-byte tag of one slot of the acknowledgement file."""
    return hashlib.sha256(f"marginengine-log-ack:{meta}:{seq}:{last}".encode()).digest()[:24]
