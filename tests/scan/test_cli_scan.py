"""``marginengine scan``: output, --json, --shock, and bad input as one line, exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from marginengine.cli.main import cli
from marginengine.scan.files import load_engine
from marginengine.scan.synthetic import generate_book
from tests.cli.test_cli import run

BOOK = (
    "account,asset,supplied,borrowed\n"
    "alice,WETH,10,\n"
    "alice,USDC,,15000\n"
    "bob,WETH,1,\n"
    "bob,USDC,2000,\n"
    "bob,DAI,,3000\n"
    "carol,WETH,5,\n"
    "carol,USDC,,8000\n"
)
MARKETS = (
    '[protocol]\npreset = "aave-v3"\n'
    '[protocol.markets.WETH]\nltv = 0.80\nliquidation_threshold = 0.825\n'
    '[protocol.markets.USDC]\nltv = 0.75\nliquidation_threshold = 0.80\n'
    '[protocol.markets.DAI]\nltv = 0.75\nliquidation_threshold = 0.80\n'
)
PRICES = "[prices]\nWETH = 1800\nUSDC = 1\nDAI = 1\n"


@pytest.fixture
def files(tmp_path: Path) -> list[str]:
    (tmp_path / "book.csv").write_text(BOOK)
    (tmp_path / "prices.toml").write_text(PRICES)
    (tmp_path / "protocol.toml").write_text(MARKETS)
    return [str(tmp_path / "book.csv"), "--prices", str(tmp_path / "prices.toml"),
            "--protocol", str(tmp_path / "protocol.toml")]


def test_scan_when_weth_at_1800_then_alice_and_carol_by_shortfall(
    files: list[str], capsys: pytest.CaptureFixture[str]
):
    code, out, err = run(["scan", *files], capsys)
    assert code == 0 and err == ""
    # carol: 8,000 - 9,000 x 82.5% = 575 short; alice: 15,000 - 18,000 x 82.5% = 150
    assert out.index("carol") < out.index("alice")
    assert "bob" not in out.split("Sensitivity")[0]
    assert "2 of 4 accounts" not in out  # the book has 3 accounts
    assert "2 of 3 accounts; collateral 27,000.00 USD, debt 23,000.00 USD, shortfall " \
           "725.00 USD" in out
    assert "Sensitivity to WETH" in out and "50%" in out


def test_scan_when_json_then_exact_figures_and_curve(files: list[str],
                                                     capsys: pytest.CaptureFixture[str]):
    code, out, _ = run(["scan", *files, "--json"], capsys)
    assert code == 0
    report = json.loads(out)
    assert [a["account"] for a in report["accounts"]] == ["carol", "alice"]
    carol = report["accounts"][0]
    assert carol["shortfall_base"] == 575 * 10**8
    assert carol["health_factor_wad"] == str(928_125_000_000_000_000)
    assert report["totals"] == {"accounts": 2, "collateral": str(27_000 * 10**8),
                                "debt": str(23_000 * 10**8), "shortfall": str(725 * 10**8)}
    points = report["curve"]["points"]
    assert report["curve"]["asset"] == "WETH" and len(points) == 10
    assert [p["drop"] for p in points[:2]] == ["0.05", "0.1"]
    assert points[0]["accounts"] == 2 and points[-1]["accounts"] == 3
    assert all(a <= b for a, b in zip([p["debt_usd"] for p in points],
                                      [p["debt_usd"] for p in points[1:]], strict=False))


def test_scan_curve_when_a_lender_holds_the_most_collateral_then_it_is_of_what_backs_debt(
    files: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    # A lender supplying 1,000,000 USDC and owing nothing made USDC "the asset with the
    # most collateral value": the default curve dropped USDC, the borrowers' debt asset,
    # and counted fewer accounts liquidatable the further it fell. No fall in the price
    # of a debt-free account's collateral can liquidate it; the borrowers' WETH can.
    (tmp_path / "book.csv").write_text(BOOK + "lender,USDC,1000000,\n")
    code, out, _ = run(["scan", *files, "--json"], capsys)
    assert code == 0
    curve = json.loads(out)["curve"]
    assert curve["asset"] == "WETH"
    assert curve["points"][0]["accounts"] == 2 and curve["points"][-1]["accounts"] == 3


def test_scan_when_shock_then_listed_at_shocked_prices_exactly(
    files: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    code, out, _ = run(["scan", *files, "--shock", "WETH:-0.2", "--json",
                        "--curve-drops", "0,0.1"], capsys)
    assert code == 0
    report = json.loads(out)
    assert report["shocks"] == {"WETH": "-0.2"}
    assert report["prices"]["WETH"] == str(1_440 * 10**8)
    engine = load_engine(tmp_path / "book.csv", tmp_path / "prices.toml",
                         tmp_path / "protocol.toml")
    prices = {**dict(engine.prices), "WETH": 1_440 * 10**8}
    expected = sorted(a for a in engine.ledger.accounts
                      if engine.model.is_liquidatable(engine.ledger, prices, a))
    assert sorted(a["account"] for a in report["accounts"]) == expected == [
        "alice", "bob", "carol"]
    assert [p["price"] for p in report["curve"]["points"]] == [
        str(1_440 * 10**8), str(1_296 * 10**8)]


def test_scan_when_threshold_and_limit_then_more_accounts_fewer_rows(
    files: list[str], capsys: pytest.CaptureFixture[str]
):
    code, out, _ = run(["scan", *files, "--threshold", "1.05", "--limit", "1"], capsys)
    assert code == 0
    assert "Accounts below health 1.05" in out
    assert "... and 2 more" in out  # bob 1.028 joins alice and carol


def test_scan_when_generated_parquet_book_then_runs(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]):
    synthetic = generate_book(300, 6, seed=9)
    synthetic.write_parquet(tmp_path / "b.parquet")
    synthetic.write_prices(tmp_path / "p.toml")
    synthetic.write_protocol(tmp_path / "proto.toml")
    code, out, _ = run(["scan", str(tmp_path / "b.parquet"), "--prices",
                        str(tmp_path / "p.toml"), "--protocol", str(tmp_path / "proto.toml"),
                        "--json"], capsys)
    assert code == 0
    assert json.loads(out)["book_accounts"] == 300


@pytest.mark.parametrize(("extra", "expected"), [
    (["--shock", "WETH"], "expected ASSET:FRACTION such as WETH:-0.3, got 'WETH'"),
    (["--shock", "WETH:abc"], "WETH: must be a number such as -0.3"),
    (["--shock", "WETH:-1.5"], "must be a finite fraction greater than -1"),
    (["--shock", ":0.1"], "expected ASSET:FRACTION"),
    (["--shock", "XYZ:-0.1"], "--shock: unknown asset 'XYZ'"),
    (["--curve-drops", "0.1,x"], "'x' is not a number"),
    (["--curve-drops", "1.5"], "each drop must be in [0, 1)"),
    # Was "threshold: must be ..." after the whole book was read: now the option's own
    # error, before anything is read.
    (["--threshold", "0"],
     "error: Invalid value for '--threshold': must be between 0.001 and 1000 (got 0)"),
    # Two shocks of one asset: the second replaced the first, silently (-20% scanned for
    # a command line saying -10% too); a sweep refuses a value given twice the same way.
    (["--shock", "WETH:-0.1", "--shock", "WETH:-0.2"],
     "Invalid value for '--shock': WETH: given twice (-0.1 and -0.2); give one fraction "
     "per asset"),
    (["--curve-drops", "0.1,0.2,0.1"],
     "Invalid value for '--curve-drops': the drop 0.1 is given twice"),
    (["--curve-asset", "XYZ"], "--curve-asset: 'XYZ' is not a priced market"),
])
def test_scan_when_bad_option_then_one_line_exit_2(files: list[str], extra: list[str],
                                                   expected: str,
                                                   capsys: pytest.CaptureFixture[str]):
    code, out, err = run(["scan", *files, *extra], capsys)
    assert code == 2 and out == ""
    assert expected in err and err.startswith("error: ")
    assert err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize(("book", "expected"), [
    (None, "file not found"),
    ("account,asset,supplied,borrowed\nalice,WETH,1x,\n",
     "bad.csv:2: supplied: must be a number ('1x' is not)"),
    ("account,asset,supplied,borrowed\nalice,FOO,1,\n",
     "bad.csv:2: asset: unknown asset 'FOO'"),
    ("account,asset,supplied,borrowed\nalice,WETH,-1,\n",
     "bad.csv:2: supplied: must not be negative (got -1)"),
])
def test_scan_when_bad_book_then_one_line_exit_2(files: list[str], tmp_path: Path,
                                                 book: str | None, expected: str,
                                                 capsys: pytest.CaptureFixture[str]):
    path = tmp_path / "bad.csv"
    if book is not None:
        path.write_text(book)
    code, out, err = run(["scan", str(path), *files[1:]], capsys)
    assert code == 2 and out == ""
    assert expected in err and err.count("\n") == 1 and "Traceback" not in err


def test_scan_when_prices_file_missing_then_one_line(files: list[str], tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]):
    code, _, err = run(["scan", files[0], "--prices", str(tmp_path / "none.toml")], capsys)
    assert code == 2 and "file not found" in err and err.count("\n") == 1


def test_scan_help():
    result = CliRunner().invoke(cli, ["scan", "--help"])
    assert result.exit_code == 0 and "--shock ASSET:FRACTION" in result.output


def test_scan_when_book_has_a_header_and_no_row_then_refused_as_empty(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    # Was: zero accounts and no curve (exit 0). The book format has one reader for every
    # face, and the simulator refuses such a file: a scan of nobody reports nothing
    # liquidatable, which is what an export that went wrong looks like.
    book = tmp_path / "book.csv"
    book.write_text("\ufeffaccount,asset,supplied,borrowed\n")  # with a BOM
    (tmp_path / "prices.toml").write_text("[prices]\nWETH = 2000\n")
    code, out, err = run(["scan", str(book), "--prices", str(tmp_path / "prices.toml"),
                          "--json"], capsys)
    assert code == 2 and out == ""
    assert err == f"error: {book}: no rows after the header (the book is empty)\n"
    book.write_text("\ufeffaccount,asset,supplied,borrowed\r\nalice,WETH,1,\r\n")
    code, out, _ = run(["scan", str(book), "--prices", str(tmp_path / "prices.toml"),
                        "--json"], capsys)
    assert code == 0 and json.loads(out)["book_accounts"] == 1


def test_scan_when_two_collaterals_then_shortfall_of_the_sum_the_health_is_of(
    files: list[str], capsys: pytest.CaptureFixture[str]
):
    # bob at WETH -20%: 1 WETH at 1,440 (LT 82.5%) and 2,000 USDC (LT 80%) against 3,000
    # DAI. aave-v3's health is sum C_i x LT_i / D = (1,188 + 1,600) / 3,000 = 0.929333;
    # his shortfall is 3,000 - 2,788 = 212 USD. It was 212.2240: 3,440 x the floored
    # average 81.04% (the exact one is 81.0465%) = 2,787.776.
    code, out, _ = run(["scan", *files, "--shock", "WETH:-0.2", "--json"], capsys)
    assert code == 0
    bob = next(a for a in json.loads(out)["accounts"] if a["account"] == "bob")
    assert bob["health_factor_wad"] == str(929_333_333_333_333_333)
    assert bob["collateral_base"] == 3_440 * 10**8
    assert bob["shortfall_base"] == 212 * 10**8


def test_scan_when_fine_drops_and_limit_0_then_exact_percentages_and_prices_no_table(
    files: list[str], capsys: pytest.CaptureFixture[str]
):
    # The curve's drops were rounded to whole percent (0.025 showed as 2%, 0.125 as 12%,
    # 0.005 as 0%) and its prices to the cent (USDC at 0.975 as 0.97); --limit 0 printed
    # an empty accounts table.
    code, out, _ = run(["scan", *files, "--shock", "WETH:-0.125", "--limit", "0",
                        "--curve-asset", "USDC", "--curve-drops", "0.025,0.125,0.005,0.1"],
                       capsys)
    assert code == 0
    assert "Accounts below health" not in out and "account " not in out
    assert "3 of 3 accounts" in out
    rows = [line.split("│")[1:3] for line in out.splitlines() if line.count("│") == 7]
    assert [(d.strip(), p.strip()) for d, p in rows] == [
        ("2.5%", "0.975"), ("12.5%", "0.875"), ("0.5%", "0.995"), ("10%", "0.90")]
    code, out, _ = run(["scan", *files, "--shock", "WETH:-0.125", "--limit", "1"], capsys)
    assert "Accounts below health 1 (WETH -12.5%)" in out
