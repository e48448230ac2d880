"""Every rule called without an Engine (issue 10, item 2): a ledger, a dict of prices and the
rule. Worked figures are the Aave docs' health-factor example (10 ETH at 2,000 USD,
threshold 82.5%, 10,000 USD of debt: HF 1.65) and the dYdX-style perp bucket of
``tests/engine/test_perps.py`` (100 ETH long on 20,000 USDC, maintenance 3%)."""

from __future__ import annotations

import pytest

from marginengine.config import ProtocolConfig, protocol_from_dict
from marginengine.decisions import Code
from marginengine.fixedpoint import WAD
from marginengine.ledger import Ledger
from marginengine.liquidation import absorb_collateral, close_factor_inputs, plan_liquidation
from marginengine.liquidation.perp_liquidation import (
    bucket_liquidation_price,
    plan_perp_liquidation,
)
from marginengine.margin import (
    AccountData,
    AccountMarginModel,
    MarginKind,
    Valuation,
    underwater_value,
)
from marginengine.margin import validation as v
from marginengine.oracle.anchored_feed import AnchoredFeed, AnchoredFeedParams
from marginengine.oracle.twap import time_weighted_average
from marginengine.venue.twap import Twap
from tests.conftest import ETH, USD, USDC, simple_aave

PRICES = {"WETH": 2_000 * USD, "USDC": USD, "DAI": USD}


def aave_ledger() -> tuple[Ledger, AccountMarginModel]:
    config = simple_aave()
    ledger = Ledger(config)
    ledger.deposit("lp", "USDC", 1_000_000 * USDC)
    ledger.deposit("alice", "WETH", 10 * ETH)
    ledger.borrow("alice", "USDC", 10_000 * USDC)
    return ledger, AccountMarginModel(config)


def data(collateral: int, debt: int, ltv: int, lt: int) -> AccountData:
    initial, maintenance = collateral * ltv // 10_000, collateral * lt // 10_000
    return AccountData(collateral, debt, ltv, lt, max(0, initial - debt),
                       maintenance * WAD // debt if debt else 2**256 - 1, initial, maintenance)


# ---------------------------------------------------------------------- one margin interface
def test_account_margin_when_aave_docs_example_then_hf_1_65_without_engine():
    ledger, model = aave_ledger()
    valuation = Valuation(PRICES)
    assert model.health(ledger, valuation, "alice") == 1_650_000_000_000_000_000
    state = model.margin(ledger, valuation, "alice", MarginKind.MAINTENANCE)
    assert (state.value, state.requirement) == (16_500 * USD, 10_000 * USD)
    assert model.models_of(ledger, "alice") == ("weighted",)
    assert not model.is_liquidatable(ledger, valuation, "alice")
    assert model.is_below(ledger, valuation, "alice", 17 * WAD // 10)  # 1.65 < 1.7
    # At 1,200 USD: 12,000 x 82.5% = 9,900 < 10,000.
    crashed = Valuation({**PRICES, "WETH": 1_200 * USD})
    assert model.is_liquidatable(ledger, crashed, "alice")


def perp_ledger() -> tuple[Ledger, AccountMarginModel]:
    config = protocol_from_dict({"markets": {"USDC": {}, "WETH": {}},
                                 "perps": {"ETH-PERP": {"preset": "dydx-v4"}}})
    ledger = Ledger(config)
    for account, quote in (("long", 20_000), ("short", 1_000_000)):
        ledger.deposit_quote(account, quote * USDC)
    ledger.fill("long", "ETH-PERP", 100 * ETH, 2_000 * USD, ETH, USDC)
    ledger.fill("short", "ETH-PERP", -100 * ETH, 2_000 * USD, ETH, USDC)
    return ledger, AccountMarginModel(config)


def test_account_margin_when_bucket_holds_perps_then_tiered_model_composed():
    ledger, model = perp_ledger()
    assert model.models_of(ledger, "long") == ("weighted", "tiered")
    assert model.perps.quote_asset == "USDC"  # the configured quote, no fallback
    marks = {"ETH-PERP": 1_850 * USD}
    valuation = Valuation({"USDC": USD, "WETH": 2_000 * USD, "ETH-PERP": 1_850 * USD}, marks)
    state = model.margin(ledger, valuation, "long", MarginKind.MAINTENANCE)
    # Equity 20,000 - 100 x 150 = 5,000 against 3% x 185,000 = 5,550.
    assert (state.value, state.requirement) == (5_000 * USD, 5_550 * USD)
    assert model.is_liquidatable(ledger, valuation, "long")


def test_perp_liquidation_plan_when_called_without_engine_then_fillable_price():
    ledger, model = perp_ledger()
    prices = {"USDC": USD, "WETH": 2_000 * USD, "ETH-PERP": 1_850 * USD}
    risk = model.perps.bucket(ledger, prices, {"ETH-PERP": 1_850 * USD}, "long")
    plan = plan_perp_liquidation(model.config.perps["ETH-PERP"], risk, "ETH-PERP")
    # The figures of test_perps.py's engine test, from the rule alone.
    assert (plan.close, plan.bankruptcy_price, plan.price) == (100 * ETH, 1_800 * USD,
                                                               184_945_000_000)
    assert not plan.underwater


def test_bucket_liquidation_price_when_long_then_closed_form():
    ledger, model = perp_ledger()
    prices = {"USDC": USD, "WETH": 2_000 * USD, "ETH-PERP": 2_000 * USD}
    risk = model.perps.bucket(ledger, prices, {"ETH-PERP": 2_000 * USD}, "long")
    cost = ledger.accounts["long"].perps["ETH-PERP"].cost
    price = bucket_liquidation_price(risk, "ETH-PERP", cost, ETH,
                                     model.perps.schedules["ETH-PERP"])
    # 20,000 + 100 (p - 2,000) = 3% x 100 p  =>  p = 180,000 / 97 = 1,855.6701...
    assert price is not None and abs(price - 180_000 * USD // 97) <= 1


def test_underwater_value_when_debt_above_collateral_then_difference():
    assert underwater_value(data(9_000 * USD, 10_000 * USD, 8_000, 8_250)) == 1_000 * USD
    assert underwater_value(data(20_000 * USD, 10_000 * USD, 8_000, 8_250)) == 0


# ---------------------------------------------------------------------- validation rules
def test_initial_shortfall_when_aave_then_percent_div_and_comet_then_weighted():
    aave = simple_aave().rules
    comet = protocol_from_dict({"preset": "compound-v3",
                                "markets": {"USDC": {}, "WETH": {}}}).rules
    # 16,000.01 of debt on 20,000 at LTV 80%: percentDiv(16,000.01, 80%) > 20,000.
    over = data(20_000 * USD, 16_000 * USD + 1_000_000, 8_000, 8_250)
    at = data(20_000 * USD, 16_000 * USD, 8_000, 8_250)
    assert v.initial_shortfall(aave, over) and not v.initial_shortfall(aave, at)
    assert v.initial_shortfall(comet, over) and not v.initial_shortfall(comet, at)
    refusal = v.validate_borrow_power(aave, over, over)
    assert refusal is not None and refusal.code is Code.COLLATERAL_CANNOT_COVER_NEW_BORROW
    comet_refusal = v.validate_borrow_power(comet, over, over)
    assert comet_refusal is not None and comet_refusal.code is Code.NOT_COLLATERALIZED
    assert v.validate_borrow_power(aave, at, at) is None


def test_validate_withdraw_when_hf_below_one_then_aave_code_else_none():
    rules = simple_aave().rules
    healthy = data(20_000 * USD, 10_000 * USD, 8_000, 8_250)       # HF 1.65
    unhealthy = data(12_000 * USD, 10_000 * USD, 8_000, 8_250)     # HF 0.99
    assert v.validate_health_after_withdraw(rules, healthy, healthy) is None
    refusal = v.validate_health_after_withdraw(rules, unhealthy, unhealthy)
    assert refusal is not None
    assert refusal.code is Code.HEALTH_FACTOR_LOWER_THAN_LIQUIDATION_THRESHOLD
    assert refusal.data == {"health_factor": 990_000_000_000_000_000}
    assert refusal.message == "health factor would fall to 0.99, below 1"


def test_validate_amounts_caps_and_repay_without_engine():
    config = simple_aave(markets={"WETH": {"supply_cap": "100"}})
    market = config.markets["WETH"]
    rules = config.rules
    assert v.validate_supply("WETH", market, 99 * ETH, ETH, rules) is None
    cap = v.validate_supply("WETH", market, 99 * ETH, ETH + 1, rules)
    assert cap is not None and cap.code is Code.SUPPLY_CAP_EXCEEDED
    assert cap.data == {"cap": 100 * ETH, "total": 100 * ETH + 1}
    over = v.validate_withdraw_amount("alice", "WETH", market, ETH, ETH + 1)
    assert over is not None and over.code is Code.NOT_ENOUGH_AVAILABLE_USER_BALANCE
    none = v.validate_withdraw_amount("alice", "WETH", market, 0, 1)
    assert none is not None and none.code is Code.UNDERLYING_BALANCE_ZERO
    repay = v.validate_repay("alice", "USDC", 0)
    assert repay is not None and repay.code is Code.NO_DEBT_OF_SELECTED_TYPE
    self_liq = v.validate_liquidation_call("bob", "bob", True, "WETH")
    assert self_liq is not None and self_liq.code is Code.SELF_LIQUIDATION
    not_coll = v.validate_liquidation_call("keeper", "bob", False, "WETH")
    assert not_coll is not None and not_coll.code is Code.COLLATERAL_CANNOT_BE_LIQUIDATED


def test_validate_borrow_health_when_no_collateral_or_hf_below_one_then_refused():
    none = v.validate_borrow_health("alice", data(0, 0, 0, 0))
    assert none is not None and none.code is Code.COLLATERAL_BALANCE_IS_ZERO
    low = v.validate_borrow_health("alice", data(12_000 * USD, 10_000 * USD, 8_000, 8_250))
    assert low is not None and low.code is Code.HEALTH_FACTOR_LOWER_THAN_LIQUIDATION_THRESHOLD


# ---------------------------------------------------------------------- liquidation rules
def test_close_factor_inputs_and_plan_when_called_on_a_ledger_then_aave_figures():
    ledger, model = aave_ledger()
    prices = {**PRICES, "WETH": 1_200 * USD}
    acc = model.lending.account_data(ledger, prices, "alice")
    inputs = close_factor_inputs(model.config, ledger, prices, "alice", acc.health_factor,
                                 acc.total_debt, acc.total_collateral, "USDC", "WETH")
    assert inputs.debt_balance == 10_000 * USDC and inputs.collateral_balance == 10 * ETH
    plan = plan_liquidation(inputs, 10_000 * USDC, model.config.aave)
    # HF 0.99 > 0.95 and 10,000 > 2,000: close factor 50%, 5,000 repaid.
    assert plan.debt_repaid == 5_000 * USDC
    assert plan.close_factor_bps == 5_000


def test_absorb_collateral_when_comet_then_every_collateral_but_base():
    config = protocol_from_dict({"preset": "compound-v3", "markets": {
        "USDC": {}, "WETH": {}, "WBTC": {}}})
    ledger = Ledger(config)
    ledger.deposit("a", "WETH", 2 * ETH)
    ledger.deposit("a", "WBTC", 10**8)
    ledger.deposit("a", "USDC", 5 * USDC)
    prices = {"USDC": USD, "WETH": 2_000 * USD, "WBTC": 60_000 * USD}
    assert absorb_collateral(config, ledger, prices, "a") == [
        ("WBTC", 10**8, 60_000 * USD, 10**8, 9_500),
        ("WETH", 2 * ETH, 2_000 * USD, ETH, 9_500),
    ]


# ---------------------------------------------------------------------- TWAP
def test_twap_rule_when_average_not_whole_then_rounded_down_in_oracle_and_venue():
    points = [(0, 100), (10, 201)]
    # (100 x 10 + 201 x 10) / 20 = 150.5: rounded down (it was half up in the anchored feed).
    assert time_weighted_average(points, 0, 20) == 150
    venue = Twap(20)
    feed = AnchoredFeed(AnchoredFeedParams(window=20, tolerance_bps=10_000))
    for t, p in points:
        venue.observe(t, p)
        feed.observe(t, p, p)
    assert venue.value(20) == feed.anchor_twap(20) == 150


# ---------------------------------------------------------------------- backstop
def test_socialize_loss_when_uneven_then_largest_remainder_and_exact_sum():
    from marginengine.liquidation import insurance_cover, socialize_loss

    # 100 over 1 : 1 : 1 -> 33.33 each: the remainder unit goes to the smallest id.
    plan = socialize_loss(100, {"c": 50, "a": 50, "b": 50})
    assert plan.shares == {"a": 34, "b": 33, "c": 33}
    assert (plan.taken, plan.deficit) == (100, 0)
    # More loss than the holders hold: they lose it all, the rest is deficit.
    short = socialize_loss(50, {"a": 10, "b": 20})
    assert short.shares == {"a": 10, "b": 20} and short.deficit == 20
    assert insurance_cover(500, 300, 1_000) == 300
    assert insurance_cover(500, 300, -5) == 0  # nothing owed on the perp balance


# ---------------------------------------------------------------------- the collateral switch
def test_collateral_switch_when_off_on_a_ledger_then_health_and_rules_without_engine():
    # The Aave docs' example: 10 ETH at 2,000 USD against 10,000 USDC, HF 1.65. The switch
    # off leaves no collateral, HF 0: validateHFAndLtvzero refuses it.
    ledger, model = aave_ledger()
    ledger.set_use_as_collateral("alice", "WETH", False)
    after = model.lending.account_data(ledger, PRICES, "alice")
    assert (after.total_collateral, after.health_factor) == (0, 0)
    refused = v.validate_disable_as_collateral("alice", "WETH", after, 8_000, [])
    assert refused is not None
    assert refused.code is Code.HEALTH_FACTOR_LOWER_THAN_LIQUIDATION_THRESHOLD
    # Without debt only the zero-LTV rule applies.
    assert v.validate_disable_as_collateral("alice", "WETH", None, 8_000, []) is None
    ltv0 = v.validate_disable_as_collateral("alice", "WETH", None, 8_000, ["DAI"])
    assert ltv0 is not None and ltv0.code is Code.LTV_VALIDATION_FAILED
    assert v.validate_disable_as_collateral("alice", "DAI", None, 0, ["DAI"]) is None


def test_validate_enable_as_collateral_when_no_balance_or_ltv_zero_then_aave_codes():
    empty = v.validate_enable_as_collateral("alice", "WETH", 0, 8_000)
    assert empty is not None and empty.code is Code.UNDERLYING_BALANCE_ZERO
    zero = v.validate_enable_as_collateral("alice", "WETH", 10, 0)
    assert zero is not None and zero.code is Code.USER_HAS_ASSET_WITH_ZERO_LTV
    assert v.validate_enable_as_collateral("alice", "WETH", 10, 8_000) is None


# ---- isolation mode, siloed borrowing, the automatic switch, grace periods: no engine.
# aave-dao/aave-v3-origin@v3.5.0 (6138e1fd) IsolationModeLogic.sol, ValidationLogic.sol,
# UserConfiguration.sol; @4fbd7442 ValidationLogic.validateUseAsCollateral.
def _isolation_config(preset: str = "aave-v3.5") -> ProtocolConfig:
    return protocol_from_dict({"preset": preset, "markets": {
        "WBTC": {"decimals": 8, "ltv": "0.7", "liquidation_threshold": "0.75",
                 "debt_ceiling": "10000"},
        "USDC": {"decimals": 6, "ltv": "0.75", "liquidation_threshold": "0.8",
                 "borrowable_in_isolation": True, "siloed_borrowing": True},
        "WETH": {"ltv": "0.8", "liquidation_threshold": "0.85"},
        "OLD": {"ltv": "0", "liquidation_threshold": "0.5"}}})


def test_isolated_debt_units_when_decimals_then_floored_cents():
    # convertToIsolatedDebtUnits: amount / 10**(decimals - 2), Solidity's floor.
    assert v.isolated_debt_units(100 * 10**6, 6) == 100_00
    assert v.isolated_debt_units(10_000_009_999, 6) == 1_000_000
    assert v.isolated_debt_units(9_999, 6) == 0
    assert v.isolated_debt_units(10**18, 18) == 100            # a whole token: 100 cents
    assert v.isolated_debt_units(7, 2) == 7


def test_isolated_debt_after_repay_when_more_than_recorded_then_zero():
    # updateIsolatedDebt: total > repaid ? total - repaid : 0.
    assert v.isolated_debt_after_repay(100_00, 50 * 10**6, 6) == 50_00
    assert v.isolated_debt_after_repay(100_00, 100_010_000, 6) == 0
    assert v.isolated_debt_after_repay(0, 10**6, 6) == 0


def test_isolated_collateral_when_one_ceiled_collateral_on_then_it():
    markets = _isolation_config().markets
    assert v.isolated_collateral(["WBTC"], markets) == "WBTC"
    assert v.isolated_collateral(["WETH"], markets) is None
    assert v.isolated_collateral(["WBTC", "WETH"], markets) is None
    assert v.isolated_collateral([], markets) is None


def test_validate_isolated_borrow_when_not_borrowable_or_above_ceiling_then_codes():
    markets = _isolation_config().markets
    weth = v.validate_isolated_borrow("alice", "WETH", markets["WETH"], "WBTC",
                                      markets["WBTC"], 0, 10**18)
    assert weth is not None and weth.code is Code.ASSET_NOT_BORROWABLE_IN_ISOLATION
    over = v.validate_isolated_borrow("alice", "USDC", markets["USDC"], "WBTC",
                                      markets["WBTC"], 999_999, 2 * 10**4)
    assert over is not None and over.code is Code.DEBT_CEILING_EXCEEDED
    assert over.data == {"isolated": "WBTC", "total": 1_000_001, "ceiling": 1_000_000}
    assert v.validate_isolated_borrow("alice", "USDC", markets["USDC"], "WBTC",
                                      markets["WBTC"], 999_999, 19_999) is None


def test_validate_siloed_borrow_when_silo_owed_or_added_then_violation():
    markets = _isolation_config().markets
    assert v.validate_siloed_borrow("alice", "USDC", [], markets) is None
    assert v.validate_siloed_borrow("alice", "USDC", ["USDC"], markets) is None
    owed = v.validate_siloed_borrow("alice", "WETH", ["USDC"], markets)
    assert owed is not None and owed.code is Code.SILOED_BORROWING_VIOLATION
    added = v.validate_siloed_borrow("alice", "USDC", ["WETH"], markets)
    assert added is not None and added.data["borrowed"] == ["WETH"]
    assert v.validate_siloed_borrow("alice", "WBTC", ["WETH", "OLD"], markets) is None


@pytest.mark.parametrize("preset", ["aave-v3.3", "aave-v3.5"])
def test_use_as_collateral_allowed_when_v3_5_then_ltv_and_isolation(preset: str):
    config = _isolation_config(preset)
    rules, markets = config.rules, config.markets
    assert v.use_as_collateral_allowed(rules, "WBTC", 7_000, [], markets)
    assert not v.use_as_collateral_allowed(rules, "WBTC", 7_000, ["WETH"], markets)
    assert not v.use_as_collateral_allowed(rules, "WETH", 8_000, ["WBTC"], markets)
    assert v.use_as_collateral_allowed(rules, "WETH", 8_000, ["USDC"], markets)
    assert not v.use_as_collateral_allowed(rules, "OLD", 0, [], markets)
    # The automatic switch: the isolated asset only for a role holder.
    assert not v.automatic_use_as_collateral(rules, "WBTC", 7_000, [], markets)
    assert v.automatic_use_as_collateral(rules, "WBTC", 7_000, [], markets, True)
    assert not v.automatic_use_as_collateral(rules, "WBTC", 7_000, ["WETH"], markets, True)
    assert v.automatic_use_as_collateral(rules, "WETH", 8_000, ["USDC"], markets)
    refused = v.validate_enable_as_collateral("alice", "WBTC", 10, 7_000, rules, ["WETH"],
                                              markets)
    assert refused is not None and refused.code is Code.USER_IN_ISOLATION_MODE_OR_LTV_ZERO


def test_use_as_collateral_allowed_when_v3_7_then_ltv_only():
    config = protocol_from_dict({"preset": "aave-v3", "markets": {
        "WETH": {"ltv": "0.8", "liquidation_threshold": "0.85"},
        "OLD": {"ltv": "0", "liquidation_threshold": "0.5"}}})
    rules, markets = config.rules, config.markets
    assert v.automatic_use_as_collateral(rules, "WETH", 8_000, ["OLD"], markets)
    assert not v.automatic_use_as_collateral(rules, "OLD", 0, [], markets)


def test_validate_liquidation_grace_when_until_not_passed_then_refused():
    # validateLiquidationCall: liquidationGracePeriodUntil < block.timestamp, both reserves.
    assert v.validate_liquidation_grace(100, "WBTC", 99, "USDC", 0) is None
    at = v.validate_liquidation_grace(100, "WBTC", 0, "USDC", 100)
    assert at is not None and at.code is Code.LIQUIDATION_GRACE_SENTINEL_CHECK_FAILED
    assert at.data == {"asset": "USDC", "until": 100, "time": 100}
    assert v.validate_liquidation_grace(0, "WBTC", 0, "USDC", 0) is None   # 0: none
    assert v.validate_grace_period(v.MAX_GRACE_PERIOD) is None
    above = v.validate_grace_period(v.MAX_GRACE_PERIOD + 1)
    assert above is not None and above.code is Code.INVALID_GRACE_PERIOD
