"""Liquidation mechanisms: plans for an unhealthy account."""

from marginengine.liquidation.absorb import (
    AbsorbPlan,
    absorb_collateral,
    base_for_collateral,
    plan_absorb,
    quote_collateral,
    store_front_price,
)
from marginengine.liquidation.base import LiquidationRefused
from marginengine.liquidation.close_factor import (
    CloseFactorInputs,
    CloseFactorPlan,
    close_factor_inputs,
    max_liquidatable_debt,
    plan_liquidation,
)

__all__ = [
    "AbsorbPlan",
    "CloseFactorInputs",
    "CloseFactorPlan",
    "LiquidationRefused",
    "absorb_collateral",
    "base_for_collateral",
    "close_factor_inputs",
    "max_liquidatable_debt",
    "plan_absorb",
    "plan_liquidation",
    "quote_collateral",
    "store_front_price",
]
