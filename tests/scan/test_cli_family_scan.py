"""``marginengine scan --log LOG``: the family book of the engine an event log rebuilds,
scanned with the family's rule (Liquity: the TCR and the mode; Morpho: per market), and
bad input as one line, exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from marginengine.config import protocol_from_dict
from marginengine.engine import (
    Deposit,
    Engine,
    Event,
    LiquityOpenTrove,
    LiquityProvideToSP,
    MangoDeposit,
    MangoWithdraw,
    MorphoBorrow,
    MorphoSupply,
    MorphoSupplyCollateral,
    SetPrice,
)
from marginengine.fixedpoint import PRICE_UNIT
from tests.cli.test_cli import run

E, USDC = 10**18, 10**6


def write_log(path: Path, preset: str, events: list[Event]) -> str:
    engine = Engine.with_log(protocol_from_dict({"preset": preset}), path)
    for event in events:
        assert engine.apply(event).accepted, event
    engine.close()
    return str(path)


def test_scan_log_of_a_liquity_book_in_recovery_mode(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]):
    # tests/scan/test_liquity.py's recovery book: x at ICR 120% < TCR 128.3%, y at 130%.
    log = write_log(tmp_path / "liquity.sqlite", "liquity-v1", [
        SetPrice("ETH", 4_000 * PRICE_UNIT),
        LiquityOpenTrove("x", 12_180 * E // 1_000, 20_000 * E),
        LiquityOpenTrove("y", 65_455 * E // 1_000, 100_000 * E),
        LiquityProvideToSP("sp", 30_000 * E), SetPrice("ETH", 2_000 * PRICE_UNIT)])
    code, out, err = run(["scan", "--log", log, "--json"], capsys)
    assert code == 0 and err == ""
    report = json.loads(out)
    assert report["preset"] == "liquity-v1" and report["events"] == 5
    assert report["liquidatable"] == ["x"] and report["screened"] == 2
    assert report["tcr"] == str(155_270 * E * E // (121_000 * E))
    assert report["recovery_mode"] is True and report["candidates"] == 1
    code, out, _ = run(["scan", "--log", log], capsys)
    assert code == 0
    assert "1 liquidatable of 2 troves screened (1 confirmed exactly)" in out
    assert "TCR 128.32%: recovery mode" in out and "│ x " in out


def test_scan_log_of_a_morpho_market(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    # 1 WETH at 2,000 x 86% = 1,720 of power: carol owes exactly that, eve one unit more.
    m = "WETH/USDC"
    log = write_log(tmp_path / "morpho.sqlite", "morpho-blue", [
        SetPrice("USDC", PRICE_UNIT), SetPrice("WETH", 2_500 * PRICE_UNIT),
        MorphoSupply("lp", m, assets=10**6 * USDC),
        MorphoSupplyCollateral("carol", m, E), MorphoBorrow("carol", m, assets=1_720 * USDC),
        MorphoSupplyCollateral("eve", m, E), MorphoBorrow("eve", m, assets=1_720 * USDC + 1),
        SetPrice("WETH", 2_000 * PRICE_UNIT)])
    code, out, _ = run(["scan", "--log", log, "--json"], capsys)
    assert code == 0
    report = json.loads(out)
    assert report["liquidatable"] == ["eve"] and "tcr" not in report
    assert report["markets"] == {m: {"screened": 3, "candidates": 2, "liquidatable": ["eve"]}}
    code, out, _ = run(["scan", "--log", log], capsys)
    assert "│ WETH/USDC │ eve " in out and "1 liquidatable of 3 positions screened" in out


def test_scan_log_of_a_mango_book(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    # tests/scan/test_family_books.py's Mango book without the perp: 10 SOL (maint 0.9)
    # against 600 + 20 i USDC borrowed (maint x 1.025): at SOL 71, 639 < (600 + 20 i) x
    # 1.025 from i = 2.
    sol = 10**9
    events: list[Event] = [SetPrice("USDC", PRICE_UNIT), SetPrice("SOL", 100 * PRICE_UNIT),
                           SetPrice("SOL-PERP", 100 * PRICE_UNIT)]
    for i in range(4):
        events += [MangoDeposit(f"m{i}", "SOL", 10 * sol),
                   MangoWithdraw(f"m{i}", "USDC", (600 + 20 * i) * USDC)]
    log = write_log(tmp_path / "mango.sqlite", "mango-v4",
                    [*events, SetPrice("SOL", 71 * PRICE_UNIT)])
    code, out, _ = run(["scan", "--log", log, "--json"], capsys)
    assert code == 0
    report = json.loads(out)
    assert report["liquidatable"] == ["m2", "m3"] and report["screened"] == 4
    assert "tcr" not in report and "markets" not in report


@pytest.mark.parametrize("extra, message", [
    (["--prices", "p.toml"], "--log: scans a family book at the log's prices, without "
                             "--prices"),
    (["--shock", "ETH:-0.3"], "without --shock"),
    (["--threshold", "1.1"], "without --threshold"),
    # Not a threshold at all: refused as the option's value, before --log's rule.
    (["--threshold", "abc"], "Invalid value for '--threshold': must be a number such as 1"),
    (["book.csv"], "without BOOK"),
])
def test_scan_log_with_book_options_is_refused(tmp_path: Path, extra: list[str],
                                               message: str,
                                               capsys: pytest.CaptureFixture[str]):
    log = write_log(tmp_path / "l.sqlite", "liquity-v1", [SetPrice("ETH", PRICE_UNIT)])
    code, out, err = run(["scan", "--log", log, *extra], capsys)
    assert code == 2 and out == "" and message in err and len(err.strip().splitlines()) == 1


def test_scan_log_bad_input_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    code, _, err = run(["scan", "--log", str(tmp_path / "none.sqlite")], capsys)
    assert code == 2 and err.strip() == f"error: {tmp_path / 'none.sqlite'}: no such event log"
    # A pooled-lending preset has no family book: its accounts are scanned from a BOOK file.
    log = write_log(tmp_path / "aave.sqlite", "aave-v3",
                    [SetPrice("USDC", PRICE_UNIT), Deposit("lp", "USDC", 1_000 * USDC)])
    code, _, err = run(["scan", "--log", log], capsys)
    assert code == 2 and err.startswith("error: preset: aave-v3 has no family book")
    assert len(err.strip().splitlines()) == 1
    code, _, err = run(["scan"], capsys)
    assert code == 2 and "BOOK: missing (or --log LOG for a family preset)" in err
    code, _, err = run(["scan", "book.csv"], capsys)
    assert code == 2 and "--prices: required with BOOK" in err
