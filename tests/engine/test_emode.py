"""Aave v3 e-mode in the engine: ``SetUserEMode`` (``setUserEMode``), account data, borrow
checks, withdrawals and liquidations at the category's parameters, per version.

Sources: aave-dao/aave-v3-origin v3.3.0, v3.5.0 and the v3.7.0 commit 4fbd7442
(``EModeLogic.sol``/``SupplyLogic.sol`` ``executeSetUserEMode``, ``ValidationLogic.sol``
``validateSetUserEMode``/``validateBorrow``/``getUserReserveLtv``, ``GenericLogic.sol``
``calculateUserAccountData``, ``LiquidationLogic.sol``); the cases follow
``tests/protocol/pool/Pool.EMode*.sol`` with Aave's test categories ``_genCategoryOne``
(LTV 95%, LT 96%, bonus 101%) and ``_genCategoryTwo`` (96%, 97%, 101.5%).
"""

from __future__ import annotations

from typing import Any

import pytest

from marginengine.config import protocol_from_dict
from marginengine.engine import (
    Borrow,
    Deposit,
    Engine,
    ImportAccount,
    Liquidate,
    SetPrice,
    SetUserEMode,
    Withdraw,
)
from marginengine.errors import ConfigError
from tests.conftest import ETH, SIMPLE_MARKETS, USD, USDC

WAD = 10**18
#: Aave's test categories (TestnetProcedures._genCategoryOne / _genCategoryTwo), on the
#: round-number markets: 1 = ETH-correlated (WETH, wstETH), 2 = WETH collateral only.
CATEGORIES: dict[str, Any] = {
    "1": {"label": "GROUP_A", "ltv": "0.95", "liquidation_threshold": "0.96",
          "liquidation_bonus": "0.01", "collateral": ["WETH", "wstETH"],
          "borrowable": ["WETH", "wstETH"]},
    "2": {"label": "GROUP_B", "ltv": "0.96", "liquidation_threshold": "0.97",
          "liquidation_bonus": "0.015", "collateral": ["WETH"], "borrowable": ["WETH"]},
}
MARKETS: dict[str, Any] = {
    **SIMPLE_MARKETS,
    "wstETH": {"decimals": 18, "ltv": "0.785", "liquidation_threshold": "0.81",
               "liquidation_bonus": "0.05", "liquidation_protocol_fee": "0.10"},
}


def engine_for(preset: str = "aave-v3", categories: dict[str, Any] | None = None,
               markets: dict[str, Any] | None = None) -> Engine:
    engine = Engine(protocol_from_dict({
        "preset": preset, "markets": markets or MARKETS,
        "emode": {"categories": CATEGORIES if categories is None else categories}}))
    for asset, price in (("WETH", 2_000 * USD), ("wstETH", 2_400 * USD), ("USDC", USD),
                         ("DAI", USD)):
        engine.apply(SetPrice(asset, price))
    for asset, amount in (("USDC", 1_000_000 * USDC), ("WETH", 1_000 * ETH),
                          ("wstETH", 1_000 * ETH)):
        assert engine.apply(Deposit("lp", asset, amount)).accepted
    return engine


ALL = ["aave-v3.3", "aave-v3.5", "aave-v3.7"]


@pytest.mark.parametrize("preset", ALL)
def test_set_user_emode_when_category_not_configured_then_inconsistent(preset):
    # Pool.EMode.sol test_setUserEMode_shouldRevertForNonExistingEmode
    out = engine_for(preset).apply(SetUserEMode("alice", 3))
    assert out.code == "INCONSISTENT_EMODE_CATEGORY"
    assert out.reason == "e-mode category 3 is not configured"


@pytest.mark.parametrize("preset", ALL)
def test_set_user_emode_when_same_category_then_nothing_changes(preset):
    # test_reenterSameEmode_shouldSucceedAndDoNothing
    engine = engine_for(preset)
    assert engine.apply(SetUserEMode("alice", 1)).details["changed"] is True
    before = engine.ledger.state_hash()
    again = engine.apply(SetUserEMode("alice", 1))
    assert again.accepted and again.details == {"category": 1, "previous": 1,
                                                "changed": False}
    assert engine.ledger.state_hash() == before
    assert engine.ledger.emode_of("alice") == 1


@pytest.mark.parametrize("preset", ALL)
def test_account_data_when_in_emode_then_category_ltv_and_threshold(preset):
    # test_reenterSameEmode: with only category collateral, getUserAccountData's LTV and
    # LT are the category's; back in category 0 they are the reserve's.
    engine = engine_for(preset)
    engine.apply(SetUserEMode("alice", 1))
    engine.apply(Deposit("alice", "WETH", 10 * ETH))
    data = engine.account_data("alice")
    assert (data.avg_ltv_bps, data.avg_liquidation_threshold_bps) == (9_500, 9_600)
    assert data.total_collateral == 20_000 * USD
    assert data.available_borrows == 19_000 * USD
    assert engine.apply(SetUserEMode("alice", 0)).accepted
    data = engine.account_data("alice")
    assert (data.avg_ltv_bps, data.avg_liquidation_threshold_bps) == (8_000, 8_250)


@pytest.mark.parametrize("preset", ALL)
def test_account_data_when_mixed_collateral_then_weighted_average(preset):
    # test_getUserAccountData_shouldReflectMixedCollateral: 20,000 USD of WETH at 96% and
    # 10,000 USD of USDC at its own 80% average to (20,000 x 9,600 + 10,000 x 8,000) /
    # 30,000 = 9,066 bps (floored); LTV (20,000 x 9,500 + 10,000 x 7,500) / 30,000 = 8,833.
    engine = engine_for(preset)
    engine.apply(SetUserEMode("alice", 1))
    engine.apply(Deposit("alice", "WETH", 10 * ETH))
    engine.apply(Deposit("alice", "USDC", 10_000 * USDC))
    data = engine.account_data("alice")
    assert (data.avg_ltv_bps, data.avg_liquidation_threshold_bps) == (8_833, 9_066)


@pytest.mark.parametrize("preset", ALL)
def test_borrow_when_in_emode_then_category_ltv_backs_it(preset):
    # 10 WETH (20,000 USD) back 95% in category 1: 9.5 WETH; 9.6 WETH is refused.
    engine = engine_for(preset)
    engine.apply(SetUserEMode("alice", 1))
    engine.apply(Deposit("alice", "WETH", 10 * ETH))
    over = engine.apply(Borrow("alice", "wstETH", 8 * ETH))   # 19,200 USD > 19,000
    assert over.code == "COLLATERAL_CANNOT_COVER_NEW_BORROW"
    ok = engine.apply(Borrow("alice", "WETH", 95 * ETH // 10))
    assert ok.accepted
    # HF = 20,000 x 96% / 19,000 = 1.010526315789473684 (v3.5+: wadDiv(sum, D) / 1e4,
    # v3.3: percentMul then wadDiv, half up: ...684 as well here).
    assert ok.details["health_factor"] == 1_010_526_315_789_473_684
    # Outside e-mode the same borrow needs 19,000 / 0.80 = 23,750 USD of WETH.
    other = engine_for(preset)
    other.apply(Deposit("alice", "WETH", 10 * ETH))
    # (v3.5+ validateHFAndLtv asks the health factor first: 16,500 / 19,000 = 0.868.)
    assert other.apply(Borrow("alice", "WETH", 95 * ETH // 10)).code == (
        "COLLATERAL_CANNOT_COVER_NEW_BORROW" if preset == "aave-v3.3"
        else "HEALTH_FACTOR_LOWER_THAN_LIQUIDATION_THRESHOLD")


@pytest.mark.parametrize("preset", ALL)
def test_borrow_when_not_borrowable_in_category_then_refused(preset):
    # Pool.EMode.Borrowable.sol: in an e-mode only its borrowable assets may be borrowed.
    engine = engine_for(preset)
    engine.apply(SetUserEMode("alice", 1))
    engine.apply(Deposit("alice", "WETH", 10 * ETH))
    out = engine.apply(Borrow("alice", "USDC", 100 * USDC))
    assert out.code == "NOT_BORROWABLE_IN_EMODE"
    assert out.data == {"asset": "USDC", "category": 1}


@pytest.mark.parametrize("preset", ALL)
def test_set_user_emode_when_borrowing_asset_not_borrowable_there_then_refused(preset):
    # test_setUserEmode_shouldRevertIfAssetNotBorrowableInEmode (v3.3/v3.5:
    # NOT_BORROWABLE_IN_EMODE; v3.6+: InvalidDebtInEmode(reserve, categoryId)).
    engine = engine_for(preset)
    engine.apply(Deposit("alice", "WETH", 10 * ETH))
    assert engine.apply(Borrow("alice", "USDC", 1_000 * USDC)).accepted
    out = engine.apply(SetUserEMode("alice", 1))
    code = "NOT_BORROWABLE_IN_EMODE" if preset != "aave-v3.7" else "INVALID_DEBT_IN_EMODE"
    assert out.code == code
    assert engine.ledger.emode_of("alice") == 0


@pytest.mark.parametrize("preset", ALL)
def test_set_user_emode_when_health_would_fall_below_one_then_refused(preset):
    # test_setUserEmode_shouldRevertIfHfWouldFallBelow1: borrowed at category 2's 96% LTV,
    # moving to category 1 (LT 96%) leaves HF = 20,000 x 96% / 19,200 = 1.0 (allowed,
    # >= 1); leaving e-mode (LT 82.5%) gives 0.859375: refused.
    engine = engine_for(preset)
    engine.apply(SetUserEMode("alice", 2))
    engine.apply(Deposit("alice", "WETH", 10 * ETH))
    assert engine.apply(Borrow("alice", "WETH", 96 * ETH // 10)).accepted
    to_one = engine.apply(SetUserEMode("alice", 1))
    assert to_one.accepted and to_one.details["health_factor"] == WAD
    out = engine.apply(SetUserEMode("alice", 0))
    assert out.code == "HEALTH_FACTOR_LOWER_THAN_LIQUIDATION_THRESHOLD"
    assert out.data == {"health_factor": 859_375_000_000_000_000, "category": 0}
    assert engine.ledger.emode_of("alice") == 1


def test_leave_emode_when_v3_7_and_debt_not_borrowable_outside_then_invalid_debt():
    # v3.6+: an asset may be borrowable only inside an e-mode (docs/3.6 "eMode
    # Improvements"); leaving e-mode with such debt is InvalidDebtInEmode.
    markets = {**MARKETS, "wstETH": {**MARKETS["wstETH"], "borrowable": False}}
    engine = engine_for("aave-v3.7", markets=markets)
    engine.apply(SetUserEMode("alice", 1))
    engine.apply(Deposit("alice", "WETH", 10 * ETH))
    assert engine.apply(Borrow("alice", "wstETH", ETH)).accepted
    out = engine.apply(SetUserEMode("alice", 0))
    assert out.code == "INVALID_DEBT_IN_EMODE"
    # v3.3/v3.5: borrowingEnabled is still required inside e-mode.
    old = engine_for("aave-v3.5", markets=markets)
    old.apply(SetUserEMode("alice", 1))
    old.apply(Deposit("alice", "WETH", 10 * ETH))
    assert old.apply(Borrow("alice", "wstETH", ETH)).code == "BORROWING_NOT_ENABLED"


def test_ltvzero_when_v3_7_then_collateral_has_no_ltv_in_category():
    # Pool.EMode.Ltvzero.sol: an asset in the category's ltvzeroBitmap counts for the
    # health factor (at the category's LT) but backs no borrow; entering with it enabled
    # as collateral is InvalidCollateralInEmode.
    cats = {**CATEGORIES, "1": {**CATEGORIES["1"], "ltvzero": ["wstETH"]}}
    engine = engine_for("aave-v3.7", categories=cats)
    engine.apply(Deposit("alice", "wstETH", ETH))
    out = engine.apply(SetUserEMode("alice", 1))
    assert out.code == "INVALID_COLLATERAL_IN_EMODE"
    assert out.data == {"asset": "wstETH", "category": 1}
    # bob holds both switched on in category 1 (imported as he stands: supplied before
    # the category listed wstETH as ltvzero); the ltv-zero rules apply.
    assert engine.apply(ImportAccount("bob", (("wstETH", ETH), ("WETH", ETH)), (),
                                      1)).accepted
    # A first supply of the ltv-zero asset in the category is not switched on
    # (validateUseAsCollateral: getUserReserveLtv is 0).
    assert engine.apply(SetUserEMode("carol", 1)).accepted
    assert engine.apply(Deposit("carol", "wstETH", ETH)).accepted
    assert not engine.ledger.collateral_flag("carol", "wstETH")
    data = engine.account_data("bob")
    # (2,400 x 0 + 2,000 x 9,500) / 4,400 = 4,318 bps; LT (2,400 + 2,000) x 9,600 / 4,400.
    assert (data.avg_ltv_bps, data.avg_liquidation_threshold_bps) == (4_318, 9_600)
    assert engine.apply(Borrow("bob", "WETH", ETH // 2)).accepted
    # validateHFAndLtvzero: the ltv-zero asset must go first.
    assert engine.apply(Withdraw("bob", "WETH", ETH // 10)).code == "LTV_VALIDATION_FAILED"
    assert engine.apply(Withdraw("bob", "wstETH", ETH // 10)).accepted


def test_isolated_when_v3_7_then_outside_collateral_has_no_ltv():
    # Pool.EMode.Isolated.sol: entering an isolated category with other collateral
    # enabled is InvalidCollateralInEmode; inside, other collateral backs nothing.
    cats = {**CATEGORIES, "1": {**CATEGORIES["1"], "isolated": True}}
    engine = engine_for("aave-v3.7", categories=cats)
    engine.apply(Deposit("alice", "USDC", 1_000 * USDC))
    assert engine.apply(SetUserEMode("alice", 1)).code == "INVALID_COLLATERAL_IN_EMODE"
    # carol, imported inside the category with USDC switched on (enabled before the
    # category became isolated: test_isolatedEmode_adminToggle_existingUsersGetLtv0).
    assert engine.apply(ImportAccount("carol", (("WETH", ETH), ("USDC", 2_000 * USDC)), (),
                                      1)).accepted
    data = engine.account_data("carol")
    # LTV (2,000 x 9,500 + 2,000 x 0) / 4,000; LT (2,000 x 9,600 + 2,000 x 8,000) / 4,000.
    assert (data.avg_ltv_bps, data.avg_liquidation_threshold_bps) == (4_750, 8_800)
    # test_isolatedEmode_supplyDoesNotAutoEnableNonEmodeCollateral: bob enters, then
    # supplies; the USDC outside the category (LTV 0 for him) is not switched on.
    engine.apply(SetUserEMode("bob", 1))
    engine.apply(Deposit("bob", "WETH", ETH))
    engine.apply(Deposit("bob", "USDC", 2_000 * USDC))
    assert not engine.ledger.collateral_flag("bob", "USDC")
    data = engine.account_data("bob")
    assert (data.avg_ltv_bps, data.avg_liquidation_threshold_bps) == (9_500, 9_600)


def test_reserve_ltv_zero_when_v3_5_then_stays_zero_in_emode_and_v3_7_not():
    # v3.3/v3.5 calculateUserAccountData: a reserve LTV of 0 keeps the asset at 0 in
    # e-mode; v3.7's getUserReserveLtv gives it the category's LTV.
    markets = {**MARKETS, "wstETH": {**MARKETS["wstETH"], "ltv": "0"}}
    for preset, ltv in (("aave-v3.5", 0), ("aave-v3.7", 9_500)):
        engine = engine_for(preset, markets=markets)
        assert engine.apply(ImportAccount("alice", (("wstETH", ETH),), (), 1)).accepted
        data = engine.account_data("alice")
        assert (data.avg_ltv_bps, data.avg_liquidation_threshold_bps) == (ltv, 9_600)
        # A first supply follows the same LTV: validateUseAsCollateral reads the
        # reserve's (0) in v3.5, the category's in v3.7.
        engine.apply(SetUserEMode("bob", 1))
        engine.apply(Deposit("bob", "wstETH", ETH))
        assert engine.ledger.collateral_flag("bob", "wstETH") == (ltv != 0)


@pytest.mark.parametrize("preset", ALL)
def test_liquidation_when_in_emode_then_category_bonus(preset):
    # Pool.Liquidations.t.sol test_liquidate_emode_position_without_emode_oracle: the
    # bonus is the category's (101%) for a category collateral. 10 wstETH (24,000 USD)
    # back 95%: 22,800 USD = 11.4 WETH.
    engine = engine_for(preset)
    engine.apply(SetUserEMode("alice", 1))
    engine.apply(Deposit("alice", "wstETH", 10 * ETH))
    assert engine.apply(Borrow("alice", "WETH", 114 * ETH // 10)).accepted
    engine.apply(SetPrice("wstETH", 2_300 * USD))  # HF 23,000 x 96% / 22,800 = 0.968
    assert engine.account_data("alice").health_factor == 968_421_052_631_578_947
    out = engine.apply(Liquidate("keeper", "alice", "WETH", "wstETH", 10**30))
    assert out.accepted, out.reason
    # Close factor 50% (HF > 0.95): 5.7 WETH repaid = 11,400 USD; base collateral
    # 11,400 / 2,300 = 4.956521739130434782 wstETH (floored), x 101%: 5.0060869565217391298
    # -> ...130 (percentMul, half up; v3.3/v3.5), ...129 (percentMulFloor, v3.7).
    assert out.details["debt_repaid"] == 57 * ETH // 10
    seized = out.details["collateral_to_liquidator"] + out.details["protocol_fee"]
    assert seized == (5_006_086_956_521_739_129 if preset == "aave-v3.7"
                      else 5_006_086_956_521_739_130)
    # The protocol fee is 10% of the bonus part (0.0495652173913043480 wstETH): 4.956...e15
    # rounded up (v3.7 percentMulCeil) or half up (before): the same unit here.
    assert out.details["protocol_fee"] == 4_956_521_739_130_435
    # At the reserve's 5% bonus the same repayment would seize 5.204347826086956521.


def test_liquidation_when_collateral_outside_category_then_reserve_bonus():
    engine = engine_for()
    engine.apply(SetUserEMode("alice", 1))
    engine.apply(Deposit("alice", "WETH", 10 * ETH))
    engine.apply(Deposit("alice", "DAI", 10_000 * ETH))
    assert engine.apply(Borrow("alice", "WETH", 12 * ETH)).accepted
    # HF (20,000 x 96% + 5,000 x 80%) / 24,000 = 0.9667 once DAI is at 0.50.
    engine.apply(SetPrice("DAI", USD // 2))
    out = engine.apply(Liquidate("keeper", "alice", "WETH", "DAI", 10**30))
    assert out.accepted, out.reason
    # DAI is no category collateral: its own 105% bonus. All 10,000 DAI (5,000 USD) is
    # short of 50% of the debt x bonus, so the debt repaid is 2.5 WETH / 1.05 =
    # 2.380952380952380952.4 (percentDivCeil); at the category's 101% it would be 2.475.
    seized = out.details["collateral_to_liquidator"] + out.details["protocol_fee"]
    assert seized == 10_000 * ETH
    assert out.details["debt_repaid"] == 2_380_952_380_952_380_953


def test_state_hash_when_no_emode_then_unchanged_and_with_emode_then_differs():
    plain = Engine(protocol_from_dict({"preset": "aave-v3", "markets": SIMPLE_MARKETS}))
    with_table = Engine(protocol_from_dict({"preset": "aave-v3", "markets": MARKETS,
                                            "emode": {"categories": CATEGORIES}}))
    without = Engine(protocol_from_dict({"preset": "aave-v3", "markets": MARKETS}))
    for engine in (plain, with_table, without):
        engine.apply(SetPrice("WETH", 2_000 * USD))
        engine.apply(Deposit("alice", "WETH", ETH))
    assert with_table.state_hash() == without.state_hash()
    with_table.apply(SetUserEMode("alice", 1))
    assert with_table.state_hash() != without.state_hash()
    with_table.apply(SetUserEMode("alice", 0))
    # (the engine's hash counts events; the ledger's is the state alone)
    assert with_table.ledger.state_hash() == without.ledger.state_hash()


def test_set_user_emode_when_family_has_none_then_not_supported():
    engine = Engine(protocol_from_dict({"preset": "compound-v3"}))
    out = engine.apply(SetUserEMode("alice", 1))
    assert out.code == "EVENT_NOT_SUPPORTED"
    assert "no efficiency mode" in out.reason


# ---------------------------------------------------------------------- configuration
def _config_error(preset: str = "aave-v3", **category: Any) -> str:
    cat = {**CATEGORIES["1"], **category}
    markets = {**MARKETS, "GHO": {"decimals": 18, "collateral": False}}
    with pytest.raises(ConfigError) as info:
        protocol_from_dict({"preset": preset, "markets": markets,
                            "emode": {"categories": {"1": cat}}}, prefix="protocol")
    return str(info.value)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("ltv", "0", "protocol.emode.categories.1.ltv: must be greater than 0"),
    ("ltv", "0.97", "protocol.emode.categories.1.liquidation_threshold: must be at least "
                    "ltv (0.96 < 0.97)"),
    ("ltv", "0.95001", "protocol.emode.categories.1.ltv: must be a whole number of "
                       "basis points"),
    ("liquidation_bonus", "0", "protocol.emode.categories.1.liquidation_bonus: must be "
                               "greater than 0"),
    ("liquidation_bonus", "0.05", "protocol.emode.categories.1.liquidation_bonus: "
                                  "liquidation_threshold x (1 + liquidation_bonus) "
                                  "must not exceed 1"),
])
def test_config_when_category_params_bad_then_field_named(field, value, message):
    assert message in _config_error(**{field: value})


def test_config_when_threshold_times_bonus_rounds_to_one_then_accepted():
    # percentMul half up: 9,900 x 10,101 / 10,000 = 9,999.99 -> 10,000 <= 10,000.
    config = protocol_from_dict({"preset": "aave-v3", "markets": MARKETS, "emode": {
        "categories": {"1": {**CATEGORIES["1"], "liquidation_threshold": "0.99",
                             "liquidation_bonus": "0.0101"}}}})
    assert config.emode_category(1) is not None
    assert "must not exceed 1" in _config_error(liquidation_threshold="0.99",
                                                liquidation_bonus="0.0102")


def test_config_when_assets_or_versions_wrong_then_field_named():
    assert "emode.categories.1.collateral.1: unknown asset 'stETH'" in _config_error(
        collateral=["WETH", "stETH"])
    assert "emode.categories.1.collateral.0: GHO is not a collateral market" in \
        _config_error(collateral=["GHO"])
    assert "emode.categories.1.borrowable: 'WETH' is listed twice" in \
        _config_error(borrowable=["WETH", "WETH"])
    assert "emode.categories.1.ltvzero: aave-v3.5 has no e-mode ltvzero bitmap" in \
        _config_error("aave-v3.5", ltvzero=["WETH"])
    assert "emode.categories.1.ltvzero.0: USDC is not a collateral of the category " \
           "(Aave's MustBeEmodeCollateral)" in _config_error(ltvzero=["USDC"])
    assert "emode.categories.1.isolated: aave-v3.3 has no isolated e-mode" in \
        _config_error("aave-v3.3", isolated=True)
    with pytest.raises(ConfigError) as info:
        protocol_from_dict({"preset": "aave-v3", "markets": MARKETS, "emode": {
            "categories": {"0": CATEGORIES["1"]}}}, prefix="protocol")
    assert "protocol.emode.categories: category 0 is reserved" in str(info.value)
    with pytest.raises(ConfigError) as info:
        protocol_from_dict({"preset": "compound-v3", "emode": {"categories": {}}})
    assert "emode: compound-v3 has no efficiency mode" in str(info.value)
