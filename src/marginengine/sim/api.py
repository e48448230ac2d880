"""The Python API: ``marginengine.simulate(scenario, **overrides)``.

>>> import marginengine
>>> result = marginengine.simulate("examples/quickstart.toml", book__accounts=200)
>>> result.summary["bad_debt"], result.steps["bad_debt_usd"].iloc[-1]
>>> result.explanation["sentences"][0], result.explanation["causes"]

An override's name is its dotted path with ``__`` for each dot (``book__accounts``,
``price__assets__WETH__end``), or pass a mapping: ``simulate(path, **{"book.accounts":
200})``. Values are Python values (numbers, strings, lists, dicts).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from marginengine.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

    from marginengine.engine import Engine


@dataclass
class SimulationResult:
    """What :func:`simulate` returns.

    Attributes
    ----------
    summary
        The run's ``summary.json`` (a Monte Carlo's estimates with ``runs > 1``).
    steps
        The per-step series as a DataFrame (the columns of ``steps.parquet``); empty for
        a Monte Carlo (its runs keep no traces).
    runs
        One row per run (``run``, ``seed`` and the per-run figures); one row for a
        single run.
    engine
        The engine after a single run (``None`` for a Monte Carlo).
    explanation
        Why a single run's bad debt arose, as report.html says it
        (:func:`marginengine.sim.explain.explain`): ``bad_debt_usd``, ``causes`` (cause
        name -> ``accounts`` and ``bad_debt_usd``; they add up to ``bad_debt_usd`` less
        ``residual_usd``), ``accounts`` (every account with bad debt, largest first, with
        its cause), ``keepers`` (per keeper or bidder), ``still_liquidatable``,
        ``sentences`` (the explanation in words) and, with several protocols,
        ``protocols`` (each one's own). ``None`` for a Monte Carlo or with
        ``explain=False``.
    """

    summary: dict[str, Any]
    steps: pd.DataFrame
    runs: pd.DataFrame
    engine: Engine | None = None
    explanation: dict[str, Any] | None = None


def _pandas() -> Any:
    try:
        import pandas as pd
    except ImportError:
        raise ConfigError(["simulate() returns DataFrames: pip install "
                           "'marginengine[sim]' (pandas)"]) from None
    return pd


def simulate(scenario: str | Path | Mapping[str, Any], *, runs: int | None = None,
             workers: int = 1, explain: bool = True, **overrides: Any) -> SimulationResult:
    """Run any scenario (a TOML file or its data) once, or ``runs`` times.

    Every scenario goes through the one pipeline (:mod:`marginengine.sim.pipeline`): a
    price model, or explicit prices and actions (a Monte Carlo of the latter needs its
    ``[noise]`` table).

    Parameters
    ----------
    scenario
        A path to a scenario file, or the scenario as a mapping (relative file paths in
        it then resolve against the working directory).
    runs
        Monte Carlo runs (default: the scenario's ``monte_carlo.runs``).
    workers
        Processes for a Monte Carlo.
    explain
        Explain a single run's bad debt (``explanation``): it records a little more as
        the run goes (the first step each account was liquidatable, the engine's
        liquidation outcomes) and changes none of its figures; ``False`` skips it.
    **overrides
        Scenario fields by dotted path, ``__`` standing for each dot.

    Returns
    -------
    SimulationResult

    Raises
    ------
    ConfigError
        The scenario, an override or a value is invalid (each problem names its field),
        or ``runs`` > 1 of a scenario in which nothing is random.
    """
    from marginengine.config import read_toml
    from marginengine.sim.montecarlo import iterate_process, statistics
    from marginengine.sim.overrides import assign_values
    from marginengine.sim.pipeline import run
    from marginengine.sim.run_fields import RUN_FIELDS
    from marginengine.sim.schema import load_spec

    # A count of the wrong type would fail deep in the Monte Carlo with a TypeError;
    # name the argument instead, as a scenario field would be.
    problems = [f"{name}: must be a whole number of at least 1 (got {value!r})"
                for name, value in (("runs", runs), ("workers", workers))
                if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                          or value < 1)]
    if not isinstance(explain, bool):
        # A truthy string ("no") would explain silently.
        problems.append(f"explain: must be True or False (got {explain!r})")
    if problems:
        raise ConfigError(problems)
    pd = _pandas()
    source: str | None = None
    if isinstance(scenario, (str, Path)):
        source = str(scenario)
        data = read_toml(scenario)
    elif isinstance(scenario, Mapping):
        data = dict(scenario)
    else:
        raise ConfigError([f"scenario: must be a path or a mapping (got "
                           f"{type(scenario).__name__})"])
    paths: dict[str, Any] = {}
    named: dict[str, str] = {}
    for name, value in overrides.items():
        path = name.replace("__", ".")
        if path in paths:
            # book__accounts and "book.accounts" are one path: one would drop the other.
            raise ConfigError([f"override {path}: given twice ({named[path]}={paths[path]!r}"
                               f" and {name}={value!r}); give one value per path"])
        paths[path], named[path] = value, name
    data = assign_values(data, paths, "override")
    spec = load_spec(data, source)
    count = runs if runs is not None else spec.monte_carlo.runs
    spec.check_runs(count, "runs =")
    if count == 1:
        result = run(spec, amplification=False, explain=explain)
        row = {**{k: result.summary.get(k) for k in RUN_FIELDS},
               "run": 0, "seed": str(spec.seed)}
        return SimulationResult(result.summary, pd.DataFrame(result.series),
                                pd.DataFrame([row]), result.engine, result.explanation)
    rows = list(iterate_process(spec.data, spec.seed, count, workers))
    summary = {"scenario": spec.name, **statistics(rows, spec.seed), "seed": spec.seed}
    return SimulationResult(summary, pd.DataFrame(), pd.DataFrame(rows), None)
