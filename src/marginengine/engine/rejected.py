"""The refusal every handler raises, and the display helpers of reasons."""

from __future__ import annotations

from marginengine.fixedpoint import WAD, format_units
from marginengine.margin import NO_DEBT_HEALTH


class Rejected(Exception):
    """Raised inside a handler to refuse the event; the engine logs the reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def fmt_usd(value_base: int) -> str:
    """Base-currency units as ``12,345.67 USD`` (display only)."""
    return f"{format_units(value_base, 8, 2)} USD"


def fmt_health(health: int) -> str:
    """A wad health factor as ``0.93`` (``inf`` without debt)."""
    return "inf" if health == NO_DEBT_HEALTH else f"{health / WAD:.4f}".rstrip("0").rstrip(".")
