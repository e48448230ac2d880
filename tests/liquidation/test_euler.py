"""Euler v2 liquidation, against the EVK's own tests.

Sources (euler-xyz/euler-vault-kit at 5b98b42048ba11ae82fb62dfec06d1010c8e41e6):
``src/EVault/modules/Liquidation.sol``; ``test/unit/evault/modules/Liquidation/basic.t.sol``
(``test_basicLiquidation_all_collateral``, ``test_basicLiquidation_worthless_collateral``),
``test/unit/evault/modules/Liquidation/full.t.sol`` (``test_basicFullLiquidation``,
``test_ltvRamping``, ``test_debtSocialization_basic``,
``test_liquidationWithCustomMaxDiscount``, ``test_liquidationWithCoolOff``,
``test_liquidate_zeroCollateral``, ``test_liquidationWithBidAskPricing``,
``test_partialLiquidation``, ``test_multipleCollaterals``, ``test_extremeCollateralFactors``,
``test_minCollateralFactor``);
``test/unit/evault/EVaultTestBase.t.sol``
(``setMaxLiquidationDiscount(0.2e4)``).
"""

from __future__ import annotations

import pytest

from marginengine.decisions import Code, Refusal
from marginengine.liquidation.euler import (
    EulerLiquidation,
    EulerVault,
    LiquidationQuote,
    calculate_liquidation,
    discount_factor,
    in_liquidation_cool_off,
    liquidate,
)
from marginengine.margin.euler import CollateralBalance, LTVConfig, calculate_liquidity, set_ltv

E18 = 10**18
T0 = 1_000
MAX_DISCOUNT = 2_000          # EVaultTestBase: setMaxLiquidationDiscount(0.2e4)


def fixed(ltv_bp: int) -> LTVConfig:
    return LTVConfig(ltv_bp, ltv_bp, 0, 1, 0)


def tst2(ltv: LTVConfig, balance: int = 100 * E18, price: int = 4 * E18 // 10
         ) -> CollateralBalance:
    return CollateralBalance("eTST2", balance, price, ltv)


def done(result: object) -> EulerLiquidation:
    assert isinstance(result, EulerLiquidation), result
    return result


def quoted(result: object) -> LiquidationQuote:
    assert isinstance(result, LiquidationQuote), result
    return result


def test_basic_liquidation_all_collateral_then_the_rest_is_socialized():
    # basic.t.sol test_basicLiquidation_all_collateral: LTV 0.9, 10 eTST2, 5 borrowed at 1,
    # eTST2 price 0.5: discountFactor = 4.5 / 5 = 0.9, expectedMaxRepayValue = 5 x 0.9,
    # expectedYield = all 10; afterwards debtOf(borrower) == 0 (the 0.5 left is socialized).
    c = [CollateralBalance("eTST2", 10 * E18, 5 * E18 // 10, fixed(9_000))]
    q = quoted(calculate_liquidation(c, "eTST2", 5 * E18, E18, MAX_DISCOUNT, T0))
    assert (q.max_repay, q.max_yield, q.discount_factor) == (45 * E18 // 10, 10 * E18,
                                                             9 * E18 // 10)
    liq = done(liquidate(c, "eTST2", 5 * E18, E18, MAX_DISCOUNT, T0))
    assert liq.socialized == 5 * E18 // 10
    assert liq.violator_debt == 0
    assert liq.collaterals[0].balance == 0


def test_basic_full_liquidation_repays_all_debt():
    # full.t.sol test_basicFullLiquidation: 100 eTST2 at 0.4, LTV 0.3 (12), 5 TST at 2.5
    # (12.5): HS 0.96; debtOf(borrower) == maxRepay; valRepay == valYield x HS.
    c = [tst2(fixed(3_000))]
    q = quoted(calculate_liquidation(c, "eTST2", 5 * E18, 25 * E18 // 10, MAX_DISCOUNT, T0))
    assert q.max_repay == 5 * E18
    # 12.5 / 0.96 = 13.0208333... of value, x 100 / 40 = 32.552083... eTST2 (rounded down twice)
    assert q.max_yield == 32_552_083_333_333_333_332
    liq = done(liquidate(c, "eTST2", 5 * E18, 25 * E18 // 10, MAX_DISCOUNT, T0))
    assert liq.violator_debt == 0 and liq.socialized == 0
    assert liq.collaterals[0].balance == 100 * E18 - q.max_yield


def test_repay_zero_is_a_no_op_and_too_much_or_too_little_yield_is_refused():
    c = [tst2(fixed(3_000))]
    args = ("eTST2", 5 * E18, 25 * E18 // 10, MAX_DISCOUNT, T0)
    zero = done(liquidate(c, *args, repay_assets=0))
    assert (zero.repay, zero.yield_balance, zero.violator_debt) == (0, 0, 5 * E18)
    r = liquidate(c, *args, repay_assets=5 * E18 + 1)
    assert isinstance(r, Refusal) and r.code is Code.EULER_EXCESSIVE_REPAY_AMOUNT
    r = liquidate(c, *args, min_yield_balance=32_552_083_333_333_333_333)
    assert isinstance(r, Refusal) and r.code is Code.EULER_MIN_YIELD
    half = done(liquidate(c, *args, repay_assets=25 * E18 // 10))
    assert half.yield_balance == 32_552_083_333_333_333_332 // 2      # pro rata, rounded down
    r = liquidate(c, *args, self_liquidation=True)
    assert isinstance(r, Refusal) and r.code is Code.EULER_SELF_LIQUIDATION
    r = liquidate(c, "eWETH", 5 * E18, 25 * E18 // 10, MAX_DISCOUNT, T0)
    assert isinstance(r, Refusal) and r.code is Code.EULER_BAD_COLLATERAL


def test_ramped_liquidation_yields_of_the_evk_test():
    # test_ltvRamping: at +17 s maxRepay ~ 5e18 and maxYield ~ 27.55e18; at +50 s the
    # discount is ~0.181 and maxYield ~ 33.61e18. Our figures, exactly:
    start = set_ltv(LTVConfig(), 3_000, 3_000, 0, 1)
    assert isinstance(start, LTVConfig)
    cfg = set_ltv(start, 1_500, 1_500, 100, T0)
    assert isinstance(cfg, LTVConfig)
    at = {0: (0, 0), 15: (0, 0), 17: (5 * E18, 27_550_091_074_681_238_637),
          50: (5 * E18, 33_611_111_111_111_111_142)}
    for dt, (repay, yld) in at.items():
        q = quoted(calculate_liquidation([tst2(cfg)], "eTST2", 5 * E18, 22 * E18 // 10,
                                         MAX_DISCOUNT, T0 + dt))
        assert (q.max_repay, q.max_yield) == (repay, yld)
    q50 = quoted(calculate_liquidation([tst2(cfg)], "eTST2", 5 * E18, 22 * E18 // 10,
                                       MAX_DISCOUNT, T0 + 50))
    assert E18 - q50.discount_factor == 181_818_181_818_181_819       # "~0.181"


def test_debt_socialization_basic():
    # full.t.sol test_debtSocialization_basic: LTV 0.99, 17 TST borrowed at 2.7 by the
    # borrower and 1 by a bystander; maxYield == 100e18 (capped at the collateral), and
    # afterwards totalBorrows == 1e18 + maxRepay: the rest is socialized.
    c = [tst2(fixed(9_900))]
    liq = done(liquidate(c, "eTST2", 17 * E18, 27 * E18 // 10, MAX_DISCOUNT, T0))
    assert liq.yield_balance == 100 * E18
    # value 40 x HS (39.6 / 45.9) = 34.509803..., x 17 / 45.9 of debt
    assert liq.repay == 12_781_408_859_840_232_385
    vault = EulerVault(cash=100 * E18 - 18 * E18, total_borrows=18 * E18,
                       total_shares=100 * E18)
    after = vault.socialize(liq.socialized)
    assert after.total_borrows == E18 + liq.repay
    # Depositors bear it: 100 shares were worth 100 (plus the virtual deposit), now less.
    assert vault.convert_to_assets(100 * E18) == 100 * E18
    # ConversionHelpers: shares x (cash + borrows + 1e6) / (shares + 1e6), rounded down:
    # 100e18 x (82e18 + 13.781408859840232385e18 + 1e6) / (100e18 + 1e6): the socialized
    # 4.2186 is lost pro rata (the virtual deposit shifts the last digits).
    assert after.convert_to_assets(100 * E18) == 95_781_408_859_840_274_570


def test_no_socialization_with_collateral_left_or_when_the_vault_opts_out():
    # test_debtSocialization_basic, second part: 1 wei of another collateral, or
    # CFG_DONT_SOCIALIZE_DEBT: the liability 17e18 - maxRepay stays on the account.
    c = [tst2(fixed(9_900)), CollateralBalance("eTST3", 1, 22 * E18 // 10, fixed(9_500))]
    liq = done(liquidate(c, "eTST2", 17 * E18, 27 * E18 // 10, MAX_DISCOUNT, T0))
    assert liq.socialized == 0 and liq.violator_debt == 17 * E18 - liq.repay
    opt_out = done(liquidate([tst2(fixed(9_900))], "eTST2", 17 * E18, 27 * E18 // 10,
                             MAX_DISCOUNT, T0, socialize_debt=False))
    assert opt_out.socialized == 0 and opt_out.violator_debt == 17 * E18 - opt_out.repay
    # Below MIN_SOCIALIZATION_LIABILITY_VALUE (1e6 of value) nothing is socialized either.
    tiny = done(liquidate([CollateralBalance("X", 10, E18, fixed(9_000))], "X", 100, E18,
                          MAX_DISCOUNT, T0))
    assert tiny.socialized == 0 and tiny.violator_debt > 0


def test_custom_max_discount_caps_the_discount():
    # test_liquidationWithCustomMaxDiscount: TST at 2.8 -> HS 12 / 14 = 0.857; with a max
    # discount of 11% the discount factor is 0.89 ("expectedDiscountFactor = 0.89e18"), 1%:
    # 0.99, 0%: 1; in each case debtOf(borrower) == maxRepay (all the debt).
    c = [tst2(fixed(3_000))]
    for max_discount, factor in ((1_100, 89 * E18 // 100), (100, 99 * E18 // 100), (0, E18)):
        q = quoted(calculate_liquidation(c, "eTST2", 5 * E18, 28 * E18 // 10, max_discount,
                                         T0))
        assert q.discount_factor == factor
        assert q.max_repay == 5 * E18
        assert q.max_yield == (14 * E18 * E18 // factor) * 100 * E18 // (40 * E18)
    # The default 20% cap does not bind: the factor is the health score.
    assert discount_factor(857 * 10**15, 2_000) == 857 * 10**15
    with pytest.raises(ValueError, match="E_BadMaxLiquidationDiscount"):
        discount_factor(E18, 10_000)


def test_worthless_collateral_is_claimed_without_repay():
    # basic.t.sol test_basicLiquidation_worthless_collateral: price 0 -> maxRepay 0, the
    # whole balance as yield, and the debt socialized (debtOf(borrower) == 0).
    c = [CollateralBalance("eTST2", 10 * E18, 0, fixed(9_000))]
    liq = done(liquidate(c, "eTST2", 5 * E18, E18, MAX_DISCOUNT, T0))
    assert (liq.repay, liq.yield_balance, liq.violator_debt) == (0, 10 * E18, 0)
    assert liq.socialized == 5 * E18


def test_cool_off_blocks_liquidation_until_it_has_passed():
    # full.t.sol test_liquidationWithCoolOff: HS 0.96 (100 eTST2 at 0.4, LTV 0.3, 5 TST at
    # 2.5); the borrow's status check at T0. Cool-off 1 s: E_LiquidationCoolOff in the same
    # block, liquidatable one second later; 30 s: refused at +15 and +29, allowed at +30.
    c = [tst2(fixed(3_000))]
    args = ("eTST2", 5 * E18, 25 * E18 // 10, MAX_DISCOUNT)
    for cool_off, refused, allowed in ((1, (0,), 1), (30, (0, 15, 29), 30)):
        for dt in refused:
            for r in (calculate_liquidation(c, *args, T0 + dt, T0, cool_off),
                      liquidate(c, *args, T0 + dt, last_status_check=T0,
                                cool_off_time=cool_off)):
                assert isinstance(r, Refusal) and r.code is Code.EULER_LIQUIDATION_COOL_OFF
        q = quoted(calculate_liquidation(c, *args, T0 + allowed, T0, cool_off))
        liq = done(liquidate(c, *args, T0 + allowed, repay_assets=q.max_repay,
                             last_status_check=T0, cool_off_time=cool_off))
        assert liq.repay == q.max_repay == 5 * E18
    assert not in_liquidation_cool_off(T0, T0, 0)
    # The cool-off is checked after the collateral is recognized (E_BadCollateral first).
    r = liquidate(c, "eWETH", 5 * E18, 25 * E18 // 10, MAX_DISCOUNT, T0,
                  last_status_check=T0, cool_off_time=30)
    assert isinstance(r, Refusal) and r.code is Code.EULER_BAD_COLLATERAL


def test_liquidating_a_zero_balance_collateral_repays_nothing():
    # full.t.sol test_liquidate_zeroCollateral: eTST3 enabled (LTV 0.95) but not held, HS
    # 0.96 through eTST2: liquidate(eTST3, 0) and (max) do nothing, (1) is
    # E_ExcessiveRepayAmount; the debt stays 5e18 (eTST2 is left, so nothing is socialized).
    c = [tst2(fixed(3_000)), CollateralBalance("eTST3", 0, 22 * E18 // 10, fixed(9_500))]
    args = ("eTST3", 5 * E18, 25 * E18 // 10, MAX_DISCOUNT, T0)
    for repay in (0, None):
        liq = done(liquidate(c, *args, repay_assets=repay))
        assert (liq.repay, liq.yield_balance, liq.socialized, liq.violator_debt) == (
            0, 0, 0, 5 * E18)
    r = liquidate(c, *args, repay_assets=1)
    assert isinstance(r, Refusal) and r.code is Code.EULER_EXCESSIVE_REPAY_AMOUNT


def test_an_account_without_debt_is_a_no_op_whatever_the_repay():
    # calculateLiquidation: "Violator has no liabilities, liquidation is a no-op" returns
    # before the desired repay is compared with the maximum; a healthy account with debt
    # gets maxRepay 0, so any positive repay is E_ExcessiveRepayAmount.
    c = [tst2(fixed(3_000))]
    liq = done(liquidate(c, "eTST2", 0, 25 * E18 // 10, MAX_DISCOUNT, T0, repay_assets=E18))
    assert (liq.repay, liq.yield_balance, liq.violator_debt) == (0, 0, 0)
    r = liquidate(c, "eTST2", 0, 25 * E18 // 10, MAX_DISCOUNT, T0, min_yield_balance=1)
    assert isinstance(r, Refusal) and r.code is Code.EULER_MIN_YIELD
    r = liquidate(c, "eTST2", 4 * E18, 25 * E18 // 10, MAX_DISCOUNT, T0, repay_assets=1)
    assert isinstance(r, Refusal) and r.code is Code.EULER_EXCESSIVE_REPAY_AMOUNT


def test_liquidation_after_bid_ask_uses_mid_prices():
    # test_liquidationWithBidAskPricing, the end: mids TST 2.39, TST2 0.301 -> HS ~0.755,
    # the discount capped at 20%: yieldValue ~ repayValue / 0.8 (within 1), all 5e18 repaid.
    c = [CollateralBalance("eTST2", 100 * E18, 301 * E18 // 1000, fixed(3_000),
                           bid=3 * E18 // 10)]
    q = quoted(calculate_liquidation(c, "eTST2", 5 * E18, 239 * E18 // 100, MAX_DISCOUNT, T0))
    assert (q.max_repay, q.discount_factor) == (5 * E18, 8 * E18 // 10)
    assert q.max_yield == 49_626_245_847_176_079_734
    yield_value = q.max_yield * 301 // 1000
    assert abs(yield_value - 5 * 239 * E18 // 100 * 10 // 8) <= 1


def test_repay_that_rounds_to_zero_still_yields_the_collateral():
    # full.t.sol test_RepayAdjustedRoundsToZero: 45 wei of eTST2 at 0.4 (LTV 0.3: value 18,
    # adjusted 5), 2 wei of TST borrowed; TST at 20: liability 40, HS 0.125. Repay value
    # 18 x 0.8 = 14 -> 14 x 2 / 40 = 0 assets; yield all 45. Afterwards nothing is left to
    # seize, and the 2 wei of debt stay (liability value 40 < 1e6: not socialized).
    c = [CollateralBalance("eTST2", 45, 4 * E18 // 10, fixed(3_000))]
    q = quoted(calculate_liquidation(c, "eTST2", 2, 20 * E18, MAX_DISCOUNT, T0))
    assert (q.max_repay, q.max_yield, q.liability_value) == (0, 45, 40)
    liq = done(liquidate(c, "eTST2", 2, 20 * E18, MAX_DISCOUNT, T0, repay_assets=0))
    assert (liq.repay, liq.yield_balance, liq.socialized, liq.violator_debt) == (0, 45, 0, 2)
    again = quoted(calculate_liquidation(list(liq.collaterals), "eTST2", 2, 20 * E18,
                                         MAX_DISCOUNT, T0))
    assert (again.max_repay, again.max_yield) == (0, 0)


def test_yield_that_rounds_to_zero_is_a_pure_debt_take_over():
    # full.t.sol test_zeroYieldValue: 1 wei of eTST2 at 15 (adjusted 4), 3,000 wei of TST at
    # 0.002 (liability 6, HS 0.66): maxRepay 3000, maxYield 0 (7 x 1 / 15); minYield 1 is
    # E_MinYield; the liquidator takes the 3,000 over, the violator keeps its 1 wei.
    c = [CollateralBalance("eTST2", 1, 15 * E18, fixed(3_000))]
    q = quoted(calculate_liquidation(c, "eTST2", 3_000, 2 * 10**15, MAX_DISCOUNT, T0))
    assert (q.max_repay, q.max_yield) == (3_000, 0)
    r = liquidate(c, "eTST2", 3_000, 2 * 10**15, MAX_DISCOUNT, T0, repay_assets=3_000,
                  min_yield_balance=1)
    assert isinstance(r, Refusal) and r.code is Code.EULER_MIN_YIELD
    liq = done(liquidate(c, "eTST2", 3_000, 2 * 10**15, MAX_DISCOUNT, T0, repay_assets=3_000))
    assert (liq.repay, liq.yield_balance, liq.violator_debt) == (3_000, 0, 0)
    assert liq.collaterals[0].balance == 1


# --- full.t.sol's setUp: eTST (price 2.2) lends against eTST2 (0.4, LTV 0.3) and eWETH (1,
# LTV 0.3); the borrower holds 100 eTST2; maxLiquidationDiscount 0.2.
def test_partial_liquidation_when_quarter_of_max_repay_then_yield_pro_rata():
    # test_partialLiquidation: 5 TST borrowed, TST at 2.5 (HS 12 / 12.5 = 0.96);
    # partialRepay = maxRepay / 4, partialYield = partialRepay x maxYield / maxRepay.
    c = [tst2(fixed(3_000))]
    args = ("eTST2", 5 * E18, 25 * E18 // 10, MAX_DISCOUNT, T0)
    q = quoted(calculate_liquidation(c, *args))
    partial = q.max_repay // 4
    assert partial == 125 * E18 // 100
    liq = done(liquidate(c, *args, repay_assets=partial))
    assert liq.yield_balance == partial * q.max_yield // q.max_repay == 8_138_020_833_333_333_333
    assert liq.violator_debt == 5 * E18 - partial               # IRMTestZero: no reserves
    assert liq.collaterals[0].balance == 100 * E18 - liq.yield_balance


def test_multiple_collaterals_when_weth_seized_then_repay_limited_to_its_value():
    # test_multipleCollaterals: 4 TST borrowed against 100 eTST2 and 1 eWETH: HS
    # 12.3 / 8.8 = 1.397 ("1.39"); TST at 3.15: 12.3 / 12.6 = 0.976. Seizing eWETH (worth 1)
    # yields all of it for 1 x 0.976190476190476190 of value, 4 x that / 12.6 of TST.
    c = [tst2(fixed(3_000)), CollateralBalance("eWETH", E18, E18, fixed(3_000))]
    before = calculate_liquidity(c, 4 * E18, 22 * E18 // 10, T0, liquidation=False)
    assert before.collateral_value * E18 // before.liability_value == 1_397_727_272_727_272_727
    q = quoted(calculate_liquidation(c, "eWETH", 4 * E18, 315 * E18 // 100, MAX_DISCOUNT, T0))
    assert q.discount_factor == 976_190_476_190_476_190
    assert (q.max_repay, q.max_yield) == (309_901_738_473_167_044, E18)
    liq = done(liquidate(c, "eWETH", 4 * E18, 315 * E18 // 100, MAX_DISCOUNT, T0,
                         repay_assets=q.max_repay))
    # violator: debtOf == 4e18 - maxRepay, eTST2 untouched, eWETH 0; nothing socialized
    # while eTST2 remains.
    assert liq.violator_debt == 4 * E18 - q.max_repay
    assert [b.balance for b in liq.collaterals] == [100 * E18, 0]
    assert liq.socialized == 0


def test_extreme_collateral_factor_when_yield_capped_then_all_collateral_and_pool_loss():
    # test_extremeCollateralFactors: LTV 0.99, 17 TST borrowed, TST at 2.7: HS 39.6 / 45.9
    # = 0.862745098039215686 (within the 20% cap); the yield 45.9 / HS > 40 is capped at
    # all 100 eTST2 ("assertEq(maxYield, 100e18)"), the repay at 40 x HS = 34.50980392...
    # of value, i.e. 17 x that / 45.9 TST. With socialization off the rest stays owed.
    c = [tst2(fixed(9_900))]
    args = ("eTST2", 17 * E18, 27 * E18 // 10, MAX_DISCOUNT, T0)
    q = quoted(calculate_liquidation(c, *args))
    assert q.discount_factor == 862_745_098_039_215_686
    assert (q.max_repay, q.max_yield) == (12_781_408_859_840_232_385, 100 * E18)
    liq = done(liquidate(c, *args, repay_assets=q.max_repay, socialize_debt=False))
    assert liq.socialized == 0
    assert liq.violator_debt == 17 * E18 - q.max_repay
    assert liq.collaterals[0].balance == 0


def test_min_collateral_factor_when_hs_near_zero_then_discount_capped_and_whole_debt():
    # test_minCollateralFactor: LTV 0.0001 on 40 of eTST2 against 5 TST at 2.2 (11):
    # HS 0.004 / 11 = 0.000363636... ("0.0003636e18"); the discount is capped at 20%, the
    # yield 11 / 0.8 = 13.75 of value (34.375 eTST2) is within the collateral, so maxRepay
    # is the whole debt ("assertEq(eTST.debtOf(borrower), maxRepay)").
    c = [tst2(fixed(1))]
    liq = calculate_liquidity(c, 5 * E18, 22 * E18 // 10, T0, liquidation=True)
    assert liq.collateral_value * E18 // liq.liability_value == 363_636_363_636_363
    q = quoted(calculate_liquidation(c, "eTST2", 5 * E18, 22 * E18 // 10, MAX_DISCOUNT, T0))
    assert q.discount_factor == 8 * E18 // 10
    assert (q.max_repay, q.max_yield) == (5 * E18, 34_375 * E18 // 1_000)
