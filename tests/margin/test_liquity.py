"""Liquity v1 trove rules, against Liquity's own tests and README.

Sources (liquity/dev at 39f1f7f881de23200c296a892b891a6e2fc6e98f):
``packages/contracts/test/GasCompensationTest.js`` (gas compensation, composite debt and ICR
figures), ``packages/contracts/contracts/BorrowerOperations.sol`` (``openTrove``,
``_requireValidAdjustmentInCurrentMode``), ``README.md`` ("A user with $1000 worth of ETH in
a Trove can issue up to 909.09 LUSD"), ``TroveManager_RecoveryModeTest.js`` (``checkRecoveryMode``).
"""

from __future__ import annotations

import pytest

from marginengine.decisions import Code, Refusal
from marginengine.margin.liquity import (
    CCR,
    INFINITE_CR,
    MCR,
    MIN_NET_DEBT,
    OpenTrove,
    Trove,
    borrowing_fee,
    coll_gas_compensation,
    composite_debt,
    compute_cr,
    compute_new_stake,
    compute_nominal_cr,
    is_recovery_mode,
    net_debt,
    open_trove,
    pending_reward,
    validate_adjustment,
)

E18 = 10**18


@pytest.mark.parametrize(("coll", "comp"), [
    # GasCompensationTest.js, "_getCollGasCompensation(): returns 0.5% of collateral ..."
    (E18, 5 * 10**15),
    (10**17, 5 * 10**14),
    (5_000_000_000, 25_000_000),
    (9_999_000_000_000_000_000, 49_995_000_000_000_000),
    (55_000_000_000_000_000, 275 * 10**12),
    (6_092_324_088_087_235_800, 30_461_620_440_436_179),
    (10 * E18, 50_000_000_000_000_000),
    (100 * E18, 500 * 10**15),
    (10_001_000_000_000_000_000, 50_005_000_000_000_000),
    (37_500_000_000_000_000_000, 187_500_000_000_000_000),
    (300_000_000 * E18, 1_500_000 * E18),
])
def test_coll_gas_compensation_is_half_a_percent_rounded_down(coll: int, comp: int):
    assert coll_gas_compensation(coll) == comp


@pytest.mark.parametrize(("debt", "composite"), [
    # GasCompensationTest.js, "_getCompositeDebt(): returns (debt + 50) ..." (the reserve is
    # 200 LUSD in the code the test runs against; the titles kept the older 50)
    (10 * E18, 210 * E18), (0, 200 * E18), (200 * E18, 400 * E18),
    (123_450_000_000_000_000_000, 323_450_000_000_000_000_000),
    (2_000 * E18, 2_200 * E18), (500 * E18, 700 * E18),
    (54_321_123_456_789_000_000_000, 54_521_123_456_789_000_000_000),
])
def test_composite_debt_adds_the_200_lusd_reserve(debt: int, composite: int):
    assert composite_debt(debt) == composite
    assert net_debt(composite) == debt


@pytest.mark.parametrize(("coll", "debt", "icr"), [
    # GasCompensationTest.js, "getCurrentICR(): Incorporates virtual debt ...", price 200
    (E18, 110 * E18, 1_818_181_818_181_818_181),     # (1 x 200) / 110 = 181.81%
    (E18 // 2, 50 * E18, 2 * E18),                   # (0.5 x 200) / 50 = 200%
    (25 * E18 // 10, 160 * E18, 3_125 * 10**15),     # (2.5 x 200) / 160 = 312.5%
    (E18, 180 * E18, 1_111_111_111_111_111_111),     # (1 x 200) / 180 = 111.11%
])
def test_icr_is_coll_times_price_over_debt_rounded_down(coll: int, debt: int, icr: int):
    assert compute_cr(coll, debt, 200 * E18) == icr


def test_cr_without_debt_is_infinite_and_nicr_uses_1e20():
    assert compute_cr(E18, 0, 200 * E18) == INFINITE_CR
    assert compute_nominal_cr(E18, 0) == INFINITE_CR
    assert compute_nominal_cr(E18, 100 * E18) == 10**18    # 1 x 1e20 / 100


def test_readme_1000_usd_of_eth_issues_up_to_909_lusd():
    # README: "A user with $1000 worth of ETH in a Trove can issue up to 909.09 LUSD":
    # 1,000 / 1.1 = 909.0909..., the total debt at which the ICR is exactly 110%.
    debt = 909_090_909_090_909_090_909
    assert compute_cr(E18, debt, 1_000 * E18) >= MCR
    assert compute_cr(E18, debt + 1, 1_000 * E18) < MCR


def test_recovery_mode_below_150_percent_tcr():
    assert not is_recovery_mode(15 * E18, 1_000 * E18, 100 * E18)      # exactly 150%
    assert is_recovery_mode(15 * E18, 1_000 * E18 + 1, 100 * E18)


def test_check_recovery_mode_cases_of_liquitys_suite():
    # TroveManager_RecoveryModeTest.js "checkRecoveryMode(): Returns true if TCR falls below
    # CCR" and "... returns false if TCR rises above CCR": two troves opened at ICR 150% at
    # the test price feed's default 200 give TCR == 1500000000000000000 (not recovery
    # mode: TCR < CCR is strict); at 150 the TCR is 112.5% (recovery mode); alice adding
    # her collateral again (A_coll) takes it back above 150%.
    coll = 15 * E18                                  # per trove: 2,000 LUSD at 150% / 200
    debt = 2_000 * E18
    assert compute_cr(2 * coll, 2 * debt, 200 * E18) == 1_500_000_000_000_000_000
    assert not is_recovery_mode(2 * coll, 2 * debt, 200 * E18)
    assert is_recovery_mode(2 * coll, 2 * debt, 150 * E18)
    assert is_recovery_mode(2 * coll + 1, 2 * debt, 150 * E18)   # "+1 wei stays below"
    assert not is_recovery_mode(3 * coll, 2 * debt, 150 * E18)   # 168.75%


def test_open_trove_normal_mode_charges_the_fee_and_adds_the_reserve():
    # 2,000 LUSD at the 0.5% floor: fee 10 LUSD, composite debt 2,210 LUSD.
    opened = open_trove(30 * E18, 2_000 * E18, 100 * E18, 1_000 * E18, 20_000 * E18)
    assert isinstance(opened, OpenTrove)
    assert opened.fee == 10 * E18
    assert opened.trove == Trove(30 * E18, 2_210 * E18)
    assert opened.icr == 30 * 100 * E18 * E18 // (2_210 * E18)
    # The base rate adds to the floor, capped at 5%.
    assert borrowing_fee(10**16, 1_000 * E18) == 15 * E18
    assert borrowing_fee(E18, 1_000 * E18) == 50 * E18


def test_open_trove_refusals_in_liquitys_order():
    def code(coll: int, amount: int, sys_coll: int = 1_000 * E18,
             sys_debt: int = 20_000 * E18, **kw: int) -> Code:
        r = open_trove(coll, amount, 100 * E18, sys_coll, sys_debt, **kw)
        assert isinstance(r, Refusal), r
        return r.code

    assert code(30 * E18, MIN_NET_DEBT - 10 * E18) is Code.LIQUITY_MIN_NET_DEBT
    assert code(24 * E18, 2_000 * E18) is Code.LIQUITY_ICR_BELOW_MCR     # 2,400 / 2,210
    # Opening at 120% into a system at 150.1% pulls the TCR under 150%.
    assert code(27 * E18, 2_000 * E18, sys_coll=301 * E18, sys_debt=20_000 * E18) is \
        Code.LIQUITY_TCR_BELOW_CCR
    # Recovery mode: no fee, but the new trove needs 150%.
    assert code(30 * E18, 2_000 * E18, sys_coll=290 * E18) is Code.LIQUITY_ICR_BELOW_CCR
    assert code(30 * E18, 2_000 * E18, max_fee_percentage=10**15) is Code.LIQUITY_MAX_FEE
    assert code(30 * E18, 2_000 * E18, base_rate=10**16,
                max_fee_percentage=10**16) is Code.LIQUITY_FEE_EXCEEDED
    rec = open_trove(33 * E18, 2_000 * E18, 100 * E18, 290 * E18, 20_000 * E18)
    assert isinstance(rec, OpenTrove) and rec.fee == 0 and rec.icr == 1_500_000_000_000_000_000


def test_adjustments_in_recovery_mode():
    trove = Trove(20 * E18, 1_000 * E18)                 # ICR 200% at 100
    rec = dict(price=100 * E18, system_coll=140 * E18, system_debt=10_000 * E18)  # TCR 140%
    r = validate_adjustment(trove, -E18, 0, **rec)
    assert isinstance(r, Refusal) and r.code is Code.LIQUITY_RECOVERY_NO_COLL_WITHDRAWAL
    r = validate_adjustment(trove, 0, 400 * E18, **rec)        # 2,000 / 1,400 = 142.9%
    assert isinstance(r, Refusal) and r.code is Code.LIQUITY_ICR_BELOW_CCR
    r = validate_adjustment(trove, 0, 200 * E18, **rec)        # 166.7% >= 150% but < 200%
    assert isinstance(r, Refusal) and r.code is Code.LIQUITY_ICR_DECREASE
    assert validate_adjustment(trove, 10 * E18, 200 * E18, **rec) is None   # 250%
    normal = dict(price=100 * E18, system_coll=300 * E18, system_debt=10_000 * E18)
    r = validate_adjustment(trove, 0, 900 * E18, **normal)     # 2,000 / 1,900 = 105%
    assert isinstance(r, Refusal) and r.code is Code.LIQUITY_ICR_BELOW_MCR
    assert validate_adjustment(trove, 0, 500 * E18, **normal) is None
    assert CCR == 15 * E18 // 10


def test_stakes_and_pending_rewards():
    # After a liquidation the snapshots (stakes 90, collateral 100) scale a new stake down.
    assert compute_new_stake(10 * E18, 0, 0) == 10 * E18
    assert compute_new_stake(10 * E18, 90 * E18, 100 * E18) == 9 * E18
    # stake 9 x (L 0.3 - snapshot 0.1) = 1.8
    assert pending_reward(9 * E18, 3 * 10**17, 10**17) == 18 * 10**17


def test_bad_trove_input_names_the_field():
    with pytest.raises(ValueError, match="trove"):
        Trove(-1, 0)
    with pytest.raises(ValueError, match="debt"):
        net_debt(10)
