"""The live service's watch of option (portfolio-margin) accounts: time per tick, the
exact read of every account (the old path) against the float screen that reads exactly
only the accounts near a line (the new one), paired in one process.

    python benchmarks/service_options.py [--accounts 500 5000] [--ticks 6] [--seed 7]
                                         [--preset derive-pm2 derive-pm1 derive-srm]
                                         [--json PATH]

Presets: each manager's rule in turn (default all three), its own screen in the new path
(``scan.portfolio_screens``: PMRM_2's risk book, PMRM v1's and the SRM's float screens).

Book: ``examples/serve_options.toml`` (WETH at 2,000 USD, 30-day expiry at 60% ATM vol)
plus ``N`` seeded random accounts, each with options cash and one to three WETH options
(strikes 1,400 to 2,600, 30 or 90 days) traded with ``mm`` (mostly sold; a few bought),
entered as events (trades beyond initial margin are the engine's refusals; the accounts
counted are those the watch holds). Ticks: a seeded walk of WETH drifting down (steps
uniform in -4%..+1%, so accounts cross thresholds and the liquidation line as it goes)
and, every other tick, both vol surfaces moved (5% steps), applied to the engine
directly.

Each tick, both watches re-read every account on the same state
(``PortfolioWatch(screen=False)``: the engine's margin interface per account;
``PortfolioWatch(screen=True)``: one vectorized pass of the preset's screen and the
exact read of the undecided), in alternating order; timed with ``perf_counter``; their
decisions (level, liquidatable, unpriced per account) must be equal, every tick, or the
run fails. Reported per preset and size: median and max ms per tick of each, the ratio of the
medians, how many accounts the new path read exactly (median), and the cost of the first
screen after the book changed (its rebuild; once after account events).
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "serve_options.toml"
EXPIRIES = (30 * 86_400, 90 * 86_400)


def build(n: int, seed: int, preset: str) -> Any:
    """The example's engine with ``n`` random option accounts (seconds reported apart)."""
    from marginengine.engine import DepositOptionCash, SetVolSurface, TradeOption
    from marginengine.fixedpoint import PRICE_UNIT
    from marginengine.service.startup import read_config, start_engine

    text = EXAMPLE.read_text().replace('portfolio_preset = "derive-pm2"',
                                       f'portfolio_preset = "{preset}"')
    path = ROOT / "runs" / "bench_service_options.toml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    cfg = read_config(path)
    engine = start_engine(cfg.protocol, cfg.prices, cfg.book, None, cfg.source,
                          cfg.options).engine
    rng = random.Random(seed)
    usdc, size = 10**6, 10**18
    events: list[Any] = [SetVolSurface("WETH", EXPIRIES[1], 650_000, -100_000),
                         DepositOptionCash("mm", 10**9 * usdc)]
    for i in range(n):
        a = f"o{i:05d}"
        events.append(DepositOptionCash(a, rng.randint(500, 15_000) * usdc))
        for _ in range(rng.randint(1, 3)):
            k = rng.randint(14, 26) * 100 * PRICE_UNIT
            amount = rng.randint(1, 10) * size
            sell = rng.random() < 0.8
            buyer, seller = ("mm", a) if sell else (a, "mm")
            events.append(TradeOption(buyer, seller, "WETH", rng.choice(EXPIRIES), k,
                                      rng.random() < 0.5, amount, 40 * usdc))
    with engine.batch():
        for e in events:
            engine.apply(e)
    return engine


def run(n: int, ticks: int, seed: int, preset: str) -> dict[str, Any]:
    from marginengine.engine import SetPrice, SetVolSurface
    from marginengine.fixedpoint import PRICE_UNIT
    from marginengine.service import Settings
    from marginengine.service.core import PortfolioWatch

    t0 = time.perf_counter()
    engine = build(n, seed, preset)
    built = time.perf_counter() - t0
    t_wad = [int(t * 10**18) for t in Settings().thresholds]
    old = PortfolioWatch(engine, t_wad, screen=False)
    new = PortfolioWatch(engine, t_wad, screen=True)
    rng = random.Random(seed + 1)
    price = engine.prices["WETH"]
    vols = {t: engine.state.vols[("WETH", t)] for t in EXPIRIES}
    rows: dict[str, list[float]] = {"old": [], "new": [], "exact": []}
    first_screen = None
    for tick in range(ticks + 1):
        price = int(price * (1 + rng.uniform(-0.04, 0.01)))
        events: list[Any] = [SetPrice("WETH", price)]
        if tick % 2:
            for t in EXPIRIES:
                v, k = vols[t]
                vols[t] = (max(100_000, int(v * (1 + rng.uniform(-0.05, 0.05)))), k)
                events.append(SetVolSurface("WETH", t, *vols[t]))
        for e in events:
            engine.apply(e)
        timed: dict[str, float] = {}
        for name in (("old", "new") if tick % 2 else ("new", "old")):
            watch = old if name == "old" else new
            start = time.perf_counter()
            watch.update(events)
            timed[name] = time.perf_counter() - start
        got = {a: f.decisions() for a, f in new.figures.items()}
        want = {a: f.decisions() for a, f in old.figures.items()}
        if got != want:
            bad = sorted(a for a in want if got.get(a) != want[a])[:5]
            raise SystemExit(f"decisions differ at tick {tick}: {bad}")
        if tick == 0:
            # The first screen after the book's positions changed rebuilds the screen
            # (the book was entered as account events); reported apart.
            first_screen = timed["new"]
            continue
        rows["old"].append(timed["old"])
        rows["new"].append(timed["new"])
        rows["exact"].append(new.last_exact)
    med_old, med_new = statistics.median(rows["old"]), statistics.median(rows["new"])
    liq = sum(f.liquidatable for f in old.figures.values())
    return {
        "accounts": len(old.figures), "preset": preset, "ticks": ticks,
        "old_ms_median": round(med_old * 1000, 2), "old_ms_max": round(max(rows["old"]) * 1000, 2),
        "new_ms_median": round(med_new * 1000, 2), "new_ms_max": round(max(rows["new"]) * 1000, 2),
        "ratio": round(med_old / med_new, 1),
        "exact_reads_median": statistics.median(rows["exact"]),
        "first_screen_ms": round((first_screen or 0.0) * 1000, 2),
        "liquidatable_at_end": liq, "build_s": round(built, 1),
        "price_at_end": price / PRICE_UNIT,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, nargs="+", default=[500, 5_000])
    parser.add_argument("--ticks", type=int, default=6)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--preset", nargs="+",
                        default=["derive-pm2", "derive-pm1", "derive-srm"],
                        choices=["derive-pm2", "derive-pm1", "derive-srm"])
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT / "src"))
    results = []
    for preset, n in ((p, n) for p in args.preset for n in args.accounts):
        r = run(n, args.ticks, args.seed, preset)
        results.append(r)
        print(f"{r['accounts']:>6} accounts ({r['preset']}): old "
              f"{r['old_ms_median']:>9.2f} ms/tick (max {r['old_ms_max']:.2f}), new "
              f"{r['new_ms_median']:>8.2f} ms/tick (max "
              f"{r['new_ms_max']:.2f}), x{r['ratio']}; exact reads {r['exact_reads_median']}"
              f"; first screen {r['first_screen_ms']:.1f} ms; liquidatable "
              f"{r['liquidatable_at_end']}", flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps({"python": platform.python_version(),
                                         "machine": platform.machine(),
                                         "results": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
