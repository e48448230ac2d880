"""Liquity v1 liquidations and stability pool, against Liquity's own tests and README.

Sources (liquity/dev at 39f1f7f881de23200c296a892b891a6e2fc6e98f unless named):
``README.md`` ("Stability Pool example", "Liquidations in Recovery Mode" table),
``packages/contracts/test/TroveManager_RecoveryModeTest.js`` ("liquidate(), with 110% < ICR <
TCR, and StabilityPool LUSD > debt to liquidate: offsets the trove entirely with the pool"),
``packages/contracts/test/TroveManagerTest.js`` ("liquidate(): SP cannot be emptied by
withdrawing", added by commit 800e820f of 2025-03-21; "liquidate(): updates the L_ETH and
L_LUSDDebt reward-per-unit-staked totals"), ``GasCompensationTest.js``.
"""

from __future__ import annotations

import pytest

from marginengine.decisions import Code, Refusal
from marginengine.liquidation.liquity import (
    MIN_LUSD_IN_SP,
    DepositChange,
    LiquidationTotals,
    LiquidationValues,
    Redistribution,
    StabilityPool,
    StabilityPoolRule,
    batch_liquidate_troves,
    compounded_deposit,
    eth_gain,
    liquidate_troves,
    max_amount_to_offset,
    offset,
    provide_to_sp,
    redistribute,
    withdraw_from_sp,
)
from marginengine.margin.liquity import LUSD_GAS_COMPENSATION, Trove

E18 = 10**18
PRICE = 100 * E18


def totals(result: object) -> LiquidationTotals:
    assert isinstance(result, LiquidationTotals), result
    return result


def change(result: object) -> DepositChange:
    assert isinstance(result, DepositChange), result
    return result


@pytest.mark.parametrize("rule", list(StabilityPoolRule))
def test_readme_stability_pool_example(rule: StabilityPoolRule):
    # README "Stability Pool example": A, B, C deposit 100, 200, 300; T1 (150 debt, 1.6 ETH)
    # then T2 (225 debt, 2.45 ETH) are offset. README: after T1 deposits 75 / 150 / 225 with
    # ETH 0.2667 / 0.5333 / 0.8; after T2 37.5 / 75 / 112.5 with ETH 0.675 / 1.35 / 2.025.
    pool = StabilityPool(rule=rule)
    deposits = []
    for amount in (100, 200, 300):
        c = change(provide_to_sp(pool, None, amount * E18))
        pool = c.pool
        deposits.append(c.deposit)
    pool = offset(pool, 150 * E18, 16 * E18 // 10)
    # Loss per unit staked is rounded up (0.25e18 + 1), so each deposit errs low by 1e-16.
    assert [compounded_deposit(pool, d) for d in deposits] == [
        74_999_999_999_999_999_900, 149_999_999_999_999_999_800, 224_999_999_999_999_999_700]
    assert [eth_gain(pool, d) for d in deposits] == [
        266_666_666_666_666_600, 533_333_333_333_333_200, 799_999_999_999_999_800]
    pool = offset(pool, 225 * E18, 245 * E18 // 100)
    # The fed-back error brings P back to exactly 0.375.
    assert pool.p == 375 * 10**15
    assert [compounded_deposit(pool, d) for d in deposits] == [
        375 * E18 // 10, 75 * E18, 1_125 * E18 // 10]
    assert [eth_gain(pool, d) for d in deposits] == [
        674_999_999_999_999_974, 1_349_999_999_999_999_948, 2_024_999_999_999_999_923]
    assert pool.total_deposits == 225 * E18


def test_normal_mode_offsets_what_the_pool_holds_and_redistributes_the_rest():
    # README "Liquidations in Normal Mode": ICR < MCR & SP.LUSD < trove.debt.
    t1 = Trove(10 * E18, 1_000 * E18)                   # ICR 100%
    whale = Trove(1_000 * E18, 20_000 * E18)            # ICR 500%
    res = totals(liquidate_troves([("t1", t1), ("whale", whale)], 10, PRICE, 400 * E18,
                                  1_010 * E18, 21_000 * E18))
    (tid, v), = res.liquidated
    assert tid == "t1" and not res.recovery_mode_at_start
    # 0.5% of 10 ETH = 0.05 ETH and the 200 LUSD reserve to the liquidator; 400 of 1,000
    # debt offset with 40% of the remaining 9.95 ETH = 3.98 ETH; the rest redistributed.
    assert v == LiquidationValues(
        entire_debt=1_000 * E18, entire_coll=10 * E18, coll_gas_compensation=5 * 10**16,
        lusd_gas_compensation=LUSD_GAS_COMPENSATION, debt_to_offset=400 * E18,
        coll_to_send_to_sp=398 * 10**16, debt_to_redistribute=600 * E18,
        coll_to_redistribute=597 * 10**16)


def test_recovery_mode_capped_liquidation_leaves_a_collateral_surplus():
    # TroveManager_RecoveryModeTest.js: with 110% < ICR < TCR and SP LUSD > debt, the trove is
    # offset entirely; the depositors' ETH gain is debt x 1.1 / price x 0.995 ("2.75*0.995
    # ether" for 250 LUSD at 100) and the borrower's surplus coll - debt x 1.1 / price.
    bob = Trove(30 * E18, 2_500 * E18)                  # ICR 120%
    alice = Trove(100 * E18, 7_000 * E18)               # ICR 142.9%; TCR 136.8%
    res = totals(batch_liquidate_troves([("bob", bob)], 2, PRICE, 5_000 * E18,
                                        130 * E18, 9_500 * E18))
    (_, v), = res.liquidated
    assert res.recovery_mode_at_start
    assert v.debt_to_offset == 2_500 * E18
    assert v.coll_gas_compensation == 1375 * 10**14                 # 0.5% of 27.5
    assert v.coll_to_send_to_sp == 27_3625 * 10**14                 # 27.5 x 0.995
    assert v.coll_surplus == 25 * 10**17                            # 30 - 27.5
    assert v.debt_to_redistribute == v.coll_to_redistribute == 0
    assert alice.icr(PRICE) > bob.icr(PRICE)


def test_recovery_mode_does_nothing_when_the_pool_cannot_absorb_the_whole_debt():
    # README: MCR <= ICR < TCR needs SP.LUSD >= trove.debt; otherwise nothing is liquidated.
    bob = Trove(30 * E18, 2_500 * E18)
    r = batch_liquidate_troves([("bob", bob)], 2, PRICE, 2_499 * E18, 130 * E18, 9_500 * E18)
    assert isinstance(r, Refusal) and r.code is Code.LIQUITY_NOTHING_TO_LIQUIDATE


def test_recovery_sequence_redistributes_then_caps_then_returns_to_normal_mode():
    t1 = Trove(10 * E18, 1_050 * E18)    # ICR 95.2%: pure redistribution
    t2 = Trove(15 * E18, 1_300 * E18)    # ICR 115.4%: capped offset
    t3 = Trove(40 * E18, 2_000 * E18)    # ICR 200%: the first trove, never reached
    res = totals(liquidate_troves([("t1", t1), ("t2", t2), ("t3", t3)], 10, PRICE,
                                  2_000 * E18, 65 * E18, 4_350 * E18))   # TCR 149.4%
    assert [t for t, _ in res.liquidated] == ["t1", "t2"]
    v1, v2 = (v for _, v in res.liquidated)
    assert (v1.debt_to_offset, v1.debt_to_redistribute) == (0, 1_050 * E18)
    assert v1.coll_to_redistribute == 995 * 10**16
    assert v2.coll_to_send_to_sp == 14_2285 * 10**14                # 14.3 x 0.995
    assert v2.coll_surplus == 7 * 10**17
    assert res.coll_gas_compensation == 5 * 10**16 + 715 * 10**14
    assert res.lusd_gas_compensation == 2 * LUSD_GAS_COMPENSATION


def test_normal_mode_refuses_to_close_the_last_trove():
    only = Trove(10 * E18, 1_000 * E18)
    r = liquidate_troves([("only", only)], 1, PRICE, 0, 10 * E18, 1_000 * E18 * 10 // 15)
    assert isinstance(r, Refusal) and r.code is Code.LIQUITY_ONLY_ONE_TROVE


def test_legacy_rule_lets_a_liquidation_empty_the_pool():
    # The 2021-2023 StabilityPool (15853ad8): debt == total deposits -> every deposit to 0,
    # epoch + 1, P reset to 1; the depositor keeps the whole ETH gain.
    pool = StabilityPool(rule=StabilityPoolRule.LEGACY)
    c = change(provide_to_sp(pool, None, 1_000 * E18))
    assert max_amount_to_offset(c.pool) == 1_000 * E18
    trove = Trove(10 * E18, 1_000 * E18)               # ICR 100% at 100 (normal mode)
    res = totals(liquidate_troves([("t", trove), ("w", Trove(1_000 * E18, 10_000 * E18))], 1,
                                  PRICE, max_amount_to_offset(c.pool), 1_010 * E18,
                                  11_000 * E18))
    (_, v), = res.liquidated
    assert (v.debt_to_offset, v.debt_to_redistribute) == (1_000 * E18, 0)
    after = offset(c.pool, v.debt_to_offset, v.coll_to_send_to_sp)
    assert (after.total_deposits, after.epoch, after.p) == (0, 1, E18)
    assert compounded_deposit(after, c.deposit) == 0
    assert eth_gain(after, c.deposit) == 995 * 10**16


def test_2025_rule_always_leaves_one_lusd():
    # 800e820f "fix: Make SP have min 1 BOLD": getMaxAmountToOffset keeps min(1e18, total).
    # TroveManagerTest.js: "Check pool has been almost emptied by the liquidations":
    # getTotalLUSDDeposits() == 1e18.
    pool = StabilityPool(rule=StabilityPoolRule.KEEP_ONE_LUSD)
    c = change(provide_to_sp(pool, None, 1_000 * E18))
    assert max_amount_to_offset(c.pool) == 999 * E18
    trove = Trove(10 * E18, 1_000 * E18)
    res = totals(liquidate_troves([("t", trove), ("w", Trove(1_000 * E18, 10_000 * E18))], 1,
                                  PRICE, max_amount_to_offset(c.pool), 1_010 * E18,
                                  11_000 * E18))
    (_, v), = res.liquidated
    # 999 offset with 9.95 x 999 / 1000 = 9.94005 ETH; 1 LUSD and 0.00995 ETH redistributed.
    assert (v.debt_to_offset, v.debt_to_redistribute) == (999 * E18, E18)
    assert (v.coll_to_send_to_sp, v.coll_to_redistribute) == (994_005 * 10**13, 995 * 10**13)
    after = offset(c.pool, v.debt_to_offset, v.coll_to_send_to_sp)
    assert after.total_deposits == MIN_LUSD_IN_SP
    assert after.epoch == 0
    assert compounded_deposit(after, c.deposit) <= E18
    # A pool under 1 LUSD offers nothing.
    assert max_amount_to_offset(StabilityPool(total_deposits=E18 // 2)) == 0


def test_2025_rule_sp_cannot_be_emptied_by_withdrawing():
    # TroveManagerTest.js (800e820f): "B tries to fully withdraw" 100 LUSD, reverts with
    # "Withdrawal must leave totalBoldDeposits >= MIN_LUSD_IN_SP".
    c = change(provide_to_sp(StabilityPool(), None, 100 * E18))
    r = withdraw_from_sp(c.pool, c.deposit, 100 * E18)
    assert isinstance(r, Refusal) and r.code is Code.LIQUITY_SP_MIN_DEPOSITS
    ok = change(withdraw_from_sp(c.pool, c.deposit, 99 * E18))
    assert ok.pool.total_deposits == E18 and ok.lusd_moved == -99 * E18
    legacy = change(provide_to_sp(StabilityPool(rule=StabilityPoolRule.LEGACY), None, 100 * E18))
    assert change(withdraw_from_sp(legacy.pool, legacy.deposit, 100 * E18)).pool.total_deposits == 0


def test_redistribution_feeds_back_the_floor_error():
    # 1 ETH and 10 LUSD over stakes of 3: per unit 0.333... and 3.333...; the remainder is
    # carried into the next redistribution, so two of them sum exactly.
    s1 = redistribute(Redistribution(), 3 * E18, 10 * E18, E18)
    assert s1.l_eth == 333_333_333_333_333_333
    assert s1.last_eth_error == E18 * E18 - 333_333_333_333_333_333 * 3 * E18
    s2 = redistribute(s1, 3 * E18, 10 * E18, 2 * E18)
    assert s2.l_eth == E18                                           # 3 ETH / 3 stakes
    assert s2.l_lusd_debt == 6_666_666_666_666_666_666
    assert redistribute(s2, 3 * E18, 0, 5 * E18) == s2              # no debt, no change


def test_reward_per_unit_staked_totals_of_liquitys_suite():
    # TroveManagerTest.js "liquidate(): updates the L_ETH and L_LUSDDebt reward-per-unit-staked
    # totals", the comment's figures: A and B stake 10 ETH each; C (1 ETH, 180 LUSD) is
    # redistributed with an empty pool, then B (10 ETH plus its pending 0.4975, 890 LUSD with
    # its pending 90) over A's 10: "L_ETH = (0.995 / 20) + (10.4975*0.995 / 10) = 1.09425125
    # ETH, L_LUSDDebt = (180 / 20) + (890 / 10) = 98 LUSD".
    c = Trove(E18, 180 * E18)
    res = totals(liquidate_troves([("c", c), ("a", Trove(10 * E18, 500 * E18))], 1,
                                  100 * E18, 0, 21 * E18, 680 * E18))
    (_, vc), = res.liquidated
    assert (vc.coll_to_redistribute, vc.debt_to_redistribute) == (995 * 10**15, 180 * E18)
    s1 = redistribute(Redistribution(), 20 * E18, vc.debt_to_redistribute,
                      vc.coll_to_redistribute)
    assert (s1.l_eth, s1.l_lusd_debt) == (4975 * 10**13, 9 * E18)
    # B's pending rewards: stake x (L - L_snapshot) / 1e18 = 0.4975 ETH and 90 LUSD.
    b_coll = 10 * E18 + 10 * s1.l_eth
    b = Trove(b_coll, 800 * E18 + 10 * s1.l_lusd_debt)
    assert (b.coll, b.debt) == (104975 * 10**14, 890 * E18)
    s2 = redistribute(s1, 10 * E18, b.debt, b.coll - b.coll // 200)
    assert s2.l_eth == 1_094_251_250_000_000_000                  # 1.09425125 ETH
    assert s2.l_lusd_debt == 98 * E18


def test_bad_inputs_are_refused():
    assert isinstance(batch_liquidate_troves([], 2, PRICE, 0, E18, E18), Refusal)
    assert isinstance(liquidate_troves([], -1, PRICE, 0, E18, E18), Refusal)
    assert isinstance(provide_to_sp(StabilityPool(), None, 0), Refusal)
    with pytest.raises(ValueError, match="debt_to_offset"):
        offset(StabilityPool(total_deposits=10 * E18), 11 * E18, 0)
    with pytest.raises(ValueError, match="total_stakes"):
        redistribute(Redistribution(), 0, E18, E18)
