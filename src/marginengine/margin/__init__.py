"""Margin models behind one interface: an account's value and requirement."""

from marginengine.margin.account import AccountMarginModel, Valuation, underwater_value
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
    "AccountMarginModel",
    "MarginKind",
    "MarginModel",
    "MarginState",
    "Valuation",
    "WeightedMarginModel",
    "health_of",
    "underwater_value",
    "value_of",
]
