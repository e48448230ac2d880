"""Aave v3 efficiency-mode (e-mode) categories (``[emode.categories.N]``).

An e-mode category is a set of correlated assets with their own LTV, liquidation threshold
and liquidation bonus. An account chooses one category (``SetUserEMode``, Aave's
``setUserEMode``); its collateral in the category's collateral assets then counts at the
category's parameters, and it may borrow only the category's borrowable assets.

The checks here are those of ``PoolConfigurator.setEModeCategory`` and
``Pool.configureEModeCategory`` (aave-dao/aave-v3-origin, tags v3.3.0 and v3.5.0, v3.7.0
commit 4fbd7442): the id is not 0 (``EModeCategoryReserved``), ``ltv != 0``,
``liquidationThreshold != 0``, ``ltv <= liquidationThreshold``, ``liquidationBonus >
100%`` and ``percentMul(liquidationThreshold, liquidationBonus) <= 100%``
(``InvalidEmodeCategoryParams``). ``ltvzero`` is the v3.6+ ``ltvzeroBitmap``
(``setAssetLtvzeroInEMode``: the asset must be a collateral of the category,
``MustBeEmodeCollateral``) and ``isolated`` the v3.7 flag (docs/3.7/isolated-emode.md);
which versions have them is checked by the protocol (:class:`ProtocolConfig`).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import Field, ValidationInfo, field_validator

from marginengine.config.base import StrictModel, threshold_times_bonus_bps
from marginengine.fixedpoint import BPS

#: Aave's category ids are ``uint8``; 0 is "no e-mode" (``EModeCategoryReserved``).
MAX_EMODE_CATEGORY = 255


def _whole_bps(value: Decimal) -> int:
    scaled = value * BPS
    if scaled != scaled.to_integral_value():
        raise ValueError(f"must be a whole number of basis points (0.0001), got {value}")
    return int(scaled)


class EModeCategory(StrictModel):
    """One e-mode category (Aave's ``DataTypes.EModeCategory``).

    ``ltv`` and ``liquidation_threshold`` are fractions (``0.93``); ``liquidation_bonus``
    is the bonus above 100%, as a market's (``0.01`` is Aave's 10100). ``collateral``,
    ``borrowable`` and ``ltvzero`` list market symbols: the category's ``collateralBitmap``,
    ``borrowableBitmap`` and ``ltvzeroBitmap``.
    """

    label: str = ""
    ltv: Annotated[Decimal, Field(gt=0, le=1, allow_inf_nan=False)]
    liquidation_threshold: Annotated[Decimal, Field(gt=0, le=1, allow_inf_nan=False)]
    liquidation_bonus: Annotated[Decimal, Field(gt=0, lt=1, allow_inf_nan=False)]
    collateral: list[str] = Field(default_factory=list)
    borrowable: list[str] = Field(default_factory=list)
    ltvzero: list[str] = Field(default_factory=list)
    isolated: bool = False

    @field_validator("ltv")
    @classmethod
    def _ltv_bps(cls, value: Decimal) -> Decimal:
        _whole_bps(value)
        return value

    @field_validator("liquidation_threshold")
    @classmethod
    def _threshold(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        _whole_bps(value)
        ltv = info.data.get("ltv")
        if ltv is not None and ltv > value:
            # PoolConfigurator.setEModeCategory: require(ltv <= liquidationThreshold).
            raise ValueError(f"must be at least ltv ({value} < {ltv}): Aave's "
                             "InvalidEmodeCategoryParams")
        return value

    @field_validator("liquidation_bonus")
    @classmethod
    def _bonus(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        bonus = BPS + _whole_bps(value)
        threshold = info.data.get("liquidation_threshold")
        if threshold is not None:
            lt = int(threshold * BPS)
            product = threshold_times_bonus_bps(lt, bonus)
            if product > BPS:
                raise ValueError(
                    f"liquidation_threshold x (1 + liquidation_bonus) must not exceed 1 "
                    f"({threshold} x {1 + value} is {product / BPS} in Aave's percentMul): "
                    "a liquidation could seize more collateral than exists "
                    "(InvalidEmodeCategoryParams)")
        return value

    @field_validator("collateral", "borrowable", "ltvzero")
    @classmethod
    def _no_repeats(cls, value: list[str]) -> list[str]:
        seen: set[str] = set()
        for i, symbol in enumerate(value):
            if symbol in seen:
                raise ValueError(f"{symbol!r} is listed twice (at {i})")
            seen.add(symbol)
        return value

    @property
    def ltv_bps(self) -> int:
        """LTV in basis points."""
        return int(self.ltv * BPS)

    @property
    def liquidation_threshold_bps(self) -> int:
        """Liquidation threshold in basis points."""
        return int(self.liquidation_threshold * BPS)

    @property
    def liquidation_bonus_bps(self) -> int:
        """Aave's encoding of the bonus: 10100 for a 1% bonus."""
        return BPS + int(self.liquidation_bonus * BPS)


class EModeConfig(StrictModel):
    """The protocol's e-mode categories by id (1 to 255)."""

    categories: dict[int, EModeCategory] = Field(default_factory=dict)

    @field_validator("categories")
    @classmethod
    def _ids(cls, value: dict[int, EModeCategory]) -> dict[int, EModeCategory]:
        for category_id in value:
            if category_id == 0:
                raise ValueError("category 0 is reserved for no e-mode (Aave's "
                                 "EModeCategoryReserved); number categories from 1")
            if not 0 < category_id <= MAX_EMODE_CATEGORY:
                raise ValueError(f"category id {category_id} must be within 1 and "
                                 f"{MAX_EMODE_CATEGORY} (Aave's uint8)")
        return value


__all__ = ["MAX_EMODE_CATEGORY", "EModeCategory", "EModeConfig"]
