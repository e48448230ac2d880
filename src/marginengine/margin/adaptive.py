"""Adaptive margin models: VaR/ES haircuts over a liquidation horizon, anti-procyclicality,
liquidity-depth and concentration add-ons, and the size premium, as pure functions.

Every model ends in an exact integer parameter with its rounding named: a *haircut* ``h``
in parts per million of the collateral's value (rounded **up**: more margin), from which

- a lending liquidation threshold is ``1 - h`` in basis points (rounded down, bounded), and
- a perp maintenance margin fraction is ``h`` in ppm (bounded).

The statistics in between (quantiles, volatilities) are float screening inputs, fixed once
by :func:`fraction_to_ppm_up`. Conventions, chosen once:

- Loss of a long collateral position over the horizon is ``-R`` for a horizon log return
  ``R``; as a fraction of value the true loss is ``1 - exp(R) <= -R``, so the haircut is
  (slightly) conservative. It is capped at 100%.
- The horizon is measured in return periods: ``T = horizon_seconds / period_seconds``, and
  one-period risk scales by ``sqrt(T)`` (square-root-of-time, as EMIR RTS 153/2013 Art. 26
  margin periods of risk are commonly scaled from daily data).
- Empirical quantiles (filtered historical simulation): with ``n`` scenario losses and
  confidence ``a``, ``k = ceil(n * (1 - a))`` (at least 1); VaR is the ``k``-th largest loss
  and ES the mean of the ``k`` largest losses. Both are exact order statistics, so a test
  can compute them by hand.

See docs/margin.md for the formulas and worked numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from fractions import Fraction
from statistics import NormalDist
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from marginengine.errors import FieldError
from marginengine.fixedpoint import BPS, Rounding, div
from marginengine.margin.tiers import PPM, size_premium_imf
from marginengine.oracle.inputs import require_int_in
from marginengine.oracle.volatility import LAMBDA_DAILY, ewma_variances

__all__ = [
    "ApcMethod",
    "ApcPolicy",
    "LiquidationHorizon",
    "RiskMeasure",
    "anti_procyclical_ppm",
    "compose_haircut_ppm",
    "concentration_horizon_periods",
    "cp_absorbable_within",
    "cp_execution_slippage",
    "depth_haircut_ppm",
    "ecc_liquidation_days",
    "empirical_tail",
    "fhs_haircut",
    "fhs_losses",
    "fraction_to_ppm_up",
    "horizon_haircut",
    "linear_absorbable_within",
    "linear_execution_slippage",
    "liquidation_threshold_bps",
    "lookback_returns",
    "maintenance_fraction_ppm",
    "parametric_haircut",
    "stressed_returns",
]

Measure = Literal["var", "es"]
Aggregation = Literal["sqrt_time", "overlapping"]


def _require_int(value: object, field: str, minimum: int, maximum: int | None = None) -> int:
    return require_int_in(value, field, minimum, maximum, error=FieldError)


def _require_confidence(confidence_bps: int) -> int:
    # 50% .. 99.99%: a quantile below the median is no risk measure, 100% is infinite.
    return _require_int(confidence_bps, "confidence_bps", BPS // 2, BPS - 1)


def fraction_to_ppm_up(value: float | Fraction) -> int:
    """Fix a fraction to ppm, rounded up, clamped to ``0..PPM``.

    A float is read at its exact binary value, so the result is the same on every machine.

    Raises
    ------
    FieldError
        If ``value`` is a NaN or infinite float.
    """
    if isinstance(value, float) and not math.isfinite(value):
        raise FieldError("haircut", f"must be finite (got {value})")
    exact = Fraction(value) * PPM
    return min(max(math.ceil(exact), 0), PPM)


# --------------------------------------------------------------------------- horizon


@dataclass(frozen=True)
class LiquidationHorizon:
    """The time from the price move to the collateral being sold, in blocks.

    ``blocks = oracle_delay_blocks + keeper_latency_blocks + auction_blocks``: the oracle
    publishes late, keepers act after a latency, and an auction takes its length.

    Attributes
    ----------
    oracle_delay_blocks, keeper_latency_blocks, auction_blocks
        Non-negative block counts.
    block_time_ms
        Milliseconds per block, positive (12,000 on Ethereum, 250 on Arbitrum).
    """

    oracle_delay_blocks: int
    keeper_latency_blocks: int
    auction_blocks: int
    block_time_ms: int

    def __post_init__(self) -> None:
        for name in ("oracle_delay_blocks", "keeper_latency_blocks", "auction_blocks"):
            _require_int(getattr(self, name), name, 0)
        _require_int(self.block_time_ms, "block_time_ms", 1)
        if self.blocks == 0:
            raise FieldError("horizon", "must be at least one block in total (got 0)")

    @property
    def blocks(self) -> int:
        """Total blocks of the horizon."""
        return self.oracle_delay_blocks + self.keeper_latency_blocks + self.auction_blocks

    @property
    def seconds(self) -> Fraction:
        """The horizon in seconds, exactly."""
        return Fraction(self.blocks * self.block_time_ms, 1000)

    def periods(self, period_seconds: int) -> Fraction:
        """The horizon in return periods of ``period_seconds``, exactly."""
        return self.seconds / _require_int(period_seconds, "period_seconds", 1)


# --------------------------------------------------------------------------- VaR / ES


@dataclass(frozen=True)
class RiskMeasure:
    """Value at risk and expected shortfall of one position over the horizon, ppm of value.

    Both are rounded up and capped at 100%.
    """

    var_ppm: int
    es_ppm: int

    def pick(self, measure: Measure) -> int:
        """Return the VaR or the ES."""
        if measure == "var":
            return self.var_ppm
        if measure == "es":
            return self.es_ppm
        raise FieldError("measure", f"must be 'var' or 'es' (got {measure!r})")


def _require_horizon(horizon_periods: Fraction | int) -> Fraction:
    if isinstance(horizon_periods, bool) or not isinstance(horizon_periods, int | Fraction):
        raise FieldError("horizon_periods", "must be an int or a Fraction of periods")
    value = Fraction(horizon_periods)
    if value <= 0:
        raise FieldError("horizon_periods", f"must be positive (got {value})")
    return value


def parametric_haircut(
    sigma_per_period: float, horizon_periods: Fraction | int, confidence_bps: int
) -> RiskMeasure:
    """Normal VaR and ES of a long position over ``T`` periods with sqrt-time scaling.

    ``VaR = z_a * sigma * sqrt(T)``, ``ES = sigma * sqrt(T) * phi(z_a) / (1 - a)``, where
    ``z_a`` is the standard normal quantile (2.3263 at 99%) and ``phi`` its density.

    Parameters
    ----------
    sigma_per_period
        Standard deviation of one period's log return (e.g. from an EWMA estimate).
    horizon_periods
        The liquidation horizon in periods (:meth:`LiquidationHorizon.periods`).
    confidence_bps
        Confidence level, basis points (9900 for 99%).
    """
    if not math.isfinite(sigma_per_period) or sigma_per_period < 0:
        raise FieldError("sigma_per_period", f"must be finite and >= 0 (got {sigma_per_period})")
    t = _require_horizon(horizon_periods)
    a = _require_confidence(confidence_bps) / BPS
    std = NormalDist()
    z = std.inv_cdf(a)
    scale = sigma_per_period * math.sqrt(float(t))
    var = z * scale
    es = scale * std.pdf(z) / (1.0 - a)
    return RiskMeasure(fraction_to_ppm_up(var), fraction_to_ppm_up(es))


def empirical_tail(losses: Sequence[float] | NDArray[np.float64], confidence_bps: int) -> tuple[
    float, float
]:
    """Return ``(VaR, ES)`` of a sample of losses by exact order statistics.

    ``k = ceil(n * (1 - a))`` (at least 1): VaR is the ``k``-th largest loss, ES the mean of
    the ``k`` largest.

    Raises
    ------
    FieldError
        If the sample is empty or not finite, or the confidence is out of range.
    """
    arr = np.asarray(losses, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0 or not np.all(np.isfinite(arr)):
        raise FieldError("losses", "must be a non-empty one-dimensional finite sample")
    conf = _require_confidence(confidence_bps)
    n = int(arr.size)
    k = max(div(n * (BPS - conf), BPS, Rounding.UP), 1)
    worst = np.sort(arr)[::-1][:k]
    return float(worst[-1]), float(np.mean(worst))


def fhs_losses(
    returns: Sequence[float] | NDArray[np.float64],
    horizon_periods: Fraction | int,
    *,
    lam: float = LAMBDA_DAILY,
    seed_count: int = 1,
    aggregation: Aggregation = "sqrt_time",
) -> NDArray[np.float64]:
    """Filtered historical simulation: horizon losses of a long position, rescaled to today.

    Each return after the EWMA seed window is devolatilized by the EWMA volatility forecast
    made *before* it, ``z_t = r_t / sigma_{t|t-1}``, and rescaled by the current forecast
    ``sigma_now`` (Barone-Adesi, Giannopoulos and Vosper 1999; Hull and White 1998). The
    horizon loss of each scenario is then:

    - ``"sqrt_time"``: ``-z_t * sigma_now * sqrt(T)``, one scenario per return;
    - ``"overlapping"``: ``-sigma_now * (z_j + ... + z_{j+m-1})`` with ``m = ceil(T)``
      periods (rounded up: conservative), one scenario per window of ``m`` consecutive
      standardized returns; keeps their serial dependence, needs at least ``m`` of them.

    Raises
    ------
    FieldError
        If a forecast before some return is zero (a flat seed window), or there are fewer
        standardized returns than ``ceil(T)`` for ``"overlapping"``.
    """
    t = _require_horizon(horizon_periods)
    variances = ewma_variances(returns, lam, seed_count)
    arr = np.asarray(returns, dtype=np.float64)
    later = arr[seed_count:]
    if later.size == 0:
        raise FieldError("returns", f"needs returns after the seed window of {seed_count}")
    before = variances[:-1]
    if np.any(before <= 0):
        raise FieldError("returns", "the EWMA volatility is zero before some return (flat seed)")
    z = later / np.sqrt(before)
    sigma_now = math.sqrt(float(variances[-1]))
    if aggregation == "sqrt_time":
        return np.asarray(-z * sigma_now * math.sqrt(float(t)), dtype=np.float64)
    if aggregation == "overlapping":
        m = math.ceil(t)
        if z.size < m:
            raise FieldError(
                "returns", f"overlapping horizons of {m} periods need at least {m} "
                f"standardized returns (got {z.size})"
            )
        sums = np.convolve(z, np.ones(m), mode="valid")
        return np.asarray(-sums * sigma_now, dtype=np.float64)
    raise FieldError("aggregation", f"must be 'sqrt_time' or 'overlapping' (got {aggregation!r})")


def fhs_haircut(
    returns: Sequence[float] | NDArray[np.float64],
    horizon_periods: Fraction | int,
    confidence_bps: int,
    *,
    lam: float = LAMBDA_DAILY,
    seed_count: int = 1,
    aggregation: Aggregation = "sqrt_time",
) -> RiskMeasure:
    """VaR and ES haircuts by filtered historical simulation (:func:`fhs_losses`)."""
    losses = fhs_losses(
        returns, horizon_periods, lam=lam, seed_count=seed_count, aggregation=aggregation
    )
    var, es = empirical_tail(losses, confidence_bps)
    return RiskMeasure(fraction_to_ppm_up(var), fraction_to_ppm_up(es))


def horizon_haircut(
    returns: Sequence[float] | NDArray[np.float64],
    horizon: LiquidationHorizon,
    period_seconds: int,
    confidence_bps: int,
    *,
    method: Literal["parametric", "fhs"] = "fhs",
    lam: float = LAMBDA_DAILY,
    seed_count: int = 1,
    aggregation: Aggregation = "sqrt_time",
    liquidation_days: Fraction | None = None,
    base_days: Fraction = Fraction(2),
) -> RiskMeasure:
    """VaR and ES haircuts of a long position over a liquidation horizon, in one call.

    The horizon in return periods is ``horizon.periods(period_seconds)``, scaled by ECC's
    concentration rule when ``liquidation_days`` is given
    (:func:`concentration_horizon_periods`). ``"parametric"`` uses the current EWMA
    volatility of ``returns`` with the normal quantile; ``"fhs"`` filtered historical
    simulation on the same EWMA filter.

    Parameters
    ----------
    returns
        Log returns of the collateral's oracle price, one per ``period_seconds``.
    horizon
        Oracle delay, keeper latency and auction length in blocks, and the block time.
    confidence_bps
        Confidence level, bps (9900 for 99%).
    """
    t = horizon.periods(period_seconds)
    if liquidation_days is not None:
        t = concentration_horizon_periods(t, liquidation_days, base_days)
    if method == "parametric":
        sigma = math.sqrt(float(ewma_variances(returns, lam, seed_count)[-1]))
        return parametric_haircut(sigma, t, confidence_bps)
    if method == "fhs":
        return fhs_haircut(returns, t, confidence_bps, lam=lam, seed_count=seed_count,
                           aggregation=aggregation)
    raise FieldError("method", f"must be 'parametric' or 'fhs' (got {method!r})")


# --------------------------------------------------------------------------- APC


class ApcMethod(Enum):
    """Anti-procyclicality tools of EMIR RTS (Commission Delegated Regulation 153/2013) Art. 28(1).

    - ``BUFFER``, point (a): a margin buffer of at least 25% of the computed margin, which
      may be temporarily exhausted when computed requirements rise significantly;
    - ``STRESSED_WEIGHT``, point (b): at least 25% weight to stressed observations in the
      look-back period;
    - ``FLOOR``, point (c): a margin no lower than the one computed with volatility over a
      10-year historical look-back period.
    """

    NONE = "none"
    BUFFER = "buffer"
    STRESSED_WEIGHT = "stressed_weight"
    FLOOR = "floor"


#: EMIR RTS 153/2013 Art. 28(1)(a) and (b): the minimum buffer and stressed weight, 25%.
EMIR_MIN_BPS: int = 2_500


@dataclass(frozen=True)
class ApcPolicy:
    """One anti-procyclicality tool with its parameters.

    Attributes
    ----------
    method
        The Art. 28(1) tool.
    buffer_bps
        (a) The buffer, at least 2,500 (25%).
    stressed_weight_bps
        (b) The weight of the stressed-period margin, 2,500..10,000.
    """

    method: ApcMethod = ApcMethod.BUFFER
    buffer_bps: int = EMIR_MIN_BPS
    stressed_weight_bps: int = EMIR_MIN_BPS

    def __post_init__(self) -> None:
        if not isinstance(self.method, ApcMethod):
            raise FieldError("method", f"must be an ApcMethod (got {self.method!r})")
        _require_int(self.buffer_bps, "buffer_bps", EMIR_MIN_BPS)
        _require_int(self.stressed_weight_bps, "stressed_weight_bps", EMIR_MIN_BPS, BPS)


def anti_procyclical_ppm(
    base_ppm: int,
    policy: ApcPolicy,
    *,
    released_bps: int = 0,
    stressed_ppm: int | None = None,
    floor_ppm: int | None = None,
) -> int:
    """Apply an EMIR Art. 28 tool to a computed haircut; ppm, rounded up, at most 100%.

    - ``BUFFER``: ``base * (1 + buffer - released)``; ``released_bps`` (``0..buffer``)
      is the part of the buffer released in stress, all of it in a full stress;
    - ``STRESSED_WEIGHT``: ``(1 - w) * base + w * stressed`` with ``stressed_ppm`` the
      haircut computed on the stressed observations alone;
    - ``FLOOR``: ``max(base, floor)`` with ``floor_ppm`` the haircut computed with the
      volatility of a 10-year look-back;
    - ``NONE``: ``base``.

    Raises
    ------
    FieldError
        If an input the tool needs is missing or out of range.
    """
    base = _require_int(base_ppm, "base_ppm", 0, PPM)
    method = policy.method
    if method is ApcMethod.NONE:
        return base
    if method is ApcMethod.BUFFER:
        released = _require_int(released_bps, "released_bps", 0, policy.buffer_bps)
        kept = policy.buffer_bps - released
        return min(div(base * (BPS + kept), BPS, Rounding.UP), PPM)
    if method is ApcMethod.STRESSED_WEIGHT:
        if stressed_ppm is None:
            raise FieldError("stressed_ppm", "is required by the stressed-weight tool")
        stressed = _require_int(stressed_ppm, "stressed_ppm", 0, PPM)
        w = policy.stressed_weight_bps
        return min(div(base * (BPS - w) + stressed * w, BPS, Rounding.UP), PPM)
    if floor_ppm is None:
        raise FieldError("floor_ppm", "is required by the 10-year floor tool")
    return max(base, _require_int(floor_ppm, "floor_ppm", 0, PPM))


def lookback_returns(
    returns: Sequence[float] | NDArray[np.float64], period_seconds: int, years: int = 10
) -> NDArray[np.float64]:
    """The last ``years`` of returns (all of them if the history is shorter), for the
    Art. 28(1)(c) floor: feed them to :func:`parametric_haircut` or :func:`fhs_haircut`.

    A year is 365 days; ``years * 365 * 86400 // period_seconds`` returns, rounded down.
    """
    arr = np.asarray(returns, dtype=np.float64)
    p = _require_int(period_seconds, "period_seconds", 1)
    y = _require_int(years, "years", 1)
    count = y * 365 * 86_400 // p
    return np.asarray(arr[-count:] if count < arr.size else arr, dtype=np.float64)


def stressed_returns(
    returns: Sequence[float] | NDArray[np.float64], window: int
) -> NDArray[np.float64]:
    """The stressed observations for Art. 28(1)(b): the ``window`` consecutive returns with
    the largest sum of squares (the most volatile stretch of the look-back; the earliest on
    a tie).

    Raises
    ------
    FieldError
        If ``window`` is not within ``1..len(returns)``.
    """
    arr = np.asarray(returns, dtype=np.float64)
    w = _require_int(window, "window", 1, int(arr.size))
    sums = np.convolve(arr * arr, np.ones(w), mode="valid")
    start = int(np.argmax(sums))
    return np.asarray(arr[start:start + w], dtype=np.float64)


# --------------------------------------------------------------------------- parameters


def liquidation_threshold_bps(haircut_ppm: int, min_bps: int = 0, max_bps: int = BPS) -> int:
    """Return the lending liquidation threshold ``1 - h``, bps, rounded down, bounded.

    The haircut in ppm is first rounded up to bps (``ceil(h / 100)``), so the threshold
    never exceeds ``1 - h``; the result is then clamped to ``min_bps..max_bps``.
    """
    h = _require_int(haircut_ppm, "haircut_ppm", 0, PPM)
    low = _require_int(min_bps, "min_bps", 0, BPS)
    high = _require_int(max_bps, "max_bps", low, BPS)
    return min(max(BPS - div(h, PPM // BPS, Rounding.UP), low), high)


def maintenance_fraction_ppm(haircut_ppm: int, min_ppm: int = 0, max_ppm: int = PPM) -> int:
    """Return the perp maintenance margin fraction ``h``, ppm, clamped to ``min..max``."""
    h = _require_int(haircut_ppm, "haircut_ppm", 0, PPM)
    low = _require_int(min_ppm, "min_ppm", 0, PPM)
    high = _require_int(max_ppm, "max_ppm", low, PPM)
    return min(max(h, low), high)


# --------------------------------------------------------------------------- depth


def cp_execution_slippage(base_in: int, base_reserve: int, fee_bps: int = 0) -> Fraction:
    """Execution slippage of selling ``base_in`` into a constant-product pool, exactly.

    The average fill is ``g * y / (x + g * base_in)`` against a mid of ``y / x``
    (``g = 1 - fee``), so the slippage is ``1 - g x / (x + g base_in)``: the fee when
    nothing is sold, and the loss a liquidator takes against the mid (the convention of
    :meth:`marginengine.venue.amm.ConstantProductPool.price_impact_bps`).
    """
    q = _require_int(base_in, "base_in", 0)
    x = _require_int(base_reserve, "base_reserve", 1)
    g = BPS - _require_int(fee_bps, "fee_bps", 0, BPS - 1)
    return 1 - Fraction(g * x, x * BPS + g * q)


def cp_absorbable_within(base_reserve: int, bonus_bps: int, fee_bps: int = 0) -> int:
    """Largest sale into a constant-product pool whose execution slippage is within the bonus.

    Solving ``1 - g x / (x + g q) <= b`` gives ``q <= x (g - 1 + b) / (g (1 - b))``,
    ``x b / (1 - b)`` without fee; rounded down; 0 when the fee alone exceeds the bonus.
    """
    x = _require_int(base_reserve, "base_reserve", 1)
    b = _require_int(bonus_bps, "bonus_bps", 0, BPS - 1)
    g = BPS - _require_int(fee_bps, "fee_bps", 0, BPS - 1)
    numerator = g - BPS + b
    if numerator <= 0:
        return 0
    return div(x * numerator * BPS, g * (BPS - b), Rounding.DOWN)


def linear_execution_slippage(base_in: int, depth_at_1pct: int) -> Fraction:
    """Execution slippage of selling into a linear book (:class:`venue.depth.DepthCurve`, e=1).

    The marginal price falls by 1% per ``depth_at_1pct`` sold, so the average fill is half
    the final drop: ``base_in / (200 * depth_at_1pct)``.

    Raises
    ------
    FieldError
        If the sale exceeds the book (``100 * depth_at_1pct``, the price would reach zero).
    """
    q = _require_int(base_in, "base_in", 0)
    d = _require_int(depth_at_1pct, "depth_at_1pct", 1)
    if q > 100 * d:
        raise FieldError("base_in", f"{q} exceeds the whole book, {100 * d}")
    return Fraction(q, 200 * d)


def linear_absorbable_within(depth_at_1pct: int, bonus_bps: int) -> int:
    """Largest sale into a linear book whose execution slippage is within the bonus.

    ``q / (200 d) <= b`` gives ``q <= 200 d b``, rounded down.
    """
    d = _require_int(depth_at_1pct, "depth_at_1pct", 1)
    b = _require_int(bonus_bps, "bonus_bps", 0, BPS - 1)
    return div(200 * d * b, BPS, Rounding.DOWN)


def depth_haircut_ppm(slippage: Fraction, bonus_bps: int) -> int:
    """The haircut that the liquidation bonus does not cover: ``max(0, slippage - bonus)``.

    A position whose sale slips less than the bonus needs nothing; beyond it, each unit of
    slippage is value the liquidation will not recover, so it is taken off the collateral.
    ppm, rounded up.
    """
    b = Fraction(_require_int(bonus_bps, "bonus_bps", 0, BPS - 1), BPS)
    if not 0 <= slippage <= 1:
        raise FieldError("slippage", f"must be within [0, 1] (got {slippage})")
    return fraction_to_ppm_up(max(slippage - b, Fraction(0)))


def ecc_liquidation_days(
    position_value: int,
    daily_capacity: int,
    addon_days: Fraction = Fraction(3, 10),
    cap_days: Fraction = Fraction(3),
) -> Fraction:
    """ECC's liquidation period: ``min(position / daily market capacity + 0.3, 3)`` days.

    ECC, "Concentration Risk Margin" (https://www.ecc.de/ecc-en/risk-management/margining/
    concentration-risk-margin): the liquidation period of a position is the ratio of its
    size to the daily market capacity, plus 0.3 days to identify a default and design the
    close-out, capped at 3 days on account level.

    Parameters
    ----------
    position_value, daily_capacity
        Same units (quote or base); ``daily_capacity`` positive.
    """
    v = _require_int(position_value, "position_value", 0)
    c = _require_int(daily_capacity, "daily_capacity", 1)
    if addon_days < 0:
        raise FieldError("addon_days", f"must be non-negative (got {addon_days})")
    if cap_days < addon_days:
        raise FieldError("cap_days", f"must be at least addon_days {addon_days} (got {cap_days})")
    return min(Fraction(v, c) + addon_days, Fraction(cap_days))


def concentration_horizon_periods(
    horizon_periods: Fraction | int, liquidation_days: Fraction, base_days: Fraction = Fraction(2)
) -> Fraction:
    """Scale a horizon by ECC's concentration rule: ``T * max(1, l / base_days)``.

    ECC calibrates its margin to a 2-day liquidation period (EMIR RTS Art. 26's minimum)
    and charges concentration margin when the position's liquidation period ``l`` is longer;
    ``base_days`` is the period the base margin is calibrated for. Feeding the scaled
    horizon to :func:`parametric_haircut` scales the haircut by ``sqrt(l / base_days)``.
    """
    t = _require_horizon(horizon_periods)
    if base_days <= 0:
        raise FieldError("base_days", f"must be positive (got {base_days})")
    if liquidation_days < 0:
        raise FieldError("liquidation_days", f"must be non-negative (got {liquidation_days})")
    return t * max(Fraction(1), Fraction(liquidation_days) / Fraction(base_days))


# --------------------------------------------------------------------------- composition


def compose_haircut_ppm(
    risk_ppm: int,
    *,
    size: int = 0,
    base_unit: int = 1,
    imf_factor_ppm: int = 0,
    depth_ppm: int = 0,
    crowding_ppm: int = 0,
) -> int:
    """Compose the haircut: size premium on the risk haircut, then depth and crowding add-ons.

    ``min(1, size_premium(risk) + depth + crowding)``, where ``size_premium`` is Drift's
    square-root IMF (:func:`marginengine.margin.tiers.size_premium_imf`) applied to the
    VaR/ES haircut as the base fraction; the add-ons are additive because each is a loss
    the others do not count (market move, own slippage beyond the bonus, the crowd's extra
    slippage). ppm, rounded up.
    """
    risk = _require_int(risk_ppm, "risk_ppm", 0, PPM)
    depth = _require_int(depth_ppm, "depth_ppm", 0, PPM)
    crowd = _require_int(crowding_ppm, "crowding_ppm", 0, PPM)
    sized = size_premium_imf(risk, size, base_unit, imf_factor_ppm)
    return min(sized + depth + crowd, PPM)
