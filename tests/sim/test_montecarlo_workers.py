"""Monte Carlo workers fork from a frozen heap (sim/montecarlo.frozen_heap): a parent
holding a large engine made every forked worker's garbage collections walk, and copy page
by page, the heap it inherited (benchmarks/simulate.py: 2 workers no faster than 1)."""

import gc

from marginengine.sim.montecarlo import frozen_heap, iterate_process


def _tiny() -> dict[str, object]:
    return {"kind": "cascade", "name": "t", "seed": 1, "steps": 6, "step_seconds": 600,
            "protocol": {"preset": "aave-v3", "markets": {"WETH": {}, "USDC": {}}},
            "prices": {"USDC": 1},
            "price": {"asset": "WETH", "process": "path", "path": [2000, 1800, 1500, 1400]},
            "venue": {"kind": "amm", "base_reserve": 2000},
            "gas": {"kind": "constant", "gwei": 10},
            "book": {"accounts": 30, "total_debt": 300_000, "whales": 1,
                     "collateralization_median": 1.4, "collateralization_sigma": 0.15,
                     "min_collateralization": 1.2, "debt_asset": "USDC",
                     "collateral_asset": "WETH"},
            "keepers": [{"id": "keeper", "capital": 1e8}]}


def test_frozen_heap_when_entered_then_parent_objects_frozen_and_released_after() -> None:
    before = gc.get_freeze_count()
    held = [object() for _ in range(1000)]  # the parent's state
    with frozen_heap():
        assert gc.get_freeze_count() >= before + len(held)
    assert gc.get_freeze_count() == 0
    assert held


def test_monte_carlo_when_two_workers_then_same_rows_as_inline() -> None:
    inline = list(iterate_process(_tiny(), 3, 4, 1))
    pooled = list(iterate_process(_tiny(), 3, 4, 2))
    assert pooled == inline
    assert gc.get_freeze_count() == 0  # the heap is released once the pool is done
