"""Liquity v1 batch liquidation in recovery mode through the whole system.

Source: liquity/dev at commit ``39f1f7f881de23200c296a892b891a6e2fc6e98f``,
``packages/contracts/test/TroveManager_RecoveryMode_Batch_Liqudation_Test.js`` ("Batch
liquidations": "First trove only doesn't get out of Recovery Mode", "Two troves over MCR
are liquidated", "Stability Pool profit matches", "A trove over TCR is not liquidated"),
with troves opened as ``testHelpers.openTrove({ICR, extraLUSDAmount})`` does (the minimum
net debt less the fee, plus 1 wei, plus the extra; ``coll = ICR x totalDebt / price`` at the
test price feed's 200).
"""

from __future__ import annotations

from marginengine.liquidation import liquity as liq
from marginengine.liquidation import liquity_system as ops
from marginengine.margin import liquity as lm

E = 10**18
PRICE_200, PRICE_100 = 200 * E, 100 * E


def th_open(sys: ops.LiquitySystem, who: str, icr_pct: int, extra: int = 0
            ) -> tuple[ops.LiquitySystem, int]:
    """testHelpers.openTrove: returns the system and the trove's total debt."""
    amount = lm.MIN_NET_DEBT * E // (E + lm.borrowing_rate(0)) + 1 + extra
    total = amount + lm.LUSD_GAS_COMPENSATION + lm.borrowing_fee(0, amount)
    ch = ops.open_trove(sys, who, icr_pct * 10**16 * total // PRICE_200, amount, PRICE_200)
    assert isinstance(ch, ops.TroveChange), ch
    return ch.system, total


def setup(a_icr: int, b_icr: int, whale_icr: int, sp_extra: int
          ) -> tuple[ops.LiquitySystem, dict[str, int]]:
    sys = ops.LiquitySystem.empty(liq.StabilityPoolRule.KEEP_ONE_LUSD)
    debts = {}
    for who, icr in (("alice", a_icr), ("bob", b_icr), ("carol", 150)):
        sys, debts[who] = th_open(sys, who, icr)
    deposit = sum(debts.values()) + sp_extra
    sys, _ = th_open(sys, "whale", whale_icr, deposit)
    ch = ops.provide_to_sp(sys, "whale", deposit)
    assert isinstance(ch, ops.PoolChange)
    return ch.system, debts


def batch(sys: ops.LiquitySystem, borrowers: list[str]) -> ops.Liquidation:
    res = ops.batch_liquidate(sys, borrowers, PRICE_100)
    assert isinstance(res, ops.Liquidation), res
    return res


def test_batch_in_recovery_mode_back_to_normal_mode_in_one_transaction():
    sys, debts = setup(296, 280, 340, E)
    # Price 100: recovery mode (TCR 149.0%); A 148% and B 140% in [MCR, TCR), C 75%.
    assert sys.tcr(PRICE_100) == 1_490_464_047_300_959_553
    assert [sys.entire(t).icr(PRICE_100) for t in ("alice", "bob", "carol")] == [
        148 * 10**16, 140 * 10**16, 75 * 10**16]
    # First trove only doesn't get out of recovery mode.
    assert batch(sys, ["alice"]).system.tcr(PRICE_100) < lm.CCR
    # A, B (capped offsets) and C (pure redistribution: ICR <= 100%) are all liquidated.
    res = batch(sys, ["alice", "bob", "carol"])
    assert [t for t, _ in res.totals.liquidated] == ["alice", "bob", "carol"]
    assert not set(res.system.troves) & {"alice", "bob", "carol"}
    # "Stability Pool profit matches": the pool's ETH grows by exactly
    # applyLiquidationFee(A_totalDebt x MCR / price) and its LUSD falls by A_totalDebt.
    res = batch(sys, ["alice", "carol"])
    capped = debts["alice"] * lm.MCR // PRICE_100
    assert res.system.pool.eth - sys.pool.eth == capped * 995 * 10**15 // E
    assert sys.pool.total_deposits - res.system.pool.total_deposits == debts["alice"]


def test_a_trove_over_the_tcr_is_not_liquidated():
    sys, _ = setup(280, 276, 310, 0)
    tcr = sys.tcr(PRICE_100)
    assert sys.entire("alice").icr(PRICE_100) > tcr
    assert lm.MCR < sys.entire("bob").icr(PRICE_100) < tcr
    res = batch(sys, ["bob", "alice"])
    assert [t for t, _ in res.totals.liquidated] == ["bob"]
    assert {"alice", "carol"} <= set(res.system.troves)
