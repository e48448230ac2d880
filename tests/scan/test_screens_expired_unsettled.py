"""The portfolio screens leave to the exact read every account holding a series whose
expiry has passed with none of its series settled (``scan.portfolio_screens.
expired_unsettled``): the exact rule values it at its settlement value, fixed under every
shock (``margin.portfolio.portfolio_of``), the kernels as a live option at zero time left.

The worked case: carol sold one 2,100 WETH call for 20 USDC at 1,500; at expiry the
oracle is at 2,300 and nobody has settled: she owes exactly 200 on it, her exact value
``cash + 20 - 200`` under every manager.
"""

from __future__ import annotations

import numpy as np
import pytest

from marginengine.config import protocol_from_dict
from marginengine.engine import (
    DepositOptionCash,
    Engine,
    Event,
    SetPrice,
    SettleOption,
    SetVolSurface,
    TradeOption,
)
from marginengine.fixedpoint import PRICE_UNIT, WAD
from marginengine.margin.base import MarginKind
from marginengine.scan.portfolio_screens import expired_unsettled, portfolio_screen
from marginengine.service.core import screen_decisions
from tests.conftest import SIMPLE_MARKETS, to_expiry_at

P, USDC, SIZE = PRICE_UNIT, 10**6, WAD
T = 30 * 86_400
PRESETS = ["derive-pm2", "derive-pm1", "derive-srm"]
LOW = dict(underlying="WETH", expiry=T, strike=2_000 * P, is_call=True)
HIGH = dict(underlying="WETH", expiry=T, strike=2_100 * P, is_call=True)


def _engine(preset: str, advance: int = T) -> Engine:
    engine = Engine(protocol_from_dict({"preset": "aave-v3", "markets": SIMPLE_MARKETS,
                                        "options": {"quote": "USDC",
                                                    "portfolio_preset": preset}}))
    events: list[Event] = [
        SetPrice("WETH", 2_000 * P), SetPrice("USDC", P), SetVolSurface("WETH", T, 600_000),
        DepositOptionCash("alice", 1_000 * USDC), DepositOptionCash("bob", 100_000 * USDC),
        DepositOptionCash("carol", 1_000 * USDC),
        TradeOption("alice", "bob", size=SIZE, premium=60 * USDC, **LOW),  # type: ignore[arg-type]
        SetPrice("WETH", 1_500 * P),
        TradeOption("bob", "carol", size=SIZE, premium=20 * USDC, **HIGH),  # type: ignore[arg-type]
        *to_expiry_at("WETH", 2_300 * P, advance)]
    for event in events:
        assert engine.apply(event).accepted, event
    return engine


@pytest.mark.parametrize("preset", PRESETS)
def test_screen_when_expired_series_unsettled_then_account_in_doubt(preset: str) -> None:
    engine = _engine(preset)
    accounts = ["alice", "bob", "carol"]
    usd = engine.prices["USDC"]
    carol = engine.margin_model.margin(engine.ledger, engine.valuation(), "carol",
                                       MarginKind.MAINTENANCE)
    assert carol.value / usd == pytest.approx(1_000 + 20 - 200)
    assert expired_unsettled(engine, accounts) == [True, True, True]
    result = portfolio_screen(engine, accounts).screen()
    assert np.isinf(result.error).all()
    sure = screen_decisions(result)[0]
    assert not sure.any()  # every one read exactly
    # Once a series of the expiry settled its price is fixed (the kernels' fixed-forward
    # part, not this rule's): carol's figures are bounded again.
    assert engine.apply(SettleOption(**LOW)).accepted  # type: ignore[arg-type]
    assert expired_unsettled(engine, accounts) == [False, False, False]
    # (alice, who held only the settled series, holds nothing: not the point here).
    assert np.isfinite(portfolio_screen(engine, accounts).screen().error[1:]).all()


@pytest.mark.parametrize("preset", PRESETS)
def test_screen_when_expiry_not_yet_passed_then_bounded(preset: str) -> None:
    """A second before the expiry the series are live: the screen's bound is finite."""
    engine = _engine(preset, advance=T - 1)
    accounts = ["alice", "bob", "carol"]
    assert expired_unsettled(engine, accounts) == [False, False, False]
    assert np.isfinite(portfolio_screen(engine, accounts).screen().error).all()
