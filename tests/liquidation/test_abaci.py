"""Price curves (MakerDAO abaci.sol): worked values by hand, Maker's rounding, properties."""

from fractions import Fraction
from math import floor

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marginengine.liquidation.abaci import (
    Abacus,
    ExponentialDecrease,
    LinearDecrease,
    StairstepExponentialDecrease,
)

RAY = 10**27
TOP = 1_300 * RAY  # starting price 1,300 DAI per unit
# A starting price that is not a whole number of DAI, so every floor shows.
ODD_TOP = 1_234_567_890_123_456_789_012_345_678_901  # 1,234.567890123456789012345678901


def half_up(x: Fraction) -> int:
    """Round a non-negative fraction half up (rpow's rounding of each product)."""
    return floor(x + Fraction(1, 2))


# --- LinearDecrease -------------------------------------------------------------------


def test_linear_when_at_start_middle_end_and_after_then_exact_values():
    calc = LinearDecrease(tau=3600)
    assert calc.price(TOP, 0) == TOP  # factor (3600 - 0) * RAY / 3600 = RAY
    assert calc.price(TOP, 1800) == 650 * RAY  # factor RAY / 2 exactly: 1,300 / 2
    assert calc.price(TOP, 3600) == 0  # dur >= tau: zero
    assert calc.price(TOP, 4000) == 0


def test_linear_floors_the_factor_to_a_ray_before_multiplying():
    # dur = 1: factor = floor(3599e27 / 3600) = 999722222222222222222222222 (the exact
    # value 0.99972222... has an infinite tail of 2s). Then 1,300 RAY x factor / RAY is an
    # integer: 1,300 x 999722222222222222222222222.
    calc = LinearDecrease(tau=3600)
    factor = floor(Fraction(3599 * RAY, 3600))
    assert factor == 999_722_222_222_222_222_222_222_222
    assert calc.price(TOP, 1) == 1_300 * factor == 1_299_638_888_888_888_888_888_888_888_600
    # One rounding of the exact product would give ...888_888 (288 units more): Maker's
    # two floors give less, and that is what we reproduce.
    assert floor(Fraction(TOP * 3599, 3600)) == 1_299_638_888_888_888_888_888_888_888_888


def test_linear_with_odd_top_floors_the_product():
    calc = LinearDecrease(tau=3600)
    factor = floor(Fraction(2400 * RAY, 3600))  # dur = 1200: 2/3, floored
    assert calc.price(ODD_TOP, 1200) == floor(Fraction(ODD_TOP * factor, RAY))


def test_linear_when_tau_not_positive_then_refused():
    with pytest.raises(ValueError, match="tau must be a positive int"):
        LinearDecrease(tau=0)


# --- StairstepExponentialDecrease -----------------------------------------------------


def test_stairstep_when_step_90_cut_099_then_price_holds_then_drops():
    calc = StairstepExponentialDecrease(step=90, cut=99 * RAY // 100)
    assert calc.price(TOP, 0) == TOP  # 0 steps: rpow(cut, 0) = RAY
    assert calc.price(TOP, 89) == TOP  # 89 // 90 = 0 steps
    assert calc.price(TOP, 90) == 1_287 * RAY  # 1 step: 1,300 x 0.99
    assert calc.price(TOP, 179) == 1_287 * RAY
    # 2 steps: rpow squares 0.99e27 -> 0.9801e27 exactly; 1,300 x 0.9801 = 1,274.13.
    assert calc.price(TOP, 180) == 1_274_130 * RAY // 1000


def test_stairstep_at_ten_steps_is_exact_when_the_power_fits_a_ray():
    # 0.99^10 = 0.90438207500880449001 (99^10 = 90438207500880449001): 20 decimals, so
    # every rpow product is exact. 2,600 x 0.99^10 = 2,351.393395022891674026.
    calc = StairstepExponentialDecrease(step=90, cut=99 * RAY // 100)
    assert calc.price(2_600 * RAY, 900) == 2_351_393_395_022_891_674_026 * 10**9


def test_stairstep_odd_top_floors_the_product():
    calc = StairstepExponentialDecrease(step=90, cut=99 * RAY // 100)
    assert calc.price(ODD_TOP, 90) == floor(Fraction(ODD_TOP * 99, 100))


def test_stairstep_rpow_rounds_each_product_half_up():
    # cut = RAY / 3 floored: its square is not a whole ray, so rpow rounds it half up.
    cut = RAY // 3
    calc = StairstepExponentialDecrease(step=1, cut=cut)
    squared = half_up(Fraction(cut * cut, RAY))
    assert calc.price(RAY, 2) == squared  # top = 1: the price is the factor itself
    # Three steps: z = cut (odd), then x = cut^2 (rounded), z = cut * x (rounded).
    cubed = half_up(Fraction(cut * squared, RAY))
    assert calc.price(RAY, 3) == cubed
    assert calc.price(7 * RAY, 3) == floor(Fraction(7 * RAY * cubed, RAY))


def test_stairstep_many_steps_close_to_the_exact_power():
    # 93 steps (ETH-A's 140-minute tail): rounding error of a few units of 1e-27 at most.
    calc = StairstepExponentialDecrease(step=90, cut=99 * RAY // 100)
    exact = Fraction(TOP) * Fraction(99, 100) ** 93
    assert abs(calc.price(TOP, 93 * 90) - exact) < 1_300 * 100


def test_stairstep_when_cut_above_one_or_step_zero_then_refused():
    with pytest.raises(ValueError, match="cut must be an int ray"):
        StairstepExponentialDecrease(step=90, cut=RAY + 1)
    with pytest.raises(ValueError, match="step must be a positive int"):
        StairstepExponentialDecrease(step=0, cut=RAY)


# --- ExponentialDecrease --------------------------------------------------------------


def test_exponential_per_second_exact_values():
    cut = 999 * RAY // 1000  # 0.1% per second
    calc = ExponentialDecrease(cut=cut)
    assert calc.price(TOP, 0) == TOP
    assert calc.price(TOP, 1) == 1_298_700 * RAY // 1000  # 1,300 x 0.999
    assert calc.price(TOP, 2) == 1_297_401_300 * RAY // 10**6  # x 0.998001
    assert calc.price(TOP, 3) == 1_296_103_898_700 * RAY // 10**9  # x 0.997002999
    assert calc.price(ODD_TOP, 1) == floor(Fraction(ODD_TOP * 999, 1000))


def test_exponential_matches_stairstep_with_unit_step():
    cut = 999_5 * RAY // 10_000
    assert all(
        ExponentialDecrease(cut).price(ODD_TOP, dur)
        == StairstepExponentialDecrease(1, cut).price(ODD_TOP, dur)
        for dur in (0, 1, 2, 3, 17, 600, 3601)
    )


def test_curves_refuse_negative_duration():
    curves = (LinearDecrease(60), StairstepExponentialDecrease(1, RAY), ExponentialDecrease(RAY))
    for calc in curves:
        assert isinstance(calc, Abacus)
        with pytest.raises(ValueError, match="dur must be a non-negative int"):
            calc.price(RAY, -1)


# --- Properties -----------------------------------------------------------------------

tops = st.integers(min_value=0, max_value=10**36)
durs = st.integers(min_value=0, max_value=10**6)
cuts = st.integers(min_value=0, max_value=RAY)


@st.composite
def curves(draw: st.DrawFn) -> Abacus:
    kind = draw(st.sampled_from(["linear", "stairstep", "exponential"]))
    if kind == "linear":
        return LinearDecrease(draw(st.integers(min_value=1, max_value=10**6)))
    if kind == "stairstep":
        return StairstepExponentialDecrease(draw(st.integers(min_value=1, max_value=3600)),
                                            draw(cuts))
    return ExponentialDecrease(draw(cuts))


@settings(max_examples=300, deadline=None)
@given(curves(), tops, durs, st.integers(min_value=0, max_value=10**5))
def test_price_never_above_top_and_never_rises(calc: Abacus, top: int, dur: int, later: int):
    now = calc.price(top, dur)
    assert 0 <= now <= top
    assert calc.price(top, dur + later) <= now


# --- dss's own tests (makerdao/dss@fa4f6630afb0624d04a003e920b0d71a00331d98
# src/test/abaci.t.sol) ------------------------------------------------------------------


def test_dss_linear_decrease_when_tenths_of_tau_then_exact_tenths_of_top():
    calc = LinearDecrease(tau=3600)
    for k in range(11):  # test_linear_decrease: 1000 RAY, every 360 s
        assert calc.price(1000 * RAY, 360 * k) == (1000 - 100 * k) * RAY


@pytest.mark.parametrize("top, tolerance", [(50_000_000 * RAY, 100_000_000),
                                             (RAY // 10_000_000, 1)])
@pytest.mark.parametrize("percent, step", [
    (RAY - 11_234_567_890 * 10**15, 1), (RAY - 21_234_567_890 * 10**15, 1),
    (RAY - 11_234_567_890 * 10**15, 5), (RAY - 21_234_567_890 * 10**15, 5),
    (RAY - 11_234_567_890 * 10**15, 300)])
def test_dss_stairstep_when_each_second_of_ten_minutes_then_last_price_times_cut(
        top: int, tolerance: int, percent: int, step: int) -> None:
    # test_stairstep_exp_decrease (checkExpDecrease): the price holds between steps and
    # is the last price x cut at each step, within the test's tolerance (1.1234567890% and
    # 2.1234567890% cuts every 1 s and 5 s, the first also every 5 minutes).
    calc = StairstepExponentialDecrease(step=step, cut=percent)
    price = calc.price(top, 0)
    assert price == top
    for i in range(1, 600):
        last, price = price, calc.price(top, i)
        expected = last * percent // RAY if i % step == 0 else last
        assert abs(expected - price) <= tolerance


def test_dss_continuous_exponential_when_four_half_lives_then_halved_each_time():
    # test_continuous_exp_decrease: cut 0.999230132966 (a 15-minute half life), 0.1% of
    # a RAY tolerance from 4,000.
    calc = ExponentialDecrease(cut=999_230_132_966 * 10**15)
    expected = 4000 * RAY
    for i in range(5):
        assert abs(calc.price(4000 * RAY, i * 900) - expected) <= RAY // 1000
        expected //= 2
