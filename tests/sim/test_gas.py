"""Gas for keepers: replay on the simulator's steps, a volatility-driven process, USD cost."""

import math

import numpy as np
import pytest

from marginengine.sim.gas import (
    MAX_GAS_GWEI,
    gas_process,
    gas_replay,
    horizon_steps,
    keeper_cost_usd,
    rolling_abs_return,
    trailing_returns,
)
from marginengine.sim.history import (
    BLACK_THURSDAY_GAS,
    BLACK_THURSDAY_PRICES,
    Series,
    load_gas,
    load_price_bars,
)

TEN_MINUTES = 600 / 31_536_000
ONE_SECOND = 1 / 31_536_000


def small_series() -> Series:
    return Series(np.array([1000.0, 1600.0, 2200.0]), np.array([10.0, 200.0, 50.0]),
                  name="avgGasDay", unit="gwei")


# --------------------------------------------------------------------------- replay


def test_gas_replay_holds_each_value_until_the_next_worked_by_hand():
    gas = gas_replay(small_series(), step_seconds=300.0, n=6)
    # step times 1000, 1300, 1600, 1900, 2200, 2500 (past the end: the last value holds)
    assert gas.tolist() == [10.0, 10.0, 200.0, 200.0, 50.0, 50.0]


def test_gas_replay_from_a_later_start():
    assert gas_replay(small_series(), 600.0, 3, start=1599.0).tolist() == [10.0, 200.0, 50.0]
    assert gas_replay(small_series(), 600.0, 0).tolist() == []


def test_gas_replay_black_thursday_at_one_minute_steps():
    gas = load_gas(BLACK_THURSDAY_GAS, field="avgGasDay")
    replay = gas_replay(gas, step_seconds=60.0, n=1_440)
    assert replay.shape == (1_440,)
    assert np.array_equal(replay[::10], gas.values)
    peak = 17 * 60 + 50
    assert replay[peak:peak + 10].tolist() == [gas.values.max()] * 10


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: gas_replay(s, 60.0, 5, start=999.0),
         "start: 999.0 is before the series' first time 1000.0"),
        (lambda s: gas_replay(s, 0.0, 5), "step_seconds: must be > 0"),
        (lambda s: gas_replay(s, 60.0, -1), "n: must be >= 0"),
        (lambda s: gas_replay(Series(s.times, s.values * 1e9, "avgGasDay", "wei"), 60.0, 5),
         "series: must be in gwei"),
        (lambda s: gas_replay(s.values, 60.0, 5), "series: must be a Series"),
    ],
)
def test_gas_replay_when_arguments_invalid_then_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call(small_series())


# --------------------------------------------------------------------------- process


def test_rolling_abs_return_worked_by_hand():
    means, counts = rolling_abs_return(np.array([0.01, -0.03, 0.02, -0.04]), window=2)
    np.testing.assert_allclose(means, [0.01, 0.02, 0.025, 0.03])
    assert counts.tolist() == [1.0, 2.0, 2.0, 2.0]


def test_gas_process_without_sensitivity_or_noise_is_the_base_price():
    returns = np.diff(np.log(load_price_bars(BLACK_THURSDAY_PRICES).values))
    gas = gas_process(np.random.default_rng(1), 10.0, 0.0, returns, 0.0, 143)
    assert gas.tolist() == [10.0] * 143


def test_gas_process_in_sample_z_score_worked_by_hand():
    # |r| trailing means over 2 steps: 0.01, 0.01, 0.03 -> z = -1/sqrt(2), -1/sqrt(2), sqrt(2)
    returns = np.array([0.01, -0.01, 0.05])
    gas = gas_process(np.random.default_rng(0), 10.0, 1.0, returns, 0.0, 3, window=2)
    np.testing.assert_allclose(gas, 10.0 * np.exp([-1 / math.sqrt(2), -1 / math.sqrt(2),
                                                   math.sqrt(2)]), rtol=1e-12)


def test_gas_process_against_calm_reference_worked_by_hand():
    s = 0.004
    calm = s * math.sqrt(2 / math.pi)               # E|r| of a calm market
    excess = s * math.sqrt(1 - 2 / math.pi)         # one standard deviation of |r|
    returns = np.array([calm, -calm, calm + 3 * excess])
    gas = gas_process(np.random.default_rng(0), 10.0, 0.5, returns, 0.0, 3, window=1,
                      reference_sigma=s)
    np.testing.assert_allclose(gas, [10.0, 10.0, 10.0 * math.exp(1.5)], rtol=1e-12)


def test_gas_process_noise_is_lognormal_with_the_given_standard_deviation():
    n = 100_000
    gas = gas_process(np.random.default_rng(3), 20.0, 0.0, np.zeros(n), 0.3, n)
    log_gas = np.log(gas)
    assert abs(log_gas.mean() - math.log(20.0)) < 5 * 0.3 / math.sqrt(n)
    assert abs(log_gas.std() - 0.3) < 5 * 0.3 / math.sqrt(2 * n)
    eps = np.random.default_rng(3).standard_normal(n)   # the documented draws
    np.testing.assert_allclose(log_gas, math.log(20.0) + 0.3 * eps, atol=1e-12)


def test_gas_process_rises_in_a_crash_and_stays_near_base_when_calm():
    g = np.random.default_rng(11)
    s = 0.8 * math.sqrt(TEN_MINUTES)
    calm = g.normal(0.0, s, 200)
    crash = calm.copy()
    crash[100:112] = -5 * s                          # two hours of 5-sigma falls
    kwargs = {"base_gwei": 10.0, "vol_sensitivity": 0.3, "noise": 0.0, "n": 200,
              "window": 6, "reference_sigma": s}
    quiet = gas_process(np.random.default_rng(1), returns=calm, **kwargs)
    busy = gas_process(np.random.default_rng(1), returns=crash, **kwargs)
    assert quiet.min() > 5.0 and quiet.max() < 20.0
    # Once the 6-step window is all crash, z = (5 - sqrt(2/pi)) / sqrt(1 - 2/pi) = 6.97.
    z = (5 - math.sqrt(2 / math.pi)) / math.sqrt(1 - 2 / math.pi)
    np.testing.assert_allclose(busy[105:112], 10.0 * math.exp(0.3 * z), rtol=1e-12)
    assert busy[105] > 6 * quiet.max()
    assert np.array_equal(busy[:100], quiet[:100])   # trailing window: no look-ahead


def test_gas_process_cap_limits_the_price():
    returns = np.concatenate([np.zeros(50), np.full(10, -0.2)])
    gas = gas_process(np.random.default_rng(2), 10.0, 2.0, returns, 0.1, 60, cap_gwei=500.0)
    assert gas.max() == 500.0
    assert (gas > 0).all()


def test_gas_process_same_seed_same_gas_and_other_seed_differs():
    returns = np.random.default_rng(0).normal(0.0, 0.01, 500)
    def run(seed):
        return gas_process(np.random.default_rng(seed), 10.0, 0.5, returns, 0.2, 500)
    assert np.array_equal(run(5), run(5))
    assert not np.array_equal(run(5), run(6))


def test_gas_process_explains_black_thursday_gas():
    # The model's z, from the 10-minute price bars alone, tracks the day's mean gas price.
    prices = load_price_bars(BLACK_THURSDAY_PRICES).values
    gas = load_gas(BLACK_THURSDAY_GAS, field="avgGasDay").values
    returns = np.diff(np.log(prices))
    modelled = gas_process(np.random.default_rng(0), 10.0, 0.14, returns, 0.0, 143,
                           window=12, reference_sigma=0.8 * math.sqrt(TEN_MINUTES))
    assert np.corrcoef(np.log(modelled), np.log(gas[1:]))[0, 1] > 0.5
    assert modelled[:36].max() < 20.0                # calm morning (00:00-06:00Z)
    assert modelled.max() > 90.0                     # the afternoon crash


def test_gas_process_when_a_crash_within_one_second_then_gas_at_the_ceiling():
    # The defect of backtest_crash.toml at step_seconds = 1: a 25% fall in one 1-second
    # step is z = (0.25 / 3 - s * sqrt(2/pi)) / (s * sqrt(1 - 2/pi)) = 1,293 calm standard
    # deviations of a 60%-volatility market (s = 0.6 * sqrt(1 s / year)), and
    # exp(0.6 * 1293) overflowed float64. It is now the ceiling, a price no keeper pays.
    s = 0.6 * math.sqrt(ONE_SECOND)
    returns = np.array([0.0, 0.0, -0.25])
    kwargs = {"base_gwei": 25.0, "vol_sensitivity": 0.6, "returns": returns, "noise": 0.0,
              "n": 3, "reference_sigma": s}
    gas = gas_process(np.random.default_rng(0), **kwargs)
    z_crash = (0.25 / 3 - s * math.sqrt(2 / math.pi)) / (s * math.sqrt(1 - 2 / math.pi))
    assert z_crash == pytest.approx(1292.545, abs=1e-3)
    assert gas[2] == MAX_GAS_GWEI == 1e12
    # Before the crash, |r| = 0 is z = -sqrt(2/pi) / sqrt(1 - 2/pi) = -1.3236: 11.30 gwei.
    calm = 25.0 * math.exp(0.6 * -math.sqrt(2 / math.pi) / math.sqrt(1 - 2 / math.pi))
    assert calm == pytest.approx(11.2990, abs=1e-4)
    np.testing.assert_allclose(gas[:2], [calm, calm], rtol=1e-12)
    # A keeper's bid limit still binds below the ceiling.
    capped = gas_process(np.random.default_rng(0), cap_gwei=500.0, **kwargs)
    assert capped.tolist() == [gas[0], gas[1], 500.0]


YEAR = 31_536_000


def gas_on_steps(case: str, seed: int, dt: int, **kwargs) -> np.ndarray:
    """Two hours of one market (0.8 a year, 1-second log returns from ``seed``) seen at
    ``dt``-second steps, and its gas: 20 gwei at calm, sensitivity 0.6, noise 0.2, cap
    500 (lst_crash's [gas]). ``jump``: -10% within the second at 30 minutes; ``trend``:
    -25% spread over the hour from 30 minutes."""
    r = np.random.default_rng(seed).standard_normal(7_200) * 0.8 * math.sqrt(1 / YEAR)
    if case == "jump":
        r[1_800] += math.log(0.9)
    else:
        r[1_800:5_400] += math.log(0.75) / 3_600
    returns = np.diff(np.concatenate([[0.0], np.cumsum(r)])[::dt])
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(dt,)))
    return gas_process(rng, 20.0, 0.6, returns, 0.2, returns.size, 500.0,
                       reference_sigma=0.8 * math.sqrt(dt / YEAR), **kwargs)


@pytest.mark.parametrize("case", ["jump", "trend"])
def test_gas_process_when_steps_1_12_60_seconds_then_same_mean_and_time_at_cap(case):
    # The same market on the same horizon, cut into 1-, 12- and 60-second steps, three
    # seeds each: the mean gas within 5% and the time at the cap within 10% of the
    # 60-second steps' (jump: about 600 s at the cap, the 10-minute window; trend:
    # about 2,500 s; mean gas about 61 and 237 gwei).
    figures = {}
    for dt in (1, 12, 60):
        runs = [gas_on_steps(case, seed, dt, step_seconds=dt) for seed in (1, 2, 3)]
        figures[dt] = (np.mean([g.mean() for g in runs]),
                       np.mean([(g == 500.0).sum() * dt for g in runs]))
    mean60, cap60 = figures[60]
    assert cap60 > 500  # the crash does reach the cap
    for dt in (1, 12):
        assert figures[dt][0] == pytest.approx(mean60, rel=0.05), (dt, figures)
        assert figures[dt][1] == pytest.approx(cap60, rel=0.10), (dt, figures)


def test_gas_process_without_step_seconds_then_per_step_window_as_before():
    # The rule before (returns per step, a 10-step window): a jump within one 1-second
    # step holds gas at the cap for the window's 10 seconds, at 60-second steps for its
    # 10 minutes; 60-second and longer steps are unchanged by step_seconds, bit for bit.
    per_step_1s = gas_on_steps("jump", 1, 1)
    assert (per_step_1s == 500.0).sum() == 10
    at_60 = gas_on_steps("jump", 1, 60)
    assert (at_60 == 500.0).sum() * 60 == 600
    assert np.array_equal(gas_on_steps("jump", 1, 60, step_seconds=60), at_60)
    assert np.array_equal(gas_on_steps("jump", 1, 600, step_seconds=600),
                          gas_on_steps("jump", 1, 600))


@pytest.mark.parametrize(("step", "k"), [(1, 60), (12, 5), (7, 9), (59, 1), (60, 1),
                                         (600, 1), (None, 1)])
def test_horizon_steps_rounds_return_seconds_over_the_step(step, k):
    assert horizon_steps(step) == k  # 60 / 7 = 8.57 -> 9 steps of 7 s


def test_trailing_returns_worked_by_hand():
    # k = 2: |0.01| / 1, |0.01 - 0.03| / sqrt 2, |-0.03 + 0.02| / sqrt 2, ...
    out = trailing_returns(np.array([0.01, -0.03, 0.02, -0.04]), 2)
    np.testing.assert_allclose(out, [0.01, 0.02 / math.sqrt(2), 0.01 / math.sqrt(2),
                                     0.02 / math.sqrt(2)])
    np.testing.assert_array_equal(trailing_returns(np.array([0.5, -0.25]), 1), [0.5, 0.25])


def test_gas_process_when_reference_is_subnormal_then_finite_and_no_nan():
    # A reference sigma of 5e-324 makes step 1's z = 0.5 / 5e-324 = inf: the gas is the
    # ceiling with a sensitivity, and only the noise (no 0 * inf = nan) without one.
    returns = np.array([0.0, 0.5])
    eps = np.random.default_rng(4).standard_normal(2)
    hot = gas_process(np.random.default_rng(4), 10.0, 0.5, returns, 0.1, 2,
                      reference_sigma=5e-324)
    assert hot[1] == MAX_GAS_GWEI and 0 < hot[0] < 10.0   # step 0: |r| = 0, below calm
    flat = gas_process(np.random.default_rng(4), 10.0, 0.0, returns, 0.1, 2,
                       reference_sigma=5e-324)
    np.testing.assert_allclose(flat, 10.0 * np.exp(0.1 * eps), rtol=1e-15)


def test_gas_process_when_base_is_zero_then_zero_gas_and_the_same_draws():
    # A chain with no fee: 0 gwei at every step, even in a crash; the generator has drawn
    # its n normals as for any other base, so what follows in the run is unchanged.
    returns = np.array([0.0, -0.3, 0.2, 0.0])
    rng = np.random.default_rng(9)
    gas = gas_process(rng, 0.0, 2.0, returns, 0.5, 4, reference_sigma=0.001)
    assert gas.tolist() == [0.0, 0.0, 0.0, 0.0]
    twin = np.random.default_rng(9)
    twin.standard_normal(4)
    assert rng.standard_normal() == twin.standard_normal()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": 4}, r"returns: must be 1-D with one return per step \(n = 4\), got shape \(3,\)"),
        ({"returns": np.array([0.0, np.nan, 0.0])}, r"returns: must be finite \(returns\.1"),
        ({"base_gwei": -1.0}, r"base_gwei: must be >= 0 \(got -1.0\)"),
        ({"base_gwei": 2e12}, r"base_gwei: must be at most 1e\+12 gwei, the highest gas price "
                              r"modelled \(got 2e\+12\)"),
        ({"noise": -0.1}, "noise: must be >= 0"),
        ({"cap_gwei": 0.0}, "cap_gwei: must be > 0"),
        ({"window": 0}, "window: must be >= 1"),
        ({"reference_sigma": -1.0}, "reference_sigma: must be > 0"),
        ({"vol_sensitivity": float("inf")}, "vol_sensitivity: must be finite"),
        ({"step_seconds": 0.0}, "step_seconds: must be > 0"),
        ({"step_seconds": 1.0, "return_seconds": -60.0}, "return_seconds: must be > 0"),
    ],
)
def test_gas_process_when_arguments_invalid_then_value_error(kwargs, message):
    args = {"base_gwei": 10.0, "vol_sensitivity": 0.5, "returns": np.zeros(3), "noise": 0.1,
            "n": 3} | kwargs
    with pytest.raises(ValueError, match=message):
        gas_process(np.random.default_rng(0), **args)


# --------------------------------------------------------------------------- keeper cost


def test_keeper_cost_usd_worked_number():
    # 150,000 gas at 200 gwei is 0.03 ETH; at 110 USD per ETH, 3.30 USD.
    cost = keeper_cost_usd(200.0, 150_000, 110.0)
    assert isinstance(cost, float)
    assert cost == pytest.approx(3.30, rel=1e-12)


def test_keeper_cost_usd_per_step_arrays():
    cost = keeper_cost_usd(np.array([10.0, 225.0]), 100_000, np.array([195.0, 110.0]))
    np.testing.assert_allclose(cost, [0.195, 2.475], rtol=1e-12)
    np.testing.assert_allclose(keeper_cost_usd(50.0, 200_000, np.array([100.0, 200.0])),
                               [1.0, 2.0], rtol=1e-12)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((-1.0, 100_000, 100.0), "gas_gwei: must be >= 0"),
        ((10.0, 100_000.5, 100.0), "gas_used: must be an integer"),
        ((10.0, -1, 100.0), "gas_used: must be >= 0"),
        ((10.0, 100_000, np.array([100.0, np.nan])), "eth_price: must be finite and >= 0"),
        ((np.ones(3), 100_000, np.ones(2)), "eth_price: shape"),
    ],
)
def test_keeper_cost_usd_when_arguments_invalid_then_value_error(args, message):
    with pytest.raises(ValueError, match=message):
        keeper_cost_usd(*args)
