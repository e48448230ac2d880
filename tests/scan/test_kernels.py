"""The screen's kernels: worked numbers, soundness against the exact engine, the naive twin."""

from __future__ import annotations

import numpy as np
import pytest

from marginengine.config import protocol_from_dict
from marginengine.engine import Borrow, Deposit, Engine, SetPrice
from marginengine.fixedpoint import PRICE_UNIT
from marginengine.scan import RiskBook
from marginengine.scan.kernels import (
    ULP,
    ScreenBounds,
    candidates,
    classify,
    error_after_update,
    health,
    union_rows,
    update_ratio,
)
from marginengine.scan.naive import naive_health, naive_weights


def test_classify_when_clear_cases_then_below_band_above():
    b = ScreenBounds(threshold=1.0, eps=1e-12, rel=1e-4, abs_coll=10.0, abs_debt=10.0)
    cw = np.array([90.0e8, 100.0e8, 100.0e8 * (1 + 5e-5), 110.0e8, 5.0, 50.0])
    dv = np.array([100.0e8, 100.0e8, 100.0e8, 100.0e8, 0.0, 49.0])
    sure, band = classify(cw, dv, b)
    # 0.9: below; exactly 1 and +0.005%: inside the 1/10,000 averaged-threshold margin;
    # 1.1: above; no debt: never below; 50/49 with 10 units of slack each side: band
    assert sure.tolist() == [True, False, False, False, False, False]
    assert band.tolist() == [False, True, True, False, False, True]
    assert set(candidates(cw, dv, b).tolist()) >= {0, 1, 2, 5}
    assert 3 not in candidates(cw, dv, b).tolist()


def test_error_after_update_when_weight_halves_then_error_doubles_plus_rounding():
    assert update_ratio(2.0, 1.0) == 2.0
    assert update_ratio(1.0, 2.0) == 1.0
    assert update_ratio(1.0, 0.0) == float("inf")
    assert error_after_update(1e-15, 2.0) == pytest.approx(2e-15 + 8 * ULP)


def test_health_when_no_debt_then_inf():
    assert health(np.array([1.0, 0.0, 3.0]), np.array([2.0, 0.0, 0.0])).tolist() == [
        0.5, float("inf"), float("inf")]


def test_union_rows_when_overlapping_then_sorted_distinct():
    parts = [np.array([5, 1, 3]), np.array([3, 9]), np.array([], dtype=np.int64)]
    assert union_rows(parts).tolist() == [1, 3, 5, 9]
    assert union_rows([]).tolist() == []


@pytest.mark.parametrize("preset", ["aave-v3", "compound-v3"])
@pytest.mark.parametrize(("collateral", "amount", "dust"), [
    ("WETH", 10**18 + 12_345, False), ("WBTC", 3, True), ("WBTC", 123_456_789, False),
    ("WETH", 10**13, False),
])
def test_classify_when_price_swept_across_liquidation_point_then_sure_decisions_exact(
    preset: str, collateral: str, amount: int, dust: bool
):
    config = protocol_from_dict({"preset": preset})
    debt_asset = "USDC"
    engine = Engine(config)
    prices = {"WETH": 2_000, "WBTC": 60_000, "USDC": 1, "DAI": 1, "COMP": 50}
    for asset in config.markets:
        engine.apply(SetPrice(asset, prices[asset] * PRICE_UNIT))
    engine.apply(Deposit("lp", debt_asset, 10**15))
    if config.compound is not None:  # at least base_borrow_min (100 USDC) of debt
        amount = max(amount, 200 * config.markets[collateral].unit // prices[collateral])
    engine.apply(Deposit("a", collateral, amount))
    data = engine.account_data("a")
    owed = (data.initial_value - data.total_debt) * 10**6 // PRICE_UNIT
    assert engine.apply(Borrow("a", debt_asset, max(owed, 1))).accepted
    book = RiskBook.from_engine(engine)
    # the exact liquidation price, by bisection on the engine's rule
    lo, hi = 1, engine.prices[collateral] * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        engine.apply(SetPrice(collateral, mid))
        lo, hi = (mid, hi) if engine.is_liquidatable("a") else (lo, mid)
    steps = [0, 1, 2, 5] + [int(hi * f) for f in (1e-7, 1e-6, 1e-5, 1e-4, 3e-4, 1e-3, 1e-2,
                                                 0.1, 0.3)]
    seen = {"below": 0, "band": 0, "above": 0}
    row = np.array([book.accounts.row("a")])
    for step in steps:
        for price in (hi + step, hi - 1 - step):
            if price <= 0:
                continue
            engine.apply(SetPrice(collateral, price))
            cw, dv = book.sums(row)
            sure, band = classify(cw, dv, book.bounds(1.0))
            exact = engine.is_liquidatable("a")
            if sure[0]:
                assert exact, f"surely below at {price} but the engine says healthy"
                seen["below"] += 1
            elif band[0]:
                seen["band"] += 1
            else:
                assert not exact, f"surely above at {price} but the engine liquidates"
                seen["above"] += 1
    assert seen["below"] and seen["band"]
    # a dust account (3 satoshis) stays in the band: its rounding slack is ~30% of it
    assert seen["above"] or dust


def test_book_health_when_synthetic_then_equals_naive_twin():
    from marginengine.scan.synthetic import generate_book

    synthetic = generate_book(2_000, 10, seed=11)
    book = synthetic.to_book(threads=1)
    sample = np.arange(0, 2_000, 7)
    positions = synthetic.account_positions(sample)
    twin = naive_health(positions, naive_weights(synthetic.config, synthetic.prices))
    rows = book.accounts.rows(list(twin))
    ours = book.health(rows)
    expected = np.array(list(twin.values()))
    finite = np.isfinite(expected)
    assert np.array_equal(np.isfinite(ours), finite)
    assert np.allclose(ours[finite], expected[finite], rtol=1e-13)


def test_above_with_debt_when_random_books_then_classify_neither_below_nor_band():
    # The screen's close-factor proof asks only "surely above t"; for every account with
    # debt that is exactly classify's complement of (below | band) at t, near the edges too.
    from dataclasses import replace

    from hypothesis import given, settings
    from hypothesis import strategies as st

    from marginengine.scan.kernels import above_with_debt, classify

    @settings(max_examples=200, deadline=None)
    @given(seed=st.integers(0, 2**32 - 1), t=st.sampled_from([0.95, 0.95 * (1 + 1e-9), 1.0]),
           eps=st.sampled_from([0.0, 1e-15, 1e-12, 1e-6]), rel=st.sampled_from([0.0, 1e-4]),
           abs_coll=st.sampled_from([0.0, 1.0, 1e4]), abs_debt=st.sampled_from([0.0, 3.0]),
           low=st.sampled_from([0.0, 2.0]))
    def check(seed: int, t: float, eps: float, rel: float, abs_coll: float, abs_debt: float,
              low: float) -> None:
        rng = np.random.default_rng(seed)
        dv = rng.integers(1, 10**12, 500).astype(float) * rng.random(500)
        # Health ratios packed around t, so edge cases fall on both sides.
        cw = dv * t * (1 + rng.normal(0, 1e-6, 500)) + rng.normal(0, 2.0, 500)
        b = ScreenBounds(1.0, eps, rel, abs_coll, abs_debt, low)
        below, band = classify(cw, dv, replace(b, threshold=t))
        has = dv > 0
        got = above_with_debt(cw, dv, b, t)
        assert (got[has] == (~below & ~band)[has]).all()

    check()
