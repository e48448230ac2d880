"""The Morpho Blue handlers: supply, withdraw, borrow, repay, collateral, liquidate.

Each handler reaches the engine through its :class:`~marginengine.engine.context.HandlerContext`:
it finds the market's book (``config.morpho``), accrues the market's interest to the
ledger's clock first (as every Morpho entry point calls ``_accrueInterest``), asks the pure
rules of :mod:`marginengine.margin.morpho` and :mod:`marginengine.liquidation.morpho`, and
replaces the book (journalled). A rule's refusal is the event's refusal, with Morpho's own
error string as its code.

The oracle price is built from the engine's prices of the two assets (USD, 8 decimals), as
Morpho's Chainlink oracles do: ``collateral x 10^loan_decimals x 1e36 / (loan x
10^collateral_decimals)``, rounded down. Interest: the market's ``borrow_rate`` (a year)
per second, rounded down; the fee's supply shares go to the account ``fee-recipient``.
"""

from __future__ import annotations

from typing import Any

from marginengine.config import ProtocolConfig
from marginengine.decisions import Refusal
from marginengine.engine.context import HandlerContext
from marginengine.engine.events import (
    MorphoAccrueInterest,
    MorphoBorrow,
    MorphoLiquidate,
    MorphoRepay,
    MorphoSupply,
    MorphoSupplyCollateral,
    MorphoWithdraw,
    MorphoWithdrawCollateral,
)
from marginengine.engine.state import MorphoBook
from marginengine.fixedpoint import WAD
from marginengine.liquidation import morpho as morpho_liquidation
from marginengine.margin import morpho as rules

#: Morpho's ``feeRecipient`` (one per engine).
FEE_RECIPIENT = "fee-recipient"
SECONDS_PER_YEAR = 365 * 86_400


def accrued_book(config: ProtocolConfig, name: str, book: MorphoBook, now: int
                 ) -> tuple[MorphoBook, rules.MarketParams, rules.Accrual]:
    """Market ``name``'s book with its interest accrued to ``now`` (never before its last
    update), the fee's supply shares credited to :data:`FEE_RECIPIENT`; its parameters;
    the accrual. What every handler below starts from (pure: the book is a new value)."""
    cfg = config.morpho[name]
    rate = int(cfg.borrow_rate * WAD) // SECONDS_PER_YEAR
    acc = rules.accrue_interest(book.market, rate, max(now, book.market.last_update))
    positions = dict(book.positions)
    if acc.fee_shares:
        fee = positions.get(FEE_RECIPIENT, rules.Position())
        positions[FEE_RECIPIENT] = rules.Position(supply_shares=fee.supply_shares
                                                  + acc.fee_shares, borrow_shares=0,
                                                  collateral=fee.collateral)
    return (MorphoBook(acc.market, positions), rules.MarketParams(lltv=int(cfg.lltv * WAD)),
            acc)


def _accrued(ctx: HandlerContext, name: str) -> tuple[MorphoBook, rules.MarketParams]:
    book, params, acc = accrued_book(ctx.config, name, ctx.morpho_book(name), ctx.time)
    refusal = rules.accrual_refusal(acc)
    if refusal:
        ctx.refuse_with(refusal)
    if acc.interest:
        ctx.record(interest=acc.interest, fee_shares=acc.fee_shares)
    return book, params


def oracle_price_of(config: ProtocolConfig, name: str, loan_price: int, collateral_price: int
                    ) -> int:
    """Market ``name``'s Morpho oracle price (1e36-scaled) from the engine's prices of its
    loan and collateral assets (USD, 8 decimals; the loan's positive), rounded down."""
    cfg = config.morpho[name]
    loan, coll = config.markets[cfg.loan], config.markets[cfg.collateral]
    loan_unit, coll_unit = int(10**loan.decimals), int(10**coll.decimals)
    numerator = collateral_price * loan_unit * rules.ORACLE_PRICE_SCALE
    return numerator // (loan_price * coll_unit)


def oracle_price(ctx: HandlerContext, name: str, for_liquidation: bool = False) -> int:
    """The market's Morpho oracle price (1e36-scaled), from the engine's two prices."""
    cfg = ctx.config.morpho[name]
    ctx.require_prices([cfg.loan, cfg.collateral], for_liquidation)
    return oracle_price_of(ctx.config, name, ctx.price(cfg.loan), ctx.price(cfg.collateral))


def _set(ctx: HandlerContext, name: str, book: MorphoBook, account: str,
         market: rules.Market, position: rules.Position) -> None:
    positions = dict(book.positions)
    positions[account] = position
    ctx.set_morpho(name, MorphoBook(market, positions))


def _moved(ctx: HandlerContext, result: rules.Moved | Refusal) -> rules.Moved:
    if isinstance(result, Refusal):
        ctx.refuse_with(result)
    return result


def supply(ctx: HandlerContext, e: MorphoSupply) -> dict[str, Any]:
    ctx.account_id(e.account)
    book, _ = _accrued(ctx, e.market)
    m = _moved(ctx, rules.supply(book.market, book.position(e.account), e.assets, e.shares))
    _set(ctx, e.market, book, e.account, m.market, m.position)
    return {"assets": m.assets, "shares": m.shares}


def withdraw(ctx: HandlerContext, e: MorphoWithdraw) -> dict[str, Any]:
    ctx.account_id(e.account)
    book, _ = _accrued(ctx, e.market)
    m = _moved(ctx, rules.withdraw(book.market, book.position(e.account), e.assets, e.shares))
    _set(ctx, e.market, book, e.account, m.market, m.position)
    return {"assets": m.assets, "shares": m.shares}


def borrow(ctx: HandlerContext, e: MorphoBorrow) -> dict[str, Any]:
    ctx.account_id(e.account)
    book, params = _accrued(ctx, e.market)
    price = oracle_price(ctx, e.market)
    m = _moved(ctx, rules.borrow(book.market, book.position(e.account), price, params,
                                 e.assets, e.shares))
    _set(ctx, e.market, book, e.account, m.market, m.position)
    return {"assets": m.assets, "shares": m.shares}


def repay(ctx: HandlerContext, e: MorphoRepay) -> dict[str, Any]:
    ctx.account_id(e.account)
    book, _ = _accrued(ctx, e.market)
    m = _moved(ctx, rules.repay(book.market, book.position(e.account), e.assets, e.shares))
    _set(ctx, e.market, book, e.account, m.market, m.position)
    return {"assets": m.assets, "shares": m.shares}


def supply_collateral(ctx: HandlerContext, e: MorphoSupplyCollateral) -> dict[str, Any]:
    ctx.account_id(e.account)
    # No accrual: Morpho's supplyCollateral skips it ("not required and it saves gas").
    book = ctx.morpho_book(e.market)
    pos = rules.supply_collateral(book.position(e.account), e.assets)
    if isinstance(pos, Refusal):
        ctx.refuse_with(pos)
    _set(ctx, e.market, book, e.account, book.market, pos)
    return {"assets": e.assets}


def withdraw_collateral(ctx: HandlerContext, e: MorphoWithdrawCollateral) -> dict[str, Any]:
    ctx.account_id(e.account)
    book, params = _accrued(ctx, e.market)
    price = oracle_price(ctx, e.market)
    pos = rules.withdraw_collateral(book.market, book.position(e.account), price, params,
                                    e.assets)
    if isinstance(pos, Refusal):
        ctx.refuse_with(pos)
    _set(ctx, e.market, book, e.account, book.market, pos)
    return {"assets": e.assets}


def accrue(ctx: HandlerContext, e: MorphoAccrueInterest) -> dict[str, Any]:
    book, _ = _accrued(ctx, e.market)
    ctx.set_morpho(e.market, book)
    return {}


def liquidate(ctx: HandlerContext, e: MorphoLiquidate) -> dict[str, Any]:
    ctx.account_id(e.liquidator, "liquidator")
    ctx.account_id(e.borrower, "borrower")
    book, params = _accrued(ctx, e.market)
    price = oracle_price(ctx, e.market, for_liquidation=True)
    res = morpho_liquidation.liquidate(book.market, book.position(e.borrower), price, params,
                                       e.seized_assets, e.repaid_shares)
    if isinstance(res, Refusal):
        ctx.refuse_with(res)
    _set(ctx, e.market, book, e.borrower, res.market, res.position)
    return {"repaid_assets": res.repaid_assets, "repaid_shares": res.repaid_shares,
            "seized_assets": res.seized_assets, "bad_debt_assets": res.bad_debt_assets,
            "bad_debt_shares": res.bad_debt_shares,
            "incentive_factor": res.incentive_factor, "oracle_price": price}


__all__ = [
    "FEE_RECIPIENT",
    "accrue",
    "accrued_book",
    "borrow",
    "liquidate",
    "oracle_price",
    "oracle_price_of",
    "repay",
    "supply",
    "supply_collateral",
    "withdraw",
    "withdraw_collateral",
]
