"""Mango v4 perp settle limits, perp_settle_pnl and funding (margin/mango_perp.py).

Vectors: blockworks-foundation/mango-v4 @ 1303a4a16228eb1e8e8d4f0eef724eaf63310c86,
programs/mango-v4/src/state/mango_account_components.rs (its ``mod tests``:
``test_perp_settle_limit``, ``test_perp_settle_limit_window``,
``test_perp_settle_limit_allowance_consumption``, ``test_perp_realized_settle_limit_no_
reduction``, ``test_perp_oneshot_settle_allowance``, ``test_quote_entry_*``), whose
``PerpMarket::default_for_tests`` has ``settle_pnl_limit_factor = 0.2`` (an f32), a day's
window and lot sizes of 1; and programs/mango-v4/tests/cases/test_perp_settle.rs
(``test_perp_pnl_settle_limit``: factor 0.8, base lot 100, stable price 1000).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from marginengine.decisions import Code, Refusal
from marginengine.margin.mango import ONE, fx, fx_from_f64
from marginengine.margin.mango_perp import (
    I64_MAX,
    I64_MIN,
    FundingParams,
    FundingState,
    SettleFeeParams,
    SettleLimitParams,
    SettleLimitState,
    apply_pnl_settle_limit,
    available_settle_limit,
    compute_settle_fee,
    f32,
    impact_price,
    native_price_to_lot,
    perp_settle_pnl,
    record_oneshot,
    record_settle,
    record_trade,
    settle_limit,
    update_funding,
    update_settle_limit,
)


def market(stable: float, factor: float = 0.2, lot: int = 1) -> SettleLimitParams:
    """``test_perp_market(stable_price)`` of the source's tests."""
    return SettleLimitParams(f32(factor), 86_400, fx_from_f64(stable), lot)


class Position:
    """A PerpPosition's base, quote and settle-limit fields, moved by the rules."""

    def __init__(self, base: int = 0, entry: int = 0) -> None:
        self.base, self.quote, self.limit = base, fx(-base * entry), SettleLimitState()

    def trade(self, m: SettleLimitParams, base: int, quote: int) -> None:
        self.limit = record_trade(self.limit, m, self.quote, self.base, base, fx(quote))
        self.base, self.quote = self.base + base, self.quote + fx(quote)

    def settle(self, m: SettleLimitParams, pnl: int) -> None:
        self.limit = record_settle(self.limit, m, self.quote, self.base, fx(pnl))
        self.quote -= fx(pnl)

    def available(self, m: SettleLimitParams) -> tuple[int, int]:
        return available_settle_limit(self.limit, m, self.quote, self.base)


@pytest.mark.parametrize(("base", "entry", "change", "quote", "recurring"), [
    (0, 0, 10, -100, 0),        # test_quote_entry_long_increasing_from_zero
    (10, 10, 10, -300, 0),      # ..._long_increasing_from_long
    (-10, 10, 5, -250, 11),     # ..._long_decreasing_from_short: 5 x 10 x 0.2 rounded up
    (10, 10, -5, 250, 11),      # ..._short_decreasing_from_long
    (10, 10, -10, 250, 21),     # ..._long_close_with_short: 10 x 10 x 0.2 rounded up
    (-10, 10, 10, -250, 21),    # ..._short_close_with_long
    (10, 10, -15, 300, 11),     # ..._long_close_short_with_overflow: 5 net lots reduced
])
def test_record_trade_recurring_allowance_when_reducing_then_mango_quote_entry_figures(
        base: int, entry: int, change: int, quote: int, recurring: int) -> None:
    m, pos = market(10.0), Position(base, entry)
    pos.trade(m, change, quote)
    assert pos.limit.recurring == recurring
    assert pos.limit.oneshot == 0


def test_recurring_allowance_when_bounded_by_stable_upnl_then_mango_realized_figures() -> None:
    # test_perp_realized_settle_limit_no_reduction (stable 10,000, factor 0.2)
    m, pos = market(10_000.0), Position()
    pos.trade(m, 11, -11 * 10_000)
    pos.trade(m, -1, 11_000)
    assert pos.limit.recurring == 1000          # 2,000 rounded up, limited by upnl 1,000
    pos.trade(m, -1, 9_500)
    assert pos.limit.recurring == 500           # upnl went down to 500
    pos.trade(m, -2, 40_000)
    assert pos.limit.recurring == 4501
    pos.trade(m, 1, -9_000)
    assert pos.limit.recurring == 2501          # an increase takes 2,000 back
    m8 = replace(m, stable_price=fx(8000))
    pos.trade(m8, -1, 8_000)
    assert pos.limit.recurring == 4102


def test_oneshot_allowance_when_settled_then_consumed_first() -> None:
    # test_perp_oneshot_settle_allowance
    m, pos = market(10_000.0), Position()
    pos.quote += fx(70)                         # record_trading_fee(-70): a rebate
    pos.limit = record_oneshot(pos.limit, fx(70))
    pos.quote += fx(30)                         # record_liquidation_quote_change(30)
    pos.limit = record_oneshot(pos.limit, fx(30))
    assert pos.limit.oneshot == fx(100)
    pos.trade(m, 1, -10_000)
    pos.trade(m, -1, 11_000)
    assert (pos.limit.oneshot, pos.limit.recurring) == (fx(100), 1100)
    pos.settle(m, 50)
    assert (pos.limit.oneshot, pos.limit.recurring) == (fx(50), 1050)
    pos.settle(m, 100)
    assert (pos.limit.oneshot, pos.limit.recurring) == (0, 950)


def test_settle_limit_window_when_the_clock_leaves_it_then_reset() -> None:
    # test_perp_settle_limit_window (window 100 s, then 400 s)
    state = SettleLimitState(settled_in_window=10)
    state = update_settle_limit(state, 100, 505)
    assert (state.window, state.settled_in_window) == (5, 0)
    state = update_settle_limit(replace(state, settled_in_window=10), 100, 550)
    assert (state.window, state.settled_in_window) == (5, 10)
    state = update_settle_limit(state, 100, 600)
    assert (state.window, state.settled_in_window) == (6, 0)
    state = update_settle_limit(state, 400, 605)     # the window size changed
    assert (state.window, state.settled_in_window) == (1, 0)


def test_settle_limit_when_allowances_and_use_then_mango_figures() -> None:
    # test_perp_settle_limit: stable 0.5, 100 lots entered at 1
    m, pos = market(0.5), Position(100, 1)

    def limited(pnl: int) -> int:
        return apply_pnl_settle_limit(pos.limit, m, pos.quote, pos.base, fx(pnl)) // ONE

    assert pos.available(m) == (-10, 10)             # 0.2 x 0.5 x 100
    assert (limited(100), limited(-100)) == (10, -10)
    pos.limit = replace(pos.limit, oneshot=fx(-5))
    assert pos.available(m) == (-15, 10)
    assert (limited(100), limited(-100)) == (10, -15)
    pos.limit = replace(pos.limit, oneshot=fx(5))
    assert pos.available(m) == (-10, 15)
    pos.limit = replace(pos.limit, recurring=11)
    assert pos.available(m) == (-21, 26)
    assert (limited(100), limited(-100)) == (26, -21)
    for used, expected in ((17, (-38, 9)), (27, (-48, 0)), (-17, (-4, 43)), (-27, (0, 53))):
        pos.limit = replace(pos.limit, settled_in_window=used)
        assert pos.available(m) == expected
    pos.limit = replace(pos.limit, settled_in_window=0)
    m = replace(m, stable_price=fx(1))               # upnl 0: the recurring part is gone
    assert pos.available(m) == (-20, 25)
    pos.quote += fx(7)
    assert pos.available(m) == (-27, 32)


def test_record_settle_when_recurring_shrinks_then_window_use_is_reduced() -> None:
    # test_perp_settle_limit_allowance_consumption (stable 10, flat position)
    m, pos = market(10.0), Position()
    pos.quote = fx(1100)
    pos.limit = replace(pos.limit, recurring=1000)
    pos.settle(m, 10)
    assert (pos.limit.recurring, pos.limit.settled_in_window) == (1000, 10)
    pos.settle(m, -2)
    assert (pos.limit.recurring, pos.limit.settled_in_window) == (1000, 8)
    pos.settle(m, 492)
    assert (pos.limit.recurring, pos.limit.settled_in_window) == (600, 8 + 492 - 400)
    pos.limit = SettleLimitState(oneshot=fx(4))
    assert pos.available(m) == (0, 4)
    steps = ((-20, -20, 4, (0, 24)), (2, -20, 2, (0, 22)), (4, -18, 0, (0, 18)))
    for pnl, used, oneshot, available in steps:
        pos.settle(m, pnl)
        assert (pos.limit.settled_in_window, pos.limit.oneshot) == (used, fx(oneshot))
        assert pos.available(m) == available
    pos.limit = SettleLimitState(oneshot=fx(-4))
    assert pos.available(m) == (-4, 0)
    steps = ((20, 20, -4, (-24, 0)), (-2, 20, -2, (-22, 0)), (-4, 18, 0, (-18, 0)))
    for pnl, used, oneshot, available in steps:
        pos.settle(m, pnl)
        assert (pos.limit.settled_in_window, pos.limit.oneshot) == (used, fx(oneshot))
        assert pos.available(m) == available


def test_settle_limit_when_factor_negative_then_unlimited() -> None:
    m = market(10.0, factor=-1.0)
    state = SettleLimitState(settled_in_window=5)
    assert settle_limit(state, m, fx(-100), 3) == (I64_MIN, I64_MAX)
    assert available_settle_limit(state, m, fx(-100), 3) == (I64_MIN, I64_MAX)
    assert apply_pnl_settle_limit(state, m, fx(-100), 3, fx(10**9)) == fx(10**9)


def test_perp_pnl_settle_limit_when_price_tripled_then_limit_is_80000() -> None:
    # test_perp_settle.rs test_perp_pnl_settle_limit, test 1: a long and a short of one lot
    # of 100 base at 1000; the oracle triples but the stable price stays at 1000: each may
    # settle 0.8 x 1000 x 100 = 80,000 of the 200,000 pnl.
    m = market(1000.0, factor=0.8, lot=100)
    a, b = Position(1, 100_000), Position(-1, -100_000)
    a.quote, b.quote = fx(-100_000), fx(100_000)
    oracle = fx(3000)
    a_pnl = a.quote + fx(100) * 3000
    b_pnl = b.quote - fx(100) * 3000
    assert b.available(m) == (-80_000, 80_000)
    a_settle = apply_pnl_settle_limit(a.limit, m, a.quote, a.base, a_pnl)
    b_settle = apply_pnl_settle_limit(b.limit, m, b.quote, b.base, b_pnl)
    done = perp_settle_pnl(a_pnl, a_settle, b_pnl, b_settle, fx(10**8))
    assert not isinstance(done, Refusal)
    assert done.settlement == fx(80_000)
    assert done.bound == "b_settle_limit"
    a.settle(m, 80_000)
    b.settle(m, -80_000)
    assert a.available(m)[1] == 0 and b.available(m)[0] == 0
    # test 2: the same window again: nothing left
    a_settle = apply_pnl_settle_limit(a.limit, m, a.quote, a.base, a.quote + fx(100) * 3000)
    again = perp_settle_pnl(a.quote + fx(100) * 3000, a_settle, b.quote - fx(100) * 3000,
                            b_settle, fx(10**8))
    assert isinstance(again, Refusal)
    assert again.code is Code.MANGO_PROFITABILITY_MISMATCH
    # test 3: closing the position at 3x realizes the pnl: the recurring allowance takes
    # 0.8 x 1.0 x 100 x 1000, +1 for the rounding (the f32 factor is 0.800000011920929)
    a.trade(m, -1, 300_000)
    assert a.limit.recurring == int(0.8 * 1.0 * 100.0 * 1000.0) + 1
    assert a.available(m)[1] == 1
    assert oracle == fx(3000)


def test_perp_settle_pnl_when_b_health_binds_then_max_settle() -> None:
    done = perp_settle_pnl(fx(50_000), fx(50_000), -fx(50_000), -fx(50_000), fx(10_667))
    assert not isinstance(done, Refusal)
    assert (done.settlement, done.bound) == (fx(10_667), "b_max_settle")
    refused = perp_settle_pnl(fx(1), fx(1), -fx(1), -fx(1), 0)
    assert isinstance(refused, Refusal) and refused.code is Code.MANGO_HEALTH_MUST_BE_POSITIVE
    wrong = perp_settle_pnl(-fx(1), -fx(1), fx(1), fx(1), fx(5))
    assert isinstance(wrong, Refusal) and wrong.code is Code.MANGO_PROFITABILITY_MISMATCH
    assert "account a pnl is not positive" in wrong.message


def test_compute_settle_fee_when_flat_or_low_health_then_mango_rule() -> None:
    fees = SettleFeeParams(flat=f32(1000.0), amount_threshold=f32(2000.0),
                           fraction_low_health=f32(0.05))
    # pnl below 1% of the position: nothing
    assert compute_settle_fee(fees, fx(5000), fx(10), fx(10_000), fx(1), fx(2)) == 0
    # at least the threshold: the flat fee
    assert compute_settle_fee(fees, fx(5000), fx(5000), fx(10_000), fx(1), fx(2)) == fx(1000)
    # below it, healthy: zero low-health fee
    assert compute_settle_fee(fees, fx(1000), fx(5000), fx(10_000), fx(1), fx(2)) == 0
    # liquidation-end and maint negative: 5% of 1,000
    fee = compute_settle_fee(fees, fx(1000), fx(5000), fx(10_000), -fx(4), -fx(1))
    assert fee == fx_from_f64(f32(0.05)) * 1000
    # maint positive: scaled by -liq_end / (maint - liq_end) = 1 / 4
    fee = compute_settle_fee(fees, fx(1000), fx(5000), fx(10_000), -fx(1), fx(3))
    assert isinstance(fee, int) and fee // ONE == 12


def test_impact_price_when_walking_the_book_then_level_reaching_quantity() -> None:
    bids = [(99, 3), (101, 2), (100, 5)]
    assert impact_price(bids, 2, True) == 101
    assert impact_price(bids, 6, True) == 100
    assert impact_price(bids, 11, True) is None
    assert impact_price([(105, 1), (103, 4)], 3, False) == 103


def test_update_funding_when_book_above_oracle_then_longs_pay_per_lot() -> None:
    # base lot 100, quote lot 10: a lot price p is p x 10 / 100 native; oracle 1000 native
    # quote per native base (lots: 10,000). Mid 10,100 lots = 1,010 native: rate 1% per
    # day, clamped to max 0.5%; an hour applies 1/24 of it per lot of 100 base:
    # 1000 x 100 x 0.005 / 24 = 20.8333 native quote.
    params = FundingParams(fx_from_f64(f32(-0.05)), fx_from_f64(f32(0.005)), 1, 100, 10)
    oracle = fx(1000)
    assert native_price_to_lot(oracle, params) == 10_000
    update = update_funding(FundingState(), params, oracle, [(10_050, 1)], [(10_150, 1)],
                            7200)
    assert update is not None
    assert (update.bid, update.ask, update.seconds) == (10_050, 10_150, 3600)
    assert update.rate == params.max_funding
    assert abs(update.delta / ONE - 1000 * 100 * f32(0.005) / 24) < 1e-9
    assert update.state.long_funding == update.state.short_funding == update.delta
    assert update.state.last_updated == 7200
    # the same second again: nothing
    assert update_funding(update.state, params, oracle, [], [], 7200) is None
    # 600 s later, only asks: min funding, 600/86400 of a day
    later = update_funding(update.state, params, oracle, [], [(10_150, 1)], 7800)
    assert later is not None and later.rate == params.min_funding
    assert abs(later.delta / ONE - 1000 * 100 * f32(-0.05) * 600 / 86_400) < 1e-9
    # within the bounds: the mid's premium, 0.2% (mid 10,020 lots = 1,002)
    inside = update_funding(FundingState(), params, oracle, [(10_000, 1)], [(10_040, 1)], 60)
    assert inside is not None and abs(inside.rate / ONE - 0.002) < 1e-12
