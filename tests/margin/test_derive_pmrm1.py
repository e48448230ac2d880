"""Derive's first portfolio margin, PMRM (v1), against Derive's own test vectors.

Source: derivexyz/v2-core at commit 7736900d395703c4f675376caa4c315402943831,
``test/risk-managers/unit-tests/PMRM/test-cases-portfolio-pm.json`` with its harness
``TestPMRM_ProtfolioCases.t.sol`` (the 44 portfolios below, transcribed: name, cash,
options (2023 expiry MMDD, strike, call/put, amount), perps (amount, entry price), base
amount, and Derive's IM and MM in whole dollars, ``margin / 1e18`` truncated), its
environment ``TestCaseExpiries.t.sol`` (spot 2,000, forwards, expiries 3-57 days + 8 h,
rates 2%) and ``PMRMTestBase.sol`` with ``test/config-test.sol`` ``getPMRMParams`` and
``getDefaultScenarios`` (the setUp overrides: rate add scale 0.12, confidence margin 0.4,
base and perp percents 2.5%).
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from marginengine.errors import FieldError
from marginengine.margin.derive_pmrm1 import (
    Pmrm1Params,
    derive_test_scenarios,
    evaluate_pmrm1,
)
from marginengine.margin.portfolio import (
    CollateralPosition,
    Expiry,
    OptionPosition,
    Portfolio,
)

PARAMS = Pmrm1Params(
    scenarios=derive_test_scenarios(),
    vol_range_up=0.45, vol_range_down=0.3, short_term_power=0.3, long_term_power=0.13,
    dte_floor_days=1.0,
    im_factor=1.3, base_static_discount=0.95, rate_mult_scale=4.0, rate_add_scale=0.12,
    peg_loss_threshold=0.98, peg_loss_factor=2.0, conf_threshold=0.6, conf_margin=0.4,
    base_percent=0.025, perp_percent=0.025, option_percent=0.01,
    basis_spot_up=1.05, basis_spot_down=0.95, basis_add_factor=0.25, basis_mult_factor=0.01)

DAY = 86_400
EXPIRY_DAYS = {"0104": 3, "0111": 10, "0118": 17, "0227": 57}
FORWARD = {"0104": 2000.91345, "0111": 2002.83305, "0118": 2004.7545, "0227": 2015.7696}

CASES: list[Any] = [('short_ITM_call', 0.0, [('0118', 1400, 'c', -1.0)], [], 0, -1021, -925),
 ('short_ITM_put', 0.0, [('0118', 3000, 'p', -1.5)], [], 0, -2118, -1973),
 ('long_ATM_put', 0.0, [('0118', 2000, 'p', 1.0)], [], 0, -23, 1),
 ('long_ATM_call', 0.0, [('0118', 2000, 'c', 1.0)], [], 0, -26, 0),
 ('short_OTM_call', 0.0, [('0118', 2700, 'c', 1.0)], [], 0, 0, 0),
 ('short_OTM', 0.0, [('0118', 1700, 'p', -1.0)], [], 0, -168, -131),
 ('long_ITM_call_spread', 0.0, [('0111', 500, 'c', 1.0), ('0111', 700, 'c', -1.0)], [], 0, 159,
  168),
 ('long_OTM_call_spread', 0.0, [('0111', 3500, 'c', 1.0), ('0111', 3700, 'c', -1.0)], [], 0,
  -26, -20),
 ('short_ITM_call_spread', 0.0, [('0111', 500, 'c', -1.0), ('0111', 700, 'c', 1.0)], [], 0,
  -226, -220),
 ('short_OTM_call_spread', 0.0, [('0111', 3500, 'c', -1.0), ('0111', 3700, 'c', 1.0)], [], 0,
  -26, -20),
 ('long_ITM_put_spread', 0.0, [('0111', 3500, 'p', -1.0), ('0111', 3900, 'p', 1.0)], [], 0,
  345, 357),
 ('long_OTM_put_spread', 0.0, [('0111', 800, 'p', -1.0), ('0111', 900, 'p', 1.0)], [], 0, -26,
  -20),
 ('short_ATM_put_spread', 0.0, [('0111', 1900, 'p', 1.0), ('0111', 2200, 'p', -1.0)], [], 0,
  -360, -319),
 ('short_OTM_put_spread', 0.0, [('0111', 1600, 'p', 1.0), ('0111', 1900, 'p', -1.0)], [], 0,
  -270, -213),
 ('long_box', 0.0,
  [('0111', 1000, 'c', 1.0), ('0111', 2000, 'p', 1.0), ('0111', 1000, 'p', -1.0),
   ('0111', 2000, 'c', -1.0)],
  [], 0, 928, 944),
 ('short_box', 0.0,
  [('0111', 1000, 'p', 1.0), ('0111', 2000, 'c', 1.0), ('0111', 1000, 'c', -1.0),
   ('0111', 2000, 'p', -1.0)],
  [], 0, -1000, -1000),
 ('long_box_short_box_different_expiries', 0.0,
  [('0118', 1000, 'c', -1.0), ('0118', 2000, 'p', -1.0), ('0118', 1000, 'p', 1.0),
   ('0118', 2000, 'c', 1.0), ('0227', 1000, 'p', -1.0), ('0227', 2000, 'c', -1.0),
   ('0227', 1000, 'c', 1.0), ('0227', 2000, 'p', 1.0)],
  [], 0, -103, -79),
 ('long_ATM_perp', 0.0, [], [(1.0, 2000.0)], 0, -454, -349),
 ('long_ITM_perp', 0.0, [], [(1.0, 1805.0)], 0, -259, -154),
 ('long_OTM_perp', 0.0, [], [(1.0, 2305.0)], 0, -759, -654),
 ('short_ATM_perp', 0.0, [], [(-1.0, 2005.0)], 0, -451, -346),
 ('short_ITM_perp', 0.0, [], [(-1.0, 2505.0)], 0, 48, 153),
 ('short_OTM_perp', 0.0, [], [(-1.0, 1205.0)], 0, -1251, -1146),
 ('long_base', 0.0, [], [], 1.0, 1545, 1650),
 ('covered_atm_call', 0.0, [('0118', 2000, 'c', -1.0)], [], 1.0, 1509, 1602),
 ('covered_itm_call', 0.0, [('0118', 1500, 'c', -1.0)], [], 1.0, 1361, 1391),
 ('delta_hedged_perp', 0.0, [], [(-1.0, 2005.0)], 1.0, 1873, 1903),
 ('long_forward', 0.0, [('0111', 2000, 'c', 1.0), ('0111', 2000, 'p', -1.0)], [], 0, -387,
  -297),
 ('short_forward', 0.0, [('0111', 2000, 'c', -1.0), ('0111', 2000, 'p', 1.0)], [], 0, -393,
  -303),
 ('long_ITM_forward', 0.0, [('0111', 1500, 'c', 1.0), ('0111', 1500, 'p', -1.0)], [], 0, 97,
  191),
 ('short_ITM_forward', 0.0, [('0111', 1500, 'c', -1.0), ('0111', 1500, 'p', 1.0)], [], 0, -893,
  -803),
 ('long_OTM_forward', 0.0, [('0111', 3500, 'c', 1.0), ('0111', 3500, 'p', -1.0)], [], 0, -1887,
  -1797),
 ('short_OTM_forward', 0.0, [('0111', 3500, 'c', -1.0), ('0111', 3500, 'p', 1.0)], [], 0, 1020,
  1130),
 ('long_perp_short_call', 0.0, [('0118', 2000, 'c', -1.0)], [(1.0, 2005.0)], 0, -494, -401),
 ('short_perp_long_call', 0.0, [('0118', 2000, 'c', 1.0)], [(-1.0, 2005.0)], 0, -102, -57),
 ('multi_expiry', 0.0,
  [('0118', 2000, 'c', 1.0), ('0118', 2500, 'p', 1.0), ('0227', 1900, 'c', -3.0)], [], 0,
  -1249, -977),
 ('long_jelly_roll', 0.0,
  [('0111', 2000, 'c', 1.0), ('0111', 2000, 'p', -1.0), ('0227', 2300, 'c', -1.0),
   ('0227', 2300, 'p', 1.0)],
  [], 0, 221, 236),
 ('short_jelly_roll', 0.0,
  [('0111', 2000, 'c', -1.0), ('0111', 2000, 'p', 1.0), ('0227', 2300, 'c', 1.0),
   ('0227', 2300, 'p', -1.0)],
  [], 0, -352, -337),
 ('depeg_contingency', 0.0, [('0118', 1700, 'p', -1.0)], [], 0, -364, -131),
 ('oracle_cont_long_call', 0.0, [('0118', 1700, 'c', 1.0)], [], 0, -752, 46),
 ('oracle_cont_short_call', 0.0, [('0118', 1700, 'c', -1.0)], [], 0, -1445, -629),
 ('oracle_cont_base_asset', 0.0, [], [], 1.0, 825, 1650),
 ('oracle_cont_long_perp_asset', 0.0, [], [(1.0, 2005.0)], 0, -1179, -354),
 ('general_portfolio', -4342.42,
  [('0118', 1700, 'c', -1.0), ('0118', 1700, 'p', 32.0), ('0118', 2100, 'c', 11.0),
   ('0118', 2100, 'p', 4.0), ('0118', 1000, 'c', -111.0), ('0118', 1000, 'p', -344.0),
   ('0227', 2700, 'c', -4.0), ('0227', 2700, 'p', 34.0), ('0227', 3100, 'c', -0.2),
   ('0227', 3100, 'p', 14.0), ('0227', 1500, 'c', -0.11111), ('0227', 1500, 'p', 0.344)],
  [(5.2, 2005.0)], 100.0, -371689, 93595)]

# The per-test environment of TestPMRM_ProtfolioCases.t.sol: spot and its confidence, the
# stable price, the perp's price and confidence, vols (vol, confidence) of (expiry,
# strike) and forwards (price, confidence).
OVERRIDES: dict[str, dict[str, Any]] = {
    "depeg_contingency": {"stable": 0.2},
    "oracle_cont_long_call": {"spot_conf": 0.1, "vols": {("0118", 1700): (0.5, 0.3)},
                              "forwards": {"0118": (2004.75, 0.4)}},
    "oracle_cont_short_call": {"spot_conf": 0.1, "vols": {("0118", 1700): (0.5, 0.1)},
                               "forwards": {"0118": (2004.75, 0.4)}},
    "oracle_cont_base_asset": {"spot_conf": 0.1, "vols": {("0118", 1700): (0.01, 0.1)},
                               "forwards": {"0118": (2004.75, 0.02)}},
    "oracle_cont_long_perp_asset": {"spot_conf": 0.3, "vols": {("0118", 1700): (0.5, 0.1)},
                                    "forwards": {"0118": (2004.75, 0.02)},
                                    "perp": (2001.0, 0.1)},
    "general_portfolio": {"spot": 2004.0, "spot_conf": 0.3,
                          "vols": {("0118", 1700): (0.15, 0.1), ("0118", 2100): (1.01, 0.1),
                                   ("0118", 1000): (0.33, 0.1)},
                          "forwards": {"0227": (2014.7545, 0.2)}, "perp": (2017.0, 0.3)},
}


def case_portfolio(name: str, cash: float, options: list[Any], perps: list[Any],
                   base: float) -> Portfolio:
    """The harness's portfolio: a vol of 50% at confidence 1 for each strike not set
    before (one vol confidence per expiry: the last set), rates 2%, the perp at 2,001
    with unrealised P&L ``(price - entry) x amount``, the base (wETH) at spot."""
    o = OVERRIDES.get(name, {})
    spot = o.get("spot", 2000.0)
    vols: dict[tuple[str, int], float] = {}
    vol_conf: dict[str, float] = {}
    for (e, k), (v, c) in o.get("vols", {}).items():
        vols[e, k] = v
        vol_conf[e] = c
    for e, k, _, _ in options:
        if (e, k) not in vols:
            vols[e, k] = 0.5
            vol_conf[e] = 1.0
    held = sorted({e for e, _, _, _ in options})
    expiries = []
    for e in held:
        fwd, fwd_conf = o.get("forwards", {}).get(e, (FORWARD[e], 1.0))
        expiries.append(Expiry(float(EXPIRY_DAYS[e] * DAY + 8 * 3600), fwd, 0.0, 0.02,
                               min(fwd_conf, vol_conf[e])))
    perp_price, perp_conf = o.get("perp", (2001.0, 1.0))
    return Portfolio(
        spot=spot, expiries=tuple(expiries),
        options=tuple(OptionPosition(held.index(e), float(k), kind == "c", a, vols[e, k])
                      for e, k, kind, a in options),
        perp_position=sum(a for a, _ in perps), perp_price=perp_price,
        perp_value=sum((perp_price - entry) * a for a, entry in perps), cash=cash,
        collaterals=(CollateralPosition("ETH", base, spot),) if base else (),
        spot_confidence=o.get("spot_conf", 1.0), perp_confidence=perp_conf,
        stable_price=o.get("stable", 1.0))


def matches_whole(value: float, derive: int) -> bool:
    """Derive's whole dollars (``x / 1e18`` toward zero) of our float, or the float within
    1e-9 of Derive's figure when that is an exact integer boundary (one case: the base
    asset's IM is 825 exactly, our float 824.9999999999998)."""
    return math.trunc(value) == derive or abs(value - derive) <= 1e-9 * max(1.0, abs(value))


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_evaluate_pmrm1_when_derive_case_then_im_and_mm_match(case: Any) -> None:
    name, cash, options, perps, base, im, mm = case
    result = evaluate_pmrm1(case_portfolio(name, cash, options, perps, base), PARAMS)
    assert matches_whole(result.initial, im), (result.initial, im)
    assert matches_whole(result.maintenance, mm), (result.maintenance, mm)


def test_evaluate_pmrm1_when_long_perp_then_worked_figures() -> None:
    # long_ATM_perp: long 1 perp entered at 2,000, marked at 2,001 (P&L +1). Worst: spot
    # -15% on the perp's price, -0.15 x 2,001 = -300.15; contingency 2.5% x 2,000 = 50.
    # MM = -300.15 - 50 + 1 = -349.15; IM = (-350.15) x 1.3 + 1 = -454.195.
    result = evaluate_pmrm1(case_portfolio("long_ATM_perp", 0.0, [], [(1.0, 2000.0)], 0.0),
                            PARAMS)
    assert result.worst == pytest.approx(-300.15, abs=1e-9)
    assert result.static_contingency == pytest.approx(50.0, abs=1e-9)
    assert result.maintenance == pytest.approx(-349.15, abs=1e-9)
    assert result.initial == pytest.approx(-454.195, abs=1e-9)
    # (0.85, up): the first of the three spot -15% scenarios (a perp ignores vol); Derive
    # also keeps the first that is strictly lower.
    assert result.worst_scenario == 18


def test_evaluate_pmrm1_when_low_spot_confidence_then_base_pays_the_contingency() -> None:
    # oracle_cont_base_asset: 1 ETH at 2,000, spot confidence 0.1 < 0.6: IM less
    # (1 - 0.1) x 0.4 x 1 x 2,000 = 720; worst spot -15% = -300, less 2.5% x 2,000 = 50.
    r = evaluate_pmrm1(case_portfolio("oracle_cont_base_asset", 0.0, [], [], 1.0), PARAMS)
    assert r.confidence_contingency == pytest.approx(720.0, abs=1e-9)
    assert r.maintenance == pytest.approx(2000.0 - 300.0 - 50.0, abs=1e-9)
    assert r.initial == pytest.approx(2000.0 - 350.0 * 1.3 - 720.0, abs=1e-9)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("im_factor", 0.9, "im_factor: must be a number in [1, 4] (got 0.9)"),
    ("dte_floor_days", 0.001, "dte_floor_days: must be a number in [0.01, 100] (got 0.001)"),
    ("basis_spot_up", 1.0, "basis_spot_up: must be > 1 (got 1)"),
    ("scenarios", ((1.0, "sideways"),),
     "scenarios.0.vol_shock: must be one of up, none, down (got 'sideways')"),
])
def test_pmrm1_params_when_out_of_derives_bounds_then_error_names_field(
        field: str, value: Any, message: str) -> None:
    from dataclasses import replace
    with pytest.raises(FieldError) as err:
        replace(PARAMS, **{field: value})
    assert str(err.value) == message
