"""Stable price: a pump within minutes moves it by the cap only; a crash held for hours is
followed. Default speeds (Mango v4's): 3 bps per second (1.8% per minute at full speed),
delay prices averaged hourly, capped at 6% per hour, used 24 hours later."""

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marginengine.errors import ConfigError, OracleError
from marginengine.oracle import StablePrice, StablePriceParams, collateral_price, debt_price
from tests.conftest import USD

MINUTE, HOUR = 60, 3600


def run(model, start, step, count, oracle):
    for i in range(1, count + 1):
        model = model.update(start + step * i, oracle)
    return model


def test_pump_20x_for_five_minutes_moves_stable_price_by_the_capped_growth_only():
    model = StablePrice.start(0, 100 * USD)
    # Minute 1: stable and delay price agree (100), so the full cap of 3 bps x 60 s = 1.8%
    # applies: 100 x 1.018 = 101.8.
    model = model.update(MINUTE, 2_000 * USD)
    assert model.price == 10_180_000_000
    # Minute 2: the stable price (101.8) is now ahead of the day-old delay price (100), so the
    # cap shrinks by (100 / 101.8)^2: 101.8 x (1 + 0.018 x (100/101.8)^2)
    # = 101.8 + 1.8 / 1.018 = 103.56817288..., rounded down (toward the previous price).
    model = model.update(2 * MINUTE, 2_000 * USD)
    assert model.price == 10_356_817_288
    exact = Fraction(1018, 10) + Fraction(18, 10) / Fraction(1018, 1000)
    assert 0 <= exact * USD - model.price < 1
    model = run(model, 2 * MINUTE, MINUTE, 3, 2_000 * USD)
    assert model.price == 10_869_746_023  # 108.70 USD after five minutes at 2,000 USD
    assert model.price < 100 * USD * Fraction(1018, 1000) ** 5  # below five uncapped steps
    assert model.delay_price == 100 * USD
    # Initial margin: the pumped collateral counts at 108.70, not 2,000; a debt in the pumped
    # asset counts at 2,000.
    assert collateral_price(2_000 * USD, model.price) == 10_869_746_023
    assert debt_price(2_000 * USD, model.price) == 2_000 * USD
    # The pump ends: the stable price comes back down to the oracle.
    back = run(model, 5 * MINUTE, MINUTE, 10, 100 * USD)
    assert back.price == 100 * USD


def test_crash_held_for_hours_is_followed():
    model = StablePrice.start(0, 100 * USD)
    # Minute 1: down by the same 1.8% cap, as a ratio: 100 / 1.018 = 98.23182711..., rounded
    # up (toward the previous price).
    model = model.update(MINUTE, 50 * USD)
    assert model.price == 9_823_182_712
    model = run(model, MINUTE, MINUTE, 59, 50 * USD)
    assert model.price == 5_616_169_086  # 56.16 after an hour: slowing as it leaves 100
    model = run(model, HOUR, MINUTE, 30, 50 * USD)
    assert model.price == 50 * USD  # reached the oracle within 90 minutes
    model = run(model, HOUR + 30 * MINUTE, MINUTE, 270, 50 * USD)
    assert model.price == 50 * USD  # and held there for the rest of the six hours
    # On a crash the protocol-protecting sides are: collateral at the oracle's 50, debt at
    # the stable price while it lags above.
    assert collateral_price(50 * USD, 9_823_182_712) == 50 * USD
    assert debt_price(50 * USD, 9_823_182_712) == 9_823_182_712


def test_delay_price_moves_at_most_6_percent_per_hour_and_is_used_a_day_later():
    model = run(StablePrice.start(0, 100 * USD), 0, MINUTE, 60, 50 * USD)
    # The first hour averaged 50; the new hourly delay price is capped: 100 / 1.06.
    assert model.delay_prices[-1] == 9_433_962_265
    assert model.delay_prices[:-1] == (100 * USD,) * 23
    assert model.delay_price == 100 * USD  # the one in use is still a day old
    model = run(model, HOUR, MINUTE, 60, 50 * USD)
    assert model.delay_prices[-1] == 8_899_964_401  # 94.33962265 / 1.06, rounded up


def test_update_after_a_long_pause_counts_at_most_max_update_interval():
    model = StablePrice.start(0, 100 * USD)
    later = model.update(2 * 24 * HOUR, 2_000 * USD)
    # More than a day of intervals were crossed: every delay slot holds the new value, the
    # 600-s average of 2,000 capped at 100 x 1.06 = 106.
    assert later.delay_prices == (106 * USD,) * 24
    # Two days of silence count as 600 s: cap 3 x 600 = 1,800 bps, shrunk by (100 / 106)^2:
    # 100 x (1 + 0.18 x 10,000 / 11,236) = 116.01993592..., rounded down.
    assert later.price == 11_601_993_592
    assert 100 * USD * (1 + Fraction(18, 100) * Fraction(100, 106) ** 2) - later.price < 1


def test_update_within_min_update_interval_is_ignored():
    model = StablePrice.start(0, 100 * USD).update(MINUTE, 2_000 * USD)
    assert model.update(MINUTE + 9, 5_000 * USD) is model
    assert model.update(MINUTE + 10, 5_000 * USD) is not model


@pytest.mark.parametrize(
    ("time", "price", "message"),
    [
        (59, 100 * USD, "time: 59 is before the last time seen, 60"),
        (120, float("nan"), "oracle_price: is NaN"),
        (120, 0, "oracle_price: must be positive"),
        (120, -1, "oracle_price: must be positive"),
    ],
)
def test_update_when_bad_input_then_error_and_value_unchanged(time, price, message):
    model = StablePrice.start(0, 100 * USD).update(MINUTE, 2_000 * USD)
    snapshot = (model.price, model.last_update, model.delay_prices, model.accumulator)
    with pytest.raises(OracleError, match=message):
        model.update(time, price)
    assert (model.price, model.last_update, model.delay_prices, model.accumulator) == snapshot


def test_collateral_and_debt_price_helpers():
    assert collateral_price(90, 100) == 90 and collateral_price(110, 100) == 100
    assert debt_price(90, 100) == 100 and debt_price(110, 100) == 110
    with pytest.raises(OracleError, match="stable_price: must be positive"):
        collateral_price(90, 0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"delay_interval": 0}, "delay_interval: must be at least 1 seconds"),
        ({"stable_growth_limit_bps": 0}, "stable_growth_limit_bps: must be at least 1 bps"),
        ({"min_update_interval": 700}, "min_update_interval: 700 s is more than"),
    ],
)
def test_params_when_out_of_range_then_config_error(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        StablePriceParams(**kwargs)


@given(
    start=st.integers(1, 10**14),
    steps=st.lists(st.tuples(st.integers(0, 3 * HOUR), st.integers(1, 10**14)), max_size=40),
)
def test_property_each_update_moves_at_most_the_cap(start, steps):
    params = StablePriceParams()
    model = StablePrice.start(0, start, params)
    for gap, oracle in steps:
        before = model
        model = model.update(before.last_update + gap, oracle)
        if model is before:
            continue
        seconds = min(gap, params.max_update_interval)
        cap = Fraction(params.stable_growth_limit_bps * seconds, 10_000)
        ratio = Fraction(model.price, before.price)
        assert 1 / (1 + cap) <= ratio <= 1 + cap
        # It moves toward the oracle and never past it.
        assert min(before.price, oracle) <= model.price <= max(before.price, oracle)
        assert model.price > 0
