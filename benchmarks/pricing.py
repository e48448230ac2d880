"""Options priced per second: the vectorized Black-76 kernels against their scalar twins.

Measures, in one run, over a seeded book of European options (forward 100, log-moneyness
uniform in [-1, 1], expiries 1 day to 2 years, vols 20%-150%, rates 0-10%, calls and puts):

- ``price``: :func:`marginengine.pricing.price` over all instruments at once, and
  :func:`marginengine.pricing.price_scalar` in a Python loop over a sample;
- ``price+greeks``: :func:`price_and_greeks` against :func:`price_and_greeks_scalar`;
- ``implied vol``: :func:`implied_vol` against :func:`implied_vol_scalar` (on the prices
  of the first pass);
- and, vectorized only, the PMRM_2 scenario grid
  (:func:`marginengine.pricing.scenarios.scenario_values`): ``--grid-instruments``
  options (default 2,000) x Derive's 23 regular and 6 tail scenarios, in valuations/s.

Each vectorized figure is the best of ``--repeat`` runs; the ratio printed is vectorized
instruments/s over scalar instruments/s. Usage::

    python benchmarks/pricing.py [--instruments 1000000] [--sample 20000] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable

import numpy as np

from marginengine.pricing import (
    implied_vol,
    implied_vol_scalar,
    price,
    price_and_greeks,
    price_and_greeks_scalar,
    price_scalar,
)
from marginengine.pricing.scenarios import (
    VOL_DOWN,
    VOL_NONE,
    VOL_UP,
    Scenarios,
    VolShockParams,
    scenario_values,
)

#: Derive's regular grid (+-18% in 4.5% steps, vol down / none / up) and tail scenarios,
#: as in v2-core's PMRM_2 portfolio cases.
_STEPS = [1.135, 1.09, 1.045, 1.0, 0.955, 0.91, 0.865]
GRID = Scenarios.of(
    [1.18] + [x for x in _STEPS for _ in range(3)] + [0.82, 0.34, 0.67, 1.5, 2.0, 3.0, 4.0],
    [VOL_UP] + [VOL_DOWN, VOL_NONE, VOL_UP] * len(_STEPS) + [VOL_UP] * 7)
VOL_SHOCK = VolShockParams(0.5, 0.275, 0.3, 0.13, 86_400, 0.45)


def make_book(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """A seeded book of ``n`` options."""
    f = np.full(n, 100.0)
    return {
        "forward": f,
        "strike": f * np.exp(rng.uniform(-1.0, 1.0, n)),
        "t": rng.uniform(1.0 / 365.0, 2.0, n),
        "vol": rng.uniform(0.2, 1.5, n),
        "rate": rng.uniform(0.0, 0.1, n),
        "is_call": rng.random(n) < 0.5,
    }


def best(fn: Callable[[], object], repeat: int) -> float:
    """Best wall time of ``repeat`` calls, in seconds."""
    result = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        result = min(result, time.perf_counter() - start)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--instruments", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=20_000,
                        help="instruments the scalar loops price (their rate scales)")
    parser.add_argument("--grid-instruments", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    book = make_book(rng, args.instruments)
    f, k, t, v, r, c = (book[x] for x in ("forward", "strike", "t", "vol", "rate", "is_call"))
    n = args.instruments
    m = min(args.sample, n)
    rows = [tuple(x) for x in zip(f[:m].tolist(), k[:m].tolist(), t[:m].tolist(),
                                  v[:m].tolist(), r[:m].tolist(), c[:m].tolist(), strict=True)]
    prices = price(f, k, t, v, r, c)
    price_rows = prices[:m].tolist()

    def scalar_prices() -> None:
        for row in rows:
            price_scalar(*row)

    def scalar_greeks() -> None:
        for row in rows:
            price_and_greeks_scalar(*row)

    def scalar_iv() -> None:
        for p, (ff, kk, tt, _, rr, cc) in zip(price_rows, rows, strict=True):
            implied_vol_scalar(p, ff, kk, tt, rr, cc)

    timings = {
        "price": (best(lambda: price(f, k, t, v, r, c), args.repeat),
                  best(scalar_prices, 1)),
        "price+greeks": (best(lambda: price_and_greeks(f, k, t, v, r, c), args.repeat),
                         best(scalar_greeks, 1)),
        "implied vol": (best(lambda: implied_vol(prices, f, k, t, r, c), args.repeat),
                        best(scalar_iv, 1)),
    }
    # A check that the figures measure the same computation: the twins agree.
    check = min(m, 1000)
    assert np.allclose(prices[:check], [price_scalar(*row) for row in rows[:check]],
                       rtol=1e-9, atol=1e-12)

    print(f"{n:,} instruments vectorized, {m:,} in the scalar loops "
          f"(Python {platform.python_version()}, NumPy {np.__version__})")
    print(f"{'kernel':<14}{'vectorized /s':>16}{'scalar /s':>14}{'ratio':>9}")
    figures: dict[str, dict[str, float]] = {}
    for name, (vec_s, scalar_s) in timings.items():
        vec_rate = n / vec_s
        scalar_rate = m / scalar_s
        figures[name] = {"vectorized_per_s": vec_rate, "scalar_per_s": scalar_rate,
                         "ratio": vec_rate / scalar_rate, "vectorized_seconds": vec_s,
                         "scalar_seconds": scalar_s}
        print(f"{name:<14}{vec_rate:>16,.0f}{scalar_rate:>14,.0f}{vec_rate / scalar_rate:>9.1f}")
    g = min(args.grid_instruments, n)
    grid_s = best(lambda: scenario_values(f[:g] * 20.0, 0.0, k[:g] * 20.0, t[:g] * 31_536_000,
                                          v[:g], r[:g], c[:g], GRID, VOL_SHOCK), args.repeat)
    cells = g * GRID.spot_shock.size
    figures["scenario grid"] = {"instruments": g, "scenarios": GRID.spot_shock.size,
                                "seconds": grid_s, "valuations_per_s": cells / grid_s}
    print(f"scenario grid: {g:,} instruments x {GRID.spot_shock.size} scenarios in "
          f"{grid_s * 1e3:.1f} ms ({cells / grid_s:,.0f} valuations/s)")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump({"instruments": n, "sample": m, "seed": args.seed,
                       "figures": figures}, out, indent=2)


if __name__ == "__main__":
    main()
