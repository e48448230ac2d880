"""Risk book at scale: build, full and incremental scans, memory, against a naive loop and
the memory-bandwidth bound.

    python benchmarks/scan.py --accounts 1000000 --assets 32 --positions-per-account 3 \\
        [--seed 1] [--repeats 15] [--json PATH]

One run measures, on a seeded synthetic book (``marginengine.scan.synthetic``) built
straight from arrays (no engine: a million engine events would measure the engine):

- build: arrays -> RiskBook (layout of both CSR sides, exposure index, account index);
- full scan: every account's health from the current prices, screened against 1.0
  (the fused kernel, candidates, fine screen, below set), median of ``--repeats``;
- incremental scan: one asset's price moves, only its holders are rescreened (median of
  ``--repeats``), for every asset, forced to stay incremental, to show the cost is
  proportional to the exposed accounts; the headline figure is ``--incremental-asset``;
- memory: the book's bytes per position (every array it holds) and the process's peak
  resident memory; and, under tracemalloc, the peak of the build and of a full scan;
- naive: the same float health from Python dicts, one account at a time, over a sample
  of ``--naive-sample`` accounts, extrapolated to the whole book;
- bandwidth bound: ``np.add.reduce`` over a float64 array of exactly the bytes the full
  scan reads (both sides' ``data``, ``indices`` and ``indptr``), median of ``--repeats``;
- exact confirmation: the engine's rule per account, timed on an engine-backed book of
  ``--confirm-sample`` accounts (written to CSV, loaded into an engine), to price the band.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from marginengine.fixedpoint import WAD
from marginengine.scan import RiskBook
from marginengine.scan.book import FULL_SCAN_ABOVE
from marginengine.scan.confirm import confirm_below
from marginengine.scan.files import load_engine
from marginengine.scan.naive import naive_health, naive_weights
from marginengine.scan.synthetic import generate_book


def timed(fn: Callable[[], Any], repeats: int, warmup: int = 2) -> tuple[float, float]:
    """``(median, min)`` seconds of ``fn`` over ``repeats`` runs after ``warmup``."""
    for _ in range(warmup):
        fn()
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs), min(runs)


def scan_bytes(book: RiskBook) -> int:
    """Bytes the full scan's kernel reads: both sides' CSR arrays."""
    total = 0
    for side in (book.collateral, book.debt):
        total += side.data.nbytes + side.indices.nbytes + side.indptr.nbytes
    return total


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--assets", type=int, default=32)
    parser.add_argument("--positions-per-account", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--naive-sample", type=int, default=0,
                        help="accounts in the naive loop (0: all of them, measured, not "
                             "extrapolated); a 20,000-account sample is always extrapolated too")
    parser.add_argument("--incremental-asset", default="LINK")
    parser.add_argument("--confirm-sample", type=int, default=20_000)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    out: dict[str, Any] = {
        "accounts": args.accounts, "assets": args.assets,
        "positions_per_account": args.positions_per_account, "seed": args.seed,
        "threads": args.threads, "python": platform.python_version(),
        "numpy": np.__version__, "machine": platform.machine(),
        "load_average_start": os.getloadavg(),
    }

    start = time.perf_counter()
    synthetic = generate_book(args.accounts, args.assets, args.positions_per_account,
                              seed=args.seed)
    out["generate_s"] = time.perf_counter() - start

    start = time.perf_counter()
    book = synthetic.to_book(threads=args.threads)
    out["build_s"] = time.perf_counter() - start
    positions = book.positions()
    out["positions"] = positions
    memory = book.memory_bytes()
    out["memory_bytes"] = memory
    out["bytes_per_position"] = sum(memory.values()) / positions

    # ---------------------------------------------------------------- full scan
    result = book.full_scan()
    out["below"] = result.below_count
    out["candidates"] = result.candidates
    out["band"] = result.band
    out["full_scan_s"], out["full_scan_min_s"] = timed(book.full_scan, args.repeats)
    threads = book.threads
    book.threads = 1
    out["full_scan_1thread_s"], _ = timed(book.full_scan, args.repeats)
    book.threads = threads
    nbytes = scan_bytes(book)
    out["scan_bytes"] = nbytes
    buffer = np.ones(nbytes // 8)
    out["bandwidth_bound_s"], out["bandwidth_bound_min_s"] = timed(
        lambda: np.add.reduce(buffer), args.repeats)
    out["full_over_bound"] = out["full_scan_s"] / out["bandwidth_bound_s"]
    out["full_1thread_over_bound"] = out["full_scan_1thread_s"] / out["bandwidth_bound_s"]

    # ---------------------------------------------------------------- incremental scans
    rows: list[dict[str, Any]] = []
    for symbol in book.assets.symbols:
        k = book.assets.column[symbol]
        exposed = len(np.union1d(book.collateral.exposure(k)[0], book.debt.exposure(k)[0]))
        price = book.assets.price_int[k]
        state = {"up": False}

        def tick(symbol: str = symbol, price: int = price, state: dict[str, bool] = state,
                 full_above: float = 1.0) -> None:
            state["up"] = not state["up"]
            book.set_price(symbol, price if state["up"] else price * 99 // 100)
            book.incremental_scan(full_above=full_above)

        median, _ = timed(tick, max(3, args.repeats // 3), warmup=1)
        auto, _ = timed(lambda tick=tick: tick(full_above=FULL_SCAN_ABOVE), 3,  # type: ignore[misc]
                        warmup=1)
        book.set_price(symbol, price)
        rows.append({"asset": symbol, "exposed_accounts": exposed,
                     "incremental_s": median, "automatic_s": auto,
                     "ns_per_exposed_account": median / max(exposed, 1) * 1e9})
    book.incremental_scan()
    rows.sort(key=lambda r: r["exposed_accounts"])
    out["incremental"] = rows
    headline = next(r for r in rows if r["asset"] == args.incremental_asset)
    out["incremental_asset"] = args.incremental_asset
    out["incremental_scan_s"] = headline["incremental_s"]
    out["incremental_exposed_accounts"] = headline["exposed_accounts"]
    big = [r for r in rows if r["exposed_accounts"] >= 10_000]
    if len(big) >= 2:
        x = np.array([r["exposed_accounts"] for r in big], dtype=float)
        y = np.array([r["incremental_s"] for r in big])
        slope, intercept = np.polyfit(x, y, 1)
        out["incremental_fit"] = {"ns_per_exposed_account": slope * 1e9,
                                  "fixed_ms": intercept * 1e3,
                                  "r2": float(np.corrcoef(x, y)[0, 1] ** 2)}

    # ---------------------------------------------------------------- naive loop
    out["peak_rss_mb_before_naive"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    weights = naive_weights(synthetic.config, synthetic.prices)
    rng = np.random.default_rng(args.seed)

    def naive(size: int) -> tuple[float, dict[str, Any]]:
        """Seconds of the naive loop over ``size`` accounts (a seeded sample), and the dicts."""
        sample = np.sort(rng.choice(args.accounts, size, replace=False))
        accounts = synthetic.account_positions(sample)
        seconds, _ = timed(
            lambda: [h < 1.0 for h in naive_health(accounts, weights).values()], 3, warmup=1)
        return seconds, accounts

    small = min(20_000, args.accounts)
    seconds, _ = naive(small)
    out["naive_sample_extrapolated_s"] = seconds * args.accounts / small
    size = args.accounts if args.naive_sample <= 0 else min(args.naive_sample, args.accounts)
    seconds, accounts = naive(size)
    out["naive_sample"] = size
    out["naive_loop_s"] = seconds * args.accounts / size
    out["speedup_vs_naive"] = out["naive_loop_s"] / out["full_scan_s"]
    out["speedup_vs_naive_sample_extrapolated"] = (out["naive_sample_extrapolated_s"]
                                                   / out["full_scan_s"])
    twin = naive_health(accounts, weights)
    ours = book.health(book.accounts.rows(list(twin)))
    theirs = np.array(list(twin.values()))
    finite = np.isfinite(theirs)
    out["naive_agrees"] = bool(np.allclose(ours[finite], theirs[finite], rtol=1e-12)
                               and np.array_equal(np.isfinite(ours), finite))
    del accounts, twin

    # ---------------------------------------------------------------- memory peaks
    book.close()
    del book
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    book = synthetic.to_book(threads=args.threads)
    build_peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.reset_peak()
    held = tracemalloc.get_traced_memory()[0]
    book.full_scan()
    scan_peak = tracemalloc.get_traced_memory()[1] - held
    tracemalloc.stop()
    out["build_peak_bytes_per_position"] = build_peak / positions
    out["scan_peak_extra_bytes_per_position"] = scan_peak / positions
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["load_average_end"] = os.getloadavg()

    # ---------------------------------------------------------------- exact confirmation
    if args.confirm_sample:
        small = generate_book(args.confirm_sample, args.assets, args.positions_per_account,
                              seed=args.seed + 1)
        with tempfile.TemporaryDirectory() as tmp:
            small.write_csv(Path(tmp) / "book.csv")
            small.write_prices(Path(tmp) / "prices.toml")
            small.write_protocol(Path(tmp) / "protocol.toml")
            start = time.perf_counter()
            engine = load_engine(Path(tmp) / "book.csv", Path(tmp) / "prices.toml",
                                 Path(tmp) / "protocol.toml")
            out["confirm_engine_build_s"] = time.perf_counter() - start
        ids = sorted(engine.ledger.accounts)
        start = time.perf_counter()
        exact = confirm_below(engine, ids, WAD)
        per_account = (time.perf_counter() - start) / len(ids)
        mirrored = RiskBook.from_engine(engine, subscribe=False, threads=args.threads)
        mirrored.full_scan()
        out["confirm_us_per_account"] = per_account * 1e6
        out["confirm_band_estimate_s"] = per_account * out["band"]
        out["full_scan_with_confirm_estimate_s"] = (out["full_scan_s"]
                                                    + out["confirm_band_estimate_s"])
        out["confirm_sample_equal"] = mirrored.below_accounts() == sorted(
            a for a, e in zip(ids, exact, strict=True) if e)
    return out


def report(out: dict[str, Any]) -> None:
    print(f"book: {out['accounts']:,} accounts x {out['assets']} assets, "
          f"{out['positions']:,} positions (seed {out['seed']})")
    print(f"  generate            {out['generate_s']:8.3f} s")
    print(f"  build               {out['build_s']:8.3f} s")
    print(f"  full scan           {out['full_scan_s'] * 1e3:8.2f} ms (min "
          f"{out['full_scan_min_s'] * 1e3:.2f}); below {out['below']:,}, candidates "
          f"{out['candidates']:,}, band {out['band']:,}")
    print(f"  full scan, 1 thread {out['full_scan_1thread_s'] * 1e3:8.2f} ms")
    print(f"  bandwidth bound     {out['bandwidth_bound_s'] * 1e3:8.2f} ms "
          f"({out['scan_bytes'] / 1e6:.1f} MB)  -> full scan / bound = "
          f"{out['full_over_bound']:.2f} (1 thread: {out['full_1thread_over_bound']:.2f})")
    print(f"  naive loop          {out['naive_loop_s']:8.2f} s over {out['naive_sample']:,} "
          f"accounts, extrapolated to all -> speedup {out['speedup_vs_naive']:,.0f}x; "
          f"agrees: {out['naive_agrees']}")
    print(f"  naive, 20k sample   {out['naive_sample_extrapolated_s']:8.2f} s extrapolated "
          f"-> speedup {out['speedup_vs_naive_sample_extrapolated']:,.0f}x")
    print(f"  incremental ({out['incremental_asset']}) {out['incremental_scan_s'] * 1e3:8.2f} ms "
          f"for {out['incremental_exposed_accounts']:,} exposed accounts")
    fit = out.get("incremental_fit")
    if fit:
        print(f"  incremental fit     {fit['ns_per_exposed_account']:.1f} ns/exposed account "
              f"+ {fit['fixed_ms']:.2f} ms (r^2 {fit['r2']:.3f})")
    print(f"  memory              {out['bytes_per_position']:.1f} bytes/position held; build "
          f"peak {out['build_peak_bytes_per_position']:.1f}, scan extra "
          f"{out['scan_peak_extra_bytes_per_position']:.1f}; peak RSS "
          f"{out['peak_rss_mb_before_naive']:,.0f} MB before the naive loop's dicts, "
          f"{out['peak_rss_mb']:,.0f} MB after")
    print(f"  load average        {out['load_average_start']} -> {out['load_average_end']}")
    for name, size in out["memory_bytes"].items():
        print(f"    {name:14s} {size / out['positions']:6.2f} bytes/position")
    if "confirm_us_per_account" in out:
        print(f"  exact confirm       {out['confirm_us_per_account']:.1f} us/account -> the band "
              f"of {out['band']:,} costs {out['confirm_band_estimate_s'] * 1e3:.1f} ms; "
              f"engine-backed sample equal: {out['confirm_sample_equal']}")
    print("  incremental by asset (forced incremental | automatic):")
    for r in out["incremental"]:
        print(f"    {r['asset']:8s} {r['exposed_accounts']:9,} exposed  "
              f"{r['incremental_s'] * 1e3:8.2f} ms  {r['ns_per_exposed_account']:6.1f} ns/acct"
              f"  | {r['automatic_s'] * 1e3:7.2f} ms")


if __name__ == "__main__":
    figures = main(sys.argv[1:])
    report(figures)
    args_json = next((sys.argv[i + 1] for i, a in enumerate(sys.argv) if a == "--json"), None)
    if args_json:
        Path(args_json).write_text(json.dumps(figures, indent=2) + "\n")
