"""liquidation/liquity_system.py: ``is_liquidatable`` and ``batch_totals`` are the rule of
``liquidate`` / ``batchLiquidateTroves`` without settling (the system is unchanged), so
the risk book confirms with Liquity's rule itself.

Constants: liquity/dev@39f1f7f8 Dependencies/LiquityBase.sol (MCR 110%, 200 LUSD reserve).
"""

from __future__ import annotations

from marginengine.decisions import Refusal
from marginengine.liquidation import liquity_system as ops
from marginengine.liquidation.liquity import StabilityPoolRule

E = 10**18


def two_troves() -> ops.LiquitySystem:
    sys = ops.LiquitySystem.empty(StabilityPoolRule.LEGACY)
    for borrower, coll in (("whale", 200 * E), ("x", 11 * E)):
        opened = ops.open_trove(sys, borrower, coll, 20_000 * E, 4_000 * E)
        assert not isinstance(opened, Refusal)
        sys = opened.system
    return sys


def test_is_liquidatable_when_icr_below_110_then_true_and_the_system_unchanged():
    sys = two_troves()
    # x: 11 ETH for 20,300 LUSD; at 2,000: 22,000 / 20,300 = 108.4% < 110%.
    assert ops.is_liquidatable(sys, "x", 2_000 * E)
    assert not ops.is_liquidatable(sys, "whale", 2_000 * E)        # 400,000 / 20,300
    # At 2,100: 23,100 / 20,300 = 113.8%, safe.
    assert not ops.is_liquidatable(sys, "x", 2_100 * E)
    assert not ops.is_liquidatable(sys, "nobody", 2_000 * E)       # no trove
    totals = ops.batch_totals(sys, ["x"], 2_000 * E)
    assert not isinstance(totals, Refusal)
    done = ops.liquidate(sys, "x", 2_000 * E)
    assert not isinstance(done, Refusal) and done.totals == totals
    assert "x" in sys.troves and "x" not in done.system.troves    # batch_totals settles none


def test_redistribution_when_two_liquidations_without_pool_then_rewards_as_liquitys_test() -> None:
    # liquity/dev@39f1f7f8 packages/contracts/test/TroveManager_LiquidationRewardsTest.js,
    # "redistribution: A, B Open. B Liquidated. C, D Open. D Liquidated. Distributes correct
    # rewards": A and C open at ICR 400%, B and D at 210% (price 200; here each borrows
    # 1,800 LUSD: debt 1,800 + 9 fee + 200 reserve = 2,009, so colls 40.18 and 21.0945 ETH);
    # at price 100 (TCR 152.5%, then 152.4%: normal mode) B, then D, is liquidated with an
    # empty Stability Pool, so all of each is redistributed by stake. Liquity's expectation,
    # within its 1,000 wei: A = A1 + A1 x fee(D) / (A1 + C) with A1 = A + fee(B), and
    # C = C + C x fee(D) / (A1 + C), fee(x) = x x 0.995 (th.applyLiquidationFee); the
    # system holds A + C + fee(B + D) exactly, and the gas pool 2 x 200 LUSD.
    e18 = 10**18

    def opened(system: ops.LiquitySystem, borrower: str, coll: int) -> ops.LiquitySystem:
        change = ops.open_trove(system, borrower, coll, 1_800 * e18, 200 * e18)
        assert isinstance(change, ops.TroveChange), change
        return change.system

    def liquidated(system: ops.LiquitySystem, borrower: str) -> ops.LiquitySystem:
        done = ops.liquidate(system, borrower, 100 * e18)
        assert isinstance(done, ops.Liquidation), done
        return done.system

    def fee(x: int) -> int:
        return x * 995 // 1_000

    a = c = 4_018 * 10**16
    b = d = 210_945 * 10**14
    system = opened(opened(ops.LiquitySystem.empty(StabilityPoolRule.LEGACY), "alice", a),
                    "bob", b)
    assert system.troves["alice"].debt == 2_009 * e18
    assert system.tcr(100 * e18) == 1_525 * 10**15
    system = liquidated(system, "bob")
    system = opened(opened(system, "carol", c), "dennis", d)
    assert system.tcr(100 * e18) == 1_523_687_500_000_000_000
    system = liquidated(system, "dennis")
    a1 = a + fee(b)
    alice, carol = system.entire("alice").coll, system.entire("carol").coll
    assert abs(alice - (a1 + a1 * fee(d) // (a1 + c))) <= 1_000
    assert abs(carol - (c + c * fee(d) // (a1 + c))) <= 1_000
    assert system.system_coll == a + c + fee(b + d)
    assert system.gas_lusd == 400 * e18
