"""The Python API: ``marginengine.simulate(scenario, **overrides)``.

>>> import marginengine
>>> result = marginengine.simulate("examples/quickstart.toml", book__accounts=200)
>>> result.summary["bad_debt"], result.steps["bad_debt_usd"].iloc[-1]

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
    """

    summary: dict[str, Any]
    steps: pd.DataFrame
    runs: pd.DataFrame
    engine: Engine | None = None


def _pandas() -> Any:
    try:
        import pandas as pd
    except ImportError:
        raise ConfigError(["simulate() returns DataFrames: pip install "
                           "'marginengine[sim]' (pandas)"]) from None
    return pd


def simulate(scenario: str | Path | Mapping[str, Any], *, runs: int | None = None,
             workers: int = 1, **overrides: Any) -> SimulationResult:
    """Run a cascade scenario (a TOML file or its data) once, or ``runs`` times.

    Parameters
    ----------
    scenario
        A path to a cascade scenario file, or the scenario as a mapping (relative file
        paths in it then resolve against the working directory).
    runs
        Monte Carlo runs (default: the scenario's ``monte_carlo.runs``).
    workers
        Processes for a Monte Carlo.
    **overrides
        Scenario fields by dotted path, ``__`` standing for each dot.

    Returns
    -------
    SimulationResult

    Raises
    ------
    ConfigError
        The scenario, an override or a value is invalid (each problem names its field).
    """
    import numpy as np

    from marginengine.config import read_toml
    from marginengine.sim.cascade import run_cascade, scenario_spec
    from marginengine.sim.cascade_config import anchor_files
    from marginengine.sim.montecarlo import RUN_FIELDS, iterate_process, statistics
    from marginengine.sim.overrides import assign_values
    from marginengine.sim.scenario import scenario_kind

    pd = _pandas()
    source: str | None = None
    if isinstance(scenario, (str, Path)):
        source = str(scenario)
        data = anchor_files(read_toml(scenario), scenario)
    elif isinstance(scenario, Mapping):
        data = dict(scenario)
    else:
        raise ConfigError([f"scenario: must be a path or a mapping (got "
                           f"{type(scenario).__name__})"])
    if scenario_kind(data, source) != "cascade":
        raise ConfigError(["kind: simulate() runs cascade scenarios (kind = \"cascade\")"],
                          source=source)
    data = assign_values(data, {k.replace("__", "."): v for k, v in overrides.items()},
                         "override")
    spec, _ = scenario_spec(data, source)
    count = runs if runs is not None else spec.monte_carlo.runs
    if count < 1:
        raise ConfigError([f"runs: must be at least 1 (got {count})"])
    if count == 1:
        result = run_cascade(data, np.random.default_rng(spec.seed), amplification=False,
                             source=source)
        row = {**{k: result.summary.get(k) for k in RUN_FIELDS},
               "run": 0, "seed": str(spec.seed)}
        return SimulationResult(result.summary, pd.DataFrame(result.series),
                                pd.DataFrame([row]), result.engine)
    rows = list(iterate_process(data, spec.seed, count, workers))
    summary = {"scenario": spec.name, **statistics(rows, spec.seed), "seed": spec.seed}
    return SimulationResult(summary, pd.DataFrame(), pd.DataFrame(rows), None)
