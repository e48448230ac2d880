"""The ledger's balance reads: Comet's floored ``presentValueBorrow`` against the default."""

from marginengine.config import protocol_from_dict
from marginengine.engine import AdvanceTime, Borrow, Deposit, Engine, Repay, SetPrice
from marginengine.fixedpoint import RAY
from tests.conftest import ETH, USD, USDC, funded_engine


def test_debt_of_when_comet_then_floored_as_present_value_borrow():
    # CometCore.sol (compound-finance/comet@d5a30b0a): presentValueBorrow =
    # principal x baseBorrowIndex / BASE_INDEX_SCALE, floored; principalValueBorrow
    # rounds the principal up. The ledger's ray index is the same fraction.
    engine = Engine(protocol_from_dict({"preset": "compound-v3"}))
    engine.apply(SetPrice("USDC", USD))
    engine.apply(SetPrice("WETH", 2_000 * USD))
    engine.apply(Deposit("lp", "USDC", 1_000_000 * USDC))
    engine.apply(Deposit("bob", "WETH", 10 * ETH))
    assert engine.apply(Borrow("bob", "USDC", 5_000 * USDC)).accepted
    engine.apply(AdvanceTime(86_400))
    ledger = engine.ledger
    scaled = ledger.accounts["bob"].lending["USDC"].scaled_debt
    index = ledger.reserves["USDC"].borrow_index
    assert scaled * index % RAY != 0  # a fractional unit owed
    debt = ledger.debt_of("bob", "USDC")
    assert debt == scaled * index // RAY
    # Repaying the floored debt clears the principal, as supplyBase does in Comet.
    assert engine.apply(Repay("bob", "USDC", debt)).accepted
    assert ledger.debt_of("bob", "USDC") == 0
    ledger.check_conservation()


def test_debt_of_when_aave_then_rounded_up():
    engine = funded_engine()
    engine.apply(Deposit("bob", "WETH", 10 * ETH))
    assert engine.apply(Borrow("bob", "USDC", 5_000 * USDC)).accepted
    engine.apply(AdvanceTime(86_400))
    ledger = engine.ledger
    scaled = ledger.accounts["bob"].lending["USDC"].scaled_debt
    index = ledger.reserves["USDC"].borrow_index
    assert scaled * index % RAY != 0
    assert ledger.debt_of("bob", "USDC") == scaled * index // RAY + 1
