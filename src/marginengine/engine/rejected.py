"""The refusal every handler raises, and the display helpers of messages."""

from __future__ import annotations

from marginengine.decisions import Refusal
from marginengine.margin.validation import fmt_health, fmt_usd


class Rejected(Exception):
    """Raised inside a handler (through :meth:`HandlerContext.refuse`) to refuse the event;
    the engine rolls the transaction back and logs the typed refusal."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal

    @property
    def reason(self) -> str:
        """The refusal's message."""
        return self.refusal.message


__all__ = ["Rejected", "fmt_health", "fmt_usd"]
