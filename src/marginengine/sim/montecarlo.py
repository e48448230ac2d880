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

import asyncio
import gc
import heapq
import importlib
import multiprocessing
import multiprocessing.context
import os
import pickle
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from marginengine.errors import ConfigError
from marginengine.sim.run_fields import EXTRA_RUN_FIELDS, MEAN_FIELDS, RUN_FIELDS

#: Fewer runs than this in an estimate's tail: the estimate is flagged as unreliable.
MIN_TAIL = 10
#: Bootstrap resamples and the two-sided level of the confidence intervals.
BOOTSTRAP_RESAMPLES = 2_000
CONFIDENCE_LEVEL = 0.95
#: The bootstrap's generator is ``PCG64(SeedSequence([seed, BOOTSTRAP_STREAM]))``: seeded
#: by the master seed, and apart from the runs' streams (``SeedSequence(seed).spawn``).
BOOTSTRAP_STREAM = 0xB007

T = TypeVar("T")
R = TypeVar("R")

#: What a run imports (the one pipeline, both runners, the scenario schema), imported by
#: :func:`warm_imports` before the workers fork.
RUN_MODULES = ("marginengine.sim.pipeline", "marginengine.sim.cascade",
               "marginengine.sim.scripted", "marginengine.sim.schema",
               "marginengine.sim.protocols", "marginengine.sim.processes",
               "marginengine.sim.gas", "marginengine.sim.history",
               "marginengine.sim.explain", "marginengine.sim.scripted_explain")


def run_one(task: tuple[dict[str, Any], int, int]) -> dict[str, Any]:
    """Run one path: ``(scenario data, master seed, run index)`` -> its summary row (any
    scenario: the one pipeline, :func:`marginengine.sim.pipeline.run_draw`).

    Only the row goes back to the parent (a few hundred bytes pickled): the run's engine,
    series and log stay in the worker, and a Monte Carlo run keeps no traces and no log.
    """
    from marginengine.sim.pipeline import run_draw

    data, seed, index = task
    result = run_draw(data, seed, index)
    row = {k: result.summary.get(k) for k in (*RUN_FIELDS, *EXTRA_RUN_FIELDS)
           if k in result.summary}
    row["run"] = index
    row["seed"] = f"{seed}/{index}"
    return row


Timed = tuple[int, dict[str, Any], float, float, int]


def run_timed(task: tuple[dict[str, Any], int, int]) -> Timed:
    """:func:`run_one` in a worker: ``(run index, row, when it started there
    (``time.perf_counter``, one clock for every process of the machine), seconds it took,
    the worker's pid)``."""
    return call_timed(run_one, task, task[2], f"run {task[2]}")


def call_timed(fn: Callable[[Any], R], task: Any, index: int,
               label: str) -> tuple[int, R, float, float, int]:
    """``fn(task)`` in a worker, as :func:`run_timed` (``index``: the task's place in its
    batch); an error the parent could not rebuild comes back as a ``RuntimeError`` naming
    ``label`` (:func:`portable`)."""
    start = time.perf_counter()
    try:
        out = fn(task)
    except Exception as exc:
        error = portable(exc, index, label)
    else:
        return index, out, start, time.perf_counter() - start, os.getpid()
    # Raised outside the handler: raised inside, the replacement would carry the original
    # as its context, which a pickler that keeps contexts (tblib's, installed by
    # dask.distributed) sends along, and the parent again cannot rebuild.
    raise error


def portable(exc: Exception, index: int, label: str | None = None) -> Exception:
    """``exc`` if it survives pickling to the parent, else a ``RuntimeError`` naming the run
    (``label``, by default ``"run {index}"``) and the error: a process pool's parent cannot
    rebuild an exception whose ``__init__`` wants other arguments than its message, and
    waits forever for the lost result."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return RuntimeError(f"{label or f'run {index}'}: {type(exc).__name__}: {exc}")
    return exc


def _tasks(data: dict[str, Any], seed: int, runs: int) -> list[tuple[dict[str, Any], int, int]]:
    return [(data, seed, i) for i in range(runs)]


@dataclass
class PoolTiming:
    """Where a Monte Carlo's wall time went (filled by :func:`iterate_process`).

    The parent's serial work (``setup_s``: imports and forking the workers;
    ``teardown_s``: closing them; ``aggregate_s``: the statistics and files after the
    last run, by :func:`monte_carlo`) against the runs' own times, measured in the worker
    that ran each (``run_s``, by run index). Unlike a wall-clock ratio these components
    stay meaningful when neighbours load the machine: :meth:`predicted_speedup` turns
    them into Amdahl's prediction.
    """

    workers: int
    setup_s: float = 0.0
    teardown_s: float = 0.0
    aggregate_s: float = 0.0
    wall_s: float = 0.0
    run_s: dict[int, float] = field(default_factory=dict)
    #: Run index -> the worker process (pid) that ran it.
    worker_of: dict[int, int] = field(default_factory=dict)
    #: Run index -> when it started (``time.perf_counter``, the same clock in every
    #: process), and when the parent entered :func:`iterate_process`.
    started: dict[int, float] = field(default_factory=dict)
    entered: float = 0.0

    @property
    def to_first_run_s(self) -> float:
        """From the parent entering to the first run starting in a worker: the start-up
        the runs wait for (imports, forking, handing out the first run)."""
        return min(self.started.values()) - self.entered if self.started else 0.0

    @property
    def serial_s(self) -> float:
        """The parent's serial work: set-up, teardown and aggregation."""
        return self.setup_s + self.teardown_s + self.aggregate_s

    @property
    def runs_s(self) -> float:
        """The runs' total compute time (what the workers share)."""
        return sum(self.run_s.values())

    @property
    def serial_fraction(self) -> float:
        """Amdahl's serial fraction: ``serial / (serial + runs)``."""
        total = self.serial_s + self.runs_s
        return self.serial_s / total if total > 0 else 0.0

    def busy_s(self) -> list[float]:
        """Each worker's total run time, largest first (their spread: the idle tail)."""
        per: dict[int, float] = {}
        for index, seconds in self.run_s.items():
            worker = self.worker_of.get(index, 0)
            per[worker] = per.get(worker, 0.0) + seconds
        return sorted(per.values(), reverse=True)


def makespan(run_s: Sequence[float], workers: int) -> float:
    """Wall time of runs of these durations dispatched in order, each to the first worker
    free (what :func:`iterate_process` does: ``imap_unordered``, one run per task)."""
    free = [0.0] * max(1, workers)
    for seconds in run_s:
        heapq.heapreplace(free, free[0] + seconds)
    return max(free)


def predicted_speedup(run_s: Sequence[float], serial_1: float, serial_n: float,
                      workers: int, balanced: bool = False) -> float:
    """Amdahl's prediction of ``time on 1 worker / time on workers``.

    ``(serial_1 + sum(run_s)) / (serial_n + makespan(run_s, workers))``: the same run
    times on both sides (so a neighbour's load on one measurement does not skew it),
    ``serial_1``/``serial_n`` the parent's serial time on 1 and on ``workers``. With
    ``balanced`` the runs split perfectly (``sum / workers``: Amdahl's law itself);
    otherwise they are scheduled as :func:`makespan` does, so a run left alone at the tail
    counts.
    """
    total = sum(run_s)
    parallel = total / workers if balanced else makespan(run_s, workers)
    return (serial_1 + total) / (serial_n + parallel)


def in_run_order(pairs: Iterable[tuple[int, T]]) -> Iterator[T]:
    """Items tagged with their run index, arriving in any order, yielded in run order
    (``0, 1, 2, ...``) as soon as each is next: workers finish runs out of order, the
    rows (runs.parquet, the statistics' resampling) must not depend on it."""
    pending: dict[int, T] = {}
    following = 0
    for index, item in pairs:
        pending[index] = item
        while following in pending:
            yield pending.pop(following)
            following += 1
    if pending:
        raise RuntimeError(f"runs {sorted(pending)[:5]} came back without run {following}")


def fork_context() -> multiprocessing.context.BaseContext:
    """The start method of the local pool, chosen once: ``fork`` where the platform has
    it (a worker starts with the parent's imports, in milliseconds), else the default."""
    global _CONTEXT
    if _CONTEXT is None:
        try:
            _CONTEXT = multiprocessing.get_context("fork")
        except ValueError:  # no fork (Windows): the platform's default start method
            _CONTEXT = multiprocessing.get_context()
    return _CONTEXT


_CONTEXT: multiprocessing.context.BaseContext | None = None


def warm_imports() -> None:
    """Import what a run imports before the workers fork: each starts with it loaded
    instead of importing it (pydantic models, SciPy) during its first run, which made
    the first run of every worker the slowest one."""
    for name in RUN_MODULES:
        importlib.import_module(name)


class WorkerPool:
    """Local worker processes, forked once, for one or more batches of runs.

    The workers fork when the pool is made, from a frozen heap (:func:`frozen_heap`), and
    serve every :meth:`rows` call until :meth:`close`: a caller with several batches (a
    sweep, an optimizer) pays the start-up once. Runs are handed out one at a time (one
    future per run), so a worker that finishes early takes the next run instead of idling
    while the other works through a static chunk; the rows are put back in run order
    (:func:`in_run_order`), identical to one worker's.

    A ``concurrent.futures`` pool, not a ``multiprocessing.Pool``: a worker that dies (killed
    for memory, a crash in an extension) breaks the batch with an error there, where
    ``multiprocessing.Pool`` lost its run and waited for it forever, and could not even be
    terminated when the dead worker held its task queue's lock.
    """

    def __init__(self, workers: int) -> None:
        start = time.perf_counter()
        warm_imports()
        self.workers = workers
        before = {process.pid for process in multiprocessing.active_children()}
        with frozen_heap(), _workers_ignore_ctrl_c():
            self._executor = ProcessPoolExecutor(max_workers=workers,
                                                 mp_context=fork_context(),
                                                 initializer=_worker_start)
            # A forking executor starts all its workers at its first submit: make that
            # happen here, under the freeze, and wait until one is serving.
            self._executor.submit(os.getpid).result()
        self._workers = [process for process in multiprocessing.active_children()
                         if process.pid not in before]
        #: Seconds the parent spent importing and forking the workers.
        self.startup_s = time.perf_counter() - start

    def rows(self, data: dict[str, Any], seed: int, runs: int,
             timing: PoolTiming | None = None) -> Iterator[dict[str, Any]]:
        """The rows of runs ``0 .. runs - 1`` of ``data`` from ``seed``, in run order.

        A batch that fails or is abandoned (an error, a dead worker, Ctrl-C, the caller
        stopping early) stops the pool: its workers would otherwise go on with the
        batch's remaining runs.
        """
        return self.map(run_one, _tasks(data, seed, runs), timing)

    def map(self, fn: Callable[[Any], R], tasks: Sequence[Any],
            timing: PoolTiming | None = None,
            labels: Sequence[str] | None = None) -> Iterator[R]:
        """``fn(task)`` of every task, one task at a time to the first free worker, the
        results in task order (what :meth:`rows` does for a Monte Carlo's runs; a sweep's
        points and an optimizer's candidates use it too).

        ``fn`` must be a module-level function (it is pickled by name). ``labels`` name
        the tasks in errors (by default ``"run {k}"``, ``k`` the task's place); ``timing``
        is filled by task place. A batch that fails or is abandoned stops the pool, as
        :meth:`rows` says.
        """
        names = labels if labels is not None else [f"run {k}" for k in range(len(tasks))]
        futures = [self._executor.submit(call_timed, fn, task, k, names[k])
                   for k, task in enumerate(tasks)]
        try:
            yield from in_run_order(self._tagged(self._completed(futures), timing))
        except BaseException:
            self.terminate()
            raise

    def _completed(self, futures: list[Future[tuple[int, R, float, float, int]]]
                   ) -> Iterator[tuple[int, R, float, float, int]]:
        try:
            for future in as_completed(futures):
                yield future.result()
        except BrokenProcessPool:
            raise RuntimeError(self._death()) from None

    def _death(self) -> str:
        """Which worker died, and how (the others the executor stopped after it)."""
        for process in self._workers:  # the executor is stopping them: let it finish
            process.join(timeout=5)
        codes = [(process.pid, process.exitcode) for process in self._workers
                 if process.exitcode is not None]
        first = [c for c in codes if c[1] != -signal.SIGTERM] or codes
        if not first:
            return "a Monte Carlo worker died: its run is lost, the Monte Carlo is stopped"
        pid, code = first[0]
        assert code is not None
        how = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
        return f"Monte Carlo worker {pid} died ({how}): its run is lost, the Monte Carlo is stopped"

    @staticmethod
    def _tagged(results: Iterable[tuple[int, R, float, float, int]],
                timing: PoolTiming | None) -> Iterator[tuple[int, R]]:
        for index, row, began, seconds, worker in results:
            if timing is not None:
                timing.run_s[index] = seconds
                timing.worker_of[index] = worker
                timing.started[index] = began
            yield index, row

    def pids(self) -> set[int]:
        """The worker processes' ids."""
        return {process.pid for process in self._workers if process.pid is not None}

    def alive(self) -> bool:
        """Every worker still running."""
        return all(process.exitcode is None for process in self._workers)

    def close(self, wait: bool = True) -> None:
        """Let the workers finish and exit; ``wait=False`` returns at once (every row is
        in: the parent need not wait, serially, for the workers' exit)."""
        self._executor.shutdown(wait=wait)

    def terminate(self) -> None:
        """Stop the workers now (a batch abandoned or failed): the pending runs are
        cancelled and the running ones killed, not waited for."""
        for process in self._workers:
            if process.exitcode is None:
                process.terminate()
        self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, kind: object, value: object, traceback: object) -> None:
        if kind is None:
            self.close()
        else:
            self.terminate()


def _worker_start() -> None:
    # Ctrl-C is the parent's to handle: it stops the workers (terminate). A worker taking
    # it too printed its own interrupted traceback under the CLI's one-line error.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextmanager
def _workers_ignore_ctrl_c() -> Iterator[None]:
    """SIGINT ignored while the workers fork, so each is born ignoring it (the initializer
    alone left a moment, before it ran, in which a Ctrl-C killed a worker and lost its
    run). Only the main thread may set handlers; elsewhere the initializer does it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def iterate_process(data: dict[str, Any], seed: int, runs: int, workers: int,
                    timing: PoolTiming | None = None,
                    pool: WorkerPool | None = None) -> Iterator[dict[str, Any]]:
    """Rows in run order, inline (``workers`` <= 1) or from a local process pool.

    Parameters
    ----------
    data, seed, runs
        The scenario, the master seed and the number of runs.
    workers
        Worker processes; 1 runs inline.
    timing
        Filled with the parent's serial time and each run's time (:class:`PoolTiming`).
    pool
        A :class:`WorkerPool` to run on (kept open for further batches); by default one
        is made for these runs and closed after them.
    """
    start = time.perf_counter()
    if timing is not None:
        timing.workers = workers if pool is None else pool.workers
        timing.entered = start
    try:
        if workers <= 1 and pool is None:
            warm_imports()
            if timing is not None:
                timing.setup_s += time.perf_counter() - start
            for task in _tasks(data, seed, runs):
                began = time.perf_counter()
                row = run_one(task)  # inline: its errors as they are
                if timing is not None:
                    timing.run_s[task[2]] = time.perf_counter() - began
                    timing.worker_of[task[2]] = os.getpid()
                    timing.started[task[2]] = began
                yield row
            return
        own = pool is None
        active = pool if pool is not None else WorkerPool(workers)
        if timing is not None:
            timing.setup_s += active.startup_s if own else 0.0
        yield from active.rows(data, seed, runs, timing)  # stops the pool if it fails
        if own:
            closing = time.perf_counter()
            active.close(wait=False)  # they exit while the parent aggregates
            if timing is not None:
                timing.teardown_s += time.perf_counter() - closing
    finally:
        if timing is not None:
            timing.wall_s += time.perf_counter() - start


@contextmanager
def frozen_heap() -> Iterator[None]:
    """The parent's objects moved out of the collector's reach while workers fork
    (``gc.freeze``): a forked worker's collections then never walk (and so never copy, page
    by page) the heap it inherited. A parent holding a large engine made each worker's
    collections walk all of it: 2 workers ran no faster than 1 in benchmarks/simulate.py.

    No full collection first: it cost the parent 20-90 ms of serial time per pool (more
    the larger its heap), and the holes it frees in the parent's pages are where a worker
    would then allocate, copying those pages (Python's ``gc.freeze`` notes).
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


#: Seconds a LocalCluster's worker process is given to exit once asked to stop, before its
#: nanny kills it. distributed gives it 4 (0.8 x ``Nanny.close``'s 5 s default): a worker
#: process exits in about 1 s on an idle machine (the interpreter's teardown of numpy,
#: pyarrow and the engine), beyond 4 s on a loaded one (2 cores, load 9), and was then
#: killed with ``distributed.nanny - WARNING - Worker process still alive after 4.0
#: seconds, killing`` on stderr after every Monte Carlo.
DASK_EXIT_TIMEOUT = 60.0


@contextmanager
def dask_client(workers: int, scheduler: str | None = None) -> Iterator[Any]:
    """A ``dask.distributed.Client``: on ``scheduler``, or on a ``LocalCluster`` of
    ``workers`` processes (one thread each) started here and shut down at the end.

    Shutdown, in the order distributed documents: the client closes; then every worker
    is asked to stop and given :data:`DASK_EXIT_TIMEOUT` to exit (each nanny closed with
    that timeout, all at once), so it exits by itself, however loaded the machine,
    instead of being killed after distributed's 4 s; then the cluster (the scheduler)
    closes. The scheduler's HTTP server (health and metrics; the dashboard is off)
    listens on a free loopback port, not on 8787, which another cluster may hold
    (distributed then warns ``Port 8787 is already in use``).

    Raises
    ------
    ConfigError
        The dask extra is not installed, or ``scheduler`` cannot be reached.
    """
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise ConfigError(["--backend dask needs the dask extra: "
                           "pip install 'marginengine[dask]'"]) from None
    if scheduler:
        try:
            client: Any = Client(scheduler)  # type: ignore[no-untyped-call]
        except (OSError, ValueError, TypeError) as exc:
            # Unreachable (distributed's connect timeout) or not an address: the flag
            # and what was given, before anything is written.
            raise ConfigError([f"--scheduler {scheduler}: cannot connect ({exc})"]) from None
        try:
            yield client
        finally:
            client.close()
        return
    cluster: Any = LocalCluster(  # type: ignore[no-untyped-call]
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
        scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"})
    try:
        client = Client(cluster)  # type: ignore[no-untyped-call]
        try:
            yield client
        finally:
            client.close()
            nannies = list(cluster.workers.values())

            async def stop_workers() -> None:
                await asyncio.gather(*(n.close(timeout=DASK_EXIT_TIMEOUT,
                                               reason="marginengine: runs done")
                                       for n in nannies))

            cluster.sync(stop_workers)
    finally:
        cluster.close()


def iterate_dask(data: dict[str, Any], seed: int, runs: int, workers: int,
                 scheduler: str | None) -> Iterator[dict[str, Any]]:
    """Rows in run order from a Dask cluster (a LocalCluster when no address is given:
    :func:`dask_client`)."""
    with dask_client(workers, scheduler) as client:
        batch = max(1, workers * 8)
        tasks = _tasks(data, seed, runs)
        for start in range(0, runs, batch):
            futures = client.map(run_one, tasks[start:start + batch], pure=False)
            yield from client.gather(futures)


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
    ``extra``: further fields whose mean is reported (the perp and options fields a run
    has, :data:`EXTRA_RUN_FIELDS`)."""
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
    extra = tuple(f for f in EXTRA_RUN_FIELDS if f in rows[0])
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
                rows_out: list[dict[str, Any]] | None = None,
                timing: PoolTiming | None = None) -> dict[str, Any]:
    """Run ``runs`` paths and return the statistics; stream rows to ``runs.parquet``
    (and append them to ``rows_out`` when given: the report's histograms). ``timing``
    (the process backend) is filled as :func:`iterate_process` fills it, plus the
    parent's check of the scenario (``setup_s``) and its statistics and Parquet file
    after the last run (``aggregate_s``).

    Raises
    ------
    ConfigError
        The scenario is invalid, or nothing in its runs is random (explicit prices
        without ``[noise]``): refused before any run.
    """
    from marginengine.sim.schema import load_spec

    checking = time.perf_counter()
    load_spec(data).check_runs(runs)
    if timing is not None:
        timing.setup_s += time.perf_counter() - checking
    if backend == "dask":
        rows_iter = iterate_dask(data, seed, runs, workers, scheduler)
    else:
        rows_iter = iterate_process(data, seed, runs, workers, timing)
    writer = _ParquetStream(out_dir / "runs.parquet") if out_dir is not None else None
    rows = []
    try:
        for row in rows_iter:
            rows.append(row)
            if writer is not None:
                writer.add(row)
            if progress is not None:
                progress(len(rows))
        aggregating = time.perf_counter()
    finally:
        if writer is not None:
            writer.close()
    if rows_out is not None:
        rows_out.extend(rows)
    stats = statistics(rows, seed)
    if timing is not None:
        timing.aggregate_s += time.perf_counter() - aggregating
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
        fields = (*RUN_FIELDS, *(f for f in EXTRA_RUN_FIELDS if f in self.rows[0]))
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


