"""Drift v2 liquidation sizing, against Drift's own tests.

Source (drift-labs/protocol-v2 at 0ae3e3b1db782a6765c3525b3dec38ad4d9d3a62):
``programs/drift/src/math/liquidation/tests.rs``.
"""

from __future__ import annotations

import pytest

from marginengine.liquidation.drift import (
    LIQUIDATION_FEE_PRECISION as FEE,
)
from marginengine.liquidation.drift import (
    SPOT_CUMULATIVE_INTEREST_PRECISION,
    U128_MAX,
    asset_transfer_for_liability_transfer,
    base_asset_amount_to_cover_margin_shortage,
    cumulative_deposit_interest_delta_to_resolve_bankruptcy,
    deposit_after_interest_delta,
    liability_transfer_implied_by_asset_amount,
    liability_transfer_to_cover_margin_shortage,
    spot_bankruptcy_if_payment,
)

QUOTE = PRICE = 10**6
BASE = 10**9
SHORTAGE = 10 * QUOTE


@pytest.mark.parametrize(("fee", "if_fee", "quote_price", "expected"), [
    (0, 0, PRICE, BASE),                          # zero_percent_liquidation_fee: "must lose 1 base"
    (0, 0, 99 * 10_000, 1_010_101_010),           # usdc_not_one
    (0, 0, 101 * 10_000, 990_099_009),
    (FEE // 100, 0, PRICE, BASE * 10 // 9),       # one_percent_liquidation_fee
    (FEE // 100, FEE // 100, PRICE, 1_250_000_000),
])
def test_base_asset_amount_to_cover_margin_shortage(fee: int, if_fee: int, quote_price: int,
                                                    expected: int):
    # $10 shortage, 10x (margin ratio 1000), $100 per base
    assert base_asset_amount_to_cover_margin_shortage(
        SHORTAGE, 1_000, fee, if_fee, 100 * PRICE, quote_price) == expected


@pytest.mark.parametrize(("asset_mult", "liab_mult", "if_fee", "expected"), [
    (FEE, FEE, 0, 250_000_000),                              # zero_asset_and_liability_fee
    (110 * FEE // 100, 90 * FEE // 100, 0, 449_984_250),      # ten_percent_asset_and_liability_fee
    (FEE, FEE, FEE // 100, 257_731_958),                     # ..._with_one_percent_if_fee
    (110 * FEE // 100, 90 * FEE // 100, FEE // 100, 475_669_504),
])
def test_liability_transfer_to_cover_margin_shortage(asset_mult: int, liab_mult: int,
                                                     if_fee: int, expected: int):
    # asset weight 0.8, liability weight 1.2, liability 9 decimals at $100
    assert liability_transfer_to_cover_margin_shortage(
        SHORTAGE, 8_000, asset_mult, 12_000, liab_mult, 9, 100 * PRICE, if_fee) == expected


def test_no_transfer_can_help_when_weights_do_not_allow():
    # liability_weight_component_less_than_asset_weight_component -> u128::MAX
    assert liability_transfer_to_cover_margin_shortage(
        SHORTAGE, 10_000, FEE, 10_000, 75 * FEE // 100, 6, 100 * PRICE, 0) == U128_MAX


def test_liability_transfer_implied_by_asset_amount():
    # $10 of asset at $1 for a $100 liability (9 decimals): .1 base; with 1% fees 98019802
    assert liability_transfer_implied_by_asset_amount(
        10 * QUOTE, FEE, 6, PRICE, FEE, 9, 100 * PRICE) == 100_000_000
    assert liability_transfer_implied_by_asset_amount(
        10 * QUOTE, 101 * FEE // 100, 6, PRICE, 99 * FEE // 100, 9, 100 * PRICE) == 98_019_802


def test_asset_transfer_for_liability_transfer():
    # 1 base of a $100 liability for quote: 100 quote; with 1% fees 102020202
    assert asset_transfer_for_liability_transfer(
        100 * QUOTE, FEE, 6, PRICE, BASE, FEE, 9, 100 * PRICE) == 100_000_000
    assert asset_transfer_for_liability_transfer(
        200 * QUOTE, 101 * FEE // 100, 6, PRICE, BASE, 99 * FEE // 100, 9, 100 * PRICE) == \
        102_020_202
    # within 1 USD of the balance: the whole balance
    assert asset_transfer_for_liability_transfer(
        100 * QUOTE + 500_000, FEE, 6, PRICE, BASE, FEE, 9, 100 * PRICE) == 100_500_000


def test_spot_bankruptcy_rules_reproduce_drifts_numbers():
    # math/liquidation/tests.rs calculate_cumulative_deposit_interest_delta_to_resolve_
    # bankruptcy, controller/liquidation/tests.rs successful_resolve_spot_bankruptcy
    ONE = SPOT_CUMULATIVE_INTEREST_PRECISION   # a cumulative interest of 1 (1e10)
    # math/liquidation/tests.rs: 11 USDC of loss over 120 deposited at an interest of 1
    # (1e10): 1e10 x 11 / 120 = 916,666,666.67, rounded up.
    assert cumulative_deposit_interest_delta_to_resolve_bankruptcy(
        11 * QUOTE, ONE, 120 * QUOTE) == 916_666_667
    # no deposits: the division fails and Drift takes 0 (even at an interest of 1.111)
    assert cumulative_deposit_interest_delta_to_resolve_bankruptcy(
        100 * QUOTE, 1111 * ONE // 1000, 0) == 0
    # successful_resolve_spot_bankruptcy: 100 over 1000 is 0.1 of the interest
    assert cumulative_deposit_interest_delta_to_resolve_bankruptcy(
        100 * QUOTE, ONE, 1000 * QUOTE) == ONE // 10
    # the deposits of 1000 are then worth 900 (get_token_amount at 0.9)
    assert deposit_after_interest_delta(1000 * QUOTE, ONE, ONE // 10) == 900 * QUOTE
    # a deposit rounds down: 1 unit at 0.9 is 0
    assert deposit_after_interest_delta(1, ONE, ONE // 10) == 0
    with pytest.raises(ValueError, match="delta"):
        deposit_after_interest_delta(5, ONE, ONE + 1)
    # the fund pays at most its vault less 1
    assert spot_bankruptcy_if_payment(100, 0) == 0
    assert spot_bankruptcy_if_payment(100, 50) == 49
    assert spot_bankruptcy_if_payment(100, 500) == 100


def test_funding_rate_deltas_to_resolve_bankruptcy_of_drifts_suite():
    from marginengine.liquidation.drift import funding_rate_delta_to_resolve_bankruptcy

    # math/liquidation/tests.rs calculate_funding_rate_deltas_to_resolve_bankruptcy::
    # total_base_asset_amount_not_zero: a 100 USDC loss over 7 long + 4 short base:
    # ceil(100e6 x 1e9 / 11e9) = 9,090,910, x FUNDING_RATE_TO_QUOTE_PRECISION_PRECISION_RATIO.
    assert funding_rate_delta_to_resolve_bankruptcy(-100 * QUOTE, 11 * BASE) == 9_090_910_000
    # ...::total_base_asset_amount_is_zero: an error (CantResolvePerpBankruptcy).
    with pytest.raises(ValueError, match="total_base_asset_amount"):
        funding_rate_delta_to_resolve_bankruptcy(-QUOTE, 0)


@pytest.mark.parametrize(("spot", "perps", "bankrupt"), [
    ([], [(1, 0)], False),           # user_has_position_with_base
    ([], [(0, 1)], False),           # user_has_position_with_positive_quote
    ([1], [], False),                # user_with_deposit
    ([], [(0, -1)], True),           # user_has_position_with_negative_quote
    ([-1], [], True),                # user_with_borrow
    ([], [], False),                 # user_with_empty_position_and_balances
])
def test_is_cross_margin_bankrupt_of_drifts_suite(spot: list[int],
                                                 perps: list[tuple[int, int]],
                                                 bankrupt: bool) -> None:
    # math/bankruptcy/tests.rs (a scaled balance of 1 is a token amount of at least 1).
    from marginengine.liquidation.drift import is_cross_margin_bankrupt

    assert is_cross_margin_bankrupt(spot, perps) is bankrupt


@pytest.mark.parametrize(("shortage", "asset_weight", "liability_weight", "amount",
                          "liability_mult", "expected"), [
    (5 * QUOTE, 10_000, 11_000, BASE, FEE, 36_363),          # 4% / 1.1
    (100 * QUOTE, 10_000, 11_000, BASE, FEE, 0),            # large shortage
    (QUOTE, 10_000, 11_000, BASE, FEE, FEE // 20),           # tiny shortage: the maximum
    (QUOTE, 20_000, 11_000, BASE, FEE, 0),                  # asset weight above liability
    (5 * QUOTE, 10_000, 0, BASE, FEE, 0),                   # zero liability weight
    (5 * QUOTE, 10_000, 11_000, 0, FEE, 0),                 # zero token amount
    (5 * QUOTE, 10_000, 11_000, BASE, 0, 0),                # zero liability multiplier
])
def test_spot_if_fee_of_drifts_suite(shortage: int, asset_weight: int, liability_weight: int,
                                     amount: int, liability_mult: int, expected: int) -> None:
    # math/liquidation/tests.rs calculate_spot_if_fee::test: price 100, asset multiplier
    # 1.01, 9 decimals, max IF fee 5%.
    from marginengine.liquidation.drift import spot_if_fee

    assert spot_if_fee(shortage, amount, asset_weight, 101 * FEE // 100, liability_weight,
                       liability_mult, 9, 100 * PRICE, FEE // 20) == expected
