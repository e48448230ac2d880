import pytest

from marginengine.config import AaveRules
from marginengine.engine import Borrow, Deposit, Liquidate, SetPrice
from marginengine.fixedpoint import WAD
from marginengine.liquidation import (
    CloseFactorInputs,
    LiquidationRefused,
    plan_liquidation,
    quote_offers,
)
from tests.conftest import ETH, USD, USDC

RULES = AaveRules()


def inputs(**kw: int) -> CloseFactorInputs:
    base = dict(
        health_factor=97 * WAD // 100, total_debt_base=10_000 * USD,
        total_collateral_base=12_000 * USD, debt_balance=10_000 * USDC,
        collateral_balance=12 * ETH, debt_price=USD, debt_unit=USDC,
        collateral_price=1_000 * USD, collateral_unit=ETH,
        liquidation_bonus_bps=10_500, protocol_fee_bps=1_000,
    )
    base.update(kw)
    return CloseFactorInputs(**base)


def test_plan_when_hf_above_095_then_close_factor_half_of_total_debt():
    plan = plan_liquidation(inputs(), 10_000 * USDC, RULES)
    assert plan.close_factor_bps == 5_000
    assert plan.max_liquidatable_debt == 5_000 * USDC
    assert plan.debt_repaid == 5_000 * USDC


def test_plan_bonus_and_protocol_fee_split():
    plan = plan_liquidation(inputs(), 5_000 * USDC, RULES)
    # 5,000 USD of debt at 1,000 USD/ETH = 5 ETH, x 105% = 5.25 ETH seized; the bonus
    # part is 0.25 ETH, of which the protocol keeps 10%: 0.025 ETH.
    assert plan.collateral_seized == 5_250 * ETH // 1_000
    assert plan.protocol_fee == 25 * ETH // 1_000
    assert plan.collateral_to_liquidator == 5_225 * ETH // 1_000


def test_plan_when_hf_at_or_below_095_then_close_factor_full():
    plan = plan_liquidation(inputs(health_factor=95 * WAD // 100), 10_000 * USDC, RULES)
    assert plan.close_factor_bps == 10_000
    assert plan.debt_repaid == 10_000 * USDC


def test_plan_when_position_below_2000_usd_then_close_factor_full_even_near_one():
    small = inputs(health_factor=99 * WAD // 100, total_debt_base=1_900 * USD,
                   total_collateral_base=2_300 * USD, debt_balance=1_900 * USDC,
                   collateral_balance=23 * ETH // 10)
    plan = plan_liquidation(small, 1_900 * USDC, RULES)
    assert plan.close_factor_bps == 10_000
    assert plan.debt_repaid == 1_900 * USDC


def test_plan_when_collateral_short_then_all_collateral_for_less_debt():
    short = inputs(health_factor=80 * WAD // 100, collateral_balance=10 * ETH,
                   total_collateral_base=10_000 * USD)
    plan = plan_liquidation(short, 10_000 * USDC, RULES)
    assert plan.collateral_seized == 10 * ETH
    assert plan.debt_repaid == 9_523_809_524  # 10,000 / 1.05 (percentDiv, half up)
    assert plan.takes_all_collateral


def test_plan_when_partial_leaves_dust_then_refused_and_leaving_minimum_allowed():
    # Two debts: this reserve's 2,100 USD is above the 50% cap (2,000) of the 4,000 total,
    # so the cap repays 2,000 and would leave 100 USD: the v3.3 dust rule refuses.
    two_debts = inputs(total_debt_base=4_000 * USD, debt_balance=2_100 * USDC,
                       total_collateral_base=4_200 * USD, collateral_balance=42 * ETH // 10)
    with pytest.raises(LiquidationRefused, match=r"would leave dust: 100\.00 USD of debt"):
        plan_liquidation(two_debts, 2_100 * USDC, RULES)
    plan = plan_liquidation(two_debts, 1_100 * USDC, RULES)  # leaves exactly 1,000 USD
    assert plan.debt_repaid == 1_100 * USDC


def test_plan_when_healthy_then_refused():
    with pytest.raises(LiquidationRefused, match="health factor 1.0000 is not below 1"):
        plan_liquidation(inputs(health_factor=WAD), 1, RULES)


def test_liquidate_when_last_collateral_taken_then_remaining_debt_becomes_deficit(engine):
    engine.apply(Deposit("erin", "WETH", ETH))
    assert engine.apply(Borrow("erin", "USDC", 1_550 * USDC)).accepted
    assert engine.apply(Borrow("erin", "DAI", 10 * ETH)).accepted
    engine.apply(SetPrice("WETH", 1_500 * USD))  # HF = 1,500 x 82.5% / 1,560 = 0.79
    outcome = engine.apply(Liquidate("keeper", "erin", "USDC", "WETH", 1_550 * USDC))
    assert outcome.name == "LiquidationExecuted"
    d = outcome.details
    # 1 ETH = 1,500 USD < 1,550 x 1.05: all collateral for 1,500 / 1.05 = 1,428.571429 USDC
    assert d["debt_repaid"] == 1_428_571_429
    assert d["deficit"] == {"DAI": 10 * ETH, "USDC": 1_550 * USDC - 1_428_571_429}
    ledger = engine.ledger
    assert ledger.reserves["USDC"].deficit == 121_428_571
    assert ledger.reserves["DAI"].deficit == 10 * ETH
    assert ledger.debt_of("erin", "USDC") == ledger.debt_of("erin", "DAI") == 0
    assert ledger.supply_of("keeper", "WETH") == 0  # paid out as underlying
    assert ledger.reserves["WETH"].treasury == d["protocol_fee"] > 0
    assert engine.bad_debt_value() == 13_142_857_100  # 121.428571 + 10 DAI, in 8 decimals
    ledger.check_conservation()


def test_liquidate_when_receive_supply_then_liquidator_gets_atokens(engine):
    engine.apply(Deposit("bob", "WETH", 10 * ETH))
    engine.apply(Borrow("bob", "USDC", 16_000 * USDC))
    engine.apply(SetPrice("WETH", 1_900 * USD))
    outcome = engine.apply(Liquidate("keeper", "bob", "USDC", "WETH", 16_000 * USDC, True))
    assert outcome.details["close_factor_bps"] == 5_000
    assert outcome.details["debt_repaid"] == 8_000 * USDC
    assert engine.ledger.supply_of("keeper", "WETH") == outcome.details[
        "collateral_to_liquidator"]
    assert engine.ledger.debt_of("bob", "USDC") == 8_000 * USDC


def test_liquidate_when_healthy_or_self_then_rejected(engine):
    engine.apply(Deposit("bob", "WETH", 10 * ETH))
    engine.apply(Borrow("bob", "USDC", 1_000 * USDC))
    assert engine.apply(Liquidate("keeper", "bob", "USDC", "WETH", 1)).reason.startswith(
        "health factor 16.5 is not below 1".replace("16.5", "16.5000"))
    assert engine.apply(Liquidate("bob", "bob", "USDC", "WETH", 1)).reason == (
        "an account cannot liquidate itself")


def test_plan_when_ceil_scaled_burns_consume_the_balance_then_v3_7_sees_no_collateral_left():
    # LiquidationLogic.sol at aave-dao/aave-v3-origin@4fbd7442 (docs/3.7/
    # liquidation-rounding.md): "no collateral left" is judged on the scaled balance the
    # liquidator's burn and the fee's transfer consume, each rayDivCeil. WBTC-like
    # collateral (8 decimals, 27,000 USD) at a liquidity index of 1.5: 1,001 scaled is
    # 1,501 sat. Repaying the whole 0.385830 USDC debt seizes percentMulFloor(1,429, 105%)
    # = 1,500 sat (fee ceil(72 x 10%) = 8, liquidator 1,492), one sat short of the balance;
    # but ceil(1,492 / 1.5) + ceil(8 / 1.5) = 995 + 6 = 1,001: the whole scaled balance.
    from marginengine.config.families import ROUNDING_V3_5, ROUNDING_V3_7
    from marginengine.fixedpoint import RAY

    case = inputs(health_factor=WAD // 2, total_debt_base=385_830 * USD // USDC,
                  total_collateral_base=1_501 * 27_000, debt_balance=385_830,
                  collateral_balance=1_501, collateral_price=27_000 * USD,
                  collateral_unit=10**8, collateral_scaled=1_001,
                  collateral_index=3 * RAY // 2)
    v37 = plan_liquidation(case, 385_830, RULES, ROUNDING_V3_7)
    assert (v37.debt_repaid, v37.collateral_to_liquidator, v37.protocol_fee) == (
        385_830, 1_492, 8)
    assert v37.takes_all_collateral
    # v3.5 compares the seized amount's value (1,500 sat) with the collateral's (1,501).
    v35 = plan_liquidation(case, 385_830, RULES, ROUNDING_V3_5)
    assert not v35.takes_all_collateral


def test_quote_offers_when_cap_leaves_collateral_dust_then_largest_leaving_the_minimum():
    # 3 WETH at 1,000 USD (3,000) and 2,900 USD of other collateral against 5,000 USDC:
    # health 5,900 x 82.5% / 5,000 = 0.9735 > 0.95, so the cap is 50% of the total debt,
    # 2,500 USDC, for 2,625 USD of WETH: 375 USD left, under the 1,000 USD floor
    # (v3.3 LiquidationLogic: MustNotLeaveDust). Leaving 1,000 USD of WETH is allowed:
    # 2 WETH with the 5% bonus is 2 / 1.05 x 1,000 = 1,904.761904 USDC.
    i = inputs(health_factor=973_500_000_000_000_000, total_debt_base=5_000 * USD,
               total_collateral_base=5_900 * USD, debt_balance=5_000 * USDC,
               collateral_balance=3 * ETH)
    offers = quote_offers(i, RULES.min_leftover_base_units)
    assert offers == (5_000 * USDC, 4_000 * USDC, 1_904_761_904)
    for refused in offers[:2]:
        with pytest.raises(LiquidationRefused, match="dust"):
            plan_liquidation(i, refused, RULES)
    plan = plan_liquidation(i, offers[2], RULES)
    assert plan.debt_repaid == 1_904_761_904
    assert plan.collateral_seized == 1_999_999_999_200_000_000   # 1,904.761904 x 1.05
    left = (3 * ETH - plan.collateral_seized) * 1_000 * USD // ETH
    assert left == 1_000 * USD + 80            # 1,000.0000008 USD: just above the floor
    with pytest.raises(LiquidationRefused, match="dust"):   # one unit more: dust
        plan_liquidation(i, offers[2] + 1, RULES)


def test_quote_offers_when_floor_exceeds_the_collateral_then_no_collateral_offer():
    # 0.9 WETH (900 USD) cannot leave 1,000 USD: only the debt's two offers remain.
    i = inputs(collateral_balance=9 * ETH // 10)
    assert quote_offers(i, RULES.min_leftover_base_units) == (10_000 * USDC, 9_000 * USDC)
