"""Adaptive margin models: VaR/ES haircuts, EMIR Art. 28 tools, depth and ECC add-ons, size."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from marginengine.errors import FieldError
from marginengine.margin.adaptive import (
    ApcMethod,
    ApcPolicy,
    LiquidationHorizon,
    anti_procyclical_ppm,
    compose_haircut_ppm,
    concentration_horizon_periods,
    cp_absorbable_within,
    cp_execution_slippage,
    depth_haircut_ppm,
    ecc_liquidation_days,
    empirical_tail,
    fhs_haircut,
    fhs_losses,
    horizon_haircut,
    linear_absorbable_within,
    linear_execution_slippage,
    liquidation_threshold_bps,
    lookback_returns,
    maintenance_fraction_ppm,
    parametric_haircut,
    stressed_returns,
)
from marginengine.margin.tiers import size_premium_imf
from marginengine.oracle.volatility import ewma_variances

ETH = 10**18


def test_horizon_when_oracle_keeper_auction_then_blocks_add_and_convert_exactly() -> None:
    # 5 blocks of oracle delay + 2 of keeper latency + an 18-block auction = 25 blocks of
    # 12 s = 300 s = 1/12 of an hourly return period.
    h = LiquidationHorizon(5, 2, 18, 12_000)
    assert h.blocks == 25
    assert h.seconds == 300
    assert h.periods(3600) == Fraction(1, 12)


def test_parametric_when_normal_99_then_var_is_2_326_sigma_sqrt_t() -> None:
    # z(99%) = 2.3263479, phi(z) = 0.0266521: with sigma = 5% a period and T = 1,
    # VaR = 0.1163174 -> 116,318 ppm (up); ES = 0.05 * 0.0266521 / 0.01 = 0.1332607 -> 133,261.
    one = parametric_haircut(0.05, 1, 9_900)
    assert (one.var_ppm, one.es_ppm) == (116_318, 133_261)
    # sqrt-time: four periods double it (0.2326348 -> 232,635; 0.2665214 -> 266,522).
    four = parametric_haircut(0.05, 4, 9_900)
    assert (four.var_ppm, four.es_ppm) == (232_635, 266_522)
    # Basel's 97.5% ES is close to the 99% VaR (2.3378 vs 2.3263 sigma).
    basel = parametric_haircut(0.05, 1, 9_750)
    assert basel.es_ppm == 116_891
    assert abs(basel.es_ppm - one.var_ppm) < 0.01 * one.var_ppm


def test_parametric_when_horizon_is_300_seconds_on_hourly_vol_then_sqrt_of_a_twelfth() -> None:
    h = LiquidationHorizon(5, 2, 18, 12_000)
    got = parametric_haircut(0.02, h.periods(3600), 9_900)
    assert got.var_ppm == math.ceil(2.3263478740408408 * 0.02 * math.sqrt(1 / 12) * 1e6)


def test_parametric_when_huge_sigma_then_capped_at_one() -> None:
    assert parametric_haircut(1.0, 4, 9_900).var_ppm == 1_000_000


# Ten returns of +-1% (so the EWMA variance stays 1e-4 and every standardized return is
# +-1), then a -3% shock: z = -3 and sigma_now^2 = 0.94e-4 + 0.06 * 9e-4 = 1.48e-4,
# sigma_now = 0.0121655.
SHOCKED = [0.01] + [-0.01 if i % 2 == 0 else 0.01 for i in range(9)] + [-0.03]
SIGMA_NOW = math.sqrt(1.48e-4)


def test_fhs_when_shock_then_scenarios_are_z_times_current_vol() -> None:
    losses = fhs_losses(SHOCKED, 1, lam=0.94)
    expected = [SIGMA_NOW, -SIGMA_NOW] * 4 + [SIGMA_NOW, 3 * SIGMA_NOW]
    assert losses.tolist() == pytest.approx(expected, rel=1e-12)


def test_fhs_when_80_percent_then_var_and_es_are_hand_order_statistics() -> None:
    # n = 10 scenarios, k = ceil(10 * 0.2) = 2 worst: 3 sigma_now and sigma_now.
    # VaR = sigma_now = 0.01216553 -> 12,166 ppm; ES = 2 sigma_now = 0.02433105 -> 24,332.
    got = fhs_haircut(SHOCKED, 1, 8_000)
    assert (got.var_ppm, got.es_ppm) == (12_166, 24_332)
    # At 90% k = 1: both are the shock rescaled, 3 sigma_now = 0.0364966 -> 36,497.
    tail = fhs_haircut(SHOCKED, 1, 9_000)
    assert (tail.var_ppm, tail.es_ppm) == (36_497, 36_497)


def test_fhs_when_overlapping_two_periods_then_sums_of_consecutive_z() -> None:
    # Sums of pairs of consecutive z: eight zeros, then -1 - 3 = -4: losses 0 x8, 4 sigma_now.
    losses = fhs_losses(SHOCKED, 2, aggregation="overlapping")
    assert losses.tolist() == pytest.approx([0.0] * 8 + [4 * SIGMA_NOW], abs=1e-15)
    # A horizon of 1.5 periods rounds up to 2 (conservative): same scenarios.
    assert fhs_losses(SHOCKED, Fraction(3, 2), aggregation="overlapping").tolist() == (
        losses.tolist()
    )
    # 9 scenarios at 80%: k = 2; VaR = 0, ES = 2 sigma_now.
    got = fhs_haircut(SHOCKED, 2, 8_000, aggregation="overlapping")
    assert (got.var_ppm, got.es_ppm) == (0, 24_332)


def test_fhs_when_gaussian_returns_then_quantiles_of_z_are_normal() -> None:
    # 20,000 iid N(0, 1%^2) returns from a seeded generator. FHS rescales to the current
    # EWMA sigma, so VaR / sigma_now is the 99% quantile of the standardized returns: the
    # normal 2.326 (ES 2.665), a little fatter because sigma is estimated (2.42 and 2.75 here).
    rng = np.random.default_rng(12)
    r = rng.normal(0.0, 0.01, 20_000)
    sigma_now = math.sqrt(float(ewma_variances(r, 0.97, 50)[-1]))
    got = fhs_haircut(r, 1, 9_900, lam=0.97, seed_count=50)
    assert got.var_ppm / 1e6 / sigma_now == pytest.approx(2.326, rel=0.06)
    assert got.es_ppm / 1e6 / sigma_now == pytest.approx(2.665, rel=0.06)


def test_horizon_haircut_when_blocks_and_hourly_returns_then_one_call_chain() -> None:
    # The shocked series as hourly returns, a 300 s horizon (T = 1/12): FHS scenarios are
    # z * sigma_now * sqrt(1/12); at 90% (k = 1) the shock: 3 * 0.0121655 * 0.2886751 =
    # 0.0105356 -> 10,536 ppm. Parametric: 2.3263 * 0.0121655 * 0.2886751 -> 8,170 ppm.
    h = LiquidationHorizon(5, 2, 18, 12_000)
    fhs = horizon_haircut(SHOCKED, h, 3600, 9_000)
    assert fhs.var_ppm == math.ceil(3 * SIGMA_NOW * math.sqrt(1 / 12) * 1e6) == 10_536
    par = horizon_haircut(SHOCKED, h, 3600, 9_900, method="parametric")
    assert par.var_ppm == 8_170
    # ECC: a position of 5.7 days of capacity is capped at 3 days: the horizon x 1.5.
    days = ecc_liquidation_days(57, 10)
    conc = horizon_haircut(SHOCKED, h, 3600, 9_000, liquidation_days=days)
    assert days == 3
    assert conc.var_ppm == math.ceil(3 * SIGMA_NOW * math.sqrt(1.5 / 12) * 1e6)
    with pytest.raises(FieldError) as err:
        horizon_haircut(SHOCKED, h, 3600, 9_000, method="garch")  # type: ignore[arg-type]
    assert err.value.field == "method"


def test_empirical_tail_when_five_losses_then_exact_order_statistics() -> None:
    # n = 5, 70%: k = ceil(1.5) = 2: VaR = 4 (2nd largest), ES = (5 + 4) / 2.
    assert empirical_tail([1.0, 5.0, 2.0, 4.0, 3.0], 7_000) == (4.0, 4.5)


def test_apc_buffer_when_calm_then_plus_25_percent_and_released_in_stress() -> None:
    policy = ApcPolicy(ApcMethod.BUFFER)
    assert anti_procyclical_ppm(100_000, policy) == 125_000
    assert anti_procyclical_ppm(100_000, policy, released_bps=1_000) == 115_000
    assert anti_procyclical_ppm(100_000, policy, released_bps=2_500) == 100_000
    with pytest.raises(FieldError) as err:
        anti_procyclical_ppm(100_000, policy, released_bps=2_501)
    assert err.value.field == "released_bps"


def test_apc_stressed_weight_when_25_percent_then_blend() -> None:
    # 0.75 * 8% + 0.25 * 20% = 11%; with 40%: 0.6 * 8% + 0.4 * 20% = 12.8%.
    assert anti_procyclical_ppm(80_000, ApcPolicy(ApcMethod.STRESSED_WEIGHT),
                                stressed_ppm=200_000) == 110_000
    heavy = ApcPolicy(ApcMethod.STRESSED_WEIGHT, stressed_weight_bps=4_000)
    assert anti_procyclical_ppm(80_000, heavy, stressed_ppm=200_000) == 128_000
    with pytest.raises(FieldError) as err:
        anti_procyclical_ppm(80_000, ApcPolicy(ApcMethod.STRESSED_WEIGHT))
    assert err.value.field == "stressed_ppm"


def test_apc_floor_when_ten_year_margin_higher_then_floor_binds() -> None:
    policy = ApcPolicy(ApcMethod.FLOOR)
    assert anti_procyclical_ppm(80_000, policy, floor_ppm=95_000) == 95_000
    assert anti_procyclical_ppm(120_000, policy, floor_ppm=95_000) == 120_000
    assert anti_procyclical_ppm(80_000, ApcPolicy(ApcMethod.NONE)) == 80_000


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"buffer_bps": 2_000}, "buffer_bps"),
        ({"stressed_weight_bps": 2_499}, "stressed_weight_bps"),
        ({"stressed_weight_bps": 10_001}, "stressed_weight_bps"),
    ],
)
def test_apc_policy_when_below_emir_minimum_then_refused(
    kwargs: dict[str, int], field: str
) -> None:
    with pytest.raises(FieldError) as err:
        ApcPolicy(**kwargs)  # type: ignore[arg-type]
    assert err.value.field == field


def test_apc_inputs_when_history_then_ten_year_slice_and_most_volatile_window() -> None:
    # Daily returns: 10 years are 3,650; a 12-year history keeps its last 3,650.
    r = np.arange(12 * 365, dtype=np.float64) / 1e6
    assert lookback_returns(r, 86_400).size == 3_650
    assert lookback_returns(r, 86_400)[0] == r[-3_650]
    assert lookback_returns(r[:100], 86_400).size == 100
    # The stressed window is the stretch with the largest sum of squares.
    calm_crash_calm = [0.01, -0.01, 0.2, -0.15, 0.02, 0.1, 0.0]
    assert stressed_returns(calm_crash_calm, 2).tolist() == [0.2, -0.15]
    assert stressed_returns(calm_crash_calm, 3).tolist() == [0.2, -0.15, 0.02]
    # The stressed-weight tool on them: 75% calm VaR + 25% stressed VaR.
    calm = parametric_haircut(0.01, 1, 9_900).var_ppm  # 23,264
    stressed = parametric_haircut(float(np.std(stressed_returns(calm_crash_calm, 2))), 1,
                                  9_900).var_ppm
    blended = anti_procyclical_ppm(calm, ApcPolicy(ApcMethod.STRESSED_WEIGHT),
                                   stressed_ppm=stressed)
    assert calm < blended < stressed
    with pytest.raises(FieldError) as err:
        stressed_returns(calm_crash_calm, 8)
    assert err.value.field == "window"


def test_threshold_when_haircut_then_one_minus_h_rounded_down_and_bounded() -> None:
    # h = 116,318 ppm -> 1,164 bps (up) -> LT = 88.36%.
    assert liquidation_threshold_bps(116_318) == 8_836
    assert liquidation_threshold_bps(116_300) == 8_837
    assert liquidation_threshold_bps(116_318, min_bps=9_000) == 9_000
    assert liquidation_threshold_bps(116_318, max_bps=8_500) == 8_500
    assert maintenance_fraction_ppm(116_318) == 116_318
    assert maintenance_fraction_ppm(1_000, min_ppm=5_000) == 5_000
    with pytest.raises(FieldError) as err:
        liquidation_threshold_bps(1_000_001)
    assert err.value.field == "haircut_ppm"


def test_cp_depth_when_sale_is_a_tenth_of_reserve_then_slippage_one_eleventh() -> None:
    # Selling 100 ETH into 1,000 ETH: fill / mid = 1000 / 1100, slippage 1/11 = 9.0909%;
    # the 5% bonus covers part: haircut 1/11 - 1/20 = 9/220 = 0.0409091 -> 40,910 ppm.
    s = cp_execution_slippage(100 * ETH, 1_000 * ETH)
    assert s == Fraction(1, 11)
    assert depth_haircut_ppm(s, 500) == 40_910
    assert depth_haircut_ppm(cp_execution_slippage(10 * ETH, 1_000 * ETH), 500) == 0
    # With a 0.3% fee, nothing sold still costs the fee.
    assert cp_execution_slippage(0, 1_000 * ETH, 30) == Fraction(3, 1000)


def test_cp_absorbable_when_bonus_5_percent_then_x_b_over_1_minus_b() -> None:
    # No fee: 1000 * 0.05 / 0.95 = 52.631578947368421052 ETH (wei, down).
    q = cp_absorbable_within(1_000 * ETH, 500)
    assert q == 52_631_578_947_368_421_052
    # 0.3% fee: 1000 * (0.997 - 0.95) / (0.997 * 0.95) = 49.622551866124689859 ETH.
    assert cp_absorbable_within(1_000 * ETH, 500, 30) == 49_622_551_866_124_689_859
    assert cp_absorbable_within(1_000 * ETH, 20, 30) == 0  # the fee alone exceeds the bonus


@given(st.integers(1, 10**24), st.integers(0, 9_000), st.integers(0, 100))
def test_cp_absorbable_is_the_largest_sale_within_the_bonus(x: int, b: int, fee: int) -> None:
    q = cp_absorbable_within(x, b, fee)
    bonus = Fraction(b, 10_000)
    if q > 0 or fee <= b:
        assert cp_execution_slippage(q, x, fee) <= bonus
    assert cp_execution_slippage(q + 1, x, fee) > bonus


def test_linear_depth_when_10_eth_per_percent_then_half_the_final_drop() -> None:
    # 100 ETH into 10 ETH per 1%: the mid falls 10%, the average fill 5%: exactly the bonus.
    assert linear_execution_slippage(100 * ETH, 10 * ETH) == Fraction(1, 20)
    assert linear_absorbable_within(10 * ETH, 500) == 100 * ETH
    assert depth_haircut_ppm(linear_execution_slippage(150 * ETH, 10 * ETH), 500) == 25_000
    with pytest.raises(FieldError) as err:
        linear_execution_slippage(1_001 * ETH, 10 * ETH)
    assert err.value.field == "base_in"


def test_ecc_when_position_is_2_5_days_of_capacity_then_2_8_days_capped_at_3() -> None:
    assert ecc_liquidation_days(5_000_000, 2_000_000) == Fraction(28, 10)
    assert ecc_liquidation_days(10_000_000, 2_000_000) == 3
    assert ecc_liquidation_days(0, 2_000_000) == Fraction(3, 10)
    # Against a 2-day calibration: 2.8 days scale the horizon by 1.4, the haircut by
    # sqrt(1.4): 0.1163174 * 1.1832160 = 0.1376287 -> 137,629 ppm; 0.55 days change nothing.
    t = concentration_horizon_periods(1, ecc_liquidation_days(5_000_000, 2_000_000))
    assert t == Fraction(7, 5)
    assert parametric_haircut(0.05, t, 9_900).var_ppm == 137_629
    assert concentration_horizon_periods(1, ecc_liquidation_days(500_000, 2_000_000)) == 1


def test_compose_when_size_premium_depth_crowding_then_sum_capped() -> None:
    # Drift's premium on a 10% risk haircut, 1,000 ETH, imf_factor 0.001:
    # 0.8 * 100,000 + 1,000 * sqrt(1000) = 80,000 + 31,622.78, which Drift's integer formula
    # (math/margin.rs, whole basis points) floors to 1,116 bps -> 111,600; + 40,910 + 5,000.
    sized = size_premium_imf(100_000, 1_000 * ETH, ETH, 1_000)
    assert sized == 111_600
    got = compose_haircut_ppm(100_000, size=1_000 * ETH, base_unit=ETH, imf_factor_ppm=1_000,
                              depth_ppm=40_910, crowding_ppm=5_000)
    assert got == 157_510
    assert compose_haircut_ppm(900_000, depth_ppm=200_000) == 1_000_000
    assert compose_haircut_ppm(100_000) == 100_000


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: LiquidationHorizon(0, 0, 0, 12_000), "horizon"),
        (lambda: LiquidationHorizon(-1, 0, 1, 12_000), "oracle_delay_blocks"),
        (lambda: LiquidationHorizon(1, 0, 1, 0), "block_time_ms"),
        (lambda: parametric_haircut(0.05, 1, 10_000), "confidence_bps"),
        (lambda: parametric_haircut(float("nan"), 1, 9_900), "sigma_per_period"),
        (lambda: parametric_haircut(0.05, 0, 9_900), "horizon_periods"),
        (lambda: fhs_losses([0.0, 0.0, 0.01], 1), "returns"),
        (lambda: fhs_losses(SHOCKED, 1, aggregation="bogus"), "aggregation"),  # type: ignore[arg-type]
        (lambda: fhs_losses(SHOCKED, 11, aggregation="overlapping"), "returns"),
        (lambda: empirical_tail([], 9_900), "losses"),
        (lambda: cp_absorbable_within(0, 500), "base_reserve"),
        (lambda: ecc_liquidation_days(1, 0), "daily_capacity"),
        (lambda: compose_haircut_ppm(-1), "risk_ppm"),
    ],
)
def test_bad_input_when_given_then_field_error(call: object, field: str) -> None:
    with pytest.raises(FieldError) as err:
        call()  # type: ignore[operator]
    assert err.value.field == field
