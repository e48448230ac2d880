"""Drift v2 high-leverage mode margin ratios: ``PerpMarket::get_margin_ratio`` with the
user's mode.

Source: drift-labs/protocol-v2@0ae3e3b1db782a6765c3525b3dec38ad4d9d3a62,
``programs/drift/src/state/perp_market/tests.rs``, module ``get_margin_ratio``, tests
``test``, ``new_hlm_imf_size`` and ``new_hlm_imf_size_loop``. Ratios in
``MARGIN_PRECISION`` (1e4), sizes in ``BASE_PRECISION`` (1e9), ``imf_factor`` 1e6.
"""

from __future__ import annotations

import pytest

from marginengine.margin.drift import (
    MarginMode,
    MarginRequirementType,
    PerpMarketMargin,
    PerpPnlWeights,
    high_leverage_initial_margin_ratio_from_size,
)

BASE = 10**9
INITIAL = MarginRequirementType.INITIAL
MAINTENANCE = MarginRequirementType.MAINTENANCE
FILL = MarginRequirementType.FILL


def test_margin_ratio_when_high_leverage_then_market_hlm_ratios():
    # get_margin_ratio::test: 10% / 5%; with HLM 2% / 1%
    plain = PerpMarketMargin(1000, 500)
    assert [plain.margin_ratio(BASE, k) for k in (INITIAL, MAINTENANCE, FILL)] == [1000, 500, 750]
    hlm = PerpMarketMargin(1000, 500, 0, PerpPnlWeights(), 200, 100)
    assert [hlm.margin_ratio(BASE, k, True) for k in (INITIAL, MAINTENANCE, FILL)] == [
        200, 100, 150]
    # a user not in the mode, or a market without both ratios, keeps the ordinary ones
    assert hlm.margin_ratio(BASE, INITIAL) == 1000
    half = PerpMarketMargin(1000, 500, 0, PerpPnlWeights(), 200, 0)
    assert not half.high_leverage_enabled
    assert half.margin_ratio(BASE, INITIAL, True) == 1000


def test_margin_ratio_when_high_leverage_and_sized_then_drifts_new_hlm_imf_size():
    m = PerpMarketMargin(1000, 500, 50, PerpPnlWeights(), 100, 50)
    assert m.margin_ratio(1_000_000 * BASE, INITIAL) == 1300
    assert m.margin_ratio(BASE // 10, INITIAL, True) == 100
    assert m.margin_ratio(BASE, INITIAL, True) == 100
    assert m.margin_ratio(10 * BASE, INITIAL, True) == 104       # slightly under 100x
    assert m.margin_ratio(3000 * BASE, INITIAL, True) == 221
    assert m.margin_ratio(3000 * BASE, MAINTENANCE, True) == 67   # hardly changed
    assert m.margin_ratio(300_000 * BASE, MAINTENANCE, True) == 313


def test_margin_ratio_when_size_premium_binds_then_hlm_equals_ordinary_loop():
    # new_hlm_imf_size_loop: wherever the ordinary initial ratio is raised by size, the
    # high-leverage one equals it; 959 of the sizes 1,000 .. 999,000 base
    m = PerpMarketMargin(10_000 // 20, 10_000 // 33, 50, PerpPnlWeights(), 100, 10_000 // 151)
    count = 0
    for i in range(1, 1000):
        size = BASE * i * 1000
        ordinary = m.margin_ratio(size, INITIAL)
        if ordinary != m.margin_ratio_initial:
            assert m.margin_ratio(size, INITIAL, True) == ordinary
            count += 1
    assert count == 959


def test_margin_mode_when_maintenance_only_then_initial_is_ordinary():
    m = PerpMarketMargin(1000, 500, 0, PerpPnlWeights(), 200, 100)
    mode = MarginMode.HIGH_LEVERAGE_MAINTENANCE
    assert (mode.is_high_leverage(INITIAL), mode.is_high_leverage(MAINTENANCE)) == (False, True)
    assert m.margin_ratio(BASE, INITIAL, mode.is_high_leverage(INITIAL)) == 1000
    assert m.margin_ratio(BASE, MAINTENANCE, mode.is_high_leverage(MAINTENANCE)) == 100


def test_initial_ratio_from_size_when_pre_below_five_then_value_error():
    assert high_leverage_initial_margin_ratio_from_size(1000, 1000, 100) == 100
    assert high_leverage_initial_margin_ratio_from_size(1000, 1300, 100) == 1300
    with pytest.raises(ValueError, match="pre_size_adj_margin_ratio: 4 / 5 is 0"):
        high_leverage_initial_margin_ratio_from_size(4, 3, 1)
