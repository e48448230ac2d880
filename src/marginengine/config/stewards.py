"""Governance bounds on automated parameter updates, as Aave's Risk Stewards configure them.

Aave's ``RiskSteward`` (aave-dao/aave-v3-risk-stewards, ``src/contracts/RiskSteward.sol``,
``_validateParamUpdate`` and ``_updateWithinAllowedRange``; README "Min Delay" and "Max
Percent Change") bounds every update of one risk parameter by two numbers:

- ``maxPercentChange`` in bps, *absolute* for LTV, liquidation threshold and liquidation
  bonus (``50`` lets 80.00% move to 79.50..80.50%), *relative* for supply and borrow caps
  (``3000`` lets a cap of 1,000,000 move to 700,000..1,300,000); the allowed difference is
  ``maxPercentChange`` itself, or ``maxPercentChange * current / 10000`` rounded down;
- ``minDelay`` in seconds between two updates of the same parameter of the same asset, in
  either direction.

The defaults are those of the stewards configured for automated updates: 0.5 percentage
point for LTV, threshold and bonus, ±30% for caps, 3 days between two updates. A perp
market's first-tier maintenance and initial margin fractions (bps of notional; no Aave
steward moves them) take the bound of the threshold they mirror: 0.5 percentage point per
update, 3 days apart.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from marginengine.config.base import StrictModel

#: Parameters an automated update may move.
ParamName = Literal["ltv", "liquidation_threshold", "liquidation_bonus", "supply_cap",
                    "borrow_cap", "maintenance_fraction", "initial_fraction"]
PARAM_NAMES: tuple[ParamName, ...] = (
    "ltv", "liquidation_threshold", "liquidation_bonus", "supply_cap", "borrow_cap",
    "maintenance_fraction", "initial_fraction",
)
#: Three days, the automated stewards' minimum delay.
THREE_DAYS: int = 3 * 86_400


class ParamBound(StrictModel):
    """The bound on one parameter's updates.

    Attributes
    ----------
    max_change_bps
        Largest move per update, bps: absolute (percentage points x 100) or relative.
    relative
        Whether ``max_change_bps`` is relative to the current value (caps) or absolute.
    min_delay_seconds
        Least time between two updates of this parameter of one asset.
    """

    max_change_bps: Annotated[int, Field(ge=0, strict=True)]
    relative: bool = False
    min_delay_seconds: Annotated[int, Field(ge=0, strict=True)] = THREE_DAYS


def _absolute() -> ParamBound:
    return ParamBound(max_change_bps=50)


def _relative() -> ParamBound:
    return ParamBound(max_change_bps=3_000, relative=True)


class StewardBounds(StrictModel):
    """The bounds of every parameter an automated update may move (all configurable)."""

    ltv: ParamBound = Field(default_factory=_absolute)
    liquidation_threshold: ParamBound = Field(default_factory=_absolute)
    liquidation_bonus: ParamBound = Field(default_factory=_absolute)
    supply_cap: ParamBound = Field(default_factory=_relative)
    borrow_cap: ParamBound = Field(default_factory=_relative)
    maintenance_fraction: ParamBound = Field(default_factory=_absolute)
    initial_fraction: ParamBound = Field(default_factory=_absolute)

    def bound(self, param: ParamName) -> ParamBound:
        """The bound of ``param``."""
        result: ParamBound = getattr(self, param)
        return result
