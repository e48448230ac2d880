"""An options account end to end: exact premium into the clearing, the portfolio-margin
pre-trade check on the account's book, settlement at expiry, conservation."""

from __future__ import annotations

import pytest

from marginengine.config.portfolio import portfolio_config
from marginengine.decisions import Code
from marginengine.fixedpoint import PRICE_UNIT, Rounding
from marginengine.ledger.options import OptionClearing, OptionSeries
from marginengine.margin.portfolio import (
    Expiry,
    OptionPosition,
    ProposedTrade,
    portfolio_of,
    validate_trade,
    what_if,
)
from marginengine.pricing import premium_for_size, price

USDC, ONE, DAY = 10**6, 10**18, 86_400
NOW = 1_760_000_000
EXPIRY = NOW + 30 * DAY
CALL = OptionSeries("ETH", EXPIRY, 3300 * PRICE_UNIT, True)
CFG = portfolio_config(preset="derive-pm2")
FORWARDS = {EXPIRY: 3000.0}


def check_sale(clearing: OptionClearing, seller: str, size: int):  # type: ignore[no-untyped-def]
    """What the seller's pre-trade check says about selling ``size`` calls at mark."""
    mark = float(price(3000.0, 3300.0, 30 / 365, 0.7, 0.0, True))
    premium = premium_for_size(mark, size, ONE, USDC, Rounding.DOWN)  # what the seller gets
    book = portfolio_of(clearing, seller, "ETH", 3000.0, NOW, FORWARDS, lambda s: 0.7)
    # The account holds no option of this expiry yet: the trade brings it.
    assert book.expiries == ()
    trade = ProposedTrade(options=(OptionPosition(0, 3300.0, True, -size / ONE, 0.7),),
                          cash=premium / USDC,
                          new_expiries=(Expiry(30 * DAY, FORWARDS[EXPIRY]),))
    return premium, validate_trade(seller, what_if(book, trade, CFG), USDC)


def test_option_sale_when_margin_covers_it_then_traded_and_settled_exactly():
    c = OptionClearing(quote_unit=USDC, size_unit=ONE)
    c.deposit("alice", 1_000 * USDC)
    c.deposit("bob", 100_000 * USDC)
    premium, refusal = check_sale(c, "alice", ONE)
    assert refusal is None
    # The buyer pays at least the float mark: fixed UP for the payer, DOWN for the payee,
    # and the trade books one integer for both sides.
    c.trade("bob", "alice", CALL, ONE, premium, now=NOW)
    c.check()
    assert c.cash["alice"] == 1_000 * USDC + premium
    # Settles at 3,400: alice pays 100 USDC to bob, exactly.
    changes = c.settle(CALL, 3400 * PRICE_UNIT, now=EXPIRY)
    assert changes == {"alice": -100 * USDC, "bob": 100 * USDC}
    c.check()


def test_option_sale_when_too_large_for_the_account_then_refused_with_derive_code():
    c = OptionClearing(quote_unit=USDC, size_unit=ONE)
    c.deposit("alice", 1_000 * USDC)
    _, refusal = check_sale(c, "alice", 20 * ONE)
    assert refusal is not None
    assert refusal.code is Code.PORTFOLIO_INSUFFICIENT_MARGIN
    assert refusal.code.value == "PMRM_2_InsufficientMargin"
    assert refusal.data["initial_before"] == 1_000 * USDC
    assert refusal.data["initial_after"] < 0


def test_portfolio_of_when_expiry_has_no_forward_then_field_named():
    from marginengine.errors import FieldError

    c = OptionClearing(quote_unit=USDC, size_unit=ONE)
    c.deposit("alice", 10 * USDC)
    c.deposit("bob", 10 * USDC)
    c.trade("bob", "alice", CALL, ONE, 0, now=NOW)
    with pytest.raises(FieldError, match="^forwards"):
        portfolio_of(c, "alice", "ETH", 3000.0, NOW, {}, lambda s: 0.7)
