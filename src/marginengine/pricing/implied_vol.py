"""Implied Black-76 volatility of many options at once (vectorized Newton with bisection).

The algorithm, element by element the same as
:func:`marginengine.pricing.scalar.implied_vol_scalar` (its test oracle):

1. Undiscount the price and subtract the intrinsic value: the *time value* tv, which is
   the same for the call and the put of one strike. A price below the discounted intrinsic
   value or at/above the no-arbitrage bound (D F for a call, D K for a put) is refused; a
   price at its intrinsic value (within ``PRICE_SLACK * max(F, K)``) has volatility 0.
2. Solve for the total standard deviation s = sigma sqrt(T) in (0, ``MAX_STDDEV``) the
   equation OTM(s) = tv, where OTM is the undiscounted out-of-the-money option (the call
   if K >= F, else the put): pricing the OTM side keeps tiny time values precise.
3. Newton on ln OTM(s) - ln tv (ln OTM is concave in s, so from a start below the root the
   iteration climbs monotonically and converges fast even where vega is tiny), keeping a
   bracket [lo, hi] from the sign of OTM(s) - tv; a step that leaves the bracket (or a
   zero slope) is replaced by the bracket's midpoint. Stop at a relative error
   ``IV_RTOL`` on tv, a relative step below 4e-16, or ``IV_MAX_ITER`` iterations.
4. sigma = s / sqrt(T).

The loop runs over iterations, not instruments: each pass updates the still-active
elements together.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import ndtr

from marginengine.errors import FieldError
from marginengine.pricing.black76 import INV_SQRT_2PI, check_inputs
from marginengine.pricing.inputs import FloatArray, float_array
from marginengine.pricing.scalar import IV_MAX_ITER, IV_RTOL, MAX_STDDEV, PRICE_SLACK


def _first(mask: np.ndarray, *arrays: np.ndarray) -> str:
    i = int(np.flatnonzero(mask.ravel())[0])
    where = f"at index {i}: " if mask.ndim else ""
    return where + ", ".join(repr(float(a.ravel()[i])) for a in arrays)


def otm_time_value(forward: FloatArray, strike: FloatArray,
                   stddev: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Undiscounted out-of-the-money value (time value) and its slope F n(d1) in s > 0."""
    d1 = np.log(forward / strike) / stddev + 0.5 * stddev
    d2 = d1 - stddev
    call = forward * ndtr(d1) - strike * ndtr(d2)
    put = strike * ndtr(-d2) - forward * ndtr(-d1)
    value = np.maximum(np.where(strike >= forward, call, put), 0.0)
    slope = forward * INV_SQRT_2PI * np.exp(-0.5 * d1 * d1)
    return value, slope


def time_value(price: ArrayLike, forward: ArrayLike, strike: ArrayLike, t: ArrayLike,
               rate: ArrayLike, is_call: ArrayLike
               ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Check quoted prices against their no-arbitrage bounds; return (tv, F, K, T).

    Raises
    ------
    FieldError
        ``price`` negative, below the discounted intrinsic value, at or above the bound,
        or with time value at ``t`` = 0; or any other invalid argument.
    """
    p = float_array("price", price, minimum=0.0)
    x = check_inputs(forward, strike, t, 0.0, rate, is_call)
    try:
        p, f, k, tt, r, call = np.broadcast_arrays(p, x.forward, x.strike, x.t, x.rate,
                                                   x.is_call)
    except ValueError:
        raise FieldError("shape", f"price {p.shape} does not broadcast with the other "
                                  f"arguments {x.forward.shape}") from None
    disc = np.exp(-r * tt)
    intrinsic = np.where(call, np.maximum(f - k, 0.0), np.maximum(k - f, 0.0))
    value = p / disc - intrinsic
    slack = PRICE_SLACK * np.maximum(f, k)
    low = value < -slack
    if low.any():
        raise FieldError("price", "below the discounted intrinsic value ("
                                  + _first(low, p, disc * intrinsic) + ")")
    high = value >= np.minimum(f, k)
    if high.any():
        raise FieldError("price", "not below the no-arbitrage bound, the discounted forward "
                                  "(call) or strike (put) ("
                                  + _first(high, p, disc * np.where(call, f, k)) + ")")
    expired = (tt == 0.0) & (value > slack)
    if expired.any():
        raise FieldError("price", "has time value at expiry (t = 0) ("
                                  + _first(expired, p) + ")")
    value = np.where(value > slack, value, 0.0)
    return value, f, k, tt


def initial_stddev(forward: FloatArray, strike: FloatArray, target: FloatArray) -> FloatArray:
    """The solver's start (see :func:`marginengine.pricing.scalar.initial_stddev`)."""
    guess = np.sqrt(2.0 * np.pi) * target / forward
    inflection = np.sqrt(2.0 * np.abs(np.log(forward / strike)))
    guess = np.where(inflection > 0.0, np.minimum(guess, inflection), guess)
    out: FloatArray = np.minimum(np.maximum(guess, 1e-8), 0.5 * MAX_STDDEV)
    return out


def implied_vol(price: ArrayLike, forward: ArrayLike, strike: ArrayLike, t: ArrayLike,
                rate: ArrayLike, is_call: ArrayLike) -> FloatArray:
    """Black-76 implied volatilities of many European options.

    Parameters
    ----------
    price
        Present values (>= 0), in the currency of ``forward`` and ``strike``.
    forward, strike, t, rate, is_call
        As in :func:`marginengine.pricing.black76.price`.

    Returns
    -------
    numpy.ndarray
        sigma per sqrt(year), of the broadcast shape; 0 where the price is its intrinsic
        value (including every option at ``t`` = 0).

    Raises
    ------
    FieldError
        On an invalid argument or a price outside the no-arbitrage bounds, naming the field
        and the index of the first offending element.
    """
    target, f, k, tt = time_value(price, forward, strike, t, rate, is_call)
    shape = target.shape
    target, f, k, tt = (a.ravel() for a in (target, f, k, tt))
    s = np.zeros_like(target)
    idx = np.flatnonzero(target > 0.0)
    cur = initial_stddev(f[idx], k[idx], target[idx])
    lo = np.zeros_like(cur)
    hi = np.full_like(cur, MAX_STDDEV)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for _ in range(IV_MAX_ITER):
            if idx.size == 0:
                break
            fi, ki, tv = f[idx], k[idx], target[idx]
            value, slope = otm_time_value(fi, ki, cur)
            done = np.abs(value - tv) <= IV_RTOL * tv
            below = value < tv
            lo = np.where(below, cur, lo)
            hi = np.where(below, hi, cur)
            ok = (value > 0.0) & (slope > 0.0)
            step = np.where(ok, cur - (np.log(value) - np.log(tv)) * value / slope, np.nan)
            step = np.where((lo < step) & (step < hi), step, 0.5 * (lo + hi))
            small = np.abs(step - cur) <= 4e-16 * cur
            # Converged elements keep the point they were evaluated at (the scalar twin's
            # ``break`` before stepping); a vanishing step still takes its last step.
            s[idx[done]] = cur[done]
            s[idx[small & ~done]] = step[small & ~done]
            keep = ~(done | small)
            idx, cur, lo, hi = idx[keep], step[keep], lo[keep], hi[keep]
        s[idx] = cur
    sqrt_t = np.sqrt(np.where(tt > 0.0, tt, 1.0))
    out: FloatArray = (s / sqrt_t).reshape(shape)
    return out
