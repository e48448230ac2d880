"""Black-76 prices and Greeks: textbook values (Hull), expiry limits, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from marginengine.errors import FieldError
from marginengine.pricing import (
    MIN_STDDEV,
    discount_factor,
    price,
    price_and_greeks,
    price_and_greeks_scalar,
    price_scalar,
)

# Hull, "Options, Futures, and Other Derivatives", are Black-Scholes examples on a spot S
# without dividends. Black-76 on the forward F = S exp(rT) gives the same prices; its
# "spot" Greeks are Hull's, its forward Greeks are those times the stated factors.


def test_price_when_hull_black_scholes_example_then_call_476_put_081():
    # Hull, chapter "The Black-Scholes-Merton Model": S=42, K=40, r=10%, sigma=20%,
    # T=0.5: c = 4.76, p = 0.81.
    s, k, r, vol, t = 42.0, 40.0, 0.10, 0.20, 0.5
    f = s * math.exp(r * t)
    call, put = price([f, f], k, t, vol, r, [True, False]).tolist()
    assert call == pytest.approx(4.76, abs=0.005)
    assert put == pytest.approx(0.81, abs=0.005)
    # To more digits (the same model in closed form): 4.7594, 0.8086.
    assert call == pytest.approx(4.759422, abs=1e-6)
    assert put == pytest.approx(0.808599, abs=1e-6)
    assert price_scalar(f, k, t, vol, r, True) == pytest.approx(call, rel=1e-14)


def test_price_when_hull_black_futures_put_example_then_112():
    # Hull, chapter "Futures Options" (Black's model): F=20, K=20, r=9%, sigma=25%,
    # T=4 months: p = 1.12.
    put = price(20.0, 20.0, 4.0 / 12.0, 0.25, 0.09, False)
    assert float(put) == pytest.approx(1.12, abs=0.005)
    assert float(put) == pytest.approx(1.116641, abs=1e-6)
    # At the money the call and the put are worth the same (parity with F = K).
    assert float(price(20.0, 20.0, 4.0 / 12.0, 0.25, 0.09, True)) == pytest.approx(
        float(put), rel=1e-14)


def test_greeks_when_hull_greek_letters_example_then_spot_flavour_matches():
    # Hull, chapter "The Greek Letters": S=49, K=50, r=5%, sigma=20%, T=20/52 (a call):
    # price 2.40, delta 0.522, gamma 0.066, vega 12.1 (per unit of vol), theta -4.31
    # (per year), rho 8.91 (per unit of rate). These are Black-Scholes spot Greeks.
    s, k, r, vol, t = 49.0, 50.0, 0.05, 0.20, 20.0 / 52.0
    f = s * math.exp(r * t)
    value, g = price_and_greeks(f, k, t, vol, r, True)
    assert float(value) == pytest.approx(2.40, abs=0.005)
    assert float(g.delta_spot) == pytest.approx(0.522, abs=0.0005)
    assert float(g.gamma_spot) == pytest.approx(0.066, abs=0.0005)
    assert float(g.vega) == pytest.approx(12.1, abs=0.05)
    assert float(g.theta_spot) == pytest.approx(-4.31, abs=0.005)
    assert float(g.rho_spot) == pytest.approx(8.91, abs=0.005)
    # The forward flavour: dV/dF = D dV/dS, d2V/dF2 = D^2 d2V/dS2 (F = S/D);
    # rho with F fixed is -T V; theta with F fixed is the decay term plus r V.
    disc = math.exp(-r * t)
    assert float(g.delta) == pytest.approx(disc * float(g.delta_spot), rel=1e-14)
    assert float(g.gamma) == pytest.approx(disc * disc * float(g.gamma_spot), rel=1e-14)
    assert float(g.rho) == pytest.approx(-t * float(value), rel=1e-14)
    assert float(g.theta) == pytest.approx(-3.0274, abs=1e-4)


def test_greeks_when_put_of_hull_example_then_put_call_relations_hold():
    # The same option as a put: delta_put = delta_call - 1, gammas and vegas equal.
    s, k, r, vol, t = 49.0, 50.0, 0.05, 0.20, 20.0 / 52.0
    f = s * math.exp(r * t)
    _, call = price_and_greeks(f, k, t, vol, r, True)
    _, put = price_and_greeks(f, k, t, vol, r, False)
    assert float(put.delta_spot) == pytest.approx(float(call.delta_spot) - 1.0, abs=1e-14)
    assert float(put.delta_spot) == pytest.approx(-0.478, abs=0.0005)
    assert float(put.gamma) == float(call.gamma)
    assert float(put.vega) == float(call.vega)
    # rho_spot: call - put = K T D (the derivative of parity C - P = S - K D).
    assert float(call.rho_spot - put.rho_spot) == pytest.approx(k * t * math.exp(-r * t))


def test_price_when_expired_then_discounted_intrinsic_value_and_limit_greeks():
    # t = 0: intrinsic; sigma = 0 with t > 0: intrinsic discounted at exp(-rT).
    f = np.array([100.0, 100.0, 100.0, 100.0, 100.0, 100.0])
    k = np.array([90.0, 110.0, 100.0, 90.0, 110.0, 100.0])
    t = np.array([0.0, 0.0, 0.0, 1.0, 1.0, 1.0])
    vol = np.array([0.5, 0.5, 0.5, 0.0, 0.0, 0.0])
    call = np.array([True, True, True, True, False, False])
    value, g = price_and_greeks(f, k, t, vol, 0.05, call)
    d = math.exp(-0.05)
    assert value.tolist() == pytest.approx([10.0, 0.0, 0.0, 10.0 * d, 10.0 * d, 0.0])
    # Delta of the limit: D in the money, 0 out of it, D/2 exactly at the money.
    assert g.delta.tolist() == pytest.approx([1.0, 0.0, 0.5, d, -d, -d / 2])
    assert g.gamma.tolist() == [0.0] * 6
    # Vega at sigma = 0 and the money keeps its finite limit D F sqrt(T) n(0).
    assert g.vega.tolist() == pytest.approx([0, 0, 0, 0, 0, d * 100 / math.sqrt(2 * math.pi)])
    for name in g.__dataclass_fields__:
        assert np.isfinite(getattr(g, name)).all(), name


def test_price_when_stddev_crosses_threshold_then_continuous():
    # Just above MIN_STDDEV the formula gives the intrinsic value to within ~s F.
    t = 1.0
    above = float(price(100.0, 100.0, t, 2 * MIN_STDDEV, 0.0, True))
    assert 0.0 < above < 1e-9
    assert float(price(100.0, 100.0, t, MIN_STDDEV / 2, 0.0, True)) == 0.0
    assert float(price(100.0, 90.0, t, 2 * MIN_STDDEV, 0.0, True)) == pytest.approx(10.0)


def test_price_when_deep_in_or_out_of_the_money_then_finite_and_bounded():
    f = 100.0
    k = np.array([1e-8, 1e8, 1e-8, 1e8, 100.0, 100.0])
    call = np.array([True, True, False, False, True, False])
    t = np.array([1.0, 1.0, 1.0, 1.0, 100.0, 100.0])
    vol = np.array([0.8, 0.8, 0.8, 0.8, 50.0, 50.0])
    value, g = price_and_greeks(f, k, t, vol, 0.03, call)
    d = np.exp(-0.03 * t)
    assert np.isfinite(value).all()
    # Deep ITM call: D (F - K); deep OTM call and put: 0 (below any unit); deep ITM put:
    # D (K - F); enormous total volatility: the upper bound D F (call), D K (put).
    assert value.tolist() == pytest.approx(
        [d[0] * (f - 1e-8), 0.0, 0.0, d[3] * (1e8 - f), d[4] * f, d[5] * 100.0], rel=1e-12)
    assert (value >= 0.0).all()
    for name in g.__dataclass_fields__:
        assert np.isfinite(getattr(g, name)).all(), name
    # An out-of-the-money put far in the tail keeps a positive, relatively exact value.
    tail = float(price(100.0, 40.0, 1.0, 0.2, 0.0, False))
    assert 0.0 < tail < 1e-4
    assert tail == pytest.approx(price_scalar(100.0, 40.0, 1.0, 0.2, 0.0, False), rel=1e-9)


def test_price_when_arrays_broadcast_then_shape_of_broadcast():
    value = price(np.array([[100.0], [110.0]]), np.array([90.0, 100.0, 110.0]), 0.5, 0.3,
                  0.0, True)
    assert value.shape == (2, 3)
    assert value[1, 2] == pytest.approx(value[0, 1] * 1.1, rel=1e-12)  # homogeneity in F, K


def test_discount_factor_when_rate_and_time_then_exp_minus_rt():
    assert discount_factor([0.05, -0.01], [2.0, 1.0]).tolist() == pytest.approx(
        [math.exp(-0.1), math.exp(0.01)])


@pytest.mark.parametrize(("kwargs", "field", "reason"), [
    ({"forward": 0.0}, "forward", "must be > 0 (0.0)"),
    ({"strike": [100.0, -1.0]}, "strike", "must be > 0 (at index 1: -1.0)"),
    ({"t": -0.5}, "t", "must be >= 0 (-0.5)"),
    ({"vol": [0.2, float("nan")]}, "vol", "must be finite (at index 1: nan)"),
    ({"rate": float("inf")}, "rate", "must be finite (inf)"),
    ({"is_call": [1.0]}, "is_call", "must be booleans"),
    ({"strike": [1.0, 2.0], "vol": [0.1, 0.2, 0.3]}, "shape", "do not broadcast"),
    ({"vol": [True, False]}, "vol", "not booleans"),
])
def test_price_when_bad_input_then_field_error_naming_it(kwargs, field, reason):
    args = {"forward": 100.0, "strike": 100.0, "t": 1.0, "vol": 0.2, "rate": 0.0,
            "is_call": True} | kwargs
    with pytest.raises(FieldError) as raised:
        price(**args)
    assert raised.value.field == field
    assert reason in raised.value.reason
    with pytest.raises(FieldError):
        price_and_greeks(**args)


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"forward": -1.0}, "forward"), ({"strike": float("nan")}, "strike"), ({"t": -1.0}, "t"),
    ({"vol": -0.1}, "vol"), ({"rate": float("nan")}, "rate"), ({"is_call": 1}, "is_call"),
    ({"forward": True}, "forward"),
])
def test_price_scalar_when_bad_input_then_field_error_naming_it(kwargs, field):
    args = {"forward": 100.0, "strike": 100.0, "t": 1.0, "vol": 0.2, "rate": 0.0,
            "is_call": True} | kwargs
    with pytest.raises(FieldError) as raised:
        price_scalar(**args)
    assert raised.value.field == field
    with pytest.raises(FieldError):
        price_and_greeks_scalar(**args)
