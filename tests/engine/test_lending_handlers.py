"""The lending handlers against Compound III's order of checks in ``withdrawBase``
(compound-finance/comet@d5a30b0a ``contracts/Comet.sol``; ``test/withdraw-test.ts``)."""

from marginengine.config import protocol_from_dict
from marginengine.decisions import Code
from marginengine.engine import Borrow, Deposit, Engine, Repay, SetPrice, Withdraw
from tests.conftest import USD, USDC


def comet(base_borrow_min: str) -> Engine:
    engine = Engine(protocol_from_dict({"preset": "compound-v3",
                                        "compound": {"base_borrow_min": base_borrow_min}}))
    engine.apply(SetPrice("USDC", USD))
    engine.apply(SetPrice("WETH", 2_000 * USD))
    engine.apply(Deposit("lp", "USDC", 1_000 * USDC))
    engine.apply(Deposit("alice", "WETH", 1))  # one wei: worth 0 USD
    return engine


def test_borrow_when_below_base_borrow_min_then_borrow_too_small_before_collateral():
    # "reverts if withdraw amount is less than baseBorrowMin": 0.5 USDC against a minimum
    # of 1, and no collateral to speak of: BorrowTooSmall, as Comet checks it first.
    outcome = comet("1").apply(Borrow("alice", "USDC", USDC // 2))
    assert outcome.code == Code.BORROW_TOO_SMALL.value
    assert outcome.reason == "debt of 0.5 USDC would be below base_borrow_min 1 USDC"


def test_borrow_when_no_collateral_value_then_not_collateralized():
    # "reverts if base withdraw amount is not collateralzed": 1 USDC, nothing behind it.
    # Aave's precheck (COLLATERAL_BALANCE_IS_ZERO) is not Comet's.
    outcome = comet("1").apply(Borrow("alice", "USDC", USDC))
    assert outcome.code == Code.NOT_COLLATERALIZED.value


MAX_UINT256 = 2**256 - 1


def test_withdraw_when_uint256_max_then_whole_balance_as_aave_executewithdraw():
    # SupplyLogic.executeWithdraw: amount == type(uint256).max withdraws userBalance.
    # Was refused: "amount 115792...000 WETH is beyond the supplied balance 1 WETH".
    engine = Engine(protocol_from_dict({"preset": "aave-v3", "markets": {
        "WETH": {}, "USDC": {"decimals": 6}}}))
    for event in (SetPrice("WETH", 2_000 * USD), SetPrice("USDC", USD),
                  Deposit("lp", "USDC", 10_000 * USDC), Deposit("alice", "WETH", 10**18),
                  Borrow("alice", "USDC", 1_000 * USDC)):
        assert engine.apply(event).accepted
    # In debt, all of it would leave health 0: the health check still decides.
    refused = engine.apply(Withdraw("alice", "WETH", MAX_UINT256))
    assert refused.reason == "health factor would fall to 0, below 1"
    assert engine.apply(Repay("alice", "USDC", MAX_UINT256)).details == {"repaid": 1_000 * USDC}
    done = engine.apply(Withdraw("alice", "WETH", MAX_UINT256))
    assert done.details == {"withdrawn": 10**18}
    assert engine.ledger.supply_of("alice", "WETH") == 0
    assert engine.apply(Withdraw("alice", "WETH", MAX_UINT256)).reason == \
        "alice has no WETH supplied"
    engine.ledger.check_conservation()


def test_withdraw_when_uint256_max_in_comet_then_whole_base_but_not_collateral():
    # Comet's withdrawBase reads type(uint256).max as balanceOf; withdrawCollateral's
    # safe128 reverts on it, so a collateral Withdraw of it stays beyond the balance.
    engine = comet("1")
    done = engine.apply(Withdraw("lp", "USDC", MAX_UINT256))
    assert done.details == {"withdrawn": 1_000 * USDC}
    refused = engine.apply(Withdraw("alice", "WETH", MAX_UINT256))
    assert refused.reason is not None and "beyond the supplied balance" in refused.reason
