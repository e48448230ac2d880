"""Aave's PriceOracleSentinel (issue 9, item 11): on an L2, while the sequencer is down or
within the grace period after it comes back, borrows are refused
(``PRICE_ORACLE_SENTINEL_CHECK_FAILED``) and liquidations allowed only below HF 0.95
(``MINIMUM_HEALTH_FACTOR_LIQUIDATION_THRESHOLD``). aave-dao/aave-v3-origin v3.3.0/v3.5.0
``ValidationLogic.sol`` and ``misc/PriceOracleSentinel.sol``; removed in v3.7
(``docs/3.7/sentinel-removal.md``)."""

from __future__ import annotations

import pytest

from marginengine.config import protocol_from_dict
from marginengine.engine import (
    AdvanceTime,
    Borrow,
    Deposit,
    Engine,
    Liquidate,
    SetPrice,
    SetSequencer,
)
from marginengine.errors import ConfigError
from marginengine.margin.validation import (
    sentinel_allows,
    validate_sentinel_borrow,
    validate_sentinel_liquidation,
)
from tests.conftest import ETH, SIMPLE_MARKETS, USD, USDC

GRACE = 3_600


def l2(preset: str = "aave-v3.5") -> Engine:
    engine = Engine(protocol_from_dict({"preset": preset, "markets": SIMPLE_MARKETS,
                                        "aave": {"sentinel_grace_period": GRACE}}))
    for asset, price in (("WETH", 2_000 * USD), ("USDC", USD), ("DAI", USD)):
        engine.apply(SetPrice(asset, price))
    engine.apply(Deposit("lp", "USDC", 1_000_000 * USDC))
    engine.apply(Deposit("alice", "WETH", ETH))
    return engine


def test_sentinel_rule_when_called_then_up_and_grace_passed():
    assert sentinel_allows(True, 0, GRACE + 1, GRACE)
    assert not sentinel_allows(True, 0, GRACE, GRACE)  # strictly more than the grace period
    assert not sentinel_allows(False, 0, 10**9, GRACE)
    assert validate_sentinel_borrow(None, 0, GRACE) is None  # never reported: up
    assert validate_sentinel_borrow((False, 0), 5, None) is None  # no sentinel configured
    assert validate_sentinel_liquidation((False, 0), 5, GRACE, 94 * 10**16) is None


@pytest.mark.parametrize("preset", ["aave-v3.3", "aave-v3.5"])
def test_borrow_when_sequencer_down_or_in_grace_then_refused_then_allowed(preset):
    engine = l2(preset)
    engine.apply(SetSequencer(False))
    down = engine.apply(Borrow("alice", "USDC", 100 * USDC))
    assert down.code == "PRICE_ORACLE_SENTINEL_CHECK_FAILED"
    assert down.reason == "borrowing paused: the sequencer is down"
    engine.apply(AdvanceTime(60))
    engine.apply(SetSequencer(True))  # up since t = 60
    engine.apply(AdvanceTime(GRACE))
    grace = engine.apply(Borrow("alice", "USDC", 100 * USDC))
    assert grace.code == "PRICE_ORACLE_SENTINEL_CHECK_FAILED"
    assert grace.data == {"up": True, "since": 60, "grace_period": GRACE}
    engine.apply(AdvanceTime(1))
    assert engine.apply(Borrow("alice", "USDC", 100 * USDC)).accepted


def test_liquidation_when_sequencer_down_then_only_below_hf_0_95():
    engine = l2()
    assert engine.apply(Borrow("alice", "USDC", 1_500 * USDC)).accepted
    engine.apply(SetSequencer(False))
    engine.apply(SetPrice("WETH", 1_800 * USD))  # HF 1,800 x 82.5% / 1,500 = 0.99
    refused = engine.apply(Liquidate("keeper", "alice", "USDC", "WETH", 750 * USDC))
    assert refused.code == "PRICE_ORACLE_SENTINEL_CHECK_FAILED"
    assert refused.data["health_factor"] == 990_000_000_000_000_000
    engine.apply(SetPrice("WETH", 1_700 * USD))  # HF 0.935 < 0.95: allowed regardless
    # Below 0.95 the close factor is 100%: the whole debt.
    assert engine.apply(Liquidate("keeper", "alice", "USDC", "WETH", 1_500 * USDC)).accepted


def test_sentinel_when_configured_on_v3_7_then_refused_naming_the_field():
    with pytest.raises(ConfigError, match=r"^aave\.sentinel_grace_period: aave-v3 has no "
                                          r"PriceOracleSentinel"):
        protocol_from_dict({"markets": SIMPLE_MARKETS,
                            "aave": {"sentinel_grace_period": GRACE}})


@pytest.mark.parametrize(("weth_price", "health_factor", "allowed"), [
    (1_760 * USD, 968_000_000_000_000_000, False),  # 1,760 x 82.5% / 1,500 = 0.968
    (1_720 * USD, 946_000_000_000_000_000, True),   # 1,720 x 82.5% / 1,500 = 0.946
])
def test_keeper_quote_when_in_sentinel_grace_then_agrees_with_the_handler(
        weth_price, health_factor, allowed):
    engine = l2()
    assert engine.apply(Borrow("alice", "USDC", 1_500 * USDC)).accepted
    engine.apply(SetSequencer(False))
    engine.apply(SetSequencer(True))  # up since t = 0, within the grace period until 3,600
    engine.apply(SetPrice("WETH", weth_price))  # no time passes: no interest
    assert engine.account_data("alice").health_factor == health_factor
    quote = engine.liquidation_quote("alice")
    plan = engine.liquidation_plan("alice", "USDC", "WETH", 1_500 * USDC)
    done = engine.apply(Liquidate("keeper", "alice", "USDC", "WETH", quote.debt_to_cover
                                  or 1_500 * USDC))
    if allowed:
        # Below 0.95 the close factor is 100%: the whole debt, 1,500 USDC.
        assert quote.plan is not None and quote.refusal is None
        assert quote.debt_to_cover == quote.plan.debt_repaid == 1_500 * USDC
        assert plan == quote.plan
        assert done.accepted and done.details["debt_repaid"] == 1_500 * USDC
    else:
        assert quote.plan is None and plan is None
        assert quote.refusal == ("liquidation paused above HF 0.95: the sequencer came up "
                                 "0 s ago, within the grace period of 3600 s")
        assert done.code == "PRICE_ORACLE_SENTINEL_CHECK_FAILED"
        assert done.reason == quote.refusal
