from marginengine.config import protocol_from_dict
from marginengine.engine import Borrow, Deposit, Engine, SetPrice, Withdraw
from marginengine.margin import NO_DEBT_HEALTH, MarginKind
from tests.conftest import ETH, USD, USDC, funded_engine


def test_account_data_when_aave_docs_example_then_health_factor_1_65(engine):
    # Aave docs: 10 ETH at 2,000 USD, liquidation threshold 82.5%, 10,000 debt -> HF 1.65.
    engine.apply(Deposit("alice", "WETH", 10 * ETH))
    assert engine.apply(Borrow("alice", "USDC", 10_000 * USDC)).accepted
    data = engine.account_data("alice")
    assert data.total_collateral == 20_000 * USD
    assert data.total_debt == 10_000 * USD
    assert data.avg_ltv_bps == 8_000
    assert data.avg_liquidation_threshold_bps == 8_250
    assert data.health_factor == 1_650_000_000_000_000_000
    assert data.available_borrows == 6_000 * USD  # 20,000 x 80% - 10,000


def test_account_data_when_two_collaterals_then_weights_averaged_by_value(engine):
    engine.apply(Deposit("bob", "WETH", 1 * ETH))      # 2,000 USD at LT 82.5%
    engine.apply(Deposit("bob", "USDC", 2_000 * USDC))  # 2,000 USD at LT 80%
    engine.apply(Borrow("bob", "DAI", 1_000 * ETH))
    data = engine.account_data("bob")
    assert data.avg_liquidation_threshold_bps == 8_125
    assert data.avg_ltv_bps == 7_750
    assert data.health_factor == 3_250_000_000_000_000_000  # 4,000 x 81.25% / 1,000


def test_margin_interface_when_initial_and_maintenance_then_ltv_and_threshold(engine):
    engine.apply(Deposit("alice", "WETH", 10 * ETH))
    engine.apply(Borrow("alice", "USDC", 10_000 * USDC))
    initial = engine.model.margin(engine.ledger, engine.prices, "alice", MarginKind.INITIAL)
    maintenance = engine.model.margin(engine.ledger, engine.prices, "alice",
                                      MarginKind.MAINTENANCE)
    assert (initial.value, initial.requirement) == (16_000 * USD, 10_000 * USD)
    assert (maintenance.value, maintenance.requirement) == (16_500 * USD, 10_000 * USD)
    assert maintenance.excess == 6_500 * USD and maintenance.is_met


def test_health_when_no_debt_then_max(engine):
    engine.apply(Deposit("alice", "WETH", ETH))
    assert engine.health_factor("alice") == NO_DEBT_HEALTH
    assert not engine.is_liquidatable("alice")


def test_borrow_when_beyond_ltv_then_rejected_with_reason_and_nothing_changed(engine):
    engine.apply(Deposit("alice", "WETH", 10 * ETH))  # borrowing power 16,000
    before = engine.ledger.state_hash({"prices": engine.prices.as_dict()})
    outcome = engine.apply(Borrow("alice", "USDC", 16_000 * USDC + 1))
    assert outcome.name == "BorrowRejected"
    assert outcome.reason == (
        "debt would rise to 16,000.00 USD, above the borrowing power of 16,000.00 USD; "
        "health factor would be 1.0312"
    )
    assert engine.ledger.state_hash({"prices": engine.prices.as_dict()}) == before
    assert engine.apply(Borrow("alice", "USDC", 16_000 * USDC)).accepted


def test_withdraw_when_health_would_fall_below_one_then_rejected(engine):
    engine.apply(Deposit("alice", "WETH", 10 * ETH))
    engine.apply(Borrow("alice", "USDC", 16_000 * USDC))
    # HF after withdrawing x ETH: (10 - x) x 2,000 x 82.5% / 16,000 >= 1 -> x <= 0.30303
    outcome = engine.apply(Withdraw("alice", "WETH", 31 * ETH // 100))
    assert outcome.reason == "health factor would fall to 0.9993, below 1"
    assert engine.ledger.supply_of("alice", "WETH") == 10 * ETH
    assert engine.apply(Withdraw("alice", "WETH", 30 * ETH // 100)).accepted


def test_borrow_when_health_below_one_then_no_new_borrows(engine):
    engine.apply(Deposit("alice", "WETH", 10 * ETH))
    engine.apply(Borrow("alice", "USDC", 16_000 * USDC))
    engine.apply(SetPrice("WETH", 1_900 * USD))
    outcome = engine.apply(Borrow("alice", "DAI", ETH))
    # Aave v3.5+ checks after the mint (validateHFAndLtv): 0.9797 less the 1 DAI borrowed.
    assert outcome.reason == "health factor would fall to 0.9796, below 1; no new borrows"
    assert outcome.code == "HEALTH_FACTOR_LOWER_THAN_LIQUIDATION_THRESHOLD"


def test_borrow_when_cap_or_liquidity_exceeded_then_rejected():
    from tests.conftest import simple_aave

    engine = funded_engine(simple_aave(markets={"WETH": {
        **__import__("tests.conftest", fromlist=["SIMPLE_MARKETS"]).SIMPLE_MARKETS["WETH"]},
        "USDC": {"decimals": 6, "ltv": "0.75", "liquidation_threshold": "0.80",
                 "borrow_cap": 1_000}, "DAI": {}}))
    engine.apply(Deposit("alice", "WETH", 10 * ETH))
    outcome = engine.apply(Borrow("alice", "USDC", 1_001 * USDC))
    assert outcome.reason == (
        "borrow cap of 1000 USDC would be exceeded (total debt would be 1001 USDC)"
    )
    outcome = engine.apply(Borrow("alice", "DAI", 2_000_000 * ETH))
    assert not outcome.accepted and "pool holds only" in outcome.reason


def _comet_engine() -> Engine:
    engine = Engine(protocol_from_dict({"preset": "compound-v3",
                                        "compound": {"base_borrow_min": 0}}))
    engine.apply(SetPrice("USDC", 99_999_999))
    engine.apply(SetPrice("WETH", 4_000 * USD))
    engine.apply(Deposit("lp", "USDC", 1_000 * USDC))
    return engine


def test_comet_liquidity_when_debt_value_not_whole_then_truncated_toward_zero():
    # Comet.isLiquidatable (compound-finance/comet@d5a30b0a contracts/Comet.sol):
    # liquidity = signedMulPrice(-debt, basePrice, baseScale), Solidity's signed division
    # truncating toward zero, plus mulFactor(value, liquidateCollateralFactor) per asset.
    # 1.000001 USDC at 0.99999999 USD is 100,000,098.999999 (8 decimals) -> 100,000,098;
    # 0.0005555561 WETH at 2,000 x 0.90 is exactly 100,000,098: liquidity 0, not
    # liquidatable (rounding the debt up, as before, made it -1 and liquidatable).
    engine = _comet_engine()
    engine.apply(Deposit("bob", "WETH", 555_556_100_000_000))
    assert engine.apply(Borrow("bob", "USDC", 1_000_001)).accepted
    engine.apply(SetPrice("WETH", 2_000 * USD))
    data = engine.account_data("bob")
    assert data.total_debt == 100_000_098
    assert data.maintenance_value == 100_000_098
    assert not engine.is_liquidatable("bob")
    engine.apply(SetPrice("WETH", 2_000 * USD - 1))
    assert engine.is_liquidatable("bob")


def test_maintenance_value_when_v3_7_and_two_collaterals_then_the_sum_the_hf_is_of(engine):
    # aave-v3 (v3.7, as v3.5): HF = wadDiv(sum C_i x LT_i, D) / 1e4 (GenericLogic.sol,
    # docs/presets.md). 1 WETH at 1,818.19 (LT 82.5%) and 1,000 USDC (LT 80%) against
    # 2,300 DAI: sum C_i x LT_i = 1,500.00675 + 800 = 2,300.00675 USD, HF 1.0000029: not
    # liquidatable. The collateral after thresholds was C x the floored average, 2,818.19 x
    # 81.61% = 2,299.92 USD, below the debt of an account at HF >= 1 (the scan's shortfall
    # 0.08 USD for it; the average 81.6132% lost 0.0032 points); now it is the same sum.
    engine.apply(Deposit("bob", "WETH", 1 * ETH))
    engine.apply(Deposit("bob", "USDC", 1_000 * USDC))
    assert engine.apply(Borrow("bob", "DAI", 2_300 * ETH)).accepted
    engine.apply(SetPrice("WETH", 181_819_000_000))
    data = engine.account_data("bob")
    assert data.total_collateral == 281_819_000_000
    assert data.total_debt == 230_000_000_000
    assert data.avg_liquidation_threshold_bps == 8_161
    assert data.maintenance_value == 230_000_675_000           # 2,300.00675 USD, floored
    assert data.health_factor == 1_000_002_934_782_608_695
    assert not engine.is_liquidatable("bob")
    maintenance = data.margin(MarginKind.MAINTENANCE)
    assert maintenance.is_met and maintenance.excess == 675_000  # 0.00675 USD
    # At 1,818.18 the sum is 2,299.998 USD: below the debt, HF below 1, liquidatable.
    engine.apply(SetPrice("WETH", 181_818_000_000))
    data = engine.account_data("bob")
    assert data.maintenance_value == 229_999_850_000 < data.total_debt
    assert data.health_factor < 10**18 and engine.is_liquidatable("bob")
