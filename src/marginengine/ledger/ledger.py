"""The ledger: accounts and per-asset pool state, changed only through exact primitives.

Every primitive keeps the accounting identity of :class:`ReserveState` exact by booking its
rounding dust (always in the protocol's favour) into the reserves. Changes are journalled:
the engine opens a transaction per event and rolls it back if the event is refused, so a
refused event changes nothing.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Collection, Iterator
from contextlib import contextmanager

from marginengine.config import ProtocolConfig
from marginengine.errors import InvariantViolation
from marginengine.fixedpoint import RAY, Rounding, bps_mul, div, ray_mul
from marginengine.ledger.account import Account, LendingPosition
from marginengine.ledger.interest import (
    COMET_INDEX_TO_RAY,
    SECONDS_PER_YEAR,
    comet_accrue_index,
    comet_principal_after,
    comet_rate,
    comet_utilization,
    compounded_interest,
    grow_index,
    linear_interest,
    rates,
)
from marginengine.ledger.perp import (
    BlockLiquidation,
    PerpClearing,
    PerpMarketState,
    funding_payment,
    owner_of,
    quote_value,
)
from marginengine.ledger.reserve import ReserveState

#: The roundings, bound once (an enum member read through its class costs several
#: times a plain name on this Python, and the balance reads run for every account read).
_DOWN = Rounding.DOWN
_UP = Rounding.UP

#: A Comet per-second rate (1e18) as the ledger's yearly ray rate, exactly.
_COMET_RATE_TO_RAY_YEAR = SECONDS_PER_YEAR * RAY // 10**18


class LedgerError(Exception):
    """A primitive was asked to do something the balances do not allow."""


class Ledger:
    """Accounts, per-asset reserves and the clock of one protocol.

    Parameters
    ----------
    config
        The validated protocol; one :class:`ReserveState` is created per market.
    time
        The initial clock, seconds.
    """

    def __init__(self, config: ProtocolConfig, time: int = 0) -> None:
        self.config = config
        self.time = time
        self.reserves: dict[str, ReserveState] = {s: ReserveState(s) for s in config.markets}
        self.accounts: dict[str, Account] = {}
        self.clearing = PerpClearing(
            markets={m: PerpMarketState(m) for m in config.perps})
        # Aave mints the reserve factor to its treasury; Comet keeps it in reserves.
        rules = config.rules
        self.treasury_takes_reserve_factor = rules.treasury_takes_reserve_factor
        self.compounding = rules.compounding
        self.deficit_in_supply_usage = rules.deficit_in_supply_usage
        self.treasury_accrual_floor = rules.treasury_accrual_floor
        self.debt_rounding = rules.debt_balance_rounding
        # Compound III with [compound.interest]: the base asset accrues as Comet does.
        compound = config.compound
        self.comet_interest = compound.interest if compound is not None else None
        self.comet_base = compound.base_asset if compound is not None else None
        self._saved_accounts: dict[str, Account | None] | None = None
        self._saved_reserves: dict[str, ReserveState] = {}
        self._saved_clearing: PerpClearing | None = None
        self._saved_time = time
        #: Per account, the value of :attr:`_writes` at its last write (see
        #: :meth:`account_version`); :attr:`index_epoch` moves with any index.
        self._versions: dict[str, int] = {}
        self._writes = 0
        #: Per account, (the account object, its version, its canonical JSON) at the last
        #: :meth:`state_hash`, once :meth:`reuse_hash_pieces` asked for it (else None).
        self._hash_pieces: dict[str, tuple[Account, int, str]] | None = None
        #: Moves whenever a reserve's liquidity or borrow index may have changed (an
        #: accrual, a rollback of reserves): balances read through the indices then move.
        self.index_epoch = 0
        #: Per asset, the last inputs of :func:`rates` and its answer (see update_rates).
        self._last_rates: dict[str, tuple[object, int, int, int, int, tuple[int, int]]] = {}
        for asset in self.reserves:
            self.update_rates(asset)

    # ------------------------------------------------------------------ transactions
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Journal every change made inside; roll all of them back if an exception escapes."""
        self.begin()
        try:
            yield
        except BaseException:
            self.rollback()
            raise
        finally:
            self.end()

    def begin(self) -> None:
        """Open a transaction: journal every change until :meth:`end` (:meth:`rollback`
        undoes them). :meth:`transaction` in three calls, for the engine's ``apply``, which
        opens one per event and saves a generator each time (as ``EngineState.begin``)."""
        if self._saved_accounts is not None:
            raise RuntimeError("ledger transactions do not nest")
        self._saved_accounts = {}
        self._saved_reserves = {}
        self._saved_clearing = None
        self._saved_time = self.time

    def rollback(self) -> None:
        """Undo every change of the open transaction (which stays open until :meth:`end`)."""
        self._rollback()

    def end(self) -> None:
        """Close the open transaction, keeping its changes (after a :meth:`rollback`: none)."""
        self._saved_accounts = None
        self._saved_reserves = {}
        self._saved_clearing = None

    def copy(self, accounts: Collection[str] | None = None) -> Ledger:
        """An independent copy of the ledger as it stands (between transactions): later
        writes to either leave the other as it was.

        Parameters
        ----------
        accounts
            Copy only these accounts (those absent from the ledger are skipped); every
            other account is absent from the copy, which is then for reads of these
            accounts only (a portfolio what-if, say). ``None``: every account.

        Raises
        ------
        RuntimeError
            A transaction is open (its changes are neither kept nor undone yet).
        """
        if self._saved_accounts is not None:
            raise RuntimeError("a ledger is copied between transactions, not inside one")
        twin = copy.copy(self)
        # Accounts, reserves and the perp clearing are changed in place by the
        # primitives: each copied. The rest are ints, the config (replaced, never
        # changed in place) and the flags read from it.
        held = self.accounts if accounts is None else {
            a: self.accounts[a] for a in accounts if a in self.accounts}
        twin.accounts = {a: account.copy() for a, account in held.items()}
        twin.reserves = {a: r.copy() for a, r in self.reserves.items()}
        twin.clearing = self.clearing.copy()
        twin._saved_reserves = {}
        twin._versions = (dict(self._versions) if accounts is None else
                          {a: self._versions[a] for a in held if a in self._versions})
        twin._last_rates = dict(self._last_rates)
        # Its own pieces: the copy's accounts are other objects (a piece is reused only
        # for the very object it was written from), and a copy read in another thread
        # must not write into the original's.
        twin._hash_pieces = None if self._hash_pieces is None else {}
        return twin

    def account_version(self, account_id: str) -> int:
        """A number that changes whenever the account's positions may have changed (any
        primitive writing it, a rollback restoring it) and never returns to an earlier
        value: with :attr:`index_epoch`, the prices and the rules, it keys exact reads of
        the account that can be reused while none of them moves."""
        return self._versions.get(account_id, 0)

    def _bump(self, account_id: str) -> None:
        self._writes += 1
        self._versions[account_id] = self._writes

    def _rollback(self) -> None:
        assert self._saved_accounts is not None
        for account_id in self._saved_accounts:
            self._bump(account_id)
        if self._saved_reserves:
            self.index_epoch += 1
        for account_id, saved in self._saved_accounts.items():
            if saved is None:
                self.accounts.pop(account_id, None)
            else:
                self.accounts[account_id] = saved
        for asset, saved_reserve in self._saved_reserves.items():
            self.reserves[asset] = saved_reserve
        if self._saved_clearing is not None:
            self.clearing = self._saved_clearing
        self.time = self._saved_time

    def _account(self, account_id: str) -> Account:
        # Every write to an account comes through here, before the write.
        self._bump(account_id)
        if self._saved_accounts is not None and account_id not in self._saved_accounts:
            existing = self.accounts.get(account_id)
            self._saved_accounts[account_id] = existing.copy() if existing else None
        account = self.accounts.get(account_id)
        if account is None:
            account = self.accounts[account_id] = Account(account_id)
        return account

    def _reserve(self, asset: str) -> ReserveState:
        if asset not in self.reserves:
            raise LedgerError(f"unknown asset {asset!r}")
        if self._saved_accounts is not None and asset not in self._saved_reserves:
            self._saved_reserves[asset] = self.reserves[asset].copy()
        return self.reserves[asset]

    def _clearing(self) -> PerpClearing:
        if self._saved_accounts is not None and self._saved_clearing is None:
            self._saved_clearing = self.clearing.copy()
        return self.clearing

    def touched_perp_markets(self) -> list[str]:
        """Perp markets whose state changed in the open transaction (sorted)."""
        if self._saved_clearing is None:
            return []
        saved = self._saved_clearing.markets
        return sorted(m for m, st in self.clearing.markets.items() if vars(st) != vars(saved[m]))

    def touched_assets(self) -> list[str]:
        """Assets changed in the open transaction (sorted)."""
        return sorted(self._saved_reserves)

    def touched_accounts(self) -> list[str]:
        """Accounts changed (or created) in the open transaction (sorted)."""
        return sorted(self._saved_accounts or ())

    # ------------------------------------------------------------------ reads
    def supply_of(self, account_id: str, asset: str) -> int:
        """An account's supplied balance in smallest units, rounded down."""
        account = self.accounts.get(account_id)
        pos = account.lending.get(asset) if account else None
        if pos is None or pos.scaled_supply == 0:
            return 0
        return ray_mul(pos.scaled_supply, self.reserves[asset].liquidity_index, _DOWN)

    def scaled_supply_of(self, account_id: str, asset: str) -> int:
        """An account's scaled supply of ``asset`` (Aave's ``scaledBalanceOf``)."""
        account = self.accounts.get(account_id)
        pos = account.lending.get(asset) if account else None
        return pos.scaled_supply if pos else 0

    def scaled_debt_of(self, account_id: str, asset: str) -> int:
        """An account's scaled debt of ``asset`` (the debt token's ``scaledBalanceOf``;
        Comet's borrow principal, positive)."""
        account = self.accounts.get(account_id)
        pos = account.lending.get(asset) if account else None
        return pos.scaled_debt if pos else 0

    def debt_of(self, account_id: str, asset: str) -> int:
        """An account's debt in smallest units, rounded as the family reads it (up, or
        down for Comet's ``presentValueBorrow``)."""
        account = self.accounts.get(account_id)
        pos = account.lending.get(asset) if account else None
        if pos is None or pos.scaled_debt == 0:
            return 0
        return ray_mul(pos.scaled_debt, self.reserves[asset].borrow_index, self.debt_rounding)

    def uses_as_collateral(self, account_id: str, asset: str) -> bool:
        """Whether the account's supply of ``asset`` counts as collateral."""
        account = self.accounts.get(account_id)
        pos = account.lending.get(asset) if account else None
        return bool(pos and pos.use_as_collateral and self.config.markets[asset].collateral)

    def collateral_flag(self, account_id: str, asset: str) -> bool:
        """The account's own switch for ``asset`` (Aave's ``isUsingAsCollateral``), whether
        or not the market is collateral; False without a position."""
        account = self.accounts.get(account_id)
        pos = account.lending.get(asset) if account else None
        return bool(pos and pos.use_as_collateral)

    def emode_of(self, account_id: str) -> int:
        """The account's e-mode category (Aave's ``getUserEMode``; 0: none)."""
        account = self.accounts.get(account_id)
        return account.emode if account else 0

    # ------------------------------------------------------------------ primitives
    def set_emode(self, account_id: str, category_id: int) -> None:
        """Set the account's e-mode category (journalled; the account is created if new,
        as Aave keeps ``usersEModeCategory`` for any address)."""
        self._account(account_id).emode = category_id

    def set_use_as_collateral(self, account_id: str, asset: str, enabled: bool) -> None:
        """Switch the account's supply of ``asset`` on or off as collateral (Aave's
        ``UserConfiguration.setUsingAsCollateral``; journalled). The position must exist:
        the switch belongs to a balance, and an empty position is pruned."""
        self._reserve(asset)
        account = self.accounts.get(account_id)
        if account is None or asset not in account.lending:
            raise LedgerError(f"{account_id} has no position in {asset}")
        self._account(account_id).lending[asset].use_as_collateral = enabled

    def set_isolation_mode_total_debt(self, asset: str, total: int) -> None:
        """Set an isolated collateral's ``isolationModeTotalDebt`` (base-currency cents;
        journalled). The rules of :mod:`marginengine.margin.validation` decide the value."""
        if total < 0:
            raise LedgerError(f"isolation-mode total debt of {asset} cannot be negative")
        self._reserve(asset).isolation_mode_total_debt = total

    def set_liquidation_grace_period_until(self, asset: str, until: int) -> None:
        """Set the reserve's ``liquidationGracePeriodUntil`` (seconds; 0: none;
        journalled)."""
        if until < 0:
            raise LedgerError(f"grace period of {asset} cannot end before time 0")
        self._reserve(asset).liquidation_grace_period_until = until

    def set_reserve_flags(self, asset: str, *, active: bool | None = None,
                          frozen: bool | None = None, paused: bool | None = None,
                          pending_ltv_bps: int | None = None) -> None:
        """Set the reserve's flags and pending LTV given (``None``: left as they are;
        journalled). The rules of :mod:`marginengine.margin.reserve_flags` decide them."""
        if pending_ltv_bps is not None and pending_ltv_bps < 0:
            raise LedgerError(f"pending LTV of {asset} cannot be negative")
        r = self._reserve(asset)
        if active is not None:
            r.active = active
        if frozen is not None:
            r.frozen = frozen
        if paused is not None:
            r.paused = paused
        if pending_ltv_bps is not None:
            r.pending_ltv_bps = pending_ltv_bps

    def deposit(self, account_id: str, asset: str, amount: int,
                collateral_on_first: bool = True) -> int:
        """Tokens come in and the account is credited; returns the scaled amount minted.
        A first supply (from a balance of 0) is switched on as collateral when
        ``collateral_on_first`` (the rule deciding it is the caller's:
        :func:`marginengine.margin.validation.automatic_use_as_collateral`)."""
        r = self._reserve(asset)
        if asset == self.comet_base:
            # Comet recomputes the principal from the new present value.
            old = self.scaled_supply_of(account_id, asset)
            scaled = comet_principal_after(old, r.liquidity_index, amount, False) - old
        else:
            scaled = div(amount * RAY, r.liquidity_index, Rounding.DOWN)
        if scaled == 0 and asset != self.comet_base:
            # Aave's _mintScaled: INVALID_MINT_AMOUNT.
            raise LedgerError(f"amount {amount} of {asset} is below one scaled unit")
        if scaled:
            # Comet's supplyBase takes any amount: one too small to move the principal
            # is kept by the protocol (its reserves), compound-finance/comet@d5a30b0a.
            _credit_supply(self._account(account_id).position(asset), scaled,
                           collateral_on_first)
        r.scaled_supply += scaled
        r.cash += amount
        r.reserves_ray += amount * RAY - scaled * r.liquidity_index  # rounding dust
        return scaled

    def _burn_supply(self, account_id: str, asset: str, amount: int) -> int:
        r = self._reserve(asset)
        account = self._account(account_id)
        pos = account.position(asset)
        if amount == self.supply_of(account_id, asset):
            scaled = pos.scaled_supply
        elif asset == self.comet_base and amount < self.supply_of(account_id, asset):
            scaled = pos.scaled_supply - comet_principal_after(
                pos.scaled_supply, r.liquidity_index, -amount, False)
        else:
            scaled = div(amount * RAY, r.liquidity_index, _UP)
        if scaled > pos.scaled_supply:
            raise LedgerError(f"{account_id} has less than {amount} of {asset} supplied")
        pos.scaled_supply -= scaled
        r.scaled_supply -= scaled
        if pos.scaled_supply == 0:
            # Aave: a balance burned or transferred to 0 is no longer collateral
            # (SupplyLogic executeWithdraw, executeFinalizeTransfer; LiquidationLogic).
            pos.use_as_collateral = False
        account.prune()
        return scaled

    def withdraw(self, account_id: str, asset: str, amount: int) -> None:
        """Tokens go out of the pool and the account's supply is burned (rounded up)."""
        r = self._reserve(asset)
        if amount > r.cash:
            raise LedgerError(f"the pool holds only {r.cash} of {asset}")
        scaled = self._burn_supply(account_id, asset, amount)
        r.cash -= amount
        r.reserves_ray += scaled * r.liquidity_index - amount * RAY

    def borrow(self, account_id: str, asset: str, amount: int) -> None:
        """Tokens go out and the account's debt is minted (scaled amount rounded up)."""
        r = self._reserve(asset)
        if amount > r.cash:
            raise LedgerError(f"the pool holds only {r.cash} of {asset}")
        pos = self._account(account_id).position(asset)
        if asset == self.comet_base:
            scaled = comet_principal_after(pos.scaled_debt, r.borrow_index, amount,
                                           True) - pos.scaled_debt
        else:
            scaled = div(amount * RAY, r.borrow_index, Rounding.UP)
        pos.scaled_debt += scaled
        r.scaled_debt += scaled
        r.cash -= amount
        r.reserves_ray += scaled * r.borrow_index - amount * RAY

    def _burn_debt(self, account_id: str, asset: str, amount: int) -> int:
        """Burn ``amount`` of debt (scaled rounded down, all of it at the full balance)."""
        r = self._reserve(asset)
        account = self._account(account_id)
        pos = account.position(asset)
        if amount == self.debt_of(account_id, asset):
            scaled = pos.scaled_debt
        elif asset == self.comet_base and amount < self.debt_of(account_id, asset):
            scaled = pos.scaled_debt - comet_principal_after(
                pos.scaled_debt, r.borrow_index, -amount, True)
        else:
            scaled = div(amount * RAY, r.borrow_index, _DOWN)
        if scaled > pos.scaled_debt:
            raise LedgerError(f"{account_id} owes less than {amount} of {asset}")
        pos.scaled_debt -= scaled
        r.scaled_debt -= scaled
        account.prune()
        return scaled

    def repay(self, account_id: str, asset: str, amount: int) -> None:
        """Tokens come in and the account's debt is burned (scaled amount rounded down)."""
        r = self._reserve(asset)
        scaled = self._burn_debt(account_id, asset, amount)
        r.cash += amount
        r.reserves_ray += amount * RAY - scaled * r.borrow_index

    def repay_with_supply(self, account_id: str, asset: str, amount: int) -> None:
        """Aave's ``repayWithATokens``: burn ``amount`` of the account's supplied balance
        (scaled rounded up, ``getATokenBurnScaledAmount``) and as much of its debt in the
        same asset (scaled rounded down, ``getVTokenBurnScaledAmount``); no token moves,
        so the pool's cash is unchanged (aave-dao/aave-v3-origin@4fbd7442
        ``BorrowLogic.executeRepay``: ``receiverOfUnderlying`` is the aToken itself)."""
        r = self._reserve(asset)
        if amount > self.supply_of(account_id, asset):
            raise LedgerError(f"{account_id} has less than {amount} of {asset} supplied")
        debt_scaled = self._burn_debt(account_id, asset, amount)
        supply_scaled = self._burn_supply(account_id, asset, amount)
        r.reserves_ray += supply_scaled * r.liquidity_index - debt_scaled * r.borrow_index

    def transfer_supply(self, source: str, target: str, asset: str, amount: int,
                        collateral_on_first: bool = True) -> None:
        """Move supplied balance between accounts: the scaled amount the source loses
        (rounded up, all of it at the full balance) is what the target gains, as an aToken
        transfer moves scaled balance (``TokenMath.getATokenTransferScaledAmount``,
        ``rayDivCeil``, aave-dao/aave-v3-origin@4fbd7442; ``transferOnLiquidation``)."""
        burned = self._burn_supply(source, asset, amount)
        _credit_supply(self._account(target).position(asset), burned, collateral_on_first)
        self._reserve(asset).scaled_supply += burned

    def pay_out_supply(self, account_id: str, asset: str, amount: int) -> None:
        """Burn supplied balance and pay its underlying out of the pool (to a liquidator)."""
        self.withdraw(account_id, asset, amount)

    def supply_to_treasury(self, account_id: str, asset: str, amount: int) -> None:
        """Move supplied balance from an account to the treasury."""
        r = self._reserve(asset)
        scaled = self._burn_supply(account_id, asset, amount)
        r.treasury += amount
        r.reserves_ray += scaled * r.liquidity_index - amount * RAY

    def write_off_debt(self, account_id: str, asset: str, amount: int | None = None) -> int:
        """Burn all of an account's debt in ``asset`` into the reserve deficit; return the
        deficit booked: the debt's balance, or ``amount`` when given (Aave books the
        liquidated asset's ``debt - debtRepaid`` unscaled, which can be one unit below the
        balance read back after the repayment's scaled burn)."""
        r = self._reserve(asset)
        account = self._account(account_id)
        pos = account.position(asset)
        if amount is None:
            amount = self.debt_of(account_id, asset)
        if amount < 0:
            raise LedgerError(f"cannot write off a negative debt {amount} of {asset}")
        scaled = pos.scaled_debt
        pos.scaled_debt = 0
        r.scaled_debt -= scaled
        r.deficit += amount
        r.bad_debt += amount
        r.reserves_ray += amount * RAY - scaled * r.borrow_index
        account.prune()
        return amount

    def absorb_debt(self, account_id: str, asset: str) -> int:
        """Cancel all of an account's debt at the reserves' expense (Compound III)."""
        r = self._reserve(asset)
        account = self._account(account_id)
        pos = account.position(asset)
        amount = self.debt_of(account_id, asset)
        r.scaled_debt -= pos.scaled_debt
        r.reserves_ray -= pos.scaled_debt * r.borrow_index
        pos.scaled_debt = 0
        account.prune()
        return amount

    def seize_supply(self, account_id: str, asset: str) -> int:
        """Move all of an account's supply of ``asset`` into protocol reserves; return it."""
        r = self._reserve(asset)
        amount = self.supply_of(account_id, asset)
        scaled = self._burn_supply(account_id, asset, amount)
        r.reserves_ray += scaled * r.liquidity_index
        return amount

    def credit_supply(self, account_id: str, asset: str, amount: int) -> None:
        """Credit supplied balance paid for by the reserves (Compound III absorb surplus)."""
        r = self._reserve(asset)
        scaled = div(amount * RAY, r.liquidity_index, Rounding.DOWN)
        _credit_supply(self._account(account_id).position(asset), scaled)
        r.scaled_supply += scaled
        r.reserves_ray -= scaled * r.liquidity_index

    def fund_from_protocol(self, asset: str, amount: int) -> None:
        """Add protocol-owned tokens to the pool (booked as reserves)."""
        r = self._reserve(asset)
        r.cash += amount
        r.reserves_ray += amount * RAY

    def absorb_debt_amount(self, account_id: str, asset: str, amount: int) -> None:
        """Cancel ``amount`` of an account's debt at the reserves' expense (an auction
        takes the debt over); rounding of the scaled burn favours the protocol."""
        r = self._reserve(asset)
        scaled = self._burn_debt(account_id, asset, amount)
        r.reserves_ray -= scaled * r.borrow_index

    def seize_supply_amount(self, account_id: str, asset: str, amount: int) -> None:
        """Move ``amount`` of an account's supply into protocol reserves (auction lot)."""
        r = self._reserve(asset)
        scaled = self._burn_supply(account_id, asset, amount)
        r.reserves_ray += scaled * r.liquidity_index

    def pay_out_reserves(self, asset: str, amount: int) -> None:
        """The protocol pays ``amount`` of reserve-owned tokens out (keeper incentives, an
        auction's collateral to its buyer)."""
        r = self._reserve(asset)
        if amount > r.cash:
            raise LedgerError(f"the pool holds only {r.cash} of {asset}")
        r.cash -= amount
        r.reserves_ray -= amount * RAY

    def receive_into_reserves(self, asset: str, amount: int) -> None:
        """Tokens paid to the protocol (an auction bid) become reserves."""
        r = self._reserve(asset)
        r.cash += amount
        r.reserves_ray += amount * RAY

    def reserves_to_deficit(self, asset: str, amount: int) -> None:
        """Recognise ``amount`` of a reserve shortfall as bad debt (deficit)."""
        r = self._reserve(asset)
        r.reserves_ray += amount * RAY
        r.deficit += amount
        r.bad_debt += amount

    def record_bad_debt(self, asset: str, amount: int) -> None:
        """Count bad debt absorbed by reserves (reporting only; balances already moved)."""
        self._reserve(asset).bad_debt += amount

    def sell_from_reserves(self, asset_out: str, amount_out: int, asset_in: str,
                           amount_in: int) -> None:
        """The protocol sells ``amount_out`` of reserve-owned collateral for ``amount_in``."""
        r_out = self._reserve(asset_out)
        r_in = self._reserve(asset_in)
        if amount_out > r_out.cash:
            raise LedgerError(f"the pool holds only {r_out.cash} of {asset_out}")
        r_out.cash -= amount_out
        r_out.reserves_ray -= amount_out * RAY
        r_in.cash += amount_in
        r_in.reserves_ray += amount_in * RAY

    # ------------------------------------------------------------------ perp primitives
    def perp_quote_of(self, account_id: str) -> int:
        """An account's perp quote balance."""
        account = self.accounts.get(account_id)
        return account.perp_quote if account else 0

    def perp_size(self, account_id: str, market: str) -> int:
        """An account's signed position size in ``market``."""
        account = self.accounts.get(account_id)
        pos = account.perps.get(market) if account else None
        return pos.size if pos else 0

    def deposit_quote(self, account_id: str, amount: int) -> None:
        """Quote tokens come into the clearing, credited to the account's perp balance."""
        self._clearing().cash += amount
        self._account(account_id).perp_quote += amount

    def withdraw_quote(self, account_id: str, amount: int) -> None:
        """Quote tokens leave the clearing from the account's perp balance."""
        account = self._account(account_id)
        if amount > account.perp_quote:
            raise LedgerError(f"{account_id} has only {account.perp_quote} of perp quote")
        clearing = self._clearing()
        if amount > clearing.cash:
            raise LedgerError(f"the clearing holds only {clearing.cash} of quote")
        clearing.cash -= amount
        account.perp_quote -= amount

    def move_quote(self, source: str, target: str, amount: int) -> None:
        """Move perp quote between accounts (owner to isolated sub-account and back)."""
        src = self._account(source)
        if amount > src.perp_quote:
            raise LedgerError(f"{source} has only {src.perp_quote} of perp quote")
        src.perp_quote -= amount
        self._account(target).perp_quote += amount

    def quote_from_supply(self, account_id: str, asset: str, amount: int) -> None:
        """Settle a negative perp balance from the account's supplied quote asset: the
        tokens leave the lending pool and enter the clearing."""
        self.withdraw(account_id, asset, amount)
        self._clearing().cash += amount
        self._account(account_id).perp_quote += amount

    def fund_insurance(self, amount: int, market: str | None = None) -> None:
        """External quote tokens into an insurance fund (a market's or the shared one)."""
        clearing = self._clearing()
        clearing.cash += amount
        if market is None:
            clearing.insurance += amount
        else:
            clearing.markets[market].insurance += amount

    def insurance_of(self, market: str | None) -> int:
        """The balance of a market's insurance fund (``None``: the shared one)."""
        if market is None:
            return self.clearing.insurance
        return self.clearing.markets[market].insurance

    def pay_from_insurance(self, account_id: str, amount: int, market: str | None) -> None:
        """The insurance fund covers ``amount`` of an account's loss."""
        if amount > self.insurance_of(market):
            raise LedgerError(f"the insurance fund holds only {self.insurance_of(market)}")
        clearing = self._clearing()
        if market is None:
            clearing.insurance -= amount
        else:
            clearing.markets[market].insurance -= amount
        clearing.insurance_drawdown += amount
        self._account(account_id).perp_quote += amount

    def fee_to_insurance(self, account_id: str, amount: int, market: str | None) -> None:
        """An account pays a fee into an insurance fund."""
        clearing = self._clearing()
        self._account(account_id).perp_quote -= amount
        if market is None:
            clearing.insurance += amount
        else:
            clearing.markets[market].insurance += amount

    def socialize(self, bankrupt: str, shares: dict[str, int]) -> None:
        """Cover a bankrupt account's loss by haircuts on other accounts' perp balances."""
        total = sum(shares.values())
        for account_id, share in sorted(shares.items()):
            self._account(account_id).perp_quote -= share
        self._account(bankrupt).perp_quote += total
        self._clearing().socialized_loss += total

    def write_off_perp(self, account_id: str, amount: int) -> None:
        """Record a loss nobody covered: the clearing's deficit."""
        self._account(account_id).perp_quote += amount
        self._clearing().deficit += amount

    def settle_funding(self, account_id: str, market: str, base_unit: int) -> int:
        """Settle a position's funding since its last settlement; return what it paid.

        The clearing's pool is the counterparty of every payment, so payments and receipts
        settled at different times never create quote; rounding is against the position.
        """
        account = self.accounts.get(account_id)
        pos = account.perps.get(market) if account else None
        state = self.clearing.markets[market]
        if pos is None or pos.funding_index == state.funding_index:
            return 0
        account = self._account(account_id)
        pos = account.perps[market]
        paid = funding_payment(pos.size, state.funding_index, pos.funding_index, base_unit)
        pos.funding_index = state.funding_index
        account.perp_quote -= paid
        self._clearing().fee_pool += paid
        return paid

    def accrue_funding(self, market: str, delta_index: int, time: int) -> None:
        """Move a market's cumulative funding index (longs pay when it rises)."""
        state = self._clearing().markets[market]
        state.funding_index += delta_index
        state.last_funding_time = time

    def record_trade(self, market: str, price: int, basis_ema_ppm: int) -> None:
        """Remember a market's last trade price and basis average (mark price inputs)."""
        state = self._clearing().markets[market]
        state.last_trade_price = price
        state.basis_ema_ppm = basis_ema_ppm

    def record_partial_liquidation(self, account_id: str) -> None:
        """Remember now as the last partial liquidation of ``account_id``'s owner (the
        start of Hyperliquid's cooldown, :attr:`PerpClearing.partial_liquidations`)."""
        self._clearing().partial_liquidations[owner_of(account_id)] = self.time

    def partial_liquidation_time(self, account_id: str) -> int | None:
        """When ``account_id``'s owner was last partially liquidated (``None``: never)."""
        return self.clearing.partial_liquidations.get(owner_of(account_id))

    def block_liquidation_of(self, account_id: str) -> BlockLiquidation:
        """What ``account_id`` was liquidated for in the current block (dYdX v4's
        ``GetSubaccountLiquidationInfo``: empty if nothing)."""
        return self.clearing.block_liquidations.get(account_id, BlockLiquidation())

    def record_block_liquidation(self, account_id: str, info: BlockLiquidation) -> None:
        """Store what ``account_id`` has been liquidated for in the current block
        (journalled; forgotten when the clock moves)."""
        self._clearing().block_liquidations[account_id] = info

    def add_volume(self, market: str, liquidated: int = 0, adl: int = 0) -> None:
        """Count liquidated and auto-deleveraged notional (reporting)."""
        state = self._clearing().markets[market]
        state.liquidated_volume += liquidated
        state.adl_volume += adl

    def fill(self, account_id: str, market: str, size: int, price: int, base_unit: int,
             quote_unit: int) -> int:
        """One side of a trade: ``size`` (signed) at ``price``; return the quote flow.

        The account pays ``size x price`` rounded against it (buying rounds up, selling
        down); the clearing's pool is the counterparty of each side, so a whole trade
        leaves the pool the rounding and never creates quote. Settle funding first.
        """
        flow = -quote_value(size, price, base_unit, quote_unit,
                            Rounding.UP if size > 0 else Rounding.DOWN)
        return self.fill_quote(account_id, market, size, flow)

    def fill_quote(self, account_id: str, market: str, size: int, flow: int) -> int:
        """One side of a trade of ``size`` (signed) for an exact quote ``flow`` (what the
        account receives; negative: pays); return ``flow``.

        For fills whose quote a protocol gives in quote smallest units rather than as a
        price (dYdX v4's deleveraging at ``GetBankruptcyPriceInQuoteQuantums``). The pool is
        the counterparty as in :meth:`fill`: two sides of opposite flows leave it
        unchanged. Settle funding first.
        """
        account = self._account(account_id)
        clearing = self._clearing()
        state = clearing.markets[market]
        account.perp_quote += flow
        clearing.fee_pool -= flow
        pos = account.perp(market)
        old = pos.size
        if old == 0:
            pos.funding_index = state.funding_index
        new = old + size
        if old == 0 or (old > 0) == (size > 0):
            pos.cost += flow
        else:
            closed = min(abs(size), abs(old))
            released = pos.cost * closed // abs(old)
            closed_flow = flow * closed // abs(size)
            # The closed part's cost leaves the position, its flow beyond that cost is
            # realized PnL; a flip opens the remainder at this price.
            pos.realized_pnl += closed_flow + released
            pos.cost = pos.cost - released + (flow - closed_flow)
        pos.size = new
        if new == 0:
            pos.cost = 0
        state.open_interest += max(new, 0) - max(old, 0)
        account.prune()
        return flow

    # ------------------------------------------------------------------ time and rates
    def update_rates(self, asset: str) -> None:
        """Recompute an asset's borrow and supply rates from its current utilization."""
        r = self._reserve(asset)
        model = self.comet_interest
        if model is not None and asset == self.comet_base:
            # Comet: utilization of the floored present values, per-second rates; held
            # as yearly rays (per second x SECONDS_PER_YEAR x 1e9, exact) like the others.
            usage = comet_utilization(r.scaled_supply * r.liquidity_index // RAY,
                                      r.scaled_debt * r.borrow_index // RAY)
            supply = comet_rate(usage, model.scaled("supply_kink"),
                                model.per_second("supply_base"),
                                model.per_second("supply_slope_low"),
                                model.per_second("supply_slope_high"))
            borrow = comet_rate(usage, model.scaled("borrow_kink"),
                                model.per_second("borrow_base"),
                                model.per_second("borrow_slope_low"),
                                model.per_second("borrow_slope_high"))
            r.borrow_rate = borrow * _COMET_RATE_TO_RAY_YEAR
            r.liquidity_rate = supply * _COMET_RATE_TO_RAY_YEAR
            return
        market = self.config.markets[asset]
        curve, debt, cash = market.interest_rate, r.total_debt(), r.cash
        factor, unbacked = market.reserve_factor_bps, \
            r.deficit if self.deficit_in_supply_usage else 0
        # ``rates`` is a pure function of these: an event after an accrual (AdvanceTime
        # updates every reserve, then the engine the reserves it touched) or one leaving
        # the totals as they were reads the last answer instead of computing it again.
        last = self._last_rates.get(asset)
        if last is not None and last[0] is curve and last[1] == debt and last[2] == cash \
                and last[3] == factor and last[4] == unbacked:
            r.borrow_rate, r.liquidity_rate = last[5]
            return
        answer = rates(curve, debt, cash, factor, unbacked)
        self._last_rates[asset] = (curve, debt, cash, factor, unbacked, answer)
        r.borrow_rate, r.liquidity_rate = answer

    def advance(self, seconds: int) -> None:
        """Accrue interest on every reserve over ``seconds`` and move the clock."""
        for asset in sorted(self.reserves):
            self._accrue(asset, seconds)
        self.time += seconds
        if seconds and self.clearing.block_liquidations:
            # A new block: dYdX's transient store of subaccount liquidation info is reset.
            self._clearing().block_liquidations.clear()
        for asset in sorted(self.reserves):
            self.update_rates(asset)

    def _accrue(self, asset: str, seconds: int) -> None:
        r = self._reserve(asset)
        market = self.config.markets[asset]
        old_li, old_bi = r.liquidity_index, r.borrow_index
        self.index_epoch += 1
        if self.comet_interest is not None and asset == self.comet_base:
            # Comet's accruedInterestIndices: both indices grow whatever the totals.
            r.liquidity_index = COMET_INDEX_TO_RAY * comet_accrue_index(
                old_li // COMET_INDEX_TO_RAY, r.liquidity_rate // _COMET_RATE_TO_RAY_YEAR,
                seconds)
            r.borrow_index = COMET_INDEX_TO_RAY * comet_accrue_index(
                old_bi // COMET_INDEX_TO_RAY, r.borrow_rate // _COMET_RATE_TO_RAY_YEAR,
                seconds)
        else:
            if r.liquidity_rate:
                r.liquidity_index = grow_index(old_li,
                                               linear_interest(r.liquidity_rate, seconds))
            if r.scaled_debt and r.borrow_rate:
                r.borrow_index = grow_index(
                    old_bi, compounded_interest(r.borrow_rate, seconds, self.compounding)
                )
        debt_growth_ray = r.scaled_debt * (r.borrow_index - old_bi)
        supply_growth_ray = r.scaled_supply * (r.liquidity_index - old_li)
        to_treasury = 0
        if self.treasury_takes_reserve_factor:
            if self.treasury_accrual_floor:
                # v3.5+ ReserveLogic._accrueToTreasury: undermint, rayMulFloor of the delta.
                accrued = ray_mul(r.scaled_debt, r.borrow_index - old_bi, Rounding.DOWN)
            else:
                accrued = (ray_mul(r.scaled_debt, r.borrow_index)
                           - ray_mul(r.scaled_debt, old_bi))
            to_treasury = bps_mul(accrued, market.reserve_factor_bps)
            r.treasury += to_treasury
        r.reserves_ray += debt_growth_ray - supply_growth_ray - to_treasury * RAY

    # ------------------------------------------------------------------ invariants
    def check_conservation(self) -> None:
        """Raise :class:`InvariantViolation` unless every asset's books balance exactly.

        Checks, per asset: the accounting identity of :class:`ReserveState` in ray units;
        that the scaled totals equal the sums over accounts; that cash, treasury and deficit
        are non-negative.
        """
        problems = []
        sums: dict[str, list[int]] = {a: [0, 0] for a in self.reserves}
        quote_total = 0
        sizes: dict[str, list[int]] = {m: [0, 0] for m in self.clearing.markets}
        for account in self.accounts.values():
            quote_total += account.perp_quote
            for market, perp in account.perps.items():
                sizes[market][0] += perp.size
                sizes[market][1] += max(perp.size, 0)
            for asset, pos in account.lending.items():
                sums[asset][0] += pos.scaled_supply
                sums[asset][1] += pos.scaled_debt
                if pos.scaled_supply < 0 or pos.scaled_debt < 0:
                    problems.append(f"{account.id}.{asset}: negative scaled balance")
        for asset, r in sorted(self.reserves.items()):
            problems.extend(self._reserve_problems(r))
            if sums[asset] != [r.scaled_supply, r.scaled_debt]:
                problems.append(
                    f"{asset}: scaled totals {r.scaled_supply}/{r.scaled_debt} differ from "
                    f"the accounts' {sums[asset][0]}/{sums[asset][1]}"
                )
        if self._clearing_claims(self.clearing) != quote_total:
            problems.append(
                f"perp clearing out of balance: claims {self._clearing_claims(self.clearing)}"
                f" against perp balances {quote_total}"
            )
        for market, (net, longs) in sorted(sizes.items()):
            if net:
                problems.append(f"{market}: sizes sum to {net}, not 0")
            if longs != self.clearing.markets[market].open_interest:
                problems.append(f"{market}: open interest "
                                f"{self.clearing.markets[market].open_interest} differs "
                                f"from the long sizes {longs}")
        problems.extend(self._clearing_sign_problems())
        if problems:
            raise InvariantViolation("; ".join(problems))

    def check_transaction(self) -> None:
        """Check the open transaction's changes in O(what it touched).

        Equivalent to :meth:`check_conservation` when the state before the transaction
        passed it: for every touched asset the accounting identity holds exactly and
        cash, treasury and deficit are non-negative, and the change of its scaled totals
        equals the sum of the touched accounts' changes. Raises
        :class:`InvariantViolation`.
        """
        if self._saved_accounts is None:
            raise RuntimeError("check_transaction needs an open transaction")
        problems = []
        deltas: dict[str, list[int]] = {a: [0, 0] for a in self._saved_reserves}
        no_positions: dict[str, LendingPosition] = {}
        for account_id, saved in self._saved_accounts.items():
            now = self.accounts.get(account_id)
            now_lending = now.lending if now else no_positions
            old_lending = saved.lending if saved else no_positions
            # One set of the assets either side holds (this runs after every event).
            for asset in now_lending.keys() | old_lending.keys():
                new = now_lending.get(asset)
                old = old_lending.get(asset)
                d_supply = (new.scaled_supply if new else 0) - (old.scaled_supply if old else 0)
                d_debt = (new.scaled_debt if new else 0) - (old.scaled_debt if old else 0)
                if new is not None and (new.scaled_supply < 0 or new.scaled_debt < 0):
                    problems.append(f"{account_id}.{asset}: negative scaled balance")
                if (d_supply or d_debt) and asset not in deltas:
                    problems.append(f"{account_id}.{asset}: changed without its reserve")
                    continue
                if asset in deltas:
                    deltas[asset][0] += d_supply
                    deltas[asset][1] += d_debt
        problems.extend(self._perp_transaction_problems())
        for asset, before in sorted(self._saved_reserves.items()):
            r = self.reserves[asset]
            problems.extend(self._reserve_problems(r))
            moved = [r.scaled_supply - before.scaled_supply, r.scaled_debt - before.scaled_debt]
            if moved != deltas[asset]:
                problems.append(
                    f"{asset}: scaled totals moved {moved[0]}/{moved[1]} but the accounts "
                    f"moved {deltas[asset][0]}/{deltas[asset][1]}"
                )
        if problems:
            raise InvariantViolation("; ".join(problems))

    @staticmethod
    def _clearing_claims(c: PerpClearing) -> int:
        """The clearing's identity, rearranged: zero when it holds (given sum(perp_quote))."""
        return (c.cash + c.deficit - c.insurance - c.fee_pool
                - sum(m.insurance for m in c.markets.values()))

    def _perp_transaction_problems(self) -> list[str]:
        assert self._saved_accounts is not None
        d_quote = 0
        d_size: dict[str, int] = {m: 0 for m in self.clearing.markets}
        d_long: dict[str, int] = {m: 0 for m in self.clearing.markets}
        for account_id, saved in self._saved_accounts.items():
            now = self.accounts.get(account_id)
            d_quote += (now.perp_quote if now else 0) - (saved.perp_quote if saved else 0)
            for m in d_size:
                new = now.perps[m].size if now and m in now.perps else 0
                old = saved.perps[m].size if saved and m in saved.perps else 0
                d_size[m] += new - old
                d_long[m] += max(new, 0) - max(old, 0)
        before = self._saved_clearing or self.clearing
        problems = []
        # An untouched clearing (no copy saved) moved by nothing; the accounts' side must
        # then have moved by nothing either.
        moved = 0 if before is self.clearing else \
            self._clearing_claims(self.clearing) - self._clearing_claims(before)
        if moved != d_quote:
            problems.append(f"perp clearing: balances moved {d_quote} but the clearing "
                            f"moved {moved}")
        for m, state in sorted(self.clearing.markets.items()):
            if d_size[m]:
                problems.append(f"{m}: sizes moved by {d_size[m]} in total, not 0")
            if state.open_interest - before.markets[m].open_interest != d_long[m]:
                problems.append(f"{m}: open interest out of step with the long sizes")
        problems.extend(self._clearing_sign_problems())
        return problems

    def _clearing_sign_problems(self) -> list[str]:
        # Plain comparisons (no getattr by name, no sort of an empty market table): this
        # runs after every event.
        c = self.clearing
        problems = []
        if c.cash < 0:
            problems.append("perp clearing: negative cash")
        if c.insurance < 0:
            problems.append("perp clearing: negative insurance")
        if c.markets:
            problems.extend(f"{m}: negative insurance fund"
                            for m, st in sorted(c.markets.items()) if st.insurance < 0)
        return problems

    @staticmethod
    def _reserve_problems(r: ReserveState) -> list[str]:
        problems = []
        imbalance = r.imbalance_ray()
        if imbalance != 0:
            problems.append(f"{r.asset}: books out of balance by {imbalance} ray")
        # cash, treasury and deficit, in that order, read as attributes (not by name).
        if r.cash < 0:
            problems.append(f"{r.asset}: negative cash {r.cash}")
        if r.treasury < 0:
            problems.append(f"{r.asset}: negative treasury {r.treasury}")
        if r.deficit < 0:
            problems.append(f"{r.asset}: negative deficit {r.deficit}")
        return problems

    def state_dict(self) -> dict[str, object]:
        """The full state as plain data (sorted), for hashing and snapshots."""
        return self._state_dict([self.accounts[a].as_dict() for a in sorted(self.accounts)])

    def _state_dict(self, accounts: list[object]) -> dict[str, object]:
        """:meth:`state_dict` with ``accounts`` as its accounts (the one layout of it)."""
        return {
            "time": self.time,
            "reserves": {a: r.as_dict() for a, r in sorted(self.reserves.items())},
            "accounts": accounts,
            "clearing": self.clearing.as_dict(),
        }

    def state_hash(self, extra: dict[str, object] | None = None) -> str:
        """SHA-256 over the canonical JSON of the full state (and ``extra``).

        After :meth:`reuse_hash_pieces`, the same bytes are hashed, with the JSON of each
        account written since the last hash made again and the others reused.
        """
        extra = extra or {}
        if "ledger" in extra:
            raise ValueError("state_hash: 'ledger' is the ledger's own part of the hash")
        if self._hash_pieces is None:
            payload = {"ledger": self.state_dict(), **extra}
            return hashlib.sha256(_canonical_json(payload).encode()).hexdigest()
        parts = {k: _canonical_json(v) for k, v in extra.items()}
        parts["ledger"] = self._ledger_json()
        blob = "{" + ",".join(f"{_canonical_json(k)}:{parts[k]}" for k in sorted(parts)) + "}"
        return hashlib.sha256(blob.encode()).hexdigest()

    def reuse_hash_pieces(self) -> None:
        """Keep each account's canonical JSON between :meth:`state_hash` calls, and write
        it again only for an account whose version moved (or that was replaced): the
        same hash, for a fraction of the work when few accounts change between hashes (a
        live service asked for its hash after each tick). The pieces cost memory of the
        order of the JSON of the whole ledger, so a run that hashes once does not ask."""
        if self._hash_pieces is None:
            self._hash_pieces = {}

    @property
    def hash_pieces_held(self) -> int | None:
        """How many accounts' JSON :meth:`reuse_hash_pieces` keeps now (``None``: not
        asked)."""
        return None if self._hash_pieces is None else len(self._hash_pieces)

    def _ledger_json(self) -> str:
        """The canonical JSON of :meth:`state_dict`, built from the kept pieces."""
        kept = self._hash_pieces
        assert kept is not None
        versions, accounts = self._versions, self.accounts
        texts: list[str] = []
        for account_id in sorted(accounts):
            account = accounts[account_id]
            version = versions.get(account_id, 0)
            piece = kept.get(account_id)
            # Every write reaches an account through _account, which bumps its version
            # first; a rollback puts back another object (and bumps too): a piece of the
            # same object at the same version is the account as it is now.
            if piece is None or piece[0] is not account or piece[1] != version:
                piece = kept[account_id] = (account, version,
                                            _canonical_json(account.as_dict()))
            texts.append(piece[2])
        if len(kept) != len(accounts):
            # Accounts no longer held (pruned, rolled back) leave their pieces.
            for gone in [a for a in kept if a not in accounts]:
                del kept[gone]
        # The rest of state_dict written with no accounts, which sort first among its
        # keys: the accounts' pieces go in the empty list that opens it.
        rest = _canonical_json(self._state_dict([]))
        opening = '{"accounts":[]'
        assert rest.startswith(opening), rest[:40]
        return f'{{"accounts":[{",".join(texts)}]{rest[len(opening):]}'


def _canonical_json(value: object) -> str:
    """The state hash's JSON: keys sorted, no spaces (ASCII, as json.dumps writes)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _credit_supply(pos: LendingPosition, scaled: int, collateral_on_first: bool = True) -> None:
    """Credit scaled supply; a first supply (from a balance of 0) sets the position's
    collateral switch to ``collateral_on_first``, as Aave's ``executeSupply`` and
    ``transferOnLiquidation`` to a liquidator do after ``validateAutomaticUseAsCollateral``
    (the margin model still gives a market that is not collateral no value)."""
    if pos.scaled_supply == 0:
        pos.use_as_collateral = collateral_on_first
    pos.scaled_supply += scaled
