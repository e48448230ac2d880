"""One side of the lending block against a dense twin: layout, in-place updates, overflow."""

from __future__ import annotations

import numpy as np
import pytest

from marginengine.scan.kernels import matvec_into
from marginengine.scan.sidematrix import SideMatrix


def random_side(rng: np.random.Generator, n: int = 200, k: int = 7) -> tuple[
        SideMatrix, np.ndarray]:
    dense = np.where(rng.random((n, k)) < 0.3, rng.integers(1, 10**9, (n, k)), 0).astype(float)
    rows, cols = np.nonzero(dense)
    return SideMatrix.from_coo(rows, cols, dense[rows, cols], n, k), dense


def test_row_sums_when_laid_out_then_equal_dense_product():
    rng = np.random.default_rng(1)
    side, dense = random_side(rng)
    w = rng.random(7)
    assert np.allclose(side.row_sums(w, 200), dense @ w, rtol=1e-14)
    assert side.max_row_entries == int((dense != 0).sum(axis=1).max())


def test_set_when_slot_exists_then_in_place_else_overflow():
    rng = np.random.default_rng(2)
    side, dense = random_side(rng)
    base_nnz = side.nnz
    row, col = map(int, np.argwhere(dense != 0)[0])
    side.set(row, col, 5.0)
    dense[row, col] = 5.0
    assert side.overflow == 0 and side.nnz == base_nnz
    empty = np.argwhere(dense == 0)[0]
    side.set(int(empty[0]), int(empty[1]), 7.0)
    dense[tuple(empty)] = 7.0
    assert side.overflow == 1
    side.set(int(empty[0]), int(empty[1]), 8.0)  # the same overflow slot again
    dense[tuple(empty)] = 8.0
    assert side.overflow == 1
    side.set(row, col, 0.0)  # closed: an explicit zero until the next layout
    dense[row, col] = 0.0
    assert side.zeros == 1
    side.set(250, 3, 9.0)  # a row beyond the base (a new account)
    w = rng.random(7)
    expected = np.concatenate([dense @ w, np.zeros(51)])
    expected[250] = 9.0 * w[3]
    assert np.allclose(side.row_sums(w, 251), expected, rtol=1e-14)
    assert dict(side.row_items(int(empty[0])))[int(empty[1])] == 8.0
    assert col not in dict(side.row_items(row))


def test_exposure_when_overflow_then_every_holder_once():
    rng = np.random.default_rng(3)
    side, dense = random_side(rng)
    side.set(0, 2, 11.0) if dense[0, 2] == 0 else None
    dense[0, 2] = dense[0, 2] or 11.0
    rows, vals = side.exposure(2)
    assert sorted(rows.tolist()) == sorted(np.flatnonzero(dense[:, 2]).tolist())
    assert dict(zip(rows.tolist(), vals.tolist(), strict=True)) == {
        int(r): float(dense[r, 2]) for r in np.flatnonzero(dense[:, 2])}
    assert side.exposure_count(2) == len(rows)


def test_subset_sums_when_rows_mixed_then_equal_dense():
    rng = np.random.default_rng(4)
    side, dense = random_side(rng)
    side.set(5, 6, 3.0) if dense[5, 6] == 0 else None
    dense[5, 6] = dense[5, 6] or 3.0
    w = rng.random(7)
    rows = np.array([5, 0, 199, 5, 17])
    assert np.allclose(side.subset_sums(rows, w), (dense @ w)[rows], rtol=1e-14)


def test_to_coo_when_zeros_and_overflow_then_only_nonzero_entries():
    rng = np.random.default_rng(5)
    side, dense = random_side(rng)
    r, c = map(int, np.argwhere(dense != 0)[0])
    side.set(r, c, 0.0)
    dense[r, c] = 0
    rows, cols, vals = side.to_coo()
    rebuilt = np.zeros_like(dense)
    rebuilt[rows, cols] = vals
    assert np.array_equal(rebuilt, dense)


def test_from_coo_when_duplicate_pair_then_error():
    with pytest.raises(ValueError, match="duplicate"):
        SideMatrix.from_coo(np.array([0, 0]), np.array([1, 1]), np.array([1.0, 2.0]), 1, 2)


@pytest.mark.parametrize("private", [True, False])
def test_matvec_into_when_row_range_then_equal_public_product(private: bool):
    rng = np.random.default_rng(6)
    side, dense = random_side(rng)
    w = rng.random(7)
    out = np.full(200, np.nan)
    matvec_into(side.indptr[50:120 + 1], side.indices, side.data, w, out[50:120], private)
    assert np.allclose(out[50:120], (dense @ w)[50:120], rtol=1e-14)
    assert np.isnan(out[:50]).all() and np.isnan(out[120:]).all()


def test_candidate_rows_when_ranges_split_then_same_as_candidates():
    from marginengine.scan.kernels import ScreenBounds, candidate_rows, candidates

    rng = np.random.default_rng(7)
    cw = rng.random(300_000) * 100
    dv = rng.random(300_000) * 100
    b = ScreenBounds(1.0, 1e-12, 1e-4, 10.0, 10.0)
    found = np.concatenate([candidate_rows(cw, dv, 0, 77_777, b),
                            candidate_rows(cw, dv, 77_777, 300_000, b)])
    assert np.array_equal(found, candidates(cw, dv, b))
    assert len(found) > 1_000


def test_subset_sums_when_one_entry_per_row_then_each_product_bit_for_bit():
    # A lending book of one collateral each: value x weight itself, not a one-term sum,
    # and the same floats as the general path (rows mixing lengths) and the full product.
    rng = np.random.default_rng(6)
    n, k = 300, 5
    cols = rng.integers(0, k, n)
    vals = rng.integers(1, 10**12, n).astype(float) * rng.random(n)
    side = SideMatrix.from_coo(np.arange(n), cols, vals, n, k)
    w = rng.random(k) * 3
    rows = np.sort(rng.choice(n, 40, replace=False))
    got = side.subset_sums(rows, w)
    assert got.tolist() == (vals[rows] * w[cols[rows]]).tolist()
    assert got.tolist() == side.row_sums(w, n)[rows].tolist()
    side.set(int(rows[0]), (int(cols[rows[0]]) + 1) % k, 2.0)  # one row of two: overflow
    mixed = side.subset_sums(rows, w)
    assert mixed[1:].tolist() == got[1:].tolist()
    assert mixed[0] == got[0] + 2.0 * w[(int(cols[rows[0]]) + 1) % k]


def test_set_row_when_any_target_then_same_matrix_as_setting_each_entry():
    # set_row's one pass (base slots for every wanted column) and its fallback (a new
    # column, an overflow row, a row beyond the base) against set() entry by entry.
    rng = np.random.default_rng(7)
    for _trial in range(60):
        a, dense = random_side(rng, n=40, k=5)
        b = SideMatrix.from_coo(*np.nonzero(dense), dense[np.nonzero(dense)], 40, 5)
        for _ in range(30):
            row = int(rng.integers(0, 45))
            present = [int(c) for c in np.flatnonzero(dense[row])] if row < 40 else []
            pool = present if rng.random() < 0.7 and present else list(range(5))
            chosen = rng.choice(pool, size=int(rng.integers(0, len(pool) + 1)), replace=False)
            wanted = {int(c): float(rng.choice([0.5, 7.0, 1e9])) for c in chosen}
            a.set_row(row, wanted)
            current = dict(b.row_items(row))
            for c in current.keys() - wanted.keys():
                b.set(row, c, 0.0)
            for c, v in wanted.items():
                if current.get(c) != v:
                    b.set(row, c, v)
            assert dict(a.row_items(row)) == wanted
            assert (a.zeros, a.overflow) == (b.zeros, b.overflow)
        w = rng.random(5)
        assert a.row_sums(w, 45).tolist() == b.row_sums(w, 45).tolist()
