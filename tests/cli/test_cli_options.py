"""``marginengine health`` on examples/options_book.toml: portfolio accounts margined by
PMRM_2 (derive-pm2), the worst scenario, the P&L per scenario and a what-if order.

The margins are the engine's PMRM_2 (tests/engine/test_options_engine.py ties them to the
pure model); here the figures must reach the CLI unchanged and agree with each other.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from marginengine.engine.snapshot import engine_from_snapshot, load_snapshot
from marginengine.errors import ConfigError
from tests.cli.test_cli import EXAMPLES, run

BOOK = EXAMPLES / "options_book.toml"


def test_options_book_json_lists_portfolio_accounts_with_the_scenario_table(
        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["health", str(BOOK), "--json"], capsys)
    assert code == 0
    data = json.loads(out)
    rows = {r["account"]: r for r in data["portfolio_accounts"]}
    assert sorted(rows) == ["_book", "spread", "thin", "writer"]
    engine = load_snapshot(BOOK)
    for account, row in rows.items():
        pm = engine.portfolio_margin(account)
        assert pm is not None
        assert row["mtm"] == pm.mtm and row["maintenance_margin"] == pm.maintenance
        assert len(row["scenarios"]) == 33          # Derive's mainnet scenario set
        pnls = [s["pnl"] for s in row["scenarios"]]
        if row["worst"]["source"] == "scenario":
            assert row["worst"]["value"] == min(pnls)
            assert row["worst"]["scenario"]["pnl"] == min(pnls)
        # Margin >= 0 exactly when not liquidatable (maintenance through the interface).
        assert row["liquidatable"] is (row["maintenance_margin"] < 0)
    # The writer's cash less the short 2200 call's mark is its MtM.
    assert rows["writer"]["cash"] == 2_500
    assert 0 < rows["writer"]["cash"] - rows["writer"]["mtm"] < 2_500
    assert rows["thin"]["liquidatable"] and not rows["spread"]["liquidatable"]
    # The worst case of a naked short call is an up-move; of a short put, a down-move.
    assert rows["writer"]["worst"]["scenario"]["spot_shock"] > 1
    assert rows["thin"]["worst"]["scenario"]["spot_shock"] < 1
    # The lending account keeps Aave's health factor in the ordinary rows.
    assert [r["account"] for r in data["accounts"]] == ["lp"]


def test_what_if_order_reports_margin_before_and_after(capsys: pytest.CaptureFixture[str]):
    code, out, _ = run(["health", str(BOOK), "--json", "--order",
                        "writer:WETH-2592000-2200-C:-2:120"], capsys)
    assert code == 0
    w = json.loads(out)["what_if"]
    before = json.loads(run(["health", str(BOOK), "--json"], capsys)[1])
    writer = next(r for r in before["portfolio_accounts"] if r["account"] == "writer")
    assert w["initial_before"] == writer["initial_margin"]
    # Selling two more calls adds risk: initial margin falls but stays >= 0 (accepted).
    assert 0 <= w["initial_after"] < w["initial_before"]
    assert w["accepted"] is True
    assert w["worst_after"]["value"] == min(s["pnl"] for s in w["scenarios_after"])
    # Selling far more than the cash covers is refused by the pre-trade rule.
    code, out, _ = run(["health", str(BOOK), "--json", "--order",
                        "writer:WETH-2592000-2200-C:-40"], capsys)
    assert code == 0 and json.loads(out)["what_if"]["accepted"] is False


@pytest.mark.parametrize(("order", "message"), [
    ("writer:BAD:1", "series must be"),
    ("writer:WETH-2592000-2200-C", "ACCOUNT:SERIES:SIZE"),
    # Each part named with its value (was one line for all three: "order: strike must be
    # > 0, size non-zero, premium >= 0", whichever was wrong).
    ("writer:WETH-2592000-2200-C:0", "error: order.size: must not be zero (got '0')"),
    ("writer:WETH-2592000-0-C:1", "error: order.strike: must be positive (got '0')"),
    ("writer:WETH-2592000-2200-C:-2:-5",
     "error: order.premium: must not be negative (got '-5')"),
    ("writer:WETH-2592000-2200-C:abc", "error: order.size: must be a number ('abc' is not)"),
    ("writer:WETH-2592000-2200-C:1:x", "error: order.premium: must be a number ('x' is not)"),
    ("writer:WETH-999-2200-C:1", "no vol surface"),
    # Fuzzed: a 5,000-digit expiry was "internal error: ValueError" (int() refuses it); a
    # size of 1e308 overflowed the float screen, refused as "shocked_mtm: must be finite".
    ("writer:WETH-" + "9" * 5000 + "-2200-C:1",
     "order: expiry must be unix seconds (got a 5000-digit number)"),
    ("writer:WETH-2592000-2200-C:1e308",
     "order: size too large (more than 2**256 - 1 smallest units)"),
    ("writer:WETH-2592000-1e300-C:1",
     "order: strike too large (more than 2**256 - 1 smallest units)"),
])
def test_bad_order_is_one_line_exit_2(order: str, message: str,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["health", str(BOOK), "--json", "--order", order], capsys)
    assert code == 2 and message in err and err.count("\n") == 1  # one line, no warning


def test_order_when_account_unknown_then_refused_naming_it(
        capsys: pytest.CaptureFixture[str]) -> None:
    # It margined an empty portfolio for the mistyped id and answered as if it were right.
    code, out, err = run(["health", str(BOOK), "--json", "--order",
                          "wrtier:WETH-2592000-2200-C:1"], capsys)
    assert (code, out) == (2, "")
    assert err.strip() == ("error: order: unknown account 'wrtier' (the snapshot's "
                           "accounts: lp, spread, thin, writer)")


def test_table_output_shows_portfolio_and_scenario_tables(capsys: pytest.CaptureFixture[str]):
    code, out, _ = run(["health", str(BOOK)], capsys)
    assert code == 0
    assert "Portfolio margin (PMRM_2)" in out and "P&L per scenario" in out


def test_snapshot_option_errors_name_the_field(tmp_path: Path) -> None:
    base = {"protocol": {"preset": "aave-v3", "markets": {"WETH": {}, "USDC": {}},
                         "options": {"quote": "USDC"}},
            "prices": {"WETH": 2000, "USDC": 1}}
    with pytest.raises(ConfigError, match=r"accounts\.0\.options\.0\.expiry: no \[\[vols\]\]"):
        engine_from_snapshot({**base, "accounts": [{"id": "a", "options": [
            {"underlying": "WETH", "expiry": 100, "strike": 2000, "type": "call",
             "size": 1}]}]})
    with pytest.raises(ConfigError, match=r"accounts\.0\.options\.0\.size: must not be"):
        engine_from_snapshot({**base, "vols": [{"underlying": "WETH", "expiry": 100,
                                                "vol": 0.5}],
                              "accounts": [{"id": "a", "options": [
                                  {"underlying": "WETH", "expiry": 100, "strike": 2000,
                                   "type": "call", "size": 0}]}]})
    plain = {**base, "protocol": {"preset": "aave-v3", "markets": {"WETH": {}, "USDC": {}}}}
    with pytest.raises(ConfigError, match=r"accounts\.0\.options: the protocol has no"):
        engine_from_snapshot({**plain, "accounts": [{"id": "a", "option_cash": 5}]})


@pytest.mark.parametrize(("preset", "rule", "scenarios"), [("derive-srm", "SRM", 0),
                                                             ("derive-pm1", "PMRM", 23)])
def test_options_book_when_other_derive_manager_then_health_reports_its_rule(
        preset: str, rule: str, scenarios: int, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    book = tmp_path / "book.toml"
    book.write_text(BOOK.read_text().replace('portfolio_preset = "derive-pm2"',
                                             f'portfolio_preset = "{preset}"'))
    code, out, _ = run(["health", str(book), "--json"], capsys)
    assert code == 0
    rows = {r["account"]: r for r in json.loads(out)["portfolio_accounts"]}
    engine = load_snapshot(book)
    for account, row in rows.items():
        pm = engine.portfolio_margin(account)
        assert pm is not None and pm.rule == rule == row["rule"]
        assert row["maintenance_margin"] == pm.maintenance and row["mtm"] == pm.mtm
        assert len(row["scenarios"]) == scenarios
        assert row["liquidatable"] is (row["maintenance_margin"] < 0)
    # The thin short put (50 USDC against two 2,000 puts) is below maintenance under
    # every one of Derive's managers; the call spread is not.
    assert rows["thin"]["liquidatable"] and not rows["spread"]["liquidatable"]
    code, out, _ = run(["health", str(book)], capsys)
    assert code == 0 and f"Portfolio margin ({rule})" in out
    assert ("P&L per scenario" in out) is (scenarios > 0)


PASSED_VOL = '\n[[vols]]\nunderlying = "WETH"\nexpiry = 0\nvol = 0.7\n'


def test_health_when_a_vol_is_of_an_expiry_passed_then_skipped_with_a_note_on_stderr(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The book's second [[vols]] entry is for expiry 0, passed at the snapshot's time 0:
    # skipped with a note, as serve skips it (tests/service/test_expiry_clock.py);
    # before, health refused the whole file (the engine's OPTION_EXPIRED). The margins
    # are the same book's without it.
    book = tmp_path / "book.toml"
    book.write_text(BOOK.read_text() + PASSED_VOL)
    code, out, err = run(["health", str(book), "--json"], capsys)
    assert code == 0
    assert err == (f"note: {book}: vols.1: WETH expiry 0 is not after the snapshot's "
                   f"time 0 (its series settle; a surface for it is refused): skipped\n")
    _, plain, _ = run(["health", str(BOOK), "--json"], capsys)
    assert json.loads(out) == json.loads(plain)
    notes: list[str] = []
    engine = load_snapshot(book, notes)
    assert len(notes) == 1 and sorted(engine.state.vols) == [("WETH", 2_592_000)]


def test_health_when_a_position_is_of_an_expiry_passed_then_refused_naming_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A position cannot be skipped (its account's margin would change): refused by its
    # field, nothing printed on stdout, as the service refuses it.
    book = tmp_path / "book.toml"
    book.write_text(BOOK.read_text() + PASSED_VOL + '\n[[accounts]]\nid = "late"\n'
                    'option_cash = 100\noptions = [{ underlying = "WETH", expiry = 0, '
                    'strike = 2000, type = "put", size = 1 }]\n')
    code, out, err = run(["health", str(book)], capsys)
    assert code == 2 and out == ""
    assert "options.0.expiry: must be at least 1 (got 0)" in err
    assert "Traceback" not in err
