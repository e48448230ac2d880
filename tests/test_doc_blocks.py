"""Every Python and shell block of README.md and docs/*.md is exercised.

Python blocks run as written here (docs/api.md's in tests/test_api_docs.py, the README's
quickstart in tests/test_readme.py); a block added without a test fails
``test_every_python_block_when_listed_then_exercised``. Shell commands (fenced ``bash``
blocks and inline ``marginengine ...`` spans) are parsed by the CLI itself: every
command and option exists and every value is accepted, and nothing the shell would read
as a redirection is left unquoted (``--constraint es99_bad_debt<=500`` unquoted is
``< =500``: "No such file or directory").
"""

from __future__ import annotations

import importlib
import json
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import click
import pytest

import marginengine
from marginengine.cli.main import cli
from marginengine.engine import RepayWithATokens, SetReserveFreeze, SetReservePause
from marginengine.sim import run_scenario, scenario_from_dict
from tests.cli.test_cli import run

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def fenced(path: Path, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", path.read_text(), re.S)


def python_block(name: str, index: int) -> str:
    return fenced(ROOT / name, "python")[index]


#: Python blocks exercised elsewhere: (file, index among its python blocks).
ELSEWHERE = {("README.md", 1): "tests/test_readme.py"}
#: Python blocks exercised here, by the test that runs each.
HERE = {("README.md", 0): "test_readme_emode_loops_block_prints_its_comment",
        ("docs/optimize.md", 0): "test_optimize_python_block_when_run_small_then_frontier",
        ("docs/scan.md", 0): "test_scan_python_blocks_run_as_written",
        ("docs/scan.md", 1): "test_scan_python_blocks_run_as_written",
        ("docs/simulator.md", 0): "test_simulator_joint_block_runs_as_written"}


def test_every_python_block_when_listed_then_exercised() -> None:
    found = {(str(p.relative_to(ROOT)), i) for p in DOCS if p.name != "api.md"
             for i in range(len(fenced(p, "python")))}
    assert found == set(ELSEWHERE) | set(HERE)
    assert all(name in globals() for name in HERE.values())


def test_readme_emode_loops_block_prints_its_comment(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    block = python_block("README.md", 0)
    assert "lst_crash_emode.toml" in block
    monkeypatch.chdir(ROOT)  # the block names examples/ relative to the repository
    scope: dict[str, Any] = {}
    exec(compile(block, "README.md python block 1", "exec"), scope)
    comment = re.search(r"# (\d+) loops, (\d+) below 1$", block, re.M)
    assert comment is not None
    assert capsys.readouterr().out == (
        f"{comment.group(1)} loops, {comment.group(2)} below 1 at the end\n")
    # The same run is the e-mode table's depeg row: its loops below 1, bad debt and
    # liquidations (the table went stale once, at 633edd6's third keeper offer).
    summary = scope["result"].summary
    row = readme_row(r"\| -6% \| e-mode 1 \| \d+ \| (\d+) \| ([\d,]+) \| ([\d,]+) \|")
    assert row == (comment.group(2), f"{summary['bad_debt']:,.0f}",
                   f"{summary['liquidation_count']:,}")


def readme_row(pattern: str) -> tuple[str, ...]:
    found = re.findall(pattern, (ROOT / "README.md").read_text(), re.M)
    assert len(found) == 1, pattern
    return tuple(found[0])


def test_readme_lst_crash_tables_when_simulated_then_first_rows_hold(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The sweep's first point is the scenario as written (no depeg, 5% bonus) and the
    # e-mode table's first rows are the same run (without a depeg e-mode changes nothing).
    monkeypatch.chdir(ROOT)
    summary = marginengine.simulate("examples/lst_crash.toml", explain=False).summary
    bad, count = f"{summary['bad_debt']:,.0f}", f"{summary['liquidation_count']:,}"
    first = r"^\| 0 \| 5% \| ([\d,]+) \| \+0 \| ([\d,]+) \| ([\d,]+) \| ([\d,]+) \|$"
    assert readme_row(first) == (
        bad, count, f"{summary['liquidated_value']:,.0f}", f"{summary['borrower_loss']:,.0f}")
    for loops_in in ("reserve parameters", "e-mode 1"):
        assert readme_row(rf"\| 0 \| {loops_in} \| 0 \| 0 \| ([\d,]+) \| ([\d,]+) \|") == (
            bad, count)


def test_optimize_python_block_when_run_small_then_frontier(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # As written it runs 40 candidates on 64 seeds (minutes); the same call at the
    # smallest sizes the optimizer accepts shows the call and the columns it names.
    block = python_block("docs/optimize.md", 0)
    small = (block.replace("runs=64, budget=40", "runs=2, budget=4")
             .replace('"examples/', f'"{ROOT}/examples/').replace("progress=True",
                                                                 "progress=False"))
    assert small.count("runs=2, budget=4") == 1 and str(ROOT) in small
    monkeypatch.chdir(tmp_path)
    *body, last = small.rstrip().splitlines()
    scope: dict[str, object] = {}
    exec(compile("\n".join([*body, f"shown = {last}"]), "docs/optimize.md", "exec"), scope)
    shown = scope["shown"]
    assert list(shown.columns) == [  # type: ignore[attr-defined]
        "protocol.markets.WETH.ltv", "es99_bad_debt", "es99_bad_debt_ci_high", "tier"]
    assert len(shown) >= 1  # type: ignore[arg-type]
    assert (tmp_path / "runs" / "opt-cache.jsonl").exists()  # the resumable cache


def test_scan_python_blocks_run_as_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    exec(compile(python_block("docs/scan.md", 0), "docs/scan.md block 1", "exec"), {})
    exec(compile(python_block("docs/scan.md", 1), "docs/scan.md block 2", "exec"), {})
    # "A synthetic book for the CLI": the files it writes are what `scan` reads.
    capsys.readouterr()
    code, text, _ = run(["scan", "book.csv", "--prices", "prices.toml", "--protocol",
                         "protocol.toml", "--json"], capsys)
    assert code == 0
    out = json.loads(text)
    assert out["book_accounts"] == 100_000


def test_simulator_joint_block_runs_as_written() -> None:
    block = python_block("docs/simulator.md", 0)
    *body, last = block.rstrip().splitlines()
    scope: dict[str, object] = {}
    exec(compile("\n".join([*body, f"shown = {last.split('#')[0]}"]),
                 "docs/simulator.md", "exec"), scope)
    first, second = scope["shown"]  # type: ignore[misc]
    # Exact 8-decimal ints; wstETH is WETH x 1.17 at step 0 (WETH's s0 2,000).
    assert isinstance(first, int) and first == 2_340 * 10**8
    assert isinstance(second, int) and second != first


def test_formats_actions_toml_block_when_loaded_into_its_scenario_then_runs() -> None:
    # docs/formats.md "Actions": its TOML block is two steps of the scenario above it
    # (aave-v3, alice 10 WETH and 1,000 USDC against 12,000 USDC).
    text = (ROOT / "docs" / "formats.md").read_text()
    section = text[text.index("### Actions (a step"):text.index("## Snapshot")]
    [block] = re.findall(r"```toml\n(.*?)```", section, re.S)
    steps = tomllib.loads(block)["steps"]
    scenario = scenario_from_dict({
        "name": "actions", "protocol": {"preset": "aave-v3",
                                        "markets": {"WETH": {}, "USDC": {}}},
        "prices": {"WETH": 2000, "USDC": 1},
        "accounts": [{"id": "lp", "deposit": {"USDC": 100_000}},
                     {"id": "alice", "deposit": {"WETH": 10, "USDC": 1000},
                      "borrow": {"USDC": 12000}}],
        "steps": steps})
    assert [actions for _, _, actions in scenario.steps] == [
        [SetReservePause("WETH", True)],
        [SetReservePause("WETH", False, 3600), RepayWithATokens("alice", "USDC", 500 * 10**6),
         SetReserveFreeze("USDC", True)]]
    result = run_scenario(scenario)
    assert result.summary()["rejected_actions"] == []
    position = result.engine.ledger.accounts["alice"].lending["USDC"]
    # 500 of her 1,000 aUSDC burned against her debt (scaled by the indices of 10 minutes).
    assert 499 * 10**6 < position.scaled_supply < 501 * 10**6


# ---------------------------------------------------------------------------- shell


def shell_commands() -> list[tuple[str, str]]:
    """(where, command) for every ``marginengine`` command the docs show."""
    found = []
    for path in DOCS:
        name = str(path.relative_to(ROOT))
        text = path.read_text()
        blocks = [*fenced(path, "bash"), *fenced(path, "")]
        for block in blocks:
            for line in block.replace("\\\n", " ").splitlines():
                for part in line.split("&&"):
                    part = part.strip()
                    if part.startswith("marginengine "):
                        found.append((name, part))
        prose = re.sub(r"```.*?```", "", text, flags=re.S)
        for span in re.findall(r"`(marginengine [^`]+)`", prose.replace("\n", " ")):
            found.append((name, span))
    # The examples say how each is run, in their leading comments.
    for path in sorted([*(ROOT / "examples").glob("*.toml"),
                        *(ROOT / "examples" / "families").glob("*.toml")]):
        comments = "\n".join(line.lstrip("#").strip() for line in path.read_text().splitlines()
                             if line.startswith("#"))
        for line in comments.replace("\\\n", " ").splitlines():
            line = line.removeprefix("Run:").strip()
            # (Not the prose "marginengine quickstart: a crash on ...".)
            if line.startswith("marginengine ") and not line.split()[1].endswith(":"):
                found.append((str(path.relative_to(ROOT)), line))
    return found


COMMANDS = shell_commands()
#: A synopsis, not a command: placeholders (SCENARIO, <name>) and optional parts.
SYNOPSIS = re.compile(r"\[|\.\.\.|<[a-z]+>|\b(SCENARIO|BOOK|LOG|PATH|CONFIG|SNAPSHOT|FILE)\b")


def tokens(command: str) -> list[str]:
    lexer = shlex.shlex(command.split(" #")[0], posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    out = list(lexer)
    return out[:out.index("|")] if "|" in out else out


def test_shell_commands_when_collected_then_every_command_is_covered() -> None:
    assert len(COMMANDS) > 60
    assert {c.split()[1] for _, c in COMMANDS} >= set(cli.commands)


@pytest.mark.parametrize(("where", "command"), COMMANDS)
def test_shell_command_when_parsed_then_the_cli_accepts_it(
        where: str, command: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    synopsis = bool(SYNOPSIS.search(command.split(" #")[0]))
    words = command.split() if synopsis else tokens(command)
    if not synopsis:
        assert not [w for w in words if set(w) <= set("<>&;()")], (
            f"{where}: {command!r}: a shell operator left unquoted")
    if words[1] in ("--help", "-h"):
        return
    sub = cli.commands.get(words[1])
    assert sub is not None, f"{where}: no command {words[1]!r}"
    options = {o for p in sub.params for o in (*p.opts, *p.secondary_opts)} | {"--help"}
    named = {w.strip("[]").split("=")[0] for w in words[2:] if w.strip("[").startswith("--")}
    assert named <= options, f"{where}: {command!r}: unknown {sorted(named - options)}"
    if synopsis or not [w for w in words[2:] if not w.startswith("-")]:
        return  # a synopsis, or a mention of the command ("`marginengine health`")
    try:
        sub.make_context(f"marginengine {words[1]}", words[2:])
    except click.UsageError as exc:  # pragma: no cover - the assertion names it
        pytest.fail(f"{where}: {command!r}: {exc.format_message()}")


# ---------------------------------------------------------------------- import paths

#: ``marginengine.X`` keys of steps.parquet's metadata (docs/formats.md), not Python.
PARQUET_KEYS = {"kinds", "scenario", "seed", "start_time_utc", "step_seconds", "units"}


def resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for name in parts[i:]:
            if not hasattr(obj, name):
                return False
            obj = getattr(obj, name)
        return True
    return False


def test_import_paths_when_docs_name_one_then_it_exists() -> None:
    # A reader copies `marginengine.scan.whatif.shock_curve` into an import: every dotted
    # path the docs name is a module or an attribute of one.
    missing = []
    for path in DOCS:
        for dotted in sorted(set(re.findall(r"`(marginengine(?:\.[A-Za-z_]\w*)+)",
                                            path.read_text()))):
            if path.name == "formats.md" and dotted.split(".")[1] in PARQUET_KEYS:
                continue
            if not resolves(dotted):
                missing.append(f"{path.name}: {dotted}")
    assert missing == []
