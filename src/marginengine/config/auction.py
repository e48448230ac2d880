"""Maker-style auction liquidation (``[protocol.auction]``), in human units.

With an auction table, the protocol liquidates by ``Bark`` (Dog) and auctions instead of
``Liquidate``: ``kind = "clip"`` for Liquidations 2.0 (Dog and Clipper, Dutch auctions on a
price curve), ``kind = "flip"`` for Liquidations 1.2 (English auctions, tend then dent).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, field_validator

from marginengine.config.base import StrictModel

Positive = Annotated[Decimal, Field(gt=0, allow_inf_nan=False)]
NonNegative = Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]
Fraction = Annotated[Decimal, Field(ge=0, le=1, allow_inf_nan=False)]

#: The largest ``tip`` (DAI) this configuration takes: Maker's Clipper holds it as a uint192
#: of rad (45 decimals; dss clip.sol ``tip``), which ends at (2**192 - 1) / 1e45 =
#: 6,277,101,735,386.68 DAI; 6e12 is a round bound inside it.
TIP_MAX_DAI = Decimal("6e12")


class AuctionConfig(StrictModel):
    """Auction parameters; defaults are ETH-A's under Liquidations 2.0 after the September
    2021 changes (buf 1.20, tail 140 min, cusp 0.40, chip 0.1%, tip 300 DAI, stairstep 90 s
    x 0.99, chop 13%, hole 40M, Hole 100M, dust 15,000) and, for ``flip``, the ETH Flipper's
    of 12 March 2020 (beg 3%, ttl 10 minutes, tau 6 hours). With ``flip`` the vault is
    bitten by the Cat of Liquidations 1.2 (``box = Hole``, ``dunk``) instead of the Dog.
    ``dust`` is the ilk's debt floor, read by the Dog and Clipper and by the Vat's frob
    checks on Borrow, Repay, Withdraw and Deposit (``Vat/dust``); ``line`` and ``Line`` are
    the Vat's debt ceilings (default: none). Sources: docs/auctions.md."""

    kind: Literal["clip", "flip"] = "clip"
    collateral: str = "WETH"
    debt: str = "DAI"
    chop: Annotated[Decimal, Field(ge=1, allow_inf_nan=False)] = Decimal("1.13")
    dust: NonNegative = Decimal(15_000)           # DAI
    # The Vat's debt ceilings (dss vat.sol ilk.line, Line; DAI, checked by frob on a
    # Borrow: Vat/ceiling-exceeded). None: no ceiling, the default, so runs configured
    # before the Vat's checks were modelled draw as they did.
    line: NonNegative | None = None               # DAI, this collateral's vaults
    Line: NonNegative | None = None               # DAI, the Vat's total debt
    Hole: Positive = Decimal(100_000_000)         # DAI in auctions at once, all collateral
    hole: Positive = Decimal(40_000_000)          # DAI in auctions at once, this collateral
    # flip (Liquidations 1.2, cat.sol): Hole is the Cat's box (DAI out for liquidation at
    # once) and dunk the most DAI one bite sends to auction (default: hole).
    dunk: Positive | None = None
    buf: Annotated[Decimal, Field(ge=1, allow_inf_nan=False)] = Decimal("1.2")
    tail: int = Field(default=8_400, gt=0)
    cusp: Fraction = Decimal("0.40")
    chip: Fraction = Decimal("0.001")
    tip: NonNegative = Decimal(300)               # DAI
    curve: Literal["linear", "stairstep", "exponential"] = "stairstep"
    tau: int = Field(default=21_600, gt=0)        # linear curve
    step: int = Field(default=90, gt=0)           # stairstep
    cut: Annotated[Decimal, Field(gt=0, le=1, allow_inf_nan=False)] = Decimal("0.99")
    beg: Annotated[Decimal, Field(gt=1, allow_inf_nan=False)] = Decimal("1.03")
    ttl: int = Field(default=600, gt=0)
    flip_tau: int = Field(default=21_600, gt=0)

    @field_validator("tip")
    @classmethod
    def _tip_fits(cls, value: Decimal) -> Decimal:
        # Refused by the Clipper when the engine was built, as an unnamed AuctionError.
        if value > TIP_MAX_DAI:
            raise ValueError(f"must be at most {TIP_MAX_DAI:,f} DAI: Maker's Clipper keeps "
                             f"it as a uint192 of rad (clip.sol; got {value})")
        return value
