"""``marginengine sweep``: the outputs of a sweep (sweep.parquet, sweep.json, the
comparison table and chart)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.table import Table

from marginengine.sim.sweep import GridAxis, SweepResult, row_fields


def write_outputs(result: SweepResult, scenario: str, folder: Path) -> list[str]:
    """Write sweep.parquet (a row per point and run), sweep.json, sweep.png and
    report.html (the table and the chart, interactive with plotly) into ``folder``;
    return notes for what an optional dependency left out."""
    notes = []
    (folder / "sweep.json").write_text(json.dumps(summary(result, scenario), indent=2,
                                                  default=str) + "\n")
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        notes.append("install marginengine[sim] (pyarrow) for sweep.parquet")
    else:
        own = ("point", "run", "seed")
        fields = row_fields(result.rows)
        # A grid path that is also a column of the runs (the scenario's ``seed``) is
        # written as "PATH (grid)" beside the run's seed.
        names = {path: f"{path} (grid)" if path in (*own, *fields) else path
                 for axis in result.axes for path in axis.paths}
        columns: dict[str, list[Any]] = {c: [] for c in own}
        for name in names.values():
            columns[name] = []
        for f in fields:
            columns[f] = []
        for row in result.rows:
            for c in (*own, *fields):
                columns[c].append(row.get(c))
            point = result.points[row["point"]]["params"]
            for axis in result.axes:
                # Grid values as written (a column may mix numbers and text).
                for path in axis.paths:
                    columns[names[path]].append(axis.texts[axis.values.index(
                        point[path])])
        pq.write_table(pa.table(columns), folder / "sweep.parquet")
    try:
        chart(result, folder / "sweep.png")
    except ImportError:
        notes.append("install marginengine[sim] (matplotlib) for sweep.png")
    from marginengine.report import write_sweep_report

    write_sweep_report(folder, f"marginengine sweep: {scenario}",
                       [_label(p, result.axes) for p in result.points], result.points,
                       result.runs, folder / "sweep.png", warnings=result.warnings)
    return notes


def summary(result: SweepResult, scenario: str) -> dict[str, Any]:
    """sweep.json: the grid, the seeds and every point's means (and estimates)."""
    return {
        "scenario": scenario,
        "seed": result.seed,
        "runs": result.runs,
        "common_random_numbers": "run i of every point uses the same seed "
                                 "(SeedSequence(seed).spawn child i; or seed itself "
                                 "without --runs)",
        "grid": {a.path: list(a.values) for a in result.axes},  # "+": paths set together
        "points": result.points,
    }


def _label(point: dict[str, Any], axes: list[GridAxis]) -> str:
    return ", ".join(f"{name}={point['params'][a.paths[0]]}"
                     for name, a in zip(_short_names(axes), axes, strict=True))


def _short_names(axes: list[GridAxis]) -> list[str]:
    """Each axis's first path by its shortest dotted tail that no other axis's first path
    shares (``WETH.liquidation_bonus`` and ``USDC.liquidation_bonus``, not twice
    ``liquidation_bonus``), so the points of the chart and report stay told apart."""
    parts = [a.paths[0].split(".") for a in axes]
    names = []
    for i, mine in enumerate(parts):
        n = 1
        while n < len(mine) and any(other[-n:] == mine[-n:]
                                    for j, other in enumerate(parts) if j != i):
            n += 1
        names.append(".".join(mine[-n:]))
    return names


def comparison_table(result: SweepResult) -> Table:
    """A row per point: its parameters, bad debt (mean, VaR95 with runs), liquidations,
    liquidated value, borrower loss, and the change of bad debt against the first point."""
    runs = result.runs
    title = (f"Sweep: {len(result.points)} points x {runs} runs (common random numbers)"
             if runs else f"Sweep: {len(result.points)} points (seed {result.seed})")
    table = Table(title=title, title_justify="left")
    for axis in result.axes:
        # A joined axis is headed by its first path and the count of the others.
        more = len(axis.paths) - 1
        table.add_column(axis.paths[0] + (f" (+{more})" if more else ""))
    for col in ("bad debt" + (" (mean)" if runs else ""), *(["VaR95 bad debt"] if runs
                                                            else []),
                "vs first", "liquidations", "liquidated", "borrower loss"):
        table.add_column(col, justify="right")
    perps = "mean_bankrupt_shortfall" in result.points[0]
    if perps:
        # A perp venue's losses beyond its positions' margin (fund, ADL, socialized).
        table.add_column("perp shortfall", justify="right")
    first = result.points[0]["mean_bad_debt"] or 0.0
    for point in result.points:
        bad = point["mean_bad_debt"] or 0.0
        cells = [str(point["params"][a.paths[0]]) for a in result.axes]
        cells.append(f"{bad:,.0f}")
        if runs:
            e = point["estimates"]["var95_bad_debt"]
            cells.append(f"{e['value']:,.0f} ({e['ci_low']:,.0f}-{e['ci_high']:,.0f})")
        cells.append(f"{bad - first:+,.0f}")
        cells.append(f"{point['mean_liquidation_count'] or 0:,.1f}" if runs else
                     f"{point['mean_liquidation_count'] or 0:,.0f}")
        cells.append(f"{point['mean_liquidated_value'] or 0:,.0f}")
        cells.append(f"{point['mean_borrower_loss'] or 0:,.0f}")
        if perps:
            cells.append(f"{point['mean_bankrupt_shortfall'] or 0:,.0f}")
        table.add_row(*cells)
    return table


def chart(result: SweepResult, path: Path) -> None:
    """Mean bad debt and borrower loss per point, as bars (matplotlib)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [_label(p, result.axes) for p in result.points]
    bad = [p["mean_bad_debt"] or 0.0 for p in result.points]
    loss = [p["mean_borrower_loss"] or 0.0 for p in result.points]
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(labels)), 4))
    xs = range(len(labels))
    ax.bar([x - 0.2 for x in xs], bad, width=0.4, label="bad debt", color="tab:red")
    ax.bar([x + 0.2 for x in xs], loss, width=0.4, label="borrower loss", color="tab:blue")
    ax.set_xticks(list(xs), labels, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("USD" + (" (mean over runs)" if result.runs else ""))
    ax.set_ylim(bottom=0)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
