"""Durations in scenario files: ``3600``, ``"90m"``, ``"1h"``, ``"2d"`` -> seconds (one
rule for the scripted scenario, its options section and the family scenarios)."""

from __future__ import annotations

import re

_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d)?\s*$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def parse_duration(value: object) -> int:
    """``3600``, ``"90m"``, ``"1h"``, ``"2d"`` -> seconds."""
    if isinstance(value, bool):
        raise ValueError("must be seconds or a duration like '10m', '1h', '1d'")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"must not be negative (got {value})")
        return value
    match = _DURATION.match(value) if isinstance(value, str) else None
    if not match:
        raise ValueError(f"must be seconds or a duration like '10m', '1h', '1d' (got {value!r})")
    return int(match.group(1)) * _SECONDS[match.group(2)]


__all__ = ["parse_duration"]
