"""Crowding: the worked example of docs/margin.md, the kernel against its exact twin, errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from marginengine.errors import FieldError
from marginengine.margin.adaptive import cp_execution_slippage
from marginengine.margin.crowding import (
    BookAccount,
    ConstantProductDepth,
    binned_heatmap_kernel,
    heatmap_kernel,
    liquidation_heatmap,
    liquidation_price,
)

ETH = 10**18
USD = 10**8

# docs/margin.md, "Worked example": WETH at 2,500 USD, a pool of 400 WETH / 1,000,000 USD,
# a 5% bonus, no fee; five accounts at an 80% threshold (E has no debt).
BOOK = [
    BookAccount(10 * ETH, 16_000 * USD, 8_000),  # A: p = 16,000 / (10 * 0.8) = 2,000
    BookAccount(20 * ETH, 25_600 * USD, 8_000),  # B: p = 25,600 / 16 = 1,600
    BookAccount(5 * ETH, 6_400 * USD, 8_000),  # C: p = 6,400 / 4 = 1,600
    BookAccount(40 * ETH, 40_960 * USD, 8_000),  # D: p = 40,960 / 32 = 1,280
    BookAccount(50 * ETH, 0, 8_000),  # E: no debt, never liquidatable
]
POOL = ConstantProductDepth(400 * ETH, 2_500 * USD, ETH)


def book_arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (np.array([a.collateral for a in BOOK], dtype=np.float64),
            np.array([a.debt_value for a in BOOK], dtype=np.float64),
            np.array([a.lt_bps for a in BOOK], dtype=np.float64))


def test_worked_example_when_built_then_levels_stacks_and_depth_as_in_the_doc() -> None:
    heat = liquidation_heatmap(BOOK, POOL, 500)
    assert heat.liquidation_prices == (2_000 * USD, 1_600 * USD, 1_600 * USD, 1_280 * USD, 0)
    # x(L) = 400 sqrt(2500 / L): 447.2136, 500, 559.0170 WETH; A(L) = x(L) * 0.05 / 0.95.
    assert [(lv.price, lv.accounts, lv.stacked, lv.absorbable) for lv in heat.levels] == [
        (2_000 * USD, 1, 10 * ETH, 23_537_557_657_892_523_120),
        (1_600 * USD, 3, 35 * ETH, 26_315_789_473_684_210_526),
        (1_280 * USD, 4, 75 * ETH, 29_421_947_072_365_653_900),
    ]
    assert [lv.price for lv in heat.cliffs] == [1_600 * USD, 1_280 * USD]


def test_worked_example_when_addons_then_stack_impact_beyond_bonus_less_own() -> None:
    heat = liquidation_heatmap(BOOK, POOL, 500)
    # A: stack 10 into 447.21: impact 2.19% < 5%: nothing.
    # B, C: stack 35 into 500: 35/535 = 6.5421%; own 20/520 and 5/505 are under 5%:
    #       add-on 1.5421% -> 15,421 ppm.
    # D: stack 75 into 559.017: 11.8294%; own 40/599.017 = 6.6776% pays 1.6776% already:
    #    add-on 11.8294% - 5% - 1.6776% = 5.1518% -> 51,518 ppm.
    assert heat.addon_ppm == (0, 15_421, 15_421, 51_518, 0)
    assert cp_execution_slippage(35 * ETH, 500 * ETH) == pytest.approx(35 / 535)


def test_worked_example_when_attacking_cliffs_then_closed_form_cost_and_bonus_profit() -> None:
    heat = liquidation_heatmap(BOOK, POOL, 500)
    first, second = heat.attacks
    # To 1,600: a = sqrt(2500/1600) = 1.25; sell 400 * 0.25 = 100 WETH (250,000 USD at
    # 2,500) for 400 * (2500 - 2000) = 200,000 USD: a loss of 50,000 = 400 * 2500 * 0.25^2
    # / 1.25. Profit at 1,600: A's 16,000 of collateral only covers its debt (0); B seizes
    # min(32,000, 26,880) - 25,600 = 1,280; C min(8,000, 6,720) - 6,400 = 320: 1,600 USD.
    assert (first.price, first.base_to_sell, first.capital_value, first.push_cost,
            first.profit) == (1_600 * USD, 100 * ETH, 250_000 * USD, 50_000 * USD, 1_600 * USD)
    assert first.net == -48_400 * USD
    # To 1,280: a = 1.3975425; sell 159.0170 WETH (397,542.49 USD); loss
    # 1e6 * 0.3975425^2 / 1.3975425 = 113,084.24 USD; only D pays: 51,200 vs 43,008 -> 2,048.
    assert (second.price, second.base_to_sell, second.capital_value, second.push_cost,
            second.profit) == (1_280 * USD, 159_016_994_374_947_424_102, 39_754_248_593_736,
                               11_308_423_873_730, 2_048 * USD)


def test_worked_example_when_kernel_then_matches_exact_twin() -> None:
    q, d, lt = book_arrays()
    k = heatmap_kernel(q, d, lt, base_unit=1e18, base_reserve=400e18, price=2500e8,
                       bonus_bps=500)
    assert k.order.tolist() == [0, 1, 2, 3]
    assert k.levels.tolist() == [2e11, 1.6e11, 1.6e11, 1.28e11]
    assert k.stacked.tolist() == [10e18, 35e18, 35e18, 75e18]
    assert k.cliff.tolist() == [False, True, True, True]
    assert k.addon_ppm.tolist() == pytest.approx([0, 15_420.5607, 15_420.5607, 51_517.2904, 0],
                                                 abs=1e-3)


def test_worked_example_when_binned_kernel_then_same_levels_on_a_1bp_grid() -> None:
    q, d, lt = book_arrays()
    k = binned_heatmap_kernel(q, d, lt, base_unit=1e18, base_reserve=400e18, price=2500e8,
                              bonus_bps=500, bin_bps=1)
    # ln(2000 / 1600) / ln(1.0001) = 2,231.5 and ln(2000 / 1280) / ln(1.0001) = 4,463.1: bins
    # 2,231 and 4,463.
    assert k.bin_of.tolist() == [0, 2_231, 2_231, 4_463, -1]
    assert k.stacked[[0, 2_231, 4_463]].tolist() == [10e18, 35e18, 75e18]
    assert k.cliff[[0, 2_231, 4_463]].tolist() == [False, True, True]
    # The add-ons read their own depth: the same as the exact twin, to float rounding.
    assert k.addon_ppm.tolist() == pytest.approx([0, 15_420.5607, 15_420.5607, 51_517.2904, 0],
                                                 abs=1e-3)
    # 30% bins lump B and C into A's bin (2,000 / 1,600 = 1.25 < 1.3) and D into the next:
    # every stack grows (conservative).
    wide = binned_heatmap_kernel(q, d, lt, base_unit=1e18, base_reserve=400e18, price=2500e8,
                                 bonus_bps=500, bin_bps=3_000)
    assert wide.bin_of.tolist() == [0, 0, 0, 1, -1]
    assert (wide.addon_ppm >= k.addon_ppm - 1e-9).all()
    # Without E every account is in the heatmap (the kernels' no-gather path): same rows.
    dense = binned_heatmap_kernel(q[:4], d[:4], lt[:4], base_unit=1e18, base_reserve=400e18,
                                  price=2500e8, bonus_bps=500)
    assert dense.bin_of.tolist() == k.bin_of.tolist()[:4]
    assert dense.addon_ppm.tolist() == k.addon_ppm.tolist()[:4]
    sorted_dense = heatmap_kernel(q[:4], d[:4], lt[:4], base_unit=1e18, base_reserve=400e18,
                                  price=2500e8, bonus_bps=500)
    assert sorted_dense.stacked.tolist() == [10e18, 35e18, 35e18, 75e18]


def test_liquidation_price_when_not_integer_then_ceiling_is_the_strict_bound() -> None:
    # q P LT / u < D  <=>  P < p with p = ceil(D u / (q LT)): 1 WETH owing 1,000 USD at 82.5%.
    acct = BookAccount(ETH, 1_000 * USD, 8_250)
    p = liquidation_price(acct, ETH)
    assert p == 121_212_121_213  # 1,212.12121213 USD
    assert ETH * (p - 1) * 8_250 < acct.debt_value * ETH * 10_000  # liquidatable just below
    assert ETH * p * 8_250 >= acct.debt_value * ETH * 10_000  # not at p


def test_book_when_no_debt_then_empty_heatmap_and_zero_addons() -> None:
    assert liquidation_heatmap([], POOL, 500).levels == ()
    zeros = np.zeros(3)
    lt = np.full(3, 8_000.0)
    k = heatmap_kernel(zeros, zeros, lt, base_unit=1e18, base_reserve=1e18, price=1e8,
                       bonus_bps=500)
    assert k.levels.size == 0 and k.addon_ppm.tolist() == [0.0, 0.0, 0.0]
    binned = binned_heatmap_kernel(zeros, zeros, lt, base_unit=1e18, base_reserve=1e18,
                                   price=1e8, bonus_bps=500)
    assert binned.edges.size == 0 and binned.bin_of.tolist() == [-1, -1, -1]


def test_fee_when_above_bonus_then_every_level_absorbs_nothing() -> None:
    pool = ConstantProductDepth(400 * ETH, 2_500 * USD, ETH, fee_bps=600)
    heat = liquidation_heatmap(BOOK, pool, 500)
    assert all(lv.absorbable == 0 and lv.is_cliff for lv in heat.levels)


accounts_strategy = st.lists(
    st.builds(BookAccount, st.integers(0, 10**6).map(lambda v: v * 10**15),
              # Debts of 0 or at least 1 USD: liquidation prices far above the 1e-8 unit, so
              # the exact twin's ceiling moves them by a negligible fraction.
              st.one_of(st.just(0), st.integers(10**8, 10**14)), st.integers(5_000, 9_500)),
    min_size=1, max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(accounts_strategy, st.integers(1, 10**4), st.integers(0, 2_000), st.integers(0, 100))
@example([BookAccount(n * 10**15, 10**8, lt) for n, lt in
          ((1, 5_000), (719, 5_000), (5_167, 5_000), (15_424, 5_000), (229_087, 8_400),
           (265_143, 5_000))], 1, 0, 0)
def test_kernel_when_random_book_then_agrees_with_exact_twin(
    book: list[BookAccount], reserve_eth: int, bonus: int, fee: int
) -> None:
    pool = ConstantProductDepth(reserve_eth * ETH, 2_000 * USD, ETH, fee_bps=fee)
    heat = liquidation_heatmap(book, pool, bonus)
    k = heatmap_kernel(
        np.array([a.collateral for a in book], dtype=np.float64),
        np.array([a.debt_value for a in book], dtype=np.float64),
        np.array([a.lt_bps for a in book], dtype=np.float64),
        base_unit=1e18, base_reserve=float(reserve_eth) * 1e18, price=2000e8, bonus_bps=bonus,
        fee_bps=fee,
    )
    exact_prices = [p for p in heat.liquidation_prices if p > 0]
    assert sorted(k.levels.tolist(), reverse=True) == pytest.approx(
        sorted(exact_prices, reverse=True), rel=1e-12, abs=1.0)
    stacked = {lv.price: lv.stacked for lv in heat.levels}
    prices = heat.liquidation_prices
    for row, i in enumerate(k.order.tolist()):
        assert k.stacked[row] == pytest.approx(stacked[prices[i]], rel=1e-9)
    # The float kernel loses relative precision when the stacked sales dwarf the pool (a
    # 1-ETH pool under hundreds of ETH of liquidations: 1.017 ppm on 184,171 ppm, found by
    # hypothesis), so the agreement is one ppm plus a relative 1e-5.
    assert k.addon_ppm.tolist() == pytest.approx(list(heat.addon_ppm), rel=1e-5, abs=1.001)
    binned = binned_heatmap_kernel(
        np.array([a.collateral for a in book], dtype=np.float64),
        np.array([a.debt_value for a in book], dtype=np.float64),
        np.array([a.lt_bps for a in book], dtype=np.float64),
        base_unit=1e18, base_reserve=float(reserve_eth) * 1e18, price=2000e8, bonus_bps=bonus,
        fee_bps=fee, bin_bps=10,
    )
    # Conservative: never a smaller add-on than the exact one (beyond float rounding).
    exact_addon = np.array(heat.addon_ppm, dtype=np.float64)
    assert (binned.addon_ppm >= exact_addon - 1.001 - 1e-5 * exact_addon).all()


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: liquidation_heatmap([BookAccount(-1, 0, 8_000)], POOL, 500),
         "accounts.0.collateral"),
        (lambda: liquidation_heatmap([BookAccount(1, 1, 0)], POOL, 500), "accounts.0.lt_bps"),
        (lambda: liquidation_heatmap([BookAccount(1, 1.5, 8_000)], POOL, 500),  # type: ignore[arg-type]
         "accounts.0.debt_value"),
        (lambda: liquidation_heatmap(BOOK, POOL, 10_000), "bonus_bps"),
        (lambda: ConstantProductDepth(0, 2_500 * USD, ETH), "base_reserve"),
        (lambda: ConstantProductDepth(1, 2_500 * USD, ETH, fee_bps=10_000), "fee_bps"),
        (lambda: heatmap_kernel(np.zeros(2), np.zeros(3), np.zeros(2), base_unit=1.0,
                                base_reserve=1.0, price=1.0, bonus_bps=500), "collateral"),
        (lambda: heatmap_kernel(np.ones(1), np.ones(1), np.ones(1), base_unit=1.0,
                                base_reserve=1.0, price=1.0, bonus_bps=500, fee_bps=10_000),
         "fee_bps"),
        (lambda: binned_heatmap_kernel(np.ones(1), np.ones(1), np.ones(1), base_unit=1.0,
                                       base_reserve=1.0, price=1.0, bonus_bps=500, bin_bps=0),
         "bin_bps"),
    ],
)
def test_bad_input_when_given_then_field_error(call: object, field: str) -> None:
    with pytest.raises(FieldError) as err:
        call()  # type: ignore[operator]
    assert err.value.field == field
