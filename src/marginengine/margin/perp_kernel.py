"""Vectorized perp margin over many accounts at once (float64, screening only).

The exact rule is :class:`~marginengine.margin.perp.PerpMarginModel`; this kernel computes
the same equity and tiered requirements for every position of a columnar book with NumPy,
so that a keeper can screen millions of positions per price tick and confirm the few near
the threshold exactly. It takes only arrays and returns arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from marginengine.margin.tiers import PPM, TierSchedule


@dataclass(frozen=True)
class TierArrays:
    """One market's tiers as arrays: floors (quote tokens), fractions, maintenance amounts."""

    floors: NDArray[np.float64]
    mmf: NDArray[np.float64]
    imf: NDArray[np.float64]
    mm_cum: NDArray[np.float64]
    im_cum: NDArray[np.float64]

    @classmethod
    def of(cls, schedule: TierSchedule, quote_unit: int) -> TierArrays:
        """Arrays of a schedule, in whole quote tokens."""
        n = len(schedule.tiers)
        return cls(
            np.array([t.notional_floor / quote_unit for t in schedule.tiers]),
            np.array([t.mmf_ppm / PPM for t in schedule.tiers]),
            np.array([t.imf_ppm / PPM for t in schedule.tiers]),
            np.array([schedule.maintenance_amount_scaled(i) / PPM / quote_unit
                      for i in range(n)]),
            np.array([schedule.initial_amount_scaled(i) / PPM / quote_unit
                      for i in range(n)]),
        )


@dataclass(frozen=True)
class PerpBookArrays:
    """A columnar perp book: one row per position, one entry per account.

    Attributes
    ----------
    account
        Account index of each position (``intp``: NumPy gathers and bincounts without a
        conversion pass).
    market
        Market index of each position (``intp``).
    size
        Signed size in whole base tokens (float64).
    quote
        Each account's perp quote balance in whole quote tokens (float64).
    """

    account: NDArray[np.intp]
    market: NDArray[np.intp]
    size: NDArray[np.float64]
    quote: NDArray[np.float64]

    @property
    def n_accounts(self) -> int:
        """Number of accounts."""
        return int(self.quote.shape[0])


def tiered(notional: NDArray[np.float64], floors: NDArray[np.float64],
           fraction: NDArray[np.float64], cum: NDArray[np.float64]) -> NDArray[np.float64]:
    """``notional x fraction_i - cum_i`` with ``i`` the bracket of each notional."""
    idx = np.searchsorted(floors, notional, side="left") - 1
    np.clip(idx, 0, len(floors) - 1, out=idx)
    return notional * fraction[idx] - cum[idx]


@dataclass(frozen=True)
class TierTable:
    """Every market's tiers padded into flat arrays: ``market * width + tier``."""

    width: int
    floors: NDArray[np.float64]
    mmf: NDArray[np.float64]
    mm_cum: NDArray[np.float64]

    @classmethod
    def of(cls, tiers: list[TierArrays]) -> TierTable:
        """Pad each market's tiers to the widest (floors with ``inf``)."""
        width = max(len(t.floors) for t in tiers)
        floors = np.full((len(tiers), width), np.inf)
        mmf = np.zeros((len(tiers), width))
        cum = np.zeros((len(tiers), width))
        for m, t in enumerate(tiers):
            k = len(t.floors)
            floors[m, :k], mmf[m, :k], cum[m, :k] = t.floors, t.mmf, t.mm_cum
            mmf[m, k:], cum[m, k:] = t.mmf[-1], t.mm_cum[-1]
        return cls(width, floors.ravel(), mmf.ravel(), cum.ravel())


def bucket_margin(book: PerpBookArrays, marks: NDArray[np.float64],
                  table: TierTable) -> tuple[NDArray[np.float64], NDArray[np.float64],
                                             NDArray[np.float64]]:
    """Equity, maintenance requirement and health (equity / requirement) of every account.

    Parameters
    ----------
    book
        The positions and quote balances.
    marks
        Mark price of each market, quote tokens per whole base token.
    table
        The markets' tiers (:class:`TierTable`).

    Returns
    -------
    tuple of arrays
        ``equity``, ``maintenance`` and ``health`` (``inf`` without requirement), one per
        account.
    """
    value = book.size * marks[book.market]
    notional = np.abs(value)
    row = book.market * table.width
    # The bracket: how many of the market's higher floors the notional is above.
    slot = row.copy()
    for t in range(1, table.width):
        slot += notional > table.floors[row + t]
    maintenance_pos = notional * table.mmf[slot] - table.mm_cum[slot]
    n = book.n_accounts
    equity: NDArray[np.float64] = book.quote + np.bincount(book.account, weights=value,
                                                           minlength=n)
    maintenance: NDArray[np.float64] = np.bincount(book.account, weights=maintenance_pos,
                                                   minlength=n).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        health: NDArray[np.float64] = np.where(maintenance > 0, equity / maintenance, np.inf)
    return equity, maintenance, health


def group_by_account(book: PerpBookArrays) -> list[list[tuple[int, float]]]:
    """Each account's ``(market, size)`` pairs: the per-account layout of the baseline."""
    per_account: list[list[tuple[int, float]]] = [[] for _ in range(book.n_accounts)]
    for a, m, s in zip(book.account.tolist(), book.market.tolist(), book.size.tolist(),
                       strict=True):
        per_account[a].append((m, s))
    return per_account


def naive_bucket_margin(per_account: list[list[tuple[int, float]]], quote: list[float],
                        marks: list[float],
                        tiers: list[TierArrays]) -> list[tuple[float, float, float]]:
    """The same as :func:`bucket_margin`, one account at a time in plain Python over
    per-account lists (the baseline of ``benchmarks/perp_margin.py``)."""
    floors = [t.floors.tolist() for t in tiers]
    mmf = [t.mmf.tolist() for t in tiers]
    cum = [t.mm_cum.tolist() for t in tiers]
    out = []
    for a, positions in enumerate(per_account):
        equity = quote[a]
        maintenance = 0.0
        for m, s in positions:
            value = s * marks[m]
            notional = abs(value)
            i = 0
            while i + 1 < len(floors[m]) and notional > floors[m][i + 1]:
                i += 1
            equity += value
            maintenance += notional * mmf[m][i] - cum[m][i]
        out.append((equity, maintenance,
                    equity / maintenance if maintenance > 0 else float("inf")))
    return out


#: Unit roundoff of float64.
_ULP = 2.0**-53


def first_brackets(market: NDArray[np.intp], table: TierTable) -> tuple[
        NDArray[np.float64], NDArray[np.float64]]:
    """Per position, its market's first-bracket fraction and second floor (``inf`` for a
    single bracket): what :func:`bracket_margin` needs for the usual position, which sits
    in the first bracket."""
    row = market * table.width
    second = (table.floors[row + 1] if table.width > 1
              else np.full(len(market), np.inf))
    return table.mmf[row], second


def bracket_margin(notional: NDArray[np.float64], market: NDArray[np.intp],
                   table: TierTable,
                   first: tuple[NDArray[np.float64], NDArray[np.float64]] | None = None,
                   ) -> NDArray[np.float64]:
    """Each position's tiered maintenance requirement ``notional x mmf_i - cum_i``.

    With ``first`` (:func:`first_brackets` of the same positions, computed once while they
    stay), positions in their first bracket cost one multiply, and only those above it
    look their bracket up.
    """
    if first is not None:
        mmf0, second = first
        out0: NDArray[np.float64] = notional * mmf0
        above = np.flatnonzero(notional > second)
        if len(above):
            out0[above] = bracket_margin(notional[above], market[above], table)
        return out0
    row = market * table.width
    slot = row.copy()
    # The bracket: how many of the market's higher floors the notional is above.
    for t in range(1, table.width):
        slot += notional > table.floors[row + t]
    out: NDArray[np.float64] = notional * table.mmf[slot]
    if table.width > 1:
        out -= table.mm_cum[slot]
    return out


def funded_bucket_sums(slot: NDArray[np.intp], market: NDArray[np.intp],
                       size: NDArray[np.float64], snapshot: NDArray[np.float64],
                       n_slots: int, mark: NDArray[np.float64], funding: NDArray[np.float64],
                       table: TierTable, funded: bool = True,
                       first: tuple[NDArray[np.float64], NDArray[np.float64]] | None = None,
                       ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per bucket: position equity (value less unsettled funding) and maintenance.

    The float twin of :meth:`~marginengine.margin.perp.PerpMarginModel.bucket` without the
    quote balance, in whole quote tokens: a position of ``size`` whole base tokens in
    market ``m`` is worth ``size x mark[m]`` and owes ``size x (funding[m] - snapshot)``
    (funding indices in quote tokens per whole base token), so its equity is
    ``size x (mark[m] - funding[m] + snapshot)``. Zero-size positions add nothing.

    Parameters
    ----------
    slot, market, size, snapshot
        Per position: the bucket's index, the market's index, the signed size in whole base
        tokens, and the funding index at its last settlement (quote tokens per base token).
    n_slots
        Number of buckets.
    mark, funding
        Per market: mark price and cumulative funding index, quote tokens per base token.
    table
        The markets' tiers.
    funded
        ``False`` when every funding index and snapshot is 0 (the funding terms are
        skipped: the equity is the value).
    first
        :func:`first_brackets` of the positions, if kept.

    Returns
    -------
    tuple of arrays
        ``equity`` and ``maintenance``, per bucket.
    """
    value = size * np.take(mark, market)
    equity_pos = size * (np.take(mark - funding, market) + snapshot) if funded else value
    # (astype: bincount of no entries at all returns integers)
    equity = np.bincount(slot, weights=equity_pos, minlength=n_slots).astype(
        np.float64, copy=False)
    notional = np.abs(value, out=value)  # the equity is summed: reuse the buffer
    maintenance_pos = bracket_margin(notional, market, table, first)
    maintenance = np.bincount(slot, weights=maintenance_pos, minlength=n_slots).astype(
        np.float64, copy=False)
    return equity, maintenance


def funded_bucket_slack(quote: NDArray[np.float64], equity: NDArray[np.float64],
                        maintenance: NDArray[np.float64], positions: NDArray[np.integer],
                        max_positions: int, funding_ratio: float, mmf_min: float,
                        quote_unit: int) -> NDArray[np.float64]:
    """A bound, in whole quote tokens, on how far each bucket's exact equity and exact
    maintenance requirement (in the quote asset's smallest units, divided by its unit) can
    each be from the float figures of :func:`funded_bucket_sums` (the quote balance
    ``quote`` added to the equity).

    Exact figures round each position's value down and its notional up to a smallest unit
    (one unit each), its funding against the trader (one unit), and its requirement up (one
    unit); the requirement is 1-Lipschitz in the notional (every fraction is at most 1) and
    continuous at the bracket edges, so a float notional on the other side of an edge costs
    no more than its own error. The float side rounds each input (sizes, marks, funding
    indices: a relative ulp each) and sums at most ``max_positions + 1`` terms of magnitude
    at most ``|quote| + notional x (1 + funding_ratio)`` (``funding_ratio`` bounds
    ``|funding index| / mark`` over the markets held), plus the bracket amount's
    cancellation (at most the notional). The notional is at most the requirement over the
    smallest maintenance fraction ``mmf_min`` (every slice is charged at least that), plus
    its rounding. Doubled for margin:

    ``2 x (32 + max_positions) x ulp x (|quote| + |equity| + maintenance + notional x (3 +
    funding_ratio)) + 5 x positions / quote_unit``.
    """
    gamma = 2.0 * (32 + max_positions) * _ULP
    unit = 1.0 / quote_unit
    notional = (maintenance + positions * (4.0 * unit)) * ((1.0 + 1e-6) / mmf_min)
    magnitude = np.abs(quote) + np.abs(equity) + maintenance + notional * (3.0 + funding_ratio)
    out: NDArray[np.float64] = gamma * magnitude + positions * (5.0 * unit)
    return out
