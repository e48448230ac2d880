"""The joint price model: every asset's external price at every step, drawn together.

Four kinds of asset (``process`` of ``[price.assets.X]``):

``gbm``, ``jump``, ``bridge``
    *Drivers*: geometric Brownian motion, Merton jump diffusion, or a Brownian bridge in
    log price pinned to ``end`` at step ``end_at`` (a scripted crash with noise: "ETH
    -35% in an hour"; after ``end_at`` it diffuses on from ``end``), whose Brownian
    increments are correlated by ``[price.correlation]`` (a matrix over named assets:
    symmetric, unit diagonal, positive semi-definite). Jumps are drawn per asset.
``spread``
    A derivative or liquid-staking token over a base asset::

        price = base * rate * exp(rate_growth * t) * (1 + depeg)

    ``wstETH`` is ``ETH`` times its exchange rate (stETH per wstETH) times one plus an
    Ornstein-Uhlenbeck depeg around 0 (``[price.assets.X.depeg]``), with an optional
    one-off shock that then reverts at the same speed.
``peg``
    A stablecoin: ``peg * (1 + depeg)`` with the same depeg process (OU around 0, a shock).
``replay``, ``path``, ``constant``
    A historical series (10-minute bars, aligned with the other replayed assets on one
    grid from the latest first bar), an explicit path (last value held), or a constant.

Draws, in this order (a contract: the same generator state gives the same paths):

1. ``standard_normal((n, k))`` for the ``k`` drivers in the file's order
   (:func:`marginengine.sim.processes.correlated_gbm`);
2. for each ``jump`` driver, in the file's order, the draws of
   :func:`marginengine.sim.processes.jump_diffusion_increments`;
3. for each ``spread`` and ``peg`` asset, in the file's order, the draws of
   :func:`marginengine.sim.processes.ornstein_uhlenbeck`.

Paths are floats (exogenous market paths); :func:`fix_price` turns each into the
engine's exact 8-decimal integer with the rounding named (nearest, ties up, by default),
from the float's exact binary value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import Field, field_validator, model_validator

from marginengine.config.base import StrictModel
from marginengine.errors import ConfigError, field_path
from marginengine.fixedpoint import PRICE_UNIT, Rounding, div

# sim.processes (and scipy.signal under it) is imported where paths are drawn, not here:
# validating a scenario or importing the cascade does not load it.

SECONDS_PER_YEAR = 31_536_000

#: The processes of one asset (see the module docstring).
ASSET_PROCESSES = ("gbm", "jump", "bridge", "spread", "peg", "replay", "path", "constant")
DRIVERS = ("gbm", "jump", "bridge")

_Num = Annotated[Decimal, Field(allow_inf_nan=False)]
_NonNeg = Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]
#: A USD price per whole token (one price unit, 1e-8, to 1e15).
_Price = Annotated[Decimal, Field(ge=Decimal("1e-8"), le=Decimal("1e15"),
                                  allow_inf_nan=False)]


class _Spec(StrictModel):
    """Frozen, unknown fields, booleans and text for plain numbers refused (as every
    configuration table)."""


class DepegSpec(_Spec):
    """An Ornstein-Uhlenbeck deviation from the peg (a fraction: -0.05 is 5% below).

    ``theta`` is the speed of reversion per year (half-life ``ln 2 / theta``: 8,760 per
    year is about 50 minutes), ``sigma`` its volatility per sqrt(year) (a fraction).
    ``shock`` (a fraction > -1) is added to the deviation at step ``shock_at`` and reverts
    at the same speed: the OU is linear, so the shocked path is the unshocked one plus
    ``shock * exp(-theta * (t - t_shock))``.
    """

    start: Annotated[Decimal, Field(gt=-1, lt=1, allow_inf_nan=False)] = Decimal(0)
    theta: _NonNeg = Decimal(0)
    sigma: Annotated[Decimal, Field(ge=0, le=100, allow_inf_nan=False)] = Decimal(0)
    shock: Annotated[Decimal, Field(gt=-1, lt=10, allow_inf_nan=False)] = Decimal(0)
    shock_at: int = Field(default=0, ge=0)


class AssetPriceSpec(_Spec):
    """One asset of the joint model (``[price.assets.X]``)."""

    process: Literal["gbm", "jump", "bridge", "spread", "peg", "replay", "path", "constant"]
    s0: _Price = Decimal(2000)                  # gbm, jump, constant
    mu: _Num = Decimal(0)
    sigma: Annotated[Decimal, Field(ge=0, le=100, allow_inf_nan=False)] = Decimal("0.8")
    jump_intensity: _NonNeg = Decimal(0)        # per year
    jump_mean: _Num = Decimal(0)                # log size of one jump
    jump_std: _NonNeg = Decimal(0)
    end: _Price = Decimal(1000)                 # bridge: the price reached at end_at
    end_at: int = Field(default=0, ge=0)        # bridge: that step (0: the last step)
    base: str = ""                              # spread: the base asset
    rate: Annotated[Decimal, Field(gt=0, le=Decimal("1e9"), allow_inf_nan=False)] = \
        Decimal(1)                              # spread: units of base per token
    rate_growth: Annotated[Decimal, Field(ge=-1, le=1, allow_inf_nan=False)] = Decimal(0)
    peg: _Price = Decimal(1)                    # peg: the pegged value (USD)
    depeg: DepegSpec = DepegSpec()
    file: str = ""                              # replay: 10-minute OHLCV JSON
    field: str = "price_close"
    path: list[_Price] = Field(default_factory=list)   # path: prices per step


class CorrelationSpec(_Spec):
    """``[price.correlation]``: ``assets`` (drivers) and their ``matrix`` (row per asset)."""

    assets: list[str]
    matrix: list[list[float]]

    @field_validator("matrix")
    @classmethod
    def _matrix(cls, value: list[list[float]]) -> list[list[float]]:
        from marginengine.sim import processes

        try:
            processes.correlation_factor(value)
        except ValueError as exc:
            raise ValueError(str(exc).removeprefix("corr: ")) from None
        return value

    @model_validator(mode="after")
    def _shape(self) -> CorrelationSpec:
        if len(set(self.assets)) != len(self.assets):
            raise ValueError("assets: an asset appears twice")
        if len(self.matrix) != len(self.assets):
            raise ValueError(f"matrix: must be {len(self.assets)} x {len(self.assets)}, one "
                             f"row and column per asset of assets (got {len(self.matrix)} "
                             "rows)")
        return self


class JointPriceSpec(_Spec):
    """The joint model: assets (in the file's order) and the drivers' correlation."""

    assets: dict[str, AssetPriceSpec]
    correlation: CorrelationSpec | None = None


def check_joint(spec: JointPriceSpec, where: str = "price") -> list[str]:
    """What the spec asks that cannot be drawn: one ``field: reason`` each (bases that are
    missing or circular, correlated assets that are not drivers, replays without a file)."""
    problems: list[str] = []
    assets = spec.assets
    for name, a in assets.items():
        at = f"{where}.assets.{name}"
        if a.process == "spread":
            if not a.base:
                problems.append(f"{at}.base: a spread needs its base asset")
            elif a.base not in assets:
                problems.append(f"{at}.base: unknown asset {a.base!r} (assets of the model: "
                                f"{', '.join(assets)})")
        elif a.base:
            problems.append(f"{at}.base: only a spread has a base (process is {a.process})")
        if a.process == "replay" and not a.file:
            problems.append(f"{at}.file: a replay needs a file")
        elif a.process == "replay" and not Path(a.file).is_file():
            problems.append(f"{at}.file: no such file {a.file!r}")
        if a.process == "path" and not a.path:
            problems.append(f"{at}.path: a path process needs at least one price")
    if not problems:
        for name in assets:
            seen = [name]
            cur = assets[name]
            while cur.process == "spread":
                if cur.base in seen:
                    problems.append(f"{where}.assets.{name}.base: circular spreads "
                                    f"({' -> '.join([*seen, cur.base])})")
                    break
                seen.append(cur.base)
                cur = assets[cur.base]
    corr = spec.correlation
    if corr is not None:
        for j, name in enumerate(corr.assets):
            if name not in assets:
                problems.append(f"{field_path(where, 'correlation.assets', j)}: unknown asset "
                                f"{name!r} (assets of the model: {', '.join(assets)})")
            elif assets[name].process not in DRIVERS:
                problems.append(f"{field_path(where, 'correlation.assets', j)}: {name} is a "
                                f"{assets[name].process}; only gbm, jump and bridge "
                                "assets are correlated (a spread moves with its base)")
    return problems


@dataclass(frozen=True)
class JointPaths:
    """External prices of every asset at steps ``0..n`` (floats, USD per whole token).

    Attributes
    ----------
    assets
        Asset names, in the file's order (the columns of ``values``).
    values
        Shape ``(n + 1, len(assets))``.
    start_time
        Unix time of step 0 when an asset is replayed, else ``None``.
    """

    assets: tuple[str, ...]
    values: NDArray[np.float64]
    start_time: float | None = None

    def path(self, asset: str) -> NDArray[np.float64]:
        """One asset's path (a column of ``values``)."""
        return self.values[:, self.assets.index(asset)]

    def fixed(self, rounding: Rounding = Rounding.HALF_UP) -> dict[str, list[int]]:
        """Exact 8-decimal oracle prices per asset and step (see :func:`fix_price`)."""
        return {a: [fix_price(float(x), rounding) for x in self.values[:, j]]
                for j, a in enumerate(self.assets)}


def fix_price(value: float, rounding: Rounding = Rounding.HALF_UP) -> int:
    """A float USD price to the engine's 8-decimal int, from the float's exact value.

    The float is an exact binary fraction ``p / q``; the result is ``p * 1e8 / q`` rounded
    as ``rounding`` says (``HALF_UP``: nearest, ties up; ``DOWN``; ``UP``), and at least
    one unit (a price of zero would make every position worthless, not cheap).

    Raises
    ------
    ValueError
        ``value`` is not finite or is negative.
    """
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"price: must be finite and >= 0 (got {value})")
    num, den = value.as_integer_ratio()
    return max(1, div(num * PRICE_UNIT, den, rounding))


def _aligned_replays(spec: JointPriceSpec, step_seconds: int, length: int,
                     where: str) -> tuple[dict[str, NDArray[np.float64]], float | None]:
    """Every replayed asset on one grid of ``step_seconds`` from the latest first bar,
    each holding its last bar before every grid time; the last value is held past its
    end. Raises :class:`ConfigError` when the series do not overlap."""
    from marginengine.sim import processes
    from marginengine.sim.history import load_replay

    replays = {n: a for n, a in spec.assets.items() if a.process == "replay"}
    if not replays:
        return {}, None
    # The single model's reader (a Gemini CSV or an OHLCV JSON), so a multi-asset replay
    # reads the same files.
    series = {n: load_replay(a.file, a.field, f"{where}.assets.{n}")
              for n, a in replays.items()}
    start = max(float(s.times[0]) for s in series.values())
    out: dict[str, NDArray[np.float64]] = {}
    for name, s in series.items():
        times = np.asarray(s.times, dtype=float)
        values = np.asarray(s.values, dtype=float)
        if times[-1] < start:
            raise ConfigError([f"{where}.assets.{name}.file: its bars end before the other "
                               "replayed series begin (no common time)"])
        # The bar in force at ``start`` opens the series, so every grid starts together.
        k = int(np.searchsorted(times, start, side="right")) - 1
        times = np.concatenate([[start], times[k + 1:]])
        values = np.concatenate([[values[k]], values[k + 1:]])
        _, grid_values = processes.resample(times, values, step_seconds, "previous",
                                            length=length)
        v = np.asarray(grid_values, dtype=float)
        if v.size < length:
            v = np.concatenate([v, np.full(length - v.size, v[-1])])
        out[name] = v
    return out, start


def joint_paths(spec: JointPriceSpec, rng: np.random.Generator, steps: int,
                step_seconds: int, where: str = "price") -> JointPaths:
    """Draw every asset's path for ``steps`` steps of ``step_seconds`` (see the module
    docstring for the processes and the order of draws).

    Raises
    ------
    ConfigError
        The spec is inconsistent (:func:`check_joint`) or a process refuses its values
        (a path that overflows), each problem naming the field. A path below one price
        unit is floored there.
    """
    problems = check_joint(spec, where)
    if problems:
        raise ConfigError(problems)
    try:
        paths = _draw(spec, rng, steps, step_seconds, where)
    except (ValueError, OverflowError, FloatingPointError) as exc:
        raise ConfigError([f"{where}: {exc}"]) from None
    # Below one price unit (1e-8 USD: a crash to dust, or exp underflowing to 0) a path is
    # floored where the engine's price is (fix_price), so its floats and log returns agree.
    np.maximum(paths.values, 1 / PRICE_UNIT, out=paths.values)
    return paths


def _draw(spec: JointPriceSpec, rng: np.random.Generator, n: int, step_seconds: int,
          where: str) -> JointPaths:
    from marginengine.sim import processes

    if not isinstance(rng, np.random.Generator):
        raise TypeError("rng: must be a numpy.random.Generator")
    dt = step_seconds / SECONDS_PER_YEAR
    assets = spec.assets
    names = list(assets)
    out: dict[str, NDArray[np.float64]] = {}
    # 1. correlated diffusions of the drivers (unit start; scaled below).
    drivers = [a for a in names if assets[a].process in DRIVERS]
    if drivers:
        corr = np.eye(len(drivers))
        if spec.correlation is not None:
            index = {a: j for j, a in enumerate(drivers)}
            table = spec.correlation
            for r, row_asset in enumerate(table.assets):
                for c, col_asset in enumerate(table.assets):
                    corr[index[row_asset], index[col_asset]] = table.matrix[r][c]
        # A bridge's drift is sigma**2 / 2, so its log path is a driftless Brownian
        # motion before it is pinned.
        mus = [float(assets[a].sigma) ** 2 / 2 if assets[a].process == "bridge"
               else float(assets[a].mu) for a in drivers]
        unit = processes.correlated_gbm(
            rng, [1.0] * len(drivers), mus, [float(assets[a].sigma) for a in drivers],
            corr.tolist(), dt, n)
        with np.errstate(divide="ignore"):  # a path underflowed to 0: -inf, then floored
            log_paths = np.log(unit)
        for j, name in enumerate(drivers):
            a = assets[name]
            if a.process == "bridge":
                _pin(log_paths[:, j], math.log(float(a.end) / float(a.s0)),
                     min(a.end_at or n, n))
        # 2. jumps, per asset (compensated: the drift keeps E[S] = s0 exp(mu t)).
        for j, name in enumerate(drivers):
            a = assets[name]
            if a.process == "jump":
                inc, _ = processes.jump_diffusion_increments(
                    rng, 0.0, 0.0, float(a.jump_intensity), float(a.jump_mean),
                    float(a.jump_std), dt, n)
                log_paths[1:, j] += np.cumsum(inc)
        with np.errstate(over="ignore"):
            for j, name in enumerate(drivers):
                path = float(assets[name].s0) * np.exp(log_paths[:, j])
                path[0] = float(assets[name].s0)
                out[name] = path
    # 3. depegs of spreads and pegs, in the file's order.
    depegs: dict[str, NDArray[np.float64]] = {}
    for name in names:
        a = assets[name]
        if a.process in ("spread", "peg"):
            depegs[name] = _depeg(rng, a.depeg, dt, n)
    replays, start = _aligned_replays(spec, step_seconds, n + 1, where)
    out.update(replays)
    for name in names:
        a = assets[name]
        if a.process == "path":
            given = [float(x) for x in a.path[: n + 1]]
            out[name] = np.array(given + [given[-1]] * (n + 1 - len(given)))
        elif a.process == "constant":
            out[name] = np.full(n + 1, float(a.s0))
        elif a.process == "peg":
            out[name] = float(a.peg) * (1.0 + depegs[name])
    times = np.arange(n + 1, dtype=np.float64) * dt
    for name in names:
        _spread(name, assets, out, depegs, times)
    values = np.column_stack([out[a] for a in names])
    if not np.isfinite(values).all():
        raise ValueError("a path overflowed float64; reduce mu, sigma, the jumps or steps")
    floor = 1.0 / PRICE_UNIT
    values = np.maximum(values, floor)
    return JointPaths(tuple(names), values, start)


def _spread(name: str, assets: dict[str, AssetPriceSpec], out: dict[str, NDArray[np.float64]],
            depegs: dict[str, NDArray[np.float64]], times: NDArray[np.float64]) -> None:
    """Fill ``out[name]`` for a spread (its base first, recursively; cycles were refused)."""
    if name in out:
        return
    a = assets[name]
    _spread(a.base, assets, out, depegs, times)
    rate = float(a.rate) * np.exp(float(a.rate_growth) * times)
    out[name] = out[a.base] * rate * (1.0 + depegs[name])


def _pin(log_path: NDArray[np.float64], target: float, at: int) -> None:
    """Pin a log path (starting at 0) to ``target`` at step ``at``, in place: a Brownian
    bridge up to ``at`` (the straight line's share of the miss taken off), the same
    offset after it."""
    if at == 0:  # a path of no steps: only the start, which stays as given
        return
    miss = log_path[at] - target
    log_path[: at + 1] -= np.arange(at + 1) / at * miss
    log_path[at + 1:] -= miss
    log_path[at] = target


def _depeg(rng: np.random.Generator, d: DepegSpec, dt: float, n: int) -> NDArray[np.float64]:
    """The depeg fraction at steps 0..n: an OU around 0 plus the reverting shock, floored
    at -1 + 1e-9 (a token is never worth zero or less of its base)."""
    from marginengine.sim import processes

    theta = float(d.theta)
    ou = processes.ornstein_uhlenbeck(rng, float(d.start), 0.0, theta, float(d.sigma), dt, n)
    shock = float(d.shock)
    if shock and d.shock_at <= n:
        k = np.arange(n + 1 - d.shock_at)
        ou[d.shock_at:] += shock * np.exp(-theta * dt * k)
    return np.maximum(ou, -1.0 + 1e-9)
