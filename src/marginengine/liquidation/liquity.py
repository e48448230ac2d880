"""Liquity v1 liquidations as pure functions: modes, offset, redistribution, stability pool.

A liquidation closes a trove whole (no partial liquidation). The liquidator is paid the
200 LUSD reserve and 0.5% of the collateral; the rest of the debt is *offset* against the
stability pool (LUSD burned, the matching share of the collateral sent to depositors) and
what the pool cannot absorb is *redistributed* to every active trove pro rata to stake.

- Normal mode (``TCR >= 150%``): troves with ``ICR < 110%``.
- Recovery mode (``TCR < 150%``): ``ICR <= 100%`` is purely redistributed; ``100% < ICR <
  110%`` is offset and redistributed as in normal mode; ``110% <= ICR < TCR`` is liquidated
  only if the pool can absorb the whole debt, and then only ``debt x 1.1 / price`` of the
  collateral is taken (the rest is the borrower's *collateral surplus*); otherwise nothing.
  A sequence that lifts the TCR back to 150% continues in normal mode.

Two stability-pool rules, both from liquity/dev:

``LEGACY``
    The rule of Liquity v1 as deployed (liquity/dev at commit
    ``15853ad8999760a7b4fc03e8d7d9967e36fe3fe5``, 2023-06-01, unchanged in this respect since
    launch): the whole pool can be used (``getTotalLUSDDeposits``); a liquidation that uses
    it all sets every deposit to zero (``LUSDLossPerUnitStaked = 1``, the epoch is
    incremented and ``P`` reset to 1).
``KEEP_ONE_LUSD``
    The 2025 rule (commit ``800e820fe8ab2b58ea42c9022951c4a0ba306d73``, 2025-03-21, "fix:
    Make SP have min 1 BOLD", with ``7fea84a3`` of 2025-04-03, "Prevent underflow in
    liquidations due to small offset"): ``getMaxAmountToOffset`` keeps
    ``min(1 LUSD, total)`` in the pool, so it is never emptied (no epochs); withdrawals
    may not take the total below 1 LUSD; ``P`` may cross two scale boundaries at once.
    Liquity v1's deployed contracts are immutable, so this is the rule of the repository's
    code (and of deployments made from it), not of the 2021 mainnet deployment.

Source followed: liquity/dev at commit ``39f1f7f881de23200c296a892b891a6e2fc6e98f``,
``packages/contracts/contracts/TroveManager.sol`` (``_liquidateNormalMode``,
``_liquidateRecoveryMode``, ``_getOffsetAndRedistributionVals``, ``_getCappedOffsetVals``,
``liquidateTroves``, ``batchLiquidateTroves``, ``_redistributeDebtAndColl``) and
``StabilityPool.sol`` (``getMaxAmountToOffset``, ``offset``,
``_computeRewardsPerUnitStaked``, ``_updateRewardSumAndProduct``,
``_getCompoundedStakeFromSnapshots``, ``_getETHGainFromSnapshots``); the legacy pool from
the same files at ``15853ad8``. Units: wei, 18-decimal ratios and prices.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import Enum

from marginengine.decisions import Code, Refusal
from marginengine.margin.liquity import (
    CCR,
    DECIMAL_PRECISION,
    LUSD_GAS_COMPENSATION,
    MCR,
    ONE_HUNDRED_PCT,
    Trove,
    coll_gas_compensation,
    compute_cr,
)

#: ``StabilityPool.MIN_LUSD_IN_SP`` (2025 rule).
MIN_LUSD_IN_SP = 10**18
#: ``StabilityPool.SCALE_FACTOR``.
SCALE_FACTOR = 10**9


class StabilityPoolRule(Enum):
    """Which stability-pool rule applies (see the module docstring)."""

    LEGACY = "legacy"
    KEEP_ONE_LUSD = "keep_one_lusd"


# ---- one trove -------------------------------------------------------------------------

@dataclass(frozen=True)
class LiquidationValues:
    """``LiquidationValues`` of ``TroveManager``: where one trove's debt and coll go.

    Attributes
    ----------
    entire_debt, entire_coll
        The trove's debt and collateral (pending rewards included).
    coll_gas_compensation, lusd_gas_compensation
        Paid to the liquidator (0.5% of the collateral -- of the capped part in the capped
        case -- and the 200 LUSD reserve).
    debt_to_offset, coll_to_send_to_sp
        Burned against, and sent to, the stability pool.
    debt_to_redistribute, coll_to_redistribute
        Shared among the active troves.
    coll_surplus
        Left for the borrower to claim (capped recovery-mode liquidation only).
    """

    entire_debt: int = 0
    entire_coll: int = 0
    coll_gas_compensation: int = 0
    lusd_gas_compensation: int = 0
    debt_to_offset: int = 0
    coll_to_send_to_sp: int = 0
    debt_to_redistribute: int = 0
    coll_to_redistribute: int = 0
    coll_surplus: int = 0


def offset_and_redistribution_vals(debt: int, coll: int, lusd_for_offsets: int
                                   ) -> tuple[int, int, int, int]:
    """``_getOffsetAndRedistributionVals``: offset ``min(debt, pool)``, coll pro rata (down).

    Returns
    -------
    tuple
        ``(debt_to_offset, coll_to_send_to_sp, debt_to_redistribute, coll_to_redistribute)``.
    """
    if lusd_for_offsets > 0:
        to_offset = min(debt, lusd_for_offsets)
        coll_to_sp = coll * to_offset // debt
        return to_offset, coll_to_sp, debt - to_offset, coll - coll_to_sp
    return 0, 0, debt, coll


def capped_offset_vals(debt: int, coll: int, price: int) -> LiquidationValues:
    """``_getCappedOffsetVals``: take ``debt x MCR / price`` of the collateral (rounded down).

    The liquidator's 0.5% is taken from that capped part; the rest of the trove's
    collateral is the borrower's surplus.
    """
    capped = debt * MCR // price
    gas = coll_gas_compensation(capped)
    return LiquidationValues(
        entire_debt=debt, entire_coll=coll, coll_gas_compensation=gas,
        lusd_gas_compensation=LUSD_GAS_COMPENSATION, debt_to_offset=debt,
        coll_to_send_to_sp=capped - gas, coll_surplus=coll - capped)


def liquidate_normal_mode(trove: Trove, lusd_for_offsets: int) -> LiquidationValues:
    """``_liquidateNormalMode``: gas compensation, then offset as much as the pool allows."""
    gas = coll_gas_compensation(trove.coll)
    off, to_sp, redist, coll_redist = offset_and_redistribution_vals(
        trove.debt, trove.coll - gas, lusd_for_offsets)
    return LiquidationValues(trove.debt, trove.coll, gas, LUSD_GAS_COMPENSATION, off, to_sp,
                             redist, coll_redist)


def liquidate_recovery_mode(trove: Trove, icr: int, lusd_for_offsets: int, tcr: int,
                            price: int, trove_count: int) -> LiquidationValues:
    """``_liquidateRecoveryMode``; all-zero values mean "not liquidated"."""
    if trove_count <= 1:
        return LiquidationValues()   # don't liquidate the last trove
    gas = coll_gas_compensation(trove.coll)
    coll = trove.coll - gas
    if icr <= ONE_HUNDRED_PCT:
        return LiquidationValues(trove.debt, trove.coll, gas, LUSD_GAS_COMPENSATION,
                                 0, 0, trove.debt, coll)
    if icr < MCR:
        off, to_sp, redist, coll_redist = offset_and_redistribution_vals(
            trove.debt, coll, lusd_for_offsets)
        return LiquidationValues(trove.debt, trove.coll, gas, LUSD_GAS_COMPENSATION, off,
                                 to_sp, redist, coll_redist)
    if icr < tcr and trove.debt <= lusd_for_offsets:
        return capped_offset_vals(trove.debt, trove.coll, price)
    return LiquidationValues()


# ---- a sequence ------------------------------------------------------------------------

@dataclass(frozen=True)
class LiquidationTotals:
    """``LiquidationTotals``, with each liquidated trove's values.

    Attributes
    ----------
    liquidated
        ``(trove id, values)`` of every trove closed, in order.
    recovery_mode_at_start
        Whether the sequence started in recovery mode.
    """

    liquidated: tuple[tuple[str, LiquidationValues], ...]
    recovery_mode_at_start: bool

    def _sum(self, name: str) -> int:
        return sum(getattr(v, name) for _, v in self.liquidated)

    @property
    def debt_in_sequence(self) -> int:
        """``totalDebtInSequence``."""
        return self._sum("entire_debt")

    @property
    def coll_in_sequence(self) -> int:
        """``totalCollInSequence``."""
        return self._sum("entire_coll")

    @property
    def coll_gas_compensation(self) -> int:
        """``totalCollGasCompensation``."""
        return self._sum("coll_gas_compensation")

    @property
    def lusd_gas_compensation(self) -> int:
        """``totalLUSDGasCompensation``."""
        return self._sum("lusd_gas_compensation")

    @property
    def debt_to_offset(self) -> int:
        """``totalDebtToOffset``."""
        return self._sum("debt_to_offset")

    @property
    def coll_to_send_to_sp(self) -> int:
        """``totalCollToSendToSP``."""
        return self._sum("coll_to_send_to_sp")

    @property
    def debt_to_redistribute(self) -> int:
        """``totalDebtToRedistribute``."""
        return self._sum("debt_to_redistribute")

    @property
    def coll_to_redistribute(self) -> int:
        """``totalCollToRedistribute``."""
        return self._sum("coll_to_redistribute")

    @property
    def coll_surplus(self) -> int:
        """``totalCollSurplus``."""
        return self._sum("coll_surplus")


def _run(candidates: Sequence[tuple[str, Trove]], trove_count: int, price: int,
         lusd_for_offsets: int, system_coll: int, system_debt: int,
         sequence: bool) -> LiquidationTotals | Refusal:
    # One loop for liquidateTroves (sequence: stop at the first trove not liquidated) and
    # batchLiquidateTroves (skip it), in normal and recovery mode, as TroveManager.sol.
    recovery = compute_cr(system_coll, system_debt, price) < CCR
    remaining = lusd_for_offsets
    count = trove_count
    back_to_normal = not recovery
    done: list[tuple[str, LiquidationValues]] = []
    for trove_id, trove in candidates:
        icr = trove.icr(price)
        if not back_to_normal:
            if icr >= MCR and remaining == 0:
                if sequence:
                    break
                continue
            tcr = compute_cr(system_coll, system_debt, price)
            values = liquidate_recovery_mode(trove, icr, remaining, tcr, price, count)
            remaining -= values.debt_to_offset
            system_debt -= values.debt_to_offset
            system_coll -= (values.coll_to_send_to_sp + values.coll_gas_compensation
                            + values.coll_surplus)
            back_to_normal = compute_cr(system_coll, system_debt, price) >= CCR
        elif icr < MCR:
            if count <= 1:
                return Refusal(Code.LIQUITY_ONLY_ONE_TROVE,
                               "TroveManager: Only one trove in the system",
                               {"trove": trove_id})
            values = liquidate_normal_mode(trove, remaining)
            remaining -= values.debt_to_offset
        else:
            if sequence:
                break
            continue
        if values.entire_debt > 0:
            done.append((trove_id, values))
            count -= 1
    totals = LiquidationTotals(tuple(done), recovery)
    if totals.debt_in_sequence == 0:
        return Refusal(Code.LIQUITY_NOTHING_TO_LIQUIDATE, "TroveManager: nothing to liquidate",
                       {"recovery_mode": recovery})
    return totals


def liquidate_troves(troves: Sequence[tuple[str, Trove]], n: int, price: int,
                     lusd_for_offsets: int, system_coll: int, system_debt: int
                     ) -> LiquidationTotals | Refusal:
    """``liquidateTroves(n)``: from the lowest collateral ratio up, at most ``n`` troves.

    Parameters
    ----------
    troves
        Every active trove, ``(id, trove)`` with pending rewards applied, in Liquity's
        sorted order from the *last* (lowest NICR) to the first.
    n
        The maximum number of troves to liquidate.
    price
        ETH price (18 decimals).
    lusd_for_offsets
        ``StabilityPool.getMaxAmountToOffset()`` (:func:`max_amount_to_offset`).
    system_coll, system_debt
        Entire system collateral and debt (active and default pools).
    """
    if n < 0:
        return Refusal(Code.INVALID_ARGUMENT, "n must be non-negative", {"n": n})
    count = len(troves)
    if compute_cr(system_coll, system_debt, price) < CCR:
        # The recovery-mode loop runs `i < n && user != sortedTroves.getFirst()`: it never
        # reaches the trove with the highest collateral ratio.
        window = list(troves)[:min(n, max(0, count - 1))]
    else:
        window = list(troves)[:n]
    return _run(window, count, price, lusd_for_offsets, system_coll, system_debt,
                sequence=True)


def batch_liquidate_troves(candidates: Sequence[tuple[str, Trove]], trove_count: int,
                           price: int, lusd_for_offsets: int, system_coll: int,
                           system_debt: int) -> LiquidationTotals | Refusal:
    """``batchLiquidateTroves``: the given troves, skipping those not liquidatable.

    ``liquidate(borrower)`` is this with one trove. ``trove_count`` is the number of active
    troves in the system (the last one is never liquidated).
    """
    if not candidates:
        return Refusal(Code.LIQUITY_EMPTY_TROVE_ARRAY,
                       "TroveManager: Calldata address array must not be empty", {})
    return _run(candidates, trove_count, price, lusd_for_offsets, system_coll, system_debt,
                sequence=False)


# ---- redistribution --------------------------------------------------------------------

@dataclass(frozen=True)
class Redistribution:
    """``L_ETH`` and ``L_LUSDDebt`` with their error-feedback remainders.

    Attributes
    ----------
    l_eth, l_lusd_debt
        Rewards per unit staked, summed over all redistributions (18 decimals).
    last_eth_error, last_lusd_debt_error
        ``lastETHError_Redistribution`` and ``lastLUSDDebtError_Redistribution``.
    """

    l_eth: int = 0
    l_lusd_debt: int = 0
    last_eth_error: int = 0
    last_lusd_debt_error: int = 0


def redistribute(state: Redistribution, total_stakes: int, debt: int, coll: int
                 ) -> Redistribution:
    """``_redistributeDebtAndColl``: add ``(x x 1e18 + error) / totalStakes`` to each L."""
    if debt == 0:
        return state
    if total_stakes <= 0:
        raise ValueError("total_stakes: must be positive to redistribute")
    eth_num = coll * DECIMAL_PRECISION + state.last_eth_error
    debt_num = debt * DECIMAL_PRECISION + state.last_lusd_debt_error
    eth_per = eth_num // total_stakes
    debt_per = debt_num // total_stakes
    return Redistribution(state.l_eth + eth_per, state.l_lusd_debt + debt_per,
                          eth_num - eth_per * total_stakes, debt_num - debt_per * total_stakes)


# ---- stability pool --------------------------------------------------------------------

@dataclass(frozen=True)
class DepositSnapshot:
    """A deposit and its snapshots of ``P``, ``S``, scale and epoch.

    Attributes
    ----------
    initial
        ``deposits[depositor].initialValue`` (LUSD).
    p, s, scale, epoch
        The pool's ``P``, ``S``, scale and epoch when the deposit was last touched
        (``epoch`` is always 0 under :attr:`StabilityPoolRule.KEEP_ONE_LUSD`).
    """

    initial: int
    p: int
    s: int
    scale: int
    epoch: int


@dataclass(frozen=True)
class StabilityPool:
    """The pool's totals and running product and sums.

    Attributes
    ----------
    rule
        Which rule applies.
    total_deposits
        ``totalLUSDDeposits``.
    eth
        ETH held for depositors.
    p, scale, epoch
        The running product ``P`` (starts at 1e18), its scale and (legacy) epoch.
    sums
        ``S`` per ``(epoch, scale)`` (``epochToScaleToSum``; ``scaleToSum`` at epoch 0).
    last_eth_error, last_lusd_loss_error
        ``lastETHError_Offset`` and ``lastLUSDLossError_Offset``.
    """

    rule: StabilityPoolRule = StabilityPoolRule.KEEP_ONE_LUSD
    total_deposits: int = 0
    eth: int = 0
    p: int = DECIMAL_PRECISION
    scale: int = 0
    epoch: int = 0
    sums: dict[tuple[int, int], int] = field(default_factory=dict)
    last_eth_error: int = 0
    last_lusd_loss_error: int = 0

    def sum_at(self, epoch: int, scale: int) -> int:
        """``S`` at ``(epoch, scale)`` (zero where none was recorded)."""
        return self.sums.get((epoch, scale), 0)


def max_amount_to_offset(pool: StabilityPool) -> int:
    """The LUSD a liquidation may use: all (legacy) or all but ``min(1 LUSD, total)``."""
    if pool.rule is StabilityPoolRule.LEGACY:
        return pool.total_deposits      # getTotalLUSDDeposits()
    usable = pool.total_deposits - min(MIN_LUSD_IN_SP, pool.total_deposits)
    # 7fea84a3: "avoid underflow in case of a tiny offset"
    if usable * DECIMAL_PRECISION <= pool.last_lusd_loss_error:
        return 0
    return usable


def offset_underflows(pool: StabilityPool, debt_to_offset: int) -> bool:
    """Whether the legacy pool's ``offset`` reverts: a partial offset whose
    ``debt x 1e18`` is below ``lastLUSDLossError_Offset`` (SafeMath's subtraction; a tiny
    offset after an offset of a much larger pool). The 2025 rule floors it at zero."""
    return (pool.rule is StabilityPoolRule.LEGACY and 0 < debt_to_offset < pool.total_deposits
            and debt_to_offset * DECIMAL_PRECISION < pool.last_lusd_loss_error)


def offset(pool: StabilityPool, debt_to_offset: int, coll_to_add: int) -> StabilityPool:
    """``StabilityPool.offset``: burn ``debt`` from deposits, share ``coll`` by ``S``.

    The loss per unit staked is rounded *up* (floor + 1, with the error fed back) so that
    every compounded deposit errs in the pool's favour.
    """
    total = pool.total_deposits
    if total == 0 or debt_to_offset == 0:
        return pool
    if debt_to_offset > total:
        raise ValueError(f"debt_to_offset: {debt_to_offset} exceeds the pool's {total}")
    eth_num = coll_to_add * DECIMAL_PRECISION + pool.last_eth_error
    loss_error = pool.last_lusd_loss_error
    if pool.rule is StabilityPoolRule.LEGACY and debt_to_offset == total:
        loss_per = DECIMAL_PRECISION     # the pool empties, and so does each deposit
        loss_error = 0
    else:
        if pool.rule is StabilityPoolRule.KEEP_ONE_LUSD and total - debt_to_offset < MIN_LUSD_IN_SP:
            raise ValueError("debt_to_offset: would leave less than 1 LUSD in the pool")
        loss_num = debt_to_offset * DECIMAL_PRECISION - loss_error
        if loss_num < 0 and pool.rule is StabilityPoolRule.KEEP_ONE_LUSD:
            loss_num = 0                 # 7fea84a3: tiny offset after a large error
        elif loss_num < 0:
            raise ValueError("offset: loss numerator underflows (legacy SafeMath reverts)")
        loss_per = loss_num // total + 1
        loss_error = loss_per * total - loss_num
    eth_per = eth_num // total
    eth_error = eth_num - eth_per * total

    # _updateRewardSumAndProduct: S first (gains use the deposits before the loss), then P.
    sums = dict(pool.sums)
    key = (pool.epoch, pool.scale)
    sums[key] = sums.get(key, 0) + eth_per * pool.p
    factor = DECIMAL_PRECISION - loss_per
    epoch, scale = pool.epoch, pool.scale
    if pool.rule is StabilityPoolRule.LEGACY and factor == 0:
        epoch, scale, new_p = epoch + 1, 0, DECIMAL_PRECISION
    elif pool.p * factor // DECIMAL_PRECISION < SCALE_FACTOR:
        new_p = pool.p * factor * SCALE_FACTOR // DECIMAL_PRECISION
        scale += 1
        if pool.rule is StabilityPoolRule.KEEP_ONE_LUSD and new_p < SCALE_FACTOR:
            new_p = pool.p * factor * SCALE_FACTOR**2 // DECIMAL_PRECISION
            scale += 1
    else:
        new_p = pool.p * factor // DECIMAL_PRECISION
    if new_p <= 0:
        raise ValueError("offset: P would reach zero")   # Liquity: assert(newP > 0)
    return replace(pool, total_deposits=total - debt_to_offset, eth=pool.eth + coll_to_add,
                   p=new_p, scale=scale, epoch=epoch, sums=sums, last_eth_error=eth_error,
                   last_lusd_loss_error=loss_error)


def compounded_deposit(pool: StabilityPool, snap: DepositSnapshot) -> int:
    """``getCompoundedLUSDDeposit``: ``d0 x P / P0``, across at most one scale change."""
    if snap.initial == 0:
        return 0
    if snap.epoch < pool.epoch:
        return 0                         # legacy: a pool-emptying liquidation since
    diff = pool.scale - snap.scale
    if diff == 0:
        value = snap.initial * pool.p // snap.p
    elif diff == 1:
        value = snap.initial * pool.p // snap.p // SCALE_FACTOR
    else:
        value = 0
    if value < snap.initial // 10**9:
        return 0
    return value


def eth_gain(pool: StabilityPool, snap: DepositSnapshot) -> int:
    """``getDepositorETHGain``: ``d0 x (S - S0 + S_next / 1e9) / P0 / 1e18``."""
    if snap.initial == 0:
        return 0
    first = pool.sum_at(snap.epoch, snap.scale) - snap.s
    second = pool.sum_at(snap.epoch, snap.scale + 1) // SCALE_FACTOR
    return snap.initial * (first + second) // snap.p // DECIMAL_PRECISION


def snapshot(pool: StabilityPool, initial: int) -> DepositSnapshot:
    """A deposit of ``initial`` with the pool's snapshots (``_updateDepositAndSnapshots``)."""
    if initial == 0:
        return DepositSnapshot(0, 0, 0, 0, 0)
    return DepositSnapshot(initial, pool.p, pool.sum_at(pool.epoch, pool.scale), pool.scale,
                           pool.epoch)


@dataclass(frozen=True)
class DepositChange:
    """A deposit after ``provideToSP`` or ``withdrawFromSP``.

    Attributes
    ----------
    pool, deposit
        The pool and the depositor's new deposit and snapshots.
    eth_paid
        The ETH gain paid out by the operation.
    lusd_moved
        LUSD deposited (positive) or withdrawn (negative).
    """

    pool: StabilityPool
    deposit: DepositSnapshot
    eth_paid: int
    lusd_moved: int


def provide_to_sp(pool: StabilityPool, deposit: DepositSnapshot | None, amount: int
                  ) -> DepositChange | Refusal:
    """``provideToSP``: pay the ETH gain, compound, add ``amount``, take new snapshots."""
    if amount <= 0:
        return Refusal(Code.INVALID_AMOUNT, "StabilityPool: Amount must be non-zero",
                       {"amount": amount})
    current = deposit or DepositSnapshot(0, 0, 0, 0, 0)
    gain = eth_gain(pool, current)
    compounded = compounded_deposit(pool, current)
    after = replace(pool, total_deposits=pool.total_deposits + amount, eth=pool.eth - gain)
    return DepositChange(after, snapshot(after, compounded + amount), gain, amount)


def withdraw_from_sp(pool: StabilityPool, deposit: DepositSnapshot, amount: int
                     ) -> DepositChange | Refusal:
    """``withdrawFromSP``: at most the compounded deposit; 2025 rule: keep 1 LUSD in.

    (Liquity also refuses any withdrawal while a trove has ``ICR < MCR``; that needs the
    troves, so the caller checks it: ``LIQUITY_SP_UNDERCOLLATERALIZED``.)
    """
    if deposit.initial == 0:
        return Refusal(Code.LIQUITY_SP_NO_DEPOSIT,
                       "StabilityPool: User must have a non-zero deposit", {})
    if amount < 0:
        return Refusal(Code.INVALID_AMOUNT, "amount must be non-negative", {"amount": amount})
    gain = eth_gain(pool, deposit)
    compounded = compounded_deposit(pool, deposit)
    out = min(amount, compounded)
    left = pool.total_deposits - out
    if pool.rule is StabilityPoolRule.KEEP_ONE_LUSD and out > 0 and left < MIN_LUSD_IN_SP:
        return Refusal(Code.LIQUITY_SP_MIN_DEPOSITS,
                       "Withdrawal must leave totalBoldDeposits >= MIN_LUSD_IN_SP",
                       {"total_after": left, "min": MIN_LUSD_IN_SP})
    after = replace(pool, total_deposits=left, eth=pool.eth - gain)
    return DepositChange(after, snapshot(after, compounded - out), gain, -out)


__all__ = [
    "MIN_LUSD_IN_SP",
    "SCALE_FACTOR",
    "DepositChange",
    "DepositSnapshot",
    "LiquidationTotals",
    "LiquidationValues",
    "Redistribution",
    "StabilityPool",
    "StabilityPoolRule",
    "batch_liquidate_troves",
    "capped_offset_vals",
    "compounded_deposit",
    "eth_gain",
    "liquidate_normal_mode",
    "liquidate_recovery_mode",
    "liquidate_troves",
    "max_amount_to_offset",
    "offset",
    "offset_and_redistribution_vals",
    "offset_underflows",
    "provide_to_sp",
    "redistribute",
    "snapshot",
    "withdraw_from_sp",
]
