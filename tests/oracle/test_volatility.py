"""Volatility estimators: EWMA on a hand-computed series, realized, GARCH(1,1), int fixing."""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest

from marginengine.errors import OracleError
from marginengine.fixedpoint import Rounding
from marginengine.oracle.volatility import (
    LAMBDA_DAILY,
    LAMBDA_MONTHLY,
    annualized_vol_ppm,
    estimate_volatility,
    ewma_variances,
    garch_variance,
    log_returns,
    realized_variance,
)

# Prices up 10%, down 10%, up 10%: returns a = ln 1.1 = 0.0953102, b = ln 0.9 = -0.1053605,
# a, so a^2 = 0.00908403, b^2 = 0.01110084.
PRICES = [10_000, 11_000, 9_900, 10_890]
A2 = math.log(1.1) ** 2
B2 = math.log(0.9) ** 2


def test_log_returns_when_prices_move_ten_percent_then_returns_are_logs() -> None:
    r = log_returns(PRICES)
    assert r.tolist() == pytest.approx([0.0953102, -0.1053605, 0.0953102], abs=1e-7)


def test_log_returns_when_prices_exceed_float_precision_then_ratio_is_exact() -> None:
    # 10**20 + 1 is not a float64; the ratio is taken in exact rationals first.
    r = log_returns([10**20, 11 * 10**19, 10**20 + 1])
    assert r.tolist() == pytest.approx([math.log(1.1), math.log((10**20 + 1) / 1.1e20)],
                                       rel=1e-15)


def test_ewma_when_lambda_094_then_matches_hand_recursion() -> None:
    # Seed v0 = a^2 = 0.00908403 (first return, seed_count=1);
    # v1 = 0.94 * 0.00908403 + 0.06 * 0.01110084 = 0.00853899 + 0.00066605 = 0.00920504;
    # v2 = 0.94 * 0.00920504 + 0.06 * 0.00908403 = 0.00865274 + 0.00054504 = 0.00919778.
    v = ewma_variances(log_returns(PRICES), LAMBDA_DAILY, seed_count=1)
    assert v.tolist() == pytest.approx([0.00908403, 0.00920504, 0.00919778], abs=5e-9)
    assert v[1] == pytest.approx(0.94 * A2 + 0.06 * B2, rel=1e-15)


def test_ewma_when_lambda_097_then_weights_the_past_more() -> None:
    # v1 = 0.97 a^2 + 0.03 b^2 = 0.00914453; v2 = 0.97 v1 + 0.03 a^2 = 0.00914272.
    v = ewma_variances(log_returns(PRICES), LAMBDA_MONTHLY)
    assert v.tolist() == pytest.approx([0.00908403, 0.00914453, 0.00914272], abs=5e-9)


def test_ewma_when_seed_window_two_then_seed_is_mean_square_and_not_recounted() -> None:
    # v0 = (a^2 + b^2) / 2 = 0.01009243; v1 = 0.94 v0 + 0.06 a^2 = 0.01003193.
    v = ewma_variances(log_returns(PRICES), 0.94, seed_count=2)
    assert v.tolist() == pytest.approx([0.01009243, 0.01003193], abs=5e-9)


def test_realized_variance_when_window_two_then_mean_of_last_two_squares() -> None:
    r = log_returns(PRICES)
    assert realized_variance(r, 2) == pytest.approx((B2 + A2) / 2, rel=1e-15)
    assert realized_variance(r, 3) == pytest.approx((2 * A2 + B2) / 3, rel=1e-15)


def test_annualized_vol_when_daily_variance_then_exact_ppm_with_rounding() -> None:
    # sqrt(0.00919778 * 365) = 1.832263 a year: 1,832,264 ppm rounded up, ...263 down.
    est = estimate_volatility(PRICES, 86_400)
    assert est.method == "ewma"
    assert est.vol_ppm == 1_832_264
    assert annualized_vol_ppm(est.variance_per_period, 86_400, Rounding.DOWN) == 1_832_263
    assert annualized_vol_ppm(est.variance_per_period, 86_400, Rounding.HALF_UP) == 1_832_263
    # 0.25 per one-year period is exactly 0.5, i.e. 500,000 ppm, with no rounding either way;
    # 1% a day over 365 days is sqrt(0.0365) = 0.19104973 a year: 191,050 ppm rounded up.
    assert annualized_vol_ppm(0.25, 365 * 86_400, Rounding.UP) == 500_000
    assert annualized_vol_ppm(0.25, 365 * 86_400, Rounding.DOWN) == 500_000
    assert annualized_vol_ppm(0.0001, 86_400) == 191_050


def test_estimate_realized_when_no_window_then_all_returns() -> None:
    est = estimate_volatility(PRICES, 86_400, "realized")
    assert est.variance_per_period == pytest.approx((2 * A2 + B2) / 3, rel=1e-15)
    assert est.vol_ppm == math.ceil(math.sqrt(est.variance_per_period * 365) * 1e6)


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: log_returns([100]), "prices"),
        (lambda: log_returns([100, 0]), "prices.1"),
        (lambda: log_returns([100, 101.5]), "prices.1"),
        (lambda: ewma_variances([0.1, 0.2], lam=1.0), "lam"),
        (lambda: ewma_variances([0.1, 0.2], lam=float("nan")), "lam"),
        (lambda: ewma_variances([0.1, 0.2], seed_count=3), "seed_count"),
        (lambda: ewma_variances([], 0.94), "returns"),
        (lambda: realized_variance([0.1], 0), "window"),
        (lambda: annualized_vol_ppm(-1.0, 60), "variance_per_period"),
        (lambda: estimate_volatility(PRICES, 0), "period_seconds"),
        (lambda: estimate_volatility(PRICES, 60, "bogus"), "method"),  # type: ignore[arg-type]
    ],
)
def test_bad_input_when_given_then_one_error_naming_the_field(call: object, field: str) -> None:
    with pytest.raises(OracleError) as err:
        call()  # type: ignore[operator]
    assert err.value.field == field


HAS_ARCH = importlib.util.find_spec("arch") is not None


@pytest.mark.skipif(not HAS_ARCH, reason="the optional 'arch' package (extra 'adaptive') is absent")
def test_garch_when_path_simulated_from_known_params_then_fit_recovers_persistence() -> None:
    # Simulate GARCH(1,1) in percent units: omega 0.05, alpha 0.10, beta 0.85 (persistence
    # 0.95, unconditional variance 0.05 / 0.05 = 1 %^2), 4,000 draws from a seeded generator.
    rng = np.random.default_rng(7)
    omega, alpha, beta = 0.05, 0.10, 0.85
    n = 4_000
    r = np.empty(n)
    s2 = omega / (1 - alpha - beta)
    for t in range(n):
        r[t] = math.sqrt(s2) * rng.standard_normal()
        s2 = omega + alpha * r[t] ** 2 + beta * s2
    variance, params = garch_variance(r / 100.0)
    assert params["alpha[1]"] + params["beta[1]"] == pytest.approx(0.95, abs=0.03)
    # The forecast is the model's own recursion one step ahead of the last return.
    assert variance > 0
    again, _ = garch_variance(r / 100.0)
    assert again == variance  # deterministic
    est = estimate_volatility([int(1e8 * math.exp(x)) for x in np.cumsum(r / 100)], 86_400,
                              "garch")
    assert est.method == "garch" and est.vol_ppm > 0


@pytest.mark.skipif(not HAS_ARCH, reason="the optional 'arch' package (extra 'adaptive') is absent")
def test_garch_when_too_few_returns_then_error() -> None:
    with pytest.raises(OracleError, match="at least 30"):
        garch_variance([0.01] * 10)
