"""Volatility estimators from integer price histories: EWMA, realized, GARCH(1,1).

Volatility is a *market condition*: it screens and sets parameters, it never decides an
account's fate by itself. So the estimators work in float on log returns
(``r_t = ln(p_t / p_{t-1})`` of consecutive oracle prices, zero mean as RiskMetrics assumes
for short horizons), and the one number that leaves this module to become a parameter, the
annualized volatility, is fixed to an exact integer with its rounding named:

- units: **parts per million per square root of a year** (``vol_ppm``: 800_000 is 80% a
  year), a year being 365 days of 86,400 s (crypto trades every day);
- ``vol_ppm = ceil(sqrt(variance_per_period * periods_per_year) * 1e6)`` by default (up:
  a higher volatility asks for more margin), computed exactly from the float variance's
  binary value with :func:`math.isqrt`, so the same history gives the same integer on every
  machine.

EWMA (RiskMetrics Technical Document, J.P. Morgan/Reuters 1996, section 5.2.1): the
variance estimate after return ``t`` is ``s_t = lam * s_{t-1} + (1 - lam) * r_t**2``;
RiskMetrics uses ``lam = 0.94`` for daily and ``lam = 0.97`` for monthly data.

Seed rule (chosen here, stated once): the first ``seed_count`` returns give the seed
``s_0 = mean(r_1**2 .. r_m**2)`` (``m = seed_count``); the recursion then runs over the
returns *after* the seed window only, so no return is counted twice. The estimate after the
last return is the forecast for the next period.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import pairwise
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from marginengine.errors import OracleError, field_path
from marginengine.fixedpoint import Rounding
from marginengine.oracle.inputs import require_int_in, require_price

#: Seconds in the year volatility is annualized over (365 days: crypto markets never close).
YEAR_SECONDS: int = 365 * 86_400
#: One whole, in parts per million.
PPM: int = 1_000_000
#: RiskMetrics' decay factor for daily data.
LAMBDA_DAILY: float = 0.94
#: RiskMetrics' decay factor for monthly data.
LAMBDA_MONTHLY: float = 0.97

Method = Literal["ewma", "realized", "garch"]


def log_returns(prices: Sequence[int], field: str = "prices") -> NDArray[np.float64]:
    """Return the log returns ``ln(p_t / p_{t-1})`` of a history of int prices.

    Parameters
    ----------
    prices
        At least two positive int prices (any fixed point: only ratios matter), oldest first.
    field
        The name to put in an error.

    Raises
    ------
    OracleError
        Naming ``field[i]``, if an entry is not a positive int, or if fewer than two prices
        are given.
    """
    if len(prices) < 2:
        raise OracleError(field, f"needs at least 2 prices for a return (got {len(prices)})")
    checked = [require_price(p, field_path(field, i)) for i, p in enumerate(prices)]
    # Prices above 2**53 would lose digits as float64; the ratio is what matters, so divide
    # in exact rationals first when that could happen.
    if max(checked) < 2**53:
        arr = np.asarray(checked, dtype=np.float64)
        return np.log(arr[1:] / arr[:-1])
    ratios = [float(Fraction(b, a)) for a, b in pairwise(checked)]
    return np.log(np.asarray(ratios, dtype=np.float64))


def _require_lambda(lam: float) -> float:
    if isinstance(lam, bool) or not isinstance(lam, int | float):
        raise OracleError("lam", f"must be a number in (0, 1), not {type(lam).__name__}")
    if not math.isfinite(lam) or not 0 < lam < 1:
        raise OracleError("lam", f"must be in (0, 1) (got {lam})")
    return float(lam)


def _require_count(value: int, field: str, minimum: int, maximum: int | None = None) -> int:
    return require_int_in(value, field, minimum, maximum, maximum_is="the number of returns")


def _require_returns(returns: Sequence[float] | NDArray[np.float64]) -> NDArray[np.float64]:
    arr = np.asarray(returns, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise OracleError("returns", "must be a non-empty one-dimensional sequence")
    if not np.all(np.isfinite(arr)):
        raise OracleError("returns", f"must be finite (entry {int(np.argmin(np.isfinite(arr)))})")
    return arr


def ewma_variances(
    returns: Sequence[float] | NDArray[np.float64], lam: float = LAMBDA_DAILY, seed_count: int = 1
) -> NDArray[np.float64]:
    """Return the EWMA variance path: the seed, then the estimate after each later return.

    Parameters
    ----------
    returns
        Log returns, oldest first.
    lam
        Decay factor in ``(0, 1)``; :data:`LAMBDA_DAILY` (0.94) or :data:`LAMBDA_MONTHLY`
        (0.97) as RiskMetrics.
    seed_count
        Number ``m`` of leading returns whose mean square seeds the recursion.

    Returns
    -------
    numpy.ndarray
        ``n - m + 1`` variances per period: ``v[0] = mean(r[:m]**2)``, and
        ``v[j] = lam * v[j-1] + (1 - lam) * r[m-1+j]**2``. ``v[j]`` is the forecast of the
        variance of return ``m + j`` (0-based), so ``v[-1]`` forecasts the next period.
    """
    arr = _require_returns(returns)
    lam = _require_lambda(lam)
    m = _require_count(seed_count, "seed_count", 1, arr.size)
    out = np.empty(arr.size - m + 1, dtype=np.float64)
    out[0] = float(np.mean(arr[:m] ** 2))
    one_minus = 1.0 - lam
    # A plain loop: the recursion is sequential and histories are short (thousands).
    prev = out[0]
    for j, r in enumerate(arr[m:], start=1):
        prev = lam * prev + one_minus * r * r
        out[j] = prev
    return out


def realized_variance(returns: Sequence[float] | NDArray[np.float64], window: int) -> float:
    """Return the realized variance per period over the last ``window`` returns.

    ``sum(r_t**2) / window`` (zero mean, the convention of realized volatility).

    Raises
    ------
    OracleError
        If ``window`` is not in ``1..len(returns)``.
    """
    arr = _require_returns(returns)
    w = _require_count(window, "window", 1, arr.size)
    return float(np.sum(arr[-w:] ** 2) / w)


#: The fewest returns a GARCH(1,1) fit is asked to explain (three parameters; fewer
#: returns leave the fit meaningless or failing to converge).
GARCH_MIN_RETURNS = 30


def garch_variance(
    returns: Sequence[float] | NDArray[np.float64],
) -> tuple[float, dict[str, float]]:
    """Fit a zero-mean GARCH(1,1) with the ``arch`` package; return the next-period variance.

    The returns are scaled by 100 for the optimizer (``arch`` warns about badly scaled data)
    and the forecast scaled back. Needs the optional extra ``adaptive`` (``pip install
    marginengine[adaptive]``).

    Returns
    -------
    tuple
        ``(variance_per_period, params)`` with ``params`` holding ``omega``, ``alpha[1]``,
        ``beta[1]`` in the scaled units (percent returns).

    Raises
    ------
    OracleError
        If ``arch`` is not installed, or fewer than 30 returns are given.
    """
    arr = _require_returns(returns)
    if arr.size < GARCH_MIN_RETURNS:
        raise OracleError("returns", f"GARCH(1,1) needs at least {GARCH_MIN_RETURNS} returns "
                                     f"(got {arr.size})")
    try:
        from arch import arch_model  # lazily: an optional extra
    except ImportError:  # pragma: no cover - exercised only without the extra
        raise OracleError(
            "method", "garch needs the 'arch' package: pip install marginengine[adaptive]"
        ) from None
    model: Any = arch_model(arr * 100.0, mean="Zero", vol="GARCH", p=1, q=1, rescale=False)
    fitted: Any = model.fit(disp="off")
    forecast: Any = fitted.forecast(horizon=1, reindex=False)
    variance = float(forecast.variance.to_numpy()[-1, 0]) / 10_000.0
    params = {str(k): float(v) for k, v in fitted.params.items()}
    return variance, params


def _ceil_sqrt_fraction(value: Fraction) -> int:
    """Return the least int ``k >= 0`` with ``k * k >= value`` (exact)."""
    if value <= 0:
        return 0
    p, q = value.numerator, value.denominator
    k = math.isqrt(p // q)
    while k * k * q < p:
        k += 1
    return k


def _floor_sqrt_general(value: Fraction) -> int:
    """Return the greatest int ``k >= 0`` with ``k * k <= value`` (exact)."""
    if value <= 0:
        return 0
    p, q = value.numerator, value.denominator
    k = math.isqrt(p // q)
    while (k + 1) * (k + 1) * q <= p:
        k += 1
    return k


def periods_per_year(period_seconds: int) -> Fraction:
    """Return the number of return periods of ``period_seconds`` in a year, exactly."""
    p = _require_count(period_seconds, "period_seconds", 1)
    return Fraction(YEAR_SECONDS, p)


def annualized_vol_ppm(
    variance_per_period: float, period_seconds: int, rounding: Rounding = Rounding.UP
) -> int:
    """Fix a per-period variance to an annualized volatility in ppm per sqrt(year).

    ``sqrt(variance * YEAR_SECONDS / period_seconds) * 1e6``, computed exactly from the
    float's binary value and rounded as asked (``UP`` by default: conservative).

    Raises
    ------
    OracleError
        If the variance is negative or not finite, or ``period_seconds`` is not positive.
    """
    if not math.isfinite(variance_per_period) or variance_per_period < 0:
        raise OracleError(
            "variance_per_period", f"must be finite and non-negative (got {variance_per_period})"
        )
    scaled = Fraction(variance_per_period) * periods_per_year(period_seconds) * PPM * PPM
    if rounding is Rounding.UP:
        return _ceil_sqrt_fraction(scaled)
    low = _floor_sqrt_general(scaled)
    if rounding is Rounding.DOWN:
        return low
    # HALF_UP: low + 1 when value >= (low + 1/2)^2, i.e. 4 value >= (2 low + 1)^2.
    return low + 1 if 4 * scaled >= (2 * low + 1) ** 2 else low


@dataclass(frozen=True)
class VolatilityEstimate:
    """One estimate of an asset's volatility, ready to publish as a market condition.

    Attributes
    ----------
    method
        ``"ewma"``, ``"realized"`` or ``"garch"``.
    variance_per_period
        The float estimate, per return period (screening input).
    period_seconds
        Length of one return period, seconds.
    vol_ppm
        Annualized volatility, ppm per sqrt(year), rounded up: the exact parameter.
    """

    method: Method
    variance_per_period: float
    period_seconds: int
    vol_ppm: int

    @property
    def sigma_per_period(self) -> float:
        """The per-period standard deviation (float, screening)."""
        return math.sqrt(self.variance_per_period)


def estimate_volatility(
    prices: Sequence[int],
    period_seconds: int,
    method: Method = "ewma",
    *,
    lam: float = LAMBDA_DAILY,
    seed_count: int = 1,
    window: int | None = None,
) -> VolatilityEstimate:
    """Estimate the volatility of an int price history sampled every ``period_seconds``.

    Parameters
    ----------
    prices
        Oracle prices, oldest first, one per period.
    period_seconds
        The sampling period (3600 for hourly prices).
    method
        ``"ewma"`` (``lam``, ``seed_count``), ``"realized"`` (``window``, all returns by
        default) or ``"garch"`` (the optional ``arch`` extra).

    Raises
    ------
    OracleError
        Naming the field, on a bad price, parameter or method.
    """
    periods_per_year(period_seconds)  # validates period_seconds first
    returns = log_returns(prices)
    if method == "ewma":
        variance = float(ewma_variances(returns, lam, seed_count)[-1])
    elif method == "realized":
        variance = realized_variance(returns, returns.size if window is None else window)
    elif method == "garch":
        variance, _ = garch_variance(returns)
    else:
        raise OracleError("method", f"must be 'ewma', 'realized' or 'garch' (got {method!r})")
    return VolatilityEstimate(
        method, variance, period_seconds, annualized_vol_ppm(variance, period_seconds)
    )
