"""Black-76 prices and analytic Greeks of European options on a forward, vectorized.

Arrays in, arrays out (NumPy broadcasting over every argument, no Python loop over
instruments). The plain-``math`` twin used as the test oracle is
:mod:`marginengine.pricing.scalar`; the formulas and their sources are in
``docs/pricing.md``.

Conventions
-----------
- ``forward`` F and ``strike`` K in the same currency per unit of underlying, both > 0.
- ``t`` T in years (ACT/365: seconds / 31,536,000, as Derive's ``PMRMLib_2`` uses), >= 0.
- ``vol`` sigma per sqrt(year), a fraction (0.2 is 20%), >= 0.
- ``rate`` r continuously compounded per year; the discount factor is D = exp(-r T).
- ``is_call`` true for a call, false for a put.

With s = sigma sqrt(T), d1 = ln(F/K)/s + s/2, d2 = d1 - s::

    call = D (F N(d1) - K N(d2))        put = D (K N(-d2) - F N(-d1))

The put is computed directly (not through parity) so that deep out-of-the-money puts keep
their relative precision.

Limits (expiry, zero volatility)
--------------------------------
When s <= :data:`MIN_STDDEV` (T = 0, sigma = 0, or both tiny) the option is valued at its
limit: the discounted intrinsic value D max(F - K, 0) (call) or D max(K - F, 0) (put). In
that limit d1 = d2 = +inf in the money, -inf out of the money and 0 exactly at the money,
so delta is D, 0 or D/2 (forward flavour); gamma and the volatility term of theta, whose
limits at the money are infinite, are reported as 0. No output is ever NaN for valid input.
Prices are clamped to their no-arbitrage bounds (a call in [D max(F-K, 0), D F], a put in
[D max(K-F, 0), D K]) so float rounding can never produce a negative price.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import ndtr

from marginengine.errors import FieldError
from marginengine.pricing.inputs import BoolArray, FloatArray, bool_array, float_array

#: Total standard deviation sigma sqrt(T) at or below which an option is valued at its
#: expiry limit. At s = 1e-12 the at-the-money time value is about 4e-13 of the forward,
#: far below any unit a premium is fixed to, and 1/s stays finite.
MIN_STDDEV = 1e-12

INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)

V = TypeVar("V")


@dataclass(frozen=True)
class Greeks(Generic[V]):
    """Analytic Black-76 sensitivities, arrays (vectorized) or floats (scalar twin).

    Two flavours where they differ. The *forward* flavour holds the forward F fixed (what
    an option on a futures or a perp-forward hedges with). The *spot* flavour holds the
    spot S = D F fixed, i.e. F = S exp(r T) with no other carry (the Black-Scholes Greeks
    of Hull's textbook). Units: per 1 of price for delta and gamma, per 1.00 of volatility
    (100 vol points) for vega, per year for theta, per 1.00 of rate for rho.

    Attributes
    ----------
    delta
        dV/dF: D N(d1) for a call, -D N(-d1) for a put.
    delta_spot
        dV/dS: N(d1) for a call, N(d1) - 1 for a put.
    gamma
        d2V/dF2: D n(d1) / (F s), the same for calls and puts.
    gamma_spot
        d2V/dS2: n(d1) / (S s).
    vega
        dV/dsigma: D F n(d1) sqrt(T) (the same in both flavours).
    theta
        -dV/dT with F fixed: -D F n(d1) sigma / (2 sqrt(T)) + r V.
    theta_spot
        -dV/dT with S fixed: -D F n(d1) sigma / (2 sqrt(T)) - r K D N(d2) (call),
        ... + r K D N(-d2) (put).
    rho
        dV/dr with F fixed: -T V (only the discounting moves).
    rho_spot
        dV/dr with S fixed: K T D N(d2) (call), -K T D N(-d2) (put).
    """

    delta: V
    delta_spot: V
    gamma: V
    gamma_spot: V
    vega: V
    theta: V
    theta_spot: V
    rho: V
    rho_spot: V


@dataclass(frozen=True)
class Inputs:
    """Validated, broadcast inputs of a Black-76 evaluation (all the same shape)."""

    forward: FloatArray
    strike: FloatArray
    t: FloatArray
    vol: FloatArray
    rate: FloatArray
    is_call: BoolArray


def check_inputs(forward: ArrayLike, strike: ArrayLike, t: ArrayLike, vol: ArrayLike,
                 rate: ArrayLike, is_call: ArrayLike) -> Inputs:
    """Validate every argument (naming the field at fault) and broadcast them together.

    Raises
    ------
    FieldError
        ``forward`` or ``strike`` not finite and > 0, ``t`` or ``vol`` not finite and
        >= 0, ``rate`` not finite, ``is_call`` not booleans, or shapes that do not
        broadcast (field ``shape``).
    """
    arrays = (float_array("forward", forward, minimum=0.0, strict=True),
              float_array("strike", strike, minimum=0.0, strict=True),
              float_array("t", t, minimum=0.0),
              float_array("vol", vol, minimum=0.0),
              float_array("rate", rate),
              bool_array("is_call", is_call))
    try:
        f, k, tt, v, r, c = np.broadcast_arrays(*arrays)
    except ValueError:
        shapes = ", ".join(str(a.shape) for a in arrays)
        raise FieldError("shape", f"the arguments do not broadcast together ({shapes})") from None
    return Inputs(f, k, tt, v, r, c)


@dataclass(frozen=True)
class _D:
    """Intermediate terms shared by the price and the Greeks."""

    discount: FloatArray
    stddev: FloatArray
    limit: BoolArray
    d1: FloatArray
    d2: FloatArray


def _terms(x: Inputs) -> _D:
    discount = np.exp(-x.rate * x.t)
    stddev = x.vol * np.sqrt(x.t)
    limit = stddev <= MIN_STDDEV
    log_fk = np.log(x.forward / x.strike)
    safe = np.where(limit, 1.0, stddev)
    d1 = log_fk / safe + 0.5 * safe
    d2 = d1 - safe
    if limit.any():
        # The s -> 0 limit of d1 and d2: +inf in the money, -inf out of it, 0 at the money.
        edge = np.where(log_fk > 0.0, np.inf, np.where(log_fk < 0.0, -np.inf, 0.0))
        d1 = np.where(limit, edge, d1)
        d2 = np.where(limit, edge, d2)
    return _D(discount, stddev, limit, d1, d2)


def _normals(d: _D) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """N(d1), N(d2), N(-d1), N(-d2); N(-d) directly, not 1 - N(d), for deep-ITM precision."""
    return ndtr(d.d1), ndtr(d.d2), ndtr(-d.d1), ndtr(-d.d2)


def _price(x: Inputs, d: _D,
           normals: tuple[FloatArray, FloatArray, FloatArray, FloatArray]) -> FloatArray:
    f, k, disc = x.forward, x.strike, d.discount
    nd1, nd2, nmd1, nmd2 = normals
    call = f * nd1 - k * nd2
    put = k * nmd2 - f * nmd1
    # Clamp to the no-arbitrage bounds: rounding must never give a negative price.
    call = np.clip(call, np.maximum(f - k, 0.0), f)
    put = np.clip(put, np.maximum(k - f, 0.0), k)
    out: FloatArray = disc * np.where(x.is_call, call, put)
    return out


def discount_factor(rate: ArrayLike, t: ArrayLike) -> FloatArray:
    """The discount factor D = exp(-r T) (continuous compounding).

    Raises
    ------
    FieldError
        If ``rate`` is not finite or ``t`` is not finite and >= 0.
    """
    r = float_array("rate", rate)
    tt = float_array("t", t, minimum=0.0)
    out: FloatArray = np.exp(-r * tt)
    return out


def price(forward: ArrayLike, strike: ArrayLike, t: ArrayLike, vol: ArrayLike,
          rate: ArrayLike, is_call: ArrayLike) -> FloatArray:
    """Black-76 present value of European calls and puts, per unit of underlying.

    Parameters
    ----------
    forward, strike
        Forward price F and strike K (> 0), in the quote currency.
    t
        Time to expiry in years (>= 0).
    vol
        Implied volatility sigma per sqrt(year) (>= 0).
    rate
        Continuously compounded rate r per year (discount factor exp(-r T)).
    is_call
        True for calls, false for puts.

    Returns
    -------
    numpy.ndarray
        The broadcast shape of the arguments; float64 in the quote currency. Never NaN; at
        T = 0 or sigma = 0 the discounted intrinsic value.

    Raises
    ------
    FieldError
        On an invalid argument, naming it (see :func:`check_inputs`).
    """
    x = check_inputs(forward, strike, t, vol, rate, is_call)
    d = _terms(x)
    return _price(x, d, _normals(d))


def price_and_greeks(forward: ArrayLike, strike: ArrayLike, t: ArrayLike, vol: ArrayLike,
                     rate: ArrayLike, is_call: ArrayLike
                     ) -> tuple[FloatArray, Greeks[FloatArray]]:
    """Black-76 prices and all analytic Greeks in one pass (shared d1, d2 and N(.)).

    Parameters are those of :func:`price`. See :class:`Greeks` for the formulas, the two
    flavours and the units; the expiry limits are described in the module docstring.

    Returns
    -------
    tuple
        ``(price, greeks)``, every array of the broadcast shape.
    """
    x = check_inputs(forward, strike, t, vol, rate, is_call)
    d = _terms(x)
    normals = _normals(d)
    value = _price(x, d, normals)
    f, k, tt, r, disc, call = x.forward, x.strike, x.t, x.rate, d.discount, x.is_call
    n_d1 = INV_SQRT_2PI * np.exp(-0.5 * d.d1 * d.d1)
    nd1, nd2, nmd1, nmd2 = normals
    spot = disc * f
    safe_s = np.where(d.limit, 1.0, d.stddev)
    # Outside the limit s > 0, so T > 0; inside it the decay term is set to 0.
    safe_sqrt_t = np.sqrt(np.where(d.limit, 1.0, tt))
    gamma = np.where(d.limit, 0.0, disc * n_d1 / (f * safe_s))
    gamma_spot = np.where(d.limit, 0.0, n_d1 / (spot * safe_s))
    vega = spot * n_d1 * np.sqrt(tt)
    decay = np.where(d.limit, 0.0, -spot * n_d1 * x.vol / (2.0 * safe_sqrt_t))
    carry = np.where(call, -r * k * disc * nd2, r * k * disc * nmd2)
    greeks = Greeks(
        delta=np.where(call, disc * nd1, -disc * nmd1),
        delta_spot=np.where(call, nd1, -nmd1),
        gamma=gamma,
        gamma_spot=gamma_spot,
        vega=vega,
        theta=decay + r * value,
        theta_spot=decay + carry,
        rho=-tt * value,
        rho_spot=np.where(call, k * tt * disc * nd2, -k * tt * disc * nmd2),
    )
    return value, greeks
