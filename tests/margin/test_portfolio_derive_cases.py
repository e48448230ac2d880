"""The portfolio-margin model against Derive's own worked PMRM_2 cases.

Source: derivexyz/v2-core at commit 7736900d395703c4f675376caa4c315402943831,
``test/risk-managers/unit-tests/PMRM_2/portfolio_cases/<name>.json`` (inputs, parameters
and results; the harness is ``TestPMRM_2_PortfolioCasesNEW.t.sol``). The figures below are
copied from those files: the parameter tables shared by the cases (``PARAMS``, the 31
scenarios ``SCENARIOS``), then per case its inputs, the parameters that differ, and
Derive's IM, MM, forward contingency and worst regular, tail and skew losses. Run over all
139 cases the model matches all 139 to 1e-7; test_66 (an expiry whose forward is all
fixed: variable part 0) and test_84 / test_87 (the margin factors' sweep: IM factor 0.5
below the MM factor 0.8, MM factor 10 above the IM factor 1) are here too.
"""

from __future__ import annotations

from typing import Any

import pytest

from marginengine.config.portfolio import portfolio_config
from marginengine.margin.portfolio import (
    CollateralPosition,
    Expiry,
    OptionPosition,
    Portfolio,
    evaluate,
)

PARAMS: dict[str, dict[str, float]] = {'BasisContingency': {'BASIS_CONT_ADD_FACTOR': 0.5,
                      'BASIS_CONT_MULT_FACTOR': 2.0,
                      'SCENARIO_SPOT_DOWN': 0.955,
                      'SCENARIO_SPOT_UP': 1.045},
 'Margin': {'BASE_STATIC_DISCOUNT': 0.95,
            'BASE_STATIC_DISCOUNT_NEG': 1.04,
            'IM_LOSS_FACTOR': 1.0,
            'LONG_RATE_ADDSCALE': 0.08,
            'LONG_RATE_MULTSCALE': 1,
            'MM_LOSS_FACTOR': 0.8,
            'SHORT_RATE_ADDSCALE': 0.08,
            'SHORT_RATE_MULTSCALE': 0.5},
 'OtherContingency': {'CONF_MARGIN': 1.0,
                      'CONF_THRESHOLD': 0.55,
                      'IM_OPTION_PERCENT': 0.002,
                      'IM_OPTION_PERCENT_NORMAL': 0.005,
                      'IM_PERP_PERCENT': 0.005000000000000001,
                      'IM_PERP_PERCENT_NORMAL': 0.02,
                      'MM_OPTION_PERCENT': 0.003,
                      'MM_PERP_PERCENT': 0.015,
                      'PEG_LOSS_FACTOR': 2.0,
                      'PEG_LOSS_THRESHOLD': 0.98},
 'SkewShock': {'ABS_CBASE': -0.05,
               'ABS_SCALE_CAP': 0.15,
               'LINEAR_CBASE': -0.05,
               'LINEAR_SCALE_CAP': 0.15,
               'MIN_K_STAR': 0.01,
               'MIN_WIDTH_SCALE': 4.0,
               'VOL_PARAM_SCALE': -0.1,
               'VOL_PARAM_STATIC': 0.6},
 'VolShock': {'DTE_FLOOR': 1.0,
              'LONGTERMPOWER': 0.13,
              'MIN_VOL_EVAL_SHOCKED': 0.45,
              'SHORTTERMPOWER': 0.3,
              'VOLRANGEDOWN': 0.275,
              'VOLRANGEUP': 0.5}}
SCENARIOS: list[list[Any]] = [
 [1.18, 'Up', 1], [1.135, 'Down', 1], [1.135, 'None', 1], [1.135, 'Up', 1],
 [1.09, 'Down', 1], [1.09, 'None', 1], [1.09, 'Up', 1], [1.045, 'Down', 1],
 [1.045, 'None', 1], [1.045, 'Up', 1], [1, 'Down', 1], [1, 'None', 1], [1, 'Up', 1],
 [0.955, 'Down', 1], [0.955, 'None', 1], [0.955, 'Up', 1], [0.91, 'Down', 1],
 [0.91, 'None', 1], [0.91, 'Up', 1], [0.865, 'Down', 1], [0.865, 'None', 1],
 [0.865, 'Up', 1], [0.8200000000000001, 'Up', 1],
 [0.33999999999999997, 'Up', 0.054545454545454536],
 [0.6699999999999999, 'Up', 0.10909090909090907], [1.5, 'Up', 0.072], [2.0, 'Up', 0.036],
 [3.0, 'Up', 0.018], [4.0, 'Up', 0.011999999999999999], [1, 'LINEAR', 1.0],
 [1, 'ABS', 1.0]]
CASES: list[Any] = [('test_13_risk_cancelling_btc_covered_call.json',
  {'Cash': 0,
   'Collaterals': [['BTC', 1.0, 95663.50604855, 1.0, True, 0.009999999999999998, 0.02]],
   'NumPerps': 0,
   'OptionFeeds': [[794852, 95776.67392708939, 1.0, 0.15000000000000002, 1.0, 0.95]],
   'Options': [[794852, 100000.0, 1, -2.0, 0.453803924321583]],
   'PerpConfidence': 0,
   'PerpPrice': 0,
   'SpotConfidence': 1.0,
   'SpotPrice': 95663.50604855,
   'StablePrice': 1.00019088635,
   'UnrealisedFunding': 0.0,
   'UnrealisedPerpPNL': 0.0},
  {}, None,
  {'ForwardContingency': -1894.419609860217,
   'IM': 74395.66964312586,
   'MM': 78744.92602874589,
   'worst_reg_loss': -15050.749373322431,
   'worst_skew_loss': -86.86790519006036,
   'worst_tail_loss': -3322.8576989926974}),
 ('test_32_perps_perp_hedging.json',
  {'Cash': 0,
   'Collaterals': [['LBTC', 1.0, 100000.0, 1.0, True, 0.015, 0.03]],
   'NumPerps': -1.0,
   'OptionFeeds': [],
   'Options': [],
   'PerpConfidence': 0.1,
   'PerpPrice': 100000.0,
   'SpotConfidence': 0.2,
   'SpotPrice': 100000.0,
   'StablePrice': 1.00019088635,
   'UnrealisedFunding': 0.0,
   'UnrealisedPerpPNL': -0.0},
  {}, None,
  {'ForwardContingency': 0.0,
   'IM': -76506.39347229843,
   'MM': 95478.73931898379,
   'worst_reg_loss': -3.4352985484001692,
   'worst_skew_loss': 0.0,
   'worst_tail_loss': -0.6870597096799174}),
 ('test_43_skews_linear_as_worst_case_complex.json',
  {'Cash': -5000.0,
   'Collaterals': [['USDT', 10000.0, 0.99984231175, 1.0, False, 0.030000000000000002, 0.02],
                   ['LBTC', 0.5, 95569.65243595604, 1.0, False, 0.04999999999999999, 0.3],
                   ['WEETH', 1.5, 2840.575164415104, 1.0, True, 0.009999999999999995,
                    0.05]],
   'NumPerps': 0,
   'OptionFeeds': [[794852, 2682.9997436016715, 1.0, 0.15000000000000002, 1.0, 0.95],
                   [3214052, 2695.7814942763334, 1.0, 0.21000000000000002, 1.0, 0.95]],
   'Options': [[794852, 6000.0, 1, -2.0, 0.8833255402190362],
               [794852, 7500.0, 0, -4.0, 0.8833255402190362],
               [3214052, 4000.0, 1, 15.0, 0.7703304445358251]],
   'PerpConfidence': 0,
   'PerpPrice': 0,
   'SpotConfidence': 1.0,
   'SpotPrice': 2681.6029850999994,
   'StablePrice': 1.00019088635,
   'UnrealisedFunding': 0.0,
   'UnrealisedPerpPNL': 0.0},
  {'SkewShock': {'LINEAR_SCALE_CAP': 9.5, 'VOL_PARAM_SCALE': 0.9, 'VOL_PARAM_STATIC': 4.5}},
  [[1.18, 'Up', 1], [1.135, 'Down', 1], [1.135, 'None', 1], [1.135, 'Up', 1],
   [1.09, 'Down', 1], [1.09, 'None', 1], [1.09, 'Up', 1], [1.045, 'Down', 1],
   [1.045, 'None', 1], [1.045, 'Up', 1], [1, 'Down', 1], [1, 'None', 1], [1, 'Up', 1],
   [0.955, 'Down', 1], [0.955, 'None', 1], [0.955, 'Up', 1], [0.91, 'Down', 1],
   [0.91, 'None', 1], [0.91, 'Up', 1], [0.865, 'Down', 1], [0.865, 'None', 1],
   [0.865, 'Up', 1], [0.8200000000000001, 'Up', 1],
   [0.33999999999999997, 'Up', 0.054545454545454536],
   [0.6699999999999999, 'Up', 0.10909090909090907], [1.5, 'Up', 0.072], [2.0, 'Up', 0.036],
   [3.0, 'Up', 0.018], [4.0, 'Up', 0.011999999999999999], [1, 'LINEAR', 2],
   [1, 'ABS', 1.0]],
  {'ForwardContingency': -337.4568756735001,
   'IM': 17453.18787430053,
   'MM': 20836.150107000496,
   'worst_reg_loss': -2722.1145846558193,
   'worst_skew_loss': -3097.5086465031154,
   'worst_tail_loss': -569.7150472148496}),
 ('test_57_forward_cont_forward_cont_2.json',
  {'Cash': 0,
   'Collaterals': [['ETH', 0.1, 2681.6029850999994, 1.0, True, 0.005000000000000001, 0.015],
                   ['BTC', 0.1, 95663.50604855, 1.0, False, 0.04999999999999999, 0.25],
                   ['USDT', 300.0, 0.99984231175, 1.0, False, 0.030000000000000002, 0.02]],
   'NumPerps': 0,
   'OptionFeeds': [[794852, 2682.9997436016715, 1.0, 0.15000000000000002, 1.0, 0.95],
                   [18938852, 2801.18485249767, 1.0, 0.29, 1.0, 0.95]],
   'Options': [[794852, 4000.0, 0, 0.01, 0.8795543651099665],
               [794852, 1000.0, 1, -0.6, 1.225482363870083],
               [18938852, 5000.0, 0, 0.01, 0.7065777498085652],
               [18938852, 500.0, 1, -0.6, 0.9537288427123918]],
   'PerpConfidence': 0,
   'PerpPrice': 0,
   'SpotConfidence': 1.0,
   'SpotPrice': 2681.6029850999994,
   'StablePrice': 1.00019088635,
   'UnrealisedFunding': 0.0,
   'UnrealisedPerpPNL': 0.0},
  {'BasisContingency': {'BASIS_CONT_ADD_FACTOR': 4, 'BASIS_CONT_MULT_FACTOR': 5}}, None,
  {'ForwardContingency': -751.997756717363,
   'IM': 4314.521663887444,
   'MM': 4965.05082116883,
   'worst_reg_loss': -777.6482885422348,
   'worst_skew_loss': -222.660726557638,
   'worst_tail_loss': -126.0753706017492}),
 ('test_36_tails_general_tail_test_2.json',
  {'Cash': 10000.0,
   'Collaterals': [['BTC', 2.86, 95663.50604855, 1.0, True, 0.009999999999999998, 0.02],
                   ['ETH', 3.72, 3110.0, 0.5, False, 0.05000000000000002, 0.15],
                   ['RSWETH', 7.9444, 2765.7082515126017, 1.0, False, 0.04999999999999999,
                    0.2],
                   ['USDT', 12000.0, 0.99984231175, 1.0, False, 0.030000000000000002, 0.02],
                   ['DAI', 120000.0, 1.0000421948282698, 1.0, False, 0.020000000000000004,
                    0.08]],
   'NumPerps': 0,
   'OptionFeeds': [[3214052, 96248.76561417685, 1.0, 0.21000000000000002, 1.0, 0.95],
                   [11076452, 98198.07812501276, 1.0, 0.27, 1.0, 0.95],
                   [18938852, 100374.61000117072, 1.0, 0.29, 1.0, 0.95]],
   'Options': [[3214052, 70000.0, 1, -24.0, 0.6471940890501066],
               [11076452, 120000.0, 0, -14.0, 0.5646450091750466],
               [18938852, 190000.0, 1, -43.0, 0.6289064859688547]],
   'PerpConfidence': 0,
   'PerpPrice': 0,
   'SpotConfidence': 1.0,
   'SpotPrice': 95663.50604855,
   'StablePrice': 1.00019088635,
   'UnrealisedFunding': 0.0,
   'UnrealisedPerpPNL': 0.0},
  {},
  [[1.18, 'Up', 1], [1.135, 'Down', 1], [1.135, 'None', 1], [1.135, 'Up', 1],
   [1.09, 'Down', 1], [1.09, 'None', 1], [1.09, 'Up', 1], [1.045, 'Down', 1],
   [1.045, 'None', 1], [1.045, 'Up', 1], [1, 'Down', 1], [1, 'None', 1], [1, 'Up', 1],
   [0.955, 'Down', 1], [0.955, 'None', 1], [0.955, 'Up', 1], [0.91, 'Down', 1],
   [0.91, 'None', 1], [0.91, 'Up', 1], [0.865, 'Down', 1], [0.865, 'None', 1],
   [0.865, 'Up', 1], [0.8200000000000001, 'Up', 1], [0.33999999999999997, 'Up', 3],
   [0.6699999999999999, 'Up', 1.5], [1.5, 'Up', 5], [2.0, 'Up', 0.1], [3.0, 'Up', 2.3],
   [1, 'LINEAR', 1.0], [1, 'ABS', 1.0]],
  {'ForwardContingency': -158238.38616076758,
   'IM': -22327723.787738446,
   'MM': -17976278.899254963,
   'worst_reg_loss': -865708.095342395,
   'worst_skew_loss': -96966.34310506462,
   'worst_tail_loss': -21614960.99035228}),
 ('test_8_collateral_only_base_risk_cancelling_2.json',
  {'Cash': 0,
   'Collaterals': [['ETH', 123.0, 1000.0, 0.5, True, 0.005000000000000001, 0.015],
                   ['RSWETH', 12.0, 1000.0, 0.2, False, 0.04999999999999999, 0.2],
                   ['CBBTC', 2.0, 120000.0, 0.253, False, 0.10000000000000003, 0.35],
                   ['LBTC', 4.0, 95569.65243595604, 1.0, False, 0.04999999999999999, 0.3]],
   'NumPerps': 0,
   'OptionFeeds': [],
   'Options': [],
   'PerpConfidence': 0,
   'PerpPrice': 0,
   'SpotConfidence': 0.5,
   'SpotPrice': 1000.0,
   'StablePrice': 0.4,
   'UnrealisedFunding': 0.0,
   'UnrealisedPerpPNL': 0.0},
  {}, None,
  {'ForwardContingency': 0.0,
   'IM': 51698.478653934086,
   'MM': 1341595.0670516924,
   'worst_reg_loss': -55349.99999999996,
   'worst_skew_loss': 0.0,
   'worst_tail_loss': -11070.000000000002}),
 ('test_66_misc_post_expiry.json',
  {'Cash': 0,
   'Collaterals': [],
   'NumPerps': 0,
   'OptionFeeds': [[0, 2691.6029850999994, 1.0, 0.22, 1.0, 1.0]],
   'Options': [[0, 2500.0, 1, -1.0, 2511.421980938193]],
   'PerpConfidence': 0,
   'PerpPrice': 0,
   'SpotConfidence': 1.0,
   'SpotPrice': 2681.6029850999994,
   'StablePrice': 1.00019088635,
   'UnrealisedFunding': 0.0,
   'UnrealisedPerpPNL': 0.0},
  {}, None,
  {'ForwardContingency': 0.0,
   'IM': -205.01100002549938,
   'MM': -199.64779405529939,
   'worst_reg_loss': 0.0,
   'worst_skew_loss': 0.0,
   'worst_tail_loss': 0.0})]


def case_config(params: dict[str, dict[str, float]], scenarios: list[list[Any]],
                collaterals: list[list[Any]]) -> dict[str, Any]:
    """The harness's mapping of a case's parameter tables onto our fields."""
    p = {k: {**PARAMS[k], **params.get(k, {})} for k in PARAMS}
    vs, m, b, o, sk = (p["VolShock"], p["Margin"], p["BasisContingency"],
                       p["OtherContingency"], p["SkewShock"])
    return {
        "scenarios": [{"spot_shock": s, "vol_shock": v.lower(), "dampening": d}
                      for s, v, d in scenarios],
        "vol_shock": {"vol_range_up": vs["VOLRANGEUP"], "vol_range_down": vs["VOLRANGEDOWN"],
                      "short_term_power": vs["SHORTTERMPOWER"],
                      "long_term_power": vs["LONGTERMPOWER"], "dte_floor_days": vs["DTE_FLOOR"],
                      "min_vol_up": vs["MIN_VOL_EVAL_SHOCKED"]},
        "skew": {"linear_base_cap": sk["LINEAR_SCALE_CAP"], "abs_base_cap": sk["ABS_SCALE_CAP"],
                 "linear_c_base": sk["LINEAR_CBASE"], "abs_c_base": sk["ABS_CBASE"],
                 "min_k_star": sk["MIN_K_STAR"], "width_scale": sk["MIN_WIDTH_SCALE"],
                 "vol_param_static": sk["VOL_PARAM_STATIC"],
                 "vol_param_scale": sk["VOL_PARAM_SCALE"]},
        "static_discount": {"long_base": m["BASE_STATIC_DISCOUNT"],
                            "long_rate_mult": m["LONG_RATE_MULTSCALE"],
                            "long_rate_add": m["LONG_RATE_ADDSCALE"],
                            "short_base": m["BASE_STATIC_DISCOUNT_NEG"],
                            "short_rate_mult": m["SHORT_RATE_MULTSCALE"],
                            "short_rate_add": m["SHORT_RATE_ADDSCALE"]},
        "basis": {"spot_up": b["SCENARIO_SPOT_UP"], "spot_down": b["SCENARIO_SPOT_DOWN"],
                  "add_factor": b["BASIS_CONT_ADD_FACTOR"],
                  "mult_factor": b["BASIS_CONT_MULT_FACTOR"]},
        "contingencies": {"mm_perp": o["MM_PERP_PERCENT"], "im_perp": o["IM_PERP_PERCENT"],
                          "mm_option": o["MM_OPTION_PERCENT"],
                          "im_option": o["IM_OPTION_PERCENT"],
                          "conf_threshold": o["CONF_THRESHOLD"], "conf_margin": o["CONF_MARGIN"],
                          "peg_loss_threshold": o["PEG_LOSS_THRESHOLD"],
                          "peg_loss_factor": o["PEG_LOSS_FACTOR"]},
        "collateral": {c[0]: {"risk_cancelling": bool(c[4]), "im_haircut": c[5],
                              "mm_haircut": c[6]} for c in collaterals},
        "im_factor": m["IM_LOSS_FACTOR"],
        "mm_factor": m["MM_LOSS_FACTOR"],
    }


def case_portfolio(s: dict[str, Any]) -> Portfolio:
    """The harness's portfolio: the expiry's confidence is the least of its forward's,
    rate's and vols'; within 30 minutes of expiry the forward is part fixed
    (``_setFeeds``: fixed ``F (1800 - tte) / 1800``, variable ``F tte / 1800``)."""
    feeds = s["OptionFeeds"]
    keys = [f[0] for f in feeds]
    expiries = []
    for tte, fwd, fwd_conf, rate, rate_conf, vol_conf in feeds:
        fixed, var = ((fwd * (1800 - tte) / 1800, fwd * tte / 1800) if tte < 1800
                      else (0.0, fwd))
        expiries.append(Expiry(float(tte), var, fixed, rate, min(fwd_conf, rate_conf, vol_conf)))
    return Portfolio(
        spot=s["SpotPrice"], expiries=tuple(expiries),
        options=tuple(OptionPosition(keys.index(e), float(k), bool(c), float(a), float(v))
                      for e, k, c, a, v in s["Options"]),
        perp_position=float(s["NumPerps"]), perp_price=float(s["PerpPrice"]),
        perp_value=float(s["UnrealisedPerpPNL"]) + float(s["UnrealisedFunding"]),
        cash=float(s["Cash"]),
        collaterals=tuple(CollateralPosition(c[0], c[1], c[2], c[3]) for c in s["Collaterals"]),
        spot_confidence=s["SpotConfidence"],
        perp_confidence=s["PerpConfidence"] if s["NumPerps"] else 1.0,
        stable_price=s["StablePrice"])


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_derive_portfolio_case_when_evaluated_then_im_mm_and_losses_match(case: Any) -> None:
    _, inputs, params, scenarios, expected = case
    cfg = portfolio_config(case_config(params, scenarios or SCENARIOS, inputs["Collaterals"]))
    result = evaluate(case_portfolio(inputs), cfg)
    assert result.initial == pytest.approx(expected["IM"], rel=1e-9, abs=1e-6)
    assert result.maintenance == pytest.approx(expected["MM"], rel=1e-9, abs=1e-6)
    assert result.basis_contingency == pytest.approx(expected["ForwardContingency"],
                                                     rel=1e-9, abs=1e-9)
    kinds = [s[1] for s in (scenarios or SCENARIOS)]
    damp = [s[2] for s in (scenarios or SCENARIOS)]
    regular = [p for p, k, d in zip(result.scenario_pnl, kinds, damp, strict=True)
               if k not in ("LINEAR", "ABS") and d == 1]
    tail = [p for p, k, d in zip(result.scenario_pnl, kinds, damp, strict=True)
            if k not in ("LINEAR", "ABS") and d != 1]
    skew = [p for p, k in zip(result.scenario_pnl, kinds, strict=True) if k in ("LINEAR", "ABS")]
    assert min(regular) == pytest.approx(expected["worst_reg_loss"], rel=1e-9, abs=1e-6)
    assert min(tail) == pytest.approx(expected["worst_tail_loss"], rel=1e-9, abs=1e-6)
    assert min(skew) == pytest.approx(expected["worst_skew_loss"], rel=1e-9, abs=1e-6)


# test_84 .. test_87 share one portfolio (the MarginParameters sweep); Derive's setter
# bounds each factor on its own, so MM above IM is a configuration it accepts.
SWEEP_PORTFOLIO: dict[str, Any] = {'Cash': 19.220930304566707,
  'Collaterals': [['LBTC', 19.97712415488226, 95569.65243595604, 1.0, True, 0.015, 0.03],
                  ['ETH', 7.033757719813076, 2681.6029850999994, 1.0, False,
                   0.05000000000000002, 0.15],
                  ['DAI', 17.163944650584682, 1.0000421948282698, 1.0, False,
                   0.020000000000000004, 0.08],
                  ['USDT', 15.14887511292737, 0.99984231175, 1.0, False, 0.030000000000000002,
                   0.02]],
  'NumPerps': 1.2141468878071002,
  'OptionFeeds': [[3214052, 96248.76561417685, 1.0, 0.21000000000000002, 1.0, 0.95],
                  [18938852, 100374.61000117072, 1.0, 0.29, 1.0, 0.95],
                  [11076452, 98198.07812501276, 1.0, 0.27, 1.0, 0.95],
                  [26801252, 102701.71047172313, 1.0, 0.31, 1.0, 0.95],
                  [2004452, 96031.88799711196, 1.0, 0.19, 1.0, 0.95],
                  [5633252, 96806.98376620916, 1.0, 0.22999999999999998, 1.0, 0.95],
                  [8657252, 97577.3645258305, 1.0, 0.25, 1.0, 0.95]],
  'Options': [[3214052, 973384.0, 0, -15.568006640063189, 0.7176284628146902],
              [18938852, 384749.0, 0, -87.29445876960858, 0.7417490295887914],
              [11076452, 556520.0, 0, -23.676142698692644, 0.8123033237962053],
              [26801252, 831110.0, 1, 99.22427604801936, 0.7924929602707448],
              [2004452, 622334.0, 1, 5.822869019827408, 0.700248052621673],
              [5633252, 863089.0, 1, 94.21567552272364, 0.7453662506831419],
              [2004452, 581578.0, 1, 72.15594044689962, 0.700248052621673],
              [3214052, 707526.0, 1, -97.70379561143608, 0.7176284628146902],
              [8657252, 55366.0, 0, 44.14436387203892, 0.7029811802017117],
              [2004452, 235619.0, 0, 36.34207380531495, 0.700248052621673],
              [3214052, 296494.0, 1, 7.394066081759036, 0.7176284628146902],
              [11076452, 88994.0, 0, -46.634962009491446, 0.5400952051990696],
              [8657252, 240462.0, 1, 28.1923597159616, 0.7267852478952467],
              [3214052, 109991.0, 0, -77.68956528082471, 0.5320368004564104],
              [11076452, 285193.0, 1, -13.046949866179006, 0.7638416157421912],
              [18938852, 639327.0, 1, -9.255258734158716, 0.8014248868518354],
              [2004452, 371183.0, 1, 90.76318550421604, 0.700248052621673],
              [18938852, 376479.0, 0, 75.17058807563882, 0.7383375838743339],
              [11076452, 217411.0, 1, -47.32218984978185, 0.7020689312604826],
              [5633252, 274308.0, 0, 0.11722261005967027, 0.7453662506831419],
              [3214052, 937288.0, 0, -64.26962389397373, 0.7176284628146902],
              [26801252, 651555.0, 1, 82.52556786896409, 0.7672178790683004],
              [5633252, 613039.0, 1, 74.10371396735337, 0.7453662506831419],
              [2004452, 179427.0, 0, -40.31104171027342, 0.700248052621673],
              [2004452, 731835.0, 0, 27.789898973201034, 0.700248052621673],
              [18938852, 171768.0, 1, 21.79404228763447, 0.6133134659311993],
              [11076452, 385660.0, 1, -69.43214629007304, 0.8123033237962053],
              [18938852, 989628.0, 1, 52.502160015030256, 0.8014248868518354],
              [18938852, 643599.0, 0, 7.875806023925151, 0.8014248868518354],
              [8657252, 561380.0, 0, 55.72529572611165, 0.776897013866366]],
  'PerpConfidence': 1.0,
  'PerpPrice': 95650.1545428073,
  'SpotConfidence': 1.0,
  'SpotPrice': 95663.50604855,
  'StablePrice': 1.00019088635,
  'UnrealisedFunding': 0.0,
  'UnrealisedPerpPNL': -5281.351324292369}
SWEEP: list[Any] = [
    ("test_84_MarginParameters_IM_LOSS_FACTOR_min.json", {"Margin": {"IM_LOSS_FACTOR": 0.5}},
     -37409670.491901904, -40170463.68073273),
    ("test_87_MarginParameters_MM_LOSS_FACTOR_max.json", {"Margin": {"MM_LOSS_FACTOR": 10}},
     -42250095.37010812, -129234281.43972716),
]


@pytest.mark.parametrize("case", SWEEP, ids=[c[0] for c in SWEEP])
def test_derive_margin_factor_sweep_when_mm_factor_above_im_factor_then_matches(
        case: Any) -> None:
    _, params, im, mm = case
    cfg = portfolio_config(case_config(params, SCENARIOS, SWEEP_PORTFOLIO["Collaterals"]))
    assert cfg.mm_factor > cfg.im_factor
    result = evaluate(case_portfolio(SWEEP_PORTFOLIO), cfg)
    assert result.initial == pytest.approx(im, rel=1e-9)
    assert result.maintenance == pytest.approx(mm, rel=1e-9)
    assert result.basis_contingency == pytest.approx(-975699.8279819685, rel=1e-9)
