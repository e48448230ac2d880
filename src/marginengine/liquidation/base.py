"""What every liquidation mechanism returns: a plan, or a refusal with its reason."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Refusal:
    """A liquidation (or other action) that the rules do not allow, and why."""

    reason: str


class LiquidationRefused(Exception):
    """Raised by a mechanism when the rules refuse a liquidation; carries the reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
