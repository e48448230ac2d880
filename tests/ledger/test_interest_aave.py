"""Aave's own interest vectors, reproduced exactly.

Sources (aave-dao/aave-v3-origin):
- ``tests/protocol/libraries/math/MathUtils.t.sol`` at the v3.7.0 commit 4fbd7442 and at
  tag v3.3.0 (5431379f): ``calculateLinearInterest`` and ``calculateCompoundedInterest``;
- ``tests/misc/rates/RateStrategy.calculateRates.t.sol`` at 4fbd7442:
  ``DefaultReserveInterestRateStrategyV2.calculateInterestRates`` (the test listing's
  reserve factor is 10%, ``tests/mocks/AaveV3TestListing.sol``);
- ``src/contracts/protocol/libraries/logic/ReserveLogic.sol`` at 4fbd7442
  (``_accrueToTreasury``: ``rayMulFloor`` of the index delta since v3.5, commit 98148ea1;
  ``updateInterestRatesAndVirtualBalance`` passes the deficit as ``unbacked``).
"""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from marginengine.config import InterestRateModel
from marginengine.engine import AdvanceTime, Borrow, Deposit
from marginengine.fixedpoint import RAY
from marginengine.ledger import SECONDS_PER_YEAR, Compounding
from marginengine.ledger.interest import compounded_interest, linear_interest, rates
from tests.conftest import ETH, USDC, funded_engine, simple_aave

#: The strategy of RateStrategy.calculateRates.t.sol: optimal 80%, base 1%, slopes 4%, 60%.
STRATEGY = InterestRateModel(base=Decimal("0.01"), slope1=Decimal("0.04"),
                             slope2=Decimal("0.60"), optimal_utilization=Decimal("0.80"))
RESERVE_FACTOR_BPS = 1_000


# ---------------------------------------------------------------------------- MathUtils
def test_linear_interest_when_aave_vectors_then_exact() -> None:
    # v3.7 test_calculateLinearInterest: 8% over 7 years -> 1.56.
    assert linear_interest(8 * 10**25, 7 * SECONDS_PER_YEAR) == 156 * 10**25
    # v3.3 test_calculateLinearInterest: 100.05% over half a year -> 1.50025.
    assert linear_interest(10_005 * 10**23, SECONDS_PER_YEAR // 2) == 150_025 * 10**22


def test_compounded_interest_when_v3_4_plus_then_aave_overflow_vector_exact() -> None:
    # test_calculateCompoundInterest_shouldNotOverflow: 100,000% a year for 10,000 years.
    factor = compounded_interest(1_000 * RAY, 10_000 * SECONDS_PER_YEAR,
                                 Compounding.TAYLOR3_RATE_TIME)
    assert factor == 166666716666676666667666666666666600000000000000
    # The v3.3 per-second form gives another number for the same inputs.
    v3_3 = compounded_interest(1_000 * RAY, 10_000 * SECONDS_PER_YEAR, Compounding.TAYLOR3)
    assert v3_3 == 166666716665087835607027331371376979527840000000


def test_compounded_interest_when_v3_3_then_aave_vector_exact() -> None:
    # v3.3 test_calculateCompoundInterest_1: 100.05% a year over half a year.
    assert compounded_interest(10_005 * 10**23, SECONDS_PER_YEAR // 2,
                               Compounding.TAYLOR3) == 1646239361880034706419516000


def test_compounded_interest_when_8_percent_7_years_then_within_aave_tolerance() -> None:
    # v3.7 test_calculateCompoundInterest_1: within 0.3% of e^0.56; by hand
    # 1 + 0.56 + 0.56^2/2 + 0.56^3/6 = 1.7460693333...
    factor = compounded_interest(8 * 10**25, 7 * SECONDS_PER_YEAR, Compounding.TAYLOR3_RATE_TIME)
    assert factor == 1746069333333333333333333333
    assert abs(factor / RAY / math.exp(0.56) - 1) < 0.003


@pytest.mark.parametrize(("preset", "compounding"), [
    ("aave-v3.3", Compounding.TAYLOR3), ("aave-v3.5", Compounding.TAYLOR3_RATE_TIME),
    ("aave-v3.7", Compounding.TAYLOR3_RATE_TIME), ("aave-v3", Compounding.TAYLOR3_RATE_TIME)])
def test_compounding_when_each_aave_version_then_its_math_utils(
        preset: str, compounding: Compounding) -> None:
    assert simple_aave(preset=preset).rules.compounding is compounding


# ---------------------------------------------------------------------------- rate strategy
def test_rates_when_80_percent_usage_then_base_plus_slope1() -> None:
    # test_calculate_rates_80_percent_usage: debt 0.8e18, virtual balance 0.2e18.
    borrow, liquidity = rates(STRATEGY, 8 * 10**17, 2 * 10**17, RESERVE_FACTOR_BPS)
    assert borrow == 5 * 10**25                      # 1% + 4%
    assert liquidity == 36 * 10**24                  # 5% x 80% x 90%


def test_rates_when_100_percent_usage_then_all_slopes() -> None:
    borrow, liquidity = rates(STRATEGY, 10**18, 0, RESERVE_FACTOR_BPS)
    assert borrow == 65 * 10**25                     # 1% + 4% + 60%
    assert liquidity == 585 * 10**24                 # 65% x 90%


def test_rates_when_80_bps_usage_then_slope1_prorated() -> None:
    # test_calculate_rates_80_bps_usage: debt 80e18, virtual balance 9,920e18.
    borrow, liquidity = rates(STRATEGY, 80 * 10**18, 9_920 * 10**18, RESERVE_FACTOR_BPS)
    assert borrow == 104 * 10**23                    # 1% + 4% x 0.8% / 80%
    assert liquidity == 7488 * 10**19                # 1.04% x 0.8% x 90%


def test_rates_when_unbacked_then_supply_usage_falls_and_borrow_rate_does_not() -> None:
    # ..._50_percent_supply_usage_due_minted_tokens: unbacked 0.6e18 halves supply usage.
    borrow, liquidity = rates(STRATEGY, 8 * 10**17, 2 * 10**17, RESERVE_FACTOR_BPS,
                              unbacked=6 * 10**17)
    assert borrow == 5 * 10**25
    assert liquidity == 225 * 10**23                 # 5% x 50% x 90%
    # ..._80_bps_supply_usage_due_minted_tokens: unbacked 0.8e18 x 124 - 0.2e18.
    _, low = rates(STRATEGY, 8 * 10**17, 2 * 10**17, RESERVE_FACTOR_BPS,
                   unbacked=8 * 10**17 * 124 - 2 * 10**17)
    assert low == 36 * 10**22                        # 5% x 0.8% x 90%


def test_rates_when_empty_reserve_then_base_rate_and_no_liquidity_rate() -> None:
    assert rates(STRATEGY, 0, 0, RESERVE_FACTOR_BPS) == (10**25, 0)


def test_update_rates_when_reserve_has_deficit_then_deficit_is_unbacked() -> None:
    engine = funded_engine(simple_aave())
    assert engine.apply(Deposit("alice", "WETH", 1_000 * ETH)).accepted
    assert engine.apply(Borrow("alice", "USDC", 500_000 * USDC)).accepted  # U = 50%
    ledger = engine.ledger
    usdc = ledger.reserves["USDC"]
    assert usdc.liquidity_rate == RAY * 1125 // 100_000         # 2.5% x 50% x 90%
    # A deficit as large as the cash (as if written off): the borrow usage stays 50%, the
    # supply usage is rayDiv(500,000, 1,500,000) = 0.333...3 (half up), so the supply rate
    # is percentMul(rayMul(2.5%, 1/3), 90%) = 0.75%.
    ledger.reserves_to_deficit("USDC", 500_000 * USDC)
    ledger.update_rates("USDC")
    assert usdc.borrow_rate == RAY * 25 // 1000
    assert usdc.liquidity_rate == 7_500_000_000_000_000_000_000_000
    ledger.check_conservation()


# ---------------------------------------------------------------------------- treasury
@pytest.mark.parametrize(("preset", "treasury"), [
    # v3.5+: rayMulFloor(scaledDebt, index delta) x 10%, half up.
    ("aave-v3", 1_265_755_208),
    # v3.3: rayMul(scaledDebt, new) - rayMul(scaledDebt, old), then 10% (its own index).
    ("aave-v3.3", 1_265_625_000),
])
def test_accrual_when_one_year_then_treasury_takes_reserve_factor_as_the_version(
        preset: str, treasury: int) -> None:
    engine = funded_engine(simple_aave(preset=preset))
    assert engine.apply(Deposit("alice", "WETH", 1_000 * ETH)).accepted
    assert engine.apply(Borrow("alice", "USDC", 500_000 * USDC)).accepted
    assert engine.apply(AdvanceTime(SECONDS_PER_YEAR)).accepted
    reserve = engine.ledger.reserves["USDC"]
    assert reserve.treasury == treasury
    engine.ledger.check_conservation()
