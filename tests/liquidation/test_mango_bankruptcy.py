"""Mango v4 ``token_liq_bankruptcy`` as a pure rule, with the numbers of Mango's tests.

Source: blockworks-foundation/mango-v4 at 1303a4a16228eb1e8e8d4f0eef724eaf63310c86,
``programs/mango-v4/src/instructions/token_liq_bankruptcy.rs`` and its integration tests
``programs/mango-v4/tests/cases/test_bankrupt_tokens.rs``. Those tests' banks come from
``tests/program_test/mango_setup.rs``: liquidation fee 0.02 stored from an ``f32``
(``token_register.rs``: ``I80F48::from_num(liquidation_fee)``, hence ``F32_2PCT``), loan
origination fee 0.0005 (so a 50 borrow is 50.025 native), prices 1 unless set.
"""

from __future__ import annotations

import struct

import pytest

from marginengine.decisions import Code, Refusal
from marginengine.liquidation.mango import (
    BankruptcyInsurance,
    TokenBankruptcy,
    after_phase2_refusal,
    bankruptcy_insurance,
    fx_ceil,
    fx_div,
    has_liq_spot_assets,
    has_liq_spot_borrows,
    is_bankrupt,
    socialize_loss,
    socialized_deposit_index,
    token_liq_bankruptcy,
)
from marginengine.margin.mango import (
    ONE,
    PerpInfo,
    Prices,
    TokenInfo,
    fx,
    fx_from_f64,
    fx_mul,
    fx_to_f64,
)

#: 0.02 as an f32 (the test banks' liquidation fee), then I80F48::from_num.
F32_2PCT = fx_from_f64(struct.unpack("f", struct.pack("f", 0.02))[0])
BIG = fx(1_000_000)


def mango_round(raw: int) -> int:
    """``I80F48::round().to_num::<i64>()`` (half away from zero), as ``account_position``."""
    half = ONE // 2
    return (raw + half) >> 48 if raw >= 0 else -((-raw + half) >> 48)


def test_usdc_liability_is_repaid_from_the_insurance_vault_without_the_liqor() -> None:
    # test_bankrupt_tokens.rs lines 501-529 (test_bankrupt_tokens_insurance_fund): vault
    # 1051; the liqee owes 50 USDC plus the 0.0005 origination fee. The fund pays
    # ceil(50.025) = 51: "insurance_vault_before - borrow1_amount - 1", the position is
    # closed (0.975 left over is dust) and the liqor's USDC does not change.
    liab = -fx_from_f64(50 * 1.0005)
    part = bankruptcy_insurance(liab, liab, ONE, F32_2PCT, None, BIG, 1051)
    assert isinstance(part, BankruptcyInsurance)
    assert part.liab_to_insurance_with_fee == ONE
    assert part.insurance_transfer == 51 and 1051 - part.insurance_transfer == 1051 - 50 - 1
    assert part.liab_after == 0 and part.remaining_liab_loss == 0
    assert part.insurance_fund_exhausted is False


# After the two token_liq_with_token of that test (lines 453-491): 350 borrowed at
# 20 (plus the origination fee), 20 + 1000 of collateral at 1 taken at 20 x 1.02 x 1.02.
LIAB_BEFORE = -350 * 1.0005 + (20 + 1000) / 20 / (1.02 * 1.02)


def test_partial_bankruptcy_of_a_non_usdc_liability_pays_the_liqor_in_usdc() -> None:
    # test_bankrupt_tokens.rs lines 531-565: USDC (the insurance token) at 2, the liability
    # at 20; max_liab_transfer 500 x 2/20 = 50. The liqor gets
    # ceil(50 / 0.1 x 1.02) = 510 USDC from the vault and the liqee's borrow is
    # (liab_before + 50) as i64.
    usdc_to_liab = 2.0 / 20.0
    liab_transfer = 500.0 * usdc_to_liab
    usdc_amount = -(-(liab_transfer / usdc_to_liab * 1.02) // 1)   # f64 ceil, as the test
    liab = fx_from_f64(LIAB_BEFORE)
    part = bankruptcy_insurance(liab, liab, fx(20), F32_2PCT, fx(2),
                                fx_from_f64(liab_transfer), 1051 - 51)
    assert isinstance(part, BankruptcyInsurance)
    assert part.insurance_transfer == usdc_amount == 510
    assert mango_round(part.liab_after) == int(LIAB_BEFORE + liab_transfer) == -251
    assert part.insurance_fund_exhausted is False
    # 510 USDC buy 510 / 10.2 = 50 of the liability (to the f32 fee's precision)
    assert fx_to_f64(part.liab_transfer) == pytest.approx(50.0, abs=1e-7)


def test_the_fund_exhausted_socializes_the_rest_through_the_deposit_index() -> None:
    # test_bankrupt_tokens.rs lines 567-591: the rest of the fund (1051 - 51 - 510 = 490)
    # goes to the liqor, the vault ends at 0 and the liqee's borrow is closed: what 490
    # USDC do not buy is socialized.
    liab = fx_from_f64(LIAB_BEFORE + 50.0)
    deposits = fx(100_000)   # indexed deposits at index 1
    result = token_liq_bankruptcy(liab, liab, fx(20), F32_2PCT, fx(2), BIG, 490, ONE,
                                  deposits)
    assert isinstance(result, TokenBankruptcy)
    part = result.insurance
    assert part.insurance_transfer == 490 and part.insurance_fund_exhausted
    bought = fx_div(fx(490), part.liab_to_insurance_with_fee)
    assert part.liab_transfer == bought
    assert result.socialized_loss == -(liab + bought) > 0
    assert result.ending_deposit_index == ONE - fx_div(result.socialized_loss, deposits)
    # conservation in liability tokens: the liqee's borrow = bought + socialized
    assert -liab == part.liab_transfer + result.socialized_loss


def test_an_empty_fund_socializes_the_whole_loss_over_the_depositors() -> None:
    # test_bankrupt_tokens.rs lines 216-239 (test_bankrupt_tokens_socialize_loss): no
    # insurance; borrow1 after the two liquidations is -350 + 1000/20/ff + 20/20/ff; the
    # only depositor (the liqor's vault account, 100,000 + 20 less the 1020/20/ff it paid
    # in) loses it all: its position becomes vault_before + round(borrow1_after_liq).
    ff = 1.02 * 1.02
    borrow1_after_liq = -350.0 + 1000.0 / 20.0 / ff + 20.0 / 20.0 / ff
    liab = fx_from_f64(borrow1_after_liq)
    depositor = fx_from_f64(100_020 - 1020 / 20 / ff)
    result = token_liq_bankruptcy(liab, liab, fx(20), F32_2PCT, fx(1), BIG, 0, ONE,
                                  depositor)
    assert isinstance(result, TokenBankruptcy)
    assert result.insurance.insurance_transfer == 0 and result.insurance.insurance_fund_exhausted
    assert result.socialized_loss == -liab
    after = fx_mul(depositor, result.ending_deposit_index)   # indexed x new index
    assert mango_round(after) == mango_round(depositor) + round(borrow1_after_liq) == 99_670
    # borrow2 (lines 246-264): 50 at 1 against the 100,000 deposit: 99,950 left
    result = token_liq_bankruptcy(-fx(50), -fx(50), ONE, F32_2PCT, ONE, BIG, 0, ONE,
                                  fx(100_000))
    assert isinstance(result, TokenBankruptcy)
    assert mango_round(fx_mul(fx(100_000), result.ending_deposit_index)) == 100_000 - 50


def test_other_insurance_token_prices_the_transfer_at_its_own_price() -> None:
    # test_bankrupt_tokens.rs lines 853-887 (test_bankrupt_tokens_other_insurance_fund):
    # the insurance token at 1.5, the liability at 20; max 500 x 1.5/20 = 37.5, the liqor
    # gets ceil(37.5 / 0.075 x 1.02) = 510 and the borrow is (liab_before + 37.5).floor().
    insurance_to_liab = 1.5 / 20.0
    liab_transfer = 500.0 * insurance_to_liab
    usdc_amount = -(-(liab_transfer / insurance_to_liab * 1.02) // 1)
    liab = fx_from_f64(LIAB_BEFORE)
    part = bankruptcy_insurance(liab, liab, fx(20), F32_2PCT, fx_from_f64(1.5),
                                fx_from_f64(liab_transfer), 2000)
    assert isinstance(part, BankruptcyInsurance)
    assert part.insurance_transfer == usdc_amount == 510
    assert mango_round(part.liab_after) == int((LIAB_BEFORE + liab_transfer) // 1)


def test_refusals_without_a_liability() -> None:
    for liab, health in ((fx(5), fx(5)), (0, 0), (-fx(5), fx(1))):
        result = bankruptcy_insurance(liab, health, ONE, 0, None, BIG, 10)
        assert isinstance(result, Refusal) and result.code is Code.MANGO_REQUIRE_GT_VIOLATED


def test_the_cap_limits_the_insurance_part_and_nothing_is_socialized_before_exhaustion(
        ) -> None:
    # 100 owed at price 1 (fee 0): max 30 -> 30 from a 1000 vault, 70 still owed, the
    # index unchanged (the vault is not exhausted).
    result = token_liq_bankruptcy(-fx(100), -fx(100), ONE, 0, ONE, fx(30), 1000, ONE,
                                  fx(500))
    assert isinstance(result, TokenBankruptcy)
    assert result.insurance.insurance_transfer == 30
    assert result.insurance.liab_after == -fx(70) == -result.insurance.remaining_liab_loss
    assert result.socialized_loss == 0 and result.ending_deposit_index == ONE


def test_socialized_deposit_index_is_mangos_formula() -> None:
    # 1,000 indexed at 1.25 hold 1,250; a 125 loss takes 0.125 off the index.
    index = fx_from_f64(1.25)
    new = socialized_deposit_index(index, fx(1000), fx(125))
    assert fx_to_f64(new) == pytest.approx(1.125, abs=1e-12)
    assert fx_mul(fx(1000), index) - fx_mul(fx(1000), new) == pytest.approx(fx(125), abs=2)
    assert socialized_deposit_index(index, fx(1000), 0) == index


def test_socialize_loss_splits_exactly_in_proportion() -> None:
    shares = socialize_loss(10, {"a": 10, "b": 10, "c": 10})
    assert sum(shares.values()) == 10 and sorted(shares.values()) == [3, 3, 4]
    assert shares["a"] == 4    # ties by name
    assert socialize_loss(7, {"a": 30, "b": 10}) == {"a": 5, "b": 2}   # 5.25 and 1.75
    assert socialize_loss(4, {"a": 3, "b": 1}) == {"a": 3, "b": 1}
    assert socialize_loss(0, {"a": 3}) == {}
    with pytest.raises(ValueError, match="loss: 5 is above"):
        socialize_loss(5, {"a": 3, "b": 1})


def token(index: int, balance: int) -> TokenInfo:
    return TokenInfo(index, Prices(ONE, ONE), ONE, ONE, ONE, ONE, ONE, ONE, balance)


def perp(base_lots: int = 0, quote: int = 0, bids: int = 0) -> PerpInfo:
    return PerpInfo(0, ONE, ONE, ONE, ONE, 0, 0, 1, base_lots, bids, 0, quote,
                    Prices(ONE, ONE))


def test_phase2_requirements_in_mangos_order() -> None:
    # health/cache.rs require_after_phase2_liquidation
    borrow_and_asset = [token(0, -fx(5)), token(1, fx(3))]
    assert has_liq_spot_borrows(borrow_and_asset, [])
    assert has_liq_spot_assets(borrow_and_asset, [])
    codes = {
        "orders": after_phase2_refusal(borrow_and_asset, [perp(bids=1)]),
        "token": after_phase2_refusal(borrow_and_asset, []),
        "base": after_phase2_refusal([token(0, -fx(5))], [perp(base_lots=1)]),
        "pnl": after_phase2_refusal([token(0, -fx(5))], [perp(quote=fx(1))]),
    }
    assert {k: r.code if r else None for k, r in codes.items()} == {
        "orders": Code.MANGO_HAS_OPEN_PERP_ORDERS,
        "token": Code.MANGO_HAS_LIQUIDATABLE_TOKEN_POSITION,
        "base": Code.MANGO_HAS_LIQUIDATABLE_PERP_BASE_POSITION,
        "pnl": Code.MANGO_HAS_LIQUIDATABLE_POSITIVE_PERP_PNL}
    # less than one native unit of asset is not liquidatable: bankrupt
    dust = [token(0, -fx(5)), token(1, ONE - 1)]
    assert not has_liq_spot_assets(dust, []) and is_bankrupt(dust, [])
    # negative pnl without base is phase 3 too, but no token borrow: not token-bankrupt
    assert after_phase2_refusal([token(0, fx(1))], [perp(quote=-fx(9))]) is None
    assert not is_bankrupt([token(0, fx(1))], [perp(quote=-fx(9))])


def test_fx_ceil() -> None:
    assert fx_ceil(fx(3)) == 3 and fx_ceil(fx(3) + 1) == 4 and fx_ceil(-fx(3) - 1) == -3
