"""Mango v4 ``perp_liq_base_or_positive_pnl`` as a pure rule, with Mango's own test table.

Source: blockworks-foundation/mango-v4 at 1303a4a16228eb1e8e8d4f0eef724eaf63310c86,
``programs/mango-v4/src/instructions/perp_liq_base_or_positive_pnl.rs``, ``mod tests``:
``test_liq_base_or_positive_pnl`` (lines 785-1123: every case of its table) and
``test_liq_base_or_positive_pnl_stable_price`` (lines 1125-1178). Their set-up
(``TestSetup::new`` and ``mock_perp_market`` / ``mock_bank_and_oracle`` of
``health/test.rs``): the settle token and another token at price 1 with weights 1, the
perp at price 1 with a base lot of 1, no base liquidation fee; the base asset weight
``w`` and liab weight ``2 - w``, the overall asset weight and the positive-pnl fee per case.
Mango compares the quote and spot positions with a 0.01 tolerance (``assert_eq_f!``) and
the base lots exactly; so do these tests.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from marginengine.decisions import Code, Refusal
from marginengine.liquidation.mango import (
    PerpBaseLiq,
    PerpLiqMarket,
    PerpNegativePnlLiq,
    fx_div,
    perp_liq_base_or_positive_pnl,
    perp_liq_negative_pnl_or_bankruptcy,
    spot_amount_given_for_health_zero,
    spot_amount_taken_for_health_zero,
)
from marginengine.margin.mango import (
    ONE,
    HealthType,
    PerpInfo,
    Prices,
    TokenInfo,
    effective_token_balances,
    fx,
    fx_from_f64,
    fx_mul,
    fx_to_f64,
    health,
)

LIQ_END = HealthType.LIQUIDATION_END


def w(x: float) -> int:
    return fx_from_f64(x)


def token(index: int, balance: float) -> TokenInfo:
    return TokenInfo(index, Prices(ONE, ONE), ONE, ONE, ONE, ONE, ONE, ONE, w(balance))


def liquidate(base_weight: float, overall: float, fee: float, spot: float, base: int,
              quote: float, other: float, max_base: int, max_pnl: int,
              stable: float = 1.0, maint_base: float = 0.9
              ) -> tuple[PerpBaseLiq | Refusal, list[TokenInfo], PerpInfo]:
    market = PerpLiqMarket(1, w(base_weight), w(2 - base_weight), w(overall),
                           positive_pnl_liquidation_fee=w(fee))
    perp = PerpInfo(0, w(base_weight), w(2 - base_weight), w(maint_base), w(2 - maint_base),
                    w(overall), w(0.98), 1, base, 0, 0, w(quote), Prices(ONE, w(stable)))
    tokens = [token(0, spot), token(1, other)]
    settle_balance = effective_token_balances(tokens, [perp], LIQ_END)[0]
    result = perp_liq_base_or_positive_pnl(market, tokens[0], settle_balance,
                                           health(tokens, [perp], LIQ_END), perp, max_base,
                                           max_pnl)
    return result, tokens, perp


# (name, (base weight, overall weight, positive pnl fee), (liqee spot, base, quote, other
# spot), (expected liqee spot, base, quote), (max_base, max_pnl)): Mango's table verbatim.
CASES = [
    ("nothing", (0.9, 0.9, 0.0), (0.0, 0, 0.0, 0.0), (0.0, 0, 0.0), (0, 100)),
    ("neg base liq 1: limited", (0.5, 0.5, 0.0), (5.0, -10, 0.0, 0.0), (5.0, -9, -1.0),
     (-1, 100)),
    ("neg base liq 2: base to zero", (0.5, 0.5, 0.0), (5.0, -10, 0.0, 0.0), (5.0, 0, -10.0),
     (-20, 100)),
    ("neg base liq 3: health positive", (0.5, 0.5, 0.0), (5.0, -4, 0.0, 0.0),
     (5.0, -2, -2.0), (-20, 100)),
    ("pos base liq 1: limited", (0.5, 0.5, 0.0), (5.0, 20, -20.0, 0.0), (5.0, 19, -19.0),
     (1, 100)),
    ("pos base liq 2: base to zero", (0.5, 0.5, 0.0), (0.0, 20, -30.0, 0.0),
     (0.0, 0, -10.0), (100, 100)),
    ("pos base liq 3: health positive", (0.5, 0.5, 0.0), (5.0, 20, -20.0, 0.0),
     (5.0, 10, -10.0), (100, 100)),
    ("base liq, pos perp health 1: until health positive", (0.5, 0.8, 0.0),
     (-20.0, 20, 5.0, 0.0), (0.0, 10, -5.0), (100, 100)),
    ("base liq, pos perp health 2-1: settle until health positive", (0.5, 0.5, 0.0),
     (-19.0, 20, 10.0, 0.0), (-1.0, 20, -8.0), (100, 100)),
    ("base liq, pos perp health 2-2: base+settle until health positive", (0.5, 0.5, 0.0),
     (-25.0, 20, 10.0, 0.0), (0.0, 10, -5.0), (100, 100)),
    ("base liq, pos perp health 2-3: base+settle until pnl limit", (0.5, 0.5, 0.0),
     (-23.0, 20, 10.0, 0.0), (-2.0, 10, -1.0), (100, 21)),
    ("base liq, pos perp health 2-4: base+settle until base limit", (0.5, 0.5, 0.0),
     (-25.0, 20, 10.0, 0.0), (-4.0, 18, -9.0), (2, 100)),
    ("base liq, pos perp health 2-5: base+settle until both limits", (0.5, 0.5, 0.0),
     (-25.0, 20, 10.0, 0.0), (-4.0, 16, -7.0), (4, 21)),
    ("base liq, pos perp health 4: liq some base, then settle some", (0.5, 0.5, 0.0),
     (-20.0, 20, 10.0, 0.0), (-15.0, 10, 15.0), (10, 5)),
    ("base liq, pos perp health 5: base to zero even without settlement", (0.5, 0.5, 0.0),
     (-20.0, 20, 10.0, 0.0), (-20.0, 0, 30.0), (100, 0)),
    ("base liq, pos perp health 6: don't touch base without settlement", (0.5, 0.0, 0.0),
     (-20.0, 20, 10.0, 0.0), (-20.0, 20, 10.0), (10, 0)),
    ("base liq, pos perp health 7: settlement without base", (0.5, 0.0, 0.0),
     (-20.0, 20, 10.0, 0.0), (-15.0, 20, 5.0), (10, 5)),
    ("base liq, pos perp health 8: settlement enables base", (0.5, 0.0, 0.0),
     (-30.0, 20, 10.0, 0.0), (-7.5, 15, -7.5), (5, 30)),
    ("base liq, pos perp health 9: until health positive", (0.5, 0.0, 0.0),
     (-25.0, 20, 10.0, 0.0), (0.0, 10, -5.0), (200, 200)),
    ("base liq of negative perp health: where total token pos goes from negative to "
     "positive", (0.5, 0.0, 0.0), (2.0, 60, -35.0, -2.0), (2.0, 50, -25.0), (200, 200)),
    ("pre-settle: where total token pos goes from negative to positive", (0.5, 0.0, 0.0),
     (-7.0, 60, -20.0, -3.0), (3.0, 60, -30.0), (200, 200)),
    ("base liq and post-settle: where total token pos goes from negative to positive",
     (0.5, 0.0, 0.0), (-7.0, 60, -30.0, -3.0), (3.0, 40, -20.0), (200, 200)),
    ("base liq of positive perp health: where total token pos goes from negative to "
     "positive", (0.5, 0.5, 0.0), (-7.0, 60, -20.0, -3.0), (-7.0, 40, 0.0), (200, 0)),
    ("use all liquidation phases 1", (0.5, 0.5, 0.0), (-7.0, 70, -40.0, -100.0),
     (3.0, 0, 20.0), (200, 10)),
    ("use all liquidation phases 2", (0.5, 0.5, 0.0), (-7.0, 70, -30.0, -100.0),
     (8.0, 10, 15.0), (60, 15)),
    ("settle fee 1", (0.5, 0.5, 0.25), (-7.0, 70, -30.0, -100.0), (8.0, 10, 10.0), (60, 20)),
    ("settle fee 2", (0.5, 0.5, 0.25), (-7.0, 70, -30.0, -12.0), (8.0, 24, -4.0), (60, 20)),
    ("settle fee 3", (0.5, 0.5, 0.25), (-7.0, 70, -30.0, -6.0), (-7.0 + 12.75, 45, -22.0),
     (60, 20)),
    ("settle fee 4", (0.5, 0.5, 0.25), (-7.0, 70, -30.0, 4.0), (-7.0 + 1.5, 70, -32.0),
     (60, 20)),
]


@pytest.mark.parametrize(("name", "weights", "start", "expected", "limits"), CASES,
                         ids=[c[0] for c in CASES])
def test_mangos_test_liq_base_or_positive_pnl_table(
        name: str, weights: tuple[float, float, float],
        start: tuple[float, int, float, float], expected: tuple[float, int, float],
        limits: tuple[int, int]) -> None:
    spot, base, quote, other = start
    result, _, _ = liquidate(*weights, spot, base, quote, other, *limits)
    assert isinstance(result, PerpBaseLiq), (name, result)
    end_spot = spot + fx_to_f64(result.token_transfer)
    end_base = base + result.base_transfer
    end_quote = quote + fx_to_f64(result.quote_transfer_liqee - result.pnl_transfer)
    assert end_base == expected[1], name
    assert end_quote == pytest.approx(expected[2], abs=0.01), name
    assert end_spot == pytest.approx(expected[0], abs=0.01), name
    # the liquidator's side mirrors it (no base or platform fee in the table)
    assert result.platform_fee == 0
    liqor_quote = fx_to_f64(result.quote_transfer_liqor + result.pnl_transfer)
    assert liqor_quote == pytest.approx(-(expected[2] - quote), abs=0.01), name


def test_mangos_stable_price_case_takes_the_oracle_price() -> None:
    # test_liq_base_or_positive_pnl_stable_price: 5 spot, 30 lots long at -30 quote; base
    # init asset weight 0.6, maint 0.8, stable price 0.5 (init health only). Liquidation
    # end: 5 - 30 + 30 x 0.6 = -7; the liqee ends with 12 lots, 5 - 12 + 12 x 0.6.
    result, tokens, perp = liquidate(0.6, 0.98, 0.0, 5.0, 30, -30.0, 0.0, 100, 0,
                                     stable=0.5, maint_base=0.8)
    assert fx_to_f64(health(tokens, [perp], HealthType.INIT)) == pytest.approx(
        5.0 + (-30.0 + 30.0 * 0.5 * 0.6), abs=0.1)
    assert fx_to_f64(health(tokens, [perp], LIQ_END)) == pytest.approx(-7.0, abs=0.1)
    assert fx_to_f64(health(tokens, [perp], HealthType.MAINT)) == pytest.approx(-1.0, abs=0.1)
    assert isinstance(result, PerpBaseLiq)
    assert 30 + result.base_transfer == 12


def test_base_and_platform_fees_move_quote_to_the_liquidator_and_the_market() -> None:
    # Hand-computed from liquidation_action: a long of 20 lots at price 1, base fee 2%,
    # platform fee 1%: the liqee gets 0.97 per lot, the liquidator pays 0.98, the market
    # keeps 0.01 per lot.
    market = PerpLiqMarket(1, w(0.5), w(1.5), w(0.5), w(0.02), w(0.01))
    perp = PerpInfo(0, w(0.5), w(1.5), w(0.9), w(1.1), w(0.5), w(0.98), 1, 20, 0, 0,
                    -fx(20), Prices(ONE, ONE))
    settle = token(0, 5.0)
    balance = effective_token_balances([settle], [perp], LIQ_END)[0]
    result = perp_liq_base_or_positive_pnl(market, settle, balance,
                                           health([settle], [perp], LIQ_END), perp, 3, 0)
    assert isinstance(result, PerpBaseLiq) and result.base_transfer == -3
    assert fx_to_f64(result.quote_transfer_liqee) == pytest.approx(3 * 0.97, abs=1e-9)
    assert fx_to_f64(result.quote_transfer_liqor) == pytest.approx(-3 * 0.98, abs=1e-9)
    assert fx_to_f64(result.platform_fee) == pytest.approx(0.03, abs=1e-9)


def test_wrong_sign_of_max_base_transfer_is_some_error() -> None:
    for base, max_base in ((10, -1), (-10, 1)):
        result, _, _ = liquidate(0.5, 0.5, 0.0, 5.0, base, 0.0, 0.0, max_base, 0)
        assert isinstance(result, Refusal) and result.code is Code.MANGO_SOME_ERROR


def test_weights_that_make_a_lot_gain_no_health_are_refused() -> None:
    # Mango's assert!(uhupnl_per_lot > 0): a long with base asset weight 1 and no fee
    result, _, _ = liquidate(1.0, 0.5, 0.0, 5.0, 10, -20.0, 0.0, 5, 0)
    assert isinstance(result, Refusal) and result.code is Code.MANGO_SOME_ERROR


def test_spot_amount_for_health_zero() -> None:
    # health 10, 4 of an asset weighted 2, then liabilities weighted 1: 4 + (10 - 8) = 6
    assert spot_amount_taken_for_health_zero(fx(10), fx(4), fx(2), ONE) == fx(6)
    assert spot_amount_taken_for_health_zero(fx(6), fx(4), fx(2), ONE) == fx(3)
    assert spot_amount_taken_for_health_zero(-fx(1), fx(4), fx(2), ONE) == 0
    # to bring -6 to zero from -4 owed (liab weight 1) then assets (weight 0.5): 4 + 4
    assert spot_amount_given_for_health_zero(-fx(6), -fx(4), w(0.5), ONE) == fx(8)


# perp_liq_negative_pnl_or_bankruptcy.rs, mod tests, test_liq_negative_pnl_or_bankruptcy
# (lines 607-825 of the file at that commit): (name, (settle token weight, settle price,
# insurance price), (liqee settle token, perp quote, other token, insurance vault, settle
# limit), (success, expected liqee settle token, perp quote), (expected liqor settle
# token, perp quote, insurance token, socialized loss), max_liab_transfer). The settle
# token's weights are w and 2 - w (init and maint), the other token's 1 at price 1, the
# perp's init overall weight 0, no base and no base liquidation fee, open interest 1.
NEGATIVE_CASES = [
    ("nothing", (0.9, 1.0, 1.0), (0.0, 0.0, 0.0, 0, 0), (False, 0.0, 0.0),
     (0.0, 0.0, 0.0, 0.0), 100),
    ("settle 1", (0.9, 2.0, 3.0), (40.0, -50.0, -36.0, 6, 100), (True, 30.0, -40.0),
     (10.0, -10.0, 0.0, 0.0), 10),
    ("settle 2 (+insurance)", (0.9, 2.0, 3.0), (40.0, -50.0, -36.0, 100, 100),
     (True, 20.0, -21.0), (20.0, -29.0, 6.0, 0.0), 29),
    ("settle 3 (+insurance)", (0.9, 2.0, 3.0), (40.0, -50.0, -36.0, 100, 10),
     (True, 30.0, -31.0), (10.0, -19.0, 6.0, 0.0), 19),
    ("settle 4 (+socialized loss)", (0.9, 2.0, 3.0), (5.0, -20.0, 30.0, 0, 100),
     (True, -13.63, 0.0), (18.63, -18.63, 0.0, 1.36), 100),
    ("bankruptcy, no insurance 1", (0.9, 2.0, 1.0), (0.0, -5.0, 2.2, 0, 0),
     (True, 0.0, -1.0), (0.0, 0.0, 0.0, 4.0), 0),
    ("bankruptcy, no insurance 2", (0.9, 2.0, 1.0), (4.0, -5.0, -3.6, 0, 0),
     (True, 4.0, -2.0), (0.0, 0.0, 0.0, 3.0), 0),
    ("bankruptcy, no insurance 3", (0.9, 2.0, 1.0), (4.0, -5.0, -3.6, 0, 0),
     (True, 4.0, -2.0), (0.0, 0.0, 0.0, 3.0), 100),
    ("bankruptcy, with insurance 1", (0.9, 2.0, 3.0), (40.0, -50.0, -36.0, 6, 0),
     (True, 40.0, -20.0), (0.0, -9.0, 6.0, 21.0), 100),
    ("bankruptcy, with insurance 2", (0.9, 2.0, 3.0), (40.0, -50.0, -36.0, 6, 0),
     (True, 40.0, -47.0), (0.0, -3.0, 2.0, 0.0), 3),
    ("bankruptcy, with insurance 3", (0.9, 2.0, 3.0), (40.0, -50.0, -36.0, 1000, 0),
     (True, 40.0, -20.0), (0.0, -30.0, 20.0, 0.0), 100),
    ("everything 1", (0.9, 2.0, 3.0), (40.0, -50.0, -36.0, 6, 100), (True, 20.0, 0.0),
     (20.0, -29.0, 6.0, 21.0), 40),
    ("everything 2", (0.9, 2.0, 3.0), (10.0, -50.0, 9.0, 6, 100), (True, -4.1, 0.0),
     (14.1, -14.1 - 9.0, 6.0, 50.0 - 14.1 - 9.0), 40),
]


def bank_native(amount: float) -> int:
    """The native balance ``change_without_fee`` leaves at the mock banks' index of
    1,000,000 (``bank.rs``: a deposit's indexed amount rounded up by one I80F48 delta
    when it falls short, a borrow's truncated): Mango's exact amounts depend on it."""
    index, raw = fx(1_000_000), w(amount)
    if raw >= 0:
        indexed = fx_div(raw, index)
        if fx_mul(indexed, index) < raw:
            indexed += 1
    else:
        indexed = -fx_div(-raw, index)
    return fx_mul(indexed, index)


@pytest.mark.parametrize(("name", "prices", "start", "liqee", "liqor", "max_liab"),
                         NEGATIVE_CASES, ids=[c[0] for c in NEGATIVE_CASES])
def test_mangos_test_liq_negative_pnl_or_bankruptcy_table(
        name: str, prices: tuple[float, float, float],
        start: tuple[float, float, float, int, int], liqee: tuple[bool, float, float],
        liqor: tuple[float, float, float, float], max_liab: int) -> None:
    weight, settle_price, insurance_price = prices
    spot, quote, other, vault, limit = start
    p = Prices(w(settle_price), w(settle_price))
    settle = TokenInfo(1, p, w(weight), w(weight), w(weight), w(2 - weight), w(2 - weight),
                       w(2 - weight), bank_native(spot))
    perp = PerpInfo(1, w(0.8), w(1.2), w(0.9), w(1.1), 0, w(0.9), 1, 0, 0, 0, w(quote),
                    Prices(ONE, ONE))
    tokens = [settle, replace(token(2, other), balance_spot=bank_native(other))]
    result = perp_liq_negative_pnl_or_bankruptcy(tokens, [perp], 0, w(settle_price),
                                                 w(insurance_price), 0, max_liab, vault,
                                                 limit)
    if not liqee[0]:
        assert isinstance(result, Refusal)
        assert result.code is Code.MANGO_PROFITABILITY_MISMATCH
        return
    assert isinstance(result, PerpNegativePnlLiq), (name, result)
    moved = result.settlement
    end_quote = quote + fx_to_f64(moved + result.insurance_liab_transfer
                                  + result.socialized_loss)
    assert spot - fx_to_f64(moved) == pytest.approx(liqee[1], abs=0.01), name
    assert end_quote == pytest.approx(liqee[2], abs=0.1), name
    assert fx_to_f64(moved) == pytest.approx(liqor[0], abs=0.01), name
    assert -fx_to_f64(moved + result.insurance_liab_transfer) == pytest.approx(liqor[1],
                                                                               abs=0.1), name
    assert result.insurance_transfer == pytest.approx(liqor[2], abs=0.01), name
    # long_funding after socialize_loss over an open interest of 1
    assert fx_to_f64(result.socialized_loss) == pytest.approx(liqor[3], abs=0.1), name
