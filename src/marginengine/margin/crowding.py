"""Crowding: the liquidation heatmap of a book against the venue's depth, cliffs, the crowding
add-on of each account, and the cost and profit of pushing the price to a cliff.

The model (docs/margin.md, "Crowding", has the formulas and a worked example), for one
collateral asset priced by a constant-product venue that arbitrage keeps at the oracle price:

- account ``i`` holds ``q_i`` of the collateral (smallest units, ``u`` per token), owes a debt
  worth ``D_i`` (base currency, 8 decimals like prices) and has liquidation threshold
  ``LT_i``; it is liquidatable when ``q_i * P * LT_i / u < D_i``, i.e. exactly at the prices
  ``P < p_i`` with its **liquidation price** ``p_i = ceil(D_i * u / (q_i * LT_i))``;
- the **stack** at a level ``L`` is the collateral liquidatable just below it,
  ``C(L) = sum of q_j over p_j >= L``: a step function, changing only at liquidation prices;
- the venue at ``L`` holds ``x(L) = x0 * sqrt(P0 / L)`` of the collateral (reserves move
  along ``x * y = k`` as arbitrage follows the price down) and absorbs within the bonus
  ``A(L) = x(L) (g - 1 + b) / (g (1 - b))``
  (:func:`~marginengine.margin.adaptive.cp_absorbable_within`);
- a level is a **cliff** when ``C(L) > A(L)``: selling the stack there slips more than the
  bonus pays, so liquidators stop or the protocol eats the difference;
- the **crowding add-on** of account ``i`` is the slippage beyond the bonus of the stack it
  is sold into, less the depth haircut its own size already pays:
  ``a_i = max(0, I(C(p_i)) - b) - max(0, I(q_i) - b)`` with ``I(s) = 1 - g x / (x + g s)`` at
  ``x = x(p_i)``; it rises with the price impact of the liquidations at and above ``p_i``;
- the **attack** on a cliff below the price ``P0``: sell ``dx = x(L) - x0`` into the pool
  (capital ``dx * P0``) for a loss of ``X0 * P0 * (a - 1)**2 / a`` with ``a = sqrt(P0 / L)``
  and ``X0 = x0 / u`` (no fee), and capture the bonus of the accounts the push makes
  liquidatable, ``sum min(q_j L / u, (1 + b) D_j) - D_j`` over ``L <= p_j <= P0``, each fully
  liquidated at ``L``.

Two implementations with the same rules: :func:`liquidation_heatmap` in exact integers
(the test oracle; stacks, depth and money exact, square roots by :func:`math.isqrt` rounded
as stated) and :func:`heatmap_kernel` on numpy arrays in float64 (the screen for books of
millions). Conservative directions everywhere: depth and the attack are evaluated at ``L``
itself, the supremum of the prices where the stack is liquidatable (less depth, a cheaper
attack than one price unit lower), the push cost and capital are rounded down, the profit up.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from numpy.typing import NDArray

from marginengine.errors import FieldError, field_path
from marginengine.fixedpoint import BPS, Rounding, div
from marginengine.margin.adaptive import (
    cp_absorbable_within,
    cp_execution_slippage,
    fraction_to_ppm_up,
)
from marginengine.margin.tiers import PPM

#: Extra precision (decimal digits) of the square root in the attack cost's lower bound.
_SQRT_DIGITS = 10**18


@dataclass(frozen=True)
class BookAccount:
    """One account of a single-collateral book.

    Attributes
    ----------
    collateral
        Collateral held, smallest units, non-negative.
    debt_value
        Debt value in the base currency with 8 decimals (as prices), non-negative.
    lt_bps
        Liquidation threshold, basis points, ``1..10000``.
    """

    collateral: int
    debt_value: int
    lt_bps: int


@dataclass(frozen=True)
class ConstantProductDepth:
    """A constant-product venue for the collateral, by its reserve at the current price.

    Attributes
    ----------
    base_reserve
        Collateral reserve ``x0`` at the current price, smallest units, positive.
    price
        The current price ``P0`` (8 decimals), positive; the pool's mid.
    base_unit
        ``10**decimals`` of the collateral.
    fee_bps
        The pool's fee, ``0..9999``.
    """

    base_reserve: int
    price: int
    base_unit: int
    fee_bps: int = 0

    def __post_init__(self) -> None:
        for name, low in (("base_reserve", 1), ("price", 1), ("base_unit", 1), ("fee_bps", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise FieldError(name, f"must be an int of at least {low} (got {value!r})")
        if self.fee_bps >= BPS:
            raise FieldError("fee_bps", f"must be below {BPS} (got {self.fee_bps})")

    def reserve_at(self, level: int) -> int:
        """The collateral reserve when arbitrage has moved the mid to ``level``, rounded down.

        ``x0 * sqrt(P0 / L)``, exactly ``isqrt(x0**2 * P0 // L)`` (floor of the root of a
        floor is the floor of the root).
        """
        if level <= 0:
            raise FieldError("level", f"must be a positive price (got {level})")
        return math.isqrt(self.base_reserve**2 * self.price // level)


@dataclass(frozen=True)
class HeatLevel:
    """One step of the heatmap: the collateral liquidatable just below ``price``.

    Attributes
    ----------
    price
        A liquidation price of at least one account (8 decimals).
    accounts
        Accounts liquidatable below ``price`` (those with ``p_j >= price``).
    stacked
        Their collateral, cumulated from the top, smallest units.
    absorbable
        What the venue absorbs at ``price`` within the bonus, smallest units.
    """

    price: int
    accounts: int
    stacked: int
    absorbable: int

    @property
    def is_cliff(self) -> bool:
        """Whether the stacked liquidations exceed what the venue absorbs."""
        return self.stacked > self.absorbable


@dataclass(frozen=True)
class CliffAttack:
    """What pushing the price from ``P0`` down to a cliff costs and pays.

    Attributes
    ----------
    price
        The cliff's level.
    base_to_sell
        Collateral the attacker sells into the pool to move its mid there (rounded down).
    capital_value
        Its value at ``P0``, base currency (8 decimals, rounded down).
    push_cost
        The attacker's loss on the push against fair value at ``P0`` (rounded down).
    profit
        Bonus captured by liquidating, at the cliff, every account the push makes
        liquidatable (rounded up).
    """

    price: int
    base_to_sell: int
    capital_value: int
    push_cost: int
    profit: int

    @property
    def net(self) -> int:
        """``profit - push_cost``: positive means the attack pays (before gas and fees)."""
        return self.profit - self.push_cost


@dataclass(frozen=True)
class Heatmap:
    """The exact heatmap of a book, its cliffs, the add-ons and the attacks.

    Attributes
    ----------
    levels
        Distinct liquidation prices, highest first, with their stacks.
    liquidation_prices
        ``p_i`` per account, in input order; 0 for an account that cannot be liquidated
        (no debt) or has nothing to sell (no collateral).
    addon_ppm
        The crowding add-on of each account, ppm of its collateral value, rounded up.
    attacks
        One per cliff strictly below the current price, highest first.
    """

    levels: tuple[HeatLevel, ...]
    liquidation_prices: tuple[int, ...]
    addon_ppm: tuple[int, ...]
    attacks: tuple[CliffAttack, ...]

    @property
    def cliffs(self) -> tuple[HeatLevel, ...]:
        """The levels where the stack exceeds the venue's absorbable amount."""
        return tuple(level for level in self.levels if level.is_cliff)


def _check_account(i: int, acct: BookAccount) -> None:
    for name, low, high in (("collateral", 0, None), ("debt_value", 0, None),
                            ("lt_bps", 1, BPS)):
        value = getattr(acct, name)
        if isinstance(value, bool) or not isinstance(value, int):
            raise FieldError(field_path("accounts", i, name), f"must be an int (got {value!r})")
        if value < low or (high is not None and value > high):
            bound = f"{low}..{high}" if high is not None else f">= {low}"
            raise FieldError(field_path("accounts", i, name), f"must be {bound} (got {value})")


def liquidation_price(acct: BookAccount, base_unit: int) -> int:
    """``ceil(D * u * 10000 / (q * LT_bps))``: the account is liquidatable exactly below it.

    0 when the account has no debt or no collateral (it never enters a stack).
    """
    if acct.debt_value == 0 or acct.collateral == 0:
        return 0
    return div(acct.debt_value * base_unit * BPS, acct.collateral * acct.lt_bps, Rounding.UP)


def _excess(slippage: Fraction, bonus: Fraction) -> Fraction:
    return max(slippage - bonus, Fraction(0))


def attack_on(level: int, venue: ConstantProductDepth, bonus_bps: int,
              accounts: Sequence[BookAccount], prices: Sequence[int]) -> CliffAttack:
    """Cost and profit of pushing the venue from its price down to ``level`` (no fee)."""
    p0, x0, u = venue.price, venue.base_reserve, venue.base_unit
    base_to_sell = venue.reserve_at(level) - x0
    capital = div(base_to_sell * p0, u, Rounding.DOWN)
    # (a - 1)^2 / a grows with a >= 1, so a lower bound on a = sqrt(P0 / L) bounds the cost
    # from below: a_low = isqrt(P0 * S^2 // L) / S.
    s = _SQRT_DIGITS
    a_low = math.isqrt(p0 * s * s // level)
    cost = 0 if a_low <= s else div(x0 * p0 * (a_low - s) ** 2, u * a_low * s, Rounding.DOWN)
    profit = 0
    for acct, p in zip(accounts, prices, strict=True):
        if p == 0 or not level <= p <= p0:
            continue
        seized_value = div(acct.collateral * level, u, Rounding.UP)
        owed_with_bonus = div(acct.debt_value * (BPS + bonus_bps), BPS, Rounding.UP)
        profit += max(min(seized_value, owed_with_bonus) - acct.debt_value, 0)
    return CliffAttack(level, base_to_sell, capital, cost, profit)


def liquidation_heatmap(
    accounts: Sequence[BookAccount], venue: ConstantProductDepth, bonus_bps: int
) -> Heatmap:
    """Build the exact heatmap of a single-collateral book against a constant-product venue.

    Parameters
    ----------
    accounts
        The book.
    venue
        The collateral's pool at the current price.
    bonus_bps
        The liquidation bonus, ``0..9999`` bps.

    Raises
    ------
    FieldError
        Naming ``accounts[i].field`` or the parameter, on bad input.
    """
    if isinstance(bonus_bps, bool) or not isinstance(bonus_bps, int) or not 0 <= bonus_bps < BPS:
        raise FieldError("bonus_bps", f"must be an int in 0..{BPS - 1} (got {bonus_bps!r})")
    for i, acct in enumerate(accounts):
        _check_account(i, acct)
    u = venue.base_unit
    prices = [liquidation_price(a, u) for a in accounts]
    order = sorted((i for i, p in enumerate(prices) if p > 0), key=lambda i: -prices[i])
    levels: list[HeatLevel] = []
    stack_at: dict[int, int] = {}
    stacked = count = 0
    for pos, i in enumerate(order):
        stacked += accounts[i].collateral
        count += 1
        nxt = order[pos + 1] if pos + 1 < len(order) else None
        if nxt is not None and prices[nxt] == prices[i]:
            continue  # ties share one level: the stack includes all of them
        level = prices[i]
        absorbable = cp_absorbable_within(venue.reserve_at(level), bonus_bps, venue.fee_bps)
        levels.append(HeatLevel(level, count, stacked, absorbable))
        stack_at[level] = stacked
    bonus = Fraction(bonus_bps, BPS)
    addons: list[int] = []
    for acct, p in zip(accounts, prices, strict=True):
        if p == 0:
            addons.append(0)
            continue
        x = venue.reserve_at(p)
        crowd = _excess(cp_execution_slippage(stack_at[p], x, venue.fee_bps), bonus)
        own = _excess(cp_execution_slippage(acct.collateral, x, venue.fee_bps), bonus)
        addons.append(fraction_to_ppm_up(crowd - own))
    attacks = tuple(
        attack_on(lv.price, venue, bonus_bps, accounts, prices)
        for lv in levels if lv.is_cliff and lv.price < venue.price
    )
    return Heatmap(tuple(levels), tuple(prices), tuple(addons), attacks)


# --------------------------------------------------------------------------- array kernel


@dataclass(frozen=True)
class HeatmapArrays:
    """The float heatmap of a book (screening): per-account rows sorted by level, highest first.

    Attributes
    ----------
    order
        Indices of the liquidatable-at-some-price accounts, by falling liquidation price.
    levels
        Their liquidation prices (8-decimal units, float), non-increasing.
    stacked
        Collateral liquidatable just below each level (ties included), smallest units.
    absorbable
        The venue's absorbable amount at each level.
    cliff
        ``stacked > absorbable``.
    addon_ppm
        Crowding add-on per account in input order (0 for accounts outside the heatmap).
    """

    order: NDArray[np.int64]
    levels: NDArray[np.float64]
    stacked: NDArray[np.float64]
    absorbable: NDArray[np.float64]
    cliff: NDArray[np.bool_]
    addon_ppm: NDArray[np.float64]


def heatmap_kernel(
    collateral: NDArray[np.float64],
    debt_value: NDArray[np.float64],
    lt_bps: NDArray[np.float64],
    *,
    base_unit: float,
    base_reserve: float,
    price: float,
    bonus_bps: int,
    fee_bps: int = 0,
) -> HeatmapArrays:
    """The heatmap of :func:`liquidation_heatmap` on float arrays, ``O(n log n)``.

    Same rules, in float64 and without the ceiling of the liquidation price (a screen: the
    exact twin decides). Arrays are of equal length; amounts in smallest units.
    """
    q = np.asarray(collateral, dtype=np.float64)
    d = np.asarray(debt_value, dtype=np.float64)
    lt = np.asarray(lt_bps, dtype=np.float64)
    if not (q.shape == d.shape == lt.shape) or q.ndim != 1:
        raise FieldError("collateral", "collateral, debt_value and lt_bps must be 1-D, same length")
    if not 0 <= bonus_bps < BPS:
        raise FieldError("bonus_bps", f"must be in 0..{BPS - 1} (got {bonus_bps})")
    if not 0 <= fee_bps < BPS:
        raise FieldError("fee_bps", f"must be in 0..{BPS - 1} (got {fee_bps})")
    live = (q > 0) & (d > 0)
    idx = np.flatnonzero(live)
    everyone = idx.size == q.size
    p_live = (d * (base_unit * BPS) / (q * lt) if everyone
              else d[idx] * (base_unit * BPS) / (q[idx] * lt[idx]))
    # Ties get the same stack whatever their order, so an unstable sort is enough (and
    # deterministic for a given input).
    sort = np.argsort(-p_live)
    order = idx[sort]
    levels = p_live[sort]
    q_sorted = q[order]
    cum = np.cumsum(q_sorted)
    # Ties: the stack at a level includes every account at it, i.e. the cumulative sum at
    # the last row of its run of equal levels.
    n = levels.size
    if n:
        new_run = np.empty(n, dtype=bool)
        new_run[0] = True
        np.not_equal(levels[1:], levels[:-1], out=new_run[1:])
        run_id = np.cumsum(new_run) - 1
        run_end = np.append(np.flatnonzero(new_run[1:]), n - 1)
        stacked = cum[run_end][run_id]
    else:
        stacked = cum
    g = (BPS - fee_bps) / BPS
    b = bonus_bps / BPS
    x = base_reserve * np.sqrt(price / levels) if n else np.zeros(0)
    absorbable = np.maximum(x * (g - 1 + b) / (g * (1 - b)), 0.0)
    crowd = np.maximum(1 - g * x / (x + g * stacked) - b, 0.0)
    own = np.maximum(1 - g * x / (x + g * q_sorted) - b, 0.0)
    addon = np.zeros_like(q)
    addon[order] = np.minimum((crowd - own) * PPM, PPM)
    return HeatmapArrays(order.astype(np.int64), levels, stacked, absorbable,
                         stacked > absorbable, addon)


@dataclass(frozen=True)
class BinnedHeatmap:
    """The heatmap on a geometric price grid (screening, ``O(n)``: no sort).

    Bin ``k`` holds the accounts with ``edges[k + 1] < p_i <= edges[k]`` (up to float
    rounding at the edges), ``edges[k] = p_max / r**k`` with ``r = 1 + bin_bps / 1e4``.

    Attributes
    ----------
    edges
        Upper edge of each bin, highest first.
    stacked
        Collateral liquidatable below each upper edge, i.e. of the bins up to this one.
    absorbable
        The venue's absorbable amount at each upper edge (less than anywhere in the bin).
    cliff
        ``stacked > absorbable``.
    bin_of
        Bin of each account in input order; -1 outside the heatmap (no debt or collateral).
    addon_ppm
        Crowding add-on per account in input order, with the stack of its whole bin (so at
        least the sorted kernel's: the bin's lower accounts are counted too).
    """

    edges: NDArray[np.float64]
    stacked: NDArray[np.float64]
    absorbable: NDArray[np.float64]
    cliff: NDArray[np.bool_]
    bin_of: NDArray[np.int64]
    addon_ppm: NDArray[np.float64]


def binned_heatmap_kernel(
    collateral: NDArray[np.float64],
    debt_value: NDArray[np.float64],
    lt_bps: NDArray[np.float64],
    *,
    base_unit: float,
    base_reserve: float,
    price: float,
    bonus_bps: int,
    fee_bps: int = 0,
    bin_bps: int = 1,
) -> BinnedHeatmap:
    """The heatmap of :func:`heatmap_kernel` on a price grid of ``bin_bps`` steps.

    Conservative against the sorted kernel: an account's stack includes its whole bin, and
    depth is read at the bin's upper edge. Raises :class:`FieldError` on a ``bin_bps``
    outside ``1..10000`` or on a grid of more than 10 million bins.
    """
    q = np.asarray(collateral, dtype=np.float64)
    d = np.asarray(debt_value, dtype=np.float64)
    lt = np.asarray(lt_bps, dtype=np.float64)
    if not (q.shape == d.shape == lt.shape) or q.ndim != 1:
        raise FieldError("collateral", "collateral, debt_value and lt_bps must be 1-D, same length")
    if not 0 <= bonus_bps < BPS:
        raise FieldError("bonus_bps", f"must be in 0..{BPS - 1} (got {bonus_bps})")
    if not 0 <= fee_bps < BPS:
        raise FieldError("fee_bps", f"must be in 0..{BPS - 1} (got {fee_bps})")
    if isinstance(bin_bps, bool) or not isinstance(bin_bps, int) or not 1 <= bin_bps <= BPS:
        raise FieldError("bin_bps", f"must be an int in 1..{BPS} (got {bin_bps!r})")
    live = (q > 0) & (d > 0)
    idx = np.flatnonzero(live)
    bin_of = np.full(q.size, -1, dtype=np.int64)
    addon = np.zeros_like(q)
    empty = np.zeros(0)
    if idx.size == 0:
        return BinnedHeatmap(empty, empty, empty, np.zeros(0, dtype=bool), bin_of, addon)
    everyone = idx.size == q.size  # the usual book: skip three gathers of n floats
    q_live = q if everyone else q[idx]
    d_live = d if everyone else d[idx]
    lt_live = lt if everyone else lt[idx]
    p_live = d_live * (base_unit * BPS) / (q_live * lt_live)
    top = float(p_live.max())
    log_r = math.log1p(bin_bps / BPS)
    k = np.floor(np.log(top / p_live) / log_r).astype(np.int64)
    nbins = int(k.max()) + 1
    if nbins > 10_000_000:
        raise FieldError("bin_bps", f"the book's price range needs {nbins:,} bins; widen them")
    stacked = np.cumsum(np.bincount(k, weights=q_live, minlength=nbins), dtype=np.float64)
    edges = top / np.exp(np.arange(nbins) * log_r)
    g = (BPS - fee_bps) / BPS
    b = bonus_bps / BPS
    x_edge = base_reserve * np.sqrt(price / edges)
    absorbable = np.maximum(x_edge * (g - 1 + b) / (g * (1 - b)), 0.0)
    x = base_reserve * np.sqrt(price / p_live)
    crowd = np.maximum(1 - g * x / (x + g * stacked[k]) - b, 0.0)
    own = np.maximum(1 - g * x / (x + g * q_live) - b, 0.0)
    if everyone:
        bin_of, addon = k, np.minimum((crowd - own) * PPM, PPM)
    else:
        bin_of[idx] = k
        addon[idx] = np.minimum((crowd - own) * PPM, PPM)
    return BinnedHeatmap(edges, stacked, absorbable, stacked > absorbable, bin_of, addon)
