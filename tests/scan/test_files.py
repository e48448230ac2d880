"""Books, prices and protocols on disk: formats, and every problem named by line and column."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from marginengine.engine.snapshot import engine_from_snapshot
from marginengine.errors import ConfigError
from marginengine.scan.files import (
    engine_from_book,
    load_engine,
    read_book,
    read_prices,
    read_protocol,
)

PRICES = '[prices]\nWETH = 2000\nUSDC = 1\nDAI = "1"\nWBTC = 60000\n'
GOOD = (
    "account,asset,supplied,borrowed\n"
    "alice,WETH,10,\n"
    "alice,USDC,,15000\n"
    "bob,WBTC,0.5,0\n"
    "\n"
    "carol/isolated,WETH,1.000000000000000001,1\n"
)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_load_engine_when_good_csv_then_balances_and_prices_exact(tmp_path: Path):
    engine = load_engine(write(tmp_path, "book.csv", GOOD), write(tmp_path, "p.toml", PRICES))
    ledger = engine.ledger
    assert ledger.supply_of("alice", "WETH") == 10 * 10**18
    assert ledger.debt_of("alice", "USDC") == 15_000 * 10**6
    assert ledger.supply_of("bob", "WBTC") == 50_000_000
    assert ledger.supply_of("carol/isolated", "WETH") == 10**18 + 1
    assert ledger.debt_of("carol/isolated", "WETH") == 10**18
    assert engine.prices["WBTC"] == 60_000 * 10**8
    assert engine.config.preset == "aave-v3"
    ledger.check_conservation()


@pytest.mark.parametrize(("line", "expected"), [
    ("alice,WETH,abc,", "supplied: must be a number ('abc' is not)"),
    ("alice,XYZ,1,", "asset: unknown asset 'XYZ' (markets: DAI, USDC, WBTC, WETH)"),
    ("alice,USDC,,-5", "borrowed: must not be negative (got -5)"),
    # A row of nothing: refused as a snapshot's zero amount is (it was read as none).
    ("bob,DAI,,", "supplied: must be positive (got 0): a row holds a supplied or a borrowed "
     "balance (both are 0 or empty; leave the row out)"),
    ("alice,USDC,0.0000001,", "supplied: has more than 6 decimal places"),
    ("alice,USDC,1", "3 fields, expected 4"),
    ("bad id!,USDC,1,", "account: account id must be"),
    ("account,asset, supplied ,borrowed", "the header again (a repeated header row)"),
])
def test_read_book_when_bad_row_then_line_and_column_named(tmp_path: Path, line: str,
                                                           expected: str):
    path = write(tmp_path, "book.csv", f"account,asset,supplied,borrowed\n{line}\n")
    with pytest.raises(ConfigError) as info:
        read_book(path, read_protocol(None))
    # FILE:LINE: field: reason, the one wording of every face (docs/formats.md "Books").
    assert len(info.value.problems) == 1
    assert info.value.problems[0].startswith(f"{path}:2: {expected}")


def test_read_book_when_many_problems_then_all_listed_and_capped(tmp_path: Path):
    rows = "".join(f"a{i},XYZ,1,\n" for i in range(30))
    path = write(tmp_path, "book.csv", "account,asset,supplied,borrowed\n" + rows)
    with pytest.raises(ConfigError) as info:
        read_book(path, read_protocol(None))
    assert len(info.value.problems) == 21 and info.value.problems[-1] == "... and 10 more"
    assert info.value.problems[0].startswith(f"{path}:2: asset: unknown asset 'XYZ'")


def test_read_book_when_duplicate_row_then_first_line_named(tmp_path: Path):
    path = write(tmp_path, "book.csv",
                 "account,asset,supplied,borrowed\na,WETH,1,\nb,WETH,1,\na,WETH,2,\n")
    with pytest.raises(ConfigError) as info:
        read_book(path, read_protocol(None))
    assert info.value.problems == [f"{path}:4: asset: a second row for account 'a' and WETH "
                                   f"(first at {path}:2)"]


@pytest.mark.parametrize(("header", "expected"), [
    ("account,asset,supplied\n", "missing column(s) borrowed"),
    ("account,asset,supplied,borrowed,notes\n", "unknown column(s) notes"),
    ("", "empty file"),
])
def test_read_book_when_bad_header_then_error(tmp_path: Path, header: str, expected: str):
    path = write(tmp_path, "book.csv", header)
    with pytest.raises(ConfigError) as info:
        read_book(path, read_protocol(None))
    assert info.value.problems[0].startswith(f"{path}:1: {expected} (expected ")


def test_read_book_when_missing_or_unknown_format_then_error(tmp_path: Path):
    config = read_protocol(None)
    with pytest.raises(ConfigError, match="file not found"):
        read_book(tmp_path / "none.csv", config)
    with pytest.raises(ConfigError, match=r"unknown book format '\.txt'"):
        read_book(write(tmp_path, "book.txt", GOOD), config)


def test_read_book_when_compound_borrows_collateral_then_not_borrowable(tmp_path: Path):
    path = write(tmp_path, "book.csv", "account,asset,supplied,borrowed\na,WETH,1,0.5\n")
    with pytest.raises(ConfigError) as info:
        read_book(path, read_protocol(None, "compound-v3"))
    assert info.value.problems == [f"{path}:2: borrowed: WETH is not borrowable"]


def test_prices_when_bad_or_missing_then_named(tmp_path: Path):
    config = read_protocol(None)
    with pytest.raises(ConfigError, match="prices: required table is missing"):
        read_prices(write(tmp_path, "p.toml", "WETH = 1\n"), config)
    with pytest.raises(ConfigError, match=r"prices\.WETH: must be positive \(got 0\)"):
        read_prices(write(tmp_path, "p.toml", "[prices]\nWETH = 0\n"), config)
    book = write(tmp_path, "book.csv", GOOD)
    with pytest.raises(ConfigError, match=r"prices\.WBTC: missing \(the book holds WBTC\)"):
        load_engine(book, write(tmp_path, "p.toml", "[prices]\nWETH = 1\nUSDC = 1\n"))


def test_protocol_when_file_with_protocol_table_or_top_level_then_read(tmp_path: Path):
    nested = write(tmp_path, "a.toml", '[protocol]\npreset = "compound-v3"\n')
    top = write(tmp_path, "b.toml", 'preset = "aave-v3"\n[markets.WETH]\nltv = 0.5\n')
    assert read_protocol(nested).preset == "compound-v3"
    assert list(read_protocol(top).markets) == ["WETH"]
    bad = write(tmp_path, "c.toml", '[protocol]\npreset = "nope"\n')
    with pytest.raises(ConfigError, match="protocol.preset: unknown preset 'nope'"):
        read_protocol(bad)


def test_parquet_when_good_then_same_engine_as_csv(tmp_path: Path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({
        "account": ["alice", "alice", "bob"],
        "asset": ["WETH", "USDC", "WBTC"],
        "supplied": ["10", None, "0.5"],
        "borrowed": [None, 15000, None],
    })
    pq.write_table(table, tmp_path / "book.parquet")
    prices = write(tmp_path, "p.toml", PRICES)
    engine = load_engine(tmp_path / "book.parquet", prices)
    assert engine.ledger.debt_of("alice", "USDC") == 15_000 * 10**6
    assert engine.ledger.supply_of("bob", "WBTC") == 50_000_000


def test_parquet_when_bad_row_then_row_and_column_named(tmp_path: Path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"account": ["a", "b"], "asset": ["WETH", "WETH"],
                             "supplied": ["1", "-2"], "borrowed": [None, None]}),
                   tmp_path / "book.parquet")
    with pytest.raises(ConfigError) as info:
        read_book(tmp_path / "book.parquet", read_protocol(None))
    assert info.value.problems == [f"{tmp_path / 'book.parquet'}:row 2: supplied: must not "
                                   "be negative (got -2)"]
    pq.write_table(pa.table({"account": ["a"], "asset": ["WETH"]}), tmp_path / "x.parquet")
    with pytest.raises(ConfigError) as info:
        read_book(tmp_path / "x.parquet", read_protocol(None))
    assert info.value.problems == [f"{tmp_path / 'x.parquet'}:schema: missing column(s) "
                                   "supplied, borrowed (expected account,asset,supplied,"
                                   "borrowed; optional emode)"]
    (tmp_path / "junk.parquet").write_bytes(b"not parquet")
    with pytest.raises(ConfigError, match="not a readable Parquet file"):
        read_book(tmp_path / "junk.parquet", read_protocol(None))


def test_parquet_when_pyarrow_missing_then_error_names_extra(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(ConfigError, match=r"pip install 'marginengine\[parquet\]'"):
        read_book(write(tmp_path, "book.parquet", "x"), read_protocol(None))


def test_engine_from_book_when_good_then_same_state_as_the_snapshot_of_its_text(
        tmp_path: Path):
    # The book's integers go straight into the builder; the snapshot of the same rows in
    # whole tokens (what engine_from_book built before) gives the same engine.
    config = read_protocol(None)
    prices = read_prices(write(tmp_path, "p.toml", PRICES), config)
    book = read_book(write(tmp_path, "book.csv", GOOD), config)
    engine = engine_from_book(config, prices, book)
    snapshot = engine_from_snapshot({
        "protocol": {"preset": "aave-v3"},
        "prices": {"WETH": "2000", "USDC": "1", "DAI": "1", "WBTC": "60000"},
        "accounts": [
            {"id": "alice", "supplied": {"WETH": "10"}, "borrowed": {"USDC": "15000"}},
            {"id": "bob", "supplied": {"WBTC": "0.5"}},
            {"id": "carol/isolated", "supplied": {"WETH": "1.000000000000000001"},
             "borrowed": {"WETH": "1"}},
        ]})
    assert engine.state_hash() == snapshot.state_hash()
    # USDC: alice owes 15,000 and nobody supplied any: the protocol funds all of it.
    assert engine.ledger.reserves["USDC"].cash == 0
    assert engine.ledger.reserves["USDC"].reserves_ray == 15_000 * 10**6 * 10**27


def test_engine_from_book_when_perp_book_then_positions_opened_and_priced(tmp_path: Path):
    from marginengine.config import protocol_from_dict
    from marginengine.sim.books import read_book as read_both

    config = protocol_from_dict({"preset": "aave-v3", "markets": {"WETH": {}, "USDC": {}},
                                 "perps": {"ETH-PERP": {"preset": "dydx-v4",
                                                        "base_decimals": 18}}})
    lending = write(tmp_path, "book.csv", "account,asset,supplied,borrowed\nalice,WETH,1,\n")
    perps = write(tmp_path, "perps.csv", "account,market,size,entry_price,quote\n"
                                         "alice,ETH-PERP,-2,2100,5000\n")
    book = read_both(config, lending, perps)
    prices = {"WETH": 2_000 * 10**8, "USDC": 10**8}
    with pytest.raises(ConfigError) as info:
        engine_from_book(config, prices, book, prices_source="p.toml")
    assert info.value.problems == ["prices.ETH-PERP: missing (the book holds ETH-PERP)"]
    engine = engine_from_book(config, {**prices, "ETH-PERP": 2_000 * 10**8}, book)
    alice = engine.ledger.accounts["alice"]
    # The short of 2 at 2,100 adds 4,200 USDC to the 5,000 of quote; _book holds the long.
    assert alice.perps["ETH-PERP"].size == -2 * 10**18
    assert alice.perp_quote == 9_200 * 10**6
    assert engine.ledger.accounts["_book"].perps["ETH-PERP"].size == 2 * 10**18


def test_read_book_when_comet_supplies_and_owes_base_then_refused_by_line(tmp_path: Path):
    # Comet holds one signed base principal per account (contracts/CometStorage.sol:
    # userBasic[account].principal, an int104): 100 USDC supplied and 5,000 owed on line
    # 3 cannot be held.
    path = write(tmp_path, "book.csv", "account,asset,supplied,borrowed\na,WETH,10,\n"
                                       "a,USDC,100,5000\nb,WETH,1,\nb,USDC,,1000\n")
    with pytest.raises(ConfigError) as info:
        read_book(path, read_protocol(None, "compound-v3"))
    assert info.value.problems == [
        f"{path}:3: borrowed: in compound-v3 the base balance is signed: an account "
        f"supplies USDC or borrows it, not both"]
    # Aave keeps a reserve's supply and debt apart: the same book reads there.
    assert read_book(path, read_protocol(None)).accounts[0].supplied["USDC"] == 100 * 10**6


def test_snapshot_when_comet_supplies_and_owes_base_then_refused_by_field():
    data = {"protocol": {"preset": "compound-v3", "markets": {"USDC": {}, "WETH": {}}},
            "prices": {"USDC": 1, "WETH": 2000},
            "accounts": [{"id": "ok", "supplied": {"WETH": 1}, "borrowed": {"USDC": 100}},
                         {"id": "a", "supplied": {"WETH": 10, "USDC": 100},
                          "borrowed": {"USDC": 5000}}]}
    with pytest.raises(ConfigError) as info:
        engine_from_snapshot(data)
    assert info.value.problems == [
        "accounts.1.borrowed.USDC: in compound-v3 the base balance is signed: an account "
        "supplies USDC or borrows it, not both"]


def test_load_engine_when_a_balance_exceeds_the_protocols_storage_then_its_line_named(
        tmp_path: Path):
    # aave-v3's scaled balance is a uint120 (aave-dao/aave-v3-origin@v3.5.0,
    # UserState.balance): 2**120 USDC units cannot be supplied, whatever the book says.
    too_much = f"{2**120 // 10**6}.{2**120 % 10**6:06d}"
    book = write(tmp_path, "book.csv", GOOD + f"dave,USDC,{too_much},\n")
    with pytest.raises(ConfigError) as info:
        load_engine(book, write(tmp_path, "p.toml", PRICES))
    assert info.value.problems == [
        f"{book}:7: supplied: USDC scaled supply balance would be {2**120}, beyond uint120 "
        "(at most 2**120 - 1): the protocol's cast reverts (SafeCastOverflowedUintDowncast)"]
