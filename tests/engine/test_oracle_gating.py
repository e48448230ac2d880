"""The engine acts on what the oracle layer says: status, age, stable price, breakers."""

from marginengine.engine import AdvanceTime, Borrow, Deposit, Liquidate, SetPrice, Withdraw
from tests.conftest import ETH, USD, USDC, funded_engine, simple_aave


def hashed(engine):
    return engine.ledger.state_hash({"prices": engine.prices.as_dict()})


def test_borrow_when_price_older_than_max_age_then_refused_with_age():
    engine = funded_engine(simple_aave(oracle={"max_age": 3600}))
    engine.apply(Deposit("alice", "WETH", ETH))
    engine.apply(AdvanceTime(3601))
    before = hashed(engine)
    outcome = engine.apply(Borrow("alice", "USDC", 100 * USDC))
    assert outcome.reason == (
        "price of DAI is stale: last update 3601 s ago, max_age 3600 s"
    ) or outcome.reason == "price of USDC is stale: last update 3601 s ago, max_age 3600 s"
    assert hashed(engine) == before
    engine.apply(SetPrice("USDC", USD))
    outcome = engine.apply(Borrow("alice", "USDC", 100 * USDC))
    assert outcome.reason == "price of WETH is stale: last update 3601 s ago, max_age 3600 s"
    engine.apply(SetPrice("WETH", 2_000 * USD))
    assert engine.apply(Borrow("alice", "USDC", 100 * USDC)).accepted


def test_liquidation_when_price_clamped_then_paused_with_reason():
    engine = funded_engine()
    engine.apply(Deposit("bob", "WETH", 10 * ETH))
    engine.apply(Borrow("bob", "USDC", 16_000 * USDC))
    engine.apply(SetPrice("WETH", 1_500 * USD, "clamped", "answer held at min_answer 1500"))
    assert engine.is_liquidatable("bob")
    outcome = engine.apply(Liquidate("keeper", "bob", "USDC", "WETH", 8_000 * USDC))
    assert outcome.reason == "price of WETH is clamped: answer held at min_answer 1500"
    withdraw = engine.apply(Withdraw("bob", "WETH", ETH))
    assert withdraw.reason.startswith("price of WETH is clamped")


def test_set_price_when_status_unknown_or_price_bad_then_rejected_nothing_changed():
    engine = funded_engine()
    before = engine.state_hash()
    assert engine.apply(SetPrice("WETH", USD, "shiny")).reason.startswith(
        "status: unknown price status 'shiny' (one of fresh, stale")
    assert engine.apply(SetPrice("WETH", 0)).reason == "price: must be positive (got 0)"
    assert engine.apply(SetPrice("WETH", -5)).reason == "price: must be positive (got -5)"
    assert engine.apply(SetPrice("GOLD", USD)).reason == "asset: unknown asset 'GOLD'"
    # Only the sequence number moved: three refusals were logged, nothing else changed.
    assert engine.ledger.state_hash({"prices": engine.prices.as_dict()}) == hashed(engine)
    assert engine.state_hash() != before and engine.seq == 5 + 4


def test_breaker_when_price_moves_beyond_threshold_then_borrowing_paused_then_cools_off():
    config = simple_aave(oracle={"breaker": {"enabled": True, "window": 3600,
                                             "pause_borrowing_move": "0.20",
                                             "cool_off": 1800}})
    engine = funded_engine(config)
    engine.apply(Deposit("alice", "WETH", 10 * ETH))
    outcome = engine.apply(SetPrice("WETH", 2_500 * USD))  # +25% within the window
    assert outcome.details["breaker"] == {
        "asset": "WETH", "time": 0, "from_state": "normal", "to_state": "borrowing_paused",
        "reason": "price moved 2500 bps within 3600 s (2000 to 2500) > 2000 bps",
    }
    refused = engine.apply(Borrow("alice", "USDC", 100 * USDC))
    assert refused.reason == "WETH circuit breaker is borrowing_paused: borrowing paused"
    tick = engine.apply(AdvanceTime(1800))
    assert tick.details["breaker"][0]["to_state"] == "normal"
    assert engine.apply(Borrow("alice", "USDC", 100 * USDC)).accepted


def test_breaker_when_sources_diverge_then_liquidations_paused():
    config = simple_aave(oracle={"breaker": {"enabled": True}})
    engine = funded_engine(config)
    engine.apply(Deposit("bob", "WETH", 10 * ETH))
    engine.apply(Borrow("bob", "USDC", 16_000 * USDC))
    engine.apply(SetPrice("WETH", 1_900 * USD, "divergent", "sources 3.1% apart"))
    outcome = engine.apply(Liquidate("keeper", "bob", "USDC", "WETH", 8_000 * USDC))
    assert outcome.reason == "WETH circuit breaker is liquidations_paused: liquidations paused"


def test_stable_price_when_collateral_pumped_then_initial_margin_uses_the_lower_price():
    config = simple_aave(oracle={"stable_price": {"enabled": True}})
    engine = funded_engine(config)
    engine.apply(Deposit("alice", "WETH", 10 * ETH))
    engine.apply(AdvanceTime(60))
    outcome = engine.apply(SetPrice("WETH", 40_000 * USD))  # 20x in a minute
    stable = outcome.details["stable_price"]
    # One minute at 3 bps per second: at most 1.8% up, whatever the oracle says.
    assert stable == 2_036 * USD
    assert engine.oracles["WETH"].initial_collateral_price(40_000 * USD) == stable
    # Borrowing power: 10 ETH x 2,036 x 80% = 16,288 USD, not 320,000.
    assert engine.borrowing_power("alice", "USDC") == 16_288 * USDC
    assert not engine.apply(Borrow("alice", "USDC", 16_289 * USDC)).accepted
    assert engine.apply(Borrow("alice", "USDC", 16_288 * USDC)).accepted
    # Maintenance uses the oracle price: the account is far from liquidation.
    assert engine.health_factor("alice") > 20 * 10**18
