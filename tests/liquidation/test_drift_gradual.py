"""Drift v2's gradual liquidation and liquidation fee by slot, as pure functions.

Vectors: drift-labs/protocol-v2@0ae3e3b1db782a6765c3525b3dec38ad4d9d3a62,
``programs/drift/src/math/liquidation/tests.rs``: ``calculate_max_pct_to_liquidate::test``
and ``get_liquidation_fee::test``; the rules are ``math/liquidation.rs``
(``calculate_max_pct_to_liquidate``, ``get_liquidation_fee``) and ``state/perp_market.rs``
(``get_max_liquidation_fee``).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marginengine.liquidation.drift import (
    LIQUIDATION_FEE_PRECISION,
    LIQUIDATION_PCT_PRECISION,
    QUOTE_PRECISION,
    liquidation_fee,
    max_pct_to_liquidate,
    max_perp_liquidation_fee,
    slot_at,
)


def test_max_pct_to_liquidate_when_shortage_under_50_then_all_as_drift():
    # calculate_max_pct_to_liquidate::test: User::default (last_active_slot 0, nothing
    # freed), shortage 49 USDC, slot 1, initial 10%, duration 10 -> LIQUIDATION_PCT_PRECISION
    assert max_pct_to_liquidate(49 * QUOTE_PRECISION, 1 - 0, 0, LIQUIDATION_PCT_PRECISION // 10,
                                10) == LIQUIDATION_PCT_PRECISION


def test_max_pct_to_liquidate_when_shortage_large_then_initial_plus_elapsed_share():
    # the same state at 70 USDC (controller test liquidate_over_multiple_slots: initial
    # 10%, 150 slots): at the start 10%; 50 slots on, with 7,000,031 freed, the share of
    # the start's shortage is 10% + 50 / 150 = 43.33%, as a share of what is left:
    # (77,000,031 x 4,333 / 1e4 - 7,000,031) x 1e4 / 70,000,000 = 3,766
    assert max_pct_to_liquidate(70 * QUOTE_PRECISION, 0, 0, 1_000, 150) == 1_000
    assert max_pct_to_liquidate(70 * QUOTE_PRECISION, 50, 7_000_031, 1_000, 150) == (
        (77_000_031 * 4_333 // 10_000 - 7_000_031) * 10_000 // 70_000_000)
    # a duration of 0 (Drift's initialize state) divides by 0: all of it
    assert max_pct_to_liquidate(70 * QUOTE_PRECISION, 0, 0, 0, 0) == LIQUIDATION_PCT_PRECISION
    # more freed than the share allows yet: nothing (saturating_sub)
    assert max_pct_to_liquidate(100 * QUOTE_PRECISION, 0, 50 * QUOTE_PRECISION, 1_000,
                                150) == 0


def test_liquidation_fee_when_slots_pass_then_drifts_schedule():
    # get_liquidation_fee::test: base 2%, max 5%, the user's slot 0
    base, top = 2 * LIQUIDATION_FEE_PRECISION // 100, 5 * LIQUIDATION_FEE_PRECISION // 100
    assert liquidation_fee(base, top, 0, 100_000) == top            # huge slot difference
    assert liquidation_fee(base, top, 0, 10) == base                # within the grace
    assert liquidation_fee(base, top, 0, 10_000) == 3 * LIQUIDATION_FEE_PRECISION // 100
    # the grace period's edge: 1,499 slots the base, 1,500 the base plus 1,500 x 1
    assert liquidation_fee(base, top, 0, 1_499) == base
    assert liquidation_fee(base, top, 0, 1_500) == base + 1_500


def test_max_perp_liquidation_fee_when_ratio_binds_then_the_ratio():
    # get_max_liquidation_fee: min(3 x fee, maintenance ratio x 100)
    assert max_perp_liquidation_fee(10_000, 500) == 30_000
    assert max_perp_liquidation_fee(20_000, 500) == 50_000


def test_slot_at_when_400ms_then_two_and_a_half_a_second_floored():
    assert [slot_at(t, 400) for t in (0, 1, 2, 600)] == [0, 2, 5, 1_500]
    assert slot_at(7, 1_000) == 7


def test_rules_when_slot_before_start_then_clear_error():
    with pytest.raises(ValueError, match="slots_elapsed"):
        max_pct_to_liquidate(60 * QUOTE_PRECISION, -1, 0, 1_000, 150)
    with pytest.raises(ValueError, match="current_slot"):
        liquidation_fee(10_000, 30_000, 5, 4)


shortages = st.integers(1, 10**15)
slots = st.integers(0, 10**7)


@given(shortages, slots, slots, st.integers(0, 10**14), st.integers(0, 10_000),
       st.integers(0, 255))
def test_max_pct_when_any_state_then_within_0_and_100_and_grows_with_slots(
        shortage: int, a: int, b: int, freed: int, initial: int, duration: int) -> None:
    lo, hi = sorted((a, b))
    early = max_pct_to_liquidate(shortage, lo, freed, initial, duration)
    late = max_pct_to_liquidate(shortage, hi, freed, initial, duration)
    assert 0 <= early <= late <= LIQUIDATION_PCT_PRECISION


@given(st.integers(0, 10**6), st.integers(0, 10**6), slots, slots)
def test_liquidation_fee_when_any_slots_then_between_base_and_max_and_grows(
        base: int, extra: int, a: int, b: int) -> None:
    top = base + extra
    lo, hi = sorted((a, b))
    early, late = liquidation_fee(base, top, 0, lo), liquidation_fee(base, top, 0, hi)
    assert base <= early <= late <= top


@given(shortages, slots, st.integers(0, 10_000))
def test_max_pct_when_duration_0_and_nothing_freed_then_all(shortage: int, elapsed: int,
                                                             initial: int) -> None:
    # Drift's initialize state (duration 0): the engine's default sizes as before
    assert max_pct_to_liquidate(shortage, elapsed, 0, initial, 0) == LIQUIDATION_PCT_PRECISION
