"""Perp margin requirement and health, per second, over a 100,000-account book.

Measures, in one run, the vectorized kernel (``margin/perp_kernel.py``) against a naive
per-account Python loop computing the same figures, and their ratio; and the exact model
(``PerpMarginModel``, integer arithmetic through the engine's ledger) on a sample, for
scale. Usage::

    python benchmarks/perp_margin.py [--accounts 100000] [--max-positions 10] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from marginengine.config import ProtocolConfig, protocol_from_dict
from marginengine.ledger import Ledger
from marginengine.margin import WeightedMarginModel
from marginengine.margin.perp import PerpMarginModel, schedule_of
from marginengine.margin.perp_kernel import (
    PerpBookArrays,
    TierArrays,
    TierTable,
    bucket_margin,
    group_by_account,
    naive_bucket_margin,
)

MARKETS = 10


def make_book(rng: np.random.Generator, accounts: int, max_positions: int) -> PerpBookArrays:
    """A seeded book: 1..max_positions positions per account, lognormal sizes."""
    counts = rng.integers(1, max_positions + 1, size=accounts)
    account = np.repeat(np.arange(accounts, dtype=np.intp), counts)
    market = np.concatenate([rng.choice(MARKETS, size=c, replace=False)
                             for c in counts]).astype(np.intp)
    size = rng.lognormal(0.0, 1.5, size=account.shape[0]) * rng.choice([-1.0, 1.0],
                                                                      size=account.shape[0])
    quote = rng.lognormal(8.0, 1.0, size=accounts)
    return PerpBookArrays(account, market, size, quote)


def exact_sample(config: ProtocolConfig, book: PerpBookArrays, marks: np.ndarray,
                 sample: int) -> float:
    """Seconds per account of the exact model (integer arithmetic, the engine's rule) over
    the first ``sample`` accounts of the book, their positions filled into a real ledger."""
    ledger = Ledger(config)
    int_marks = {f"P{m}": int(marks[m] * 10**8) for m in range(MARKETS)}
    for a, m, size in zip(book.account.tolist(), book.market.tolist(), book.size.tolist(),
                          strict=True):
        if a >= sample:
            break
        units = int(size * 10**6) * 10**12  # whole tokens to 18 decimals, on the 1e-6 grid
        if units:
            ledger.fill(f"a{a}", f"P{m}", units, int_marks[f"P{m}"], 10**18, 10**6)
            ledger.fill("_book", f"P{m}", -units, int_marks[f"P{m}"], 10**18, 10**6)
    for a in range(sample):
        ledger.deposit_quote(f"a{a}", int(book.quote[a] * 10**6))
    model = PerpMarginModel(WeightedMarginModel(config))
    prices = {"USDC": 10**8}
    start = time.perf_counter()
    for a in range(sample):
        model.bucket(ledger, prices, int_marks, f"a{a}")
    return (time.perf_counter() - start) / sample


def timed(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--max-positions", type=int, default=10)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--json", dest="json_path", default=None)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    book = make_book(rng, args.accounts, args.max_positions)
    config = protocol_from_dict({
        "markets": {"USDC": {}},
        "perps": {f"P{i}": {"preset": "hyperliquid" if i % 2 else "dydx-v4"}
                  for i in range(MARKETS)},
    })
    tiers = [TierArrays.of(schedule_of(config.perps[f"P{i}"], 10**6), 10**6)
             for i in range(MARKETS)]
    marks = rng.uniform(1.0, 60_000.0, size=MARKETS)

    table = TierTable.of(tiers)
    grouped = group_by_account(book)  # the baseline's own layout, built untimed
    quote = book.quote.tolist()
    vectorized_s = timed(lambda: bucket_margin(book, marks, table), 7)
    naive_s = timed(lambda: naive_bucket_margin(grouped, quote, marks.tolist(), tiers), 2)
    _, mm, health = bucket_margin(book, marks, table)
    check = naive_bucket_margin(grouped, quote, marks.tolist(), tiers)
    worst = max(abs(check[i][1] - mm[i]) / max(mm[i], 1.0) for i in range(0, len(check), 97))
    positions = int(book.size.shape[0])
    exact_per_account = exact_sample(config, book, marks, min(2_000, args.accounts))
    exact_s = exact_per_account * args.accounts
    result = {
        "accounts": args.accounts,
        "positions": positions,
        "vectorized_s": vectorized_s,
        "naive_loop_s": naive_s,
        "vectorized_accounts_per_s": args.accounts / vectorized_s,
        "naive_accounts_per_s": args.accounts / naive_s,
        "speedup": naive_s / vectorized_s,
        "exact_model_s_extrapolated": exact_s,
        "exact_speedup": exact_s / vectorized_s,
        "max_relative_difference": worst,
        "liquidatable": int((health < 1.0).sum()),
    }
    print(f"{args.accounts:,} accounts, {positions:,} positions over {MARKETS} markets "
          f"(seed {args.seed})")
    print(f"{'run':<28}{'seconds':>10}{'accounts/s':>16}")
    rows = (("vectorized kernel", vectorized_s), ("naive per-account loop", naive_s))
    for label, seconds in rows:
        print(f"{label:<28}{seconds:>10.4f}{args.accounts / seconds:>16,.0f}")
    print(f"{'exact model (2,000 sampled)':<28}{exact_s:>10.4f}"
          f"{args.accounts / exact_s:>16,.0f}")
    print(f"speed-up over the naive float loop: {result['speedup']:.1f}x; over the exact "
          f"integer model: {result['exact_speedup']:.0f}x")
    print(f"largest relative difference kernel/loop {worst:.1e}; "
          f"{result['liquidatable']:,} accounts below maintenance")
    if args.json_path:
        with open(args.json_path, "w") as fh:
            json.dump(result, fh, indent=2)


if __name__ == "__main__":
    main()
