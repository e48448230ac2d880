"""The adaptive margin's configuration: ``[protocol.adaptive]`` (issue 12).

One table chooses how market conditions become per-asset risk parameters:

- the **estimator** that turns the oracle's price history into the volatility of a
  ``SetConditions`` event (``model``: EWMA with ``lam``, realized, GARCH(1,1), or filtered
  historical simulation), sampled every ``period_seconds`` over at most ``history`` prices;
- the **haircut**: VaR or ES (``measure``) at ``confidence_bps`` over the liquidation
  horizon (``[protocol.adaptive.horizon]``: oracle delay + keeper latency + auction, in
  blocks), scaled by ECC's concentration rule from open interest against daily capacity
  (``daily_capacity_depths`` times the 2% depth), plus the depth haircut of liquidating
  ``liquidation_share_bps`` of the open interest and Drift's square-root size premium
  (``imf_factor_ppm``);
- the EMIR Art. 28 anti-procyclicality tool (``apc``);
- the **bounds**: the threshold stays within ``min_threshold_bps..max_threshold_bps`` and
  the LTV keeps the static gap below it; with ``tighten_only`` the ceiling is also the
  static (governance-approved) threshold, so the model only tightens in volatility and
  never loosens beyond the static parameters;
- the **perp markets** whose first-tier maintenance and initial fractions follow the
  model (``perp_markets``; margin model ``tiers`` only): the same VaR/ES over the same
  horizon as a lending haircut, the threshold bounds read as fraction bounds
  (``1 - max_threshold .. 1 - min_threshold``);
- the **crowding add-on** (``crowding``): a ``SetCrowding`` event builds the exact
  liquidation heatmap of the book on one collateral against its venue, and every health,
  liquidation and borrow check of the engine raises the account's requirement by its
  add-on until the next ``SetCrowding`` of that collateral (docs/margin.md section 5);
- the **mode**: ``direct`` (a ``SetConditions`` event sets the asset's parameters at once)
  or ``governed`` (the model proposes; only a ``SetRiskParams`` event within the steward
  bounds of ``[protocol.stewards]`` changes them).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, model_validator

from marginengine.config.base import StrictModel

AdaptiveMode = Literal["direct", "governed"]
EstimatorModel = Literal["ewma", "realized", "garch", "fhs"]
ApcTool = Literal["none", "buffer", "stressed_weight", "floor"]
MODEL_NAMES: tuple[EstimatorModel, ...] = ("ewma", "realized", "garch", "fhs")


class HorizonConfig(StrictModel):
    """The liquidation horizon in blocks: the price moves from the last oracle update until
    the collateral is sold (``margin.adaptive.LiquidationHorizon``)."""

    oracle_delay_blocks: Annotated[int, Field(ge=0)] = 5
    keeper_latency_blocks: Annotated[int, Field(ge=0)] = 2
    auction_blocks: Annotated[int, Field(ge=0)] = 18
    block_time_ms: Annotated[int, Field(ge=1)] = 12_000

    @model_validator(mode="after")
    def _some_blocks(self) -> HorizonConfig:
        if self.oracle_delay_blocks + self.keeper_latency_blocks + self.auction_blocks == 0:
            raise ValueError("horizon: must be at least one block in total (got 0)")
        return self


class AdaptiveConfig(StrictModel):
    """``[protocol.adaptive]``; every field is documented in docs/margin.md section 7."""

    mode: AdaptiveMode = "direct"
    model: EstimatorModel = "ewma"
    measure: Literal["var", "es"] = "es"
    confidence_bps: Annotated[int, Field(ge=5_000, le=9_999)] = 9_900
    horizon: HorizonConfig = HorizonConfig()
    lam: Annotated[Decimal, Field(gt=0, lt=1)] = Decimal("0.94")
    period_seconds: Annotated[int, Field(ge=1)] = 3_600
    history: Annotated[int, Field(ge=3)] = 720
    window: Annotated[int | None, Field(ge=1)] = None
    apc: ApcTool = "buffer"
    apc_buffer_bps: Annotated[int, Field(ge=2_500, le=10_000)] = 2_500
    apc_stressed_weight_bps: Annotated[int, Field(ge=2_500, le=10_000)] = 2_500
    apc_stressed_window: Annotated[int, Field(ge=2)] = 24
    min_threshold_bps: Annotated[int, Field(ge=1, le=9_999)] = 5_000
    max_threshold_bps: Annotated[int, Field(ge=1, le=9_999)] = 9_500
    tighten_only: bool = False
    daily_capacity_depths: Annotated[int, Field(ge=1)] = 10
    ecc_base_days: Annotated[Decimal, Field(gt=0)] = Decimal(2)
    liquidation_share_bps: Annotated[int, Field(ge=0, le=10_000)] = 2_500
    imf_factor_ppm: Annotated[int, Field(ge=0, le=1_000_000)] = 0
    perp_markets: list[str] = Field(default_factory=list)
    crowding: bool = False

    @model_validator(mode="after")
    def _bounds_ordered(self) -> AdaptiveConfig:
        if self.min_threshold_bps > self.max_threshold_bps:
            raise ValueError(
                f"min_threshold_bps: {self.min_threshold_bps} is above max_threshold_bps "
                f"{self.max_threshold_bps}")
        return self


__all__ = ["MODEL_NAMES", "AdaptiveConfig", "AdaptiveMode", "ApcTool", "EstimatorModel",
           "HorizonConfig"]
