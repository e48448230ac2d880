"""Simulator throughput: steps per second on a 10,000-account book over one day at 1-minute
steps, and Monte Carlo runs per second on 1 and on 2 workers with the speed-up.

Usage::

    python benchmarks/simulate.py [--accounts 10000] [--steps 1440] [--runs 16] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np

from marginengine.sim.cascade import CascadeRunner, scenario_spec
from marginengine.sim.montecarlo import iterate_process


def scenario(accounts: int, steps: int) -> dict[str, Any]:
    """A day of 1-minute blocks: GBM with jumps, an AMM, a keeper and a flash-loan keeper."""
    return {
        "kind": "cascade", "name": "bench", "seed": 5, "steps": steps, "step_seconds": 60,
        "protocol": {"preset": "aave-v3", "markets": {"WETH": {}, "USDC": {}}},
        "prices": {"USDC": 1},
        "price": {"asset": "WETH", "process": "jump", "s0": 2000, "sigma": 1.0,
                  "jump_intensity": 3000, "jump_mean": -0.03, "jump_std": 0.03},
        "venue": {"kind": "amm", "base_reserve": 50_000, "arbitrage_speed": 0.3},
        "gas": {"kind": "process", "gwei": 20, "vol_sensitivity": 0.5, "noise": 0.2},
        "book": {"accounts": accounts, "total_debt": accounts * 5_000, "whales": 5,
                 "whale_share": 0.2, "collateralization_median": 1.5,
                 "collateralization_sigma": 0.2, "min_collateralization": 1.26,
                 "debt_asset": "USDC", "collateral_asset": "WETH"},
        "keepers": [{"id": "keeper", "capital": 1e12}, {"id": "flash", "flash_loan": True}],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--steps", type=int, default=1_440)
    parser.add_argument("--runs", type=int, default=16)
    parser.add_argument("--mc-accounts", type=int, default=300)
    parser.add_argument("--mc-steps", type=int, default=144)
    parser.add_argument("--json", dest="json_path", default=None)
    args = parser.parse_args()

    data = scenario(args.accounts, args.steps)
    spec, protocol = scenario_spec(data)
    runner = CascadeRunner(spec, protocol, np.random.default_rng(spec.seed))
    start = time.perf_counter()
    runner.setup()
    setup_s = time.perf_counter() - start
    start = time.perf_counter()
    for i in range(1, spec.steps + 1):
        runner.step(i)
    steps_s = time.perf_counter() - start
    summary = runner.summary()

    mc = scenario(args.mc_accounts, args.mc_steps)
    mc["steps"], mc["step_seconds"] = args.mc_steps, 600
    timings = {}
    for workers in (1, 2):
        start = time.perf_counter()
        rows = list(iterate_process(mc, 7, args.runs, workers))
        timings[workers] = time.perf_counter() - start
        assert len(rows) == args.runs
    result = {
        "accounts": args.accounts, "steps": args.steps, "setup_s": setup_s,
        "steps_s": steps_s, "steps_per_s": args.steps / steps_s,
        "liquidations": summary["liquidation_count"], "events": summary["events"],
        "mc_runs": args.runs, "mc_1_worker_s": timings[1], "mc_2_workers_s": timings[2],
        "mc_runs_per_s_1": args.runs / timings[1], "mc_runs_per_s_2": args.runs / timings[2],
        "mc_speedup": timings[1] / timings[2],
    }
    print(f"one run: {args.accounts:,} accounts, {args.steps:,} one-minute steps")
    print(f"  set-up {setup_s:.1f} s; steps {steps_s:.1f} s = {result['steps_per_s']:.1f} "
          f"steps/s; {summary['liquidation_count']:,} liquidations, "
          f"{summary['events']:,} events")
    print(f"Monte Carlo: {args.runs} runs of {args.mc_accounts} accounts x {args.mc_steps} "
          "steps")
    print(f"  1 worker : {timings[1]:.1f} s = {result['mc_runs_per_s_1']:.2f} runs/s")
    print(f"  2 workers: {timings[2]:.1f} s = {result['mc_runs_per_s_2']:.2f} runs/s")
    print(f"  speed-up: {result['mc_speedup']:.2f}x")
    if args.json_path:
        with open(args.json_path, "w") as fh:
            json.dump(result, fh, indent=2)


if __name__ == "__main__":
    main()
