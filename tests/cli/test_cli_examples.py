"""Every example file from another working directory (issue 11 item 5), and malformed
``[[actions]]`` at the CLI: one line naming the field, exit 2, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from marginengine.config import read_toml
from marginengine.errors import ConfigError
from marginengine.sim.schema import load_spec
from tests.cli.test_cli import EXAMPLES, run

#: Examples that are not scenarios of simulate: the command that reads each.
OTHER_COMMANDS = {"serve.toml": "serve", "serve_options.toml": "serve",
                  "serve_snapshot.toml": "serve", "serve_snapshot_book.toml": "health",
                  "snapshot.toml": "health",
                  "snapshot_perps.toml": "health", "options_book.toml": "health"}
SCENARIOS = sorted(p.name for p in EXAMPLES.glob("*.toml") if p.name not in OTHER_COMMANDS)


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_example_scenario_when_loaded_from_another_cwd_then_valid(
        name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Every relative file of a scenario (price and gas replays, books, [[protocols]]'
    # books) is read from the scenario's folder: validation checks that each exists.
    monkeypatch.chdir(tmp_path)
    path = EXAMPLES / name
    spec = load_spec(read_toml(path), str(path))
    assert spec.name


def test_example_scenarios_when_named_then_each_its_own_name() -> None:
    # A scenario's name is its default output folder (runs/<name>/, runs/<name>-sweep/,
    # runs/<name>-optimize/) and the report's title. optimize_weth.toml kept the name of
    # the file it was split from, optimize_lending: its runs were refused as "a previous
    # run" of the other example, or with --force replaced them.
    names: dict[str, str] = {}
    for path in sorted(EXAMPLES.glob("*.toml")):
        name = read_toml(path).get("name")
        if isinstance(name, str):
            assert name not in names, f"{path.name} and {names[name]} are both {name!r}"
            names[name] = path.name
    assert names["optimize_weth"] == "optimize_weth.toml"


@pytest.mark.parametrize(("name", "command"), sorted(OTHER_COMMANDS.items()))
def test_examples_of_other_commands_when_simulated_then_one_line_names_the_command(
        name: str, command: str) -> None:
    path = EXAMPLES / name
    with pytest.raises(ConfigError) as info:
        load_spec(read_toml(path), str(path))
    [problem] = info.value.problems
    assert f"for `marginengine {command} FILE`, not a scenario of simulate" in problem


ACTION = 'step = 1\ntype = "repay"\naccount = "a"\nasset = "USDC"\n'


@pytest.mark.parametrize(("action", "message"), [
    (ACTION + "amout = 5\n",
     # The misspelled field is named first: the actions' own check (sim/actions.py) then
     # stops at the unknown field instead of also saying the right one is missing.
     "actions.0.amout: unknown field (check the spelling)"),
    (ACTION.replace("step = 1", 'step = "one"') + "amount = 5\n",
     "actions.0.step: must be a number, not text (got 'one'; write it without quotes)"),
    (ACTION + 'amount = "abc"\n', "actions.0.amount: must be a number ('abc' is not)"),
    (ACTION + "amount = 5\nprotocol = 3\n",
     "actions.0.protocol: must be a string (got 3)"),
    (ACTION + 'amount = 5\nprotocol = "lendr2"\n',
     "actions.0.protocol: unknown protocol 'lendr2' (protocols: aave, lender2)"),
])
def test_cli_when_malformed_action_then_one_line_naming_the_field(
        action: str, message: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    scenario = tmp_path / "bad.toml"
    scenario.write_text((EXAMPLES / "shared_collateral.toml").read_text()
                        + "\n[[actions]]\n" + action)
    out = tmp_path / "out"
    code, _, err = run(["simulate", str(scenario), "--out", str(out), "--quiet"], capsys)
    assert code == 2
    assert err == f"error: {scenario}: {message}\n"
    assert not out.exists()


@pytest.mark.parametrize(("old", "new", "message"), [
    ('account = "alice", asset', 'acount = "alice", asset',
     "steps.0.actions.0.acount: unknown field (check the spelling)"),
    ("amount = 9_000 }", 'amount = "lots" }',
     "steps.0.actions.0.amount: must be a number ('lots' is not)"),
])
def test_cli_when_malformed_scripted_action_then_one_line_naming_the_field(
        old: str, new: str, message: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    text = (EXAMPLES / "lending_walkthrough.toml").read_text()
    assert text.count(old) == 1
    scenario = tmp_path / "bad.toml"
    scenario.write_text(text.replace(old, new))
    out = tmp_path / "out"
    code, _, err = run(["simulate", str(scenario), "--out", str(out), "--quiet"], capsys)
    assert code == 2
    assert err == f"error: {scenario}: {message}\n"
    assert not out.exists()
