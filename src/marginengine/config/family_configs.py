"""The tables of the engine families with rules of their own beyond Morpho and Liquity:
``[euler]`` (Euler v2, preset ``euler-v2``).

Each table names assets of ``markets`` (listed for their decimals and prices only: no
pooled reserve takes them); the family's state (vault, collaterals, debts) is the
engine's, its rules the pure functions of ``margin/euler.py`` and ``liquidation/euler.py``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import Field, model_validator

from marginengine.config.base import StrictModel

Ltv = Annotated[Decimal, Field(ge=0, le=1, allow_inf_nan=False)]

#: Euler's ``CONFIG_SCALE``: LTVs and the liquidation discount are held in 1e4.
EULER_CONFIG_DECIMALS = 4
#: The engine's prices (8 decimals) become Euler quotes in a unit of account of 18
#: decimals exactly only for tokens of at most 28 decimals (``price x 10^(28 - d)``).
EULER_MAX_DECIMALS = 28


def _config_scaled(value: Decimal, field: str) -> int:
    scaled = value * 10**EULER_CONFIG_DECIMALS
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{field}: {value} has more than 4 decimals (Euler's CONFIG_SCALE "
                         "is 1e4)")
    return int(scaled)


class EulerCollateralConfig(StrictModel):
    """The controlling vault's ``LTVConfig`` for one collateral (``setLTV`` at creation,
    no ramp): the borrow LTV (new borrowing) and the liquidation LTV."""

    borrow_ltv: Ltv
    liquidation_ltv: Ltv

    @model_validator(mode="after")
    def _four_decimals(self) -> EulerCollateralConfig:
        _config_scaled(self.borrow_ltv, "borrow_ltv")
        _config_scaled(self.liquidation_ltv, "liquidation_ltv")
        return self

    @property
    def borrow_ltv_scaled(self) -> int:
        """The borrow LTV in 1e4."""
        return _config_scaled(self.borrow_ltv, "borrow_ltv")

    @property
    def liquidation_ltv_scaled(self) -> int:
        """The liquidation LTV in 1e4."""
        return _config_scaled(self.liquidation_ltv, "liquidation_ltv")


class EulerConfig(StrictModel):
    """One Euler Vault Kit vault (``vault``: its asset, a market) lending against the
    ``collaterals`` (markets) at their LTVs; ``maxLiquidationDiscount`` (below 1, in 1e4)
    and whether debt left without collateral is socialized (``CFG_DONT_SOCIALIZE_DEBT``
    unset)."""

    vault: str
    collaterals: dict[str, EulerCollateralConfig] = Field(min_length=1)
    max_liquidation_discount: Annotated[Decimal, Field(ge=0, lt=1, allow_inf_nan=False)] = (
        Decimal("0.15"))
    socialize_debt: bool = True

    @model_validator(mode="after")
    def _discount(self) -> EulerConfig:
        _config_scaled(self.max_liquidation_discount, "max_liquidation_discount")
        return self

    @property
    def max_liquidation_discount_scaled(self) -> int:
        """``maxLiquidationDiscount`` in 1e4."""
        return _config_scaled(self.max_liquidation_discount, "max_liquidation_discount")


def euler_problem(euler: EulerConfig, decimals: dict[str, int]) -> str | None:
    """The first problem of an ``[euler]`` table against the markets' decimals, if any."""
    known = ", ".join(sorted(decimals))
    if euler.vault not in decimals:
        return f"euler.vault: unknown asset {euler.vault!r} (markets: {known})"
    for name, c in euler.collaterals.items():
        if name not in decimals:
            return f"euler.collaterals.{name}: unknown asset (markets: {known})"
        if name == euler.vault:
            return f"euler.collaterals.{name}: the vault's own asset cannot be its collateral"
        if c.borrow_ltv > c.liquidation_ltv:
            return (f"euler.collaterals.{name}.borrow_ltv: {c.borrow_ltv} is above the "
                    f"liquidation LTV {c.liquidation_ltv} (E_LTVBorrow)")
    for name in (euler.vault, *euler.collaterals):
        if decimals[name] > EULER_MAX_DECIMALS:
            return (f"markets.{name}.decimals: Euler quotes need at most "
                    f"{EULER_MAX_DECIMALS} decimals")
    return None


__all__ = [
    "EULER_MAX_DECIMALS",
    "EulerCollateralConfig",
    "EulerConfig",
    "euler_problem",
]
