"""Inputs that used to end in a traceback (issue 9, item 4): each is now one line on
stderr naming the field and the reason, exit 2, and nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.test_cli import EXAMPLES, run

QUICKSTART = EXAMPLES / "quickstart.toml"


def one_line_error(code: int, err: str) -> str:
    assert code == 2, err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    return err


@pytest.mark.parametrize(("override", "expected"), [
    ("prices.USDC=abc", "prices.USDC: must be a number ('abc' is not)"),
    ("prices.USDC=nan", "prices.USDC: must be a finite number (nan is not)"),
    ("prices.USDC=[1]", "prices.USDC: must be a number or a decimal string, not an array"),
    ("liquidity.USDC=abc", "liquidity.USDC: must be a number ('abc' is not)"),
    ("liquidity.FOO=5", "liquidity.FOO: unknown asset (markets: USDC, WETH)"),
    ('accounts=[{id="a",deposit={WETH="x"}}]',
     "accounts.0.deposit.WETH: must be a number ('x' is not)"),
    ("price.sigma=1e308", "price.sigma: must be at most 100"),
    # Aave's MAX_BORROW_RATE (1,000% a year) bounds the rate model; this one overflowed
    # the risk book's float indices (OverflowError in scan/assets.py).
    ("protocol.markets.USDC.interest_rate.slope1=100000000000",
     "protocol.markets.USDC.interest_rate: base + slope1 + slope2 must be at most 10 "
     "(1,000% a year, Aave's MAX_BORROW_RATE), got 100000000000.40"),
])
def test_simulate_cascade_when_field_bad_then_one_line_naming_it(
    tmp_path: Path, override: str, expected: str, capsys: pytest.CaptureFixture[str]
):
    code, out, err = run(["simulate", str(QUICKSTART), "--out", str(tmp_path / "o"),
                          "--quiet", "--set", override], capsys)
    assert expected in one_line_error(code, err) and out == ""
    assert list(tmp_path.iterdir()) == []


def test_simulate_scripted_when_perp_quote_beyond_uint256_then_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    scenario = tmp_path / "big.toml"
    text = (EXAMPLES / "perp_crash.toml").read_text()
    assert "quote = 2_000_000\n" in text
    scenario.write_text(text.replace("quote = 2_000_000\n", f"quote = {10**400}\n", 1))
    code, _, err = run(["simulate", str(scenario), "--out", str(tmp_path / "o")], capsys)
    assert f"{scenario}: accounts.0.quote: too large (a 401-digit number is more than " \
           "2**256 - 1 smallest units, the largest on-chain balance)" in one_line_error(code,
                                                                                        err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.toml"]


@pytest.fixture
def scan_files(tmp_path: Path) -> list[str]:
    (tmp_path / "book.csv").write_text(
        "account,asset,supplied,borrowed\nalice,WETH,10,\nalice,USDC,,15000\n")
    (tmp_path / "prices.toml").write_text("[prices]\nWETH = 1800\nUSDC = 1\n")
    (tmp_path / "protocol.toml").write_text(
        '[protocol]\npreset = "aave-v3"\n[protocol.markets.WETH]\n[protocol.markets.USDC]\n')
    return [str(tmp_path / "book.csv"), "--prices", str(tmp_path / "prices.toml"),
            "--protocol", str(tmp_path / "protocol.toml")]


def test_scan_when_shock_would_leave_float_range_then_refused(
    scan_files: list[str], capsys: pytest.CaptureFixture[str]
):
    code, _, err = run(["scan", *scan_files, "--shock", "WETH:1e308"], capsys)
    assert "WETH: must be at most 1000 (a 1,001-fold price; got '1e308')" in \
        one_line_error(code, err)
    code, out, _ = run(["scan", *scan_files, "--shock", "WETH:1000", "--json"], capsys)
    assert code == 0 and '"WETH": "180180000000000"' in out  # 1,800 x 1,001, 8 decimals


def test_scan_when_threshold_not_a_number_then_named(scan_files: list[str],
                                                    capsys: pytest.CaptureFixture[str]):
    code, _, err = run(["scan", *scan_files, "--threshold", "abc"], capsys)
    assert one_line_error(code, err) == \
        "error: Invalid value for '--threshold': must be a number such as 1 or 1.05 (got 'abc')\n"
    code, _, err = run(["scan", *scan_files, "--threshold", "nan"], capsys)
    assert "'--threshold': must be a finite number (got 'nan')" in one_line_error(code, err)


DEEP = "x = " + "[" * 500 + "]" * 500 + "\n"


@pytest.mark.parametrize("command", ["simulate", "health", "scan"])
def test_when_toml_nested_500_deep_then_depth_limit_named(
    tmp_path: Path, command: str, scan_files: list[str], capsys: pytest.CaptureFixture[str]
):
    deep = tmp_path / "deep.toml"
    deep.write_text(DEEP)
    args = {"simulate": ["simulate", str(deep), "--out", str(tmp_path / "o")],
            "health": ["health", str(deep)],
            "scan": ["scan", scan_files[0], "--prices", str(deep)]}[command]
    code, _, err = run(args, capsys)
    assert one_line_error(code, err) == \
        f"error: {deep}: a value is nested more than 32 levels deep\n"
    assert not (tmp_path / "o").exists()


def test_when_toml_nested_past_the_limit_but_parsable_then_path_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    deep = tmp_path / "deep.toml"
    deep.write_text("x = " + "[" * 40 + "]" * 40 + "\n")
    code, _, err = run(["health", str(deep)], capsys)
    assert one_line_error(code, err) == \
        f"error: {deep}: x{'.0' * 32}: nested more than 32 levels deep\n"
    code, _, err = run(["simulate", str(QUICKSTART), "--out", str(tmp_path / "o"),
                        "--set", "price.s0=" + "[" * 500 + "]" * 500], capsys)
    assert "--set price.s0: value nested more than 32 levels deep" in one_line_error(code, err)


def test_when_unexpected_exception_then_internal_error_line_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    import marginengine.engine.snapshot as snapshot

    def broken(path: object, notes: object = None) -> None:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(snapshot, "load_snapshot", broken)
    monkeypatch.delenv("MARGINENGINE_DEBUG", raising=False)
    code, _, err = run(["health", str(EXAMPLES / "snapshot.toml")], capsys)
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("internal error: ZeroDivisionError: division by zero (this is a "
                          "bug in marginengine; please report it")


def test_health_when_price_negative_then_reported_once_not_also_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    snap = tmp_path / "snap.toml"
    snap.write_text('[prices]\nWETH = -5\nUSDC = 1\nDAI = 1\nWBTC = 1\n'
                    '[[accounts]]\nid = "a"\nsupplied = { WETH = 1 }\n')
    code, _, err = run(["health", str(snap)], capsys)
    assert one_line_error(code, err) == f"error: {snap}: prices.WETH: must be positive (got -5)\n"


@pytest.mark.parametrize("value", ["[]", "{}"])
def test_health_when_perp_preset_not_a_string_then_named(
    tmp_path: Path, value: str, capsys: pytest.CaptureFixture[str]
):
    # A list or table as the perp preset used to be looked up in the presets
    # (TypeError: unhashable type, "internal error").
    text = (EXAMPLES / "snapshot_perps.toml").read_text()
    assert text.count('preset = "dydx-v4"') == 1
    snapshot = tmp_path / "snap.toml"
    snapshot.write_text(text.replace('preset = "dydx-v4"', f"preset = {value}"))
    code, out, err = run(["health", str(snapshot)], capsys)
    assert "protocol.perps.ETH-PERP.preset: must be 'dydx-v4' or 'hyperliquid'" in \
        one_line_error(code, err) and out == ""


def test_set_or_grid_when_integer_beyond_4300_digits_then_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    # Fuzzed: tomllib's ValueError (int() refuses beyond 4300 digits) was an internal error.
    huge = "9" * 5000
    code, _, err = run(["simulate", str(QUICKSTART), "--out", str(tmp_path / "o"),
                        "--set", f"steps={huge}"], capsys)
    assert one_line_error(code, err) == "error: --set steps: a number has more than 4300 " \
                                        "digits\n"
    code, _, err = run(["sweep", str(QUICKSTART), "--out", str(tmp_path / "s"),
                        "--grid", f"steps=3,{huge}"], capsys)
    assert one_line_error(code, err) == "error: --grid steps: a number has more than 4300 " \
                                        "digits\n"
    assert list(tmp_path.iterdir()) == []


SIGNED = ("in compound-v3 the base balance is signed: an account supplies USDC or borrows "
          "it, not both")


def test_scan_when_comet_book_supplies_and_owes_base_then_one_line_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    # Comet's one signed base principal per account (contracts/CometStorage.sol:
    # userBasic[account].principal, an int104): line 3 supplies 100 USDC and owes 5,000;
    # scanned, it was read as collateral 0 and debt 0 ("0 of 1 accounts").
    book = tmp_path / "book.csv"
    book.write_text("account,asset,supplied,borrowed\na,WETH,10,\na,USDC,100,5000\n")
    prices = tmp_path / "p.toml"
    prices.write_text("[prices]\nUSDC = 1\nWETH = 2000\n")
    code, out, err = run(["scan", str(book), "--prices", str(prices),
                          "--preset", "compound-v3"], capsys)
    assert one_line_error(code, err) == f"error: {book}:3: borrowed: {SIGNED}\n"
    assert out == ""


def test_health_when_comet_snapshot_supplies_and_owes_base_then_one_line_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    # Evaluated, it showed collateral 20,000 USD, debt 5,000 USD, health 3.6.
    snap = tmp_path / "snap.toml"
    snap.write_text('[protocol]\npreset = "compound-v3"\n[prices]\nUSDC = 1\nWETH = 2000\n'
                    '[[accounts]]\nid = "a"\nsupplied = { WETH = 10, USDC = 100 }\n'
                    'borrowed = { USDC = 5000 }\n')
    code, out, err = run(["health", str(snap)], capsys)
    assert one_line_error(code, err) == f"error: {snap}: accounts.0.borrowed.USDC: {SIGNED}\n"
    assert out == ""


def test_scan_when_book_rows_are_all_zero_then_refused_as_health_refuses_a_zero_snapshot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    # Scanned, it printed "0 of 0 accounts"; the same zero in a snapshot is refused.
    book = tmp_path / "book.csv"
    book.write_text("account,asset,supplied,borrowed\na,WETH,0,0\n")
    prices = tmp_path / "p.toml"
    prices.write_text("[prices]\nUSDC = 1\nWETH = 2000\n")
    code, out, err = run(["scan", str(book), "--prices", str(prices)], capsys)
    assert one_line_error(code, err) == (
        f"error: {book}:2: supplied: must be positive (got '0'): a row holds a supplied or "
        "a borrowed balance (both are 0 or empty; leave the row out)\n")
    assert out == ""
    snap = tmp_path / "snap.toml"
    snap.write_text('[protocol]\npreset = "aave-v3"\n[prices]\nUSDC = 1\nWETH = 2000\n'
                    '[[accounts]]\nid = "a"\nsupplied = { WETH = 0 }\n')
    code, out, err = run(["health", str(snap)], capsys)
    assert one_line_error(code, err) == (
        f"error: {snap}: accounts.0.supplied.WETH: must be positive (got 0)\n")
