"""The book's capital efficiency in the cascade summary, and ES99 as the mean of the worst
1% of runs (counted, so runs tied at a zero 99th percentile do not dilute it)."""

from __future__ import annotations

import numpy as np
import pytest

from marginengine.sim.cascade import run_cascade
from marginengine.sim.montecarlo import expected_shortfall, statistics


def one_account(ltv: str, ratio: str) -> dict:
    # One borrower of 1,000,000 USDC against WETH at a fixed collateralization (sigma 0).
    return {
        "kind": "cascade", "name": "cap", "seed": 3, "steps": 1, "step_seconds": 600,
        "keepers": [],
        "protocol": {"preset": "aave-v3", "markets": {
            "WETH": {"ltv": ltv, "liquidation_threshold": "0.95", "liquidation_bonus": "0.05"},
            "USDC": {}}},
        "prices": {"USDC": 1},
        "price": {"asset": "WETH", "process": "path", "path": [2000, 2000]},
        "book": {"accounts": 1, "whales": 0, "total_debt": 1_000_000,
                 "collateralization_median": ratio, "collateralization_sigma": 0,
                 "min_collateralization": 1, "debt_asset": "USDC"},
    }


def test_capacity_when_borrow_within_ltv_then_power_is_collateral_times_ltv():
    s = run_cascade(one_account("0.8", "1.5"), traces=False, amplification=False).summary
    # Collateral worth 1,500,000 USD (less the truncation of whole wei), LTV 80%.
    assert s["borrowing_power"] == pytest.approx(1_200_000, rel=1e-9)
    assert s["borrowed_value"] == pytest.approx(1_000_000, rel=1e-9)
    assert s["borrow_demand"] == 1_000_000
    assert s["demand_served"] == pytest.approx(1.0, rel=1e-9)
    # Debt over borrowing power, as the backtest measures it: 1,000,000 / 1,200,000.
    assert s["borrow_usage"] == pytest.approx(1 / 1.2, rel=1e-9)


def test_capacity_when_borrow_above_ltv_then_refused_and_usage_zero():
    # 1/1.5 = 66.7% of the collateral asked for, LTV 60%: the borrow is refused.
    s = run_cascade(one_account("0.6", "1.5"), traces=False, amplification=False).summary
    assert s["setup_rejected"] == 1
    assert s["borrowed_value"] == 0
    assert s["borrow_usage"] == 0 and s["demand_served"] == 0
    assert s["borrowing_power"] == pytest.approx(900_000, rel=1e-9)


def test_es99_when_most_runs_have_no_bad_debt_then_mean_of_worst_one_percent():
    # 1,000 runs, 3 with bad debt (30, 20, 10): the worst 1% are the 10 largest, so ES99 is
    # 60 / 10 = 6. The old cut ">= the 99th percentile (= 0)" took all 1,000 runs: 0.06.
    values = np.zeros(1_000)
    values[:3] = [30.0, 20.0, 10.0]
    assert float(expected_shortfall(values, 99)) == 6.0
    stats = statistics([{"bad_debt": float(v)} for v in values], seed=1, resamples=200)
    assert stats["es99_bad_debt"] == 6.0
    assert stats["estimates"]["es99_bad_debt"]["tail_observations"] == 10
