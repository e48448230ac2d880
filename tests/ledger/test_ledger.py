"""The ledger's balance reads: Comet's floored ``presentValueBorrow`` against the default."""

import pytest

from marginengine.config import protocol_from_dict
from marginengine.engine import AdvanceTime, Borrow, Deposit, Engine, Repay, SetPrice
from marginengine.fixedpoint import RAY
from marginengine.ledger import LedgerError
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


def test_set_use_as_collateral_when_rolled_back_or_no_position_then_unchanged():
    engine = funded_engine()
    engine.apply(Deposit("bob", "WETH", 10 * ETH))
    ledger = engine.ledger
    before = ledger.state_hash()
    with pytest.raises(RuntimeError), ledger.transaction():
        ledger.set_use_as_collateral("bob", "WETH", False)
        assert not ledger.collateral_flag("bob", "WETH")
        raise RuntimeError("abort")
    assert ledger.collateral_flag("bob", "WETH") and ledger.state_hash() == before
    with pytest.raises(LedgerError, match="bob has no position in USDC"):
        ledger.set_use_as_collateral("bob", "USDC", True)
    with pytest.raises(LedgerError, match="unknown asset"):
        ledger.set_use_as_collateral("bob", "DOGE", True)


def test_supply_when_burned_to_zero_then_off_and_first_supply_on():
    # Aave's executeWithdraw / executeSupply: the switch follows the balance through 0,
    # kept on the position while it holds debt in the same asset.
    engine = funded_engine()
    ledger = engine.ledger
    ledger.deposit("bob", "USDC", 100 * USDC)
    ledger.deposit("carol", "WETH", ETH)
    ledger.borrow("bob", "USDC", 10 * USDC)
    ledger.withdraw("bob", "USDC", ledger.supply_of("bob", "USDC"))
    assert ledger.debt_of("bob", "USDC") == 10 * USDC
    assert not ledger.collateral_flag("bob", "USDC")
    ledger.transfer_supply("carol", "bob", "WETH", ETH // 2)
    assert ledger.collateral_flag("bob", "WETH")
    ledger.deposit("bob", "USDC", 5 * USDC)
    assert ledger.collateral_flag("bob", "USDC")
    ledger.check_conservation()


def test_repay_with_supply_when_burned_then_cash_unchanged_and_books_balance():
    # repayWithATokens (BorrowLogic.executeRepay, useATokens): the aToken burn's underlying
    # stays in the pool (receiverOfUnderlying is the aToken), so cash does not move; the
    # supply burn rounds up, the debt burn down, the dust to the reserves.
    engine = funded_engine()
    ledger = engine.ledger
    ledger.deposit("bob", "USDC", 1_000 * USDC)
    ledger.borrow("bob", "USDC", 400 * USDC)
    engine.apply(AdvanceTime(30 * 86_400))
    cash = ledger.reserves["USDC"].cash
    supply, debt = ledger.supply_of("bob", "USDC"), ledger.debt_of("bob", "USDC")
    with ledger.transaction():
        ledger.repay_with_supply("bob", "USDC", 100 * USDC)
    assert ledger.reserves["USDC"].cash == cash
    assert supply - ledger.supply_of("bob", "USDC") in (100 * USDC, 100 * USDC + 1)
    assert debt - ledger.debt_of("bob", "USDC") in (100 * USDC, 100 * USDC - 1)
    ledger.check_conservation()
    with pytest.raises(LedgerError, match="has less than"):
        ledger.repay_with_supply("bob", "USDC", 10**12)
    with pytest.raises(LedgerError, match="owes less than"):    # more than the debt
        ledger.repay_with_supply("bob", "USDC", ledger.supply_of("bob", "USDC"))
    ledger.check_conservation()
    # The whole balance, below the debt: burned to 0 and switched off, the rest owed.
    ledger.deposit("carol", "WETH", 10 * ETH)
    ledger.borrow("carol", "USDC", 500 * USDC)
    ledger.deposit("carol", "USDC", 200 * USDC)
    with ledger.transaction():
        ledger.repay_with_supply("carol", "USDC", 200 * USDC)
    assert ledger.supply_of("carol", "USDC") == 0
    assert not ledger.collateral_flag("carol", "USDC")
    assert ledger.debt_of("carol", "USDC") == 300 * USDC
    ledger.check_conservation()


def test_isolation_debt_and_grace_when_zero_then_state_hash_as_before():
    # ReserveState.as_dict lists the two fields only when set: a run using neither hashes
    # as before they existed; setting either changes the hash; a transaction rolls back.
    engine = funded_engine()
    ledger = engine.ledger
    before = ledger.state_hash()
    assert "isolation_mode_total_debt" not in ledger.reserves["WETH"].as_dict()
    with pytest.raises(RuntimeError), ledger.transaction():
        ledger.set_isolation_mode_total_debt("WETH", 100_00)
        ledger.set_liquidation_grace_period_until("USDC", 3_600)
        assert ledger.state_hash() != before
        raise RuntimeError("abort")
    assert ledger.state_hash() == before
    ledger.set_isolation_mode_total_debt("WETH", 100_00)
    assert ledger.reserves["WETH"].as_dict()["isolation_mode_total_debt"] == 100_00
    ledger.set_isolation_mode_total_debt("WETH", 0)
    assert ledger.state_hash() == before
    with pytest.raises(LedgerError, match="cannot be negative"):
        ledger.set_isolation_mode_total_debt("WETH", -1)
    with pytest.raises(LedgerError, match="before time 0"):
        ledger.set_liquidation_grace_period_until("WETH", -1)


def test_deposit_when_first_supply_not_switched_on_then_flag_off():
    # The caller's rule (validateAutomaticUseAsCollateral) decides a first supply's switch.
    ledger = funded_engine().ledger
    ledger.deposit("bob", "WETH", ETH, collateral_on_first=False)
    assert not ledger.collateral_flag("bob", "WETH")
    ledger.deposit("bob", "WETH", ETH)            # not a first supply: unchanged
    assert not ledger.collateral_flag("bob", "WETH")
