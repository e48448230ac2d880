"""A plain NumPy float twin of the benchmark's cascade (one collateral, one debt asset, a
constant-product AMM, close-factor keepers), for speed comparison only.

It models what decides the exact run's cascade, in the exact run's order, with floats:

- **interest**: the debt grows each step by the borrow rate the reserve had after set-up
  (held constant; the exact engine's rate moves a little as liquidations repay debt);
- **arbitrage**: the pool's mid moves ``speed`` of the way, in price, to the near edge of
  the fee band around the external price (``venue.arbitrage``), the trade on the pool's
  curve with the fee left in the pool;
- **oracle**: the external price (a ``direct`` oracle); the accounts whose health factor
  is below 1 at it are the step's list, in id order (the scan's sorted ids);
- **keepers**, one pass each over that list (both keepers of the benchmark act alike:
  no latency, no minimum profit, enough capital or a flash loan): an account still
  below 1 is offered its whole debt (or what leaves the minimum leftover); the close
  factor (50% of the debt, 100% at or below 0.95 or under 2,000 USD), the bonus, the
  protocol's fee out of the bonus, the cap at the account's collateral and the
  leftover-dust rule size the liquidation; the largest chunk must pay at the lower of the
  oracle and the pool's mid; then the first of the offer, half of it, a quarter, ...
  (eight rungs) whose collateral, sold on the pool now (its slippage and fee), pays for
  the debt and the gas; the seized collateral is sold on the pool at once, so the next
  account sees the lower price;
- **bad debt**: the debt left when a liquidation takes the last collateral, plus, at the
  end, what the accounts below 1 owe beyond their collateral at the oracle price.

Not modelled: integer rounding (amounts are floats), the rate's move with utilization.
What makes it fast: the accounts are kept sorted by the price (over the debt's index) at
which each falls below 1, so a step's list is a binary search, not a vector of health
factors (the accounts liquidated since the sort are read apart, and the sort redone when
they are many); a vector pre-screen drops the listed accounts whose largest chunk cannot
pay at the step's first mid (sales within a step only lower it, and an untouched account
keeps its figures); the pool's closed-form surplus bound (``AssetMarket.
sale_surplus_bound``) ends a step once no sale can pay for the gas; the survivors are
decided one by one, since each sale moves the price
the next decision sees, and the second keeper revisits only what the first liquidated
(it would refuse again what the first refused: the pool has only been sold into since).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

#: Rungs of the keepers' ladder (``liquidation.ladder.RUNGS``).
RUNGS = 8


@dataclass
class FloatTwin:
    """The twin's state (whole tokens, USD)."""

    collateral: FloatArray        # collateral tokens per account
    debt: FloatArray              # debt (USD) per account, at the set-up's index
    threshold: float              # liquidation threshold (0.83)
    bonus: float                  # liquidation bonus (1.05)
    protocol_fee: float           # protocol's share of the bonus (0.10)
    base_reserve: float           # AMM base (collateral tokens)
    quote_reserve: float          # AMM quote (USD)
    fee: float                    # AMM fee (0.003)
    speed: float                  # arbitrage speed
    borrow_rate: float = 0.0      # yearly, simple per step (as the set-up's reserve)
    step_seconds: float = 60.0
    close_factor: float = 0.5
    close_factor_hf: float = 0.95
    full_close_below_usd: float = 2_000.0   # min_base_max_close_factor_threshold
    min_leftover_usd: float = 1_000.0
    keepers: int = 2
    liquidations: int = 0
    collateral_seized: float = 0.0          # tokens (liquidator's share and protocol fee)
    debt_repaid: float = 0.0                # USD
    deficit: float = 0.0                    # USD of debt left without collateral
    index: float = 1.0                      # the debt's growth since set-up
    oracle: float = 0.0
    #: Per account, the ratio of its price to the collateral price below which its health
    #: is under 1 (debt at the set-up's index over weighted collateral); sorted once, and
    #: the accounts liquidated since kept apart (rebuilt when there are many).
    _ratio: FloatArray = field(init=False, repr=False)
    _order: NDArray[np.intp] = field(init=False, repr=False)
    _sorted: FloatArray = field(init=False, repr=False)
    _moved: NDArray[np.bool_] = field(init=False, repr=False)
    _moved_rows: list[int] = field(init=False, repr=False, default_factory=list)

    def __post_init__(self) -> None:
        self._rebuild()

    def _rebuild(self) -> None:
        """Sort every account by the price-over-index at which it falls below 1."""
        self._ratio = np.full(len(self.debt), -np.inf)
        held = (self.debt > 0) & (self.collateral > 0)
        self._ratio[held] = self.debt[held] / (self.collateral[held] * self.threshold)
        self._ratio[(self.debt > 0) & ~held] = np.inf
        self._order = np.argsort(self._ratio, kind="stable")
        self._sorted = self._ratio[self._order]
        self._moved = np.zeros(len(self.debt), dtype=bool)
        self._moved_rows = []

    def below(self, price: float) -> NDArray[np.intp]:
        """Rows whose health at ``price`` is below 1, in id order: those whose ratio
        exceeds ``price / index`` (a binary search), the moved ones read apart."""
        x = price / self.index
        rows = self._order[np.searchsorted(self._sorted, x, side="right"):]
        if self._moved_rows:
            moved = np.array(self._moved_rows, dtype=np.intp)
            rows = np.concatenate([rows[~self._moved[rows]], moved[self._ratio[moved] > x]])
        return np.sort(rows)

    def arbitrage(self, external: float) -> None:
        """Move the pool's mid ``speed`` of the way to the fee band's near edge."""
        rb, rq, g = self.base_reserve, self.quote_reserve, 1.0 - self.fee
        mid = rq / rb
        k = rb * rq
        upper, lower = external / g, external * g
        if mid > upper:      # sell base x: (rb + g x)(rb + x) = k / target
            target = mid - self.speed * (mid - upper)
            b, c = (1 + g) * rb, rb * rb - k / target
            x = (-b + math.sqrt(b * b - 4 * g * c)) / (2 * g)
            self.quote_reserve = rq * rb / (rb + g * x)
            self.base_reserve = rb + x
        elif mid < lower:    # buy base with y: (rq + g y)(rq + y) = target k
            target = mid + self.speed * (lower - mid)
            b, c = (1 + g) * rq, rq * rq - target * k
            y = (-b + math.sqrt(b * b - 4 * g * c)) / (2 * g)
            self.base_reserve = rb * rq / (rq + g * y)
            self.quote_reserve = rq + y

    def surplus(self, cost: float) -> float:
        """The most any sale on the pool now earns over ``cost`` USD per token sold:
        ``(sqrt(Y) - sqrt(cost X / g))^2`` (``sim.markets.AssetMarket.
        sale_surplus_bound``), 0 when ``cost`` is at least the fee-adjusted mid."""
        g = 1.0 - self.fee
        x, y = self.base_reserve, self.quote_reserve
        if cost * x >= g * y:
            return 0.0
        gap = math.sqrt(y) - math.sqrt(cost * x / g)
        return gap * gap

    def step(self, external: float, gas_usd: float) -> int:
        """One step at the external price ``external`` and ``gas_usd`` per liquidation;
        returns the liquidations made."""
        self.index *= 1.0 + self.borrow_rate * self.step_seconds / 31_536_000
        self.arbitrage(external)
        price = self.oracle = external
        # Every chunk hands the liquidator ``keep / price`` tokens per USD repaid: when no
        # sale can earn the gas over that cost, no account's chunk pays this step (the
        # pool only falls within it).
        cost = price / (self.bonus - self.protocol_fee * (self.bonus - 1))
        if self.surplus(cost) < gas_usd:
            return 0
        # The step's list (id order): health below 1 at the oracle.
        below = self.below(price)
        if not len(below):
            return 0
        # Vector pre-screen: the largest chunk at the step's first mid (no later mid of
        # the step is higher, and an untouched account keeps its figures).
        coll, debt, index = self.collateral, self.debt, self.index
        mid0 = min(price, self.quote_reserve / self.base_reserve)
        d = debt[below] * index
        c = coll[below]
        hf = c * price * self.threshold / d
        keep = 1 - self.protocol_fee * (1 - 1 / self.bonus)
        cap = np.where((hf > self.close_factor_hf) & (c * price >= self.full_close_below_usd)
                       & (d >= self.full_close_below_usd), d * self.close_factor, d)
        seized = np.minimum(cap * self.bonus / price, c)
        repaid = np.minimum(cap, seized * price / self.bonus)
        pays = seized * keep * mid0 - repaid - gas_usd >= 0
        rows = below[pays].tolist()
        made = 0
        drained = False
        for _ in range(self.keepers):
            # The next keeper (alike, and seeing a pool only sold into since) would refuse
            # again every account this one refused: only those it liquidated are new.
            done = []
            for row in rows:
                if self._liquidate(row, price, gas_usd):
                    done.append(row)
                    if self.surplus(cost) < gas_usd:
                        drained = True  # no chunk of anyone pays at this pool any more
                        break
            made += len(done)
            rows = done
            if drained or not rows:
                break
        self.liquidations += made
        if len(self._moved_rows) > 256:
            self._rebuild()
        return made

    def step_plain(self, external: float, gas_usd: float) -> int:
        """:meth:`step` as a plain float model takes it (issue 11's twin as described:
        vector health factors every step, every account below 1 offered to every keeper
        in id order), with none of :meth:`step`'s shortcuts (no sorted thresholds, no
        pre-screen, no end of the step once the pool cannot pay, no memory of what the
        first keeper refused). The same decisions as :meth:`step` (those shortcuts are
        proven not to change one); returns the liquidations made."""
        self.index *= 1.0 + self.borrow_rate * self.step_seconds / 31_536_000
        self.arbitrage(external)
        price = self.oracle = external
        debt = self.debt * self.index
        with np.errstate(divide="ignore", invalid="ignore"):
            # No debt: inf (never below); debt without collateral: 0 (below).
            hf = self.collateral * price * self.threshold / debt
        rows = np.flatnonzero(hf < 1).tolist()
        made = 0
        for _ in range(self.keepers):
            for row in rows:
                made += self._liquidate(row, price, gas_usd)
        self.liquidations += made
        return made

    def _liquidate(self, row: int, price: float, gas: float) -> bool:
        """One keeper's decision on one account, and the liquidation and sale if it pays."""
        coll = float(self.collateral[row])
        debt = float(self.debt[row]) * self.index
        if coll <= 0 or debt <= 0:
            return False
        hf = coll * price * self.threshold / debt
        if hf >= 1:
            return False
        bonus, fee_share = self.bonus, self.protocol_fee * (1 - 1 / self.bonus)
        coll_value = coll * price
        cap = debt * self.close_factor if (
            hf > self.close_factor_hf and coll_value >= self.full_close_below_usd
            and debt >= self.full_close_below_usd) else debt
        floor = self.min_leftover_usd

        def plan(offer: float) -> tuple[float, float, float] | None:
            """(debt repaid, collateral seized, collateral to the liquidator) or refused."""
            actual = min(offer, cap)
            seized = actual * bonus / price
            if seized > coll:
                seized = coll
                actual = coll * price / bonus
            if actual < debt and seized < coll and (
                    debt - actual < floor or (coll - seized) * price < floor):
                return None   # would leave dust
            return actual, seized, seized * (1 - fee_share)

        offer = debt
        first = plan(offer)
        if first is None:
            offer = debt - floor
            first = plan(offer) if offer > 0 else None
            if first is None:
                return False
        rb, rq = self.base_reserve, self.quote_reserve
        g = 1.0 - self.fee
        # The largest chunk at the lower of the oracle and the mid, without slippage.
        if first[2] * min(price, rq / rb) - first[0] - gas < 0:
            return False
        for k in range(RUNGS):
            chunk = first if k == 0 else plan(offer / 2**k)
            if chunk is None:
                continue
            repaid, seized, to_liquidator = chunk
            sold = g * to_liquidator
            proceeds = sold * rq / (rb + sold)
            if proceeds - repaid - gas >= 0:
                self.base_reserve = rb + to_liquidator
                self.quote_reserve = rq - proceeds
                left = coll - seized
                self.collateral[row] = left
                owed = debt - repaid
                if left <= 0:           # the last collateral: the rest is bad debt
                    self.deficit += owed
                    owed = 0.0
                self.debt[row] = owed / self.index
                self._ratio[row] = (owed / self.index / (left * self.threshold)
                                    if left > 0 else math.inf) if owed > 0 else -math.inf
                if not self._moved[row]:
                    self._moved[row] = True
                    self._moved_rows.append(row)
                self.collateral_seized += seized
                self.debt_repaid += repaid
                return True
        return False

    def mid(self) -> float:
        """The pool's mid (USD per token)."""
        return self.quote_reserve / self.base_reserve

    def bad_debt(self) -> float:
        """Deficit plus what accounts below 1 owe beyond their collateral (USD)."""
        value = self.collateral * self.oracle
        owed = self.debt * self.index
        below = value * self.threshold < owed
        return self.deficit + float(np.maximum(owed[below] - value[below], 0).sum())


__all__ = ["FloatTwin"]
