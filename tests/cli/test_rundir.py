"""``simulate``'s output folder (issue 9, item 1): nothing the tool did not write is ever
deleted; refused runs leave nothing behind; killed runs' staging folders are cleaned."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from marginengine.cli.rundir import MARKER, OutputError, clean_leftovers, prepare, target_folder
from tests.cli.test_cli import EXAMPLES, ROOT, WALKTHROUGH, run

#: What a single run of any scenario writes besides the charts (the one pipeline).
ONE_RUN = ("auctions.json", "events.sqlite", "report.html", "steps.parquet", "summary.json")

SMALL_CASCADE = ["--set", "book.accounts=20", "--set", "book.whales=1", "--set", "steps=4"]


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes (the state a test says is untouched)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


@pytest.fixture
def user_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory holding a user's files, and a runs/ folder with one of theirs."""
    work = tmp_path / "work"
    (work / "notes").mkdir(parents=True)
    (work / "notes" / "plan.txt").write_text("my plan\n")
    (work / "data.csv").write_text("a,b\n1,2\n")
    (work / "runs").mkdir()
    (work / "runs" / "keep.txt").write_text("mine\n")
    monkeypatch.chdir(work)
    return work


def test_simulate_when_out_is_a_non_empty_user_folder_then_refused_and_intact(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    folder = tmp_path / "mine"
    (folder / "sub").mkdir(parents=True)
    (folder / "thesis.tex").write_text("years of work\n")
    (folder / "sub" / "fig.png").write_bytes(b"\x89PNG")
    before = tree(folder)
    code, out, err = run(["simulate", str(WALKTHROUGH), "--out", str(folder), "--quiet"],
                         capsys)
    assert code == 2 and out == ""
    assert err == (f"error: --out: {folder} exists, is not empty and is not a marginengine "
                   f"run (no {MARKER}); nothing was deleted: name a new folder\n")
    assert tree(folder) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]  # no staging left
    # --force does not make a user's folder a run.
    code, _, err = run(["simulate", str(WALKTHROUGH), "--out", str(folder), "--force"],
                       capsys)
    assert code == 2 and "is not a marginengine run" in err and tree(folder) == before


@pytest.mark.parametrize(("out", "message"), [
    (".", "error: --out: '.' is not a new folder; name one, e.g. --out runs/my-run"),
    ("./", "error: --out: './' is not a new folder; name one, e.g. --out runs/my-run"),
    ("..", "error: --out: '..' is not a new folder; name one, e.g. --out runs/my-run"),
    ("notes/..", "error: --out: 'notes/..' is not a new folder; name one, e.g. "
                 "--out runs/my-run"),
    ("", "error: --out: must name a folder (got an empty name)"),
])
def test_simulate_when_out_is_dot_dotdot_or_empty_then_refused_and_nothing_touched(
    user_files: Path, out: str, message: str, capsys: pytest.CaptureFixture[str]
):
    before = tree(user_files.parent)
    for force in ([], ["--force"]):
        code, _, err = run(["simulate", str(WALKTHROUGH), "--out", out, "--quiet", *force],
                           capsys)
        assert code == 2 and err.strip() == message
        assert tree(user_files.parent) == before
        assert sorted(p.name for p in user_files.iterdir()) == ["data.csv", "notes", "runs"]


@pytest.mark.parametrize("scenario", [WALKTHROUGH, EXAMPLES / "quickstart.toml"])
@pytest.mark.parametrize("name", ["..", ".", "..."])
def test_simulate_when_name_is_dots_then_refused_before_any_folder(
    user_files: Path, scenario: Path, name: str, capsys: pytest.CaptureFixture[str]
):
    before = tree(user_files)
    code, _, err = run(["simulate", str(scenario), "--quiet", "--force", "--set",
                        f"name={name}"], capsys)
    assert code == 2
    assert err.strip() == (f"error: {scenario}: name: must not be made only of dots: it "
                           f"names the output folder runs/<name> (got {name!r})")
    assert tree(user_files) == before
    assert sorted(p.name for p in (user_files / "runs").iterdir()) == ["keep.txt"]


def test_target_folder_when_name_or_out_leaves_the_root_then_refused(user_files: Path):
    assert target_folder(None, "quickstart") == Path("runs") / "quickstart"
    assert target_folder("out/x", "ignored") == Path("out/x")
    for name in ("", ".", "..", "a/../..", "../x", "a\\b"):
        with pytest.raises(OutputError, match="name: "):
            target_folder(None, name)
    with pytest.raises(OutputError, match="holds the working directory"):
        target_folder(str(user_files.parent), "x")
    with pytest.raises(OutputError, match="is not a new folder"):
        target_folder("/", "x")


def test_simulate_when_scenario_refused_then_no_folder_is_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    out = tmp_path / "a" / "b" / "c"
    code, _, err = run(["simulate", str(EXAMPLES / "quickstart.toml"), "--out", str(out),
                        "--set", "prices.USDC=abc"], capsys)
    assert code == 2 and "prices.USDC: must be a number ('abc' is not)" in err
    assert list(tmp_path.iterdir()) == []


def test_simulate_when_previous_run_then_refused_without_force_replaced_with_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    out = tmp_path / "run"
    assert run(["simulate", str(WALKTHROUGH), "--out", str(out), "--quiet"], capsys)[0] == 0
    marker = json.loads((out / MARKER).read_text())
    assert marker["tool"] == "marginengine" and marker["state"] == "complete"
    # One pipeline: a scripted scenario's run writes what every single run writes (the
    # log, the summary, steps.parquet and the report); the marker lists every file.
    assert set(ONE_RUN) <= set(marker["files"])
    assert marker["files"] == sorted(p.name for p in out.iterdir() if p.name != MARKER)
    first = tree(out)
    code, _, err = run(["simulate", str(WALKTHROUGH), "--out", str(out), "--quiet"], capsys)
    assert code == 2
    assert err.strip() == f"error: --out: {out} holds a previous run; pass --force to replace it"
    assert tree(out) == first
    # --force: replaced once the new run has finished, and nothing else is left next to it.
    code, _, _ = run(["simulate", str(EXAMPLES / "compound_v3.toml"), "--out", str(out),
                      "--quiet", "--force"], capsys)
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["preset"] == "compound-v3"
    assert json.loads((out / MARKER).read_text())["scenario"] == summary["scenario"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_simulate_when_previous_run_holds_a_user_file_then_force_refused_and_intact(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    out = tmp_path / "run"
    assert run(["simulate", str(WALKTHROUGH), "--out", str(out), "--quiet"], capsys)[0] == 0
    (out / "my_analysis.ipynb").write_text("{}")
    before = tree(out)
    code, _, err = run(["simulate", str(WALKTHROUGH), "--out", str(out), "--quiet",
                        "--force"], capsys)
    assert code == 2
    assert err.strip() == (f"error: --out: {out} holds files marginengine did not write "
                           "(my_analysis.ipynb); move them away or name a new folder")
    assert tree(out) == before


def test_simulate_when_out_is_an_empty_folder_then_used(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]):
    out = tmp_path / "empty"
    out.mkdir()
    assert run(["simulate", str(WALKTHROUGH), "--out", str(out), "--quiet"], capsys)[0] == 0
    names = {p.name for p in out.iterdir()}
    assert {*ONE_RUN, MARKER} <= names
    assert sorted(names - {MARKER}) == json.loads((out / MARKER).read_text())["files"]


def test_simulate_when_a_run_was_killed_then_next_run_removes_its_staging_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    # A real run, killed with SIGKILL while it writes its staging folder.
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    killed = subprocess.Popen(
        [sys.executable, "-m", "marginengine.cli.main", "simulate",
         str(EXAMPLES / "quickstart.toml"), "--out", str(tmp_path / "q"), "--quiet"],
        env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    staging = tmp_path / f"q.partial-{killed.pid}"
    deadline = time.monotonic() + 60
    while not (staging / "events.sqlite").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert (staging / MARKER).is_file()
    assert json.loads((staging / MARKER).read_text())["state"] == "staging"
    # A user's folder named like a staging folder, without the marker, is not touched.
    lookalike = tmp_path / "x.partial-999999"
    lookalike.mkdir()
    (lookalike / "keep.txt").write_text("mine\n")
    code, _, _ = run(["simulate", str(WALKTHROUGH), "--out", str(tmp_path / "w"), "--quiet"],
                     capsys)
    assert code == 0
    assert not staging.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w", "x.partial-999999"]
    assert (lookalike / "keep.txt").read_text() == "mine\n"


def test_clean_leftovers_when_pid_alive_or_other_host_then_kept(tmp_path: Path):
    live = prepare(tmp_path / "a", "a", force=False)  # this process: alive
    foreign = tmp_path / "b.partial-1"
    foreign.mkdir()
    (foreign / MARKER).write_text(json.dumps({"tool": "marginengine", "pid": 1,
                                              "host": "elsewhere", "state": "staging",
                                              "files": []}))
    assert clean_leftovers(tmp_path) == []
    assert live.staging.is_dir() and foreign.is_dir()
    live.abandon()
    assert not live.staging.exists()


def test_prepare_when_abandoned_then_created_parents_removed(tmp_path: Path):
    folder = prepare(tmp_path / "x" / "y" / "run", "s", force=False)
    assert folder.staging == tmp_path / "x" / "y" / f"run.partial-{os.getpid()}"
    (folder.staging / "events.sqlite").write_bytes(b"partial")
    folder.abandon()
    assert list(tmp_path.iterdir()) == []


def test_force_when_marker_lists_a_file_behind_a_symlink_then_it_is_not_deleted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "precious.txt").write_text("mine\n")
    out = tmp_path / "run"
    assert run(["simulate", str(WALKTHROUGH), "--out", str(out), "--quiet"], capsys)[0] == 0
    (out / "link").symlink_to(elsewhere)
    marker = json.loads((out / MARKER).read_text())
    marker["files"] += ["link", "link/precious.txt", "../elsewhere/precious.txt"]
    (out / MARKER).write_text(json.dumps(marker))
    code, _, _ = run(["simulate", str(WALKTHROUGH), "--out", str(out), "--quiet", "--force"],
                     capsys)
    assert code == 0
    assert (elsewhere / "precious.txt").read_text() == "mine\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["elsewhere", "run"]


@pytest.mark.parametrize("below", ["sub", "sub/deeper"])
def test_simulate_when_out_is_below_a_file_then_refused_naming_the_file(
    tmp_path: Path, below: str, capsys: pytest.CaptureFixture[str]
):
    # Was "error: <out>.partial-<pid>: Not a directory": the staging folder's name, not
    # what the user gave or what stands in the way.
    (tmp_path / "notes.txt").write_text("mine\n")
    before = tree(tmp_path)
    out = tmp_path / "notes.txt" / below
    code, stdout, err = run(["simulate", str(WALKTHROUGH), "--out", str(out), "--quiet"],
                            capsys)
    assert code == 2 and stdout == ""
    assert err == (f"error: --out: {out} cannot be made: {tmp_path / 'notes.txt'} is a "
                   f"file, not a folder\n")
    assert tree(tmp_path) == before


def test_prepare_when_the_folder_cannot_be_made_then_output_error_naming_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # A folder the user may not write (run as root the tests could write anywhere, so
    # the refusal is the operating system's, as a read-only mount would give it).
    def refuse(self: Path, *args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "mkdir", refuse)
    with pytest.raises(OutputError) as exc:
        prepare(tmp_path / "run", "walkthrough", force=False)
    assert str(exc.value) == f"--out: {tmp_path / 'run'} cannot be made: Permission denied"
    assert list(tmp_path.iterdir()) == []
