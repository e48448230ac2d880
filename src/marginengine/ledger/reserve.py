"""Per-asset pool state: indices, scaled totals, cash, treasury, reserves and deficit."""

from __future__ import annotations

from dataclasses import dataclass

from marginengine.fixedpoint import RAY


@dataclass
class ReserveState:
    """What the protocol holds and owes in one asset.

    The accounting identity, exact in ray units, that :meth:`Ledger.check_conservation`
    verifies after every event::

        cash*RAY + scaled_debt*borrow_index + deficit*RAY
            == scaled_supply*liquidity_index + treasury*RAY + reserves_ray

    Attributes
    ----------
    liquidity_index, borrow_index
        Ray indices; an account's balance is its scaled amount times the index.
    scaled_supply, scaled_debt
        Sums of the accounts' scaled amounts (checked against the accounts).
    cash
        Tokens the protocol holds (what a ``balanceOf`` of the pool would read).
    treasury
        Protocol income claimed by the treasury: the reserve factor on interest and the
        protocol fee on liquidation bonuses (Aave's ``accruedToTreasury``, unscaled here).
    reserves_ray
        Signed protocol surplus in ray units: rounding dust (always in the protocol's
        favour), the gap between compounded borrow and linear supply interest, Compound III's
        spread, and what ``absorb`` costs it. Compound III's reserves may go negative.
    deficit
        Debt written off as bad debt and not yet covered (Aave v3.3's reserve deficit).
    bad_debt
        Cumulative bad debt ever recognised in this asset (deficit created, or absorbed by
        Compound III reserves), for reporting.
    isolation_mode_total_debt
        Aave v3.3/v3.5's ``isolationModeTotalDebt`` of an isolated collateral: the debt
        borrowed against it, in base-currency cents (``DEBT_CEILING_DECIMALS`` = 2).
    liquidation_grace_period_until
        Aave v3.1+'s ``liquidationGracePeriodUntil`` (seconds; liquidations involving the
        reserve are refused until a time after it; 0: none).
    active, frozen, paused
        Aave's reserve flags (``ReserveConfiguration.getFlags``), set by the pool
        configurator's ``setReserveActive``, ``setReserveFreeze`` and
        ``setReservePause``/``setPoolPause``; the validations of each action read them
        (:mod:`marginengine.margin.reserve_flags`). Active, not frozen, not paused by
        default.
    pending_ltv_bps
        The configurator's ``_pendingLtv``: the LTV a freeze put aside (bps; 0: none).
    """

    asset: str
    liquidity_index: int = RAY
    borrow_index: int = RAY
    scaled_supply: int = 0
    scaled_debt: int = 0
    cash: int = 0
    treasury: int = 0
    reserves_ray: int = 0
    deficit: int = 0
    bad_debt: int = 0
    borrow_rate: int = 0
    liquidity_rate: int = 0
    isolation_mode_total_debt: int = 0
    liquidation_grace_period_until: int = 0
    active: bool = True
    frozen: bool = False
    paused: bool = False
    pending_ltv_bps: int = 0

    def copy(self) -> ReserveState:
        """A copy (every field is an int or the symbol: a shallow copy is a full one),
        made without ``dataclasses.replace``'s per-field work: the ledger journals one per
        touched reserve per event."""
        new = object.__new__(ReserveState)
        new.__dict__.update(self.__dict__)
        return new

    @property
    def reserves(self) -> int:
        """Protocol surplus in whole smallest units (floored)."""
        return self.reserves_ray // RAY

    def present_value_reserves(self) -> int:
        """Comet's ``getReserves``: the balance less what suppliers are owed plus what
        borrowers owe, each a floored present value (``presentValueSupply``,
        ``presentValueBorrow``; compound-finance/comet ``contracts/Comet.sol``). It can be
        one unit above :attr:`reserves`, which floors the exact sum once."""
        return (self.cash - self.treasury - self.scaled_supply * self.liquidity_index // RAY
                + self.scaled_debt * self.borrow_index // RAY)

    def total_supply(self) -> int:
        """What suppliers are owed in total, rounded down."""
        return self.scaled_supply * self.liquidity_index // RAY

    def total_debt(self) -> int:
        """What borrowers owe in total, rounded up."""
        return -(-self.scaled_debt * self.borrow_index // RAY)

    def imbalance_ray(self) -> int:
        """Left side minus right side of the accounting identity; zero when it holds."""
        return (
            self.cash * RAY
            + self.scaled_debt * self.borrow_index
            + self.deficit * RAY
            - self.scaled_supply * self.liquidity_index
            - self.treasury * RAY
            - self.reserves_ray
        )

    def as_dict(self) -> dict[str, int | str]:
        """All fields, for hashing and snapshots (the isolation-mode debt, the grace
        period, the flags and the pending LTV only when not at their defaults, so a state
        without them hashes as before they existed)."""
        out: dict[str, int | str] = {
            "asset": self.asset,
            "liquidity_index": self.liquidity_index,
            "borrow_index": self.borrow_index,
            "scaled_supply": self.scaled_supply,
            "scaled_debt": self.scaled_debt,
            "cash": self.cash,
            "treasury": self.treasury,
            "reserves_ray": self.reserves_ray,
            "deficit": self.deficit,
            "bad_debt": self.bad_debt,
            "borrow_rate": self.borrow_rate,
            "liquidity_rate": self.liquidity_rate,
        }
        if self.isolation_mode_total_debt:
            out["isolation_mode_total_debt"] = self.isolation_mode_total_debt
        if self.liquidation_grace_period_until:
            out["liquidation_grace_period_until"] = self.liquidation_grace_period_until
        if not self.active:
            out["active"] = 0
        if self.frozen:
            out["frozen"] = 1
        if self.paused:
            out["paused"] = 1
        if self.pending_ltv_bps:
            out["pending_ltv_bps"] = self.pending_ltv_bps
        return out
