"""Margin models behind one interface (an account's value and requirement, from a
valuation) and the validation of lending actions as pure functions."""

from marginengine.margin.account import (
    AccountMarginModel,
    InitialScope,
    Valuation,
    underwater_value,
)
from marginengine.margin.base import (
    NO_DEBT_HEALTH,
    FamilyMargin,
    MarginKind,
    MarginModel,
    MarginState,
    health_of,
)
from marginengine.margin.validation import (
    MINIMUM_HEALTH_FACTOR_LIQUIDATION_THRESHOLD,
    initial_shortfall,
    validate_absorb,
    validate_borrow_asset,
    validate_borrow_health,
    validate_borrow_power,
    validate_health_after_withdraw,
    validate_initial_margin,
    validate_liquidation_call,
    validate_ltv_zero_withdraw,
    validate_min_borrow,
    validate_repay,
    validate_sentinel_borrow,
    validate_sentinel_liquidation,
    validate_supply,
    validate_withdraw_amount,
)
from marginengine.margin.weighted import AccountData, WeightedMarginModel, value_of

__all__ = [
    "MINIMUM_HEALTH_FACTOR_LIQUIDATION_THRESHOLD",
    "NO_DEBT_HEALTH",
    "AccountData",
    "AccountMarginModel",
    "FamilyMargin",
    "InitialScope",
    "MarginKind",
    "MarginModel",
    "MarginState",
    "Valuation",
    "WeightedMarginModel",
    "health_of",
    "initial_shortfall",
    "underwater_value",
    "validate_absorb",
    "validate_borrow_asset",
    "validate_borrow_health",
    "validate_borrow_power",
    "validate_health_after_withdraw",
    "validate_initial_margin",
    "validate_liquidation_call",
    "validate_ltv_zero_withdraw",
    "validate_min_borrow",
    "validate_repay",
    "validate_sentinel_borrow",
    "validate_sentinel_liquidation",
    "validate_supply",
    "validate_withdraw_amount",
    "value_of",
]
