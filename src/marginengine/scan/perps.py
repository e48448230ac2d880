"""The perp block of the risk book: every bucket's perp positions and quote balance.

A bucket is an account as the engine has it: cross margin is the account itself (its
lending collateral and debt and all its perp positions margin together); an isolated
position lives in a sub-account ``owner/label``, a bucket of its own. Each bucket holding
perps (positions or a perp quote balance, the engine's ``has_perps``) has a *slot*::

    per slot      row      int64    the book row of the bucket
                  quote    float64  perp quote balance, whole quote tokens
                  npos     int32    open positions
                  isolated bool     the id is a sub-account (owner/label)
    per position  slot, market      intp
                  size     float64  signed, whole base tokens
                  snapshot float64  funding index at the last settlement, quote tokens
                                    per whole base token
    per market    mark, funding     float64 beside the exact ints (index, last trade,
                                    basis EMA, funding index, mark); ``mark`` is the
                                    market's margin price (the mark, or the oracle
                                    price for ``margin_price = "oracle"``)

The float equity and maintenance of every slot come from the vectorized kernel
(:func:`~marginengine.margin.perp_kernel.funded_bucket_sums`), with a bound on their
distance from the exact rule (:func:`~marginengine.margin.perp_kernel.funded_bucket_slack`);
its exact twin is :meth:`~marginengine.margin.perp.PerpMarginModel.bucket`, which the book
calls to confirm. Positions that change are rewritten in place: the old entries become
zero-size (they add nothing) and the new ones are appended; the dead entries are dropped
when they reach a quarter of the entries.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from marginengine.config import ProtocolConfig
from marginengine.fixedpoint import PRICE_UNIT
from marginengine.ledger.perp import FUNDING_SCALE
from marginengine.margin.perp import margin_price, schedule_of
from marginengine.margin.perp_kernel import (
    TierArrays,
    TierTable,
    first_brackets,
    funded_bucket_slack,
    funded_bucket_sums,
)

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

#: Dead position entries tolerated before a compaction (or a quarter of the entries).
MIN_COMPACT = 1024


def _grow(a: NDArray[np.generic], size: int, fill: object = 0) -> NDArray[np.generic]:
    if size <= len(a):
        return a
    out = np.full(max(size, 2 * len(a), 16), fill, dtype=a.dtype)
    out[: len(a)] = a
    return out


class PerpBlock:
    """Perp positions and quote balances of the book's buckets (see the module docstring).

    Parameters
    ----------
    config
        The protocol; its perp markets (sorted by symbol) fix the market columns.
    """

    def __init__(self, config: ProtocolConfig) -> None:
        self.symbols: list[str] = sorted(config.perps)
        self.column: dict[str, int] = {s: k for k, s in enumerate(self.symbols)}
        perps = [config.perps[s] for s in self.symbols]
        quotes = {p.quote for p in perps}
        #: Whether the block screens: the engine values every bucket in one quote asset,
        #: so with several quote assets the engine decides every perp bucket instead.
        self.screened = len(quotes) == 1
        self.quote_asset = quotes.pop() if self.screened else ""
        self.quote_unit = config.markets[self.quote_asset].unit if self.screened else 1
        self.base_unit = [p.base_unit for p in perps]
        self.market_quote_unit = [config.markets[p.quote].unit for p in perps]
        m = len(self.symbols)
        self.set_schedules(config)
        self.index_int = [0] * m
        self.last_trade = [0] * m
        self.basis_ppm = [0] * m
        self.funding_int = [0] * m
        self.mark_int = [0] * m
        self.mark = np.zeros(m)
        self.funding = np.zeros(m)
        self.snapshot_max = np.zeros(m)
        self.n_slots = 0
        self.slot_row: IntArray = np.zeros(0, dtype=np.int64)
        self.quote: FloatArray = np.zeros(0)
        self.npos: NDArray[np.int32] = np.zeros(0, dtype=np.int32)
        self.isolated: NDArray[np.bool_] = np.zeros(0, dtype=bool)
        self.row_slot: NDArray[np.int32] = np.zeros(0, dtype=np.int32)
        self._free: list[int] = []
        self.n_pos = 0
        self.p_slot: NDArray[np.intp] = np.zeros(0, dtype=np.intp)
        self.p_market: NDArray[np.intp] = np.zeros(0, dtype=np.intp)
        self.p_size: FloatArray = np.zeros(0)
        self.p_snapshot: FloatArray = np.zeros(0)
        self.dead = 0
        self.max_positions = 0
        self._by_slot: dict[int, list[int]] | None = None
        self._rows: tuple[IntArray, IntArray] | None = None
        self._first: tuple[FloatArray, FloatArray] | None = None

    def __len__(self) -> int:
        return len(self.symbols)

    def set_schedules(self, config: ProtocolConfig) -> None:
        """(Re)build the tier table from ``config``'s perp markets (the same markets: an
        adaptive fraction update, ``SetRiskParams`` or a direct-mode ``SetConditions``)."""
        perps = [config.perps[s] for s in self.symbols]
        #: Each market's configuration (its margin price: :meth:`set_market`).
        self.configs = perps
        self.table = TierTable.of([
            TierArrays.of(schedule_of(p, qu), qu)
            for p, qu in zip(perps, self.market_quote_unit, strict=True)
        ]) if perps else TierTable(1, np.zeros(0), np.zeros(0), np.zeros(0))
        #: The smallest maintenance fraction of any bracket (every one is positive).
        self.mmf_min = float(self.table.mmf.min()) if perps else 1.0
        self._first = None  # the positions' first brackets come from the table

    # ------------------------------------------------------------------ markets
    def set_market(self, k: int, index: int, last_trade: int = 0, basis_ppm: int = 0,
                   funding_index: int = 0) -> bool:
        """Set market ``k``'s exact index, mark inputs and funding index; return whether
        its margin price or funding changed. The margin price is the engine's rule
        (:func:`~marginengine.margin.perp.margin_price`: the mark, or the oracle price);
        0 while the index is unset."""
        mark = margin_price(self.configs[k], index, last_trade, basis_ppm) if index else 0
        self.index_int[k], self.last_trade[k], self.basis_ppm[k] = index, last_trade, basis_ppm
        changed = (mark, funding_index) != (self.mark_int[k], self.funding_int[k])
        if changed:
            self.mark_int[k] = mark
            self.funding_int[k] = funding_index
            self.mark[k] = mark / PRICE_UNIT
            self.funding[k] = funding_index / (self.market_quote_unit[k] * FUNDING_SCALE)
        return changed

    def shocked_marks(self, indices: dict[int, int]) -> dict[int, int]:
        """Exact margin prices of markets whose index is replaced by ``indices``
        (``{k: index}``), the last trade and basis staying as they are (what the engine's
        margin price would be after a ``SetPrice`` of that index)."""
        return {k: margin_price(self.configs[k], i, self.last_trade[k], self.basis_ppm[k])
                for k, i in indices.items()}

    def positions_per_market(self) -> NDArray[np.int64]:
        """Open position entries per market."""
        live = self.p_size[: self.n_pos] != 0
        return np.bincount(self.p_market[: self.n_pos][live], minlength=len(self))

    # ------------------------------------------------------------------ rows and slots
    def ensure_rows(self, n: int) -> None:
        """Make room for rows ``0 .. n - 1`` in the row -> slot map (none without perp
        markets: a lending protocol's book holds no perp arrays)."""
        if self.symbols and n > len(self.row_slot):
            self.row_slot = _grow(self.row_slot, n, -1)  # type: ignore[assignment]

    def slots_of(self, rows: IntArray) -> NDArray[np.int32]:
        """The slot of each row, -1 for rows without perps."""
        return self.row_slot[rows]

    def rows(self) -> tuple[IntArray, IntArray]:
        """``(rows, slots)`` of every bucket with perps, sorted by row."""
        if self._rows is None:
            live = np.flatnonzero(self.slot_row[: self.n_slots] >= 0)
            order = np.argsort(self.slot_row[live], kind="stable")
            slots = live[order].astype(np.int64)
            self._rows = (self.slot_row[slots], slots)
        return self._rows

    def live_slots(self) -> IntArray:
        """Slots in use, ascending."""
        if not self._free:
            return np.arange(self.n_slots, dtype=np.int64)
        return np.flatnonzero(self.slot_row[: self.n_slots] >= 0).astype(np.int64)

    @property
    def buckets(self) -> int:
        """Buckets holding perps."""
        return self.n_slots - len(self._free)

    def relayout(self, new_row_of_old: NDArray[np.integer]) -> None:
        """Renumber rows as the book's layout did."""
        if not self.symbols:
            return
        live = self.slot_row[: self.n_slots] >= 0
        self.slot_row[: self.n_slots][live] = np.asarray(new_row_of_old)[
            self.slot_row[: self.n_slots][live]]
        self.row_slot = np.full(len(new_row_of_old), -1, dtype=np.int32)
        idx = np.flatnonzero(live)
        self.row_slot[self.slot_row[idx]] = idx
        self._rows = None

    # ------------------------------------------------------------------ building
    def build(self, rows: NDArray[np.integer], markets: NDArray[np.integer],
              size: FloatArray, snapshot: FloatArray, quote_rows: NDArray[np.integer],
              quote: FloatArray, isolated_rows: NDArray[np.integer], n_rows: int) -> None:
        """Lay the block out from arrays (vectorized).

        ``rows[i], markets[i], size[i], snapshot[i]``: one position (whole base tokens;
        funding index in quote tokens per whole base token); ``quote_rows``, ``quote``:
        perp quote balances (whole quote tokens); ``isolated_rows``: rows that are
        isolated sub-accounts.
        """
        rows = np.asarray(rows, dtype=np.int64)
        quote_rows = np.asarray(quote_rows, dtype=np.int64)
        live = np.asarray(size) != 0
        rows, markets = rows[live], np.asarray(markets, dtype=np.intp)[live]
        size, snapshot = np.asarray(size, dtype=np.float64)[live], np.asarray(
            snapshot, dtype=np.float64)[live]
        has = np.zeros(n_rows, dtype=bool)
        has[rows] = True
        has[quote_rows[np.asarray(quote) != 0]] = True
        slot_rows = np.flatnonzero(has)
        s = len(slot_rows)
        self.n_slots = s
        self._free = []
        self.slot_row = slot_rows.astype(np.int64)
        self.row_slot = np.full(n_rows, -1, dtype=np.int32)
        self.row_slot[slot_rows] = np.arange(s, dtype=np.int32)
        self.quote = np.zeros(s)
        np.add.at(self.quote, self.row_slot[quote_rows], np.asarray(quote, dtype=np.float64))
        self.isolated = np.zeros(s, dtype=bool)
        iso = self.row_slot[np.asarray(isolated_rows, dtype=np.int64)]
        self.isolated[iso[iso >= 0]] = True
        slot = self.row_slot[rows].astype(np.intp)
        order = np.argsort(slot, kind="stable")
        self.p_slot, self.p_market = slot[order], markets[order].astype(np.intp)
        self.p_size, self.p_snapshot = size[order], snapshot[order]
        self.n_pos = len(order)
        self.npos = np.bincount(self.p_slot, minlength=s).astype(np.int32)
        self.max_positions = int(self.npos.max(initial=0))
        self.dead = 0
        self._by_slot = None
        self._rows = None
        self._first = None
        for k in range(len(self)):
            held = np.abs(self.p_snapshot[self.p_market == k])
            self.snapshot_max[k] = float(held.max(initial=0.0))

    # ------------------------------------------------------------------ mirroring
    def set_bucket(self, row: int, quote: int, positions: Sequence[tuple[int, int, int]],
                   isolated: bool) -> bool:
        """Mirror one bucket: ``quote`` (quote smallest units) and ``(market, size,
        funding_index)`` exact positions. A bucket with neither leaves the block. Returns
        whether the row holds perps now."""
        self.ensure_rows(row + 1)
        slot = int(self.row_slot[row])
        held = [(k, s, f) for k, s, f in positions if s]
        if slot < 0 and not held and not quote:
            return False
        if slot < 0:
            slot = self._new_slot(row)
        self._kill(slot)
        if not held and not quote:
            self.slot_row[slot] = -1
            self.row_slot[row] = -1
            self.quote[slot] = 0.0
            self.npos[slot] = 0
            self._free.append(slot)
            self._rows = None
            return False
        self.quote[slot] = quote / self.quote_unit
        self.isolated[slot] = isolated
        self.npos[slot] = len(held)
        self.max_positions = max(self.max_positions, len(held))
        need = self.n_pos + len(held)
        self.p_slot = _grow(self.p_slot, need)  # type: ignore[assignment]
        self.p_market = _grow(self.p_market, need)  # type: ignore[assignment]
        self.p_size = _grow(self.p_size, need)  # type: ignore[assignment]
        self.p_snapshot = _grow(self.p_snapshot, need)  # type: ignore[assignment]
        entries = self._slot_entries()
        for k, size, funding in held:
            i = self.n_pos
            snap = funding / (self.market_quote_unit[k] * FUNDING_SCALE)
            self.p_slot[i], self.p_market[i] = slot, k
            self.p_size[i] = size / self.base_unit[k]
            self.p_snapshot[i] = snap
            self.snapshot_max[k] = max(self.snapshot_max[k], abs(snap))
            entries.setdefault(slot, []).append(i)
            self.n_pos += 1
        self._first = None
        if self.dead > max(MIN_COMPACT, self.n_pos // 4):
            self.compact()
        return True

    def _new_slot(self, row: int) -> int:
        if self._free:
            slot = self._free.pop()
        else:
            slot = self.n_slots
            self.n_slots += 1
            self.slot_row = _grow(self.slot_row, self.n_slots, -1)  # type: ignore[assignment]
            self.quote = _grow(self.quote, self.n_slots)  # type: ignore[assignment]
            self.npos = _grow(self.npos, self.n_slots)  # type: ignore[assignment]
            self.isolated = _grow(self.isolated, self.n_slots, False)  # type: ignore[assignment]
        self.slot_row[slot] = row
        self.row_slot[row] = slot
        self._rows = None
        return slot

    def _slot_entries(self) -> dict[int, list[int]]:
        if self._by_slot is None:
            by: dict[int, list[int]] = {}
            live = np.flatnonzero(self.p_size[: self.n_pos] != 0)
            for i, s in zip(live.tolist(), self.p_slot[live].tolist(), strict=True):
                by.setdefault(s, []).append(i)
            self._by_slot = by
        return self._by_slot

    def _kill(self, slot: int) -> None:
        for i in self._slot_entries().pop(slot, []):
            self.p_size[i] = 0.0
            self.dead += 1

    def compact(self) -> None:
        """Drop the dead (zero-size) position entries."""
        keep = np.flatnonzero(self.p_size[: self.n_pos] != 0)
        self.p_slot, self.p_market = self.p_slot[keep], self.p_market[keep]
        self.p_size, self.p_snapshot = self.p_size[keep], self.p_snapshot[keep]
        self.n_pos = len(keep)
        self.dead = 0
        self._by_slot = None
        self._first = None

    # ------------------------------------------------------------------ the kernel
    def funding_ratio(self, mark: FloatArray) -> float:
        """A bound on ``|funding index| / mark`` over the markets with a price."""
        priced = mark > 0
        if not priced.any():
            return 0.0
        top = np.maximum(np.abs(self.funding), self.snapshot_max)[priced]
        return float((top / mark[priced]).max())

    def evaluate(self, mark: FloatArray | None = None) -> tuple[FloatArray, FloatArray,
                                                                 FloatArray]:
        """Per slot, in whole quote tokens: equity (quote balance included), maintenance
        requirement, and the bound on their distance from the exact figures, at the
        current marks or at ``mark`` (what-if)."""
        m = self.mark if mark is None else mark
        n = self.n_pos
        funded = bool(self.funding.any() or self.snapshot_max.any())
        equity, maintenance = funded_bucket_sums(
            self.p_slot[:n], self.p_market[:n], self.p_size[:n], self.p_snapshot[:n],
            self.n_slots, m, self.funding, self.table, funded, self._first_brackets())
        quote = self.quote[: self.n_slots]
        equity += quote
        slack = funded_bucket_slack(quote, equity, maintenance, self.npos[: self.n_slots],
                                    self.max_positions, self.funding_ratio(m), self.mmf_min,
                                    self.quote_unit)
        return equity, maintenance, slack

    def _first_brackets(self) -> tuple[FloatArray, FloatArray]:
        n = self.n_pos
        if self._first is None or len(self._first[0]) != n:
            self._first = first_brackets(self.p_market[:n], self.table)
        return self._first

    def nbytes(self) -> int:
        """Bytes held by the arrays (the slot map of mirrored buckets estimated)."""
        arrays = (self.slot_row, self.quote, self.npos, self.isolated, self.row_slot,
                  self.p_slot, self.p_market, self.p_size, self.p_snapshot)
        extra = 0 if self._by_slot is None else 120 * len(self._by_slot)
        if self._first is not None:
            extra += self._first[0].nbytes + self._first[1].nbytes
        return sum(a.nbytes for a in arrays) + extra
