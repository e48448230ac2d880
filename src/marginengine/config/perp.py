"""Perpetual-futures market parameters, validated, with the ``dydx-v4`` and ``hyperliquid``
presets.

Fractions are decimals (``0.05``) held exactly and read as ppm (parts per million, as
dYdX v4 does) through the integer properties. Notional amounts are in whole quote tokens.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from marginengine.config.models import SYMBOL_PATTERN, _Strict

PPM = 1_000_000
PERP_PRESET_NAMES: tuple[str, ...] = ("dydx-v4", "hyperliquid")

PositiveFraction = Annotated[Decimal, Field(gt=0, le=1, allow_inf_nan=False)]
Fraction = Annotated[Decimal, Field(ge=0, le=1, allow_inf_nan=False)]


def to_ppm(value: Decimal, field: str) -> int:
    """A fraction as an exact number of ppm, or ``ValueError`` naming the field."""
    scaled = value * PPM
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{field} must be a whole number of ppm (0.000001), got {value}")
    return int(scaled)


class TierConfig(_Strict):
    """One margin bracket: from ``notional_floor`` (whole quote tokens) upwards."""

    notional_floor: Annotated[Decimal, Field(ge=0, allow_inf_nan=False)] = Decimal(0)
    mmf: PositiveFraction
    imf: PositiveFraction

    @model_validator(mode="after")
    def _imf_above_mmf(self) -> TierConfig:
        to_ppm(self.mmf, "mmf")
        to_ppm(self.imf, "imf")
        if self.imf < self.mmf:
            raise ValueError(f"imf must be at least mmf ({self.imf} < {self.mmf})")
        return self


class FundingConfig(_Strict):
    """Funding: premium of mark over index, plus an interest component, clamped.

    Per ``interval`` seconds, ``rate = clamp(premium + clamp(interest - premium,
    -interest_clamp, interest_clamp), -cap, cap)`` (Binance's formula; dYdX v4 and
    Hyperliquid use the same shape with their own constants).
    """

    interval: Annotated[int, Field(gt=0)] = 3600
    interest: Annotated[Decimal, Field(ge=-1, le=1, allow_inf_nan=False)] = Decimal("0.0000125")
    interest_clamp: Fraction = Decimal("0.0005")
    cap: PositiveFraction = Decimal("0.04")


class OiScalingConfig(_Strict):
    """dYdX v4's open-interest IMF scaling: from ``lower_cap`` to ``upper_cap`` (whole
    quote tokens of open interest) the IMF rises linearly to 100%."""

    lower_cap: Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]
    upper_cap: Annotated[Decimal, Field(gt=0, allow_inf_nan=False)]

    @model_validator(mode="after")
    def _ordered(self) -> OiScalingConfig:
        if self.upper_cap <= self.lower_cap:
            raise ValueError(f"upper_cap must be above lower_cap "
                             f"({self.upper_cap} <= {self.lower_cap})")
        return self


class PerpMarketConfig(_Strict):
    """One perpetual market.

    ``index`` names the oracle price the market follows (a ``SetPrice`` of the perp's own
    symbol). ``quote`` is the settlement asset; it must be one of the lending markets so
    that cross-margin buckets value it.
    """

    preset: Literal["dydx-v4", "hyperliquid"] | None = None
    base_decimals: Annotated[int, Field(ge=0, le=36)] = 18
    quote: str = "USDC"
    step_size: Annotated[Decimal, Field(gt=0, allow_inf_nan=False)] = Decimal("0.001")
    oi_cap: Annotated[Decimal, Field(ge=0, allow_inf_nan=False)] = Decimal(0)
    tiers: list[TierConfig]
    oi_scaling: OiScalingConfig | None = None
    size_premium_factor: Fraction = Decimal(0)
    funding: FundingConfig = FundingConfig()
    liquidation: Literal["fillable", "takeover"] = "fillable"
    takeover_discount: Fraction = Decimal("0.01")
    liquidation_fee: Fraction = Decimal("0.015")
    spread_to_mmr: Fraction = Decimal("0.10")
    partial_above: Annotated[Decimal, Field(ge=0, allow_inf_nan=False)] = Decimal(0)
    partial_fraction: PositiveFraction = Decimal(1)
    adl_policy: Literal["pnl_leverage", "pro_rata_profit", "risk_aware"] = "pnl_leverage"
    insurance_fund: Literal["shared", "market"] = "shared"
    mark_basis_alpha: PositiveFraction = Decimal("0.1")

    @field_validator("tiers")
    @classmethod
    def _tiers_ordered(cls, tiers: list[TierConfig]) -> list[TierConfig]:
        if not tiers:
            raise ValueError("at least one tier is needed")
        if tiers[0].notional_floor != 0:
            raise ValueError("the first tier must start at notional_floor = 0")
        for i in range(1, len(tiers)):
            a, b = tiers[i - 1], tiers[i]
            if b.notional_floor <= a.notional_floor:
                raise ValueError(f"tiers[{i}].notional_floor must be above tiers[{i - 1}]'s")
            if b.mmf < a.mmf or b.imf < a.imf:
                raise ValueError(f"tiers[{i}]: mmf and imf must not fall in a larger tier")
        return tiers

    @model_validator(mode="after")
    def _fractions(self) -> PerpMarketConfig:
        for name in ("size_premium_factor", "takeover_discount", "liquidation_fee",
                     "spread_to_mmr", "partial_fraction", "mark_basis_alpha"):
            to_ppm(getattr(self, name), name)
        return self

    @property
    def base_unit(self) -> int:
        """One whole base token in smallest units."""
        return int(10**self.base_decimals)

    @property
    def step_units(self) -> int:
        """The step size in base smallest units."""
        scaled = self.step_size * self.base_unit
        if scaled != scaled.to_integral_value() or scaled <= 0:
            raise ValueError(f"step_size {self.step_size} is finer than base_decimals")
        return int(scaled)

    def ppm(self, name: str) -> int:
        """A fraction field as ppm."""
        return to_ppm(getattr(self, name), name)


def perp_symbol_problem(symbol: str) -> str | None:
    """Why a perp symbol is not allowed, or ``None``."""
    import re

    if not re.fullmatch(SYMBOL_PATTERN, symbol):
        return (f"perp symbol {symbol!r} must start with a letter and use at most 16 letters, "
                "digits, '.', '_' or '-'")
    return None


#: dYdX v4: "Large-Cap" liquidity tier (IMF 5%, MMF 3%, OI caps 20M-50M USDC), hourly funding
#: with no interest component by default, liquidation at the fillable price with a 1.5%
#: maximum fee and a 10% spread-to-maintenance-ratio, per-market insurance fund.
#: Hyperliquid: BTC-like tiers (40x: IM 2.5%, MM 1.25%; 20x above 150M), hourly funding with
#: an interest rate of 0.01% per 8 hours and a 4%/hour cap, liquidators (HLP) take over
#: positions, positions above 100k USDC liquidated 20% at a time, shared backstop.
PERP_PRESETS: dict[str, dict[str, Any]] = {
    "dydx-v4": {
        "tiers": [{"notional_floor": "0", "mmf": "0.03", "imf": "0.05"}],
        "oi_scaling": {"lower_cap": "20000000", "upper_cap": "50000000"},
        "funding": {"interval": 3600, "interest": "0", "interest_clamp": "0",
                    "cap": "0.0025"},
        "liquidation": "fillable",
        "liquidation_fee": "0.015",
        "spread_to_mmr": "0.10",
        "insurance_fund": "market",
        "adl_policy": "pnl_leverage",
    },
    "hyperliquid": {
        "tiers": [
            {"notional_floor": "0", "mmf": "0.0125", "imf": "0.025"},
            {"notional_floor": "150000000", "mmf": "0.025", "imf": "0.05"},
        ],
        "funding": {"interval": 3600, "interest": "0.0000125", "interest_clamp": "0.0005",
                    "cap": "0.04"},
        "liquidation": "takeover",
        "takeover_discount": "0",
        "liquidation_fee": "0",
        "partial_above": "100000",
        "partial_fraction": "0.2",
        "insurance_fund": "shared",
        "adl_policy": "pnl_leverage",
    },
}
