"""Monte Carlo: N runs of a scenario (any price source) from one master seed, on a local
process pool or a Dask cluster, with per-run summaries streamed to Parquet.

Seeds: ``numpy.random.SeedSequence(seed).spawn(runs)``; run ``i`` uses the ``i``-th child,
recorded as ``"{seed}/{i}"``. A run depends only on the scenario and its child seed, so the
same master seed gives the same results, bit for bit, on any backend and any number of
workers.

Every estimate over the runs (means, VaR95, ES99, LaR95, the probability of bad debt) is
reported with a percentile-bootstrap confidence interval and the number of runs it rests
on (for a tail estimate, the runs in its tail); an estimate whose tail holds fewer than
:data:`MIN_TAIL` runs is flagged in ``warnings``. See :func:`statistics`.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from marginengine.errors import ConfigError

#: Per-run fields streamed to runs.parquet (and used for the statistics).
RUN_FIELDS = ("run", "seed", "bad_debt", "liquidated_value", "liquidation_count",
              "liquidator_profit", "borrower_loss", "auctions_started",
              "auctions_settled_near_zero", "insurance_fund_drawdown", "adl_volume",
              "min_price", "final_price", "borrowing_power", "borrowed_value",
              "borrow_usage", "demand_served")

#: Per-run fields whose mean is reported as ``mean_<field>``.
MEAN_FIELDS = ("bad_debt", "liquidated_value", "liquidation_count", "liquidator_profit",
               "borrower_loss", "auctions_started", "auctions_settled_near_zero",
               "insurance_fund_drawdown", "adl_volume", "borrowing_power", "borrowed_value",
               "borrow_usage", "demand_served")

#: Per-run fields of a scenario with ``[perps]`` (sim/perps.py): streamed and averaged
#: (``mean_<field>``) when the runs have them.
PERP_RUN_FIELDS = ("perp_liquidation_count", "perp_liquidated_value", "bankrupt_shortfall",
                   "adl_covered", "socialized_loss", "perp_deficit")

#: Fewer runs than this in an estimate's tail: the estimate is flagged as unreliable.
MIN_TAIL = 10
#: Bootstrap resamples and the two-sided level of the confidence intervals.
BOOTSTRAP_RESAMPLES = 2_000
CONFIDENCE_LEVEL = 0.95
#: The bootstrap's generator is ``PCG64(SeedSequence([seed, BOOTSTRAP_STREAM]))``: seeded
#: by the master seed, and apart from the runs' streams (``SeedSequence(seed).spawn``).
BOOTSTRAP_STREAM = 0xB007


def run_one(task: tuple[dict[str, Any], int, int]) -> dict[str, Any]:
    """Run one path: ``(scenario data, master seed, run index)`` -> its summary row (any
    scenario: the one pipeline, :func:`marginengine.sim.pipeline.run_draw`)."""
    from marginengine.sim.pipeline import run_draw

    data, seed, index = task
    result = run_draw(data, seed, index)
    row = {k: result.summary.get(k) for k in (*RUN_FIELDS, *PERP_RUN_FIELDS)
           if k in result.summary}
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
    # Import the simulator once here, before the pool forks its workers: each then starts
    # with it loaded instead of importing it (pydantic models, SciPy) on its first run.
    import marginengine.sim.cascade  # noqa: F401
    with frozen_heap(), ProcessPoolExecutor(max_workers=workers) as pool:
        yield from pool.map(run_one, _tasks(data, seed, runs), chunksize=chunk)


@contextmanager
def frozen_heap() -> Iterator[None]:
    """The parent's objects moved out of the collector's reach while workers fork
    (``gc.freeze``): a forked worker's collections then never walk (and so never copy, page
    by page) the heap it inherited. A parent holding a large engine made each worker's
    collections walk all of it: 2 workers ran no faster than 1 in benchmarks/simulate.py."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


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


def tail_count(n: int, percentile: int) -> int:
    """Runs in the tail beyond the ``percentile``-th percentile of ``n`` runs: the
    ``ceil(n x (100 - percentile) / 100)`` largest (exact integer arithmetic)."""
    return -(-n * (100 - percentile) // 100)


def expected_shortfall(sample: np.ndarray, percentile: int) -> np.ndarray:
    """Mean of the ``tail_count(n, percentile)`` largest values, per row of ``sample``.

    The tail is counted, not cut at the quantile: with ties at the quantile (most often
    many runs without bad debt, so the 99th percentile is 0) a cut ``>= quantile`` would
    take every tied run into the tail and report the mean of all runs instead of the mean
    of the worst 1%.
    """
    n = sample.shape[-1]
    k = tail_count(n, percentile)
    top = -np.partition(-sample, k - 1, axis=-1)[..., :k]
    return np.asarray(top.mean(axis=-1))


def estimators(extra: tuple[str, ...] = ()) -> dict[str, tuple[
        str, Callable[[np.ndarray], np.ndarray], int | None]]:
    """The estimates over the runs: name -> (per-run field, statistic over the last axis
    of an array of runs, tail percentile or ``None``); :func:`statistics` reports each.
    ``extra``: further fields whose mean is reported (the perp fields a run has)."""
    out: dict[str, tuple[str, Callable[[np.ndarray], np.ndarray], int | None]] = {
        "var95_bad_debt": ("bad_debt", lambda x: np.quantile(x, 0.95, axis=-1), 95),
        "es99_bad_debt": ("bad_debt", lambda x: expected_shortfall(x, 99), 99),
        "lar95": ("liquidated_value", lambda x: np.quantile(x, 0.95, axis=-1), 95),
        "p_bad_debt": ("bad_debt", lambda x: (x > 0).mean(axis=-1), None),
    }
    for key in (*MEAN_FIELDS, *extra):
        out[f"mean_{key}"] = (key, lambda x: x.mean(axis=-1), None)
    return out


def statistics(rows: list[dict[str, Any]], seed: int = 0,
               resamples: int = BOOTSTRAP_RESAMPLES,
               level: float = CONFIDENCE_LEVEL) -> dict[str, Any]:
    """Estimates over the runs, each with a bootstrap confidence interval.

    VaR95 is the 95th percentile of bad debt (linear interpolation); ES99 the mean of the
    ``ceil(n / 100)`` worst runs (:func:`expected_shortfall`); LaR95 the 95th percentile
    of liquidated value;
    ``p_bad_debt`` the share of runs with bad debt; ``mean_<field>`` the mean of each of
    :data:`MEAN_FIELDS`.

    Confidence intervals: percentile bootstrap. ``resamples`` samples of the runs are drawn
    with replacement (the same resamples for every estimate) from
    ``numpy.random.Generator(PCG64(SeedSequence([seed, BOOTSTRAP_STREAM])))``; the interval
    is the ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles of the estimate over them.

    Tails: an estimate beyond the p-th percentile rests on the ``ceil(n x (100 - p) / 100)``
    largest runs (:func:`tail_count`); fewer than :data:`MIN_TAIL` adds a warning (its
    bootstrap interval is then itself unreliable: the resamples can only reshuffle those
    few runs).

    Parameters
    ----------
    rows
        One summary row per run (at least one), with the per-run fields.
    seed
        The Monte Carlo's master seed (seeds the bootstrap's own stream).
    resamples
        Bootstrap resamples.
    level
        Two-sided confidence level of the intervals.

    Returns
    -------
    dict
        ``runs``; each estimate's value under its name (``var95_bad_debt``, ...);
        ``estimates``: name -> ``{value, ci_low, ci_high, observations,
        tail_observations}``; ``confidence``: the method, level, resamples and generator;
        ``warnings``: one sentence per estimate with a thin tail.
    """
    n = len(rows)
    if n == 0:
        raise ValueError("rows: statistics need at least one run")
    extra = tuple(f for f in PERP_RUN_FIELDS if f in rows[0])
    table = estimators(extra)
    data = {key: np.array([float(r.get(key) or 0.0) for r in rows], dtype=float)
            for key in {f for f, _, _ in table.values()}}
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed,
                                                                      BOOTSTRAP_STREAM])))
    boot: dict[str, list[np.ndarray]] = {name: [] for name in table}
    # Resample in chunks so a large Monte Carlo does not need resamples x runs at once.
    chunk = max(1, min(resamples, 2_000_000 // n))
    done = 0
    while done < resamples:
        size = min(chunk, resamples - done)
        index = rng.integers(0, n, size=(size, n))
        for name, (key, fn, _) in table.items():
            boot[name].append(fn(data[key][index]))
        done += size
    low_q, high_q = (1 - level) / 2, (1 + level) / 2
    estimates: dict[str, dict[str, Any]] = {}
    warnings: list[str] = []
    for name, (key, fn, percentile) in table.items():
        values = np.concatenate(boot[name])
        tail = tail_count(n, percentile) if percentile is not None else None
        estimates[name] = {
            "value": float(fn(data[key])),
            "ci_low": float(np.quantile(values, low_q)),
            "ci_high": float(np.quantile(values, high_q)),
            "observations": n,
            "tail_observations": tail,
        }
        if percentile is not None and tail is not None and tail < MIN_TAIL:
            needed = -(-MIN_TAIL * 100 // (100 - percentile))
            warnings.append(
                f"{name} rests on {tail} run(s) beyond the {percentile}th percentile "
                f"(fewer than {MIN_TAIL}): unreliable, use at least {needed} runs")
    out: dict[str, Any] = {"runs": n}
    out.update({name: e["value"] for name, e in estimates.items()})
    out["estimates"] = estimates
    out["confidence"] = {
        "method": "percentile bootstrap", "level": level, "resamples": resamples,
        "generator": f"PCG64(SeedSequence([{seed}, {BOOTSTRAP_STREAM}]))",
        "min_tail": MIN_TAIL,
    }
    out["warnings"] = warnings
    return out


def monte_carlo(data: dict[str, Any], seed: int, runs: int, backend: str, workers: int,
                out_dir: Path | None, scheduler: str | None = None,
                progress: Callable[[int], None] | None = None,
                rows_out: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Run ``runs`` paths and return the statistics; stream rows to ``runs.parquet``
    (and append them to ``rows_out`` when given: the report's histograms).

    Raises
    ------
    ConfigError
        The scenario is invalid, or nothing in its runs is random (explicit prices
        without ``[noise]``): refused before any run.
    """
    from marginengine.sim.schema import load_spec

    load_spec(data).check_runs(runs)
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
    if rows_out is not None:
        rows_out.extend(rows)
    stats = statistics(rows, seed)
    stats["seed"] = seed
    stats["backend"] = backend
    stats["run_seeds"] = [r["seed"] for r in rows[:10]] + (["..."] if runs > 10 else [])
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
        fields = (*RUN_FIELDS, *(f for f in PERP_RUN_FIELDS if f in self.rows[0]))
        table = pa.Table.from_pylist([{k: r.get(k) for k in fields} for r in self.rows])
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


