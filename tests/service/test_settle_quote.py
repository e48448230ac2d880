"""The options quote of an account below maintenance only because of an expired series
not yet settled names ``SettleOption`` first, the auction after (Derive: settleOptions is
open to anyone, BaseManager._settleAccountOptions books the settlement value as cash and
removes the position, which ends the option contingency PMRM_2 charges every expiry held,
PMRMLib_2._addOptionContingency).

carol sold one 2,100 WETH call for 20 USDC at 1,500 with 190 USDC of options cash; at
expiry the oracle is at 2,300, nobody has settled: under derive-pm2 she owes exactly 200
(MtM 190 + 20 - 200 = 10 USDC) and her maintenance margin is 10 - 0.8 x 10 (the static
discount's -|(-200 x 1.05) - (-200)| scaled by mm) - 0.003 x 2,300 (one naked short):
below 0. Settled, she holds 10 USDC and nothing: not liquidatable. So SettleOption is
what resolves her, not an auction.
"""

from __future__ import annotations

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
from marginengine.ledger.options import OptionSeries
from marginengine.service import Service
from marginengine.service.core import Settings
from tests.conftest import SIMPLE_MARKETS, to_expiry_at

P, USDC, SIZE = PRICE_UNIT, 10**6, WAD
T = 30 * 86_400
HIGH = dict(underlying="WETH", expiry=T, strike=2_100 * P, is_call=True)


def _engine(advance: int = T, price: int = 2_300) -> Engine:
    engine = Engine(protocol_from_dict({"preset": "aave-v3", "markets": SIMPLE_MARKETS,
                                        "options": {"quote": "USDC",
                                                    "portfolio_preset": "derive-pm2"}}))
    events: list[Event] = [
        SetPrice("WETH", 1_500 * P), SetPrice("USDC", P), SetVolSurface("WETH", T, 600_000),
        DepositOptionCash("bob", 100_000 * USDC), DepositOptionCash("carol", 190 * USDC),
        TradeOption("bob", "carol", size=SIZE, premium=20 * USDC, **HIGH),  # type: ignore[arg-type]
        *to_expiry_at("WETH", price * P, advance)]
    for event in events:
        assert engine.apply(event).accepted, event
    return engine


def test_quote_when_only_an_unsettled_expired_series_then_settle_option_first() -> None:
    engine = _engine()
    maintenance, mtm = engine.portfolio_margin_units("carol") or (0, 0)
    assert mtm == 10 * USDC                     # 190 + 20 - 200, exactly
    # 10 - 8 - 6.9 = -4.9 USDC, floored from the float rule (never overstated).
    assert maintenance in (-4_900_001, -4_900_000)
    assert engine.is_liquidatable("carol")
    service = Service(engine, Settings())
    quote = service.account("carol")["quote"]  # type: ignore[index]
    assert quote["mechanism"] == "settlement" and quote["event"] == "SettleOption"
    assert quote["then"] == "StartPortfolioAuction"
    assert quote["settle"] == [{"underlying": "WETH", "expiry": T,
                                "strike": 2_100 * P, "is_call": True}]
    assert (quote["maintenance_margin"], quote["mtm"]) == (maintenance, mtm)
    # Doing what it says resolves her: 10 USDC of cash and nothing owed.
    assert engine.apply(SettleOption(**quote["settle"][0])).accepted
    assert engine.state.options is not None
    assert engine.state.options.cash["carol"] == 10 * USDC
    assert not engine.is_liquidatable("carol")


def test_quote_when_no_expired_series_then_portfolio_auction() -> None:
    """A second before the expiry the call is live (and deep under at 2,300 with 190 of
    cash): the auction, as before."""
    engine = _engine(advance=T - 1)
    assert engine.is_liquidatable("carol")
    quote = Service(engine, Settings()).account("carol")["quote"]  # type: ignore[index]
    assert quote["mechanism"] == "portfolio_auction"
    assert quote["event"] == "StartPortfolioAuction" and "settle" not in quote


def test_settleable_series_when_expired_and_priced_then_both_sides() -> None:
    """Both sides of the expired series may settle it (SettleOption settles every
    position of the series); an account holding nothing has none."""
    engine = _engine()
    series = OptionSeries("WETH", T, 2_100 * P, True)
    assert engine.settleable_series("carol") == [series]
    assert engine.settleable_series("bob") == [series]
    assert engine.settleable_series("nobody") == []


@pytest.mark.parametrize("account", ["bob", "carol"])
def test_settleable_series_when_settled_then_gone(account: str) -> None:
    engine = _engine()
    assert engine.apply(SettleOption(**HIGH)).accepted  # type: ignore[arg-type]
    assert engine.settleable_series(account) == []
