"""dYdX v4's per-block liquidation limits of one subaccount: pure rules over what it has been
liquidated for in the current block (:class:`~marginengine.ledger.perp.BlockLiquidation`).

Source: dydxprotocol/v4-chain@84d4664bae71e3a077adaac67fb77ad19cd28d30,
``protocol/x/clob/keeper/liquidations.go``:

- ``GetSubaccountMaxNotionalLiquidatable``: ``MaxNotionalLiquidated`` less the notional
  liquidated in the block (:func:`max_notional_liquidatable`);
- ``GetSubaccountMaxInsuranceLost``: ``MaxQuantumsInsuranceLost`` less the insurance lost in
  the block (:func:`max_insurance_lost`);
- both refuse a perpetual the subaccount has already been liquidated for in the block
  (``ErrSubaccountHasLiquidatedPerpetual``) and panic when a total is already above its limit
  (here a ``ValueError``: the engine never records past a limit);
- ``validateLiquidationAgainstSubaccountBlockLimits``: a fill whose net notional exceeds what
  is left of the notional limit, or whose insurance-fund delta is a payment larger than what
  is left of the insurance limit, is not made (:func:`block_limit_refusal`);
- ``protocol/x/clob/keeper/liquidations_state.go`` ``UpdateSubaccountLiquidationInfo`` and
  ``MustUpdateSubaccountPerpetualLiquidated``: the totals after a fill
  (:func:`after_liquidation`).

``GetLiquidatablePositionSizeDelta`` takes the smaller of the position block limit
(:func:`~marginengine.liquidation.perp_prices.dydx_position_notional_liquidatable`) and
:func:`max_notional_liquidatable` before converting it to base quanta
(:func:`~marginengine.liquidation.perp_prices.dydx_liquidatable_size`).

A limit of ``None`` is no limit (dYdX's ``SubaccountBlockLimits_No_Limit`` is
``math.MaxUint64``; quote units of 18 decimals would exceed it).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from marginengine.decisions import Code
from marginengine.ledger.perp import BlockLiquidation

#: dYdX's error names, the codes of the refusals (protocol/x/clob/types/errors.go: 1008,
#: 1011, 1012).
ALREADY_LIQUIDATED = Code.SUBACCOUNT_HAS_LIQUIDATED_PERPETUAL
NOTIONAL_LIMIT = Code.LIQUIDATION_EXCEEDS_MAX_NOTIONAL_LIQUIDATED
INSURANCE_LIMIT = Code.LIQUIDATION_EXCEEDS_MAX_INSURANCE_LOST


@dataclass(frozen=True)
class BlockLimitRefusal:
    """Why a liquidation fill is not made under the subaccount block limits.

    Attributes
    ----------
    code
        :data:`ALREADY_LIQUIDATED`, :data:`NOTIONAL_LIMIT` or :data:`INSURANCE_LIMIT`.
    limit
        The configuration field that binds (``max_notional_liquidated``,
        ``max_insurance_lost``), or ``""`` for a market already liquidated in the block.
    allowed
        What is left of the limit, quote smallest units (0 for a market already liquidated).
    requested
        The fill's notional or insurance loss, quote smallest units.
    """

    code: Code
    limit: str
    allowed: int
    requested: int


def _check_total(total: int, limit: int | None, name: str) -> None:
    if total < 0:
        raise ValueError(f"{name}: the block's total must not be negative (got {total})")
    if limit is not None and limit <= 0:
        raise ValueError(f"{name} must be positive (dYdX's LiquidationsConfig.Validate refuses "
                         f"0; got {limit})")
    if limit is not None and total > limit:
        # dYdX panics: the totals never pass a limit, since every fill is checked first.
        raise ValueError(f"{name}: the block's total {total} already exceeds the limit {limit}")


def max_notional_liquidatable(info: BlockLiquidation, limit: int | None) -> int | None:
    """Return dYdX's ``GetSubaccountMaxNotionalLiquidatable``: ``limit - info.notional``
    (``None``: no limit).

    dYdX's table (``TestGetMaxLiquidatableNotionalAndInsuranceLost``): a limit of 150 with 100
    liquidated leaves 50. A market already liquidated in the block is checked separately
    (:func:`already_liquidated`).

    Raises
    ------
    ValueError
        If the total already exceeds the limit (dYdX panics) or the limit is not positive.
    """
    _check_total(info.notional, limit, "max_notional_liquidated")
    return None if limit is None else limit - info.notional


def max_insurance_lost(info: BlockLiquidation, limit: int | None) -> int | None:
    """Return dYdX's ``GetSubaccountMaxInsuranceLost``: ``limit - info.insurance_lost``
    (``None``: no limit). Same table: 150 with 100 lost leaves 50."""
    _check_total(info.insurance_lost, limit, "max_insurance_lost")
    return None if limit is None else limit - info.insurance_lost


def already_liquidated(info: BlockLiquidation, market: str) -> BlockLimitRefusal | None:
    """``HasPerpetualBeenLiquidatedForSubaccount``: the subaccount was liquidated for
    ``market`` earlier in the block (dYdX's ``ErrSubaccountHasLiquidatedPerpetual``)."""
    if market in info.markets:
        return BlockLimitRefusal(ALREADY_LIQUIDATED, "", 0, 0)
    return None


def block_limit_refusal(info: BlockLiquidation, market: str, notional: int,
                        insurance_delta: int, max_notional: int | None,
                        max_insurance: int | None) -> BlockLimitRefusal | None:
    """Return why a liquidation fill breaks the subaccount block limits, or ``None``.

    dYdX's ``validateLiquidationAgainstSubaccountBlockLimits``: the market must not have been
    liquidated in the block; ``|notional|`` (the fill's net notional) must be at most
    :func:`max_notional_liquidatable`; an ``insurance_delta`` below 0 (the fund pays,
    ``GetLiquidationInsuranceFundDelta``) must be at most :func:`max_insurance_lost` in
    magnitude. A fee (``insurance_delta > 0``) is never limited.
    """
    refusal = already_liquidated(info, market)
    if refusal is not None:
        return refusal
    left = max_notional_liquidatable(info, max_notional)
    if left is not None and abs(notional) > left:
        return BlockLimitRefusal(NOTIONAL_LIMIT, "max_notional_liquidated", left, abs(notional))
    if insurance_delta < 0:
        lost = max_insurance_lost(info, max_insurance)
        if lost is not None and -insurance_delta > lost:
            return BlockLimitRefusal(INSURANCE_LIMIT, "max_insurance_lost", lost,
                                     -insurance_delta)
    return None


def after_liquidation(info: BlockLiquidation, market: str, notional: int,
                      insurance_delta: int) -> BlockLiquidation:
    """Return the block's totals after a liquidation of ``market``: dYdX's
    ``UpdateSubaccountLiquidationInfo`` (``|notional|`` added; ``-insurance_delta`` added to
    the insurance lost when the fund paid) and ``MustUpdateSubaccountPerpetualLiquidated``
    (``market`` recorded; dYdX panics on a second time, here a ``ValueError``)."""
    if market in info.markets:
        raise ValueError(f"{market} has already been liquidated for this account in this block")
    return replace(info, markets=(*info.markets, market),
                   notional=info.notional + abs(notional),
                   insurance_lost=info.insurance_lost + max(-insurance_delta, 0))


__all__ = [
    "ALREADY_LIQUIDATED",
    "INSURANCE_LIMIT",
    "NOTIONAL_LIMIT",
    "BlockLimitRefusal",
    "after_liquidation",
    "already_liquidated",
    "block_limit_refusal",
    "max_insurance_lost",
    "max_notional_liquidatable",
]
