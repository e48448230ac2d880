"""Monte Carlo: N runs of a cascade scenario from one master seed, on a local process pool
or a Dask cluster, with per-run summaries streamed to Parquet.

Seeds: ``numpy.random.SeedSequence(seed).spawn(runs)``; run ``i`` uses the ``i``-th child,
recorded as ``"{seed}/{i}"``. A run depends only on the scenario and its child seed, so the
same master seed gives the same results, bit for bit, on any backend and any number of
workers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from marginengine.errors import ConfigError

#: Per-run fields streamed to runs.parquet (and used for the statistics).
RUN_FIELDS = ("run", "seed", "bad_debt", "liquidated_value", "liquidation_count",
              "liquidator_profit", "auctions_started", "auctions_settled_near_zero",
              "insurance_fund_drawdown", "adl_volume", "min_price", "final_price")


def run_one(task: tuple[dict[str, Any], int, int]) -> dict[str, Any]:
    """Run one path: ``(scenario data, master seed, run index)`` -> its summary row."""
    from marginengine.sim.cascade import run_cascade

    data, seed, index = task
    child = np.random.SeedSequence(seed).spawn(index + 1)[index]
    result = run_cascade(data, np.random.default_rng(child), traces=False,
                         amplification=False)
    row = {k: result.summary.get(k) for k in RUN_FIELDS if k in result.summary}
    row["run"] = index
    row["seed"] = f"{seed}/{index}"
    return row


def _tasks(data: dict[str, Any], seed: int, runs: int) -> list[tuple[dict[str, Any], int, int]]:
    return [(data, seed, i) for i in range(runs)]


def iterate_process(data: dict[str, Any], seed: int, runs: int,
                    workers: int) -> Iterator[dict[str, Any]]:
    """Rows in run order from one long-lived local process pool."""
    if workers <= 1:
        for task in _tasks(data, seed, runs):
            yield run_one(task)
        return
    chunk = max(1, runs // (workers * 8))
    with ProcessPoolExecutor(max_workers=workers) as pool:
        yield from pool.map(run_one, _tasks(data, seed, runs), chunksize=chunk)


def iterate_dask(data: dict[str, Any], seed: int, runs: int, workers: int,
                 scheduler: str | None) -> Iterator[dict[str, Any]]:
    """Rows in run order from a Dask cluster (a LocalCluster when no address is given)."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise ConfigError(["--backend dask needs the dask extra: "
                           "pip install 'marginengine[dask]'"]) from None
    cluster: Any = None
    if scheduler:
        client: Any = Client(scheduler)  # type: ignore[no-untyped-call]
    else:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1,  # type: ignore[no-untyped-call]
                               processes=True, dashboard_address=None)
        client = Client(cluster)  # type: ignore[no-untyped-call]
    try:
        batch = max(1, workers * 8)
        tasks = _tasks(data, seed, runs)
        for start in range(0, runs, batch):
            futures = client.map(run_one, tasks[start:start + batch], pure=False)
            yield from client.gather(futures)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def statistics(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """VaR95 and ES99 of bad debt, LaR95 of liquidations, and means, over the runs.

    VaR95 is the 95th percentile of bad debt (linear interpolation); ES99 the mean of the
    runs at or above the 99th percentile; LaR95 the 95th percentile of liquidated value.
    """
    bad = np.array([r["bad_debt"] for r in rows], dtype=float)
    liq = np.array([r["liquidated_value"] for r in rows], dtype=float)
    q99 = float(np.quantile(bad, 0.99))
    tail = bad[bad >= q99]
    return {
        "runs": len(rows),
        "var95_bad_debt": float(np.quantile(bad, 0.95)),
        "es99_bad_debt": float(tail.mean()) if tail.size else q99,
        "lar95": float(np.quantile(liq, 0.95)),
        "mean_bad_debt": float(bad.mean()),
        "mean_liquidated_value": float(liq.mean()),
        "p_bad_debt": float((bad > 0).mean()),
    }


def monte_carlo(data: dict[str, Any], seed: int, runs: int, backend: str, workers: int,
                out_dir: Path | None, scheduler: str | None = None,
                progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Run ``runs`` paths and return the statistics; stream rows to ``runs.parquet``."""
    if backend == "dask":
        rows_iter = iterate_dask(data, seed, runs, workers, scheduler)
    else:
        rows_iter = iterate_process(data, seed, runs, workers)
    writer = _ParquetStream(out_dir / "runs.parquet") if out_dir is not None else None
    rows = []
    try:
        for row in rows_iter:
            rows.append(row)
            if writer is not None:
                writer.add(row)
            if progress is not None:
                progress(len(rows))
    finally:
        if writer is not None:
            writer.close()
    stats = statistics(rows)
    stats["seed"] = seed
    stats["backend"] = backend
    stats["run_seeds"] = [r["seed"] for r in rows[:10]] + (["..."] if runs > 10 else [])
    for key in ("bad_debt", "liquidated_value", "liquidation_count", "liquidator_profit",
                "auctions_started", "auctions_settled_near_zero", "insurance_fund_drawdown",
                "adl_volume"):
        values = [r.get(key) or 0 for r in rows]
        stats[key] = float(np.mean(values)) if values else 0.0
    stats["amplification"] = None
    return stats


class _ParquetStream:
    """Rows written to Parquet in batches as they arrive (pyarrow, imported lazily)."""

    def __init__(self, path: Path, batch: int = 256) -> None:
        self.path = path
        self.batch = batch
        self.rows: list[dict[str, Any]] = []
        self.writer: Any = None
        try:
            import pyarrow  # noqa: F401
            self.available = True
        except ImportError:
            self.available = False

    def add(self, row: dict[str, Any]) -> None:
        if not self.available:
            return
        self.rows.append(row)
        if len(self.rows) >= self.batch:
            self._flush()

    def _flush(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if not self.rows:
            return
        table = pa.Table.from_pylist([{k: r.get(k) for k in RUN_FIELDS} for r in self.rows])
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, table.schema)
        self.writer.write_table(table.cast(self.writer.schema))
        self.rows = []

    def close(self) -> None:
        if not self.available:
            return
        self._flush()
        if self.writer is not None:
            self.writer.close()


