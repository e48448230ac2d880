"""Aave v3.3/v3.5 isolation mode, siloed borrowing and the automatic collateral switch,
reproduced through the engine on Aave's own test listing (:mod:`tests.aave_listing`).

Sources: aave-dao/aave-v3-origin@v3.5.0 (6138e1fda45884b6547d094a1ddeef43dcab4977)
``tests/protocol/pool/Pool.Borrow.t.sol`` (``test_borrow_variable_in_isolation``,
``test_reverts_borrow_not_borrowable_isolation``, ``test_reverts_borrow_DebtCeilingExceeded``,
``test_reverts_borrow_sioled_borrowing_violation``), ``Pool.Repay.t.sol``
(``test_full_repay_borrow_variable_in_isolation``,
``test_partial_repay_borrow_variable_in_isolation``), ``Pool.t.sol``
(``test_reverts_setUserUseReserveAsCollateral_true_user_isolation_mode``),
``Pool.Liquidations.t.sol`` (``test_liquidate_isolated_position``); the rules in
``src/contracts/protocol/libraries/logic/IsolationModeLogic.sol`` (``convertToIsolatedDebtUnits``,
``updateIsolatedDebt``), ``ValidationLogic.sol`` (``validateUseAsCollateral``,
``validateAutomaticUseAsCollateral``, ``validateBorrow``) and
``configuration/UserConfiguration.sol`` (``getIsolationModeState``,
``getSiloedBorrowingState``); v3.3.0 (5431379f) for v3.3's order. v3.7 removed both
features (@4fbd7442 ``docs/3.7/mode-removal.md``); its first supply is switched on when
``getUserReserveLtv`` is not 0 (``SupplyLogic.executeSupply``).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marginengine.config import protocol_from_dict
from marginengine.engine import (
    AdvanceTime,
    Borrow,
    Deposit,
    Engine,
    Liquidate,
    Repay,
    SetPrice,
    SetUseAsCollateral,
)
from marginengine.errors import ConfigError
from tests.aave_listing import MARKETS, PRICES, USD, USDX, WBTC, WETH

ISOLATING = ["aave-v3.3", "aave-v3.5"]


def _pool(preset: str = "aave-v3.5", ceiling: str = "10000", borrowable: bool = True,
          aave: dict[str, Any] | None = None, **markets: dict[str, Any]) -> Engine:
    # setDebtCeiling(wbtc, 10_000_00) (cents) and setBorrowableInIsolation(usdx, true).
    listing = {**MARKETS,
               "WBTC": {**MARKETS["WBTC"], "debt_ceiling": ceiling},
               "USDX": {**MARKETS["USDX"], "borrowable_in_isolation": borrowable}}
    for name, changes in markets.items():
        listing[name] = {**listing[name], **changes}
    engine = Engine(protocol_from_dict({"preset": preset, "markets": listing,
                                        "aave": aave or {}}))
    for asset, price in PRICES.items():
        assert engine.apply(SetPrice(asset, price)).accepted
    assert engine.apply(Deposit("carol", "USDX", 100_000 * USDX)).accepted
    return engine


def _isolated_alice(engine: Engine) -> None:
    # supply 0.5 WBTC: not switched on (validateAutomaticUseAsCollateral: no
    # ISOLATED_COLLATERAL_SUPPLIER_ROLE); setUserUseReserveAsCollateral(wbtc, true).
    assert engine.apply(Deposit("alice", "WBTC", WBTC // 2)).accepted
    assert not engine.ledger.collateral_flag("alice", "WBTC")
    assert engine.account_data("alice").total_collateral == 0
    assert engine.apply(SetUseAsCollateral("alice", "WBTC", True)).accepted


def _total(engine: Engine) -> int:
    return engine.ledger.reserves["WBTC"].isolation_mode_total_debt


@pytest.mark.parametrize("preset", ISOLATING)
def test_borrow_when_isolated_then_total_debt_counts_cents(preset: str) -> None:
    # test_borrow_variable_in_isolation / the Repay tests' IsolationModeTotalDebtUpdated
    # (wbtc, 100_00): 100 USDX borrowed is 10,000 cents.
    engine = _pool(preset)
    _isolated_alice(engine)
    out = engine.apply(Borrow("alice", "USDX", 100 * USDX))
    assert out.accepted and out.details["isolation_mode_total_debt"] == 100_00
    assert _total(engine) == 100_00
    # convertToIsolatedDebtUnits floors: 0.009999 USDX more counts 0 cents.
    assert engine.apply(Borrow("alice", "USDX", 9_999)).accepted
    assert _total(engine) == 100_00


@pytest.mark.parametrize("preset", ISOLATING)
def test_borrow_when_asset_not_borrowable_in_isolation_then_refused(preset: str) -> None:
    # test_reverts_borrow_not_borrowable_isolation
    engine = _pool(preset, borrowable=False)
    _isolated_alice(engine)
    out = engine.apply(Borrow("alice", "USDX", 100 * USDX))
    assert out.code == "ASSET_NOT_BORROWABLE_IN_ISOLATION"
    assert out.data == {"account": "alice", "asset": "USDX", "isolated": "WBTC"}
    assert _total(engine) == 0 and engine.ledger.debt_of("alice", "USDX") == 0


@pytest.mark.parametrize("preset", ISOLATING)
def test_borrow_when_debt_ceiling_exceeded_then_refused_and_the_ceiling_itself_fits(
        preset: str) -> None:
    # test_reverts_borrow_DebtCeilingExceeded: 10,001 USDX against a ceiling of 10,000.00
    # USD (13,500 USD of WBTC at LTV 82.5% would cover it).
    engine = _pool(preset)
    _isolated_alice(engine)
    out = engine.apply(Borrow("alice", "USDX", 10_001 * USDX))
    assert out.code == "DEBT_CEILING_EXCEEDED"
    assert out.data == {"isolated": "WBTC", "total": 1_000_100, "ceiling": 1_000_000}
    assert out.reason == ("debt against isolated WBTC would reach 10,001.00 USD, above its "
                          "debt ceiling of 10,000.00 USD")
    # 10,000.009999 USDX floors to exactly 1,000,000 cents: at the ceiling, accepted.
    assert engine.apply(Borrow("alice", "USDX", 10_000 * USDX + 9_999)).accepted
    assert _total(engine) == 1_000_000
    assert engine.apply(Borrow("alice", "USDX", 10**4)).code == "DEBT_CEILING_EXCEEDED"


@pytest.mark.parametrize("preset", ISOLATING)
def test_borrow_when_refused_after_the_ceiling_check_then_total_unchanged(preset: str) -> None:
    # 11,500 USDX fits a ceiling of 12,000.00 but not the borrowing power of 0.5 WBTC
    # (13,500 x 82.5% = 11,137.5 USD): COLLATERAL_CANNOT_COVER_NEW_BORROW after v3.5's
    # increaseIsolatedDebtIfIsolated; the refusal undoes the increase.
    engine = _pool(preset, ceiling="12000")
    _isolated_alice(engine)
    out = engine.apply(Borrow("alice", "USDX", 11_500 * USDX))
    assert out.code == "COLLATERAL_CANNOT_COVER_NEW_BORROW"
    assert _total(engine) == 0


@pytest.mark.parametrize("preset", ISOLATING)
def test_repay_when_isolated_then_total_falls_full_and_partial(preset: str) -> None:
    # test_partial_repay_borrow_variable_in_isolation: half of 100 USDX repaid, 100_00 -
    # 50e6 / 10**(6 - 2) = 50_00; test_full_repay_...: type(uint256).max repays to 0.
    engine = _pool(preset)
    _isolated_alice(engine)
    assert engine.apply(Borrow("alice", "USDX", 100 * USDX)).accepted
    assert engine.apply(Repay("alice", "USDX", 50 * USDX)).accepted
    assert _total(engine) == 50_00
    assert engine.apply(Repay("alice", "USDX", 2**256 - 1)).accepted
    assert _total(engine) == 0


def test_repay_when_more_than_recorded_then_total_saturates_at_zero() -> None:
    # updateIsolatedDebt: "the debt ceiling does not take into account the interest
    # accrued": two borrows of 50.005 USDX count 5,000 cents each (floored), the debt of
    # 100.01 USDX repaid counts 10,001 > 10,000, so the total goes to 0, not below.
    engine = _pool()
    _isolated_alice(engine)
    for _ in range(2):
        assert engine.apply(Borrow("alice", "USDX", 50_005_000)).accepted
    assert _total(engine) == 100_00
    assert engine.apply(Repay("alice", "USDX", 100_010_000)).details == {"repaid": 100_010_000}
    assert _total(engine) == 0
    # With interest: a year at the listing's rates, the whole debt repaid, again 0.
    assert engine.apply(Borrow("alice", "USDX", 1_000 * USDX)).accepted
    assert engine.apply(AdvanceTime(365 * 86_400)).accepted
    debt = engine.ledger.debt_of("alice", "USDX")
    assert debt > 1_000 * USDX
    assert engine.apply(Repay("alice", "USDX", debt)).accepted
    assert _total(engine) == 0


@pytest.mark.parametrize("preset", ISOLATING)
def test_enable_when_in_isolation_mode_then_user_in_isolation_mode_or_ltv_zero(
        preset: str) -> None:
    # test_reverts_setUserUseReserveAsCollateral_true_user_isolation_mode: USDX supplied and
    # switched off, WBTC (ceiling 100.00 USD) switched on, 10 USDX borrowed; USDX on again
    # is refused.
    engine = _pool(preset, ceiling="100")
    assert engine.apply(Deposit("alice", "USDX", 1 * USDX)).accepted
    assert engine.apply(SetUseAsCollateral("alice", "USDX", False)).accepted
    _isolated_alice(engine)
    assert engine.apply(Borrow("alice", "USDX", 10 * USDX)).accepted
    out = engine.apply(SetUseAsCollateral("alice", "USDX", True))
    assert out.code == "USER_IN_ISOLATION_MODE_OR_LTV_ZERO"
    assert out.reason == ("USDX cannot join WBTC: alice is in isolation mode: it cannot be "
                          "switched on as collateral")
    # The isolated asset cannot join other collateral either (validateUseAsCollateral:
    # getDebtCeiling() == 0 is required once any collateral is on).
    assert engine.apply(Deposit("bob", "WETH", WETH)).accepted
    assert engine.apply(Deposit("bob", "WBTC", WBTC // 2)).accepted
    out = engine.apply(SetUseAsCollateral("bob", "WBTC", True))
    assert out.code == "USER_IN_ISOLATION_MODE_OR_LTV_ZERO"
    assert out.data["collateral"] == ["WETH"]
    # A first supply next to the isolated collateral is not switched on.
    assert engine.apply(Deposit("alice", "WETH", WETH)).accepted
    assert not engine.ledger.collateral_flag("alice", "WETH")


def test_first_supply_when_role_holder_then_isolated_on_only_without_other_collateral() -> None:
    # validateAutomaticUseAsCollateral: a sender with ISOLATED_COLLATERAL_SUPPLIER_ROLE
    # passes the gate, then validateUseAsCollateral: on only with no collateral yet.
    engine = _pool(aave={"isolated_collateral_suppliers": ["alice", "bob"]})
    assert engine.apply(Deposit("alice", "WBTC", WBTC // 2)).accepted
    assert engine.ledger.collateral_flag("alice", "WBTC")
    assert engine.apply(Borrow("alice", "USDX", 100 * USDX)).accepted
    assert _total(engine) == 100_00
    assert engine.apply(Deposit("bob", "WETH", WETH)).accepted
    assert engine.apply(Deposit("bob", "WBTC", WBTC // 2)).accepted
    assert not engine.ledger.collateral_flag("bob", "WBTC")


@pytest.mark.parametrize("preset", ["aave-v3.3", "aave-v3.5", "aave-v3.7"])
def test_first_supply_when_ltv_zero_then_not_switched_on(preset: str) -> None:
    # validateUseAsCollateral: getLtv() == 0 (v3.7: getUserReserveLtv) is never switched on.
    markets = {**MARKETS, "WETH": {**MARKETS["WETH"], "ltv": "0"}}
    engine = Engine(protocol_from_dict({"preset": preset, "markets": markets}))
    assert engine.apply(Deposit("alice", "WETH", WETH)).accepted
    assert engine.apply(Deposit("alice", "USDX", USDX)).accepted
    assert (engine.ledger.collateral_flag("alice", "WETH"),
            engine.ledger.collateral_flag("alice", "USDX")) == (False, True)


@pytest.mark.parametrize("preset", ["aave-v3.5", "aave-v3.7"])
def test_liquidate_isolated_position_then_total_debt_zero(preset: str) -> None:
    # test_liquidate_isolated_position: ceiling 12,000.00 USD, 11,000 USDX borrowed on
    # 0.5 WBTC, WBTC down 12% (23,760 USD: HF 11,880 x 86% / 11,000 = 0.9288, close factor
    # 100%), liquidated with type(uint256).max: all 11,000 USDX repaid, total 0.
    if preset == "aave-v3.5":
        engine = _pool(preset, ceiling="12000")
        _isolated_alice(engine)
    else:       # v3.7 has no isolation mode: the same position without the ceiling
        engine = Engine(protocol_from_dict({"preset": preset, "markets": MARKETS}))
        for asset, price in PRICES.items():
            assert engine.apply(SetPrice(asset, price)).accepted
        assert engine.apply(Deposit("carol", "USDX", 100_000 * USDX)).accepted
        assert engine.apply(Deposit("alice", "WBTC", WBTC // 2)).accepted
    assert engine.apply(Borrow("alice", "USDX", 11_000 * USDX)).accepted
    assert engine.ledger.reserves["WBTC"].isolation_mode_total_debt == (
        1_100_000 if preset == "aave-v3.5" else 0)
    assert engine.apply(SetPrice("WBTC", 23_760 * USD)).accepted
    assert engine.apply(Deposit("bob", "USDX", 1)).accepted
    out = engine.apply(Liquidate("bob", "alice", "USDX", "WBTC", 2**256 - 1, True))
    assert out.accepted and out.details["debt_repaid"] == 11_000 * USDX
    assert _total(engine) == 0
    # The liquidator's aTokens: v3.5's _liquidateATokens asks
    # validateAutomaticUseAsCollateral (WBTC isolated, bob without the role: off); v3.7
    # never switches received aTokens on.
    assert engine.ledger.collateral_flag("bob", "WBTC") is False
    engine.ledger.check_conservation()


@pytest.mark.parametrize(("preset", "on"), [("aave-v3.3", True), ("aave-v3.5", True),
                                            ("aave-v3.7", False)])
def test_liquidator_receiving_atokens_when_version_then_switched_on_as_it_has(
        preset: str, on: bool) -> None:
    # v3.3/v3.5 _liquidateATokens: an empty balance received is switched on when
    # validateAutomaticUseAsCollateral allows (no other collateral, WBTC not isolated);
    # v3.6+ removed it (docs/3.6/Aave-v3.6-features.md "Liquidate aTokens").
    engine = Engine(protocol_from_dict({"preset": preset, "markets": MARKETS}))
    for asset, price in PRICES.items():
        assert engine.apply(SetPrice(asset, price)).accepted
    assert engine.apply(Deposit("carol", "USDX", 100_000 * USDX)).accepted
    assert engine.apply(Deposit("alice", "WBTC", WBTC // 2)).accepted
    assert engine.apply(Borrow("alice", "USDX", 11_000 * USDX)).accepted
    assert engine.apply(SetPrice("WBTC", 23_760 * USD)).accepted
    assert engine.apply(Deposit("bob", "USDX", 1)).accepted
    assert engine.apply(SetUseAsCollateral("bob", "USDX", False)).accepted
    assert engine.apply(Liquidate("bob", "alice", "USDX", "WBTC", 2**256 - 1, True)).accepted
    assert engine.ledger.collateral_flag("bob", "WBTC") is on


@pytest.mark.parametrize("preset", ISOLATING)
def test_borrow_when_siloed_asset_owed_then_nothing_else(preset: str) -> None:
    # test_reverts_borrow_sioled_borrowing_violation: carol supplies 100 WBTC and 100 WETH,
    # WBTC is siloed; alice (10 WETH) borrows 0.01 WBTC, then 1 WETH is refused.
    listing = {**MARKETS, "WBTC": {**MARKETS["WBTC"], "siloed_borrowing": True}}
    engine = Engine(protocol_from_dict({"preset": preset, "markets": listing}))
    for asset, price in PRICES.items():
        assert engine.apply(SetPrice(asset, price)).accepted
    assert engine.apply(Deposit("carol", "WBTC", 100 * WBTC)).accepted
    assert engine.apply(Deposit("carol", "WETH", 100 * WETH)).accepted
    assert engine.apply(Deposit("carol", "USDX", 100_000 * USDX)).accepted
    assert engine.apply(Deposit("alice", "WETH", 10 * WETH)).accepted
    assert engine.apply(Borrow("alice", "WBTC", WBTC // 100)).accepted
    out = engine.apply(Borrow("alice", "WETH", WETH))
    assert out.code == "SILOED_BORROWING_VIOLATION"
    assert out.data == {"account": "alice", "asset": "WETH", "siloed": "WBTC"}
    assert engine.apply(Borrow("alice", "WBTC", WBTC // 100)).accepted  # more of the same
    # The other way: owing USDX, a siloed asset may not be added.
    assert engine.apply(Deposit("dave", "WETH", 10 * WETH)).accepted
    assert engine.apply(Borrow("dave", "USDX", 100 * USDX)).accepted
    out = engine.apply(Borrow("dave", "WBTC", WBTC // 100))
    assert out.code == "SILOED_BORROWING_VIOLATION"
    assert out.data["borrowed"] == ["USDX"]


def test_order_when_ceiling_and_silo_both_fail_then_each_version_names_its_first() -> None:
    # v3.3 validateBorrow: isolation mode after the cap, siloed borrowing last; v3.5:
    # siloed borrowing in validateBorrow, isolation only after the mint
    # (increaseIsolatedDebtIfIsolated). alice, isolated on WBTC (ceiling 100.00), owes
    # 50 USDX (siloed, 5,000 cents) and asks 60 WETH (6,000 cents: a token counts 100
    # cents whatever its price), beyond the ceiling and the silo at once.
    codes = {}
    for preset in ISOLATING:
        engine = _pool(preset, ceiling="100", USDX={"siloed_borrowing": True},
                       WETH={"borrowable_in_isolation": True})
        assert engine.apply(Deposit("carol", "WETH", 100 * WETH)).accepted
        _isolated_alice(engine)
        assert engine.apply(Borrow("alice", "USDX", 50 * USDX)).accepted
        assert _total(engine) == 50_00
        codes[preset] = engine.apply(Borrow("alice", "WETH", 60 * WETH)).code
        assert _total(engine) == 50_00       # a refusal changes nothing
    assert codes == {"aave-v3.3": "DEBT_CEILING_EXCEEDED",
                     "aave-v3.5": "SILOED_BORROWING_VIOLATION"}


@pytest.mark.parametrize(("field", "value", "message"), [
    ("debt_ceiling", "1000", "markets.WBTC.debt_ceiling: aave-v3 has no isolation mode"),
    ("borrowable_in_isolation", True,
     "markets.WBTC.borrowable_in_isolation: aave-v3 has no isolation mode"),
    ("siloed_borrowing", True, "markets.WBTC.siloed_borrowing: aave-v3 has no isolation"),
])
def test_config_when_v3_7_then_isolation_fields_refused_naming_them(
        field: str, value: object, message: str) -> None:
    listing = {**MARKETS, "WBTC": {**MARKETS["WBTC"], field: value}}
    with pytest.raises(ConfigError, match=message):
        protocol_from_dict({"preset": "aave-v3", "markets": listing})


@pytest.mark.parametrize(("changes", "message"), [
    ({"WBTC": {"debt_ceiling": "0.001"}},
     r"markets\.WBTC\.debt_ceiling: Aave stores the debt ceiling with 2 decimals"),
    ({"WBTC": {"debt_ceiling": "10995116277.76"}},
     r"markets\.WBTC\.debt_ceiling: at most 10995116277\.75"),
    ({"WBTC": {"debt_ceiling": "-1"}}, r"markets\.WBTC\.debt_ceiling"),
    ({"WBTC": {"debt_ceiling": "100"}, "USDX": {"decimals": 1, "borrowable_in_isolation": True}},
     r"markets\.USDX\.borrowable_in_isolation: USDX has 1 decimals"),
])
def test_config_when_ceiling_malformed_then_refused_naming_the_field(
        changes: dict[str, dict[str, Any]], message: str) -> None:
    listing = {name: {**m, **changes.get(name, {})} for name, m in MARKETS.items()}
    with pytest.raises(ConfigError, match=message):
        protocol_from_dict({"preset": "aave-v3.5", "markets": listing})


def test_config_when_role_on_v3_7_then_refused() -> None:
    with pytest.raises(ConfigError, match="aave.isolated_collateral_suppliers: aave-v3 has no "
                                          "ISOLATED_COLLATERAL_SUPPLIER_ROLE"):
        protocol_from_dict({"preset": "aave-v3", "markets": MARKETS,
                            "aave": {"isolated_collateral_suppliers": ["alice"]}})


@pytest.mark.parametrize(("suppliers", "message"), [
    (["alice", "bad id!"], "aave.isolated_collateral_suppliers.1: account id must be 1-64 "
                           "letters, digits or . _ : @ -"),
    ([""], "aave.isolated_collateral_suppliers.0: account id must be"),
    (["alice", "alice"], "aave.isolated_collateral_suppliers.1: 'alice' is given twice "
                         "(entries 0 and 1)"),
])
def test_config_when_role_holder_malformed_then_refused_naming_the_entry(
        suppliers: list[str], message: str) -> None:
    # An id no account can have (or one listed twice) was accepted: the role then never
    # applied to the account meant, silently.
    with pytest.raises(ConfigError, match=re.escape(message)):
        protocol_from_dict({"preset": "aave-v3.5", "markets": MARKETS,
                            "aave": {"isolated_collateral_suppliers": suppliers}})


@settings(max_examples=30, deadline=None)
@given(steps=st.lists(st.tuples(st.booleans(), st.integers(1, 3_000 * USDX)), min_size=1,
                      max_size=12))
def test_isolated_total_when_random_borrows_and_repays_then_within_ceiling_and_the_sum(
        steps: list[tuple[bool, int]]) -> None:
    # Each accepted borrow adds its floored cents, each repayment takes its floored cents
    # off, saturating at 0: the total stays within [0, ceiling] and equals that running
    # sum; the books balance after every event.
    engine = _pool(ceiling="10000")
    _isolated_alice(engine)
    expected = 0
    for borrow, amount in steps:
        if borrow:
            out = engine.apply(Borrow("alice", "USDX", amount))
            if out.accepted:
                expected += amount // 10**4
        else:
            out = engine.apply(Repay("alice", "USDX", amount))
            if out.accepted:
                expected = max(expected - out.details["repaid"] // 10**4, 0)
        assert 0 <= _total(engine) <= 1_000_000
        assert _total(engine) == expected
    engine.ledger.check_conservation()
