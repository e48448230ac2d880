"""Aave's pool tests, reproduced through the engine on Aave's own test listing
(:mod:`tests.aave_listing`).

Sources (aave-dao/aave-v3-origin at the v3.7.0 commit 4fbd7442):
``tests/protocol/pool/Pool.Borrow.t.sol`` (``test_variable_borrow``,
``test_reverts_borrow_collateral_balance_zero``, ``test_reverts_borrow_collateral_can_not_cover``,
``test_reverts_borrow_hf_lt_1``), ``src/contracts/protocol/libraries/logic/BorrowLogic.sol``
(``validateHFAndLtv`` after the mint), ``LiquidationLogic.sol`` and ``ValidationLogic.sol``
(``validateHFAndLtvzero``); ``tests/protocol/pool/Pool.Repay.t.sol``
(``test_repayWithATokens_full_variable_borrow``, ``_full_collateral_variable_borrow``,
``_shouldRevertIfUnhealthyAfterRepayment``, ``_fuzz_collateral_variable_borrow``) and
``BorrowLogic.executeRepay`` (``useATokens``; v3.3.0 5431379f has no health check after
it). The liquidation figures are LiquidationLogic's formulas worked
by hand at each version's rounding (docs/3.7/liquidation-rounding.md for v3.7).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marginengine.config import protocol_from_dict
from marginengine.engine import (
    AdvanceTime,
    Borrow,
    Deposit,
    Engine,
    ImportAccount,
    Liquidate,
    RepayWithATokens,
    SetPrice,
    SetUseAsCollateral,
    Withdraw,
)
from tests.aave_listing import MARKETS, PRICES, USD, USDX, WBTC, WETH, pool


def test_variable_borrow_when_800_of_102000_then_rate_as_strategy_v2() -> None:
    engine = pool()
    assert engine.apply(Deposit("alice", "USDX", 2_000 * USDX)).accepted
    outcome = engine.apply(Borrow("alice", "USDX", 800 * USDX))
    assert outcome.accepted
    usdx = engine.ledger.reserves["USDX"]
    # Borrow usage rayDiv(800, 102,000) = 0.00784313725490196078431372549 (half up);
    # rate = rayDiv(rayMul(4%, usage), 45%) = 0.000697167755991285403050109 (half up).
    assert usdx.borrow_rate == 697_167_755_991_285_403_050_109
    # Supply: percentMul(rayMul(rate, usage), 90%).
    assert usdx.liquidity_rate == 4_921_184_159_938_485_198_001
    # Indices at 1: the scaled debt is the amount.
    assert engine.ledger.accounts["alice"].lending["USDX"].scaled_debt == 800 * USDX


def test_borrow_when_collateral_cannot_cover_then_aave_error() -> None:
    # 1 WBTC at 27,000 (LTV 82.5%: 22,275 of power; threshold 86%: HF 1.0096 at 23,000).
    engine = pool()
    assert engine.apply(Deposit("alice", "WBTC", WBTC)).accepted
    outcome = engine.apply(Borrow("alice", "USDX", 23_000 * USDX))
    assert outcome.code == "COLLATERAL_CANNOT_COVER_NEW_BORROW"
    assert outcome.data["borrowing_power"] == 22_275 * USD
    assert outcome.data["health_factor"] == 1_009_565_217_391_304_347


def test_borrow_when_health_factor_below_one_then_aave_error() -> None:
    engine = pool()
    assert engine.apply(Deposit("alice", "WBTC", WBTC)).accepted
    assert engine.apply(Borrow("alice", "USDX", 18_001 * USDX)).accepted
    assert engine.apply(SetPrice("WBTC", PRICES["WBTC"] // 4)).accepted
    outcome = engine.apply(Borrow("alice", "USDX", 10_001 * USDX))
    assert outcome.code == "HEALTH_FACTOR_LOWER_THAN_LIQUIDATION_THRESHOLD"
    # 6,750 x 86% / 28,002, after the mint (v3.5+ validateHFAndLtv).
    assert outcome.data["health_factor"] == 207_306_620_955_646_025


@pytest.mark.parametrize(("preset", "code"), [
    ("aave-v3", "LTV_VALIDATION_FAILED"),        # validateHFAndLtv: currentLtv != 0
    ("aave-v3.3", "LTV_VALIDATION_FAILED"),      # validateBorrow, before the HF check
])
def test_borrow_when_collateral_has_zero_ltv_then_ltv_validation_failed(preset: str,
                                                                        code: str) -> None:
    markets = {**MARKETS, "WETH": {**MARKETS["WETH"], "ltv": "0"}}
    engine = Engine(protocol_from_dict({"preset": preset, "markets": markets}))
    for asset, price in PRICES.items():
        engine.apply(SetPrice(asset, price))
    engine.apply(Deposit("carol", "USDX", 100_000 * USDX))
    # alice holds the WETH switched on (supplied before its LTV went to 0): imported; a
    # supply of a zero-LTV asset is not switched on (validateUseAsCollateral), which
    # leaves no collateral at all.
    assert engine.apply(ImportAccount("alice", (("WETH", 10 * WETH),), ())).accepted
    assert engine.apply(Borrow("alice", "USDX", 20 * USDX)).code == code
    assert engine.apply(Deposit("bob", "WETH", 10 * WETH)).accepted
    assert not engine.ledger.collateral_flag("bob", "WETH")


@pytest.mark.parametrize(("preset", "health", "reason"), [
    # v3.3 validateBorrow: healthFactor > 1 *before* the borrow; exactly 1 is refused.
    ("aave-v3.3", 10**18, "health factor 1 is not above 1; no new borrows"),
    # v3.5+: validateHFAndLtv after the mint sees 21,500 / 21,501.
    ("aave-v3", 999_953_490_535_323_938,
     "health factor would fall to 0.99995349, below 1; no new borrows"),
])
def test_borrow_when_health_factor_exactly_one_then_refused_as_the_version(
        preset: str, health: int, reason: str) -> None:
    engine = pool(preset)
    assert engine.apply(Deposit("alice", "WBTC", WBTC)).accepted
    assert engine.apply(Borrow("alice", "USDX", 21_500 * USDX)).accepted
    assert engine.apply(SetPrice("WBTC", 25_000 * USD)).accepted  # 25,000 x 86% = 21,500
    assert engine.account_data("alice").health_factor == 10**18
    outcome = engine.apply(Borrow("alice", "USDX", USDX))
    assert outcome.code == "HEALTH_FACTOR_LOWER_THAN_LIQUIDATION_THRESHOLD"
    assert outcome.data["health_factor"] == health
    assert outcome.reason == reason


def test_withdraw_when_zero_ltv_collateral_held_then_it_goes_first() -> None:
    markets = {**MARKETS, "WETH": {**MARKETS["WETH"], "ltv": "0"}}
    engine = Engine(protocol_from_dict({"preset": "aave-v3", "markets": markets}))
    for asset, price in PRICES.items():
        engine.apply(SetPrice(asset, price))
    engine.apply(Deposit("carol", "USDX", 100_000 * USDX))
    # The zero-LTV WETH switched on, as supplied before its LTV went to 0 (imported).
    assert engine.apply(ImportAccount("alice", (("WBTC", WBTC), ("WETH", WETH)),
                                      ())).accepted
    assert engine.apply(Borrow("alice", "USDX", 10_000 * USDX)).accepted
    # Healthy either way, but WBTC may not leave while the zero-LTV WETH stays.
    refused = engine.apply(Withdraw("alice", "WBTC", WBTC // 10))
    assert refused.code == "LTV_VALIDATION_FAILED"
    assert refused.data["zero_ltv_collateral"] == ["WETH"]
    assert engine.apply(Withdraw("alice", "WETH", WETH // 2)).accepted
    assert engine.apply(Withdraw("alice", "WETH", WETH // 2)).accepted
    assert engine.apply(Withdraw("alice", "WBTC", WBTC // 10)).accepted


# ---------------------------------------------------------------------------- repayWithATokens
_MAX = 2**256 - 1
_DAYS = 86_400


@pytest.mark.parametrize("preset", ["aave-v3.3", "aave-v3.5", "aave-v3"])
def test_repay_with_atokens_when_max_then_whole_debt_and_balance_stays_on(preset: str) -> None:
    # test_repayWithATokens_full_variable_borrow: 2,000 USDX supplied, 800 borrowed, 10
    # days; type(uint256).max pays with the aToken balance, capped at the debt.
    engine = pool(preset)
    assert engine.apply(Deposit("alice", "USDX", 2_000 * USDX)).accepted
    assert engine.apply(Borrow("alice", "USDX", 800 * USDX)).accepted
    assert engine.apply(AdvanceTime(10 * _DAYS)).accepted
    ledger = engine.ledger
    before, debt = ledger.supply_of("alice", "USDX"), ledger.debt_of("alice", "USDX")
    cash = ledger.reserves["USDX"].cash
    assert debt > 800 * USDX
    out = engine.apply(RepayWithATokens("alice", "USDX", _MAX))
    assert out.accepted and out.details["repaid"] == debt
    assert ledger.debt_of("alice", "USDX") == 0
    assert ledger.supply_of("alice", "USDX") <= before - debt
    assert ledger.collateral_flag("alice", "USDX")
    assert ledger.reserves["USDX"].cash == cash          # no token moved
    ledger.check_conservation()


@pytest.mark.parametrize("preset", ["aave-v3.3", "aave-v3.5", "aave-v3"])
def test_repay_with_atokens_when_balance_below_debt_then_all_burned_and_switched_off(
        preset: str) -> None:
    # test_repayWithATokens_full_collateral_variable_borrow: WETH and 2,000 USDX supplied,
    # 2,000 USDX borrowed, 10 days: max pays the whole aToken balance, the debt keeps the
    # rest (within 1 unit of debt before - balance), USDX is switched off, alice borrows.
    engine = pool(preset)
    assert engine.apply(Deposit("alice", "WETH", 100 * WETH)).accepted
    assert engine.apply(Deposit("alice", "USDX", 2_000 * USDX)).accepted
    assert engine.apply(Borrow("alice", "USDX", 2_000 * USDX)).accepted
    assert engine.apply(AdvanceTime(10 * _DAYS)).accepted
    ledger = engine.ledger
    balance, debt = ledger.supply_of("alice", "USDX"), ledger.debt_of("alice", "USDX")
    assert debt > balance > 2_000 * USDX
    out = engine.apply(RepayWithATokens("alice", "USDX", _MAX))
    assert out.accepted and out.details["repaid"] == balance
    assert out.details["collateral"] is False
    assert abs(ledger.debt_of("alice", "USDX") - (debt - balance)) <= 1
    assert ledger.supply_of("alice", "USDX") == 0
    assert not ledger.collateral_flag("alice", "USDX")
    ledger.check_conservation()


@pytest.mark.parametrize(("preset", "code"), [
    ("aave-v3.3", None),          # v3.3 executeRepay: no health check after the burn
    ("aave-v3.5", "HEALTH_FACTOR_LOWER_THAN_LIQUIDATION_THRESHOLD"),
    ("aave-v3", "HEALTH_FACTOR_LOWER_THAN_LIQUIDATION_THRESHOLD"),
])
def test_repay_with_atokens_when_unhealthy_after_then_refused_from_v3_5(
        preset: str, code: str | None) -> None:
    # test_repayWithATokens_shouldRevertIfUnhealthyAfterRepayment: 2,000 USDX supplied,
    # 1,600 borrowed, 100 years later (debt outgrows the supply) 2 units repaid.
    engine = pool(preset)
    assert engine.apply(Deposit("alice", "USDX", 2_000 * USDX)).accepted
    assert engine.apply(Borrow("alice", "USDX", 1_600 * USDX)).accepted
    assert engine.apply(AdvanceTime(100 * 365 * _DAYS)).accepted
    assert engine.account_data("alice").health_factor < 10**18
    out = engine.apply(RepayWithATokens("alice", "USDX", 2))
    assert out.code == code
    if code is not None:
        assert out.data["health_factor"] < 10**18


def test_repay_with_atokens_when_not_collateral_then_no_health_check() -> None:
    # executeRepay asks validateHealthFactor only if the asset was collateral: the same
    # account with USDX switched off (it has no other collateral, so HF is 0) repays.
    engine = pool("aave-v3.5")
    assert engine.apply(Deposit("alice", "WETH", WETH)).accepted
    assert engine.apply(Deposit("alice", "USDX", 2_000 * USDX)).accepted
    assert engine.apply(Borrow("alice", "USDX", 1_000 * USDX)).accepted
    assert engine.apply(SetUseAsCollateral("alice", "USDX", False)).accepted
    assert engine.apply(SetPrice("WETH", USD)).accepted          # HF far below 1
    out = engine.apply(RepayWithATokens("alice", "USDX", 2))
    assert out.accepted and "health_factor" not in out.details


def test_repay_with_atokens_when_nothing_owed_or_held_then_refused() -> None:
    engine = pool()
    assert engine.apply(Deposit("alice", "USDX", 2_000 * USDX)).accepted
    assert engine.apply(RepayWithATokens("alice", "USDX", 1)).code == "NO_DEBT_OF_SELECTED_TYPE"
    assert engine.apply(Deposit("bob", "WETH", WETH)).accepted
    assert engine.apply(Borrow("bob", "USDX", 100 * USDX)).accepted
    assert engine.apply(RepayWithATokens("bob", "USDX", _MAX)).code == "UNDERLYING_BALANCE_ZERO"
    assert engine.apply(Deposit("bob", "USDX", 10 * USDX)).accepted
    out = engine.apply(RepayWithATokens("bob", "USDX", 11 * USDX))
    assert out.code == "NOT_ENOUGH_AVAILABLE_USER_BALANCE"
    assert engine.ledger.debt_of("bob", "USDX") == 100 * USDX    # a refusal changes nothing


@settings(max_examples=25, deadline=None)
@given(repay=st.integers(2, 2_000 * USDX), seconds=st.integers(1, 10 * 365 * _DAYS))
def test_repay_with_atokens_when_any_amount_then_debt_falls_by_it_within_two_units(
        repay: int, seconds: int) -> None:
    # test_repayWithATokens_fuzz_collateral_variable_borrow: debt after within 2 units of
    # debt before - repayAmount; borrowing and the collateral switch follow the balances.
    engine = pool("aave-v3")
    assert engine.apply(Deposit("alice", "WETH", 100 * WETH)).accepted
    assert engine.apply(Deposit("alice", "USDX", 2_000 * USDX)).accepted
    assert engine.apply(Borrow("alice", "USDX", 2_000 * USDX)).accepted
    assert engine.apply(AdvanceTime(seconds)).accepted
    ledger = engine.ledger
    debt = ledger.debt_of("alice", "USDX")
    out = engine.apply(RepayWithATokens("alice", "USDX", repay))
    assert out.accepted and out.details["repaid"] == repay
    assert abs(ledger.debt_of("alice", "USDX") - (debt - repay)) <= 2
    assert ledger.collateral_flag("alice", "USDX") == (ledger.supply_of("alice", "USDX") > 0)
    ledger.check_conservation()


# ---------------------------------------------------------------------------- liquidations
def _underwater(preset: str, wbtc_price: int) -> Engine:
    # 1 WBTC against 22,000 USDX, then WBTC falls (no time passes: indices stay 1).
    engine = pool(preset)
    assert engine.apply(Deposit("alice", "WBTC", WBTC)).accepted
    assert engine.apply(Borrow("alice", "USDX", 22_000 * USDX)).accepted
    assert engine.apply(SetPrice("WBTC", wbtc_price * USD)).accepted
    assert engine.apply(Deposit("liquidator", "USDX", 1)).accepted
    return engine


@pytest.mark.parametrize(("preset", "health"), [
    ("aave-v3", 977_272_727_272_727_272),     # wadDiv(sum C x LT, D) / 1e4, then floored
    ("aave-v3.3", 977_272_727_272_727_273),   # percentMul(C, LT).wadDiv(D), half up
])
def test_liquidation_when_hf_above_095_then_half_the_debt_for_bonus_less_fee(
        preset: str, health: int) -> None:
    engine = _underwater(preset, 25_000)   # HF = 25,000 x 86% / 22,000
    assert engine.account_data("alice").health_factor == health
    outcome = engine.apply(Liquidate("liquidator", "alice", "USDX", "WBTC", 10**12, False))
    d = outcome.details
    assert d["close_factor_bps"] == 5_000
    assert d["debt_repaid"] == 11_000 * USDX                 # 50% of 22,000
    # 11,000 / 25,000 = 0.44 WBTC, x 1.05 = 0.462; bonus 0.022; fee 10% of it.
    assert d["protocol_fee"] == 220_000
    assert d["collateral_to_liquidator"] == 46_200_000 - 220_000
    assert d["deficit"] == {}
    engine.ledger.check_conservation()


@pytest.mark.parametrize(("preset", "to_liquidator", "fee"), [
    # v3.7: percentMulFloor(4,938,271 x 1.05) = 5,185,184; bonus 5,185,184 -
    # percentDivFloor(., 1.05) = 246,914; fee percentMulCeil(246,914, 10%) = 24,692.
    ("aave-v3", 5_185_184 - 24_692, 24_692),
    # v3.3/v3.5: percentMul half up 5,185,185; base percentDiv 4,938,271; fee 24,691.
    ("aave-v3.3", 5_185_185 - 24_691, 24_691),
])
def test_liquidation_when_odd_amount_then_each_version_rounds_as_its_code(
        preset: str, to_liquidator: int, fee: int) -> None:
    engine = _underwater(preset, 25_000)
    outcome = engine.apply(Liquidate("liquidator", "alice", "USDX", "WBTC", 1_234_567_891, False))
    # baseCollateral = 1,234.567891 USDX / 25,000 = 4,938,271.56 sat, floored.
    assert outcome.details["debt_repaid"] == 1_234_567_891
    assert outcome.details["collateral_to_liquidator"] == to_liquidator
    assert outcome.details["protocol_fee"] == fee


@pytest.mark.parametrize("preset", ["aave-v3", "aave-v3.3"])
def test_liquidation_when_collateral_short_then_all_seized_and_rest_is_deficit(
        preset: str) -> None:
    engine = _underwater(preset, 20_000)   # HF 0.78 <= 0.95: close factor 100%
    outcome = engine.apply(Liquidate("liquidator", "alice", "USDX", "WBTC", 10**12, False))
    d = outcome.details
    assert d["close_factor_bps"] == 10_000
    # 1 WBTC is 20,000 USDX; debt needed = 20,000 / 1.05, rounded up (v3.5+ Ceil; v3.3's
    # half up gives the same here): 19,047.619048.
    assert d["debt_repaid"] == 19_047_619_048
    # bonus = 1e8 - floor(1e8 / 1.05) = 4,761,905; fee 476,190.5 -> 476,191.
    assert d["protocol_fee"] == 476_191
    assert d["collateral_to_liquidator"] == WBTC - 476_191
    # _burnDebtTokens: outstandingDebt = 22,000 - 19,047.619048 becomes the deficit.
    assert d["deficit"] == {"USDX": 22_000 * USDX - 19_047_619_048}
    assert engine.ledger.reserves["USDX"].deficit == 2_952_380_952
    assert engine.ledger.debt_of("alice", "USDX") == 0
    engine.ledger.check_conservation()


@pytest.mark.parametrize(("debt_asset", "collateral_asset", "code"), [
    # validateLiquidationCall, after the health factor: the collateral flag, then the debt.
    ("USDX", "WETH", "COLLATERAL_CANNOT_BE_LIQUIDATED"),
    ("WETH", "WBTC", "SPECIFIED_CURRENCY_NOT_BORROWED_BY_USER"),
])
def test_liquidation_when_unhealthy_but_wrong_asset_then_aave_error(
        debt_asset: str, collateral_asset: str, code: str) -> None:
    engine = _underwater("aave-v3", 25_000)
    outcome = engine.apply(Liquidate("liquidator", "alice", debt_asset, collateral_asset,
                                     10**12, False))
    assert outcome.code == code


def test_liquidation_when_healthy_then_health_factor_first_whatever_the_assets() -> None:
    engine = _underwater("aave-v3", 27_000)   # HF 27,000 x 86% / 22,000 = 1.0554
    outcome = engine.apply(Liquidate("liquidator", "alice", "WETH", "WETH", 10**12, False))
    assert outcome.code == "HEALTH_FACTOR_NOT_BELOW_THRESHOLD"


def test_liquidation_when_close_factor_100_but_collateral_left_below_1000_usd_then_dust() -> None:
    # Pool.Liquidations.CloseFactor.t.sol test_shouldRevertIfCloseFactorIs100But-
    # CollateralIsBelowThreshold: 2,000 USDX (MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD / 1e2)
    # and 4 WETH supplied, HF below 0.95 (there by a mocked borrow; here by WETH falling),
    # liquidating USDX debt for USDX collateral by 2,000 / 2 - 44 = 956 USDX seizes
    # 956 x 1.05 = 1,003.80 USDX, leaving 996.20 USD of it: MustNotLeaveDust.
    engine = pool()
    assert engine.apply(Deposit("bob", "USDX", 2_000 * USDX)).accepted
    assert engine.apply(Deposit("bob", "WETH", 4 * WETH)).accepted
    assert engine.apply(Borrow("bob", "USDX", 7_000 * USDX)).accepted
    assert engine.apply(SetPrice("WETH", 1_392 * USD)).accepted  # HF (2,000 + 5,568) x 86% / 7,000
    assert engine.account_data("bob").health_factor == 929_782_857_142_857_142
    assert engine.apply(Deposit("liquidator", "USDX", 1)).accepted
    outcome = engine.apply(Liquidate("liquidator", "bob", "USDX", "USDX", 956 * USDX, False))
    assert outcome.code == "MUST_NOT_LEAVE_DUST"
    assert outcome.data["collateral_left_base"] == 996_20 * USD // 100
    # 950 USDX seizes 997.50 and leaves 1,002.50: allowed, at the 100% close factor.
    accepted = engine.apply(Liquidate("liquidator", "bob", "USDX", "USDX", 950 * USDX, False))
    assert accepted.details["close_factor_bps"] == 10_000
    assert accepted.details["collateral_to_liquidator"] + accepted.details["protocol_fee"] == \
        997_500_000
