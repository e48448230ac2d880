"""Seeded stochastic price paths for the simulator: pure functions over an explicit generator.

Every function that draws takes a :class:`numpy.random.Generator` as its first argument and
uses no other source of randomness, so the same generator state gives a bit-identical path.
The number and order of draws each function makes is part of its contract (stated in its
docstring): a caller that shares one generator between several processes gets the same
paths whenever it calls them in the same order.

Paths are ``float64`` arrays of prices at steps ``0..n`` (length ``n + 1``; index 0 is the
start value, exactly as given). ``dt`` is the step length in **years** (one minute is
``60 / 31_536_000``); ``mu`` and ``sigma`` are annualised. These are exogenous market
paths, so floats are fine here: the engine converts each price it is given to an exact int.

Bad arguments raise :class:`ValueError` naming the parameter (``sigma: must be >= 0 (got
-0.1)``); a generator of the wrong type raises :class:`TypeError`.
"""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Sequence
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from marginengine.errors import field_path

__all__ = [
    "brownian_bridge",
    "correlated_gbm",
    "correlation_factor",
    "flash_crash",
    "flash_crash_multiplier",
    "gbm",
    "grid_size",
    "jump_diffusion",
    "jump_diffusion_increments",
    "ornstein_uhlenbeck",
    "resample",
    "scale_volatility",
]

#: Tolerance for symmetry, unit diagonal and negative eigenvalues of a correlation matrix.
CORR_TOL = 1e-10


# --------------------------------------------------------------------------- validation


def check_rng(rng: object) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"rng: must be a numpy.random.Generator (e.g. numpy.random.default_rng(seed)), "
            f"got {type(rng).__name__}"
        )
    return rng


def check_real(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name}: must be a real number (got {value!r})")
    x = float(value)
    if not math.isfinite(x):
        raise ValueError(f"{name}: must be finite (got {x})")
    return x


def check_positive(name: str, value: object) -> float:
    x = check_real(name, value)
    if x <= 0:
        raise ValueError(f"{name}: must be > 0 (got {x})")
    return x


def check_non_negative(name: str, value: object) -> float:
    x = check_real(name, value)
    if x < 0:
        raise ValueError(f"{name}: must be >= 0 (got {x})")
    return x


def check_count(name: str, value: object, minimum: int = 0) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{name}: must be an integer (got {value!r})")
    try:
        k = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise ValueError(f"{name}: must be an integer (got {value!r})") from None
    if k < minimum:
        raise ValueError(f"{name}: must be >= {minimum} (got {k})")
    return int(k)


def _vector(name: str, values: object, check: str) -> NDArray[np.float64]:
    """A 1-D float vector with every entry checked (``check``: real, positive, non_negative)."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: must be a sequence of numbers (got {values!r})") from None
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name}: must be a non-empty 1-D sequence (got shape {arr.shape})")
    checker = {"real": check_real, "positive": check_positive,
               "non_negative": check_non_negative}[check]
    for i, v in enumerate(arr):
        checker(field_path(name, i), v)
    return arr


def _path(name: str, path: ArrayLike, positive: bool) -> NDArray[np.float64]:
    try:
        arr = np.array(path, dtype=np.float64)  # a copy: inputs are never modified
    except (TypeError, ValueError):
        raise ValueError(f"{name}: must be an array of numbers") from None
    if arr.ndim not in (1, 2) or arr.shape[0] == 0:
        raise ValueError(f"{name}: must be a non-empty 1-D or 2-D array (got shape {arr.shape})")
    if not np.isfinite(arr).all():
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        raise ValueError(f"{name}: must be finite (index {bad[0] if len(bad) == 1 else bad} "
                         f"is {arr[bad]})")
    if positive and (arr <= 0).any():
        bad = tuple(int(i) for i in np.argwhere(arr <= 0)[0])
        raise ValueError(f"{name}: must be > 0 (index {bad[0] if len(bad) == 1 else bad} "
                         f"is {arr[bad]})")
    return arr


def _finite_result(path: NDArray[np.float64], what: str) -> NDArray[np.float64]:
    if not np.isfinite(path).all():
        raise ValueError(f"{what}: the path overflowed float64; reduce mu, sigma, dt or n")
    return path


def _log_path(s0: float | NDArray[np.float64],
              increments: NDArray[np.float64]) -> NDArray[np.float64]:
    """``s0 * exp(cumsum(increments))`` with a leading row of exactly ``s0``."""
    zero = np.zeros((1, *increments.shape[1:]))
    cum = np.concatenate([zero, np.cumsum(increments, axis=0)], axis=0)
    with np.errstate(over="ignore"):  # an overflow is reported by _finite_result
        path: NDArray[np.float64] = s0 * np.exp(cum)
    return path


# --------------------------------------------------------------------------- processes


def gbm(rng: np.random.Generator, s0: float, mu: float, sigma: float, dt: float,
        n: int) -> NDArray[np.float64]:
    """Geometric Brownian motion with exact log-normal steps.

    ``log S[i+1] = log S[i] + (mu - sigma**2 / 2) * dt + sigma * sqrt(dt) * Z[i]``, the
    ``Z[i]`` independent standard normals: the exact transition of
    ``dS = mu S dt + sigma S dW``, with no discretisation error at any ``dt``.

    Parameters
    ----------
    rng
        The only source of randomness. Draws ``rng.standard_normal(n)``, nothing else.
    s0
        Start price, > 0; ``path[0] == s0`` exactly.
    mu
        Drift per year (``E[S(t)] = s0 * exp(mu * t)``).
    sigma
        Volatility per sqrt(year), >= 0 (0 gives the deterministic path).
    dt
        Step length in years, > 0.
    n
        Number of steps, >= 0.

    Returns
    -------
    numpy.ndarray
        Prices at steps ``0..n``, shape ``(n + 1,)``.
    """
    gen = check_rng(rng)
    s0_ = check_positive("s0", s0)
    mu_ = check_real("mu", mu)
    sigma_ = check_non_negative("sigma", sigma)
    dt_ = check_positive("dt", dt)
    n_ = check_count("n", n)
    z = gen.standard_normal(n_)
    increments = (mu_ - 0.5 * sigma_ * sigma_) * dt_ + sigma_ * math.sqrt(dt_) * z
    return _finite_result(_log_path(s0_, increments), "gbm")


def correlation_factor(corr: Sequence[Sequence[float]] | NDArray[np.float64],
                       k: int | None = None) -> NDArray[np.float64]:
    """A lower factor ``L`` with ``L @ L.T == corr`` (to rounding) for a correlation matrix.

    Cholesky when ``corr`` is positive definite; when it is only positive *semi*-definite
    (a correlation of exactly 1, or a rank-deficient matrix) Cholesky fails and the factor
    comes from the eigendecomposition instead, with eigenvalues in ``[-CORR_TOL, 0)`` clipped
    to 0 and each row rescaled to unit length so every marginal keeps variance 1.

    Raises
    ------
    ValueError
        ``corr`` is not square (``k x k`` when ``k`` is given), not symmetric, has a diagonal
        other than 1, an entry outside ``[-1, 1]``, or an eigenvalue below ``-CORR_TOL``.
    """
    try:
        c = np.array(corr, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("corr: must be a square matrix of numbers") from None
    if c.ndim != 2 or c.shape[0] != c.shape[1] or c.shape[0] == 0:
        raise ValueError(f"corr: must be a non-empty square matrix (got shape {c.shape})")
    if k is not None and c.shape[0] != k:
        raise ValueError(f"corr: must be {k} x {k} to match the {k} assets "
                         f"(got {c.shape[0]} x {c.shape[1]})")
    if not np.isfinite(c).all():
        raise ValueError("corr: must be finite")
    if not np.allclose(c, c.T, rtol=0.0, atol=CORR_TOL):
        i, j = (int(x) for x in np.argwhere(np.abs(c - c.T) > CORR_TOL)[0])
        raise ValueError(f"corr: must be symmetric ({field_path('corr', i, j)} = {c[i, j]} but "
                         f"{field_path('corr', j, i)} = {c[j, i]})")
    diag = np.diag(c)
    if not np.allclose(diag, 1.0, rtol=0.0, atol=CORR_TOL):
        i = int(np.argmax(np.abs(diag - 1.0)))
        raise ValueError(f"corr: diagonal must be 1 ({field_path('corr', i, i)} = {diag[i]})")
    if (np.abs(c) > 1.0 + CORR_TOL).any():
        i, j = (int(x) for x in np.argwhere(np.abs(c) > 1.0 + CORR_TOL)[0])
        raise ValueError(f"corr: entries must lie in [-1, 1] "
                         f"({field_path('corr', i, j)} = {c[i, j]})")
    c = 0.5 * (c + c.T)
    np.fill_diagonal(c, 1.0)
    try:
        return np.asarray(np.linalg.cholesky(c), dtype=np.float64)
    except np.linalg.LinAlgError:
        pass
    w, v = np.linalg.eigh(c)
    if w[0] < -CORR_TOL:
        raise ValueError(f"corr: must be positive semi-definite (smallest eigenvalue "
                         f"{w[0]:.6g})")
    clipped = v * np.sqrt(np.clip(w, 0.0, None))
    return np.asarray(clipped / np.linalg.norm(clipped, axis=1, keepdims=True),
                      dtype=np.float64)


def correlated_gbm(rng: np.random.Generator, s0: Sequence[float], mu: Sequence[float],
                   sigma: Sequence[float], corr: Sequence[Sequence[float]], dt: float,
                   n: int) -> NDArray[np.float64]:
    """``k`` geometric Brownian motions whose Brownian increments have correlation ``corr``.

    Asset ``j`` follows :func:`gbm` with ``s0[j], mu[j], sigma[j]``; the standard normals of
    one step are ``Z @ L.T`` with ``L`` from :func:`correlation_factor` (Cholesky, or the
    eigen-clip factor when ``corr`` is singular). With one asset and ``corr = [[1]]`` the
    path is bit-identical to :func:`gbm` on the same generator state.

    Parameters
    ----------
    rng
        Draws ``rng.standard_normal((n, k))``, nothing else.
    s0, mu, sigma
        Per-asset start prices (> 0), drifts and volatilities (>= 0), all of length ``k``.
    corr
        ``k x k`` correlation matrix: symmetric, unit diagonal, positive semi-definite.
    dt
        Step length in years, > 0.
    n
        Number of steps, >= 0.

    Returns
    -------
    numpy.ndarray
        Prices, shape ``(n + 1, k)``; row 0 is ``s0``.
    """
    gen = check_rng(rng)
    s0_ = _vector("s0", s0, "positive")
    k = s0_.size
    mu_ = _vector("mu", mu, "real")
    sigma_ = _vector("sigma", sigma, "non_negative")
    for name, arr in (("mu", mu_), ("sigma", sigma_)):
        if arr.size != k:
            raise ValueError(f"{name}: must have one entry per asset ({k}, as s0), "
                             f"got {arr.size}")
    factor = correlation_factor(corr, k)
    dt_ = check_positive("dt", dt)
    n_ = check_count("n", n)
    z = gen.standard_normal((n_, k)) @ factor.T
    increments = (mu_ - 0.5 * sigma_ * sigma_) * dt_ + sigma_ * math.sqrt(dt_) * z
    return _finite_result(_log_path(s0_, increments), "correlated_gbm")


def jump_diffusion(rng: np.random.Generator, s0: float, mu: float, sigma: float,
                   jump_intensity: float, jump_mean: float, jump_std: float, dt: float,
                   n: int) -> NDArray[np.float64]:
    """Merton jump diffusion, drift-compensated so that ``E[S(t)] = s0 * exp(mu * t)``.

    Each step adds to ``log S``::

        (mu - sigma**2 / 2 - lambda * kappa) * dt + sigma * sqrt(dt) * Z
            + N * jump_mean + jump_std * sqrt(N) * Z'

    with ``N ~ Poisson(lambda * dt)`` jumps in the step, each a normal ``log`` jump
    ``N(jump_mean, jump_std**2)`` (their sum given ``N`` is drawn exactly as one normal), and
    ``kappa = exp(jump_mean + jump_std**2 / 2) - 1`` the mean relative jump size. The
    transition is exact: no discretisation error at any ``dt``. With ``jump_intensity = 0``
    the path is bit-identical to :func:`gbm` on the same generator state.

    Parameters
    ----------
    rng
        Draws, in order: ``standard_normal(n)`` (diffusion), ``poisson(lambda * dt, n)``
        (jump counts), ``standard_normal(n)`` (jump sizes; drawn even where ``N = 0``).
    s0, mu, sigma, dt, n
        As in :func:`gbm`.
    jump_intensity
        ``lambda``, expected jumps per year, >= 0.
    jump_mean
        Mean of one jump in log price (``-0.2`` is a jump to ``exp(-0.2) = 0.82`` times).
    jump_std
        Standard deviation of one jump in log price, >= 0.

    Returns
    -------
    numpy.ndarray
        Prices at steps ``0..n``, shape ``(n + 1,)``. :func:`jump_diffusion_increments`
        gives the log increments and the jump count of every step.
    """
    s0_ = check_positive("s0", s0)
    increments, _ = jump_diffusion_increments(rng, mu, sigma, jump_intensity, jump_mean,
                                              jump_std, dt, n)
    return _finite_result(_log_path(s0_, increments), "jump_diffusion")


def jump_diffusion_increments(rng: np.random.Generator, mu: float, sigma: float,
                              jump_intensity: float, jump_mean: float, jump_std: float,
                              dt: float, n: int) -> tuple[NDArray[np.float64],
                                                          NDArray[np.int64]]:
    """The log-price increments of :func:`jump_diffusion` and the number of jumps per step.

    Same parameters and draws as :func:`jump_diffusion` (without ``s0``): the path is
    ``s0 * exp(cumsum(increments))`` after a leading ``s0``.

    Returns
    -------
    tuple of numpy.ndarray
        ``(increments, counts)``, both of shape ``(n,)``.
    """
    gen = check_rng(rng)
    mu_ = check_real("mu", mu)
    sigma_ = check_non_negative("sigma", sigma)
    lam = check_non_negative("jump_intensity", jump_intensity)
    jm = check_real("jump_mean", jump_mean)
    js = check_non_negative("jump_std", jump_std)
    dt_ = check_positive("dt", dt)
    n_ = check_count("n", n)
    try:
        kappa = math.expm1(jm + 0.5 * js * js)
    except OverflowError:
        raise ValueError(f"jump_mean: a mean jump of exp({jm}) overflows float64") from None
    z = gen.standard_normal(n_)
    counts = gen.poisson(lam * dt_, n_).astype(np.int64)
    z_jump = gen.standard_normal(n_)
    drift = (mu_ - 0.5 * sigma_ * sigma_ - lam * kappa) * dt_
    increments = (drift + sigma_ * math.sqrt(dt_) * z
                  + counts * jm + js * np.sqrt(counts) * z_jump)
    return np.asarray(increments, dtype=np.float64), counts


def flash_crash_multiplier(length: int, at: int, k_sigma: float, sigma: float, dt: float,
                           recovery_steps: int = 0,
                           recovery_fraction: float = 0.0) -> NDArray[np.float64]:
    """The factor :func:`flash_crash` multiplies each step of a path by (length ``length``).

    1 before ``at``; ``D = exp(-k_sigma * sigma * sqrt(dt))`` at ``at``; then, over
    ``recovery_steps`` steps, linearly in price back up to ``D + (1 - D) * recovery_fraction``,
    which holds to the end.
    """
    length_ = check_count("length", length, minimum=1)
    at_ = check_count("at", at)
    if at_ >= length_:
        raise ValueError(f"at: must be a step of the path, 0..{length_ - 1} (got {at_})")
    k_ = check_real("k_sigma", k_sigma)
    sigma_ = check_non_negative("sigma", sigma)
    dt_ = check_positive("dt", dt)
    steps = check_count("recovery_steps", recovery_steps)
    frac = check_real("recovery_fraction", recovery_fraction)
    if not 0.0 <= frac <= 1.0:
        raise ValueError(f"recovery_fraction: must lie in [0, 1] (got {frac})")
    if frac > 0.0 and steps == 0:
        raise ValueError("recovery_steps: must be >= 1 when recovery_fraction > 0")
    drop = math.exp(-k_ * sigma_ * math.sqrt(dt_))
    if drop == 0.0 or not math.isfinite(drop):
        raise ValueError(f"k_sigma: a move of {k_} x {sigma_} x sqrt({dt_}) in log price "
                         "does not fit in float64")
    mult = np.ones(length_)
    mult[at_:] = drop
    if frac > 0.0:
        j = np.arange(1, length_ - at_)
        progress = np.minimum(j, steps) / steps
        mult[at_ + 1:] = drop + (1.0 - drop) * frac * progress
    return mult


def flash_crash(path: NDArray[np.float64], at: int, k_sigma: float, sigma: float, dt: float,
                recovery_steps: int = 0,
                recovery_fraction: float = 0.0) -> NDArray[np.float64]:
    """A sudden drop of ``k_sigma`` standard deviations at step ``at``, carried to the end.

    Definition: the standard deviation is that of the log return over a horizon of ``dt``
    years at volatility ``sigma``, so the drop is a log move of ``L = k_sigma * sigma *
    sqrt(dt)`` and every price from step ``at`` on is multiplied by ``D = exp(-L)`` (the
    path keeps its own moves after the crash, from the lower level). Pass the simulator's
    step as ``dt`` for a k-sigma *per-step* shock, or ``dt = 1/365`` for a k-sigma *daily*
    move whatever the step (Black Thursday was about a 10-sigma day at 80% volatility:
    ``exp(-10 * 0.8 * sqrt(1/365)) = 0.66``). A negative ``k_sigma`` is a spike up.

    Recovery (optional): over the ``recovery_steps`` steps after ``at`` the multiplier rises
    linearly *in price* from ``D`` to ``D + (1 - D) * recovery_fraction`` and stays there, so
    ``recovery_fraction = 0.5`` wins back half of the price drop.

    Parameters
    ----------
    path
        Prices, shape ``(m,)`` or ``(m, k)`` (each column shocked alike); finite. Not modified.
    at
        Step of the drop, ``0 <= at < m``.
    k_sigma
        Size of the drop in standard deviations.
    sigma
        Volatility per sqrt(year), >= 0.
    dt
        Horizon of the standard deviation in years, > 0.
    recovery_steps
        Steps over which the recovery is phased in, >= 0 (>= 1 if ``recovery_fraction > 0``).
    recovery_fraction
        Share of the price drop won back, in ``[0, 1]``.

    Returns
    -------
    numpy.ndarray
        A new array: ``path[i] * multiplier[i]`` (see :func:`flash_crash_multiplier`).
    """
    arr = _path("path", path, positive=False)
    mult = flash_crash_multiplier(arr.shape[0], at, k_sigma, sigma, dt, recovery_steps,
                                  recovery_fraction)
    out: NDArray[np.float64] = arr * (mult if arr.ndim == 1 else mult[:, None])
    return out


def ornstein_uhlenbeck(rng: np.random.Generator, x0: float, mean: float, theta: float,
                       sigma: float, dt: float, n: int, *,
                       floor: float | None = None) -> NDArray[np.float64]:
    """Ornstein-Uhlenbeck process (for pegged assets), exact discretisation.

    ``dX = theta * (mean - X) dt + sigma dW``; each step is its exact transition::

        X[i+1] = mean + (X[i] - mean) * a + sd * Z[i],
        a = exp(-theta * dt),  sd = sigma * sqrt((1 - a**2) / (2 * theta))

    (``sd = sigma * sqrt(dt)`` when ``theta = 0``: Brownian motion). The stationary law is
    ``N(mean, sigma**2 / (2 * theta))``; the half-life of a deviation is ``ln 2 / theta``.
    ``sigma`` is in price units per sqrt(year) (not relative), so a stablecoin with
    ``mean = 1`` and ``sigma = 0.02`` wanders a few tenths of a cent at a time.

    The process itself can go negative. For prices, pass ``floor`` (e.g. ``1e-8``, the
    smallest positive price at the engine's 8 decimals): the *returned values* are clipped
    at ``floor`` while the process underneath continues unclipped, so the floor never biases
    the reversion.

    Parameters
    ----------
    rng
        Draws ``rng.standard_normal(n)``, nothing else.
    x0
        Start value, finite; ``path[0] == x0`` exactly (before the floor).
    mean
        Long-run level, finite.
    theta
        Speed of reversion per year, >= 0.
    sigma
        Volatility in price units per sqrt(year), >= 0.
    dt
        Step length in years, > 0.
    n
        Number of steps, >= 0.
    floor
        If given (finite), the least value returned.

    Returns
    -------
    numpy.ndarray
        Values at steps ``0..n``, shape ``(n + 1,)``.
    """
    gen = check_rng(rng)
    x0_ = check_real("x0", x0)
    mean_ = check_real("mean", mean)
    theta_ = check_non_negative("theta", theta)
    sigma_ = check_non_negative("sigma", sigma)
    dt_ = check_positive("dt", dt)
    n_ = check_count("n", n)
    floor_ = None if floor is None else check_real("floor", floor)
    z = gen.standard_normal(n_)
    a = math.exp(-theta_ * dt_)
    if theta_ == 0.0:
        sd = sigma_ * math.sqrt(dt_)
    else:
        sd = sigma_ * math.sqrt(-math.expm1(-2.0 * theta_ * dt_) / (2.0 * theta_))
    shocks = np.empty(n_ + 1)
    shocks[0] = x0_ - mean_
    shocks[1:] = sd * z
    # y[i] = shocks[i] + a * y[i-1]: the AR(1) recursion, run in C.
    # scipy.signal costs ~0.3 s to import: only when an OU path is drawn.
    from scipy.signal import lfilter

    deviation = lfilter([1.0], [1.0, -a], shocks)
    out: NDArray[np.float64] = mean_ + np.asarray(deviation, dtype=np.float64)
    out[0] = x0_
    if floor_ is not None:
        np.maximum(out, floor_, out=out)
    return out


def brownian_bridge(rng: np.random.Generator, s0: float, s_end: float, sigma: float, dt: float,
                    n: int) -> NDArray[np.float64]:
    """A price path from ``s0`` to ``s_end`` in ``n`` steps: a Brownian bridge in log price.

    With ``W`` a Brownian motion of volatility ``sigma`` (``W[i]`` the sum of ``i`` steps
    ``sigma * sqrt(dt) * Z``), ``log S[i] = log s0 + W[i] - (i / n) * (W[n] - log(s_end /
    s0))``: at step ``i`` the log price is normal with mean on the straight line between the
    end points and variance ``sigma**2 * dt * i * (n - i) / n``. Both ends are pinned
    exactly: ``path[0] == s0`` and ``path[n] == s_end``. Useful to replay a known move
    (open and close of a day) with realistic noise in between.

    Parameters
    ----------
    rng
        Draws ``rng.standard_normal(n)``, nothing else.
    s0, s_end
        Start and end prices, > 0.
    sigma
        Volatility per sqrt(year), >= 0 (0 gives the straight line in log price).
    dt
        Step length in years, > 0.
    n
        Number of steps, >= 1.

    Returns
    -------
    numpy.ndarray
        Prices at steps ``0..n``, shape ``(n + 1,)``.
    """
    gen = check_rng(rng)
    s0_ = check_positive("s0", s0)
    s_end_ = check_positive("s_end", s_end)
    sigma_ = check_non_negative("sigma", sigma)
    dt_ = check_positive("dt", dt)
    n_ = check_count("n", n, minimum=1)
    z = gen.standard_normal(n_)
    w = np.concatenate([[0.0], np.cumsum(sigma_ * math.sqrt(dt_) * z)])
    frac = np.arange(n_ + 1) / n_
    log_move = math.log(s_end_) - math.log(s0_)
    with np.errstate(over="ignore"):
        out: NDArray[np.float64] = s0_ * np.exp(w - frac * (w[-1] - log_move))
    out[0] = s0_
    out[-1] = s_end_
    return _finite_result(out, "brownian_bridge")


# --------------------------------------------------------------------------- transforms


def grid_size(span: float, step: float) -> int:
    """Points of the grid ``i * step``, ``i >= 0``, not past ``span`` (:func:`resample`'s).

    The step is nudged by one part in 1e12 so that a span that is a whole number of steps,
    up to float rounding, keeps its last point.
    """
    return math.floor(span / step * (1.0 + 1e-12)) + 1


def resample(times: NDArray[np.float64], values: NDArray[np.float64], new_dt_seconds: float,
             method: Literal["linear", "previous"], *, first: int = 0,
             length: int | None = None) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """A series on a regular grid of ``new_dt_seconds`` from its first time to its last.

    The grid is ``times[0] + i * new_dt_seconds`` for every ``i >= 0`` not past ``times[-1]``
    (the last time itself is on the grid only when the span is a multiple of the step);
    :func:`grid_size` counts its points. ``first`` and ``length`` return only the points
    ``first .. first + length - 1`` of it (fewer at its end), the same values as slicing the
    whole grid: four years of hourly bars on 1-second steps is a grid of 126 million
    points, of which a run of ``n`` steps reads ``n + 1``.

    ``method``:

    ``"linear"``
        interpolate linearly between the two surrounding observations.
    ``"previous"``
        the last observation at or before each grid time (a step function: what a reader
        polling the source would have seen).

    Parameters
    ----------
    times
        Observation times in seconds, shape ``(m,)``, strictly increasing, finite.
    values
        Observations, shape ``(m,)`` or ``(m, k)`` (columns resampled alike), finite.
    new_dt_seconds
        Grid step in seconds, > 0.
    method
        ``"linear"`` or ``"previous"``.
    first
        Index of the first grid point returned, >= 0.
    length
        Most grid points returned, >= 0; default every one from ``first`` on.

    Returns
    -------
    tuple of numpy.ndarray
        ``(new_times, new_values)``.
    """
    t = _path("times", times, positive=False)
    if t.ndim != 1:
        raise ValueError(f"times: must be 1-D (got shape {t.shape})")
    v = _path("values", values, positive=False)
    if v.shape[0] != t.shape[0]:
        raise ValueError(f"values: must have one row per time ({t.shape[0]}), "
                         f"got {v.shape[0]}")
    if t.size > 1 and not (np.diff(t) > 0).all():
        i = int(np.argmax(np.diff(t) <= 0)) + 1
        raise ValueError(f"times: must be strictly increasing "
                         f"({field_path('times', i)} = {t[i]} after "
                         f"{field_path('times', i - 1)} = {t[i - 1]})")
    step = check_positive("new_dt_seconds", new_dt_seconds)
    if method not in ("linear", "previous"):
        raise ValueError(f"method: must be 'linear' or 'previous' (got {method!r})")
    lo = check_count("first", first)
    count = grid_size(float(t[-1] - t[0]), step)
    hi = count if length is None else min(count, lo + check_count("length", length))
    grid = np.minimum(t[0] + np.arange(min(lo, hi), hi) * step, t[-1])
    if method == "previous":
        idx = np.searchsorted(t, grid, side="right") - 1
        return grid, v[idx].copy()
    if v.ndim == 1:
        return grid, np.interp(grid, t, v)
    cols = [np.interp(grid, t, v[:, j]) for j in range(v.shape[1])]
    return grid, np.stack(cols, axis=1)


def scale_volatility(path: NDArray[np.float64], factor: float) -> NDArray[np.float64]:
    """Scale every log return of a path by ``factor``, around the path's start.

    ``out[i] = s0 * exp(factor * log(path[i] / s0))``, i.e. ``s0 * exp(factor *
    cumsum(log returns))``: the log-return standard deviation (and any drift, and the size
    of every move: a -43% day becomes ``1 - 0.57**2 = -67.5%`` at ``factor = 2``) is
    multiplied by ``factor``. It is computed as ``path * exp((factor - 1) * log(path /
    s0))``, so ``factor = 1`` returns the path exactly, and ``out[0] == s0`` always.

    Parameters
    ----------
    path
        Prices, shape ``(m,)`` or ``(m, k)`` (columns scaled each around its own start),
        finite and > 0. Not modified.
    factor
        Multiplier of the log returns, >= 0 (0 gives a flat path at ``s0``).

    Returns
    -------
    numpy.ndarray
        A new array of the same shape.
    """
    arr = _path("path", path, positive=True)
    f = check_non_negative("factor", factor)
    with np.errstate(over="ignore"):
        out: NDArray[np.float64] = arr * np.exp((f - 1.0) * np.log(arr / arr[0]))
    return _finite_result(out, "scale_volatility")
