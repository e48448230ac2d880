"""Account ids and the book's row numbers, in a few bytes per account.

A million Python strings in a dict cost about 150 bytes per account; the book keeps its ids
instead as one sorted NumPy byte-string array (``S<width>``) and two ``int32`` maps, and
looks an id up by binary search. Accounts that appear after the last layout (a deposit by
a new account) are kept in a small dict until the next :meth:`AccountIndex.relayout`
merges them into the arrays.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from numpy.typing import NDArray

IntArray = NDArray[np.int64]

#: Up to this many rows, :meth:`AccountIndex.ids` decodes row by row through its cache of
#: decoded ids (bounded by the rows ever read this way); beyond, one vector decode.
_NAMED_ROWS = 4096
#: At most this many decoded ids are kept (about 100 bytes each): a million-account book
#: read a few thousand rows at a time keeps no second copy of its ids.
_NAMES_HELD = 65_536


class AccountIndex:
    """Maps account ids to row numbers and back.

    Parameters
    ----------
    ids
        The ids of rows ``0 .. len(ids) - 1``, in row order (ASCII, unique).
    """

    def __init__(self, ids: Sequence[str] | NDArray[np.bytes_] = ()) -> None:
        raw = np.asarray(ids, dtype=np.bytes_) if len(ids) else np.zeros(0, dtype="S1")
        order = np.argsort(raw, kind="stable")
        self._sorted_ids: NDArray[np.bytes_] = raw[order]
        if len(raw) > 1 and np.any(self._sorted_ids[1:] == self._sorted_ids[:-1]):
            dup = self._sorted_ids[1:][self._sorted_ids[1:] == self._sorted_ids[:-1]][0]
            raise ValueError(f"duplicate account id {dup.decode()!r}")
        self._sorted_rows = order.astype(np.int32)
        self._row_to_sorted = np.empty(len(raw), dtype=np.int32)
        self._row_to_sorted[order] = np.arange(len(raw), dtype=np.int32)
        self._base_rows = len(raw)
        self._extra: dict[str, int] = {}
        self._extra_ids: dict[int, str] = {}
        #: Rows found by :meth:`row`, until :meth:`relayout` renumbers them: the engine's
        #: listener looks up every touched account, and a binary search over bytes costs
        #: microseconds.
        self._found: dict[str, int] = {}
        #: Ids decoded by :meth:`ids`, by row, until :meth:`relayout` renumbers rows: the
        #: step's screen and the keepers' list decode the same few hundred rows (the
        #: accounts below the threshold) step after step, and a gather and a decode of
        #: NumPy bytes cost several times a dict lookup per row at those sizes.
        self._names: dict[int, str] = {}
        #: The last rows :meth:`ids` was asked (as bytes) and their ids, until
        #: :meth:`relayout`: a step asks the same rows twice (the keepers' list and the
        #: screen's bounds), and quiet steps the rows of the step before.
        self._last: tuple[bytes, list[str]] | None = None

    def __len__(self) -> int:
        return self._base_rows + len(self._extra)

    def row(self, account_id: str) -> int | None:
        """The row of ``account_id``, or ``None`` when the book has no such account."""
        row = self._extra.get(account_id)
        if row is not None:
            return row
        row = self._found.get(account_id)
        if row is not None:
            return row
        if self._base_rows == 0:
            return None
        key = account_id.encode()
        at = int(self._sorted_ids.searchsorted(key))
        if at < self._base_rows and self._sorted_ids[at] == key:
            row = self._found[account_id] = int(self._sorted_rows[at])
            return row
        return None

    def rows(self, account_ids: Iterable[str]) -> IntArray:
        """Rows of several accounts (each must be in the book)."""
        out = []
        for account_id in account_ids:
            row = self.row(account_id)
            if row is None:
                raise KeyError(f"unknown account {account_id!r}")
            out.append(row)
        return np.asarray(out, dtype=np.int64)

    def add(self, account_id: str) -> int:
        """Give a new account the next row and return it."""
        if self.row(account_id) is not None:
            raise ValueError(f"account {account_id!r} is already in the book")
        row = len(self)
        self._extra[account_id] = row
        self._extra_ids[row] = account_id
        return row

    def id(self, row: int) -> str:
        """The id of ``row``."""
        extra = self._extra_ids.get(row)
        if extra is not None:
            return extra
        return bytes(self._sorted_ids[self._row_to_sorted[row]]).decode()

    def ids(self, rows: Iterable[int] | IntArray) -> list[str]:
        """Ids of several rows, in the order given."""
        at = np.asarray(rows if isinstance(rows, np.ndarray) else list(rows), dtype=np.int64)
        if not len(at):
            return []
        key = at.tobytes()
        last = self._last
        if last is not None and last[0] == key:
            return list(last[1])  # a copy: callers may extend it
        out = self._decode(at)
        self._last = (key, out)
        return list(out)

    def _decode(self, at: IntArray) -> list[str]:
        """:meth:`ids` of the rows ``at``, decoded."""
        listed = at.tolist()
        names = self._names
        if len(listed) <= _NAMED_ROWS:
            # Rows decoded before (the step's below set is mostly last step's): one dict
            # lookup each, the rest decoded one by one and kept.
            out: list[str] = []
            for r in listed:
                name = names.get(r)
                if name is None:
                    name = self.id(r)
                    if 0 <= r < self._base_rows and len(names) < _NAMES_HELD:
                        names[r] = name
                        # And the way back, for row(): the accounts read here (the step's
                        # below set) are those the engine's listener then looks up.
                        self._found[name] = r
                out.append(name)
            return out
        if not self._extra_ids and int(at.min()) >= 0 and int(at.max()) < self._base_rows:
            # One gather and one decode for the whole array (ids are ASCII), not one
            # lookup per row: the step's screen and record read a few hundred per step.
            try:
                decoded: list[str] = self._sorted_ids[self._row_to_sorted[at]].astype(
                    str).tolist()
                return decoded
            except UnicodeDecodeError:  # pragma: no cover - ids are ASCII
                pass
        return [self.id(int(r)) for r in listed]

    def relayout(self, new_row_of_old: NDArray[np.integer]) -> None:
        """Renumber every row (``new_row_of_old[old] = new``) and merge the added ids."""
        self._found = {}
        self._names = {}
        self._last = None
        if self._extra:
            extra_rows = np.fromiter(self._extra_ids, dtype=np.int64, count=len(self._extra))
            extra_raw = np.asarray([self._extra_ids[int(r)] for r in extra_rows],
                                   dtype=np.bytes_)
            width = max(self._sorted_ids.dtype.itemsize, extra_raw.dtype.itemsize)
            all_ids = np.concatenate([self._sorted_ids.astype(f"S{width}"),
                                      extra_raw.astype(f"S{width}")])
            all_rows = np.concatenate([self._sorted_rows.astype(np.int64), extra_rows])
            order = np.argsort(all_ids, kind="stable")
            self._sorted_ids = all_ids[order]
            rows = all_rows[order]
        else:
            rows = self._sorted_rows
        self._sorted_rows = np.asarray(new_row_of_old)[rows].astype(np.int32, copy=False)
        n = len(self._sorted_rows)
        self._row_to_sorted = np.empty(n, dtype=np.int32)
        self._row_to_sorted[self._sorted_rows] = np.arange(n, dtype=np.int32)
        self._base_rows = n
        self._extra = {}
        self._extra_ids = {}

    def nbytes(self) -> int:
        """Bytes held (arrays exactly; the dict of added ids estimated at 160 bytes each)."""
        return (self._sorted_ids.nbytes + self._sorted_rows.nbytes
                + self._row_to_sorted.nbytes + 160 * len(self._extra))
