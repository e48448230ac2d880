"""Crowding heatmap of a single-collateral book against a full vectorized health screen.

    python benchmarks/heatmap.py [--accounts 1000000] [--seed 1] [--repeats 7] [--json PATH]

A seeded book (``numpy.random.default_rng(seed)``) of ``--accounts`` accounts holding one
collateral (WETH, 18 decimals, lognormal sizes around 10 WETH), a debt set so that the
health at 2,500 USD is lognormal around 1.6, thresholds of 75-85%, is built as float64
arrays. Two things are timed on the same arrays, median (and minimum) of ``--repeats``:

- screen: the full vectorized health ``q * P * LT / (u * 1e4 * D)`` against 1 (what a
  full scan does per account for one asset, without the CSR layout of ``scan``);
- heatmap (sorted): :func:`marginengine.margin.crowding.heatmap_kernel` (liquidation
  prices, sort, stacks with ties, depth at every level, cliffs, every account's add-on);
- heatmap (binned): :func:`marginengine.margin.crowding.binned_heatmap_kernel` on a 1 bp
  geometric price grid (``--bin-bps``): the same outputs without the sort, ``O(n)``.

The ratios heatmap / screen are printed (issue 12's target: the heatmap within 5 full scans
of the book; this screen is one asset's, lighter than the scan of benchmarks/scan.py).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from marginengine.margin.crowding import binned_heatmap_kernel, heatmap_kernel


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--bin-bps", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.accounts < 1 or args.repeats < 1:
        parser.error("--accounts and --repeats must be positive")

    rng = np.random.default_rng(args.seed)
    n = args.accounts
    unit, price = 1e18, 2_500e8
    q = np.floor(rng.lognormal(np.log(1.0), 1.0, n) * 1e6) * 1e12  # WETH, 1e-6 steps
    lt = rng.integers(7_500, 8_501, n).astype(np.float64)
    health = rng.lognormal(np.log(1.6), 0.35, n)
    d = np.floor(q * price * lt / (unit * 1e4) / health)
    reserve = 200_000e18  # a 200,000 WETH / 500M USD pool

    def screen() -> int:
        h = q * (price / (unit * 1e4)) * lt / d
        return int(np.count_nonzero(h < 1.0))

    def heat() -> int:
        k = heatmap_kernel(q, d, lt, base_unit=unit, base_reserve=reserve, price=price,
                           bonus_bps=500)
        return int(np.count_nonzero(k.cliff))

    def binned() -> int:
        k = binned_heatmap_kernel(q, d, lt, base_unit=unit, base_reserve=reserve, price=price,
                                  bonus_bps=500, bin_bps=args.bin_bps)
        return int(np.count_nonzero(k.cliff))

    best: dict[str, float] = {}

    def timed(fn: Any) -> tuple[float, int]:
        times, result = [], 0
        for _ in range(args.repeats):
            start = time.perf_counter()
            result = fn()
            times.append(time.perf_counter() - start)
        # The minimum too: on a shared machine it is the run least disturbed by others.
        best[fn.__name__] = min(times)
        return statistics.median(times), result

    screen_s, below = timed(screen)
    heat_s, cliff_rows = timed(heat)
    binned_s, cliff_bins = timed(binned)
    out: dict[str, Any] = {
        "accounts": n, "seed": args.seed, "repeats": args.repeats,
        "python": platform.python_version(), "numpy": np.__version__,
        "load_average": os.getloadavg(),
        "screen_s": screen_s, "heatmap_s": heat_s, "ratio": heat_s / screen_s,
        "binned_s": binned_s, "binned_ratio": binned_s / screen_s, "bin_bps": args.bin_bps,
        "min_s": best,
        "liquidatable_now": below, "cliff_rows": cliff_rows, "cliff_bins": cliff_bins,
    }
    print(f"accounts            {n:>12,}")
    print(f"health screen       {screen_s * 1e3:>12.2f} ms   ({below:,} below 1)")
    print(f"crowding heatmap    {heat_s * 1e3:>12.2f} ms   ({cliff_rows:,} rows on a cliff)")
    print(f"binned heatmap      {binned_s * 1e3:>12.2f} ms   ({cliff_bins:,} bins on a cliff)")
    print(f"sorted / screen     {heat_s / screen_s:>12.1f} x")
    print(f"binned / screen     {binned_s / screen_s:>12.1f} x")
    print(f"fastest runs: screen {best['screen'] * 1e3:.2f} ms, sorted {best['heat'] * 1e3:.2f} "
          f"ms ({best['heat'] / best['screen']:.1f} x), binned {best['binned'] * 1e3:.2f} ms "
          f"({best['binned'] / best['screen']:.1f} x)")
    if args.json is not None:
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    return out


if __name__ == "__main__":
    main()
