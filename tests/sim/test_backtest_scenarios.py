"""The backtest scenarios of docs/simulator.md ("Backtests"): a short version of each runs
under ``marginengine backtest``'s library entry, with the one adaptive table they share
(``tighten_only``: the threshold never rises above the static one), and the random-window
replay of the hourly ETH series."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from marginengine.config import protocol_from_dict, read_toml
from marginengine.config.adaptive import AdaptiveConfig
from marginengine.margin.adaptive_model import AdaptiveMarginModel
from marginengine.sim.backtest import backtest
from marginengine.sim.cascade import price_path, scenario_spec
from marginengine.sim.history import load_gemini_hourly
from tests.cli.test_cli import EXAMPLES
from tests.sim.test_backtest import HOURLY

SCENARIOS = ("black_thursday", "crash", "calm", "volatile", "crv_spiral", "eth_hourly")
#: The static liquidation threshold of each scenario's collateral (bps): Maker ETH-A's 150%,
#: aave-v3's WETH, the CRV market of examples/crv_spiral.toml.
STATIC_LT = {"black_thursday": 6_666, "crash": 8_300, "calm": 8_300, "volatile": 8_300,
             "crv_spiral": 6_100, "eth_hourly": 8_300}


def _short(name: str) -> dict[str, Any]:
    data = read_toml(EXAMPLES / f"backtest_{name}.toml")
    data["steps"] = 10
    data["book"]["accounts"] = 12
    if "crash_at" in data["price"]:
        data["price"]["crash_at"] = 5
    return data


def test_every_scenario_shares_one_adaptive_table() -> None:
    tables = [read_toml(EXAMPLES / f"backtest_{n}.toml")["protocol"]["adaptive"]
              for n in SCENARIOS]
    assert all(t == tables[0] for t in tables)  # never tuned to one example
    assert tables[0]["tighten_only"] is True


@pytest.mark.parametrize("name", SCENARIOS)
def test_short_backtest_of_each_scenario(name: str) -> None:
    rows, result = backtest(_short(name), ["static", "adaptive"], runs=2,
                            source=str(EXAMPLES / f"backtest_{name}.toml"))
    static = [r for r in rows if r["policy"] == "static"]
    adaptive = [r for r in rows if r["policy"] == "adaptive"]
    assert len(static) == len(adaptive) == 2
    for s, a in zip(static, adaptive, strict=True):
        assert s["min_price"] == a["min_price"]  # common random numbers: the same path
        assert s["min_threshold_bps"] == s["max_threshold_bps"] == STATIC_LT[name]
        # tighten_only: the adaptive threshold is never above the static one.
        assert a["max_threshold_bps"] <= STATIC_LT[name]
        assert a["avg_borrowing_power"] <= s["avg_borrowing_power"] + 1e-6
    d = result["difference"]["adaptive"]["bad_debt"]
    assert d["ci_low"] <= d["value"] <= d["ci_high"]


def test_tighten_only_caps_the_threshold_at_the_static_one() -> None:
    config = protocol_from_dict({"markets": {
        "WETH": {"ltv": "0.80", "liquidation_threshold": "0.825"}, "USDC": {"decimals": 6}}})
    loose = AdaptiveMarginModel(config, AdaptiveConfig())
    tight = AdaptiveMarginModel(config, AdaptiveConfig(tighten_only=True))
    # A calm 5% haircut calls for 95%, which Aave's LT x (1 + 5% bonus) <= 100% caps at
    # 9,523 bps; tighten_only keeps the approved 82.5% (and the LTV its 2.5-point gap).
    assert loose.params_for("WETH", 50_000).liquidation_threshold_bps == 9_500
    assert tight.params_for("WETH", 50_000).as_dict() == {
        "ltv": 8_000, "liquidation_threshold": 8_250, "liquidation_bonus": 500}
    # In volatility both tighten alike: a 30% haircut is a 70% threshold, LTV 67.5%.
    assert tight.params_for("WETH", 300_000) == loose.params_for("WETH", 300_000)
    assert tight.params_for("WETH", 300_000).liquidation_threshold_bps == 7_000
    assert tight.params_for("WETH", 300_000).ltv_bps == 6_750


def test_random_window_replays_a_slice_of_the_hourly_series() -> None:
    data = read_toml(EXAMPLES / "backtest_eth_hourly.toml")
    spec, _ = scenario_spec(data, str(EXAMPLES / "backtest_eth_hourly.toml"))
    series = load_gemini_hourly(HOURLY)
    start: dict[str, float] = {}
    path = price_path(spec, np.random.default_rng(5), start)
    assert path.size == spec.steps + 1
    # The window begins at a bar of the file (held over zero-volume gaps) and is the seed's.
    i = int(np.searchsorted(series.times, start["time"], side="right")) - 1
    assert path[0] == series.values[i]
    again: dict[str, float] = {}
    assert np.array_equal(price_path(spec, np.random.default_rng(5), again), path)
    assert again == start
    other: dict[str, float] = {}
    price_path(spec, np.random.default_rng(6), other)
    assert other["time"] != start["time"]
    assert series.times[0] <= start["time"] <= series.times[-1] - spec.steps * 3_600
