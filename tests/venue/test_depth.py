"""Depth curves and the depth venue: volume within a slippage, fills integrated in closed form,
a displaced book that recovers a stated fraction per step. Worked on 100 ETH within 1%."""

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marginengine.fixedpoint import Rounding
from marginengine.venue import DepthCurve, DepthVenue, VenueError
from marginengine.venue.depth import integer_root, rational_root
from tests.conftest import ETH, USD, USDC

MID = 2_000 * USD


def venue(exponent: float = 1, resilience: float = 0.5) -> DepthVenue:
    return DepthVenue(MID, DepthCurve(100 * ETH, exponent), resilience, ETH, USDC)


@pytest.mark.parametrize(("exponent", "slippage_bps", "volume"), [
    (1, 100, 100 * ETH),   # the definition
    (1, 200, 200 * ETH),   # twice as far, twice the volume
    (1, 50, 50 * ETH),
    (2, 100, 100 * ETH),
    (2, 200, 400 * ETH),   # 100 * 2^2
    (2, 50, 25 * ETH),     # 100 * 0.5^2
    (1.5, 400, 800 * ETH),  # 100 * 4^1.5
    (0.5, 400, 200 * ETH),  # 100 * 4^0.5
    (2, 0, 0),
])
def test_sellable_within_when_exponent_given_then_exact_volume(exponent, slippage_bps, volume):
    assert DepthCurve(100 * ETH, exponent).sellable_within(slippage_bps) == volume


def test_sellable_within_when_irrational_then_rounded_down():
    # 100 ETH * 2^1.5 = 282.842712474619009760... ETH
    assert DepthCurve(100 * ETH, 1.5).sellable_within(200) == 282_842_712_474_619_009_760


def test_capacity_is_the_volume_that_takes_the_price_to_zero():
    assert DepthCurve(100 * ETH, 1).capacity() == 10_000 * ETH
    assert DepthCurve(100 * ETH, 2).capacity() == 1_000_000 * ETH


def test_mid_after_and_execution_price_when_exponent_1_then_final_and_half_the_slippage():
    curve = DepthCurve(100 * ETH, 1)
    # Selling 100 ETH moves the marginal price 1% down: 1,980; the fills average half of it.
    assert curve.mid_after(MID, 100 * ETH) == 1_980 * USD
    assert curve.execution_price(MID, 100 * ETH) == 1_990 * USD
    assert curve.execution_price(MID, 0) == MID


def test_mid_after_and_execution_price_when_exponent_2_then_two_thirds_of_the_slippage():
    curve = DepthCurve(100 * ETH, 2)
    assert curve.mid_after(MID, 100 * ETH) == 1_980 * USD
    # 2,000 * (1 - 1% * 2/3) = 1,986.666666666..., rounded down.
    assert curve.execution_price(MID, 100 * ETH) == 198_666_666_666
    # 25 ETH: slippage 1% * sqrt(25 / 100) = 0.5% -> 1,990; average 2,000 * (1 - 0.5% * 2/3).
    assert curve.mid_after(MID, 25 * ETH) == 1_990 * USD
    assert curve.execution_price(MID, 25 * ETH) == 199_333_333_333


def test_buy_side_is_the_mirror_image_rounded_against_the_buyer():
    curve = DepthCurve(100 * ETH, 2)
    assert curve.mid_after_buy(MID, 100 * ETH) == 2_020 * USD
    assert curve.execution_price_buy(MID, 100 * ETH) == 201_333_333_334  # 2,013.33.. up


@settings(max_examples=100, deadline=None)
@given(exponent=st.sampled_from([0.5, 1, 1.25, 1.5, 2, 3]),
       mid=st.integers(1 * USD, 100_000 * USD),
       sizes=st.tuples(st.integers(1, 10**22), st.integers(1, 10**22)))
def test_execution_price_is_below_mid_above_the_final_mid_and_falls_with_size(
        exponent, mid, sizes):
    curve = DepthCurve(10**20, exponent)
    small, large = sorted(min(size, curve.capacity()) for size in sizes)
    price_small = curve.execution_price(mid, small)
    price_large = curve.execution_price(mid, large)
    assert price_large <= price_small < mid
    assert curve.mid_after(mid, large) <= price_large


def test_integer_roots_are_exact_floors_and_ceilings():
    assert integer_root(10**40, 2) == 10**20
    assert integer_root(10**40 - 1, 2) == 10**20 - 1
    assert integer_root(3**137, 137) == 3
    assert integer_root(3**137 - 1, 137) == 2
    assert integer_root(2**400 * 5**100, 100) == 16 * 5
    assert rational_root(8, 27, 3, Rounding.DOWN) == 0
    assert rational_root(8, 1, 3, Rounding.UP) == 2
    assert rational_root(9, 1, 3, Rounding.UP) == 3


@settings(max_examples=200, deadline=None)
@given(value=st.integers(0, 10**200), degree=st.integers(1, 60))
def test_integer_root_property(value, degree):
    root = integer_root(value, degree)
    assert root**degree <= value < (root + 1) ** degree


def test_venue_sale_when_100_eth_sold_into_even_book_then_quote_at_the_average_price():
    book = venue()
    assert book.price() == MID and book.price_float() == 2_000.0
    assert book.quote_out(100 * ETH) == 199_000 * USDC
    assert book.sell_base(100 * ETH) == 199_000 * USDC  # 100 ETH at an average 1,990
    assert book.mid == 1_980 * USD
    assert book.position == 100 * ETH and book.anchor == MID


def test_venue_sale_when_split_in_two_then_same_proceeds_as_one_sale():
    book = venue()
    first = book.sell_base(50 * ETH)   # 2,000 -> 1,990, average 1,995
    second = book.sell_base(50 * ETH)  # 1,990 -> 1,980, average 1,985: walks on down the book
    assert (first, second) == (99_750 * USDC, 99_250 * USDC)
    assert first + second == 199_000 * USDC
    assert book.mid == 1_980 * USD


@settings(max_examples=40, deadline=None)
@given(exponent=st.sampled_from([0.5, 1, 1.5, 2]),
       cut=st.integers(0, 300 * ETH), total=st.integers(0, 300 * ETH))
def test_venue_split_sale_fetches_the_one_sale_amount_within_rounding(exponent, cut, total):
    cut = min(cut, total)
    one, two = venue(exponent), venue(exponent)
    whole = one.sell_base(total)
    parts = two.sell_base(cut) + two.sell_base(total - cut)
    assert whole - 2 <= parts <= whole
    assert one.mid == two.mid


def test_recover_when_resilience_half_then_half_the_displacement_closes_each_step():
    book = venue(resilience=0.5)
    book.sell_base(100 * ETH)
    mids = []
    for _ in range(3):
        book.recover(MID)
        mids.append(book.mid)
    # displacement 20 -> 10 -> 5 -> 2.5
    assert mids == [1_990 * USD, 1_995 * USD, 199_750_000_000]
    assert book.position == 12_500_000_000_000_000_000  # 12.5 ETH: 0.125% of an even book


def test_recover_when_resilience_one_fifth_then_displacement_shrinks_by_four_fifths():
    book = venue(exponent=2, resilience=0.2)
    book.sell_base(100 * ETH)  # 1% down: 1,980
    mids = []
    for _ in range(3):
        book.recover(MID)
        mids.append(book.mid)
    # displacement 20 -> 16 -> 12.8 -> 10.24 USD
    assert mids == [1_984 * USD, 198_720_000_000, 198_976_000_000]


def test_recover_when_external_price_moves_then_book_rebuilds_around_it():
    book = venue(resilience=0.5)
    book.recover(1_900 * USD)
    assert book.mid == 1_950 * USD and book.anchor == 1_900 * USD
    assert book.position < 0  # above its anchor, as if asks had been taken
    book.recover(1_900 * USD)
    assert book.mid == 1_925 * USD


def test_recover_when_resilience_zero_then_the_displacement_stays():
    book = venue(resilience=0)
    book.sell_base(100 * ETH)
    book.recover(MID)
    assert book.mid == 1_980 * USD


def test_venue_buy_then_sell_back_loses_only_rounding():
    book = venue(exponent=1.5)
    base = book.buy_base(100_000 * USDC)
    assert book.mid > MID
    back = book.sell_base(base)
    assert 100_000 * USDC - 2 <= back <= 100_000 * USDC
    assert book.position == 0 and book.mid == MID


def test_venue_buy_exact_base_when_100_eth_then_average_2010():
    book = venue()
    assert book.quote_in_for(100 * ETH) == 201_000 * USDC
    assert book.buy_exact_base(100 * ETH) == 201_000 * USDC
    assert book.mid == 2_020 * USD
    assert book.base_out(0) == 0


def test_venue_sellable_within_when_displaced_then_counts_from_the_mid_now():
    book = venue()
    assert book.sellable_within(100) == 100 * ETH
    book.sell_base(100 * ETH)  # mid 1,980; 1% below it is 1,960.2: 1.99% below the anchor
    assert book.sellable_within(100) == 99 * ETH


def test_venue_copy_is_independent():
    book = venue()
    twin = book.copy()
    twin.sell_base(10 * ETH)
    assert book.mid == MID and twin.mid < MID


def test_venue_sale_when_it_would_take_the_price_to_zero_then_refused_and_unchanged():
    book = venue()
    book.sell_base(9_000 * ETH)
    mid, position = book.mid, book.position
    with pytest.raises(VenueError, match="^base_in: exceeds the bid depth left"):
        book.sell_base(1_000 * ETH)
    assert (book.mid, book.position) == (mid, position)
    with pytest.raises(VenueError, match="^base_in: exceeds the whole bid side"):
        DepthCurve(100 * ETH, 1).mid_after(MID, 10_001 * ETH)


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"depth_at_1pct": 0}, "depth_at_1pct"),
    ({"depth_at_1pct": -1}, "depth_at_1pct"),
    ({"exponent": 0}, "exponent"),
    ({"exponent": -1.0}, "exponent"),
    ({"exponent": 4.5}, "exponent"),
    ({"exponent": float("nan")}, "exponent"),
    ({"exponent": 1.33}, "exponent"),
    ({"exponent": "2"}, "exponent"),
    ({"exponent": Decimal("sNaN")}, "exponent"),
])
def test_curve_when_built_with_bad_value_then_error_names_the_field(kwargs, field):
    args = {"depth_at_1pct": 100 * ETH, "exponent": 1.0} | kwargs
    with pytest.raises(ValueError, match=f"^{field}: "):
        DepthCurve(**args)


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"mid": 0}, "mid"),
    ({"resilience": 1.5}, "resilience"),
    ({"resilience": -0.1}, "resilience"),
    ({"base_unit": 0}, "base_unit"),
    ({"curve": None}, "curve"),
])
def test_venue_when_built_with_bad_value_then_error_names_the_parameter(kwargs, field):
    args = {"mid": MID, "curve": DepthCurve(100 * ETH, 1), "resilience": 0.5,
            "base_unit": ETH, "quote_unit": USDC} | kwargs
    with pytest.raises(VenueError, match=f"^{field}: "):
        DepthVenue(**args)


@pytest.mark.parametrize(("method", "argument", "field"), [
    ("sell_base", -1, "base_in"),
    ("buy_base", -1, "quote_in"),
    ("buy_exact_base", -1, "base_out"),
    ("recover", 0, "external_price"),
    ("recover", 1.5, "external_price"),
    ("sellable_within", 10_001, "slippage_bps"),
])
def test_venue_when_called_with_bad_input_then_error_and_unchanged(method, argument, field):
    book = venue()
    book.sell_base(10 * ETH)
    before = (book.mid, book.position, book.anchor)
    with pytest.raises(VenueError, match=f"^{field}: "):
        getattr(book, method)(argument)
    assert (book.mid, book.position, book.anchor) == before


def test_curve_volume_within_accepts_an_exact_fraction():
    curve = DepthCurve(100 * ETH, 2)
    assert curve.volume_within(Fraction(3, 200)) == 225 * ETH  # 1.5%: 100 * 1.5^2


def test_parameters_from_a_configuration_file_are_read_exactly_as_decimals():
    curve = DepthCurve(100 * ETH, Decimal("1.5"))
    assert curve == DepthCurve(100 * ETH, Decimal("1.5"))
    assert curve.sellable_within(400) == 800 * ETH
    book = DepthVenue(MID, DepthCurve(100 * ETH, 1), Decimal("0.2"), ETH, USDC)
    book.sell_base(100 * ETH)
    book.recover(MID)
    assert book.mid == 1_984 * USD
