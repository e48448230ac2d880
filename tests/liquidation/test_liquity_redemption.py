"""Liquity v1 redemptions (``redeemCollateral``) through the whole system.

Source: liquity/dev at commit ``39f1f7f881de23200c296a892b891a6e2fc6e98f``,
``packages/contracts/contracts/TroveManager.sol`` (``redeemCollateral``,
``_redeemCollateralFromTrove``, ``_redeemCloseTrove``, ``_updateBaseRateFromRedemption``)
and ``packages/contracts/test/TroveManagerTest.js`` ("performs partial redemption if
resultant debt is > minimum net debt", "doesn't perform partial redemption if resultant
debt would be < minimum net debt", "doesn't touch Troves with ICR < 110%", "reverts when
TCR < MCR", "reverts when argument _amount is 0", "reverts if max fee > 100%" / "< 0.5%",
"a redemption made when base rate is zero increases the base rate", "a redemption that
closes a trove leaves the trove's ETH surplus ..."). The price is the tests' 200.
"""

from __future__ import annotations

from marginengine.decisions import Code, Refusal
from marginengine.liquidation import liquity as liq
from marginengine.liquidation import liquity_system as ops
from marginengine.margin import liquity as lm

E = 10**18
PRICE = 200 * E


def opened(sys: ops.LiquitySystem, who: str, coll: int, total_debt: int) -> ops.LiquitySystem:
    # testHelpers.getOpenTroveLUSDAmount(totalDebt) at baseRate 0.
    amount = (total_debt - lm.LUSD_GAS_COMPENSATION) * E // (E + lm.borrowing_rate(0))
    ch = ops.open_trove(sys, who, coll, amount, PRICE)
    assert isinstance(ch, ops.TroveChange), ch
    return ch.system


def three(a_debt: int) -> ops.LiquitySystem:
    sys = ops.LiquitySystem.empty(liq.StabilityPoolRule.KEEP_ONE_LUSD)
    for who, debt in (("A", a_debt), ("B", 20_000 * E), ("C", 30_000 * E)):
        sys = opened(sys, who, 1_000 * E, debt)
    return sys


def redeemed(result: object) -> ops.Redemption:
    assert isinstance(result, ops.Redemption), result
    return result


def test_partial_redemption_when_the_rest_stays_above_the_minimum_net_debt():
    # 55,000 LUSD: C (29,800) and B (19,800) closed, A's debt 10,000 - 5,400 = 4,600
    # (the test: within 1,000 wei, the getOpenTroveLUSDAmount rounding).
    sys = three(10_000 * E)
    r = redeemed(ops.redeem_collateral(sys, 55_000 * E, PRICE))
    assert set(r.system.troves) == {"A"}
    assert abs(r.system.troves["A"].debt - 4_600 * E) <= 1_000
    assert [(tid, closed) for tid, _, _, closed in r.redeemed] == [
        ("C", True), ("B", True), ("A", False)]
    lots = {tid: lot for tid, lot, _, _ in r.redeemed}
    assert r.lusd_redeemed == sum(lots.values()) == 55_000 * E
    assert r.system.troves["A"].debt == sys.troves["A"].debt - lots["A"]
    assert lots["C"] == sys.troves["C"].debt - lm.LUSD_GAS_COMPENSATION
    # ETH at face value: 55,000 / 200 = 275 ETH drawn (each lot rounded down).
    assert abs(r.eth_drawn - 275 * E) <= 3
    # The closed troves' remaining collateral is their owners' surplus: 1,000 - 149 and
    # 1,000 - 99 ETH.
    assert abs(r.system.surplus["C"] - 851 * E) <= 1 and abs(r.system.surplus["B"] - 901 * E) <= 1


def test_no_partial_redemption_below_the_minimum_net_debt():
    # A at 6,000: its rest would be 6,000 - 5,400 = 600 (net 400 < 1,800): A is untouched.
    sys = three(6_000 * E)
    before = sys.troves["A"]
    r = redeemed(ops.redeem_collateral(sys, 55_000 * E, PRICE))
    assert set(r.system.troves) == {"A"} and r.system.troves["A"] == before
    assert [tid for tid, *_ in r.redeemed] == ["C", "B"]


def test_troves_below_110_percent_are_skipped():
    # C at 30,000 debt with 160 ETH: ICR 106.7% at 200 (opened at a higher price).
    sys = ops.LiquitySystem.empty(liq.StabilityPoolRule.KEEP_ONE_LUSD)
    amount = (30_000 * E - lm.LUSD_GAS_COMPENSATION) * E // (E + lm.borrowing_rate(0))
    ch = ops.open_trove(sys, "C", 160 * E, amount, 300 * E)
    assert isinstance(ch, ops.TroveChange)
    sys = opened(opened(ch.system, "A", 1_000 * E, 10_000 * E), "B", 1_000 * E, 20_000 * E)
    r = redeemed(ops.redeem_collateral(sys, 5_000 * E, PRICE))
    assert [tid for tid, *_ in r.redeemed] == ["B"]      # lowest ICR at or above 110%
    assert r.system.troves["C"] == sys.troves["C"]


def test_refusals_in_liquitys_order():
    sys = three(10_000 * E)

    def code(*args: int, **kw: int) -> Code:
        r = ops.redeem_collateral(sys, *args, **kw)
        assert isinstance(r, Refusal), r
        return r.code

    assert code(E, PRICE, max_fee_percentage=E + 1) is Code.LIQUITY_MAX_FEE
    assert code(E, PRICE, max_fee_percentage=lm.REDEMPTION_FEE_FLOOR - 1) is Code.LIQUITY_MAX_FEE
    # TCR: 3,000 ETH x 20 / 60,000 = 100% < 110%.
    assert code(E, 20 * E) is Code.LIQUITY_REDEEM_TCR_BELOW_MCR
    assert code(0, PRICE) is Code.LIQUITY_REDEEM_ZERO_AMOUNT
    assert code(E, PRICE, max_fee_percentage=lm.REDEMPTION_FEE_FLOOR) is Code.LIQUITY_FEE_EXCEEDED


def test_a_redemption_at_zero_base_rate_raises_it_and_pays_the_fee_in_eth():
    # baseRate = 0 + (ETH drawn x price / system debt) / BETA; fee = (0.5% + baseRate) x ETH.
    sys = three(10_000 * E)
    r = redeemed(ops.redeem_collateral(sys, 6_000 * E, PRICE, now=3_600))
    assert r.eth_drawn == 30 * E
    # 6,000 of 60,000 (the system's debt at the start): 10%, halved: 5%.
    expected = 30 * E * PRICE // sys.system_debt // 2
    assert r.system.base_rate == expected and abs(expected - 5 * 10**16) <= 10**6
    assert r.eth_fee == (lm.REDEMPTION_FEE_FLOOR + expected) * 30 * E // E
    assert r.system.last_fee_operation_time == 3_600
    # The system: 6,000 LUSD of debt and 30 ETH gone from the active pool.
    assert r.system.active_debt == sys.active_debt - 6_000 * E
    assert r.system.active_coll == sys.active_coll - 30 * E
