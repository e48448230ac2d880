"""The snapshot builder (engine/snapshot.py): ``engine_from_accounts``, the validated-integers
part that snapshots and scanned books both go through, against ``engine_from_snapshot``."""

from __future__ import annotations

from typing import Any

import pytest

from marginengine.config import protocol_from_dict
from marginengine.engine.snapshot import BOOK, engine_from_accounts, engine_from_snapshot
from marginengine.errors import ConfigError
from marginengine.ledger.book_file import BookAccount

USD, ETH, USDC = 10**8, 10**18, 10**6
RAY = 10**27
PROTOCOL: dict[str, Any] = {
    "preset": "aave-v3", "markets": {"WETH": {}, "USDC": {}},
    "perps": {"ETH-PERP": {"preset": "dydx-v4", "base_decimals": 18}},
    "emode": {"categories": {"1": {
        "label": "ETH correlated", "ltv": "0.93", "liquidation_threshold": "0.95",
        "liquidation_bonus": "0.01", "collateral": ["WETH"], "borrowable": ["WETH"]}}},
}
SNAPSHOT: dict[str, Any] = {
    "protocol": PROTOCOL,
    "prices": {"WETH": "2000", "USDC": "1", "ETH-PERP": "2000"},
    "accounts": [
        {"id": "alice", "supplied": {"WETH": "10"}, "borrowed": {"USDC": "15000"}},
        {"id": "bob", "supplied": {"USDC": "5000"}, "quote": "5000",
         "positions": {"ETH-PERP": {"size": "-2", "entry": "2100"}}},
        {"id": "carol", "supplied": {"WETH": "10"}, "borrowed": {"WETH": "9"}, "emode": 1},
    ],
}


def accounts() -> list[BookAccount]:
    """SNAPSHOT's accounts in smallest units."""
    return [
        BookAccount("alice", {"WETH": 10 * ETH}, {"USDC": 15_000 * USDC}),
        BookAccount("bob", {"USDC": 5_000 * USDC}, quote=5_000 * USDC,
                    positions={"ETH-PERP": (-2 * ETH, 2_100 * USD)}),
        BookAccount("carol", {"WETH": 10 * ETH}, {"WETH": 9 * ETH}, emode=1),
    ]


def prices() -> dict[str, int]:
    return {"WETH": 2_000 * USD, "USDC": USD, "ETH-PERP": 2_000 * USD}


def test_engine_from_accounts_when_same_balances_then_same_state_as_snapshot():
    config = protocol_from_dict(PROTOCOL)
    built = engine_from_accounts(config, prices(), accounts())
    assert built.state_hash() == engine_from_snapshot(SNAPSHOT).state_hash()


def test_engine_from_accounts_when_borrowers_owe_more_than_supplied_then_protocol_funds():
    engine = engine_from_accounts(protocol_from_dict(PROTOCOL), prices(), accounts())
    ledger = engine.ledger
    # USDC: alice owes 15,000, bob supplied 5,000: the protocol funds 10,000, all lent out.
    usdc = ledger.reserves["USDC"]
    assert usdc.cash == 0
    assert usdc.reserves_ray == 10_000 * USDC * RAY
    # WETH: 20 supplied, carol borrows 9: no funding, 11 left in the pool.
    assert ledger.reserves["WETH"].cash == 11 * ETH
    assert ledger.reserves["WETH"].reserves_ray == 0
    assert ledger.debt_of("alice", "USDC") == 15_000 * USDC
    # carol in e-mode 1: 20,000 x 95% / 18,000 (test_emode_books' worked figure).
    assert ledger.emode_of("carol") == 1
    assert engine.account_data("carol").health_factor == 1_055_555_555_555_555_555
    # bob's short of 2 at 2,100 against the counterparty: sizes sum to zero.
    assert ledger.accounts["bob"].perps["ETH-PERP"].size == -2 * ETH
    assert ledger.accounts[BOOK].perps["ETH-PERP"].size == 2 * ETH
    assert ledger.accounts["bob"].perp_quote == 5_000 * USDC + 4_200 * USDC


def test_engine_from_accounts_when_price_refused_then_field_named():
    config = protocol_from_dict(PROTOCOL)
    with pytest.raises(ConfigError) as info:
        engine_from_accounts(config, {"WETH": 0}, [], source="p.toml")
    assert info.value.problems == ["prices.WETH: price: must be positive (got 0)"]
    assert info.value.source == "p.toml"


def test_engine_from_snapshot_when_account_reserved_then_refused_by_field():
    # The builder's own counterparty of perp positions: a snapshot naming it would trade
    # against itself (bob's short above is opened against it).
    data = {**SNAPSHOT, "accounts": [*SNAPSHOT["accounts"],
                                     {"id": BOOK, "supplied": {"USDC": "1"}}]}
    with pytest.raises(ConfigError) as info:
        engine_from_snapshot(data)
    assert info.value.problems == ["accounts.3.id: '_book' is reserved (it takes the other "
                                   "side of loaded perp positions)"]


def test_snapshot_when_a_vol_surface_is_given_twice_then_refused_naming_both():
    # Two [[vols]] of one underlying and expiry: the second replaced the first silently
    # (options_book.toml with a second WETH 30-day entry at 150% moved every portfolio's
    # margin, writer's from 2,222.76 to 1,932.53), for health and for serve alike.
    from marginengine.engine.snapshot import snapshot_option_events

    protocol = {"preset": "aave-v3", "markets": {"WETH": {}, "USDC": {"decimals": 6}},
                "options": {"quote": "USDC", "portfolio_preset": "derive-pm2"}}
    vol = {"underlying": "WETH", "expiry": 2_592_000, "vol": 0.6, "skew": -0.1}
    data = {"protocol": protocol, "prices": {"WETH": "2000", "USDC": "1"},
            "vols": [vol, {**vol, "vol": 1.5}], "accounts": []}
    message = ["vols.1: WETH expiry 2592000 given twice (first at vols.0)"]
    with pytest.raises(ConfigError) as info:
        engine_from_snapshot(data)
    assert info.value.problems == message
    with pytest.raises(ConfigError) as info:
        snapshot_option_events(data, protocol_from_dict(protocol))
    assert info.value.problems == message


def test_snapshot_when_a_balance_exceeds_the_protocols_storage_then_refused_by_field():
    # Aave v3.4+ keeps a scaled balance in a uint120 (UserState.balance, toUint120;
    # aave-dao/aave-v3-origin@v3.5.0): at index 1 the scaled balance is the amount, so
    # 2**120 - 1 wei of WETH can be held and 2**120 cannot, as a supply of it reverts.
    most = 2**120 - 1
    fits = engine_from_accounts(protocol_from_dict(PROTOCOL), prices(),
                                [BookAccount("whale", {"WETH": most})])
    assert fits.ledger.scaled_supply_of("whale", "WETH") == most
    data = {**SNAPSHOT, "accounts": [
        *SNAPSHOT["accounts"],
        {"id": "whale", "supplied": {"WETH": "1329227995784915872.903807060280344576"}}]}
    assert most + 1 == 1329227995784915872903807060280344576  # the WETH above, in wei
    with pytest.raises(ConfigError) as info:
        engine_from_snapshot(data)
    assert info.value.problems == [
        f"accounts.3.supplied.WETH: WETH scaled supply balance would be {most + 1}, beyond "
        "uint120 (at most 2**120 - 1): the protocol's cast reverts "
        "(SafeCastOverflowedUintDowncast)"]


def test_engine_from_accounts_when_comets_total_exceeds_uint104_then_the_account_named():
    # Comet (compound-finance/comet@d5a30b0a): a principal is an int104, totalSupplyBase a
    # uint104 (checked adds). Two suppliers of 2**103 - 1 each fit both (2**104 - 2); a
    # third takes the total past 2**104 - 1: it is named, once, and nothing is built.
    config = protocol_from_dict({"preset": "compound-v3",
                                 "markets": {"USDC": {"decimals": 6}, "WETH": {}}})
    most = 2**103 - 1
    cheap = {"USDC": USD, "WETH": 2_000 * USD}
    two = [BookAccount(f"s{i}", {"USDC": most}) for i in range(2)]
    assert engine_from_accounts(config, cheap, two).ledger.reserves["USDC"].scaled_supply \
        == 2 * most
    with pytest.raises(ConfigError) as info:
        engine_from_accounts(config, cheap, [*two, BookAccount("s2", {"USDC": most}),
                                             BookAccount("s3", {"USDC": most})])
    assert info.value.problems == [
        f"accounts.2.supplied.USDC: USDC total scaled supply would be {3 * most}, beyond "
        "uint104 (at most 2**104 - 1): the protocol's cast reverts (panic 0x11 (uint104 "
        "totalSupplyBase/totalBorrowBase))"]
