"""Array kernels of the scan: sound float64 bounds on the exact health, and the screen.

These functions take and return arrays only. Their plain-Python twin is
:mod:`marginengine.scan.naive`; the exact oracle is the engine itself.

The screen compares float64 sums against a threshold with margins that provably cover
every difference between the float sums and the engine's integer arithmetic:

- the float sums' own rounding (relative ``eps``, a few ulps per term, plus the drift the
  incremental updates may have added, which the book tracks and bounds);
- Aave's averaged threshold ``avg_lt = lt_sum // collateral`` (floors up to one bps of the
  collateral, so up to ``1 / lt_min`` of the weighted collateral: relative ``rel``);
- per position, flooring the balance to a smallest unit and the value to a base unit
  (collateral down, debt up), and per account the final percent and wad roundings:
  absolute slacks ``abs_coll`` and ``abs_debt`` in base-currency units.

An account is *surely below* the threshold when even the most favourable exact value is
below it, *surely above* when even the least favourable is at or above it, and in the
*band* otherwise; only band accounts need the exact confirmation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]
AnyIntArray = NDArray[np.integer]



def _private_matvec() -> Callable[..., None] | None:
    """SciPy's compiled CSR kernel that writes into a given output (no allocation, so no
    page faults), or ``None`` if this SciPy does not have it where expected."""
    try:
        from scipy.sparse._sparsetools import csr_matvec
    except ImportError:  # pragma: no cover - depends on the SciPy version
        return None
    return csr_matvec  # type: ignore[no-any-return]


_raw_matvec = _private_matvec()

#: Rows per chunk of the candidate pass (its temporaries stay in the L2 cache).
CHUNK_ROWS = 1 << 17

#: Unit roundoff of float64.
ULP = 2.0**-53
#: Relative margin for the threshold itself (its float form, the wad rounding of HF).
TAU = 1e-15
#: Relative error bound above which the book recomputes its running sums from scratch.
MAX_DRIFT = 1e-10


def fresh_sum_error(max_terms: int) -> float:
    """Relative error bound of a float64 sum of ``max_terms`` products ``value x weight``.

    Each weight is a product and quotient of five or six rounded floats (index/RAY, price,
    unit, threshold), each value a rounded int; all terms are non-negative, so the sum's
    relative error is at most about ``(8 + terms) x ulp``. Doubled for margin.
    """
    return 2.0 * (16 + max_terms) * ULP


def update_ratio(old_weight: float, new_weight: float) -> float:
    """How much an update ``sum += value x (new - old)`` can amplify a relative error.

    With ``sum = rest + value x old`` and ``rest >= 0``, the old sum is at most
    ``max(1, old / new)`` times the new one, so an absolute error carried over is at most
    that factor larger relative to the new sum.
    """
    if new_weight <= 0.0:
        return float("inf") if old_weight > 0.0 else 1.0
    return max(1.0, old_weight / new_weight)


def error_after_update(error: float, ratio: float) -> float:
    """Relative error bound of a running sum after an update of amplification ``ratio``:
    the carried error, amplified, plus the update's own roundings (the weight difference,
    the product and the sum: at most about three ulps of the larger sum)."""
    return (error + 4.0 * ULP) * ratio


@dataclass(frozen=True)
class ScreenBounds:
    """Constants of one screen.

    Attributes
    ----------
    threshold
        Health threshold (1.0: liquidatable).
    eps
        Relative error bound of each float sum.
    rel
        Relative shortfall of the exact weighted collateral below the real one (Aave's
        averaged threshold; 0 for per-asset factors).
    abs_coll, abs_debt
        Absolute slacks per account, base-currency units.
    abs_debt_low
        How far the exact debt may fall below the float sum, base-currency units: 0 where
        the family rounds every debt figure up (Aave v3.5+), else per position one
        smallest unit and one unit of value (Aave v3.3 floors the value; Comet floors
        ``presentValueBorrow`` and truncates the value).
    """

    threshold: float
    eps: float
    rel: float
    abs_coll: float
    abs_debt: float
    abs_debt_low: float = 0.0


def candidates(cw: FloatArray, dv: FloatArray, b: ScreenBounds) -> IntArray:
    """Indices of the accounts that are not surely above the threshold (the cheap pass).

    Surely above means ``cw (1-rel)/(1+eps) - abs_coll >= t (1+tau) (dv/(1-eps) +
    abs_debt)``; the rest (which includes accounts without debt and almost no collateral,
    removed by :func:`classify`) is returned. Four passes over the arrays.
    """
    a, c = candidate_coefficients(b)
    tmp = dv * a
    tmp += c
    return np.flatnonzero(cw < tmp)


def classify(cw: FloatArray, dv: FloatArray, b: ScreenBounds) -> tuple[BoolArray, BoolArray]:
    """``(surely_below, band)`` for each account; the rest is surely not below.

    An account without debt (``dv == 0``) is never below: its health is unbounded.
    """
    has_debt = dv > 0
    t = b.threshold
    maint_max = cw / (1.0 - b.eps) + 1.0
    debt_min = dv / (1.0 + b.eps) - b.abs_debt_low
    surely_below = has_debt & (maint_max < t * (1.0 - TAU) * debt_min)
    surely_above = ~has_debt | above_with_debt(cw, dv, b, t)
    band = ~surely_below & ~surely_above
    return surely_below, band


def above_with_debt(cw: FloatArray, dv: FloatArray, b: ScreenBounds,
                    threshold: float) -> BoolArray:
    """Whether each account is surely above ``threshold`` by its debt (the test
    :func:`classify` applies to accounts with debt, at the threshold given instead of
    ``b.threshold``: the other figures of the bounds do not depend on it).

    For an account with debt it is exactly "neither surely below nor in the band" of
    :func:`classify` at that threshold: the two tests cannot both pass (in floats too, the
    lowest collateral figure is at most the highest and the lowest debt figure at most the
    highest, every rounding monotone), so a caller needing only this skips the other.
    """
    maint_min = cw * ((1.0 - b.rel) / (1.0 + b.eps)) - b.abs_coll
    debt_max = dv / (1.0 - b.eps) + b.abs_debt
    result: BoolArray = maint_min >= threshold * (1.0 + TAU) * debt_max
    return result


def union_rows(parts: Sequence[IntArray]) -> IntArray:
    """Sorted distinct rows of several arrays (each usually sorted already, so the stable
    sort merges runs; NumPy's hash-based ``unique`` is much slower here)."""
    nonempty = [p for p in parts if len(p)]
    if not nonempty:
        return np.zeros(0, dtype=np.int64)
    rows = np.sort(np.concatenate(nonempty).astype(np.int64, copy=False), kind="stable")
    keep = np.empty(len(rows), dtype=bool)
    keep[0] = True
    np.not_equal(rows[1:], rows[:-1], out=keep[1:])
    return rows[keep]


def classify_candidates(cw: FloatArray, dv: FloatArray,
                        b: ScreenBounds) -> tuple[BoolArray, BoolArray]:
    """:func:`classify` for accounts already known not to be surely above (the output of
    :func:`candidates`): ``(surely_below, band)`` with ``band`` the rest of those with debt.

    Cheaper (no surely-above test); if rounding in the two formulas ever disagreed on an
    account, it would be confirmed exactly rather than decided, which is still exact.
    """
    has_debt = dv > 0
    a = b.threshold * (1.0 - TAU) * (1.0 - b.eps) / (1.0 + b.eps)
    # classify's test, rearranged: cw / (1 - eps) + 1 < t (1 - tau) (dv / (1 + eps) - low).
    low = (1.0 - b.eps) * (1.0 + b.threshold * (1.0 - TAU) * b.abs_debt_low)
    surely_below = cw < dv * a - low
    surely_below &= has_debt
    return surely_below, has_debt & ~surely_below


def health(cw: FloatArray, dv: FloatArray) -> FloatArray:
    """``cw / dv``, ``inf`` for accounts without debt."""
    out = np.full(len(cw), np.inf)
    np.divide(cw, dv, out=out, where=dv > 0)
    return out


def matvec_into(indptr: AnyIntArray, indices: AnyIntArray, data: FloatArray,
                weights: FloatArray, out: FloatArray, use_private: bool = True) -> None:
    """``out[:] = A @ weights`` for the CSR rows whose ``indptr`` slice is given.

    ``indptr`` may be a slice ``full_indptr[lo:hi+1]`` (absolute offsets into ``indices``
    and ``data``), so a row range is computed without copying the matrix. Uses SciPy's
    compiled ``csr_matvec`` writing into ``out`` when available, else the public API.
    """
    rows = len(indptr) - 1
    if rows <= 0:
        return
    if use_private and _raw_matvec is not None:
        out.fill(0.0)
        _raw_matvec(rows, len(weights), indptr, indices, data, weights, out)
        return
    lo, hi = int(indptr[0]), int(indptr[-1])
    block = sp.csr_matrix((data[lo:hi], indices[lo:hi], indptr - lo),
                          shape=(rows, len(weights)))
    out[:] = block @ weights


@dataclass(frozen=True)
class CsrArrays:
    """The three arrays of a CSR matrix (the base of one side)."""

    indptr: AnyIntArray
    indices: AnyIntArray
    data: FloatArray


def candidate_coefficients(b: ScreenBounds) -> tuple[float, float]:
    """``(a, c)`` such that an account is a candidate iff ``cw < a dv + c``."""
    c1 = (1.0 - b.rel) / (1.0 + b.eps)
    t1 = b.threshold * (1.0 + TAU)
    return t1 / ((1.0 - b.eps) * c1), (b.abs_coll + t1 * b.abs_debt) / c1


#: How far (relative) every weight may move against an account since the anchor of an
#: anchored screen before the book re-anchors (:func:`anchor_near`).
ANCHOR_MOVE = 0.01


def anchor_coefficients(a_env: float, c_env: float, e_stored: float, e_fresh: float,
                        move: float = ANCHOR_MOVE) -> tuple[float, float, float]:
    """``(k1, k2, k3)`` such that a row with stored sums ``cw``, ``dv`` (each within
    ``e_stored`` of its exact value at the anchor weights) with ``cw k1 >= dv k2 + k3`` is
    not a candidate (:func:`candidates`) at any weights where every collateral weight it
    holds fell by at most a factor ``1 + move`` and every debt weight rose by at most
    ``1 + move``, for screen coefficients ``a <= a_env``, ``c <= c_env``
    (:func:`candidate_coefficients`) and fresh sums within ``e_fresh``.

    Proof: the exact sums at the new weights are at least ``S_c / (1 + move)`` and at most
    ``S_d (1 + move)`` (every term is non-negative), a fresh float sum is within
    ``e_fresh`` of them, the stored ones within ``e_stored`` of ``S_c``, ``S_d``; the
    candidate test ``cw < fl(a dv + c)`` rounds its right side up by at most three ulps.
    The extra ``1e-12`` covers the rounding of this test itself (a few ulps).
    """
    k1 = (1.0 - e_fresh) / ((1.0 + e_stored) * (1.0 + move))
    up = (1.0 + 4.0 * ULP) * (1.0 + 1e-12)
    k2 = a_env * (1.0 + e_fresh) * (1.0 + move) / (1.0 - e_stored) * up
    return k1, k2, c_env * up


def anchor_near(cw: FloatArray, dv: FloatArray, k: tuple[float, float, float]) -> IntArray:
    """Rows that :func:`anchor_coefficients` ``k`` cannot prove to stay off the candidate
    list (the anchored screen recomputes these, and only these, until it re-anchors)."""
    k1, k2, k3 = k
    rhs = dv * k2
    rhs += k3
    return np.flatnonzero(cw * k1 < rhs)


def candidate_rows(cw: FloatArray, dv: FloatArray, lo: int, hi: int,
                   b: ScreenBounds) -> IntArray:
    """:func:`candidates` among rows ``lo .. hi - 1`` (absolute row numbers), in chunks of
    :data:`CHUNK_ROWS` so the temporaries stay in cache. Safe to run on disjoint ranges in
    parallel threads (NumPy releases the GIL in these loops)."""
    a, c = candidate_coefficients(b)
    tmp = np.empty(min(CHUNK_ROWS, max(hi - lo, 0)))
    mask = np.empty(len(tmp), dtype=bool)
    found = []
    for start in range(lo, hi, CHUNK_ROWS):
        end = min(hi, start + CHUNK_ROWS)
        t, m = tmp[: end - start], mask[: end - start]
        np.multiply(dv[start:end], a, out=t)
        t += c
        np.less(cw[start:end], t, out=m)
        found.append(np.flatnonzero(m) + start)
    return np.concatenate(found) if found else np.zeros(0, dtype=np.int64)


def classify_buckets(cw: FloatArray, dv: FloatArray, pe: FloatArray, pm: FloatArray,
                     slack: FloatArray, has_requirement: BoolArray,
                     b: ScreenBounds) -> tuple[BoolArray, BoolArray]:
    """``(surely_below, band)`` for buckets holding perps; the rest is surely not below.

    A bucket's exact value is its lending maintenance value plus its perp equity (USD,
    rounded down), its requirement its lending debt plus its perp maintenance (USD, rounded
    up); it is below the threshold ``t`` when it has a requirement and ``value < t x
    requirement`` (the engine's bucket rule; at ``t != 1`` the same as its wad health
    below ``t``); it is surely below only when its requirement is surely positive.
    ``cw``, ``dv`` are the lending sums with the lending margins of ``b``;
    ``pe``, ``pm`` the perp figures in base-currency units, each within ``slack`` of the
    exact one. The perp equity may be negative, so the bounds are absolute: the lending
    extremes, plus or minus ``slack``, plus a few ulps of every magnitude summed.
    """
    eps, t = b.eps, b.threshold
    room = np.abs(pe)
    room += cw
    room += dv
    room += pm
    room *= 8.0 * ULP
    room += slack
    # the cheap pass first: surely above (most buckets), then the rest in full
    value_min = cw * ((1.0 - b.rel) / (1.0 + eps))
    value_min += pe
    value_min -= room
    value_min -= b.abs_coll
    need_max = dv * (1.0 / (1.0 - eps))
    need_max += pm
    need_max += room
    need_max += b.abs_debt
    need_max *= t * (1.0 + TAU)
    open_ = value_min < need_max
    open_ &= has_requirement
    at = np.flatnonzero(open_)
    c, d, e, m, r = cw[at], dv[at], pe[at], pm[at], room[at]
    value_max = c / (1.0 - eps) + 1.0 + e + r
    need_min = np.maximum(d / (1.0 + eps) - b.abs_debt_low + m - r, 0.0)
    # Surely below needs a surely positive requirement: the engine's rule is "requirement
    # > 0 and value < t x requirement", and a requirement can round to 0 (dYdX truncates a
    # dust notional to zero, so its maintenance is 0) however negative the value.
    below_at = (need_min > 0.0) & (value_max < t * (1.0 - TAU) * need_min)
    surely_below = np.zeros(len(cw), dtype=bool)
    surely_below[at[below_at]] = True
    band = open_
    band[at[below_at]] = False
    return surely_below, band


def bucket_health(cw: FloatArray, dv: FloatArray, pe: FloatArray,
                  pm: FloatArray) -> FloatArray:
    """Float health of buckets with perps: ``(cw + pe) / (dv + pm)`` (0 when the value is
    negative, ``inf`` without requirement)."""
    need = dv + pm
    out = np.full(len(cw), np.inf)
    np.divide(np.maximum(cw + pe, 0.0), need, out=out, where=need > 0)
    return out
