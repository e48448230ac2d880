"""Morpho Blue inside the engine: preset morpho-blue, Morpho* events through the core's
handler table, refusals with Morpho's codes, rollback, the log and replay.

The figures are the pure rules' (tests/margin/test_morpho.py, tests/liquidation/
test_morpho.py reproduce Morpho's own tests); here they arrive through the engine.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from marginengine.config import protocol_from_dict
from marginengine.decisions import Code
from marginengine.engine import (
    AdvanceTime,
    Deposit,
    Engine,
    MorphoBorrow,
    MorphoLiquidate,
    MorphoRepay,
    MorphoSupply,
    MorphoSupplyCollateral,
    MorphoWithdraw,
    MorphoWithdrawCollateral,
    SetPrice,
)
from marginengine.engine.events import event_from_dict
from marginengine.errors import ConfigError, EventError
from marginengine.fixedpoint import PRICE_UNIT

USDC, WETH = 10**6, 10**18
M = "WETH/USDC"


def setup_events() -> list[object]:
    return [SetPrice("USDC", PRICE_UNIT), SetPrice("WETH", 2_000 * PRICE_UNIT),
            MorphoSupply("alice", M, assets=600_000 * USDC),
            MorphoSupply("bob", M, assets=400_000 * USDC),
            MorphoSupplyCollateral("carol", M, 10 * WETH),
            MorphoBorrow("carol", M, assets=17_000 * USDC)]


def engine() -> Engine:
    e = Engine(protocol_from_dict({"preset": "morpho-blue"}))
    for ev in setup_events():
        assert e.apply(ev).accepted    # type: ignore[arg-type]
    return e


def test_borrow_beyond_lltv_is_refused_with_morphos_code_and_changes_nothing():
    e = engine()
    before = e.state.morpho[M]
    # 10 WETH x 2,000 x 0.86 = 17,200 USDC of borrowing power; 17,000 are used.
    out = e.apply(MorphoBorrow("carol", M, assets=201 * USDC))
    assert not out.accepted
    assert out.code == Code.MORPHO_INSUFFICIENT_COLLATERAL
    assert e.state.morpho[M] == before           # rolled back (the seq still counts it)
    assert e.apply(MorphoBorrow("carol", M, assets=200 * USDC)).accepted


def test_liquidation_realizes_bad_debt_across_suppliers():
    e = engine()
    e.apply(SetPrice("WETH", 1_400 * PRICE_UNIT))
    out = e.apply(MorphoLiquidate("keeper", "carol", M, seized_assets=10 * WETH))
    assert out.accepted
    # 14,000 of collateral at LIF 1 / (0.3 x 0.86 + 0.7) = 1.0438... buys 13,412.000001 of
    # debt (rounded up against the liquidator); 3,587.999999 is realized as bad debt.
    assert out.details["repaid_assets"] == 13_412_000_001
    assert out.details["bad_debt_assets"] == 17_000 * USDC - 13_412_000_001
    book = e.state.morpho[M]
    assert book.market.total_supply_assets == 1_000_000 * USDC - out.details["bad_debt_assets"]
    assert book.market.total_borrow_assets == 0 and book.position("carol").collateral == 0
    healthy = engine()
    refused = healthy.apply(MorphoLiquidate("keeper", "carol", M, seized_assets=WETH))
    assert refused.code == Code.MORPHO_HEALTHY_POSITION


def test_interest_accrues_to_the_ledger_clock_with_fee_shares():
    cfg = protocol_from_dict({"preset": "morpho-blue", "morpho": {M: {
        "loan": "USDC", "collateral": "WETH", "lltv": "0.86", "fee": "0.1",
        "borrow_rate": "0.0365"}}})
    e = Engine(cfg)
    for ev in setup_events():
        assert e.apply(ev).accepted    # type: ignore[arg-type]
    e.apply(AdvanceTime(86_400))
    out = e.apply(MorphoRepay("carol", M, assets=USDC))
    # 3.65% a year -> 1,157,407,407 wad per second (rounded down); a day: x n =
    # 0.0000999999999648, plus (x n)^2 / 2 and (x n)^3 / 6 (wTaylorCompounded), on 17,000
    # USDC = 1.700085 USDC of interest (rounded down).
    assert out.accepted and out.details["interest"] == 1_700_085
    assert out.details["fee_shares"] > 0
    assert e.state.morpho[M].position("fee-recipient").supply_shares == \
        out.details["fee_shares"]


def test_accrual_beyond_uint128_when_asked_by_an_action_then_refused_and_nothing_moves():
    # _accrueInterest (morpho-org/morpho-blue@3085651a src/Morpho.sol): totalBorrowAssets
    # += interest.toUint128(); an accrual past 2^128 - 1 reverts the action asking for it
    # (it was booked: the totals beyond any uint128).
    cfg = protocol_from_dict({"preset": "morpho-blue", "morpho": {M: {
        "loan": "USDC", "collateral": "WETH", "lltv": "0.86", "borrow_rate": "0.0365"}}})
    e = Engine(cfg)
    for ev in setup_events():
        assert e.apply(ev).accepted    # type: ignore[arg-type]
    assert e.apply(AdvanceTime(10**40)).accepted   # Morpho accrues lazily, per market
    before = e.state.morpho[M]
    out = e.apply(MorphoRepay("carol", M, assets=USDC))
    assert out.code == Code.MORPHO_MAX_UINT128_EXCEEDED
    assert out.reason == "market: the accrued interest would exceed 2^128 - 1"
    assert out.details == {} and e.state.morpho[M] == before


def test_withdrawals_and_collateral_follow_the_rules():
    e = engine()
    out = e.apply(MorphoWithdrawCollateral("carol", M, WETH))
    assert out.code == Code.MORPHO_INSUFFICIENT_COLLATERAL
    assert out.reason == "assets: the position would be unhealthy after the withdrawal"
    assert e.apply(MorphoRepay("carol", M, shares=17_000 * USDC * 10**6)).accepted
    assert e.apply(MorphoWithdrawCollateral("carol", M, 10 * WETH)).accepted
    out = e.apply(MorphoWithdraw("bob", M, assets=400_001 * USDC))
    assert out.code == Code.SHARES_EXCEED_BALANCE


def test_pooled_lending_events_and_unknown_markets_are_refused():
    e = engine()
    out = e.apply(Deposit("x", "USDC", 1))
    assert out.code == Code.EVENT_NOT_SUPPORTED
    out = e.apply(MorphoSupply("x", "WBTC/USDC", assets=1))
    assert out.code == Code.UNKNOWN_MARKET
    assert "WETH/USDC" in str(out.reason)
    out = e.apply(MorphoSupply("x", M, assets=1, shares=1))
    assert out.code == Code.MORPHO_INCONSISTENT_INPUT
    assert out.reason == ("assets and shares: give exactly one of them, the other zero (got "
                          "assets 1, shares 1)")
    # Other presets have no Morpho markets.
    aave = Engine(protocol_from_dict({"preset": "aave-v3"}))
    out = aave.apply(MorphoSupply("x", M, assets=1))
    assert out.code == Code.EVENT_NOT_SUPPORTED


def test_events_parse_from_the_log_format_and_bad_fields_are_named():
    ev = event_from_dict({"type": "MorphoLiquidate", "liquidator": "k", "borrower": "b",
                          "market": M, "repaid_shares": 5})
    assert ev == MorphoLiquidate("k", "b", M, repaid_shares=5)
    with pytest.raises(EventError, match="MorphoSupply.assets: must be an integer"):
        event_from_dict({"type": "MorphoSupply", "account": "a", "market": M,
                         "assets": 1.5})


def test_config_checks_the_morpho_markets():
    with pytest.raises(ConfigError, match="morpho.X.collateral: unknown asset 'WBTC'"):
        protocol_from_dict({"preset": "morpho-blue", "morpho": {"X": {
            "loan": "USDC", "collateral": "WBTC", "lltv": "0.8"}}})
    with pytest.raises(ConfigError, match="morpho: aave-v3 has no Morpho markets"):
        protocol_from_dict({"preset": "aave-v3", "morpho": {"X": {
            "loan": "USDC", "collateral": "WETH", "lltv": "0.8"}}})
    with pytest.raises(ConfigError, match="lltv"):
        protocol_from_dict({"preset": "morpho-blue", "morpho": {"X": {
            "loan": "USDC", "collateral": "WETH", "lltv": "1"}}})
    # Fractions are held in wad: a 19th decimal would be truncated, so it is refused.
    with pytest.raises(ConfigError, match=r"morpho\.X\.fee: 1E-19 has more "
                                          r"than 18 decimals and cannot be held exactly"):
        protocol_from_dict({"preset": "morpho-blue", "morpho": {"X": {
            "loan": "USDC", "collateral": "WETH", "lltv": "0.8",
            "fee": "0.0000000000000000001"}}})


def test_replay_from_the_log_gives_the_same_state_hash(tmp_path: Path):
    path = tmp_path / "events.sqlite"
    cfg = protocol_from_dict({"preset": "morpho-blue"})
    e = Engine.with_log(cfg, path)
    for ev in setup_events():
        e.apply(ev)    # type: ignore[arg-type]
    e.apply(MorphoBorrow("carol", M, assets=10_000 * USDC))       # refused, logged
    e.apply(SetPrice("WETH", 1_400 * PRICE_UNIT))
    e.apply(MorphoLiquidate("keeper", "carol", M, repaid_shares=1_000 * USDC * 10**6))
    expected = e.state_hash()
    e.close()
    replayed, report = Engine.replay(path)
    assert report.state_hash == expected == replayed.state_hash()
    assert report.events == len(setup_events()) + 3
