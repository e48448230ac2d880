"""One portfolio, any of Derive's three managers: the rule a configuration names, and one
result type for every face (the engine, the CLI, the auction).

A configuration from :func:`marginengine.config.portfolio.portfolio_config` is one of
three models (:data:`~marginengine.config.portfolio.PortfolioRules`); this module runs
each through its own, one, implementation and returns a
:class:`~marginengine.margin.portfolio.PortfolioMargin`:

- the scenario-grid model (``derive-pm2``, ``paradex``, ``deribit-like``, ``span-like``):
  :func:`marginengine.margin.portfolio.evaluate` (Derive's PMRM_2), ``rule="PMRM_2"``;
- ``derive-pm1``: :func:`marginengine.margin.derive_pmrm1.evaluate_pmrm1`, ``rule="PMRM"``;
  its static contingency (subtracted before the IM factor) is reported as
  ``mm_contingency``, its confidence contingency (IM only, after the factor) as
  ``im_contingency``;
- ``derive-srm``: :func:`marginengine.margin.derive_srm.srm_margin` for IM and for MM,
  ``rule="SRM"``, exact in wad (:attr:`PortfolioMargin.wad`); no scenarios (an empty
  ``scenario_pnl``, ``worst`` 0, source ``none``).

**The SRM's account at this boundary.** Derive's SRM margins a subaccount over every
market it holds (perps, options and base per market, summed with one cash balance); a
:class:`~marginengine.margin.portfolio.Portfolio` is one underlying's holdings, as an
engine account's options are. :func:`srm_portfolio` makes it one SRM market named
``underlying`` (the parameters: ``markets[underlying]``, else the configuration's
``default``), with these choices:

- every float is taken at its shortest decimal (``repr``) and fixed to wad, rounding
  half to even (the engine's figures are decimals of at most 18 places, so exactly);
  seconds to expiry are floored to whole seconds (block timestamps);
- an expiry's forward is its variable plus fixed part; its one confidence (the least of
  the forward's, the rate's and the vols') is both the forward's and the vols'
  confidence, which is all the SRM reads of them (their minimum with spot's); its rate is
  not read (the SRM's marks are undiscounted);
- a collateral must be the market's own base asset (its ``asset`` the underlying) at
  spot: the SRM values its base at the market's spot with spot's confidence; any other
  asset is refused (``collaterals.i.asset``), stablecoin cash being ``cash``;
- a perp's unrealised value without a position is cash (Derive settles it into cash);
- a multi-market SRM account is :func:`marginengine.margin.derive_srm.srm_margin` itself.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_EVEN, Decimal

import numpy as np

from marginengine.config.derive_managers import Pmrm1MarginConfig, SrmMarginConfig
from marginengine.config.portfolio import PortfolioMarginConfig, PortfolioRules
from marginengine.errors import FieldError, field_path
from marginengine.fixedpoint import WAD
from marginengine.margin.derive_pmrm1 import Pmrm1Margin, evaluate_pmrm1
from marginengine.margin.derive_srm import (
    SrmExpiry,
    SrmMarket,
    SrmOption,
    SrmPerp,
    SrmPortfolio,
    expiry_margin,
    srm_margin,
)
from marginengine.margin.portfolio import (
    Portfolio,
    PortfolioMargin,
    ProposedTrade,
    RuleName,
    WhatIf,
    apply_trade,
    evaluate,
)


def rule_of(cfg: PortfolioRules) -> RuleName:
    """The manager a configuration is: ``PMRM_2``, ``PMRM`` (v1) or ``SRM``."""
    if isinstance(cfg, SrmMarginConfig):
        return "SRM"
    if isinstance(cfg, Pmrm1MarginConfig):
        return "PMRM"
    return "PMRM_2"


def scenario_rows(cfg: PortfolioRules) -> list[tuple[float, str, float]]:
    """``(spot_shock, vol_shock, dampening)`` of each scenario, in the configuration's
    order (the rows of :attr:`PortfolioMargin.scenario_pnl`); PMRM v1 has no dampening
    (1), the SRM no scenarios."""
    if isinstance(cfg, SrmMarginConfig):
        return []
    if isinstance(cfg, Pmrm1MarginConfig):
        return [(s.spot_shock, s.vol_shock, 1.0) for s in cfg.scenarios]
    return [(s.spot_shock, s.vol_shock, s.dampening) for s in cfg.scenarios]


def evaluate_portfolio(portfolio: Portfolio, cfg: PortfolioRules,
                       underlying: str | None = None) -> PortfolioMargin:
    """Initial and maintenance margin of one portfolio by the manager ``cfg`` is.

    Parameters
    ----------
    portfolio
        The holdings on one underlying (validated by the rule).
    cfg
        A configuration from :func:`~marginengine.config.portfolio.portfolio_config`.
    underlying
        The underlying's symbol: the SRM's market (its parameters and its base asset);
        not read by the other rules.

    Raises
    ------
    FieldError
        A field of the portfolio out of range or of the wrong kind, naming it
        (``collaterals.0.asset``), or (SRM) an underlying without parameters
        (``underlying``).
    """
    if isinstance(cfg, SrmMarginConfig):
        return _srm(portfolio, cfg, underlying)
    if isinstance(cfg, Pmrm1MarginConfig):
        return pmrm1_margin(evaluate_pmrm1(portfolio, cfg.params))
    if not isinstance(cfg, PortfolioMarginConfig):
        raise FieldError("cfg", f"must be a portfolio-margin configuration from "
                                f"portfolio_config (got {type(cfg).__name__})")
    return evaluate(portfolio, cfg)


def what_if_portfolio(portfolio: Portfolio, trade: ProposedTrade, cfg: PortfolioRules,
                      underlying: str | None = None) -> WhatIf:
    """Margins before and after ``trade`` by ``cfg``'s manager (pure: nothing is booked);
    :func:`marginengine.margin.portfolio.validate_trade` is the pre-trade check."""
    return WhatIf(evaluate_portfolio(portfolio, cfg, underlying),
                  evaluate_portfolio(apply_trade(portfolio, trade), cfg, underlying))


def pmrm1_margin(r: Pmrm1Margin) -> PortfolioMargin:
    """A PMRM (v1) result as a :class:`PortfolioMargin` (``rule="PMRM"``)."""
    source = "scenario" if r.worst_scenario is not None else (
        "basis" if r.basis_contingency < 0 else "none")
    return PortfolioMargin(mtm=r.mtm, initial=r.initial, maintenance=r.maintenance,
                           scenario_pnl=r.scenario_pnl, basis_contingency=r.basis_contingency,
                           min_delta_risk=0.0, worst=r.worst,
                           worst_source=source,  # type: ignore[arg-type]
                           worst_scenario=r.worst_scenario,
                           mm_contingency=r.static_contingency,
                           im_contingency=r.confidence_contingency, im_factor=r.im_factor,
                           expiry_mtm=r.expiry_mtm, rule="PMRM")


#: WAD's power of ten (10**18), the exponent :func:`_wad` shifts by.
_WAD_EXPONENT = len(str(WAD)) - 1


def _wad(name: str, value: float) -> int:
    """A float at its shortest decimal, fixed to wad (half to even)."""
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or not math.isfinite(float(value)):
        raise FieldError(name, f"must be a finite number (got {value!r})")
    # scaleb shifts the exponent exactly and to_integral_value is exempt from the
    # context's 28 digits: quantize raised InvalidOperation from 1e10 (a 20 billion USD
    # cash account), as the wad of any value of 1e10 or more has more than 28 digits.
    scaled = Decimal(repr(float(value))).scaleb(_WAD_EXPONENT)
    return int(scaled.to_integral_value(rounding=ROUND_HALF_EVEN))


def srm_portfolio(portfolio: Portfolio, underlying: str | None) -> SrmPortfolio:
    """The SRM's account of one market ``underlying`` holding ``portfolio`` (the choices
    at this boundary: the module's docstring).

    Raises
    ------
    FieldError
        A field out of range, or a collateral that is not the market's base asset at spot
        (``collaterals.i.asset`` / ``.price``).
    """
    p = portfolio.validated()
    market = underlying or ""
    options: list[list[SrmOption]] = [[] for _ in p.expiries]
    for i, o in enumerate(p.options):
        where = ("options", i)
        options[o.expiry].append(SrmOption(_wad(field_path(*where, "strike"), o.strike),
                                           o.is_call,
                                           _wad(field_path(*where, "amount"), o.amount),
                                           _wad(field_path(*where, "vol"), o.vol)))
    expiries = tuple(
        SrmExpiry(math.floor(e.sec_to_expiry),
                  _wad(field_path("expiries", j, "forward"), e.forward + e.forward_fixed),
                  tuple(options[j]),
                  _wad(field_path("expiries", j, "confidence"), e.confidence),
                  _wad(field_path("expiries", j, "confidence"), e.confidence))
        for j, e in enumerate(p.expiries))
    base = 0
    for i, c in enumerate(p.collaterals):
        if underlying is None or c.asset != underlying:
            raise FieldError(field_path("collaterals", i, "asset"),
                             f"{c.asset!r} is not the market's base asset "
                             f"({underlying!r}): the SRM margins a market's own base only "
                             f"(stablecoin cash is the portfolio's cash)")
        if c.price != p.spot:
            raise FieldError(field_path("collaterals", i, "price"),
                             f"must be the market's spot {p.spot!r} (got {c.price!r}): "
                             f"the SRM values its base at spot")
        base += _wad(field_path("collaterals", i, "amount"), c.amount)
    cash = _wad("cash", p.cash)
    perp = None
    if p.perp_position:
        perp = SrmPerp(_wad("perp_position", p.perp_position),
                       _wad("perp_price", p.spot if p.perp_price is None else p.perp_price),
                       _wad("perp_confidence", p.perp_confidence),
                       _wad("perp_value", p.perp_value))
    else:
        cash += _wad("perp_value", p.perp_value)
    return SrmPortfolio((SrmMarket(market, _wad("spot", p.spot),
                                   _wad("spot_confidence", p.spot_confidence), perp, base,
                                   expiries),),
                        cash, _wad("stable_price", p.stable_price))


def _srm(portfolio: Portfolio, cfg: SrmMarginConfig, underlying: str | None) -> PortfolioMargin:
    params = cfg.params_for(underlying)
    book = srm_portfolio(portfolio, underlying)
    im = srm_margin(book, params, initial=True)
    mm = srm_margin(book, params, initial=False)
    market = book.markets[0]
    option_params = params.markets[market.market].option
    expiry_mtm = np.array([expiry_margin(e, market.spot, option_params, False)[1] / WAD
                           for e in market.expiries])
    return PortfolioMargin(mtm=mm.mtm / WAD, initial=im.margin / WAD,
                           maintenance=mm.margin / WAD, scenario_pnl=np.zeros(0),
                           basis_contingency=0.0, min_delta_risk=0.0, worst=0.0,
                           worst_source="none", worst_scenario=None, mm_contingency=0.0,
                           im_contingency=0.0, im_factor=1.0, expiry_mtm=expiry_mtm,
                           rule="SRM", wad=(mm.mtm, im.margin, mm.margin))


__all__ = ["evaluate_portfolio", "pmrm1_margin", "rule_of", "scenario_rows", "srm_portfolio",
           "what_if_portfolio"]
