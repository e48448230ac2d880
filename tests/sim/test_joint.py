"""The joint price model (sim/joint.py): correlations, spreads, depegs, bridges, replay,
exact fixing, determinism and refused inputs."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from marginengine.errors import ConfigError
from marginengine.fixedpoint import Rounding
from marginengine.sim.joint import JointPriceSpec, fix_price, joint_paths

MINUTE = 60


def spec(data: dict[str, Any]) -> JointPriceSpec:
    return JointPriceSpec.model_validate(data)


CORR = [[1.0, 0.8, 0.3], [0.8, 1.0, 0.5], [0.3, 0.5, 1.0]]


def three_drivers(process: str = "gbm") -> JointPriceSpec:
    return spec({
        "assets": {
            "WETH": {"process": process, "s0": 2000, "sigma": 0.8},
            "WBTC": {"process": "gbm", "s0": 60000, "sigma": 0.6},
            "SOL": {"process": "gbm", "s0": 150, "sigma": 1.1},
        },
        "correlation": {"assets": ["WETH", "WBTC", "SOL"], "matrix": CORR},
    })


def test_sample_correlations_within_sampling_error_of_the_matrix() -> None:
    n = 20_000
    paths = joint_paths(three_drivers(), np.random.default_rng(7), n, MINUTE)
    returns = np.diff(np.log(paths.values), axis=0)
    sample = np.corrcoef(returns.T)
    for i in range(3):
        for j in range(i + 1, 3):
            rho = CORR[i][j]
            # The sample correlation of n bivariate-normal pairs has standard error
            # (1 - rho**2) / sqrt(n) (Fisher); 4 standard errors: 0.0091 for rho = 0.8,
            # 0.0255 for 0.3, 0.0212 for 0.5. A run outside fails once in ~16,000.
            tolerance = 4 * (1 - rho**2) / math.sqrt(n)
            assert abs(sample[i, j] - rho) < tolerance, (i, j, sample[i, j])
    # And the volatility: 0.8 a year is 0.8 * sqrt(60 / 31,536,000) = 0.001103 a minute.
    assert returns[:, 0].std() == pytest.approx(0.8 * math.sqrt(MINUTE / 31_536_000), rel=0.02)


def test_same_seed_same_paths_other_seed_other_paths() -> None:
    s = three_drivers()
    a = joint_paths(s, np.random.default_rng(3), 100, MINUTE)
    b = joint_paths(s, np.random.default_rng(3), 100, MINUTE)
    c = joint_paths(s, np.random.default_rng(4), 100, MINUTE)
    assert np.array_equal(a.values, b.values)
    assert a.fixed() == b.fixed()
    assert not np.array_equal(a.values, c.values)
    assert a.values[0].tolist() == [2000.0, 60000.0, 150.0]


def test_jump_without_jumps_is_the_gbm_path() -> None:
    gbm = joint_paths(three_drivers("gbm"), np.random.default_rng(5), 50, MINUTE)
    jump = joint_paths(three_drivers("jump"), np.random.default_rng(5), 50, MINUTE)
    assert np.array_equal(gbm.values, jump.values)


def test_jumps_move_the_mean_log_return_by_intensity_times_mean() -> None:
    s = spec({"assets": {"WETH": {"process": "jump", "s0": 2000, "sigma": 0.0,
                                  "jump_intensity": 525_600, "jump_mean": -0.01,
                                  "jump_std": 0.0}}})
    # One jump a minute on average of -1% in log price, sigma 0: the compensated drift is
    # -lambda * kappa * dt = +(1 - exp(-0.01)) per step, so each step's log return is
    # 0.00995017 - 0.01 * N with N ~ Poisson(1).
    paths = joint_paths(s, np.random.default_rng(11), 20_000, MINUTE)
    r = np.diff(np.log(paths.path("WETH")))
    kappa = math.expm1(-0.01)
    assert r.mean() == pytest.approx(-kappa - 0.01, abs=4 * 0.01 / math.sqrt(20_000))


def test_spread_is_base_times_rate_without_depeg() -> None:
    s = spec({"assets": {
        "WETH": {"process": "gbm", "s0": 2000, "sigma": 0.8},
        "wstETH": {"process": "spread", "base": "WETH", "rate": "1.17"},
    }})
    p = joint_paths(s, np.random.default_rng(1), 60, MINUTE)
    assert np.array_equal(p.path("wstETH"), p.path("WETH") * 1.17)


def test_depeg_shock_reverts_with_its_half_life() -> None:
    half_life_years = 30 * MINUTE / 31_536_000
    theta = math.log(2) / half_life_years  # 12,144.8 a year: half-life 30 minutes
    s = spec({"assets": {
        "WETH": {"process": "gbm", "s0": 2000, "sigma": 0.8},
        "wstETH": {"process": "spread", "base": "WETH", "rate": "1.17",
                   "depeg": {"theta": theta, "shock": "-0.05", "shock_at": 10}},
    }})
    p = joint_paths(s, np.random.default_rng(1), 60, MINUTE)
    ratio = p.path("wstETH") / (p.path("WETH") * 1.17) - 1
    assert np.allclose(ratio[:10], 0.0, atol=1e-15)
    assert ratio[10] == pytest.approx(-0.05, rel=1e-12)
    assert ratio[40] == pytest.approx(-0.025, rel=1e-9)   # one half-life later
    assert ratio[60] == pytest.approx(-0.05 * 2 ** (-50 / 30), rel=1e-9)  # -0.01575


def test_stablecoin_peg_ou_stays_near_one() -> None:
    s = spec({"assets": {"USDC": {"process": "peg", "depeg": {"theta": 8760,
                                                               "sigma": "0.05"}}}})
    p = joint_paths(s, np.random.default_rng(2), 5_000, MINUTE)
    usdc = p.path("USDC")
    # Stationary sd of the OU: sigma / sqrt(2 theta) = 0.05 / sqrt(17,520) = 0.000378.
    assert usdc[0] == 1.0
    assert usdc.std() == pytest.approx(0.05 / math.sqrt(2 * 8760), rel=0.25)
    assert abs(usdc.mean() - 1) < 0.0005


def test_bridge_reaches_its_end_and_keeps_correlation() -> None:
    s = spec({"assets": {
        "WETH": {"process": "bridge", "s0": 2000, "end": 1300, "end_at": 60, "sigma": 0.8},
        "wstETH": {"process": "spread", "base": "WETH", "rate": "1.17"},
    }})
    p = joint_paths(s, np.random.default_rng(9), 120, MINUTE)
    weth = p.path("WETH")
    assert weth[0] == 2000.0
    assert weth[60] == pytest.approx(1300.0, rel=1e-12)   # ETH -35% in an hour
    assert p.path("wstETH")[60] == pytest.approx(1300.0 * 1.17, rel=1e-12)
    assert p.fixed()["WETH"][60] == 130_000_000_000


def test_fix_price_uses_the_floats_exact_value_and_named_rounding() -> None:
    # 0.1 is 0.1000000000000000055511151231257827 as a float: 10,000,000.00000000055 units.
    assert fix_price(0.1, Rounding.DOWN) == 10_000_000
    assert fix_price(0.1, Rounding.UP) == 10_000_001
    assert fix_price(0.1) == 10_000_000
    # 1.005 is 1.00499999999999989342 as a float: 100,499,999.99999998934 units.
    assert fix_price(1.005, Rounding.DOWN) == 100_499_999
    assert fix_price(1.005) == 100_500_000
    assert fix_price(1e-12) == 1  # never zero
    with pytest.raises(ValueError, match="price: must be finite"):
        fix_price(math.inf)


def bars(path: Path, start: int, closes: list[float]) -> Path:
    from datetime import UTC, datetime

    rows = [{"time_period_start": datetime.fromtimestamp(start + 600 * i, UTC)
             .strftime("%Y-%m-%dT%H:%M:%S.0000000Z"), "price_close": c}
            for i, c in enumerate(closes)]
    path.write_text(json.dumps(rows))
    return path


def test_replay_aligns_series_on_the_latest_start(tmp_path: Path) -> None:
    t0 = 1_583_971_200  # 2020-03-12 00:00 UTC
    eth = bars(tmp_path / "eth.json", t0, [190.0, 180.0, 170.0, 160.0])
    btc = bars(tmp_path / "btc.json", t0 + 600, [7900.0, 7500.0, 7000.0])
    s = spec({"assets": {"WETH": {"process": "replay", "file": str(eth)},
                         "WBTC": {"process": "replay", "file": str(btc)}}})
    p = joint_paths(s, np.random.default_rng(0), 4, 600)
    assert p.start_time == t0 + 600
    assert p.path("WETH").tolist() == [180.0, 170.0, 160.0, 160.0, 160.0]
    assert p.path("WBTC").tolist() == [7900.0, 7500.0, 7000.0, 7000.0, 7000.0]


def test_replay_when_gemini_csv_then_read_as_the_single_model_reads_it(tmp_path: Path) -> None:
    # Before: a multi-asset replay read every file as JSON ("malformed JSON: Expecting
    # value") though the single [price] model reads data/eth_hourly/'s CSV.
    csv = tmp_path / "eth.csv"
    csv.write_text("Unix Timestamp,Date,Symbol,Open,High,Low,Close,Volume\n"
                   "1583974800000,2020-03-12 01:00:00,ETHUSD,180,181,170,175,10\n"
                   "1583971200000,2020-03-12 00:00:00,ETHUSD,190,191,179,180,10\n")
    s = spec({"assets": {"WETH": {"process": "replay", "file": str(csv)}}})
    p = joint_paths(s, np.random.default_rng(0), 2, 3600)
    assert p.start_time == 1_583_971_200
    assert p.path("WETH").tolist() == [180.0, 175.0, 175.0]


def test_replay_when_field_unknown_then_config_error_naming_the_assets_field(
        tmp_path: Path) -> None:
    # Before: "price: field: must be one of ..." (a ValueError wrapped as price's).
    eth = bars(tmp_path / "eth.json", 1_583_971_200, [190.0, 180.0])
    s = spec({"assets": {"WETH": {"process": "replay", "file": str(eth), "field": "nope"}}})
    with pytest.raises(ConfigError) as info:
        joint_paths(s, np.random.default_rng(0), 2, 600)
    assert info.value.problems == [
        "price.assets.WETH.field: must be one of price_open, price_high, price_low, "
        "price_close, volume_traded, trades_count (got 'nope')"]


@pytest.mark.parametrize(("data", "message"), [
    ({"assets": {"A": {"process": "gbm"}, "B": {"process": "gbm"}},
      "correlation": {"assets": ["A", "B"], "matrix": [[1, 0.5], [0.4, 1]]}},
     "correlation.matrix\n  Value error, must be symmetric (corr.0.1 = 0.5 but "
     "corr.1.0 = 0.4)"),
    ({"assets": {"A": {"process": "gbm"}, "B": {"process": "gbm"}},
      "correlation": {"assets": ["A", "B"], "matrix": [[1, 0.5], [0.5, 0.9]]}},
     "diagonal must be 1 (corr.1.1 = 0.9)"),
    ({"assets": {"A": {"process": "gbm"}, "B": {"process": "gbm"}, "C": {"process": "gbm"}},
      "correlation": {"assets": ["A", "B", "C"],
                      "matrix": [[1, 0.9, -0.9], [0.9, 1, 0.9], [-0.9, 0.9, 1]]}},
     "must be positive semi-definite (smallest eigenvalue -0.8"),
    ({"assets": {"A": {"process": "gbm"}, "B": {"process": "gbm"}},
      "correlation": {"assets": ["A", "B"], "matrix": [[1.0]]}},
     "matrix: must be 2 x 2"),
])
def test_bad_correlation_is_refused_naming_the_field(data: dict[str, Any],
                                                     message: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as info:
        spec(data)
    assert message.split("\n")[-1].strip() in str(info.value)
    assert "correlation" in str(info.value)


@pytest.mark.parametrize(("data", "message"), [
    ({"assets": {"wstETH": {"process": "spread", "base": "ETH"}}},
     "price.assets.wstETH.base: unknown asset 'ETH' (assets of the model: wstETH)"),
    ({"assets": {"A": {"process": "spread", "base": "B"},
                 "B": {"process": "spread", "base": "A"}}},
     "price.assets.A.base: circular spreads (A -> B -> A)"),
    ({"assets": {"WETH": {"process": "gbm"},
                 "wstETH": {"process": "spread", "base": "WETH"}},
      "correlation": {"assets": ["WETH", "wstETH"], "matrix": [[1, 0.9], [0.9, 1]]}},
     "price.correlation.assets.1: wstETH is a spread; only gbm, jump and bridge "
     "assets are correlated (a spread moves with its base)"),
    ({"assets": {"WETH": {"process": "replay", "file": "/nonexistent.json"}}},
     "price.assets.WETH.file: no such file '/nonexistent.json'"),
])
def test_inconsistent_model_is_refused_naming_the_field(data: dict[str, Any],
                                                        message: str) -> None:
    with pytest.raises(ConfigError) as info:
        joint_paths(spec(data), np.random.default_rng(0), 10, MINUTE)
    assert message in info.value.problems


def test_importing_the_cascade_does_not_load_scipy_signal() -> None:
    # Heavy imports only when used (issue 11 item 7): the joint model reaches
    # sim.processes (and scipy.signal) only when it draws.
    import subprocess
    import sys

    code = ("import sys, marginengine.sim.cascade, marginengine.sim.joint; "
            "print('scipy.signal' in sys.modules, 'pandas' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "False"]
