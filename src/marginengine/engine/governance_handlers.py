"""The handlers of governance: risk-parameter updates, and the adaptive model's direct mode.

``SetRiskParams`` is the only way a governed protocol's parameters move: the update is
decided by the Risk-Steward rules of :func:`marginengine.margin.stewards.clamp_updates`
against the protocol's bounds (``[protocol.stewards]``; Aave's automated-update defaults
when absent) and the time of each parameter's last update, and refused unless every field
is accepted *as given* (a proposal that moves too far is clamped by the proposer,
:mod:`marginengine.sim.adaptive_agent`, never silently by the engine: the log holds exactly
what changed). The outcome lists the accounts the update made liquidatable and their debt.

In the direct adaptive mode (``[protocol.adaptive] mode = "direct"``) a ``SetConditions``
event sets the asset's parameters from the adaptive model at once (within its
``min/max_threshold_bps``), so the conditions in the log decide them.
"""

from __future__ import annotations

from typing import Any

from marginengine.config.stewards import ParamName, StewardBounds
from marginengine.decisions import Code
from marginengine.engine.context import HandlerContext
from marginengine.engine.events import SetRiskParams
from marginengine.margin.adaptive_model import MarketParams, market_params
from marginengine.margin.stewards import ProposedUpdate, clamp_updates

#: Event field -> steward parameter name.
_PARAM_OF: dict[str, ParamName] = {
    "ltv_bps": "ltv",
    "liquidation_threshold_bps": "liquidation_threshold",
    "liquidation_bonus_bps": "liquidation_bonus",
}


def _liquidatable_with_debt(ctx: HandlerContext) -> dict[str, int]:
    """Accounts liquidatable now, with their debt value (base currency, 8 decimals)."""
    out: dict[str, int] = {}
    for account_id in sorted(ctx.ledger.accounts):
        if ctx.is_liquidatable(account_id):
            out[account_id] = ctx.account_data(account_id).total_debt
    return out


def set_risk_params(ctx: HandlerContext, e: SetRiskParams) -> dict[str, Any]:
    asset = ctx.market(e.asset)
    if not ctx.config.markets[asset].collateral:
        ctx.refuse(Code.INVALID_ARGUMENT, f"asset: {asset} is not collateral; its risk "
                   "parameters do not apply", field="asset", asset=asset)
    current = market_params(ctx.config, asset)
    fields = [f for f in ("liquidation_threshold_bps", "ltv_bps", "liquidation_bonus_bps")
              if getattr(e, f) is not None]
    if e.liquidation_threshold_bps is not None and \
            e.liquidation_threshold_bps < current.liquidation_threshold_bps:
        # Lower the LTV first, so ltv <= threshold holds after each step.
        fields.sort(key=lambda f: f != "ltv_bps")
    proposals = [ProposedUpdate(asset, _PARAM_OF[f], getattr(e, f), ctx.time) for f in fields]
    bounds = ctx.config.stewards or StewardBounds()
    last: dict[tuple[str, ParamName], int] = {
        (asset, p): t for p in _PARAM_OF.values()
        if (t := ctx.state.param_times.get((asset, p))) is not None}
    decisions, after, _ = clamp_updates(
        {(asset, _PARAM_OF[f]): getattr(current, f) for f in _PARAM_OF}, proposals, bounds,
        last_updated=last)
    for f, d in zip(fields, decisions, strict=True):
        if d.status != "accepted":
            ctx.refuse(Code.RISK_PARAMS_OUT_OF_BOUNDS, f"{f}: {d.message}", field=f,
                       steward_code=d.code, previous=d.previous, proposed=d.proposal.value,
                       allowed=d.value)
    before = _liquidatable_with_debt(ctx)
    new = MarketParams(after[(asset, "ltv")], after[(asset, "liquidation_threshold")],
                       after[(asset, "liquidation_bonus")])
    ctx.set_market_params(asset, new, [_PARAM_OF[f] for f in fields])
    now = _liquidatable_with_debt(ctx)
    made = {a: d for a, d in now.items() if a not in before}
    return {"previous": current.as_dict(), "params": new.as_dict(), "reason": e.reason,
            "newly_liquidatable": [{"account": a, "debt": d} for a, d in made.items()],
            "newly_liquidatable_debt": sum(made.values())}


def adapt_on_conditions(ctx: HandlerContext, asset: str) -> dict[str, Any]:
    """In the direct mode, set ``asset``'s parameters from its new conditions; return the
    details to record (nothing outside the direct mode or without a volatility)."""
    model = ctx.state.adaptive
    adaptive = ctx.config.adaptive
    if model is None or adaptive is None or adaptive.mode != "direct":
        return {}
    haircut = model.haircut(asset, ctx.conditions[asset], ctx.prices.get(asset))
    if haircut is None:
        return {}
    details: dict[str, Any] = {"adaptive": haircut.as_dict()}
    if haircut.params != market_params(ctx.config, asset):
        ctx.set_market_params(asset, haircut.params)
    return details


__all__ = ["adapt_on_conditions", "set_risk_params"]
