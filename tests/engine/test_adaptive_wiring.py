"""Adaptive margin through the engine: the direct mode on SetConditions, SetRiskParams
within steward bounds, the risk book following per-asset thresholds, and replay.

Worked figures: the 99% normal VaR over 5 + 2 + 18 blocks of 12 s (300 s) is
``2.326348 x sigma x sqrt(300 / 31,536,000)`` (docs/margin.md section 2): 0.5740% at 80% a
year, 5.7402% at 800%, 28.7010% at 4,000%.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marginengine.config import protocol_from_dict
from marginengine.config.stewards import StewardBounds
from marginengine.decisions import Code
from marginengine.engine import (
    AdvanceTime,
    Borrow,
    Deposit,
    Engine,
    SetConditions,
    SetPrice,
    SetRiskParams,
)
from marginengine.errors import ConfigError, EventError
from marginengine.scan import RiskBook

USD = 10**8


def protocol(adaptive: dict[str, Any] | None = None, **extra: Any) -> Any:
    data: dict[str, Any] = {"markets": {
        "WETH": {"ltv": "0.80", "liquidation_threshold": "0.825", "liquidation_bonus": "0.05"},
        "USDC": {"decimals": 6}}, **extra}
    if adaptive is not None:
        data["adaptive"] = adaptive
    return protocol_from_dict(data)


def engine_with(config: Any, debt_usdc: int = 1_550, log: Path | None = None) -> Engine:
    engine = Engine.with_log(config, log) if log else Engine(config)
    engine.apply(SetPrice("WETH", 2_000 * USD))
    engine.apply(SetPrice("USDC", USD))
    engine.apply(Deposit("lp", "USDC", 1_000_000 * 10**6))
    engine.apply(Deposit("alice", "WETH", 10**18))
    assert engine.apply(Borrow("alice", "USDC", debt_usdc * 10**6)).accepted
    return engine


def test_set_conditions_when_direct_mode_then_threshold_follows_the_var_haircut() -> None:
    engine = engine_with(protocol({"apc": "none", "measure": "var"}))
    calm = engine.apply(SetConditions("WETH", volatility_ppm=800_000))
    # 5,741 ppm: 1 - 0.58% is above the 95% bound, so the threshold is 95.00%.
    assert calm.details["adaptive"]["risk_ppm"] == 5_741
    assert engine.config.markets["WETH"].liquidation_threshold_bps == 9_500
    assert engine.config.markets["WETH"].ltv_bps == 9_250  # the static 2.5 pp gap below
    hot = engine.apply(SetConditions("WETH", volatility_ppm=8_000_000))
    assert hot.details["adaptive"]["risk_ppm"] == 57_402
    assert hot.details["adaptive"]["total_ppm"] == 57_500  # whole bps, up
    assert engine.config.markets["WETH"].liquidation_threshold_bps == 9_425


def test_set_conditions_when_volatility_explodes_then_book_and_engine_agree() -> None:
    engine = engine_with(protocol({"apc": "none", "measure": "var"}))
    book = RiskBook.from_engine(engine)
    assert book.full_scan().below_count == 0
    engine.apply(SetConditions("WETH", volatility_ppm=40_000_000))
    # 28.7010% -> threshold 71.29%: 2,000 x 0.7129 = 1,425.80 < 1,550 debt.
    assert engine.config.markets["WETH"].liquidation_threshold_bps == 7_129
    assert engine.is_liquidatable("alice")
    book.incremental_scan()
    assert book.below_accounts() == ["alice"]
    engine.apply(SetConditions("WETH", volatility_ppm=800_000))
    book.incremental_scan()
    assert book.below_accounts() == []


def test_set_conditions_with_depth_and_open_interest_then_ecc_and_depth_raise_haircut() -> None:
    config = protocol({"apc": "none", "measure": "var", "liquidation_share_bps": 10_000,
                       "daily_capacity_depths": 1, "ecc_base_days": "0.5"})
    engine = engine_with(config)
    # Open interest 1,000 WETH = 2,000,000 USD against a 2% depth of 1,000,000 USD: ECC's
    # l = min(2 + 0.3, 3) = 2.3 days, the horizon x 4.6 and the VaR x sqrt(4.6); selling
    # all of it slips 2,000,000 / (100 x 1,000,000) = 2%, inside the 5% bonus: no depth term.
    out = engine.apply(SetConditions("WETH", volatility_ppm=8_000_000, depth=1_000_000 * USD,
                                     open_interest=1_000 * 10**18))
    adaptive = out.details["adaptive"]
    assert adaptive["liquidation_days"] == "23/10"
    assert adaptive["depth_ppm"] == 0
    assert adaptive["risk_ppm"] == 123_113  # 57,401.6 x sqrt(4.6) = 123,112.3, up
    thin = engine.apply(SetConditions("WETH", depth=100_000 * USD))
    # 20% slippage - 5% bonus = 150,000 ppm of depth haircut; l capped at 3 days.
    assert thin.details["adaptive"]["depth_ppm"] == 150_000
    assert thin.details["adaptive"]["liquidation_days"] == "3/1"


def test_set_risk_params_when_within_bounds_then_applied_with_newly_liquidatable() -> None:
    engine = engine_with(protocol(), debt_usdc=1_600)
    engine.apply(SetPrice("WETH", 1_940 * USD))  # 1,940 x 82.5% = 1,600.50: HF 1.0003
    assert not engine.is_liquidatable("alice")
    out = engine.apply(SetRiskParams("WETH", liquidation_threshold_bps=8_200, ltv_bps=7_950))
    assert out.accepted, out.reason
    # 1,940 x 82% = 1,590.80 < 1,600: the update makes alice liquidatable.
    assert out.details["newly_liquidatable"] == [{"account": "alice", "debt": 1_600 * USD}]
    assert out.details["newly_liquidatable_debt"] == 1_600 * USD
    assert engine.is_liquidatable("alice")
    assert engine.config.markets["WETH"].ltv_bps == 7_950


@pytest.mark.parametrize(("event", "steward_code"), [
    (SetRiskParams("WETH", liquidation_threshold_bps=8_100), "clamped_to_max_change"),
    (SetRiskParams("WETH", ltv_bps=8_000), "same_value"),
    (SetRiskParams("WETH", liquidation_bonus_bps=0), "update_to_zero"),
])
def test_set_risk_params_when_out_of_bounds_then_refused_and_nothing_changes(
        event: SetRiskParams, steward_code: str) -> None:
    engine = engine_with(protocol())
    before = engine.state_hash()
    out = engine.apply(event)
    assert out.code == Code.RISK_PARAMS_OUT_OF_BOUNDS
    assert out.data["steward_code"] == steward_code
    assert engine.state_hash() != before  # the event count moved ...
    assert engine.config.markets["WETH"].liquidation_threshold_bps == 8_250  # ... nothing else


def test_set_risk_params_when_ltv_would_pass_threshold_then_refused() -> None:
    engine = engine_with(protocol(stewards={"ltv": {"max_change_bps": 500}}))
    out = engine.apply(SetRiskParams("WETH", ltv_bps=8_300))
    assert out.code == Code.RISK_PARAMS_OUT_OF_BOUNDS
    assert out.data["steward_code"] == "ltv_above_threshold"


def test_set_risk_params_when_sooner_than_delay_then_debounced() -> None:
    engine = engine_with(protocol(stewards={"liquidation_threshold": {
        "max_change_bps": 100, "min_delay_seconds": 3_600}}))
    assert engine.apply(SetRiskParams("WETH", liquidation_threshold_bps=8_200)).accepted
    early = engine.apply(SetRiskParams("WETH", liquidation_threshold_bps=8_150))
    assert early.data["steward_code"] == "debounce_not_respected"
    engine.apply(AdvanceTime(3_600))
    assert engine.apply(SetRiskParams("WETH", liquidation_threshold_bps=8_100)).accepted


def test_set_risk_params_bad_input_names_the_field() -> None:
    with pytest.raises(EventError, match="SetRiskParams: give at least one"):
        SetRiskParams("WETH")
    with pytest.raises(EventError, match=r"SetRiskParams.ltv_bps: must be an integer"):
        SetRiskParams("WETH", ltv_bps=10_001)
    with pytest.raises(EventError, match=r"SetRiskParams.liquidation_threshold_bps"):
        SetRiskParams("WETH", liquidation_threshold_bps=True)
    engine = engine_with(protocol())
    assert engine.apply(SetRiskParams("DOGE", ltv_bps=100)).code == Code.UNKNOWN_ASSET


def test_adaptive_config_bad_bounds_is_one_line_error() -> None:
    with pytest.raises(ConfigError, match="min_threshold_bps: 9000 is above max_threshold_bps"):
        protocol({"min_threshold_bps": 9_000, "max_threshold_bps": 8_000})
    with pytest.raises(ConfigError, match="adaptive.confidence_bps"):
        protocol({"confidence_bps": 10_000})


def test_replay_of_conditions_and_parameter_updates_gives_the_same_state_hash(
        tmp_path: Path) -> None:
    path = tmp_path / "adaptive.db"
    engine = engine_with(protocol({"apc": "buffer"}, stewards={"ltv": {"max_change_bps": 200}}),
                         log=path)
    engine.apply(SetConditions("WETH", volatility_ppm=3_000_000, depth=5_000_000 * USD,
                               open_interest=50_000 * 10**18))
    engine.apply(SetRiskParams("WETH", ltv_bps=7_500))  # a governance update on top
    engine.apply(SetRiskParams("WETH", ltv_bps=1))       # refused: moves too far
    engine.apply(SetPrice("WETH", 1_800 * USD))
    engine.apply(SetConditions("WETH", volatility_ppm=12_000_000))
    final = engine.state_hash()
    params = engine.config.markets["WETH"].liquidation_threshold_bps
    engine.close()
    replayed, report = Engine.replay(path)
    assert replayed.state_hash() == final == report.state_hash
    assert replayed.config.markets["WETH"].liquidation_threshold_bps == params


# --------------------------------------------------------------------------- property

_BOUNDS = StewardBounds()
_PARAMS = ("ltv_bps", "liquidation_threshold_bps", "liquidation_bonus_bps")
_NAME = {"ltv_bps": "ltv", "liquidation_threshold_bps": "liquidation_threshold",
         "liquidation_bonus_bps": "liquidation_bonus"}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_PARAMS), st.integers(0, 10_000),
                          st.sampled_from([0, 3_600, 86_400, 3 * 86_400, 4 * 86_400])),
                min_size=1, max_size=25))
def test_steward_bounds_are_never_exceeded_through_the_engine(
        steps: list[tuple[str, int, int]]) -> None:
    engine = engine_with(protocol({"mode": "governed"}))
    last: dict[str, int] = {}
    for field, value, wait in steps:
        if wait:
            engine.apply(AdvanceTime(wait))
        market = engine.config.markets["WETH"]
        before = {"ltv_bps": market.ltv_bps,
                  "liquidation_threshold_bps": market.liquidation_threshold_bps,
                  "liquidation_bonus_bps": market.liquidation_bonus_bps - 10_000}
        out = engine.apply(SetRiskParams("WETH", **{field: value}))
        market = engine.config.markets["WETH"]
        after = {"ltv_bps": market.ltv_bps,
                 "liquidation_threshold_bps": market.liquidation_threshold_bps,
                 "liquidation_bonus_bps": market.liquidation_bonus_bps - 10_000}
        if not out.accepted:
            assert after == before
            continue
        bound = _BOUNDS.bound(_NAME[field])  # type: ignore[arg-type]
        assert 0 < abs(after[field] - before[field]) <= bound.max_change_bps
        assert after[field] != 0
        assert after["ltv_bps"] <= after["liquidation_threshold_bps"]
        assert after["liquidation_threshold_bps"] * (10_000 + after["liquidation_bonus_bps"]) \
            <= 10_000 * 10_000
        now = engine.ledger.time
        if field in last:
            assert now - last[field] >= bound.min_delay_seconds
        last[field] = now
        assert {k: v for k, v in after.items() if k != field} == \
            {k: v for k, v in before.items() if k != field}
