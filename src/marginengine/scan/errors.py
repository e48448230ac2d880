"""The scan layer's error."""

from __future__ import annotations

from marginengine.errors import MarginEngineError


class ScanError(MarginEngineError):
    """The scan cannot run as asked (a missing price, a bad threshold or shock, no engine)."""
