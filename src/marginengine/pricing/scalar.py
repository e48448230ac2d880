"""Scalar twins of the Black-76 kernels: one option at a time, plain ``math`` floats.

The test oracle of :mod:`marginengine.pricing.black76` and
:mod:`marginengine.pricing.implied_vol`: the same formulas, limits, clamps and
iteration, written without NumPy so that a disagreement points at the vectorization. The
normal CDF is ``0.5 * erfc(-x / sqrt(2))`` (accurate in both tails).
"""

from __future__ import annotations

import math

from marginengine.errors import FieldError
from marginengine.pricing.black76 import INV_SQRT_2PI, MIN_STDDEV, Greeks
from marginengine.pricing.inputs import bool_scalar, float_scalar

#: Largest total standard deviation sigma sqrt(T) the implied-volatility solver searches;
#: an out-of-the-money option's value there is within 1e-100 of its upper bound.
MAX_STDDEV = 50.0
#: Relative precision the implied-volatility solver stops at (on the time value).
IV_RTOL = 1e-12
#: Iterations after which the solver returns its best estimate.
IV_MAX_ITER = 100
#: Time value (relative to max(F, K)) below which a price counts as intrinsic: float
#: rounding of price / D - intrinsic is a few ulps of the larger of F and K.
PRICE_SLACK = 1e-14


def norm_cdf(x: float) -> float:
    """Standard normal CDF N(x)."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def norm_pdf(x: float) -> float:
    """Standard normal density n(x) (0 at +-inf)."""
    return INV_SQRT_2PI * math.exp(-0.5 * x * x) if math.isfinite(x) else 0.0


def _check(forward: float, strike: float, t: float, vol: float, rate: float,
           is_call: bool) -> tuple[float, float, float, float, float, bool]:
    return (float_scalar("forward", forward, minimum=0.0, strict=True),
            float_scalar("strike", strike, minimum=0.0, strict=True),
            float_scalar("t", t, minimum=0.0),
            float_scalar("vol", vol, minimum=0.0),
            float_scalar("rate", rate),
            bool_scalar("is_call", is_call))


def _d1_d2(forward: float, strike: float, stddev: float) -> tuple[float, float]:
    log_fk = math.log(forward / strike)
    if stddev <= MIN_STDDEV:
        edge = math.inf if log_fk > 0.0 else -math.inf if log_fk < 0.0 else 0.0
        return edge, edge
    d1 = log_fk / stddev + 0.5 * stddev
    return d1, d1 - stddev


def _undiscounted(forward: float, strike: float, d1: float, d2: float, is_call: bool) -> float:
    if is_call:
        value = forward * norm_cdf(d1) - strike * norm_cdf(d2)
        return min(max(value, max(forward - strike, 0.0)), forward)
    value = strike * norm_cdf(-d2) - forward * norm_cdf(-d1)
    return min(max(value, max(strike - forward, 0.0)), strike)


def price_scalar(forward: float, strike: float, t: float, vol: float, rate: float,
                 is_call: bool) -> float:
    """Black-76 present value of one European option (see
    :func:`marginengine.pricing.black76.price` for the conventions and limits).

    Raises
    ------
    FieldError
        On an invalid argument, naming it.
    """
    f, k, tt, v, r, call = _check(forward, strike, t, vol, rate, is_call)
    d1, d2 = _d1_d2(f, k, v * math.sqrt(tt))
    return math.exp(-r * tt) * _undiscounted(f, k, d1, d2, call)


def price_and_greeks_scalar(forward: float, strike: float, t: float, vol: float,
                            rate: float, is_call: bool) -> tuple[float, Greeks[float]]:
    """Price and analytic Greeks of one option (the twin of
    :func:`marginengine.pricing.black76.price_and_greeks`)."""
    f, k, tt, v, r, call = _check(forward, strike, t, vol, rate, is_call)
    stddev = v * math.sqrt(tt)
    limit = stddev <= MIN_STDDEV
    d1, d2 = _d1_d2(f, k, stddev)
    disc = math.exp(-r * tt)
    value = disc * _undiscounted(f, k, d1, d2, call)
    n_d1 = norm_pdf(d1)
    spot = disc * f
    gamma = 0.0 if limit else disc * n_d1 / (f * stddev)
    gamma_spot = 0.0 if limit else n_d1 / (spot * stddev)
    decay = 0.0 if limit else -spot * n_d1 * v / (2.0 * math.sqrt(tt))
    if call:
        delta, delta_spot = disc * norm_cdf(d1), norm_cdf(d1)
        carry = -r * k * disc * norm_cdf(d2)
        rho_spot = k * tt * disc * norm_cdf(d2)
    else:
        delta, delta_spot = -disc * norm_cdf(-d1), -norm_cdf(-d1)
        carry = r * k * disc * norm_cdf(-d2)
        rho_spot = -k * tt * disc * norm_cdf(-d2)
    return value, Greeks(delta=delta, delta_spot=delta_spot, gamma=gamma,
                         gamma_spot=gamma_spot, vega=spot * n_d1 * math.sqrt(tt),
                         theta=decay + r * value, theta_spot=decay + carry,
                         rho=-tt * value, rho_spot=rho_spot)


def otm_time_value(forward: float, strike: float, stddev: float) -> tuple[float, float]:
    """Undiscounted value of the out-of-the-money option at ``strike`` (the call if
    K >= F, else the put), which is the time value of both the call and the put, and its
    derivative F n(d1) in the total standard deviation ``stddev`` (> 0)."""
    d1, d2 = _d1_d2(forward, strike, stddev)
    if strike >= forward:
        value = forward * norm_cdf(d1) - strike * norm_cdf(d2)
    else:
        value = strike * norm_cdf(-d2) - forward * norm_cdf(-d1)
    return max(value, 0.0), forward * norm_pdf(d1)


def time_value_bounds(price: float, forward: float, strike: float, t: float, rate: float,
                      is_call: bool) -> float:
    """The undiscounted time value of a quoted price, after the no-arbitrage checks.

    Returns 0 for a price at its intrinsic value (within :data:`PRICE_SLACK` times
    max(F, K)).

    Raises
    ------
    FieldError
        ``price`` below the discounted intrinsic value, at or above the upper bound
        (D F for a call, D K for a put), or with time value at ``t`` = 0.
    """
    disc = math.exp(-rate * t)
    intrinsic = max(forward - strike, 0.0) if is_call else max(strike - forward, 0.0)
    value = price / disc - intrinsic
    slack = PRICE_SLACK * max(forward, strike)
    if value < -slack:
        raise FieldError("price", f"{price!r} is below the discounted intrinsic value "
                                  f"{disc * intrinsic!r}")
    upper = forward if is_call else strike
    if value >= min(forward, strike):
        what = "forward" if is_call else "strike"
        raise FieldError("price", f"{price!r} is not below the no-arbitrage bound "
                                  f"{disc * upper!r} (the discounted {what})")
    if t == 0.0 and value > slack:
        raise FieldError("price", f"{price!r} has time value at expiry (t = 0)")
    # A time value within the slack is float noise of price / D - intrinsic (an option
    # priced at sigma = 0, or deep in the money): its volatility is 0, not a random figure.
    return value if value > slack else 0.0


def implied_vol_scalar(price: float, forward: float, strike: float, t: float, rate: float,
                       is_call: bool) -> float:
    """The Black-76 volatility that reprices one option: Newton on the log of the
    out-of-the-money time value in sigma sqrt(T), with a bisection fallback.

    Returns 0 for a price at its intrinsic value (and at ``t`` = 0). See
    :func:`marginengine.pricing.implied_vol.implied_vol` for the algorithm.

    Raises
    ------
    FieldError
        On an invalid argument or a price outside the no-arbitrage bounds, naming it.
    """
    p = float_scalar("price", price, minimum=0.0)
    f, k, tt, _, r, call = _check(forward, strike, t, 0.0, rate, is_call)
    target = time_value_bounds(p, f, k, tt, r, call)
    if target <= 0.0:
        return 0.0
    s = initial_stddev(f, k, target)
    lo, hi = 0.0, MAX_STDDEV
    for _ in range(IV_MAX_ITER):
        value, slope = otm_time_value(f, k, s)
        if abs(value - target) <= IV_RTOL * target:
            break
        if value < target:
            lo = s
        else:
            hi = s
        # Newton on ln(value) - ln(target): ln of the time value is concave in s, so the
        # iteration converges from below; a step outside the bracket falls back to bisection.
        step = (s - (math.log(value) - math.log(target)) * value / slope
                if value > 0.0 and slope > 0.0 else math.nan)
        if not lo < step < hi:
            step = 0.5 * (lo + hi)
        if abs(step - s) <= 4e-16 * s:
            s = step
            break
        s = step
    return s / math.sqrt(tt)


def initial_stddev(forward: float, strike: float, target: float) -> float:
    """Starting point of the solver: the Brenner-Subrahmanyam at-the-money estimate
    sqrt(2 pi) tv / F, capped at the inflection point sqrt(2 |ln(F/K)|) when it is higher
    (a start at or below the root is where Newton on the concave log converges
    monotonically)."""
    guess = math.sqrt(2.0 * math.pi) * target / forward
    inflection = math.sqrt(2.0 * abs(math.log(forward / strike)))
    if inflection > 0.0:
        guess = min(guess, inflection)
    return min(max(guess, 1e-8), 0.5 * MAX_STDDEV)
