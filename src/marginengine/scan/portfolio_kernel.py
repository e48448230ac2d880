"""The fused per-account kernel of the portfolio risk book (compiled with Numba).

One pass over each account's positions does what the NumPy path of
:mod:`marginengine.scan.portfolio` does with several sparse products and array passes:
the weighted sum of its single-signed positions' P&L rows, the per-scenario discount of
its mixed (account, expiry) groups, the skew and basis terms of every group, and the
minimum over scenarios, without materialising the accounts x scenarios matrix. Its
oracle is the NumPy path (and, through it, :func:`marginengine.margin.portfolio.evaluate`):
the tests run both on the same books.

Numba is optional (``pip install marginengine[fast]``): :data:`AVAILABLE` says whether it
imported; without it the book uses the NumPy path.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any

import numpy as np

#: Whether Numba is installed (the fused kernel is then compiled, once, and cached).
AVAILABLE = importlib.util.find_spec("numba") is not None


def _fused(p_indptr: Any, p_indices: Any, p_data: Any, g_indptr: Any, qa_indptr: Any,
           qa_indices: Any, qa_data: Any, g_exp: Any, g_kind: Any, weights: Any,
           values: Any, extra: Any, pos: Any, neg: Any, damp: Any, basis_factor: Any,
           n_grid: int, cash: Any, mm_units: Any, im_units: Any, conf_units: Any,
           spot: float, mm_factor: float, im_factor: float, conf_add: float, rows: Any,
           col_scenario: Any,
           initial: Any, maintenance: Any, mtm: Any, worst: Any, worst_col: Any) -> None:
    """Per account, in one pass over its positions: margins, MtM, the worst P&L (or the
    basis contingency, or 0, whichever is lowest) and its scenario (``col_scenario`` of
    its column; -1: not a scenario), written at the account's row ``rows[a]`` of the
    output arrays (the whole book's).

    Perps (``p_*``, a CSR over the weights' first half) are linear. Each option group
    (an account's options of one expiry, ``qa_*``) is long-only (kind 0: its entries read
    the long-discounted half of ``weights``), short-only (1: the short half) or mixed (2:
    its shocked values are summed from ``values`` and discounted per scenario by their
    sign); every group adds its skew terms ``-|P&L|``, its basis contingency and MtM.
    """
    n_acc = g_indptr.size - 1
    n_cols = weights.shape[1]
    n_inst = values.shape[0]
    n_skew = n_cols - n_grid
    n_extra = 3 + n_skew
    acc = np.zeros(n_cols)
    x = np.zeros(max(n_grid, 1))
    y = np.zeros(n_extra)
    for a in range(n_acc):
        for s in range(n_cols):
            acc[s] = 0.0
        for k in range(p_indptr[a], p_indptr[a + 1]):
            amt = p_data[k]
            i = p_indices[k]
            for s in range(n_cols):
                acc[s] += amt * weights[i, s]
        bsum = 0.0
        msum = 0.0
        for g in range(g_indptr[a], g_indptr[a + 1]):
            kind = g_kind[g]
            for c in range(n_extra):
                y[c] = 0.0
            if kind == 2:
                for s in range(n_grid):
                    x[s] = 0.0
            for k in range(qa_indptr[g], qa_indptr[g + 1]):
                amt = qa_data[k]
                i = qa_indices[k]
                for c in range(n_extra):
                    y[c] += amt * extra[i, c]
                if kind == 2:
                    for s in range(n_grid):
                        x[s] += amt * values[i, s]
                else:
                    row = i + kind * n_inst
                    for s in range(n_cols):
                        acc[s] += amt * weights[row, s]
            e = g_exp[g]
            if kind == 2:
                for s in range(n_grid):
                    d = pos[e] if x[s] >= 0.0 else neg[e]
                    acc[s] += (x[s] * d - y[0]) * damp[s]
            msum += y[0]
            lo = min(y[1] - y[0], y[2] - y[0])
            if lo < 0.0:
                bsum += lo * basis_factor[e]
            for j in range(n_skew):
                v = y[3 + j]
                d = pos[e] if v >= 0.0 else neg[e]
                acc[n_grid + j] -= abs((v * d - y[0]) * damp[n_grid + j])
        best = 0
        for s in range(1, n_cols):
            if acc[s] < acc[best]:
                best = s
        w = acc[best]
        floor = min(bsum, 0.0)
        if floor <= w:
            w = floor
            best = -1
        m = cash[a] + msum
        mm_cont = spot * mm_units[a]
        r = rows[a]
        mtm[r] = m
        worst[r] = w
        worst_col[r] = col_scenario[best] if best >= 0 else -1
        maintenance[r] = m + w * mm_factor - mm_cont
        initial[r] = m + w * im_factor - mm_cont - spot * (im_units[a] + conf_add * conf_units[a])


def _compile(kernel: Callable[..., None]) -> Callable[..., None]:
    if not AVAILABLE:  # pragma: no cover - the book then uses its NumPy path
        return kernel
    import numba  # type: ignore[import-untyped,unused-ignore]

    compiled: Callable[..., None] = numba.njit(cache=True, nogil=True)(kernel)
    return compiled


#: The compiled kernel (the plain Python function where Numba is missing: correct, slow).
fused = _compile(_fused)
