"""Seeded price processes: determinism, exact transitions, statistics, transforms.

Statistical checks use fixed seeds (so they cannot flake) and tolerances of 5 standard
errors computed from the theory, so a wrong model fails them by a wide margin.
"""

import math

import numpy as np
import pytest

from marginengine.sim.processes import (
    brownian_bridge,
    correlated_gbm,
    correlation_factor,
    flash_crash,
    flash_crash_multiplier,
    gbm,
    grid_size,
    jump_diffusion,
    jump_diffusion_increments,
    ornstein_uhlenbeck,
    resample,
    scale_volatility,
)

DAY = 1 / 365
MINUTE = 60 / 31_536_000


def rng(seed: int = 7) -> np.random.Generator:
    return np.random.default_rng(seed)


# --------------------------------------------------------------------------- determinism

DRAWS = {
    "gbm": lambda g: gbm(g, 100.0, 0.05, 0.8, DAY, 50),
    "correlated_gbm": lambda g: correlated_gbm(g, [100.0, 1.0], [0.0, 0.1], [0.8, 0.5],
                                               [[1.0, 0.6], [0.6, 1.0]], DAY, 50),
    "jump_diffusion": lambda g: jump_diffusion(g, 100.0, 0.0, 0.8, 50.0, -0.1, 0.05, DAY, 50),
    "ornstein_uhlenbeck": lambda g: ornstein_uhlenbeck(g, 1.0, 1.0, 20.0, 0.05, DAY, 50),
    "brownian_bridge": lambda g: brownian_bridge(g, 195.0, 107.5, 1.2, MINUTE, 50),
}


@pytest.mark.parametrize("name", sorted(DRAWS))
def test_draw_when_same_seed_then_bit_identical_and_other_seed_differs(name):
    draw = DRAWS[name]
    first, again, other = draw(rng(42)), draw(rng(42)), draw(rng(43))
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)
    assert first.dtype == np.float64


@pytest.mark.parametrize("name", sorted(DRAWS))
def test_draw_when_generator_shared_then_later_draws_continue_the_stream(name):
    shared = rng(5)
    DRAWS[name](shared)
    second = DRAWS[name](shared)
    fresh = rng(5)
    DRAWS[name](fresh)
    assert np.array_equal(second, DRAWS[name](fresh))
    assert not np.array_equal(second, DRAWS[name](rng(5)))


def test_gbm_when_n_zero_then_only_the_start_and_no_draws():
    g = rng()
    state = g.bit_generator.state
    assert gbm(g, 123.45, 0.1, 0.5, DAY, 0).tolist() == [123.45]
    assert g.bit_generator.state == state


# --------------------------------------------------------------------------- gbm


def test_gbm_is_exact_log_normal_step_of_the_documented_draws():
    path = gbm(rng(1), 200.0, 0.05, 0.8, DAY, 1_000)
    z = rng(1).standard_normal(1_000)
    expected = np.log(200.0) + np.concatenate(
        [[0.0], np.cumsum((0.05 - 0.32) * DAY + 0.8 * math.sqrt(DAY) * z)])
    assert path[0] == 200.0
    np.testing.assert_allclose(np.log(path), expected, rtol=0, atol=1e-12)


def test_gbm_when_sigma_zero_then_deterministic_exponential():
    path = gbm(rng(), 100.0, 0.365, 0.0, DAY, 10)
    np.testing.assert_allclose(path, 100.0 * np.exp(0.001 * np.arange(11)), rtol=1e-14)


def test_gbm_log_returns_have_mean_and_variance_of_theory_within_5_standard_errors():
    mu, sigma, n = 0.05, 0.8, 200_000
    r = np.diff(np.log(gbm(rng(2024), 150.0, mu, sigma, DAY, n)))
    var = sigma**2 * DAY
    assert abs(r.mean() - (mu - sigma**2 / 2) * DAY) < 5 * math.sqrt(var / n)
    assert abs(r.var(ddof=1) - var) < 5 * var * math.sqrt(2 / (n - 1))


# --------------------------------------------------------------------------- correlated


def test_correlated_gbm_with_one_asset_is_bit_identical_to_gbm():
    one = correlated_gbm(rng(9), [150.0], [0.05], [0.8], [[1.0]], DAY, 500)
    assert one.shape == (501, 1)
    assert np.array_equal(one[:, 0], gbm(rng(9), 150.0, 0.05, 0.8, DAY, 500))


def test_correlated_gbm_empirical_correlation_and_volatilities_match():
    rho, n = 0.7, 100_000
    sigmas = [0.8, 0.3, 0.5]
    corr = [[1.0, rho, 0.0], [rho, 1.0, -0.4], [0.0, -0.4, 1.0]]
    path = correlated_gbm(rng(11), [150.0, 1.0, 20.0], [0.0, 0.0, 0.0], sigmas, corr, DAY, n)
    assert path.shape == (n + 1, 3)
    assert path[0].tolist() == [150.0, 1.0, 20.0]
    r = np.diff(np.log(path), axis=0)
    emp = np.corrcoef(r.T)
    for i, j in ((0, 1), (0, 2), (1, 2)):
        c = corr[i][j]
        assert abs(emp[i, j] - c) < 5 * (1 - c**2) / math.sqrt(n)
    np.testing.assert_allclose(r.std(axis=0) / math.sqrt(DAY), sigmas,
                               rtol=5 / math.sqrt(2 * n))


def test_correlated_gbm_when_correlation_one_then_eigen_fallback_moves_assets_together():
    # [[1, 1], [1, 1]] is only semi-definite: Cholesky fails, the eigen factor is used.
    path = correlated_gbm(rng(3), [100.0, 10.0], [0.0, 0.0], [0.8, 0.4],
                          [[1.0, 1.0], [1.0, 1.0]], DAY, 1_000)
    r = np.diff(np.log(path), axis=0)
    shocks = (r - (-0.5 * np.array([0.64, 0.16]) * DAY)) / (np.array([0.8, 0.4])
                                                            * math.sqrt(DAY))
    np.testing.assert_allclose(shocks[:, 0], shocks[:, 1], atol=1e-9)
    assert abs(shocks[:, 0].std() - 1) < 5 / math.sqrt(2 * 1_000)


def test_correlation_factor_reproduces_the_matrix_for_definite_and_singular_input():
    for corr in ([[1.0, 0.3], [0.3, 1.0]],
                 [[1.0, 1.0, 0.5], [1.0, 1.0, 0.5], [0.5, 0.5, 1.0]]):
        factor = correlation_factor(corr)
        np.testing.assert_allclose(factor @ factor.T, corr, atol=1e-12)


@pytest.mark.parametrize(
    ("corr", "message"),
    [
        ([[1.0, 0.5], [0.4, 1.0]], r"corr: must be symmetric \(corr\.0\.1 = 0.5"),
        ([[1.0, 0.5], [0.5, 0.9]], r"corr: diagonal must be 1 \(corr\.1\.1 = 0.9\)"),
        ([[1.0, 1.5], [1.5, 1.0]], r"corr: entries must lie in \[-1, 1\]"),
        ([[1.0, 0.9, -0.9], [0.9, 1.0, 0.9], [-0.9, 0.9, 1.0]],
         "corr: must be positive semi-definite"),
        ([[1.0, 0.0, 0.0]] * 3, "corr: must be symmetric"),
        ([1.0, 0.5], "corr: must be a non-empty square matrix"),
        ([[1.0, 0.5, 0.0], [0.5, 1.0, 0.0]], "corr: must be a non-empty square matrix"),
        ([[1.0, float("nan")], [float("nan"), 1.0]], "corr: must be finite"),
        ([["a"]], "corr: must be a square matrix of numbers"),
    ],
)
def test_correlation_factor_when_matrix_invalid_then_value_error_naming_corr(corr, message):
    with pytest.raises(ValueError, match=message):
        correlation_factor(corr)


def test_correlated_gbm_when_correlation_invalid_then_value_error_naming_corr():
    with pytest.raises(ValueError, match=r"corr: must be 2 x 2 to match the 2 assets"):
        correlated_gbm(rng(), [1.0, 2.0], [0.0, 0.0], [0.5, 0.5], [[1.0]], DAY, 5)
    with pytest.raises(ValueError, match="corr: must be positive semi-definite"):
        correlated_gbm(rng(), [1.0, 2.0, 3.0], [0.0] * 3, [0.5] * 3,
                       [[1.0, 0.9, -0.9], [0.9, 1.0, 0.9], [-0.9, 0.9, 1.0]], DAY, 5)


def test_correlated_gbm_when_lengths_differ_then_value_error_naming_parameter():
    with pytest.raises(ValueError, match=r"sigma: must have one entry per asset \(2"):
        correlated_gbm(rng(), [1.0, 2.0], [0.0, 0.0], [0.5], [[1, 0], [0, 1]], DAY, 5)
    with pytest.raises(ValueError, match=r"s0\.1: must be > 0"):
        correlated_gbm(rng(), [1.0, 0.0], [0.0, 0.0], [0.5, 0.5], [[1, 0], [0, 1]], DAY, 5)


# --------------------------------------------------------------------------- jumps


def test_jump_diffusion_when_no_jumps_then_bit_identical_to_gbm():
    assert np.array_equal(jump_diffusion(rng(4), 100.0, 0.1, 0.8, 0.0, -0.2, 0.1, DAY, 300),
                          gbm(rng(4), 100.0, 0.1, 0.8, DAY, 300))


def test_jump_counts_are_poisson_with_intensity_times_dt():
    n, lam = 200_000, 182.5  # 0.5 expected jumps per daily step
    _, counts = jump_diffusion_increments(rng(12), 0.0, 0.8, lam, -0.1, 0.05, DAY, n)
    m = lam * DAY
    assert abs(counts.mean() - m) < 5 * math.sqrt(m / n)
    assert abs(counts.var(ddof=1) - m) < 5 * math.sqrt((m * (1 + 3 * m) - m**2) / n)
    p0 = math.exp(-m)
    assert abs((counts == 0).mean() - p0) < 5 * math.sqrt(p0 * (1 - p0) / n)


def test_jump_diffusion_path_is_start_times_exp_of_cumulated_increments():
    args = (0.0, 0.8, 30.0, -0.2, 0.05, DAY, 1_000)
    path = jump_diffusion(rng(6), 100.0, *args)
    increments, counts = jump_diffusion_increments(rng(6), *args)
    assert path[0] == 100.0
    np.testing.assert_allclose(path, 100.0 * np.exp(np.concatenate([[0.0],
                                                                     np.cumsum(increments)])))
    assert counts.sum() > 0


def test_jump_diffusion_when_sigma_and_jump_std_zero_then_each_jump_is_exactly_jump_mean():
    jm, lam = -0.1, 73.0
    increments, counts = jump_diffusion_increments(rng(8), 0.2, 0.0, lam, jm, 0.0, DAY, 5_000)
    drift = (0.2 - lam * math.expm1(jm)) * DAY
    np.testing.assert_allclose(increments, drift + counts * jm, rtol=0, atol=1e-15)


def test_jump_diffusion_is_drift_compensated_so_exp_increments_average_exp_mu_dt():
    mu, sigma, lam, jm, js, n = 0.1, 0.6, 36.5, -0.05, 0.1, 200_000
    increments, _ = jump_diffusion_increments(rng(13), mu, sigma, lam, jm, js, DAY, n)
    kappa = math.exp(jm + js**2 / 2) - 1
    mean = (mu - sigma**2 / 2 - lam * kappa) * DAY + lam * DAY * jm
    var = sigma**2 * DAY + lam * DAY * (jm**2 + js**2)
    assert abs(increments.mean() - mean) < 5 * math.sqrt(var / n)
    assert abs(increments.var(ddof=1) - var) < 0.05 * var
    gross = np.exp(increments)
    # Without the compensation this mean would be off by lam*kappa*dt = 0.0044, 40 SEs.
    assert abs(gross.mean() - math.exp(mu * DAY)) < 5 * gross.std() / math.sqrt(n)


# --------------------------------------------------------------------------- flash crash


def test_flash_crash_drop_is_exactly_k_sigma_of_the_horizon_and_carried_forward():
    path = np.array([100.0, 101.0, 102.0, 99.0, 98.0])
    crashed = flash_crash(path, at=2, k_sigma=4.0, sigma=0.5, dt=0.01)
    drop = math.exp(-4.0 * 0.5 * 0.1)  # log move 0.2 = 4 standard deviations of 0.05
    assert drop == pytest.approx(0.8187307530779818, rel=1e-15)
    assert crashed[:2].tolist() == [100.0, 101.0]
    assert crashed[2:].tolist() == (path[2:] * drop).tolist()
    assert path.tolist() == [100.0, 101.0, 102.0, 99.0, 98.0]  # input untouched


def test_flash_crash_black_thursday_size_daily_ten_sigma():
    path = np.full(145, 195.0)
    crashed = flash_crash(path, at=60, k_sigma=10.0, sigma=0.8, dt=DAY)
    assert crashed[60] / 195.0 == pytest.approx(math.exp(-8 / math.sqrt(365)))
    assert crashed[60] / 195.0 == pytest.approx(0.6578, abs=1e-4)


def test_flash_crash_recovery_is_linear_in_price_to_the_fraction_then_holds():
    path = np.full(8, 100.0)
    crashed = flash_crash(path, at=2, k_sigma=2.0, sigma=1.0, dt=math.log(2) ** 2 / 4,
                          recovery_steps=4, recovery_fraction=0.5)
    # log drop = 2 * 1 * log(2)/2 = log 2: the price halves, then wins back half of 50.
    np.testing.assert_allclose(crashed, [100, 100, 50, 56.25, 62.5, 68.75, 75, 75],
                               rtol=1e-14)


def test_flash_crash_on_a_two_asset_path_shocks_every_column():
    path = np.array([[100.0, 1.0], [100.0, 1.0], [100.0, 1.0]])
    crashed = flash_crash(path, at=1, k_sigma=1.0, sigma=1.0, dt=1.0)
    np.testing.assert_allclose(crashed, [[100, 1], [100 / math.e, 1 / math.e],
                                         [100 / math.e, 1 / math.e]])


def test_flash_crash_multiplier_when_negative_k_then_spike_up():
    assert flash_crash_multiplier(3, 1, -1.0, 1.0, 1.0).tolist() == [1.0, math.e, math.e]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"at": 5}, r"at: must be a step of the path, 0..4 \(got 5\)"),
        ({"at": -1}, r"at: must be >= 0"),
        ({"sigma": -0.1}, r"sigma: must be >= 0 \(got -0.1\)"),
        ({"dt": 0.0}, r"dt: must be > 0"),
        ({"recovery_fraction": 0.5}, "recovery_steps: must be >= 1 when recovery_fraction > 0"),
        ({"recovery_fraction": 1.5, "recovery_steps": 2}, r"recovery_fraction: must lie in"),
        ({"k_sigma": float("nan")}, "k_sigma: must be finite"),
    ],
)
def test_flash_crash_when_arguments_invalid_then_value_error_naming_them(kwargs, message):
    args = {"at": 2, "k_sigma": 3.0, "sigma": 0.8, "dt": DAY} | kwargs
    with pytest.raises(ValueError, match=message):
        flash_crash(np.full(5, 100.0), **args)


def test_flash_crash_when_path_has_nan_then_value_error():
    with pytest.raises(ValueError, match=r"path: must be finite \(index 1 is nan\)"):
        flash_crash(np.array([1.0, float("nan")]), at=0, k_sigma=1.0, sigma=1.0, dt=1.0)


# --------------------------------------------------------------------------- OU


def test_ou_step_is_the_exact_transition_of_the_documented_draws():
    theta, sigma, mean, n = 50.0, 0.1, 1.0, 1_000
    x = ornstein_uhlenbeck(rng(21), 0.9, mean, theta, sigma, DAY, n)
    a = math.exp(-theta * DAY)
    sd = sigma * math.sqrt((1 - a * a) / (2 * theta))  # 6.5% below Euler's sigma*sqrt(dt)
    z = rng(21).standard_normal(n)
    assert x[0] == 0.9
    np.testing.assert_allclose(x[1:] - mean - a * (x[:-1] - mean), sd * z, rtol=0, atol=1e-13)


def test_ou_when_sigma_zero_then_exponential_decay_to_the_mean():
    x = ornstein_uhlenbeck(rng(), 0.5, 1.0, 10.0, 0.0, DAY, 30)
    np.testing.assert_allclose(x, 1.0 - 0.5 * np.exp(-10.0 * DAY * np.arange(31)), rtol=1e-13)


def test_ou_reverts_to_the_mean_across_paths():
    theta, sigma, n, paths = 10.0, 0.1, 20, 2_000
    g = rng(31)
    ends = np.array([ornstein_uhlenbeck(g, 0.5, 1.0, theta, sigma, DAY, n)[-1]
                     for _ in range(paths)])
    t = n * DAY
    mean = 1.0 - 0.5 * math.exp(-theta * t)  # 0.711
    var = sigma**2 * (1 - math.exp(-2 * theta * t)) / (2 * theta)
    assert abs(ends.mean() - mean) < 5 * math.sqrt(var / paths)
    assert abs(ends.var(ddof=1) - var) < 5 * var * math.sqrt(2 / (paths - 1))


def test_ou_long_path_has_the_ar1_coefficient_and_stationary_variance():
    theta, sigma, n = 5.0, 0.1, 200_000
    x = ornstein_uhlenbeck(rng(41), 1.0, 1.0, theta, sigma, DAY, n) - 1.0
    a = math.exp(-theta * DAY)
    slope = np.dot(x[:-1], x[1:]) / np.dot(x[:-1], x[:-1])
    assert abs(slope - a) < 5 * math.sqrt((1 - a * a) / n)
    stationary = sigma**2 / (2 * theta)
    effective = n * (1 - a) / (1 + a)
    assert abs(x.var() - stationary) < 5 * stationary * math.sqrt(2 / effective)


def test_ou_when_theta_zero_then_brownian_motion():
    x = ornstein_uhlenbeck(rng(3), 0.0, 5.0, 0.0, 0.5, DAY, 100)
    np.testing.assert_allclose(np.diff(x), 0.5 * math.sqrt(DAY) * rng(3).standard_normal(100),
                               atol=1e-15)


def test_ou_floor_clips_the_values_but_not_the_process():
    kwargs = {"x0": 0.01, "mean": 0.0, "theta": 1.0, "sigma": 1.0, "dt": DAY, "n": 500}
    free = ornstein_uhlenbeck(rng(5), **kwargs)
    floored = ornstein_uhlenbeck(rng(5), **kwargs, floor=1e-8)
    assert free.min() < 0
    assert floored.min() == 1e-8
    assert np.array_equal(floored, np.maximum(free, 1e-8))


# --------------------------------------------------------------------------- bridge


def test_brownian_bridge_is_pinned_exactly_at_both_ends():
    for seed in range(20):
        path = brownian_bridge(rng(seed), 195.21, 107.52, 1.5, MINUTE, 1_440)
        assert path[0] == 195.21
        assert path[-1] == 107.52
        assert (path > 0).all()


def test_brownian_bridge_when_sigma_zero_then_straight_line_in_log_price():
    path = brownian_bridge(rng(), 100.0, 25.0, 0.0, DAY, 4)
    np.testing.assert_allclose(path, [100.0, 70.71067811865476, 50.0, 35.35533905932738, 25.0],
                               rtol=1e-14)


def test_brownian_bridge_midpoint_has_bridge_mean_and_variance():
    sigma, n, paths = 0.8, 10, 4_000
    g = rng(17)
    mids = np.array([math.log(brownian_bridge(g, 200.0, 100.0, sigma, DAY, n)[5])
                     for _ in range(paths)])
    var = sigma**2 * DAY * 5 * 5 / n
    assert abs(mids.mean() - math.log(200.0 * (0.5 ** 0.5))) < 5 * math.sqrt(var / paths)
    assert abs(mids.var(ddof=1) - var) < 5 * var * math.sqrt(2 / (paths - 1))


def test_brownian_bridge_when_no_steps_then_value_error():
    with pytest.raises(ValueError, match=r"n: must be >= 1 \(got 0\)"):
        brownian_bridge(rng(), 1.0, 1.0, 0.5, DAY, 0)


# --------------------------------------------------------------------------- resample


def test_resample_linear_worked_by_hand():
    times = np.array([0.0, 600.0, 1200.0])
    values = np.array([100.0, 106.0, 94.0])
    new_t, new_v = resample(times, values, 450.0, "linear")
    assert new_t.tolist() == [0.0, 450.0, 900.0]  # 1200 is not on the 450 s grid
    np.testing.assert_allclose(new_v, [100.0, 104.5, 100.0], rtol=1e-15)
    new_t, new_v = resample(times, values, 240.0, "linear")
    assert new_t.tolist() == [0.0, 240.0, 480.0, 720.0, 960.0, 1200.0]
    np.testing.assert_allclose(new_v, [100.0, 102.4, 104.8, 103.6, 98.8, 94.0], rtol=1e-15)


def test_resample_previous_worked_by_hand():
    times = np.array([0.0, 600.0, 1200.0])
    values = np.array([100.0, 106.0, 94.0])
    new_t, new_v = resample(times, values, 300.0, "previous")
    assert new_t.tolist() == [0.0, 300.0, 600.0, 900.0, 1200.0]
    assert new_v.tolist() == [100.0, 100.0, 106.0, 106.0, 94.0]


def test_resample_irregular_input_and_two_columns():
    times = np.array([10.0, 20.0, 50.0])
    values = np.array([[1.0, 10.0], [2.0, 20.0], [5.0, 20.0]])
    new_t, linear = resample(times, values, 10.0, "linear")
    assert new_t.tolist() == [10.0, 20.0, 30.0, 40.0, 50.0]
    np.testing.assert_allclose(linear, [[1, 10], [2, 20], [3, 20], [4, 20], [5, 20]])
    _, previous = resample(times, values, 10.0, "previous")
    assert previous[:, 0].tolist() == [1.0, 2.0, 2.0, 2.0, 5.0]


def test_resample_ten_minute_bars_to_one_minute_keeps_every_bar():
    times = 1583971200.0 + 600.0 * np.arange(144)
    values = np.linspace(195.0, 107.0, 144)
    new_t, new_v = resample(times, values, 60.0, "previous")
    assert len(new_t) == 1_431
    assert np.array_equal(new_v[::10], values)


def test_resample_window_when_first_and_length_then_the_slice_of_the_whole_grid():
    times = np.array([0.0, 600.0, 1200.0])
    values = np.array([100.0, 106.0, 94.0])
    assert grid_size(1200.0, 300.0) == 5 and grid_size(1200.0, 450.0) == 3
    new_t, new_v = resample(times, values, 300.0, "previous", first=1, length=3)
    assert new_t.tolist() == [300.0, 600.0, 900.0]
    assert new_v.tolist() == [100.0, 106.0, 106.0]
    # Past the grid's end: what there is (the 5th point), then nothing.
    assert resample(times, values, 300.0, "previous", first=4, length=3)[1].tolist() == [94.0]
    assert resample(times, values, 300.0, "linear", first=9, length=2)[0].tolist() == []
    whole_t, whole_v = resample(times, values, 240.0, "linear")
    part_t, part_v = resample(times, values, 240.0, "linear", first=2)
    assert np.array_equal(part_t, whole_t[2:]) and np.array_equal(part_v, whole_v[2:])


def test_resample_window_when_hourly_years_on_one_second_steps_then_only_the_window():
    # Four years of hourly bars on 1-second steps: a grid of 126,226,801 points, of which
    # the window's 4 are built (the whole grid took gigabytes and minutes: a timeout).
    times = 1.46e9 + 3600.0 * np.arange(35_064)
    values = np.arange(35_064, dtype=float)
    assert grid_size(float(times[-1] - times[0]), 1.0) == 126_226_801
    new_t, new_v = resample(times, values, 1.0, "previous", first=3599, length=4)
    assert (new_t - times[0]).tolist() == [3599.0, 3600.0, 3601.0, 3602.0]
    assert new_v.tolist() == [0.0, 1.0, 1.0, 1.0]


@pytest.mark.parametrize(
    ("times", "values", "step", "method", "message"),
    [
        ([0.0, 10.0, 10.0], [1.0, 2.0, 3.0], 1.0, "linear",
         r"times: must be strictly increasing \(times\.2 = 10.0 after times\.1 = 10.0\)"),
        ([0.0, 10.0], [1.0], 1.0, "linear", r"values: must have one row per time \(2\)"),
        ([0.0, 10.0], [1.0, float("nan")], 1.0, "linear", "values: must be finite"),
        ([0.0, 10.0], [1.0, 2.0], 0.0, "linear", "new_dt_seconds: must be > 0"),
        ([0.0, 10.0], [1.0, 2.0], 1.0, "nearest", "method: must be 'linear' or 'previous'"),
        ([], [], 1.0, "linear", "times: must be a non-empty"),
    ],
)
def test_resample_when_input_invalid_then_value_error(times, values, step, method, message):
    with pytest.raises(ValueError, match=message):
        resample(np.array(times), np.array(values), step, method)


# --------------------------------------------------------------------------- scale vol


def test_scale_volatility_by_one_returns_the_same_path_exactly():
    path = gbm(rng(2), 150.0, 0.0, 0.8, MINUTE, 10_000)
    assert np.array_equal(scale_volatility(path, 1.0), path)


def test_scale_volatility_by_two_doubles_the_log_return_standard_deviation():
    path = gbm(rng(2), 150.0, 0.0, 0.8, MINUTE, 10_000)
    scaled = scale_volatility(path, 2.0)
    assert scaled[0] == 150.0
    np.testing.assert_allclose(np.diff(np.log(scaled)), 2 * np.diff(np.log(path)), atol=1e-12)
    assert np.std(np.diff(np.log(scaled))) == pytest.approx(
        2 * np.std(np.diff(np.log(path))), rel=1e-9)


def test_scale_volatility_worked_numbers_and_columns():
    path = np.array([[100.0, 1.0], [57.0, 2.0]])  # a -43% day and a doubling
    scaled = scale_volatility(path, 2.0)
    np.testing.assert_allclose(scaled, [[100.0, 1.0], [32.49, 4.0]], rtol=1e-13)
    assert scale_volatility(path, 0.0).tolist() == [[100.0, 1.0], [100.0, 1.0]]


def test_scale_volatility_when_path_not_positive_then_value_error():
    with pytest.raises(ValueError, match=r"path: must be > 0 \(index 1 is 0.0\)"):
        scale_volatility(np.array([1.0, 0.0]), 2.0)
    with pytest.raises(ValueError, match=r"factor: must be >= 0"):
        scale_volatility(np.array([1.0, 2.0]), -1.0)


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: gbm(rng(), 0.0, 0.0, 0.5, DAY, 5), r"s0: must be > 0 \(got 0.0\)"),
        (lambda: gbm(rng(), -1.0, 0.0, 0.5, DAY, 5), "s0: must be > 0"),
        (lambda: gbm(rng(), 1.0, 0.0, -0.5, DAY, 5), r"sigma: must be >= 0 \(got -0.5\)"),
        (lambda: gbm(rng(), 1.0, 0.0, 0.5, 0.0, 5), "dt: must be > 0"),
        (lambda: gbm(rng(), 1.0, 0.0, 0.5, DAY, -1), r"n: must be >= 0 \(got -1\)"),
        (lambda: gbm(rng(), 1.0, 0.0, 0.5, DAY, 2.5), "n: must be an integer"),
        (lambda: gbm(rng(), 1.0, 0.0, 0.5, DAY, True), "n: must be an integer"),
        (lambda: gbm(rng(), 1.0, float("inf"), 0.5, DAY, 5), "mu: must be finite"),
        (lambda: gbm(rng(), "1", 0.0, 0.5, DAY, 5), "s0: must be a real number"),
        (lambda: gbm(rng(), 1.0, 1e6, 0.5, 1.0, 5), "gbm: the path overflowed"),
        (lambda: jump_diffusion(rng(), 1.0, 0.0, 0.5, -1.0, 0.0, 0.1, DAY, 5),
         "jump_intensity: must be >= 0"),
        (lambda: jump_diffusion(rng(), 1.0, 0.0, 0.5, 1.0, 0.0, -0.1, DAY, 5),
         "jump_std: must be >= 0"),
        (lambda: ornstein_uhlenbeck(rng(), 1.0, 1.0, -1.0, 0.1, DAY, 5), "theta: must be >= 0"),
        (lambda: brownian_bridge(rng(), 1.0, 0.0, 0.1, DAY, 5), "s_end: must be > 0"),
    ],
)
def test_process_when_parameter_invalid_then_value_error_naming_it(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_process_when_not_given_a_generator_then_type_error():
    with pytest.raises(TypeError, match="rng: must be a numpy.random.Generator"):
        gbm(np.random.RandomState(1), 1.0, 0.0, 0.5, DAY, 5)  # the legacy global-style API
    with pytest.raises(TypeError, match="rng: must be a numpy.random.Generator"):
        ornstein_uhlenbeck(42, 1.0, 1.0, 1.0, 0.1, DAY, 5)
