"""The Mango v4 handlers: token deposits and withdrawals (borrows), perp fills, stable
prices.

Each handler reaches the engine through its :class:`~marginengine.engine.context.HandlerContext`:
it takes the group's book (``state.family``), computes the account's init health before and
after the action with :mod:`marginengine.margin.mango` (through
:mod:`marginengine.engine.family_state`, which builds Mango's ``TokenInfo`` and
``PerpInfo``) and refuses as ``MangoAccount::check_health_post`` does
(``HealthMustBePositiveOrIncrease``); ``token_withdraw`` without ``allow_borrow`` beyond the
position is ``SomeError`` (programs/mango-v4/src/instructions/token_withdraw.rs).
Liquidation (``token_liq_with_token``, ``perp_liq_base_or_positive_pnl``, ...) is not
modelled: the engine reports liquidatable accounts (maint health below zero).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from marginengine.decisions import Code
from marginengine.engine.context import HandlerContext
from marginengine.engine.events import (
    MangoDeposit,
    MangoPerpOrders,
    MangoPerpTrade,
    MangoSetStablePrice,
    MangoWithdraw,
)
from marginengine.engine.family_state import MangoBook, MangoPerpPosition, mango_health
from marginengine.margin import mango as rules


def _init_health(ctx: HandlerContext, book: MangoBook, account: str) -> int:
    return mango_health(ctx.config, book, ctx.prices, ctx.stable_prices(), account,
                        rules.HealthType.INIT)


def _assets_of(ctx: HandlerContext, book: MangoBook, account: str) -> list[str]:
    cfg = ctx.config.mango
    assert cfg is not None
    held = book.account(account)
    return sorted({*(t for t, b in held.tokens.items() if b), *held.perps,
                   *(cfg.perps[m].settle for m in held.perps)})


def _checked(ctx: HandlerContext, before: MangoBook, after: MangoBook,
             account: str) -> dict[str, Any]:
    """``check_health_post`` on ``account`` from ``before`` to ``after`` (set if allowed)."""
    ctx.require_prices(_assets_of(ctx, after, account) + _assets_of(ctx, before, account))
    pre, post = _init_health(ctx, before, account), _init_health(ctx, after, account)
    refusal = rules.check_health_post(pre, post)
    if refusal is not None:
        ctx.refuse_with(refusal)
    ctx.set_family(after)
    return {"init_health": post}


def _token(ctx: HandlerContext, token: object, field: str = "token") -> str:
    cfg = ctx.config.mango
    assert cfg is not None
    if not isinstance(token, str) or token not in cfg.tokens:
        ctx.refuse(Code.UNKNOWN_ASSET, f"{field}: {token!r} is not a bank of the group "
                   f"(tokens: {', '.join(sorted(cfg.tokens))})", field=field, asset=str(token))
    return token


def deposit(ctx: HandlerContext, e: MangoDeposit) -> dict[str, Any]:
    ctx.account_id(e.account)
    book = ctx.mango_book()
    token = _token(ctx, e.token)
    ctx.positive(e.amount)
    held = book.account(e.account)
    tokens = dict(held.tokens)
    tokens[token] = tokens.get(token, 0) + e.amount
    ctx.set_family(book.with_account(e.account, replace(held, tokens=tokens)))
    return {"position": tokens[token]}


def withdraw(ctx: HandlerContext, e: MangoWithdraw) -> dict[str, Any]:
    ctx.account_id(e.account)
    book = ctx.mango_book()
    token = _token(ctx, e.token)
    ctx.positive(e.amount)
    held = book.account(e.account)
    position = held.tokens.get(token, 0)
    if not e.allow_borrow and e.amount > position:
        ctx.refuse(Code.MANGO_SOME_ERROR, f"withdrawing {e.amount} of a {position} position "
                   "is a borrow and allow_borrow is false", amount=e.amount, position=position)
    tokens = dict(held.tokens)
    tokens[token] = position - e.amount
    details = _checked(ctx, book, book.with_account(e.account, replace(held, tokens=tokens)),
                       e.account)
    return {"position": tokens[token], **details}


def _perp(ctx: HandlerContext, market: str) -> str:
    cfg = ctx.config.mango
    assert cfg is not None
    if market not in cfg.perps:
        ctx.refuse(Code.UNKNOWN_MARKET, f"market: {market!r} is not a perp market of the "
                   f"group (perps: {', '.join(sorted(cfg.perps)) or 'none'})",
                   field="market", market=market)
    return market


def perp_orders(ctx: HandlerContext, e: MangoPerpOrders) -> dict[str, Any]:
    ctx.account_id(e.account)
    book = ctx.mango_book()
    _perp(ctx, e.market)
    for name in ("bids", "asks"):
        if getattr(e, name) < 0:
            ctx.refuse(Code.INVALID_AMOUNT, f"{name}: must not be negative", field=name)
    held = book.account(e.account)
    perps = dict(held.perps)
    perps[e.market] = replace(perps.get(e.market, MangoPerpPosition()), bids=e.bids,
                              asks=e.asks)
    return _checked(ctx, book, book.with_account(e.account, replace(held, perps=perps)),
                    e.account)


def perp_trade(ctx: HandlerContext, e: MangoPerpTrade) -> dict[str, Any]:
    ctx.account_id(e.account)
    book = ctx.mango_book()
    _perp(ctx, e.market)
    if e.base_lots == 0 and e.quote == 0:
        ctx.refuse(Code.INVALID_AMOUNT, "base_lots and quote: a fill moves one of them",
                   field="base_lots")
    held = book.account(e.account)
    pos = held.perps.get(e.market, MangoPerpPosition())
    perps = dict(held.perps)
    perps[e.market] = replace(pos, base_lots=pos.base_lots + e.base_lots,
                              quote=pos.quote + e.quote)
    details = _checked(ctx, book, book.with_account(e.account, replace(held, perps=perps)),
                       e.account)
    return {"base_lots": perps[e.market].base_lots, "quote": perps[e.market].quote,
            **details}


def set_stable_price(ctx: HandlerContext, e: MangoSetStablePrice) -> dict[str, Any]:
    book = ctx.mango_book()
    cfg = ctx.config.mango
    assert cfg is not None
    if e.asset not in cfg.tokens and e.asset not in cfg.perps:
        ctx.refuse(Code.UNKNOWN_ASSET, f"asset: {e.asset!r} is neither a bank nor a perp "
                   "market of the group", field="asset", asset=e.asset)
    ctx.positive(e.price, "price")
    stable = dict(book.stable)
    previous = stable.get(e.asset)
    stable[e.asset] = e.price
    ctx.set_family(MangoBook(book.accounts, stable))
    return {"previous": previous}


__all__ = ["deposit", "perp_orders", "perp_trade", "set_stable_price", "withdraw"]
