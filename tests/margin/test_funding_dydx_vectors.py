"""dYdX v4 funding against dYdX's own keeper and type tests.

Source: dydxprotocol/v4-chain@84d4664bae71e3a077adaac67fb77ad19cd28d30:

- protocol/x/perpetuals/types/liquidity_tier_test.go: TestLiquidityTierGetMaxAbsFundingClampPpm,
  TestLiquidityTierGetMaintenanceMarginPpm;
- protocol/x/perpetuals/keeper/perpetual_test.go:
  TestMaybeProcessNewFundingTickEpoch_ProcessNewEpoch, TestGetRemoveSampleTailsFunc;
- protocol/x/perpetuals/lib/lib_test.go: TestGetSettlementPpmWithPerpetual;
- protocol/x/clob/memclob/memclob_get_premium_price_test.go: TestGetPremiumPrice.

The keeper tests' perpetuals and liquidity tiers are protocol/testutil/constants/perpetuals.go
(``LiquidityTiers``: tier 0 IMF 100% / fraction 100%, tier 1 100% / 75%, tier 2 100% / 0,
tier 5 50% / 60%, tier 6 20% / 90%; ``TestFundingRateClampFactorPpm`` 6,000,000) and the test
markets (BTC 5,000,000,000 x 10^-5 = 50,000 USD, ETH 3,000,000,000 x 10^-6 = 3,000 USD).
"""

from __future__ import annotations

from fractions import Fraction

import pytest

from marginengine.fixedpoint import PRICE_UNIT
from marginengine.ledger.perp import funding_payment
from marginengine.margin.funding import (
    dydx_delta_to_index,
    dydx_funding_index_delta,
    dydx_funding_rate_ppm,
    dydx_max_abs_clamp_ppm,
    dydx_premium_ppm,
)

U32_MAX = 2**32 - 1
I32_MAX, I32_MIN = 2**31 - 1, -(2**31)
USDC = 10**6
#: dYdX's test liquidity tiers: (initial margin ppm, maintenance fraction ppm).
TIERS = {0: (1_000_000, 1_000_000), 1: (1_000_000, 750_000), 2: (1_000_000, 0),
         5: (500_000, 600_000), 6: (200_000, 900_000)}
CLAMP_FACTOR = 6_000_000  # TestFundingRateClampFactorPpm
BTC_PRICE, ETH_PRICE = 50_000 * PRICE_UNIT, 3_000 * PRICE_UNIT


@pytest.mark.parametrize(("clamp", "imf", "fraction", "expected"), [
    (6_000_000, 150_000, 800_000, 180_000),        # 600% x (15% - 12%) = 18%
    (6_000_000, 450_000, 1_000_000, 0),
    (6_000_000, 0, 1_000_000, 0),
    (3_000_000, 1_000_000, 0, 3_000_000),
    (0, 1_000_000, 1_000_000, 0),
    (U32_MAX, 1_000_000, 0, U32_MAX),
    # MMF floor(745,345 x 0.564947) = 421,080; floor(423,978,721 x 324,265 / 1e6).
    (423_978_721, 745_345, 564_947, 137_481_459),
])
def test_dydx_max_abs_clamp_when_liquidity_tier_test_rows_then_same_ppm(
    clamp: int, imf: int, fraction: int, expected: int
) -> None:
    assert dydx_max_abs_clamp_ppm(clamp, imf, fraction) == expected


@pytest.mark.parametrize(("imf", "fraction", "expected_mmf"), [
    (150_000, 800_000, 120_000),
    (450_000, 770_000, 346_500),
    (637_239, 289_284, 184_343),  # 184,343.05 floored (lib.BigIntMulPpm)
    (1_000_000, 1_000_000, 1_000_000),
    (0, 1_000_000, 0),
    (0, 0, 0),
    (1_000_000, 0, 0),
])
def test_dydx_clamp_when_factor_100_percent_then_imf_less_the_floored_mmf(
    imf: int, fraction: int, expected_mmf: int
) -> None:
    # TestLiquidityTierGetMaintenanceMarginPpm through the clamp's own MMF: a clamp factor
    # of 100% leaves IMF - MMF exactly, so the floor of GetMaintenanceMarginPpm shows.
    assert dydx_max_abs_clamp_ppm(1_000_000, imf, fraction) == imf - expected_mmf


def tick(samples: list[int], tier: int, default_ppm: int = 0, sample_seconds: int = 60
         ) -> int:
    """One funding tick of an hour: the 8-hour rate of ``processStoredPremiums`` (samples
    padded to ``ceil(tick / sample duration)``, no tail removal: ``RemovedTailSampleRatioPpm``
    is 0), plus the default funding, clamped by the tier."""
    imf, fraction = TIERS[tier]
    bound = dydx_max_abs_clamp_ppm(CLAMP_FACTOR, imf, fraction)
    return dydx_funding_rate_ppm(samples, -(-3600 // sample_seconds), default_ppm, bound)


# (samples, liquidity tier, default funding ppm, sample seconds, atomic resolution, price,
# expected FundingValuePpm, expected funding index delta): the rows of
# TestMaybeProcessNewFundingTickEpoch_ProcessNewEpoch (one-hour tick).
@pytest.mark.parametrize(
    ("samples", "tier", "default", "sample_s", "resolution", "price", "rate", "delta"), [
        ([1_000] * 60, 1, 0, 60, -10, BTC_PRICE, 1_000, 625),
        ([-1_000] * 60, 1, 0, 60, -10, BTC_PRICE, -1_000, -625),
        ([I32_MAX] * 60, 1, 0, 60, -10, BTC_PRICE, 1_500_000, 937_500),   # capped 6 x 25%
        ([I32_MIN] * 60, 1, 0, 60, -10, BTC_PRICE, -1_500_000, -937_500),
        ([2_000] * 60, 1, 0, 60, -10, BTC_PRICE, 2_000, 1_250),
        ([150_000] * 60, 6, 0, 60, -10, BTC_PRICE, 120_000, 75_000),       # 6 x (20% - 18%)
        ([-150_000] * 60, 6, 0, 60, -10, BTC_PRICE, -120_000, -75_000),
        ([120_000] * 60, 6, 0, 60, -10, BTC_PRICE, 120_000, 75_000),
        ([-120_000] * 60, 6, 0, 60, -10, BTC_PRICE, -120_000, -75_000),
        ([120_000] * 60, 0, 0, 60, -10, BTC_PRICE, 0, 0),                  # IM = MM: 0
        ([1_000] * 60, 5, 0, 60, -9, ETH_PRICE, 1_000, 375),               # the ETH perp
        ([1_000] * 60, 1, 0, 30, -10, BTC_PRICE, 500, 312),                # 120 expected
        ([1_000] * 30, 1, 0, 60, -10, BTC_PRICE, 500, 312),                # padded with 0
        ([1_000] * 60, 1, 1_000, 60, -10, BTC_PRICE, 2_000, 1_250),        # + default
        ([1_000] * 75 + [5_000] * 25, 1, 0, 60, -10, BTC_PRICE, 2_000, 1_250),  # 100 samples
        ([I32_MAX] * 60, 2, 0, 60, 0, BTC_PRICE, 6_000_000, 37_500_000_000_000_000),
        ([], 2, 0, 60, 0, BTC_PRICE, 0, 0),                                # no samples
        ([], 1, -1_000, 60, -10, BTC_PRICE, -1_000, -625),
    ])
def test_dydx_funding_tick_when_keeper_test_rows_then_same_rate_and_index_delta(
    samples: list[int], tier: int, default: int, sample_s: int, resolution: int, price: int,
    rate: int, delta: int
) -> None:
    assert tick(samples, tier, default, sample_s) == rate
    assert dydx_funding_index_delta(rate, 3600, price, 10**-resolution, USDC) == delta


def mean_toward_zero(values: list[int]) -> int:
    return int(Fraction(sum(values), len(values))) if values else 0


# (removal rate ppm, samples, the samples GetRemoveSampleTailsFunc keeps): every row of
# TestGetRemoveSampleTailsFunc. Our rule averages what is kept; the rate of the kept list is
# its mean rounded toward zero (lib.AvgInt32).
@pytest.mark.parametrize(("removal", "samples", "kept"), [
    (250_000, [], []),
    (250_000, [0], [0]),
    (250_000, [0, -1, -3], [-3, -1]),              # bottom 0, top 1
    (250_000, [0, -1, -3, 5], [-1, 0]),            # bottom 1, top 1
    (250_000, [0, -1, -3, 5, 7], [-1, 0, 5]),
    (250_000, [0, -1, -3, -5, 5, 7], [-3, -1, 0]),  # bottom 1, top 2
    (100_000, [0, -1, -3, -5, 5], [-5, -3, -1, 0]),
    (800_000, [0, -1, -3, -5, 5], [0, -1, -3, -5, 5]),  # would remove all: skipped
])
def test_dydx_funding_rate_when_tail_removal_rows_then_mean_of_the_kept_samples(
    removal: int, samples: list[int], kept: list[int]
) -> None:
    assert dydx_funding_rate_ppm(samples, 0, 0, 10**6, removal) == mean_toward_zero(kept)


# (perpetual's funding index, position's funding index, quantums, net settlement ppm):
# every row of TestGetSettlementPpmWithPerpetual. A positive settlement is received.
@pytest.mark.parametrize(("perp_index", "position_index", "quantums", "settlement"), [
    (4_000_000_000, 4_000_000_000, 1_000_000, 0),
    (123_456_789_123, 100_000_000_000, 1_000_000, -23_456_789_123_000_000),
    (123_456_789_123, 100_000_000_000, -1_000_000, 23_456_789_123_000_000),
    (-123_456_789_123, -100_000_000_000, 1_000_000, 23_456_789_123_000_000),
    (-123_456_789_123, -100_000_000_000, -1_000_000, -23_456_789_123_000_000),
    (100, -100, 30_000, -6_000_000),
    (100, 100, 1_000_000, 0),
    (0, 100, 10_000_000, 1_000_000_000),
    (-200, 100, 10_000_000, 3_000_000_000),
    (100, -100, -30_000, 6_000_000),
    (100, 100, -1_000, 0),
    (0, 100, -5_000_000, -500_000_000),
    (-50, 100, -5_000_000, -750_000_000),
])
def test_funding_payment_when_dydx_settlement_rows_then_minus_settlement_over_million(
    perp_index: int, position_index: int, quantums: int, settlement: int
) -> None:
    # The ledger's index is dYdX's converted exactly (dydx_delta_to_index); a position pays
    # what dYdX's settlement takes from it: -settlement / 1e6 quote quantums.
    base_unit = 10**8
    paid = funding_payment(quantums, dydx_delta_to_index(perp_index, base_unit),
                           dydx_delta_to_index(position_index, base_unit), base_unit)
    assert paid * 10**6 == -settlement


# (impact price the row's comment states, index price, max |premium| ppm, expected premium):
# the rows of TestGetPremiumPrice whose impact price is the price of one resting order or is
# given in the test. Index 1,500,000,000 x 10^-5 is 15,000 USD (the row's comment says 6,000).
@pytest.mark.parametrize(("impact", "index", "max_abs", "expected"), [
    (Fraction(99_982, 10), 9_000, 1_000_000, 110_911),        # 9,998.2 / 9,000 - 1
    (Fraction(100_017, 10), 10_003, 1_000_000, -129),        # 10,001.7 / 10,003 - 1
    (10_001, Fraction(100_019, 10), 1_000_000, -89),         # 10,001 / 10,001.9 - 1
    (Fraction(99_999, 10), Fraction(99_975, 10), 1_000_000, 240),
    (Fraction(99_999, 10), 6_000, 100_000, 100_000),         # clamped
    (10_001, 15_000, 100_000, -100_000),
    (Fraction(99_998, 10), 9_999, 100_000, 80),              # 0.008%
    (Fraction(100_001, 10), 10_001, 100_000, -89),
])
def test_dydx_premium_when_memclob_test_rows_then_same_ppm(
    impact: Fraction | int, index: Fraction | int, max_abs: int, expected: int
) -> None:
    assert dydx_premium_ppm(int(impact * PRICE_UNIT), int(index * PRICE_UNIT), max_abs) == \
        expected
