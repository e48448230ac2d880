"""``marginengine.optimize(...)``: the search, its recommendations, tables and files.

:func:`optimize` returns the frontier as a pandas DataFrame; :func:`run` returns everything
(:class:`Report`), which :func:`write_outputs` writes as ``frontier.parquet``,
``evaluations.parquet`` and ``optimize.json`` (the CLI adds ``report.html``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from marginengine.optimize.cache import EvaluationCache
from marginengine.optimize.evaluate import Evaluator, SimulatorEvaluator
from marginengine.optimize.problem import Problem, build_problem
from marginengine.optimize.search import (
    Evaluation,
    ProgressFn,
    Result,
    Search,
    Settings,
    is_feasible,
)
from marginengine.optimize.stewardpath import book_at_start, steward_key, steward_path

TIERS = ("conservative", "moderate", "aggressive")


@dataclass
class Report:
    """A finished (or stopped) optimization and what is derived from it."""

    result: Result
    recommendations: list[dict[str, Any]]

    def frontier(self) -> Any:
        """The frontier as a DataFrame (one row per point, by increasing efficiency)."""
        return frame(self.result, self.result.frontier, self.recommendations)

    def evaluations(self) -> Any:
        """Every candidate evaluated, as a DataFrame."""
        return frame(self.result, self.result.evaluations, self.recommendations)


def _plain(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else value


def frame(result: Result, points: Sequence[Evaluation],
          recommendations: Sequence[dict[str, Any]]) -> Any:
    """Points as a DataFrame: the variables, each metric with its interval, the runs, the
    stage, feasibility and tier."""
    import pandas as pd

    tier_of: dict[str, str] = {}
    for r in recommendations:
        if r.get("key"):
            tier_of[r["key"]] = ", ".join(filter(None, [tier_of.get(r["key"]), r["tier"]]))
    on_front = {e.key for e in result.frontier}
    rows = []
    for e in points:
        row: dict[str, Any] = {p.path: _plain(v) for p, v in
                               zip(result.problem.params, e.values, strict=True)}
        for m in result.problem.metrics:
            row[m.name] = e.estimates.get(m.name) if e.valid else None
            est = e.intervals.get(m.name, {})
            row[f"{m.name}_ci_low"] = est.get("ci_low")
            row[f"{m.name}_ci_high"] = est.get("ci_high")
        row.update({"runs": e.runs, "stage": e.stage, "valid": e.valid,
                    "refused": e.reason, "feasible": is_feasible(result.problem, e),
                    "on_frontier": e.key in on_front, "tier": tier_of.get(e.key),
                    "key": e.key})
        rows.append(row)
    columns = [p.path for p in result.problem.params]
    for m in result.problem.metrics:
        columns += [m.name, f"{m.name}_ci_low", f"{m.name}_ci_high"]
    columns += ["runs", "stage", "valid", "refused", "feasible", "on_frontier", "tier", "key"]
    return pd.DataFrame(rows, columns=columns)


def recommend(result: Result, book_paths: bool = True) -> list[dict[str, Any]]:
    """The three tiers with their values, metrics and intervals, and each one's path from
    today's parameters in steward-feasible steps with the accounts each step makes
    liquidatable."""
    problem = result.problem
    by_key = {e.key: e for e in result.evaluations}
    context: dict[Any, int] = {}
    book = None
    # The steward's paths read a model's book at its start (a scripted book has none).
    if book_paths and problem.kind == "cascade" and any(steward_key(p.path)
                                                         for p in problem.params):
        book = book_at_start(problem.data, result.settings.seed)
        from marginengine.sim.cascade import scenario_spec

        _, protocol = scenario_spec(problem.data)
        for p in problem.params:
            key = steward_key(p.path)
            if key is None or key[0] not in protocol.markets:
                continue
            market = protocol.markets[key[0]]
            context[(key[0], "ltv")] = market.ltv_bps
            context[(key[0], "liquidation_threshold")] = market.liquidation_threshold_bps
            context[(key[0], "liquidation_bonus")] = market.liquidation_bonus_bps - 10_000
    out = []
    for tier in TIERS:
        pick = result.tiers.get(tier, {})
        key = pick.get("key")
        entry: dict[str, Any] = {"tier": tier, "key": key, "why": pick.get("why")}
        if key is not None:
            e = by_key[key]
            entry["values"] = {p.path: _plain(v) for p, v in
                               zip(problem.params, e.values, strict=True)}
            entry["runs"] = e.runs
            entry["metrics"] = {m: {k: e.intervals.get(m, {}).get(k) for k in
                                    ("value", "ci_low", "ci_high", "tail_observations")}
                                for m in (q.name for q in problem.metrics)}
            entry["warnings"] = e.warnings
            if all(v is not None for v in problem.current.values()):
                entry["path"] = steward_path(
                    {k: _plain(v) for k, v in problem.current.items()}, entry["values"],
                    context, book)
        out.append(entry)
    return out


def summary(report: Report) -> dict[str, Any]:
    """``optimize.json``: the problem, the settings, counts, the baseline, the frontier's
    keys, the recommendations and the sensitivity."""
    r = report.result
    p = r.problem
    current = None
    if r.current is not None:
        current = {"values": {k: _plain(v) for k, v in p.current.items()},
                   "runs": r.current.runs, "refused": r.current.reason,
                   "metrics": {m.name: r.current.intervals.get(m.name) for m in p.metrics}}
    return {
        "scenario": p.name, "state": r.state, "scenario_digest": p.digest(),
        "params": [{"path": q.path, "low": float(q.low), "high": float(q.high),
                    "step": float(q.step) if q.step is not None else None,
                    "grid_points": q.points or None, "integer": q.integer,
                    "current": _plain(p.current[q.path])} for q in p.params],
        "objectives": [{"metric": m.name, "sense": m.sense, "unit": m.unit}
                       for m in p.objectives],
        "constraints": [c.text for c in p.constraints],
        "frontier_axes": {"efficiency": p.efficiency.name, "tail": p.tail.name},
        "algorithm": "NSGA-II (optuna)" if len(p.objectives) > 1 else "CMA-ES (optuna)",
        "settings": {"runs": r.settings.runs, "budget": r.settings.budget,
                     "seed": r.settings.seed, "population": r.settings.population,
                     "reeval_runs": r.settings.reeval_runs or r.settings.runs,
                     "resamples": r.settings.resamples,
                     "seeds": f"SeedSequence({r.settings.seed}).spawn(i + 1)[i] for run i, the "
                              "same for every candidate"},
        "counts": r.counts,
        "current": current,
        "frontier": [e.key for e in r.frontier],
        "recommendations": report.recommendations,
        "sensitivity": r.sensitivity,
        "metrics": {m.name: {"sense": m.sense, "unit": m.unit, "meaning": m.meaning}
                    for m in p.metrics},
    }


def write_outputs(folder: Path, report: Report) -> list[Path]:
    """Write ``frontier.parquet``, ``evaluations.parquet`` and ``optimize.json``."""
    paths = [folder / "frontier.parquet", folder / "evaluations.parquet",
             folder / "optimize.json"]
    report.frontier().to_parquet(paths[0], index=False)
    report.evaluations().to_parquet(paths[1], index=False)
    paths[2].write_text(json.dumps(summary(report), indent=1, default=str) + "\n")
    return paths


def run(scenario: str | Path | dict[str, Any], params: Sequence[str],
        objectives: Sequence[str] = (), constraints: Sequence[str] = (), *,
        runs: int = 64, budget: int = 40, seed: int | None = None,
        backend: str = "process", workers: int = 2, scheduler: str | None = None,
        overrides: Sequence[str] = (), population: int | None = None,
        reeval_runs: int | None = None, resamples: int = 1_000,
        cache: EvaluationCache | None = None, evaluator: Evaluator | None = None,
        progress: ProgressFn | None = None, steward_paths: bool = True) -> Report:
    """Run an optimization and derive its recommendations (see :func:`optimize`)."""
    problem = load_problem(scenario, params, objectives, constraints, overrides, runs)
    return run_problem(problem, runs=runs, budget=budget, seed=seed, backend=backend,
                       workers=workers, scheduler=scheduler, population=population,
                       reeval_runs=reeval_runs, resamples=resamples, cache=cache,
                       evaluator=evaluator, progress=progress, steward_paths=steward_paths)


def run_problem(problem: Problem, *, runs: int = 64, budget: int = 40,
                seed: int | None = None, backend: str = "process", workers: int = 2,
                scheduler: str | None = None, population: int | None = None,
                reeval_runs: int | None = None, resamples: int = 1_000,
                cache: EvaluationCache | None = None, evaluator: Evaluator | None = None,
                progress: ProgressFn | None = None, steward_paths: bool = True) -> Report:
    """Run an optimization of a loaded problem (:func:`load_problem`) and derive its
    recommendations; the arguments as :func:`run`'s."""
    settings = Settings(runs=runs, budget=budget,
                        seed=problem.seed if seed is None else seed, population=population,
                        reeval_runs=reeval_runs, resamples=resamples)
    settings.check()
    own = evaluator is None
    ev = evaluator or SimulatorEvaluator(backend, workers, scheduler)
    try:
        result = Search(problem, ev, settings, cache, progress).run()
    finally:
        if own:
            ev.close()
    return Report(result, recommend(result, steward_paths))


def load_problem(scenario: str | Path | dict[str, Any], params: Sequence[str],
                 objectives: Sequence[str], constraints: Sequence[str],
                 overrides: Sequence[str] = (), runs: int = 2) -> Problem:
    """Read the scenario (a path or plain data), apply ``--set`` overrides, anchor its
    files and check the flags (and ``runs``, :func:`~marginengine.optimize.problem.
    build_problem`) against it."""
    from marginengine.config import read_toml
    from marginengine.sim import apply_overrides
    from marginengine.sim.cascade_config import anchor_files
    from marginengine.sim.overrides import refuse_fixed

    source = None if isinstance(scenario, dict) else str(scenario)
    refuse_fixed("--param", (q.partition("=")[0].strip() for q in params), overrides,
                 "the search's values")
    data = scenario if isinstance(scenario, dict) else read_toml(scenario)
    data = anchor_files(apply_overrides(data, list(overrides)), source)
    return build_problem(data, params, objectives, constraints, source, runs)


def optimize(scenario: str | Path | dict[str, Any], params: Sequence[str],
             objectives: Sequence[str] = (), constraints: Sequence[str] = (), *,
             runs: int = 64, budget: int = 40, seed: int | None = None,
             backend: str = "process", workers: int = 2, scheduler: str | None = None,
             overrides: Sequence[str] = (), cache: str | Path | None = None, progress: bool = False,
             evaluator: Evaluator | None = None,
             on_progress: Callable[[int, int, Evaluation | None], None] | None = None) -> Any:
    """Search the parameters of a scenario under a risk budget.

    Parameters
    ----------
    scenario
        A cascade scenario, or a scripted one with ``[noise]`` (an options book among
        them): a TOML path or its plain data.
    params
        Decision variables, ``"PATH=LOW:HIGH"`` or ``"PATH=LOW:HIGH:STEP"``.
    objectives
        Metric names (one: CMA-ES; several: NSGA-II); default ``borrowing_power`` (for an
        options book ``options_leverage``) and ``es99_bad_debt``.
    constraints
        ``"METRIC<=VALUE"`` or ``"METRIC>=VALUE"``.
    runs, budget, seed
        Runs per candidate (2 to 100,000), candidate evaluations (4 to 1,000), master seed
        (default: the scenario's ``seed``).
    backend, workers, scheduler
        ``process`` or ``dask``, their workers, a Dask scheduler address.
    overrides
        Fixed ``PATH=VALUE`` overrides of the scenario (as ``simulate --set``).
    cache
        A cache file: read if it exists (a previous, possibly stopped, run: its evaluations
        are not run again) and appended to; stop with Ctrl-C and call again to resume.
    progress
        Show a progress bar (rich) with the best feasible point so far.
    evaluator
        Another evaluator (default: the simulator).
    on_progress
        Called as ``(evaluations, budget, best)`` after every batch.

    Returns
    -------
    pandas.DataFrame
        The frontier: one row per point, the variables, every metric with ``_ci_low`` and
        ``_ci_high``, ``runs``, ``tier`` (conservative, moderate, aggressive or empty).
    """
    # Loaded once: the bar shows the problem's own objectives (an options book's default
    # is options_leverage, not borrowing_power) and the search runs that same problem.
    problem = load_problem(scenario, params, objectives, constraints, overrides, runs)
    store = EvaluationCache(Path(cache) if cache is not None else None)
    if cache is not None and Path(cache).exists():
        store.load(Path(cache))
    bar: Any = None
    task: Any = None
    callback = on_progress
    if progress:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        bar = Progress(TextColumn("[bold]optimize"), BarColumn(), MofNCompleteColumn(),
                       TextColumn("{task.fields[best]}"), transient=True)
        task = bar.add_task("optimize", total=budget, best="")
        problem_goal = [m.name for m in problem.objectives]

        def callback(done: int, total: int, best: Evaluation | None) -> None:
            text = "" if best is None else "best feasible: " + describe(best, problem_goal)
            bar.update(task, completed=done, best=text)
            if on_progress is not None:
                on_progress(done, total, best)

        bar.start()
    try:
        report = run_problem(problem, runs=runs, budget=budget, seed=seed,
                             backend=backend, workers=workers, scheduler=scheduler,
                             cache=store, evaluator=evaluator, progress=callback)
    finally:
        store.close()
        if bar is not None:
            bar.stop()
    return report.frontier()


def describe(e: Evaluation, metrics: Sequence[str]) -> str:
    """A candidate in a few words: its metrics of interest."""
    shown = [f"{m}={e.estimates[m]:,.4g}" for m in metrics if m in e.estimates]
    return ", ".join(shown)
