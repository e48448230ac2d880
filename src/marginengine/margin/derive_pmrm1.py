"""Derive's (Lyra v2) first portfolio margin, PMRM (v1), on the same scenario kernels as
PMRM_2.

Reference (read, not copied): ``derivexyz/v2-core`` at commit
7736900d395703c4f675376caa4c315402943831, ``src/risk-managers/PMRMLib.sol``
(``getMarginAndMarkToMarket``, ``getScenarioMtM``, ``addPrecomputes``,
``_addStaticDiscount``, ``_addVolShocks``, ``_addBasisContingency``,
``_getConfidenceContingency``, ``_getOptionContingency``, the setters' bounds) and
``src/risk-managers/PMRM.sol`` (``_arrangePortfolio``: confidences, rates floored at 0).
Checked against every case of
``test/risk-managers/unit-tests/PMRM/test-cases-portfolio-pm.json``
(``tests/margin/test_derive_pmrm1.py``). The parameters (:class:`Pmrm1Params`, Derive's
structures with its setters' bounds) are :mod:`marginengine.config.derive_managers`; the
preset ``derive-pm1`` runs this rule through the portfolio faces
(:mod:`marginengine.margin.portfolio_rules`).

What v1 does differently from PMRM_2 (:mod:`marginengine.margin.portfolio`):

- options are valued **undiscounted** (Black-76 with discount 1; the rate only sets the
  static discount), and the static discount applies to a **positive** shocked expiry
  only (``base x exp(-tau (r x rate_mult + rate_add))``), never to a negative one;
- one contingency per kind, ``perp_percent`` of |perp|, ``base_percent`` of the base and
  ``option_percent`` of naked shorts, times spot, is subtracted from the worst scenario
  **before** the IM factor scales it (so IM charges it ``im_factor`` times); MM has no
  factor: ``MM = MtM + worst - contingencies``;
- IM = ``MtM + (worst - contingencies) x (im_factor + depeg add-on) - confidence
  contingency``, the confidence contingency ``(1 - c) x conf_margin x units x spot`` on
  ``|perp| + base`` at the least of spot's and the perp's confidence, and on each expiry's
  gross options at that and the expiry's;
- no dampening, no skew scenarios, no minimum shocked vol;
- the base asset (the portfolio's collaterals here, each valued ``amount x price /
  stable price``) moves with spot in every scenario.

The worst is ``min(basis contingency, every scenario)`` (the basis contingency is <= 0,
so 0 when nothing loses). Floats screen, as in PMRM_2; a requirement becomes money through
:func:`marginengine.margin.portfolio.requirement_units`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from marginengine.config.derive_managers import Pmrm1Params
from marginengine.margin.portfolio import Portfolio, naked_shorts
from marginengine.pricing.inputs import FloatArray
from marginengine.pricing.scenarios import (
    VOL_DIRECTIONS,
    VOL_NONE,
    BasisContingencyParams,
    Scenarios,
    StaticDiscountParams,
    VolShockParams,
    basis_contingency,
    basis_scenarios,
    expiry_scenario_pnl,
    scenario_values,
    static_discounts,
    sum_by_expiry,
)


@dataclass(frozen=True)
class Pmrm1Margin:
    """A PMRM (v1) margin and what it was computed from (Derive's sign: >= 0 is met).

    Attributes
    ----------
    initial, maintenance, mtm
        IM, MM and the mark-to-market (cash included).
    scenario_pnl
        Each scenario's P&L against MtM, in the parameters' order (discounted).
    basis_contingency, worst, worst_scenario
        The basis contingency (<= 0), ``min(basis, scenarios)`` and the index of the
        scenario that set it (``None``: the basis contingency).
    static_contingency, confidence_contingency
        Subtracted before the IM factor, and after it (IM only).
    im_factor
        The IM factor with the depeg add-on.
    expiry_mtm
        Options at mark (undiscounted), per expiry.
    """

    initial: float
    maintenance: float
    mtm: float
    scenario_pnl: FloatArray
    basis_contingency: float
    worst: float
    worst_scenario: int | None
    static_contingency: float
    confidence_contingency: float
    im_factor: float
    expiry_mtm: FloatArray = field(repr=False, default_factory=lambda: np.zeros(0))


def _confidence_contingency(params: Pmrm1Params, confidence: float, units: float,
                            spot: float) -> float:
    if confidence < params.conf_threshold:
        return (1.0 - confidence) * params.conf_margin * units * spot
    return 0.0


def _grid(params: Pmrm1Params) -> Scenarios:
    return Scenarios.of([s for s, _ in params.scenarios],
                        [VOL_DIRECTIONS[d] for _, d in params.scenarios])


def evaluate_pmrm1(portfolio: Portfolio, params: Pmrm1Params) -> Pmrm1Margin:
    """Derive's PMRM (v1) initial and maintenance margin of one portfolio.

    Parameters
    ----------
    portfolio
        The holdings (:class:`marginengine.margin.portfolio.Portfolio`; validated here).
        Each expiry's ``rate`` sets its static discount (floored at 0, as Derive's
        ``_initialiseExpiries``), not the options' value; ``collaterals`` are the base
        asset.
    params
        The library's parameters.

    Raises
    ------
    FieldError
        A field of the portfolio out of range, naming it.
    """
    p = portfolio.validated()
    grid = _grid(params)
    shock = grid.spot_shock
    n_s = shock.size
    min_conf = p.spot_confidence
    perp_price = p.spot if p.perp_price is None else p.perp_price
    pnl = np.zeros(n_s)
    mtm = p.perp_value + p.cash
    if p.perp_position:
        min_conf = min(min_conf, p.perp_confidence)
        pnl += p.perp_position * (shock - 1.0) * perp_price
    base_units = 0.0
    for c in p.collaterals:
        value = c.amount * c.price / p.stable_price
        mtm += value
        pnl += value * (shock - 1.0)
        base_units += c.amount
    static = (abs(p.perp_position) * params.perp_percent
              + base_units * params.base_percent) * p.spot
    conf = _confidence_contingency(params, min_conf, abs(p.perp_position) + base_units,
                                   p.spot)
    basis = 0.0
    expiry_mtm = np.zeros(len(p.expiries))
    if p.options:
        e, o = p.expiries, p.options
        tte = np.array([x.sec_to_expiry for x in e])
        rate = np.array([max(x.rate, 0.0) for x in e])
        idx = np.array([x.expiry for x in o], dtype=np.intp)
        amounts = np.array([x.amount for x in o])
        vp = VolShockParams(params.vol_range_up, params.vol_range_down,
                            params.short_term_power, params.long_term_power,
                            params.dte_floor_days * 86_400, 0.0)

        def values(scenarios: Scenarios) -> FloatArray:
            # Undiscounted: Derive's PMRMLib prices with a discount of 1.
            v = scenario_values([e[x.expiry].forward for x in o],
                                [e[x.expiry].forward_fixed for x in o],
                                [x.strike for x in o], tte[idx], [x.vol for x in o], 0.0,
                                [x.is_call for x in o], scenarios, vp)
            return sum_by_expiry(v, amounts, idx, len(e))

        base = values(Scenarios.of([1.0], [VOL_NONE]))[:, 0]
        expiry_mtm = base
        mtm += float(base.sum())
        bp = BasisContingencyParams(params.basis_spot_up, params.basis_spot_down,
                                    params.basis_add_factor, params.basis_mult_factor)
        moved = values(basis_scenarios(bp))
        basis = float(basis_contingency(base, moved[:, 0], moved[:, 1], tte, bp).sum())
        # A negative expiry keeps its value: the negative multiplier is min(1 / D, 1) = 1
        # for a rate >= 0.
        pos, neg = static_discounts(tte, rate, StaticDiscountParams(
            params.base_static_discount, params.rate_mult_scale, params.rate_add_scale,
            1.0, 0.0, 0.0))
        pnl += expiry_scenario_pnl(values(grid), base, pos, neg, grid).sum(axis=0)
        static += naked_shorts(o) * params.option_percent * p.spot
        for j, x in enumerate(e):
            gross = sum(abs(y.amount) for y in o if y.expiry == j)
            conf += _confidence_contingency(params, min(min_conf, x.confidence), gross, p.spot)
    worst, worst_idx = basis, None
    i_min = int(np.argmin(pnl))
    if pnl[i_min] < worst:
        worst, worst_idx = float(pnl[i_min]), i_min
    factor = params.im_factor
    if p.stable_price < params.peg_loss_threshold:
        factor += (params.peg_loss_threshold - p.stable_price) * params.peg_loss_factor
    maintenance = worst - static + mtm
    initial = (worst - static) * factor - conf + mtm
    return Pmrm1Margin(initial, maintenance, mtm, pnl, basis, worst, worst_idx, static, conf,
                       factor, expiry_mtm)


def derive_test_scenarios() -> tuple[tuple[float, str], ...]:
    """Derive's ``getDefaultScenarios`` (``test/config-test.sol``): spot 1.15 down to 0.85
    in steps of 0.05, each with vol up, none and down (21 scenarios)."""
    steps: Sequence[float] = (1.15, 1.1, 1.05, 1.0, 0.95, 0.9, 0.85)
    return tuple((s, d) for s in steps for d in ("up", "none", "down"))


__all__ = ["Pmrm1Margin", "Pmrm1Params", "derive_test_scenarios",
           "evaluate_pmrm1"]
