"""``marginengine optimize``: outputs, folder rules, resume, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_cli import run
from tests.optimize.conftest import LTV, SHOCK

ARGS = ["optimize", str(SHOCK), "--param", f"{LTV}=0.70:0.80:0.0025",
        "--objective", "borrowing_power", "--constraint", "es99_bad_debt<=60000",
        "--runs", "10", "--budget", "8", "--seed", "4", "--workers", "1", "--quiet"]


def test_optimize_when_run_then_outputs_marker_and_resume_from_cache(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    import pandas as pd

    out = tmp_path / "opt"
    code, _, err = run([*ARGS, "--out", str(out)], capsys)
    assert code == 0, err
    names = {p.name for p in out.iterdir()}
    assert {"frontier.parquet", "evaluations.parquet", "optimize.json", "report.html",
            "frontier.png", "evaluations.jsonl", ".marginengine-run"} <= names
    data = json.loads((out / "optimize.json").read_text())
    assert data["state"] == "complete" and data["algorithm"] == "CMA-ES (optuna)"
    assert [r["tier"] for r in data["recommendations"]] == ["conservative", "moderate",
                                                            "aggressive"]
    aggressive = data["recommendations"][2]
    assert aggressive["metrics"]["es99_bad_debt"]["value"] <= 60_000
    # From LTV 0.70 in steps of at most 50 bps, three days apart.
    steps = aggressive["path"]["steps"]
    moves = [s["changes"][LTV] for s in steps]
    assert moves[0][0] == 0.70 and moves[-1][1] == aggressive["values"][LTV]
    assert all(0 < round((b - a) * 10_000) <= 50 for a, b in moves)
    assert [s["day"] for s in steps] == [3.0 * i for i in range(len(steps))]
    html = (out / "report.html").read_text()
    assert "Recommendations" in html and "data:image/png;base64," in html
    executed = data["counts"]["runs_executed"]
    assert executed > 0
    # Again without --force: refused, nothing touched.
    code, _, err = run([*ARGS, "--out", str(out)], capsys)
    assert code == 2 and "pass --force" in err
    # --resume: every evaluation comes from the cache; the same frontier, bit for bit.
    before = pd.read_parquet(out / "frontier.parquet")
    code, _, err = run([*ARGS, "--out", str(out), "--resume"], capsys)
    assert code == 0, err
    again = json.loads((out / "optimize.json").read_text())
    assert again["counts"]["runs_executed"] == 0
    assert again["counts"]["runs_from_cache"] >= executed
    assert pd.read_parquet(out / "frontier.parquet").equals(before)


def test_optimize_when_resume_without_earlier_run_then_note_on_stderr_and_fresh_run(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    # Was silent: --resume on an empty folder started from scratch without saying so.
    out = tmp_path / "opt"
    small = [*ARGS[:ARGS.index("--runs")], "--runs", "2", "--budget", "4", "--seed", "4",
             "--workers", "1", "--quiet"]
    code, _, err = run([*small, "--out", str(out), "--resume"], capsys)
    assert code == 0, err
    assert f"note: --resume: no earlier run to resume in {out}; starting from scratch" in err
    data = json.loads((out / "optimize.json").read_text())
    assert data["counts"]["runs_executed"] > 0  # a fresh run (its repeats hit its own cache)
    # With the earlier run there, no note: its evaluations are resumed.
    code, _, err = run([*small, "--out", str(out), "--resume"], capsys)
    assert code == 0 and "note: --resume" not in err
    assert json.loads((out / "optimize.json").read_text())["counts"]["runs_from_cache"] >= \
        data["counts"]["runs_executed"]


@pytest.mark.parametrize(("extra", "message"), [
    (["--param", "protocol.markets.WETH.ltv=0.7"], "--param 'protocol.markets.WETH.ltv=0.7': "
     "must be PATH=LOW:HIGH or PATH=LOW:HIGH:STEP"),
    (["--param", "protocol.markets.WETH.nope=0.7:0.8:0.01"], "--param protocol.markets.WETH"
     ".nope: unknown path: 'nope' is not a field of protocol.markets.WETH"),
    (["--param", "book.accounts=9:3"], "--param 'book.accounts=9:3': LOW 9 is above HIGH 3"),
    # A degenerate range was searched as a variable that cannot move; the seed "optimized"
    # luck (common random numbers: every candidate runs on the same seeds).
    (["--param", "book.accounts=5:5"], "--param 'book.accounts=5:5': LOW equals HIGH (5): a "
     "range of one value is a fixed value, not a variable; use --set book.accounts=5"),
    (["--param", "seed=1:100"], "--param 'seed=1:100': the seed is not a parameter to "
     "optimize (every candidate runs on the same seeds: common random numbers); give the "
     "master seed with --seed"),
    # Fuzzed: numpy's uniform refused a range beyond float64 ("internal error:
    # OverflowError: Range exceeds valid bounds").
    (["--param", f"{LTV}=-1e308:1e308"], f"--param '{LTV}=-1e308:1e308': the range is "
     "beyond a float (HIGH - LOW must be below 1.8e308: the samplers draw in float64)"),
    (["--objective", "sharpe"], "--objective 'sharpe': unknown metric"),
    (["--constraint", "es99_bad_debt=5"], "--constraint 'es99_bad_debt=5': must be "
     "METRIC<=VALUE or METRIC>=VALUE"),
    (["--constraint", "es99_bad_debt<=x"], "--constraint 'es99_bad_debt<=x': 'x' is not a "
     "number"),
    (["--budget", "2"], "--budget: must be an integer >= 4 (got 2)"),
    # Unbounded before: a million evaluations were accepted (64 million cascade runs, and a
    # re-evaluation stage cubic in the candidates).
    (["--budget", str(10**6)], "--budget: must be at most 1,000 candidate evaluations (each "
     "is --runs cascade runs, and the re-evaluation's frontier layering grows with the cube "
     "of the candidates), got 1,000,000"),
    # A billion runs per candidate used to be accepted (and never finished).
    (["--runs", str(10**9)], "--runs: must be at most 100,000 (as simulate --runs and "
     "monte_carlo.runs), got 1,000,000,000"),
    # Optuna's samplers take a 32-bit seed: a larger one was "internal error: ValueError".
    (["--seed", str(2**32)], "--seed: must be at most 4,294,967,295 (the samplers take a "
     "32-bit seed; without --seed it is the scenario's seed), got 4,294,967,296"),
    (["--set", f"{LTV}=0.75"], f"--param {LTV}: also given by --set {LTV}=...; the "
     "search's values would replace it: drop one of the two"),
])
def test_optimize_when_bad_flag_then_one_line_exit_2_nothing_written(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str):
    out = tmp_path / "opt"
    base = ["optimize", str(SHOCK), "--param", f"{LTV}=0.70:0.80:0.0025", "--quiet",
            "--out", str(out)]
    code, _, err = run([*base, *extra], capsys)
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert message in err
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_optimize_when_folder_holds_foreign_files_then_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    out = tmp_path / "opt"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    code, _, err = run([*ARGS, "--out", str(out), "--force"], capsys)
    assert code == 2 and "is not a marginengine run" in err
    assert (out / "mine.txt").read_text() == "keep"


def test_optimize_when_interrupted_then_folder_kept_and_resume_finishes(tmp_path: Path):
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "opt"
    args = [sys.executable, "-m", "marginengine.cli.main", "optimize", str(SHOCK),
            "--param", f"{LTV}=0.60:0.94:0.0001", "--objective", "borrowing_power",
            "--constraint", "es99_bad_debt<=50000", "--runs", "20", "--budget", "400",
            "--workers", "1", "--quiet", "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    proc = subprocess.Popen(args, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        staged = list(tmp_path.glob("opt.partial-*/evaluations.jsonl"))
        if staged and staged[0].stat().st_size > 6_000:  # the baseline's 20 runs, and more
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "stopped:" in err and "--resume" in err and "Traceback" not in err
    stopped = json.loads((out / "optimize.json").read_text())
    assert stopped["state"] == "stopped" and stopped["cached_rows"] > 0
    # Resumed with a smaller budget (so the test is quick): the baseline and whatever the
    # sampler asks again come from the cache.
    quick = ["6" if a == "400" else a for a in args]
    done = subprocess.run([*quick, "--resume"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    data = json.loads((out / "optimize.json").read_text())
    assert data["state"] == "complete"
    assert data["counts"]["runs_from_cache"] > 0


def test_optimize_help_when_asked_then_names_every_metric(capsys: pytest.CaptureFixture[str]):
    from marginengine.optimize.problem import METRICS

    code, out, _ = run(["optimize", "--help"], capsys)
    assert code == 0
    flat = " ".join(out.split())
    for name in METRICS:
        assert name in flat.replace("- ", "-")


@pytest.mark.parametrize("objective", [["--objective", "borrowing_power"], []])
def test_optimize_when_seed_is_the_largest_32_bit_then_both_samplers_run(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], objective: list[str]):
    # CMA-ES (one objective) and NSGA-II (the default two) both take 2**32 - 1.
    code, _, err = run(["optimize", str(SHOCK), "--param", f"{LTV}=0.70:0.80:0.0025",
                        *objective, "--runs", "2", "--budget", "4", "--workers", "1",
                        "--seed", str(2**32 - 1), "--quiet", "--json",
                        "--out", str(tmp_path / "opt")], capsys)
    assert code == 0, err


def test_optimize_when_options_book_then_runs_and_refusals_are_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    book = str(Path(__file__).with_name("options_factor.toml"))
    im = "protocol.options.portfolio_margin.im_factor"
    code, out, err = run(["optimize", book, "--param", f"{im}=1.00:1.20:0.01",
                          "--objective", "options_leverage", "--constraint", "p_bad_debt<=0",
                          "--runs", "2", "--budget", "6", "--workers", "1", "--quiet",
                          "--json", "--out", str(tmp_path / "opt")], capsys)
    assert code == 0, err
    data = json.loads(out)
    assert data["frontier_axes"] == {"efficiency": "options_leverage", "tail": "p_bad_debt"}
    assert "options_bad_debt" in data["metrics"] and "security_module_used" in data["metrics"]
    code, _, err = run(["optimize", str(SHOCK), "--param", f"{LTV}=0.70:0.80:0.0025",
                        "--objective", "options_auctions", "--quiet"], capsys)
    assert code == 2 and "Traceback" not in err
    assert "--objective options_auctions: a metric of an options book" in err
    code, _, err = run(["optimize", book, "--param", f"{im}=1.00:1.20:0.01", "--set",
                        f"{im}=1.1", "--quiet"], capsys)
    assert code == 2 and f"--param {im}: also given by --set" in err
