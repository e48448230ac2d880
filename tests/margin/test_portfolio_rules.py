"""Derive's SRM and PMRM v1 as portfolio presets (``derive-srm``, ``derive-pm1``): the
presets hold Derive's mainnet parameters, and through the portfolio face
(``portfolio_config`` -> ``evaluate_portfolio``) they give the pure rules' figures on
Derive's own test cases (the case data of tests/margin/test_derive_srm.py and
test_derive_pmrm1.py, reused); bad input is refused naming the field.

Source: derivexyz/v2-core at commit 7736900d395703c4f675376caa4c315402943831,
``scripts/config-mainnet.sol`` (``getSRMParams``, ``getSRMDepegParams``,
``getPMRMParams``, ``getDefaultScenarios``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, replace
from typing import Any

import pytest

from marginengine.config.portfolio import (
    PORTFOLIO_PRESET_NAMES,
    PortfolioMarginConfig,
    portfolio_config,
)
from marginengine.errors import ConfigError, FieldError
from marginengine.fixedpoint import WAD
from marginengine.margin.derive_pmrm1 import derive_test_scenarios, evaluate_pmrm1
from marginengine.margin.derive_srm import SrmPortfolio, srm_margin
from marginengine.margin.portfolio import (
    CollateralPosition,
    Expiry,
    OptionPosition,
    Portfolio,
    ProposedTrade,
    evaluate,
    validate_trade,
)
from marginengine.margin.portfolio_rules import (
    evaluate_portfolio,
    rule_of,
    scenario_rows,
    srm_portfolio,
    what_if_portfolio,
)
from tests.margin.test_derive_pmrm1 import CASES as PM1_CASES
from tests.margin.test_derive_pmrm1 import PARAMS as PM1_PARAMS
from tests.margin.test_derive_pmrm1 import case_portfolio as pm1_case_portfolio
from tests.margin.test_derive_pmrm1 import matches_whole
from tests.margin.test_derive_srm import PORTFOLIO_CASES as SRM_CASES
from tests.margin.test_derive_srm import portfolio_case as srm_case
from tests.margin.test_derive_srm import wad, whole

# ------------------------------------------------------------------- the presets' values


def test_srm_preset_when_loaded_then_holds_derives_mainnet_parameters() -> None:
    cfg = portfolio_config(preset="derive-srm")
    assert rule_of(cfg) == "SRM" and scenario_rows(cfg) == []
    eth = cfg.market_params["ETH"]
    # getSRMParams: the values common to every market, and ETH's base margin.
    assert asdict(eth.perp) == {"mm_req": wad("0.065"), "im_req": wad("0.1")}
    assert asdict(eth.option) == {
        "max_spot_req": wad("0.15"), "min_spot_req": wad("0.13"),
        "mm_call_spot_req": wad("0.09"), "mm_put_spot_req": wad("0.09"),
        "mm_put_mtm_req": wad("0.09"), "unpaired_im_scale": wad("1.2"),
        "unpaired_mm_scale": wad("1.1"), "mm_offset_scale": wad("1.05")}
    assert asdict(eth.oracle) == {"perp_threshold": wad("0.55"),
                                  "option_threshold": wad("0.55"),
                                  "base_threshold": wad("0.55"), "oc_factor": WAD}
    assert asdict(eth.base) == {"margin_factor": wad("0.8"), "im_scale": wad("0.9375")}
    assert asdict(cfg.market_params["BTC"].base) == {"margin_factor": wad("0.75"),
                                                     "im_scale": wad("0.93")}
    # Per-market branches: SNX's options, TRUMP's and PEPE's perps; a perp-only market
    # has no base margin.
    assert cfg.market_params["SNX"].option.unpaired_im_scale == wad("1.4")
    assert cfg.market_params["SNX"].option.max_spot_req == wad("0.25")
    assert asdict(cfg.market_params["TRUMP"].perp) == {"mm_req": wad("0.4545"),
                                                       "im_req": wad("0.5")}
    assert cfg.market_params["PEPE"].perp.im_req == wad("0.2")
    assert asdict(cfg.market_params["SOL"].base) == {"margin_factor": 0, "im_scale": 0}
    assert len(cfg.market_params) == 39
    # getSRMDepegParams.
    assert asdict(cfg.depeg_params) == {"threshold": wad("0.99"), "depeg_factor": 2 * WAD}
    # An underlying not listed (the engine's WETH) takes the common values, no base.
    weth = cfg.params_for("WETH").markets["WETH"]
    assert weth.option == eth.option and weth.perp == eth.perp
    assert asdict(weth.base) == {"margin_factor": 0, "im_scale": 0}


def test_pm1_preset_when_loaded_then_holds_derives_mainnet_parameters() -> None:
    cfg = portfolio_config(preset="derive-pm1")
    assert rule_of(cfg) == "PMRM"
    p = cfg.params
    # getDefaultScenarios: +20% vol up, then +15% .. -15% with vol up, none and down, then
    # -20% vol up.
    assert len(p.scenarios) == 23
    assert p.scenarios[0] == (1.2, "up") and p.scenarios[-1] == (0.8, "up")
    assert p.scenarios[1:4] == ((1.15, "up"), (1.15, "none"), (1.15, "down"))
    assert scenario_rows(cfg)[11] == (1.0, "none", 1.0)
    # getPMRMParams.
    assert (p.vol_range_up, p.vol_range_down, p.short_term_power, p.long_term_power,
            p.dte_floor_days) == (0.6, 0.3, 0.3, 0.13, 1.0)
    assert (p.im_factor, p.base_static_discount, p.rate_mult_scale, p.rate_add_scale) == (
        1.25, 0.95, 1.0, 0.12)
    assert (p.peg_loss_threshold, p.peg_loss_factor, p.conf_threshold, p.conf_margin,
            p.base_percent, p.perp_percent, p.option_percent) == (
        0.99, 4.0, 0.55, 1.0, 0.03, 0.03, 0.02)
    assert (p.basis_spot_up, p.basis_spot_down, p.basis_add_factor, p.basis_mult_factor) == (
        1.05, 0.95, 1.0, 1.2)


def test_portfolio_preset_names_when_listed_then_include_derives_three_managers() -> None:
    assert {"derive-pm2", "derive-pm1", "derive-srm"} <= set(PORTFOLIO_PRESET_NAMES)
    assert rule_of(portfolio_config(preset="derive-pm2")) == "PMRM_2"


# ------------------------------------------------- PMRM v1: the preset is the pure rule

#: The test configuration of Derive's PMRM cases (tests/margin/test_derive_pmrm1.py) as
#: overrides of the mainnet preset.
PM1_TEST_TABLE: dict[str, Any] = {
    "preset": "derive-pm1",
    "scenarios": [{"spot_shock": s, "vol_shock": d} for s, d in derive_test_scenarios()],
    **{k: v for k, v in asdict(PM1_PARAMS).items() if k != "scenarios"}}


def test_pm1_config_when_test_overrides_then_is_the_cases_parameters() -> None:
    assert portfolio_config(PM1_TEST_TABLE).params == PM1_PARAMS


@pytest.mark.parametrize("case", PM1_CASES, ids=[c[0] for c in PM1_CASES])
def test_evaluate_portfolio_when_pm1_and_derive_case_then_pure_rules_figures(
        case: Any) -> None:
    name, cash, options, perps, base, im, mm = case
    portfolio = pm1_case_portfolio(name, cash, options, perps, base)
    got = evaluate_portfolio(portfolio, portfolio_config(PM1_TEST_TABLE), "ETH")
    pure = evaluate_pmrm1(portfolio, PM1_PARAMS)
    assert got.rule == "PMRM" and got.wad is None
    assert (got.initial, got.maintenance, got.mtm) == (pure.initial, pure.maintenance,
                                                       pure.mtm)
    assert matches_whole(got.initial, im) and matches_whole(got.maintenance, mm)
    assert list(got.scenario_pnl) == list(pure.scenario_pnl)
    assert got.worst_scenario == pure.worst_scenario


def test_evaluate_portfolio_when_pm1_long_perp_then_worked_figures() -> None:
    # long_ATM_perp: long 1 perp entered at 2,000, marked at 2,001 (P&L +1). Worst: spot
    # -15%, -0.15 x 2,001 = -300.15 (scenario 18, the first at 0.85); static contingency
    # 2.5% x 2,000 = 50. MM = -300.15 - 50 + 1 = -349.15; IM = -350.15 x 1.3 + 1.
    got = evaluate_portfolio(pm1_case_portfolio("long_ATM_perp", 0.0, [], [(1.0, 2000.0)], 0),
                             portfolio_config(PM1_TEST_TABLE))
    assert got.worst == pytest.approx(-300.15, abs=1e-9)
    assert (got.worst_source, got.worst_scenario) == ("scenario", 18)
    assert got.mm_contingency == pytest.approx(50.0, abs=1e-9)
    assert got.maintenance == pytest.approx(-349.15, abs=1e-9)
    assert got.initial == pytest.approx(-454.195, abs=1e-9)
    assert got.maintenance_requirement == pytest.approx(350.15, abs=1e-9)


def test_evaluate_portfolio_when_pm1_mainnet_then_short_put_worked_figures() -> None:
    # Mainnet's PMRM v1 on one naked short 1,700 put of case short_OTM (17 days + 8 h):
    # the static contingency is option_percent 2% x 1 x 2,000 = 40; MM = MtM + worst - 40
    # and IM = MtM + (worst - 40) x 1.25 (spot confidence 1: no confidence contingency).
    portfolio = pm1_case_portfolio("short_OTM", 0.0, [("0118", 1700, "p", -1.0)], [], 0)
    got = evaluate_portfolio(portfolio, portfolio_config(preset="derive-pm1"))
    assert got.mm_contingency == pytest.approx(40.0, abs=1e-9)
    assert got.im_contingency == 0.0 and got.im_factor == 1.25
    assert got.maintenance == pytest.approx(got.mtm + got.worst - 40.0, abs=1e-9)
    assert got.initial == pytest.approx(got.mtm + (got.worst - 40.0) * 1.25, abs=1e-9)
    assert got.worst_source == "scenario" and got.worst_scenario == 22  # spot -20%, vol up
    assert got.mtm == pytest.approx(float(got.expiry_mtm.sum()), abs=1e-12)  # no cash


# ------------------------------------------------------ SRM: the preset is the pure rule

#: The test configuration of Derive's SRM portfolio cases (test_derive_srm.py's
#: portfolio_case: config-test.sol's option and oracle parameters, perps 5% / 6.5%,
#: bases 80% with IM scale 1, depeg 0.98 / 1.2) as overrides of the mainnet preset.
SRM_TEST_MARKET: dict[str, Any] = {
    "option": {"max_spot_req": "0.15", "min_spot_req": "0.1", "mm_call_spot_req": "0.075",
               "mm_put_spot_req": "0.075", "mm_put_mtm_req": "0.075",
               "unpaired_im_scale": "1.2", "unpaired_mm_scale": "1.1",
               "mm_offset_scale": "1.05"},
    "perp": {"mm_req": "0.05", "im_req": "0.065"},
    "base": {"margin_factor": "0.8", "im_scale": "1"},
    "oracle": {"perp_threshold": "0.4", "option_threshold": "0.4", "base_threshold": "0.4",
               "oc_factor": "0.4"}}
SRM_TEST_TABLE: dict[str, Any] = {
    "preset": "derive-srm", "markets": {"eth": SRM_TEST_MARKET, "btc": SRM_TEST_MARKET},
    "depeg": {"threshold": "0.98", "depeg_factor": "1.2"}}


def _float(x: int) -> float:
    """A wad figure as the float nearest it, or (if that float's decimal is not the
    figure) the float just below: a confidence 1 wei under a threshold stays under it."""
    f = x / WAD
    return f if wad(f) == x else math.nextafter(f, -math.inf)


def as_portfolio(book: SrmPortfolio) -> tuple[Portfolio, str]:
    """A one-market SRM case as the portfolio face's :class:`Portfolio` (floats)."""
    (m,) = book.markets
    expiries = tuple(Expiry(float(e.sec_to_expiry), _float(e.forward), 0.0, 0.0,
                            _float(min(e.forward_confidence, e.vol_confidence)))
                     for e in m.expiries)
    options = tuple(OptionPosition(j, _float(o.strike), o.is_call, _float(o.balance),
                                   _float(o.vol))
                    for j, e in enumerate(m.expiries) for o in e.options)
    perp = m.perp
    return Portfolio(
        spot=_float(m.spot), expiries=expiries, options=options,
        perp_position=_float(perp.position) if perp else 0.0,
        perp_price=_float(perp.price) if perp else None,
        perp_value=_float(perp.unrealized_pnl) if perp else 0.0, cash=_float(book.cash),
        collaterals=(CollateralPosition(m.market, _float(m.base_position), _float(m.spot)),)
        if m.base_position else (),
        spot_confidence=_float(m.spot_confidence),
        perp_confidence=_float(perp.confidence) if perp else 1.0,
        stable_price=_float(book.stable_price)), m.market


#: The portfolio cases on one market (the face margins one underlying at a time).
SRM_ONE_MARKET = [c for c in SRM_CASES if len(srm_case(*c[:5])[0].markets) == 1]


def test_srm_one_market_cases_when_counted_then_most_of_derives() -> None:
    assert (len(SRM_ONE_MARKET), len(SRM_CASES)) == (35, 42)


@pytest.mark.parametrize("case", SRM_ONE_MARKET, ids=[c[0] for c in SRM_ONE_MARKET])
def test_evaluate_portfolio_when_srm_and_derive_case_then_pure_rules_figures(
        case: Any) -> None:
    name, cash, options, perps, bases, im, mm = case
    book, params = srm_case(name, cash, options, perps, bases)
    portfolio, market = as_portfolio(book)
    got = evaluate_portfolio(portfolio, portfolio_config(SRM_TEST_TABLE), market)
    assert got.rule == "SRM" and got.wad is not None
    assert (whole(got.wad[1]), whole(got.wad[2])) == (im, mm)
    adapted = srm_portfolio(portfolio, market)
    pure_im = srm_margin(book, params, initial=True)
    pure_mm = srm_margin(book, params, initial=False)
    # The face's expiry has one confidence, the least of the forward's and the vols': all
    # the SRM reads of them.
    (m,) = book.markets
    one_conf = replace(book, markets=(replace(m, expiries=tuple(
        replace(e, forward_confidence=c, vol_confidence=c)
        for e in m.expiries for c in [min(e.forward_confidence, e.vol_confidence)])),))
    assert srm_margin(one_conf, params, initial=True) == pure_im
    if adapted == one_conf:
        # The case is a decimal portfolio: the face is the pure rule to the wei.
        assert got.wad == (pure_mm.mtm, pure_im.margin, pure_mm.margin)
    else:
        # A confidence 1 wei under 0.4 (not a float): the nearest float below it.
        assert name == "short_call_low_vol_and_fwd_confidence"
        assert got.wad[2] == pure_mm.margin
    assert got.initial == got.wad[1] / WAD and got.scenario_pnl.size == 0


def test_evaluate_portfolio_when_srm_short_call_then_worked_figures() -> None:
    # short_ITM_call: short 1 ETH 1,500 call of 0111 (10 days + 8 h), vol 50%, spot 2,000.
    # MM = mark + 7.5% x 2,000 = mark + 150; IM = mark + max(15% - 0, 10%) x 2,000 =
    # mark + 300 (in the money: otm 0). The max loss (unbounded: a net short call) is not
    # better. Derive: IM -802, MM -652 (whole dollars), so the mark is 502.x.
    book, _ = srm_case("short_ITM_call", 0.0, [("eth", "0111", 1500, "c", -1.0)], [], [])
    portfolio, market = as_portfolio(book)
    got = evaluate_portfolio(portfolio, portfolio_config(SRM_TEST_TABLE), market)
    assert got.wad is not None
    mtm, initial, maintenance = got.wad
    assert maintenance - mtm == -150 * WAD and initial - mtm == -300 * WAD
    assert 502 * WAD < -mtm < 503 * WAD
    assert got.maintenance_requirement == pytest.approx(150.0, abs=1e-9)


def test_evaluate_portfolio_when_srm_base_collateral_then_counts_margin_factor() -> None:
    # borrowing_ETH's base alone: 1 ETH at 2,000 counts 80% = 1,600 for MM and IM (IM
    # scale 1); its mark-to-market is 2,000.
    portfolio = Portfolio(spot=2000.0, collaterals=(CollateralPosition("eth", 1.0, 2000.0),))
    got = evaluate_portfolio(portfolio, portfolio_config(SRM_TEST_TABLE), "eth")
    assert got.wad == (2000 * WAD, 1600 * WAD, 1600 * WAD)


def test_srm_preset_when_mainnet_eth_base_then_im_scale_applies() -> None:
    # Mainnet ETH: margin factor 0.8, IM scale 0.9375: 1 ETH at 2,000 counts 1,600 for MM
    # and 1,500 for IM.
    portfolio = Portfolio(spot=2000.0, collaterals=(CollateralPosition("ETH", 1.0, 2000.0),))
    got = evaluate_portfolio(portfolio, portfolio_config(preset="derive-srm"), "ETH")
    assert got.wad == (2000 * WAD, 1500 * WAD, 1600 * WAD)


def test_evaluate_portfolio_when_srm_cash_of_billions_then_exact_wad() -> None:
    # 20 billion USD of cash and 1 ETH at 2,000: MtM 20,000,002,000, both margins the cash
    # plus 80% of the base (IM x 0.9375). Was decimal.InvalidOperation from fixing the
    # cash to wad (quantize beyond 28 digits, from 1e10 up), out of engine.apply too.
    portfolio = Portfolio(spot=2000.0, cash=2e10,
                          collaterals=(CollateralPosition("ETH", 1.0, 2000.0),))
    got = evaluate_portfolio(portfolio, portfolio_config(preset="derive-srm"), "ETH")
    cash = 20_000_000_000 * WAD
    assert got.wad == (cash + 2000 * WAD, cash + 1500 * WAD, cash + 1600 * WAD)


# ------------------------------------------------------------- the grid model unchanged


def test_evaluate_portfolio_when_pm2_then_is_evaluate() -> None:
    portfolio = pm1_case_portfolio("short_OTM", 0.0, [("0118", 1700, "p", -1.0)], [], 0)
    cfg = portfolio_config(preset="derive-pm2")
    assert isinstance(cfg, PortfolioMarginConfig)
    got, pure = evaluate_portfolio(portfolio, cfg), evaluate(portfolio, cfg)
    assert (got.initial, got.maintenance, got.rule) == (pure.initial, pure.maintenance,
                                                        "PMRM_2")


# ------------------------------------------------------------------------- bad input


def _config_error(data: dict[str, Any] | None = None, preset: str | None = None) -> str:
    with pytest.raises(ConfigError) as err:
        portfolio_config(data, preset=preset)
    return str(err.value)


def test_portfolio_config_when_unknown_preset_then_lists_all_six() -> None:
    message = _config_error(preset="derive-pm3")
    assert "portfolio_margin.preset: unknown preset 'derive-pm3' (choose one of derive-pm2, " \
           "paradex, deribit-like, span-like, derive-pm1, derive-srm)" in message


@pytest.mark.parametrize(("data", "expected"), [
    ({"preset": "derive-srm", "markets": {"ETH": {"perp": {"im_req": 0.05}}}},
     "portfolio_margin.markets.ETH.perp.im_req: must be >= 65000000000000000 (got "
     "50000000000000000)"),
    ({"preset": "derive-srm", "markets": {"ETH": {"option": {"max_spot_req": 1.5}}}},
     "portfolio_margin.markets.ETH.option.max_spot_req: must be <= 1200000000000000000"),
    ({"preset": "derive-srm", "markets": {"NEW": {"perp": {"mm_req": 0.1, "im_req": 0.2}}}},
     "portfolio_margin.markets.NEW.option: required field is missing"),
    ({"preset": "derive-srm", "markets": {"ETH": {"perp": {"mm_req": "0.0650000000000000001"}}}},
     "portfolio_margin.markets.ETH.perp.mm_req: has more than 18 decimals"),
    ({"preset": "derive-srm", "depeg": {"depeg_factor": 4}},
     "portfolio_margin.depeg.depeg_factor: must be <= 3000000000000000000"),
    ({"preset": "derive-srm", "markets": {"ETH": {"perp": {"mm_req": True}}}},
     "portfolio_margin.markets.ETH.perp.mm_req: must not be true or false"),
    ({"preset": "derive-pm1", "im_factor": 0.9},
     "portfolio_margin.im_factor: must be a number in [1, 4] (got 0.9)"),
    ({"preset": "derive-pm1", "basis_spot_up": 1.0},
     "portfolio_margin.basis_spot_up: must be > 1 (got 1)"),
    ({"preset": "derive-pm1", "scenarios": [{"spot_shock": 1.0, "vol_shock": "linear"}]},
     "portfolio_margin.scenarios.0.vol_shock: must be 'up', 'none' or 'down'"),
    ({"preset": "derive-pm1", "scenarios": [{"spot_shock": 1.0, "vol_shock": "up",
                                             "dampening": 0.5}]},
     "portfolio_margin.scenarios.0.dampening: unknown field"),
    ({"preset": "derive-pm1", "min_vol_up": 0.4},
     "portfolio_margin.min_vol_up: unknown field"),
    ({"preset": "derive-pm1", "im_factor": True},
     "portfolio_margin.im_factor: must be a number in [1, 4] (got True)"),
    ({"preset": "derive-pm1", "conf_margin": "1.0"},
     "portfolio_margin.conf_margin: must be a number in [0, 1.5] (got '1.0')"),
])
def test_portfolio_config_when_bad_srm_or_pm1_table_then_error_names_field(
        data: dict[str, Any], expected: str) -> None:
    assert expected in _config_error(data)


def test_pm1_config_when_field_missing_then_error_names_it() -> None:
    from marginengine.config.derive_managers import PMRM1_PRESET, Pmrm1MarginConfig
    from marginengine.config.loading import validate_model
    table = {k: v for k, v in PMRM1_PRESET.items() if k != "rate_add_scale"}
    with pytest.raises(ConfigError) as err:
        validate_model(Pmrm1MarginConfig, table, prefix="portfolio_margin")
    assert "portfolio_margin.rate_add_scale: required field is missing" in str(err.value)


def test_portfolio_config_when_srm_override_then_one_field_changes() -> None:
    cfg = portfolio_config({"preset": "derive-srm",
                            "markets": {"ETH": {"perp": {"mm_req": 0.05}}}})
    assert cfg.market_params["ETH"].perp == type(cfg.market_params["ETH"].perp)(
        wad("0.05"), wad("0.1"))
    assert cfg.market_params["ETH"].base.im_scale == wad("0.9375")   # untouched


def test_evaluate_portfolio_when_srm_wrong_asset_kinds_then_error_names_field() -> None:
    cfg = portfolio_config(preset="derive-srm")
    usdc = Portfolio(spot=2000.0, collaterals=(CollateralPosition("USDC", 100.0, 1.0),))
    with pytest.raises(FieldError, match=r"^collaterals\.0\.asset: 'USDC' is not the "
                                         r"market's base asset \('ETH'\)"):
        evaluate_portfolio(usdc, cfg, "ETH")
    off_spot = Portfolio(spot=2000.0, collaterals=(CollateralPosition("ETH", 1.0, 1990.0),))
    with pytest.raises(FieldError, match=r"^collaterals\.0\.price: must be the market's spot"):
        evaluate_portfolio(off_spot, cfg, "ETH")
    no_default = portfolio_config({"preset": "derive-srm", "default": None})
    with pytest.raises(FieldError, match=r"^underlying: 'WETH' has no parameters in "
                                         r"portfolio_margin.markets"):
        evaluate_portfolio(Portfolio(spot=2000.0), no_default, "WETH")
    with pytest.raises(FieldError, match=r"^spot: must be > 0"):
        evaluate_portfolio(Portfolio(spot=0.0), cfg, "ETH")


def test_evaluate_portfolio_when_not_a_config_then_error_names_it() -> None:
    with pytest.raises(FieldError, match=r"^cfg: must be a portfolio-margin configuration"):
        evaluate_portfolio(Portfolio(spot=1.0), {"preset": "derive-srm"})  # type: ignore


def test_what_if_when_srm_buy_back_leaves_im_negative_then_refused_unlike_pmrm2() -> None:
    # A short ATM call (30 days, vol 60%, mark m = 137.08) with 100 of cash: SRM IM =
    # 100 - m - 15% x 2,000 = -337.08. Buying it back at its mark raises IM to 100 - m =
    # -37.08: PMRM_2's check lets a trade that does not lower IM through; Derive's SRM
    # (and PMRM v1) require IM >= 0 after any change with a negative delta.
    short = Portfolio(spot=2_000.0, expiries=(Expiry(30 * 86_400.0, 2_000.0),),
                      options=(OptionPosition(0, 2_000.0, True, -1.0, 0.6),), cash=100.0)
    srm = portfolio_config(preset="derive-srm")
    mark = -evaluate_portfolio(short, srm, "WETH").expiry_mtm[0]
    assert mark == pytest.approx(137.08, abs=0.01)
    buy_back = ProposedTrade(options=(OptionPosition(0, 2_000.0, True, 1.0, 0.6),),
                             cash=-float(mark))
    w = what_if_portfolio(short, buy_back, srm, "WETH")
    assert w.before.initial == pytest.approx(100.0 - mark - 300.0, abs=1e-9)
    assert w.after.initial == pytest.approx(100.0 - mark, abs=1e-9)
    assert not w.accepted
    refusal = validate_trade("bob", w, 10**6)
    assert refusal is not None and refusal.code.value == "SRM_PortfolioBelowMargin"
    assert refusal.data["initial_after"] == math.floor((100 - mark) * 10**6)
    # The same trade under PMRM_2's rule raises IM and passes.
    pm2 = what_if_portfolio(short, buy_back, portfolio_config(preset="derive-pm2"))
    assert pm2.after.initial > pm2.before.initial and pm2.accepted
