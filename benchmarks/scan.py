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
  ``--confirm-sample`` accounts (written to CSV, loaded into an engine), to price the band;
- perps: the same accounts with ``--perp-share`` of them (default a tenth) also holding
  perps in cross margin (``generate_book(..., perp_share=...)``): the full scan of that
  book (lending and perp blocks) against the full scan of the lending-only book of the
  same accounts, timed alternately in the same run (median of ``--repeats`` each), and
  the ratio; an incremental scan after a perp index tick; the engine's exact bucket rule
  per perp account (what deciding every perp account exactly used to cost per scan).

- adaptive (issue 12): the adaptive scan (every asset's threshold moved by the adaptive
  model this tick, so every weight changes, plus a crowding add-on per account) against the
  static full scan, timed alternately in the same run (median of ``--repeats`` each), and
  building the heatmap of the book (``RiskBook.crowding_addon`` on ``--heatmap-asset``:
  the binned kernel over its holders) against the same full scan; ``--only-adaptive``
  runs the build, the full scan and this section alone.

Every figure above except the perp section is measured on the lending-only book.
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
    parser.add_argument("--perp-share", type=float, default=0.1,
                        help="share of the accounts holding perps in the perp section "
                             "(0: skip it)")
    parser.add_argument("--perp-confirm-sample", type=int, default=2_000)
    parser.add_argument("--heatmap-asset", default="WETH")
    parser.add_argument("--only-adaptive", action="store_true",
                        help="build, full scan and the adaptive section only")
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
                              seed=args.seed, perp_share=max(args.perp_share, 0.0))
    out["generate_s"] = time.perf_counter() - start

    start = time.perf_counter()
    book = synthetic.to_book(threads=args.threads, perps=False)
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
    out["adaptive"] = adaptive_section(book, args)
    if args.only_adaptive:
        return out

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
    weights = naive_weights(synthetic.config, {s: p for s, p in synthetic.prices.items()
                                               if s in synthetic.config.markets})
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
    book = synthetic.to_book(threads=args.threads, perps=False)
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

    # ---------------------------------------------------------------- perps
    if args.perp_share > 0:
        out["perps"] = perp_section(synthetic, book, args)

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


def paired(first: Callable[[], Any], second: Callable[[], Any],
           repeats: int) -> tuple[float, float]:
    """Medians of two functions timed alternately (the machine's load falls on both)."""
    a: list[float] = []
    b: list[float] = []
    for fn in (first, second):
        fn()
    for _ in range(repeats):
        for fn, acc in ((first, a), (second, b)):
            start = time.perf_counter()
            fn()
            acc.append(time.perf_counter() - start)
    return statistics.median(a), statistics.median(b)


def adaptive_section(book: RiskBook, args: argparse.Namespace) -> dict[str, Any]:
    """The adaptive scan and the heatmap build against the static full scan, paired."""
    assets = book.assets
    symbol = args.heatmap_asset if args.heatmap_asset in assets.column else assets.symbols[0]
    k = assets.column[symbol]
    rows, vals = book.collateral.exposure(k)
    reserve = float(vals.sum()) * float(assets.liquidity_index[k]) * 0.1  # a tenth held
    static_lt = assets.lt_bps.copy()
    static_ltv = assets.ltv_bps.copy()
    state = {"tick": 0}

    def adaptive_tick() -> None:
        # The adaptive model moves every asset's threshold this tick (1 bp down, then
        # back): every weight changes, as volatility and depth events would.
        state["tick"] ^= 1
        for j in range(len(assets)):
            if static_lt[j] > 1:
                assets.set_thresholds(j, int(min(static_ltv[j], static_lt[j] - 1
                                                 - state["tick"])),
                                      int(static_lt[j] - state["tick"]))
        book.adaptive_scan(addon)

    book.full_scan()
    addon = book.crowding_addon(symbol, reserve, bonus_bps=500)
    static_s, adaptive_s = paired(book.full_scan, adaptive_tick, args.repeats)
    heat_static_s, heat_s = paired(
        book.full_scan, lambda: book.crowding_addon(symbol, reserve, bonus_bps=500),
        args.repeats)
    for j in range(len(assets)):
        assets.set_thresholds(j, int(static_ltv[j]), int(static_lt[j]))
    return {"asset": symbol, "holders": len(rows),
            "accounts_with_addon": int(np.count_nonzero(addon)),
            "static_full_scan_s": static_s, "adaptive_scan_s": adaptive_s,
            "adaptive_over_static": adaptive_s / static_s,
            "heatmap_full_scan_s": heat_static_s, "heatmap_s": heat_s,
            "heatmap_over_full_scan": heat_s / heat_static_s,
            "targets": {"adaptive_over_static_max": 2.0, "heatmap_over_full_scan_max": 5.0}}


def perp_section(synthetic: Any, lending: RiskBook, args: argparse.Namespace) -> dict[str, Any]:
    """The perp book against the lending-only book of the same accounts (see the module
    docstring)."""
    res: dict[str, Any] = {"perp_share": args.perp_share}
    start = time.perf_counter()
    book = synthetic.to_book(threads=args.threads)
    res["build_s"] = time.perf_counter() - start
    res["perp_buckets"] = book.perps.buckets
    res["perp_positions"] = int(book.perps.n_pos)
    result = book.full_scan()
    res["below"] = result.below_count
    res["candidates"] = result.candidates
    res["band"] = result.band
    res["perp_below"] = int(np.count_nonzero(book.perps.slots_of(book.below_rows()) >= 0))
    res["memory_bytes_perps"] = book.perps.nbytes()
    lending.full_scan()
    # alternate the two so that both see the same machine
    perp_runs, lending_runs = [], []
    for _ in range(2):
        book.full_scan()
        lending.full_scan()
    for _ in range(args.repeats):
        start = time.perf_counter()
        book.full_scan()
        perp_runs.append(time.perf_counter() - start)
        start = time.perf_counter()
        lending.full_scan()
        lending_runs.append(time.perf_counter() - start)
    res["full_scan_s"] = statistics.median(perp_runs)
    res["full_scan_min_s"] = min(perp_runs)
    res["lending_only_full_scan_s"] = statistics.median(lending_runs)
    res["lending_only_full_scan_min_s"] = min(lending_runs)
    res["ratio"] = res["full_scan_s"] / res["lending_only_full_scan_s"]
    res["ratio_of_minima"] = res["full_scan_min_s"] / res["lending_only_full_scan_min_s"]
    # an index tick on one perp market: every perp bucket is rescreened (vectorized)
    market = "ETH-PERP"
    k = book.perps.column[market]
    index = book.perps.index_int[k]
    state = {"up": False}

    def tick() -> None:
        state["up"] = not state["up"]
        book.set_price(market, index if state["up"] else index * 99 // 100)
        book.incremental_scan()

    res["incremental_perp_tick_s"], _ = timed(tick, max(3, args.repeats // 3), warmup=1)
    book.set_price(market, index)
    book.incremental_scan()
    # the exact bucket rule per perp account, on an engine with perps
    if args.perp_confirm_sample:
        res["exact_bucket_us_per_account"] = exact_bucket_cost(args.perp_confirm_sample,
                                                               args.seed)
        res["exact_all_perp_buckets_estimate_s"] = (res["exact_bucket_us_per_account"]
                                                    * 1e-6 * res["perp_buckets"])
    book.close()
    return res


def exact_bucket_cost(n: int, seed: int) -> float:
    """Microseconds per account of the engine's exact bucket rule (``is_liquidatable`` of
    an account holding perps), on ``n`` accounts with a WETH deposit and a perp position."""
    from marginengine.config import protocol_from_dict
    from marginengine.engine import Deposit, DepositQuote, Engine, SetPrice, Trade

    rng = np.random.default_rng(seed)
    engine = Engine(protocol_from_dict({
        "preset": "aave-v3", "markets": {"USDC": {}, "WETH": {}},
        "perps": {"ETH-PERP": {"preset": "dydx-v4"}}}), check_invariants=False)
    for asset, price in (("USDC", 10**8), ("WETH", 3_000 * 10**8), ("ETH-PERP", 3_000 * 10**8)):
        engine.apply(SetPrice(asset, price))
    engine.apply(DepositQuote("mm", 10**15))
    ids = [f"p{i:06d}" for i in range(n)]
    for account in ids:
        engine.apply(Deposit(account, "WETH", 10**18))
        engine.apply(DepositQuote(account, 1_000 * 10**6))
        size = int(rng.integers(1, 5_000)) * 10**15
        buyer, seller = (account, "mm") if rng.random() < 0.5 else ("mm", account)
        engine.apply(Trade(buyer, seller, "ETH-PERP", size, 3_000 * 10**8))
    start = time.perf_counter()
    for account in ids:
        engine.is_liquidatable(account)
    return (time.perf_counter() - start) / n * 1e6


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
    a = out["adaptive"]
    print(f"  adaptive scan       {a['adaptive_scan_s'] * 1e3:8.2f} ms vs static "
          f"{a['static_full_scan_s'] * 1e3:.2f} ms in the same run: x"
          f"{a['adaptive_over_static']:.2f} (target <= 2); {a['accounts_with_addon']:,} "
          f"accounts with a crowding add-on")
    print(f"  heatmap ({a['asset']:<5})     {a['heatmap_s'] * 1e3:8.2f} ms vs full scan "
          f"{a['heatmap_full_scan_s'] * 1e3:.2f} ms: x{a['heatmap_over_full_scan']:.2f} "
          f"(target <= 5) over {a['holders']:,} holders")
    if "naive_loop_s" not in out:
        return
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
    perps = out.get("perps")
    if perps:
        print(f"  perps: {perps['perp_buckets']:,} of the accounts hold "
              f"{perps['perp_positions']:,} perp positions (share {perps['perp_share']})")
        print(f"    full scan, lending + perps   {perps['full_scan_s'] * 1e3:8.2f} ms (min "
              f"{perps['full_scan_min_s'] * 1e3:.2f}); below {perps['below']:,} "
              f"({perps['perp_below']:,} with perps), band {perps['band']:,}")
        print(f"    full scan, lending only      {perps['lending_only_full_scan_s'] * 1e3:8.2f} "
              f"ms (min {perps['lending_only_full_scan_min_s'] * 1e3:.2f})")
        print(f"    ratio (target <= 3)          {perps['ratio']:8.2f} (of minima "
              f"{perps['ratio_of_minima']:.2f})")
        print(f"    incremental, ETH-PERP tick   {perps['incremental_perp_tick_s'] * 1e3:8.2f} ms")
        if "exact_bucket_us_per_account" in perps:
            print(f"    exact bucket rule            {perps['exact_bucket_us_per_account']:.1f} "
                  f"us/account -> all {perps['perp_buckets']:,} perp buckets exactly: "
                  f"{perps['exact_all_perp_buckets_estimate_s']:.2f} s per scan")
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
