"""Liquidation mechanisms: plans for an unhealthy account."""

from marginengine.liquidation.absorb import (
    AbsorbPlan,
    LiquidatorPoints,
    absorb_collateral,
    base_for_collateral,
    plan_absorb,
    quote_collateral,
    store_front_price,
)
from marginengine.liquidation.auction_house import AuctionHouse, AuctionOutcome, AuctionRecord
from marginengine.liquidation.backstop import (
    Socialization,
    insurance_cover,
    socialize_loss,
    socialize_over_open_interest,
)
from marginengine.liquidation.base import LiquidationRefused
from marginengine.liquidation.close_factor import (
    CloseFactorInputs,
    CloseFactorPlan,
    RuleIntegers,
    close_factor_inputs,
    max_liquidatable_debt,
    plan_liquidation,
    quote_offers,
    require_liquidatable,
    rule_integers,
)
from marginengine.liquidation.ladder import (
    Chunk,
    PlanBounds,
    best_chunk,
    first_offer,
    plan_bounds,
)
from marginengine.liquidation.perp_liquidation import (
    PerpLiquidationPlan,
    bucket_liquidation_price,
    plan_perp_liquidation,
)

__all__ = [
    "AbsorbPlan",
    "AuctionHouse",
    "AuctionOutcome",
    "AuctionRecord",
    "Chunk",
    "CloseFactorInputs",
    "CloseFactorPlan",
    "LiquidationRefused",
    "LiquidatorPoints",
    "PerpLiquidationPlan",
    "PlanBounds",
    "RuleIntegers",
    "Socialization",
    "absorb_collateral",
    "base_for_collateral",
    "best_chunk",
    "bucket_liquidation_price",
    "close_factor_inputs",
    "first_offer",
    "insurance_cover",
    "max_liquidatable_debt",
    "plan_absorb",
    "plan_bounds",
    "plan_liquidation",
    "plan_perp_liquidation",
    "quote_collateral",
    "quote_offers",
    "require_liquidatable",
    "rule_integers",
    "socialize_loss",
    "socialize_over_open_interest",
    "store_front_price",
]
