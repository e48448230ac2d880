"""Portfolio margin on a scenario grid, after Derive's (Lyra v2) PMRM_2.

Reference: ``derivexyz/v2-core`` at commit 7736900d395703c4f675376caa4c315402943831,
``src/risk-managers/PMRMLib_2.sol`` (``getMarginAndMarkToMarket``, ``getScenarioPnL``,
``addPrecomputes`` and the contingencies) and ``src/risk-managers/PMRM_2.sol``
(``_arrangePortfolio``: confidences, collateral values, rates floored at 0). Pure
functions over a plain :class:`Portfolio` and a
:class:`~marginengine.config.portfolio.PortfolioMarginConfig`; the scenario math is
:mod:`marginengine.pricing.scenarios` and :mod:`marginengine.pricing.skew`.

For one portfolio on one underlying (everything in the quote currency, floats):

- **MtM** = options at mark + perp unrealised value + collateral values + cash.
- **Scenario P&L**: per expiry, the shocked value of its options (positions summed per
  expiry *before* the static discount, whose sign rule is per expiry), discounted, less
  the expiry's MtM, times the scenario's dampening; plus the perp's ``(shock - 1) price``
  and risk-cancelling collateral's ``(shock - 1) value``, dampened. In a skew scenario
  each expiry contributes ``-|P&L|`` (its worst direction).
- **Worst** = ``min(0 or the basis contingency, every scenario P&L, -min-delta risk)``.
- **Margin** (Derive's sign: >= 0 means the requirement is met) =
  ``MtM + factor x worst - contingencies``, where factor is ``im_factor`` (plus
  ``(peg threshold - stable price) x peg_loss_factor`` when the stablecoin trades
  below the threshold) or ``mm_factor``, and the contingencies are the MM ones (perp,
  naked short options, collateral MM haircuts) plus, for IM, the IM ones (their IM
  add-ons, IM haircuts and oracle-confidence contingencies).

Floats screen; :func:`requirement_units` fixes a requirement into integer units rounding
up (against the account), as every decision on money must be exact.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Literal

import numpy as np

from marginengine.config.portfolio import PortfolioMarginConfig
from marginengine.decisions import Code, Refusal
from marginengine.errors import FieldError, field_path
from marginengine.fixedpoint import PRICE_UNIT, WAD, Rounding
from marginengine.ledger.options import OptionClearing, OptionSeries, expired
from marginengine.margin.base import MarginKind, MarginState, health_of
from marginengine.pricing.black76 import price, price_and_greeks
from marginengine.pricing.inputs import FloatArray
from marginengine.pricing.scenarios import (
    SECONDS_PER_YEAR,
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
from marginengine.pricing.skew import SkewParams, skewed_vols


def _finite(name: str, value: float, minimum: float | None = None,
            strict: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FieldError(name, f"must be a number (got {value!r})")
    v = float(value)
    if not math.isfinite(v):
        raise FieldError(name, f"must be finite (got {value!r})")
    if minimum is not None and (v < minimum or (strict and v == minimum)):
        raise FieldError(name, f"must be {'>' if strict else '>='} {minimum} (got {value!r})")
    return v


@dataclass(frozen=True)
class Expiry:
    """One expiry of the underlying: its forward (the part a spot shock moves and the
    part already fixed in the settlement window), rate and oracle confidence (the least
    of the forward's, the rate's and the vols')."""

    sec_to_expiry: float
    forward: float
    forward_fixed: float = 0.0
    rate: float = 0.0
    confidence: float = 1.0


@dataclass(frozen=True)
class OptionPosition:
    """A European option held: its expiry (index into :attr:`Portfolio.expiries`),
    strike, type, signed amount (negative: short) and mark vol."""

    expiry: int
    strike: float
    is_call: bool
    amount: float
    vol: float


@dataclass(frozen=True)
class CollateralPosition:
    """A collateral balance: ``amount`` units at ``price`` (quote per unit); its value
    is ``amount x price / stable price`` as in Derive's ``_arrangeAssets``."""

    asset: str
    amount: float
    price: float
    confidence: float = 1.0


@dataclass(frozen=True)
class Portfolio:
    """Everything one portfolio-margined account holds on one underlying.

    Attributes
    ----------
    spot
        Spot price of the underlying (quote per unit).
    expiries, options
        The expiries held and the options (each pointing at an expiry).
    perp_position, perp_price, perp_value
        Perp size (signed units), its mark price (default: spot) and its unrealised
        P&L plus funding owed to the account (part of MtM).
    cash
        Quote-currency cash (negative: borrowed).
    collaterals
        Other collateral balances.
    spot_confidence, perp_confidence
        Oracle confidences in [0, 1].
    stable_price
        The quote stablecoin's price in USD (the depeg contingency).
    """

    spot: float
    expiries: tuple[Expiry, ...] = ()
    options: tuple[OptionPosition, ...] = ()
    perp_position: float = 0.0
    perp_price: float | None = None
    perp_value: float = 0.0
    cash: float = 0.0
    collaterals: tuple[CollateralPosition, ...] = ()
    spot_confidence: float = 1.0
    perp_confidence: float = 1.0
    stable_price: float = 1.0

    def validated(self) -> Portfolio:
        """Check every field (raising :class:`FieldError` naming it) and merge options of
        the same expiry, strike and type into one holding."""
        _finite("spot", self.spot, 0.0, strict=True)
        for name in ("perp_position", "perp_value", "cash"):
            _finite(name, getattr(self, name))
        if self.perp_price is not None:
            _finite("perp_price", self.perp_price, 0.0)
        for name in ("spot_confidence", "perp_confidence"):
            c = _finite(name, getattr(self, name), 0.0)
            if c > 1:
                raise FieldError(name, f"must be at most 1 (got {c!r})")
        _finite("stable_price", self.stable_price, 0.0, strict=True)
        for i, e in enumerate(self.expiries):
            _finite(field_path("expiries", i, "sec_to_expiry"), e.sec_to_expiry, 0.0)
            # The variable part may be 0: at the end of the settlement window (or after
            # expiry) the whole forward is fixed, as Derive's case test_66 holds.
            _finite(field_path("expiries", i, "forward"), e.forward, 0.0)
            _finite(field_path("expiries", i, "forward_fixed"), e.forward_fixed, 0.0)
            if not e.forward + e.forward_fixed > 0:
                raise FieldError(field_path("expiries", i, "forward"),
                                 f"forward + forward_fixed must be > 0 (got {e.forward!r} + "
                                 f"{e.forward_fixed!r})")
            _finite(field_path("expiries", i, "rate"), e.rate)
            if not 0 <= _finite(field_path("expiries", i, "confidence"), e.confidence) <= 1:
                raise FieldError(field_path("expiries", i, "confidence"), "must be in [0, 1]")
        first: dict[tuple[int, float, bool], OptionPosition] = {}
        parts: dict[tuple[int, float, bool], list[float]] = {}
        for i, o in enumerate(self.options):
            if isinstance(o.expiry, bool) or not isinstance(o.expiry, int) \
                    or not 0 <= o.expiry < len(self.expiries):
                raise FieldError(field_path("options", i, "expiry"),
                                 f"must index one of the {len(self.expiries)} expiries "
                                 f"(got {o.expiry!r})")
            _finite(field_path("options", i, "strike"), o.strike, 0.0, strict=True)
            _finite(field_path("options", i, "amount"), o.amount)
            _finite(field_path("options", i, "vol"), o.vol, 0.0)
            if not isinstance(o.is_call, bool):
                raise FieldError(field_path("options", i, "is_call"), f"must be true or false "
                                                          f"(got {o.is_call!r})")
            key = (o.expiry, float(o.strike), o.is_call)
            if key in first and first[key].vol != o.vol:
                raise FieldError(field_path("options", i, "vol"),
                                 f"differs from an earlier holding of the same option "
                                 f"({o.vol!r} != {first[key].vol!r})")
            first.setdefault(key, o)
            parts.setdefault(key, []).append(float(o.amount))
        # fsum: a position and its exact opposite cancel to exactly 0 in any order.
        merged = [replace(first[key], amount=math.fsum(part)) for key, part in parts.items()]
        for i, coll in enumerate(self.collaterals):
            _finite(field_path("collaterals", i, "amount"), coll.amount, 0.0)
            _finite(field_path("collaterals", i, "price"), coll.price, 0.0)
            if not 0 <= _finite(field_path("collaterals", i, "confidence"), coll.confidence) <= 1:
                raise FieldError(field_path("collaterals", i, "confidence"), "must be in [0, 1]")
        return replace(self, options=tuple(merged))


Source = Literal["scenario", "basis", "min_delta", "none"]
#: The manager whose rule a :class:`PortfolioMargin` is (Derive's names).
RuleName = Literal["PMRM_2", "PMRM", "SRM"]


@dataclass(frozen=True)
class PortfolioMargin:
    """The portfolio's margin and everything it was computed from.

    Attributes
    ----------
    mtm
        Mark-to-market value with cash (Derive's ``markToMarket``).
    initial, maintenance
        Derive's margins: MtM less the requirement; >= 0 means it is met.
    scenario_pnl
        P&L per configured scenario, in the configuration's order.
    basis_contingency, min_delta_risk
        The basis contingency (<= 0) and the minimum-delta risk (>= 0).
    worst, worst_source, worst_scenario
        The minimum that the factors scale, what set it, and the scenario's index
        (``None`` unless a scenario set it).
    mm_contingency, im_contingency
        The contingencies subtracted from maintenance, and the extra ones (on top of
        them) subtracted from initial margin.
    im_factor
        The IM factor after the depeg add-on.
    expiry_mtm
        Options at mark, per expiry.
    rule
        Which of Derive's managers computed it: ``PMRM_2`` (the scenario-grid model and
        its presets), ``PMRM`` (v1) or ``SRM`` (the Standard Risk Manager; no scenarios:
        ``scenario_pnl`` is empty, ``worst`` 0 and the contingencies 0, the requirement
        is ``mtm - margin``). :mod:`marginengine.margin.portfolio_rules`.
    wad
        ``(mtm, initial, maintenance)`` as exact ints in wad where the rule is exact (the
        SRM), else ``None``; :meth:`fraction` reads them.
    """

    mtm: float
    initial: float
    maintenance: float
    scenario_pnl: FloatArray
    basis_contingency: float
    min_delta_risk: float
    worst: float
    worst_source: Source
    worst_scenario: int | None
    mm_contingency: float
    im_contingency: float
    im_factor: float
    expiry_mtm: FloatArray = field(repr=False)
    rule: RuleName = "PMRM_2"
    wad: tuple[int, int, int] | None = None

    def fraction(self, name: Literal["mtm", "initial", "maintenance"]) -> Fraction:
        """``mtm``, ``initial`` or ``maintenance`` as an exact rational: the rule's exact
        wad figure where it has one (:attr:`wad`), else the float's exact binary value.

        Raises
        ------
        FieldError
            A float figure that is not finite.
        """
        if self.wad is not None:
            return Fraction(self.wad[("mtm", "initial", "maintenance").index(name)], WAD)
        return Fraction(_finite(name, getattr(self, name)))

    def requirement_fraction(self, kind: MarginKind) -> Fraction:
        """``mtm - margin`` of ``kind`` as an exact rational: from the wad figures where
        the rule has them, else the float difference's exact value."""
        if self.wad is not None:
            which: Literal["initial", "maintenance"] = (
                "initial" if kind is MarginKind.INITIAL else "maintenance")
            return self.fraction("mtm") - self.fraction(which)
        return Fraction(_finite("margin", self.mtm - self.margin(kind)))

    @property
    def initial_requirement(self) -> float:
        """What the account must hold to add risk: ``mtm - initial`` (>= 0)."""
        return self.mtm - self.initial

    @property
    def maintenance_requirement(self) -> float:
        """``mtm - maintenance``: below it the account is liquidatable."""
        return self.mtm - self.maintenance

    def margin(self, kind: MarginKind) -> float:
        """:attr:`initial` or :attr:`maintenance`."""
        return self.initial if kind is MarginKind.INITIAL else self.maintenance


def vol_params(cfg: PortfolioMarginConfig) -> VolShockParams:
    """The pricing layer's vol-shock parameters of a configuration."""
    v = cfg.vol_shock
    return VolShockParams(v.vol_range_up, v.vol_range_down, v.short_term_power,
                          v.long_term_power, v.dte_floor_days * 86_400, v.min_vol_up)


def discount_params(cfg: PortfolioMarginConfig) -> StaticDiscountParams:
    """The pricing layer's static-discount parameters of a configuration."""
    d = cfg.static_discount
    return StaticDiscountParams(d.long_base, d.long_rate_mult, d.long_rate_add,
                                d.short_base, d.short_rate_mult, d.short_rate_add)


def skew_params(cfg: PortfolioMarginConfig) -> SkewParams | None:
    """The skew parameters of a configuration (``None`` without a skew table)."""
    s = cfg.skew
    if s is None:
        return None
    return SkewParams(s.linear_base_cap, s.abs_base_cap, s.linear_c_base, s.abs_c_base,
                      s.min_k_star, s.width_scale, s.vol_param_static, s.vol_param_scale)


def grid_scenarios(cfg: PortfolioMarginConfig) -> tuple[Scenarios, np.ndarray]:
    """The regular (up / none / down) scenarios of ``cfg`` and their indices in it."""
    idx = np.array([i for i, s in enumerate(cfg.scenarios) if s.vol_shock in VOL_DIRECTIONS],
                   dtype=np.intp)
    if idx.size == 0:
        return Scenarios.of([1.0], [VOL_NONE], [0.0]), idx
    sc = [cfg.scenarios[i] for i in idx]
    return (Scenarios.of([s.spot_shock for s in sc], [VOL_DIRECTIONS[s.vol_shock] for s in sc],
                         [s.dampening for s in sc]), idx)


def _confidence_contingency(cfg: PortfolioMarginConfig, confidence: float,
                            notional: float) -> float:
    c = cfg.contingencies
    if confidence < c.conf_threshold:
        return (1.0 - confidence) * c.conf_margin * notional
    return 0.0


def naked_shorts(options: Sequence[OptionPosition]) -> float:
    """Units of short options not covered by a long at the same expiry and strike
    (Derive's ``_addOptionContingency``: a call and a put of one strike net).

    Per (expiry, strike), ``max(0, -sum of amounts)``, summed.
    """
    per_strike: dict[tuple[int, float], float] = {}
    for o in options:
        key = (o.expiry, o.strike)
        per_strike[key] = per_strike.get(key, 0.0) + o.amount
    return float(sum(max(0.0, -a) for a in per_strike.values()))


def portfolio_deltas(p: Portfolio, floor_rate_at_zero: bool = True) -> tuple[float, float]:
    """Net and gross delta of the portfolio in units of the underlying.

    An option's delta is d(value)/d(spot) with the forward moving with spot as the
    scenarios move it: the forward-flavour Black-76 delta times ``forward / spot``.
    A perp counts its size; risk-cancelling collateral is not counted (Paradex margins
    USDC collateral only).
    """
    deltas: list[float] = [p.perp_position] if p.perp_position else []
    if p.options:
        e = p.expiries
        o = p.options
        fwd = np.array([e[x.expiry].forward + e[x.expiry].forward_fixed for x in o])
        _, g = price_and_greeks(fwd, np.array([x.strike for x in o]),
                                np.array([e[x.expiry].sec_to_expiry for x in o])
                                / SECONDS_PER_YEAR,
                                np.array([x.vol for x in o]),
                                np.array([max(e[x.expiry].rate, 0.0) if floor_rate_at_zero
                                          else e[x.expiry].rate for x in o]),
                                np.array([x.is_call for x in o]))
        var = np.array([e[x.expiry].forward for x in o])
        deltas += list(np.asarray(g.delta) * var / p.spot * np.array([x.amount for x in o]))
    net = float(sum(deltas))
    gross = float(sum(abs(d) for d in deltas))
    return net, gross


def min_delta_risk(net_delta: float, gross_delta: float, spot: float, net_rate: float,
                   hedged_rate: float) -> float:
    """Paradex's minimum-delta requirement (docs.paradex.trade, Risk > Portfolio Margin):
    ``(net_rate |net| + hedged_rate hedged) spot`` with hedged = ``(gross - |net|) / 2``.

    Examples
    --------
    Paradex's own: long 1 BTC-PERP and short 5 calls of delta 0.3 at spot 70,000: net
    -0.5, gross 2.5, hedged 1.0, risk (2% x 0.5 + 1% x 1.0) x 70,000 = 1,400.

    >>> round(min_delta_risk(-0.5, 2.5, 70_000, 0.02, 0.01), 6)
    1400.0
    """
    hedged = max(0.0, (gross_delta - abs(net_delta)) / 2.0)
    return (net_rate * abs(net_delta) + hedged_rate * hedged) * spot


def evaluate(portfolio: Portfolio, cfg: PortfolioMarginConfig) -> PortfolioMargin:
    """Initial and maintenance margin of one portfolio, with every intermediate.

    Parameters
    ----------
    portfolio
        The holdings and market data (validated here; options of one expiry, strike and
        type are merged).
    cfg
        The model's parameters.

    Raises
    ------
    FieldError
        A field of the portfolio out of range, or a collateral asset without parameters
        in ``cfg.collateral`` (``collaterals[i].asset``).
    """
    p = portfolio.validated()
    n_s = len(cfg.scenarios)
    spot_shock = np.array([s.spot_shock for s in cfg.scenarios])
    damp = np.array([s.dampening for s in cfg.scenarios])
    pnl = np.zeros(n_s)
    cont = cfg.contingencies
    min_conf = p.spot_confidence
    perp_price = p.spot if p.perp_price is None else p.perp_price
    mtm = p.perp_value + p.cash
    mm_cont = im_cont = 0.0

    # Perp: linear in spot; its mark value does not move (Derive's _getShockedPerpPnL).
    if p.perp_position:
        min_conf = min(min_conf, p.perp_confidence)
        pnl += p.perp_position * (spot_shock - 1.0) * perp_price * damp
        notional = abs(p.perp_position) * p.spot
        mm_cont += notional * cont.mm_perp
        im_cont += notional * cont.im_perp + _confidence_contingency(cfg, min_conf, notional)

    expiry_mtm = np.zeros(len(p.expiries))
    basis = 0.0
    if p.options:
        expiry_mtm, basis, option_pnl = _option_terms(p, cfg)
        pnl += option_pnl
        mtm += float(expiry_mtm.sum())
        nakeds = naked_shorts(p.options) * p.spot
        mm_cont += nakeds * cont.mm_option
        im_cont += nakeds * cont.im_option
        for j, e in enumerate(p.expiries):
            net_options = sum(abs(o.amount) for o in p.options if o.expiry == j)
            im_cont += _confidence_contingency(cfg, min(min_conf, e.confidence),
                                               net_options * p.spot)

    for i, c in enumerate(p.collaterals):
        params = cfg.collateral.get(c.asset)
        if params is None:
            raise FieldError(field_path("collaterals", i, "asset"),
                             f"{c.asset!r} has no parameters in portfolio_margin.collateral")
        value = c.amount * c.price / p.stable_price
        mtm += value
        mm_cont += value * params.mm_haircut
        im_cont += value * params.im_haircut
        # Derive compares collateral confidence with spot's only (before the perp's).
        im_cont += _confidence_contingency(cfg, min(c.confidence, p.spot_confidence), value)
        if params.risk_cancelling:
            pnl += value * (spot_shock - 1.0) * damp

    worst, source, worst_idx = (basis, "basis", None) if basis < 0 else (0.0, "none", None)
    if n_s:
        i_min = int(np.argmin(pnl))
        if pnl[i_min] < worst:
            worst, source, worst_idx = float(pnl[i_min]), "scenario", i_min
    delta_risk = 0.0
    if cfg.min_delta is not None:
        net, gross = portfolio_deltas(p, cfg.floor_rate_at_zero)
        delta_risk = min_delta_risk(net, gross, p.spot, cfg.min_delta.net, cfg.min_delta.hedged)
        if -delta_risk < worst:
            worst, source, worst_idx = -delta_risk, "min_delta", None
    im_factor = cfg.im_factor
    if p.stable_price < cont.peg_loss_threshold:
        im_factor += (cont.peg_loss_threshold - p.stable_price) * cont.peg_loss_factor
    initial = mtm + worst * im_factor - mm_cont - im_cont
    maintenance = mtm + worst * cfg.mm_factor - mm_cont
    return PortfolioMargin(mtm=mtm, initial=initial, maintenance=maintenance,
                           scenario_pnl=pnl, basis_contingency=basis,
                           min_delta_risk=delta_risk, worst=worst,
                           worst_source=source,  # type: ignore[arg-type]
                           worst_scenario=worst_idx, mm_contingency=mm_cont,
                           im_contingency=im_cont, im_factor=im_factor,
                           expiry_mtm=expiry_mtm)


def _option_terms(p: Portfolio, cfg: PortfolioMarginConfig
                  ) -> tuple[FloatArray, float, FloatArray]:
    """Options' MtM per expiry, the basis contingency and their P&L per scenario."""
    e, o = p.expiries, p.options
    n_e = len(e)
    floor = cfg.floor_rate_at_zero
    e_tte = np.array([x.sec_to_expiry for x in e])
    e_rate = np.array([max(x.rate, 0.0) if floor else x.rate for x in e])
    idx = np.array([x.expiry for x in o], dtype=np.intp)
    amounts = np.array([x.amount for x in o])
    fwd_var = np.array([e[x.expiry].forward for x in o])
    fwd_fixed = np.array([e[x.expiry].forward_fixed for x in o])
    strike = np.array([x.strike for x in o])
    tte, rate = e_tte[idx], e_rate[idx]
    vol = np.array([x.vol for x in o])
    is_call = np.array([x.is_call for x in o])
    vp = vol_params(cfg)

    def expiry_values(scenarios: Scenarios) -> FloatArray:
        values = scenario_values(fwd_var, fwd_fixed, strike, tte, vol, rate, is_call,
                                 scenarios, vp)
        return sum_by_expiry(values, amounts, idx, n_e)

    pos, neg = static_discounts(e_tte, e_rate, discount_params(cfg))
    base = expiry_values(Scenarios.of([1.0], [VOL_NONE]))[:, 0]
    pnl = np.zeros(len(cfg.scenarios))
    grid, grid_idx = grid_scenarios(cfg)
    if grid_idx.size:
        pnl[grid_idx] = expiry_scenario_pnl(expiry_values(grid), base, pos, neg,
                                            grid).sum(axis=0)
    skew = skew_params(cfg)
    forward = fwd_var + fwd_fixed
    for i, s in enumerate(cfg.scenarios):
        if s.vol_shock not in ("linear", "abs") or skew is None:
            continue
        vols = skewed_vols(vol, strike, forward, tte, s.vol_shock == "linear", skew)
        values = price(forward, strike, tte / SECONDS_PER_YEAR, vols, rate, is_call)
        shocked_e = sum_by_expiry(values, amounts, idx, n_e)
        discounted = shocked_e * np.where(shocked_e >= 0, pos, neg)
        per_expiry = (discounted - base) * s.dampening
        # Derive: the worst direction of each expiry (-|P&L|) approximates rotating the
        # skew the other way.
        pnl[i] = float(-np.abs(per_expiry).sum())
    basis = 0.0
    if cfg.basis is not None:
        b = cfg.basis
        bp = BasisContingencyParams(b.spot_up, b.spot_down, b.add_factor, b.mult_factor)
        vals = expiry_values(basis_scenarios(bp))
        basis = float(basis_contingency(base, vals[:, 0], vals[:, 1], e_tte, bp).sum())
    return base, basis, pnl


def margin_value(portfolio: Portfolio, cfg: PortfolioMarginConfig, kind: MarginKind) -> float:
    """Derive's margin of ``kind`` (>= 0: met)."""
    return evaluate(portfolio, cfg).margin(kind)


def requirement_units(requirement: float, unit: int) -> int:
    """A requirement (quote currency, float) as integer smallest units, rounded **up**
    (a requirement is never understated by rounding); a negative requirement is 0.

    Raises
    ------
    FieldError
        ``requirement`` not finite, or ``unit`` not a positive int.
    """
    _finite("requirement", requirement)
    if isinstance(unit, bool) or not isinstance(unit, int) or unit <= 0:
        raise FieldError("unit", f"must be a positive int (got {unit!r})")
    if requirement <= 0:
        return 0
    exact = Fraction(requirement) * unit
    return -((-exact.numerator) // exact.denominator)


def portfolio_state(margin: PortfolioMargin, kind: MarginKind, quote_price: int) -> MarginState:
    """A PMRM_2 margin through the one margin interface: value = MtM and requirement =
    MtM - margin of ``kind``, each in base-currency units (8 decimals) at the quote
    asset's price ``quote_price``; the value rounded down, the requirement up (never
    understated), and health ``value / requirement`` rounded down. A negative MtM is a
    value of 0 (the account owes more than it holds).

    Raises
    ------
    FieldError
        A ``quote_price`` not a positive int.
    """
    if isinstance(quote_price, bool) or not isinstance(quote_price, int) or quote_price <= 0:
        raise FieldError("quote_price", f"must be a positive int (got {quote_price!r})")
    mtm = margin.fraction("mtm") * quote_price
    requirement = margin.requirement_fraction(kind) * quote_price
    value = max(math.floor(mtm), 0)
    need = max(-((-requirement.numerator) // requirement.denominator), 0)
    return MarginState(kind, value, need, health_of(value, need, Rounding.DOWN))


# --------------------------------------------------------------------------- what-if


@dataclass(frozen=True)
class ScenarioRow:
    """One line of the P&L table: the scenario and its dampened P&L."""

    index: int
    spot_shock: float
    vol_shock: str
    dampening: float
    pnl: float


def scenario_table(portfolio: Portfolio, cfg: PortfolioMarginConfig) -> list[ScenarioRow]:
    """The P&L of every scenario, in the configuration's order (as Derive's and
    Deribit's margin simulators list them)."""
    result = evaluate(portfolio, cfg)
    return [ScenarioRow(i, s.spot_shock, s.vol_shock, s.dampening, float(result.scenario_pnl[i]))
            for i, s in enumerate(cfg.scenarios)]


def worst_scenario(portfolio: Portfolio, cfg: PortfolioMarginConfig) -> ScenarioRow | None:
    """The scenario with the lowest P&L (``None`` when the basis contingency, the
    minimum-delta risk or zero is lower than every scenario)."""
    result = evaluate(portfolio, cfg)
    if result.worst_scenario is None:
        return None
    return scenario_table(portfolio, cfg)[result.worst_scenario]


@dataclass(frozen=True)
class ProposedTrade:
    """An order to try: options (``amount`` signed, ``expiry`` an index of the
    portfolio's expiries or of ``new_expiries`` after them), a perp size, and the cash the
    trade moves (premium paid negative, received positive)."""

    options: tuple[OptionPosition, ...] = ()
    perp: float = 0.0
    perp_price: float | None = None
    cash: float = 0.0
    new_expiries: tuple[Expiry, ...] = ()


def apply_trade(portfolio: Portfolio, trade: ProposedTrade) -> Portfolio:
    """The portfolio after ``trade`` (positions added, cash moved; a perp at a price
    other than its mark books the difference as unrealised value)."""
    perp_price = portfolio.spot if portfolio.perp_price is None else portfolio.perp_price
    entry = perp_price if trade.perp_price is None else trade.perp_price
    _finite("trade.perp", trade.perp)
    _finite("trade.cash", trade.cash)
    return replace(portfolio,
                   expiries=portfolio.expiries + trade.new_expiries,
                   options=portfolio.options + trade.options,
                   perp_position=portfolio.perp_position + trade.perp,
                   perp_value=portfolio.perp_value + trade.perp * (perp_price - entry),
                   cash=portfolio.cash + trade.cash)


@dataclass(frozen=True)
class WhatIf:
    """Margins before and after a proposed trade."""

    before: PortfolioMargin
    after: PortfolioMargin

    @property
    def accepted(self) -> bool:
        """Whether the trade passes the pre-trade check: initial margin >= 0 after it,
        or (PMRM_2) the trade does not lower it (a risk-reducing trade is always allowed).

        Derive's SRM and PMRM (v1) make no such exception: every change with a negative
        delta (an option sold or bought for cash, cash withdrawn; every trade and
        withdrawal the engine checks) must leave IM >= 0 (``StandardManager.sol`` and
        ``PMRM.sol`` ``handleAdjustment`` then ``_assessRisk``); the SRM's sign is read
        from its exact wad figure."""
        if self.after.rule != "PMRM_2":
            return self.after.fraction("initial") >= 0
        return self.after.initial >= 0 or self.after.initial >= self.before.initial


def what_if(portfolio: Portfolio, trade: ProposedTrade, cfg: PortfolioMarginConfig) -> WhatIf:
    """Margin before and after ``trade`` (pure: nothing is booked)."""
    return WhatIf(evaluate(portfolio, cfg), evaluate(apply_trade(portfolio, trade), cfg))


#: The refusal of a trade by each manager: Derive's error names (``PMRM_2.sol``,
#: ``PMRM.sol``, ``StandardManager.sol`` ``_assessRisk``).
REFUSAL_CODES: dict[str, Code] = {"PMRM_2": Code.PORTFOLIO_INSUFFICIENT_MARGIN,
                                  "PMRM": Code.PMRM1_INSUFFICIENT_MARGIN,
                                  "SRM": Code.SRM_PORTFOLIO_BELOW_MARGIN}


def validate_trade(account: str, result: WhatIf, quote_unit: int) -> Refusal | None:
    """The pre-trade check of a portfolio-margined account (Derive's
    ``PMRM_2._assessRisk``: a trade must leave initial margin >= 0, unless it does not
    lower it): ``None`` or a refusal coded ``PMRM_2_InsufficientMargin`` with the initial
    margins before and after, in quote units rounded against the account (down). The same
    check for the other managers' margins, coded by :data:`REFUSAL_CODES`
    (``PMRM_InsufficientMargin``, ``SRM_PortfolioBelowMargin``)."""
    if result.accepted:
        return None
    # Margins (signed) floored to whole quote units: never overstated.
    before = math.floor(result.before.fraction("initial") * quote_unit)
    after = math.floor(result.after.fraction("initial") * quote_unit)
    return Refusal(REFUSAL_CODES[result.after.rule],
                   f"{account}: initial margin after the trade would be {after / quote_unit:,.2f}"
                   f" (before {before / quote_unit:,.2f}); the trade adds risk",
                   {"account": account, "initial_before": before, "initial_after": after})


def expiry_of(clearing: OptionClearing, underlying: str, expiry: int, now: int,
              forward: float, rate: float = 0.0, confidence: float = 1.0,
              spot: float | None = None,
              portions: tuple[float, float] | None = None) -> Expiry:
    """The :class:`Expiry` of ``underlying``'s ``expiry`` at ``now`` as the portfolio rules
    value it: ``max(expiry - now, 0)`` seconds to go and ``forward`` all variable (moved
    by the spot shocks) until a series of it settles; from then its whole forward is
    fixed at the settlement price (``OptionClearing.expiry_price``; ``forward`` 0,
    ``forward_fixed`` the price, no time left), so its unsettled series are valued at what
    they will settle for, whatever the spot and its shocks. An expiry passed
    (``ledger.options.expired``) with nothing of it settled yet is fixed likewise at
    ``spot`` (default ``forward``), the price ``SettleOption`` would settle it at now
    (the oracle's, or under TWAP settlement the expiry's TWAP where it has one).
    A live expiry inside its settlement window under TWAP settlement takes ``portions``,
    ``(fixed, variable)`` (Derive's ``LyraForwardFeed.getForwardPricePortions``: the
    spots' average so far, which no shock moves, and the forward's share of the time
    left: ``StateReads.forward_portions_now``), instead of ``forward`` all variable.
    The one reading of the
    clearing's settlement prices: :func:`portfolio_of` builds every expiry of an account
    with it, and the float screens (``scan/portfolio_screen.py``,
    ``scan/option_layout.py``) revalue each expiry from it.

    Examples
    --------
    The 30-day WETH expiry (2,592,000 s) after its 2,000 call settled at 2,300: the
    open 2,100 call of it will settle there too, whatever the oracle (1,900 here) says.

    >>> from marginengine.ledger.options import OptionClearing, OptionSeries
    >>> c = OptionClearing(quote_unit=10**6, size_unit=10**18)
    >>> t = 2_592_000
    >>> expiry_of(c, "WETH", t, 0, 2_000.0)
    Expiry(sec_to_expiry=2592000.0, forward=2000.0, forward_fixed=0.0, rate=0.0, confidence=1.0)
    >>> _ = c.settle(OptionSeries("WETH", t, 2_000 * PRICE_UNIT, True), 2_300 * PRICE_UNIT, t)
    >>> expiry_of(c, "WETH", t, t, 1_900.0)
    Expiry(sec_to_expiry=0.0, forward=0.0, forward_fixed=2300.0, rate=0.0, confidence=1.0)
    """
    settled = clearing.expiry_price(underlying, expiry)
    if settled is not None:
        # A settled price of 0 is a settlement (Derive: getSettlementPrice's ``settled``
        # is its timestamp test alone; a put pays its strike at 0), not "unsettled".
        return Expiry(0.0, 0.0, settled / PRICE_UNIT, rate, confidence)
    if expired(expiry, now):
        # Expired, no series of it settled yet: SettleOption would settle it at the
        # oracle's price now (the spot), so its value is intrinsic there, fixed under
        # every spot and vol shock (Derive's LyraForwardFeed returns the whole
        # settlement price as forwardFixedPortion, variable 0, once expired).
        return Expiry(0.0, 0.0, float(forward if spot is None else spot), rate, confidence)
    if portions is not None:
        fixed, variable = portions
        return Expiry(float(max(expiry - now, 0)), float(variable), float(fixed), rate,
                      confidence)
    return Expiry(float(max(expiry - now, 0)), float(forward), 0.0, rate, confidence)


def portfolio_of(clearing: OptionClearing, account: str, underlying: str, spot: float,
                 now: int, forwards: Mapping[int, float], vol: Callable[[OptionSeries], float],
                 rates: Mapping[int, float] | None = None, perp_position: float = 0.0,
                 confidence: float = 1.0,
                 fixings: Mapping[int, float] | None = None,
                 portions: Mapping[int, tuple[float, float]] | None = None) -> Portfolio:
    """The :class:`Portfolio` of ``account``'s ``underlying`` options in ``clearing``,
    valued at the given market (forwards and rates per expiry timestamp, a vol per series):
    sizes in options (``size / size_unit``), strikes in quote currency, cash in quote
    tokens (floats: this is the screen; settlement and premiums stay exact in the
    clearing). An expiry whose settlement price is fixed already (a series of it settled:
    ``OptionClearing.expiry_price``) has its whole forward fixed at that price
    (``forward_fixed``, 0 to expiry), so its unsettled series are valued at what they will
    settle for, whatever the spot and its shocks (Derive's case test_66: an expiry past
    its settlement window moves with nothing). An expiry passed at ``now``
    (:func:`~marginengine.ledger.options.expired`) with none of its series settled yet is
    fixed the same way at ``spot`` (or its ``fixings`` entry), the price ``SettleOption``
    would settle it at:
    each of its series is worth its settlement value (intrinsic at that price), which no
    scenario's spot or vol shock moves (Derive: OptionAsset.calcSettlementValue once
    ``block.timestamp >= expiry``; LyraForwardFeed._getSettlementPricePortions gives the
    whole settlement price as the fixed portion, variable 0, and PMRM_2
    ._initialiseExpiries sets secToExpiry 0). ``fixings`` gives, per expiry, the price
    such an expiry would settle at instead of ``spot`` (under TWAP settlement, its
    30-minute TWAP: ``StateReads.settlement_price_now``); ``portions`` gives a live
    expiry inside its settlement window its ``(fixed, variable)`` forward
    (:func:`expiry_of`).

    Raises
    ------
    FieldError
        An expiry held without a forward (``forwards``).
    """
    held = {s: n for s, n in clearing.positions.get(account, {}).items()
            if s.underlying == underlying}
    expiry_times = sorted({s.expiry for s in held})
    for t in expiry_times:
        if t not in forwards:
            raise FieldError("forwards", f"no forward for expiry {t}")
    rates = rates or {}
    fixings = fixings or {}
    portions = portions or {}
    expiries = tuple(expiry_of(clearing, underlying, t, now, forwards[t],
                               float(rates.get(t, 0.0)), confidence,
                               spot=float(fixings.get(t, spot)), portions=portions.get(t))
                     for t in expiry_times)
    options = tuple(OptionPosition(expiry_times.index(s.expiry), s.strike / PRICE_UNIT,
                                   s.is_call, n / clearing.size_unit, float(vol(s)))
                    for s, n in sorted(held.items()))
    return Portfolio(spot=spot, expiries=expiries, options=options,
                     perp_position=perp_position,
                     cash=clearing.cash.get(account, 0) / clearing.quote_unit,
                     spot_confidence=confidence, perp_confidence=confidence)
