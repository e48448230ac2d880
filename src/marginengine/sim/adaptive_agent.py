"""The adaptive margin's agents: an estimator that publishes market conditions from the
oracle's price history, and a proposer that turns the model's call into a steward-bounded
``SetRiskParams`` update.

Both are what a simulator step or the service calls; neither changes anything itself:
each returns an event for the engine to apply (and log), so replaying the log reproduces
every parameter (issue 12).

- :func:`conditions_event` (history -> ``SetConditions``): the volatility of the last
  ``history`` prices by the configured ``model`` (EWMA with ``lam``, realized over
  ``window``, GARCH(1,1) through the optional ``arch`` extra, or filtered historical
  simulation), with the EMIR Art. 28 stressed-weight or 10-year-floor tool applied to it,
  plus the depth and open interest the caller measured (the venue's, the ledger's).
- :func:`propose_risk_params` (engine -> proposal): the parameters the adaptive model calls
  for, clamped by :func:`~marginengine.margin.stewards.clamp_updates` to the steward bounds
  and delays, with the accounts the update would make liquidatable and their debt.

FHS publishes the *normal-equivalent* volatility of its tail: the ``sigma`` whose normal
VaR (or ES) over the horizon equals the FHS one, so the margin model's one formula gives
the FHS haircut (rounded up twice: never below it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from statistics import NormalDist

from marginengine.config.adaptive import AdaptiveConfig
from marginengine.config.stewards import ParamName, StewardBounds
from marginengine.engine import Engine, SetRiskParams
from marginengine.engine.events import SetConditions
from marginengine.errors import FieldError
from marginengine.fixedpoint import BPS
from marginengine.margin import AccountMarginModel
from marginengine.margin.adaptive import (
    LiquidationHorizon,
    fhs_haircut,
    lookback_returns,
    stressed_returns,
)
from marginengine.margin.adaptive_model import (
    YEAR_SECONDS,
    MarketParams,
    config_with_params,
    market_params,
)
from marginengine.margin.stewards import ProposedUpdate, StewardDecision, clamp_updates
from marginengine.oracle.volatility import (
    GARCH_MIN_RETURNS,
    annualized_vol_ppm,
    estimate_volatility,
    log_returns,
    realized_variance,
)


def _ceil_ppm(value: float) -> int:
    return max(0, math.ceil(Fraction(value) * 1_000_000))


def _tail_factor(adaptive: AdaptiveConfig) -> float:
    """The normal VaR or ES per unit of ``sigma * sqrt(T)`` at the confidence."""
    a = adaptive.confidence_bps / BPS
    z = NormalDist().inv_cdf(a)
    return z if adaptive.measure == "var" else NormalDist().pdf(z) / (1.0 - a)


def min_prices(adaptive: AdaptiveConfig) -> int:
    """The fewest prices the configured model estimates from: 3 (two returns), or one more
    than :data:`~marginengine.oracle.volatility.GARCH_MIN_RETURNS` for ``garch``."""
    return GARCH_MIN_RETURNS + 1 if adaptive.model == "garch" else 3


def volatility_ppm(prices: Sequence[int], adaptive: AdaptiveConfig) -> int:
    """Annualized volatility (ppm per sqrt(year), rounded up) of ``prices`` sampled every
    ``period_seconds``, by the configured model and anti-procyclicality tool.

    Raises
    ------
    FieldError
        If the history is too short for the model (naming ``prices``).
    """
    a = adaptive
    window = list(prices[-a.history:])
    if len(window) < 3:
        raise FieldError("prices", f"need at least 3 prices to estimate (got {len(window)})")
    period = a.period_seconds
    if a.model == "fhs":
        h = a.horizon
        horizon = LiquidationHorizon(h.oracle_delay_blocks, h.keeper_latency_blocks,
                                     h.auction_blocks, h.block_time_ms)
        returns = log_returns(window)
        tail = fhs_haircut(returns, horizon.periods(period), a.confidence_bps,
                           lam=float(a.lam)).pick(a.measure)
        years = float(horizon.periods(YEAR_SECONDS))
        vol = _ceil_ppm(tail / 1_000_000 / (_tail_factor(a) * math.sqrt(years)))
    else:
        vol = estimate_volatility(window, period, a.model, lam=float(a.lam),
                                  window=a.window).vol_ppm
    if a.apc in ("stressed_weight", "floor"):
        returns = log_returns(list(prices))
        if a.apc == "stressed_weight":
            span = min(a.apc_stressed_window, int(returns.size))
            stressed = stressed_returns(returns, span)
            other = annualized_vol_ppm(realized_variance(stressed, span), period)
            w = a.apc_stressed_weight_bps
            vol = -(-(vol * (BPS - w) + other * w) // BPS)
        else:
            look = lookback_returns(returns, period)
            vol = max(vol, annualized_vol_ppm(realized_variance(look, int(look.size)), period))
    return vol


def conditions_event(asset: str, prices: Sequence[int], adaptive: AdaptiveConfig, *,
                     depth: int | None = None,
                     open_interest: int | None = None) -> SetConditions:
    """The ``SetConditions`` an estimator publishes for ``asset`` from its price history
    (oldest first, one price per ``period_seconds``), with the measured ``depth``
    (base-currency units for a 2% move) and ``open_interest`` (smallest units)."""
    return SetConditions(asset, volatility_ppm=volatility_ppm(prices, adaptive), depth=depth,
                         open_interest=open_interest)


@dataclass(frozen=True)
class Proposal:
    """A proposed parameter update and what it costs borrowers.

    Attributes
    ----------
    target
        What the adaptive model calls for.
    decisions
        The steward's decision on each parameter (clamped, accepted or rejected).
    event
        The update to apply (``None``: nothing the bounds let move now).
    newly_liquidatable
        ``(account, debt value)`` the update would make liquidatable, by account.
    """

    target: MarketParams
    decisions: tuple[StewardDecision, ...]
    event: SetRiskParams | None
    newly_liquidatable: tuple[tuple[str, int], ...]

    @property
    def newly_liquidatable_debt(self) -> int:
        """Debt (base currency, 8 decimals) the update would put up for liquidation."""
        return sum(d for _, d in self.newly_liquidatable)


def propose_risk_params(engine: Engine, asset: str) -> Proposal | None:
    """What the adaptive model calls for on ``asset`` now, within the steward bounds.

    ``None`` when the protocol has no ``[protocol.adaptive]`` or the asset no reported
    volatility. The threshold and the LTV are proposed together (the LTV first when they
    fall, so ``ltv <= threshold`` holds at each step), clamped to the allowed move, and
    dropped when the delay since the last update has not passed.
    """
    model = engine.state.adaptive
    if model is None:
        return None
    conditions = engine.conditions.get(asset)
    if conditions is None:
        return None
    haircut = model.haircut(asset, conditions, engine.prices.get(asset))
    if haircut is None:
        return None
    target = haircut.params
    current = market_params(engine.config, asset)
    now = engine.ledger.time
    order: list[tuple[str, ParamName, int]] = [
        ("liquidation_threshold_bps", "liquidation_threshold",
         target.liquidation_threshold_bps),
        ("ltv_bps", "ltv", target.ltv_bps)]
    if target.liquidation_threshold_bps < current.liquidation_threshold_bps:
        order.reverse()
    proposals = [ProposedUpdate(asset, p, v, now) for _, p, v in order]
    last: dict[tuple[str, ParamName], int] = {
        (asset, p): t for _, p, _v in order
        if (t := engine.state.param_times.get((asset, p))) is not None}
    bounds = engine.config.stewards or StewardBounds()
    decisions, values, _ = clamp_updates(
        {(asset, "ltv"): current.ltv_bps,
         (asset, "liquidation_threshold"): current.liquidation_threshold_bps,
         (asset, "liquidation_bonus"): current.liquidation_bonus_bps},
        proposals, bounds, last_updated=last)
    fields = {field: values[(asset, p)] for (field, p, _v), d in zip(order, decisions,
                                                                     strict=True) if d.applied}
    if not fields:
        return Proposal(target, tuple(decisions), None, ())
    new = MarketParams(values[(asset, "ltv")], values[(asset, "liquidation_threshold")],
                       current.liquidation_bonus_bps)
    after = AccountMarginModel(config_with_params(engine.config, asset, new))
    valuation = engine.valuation()
    made: list[tuple[str, int]] = []
    for account_id in sorted(engine.ledger.accounts):
        if engine.is_liquidatable(account_id):
            continue
        if after.is_liquidatable(engine.ledger, valuation, account_id):
            made.append((account_id, engine.account_data(account_id).total_debt))
    a = model.adaptive
    event = SetRiskParams(asset, reason=f"adaptive {a.model} {a.measure} {a.confidence_bps} bps",
                          **fields)
    return Proposal(target, tuple(decisions), event, tuple(made))


__all__ = ["Proposal", "conditions_event", "min_prices", "propose_risk_params",
           "volatility_ppm"]
