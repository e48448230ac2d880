"""One side of the lending block: an accounts x assets sparse matrix of scaled balances.

The risk book keeps two of these, collateral (scaled supply counted as collateral) and
debt (scaled debt). Each is laid out for the scan and updated in place between layouts:

- **base**: a SciPy CSR matrix (``indptr``, ``int32`` column ``indices``, ``float64``
  ``data``) whose structure is fixed between layouts and whose values change in place.
  A position that closes becomes an explicit zero until the next layout.
- **overflow**: positions that the base has no slot for (a new asset in an account, a
  new account) are appended to three growable arrays (row, column, value); each
  ``(row, column)`` lives in exactly one place, base or overflow.
- **exposure index**: for each asset, the base entries holding it (their rows and
  positions in ``data``), i.e. the CSC view of the same matrix, plus the overflow slots
  holding it. An asset's price change reaches exactly these entries.

The book re-lays both sides out (and renumbers rows so rows with the same number of
positions sit together, which keeps the CSR kernel's branches predictable) when the
overflow and the explicit zeros grow past a fraction of the base, so the cost of a
layout is amortised over the events that made it necessary.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from marginengine.scan.kernels import CsrArrays

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
AnyIntArray = NDArray[np.integer]

#: Estimated bytes of Python bookkeeping (dict and list entries) per overflow slot.
OVERFLOW_SLOT_OVERHEAD = 200
#: The overflow and explicit zeros may grow to this many slots, or an eighth of the base,
#: before a layout.
MIN_LAYOUT_SLOTS = 1024


def _index_dtype(n: int) -> type[np.signedinteger]:
    return np.int32 if n < 2**31 - 1 else np.int64


class SideMatrix:
    """Scaled balances of one side, ``n_rows x n_assets``, float64.

    Build with :meth:`from_coo`; read with :meth:`row_sums`, :meth:`exposure`,
    :meth:`row_items`; change with :meth:`set`.
    """

    def __init__(self, n_assets: int) -> None:
        self.n_assets = n_assets
        self.n_base = 0
        self.indptr: AnyIntArray = np.zeros(1, dtype=np.int32)
        self.indices: AnyIntArray = np.zeros(0, dtype=np.int32)
        self.data: FloatArray = np.zeros(0, dtype=np.float64)
        self.col_ptr: IntArray = np.zeros(n_assets + 1, dtype=np.int64)
        self.col_pos: AnyIntArray = np.zeros(0, dtype=np.int32)
        self.col_rows: AnyIntArray = np.zeros(0, dtype=np.int32)
        self._csr = sp.csr_matrix((0, n_assets), dtype=np.float64)
        self.zeros = 0
        self.max_row_entries = 0
        #: :meth:`needs_layout`'s limit, fixed by the base (set with it): the engine's
        #: listener asks after every event.
        self._layout_limit = MIN_LAYOUT_SLOTS
        self._ov_n = 0
        self._ov_rows: IntArray = np.zeros(16, dtype=np.int64)
        self._ov_cols: IntArray = np.zeros(16, dtype=np.int64)
        self._ov_vals: FloatArray = np.zeros(16, dtype=np.float64)
        self._ov_slot: dict[tuple[int, int], int] = {}
        self._ov_by_col: list[list[int]] = [[] for _ in range(n_assets)]
        self._ov_by_row: dict[int, list[int]] = {}

    # ------------------------------------------------------------------ building
    @classmethod
    def from_coo(cls, rows: AnyIntArray, cols: AnyIntArray, vals: FloatArray, n_rows: int,
                 n_assets: int) -> SideMatrix:
        """Lay out the nonzero ``(row, col, value)`` triples (unique pairs) as the base."""
        side = cls(n_assets)
        keep = vals != 0
        if not keep.all():
            rows, cols, vals = rows[keep], cols[keep], vals[keep]
        del keep
        dtype = _index_dtype(max(len(vals), n_rows) + 1)
        csr = sp.csr_matrix(
            (vals.astype(np.float64, copy=False),
             (rows.astype(dtype, copy=False), cols.astype(dtype, copy=False))),
            shape=(n_rows, n_assets),
        )
        if csr.nnz != len(vals):
            raise ValueError("duplicate (account, asset) entries")
        csr.sort_indices()
        side._set_base(csr)
        return side

    def _set_base(self, csr: sp.csr_matrix) -> None:
        nnz = int(csr.nnz)
        dtype = _index_dtype(max(nnz, csr.shape[0]) + 1)
        self.indptr = csr.indptr.astype(dtype, copy=False)
        self.indices = csr.indices.astype(np.int32, copy=False)
        self.data = csr.data
        self.n_base = int(csr.shape[0])
        self._layout_limit = max(MIN_LAYOUT_SLOTS, nnz // 8)
        self._csr = sp.csr_matrix((self.data, self.indices, self.indptr),
                                  shape=(self.n_base, self.n_assets), copy=False)
        longest = np.diff(self.indptr).max(initial=0)
        self.max_row_entries = int(longest)
        # The CSC view, by SciPy's counting sort: for each asset, the rows holding it
        # (ascending) and the positions of their entries in ``data``.
        positions = sp.csr_matrix((np.arange(nnz, dtype=dtype), self.indices, self.indptr),
                                  shape=(self.n_base, self.n_assets), copy=False)
        csc = positions.tocsc()
        self.col_ptr = csc.indptr.astype(np.int64)
        self.col_rows = csc.indices.astype(dtype, copy=False)
        self.col_pos = csc.data
        self.zeros = 0

    # ------------------------------------------------------------------ sizes
    @property
    def nnz(self) -> int:
        """Stored entries: base (explicit zeros included) plus overflow slots."""
        return int(self.indptr[-1]) + self._ov_n

    @property
    def overflow(self) -> int:
        """Overflow slots in use."""
        return self._ov_n

    def needs_layout(self) -> bool:
        """Whether overflow and explicit zeros have grown past an eighth of the base."""
        return self._ov_n + self.zeros > self._layout_limit

    def nbytes(self) -> int:
        """Bytes held: arrays exactly, overflow bookkeeping estimated per slot."""
        arrays = (self.indptr, self.indices, self.data, self.col_ptr, self.col_pos,
                  self.col_rows, self._ov_rows, self._ov_cols, self._ov_vals)
        return sum(a.nbytes for a in arrays) + OVERFLOW_SLOT_OVERHEAD * self._ov_n

    # ------------------------------------------------------------------ reads
    def row_items(self, row: int) -> list[tuple[int, float]]:
        """The nonzero ``(column, value)`` entries of ``row``."""
        out: list[tuple[int, float]] = []
        if row < self.n_base:
            start, end = int(self.indptr[row]), int(self.indptr[row + 1])
            for j in range(start, end):
                value = float(self.data[j])
                if value:
                    out.append((int(self.indices[j]), value))
        for slot in self._ov_by_row.get(row, ()):
            value = float(self._ov_vals[slot])
            if value:
                out.append((int(self._ov_cols[slot]), value))
        return out

    def slot_counts(self, rows: AnyIntArray) -> IntArray:
        """Stored slots per row of ``rows`` (base slots, explicit zeros included, plus
        overflow slots): at least the row's nonzero entries."""
        at = np.asarray(rows, dtype=np.int64)
        out = np.zeros(len(at), dtype=np.int64)
        base = at < self.n_base
        b = at[base]
        out[base] = self.indptr[b + 1].astype(np.int64) - self.indptr[b].astype(np.int64)
        if self._ov_n and len(at):
            ov = self._ov_rows[: self._ov_n]
            out += np.bincount(ov, minlength=max(int(ov.max()), int(at.max())) + 1)[at]
        return out

    def arrays(self) -> CsrArrays:
        """The base's CSR arrays, for the scan kernel."""
        return CsrArrays(self.indptr, self.indices, self.data)

    def add_overflow(self, sums: FloatArray, weights: FloatArray) -> IntArray:
        """Add the overflow entries' ``value x weight`` to ``sums``; return their rows."""
        n = self._ov_n
        if not n:
            return np.zeros(0, dtype=np.int64)
        rows = self._ov_rows[:n]
        np.add.at(sums, rows, self._ov_vals[:n] * weights[self._ov_cols[:n]])
        return rows

    def row_sums(self, weights: FloatArray, n_rows: int) -> FloatArray:
        """``matrix @ weights`` for rows ``0 .. n_rows - 1`` (the scan's kernel)."""
        base = self._csr @ weights if self.n_base else np.zeros(0)
        if n_rows > self.n_base:
            base = np.concatenate([base, np.zeros(n_rows - self.n_base)])
        if self._ov_n:
            n = self._ov_n
            np.add.at(base, self._ov_rows[:n], self._ov_vals[:n] * weights[self._ov_cols[:n]])
        return base

    def subset_sums(self, rows: AnyIntArray, weights: FloatArray) -> FloatArray:
        """``(matrix @ weights)[rows]``, in time proportional to the rows' entries."""
        requested = np.asarray(rows, dtype=np.int64)
        if not len(requested):
            return np.zeros(0)
        if len(requested) == 1 or bool((requested[1:] > requested[:-1]).all()):
            return self._distinct_sums(requested, weights)  # already distinct and sorted
        order = np.argsort(requested, kind="stable")
        ordered = requested[order]
        first = np.ones(len(ordered), dtype=bool)
        first[1:] = ordered[1:] != ordered[:-1]
        rows = ordered[first]  # distinct, sorted
        back = np.empty(len(requested), dtype=np.int64)
        back[order] = np.cumsum(first) - 1
        return self._distinct_sums(rows, weights)[back]

    def _distinct_sums(self, rows: IntArray, weights: FloatArray) -> FloatArray:
        out = np.zeros(len(rows))
        in_base = rows < self.n_base
        if in_base.any():
            which = np.flatnonzero(in_base)
            base_rows = rows[which]
            starts = self.indptr[base_rows].astype(np.int64)
            lens = self.indptr[base_rows + 1].astype(np.int64) - starts
            total = int(lens.sum())
            if total == len(which) and int(lens.min()) == 1:
                # One entry per row (a lending book of one collateral or one debt each):
                # the product itself, bit for bit the one-term sum below (0 + v is v).
                out[which] += self.data[starts] * weights[self.indices[starts]]
            elif total:
                seg = np.repeat(np.arange(len(which)), lens)
                offsets = np.cumsum(lens) - lens
                pos = np.arange(total) - np.repeat(offsets - starts, lens)
                vals = self.data[pos] * weights[self.indices[pos]]
                out[which] += np.bincount(seg, vals, minlength=len(which))
        if self._ov_n:
            n = self._ov_n
            ov_rows = self._ov_rows[:n]
            at = np.searchsorted(rows, ov_rows)
            at_clipped = np.minimum(at, len(rows) - 1)
            hit = (at < len(rows)) & (rows[at_clipped] == ov_rows)
            if hit.any():
                vals = self._ov_vals[:n][hit] * weights[self._ov_cols[:n][hit]]
                np.add.at(out, at_clipped[hit], vals)
        return out

    def has_overflow(self, row: int) -> bool:
        """Whether ``row`` holds an overflow slot."""
        return row in self._ov_by_row

    def overflow_rows(self) -> IntArray:
        """Rows holding an overflow slot, sorted, each once."""
        return np.asarray(sorted(self._ov_by_row), dtype=np.int64)

    def compact_rows(self, rows: IntArray) -> CsrArrays:
        """The base entries of ``rows`` (sorted, distinct, all within the base) as a
        compact CSR matrix of ``len(rows)`` rows: the same entries in the same order, so
        :func:`~marginengine.scan.kernels.matvec_into` gives their sums bit for bit as over
        the whole base. A copy: later writes to those rows do not reach it."""
        starts = self.indptr[rows].astype(np.int64)
        lens = self.indptr[rows + 1].astype(np.int64) - starts
        total = int(lens.sum())
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(lens, out=indptr[1:])
        pos = np.arange(total, dtype=np.int64) - np.repeat(indptr[:-1] - starts, lens)
        dtype = _index_dtype(max(total, len(rows)) + 1)
        return CsrArrays(indptr.astype(dtype), self.indices[pos], self.data[pos])

    def exposure(self, col: int) -> tuple[IntArray, FloatArray]:
        """Rows holding asset ``col`` and their scaled values (zeros included), each row once."""
        lo, hi = int(self.col_ptr[col]), int(self.col_ptr[col + 1])
        rows = self.col_rows[lo:hi].astype(np.int64)
        vals = self.data[self.col_pos[lo:hi]]
        slots = self._ov_by_col[col]
        if slots:
            idx = np.asarray(slots, dtype=np.int64)
            rows = np.concatenate([rows, self._ov_rows[idx]])
            vals = np.concatenate([vals, self._ov_vals[idx]])
        return rows, vals

    def exposure_count(self, col: int) -> int:
        """Entries (zeros included) holding asset ``col``."""
        return int(self.col_ptr[col + 1] - self.col_ptr[col]) + len(self._ov_by_col[col])

    def to_coo(self) -> tuple[IntArray, IntArray, FloatArray]:
        """All nonzero entries as ``(rows, cols, values)``."""
        counts = np.diff(self.indptr).astype(np.int64)
        rows = np.repeat(np.arange(self.n_base, dtype=np.int64), counts)
        cols = self.indices.astype(np.int64)
        vals = self.data
        n = self._ov_n
        rows = np.concatenate([rows, self._ov_rows[:n]])
        cols = np.concatenate([cols, self._ov_cols[:n]])
        vals = np.concatenate([vals, self._ov_vals[:n]])
        keep = vals != 0
        return rows[keep], cols[keep], vals[keep]

    # ------------------------------------------------------------------ writes
    def set_row(self, row: int, wanted: dict[int, float]) -> None:
        """Make ``row``'s nonzero entries exactly ``wanted`` (column: value; every other
        entry of the row 0): what :meth:`set` of each changed entry does, in one pass over
        the row's slots when it has a base slot for every wanted column and none in the
        overflow (an account's liquidation, repayment or deposit of assets it held at the
        layout: the engine's listener mirrors one such row per event)."""
        if row < self.n_base and row not in self._ov_by_row:
            start, end = int(self.indptr[row]), int(self.indptr[row + 1])
            cols = self.indices[start:end].tolist()
            if wanted.keys() <= set(cols):  # a base slot for every wanted column
                data = self.data
                olds = data[start:end].tolist()
                for offset, (col, old) in enumerate(zip(cols, olds, strict=True)):
                    value = wanted.get(col, 0.0)
                    if old != value:
                        data[start + offset] = value
                        self.zeros += int(old != 0 and value == 0) - int(
                            old == 0 and value != 0)
                return
        current = dict(self.row_items(row))
        for k in current.keys() - wanted.keys():
            self.set(row, k, 0.0)
        for k, value in wanted.items():
            if current.get(k) != value:
                self.set(row, k, value)

    def set(self, row: int, col: int, value: float) -> None:
        """Set entry ``(row, col)``: in place when it has a slot, else in the overflow."""
        if row < self.n_base:
            start, end = int(self.indptr[row]), int(self.indptr[row + 1])
            if end > start:
                # The first slot whose column is at least ``col`` (columns are sorted in
                # a row): a scan for the few slots of most rows, a search beyond.
                if end - start <= 8:
                    indices = self.indices
                    j = start
                    while j < end and indices[j] < col:
                        j += 1
                else:
                    j = start + int(np.searchsorted(self.indices[start:end], col))
                if j < end and self.indices[j] == col:
                    old = self.data[j]
                    self.data[j] = value
                    self.zeros += int(old != 0 and value == 0) - int(old == 0 and value != 0)
                    return
        slot = self._ov_slot.get((row, col))
        if slot is not None:
            self._ov_vals[slot] = value
            return
        if value == 0:
            return
        if self._ov_n == len(self._ov_rows):
            size = 2 * len(self._ov_rows)
            self._ov_rows = np.resize(self._ov_rows, size)
            self._ov_cols = np.resize(self._ov_cols, size)
            self._ov_vals = np.resize(self._ov_vals, size)
        slot = self._ov_n
        self._ov_rows[slot] = row
        self._ov_cols[slot] = col
        self._ov_vals[slot] = value
        self._ov_n += 1
        self._ov_slot[(row, col)] = slot
        self._ov_by_col[col].append(slot)
        self._ov_by_row.setdefault(row, []).append(slot)
        base = int(self.indptr[row + 1] - self.indptr[row]) if row < self.n_base else 0
        self.max_row_entries = max(self.max_row_entries, base + len(self._ov_by_row[row]))
