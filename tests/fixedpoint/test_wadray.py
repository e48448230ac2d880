from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marginengine.fixedpoint import (
    RAY,
    WAD,
    Rounding,
    bps_div,
    bps_mul,
    div,
    div_toward_zero,
    format_units,
    fraction_to_bps,
    parse_units,
    ray_div,
    ray_mul,
    rpow,
    wad_div,
    wad_mul,
)


def test_wad_mul_when_exact_then_product():
    assert wad_mul(3 * WAD // 2, 5 * WAD // 2) == 15 * WAD // 4


@pytest.mark.parametrize(
    ("rounding", "expected"), [(Rounding.DOWN, 0), (Rounding.UP, 1), (Rounding.HALF_UP, 1)]
)
def test_ray_mul_when_exactly_half_then_rounding_named(rounding, expected):
    assert ray_mul(1, RAY // 2, rounding) == expected


def test_ray_mul_when_below_half_then_half_up_rounds_down():
    assert ray_mul(1, RAY // 2 - 1, Rounding.HALF_UP) == 0
    assert ray_mul(1, RAY // 2 - 1, Rounding.UP) == 1


def test_percent_mul_matches_aave_percentage_math():
    # Aave: (value * percentage + HALF_PERCENTAGE_FACTOR) / PERCENTAGE_FACTOR
    assert bps_mul(10_001, 5_000) == (10_001 * 5_000 + 5_000) // 10_000 == 5_001
    assert bps_mul(10_001, 5_000, Rounding.DOWN) == 5_000
    # Aave: (value * PERCENTAGE_FACTOR + percentage / 2) / percentage
    assert bps_div(1_000, 10_500) == (1_000 * 10_000 + 5_250) // 10_500 == 952


def test_wad_div_and_ray_div_round_half_up_by_default():
    assert wad_div(2, 3) == (2 * WAD + 1) // 3  # 0.666...67
    assert ray_div(1, 3, Rounding.DOWN) == RAY // 3
    assert ray_div(1, 3, Rounding.UP) == RAY // 3 + 1


def test_div_when_denominator_not_positive_then_error():
    with pytest.raises(ZeroDivisionError):
        div(1, 0, Rounding.DOWN)
    with pytest.raises(ValueError):
        div(-1, 3, Rounding.DOWN)


def test_rpow_when_integer_base_then_exact_power():
    assert rpow(2 * RAY, 10) == 1024 * RAY
    assert rpow(RAY, 0) == RAY
    assert rpow(0, 0) == RAY and rpow(0, 5) == 0


def test_rpow_when_one_percent_compounded_hundred_times_then_within_rounding_of_exact():
    exact = Fraction(101, 100) ** 100 * RAY
    got = rpow(RAY + RAY // 100, 100)
    assert abs(got - exact) < 100  # a few ray units of half-up rounding per squaring
    assert str(got).startswith("2704813829")  # 1.01^100 = 2.704813829...


def test_parse_units_when_human_decimal_then_exact_smallest_units():
    assert parse_units("1.5", 18) == 15 * 10**17
    assert parse_units(0.1, 6) == 100_000  # str(0.1) is what the author typed
    assert parse_units("2_000", 6) == 2_000_000_000
    with pytest.raises(ValueError, match="more than 6 decimal places"):
        parse_units("1.0000001", 6)
    with pytest.raises(ValueError, match="finite"):
        parse_units("nan", 6)
    with pytest.raises(ValueError, match="boolean"):
        parse_units(True, 6)


def test_parse_units_when_more_than_28_digits_then_still_exact():
    # Decimal's context keeps 28 significant digits: scaleb rounded these (the first to
    # ...680, the second to ...900 followed by zeros) and overflowed on the third.
    assert parse_units("12345678901.123456789012345678", 18) == \
        12_345_678_901_123_456_789_012_345_678
    assert parse_units("123456789012345678901234567890", 18) == \
        123456789012345678901234567890 * 10**18
    with pytest.raises(ValueError, match=r"too large \('1e999999' has more than 1000 "):
        parse_units("1e999999", 18)
    assert parse_units("1.50", 1) == 15 and parse_units("-2.5e-5", 6) == -25
    assert parse_units("0E-1000000", 6) == 0 and parse_units("1e977", 0) == 10**977
    with pytest.raises(ValueError, match="more than 18 decimal places"):
        parse_units("1e-999999", 18)
    with pytest.raises(ValueError, match=r"^too large \(a 1001-character number has more "):
        parse_units("9" * 1001, 0)


@given(st.integers(-10**80, 10**80), st.integers(-60, 60), st.integers(0, 36))
def test_parse_units_when_any_decimal_then_the_exact_fraction(coefficient: int, exponent: int,
                                                             decimals: int):
    # The oracle: the value in Fraction arithmetic, whole in smallest units or refused.
    exact = Fraction(coefficient) * Fraction(10) ** (exponent + decimals)
    text = f"{coefficient}e{exponent}"
    if exact.denominator != 1:
        with pytest.raises(ValueError, match="decimal places"):
            parse_units(text, decimals)
    else:
        assert parse_units(text, decimals) == exact.numerator


def test_fraction_to_bps_and_format_units():
    assert fraction_to_bps("0.825") == 8_250
    assert format_units(1_500_000, 6) == "1.5"
    assert format_units(123_456_789, 8, 2) == "1.23"


@pytest.mark.parametrize(("a", "b", "expected"), [
    (7, 2, 3), (-7, 2, -3), (7, -2, -3), (-7, -2, 3), (0, -5, 0), (6, 3, 2), (-6, 3, -2),
])
def test_div_toward_zero_when_signs_vary_then_truncated_as_solidity(a: int, b: int,
                                                                   expected: int):
    # Solidity's and Rust's signed division: -7 / 2 is -3 (Python's -7 // 2 is -4).
    assert div_toward_zero(a, b) == expected
