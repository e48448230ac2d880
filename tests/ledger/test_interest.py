from decimal import Decimal

import pytest

from marginengine.config import CometInterestModel, protocol_from_dict
from marginengine.engine import AdvanceTime, Borrow, Deposit, Engine, SetPrice
from marginengine.fixedpoint import RAY
from marginengine.ledger import SECONDS_PER_YEAR, Compounding
from marginengine.ledger.interest import (
    COMET_INDEX_SCALE,
    COMET_INDEX_TO_RAY,
    comet_accrue_index,
    comet_rate,
    comet_utilization,
    compounded_interest,
    rates,
)
from tests.conftest import ETH, USD, USDC, simple_aave


def test_rates_when_half_utilized_then_kinked_model_below_optimal():
    model = simple_aave().markets["USDC"].interest_rate  # slope1 4%, optimal 80%
    borrow, supply = rates(model, total_debt=500, cash=500, reserve_factor_bps=1_000)
    assert borrow == RAY * 25 // 1000  # 4% x 0.5 / 0.8 = 2.5%
    assert supply == RAY * 1125 // 100_000  # 2.5% x 0.5 x (1 - 10%) = 1.125%


def test_rates_when_above_optimal_then_second_slope():
    model = simple_aave().markets["USDC"].interest_rate
    borrow, _ = rates(model, total_debt=900, cash=100, reserve_factor_bps=0)
    # 4% + 60% x (0.9 - 0.8) / (1 - 0.8) = 34%
    assert borrow == RAY * 34 // 100


def test_compounded_interest_when_one_year_then_aave_binomial_terms():
    rate = RAY * 25 // 1000
    factor = compounded_interest(rate, SECONDS_PER_YEAR, Compounding.TAYLOR3)
    # Aave's MathUtils: 1 + x + x^2/2 (n-1)/n + x^3/6 (n-1)(n-2)/n^2 at x = 0.025. Its
    # per-second cube (r/Y)^3 truncates to zero in ray at a rate this small, exactly as
    # on-chain, so the factor is 1.0253125 less a relative 1e-10.
    assert abs(factor / RAY - 1.0253125) < 1e-9
    assert compounded_interest(rate, SECONDS_PER_YEAR, Compounding.LINEAR) == RAY * 1025 // 1000
    exact = compounded_interest(rate, SECONDS_PER_YEAR, Compounding.EXACT)
    assert abs(exact / RAY - 1.0253151205) < 1e-9  # e^0.025


def test_compounded_interest_when_rate_high_then_cubic_term_counts():
    rate = 3 * RAY  # 300% a year: 1 + 3 + 9/2 + 27/6 = 13
    factor = compounded_interest(rate, SECONDS_PER_YEAR, Compounding.TAYLOR3)
    # Within the truncation of the per-second powers in ray (a few parts per million).
    assert abs(factor / RAY - 13) < 1e-5
    assert factor > RAY * 128 // 10  # without the cubic term it would be 8.5


def test_advance_time_when_one_year_at_half_utilization_then_interest_exact():
    from tests.conftest import funded_engine

    engine = funded_engine(simple_aave())
    assert engine.apply(Deposit("alice", "WETH", 1_000 * ETH)).accepted
    assert engine.apply(Borrow("alice", "USDC", 500_000 * USDC)).accepted  # U = 50%
    assert engine.apply(AdvanceTime(SECONDS_PER_YEAR)).accepted
    ledger = engine.ledger
    # Suppliers: linear 1.125% on 1,000,000 USDC, exactly.
    assert ledger.supply_of("lp", "USDC") == 1_011_250 * USDC
    # Borrower: 500,000 x (1 + x + x^2/2 + x^3/6) at x = 2.5% (Aave v3.4+ MathUtils, the
    # preset's v3.7): 1.02531510416..., read back rounded up (getVTokenBalance).
    debt = ledger.debt_of("alice", "USDC")
    assert debt == 512_657_552_084
    interest = debt - 500_000 * USDC
    reserve = ledger.reserves["USDC"]
    # The treasury takes the 10% reserve factor of the interest (percentMul, half up).
    assert abs(reserve.treasury - interest // 10) <= 1
    # The rest of the gap between compounded debt and linear supply is protocol surplus.
    # (Within one unit: the account balances round individually, the totals once.)
    assert abs(reserve.reserves - (interest - 11_250 * USDC - reserve.treasury)) <= 1
    assert reserve.reserves > 140 * USDC
    ledger.check_conservation()


# --- Compound III (compound-finance/comet@d5a30b0aaeff7755f1431e87f818990902237b03) ------
# test/interest-rate-test.ts: its interestRateParams, and rates checked per year within
# 1e8 wei of the expected fraction (Comet's MINIMUM_PRECISION_WEI); here exactly.
COMET_TEST_RATES = CometInterestModel(
    supply_kink=Decimal("0.8"), supply_base=Decimal(0), supply_slope_low=Decimal("0.04"),
    supply_slope_high=Decimal("0.4"), borrow_kink=Decimal("0.8"),
    borrow_base=Decimal("0.01"), borrow_slope_low=Decimal("0.05"),
    borrow_slope_high=Decimal("0.3"))


def _comet_rates(model: CometInterestModel, utilization: int) -> tuple[int, int]:
    def curve(side: str) -> int:
        return comet_rate(utilization, model.scaled(f"{side}_kink"),
                          model.per_second(f"{side}_base"),
                          model.per_second(f"{side}_slope_low"),
                          model.per_second(f"{side}_slope_high"))
    return curve("supply"), curve("borrow")


@pytest.mark.parametrize(
    ("supply_index", "borrow_index", "supply_base", "borrow_base", "utilization",
     "supply_rate", "borrow_rate", "supply_year", "borrow_year"), [
        # below kink: 500 x 2 supplied, 25 x 4 borrowed: 10%; 0.04 x 0.1, 0.01 + 0.05 x 0.1
        (2 * 10**15, 4 * 10**15, 500, 25, 10**17, 126_839_167, 475_646_878,
         Decimal("0.004"), Decimal("0.015")),
        # above kink: 90%; 0.04 x 0.8 + 0.4 x 0.1, 0.01 + 0.05 x 0.8 + 0.3 x 0.1
        (2 * 10**15, 3 * 10**15, 50, 30, 9 * 10**17, 2_283_105_022, 2_536_783_357,
         Decimal("0.072"), Decimal("0.08")),
        # no borrows: the borrow base only
        (2 * 10**15, 3 * 10**15, 50, 0, 0, 0, 317_097_919, Decimal(0), Decimal("0.01")),
    ])
def test_comet_rates_when_interest_rate_test_vectors_then_same_per_second_rates(
        supply_index: int, borrow_index: int, supply_base: int, borrow_base: int,
        utilization: int, supply_rate: int, borrow_rate: int, supply_year: Decimal,
        borrow_year: Decimal) -> None:
    usage = comet_utilization(supply_base * supply_index // COMET_INDEX_SCALE,
                              borrow_base * borrow_index // COMET_INDEX_SCALE)
    assert usage == utilization
    assert _comet_rates(COMET_TEST_RATES, usage) == (supply_rate, borrow_rate)
    for rate, year in ((supply_rate, supply_year), (borrow_rate, borrow_year)):
        assert abs(rate * 31_536_000 - int(year * 10**18)) <= 10**8


def test_comet_accrual_when_engine_advances_1000s_then_indices_as_project_base_index():
    # accrue-test.ts "accrues correctly with time elapsed and more than min rewards":
    # 14,000 supplied, 13,000 borrowed (u = 0.928571428571428571, above the 0.8 kink) at
    # makeProtocol's default curves; after 1,000 s each index is projectBaseIndex =
    # index + index x (rate x 1000) / 1e18 from 1e15.
    engine = Engine(protocol_from_dict({"preset": "compound-v3", "compound": {
        "interest": {}}}))
    engine.apply(SetPrice("USDC", USD))
    engine.apply(SetPrice("WETH", 2_000 * USD))
    engine.apply(Deposit("lp", "USDC", 14_000 * USDC))
    engine.apply(Deposit("bob", "WETH", 10 * ETH))
    assert engine.apply(Borrow("bob", "USDC", 13_000 * USDC)).accepted
    usdc = engine.ledger.reserves["USDC"]
    defaults = CometInterestModel()
    assert _comet_rates(defaults, 928_571_428_571_428_571) == (9_422_338_189, 14_926_252_082)
    assert usdc.liquidity_rate == 9_422_338_189 * SECONDS_PER_YEAR * 10**9
    engine.apply(AdvanceTime(1_000))
    assert usdc.liquidity_index == 1_000_009_422_338_189 * COMET_INDEX_TO_RAY
    assert usdc.borrow_index == 1_000_014_926_252_082 * COMET_INDEX_TO_RAY
    ledger = engine.ledger
    # presentValueSupply / presentValueBorrow: principal x index / 1e15, floored.
    assert ledger.supply_of("lp", "USDC") == 14_000 * USDC * 1_000_009_422_338_189 // 10**15
    assert ledger.debt_of("bob", "USDC") == 13_000 * USDC * 1_000_014_926_252_082 // 10**15
    ledger.check_conservation()


def test_comet_accrual_when_no_time_passes_then_indices_unchanged():
    assert comet_accrue_index(2 * 10**15, 14_926_252_082, 0) == 2 * 10**15
    assert comet_utilization(0, 0) == 0


def _fresh_rates(engine: Engine, asset: str) -> tuple[int, int]:
    """The reserve's rates computed now from its totals (no reuse)."""
    r, market = engine.ledger.reserves[asset], engine.config.markets[asset]
    unbacked = r.deficit if engine.ledger.deficit_in_supply_usage else 0
    return rates(market.interest_rate, r.total_debt(), r.cash, market.reserve_factor_bps,
                 unbacked)


def test_update_rates_when_events_refused_accepted_and_time_then_rates_of_the_state():
    # Ledger.update_rates reuses its last answer when the inputs of ``rates`` are the same
    # (the model, debt, cash, reserve factor, deficit): after every event, accepted or
    # refused, and every accrual, the reserve's rates are those of its totals then.
    from tests.conftest import funded_engine

    engine = funded_engine()
    assert engine.apply(Deposit("bob", "WETH", 10 * ETH)).accepted
    assert engine.apply(Borrow("bob", "USDC", 5_000 * USDC)).accepted
    reserve = engine.ledger.reserves["USDC"]
    assert (reserve.borrow_rate, reserve.liquidity_rate) == _fresh_rates(engine, "USDC")
    before = (reserve.borrow_rate, reserve.liquidity_rate)
    assert not engine.apply(Borrow("bob", "USDC", 900_000 * USDC)).accepted  # too much
    reserve = engine.ledger.reserves["USDC"]
    assert (reserve.borrow_rate, reserve.liquidity_rate) == before
    assert engine.apply(Borrow("bob", "USDC", 2_000 * USDC)).accepted
    reserve = engine.ledger.reserves["USDC"]
    assert (reserve.borrow_rate, reserve.liquidity_rate) == _fresh_rates(engine, "USDC")
    assert reserve.borrow_rate > before[0]  # 7,000 of 1,000,000 borrowed, up from 5,000
    for _ in range(3):  # AdvanceTime: every reserve after its accrual, then again
        assert engine.apply(AdvanceTime(3_600)).accepted
        for asset in ("USDC", "DAI", "WETH"):
            r = engine.ledger.reserves[asset]
            assert (r.borrow_rate, r.liquidity_rate) == _fresh_rates(engine, asset)
