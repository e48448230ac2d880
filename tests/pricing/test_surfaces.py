"""Volatility surfaces: SVI slices and their validation, the grid, interpolation in time."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from marginengine.errors import FieldError
from marginengine.pricing import GridSurface, SVIParams, SVISurface, VolSurface, price

SLICE = SVIParams(a=0.04, b=0.4, rho=-0.4, m=0.1, sigma=0.2)


def test_svi_total_variance_when_worked_points_then_formula_values():
    # w(k) = a + b (rho (k - m) + sqrt((k - m)^2 + sigma^2)), worked by hand:
    # k = m: a + b sigma = 0.04 + 0.08 = 0.12;
    # k = 0: 0.04 + 0.4 (0.04 + sqrt(0.05)) = 0.145442719...
    assert SLICE.total_variance([0.1, 0.0]).tolist() == pytest.approx(
        [0.12, 0.04 + 0.4 * (0.04 + math.sqrt(0.05))], rel=1e-15)
    assert SLICE.total_variance_scalar(0.0) == pytest.approx(0.1454427191, rel=1e-10)
    # The minimum a + b sigma sqrt(1 - rho^2) = 0.04 + 0.08 sqrt(0.84) is attained:
    k = np.linspace(-1, 1, 200_001)
    assert SLICE.min_total_variance == pytest.approx(0.04 + 0.08 * math.sqrt(0.84), rel=1e-15)
    assert float(SLICE.total_variance(k).min()) == pytest.approx(SLICE.min_total_variance,
                                                                  rel=1e-9)
    # Far wings grow with slopes b (1 - rho) = 0.56 to the left, b (1 + rho) = 0.24 right.
    w = SLICE.total_variance([-100.0, -101.0, 100.0, 101.0])
    assert w[1] - w[0] == pytest.approx(0.56, rel=1e-5)
    assert w[3] - w[2] == pytest.approx(0.24, rel=1e-5)


@pytest.mark.parametrize(("change", "field", "reason"), [
    ({"b": -0.1}, "svi.b", "must be >= 0"),
    ({"rho": 1.0}, "svi.rho", "strictly between -1 and 1"),
    ({"rho": -1.5}, "svi.rho", "strictly between -1 and 1"),
    ({"sigma": 0.0}, "svi.sigma", "must be > 0"),
    ({"a": -0.2}, "svi.a", "negative at its minimum"),
    ({"b": 1.5, "rho": 0.5}, "svi.b", "Lee's moment bound"),
    ({"m": float("nan")}, "svi.m", "must be finite"),
    ({"a": "0.1"}, "svi.a", "must be a number"),
])
def test_svi_params_when_condition_fails_then_error_names_field(change, field, reason):
    params = {"a": 0.04, "b": 0.4, "rho": -0.4, "m": 0.1, "sigma": 0.2} | change
    with pytest.raises(FieldError) as raised:
        SVIParams(**params)
    assert raised.value.field == field
    assert reason in raised.value.reason


def test_svi_params_when_minimum_exactly_zero_then_accepted():
    # a + b sigma sqrt(1 - rho^2) = 0: allowed (w touches 0 at one strike).
    p = SVIParams(a=-0.4 * 0.2, b=0.4, rho=0.0, m=0.0, sigma=0.2)
    assert p.min_total_variance == 0.0


def test_svi_surface_from_mapping_when_bad_slice_then_error_names_slice_and_field():
    good = {"a": 0.04, "b": 0.4, "rho": -0.4, "m": 0.1, "sigma": 0.2}
    with pytest.raises(FieldError, match=r"^slices\.1\.rho: must be strictly"):
        SVISurface.from_mapping({"expiries": [0.1, 0.2], "slices": [good, good | {"rho": 2}]})
    with pytest.raises(FieldError, match=r"^slices\.0\.sigma: is required"):
        SVISurface.from_mapping({"expiries": [0.1], "slices": [{"a": 0, "b": 0, "rho": 0,
                                                                "m": 0}]})
    with pytest.raises(FieldError, match=r"^slices\.0\.nu: is not an SVI parameter"):
        SVISurface.from_mapping({"expiries": [0.1], "slices": [good | {"nu": 1}]})
    with pytest.raises(FieldError, match=r"^expiries\.1: must be after expiries\.0"):
        SVISurface.from_mapping({"expiries": [0.2, 0.1], "slices": [good, good]})
    with pytest.raises(FieldError, match=r"^slices: must have one SVI slice per expiry"):
        SVISurface.from_mapping({"expiries": [0.1, 0.2], "slices": [good]})
    with pytest.raises(FieldError, match=r"^expiries\.0: must be a finite time > 0"):
        SVISurface.from_mapping({"expiries": [0.0], "slices": [good]})
    with pytest.raises(FieldError, match=r"^expiries: is required"):
        SVISurface.from_mapping({"slices": [good]})


# Two slices with flat smiles (b = 0: w = a) make the time rule visible.
FLAT = SVISurface([0.25, 1.0], [SVIParams(0.01, 0.0, 0.0, 0.0, 0.1),
                                 SVIParams(0.09, 0.0, 0.0, 0.0, 0.1)])


def test_svi_surface_when_between_before_after_expiries_then_documented_rule():
    # Slice vols: sqrt(0.01 / 0.25) = 20%, sqrt(0.09 / 1) = 30%.
    t = np.array([0.0, 0.1, 0.25, 0.625, 1.0, 4.0])
    w = FLAT.total_variance(0.0, t)
    # Before T_1: constant 20% vol (w = 0.04 T); between: linear in T; after T_n: 30% vol.
    assert w.tolist() == pytest.approx([0.0, 0.004, 0.01, 0.05, 0.09, 0.36], rel=1e-14)
    vols = FLAT.implied_vol(100.0, 100.0, t)
    assert vols.tolist() == pytest.approx([0.2, 0.2, 0.2, math.sqrt(0.05 / 0.625), 0.3, 0.3],
                                          rel=1e-14)
    # Flat surface: the implied vol is the same at any strike.
    assert FLAT.implied_vol([50.0, 200.0], 100.0, 0.625).tolist() == pytest.approx(
        [math.sqrt(0.08)] * 2, rel=1e-14)


def test_svi_surface_when_pricing_then_equals_black_at_the_surface_vol():
    # An SVI surface plugs into the pricer through implied_vol (the VolSurface protocol).
    surface: VolSurface = FLAT
    vol = surface.implied_vol(110.0, 100.0, 0.625)
    assert float(price(100.0, 110.0, 0.625, vol, 0.02, True)) == pytest.approx(
        float(price(100.0, 110.0, 0.625, math.sqrt(0.08), 0.02, True)), rel=1e-14)


def test_svi_check_calendar_when_later_slice_lower_somewhere_then_error_names_slice():
    # T_1: w = 0.05 + 0.1 sqrt(k^2 + 0.01); T_2: w = 0.02 + 0.3 sqrt(k^2 + 0.01).
    # At k = 0: 0.06 then 0.05 (decreasing: calendar arbitrage); at |k| >= 1 increasing.
    crossing = SVISurface([0.25, 1.0], [SVIParams(0.05, 0.1, 0.0, 0.0, 0.1),
                                         SVIParams(0.02, 0.3, 0.0, 0.0, 0.1)])
    crossing.check_calendar([-2.0, -1.0, 1.0, 2.0])
    with pytest.raises(FieldError, match=r"^slices\.1: total variance 0\.05\d* at k = 0\.0 "
                                         r"is below the previous expiry's 0\.06"):
        crossing.check_calendar([-1.0, 0.0, 1.0])
    FLAT.check_calendar(np.linspace(-3, 3, 61))


SMILE = SVISurface([0.05, 0.3, 1.0], [
    SVIParams(0.002, 0.05, -0.5, 0.0, 0.05),
    SVIParams(0.015, 0.12, -0.4, 0.02, 0.12),
    SVIParams(0.05, 0.2, -0.3, 0.05, 0.25),
])
GRID = GridSurface([0.1, 0.5], [80.0, 100.0, 120.0], [[0.6, 0.5, 0.55], [0.55, 0.45, 0.5]])


@given(st.lists(st.tuples(st.floats(1.0, 1e4), st.floats(-2.0, 2.0), st.floats(0.0, 3.0)),
                min_size=1, max_size=30))
def test_surfaces_when_vectorized_then_equal_scalar_twins(points):
    f = np.array([p[0] for p in points])
    strike = f * np.exp(np.array([p[1] for p in points]))
    t = np.array([p[2] for p in points])
    for surface in (SMILE, GRID):
        vec = surface.implied_vol(strike, f, t)
        ref = [surface.implied_vol_scalar(float(k), float(ff), float(tt))
               for k, ff, tt in zip(strike, f, t, strict=True)]
        assert np.isfinite(vec).all() and (vec > 0).all()
        assert vec.tolist() == pytest.approx(ref, rel=1e-13)


def test_grid_when_worked_points_then_linear_in_strike_and_total_variance_in_time():
    # In strike at T_1: K=90 halfway between 0.60 and 0.50; beyond the ends: flat.
    assert GRID.implied_vol([90.0, 60.0, 150.0], 100.0, 0.1).tolist() == pytest.approx(
        [0.55, 0.6, 0.55], rel=1e-14)
    # In time at K=100, T=0.3: w = 0.5 * 0.5^2 * 0.1 + 0.5 * 0.45^2 * 0.5 = 0.063125.
    assert float(GRID.implied_vol(100.0, 100.0, 0.3)) == pytest.approx(
        math.sqrt(0.063125 / 0.3), rel=1e-14)
    # Before the first expiry and after the last: the nearest expiry's vol.
    assert GRID.implied_vol(100.0, 100.0, [0.0, 0.05, 2.0]).tolist() == pytest.approx(
        [0.5, 0.5, 0.45], rel=1e-14)
    assert GRID.total_variance_at_grid()[1].tolist() == pytest.approx(
        [0.55**2 * 0.5, 0.45**2 * 0.5, 0.5**2 * 0.5])


@pytest.mark.parametrize(("args", "field"), [
    (([0.1, 0.5], [80.0, 100.0, 120.0], [[0.6, 0.5, 0.55], [0.55, 0.0, 0.5]]), "vols.1.1"),
    (([0.1, 0.5], [80.0, 100.0, 120.0], [[0.6, 0.5, 0.55]]), "vols"),
    (([0.1, 0.5], [80.0, 80.0, 120.0], [[0.6, 0.5, 0.55]] * 2), "strikes.1"),
    (([0.1, 0.5], [-80.0, 100.0, 120.0], [[0.6, 0.5, 0.55]] * 2), "strikes"),
    (([0.5, 0.5], [80.0, 100.0, 120.0], [[0.6, 0.5, 0.55]] * 2), "expiries.1"),
    (([0.1, 0.5], [80.0, 100.0, 120.0], [[0.6, float("inf"), 0.55]] * 2), "vols.0.1"),
])
def test_grid_when_bad_table_then_error_names_cell(args, field):
    with pytest.raises(FieldError) as raised:
        GridSurface(*args)
    assert raised.value.field == field


def test_surfaces_when_bad_query_then_error_names_argument():
    for surface in (SMILE, GRID):
        with pytest.raises(FieldError, match="^strike: must be > 0"):
            surface.implied_vol(0.0, 100.0, 0.1)
        with pytest.raises(FieldError, match="^t: must be >= 0"):
            surface.implied_vol(100.0, 100.0, -0.1)
        with pytest.raises(FieldError, match="^forward: must be finite"):
            surface.implied_vol(100.0, float("nan"), 0.1)
        with pytest.raises(FieldError, match="^shape: strike"):
            surface.implied_vol([90.0, 100.0], 100.0, [0.1, 0.2, 0.3])
