"""Morpho Blue shares, interest and health, against Morpho's own tests and docs.

Sources (morpho-org/morpho-blue at 3085651a79553bbabbfd8be309c262dab45b686e):
``src/libraries/SharesMathLib.sol``, ``src/libraries/MathLib.sol``, ``src/Morpho.sol``,
``test/integration/BorrowIntegrationTest.sol``, ``test/integration/SupplyIntegrationTest.sol``,
``test/integration/AccrueInterestIntegrationTest.sol``.
"""

from __future__ import annotations

import pytest

from marginengine.decisions import Code, Refusal
from marginengine.margin.morpho import (
    ORACLE_PRICE_SCALE,
    Market,
    MarketParams,
    Moved,
    Position,
    accrue_interest,
    borrow,
    borrowed_assets,
    health_factor,
    is_healthy,
    max_borrow,
    repay,
    supplied_assets,
    supply,
    supply_collateral,
    to_assets_down,
    to_assets_up,
    to_shares_down,
    to_shares_up,
    w_taylor_compounded,
    withdraw,
    withdraw_collateral,
)

E18 = 10**18
PARAMS = MarketParams(lltv=8 * E18 // 10)  # BaseTest.DEFAULT_TEST_LLTV = 0.8 ether
PRICE = ORACLE_PRICE_SCALE                 # BaseTest: oracle.setPrice(ORACLE_PRICE_SCALE)


def moved(result: Moved | Refusal) -> Moved:
    assert isinstance(result, Moved), result
    return result


def refused(result: object) -> Refusal:
    assert isinstance(result, Refusal), result
    return result


def test_shares_of_an_empty_market_are_assets_times_virtual_shares():
    # SupplyIntegrationTest.testSupplyAssets: expectedSupplyShares = amount.toSharesDown(0, 0)
    # = amount x (0 + 1e6) / (0 + 1).
    assert to_shares_down(E18, 0, 0) == 10**24
    assert to_shares_up(E18, 0, 0) == 10**24
    # and back: 1e24 x (1e18 + 1) / (1e24 + 1e6) = 1e18 exactly (the virtual pair cancels).
    assert to_assets_down(10**24, E18, 10**24) == E18


def test_conversions_round_in_the_named_direction():
    # 10 assets against totals (3 assets, 5 shares): 10 x (5 + 1e6) / (3 + 1) = 2,500,012.5
    assert to_shares_down(10, 3, 5) == 2_500_012
    assert to_shares_up(10, 3, 5) == 2_500_013
    # 7 shares against the same totals: 7 x 4 / 1,000,005 = 0.000028
    assert to_assets_down(7, 3, 5) == 0
    assert to_assets_up(7, 3, 5) == 1


def test_supply_then_withdraw_all_shares_returns_no_more_than_supplied():
    m = moved(supply(Market(), Position(), assets=1_000))
    assert (m.assets, m.shares) == (1_000, 1_000 * 10**6)
    # Supply by shares rounds assets up: 1 share costs 1 unit (1 x 1001 / 1.001e9 up).
    by_shares = moved(supply(m.market, Position(), shares=1))
    assert by_shares.assets == 1
    out = moved(withdraw(by_shares.market, m.position, shares=m.position.supply_shares))
    assert out.assets <= 1_000
    assert out.market.total_supply_shares == 1


def test_supply_refuses_both_or_neither_amount():
    # Morpho.supply: require(UtilsLib.exactlyOneZero(assets, shares), INCONSISTENT_INPUT)
    assert refused(supply(Market(), Position(), assets=1, shares=1)).code is \
        Code.MORPHO_INCONSISTENT_INPUT
    assert refused(supply(Market(), Position())).code is Code.MORPHO_INCONSISTENT_INPUT


def test_borrow_shares_round_up_and_health_uses_debt_rounded_up():
    # BorrowIntegrationTest.testBorrowAssets: expectedBorrowShares = amount.toSharesUp(0, 0)
    market = moved(supply(Market(), Position(), assets=100 * E18)).market
    pos = supply_collateral(Position(), 1_000)
    assert isinstance(pos, Position)
    # maxBorrow = 1,000 x 1e36 / 1e36 x 0.8 = 800
    assert max_borrow(pos, PRICE, PARAMS) == 800
    b = moved(borrow(market, pos, PRICE, PARAMS, assets=800))
    assert b.shares == 800 * 10**6
    assert borrowed_assets(b.position, b.market) == 800
    assert is_healthy(b.position, b.market, PRICE, PARAMS)
    # one unit more: 801 > 800, "insufficient collateral"
    r = refused(borrow(b.market, b.position, PRICE, PARAMS, assets=1))
    assert r.code is Code.MORPHO_INSUFFICIENT_COLLATERAL
    assert r.data == {"borrowed": 801, "max_borrow": 800}


def test_borrow_refuses_beyond_supply_with_insufficient_liquidity():
    market = moved(supply(Market(), Position(), assets=100)).market
    pos = Position(collateral=10**6)
    assert refused(borrow(market, pos, PRICE, PARAMS, assets=101)).code is \
        Code.MORPHO_INSUFFICIENT_LIQUIDITY


def test_withdraw_refuses_when_borrows_would_exceed_supply():
    sup = moved(supply(Market(), Position(), assets=1_000))
    b = moved(borrow(sup.market, Position(collateral=10_000), PRICE, PARAMS, assets=600))
    r = refused(withdraw(b.market, sup.position, assets=401))
    assert r.code is Code.MORPHO_INSUFFICIENT_LIQUIDITY
    assert moved(withdraw(b.market, sup.position, assets=400)).market.total_supply_assets == 600


def test_repay_all_shares_may_pay_one_more_than_total_and_floors_at_zero():
    # Morpho.repay: "`assets` may be greater than `totalBorrowAssets` by 1" (zeroFloorSub).
    market = Market(total_supply_assets=10, total_supply_shares=10 * 10**6,
                    total_borrow_assets=3, total_borrow_shares=2 * 10**6 + 5)
    pos = Position(borrow_shares=2 * 10**6 + 5, collateral=100)
    r = moved(repay(market, pos, shares=pos.borrow_shares))
    # toAssetsUp(2,000,005, 3, 2,000,005) = ceil(2,000,005 x 4 / 3,000,005) = 3 (2.67 up)
    assert r.assets == 3
    assert r.market.total_borrow_assets == 0
    assert r.market.total_borrow_shares == 0
    assert r.position.borrow_shares == 0


def test_repay_by_assets_rounds_shares_down():
    market = Market(total_supply_assets=10, total_supply_shares=10**7,
                    total_borrow_assets=3, total_borrow_shares=2 * 10**6)
    r = moved(repay(market, Position(borrow_shares=2 * 10**6), assets=1))
    # toSharesDown(1, 3, 2e6) = 1 x 3,000,000 / 4 = 750,000
    assert r.shares == 750_000


def test_withdraw_collateral_keeps_the_position_healthy():
    market = moved(supply(Market(), Position(), assets=E18)).market
    b = moved(borrow(market, Position(collateral=1_000), PRICE, PARAMS, assets=400))
    # 500 left x 0.8 = 400 covers 400; 499 x 0.8 = 399 does not.
    ok = withdraw_collateral(b.market, b.position, PRICE, PARAMS, 500)
    assert isinstance(ok, Position) and ok.collateral == 500
    r = refused(withdraw_collateral(b.market, b.position, PRICE, PARAMS, 501))
    assert r.code is Code.MORPHO_INSUFFICIENT_COLLATERAL
    assert refused(withdraw_collateral(b.market, b.position, PRICE, PARAMS, 0)).code is \
        Code.MORPHO_ZERO_ASSETS
    assert refused(withdraw_collateral(b.market, b.position, PRICE, PARAMS, 1_001)).code is \
        Code.ASSETS_EXCEED_BALANCE


def test_health_factor_is_max_borrow_over_debt():
    market = Market(total_supply_assets=E18, total_supply_shares=10**24,
                    total_borrow_assets=500, total_borrow_shares=500 * 10**6)
    pos = Position(borrow_shares=500 * 10**6, collateral=1_000)
    assert health_factor(pos, market, PRICE, PARAMS) == 16 * E18 // 10   # 800 / 500
    assert health_factor(Position(collateral=1), market, PRICE, PARAMS) is None


def test_taylor_compounded_three_terms():
    # wTaylorCompounded(x, n) = xn + (xn)^2 / 2 + (xn)^3 / 6 with x n = 0.1e18:
    # 0.1 + 0.005 + 0.000166666... (rounded down at each division).
    assert w_taylor_compounded(10**17, 1) == 10**17 + 5 * 10**15 + 166_666_666_666_666


def test_accrue_interest_mints_fee_shares_at_the_pre_fee_price():
    # AccrueInterestIntegrationTest.testAccrueInterestWithFees:
    #   expectedAccruedInterest = totalBorrowBefore.wMulDown(borrowRate.wTaylorCompounded(dt))
    #   feeAmount = expectedAccruedInterest.wMulDown(fee)
    #   feeShares = feeAmount.toSharesDown(totalSupplyAfter - feeAmount, totalSupplySharesBefore)
    market = Market(total_supply_assets=2_000 * E18, total_supply_shares=2_000 * 10**24,
                    total_borrow_assets=1_000 * E18, total_borrow_shares=1_000 * 10**24,
                    last_update=0, fee=E18 // 10)
    rate = 10**18 // (365 * 86_400) // 10          # ~10% a year per second, wad
    acc = accrue_interest(market, rate, 86_400)
    growth = rate * 86_400 + (rate * 86_400) ** 2 // (2 * E18)
    growth += ((rate * 86_400) ** 2 // (2 * E18)) * (rate * 86_400) // (3 * E18)
    interest = 1_000 * E18 * growth // E18
    fee = interest // 10
    fee_shares = fee * (2_000 * 10**24 + 10**6) // (2_000 * E18 + interest - fee + 1)
    assert acc.interest == interest
    assert acc.fee_shares == fee_shares
    assert acc.market.total_borrow_assets == 1_000 * E18 + interest
    assert acc.market.total_supply_assets == 2_000 * E18 + interest
    assert acc.market.last_update == 86_400
    # No time, no interest.
    assert accrue_interest(acc.market, rate, 86_400).interest == 0


def test_bad_inputs_name_the_field():
    with pytest.raises(ValueError, match="lltv"):
        MarketParams(lltv=E18)
    with pytest.raises(ValueError, match="fee"):
        Market(fee=E18 // 2)
    with pytest.raises(ValueError, match="now"):
        accrue_interest(Market(last_update=10), 1, 5)
    assert refused(supply(Market(), Position(), assets=-1)).code is Code.INVALID_AMOUNT
    assert refused(supply(Market(), Position(), assets=2**128)).code is \
        Code.MORPHO_MAX_UINT128_EXCEEDED
    assert supplied_assets(Position(), Market()) == 0


def test_refusals_name_the_field_and_keep_their_codes():
    # A supplier of 1,000 and a borrower of 600 against 10,000 collateral (LLTV 0.8).
    sup = moved(supply(Market(), Position(), assets=1_000))
    b = moved(borrow(sup.market, Position(collateral=10_000), PRICE, PARAMS, assets=600))
    cases = [
        (supply(Market(), Position(), assets=-1), Code.INVALID_AMOUNT,
         "assets: must be non-negative (got -1)"),
        (repay(b.market, b.position, shares=-5), Code.INVALID_AMOUNT,
         "shares: must be non-negative (got -5)"),
        (supply(Market(), Position(), assets=1, shares=1), Code.MORPHO_INCONSISTENT_INPUT,
         "assets and shares: give exactly one of them, the other zero (got assets 1, "
         "shares 1)"),
        # The market's totals are uint128: 2^128 assets overflow the first checked.
        (supply(Market(), Position(), assets=2**128), Code.MORPHO_MAX_UINT128_EXCEEDED,
         "market: total_supply_assets would exceed 2^128 - 1"),
        # 1,001 assets are 1,001,000,000 shares (rounded up) of the 1,000,000,000 held.
        (withdraw(sup.market, sup.position, assets=1_001), Code.SHARES_EXCEED_BALANCE,
         "assets: withdrawing 1001000000 supply shares of 1000000000 held"),
        (withdraw(b.market, sup.position, shares=401 * 10**6),
         Code.MORPHO_INSUFFICIENT_LIQUIDITY,
         "shares: the withdrawal would leave the market's borrows above its supply"),
        # 10,000 x 0.8 = 8,000 covers 600 + 7,400 = 8,000, not 7,401 more.
        (borrow(b.market, b.position, PRICE, PARAMS, assets=7_401),
         Code.MORPHO_INSUFFICIENT_COLLATERAL,
         "assets: the position would be unhealthy after the borrow"),
        (borrow(b.market, Position(collateral=10**6), PRICE, PARAMS, assets=401),
         Code.MORPHO_INSUFFICIENT_LIQUIDITY, "assets: the market has not enough supply"),
        (repay(b.market, b.position, shares=b.position.borrow_shares + 1),
         Code.SHARES_EXCEED_BALANCE, "shares: repaying 600000001 borrow shares of 600000000 "
         "owed"),
        (supply_collateral(Position(), 0), Code.MORPHO_ZERO_ASSETS,
         "assets: collateral amount must be positive (got 0)"),
        (supply_collateral(Position(collateral=2**128 - 1), 1),
         Code.MORPHO_MAX_UINT128_EXCEEDED,
         "assets: the position's collateral would exceed 2^128 - 1"),
        (withdraw_collateral(b.market, b.position, PRICE, PARAMS, 10_001),
         Code.ASSETS_EXCEED_BALANCE, "assets: withdrawing 10001 collateral of 10000 held"),
        # 9,251 out leaves 749 x 0.8 = 599.2, rounded down 599 < the 600 owed.
        (withdraw_collateral(b.market, b.position, PRICE, PARAMS, 9_251),
         Code.MORPHO_INSUFFICIENT_COLLATERAL,
         "assets: the position would be unhealthy after the withdrawal"),
    ]
    for result, code, message in cases:
        r = refused(result)
        assert (r.code, r.message) == (code, message)
