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


def test_options_setup_when_an_expiry_is_listed_twice_then_refused_naming_both() -> None:
    # options_crash.toml with a second WETH 30-day entry ("2592000" s) at 150%: the
    # second surface replaced the first, the set-up's trades were refused at that vol,
    # and the run said only "setup_rejected: 4 events".
    from marginengine.config import protocol_from_dict
    from marginengine.sim.options_scenario import OptionsSpec, options_setup

    cfg = protocol_from_dict({"markets": {"WETH": {}, "USDC": {"decimals": 6}},
                              "options": {"quote": "USDC"}})
    spec = OptionsSpec.model_validate({"expiries": [
        {"underlying": "WETH", "expiry": "30d", "vol": 0.6},
        {"underlying": "WETH", "expiry": 2_592_000, "vol": 1.5}]})
    problems: list[str] = []
    options_setup(spec, cfg, problems)
    assert problems == ["options.expiries.1: WETH expiry 2592000 given twice (first at "
                        "options.expiries.0)"]
