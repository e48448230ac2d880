"""The Euler v2 handlers: the vault's deposits and withdrawals, collateral, borrow, repay,
governance ``setLTV`` (with its ramp) and ``liquidate``.

Each handler reaches the engine through its :class:`~marginengine.engine.context.HandlerContext`:
it takes the book (``state.family``), asks the pure rules of :mod:`marginengine.margin.euler`
(``checkLiquidity``, ``setLTV``) and :mod:`marginengine.liquidation.euler` (``liquidate``,
the vault's share conversions) and replaces the book (journalled). A refusal is the
event's refusal with the EVK's custom error as its code (``E_AccountLiquidity``, ...;
euler-xyz/euler-vault-kit ``src/EVault/shared/Errors.sol``).

The account status check (``checkAccountStatus`` -> ``checkLiquidity``) runs right after
the action, as the EVC runs it at the end of a batch of one call. Prices: see
:mod:`marginengine.engine.family_state` (the engine's USD prices as Euler quotes).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from marginengine.decisions import Code, Refusal
from marginengine.engine.context import HandlerContext
from marginengine.engine.events import (
    EulerBorrow,
    EulerDeposit,
    EulerDepositCollateral,
    EulerLiquidate,
    EulerRepay,
    EulerSetLTV,
    EulerWithdraw,
    EulerWithdrawCollateral,
)
from marginengine.engine.family_state import (
    EulerBook,
    euler_collaterals,
    euler_price,
)
from marginengine.liquidation import euler as euler_liquidation
from marginengine.margin import euler as rules


def _cfg_vault(ctx: HandlerContext) -> str:
    cfg = ctx.config.euler
    assert cfg is not None  # the family's events are accepted only with an [euler] table
    return cfg.vault


def _collateral(ctx: HandlerContext, book: EulerBook, asset: object,
                field: str = "asset") -> str:
    if not isinstance(asset, str) or asset not in book.ltvs:
        ctx.refuse(Code.EULER_BAD_COLLATERAL, f"{field}: {asset!r} is not a collateral of "
                   f"the vault (collaterals: {', '.join(sorted(book.ltvs))})",
                   field=field, asset=str(asset))
    return asset


def _status_check(ctx: HandlerContext, book: EulerBook, account: str) -> EulerBook:
    """``checkLiquidity`` on ``account`` in ``book`` (nothing to check without debt); the
    book with the account's last successful check at the ledger's time when the vault has
    a liquidation cool-off (the EVC records it for ``isInLiquidationCoolOff``)."""
    held = book.account(account)
    if held.debt:
        vault = _cfg_vault(ctx)
        ctx.require_prices([vault, *held.collateral])
        refusal = rules.check_liquidity(
            euler_collaterals(ctx.config, book, ctx.prices, account), held.debt,
            euler_price(ctx.config, ctx.prices, vault), ctx.time)
        if refusal is not None:
            ctx.refuse_with(Refusal(refusal.code, f"{account}: {refusal.message}",
                                    {"account": account, **refusal.data}))
    cfg = ctx.config.euler
    if cfg is not None and cfg.liquidation_cool_off_time:
        book = book.with_account(account, replace(held, last_status_check=ctx.time))
    return book


def deposit(ctx: HandlerContext, e: EulerDeposit) -> dict[str, Any]:
    ctx.account_id(e.account)
    ctx.positive(e.assets, "assets")
    book = ctx.euler_book()
    v = book.vault
    shares = v.convert_to_shares(e.assets)
    if shares == 0:
        ctx.refuse(Code.EULER_ZERO_SHARES, f"{e.assets} assets buy no shares", assets=e.assets)
    held = book.account(e.account)
    refusal = rules.amount_refusal({"assets": e.assets, "cash": v.cash + e.assets,
                                    "shares": held.shares + shares,
                                    "total_shares": v.total_shares + shares})
    if refusal:
        ctx.refuse_with(refusal)
    ctx.set_family(book.with_account(
        e.account, replace(held, shares=held.shares + shares),
        replace(v, cash=v.cash + e.assets, total_shares=v.total_shares + shares)))
    return {"assets": e.assets, "shares": shares}


def withdraw(ctx: HandlerContext, e: EulerWithdraw) -> dict[str, Any]:
    ctx.account_id(e.account)
    ctx.positive(e.assets, "assets")
    book = ctx.euler_book()
    v = book.vault
    held = book.account(e.account)
    shares = v.convert_to_shares(e.assets, up=True)
    # finalizeWithdraw: the vault's cash first (E_InsufficientCash), then the balance.
    if e.assets > v.cash:
        ctx.refuse(Code.EULER_INSUFFICIENT_CASH,
                   f"the vault holds {ctx.units(_cfg_vault(ctx), v.cash)} of cash",
                   assets=e.assets, cash=v.cash)
    if shares > held.shares:
        ctx.refuse(Code.EULER_INSUFFICIENT_BALANCE, f"{e.account} holds {held.shares} shares, "
                   f"{shares} needed", shares=shares, balance=held.shares)
    ctx.set_family(book.with_account(
        e.account, replace(held, shares=held.shares - shares),
        replace(v, cash=v.cash - e.assets, total_shares=v.total_shares - shares)))
    return {"assets": e.assets, "shares": shares}


def deposit_collateral(ctx: HandlerContext, e: EulerDepositCollateral) -> dict[str, Any]:
    ctx.account_id(e.account)
    book = ctx.euler_book()
    asset = _collateral(ctx, book, e.asset)
    ctx.positive(e.amount)
    held = book.account(e.account)
    balances = dict(held.collateral)
    balances[asset] = balances.get(asset, 0) + e.amount
    ctx.set_family(book.with_account(e.account, replace(held, collateral=balances)))
    return {"amount": e.amount}


def withdraw_collateral(ctx: HandlerContext, e: EulerWithdrawCollateral) -> dict[str, Any]:
    ctx.account_id(e.account)
    book = ctx.euler_book()
    asset = _collateral(ctx, book, e.asset)
    ctx.positive(e.amount)
    held = book.account(e.account)
    balance = held.collateral.get(asset, 0)
    if e.amount > balance:
        ctx.refuse(Code.EULER_INSUFFICIENT_BALANCE, f"{e.account} holds {balance} of {asset}",
                   amount=e.amount, balance=balance)
    balances = dict(held.collateral)
    balances[asset] = balance - e.amount
    after = book.with_account(e.account, replace(held, collateral=balances))
    ctx.set_family(_status_check(ctx, after, e.account))
    return {"amount": e.amount}


def borrow(ctx: HandlerContext, e: EulerBorrow) -> dict[str, Any]:
    ctx.account_id(e.account)
    ctx.positive(e.assets, "assets")
    book = ctx.euler_book()
    v = book.vault
    if e.assets > v.cash:
        ctx.refuse(Code.EULER_INSUFFICIENT_CASH,
                   f"the vault holds {ctx.units(_cfg_vault(ctx), v.cash)} of cash",
                   assets=e.assets, cash=v.cash)
    held = book.account(e.account)
    refusal = rules.amount_refusal({"assets": e.assets}, {
        "debt": held.debt + e.assets, "total_borrows": v.total_borrows + e.assets})
    if refusal:
        ctx.refuse_with(refusal)
    after = book.with_account(e.account, replace(held, debt=held.debt + e.assets),
                              replace(v, cash=v.cash - e.assets,
                                      total_borrows=v.total_borrows + e.assets))
    ctx.set_family(_status_check(ctx, after, e.account))
    return {"assets": e.assets, "debt": held.debt + e.assets}


def repay(ctx: HandlerContext, e: EulerRepay) -> dict[str, Any]:
    ctx.account_id(e.account)
    book = ctx.euler_book()
    held = book.account(e.account)
    assets = held.debt if e.assets == -1 else ctx.positive(e.assets, "assets")
    if assets > held.debt:
        ctx.refuse(Code.EULER_REPAY_TOO_MUCH, f"{e.account} owes {held.debt}",
                   assets=assets, debt=held.debt)
    v = book.vault
    refusal = rules.amount_refusal({"cash": v.cash + assets})
    if refusal:
        ctx.refuse_with(refusal)
    ctx.set_family(book.with_account(
        e.account, replace(held, debt=held.debt - assets),
        replace(v, cash=v.cash + assets, total_borrows=v.total_borrows - assets)))
    return {"assets": assets, "debt": held.debt - assets}


def set_ltv(ctx: HandlerContext, e: EulerSetLTV) -> dict[str, Any]:
    book = ctx.euler_book()
    asset = _collateral(ctx, book, e.collateral, "collateral")
    # A zero target timestamp would mean "not a recognized collateral": the clock starts
    # at 1 for Euler (a block timestamp is never 0).
    cfg = rules.set_ltv(book.ltvs[asset], e.borrow_ltv, e.liquidation_ltv, e.ramp_duration,
                        max(ctx.time, 1))
    if isinstance(cfg, Refusal):
        ctx.refuse_with(cfg)
    ltvs = dict(book.ltvs)
    ltvs[asset] = cfg
    ctx.set_family(EulerBook(book.vault, ltvs, book.accounts, book.socialized))
    return {"borrow_ltv": cfg.borrow_ltv, "liquidation_ltv": cfg.liquidation_ltv,
            "initial_liquidation_ltv": cfg.initial_liquidation_ltv,
            "target_timestamp": cfg.target_timestamp}


def liquidate(ctx: HandlerContext, e: EulerLiquidate) -> dict[str, Any]:
    ctx.account_id(e.liquidator, "liquidator")
    ctx.account_id(e.violator, "violator")
    book = ctx.euler_book()
    cfg = ctx.config.euler
    assert cfg is not None
    violator = book.account(e.violator)
    ctx.require_prices([cfg.vault, *violator.collateral], for_liquidation=True)
    debt_price = euler_price(ctx.config, ctx.prices, cfg.vault)
    res = euler_liquidation.liquidate(
        euler_collaterals(ctx.config, book, ctx.prices, e.violator), e.collateral,
        violator.debt, debt_price, cfg.max_liquidation_discount_scaled, ctx.time,
        repay_assets=None if e.repay_assets == -1 else e.repay_assets,
        min_yield_balance=e.min_yield_balance, socialize_debt=cfg.socialize_debt,
        self_liquidation=e.liquidator == e.violator,
        last_status_check=violator.last_status_check,
        cool_off_time=cfg.liquidation_cool_off_time)
    if isinstance(res, Refusal):
        ctx.refuse_with(res)
    v = book.vault.socialize(res.socialized)
    balances = {c.asset: c.balance for c in res.collaterals}
    book = book.with_account(e.violator, replace(violator, debt=res.violator_debt,
                                                 collateral=balances), v)
    taker = book.account(e.liquidator)
    taken = dict(taker.collateral)
    if res.yield_balance:
        taken[e.collateral] = taken.get(e.collateral, 0) + res.yield_balance
    if e.repay:
        # The liquidator repays the debt it took over in the same EVC batch.
        book = book.with_account(e.liquidator, replace(taker, collateral=taken),
                                 replace(v, cash=v.cash + res.repay,
                                         total_borrows=v.total_borrows - res.repay))
    else:
        book = book.with_account(e.liquidator, replace(taker, collateral=taken,
                                                       debt=taker.debt + res.repay))
        book = _status_check(ctx, book, e.liquidator)
    ctx.set_family(EulerBook(book.vault, book.ltvs, book.accounts,
                             book.socialized + res.socialized))
    return {"repay": res.repay, "yield": res.yield_balance, "socialized": res.socialized,
            "violator_debt": res.violator_debt}


__all__ = [
    "borrow",
    "deposit",
    "deposit_collateral",
    "liquidate",
    "repay",
    "set_ltv",
    "withdraw",
    "withdraw_collateral",
]
