"""Drift v2 funding between longs and shorts: ``calculate_funding_rate_long_short`` and the
fee pool that caps it.

Source: drift-labs/protocol-v2@0ae3e3b1db782a6765c3525b3dec38ad4d9d3a62,
``programs/drift/src/math/funding/tests.rs`` ``capped_sym_funding_test`` (rules:
``math/funding.rs``, ``math/repeg.rs`` ``calculate_fee_pool``). The market: 0.5 USDC of
exchange fees and of ``total_fee_minus_distributions`` (fee pool 0.25), mark TWAP 50
against oracle TWAP 49, hourly funding: balanced rate 41,666,666 (1e9); 12.295 base long.
"""

from __future__ import annotations

import pytest

from marginengine.liquidation.drift import (
    FundingRates,
    funding_rate_from_pnl_limit,
    funding_rate_long_short,
    perp_fee_pool,
)

BASE = 12_295_081_967
RATE = 41_666_666
TOTAL_FEE = 500_000


def test_funding_when_amm_pays_beyond_a_third_of_fees_then_shorts_capped():
    # more shorts than longs, positive funding: the AMM (users net short) would pay 0.512295,
    # the fees spend only a third of the 0.25 pool; Drift: short rate 24,222,164 and
    # total_fee_minus_distributions 416,667
    pool = perp_fee_pool(TOTAL_FEE, TOTAL_FEE)
    assert pool == 250_000
    rates = funding_rate_long_short(RATE, -BASE, BASE, -2 * BASE, pool)
    assert rates == FundingRates(RATE, 24_222_164, -512_295, -83_333)
    assert TOTAL_FEE + rates.capped_pnl == 416_667


def test_funding_when_amm_receives_then_balanced_and_fees_grow():
    # more longs than shorts: the users are net long against the AMM and pay it 0.512295;
    # Drift: both rates balanced, total_fee_minus_distributions 1,012,295
    rates = funding_rate_long_short(RATE, BASE, 2 * BASE, -BASE, perp_fee_pool(TOTAL_FEE,
                                                                                 TOTAL_FEE))
    assert (rates.long, rates.short) == (RATE, RATE)
    assert TOTAL_FEE + rates.capped_pnl == 1_012_295


def test_fee_pool_and_pnl_limit_edges():
    assert perp_fee_pool(100, 400) == 0                       # below the half kept: 0
    assert perp_fee_pool(1_000, 400, 50, 30) == 1_000 - (200 + 50 - 30)
    assert funding_rate_from_pnl_limit(-5, 0) == 0
    # -5 biased to -4, x 1e12 / -2e9 = 2,000 (truncated toward zero)
    assert funding_rate_from_pnl_limit(-5, -2 * 10**9) == 2_000
    assert funding_rate_from_pnl_limit(-5, 3 * 10**9) == -1_333
    with pytest.raises(ValueError, match="fee_pool: must be at least 0"):
        funding_rate_long_short(RATE, -BASE, BASE, -BASE, -1)
