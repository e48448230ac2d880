"""Mango v4 ``token_liq_with_token`` as a pure rule, with Mango's own test numbers.

Source: blockworks-foundation/mango-v4 at 1303a4a16228eb1e8e8d4f0eef724eaf63310c86,
``programs/mango-v4/src/instructions/token_liq_with_token.rs``, its ``mod tests``
(``test_liq_with_token_stable_price`` and the "no perps" cases of
``test_liq_with_token_while_perp``; banks from ``mock_bank_and_oracle`` of
``health/test.rs``: price 1, zero liquidation fees). Mango compares with a 0.01 tolerance
(``assert_eq_f!``); so do these tests, on the liqee's end balances.
"""

from __future__ import annotations

import pytest

from marginengine.decisions import Code, Refusal
from marginengine.liquidation.mango import (
    BankLiq,
    CheckLiquidatable,
    TokenLiq,
    check_liquidatable,
    fx_div,
    token_liq_with_token,
)
from marginengine.margin.mango import ONE, fx, fx_from_f64, fx_mul, fx_to_f64


def w(x: float) -> int:
    return fx_from_f64(x)


def liquidate(asset_w: float, liab_w: float, asset: float, liab: float, other: float = 0.0,
              max_liab: float = 100.0, asset_fee: float = 0.0,
              liab_fee: float = 0.0) -> TokenLiq | Refusal:
    # test_liq_with_token_while_perp: asset bank init weights (w, 2 - w), liab bank the same
    # with its own w; the "other" token has weight 1 (mock init_weights 0). No perps here.
    a = BankLiq(ONE, w(asset_w), w(2 - asset_w), w(asset_fee))
    lb = BankLiq(ONE, w(liab_w), w(2 - liab_w), w(liab_fee))
    a_nat, l_nat = w(asset), w(liab)
    health = (fx_mul(a_nat, a.init_asset_weight) + fx_mul(l_nat, lb.init_liab_weight)
              + w(other))
    return token_liq_with_token(health, lb, l_nat, l_nat, a, a_nat, a_nat, w(max_liab))


def end_balances(result: TokenLiq | Refusal, asset: float, liab: float) -> tuple[float, float]:
    assert isinstance(result, TokenLiq), result
    return (asset - fx_to_f64(result.asset_transfer_from_liqee),
            liab + fx_to_f64(result.liab_transfer))


@pytest.mark.parametrize(("name", "weights", "start", "other", "max_liab", "expected"), [
    ("no perps1", 0.9, (10.0, -11.0), 0.0, 100, (0.0, -1.0)),
    ("no perps1, limited", 0.9, (10.0, -11.0), 0.0, 2, (8.0, -9.0)),
    ("no perps2", 0.8, (10.0, -9.0), 0.0, 100, (3.0, -2.0)),
    ("no perps2, other health1", 0.8, (10.0, -9.0), 0.4, 100, (4.0, -3.0)),
    ("no perps2, other health2", 0.8, (10.0, -9.0), -0.4, 100, (2.0, -1.0)),
])
def test_the_no_perp_cases_of_mangos_test_liq_with_token_while_perp(
        name: str, weights: float, start: tuple[float, float], other: float, max_liab: int,
        expected: tuple[float, float]) -> None:
    result = liquidate(weights, weights, *start, other=other, max_liab=max_liab)
    got = end_balances(result, *start)
    assert got == pytest.approx(expected, abs=0.01), name


def test_mangos_stable_price_case_liquidates_to_zero_liquidation_end_health() -> None:
    # test_liq_with_token_stable_price: asset 10 (init asset weight 1), liab -9 with init
    # liab weight 1.4; stable prices and weight scaling move init health only, the
    # liquidation-end health is 10 - 9 x 1.4 = -2.6, so x = 2.6 / (1.4 - 1) = 6.5:
    # the liqee ends with 3.5 and -2.5.
    a, lb = BankLiq(ONE, ONE, ONE), BankLiq(ONE, ONE, w(1.4))
    health = fx(10) - fx_mul(fx(9), w(1.4))
    assert fx_to_f64(health) == pytest.approx(-2.6, abs=1e-9)
    result = token_liq_with_token(health, lb, fx(-9), fx(-9), a, fx(10), fx(10), fx(100))
    assert end_balances(result, 10.0, -9.0) == pytest.approx((3.5, -2.5), abs=0.01)
    assert isinstance(result, TokenLiq)
    after = fx(10) - result.asset_transfer_from_liqee - fx_mul(
        fx(9) - result.liab_transfer, w(1.4))
    assert abs(fx_to_f64(after)) < 0.01


def test_fees_give_the_liquidator_more_assets_and_the_platform_its_share() -> None:
    # Hand-computed from liquidation_action: fee_factor_liqor = (1 + lf)(1 + af),
    # fee_factor_total adds the platform fees; assets = liab x lp / ap x factor.
    # Liab fee 5%, asset fee 2%, platform fee 1% on the asset bank; prices 2 and 4.
    lb = BankLiq(fx(2), ONE, w(1.2), w(0.05))
    a = BankLiq(fx(4), w(0.8), w(1.2), w(0.02), w(0.01))
    health = fx_mul(fx_mul(fx(10), fx(4)), w(0.8)) - fx_mul(fx_mul(fx(20), fx(2)), w(1.2))
    assert fx_to_f64(health) == pytest.approx(32 - 48)
    result = token_liq_with_token(health, lb, fx(-20), fx(-20), a, fx(10), fx(10), fx(1000))
    assert isinstance(result, TokenLiq)
    # adjusted liab price 2 x 1.05 x 1.03 = 2.163; x = 16 / (2 x 1.2 - 2.163 x 0.8) = 16 / 0.6696
    assert fx_to_f64(result.liab_needed) == pytest.approx(16 / 0.6696, rel=1e-9)
    # 10 asset at 4 buys 40 / 2.163 liab
    assert fx_to_f64(result.liab_possible) == pytest.approx(40 / 2.163, rel=1e-9)
    x = 40 / 2.163
    assert fx_to_f64(result.liab_transfer) == pytest.approx(x, rel=1e-9)
    assert fx_to_f64(result.asset_transfer_to_liqor) == pytest.approx(x * 0.5 * 1.05 * 1.02,
                                                                      rel=1e-9)
    assert fx_to_f64(result.asset_transfer_from_liqee) == pytest.approx(10, abs=1e-9)
    assert result.asset_liquidation_fee == (result.asset_transfer_from_liqee
                                            - result.asset_transfer_to_liqor) > 0


def test_require_gt_refusals_name_anchors_error() -> None:
    for start in ((0.0, -9.0), (10.0, 0.0)):
        result = liquidate(0.8, 0.8, *start)
        assert isinstance(result, Refusal)
        assert result.code is Code.MANGO_REQUIRE_GT_VIOLATED
    result = liquidate(0.8, 0.8, 10.0, -9.0, max_liab=0)
    assert isinstance(result, Refusal) and "max liability liquidation" in result.message


def test_check_liquidatable_keeps_liquidating_until_liquidation_end_health_recovers() -> None:
    assert check_liquidatable(False, 0, -fx(5)) == (CheckLiquidatable.NOT_LIQUIDATABLE, False)
    assert check_liquidatable(False, -1, 0) == (CheckLiquidatable.LIQUIDATABLE, True)
    # being liquidated: maint health positive does not stop it; -1 native quote is the line
    assert check_liquidatable(True, fx(3), -ONE) == (CheckLiquidatable.LIQUIDATABLE, True)
    assert check_liquidatable(True, -fx(3), -ONE + 1) == (
        CheckLiquidatable.BECAME_NOT_LIQUIDATABLE, False)


def test_fx_div_truncates_toward_zero() -> None:
    assert fx_div(fx(7), fx(2)) == fx(7) // 2
    assert fx_div(-ONE, fx(3)) == -(ONE // 3)
    with pytest.raises(ZeroDivisionError):
        fx_div(ONE, 0)
