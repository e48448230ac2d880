"""What every liquidation mechanism raises when the rules refuse: the reason."""

from __future__ import annotations


class LiquidationRefused(Exception):
    """Raised by a mechanism when the rules refuse a liquidation; carries the reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
