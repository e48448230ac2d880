"""Drift v2 spot weights and the unrealized-PnL asset weight, against Drift's own tests.

Source (drift-labs/protocol-v2 at 0ae3e3b1db782a6765c3525b3dec38ad4d9d3a62):
``programs/drift/src/math/margin/tests.rs`` -- ``spot_market_asset_weight``,
``spot_market_scale_initial_asset_weight``, ``calculate_user_equity_value_tests``.
"""

from __future__ import annotations

import pytest

from marginengine.margin.drift import (
    MAX_POSITIVE_UPNL_FOR_INITIAL_MARGIN,
    PRICE_PRECISION,
    QUOTE_PRECISION,
    SPOT_BALANCE_PRECISION,
    SPOT_IMF_PRECISION,
    MarginRequirementType,
    PerpPnlWeights,
    SpotMarket,
    token_amount,
)

INITIAL = MarginRequirementType.INITIAL
FILL = MarginRequirementType.FILL
MAINT = MarginRequirementType.MAINTENANCE


def test_spot_market_asset_weight_of_drifts_suite():
    # spot_market_asset_weight: 1,000 USDC-like (6 decimals) at price 1.
    size, price = 1_000 * QUOTE_PRECISION, PRICE_PRECISION
    m = SpotMarket(decimals=6, initial_asset_weight=9_000, initial_liability_weight=11_000)
    assert m.asset_weight(size, price, INITIAL) == 9_000
    assert m.liability_weight(size, INITIAL) == 11_000
    m = SpotMarket(decimals=6, initial_asset_weight=9_000, initial_liability_weight=11_000,
                   imf_factor=10)
    assert m.asset_weight(size, price, INITIAL) == 9_000
    assert m.liability_weight(size, INITIAL) == 11_000
    # same_asset_weight_diff_imf_factor = 8357: a million times the size at imf 10 ...
    assert m.asset_weight(size * 1_000_000, price, INITIAL) == 8_357
    m = SpotMarket(decimals=6, initial_asset_weight=9_000, initial_liability_weight=11_000,
                   imf_factor=10_000)
    # ... equals the size at imf 10,000 (the root of the size times the factor).
    assert m.asset_weight(size, price, INITIAL) == 8_357
    assert m.liability_weight(size, INITIAL) == 11_962
    m = SpotMarket(decimals=6, initial_asset_weight=9_000, initial_liability_weight=11_000,
                   imf_factor=SPOT_IMF_PRECISION // 10)
    assert m.asset_weight(size, price, INITIAL) == 2_642
    assert m.liability_weight(size, INITIAL) == 40_422
    assert m.liability_weight(size, MAINT) == 31_622       # maintenance weight 0 -> premium


def test_spot_market_weights_per_requirement_type():
    # spot_market_asset_weight, second market: 100,000 tokens at 0.5.
    size, price = 100_000 * QUOTE_PRECISION, PRICE_PRECISION // 2
    m = SpotMarket(decimals=6, initial_asset_weight=1_500, maintenance_asset_weight=7_500,
                   initial_liability_weight=15_000, maintenance_liability_weight=12_500)
    assert [m.asset_weight(size, price, k) for k in (INITIAL, FILL, MAINT)] == \
        [1_500, 4_500, 7_500]
    m = SpotMarket(decimals=6, initial_asset_weight=1_500, maintenance_asset_weight=7_500,
                   initial_liability_weight=15_000, maintenance_liability_weight=12_500,
                   imf_factor=SPOT_IMF_PRECISION // 10)
    assert [m.asset_weight(size, price, k) for k in (INITIAL, FILL, MAINT)] == [337, 337, 337]


@pytest.mark.parametrize(("deposits", "weight"), [
    (1, 9_000), (20_000, 9_000), (40_000, 4_500), (60_000, 3_000)])
def test_scaled_initial_asset_weight(deposits: int, weight: int):
    # spot_market_scale_initial_asset_weight: SOL-like (9 decimals) at 25, start 500,000 USD:
    # 20,000 SOL = 500,000 -> 9000 (not below the start), 40,000 -> 4500, 60,000 -> 3000.
    m = SpotMarket(decimals=9, initial_asset_weight=9_000, initial_liability_weight=11_000,
                   scale_initial_asset_weight_start=500_000 * QUOTE_PRECISION,
                   deposit_balance=deposits * SPOT_BALANCE_PRECISION)
    assert m.scaled_initial_asset_weight(25 * PRICE_PRECISION) == weight


def test_unrealized_pnl_asset_weight_of_drifts_suite():
    # calculate_user_equity_value_tests: unrealized_pnl_initial_asset_weight 10000,
    # unrealized_pnl_imf_factor 1000.
    w = PerpPnlWeights(unrealized_pnl_initial_asset_weight=10_000,
                       unrealized_pnl_maintenance_asset_weight=10_000,
                       unrealized_pnl_imf_factor=1_000)
    assert w.asset_weight(22_699_050_905, INITIAL) == 9_559
    pnl = 24_282_786_896                                   # "$24.282k"
    expected = {1: 9_516, 10: 7_368, 100: 4_299, 1_000: 1_855, 10_000: 663, 800_000: 78}
    for mult, weight in expected.items():
        assert w.asset_weight(pnl * mult, INITIAL) == weight
    # Losses always count in full; maintenance uses its own weight.
    assert w.asset_weight(-pnl, INITIAL) == 10_000
    assert w.asset_weight(pnl * 1_000, MAINT) == 10_000
    # The initial requirement counts at most 100 USDC of positive PnL ("upnl == 100000000").
    assert w.weighted_pnl(22_699_050_905, INITIAL) == MAX_POSITIVE_UPNL_FOR_INITIAL_MARGIN
    assert w.weighted_pnl(pnl, MAINT) == pnl
    assert w.weighted_pnl(-pnl, INITIAL) == -pnl


def test_max_imbalance_scales_the_initial_pnl_weight():
    w = PerpPnlWeights(unrealized_pnl_initial_asset_weight=10_000,
                       unrealized_pnl_max_imbalance=1_000 * QUOTE_PRECISION)
    # users net up 4,000 > 1,000: 10000 x 1000 / 4000 = 2500
    assert w.asset_weight(50 * QUOTE_PRECISION, INITIAL, net_user_pnl=4_000 * QUOTE_PRECISION) \
        == 2_500
    assert w.asset_weight(50 * QUOTE_PRECISION, INITIAL, net_user_pnl=500 * QUOTE_PRECISION) \
        == 10_000
    # 50 x 0.25 = 12.5 USDC counted
    assert w.weighted_pnl(50 * QUOTE_PRECISION, INITIAL,
                          net_user_pnl=4_000 * QUOTE_PRECISION) == 12_500_000


def test_token_amounts_round_deposits_down_and_borrows_up():
    # get_token_amount: balance (1e9) x index (1e10) / 10^(19 - decimals): 3 tokens of a
    # 6-decimal market at an index a hair above 1 are 3,000,000.0003 base units.
    assert token_amount(3 * SPOT_BALANCE_PRECISION, 6, 10**10 + 1, borrow=False) == 3_000_000
    assert token_amount(3 * SPOT_BALANCE_PRECISION, 6, 10**10 + 1, borrow=True) == 3_000_001
    with pytest.raises(ValueError, match="decimals"):
        SpotMarket(decimals=20)


def test_perp_margin_requirement_and_capped_pnl_of_drifts_suite():
    # calculate_user_equity_value_tests: margin_ratio_initial 1000, imf_factor 1000, a short
    # of 12295081967 / 2 base at an oracle of 22,050 with quote 153688524588 ($25,000 entry):
    # pmr == 13555327867 and upnl == 100000000 (the 100 USDC initial cap); at 21,050
    # pmr_2 == 12940573769, and pmr - pmr_2 == 614754098.
    from marginengine.margin.drift import PerpBalance, PerpMarketMargin, perp_margin

    market = PerpMarketMargin(1_000, 500, imf_factor=1_000,
                              pnl=PerpPnlWeights(10_000, 10_000, unrealized_pnl_imf_factor=1_000))
    pos = PerpBalance(market, -(12_295_081_967 // 2), 153_688_524_588, 22_050 * PRICE_PRECISION)
    pmr, upnl = perp_margin(pos, INITIAL)
    assert (pmr, upnl) == (13_555_327_867, 100_000_000)
    pos2 = PerpBalance(market, -(12_295_081_967 // 2), 153_688_524_588, 21_050 * PRICE_PRECISION)
    pmr2, upnl2 = perp_margin(pos2, INITIAL)
    assert (pmr2, upnl2) == (12_940_573_769, 100_000_000)
    assert pmr - pmr2 == 614_754_098
    # Maintenance counts the whole PnL: -6147540983 x 22050 / 1e9 + 153688524588.
    assert perp_margin(pos, MAINT)[1] == -135_553_278_675 + 153_688_524_588


def test_cross_margin_account_sums_weighted_spot_and_perp():
    from marginengine.margin.drift import (
        PerpBalance,
        PerpMarketMargin,
        SpotBalance,
        margin_calculation,
    )

    usdc = SpotMarket(decimals=6, initial_asset_weight=10_000, maintenance_asset_weight=10_000,
                      initial_liability_weight=10_000, maintenance_liability_weight=10_000)
    sol = SpotMarket(decimals=9, initial_asset_weight=8_000, maintenance_asset_weight=9_000,
                     initial_liability_weight=12_000, maintenance_liability_weight=11_000)
    perp = PerpMarketMargin(1_000, 500)
    spots = [SpotBalance(usdc, -1_000 * QUOTE_PRECISION, PRICE_PRECISION),
             SpotBalance(sol, 50 * 10**9, 100 * PRICE_PRECISION)]
    perps = [PerpBalance(perp, 10 * 10**9, -1_000 * QUOTE_PRECISION, 100 * PRICE_PRECISION)]
    calc = margin_calculation(spots, perps, MAINT)
    # collateral: 50 SOL x 100 x 0.9 = 4,500, + PnL 10 x 100 - 1,000 = 0
    # requirement: 1,000 USDC borrowed x 1 + 1,000 of perp notional x 5% = 1,050
    assert (calc.total_collateral, calc.margin_requirement) == (4_500 * QUOTE_PRECISION,
                                                                1_050 * QUOTE_PRECISION)
    assert calc.meets and calc.free_collateral == 3_450 * QUOTE_PRECISION


def test_margin_buffer_when_negative_perp_pnl_then_drifts_total_collateral_plus_buffer():
    # math/margin/tests.rs calculate_margin_requirement_and_total_collateral_and_liability_
    # info::negative_perp_pnl_liquidation_buffer: 100 USDC deposited, a flat SOL-PERP
    # position with quote -100 (PnL -100), MarginContext::liquidation(1%): total collateral
    # 0, get_cross_total_collateral_plus_buffer -1 USDC (1% of the negative PnL).
    from marginengine.margin.drift import (
        PerpBalance,
        PerpMarketMargin,
        SpotBalance,
        margin_calculation,
    )

    usdc = SpotMarket(decimals=6, initial_asset_weight=10_000, maintenance_asset_weight=10_000)
    sol_perp = PerpMarketMargin(margin_ratio_initial=1_000, margin_ratio_maintenance=500)
    calc = margin_calculation(
        [SpotBalance(usdc, 100 * QUOTE_PRECISION, PRICE_PRECISION)],
        [PerpBalance(sol_perp, 0, -100 * QUOTE_PRECISION, 100 * PRICE_PRECISION)],
        MAINT, margin_buffer=100)
    assert calc.total_collateral == 0
    assert calc.total_collateral + calc.total_collateral_buffer == -QUOTE_PRECISION
