"""Gas prices for the simulator's keepers: a replayed series, or a process tied to volatility.

Both give one gas price (gwei) **per step**: ``gas[i]`` is what a transaction sent during
step ``i`` (from ``t[i]`` to ``t[i+1]``) pays, so for a price path of ``n + 1`` points there
are ``n`` gas prices, aligned with its ``n`` log returns. :func:`keeper_cost_usd` turns a gas
price into what a keeper's transaction costs in USD.
"""

from __future__ import annotations

import math
from typing import overload

import numpy as np
from numpy.typing import NDArray

from marginengine.errors import field_path
from marginengine.sim.history import Series
from marginengine.sim.processes import (
    check_count,
    check_non_negative,
    check_positive,
    check_real,
    check_rng,
)

__all__ = ["MAX_GAS_GWEI", "RETURN_SECONDS", "gas_process", "gas_replay", "horizon_steps",
           "keeper_cost_usd", "rolling_abs_return", "trailing_returns"]

#: The shortest return (seconds) the gas process reads the market's volatility from:
#: steps shorter than this are summed to returns of about this length, so cutting a
#: minute into finer steps does not change the gas (see :func:`gas_process`). A minute is
#: five Ethereum blocks: EIP-1559's base fee moves at most 12.5% a block, so congestion
#: answers a market's moves over several blocks, not within one.
RETURN_SECONDS = 60.0

#: ``E|Z|`` and ``sd|Z|`` of a standard normal: the calm level of ``|return| / sigma``.
_ABS_MEAN = math.sqrt(2.0 / math.pi)
_ABS_SD = math.sqrt(1.0 - 2.0 / math.pi)

#: The highest gas price (gwei) :func:`gas_process` returns, and the highest ``[gas] gwei``
#: a scenario may set: 1e12 gwei is 1,000 ETH per unit of gas, at which the cheapest
#: transaction (a 21,000-gas transfer) would cost 21 million ETH. No keeper pays that, so
#: every keeper's decision is the same at this price as at any higher one; the ceiling only
#: keeps the log-linear model's extrapolation (``exp`` of a z-score in the hundreds, e.g. a
#: daily-sized crash within one 1-second step) a finite number, instead of overflowing.
MAX_GAS_GWEI = 1e12


def gas_replay(series: Series, step_seconds: float, n: int,
               start: float | None = None) -> NDArray[np.float64]:
    """Replay a gas series (gwei) on the simulator's steps, holding each value until the next.

    ``gas[i]`` is the last observation at or before ``start + i * step_seconds`` (previous-
    value resampling: what a keeper polling the source would have seen), for ``i`` in
    ``0..n-1``. Past the last observation its value holds.

    Parameters
    ----------
    series
        Gas prices in gwei (``unit == "gwei"``), e.g. from
        :func:`~marginengine.sim.history.load_gas`.
    step_seconds
        Length of one simulator step in seconds, > 0.
    n
        Number of steps, >= 0.
    start
        Unix time of step 0; default the series' first time. Must not be before it.

    Returns
    -------
    numpy.ndarray
        Gas prices in gwei, shape ``(n,)``.
    """
    if not isinstance(series, Series):
        raise ValueError(f"series: must be a Series (got {type(series).__name__})")
    if series.unit.lower() != "gwei":
        raise ValueError(f"series: must be in gwei (got unit {series.unit!r})")
    if len(series) == 0:
        raise ValueError("series: is empty")
    step = check_positive("step_seconds", step_seconds)
    n_ = check_count("n", n)
    t0 = float(series.times[0]) if start is None else check_real("start", start)
    if t0 < series.times[0]:
        raise ValueError(f"start: {t0} is before the series' first time {series.times[0]}")
    times = t0 + np.arange(n_) * step
    idx = np.searchsorted(series.times, times, side="right") - 1
    out: NDArray[np.float64] = series.values[idx].copy()
    return out


def rolling_abs_return(returns: NDArray[np.float64],
                       window: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Trailing mean of ``|returns|`` over ``window`` steps (fewer at the start), and counts.

    ``a[i] = mean(|returns[j]|)`` for ``j`` in ``max(0, i - window + 1)..i``; ``c[i]`` is
    the number of terms, ``min(i + 1, window)``.
    """
    r = np.abs(np.asarray(returns, dtype=np.float64))
    cum = np.concatenate([[0.0], np.cumsum(r)])
    i = np.arange(r.size)
    lo = np.maximum(0, i - window + 1)
    counts = (i - lo + 1).astype(np.float64)
    means: NDArray[np.float64] = (cum[i + 1] - cum[lo]) / counts
    return means, counts


def horizon_steps(step_seconds: float | None, return_seconds: float = RETURN_SECONDS) -> int:
    """Steps per return the gas process measures: ``round(return_seconds / step_seconds)``
    for steps shorter than ``return_seconds``, else 1 (a step is the finest return there
    is); 1 when ``step_seconds`` is ``None`` (returns per step, as given)."""
    if step_seconds is None:
        return 1
    step = check_positive("step_seconds", step_seconds)
    horizon = check_positive("return_seconds", return_seconds)
    return max(1, round(horizon / step)) if step < horizon else 1


def trailing_returns(returns: NDArray[np.float64], k: int) -> NDArray[np.float64]:
    """``|sum of returns[j]|`` over the ``k`` steps to ``i`` (fewer at the start), divided
    by the square root of their count: a return over ``k`` steps, in the standard
    deviations of one step's (a calm market's per-step ``|r|`` and this have one
    distribution). ``k = 1`` is ``|returns|``."""
    r = np.asarray(returns, dtype=np.float64)
    cum = np.concatenate([[0.0], np.cumsum(r)])
    i = np.arange(r.size)
    lo = np.maximum(0, i - k + 1)
    out: NDArray[np.float64] = np.abs(cum[i + 1] - cum[lo]) / np.sqrt(i - lo + 1.0)
    return out


def gas_process(rng: np.random.Generator, base_gwei: float, vol_sensitivity: float,
                returns: NDArray[np.float64], noise: float, n: int,
                cap_gwei: float | None = None, *, window: int = 10,
                reference_sigma: float | None = None, step_seconds: float | None = None,
                return_seconds: float = RETURN_SECONDS) -> NDArray[np.float64]:
    """Gas prices that rise with volatility: congestion follows the market's moves.

    The model, per step ``i`` (``returns[i]`` the log return of that step)::

        log gas[i] = log base_gwei + vol_sensitivity * z[i] + noise * eps[i]
        gas[i]     = min(exp(log gas[i]), cap_gwei, MAX_GAS_GWEI)

    ``eps[i]`` independent standard normals, and ``z[i]`` a z-score of the trailing mean
    absolute return ``a[i]`` over ``window`` steps (:func:`rolling_abs_return`):

    - ``reference_sigma = None`` (default): z-scored **within the path**,
      ``z = (a - mean(a)) / std(a)`` (0 where ``a`` is constant). Gas is high where this
      path is most volatile *relative to itself*; a calm path has spikes as large as a
      crash path's. Simple, and uses the whole path (fine for exogenous inputs).
    - ``reference_sigma = s`` (the per-step standard deviation of a calm market's log
      return, e.g. ``0.8 * sqrt(dt)``): measured **against calm**, ``z = (a - s *
      sqrt(2/pi)) / (s * sqrt(1 - 2/pi))``: the excess of the trailing mean ``|r|`` over
      its calm level, in standard deviations of one ``|r|``. A calm path keeps gas near
      ``base_gwei``; a crash drives it up in proportion. This is the mode to compare paths
      of different severity.

    **Step length** (``step_seconds``, when given). Steps shorter than ``return_seconds``
    (default :data:`RETURN_SECONDS`, 60 s) are read as returns over ``k =
    round(return_seconds / step_seconds)`` steps (:func:`trailing_returns`: the trailing
    ``k``-step sum at every step, in per-step standard deviations) and the window is
    ``window x k`` steps, so the statistic covers the same seconds at any step length:
    a calm path's, a trend's and a jump's ``z`` are those of the 60-second steps, and gas
    statistics (its mean, the time it spends at ``cap_gwei``) do not depend on how finely
    the time is cut. Without this, ``z`` was in *per-step* deviations over ``window``
    steps: a drop within one step is ``1 / sqrt(step)`` more of them the shorter the step
    (a 25% fall within one 1-second step is a z of about 1,300), and the window
    ``window`` steps long: a crash at 1-second steps held gas at the cap for the 10
    seconds of its window, at 60-second steps for 10 minutes. Steps of ``return_seconds``
    or more (and ``step_seconds = None``) keep per-step returns and a ``window``-step
    window, exactly as before (``k = 1``): a step is the finest return there is.

    The ceiling :data:`MAX_GAS_GWEI` (1e12 gwei) is applied in log space, before ``exp``:
    a z in the hundreds (a daily-sized crash within one step of a calm market) makes
    ``exp(0.6 * z)`` beyond float64. Such a step's gas is the ceiling, a price no keeper
    pays (see :data:`MAX_GAS_GWEI`), instead of an overflow.

    Calibration hint: on Black Thursday the mean gas price went from about 10 to 225 gwei
    (``log`` ratio 3.1) while 10-minute moves were several times their calm size.

    Parameters
    ----------
    rng
        Draws ``rng.standard_normal(n)`` (the ``eps``; drawn even when ``noise = 0``).
    base_gwei
        Gas price at ``z = 0`` with no noise, in ``[0, MAX_GAS_GWEI]``; 0 (a chain with no
        fee, e.g. a test chain) gives 0 at every step, whatever the volatility.
    vol_sensitivity
        Rise of ``log gas`` per unit of ``z``, finite (0 makes gas independent of price).
    returns
        Log returns per step, shape ``(n,)``, finite (``numpy.diff(numpy.log(path))``).
    noise
        Standard deviation of the log-gas noise, >= 0.
    n
        Number of steps, >= 0; must equal ``len(returns)``.
    cap_gwei
        If given (> 0), the highest gas price returned (a keeper's bid limit).
    window
        Steps in the trailing mean of ``|return|``, >= 1.
    reference_sigma
        If given (> 0), the calm per-step standard deviation (see above).
    step_seconds
        If given (> 0), the length of one step: steps shorter than ``return_seconds``
        are summed to returns of about that length (see above).
    return_seconds
        The shortest return measured, seconds (> 0; default 60).

    Returns
    -------
    numpy.ndarray
        Gas prices in gwei, shape ``(n,)``, each in ``[0, MAX_GAS_GWEI]`` (> 0 when
        ``base_gwei > 0``, unless ``exp`` underflows).
    """
    gen = check_rng(rng)
    base = check_non_negative("base_gwei", base_gwei)
    if base > MAX_GAS_GWEI:
        raise ValueError(f"base_gwei: must be at most {MAX_GAS_GWEI:g} gwei, the highest gas "
                         f"price modelled (got {base:g})")
    sens = check_real("vol_sensitivity", vol_sensitivity)
    noise_ = check_non_negative("noise", noise)
    n_ = check_count("n", n)
    cap = None if cap_gwei is None else check_positive("cap_gwei", cap_gwei)
    w = check_count("window", window, minimum=1)
    ref = None if reference_sigma is None else check_positive("reference_sigma", reference_sigma)
    try:
        r = np.asarray(returns, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("returns: must be an array of numbers") from None
    if r.ndim != 1 or r.size != n_:
        raise ValueError(f"returns: must be 1-D with one return per step (n = {n_}), "
                         f"got shape {r.shape}")
    if not np.isfinite(r).all():
        i = int(np.argmax(~np.isfinite(r)))
        raise ValueError(f"returns: must be finite ({field_path('returns', i)} is {r[i]})")
    k = horizon_steps(step_seconds, return_seconds)
    eps = gen.standard_normal(n_)
    # k = 1: |r| over `window` steps, bit for bit as before; else k-step returns over
    # `window` of their lengths (the same seconds at any step length).
    a, _ = rolling_abs_return(r, w) if k == 1 else rolling_abs_return(
        trailing_returns(r, k), w * k)
    with np.errstate(over="ignore"):  # a z beyond float64 (a tiny reference) is inf
        if ref is not None:
            z = (a - ref * _ABS_MEAN) / (ref * _ABS_SD)
        else:
            sd = float(a.std()) if n_ else 0.0
            z = (a - a.mean()) / sd if sd > 0 else np.zeros(n_)
        # 0 * inf would be nan: with no sensitivity, z plays no part at all.
        x = (sens * z if sens != 0 else 0.0) + noise_ * eps
    if base == 0:
        # No fee on this chain: 0 times any factor (after the draws, so the generator
        # moves on as for any other base).
        return np.zeros(n_)
    # The exponent is clamped where base * exp(x) reaches the ceiling, so exp never
    # overflows; below it the product is as before, bit for bit (exactly base_gwei where
    # z = eps = 0).
    x = np.minimum(x, math.log(MAX_GAS_GWEI / base))
    gas = np.minimum(base * np.exp(x), MAX_GAS_GWEI)  # exp(log(c)) may round above c
    if cap is not None:
        np.minimum(gas, cap, out=gas)
    out: NDArray[np.float64] = gas
    return out


@overload
def keeper_cost_usd(gas_gwei: float, gas_used: int, eth_price: float) -> float: ...
@overload
def keeper_cost_usd(gas_gwei: NDArray[np.float64], gas_used: int,
                    eth_price: float | NDArray[np.float64]) -> NDArray[np.float64]: ...
@overload
def keeper_cost_usd(gas_gwei: float | NDArray[np.float64], gas_used: int,
                    eth_price: NDArray[np.float64]) -> NDArray[np.float64]: ...


def keeper_cost_usd(gas_gwei: float | NDArray[np.float64], gas_used: int,
                    eth_price: float | NDArray[np.float64]) -> float | NDArray[np.float64]:
    """What a keeper's transaction costs in USD: ``gas_used * gas_gwei * 1e-9 * eth_price``.

    A Maker Flipper ``tend`` used roughly 100-200k gas (an assumption to calibrate); at
    200 gwei and ETH at 110 USD, 150,000 gas costs 0.03 ETH = 3.30 USD.

    Parameters
    ----------
    gas_gwei
        Gas price in gwei, >= 0: a number or an array (per step).
    gas_used
        Gas the transaction uses, an integer >= 0.
    eth_price
        ETH price in USD, >= 0: a number or an array broadcastable with ``gas_gwei``.

    Returns
    -------
    float or numpy.ndarray
        A float when both prices are numbers, else an array.
    """
    used = check_count("gas_used", gas_used)
    scalar = True
    arrays: list[NDArray[np.float64]] = []
    for name, value in (("gas_gwei", gas_gwei), ("eth_price", eth_price)):
        if isinstance(value, np.ndarray):
            scalar = False
            arr = np.asarray(value, dtype=np.float64)
            if not np.isfinite(arr).all() or (arr < 0).any():
                raise ValueError(f"{name}: must be finite and >= 0")
            arrays.append(arr)
        else:
            arrays.append(np.asarray(check_non_negative(name, value)))
    try:
        cost = used * arrays[0] * 1e-9 * arrays[1]
    except ValueError:
        raise ValueError(f"eth_price: shape {arrays[1].shape} does not broadcast with "
                         f"gas_gwei's {arrays[0].shape}") from None
    if scalar:
        return float(cost)
    out: NDArray[np.float64] = np.asarray(cost, dtype=np.float64)
    return out
