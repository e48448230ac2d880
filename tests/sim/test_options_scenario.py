"""vol_ppm: a vol written as a fraction, in ppm, within the surface's bounds (1%..1000%)."""

from __future__ import annotations

import pytest

from marginengine.sim.options_scenario import vol_ppm


@pytest.mark.parametrize(("raw", "ppm"), [("0.6", 600_000), (0.6, 600_000), ("10", 10_000_000),
                                          # truncated to ppm, then bounded (as before)
                                          ("10.0000001", 10_000_000), ("0.01", 10_000)])
def test_vol_ppm_when_in_bounds_then_truncated_ppm(raw: object, ppm: int) -> None:
    problems: list[str] = []
    assert vol_ppm(raw, "vols.WETH", problems) == ppm
    assert problems == []


@pytest.mark.parametrize("raw", ["NaN", "sNaN", "inf", "-inf", "1e999999999", "-1e999999999",
                                 10**400, "0.0099999995", "10.000001"])
def test_vol_ppm_when_not_finite_or_out_of_bounds_then_problem_not_exception(
        raw: object) -> None:
    # NaN, infinity and 1e999999999 once raised from int() / the decimal context.
    problems: list[str] = []
    assert vol_ppm(raw, "vols.WETH", problems) is None
    assert problems == [f"vols.WETH: must be in 0.01..10 (got {raw})"]


def test_vol_ppm_when_signed_then_bounds_are_symmetric() -> None:
    assert vol_ppm("-10", "skew", [], signed=True) == -10_000_000
    problems: list[str] = []
    assert vol_ppm("-1e999999999", "skew", problems, signed=True) is None
    assert problems == ["skew: must be in -10..10 (got -1e999999999)"]
