"""SVI volatility slices (raw parameters per expiry) and the surface they make.

Gatheral's raw SVI (Gatheral, *A parsimonious arbitrage-free implied volatility
parameterization*, 2004; Gatheral and Jacquier, *Arbitrage-free SVI volatility surfaces*,
2014) gives the total implied variance w = sigma^2 T of one expiry as a function of the
log-forward-moneyness k = ln(K / F)::

    w(k) = a + b (rho (k - m) + sqrt((k - m)^2 + sigma^2))

Parameters are checked on construction against the basic no-arbitrage conditions, each
refusal naming the field:

- ``b >= 0`` (the wings rise), ``|rho| < 1``, ``sigma > 0``;
- ``a + b sigma sqrt(1 - rho^2) >= 0``: the minimum of w is not negative;
- ``b (1 + |rho|) <= 2``: Roger Lee's moment bound on the wings' slope (a steeper wing
  implies infinite moments of the underlying, an arbitrage).

Between expiries the surface interpolates total variance linearly in T at the same k
(:mod:`marginengine.pricing.surface`). Calendar arbitrage (w decreasing in T at some k) is
not checked on construction; :meth:`SVISurface.check_calendar` checks it on chosen points.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

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

#: Slope of total variance in |k| above which Lee's moment formula is violated.
LEE_MAX_SLOPE = 2.0


@dataclass(frozen=True)
class SVIParams:
    """Raw SVI parameters of one expiry (total variance, not variance).

    Attributes
    ----------
    a
        Level of total variance.
    b
        Slope of the wings (>= 0).
    rho
        Skew, the rotation of the smile (-1 < rho < 1).
    m
        Horizontal shift in log-moneyness.
    sigma
        Curvature at the vertex (> 0).

    Raises
    ------
    FieldError
        On construction, ``svi.<name>`` for the first condition that fails (module doc).
    """

    a: float
    b: float
    rho: float
    m: float
    sigma: float

    def __post_init__(self) -> None:
        for name in ("a", "b", "rho", "m", "sigma"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise FieldError(f"svi.{name}", f"must be a number ({value!r} is not)")
            if not math.isfinite(value):
                raise FieldError(f"svi.{name}", f"must be finite ({value!r})")
        if self.b < 0.0:
            raise FieldError("svi.b", f"must be >= 0 (got {self.b!r})")
        if not abs(self.rho) < 1.0:
            raise FieldError("svi.rho", f"must be strictly between -1 and 1 (got {self.rho!r})")
        if self.sigma <= 0.0:
            raise FieldError("svi.sigma", f"must be > 0 (got {self.sigma!r})")
        floor = self.min_total_variance
        if floor < 0.0:
            raise FieldError("svi.a", f"a + b*sigma*sqrt(1 - rho^2) = {floor!r} < 0: the total "
                                      "variance would be negative at its minimum")
        slope = self.b * (1.0 + abs(self.rho))
        if slope > LEE_MAX_SLOPE:
            raise FieldError("svi.b", f"b*(1 + |rho|) = {slope!r} > 2: a wing steeper than "
                                      "Lee's moment bound")

    @property
    def min_total_variance(self) -> float:
        """The minimum of w over k: a + b sigma sqrt(1 - rho^2)."""
        return self.a + self.b * self.sigma * math.sqrt(1.0 - self.rho * self.rho)

    def total_variance(self, k: ArrayLike) -> FloatArray:
        """w(k) at log-moneyness ``k`` (vectorized)."""
        x = float_array("k", k) - self.m
        out: FloatArray = self.a + self.b * (self.rho * x + np.sqrt(x * x + self.sigma ** 2))
        return out

    def total_variance_scalar(self, k: float) -> float:
        """The scalar twin of :meth:`total_variance`."""
        x = k - self.m
        return self.a + self.b * (self.rho * x + math.sqrt(x * x + self.sigma ** 2))

    def butterfly_density_scalar(self, k: float) -> float:
        """Durrleman's ``g(k)`` (Gatheral and Jacquier 2014, eq. 2.1): the slice has no
        butterfly arbitrage where ``g >= 0``::

            g = (1 - k w' / (2 w))^2 - w'^2 / 4 (1 / w + 1 / 4) + w'' / 2
        """
        x = k - self.m
        root = math.sqrt(x * x + self.sigma ** 2)
        w = self.total_variance_scalar(k)
        w1 = self.b * (self.rho + x / root)
        w2 = self.b * self.sigma ** 2 / root ** 3
        if w <= 0.0:
            return -math.inf
        return (1 - k * w1 / (2 * w)) ** 2 - w1 * w1 / 4 * (1 / w + 0.25) + w2 / 2

    def check_butterfly(self, ks: Sequence[float]) -> None:
        """Raise :class:`FieldError` (``svi``) at the first ``k`` of ``ks`` where
        :meth:`butterfly_density_scalar` is negative (butterfly arbitrage)."""
        for k in ks:
            g = self.butterfly_density_scalar(k)
            if g < 0.0:
                raise FieldError("svi", f"butterfly arbitrage: Durrleman's g({k:g}) = {g:.6g} "
                                        f"< 0 (the implied density would be negative)")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], where: str = "svi") -> SVIParams:
        """Build from ``{"a": .., "b": .., "rho": .., "m": .., "sigma": ..}``; errors name
        the field under ``where`` (``slices.2.b``)."""
        names = ("a", "b", "rho", "m", "sigma")
        missing = [n for n in names if n not in data]
        if missing:
            raise FieldError(f"{where}.{missing[0]}", "is required")
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise FieldError(f"{where}.{unknown[0]}", "is not an SVI parameter "
                                                      "(a, b, rho, m, sigma)")
        try:
            return cls(**{n: data[n] for n in names})
        except FieldError as error:
            field = error.field.replace("svi", where, 1)
            raise FieldError(field, error.reason) from None


class SVISurface:
    """SVI slices at expiries T_1 < ... < T_n, joined linearly in total variance.

    Parameters
    ----------
    expiries
        Times to expiry in years, strictly increasing, > 0.
    slices
        One :class:`SVIParams` per expiry.

    Raises
    ------
    FieldError
        ``expiries[i]`` out of order or not > 0, or ``slices`` of another length.
    """

    def __init__(self, expiries: Sequence[float] | FloatArray,
                 slices: Sequence[SVIParams]) -> None:
        self.expiries = check_expiries(expiries)
        if len(slices) != self.expiries.shape[0]:
            raise FieldError("slices", f"must have one SVI slice per expiry ({len(slices)} "
                                       f"slices for {self.expiries.shape[0]} expiries)")
        for i, item in enumerate(slices):
            if not isinstance(item, SVIParams):
                raise FieldError(field_path("slices", i),
                                 f"must be SVIParams, not {type(item).__name__}")
        self.slices = tuple(slices)
        self._params = np.array([[p.a, p.b, p.rho, p.m, p.sigma] for p in self.slices],
                                dtype=np.float64)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> SVISurface:
        """Build from ``{"expiries": [...], "slices": [{"a": ..}, ...]}`` (a parsed TOML
        table); errors name ``slices[i].<field>``."""
        if "expiries" not in data:
            raise FieldError("expiries", "is required")
        raw = data.get("slices")
        if not isinstance(raw, Sequence) or isinstance(raw, str):
            raise FieldError("slices", "must be a list of SVI parameter tables")
        slices = []
        for i, item in enumerate(raw):
            if not isinstance(item, Mapping):
                raise FieldError(field_path("slices", i), "must be a table of a, b, rho, m, sigma")
            slices.append(SVIParams.from_mapping(item, field_path("slices", i)))
        return cls(data["expiries"], slices)

    def _slice_w(self, j: np.ndarray, k: FloatArray) -> FloatArray:
        a, b, rho, m, sigma = (self._params[j, c] for c in range(5))
        x = k - m
        out: FloatArray = a + b * (rho * x + np.sqrt(x * x + sigma * sigma))
        return out

    def total_variance(self, k: ArrayLike, t: ArrayLike) -> FloatArray:
        """Total variance at log-moneyness ``k`` and time ``t`` (broadcast together)."""
        kk, tt = np.broadcast_arrays(float_array("k", k), float_array("t", t, minimum=0.0))
        lower, upper, weight = brackets(self.expiries, tt)
        return interpolate_in_time(self.expiries, self._slice_w(lower, kk),
                                   self._slice_w(upper, kk), lower, upper, weight, tt)

    def total_variance_scalar(self, k: float, t: float) -> float:
        """The scalar twin of :meth:`total_variance`."""
        w_at = [p.total_variance_scalar(k) for p in self.slices]
        return interpolate_in_time_scalar(self.expiries.tolist(), w_at, t)

    def implied_vol(self, strike: ArrayLike, forward: ArrayLike, t: ArrayLike) -> FloatArray:
        """Black-76 volatility at ``strike`` for the expiry's ``forward`` and time ``t``.

        Raises
        ------
        FieldError
            ``strike`` or ``forward`` not finite and > 0, ``t`` not finite and >= 0.
        """
        k_arr = float_array("strike", strike, minimum=0.0, strict=True)
        f_arr = float_array("forward", forward, minimum=0.0, strict=True)
        t_arr = float_array("t", t, minimum=0.0)
        try:
            k, tt = np.broadcast_arrays(np.log(k_arr / f_arr), t_arr)
        except ValueError:
            raise FieldError("shape", f"strike {k_arr.shape}, forward {f_arr.shape} and t "
                                      f"{t_arr.shape} do not broadcast together") from None
        w = self.total_variance(k, tt)
        return vol_from_total_variance(w, tt, self._slice_w(np.zeros(k.shape, np.intp), k),
                                       float(self.expiries[0]))

    def implied_vol_scalar(self, strike: float, forward: float, t: float) -> float:
        """The scalar twin of :meth:`implied_vol`."""
        k = math.log(strike / forward)
        return vol_from_total_variance_scalar(self.total_variance_scalar(k, t), t,
                                              self.slices[0].total_variance_scalar(k),
                                              float(self.expiries[0]))

    def check_calendar(self, k: ArrayLike) -> None:
        """Check that total variance does not decrease from one expiry to the next at the
        log-moneyness points ``k`` (no calendar-spread arbitrage there).

        Raises
        ------
        FieldError
            ``slices[i]`` whose total variance is below slice i-1's at some k.
        """
        points = float_array("k", k).ravel()
        previous = self.slices[0].total_variance(points)
        for i, item in enumerate(self.slices[1:], start=1):
            current = item.total_variance(points)
            bad = current < previous
            if bad.any():
                j = int(np.flatnonzero(bad)[0])
                raise FieldError(field_path("slices", i),
                                 f"total variance {float(current[j])!r} at "
                                                 f"k = {float(points[j])!r} is below the "
                                                 f"previous expiry's {float(previous[j])!r} "
                                                 "(calendar arbitrage)")
            previous = current
