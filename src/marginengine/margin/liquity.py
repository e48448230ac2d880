"""Liquity v1 troves as pure functions: ICR, TCR, recovery mode, gas compensation, fees.

A trove holds ETH collateral and LUSD debt. Its *individual collateral ratio* is
``ICR = coll x price / debt`` (rounded down, 18 decimals; infinite without debt), the
system's *total collateral ratio* ``TCR`` is the same ratio over all collateral and debt
(active and default pools). Below ``MCR = 110%`` a trove can be liquidated; below
``CCR = 150%`` of TCR the system is in *recovery mode*: borrowing must not lower the TCR,
new troves need ``ICR >= 150%``, and troves with ``ICR < TCR`` may be liquidated.

Every trove's debt includes the 200 LUSD *liquidation reserve* (``LUSD_GAS_COMPENSATION``,
the "composite debt"); a liquidator is paid that reserve plus 0.5% of the trove's
collateral (``coll / 200``, rounded down).

Source followed: liquity/dev at commit ``39f1f7f881de23200c296a892b891a6e2fc6e98f``
(2025-04-11), ``packages/contracts/contracts/Dependencies/LiquityBase.sol`` (constants,
``_getCompositeDebt``, ``_getCollGasCompensation``, ``_getTCR``, ``_checkRecoveryMode``),
``Dependencies/LiquityMath.sol`` (``_computeCR``, ``_computeNominalCR``),
``BorrowerOperations.sol`` (``openTrove``, ``_requireValidAdjustmentInCurrentMode``),
``TroveManager.sol`` (``_calcBorrowingRate``, ``_computeNewStake``, pending rewards).
Units: wei for ETH and LUSD (18 decimals), the price in LUSD per ETH with 18 decimals.
"""

from __future__ import annotations

from dataclasses import dataclass

from marginengine.decisions import Code, Refusal

DECIMAL_PRECISION = 10**18
#: ``LiquityBase._100pct``.
ONE_HUNDRED_PCT = 10**18
#: ``LiquityBase.MCR``: 110%.
MCR = 11 * 10**17
#: ``LiquityBase.CCR``: 150%.
CCR = 15 * 10**17
#: ``LiquityBase.LUSD_GAS_COMPENSATION``: the 200 LUSD liquidation reserve.
LUSD_GAS_COMPENSATION = 200 * 10**18
#: ``LiquityBase.MIN_NET_DEBT``.
MIN_NET_DEBT = 1_800 * 10**18
#: ``LiquityBase.PERCENT_DIVISOR``: ``coll / 200`` is the 0.5% collateral compensation.
PERCENT_DIVISOR = 200
#: ``LiquityBase.BORROWING_FEE_FLOOR``: 0.5%.
BORROWING_FEE_FLOOR = DECIMAL_PRECISION // 1000 * 5
#: ``TroveManager.MAX_BORROWING_FEE``: 5%.
MAX_BORROWING_FEE = DECIMAL_PRECISION // 100 * 5
#: ``TroveManager.REDEMPTION_FEE_FLOOR``: 0.5%.
REDEMPTION_FEE_FLOOR = DECIMAL_PRECISION // 1000 * 5
#: ``TroveManager.MINUTE_DECAY_FACTOR``: ``0.5^(1/720)``, a half-life of 12 hours.
MINUTE_DECAY_FACTOR = 999_037_758_833_783_000
#: ``TroveManager.SECONDS_IN_ONE_MINUTE``.
SECONDS_IN_ONE_MINUTE = 60
#: ``TroveManager.BETA``: the redeemed fraction of supply is halved into the base rate.
BETA = 2
#: ``LiquityMath._decPow``'s cap on the exponent (minutes in 1000 years).
DEC_POW_MAX_MINUTES = 525_600_000
#: ``LiquityMath.NICR_PRECISION``.
NICR_PRECISION = 10**20
#: ``2**256 - 1``: Liquity's "infinite" collateral ratio of a trove without debt.
INFINITE_CR = 2**256 - 1


def compute_cr(coll: int, debt: int, price: int) -> int:
    """``LiquityMath._computeCR``: ``coll x price / debt`` rounded down, or ``2**256 - 1``."""
    if debt > 0:
        return coll * price // debt
    return INFINITE_CR


def compute_nominal_cr(coll: int, debt: int) -> int:
    """``LiquityMath._computeNominalCR``: ``coll x 1e20 / debt`` (the sorted-troves key)."""
    if debt > 0:
        return coll * NICR_PRECISION // debt
    return INFINITE_CR


def composite_debt(debt: int) -> int:
    """``_getCompositeDebt``: the drawn debt plus the 200 LUSD liquidation reserve."""
    return debt + LUSD_GAS_COMPENSATION


def net_debt(debt: int) -> int:
    """``_getNetDebt``: the debt without the 200 LUSD liquidation reserve."""
    if debt < LUSD_GAS_COMPENSATION:
        raise ValueError(f"debt: {debt} is below the 200 LUSD liquidation reserve")
    return debt - LUSD_GAS_COMPENSATION


def coll_gas_compensation(entire_coll: int) -> int:
    """``_getCollGasCompensation``: ``coll / 200`` rounded down (0.5%)."""
    return entire_coll // PERCENT_DIVISOR


def is_recovery_mode(system_coll: int, system_debt: int, price: int) -> bool:
    """``_checkRecoveryMode``: ``TCR < CCR``."""
    return compute_cr(system_coll, system_debt, price) < CCR


def validate_max_fee(max_fee_percentage: int, recovery: bool) -> Refusal | None:
    """``_requireValidMaxFeePercentage``: at most 100% in recovery mode, else in [0.5%, 100%]."""
    if recovery:
        if max_fee_percentage > DECIMAL_PRECISION:
            return Refusal(Code.LIQUITY_MAX_FEE, "Max fee percentage must less than or equal "
                           "to 100%", {"max_fee_percentage": max_fee_percentage})
    elif not BORROWING_FEE_FLOOR <= max_fee_percentage <= DECIMAL_PRECISION:
        return Refusal(Code.LIQUITY_MAX_FEE, "Max fee percentage must be between 0.5% "
                       "and 100%", {"max_fee_percentage": max_fee_percentage})
    return None


# ---- baseRate and its decay (TroveManager's fee functions, LiquityMath._decPow) ----------

def dec_mul(x: int, y: int) -> int:
    """``LiquityMath.decMul``: ``x x y / 1e18`` rounded half up."""
    return (x * y + DECIMAL_PRECISION // 2) // DECIMAL_PRECISION


def dec_pow(base: int, minutes: int) -> int:
    """``LiquityMath._decPow``: ``base^minutes`` (18 decimals) by squaring, each product
    :func:`dec_mul`-rounded; the exponent capped at 525,600,000 minutes (1000 years)."""
    if base < 0 or minutes < 0:
        raise ValueError(f"dec_pow: base and minutes must be non-negative, got {base}, "
                         f"{minutes}")
    n = min(minutes, DEC_POW_MAX_MINUTES)
    if n == 0:
        return DECIMAL_PRECISION
    y, x = DECIMAL_PRECISION, base
    while n > 1:
        if n % 2 == 0:
            x = dec_mul(x, x)
            n //= 2
        else:
            y = dec_mul(x, y)
            x = dec_mul(x, x)
            n = (n - 1) // 2
    return dec_mul(x, y)


def minutes_passed(now: int, last_fee_operation_time: int) -> int:
    """``_minutesPassedSinceLastFeeOp``: whole minutes since the last fee operation."""
    if now < last_fee_operation_time:
        raise ValueError(f"now: {now} is before the last fee operation "
                         f"{last_fee_operation_time}")
    return (now - last_fee_operation_time) // SECONDS_IN_ONE_MINUTE


def decayed_base_rate(base_rate: int, now: int, last_fee_operation_time: int) -> int:
    """``_calcDecayedBaseRate``: ``baseRate x MINUTE_DECAY_FACTOR^minutes / 1e18`` (down);
    the factor halves the rate in 12 hours."""
    factor = dec_pow(MINUTE_DECAY_FACTOR, minutes_passed(now, last_fee_operation_time))
    return base_rate * factor // DECIMAL_PRECISION


def last_fee_operation_time_after(now: int, last_fee_operation_time: int) -> int:
    """``_updateLastFeeOpTime``: moved to ``now`` only once a minute has passed (so that
    frequent operations cannot stop the decay)."""
    if now - last_fee_operation_time >= SECONDS_IN_ONE_MINUTE:
        return now
    return last_fee_operation_time


def redemption_rate(base_rate: int) -> int:
    """``_calcRedemptionRate``: ``min(0.5% + baseRate, 100%)``."""
    return min(REDEMPTION_FEE_FLOOR + base_rate, DECIMAL_PRECISION)


def redemption_fee(rate: int, eth_drawn: int) -> int | Refusal:
    """``_calcRedemptionFee``: ``rate x ETH drawn / 1e18`` (down), which must stay below
    the ETH drawn."""
    fee = rate * eth_drawn // DECIMAL_PRECISION
    if fee >= eth_drawn:
        return Refusal(Code.LIQUITY_FEE_EATS_COLLATERAL,
                       "TroveManager: Fee would eat up all returned collateral",
                       {"fee": fee, "eth_drawn": eth_drawn})
    return fee


def base_rate_after_redemption(decayed: int, eth_drawn: int, price: int,
                               total_lusd_supply: int) -> int:
    """``_updateBaseRateFromRedemption`` from the decayed rate: plus the redeemed fraction
    of the LUSD supply over ``BETA`` (``ETH x price / supply``, then ``/ 2``, both down),
    capped at 100%."""
    if total_lusd_supply <= 0:
        raise ValueError(f"total_lusd_supply: must be positive, got {total_lusd_supply}")
    fraction = eth_drawn * price // total_lusd_supply
    return min(decayed + fraction // BETA, DECIMAL_PRECISION)


def borrowing_rate(base_rate: int) -> int:
    """``_calcBorrowingRate``: ``min(0.5% + baseRate, 5%)``."""
    return min(BORROWING_FEE_FLOOR + base_rate, MAX_BORROWING_FEE)


def borrowing_fee(base_rate: int, lusd_amount: int) -> int:
    """``_calcBorrowingFee``: ``rate x amount / 1e18`` rounded down."""
    return borrowing_rate(base_rate) * lusd_amount // DECIMAL_PRECISION


@dataclass(frozen=True)
class Trove:
    """One trove's entire collateral and debt (pending redistribution rewards included).

    Attributes
    ----------
    coll
        ETH collateral (wei).
    debt
        LUSD debt (wei), the 200 LUSD reserve included.
    """

    coll: int
    debt: int

    def __post_init__(self) -> None:
        if self.coll < 0 or self.debt < 0:
            raise ValueError(f"trove: coll and debt must be non-negative, got {self}")

    def icr(self, price: int) -> int:
        """The trove's ICR at ``price``."""
        return compute_cr(self.coll, self.debt, price)


@dataclass(frozen=True)
class OpenTrove:
    """What ``openTrove`` records: the fee charged and the trove's composite debt."""

    fee: int
    trove: Trove
    icr: int


def open_trove(coll: int, lusd_amount: int, price: int, system_coll: int, system_debt: int,
               base_rate: int = 0, max_fee_percentage: int = DECIMAL_PRECISION
               ) -> OpenTrove | Refusal:
    """``BorrowerOperations.openTrove``: the checks, in Liquity's order, and the new trove.

    Normal mode: a borrowing fee (``min(0.5% + baseRate, 5%)``) is added to the debt, the
    net debt must reach ``MIN_NET_DEBT``, the ICR (of the composite debt) ``MCR`` and the
    TCR after opening ``CCR``. Recovery mode: no fee, and the ICR must reach ``CCR``.
    """
    if coll < 0 or lusd_amount < 0 or price <= 0:
        return Refusal(Code.INVALID_AMOUNT, "coll and amount must be >= 0, price > 0",
                       {"coll": coll, "lusd_amount": lusd_amount, "price": price})
    recovery = is_recovery_mode(system_coll, system_debt, price)
    bad = validate_max_fee(max_fee_percentage, recovery)
    if bad is not None:
        return bad
    fee = 0
    if not recovery:
        fee = borrowing_fee(base_rate, lusd_amount)
        if lusd_amount and fee * DECIMAL_PRECISION // lusd_amount > max_fee_percentage:
            return Refusal(Code.LIQUITY_FEE_EXCEEDED, "Fee exceeded provided maximum",
                           {"fee": fee, "max_fee_percentage": max_fee_percentage})
    net = lusd_amount + fee
    if net < MIN_NET_DEBT:
        return Refusal(Code.LIQUITY_MIN_NET_DEBT,
                       "BorrowerOps: Trove's net debt must be greater than minimum",
                       {"net_debt": net, "min_net_debt": MIN_NET_DEBT})
    debt = composite_debt(net)
    icr = compute_cr(coll, debt, price)
    if recovery:
        if icr < CCR:
            return Refusal(Code.LIQUITY_ICR_BELOW_CCR,
                           "BorrowerOps: Operation must leave trove with ICR >= CCR",
                           {"icr": icr})
    else:
        if icr < MCR:
            return Refusal(Code.LIQUITY_ICR_BELOW_MCR, "BorrowerOps: An operation that would "
                           "result in ICR < MCR is not permitted", {"icr": icr})
        new_tcr = compute_cr(system_coll + coll, system_debt + debt, price)
        if new_tcr < CCR:
            return Refusal(Code.LIQUITY_TCR_BELOW_CCR, "BorrowerOps: An operation that would "
                           "result in TCR < CCR is not permitted", {"tcr": new_tcr})
    return OpenTrove(fee, Trove(coll, debt), icr)


def validate_adjustment(trove: Trove, coll_change: int, debt_change: int, price: int,
                        system_coll: int, system_debt: int) -> Refusal | None:
    """``_requireValidAdjustmentInCurrentMode`` for a signed change of coll and net debt.

    Recovery mode: no collateral withdrawal; a debt increase must leave ``ICR >= CCR`` and
    not lower the ICR. Normal mode: ``ICR >= MCR`` and ``TCR >= CCR`` after the change.
    (The borrowing fee on a debt increase is the caller's: it is part of ``debt_change``.)
    """
    new_coll, new_debt = trove.coll + coll_change, trove.debt + debt_change
    if new_coll < 0 or new_debt < LUSD_GAS_COMPENSATION:
        return Refusal(Code.INVALID_AMOUNT, "the change would leave a negative trove",
                       {"coll": new_coll, "debt": new_debt})
    old_icr = trove.icr(price)
    new_icr = compute_cr(new_coll, new_debt, price)
    if is_recovery_mode(system_coll, system_debt, price):
        if coll_change < 0:
            return Refusal(Code.LIQUITY_RECOVERY_NO_COLL_WITHDRAWAL,
                           "BorrowerOps: Collateral withdrawal not permitted Recovery Mode",
                           {"coll_change": coll_change})
        if debt_change > 0:
            if new_icr < CCR:
                return Refusal(Code.LIQUITY_ICR_BELOW_CCR,
                               "BorrowerOps: Operation must leave trove with ICR >= CCR",
                               {"icr": new_icr})
            if new_icr < old_icr:
                return Refusal(Code.LIQUITY_ICR_DECREASE,
                               "BorrowerOps: Cannot decrease your Trove's ICR in Recovery Mode",
                               {"icr": new_icr, "old_icr": old_icr})
        return None
    if new_icr < MCR:
        return Refusal(Code.LIQUITY_ICR_BELOW_MCR, "BorrowerOps: An operation that would "
                       "result in ICR < MCR is not permitted", {"icr": new_icr})
    new_tcr = compute_cr(system_coll + coll_change, system_debt + debt_change, price)
    if new_tcr < CCR:
        return Refusal(Code.LIQUITY_TCR_BELOW_CCR, "BorrowerOps: An operation that would "
                       "result in TCR < CCR is not permitted", {"tcr": new_tcr})
    return None


def compute_new_stake(coll: int, total_stakes_snapshot: int, total_collateral_snapshot: int
                      ) -> int:
    """``_computeNewStake``: ``coll x totalStakesSnapshot / totalCollateralSnapshot``.

    Stakes are what redistributions are shared by; after a liquidation the snapshots make a
    new trove's stake smaller than its collateral, so redistributed rewards already earned
    by older troves are not diluted.
    """
    if total_collateral_snapshot == 0:
        return coll
    return coll * total_stakes_snapshot // total_collateral_snapshot


def pending_reward(stake: int, l_now: int, l_snapshot: int) -> int:
    """``getPendingETHReward`` / ``getPendingLUSDDebtReward``: ``stake x (L - L_t) / 1e18``."""
    return stake * (l_now - l_snapshot) // DECIMAL_PRECISION


__all__ = [
    "BETA",
    "BORROWING_FEE_FLOOR",
    "CCR",
    "DECIMAL_PRECISION",
    "DEC_POW_MAX_MINUTES",
    "INFINITE_CR",
    "LUSD_GAS_COMPENSATION",
    "MAX_BORROWING_FEE",
    "MCR",
    "MINUTE_DECAY_FACTOR",
    "MIN_NET_DEBT",
    "NICR_PRECISION",
    "ONE_HUNDRED_PCT",
    "PERCENT_DIVISOR",
    "REDEMPTION_FEE_FLOOR",
    "SECONDS_IN_ONE_MINUTE",
    "OpenTrove",
    "Trove",
    "base_rate_after_redemption",
    "borrowing_fee",
    "borrowing_rate",
    "coll_gas_compensation",
    "composite_debt",
    "compute_cr",
    "compute_new_stake",
    "compute_nominal_cr",
    "dec_mul",
    "dec_pow",
    "decayed_base_rate",
    "is_recovery_mode",
    "last_fee_operation_time_after",
    "minutes_passed",
    "net_debt",
    "open_trove",
    "pending_reward",
    "redemption_fee",
    "redemption_rate",
    "validate_adjustment",
    "validate_max_fee",
]
