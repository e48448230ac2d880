"""Aave's per-account collateral switch: ``SetUseAsCollateral`` (``setUserUseReserveAsCollateral``)
and the ledger switching a balance off when it reaches 0.

Sources (aave-dao/aave-v3-origin@fd1fbd9150426ca8ace9cee45b4acf912ae84f5b; ``src`` and
``tests`` identical to the v3.7.0 commit 4fbd7442): ``tests/protocol/pool/Pool.t.sol``
(``test_setUserUseReserveAsCollateral_false``, ``_true``, ``test_noop_..._already_is_activated``,
``test_reverts_setUserUseReserveAsCollateral_true_ltv_zero``, ``_true_user_balance_zero``,
``_false_hf_lower_lqt``), ``src/contracts/protocol/libraries/logic/SupplyLogic.sol``
(``executeUseReserveAsCollateral``, ``executeSupply``, ``executeWithdraw``),
``ValidationLogic.sol`` (``validateUseAsCollateral``, ``validateHFAndLtvzero``) and
``GenericLogic.sol`` (a reserve not used as collateral adds nothing to the account data).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from marginengine.config import protocol_from_dict
from marginengine.engine import (
    Borrow,
    Deposit,
    Engine,
    ImportAccount,
    Repay,
    SetPrice,
    SetUseAsCollateral,
    Withdraw,
)
from marginengine.engine.events import event_from_dict
from marginengine.errors import EventError
from tests.aave_listing import MARKETS, PRICES, USD, USDX, WBTC, WETH, pool


def test_switch_when_off_then_on_then_again_on_then_noop() -> None:
    # test_setUserUseReserveAsCollateral_false / _true / test_noop_..._already_is_activated:
    # alice supplies 1 USDX (on by the first supply), switches it off, on, and on again.
    engine = pool()
    assert engine.apply(Deposit("alice", "USDX", 1 * USDX)).accepted
    assert engine.ledger.collateral_flag("alice", "USDX")
    assert engine.account_data("alice").total_collateral == 1 * USD
    off = engine.apply(SetUseAsCollateral("alice", "USDX", False))
    assert off.accepted and off.details == {"enabled": False, "changed": True}
    assert not engine.ledger.uses_as_collateral("alice", "USDX")
    assert engine.account_data("alice").total_collateral == 0       # GenericLogic skips it
    on = engine.apply(SetUseAsCollateral("alice", "USDX", True))
    assert on.details == {"enabled": True, "changed": True}
    assert engine.account_data("alice").total_collateral == 1 * USD
    hash_on = engine.ledger.state_hash()
    again = engine.apply(SetUseAsCollateral("alice", "USDX", True))
    assert again.accepted and again.details == {"enabled": True, "changed": False}
    assert engine.ledger.state_hash() == hash_on


def test_enable_when_no_balance_then_underlying_balance_zero() -> None:
    # test_reverts_setUserUseReserveAsCollateral_true_user_balance_zero
    engine = pool()
    out = engine.apply(SetUseAsCollateral("alice", "USDX", True))
    assert out.code == "UNDERLYING_BALANCE_ZERO"
    assert "alice" not in engine.ledger.accounts          # a refusal changes nothing


def test_enable_when_ltv_zero_then_user_has_asset_with_zero_ltv() -> None:
    # test_reverts_setUserUseReserveAsCollateral_true_ltv_zero: USDX configured with LTV 0,
    # threshold 70%, bonus 5% after alice switched it off.
    markets = {**MARKETS, "USDX": {**MARKETS["USDX"], "ltv": "0",
                                   "liquidation_threshold": "0.70"}}
    engine = Engine(protocol_from_dict({"preset": "aave-v3", "markets": markets}))
    for asset, price in PRICES.items():
        assert engine.apply(SetPrice(asset, price)).accepted
    assert engine.apply(Deposit("alice", "USDX", 1 * USDX)).accepted
    assert engine.apply(SetUseAsCollateral("alice", "USDX", False)).accepted
    out = engine.apply(SetUseAsCollateral("alice", "USDX", True))
    assert out.code == "USER_HAS_ASSET_WITH_ZERO_LTV"
    assert out.data == {"account": "alice", "asset": "USDX"}
    assert not engine.ledger.collateral_flag("alice", "USDX")


def test_disable_when_health_would_fall_below_one_then_refused() -> None:
    # test_reverts_setUserUseReserveAsCollateral_false_hf_lower_lqt: 0.5 WBTC supplied,
    # 10 USDX borrowed (HF 13,500 x 86% / 10 = 1,161); without the WBTC the account has
    # no collateral and its health factor is 0.
    engine = pool()
    assert engine.apply(Deposit("alice", "WBTC", WBTC // 2)).accepted
    assert engine.apply(Borrow("alice", "USDX", 10 * USDX)).accepted
    assert engine.account_data("alice").health_factor == 1_161 * 10**18
    out = engine.apply(SetUseAsCollateral("alice", "WBTC", False))
    assert out.code == "HEALTH_FACTOR_LOWER_THAN_LIQUIDATION_THRESHOLD"
    assert out.data["health_factor"] == 0
    assert engine.ledger.collateral_flag("alice", "WBTC")


def test_disable_when_flag_off_then_borrowing_power_and_health_leave_it_out() -> None:
    # 0.5 WBTC (13,500 USD) and 1,000 USDX, LTV 82.5%, threshold 86%: borrowing power
    # 11,962.5 USD with both, 11,137.5 USD with USDX off; 11,200 USDX fits only the first.
    engine = pool()
    assert engine.apply(Deposit("alice", "WBTC", WBTC // 2)).accepted
    assert engine.apply(Deposit("alice", "USDX", 1_000 * USDX)).accepted
    assert engine.account_data("alice").available_borrows == 11_962_50_000_000
    assert engine.apply(SetUseAsCollateral("alice", "USDX", False)).accepted
    data = engine.account_data("alice")
    assert (data.total_collateral, data.available_borrows) == (13_500 * USD, 11_137_50_000_000)
    assert engine.apply(Borrow("alice", "USDX", 11_200 * USDX)).code \
        == "COLLATERAL_CANNOT_COVER_NEW_BORROW"
    assert engine.apply(SetUseAsCollateral("alice", "USDX", True)).accepted
    assert engine.apply(Borrow("alice", "USDX", 11_200 * USDX)).accepted
    # Switching USDX off again leaves HF 13,500 x 86% / 11,200 = 1.0366: allowed.
    out = engine.apply(SetUseAsCollateral("alice", "USDX", False))
    assert out.accepted and out.details["health_factor"] == 1_036_607_142_857_142_857
    # The scan's risk book reads the same switch (ledger.uses_as_collateral).
    assert not engine.ledger.uses_as_collateral("alice", "USDX")


def test_disable_when_zero_ltv_collateral_kept_then_ltv_validation_failed() -> None:
    # validateHFAndLtvzero runs on every switch-off, debt or not: while the account keeps a
    # zero-LTV collateral (WETH here), only that one may be switched off first. A supply
    # of a zero-LTV asset is not switched on (validateUseAsCollateral), so the account
    # holds it switched on as Aave's Pool.t.sol has it, supplied before its LTV went to 0:
    # imported as it stands.
    markets = {**MARKETS, "WETH": {**MARKETS["WETH"], "ltv": "0"}}
    engine = Engine(protocol_from_dict({"preset": "aave-v3", "markets": markets}))
    for asset, price in PRICES.items():
        assert engine.apply(SetPrice(asset, price)).accepted
    assert engine.apply(ImportAccount("alice", (("USDX", 100 * USDX), ("WETH", WETH)),
                                      ())).accepted
    assert engine.ledger.collateral_flag("alice", "WETH")
    out = engine.apply(SetUseAsCollateral("alice", "USDX", False))
    assert out.code == "LTV_VALIDATION_FAILED"
    assert out.data["zero_ltv_collateral"] == ["WETH"]
    assert engine.apply(SetUseAsCollateral("alice", "WETH", False)).accepted
    assert engine.apply(SetUseAsCollateral("alice", "USDX", False)).accepted


def test_withdraw_to_zero_when_debt_in_same_asset_then_off_and_next_supply_on() -> None:
    # executeWithdraw: a balance burned to 0 is switched off; executeSupply: the next first
    # supply switches it on. The position stays (it holds WETH debt), so the switch shows.
    engine = pool()
    assert engine.apply(Deposit("whale", "WETH", 100 * WETH)).accepted
    assert engine.apply(Deposit("alice", "USDX", 10_000 * USDX)).accepted
    assert engine.apply(Deposit("alice", "WETH", WETH)).accepted
    assert engine.apply(Borrow("alice", "WETH", WETH // 2)).accepted
    assert engine.apply(Withdraw("alice", "WETH", 2**256 - 1)).accepted
    assert engine.ledger.scaled_supply_of("alice", "WETH") == 0
    assert engine.ledger.debt_of("alice", "WETH") == WETH // 2
    assert not engine.ledger.collateral_flag("alice", "WETH")
    # No figure moves: a balance of 0 was worth nothing as collateral either way.
    assert engine.account_data("alice").total_collateral == 10_000 * USD
    assert engine.apply(Deposit("alice", "WETH", WETH)).accepted
    assert engine.ledger.collateral_flag("alice", "WETH")
    assert engine.account_data("alice").total_collateral == 11_800 * USD
    assert engine.apply(Repay("alice", "WETH", WETH // 2)).accepted


def test_replay_when_switch_logged_then_same_state_hash(tmp_path: Path) -> None:
    path = tmp_path / "switch.db"
    engine = Engine.with_log(pool().config, path)
    for asset, price in PRICES.items():
        assert engine.apply(SetPrice(asset, price)).accepted
    assert engine.apply(Deposit("alice", "USDX", 5 * USDX)).accepted
    assert engine.apply(SetUseAsCollateral("alice", "USDX", False)).accepted
    assert engine.apply(SetUseAsCollateral("alice", "USDX", True)).code is None
    assert engine.apply(SetUseAsCollateral("alice", "WBTC", True)).code \
        == "UNDERLYING_BALANCE_ZERO"
    assert engine.apply(SetUseAsCollateral("alice", "USDX", False)).accepted
    final = engine.state_hash()
    engine.close()
    replayed, report = Engine.replay(path)
    assert replayed.state_hash() == final == report.state_hash
    assert not replayed.ledger.collateral_flag("alice", "USDX")


def test_event_when_encoded_then_decodes_to_itself() -> None:
    event = SetUseAsCollateral("alice", "WETH", False)
    data = event.to_dict()
    assert data == {"type": "SetUseAsCollateral", "account": "alice", "asset": "WETH",
                    "enabled": False}
    assert event_from_dict(data) == event


@pytest.mark.parametrize(("data", "message"), [
    ({"type": "SetUseAsCollateral", "account": "alice", "asset": "WETH", "enabled": 0},
     r"^SetUseAsCollateral.enabled: must be true or false \(got 0\)"),
    ({"type": "SetUseAsCollateral", "account": "alice", "asset": "WETH"},
     r"enabled"),
])
def test_event_when_malformed_then_error_names_the_field(data: dict[str, Any],
                                                         message: str) -> None:
    with pytest.raises(EventError, match=message):
        event_from_dict(data)


def test_switch_when_unknown_asset_or_bad_account_then_refused_naming_field() -> None:
    engine = pool()
    assert engine.apply(SetUseAsCollateral("alice", "DOGE", True)).code == "UNKNOWN_ASSET"
    bad = engine.apply(SetUseAsCollateral("al ice", "USDX", True))
    assert bad.code == "INVALID_ACCOUNT_ID" and bad.data["field"] == "account"


def test_switch_when_family_is_not_aave_then_not_supported() -> None:
    engine = Engine(protocol_from_dict({"preset": "compound-v3"}))
    out = engine.apply(SetUseAsCollateral("alice", "WETH", False))
    assert out.code == "EVENT_NOT_SUPPORTED"
    assert "setUserUseReserveAsCollateral" in out.reason
