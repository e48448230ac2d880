"""Funding formulas (issue 9 items 6 and 7), checked against the protocols' published numbers.

Hyperliquid: docs, Trading > Funding (https://hyperliquid.gitbook.io/hyperliquid-docs/
trading/funding): an 8-hour rate F = P + clamp(0.01% - P, -0.05%, 0.05%), one eighth paid
every hour, capped at 4%/hour; the page's example: premium 1% -> F = 0.95%.
dYdX v4: dydxprotocol/v4-chain protocol/x/perpetuals/keeper/perpetual.go
(MaybeProcessNewFundingTickEpoch), funding/funding.go (GetFundingIndexDelta) and
funding/funding_test.go (TestGetFundingIndexDelta).
"""

from __future__ import annotations

from fractions import Fraction

import pytest

from marginengine.fixedpoint import PRICE_UNIT
from marginengine.ledger.perp import FUNDING_SCALE
from marginengine.margin.funding import (
    dydx_delta_to_index,
    dydx_funding_index_delta,
    dydx_funding_rate_ppm,
    dydx_max_abs_clamp_ppm,
    dydx_premium_ppm,
    index_delta,
    interval_rate,
    premium,
)

HOUR, EIGHT = 3600, 28_800
I8, C8, CAP = Fraction(1, 10_000), Fraction(5, 10_000), Fraction(4, 100)


def hl(p: Fraction) -> Fraction:
    return interval_rate(p, I8, C8, CAP, HOUR, EIGHT)


def test_hyperliquid_when_docs_example_then_eighth_of_095_percent_an_hour():
    # Docs example: impact bid 10,100 over oracle 10,000 -> premium 1%;
    # clamp(0.01% - 1%, +-0.05%) = -0.05%; F = 0.95% per 8 hours; paid 0.95% / 8 an hour.
    assert premium(10_100, 10_000) == Fraction(1, 100)
    assert hl(Fraction(1, 100)) == Fraction(95, 10_000) / 8 == Fraction(11_875, 10**7)


def test_hyperliquid_when_no_premium_then_interest_0_00125_percent_hourly_exactly():
    # 0.01% per 8 hours = 0.00125% an hour (11.6% a year): held exactly, not as 12 ppm.
    assert hl(Fraction(0)) == Fraction(125, 10**7)


def test_hyperliquid_when_premium_huge_then_capped_at_4_percent_an_hour():
    # F = 50% - 0.05% per 8 h -> 6.24375% an hour -> capped at 4%.
    assert hl(Fraction(1, 2)) == CAP
    assert hl(Fraction(-1, 2)) == -CAP


def test_binance_when_period_is_interval_then_formula_per_interval():
    # Binance's shape over its own 8-hour interval: 0.01% + clamp(...) with no scaling.
    assert interval_rate(Fraction(0), I8, C8, Fraction(3, 400), EIGHT, EIGHT) == I8


def test_index_delta_when_rate_exact_then_truncated_only_at_1e18():
    # 0.00125% of 2,000 USDC (6 decimals) per whole token: 0.025 USDC = 25,000 units.
    assert index_delta(Fraction(125, 10**7), 2_000 * PRICE_UNIT, 10**6) == \
        25_000 * FUNDING_SCALE
    assert index_delta(Fraction(-1, 3), PRICE_UNIT, 1) == -(FUNDING_SCALE // 3)


@pytest.mark.parametrize(("resolution", "price", "rate", "seconds", "expected"), [
    # funding_test.go TestGetFundingIndexDelta, every row: (atomic resolution, price as
    # Price x 10^Exponent in our PRICE_UNIT fixed point, 8-hour rate ppm, seconds, delta).
    (-12, 1_000 * PRICE_UNIT, 1_001_999, 8 * 3600, 1_001),  # rounds toward zero
    (-12, 1_000 * PRICE_UNIT, -1_001_999, 8 * 3600, -1_001),  # toward zero, not -1,002
    (-4, 1_000 * 10**2 * PRICE_UNIT, -1_001_999, 8 * 3600 // 2, -5_009_995_000_000),
    (0, 1_000 * PRICE_UNIT // 10**6, -1_001_999, 8 * 3600 // 8, -125_249_875),
])
def test_dydx_funding_index_delta_when_go_test_rows_then_same_delta(
    resolution: int, price: int, rate: int, seconds: int, expected: int
) -> None:
    # A base quantum is 10^resolution tokens; USDC quote quantums (1e-6).
    assert dydx_funding_index_delta(rate, seconds, price, 10**-resolution, 10**6) == expected


def test_dydx_delta_to_index_when_settled_then_quanta_times_delta_over_million():
    idx = dydx_delta_to_index(250, 10**9)
    # 100 ETH = 1e11 quanta pay 1e11 x 250 / 1e6 = 25,000,000 quote quantums (25 USDC).
    assert 100 * 10**18 * idx // (10**18 * FUNDING_SCALE) == 25_000_000


def test_dydx_funding_rate_when_samples_then_padded_averaged_toward_zero_clamped():
    # Fewer samples than the tick needs: padded with zeros (processStoredPremiums).
    assert dydx_funding_rate_ppm([600] * 30, 60, 0, 10**6) == 300
    # Average toward zero: (-1 - 1 - 1 + 0) / 4 = -0.75 -> 0; plus default funding 100.
    assert dydx_funding_rate_ppm([-1, -1, -1, 0], 4, 100, 10**6) == 100
    # Clamp to clamp_factor x (IMF - MMF): 600% x (5% - 3%) = 12% = 120,000 ppm.
    bound = dydx_max_abs_clamp_ppm(6_000_000, 50_000, 600_000)
    assert bound == 120_000
    assert dydx_funding_rate_ppm([500_000] * 60, 60, 0, bound) == 120_000
    # Tail removal: 10% of 10 samples from each end -> one from the bottom, one from the top.
    assert dydx_funding_rate_ppm(list(range(10)), 10, 0, 10**6, 100_000) == 4  # 36 / 8


def test_dydx_premium_when_impact_above_index_then_toward_zero_and_clamped():
    assert dydx_premium_ppm(2_002 * PRICE_UNIT, 2_000 * PRICE_UNIT, 1_200_000) == 1_000
    assert dydx_premium_ppm(1_999_999, 3_000_000, 10**6) == -333_333  # toward zero
    assert dydx_premium_ppm(10 * PRICE_UNIT, PRICE_UNIT, 1_200_000) == 1_200_000


@pytest.mark.parametrize(("call", "message"), [
    (lambda: interval_rate(Fraction(0), I8, C8, CAP, 0, EIGHT), "interval and period"),
    (lambda: premium(1, 0), "index must be positive"),
    (lambda: dydx_funding_index_delta(1, 0, 1, 1, 1), "tick_seconds"),
])
def test_funding_when_bad_input_then_value_error(call, message):  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=message):
        call()


# --- Drift v2: funding clamped by contract tier ------------------------------------------
# drift-labs/protocol-v2@0ae3e3b1db782a6765c3525b3dec38ad4d9d3a62: controller/funding.rs
# update_funding_rate, state/perp_market.rs get_max_price_divergence_for_funding_rate,
# math/funding/tests.rs (max_funding_rates, unsettled_funding_pnl).


def test_drift_max_divergence_when_drift_test_then_4_9_and_1_484848():
    from marginengine.margin.funding import drift_max_price_divergence

    # math/funding/tests.rs max_funding_rates: oracle TWAP 49 (1e6 precision); the default
    # tier (HighlySpeculative) allows 10%, tier B 3% (49e6 / 33, truncated).
    assert drift_max_price_divergence("HighlySpeculative", 49_000_000) == 4_900_000
    assert drift_max_price_divergence("B", 49_000_000) == 1_484_848
    # The rest of the ladder (perp_market.rs): A as B, C 5% (/ 20), the others 10%.
    assert drift_max_price_divergence("A", 49_000_000) == 1_484_848
    assert drift_max_price_divergence("C", 49_000_000) == 2_450_000
    for tier in ("Speculative", "Isolated"):
        assert drift_max_price_divergence(tier, 49_000_000) == 4_900_000
    with pytest.raises(ValueError, match="contract_tier: unknown Drift contract tier 'D'"):
        drift_max_price_divergence("D", 49_000_000)


def test_drift_funding_rate_when_drift_test_then_minus_140002666():
    from marginengine.margin.funding import drift_funding_rate

    # math/funding/tests.rs unsettled_funding_pnl: mark TWAP 47.629736, oracle TWAP 51,
    # hourly: spread -3,370,264 + 51e6 / 5000 (10,200) = -3,360,064 (inside 10%: 5.1e6);
    # x 1000 / 24 = -140,002,666.67, truncated toward zero (Rust): -140,002,666.
    assert drift_funding_rate(47_629_736, 51_000_000, "HighlySpeculative", 3600) == \
        -140_002_666
    # Tier B clamps the spread at 51e6 / 33 = 1,545,454: -1,545,454,000 / 24 =
    # -64,393,916.67 -> -64,393,916.
    assert drift_funding_rate(47_629_736, 51_000_000, "B", 3600) == -64_393_916
    # C: 51e6 / 20 = 2,550,000 -> -106,250,000 exactly.
    assert drift_funding_rate(47_629_736, 51_000_000, "C", 3600) == -106_250_000
    # Mark over oracle, longs pay: 60 over 50 is clamped to 50e6 / 33 = 1,515,151 (tier A)
    # -> 1,515,151,000 / 24 = 63,131,291.67 -> 63,131,291.
    assert drift_funding_rate(60_000_000, 50_000_000, "A", 3600) == 63_131_291
    # No spread: the offset alone, 50e6 / 5000 = 10,000 -> 10,000,000 / 24 = 416,666.
    assert drift_funding_rate(50_000_000, 50_000_000, "A", 3600) == 416_666
    # A period longer than an hour pays more per period: 86,400 / 28,800 = 3.
    assert drift_funding_rate(50_000_000, 50_000_000, "A", 28_800) == 3_333_333
    with pytest.raises(ValueError, match="oracle_twap and funding_period must be positive"):
        drift_funding_rate(1, 0, "A", 3600)
