"""dYdX v4's subaccount block limits and deleveraging rules, pure.

Source: dydxprotocol/v4-chain@84d4664bae71e3a077adaac67fb77ad19cd28d30,
protocol/x/clob/keeper/liquidations_test.go ``TestGetMaxLiquidatableNotionalAndInsuranceLost``
and deleveraging_test.go ``TestIsValidInsuranceFundDelta``, ``TestCanDeleverageSubaccount``,
``TestOffsetSubaccountPerpetualPosition``.
"""

from __future__ import annotations

import pytest

from marginengine.decisions import Code
from marginengine.ledger.perp import BlockLiquidation
from marginengine.liquidation.adl import (
    dydx_can_deleverage,
    dydx_offset_order,
    dydx_start_offset,
    dydx_valid_insurance_fund_delta,
)
from marginengine.liquidation.dydx_block_limits import (
    after_liquidation,
    block_limit_refusal,
    max_insurance_lost,
    max_notional_liquidatable,
)

USDC = 10**6
#: "previously liquidated perpetual 1, 100 notional, 100 insurance lost".
PREVIOUS = BlockLiquidation(("ETH-PERP",), 100, 100)


def test_max_left_when_100_of_150_used_then_50() -> None:
    # "Can get max notional liquidatable and insurance lost".
    assert max_notional_liquidatable(PREVIOUS, 150) == 50
    assert max_insurance_lost(PREVIOUS, 150) == 50
    assert max_notional_liquidatable(PREVIOUS, None) is None


@pytest.mark.parametrize("which", ["notional", "insurance"])
def test_max_left_when_total_above_limit_then_error(which: str) -> None:
    # "invalid notional liquidated" / "invalid insurance lost": dYdX panics.
    rule = max_notional_liquidatable if which == "notional" else max_insurance_lost
    with pytest.raises(ValueError, match="already exceeds the limit 50"):
        rule(PREVIOUS, 50)


def test_refusal_when_same_perpetual_then_has_liquidated_perpetual() -> None:
    # "Same perpetual id": ErrSubaccountHasLiquidatedPerpetual, whatever the limits.
    refusal = block_limit_refusal(PREVIOUS, "ETH-PERP", 1, 0, None, None)
    assert refusal is not None and refusal.code is Code.SUBACCOUNT_HAS_LIQUIDATED_PERPETUAL


def test_refusal_when_fill_exceeds_what_is_left_then_names_the_limit() -> None:
    notional = block_limit_refusal(PREVIOUS, "BTC-PERP", 51, 0, 150, 150)
    assert notional is not None
    assert (notional.code, notional.limit, notional.allowed, notional.requested) == (
        Code.LIQUIDATION_EXCEEDS_MAX_NOTIONAL_LIQUIDATED, "max_notional_liquidated", 50, 51)
    assert block_limit_refusal(PREVIOUS, "BTC-PERP", 50, -50, 150, 150) is None
    insurance = block_limit_refusal(PREVIOUS, "BTC-PERP", 50, -51, 150, 150)
    assert insurance is not None
    assert (insurance.code, insurance.allowed, insurance.requested) == (
        Code.LIQUIDATION_EXCEEDS_MAX_INSURANCE_LOST, 50, 51)
    # A fee (delta > 0) is never limited.
    assert block_limit_refusal(PREVIOUS, "BTC-PERP", 50, 10**9, 150, 150) is None


def test_after_liquidation_when_fund_pays_then_totals_grow() -> None:
    # "... stops before exceeding max insurance fund lost per block": 3,000 USDC of ETH
    # with 30 USDC lost, then the BTC.
    info = after_liquidation(BlockLiquidation(), "ETH-PERP", -3_000 * USDC, -30 * USDC)
    assert info == BlockLiquidation(("ETH-PERP",), 3_000 * USDC, 30 * USDC)
    info = after_liquidation(info, "BTC-PERP", 2_500 * USDC, 5 * USDC)  # a fee: no loss
    assert info == BlockLiquidation(("ETH-PERP", "BTC-PERP"), 5_500 * USDC, 30 * USDC)
    with pytest.raises(ValueError, match="already been liquidated"):
        after_liquidation(info, "BTC-PERP", 1, 0)


@pytest.mark.parametrize(("balance", "delta", "valid"), [
    (9_998_000_000, 0, True), (0, 0, True), (9_998_000_000, 1_000_000, True),
    (0, 1_000_000, True), (9_998_000_000, -1_000_000, True),
    (10_000_000_000, -10_000_000_000, True), (10_000_000_000, -10_000_000_001, False),
    (0, -1, False),
])
def test_valid_insurance_fund_delta_when_dydx_table_then_same(balance: int, delta: int,
                                                               valid: bool) -> None:
    assert dydx_valid_insurance_fund_delta(balance, delta) is valid


@pytest.mark.parametrize(("tnc", "final", "expected"), [
    (4_999 * USDC, False, (False, False)), (0, False, (False, False)),
    (-1_000 * USDC, False, (True, False)), (-1_000 * USDC, True, (True, False)),
    (4_999 * USDC, True, (False, True)),
])
def test_can_deleverage_when_dydx_table_then_same(tnc: int, final: bool,
                                                   expected: tuple[bool, bool]) -> None:
    # TestCanDeleverageSubaccount: Carl 1 BTC short with 54,999 USDC at 50,000 (TNC 4,999),
    # 54,999 (0) and 55,000 (-1,000).
    assert dydx_can_deleverage(tnc, final) == expected


def test_offset_order_when_start_then_wraps_and_caps() -> None:
    # "Can get multiple offsetting subaccounts": Dave_Num0 then Dave_Num1 from offset 0.
    assert dydx_offset_order(["dave/0", "dave/1"], 0) == ["dave/0", "dave/1"]
    assert dydx_offset_order(["a", "b", "c"], 2) == ["c", "a", "b"]
    assert dydx_offset_order(["a", "b", "c"], 1, max_iterate=2) == ["b", "c"]
    with pytest.raises(ValueError, match="offset must be within 0..2"):
        dydx_offset_order(["a", "b", "c"], 3)


def test_start_offset_when_same_block_then_same_start() -> None:
    starts = [dydx_start_offset(t, 7) for t in range(200)]
    assert starts == [dydx_start_offset(t, 7) for t in range(200)]
    assert set(starts) == set(range(7))  # every start occurs
    with pytest.raises(ValueError, match="count must be positive"):
        dydx_start_offset(0, 0)
