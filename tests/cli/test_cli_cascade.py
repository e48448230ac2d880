"""``simulate`` on cascade scenarios: one run's files, a Monte Carlo, errors."""

import json
from pathlib import Path

import pytest

from tests.cli.test_cli import EXAMPLES, run

SMALL = ["--set", "book.accounts=80", "--set", "book.total_debt=3000000", "--set", "steps=40"]


def test_simulate_cascade_when_one_run_then_summary_series_report_and_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    out = tmp_path / "q"
    code, stdout, _ = run(["simulate", str(EXAMPLES / "quickstart.toml"), "--out", str(out),
                           "--json", "--quiet", *SMALL], capsys)
    assert code == 0
    summary = json.loads(stdout)
    for key in ("bad_debt", "liquidated_value", "liquidation_count", "auctions_started",
                "auctions_settled_near_zero", "liquidator_profit", "insurance_fund_drawdown",
                "adl_volume", "amplification", "seed"):
        assert key in summary, key
    assert summary["seed"] == 42
    names = {p.name for p in out.iterdir()}
    assert {"summary.json", "steps.parquet", "report.html", "events.sqlite",
            "price_feedback.png"} <= names
    import pyarrow.parquet as pq

    steps = pq.read_table(out / "steps.parquet").to_pydict()
    # Step 0 (the initial state) then the 40 steps (issue 9 item 14: step 0 is written).
    assert steps["step"] == list(range(41))
    assert "<img" in (out / "report.html").read_text()
    code, stdout, _ = run(["replay", str(out / "events.sqlite"), "--json"], capsys)
    assert code == 0 and json.loads(stdout)["state_hash"] == summary["state_hash"]


def test_simulate_cascade_when_runs_then_monte_carlo_statistics_and_parquet(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    out = tmp_path / "mc"
    code, stdout, _ = run(["simulate", str(EXAMPLES / "gbm_stress.toml"), "--out", str(out),
                           "--json", "--quiet", "--runs", "4", "--workers", "2", *SMALL],
                          capsys)
    assert code == 0
    summary = json.loads(stdout)
    for key in ("var95_bad_debt", "lar95", "es99_bad_debt", "runs", "seed"):
        assert key in summary, key
    assert summary["runs"] == 4 and summary["run_seeds"] == ["2024/0", "2024/1", "2024/2",
                                                              "2024/3"]
    import pyarrow.parquet as pq

    rows = pq.read_table(out / "runs.parquet").to_pylist()
    assert [r["seed"] for r in rows] == summary["run_seeds"]


def test_simulate_cascade_when_bad_input_then_one_line(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]):
    code, _, err = run(["simulate", str(EXAMPLES / "quickstart.toml"), "--out",
                        str(tmp_path / "x"), "--set", "price.sigma=-1"], capsys)
    assert code == 2 and err.startswith("error: ") and "price.sigma" in err
    assert err.count("\n") == 1
    code, _, err = run(["simulate", str(EXAMPLES / "lending_walkthrough.toml"), "--runs", "3",
                        "--out", str(tmp_path / "y")], capsys)
    # Explicit prices and no [noise]: nothing to draw, so a Monte Carlo is refused naming
    # the missing table (before the one pipeline, --runs was refused for every scripted
    # scenario).
    assert code == 2 and err.count("\n") == 1
    assert "noise: a Monte Carlo (--runs 3) needs something random" in err
    assert not (tmp_path / "y").exists()


def test_simulate_when_backtest_crash_on_one_second_steps_then_runs_instead_of_overflow(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    # The reported command ended in "internal error: ValueError: vol_sensitivity: gas
    # overflowed float64": its crash within one 1-second step is gas at the ceiling now.
    out = tmp_path / "crash1s"
    code, stdout, err = run(["simulate", str(EXAMPLES / "backtest_crash.toml"), "--set",
                             "steps=3", "--set", "step_seconds=1", "--runs", "2",
                             "--workers", "1", "--out", str(out), "--json", "--quiet"],
                            capsys)
    assert code == 0, err
    assert "internal error" not in err
    summary = json.loads(stdout)
    assert summary["runs"] == 2


def test_simulate_when_book_imported_then_log_replays_to_summary_hash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    # crv_spiral's 40 accounts imported as they stand (--set book.open=import): one
    # ImportAccount each instead of a Deposit and a Borrow, 354 - 40 = 314 events, and the
    # same 127 liquidations; the log replays (each import at genesis again) to the hash.
    out = tmp_path / "crv"
    code, stdout, _ = run(["simulate", str(EXAMPLES / "crv_spiral.toml"), "--out", str(out),
                           "--json", "--quiet", "--set", "book.open=import"], capsys)
    assert code == 0
    summary = json.loads(stdout)
    assert (summary["book_open"], summary["events"], summary["liquidation_count"]) == (
        "import", 314, 127)
    code, stdout, _ = run(["replay", str(out / "events.sqlite"), "--json"], capsys)
    assert code == 0 and json.loads(stdout)["state_hash"] == summary["state_hash"]
    code, _, err = run(["simulate", str(EXAMPLES / "crv_spiral.toml"), "--out",
                        str(tmp_path / "bad"), "--quiet", "--set", "book.open=bogus"], capsys)
    assert code == 2 and "book.open: must be 'borrow' or 'import' (got 'bogus')" in err
    assert not (tmp_path / "bad").exists()


def test_simulate_when_book_below_initial_margin_then_setup_refusals_warned(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # gas_chains's books are drawn down to collateralization 1.2, under 1 / 80.5% (WETH's
    # LTV) = 1.242: those borrows are refused at set-up. The printed summary did not say
    # so (only summary.json's setup_rejected): 23 of 80 accounts here.
    out = tmp_path / "gc"
    code, _, err = run(["simulate", str(EXAMPLES / "gas_chains.toml"), "--out", str(out),
                        "--quiet", "--set", "book.accounts=40", "--set",
                        "protocols.0.book.accounts=40", "--set", "steps=5"], capsys)
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["setup_rejected"] == 23
    assert err.splitlines() == [
        "warning: setup_rejected: the protocol refused 23 of the set-up's events (cheap 13, "
        "dear 10): the run is of the book it accepted, 61% of the debt asked for "
        "(demand_served). A synthetic [book] drawn below what initial margin allows "
        "(book.min_collateralization under 1 / LTV) has those borrows refused "
        "(\"import\" opens a book as it stands: book.open for cheap, protocols.0.book.open "
        "for dear); the refusals are in summary.json"]
    # Each protocol's book opens by its own book.open: [book]'s imported, dear's 10
    # refusals remain, and the line names only dear's path.
    code, _, err = run(["simulate", str(EXAMPLES / "gas_chains.toml"), "--out",
                        str(tmp_path / "gc2"), "--quiet", "--set", "book.accounts=40", "--set",
                        "protocols.0.book.accounts=40", "--set", "steps=5", "--set",
                        "book.open=import"], capsys)
    assert code == 0 and "refused 10 of the set-up's events (dear 10)" in err
    assert "(\"import\" opens a book as it stands: protocols.0.book.open for dear)" in err
    # A book that opens whole (quickstart's floor 1.55) gets no such line.
    code, _, err = run(["simulate", str(EXAMPLES / "quickstart.toml"), "--out",
                        str(tmp_path / "qs"), "--quiet", "--set", "steps=3"], capsys)
    assert code == 0 and "setup_rejected" not in err
