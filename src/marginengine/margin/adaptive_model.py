"""The adaptive margin model: per-asset risk parameters from logged market conditions.

It reads only what the log carries: an asset's ``SetConditions`` figures (annualized
volatility, 2% depth, open interest) and its oracle price. From them it sets the asset's
liquidation threshold ``1 - h`` (and the LTV, keeping the static gap below it), where the
haircut ``h`` is the composition of :mod:`marginengine.margin.adaptive`:

1. ``risk``: the VaR or ES (``measure``) of a long position at ``confidence_bps`` over the
   liquidation horizon, normal with the logged volatility (the FHS estimator publishes the
   normal-equivalent volatility of its tail, so the same formula reproduces it), the horizon
   scaled by ECC's concentration rule ``l = min(OI value / daily capacity + 0.3, 3)`` days
   against ``ecc_base_days`` (daily capacity: ``daily_capacity_depths`` x the 2% depth);
2. the EMIR Art. 28 buffer (``apc = "buffer"``; the stressed-weight and 10-year-floor tools
   act on the published volatility in the estimator, :mod:`marginengine.sim.adaptive_agent`);
3. Drift's square-root size premium on ``liquidation_share_bps`` of the open interest
   (``imf_factor_ppm``), plus the depth haircut of selling that share into a linear book of
   the logged depth beyond the liquidation bonus.

The threshold is then bounded to ``min_threshold_bps..max_threshold_bps`` (and to the static
threshold with ``tighten_only``) and kept within
Aave's ``LT x (1 + bonus) <= 100%``. Without a reported volatility the static parameters
stand. Pure and deterministic: the same conditions and price give the same parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from marginengine.config import ProtocolConfig
from marginengine.config.adaptive import AdaptiveConfig
from marginengine.config.base import max_threshold_for_bonus_bps
from marginengine.config.perp import to_ppm
from marginengine.fixedpoint import BPS, Rounding, div, mul_div
from marginengine.margin.adaptive import (
    ApcMethod,
    ApcPolicy,
    LiquidationHorizon,
    anti_procyclical_ppm,
    compose_haircut_ppm,
    concentration_horizon_periods,
    depth_haircut_ppm,
    ecc_liquidation_days,
    liquidation_threshold_bps,
    parametric_haircut,
)
from marginengine.margin.tiers import PPM
from marginengine.oracle.conditions import MarketConditions

#: Seconds in a year of 365 days (the volatility's unit, as ``oracle.volatility``).
YEAR_SECONDS = 365 * 86_400


@dataclass(frozen=True)
class MarketParams:
    """A lending market's risk parameters, bps; the bonus as the part above 100% (``500``
    for 5%), the convention of Aave's config engine and :mod:`marginengine.margin.stewards`."""

    ltv_bps: int
    liquidation_threshold_bps: int
    liquidation_bonus_bps: int

    def as_dict(self) -> dict[str, int]:
        """Plain data, by the steward's parameter names."""
        return {"ltv": self.ltv_bps, "liquidation_threshold": self.liquidation_threshold_bps,
                "liquidation_bonus": self.liquidation_bonus_bps}


def market_params(config: ProtocolConfig, asset: str) -> MarketParams:
    """The parameters of ``asset`` in force in ``config``."""
    m = config.markets[asset]
    return MarketParams(m.ltv_bps, m.liquidation_threshold_bps, m.liquidation_bonus_bps - BPS)


def config_with_params(config: ProtocolConfig, asset: str, params: MarketParams) -> ProtocolConfig:
    """A copy of ``config`` with ``asset``'s LTV, threshold and bonus replaced (the caller
    has checked them: ``ltv <= threshold``, the steward bounds)."""
    market = config.markets[asset].model_copy(update={
        "ltv": Decimal(params.ltv_bps) / BPS,
        "liquidation_threshold": Decimal(params.liquidation_threshold_bps) / BPS,
        "liquidation_bonus": Decimal(params.liquidation_bonus_bps) / BPS,
    })
    return config.model_copy(update={"markets": {**config.markets, asset: market}})


@dataclass(frozen=True)
class PerpParams:
    """A perp market's first-tier margin fractions in force, ppm of notional."""

    maintenance_ppm: int
    initial_ppm: int

    def as_dict(self) -> dict[str, int]:
        """Plain data, by the steward's parameter names."""
        return {"maintenance_fraction_ppm": self.maintenance_ppm,
                "initial_fraction_ppm": self.initial_ppm}


def perp_params(config: ProtocolConfig, market: str) -> PerpParams:
    """The first-tier fractions of perp ``market`` in force in ``config``."""
    tier = config.perps[market].tiers[0]
    return PerpParams(to_ppm(tier.mmf, "mmf"), to_ppm(tier.imf, "imf"))


def config_with_perp_params(config: ProtocolConfig, configured: ProtocolConfig, market: str,
                            params: PerpParams) -> ProtocolConfig:
    """A copy of ``config`` with perp ``market``'s first tier at ``params``.

    The tiers above keep their fractions as ``configured`` (the static schedule), raised to
    the first tier's where it passes them, so the schedule stays non-decreasing (a tier of
    larger notional never asks less than a smaller one). The caller has checked
    ``0 < maintenance <= initial <= 100%``.
    """
    mmf, imf = Decimal(params.maintenance_ppm) / PPM, Decimal(params.initial_ppm) / PPM
    static = configured.perps[market]
    tiers = [static.tiers[0].model_copy(update={"mmf": mmf, "imf": imf})]
    tiers += [t.model_copy(update={"mmf": max(t.mmf, mmf), "imf": max(t.imf, imf)})
              for t in static.tiers[1:]]
    perp = config.perps[market].model_copy(update={"tiers": tiers})
    return config.model_copy(update={"perps": {**config.perps, market: perp}})


@dataclass(frozen=True)
class AdaptiveHaircut:
    """One asset's haircut and the parameters it calls for.

    Attributes
    ----------
    risk_ppm
        VaR or ES over the (ECC-scaled) horizon.
    apc_ppm
        After the anti-procyclicality buffer.
    depth_ppm
        Depth haircut of liquidating the open-interest share.
    total_ppm
        With the size premium and the depth haircut, at most 100%.
    liquidation_days
        ECC's liquidation period, when open interest and depth are known.
    params
        The parameters the haircut calls for, within the bounds.
    """

    risk_ppm: int
    apc_ppm: int
    depth_ppm: int
    total_ppm: int
    liquidation_days: Fraction | None
    params: MarketParams

    def as_dict(self) -> dict[str, object]:
        """Plain data for an outcome's details."""
        days = self.liquidation_days
        return {"risk_ppm": self.risk_ppm, "apc_ppm": self.apc_ppm,
                "depth_ppm": self.depth_ppm, "total_ppm": self.total_ppm,
                "liquidation_days": None if days is None else f"{days.numerator}/"
                f"{days.denominator}", **self.params.as_dict()}


@dataclass(frozen=True)
class PerpFractions:
    """A perp market's margin fractions from the adaptive haircut (ppm of notional).

    Attributes
    ----------
    risk_ppm
        VaR or ES over the liquidation horizon.
    apc_ppm
        After the anti-procyclicality buffer.
    maintenance_ppm
        The maintenance fraction in force: the haircut in whole basis points, within
        ``1 - max_threshold .. 1 - min_threshold`` (and at least the static first tier's
        MMF with ``tighten_only``).
    initial_ppm
        The initial fraction: the maintenance one plus the static first tier's IMF - MMF
        gap, at most 100%.
    """

    risk_ppm: int
    apc_ppm: int
    maintenance_ppm: int
    initial_ppm: int

    @property
    def params(self) -> PerpParams:
        """The fractions to put in force."""
        return PerpParams(self.maintenance_ppm, self.initial_ppm)

    def as_dict(self) -> dict[str, int]:
        """Plain data for an outcome's details."""
        return {"risk_ppm": self.risk_ppm, "apc_ppm": self.apc_ppm,
                "maintenance_fraction_ppm": self.maintenance_ppm,
                "initial_fraction_ppm": self.initial_ppm}


class AdaptiveMarginModel:
    """Per-asset parameters from market conditions (see the module docstring).

    Parameters
    ----------
    config
        The protocol as configured: its static parameters give the LTV gap and the bonus.
    adaptive
        ``[protocol.adaptive]``.
    """

    def __init__(self, config: ProtocolConfig, adaptive: AdaptiveConfig) -> None:
        self.config = config
        self.adaptive = adaptive
        h = adaptive.horizon
        self.horizon = LiquidationHorizon(h.oracle_delay_blocks, h.keeper_latency_blocks,
                                          h.auction_blocks, h.block_time_ms)
        #: The horizon in years, exactly (the volatility is per square root of a year).
        self.horizon_years = self.horizon.periods(YEAR_SECONDS)
        self.apc = (ApcPolicy(ApcMethod.BUFFER, buffer_bps=adaptive.apc_buffer_bps)
                    if adaptive.apc == "buffer" else ApcPolicy(ApcMethod.NONE))

    def adapts(self, asset: str) -> bool:
        """Whether ``asset`` is a collateral market (the others keep their parameters)."""
        market = self.config.markets.get(asset)
        return market is not None and market.collateral

    def adapts_perp(self, market: str) -> bool:
        """Whether perp ``market``'s first-tier fractions follow the model
        (``adaptive.perp_markets``)."""
        return market in self.adaptive.perp_markets

    def haircut(self, asset: str, conditions: MarketConditions,
                price: int | None) -> AdaptiveHaircut | None:
        """The haircut of ``asset`` under ``conditions`` at ``price`` (8 decimals; ``None``:
        no open-interest value, so no ECC scaling or depth term), or ``None`` without a
        reported volatility."""
        if conditions.volatility_ppm is None or not self.adapts(asset):
            return None
        a = self.adaptive
        market = self.config.markets[asset]
        static = market_params(self.config, asset)
        sigma = conditions.volatility_ppm / PPM
        t = self.horizon_years
        oi_value: int | None = None
        days: Fraction | None = None
        if price and conditions.open_interest is not None:
            oi_value = mul_div(conditions.open_interest, price, market.unit, Rounding.DOWN)
        if oi_value is not None and conditions.depth:
            days = ecc_liquidation_days(oi_value, conditions.depth * a.daily_capacity_depths)
            t = concentration_horizon_periods(t, days, Fraction(a.ecc_base_days))
        risk = parametric_haircut(sigma, t, a.confidence_bps).pick(a.measure)
        apc = anti_procyclical_ppm(risk, self.apc)
        depth_ppm = 0
        size = 0
        if oi_value is not None and conditions.open_interest is not None:
            share = div(oi_value * a.liquidation_share_bps, BPS, Rounding.UP)
            size = div(conditions.open_interest * a.liquidation_share_bps, BPS, Rounding.UP)
            if conditions.depth:
                # A linear book whose price falls 1% per half the 2% depth: the average
                # fill of selling q slips q / (200 d1) = q / (100 depth), capped at all of it.
                slippage = min(Fraction(share, 100 * conditions.depth), Fraction(1))
                depth_ppm = depth_haircut_ppm(slippage, static.liquidation_bonus_bps)
        # Drift's size premium takes whole basis points (tiers.size_premium_imf).
        base = min(div(apc, 100, Rounding.UP) * 100, PPM)
        total = compose_haircut_ppm(base, size=size if a.imf_factor_ppm else 0,
                                    base_unit=market.unit, imf_factor_ppm=a.imf_factor_ppm,
                                    depth_ppm=depth_ppm)
        return AdaptiveHaircut(risk, apc, depth_ppm, total, days,
                               self.params_for(asset, total))

    def perp_fractions(self, market: str,
                       conditions: MarketConditions) -> PerpFractions | None:
        """The maintenance and initial fractions of perp ``market`` under ``conditions``
        (``None`` without a reported volatility): the same VaR/ES over the same horizon
        and the same buffer as a lending market's haircut, taken as the loss the
        maintenance margin must cover until the position is closed.

        Not scaled by ECC's rule nor given the depth term (a perp's open interest is
        notional on both sides, not collateral to sell); the tiers above the first keep
        their static fractions.

        Raises
        ------
        KeyError
            If ``market`` is not a perp market of the configuration.
        """
        if conditions.volatility_ppm is None:
            return None
        a = self.adaptive
        tier = self.config.perps[market].tiers[0]
        static_mmf = to_ppm(tier.mmf, "mmf")
        static_imf = to_ppm(tier.imf, "imf")
        risk = parametric_haircut(conditions.volatility_ppm / PPM, self.horizon_years,
                                  a.confidence_bps).pick(a.measure)
        apc = anti_procyclical_ppm(risk, self.apc)
        mmf = min(div(apc, 100, Rounding.UP) * 100, PPM)  # whole bps, as the lending haircut
        # The threshold bounds read as fraction bounds: LT = 1 - h, so h in 1 - max..1 - min.
        mmf = min(max(mmf, PPM - a.max_threshold_bps * 100), PPM - a.min_threshold_bps * 100)
        if a.tighten_only:
            mmf = max(mmf, static_mmf)
        return PerpFractions(risk, apc, mmf, min(PPM, mmf + static_imf - static_mmf))

    def params_for(self, asset: str, haircut_ppm: int) -> MarketParams:
        """The parameters a haircut calls for: threshold ``1 - h`` within the bounds and
        within ``LT x (1 + bonus) <= 100%`` (and at most the static threshold with
        ``tighten_only``); LTV the static gap below it (at least 1 bps)."""
        a = self.adaptive
        static = market_params(self.config, asset)
        ceiling = min(a.max_threshold_bps,
                      max_threshold_for_bonus_bps(BPS + static.liquidation_bonus_bps))
        if a.tighten_only:
            # The static threshold is the one governance approved: calm never loosens it.
            ceiling = min(ceiling, static.liquidation_threshold_bps)
        floor = min(a.min_threshold_bps, ceiling)
        lt = liquidation_threshold_bps(haircut_ppm, floor, ceiling)
        gap = static.liquidation_threshold_bps - static.ltv_bps
        return MarketParams(max(1, lt - gap), lt, static.liquidation_bonus_bps)


__all__ = ["YEAR_SECONDS", "AdaptiveHaircut", "AdaptiveMarginModel", "MarketParams",
           "PerpFractions", "PerpParams", "config_with_params", "config_with_perp_params",
           "market_params", "perp_params"]
