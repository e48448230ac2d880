"""Options in the clearing: premiums, settlement at expiry, conservation (worked numbers)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marginengine.errors import FieldError, InvariantViolation
from marginengine.fixedpoint import PRICE_UNIT, Rounding
from marginengine.ledger.options import OptionClearing, OptionSeries

USDC = 10**6
ONE = 10**18          # one option
EXPIRY = 1_767_139_200
CALL = OptionSeries("ETH", EXPIRY, 3000 * PRICE_UNIT, True)
PUT = OptionSeries("ETH", EXPIRY, 3000 * PRICE_UNIT, False)


def clearing() -> OptionClearing:
    c = OptionClearing(quote_unit=USDC, size_unit=ONE)
    c.deposit("alice", 10_000 * USDC)
    c.deposit("bob", 10_000 * USDC)
    return c


def test_trade_when_call_bought_then_premium_moves_and_sizes_net():
    c = clearing()
    # Alice buys 2.5 calls from Bob at 120.50 USDC each: 301.25 USDC.
    c.trade("alice", "bob", CALL, 5 * ONE // 2, 301_250_000, now=EXPIRY - 86_400)
    assert c.cash == {"alice": 9_698_750_000, "bob": 10_301_250_000}
    assert c.size("alice", CALL) == 5 * ONE // 2 and c.size("bob", CALL) == -5 * ONE // 2
    assert c.open_interest[CALL] == 5 * ONE // 2
    c.check()
    assert CALL.symbol == "ETH-1767139200-3000-C"


def test_settle_when_call_in_the_money_then_long_paid_intrinsic_by_short():
    c = clearing()
    c.trade("alice", "bob", CALL, 5 * ONE // 2, 301_250_000, now=EXPIRY - 86_400)
    # Settles at 3,210.5: intrinsic 210.5 per option x 2.5 = 526.25 USDC.
    changes = c.settle(CALL, 3210_50_000_000, now=EXPIRY)
    assert changes == {"alice": 526_250_000, "bob": -526_250_000}
    assert c.cash["alice"] == 9_698_750_000 + 526_250_000
    assert c.size("alice", CALL) == 0 and CALL not in c.open_interest
    assert c.settlement_dust == 0
    c.check()


def test_settle_when_payoff_not_whole_units_then_long_down_short_up_dust_kept():
    c = clearing()
    # 1/3 of an option (333...333 size units) of a put settling 0.00000001 in the money:
    # intrinsic 1 price unit = 1e-8 USD; owed 3.33e-9 USD: the long gets 0, the short pays
    # 1 micro-USDC, the dust is 1.
    c.trade("alice", "bob", PUT, ONE // 3, 0, now=0)
    changes = c.settle(PUT, 3000 * PRICE_UNIT - 1, now=EXPIRY)
    assert changes == {"alice": 0, "bob": -1}
    assert c.settlement_dust == 1
    c.check()
    assert c.payoff(PUT, 3000 * PRICE_UNIT - 1, ONE // 3, Rounding.UP) == 1


def test_settle_when_out_of_the_money_then_nothing_moves():
    c = clearing()
    c.trade("alice", "bob", PUT, ONE, 50 * USDC, now=0)
    assert c.settle(PUT, 3100 * PRICE_UNIT, now=EXPIRY) == {"alice": 0, "bob": 0}
    c.check()


@pytest.mark.parametrize(("call", "field"), [
    (lambda c: c.trade("alice", "alice", CALL, ONE, 0, now=0), "seller"),
    (lambda c: c.trade("alice", "bob", CALL, 0, 0, now=0), "size"),
    (lambda c: c.trade("alice", "bob", CALL, ONE, -1, now=0), "premium"),
    (lambda c: c.trade("alice", "bob", CALL, ONE, 0, now=EXPIRY), "series"),
    (lambda c: c.trade("alice", "bob", CALL, True, 0, now=0), "size"),
    (lambda c: c.settle(CALL, 3000 * PRICE_UNIT, now=EXPIRY - 1), "now"),
    (lambda c: c.withdraw("alice", 10_001 * USDC), "amount"),
    (lambda c: OptionSeries("ETH", EXPIRY, 0, True), "strike"),
    (lambda c: OptionSeries("", EXPIRY, 1, True), "underlying"),
])
def test_bad_input_when_refused_then_field_named_and_nothing_changed(call, field):
    c = clearing()
    before = (dict(c.cash), {a: dict(b) for a, b in c.positions.items()})
    with pytest.raises(FieldError) as err:
        call(c)
    assert err.value.field == field
    assert (c.cash, c.positions) == before


def test_settle_when_twice_then_refused():
    c = clearing()
    c.trade("alice", "bob", CALL, ONE, 0, now=0)
    c.settle(CALL, 3000 * PRICE_UNIT, now=EXPIRY)
    with pytest.raises(FieldError, match="already settled"):
        c.settle(CALL, 3000 * PRICE_UNIT, now=EXPIRY)
    with pytest.raises(FieldError, match="expired"):
        c.trade("alice", "bob", CALL, ONE, 0, now=0)


def test_check_when_balance_tampered_then_invariant_violation():
    c = clearing()
    c.cash["alice"] += 1
    with pytest.raises(InvariantViolation, match="cash_in"):
        c.check()


trades = st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.sampled_from(["a", "b", "c"]),
                            st.sampled_from([CALL, PUT]), st.integers(1, 7 * ONE),
                            st.integers(0, 500 * USDC)), max_size=25)


@settings(max_examples=60, deadline=None)
@given(trades, st.integers(0, 6000 * PRICE_UNIT))
def test_property_conservation_through_trades_and_settlement(ops, price):
    c = OptionClearing(quote_unit=USDC, size_unit=ONE)
    for a in "abc":
        c.deposit(a, 1_000 * USDC)
    for buyer, seller, series, size, premium in ops:
        if buyer != seller:
            c.trade(buyer, seller, series, size, premium, now=0)
        c.check()
    longs = {s: sum(max(b.get(s, 0), 0) for b in c.positions.values()) for s in (CALL, PUT)}
    for s in (CALL, PUT):
        assert c.open_interest.get(s, 0) == longs[s]
    for s in (CALL, PUT):
        c.settle(s, price, now=EXPIRY)
        c.check()
    assert all(not b for b in c.positions.values())
    # Dust: at most one smallest unit per short position settled.
    assert 0 <= c.settlement_dust <= 6


def test_security_module_pays_what_it_holds_and_the_rest_is_socialized():
    c = clearing()
    c.fund_security_module(100 * USDC)
    c.fee_to_security_module("alice", 5 * USDC)                  # a liquidation fee
    assert c.security_module == 105 * USDC and c.cash["alice"] == 9_995 * USDC
    # Derive's requestPayout: min(balance, amount); the 45 USDC short is printed to bob.
    assert c.pay_from_security_module("bob", 150 * USDC) == (105 * USDC, 45 * USDC)
    assert c.security_module == 0 and c.socialized_loss == 45 * USDC
    assert c.cash["bob"] == 10_150 * USDC and c.security_module_paid == 105 * USDC
    c.check()                     # cash_in + socialized == balances + dust + module
    c.socialized_loss -= 1
    with pytest.raises(InvariantViolation, match="socialized"):
        c.check()


auction_ops = st.lists(st.one_of(
    st.tuples(st.just("fund"), st.integers(1, 500 * USDC)),
    st.tuples(st.just("fee"), st.sampled_from("abc"), st.integers(0, 50 * USDC)),
    st.tuples(st.just("pay"), st.sampled_from("abc"), st.integers(0, 800 * USDC)),
    st.tuples(st.just("cash"), st.sampled_from("abc"), st.sampled_from("abc"),
              st.integers(-300 * USDC, 300 * USDC)),
    st.tuples(st.just("move"), st.sampled_from("abc"), st.sampled_from("abc"),
              st.sampled_from([CALL, PUT]), st.integers(-3 * ONE, 3 * ONE)),
), max_size=30)


@settings(max_examples=60, deadline=None)
@given(trades, auction_ops, st.integers(0, 6000 * PRICE_UNIT))
def test_property_conservation_through_auction_transfers(ops, moves, price):
    # Every transfer a portfolio auction makes (fees, payouts, cash and position shares)
    # keeps cash_in + socialized == balances + dust + module, sizes net to zero, open
    # interest the sum of longs, through to settlement.
    c = OptionClearing(quote_unit=USDC, size_unit=ONE)
    for a in "abc":
        c.deposit(a, 1_000 * USDC)
    for buyer, seller, series, size, premium in ops:
        if buyer != seller:
            c.trade(buyer, seller, series, size, premium, now=0)
    for op in moves:
        if op[0] == "fund":
            c.fund_security_module(op[1])
        elif op[0] == "fee":
            c.fee_to_security_module(op[1], op[2])
        elif op[0] == "pay":
            c.pay_from_security_module(op[1], op[2])
        elif op[0] == "cash":
            c.transfer_cash(op[1], op[2], op[3])
        else:
            c.transfer_position(op[1], op[2], op[3], op[4])
        c.check()
    longs = {s: sum(max(b.get(s, 0), 0) for b in c.positions.values()) for s in (CALL, PUT)}
    for s in (CALL, PUT):
        assert c.open_interest.get(s, 0) == longs[s]
        c.settle(s, price, now=EXPIRY)
        c.check()
