"""Aave versions as rule families (issue 9, item 11), each as its code in
aave-dao/aave-v3-origin (tags v3.3.0, v3.5.0; v3.7.0 is commit 4fbd7442):

- v3.3 ``GenericLogic``: ``HF = percentMul(totalCollateral, avgLT).wadDiv(totalDebt)``,
  ``avgLT`` floored to whole bps; debt in base currency floored;
- v3.5+: ``HF = wadDiv(sum C_i x LT_i, totalDebt) / 1e4``; debt ``mulDivCeil``;
- v3.7 ``LiquidationLogic`` (docs/3.7/liquidation-rounding.md): ``percentMulFloor`` for
  the collateral seized, ``percentDivFloor`` for the bonus's base, ``percentMulCeil`` for
  the protocol fee. ``aave-v3`` is v3.7.
"""

from __future__ import annotations

import pytest

from marginengine.config import protocol_from_dict
from marginengine.config.families import ROUNDING_V3_3, ROUNDING_V3_5, ROUNDING_V3_7
from marginengine.engine import Borrow, Deposit, Engine, SetPrice
from marginengine.liquidation import CloseFactorInputs, plan_liquidation
from tests.conftest import ETH, SIMPLE_MARKETS, USD, USDC


def bob(preset: str) -> Engine:
    engine = Engine(protocol_from_dict({"preset": preset, "markets": SIMPLE_MARKETS}))
    for asset, price in (("WETH", 2_000 * USD), ("USDC", USD), ("DAI", USD)):
        engine.apply(SetPrice(asset, price))
    engine.apply(Deposit("lp", "DAI", 1_000_000 * ETH))
    engine.apply(Deposit("bob", "WETH", ETH))
    engine.apply(Deposit("bob", "USDC", 2_000 * USDC))
    assert engine.apply(Borrow("bob", "DAI", 3_000 * ETH)).accepted
    engine.apply(SetPrice("WETH", 1_800 * USD))
    return engine


@pytest.mark.parametrize(("preset", "health"), [
    # (1,800 x 82.5% + 2,000 x 80%) / 3,000 with avgLT floored to 8,118 bps: 1.02828.
    ("aave-v3.3", 1_028_280_000_000_000_000),
    # The same without the floor: 3,085 / 3,000 = 1.028333...
    ("aave-v3.5", 1_028_333_333_333_333_333),
    ("aave-v3.7", 1_028_333_333_333_333_333),
    ("aave-v3", 1_028_333_333_333_333_333),
])
def test_health_factor_when_two_collaterals_then_each_version_as_its_code(preset, health):
    assert bob(preset).account_data("bob").health_factor == health


def snapshot_bob() -> CloseFactorInputs:
    # examples/snapshot.toml's bob: 64,000 USDC of debt, 50 WETH at 1,500, HF 0.9727.
    return CloseFactorInputs(
        health_factor=972_656_250_000_000_000, total_debt_base=64_000 * USD,
        total_collateral_base=75_000 * USD, debt_balance=64_000 * USDC,
        collateral_balance=50 * ETH, debt_price=USD, debt_unit=USDC,
        collateral_price=1_500 * USD, collateral_unit=ETH, liquidation_bonus_bps=10_500,
        protocol_fee_bps=1_000)


@pytest.mark.parametrize(("rounding", "seized", "fee"), [
    # 32,000 USDC buys 21.333...e18 WETH; x 1.05 = 22.3999...9.65e18.
    (ROUNDING_V3_3, 22_400_000_000_000_000_000, 106_666_666_666_666_667),
    (ROUNDING_V3_5, 22_400_000_000_000_000_000, 106_666_666_666_666_667),
    # v3.7: floor (one wei less seized), the bonus's base floored, the fee rounded up.
    (ROUNDING_V3_7, 22_399_999_999_999_999_999, 106_666_666_666_666_667),
])
def test_liquidation_rounding_when_each_version_then_its_seized_collateral(rounding, seized,
                                                                          fee):
    from marginengine.config import AaveRules

    plan = plan_liquidation(snapshot_bob(), 32_000 * USDC, AaveRules(), rounding)
    assert plan.debt_repaid == 32_000 * USDC
    assert plan.collateral_seized == seized
    assert plan.protocol_fee == fee
