"""The portfolio rule's delta (``portfolio_deltas``, behind Paradex's minimum-delta charge)
against finite differences of the same rule's own valuation (``evaluate(...).mtm``).

``portfolio_deltas`` documents its delta as d(value)/d(spot) "with the forward moving with
spot as the scenarios move it": a spot move scales each expiry's variable forward and
leaves its part fixed in the settlement window alone (Derive's PMRMLib_2 shocks
``forwardVariablePortion`` only, derivexyz/v2-core src/risk-managers/PMRM_2.sol). So
bumping ``spot`` and every ``Expiry.forward`` by the same factor and revaluing must move
the MtM by the net delta, whatever the rates (floored at 0 or not, as the config says),
strikes, expiries and fixed portions.
"""

from __future__ import annotations

import math
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from marginengine.config.portfolio import portfolio_config
from marginengine.margin.portfolio import (
    Expiry,
    OptionPosition,
    Portfolio,
    evaluate,
    portfolio_deltas,
)

DAY = 86_400
CONFIGS = {floor: portfolio_config({"preset": "paradex", "floor_rate_at_zero": floor})
           for floor in (True, False)}


@st.composite
def portfolios(draw):  # type: ignore[no-untyped-def]
    spot = draw(st.floats(50.0, 1e5))
    n_e = draw(st.integers(1, 3))
    expiries = []
    for _ in range(n_e):
        days = draw(st.floats(3.0, 400.0))
        forward = spot * math.exp(draw(st.floats(-0.05, 0.05)))
        # Some expiries are in their settlement window: part of the forward fixed.
        fixed = draw(st.sampled_from((0.0, 0.0, 0.3, 0.8)))
        expiries.append(Expiry(days * DAY, forward * (1 - fixed), forward * fixed,
                               draw(st.floats(-0.05, 0.2))))
    options = []
    held = set()
    for _ in range(draw(st.integers(1, 5))):
        e = draw(st.integers(0, n_e - 1))
        vol = draw(st.floats(0.15, 1.5))
        t = expiries[e].sec_to_expiry / (365 * DAY)
        fwd = expiries[e].forward + expiries[e].forward_fixed
        strike = fwd * math.exp(draw(st.floats(-1.5, 1.5)) * vol * math.sqrt(t))
        call = draw(st.booleans())
        if (e, strike, call) in held:  # one mark vol per option (the rule refuses two)
            continue
        held.add((e, strike, call))
        options.append(OptionPosition(e, strike, call, draw(st.floats(-20.0, 20.0)), vol))
    return Portfolio(spot=spot, expiries=tuple(expiries), options=tuple(options),
                     perp_position=draw(st.floats(-5.0, 5.0)))


def mtm_at(p: Portfolio, factor: float, floor: bool) -> float:
    """The rule's own MtM with spot and each variable forward scaled by ``factor``; the
    perp's value moves with its mark (its size is its delta)."""
    moved = replace(p, spot=p.spot * factor,
                    expiries=tuple(replace(e, forward=e.forward * factor)
                                   for e in p.expiries),
                    perp_value=p.perp_position * p.spot * (factor - 1.0))
    return evaluate(moved, CONFIGS[floor]).mtm


@settings(max_examples=150, deadline=None)
@given(portfolios(), st.booleans())
def test_net_delta_when_any_portfolio_then_matches_central_difference_of_mtm(p, floor):
    net, gross = portfolio_deltas(p, floor)
    h = 1e-5
    numeric = (mtm_at(p, 1 + h, floor) - mtm_at(p, 1 - h, floor)) / (2 * h * p.spot)
    scale = sum(abs(o.amount) for o in p.options) + abs(p.perp_position)
    assert abs(net - numeric) <= 1e-5 * scale + 1e-6
    assert gross >= abs(net) - 1e-12


def test_net_delta_when_forward_partly_fixed_then_scaled_by_the_variable_share():
    # One ATM-forward call, 30 days, 50% vol, rate 0, forward 2,000 of which 1,200 is
    # already fixed in the settlement window: a spot move of dS moves the forward by
    # (800 / 2,000) dS only, so the delta is N(d1) x 0.4 with d1 = s / 2,
    # s = 0.5 sqrt(30 / 365): N(0.071674) = 0.528569, delta 0.211428.
    p = Portfolio(spot=2_000.0, expiries=(Expiry(30 * DAY, 800.0, 1_200.0),),
                  options=(OptionPosition(0, 2_000.0, True, 1.0, 0.5),))
    net, _ = portfolio_deltas(p)
    s = 0.5 * math.sqrt(30 / 365)
    nd1 = 0.5 * math.erfc(-(s / 2) / math.sqrt(2))
    assert round(nd1, 6) == 0.528569
    assert abs(net - 0.4 * nd1) < 1e-12
    h = 1e-6
    numeric = (mtm_at(p, 1 + h, True) - mtm_at(p, 1 - h, True)) / (2 * h * p.spot)
    assert abs(net - numeric) < 1e-7
