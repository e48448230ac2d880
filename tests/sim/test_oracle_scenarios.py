"""The two oracle scenarios show the difference their defences make (issue 3)."""

from pathlib import Path

import pytest

from marginengine.config import read_toml
from marginengine.errors import ConfigError
from marginengine.sim import apply_overrides, parse_value, run_scenario, scenario_from_dict

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def summary(name: str, *overrides: str) -> dict:
    data = apply_overrides(read_toml(EXAMPLES / f"{name}.toml"), list(overrides))
    return run_scenario(scenario_from_dict(data)).summary()


def test_mango_when_stable_price_then_pump_cannot_be_borrowed_against():
    defended = summary("mango_manipulation")
    undefended = summary("mango_manipulation", "protocol.oracle.stable_price.enabled=false")
    # Undefended: 100M MNGO at the pumped 0.40 x 50% LTV = 20M USD borrowed.
    assert undefended["borrowable_value"] == pytest.approx(20_000_000, rel=1e-6)
    # Defended: the stable price moved only a few percent from 0.02 during the pump.
    assert defended["borrowable_value"] < 1_500_000
    assert undefended["borrowable_value"] > 10 * defended["borrowable_value"]
    # Once the pump unwinds, only the undefended protocol is left with bad debt.
    assert undefended["bad_debt"] > 10_000_000
    assert defended["bad_debt"] == 0
    assert defended["oracle"]["MNGO"]["stable_price"] < 0.03


def test_dai_spike_when_anchored_then_no_liquidations_and_plain_feed_liquidates():
    anchored = summary("dai_oracle_spike")
    plain = summary("dai_oracle_spike", "feeds.DAI.kind=direct")
    assert anchored["liquidation_count"] == 0 and anchored["liquidated_value"] == 0
    assert anchored["oracle"]["DAI"]["feed_refusals"][0].endswith(
        "reporter 1.3 is outside 2000 bps of the anchor TWAP 1")
    # dora (HF 0.91 at 1.30: full close factor) and dan (0.98: half) are liquidated on
    # the false price: 14,000 x 1.30 + 13,000 x 1.30 = 35,100 USD of debt repaid.
    assert plain["liquidation_count"] == 2
    assert plain["liquidated_value"] == pytest.approx(35_100, abs=0.01)
    assert plain["accounts"]["dee"]["liquidatable"] is False


def test_overrides_parse_toml_values_and_create_tables():
    data = apply_overrides({"a": {"b": 1}, "steps": [{"x": 1}]},
                           ["a.b=2.5", "a.c=true", "feeds.DAI.kind=direct",
                            "steps.0.prices={ WETH = 1800 }", 'name="q"'])
    assert data == {"a": {"b": 2.5, "c": True}, "feeds": {"DAI": {"kind": "direct"}},
                    "steps": [{"x": 1, "prices": {"WETH": 1800}}], "name": "q"}
    assert parse_value("1_000") == 1000 and parse_value("hello world") == "hello world"


def test_overrides_when_malformed_then_every_problem_named():
    with pytest.raises(ConfigError) as err:
        apply_overrides({"steps": [{}], "name": "x"},
                        ["nothing", "steps.3.prices.WETH=1", "name.first=2", "a..b=1"])
    assert err.value.problems == [
        "--set 'nothing': must be PATH=VALUE with a dotted PATH",
        "--set steps.3.prices.WETH: steps.3: index 3 is past the end (1 items)",
        "--set name.first: name.first: cannot set a field inside a str",
        "--set 'a..b=1': must be PATH=VALUE with a dotted PATH",
    ]


def test_feeds_when_unknown_asset_or_kind_then_named():
    data = read_toml(EXAMPLES / "dai_oracle_spike.toml")
    data["feeds"]["GOLD"] = {"kind": "direct"}
    data["feeds"]["DAI"]["kind"] = "telepathy"
    with pytest.raises(ConfigError, match=r"feeds\.DAI\.kind: must be 'direct'"):
        scenario_from_dict(data)
    data["feeds"]["DAI"]["kind"] = "direct"
    with pytest.raises(ConfigError, match=r"feeds\.GOLD: unknown asset"):
        scenario_from_dict(data)


def test_push_feed_in_scenario_when_market_below_min_answer_then_clamped_and_paused():
    data = read_toml(EXAMPLES / "lending_walkthrough.toml")
    data["feeds"] = {"WETH": {"kind": "push", "min_answer": 1500}}
    data["steps"] = [{"advance": "1h", "prices": {"WETH": 1000}}]
    result = run_scenario(scenario_from_dict(data))
    s = result.summary()
    assert s["oracle"]["WETH"]["status"] == "clamped" and s["oracle"]["WETH"]["price"] == 1500
    # Every liquidation was refused: the clamped price cannot be trusted.
    assert s["liquidation_count"] == 0
    assert s["keeper_refusals"] and all("price of WETH is clamped" in r
                                        for r in s["keeper_refusals"])
