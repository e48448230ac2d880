"""The handlers of market inputs: prices, market conditions, the sequencer, and time.

``SetPrice`` feeds the market's oracle (stable price, circuit breaker) and sets the price;
``SetConditions`` records an asset's volatility, depth and open interest;
``SetSequencer`` records the L2 sequencer's status for Aave's PriceOracleSentinel;
``AdvanceTime`` moves the clock (interest accrues in the ledger, funding is applied, the
breakers' cool-offs run). All of it inside the engine's one transaction.
"""

from __future__ import annotations

from typing import Any

from marginengine.decisions import Code
from marginengine.engine import governance_handlers, option_handlers, perp_handlers
from marginengine.engine.context import HandlerContext
from marginengine.engine.events import AdvanceTime, SetConditions, SetPrice, SetSequencer
from marginengine.margin.validation import validate_clock, validate_index_widths
from marginengine.oracle import PriceStatus
from marginengine.oracle.conditions import MarketConditions
from marginengine.oracle.market_oracle import USABLE


def set_price(ctx: HandlerContext, e: SetPrice) -> dict[str, Any]:
    asset = e.asset if e.asset in ctx.config.perps else ctx.market(e.asset)
    ctx.positive(e.price, "price")
    try:
        status = PriceStatus(e.status)
    except ValueError:
        ctx.refuse(Code.UNKNOWN_PRICE_STATUS,
                   f"status: unknown price status {e.status!r} (one of "
                   f"{', '.join(s.value for s in PriceStatus)})",
                   field="status", status=e.status)
    details: dict[str, Any] = {"previous": ctx.prices.get(asset, 0)}
    oracle = ctx.oracle_for_update(asset)
    transition = oracle.observe(ctx.time, e.price, status, e.reason)
    ctx.set_price(asset, e.price)
    if status in USABLE:
        # The spot a settlement TWAP integrates (Derive's feed aggregates its spot feed,
        # whose stale data it refuses): an unusable price does not enter it.
        option_handlers.observe_settlement_spot(ctx, asset, e.price)
    if oracle.stable is not None:
        details["stable_price"] = oracle.stable.price
    if transition is not None:
        details["breaker"] = transition.as_dict()
    return details


def set_conditions(ctx: HandlerContext, e: SetConditions) -> dict[str, Any]:
    if not ctx.config.priced(e.asset):
        ctx.refuse(Code.UNKNOWN_ASSET, f"asset: unknown asset {e.asset!r}",
                   field="asset", asset=e.asset)
    current = ctx.conditions.get(e.asset, MarketConditions())
    updated = current.updated(volatility_ppm=e.volatility_ppm, depth=e.depth,
                              open_interest=e.open_interest)
    ctx.set_conditions(e.asset, updated)
    return {"conditions": updated.as_dict(), **governance_handlers.adapt_on_conditions(
        ctx, e.asset)}


def set_sequencer(ctx: HandlerContext, e: SetSequencer) -> dict[str, Any]:
    ctx.set_sequencer(e.up)
    return {"up": e.up, "since": ctx.time}


def advance_time(ctx: HandlerContext, e: AdvanceTime) -> dict[str, Any]:
    ctx.positive(e.seconds, "seconds")
    previous = ctx.time
    widths = ctx.rules.widths
    # Comet's uint40 clock: past it every call reverts (TimestampTooLarge), so the time
    # never gets there; asked before any accrual.
    refusal = validate_clock(widths, previous + e.seconds)
    if refusal:
        ctx.refuse_with(refusal)
    ctx.ledger.advance(e.seconds)
    if widths is not None:
        # The protocol stores each new index in a fixed width; beyond it, its accrual
        # reverts, so the whole AdvanceTime is refused (the transaction rolls back).
        compound = ctx.config.compound
        base = compound.base_asset if compound is not None else None
        for asset, r in sorted(ctx.ledger.reserves.items()):
            refusal = validate_index_widths(widths, asset, asset == base,
                                            r.liquidity_index, r.borrow_index)
            if refusal:
                ctx.refuse_with(refusal)
    details: dict[str, Any] = {"time": ctx.time}
    funding = perp_handlers.accrue_funding(ctx, previous)
    if funding:
        details["funding"] = funding
    transitions = []
    for asset in sorted(ctx.oracles):
        if ctx.oracles[asset].breaker is None:
            continue
        # Copy only an oracle whose breaker moves (ticking is pure in time).
        probe = ctx.oracles[asset].copy()
        if probe.tick(ctx.time) is None:
            continue
        transition = ctx.oracle_for_update(asset).tick(ctx.time)
        assert transition is not None
        transitions.append(transition.as_dict())
    if transitions:
        details["breaker"] = transitions
    return details
