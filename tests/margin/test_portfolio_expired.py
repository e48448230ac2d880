"""An expired series not yet settled is worth its settlement value (intrinsic at the
oracle price SettleOption would settle it at) under every manager: no scenario's spot or
vol shock moves it (Derive v2-core 7736900: OptionAsset.calcSettlementValue once
``block.timestamp >= expiry``; LyraForwardFeed._getSettlementPricePortions: the whole
settlement price fixed, variable 0; PMRM_2._initialiseExpiries: secToExpiry 0)."""

from __future__ import annotations

import pytest

from marginengine.config.portfolio import portfolio_config
from marginengine.fixedpoint import PRICE_UNIT
from marginengine.ledger.options import OptionClearing, OptionSeries
from marginengine.margin.portfolio import portfolio_of
from marginengine.margin.portfolio_rules import evaluate_portfolio

USDC, ONE = 10**6, 10**18
EXPIRY = 1_760_000_000
CALL = OptionSeries("ETH", EXPIRY, 2100 * PRICE_UNIT, True)


def book(alice_cash: int) -> OptionClearing:
    """Alice short one 2,100 call of EXPIRY, bob long it (traded before expiry)."""
    c = OptionClearing(quote_unit=USDC, size_unit=ONE)
    c.deposit("alice", alice_cash)
    c.deposit("bob", 1_000 * USDC)
    c.trade("bob", "alice", CALL, ONE, 0, now=EXPIRY - 3600)
    return c


@pytest.mark.parametrize("preset", ["derive-pm2", "derive-pm1"])
def test_expired_short_call_when_unsettled_then_owes_intrinsic_and_no_shock_moves_it(
        preset: str) -> None:
    c = book(1_000 * USDC)
    cfg = portfolio_config(preset=preset)
    # Oracle at 2,300 at the expiry: the short owes exactly 200 USDC per unit.
    p = portfolio_of(c, "alice", "ETH", 2300.0, EXPIRY, {EXPIRY: 2300.0}, lambda s: 0.8)
    assert (p.expiries[0].forward, p.expiries[0].forward_fixed) == (0.0, 2300.0)
    m = evaluate_portfolio(p, cfg)
    assert m.mtm == pytest.approx(1_000.0 - 200.0, abs=1e-9)
    # No scenario's spot or vol shock moves the expired series: PMRM_2's worst loss is
    # at most its static discount on the 200 owed (shortBaseStaticDiscount 0.95: 10),
    # not the ~hundreds a live call's +spot shock costs (the test below).
    assert min(m.scenario_pnl) >= -10.0 - 1e-9
    # The same an hour later at any vol: still 200 owed, the same scenario figures.
    later = evaluate_portfolio(
        portfolio_of(c, "alice", "ETH", 2300.0, EXPIRY + 3600, {EXPIRY: 2300.0},
                     lambda s: 3.0), cfg)
    assert later.mtm == pytest.approx(800.0, abs=1e-9)
    assert later.scenario_pnl.tolist() == pytest.approx(m.scenario_pnl.tolist(), abs=1e-9)


def test_expired_short_call_when_live_a_second_before_then_shocks_still_move_it() -> None:
    """The rule's edge: one second before expiry the series is live and shocked."""
    c = book(1_000 * USDC)
    p = portfolio_of(c, "alice", "ETH", 2300.0, EXPIRY - 1, {EXPIRY: 2300.0},
                     lambda s: 0.8)
    assert p.expiries[0].forward == 2300.0 and p.expiries[0].forward_fixed == 0.0
    m = evaluate_portfolio(p, portfolio_config(preset="derive-pm2"))
    assert min(m.scenario_pnl) < -100.0


def test_expired_short_call_when_srm_then_valued_at_intrinsic() -> None:
    """The SRM has no shocks; its forward of the expired expiry is the settlement price
    (Derive's StandardManager reads forwardFeed, fixed + variable), so the mark-to-market
    is the 200 USDC owed."""
    c = book(1_000 * USDC)
    p = portfolio_of(c, "alice", "ETH", 2300.0, EXPIRY, {EXPIRY: 2300.0}, lambda s: 0.8)
    m = evaluate_portfolio(p, portfolio_config(preset="derive-srm"), underlying="ETH")
    assert m.mtm == pytest.approx(800.0, abs=1e-6)


def test_expired_when_a_series_of_it_settled_then_its_price_not_the_spot() -> None:
    """Once one series of the expiry settled, its price is the expiry's (one price per
    expiry): the oracle moving to 2,500 after does not move the unsettled short."""
    c = book(1_000 * USDC)
    other = OptionSeries("ETH", EXPIRY, 2000 * PRICE_UNIT, False)
    c.trade("bob", "carol", other, ONE, 0, now=EXPIRY - 3600)
    c.settle(other, 2300 * PRICE_UNIT, now=EXPIRY)
    p = portfolio_of(c, "alice", "ETH", 2500.0, EXPIRY, {EXPIRY: 2500.0}, lambda s: 0.8)
    assert p.expiries[0].forward_fixed == 2300.0
    assert evaluate_portfolio(p, portfolio_config(preset="derive-pm2")).mtm == \
        pytest.approx(800.0, abs=1e-9)
