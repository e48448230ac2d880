"""A volatility surface given as a grid of implied volatilities (expiries x strikes).

The form exchanges publish (Deribit's mark volatilities per listed strike and expiry).
Interpolation rules:

- **In strike**, within one expiry: implied volatility linear in the strike between the
  two neighbouring grid strikes; beyond the first or last strike the end volatility is
  held flat (no extrapolated wing can go negative or explode).
- **In time**: total variance w = sigma^2 T linear in T at the same strike between the
  neighbouring expiries, the nearest expiry's volatility held constant before the first
  and after the last (:mod:`marginengine.pricing.surface`).

The forward is not used (the grid is in absolute strikes); it is accepted so that both
surfaces answer the same call.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from marginengine.errors import FieldError, field_path
from marginengine.pricing.inputs import FloatArray, float_array
from marginengine.pricing.surface import (
    brackets,
    check_expiries,
    interpolate_in_time,
    interpolate_in_time_scalar,
    vol_from_total_variance,
    vol_from_total_variance_scalar,
)


class GridSurface:
    """Implied volatilities on strikes x expiries with the interpolation of the module doc.

    Parameters
    ----------
    expiries
        Times in years, strictly increasing, > 0 (the rows of ``vols``).
    strikes
        Strikes, strictly increasing, > 0 (the columns of ``vols``).
    vols
        ``len(expiries) x len(strikes)`` implied volatilities, finite and > 0.

    Raises
    ------
    FieldError
        ``expiries[i]``, ``strikes[j]`` or ``vols[i][j]`` at fault, or ``vols`` of the
        wrong shape.
    """

    def __init__(self, expiries: Sequence[float] | FloatArray,
                 strikes: Sequence[float] | FloatArray,
                 vols: Sequence[Sequence[float]] | FloatArray) -> None:
        self.expiries = check_expiries(expiries)
        strike_arr = float_array("strikes", strikes, minimum=0.0, strict=True)
        if strike_arr.ndim != 1 or strike_arr.size == 0:
            raise FieldError("strikes", "must be a non-empty list of strikes")
        for j in range(1, strike_arr.size):
            if strike_arr[j] <= strike_arr[j - 1]:
                raise FieldError(field_path("strikes", j),
                                 f"must be above {field_path('strikes', j - 1)} "
                                                  f"({float(strike_arr[j])!r} <= "
                                                  f"{float(strike_arr[j - 1])!r})")
        self.strikes = strike_arr
        try:
            vol_arr = np.asarray(vols, dtype=np.float64)
        except (TypeError, ValueError):
            raise FieldError("vols", "must be a table of numbers, one row per expiry") from None
        shape = (self.expiries.size, strike_arr.size)
        if vol_arr.shape != shape:
            raise FieldError("vols", f"must have shape {shape} (expiries x strikes), "
                                     f"got {vol_arr.shape}")
        bad = ~np.isfinite(vol_arr) | (vol_arr <= 0.0)
        if bad.any():
            i, j = (int(x) for x in np.argwhere(bad)[0])
            raise FieldError(field_path("vols", i, j), f"must be a finite volatility > 0 "
                                                f"({float(vol_arr[i, j])!r})")
        self.vols = vol_arr
        # Total variance at the grid points: the quantity interpolated in time.
        self._w = vol_arr ** 2 * self.expiries[:, None]

    def _strike_weights(self, strike: FloatArray) -> tuple[np.ndarray, np.ndarray, FloatArray]:
        n = self.strikes.size
        clipped = np.clip(strike, self.strikes[0], self.strikes[-1])
        right = np.minimum(np.searchsorted(self.strikes, clipped, side="left"), n - 1)
        left = np.maximum(right - 1, 0)
        lo, hi = self.strikes[left], self.strikes[right]
        span = np.where(hi > lo, hi - lo, 1.0)
        x = np.where(hi > lo, (clipped - lo) / span, 1.0)
        return left, right, x

    def _slice_vol(self, j: np.ndarray, left: np.ndarray, right: np.ndarray,
                   x: FloatArray) -> FloatArray:
        out: FloatArray = (1.0 - x) * self.vols[j, left] + x * self.vols[j, right]
        return out

    def implied_vol(self, strike: ArrayLike, forward: ArrayLike, t: ArrayLike) -> FloatArray:
        """Volatility at ``strike`` and time ``t`` (``forward`` only validated).

        Raises
        ------
        FieldError
            ``strike`` or ``forward`` not finite and > 0, ``t`` not finite and >= 0.
        """
        k_arr = float_array("strike", strike, minimum=0.0, strict=True)
        f_arr = float_array("forward", forward, minimum=0.0, strict=True)
        t_arr = float_array("t", t, minimum=0.0)
        try:
            k, tt, _ = np.broadcast_arrays(k_arr, t_arr, f_arr)
        except ValueError:
            raise FieldError("shape", f"strike {k_arr.shape}, forward {f_arr.shape} and t "
                                      f"{t_arr.shape} do not broadcast together") from None
        left, right, x = self._strike_weights(k)
        lower, upper, weight = brackets(self.expiries, tt)
        v_lo = self._slice_vol(lower, left, right, x)
        v_hi = self._slice_vol(upper, left, right, x)
        w = interpolate_in_time(self.expiries, v_lo ** 2 * self.expiries[lower],
                                v_hi ** 2 * self.expiries[upper], lower, upper, weight, tt)
        first = self._slice_vol(np.zeros(k.shape, np.intp), left, right, x)
        return vol_from_total_variance(w, tt, first ** 2 * self.expiries[0],
                                       float(self.expiries[0]))

    def implied_vol_scalar(self, strike: float, forward: float, t: float) -> float:
        """The scalar twin of :meth:`implied_vol`."""
        strikes = self.strikes.tolist()
        clipped = min(max(strike, strikes[0]), strikes[-1])
        right = min(bisect.bisect_left(strikes, clipped), len(strikes) - 1)
        left = max(right - 1, 0)
        x = ((clipped - strikes[left]) / (strikes[right] - strikes[left])
             if strikes[right] > strikes[left] else 1.0)
        expiries = self.expiries.tolist()
        vols = [(1.0 - x) * row[left] + x * row[right] for row in self.vols.tolist()]
        w_at = [v * v * e for v, e in zip(vols, expiries, strict=True)]
        w = interpolate_in_time_scalar(expiries, w_at, t)
        return vol_from_total_variance_scalar(w, t, w_at[0], expiries[0])

    def total_variance_at_grid(self) -> FloatArray:
        """sigma^2 T at every grid point (rows: expiries, columns: strikes)."""
        return self._w.copy()
