"""``simulate`` for every scenario: one run (with its event log) or Monte Carlo."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

if TYPE_CHECKING:
    from marginengine.sim.pipeline import RunResult

SUMMARY_KEYS = ("bad_debt", "bad_debt_realized", "bad_debt_in_auctions", "bad_debt_underwater",
                "liquidated_value", "liquidation_count", "liquidator_profit",
                "borrower_loss", "auctions_started", "auctions_settled_near_zero",
                "insurance_fund_drawdown", "adl_volume", "amplification",
                "time_to_liquidate_mean_steps", "min_price", "min_venue_price",
                "perp_liquidation_count", "perp_liquidated_value", "bankrupt_shortfall",
                "adl_covered", "socialized_loss", "perp_deficit", "insurance_fund_end")


def _progress(console: Console, quiet: bool) -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console, transient=True, disable=quiet)


def series_metadata(scenario: str, seed: int, step_seconds: int,
                    start_time_utc: str | None,
                    names: Sequence[str] | None = None) -> dict[str, str]:
    """The key-value metadata of ``steps.parquet`` (docs/formats.md): the scenario, its
    seed, the step length, each column's unit and kind and, for a replayed price, the UTC
    time of step 0. ``names``: the series' columns (default the lending ones); the perp
    columns' units join when they are among them."""
    from marginengine.sim.metrics import PERP_SERIES_COLUMNS, SERIES_COLUMNS

    defined = {c.name: c for c in (*SERIES_COLUMNS, *PERP_SERIES_COLUMNS)}
    given = set(names) if names is not None else None
    columns = [c for c in defined.values() if (c.name in given if given is not None
                                                else c in SERIES_COLUMNS)]
    meta = {
        "marginengine.scenario": scenario,
        "marginengine.seed": str(seed),
        "marginengine.step_seconds": str(step_seconds),
        "marginengine.units": json.dumps({c.name: c.unit for c in columns}),
        "marginengine.kinds": json.dumps({c.name: c.kind for c in columns}),
    }
    if start_time_utc is not None:
        meta["marginengine.start_time_utc"] = start_time_utc
    return meta


def write_series(path: Path, series: dict[str, list[float]],
                 metadata: dict[str, str] | None = None) -> bool:
    """Per-step series to Parquet with ``metadata`` in its key-value metadata; ``False``
    when pyarrow is missing."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return False
    table = pa.table(series)
    if metadata:
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), **metadata})
    pq.write_table(table, path)
    return True


def run(data: dict[str, Any], source: str, staging: Path, console: Console, quiet: bool,
        runs: int | None, backend: str | None, scheduler: str | None,
        workers: int | None, *,
        on_result: Callable[[RunResult], None] | None = None) -> tuple[dict[str, Any],
                                                                      list[str]]:
    """Run any scenario (the one pipeline) into ``staging``; return the summary and notes
    for the user. ``on_result`` receives a single run's result (the CLI's tables)."""
    from marginengine.report import write_monte_carlo_report, write_report
    from marginengine.sim.montecarlo import monte_carlo
    from marginengine.sim.pipeline import run as run_pipeline
    from marginengine.sim.pipeline import setup_warnings
    from marginengine.sim.schema import load_spec

    spec = load_spec(data, source)
    mc = spec.monte_carlo
    runs = runs or mc.runs
    notes: list[str] = []
    if runs > 1:
        backend = backend or mc.backend
        rows: list[dict[str, Any]] = []
        with _progress(console, quiet) as progress:
            task = progress.add_task(f"{spec.name}: {runs} runs", total=runs)
            summary = monte_carlo(spec.data, spec.seed, runs, backend, workers or mc.workers,
                                  staging, scheduler,
                                  progress=lambda n: progress.update(task, completed=n),
                                  rows_out=rows)
        summary = {"scenario": spec.name, **summary}
        if not (staging / "runs.parquet").exists():
            notes.append("install marginengine[sim] (pyarrow) for runs.parquet")
        write_monte_carlo_report(staging, f"marginengine: {spec.name}, {runs} runs",
                                 summary, rows, data)
        # Thin tails are said on stderr even with --json or --quiet (and in summary.json).
        for warning in summary.get("warnings", []):
            click.echo(f"warning: {warning}", err=True)
        return summary, notes
    with _progress(console, quiet) as progress:
        task = progress.add_task(spec.name, total=spec.steps)
        result = run_pipeline(spec, log_path=staging / "events.sqlite",
                              on_step=lambda _: progress.advance(task), explain=True)
    if on_result is not None:
        on_result(result)
    # On stderr even with --json or --quiet, as the Monte Carlo's warnings.
    for warning in setup_warnings(result.summary):
        click.echo(f"warning: {warning}", err=True)
    summary = {"scenario": spec.name, **result.summary}
    meta = series_metadata(spec.name, spec.seed, spec.step_seconds,
                           result.summary.get("start_time_utc"), list(result.series))
    if not write_series(staging / "steps.parquet", result.series, meta):
        notes.append("install marginengine[sim] (pyarrow) for steps.parquet")
    (staging / "auctions.json").write_text(json.dumps(result.auctions, indent=1))
    if write_report(staging, f"marginengine: {spec.name}", summary, result.series,
                    result.twin_series, result.auctions, explanation=result.explanation,
                    scenario=data) is None:
        notes.append("install marginengine[sim] (matplotlib) for report.html and charts")
    return summary, notes


def summary_table(summary: dict[str, Any]) -> Table:
    """The headline figures of a run, or the estimates of a Monte Carlo with their
    confidence intervals and the runs in their tails."""
    if "estimates" in summary:
        return _estimates_table(summary)
    table = Table(title="Summary", title_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key in (k for k in SUMMARY_KEYS if k in summary):
        value = summary[key]
        shown = f"{value:,.2f}" if isinstance(value, float) else str(value)
        table.add_row(key, shown)
    return table


def _estimates_table(summary: dict[str, Any]) -> Table:
    conf = summary.get("confidence", {})
    level = f"{conf.get('level', 0.95):.0%}"
    table = Table(title=f"Monte Carlo: {summary['runs']} runs (intervals: {level} "
                        f"{conf.get('method', 'bootstrap')})", title_justify="left")
    for col in ("estimate", "value", f"{level} interval", "runs in tail"):
        table.add_column(col, justify="left" if col == "estimate" else "right")
    for name, e in summary["estimates"].items():
        tail = e["tail_observations"]
        shown = "-" if tail is None else (f"[red]{tail}[/red]" if tail < conf.get(
            "min_tail", 10) else str(tail))
        table.add_row(name, f"{e['value']:,.2f}", f"{e['ci_low']:,.2f} - {e['ci_high']:,.2f}",
                      shown)
    return table
