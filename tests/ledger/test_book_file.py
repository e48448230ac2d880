"""Book files (ledger/book_file.py): the one reader of the scan's and the simulator's books.

Every case is read through both faces, ``scan.files.read_book`` (the scan CLI, the
service) and ``sim.books.read_book`` (a cascade's ``book.file``), which must accept the
same files with the same amounts and refuse the same files with the same problems, each
``FILE:LINE: field: reason`` (Parquet ``FILE:row N``, ``FILE:schema``).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from marginengine.config import ProtocolConfig, protocol_from_dict
from marginengine.errors import ConfigError
from marginengine.ledger.book_file import Book, read_book, write_book
from marginengine.scan import files as scan_files
from marginengine.sim import books as sim_books

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

HEADER = "account,asset,supplied,borrowed"
PROTOCOL = {"preset": "aave-v3", "markets": {"WETH": {}, "USDC": {}},
            "perps": {"ETH-PERP": {"preset": "dydx-v4", "base_decimals": 18}}}
WEI, USDC = 10**18, 10**6


@pytest.fixture
def proto() -> ProtocolConfig:
    return protocol_from_dict(PROTOCOL)


def balances(book: Book) -> list[tuple[str, str, dict[str, int], dict[str, int]]]:
    return [(a.id, a.where, a.supplied, a.borrowed) for a in book.accounts]


def read_both(proto: ProtocolConfig, path: Path) -> Book:
    """The book both faces read (the same), or the ConfigError both raise (the same)."""
    faces: list[Callable[[], Book]] = [lambda: scan_files.read_book(path, proto),
                                       lambda: sim_books.read_book(proto, path)]
    outcomes: list[Book | list[str]] = []
    for face in faces:
        try:
            outcomes.append(face())
        except ConfigError as exc:
            outcomes.append(exc.problems)
    scan, sim = outcomes
    if isinstance(scan, Book) and isinstance(sim, Book):
        assert balances(scan) == balances(sim)
        return scan
    assert scan == sim
    raise ConfigError(scan if isinstance(scan, list) else [])


def problems_of(proto: ProtocolConfig, path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        read_both(proto, path)
    return info.value.problems


# ---------------------------------------------------------------------- CSV
def test_csv_with_bom_crlf_blank_lines_and_quoted_cells_is_read_exactly(
        tmp_path: Path, proto: ProtocolConfig) -> None:
    path = tmp_path / "book.csv"
    path.write_bytes(b"\xef\xbb\xbf" + (  # a BOM, as a spreadsheet writes one
        f"{HEADER}\r\n"
        "alice,WETH,10.5,\r\n"              # 2
        "\r\n"                              # 3: blank
        ",,,\r\n"                           # 4: empty cells only
        '"alice", "USDC" ,"",  " 15000.000001 "\r\n'  # 5: quoted, spaces around
        '"bob","WETH","1,5",\r\n'           # 6: a comma inside quotes is not a number
    ).encode())
    assert problems_of(proto, path) == [f"{path}:6: supplied: must be a number ('1,5' is not)"]
    path.write_bytes(path.read_bytes().replace(b'"1,5"', b'"1.5"'))
    book = read_both(proto, path)
    assert balances(book) == [
        ("alice", f"{path}:2", {"WETH": 10 * WEI + WEI // 2}, {"USDC": 15_000_000_001}),
        ("bob", f"{path}:6", {"WETH": 15 * WEI // 10}, {})]


def test_csv_with_lone_cr_line_ends_is_read_by_line(tmp_path: Path,
                                                    proto: ProtocolConfig) -> None:
    path = tmp_path / "book.csv"
    path.write_bytes(f"{HEADER}\ralice,WETH,1,\rbob,DOGE,1,\r".encode())
    assert problems_of(proto, path) == [
        f"{path}:3: asset: unknown asset 'DOGE' (markets: USDC, WETH)"]


@pytest.mark.parametrize(("text", "expected"), [
    # A trailing comma: in a row, and in the header (a spreadsheet's empty column).
    (f"{HEADER}\nalice,WETH,1,,\n", ["2: 5 fields, expected 4 (a trailing comma?)"]),
    (f"{HEADER},\nalice,WETH,1,,\n", ["1: column 5 has no name (a trailing comma?)"]),
    # pandas' to_csv writes its index as a first column with no name.
    (f",{HEADER}\n0,alice,WETH,1,\n", ["1: column 1 has no name (an index written by "
                                       "pandas?)"]),
    (f"{HEADER}\nalice,WETH\n", ["2: 2 fields, expected 4"]),
    # A quote left open swallows the lines after it: named by the line the row starts on.
    (f'{HEADER}\nalice,WETH,"1,\nbob,WETH,1,\n',
     ["2: 3 fields, expected 4 (the row runs on to line 3: a quote left open?)"]),
    # A quoted cell with a line break: the row is named by its first line, the next by
    # its own.
    (f'{HEADER}\n"al\nice",WETH,1,\nbob,WETH,-1,\n',
     ["2: account: account id must be 1-64 letters, digits or . _ : @ -, optionally /label "
      "for an isolated sub-account (got 'al\\nice')",
      "4: supplied: must not be negative (got -1)"]),
    (f"{HEADER}\n,WETH,1,\nalice,,1,\n", ["2: account: required", "3: asset: required"]),
    ("account,asset,supplied,supplied,borrowed\n", ["1: column(s) supplied given twice"]),
    (f"{HEADER}\nalice,WETH,{'9' * 60},\n",
     ["2: supplied: too large (a 60-digit number is more than 2**256 - 1 smallest units, "
      "the largest on-chain balance)"]),
    (f"{HEADER}\n{HEADER}\n", ["2: the header again (a repeated header row)"]),
    (f"{HEADER}\n\n\n", [": no rows after the header (the book is empty)"]),
    ("", ["1: empty file (expected the header account,asset,supplied,borrowed)"]),
])
def test_csv_edge_cases_are_refused_by_line_field_and_reason(
        tmp_path: Path, proto: ProtocolConfig, text: str, expected: list[str]) -> None:
    path = tmp_path / "book.csv"
    path.write_text(text)
    assert problems_of(proto, path) == [f"{path}:{e}" if e[0] != ":" else f"{path}{e}"
                                        for e in expected]


ZERO_ROW = ("a row holds a supplied or a borrowed balance (both are 0 or empty; leave the "
            "row out)")


def test_csv_row_of_zero_supplied_and_zero_borrowed_is_refused_as_a_snapshot_zero(
        tmp_path: Path, proto: ProtocolConfig) -> None:
    # Was read as accounts holding nothing ("0 of 0 accounts" in a scan), where a
    # snapshot refuses a zero amount ("accounts.0.supplied.WETH: must be positive (got
    # 0)"): one rule, config.amounts.positive_problem, names the column the row wrote.
    path = tmp_path / "book.csv"
    path.write_text(f"{HEADER}\nalice,WETH,0,0\nbob,USDC,,\ncarol,USDC,,0.000\n"
                    "dave,WETH,1,0\n")
    assert problems_of(proto, path) == [
        f"{path}:2: supplied: must be positive (got '0'): {ZERO_ROW}",
        f"{path}:3: supplied: must be positive (got 0): {ZERO_ROW}",
        f"{path}:4: borrowed: must be positive (got '0.000'): {ZERO_ROW}"]
    # One side 0 is the other side's row: read, the zero left out.
    path.write_text(f"{HEADER}\ndave,WETH,1,0\nerin,USDC,0,2\n")
    assert balances(read_both(proto, path)) == [
        ("dave", f"{path}:2", {"WETH": WEI}, {}), ("erin", f"{path}:3", {}, {"USDC": 2 * USDC})]


def test_parquet_row_of_zeros_is_refused_as_the_csv_row(tmp_path: Path,
                                                         proto: ProtocolConfig) -> None:
    path = tmp_path / "book.parquet"
    # Row 2 (an empty string and a null) was read as an account holding nothing.
    pq.write_table(pa.table({"account": ["alice", "bob"], "asset": ["WETH", "USDC"],
                             "supplied": ["0", ""],
                             "borrowed": pa.array([None, None], pa.int64())}), path)
    assert problems_of(proto, path) == [
        f"{path}:row 1: supplied: must be positive (got '0'): {ZERO_ROW}",
        f"{path}:row 2: supplied: must be positive (got 0): {ZERO_ROW}"]


def test_csv_not_utf8_is_named_by_line_and_byte(tmp_path: Path,
                                                proto: ProtocolConfig) -> None:
    path = tmp_path / "book.csv"
    path.write_bytes(b"\xef\xbb\xbf" + f"{HEADER}\nalice,WETH,1,\n".encode()
                     + "j\xe9r\xf4me,WETH,1,\n".encode("latin-1"))
    assert problems_of(proto, path) == [f"{path}:3: not UTF-8 text (byte 0xe9)"]


def test_missing_directory_and_unknown_suffix_are_named(tmp_path: Path,
                                                        proto: ProtocolConfig) -> None:
    assert problems_of(proto, tmp_path / "none.csv") == [
        f"{tmp_path / 'none.csv'}: file not found"]
    (tmp_path / "dir.parquet").mkdir()
    assert problems_of(proto, tmp_path / "dir.parquet") == [
        f"{tmp_path / 'dir.parquet'}: is a directory, not a book file"]
    (tmp_path / "book.tsv").write_text(HEADER)
    assert problems_of(proto, tmp_path / "book.tsv") == [
        f"{tmp_path / 'book.tsv'}: unknown book format '.tsv' (use .csv or .parquet)"]


# ---------------------------------------------------------------------- Parquet
def test_parquet_nulls_integers_decimals_and_big_integers_as_strings_are_exact(
        tmp_path: Path, proto: ProtocolConfig) -> None:
    path = tmp_path / "book.parquet"
    pq.write_table(pa.table({
        "account": pa.array(["a", "b", "c"]).dictionary_encode(),  # a categorical
        "asset": ["WETH", "USDC", "WETH"],
        # Beyond int64 (2**63 - 1 whole tokens): written as a string, read exactly.
        "supplied": ["123456789012345678901234567890", None, "0.000000000000000001"],
        "borrowed": pa.array([None, 2**63 - 1, None], pa.int64()),
    }), path)
    assert balances(read_both(proto, path)) == [
        ("a", f"{path}:row 1", {"WETH": 123456789012345678901234567890 * WEI}, {}),
        ("b", f"{path}:row 2", {}, {"USDC": (2**63 - 1) * USDC}),
        ("c", f"{path}:row 3", {"WETH": 1}, {})]
    pq.write_table(pa.table({
        "account": ["a", "b"], "asset": ["WETH", "USDC"],
        # A decimal column's zero reads as 0E-10 and its 1e-7 as 1E-7: both as written.
        "supplied": pa.array([Decimal("0"), Decimal("2.5")], pa.decimal128(20, 10)),
        "borrowed": pa.array([Decimal("1E-7"), None], pa.decimal128(20, 10)),
        "__index_level_0__": [7, 3],  # a pandas index: not the book's
    }).replace_schema_metadata({b"pandas": b'{"index_columns": ["__index_level_0__"]}'}),
        path)
    assert balances(read_both(proto, path)) == [
        ("a", f"{path}:row 1", {}, {"WETH": 10**11}),
        ("b", f"{path}:row 2", {"USDC": 2_500_000}, {})]


def test_parquet_edge_cases_are_refused_by_row_or_schema(tmp_path: Path,
                                                        proto: ProtocolConfig) -> None:
    path = tmp_path / "book.parquet"

    def refused(table: object) -> list[str]:
        pq.write_table(table, path)
        return [p.removeprefix(str(path)) for p in problems_of(proto, path)]

    good = {"account": ["a"], "asset": ["WETH"], "supplied": ["1"], "borrowed": [None]}
    assert refused(pa.table({**good, "supplied": [True]})) == [
        ":schema: supplied: type bool cannot hold an amount (use strings (exact), integers "
        "or decimals)"]
    assert refused(pa.table({**good, "account": pa.array([b"a"], pa.binary())})) == [
        ":schema: account: type binary cannot hold an identifier (use strings)"]
    assert refused(pa.table({**good, "notes": ["x"]})) == [
        ":schema: unknown column(s) notes (expected account,asset,supplied,borrowed; "
        "optional emode)"]
    assert refused(pa.table({**good, "account": [None]})) == [":row 1: account: required"]
    assert refused(pa.table({**good, "supplied": [float("nan")]})) == [
        ":row 1: supplied: must be a finite number (nan is not)"]
    assert refused(pa.table({**good, "supplied": [str(2**256)]})) == [
        ":row 1: supplied: too large (a 78-digit number is more than 2**256 - 1 smallest "
        "units, the largest on-chain balance)"]
    assert refused(pa.table({**good, "supplied": pa.array([-1], pa.int64())})) == [
        ":row 1: supplied: must not be negative (got -1)"]
    assert refused(pa.table({c: pa.array([], pa.string()) for c in good})) == [
        ": no rows after the header (the book is empty)"]


def test_parquet_float_amounts_read_as_their_shortest_decimal(
        tmp_path: Path, proto: ProtocolConfig) -> None:
    # As TOML numbers: 2.5 is 2.5; 0.1 + 0.2 is 0.30000000000000004, too many places for
    # USDC's 6 (refused, not rounded), exact for WETH's 18.
    path = tmp_path / "book.parquet"
    pq.write_table(pa.table({"account": ["a", "b"], "asset": ["USDC", "WETH"],
                             "supplied": [2.5, 0.1 + 0.2], "borrowed": [None, None]}), path)
    assert balances(read_both(proto, path)) == [
        ("a", f"{path}:row 1", {"USDC": 2_500_000}, {}),
        ("b", f"{path}:row 2", {"WETH": 300_000_000_000_000_040}, {})]
    pq.write_table(pa.table({"account": ["a"], "asset": ["USDC"], "supplied": [0.1 + 0.2],
                             "borrowed": [None]}), path)
    assert problems_of(proto, path) == [
        f"{path}:row 1: supplied: has more than 6 decimal places (0.30000000000000004)"]


def test_csv_and_parquet_written_by_write_book_read_back_the_same(
        tmp_path: Path, proto: ProtocolConfig) -> None:
    csv_path = tmp_path / "book.csv"
    csv_path.write_text(f"{HEADER}\nalice,WETH,1.000000000000000001,\nalice,USDC,,7\n"
                        "bob/iso,USDC,3,\n")
    book = read_both(proto, csv_path)
    for name in ("again.csv", "again.parquet"):
        write_book(book, proto, tmp_path / name)
        back = read_both(proto, tmp_path / name)
        assert [b[0::2] + b[3:] for b in balances(back)] == \
            [b[0::2] + b[3:] for b in balances(book)]


# ---------------------------------------------------------------------- perp books
def test_perp_book_in_parquet_with_typed_columns(tmp_path: Path,
                                                 proto: ProtocolConfig) -> None:
    path = tmp_path / "perps.parquet"
    pq.write_table(pa.table({
        "account": ["alice", "alice/iso1", "bob", "carol"],
        "market": ["ETH-PERP"] * 4,
        "size": pa.array([Decimal("2"), Decimal("-1.5"), Decimal("0"), Decimal("1")],
                         pa.decimal128(38, 18)),
        "entry_price": [2000, 2000, 2000, None],
        "quote": ["1000", None, "5", "5"],
    }), path)
    with pytest.raises(ConfigError) as info:
        read_book(proto, perps=path)
    assert info.value.problems == [f"{path}:row 3: size: must not be zero",
                                   f"{path}:row 4: entry_price: required"]
    pq.write_table(pq.read_table(path).slice(0, 2), path)
    book = read_book(proto, perps=path)
    assert [(a.id, a.positions, a.quote) for a in book.accounts] == [
        ("alice", {"ETH-PERP": (2 * WEI, 2000 * 10**8)}, 1000 * USDC),
        ("alice/iso1", {"ETH-PERP": (-15 * WEI // 10, 2000 * 10**8)}, 0)]


def test_lending_and_perp_problems_come_together_and_nothing_is_returned(
        tmp_path: Path, proto: ProtocolConfig) -> None:
    lending = tmp_path / "book.csv"
    lending.write_text(f"{HEADER}\nalice,WETH,1,\nbob,WETH,x,\n")
    perps = tmp_path / "perps.csv"
    perps.write_text("account,market,size,entry_price,quote\nalice,ETH-PERP,1,2000,5\n"
                     "alice,BTC-PERP,1,2000,\n_book,ETH-PERP,1,2000,\n")
    with pytest.raises(ConfigError) as info:
        sim_books.read_book(proto, lending, perps)
    assert info.value.problems == [
        f"{lending}:3: supplied: must be a number ('x' is not)",
        f"{perps}:3: market: unknown perp market 'BTC-PERP' (perp markets: ETH-PERP)",
        f"{perps}:4: account: '_book' is reserved (it takes the other side of loaded perp "
        "positions)"]


def test_reserved_accounts_when_named_by_a_row_then_refused_by_line_by_both_faces(
        tmp_path: Path, proto: ProtocolConfig) -> None:
    # _liquidity is the service's: its genesis deposits what the borrowers owe beyond the
    # suppliers' supply by it, so a book's _liquidity would be credited with that too.
    path = tmp_path / "book.csv"
    path.write_text(f"{HEADER}\nalice,WETH,1,\n_liquidity,USDC,100,\n_book,WETH,1,\n"
                    "_liquidity/x,WETH,1,\n")
    assert problems_of(proto, path) == [
        f"{path}:3: account: '_liquidity' is reserved (the service's account that supplies "
        "what a book's borrowers owe beyond its suppliers' supply)",
        f"{path}:4: account: '_book' is reserved (it takes the other side of loaded perp "
        "positions)"]
