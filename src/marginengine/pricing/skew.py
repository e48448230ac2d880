"""Derive PMRM_2's skew scenarios: the wings of an expiry's smile raised (or lowered).

Source: ``derivexyz/v2-core`` ``src/risk-managers/PMRMLib_2.sol``, ``_getKStar`` and
``_getExpirySkewedShockedMTM``. With ``tau`` the years to expiry (365-day years) and
``k = ln(K / F)`` (its absolute value for the *abs* scenario):

- the multiplier cap of the expiry ``cap = c_base sqrt(tau) + base_cap``;
- ``k* = max(min_k_star, sqrt(tau) width_scale (vol_param_static + sqrt(tau)
  vol_param_scale))``, roughly where the smile flattens;
- the vol multiplier ``1 + min(cap, k cap / k*)`` for ``k >= 0``, ``1 + max(-cap,
  k cap / k*)`` for ``k < 0``, floored at 0 before it multiplies the mark vol.

The forward is not shocked in a skew scenario (Derive values it at the unshocked forward
whatever the scenario's spot shock).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from marginengine.pricing.inputs import FloatArray, float_array
from marginengine.pricing.scenarios import SECONDS_PER_YEAR


@dataclass(frozen=True)
class SkewParams:
    """Derive's ``SkewShockParameters`` as floats (see the module docstring)."""

    linear_base_cap: float
    abs_base_cap: float
    linear_c_base: float
    abs_c_base: float
    min_k_star: float
    width_scale: float
    vol_param_static: float
    vol_param_scale: float


def skewed_vols(vol: ArrayLike, strike: ArrayLike, forward: ArrayLike,
                sec_to_expiry: ArrayLike, linear: bool, params: SkewParams) -> FloatArray:
    """Each option's volatility in the linear (``linear=True``) or abs skew scenario.

    Parameters
    ----------
    vol, strike, forward, sec_to_expiry
        Per option (broadcast together): mark vol, strike, unshocked forward (> 0),
        seconds to expiry.
    linear
        The *linear* scenario (k signed) or the *abs* one (k = |ln(K/F)|).
    params
        The skew parameters.

    Returns
    -------
    numpy.ndarray
        The shocked vols, ``vol * max(0, multiplier)``.
    """
    v = float_array("vol", vol, minimum=0.0)
    k_strike = float_array("strike", strike, minimum=0.0, strict=True)
    f = float_array("forward", forward, minimum=0.0, strict=True)
    tau = float_array("sec_to_expiry", sec_to_expiry, minimum=0.0) / SECONDS_PER_YEAR
    sqrt_tau = np.sqrt(tau)
    if linear:
        cap = params.linear_c_base * sqrt_tau + params.linear_base_cap
    else:
        cap = params.abs_c_base * sqrt_tau + params.abs_base_cap
    k_star = np.maximum(params.min_k_star,
                        sqrt_tau * params.width_scale
                        * (params.vol_param_static + sqrt_tau * params.vol_param_scale))
    k = np.log(k_strike / f)
    if not linear:
        k = np.abs(k)
    # k* is > 0 whenever min_k_star is; a zero k* (all parameters 0) would divide by zero,
    # and the multiplier is then taken as the cap itself in the direction of k.
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.where(k_star > 0, k * cap / np.where(k_star > 0, k_star, 1.0),
                         np.sign(k) * cap)
    mult = 1.0 + np.where(k >= 0, np.minimum(cap, slope), np.maximum(-cap, slope))
    out: FloatArray = v * np.maximum(mult, 0.0)
    return out
