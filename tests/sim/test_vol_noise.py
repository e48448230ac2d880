"""``[noise] vol_sigma``: a Monte Carlo of an options scenario perturbs the ATM vols its
steps give, with the prices' ``walk`` / ``independent`` factors, from draws taken after
the prices' (sim/scenario.py ``Scenario.perturbed``)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from marginengine.config import read_toml
from marginengine.errors import ConfigError
from marginengine.sim.joint import fix_price
from marginengine.sim.montecarlo import iterate_process
from marginengine.sim.scenario import Scenario, perturbed_vol_ppm, scenario_from_dict

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
OPTIONS_CRASH = EXAMPLES / "options_crash.toml"


def options_scenario(steps: int, noise: dict[str, Any]) -> Scenario:
    """options_crash's protocol and book, ``steps`` steps each pricing WETH at 1,900 and
    setting its ATM vol to 80%."""
    data = read_toml(OPTIONS_CRASH)
    data["steps"] = [{"prices": {"WETH": 1900}, "vols": {"WETH": 0.8}}] * steps
    data["noise"] = noise
    return scenario_from_dict(data)


def atm(scenario: Scenario) -> np.ndarray:
    return np.array([[v.vol_ppm for v in step] for step in scenario.step_vols], dtype=float)


def test_vol_sigma_when_independent_then_log_std_of_factors_is_vol_sigma() -> None:
    scenario = options_scenario(4_000, {"sigma": 0.01, "kind": "independent",
                                        "vol_sigma": 0.1})
    logs = np.log(atm(scenario.perturbed(np.random.default_rng(11)))[:, 0] / 800_000)
    # 4,000 draws: the sample sd's standard error is 0.1 / sqrt(8,000) = 0.0011, and the
    # mean's 0.1 / sqrt(4,000) = 0.0016 around -vol_sigma^2 / 2 = -0.005.
    assert logs.std(ddof=1) == pytest.approx(0.1, abs=0.005)
    assert logs.mean() == pytest.approx(-0.005, abs=0.006)


def test_vol_sigma_when_walk_then_log_increments_have_std_vol_sigma() -> None:
    scenario = options_scenario(1_000, {"sigma": 0.01, "vol_sigma": 0.02})
    vols = atm(scenario.perturbed(np.random.default_rng(3)))[:, 0]
    # Within the surface's bounds throughout (the walk's sd at the end is 0.02 x
    # sqrt(1,000) = 0.63 in log, the bounds 1% and 1000% are -4.4 and +2.5 from 80%).
    assert vols.min() > 10_000 and vols.max() < 10_000_000
    logs = np.log(vols / 800_000)
    # The walk accumulates: step i's log factor is the sum of i + 1 draws, so its
    # increments are the per-step factors (rounding to a ppm adds < 1e-6). 999
    # increments: the sample sd's standard error is 0.02 / sqrt(1,998) = 0.00045.
    steps = np.diff(logs)
    assert steps.std(ddof=1) == pytest.approx(0.02, abs=0.0012)
    assert steps.mean() == pytest.approx(-0.0002, abs=0.0015)


def test_vol_sigma_when_set_then_documented_factors_after_the_price_draws() -> None:
    scenario = options_scenario(3, {"sigma": 0.02, "vol_sigma": 0.2})
    out = scenario.perturbed(np.random.default_rng(7))
    rng = np.random.default_rng(7)
    z_prices = rng.standard_normal((3, 1))      # the prices' matrix first, as before
    z_vols = rng.standard_normal((3, 1))        # then the vols' (one underlying: WETH)
    logs = np.cumsum(0.2 * z_vols[:, 0] - 0.02)
    expected = [round(800_000 * math.exp(x)) for x in logs]
    assert [[v.vol_ppm for v in step] for step in out.step_vols] == [[e] for e in expected]
    # Skew and expiry kept; the scenario itself untouched.
    assert [(v.underlying, v.expiry, v.skew_ppm) for v in out.step_vols[0]] == [
        (v.underlying, v.expiry, v.skew_ppm) for v in scenario.step_vols[0]]
    assert atm(scenario).tolist() == [[800_000]] * 3
    # The price draws are those of vol_sigma = 0.
    price_logs = np.cumsum(0.02 * z_prices[:, 0] - 0.0002)
    assert [s[1]["WETH"] for s in out.steps] == [fix_price(1900 * math.exp(x))
                                                 for x in price_logs]


def test_vol_sigma_when_same_seed_then_same_vols_and_other_seed_other_vols() -> None:
    scenario = options_scenario(5, {"sigma": 0.02, "vol_sigma": 0.3})
    a = atm(scenario.perturbed(np.random.default_rng(5)))
    assert (a == atm(scenario.perturbed(np.random.default_rng(5)))).all()
    assert (a != atm(scenario.perturbed(np.random.default_rng(6)))).any()


def test_vol_sigma_default_when_zero_then_vols_prices_and_generator_unchanged() -> None:
    plain = options_scenario(4, {"sigma": 0.02})
    zero = options_scenario(4, {"sigma": 0.02, "vol_sigma": 0})
    assert plain.spec.noise is not None and plain.spec.noise.vol_sigma == 0
    rng_a, rng_b = np.random.default_rng(9), np.random.default_rng(9)
    a, b = plain.perturbed(rng_a), zero.perturbed(rng_b)
    assert a.step_vols is plain.step_vols and b.step_vols == zero.step_vols
    assert a.steps == b.steps
    # Nothing more drawn: the generators are where the price matrix left them.
    assert rng_a.standard_normal() == rng_b.standard_normal()
    with_vols = options_scenario(4, {"sigma": 0.02, "vol_sigma": 0.1})
    assert with_vols.perturbed(np.random.default_rng(9)).steps == a.steps


def test_vol_sigma_when_monte_carlo_of_options_crash_then_seeded_runs_that_differ() -> None:
    data = read_toml(OPTIONS_CRASH)
    data["seed"] = 4
    data["noise"] = {"sigma": 0.001, "assets": ["WETH"], "vol_sigma": 0.3}
    rows = list(iterate_process(data, 4, 3, 1))
    assert rows == list(iterate_process(data, 4, 3, 2))   # any number of workers
    quiet = {**data, "noise": {"sigma": 0.001, "assets": ["WETH"]}}
    calm = list(iterate_process(quiet, 4, 3, 1))
    # The same price draws; the vols move the options book's margins and auctions.
    assert [r["min_price"] for r in rows] == [r["min_price"] for r in calm]
    assert [r["bad_debt"] for r in rows] != [r["bad_debt"] for r in calm]


@pytest.mark.parametrize(("noise", "problem"), [
    ({"sigma": 0.01, "vol_sigma": -0.1},
     "noise.vol_sigma: must be at least 0 (got -0.1)"),
    ({"sigma": 0.01, "vol_sigma": 2}, "noise.vol_sigma: must be at most 1 (got 2)"),
])
def test_vol_sigma_when_out_of_range_then_named(noise: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError) as err:
        options_scenario(2, noise)
    assert err.value.problems == [problem]


def test_vol_sigma_when_no_step_gives_vols_then_refused_naming_it() -> None:
    data = read_toml(EXAMPLES / "lending_walkthrough.toml")
    data["noise"] = {"sigma": 0.01, "vol_sigma": 0.1}
    with pytest.raises(ConfigError) as err:
        scenario_from_dict(data)
    assert err.value.problems == [
        "noise.vol_sigma: no step gives vols ([[steps]] vols of an [options] scenario), so "
        "there is no vol to perturb"]


@pytest.mark.parametrize(("ppm", "factor", "out"), [
    (800_000, 1.25, 1_000_000), (800_000, 1.0000006, 800_000), (800_000, 1.0000007, 800_001),
    (20_000, 0.1, 10_000), (9_000_000, 2.0, 10_000_000)])
def test_perturbed_vol_ppm_rounds_to_nearest_within_bounds(ppm: int, factor: float,
                                                          out: int) -> None:
    assert perturbed_vol_ppm(ppm, factor) == out
