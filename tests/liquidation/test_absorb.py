import pytest

from marginengine.config import protocol_from_dict
from marginengine.engine import Absorb, Borrow, BuyCollateral, Deposit, Engine, SetPrice
from marginengine.fixedpoint import RAY
from marginengine.liquidation import plan_absorb, quote_collateral, store_front_price
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
    assert quote_collateral(1_649 * USDC, USD, USDC, 1_700 * USD, ETH, 9_500,
                            6 * 10**17) == ETH
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


# --- Worked numbers from Compound III's own tests --------------------------------------
# compound-finance/comet@d5a30b0aaeff7755f1431e87f818990902237b03: test/quote-collateral-
# test.ts, test/buy-collateral-test.ts, test/absorb-test.ts (prices in 8 decimals, factors
# in 4 decimals as Comet stores them; defaultAssets: COMP 175, WETH 3000, WBTC 41000 with
# liquidationFactor ONE).
COMP_SCALE = 10**18
WBTC_SCALE = 10**8


#: storeFrontPriceFactor at FACTOR_SCALE (1e18), as Comet keeps it.
SF = 10**18


@pytest.mark.parametrize(("base_amount", "asset_price", "lf_bps", "sf", "expected"), [
    # 0.5 x (1 - 0.6) = 20% off 200: 200 USDC buy 1.25 COMP.
    (200 * USDC, 200 * USD, 6_000, SF // 2, 125 * COMP_SCALE // 100),
    (0, 200 * USD, 6_000, SF // 2, 0),
    # storeFrontPriceFactor 0: the market price.
    (200 * USDC, 200 * USD, 6_000, 0, COMP_SCALE),
    # "without truncating integer during intermediate calculations" (PR 303): 810 / 8.1.
    (810 * USDC, 9 * USD, 8_000, SF // 2, 100 * COMP_SCALE),
    # "does not overflow for large amounts": 1e15 USDC / (0.8 x 200) = 6.25e12 COMP.
    (10**15 * USDC, 200 * USD, 7_500, 8 * SF // 10, 625 * 10**10 * COMP_SCALE),
    # buy-collateral-test: 50 USDC at 0.9 (COMP at 1, 0.5 x (1 - 0.8) off).
    (50 * USDC, 1 * USD, 8_000, SF // 2, 55_555_555_555_555_555_555),
])
def test_quote_collateral_when_comet_test_vectors_then_same_quote(
        base_amount: int, asset_price: int, lf_bps: int, sf: int, expected: int) -> None:
    assert quote_collateral(base_amount, USD, USDC, asset_price, COMP_SCALE, lf_bps,
                            sf) == expected


def test_store_front_price_when_factors_have_four_decimals_then_discount_keeps_eight():
    # Comet: discount = mulFactor(0.5555e18, 1e18 - 0.9333e18) = 0.03705185e18, then
    # 2000e8 x (1 - 0.03705185) = 1,925.8963 USD. Flooring the discount to basis points
    # (0.0370) gave 1,926.00 before.
    assert store_front_price(2_000 * USD, 9_333, 5_555 * 10**14) == 192_589_630_000
    assert quote_collateral(1_925_896_300, USD, USDC, 2_000 * USD, ETH, 9_333,
                            5_555 * 10**14) == ETH


def test_store_front_price_when_factor_has_18_decimals_then_kept_whole():
    # Comet's constructor copies storeFrontPriceFactor whole (FACTOR_SCALE, no descale):
    # 0.555555555555555555 x (1 - 0.9) = 0.0555555555555555555 floored at 1e18, so
    # 2000e8 x (1 - 0.055555555555555555) = 188,888,888,888.88 -> 188,888,888,888. Read
    # with 4 decimals (0.5555, as before) it was 188,890,000,000.
    assert store_front_price(2_000 * USD, 9_000, 555_555_555_555_555_555) == 188_888_888_888
    assert store_front_price(2_000 * USD, 9_000, 5_555 * 10**14) == 188_890_000_000


def test_plan_absorb_when_collateral_beyond_debt_then_one_unit_left_as_supply():
    # absorb-test.ts "absorbs an account with more than enough collateral to still cover
    # debt": 1 COMP + 1 WETH + 1 WBTC = 44,175 USD at liquidationFactor 1; the debt is one
    # unit less, so the account ends with 1 unit of USDC and the reserves pay 44,175 USDC.
    debt = 44_175 * USDC - 1
    plan = plan_absorb(debt, USD, USDC, [
        ("COMP", COMP_SCALE, 175 * USD, COMP_SCALE, 10_000),
        ("WBTC", WBTC_SCALE, 41_000 * USD, WBTC_SCALE, 10_000),
        ("WETH", ETH, 3_000 * USD, ETH, 10_000),
    ])
    assert [s.value_base for s in plan.seized] == [175 * USD, 41_000 * USD, 3_000 * USD]
    assert plan.new_balance == 1
    assert plan.new_balance - plan.old_balance == 44_175 * USDC  # basePaidOut
    assert plan.bad_debt == 0


def test_plan_absorb_when_collateral_short_then_balance_zero_and_rest_is_bad_debt():
    # absorb-test.ts "absorbs 3 accounts with collateral", account 2: owes 1e12 USDC units
    # against 10 COMP and 1 WETH (4,750 USD): its balance ends at 0, basePaidOut = 1e12.
    plan = plan_absorb(10**12, USD, USDC, [
        ("COMP", 10 * COMP_SCALE, 175 * USD, COMP_SCALE, 10_000),
        ("WETH", ETH, 3_000 * USD, ETH, 10_000),
    ])
    assert plan.credit == 4_750 * USD
    assert plan.new_balance == 0
    assert plan.new_balance - plan.old_balance == 10**12
    assert plan.bad_debt == 10**12 - 4_750 * USDC


# --- Liquidator points: compound-finance/comet@d5a30b0a contracts/Comet.sol absorb ------
# (numAbsorbs++, numAbsorbed += accounts.length, approxSpend += gasUsed * block.basefee;
# contracts/CometStorage.sol LiquidatorPoints) and test/absorb-test.ts "absorbs 1 account
# and pays out the absorber": the absorber's points 1 / 1 / some spend, the absorbed
# account's 0 / 0 / 0.
def test_absorb_when_accepted_then_absorber_credited_liquidator_points():
    from marginengine.liquidation import LiquidatorPoints

    engine = comet()
    engine.apply(SetPrice("WETH", 1_700 * USD))
    # 250,000 gas at a 30 gwei base fee: 7.5e15 wei.
    outcome = engine.apply(Absorb("keeper", "whale", gas_used=250_000, base_fee=30 * 10**9))
    assert outcome.accepted, outcome.reason
    assert engine.liquidator_points("keeper") == LiquidatorPoints(1, 1, 7_500_000_000_000_000)
    assert engine.liquidator_points("whale") == LiquidatorPoints()  # as Comet's mapping
    assert outcome.details["liquidator_points"] == {
        "num_absorbs": 1, "num_absorbed": 1, "approx_spend": 7_500_000_000_000_000}
    # A second absorb by the same absorber adds to them.
    engine.apply(Deposit("shrimp", "WETH", ETH))
    assert engine.apply(Borrow("shrimp", "USDC", 1_400 * USDC)).accepted  # 1,700 x 83%
    engine.apply(SetPrice("WETH", 1_500 * USD))
    assert engine.apply(Absorb("keeper", "shrimp", gas_used=100_000, base_fee=1)).accepted
    assert engine.liquidator_points("keeper") == LiquidatorPoints(2, 2,
                                                                  7_500_000_000_100_000)


def test_absorb_when_points_credited_then_in_state_hash_and_replayed_without_gas_zero():
    # Points are state (Comet's storage): they enter the hash once an absorb credits any,
    # so a run without an absorb hashes as before; the gas fields default to 0.
    engine = comet()
    before = engine.state_hash()
    assert "liquidator_points" not in engine.state.hash_parts()
    engine.apply(SetPrice("WETH", 1_700 * USD))
    with_gas = comet()
    with_gas.apply(SetPrice("WETH", 1_700 * USD))
    engine.apply(Absorb("keeper", "whale"))
    with_gas.apply(Absorb("keeper", "whale", gas_used=1, base_fee=1))
    assert engine.liquidator_points("keeper").approx_spend == 0
    assert engine.state_hash() != with_gas.state_hash() != before
    assert engine.state.hash_parts()["liquidator_points"] == {
        "keeper": {"num_absorbs": 1, "num_absorbed": 1, "approx_spend": 0}}


@pytest.mark.parametrize(("field", "event"), [
    ("gas_used", Absorb("keeper", "whale", gas_used=-1)),
    ("base_fee", Absorb("keeper", "whale", base_fee=-1)),
    ("approx_spend", Absorb("keeper", "whale", gas_used=2**64, base_fee=2**64)),
])
def test_absorb_when_bad_gas_then_refused_naming_field_and_nothing_changed(field, event):
    engine = comet()
    engine.apply(SetPrice("WETH", 1_700 * USD))
    before = engine.state.hash_parts()
    outcome = engine.apply(event)
    assert not outcome.accepted and field in outcome.reason
    assert engine.state.hash_parts() == before  # no points (and the hash: seq only)
    assert engine.ledger.debt_of("whale", "USDC") == 160_000 * USDC
    assert engine.ledger.supply_of("whale", "WETH") == 100 * ETH
