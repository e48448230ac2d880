"""The float-to-money boundary: exact ints, the rounding named, one rounding only."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marginengine.errors import FieldError
from marginengine.fixedpoint import Rounding
from marginengine.pricing import premium_for_size, premium_to_units, premiums_to_units, price

USDC = 10**6


def test_premium_to_units_when_hull_call_then_rounded_as_named():
    # Hull's 4.7594... call premium in USDC units: 4,759,422.39... -> down / up / half-up.
    call = float(price(42.0 * math.exp(0.05), 40.0, 0.5, 0.2, 0.1, True))
    assert premium_to_units(call, USDC, Rounding.DOWN) == 4_759_422
    assert premium_to_units(call, USDC, Rounding.UP) == 4_759_423
    assert premium_to_units(call, USDC, Rounding.HALF_UP) == 4_759_422


def test_premium_to_units_when_float_is_not_its_decimal_then_exact_binary_value_rounds():
    # The float 0.1 is 0.1000000000000000055...: above 1/10, so UP gives one more unit.
    assert premium_to_units(0.1, USDC, Rounding.DOWN) == 100_000
    assert premium_to_units(0.1, USDC, Rounding.UP) == 100_001
    assert premium_to_units(0.1, USDC, Rounding.HALF_UP) == 100_000
    # Exactly representable halves tie away from zero under HALF_UP.
    assert [premium_to_units(2.5, 1, r) for r in Rounding] == [2, 3, 3]
    assert premium_to_units(0.0, USDC, Rounding.UP) == 0


def test_premium_to_units_when_eighteen_decimals_then_beyond_int64_exactly():
    # 1,000,000.25 at 18 decimals is 1.00000025e24: exact, no int64 overflow.
    assert premium_to_units(1_000_000.25, 10**18, Rounding.DOWN) == 1_000_000_250_000 * 10**12


def test_premium_for_size_when_fraction_of_contract_then_one_rounding_at_the_end():
    # 1.5 options at 2.40: the float 2.4 is 2.39999999999999991118..., times 1.5 times
    # 1e6 is 3,599,999.99999999986...: DOWN 3,599,999, UP 3,600,000. Fixing the unit
    # price first (2,399,999 units down) and then multiplying would round twice and give
    # 3,599,998.
    size = 1_500_000_000_000_000_000
    assert premium_for_size(2.4, size, 10**18, USDC, Rounding.DOWN) == 3_599_999
    assert premium_for_size(2.4, size, 10**18, USDC, Rounding.UP) == 3_600_000
    assert premium_for_size(2.4, 0, 10**18, USDC, Rounding.UP) == 0


@given(st.floats(0.0, 1e9), st.integers(0, 10**24), st.sampled_from([1, 10**6, 10**8, 10**18]))
def test_premium_for_size_when_any_price_then_floor_and_ceil_of_exact_product(p, size, unit):
    exact = Fraction(p) * size * unit / 10**18
    down = premium_for_size(p, size, 10**18, unit, Rounding.DOWN)
    up = premium_for_size(p, size, 10**18, unit, Rounding.UP)
    assert down == math.floor(exact)
    assert up == math.ceil(exact)
    assert premium_to_units(p, unit, Rounding.UP) == math.ceil(Fraction(p) * unit)


def test_premiums_to_units_when_array_then_each_fixed_and_bad_one_named():
    assert premiums_to_units([0.5, 1.25], 100, Rounding.UP) == [50, 125]
    with pytest.raises(FieldError, match=r"^prices\.1: must be >= 0 \(-1\.0\)"):
        premiums_to_units([0.5, -1.0], 100, Rounding.UP)


@pytest.mark.parametrize(("call", "field"), [
    (lambda: premium_to_units(float("nan"), USDC, Rounding.UP), "price"),
    (lambda: premium_to_units(float("inf"), USDC, Rounding.UP), "price"),
    (lambda: premium_to_units(-0.01, USDC, Rounding.UP), "price"),
    (lambda: premium_to_units("1.0", USDC, Rounding.UP), "price"),  # type: ignore[arg-type]
    (lambda: premium_to_units(1.0, 0, Rounding.UP), "unit"),
    (lambda: premium_to_units(1.0, True, Rounding.UP), "unit"),
    (lambda: premium_to_units(1.0, 10.0, Rounding.UP), "unit"),  # type: ignore[arg-type]
    (lambda: premium_for_size(1.0, -1, 10**18, USDC, Rounding.UP), "size"),
    (lambda: premium_for_size(1.0, 1.5, 10**18, USDC, Rounding.UP), "size"),  # type: ignore[arg-type]
    (lambda: premium_for_size(1.0, 1, 0, USDC, Rounding.UP), "size_unit"),
])
def test_fixing_when_bad_input_then_field_error(call, field):
    with pytest.raises(FieldError) as raised:
        call()
    assert raised.value.field == field
