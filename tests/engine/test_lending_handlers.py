"""The lending handlers against Compound III's order of checks in ``withdrawBase``
(compound-finance/comet@d5a30b0a ``contracts/Comet.sol``; ``test/withdraw-test.ts``)."""

from marginengine.config import protocol_from_dict
from marginengine.decisions import Code
from marginengine.engine import Borrow, Deposit, Engine, SetPrice
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
