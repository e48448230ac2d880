"""``ImportAccount``: an account booked as it stands, at genesis only, with structural
checks only (engine/lending_handlers.py ``import_account``, margin/account_import.py,
ledger/imports.py).

Worked position (aave-v3 preset: WETH LTV 80.5%, threshold 83%, bonus 5%, protocol fee
10% of the bonus; WETH at 2,000 USD, USDC at 1): alice holds 4.75 WETH (9,500 USD) and
owes 8,300 USDC. Her borrowing power is 9,500 x 0.805 = 7,647.50 USD, below her debt, and
her health factor 9,500 x 0.83 / 8,300 = 7,885 / 8,300 = 0.95 exactly: no borrow could
open her, an import does.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from marginengine.config import protocol_from_dict
from marginengine.decisions import Code
from marginengine.engine import (
    GENESIS_EVENTS,
    AdvanceTime,
    Borrow,
    Deposit,
    Engine,
    ImportAccount,
    Liquidate,
    MorphoSupply,
    Repay,
    SetPrice,
    event_from_dict,
)
from marginengine.engine.snapshot import engine_from_accounts
from marginengine.errors import ConfigError, EventError
from marginengine.ledger.book_file import BookAccount
from marginengine.margin.validation import initial_shortfall
from marginengine.persistence import open_log
from tests.aave_listing import MARKETS as LISTING
from tests.aave_listing import PRICES, USDX, WBTC, WETH
from tests.conftest import ETH, USD, USDC

WAD = 10**18
PROTOCOL: dict[str, Any] = {
    "preset": "aave-v3", "markets": {"WETH": {}, "USDC": {}},
    "emode": {"categories": {"1": {
        "label": "ETH correlated", "ltv": "0.93", "liquidation_threshold": "0.95",
        "liquidation_bonus": "0.01", "collateral": ["WETH"], "borrowable": ["WETH"]}}},
}
ALICE = ImportAccount("alice", {"WETH": 475 * ETH // 100}, {"USDC": 8_300 * USDC})


def priced(protocol: dict[str, Any] | None = None, log: Path | None = None) -> Engine:
    config = protocol_from_dict(protocol or PROTOCOL)
    engine = Engine.with_log(config, log) if log else Engine(config)
    engine.apply(SetPrice("WETH", 2_000 * USD))
    engine.apply(SetPrice("USDC", USD))
    return engine


def test_import_when_health_095_then_booked_and_keeper_liquidates_all_of_it():
    engine = priced()
    engine.apply(Deposit("lender", "USDC", 100_000 * USDC))
    out = engine.apply(ALICE)
    # The lender's 100,000 USDC fund the debt: the protocol funds nothing.
    assert out.accepted and out.details == {"funded": {}}
    data = engine.account_data("alice")
    assert data.health_factor == 95 * WAD // 100
    assert (data.total_collateral, data.total_debt) == (9_500 * USD, 8_300 * USD)
    # Above borrowing power: 7,647.50 USD of initial value against 8,300 of debt.
    initial = engine.initial_account_data("alice")
    assert initial.initial_value == 7_647_50 * USD // 100
    assert initial_shortfall(engine.rules, initial)
    # The same balances by Deposit and Borrow are refused: HF would be 0.95 < 1.
    borrowed = priced()
    borrowed.apply(Deposit("lender", "USDC", 100_000 * USDC))
    borrowed.apply(Deposit("alice", "WETH", 475 * ETH // 100))
    refused = borrowed.apply(Borrow("alice", "USDC", 8_300 * USDC))
    assert refused.code == Code.HEALTH_FACTOR_LOWER_THAN_LIQUIDATION_THRESHOLD
    # The keeper's quote: at HF 0.95 the close factor is 100% (aave-dao/aave-v3-origin
    # src/contracts/protocol/libraries/logic/LiquidationLogic.sol: CLOSE_FACTOR_HF_THRESHOLD
    # = 0.95e18, "below (inclusive) which the full amount of debt becomes liquidatable";
    # debt and collateral are both above MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD, 2,000 USD).
    quote = engine.liquidation_quote("alice")
    assert quote.plan is not None and quote.plan.close_factor_bps == 10_000
    assert quote.debt_to_cover == 8_300 * USDC
    done = engine.apply(Liquidate("keeper", "alice", "USDC", "WETH", quote.debt_to_cover))
    # Seized: 8,300 USD x 1.05 / 2,000 = 4.3575 WETH. Its bonus part, 4.3575 - 8,300 /
    # 2,000 = 0.2075 WETH, pays the protocol's 10% fee: 0.02075 WETH to the treasury, and
    # 4.3575 - 0.02075 = 4.33675 WETH to the keeper. Alice keeps 4.75 - 4.3575 = 0.3925.
    assert done.details["debt_repaid"] == 8_300 * USDC
    assert done.details["collateral_to_liquidator"] == 433_675 * ETH // 100_000
    assert done.details["protocol_fee"] == 2_075 * ETH // 100_000
    assert engine.ledger.supply_of("alice", "WETH") == 3_925 * ETH // 10_000
    assert engine.ledger.debt_of("alice", "USDC") == 0
    engine.ledger.check_conservation()


def test_import_when_pool_short_then_protocol_funds_the_difference():
    # No lender: alice's 8,300 USDC are funded by the protocol (reserves), as the
    # snapshot builder funds what a book's suppliers did not provide.
    engine = priced()
    out = engine.apply(ALICE)
    assert out.details == {"funded": {"USDC": 8_300 * USDC}}
    usdc = engine.ledger.reserves["USDC"]
    assert usdc.cash == 0 and usdc.reserves_ray == 8_300 * USDC * 10**27
    # With 5,000 USDC in the pool, only the other 3,300 are funded.
    engine = priced()
    engine.apply(Deposit("lender", "USDC", 5_000 * USDC))
    assert engine.apply(ALICE).details == {"funded": {"USDC": 3_300 * USDC}}


def test_import_when_emode_then_category_set_without_health_check():
    # carol in e-mode 1: 10 WETH against 9.8 WETH of debt, HF 20,000 x 0.95 / 19,600 =
    # 0.96938...: SetUserEMode and Borrow would both refuse it.
    engine = priced()
    out = engine.apply(ImportAccount("carol", {"WETH": 10 * ETH}, {"WETH": 98 * ETH // 10},
                                     emode=1))
    assert out.accepted
    assert engine.ledger.emode_of("carol") == 1
    assert engine.account_data("carol").health_factor == 969_387_755_102_040_816


@pytest.mark.parametrize(("closing", "name"), [
    (AdvanceTime(1), "AdvanceTime"),
    (Borrow("bob", "USDC", 1_000 * USDC), "Borrow"),
])
def test_import_when_after_genesis_then_refused_and_nothing_changes(closing: Any, name: str):
    engine = priced()
    engine.apply(Deposit("lender", "USDC", 100_000 * USDC))
    engine.apply(Deposit("bob", "WETH", ETH))
    assert engine.genesis_closed_by is None  # prices and deposits keep genesis open
    assert engine.apply(closing).accepted
    assert engine.genesis_closed_by == name
    reserves = copy.deepcopy(engine.ledger.reserves)
    out = engine.apply(ALICE)
    assert not out.accepted and out.code == Code.IMPORT_AFTER_GENESIS
    assert out.data == {"closed_by": name, "account": "alice"}
    # A refused event takes a sequence number (2 prices, 2 deposits, the closing event,
    # the import) and changes nothing else.
    assert "alice" not in engine.ledger.accounts and engine.seq == 6
    assert engine.ledger.reserves == reserves


def test_genesis_when_event_refused_then_still_open():
    engine = priced()
    # A refused borrow (no such account) decided nothing: genesis stays open.
    assert not engine.apply(Borrow("nobody", "USDC", 1)).accepted
    assert engine.genesis_closed_by is None
    assert engine.apply(ALICE).accepted
    assert Deposit in GENESIS_EVENTS and Borrow not in GENESIS_EVENTS


@pytest.mark.parametrize(("event", "field", "message"), [
    (ImportAccount("a b", {"WETH": 1}), "account",
     "account: account id must be 1-64 letters, digits or . _ : @ -, optionally /label for "
     "an isolated sub-account (got 'a b')"),
    (ImportAccount("bob", {"DOGE": 1}), "supplied.DOGE",
     "supplied.DOGE: unknown asset 'DOGE' (markets: USDC, WETH)"),
    (ImportAccount("bob", {"WETH": 0}), "supplied.WETH",
     "supplied.WETH: must be positive (got 0)"),
    (ImportAccount("bob", {"WETH": ETH}, {"USDC": -5}), "borrowed.USDC",
     "borrowed.USDC: must be positive (got -5)"),
    (ImportAccount("bob", {"WETH": 2**256}), "supplied.WETH",
     "supplied.WETH: too large (more than 2**256 - 1 smallest units)"),
    (ImportAccount("bob"), "supplied",
     "supplied: nothing to import: give a supplied or a borrowed balance"),
    (ImportAccount("bob", {"WETH": ETH}, emode=4), "emode",
     "emode: unknown e-mode category 4 (categories: 1)"),
    (ImportAccount("bob", {"WETH": ETH}, {"USDC": USDC}, emode=1), "borrowed.USDC",
     "borrowed.USDC: USDC is not borrowable in e-mode category 1"),
])
def test_import_when_malformed_then_invalid_import_names_the_field(
        event: ImportAccount, field: str, message: str):
    engine = priced()
    out = engine.apply(event)
    assert not out.accepted and out.code == Code.INVALID_IMPORT
    assert out.data["field"] == field and out.reason == message
    assert event.account not in engine.ledger.accounts


def test_import_when_account_held_then_refused_naming_account():
    engine = priced()
    engine.apply(Deposit("alice", "WETH", ETH))
    out = engine.apply(ALICE)
    assert out.code == Code.INVALID_IMPORT and out.data["field"] == "account"
    assert engine.ledger.supply_of("alice", "WETH") == ETH  # the deposit alone
    # ... and an account is imported once.
    assert engine.apply(ImportAccount("bob", {"WETH": ETH})).accepted
    assert engine.apply(ImportAccount("bob", {"USDC": USDC})).data["field"] == "account"


def test_import_when_comet_supplies_and_borrows_base_then_refused():
    # Comet's base balance is signed: an account supplies USDC or owes it, not both.
    engine = priced({"preset": "compound-v3", "markets": {"USDC": {}, "WETH": {}}})
    out = engine.apply(ImportAccount("bob", {"WETH": ETH, "USDC": USDC}, {"USDC": USDC}))
    assert out.code == Code.INVALID_IMPORT and out.data["field"] == "borrowed.USDC"
    assert engine.apply(ImportAccount("bob", {"WETH": ETH}, {"USDC": 1_900 * USDC})).accepted


def test_import_when_family_has_isolated_markets_then_not_supported():
    engine = Engine(protocol_from_dict({"preset": "morpho-blue"}))
    out = engine.apply(ImportAccount("bob", {"WETH": 1}))
    assert out.code == Code.EVENT_NOT_SUPPORTED
    assert MorphoSupply.__name__ in (out.reason or "")


@pytest.mark.parametrize(("data", "message"), [
    ({"type": "ImportAccount", "account": "a", "supplied": {"WETH": 1.5}},
     r"^ImportAccount\.supplied\.WETH: must be an integer in smallest units \(got 1\.5\)$"),
    ({"type": "ImportAccount", "account": "a", "borrowed": [["USDC", 1], ["USDC", 2]]},
     r"^ImportAccount\.borrowed\.USDC: given twice$"),
    ({"type": "ImportAccount", "account": "a", "supplied": "WETH=1"},
     r"^ImportAccount\.supplied: must be a table of asset -> amount"),
    ({"type": "ImportAccount", "account": "a", "emode": 256},
     r"^ImportAccount\.emode: must be an e-mode category id within 0 and 255"),
])
def test_import_event_when_malformed_then_event_error_names_field(data: dict[str, Any],
                                                                  message: str):
    with pytest.raises(EventError, match=message):
        event_from_dict(data)


def test_import_when_logged_then_json_round_trip_and_replay_same_state_hash(tmp_path: Path):
    log = tmp_path / "events.sqlite"
    engine = priced(log=log)
    engine.apply(Deposit("lender", "USDC", 100_000 * USDC))
    engine.apply(ALICE)
    engine.apply(ImportAccount("carol", {"WETH": 10 * ETH}, {"WETH": 9 * ETH}, emode=1))
    engine.apply(ImportAccount("bad", {"DOGE": 1}))          # refused: INVALID_IMPORT
    engine.apply(AdvanceTime(3_600))
    engine.apply(ImportAccount("late", {"WETH": ETH}))       # refused: after genesis
    quote = engine.liquidation_quote("alice")
    engine.apply(Liquidate("keeper", "alice", "USDC", "WETH", quote.debt_to_cover))
    expected = engine.state_hash()
    engine.close()
    # The log holds the balances as tables (docs/formats.md).
    store = open_log(log)
    records = [row.record for row in store.read()]
    store.close()
    assert records[3]["event"] == {"type": "ImportAccount", "account": "alice",
                                   "supplied": {"WETH": 4_750_000_000_000_000_000},
                                   "borrowed": {"USDC": 8_300_000_000}, "emode": 0}
    assert records[5]["code"] == "INVALID_IMPORT"
    assert records[5]["data"]["field"] == "supplied.DOGE"
    assert records[7]["code"] == "IMPORT_AFTER_GENESIS"
    assert event_from_dict(json.loads(json.dumps(records[3]["event"]))) == ALICE
    replayed, report = Engine.replay(log)
    assert report.events == 9 and report.state_hash == expected
    assert replayed.genesis_closed_by == "AdvanceTime"
    assert replayed.ledger.debt_of("carol", "WETH") > 9 * ETH  # an hour of interest


def test_imports_when_hashed_then_genesis_part_only_once_imported():
    plain, imported = priced(), priced()
    plain.apply(Deposit("lender", "USDC", USDC))
    assert "genesis" not in plain.state.hash_parts()  # logs without imports: same hash
    imported.apply(ImportAccount("lender", {"USDC": USDC}))
    assert imported.state.hash_parts()["genesis"] == {"imported": 1, "closed_by": None}
    # Same ledger either way; the hash tells them apart by the imports.
    assert plain.ledger.supply_of("lender", "USDC") == imported.ledger.supply_of(
        "lender", "USDC")
    assert plain.state_hash() != imported.state_hash()


def test_engine_from_accounts_when_under_margin_then_held_as_it_stands():
    config = protocol_from_dict(PROTOCOL)
    prices = {"WETH": 2_000 * USD, "USDC": USD}
    engine = engine_from_accounts(config, prices, [
        BookAccount("alice", {"WETH": 475 * ETH // 100}, {"USDC": 8_300 * USDC})])
    assert engine.account_data("alice").health_factor == 95 * WAD // 100
    assert engine.ledger.reserves["USDC"].reserves_ray == 8_300 * USDC * 10**27
    # The same rule as the event: one engine by events, one by the builder, same ledger.
    by_event = priced()
    by_event.apply(ALICE)
    assert by_event.ledger.accounts["alice"] == engine.ledger.accounts["alice"]
    assert by_event.ledger.reserves == engine.ledger.reserves


def test_engine_from_accounts_when_malformed_then_field_named():
    config = protocol_from_dict(PROTOCOL)
    with pytest.raises(ConfigError) as info:
        engine_from_accounts(config, {"WETH": 2_000 * USD}, [
            BookAccount("alice", {"WETH": 0}),
            BookAccount("carol", {"WETH": ETH}, {"USDC": USDC}, emode=1),
            BookAccount("carol", {"WETH": ETH})])
    assert info.value.problems == [
        "accounts.0.supplied.WETH: must be positive (got 0)",
        "accounts.1.borrowed.USDC: USDC is not borrowable in e-mode category 1",
        "accounts.2.id: duplicate account id 'carol'"]


def _isolating(preset: str, log: Path | None = None) -> Engine:
    # aave_listing's market with WBTC isolated (setDebtCeiling(wbtc, 10_000_00) cents) and
    # USDX borrowable in isolation, as test_aave_isolation_vectors' pool.
    markets = {**LISTING, "WBTC": {**LISTING["WBTC"], "debt_ceiling": "10000"},
               "USDX": {**LISTING["USDX"], "borrowable_in_isolation": True}}
    config = protocol_from_dict({"preset": preset, "markets": markets})
    engine = Engine.with_log(config, log) if log else Engine(config)
    for asset, price in PRICES.items():
        assert engine.apply(SetPrice(asset, price)).accepted
    assert engine.apply(Deposit("carol", "USDX", 100_000 * USDX)).accepted
    return engine


@pytest.mark.parametrize("preset", ["aave-v3.3", "aave-v3.5"])
def test_import_when_isolated_collateral_and_debt_then_counts_against_ceiling(
        preset: str, tmp_path: Path):
    log = tmp_path / "events.sqlite"
    engine = _isolating(preset, log)
    # 10,000.009999 USDX in cents, floored: 10,000,009,999 // 10**(6 - 2) = 1,000,000,
    # the whole ceiling (IsolationModeLogic's convertToIsolatedDebtUnits).
    out = engine.apply(ImportAccount("bob", {"WBTC": WBTC}, {"USDX": 10_000_009_999}))
    assert out.accepted and out.details["isolation_mode_total_debt"] == 1_000_000
    assert engine.ledger.reserves["WBTC"].isolation_mode_total_debt == 1_000_000
    # 0.009999 USDX floors to 0 cents; an account with two collateral is not isolated.
    assert engine.apply(ImportAccount("dan", {"WBTC": WBTC}, {"USDX": 9_999})).accepted
    assert engine.apply(ImportAccount("eve", {"WBTC": WBTC, "WETH": WETH},
                                      {"USDX": 1_000 * USDX})).accepted
    assert engine.ledger.reserves["WBTC"].isolation_mode_total_debt == 1_000_000
    # The ceiling holds the import as it holds a borrow: 1 USDX more (100 cents) is above.
    refused = engine.apply(Borrow("bob", "USDX", USDX))
    assert refused.code == Code.DEBT_CEILING_EXCEEDED
    assert refused.data == {"isolated": "WBTC", "total": 1_000_100, "ceiling": 1_000_000}
    # Repaying 5,000 USDX takes 500,000 cents off, as after a borrow.
    assert engine.apply(Repay("bob", "USDX", 5_000 * USDX)).accepted
    assert engine.ledger.reserves["WBTC"].isolation_mode_total_debt == 500_000
    expected = engine.state_hash()
    engine.close()
    replayed, report = Engine.replay(log)
    assert report.state_hash == expected
    assert replayed.ledger.reserves["WBTC"].isolation_mode_total_debt == 500_000
    # The snapshot builder books by the same rule.
    built = engine_from_accounts(replayed.config, PRICES, [
        BookAccount("bob", {"WBTC": WBTC}, {"USDX": 10_000_009_999})])
    assert built.ledger.reserves["WBTC"].isolation_mode_total_debt == 1_000_000

