"""Adaptive perp margin fractions through the engine (issue 12): the VaR maintenance
fraction of ``AdaptiveMarginModel.perp_fractions`` put in force by a logged
``SetConditions`` (direct mode) or a steward-bounded ``SetRiskParams`` (governed mode), read
by every perp check through the one margin interface, followed by the risk book, and
replayed to the same state hash.

Worked figures (docs/margin.md section 2, the same horizon as tests/engine/
test_adaptive_wiring.py): the 99% normal VaR over 5 + 2 + 18 blocks of 12 s (300 s) is
``2.326348 x sigma x sqrt(300 / 31,536,000)``: 0.57402% at 80% a year, 5.74016% at 800%.
The maintenance fraction takes it in whole bps, up: 0.58% and 5.75%; the initial one adds
the static first tier's gap (5% - 3% = 2 pp).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marginengine.config import protocol_from_dict
from marginengine.decisions import Code
from marginengine.engine import (
    AdvanceTime,
    DepositQuote,
    Engine,
    LiquidatePerp,
    SetConditions,
    SetPrice,
    SetRiskParams,
    Trade,
)
from marginengine.errors import ConfigError, EventError
from marginengine.margin import MarginKind
from marginengine.scan import RiskBook

USD = 10**8
ETH = 10**18
USDC = 10**6


def protocol(mode: str = "direct", stewards: dict[str, Any] | None = None,
             **adaptive: Any) -> Any:
    extra = {"stewards": stewards} if stewards else {}
    return protocol_from_dict({**extra,
        "markets": {"USDC": {"decimals": 6}, "WETH": {}},
        "perps": {"ETH-PERP": {"tiers": [
            {"notional_floor": 0, "mmf": "0.03", "imf": "0.05"},
            {"notional_floor": 1_000_000, "mmf": "0.05", "imf": "0.10"}]}},
        # VaR, no buffer: the fraction is the VaR itself; fractions within 1%..50%.
        "adaptive": {"mode": mode, "measure": "var", "apc": "none",
                     "max_threshold_bps": 9_900, "perp_markets": ["ETH-PERP"], **adaptive},
    })


def opened(config: Any, price: int = 1_970, log: Path | None = None) -> Engine:
    """``long`` buys 100 ETH-PERP at 2,000 with 10,000 USDC (the 5% initial margin), and
    the index falls to ``price``: at 1,970 its equity is 10,000 - 100 x 30 = 7,000 USDC
    against 3% x 197,000 = 5,910 of maintenance (healthy under the static MMF)."""
    engine = Engine.with_log(config, log) if log else Engine(config)
    for asset, p in (("USDC", USD), ("WETH", 2_000 * USD), ("ETH-PERP", 2_000 * USD)):
        assert engine.apply(SetPrice(asset, p)).accepted
    for account, quote in (("long", 10_000), ("short", 1_000_000), ("keeper", 5_000_000)):
        assert engine.apply(DepositQuote(account, quote * USDC)).accepted
    assert engine.apply(Trade("long", "short", "ETH-PERP", 100 * ETH, 2_000 * USD)).accepted
    assert engine.apply(SetPrice("ETH-PERP", price * USD)).accepted
    return engine


def test_set_conditions_when_direct_mode_then_mmf_is_the_hand_computed_var() -> None:
    engine = opened(protocol())
    assert engine.bucket("long").perp_maintenance == 5_910 * USDC
    assert not engine.is_liquidatable("long")
    out = engine.apply(SetConditions("ETH-PERP", volatility_ppm=8_000_000))
    assert out.accepted, out.reason
    # 2.326348 x 8 x sqrt(300 / 31,536,000) = 5.74016% -> 5.75% (whole bps, up); the
    # initial fraction 5.75% + (5% - 3%) = 7.75%.
    assert out.details["adaptive"] == {"risk_ppm": 57_402, "apc_ppm": 57_402,
                                       "maintenance_fraction_ppm": 57_500,
                                       "initial_fraction_ppm": 77_500}
    tiers = engine.config.perps["ETH-PERP"].tiers
    assert (tiers[0].mmf, tiers[0].imf) == (Decimal("0.0575"), Decimal("0.0775"))
    # The second tier's static 5% MMF is below the new first tier's: raised to 5.75% (the
    # schedule stays non-decreasing); its 10% IMF stands.
    assert (tiers[1].mmf, tiers[1].imf) == (Decimal("0.0575"), Decimal("0.10"))
    # 5.75% x 197,000 = 11,327.50 USDC of maintenance against 7,000 of equity.
    assert engine.bucket("long").perp_maintenance == 11_327_500_000
    assert engine.is_liquidatable("long")
    assert engine.apply(LiquidatePerp("keeper", "long", "ETH-PERP")).accepted


def test_set_conditions_when_calm_then_mmf_falls_to_the_fraction_floor() -> None:
    engine = opened(protocol(), price=1_935)
    # 10,000 - 100 x 65 = 3,500 of equity against 3% x 193,500 = 5,805: liquidatable.
    assert engine.is_liquidatable("long")
    out = engine.apply(SetConditions("ETH-PERP", volatility_ppm=800_000))
    # 0.57402% -> 0.58%, below the floor 1 - 99% = 1%: the fraction is 1.00%, the initial
    # 1% + 2 pp = 3%; 1% x 193,500 = 1,935 < 3,500: healthy again.
    assert out.details["adaptive"]["maintenance_fraction_ppm"] == 10_000
    assert out.details["adaptive"]["initial_fraction_ppm"] == 30_000
    assert engine.bucket("long").perp_maintenance == 1_935 * USDC
    assert not engine.is_liquidatable("long")


def test_set_conditions_when_tighten_only_then_calm_keeps_the_static_mmf() -> None:
    engine = opened(protocol(tighten_only=True))
    out = engine.apply(SetConditions("ETH-PERP", volatility_ppm=800_000))
    assert out.details["adaptive"]["maintenance_fraction_ppm"] == 30_000
    assert engine.bucket("long").perp_maintenance == 5_910 * USDC


def test_set_conditions_on_a_static_perp_market_or_governed_mode_changes_nothing() -> None:
    governed = opened(protocol(mode="governed"))
    out = governed.apply(SetConditions("ETH-PERP", volatility_ppm=8_000_000))
    assert "adaptive" not in out.details
    assert governed.bucket("long").perp_maintenance == 5_910 * USDC
    static = opened(protocol(perp_markets=[]))
    static.apply(SetConditions("ETH-PERP", volatility_ppm=8_000_000))
    assert static.bucket("long").perp_maintenance == 5_910 * USDC


def test_set_risk_params_on_perp_when_within_bounds_then_lists_newly_liquidatable() -> None:
    engine = opened(protocol(mode="governed"), price=1_968)
    # equity 10,000 - 100 x 32 = 6,800; 3% x 196,800 = 5,904: healthy.
    assert not engine.is_liquidatable("long")
    out = engine.apply(SetRiskParams("ETH-PERP", maintenance_fraction_bps=350,
                                     reason="vol up"))
    assert out.accepted, out.reason
    # 3.5% x 196,800 = 6,888 > 6,800: the update makes long liquidatable (no lending debt).
    assert out.details["previous"] == {"maintenance_fraction_ppm": 30_000,
                                       "initial_fraction_ppm": 50_000}
    assert out.details["params"] == {"maintenance_fraction_ppm": 35_000,
                                     "initial_fraction_ppm": 50_000}
    assert out.details["newly_liquidatable"] == [
        {"account": "long", "debt": 0, "requirement": 6_888 * USD}]
    assert engine.is_liquidatable("long")
    assert engine.margin_state("long", MarginKind.MAINTENANCE).requirement == 6_888 * USD


@pytest.mark.parametrize(("event", "steward_code"), [
    (SetRiskParams("ETH-PERP", maintenance_fraction_bps=400), "clamped_to_max_change"),
    (SetRiskParams("ETH-PERP", initial_fraction_bps=500), "same_value"),
    (SetRiskParams("ETH-PERP", initial_fraction_bps=0), "update_to_zero"),
])
def test_set_risk_params_on_perp_when_out_of_bounds_then_refused_and_nothing_changes(
        event: SetRiskParams, steward_code: str) -> None:
    engine = opened(protocol(mode="governed"))
    out = engine.apply(event)
    assert out.code == Code.RISK_PARAMS_OUT_OF_BOUNDS
    assert out.data["steward_code"] == steward_code
    assert engine.bucket("long").perp_maintenance == 5_910 * USDC


def test_set_risk_params_on_perp_keeps_maintenance_below_initial_and_debounces() -> None:
    engine = opened(protocol(mode="governed", stewards={
        "maintenance_fraction": {"max_change_bps": 300, "min_delay_seconds": 3_600},
        "initial_fraction": {"max_change_bps": 300, "min_delay_seconds": 3_600}}))
    above = engine.apply(SetRiskParams("ETH-PERP", maintenance_fraction_bps=550))
    assert above.data["steward_code"] == "maintenance_above_initial"
    # Both at once: the initial fraction moves first, so 5.5% <= 7% holds at each step.
    both = engine.apply(SetRiskParams("ETH-PERP", maintenance_fraction_bps=550,
                                      initial_fraction_bps=700))
    assert both.accepted, both.reason
    early = engine.apply(SetRiskParams("ETH-PERP", maintenance_fraction_bps=500))
    assert early.data["steward_code"] == "debounce_not_respected"
    engine.apply(AdvanceTime(3_600))
    # Down again: the maintenance first, then the initial (5% <= 6.5%).
    assert engine.apply(SetRiskParams("ETH-PERP", maintenance_fraction_bps=300,
                                      initial_fraction_bps=650)).accepted


def test_set_risk_params_on_perp_bad_input_names_the_field() -> None:
    engine = opened(protocol(mode="governed"))
    lend = engine.apply(SetRiskParams("ETH-PERP", ltv_bps=7_000))
    assert lend.code == Code.INVALID_ARGUMENT and lend.data["field"] == "ltv_bps"
    perp = engine.apply(SetRiskParams("WETH", maintenance_fraction_bps=300))
    assert perp.code == Code.INVALID_ARGUMENT
    assert perp.reason.startswith("maintenance_fraction_bps: applies to perp markets only")
    static = opened(protocol(mode="governed", perp_markets=[]))
    out = static.apply(SetRiskParams("ETH-PERP", maintenance_fraction_bps=350))
    assert out.code == Code.INVALID_ARGUMENT
    assert "not in [protocol.adaptive] perp_markets" in out.reason
    with pytest.raises(EventError, match=r"SetRiskParams.maintenance_fraction_bps: must be"):
        SetRiskParams("ETH-PERP", maintenance_fraction_bps=10_001)


def test_adaptive_perp_markets_config_errors_name_the_field() -> None:
    with pytest.raises(ConfigError, match=r"adaptive.perp_markets\.0: unknown perp market "
                                          r"'BTC-PERP'"):
        protocol(perp_markets=["BTC-PERP"])
    with pytest.raises(ConfigError, match=r"adaptive.perp_markets\.0: ETH-PERP uses "
                                          r"margin_model 'dydx-v4'"):
        protocol_from_dict({
            "markets": {"USDC": {"decimals": 6}},
            "perps": {"ETH-PERP": {"preset": "dydx-v4", "base_decimals": 18}},
            "adaptive": {"perp_markets": ["ETH-PERP"]}})


def test_risk_book_follows_the_adaptive_mmf() -> None:
    engine = opened(protocol())
    book = RiskBook.from_engine(engine)
    assert book.full_scan().below_count == 0
    engine.apply(SetConditions("ETH-PERP", volatility_ppm=8_000_000))
    book.incremental_scan()
    assert book.below_accounts() == ["long"]
    # And a fresh book built on the engine after the update agrees.
    assert RiskBook.from_engine(engine).full_scan().below_count == 1
    engine.apply(SetConditions("ETH-PERP", volatility_ppm=800_000))
    book.incremental_scan()
    assert book.below_accounts() == []


def test_replay_of_perp_fraction_updates_gives_the_same_state_hash(tmp_path: Path) -> None:
    path = tmp_path / "perps.db"
    engine = opened(protocol(), log=path)
    static_hash = Engine(protocol()).state_hash()
    engine.apply(SetConditions("ETH-PERP", volatility_ppm=8_000_000))
    engine.apply(LiquidatePerp("keeper", "long", "ETH-PERP"))
    engine.apply(SetConditions("ETH-PERP", volatility_ppm=3_000_000))
    final = engine.state_hash()
    fractions = engine.config.perps["ETH-PERP"].tiers[0].mmf
    engine.close()
    replayed, report = Engine.replay(path)
    assert replayed.state_hash() == final == report.state_hash != static_hash
    assert replayed.config.perps["ETH-PERP"].tiers[0].mmf == fractions


# --------------------------------------------------------------------------- property

_PERP_FIELDS = ("maintenance_fraction_bps", "initial_fraction_bps")


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_PERP_FIELDS), st.integers(0, 10_000),
                          st.sampled_from([0, 3_600, 3 * 86_400, 4 * 86_400])),
                min_size=1, max_size=20))
def test_perp_fraction_bounds_are_never_exceeded_through_the_engine(
        steps: list[tuple[str, int, int]]) -> None:
    engine = opened(protocol(mode="governed"))
    bound = 50  # bps per update, 3 days apart (the defaults)
    last: dict[str, int] = {}

    def now_bps() -> dict[str, int]:
        tier = engine.config.perps["ETH-PERP"].tiers[0]
        return {"maintenance_fraction_bps": int(tier.mmf * 10_000),
                "initial_fraction_bps": int(tier.imf * 10_000)}

    for field, value, wait in steps:
        if wait:
            engine.apply(AdvanceTime(wait))
        before = now_bps()
        out = engine.apply(SetRiskParams("ETH-PERP", **{field: value}))
        after = now_bps()
        if not out.accepted:
            assert after == before
            continue
        assert 0 < abs(after[field] - before[field]) <= bound
        assert 0 < after["maintenance_fraction_bps"] <= after["initial_fraction_bps"] <= 10_000
        if field in last:
            assert engine.ledger.time - last[field] >= 3 * 86_400
        last[field] = engine.ledger.time
        # The margin interface reads the fraction in force.
        risk = engine.bucket("long")
        assert risk.perp_maintenance == -(-risk.positions[0].notional
                                          * after["maintenance_fraction_bps"] // 10_000)
