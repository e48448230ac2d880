"""A whole Liquity v1 system as one value: troves with stakes, pools, the stability pool.

:class:`LiquitySystem` is what the engine keeps for the ``liquity-v1`` presets (and what
the family scenario reports): every trove with its stake and reward snapshots, the active
and default pools, the redistribution sums ``L_ETH``/``L_LUSDDebt``, the stake snapshots,
the stability pool and its deposits, the collateral-surplus balances and the gas
compensation paid. Each operation is a pure function returning a new system (or a
:class:`~marginengine.decisions.Refusal` with Liquity's require string); the per-mechanism
rules are :mod:`marginengine.margin.liquity` and :mod:`marginengine.liquidation.liquity`.

Source followed: liquity/dev at commit ``39f1f7f881de23200c296a892b891a6e2fc6e98f``,
``BorrowerOperations.sol`` (``openTrove``, ``_adjustTrove``, ``closeTrove``),
``TroveManager.sol`` (``liquidate``, ``liquidateTroves``, ``batchLiquidateTroves``,
``_applyPendingRewards``, ``_movePendingTroveRewardsToActivePool``, ``_removeStake``,
``_updateStakeAndTotalStakes``, ``_updateSystemSnapshots_excludeCollRemainder``) and
``StabilityPool.sol`` (``provideToSP``, ``withdrawFromSP``,
``_requireNoUnderCollateralizedTroves``); ``decayBaseRateFromBorrowing``,
``redeemCollateral`` (``_redeemCollateralFromTrove``, ``_redeemCloseTrove``,
``_updateBaseRateFromRedemption``). Not modelled: LQTY issuance and front ends, the LUSD
balances, the sorted list's hints (troves are ordered by NICR, ties by id; hints are taken
as correct).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from marginengine.decisions import Code, Refusal
from marginengine.liquidation import liquity as liq
from marginengine.margin import liquity as lm

DECIMAL_PRECISION = lm.DECIMAL_PRECISION


@dataclass(frozen=True)
class TroveRecord:
    """A trove as TroveManager stores it (rewards since the snapshots are pending).

    Attributes
    ----------
    coll, debt
        ``Troves[borrower].coll`` and ``.debt`` (wei; the debt includes the 200 LUSD).
    stake
        ``Troves[borrower].stake``.
    snap_eth, snap_debt
        ``rewardSnapshots[borrower]``: ``L_ETH`` and ``L_LUSDDebt`` when last touched.
    """

    coll: int
    debt: int
    stake: int
    snap_eth: int
    snap_debt: int


@dataclass(frozen=True)
class LiquitySystem:
    """Everything of one Liquity deployment (values: replaced, never mutated).

    Attributes
    ----------
    troves
        Active troves by borrower.
    active_coll, active_debt, default_coll, default_debt
        ActivePool and DefaultPool balances (ETH, LUSD debt).
    total_stakes, stakes_snapshot, coll_snapshot
        ``totalStakes``, ``totalStakesSnapshot``, ``totalCollateralSnapshot``.
    dist
        ``L_ETH``, ``L_LUSDDebt`` and their error feedback.
    pool, deposits
        The stability pool and each depositor's deposit with its snapshots.
    surplus
        CollSurplusPool: ETH each liquidated borrower may claim.
    gas_coll, gas_lusd
        Gas compensation paid to liquidators so far (ETH, LUSD).
    base_rate, last_fee_operation_time
        TroveManager's ``baseRate`` (18 decimals) and ``lastFeeOperationTime`` (seconds):
        a borrowing operation in normal mode first decays the rate to its own time
        (``decayBaseRateFromBorrowing``) and charges the fee at the decayed rate.
    """

    pool: liq.StabilityPool
    troves: Mapping[str, TroveRecord] = field(default_factory=dict)
    active_coll: int = 0
    active_debt: int = 0
    default_coll: int = 0
    default_debt: int = 0
    total_stakes: int = 0
    stakes_snapshot: int = 0
    coll_snapshot: int = 0
    dist: liq.Redistribution = field(default_factory=liq.Redistribution)
    deposits: Mapping[str, liq.DepositSnapshot] = field(default_factory=dict)
    surplus: Mapping[str, int] = field(default_factory=dict)
    gas_coll: int = 0
    gas_lusd: int = 0
    base_rate: int = 0
    last_fee_operation_time: int = 0

    @classmethod
    def empty(cls, rule: liq.StabilityPoolRule, base_rate: int = 0, now: int = 0
              ) -> LiquitySystem:
        """A system without troves or deposits, with the stability-pool ``rule`` and
        ``baseRate`` = ``base_rate`` as of ``now`` (its last fee operation)."""
        if not 0 <= base_rate <= DECIMAL_PRECISION:
            raise ValueError(f"base_rate: must be in [0, 1e18], got {base_rate}")
        return cls(pool=liq.StabilityPool(rule=rule), base_rate=base_rate,
                   last_fee_operation_time=now)

    def with_decayed_base_rate(self, now: int) -> LiquitySystem:
        """``decayBaseRateFromBorrowing`` at ``now``: the rate decayed, the last fee
        operation moved to ``now`` once a minute has passed."""
        return replace(self, base_rate=lm.decayed_base_rate(
            self.base_rate, now, self.last_fee_operation_time),
            last_fee_operation_time=lm.last_fee_operation_time_after(
                now, self.last_fee_operation_time))

    @property
    def system_coll(self) -> int:
        """``getEntireSystemColl``: active plus default pool."""
        return self.active_coll + self.default_coll

    @property
    def system_debt(self) -> int:
        """``getEntireSystemDebt``: active plus default pool."""
        return self.active_debt + self.default_debt

    def tcr(self, price: int) -> int:
        """``_getTCR``."""
        return lm.compute_cr(self.system_coll, self.system_debt, price)

    def entire(self, borrower: str) -> lm.Trove:
        """``getEntireDebtAndColl``: the trove with its pending rewards."""
        t = self.troves[borrower]
        return lm.Trove(t.coll + lm.pending_reward(t.stake, self.dist.l_eth, t.snap_eth),
                        t.debt + lm.pending_reward(t.stake, self.dist.l_lusd_debt,
                                                   t.snap_debt))

    def sorted_troves(self) -> list[tuple[str, lm.Trove]]:
        """Every trove (pending rewards applied) from the lowest NICR up (ties: by id)."""
        whole = [(tid, self.entire(tid)) for tid in self.troves]
        return sorted(whole, key=lambda it: (lm.compute_nominal_cr(it[1].coll, it[1].debt),
                                             it[0]))

    def state_dict(self) -> dict[str, object]:
        """Plain data for the engine's state hash."""
        p = self.pool
        return {
            "troves": {k: [t.coll, t.debt, t.stake, t.snap_eth, t.snap_debt]
                       for k, t in sorted(self.troves.items())},
            "pools": [self.active_coll, self.active_debt, self.default_coll,
                      self.default_debt],
            "stakes": [self.total_stakes, self.stakes_snapshot, self.coll_snapshot],
            "dist": [self.dist.l_eth, self.dist.l_lusd_debt, self.dist.last_eth_error,
                     self.dist.last_lusd_debt_error],
            "sp": [p.rule.value, p.total_deposits, p.eth, p.p, p.scale, p.epoch,
                   [[e, s, v] for (e, s), v in sorted(p.sums.items())], p.last_eth_error,
                   p.last_lusd_loss_error],
            "deposits": {k: [d.initial, d.p, d.s, d.scale, d.epoch]
                         for k, d in sorted(self.deposits.items()) if d.initial},
            "surplus": {k: v for k, v in sorted(self.surplus.items()) if v},
            "gas": [self.gas_coll, self.gas_lusd],
            # Only when set, so a system that never had a fee operation keeps its hash.
            **({"fees": [self.base_rate, self.last_fee_operation_time]}
               if self.base_rate or self.last_fee_operation_time else {}),
        }


def _apply_pending(sys: LiquitySystem, borrower: str) -> LiquitySystem:
    # _applyPendingRewards: the trove takes its rewards from the DefaultPool into the
    # ActivePool and its snapshots move to the current L.
    t = sys.troves[borrower]
    whole = sys.entire(borrower)
    dc, dd = whole.coll - t.coll, whole.debt - t.debt
    troves = dict(sys.troves)
    troves[borrower] = replace(t, coll=whole.coll, debt=whole.debt,
                               snap_eth=sys.dist.l_eth, snap_debt=sys.dist.l_lusd_debt)
    return replace(sys, troves=troves, default_coll=sys.default_coll - dc,
                   default_debt=sys.default_debt - dd, active_coll=sys.active_coll + dc,
                   active_debt=sys.active_debt + dd)


def _restake(sys: LiquitySystem, borrower: str, coll: int, debt: int) -> LiquitySystem:
    # _updateStakeAndTotalStakes with the trove's new coll and debt.
    troves = dict(sys.troves)
    old = troves[borrower]
    stake = lm.compute_new_stake(coll, sys.stakes_snapshot, sys.coll_snapshot)
    troves[borrower] = replace(old, coll=coll, debt=debt, stake=stake)
    return replace(sys, troves=troves, total_stakes=sys.total_stakes - old.stake + stake)


def _now(sys: LiquitySystem, now: int | None) -> int:
    # No clock given: the time of the last fee operation (the rate is not decayed).
    return sys.last_fee_operation_time if now is None else now


@dataclass(frozen=True)
class TroveChange:
    """A trove operation's result: the new system and its figures.

    Attributes
    ----------
    system
        The system after the operation.
    fee
        The borrowing fee charged (LUSD).
    coll, debt
        The trove's collateral and debt after the operation (0, 0 once closed).
    """

    system: LiquitySystem
    fee: int
    coll: int
    debt: int


def open_trove(sys: LiquitySystem, borrower: str, coll: int, lusd_amount: int, price: int,
               max_fee_percentage: int = DECIMAL_PRECISION, now: int | None = None
               ) -> TroveChange | Refusal:
    """``openTrove``: the checks of :func:`marginengine.margin.liquity.open_trove` (the
    max fee before the trove-is-active check, as Liquity), then the trove with its stake
    and snapshots in the ActivePool. In normal mode the fee is charged at ``baseRate``
    decayed to ``now`` (default: the last fee operation's time, i.e. no decay), which
    becomes the system's rate."""
    recovery = lm.is_recovery_mode(sys.system_coll, sys.system_debt, price)
    bad = lm.validate_max_fee(max_fee_percentage, recovery)
    if bad is not None:
        return bad
    if borrower in sys.troves:
        return Refusal(Code.LIQUITY_TROVE_ACTIVE, "BorrowerOps: Trove is active",
                       {"borrower": borrower})
    if not recovery:
        sys = sys.with_decayed_base_rate(_now(sys, now))
    opened = lm.open_trove(coll, lusd_amount, price, sys.system_coll, sys.system_debt,
                           sys.base_rate, max_fee_percentage)
    if isinstance(opened, Refusal):
        return opened
    debt = opened.trove.debt
    stake = lm.compute_new_stake(coll, sys.stakes_snapshot, sys.coll_snapshot)
    troves = dict(sys.troves)
    troves[borrower] = TroveRecord(coll, debt, stake, sys.dist.l_eth, sys.dist.l_lusd_debt)
    after = replace(sys, troves=troves, total_stakes=sys.total_stakes + stake,
                    active_coll=sys.active_coll + coll, active_debt=sys.active_debt + debt)
    return TroveChange(after, opened.fee, coll, debt)


def adjust_trove(sys: LiquitySystem, borrower: str, price: int, coll_deposit: int = 0,
                 coll_withdrawal: int = 0, lusd_change: int = 0,
                 is_debt_increase: bool = False,
                 max_fee_percentage: int = DECIMAL_PRECISION, now: int | None = None
                 ) -> TroveChange | Refusal:
    """``_adjustTrove``: its requires in Liquity's order, pending rewards applied, the fee
    on a debt increase in normal mode (at ``baseRate`` decayed to ``now``, as
    :func:`open_trove`), the mode's adjustment checks, then the new stake."""
    if min(coll_deposit, coll_withdrawal, lusd_change) < 0 or price <= 0:
        return Refusal(Code.INVALID_AMOUNT, "amounts must be non-negative, price positive",
                       {"coll_deposit": coll_deposit, "coll_withdrawal": coll_withdrawal,
                        "lusd_change": lusd_change})
    recovery = lm.is_recovery_mode(sys.system_coll, sys.system_debt, price)
    if is_debt_increase:
        if recovery and max_fee_percentage > DECIMAL_PRECISION:
            return Refusal(Code.LIQUITY_MAX_FEE, "Max fee percentage must less than or equal "
                           "to 100%", {"max_fee_percentage": max_fee_percentage})
        if not recovery and not (lm.BORROWING_FEE_FLOOR <= max_fee_percentage
                                 <= DECIMAL_PRECISION):
            return Refusal(Code.LIQUITY_MAX_FEE, "Max fee percentage must be between 0.5% "
                           "and 100%", {"max_fee_percentage": max_fee_percentage})
        if lusd_change == 0:
            return Refusal(Code.LIQUITY_ZERO_DEBT_CHANGE,
                           "BorrowerOps: Debt increase requires non-zero debtChange", {})
    if coll_deposit and coll_withdrawal:
        return Refusal(Code.LIQUITY_SINGULAR_COLL_CHANGE,
                       "BorrowerOps: Cannot withdraw and add coll", {})
    if not (coll_deposit or coll_withdrawal or lusd_change):
        return Refusal(Code.LIQUITY_NO_ADJUSTMENT, "BorrowerOps: There must be either a "
                       "collateral change or a debt change", {})
    if borrower not in sys.troves:
        return Refusal(Code.LIQUITY_TROVE_NOT_ACTIVE,
                       "BorrowerOps: Trove does not exist or is closed", {"borrower": borrower})
    sys = _apply_pending(sys, borrower)
    t = sys.troves[borrower]
    fee = 0
    net_change = lusd_change
    if is_debt_increase and not recovery:
        sys = sys.with_decayed_base_rate(_now(sys, now))
        fee = lm.borrowing_fee(sys.base_rate, lusd_change)
        if fee * DECIMAL_PRECISION // lusd_change > max_fee_percentage:
            return Refusal(Code.LIQUITY_FEE_EXCEEDED, "Fee exceeded provided maximum",
                           {"fee": fee, "max_fee_percentage": max_fee_percentage})
        net_change += fee
    if coll_withdrawal > t.coll:
        return Refusal(Code.INVALID_AMOUNT, "coll_withdrawal: exceeds the trove's collateral",
                       {"coll_withdrawal": coll_withdrawal, "coll": t.coll})
    if not is_debt_increase and net_change > t.debt - lm.LUSD_GAS_COMPENSATION:
        # _requireValidLUSDRepayment (checked before the net-debt subtraction would revert)
        return Refusal(Code.LIQUITY_REPAYMENT_TOO_LARGE, "BorrowerOps: Amount repaid must "
                       "not be larger than the Trove's debt", {"repay": net_change})
    coll_change = coll_deposit - coll_withdrawal
    debt_change = net_change if is_debt_increase else -net_change
    bad = lm.validate_adjustment(lm.Trove(t.coll, t.debt), coll_change, debt_change, price,
                                 sys.system_coll, sys.system_debt)
    if bad is not None:
        return bad
    if not is_debt_increase and lusd_change > 0:
        net = t.debt - lm.LUSD_GAS_COMPENSATION - net_change
        if net < lm.MIN_NET_DEBT:
            return Refusal(Code.LIQUITY_MIN_NET_DEBT, "BorrowerOps: Trove's net debt must be "
                           "greater than minimum", {"net_debt": net,
                                                    "min_net_debt": lm.MIN_NET_DEBT})
    coll, debt = t.coll + coll_change, t.debt + debt_change
    sys = _restake(sys, borrower, coll, debt)
    sys = replace(sys, active_coll=sys.active_coll + coll_change,
                  active_debt=sys.active_debt + debt_change)
    return TroveChange(sys, fee, coll, debt)


def close_trove(sys: LiquitySystem, borrower: str, price: int) -> TroveChange | Refusal:
    """``closeTrove``: not in recovery mode, not the last trove, the TCR stays >= 150%; the
    borrower repays the debt less the 200 LUSD reserve (burned from the gas pool)."""
    if borrower not in sys.troves:
        return Refusal(Code.LIQUITY_TROVE_NOT_ACTIVE,
                       "BorrowerOps: Trove does not exist or is closed", {"borrower": borrower})
    if lm.is_recovery_mode(sys.system_coll, sys.system_debt, price):
        return Refusal(Code.LIQUITY_RECOVERY_MODE,
                       "BorrowerOps: Operation not permitted during Recovery Mode", {})
    if len(sys.troves) <= 1:
        return Refusal(Code.LIQUITY_ONLY_ONE_TROVE, "TroveManager: Only one trove in the "
                       "system", {"borrower": borrower})
    sys = _apply_pending(sys, borrower)
    t = sys.troves[borrower]
    new_tcr = lm.compute_cr(sys.system_coll - t.coll, sys.system_debt - t.debt, price)
    if new_tcr < lm.CCR:
        return Refusal(Code.LIQUITY_TCR_BELOW_CCR, "BorrowerOps: An operation that would "
                       "result in TCR < CCR is not permitted", {"tcr": new_tcr})
    troves = dict(sys.troves)
    del troves[borrower]
    after = replace(sys, troves=troves, total_stakes=sys.total_stakes - t.stake,
                    active_coll=sys.active_coll - t.coll, active_debt=sys.active_debt - t.debt)
    return TroveChange(after, 0, 0, 0)


@dataclass(frozen=True)
class PoolChange:
    """A stability-pool operation's result (see :class:`liquity.DepositChange`)."""

    system: LiquitySystem
    eth_paid: int
    lusd_moved: int
    deposit: int


def provide_to_sp(sys: LiquitySystem, depositor: str, amount: int) -> PoolChange | Refusal:
    """``provideToSP``: pay the ETH gain, compound the deposit, add ``amount``."""
    ch = liq.provide_to_sp(sys.pool, sys.deposits.get(depositor), amount)
    if isinstance(ch, Refusal):
        return ch
    deposits = dict(sys.deposits)
    deposits[depositor] = ch.deposit
    return PoolChange(replace(sys, pool=ch.pool, deposits=deposits), ch.eth_paid,
                      ch.lusd_moved, ch.deposit.initial)


def withdraw_from_sp(sys: LiquitySystem, depositor: str, amount: int, price: int
                     ) -> PoolChange | Refusal:
    """``withdrawFromSP``: with a non-zero amount, refused while the lowest trove's ICR is
    below 110% (``_requireNoUnderCollateralizedTroves`` checks ``sortedTroves.getLast()``),
    before the depositor's deposit is checked, as Liquity."""
    if amount != 0 and sys.troves:
        lowest_id, lowest = sys.sorted_troves()[0]
        if lowest.icr(price) < lm.MCR:
            return Refusal(Code.LIQUITY_SP_UNDERCOLLATERALIZED, "StabilityPool: Cannot "
                           "withdraw while there are troves with ICR < MCR",
                           {"trove": lowest_id, "icr": lowest.icr(price)})
    deposit = sys.deposits.get(depositor, liq.DepositSnapshot(0, 0, 0, 0, 0))
    if deposit.initial == 0:
        return Refusal(Code.LIQUITY_SP_NO_DEPOSIT,
                       "StabilityPool: User must have a non-zero deposit", {})
    ch = liq.withdraw_from_sp(sys.pool, deposit, amount)
    if isinstance(ch, Refusal):
        return ch
    deposits = dict(sys.deposits)
    deposits[depositor] = ch.deposit
    return PoolChange(replace(sys, pool=ch.pool, deposits=deposits), ch.eth_paid,
                      ch.lusd_moved, ch.deposit.initial)


@dataclass(frozen=True)
class Liquidation:
    """A liquidation's result: the new system and the totals of ``TroveManager``."""

    system: LiquitySystem
    totals: liq.LiquidationTotals


def _settle(sys: LiquitySystem, res: liq.LiquidationTotals) -> LiquitySystem:
    # What liquidateTroves / batchLiquidateTroves do after the loop: each liquidated trove's
    # pending rewards move to the ActivePool and its stake is removed; the offset, the
    # redistribution, the surplus and the gas compensation move the pools; the snapshots
    # are taken without the gas compensation (the "coll remainder").
    troves = dict(sys.troves)
    active_coll, active_debt = sys.active_coll, sys.active_debt
    default_coll, default_debt = sys.default_coll, sys.default_debt
    total_stakes = sys.total_stakes
    surplus = dict(sys.surplus)
    for tid, v in res.liquidated:
        t = troves.pop(tid)
        whole = sys.entire(tid)
        default_coll -= whole.coll - t.coll
        default_debt -= whole.debt - t.debt
        active_coll += whole.coll - t.coll
        active_debt += whole.debt - t.debt
        total_stakes -= t.stake
        if v.coll_surplus:
            surplus[tid] = surplus.get(tid, 0) + v.coll_surplus
    pool = liq.offset(sys.pool, res.debt_to_offset, res.coll_to_send_to_sp)
    active_debt -= res.debt_to_offset
    active_coll -= res.coll_to_send_to_sp
    dist = sys.dist
    if res.debt_to_redistribute:
        dist = liq.redistribute(dist, total_stakes, res.debt_to_redistribute,
                                res.coll_to_redistribute)
        active_debt -= res.debt_to_redistribute
        default_debt += res.debt_to_redistribute
        active_coll -= res.coll_to_redistribute
        default_coll += res.coll_to_redistribute
    active_coll -= res.coll_surplus + res.coll_gas_compensation
    return replace(sys, troves=troves, active_coll=active_coll, active_debt=active_debt,
                   default_coll=default_coll, default_debt=default_debt,
                   total_stakes=total_stakes, stakes_snapshot=total_stakes,
                   coll_snapshot=active_coll + default_coll, dist=dist, pool=pool,
                   surplus=surplus, gas_coll=sys.gas_coll + res.coll_gas_compensation,
                   gas_lusd=sys.gas_lusd + res.lusd_gas_compensation)


def _offset_reverts(sys: LiquitySystem, res: liq.LiquidationTotals) -> Refusal | None:
    # The legacy StabilityPool.offset reverts (SafeMath) on a tiny offset after a large
    # loss error: the whole liquidation is refused, as the transaction reverts.
    if liq.offset_underflows(sys.pool, res.debt_to_offset):
        return Refusal(Code.LIQUITY_SAFEMATH_SUB, "SafeMath: subtraction overflow",
                       {"debt_to_offset": res.debt_to_offset,
                        "last_lusd_loss_error": sys.pool.last_lusd_loss_error})
    return None


def liquidate_troves(sys: LiquitySystem, n: int, price: int) -> Liquidation | Refusal:
    """``liquidateTroves(n)``: from the lowest NICR up, in the mode of the current TCR."""
    res = liq.liquidate_troves(sys.sorted_troves(), n, price,
                               liq.max_amount_to_offset(sys.pool), sys.system_coll,
                               sys.system_debt)
    if isinstance(res, Refusal):
        return res
    return _offset_reverts(sys, res) or Liquidation(_settle(sys, res), res)


def batch_totals(sys: LiquitySystem, borrowers: list[str], price: int
                 ) -> liq.LiquidationTotals | Refusal:
    """What ``batchLiquidateTroves`` would liquidate, without settling it: the totals of
    :func:`batch_liquidate` (or its refusal), the system unchanged. O(len(borrowers))."""
    # A repeated borrower is closed by its first liquidation: dropped (as Liquity skips
    # the closed trove's infinite ICR).
    candidates = [(b, sys.entire(b) if b in sys.troves else lm.Trove(0, 0))
                  for b in dict.fromkeys(borrowers)]
    res = liq.batch_liquidate_troves(candidates, len(sys.troves), price,
                                     liq.max_amount_to_offset(sys.pool), sys.system_coll,
                                     sys.system_debt)
    if isinstance(res, Refusal):
        return res
    return _offset_reverts(sys, res) or res


def batch_liquidate(sys: LiquitySystem, borrowers: list[str], price: int
                    ) -> Liquidation | Refusal:
    """``batchLiquidateTroves``: the given troves, in the given order, skipping those not
    liquidatable (a borrower without a trove has an infinite ICR and is skipped)."""
    res = batch_totals(sys, borrowers, price)
    if isinstance(res, Refusal):
        return res
    return Liquidation(_settle(sys, res), res)


def liquidate(sys: LiquitySystem, borrower: str, price: int) -> Liquidation | Refusal:
    """``liquidate(borrower)``: the trove must be active, then a batch of one."""
    if borrower not in sys.troves:
        return Refusal(Code.LIQUITY_LIQUIDATE_NOT_ACTIVE,
                       "TroveManager: Trove does not exist or is closed",
                       {"borrower": borrower})
    return batch_liquidate(sys, [borrower], price)


@dataclass(frozen=True)
class Redemption:
    """``redeemCollateral``'s result (the fields of Liquity's ``Redemption`` event).

    Attributes
    ----------
    system
        The system after the redemption.
    lusd_redeemed, eth_drawn, eth_fee
        ``totalLUSDToRedeem``, ``totalETHDrawn`` and ``ETHFee`` (the redeemer receives
        ``eth_drawn - eth_fee``).
    redeemed
        ``(trove id, LUSD lot, ETH lot, closed)`` for each trove redeemed from, in order.
    """

    system: LiquitySystem
    lusd_redeemed: int
    eth_drawn: int
    eth_fee: int
    redeemed: tuple[tuple[str, int, int, bool], ...]


def redeem_collateral(sys: LiquitySystem, lusd_amount: int, price: int, now: int | None = None,
                      max_iterations: int = 0,
                      max_fee_percentage: int = DECIMAL_PRECISION) -> Redemption | Refusal:
    """``redeemCollateral``: LUSD for ETH at face value from the troves with the lowest
    collateral ratio at or above 110%, each down to its 200 LUSD reserve (closing it, its
    remaining collateral the borrower's surplus) and the last one partially, unless that
    would leave less than ``MIN_NET_DEBT`` (then it stops there). ``baseRate`` is decayed
    to ``now`` and raised by half the redeemed fraction of the system debt; the fee is the
    redemption rate on the ETH drawn. ``max_iterations`` 0 means no limit.

    Hints are taken as correct (the partial-redemption NICR hint always matches), and
    the redeemer's LUSD balance and the 14-day bootstrap period are the caller's to check.
    """
    if not lm.REDEMPTION_FEE_FLOOR <= max_fee_percentage <= DECIMAL_PRECISION:
        return Refusal(Code.LIQUITY_MAX_FEE, "Max fee percentage must be between 0.5% and "
                       "100%", {"max_fee_percentage": max_fee_percentage})
    if price <= 0:
        return Refusal(Code.INVALID_AMOUNT, "price must be positive", {"price": price})
    tcr = sys.tcr(price)
    if tcr < lm.MCR:
        return Refusal(Code.LIQUITY_REDEEM_TCR_BELOW_MCR,
                       "TroveManager: Cannot redeem when TCR < MCR", {"tcr": tcr})
    if lusd_amount <= 0:
        return Refusal(Code.LIQUITY_REDEEM_ZERO_AMOUNT,
                       "TroveManager: Amount must be greater than zero",
                       {"lusd_amount": lusd_amount})
    if max_iterations < 0:
        return Refusal(Code.INVALID_ARGUMENT, "max_iterations must be non-negative",
                       {"max_iterations": max_iterations})
    supply_at_start = sys.system_debt
    # From the lowest NICR up, skipping those below 110% (getLast, then getPrev).
    order = [tid for tid, t in sys.sorted_troves() if t.icr(price) >= lm.MCR]
    remaining, iterations = lusd_amount, max_iterations or len(order)
    redeemed: list[tuple[str, int, int, bool]] = []
    surplus = dict(sys.surplus)
    for tid in order[:iterations]:
        if remaining == 0:
            break
        sys = _apply_pending(sys, tid)
        t = sys.troves[tid]
        lusd_lot = min(remaining, t.debt - lm.LUSD_GAS_COMPENSATION)
        eth_lot = lusd_lot * DECIMAL_PRECISION // price
        new_debt, new_coll = t.debt - lusd_lot, t.coll - eth_lot
        if new_debt == lm.LUSD_GAS_COMPENSATION:
            if len(sys.troves) <= 1:
                return Refusal(Code.LIQUITY_ONLY_ONE_TROVE, "TroveManager: Only one trove in "
                               "the system", {"trove": tid})
            # _redeemCloseTrove: the reserve is burned, the rest of the coll is surplus.
            troves = dict(sys.troves)
            del troves[tid]
            surplus[tid] = surplus.get(tid, 0) + new_coll
            sys = replace(sys, troves=troves, total_stakes=sys.total_stakes - t.stake,
                          active_debt=sys.active_debt - lusd_lot - lm.LUSD_GAS_COMPENSATION,
                          active_coll=sys.active_coll - eth_lot - new_coll)
            redeemed.append((tid, lusd_lot, eth_lot, True))
        else:
            if lm.net_debt(new_debt) < lm.MIN_NET_DEBT:
                break          # cancelledPartial: the last trove is left untouched
            sys = _restake(sys, tid, new_coll, new_debt)
            sys = replace(sys, active_debt=sys.active_debt - lusd_lot,
                          active_coll=sys.active_coll - eth_lot)
            redeemed.append((tid, lusd_lot, eth_lot, False))
        remaining -= lusd_lot
    eth_drawn = sum(r[2] for r in redeemed)
    if eth_drawn == 0:
        return Refusal(Code.LIQUITY_UNABLE_TO_REDEEM, "TroveManager: Unable to redeem any "
                       "amount", {"lusd_amount": lusd_amount})
    at = _now(sys, now)
    decayed = lm.decayed_base_rate(sys.base_rate, at, sys.last_fee_operation_time)
    base_rate = lm.base_rate_after_redemption(decayed, eth_drawn, price, supply_at_start)
    fee = lm.redemption_fee(lm.redemption_rate(base_rate), eth_drawn)
    if isinstance(fee, Refusal):
        return fee
    if fee * DECIMAL_PRECISION // eth_drawn > max_fee_percentage:
        return Refusal(Code.LIQUITY_FEE_EXCEEDED, "Fee exceeded provided maximum",
                       {"fee": fee, "max_fee_percentage": max_fee_percentage})
    sys = replace(sys, surplus=surplus, base_rate=base_rate,
                  last_fee_operation_time=lm.last_fee_operation_time_after(
                      at, sys.last_fee_operation_time))
    return Redemption(sys, sum(r[1] for r in redeemed), eth_drawn, fee, tuple(redeemed))


def is_liquidatable(sys: LiquitySystem, borrower: str, price: int) -> bool:
    """Whether ``liquidate(borrower)`` would close the trove now, by the same rule
    (:func:`batch_totals` of one trove) without settling: below 110%, or in recovery mode
    below the TCR with the stability pool able to absorb the whole debt; never the last
    trove. O(1), so a scan can confirm each candidate by the rule itself."""
    if borrower not in sys.troves:
        return False
    return not isinstance(batch_totals(sys, [borrower], price), Refusal)


__all__ = [
    "Liquidation",
    "LiquitySystem",
    "PoolChange",
    "Redemption",
    "TroveChange",
    "TroveRecord",
    "adjust_trove",
    "batch_liquidate",
    "batch_totals",
    "close_trove",
    "is_liquidatable",
    "liquidate",
    "liquidate_troves",
    "open_trove",
    "provide_to_sp",
    "redeem_collateral",
    "withdraw_from_sp",
]
