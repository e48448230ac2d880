"""Mango v4's bank maint weight shift (``Bank::maint_weights``), against Mango's own test.

Source: blockworks-foundation/mango-v4 at 1303a4a16228eb1e8e8d4f0eef724eaf63310c86,
``programs/mango-v4/src/state/bank.rs``: ``test_bank_maint_weight_shift`` (weights 1 and 0
shifting to 2 and 10 over the seconds 100 to 1100, ``duration_inv = ONE / 1000``: exact at
the ends, within 1e-8 inside) and ``programs/mango-v4/src/instructions/token_edit.rs``
(``maint_weight_shift_duration_inv``: ``ONE / (end - start)``, zero when ``end <= start``).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marginengine.margin.mango import (
    ONE,
    fx,
    fx_div,
    fx_to_f64,
    maint_weight_shift_duration_inv,
    maint_weights,
)

#: test_bank_maint_weight_shift's bank: (maint asset, maint liab, start, end, targets).
BANK = (ONE, 0, 100, 1100, fx(2), fx(10))


@pytest.mark.parametrize(("now", "asset", "liab"), [
    (0, 1.0, 0.0), (100, 1.0, 0.0), (1100, 2.0, 10.0), (2000, 2.0, 10.0)])
def test_maint_weights_when_outside_the_window_then_exactly_the_bank_or_the_targets(
        now: int, asset: float, liab: float) -> None:
    # Mango: assert_eq!(a, 1.0) at 0 and 100, (2.0, 10.0) at 1100 and 2000.
    assert maint_weights(*BANK, now) == (fx_from_float(asset), fx_from_float(liab))


def fx_from_float(value: float) -> int:
    return round(value * ONE)


@pytest.mark.parametrize(("now", "asset", "liab"), [
    (600, 1.5, 5.0), (200, 1.1, 1.0), (1000, 1.9, 9.0)])
def test_maint_weights_when_inside_the_window_then_mango_figures(
        now: int, asset: float, liab: float) -> None:
    a, l_ = maint_weights(*BANK, now)
    assert abs(fx_to_f64(a) - asset) < 1e-8     # Mango's abs_diff(a, ..) < 1e-8
    assert abs(fx_to_f64(l_) - liab) < 1e-8


def test_maint_weights_when_inside_the_window_then_i80f48_products_worked_out() -> None:
    # duration_inv = ONE / I80F48::from(1000): floor(2^48 / 1000) = 281_474_976_710 raw;
    # at 600: scale = I80F48::from(500) x inv = 500 x inv exactly (an integer times a raw);
    # asset = 1 + scale x (2 - 1) = ONE + scale; liab = 0 + scale x 10 = 10 x scale.
    inv = maint_weight_shift_duration_inv(100, 1100)
    assert inv == 281_474_976_710 == fx_div(ONE, fx(1000))
    scale = 500 * inv
    assert maint_weights(*BANK, 600) == (ONE + scale, 10 * scale)


def test_maint_weights_when_target_below_then_products_floor() -> None:
    # test_basic.rs's targets (maint asset 1 -> 0.5, liab 1 -> 1.5) over a 3 s window:
    # inv = floor(2^48 / 3) is odd, one second in scale = inv, and scale x (0.5 - 1) =
    # -scale / 2 floors (arithmetic shift): one raw unit below the exact half.
    inv = maint_weight_shift_duration_inv(1000, 1003)
    assert inv == 2**48 // 3 and inv % 2 == 1
    a, l_ = maint_weights(ONE, ONE, 1000, 1003, ONE // 2, 3 * ONE // 2, 1001)
    assert (a, l_) == (ONE - inv // 2 - 1, ONE + inv // 2)


def test_maint_weights_when_no_shift_then_the_bank_weights_at_any_time() -> None:
    # Mango's defaults (token_register): start = end = 0, duration_inv = 0, targets 0.
    assert maint_weight_shift_duration_inv(0, 0) == 0
    assert maint_weights(ONE, ONE, 0, 0, 0, 0, 10**9) == (ONE, ONE)
    # end <= start: token_edit caches a zero duration_inv, the weights never move.
    assert maint_weights(ONE, ONE, 500, 500, 0, 0, 10**9) == (ONE, ONE)


def test_maint_weights_when_window_beyond_2_pow_48_then_inverse_truncates_to_no_shift() -> None:
    # ONE / I80F48::from(d) truncates to zero for d > 2^48: Mango's shift then never
    # applies, even past the end.
    assert maint_weight_shift_duration_inv(0, 2**48) == 1
    assert maint_weight_shift_duration_inv(0, 2**48 + 1) == 0
    assert maint_weights(ONE, ONE, 0, 2**48 + 1, 0, 0, 2**50) == (ONE, ONE)


def test_maint_weights_when_negative_clock_then_error_names_it() -> None:
    with pytest.raises(ValueError, match="now: .*non-negative"):
        maint_weights(*BANK, -1)
    with pytest.raises(ValueError, match="maint_weight_shift_start/end"):
        maint_weight_shift_duration_inv(-1, 10)


weights = st.integers(min_value=0, max_value=100 * ONE)


@given(weights, weights, weights, weights, st.integers(0, 10**6), st.integers(1, 10**6),
       st.integers(0, 3 * 10**6), st.integers(0, 3 * 10**6))
def test_maint_weights_when_shifting_then_between_bank_and_target_and_monotone(
        asset: int, liab: int, asset_target: int, liab_target: int, start: int,
        length: int, t1: int, t2: int) -> None:
    end = start + length
    early, late = sorted((t1, t2))
    a1, l1 = maint_weights(asset, liab, start, end, asset_target, liab_target, early)
    a2, l2 = maint_weights(asset, liab, start, end, asset_target, liab_target, late)
    for w, bank, target in ((a1, asset, asset_target), (a2, asset, asset_target),
                            (l1, liab, liab_target), (l2, liab, liab_target)):
        # Floors may step one raw unit below the lower end while moving down.
        assert min(bank, target) - 1 <= w <= max(bank, target)
    # Moving toward the target: never back (within the one-unit floor).
    if asset_target >= asset:
        assert a2 >= a1
    else:
        assert a2 <= a1 + 1
    if liab_target >= liab:
        assert l2 >= l1
    else:
        assert l2 <= l1 + 1
