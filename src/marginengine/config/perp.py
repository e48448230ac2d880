"""Perpetual-futures market parameters, validated, with the ``dydx-v4`` and ``hyperliquid``
presets.

Fractions are decimals (``0.05``) held exactly and read as ppm (parts per million, as
dYdX v4 does) through the integer properties. Notional amounts are in whole quote tokens.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from marginengine.config.base import SYMBOL_PATTERN, StrictModel
from marginengine.errors import field_path

PPM = 1_000_000
PERP_PRESET_NAMES: tuple[str, ...] = ("dydx-v4", "hyperliquid")

PositiveFraction = Annotated[Decimal, Field(gt=0, le=1, allow_inf_nan=False)]
Fraction = Annotated[Decimal, Field(ge=0, le=1, allow_inf_nan=False)]


def to_ppm(value: Decimal, field: str) -> int:
    """A fraction as an exact number of ppm, or ``ValueError`` naming the field."""
    return whole_units(value, PPM, field, "ppm (0.000001)")


def whole_units(value: Decimal, unit: int, field: str, what: str = "") -> int:
    """``value * unit`` as an exact int, or ``ValueError`` naming the field.

    Used wherever a decimal parameter becomes an integer amount (ppm, quote or base smallest
    units), so that nothing is truncated silently: a value finer than the unit is refused.
    """
    scaled = value * unit
    if scaled != scaled.to_integral_value():
        unit_name = what or f"1/{unit}"
        raise ValueError(f"{field} must be a whole number of {unit_name}, got {value:f}")
    return int(scaled)


class TierConfig(StrictModel):
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


class FundingConfig(StrictModel):
    """Funding: a premium of mark over index plus an interest component, per protocol.

    ``formula`` picks the protocol's computation (:mod:`marginengine.margin.funding`):

    - ``binance``: per ``interval`` seconds, ``clamp(P + clamp(I - P, -interest_clamp,
      interest_clamp), -cap, cap)``; ``interest`` and ``interest_clamp`` per ``period``
      (0 = the interval, Binance's own shape).
    - ``hyperliquid``: the same rate per ``period`` (0 = 28,800 s: an 8-hour rate), paid
      ``interval / period`` of it every interval (one eighth an hour), capped at ``cap`` per
      interval.
    - ``dydx-v4``: the 8-hour rate in whole ppm is the premium plus ``interest``
      (``default_funding_ppm``), clamped to ``clamp_factor x (IMF - MMF)`` of the first
      tier; the index moves by dYdX's truncated ``GetFundingIndexDelta`` every ``interval``
      (the funding tick). ``interest`` must be whole ppm; ``interest_clamp`` and ``cap``
      are not dYdX parameters and must be left unset; ``period`` must be 28,800.
      ``atomic_resolution`` is the dYdX market's (a base quantum is
      ``10**atomic_resolution`` tokens: -9 for ETH-USD, -10 for BTC-USD): dYdX truncates the
      index move per base quantum, so it is computed at dYdX's quantum, whatever
      ``base_decimals`` is.

    - ``drift-v2``: Drift's hourly rate (``update_funding_rate``): the mark's spread over
      the oracle plus ``oracle / 5000``, clamped by ``contract_tier`` (3% for A and B, 5%
      for C, 10% for Speculative, HighlySpeculative and Isolated), over 24, at Drift's
      precisions; every ``interval`` seconds (Drift's ``funding_period``). ``interest``,
      ``interest_clamp``, ``cap`` and ``period`` are not Drift parameters and are not used
      (a perp preset's values of them may stay: choosing the formula is enough).
    - ``mango-v4``: Mango's daily rate (``PerpMarket::update_funding_and_stable_price``):
      the premium of the mark over the oracle, clamped to ``[min_funding, max_funding]``
      (per day; default +-5%, the magnitude of mango-v4's program tests), paid for
      ``min(interval, 3600)`` seconds of the day at every ``interval`` (Mango applies at
      most an hour per update: ``max_funding_timestep``). ``interest``, ``interest_clamp``,
      ``cap`` and ``period`` are not Mango parameters and are not used.

    Rates are exact decimals: nothing is truncated to ppm. ``interest_clamp`` and ``cap``
    default to 0.0005 and 0.04 for ``binance`` and ``hyperliquid``.
    """

    formula: Literal["binance", "hyperliquid", "dydx-v4", "drift-v2", "mango-v4"] = "binance"
    interval: Annotated[int, Field(gt=0)] = 3600
    period: Annotated[int, Field(ge=0)] = 0
    interest: Annotated[Decimal, Field(ge=-1, le=1, allow_inf_nan=False)] = Decimal("0.0000125")
    interest_clamp: Fraction | None = None
    cap: PositiveFraction | None = None
    # dYdX holds both factors as uint32 ppm (x/perpetuals/types/params.pb.go).
    clamp_factor: Annotated[Decimal, Field(ge=0, le=Decimal("4294.967295"),
                                           allow_inf_nan=False)] = Decimal(6)
    premium_vote_clamp_factor: Annotated[Decimal, Field(ge=0, le=Decimal("4294.967295"),
                                                        allow_inf_nan=False)] = Decimal(60)
    sample_interval: Annotated[int, Field(gt=0)] = 60
    atomic_resolution: Annotated[int, Field(ge=-18, le=0)] = -9
    #: Drift's ContractTier (drift-v2 only); Drift's default is HighlySpeculative.
    contract_tier: Literal["A", "B", "C", "Speculative", "HighlySpeculative",
                           "Isolated"] = "HighlySpeculative"
    #: Mango's PerpMarket min_funding and max_funding (mango-v4 only): the daily rate's
    #: bounds (None: -0.05 and 0.05).
    min_funding: Annotated[Decimal | None, Field(ge=-1, le=1, allow_inf_nan=False)] = None
    max_funding: Annotated[Decimal | None, Field(ge=-1, le=1, allow_inf_nan=False)] = None

    @model_validator(mode="after")
    def _formula_fields(self) -> FundingConfig:
        # The default is accepted with any formula: a saved configuration (an event log's
        # meta.protocol) writes every field, and must load again.
        if self.contract_tier != "HighlySpeculative" and self.formula != "drift-v2":
            raise ValueError("contract_tier: only formula drift-v2 clamps by contract tier")
        if self.formula != "mango-v4":
            for name in ("min_funding", "max_funding"):
                if getattr(self, name) is not None:
                    raise ValueError(f"{name}: only formula mango-v4 bounds its daily rate")
        if self.formula == "dydx-v4":
            to_ppm(self.interest, "interest")
            to_ppm(self.clamp_factor, "clamp_factor")
            to_ppm(self.premium_vote_clamp_factor, "premium_vote_clamp_factor")
            for name in ("interest_clamp", "cap"):
                if getattr(self, name) is not None:
                    raise ValueError(f"{name}: formula dydx-v4 has none (dYdX clamps the rate "
                                     "to clamp_factor x (IMF - MMF)); leave it out")
            if self.period not in (0, 28_800):
                raise ValueError(f"period: dYdX's funding rate is an 8-hour rate (28800 s), "
                                 f"got {self.period}")
        elif self.formula == "drift-v2":
            pass  # interest, interest_clamp, cap and period are not Drift's: unused
        elif self.formula == "mango-v4":
            if self.funding_bounds[0] > self.funding_bounds[1]:
                raise ValueError(f"min_funding {self.funding_bounds[0]} is above "
                                 f"max_funding {self.funding_bounds[1]}")
        elif self.interval > self.rate_period:
            raise ValueError(f"period {self.period} must be at least the interval "
                             f"{self.interval}")
        return self

    @property
    def rate_period(self) -> int:
        """Seconds the formula's rate refers to: ``period``, else 28,800 (8 hours) for
        hyperliquid and dydx-v4, a day for mango-v4 and the interval for binance and
        drift-v2."""
        if self.period:
            return self.period
        if self.formula == "mango-v4":
            return 86_400
        return self.interval if self.formula in ("binance", "drift-v2") else 28_800

    @property
    def funding_bounds(self) -> tuple[Decimal, Decimal]:
        """Mango's ``(min_funding, max_funding)`` per day (default -0.05, 0.05)."""
        low = Decimal("-0.05") if self.min_funding is None else self.min_funding
        high = Decimal("0.05") if self.max_funding is None else self.max_funding
        return low, high

    @property
    def clamp(self) -> Decimal:
        """The interest clamp per period (default 0.0005)."""
        return Decimal("0.0005") if self.interest_clamp is None else self.interest_clamp

    @property
    def interval_cap(self) -> Decimal:
        """The cap per interval (default 0.04)."""
        return Decimal("0.04") if self.cap is None else self.cap


class OiScalingConfig(StrictModel):
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


class PerpMarketConfig(StrictModel):
    """One perpetual market.

    ``index`` names the oracle price the market follows (a ``SetPrice`` of the perp's own
    symbol). ``quote`` is the settlement asset; it must be one of the lending markets so
    that cross-margin buckets value it.
    """

    preset: Literal["dydx-v4", "hyperliquid"] | None = None
    margin_model: Literal["tiers", "dydx-v4"] = "tiers"
    base_decimals: Annotated[int, Field(ge=0, le=36)] = 18
    quote: str = "USDC"
    step_size: Annotated[Decimal, Field(gt=0, allow_inf_nan=False)] = Decimal("0.001")
    oi_cap: Annotated[Decimal, Field(ge=0, allow_inf_nan=False)] = Decimal(0)
    tiers: list[TierConfig]
    oi_scaling: OiScalingConfig | None = None
    size_premium_factor: Fraction = Decimal(0)
    funding: FundingConfig = FundingConfig()
    liquidation: Literal["fillable", "takeover"] = "fillable"
    #: The formula of the liquidation price reported (health table) for an isolated bucket
    #: (``owner/label``): Binance's closed form or Bybit's isolated one
    #: (:func:`~marginengine.liquidation.perp_liquidation.bucket_liquidation_price`). Only
    #: the reported price: liquidation itself is decided by margin, not by this price.
    liquidation_price: Literal["binance", "bybit"] = "binance"
    takeover_discount: Fraction = Decimal("0.01")
    liquidation_fee: Fraction = Decimal("0.015")
    #: dYdX's ``spread_to_maintenance_margin_ratio_ppm``: a uint32 ppm, not bounded by 100%
    #: (dYdX's sample genesis uses 1,500,000; its ``LiquidationsConfig.Validate`` refuses 0).
    spread_to_mmr: Annotated[Decimal, Field(ge=0, le=Decimal("4294.967295"),
                                            allow_inf_nan=False)] = Decimal("0.10")
    #: dYdX's ``bankruptcy_adjustment_ppm`` (BA of the fillable price): at least 100%
    #: (``LiquidationsConfig.Validate``), a uint32 ppm.
    bankruptcy_adjustment: Annotated[Decimal, Field(ge=1, le=Decimal("4294.967295"),
                                                    allow_inf_nan=False)] = Decimal(1)
    partial_above: Annotated[Decimal, Field(ge=0, allow_inf_nan=False)] = Decimal(0)
    partial_fraction: PositiveFraction = Decimal(1)
    #: Hyperliquid's cooldown after a partial liquidation, in engine seconds (docs, Trading >
    #: Liquidations: "After a block where any position of a user is partially liquidated,
    #: there is a cooldown period of 30 seconds. During this cooldown period, all market
    #: liquidation orders for that user will be for the entire position."): for this long
    #: after a partial liquidation of any position of an owner (the account and its
    #: ``owner/label`` sub-accounts), a liquidation of this market closes the whole
    #: position. 0: none.
    partial_cooldown: Annotated[int, Field(ge=0)] = 0
    #: dYdX v4's subaccount block limits (``LiquidationsConfig.SubaccountBlockLimits``,
    #: dydxprotocol/v4-chain@84d4664b protocol/x/clob/keeper/liquidations.go
    #: ``GetSubaccountMaxNotionalLiquidatable``, ``GetSubaccountMaxInsuranceLost``,
    #: ``validateLiquidationAgainstSubaccountBlockLimits``), ``fillable`` only, whole quote
    #: tokens, ``None``: no limit. ``max_notional_liquidated``: the notional one account may
    #: have liquidated in one block (the engine's block: one engine time), over every
    #: ``fillable`` market; a liquidation is cut to what is left of it, refused if even one
    #: step exceeds it. ``max_insurance_lost``: what the insurance fund may pay for one
    #: account's liquidations in one block; a fill whose loss exceeds what is left is not
    #: made (the account is deleveraged if its net collateral is negative, else refused).
    #: dYdX holds one ``LiquidationsConfig`` for every perpetual; here each market holds
    #: it and the limit of the market being liquidated is checked against the account's
    #: totals over all markets. dYdX refuses 0 for both.
    max_notional_liquidated: Annotated[Decimal | None, Field(gt=0, allow_inf_nan=False)] = None
    max_insurance_lost: Annotated[Decimal | None, Field(gt=0, allow_inf_nan=False)] = None
    adl_policy: Literal["pnl_leverage", "hyperliquid_index", "pro_rata_profit",
                        "risk_aware", "dydx_offset"] = "pnl_leverage"
    insurance_fund: Literal["shared", "market"] = "shared"
    #: ``False``: no auto-deleveraging; a bankrupt position the fund cannot pay for is
    #: taken over at its fill price, the fund pays what it holds and the rest is
    #: socialized over the other accounts' perp balances (Drift v2's
    #: ``resolve_perp_bankruptcy`` and Mango v4's perp bankruptcy shape).
    adl: bool = True
    #: Hyperliquid's backstop liquidation (docs, Trading > Liquidations): a ``takeover``
    #: bucket whose equity is below 2/3 of its maintenance margin has the whole position
    #: taken over at the fill price and, once it holds no other position, its margin goes to
    #: the liquidator (the liquidator vault): "the maintenance margin is not returned".
    backstop: bool = False
    mark_basis_alpha: PositiveFraction = Decimal("0.1")
    #: The price positions are valued, margined and liquidated at: ``"mark"`` (the engine's
    #: mark, :func:`~marginengine.margin.perp.mark_price`; Hyperliquid margins at its mark,
    #: docs, Trading > Margining) or ``"oracle"`` (the market's oracle price, the index a
    #: ``SetPrice`` of the perp's symbol sets: dYdX v4 values net collateral and the margin
    #: requirements at ``x/prices``' market price, dydxprotocol/v4-chain@84d4664b
    #: ``protocol/x/subaccounts/lib/updates.go`` ``GetRiskForSubaccount`` through
    #: ``x/perpetuals/lib/lib.go`` ``GetNetCollateralAndMarginRequirements``, and its
    #: fillable and bankruptcy prices at the same price, ``x/clob/keeper/liquidations.go``
    #: ``GetFillablePrice``, ``GetBankruptcyPriceInQuoteQuantums``). Funding's premium is the
    #: mark over the index either way.
    margin_price: Literal["mark", "oracle"] = "mark"

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
                raise ValueError(f"{field_path('tiers', i, 'notional_floor')} must be above "
                                 f"{field_path('tiers', i - 1)}'s")
            if b.mmf < a.mmf or b.imf < a.imf:
                raise ValueError(f"{field_path('tiers', i)}: mmf and imf must not fall in a "
                                 "larger tier")
        return tiers

    @model_validator(mode="after")
    def _fractions(self) -> PerpMarketConfig:
        if self.backstop and self.liquidation != "takeover":
            raise ValueError("backstop: Hyperliquid's backstop liquidation needs liquidation "
                             "= 'takeover'")
        if self.liquidation != "fillable":
            for name in ("max_notional_liquidated", "max_insurance_lost"):
                if getattr(self, name) is not None:
                    raise ValueError(f"{name}: dYdX's subaccount block limits need "
                                     "liquidation = 'fillable'")
            if self.adl_policy == "dydx_offset":
                raise ValueError("adl_policy: 'dydx_offset' (dYdX's deleveraging at the "
                                 "bankruptcy quote) needs liquidation = 'fillable'")
        for name in ("size_premium_factor", "takeover_discount", "liquidation_fee",
                     "spread_to_mmr", "bankruptcy_adjustment", "partial_fraction",
                     "mark_basis_alpha"):
            to_ppm(getattr(self, name), name)
        whole_units(self.oi_cap, self.base_unit, "oi_cap", f"base smallest units "
                    f"(base_decimals = {self.base_decimals})")
        # dYdX v4 liquidity tiers: one IMF and a maintenance fraction of it
        # (protocol/x/perpetuals/types/liquidity_tier.go).
        if self.margin_model == "dydx-v4" and len(self.tiers) != 1:
            raise ValueError("margin_model dydx-v4 takes exactly one tier (a dYdX "
                             f"liquidity tier), got {len(self.tiers)}")
        if "dydx-v4" in (self.margin_model, self.funding.formula):
            # Both dYdX rules read the first tier as a liquidity tier: IMF and fraction.
            self.maintenance_fraction_ppm  # noqa: B018 - validates mmf / imf
        if self.size_premium_factor:
            # Drift's margin ratios are basis points (MARGIN_PRECISION = 1e4).
            whole_units(self.tiers[0].imf, 10_000, "tiers.0.imf",
                        "basis points (Drift's margin precision, with size_premium_factor)")
        return self

    @property
    def maintenance_fraction_ppm(self) -> int:
        """dYdX's ``maintenance_fraction_ppm``: the first tier's MMF as a fraction of its IMF.

        Raises ``ValueError`` naming ``tiers.0.mmf`` when ``mmf / imf`` is not a whole
        number of ppm (dYdX could not hold it).
        """
        tier = self.tiers[0]
        fraction = tier.mmf / tier.imf * PPM
        if fraction != fraction.to_integral_value() or \
                Decimal(int(fraction)) * tier.imf != tier.mmf * PPM:
            raise ValueError(f"tiers.0.mmf / tiers.0.imf must be a whole number of ppm for "
                             f"margin_model dydx-v4 (dYdX's maintenance_fraction_ppm), got "
                             f"{tier.mmf} / {tier.imf}")
        return int(fraction)

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

    @property
    def oi_cap_units(self) -> int:
        """``oi_cap`` in base smallest units (exact: validated)."""
        return whole_units(self.oi_cap, self.base_unit, "oi_cap")

    def quote_amounts(self, quote_unit: int) -> dict[str, int]:
        """Every amount field given in whole quote tokens, in quote smallest units, exact.

        Keys are the fields' paths (``tiers.1.notional_floor``, ``oi_scaling.lower_cap``,
        ``partial_above``, and ``max_notional_liquidated`` / ``max_insurance_lost`` when
        set). ``ValueError`` names the first one finer than one smallest unit.
        """
        what = f"quote smallest units (1/{quote_unit})"
        out = {field_path("tiers", i, "notional_floor"):
               whole_units(t.notional_floor, quote_unit, field_path("tiers", i, "notional_floor"),
                           what)
               for i, t in enumerate(self.tiers)}
        if self.oi_scaling is not None:
            for cap in ("lower_cap", "upper_cap"):
                out[f"oi_scaling.{cap}"] = whole_units(getattr(self.oi_scaling, cap),
                                                       quote_unit, f"oi_scaling.{cap}", what)
        out["partial_above"] = whole_units(self.partial_above, quote_unit, "partial_above",
                                           what)
        for name in ("max_notional_liquidated", "max_insurance_lost"):
            limit = getattr(self, name)
            if limit is not None:
                out[name] = whole_units(limit, quote_unit, name, what)
        return out

    def check_quote_amounts(self, quote_unit: int) -> None:
        """Refuse amounts finer than the quote asset's smallest unit (see
        :meth:`quote_amounts`)."""
        self.quote_amounts(quote_unit)


def perp_symbol_problem(symbol: str) -> str | None:
    """Why a perp symbol is not allowed, or ``None``."""
    import re

    if not re.fullmatch(SYMBOL_PATTERN, symbol):
        return (f"perp symbol {symbol!r} must start with a letter and use at most 16 letters, "
                "digits, '.', '_' or '-'")
    return None


#: dYdX v4: "Large-Cap" liquidity tier (IMF 5%, MMF 3% = maintenance fraction 60%, OI caps
#: 20M-50M USDC) with dYdX's margin roundings; hourly funding ticks of an 8-hour rate with no
#: default funding, clamped to 600% x (IMF - MMF) (x/perpetuals/types/genesis.go
#: DefaultFundingRateClampFactorPpm = 6e6, DefaultPremiumVoteClampFactorPpm = 6e7, 1-minute
#: samples); liquidation at the fillable price with a 1.5% maximum fee and a 10%
#: spread-to-maintenance-ratio, per-market insurance fund; margin and liquidation at the
#: oracle price. The subaccount block limits (``max_notional_liquidated``,
#: ``max_insurance_lost``) and ``adl_policy = "dydx_offset"`` are off in the preset so that
#: its figures stay those pinned before they existed; set them to model them.
#: Hyperliquid: BTC-like tiers (40x: IM 2.5%, MM 1.25%; 20x above 150M), funding
#: F = P + clamp(0.01% - P, +-0.05%) per 8 hours paid one eighth every hour, capped at
#: 4%/hour (docs, Trading > Funding), liquidators (HLP) take over positions, positions above
#: 100k USDC liquidated 20% at a time (whole for 30 s after a partial one), below 2/3 of
#: the maintenance margin a backstop takeover that keeps the margin, shared fund, ADL by
#: Hyperliquid's index.
PERP_PRESETS: dict[str, dict[str, Any]] = {
    "dydx-v4": {
        "margin_model": "dydx-v4",
        "tiers": [{"notional_floor": "0", "mmf": "0.03", "imf": "0.05"}],
        "oi_scaling": {"lower_cap": "20000000", "upper_cap": "50000000"},
        "funding": {"formula": "dydx-v4", "interval": 3600, "interest": "0",
                    "clamp_factor": "6", "premium_vote_clamp_factor": "60",
                    "sample_interval": 60},
        "liquidation": "fillable",
        "liquidation_fee": "0.015",
        "spread_to_mmr": "0.10",
        "insurance_fund": "market",
        "adl_policy": "pnl_leverage",
        "margin_price": "oracle",
    },
    "hyperliquid": {
        "tiers": [
            {"notional_floor": "0", "mmf": "0.0125", "imf": "0.025"},
            {"notional_floor": "150000000", "mmf": "0.025", "imf": "0.05"},
        ],
        "funding": {"formula": "hyperliquid", "interval": 3600, "period": 28800,
                    "interest": "0.0001", "interest_clamp": "0.0005", "cap": "0.04"},
        "liquidation": "takeover",
        "takeover_discount": "0",
        "liquidation_fee": "0",
        "partial_above": "100000",
        "partial_fraction": "0.2",
        "partial_cooldown": 30,
        "insurance_fund": "shared",
        "adl_policy": "hyperliquid_index",
        "backstop": True,
    },
}
