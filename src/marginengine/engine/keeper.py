"""What a keeper asks before it acts: the largest liquidation allowed now, and what a
given ``Liquidate`` would do. Reads only (the engine or a handler's context), through the
same rules the handlers use."""

from __future__ import annotations

from dataclasses import dataclass

from marginengine.config.families import LiquidationMechanism
from marginengine.engine.state import StateReads
from marginengine.fixedpoint import Rounding
from marginengine.liquidation import (
    AbsorbPlan,
    CloseFactorInputs,
    CloseFactorPlan,
    LiquidationRefused,
    absorb_collateral,
    close_factor_inputs,
    plan_absorb,
    plan_liquidation,
)
from marginengine.margin import value_of


@dataclass(frozen=True)
class LiquidationQuote:
    """The largest liquidation a keeper can make on an account right now.

    ``debt_to_cover`` is the amount to offer in a :class:`Liquidate` event to get exactly
    ``plan`` (offering ``plan.debt_repaid`` instead can round to a different plan).
    """

    account: str
    debt_asset: str
    collateral_asset: str
    plan: CloseFactorPlan | None
    absorb: AbsorbPlan | None
    refusal: str | None
    debt_to_cover: int = 0


def liquidation_quote(reads: StateReads, account_id: str) -> LiquidationQuote:
    """The largest liquidation allowed now: its largest debt against its largest
    collateral (close factor), or an absorb (Comet)."""
    config, ledger, prices = reads.config, reads.ledger, reads.prices
    if reads.rules.liquidation is LiquidationMechanism.ABSORB and config.base_asset:
        base = config.base_asset
        if not reads.is_liquidatable(account_id):
            return LiquidationQuote(account_id, base, "", None, None, "not liquidatable")
        absorb = plan_absorb(ledger.debt_of(account_id, base), prices[base],
                             config.markets[base].unit,
                             absorb_collateral(config, ledger, prices, account_id))
        return LiquidationQuote(account_id, base, "*", None, absorb, None)
    pair = liquidation_inputs(reads, account_id)
    if pair is None:
        return LiquidationQuote(account_id, "", "", None, None, "no debt or no collateral")
    debt_asset, coll_asset, inputs = pair
    # Offer the whole debt; if the close factor's cap would leave dust, offer instead
    # what leaves exactly the minimum leftover (v3.3 refuses the former, allows this).
    floor_units = -(-config.aave.min_leftover_base_units * inputs.debt_unit
                    // inputs.debt_price)
    refusal = ""
    for offer in (inputs.debt_balance, inputs.debt_balance - floor_units):
        if offer <= 0:
            break
        try:
            plan = plan_liquidation(inputs, offer, config.aave,
                                    reads.rules.liquidation_rounding)
        except LiquidationRefused as refused:
            refusal = refusal or refused.reason
            continue
        return LiquidationQuote(account_id, debt_asset, coll_asset, plan, None, None, offer)
    return LiquidationQuote(account_id, debt_asset, coll_asset, None, None, refusal)


def liquidation_inputs(reads: StateReads, account_id: str) -> tuple[str, str,
                                                                  CloseFactorInputs] | None:
    """The pair a keeper liquidates (the account's largest debt against its largest
    collateral, by value) and the close-factor rule's inputs for it; ``None`` without
    debt or collateral. Exact reads (no plan)."""
    config, ledger, prices = reads.config, reads.ledger, reads.prices
    debts: list[tuple[int, str]] = []
    colls: list[tuple[int, str]] = []
    balances: dict[str, tuple[int, int]] = {}  # asset: (debt, collateral supply)
    for a in reads.account_assets(account_id):
        debt = ledger.debt_of(account_id, a)
        supply = ledger.supply_of(account_id, a)
        if not ledger.uses_as_collateral(account_id, a):
            supply = 0
        balances[a] = (debt, supply)
        if debt:
            debts.append((debt, a))
        if supply:
            colls.append((supply, a))
    if not debts or not colls:
        return None
    # The largest of each side by value (one candidate needs no valuation).
    debt_asset = debts[0][1] if len(debts) == 1 else max(
        (value_of(d, prices[a], config.markets[a].unit, Rounding.UP), a) for d, a in debts)[1]
    coll_asset = colls[0][1] if len(colls) == 1 else max(
        (value_of(c, prices[a], config.markets[a].unit, Rounding.DOWN), a)
        for c, a in colls)[1]
    data = reads.account_data(account_id)
    return debt_asset, coll_asset, close_factor_inputs(
        config, ledger, prices, account_id, reads.liquidation_health(account_id, data),
        data.total_debt, data.total_collateral, debt_asset, coll_asset,
        balances=(balances[debt_asset][0], balances[coll_asset][1]))


def liquidation_plan(reads: StateReads, account_id: str, debt_asset: str,
                     collateral_asset: str, debt_to_cover: int) -> CloseFactorPlan | None:
    """What ``Liquidate(..., debt_to_cover)`` would do now (``None``: refused, or the
    family does not liquidate by close factor)."""
    if reads.rules.liquidation is not LiquidationMechanism.CLOSE_FACTOR:
        return None
    data = reads.account_data(account_id)
    inputs = close_factor_inputs(reads.config, reads.ledger, reads.prices, account_id,
                                 reads.liquidation_health(account_id, data),
                                 data.total_debt, data.total_collateral,
                                 debt_asset, collateral_asset)
    try:
        return plan_liquidation(inputs, debt_to_cover, reads.config.aave,
                                reads.rules.liquidation_rounding)
    except LiquidationRefused:
        return None


__all__ = ["LiquidationQuote", "liquidation_inputs", "liquidation_plan", "liquidation_quote"]
