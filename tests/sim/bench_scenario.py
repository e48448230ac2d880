"""The scenario of ``benchmarks/simulate.py`` (a day of 1-minute blocks: a jump diffusion,
an AMM, a keeper with capital and a flash-loan keeper), for the tests that check the
keepers' shortcuts on the run the benchmark times. The benchmark keeps its own copy: it
runs from a checkout without the tests."""

from __future__ import annotations

from typing import Any


def bench(accounts: int, steps: int) -> dict[str, Any]:
    """The benchmark's cascade scenario at ``accounts`` borrowers and ``steps`` steps."""
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
