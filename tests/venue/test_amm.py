"""Constant-product pool: Uniswap v2 swaps in exact integers, worked by hand on a
1,000 ETH / 2,000,000 USDC pool (mid 2,000), rounding in favour of the pool."""

import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marginengine.errors import MarginEngineError
from marginengine.venue import ConstantProductPool, VenueError
from tests.conftest import ETH, USD, USDC


def eth_pool(fee_bps: int = 30) -> ConstantProductPool:
    return ConstantProductPool(1_000 * ETH, 2_000_000 * USDC, ETH, USDC, fee_bps)


def test_price_when_1000_eth_against_2m_usdc_then_2000_usd_with_8_decimals():
    pool = eth_pool()
    assert pool.price() == 2_000 * USD
    assert pool.mid() == 2_000 * USD
    assert pool.price_float() == 2_000.0
    assert pool.invariant() == 1_000 * ETH * 2_000_000 * USDC


def test_quote_out_when_selling_10_eth_with_03pct_fee_then_uniswap_amount_rounded_down():
    pool = eth_pool()
    # Uniswap v2 getAmountOut: 997 * in * Rout / (1000 * Rin + 997 * in)
    #   = 997 * 10e18 * 2e12 / (1000e18 * 1000 + 997 * 10e18)
    #   = 1.994e34 / 1.00997e24 = 19,743.1606879... USDC -> 19,743.160687 (rounded down).
    uniswap = (997 * 10 * ETH * 2_000_000 * USDC) // (1_000 * ETH * 1000 + 997 * 10 * ETH)
    assert uniswap == 19_743_160_687
    assert pool.quote_out(10 * ETH) == 19_743_160_687
    # 1,974.32 USDC per ETH: 1.28% below the mid (0.3% fee, ~0.99% impact).
    assert pool.price_impact_bps(10 * ETH) == 129


def test_sell_base_when_10_eth_sold_then_reserves_move_and_k_grows_by_the_fee():
    pool = eth_pool()
    k_before = pool.invariant()
    out = pool.sell_base(10 * ETH)
    assert out == 19_743_160_687
    assert pool.base_reserve == 1_010 * ETH
    assert pool.quote_reserve == 2_000_000 * USDC - 19_743_160_687 == 1_980_256_839_313
    assert pool.invariant() > k_before
    # New mid: 1,980,256.839313 / 1,010 = 1,960.65033595... USDC per ETH.
    assert pool.price() == 196_065_033_595


def test_buy_base_when_20000_usdc_paid_then_eth_out_rounded_down():
    pool = eth_pool()
    # 997 * 20,000e6 * 1,000e18 / (1000 * 2,000,000e6 + 997 * 20,000e6)
    #   = 1.994e34 / 2.01994e15 = 9.871580343970612988... ETH, rounded down to the wei.
    expected = (997 * 20_000 * USDC * 1_000 * ETH) // (1000 * 2_000_000 * USDC
                                                       + 997 * 20_000 * USDC)
    assert expected == 9_871_580_343_970_612_988
    assert pool.base_out(20_000 * USDC) == expected
    assert pool.buy_base(20_000 * USDC) == expected
    assert pool.base_reserve == 1_000 * ETH - expected
    assert pool.quote_reserve == 2_020_000 * USDC


def test_base_in_for_when_asking_for_a_quote_amount_then_least_input_rounded_up():
    pool = eth_pool()
    # getAmountIn: Rin * out * 1000 / ((Rout - out) * 997), rounded up. For the 19,743.160687
    # USDC that 10 ETH fetch it is a hair below 10 ETH (10 ETH fetched 19,743.1606879...).
    needed = pool.base_in_for(19_743_160_687)
    assert needed == math.ceil(Fraction(1_000 * ETH * 19_743_160_687 * 1000,
                                        (2_000_000 * USDC - 19_743_160_687) * 997))
    assert needed <= 10 * ETH
    assert pool.quote_out(needed) >= 19_743_160_687
    assert pool.quote_out(needed - 1) < 19_743_160_687
    # And the other way: 10 ETH out costs 2e12 * 10e18 * 1000 / (990e18 * 997)
    # = 2e34 / 9.8703e23 = 20,262.808628... USDC, rounded up (1.31% above the mid).
    assert pool.quote_in_for(10 * ETH) == 20_262_808_628


def test_price_impact_when_size_is_zero_then_the_fee():
    assert eth_pool(30).price_impact_bps(0) == 30
    assert eth_pool(0).price_impact_bps(0) == 0
    # With no fee, the impact of selling x into reserve R is x / (R + x): 10 / 1010.
    assert eth_pool(0).price_impact_bps(10 * ETH) == math.ceil(Fraction(10 * 10_000, 1010))


def test_sellable_within_when_no_fee_then_r_times_inverse_sqrt_minus_one():
    pool = eth_pool(0)
    # Post-trade mid R^2 / (R + x)^2 >= 0.99: x = R (1 / sqrt(0.99) - 1) = 5.03781525... ETH.
    x = pool.sellable_within(100)
    assert x == math.isqrt((1_000 * ETH) ** 2 * 10_000 // 9_900) - 1_000 * ETH
    assert x == 5_037_815_259_212_075_489
    assert abs(x / ETH - 1_000 * (1 / math.sqrt(0.99) - 1)) < 1e-9


def test_sellable_within_when_fee_30_then_a_little_more_because_the_fee_stays_in_the_pool():
    pool = eth_pool(30)
    x = pool.sellable_within(100)
    assert x == 5_045_383_362_750_532_049
    assert x > eth_pool(0).sellable_within(100)
    assert pool.sellable_within(0) == 0


def _exact_mid_after(pool: ConstantProductPool, base_in: int) -> Fraction:
    """The post-trade mid on the exact curve (output not rounded), reserve ratio."""
    gamma = Fraction(10_000 - pool.fee_bps, 10_000)
    out = gamma * base_in * pool.quote_reserve / (pool.base_reserve + gamma * base_in)
    return (pool.quote_reserve - out) / (pool.base_reserve + base_in)


def _brute_force_sellable(pool: ConstantProductPool, slippage_bps: int) -> int:
    """Largest x whose exact post-trade mid is within the slippage: a binary search."""
    floor_mid = Fraction(pool.quote_reserve, pool.base_reserve) * Fraction(
        10_000 - slippage_bps, 10_000)
    low, high = 0, 4 * pool.base_reserve * 10_000
    while low < high:
        middle = (low + high + 1) // 2
        if _exact_mid_after(pool, middle) >= floor_mid:
            low = middle
        else:
            high = middle - 1
    return low


def test_sellable_within_100bps_when_1000_eth_pool_then_matches_brute_force():
    for fee in (0, 5, 30, 100):
        pool = eth_pool(fee)
        assert pool.sellable_within(100) == _brute_force_sellable(pool, 100)


reserves = st.integers(min_value=1, max_value=10**24)


@settings(max_examples=150, deadline=None)
@given(base=reserves, quote=reserves, fee=st.integers(0, 1000),
       slippage=st.integers(0, 9_999))
def test_sellable_within_closed_form_equals_search_and_the_real_sale_stays_within(
        base, quote, fee, slippage):
    pool = ConstantProductPool(base, quote, ETH, USDC, fee)
    x = pool.sellable_within(slippage)
    assert x == _brute_force_sellable(pool, slippage)
    floor_mid = pool.mid() * Fraction(10_000 - slippage, 10_000)
    pool.sell_base(x)
    assert pool.mid() >= floor_mid  # the pool's rounding only helps


@settings(max_examples=60, deadline=None)
@given(base=st.integers(1, 3_000), quote=st.integers(1, 3_000), fee=st.integers(0, 300),
       slippage=st.integers(0, 9_000))
def test_sellable_within_on_small_pools_equals_a_linear_scan(base, quote, fee, slippage):
    pool = ConstantProductPool(base, quote, 1, 1, fee)
    floor_mid = Fraction(quote, base) * Fraction(10_000 - slippage, 10_000)
    scan = 0
    while _exact_mid_after(pool, scan + 1) >= floor_mid:
        scan += 1
    assert pool.sellable_within(slippage) == scan


@settings(max_examples=100, deadline=None)
@given(base=reserves, quote=reserves, fee=st.integers(0, 1000),
       sizes=st.tuples(st.integers(0, 10**25), st.integers(0, 10**25)))
def test_price_impact_is_monotone_in_size(base, quote, fee, sizes):
    pool = ConstantProductPool(base, quote, ETH, USDC, fee)
    small, large = sorted(sizes)
    assert fee <= pool.price_impact_bps(small) <= pool.price_impact_bps(large) <= 10_000


trade = st.tuples(st.sampled_from(["sell", "buy"]), st.integers(0, 10**24))


@settings(max_examples=100, deadline=None)
@given(base=reserves, quote=reserves, fee=st.integers(0, 1000),
       trades=st.lists(trade, max_size=8))
def test_k_never_decreases_and_reserves_stay_positive(base, quote, fee, trades):
    pool = ConstantProductPool(base, quote, ETH, USDC, fee)
    for side, amount in trades:
        k = pool.invariant()
        out = pool.sell_base(amount) if side == "sell" else pool.buy_base(amount)
        assert out >= 0
        assert pool.invariant() >= k
        assert pool.base_reserve > 0 and pool.quote_reserve > 0


@settings(max_examples=100, deadline=None)
@given(base=reserves, quote=st.integers(2, 10**24), fee=st.integers(0, 1000),
       data=st.data())
def test_base_in_for_is_the_least_input_that_fetches_the_output(base, quote, fee, data):
    pool = ConstantProductPool(base, quote, ETH, USDC, fee)
    wanted = data.draw(st.integers(1, quote - 1))
    needed = pool.base_in_for(wanted)
    assert pool.quote_out(needed) >= wanted
    assert pool.quote_out(needed - 1) < wanted


def test_copy_when_copy_trades_then_original_unchanged():
    pool = eth_pool()
    twin = pool.copy()
    twin.sell_base(100 * ETH)
    assert pool == eth_pool()
    assert twin != pool


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"base_reserve": 0}, "base_reserve"),
    ({"base_reserve": -5}, "base_reserve"),
    ({"quote_reserve": 0}, "quote_reserve"),
    ({"quote_reserve": 1.5}, "quote_reserve"),
    ({"base_unit": 0}, "base_unit"),
    ({"quote_unit": True}, "quote_unit"),
    ({"fee_bps": -1}, "fee_bps"),
    ({"fee_bps": 10_000}, "fee_bps"),
])
def test_pool_when_built_with_bad_value_then_error_names_the_field(kwargs, field):
    args = {"base_reserve": 1_000 * ETH, "quote_reserve": 2_000_000 * USDC,
            "base_unit": ETH, "quote_unit": USDC} | kwargs
    with pytest.raises(VenueError, match=f"^{field}: ") as info:
        ConstantProductPool(**args)
    assert info.value.field == field


@pytest.mark.parametrize(("method", "argument", "field"), [
    ("sell_base", -1, "base_in"),
    ("sell_base", 1.0, "base_in"),
    ("buy_base", -1, "quote_in"),
    ("quote_out", -1, "base_in"),
    ("base_in_for", -1, "quote_out"),
    ("base_in_for", 2_000_000 * USDC, "quote_out"),
    ("quote_in_for", 1_000 * ETH, "base_out"),
    ("price_impact_bps", -1, "base_in"),
    ("sellable_within", -1, "slippage_bps"),
    ("sellable_within", 10_000, "slippage_bps"),
])
def test_pool_when_called_with_bad_amount_then_value_error_and_pool_unchanged(
        method, argument, field):
    pool = eth_pool()
    with pytest.raises(ValueError, match=f"^{field}: "):
        getattr(pool, method)(argument)
    assert pool == eth_pool()


def test_venue_error_is_a_marginengine_error_and_a_value_error():
    error = VenueError("base_in", "must be non-negative (got -1)")
    assert isinstance(error, MarginEngineError)
    assert isinstance(error, ValueError)
    assert str(error) == "base_in: must be non-negative (got -1)"
