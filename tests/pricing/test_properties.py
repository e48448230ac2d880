"""Properties of the Black-76 kernels: parity, vectorized == scalar twin, Greeks against
finite differences, implied-volatility round trips."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marginengine.errors import FieldError
from marginengine.pricing import (
    implied_vol,
    implied_vol_scalar,
    price,
    price_and_greeks,
    price_and_greeks_scalar,
    price_scalar,
)

forwards = st.floats(1e-2, 1e6)
moneyness = st.floats(-3.0, 3.0)  # ln(K / F)
times = st.floats(0.0, 5.0)
vols = st.floats(0.0, 4.0)
rates = st.floats(-0.05, 0.25)


SIZES = st.integers(1, 40)


@st.composite
def options(draw, size=SIZES):  # type: ignore[no-untyped-def]
    n = draw(size)
    f = np.array(draw(st.lists(forwards, min_size=n, max_size=n)))
    k = f * np.exp(np.array(draw(st.lists(moneyness, min_size=n, max_size=n))))
    t = np.array(draw(st.lists(times, min_size=n, max_size=n)))
    v = np.array(draw(st.lists(vols, min_size=n, max_size=n)))
    r = np.array(draw(st.lists(rates, min_size=n, max_size=n)))
    c = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    return f, k, t, v, r, c


@given(options())
def test_put_call_parity_when_any_option_then_c_minus_p_is_discounted_f_minus_k(opts):
    f, k, t, v, r, _ = opts
    call = price(f, k, t, v, r, True)
    put = price(f, k, t, v, r, False)
    parity = np.exp(-r * t) * (f - k)
    scale = np.exp(-r * t) * np.maximum(f, k)
    assert np.all(np.abs(call - put - parity) <= 1e-12 * scale)


@given(options())
def test_vectorized_when_any_options_then_equals_scalar_twin(opts):
    f, k, t, v, r, c = opts
    value, greeks = price_and_greeks(f, k, t, v, r, c)
    assert np.isfinite(value).all()
    for i in range(f.size):
        args = (float(f[i]), float(k[i]), float(t[i]), float(v[i]), float(r[i]), bool(c[i]))
        s_value, s_greeks = price_and_greeks_scalar(*args)
        assert s_value == price_scalar(*args)
        scale = max(f[i], k[i])
        # scipy's ndtr and math.erfc differ by a few ulps; nothing else may differ.
        assert value[i] == pytest.approx(s_value, rel=1e-11, abs=1e-13 * scale)
        for name in greeks.__dataclass_fields__:
            vec = float(getattr(greeks, name)[i])
            ref = getattr(s_greeks, name)
            assert math.isfinite(vec)
            assert vec == pytest.approx(ref, rel=1e-9, abs=1e-12 * scale), name


# Finite differences need a well-conditioned option: not too close to expiry, total
# volatility away from 0, strikes within about two standard deviations.
@st.composite
def smooth_option(draw):  # type: ignore[no-untyped-def]
    f = draw(st.floats(10.0, 1e5))
    t = draw(st.floats(0.05, 3.0))
    v = draw(st.floats(0.1, 1.5))
    k = f * math.exp(draw(st.floats(-1.5, 1.5)) * v * math.sqrt(t))
    return f, k, t, v, draw(rates), draw(st.booleans())


@given(smooth_option())
def test_greeks_when_smooth_option_then_match_central_differences(opt):
    f, k, t, v, r, c = opt
    _, g = price_and_greeks_scalar(f, k, t, v, r, c)
    p = price_scalar

    def close(analytic: float, numeric: float, scale: float) -> bool:
        return abs(analytic - numeric) <= 1e-5 * abs(analytic) + 1e-7 * scale

    # Price steps scale with the total standard deviation sd, the smile's natural width.
    sd = v * math.sqrt(t)
    h = 1e-4 * f * sd
    assert close(g.delta, (p(f + h, k, t, v, r, c) - p(f - h, k, t, v, r, c)) / (2 * h), 1)
    h = 1e-3 * f * sd
    gamma = (p(f + h, k, t, v, r, c) - 2 * p(f, k, t, v, r, c) + p(f - h, k, t, v, r, c)) / h**2
    assert abs(g.gamma - gamma) <= 1e-4 * abs(g.gamma) + 1e-6 / f
    h = 1e-5
    assert close(g.vega, (p(f, k, t, v + h, r, c) - p(f, k, t, v - h, r, c)) / (2 * h), f)
    assert close(g.rho, (p(f, k, t, v, r + h, c) - p(f, k, t, v, r - h, c)) / (2 * h), f)
    h = 1e-5 * t
    assert close(g.theta, -(p(f, k, t + h, v, r, c) - p(f, k, t - h, v, r, c)) / (2 * h), f)

    # Spot flavour: S fixed, F = S exp(r T) moves with r and T.
    s = f * math.exp(-r * t)

    def ps(spot: float, tt: float = t, rr: float = r) -> float:
        return p(spot * math.exp(rr * tt), k, tt, v, rr, c)

    h = 1e-4 * s * sd
    assert close(g.delta_spot, (ps(s + h) - ps(s - h)) / (2 * h), 1)
    h = 1e-3 * s * sd
    gamma_spot = (ps(s + h) - 2 * ps(s) + ps(s - h)) / h**2
    assert abs(g.gamma_spot - gamma_spot) <= 1e-4 * abs(g.gamma_spot) + 1e-6 / s
    h = 1e-5
    assert close(g.rho_spot, (ps(s, rr=r + h) - ps(s, rr=r - h)) / (2 * h), f)
    h = 1e-5 * t
    assert close(g.theta_spot, -(ps(s, tt=t + h) - ps(s, tt=t - h)) / (2 * h), f)


@st.composite
def quotable_option(draw):  # type: ignore[no-untyped-def]
    """Options whose volatility a price determines well: vega not negligible."""
    f = draw(st.floats(1.0, 1e5))
    t = draw(st.floats(1e-3, 5.0))
    v = draw(st.floats(0.01, 3.0))
    k = f * math.exp(draw(st.floats(-2.5, 2.5)) * v * math.sqrt(t))
    return f, k, t, v, draw(rates), draw(st.booleans())


@settings(max_examples=300)
@given(quotable_option())
def test_implied_vol_when_priced_then_round_trips_to_the_volatility(opt):
    f, k, t, v, r, c = opt
    quoted = price_scalar(f, k, t, v, r, c)
    recovered = implied_vol_scalar(quoted, f, k, t, r, c)
    # The error in sigma is the price's rounding divided by vega: bound it that way.
    _, g = price_and_greeks_scalar(f, k, t, v, r, c)
    tolerance = 1e-9 * v + 1e-13 * max(f, k) / g.vega
    assert abs(recovered - v) <= tolerance
    assert float(implied_vol(quoted, f, k, t, r, c)) == pytest.approx(recovered, rel=1e-9)


@given(options(size=st.integers(1, 60)))
def test_implied_vol_when_arrays_then_equals_scalar_twin_and_reprices(opts):
    f, k, t, v, r, c = opts
    quoted = price(f, k, t, v, r, c)
    vec = implied_vol(quoted, f, k, t, r, c)
    assert np.isfinite(vec).all() and (vec >= 0).all()
    for i in range(f.size):
        args = (float(f[i]), float(k[i]), float(t[i]), float(r[i]), bool(c[i]))
        ref = implied_vol_scalar(float(quoted[i]), *args)
        again = price_scalar(args[0], args[1], args[2], float(vec[i]), args[3], args[4])
        # Whatever the conditioning, the volatility found reprices the option.
        scale = math.exp(-r[i] * t[i]) * max(f[i], k[i])
        assert again == pytest.approx(float(quoted[i]), rel=1e-9, abs=1e-12 * scale)
        # The twins agree to the precision the price determines sigma: a few ulps of the
        # price over vega (deep in or out of the money that is loose, and legitimately so).
        vega = price_and_greeks_scalar(args[0], args[1], args[2], ref, args[3], args[4])[1].vega
        noise = 1e-14 * scale / vega if vega > 0 else math.inf
        assert abs(float(vec[i]) - ref) <= 1e-9 * ref + noise


def test_implied_vol_when_hull_call_price_then_twenty_percent():
    # Hull's S=42, K=40, r=10%, T=0.5 call at its Black-Scholes value 4.759422 (sigma 20%).
    f = 42.0 * math.exp(0.05)
    assert implied_vol_scalar(4.759422392871536, f, 40.0, 0.5, 0.1, True) == pytest.approx(
        0.2, abs=1e-12)
    assert float(implied_vol(0.8085993729000943, f, 40.0, 0.5, 0.1, False)) == pytest.approx(
        0.2, abs=1e-12)


def test_implied_vol_when_price_is_intrinsic_or_expired_then_zero():
    d = math.exp(-0.05)
    vols = implied_vol([10.0 * d, 0.0, 10.0, 0.0], 100.0, [90.0, 110.0, 90.0, 100.0],
                       [1.0, 1.0, 0.0, 0.0], 0.05, [True, True, True, False])
    assert vols.tolist() == [0.0, 0.0, 0.0, 0.0]
    assert implied_vol_scalar(10.0 * d, 100.0, 90.0, 1.0, 0.05, True) == 0.0


@pytest.mark.parametrize(("quoted", "t", "call", "reason"), [
    (5.0, 1.0, True, "below the discounted intrinsic value"),     # intrinsic 10
    (100.0, 1.0, True, "not below the no-arbitrage bound"),       # D F = 100 at r = 0
    (90.0, 1.0, False, "not below the no-arbitrage bound"),       # D K = 90
    (10.5, 0.0, True, "has time value at expiry"),
    (-1.0, 1.0, True, "must be >= 0"),
])
def test_implied_vol_when_price_outside_bounds_then_field_error(quoted, t, call, reason):
    for solver in (implied_vol, implied_vol_scalar):
        with pytest.raises(FieldError) as raised:
            solver(quoted, 100.0, 90.0, t, 0.0, call)
        assert raised.value.field == "price"
        assert reason in raised.value.reason


def test_implied_vol_when_one_bad_price_in_array_then_error_names_its_index():
    with pytest.raises(FieldError, match=r"price: below .* \(at index 2: 1\.0, 10\.0\)"):
        implied_vol([12.0, 11.0, 1.0], 100.0, 90.0, 1.0, 0.0, True)
