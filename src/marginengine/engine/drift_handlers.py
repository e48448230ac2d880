"""The Drift v2 handlers: spot deposits and withdrawals (borrows), perp fills, and the
spot liquidation that transfers the liability covering a margin shortage.

Each handler reaches the engine through its :class:`~marginengine.engine.context.HandlerContext`:
it takes the exchange's book (``state.family``), asks the pure rules of
:mod:`marginengine.margin.drift` (``margin_calculation``, the weights) and
:mod:`marginengine.liquidation.drift` (the transfer sizing) through
:mod:`marginengine.engine.family_state`, and replaces the book (journalled). Refusals carry
Drift's ``ErrorCode`` names (programs/drift/src/error.rs): a withdrawal or fill that leaves
the initial requirement unmet is ``InsufficientCollateral`` (``meets_withdraw_margin_
requirement``, ``meets_place_order_margin_requirement``); liquidating an account that meets
its maintenance requirement is ``SufficientCollateral``; a liquidator left below its
initial requirement is ``InsufficientCollateral`` ("Liquidator doesnt have enough
collateral to take over borrow", ``controller/liquidation.rs``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from marginengine.decisions import Code
from marginengine.engine.context import HandlerContext
from marginengine.engine.events import (
    DriftDeposit,
    DriftLiquidateSpot,
    DriftPerpTrade,
    DriftWithdraw,
)
from marginengine.engine.family_state import (
    DriftBook,
    drift_margin,
    drift_price,
    drift_spot_market,
)
from marginengine.liquidation import drift as liquidation
from marginengine.margin import drift as rules

INITIAL = rules.MarginRequirementType.INITIAL
MAINTENANCE = rules.MarginRequirementType.MAINTENANCE


def _assets(ctx: HandlerContext, book: DriftBook, account: str) -> list[str]:
    held = book.account(account)
    return sorted({*(m for m, a in held.spot.items() if a),
                   *(m for m, p in held.perps.items() if any(p))})


def _require_initial(ctx: HandlerContext, book: DriftBook, account: str,
                     who: str = "") -> None:
    ctx.require_prices(_assets(ctx, book, account))
    calc = drift_margin(ctx.config, book, ctx.prices, account, INITIAL)
    if not calc.meets:
        name = f"{who} {account}" if who else account
        ctx.refuse(Code.DRIFT_INSUFFICIENT_COLLATERAL,
                   f"insufficient collateral: {name} would have a total collateral of "
                   f"{calc.total_collateral} against an initial margin requirement of "
                   f"{calc.margin_requirement} (quote, 1e6)", account=account,
                   total_collateral=calc.total_collateral,
                   margin_requirement=calc.margin_requirement)


def _spot(ctx: HandlerContext, market: object, field: str = "market") -> str:
    cfg = ctx.config.drift
    assert cfg is not None
    if not isinstance(market, str) or market not in cfg.spot:
        ctx.refuse(Code.UNKNOWN_MARKET, f"{field}: {market!r} is not a spot market "
                   f"(spot: {', '.join(sorted(cfg.spot))})", field=field, market=str(market))
    return market


def _moved(book: DriftBook, account: str, market: str, change: int) -> DriftBook:
    held = book.account(account)
    spot = dict(held.spot)
    spot[market] = spot.get(market, 0) + change
    return book.with_account(account, replace(held, spot=spot))


def deposit(ctx: HandlerContext, e: DriftDeposit) -> dict[str, Any]:
    ctx.account_id(e.account)
    book = ctx.drift_book()
    market = _spot(ctx, e.market)
    ctx.positive(e.amount)
    after = _moved(book, e.account, market, e.amount)
    ctx.set_family(after)
    return {"balance": after.account(e.account).spot[market]}


def withdraw(ctx: HandlerContext, e: DriftWithdraw) -> dict[str, Any]:
    ctx.account_id(e.account)
    book = ctx.drift_book()
    market = _spot(ctx, e.market)
    ctx.positive(e.amount)
    after = _moved(book, e.account, market, -e.amount)
    _require_initial(ctx, after, e.account)
    ctx.set_family(after)
    return {"balance": after.account(e.account).spot[market]}


def perp_trade(ctx: HandlerContext, e: DriftPerpTrade) -> dict[str, Any]:
    ctx.account_id(e.account)
    book = ctx.drift_book()
    cfg = ctx.config.drift
    assert cfg is not None
    if e.market not in cfg.perps:
        ctx.refuse(Code.UNKNOWN_MARKET, f"market: {e.market!r} is not a perp market "
                   f"(perps: {', '.join(sorted(cfg.perps)) or 'none'})",
                   field="market", market=e.market)
    if e.base == 0 and e.quote == 0:
        ctx.refuse(Code.INVALID_AMOUNT, "base and quote: a fill moves one of them",
                   field="base")
    held = book.account(e.account)
    base, quote = held.perps.get(e.market, (0, 0))
    perps = dict(held.perps)
    perps[e.market] = (base + e.base, quote + e.quote)
    after = book.with_account(e.account, replace(held, perps=perps))
    _require_initial(ctx, after, e.account)
    ctx.set_family(after)
    return {"base": perps[e.market][0], "quote": perps[e.market][1]}


def liquidate_spot(ctx: HandlerContext, e: DriftLiquidateSpot) -> dict[str, Any]:
    ctx.account_id(e.liquidator, "liquidator")
    ctx.account_id(e.account)
    if e.liquidator == e.account:
        ctx.refuse(Code.DRIFT_USER_CANT_LIQUIDATE_THEMSELF, "an account cannot liquidate itself")
    book = ctx.drift_book()
    cfg = ctx.config.drift
    assert cfg is not None
    asset = _spot(ctx, e.asset_market, "asset_market")
    liab = _spot(ctx, e.liability_market, "liability_market")
    ctx.require_prices([*_assets(ctx, book, e.account), asset, liab], for_liquidation=True)
    calc = drift_margin(ctx.config, book, ctx.prices, e.account, MAINTENANCE)
    if calc.meets:
        ctx.refuse(Code.DRIFT_SUFFICIENT_COLLATERAL,
                   f"{e.account} meets its maintenance margin requirement (total collateral "
                   f"{calc.total_collateral} >= {calc.margin_requirement})",
                   total_collateral=calc.total_collateral,
                   margin_requirement=calc.margin_requirement)
    held = book.account(e.account)
    asset_amount, liab_amount = held.spot.get(asset, 0), -held.spot.get(liab, 0)
    if asset_amount <= 0 or liab_amount <= 0:
        ctx.refuse(Code.DRIFT_INVALID_SPOT_POSITION,
                   f"{e.account} needs a deposit of {asset} and a borrow of {liab} "
                   f"(has {held.spot.get(asset, 0)} and {held.spot.get(liab, 0)})",
                   asset_amount=held.spot.get(asset, 0), liability_amount=-liab_amount)
    a_market, l_market = drift_spot_market(ctx.config, asset), drift_spot_market(ctx.config,
                                                                                 liab)
    a_price, l_price = drift_price(ctx.prices, asset), drift_price(ctx.prices, liab)
    one = liquidation.LIQUIDATION_FEE_PRECISION
    a_mult = one + cfg.spot[asset].scaled("liquidator_fee")
    l_mult = one - cfg.spot[liab].scaled("liquidator_fee")
    shortage = calc.margin_requirement - calc.total_collateral
    to_cover = liquidation.liability_transfer_to_cover_margin_shortage(
        shortage, a_market.asset_weight(asset_amount, a_price, MAINTENANCE), a_mult,
        l_market.liability_weight(liab_amount, MAINTENANCE), l_mult, l_market.decimals,
        l_price, 0)
    implied = liquidation.liability_transfer_implied_by_asset_amount(
        asset_amount, a_mult, a_market.decimals, a_price, l_mult, l_market.decimals, l_price)
    transfer = min(to_cover, liab_amount, implied)
    if e.max_liability_transfer != -1:
        transfer = min(transfer, ctx.positive(e.max_liability_transfer,
                                              "max_liability_transfer"))
    asset_transfer = min(asset_amount, liquidation.asset_transfer_for_liability_transfer(
        asset_amount, a_mult, a_market.decimals, a_price, transfer, l_mult,
        l_market.decimals, l_price))
    after = _moved(_moved(book, e.account, liab, transfer), e.account, asset, -asset_transfer)
    after = _moved(_moved(after, e.liquidator, liab, -transfer), e.liquidator, asset,
                   asset_transfer)
    _require_initial(ctx, after, e.liquidator, "liquidator")
    ctx.set_family(after)
    return {"liability_transfer": transfer, "asset_transfer": asset_transfer,
            "margin_shortage": shortage, "to_cover": to_cover}


__all__ = ["deposit", "liquidate_spot", "perp_trade", "withdraw"]
