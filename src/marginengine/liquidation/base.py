"""What every liquidation mechanism raises when the rules refuse: a typed refusal."""

from __future__ import annotations

from typing import Any

from marginengine.decisions import Code, Refusal


class LiquidationRefused(Exception):
    """Raised by a mechanism when the rules refuse a liquidation.

    Attributes
    ----------
    reason
        The message, for people.
    refusal
        The typed :class:`~marginengine.decisions.Refusal` (code, message, data).
    """

    def __init__(self, reason: str, code: Code = Code.INVALID_ARGUMENT,
                 data: dict[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.refusal = Refusal(code, reason, dict(data or {}))
