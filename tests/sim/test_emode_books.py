"""Books with Aave e-mode accounts: the snapshot's ``emode``, the scan's and the
simulator's optional ``emode`` column, synthetic profiles' ``emode``, and ``health``
reporting an account's category; each bad input named by field or line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from marginengine.cli.main import main
from marginengine.config import protocol_from_dict
from marginengine.engine import Deposit, Engine, SetPrice
from marginengine.engine.snapshot import engine_from_snapshot
from marginengine.errors import ConfigError
from marginengine.scan.files import engine_from_book
from marginengine.scan.files import read_book as read_scan_book
from marginengine.sim.books import (
    ProfileSpec,
    check_profiles,
    initial_health_floor,
    open_book,
    read_book,
    synthetic_multi_book,
    write_book,
)

USD = 10**8
EMODE: dict[str, Any] = {"categories": {"1": {
    "label": "ETH correlated", "ltv": "0.93", "liquidation_threshold": "0.95",
    "liquidation_bonus": "0.01", "collateral": ["WETH"], "borrowable": ["WETH"]}}}
PROTOCOL: dict[str, Any] = {"preset": "aave-v3", "emode": EMODE}
PRICES = {"WETH": "2000", "USDC": "1", "WBTC": "60000", "DAI": "1"}


def snapshot(**alice: Any) -> dict[str, Any]:
    return {"protocol": PROTOCOL, "prices": PRICES,
            "accounts": [{"id": "alice", "supplied": {"WETH": "10"},
                          "borrowed": {"WETH": "9"}, **alice}]}


def test_snapshot_when_emode_then_health_at_category_threshold():
    engine = engine_from_snapshot(snapshot(emode=1))
    assert engine.ledger.emode_of("alice") == 1
    # HF = 20,000 x 95% / 18,000 = 1.0555...; outside e-mode 83% gives 0.922.
    assert engine.account_data("alice").health_factor == 1_055_555_555_555_555_555
    plain = engine_from_snapshot(snapshot())
    assert plain.account_data("alice").health_factor == 922_222_222_222_222_222


def test_snapshot_when_emode_bad_then_field_named():
    with pytest.raises(ConfigError) as info:
        engine_from_snapshot(snapshot(emode=4))
    assert info.value.problems == [
        "accounts.0.emode: unknown e-mode category 4 (categories: 1)"]
    bad = snapshot(emode=1)
    bad["accounts"][0]["borrowed"] = {"USDC": "100"}
    with pytest.raises(ConfigError) as info:
        engine_from_snapshot(bad)
    assert info.value.problems == [
        "accounts.0.borrowed.USDC: USDC is not borrowable in e-mode category 1"]


def test_cli_health_when_emode_account_then_category_in_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    path = tmp_path / "snap.toml"
    path.write_text('[protocol]\npreset = "aave-v3"\n'
                    '[protocol.emode.categories.1]\nltv = 0.93\nliquidation_threshold = 0.95\n'
                    'liquidation_bonus = 0.01\ncollateral = ["WETH"]\nborrowable = ["WETH"]\n'
                    '[prices]\nWETH = 2000\n'
                    '[[accounts]]\nid = "alice"\nsupplied = { WETH = "10" }\n'
                    'borrowed = { WETH = "9" }\nemode = 1\n')
    try:
        main(["health", str(path), "--json"])
    except SystemExit as exc:  # a failure exits non-zero
        assert not exc.code
    (row,) = json.loads(capsys.readouterr().out)["accounts"]
    assert row["emode"] == 1 and row["health_factor_wad"] == "1055555555555555555"


def _config():
    return protocol_from_dict(PROTOCOL)


def test_scan_book_when_emode_column_then_engine_in_category(tmp_path: Path):
    path = tmp_path / "book.csv"
    path.write_text("account,asset,supplied,borrowed,emode\nalice,WETH,10,9,1\n"
                    "bob,WETH,10,,\nbob,USDC,,1000,0\n")
    book = read_scan_book(path, _config())
    assert {a.id: a.emode for a in book.accounts} == {"alice": 1, "bob": 0}
    engine = engine_from_book(_config(), {a: int(p) * USD for a, p in PRICES.items()}, book)
    assert engine.ledger.emode_of("alice") == 1 and engine.ledger.emode_of("bob") == 0
    assert engine.account_data("alice").health_factor == 1_055_555_555_555_555_555


def test_scan_book_when_emode_cells_bad_then_lines_named(tmp_path: Path):
    path = tmp_path / "book.csv"
    path.write_text("account,asset,supplied,borrowed,emode\nalice,WETH,10,,1\n"
                    "alice,USDC,,100,2\nbob,WETH,1,,x\ncarol,WETH,1,,7\n"
                    "dave,WETH,10,,1\ndave,USDC,,100,\n")
    with pytest.raises(ConfigError) as info:
        read_scan_book(path, _config())
    # The cells in the file's order, then each account's category and borrows (the
    # category may come on a later row than a borrow), by the line that gave each.
    assert info.value.problems == [
        f"{path}:3: emode: 2 differs from 1 given for account 'alice' at {path}:2",
        f"{path}:4: emode: must be an e-mode category id within 0 and 255 (got 'x')",
        f"{path}:3: borrowed: USDC is not borrowable in e-mode category 1",
        f"{path}:5: emode: unknown e-mode category 7 (categories: 1)",
        f"{path}:7: borrowed: USDC is not borrowable in e-mode category 1",
    ]


def test_sim_book_when_emode_column_then_opened_in_category_and_written_back(tmp_path: Path):
    config = _config()
    path = tmp_path / "book.csv"
    path.write_text("account,asset,supplied,borrowed,emode\nalice,WETH,10,,\n"
                    "alice,USDC,1000,,1\nbob,WETH,10,,\n")
    book = read_book(config, path)
    alice = next(a for a in book.accounts if a.id == "alice")
    assert alice.emode == 1 and alice.at("emode").endswith("book.csv:3")
    alice.borrowed["WETH"] = 9 * 10**18
    engine = Engine(config)
    for asset, price in PRICES.items():
        engine.apply(SetPrice(asset, int(price) * USD))
    engine.apply(Deposit("lp", "WETH", 1_000 * 10**18))
    assert open_book(engine.apply, book, config) == []
    assert engine.ledger.emode_of("alice") == 1
    # (20,000 x 95% + 1,000 x 78%) / 18,000
    assert engine.account_data("alice").health_factor == 1_098_888_888_888_888_888
    out = tmp_path / "out.csv"
    write_book(book, config, out)
    assert out.read_text().splitlines()[:2] == ["account,asset,supplied,borrowed,emode",
                                                "alice,USDC,1000,,1"]
    assert read_book(config, out).accounts[0].emode == 1


def test_sim_book_when_emode_bad_then_lines_named(tmp_path: Path):
    path = tmp_path / "book.csv"
    path.write_text("account,asset,supplied,borrowed,emode\nalice,WETH,10,,3\n"
                    "bob,WETH,10,,1\nbob,USDC,,100,\n")
    with pytest.raises(ConfigError) as info:
        read_book(_config(), path)
    assert info.value.problems == [
        f"{path}:2: emode: unknown e-mode category 3 (categories: 1)",
        f"{path}:4: borrowed: USDC is not borrowable in e-mode category 1",
    ]


def test_profiles_when_emode_then_floor_and_draw_at_category_params():
    config = _config()
    loop = ProfileSpec(name="loop", share=1, collateral={"WETH": 1}, debt={"WETH": 1},
                       emode=1)
    assert check_profiles([loop], config) == []
    # Initial margin allows HF down to 95% / 93% in the category (83% / 80.5% outside).
    assert initial_health_floor(loop, config) == pytest.approx(0.95 / 0.93)
    book = synthetic_multi_book(np.random.default_rng(3), config,
                                {a: int(p) * USD for a, p in PRICES.items()}, [loop], 20,
                                1e6, 0, 0.0, 1.03, 0.0)
    assert {a.emode for a in book.accounts} == {1}
    usdc = ProfileSpec(name="bad", share=1, collateral={"WETH": 1}, debt={"USDC": 1},
                       emode=1)
    assert check_profiles([usdc], config) == [
        "book.profiles.0.debt.USDC: not borrowable in e-mode category 1"]
    missing = ProfileSpec(name="x", share=1, collateral={"WETH": 1}, debt={"WETH": 1},
                          emode=2)
    assert check_profiles([missing], config) == [
        "book.profiles.0.emode: unknown e-mode category 2 (categories: 1)"]
