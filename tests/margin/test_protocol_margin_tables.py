"""dYdX v4 and Drift v2 margin rules, checked against the protocols' own unit-test tables.

dYdX v4: dydxprotocol/v4-chain, protocol/x/perpetuals/types/liquidity_tier_test.go
(TestGetInitialMarginQuoteQuantums, TestGetAdjustedInitialMarginPpm) and
protocol/x/perpetuals/lib/lib_test.go (TestGetMarginRequirementsInQuoteQuantums and _2).
Drift v2: drift-labs/protocol-v2, programs/drift/src/state/perp_market/tests.rs
(new_hlm_imf_size, new_hlm_imf_size_loop, the non-high-leverage figures).
"""

from __future__ import annotations

import pytest

from marginengine.margin.tiers import (
    DRIFT_BASE_PRECISION,
    drift_size_premium_liability_weight,
    dydx_initial_margin,
    dydx_maintenance_margin,
    oi_scaled_imf,
    size_premium_imf,
)


# (base IMF ppm, lower cap, upper cap, OI notional, notional, expected IMR): every row of
# TestGetInitialMarginQuoteQuantums.
@pytest.mark.parametrize(
    ("imf", "lower", "upper", "oi", "notional", "expected"),
    [
        (200_000, 0, 0, 0, 500_000, 100_000),  # initial margin 20%
        (500_000, 0, 0, 0, 1_000_000, 500_000),  # initial margin 50%
        (100_000, 0, 0, 0, 1, 1),  # 0.1 rounds up to 1
        (567_243, 0, 0, 0, 123_456, 70_030),  # 70,029.55 rounds up
        (200_000, 0, 0, 1_500_000_000_000, 500_000, 100_000),  # no OIMF: caps 0
        (200_000, 1_000_000_000_000, 2_000_000_000_000, 1_500_000_000_000, 500_000, 300_000),
        (200_000, 25_000_000_000_000, 50_000_000_000_000, 80_000_000_000_000, 500_000, 500_000),
        (200_000, 25_000_000_000_000, 50_000_000_000_000, 25_000_000_000_000, 500_000, 100_000),
        # "realistic numbers": OIMF 200,000 + 71,393.298 -> 271,393 ppm (floored), IMR
        # ceil(500,000 * 0.271393) = ceil(135,696.5) = 135,697.
        (200_000, 25_000_000_000_000, 60_000_000_000_000, 28_123_456_789_123, 500_000, 135_697),
    ],
)
def test_dydx_initial_margin_when_dydx_table_then_same_figures(
    imf: int, lower: int, upper: int, oi: int, notional: int, expected: int
) -> None:
    assert dydx_initial_margin(notional, imf, oi, lower, upper) == expected


# TestGetAdjustedInitialMarginPpm: base 20%, caps 1,000,000 and 2,000,000.
@pytest.mark.parametrize(
    ("oi", "lower", "upper", "expected"),
    [
        (0, 1_000_000, 2_000_000, 200_000),
        (1_500_000, 1_000_000, 2_000_000, 600_000),
        (1_234_567, 1_000_000, 2_000_000, 387_653),  # 387,653.6 rounded down
        (1_000_000, 1_000_000, 2_000_000, 200_000),
        (2_000_000, 1_000_000, 2_000_000, 1_000_000),
        (2_500_000, 1_000_000, 2_000_000, 1_000_000),
        (1_500_000, 0, 0, 200_000),
    ],
)
def test_oi_scaled_imf_when_dydx_table_then_same_ppm(
    oi: int, lower: int, upper: int, expected: int
) -> None:
    assert oi_scaled_imf(200_000, oi, lower, upper) == expected


def test_dydx_margin_when_lib_test_rows_then_same_imr_and_mmr() -> None:
    # TestGetMarginRequirementsInQuoteQuantums: 1 base quantum at price 123,456,789,123e-5,
    # atomic resolution 4: notional = 1 * 123,456,789,123 * 10^(-5 + 4 + 6) quote quantums.
    notional = 123_456_789_123 * 10**5
    assert dydx_initial_margin(notional, 200_000) == 2_469_135_782_460_000
    assert dydx_maintenance_margin(notional, 200_000, 500_000) == 1_234_567_891_230_000
    # "open interest above cap": OI 1e12 base quantums at the same price, caps 1e12 and
    # 2e12 quote quantums: OIMF 100%; the MMR stays on the base IMF.
    oi = 10**12 * 123_456_789_123 * 10**5
    assert dydx_initial_margin(notional, 200_000, oi, 10**12, 2 * 10**12) == \
        12_345_678_912_300_000
    # TestGetMarginRequirementsInQuoteQuantums_2: 7,000 quantums at 55,550e-1, resolution
    # -4: notional 7,000 * 55,550 * 10^(-1 - 4 + 6) = 3,888,500,000; IMF 1%, fraction 50%.
    assert dydx_initial_margin(3_888_500_000, 10_000) == 38_885_000
    assert dydx_maintenance_margin(3_888_500_000, 10_000, 500_000) == 19_442_500
    # -5,000 quantums at 42,000,000e-2, resolution -6: notional 2,100,000,000.
    assert dydx_initial_margin(2_100_000_000, 10_000) == 21_000_000
    assert dydx_maintenance_margin(2_100_000_000, 10_000, 500_000) == 10_500_000
    # IMF 100%, fraction 100%, resolution -6: notional 388,850,000... / 38,885,000.
    assert dydx_maintenance_margin(38_885_000, 1_000_000, 1_000_000) == 38_885_000
    assert dydx_maintenance_margin(38_885_000, 10_000, 1_000_000) == 388_850


def test_dydx_maintenance_margin_when_small_notional_then_rounded_up_twice() -> None:
    # Notional 21 quote units, IMF 5%, maintenance fraction 60% (MMF 3%):
    # dYdX: ceil(ceil(21 * 0.05) * 0.6) = ceil(2 * 0.6) = 2. One rounding: ceil(0.63) = 1.
    assert dydx_maintenance_margin(21, 50_000, 600_000) == 2
    assert dydx_initial_margin(21, 50_000) == 2


def test_drift_size_premium_when_perp_market_tests_then_same_ratios() -> None:
    # new_hlm_imf_size: margin_ratio_initial = MARGIN_PRECISION / 10 (1,000 bps),
    # imf_factor 50, size 1,000,000 base -> get_margin_ratio(Initial) = 1,300.
    size = 1_000_000 * DRIFT_BASE_PRECISION
    assert drift_size_premium_liability_weight(size, 50, 1_000) == 1_300
    assert size_premium_imf(100_000, size, DRIFT_BASE_PRECISION, 50) == 130_000
    # new_hlm_imf_size_loop: margin_ratio_initial = MARGIN_PRECISION / 20 (500 bps),
    # imf_factor 50: for sizes i * 1,000 base (i in 1..999) the ratio differs from 500 for
    # 959,196 / 1,000 = 959 of them.
    changed = sum(
        drift_size_premium_liability_weight(i * 1_000 * DRIFT_BASE_PRECISION, 50, 500) != 500
        for i in range(1, 1_000)
    )
    assert changed == 959


def test_drift_size_premium_when_bad_input_then_value_error() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        drift_size_premium_liability_weight(-1, 50, 500)
    with pytest.raises(ValueError, match="precision"):
        drift_size_premium_liability_weight(1, 50, 500, precision=3)
