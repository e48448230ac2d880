"""The Monte Carlo pool's start in the parent, paired: the former set-up (a full
``gc.collect()`` then ``gc.freeze()``, a ``ProcessPoolExecutor`` forking at its first
submit) against :class:`marginengine.sim.montecarlo.WorkerPool` (fork context chosen once,
``gc.freeze()`` alone, workers forked when the pool is made), alternated in one process.

Times, per pool, the parent's start to the first run starting in a worker, and closing the
pool after the last result (``PoolTiming.to_first_run_s`` and ``teardown_s`` for the
new one). ``--held N`` keeps an N-account engine alive in the parent
first (as ``simulate.py`` did before it timed the Monte Carlo first).

Usage::

    python benchmarks/mc_pool_start.py [--pools 5] [--held 10000]
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from marginengine.sim.montecarlo import PoolTiming, iterate_process, run_one

sys.path.insert(0, str(Path(__file__).resolve().parent))
from simulate import exact_run, scenario  # a sibling script, not a package


def started(_: Any) -> float:
    """When a worker started the task (perf_counter is one clock for every process)."""
    return time.perf_counter()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pools", type=int, default=5)
    parser.add_argument("--held", type=int, default=0)
    args = parser.parse_args()
    data = scenario(300, 24)
    run_one((data, 7, 0))  # imports and first-call costs out of the timings
    held = exact_run(args.held, 5) if args.held else None
    tasks = [(data, 7, i) for i in range(4)]
    old: list[tuple[float, float]] = []
    new: list[tuple[float, float]] = []
    for _ in range(args.pools):
        begin = time.perf_counter()
        gc.collect()
        gc.freeze()
        executor = ProcessPoolExecutor(max_workers=2)
        first = min(executor.map(started, tasks))
        done = time.perf_counter()
        executor.shutdown()
        old.append((first - begin, time.perf_counter() - done))
        gc.unfreeze()
        timing = PoolTiming(2)
        list(iterate_process(data, 7, len(tasks), 2, timing))
        new.append((timing.to_first_run_s, timing.teardown_s))
    print(f"{args.pools} pools each, alternated; parent holding "
          f"{f'a {args.held:,}-account engine' if held else 'its imports only'}; "
          f"load average {os.getloadavg()[0]:.2f}")
    for name, figures in (("former (collect, lazy fork)", old), ("WorkerPool", new)):
        print(f"  {name}: start to first run {statistics.median(a for a, _ in figures) * 1e3:.1f}"
              f" ms, closing {statistics.median(b for _, b in figures) * 1e3:.1f} ms (medians)")


if __name__ == "__main__":
    main()
