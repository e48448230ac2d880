"""Margin models behind one interface: an account's value and requirement."""

from marginengine.margin.base import (
    NO_DEBT_HEALTH,
    MarginKind,
    MarginModel,
    MarginState,
    health_of,
)
from marginengine.margin.weighted import AccountData, WeightedMarginModel, value_of

__all__ = [
    "NO_DEBT_HEALTH",
    "AccountData",
    "MarginKind",
    "MarginModel",
    "MarginState",
    "WeightedMarginModel",
    "health_of",
    "value_of",
]
