"""What a keeper asks before it acts: the largest liquidation allowed now, and what a
given ``Liquidate`` would do. Reads only (the engine or a handler's context), through the
same rules the handlers use."""

from __future__ import annotations

from dataclasses import dataclass

from marginengine.config.families import LiquidationMechanism
from marginengine.decisions import Refusal
from marginengine.engine.state import StateReads
from marginengine.errors import FieldError
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
    quote_offers,
)
from marginengine.margin import value_of
from marginengine.margin.reserve_flags import validate_liquidation_flags
from marginengine.margin.validation import (
    validate_liquidation_grace,
    validate_sentinel_liquidation,
)


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
    paused = _pause_refusal(reads, account_id, debt_asset, coll_asset)
    if paused is not None:
        return LiquidationQuote(account_id, debt_asset, coll_asset, None, None, paused)
    # The offers of the largest liquidation, largest first (the whole debt, then what
    # leaves exactly the minimum leftover of the debt or of the collateral: v3.3's dust
    # rule refuses a cap that leaves less, allows these).
    refusal = ""
    for offer in quote_offers(inputs, config.aave.min_leftover_base_units):
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
    return debt_asset, coll_asset, reads.close_factor_inputs(
        account_id, reads.liquidation_health(account_id, data), data, debt_asset, coll_asset,
        balances=(balances[debt_asset][0], balances[coll_asset][1]))


def liquidation_plan(reads: StateReads, account_id: str, debt_asset: str,
                     collateral_asset: str, debt_to_cover: int) -> CloseFactorPlan | None:
    """What ``Liquidate(..., debt_to_cover)`` would do now (``None``: refused, or the
    family does not liquidate by close factor, or an asset has no price yet).

    Raises
    ------
    FieldError
        ``debt_asset`` or ``collateral_asset`` is not a market of the protocol (the
        ``Liquidate`` would be refused naming the same field).
    """
    for field, asset in (("debt_asset", debt_asset), ("collateral_asset", collateral_asset)):
        if asset not in reads.config.markets:
            raise FieldError(field, f"unknown asset {asset!r}")
    if reads.rules.liquidation is not LiquidationMechanism.CLOSE_FACTOR or not (
            debt_asset in reads.prices and collateral_asset in reads.prices):
        return None
    if _pause_refusal(reads, account_id, debt_asset, collateral_asset) is not None:
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


def liquidation_pause(reads: StateReads, account_id: str, debt_asset: str,
                      collateral_asset: str,
                      health_factor: int | None = None) -> Refusal | None:
    """Why ``Liquidate`` of ``account_id``'s ``debt_asset`` against its
    ``collateral_asset`` is refused now whatever the amount, by ``validateLiquidationCall``'s
    checks before the health factor's, in its order; else ``None``. The one rule the
    handler, the keeper's quote and the simulator's lending screen ask:

    1. the reserves' flags: both active, neither paused
       (:func:`~marginengine.margin.reserve_flags.validate_liquidation_flags`);
    2. the PriceOracleSentinel: sequencer down or within its grace period, HF 0.95 or more
       (:func:`~marginengine.margin.validation.validate_sentinel_liquidation`; read only
       with a sentinel configured; ``health_factor``: the account's, when the caller has
       it already);
    3. a reserve's liquidation grace period
       (:func:`~marginengine.margin.validation.validate_liquidation_grace`).
    """
    reserves = reads.ledger.reserves
    coll, debt = reserves[collateral_asset], reserves[debt_asset]
    refusal = validate_liquidation_flags(collateral_asset, coll.active, coll.paused,
                                         debt_asset, debt.active, debt.paused,
                                         reads.rules.custom_errors)
    if refusal is not None:
        return refusal
    grace_period = reads.config.aave.sentinel_grace_period
    if grace_period is not None:
        if health_factor is None:
            health_factor = reads.account_data(account_id).health_factor
        refusal = validate_sentinel_liquidation(reads.sequencer_status, reads.ledger.time,
                                                grace_period, health_factor)
        if refusal is not None:
            return refusal
    return validate_liquidation_grace(
        reads.ledger.time, collateral_asset, coll.liquidation_grace_period_until,
        debt_asset, debt.liquidation_grace_period_until)


def _pause_refusal(reads: StateReads, account_id: str, debt_asset: str,
                   collateral_asset: str) -> str | None:
    """:func:`liquidation_pause`'s message, for a quote."""
    refusal = liquidation_pause(reads, account_id, debt_asset, collateral_asset)
    return None if refusal is None else refusal.message


__all__ = ["LiquidationQuote", "liquidation_inputs", "liquidation_pause", "liquidation_plan",
           "liquidation_quote"]
