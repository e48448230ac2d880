"""Derive's (Lyra v2) portfolio auction (``[protocol.options.auction]``), in human units.

The parameters of ``IDutchAuction.AuctionParams`` and ``mtmCutoff``
(derivexyz/v2-core, commit 7736900d395703c4f675376caa4c315402943831,
``src/interfaces/IDutchAuction.sol``); the defaults are Derive's mainnet values,
``scripts/config-mainnet.sol`` ``getDefaultAuctionParam``: the solvent auction pays from
95% of mark-to-market down to 70% over a 15-minute fast auction, then to 0 over a 12-hour
slow one; the insolvent auction's price goes from mark-to-market (capped at 0) to the
maintenance margin over 60 minutes; the liquidation fee is 10% (of the part of MtM the
auction may sell at no discount) and the buffer margin 15%. The bounds are Derive's own
``setAuctionParams`` checks. The rules: ``liquidation/portfolio_auction.py``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import Field, model_validator

from marginengine.config.base import StrictModel

Fraction = Annotated[Decimal, Field(ge=0, le=1, allow_inf_nan=False)]


class PortfolioAuctionConfig(StrictModel):
    """One protocol's portfolio-auction parameters (see the module docstring)."""

    starting_mtm_percentage: Fraction = Decimal("0.95")
    fast_auction_cutoff_percentage: Fraction = Decimal("0.7")
    fast_auction_length: int = Field(default=900, gt=0)          # seconds
    slow_auction_length: int = Field(default=43_200, gt=0)       # seconds
    insolvent_auction_length: int = Field(default=3_600, gt=0)   # seconds
    liquidator_fee_rate: Annotated[Decimal, Field(ge=0, le=Decimal("0.1"),
                                                  allow_inf_nan=False)] = Decimal("0.1")
    buffer_margin_percentage: Annotated[Decimal, Field(ge=0, le=4,
                                                       allow_inf_nan=False)] = Decimal("0.15")
    #: Below this mark-to-market (quote tokens) a bid may take the whole account.
    mtm_cutoff: Annotated[Decimal, Field(le=1_000, allow_inf_nan=False)] = Decimal(0)

    @model_validator(mode="after")
    def _cutoff_below_start(self) -> PortfolioAuctionConfig:
        if self.fast_auction_cutoff_percentage > self.starting_mtm_percentage:
            raise ValueError(
                f"fast_auction_cutoff_percentage: must be at most starting_mtm_percentage "
                f"(got {self.fast_auction_cutoff_percentage} > {self.starting_mtm_percentage})")
        return self


__all__ = ["PortfolioAuctionConfig"]
