"""dYdX v4's rule for updates that leave a subaccount below initial margin, against dYdX's
own tests.

Source: dydxprotocol/v4-chain@84d4664bae71e3a077adaac67fb77ad19cd28d30,
protocol/x/subaccounts/lib/updates_test.go
``TestIsValidStateTransitionForUndercollateralizedSubaccount_ZeroMarginRequirements`` (every
row) and protocol/lib/margin/risk.go ``Risk.Cmp``.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marginengine.decisions import Code
from marginengine.margin import MarginRisk, dydx_undercollateralized_transition


@pytest.mark.parametrize(("old_nc", "old_imr", "old_mmr", "new_nc", "new_mmr", "allowed"), [
    (-1, 0, 0, -2, 1, False),   # MMR increases, TNC decreases (negative TNC)
    (-1, 0, 0, -1, 1, False),   # MMR increases, TNC the same
    (-1, 0, 0, 100, 1, False),  # MMR increases, TNC increases
    (-1, 0, 0, -1, 0, False),   # both MMR zero, TNC the same
    (-1, 0, 0, -2, 0, False),   # both MMR zero, TNC falls
    (-2, 0, 0, -1, 0, True),    # both MMR zero, TNC rises
    (-2, 1, 1, -1, 0, False),   # MMR falls to zero, TNC rises but stays negative
])
def test_transition_when_dydx_zero_margin_rows_then_same_result(
    old_nc: int, old_imr: int, old_mmr: int, new_nc: int, new_mmr: int, allowed: bool
) -> None:
    refusal = dydx_undercollateralized_transition(
        "sub", MarginRisk(old_nc, old_imr, old_mmr), MarginRisk(new_nc, 0, new_mmr))
    assert (refusal is None) is allowed
    if refusal is not None:
        # Every row's old IMR is above its old NC: StillUndercollateralized.
        assert refusal.code is Code.UNDERCOLLATERALIZED
        assert refusal.data["status"] == "StillUndercollateralized"


def test_transition_when_ratio_compared_then_cross_multiplied_with_dydx_ties() -> None:
    # Risk.Cmp: NC / MMR compared as a.NC x b.MMR against b.NC x a.MMR. 50 / 100 -> 24 / 50
    # falls (0.5 -> 0.48): refused; -> 25 / 50 is the same ratio with a lower MMR: allowed.
    before = MarginRisk(50, 200, 100)
    assert dydx_undercollateralized_transition("a", before, MarginRisk(24, 0, 50)) is not None
    assert dydx_undercollateralized_transition("a", before, MarginRisk(25, 0, 50)) is None
    # The account met initial margin before: NewlyUndercollateralized.
    refusal = dydx_undercollateralized_transition("a", MarginRisk(300, 200, 100),
                                                  MarginRisk(100, 150, 100 + 1))
    assert refusal is not None and refusal.data["status"] == "NewlyUndercollateralized"


@given(st.integers(-10**6, 10**6), st.integers(1, 10**6), st.integers(-10**6, 10**6),
       st.integers(1, 10**6))
def test_transition_when_mmr_does_not_rise_then_allowed_iff_ratio_does_not_fall(
    nc0: int, mmr0: int, nc1: int, mmr1: int
) -> None:
    if mmr1 > mmr0:
        assert dydx_undercollateralized_transition(
            "a", MarginRisk(nc0, 0, mmr0), MarginRisk(nc1, 0, mmr1)) is not None
        return
    allowed = dydx_undercollateralized_transition(
        "a", MarginRisk(nc0, 0, mmr0), MarginRisk(nc1, 0, mmr1)) is None
    worse = nc1 * mmr0 < nc0 * mmr1 or (nc1 * mmr0 == nc0 * mmr1 and mmr1 > mmr0)
    assert allowed is not worse
