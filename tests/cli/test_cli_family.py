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
