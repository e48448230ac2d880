"""Arbitrage: the pool's mid moves `speed` of the way, in price, to the edge of the fee band
around the external price (to the external price itself when the fee is zero); no trade
inside the band; the arbitrageur never loses."""

import math
from fractions import Fraction

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from marginengine.venue import (
    ConstantProductPool,
    DepthCurve,
    DepthVenue,
    VenueError,
    arbitrage,
    arbitrage_depth,
    arbitrage_trade,
    fee_band,
    trade_profit,
)
from marginengine.venue.amm import largest_input_below, largest_input_within
from tests.conftest import ETH, USD, USDC


def eth_pool(fee_bps: int = 30) -> ConstantProductPool:
    return ConstantProductPool(1_000 * ETH, 2_000_000 * USDC, ETH, USDC, fee_bps)


def test_speed_1_no_fee_when_external_1800_then_pool_ends_at_1800_with_sqrt_k_over_p_reserve():
    pool = eth_pool(0)
    side, amount = arbitrage_trade(pool, 1_800 * USD, 1)
    # New base reserve sqrt(k / 1800) = 1,000 * sqrt(2000 / 1800) = 1,054.0925533894... ETH.
    k_over_price = (1_000 * ETH) * (2_000_000 * USDC) * ETH * USD // (USDC * 1_800 * USD)
    assert side == "sell_base"
    assert amount == math.isqrt(k_over_price) - 1_000 * ETH == 54_092_553_389_459_777_332
    profit = arbitrage(pool, 1_800 * USD, 1)
    assert pool.price() == 1_800 * USD
    # With no fee the profit is R (sqrt(P) - sqrt(E))^2 = 1,000 (sqrt 2000 - sqrt 1800)^2
    # = 5,266.8077... USDC (the loss-versus-rebalancing of the move).
    assert abs(profit / USDC - 1_000 * (math.sqrt(2_000) - math.sqrt(1_800)) ** 2) < 1e-5


def test_speed_half_no_fee_when_external_1800_then_pool_ends_halfway_at_1900():
    pool = eth_pool(0)
    arbitrage(pool, 1_800 * USD, 0.5)
    assert pool.price() == 1_900 * USD
    assert abs(pool.base_reserve / ETH - 1_000 * math.sqrt(2_000 / 1_900)) < 1e-9


def test_speed_1_no_fee_when_external_2200_then_pool_buys_up_to_2200_within_a_unit():
    pool = eth_pool(0)
    side, _ = arbitrage_trade(pool, 2_200 * USD, 1)
    assert side == "buy_base"
    assert arbitrage(pool, 2_200 * USD, 1) > 0
    assert 2_200 * USD - 1 <= pool.price() <= 2_200 * USD


def test_speed_1_with_fee_when_external_1800_then_pool_ends_on_the_band_edge():
    pool = eth_pool(30)
    _, upper = fee_band(pool, 1_800 * USD)
    assert upper == Fraction(1_800 * USD * 10_000, 9_970)  # 1,805.41624874... USD
    arbitrage(pool, 1_800 * USD, 1)
    assert pool.price() == 180_541_624_874
    assert 0 <= pool.mid() - upper < 1
    # There, selling one more unit pays (1 - 0.3%) * mid: the external price.
    assert abs(pool.mid() * Fraction(9_970, 10_000) - 1_800 * USD) < 1
    assert arbitrage_trade(pool, 1_800 * USD, 1) == ("none", 0)


def test_speed_half_with_fee_when_external_1800_then_halfway_to_the_band_edge():
    pool = eth_pool(30)
    _, upper = fee_band(pool, 1_800 * USD)
    halfway = (2_000 * USD + upper) / 2  # 1,902.70812437... USD
    arbitrage(pool, 1_800 * USD, 0.5)
    assert 0 <= pool.mid() - halfway < 1
    assert pool.price() == math.floor(halfway) == 190_270_812_437


def test_speed_1_with_fee_when_external_2200_then_pool_ends_on_the_lower_band_edge():
    pool = eth_pool(30)
    arbitrage(pool, 2_200 * USD, 1)
    # E * (1 - fee) = 2,200 * 0.997 = 2,193.4: reached from below, never passed.
    assert 0 <= 219_340_000_000 - pool.mid() < 1


@pytest.mark.parametrize("external", [1_995 * USD, 2_000 * USD, 2_005 * USD,
                                      199_400_000_000, 200_601_805_416])
def test_no_trade_when_external_price_inside_the_fee_band(external):
    # Band around E: the mid 2,000 is inside when E * 0.997 <= 2,000 <= E / 0.997,
    # i.e. 1,994 <= E <= 2,006.018...
    pool = eth_pool(30)
    assert arbitrage_trade(pool, external, 1) == ("none", 0)
    assert arbitrage(pool, external, 1) == 0
    assert pool == eth_pool(30)


@pytest.mark.parametrize(("external", "side"), [(1_993 * USD, "sell_base"),
                                                (2_007 * USD, "buy_base")])
def test_trade_when_external_price_just_outside_the_fee_band(external, side):
    assert arbitrage_trade(eth_pool(30), external, 1)[0] == side


def test_no_trade_when_the_only_trade_would_lose_to_rounding():
    # External price one price unit (1e-8 USD) below the mid of a fee-free pool: the trade
    # to it is 2.5e9 wei (2.5e-9 ETH) for 5 USDC units on the curve, exactly worth their
    # cost; rounded against the arbitrageur (output down, cost up) it loses one unit.
    pool = eth_pool(0)
    external = 2_000 * USD - 1
    _, upper = fee_band(pool, external)
    amount = largest_input_within(pool.base_reserve,
                                  pool.price_scale() * pool.invariant() / upper, 0)
    assert amount == 2_500_000_000
    assert trade_profit(pool, "sell_base", amount, external) == -1
    assert arbitrage_trade(pool, external, 1) == ("none", 0)
    assert arbitrage(pool, external, 1) == 0
    assert pool == eth_pool(0)


pools = st.tuples(st.integers(10**21, 10**24), st.integers(10**9, 10**13),
                  st.integers(0, 100))


@settings(max_examples=150, deadline=None)
@given(pool_args=pools, ratio=st.fractions(Fraction(1, 5), Fraction(5)),
       speed=st.sampled_from([0.1, 0.25, 0.5, 0.9, 1, 1.0]))
def test_arbitrage_profit_is_never_negative_and_the_pool_never_passes_the_target(
        pool_args, ratio, speed):
    base, quote, fee = pool_args
    pool = ConstantProductPool(base, quote, ETH, USDC, fee)
    external = max(math.floor(pool.mid() * ratio), 1)
    mid = pool.mid()
    lower, upper = fee_band(pool, external)
    k = pool.invariant()
    side, _ = arbitrage_trade(pool, external, speed)
    profit = arbitrage(pool, external, speed)
    assert profit >= 0
    assert pool.invariant() >= k
    speed_fraction = Fraction(repr(speed)) if isinstance(speed, float) else Fraction(speed)
    if side == "sell_base":
        target = mid - speed_fraction * (mid - upper)
        assert target <= pool.mid() <= mid
        assert pool.mid() - target < 1  # within one price unit (8 decimals)
    elif side == "buy_base":
        target = mid + speed_fraction * (lower - mid)
        assert mid <= pool.mid() <= target
        assert target - pool.mid() < 1
    else:
        assert pool.mid() == mid


@settings(max_examples=100, deadline=None)
@given(pool_args=pools, ratio=st.fractions(Fraction(1, 5), Fraction(5)))
def test_arbitrage_at_speed_1_leaves_nothing_for_a_second_arbitrageur(pool_args, ratio):
    base, quote, fee = pool_args
    pool = ConstantProductPool(base, quote, ETH, USDC, fee)
    external = max(math.floor(pool.mid() * ratio), 1)
    assume(external > 0)
    arbitrage(pool, external, 1)
    assert arbitrage(pool, external, 1) <= 1  # one quote unit of rounding at most


@pytest.mark.parametrize("speed", [0, 0.0, Fraction(0)])
def test_arbitrage_when_speed_zero_then_no_trade_and_venues_unchanged(speed):
    # A venue nobody arbitrages: 10% above the external price (2,000 against 1,800), it
    # stays there; the depth venue's mid too (its refill is recover's, not arbitrage's).
    pool = eth_pool(0)
    assert arbitrage_trade(pool, 1_800 * USD, speed) == ("none", 0)
    assert arbitrage(pool, 1_800 * USD, speed) == 0
    assert pool == eth_pool(0) and pool.price() == 2_000 * USD
    book = DepthVenue(2_000 * USD, DepthCurve(100 * ETH, 1), 0.5, ETH, USDC)
    arbitrage_depth(book, 1_800 * USD, speed)
    assert book.mid == 2_000 * USD


@pytest.mark.parametrize("speed", [-0.1, -1e-18, 1.5, float("nan"), float("inf"), "1", True])
def test_arbitrage_when_speed_outside_0_1_then_error_names_speed_and_pool_unchanged(speed):
    pool = eth_pool()
    with pytest.raises(ValueError, match="^speed: "):
        arbitrage(pool, 1_800 * USD, speed)
    assert pool == eth_pool()
    book = DepthVenue(2_000 * USD, DepthCurve(100 * ETH, 1), 0.5, ETH, USDC)
    with pytest.raises(VenueError, match="^speed: "):
        arbitrage_depth(book, 1_800 * USD, speed)
    assert book.mid == 2_000 * USD


@pytest.mark.parametrize("external", [0, -1, 1_800.0])
def test_arbitrage_when_external_price_bad_then_error_names_it(external):
    pool = eth_pool()
    with pytest.raises(VenueError, match="^external_price: "):
        arbitrage_trade(pool, external, 1)
    assert pool == eth_pool()


def book_at_1980() -> DepthVenue:
    book = DepthVenue(2_000 * USD, DepthCurve(100 * ETH, 1), 0.0, ETH, USDC)
    book.sell_base(100 * ETH)
    return book


def test_arbitrage_depth_speed_1_when_venue_displaced_then_back_at_the_external_price():
    book = book_at_1980()
    arbitrage_depth(book, 2_000 * USD, 1)
    assert book.mid == 2_000 * USD and book.position == 0


def test_arbitrage_depth_speed_half_when_venue_displaced_then_halfway():
    book = book_at_1980()
    arbitrage_depth(book, 2_000 * USD, 0.5)
    assert book.mid == 1_990 * USD and book.position == 50 * ETH


def test_arbitrage_depth_when_external_price_falls_then_arbitrageur_sells_into_the_bids():
    book = DepthVenue(2_000 * USD, DepthCurve(100 * ETH, 1), 0.0, ETH, USDC)
    arbitrage_depth(book, 1_900 * USD, 0.5)
    # 1,950 is 2.5% below the anchor: 250 ETH of an even book.
    assert book.mid == 1_950 * USD and book.position == 250 * ETH
    arbitrage_depth(book, 1_950 * USD, 1)
    assert book.position == 250 * ETH  # already there: no trade


@settings(max_examples=40, deadline=None)
@given(exponent=st.sampled_from([0.5, 1, 1.5, 2]),
       external=st.integers(1_000 * USD, 3_000 * USD),
       speed=st.sampled_from([0.1, 0.5, 1]))
def test_arbitrage_depth_moves_the_mid_toward_the_external_price_without_passing_it(
        exponent, external, speed):
    book = DepthVenue(2_000 * USD, DepthCurve(100 * ETH, exponent), 0.0, ETH, USDC)
    arbitrage_depth(book, external, speed)
    target = 2_000 * USD + math.trunc(Fraction(repr(float(speed))) * (external - 2_000 * USD))
    assert abs(book.mid - target) <= 1
    assert min(2_000 * USD, external) <= book.mid <= max(2_000 * USD, external)


def _fraction_trade(pool: ConstantProductPool, external: int, speed: Fraction) -> tuple[str, int]:
    """The arbitrage's definition in exact Fractions (the mid moved ``speed`` of the way,
    in price, to the near edge of the fee band): the oracle of the int-ratio path."""
    if speed == 0:
        return "none", 0
    mid, (lower, upper), k = pool.mid(), fee_band(pool, external), pool.invariant()
    if mid > upper:
        side = "sell_base"
        target = mid - speed * (mid - upper)
        amount = largest_input_within(pool.base_reserve, pool.price_scale() * k / target,
                                      pool.fee_bps)
    elif mid < lower:
        side = "buy_base"
        target = mid + speed * (lower - mid)
        amount = largest_input_within(pool.quote_reserve, target * k / pool.price_scale(),
                                      pool.fee_bps)
    else:
        return "none", 0
    if amount == 0 or trade_profit(pool, side, amount, external) < 0:
        return "none", 0
    return side, amount


@settings(max_examples=400, deadline=None)
@given(base=st.integers(1, 10**24), quote=st.integers(1, 10**24),
       base_decimals=st.sampled_from([0, 6, 8, 18]), quote_decimals=st.sampled_from([0, 6, 18]),
       fee=st.sampled_from([0, 1, 5, 30, 100, 9_999]), external=st.integers(1, 10**14),
       speed=st.sampled_from([Fraction(0), Fraction(1, 3), Fraction(3, 10), Fraction(1),
                              Fraction(77, 100)]))
def test_arbitrage_trade_when_any_pool_then_same_trade_as_the_fraction_definition(
        base, quote, base_decimals, quote_decimals, fee, external, speed):
    pool = ConstantProductPool(base, quote, 10**base_decimals, 10**quote_decimals, fee)
    assert arbitrage_trade(pool, external, speed) == _fraction_trade(pool, external, speed)


def test_largest_input_below_when_ratio_in_other_terms_then_same_answer():
    # The bound in unreduced terms (a common factor of 7**40) gives the same exact answer.
    bound = Fraction(3 * 10**50 + 1, 7)
    expected = largest_input_within(10**24, bound, 30)
    factor = 7**40
    assert largest_input_below(10**24, bound.numerator * factor, bound.denominator * factor,
                               30) == expected > 0
