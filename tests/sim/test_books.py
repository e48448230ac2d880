"""Real books (sim/books.py): files by line, round trips, snapshots, synthetic books of
several assets, and the protocol's own refusals reported by line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from marginengine.config import ProtocolConfig, protocol_from_dict
from marginengine.engine import Deposit, Engine, SetPrice
from marginengine.errors import ConfigError
from marginengine.sim.books import (
    Book,
    BookAccount,
    ProfileSpec,
    book_from_snapshot,
    check_profiles,
    initial_health_floor,
    open_book,
    read_book,
    synthetic_multi_book,
    write_book,
)

# wstETH approximating Aave v3 Ethereum's reserve (LTV 78.5%, threshold 81%, bonus 6%);
# WETH and USDC from the aave-v3 preset.
PROTOCOL = {"preset": "aave-v3", "markets": {
    "WETH": {}, "USDC": {},
    "wstETH": {"decimals": 18, "ltv": "0.785", "liquidation_threshold": "0.81",
               "liquidation_bonus": "0.06"},
}}
PRICES = {"WETH": 2000 * 10**8, "wstETH": 2340 * 10**8, "USDC": 10**8}
PERP_PROTOCOL = {"preset": "aave-v3", "markets": {"USDC": {}},
                 "perps": {"ETH-PERP": {"preset": "dydx-v4", "base_decimals": 18}}}


@pytest.fixture
def proto() -> ProtocolConfig:
    return protocol_from_dict(PROTOCOL)


def engine_at(proto: ProtocolConfig, prices: dict[str, int], book: Book) -> Engine:
    engine = Engine(proto)
    for asset, price in prices.items():
        engine.apply(SetPrice(asset, price))
    for asset, amount in book.borrowed_total().items():
        engine.apply(Deposit("lender", asset, amount * 2))
    return engine


def test_csv_round_trip_keeps_every_amount_exactly(tmp_path: Path,
                                                   proto: ProtocolConfig) -> None:
    path = tmp_path / "book.csv"
    path.write_text("account,asset,supplied,borrowed\n"
                    "alice,WETH,10.123456789012345678,\n"
                    "alice,USDC,,15000.000001\n"
                    "bob,wstETH,3,\n"
                    "bob,WETH,,2.5\n")
    book = read_book(proto, path)
    alice, bob = book.accounts
    assert alice.supplied == {"WETH": 10_123_456_789_012_345_678}
    assert alice.borrowed == {"USDC": 15_000_000_001}
    assert alice.where == f"{path}:2"
    assert bob.supplied == {"wstETH": 3 * 10**18} and bob.borrowed == {"WETH": 25 * 10**17}
    again = tmp_path / "again.csv"
    write_book(book, proto, again)
    back = read_book(proto, again)
    assert [(a.id, a.supplied, a.borrowed) for a in back.accounts] == \
        [(a.id, a.supplied, a.borrowed) for a in book.accounts]


def test_parquet_round_trip_of_a_synthetic_book(tmp_path: Path,
                                                proto: ProtocolConfig) -> None:
    book = synthetic_multi_book(np.random.default_rng(3), proto, PRICES, [
        ProfileSpec(name="p", share=1, collateral={"WETH": 1, "wstETH": 1},
                    debt={"USDC": 3, "WETH": 1})], 50, 1e6, 2, 0.3, 1.6, 0.3)
    write_book(book, proto, tmp_path / "book.parquet")
    back = read_book(proto, tmp_path / "book.parquet")
    assert [(a.id, a.supplied, a.borrowed) for a in back.accounts] == \
        [(a.id, a.supplied, a.borrowed) for a in book.accounts]


def test_bad_rows_are_reported_by_line_and_field(tmp_path: Path,
                                                 proto: ProtocolConfig) -> None:
    path = tmp_path / "book.csv"
    path.write_text("account,asset,supplied,borrowed\n"
                    "alice,WETH,10,\n"          # 2: fine
                    "bob,DOGE,5,\n"             # 3: unknown asset
                    "carol,WETH,-1,\n"          # 4: negative balance
                    "dave,USDC,,abc\n"          # 5: not a number
                    "bad id!,WETH,1,\n"         # 6: bad account id
                    "alice,WETH,2,\n"           # 7: second row for alice/WETH
                    "erin,WETH,1\n"             # 8: three fields
                    "frank,USDC,,1.0000001\n")  # 9: more decimals than USDC's 6
    with pytest.raises(ConfigError) as info:
        read_book(proto, path)
    problems = info.value.problems
    assert problems[0] == (f"{path}:3: asset: unknown asset 'DOGE' (markets: USDC, WETH, "
                           "wstETH)")
    assert problems[1] == f"{path}:4: supplied: must not be negative (got -1)"
    assert problems[2].startswith(f"{path}:5: borrowed: ")
    assert problems[3].startswith(f"{path}:6: account: account id must be")
    assert problems[4] == (f"{path}:7: asset: a second row for account 'alice' and WETH "
                           f"(first at {path}:2)")
    assert problems[5] == f"{path}:8: 3 fields, expected 4"
    assert problems[6].startswith(f"{path}:9: borrowed: ")
    assert len(problems) == 7


def test_a_repeated_header_row_is_reported_as_such(tmp_path: Path,
                                                   proto: ProtocolConfig) -> None:
    # Two book files joined with `cat`: the second header is named, not read as an
    # account called "account" holding an asset called "asset".
    path = tmp_path / "book.csv"
    path.write_text("account,asset,supplied,borrowed\nalice,WETH,1,\n"
                    "account, asset ,supplied,borrowed\nbob,WETH,2,\n")
    with pytest.raises(ConfigError) as info:
        read_book(proto, path)
    assert info.value.problems == [f"{path}:3: the header again (a repeated header row)"]


def test_bad_header_names_the_columns(tmp_path: Path, proto: ProtocolConfig) -> None:
    path = tmp_path / "book.csv"
    path.write_text("account,token,supplied,borrowed\nalice,WETH,1,\n")
    with pytest.raises(ConfigError) as info:
        read_book(proto, path)
    expected = "account,asset,supplied,borrowed; optional emode"
    assert info.value.problems == [
        f"{path}:1: missing column(s) asset (expected {expected})",
        f"{path}:1: unknown column(s) token (expected {expected})"]


def test_positions_the_protocol_would_refuse_are_reported_by_line(
        tmp_path: Path, proto: ProtocolConfig) -> None:
    path = tmp_path / "book.csv"
    # WETH at 2,000 with the aave-v3 preset's 80.5% LTV: 10 WETH may back 16,100 USDC.
    path.write_text("account,asset,supplied,borrowed\n"
                    "ok,WETH,10,\n"
                    "ok,USDC,,16100\n"
                    "over,WETH,10,\n"
                    "over,USDC,,16100.01\n"
                    "bare,USDC,,1\n")
    book = read_book(proto, path)
    refused = open_book(engine_at(proto, PRICES, book).apply, book, proto)
    assert len(refused) == 2
    assert refused[0].startswith(f"{path}:5: account over: debt would rise to ")
    # Before: "account bare: account: unknown account 'bare'" (the engine's word alone).
    assert refused[1] == (f"{path}:6: account bare: borrows 1 USDC with no collateral "
                          "(account: unknown account 'bare')")


@pytest.mark.parametrize(("name", "text"), [
    ("book.csv", "account,asset,supplied,borrowed\n"),
    ("book.csv", "account,asset,supplied,borrowed\n\n,,,\n"),
])
def test_book_file_when_header_but_no_row_then_refused_as_empty(
        tmp_path: Path, proto: ProtocolConfig, name: str, text: str) -> None:
    # Before: read as a book of no accounts, and a cascade ran on nobody.
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        read_book(proto, path)
    assert info.value.problems == [f"{path}: no rows after the header (the book is empty)"]


def test_parquet_and_perp_book_when_no_row_then_refused_as_empty(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    proto = protocol_from_dict(PERP_PROTOCOL)
    lending = tmp_path / "book.parquet"
    pq.write_table(pa.table({c: pa.array([], pa.string()) for c in
                             ("account", "asset", "supplied", "borrowed")}), lending)
    perps = tmp_path / "perps.csv"
    perps.write_text("account,market,size,entry_price,quote\n")
    with pytest.raises(ConfigError) as info:
        read_book(proto, lending, perps)
    assert info.value.problems == [
        f"{lending}: no rows after the header (the book is empty)",
        f"{perps}: no rows after the header (the book is empty)"]


def test_perp_book_with_an_isolated_bucket(tmp_path: Path) -> None:
    proto = protocol_from_dict(PERP_PROTOCOL)
    path = tmp_path / "perps.csv"
    path.write_text("account,market,size,entry_price,quote\n"
                    "alice,ETH-PERP,2,2000,1000\n"
                    "alice/iso1,ETH-PERP,-1.5,2000,500\n"
                    "bob,ETH-PERP,100,2000,1000\n"
                    "carol,BTC-PERP,1,60000,1000\n"
                    "dave,ETH-PERP,0,2000,1000\n")
    with pytest.raises(ConfigError) as info:
        read_book(proto, perps=path)
    assert info.value.problems == [
        f"{path}:5: market: unknown perp market 'BTC-PERP' (perp markets: ETH-PERP)",
        f"{path}:6: size: must not be zero"]
    path.write_text("\n".join(path.read_text().splitlines()[:4]) + "\n")
    book = read_book(proto, perps=path)
    iso = book.accounts[1]
    assert iso.id == "alice/iso1"
    assert iso.positions == {"ETH-PERP": (-15 * 10**17, 2000 * 10**8)}
    assert iso.quote == 500 * 10**6
    engine = Engine(proto)
    engine.apply(SetPrice("USDC", 10**8))
    engine.apply(SetPrice("ETH-PERP", 2000 * 10**8))
    refused = open_book(engine.apply, book, proto, counterparty_quote=10**9 * 10**6)
    # bob: 100 ETH (200,000 USD) on 1,000 USDC is far beyond dYdX's 5% initial margin.
    assert len(refused) == 1
    assert refused[0].startswith(f"{path}:4: account bob: ")
    assert engine.ledger.accounts["alice/iso1"].perps["ETH-PERP"].size == -15 * 10**17
    written = tmp_path / "again.csv"
    write_book(book, proto, tmp_path / "lending.csv", written)
    back = read_book(proto, perps=written)
    assert [(a.id, a.positions, a.quote) for a in back.accounts] == \
        [(a.id, a.positions, a.quote) for a in book.accounts]


def test_snapshot_accounts_as_a_book(proto: ProtocolConfig) -> None:
    data = {"prices": {"WETH": 2000}, "accounts": [
        {"id": "alice", "supplied": {"WETH": "10"}, "borrowed": {"USDC": "8000"}},
        {"id": "bob", "supplied": {"DOGE": 1}}]}
    with pytest.raises(ConfigError) as info:
        book_from_snapshot(data, proto, source="snap.toml")
    assert info.value.problems[0].startswith(
        "snap.toml: accounts.1.supplied.DOGE: unknown asset")
    data["accounts"].pop()
    book = book_from_snapshot(data, proto, source="snap.toml")
    assert book.accounts[0].supplied == {"WETH": 10 * 10**18}
    assert book.accounts[0].where == "snap.toml: accounts.0"


def test_synthetic_book_spreads_health_and_every_borrow_is_accepted(
        proto: ProtocolConfig) -> None:
    profiles = [
        ProfileSpec(name="eth_usdc", share="0.5", collateral={"WETH": 1}, debt={"USDC": 1}),
        ProfileSpec(name="loop", share="0.3", collateral={"wstETH": 1}, debt={"WETH": 1}),
        ProfileSpec(name="short", share="0.2", collateral={"USDC": 1}, debt={"WETH": 1}),
    ]
    assert check_profiles(profiles, proto) == []
    # WETH: threshold 83% over LTV 80.5% -> 1.0311 (aave-v3 preset); wstETH 81 / 78.5.
    assert initial_health_floor(profiles[0], proto) == pytest.approx(0.83 / 0.805)
    assert initial_health_floor(profiles[1], proto) == pytest.approx(0.81 / 0.785)
    book = synthetic_multi_book(np.random.default_rng(1), proto, PRICES, profiles, 2000,
                                2e8, 5, 0.2, 1.5, 0.3)
    assert len(book.accounts) == 2000
    assert book.debt_value(PRICES, proto) == pytest.approx(2e8, rel=1e-9)
    assert sum(a.id.startswith("whale") for a in book.accounts) == 5
    engine = engine_at(proto, PRICES, book)
    assert open_book(engine.apply, book, proto) == []
    health = np.array([engine.account_data(a.id).health_factor / 1e18
                       for a in book.accounts])
    assert np.median(health) == pytest.approx(1.5, rel=0.05)
    assert health.min() >= 1.03
    loops = [a for a in book.accounts if "wstETH" in a.supplied]
    assert loops and all(set(a.borrowed) == {"WETH"} for a in loops)


def test_profiles_are_checked_against_the_protocol(proto: ProtocolConfig) -> None:
    bad = [ProfileSpec(name="x", share="0.5", collateral={"DOGE": 1}, debt={"USDC": 1}),
           ProfileSpec(name="y", share="0.4", collateral={"WETH": 1}, debt={"BTC": 1})]
    assert check_profiles(bad, proto) == [
        "book.profiles.0.collateral.DOGE: unknown asset (markets: USDC, WETH, wstETH)",
        "book.profiles.1.debt.BTC: unknown asset (markets: USDC, WETH, wstETH)",
        "book.profiles: shares must sum to 1 (got 0.9)"]


def test_counterparty_id_is_refused(tmp_path: Path, proto: ProtocolConfig) -> None:
    path = tmp_path / "book.csv"
    path.write_text("account,asset,supplied,borrowed\n_book,WETH,1,\n")
    with pytest.raises(ConfigError) as info:
        read_book(proto, path)
    assert info.value.problems == [f"{path}:2: account: '_book' is reserved (it takes the "
                                   "other side of loaded perp positions)"]
    assert BookAccount("x").quote == 0


def test_synthetic_book_when_collateralization_basis_then_same_borrowers_whatever_thresholds(
        proto: ProtocolConfig) -> None:
    # By collateralization the draw is collateral value / debt: an account with debt D and
    # draw c holds c x D of collateral whatever the thresholds, so two protocols that
    # differ only in WETH's LTV and threshold get the same book (an optimizer's candidates
    # see the same borrowers). By health the collateral is D x h / LT: it moves with LT.
    profiles = [ProfileSpec(name="eth", share=1, collateral={"WETH": 1}, debt={"USDC": 1})]
    lower = protocol_from_dict({**PROTOCOL, "markets": {
        **PROTOCOL["markets"], "WETH": {"ltv": "0.70", "liquidation_threshold": "0.75"}}})

    def draw(config: ProtocolConfig, basis: str) -> Book:
        return synthetic_multi_book(np.random.default_rng(5), config, PRICES, profiles, 40,
                                    1e6, 0, 0.0, 1.45, 0.2, 1.1, basis=basis)

    a, b = draw(proto, "collateralization"), draw(lower, "collateralization")
    assert [x.supplied for x in a.accounts] == [x.supplied for x in b.accounts]
    h1, h2 = draw(proto, "health"), draw(lower, "health")
    assert [x.supplied for x in h1.accounts] != [x.supplied for x in h2.accounts]
    # The draws are the same stream: debts agree across bases, and each account's
    # collateral value over its debt is the lognormal draw floored at 1.1 (not at what
    # initial margin allows: 1 / 0.805 = 1.242 for WETH under the preset).
    assert [x.borrowed for x in a.accounts] == [x.borrowed for x in h1.accounts]
    ratios = [x.supplied["WETH"] * 2000 / 10**18 / (x.borrowed["USDC"] / 10**6)
              for x in a.accounts]
    assert min(ratios) == pytest.approx(1.1, rel=1e-6)
    assert any(r < 1 / 0.805 for r in ratios)
    rng = np.random.default_rng(5)
    rng.lognormal(0.0, 1.2, size=40)
    rng.choice(1, size=40, p=[1.0])
    expected = np.maximum(rng.lognormal(np.log(1.45), 0.2, size=40), 1.1)
    assert ratios == pytest.approx(expected.tolist(), rel=1e-6)


def test_amount_beyond_uint256_is_refused_by_line(tmp_path: Path,
                                                  proto: ProtocolConfig) -> None:
    # 1e60 WETH is 1e78 wei, beyond any on-chain balance: it opened, and the book's
    # borrowing power read 1.6e63 USD.
    path = tmp_path / "book.csv"
    path.write_text("account,asset,supplied,borrowed\nalice,WETH,1e60,\nalice,USDC,,15000\n")
    with pytest.raises(ConfigError) as info:
        read_book(proto, path)
    assert info.value.problems == [
        f"{path}:2: supplied: too large ('1e60' is more than 2**256 - 1 smallest units, the "
        "largest on-chain balance)"]


def test_snapshot_when_account_reserved_then_refused_by_field(proto: ProtocolConfig) -> None:
    data = {"prices": {"WETH": 2000}, "accounts": [
        {"id": "_liquidity", "supplied": {"WETH": "1"}},
        {"id": "_book", "supplied": {"WETH": "1"}}]}
    with pytest.raises(ConfigError) as info:
        book_from_snapshot(data, proto, source="snap.toml")
    assert info.value.problems == [
        "snap.toml: accounts.0.id: '_liquidity' is reserved (the service's account that "
        "supplies what a book's borrowers owe beyond its suppliers' supply)",
        "snap.toml: accounts.1.id: '_book' is reserved (it takes the other side of loaded "
        "perp positions)"]
