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

A perp market of ``[protocol.adaptive] perp_markets`` moves the same two ways: its
first-tier maintenance and initial fractions follow its ``SetConditions`` in the direct
mode (:meth:`~marginengine.margin.adaptive_model.AdaptiveMarginModel.perp_fractions`), or
a ``SetRiskParams`` with ``maintenance_fraction_bps`` / ``initial_fraction_bps`` within
the steward bounds, listing the accounts it made liquidatable.

``SetCrowding`` (``[protocol.adaptive] crowding = true``) records each account's crowding
add-on on one collateral, from the exact heatmap of the book
(:func:`marginengine.margin.crowding.liquidation_heatmap`): the engine's health,
liquidation and borrow checks raise the requirement by it (the one margin interface reads
it from the valuation), so the log decides the add-on and a replay reproduces it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from marginengine.config.models import DEBT_CEILING_DECIMALS
from marginengine.config.stewards import ParamName, StewardBounds
from marginengine.decisions import Code
from marginengine.engine.context import HandlerContext
from marginengine.engine.events import (
    PERP_PARAM_FIELDS,
    SetCrowding,
    SetDebtCeiling,
    SetLiquidationGracePeriod,
    SetPoolPause,
    SetReserveActive,
    SetReserveFreeze,
    SetReservePause,
    SetRiskParams,
)
from marginengine.fixedpoint import BPS, Rounding, div
from marginengine.margin import MarginKind, reserve_flags, validation, value_of
from marginengine.margin.adaptive_model import (
    MarketParams,
    PerpParams,
    market_params,
    perp_params,
)
from marginengine.margin.crowding import BookAccount, ConstantProductDepth, liquidation_heatmap
from marginengine.margin.stewards import ProposedUpdate, clamp_updates

#: Event field -> steward parameter name.
_PARAM_OF: dict[str, ParamName] = {
    "ltv_bps": "ltv",
    "liquidation_threshold_bps": "liquidation_threshold",
    "liquidation_bonus_bps": "liquidation_bonus",
}


#: Perp event field -> steward parameter name.
_PERP_PARAM_OF: dict[str, ParamName] = {
    "maintenance_fraction_bps": "maintenance_fraction",
    "initial_fraction_bps": "initial_fraction",
}


def _liquidatable_with_debt(ctx: HandlerContext) -> dict[str, int]:
    """Accounts liquidatable now, with their debt value (base currency, 8 decimals)."""
    out: dict[str, int] = {}
    for account_id in sorted(ctx.ledger.accounts):
        if ctx.is_liquidatable(account_id):
            out[account_id] = ctx.account_data(account_id).total_debt
    return out


def _newly(ctx: HandlerContext, before: dict[str, int]) -> dict[str, Any]:
    """The accounts liquidatable now that were not in ``before``, with their debt (and
    the maintenance requirement of those holding perps)."""
    made = {a: d for a, d in _liquidatable_with_debt(ctx).items() if a not in before}
    listed: list[dict[str, Any]] = []
    for a, d in made.items():
        entry: dict[str, Any] = {"account": a, "debt": d}
        if ctx.has_perps(a):
            entry["requirement"] = ctx.margin_state(a, MarginKind.MAINTENANCE).requirement
        listed.append(entry)
    return {"newly_liquidatable": listed, "newly_liquidatable_debt": sum(made.values())}


def set_risk_params(ctx: HandlerContext, e: SetRiskParams) -> dict[str, Any]:
    if e.asset in ctx.config.perps:
        return _set_perp_params(ctx, e)
    perp_given = [f for f in PERP_PARAM_FIELDS if getattr(e, f) is not None]
    if perp_given:
        ctx.refuse(Code.INVALID_ARGUMENT, f"{perp_given[0]}: applies to perp markets only "
                   f"({e.asset!r} is not one)", field=perp_given[0])
    asset = ctx.market(e.asset)
    if not ctx.config.markets[asset].collateral:
        ctx.refuse(Code.INVALID_ARGUMENT, f"asset: {asset} is not collateral; its risk "
                   "parameters do not apply", field="asset", asset=asset)
    if e.ltv_bps is not None and ctx.ledger.reserves[asset].frozen:
        # configureReserveAsCollateral on a frozen reserve keeps the new LTV as the
        # pending one (the LTV stays 0); the stewards' bounds against it are not modelled.
        ctx.refuse(Code.RESERVE_FROZEN, f"ltv_bps: {asset} is frozen (its LTV is 0 until "
                   "it is unfrozen); set the LTV after SetReserveFreeze(frozen=false)",
                   field="ltv_bps", asset=asset,
                   error=reserve_flags.error_name(Code.RESERVE_FROZEN,
                                                  ctx.rules.custom_errors))
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
    return {"previous": current.as_dict(), "params": new.as_dict(), "reason": e.reason,
            **_newly(ctx, before)}


def _set_perp_params(ctx: HandlerContext, e: SetRiskParams) -> dict[str, Any]:
    """``SetRiskParams`` on a perp market: its first-tier fractions within the bounds."""
    market = e.asset
    model = ctx.state.adaptive
    if model is None or not model.adapts_perp(market):
        ctx.refuse(Code.INVALID_ARGUMENT, f"asset: {market} is not in [protocol.adaptive] "
                   "perp_markets; its margin fractions are static", field="asset",
                   asset=market)
    lending = [f for f in _PARAM_OF if getattr(e, f) is not None]
    if lending:
        ctx.refuse(Code.INVALID_ARGUMENT, f"{lending[0]}: applies to lending markets only "
                   f"({market} is a perp market)", field=lending[0])
    current = perp_params(ctx.config, market)
    if current.maintenance_ppm % 100 or current.initial_ppm % 100:
        ctx.refuse(Code.INVALID_ARGUMENT, f"asset: {market}'s first-tier fractions "
                   f"({current.maintenance_ppm} and {current.initial_ppm} ppm) are not whole "
                   "bps; SetRiskParams moves whole bps", field="asset", asset=market)
    now_bps = {"maintenance_fraction_bps": current.maintenance_ppm // 100,
               "initial_fraction_bps": current.initial_ppm // 100}
    fields = [f for f in PERP_PARAM_FIELDS if getattr(e, f) is not None]
    mmf = e.maintenance_fraction_bps
    if mmf is not None and mmf < now_bps["maintenance_fraction_bps"]:
        # Lower the maintenance first, so maintenance <= initial holds after each step.
        fields.sort(key=lambda f: f != "maintenance_fraction_bps")
    proposals = [ProposedUpdate(market, _PERP_PARAM_OF[f], getattr(e, f), ctx.time)
                 for f in fields]
    last: dict[tuple[str, ParamName], int] = {
        (market, p): t for p in _PERP_PARAM_OF.values()
        if (t := ctx.state.param_times.get((market, p))) is not None}
    decisions, after, _ = clamp_updates(
        {(market, _PERP_PARAM_OF[f]): v for f, v in now_bps.items()}, proposals,
        ctx.config.stewards or StewardBounds(), last_updated=last)
    for f, d in zip(fields, decisions, strict=True):
        if d.status != "accepted":
            ctx.refuse(Code.RISK_PARAMS_OUT_OF_BOUNDS, f"{f}: {d.message}", field=f,
                       steward_code=d.code, previous=d.previous, proposed=d.proposal.value,
                       allowed=d.value)
    before = _liquidatable_with_debt(ctx)
    new = PerpParams(after[(market, "maintenance_fraction")] * 100,
                     after[(market, "initial_fraction")] * 100)
    ctx.set_perp_params(market, new, [_PERP_PARAM_OF[f] for f in fields])
    return {"previous": current.as_dict(), "params": new.as_dict(), "reason": e.reason,
            **_newly(ctx, before)}


def adapt_on_conditions(ctx: HandlerContext, asset: str) -> dict[str, Any]:
    """In the direct mode, set ``asset``'s parameters from its new conditions; return the
    details to record (nothing outside the direct mode or without a volatility)."""
    model = ctx.state.adaptive
    adaptive = ctx.config.adaptive
    if model is None or adaptive is None or adaptive.mode != "direct":
        return {}
    if asset in ctx.config.perps:
        if not model.adapts_perp(asset):
            return {}
        fractions = model.perp_fractions(asset, ctx.conditions[asset])
        if fractions is None:
            return {}
        if fractions.params != perp_params(ctx.config, asset):
            ctx.set_perp_params(asset, fractions.params)
        return {"adaptive": fractions.as_dict()}
    haircut = model.haircut(asset, ctx.conditions[asset], ctx.prices.get(asset))
    if haircut is None:
        return {}
    details: dict[str, Any] = {"adaptive": haircut.as_dict()}
    params = haircut.params
    reserve = ctx.ledger.reserves[asset]
    if reserve.frozen:
        # configureReserveAsCollateral on a frozen reserve: the LTV waits as the pending
        # one and stays 0 (PoolConfigurator.sol, every version).
        if reserve.pending_ltv_bps != params.ltv_bps:
            ctx.ledger.set_reserve_flags(asset, pending_ltv_bps=params.ltv_bps)
        params = MarketParams(0, params.liquidation_threshold_bps,
                              params.liquidation_bonus_bps)
    if params != market_params(ctx.config, asset):
        ctx.set_market_params(asset, params)
    return details


def crowding_book(ctx: HandlerContext, asset: str) -> tuple[list[str], list[BookAccount]]:
    """The lending accounts holding ``asset`` as collateral, as a single-collateral book:
    the amount, the debt that the account's *other* collateral (at its liquidation
    thresholds, rounded down) does not cover, and ``asset``'s threshold in force. Buckets
    holding perps and portfolio accounts are left out (their add-on is not defined)."""
    config, ledger, prices = ctx.config, ctx.ledger, ctx.prices
    lt = config.markets[asset].liquidation_threshold_bps
    names: list[str] = []
    book: list[BookAccount] = []
    for account_id in sorted(ledger.accounts):
        if not ledger.uses_as_collateral(account_id, asset) or ctx.has_perps(account_id) \
                or ctx.is_portfolio_account(account_id):
            continue
        amount = ledger.supply_of(account_id, asset)
        if not amount:
            continue
        ctx.require_prices(ctx.account_assets(account_id))
        others = 0
        for other in ctx.account_assets(account_id):
            if other == asset or not ledger.uses_as_collateral(account_id, other):
                continue
            m = config.markets[other]
            value = value_of(ledger.supply_of(account_id, other), prices[other], m.unit,
                             Rounding.DOWN)
            others += div(value * m.liquidation_threshold_bps, BPS, Rounding.DOWN)
        uncovered = max(0, ctx.account_data(account_id).total_debt - others)
        names.append(account_id)
        book.append(BookAccount(amount, uncovered, lt))
    return names, book


def set_crowding(ctx: HandlerContext, e: SetCrowding) -> dict[str, Any]:
    adaptive = ctx.config.adaptive
    if adaptive is None or not adaptive.crowding:
        ctx.refuse(Code.EVENT_NOT_SUPPORTED, "SetCrowding needs [protocol.adaptive] "
                   "crowding = true", event="SetCrowding")
    asset = ctx.market(e.asset)
    market = ctx.config.markets[asset]
    if not market.collateral:
        ctx.refuse(Code.INVALID_ARGUMENT, f"asset: {asset} is not collateral; no account "
                   "is liquidated into its venue", field="asset", asset=asset)
    price = ctx.price(asset)
    names, book = crowding_book(ctx, asset)
    venue = ConstantProductDepth(e.base_reserve, price, market.unit, e.fee_bps)
    heat = liquidation_heatmap(book, venue, market.liquidation_bonus_bps - BPS)
    addons = {n: a for n, a in zip(names, heat.addon_ppm, strict=True) if a}
    ctx.set_crowding(asset, addons)
    return {"asset": asset, "price": price, "addons": addons,
            "cliffs": [lv.price for lv in heat.cliffs],
            "attacks": [{"price": a.price, "capital_value": a.capital_value,
                         "push_cost": a.push_cost, "profit": a.profit}
                        for a in heat.attacks]}


__all__ = ["adapt_on_conditions", "crowding_book", "set_crowding", "set_debt_ceiling",
           "set_liquidation_grace_period", "set_pool_pause", "set_reserve_active",
           "set_reserve_freeze", "set_reserve_pause", "set_risk_params"]


def set_liquidation_grace_period(ctx: HandlerContext,
                                 e: SetLiquidationGracePeriod) -> dict[str, Any]:
    """The pool admin's ``PoolConfigurator.setReservePause(asset, false, gracePeriod)``
    (Aave v3.1+; aave-dao/aave-v3-origin@4fbd7442, the same in v3.3.0 and v3.5.0): a
    grace period of at most ``MAX_GRACE_PERIOD`` (``INVALID_GRACE_PERIOD``) sets the
    reserve's ``liquidationGracePeriodUntil`` to now plus it; 0 clears it, as
    ``disableLiquidationGracePeriod``. The paused flag is left as it is (an unpause is
    :class:`SetReservePause`). ``validateLiquidationCall`` reads it
    (:func:`marginengine.margin.validation.validate_liquidation_grace`)."""
    asset = ctx.market(e.asset)
    refusal = validation.validate_grace_period(e.grace_period)
    if refusal:
        ctx.refuse_with(refusal)
    until = ctx.time + e.grace_period if e.grace_period else 0
    ctx.ledger.set_liquidation_grace_period_until(asset, until)
    return {"until": until}


# ---------------------------------------------------------------------- reserve flags
# aave-dao/aave-v3-origin PoolConfigurator.sol (@v3.3.0, @v3.5.0, @4fbd7442):
# setReservePause, setPoolPause, setReserveFreeze, setReserveActive, setDebtCeiling; the
# rules are marginengine.margin.reserve_flags'.
def _pause(ctx: HandlerContext, asset: str, paused: bool, grace_period: int) -> int | None:
    """``setReservePause(asset, paused, gracePeriod)``: unpausing with a grace period
    starts it (at most ``MAX_GRACE_PERIOD``); returns its end, or ``None``."""
    until = None
    if grace_period < 0 or (not paused and grace_period):
        # A negative period is no uint40; above the maximum only an unpause refuses it.
        refusal = validation.validate_grace_period(grace_period)
        if refusal:
            ctx.refuse_with(refusal)
    if not paused and grace_period:
        until = ctx.time + grace_period
        ctx.ledger.set_liquidation_grace_period_until(asset, until)
    ctx.ledger.set_reserve_flags(asset, paused=paused)
    return until


def set_reserve_pause(ctx: HandlerContext, e: SetReservePause) -> dict[str, Any]:
    """The emergency or pool admin's ``setReservePause(asset, paused, gracePeriod)``: the
    paused flag, and on an unpause with a grace period its end (``until``)."""
    asset = ctx.market(e.asset)
    until = _pause(ctx, asset, e.paused, e.grace_period)
    return {"paused": e.paused} if until is None else {"paused": e.paused, "until": until}


def set_pool_pause(ctx: HandlerContext, e: SetPoolPause) -> dict[str, Any]:
    """``setPoolPause(paused, gracePeriod)``: ``setReservePause`` on every reserve, in the
    order of the markets (``getReservesList``); one refusal refuses all (one call)."""
    until = None
    for asset in ctx.config.markets:
        until = _pause(ctx, asset, e.paused, e.grace_period)
    out: dict[str, Any] = {"paused": e.paused, "reserves": list(ctx.config.markets)}
    if until is not None:
        out["until"] = until
    return out


def set_reserve_freeze(ctx: HandlerContext, e: SetReserveFreeze) -> dict[str, Any]:
    """``setReserveFreeze(asset, freeze)``: the flag must change; the LTV is zeroed and
    kept as pending (v3.3/v3.5 set it back on an unfreeze; v3.6+ zero it also in every
    e-mode category holding the asset as collateral, ``ltvzero``, and restore neither:
    :func:`~marginengine.margin.reserve_flags.ltv_after_freeze`)."""
    asset = ctx.market(e.asset)
    reserve = ctx.ledger.reserves[asset]
    custom = ctx.rules.custom_errors
    refusal = reserve_flags.validate_set_reserve_freeze(asset, reserve.frozen, e.frozen,
                                                        custom)
    if refusal:
        ctx.refuse_with(refusal)
    current = market_params(ctx.config, asset)
    ltv, pending = reserve_flags.ltv_after_freeze(e.frozen, current.ltv_bps,
                                                  reserve.pending_ltv_bps,
                                                  not ctx.rules.freeze_ltvzero)
    if ltv != current.ltv_bps:
        # A configurator write, not a steward update: no parameter time is stamped.
        ctx.set_market_params(asset, MarketParams(ltv, current.liquidation_threshold_bps,
                                                  current.liquidation_bonus_bps))
    ctx.ledger.set_reserve_flags(asset, frozen=e.frozen, pending_ltv_bps=pending)
    details: dict[str, Any] = {"frozen": e.frozen, "ltv_bps": ltv, "pending_ltv_bps": pending}
    emode = ctx.config.emode
    if e.frozen and ctx.rules.freeze_ltvzero and emode is not None:
        zeroed = [i for i, c in emode.categories.items()
                  if asset in c.collateral and asset not in c.ltvzero]
        if zeroed:
            categories = {i: (c.model_copy(update={"ltvzero": [*c.ltvzero, asset]})
                              if i in zeroed else c) for i, c in emode.categories.items()}
            ctx.set_reserve_config(ctx.config.model_copy(update={
                "emode": emode.model_copy(update={"categories": categories})}), asset)
        details["emode_ltvzero"] = zeroed
    return details


def set_reserve_active(ctx: HandlerContext, e: SetReserveActive) -> dict[str, Any]:
    """The pool admin's ``setReserveActive(asset, active)``: deactivating needs no
    suppliers (``_checkNoSuppliers``)."""
    asset = ctx.market(e.asset)
    reserve = ctx.ledger.reserves[asset]
    refusal = reserve_flags.validate_set_reserve_active(
        asset, e.active, reserve.scaled_supply, reserve.treasury, ctx.rules.custom_errors)
    if refusal:
        ctx.refuse_with(refusal)
    ctx.ledger.set_reserve_flags(asset, active=e.active)
    return {"active": e.active}


def set_debt_ceiling(ctx: HandlerContext, e: SetDebtCeiling) -> dict[str, Any]:
    """``setDebtCeiling(asset, newDebtCeiling)`` (v3.3/v3.5; cents): within
    ``MAX_VALID_DEBT_CEILING``; from none on a collateral reserve, no suppliers; the
    ceiling is put in force (a configurator write of the reserve configuration), and a
    ceiling of 0 resets the reserve's ``isolationModeTotalDebt``
    (``Pool.resetIsolationModeTotalDebt``, ``PoolLogic.executeResetIsolationModeTotalDebt``)
    and ends the isolation of the accounts holding it alone."""
    asset = ctx.market(e.asset)
    market = ctx.config.markets[asset]
    if e.debt_ceiling and not market.collateral:
        # As the configuration refuses markets.X.debt_ceiling on such a market.
        ctx.refuse(Code.INVALID_ARGUMENT, f"asset: {asset} is not collateral; a debt "
                   "ceiling bounds the debt backed by an isolated collateral", field="asset",
                   asset=asset)
    reserve = ctx.ledger.reserves[asset]
    old = market.debt_ceiling_units
    refusal = reserve_flags.validate_set_debt_ceiling(
        asset, old, e.debt_ceiling, market.liquidation_threshold_bps, reserve.scaled_supply,
        reserve.treasury, ctx.rules.custom_errors)
    if refusal:
        ctx.refuse_with(refusal)
    if e.debt_ceiling:
        narrow = [a for a, m in ctx.config.markets.items()
                  if m.borrowable_in_isolation and m.decimals < DEBT_CEILING_DECIMALS]
        if narrow:
            ctx.refuse(Code.INVALID_ARGUMENT, f"debt_ceiling: {narrow[0]} is borrowable in "
                       f"isolation with {ctx.config.markets[narrow[0]].decimals} decimals; "
                       "isolated debt is counted in cents, which needs 2 decimals or more",
                       field="debt_ceiling", asset=narrow[0])
    if e.debt_ceiling != old:
        ceiling = Decimal(e.debt_ceiling).scaleb(-DEBT_CEILING_DECIMALS)
        ctx.set_reserve_config(ctx.config.model_copy(update={"markets": {
            **ctx.config.markets,
            asset: market.model_copy(update={"debt_ceiling": ceiling})}}), asset)
    details: dict[str, Any] = {"previous": old, "debt_ceiling": e.debt_ceiling}
    if e.debt_ceiling == 0:
        details["isolation_mode_total_debt_reset"] = reserve.isolation_mode_total_debt
        ctx.ledger.set_isolation_mode_total_debt(asset, 0)
    return details
