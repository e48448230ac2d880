"""The Liquity v1 and Morpho Blue family scans against the exact per-account loop.

    python benchmarks/family_scan.py [--troves 100000] [--positions 100000] [--seed 1] \\
        [--repeats 5] [--json PATH]

Each book is seeded (``numpy.random.default_rng(seed)``) and placed straight into an
engine's state (opening N troves through events costs O(N^2): every operation copies the
trove map): Liquity, troves at ICR lognormal around 180% (sigma 0.25) with an empty
stability pool, TCR well above 150% (normal mode); Morpho, one WETH/USDC market at LLTV 86%,
positions at 30%-100% of their borrowing power, then WETH 3% lower.

Timed, alternately in the same run (so a neighbour's load falls on both sides), median of
``--repeats``: ``FamilyRiskBook(engine).scan()`` (the refresh of the columns from the
engine's book included) against the exact rule on every account (Liquity:
``liquity_system.is_liquidatable`` per trove; Morpho: ``is_healthy`` per position on the
accrued market), which gives the same list (checked). The screen alone (columns built) is
timed too. Say the load average (``os.getloadavg``) with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from marginengine.config import protocol_from_dict
from marginengine.engine import Engine
from marginengine.engine.liquity_handlers import PRICE_SCALE
from marginengine.engine.morpho_handlers import accrued_book, oracle_price_of
from marginengine.engine.state import MorphoBook
from marginengine.fixedpoint import PRICE_UNIT
from marginengine.liquidation import liquity_system as ops
from marginengine.liquidation.liquity import StabilityPool, StabilityPoolRule
from marginengine.margin import morpho as morpho_rules
from marginengine.scan import FamilyRiskBook

E, USDC = 10**18, 10**6


def liquity_engine(n: int, rng: np.random.Generator) -> Engine:
    engine = Engine(protocol_from_dict({"preset": "liquity-v1"}))
    engine.state.prices.set("ETH", 2_000 * PRICE_UNIT)
    debts = (rng.lognormal(np.log(20_000), 1.0, n) + 2_000).astype(np.int64)
    icrs = rng.lognormal(np.log(1.8), 0.25, n)
    troves = {}
    for i in range(n):
        debt = int(debts[i]) * E
        coll = int(float(debts[i]) * icrs[i] / 2_000 * 1e6) * 10**12
        troves[f"t{i:07d}"] = ops.TroveRecord(coll, debt, coll, 0, 0)
    coll_sum = sum(t.coll for t in troves.values())
    debt_sum = sum(t.debt for t in troves.values())
    engine.state.liquity = ops.LiquitySystem(
        pool=StabilityPool(rule=StabilityPoolRule.LEGACY), troves=troves,
        active_coll=coll_sum, active_debt=debt_sum, total_stakes=coll_sum,
        stakes_snapshot=coll_sum, coll_snapshot=coll_sum)
    return engine


def morpho_engine(n: int, rng: np.random.Generator) -> Engine:
    engine = Engine(protocol_from_dict({"preset": "morpho-blue"}))
    engine.state.prices.set("USDC", PRICE_UNIT)
    engine.state.prices.set("WETH", 2_000 * PRICE_UNIT)
    name = "WETH/USDC"
    colls = (rng.lognormal(np.log(5), 1.0, n) * 1e6).astype(np.int64)
    shares_of = rng.uniform(0.3, 1.0, n)
    positions = {}
    total_shares = total_assets = 0
    for i in range(n):
        coll = int(colls[i]) * 10**12
        debt = int(coll * 2_000 * USDC * 86 // (100 * E) * shares_of[i])
        shares = debt * morpho_rules.VIRTUAL_SHARES
        positions[f"b{i:07d}"] = morpho_rules.Position(0, shares, coll)
        total_shares += shares
        total_assets += debt
    supply = 2 * total_assets
    positions["lp"] = morpho_rules.Position(supply * morpho_rules.VIRTUAL_SHARES, 0, 0)
    market = morpho_rules.Market(supply, supply * morpho_rules.VIRTUAL_SHARES, total_assets,
                                 total_shares, 0, 0)
    engine.state.morpho[name] = MorphoBook(market, positions)
    engine.state.prices.set("WETH", 1_940 * PRICE_UNIT)
    return engine


def liquity_exact(engine: Engine) -> list[str]:
    system = engine.state.liquity
    assert system is not None
    price = engine.prices["ETH"] * PRICE_SCALE
    return sorted(t for t in system.troves if ops.is_liquidatable(system, t, price))


def morpho_exact(engine: Engine) -> list[str]:
    name = "WETH/USDC"
    book, params, _ = accrued_book(engine.config, name, engine.state.morpho[name],
                                   engine.ledger.time)
    price = oracle_price_of(engine.config, name, engine.prices["USDC"], engine.prices["WETH"])
    return sorted(a for a, p in book.positions.items()
                  if not morpho_rules.is_healthy(p, book.market, price, params))


def paired(a: Callable[[], Any], b: Callable[[], Any], repeats: int
           ) -> tuple[float, float, Any, Any]:
    ta, tb = [], []
    ra = rb = None
    for i in range(repeats):
        order = [(a, ta), (b, tb)] if i % 2 == 0 else [(b, tb), (a, ta)]
        for fn, times in order:
            start = time.perf_counter()
            out = fn()
            times.append(time.perf_counter() - start)
            if fn is a:
                ra = out
            else:
                rb = out
    return statistics.median(ta), statistics.median(tb), ra, rb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--troves", type=int, default=100_000)
    parser.add_argument("--positions", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    figures: dict[str, Any] = {"load_before": os.getloadavg()[0]}
    for family, engine, exact in (
            ("liquity", liquity_engine(args.troves, rng), liquity_exact),
            ("morpho", morpho_engine(args.positions, rng), morpho_exact)):
        book = FamilyRiskBook(engine)
        t_scan, t_exact, found, truth = paired(lambda b=book: b.scan(),
                                               lambda e=engine, x=exact: x(e), args.repeats)
        assert found.liquidatable == truth, family
        screen = statistics.median(
            _timed(book.screen) for _ in range(args.repeats))
        figures[family] = {
            "accounts": found.screened, "candidates": len(found.candidates),
            "liquidatable": len(found.liquidatable), "scan_s": t_scan, "exact_loop_s": t_exact,
            "screen_s": screen, "exact_over_scan": t_exact / t_scan,
        }
        if found.tcr is not None:
            figures[family]["tcr"] = found.tcr / E
    figures["load_after"] = os.getloadavg()[0]
    print(f"load average {figures['load_before']:.1f} -> {figures['load_after']:.1f}")
    print(f"{'family':8} {'accounts':>9} {'candid.':>8} {'liquid.':>8} {'scan s':>8} "
          f"{'exact s':>8} {'screen s':>9} {'exact/scan':>10}")
    for family in ("liquity", "morpho"):
        f = figures[family]
        print(f"{family:8} {f['accounts']:9,} {f['candidates']:8,} {f['liquidatable']:8,} "
              f"{f['scan_s']:8.3f} {f['exact_loop_s']:8.3f} {f['screen_s']:9.4f} "
              f"{f['exact_over_scan']:10.1f}")
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2))


def _timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
