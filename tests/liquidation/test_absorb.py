from marginengine.config import protocol_from_dict
from marginengine.engine import Absorb, Borrow, BuyCollateral, Deposit, Engine, SetPrice
from marginengine.fixedpoint import RAY
from marginengine.liquidation import quote_collateral
from tests.conftest import ETH, USD, USDC


def comet(weth_price: int = 2_000) -> Engine:
    engine = Engine(protocol_from_dict({"preset": "compound-v3", "markets": {
        "USDC": {}, "WETH": {}}}))
    engine.apply(SetPrice("USDC", USD))
    engine.apply(SetPrice("WETH", weth_price * USD))
    engine.apply(Deposit("lp", "USDC", 1_000_000 * USDC))
    engine.apply(Deposit("whale", "WETH", 100 * ETH))
    assert engine.apply(Borrow("whale", "USDC", 160_000 * USDC)).accepted  # 200k x 83%
    return engine


def test_borrow_when_beyond_borrow_collateral_factor_then_rejected():
    engine = comet()
    outcome = engine.apply(Borrow("whale", "USDC", 6_000 * USDC + 1))  # 166,000 = 83%
    assert outcome.reason.startswith("debt would rise to 166,000.00 USD, above the borrowing "
                                     "power of 166,000.00 USD")
    outcome = engine.apply(Borrow("lp", "USDC", 200 * USDC))
    assert "base balance is signed" in outcome.reason


def test_absorb_when_collateral_covers_then_surplus_credited_and_reserves_pay():
    engine = comet()
    engine.apply(SetPrice("WETH", 1_700 * USD))  # 170,000 x 90% = 153,000 < 160,000
    assert engine.is_liquidatable("whale")
    outcome = engine.apply(Absorb("keeper", "whale"))
    assert outcome.accepted
    # Credit 170,000 x 95% = 161,500: debt cleared, 1,500 USDC left as supply.
    assert outcome.details["credit"] == 161_500 * USDC
    assert outcome.details["bad_debt"] == 0
    ledger = engine.ledger
    assert ledger.supply_of("whale", "USDC") == 1_500 * USDC
    assert ledger.debt_of("whale", "USDC") == 0
    assert ledger.reserves["USDC"].reserves == -161_500 * USDC  # reserves may go negative
    assert ledger.reserves["WETH"].reserves_ray == 100 * ETH * RAY  # protocol owns the ETH
    ledger.check_conservation()


def test_absorb_when_collateral_short_then_bad_debt_borne_by_reserves():
    engine = comet()
    engine.apply(SetPrice("WETH", 1_500 * USD))  # credit 142,500 < 160,000
    outcome = engine.apply(Absorb("keeper", "whale"))
    assert outcome.details["bad_debt"] == 17_500 * USDC
    assert outcome.details["new_balance"] == 0
    assert engine.ledger.reserves["USDC"].reserves == -160_000 * USDC
    assert engine.bad_debt_value() == 17_500 * USD


def test_buy_collateral_when_below_target_then_store_front_discount():
    engine = comet()
    engine.apply(SetPrice("WETH", 1_700 * USD))
    engine.apply(Absorb("keeper", "whale"))
    # Discount = 0.6 x (1 - 0.95) = 3%: 1,649 USDC per ETH.
    assert quote_collateral(1_649 * USDC, USD, USDC, 1_700 * USD, ETH, 9_500, 6_000) == ETH
    outcome = engine.apply(BuyCollateral("buyer", "WETH", 164_900 * USDC, 100 * ETH))
    assert outcome.details["collateral_bought"] == 100 * ETH
    assert engine.ledger.reserves["USDC"].reserves == 3_400 * USDC  # -161,500 + 164,900
    assert engine.ledger.reserves["WETH"].reserves_ray == 0
    again = engine.apply(BuyCollateral("buyer", "WETH", 1_649 * USDC))
    assert again.reason == "the protocol holds only 0 WETH of seized WETH"


def test_buy_collateral_when_slippage_or_reserves_at_target_then_rejected():
    engine = comet()
    engine.apply(SetPrice("WETH", 1_700 * USD))
    engine.apply(Absorb("keeper", "whale"))
    outcome = engine.apply(BuyCollateral("buyer", "WETH", 1_649 * USDC, 2 * ETH))
    assert outcome.reason == "would buy 1 WETH, below min_amount 2 WETH"
    rich = Engine(protocol_from_dict({"preset": "compound-v3",
                                      "compound": {"target_reserves": 0}}))
    rich.apply(SetPrice("USDC", USD))
    rich.apply(SetPrice("WETH", 1_000 * USD))
    outcome = rich.apply(BuyCollateral("buyer", "WETH", 1 * USDC))
    assert outcome.reason == (
        "reserves 0 USDC are at or above the target 0 USDC: collateral is not for sale")


def test_absorb_when_healthy_then_rejected():
    engine = comet()
    outcome = engine.apply(Absorb("keeper", "whale"))
    assert outcome.reason == (
        "whale is not liquidatable: collateral at liquidate factors 180,000.00 USD covers "
        "the debt 160,000.00 USD")
