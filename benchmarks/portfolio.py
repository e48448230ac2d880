"""Portfolio margin at scale: the risk book revalues instruments, not accounts.

A seeded book of ``--accounts`` accounts (default 1,000,000), each holding about
``--positions`` (5) options and perps of one of ``--underlyings`` (10) underlyings, over
about 2,000 instruments (per underlying 8 expiries x 12 strikes x call/put and one
perp) and Derive's 33 PMRM_2 scenarios (preset ``derive-pm2``: 23 regular, 8 tail, 2
skew). Each underlying holds a tenth of the accounts and so of the positions. Measured in
one run (best of ``--repeat``):

- ``revalue``: every instrument of every underlying revalued (instruments x scenarios
  matrix, basis and skew columns); instruments revalued per second;
- ``product``: the plain sparse product positions (CSR) x instrument values alone;
- ``scan``: the full portfolio scan (per-expiry discount, dampening, skew, basis,
  minimum over scenarios, contingencies, margins) on revalued instruments; its ratio to
  ``product`` (target <= 2);
- ``full``: revalue everything and scan; ``rescan``: one underlying's market moves,
  its instruments are revalued and its accounts rescanned; ratio to ``full`` (target
  <= 0.1).

Each pair of a ratio (product and scan, full and rescan) runs alternately, one call of
each in turn, and each side keeps its best time: a shared machine's load falls on both.

Usage::

    python benchmarks/portfolio.py [--accounts 1000000] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

from marginengine.config.portfolio import portfolio_config
from marginengine.scan.portfolio import Instruments, PortfolioRiskBook, UnderlyingMarket

DAY = 86_400
EXPIRIES_DAYS = (1, 3, 7, 14, 30, 60, 90, 180)
MONEYNESS = (0.6, 0.7, 0.8, 0.9, 0.95, 1.0, 1.05, 1.1, 1.2, 1.35, 1.5, 1.8)


def make_universe(n_und: int) -> tuple[Instruments, list[UnderlyingMarket]]:
    """Instruments and seeded markets of ``n_und`` underlyings."""
    und, exp, strike, call, exp_und = [], [], [], [], []
    spots = [100.0 * (1.7 ** u) for u in range(n_und)]
    for u in range(n_und):
        for _ in EXPIRIES_DAYS:
            e = len(exp_und)
            exp_und.append(u)
            for m in MONEYNESS:
                for c in (True, False):
                    und.append(u)
                    exp.append(e)
                    strike.append(spots[u] * m)
                    call.append(c)
        und.append(u)
        exp.append(-1)
        strike.append(0.0)
        call.append(False)
    inst = Instruments(np.array(und), np.array(exp), np.array(strike), np.array(call),
                       np.array(exp_und))
    return inst, [market(inst, u, spots[u], 1.0) for u in range(n_und)]


def market(inst: Instruments, u: int, spot: float, vol_scale: float) -> UnderlyingMarket:
    """A smile per expiry around 60% vol, forwards with a 5% carry."""
    tte = np.array(EXPIRIES_DAYS, dtype=float) * DAY
    opt = (inst.underlying == u) & (inst.expiry >= 0)
    # The smile is set by moneyness against the spot the strikes were listed at.
    listed = inst.strike[opt][MONEYNESS.index(1.0) * 2]
    vols = vol_scale * (0.6 + 0.4 * np.log(inst.strike[opt] / listed) ** 2)
    return UnderlyingMarket(spot=spot, sec_to_expiry=tte,
                            forward=spot * np.exp(0.05 * tte / (365 * DAY)),
                            rate=np.full(tte.size, 0.05), vol=vols, perp_price=spot,
                            confidence=1.0)


def make_positions(rng: np.random.Generator, inst: Instruments, n_acc: int, per: int
                   ) -> sp.csr_matrix:
    """Each account on one underlying (a tenth each), ``per`` random instruments of it,
    its perp in 40% of the accounts, amounts in {-5 .. 5} \\ {0}."""
    n_und = int(inst.underlying.max()) + 1
    first = np.array([int(np.flatnonzero(inst.underlying == u)[0]) for u in range(n_und)])
    count = np.bincount(inst.underlying)
    acc_und = np.arange(n_acc) % n_und
    offs = (rng.random((n_acc, per)) * count[acc_und][:, None]).astype(np.int64)
    cols = first[acc_und][:, None] + offs
    with_perp = rng.random(n_acc) < 0.4
    cols[with_perp, 0] = first[acc_und[with_perp]] + count[acc_und[with_perp]] - 1
    amounts = rng.integers(1, 6, size=(n_acc, per)) * rng.choice([-1.0, 1.0], size=(n_acc, per))
    rows = np.repeat(np.arange(n_acc), per)
    return sp.csr_matrix((amounts.ravel(), (rows, cols.ravel())),
                         shape=(n_acc, inst.underlying.size))


def best(fn: Callable[[], object], repeat: int) -> float:
    """The best wall time of ``repeat`` calls."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def paired(a: Callable[[], object], b: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Best times of ``a`` and ``b`` run alternately, so that a shared machine's load
    falls on both sides of their ratio."""
    ta, tb = [], []
    for _ in range(repeat):
        ta.append(best(a, 1))
        tb.append(best(b, 1))
    return min(ta), min(tb)


def main(argv: list[str] | None = None) -> dict[str, object]:
    """Run the benchmark; print and return the figures (and write ``--json``)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accounts", type=int, default=1_000_000)
    ap.add_argument("--positions", type=int, default=5)
    ap.add_argument("--underlyings", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=20_261_201)
    ap.add_argument("--json", dest="json_path", default=None)
    args = ap.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    inst, markets = make_universe(args.underlyings)
    positions = make_positions(rng, inst, args.accounts, args.positions)
    cash = rng.uniform(0.0, 100_000.0, args.accounts)
    cfg = portfolio_config(preset="derive-pm2")
    t0 = time.perf_counter()
    book = PortfolioRiskBook(inst, positions, cash, cfg)
    build = time.perf_counter() - t0

    def revalue_all() -> None:
        for u, m in enumerate(markets):
            book.set_market(u, m)

    revalue = best(revalue_all, args.repeat)
    product, scan = paired(book.product_only, book.scan, args.repeat)

    def full() -> None:
        revalue_all()
        book.scan()

    moved = [market(inst, 0, markets[0].spot * 0.93, 1.25), markets[0]]

    def rescan() -> None:
        # The underlying moves (and back, on the next call): revalue and rescan it.
        moved.reverse()
        book.set_market(0, moved[0])
        book.rescan(0)

    full_t, rescan_t = paired(full, rescan, args.repeat)
    n_inst = int(inst.underlying.size)
    res = book.result()
    out: dict[str, object] = {
        "accounts": args.accounts,
        "positions": int(positions.nnz),
        "instruments": n_inst,
        "scenarios": len(cfg.scenarios),
        "build_s": round(build, 3),
        "revalue_s": round(revalue, 4),
        "instruments_revalued_per_s": round(n_inst / revalue),
        "valuations_per_s": round(n_inst * (len(cfg.scenarios) + 3) / revalue),
        "product_s": round(product, 4),
        "scan_s": round(scan, 4),
        "scan_over_product": round(scan / product, 3),
        "full_s": round(full_t, 4),
        "rescan_one_underlying_s": round(rescan_t, 4),
        "rescan_over_full": round(rescan_t / full_t, 3),
        "rescan_share_of_positions": round(
            float(positions[book.account_underlying == 0].nnz) / positions.nnz, 3),
        "accounts_below_maintenance": int((res.maintenance < 0).sum()),
        "python": platform.python_version(),
        "numpy": np.__version__,
    }
    for key, value in out.items():
        print(f"{key:>30}: {value}")
    if args.json_path:
        with open(args.json_path, "w", encoding="utf-8") as fh:
            json.dump(out, fh, indent=2)
    return out


if __name__ == "__main__":
    main()
