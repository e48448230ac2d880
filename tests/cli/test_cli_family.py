"""``marginengine family``: each family's example runs from the CLI; bad input is one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_cli import EXAMPLES, run

FAMILIES = EXAMPLES / "families"


@pytest.mark.parametrize(("name", "family"), [
    ("morpho_bad_debt", "morpho-blue"),
    ("liquity_recovery_crash", "liquity-v1"),
    ("euler_ramp_liquidation", "euler-v2"),
    ("mango_health", "mango-v4"),
    ("drift_cross_margin", "drift-v2"),
])
def test_family_example_runs_from_the_cli(name: str, family: str,
                                          capsys: pytest.CaptureFixture[str]):
    code, out, err = run(["family", str(FAMILIES / f"{name}.toml"), "--json"], capsys)
    assert code == 0, err
    report = json.loads(out)
    assert report["family"] == family and report["name"] == name
    assert any(step["liquidations"] or any(
        a.get("liquidatable") for a in (*step.get("accounts", {}).values(),
                                        *step.get("margin", {}).values()))
        for step in report["steps"])


def test_family_table_output(capsys: pytest.CaptureFixture[str]):
    code, out, _ = run(["family", str(FAMILIES / "morpho_bad_debt.toml")], capsys)
    assert code == 0
    assert "5900.777794" in out and "morpho-org/morpho-blue@3085651" in out


@pytest.mark.parametrize(("text", "expected"), [
    ('name = "x"\nfamily = "compound"\n', "family: unknown family preset 'compound'"),
    ('name = "x"\n', "family: unknown family preset None"),
    ('name = "x"\nfamily = "euler-v2"\n', "vault: required field is missing"),
])
def test_family_bad_input_is_one_line_exit_2(tmp_path: Path, text: str, expected: str,
                                             capsys: pytest.CaptureFixture[str]):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    code, out, err = run(["family", str(path)], capsys)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1 and expected in err


def test_scan_with_the_morpho_preset_says_why_not(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]):
    (tmp_path / "book.csv").write_text("account,asset,supplied,borrowed\nalice,WETH,10,\n")
    (tmp_path / "prices.toml").write_text("[prices]\nWETH = 1800\nUSDC = 1\n")
    code, _, err = run(["scan", str(tmp_path / "book.csv"), "--prices",
                        str(tmp_path / "prices.toml"), "--preset", "morpho-blue"], capsys)
    assert code == 2 and err.count("\n") == 1
    assert "preset: morpho-blue has isolated markets" in err


def test_scan_with_the_liquity_preset_says_why_not(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]):
    (tmp_path / "book.csv").write_text("account,asset,supplied,borrowed\nalice,ETH,10,\n")
    (tmp_path / "prices.toml").write_text("[prices]\nETH = 1800\nLUSD = 1\n")
    code, _, err = run(["scan", str(tmp_path / "book.csv"), "--prices",
                        str(tmp_path / "prices.toml"), "--preset", "liquity-v1"], capsys)
    assert code == 2 and err.count("\n") == 1
    assert "preset: liquity-v1 has troves" in err


@pytest.mark.parametrize("preset", ["euler-v2", "mango-v4", "drift-v2"])
def test_scan_with_a_family_book_preset_says_why_not(tmp_path: Path, preset: str,
                                                     capsys: pytest.CaptureFixture[str]):
    (tmp_path / "book.csv").write_text("account,asset,supplied,borrowed\nalice,USDC,10,\n")
    (tmp_path / "prices.toml").write_text("[prices]\nUSDC = 1\n")
    code, _, err = run(["scan", str(tmp_path / "book.csv"), "--prices",
                        str(tmp_path / "prices.toml"), "--preset", preset], capsys)
    assert code == 2 and err.count("\n") == 1
    assert f"preset: {preset} keeps its accounts in a family book" in err


MANGO = FAMILIES / "mango_health.toml"


@pytest.mark.parametrize(("old", "new", "expected"), [
    # Mango holds the scale start as an f64 of native quote units: 1e999 USDC overflowed
    # float() (OverflowError, "internal error").
    ("borrow_weight_scale_start_quote = 25_000_000 ",
     'borrow_weight_scale_start_quote = "1e999" ',
     "mango.tokens.USDC.borrow_weight_scale_start_quote: too large (Mango holds it as an "
     "f64 of native quote units, at most 1.798e+308; got 1e+999 with 6 decimals)"),
    # token_withdraw takes a u64: a 1e300 USDC borrow overflowed the health's float display.
    ("USDC = -6_000 }", "USDC = -1e300 }",
     "accounts.0.tokens.USDC: refused by the protocol's rules: amount: must fit Mango's u64 "
     "(at most 18,446,744,073,709,551,615 in absolute value, got a 307-digit number)"),
    # A perp fill is i64 base lots and i64 quote.
    ("quote = 2_000 }", "quote = -1e300 }",
     "accounts.0.perps.SOL-PERP: refused by the protocol's rules: quote: must fit Mango's i64"),
    ("base_lots = -2_000,", "base_lots = -10_000_000_000_000_000_000,",
     "accounts.0.perps.SOL-PERP: refused by the protocol's rules: base_lots: must fit "
     "Mango's i64 (at most 9,223,372,036,854,775,807 in absolute value, got "
     "-10,000,000,000,000,000,000)"),
])
def test_family_mango_when_amount_beyond_mango_types_then_one_line(
    tmp_path: Path, old: str, new: str, expected: str, capsys: pytest.CaptureFixture[str]
):
    text = MANGO.read_text()
    assert text.count(old) == 1
    path = tmp_path / "bad.toml"
    path.write_text(text.replace(old, new))
    code, out, err = run(["family", str(path)], capsys)
    assert code == 2 and out == "", err
    assert err.startswith("error: ") and err.count("\n") == 1 and expected in err


def test_family_mango_when_amounts_at_mango_bounds_then_accepted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    # The largest f64 scale start is still a limit (never reached: no scaling).
    path = tmp_path / "big.toml"
    path.write_text(MANGO.read_text().replace(
        "borrow_weight_scale_start_quote = 25_000_000 ",
        "borrow_weight_scale_start_quote = 1e300 "))
    code, out, err = run(["family", str(path), "--json"], capsys)
    assert code == 0, err
    assert json.loads(out)["name"] == "mango_health"
