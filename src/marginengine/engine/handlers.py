"""The one table of handlers: each event type and the function that applies it.

A handler is ``handler(ctx, event) -> details``: it reaches the engine only through the
:class:`~marginengine.engine.context.HandlerContext` it is given. Families of products
(lending, perps, Morpho, options, auctions) each have their module; which events a protocol
accepts is its rule family's choice (``config.rules.events``), checked by the core.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from marginengine.engine import (
    auction_handlers,
    governance_handlers,
    lending_handlers,
    liquity_handlers,
    market_handlers,
    morpho_handlers,
    option_handlers,
    perp_handlers,
)
from marginengine.engine.context import HandlerContext
from marginengine.engine.events import (
    Absorb,
    AdvanceTime,
    Bark,
    Borrow,
    BuyCollateral,
    Deal,
    Dent,
    Deposit,
    DepositOptionCash,
    DepositQuote,
    Event,
    FundInsurance,
    Liquidate,
    LiquidatePerp,
    LiquityAdjustTrove,
    LiquityBatchLiquidate,
    LiquityCloseTrove,
    LiquityLiquidate,
    LiquityLiquidateTroves,
    LiquityOpenTrove,
    LiquityProvideToSP,
    LiquityWithdrawFromSP,
    MorphoAccrueInterest,
    MorphoBorrow,
    MorphoLiquidate,
    MorphoRepay,
    MorphoSupply,
    MorphoSupplyCollateral,
    MorphoWithdraw,
    MorphoWithdrawCollateral,
    Redo,
    Repay,
    SetConditions,
    SetCrowding,
    SetPrice,
    SetRiskParams,
    SetSequencer,
    SettleOption,
    SetVolSurface,
    Take,
    Tend,
    Tick,
    Trade,
    TradeOption,
    TransferQuote,
    Withdraw,
    WithdrawOptionCash,
    WithdrawQuote,
)

Handler = Callable[[HandlerContext, Any], dict[str, Any]]

HANDLERS: dict[type[Event], Handler] = {
    # market inputs
    SetPrice: market_handlers.set_price,
    SetConditions: market_handlers.set_conditions,
    SetSequencer: market_handlers.set_sequencer,
    AdvanceTime: market_handlers.advance_time,
    # governance
    SetRiskParams: governance_handlers.set_risk_params,
    SetCrowding: governance_handlers.set_crowding,
    # lending
    Deposit: lending_handlers.deposit,
    Withdraw: lending_handlers.withdraw,
    Borrow: lending_handlers.borrow,
    Repay: lending_handlers.repay,
    Liquidate: lending_handlers.liquidate,
    Absorb: lending_handlers.absorb,
    BuyCollateral: lending_handlers.buy_collateral,
    # perps
    DepositQuote: perp_handlers.deposit_quote,
    WithdrawQuote: perp_handlers.withdraw_quote,
    TransferQuote: perp_handlers.transfer_quote,
    Trade: perp_handlers.trade,
    LiquidatePerp: perp_handlers.liquidate_perp,
    FundInsurance: perp_handlers.fund_insurance,
    # Morpho Blue isolated markets
    MorphoSupply: morpho_handlers.supply,
    MorphoWithdraw: morpho_handlers.withdraw,
    MorphoBorrow: morpho_handlers.borrow,
    MorphoRepay: morpho_handlers.repay,
    MorphoSupplyCollateral: morpho_handlers.supply_collateral,
    MorphoWithdrawCollateral: morpho_handlers.withdraw_collateral,
    MorphoLiquidate: morpho_handlers.liquidate,
    MorphoAccrueInterest: morpho_handlers.accrue,
    # Liquity v1 troves and stability pool
    LiquityOpenTrove: liquity_handlers.open_trove,
    LiquityAdjustTrove: liquity_handlers.adjust_trove,
    LiquityCloseTrove: liquity_handlers.close_trove,
    LiquityProvideToSP: liquity_handlers.provide_to_sp,
    LiquityWithdrawFromSP: liquity_handlers.withdraw_from_sp,
    LiquityLiquidate: liquity_handlers.liquidate,
    LiquityLiquidateTroves: liquity_handlers.liquidate_troves,
    LiquityBatchLiquidate: liquity_handlers.batch_liquidate,
    # options (the clearing in the engine state, PMRM_2 pre-trade checks)
    DepositOptionCash: option_handlers.deposit_option_cash,
    WithdrawOptionCash: option_handlers.withdraw_option_cash,
    TradeOption: option_handlers.trade_option,
    SettleOption: option_handlers.settle_option,
    SetVolSurface: option_handlers.set_vol_surface,
    # auctions
    Bark: auction_handlers.bark,
    Take: auction_handlers.take,
    Redo: auction_handlers.redo,
    Tend: auction_handlers.tend,
    Dent: auction_handlers.dent,
    Deal: auction_handlers.deal,
    Tick: auction_handlers.tick,
}

__all__ = ["HANDLERS", "Handler"]
