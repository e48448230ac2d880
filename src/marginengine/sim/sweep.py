"""Parameter sweeps on common random numbers: every point of a grid, each a run or a Monte
Carlo, on the same seeds, for any scenario (a price model, or explicit prices: one
pipeline, :mod:`marginengine.sim.pipeline`).

A grid is one or more axes ``PATH=V1,V2,...`` (a dotted scenario path and its values, each
read as a TOML value; ``PATH1+PATH2=V1,V2`` sets several paths to each value together,
e.g. the liquidation bonus of two markets); the points are their Cartesian product, in
order (the last axis varies fastest). Every point is checked before anything runs.

Run ``i`` of every point draws from the same generator (``SeedSequence(seed).spawn``'s
child ``i``, as a Monte Carlo's run ``i``; a sweep without ``runs``, or with ``runs`` 1,
runs each point once on the scenario's ``seed``, as ``simulate`` does), so differences
between points come
from the parameters, not from the paths.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from marginengine.errors import ConfigError
from marginengine.sim.overrides import assign_values, parse_value, refuse_fixed

#: Per-run fields of a sweep's rows (besides ``point``, ``run``, ``seed`` and the axes):
#: every field of a Monte Carlo's rows (``montecarlo.RUN_FIELDS``, which its estimates
#: read: a field missing here was estimated as 0 at every point), and the split of the
#: bad debt, the setup's refusals and the venue's low.
SWEEP_FIELDS = ("bad_debt", "bad_debt_realized", "bad_debt_underwater", "liquidated_value",
                "liquidation_count", "liquidator_profit", "borrower_loss", "setup_rejected",
                "opened_above_borrowing_power", "opened_below_health_1",
                "min_price", "min_venue_price", "final_price", "auctions_started",
                "auctions_settled_near_zero", "insurance_fund_drawdown", "adl_volume",
                "borrowing_power", "borrowed_value", "borrow_usage", "demand_served")


@dataclass(frozen=True)
class GridAxis:
    """One axis of a grid: a dotted scenario path (or several joined by ``+``, set
    together) and its values (as written, and read)."""

    path: str
    texts: tuple[str, ...]
    values: tuple[Any, ...]

    @property
    def paths(self) -> tuple[str, ...]:
        """The dotted paths the axis sets."""
        return tuple(self.path.split("+"))


def _split(text: str) -> list[str]:
    """Split on commas outside brackets, braces and quotes (``[1, 2]`` is one value)."""
    parts: list[str] = []
    cur: list[str] = []
    depth, quote = 0, ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
            continue
        cur.append(ch)
    parts.append("".join(cur).strip())
    return parts


def parse_grid(items: Sequence[str]) -> list[GridAxis]:
    """``["PATH=V1,V2", ...]`` as axes.

    Raises
    ------
    ConfigError
        Naming the ``--grid`` item and the reason (no ``=``, an empty value, a path given
        twice).
    """
    axes: list[GridAxis] = []
    problems = []
    for item in items:
        path, sep, raw = item.partition("=")
        path = "+".join(p.strip() for p in path.split("+"))
        if not sep or not path or any(not part for p in path.split("+")
                                      for part in p.split(".")):
            problems.append(f"--grid {item!r}: must be PATH=V1,V2,... with a dotted PATH")
            continue
        texts = _split(raw)
        if any(not t for t in texts):
            problems.append(f"--grid {path}: an empty value (values are separated by commas)")
            continue
        if any(a.path == path for a in axes):
            problems.append(f"--grid {path}: given twice; list all its values in one --grid")
            continue
        taken = [p for a in axes for p in a.paths if p in path.split("+")]
        if taken:
            problems.append(f"--grid {path}: {taken[0]} is already on another axis; one "
                            "path takes one axis")
            continue
        try:
            values = [parse_value(t) for t in texts]
        except ConfigError as exc:
            problems.append(f"--grid {path}: {'; '.join(exc.problems)}")
            continue
        twice = [texts[j] for j in range(len(values)) for k in range(j)
                 if _same(values[j], values[k])]
        if twice:
            # Two equal points would run twice and read as a difference of nothing.
            problems.append(f"--grid {path}: the value {twice[0]} is given twice")
            continue
        axes.append(GridAxis(path, tuple(texts), tuple(values)))
    if not items:
        problems.append("--grid: at least one PATH=V1,V2,... is needed")
    if problems:
        raise ConfigError(problems)
    return axes


def _same(a: Any, b: Any) -> bool:
    """Equal grid values (``5`` and ``5.0`` are; ``1`` and ``true`` are not)."""
    return isinstance(a, bool) == isinstance(b, bool) and bool(a == b)


def check_fixed(axes: Sequence[GridAxis], fixed: Sequence[str]) -> None:
    """Refuse a path both swept and fixed (``--set``): the grid's values would replace the
    fixed one silently.

    Raises
    ------
    ConfigError
        Naming each path.
    """
    refuse_fixed("--grid", (p for a in axes for p in a.paths), fixed, "the grid's values")


def grid_points(axes: Sequence[GridAxis]) -> list[dict[str, Any]]:
    """Every point of the grid (the last axis varying fastest): path -> value (each path
    of a ``+`` axis with the axis's value)."""
    return [{p: v for a, v in zip(axes, combo, strict=True) for p in a.paths}
            for combo in itertools.product(*(a.values for a in axes))]


@dataclass
class SweepResult:
    """A sweep's rows (one per point and run) and per-point summaries.

    Attributes
    ----------
    axes
        The grid.
    rows
        ``point``, ``run``, ``seed``, each axis's value under its path, then
        :data:`SWEEP_FIELDS` (and the perp waterfall's and the options book's figures:
        :func:`row_fields`).
    points
        Per point: ``point``, ``params`` (path -> value), the mean of every field and,
        with runs, the Monte Carlo estimates (``var95_bad_debt``, ``es99_bad_debt``, ...)
        with their bootstrap intervals.
    """

    axes: list[GridAxis]
    rows: list[dict[str, Any]]
    points: list[dict[str, Any]]
    seed: int
    runs: int | None

    @property
    def warnings(self) -> list[str]:
        """The points' thin-tail warnings, each once (every point runs the same number of
        runs, so their tails are alike), in the order first met."""
        return list(dict.fromkeys(w for p in self.points for w in p.get("warnings", [])))


def _task(task: tuple[dict[str, Any], int, int | None]) -> dict[str, Any]:
    """One run of one point: ``(scenario data, seed, run index or None)``, any scenario
    (the one pipeline, :func:`marginengine.sim.pipeline.run_draw`)."""
    from marginengine.sim.montecarlo import EXTRA_RUN_FIELDS
    from marginengine.sim.pipeline import draw_label, run_draw

    data, seed, index = task
    result = run_draw(data, seed, index)
    row = {k: result.summary.get(k) for k in SWEEP_FIELDS}
    # A perp venue's waterfall and an options book's figures (sim/options_metrics.py), as
    # a Monte Carlo's rows keep them: those losses are there, not in the lending bad debt.
    row.update({k: result.summary[k] for k in EXTRA_RUN_FIELDS if k in result.summary})
    row["seed"] = draw_label(seed, index)
    return row


def _iterate(tasks: list[tuple[dict[str, Any], int, int | None]], workers: int,
             labels: list[str]) -> Iterator[dict[str, Any]]:
    if workers <= 1 or len(tasks) <= 1:
        for task in tasks:
            yield _task(task)
        return
    # The Monte Carlo's pool (one implementation): forked once from a frozen heap, one run
    # per task to the free worker, rows back in task order, a dead worker an error.
    from marginengine.sim.montecarlo import WorkerPool

    with WorkerPool(workers) as pool:
        yield from pool.map(_task, tasks, labels=labels)


@dataclass(frozen=True)
class SweepPlan:
    """A checked grid: every point's parameters, scenario data and seed."""

    axes: list[GridAxis]
    points: list[dict[str, Any]]
    datas: list[dict[str, Any]]
    seeds: list[int]
    #: Per point: whether its runs draw anything (explicit prices need ``[noise]``).
    random: list[bool] | None = None


def plan_sweep(data: dict[str, Any], axes: Sequence[GridAxis],
               source: str | None = None) -> SweepPlan:
    """Every point of the grid as a validated scenario.

    Raises
    ------
    ConfigError
        A point that is not a valid scenario, named by its parameters
        (``grid point 1 (book.accounts=0): book.accounts: ...``).
    """
    from marginengine.sim.schema import load_spec

    points = grid_points(axes)
    datas, seeds, random = [], [], []
    for k, point in enumerate(points):
        at = ", ".join(f"{p}={v!r}" for p, v in point.items())
        try:
            spec = load_spec(assign_values(data, point, "--grid"), source)
        except ConfigError as exc:
            raise ConfigError([f"grid point {k} ({at}): {p}" for p in exc.problems],
                              source=exc.source) from None
        # The data as it runs: relative files already read from the scenario's folder.
        datas.append(spec.data)
        seeds.append(spec.seed)
        random.append(spec.random)
    return SweepPlan(list(axes), points, datas, seeds, random)


def row_fields(rows: Sequence[dict[str, Any]]) -> tuple[str, ...]:
    """The per-run figures of a sweep's rows: :data:`SWEEP_FIELDS`, then the perp
    waterfall's (``montecarlo.PERP_RUN_FIELDS``) when the scenario has a perp venue and
    the options book's (``montecarlo.OPTION_RUN_FIELDS``) when it has ``[options]``."""
    from marginengine.sim.montecarlo import EXTRA_RUN_FIELDS

    return (*SWEEP_FIELDS, *(f for f in EXTRA_RUN_FIELDS if rows and f in rows[0]))


def check_runs(plan: SweepPlan, runs: int | None, source: str | None = None) -> None:
    """Refuse ``runs`` > 1 when a point draws nothing (explicit prices without ``[noise]``),
    point by point: the grid itself may give every point its noise (``noise.sigma``).

    Raises
    ------
    ConfigError
        Naming the first such point.
    """
    if runs is not None and runs > 1 and plan.random is not None and not all(plan.random):
        k = plan.random.index(False)
        raise ConfigError([f"grid point {k}: noise: a Monte Carlo (--runs {runs}) needs "
                           "something random, and this scenario's prices and actions are "
                           "all explicit: add a [noise] table (e.g. sigma = 0.02), or sweep "
                           "without --runs"], source=source)


def run_sweep(data: dict[str, Any] | SweepPlan, axes: Sequence[GridAxis] = (),
              runs: int | None = None, workers: int = 1, source: str | None = None,
              progress: Callable[[int], None] | None = None) -> SweepResult:
    """Run every point of the grid (``runs`` paths each, or once) on common random numbers.

    ``data`` is the scenario (with ``axes``) or a :func:`plan_sweep` plan.

    Raises
    ------
    ConfigError
        A point that is not a valid scenario (see :func:`plan_sweep`), before anything
        runs.
    """
    from marginengine.sim.montecarlo import statistics

    plan = data if isinstance(data, SweepPlan) else plan_sweep(data, axes, source)
    points, datas, seeds = plan.points, plan.datas, plan.seeds
    if runs == 1:
        # As simulate --runs 1: one run on the scenario's seed, not a Monte Carlo of one
        # run (on child seed 0, with "estimates" of one run).
        runs = None
    check_runs(plan, runs, source)
    count = runs or 1
    tasks = [(d, seeds[k], None if runs is None else i)
             for k, d in enumerate(datas) for i in range(count)]
    labels = [f"grid point {k} run {i}" for k in range(len(datas)) for i in range(count)]
    rows: list[dict[str, Any]] = []
    for n, row in enumerate(_iterate(tasks, workers, labels)):
        k, i = divmod(n, count)
        # The run's own seed label last: a grid on the scenario's ``seed`` must not
        # replace it (the point's value is in ``points``).
        rows.append({"point": k, "run": i, **points[k], **row})
        if progress is not None:
            progress(n + 1)
    summaries = []
    for k, point in enumerate(points):
        mine = [r for r in rows if r["point"] == k]
        entry: dict[str, Any] = {"point": k, "params": point}
        for f in row_fields(mine):
            values = [float(r[f]) for r in mine if r[f] is not None]
            entry[f"mean_{f}"] = float(np.mean(values)) if values else None
        if runs is not None:
            stats = statistics(mine, seeds[k])
            entry["estimates"] = stats["estimates"]
            entry["warnings"] = stats["warnings"]
        summaries.append(entry)
    return SweepResult(plan.axes, rows, summaries, seeds[0], runs)
