"""``[service] book_open``: a snapshot holding accounts under margin is refused through
borrows ("borrow", the default) and loads as it stands ("import": ``ImportAccount`` per
account after the ``_liquidity`` deposits the imports need)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from marginengine.config import protocol_from_dict
from marginengine.engine import Deposit, Engine, ImportAccount
from marginengine.errors import ConfigError
from marginengine.ledger.book_file import Book, BookAccount
from marginengine.service.core import Service
from marginengine.service.startup import (
    LIQUIDITY_ACCOUNT,
    import_genesis,
    read_config,
    read_service_book,
    start_engine,
)
from tests.conftest import ETH, USDC
from tests.service.conftest import AUTH

CONFIG = """
[protocol]
preset = "aave-v3"
[protocol.markets.WETH]
[protocol.markets.USDC]
[prices]
WETH = 2000
USDC = 1
[service]
book = "snapshot.toml"
"""
# A snapshot taken in a crash (WETH at 2,000; aave-v3: LTV 80.5%, threshold 83%): alice's
# 4.75 WETH (9,500 USD) against 8,300 USDC, HF 7,885 / 8,300 = 0.95; bob's 10 WETH against
# 15,000 USDC, HF 16,600 / 15,000 = 1.1067, within his 16,100 of borrowing power; dave
# supplies 5,000 USDC.
SNAPSHOT = """
[[accounts]]
id = "alice"
supplied = { WETH = "4.75" }
borrowed = { USDC = "8300" }

[[accounts]]
id = "bob"
supplied = { WETH = "10" }
borrowed = { USDC = "15000" }

[[accounts]]
id = "dave"
supplied = { USDC = "5000" }
"""


def config(tmp_path: Path, extra: str = "") -> Path:
    (tmp_path / "snapshot.toml").write_text(SNAPSHOT)
    path = tmp_path / "serve.toml"
    path.write_text(CONFIG + extra)
    return path


def test_snapshot_under_margin_when_borrow_then_refused_and_nothing_written(
        tmp_path: Path) -> None:
    cfg = read_config(config(tmp_path))
    assert cfg.section.book_open == "borrow"
    log = tmp_path / "events.sqlite"
    with pytest.raises(ConfigError, match="the engine refuses this book") as info:
        start_engine(cfg.protocol, cfg.prices, cfg.book, f"sqlite:{log}")
    assert 'Borrow {"type": "Borrow", "account": "alice"' in str(info.value)
    assert not log.exists()


def test_snapshot_under_margin_when_import_then_loads_alerts_and_replays(
        tmp_path: Path) -> None:
    cfg = read_config(config(tmp_path, 'book_open = "import"\n'))
    assert cfg.section.book_open == "import"
    log = tmp_path / "events.sqlite"
    started = start_engine(cfg.protocol, cfg.prices, cfg.book, f"sqlite:{log}",
                           book_open=cfg.section.book_open)
    engine = started.engine
    assert engine.account_data("alice").health_factor == 950_000_000_000_000_000
    # Liquidity: alice and bob owe 23,300 USDC before dave's 5,000 are imported, so
    # _liquidity supplies all 23,300 (the imports' peak shortfall, in book order) and
    # the protocol funds nothing; "borrow" would deposit 23,300 - 5,000 = 18,300.
    assert engine.ledger.supply_of(LIQUIDITY_ACCOUNT, "USDC") == 23_300 * USDC
    assert engine.ledger.reserves["USDC"].reserves_ray == 0
    service = Service(engine, cfg.settings())
    # The three imported accounts; _liquidity is the tool's own, left out of counts.
    assert service.account_count() == 3
    assert engine.liquidation_quote("alice").debt_to_cover == 8_300 * USDC
    expected = engine.state_hash()
    engine.close()
    replayed, report = Engine.replay(log)
    # 2 prices, 1 liquidity deposit, 3 imports.
    assert report.events == 6 and report.state_hash == expected
    assert replayed.state.imported == 3


def test_import_genesis_when_suppliers_first_then_liquidity_as_under_borrow() -> None:
    # dave's 5,000 USDC first: the peak shortfall is the book's debt less its supply,
    # 23,300 - 5,000 = 18,300, what "borrow" deposits.
    book = Book([BookAccount("dave", {"USDC": 5_000 * USDC}),
                 BookAccount("alice", {"WETH": 475 * ETH // 100}, {"USDC": 8_300 * USDC}),
                 BookAccount("bob", {"WETH": 10 * ETH}, {"USDC": 15_000 * USDC}),
                 BookAccount("carol", {"WETH": 10 * ETH}, {"WETH": 9 * ETH}, emode=1)])
    events = import_genesis(book)
    assert events[0] == Deposit(LIQUIDITY_ACCOUNT, "USDC", 18_300 * USDC)
    # carol's WETH debt is covered by the WETH supplied before it (24.75): no deposit.
    assert len(events) == 5
    assert events[4] == ImportAccount("carol", (("WETH", 10 * ETH),), (("WETH", 9 * ETH),),
                                      1)


def test_config_when_book_open_unknown_then_field_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        read_config(config(tmp_path, 'book_open = "replay"\n'))
    assert any(p.startswith("service.book_open:") for p in info.value.problems)


def test_post_events_when_import_after_genesis_then_engine_refuses(client: Any) -> None:
    # The conftest's engine has borrowed (genesis closed by alice's Borrow): an
    # ImportAccount reaches the engine, which refuses it, and nothing changes.
    state = client.get("/state").json()
    event = {"type": "ImportAccount", "account": "mallory", "supplied": {"WETH": ETH},
             "borrowed": {"USDC": 1_000_000 * USDC}}
    r = client.post("/events", json={"events": [event]}, headers=AUTH)
    assert r.status_code == 200
    outcome = r.json()["outcomes"][0]
    assert outcome["outcome"] == "ImportAccountRejected"
    assert outcome["code"] == "IMPORT_AFTER_GENESIS"
    assert outcome["data"] == {"closed_by": "Borrow", "account": "mallory"}
    after = client.get("/state").json()
    assert after["seq"] == state["seq"] + 1  # the refusal is in the log, nothing else
    assert client.get("/accounts/mallory").status_code == 404
    # A malformed balance is a 422 naming its path in the request.
    event["supplied"] = {"WETH": 1.5}
    r = client.post("/events", json={"events": [event]}, headers=AUTH)
    assert r.status_code == 422
    assert r.json()["error"] == ("events.0.supplied.WETH: must be an integer in smallest "
                                 "units (got 1.5)")


def test_snapshot_when_import_structurally_refused_then_account_and_field_named(
        tmp_path: Path) -> None:
    # Comet's base balance is signed: bob supplies and owes USDC, which no import can book;
    # the snapshot reader refuses it by the field (the import's own rule,
    # margin.account_import.book_problems), before any event; nothing is written.
    (tmp_path / "snap.toml").write_text('[[accounts]]\nid = "bob"\n'
                                        'supplied = { WETH = "1", USDC = "10" }\n'
                                        'borrowed = { USDC = "100" }\n')
    path = tmp_path / "serve.toml"
    path.write_text('[protocol]\npreset = "compound-v3"\n[protocol.markets.USDC]\n'
                    '[protocol.markets.WETH]\n[prices]\nWETH = 2000\nUSDC = 1\n'
                    '[service]\nbook = "snap.toml"\nbook_open = "import"\n')
    cfg = read_config(path)
    log = tmp_path / "events.sqlite"
    with pytest.raises(ConfigError) as info:
        start_engine(cfg.protocol, cfg.prices, cfg.book, f"sqlite:{log}",
                     book_open=cfg.section.book_open)
    assert info.value.problems == [
        f"{tmp_path / 'snap.toml'}: accounts.0.borrowed.USDC: in compound-v3 the base "
        "balance is signed: an account supplies USDC or borrows it, not both"]
    assert not log.exists()
    # Opened by borrow, the same book is refused by the same line.
    with pytest.raises(ConfigError) as borrowed:
        start_engine(cfg.protocol, cfg.prices, cfg.book, f"sqlite:{log}")
    assert borrowed.value.problems == info.value.problems and not log.exists()


def test_read_service_book_when_comet_csv_supplies_and_owes_base_then_line_named(
        tmp_path: Path) -> None:
    config = protocol_from_dict({"preset": "compound-v3",
                                 "markets": {"USDC": {}, "WETH": {}}})
    book = tmp_path / "book.csv"
    book.write_text("account,asset,supplied,borrowed\nbob,WETH,1,\nbob,USDC,10,100\n")
    with pytest.raises(ConfigError) as info:
        read_service_book(book, config)
    assert info.value.problems == [
        f"{book}:3: borrowed: in compound-v3 the base balance is signed: an account "
        "supplies USDC or borrows it, not both"]
