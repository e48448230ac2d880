from marginengine.engine import AdvanceTime, Borrow, Deposit
from marginengine.fixedpoint import RAY
from marginengine.ledger import SECONDS_PER_YEAR, Compounding
from marginengine.ledger.interest import compounded_interest, rates
from tests.conftest import ETH, USDC, simple_aave


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
