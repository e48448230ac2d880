"""``marginengine backtest``: the same book and price paths under each margin policy.

Writes ``backtest.json`` (the comparison: means per policy, paired differences from
``static``, their bootstrap CIs and the verdict), ``backtest.parquet`` (one row per run and
policy) and ``report.md`` (the table), with the output-folder rules of
:mod:`marginengine.cli.rundir`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from marginengine.cli.rundir import prepare, target_folder
from marginengine.sim.backtest import backtest, policy_data, report_markdown
from marginengine.sim.cascade import scenario_spec

FILES = ("backtest.json", "backtest.parquet", "report.md")


def run(data: dict[str, Any], scenario: Path, policies: list[str], runs: int | None,
        out_dir: str | None, force: bool) -> tuple[dict[str, Any], Path]:
    """Validate everything, run the backtest, write its files; return the comparison and
    the output folder."""
    from marginengine.errors import ConfigError
    from marginengine.sim.schema import resolve_kind

    if resolve_kind(data, str(scenario)) != "cascade":
        raise ConfigError(["kind: backtest compares margin policies on generated paths (a "
                           "cascade: steps = N with [price] and [book]); this scenario's "
                           "prices are explicit [[steps]]"], source=str(scenario))
    spec, _ = scenario_spec(data, str(scenario))
    for p in policies:  # every variant is valid before any folder is touched
        scenario_spec(policy_data(data, p), str(scenario))
    n = runs if runs is not None else spec.monte_carlo.runs
    target = target_folder(out_dir, f"{spec.name}-backtest")
    folder = prepare(target, spec.name, force)
    staging = folder.staging
    try:
        rows, result = backtest(data, policies, n, source=str(scenario))
        (staging / "backtest.json").write_text(json.dumps(result, indent=2) + "\n")
        pq.write_table(pa.Table.from_pylist(rows), staging / "backtest.parquet")
        (staging / "report.md").write_text(report_markdown(result))
        folder.commit()
    except BaseException:
        folder.abandon()
        raise
    return result, target


__all__ = ["FILES", "run"]
