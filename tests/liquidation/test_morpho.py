"""Morpho Blue liquidation, against Morpho's own tests and docs.

Sources (morpho-org/morpho-blue at 3085651a79553bbabbfd8be309c262dab45b686e):
``src/Morpho.sol`` (``liquidate``), ``test/integration/LiquidateIntegrationTest.sol``,
``test/BaseTest.sol`` (``_liquidationIncentiveFactor``); Morpho's documentation
(docs.morpho.org, "Liquidation": LIF = min(M, 1 / (beta x LLTV + (1 - beta))), beta = 0.3,
M = 1.15; "a market with an LLTV of 80% ... LIF is approximately 1.06").
"""

from __future__ import annotations

import pytest

from marginengine.decisions import Code, Refusal
from marginengine.liquidation.morpho import (
    MorphoLiquidation,
    liquidate,
    liquidation_incentive_factor,
)
from marginengine.margin.morpho import (
    ORACLE_PRICE_SCALE,
    VIRTUAL_SHARES,
    Market,
    MarketParams,
    Moved,
    Position,
    borrow,
    supplied_assets,
    supply,
)

E18 = 10**18


def moved(result: object) -> Moved:
    assert isinstance(result, Moved), result
    return result


def done(result: object) -> MorphoLiquidation:
    assert isinstance(result, MorphoLiquidation), result
    return result


@pytest.mark.parametrize(("lltv_bp", "lif"), [
    # 1 / (0.3 x LLTV + 0.7), each division rounded down in wad.
    (8_000, 1_063_829_787_234_042_553),   # docs: "approximately 1.06" (1 / 0.94)
    (8_600, 1_043_841_336_116_910_229),   # 1 / 0.958
    (9_450, 1_016_776_817_488_561_260),   # 1 / 0.9835
    (9_150, 1_026_167_265_264_238_070),   # 1 / 0.9745
    (7_700, 1_074_113_856_068_743_286),   # 1 / 0.931
    (6_250, 1_126_760_563_380_281_690),   # 1 / 0.8875
    (3_850, 1_150_000_000_000_000_000),   # 1 / 0.8155 = 1.226 -> capped at M = 1.15
])
def test_liquidation_incentive_factor_follows_the_cursor_formula(lltv_bp: int, lif: int):
    assert liquidation_incentive_factor(lltv_bp * 10**14) == lif


def test_seized_assets_round_up_case_of_morphos_suite():
    # LiquidateIntegrationTest.testSeizedAssetsRoundUp: LLTV 0.75, supply 100e18, collateral
    # 400, borrow 300, price 1e36 - 0.01e18, liquidate(repaidShares = 1):
    # seizedAssets == 0 and repaidAssets == 1.
    params = MarketParams(lltv=75 * E18 // 100)
    market = moved(supply(Market(), Position(), assets=100 * E18)).market
    b = moved(borrow(market, Position(collateral=400), ORACLE_PRICE_SCALE, params, assets=300))
    price = ORACLE_PRICE_SCALE - 10**16
    liq = done(liquidate(b.market, b.position, price, params, repaid_shares=1))
    assert liq.seized_assets == 0
    assert liq.repaid_assets == 1
    assert liq.bad_debt_assets == 0


def test_bad_debt_over_total_borrow_assets_is_capped():
    # LiquidateIntegrationTest.testBadDebtOverTotalBorrowAssets: collateral 10 ether, borrow
    # 1 ether, then borrow(0 assets, 1 share) to inflate shares; price 1e36 / 100; seizing all
    # collateral must not revert: bad debt = min(totalBorrowAssets, shares.toAssetsUp).
    params = MarketParams(lltv=8 * E18 // 10)
    sup = moved(supply(Market(), Position(), assets=E18))
    b1 = moved(borrow(sup.market, Position(collateral=10 * E18), ORACLE_PRICE_SCALE, params,
                      assets=E18))
    b2 = moved(borrow(b1.market, b1.position, ORACLE_PRICE_SCALE, params, shares=1))
    assert b2.assets == 0          # toAssetsDown(1, 1e18, 1e24) = 0: a free share
    liq = done(liquidate(b2.market, b2.position, ORACLE_PRICE_SCALE // 100, params,
                         seized_assets=10 * E18))
    # seized quoted = 10e18 x 1e34 / 1e36 = 1e17; LIF(0.8) = 1.063829787234042553 is rounded
    # down, so 1e17 / LIF = 94,000,000,000,000,000.00...05 and wDivUp gives ...001; in
    # shares rounded up (the free share makes 1e24 + 1) that is 94,000,000,000,000,001,000,001
    # shares, worth ...002 assets rounded up: the liquidator pays 2 units more than 0.094e18.
    assert liq.repaid_shares == 94_000_000_000_000_001_000_001
    assert liq.repaid_assets == 94 * 10**15 + 2
    assert liq.market.total_borrow_assets == 0
    assert liq.market.total_borrow_shares == 0
    assert liq.bad_debt_assets == E18 - 94 * 10**15 - 2
    assert liq.market.total_supply_assets == E18 - liq.bad_debt_assets
    assert liq.position == Position(collateral=0, borrow_shares=0)


def test_bad_debt_realized_across_suppliers_pro_rata():
    # testLiquidateBadDebtRealized, one instance: LLTV 0.8, collateral 1,000, borrowed 790 at
    # price 1e36, then the price halves. Seizing all 1,000 collateral pays
    # 1,000 x 0.5 / LIF rounded up: 500 x 0.94 = 470 in reals, but LIF is itself rounded down
    # (1.063829787234042553), so 500 / LIF = 470.0000000000000002 -> 471, against the
    # liquidator. The other 319 is bad debt, taken from the supply total, and is the test's
    # expectedBadDebt x VIRTUAL_SHARES shares (one borrower: 1e6 shares per asset).
    params = MarketParams(lltv=8 * E18 // 10)
    alice = moved(supply(Market(), Position(), assets=3_000))
    bob = moved(supply(alice.market, Position(), assets=1_000))
    b = moved(borrow(bob.market, Position(collateral=1_000), ORACLE_PRICE_SCALE, params,
                     assets=790))
    liq = done(liquidate(b.market, b.position, ORACLE_PRICE_SCALE // 2, params,
                         seized_assets=1_000))
    assert liq.repaid_assets == 471
    assert liq.repaid_shares == 471 * VIRTUAL_SHARES
    assert liq.bad_debt_assets == 319
    assert liq.bad_debt_shares == 319 * VIRTUAL_SHARES
    assert liq.market.total_borrow_assets == 0
    assert liq.market.total_supply_assets == 4_000 - 319
    # Suppliers lose pro rata through the share price: 3e9 shares x 3,682 / 4.001e9 = 2,760.8
    # -> 2,760 and 1e9 x 3,682 / 4.001e9 = 920.3 -> 920 (the virtual asset and shares keep
    # a unit back).
    assert supplied_assets(alice.position, liq.market) == 2_760
    assert supplied_assets(bob.position, liq.market) == 920


def test_repaid_shares_input_rounds_seized_down():
    # testLiquidateSharesInputNoBadDebtRealized: expectedSeized = repaidShares.toAssetsDown(..)
    # .wMulDown(LIF).mulDivDown(ORACLE_PRICE_SCALE, price).
    params = MarketParams(lltv=8 * E18 // 10)
    market = moved(supply(Market(), Position(), assets=10_000)).market
    b = moved(borrow(market, Position(collateral=1_000), ORACLE_PRICE_SCALE, params,
                     assets=800))
    price = ORACLE_PRICE_SCALE * 9 // 10       # 900 x 0.8 = 720 < 800: unhealthy
    liq = done(liquidate(b.market, b.position, price, params, repaid_shares=100 * VIRTUAL_SHARES))
    # 100 assets x 1.0638... = 106.38 -> 106 (wMulDown), / 0.9 = 117.9 -> 117 (mulDivDown)
    assert liq.seized_assets == 117
    assert liq.repaid_assets == 100
    assert liq.position.collateral == 883
    assert liq.bad_debt_assets == 0


def test_liquidate_refuses_a_healthy_position_and_bad_inputs():
    params = MarketParams(lltv=8 * E18 // 10)
    market = moved(supply(Market(), Position(), assets=10_000)).market
    b = moved(borrow(market, Position(collateral=1_000), ORACLE_PRICE_SCALE, params, assets=800))

    def code(**kw: int) -> Code:
        price = kw.pop("price", ORACLE_PRICE_SCALE // 2)
        r = liquidate(b.market, b.position, price, params, **kw)
        assert isinstance(r, Refusal), r
        return r.code

    assert code(price=ORACLE_PRICE_SCALE, seized_assets=1) is Code.MORPHO_HEALTHY_POSITION
    assert code(seized_assets=1, repaid_shares=1) is Code.MORPHO_INCONSISTENT_INPUT
    assert code() is Code.MORPHO_INCONSISTENT_INPUT
    assert code(seized_assets=1_001) is Code.ASSETS_EXCEED_BALANCE
    assert code(repaid_shares=801 * VIRTUAL_SHARES) is Code.SHARES_EXCEED_BALANCE
    assert code(price=0, seized_assets=1) is Code.INVALID_ARGUMENT

    def message(**kw: int) -> str:
        price = kw.pop("price", ORACLE_PRICE_SCALE // 2)
        r = liquidate(b.market, b.position, price, params, **kw)
        assert isinstance(r, Refusal), r
        return r.message

    # Each refusal names the field (as the other families' refusals do).
    assert message(price=ORACLE_PRICE_SCALE, seized_assets=1) == \
        "borrower: the position is healthy"
    assert message(seized_assets=1, repaid_shares=1) == (
        "seized_assets and repaid_shares: give exactly one of them, the other zero (got "
        "seized_assets 1, repaid_shares 1)")
    assert message(seized_assets=-1) == "seized_assets: must be non-negative (got -1)"
    assert message(repaid_shares=-2) == "repaid_shares: must be non-negative (got -2)"
    assert message(seized_assets=1_001) == "seized_assets: seizing 1001 collateral of 1000 held"
    # 801 of the 800 borrow shares (x 1e6 virtual shares) the borrower owes.
    assert message(repaid_shares=801 * VIRTUAL_SHARES) == (
        "repaid_shares: repaying 801000000 borrow shares of 800000000 owed")
    assert message(price=0, seized_assets=1) == "price: must be positive (got 0)"
    with pytest.raises(ValueError, match="lltv"):
        liquidation_incentive_factor(E18)


def test_docs_example_when_ltv_just_above_80_percent_then_debt_repaid_for_lif_of_collateral():
    # docs.morpho.org "Liquidation" example: 100 of collateral at LLTV 80%; borrowing
    # exactly 80 is healthy (_isHealthy: maxBorrow >= borrowed, so no liquidation) and one
    # unit more is refused; once the LTV is just above 80% (here the collateral price
    # falls to 0.9999999), the liquidator repays the 80 and receives 80 x LIF (1 / 0.94,
    # "approximately 1.06") of collateral value: 85.106382978723404240 at par, in
    # collateral 85.106382978723404240 / 0.9999999, floored.
    params = MarketParams(lltv=8 * E18 // 10)
    market = moved(supply(Market(), Position(), assets=1_000 * E18)).market
    b = moved(borrow(market, Position(collateral=100 * E18), ORACLE_PRICE_SCALE, params,
                     assets=80 * E18))
    refused = liquidate(b.market, b.position, ORACLE_PRICE_SCALE, params, repaid_shares=1)
    assert isinstance(refused, Refusal) and refused.code is Code.MORPHO_HEALTHY_POSITION
    over = borrow(market, Position(collateral=100 * E18), ORACLE_PRICE_SCALE, params,
                  assets=80 * E18 + 1)
    assert isinstance(over, Refusal) and over.code is Code.MORPHO_INSUFFICIENT_COLLATERAL
    price = ORACLE_PRICE_SCALE * 9_999_999 // 10**7
    liq = done(liquidate(b.market, b.position, price, params,
                         repaid_shares=b.position.borrow_shares))
    assert liq.repaid_assets == 80 * E18
    assert liq.seized_assets == 85_106_391_489_362_553_176
    assert liq.position.collateral == 100 * E18 - liq.seized_assets
    assert liq.bad_debt_assets == 0
