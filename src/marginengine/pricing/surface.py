"""What every volatility surface offers, and the one rule that joins expiries.

A surface gives, for a strike K, the forward F of the option's expiry and a time T in
years, the Black-76 implied volatility. Two implementations: SVI slices
(:mod:`marginengine.pricing.svi`) and a strikes x expiries grid
(:mod:`marginengine.pricing.grid`). Both know their volatility only at their expiries
T_1 < ... < T_n and fill the time between with :func:`interpolate_in_time`:

- ``T_i <= T <= T_(i+1)``: total variance w = sigma^2 T **linear in T** between the two
  slices' total variances at the same point (same log-moneyness for SVI, same strike for
  the grid). Linear total variance keeps w non-decreasing in T wherever the slices are
  (no calendar arbitrage is created between expiries) and is the rule of Gatheral,
  *The Volatility Surface* (2006), ch. 3.
- ``T < T_1``: w = w_1 T / T_1, i.e. the first expiry's implied volatility held constant
  back to T = 0 (where the volatility reported is that same sigma_1).
- ``T > T_n``: w = w_n T / T_n, the last expiry's implied volatility held constant.
"""

from __future__ import annotations

import bisect
import math
from typing import Protocol

import numpy as np
from numpy.typing import ArrayLike

from marginengine.errors import FieldError, field_path
from marginengine.pricing.inputs import FloatArray, IntArray


class VolSurface(Protocol):
    """An implied-volatility surface (vectorized, with a scalar twin)."""

    def implied_vol(self, strike: ArrayLike, forward: ArrayLike, t: ArrayLike) -> FloatArray:
        """Black-76 volatilities at strikes ``strike`` for forwards ``forward`` and times
        ``t`` in years (broadcast together)."""
        ...

    def implied_vol_scalar(self, strike: float, forward: float, t: float) -> float:
        """The scalar twin of :meth:`implied_vol`."""
        ...


def check_expiries(expiries: ArrayLike) -> FloatArray:
    """Expiries in years as a float array: finite, > 0, strictly increasing, at least one.

    Raises
    ------
    FieldError
        Field ``expiries`` (with the index at fault).
    """
    try:
        array = np.asarray(expiries, dtype=np.float64)
    except (TypeError, ValueError):
        raise FieldError("expiries", f"must be numbers ({expiries!r} is not)") from None
    if array.ndim != 1 or array.size == 0:
        raise FieldError("expiries", "must be a non-empty list of times in years")
    for i, value in enumerate(array.tolist()):
        if not math.isfinite(value) or value <= 0.0:
            raise FieldError(field_path("expiries", i),
                             f"must be a finite time > 0 in years ({value!r})")
        if i and value <= array[i - 1]:
            raise FieldError(field_path("expiries", i),
                             f"must be after {field_path('expiries', i - 1)} "
                                               f"({value!r} <= {float(array[i - 1])!r})")
    return array


def brackets(expiries: FloatArray, t: FloatArray) -> tuple[IntArray, IntArray, FloatArray]:
    """For each time, the indices (lower, upper) of the slices whose total variances are
    combined and the weight of the upper one, so that w = (1 - x) w_lo + x w_hi with
    w_j the slice's total variance *scaled to T* outside [T_1, T_n] (see module doc)."""
    n = expiries.shape[0]
    upper = np.searchsorted(expiries, t, side="left").astype(np.intp)
    upper = np.minimum(upper, n - 1)
    lower = np.maximum(upper - 1, 0)
    lo_t, hi_t = expiries[lower], expiries[upper]
    span = np.where(hi_t > lo_t, hi_t - lo_t, 1.0)
    weight = np.where(hi_t > lo_t, (t - lo_t) / span, 1.0)
    weight = np.clip(weight, 0.0, 1.0)
    return lower, upper, weight


def interpolate_in_time(expiries: FloatArray, w_lower: FloatArray, w_upper: FloatArray,
                        lower: IntArray, upper: IntArray, weight: FloatArray,
                        t: FloatArray) -> FloatArray:
    """Total variance at times ``t`` from the slices' total variances at the same points.

    ``w_lower`` and ``w_upper`` are the total variances of the slices ``lower`` and
    ``upper`` returned by :func:`brackets`; outside [T_1, T_n] the nearest slice's implied
    volatility is held constant (w scaled by T / T_j).
    """
    inside = (t >= expiries[0]) & (t <= expiries[-1])
    linear = (1.0 - weight) * w_lower + weight * w_upper
    # Before T_1 ``upper`` is slice 0 and after T_n it is slice n-1: that slice's vol is
    # held constant, so its total variance scales with T.
    edge = w_upper * t / expiries[upper]
    out: FloatArray = np.where(inside, linear, edge)
    return out


def interpolate_in_time_scalar(expiries: list[float], w_at: list[float], t: float) -> float:
    """The scalar twin: total variance at ``t`` from the total variances ``w_at`` of every
    slice at the same point."""
    if t < expiries[0]:
        return w_at[0] * t / expiries[0]
    if t > expiries[-1]:
        return w_at[-1] * t / expiries[-1]
    upper = min(bisect.bisect_left(expiries, t), len(expiries) - 1)
    lower = max(upper - 1, 0)
    if expiries[upper] == expiries[lower]:
        return w_at[upper]
    x = (t - expiries[lower]) / (expiries[upper] - expiries[lower])
    return (1.0 - x) * w_at[lower] + x * w_at[upper]


def vol_from_total_variance(w: FloatArray, t: FloatArray, w_first: FloatArray,
                            t_first: float) -> FloatArray:
    """sigma = sqrt(w / T); up to T_1 (including T = 0) the first slice's volatility
    sqrt(w_1 / T_1) directly, which is the same number without the underflow of w_1 T / T_1
    at tiny T."""
    early = t <= t_first
    safe_t = np.where(early, 1.0, t)
    out: FloatArray = np.where(early, np.sqrt(np.maximum(w_first, 0.0) / t_first),
                               np.sqrt(np.maximum(w, 0.0) / safe_t))
    return out


def vol_from_total_variance_scalar(w: float, t: float, w_first: float, t_first: float) -> float:
    """The scalar twin of :func:`vol_from_total_variance`."""
    if t <= t_first:
        return math.sqrt(max(w_first, 0.0) / t_first)
    return math.sqrt(max(w, 0.0) / t)
