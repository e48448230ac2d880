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
