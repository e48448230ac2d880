"""Optimizer throughput and the worth of common random numbers and caching.

Three measurements on ``examples/optimize_weth.toml`` (the simulator, every run through
the engine):

1. **evaluations/s**: a short optimization (``--runs`` runs per candidate, ``--budget``
   evaluations, ``--workers`` processes); evaluations/s and simulator runs/s;
2. **20 parameter sets x 10,000 paths on 2 cores**: measured on ``--sample`` paths of 20
   candidates and extrapolated linearly (a run's cost does not depend on how many
   there are), for this book and, from one timed run, for the quickstart's 2,000-account
   book;
3. **CRN + caching against naive independent evaluation at equal CI width**: two
   neighbouring candidates (LTV 80.0% and 80.5%) on ``--pair-runs`` runs; the 95% bootstrap
   interval of the difference of a metric when both use the same seeds (CRN, paired
   resamples) and when the second uses other seeds (independent). Widths shrink as
   ``1 / sqrt(runs)``, so independent evaluation needs ``(w_indep / w_crn)^2`` times the
   runs for the same width; the cache's share comes from the optimization of (1)
   (runs served from the cache over runs executed).

Usage::

    python benchmarks/optimize.py [--runs 16] [--budget 12] [--workers 2] [--sample 40]
                                  [--pair-runs 96] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from marginengine.config import read_toml
from marginengine.optimize.api import run
from marginengine.optimize.evaluate import SimulatorEvaluator
from marginengine.optimize.problem import METRICS
from marginengine.optimize.stats import column, paired_difference
from marginengine.sim import apply_overrides
from marginengine.sim.montecarlo import BOOTSTRAP_STREAM, estimators

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "optimize_weth.toml"
QUICKSTART = ROOT / "examples" / "quickstart.toml"
LTV = "protocol.markets.WETH.ltv"


def independent_width(a: list[dict[str, Any]], b: list[dict[str, Any]], name: str,
                      seed: int, resamples: int) -> float:
    """95% interval width of ``metric(b) - metric(a)`` with independent resamples."""
    field, fn, _ = estimators()[METRICS[name].estimate]
    xa, xb = column(a, field), column(b, field)
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed,
                                                                      BOOTSTRAP_STREAM])))
    ia = rng.integers(0, len(xa), size=(resamples, len(xa)))
    ib = rng.integers(0, len(xb), size=(resamples, len(xb)))
    d = fn(xb[ib]) - fn(xa[ia])
    return float(np.quantile(d, 0.975) - np.quantile(d, 0.025))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=16)
    parser.add_argument("--budget", type=int, default=12)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--sample", type=int, default=40,
                        help="paths per candidate measured for the 20 x 10,000 figure")
    parser.add_argument("--pair-runs", type=int, default=96)
    parser.add_argument("--resamples", type=int, default=2_000)
    parser.add_argument("--skip-quickstart", action="store_true")
    parser.add_argument("--json", dest="json_path", default=None)
    args = parser.parse_args()
    out: dict[str, Any] = {"workers": args.workers}

    # 1. A short optimization.
    start = time.perf_counter()
    report = run(EXAMPLE, [f"{LTV}=0.70:0.82:0.0025",
                           "protocol.markets.WETH.liquidation_threshold=0.80:0.90:0.0025"],
                 constraints=["es99_bad_debt<=50000"], runs=args.runs, budget=args.budget,
                 seed=1, workers=args.workers, steward_paths=False)
    seconds = time.perf_counter() - start
    counts = report.result.counts
    out["optimization"] = {
        "runs_per_candidate": args.runs, "evaluations": counts["evaluations"],
        "seconds": seconds, "evaluations_per_second": counts["evaluations"] / seconds,
        "runs_executed": counts["runs_executed"], "runs_from_cache": counts["runs_from_cache"],
        "runs_per_second": counts["runs_executed"] / seconds,
    }
    print(f"optimization: {counts['evaluations']} evaluations x {args.runs} runs in "
          f"{seconds:.1f} s: {counts['evaluations'] / seconds:.2f} evaluations/s, "
          f"{counts['runs_executed'] / seconds:.1f} runs/s executed, "
          f"{counts['runs_from_cache']} of {counts['runs_executed'] + counts['runs_from_cache']}"
          " run-evaluations from the cache")

    # 2. 20 candidates x --sample paths, extrapolated to 20 x 10,000.
    base = read_toml(EXAMPLE)
    batch = [apply_overrides(base, [f"{LTV}={0.70 + 0.005 * k:.4f}"]) for k in range(20)]
    evaluator = SimulatorEvaluator("process", args.workers)
    try:
        evaluator.evaluate(batch[:1], 0, range(args.workers))  # start the pool
        start = time.perf_counter()
        evaluator.evaluate(batch, 0, range(args.sample))
        measured = time.perf_counter() - start
    finally:
        evaluator.close()
    per_run = measured / (20 * args.sample)
    full = per_run * 20 * 10_000
    out["twenty_by_10000"] = {"book": "examples/optimize_weth.toml (120 accounts, 24 "
                              "steps)", "measured_runs": 20 * args.sample,
                              "measured_seconds": measured,
                              "seconds_per_run_on_workers": per_run,
                              "extrapolated_seconds": full, "goal_seconds": 1_800}
    print(f"20 x {args.sample} paths on {args.workers} workers: {measured:.1f} s "
          f"({1 / per_run:.1f} runs/s); 20 x 10,000 extrapolated: {full / 60:.0f} min "
          f"(goal 30 min)")
    if not args.skip_quickstart:
        from marginengine.sim.montecarlo import run_one

        start = time.perf_counter()
        run_one((read_toml(QUICKSTART), 0, 0))
        one = time.perf_counter() - start
        qs = one * 20 * 10_000 / args.workers
        out["twenty_by_10000_quickstart"] = {"seconds_per_run_one_core": one,
                                             "extrapolated_seconds": qs}
        print(f"quickstart book (2,000 accounts, 144 steps): {one:.1f} s per run on one "
              f"core; 20 x 10,000 on {args.workers} cores extrapolated: {qs / 86_400:.1f} "
              "days")

    # 3. CRN against independent seeds, at equal interval width.
    a, b = (apply_overrides(base, [f"{LTV}={x}"]) for x in ("0.80", "0.805"))
    evaluator = SimulatorEvaluator("process", args.workers)
    try:
        n = args.pair_runs
        rows_a, rows_b = evaluator.evaluate([a, b], 0, range(n))
        rows_b_indep = evaluator.evaluate([b], 0, range(n, 2 * n))[0]
    finally:
        evaluator.close()
    cache_factor = (counts["runs_executed"] + counts["runs_from_cache"]) / max(
        1, counts["runs_executed"])
    out["crn"] = {"pair_runs": n, "cache_factor": cache_factor, "metrics": {}}
    for name in ("borrowing_power", "mean_bad_debt", "es99_bad_debt", "liquidated_value"):
        d, lo, hi = paired_difference(rows_a, rows_b, METRICS[name], 0, args.resamples)
        w_crn = hi - lo
        w_ind = independent_width(rows_a, rows_b_indep, name, 0, args.resamples)
        ratio = (w_ind / w_crn) ** 2 if w_crn > 0 else None
        out["crn"]["metrics"][name] = {"difference": d, "width_crn": w_crn,
                                       "width_independent": w_ind,
                                       "runs_ratio_at_equal_width": ratio,
                                       "with_cache": ratio * cache_factor if ratio else None}
        shown = f"{ratio:.1f}x" if ratio else "inf (CRN width 0)"
        print(f"{name}: difference {d:,.0f}; 95% width CRN {w_crn:,.0f}, independent "
              f"{w_ind:,.0f}: independent needs {shown} the runs"
              + (f"; with the cache's {cache_factor:.2f}x: {ratio * cache_factor:.1f}x"
                 if ratio else ""))
    if args.json_path:
        Path(args.json_path).write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
