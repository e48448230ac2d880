"""The Liquity v1 handlers: troves, the stability pool, liquidations.

Each handler reaches the engine through its :class:`~marginengine.engine.context.HandlerContext`:
it takes the system (``state.liquity``), Liquity's price, asks the pure operations of
:mod:`marginengine.liquidation.liquity_system` (over the rules of
:mod:`marginengine.margin.liquity` and :mod:`marginengine.liquidation.liquity`) and replaces
the system (journalled). A refusal is the event's refusal, with Liquity's require string as
its code.

Liquity's price is the engine's USD price of ``config.liquity.collateral`` (8 decimals)
times 1e10: Liquity's PriceFeed reports ETH/USD with 18 decimals, and LUSD counts as 1 USD.
"""

from __future__ import annotations

from typing import Any

from marginengine.decisions import Code, Refusal
from marginengine.engine.context import HandlerContext
from marginengine.engine.events import (
    LiquityAdjustTrove,
    LiquityBatchLiquidate,
    LiquityCloseTrove,
    LiquityLiquidate,
    LiquityLiquidateTroves,
    LiquityOpenTrove,
    LiquityProvideToSP,
    LiquityRedeemCollateral,
    LiquityWithdrawFromSP,
)
from marginengine.fixedpoint import PRICE_DECIMALS
from marginengine.liquidation import liquity_system as ops
from marginengine.liquidation.liquity import LiquidationTotals
from marginengine.margin import liquity as rules

#: Liquity's prices have 18 decimals; the engine's 8.
PRICE_SCALE: int = 10 ** (18 - PRICE_DECIMALS)


def liquity_price(ctx: HandlerContext, for_liquidation: bool = False) -> int:
    """Liquity's ETH price (18 decimals) from the engine's price of the collateral."""
    cfg = ctx.config.liquity
    assert cfg is not None   # the family's events are accepted only with a [liquity] table
    ctx.require_prices([cfg.collateral], for_liquidation)
    return ctx.price(cfg.collateral) * PRICE_SCALE


def _within_uint256(ctx: HandlerContext, event: object, fields: tuple[str, ...]) -> None:
    """Liquity's amounts are uint256 (ETH, LUSD, fees): a larger one cannot be sent (was
    accepted: a trove of 2**300 wei). The sign is the rules' (their own refusals)."""
    for name in fields:
        ctx.within_uint256(getattr(event, name), name)


def _ok(ctx: HandlerContext, result: Any) -> Any:
    if isinstance(result, Refusal):
        ctx.refuse_with(result)
    return result


def _trove(ch: ops.TroveChange, price: int) -> dict[str, Any]:
    return {"fee": ch.fee, "coll": ch.coll, "debt": ch.debt,
            "icr": rules.compute_cr(ch.coll, ch.debt, price) if ch.debt else None,
            "tcr": ch.system.tcr(price)}


def open_trove(ctx: HandlerContext, e: LiquityOpenTrove) -> dict[str, Any]:
    ctx.account_id(e.account)
    _within_uint256(ctx, e, ("coll", "lusd_amount", "max_fee"))
    system = ctx.liquity_system()
    price = liquity_price(ctx)
    ch: ops.TroveChange = _ok(ctx, ops.open_trove(system, e.account, e.coll, e.lusd_amount,
                                                   price, e.max_fee, ctx.time))
    ctx.set_liquity(ch.system)
    return _trove(ch, price)


def adjust_trove(ctx: HandlerContext, e: LiquityAdjustTrove) -> dict[str, Any]:
    ctx.account_id(e.account)
    _within_uint256(ctx, e, ("coll_deposit", "coll_withdrawal", "lusd_change", "max_fee"))
    system = ctx.liquity_system()
    price = liquity_price(ctx)
    ch: ops.TroveChange = _ok(ctx, ops.adjust_trove(
        system, e.account, price, e.coll_deposit, e.coll_withdrawal, e.lusd_change,
        e.is_debt_increase, e.max_fee, ctx.time))
    ctx.set_liquity(ch.system)
    return _trove(ch, price)


def close_trove(ctx: HandlerContext, e: LiquityCloseTrove) -> dict[str, Any]:
    ctx.account_id(e.account)
    system = ctx.liquity_system()
    price = liquity_price(ctx)
    whole = system.entire(e.account) if e.account in system.troves else None
    ch: ops.TroveChange = _ok(ctx, ops.close_trove(system, e.account, price))
    ctx.set_liquity(ch.system)
    assert whole is not None
    # The borrower repays the net debt; the 200 LUSD reserve is burned from the gas pool.
    return {"coll_returned": whole.coll,
            "lusd_repaid": whole.debt - rules.LUSD_GAS_COMPENSATION,
            "tcr": ch.system.tcr(price)}


def provide_to_sp(ctx: HandlerContext, e: LiquityProvideToSP) -> dict[str, Any]:
    ctx.account_id(e.account)
    _within_uint256(ctx, e, ("amount",))
    ch: ops.PoolChange = _ok(ctx, ops.provide_to_sp(ctx.liquity_system(), e.account,
                                                    e.amount))
    ctx.set_liquity(ch.system)
    return {"eth_gain_paid": ch.eth_paid, "deposit": ch.deposit,
            "total_deposits": ch.system.pool.total_deposits}


def withdraw_from_sp(ctx: HandlerContext, e: LiquityWithdrawFromSP) -> dict[str, Any]:
    ctx.account_id(e.account)
    _within_uint256(ctx, e, ("amount",))
    system = ctx.liquity_system()
    price = liquity_price(ctx)
    ch: ops.PoolChange = _ok(ctx, ops.withdraw_from_sp(system, e.account, e.amount, price))
    ctx.set_liquity(ch.system)
    return {"eth_gain_paid": ch.eth_paid, "withdrawn": -ch.lusd_moved,
            "deposit": ch.deposit, "total_deposits": ch.system.pool.total_deposits}


def _liquidation(ctx: HandlerContext, result: ops.Liquidation | Refusal, price: int
                 ) -> dict[str, Any]:
    res: ops.Liquidation = _ok(ctx, result)
    ctx.set_liquity(res.system)
    t: LiquidationTotals = res.totals
    return {"recovery_mode": t.recovery_mode_at_start,
            "liquidated": [
                {"trove": tid, "debt": v.entire_debt, "coll": v.entire_coll,
                 "debt_to_offset": v.debt_to_offset, "coll_to_sp": v.coll_to_send_to_sp,
                 "debt_to_redistribute": v.debt_to_redistribute,
                 "coll_to_redistribute": v.coll_to_redistribute,
                 "coll_surplus": v.coll_surplus,
                 "coll_gas_compensation": v.coll_gas_compensation,
                 "lusd_gas_compensation": v.lusd_gas_compensation}
                for tid, v in t.liquidated],
            "debt_to_offset": t.debt_to_offset, "debt_to_redistribute": t.debt_to_redistribute,
            "coll_gas_compensation": t.coll_gas_compensation,
            "lusd_gas_compensation": t.lusd_gas_compensation, "price": price,
            "tcr": res.system.tcr(price)}


def liquidate(ctx: HandlerContext, e: LiquityLiquidate) -> dict[str, Any]:
    ctx.account_id(e.liquidator, "liquidator")
    ctx.account_id(e.borrower, "borrower")
    system = ctx.liquity_system()
    price = liquity_price(ctx, for_liquidation=True)
    return _liquidation(ctx, ops.liquidate(system, e.borrower, price), price)


def liquidate_troves(ctx: HandlerContext, e: LiquityLiquidateTroves) -> dict[str, Any]:
    ctx.account_id(e.liquidator, "liquidator")
    if e.n <= 0:
        ctx.refuse(Code.INVALID_ARGUMENT, f"n: must be positive (got {e.n})", n=e.n)
    system = ctx.liquity_system()
    price = liquity_price(ctx, for_liquidation=True)
    return _liquidation(ctx, ops.liquidate_troves(system, e.n, price), price)


def batch_liquidate(ctx: HandlerContext, e: LiquityBatchLiquidate) -> dict[str, Any]:
    ctx.account_id(e.liquidator, "liquidator")
    borrowers = [b.strip() for b in e.borrowers.split(",") if b.strip()]
    for b in borrowers:
        ctx.account_id(b, "borrowers")
    system = ctx.liquity_system()
    price = liquity_price(ctx, for_liquidation=True)
    return _liquidation(ctx, ops.batch_liquidate(system, borrowers, price), price)


def redeem_collateral(ctx: HandlerContext, e: LiquityRedeemCollateral) -> dict[str, Any]:
    ctx.account_id(e.account)
    _within_uint256(ctx, e, ("lusd_amount", "max_fee", "max_iterations"))
    system = ctx.liquity_system()
    price = liquity_price(ctx)
    r: ops.Redemption = _ok(ctx, ops.redeem_collateral(
        system, e.lusd_amount, price, ctx.time, e.max_iterations, e.max_fee))
    ctx.set_liquity(r.system)
    return {"lusd_redeemed": r.lusd_redeemed, "eth_drawn": r.eth_drawn,
            "eth_fee": r.eth_fee, "eth_to_redeemer": r.eth_drawn - r.eth_fee,
            "redeemed": [{"trove": tid, "lusd": lusd, "eth": eth, "closed": closed}
                         for tid, lusd, eth, closed in r.redeemed],
            "base_rate": r.system.base_rate, "tcr": r.system.tcr(price)}


__all__ = [
    "PRICE_SCALE",
    "adjust_trove",
    "batch_liquidate",
    "close_trove",
    "liquidate",
    "liquidate_troves",
    "liquity_price",
    "open_trove",
    "provide_to_sp",
    "redeem_collateral",
    "withdraw_from_sp",
]
