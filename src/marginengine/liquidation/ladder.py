"""A keeper's liquidation ladder: the best chunk of a close-factor liquidation and its
profit after gas and slippage, as a pure rule (no engine).

A keeper offers the largest liquidation allowed (the quote's ``debt_to_cover``), then
halves the offer until a chunk pays: what selling the seized collateral fetches (its
venue's quote, slippage included) less the debt repaid and the gas is at least its
minimum profit, and it can pay the debt (or borrows it in a flash loan).

Each rung is first screened in float (:func:`plan_bounds`): the amounts of
:func:`~marginengine.liquidation.close_factor.plan_liquidation` within a proven interval
(each integer rounding of the rule costs at most one unit; each float operation at most
a relative ``2**-52``, bounded here by :data:`REL`). A rung whose whole interval fails is
skipped, one whose whole interval pays is taken, and only a rung on the edge is planned
exactly. The decision is therefore the one the exact plan of every rung would give.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from marginengine.config import AaveRules
from marginengine.config.families import ROUNDING_V3_3, LiquidationRounding
from marginengine.fixedpoint import BPS, PRICE_UNIT, WAD
from marginengine.liquidation.base import LiquidationRefused
from marginengine.liquidation.close_factor import (
    CloseFactorInputs,
    CloseFactorPlan,
    max_liquidatable_debt,
    offers_largest_first,
    plan_liquidation,
    rule_integers,
)

#: Relative error allowed for each float figure of :func:`plan_bounds` (a few hundred
#: times the ~1e-16 a handful of float operations can accumulate).
REL = 1e-12
#: Absolute error allowed, in smallest units: each rounding of the rule moves an amount by
#: at most one unit, and no amount passes through more than three.
ABS_UNITS = 4.0
#: Rungs of the ladder: the offer halved up to this many times less one.
RUNGS = 8


class PlanBounds(NamedTuple):
    """Float bounds of one plan's amounts, or whether it is surely refused.

    ``refused`` is ``True`` (surely refused), ``False`` (surely allowed) or ``None`` (on
    the edge: only the exact plan can tell).

    An immutable named tuple (one per rung a keeper screens: a frozen dataclass's
    ``__init__`` costs about twice as much).
    """

    refused: bool | None
    debt_lo: float = 0.0
    debt_hi: float = 0.0
    to_liquidator_lo: float = 0.0
    to_liquidator_hi: float = 0.0


def _lo(x: float) -> float:
    return x * (1 - REL) - ABS_UNITS


def _hi(x: float) -> float:
    return x * (1 + REL) + ABS_UNITS


def plan_bounds(inputs: CloseFactorInputs, debt_to_cover: int, rules: AaveRules,
                rounding: LiquidationRounding = ROUNDING_V3_3,
                max_debt: int | None = None) -> PlanBounds:
    """Float bounds of :func:`plan_liquidation` ``(inputs, debt_to_cover)`` (see the module
    docstring): the repaid debt and the collateral to the liquidator, and whether the
    plan is refused, each proven to contain the exact answer. ``max_debt``: the
    close-factor cap if already known (:func:`max_liquidatable_debt`, exact)."""
    if inputs.health_factor >= WAD or inputs.debt_balance == 0 \
            or inputs.collateral_balance == 0:
        return PlanBounds(True)
    if max_debt is None:
        max_debt, _ = max_liquidatable_debt(inputs, rules, rounding)  # integers: exact
    actual = min(debt_to_cover, max_debt)
    bonus = inputs.liquidation_bonus_bps / BPS
    to_coll = inputs.debt_price * inputs.collateral_unit / (
        inputs.collateral_price * inputs.debt_unit)
    max_coll = actual * to_coll * bonus
    coll_balance = inputs.collateral_balance
    if _lo(max_coll) > coll_balance:      # capped: all the collateral
        collateral = float(coll_balance)
        debt = collateral / to_coll / bonus
        c_lo = c_hi = collateral
        d_lo, d_hi = _lo(debt), _hi(debt)
        partial: bool | None = False
    elif _hi(max_coll) <= coll_balance:   # not capped: the offer (clamped) is repaid
        c_lo, c_hi = _lo(max_coll), min(_hi(max_coll), float(coll_balance))
        d_lo = d_hi = float(actual)
        partial = None if c_hi >= coll_balance else actual < inputs.debt_balance
    else:
        return PlanBounds(None)
    fee_share = inputs.protocol_fee_bps / BPS * (1 - 1 / bonus)
    t_lo = _lo(c_lo * (1 - fee_share))
    t_hi = _hi(c_hi * (1 - fee_share))
    if d_lo < 1 or t_lo < 1:              # may round to zero
        return PlanBounds(None if d_hi >= 1 and t_hi >= 1 else True)
    if partial is None:
        return PlanBounds(None)
    if partial:
        floor = rule_integers(rules).min_leftover_base
        debt_left = (inputs.debt_balance - d_hi) * inputs.debt_price / inputs.debt_unit
        debt_left_hi = (inputs.debt_balance - d_lo) * inputs.debt_price / inputs.debt_unit
        coll_left = (coll_balance - c_hi) * inputs.collateral_price / inputs.collateral_unit
        coll_left_hi = (coll_balance - c_lo) * inputs.collateral_price / inputs.collateral_unit
        if _hi(debt_left_hi) < floor or _hi(coll_left_hi) < floor:
            return PlanBounds(True)         # surely leaves dust
        if _lo(debt_left) < floor or _lo(coll_left) < floor:
            return PlanBounds(None)
    return PlanBounds(False, d_lo, d_hi, t_lo, t_hi)


def first_offer(inputs: CloseFactorInputs, min_leftover_base_units: int, rules: AaveRules,
                rounding: LiquidationRounding = ROUNDING_V3_3) -> tuple[int, PlanBounds,
                                                                        CloseFactorPlan | None,
                                                                        int]:
    """The quote's offer: the first of
    :func:`~marginengine.liquidation.close_factor.quote_offers` (the whole debt, or what
    leaves exactly the minimum leftover of the debt or of the collateral) that is allowed,
    as :func:`marginengine.engine.keeper.liquidation_quote`.

    Returns ``(offer, bounds, exact plan or None, exact plans computed)``; ``offer`` is 0
    when every one is refused.
    """
    planned = 0
    # One at a time: the first is allowed for most accounts, the others not computed.
    for offer in offers_largest_first(inputs, min_leftover_base_units):
        bounds = plan_bounds(inputs, offer, rules, rounding)
        if bounds.refused is False:
            return offer, bounds, None, planned
        if bounds.refused:
            continue
        planned += 1
        try:
            plan = plan_liquidation(inputs, offer, rules, rounding)
        except LiquidationRefused:
            continue
        return offer, exact_bounds(plan), plan, planned
    return 0, PlanBounds(True), None, planned


def exact_bounds(plan: CloseFactorPlan) -> PlanBounds:
    """The (degenerate) bounds of an exact plan."""
    d, t = float(plan.debt_repaid), float(plan.collateral_to_liquidator)
    return PlanBounds(False, d, d, t, t)


@dataclass(frozen=True)
class Chunk:
    """The best chunk of a ladder: the offer to make, and its exact plan if one was
    needed to decide (``None`` when the float bounds decided)."""

    offer: int
    plan: CloseFactorPlan | None
    exact_plans: int


def best_chunk(inputs: CloseFactorInputs, offer: int, bounds: PlanBounds,
               plan0: CloseFactorPlan | None, rules: AaveRules,
               rounding: LiquidationRounding, sale_value: Callable[[int], float],
               mid_price: int, gas: float, min_profit: float, capital: float | None,
               price_cap: int | None = None, rungs: int = RUNGS,
               surplus: Callable[[float], float | None] | None = None,
               ) -> tuple[Chunk | None, int]:
    """The keeper's decision on one account: the first rung of ``offer, offer // 2,
    offer // 4, ...`` that pays (``None``: none does), and how many exact plans it took.

    First, would the largest chunk pay even without slippage (its collateral valued at
    ``mid_price``, 8 decimals)? If not, no smaller one will (the bonus shrinks with it,
    the gas does not). Then a rung pays when selling its collateral to the liquidator
    (``sale_value``: USD for an amount, non-decreasing) less the debt repaid and ``gas``
    is at least ``min_profit``, and the debt repaid is at most ``capital`` (``None``: a
    flash loan). ``bounds`` and ``plan0`` are those of the first rung (from
    :func:`first_offer`).

    Each comparison is the float comparison of the exact amounts; the bounds decide it
    when their whole interval (widened by :data:`REL`) lies on one side, else the rung
    is planned exactly.

    ``price_cap`` (8 decimals, optional): no sale of the collateral fetches more than
    this per whole token (a venue's mid before the sale: selling only walks the price
    down). A rung whose collateral, sold at that price, could not pay for its debt and
    the gas is skipped without a plan or a quote.

    ``surplus`` (optional): for a cost ``c`` (USD per smallest unit of the collateral), an
    upper bound of ``sale_value(x) - c x`` over every amount ``x`` (``None``: unknown). Any
    chunk hands the liquidator at most ``k d + A`` units for ``d`` debt units repaid (the
    rule's ratio with the bonus less the protocol's fee, and its roundings), so it earns at
    most ``surplus(cost per debt unit / k) + slack`` before gas: when that cannot pay for
    the gas and the minimum profit, no rung is planned or quoted.
    """
    planned = 0

    def at_mid(amount: int) -> float:
        return float(amount / inputs.collateral_unit * mid_price / PRICE_UNIT)

    verdict = _pays(inputs, bounds, plan0, at_mid, gas, min_profit, None)
    if verdict is None and plan0 is None:
        planned += 1
        plan0 = plan_liquidation(inputs, offer, rules, rounding)
        verdict = _pays(inputs, bounds, plan0, at_mid, gas, min_profit, None)
    if not verdict:
        return None, planned
    if surplus is not None:
        lam, slack_usd = _cost_per_unit(inputs)
        most = surplus(lam)
        if most is not None:
            tol = REL * (abs(most) + abs(gas) + abs(min_profit)) + 1e-9
            if most + slack_usd - gas < min_profit - tol:
                return None, planned
    # Only the rungs read the cap's linear bound: half the accounts of a cascade stop at
    # the no-slippage check above.
    rate, slack = _linear_bound(inputs, price_cap) if price_cap is not None else (0.0, 0.0)
    max_debt, _ = max_liquidatable_debt(inputs, rules, rounding)
    for k in range(rungs):
        o = offer >> k
        # A rung repays at most min(o, max_debt): if even that, sold at the cap, cannot pay
        # for the gas, skip it with no plan and no quote.
        if price_cap is not None and \
                max(0.0, rate) * min(o, max_debt) + slack < gas + min_profit:
            continue
        b, plan = (bounds, plan0) if k == 0 else (
            plan_bounds(inputs, o, rules, rounding, max_debt), None)
        if b.refused is None:
            planned += 1
            try:
                plan = plan_liquidation(inputs, o, rules, rounding)
            except LiquidationRefused:
                continue
        elif b.refused:
            continue
        verdict = _pays(inputs, b, plan, sale_value, gas, min_profit, capital)
        if verdict is None:
            planned += 1
            plan = plan_liquidation(inputs, o, rules, rounding)
            verdict = _pays(inputs, b, plan, sale_value, gas, min_profit, capital)
        if verdict:
            return Chunk(o, plan, planned), planned
    return None, planned


def _linear_bound(inputs: CloseFactorInputs, price_cap: int) -> tuple[float, float]:
    """``(USD per debt unit repaid, USD slack)``: a chunk repaying ``d`` debt units earns at
    most ``d x rate + slack`` before gas, selling at ``price_cap`` or below (see
    :func:`best_chunk`). ``rate`` is what the collateral to the liquidator (with the bonus,
    less the protocol's fee) fetches per debt unit at the cap, less the unit's cost;
    ``slack``, what the rule's roundings can add (2 x ABS_UNITS units of each asset)."""
    bonus = inputs.liquidation_bonus_bps / BPS
    keep = bonus * (1 - inputs.protocol_fee_bps / BPS * (1 - 1 / bonus))
    per_unit = (inputs.debt_price * inputs.collateral_unit
                / (inputs.collateral_price * inputs.debt_unit)) * keep \
        * price_cap / inputs.collateral_unit / PRICE_UNIT * (1 + REL)
    cost = inputs.debt_price / inputs.debt_unit / PRICE_UNIT * (1 - REL)
    slack = 2 * ABS_UNITS * (price_cap / inputs.collateral_unit
                             + inputs.debt_price / inputs.debt_unit) / PRICE_UNIT
    return per_unit - cost, slack * (1 + REL) + 1e-9


def _cost_per_unit(inputs: CloseFactorInputs) -> tuple[float, float]:
    """``(USD per collateral unit, USD slack)``: a chunk handing the liquidator ``t`` units
    of collateral repays at least ``(t - A) / k`` debt units (``k``: collateral units to
    the liquidator per debt unit repaid, with the bonus less the protocol's fee, widened by
    :data:`REL`; ``A``: 2 x :data:`ABS_UNITS` units of roundings), so it costs at least
    ``t x rate - slack``."""
    bonus = inputs.liquidation_bonus_bps / BPS
    keep = bonus * (1 - inputs.protocol_fee_bps / BPS * (1 - 1 / bonus))
    per_debt_unit = (inputs.debt_price * inputs.collateral_unit
                     / (inputs.collateral_price * inputs.debt_unit)) * keep * (1 + REL)
    unit_cost = inputs.debt_price / inputs.debt_unit / PRICE_UNIT * (1 - REL)
    rate = unit_cost / per_debt_unit if per_debt_unit > 0 else 0.0
    slack = 2 * ABS_UNITS * (rate + inputs.debt_price / inputs.debt_unit / PRICE_UNIT)
    return rate * (1 - REL), slack * (1 + REL) + 1e-9


def _upper(value_of: Callable[[int], float], amount: int) -> float:
    """``value_of(amount)`` as an upper bound: a sale the venue cannot fill (beyond its
    depth) has none."""
    try:
        return value_of(amount)
    except Exception:  # any refusal of a hypothetical amount: no upper bound
        return math.inf


def _pays(inputs: CloseFactorInputs, b: PlanBounds, plan: CloseFactorPlan | None,
          value_of: Callable[[int], float], gas: float, min_profit: float,
          capital: float | None) -> bool | None:
    """Whether the chunk pays (and is affordable): with its exact ``plan``, the float
    comparison of its amounts; from bounds, ``True``/``False`` when sure, ``None`` on the
    edge."""
    debt_unit, debt_price = inputs.debt_unit, inputs.debt_price
    if plan is not None:
        cost = plan.debt_repaid / debt_unit * debt_price / PRICE_UNIT
        if capital is not None and cost > capital:
            return False
        return bool(value_of(plan.collateral_to_liquidator) - cost - gas >= min_profit)
    cost_lo = b.debt_lo / debt_unit * debt_price / PRICE_UNIT
    cost_hi = b.debt_hi / debt_unit * debt_price / PRICE_UNIT
    value_lo = value_of(max(0, int(b.to_liquidator_lo)))
    value_hi = _upper(value_of, int(b.to_liquidator_hi) + 1)
    tol = REL * (abs(value_hi) + abs(cost_hi) + abs(gas) + abs(min_profit)) + 1e-9
    if capital is not None:
        if cost_lo > capital * (1 + REL) + tol:
            return False
        if cost_hi > capital * (1 - REL) - tol:
            return None
    if value_hi - cost_lo - gas < min_profit - tol:
        return False
    if value_lo - cost_hi - gas >= min_profit + tol:
        return True
    return None


__all__ = ["ABS_UNITS", "REL", "RUNGS", "Chunk", "PlanBounds", "best_chunk", "exact_bounds",
           "first_offer", "plan_bounds"]
