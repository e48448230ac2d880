"""Portfolio margin: Paradex's minimum-delta example, presets, properties, what-if, errors."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import ndtri

from marginengine.config.portfolio import (
    PORTFOLIO_PRESET_NAMES,
    PORTFOLIO_PRESETS,
    portfolio_config,
)
from marginengine.errors import ConfigError, FieldError
from marginengine.margin.base import MarginKind
from marginengine.margin.portfolio import (
    CollateralPosition,
    Expiry,
    OptionPosition,
    Portfolio,
    ProposedTrade,
    apply_trade,
    evaluate,
    min_delta_risk,
    naked_shorts,
    portfolio_deltas,
    requirement_units,
    scenario_table,
    what_if,
    worst_scenario,
)

DAY = 86_400
DERIVE = portfolio_config(preset="derive-pm2")
PARADEX = portfolio_config(preset="paradex")


def paradex_example() -> Portfolio:
    """Paradex's example portfolio (docs.paradex.trade, Risk > Portfolio Margin, "Example
    calculation"): long 1 BTC-PERP, short 5 calls of delta 0.3 each, spot 70,000. The
    strike is solved so that the call's delta is exactly 0.3 (rate 0, vol 50%, 30 days):
    N(d1) = 0.3."""
    t, vol, fwd = 30 * DAY / (365 * DAY), 0.5, 70_000.0
    s = vol * math.sqrt(t)
    d1 = float(ndtri(0.3))
    strike = fwd * math.exp(-(d1 - s / 2) * s)
    return Portfolio(spot=fwd, expiries=(Expiry(30 * DAY, fwd),),
                     options=(OptionPosition(0, strike, True, -5.0, vol),),
                     perp_position=1.0)


def test_min_delta_when_paradex_example_then_1400_usd():
    # Net -0.5, gross 2.5, hedged (2.5 - 0.5) / 2 = 1.0: (2% x 0.5 + 1% x 1.0) x 70,000.
    assert min_delta_risk(-0.5, 2.5, 70_000, 0.02, 0.01) == pytest.approx(1400.0, rel=1e-12)


def test_min_delta_when_paradex_portfolio_then_deltas_and_risk_from_the_book():
    p = paradex_example()
    net, gross = portfolio_deltas(p)
    assert net == pytest.approx(-0.5, rel=1e-9)
    assert gross == pytest.approx(2.5, rel=1e-9)
    result = evaluate(p, PARADEX)
    assert result.min_delta_risk == pytest.approx(1400.0, rel=1e-9)
    # IM requirement = max(SCAN risk, minimum delta); MM = 50% of it (no contingencies).
    scan = -min(0.0, float(result.scenario_pnl.min()))
    assert result.initial_requirement == pytest.approx(max(scan, 1400.0), rel=1e-12)
    assert result.maintenance_requirement == pytest.approx(0.5 * result.initial_requirement,
                                                           rel=1e-12)


def test_min_delta_when_delta_hedged_small_book_then_min_delta_sets_the_requirement():
    # A tiny delta-neutral book: SCAN risk is below the minimum-delta charge.
    p = Portfolio(spot=70_000.0, perp_position=0.001, expiries=(Expiry(30 * DAY, 70_000.0),),
                  options=(OptionPosition(0, 70_000.0, False, 0.0, 0.5),))
    result = evaluate(p, PARADEX)
    # Net delta 0.001: 2% x 0.001 x 70,000 = 1.4; scan loss of a 0.001 perp at -16% is 11.2.
    assert result.min_delta_risk == pytest.approx(1.4, rel=1e-9)
    assert result.worst == pytest.approx(-11.2, rel=1e-9)
    assert result.worst_source == "scenario"
    assert result.worst_scenario == 15  # the -16% vol-up row of Paradex's table


def test_presets_when_loaded_then_published_tables():
    assert set(PORTFOLIO_PRESET_NAMES) == set(PORTFOLIO_PRESETS)
    # Derive: scripts/config-mainnet.sol getPMRM2Params / getDefaultPM2Scenarios.
    assert len(DERIVE.scenarios) == 33
    assert (DERIVE.scenarios[23].spot_shock, DERIVE.scenarios[23].dampening) == (0.34, 0.21)
    assert [s.vol_shock for s in DERIVE.scenarios[-2:]] == ["linear", "abs"]
    assert (DERIVE.im_factor, DERIVE.mm_factor) == (1.0, 0.8)
    assert DERIVE.vol_shock.min_vol_up == 0.4 and DERIVE.vol_shock.vol_range_up == 0.5
    assert DERIVE.basis is not None and DERIVE.basis.mult_factor == 2.0
    assert DERIVE.static_discount.long_base == 1.05
    assert DERIVE.contingencies.mm_perp == 0.03 and DERIVE.contingencies.im_option == 0.002
    # Paradex: 24 scenarios, +16% .. -16% then tails, weight of +500% 3.2%, MM 50% of IM.
    assert len(PARADEX.scenarios) == 24
    assert PARADEX.scenarios[0].spot_shock == 1.16 and PARADEX.scenarios[-1].dampening == 0.032
    assert PARADEX.mm_factor / PARADEX.im_factor == 0.5
    assert PARADEX.min_delta is not None and PARADEX.min_delta.net == 0.02
    span = portfolio_config(preset="span-like")
    assert len(span.scenarios) == 16
    assert span.scenarios[-1].spot_shock == pytest.approx(0.55)
    assert span.scenarios[-1].dampening == 0.35
    assert len(portfolio_config(preset="deribit-like").scenarios) == 19


def test_config_when_override_on_preset_then_merged_and_validated():
    cfg = portfolio_config({"preset": "derive-pm2", "vol_shock": {"min_vol_up": 0.5}})
    assert cfg.vol_shock.min_vol_up == 0.5 and cfg.vol_shock.vol_range_up == 0.5


def test_config_when_mm_factor_above_im_factor_then_accepted_as_derive_does():
    # Derive's setMarginParams bounds each factor on its own (its case test_87: MM 10).
    cfg = portfolio_config({"preset": "derive-pm2", "mm_factor": 1.5})
    assert cfg.mm_factor == 1.5 and cfg.im_factor == 1.0


@pytest.mark.parametrize(("data", "message"), [
    ({"preset": "nope"}, "portfolio_margin.preset: unknown preset 'nope'"),
    ({"preset": "derive-pm2", "vol_shock": {"vol_range_up": -1}},
     "portfolio_margin.vol_shock.vol_range_up: must be at least 0"),
    ({"preset": "derive-pm2", "collateral": {"WETH": {"mm_haircut": 0.7, "im_haircut": 0.5}}},
     "portfolio_margin.collateral.WETH: mm_haircut + im_haircut must be at most 1"),
    ({"preset": "paradex", "scenarios": [{"spot_shock": 1.0, "vol_shock": "linear"}]},
     "a linear or abs (skew) scenario needs a [skew] table"),
    ({"preset": "derive-pm2", "im_factor": True}, "portfolio_margin.im_factor: must not be"),
    ({"preset": "derive-pm2", "mm_factor": 11}, "portfolio_margin.mm_factor: must be at most 10 "
                                                "(got 11)"),
    ({"preset": "derive-pm2", "scenarios": []}, "portfolio_margin.scenarios: must have at least"),
    ({"preset": "derive-pm2", "typo": 1}, "portfolio_margin.typo: unknown field"),
])
def test_config_when_bad_field_then_error_names_it(data, message):
    with pytest.raises(ConfigError) as err:
        portfolio_config(data)
    assert message in str(err.value)


@pytest.mark.parametrize(("portfolio", "field"), [
    (Portfolio(spot=0.0), "spot"),
    (Portfolio(spot=1.0, options=(OptionPosition(0, 1.0, True, 1.0, 0.5),)), "options.0.expiry"),
    (Portfolio(spot=1.0, expiries=(Expiry(DAY, 1.0),),
               options=(OptionPosition(0, -1.0, True, 1.0, 0.5),)), "options.0.strike"),
    (Portfolio(spot=1.0, expiries=(Expiry(DAY, 1.0),),
               options=(OptionPosition(0, 1.0, True, float("nan"), 0.5),)), "options.0.amount"),
    (Portfolio(spot=1.0, spot_confidence=1.5), "spot_confidence"),
    (Portfolio(spot=1.0, expiries=(Expiry(DAY, 1.0),),
               options=(OptionPosition(0, 1.0, True, 1.0, 0.5),
                        OptionPosition(0, 1.0, True, 2.0, 0.6))), "options.1.vol"),
    (Portfolio(spot=1.0, collaterals=(CollateralPosition("DOGE", 1.0, 1.0),)),
     "collaterals.0.asset"),
])
def test_evaluate_when_bad_portfolio_then_field_error_names_it(portfolio, field):
    with pytest.raises(FieldError) as err:
        evaluate(portfolio, DERIVE)
    assert str(err.value).startswith(field)


def test_naked_shorts_when_call_and_put_share_strike_then_they_net():
    # Derive's filter: per strike, a long offsets a short of either type.
    opts = [OptionPosition(0, 100.0, True, -3.0, 0.5), OptionPosition(0, 100.0, False, 2.0, 0.5),
            OptionPosition(0, 120.0, True, -1.0, 0.5), OptionPosition(1, 100.0, True, -4.0, 0.5)]
    assert naked_shorts(opts) == 1.0 + 1.0 + 4.0


def test_requirement_units_when_fractional_then_rounded_up():
    # 0.1 is 0.1000000000000000055...: a requirement is never understated.
    assert requirement_units(0.1, 10**6) == 100_001
    assert requirement_units(2.5, 10**6) == 2_500_000
    assert requirement_units(-3.0, 10**6) == 0
    with pytest.raises(FieldError, match="^unit"):
        requirement_units(1.0, 0)


def book(draw_amounts: list[float], perp: float) -> Portfolio:
    expiries = (Expiry(7 * DAY, 3000.0, rate=0.05), Expiry(60 * DAY, 3020.0, rate=0.05))
    strikes = [2500.0, 2800.0, 3000.0, 3200.0, 3600.0, 4000.0]
    opts = tuple(OptionPosition(i % 2, strikes[i % len(strikes)], i % 3 != 0, a,
                                0.6 + 0.05 * (i % len(strikes)))
                 for i, a in enumerate(draw_amounts))
    return Portfolio(spot=3000.0, expiries=expiries, options=opts, perp_position=perp,
                     cash=10_000.0)


amounts = st.lists(st.floats(-20, 20, allow_nan=False).map(lambda x: round(x, 3)),
                   min_size=1, max_size=8)


@settings(max_examples=40, deadline=None)
@given(amounts, st.floats(-10, 10).map(lambda x: round(x, 3)))
def test_property_requirement_never_below_factor_times_worst_loss(amts, perp):
    p = book(amts, perp)
    for cfg in (DERIVE, PARADEX):
        r = evaluate(p, cfg)
        worst_loss = max(0.0, -float(r.scenario_pnl.min()))
        assert r.initial_requirement >= cfg.im_factor * worst_loss - 1e-9 * (1 + worst_loss)
        assert r.maintenance_requirement >= cfg.mm_factor * worst_loss - 1e-9 * (1 + worst_loss)


@settings(max_examples=40, deadline=None)
@given(amounts, st.floats(-10, 10).map(lambda x: round(x, 3)))
def test_property_position_and_its_opposite_net_to_zero_risk(amts, perp):
    p = book(amts, perp)
    opposite = book([-a for a in amts], -perp)
    both = Portfolio(spot=p.spot, expiries=p.expiries, options=p.options + opposite.options,
                     perp_position=p.perp_position + opposite.perp_position, cash=p.cash)
    for cfg in (DERIVE, PARADEX):
        r = evaluate(both, cfg)
        assert float(abs(r.scenario_pnl).max()) == 0.0
        assert r.worst == 0.0 and r.mm_contingency == 0.0 and r.im_contingency == 0.0
        assert r.initial_requirement == 0.0 and r.maintenance_requirement == 0.0


@settings(max_examples=30, deadline=None)
@given(amounts, st.floats(0.5, 3.0), st.floats(0.0, 2.0))
def test_property_margin_monotone_in_factors(amts, im_factor, extra):
    p = book(amts, 0.0)
    low = portfolio_config({"preset": "derive-pm2", "im_factor": im_factor,
                            "mm_factor": min(im_factor, 0.8)})
    high = portfolio_config({"preset": "derive-pm2", "im_factor": im_factor + extra,
                             "mm_factor": min(im_factor, 0.8)})
    assert evaluate(p, high).initial <= evaluate(p, low).initial + 1e-9


def test_what_if_when_short_call_added_then_margin_after_and_table():
    p = Portfolio(spot=3000.0, expiries=(Expiry(30 * DAY, 3000.0),), cash=5_000.0)
    trade = ProposedTrade(options=(OptionPosition(0, 3300.0, True, -1.0, 0.7),), cash=120.0)
    w = what_if(p, trade, DERIVE)
    # Cash alone carries no risk: margin = cash. After: the premium is received, the short
    # call is valued at mark, and the worst scenario (a +18% vol-up move) is charged.
    assert w.before.initial == 5_000.0
    call_value = float(-w.after.expiry_mtm[0])
    assert call_value > 0
    assert w.after.mtm == pytest.approx(5_120.0 - call_value, rel=1e-12)
    assert w.after.initial < w.before.initial
    assert w.accepted
    after = apply_trade(p, trade)
    rows = scenario_table(after, DERIVE)
    assert len(rows) == 33
    worst = worst_scenario(after, DERIVE)
    assert worst is not None and (worst.spot_shock, worst.vol_shock) == (1.18, "up")
    assert worst.pnl == min(r.pnl for r in rows)
    assert evaluate(after, DERIVE).margin(MarginKind.INITIAL) == w.after.initial


def test_what_if_when_trade_breaks_initial_margin_then_refused():
    p = Portfolio(spot=3000.0, expiries=(Expiry(30 * DAY, 3000.0),), cash=100.0)
    trade = ProposedTrade(options=(OptionPosition(0, 3000.0, True, -10.0, 0.7),), cash=2_000.0)
    w = what_if(p, trade, DERIVE)
    assert w.after.initial < 0 and not w.accepted


def test_offset_when_a_perp_hedges_a_short_call_then_the_requirement_falls_by_its_pnl():
    # Cross-product offset inside one PMRM_2 portfolio (Derive's perp and options share
    # the scenarios): a short 1 ATM WETH call (K = S = 2,000, 30 days, vol 60%, r = 0) on
    # a two-scenario grid (spot +-10%, vol unchanged, no contingencies, no discount).
    # Black-76 by hand: C(2000) = 137.0788, C(2200) = 265.4052, C(1800) = 53.8314.
    def call(s: float) -> float:
        t, k, v = 30 / 365, 2_000.0, 0.6
        d1 = (math.log(s / k) + v * v * t / 2) / (v * math.sqrt(t))
        n = lambda x: 0.5 * (1 + math.erf(x / math.sqrt(2)))  # noqa: E731
        return s * n(d1) - k * n(d1 - v * math.sqrt(t))
    assert (call(2_000), call(2_200), call(1_800)) == pytest.approx(
        (137.0788, 265.4052, 53.8314), abs=1e-4)
    cfg = portfolio_config({
        "scenarios": [{"spot_shock": 1.1, "vol_shock": "none"},
                      {"spot_shock": 0.9, "vol_shock": "none"}],
        "vol_shock": {"vol_range_up": 0, "vol_range_down": 0, "short_term_power": 0,
                      "long_term_power": 0}})

    def requirement(perp: float) -> float:
        p = Portfolio(spot=2_000.0, expiries=(Expiry(30 * DAY, 2_000.0),),
                      options=(OptionPosition(0, 2_000.0, True, -1.0, 0.6),),
                      perp_position=perp)
        return evaluate(p, cfg).maintenance_requirement

    # Naked: the +10% scenario loses C(2200) - C(2000) = 128.3264.
    assert requirement(0.0) == pytest.approx(128.3264, abs=1e-4)
    # Long 0.5 perp: +10% loses 128.3264 - 0.5 x 200 = 28.3264; -10% gains 83.2474 on
    # the call and loses 100 on the perp: -16.7526. The worst is 28.3264: 100 less.
    assert requirement(0.5) == pytest.approx(28.3264, abs=1e-4)
    # Over-hedged (1 perp): -10% now sets it, 200 - 83.2474 = 116.7526.
    assert requirement(1.0) == pytest.approx(116.7526, abs=1e-4)
