"""Euler v2 LTVs, ramp and account liquidity, against the EVK's own tests.

Sources (euler-xyz/euler-vault-kit at 5b98b42048ba11ae82fb62dfec06d1010c8e41e6):
``src/EVault/shared/types/LTVConfig.sol``, ``src/EVault/shared/LiquidityUtils.sol``,
``src/EVault/modules/Governance.sol``; ``test/unit/evault/modules/Liquidation/full.t.sol``
(``test_ltvRamping``, ``test_basicFullLiquidation``, ``test_liquidationWithBidAskPricing``);
``test/mocks/MockPriceOracle.sol`` (``getQuotes``: bid and ask, the mid when unset).
"""

from __future__ import annotations

import pytest

from marginengine.decisions import Code, Refusal
from marginengine.margin.euler import (
    CollateralBalance,
    LTVConfig,
    calculate_liquidity,
    check_liquidity,
    collateral_value,
    family_margin,
    is_violator,
    set_ltv,
)

E18 = 10**18
T0 = 1_000


def tst2(ltv: LTVConfig, balance: int = 100 * E18) -> CollateralBalance:
    # full.t.sol: the borrower's 100 eTST2 with assetTST2 at 0.4 (shares = assets: zero IRM)
    return CollateralBalance("eTST2", balance, 4 * E18 // 10, ltv)


def ramped() -> LTVConfig:
    start = set_ltv(LTVConfig(), 3_000, 3_000, 0, 1)        # eTST.setLTV(eTST2, 0.3e4, 0.3e4, 0)
    assert isinstance(start, LTVConfig)
    cfg = set_ltv(start, 1_500, 1_500, 100, T0)             # "ramp TST2 LTV down by half over 100s"
    assert isinstance(cfg, LTVConfig)
    return cfg


def test_ramp_moves_the_liquidation_ltv_linearly_and_the_borrow_ltv_at_once():
    cfg = ramped()
    assert cfg.initial_liquidation_ltv == 3_000 and cfg.target_timestamp == T0 + 100
    assert cfg.get_ltv(T0, liquidation=False) == 1_500
    # test_ltvRamping: assertEq(eTST.LTVLiquidation(eTST2), 2745) at +17 s, 2730 at +18 s:
    # 1500 + 1500 x 83 / 100 and 1500 + 1500 x 82 / 100.
    assert cfg.get_ltv(T0 + 17, liquidation=True) == 2_745
    assert cfg.get_ltv(T0 + 18, liquidation=True) == 2_730
    assert cfg.get_ltv(T0, liquidation=True) == 3_000
    assert cfg.get_ltv(T0 + 100, liquidation=True) == 1_500
    assert cfg.get_ltv(T0 + 1_000, liquidation=True) == 1_500


def test_ramping_health_scores_of_the_evk_test():
    # test_ltvRamping, TST at 2.2, 5 borrowed: HS 1.09 before, then (liquidation LTVs)
    # "HS = 1.036" at 10 s, "HS = 1.009" at 15 s, "HS = 0.998" at 17 s.
    cfg = ramped()
    expected = {0: 1_090_909_090_909_090_909, 10: 1_036_363_636_363_636_363,
                15: 1_009_090_909_090_909_090, 17: 998_181_818_181_818_181}
    for dt, hs in expected.items():
        liq = calculate_liquidity([tst2(cfg)], 5 * E18, 22 * E18 // 10, T0 + dt, True)
        assert liq.health_score == hs
    # ... while the borrowing side is cut by half at once ("account borrowing collateral value
    # cut by half immediately") and one more wei of borrowing is refused.
    borrow_side = calculate_liquidity([tst2(cfg)], 5 * E18, 22 * E18 // 10, T0, False)
    assert borrow_side.health_score == 545_454_545_454_545_454
    r = check_liquidity([tst2(cfg)], 5 * E18 + 1, 22 * E18 // 10, T0)
    assert isinstance(r, Refusal) and r.code is Code.EULER_ACCOUNT_LIQUIDITY


def test_collateral_value_is_quote_times_ltv_rounded_down():
    # test_basicFullLiquidation: collateralValues[0] == 100e18 * 0.4e18 * 0.3e4 / 1e18 / 1e4
    cfg = LTVConfig(3_000, 3_000, 0, 1, 0)
    assert collateral_value(tst2(cfg), T0, True) == 12 * E18
    assert collateral_value(tst2(cfg, 0), T0, True) == 0
    assert collateral_value(tst2(LTVConfig(0, 0, 0, 1, 0)), T0, True) == 0


def test_check_liquidity_needs_collateral_strictly_above_liability():
    cfg = LTVConfig(5_000, 5_000, 0, 1, 0)
    c = [CollateralBalance("W", 10 * E18, E18, cfg)]         # 5 at borrow LTV
    assert check_liquidity(c, 0, E18, T0) is None
    assert check_liquidity(c, 5 * E18 - 1, E18, T0) is None
    r = check_liquidity(c, 5 * E18, E18, T0)
    assert isinstance(r, Refusal) and r.data == {"collateral_value": 5 * E18,
                                                  "liability_value": 5 * E18}


def test_set_ltv_refusals_as_governance():
    cur = LTVConfig(3_000, 3_000, 3_000, 1, 0)

    def code(borrow: int, liq: int, ramp: int) -> Code:
        r = set_ltv(cur, borrow, liq, ramp, T0)
        assert isinstance(r, Refusal), r
        return r.code

    assert code(4_000, 3_500, 0) is Code.EULER_LTV_BORROW
    assert code(3_000, 3_500, 10) is Code.EULER_LTV_LIQUIDATION      # raising: no ramp
    assert code(3_000, 10_001, 0) is Code.EULER_CONFIG_AMOUNT_TOO_LARGE
    up = set_ltv(cur, 3_000, 3_500, 0, T0)
    assert isinstance(up, LTVConfig) and up.get_ltv(T0, True) == 3_500
    with pytest.raises(ValueError, match="borrow_ltv"):
        LTVConfig(borrow_ltv=10_001)


def test_borrow_side_values_at_bid_and_ask_and_liquidation_at_mid():
    # full.t.sol test_liquidationWithBidAskPricing: 100 eTST2 at LTV 0.3, 5 TST borrowed.
    ltv = LTVConfig(3_000, 3_000, 0, 1, 0)

    def coll(mid: int, bid: int | None = None) -> list[CollateralBalance]:
        return [CollateralBalance("eTST2", 100 * E18, mid, ltv, bid)]

    mid_tst, mid_tst2 = 23 * E18 // 10, 4 * E18 // 10
    # setPrice(TST, 2.3): 12 against 11.5 on both sides (health 1.043).
    both = calculate_liquidity(coll(mid_tst2), 5 * E18, mid_tst, T0, False)
    assert (both.collateral_value, both.liability_value) == (12 * E18, 115 * E18 // 10)
    assert both.health_score == 1_043_478_260_869_565_217
    # setPrices(TST, 2.2, 2.3): the liability's bid has no effect; (2.2, 2.4): its ask does.
    assert calculate_liquidity(coll(mid_tst2), 5 * E18, mid_tst, T0, False,
                               23 * E18 // 10) == both
    ask = calculate_liquidity(coll(mid_tst2), 5 * E18, mid_tst, T0, False, 24 * E18 // 10)
    assert ask.liability_value == 12 * E18
    # setPrices(TST2, 0.3, 0.5): the collateral's bid lowers the borrow-side value to 9.
    spread = coll(mid_tst2, 3 * E18 // 10)
    bid = calculate_liquidity(spread, 5 * E18, mid_tst, T0, False, 24 * E18 // 10)
    assert (bid.collateral_value, bid.liability_value) == (9 * E18, 12 * E18)
    # ... so borrowing 1 more wei fails, but the account is no violator (mid prices).
    r = check_liquidity(spread, 5 * E18 + 1, mid_tst, T0, 24 * E18 // 10)
    assert isinstance(r, Refusal) and r.code is Code.EULER_ACCOUNT_LIQUIDITY
    assert calculate_liquidity(spread, 5 * E18, mid_tst, T0, True) == both
    assert not is_violator(spread, 5 * E18, mid_tst, T0)
    margin = family_margin(spread, 5 * E18, mid_tst, T0, debt_ask_price=24 * E18 // 10)
    assert margin.initial.health == 75 * E18 // 100 and not margin.liquidatable
