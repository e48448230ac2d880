"""Circuit breaker: every transition, its reason, and the cool-off back to NORMAL."""

import pytest

from marginengine.errors import ConfigError, OracleError
from marginengine.oracle import (
    AggregatedPrice,
    BreakerState,
    CircuitBreaker,
    CircuitBreakerParams,
    PriceStatus,
    Transition,
)
from tests.conftest import USD

FRESH, DIVERGENT, STALE = PriceStatus.FRESH, PriceStatus.DIVERGENT, PriceStatus.STALE
NORMAL = BreakerState.NORMAL
BORROWING_PAUSED = BreakerState.BORROWING_PAUSED
LIQUIDATIONS_PAUSED = BreakerState.LIQUIDATIONS_PAUSED
HALTED = BreakerState.HALTED


def breaker(**kw):
    params = {"window": 600, "pause_borrowing_move_bps": 2000, "cool_off": 1800, **kw}
    return CircuitBreaker(CircuitBreakerParams(**params))


def test_move_beyond_threshold_within_window_pauses_borrowing_then_cool_off_restores():
    cb = breaker()
    assert cb.update(0, FRESH, 100 * USD) is None
    assert cb.update(30, FRESH, 85 * USD) is None  # 100 / 85 - 1 = 1,765 bps: under 2,000
    # 100 / 80 - 1 = 2,500 bps within 600 s.
    trip = cb.update(60, FRESH, 80 * USD)
    assert trip == Transition(
        60, NORMAL, BORROWING_PAUSED,
        "price moved 2500 bps within 600 s (80 to 100) > 2000 bps",
    )
    assert cb.update(600, FRESH, 80 * USD) is None  # the 100 at t=0 is still in the window
    assert cb.update(660, FRESH, 80 * USD) is None  # it left; condition last seen at 600
    assert cb.update(2399, FRESH, 80 * USD) is None  # 1,799 s of cool-off: held
    back = cb.update(2400, FRESH, 80 * USD)
    assert back == Transition(
        2400, BORROWING_PAUSED, NORMAL,
        "cool-off: 1800 s since borrowing_paused was last triggered (at 600), cool_off 1800 s",
    )
    assert cb.state is NORMAL
    assert cb.history == (trip, back)


def test_move_spread_over_more_than_the_window_does_not_trip():
    cb = breaker()
    for time, usd in [(0, 100), (400, 90), (800, 80), (1200, 72)]:
        # Each window of 600 s sees at most 100 / 90 - 1 = 1,111 bps.
        assert cb.update(time, FRESH, usd * USD) is None
    assert cb.state is NORMAL


def test_retrigger_during_cool_off_extends_it():
    cb = breaker()
    cb.update(0, FRESH, 100 * USD)
    cb.update(60, FRESH, 75 * USD)                 # trips
    cb.update(1000, FRESH, 75 * USD)               # calm, cool-off from 60
    cb.update(1100, FRESH, 100 * USD)              # 75 -> 100 within the window: seen again
    assert cb.update(1860, FRESH, 100 * USD) is None  # 60 + 1,800 passed, but not 1,100 + 1,800
    assert cb.update(2900, FRESH, 100 * USD).to_state is NORMAL


def test_divergent_sources_pause_liquidations():
    cb = breaker()
    trip = cb.update(0, DIVERGENT, 2_000 * USD, "sources diverge: a at 1900 and b at 2100")
    assert trip == Transition(0, NORMAL, LIQUIDATIONS_PAUSED,
                              "sources diverge: a at 1900 and b at 2100")
    assert not cb.state.allows_liquidation and not cb.state.allows_risk_increase
    assert cb.update(1800, FRESH, 2_000 * USD).to_state is NORMAL


def test_stale_price_halts_and_stays_halted_while_stale():
    cb = breaker()
    cb.update(0, FRESH, 2_000 * USD)
    trip = cb.update(100, STALE, reason="0 of 1 sources fresh, 1 needed: a: stale")
    assert trip == Transition(100, NORMAL, HALTED,
                              "price stale: 0 of 1 sources fresh, 1 needed: a: stale")
    assert cb.update(5000, STALE) is None  # still stale: re-armed every time it is seen
    assert cb.update(6799, FRESH, 2_000 * USD) is None
    assert cb.update(6800, FRESH, 2_000 * USD).to_state is NORMAL


@pytest.mark.parametrize("status", [PriceStatus.CLAMPED, PriceStatus.UNCERTAIN,
                                    PriceStatus.INSUFFICIENT])
def test_any_untrustworthy_status_halts(status):
    cb = breaker()
    trip = cb.update(0, status)
    assert trip is not None and trip.to_state is HALTED
    assert trip.reason == f"price {status.value}"


def test_escalation_is_immediate_and_cool_off_steps_down_one_cause_at_a_time():
    cb = breaker()
    cb.update(0, FRESH, 100 * USD)
    assert cb.update(60, FRESH, 70 * USD).to_state is BORROWING_PAUSED
    assert cb.update(120, DIVERGENT, 70 * USD, "diverge").to_state is LIQUIDATIONS_PAUSED
    assert cb.update(180, STALE).to_state is HALTED
    # Divergence was last seen at 120; staleness and the move at 180 (the 100 of t=0 was
    # still in the window then; it has left it by 700). All have cooled off at 180 + 1,800,
    # so the breaker returns straight to NORMAL.
    assert cb.update(700, FRESH, 70 * USD) is None
    assert cb.update(1979, FRESH, 70 * USD) is None
    step = cb.update(1980, FRESH, 70 * USD)
    assert step == Transition(
        1980, HALTED, NORMAL,
        "cool-off: 1800 s since halted was last triggered (at 180), cool_off 1800 s",
    )
    cb2 = breaker()
    cb2.update(0, FRESH, 100 * USD)
    cb2.update(60, FRESH, 70 * USD)       # borrowing paused, move seen until 600
    cb2.update(100, STALE)                # halted at 100
    cb2.update(600, FRESH, 70 * USD)      # move still in the window: seen at 600
    step = cb2.update(1900, FRESH, 70 * USD)  # halt cooled off (100 + 1,800) ...
    assert step is not None and (step.from_state, step.to_state) == (HALTED, BORROWING_PAUSED)
    assert step.reason.endswith(
        "; borrowing_paused still holds: price moved 4286 bps within 600 s (70 to 100) > 2000 bps"
    )
    assert cb2.update(2400, FRESH, 70 * USD).to_state is NORMAL  # ... then 600 + 1,800


def test_move_beyond_halt_threshold_halts():
    cb = breaker(halt_move_bps=5000)
    cb.update(0, FRESH, 100 * USD)
    trip = cb.update(60, FRESH, 60 * USD)  # 100 / 60 - 1 = 6,667 bps
    assert trip is not None and trip.to_state is HALTED
    assert trip.reason == "price moved 6667 bps within 600 s (60 to 100) > 5000 bps"


def test_update_with_an_aggregate():
    cb = breaker()
    stale = AggregatedPrice(50, None, STALE, "a: stale")
    assert cb.update_with(stale) == Transition(50, NORMAL, HALTED, "price stale: a: stale")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((50, FRESH, 100 * USD), "time: 50 is before the last time seen, 60"),
        ((70, FRESH, None), "price: must be an int price"),
        ((70, DIVERGENT, float("nan")), "price: is NaN"),
        ((70, FRESH, 0), "price: must be positive"),
        ((70, "fresh", 100 * USD), "status: must be a PriceStatus, not str"),
    ],
)
def test_update_when_bad_input_then_error_and_breaker_unchanged(args, message):
    cb = breaker()
    cb.update(0, FRESH, 100 * USD)
    cb.update(60, FRESH, 79 * USD)
    history = cb.history
    with pytest.raises(OracleError, match=message):
        cb.update(*args)
    assert cb.state is BORROWING_PAUSED and cb.history == history
    # The clock did not move either: time 61 is still accepted.
    assert cb.update(61, FRESH, 79 * USD) is None


def test_state_permissions():
    assert NORMAL.allows_risk_increase and NORMAL.allows_liquidation
    assert not BORROWING_PAUSED.allows_risk_increase and BORROWING_PAUSED.allows_liquidation
    assert not LIQUIDATIONS_PAUSED.allows_liquidation
    assert not HALTED.allows_liquidation and not HALTED.allows_risk_increase
    assert [s.severity for s in (NORMAL, BORROWING_PAUSED, LIQUIDATIONS_PAUSED, HALTED)] == [
        0, 1, 2, 3]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"window": 0}, "window: must be at least 1 seconds"),
        ({"cool_off": -1}, "cool_off: must be at least 1 seconds"),
        ({"pause_borrowing_move_bps": 0}, "pause_borrowing_move_bps: must be at least 1 bps"),
        ({"halt_move_bps": 2000}, "halt_move_bps: must be above pause_borrowing_move_bps"),
    ],
)
def test_params_when_out_of_range_then_config_error(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        CircuitBreakerParams(**kwargs)
