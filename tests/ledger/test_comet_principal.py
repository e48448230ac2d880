"""Comet's base principal, recomputed from the present value at every touch.

Sources (compound-finance/comet@d5a30b0aaeff7755f1431e87f818990902237b03):
``contracts/CometCore.sol`` (``presentValueSupply`` / ``presentValueBorrow`` floor
``principal x index / 1e15``; ``principalValueSupply`` floors ``present x 1e15 / index``,
``principalValueBorrow`` rounds it up), ``contracts/Comet.sol`` (``supplyBase``,
``withdrawBase``: ``principalValue(presentValue(principal) +/- amount)``), and the worked
numbers of ``test/supply-test.ts``, ``test/withdraw-test.ts`` and ``test/balance-test.ts``.
"""

from __future__ import annotations

from marginengine.config import protocol_from_dict
from marginengine.engine import AdvanceTime, Borrow, Deposit, Engine, Repay, SetPrice, Withdraw
from marginengine.ledger.interest import COMET_INDEX_TO_RAY, comet_principal_after
from tests.conftest import ETH, USD, USDC

# withdraw-test.ts / supply-test.ts: alice's principal and the supply index they set.
_ALICE = 99_999_992_291_226
_QUIRK_INDEX = 1_000_000_131_467_072 * COMET_INDEX_TO_RAY


def test_principal_when_withdraw_zero_then_one_unit_of_principal_burned() -> None:
    # withdraw-test.ts "withdraws 0 but Comet Transfer event amount is 1": the present
    # value floors, so its principal is one below the old one; withdrawAmount = 1.
    assert comet_principal_after(_ALICE, _QUIRK_INDEX, 0, False) == _ALICE - 1
    # supply-test.ts "supplies 0 and does not revert when dstPrincipalNew < dstPrincipal":
    # the same principal; a supply of 1 gets back to it (supplyAmount 0), never above.
    assert comet_principal_after(_ALICE, _QUIRK_INDEX, 1, False) == _ALICE


def test_principal_when_fresh_supply_of_10_at_index_1_085_then_9() -> None:
    # supply-test.ts "user supply is same as total supply": 10 at baseSupplyIndex 1.085e15
    # is principal floor(10 / 1.085) = 9 (totalSupplyBase 100 -> 109), balance 9.
    index = 1_085 * 10**12 * COMET_INDEX_TO_RAY
    principal = comet_principal_after(0, index, 10, False)
    assert principal == 9
    assert principal * index // (10**15 * COMET_INDEX_TO_RAY) == 9


def test_principal_when_borrow_then_rounded_up_and_present_value_floored() -> None:
    # balance-test.ts: a borrow principal of 100e6 at baseBorrowIndex 3e15 owes 300e6.
    index = 3 * 10**15 * COMET_INDEX_TO_RAY
    assert comet_principal_after(100 * USDC, index, 0, True) == 100 * USDC
    # principalValueBorrow rounds up: 1 more unit borrowed at index 3 is one principal.
    assert comet_principal_after(100 * USDC, index, 1, True) == 100 * USDC + 1
    # and repaying the whole present value leaves nothing.
    assert comet_principal_after(100 * USDC, index, -300 * USDC, True) == 0


def test_principal_when_index_1_64_then_recomputed_not_a_delta() -> None:
    # 884,107,995,872 principal at index 1.640865532228085 is 1,450,702,337,193 of
    # present value; less 820,096,754 is 1,449,882,240,439, principal
    # floor(. / 1.640865532228085) = 883,608,200,648; a delta of ceil(820,096,754 / index)
    # = 499,795,223 would leave 883,608,200,649.
    index = 1_640_865_532_228_085 * COMET_INDEX_TO_RAY
    assert comet_principal_after(884_107_995_872, index, -820_096_754, False) == \
        883_608_200_648
    # The borrow side rounds up instead: 883,608,200,649.
    assert comet_principal_after(884_107_995_872, index, -820_096_754, True) == \
        883_608_200_649


def _accrued() -> Engine:
    # accrue-test.ts: 14,000 supplied, 13,000 borrowed, 1,000 s at makeProtocol's curves:
    # supply index 1.000009422338189, borrow index 1.000014926252082.
    engine = Engine(protocol_from_dict({"preset": "compound-v3", "compound": {
        "interest": {}}}))
    engine.apply(SetPrice("USDC", USD))
    engine.apply(SetPrice("WETH", 2_000 * USD))
    engine.apply(Deposit("lp", "USDC", 14_000 * USDC))
    engine.apply(Deposit("bob", "WETH", 10 * ETH))
    assert engine.apply(Borrow("bob", "USDC", 13_000 * USDC)).accepted
    engine.apply(AdvanceTime(1_000))
    assert engine.ledger.reserves["USDC"].liquidity_index == \
        1_000_009_422_338_189 * COMET_INDEX_TO_RAY
    return engine


def test_withdraw_when_supply_index_above_one_then_principal_of_the_new_present_value() -> None:
    engine = _accrued()
    # 14,000e6 principal is 14,000.131912 present; less 0.000005 is 14,000.131907, whose
    # principal floor(. x 1e15 / 1.000009422338189e15) is 13,999.999994: six units fewer
    # (a delta of ceil(5 / index) = 5 would have left 13,999.999995).
    assert engine.ledger.supply_of("lp", "USDC") == 14_000_131_912
    assert engine.apply(Withdraw("lp", "USDC", 5)).accepted
    assert engine.ledger.scaled_supply_of("lp", "USDC") == 14_000 * USDC - 6
    assert engine.ledger.supply_of("lp", "USDC") == 14_000_131_906
    engine.ledger.check_conservation()


def test_repay_when_borrow_index_above_one_then_principal_of_the_new_present_value() -> None:
    engine = _accrued()
    # 13,000e6 principal owes 13,000.194041 (floored); repaying 0.000001 leaves
    # 13,000.194040, principal ceil(. / 1.000014926252082) = 12,999.999999. A delta of
    # floor(1 / index) = 0 would have taken the unit and left the debt as it was.
    ledger = engine.ledger
    assert ledger.debt_of("bob", "USDC") == 13_000_194_041
    assert engine.apply(Repay("bob", "USDC", 1)).accepted
    assert ledger.accounts["bob"].lending["USDC"].scaled_debt == 13_000 * USDC - 1
    assert ledger.debt_of("bob", "USDC") == 13_000_194_040
    ledger.check_conservation()


def test_deposit_when_supply_index_above_one_then_floor_of_the_new_present_value() -> None:
    engine = _accrued()
    # 14,000.131912 + 0.000001 = 14,000.131913: principal 14,000e6 still (the unit is
    # absorbed by the floor). Comet's supplyBase takes it all the same (no minimum): the
    # token goes in, the principal stays, the unit joins the reserves. 2 units is +1.
    assert engine.apply(Deposit("lp", "USDC", 1)).accepted
    assert engine.ledger.scaled_supply_of("lp", "USDC") == 14_000 * USDC
    assert engine.apply(Deposit("lp", "USDC", 2)).accepted
    assert engine.ledger.scaled_supply_of("lp", "USDC") == 14_000 * USDC + 1
    engine.ledger.check_conservation()
