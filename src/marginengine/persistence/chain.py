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
import json.encoder
from collections.abc import Callable, Mapping
from typing import Any

_sha256 = hashlib.sha256
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True, check_circular=False)


def _not_json(value: object) -> object:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _chunk_encoder() -> Callable[[Any, int], Any] | None:
    """The C accelerator of :mod:`json`, built once with :data:`_ENCODER`'s settings.

    ``JSONEncoder.encode`` builds this same encoder on every call; building it once saves
    a third of the cost of a record (the per-batch log encodes one per event). ``None``
    where the accelerator is missing, or where it does not give ``JSONEncoder``'s bytes on
    a probe record (then :func:`encode` stays on ``JSONEncoder``).
    """
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return None
    try:
        chunks: Callable[[Any, int], Any] = make(
            None, _not_json, json.encoder.encode_basestring_ascii, None, ":", ",",
            False, False, True)
        probe = {"seq": 1, "s": "a\"\u00e9\n", "n": [10**30, -1, True, None, 0.5], "d": {}}
        if "".join(chunks(probe, 0)) != _ENCODER.encode(probe):
            return None
    except (TypeError, ValueError):
        return None
    return chunks


_CHUNKS = _chunk_encoder()


def encode(record: Mapping[str, Any]) -> str:
    """Compact JSON of one outcome record: keys in the engine's (deterministic) order, no
    spaces, ASCII only. The chain covers the stored bytes, so verification never re-encodes;
    replay compares parsed values."""
    if _CHUNKS is None:
        return _ENCODER.encode(record)
    return "".join(_CHUNKS(record, 0))


def meta_digest(meta: Mapping[str, str]) -> str:
    """Digest of the meta pairs (sorted by key): the chain's starting point."""
    body = json.dumps(sorted(meta.items()), separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(b"marginengine-log-meta:" + body.encode()).hexdigest()


def event_digest(prev: str, seq: int, outcome: bytes, accepted: int, payload: bytes) -> str:
    """Digest of one row, chained to ``prev`` (the previous row's digest, or the meta's):
    SHA-256 of ``prev:seq:len(outcome):outcome:accepted:len(payload):payload``."""
    return _sha256(b"%b:%d:%d:%b:%d:%d:%b" % (prev.encode(), seq, len(outcome), outcome,
                                              accepted, len(payload), payload)).hexdigest()


def checkpoint_digest(meta: str, acknowledged: int, last: str, closed: int) -> str:
    """Digest of the checkpoint record (acknowledged count, last digest, closed flag)."""
    body = f"marginengine-log-checkpoint:{meta}:{acknowledged}:{last}:{closed}"
    return hashlib.sha256(body.encode()).hexdigest()


def ack_tag(meta: str, seq: int, last: str) -> bytes:
    """The 24-byte tag of one slot of the acknowledgement file."""
    return hashlib.sha256(f"marginengine-log-ack:{meta}:{seq}:{last}".encode()).digest()[:24]
