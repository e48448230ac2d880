"""The anchored screen (``RiskBook._anchored_sync``): a scan that recomputes only the rows
its anchor cannot prove to stay off the candidate list gives the full scan's answer.

(a) The kernel: a row that :func:`anchor_near` leaves out is not a candidate at any
    weights within the move, at fresh float sums, for any screen coefficients the anchor
    covers (random rows of one to three entries, the weights moved to the extremes).
(b) The book: on random books mirrored from an engine, with the anchored path forced at
    every size, after any stream of small price moves, interest, deposits, borrows,
    repayments, withdrawals and liquidations, every scan lists exactly the engine's
    liquidatable accounts, no row with debt outside the anchor is a candidate, and the sums read
    back equal a rebuilt book's.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from marginengine.engine import AdvanceTime, Borrow, Deposit, SetPrice
from marginengine.fixedpoint import PRICE_UNIT
from marginengine.scan import RiskBook
from marginengine.scan import book as book_module
from marginengine.scan.kernels import (
    ANCHOR_MOVE,
    ScreenBounds,
    anchor_coefficients,
    anchor_near,
    candidate_coefficients,
    candidates,
    fresh_sum_error,
    matvec_into,
)
from tests.scan.test_properties import (
    AAVE,
    COMPOUND,
    SETTINGS,
    accounts_spec,
    apply_intent,
    assert_equals_rebuild,
    exact_below,
    funded,
)


# ---------------------------------------------------------------------------- (a) kernel
@SETTINGS
@given(data=st.data(), n=st.integers(1, 40), k=st.integers(1, 4))
def test_anchor_near_when_weights_move_within_bound_then_far_rows_never_candidates(
        data: st.DataObject, n: int, k: int):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    counts = rng.integers(1, 4, size=(2, n))
    sides = []
    for side in range(2):
        cols = np.concatenate([np.sort(rng.choice(k, size=min(int(c), k), replace=False))
                               for c in counts[side]]).astype(np.int32)
        indptr = np.concatenate([[0], np.cumsum([min(int(c), k) for c in counts[side]])]
                                ).astype(np.int32)
        vals = np.floor(10 ** rng.uniform(0, 20, size=len(cols)))
        sides.append((indptr, cols, vals))
    w_c = 10 ** rng.uniform(-12, 4, size=k)
    w_d = 10 ** rng.uniform(-12, 4, size=k)

    def sums(wc: np.ndarray, wd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cw, dv = np.zeros(n), np.zeros(n)
        matvec_into(*sides[0], wc, cw)
        matvec_into(*sides[1], wd, dv)
        return cw, dv

    cw0, dv0 = sums(w_c, w_d)
    e = fresh_sum_error(3)
    b0 = ScreenBounds(threshold=data.draw(st.sampled_from([1.0, 0.97, 1.05])), eps=e,
                      rel=data.draw(st.sampled_from([0.0, 1 / 5_000])), abs_coll=3.0,
                      abs_debt=101.0)
    a0, c0 = candidate_coefficients(b0)
    a_env, c_env = a0 * (1.0 + 1e-9), 2.0 * c0 + 1.0
    far = np.ones(n, dtype=bool)
    far[anchor_near(cw0, dv0, anchor_coefficients(a_env, c_env, e, e))] = False
    # Every weight at an extreme of its window (or anywhere inside), against the rows.
    f = 1.0 + ANCHOR_MOVE
    pick = data.draw(st.sampled_from(["extreme", "uniform"]))
    if pick == "extreme":
        wc, wd = w_c / f * (1 + 4e-16), w_d * f * (1 - 4e-16)
    else:
        wc = w_c / rng.uniform(1.0, f, size=k)
        wd = w_d * rng.uniform(1.0, f, size=k)
    assume_ok = (wc * f >= w_c * (1 + 1e-12)).all() and (wd * (1 + 1e-12) <= w_d * f).all()
    if not assume_ok:
        return  # outside the window the book re-anchors
    cw1, dv1 = sums(wc, wd)
    for b in (b0, ScreenBounds(b0.threshold, b0.eps, b0.rel, 2 * b0.abs_coll + 0.5, 0.0)):
        a, c = candidate_coefficients(b)
        if a > a_env or c > c_env:
            continue
        found = candidates(cw1, dv1, b)
        event(f"far rows: {min(int(far.sum()), 2)}; candidates: {min(len(found), 2)}")
        assert not far[found].any()


# ---------------------------------------------------------------------------- (b) book
small_price = st.tuples(st.just("price"), st.integers(0, 3), st.integers(9_930, 10_070))
small_time = st.tuples(st.just("time"), st.sampled_from([1, 60, 3_600, 86_400]))
scan = st.tuples(st.just("scan"), st.just(True))
small_intents = st.one_of(
    # Moves and scans thrice as often as the rest: most scans then run anchored.
    small_price, small_time, scan, small_price, small_time, scan, small_price, scan,
    st.tuples(st.just("deposit"), st.sampled_from(["a", "b", "c", "d", "e", "f", "g"]),
              st.integers(0, 3), st.integers(1, 999), st.integers(-1, 7)),
    st.tuples(st.just("borrow"), st.sampled_from(["a", "b", "c", "d", "e", "f", "g"]),
              st.integers(0, 3), st.integers(1, 10_000)),
    st.tuples(st.just("repay"), st.sampled_from(["a", "b", "c", "d", "e", "f"]),
              st.integers(0, 3), st.integers(1, 10_000)),
    st.tuples(st.just("withdraw"), st.sampled_from(["a", "b", "c", "d", "e", "f"]),
              st.integers(0, 3), st.integers(1, 10_000)),
    st.tuples(st.just("pin"), st.integers(0, 5), st.integers(0, 3), st.integers(-2, 2)),
    st.tuples(st.just("liquidate"), st.integers(0, 5)),
)


def check_anchor(book: RiskBook) -> None:
    """No row outside the anchor is a candidate with debt at fresh sums of the current
    weights (a row without debt is never below: the anchor leaves those out)."""
    anchor = book._anchor
    if anchor is None or not book._lazy:
        return
    fresh = RiskBook.from_engine(book.engine, subscribe=False)
    fresh.full_scan()
    cw, dv = fresh.sums()
    rows = [book.accounts.row(a) for a in fresh.accounts.ids(range(fresh.n_accounts))]
    found = candidates(cw, dv, book.bounds(1.0))
    found = found[dv[found] > 0]
    outside = [fresh.accounts.id(int(r)) for r in found if not anchor.member[rows[int(r)]]]
    assert outside == []


@pytest.mark.parametrize("config", [AAVE, COMPOUND], ids=["aave-v3", "compound-v3"])
@SETTINGS
@given(opening=accounts_spec, stream=st.lists(small_intents, min_size=5, max_size=40))
def test_anchored_scans_when_random_small_moves_then_exact_and_equal_rebuild(
        config: Any, opening: list[Any], stream: list[Any]):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(book_module, "ANCHOR_MIN_ROWS", 0)
        patch.setattr(book_module, "FULL_SCAN_MIN_WORK", 0)
        patch.setattr(book_module, "ANCHOR_MAX_SHARE", 1.0)
        engine = funded(config)
        book = RiskBook.from_engine(engine)
        book.full_scan()
        for account, deposits, borrow_asset, frac in opening:
            for which, mantissa, exponent in deposits:
                apply_intent(engine, book, ("deposit", account, which, mantissa, exponent))
            apply_intent(engine, book, ("borrow", account, borrow_asset, frac))
        for intent in stream:
            apply_intent(engine, book, intent)  # a scan asserts the engine's answer
            if intent[0] == "scan":
                check_anchor(book)
        book.incremental_scan()
        check_anchor(book)
        event(f"anchored syncs: {min(book.anchored_syncs, 3)}")
        assert book.below_accounts() == exact_below(engine)
        assert_equals_rebuild(engine, book)


def test_anchored_scans_when_a_day_of_minutes_then_exact_and_mostly_anchored():
    """A 300-account book, a slow fall with interest every minute: the anchored path
    carries most scans, each lists exactly the engine's liquidatable accounts."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(book_module, "ANCHOR_MIN_ROWS", 0)
        patch.setattr(book_module, "FULL_SCAN_MIN_WORK", 0)
        patch.setattr(book_module, "ANCHOR_MAX_SHARE", 1.0)
        engine = funded(AAVE)
        rng = np.random.default_rng(3)
        for i in range(300):
            account = f"acct{i:03d}"
            engine.apply(Deposit(account, "WETH", int(rng.integers(1, 50)) * 10**17))
            data = engine.account_data(account)
            room = (data.initial_value - data.total_debt) * int(rng.integers(8_000, 10_000))
            engine.apply(Borrow(account, "USDC", room // 10_000 * 10**6
                                // engine.prices["USDC"]))
        book = RiskBook.from_engine(engine)
        book.full_scan()
        price = engine.prices["WETH"]
        below_seen = 0
        for step in range(120):
            engine.apply(AdvanceTime(60))
            price = price * int(rng.integers(9_985, 10_006)) // 10_000
            engine.apply(SetPrice("WETH", price))
            book.incremental_scan()
            assert book.below_accounts() == exact_below(engine), step
            below_seen = max(below_seen, len(book.below_accounts()))
        assert book.anchored_syncs >= 60  # most of the 120 scans
        assert below_seen > 0  # the fall crossed some accounts' thresholds
        assert_equals_rebuild(engine, book)
        assert price < 2_000 * PRICE_UNIT
