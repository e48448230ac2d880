"""PMRM_2 scenario-grid math against Derive's own worked cases.

Source: derivexyz/v2-core, ``src/risk-managers/PMRMLib_2.sol`` (the algorithm) and
``test/risk-managers/unit-tests/PMRM_2/portfolio_cases/test_50_discounting_simple_
discounting.json``, ``test_52_discounting_multi_expiry_discounting.json``,
``test_58_min_shock_min_eval_vol_shock.json`` and ``test_34_tails_basic_tail_test.json``
(inputs, parameters and every intermediate value). The figures below are copied from those files.
"""

from __future__ import annotations

import numpy as np
import pytest

from marginengine.errors import FieldError
from marginengine.pricing import price_scalar
from marginengine.pricing.scenarios import (
    SECONDS_PER_YEAR,
    VOL_DOWN,
    VOL_NONE,
    VOL_UP,
    BasisContingencyParams,
    Scenarios,
    StaticDiscountParams,
    VolShockParams,
    basis_contingency,
    basis_scenarios,
    expiry_scenario_pnl,
    perp_scenario_pnl,
    scenario_values,
    shocked_vols,
    static_discounts,
    sum_by_expiry,
    vol_shock_multipliers,
)

# The parameters of the cases: VolShock, Margin and BasisContingency sections.
VOL = VolShockParams(vol_range_up=0.5, vol_range_down=0.275, short_term_power=0.3,
                     long_term_power=0.13, dte_floor_seconds=86_400, min_vol_up=0.45)
DISCOUNT = StaticDiscountParams(long_base=0.95, long_rate_mult=1.0, long_rate_add=0.08,
                                short_base=1.04, short_rate_mult=0.5, short_rate_add=0.08)
BASIS = BasisContingencyParams(spot_up=1.045, spot_down=0.955, add_factor=0.5, mult_factor=2.0)

# The 23 regular scenarios of the cases, in their order: +18% up-vol, then for each of
# +13.5% .. -13.5% in 4.5% steps down / none / up, then -18% up-vol.
_STEPS = [1.135, 1.09, 1.045, 1.0, 0.955, 0.91, 0.865]
REGULAR = Scenarios.of(
    [1.18] + [s for s in _STEPS for _ in range(3)] + [0.82],
    [VOL_UP] + [VOL_DOWN, VOL_NONE, VOL_UP] * len(_STEPS) + [VOL_UP])


def portfolio_pnl(options, forwards, rates, vol_params=VOL,  # type: ignore[no-untyped-def]
                  scenarios=REGULAR):
    """Scenario P&L and basis contingency of an options-only portfolio, composed from the
    kernels the way PMRMLib_2's getScenarioPnL and _addBasisContingency do."""
    expiries = sorted(forwards)
    idx = np.array([expiries.index(o[0]) for o in options])
    tte = np.array([o[0] for o in options], dtype=float)
    args = dict(forward_variable=np.array([forwards[o[0]] for o in options]), forward_fixed=0.0,
                strike=np.array([o[1] for o in options]), sec_to_expiry=tte,
                vol=np.array([o[4] for o in options]),
                rate=np.array([rates[o[0]] for o in options]),
                is_call=np.array([bool(o[2]) for o in options]), params=vol_params)
    amounts = np.array([o[3] for o in options])
    shocked = sum_by_expiry(scenario_values(scenarios=scenarios, **args), amounts, idx,
                            len(expiries))
    basis = sum_by_expiry(scenario_values(scenarios=basis_scenarios(BASIS), **args), amounts,
                          idx, len(expiries))
    mtm = basis[:, 2]
    e_tte = np.array(expiries, dtype=float)
    e_rate = np.array([rates[e] for e in expiries])
    pos, neg = static_discounts(e_tte, e_rate, DISCOUNT)
    pnl = expiry_scenario_pnl(shocked, mtm, pos, neg, scenarios).sum(axis=0)
    contingency = basis_contingency(mtm, basis[:, 0], basis[:, 1], e_tte, BASIS).sum()
    return pnl, float(contingency), mtm, (pos, neg)


def test_simple_discounting_case_when_short_deep_itm_call_then_derive_figures():
    # test_50: short 1 call, strike 100, expiry in 794,852 s, vol 1.2255, forward 2683.0,
    # rate 60% (mark discount 0.98499).
    options = [(794_852, 100.0, 1, -1.0, 1.225482363870083)]
    pnl, contingency, mtm, (pos, neg) = portfolio_pnl(options, {794_852: 2682.9997436016715},
                                                      {794_852: 0.6})
    up, down = vol_shock_multipliers(794_852, VOL)
    assert float(up) == pytest.approx(1.712811375927374, rel=1e-13)
    assert float(down) == pytest.approx(0.6079537432399443, rel=1e-13)
    # discount_factors: positive 0.93386; negative capped at 1 / D = 1.01524.
    assert (float(pos[0]), float(neg[0])) == pytest.approx(
        (0.9338565711165544, 1.0152376824144576), rel=1e-13)
    assert float(mtm[0]) == pytest.approx(-2544.2315512351083, rel=1e-12)
    # reg_losses [0], [1], [11], [22] and the ForwardContingency.
    assert pnl[[0, 1, 11, 22]].tolist() == pytest.approx(
        [-521.708146214864, -400.973157752789, -38.768192366563, 444.171761481737], rel=1e-11)
    assert float(pnl.min()) == pytest.approx(-521.708146214864, rel=1e-11)  # worst_reg_loss
    assert contingency == pytest.approx(-65.45624490581292, rel=1e-11)


def test_multi_expiry_case_when_long_and_short_expiries_then_derive_figures():
    # test_52: long 1.5 calls K=100,000 and 2.1 puts K=120,000 expiring in 18,938,852 s
    # (rate 20%), short 4 puts K=120,000 expiring in 11,076,452 s (rate 10%).
    options = [(18_938_852, 100_000.0, 1, 1.5, 0.5543377511787965),
               (18_938_852, 120_000.0, 0, 2.1, 0.5665119096978181),
               (11_076_452, 120_000.0, 0, -4.0, 0.5646450091750466)]
    forwards = {18_938_852: 100_374.61000117072, 11_076_452: 98_198.07812501276}
    pnl, contingency, mtm, (pos, neg) = portfolio_pnl(options, forwards,
                                                      {18_938_852: 0.2, 11_076_452: 0.1})
    # Expiries sorted by time: the short-dated first.
    assert mtm.tolist() == pytest.approx([-107_714.70579911319, 79_697.72596808344], rel=1e-11)
    assert (float(pos[1]), float(neg[1])) == pytest.approx(
        (0.8029631388059034, 1.127620219411916), rel=1e-13)
    assert (float(pos[0]), float(neg[0])) == pytest.approx(
        (0.8917985146283806, 1.035747303851427), rel=1e-13)
    # VolShockUpEvaluated of the three options.
    vols = shocked_vols([0.5543377511787965, 0.5665119096978181, 0.5646450091750466],
                        [18_938_852, 18_938_852, 11_076_452], REGULAR, VOL)
    assert vols[:, 0].tolist() == pytest.approx(
        [0.7683610408291298, 0.7852354988486363, 0.7983919634477028], rel=1e-13)
    assert vols[:, 1].tolist() == pytest.approx(
        [0.4366249418711131, 0.446213935664868, 0.43608418432508556], rel=1e-13)
    assert pnl[[0, 1, 11, 12, 22]].tolist() == pytest.approx(
        [13_316.399254784890, 14_128.771064391934, -19_553.900086526388,
         -23_314.426344028834, -64_978.620774194904], rel=1e-10)
    assert contingency == pytest.approx(-15_902.312665071751, rel=1e-10)


def test_min_vol_case_when_vol_up_below_floor_then_floored_at_min_vol():
    # test_58: short 15 ATM-ish calls at vol 14.7%, 794,852 s, rate 15%, with the minimum
    # volatility on vol-up raised to 100%: VolShockUpEvaluated is 1.0 (not 0.147 * 1.71).
    params = VolShockParams(0.5, 0.275, 0.3, 0.13, 86_400, min_vol_up=1.0)
    options = [(794_852, 2500.0, 1, -15.0, 0.14679432572503934)]
    pnl, contingency, mtm, _ = portfolio_pnl(options, {794_852: 2501.396758501672},
                                             {794_852: 0.15}, vol_params=params)
    vols = shocked_vols(0.14679432572503934, 794_852, REGULAR, params)
    assert float(vols[0, 0]) == 1.0
    assert float(vols[0, 1]) == pytest.approx(0.08924415981092132, rel=1e-13)
    assert float(mtm[0]) == pytest.approx(-357.9600601786269, rel=1e-11)
    assert pnl[[0, 10, 11, 12]].tolist() == pytest.approx(
        [-6909.081698385438, 135.298759275934, -1.355897065026, -2025.797113477228], rel=1e-9)
    assert contingency == pytest.approx(-745.5316866321173, rel=1e-10)


def test_tail_case_when_dampened_scenarios_then_derive_tail_losses():
    # test_34: short 1 call K=4,000 (forward 2,683, 794,852 s, vol 0.8796, rate 15%);
    # tail scenarios, all vol-up, with dampening factors 4, 2, 1, 0 and 5.
    tails = Scenarios.of([0.34, 0.67, 1.5, 2.0, 3.0], [VOL_UP] * 5, [4.0, 2.0, 1.0, 0.0, 5.0])
    options = [(794_852, 4000.0, 1, -1.0, 0.8795543651099665)]
    forwards, rates = {794_852: 2682.9997436016715}, {794_852: 0.15}
    pnl, contingency, _, _ = portfolio_pnl(options, forwards, rates, scenarios=tails)
    assert pnl.tolist() == pytest.approx(
        [1.130253149200302, 0.428087146975999, -394.014228129779, 0.0, -20246.949927574693],
        rel=1e-11)
    assert contingency == pytest.approx(-0.29054962061098516, rel=1e-11)
    regular, _, _, _ = portfolio_pnl(options, forwards, rates)
    assert float(regular[11]) == pytest.approx(-0.00107030589418039, rel=1e-9)


def test_vol_shock_multipliers_when_tenors_then_term_structure():
    # 30 days exactly uses the short power with ratio 1: up 1.5, down 0.725. At 1 hour the
    # 1-day floor caps the ratio at 30; at 365 days the long power applies.
    up, down = vol_shock_multipliers([30 * 86_400, 3_600, 365 * 86_400], VOL)
    assert up.tolist() == pytest.approx([1.5, 1 + 0.5 * 30**0.3, 1 + 0.5 * (30 / 365)**0.13])
    assert down.tolist() == pytest.approx([0.725, 1 - 0.275 * 30**0.3,
                                           1 - 0.275 * (30 / 365)**0.13])
    # A down shock never goes below zero vol (test_59's rule).
    strong = VolShockParams(0.5, 2.0, 0.3, 0.13, 86_400, 0.45)
    assert float(vol_shock_multipliers(3_600, strong)[1]) == 0.0


def test_static_discounts_when_rate_negative_then_taken_as_given():
    # No hidden floor: at r = -5% over one year the cap 1 / D is exp(-0.05) < 1.04.
    pos, neg = static_discounts(365 * 86_400, -0.05, DISCOUNT)
    assert float(pos) == pytest.approx(0.95 * np.exp(-(-0.05 + 0.08)), rel=1e-14)
    assert float(neg) == pytest.approx(np.exp(-0.05), rel=1e-14)


def test_perp_pnl_when_spot_shocks_then_linear_and_dampened():
    scenarios = Scenarios.of([1.18, 1.0, 0.34], [VOL_UP, VOL_NONE, VOL_UP],
                             [1.0, 1.0, 0.054545454545454536])
    pnl = perp_scenario_pnl([2000.0], scenarios)
    assert pnl[0].tolist() == pytest.approx([360.0, 0.0, -1320.0 * 0.054545454545454536])


def test_opposite_positions_when_summed_then_zero_pnl_in_every_scenario():
    values = scenario_values(2000.0, 0.0, [1800.0, 2200.0], [86_400 * 7] * 2, [0.6, 0.7],
                             0.05, [True, False], REGULAR, VOL)
    shocked = sum_by_expiry(values[[0, 1, 0, 1]], [2.0, -1.0, -2.0, 1.0], [0, 0, 0, 0], 1)
    assert np.abs(shocked).max() <= 1e-9


def test_scenario_values_when_compared_with_scalar_pricer_then_same_cells():
    # Every cell is Black-76 at the shocked forward and vol: the scalar twin, cell by cell.
    tte = np.array([3_600.0, 10 * 86_400.0, 200 * 86_400.0])
    vol = np.array([0.8, 0.5, 0.05])
    strike = np.array([1900.0, 2100.0, 2000.0])
    call = np.array([True, False, True])
    values = scenario_values(2000.0, 100.0, strike, tte, vol, 0.03, call, REGULAR, VOL)
    vols = shocked_vols(vol, tte, REGULAR, VOL)
    for i in range(3):
        for j in range(REGULAR.spot_shock.size):
            forward = 2000.0 * float(REGULAR.spot_shock[j]) + 100.0
            ref = price_scalar(forward, float(strike[i]), float(tte[i]) / SECONDS_PER_YEAR,
                               float(vols[i, j]), 0.03, bool(call[i]))
            assert float(values[i, j]) == pytest.approx(ref, rel=1e-11, abs=1e-11)
    # The 200-day option's 5% vol is raised to the 45% minimum in vol-up scenarios.
    assert vols[2, REGULAR.vol_shock == VOL_UP].tolist() == [0.45] * 9


@pytest.mark.parametrize(("build", "field"), [
    (lambda: VolShockParams(-0.5, 0.275, 0.3, 0.13, 86_400, 0.45), "vol_shock.vol_range_up"),
    (lambda: StaticDiscountParams(0.95, 1.0, float("nan"), 1.04, 0.5, 0.08),
     "static_discount.long_rate_add"),
    (lambda: BasisContingencyParams(1.0, 0.955, 0.5, 2.0), "basis.spot_up"),
    (lambda: BasisContingencyParams(1.045, 1.2, 0.5, 2.0), "basis.spot_down"),
    (lambda: Scenarios.of([1.1, 0.0], [0, 0]), "scenarios.spot_shock"),
    (lambda: Scenarios.of([1.1], [2]), "scenarios.vol_shock"),
    (lambda: Scenarios.of([1.1, 0.9], [0]), "scenarios"),
    (lambda: sum_by_expiry([1.0], [1.0], [3], 2), "expiry_index"),
])
def test_scenario_inputs_when_invalid_then_field_error(build, field):
    with pytest.raises(FieldError) as raised:
        build()
    assert raised.value.field == field
