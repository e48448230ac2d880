"""The tables of the engine families with rules of their own beyond Morpho and Liquity:
``[euler]`` (Euler v2, preset ``euler-v2``), ``[mango]`` (Mango v4, preset ``mango-v4``),
``[drift]`` (Drift v2, preset ``drift-v2``).

Each table names assets of ``markets`` (listed for their decimals and prices only: no
pooled reserve takes them); the family's state (vault, collaterals, debts) is the
engine's, its rules the pure functions of ``margin/euler.py`` and ``liquidation/euler.py``.
"""

from __future__ import annotations

import sys
from decimal import Decimal
from typing import Annotated

from pydantic import Field, ValidationInfo, field_validator, model_validator

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
    ``collaterals`` (markets) at their LTVs; ``maxLiquidationDiscount`` (below 1, in 1e4),
    whether debt left without collateral is socialized (``CFG_DONT_SOCIALIZE_DEBT``
    unset) and ``liquidationCoolOffTime`` (seconds after an account's last successful
    status check during which it cannot be liquidated; a ``uint16``, 0: none)."""

    vault: str
    collaterals: dict[str, EulerCollateralConfig] = Field(min_length=1)
    max_liquidation_discount: Annotated[Decimal, Field(ge=0, lt=1, allow_inf_nan=False)] = (
        Decimal("0.15"))
    socialize_debt: bool = True
    liquidation_cool_off_time: Annotated[int, Field(ge=0, le=65_535, strict=True)] = 0

    @model_validator(mode="after")
    def _discount(self) -> EulerConfig:
        _config_scaled(self.max_liquidation_discount, "max_liquidation_discount")
        return self

    @property
    def max_liquidation_discount_scaled(self) -> int:
        """``maxLiquidationDiscount`` in 1e4."""
        return _config_scaled(self.max_liquidation_discount, "max_liquidation_discount")


Weight = Annotated[Decimal, Field(ge=0, le=100, allow_inf_nan=False)]
Quote = Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]
Amount = Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]
#: A Mango ``u64`` timestamp (seconds).
Seconds = Annotated[int, Field(ge=0, le=2**64 - 1)]


class MangoTokenConfig(StrictModel):
    """A Mango bank (``Bank``): its weights (Mango holds them as I80F48 from floats), the
    deposits and borrows of accounts outside the engine (whole tokens: the bank's indexed
    positions are these plus the engine's accounts'), and the deposit and borrow limits
    (USD) above which the init weights scale (``None``: no scaling, Mango's ``f64::MAX``)."""

    init_asset_weight: Weight
    maint_asset_weight: Weight
    init_liab_weight: Weight
    maint_liab_weight: Weight
    deposits: Amount = Decimal(0)
    borrows: Amount = Decimal(0)
    deposit_weight_scale_start_quote: Quote | None = None
    borrow_weight_scale_start_quote: Quote | None = None
    #: ``Bank::liquidation_fee`` and ``platform_liquidation_fee`` (fractions; Mango's
    #: token_liq_with_token fee factors).
    liquidation_fee: Weight = Decimal(0)
    platform_liquidation_fee: Weight = Decimal(0)
    #: ``MintInfo::group_insurance_fund``: whether token_liq_bankruptcy of this bank's
    #: liabilities may draw on the group's insurance fund (else the loss is socialized).
    group_insurance_fund: bool = True
    #: ``Bank::maint_weight_shift_start`` / ``_end`` (engine clock, seconds) and the maint
    #: weights reached at the end (``_asset_target`` / ``_liab_target``): in between the
    #: maint weights move linearly (``Bank::maint_weights``). ``0, 0``: no shift (Mango's
    #: default); a window ``end > start`` needs both targets.
    maint_weight_shift_start: Seconds = 0
    maint_weight_shift_end: Seconds = 0
    maint_weight_shift_asset_target: Weight | None = None
    maint_weight_shift_liab_target: Weight | None = None

    @property
    def maint_weight_shift(self) -> bool:
        """A maint weight shift is configured (``end > start``; Mango's non-zero
        ``maint_weight_shift_duration_inv``)."""
        return self.maint_weight_shift_end > self.maint_weight_shift_start


def mango_weight_shift_problem(token: MangoTokenConfig) -> str | None:
    """Why a bank's maint weight shift cannot be configured (the field and the reason,
    relative to the token's table), or ``None``."""
    if token.maint_weight_shift_end < token.maint_weight_shift_start:
        return (f"maint_weight_shift_end: {token.maint_weight_shift_end} is before "
                f"maint_weight_shift_start {token.maint_weight_shift_start}")
    for field in ("maint_weight_shift_asset_target", "maint_weight_shift_liab_target"):
        given = getattr(token, field) is not None
        if token.maint_weight_shift and not given:
            return (f"{field}: required when a maint weight shift is configured "
                    "(maint_weight_shift_end after maint_weight_shift_start)")
        if given and not token.maint_weight_shift:
            return (f"{field}: set but no maint weight shift is configured "
                    "(maint_weight_shift_end must be after maint_weight_shift_start)")
    return None


class MangoPerpConfig(StrictModel):
    """A Mango perp market (``PerpMarket``): its settle token, base lot size (native base
    units), the base and overall weights and the liquidation fees."""

    settle: str
    base_lot_size: Annotated[int, Field(gt=0)]
    init_base_asset_weight: Weight
    init_base_liab_weight: Weight
    maint_base_asset_weight: Weight
    maint_base_liab_weight: Weight
    init_overall_asset_weight: Weight
    maint_overall_asset_weight: Weight
    #: ``PerpMarket::base_liquidation_fee``, ``platform_liquidation_fee`` and
    #: ``positive_pnl_liquidation_fee`` (fractions; perp_liq_base_or_positive_pnl).
    base_liquidation_fee: Weight = Decimal(0)
    platform_liquidation_fee: Weight = Decimal(0)
    positive_pnl_liquidation_fee: Weight = Decimal(0)
    #: ``PerpMarket::group_insurance_fund``: whether perp bankruptcy may draw on the
    #: group's insurance fund (else the loss is socialized over the open interest).
    group_insurance_fund: bool = True
    #: ``PerpMarket::quote_lot_size``: native quote units per quote lot (book prices are
    #: in quote lots per base lot).
    quote_lot_size: Annotated[int, Field(gt=0, le=2**63 - 1)] = 1
    #: ``settle_pnl_limit_factor`` (Mango's ``f32``): the share of the position's stable
    #: value settleable per window; negative (the default here): no settle limit.
    settle_pnl_limit_factor: Annotated[Decimal, Field(ge=-1, le=1000, allow_inf_nan=False)] \
        = Decimal(-1)
    #: ``settle_pnl_limit_window_size_ts`` (seconds, positive): the settle limit's window.
    settle_pnl_limit_window_size_ts: Annotated[int, Field(gt=0, le=2**64 - 1)] = 86_400
    #: ``min_funding`` / ``max_funding`` (``f32``, per day; min <= 0 <= max) and
    #: ``impact_quantity`` (base lots into the book for the impact prices).
    min_funding: Annotated[Decimal, Field(le=0, ge=-100, allow_inf_nan=False)] = Decimal(0)
    max_funding: Annotated[Decimal, Field(ge=0, le=100, allow_inf_nan=False)] = Decimal(0)
    impact_quantity: Annotated[int, Field(ge=0, le=2**63 - 1)] = 0
    #: ``settle_fee_flat``, ``settle_fee_amount_threshold`` (native settle units) and
    #: ``settle_fee_fraction_low_health`` (``f32``): perp_settle_pnl's fee to the settler.
    settle_fee_flat: Annotated[Decimal, Field(ge=0, le=10**30, allow_inf_nan=False)] = Decimal(0)
    settle_fee_amount_threshold: Annotated[Decimal, Field(ge=0, le=10**30,
                                                          allow_inf_nan=False)] = Decimal(0)
    settle_fee_fraction_low_health: Weight = Decimal(0)


class MangoConfig(StrictModel):
    """A Mango v4 group: the health's quote token, the banks and the perp markets (each
    named in ``markets`` for its decimals and oracle price), and the group's insurance
    fund (``insurance_vault``: whole tokens of the quote, which is the insurance mint
    here) that ``token_liq_bankruptcy`` draws on."""

    quote: str
    tokens: dict[str, MangoTokenConfig] = Field(min_length=1)
    perps: dict[str, MangoPerpConfig] = Field(default_factory=dict)
    insurance_fund: Amount = Decimal(0)


#: ``f64::MAX``: the largest limit Mango's f64 fields hold.
_F64_MAX = Decimal(sys.float_info.max)
#: The largest bank total Mango holds: ``indexed_deposits`` / ``indexed_borrows`` are
#: I80F48 of native units, 79 integer bits and a sign.
MANGO_BANK_MAX = 2**79 - 1


def mango_bank_total_problem(native: int | Decimal) -> str | None:
    """Why a Mango bank's deposits or borrows of ``native`` units cannot be held, or
    ``None``."""
    if native > MANGO_BANK_MAX:
        return (f"too large (Mango holds a bank's total as an I80F48 of native units, at "
                f"most 2**79 - 1 = {MANGO_BANK_MAX:.4g}; got {Decimal(native):.4g})")
    return None
#: Mango's native amounts: tokens of at most 30 decimals (the scenario format's bound).
MANGO_MAX_DECIMALS = 30


def mango_problem(mango: MangoConfig, decimals: dict[str, int]) -> str | None:
    """The first problem of a ``[mango]`` table against the markets' decimals, if any."""
    known = ", ".join(sorted(decimals))
    if mango.quote not in mango.tokens:
        return f"mango.quote: {mango.quote!r} is not among mango.tokens"
    for table, names in (("tokens", mango.tokens), ("perps", mango.perps)):
        for name in names:
            if name not in decimals:
                return f"mango.{table}.{name}: unknown asset (markets: {known})"
            if decimals[name] > MANGO_MAX_DECIMALS:
                return f"markets.{name}.decimals: at most {MANGO_MAX_DECIMALS} for Mango"
    for name, perp in mango.perps.items():
        if name in mango.tokens:
            return f"mango.perps.{name}: the name is also a token's"
        if perp.settle not in mango.tokens:
            return f"mango.perps.{name}.settle: unknown token {perp.settle!r}"
    fund = mango.insurance_fund * 10 ** decimals[mango.quote]
    if fund != fund.to_integral_value():
        return (f"mango.insurance_fund: more decimals than the quote's "
                f"{decimals[mango.quote]}")
    for name, t in mango.tokens.items():
        shift = mango_weight_shift_problem(t)
        if shift is not None:
            return f"mango.tokens.{name}.{shift}"
        for field in ("deposits", "borrows"):
            value = getattr(t, field) * 10 ** decimals[name]
            if value != value.to_integral_value():
                return (f"mango.tokens.{name}.{field}: more decimals than the token's "
                        f"{decimals[name]}")
            problem = mango_bank_total_problem(value)
            if problem is not None:
                # Beyond it the health's float conversion overflowed (an internal error).
                return f"mango.tokens.{name}.{field}: {problem}"
        for field in ("deposit_weight_scale_start_quote", "borrow_weight_scale_start_quote"):
            start = getattr(t, field)
            # Mango holds the limit as an f64 of native quote units (Bank's
            # deposit/borrow_weight_scale_start_quote); beyond f64::MAX it cannot be held.
            if start is not None and start * 10 ** decimals[mango.quote] > _F64_MAX:
                return (f"mango.tokens.{name}.{field}: too large (Mango holds it as an f64 "
                        f"of native quote units, at most {_F64_MAX:.4g}; got {start:.4g} "
                        f"with {decimals[mango.quote]} decimals)")
    return None


def _scaled(value: Decimal, decimals: int, field: str) -> int:
    scaled = value * 10**decimals
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{field}: {value} has more than {decimals} decimals (Drift's "
                         "precision)")
    return int(scaled)


class DriftSpotConfig(StrictModel):
    """A Drift spot market (``SpotMarket``): weights (4 decimals, Drift's 1e4; liability
    weights at least 1), the IMF factor (6 decimals, 1e6) of the size discount and premium,
    the liquidator fee (6 decimals, ``LIQUIDATION_FEE_PRECISION``), and the scaled initial
    asset weight's inputs: ``scale_initial_asset_weight_start`` (USD, 6 decimals: Drift's
    quote precision; 0 never scales) and ``deposits``, the market's deposits by accounts
    outside the engine (whole tokens; the market's total is these plus the engine's)."""

    initial_asset_weight: Weight
    maintenance_asset_weight: Weight
    initial_liability_weight: Weight
    maintenance_liability_weight: Weight
    imf_factor: Weight = Decimal(0)
    liquidator_fee: Annotated[Decimal, Field(ge=0, lt=1, allow_inf_nan=False)] = Decimal(0)
    #: The insurance fund's maximum fee on a liquidation of this market's borrows
    #: (``SpotMarket::if_liquidation_fee``, 6 decimals): ``liquidate_spot`` takes
    #: ``calculate_spot_if_fee`` of the liability transferred into the market's revenue pool.
    if_liquidation_fee: Annotated[Decimal, Field(ge=0, lt=1, allow_inf_nan=False)] = Decimal(0)
    scale_initial_asset_weight_start: Amount = Decimal(0)
    deposits: Amount = Decimal(0)
    #: The market's insurance fund vault at the start (whole tokens, at most the token's
    #: decimals): ``resolve_spot_bankruptcy`` pays a borrow of this market from it first,
    #: always leaving 1 unit. The quote market's vault is ``drift.insurance_fund``.
    insurance_fund: Annotated[Decimal, Field(ge=0, allow_inf_nan=False)] = Decimal(0)

    @model_validator(mode="after")
    def _precision(self) -> DriftSpotConfig:
        for name in ("initial_asset_weight", "maintenance_asset_weight",
                     "initial_liability_weight", "maintenance_liability_weight"):
            _scaled(getattr(self, name), 4, name)
        for name in ("initial_liability_weight", "maintenance_liability_weight"):
            if getattr(self, name) < 1:   # validate_margin_weights
                raise ValueError(f"{name}: must be at least 1")
        _scaled(self.imf_factor, 6, "imf_factor")
        _scaled(self.liquidator_fee, 6, "liquidator_fee")
        _scaled(self.if_liquidation_fee, 6, "if_liquidation_fee")
        _scaled(self.scale_initial_asset_weight_start, 6, "scale_initial_asset_weight_start")
        return self

    def scaled(self, name: str) -> int:
        """A field in Drift's integer precision (weights 1e4; IMF factor, fees and the
        scaling start 1e6)."""
        return _scaled(getattr(self, name), 6 if name in (
            "imf_factor", "liquidator_fee", "if_liquidation_fee",
            "scale_initial_asset_weight_start") else 4, name)


class DriftPerpConfig(StrictModel):
    """A Drift perp market (``PerpMarket``): margin ratios and unrealized-PnL weights (4
    decimals), IMF factors and the liquidator fee (6 decimals)."""

    margin_ratio_initial: Weight
    margin_ratio_maintenance: Weight
    imf_factor: Weight = Decimal(0)
    unrealized_pnl_initial_asset_weight: Weight = Decimal(0)
    unrealized_pnl_maintenance_asset_weight: Weight = Decimal(1)
    unrealized_pnl_imf_factor: Weight = Decimal(0)
    liquidator_fee: Annotated[Decimal, Field(ge=0, lt=1, allow_inf_nan=False)] = Decimal(0)
    #: The insurance fund's maximum liquidation fee (``if_liquidation_fee``, 6 decimals).
    if_liquidation_fee: Annotated[Decimal, Field(ge=0, lt=1, allow_inf_nan=False)] = Decimal(0)
    #: ``amm.order_step_size`` in base units (1e9); a liquidation moves multiples of it.
    order_step_size: Annotated[int, Field(ge=1)] = 1
    #: The AMM's fee pool at the start (whole quote, 6 decimals): a perp bankruptcy draws
    #: on it after the insurance fund (``get_fee_pool_tokens``); the insurance fund's
    #: liquidation fees join it.
    fee_pool: Annotated[Decimal, Field(ge=0, allow_inf_nan=False)] = Decimal(0)
    #: ``insurance_claim.quote_max_insurance`` (whole quote, 6 decimals): what the
    #: insurance fund pays this market's bankruptcies in all; unset, no cap but the fund.
    quote_max_insurance: Annotated[Decimal, Field(ge=0, allow_inf_nan=False)] | None = None

    @model_validator(mode="after")
    def _precision(self) -> DriftPerpConfig:
        for name in type(self).model_fields:
            if name in ("fee_pool", "quote_max_insurance"):
                value = getattr(self, name)
                if value is not None:
                    _scaled(value, 6, name)
            elif name != "order_step_size":
                self.scaled(name)
        return self

    def scaled(self, name: str) -> int:
        """A field in Drift's integer precision (ratios and weights 1e4, IMF and fees
        1e6)."""
        six = name.endswith("imf_factor") or name.endswith("liquidator_fee") \
            or name == "if_liquidation_fee"
        return _scaled(getattr(self, name), 6 if six else 4, name)


class DriftConfig(StrictModel):
    """A Drift v2 exchange: spot markets and perp markets (each named in ``markets`` for
    its decimals and oracle price; perp base amounts have Drift's 9 decimals), ``quote``
    the spot market perp PnL is counted in (at Drift's quote price of 1)."""

    quote: str
    spot: dict[str, DriftSpotConfig] = Field(min_length=1)
    perps: dict[str, DriftPerpConfig] = Field(default_factory=dict)
    #: ``State.liquidation_margin_buffer_ratio`` (4 decimals, 1e4; more than 0): the buffer
    #: a perp liquidation sizes against. The default 0.02 is the state of Drift's
    #: ``liquidate_perp`` tests (``MARGIN_PRECISION / 50``).
    liquidation_margin_buffer_ratio: Annotated[
        Decimal, Field(gt=0, lt=1, allow_inf_nan=False)] = Decimal("0.02")
    #: The quote spot market's insurance fund vault at the start (whole quote, 6
    #: decimals): ``resolve_perp_bankruptcy`` pays from it first, always leaving 1 unit.
    insurance_fund: Annotated[Decimal, Field(ge=0, allow_inf_nan=False)] = Decimal(0)
    #: ``State.initial_pct_to_liquidate`` (4 decimals, ``LIQUIDATION_PCT_PRECISION`` 1e4):
    #: the share of the margin shortage at a liquidation's start that may be freed at once
    #: (``calculate_max_pct_to_liquidate``). With ``liquidation_duration``, the default 0
    #: is Drift's ``initialize`` state (``instructions/admin.rs``): a duration of 0 lets
    #: all of it go at once.
    initial_pct_to_liquidate: Annotated[Decimal, Field(ge=0, le=1, allow_inf_nan=False)] = \
        Decimal(0)
    #: ``State.liquidation_duration`` (slots, a ``u8``): the share that may be freed grows
    #: by ``slots since the start / liquidation_duration`` (0: all at once).
    liquidation_duration: Annotated[int, Field(ge=0, le=255)] = 0
    #: Milliseconds a slot: the engine's clock (seconds) in Drift's slots (floored), for
    #: the gradual liquidation and the perp liquidator's fee, which grows after 1,500 slots
    #: in liquidation (``get_liquidation_fee``). 400 is Solana's target slot time.
    slot_ms: Annotated[int, Field(ge=1)] = 400

    @field_validator("liquidation_margin_buffer_ratio", "insurance_fund",
                     "initial_pct_to_liquidate")
    @classmethod
    def _precision(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        # A field check, so the error's path ends at the field (drift.FIELD: ...); the
        # ratios are Drift's 1e4 precisions, the fund whole quote with 6 decimals.
        decimals = 6 if info.field_name == "insurance_fund" else 4
        scaled = value * 10**decimals
        if scaled != scaled.to_integral_value():
            raise ValueError(f"{value} has more than {decimals} decimals (Drift's precision)")
        return value

    def initial_pct(self) -> int:
        """``initial_pct_to_liquidate`` in ``LIQUIDATION_PCT_PRECISION`` (1e4)."""
        return _scaled(self.initial_pct_to_liquidate, 4, "initial_pct_to_liquidate")

    def margin_buffer(self) -> int:
        """``liquidation_margin_buffer_ratio`` in ``MARGIN_PRECISION`` (1e4)."""
        return _scaled(self.liquidation_margin_buffer_ratio, 4,
                       "liquidation_margin_buffer_ratio")


def drift_problem(drift: DriftConfig, decimals: dict[str, int]) -> str | None:
    """The first problem of a ``[drift]`` table against the markets' decimals, if any."""
    known = ", ".join(sorted(decimals))
    if drift.quote not in drift.spot:
        return f"drift.quote: {drift.quote!r} is not among drift.spot"
    for table, names in (("spot", drift.spot), ("perps", drift.perps)):
        for name in names:
            if name not in decimals:
                return f"drift.{table}.{name}: unknown asset (markets: {known})"
    for name, spot in drift.spot.items():
        if decimals[name] > 19:
            return f"markets.{name}.decimals: at most 19 for a Drift spot market"
        native = spot.deposits * 10 ** decimals[name]
        if native != native.to_integral_value():
            return (f"drift.spot.{name}.deposits: more decimals than the token's "
                    f"{decimals[name]}")
        fund = spot.insurance_fund
        if fund and name == drift.quote:
            return (f"drift.spot.{name}.insurance_fund: the quote market's vault is "
                    "drift.insurance_fund")
        if fund.scaleb(decimals[name]) != fund.scaleb(decimals[name]).to_integral_value():
            return (f"drift.spot.{name}.insurance_fund: {fund} has more than the token's "
                    f"{decimals[name]} decimals")
    for name in drift.perps:
        if name in drift.spot:
            return f"drift.perps.{name}: the name is also a spot market's"
        if decimals[name] != 9:
            return f"markets.{name}.decimals: a Drift perp's base has 9 decimals"
    return None


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
    "MANGO_MAX_DECIMALS",
    "DriftConfig",
    "DriftPerpConfig",
    "DriftSpotConfig",
    "EulerCollateralConfig",
    "EulerConfig",
    "MangoConfig",
    "MangoPerpConfig",
    "MangoTokenConfig",
    "drift_problem",
    "euler_problem",
    "mango_problem",
    "mango_weight_shift_problem",
]
