"""Several protocols in one cascade (sim/protocols.py): shared paths, gas and venues; one
protocol's liquidations cause another's through the venue its oracle reads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from marginengine.config import read_toml
from marginengine.errors import ConfigError
from marginengine.sim.cascade import run_cascade, scenario_spec
from marginengine.sim.protocols import protocol_rng
from tests.cli.test_cli import EXAMPLES, run

SHARED = EXAMPLES / "shared_collateral.toml"


def alone(data: dict[str, Any]) -> dict[str, Any]:
    """The scenario with its further protocol as the only one."""
    extra = data["protocols"][0]
    out = {k: v for k, v in data.items()
           if k not in ("protocols", "protocol", "book", "keepers", "oracle")}
    out.update(protocol=extra["protocol"], book=extra["book"], keepers=extra["keepers"],
               oracle=extra["oracle"])
    return out


def test_liquidations_in_one_protocol_cause_liquidations_in_the_other() -> None:
    data = read_toml(SHARED)
    both = run_cascade(data, amplification=False)
    per = both.summary["protocols"]
    assert set(per) == {"aave", "lender2"}
    assert per["aave"]["liquidation_count"] > 0
    assert per["lender2"]["liquidation_count"] > 50
    # lender2's oracle reads the pool, which aave's keepers' sales pushed below the
    # external price (1,640 at the end) long before lender2's own liquidations began.
    series = both.series
    first = next(i for i, n in enumerate(series["liquidations_cum.lender2"]) if n)
    assert series["liquidations_cum"][first] > 0  # aave's came first
    assert series["oracle_price_usd.lender2"][first] < series["external_price_usd"][first]
    # Without aave, the same paths and the same lender2 book: no liquidation at all.
    single = run_cascade(alone(data), amplification=False)
    assert single.summary["liquidation_count"] == 0
    assert single.summary["bad_debt"] == 0
    assert single.summary["min_price"] == both.summary["min_price"]


def test_combined_figures_are_the_sums_over_protocols() -> None:
    result = run_cascade(read_toml(SHARED), amplification=False)
    s, per = result.summary, result.summary["protocols"]
    for key in ("bad_debt", "liquidation_count", "liquidated_value", "borrower_loss",
                "accounts", "events"):
        assert s[key] == pytest.approx(per["aave"][key] + per["lender2"][key]), key
    assert s["accounts"] == 500
    assert s["state_hash"] == per["aave"]["state_hash"]
    assert per["lender2"]["state_hash"] != per["aave"]["state_hash"]
    assert len(result.series["bad_debt_usd.lender2"]) == 61


def test_combined_time_to_liquidate_is_the_mean_over_every_protocols_liquidations() -> None:
    # It was the first protocol's alone (0 steps for families_cascade, whose Aave protocol
    # liquidates at once, while Liquity's and Morpho's took 1.37 and 2.27 steps).
    from marginengine.sim.protocols import combined_summary

    def one(mean: float | None, count: int) -> dict[str, Any]:
        return {"time_to_liquidate_mean_steps": mean, "liquidation_count": count}

    s = combined_summary(["a", "b", "c"], [one(0.0, 110), one(1.5, 92), one(3.0, 150)])
    assert s["time_to_liquidate_mean_steps"] == pytest.approx((92 * 1.5 + 150 * 3.0) / 352)
    assert s["liquidation_count"] == 352
    # a protocol without liquidations (mean None) counts for nothing; none at all: None
    s = combined_summary(["a", "b"], [one(None, 0), one(2.0, 4)])
    assert s["time_to_liquidate_mean_steps"] == 2.0
    assert combined_summary(["a"], [one(None, 0)])["time_to_liquidate_mean_steps"] is None


def test_a_further_protocol_has_its_own_generator() -> None:
    rng = np.random.default_rng(5)
    state = rng.bit_generator.state
    a, b = protocol_rng(state, 1), protocol_rng(state, 1)
    assert a.random() == b.random()
    assert protocol_rng(state, 2).random() != protocol_rng(state, 1).random()
    assert rng.bit_generator.state == state  # nothing drawn from the run's stream
    other = np.random.default_rng(6).bit_generator.state
    assert protocol_rng(other, 1).random() != protocol_rng(state, 1).random()


def test_same_scenario_same_figures() -> None:
    data = read_toml(SHARED)
    data["steps"] = 45
    a = run_cascade(data, amplification=False)
    b = run_cascade(data, amplification=False)
    assert {n: p["state_hash"] for n, p in a.summary["protocols"].items()} == \
        {n: p["state_hash"] for n, p in b.summary["protocols"].items()}


@pytest.mark.parametrize(("change", "problem"), [
    (lambda d: d["protocols"][0].update(name="aave"),
     "protocols[0].name: 'aave' is taken (protocol names: aave; the scenario's own is "
     "[protocol] name)"),
    (lambda d: d["protocols"][0]["book"].update(debt_asset="DAI"),
     "protocols[0].book.debt_asset: unknown asset 'DAI' (markets: USDC, WETH)"),
    (lambda d: d["protocols"][0]["protocol"]["markets"].update(DAI={}) or
     d["protocols"][0]["book"].update(debt_asset="DAI"),
     "protocols[0].book: its venue quote differs from the first protocol's (the venues are "
     "shared): give both books the same kind (single-asset with debt assets of the same "
     "decimals, or both of several assets)"),
])
def test_bad_further_protocols_are_refused_naming_the_field(change: Any,
                                                            problem: str) -> None:
    data = read_toml(SHARED)
    change(data)
    with pytest.raises(ConfigError) as info:
        scenario_spec(data)
    assert problem in info.value.problems


def test_cli_writes_a_log_per_protocol_that_replays(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "shared"
    code, stdout, _ = run(["simulate", str(SHARED), "--out", str(out), "--json", "--quiet",
                           "--set", "steps=20"], capsys)
    assert code == 0
    summary = json.loads(stdout)
    for name, log in (("aave", "events.sqlite"), ("lender2", "events.lender2.sqlite")):
        code, replayed, _ = run(["replay", str(out / log), "--json"], capsys)
        assert code == 0
        assert json.loads(replayed)["state_hash"] == summary["protocols"][name]["state_hash"]
