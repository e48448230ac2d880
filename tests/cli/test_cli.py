import json
import shutil
import sqlite3
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from marginengine.cli.main import cli, main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
WALKTHROUGH = EXAMPLES / "lending_walkthrough.toml"
PRICED = 'name = "x"\n[prices]\nWETH = 1\nUSDC = 1\nDAI = 1\nWBTC = 1\n'


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run the console-script entry point as a user would."""
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_simulate_walkthrough_when_run_then_liquidations_bad_debt_and_replayable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    out_dir = tmp_path / "qs"
    code, out, _ = run(["simulate", str(WALKTHROUGH), "--out", str(out_dir)],
                       capsys)
    assert code == 0
    assert "Liquidations" in out and "Final health" in out
    summary = json.loads((out_dir / "summary.json").read_text())
    assert summary["liquidation_count"] >= 3
    assert summary["bad_debt"] > 0 and summary["deficit"]  # at least one ends in bad debt
    assert set(summary["accounts"]) >= {"alice", "bob", "erin"}
    assert summary["accounts"]["alice"]["health_factor"] > 1
    code, out, _ = run(["replay", str(out_dir / "events.sqlite"), "--json"], capsys)
    report = json.loads(out)
    assert code == 0
    assert report["state_hash"] == summary["state_hash"]
    assert report["events"] == summary["events"]
    assert report["truncated"] is False


def test_simulate_when_run_twice_then_same_state_hash(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]):
    hashes = []
    for name in ("a", "b"):
        code, out, _ = run(["simulate", str(EXAMPLES / "compound_v3.toml"), "--out",
                            str(tmp_path / name), "--json"], capsys)
        assert code == 0
        hashes.append(json.loads(out)["state_hash"])
    assert hashes[0] == hashes[1]


def test_simulate_when_out_exists_then_replaced_only_after_success(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    out_dir = tmp_path / "run"
    assert run(["simulate", str(WALKTHROUGH), "--out", str(out_dir),
                "--quiet"], capsys)[0] == 0
    first = (out_dir / "summary.json").read_text()
    bad = tmp_path / "bad.toml"
    bad.write_text(WALKTHROUGH.read_text().replace("WETH = 2000", "WETH = -1"))
    code, _, err = run(["simulate", str(bad), "--out", str(out_dir)], capsys)
    assert code == 2
    assert err.strip() == f"error: {bad}: prices.WETH: must be positive (got -1)"
    assert (out_dir / "summary.json").read_text() == first  # nothing partial written
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".run")] == []


def test_simulate_when_config_invalid_then_every_problem_on_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    bad = tmp_path / "bad.toml"
    bad.write_text(
        'name = "bad"\n[protocol]\npreset = "aave-v3"\n'
        "[protocol.markets.WETH]\nltv = 0.80\nliquidation_threshold = 0.78\n"
        "[prices]\nWETH = 2000\n"
        '[[accounts]]\nid = "a"\ndeposit = { WETH = "0.0000000000000000001", FOO = 1 }\n'
    )
    code, out, err = run(["simulate", str(bad), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "protocol.markets.WETH.liquidation_threshold: must be greater than ltv " \
           "(0.78 <= 0.80)" in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("name = [\n", "malformed TOML"),
        ('name = "x"\n', "prices: required field is missing"),
        (PRICED + '[[steps]]\nadvance = "soon"\n',
         "steps.0.advance: must be seconds or a duration"),
        (PRICED + '[[accounts]]\nid = "bad id!"\n', "accounts.0.id: account id must be"),
        (PRICED + '[[steps]]\n'
         'actions = [{ type = "borrow", account = "a", asset = "USDC", amount = 0 }]\n',
         "steps.0.actions.0.amount: must be positive"),
        ('name = "x"\n[prices]\nWETH = 1\n', "prices.USDC: missing"),
    ],
)
def test_simulate_when_scenario_bad_then_named_field(tmp_path: Path, content: str,
                                                      expected: str,
                                                      capsys: pytest.CaptureFixture[str]):
    bad = tmp_path / "s.toml"
    bad.write_text(content)
    code, _, err = run(["simulate", str(bad), "--out", str(tmp_path / "o")], capsys)
    assert code == 2
    assert expected in err and "Traceback" not in err


def test_health_snapshot_when_json_then_figures_and_largest_liquidation(
    capsys: pytest.CaptureFixture[str]
):
    code, out, _ = run(["health", str(EXAMPLES / "snapshot.toml"), "--json"], capsys)
    assert code == 0
    rows = {r["account"]: r for r in json.loads(out)["accounts"]}
    assert rows["alice"]["liquidatable"] is False
    assert rows["alice"]["health_factor_wad"] == "1556250000000000000"  # 15,000 x 83% / 8,000
    bob = rows["bob"]  # HF 0.9727: 50% of 64,000 USDC, seizing 32,000 x 1.05 / 1,500 ETH
    assert bob["liquidatable"] and bob["close_factor"] == 0.5
    assert bob["max_repay"] == str(32_000 * 10**6)
    # Aave v3.7 (the aave-v3 preset since issue 9 item 11) floors baseCollateral x bonus
    # (percentMulFloor, docs/3.7/liquidation-rounding.md): 21.333...e18 x 1.05 is
    # 22.3999...9.65e18, so one wei less than v3.3's half-up 22.4e18.
    assert bob["collateral_seized"] == str(224 * 10**17 - 1)
    carol = rows["carol"]  # HF 0.9055 <= 0.95: the whole largest debt
    assert carol["close_factor"] == 1.0 and carol["max_repay"] == str(3_000 * 10**6)
    dave = rows["dave"]  # under 2,000 USD: 100% even though HF 0.93 > ... small position
    assert dave["close_factor"] == 1.0 and dave["debt_asset"] == "DAI"


def test_health_when_table_then_prints_accounts(capsys: pytest.CaptureFixture[str]):
    code, out, _ = run(["health", str(EXAMPLES / "snapshot.toml")], capsys)
    # 22.4 WETH less one wei under v3.7's percentMulFloor (see the JSON test above).
    assert code == 0 and "32000 USDC" in out and "22.399999999999999999 WETH" in out


def test_health_when_snapshot_bad_then_clear_errors(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]):
    bad = tmp_path / "snap.toml"
    bad.write_text('[prices]\nWETH = 0\n[[accounts]]\nid = "a"\nsupplied = { WETH = "x" }\n'
                   'borrowed = { NOPE = 1 }\n')
    code, _, err = run(["health", str(bad)], capsys)
    assert code == 2
    assert "prices.WETH: must be positive (got 0)" in err
    assert "accounts.0.supplied.WETH: must be a number ('x' is not)" in err
    assert "accounts.0.borrowed.NOPE: unknown asset" in err


def test_replay_when_log_missing_or_not_a_log_then_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    code, _, err = run(["replay", str(tmp_path / "none.sqlite")], capsys)
    assert code == 2 and "no such event log" in err
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not a database at all" * 100)
    code, _, err = run(["replay", str(junk)], capsys)
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1


def test_replay_when_writer_stopped_then_exit_0_and_says_truncated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    # A torn tail: the writer stopped without closing (its files copied while it was open,
    # what a crash leaves on disk). Every acknowledged event replays; exit 0, and it says so.
    from marginengine.config import protocol_from_dict
    from marginengine.engine import Deposit, Engine, SetPrice

    config = protocol_from_dict({"preset": "aave-v3", "markets": {"WETH": {}, "USDC": {}}})
    path = tmp_path / "w" / "events.sqlite"
    engine = Engine.with_log(config, path)
    engine.apply_all([SetPrice("WETH", 2_000 * 10**8), Deposit("alice", "WETH", 10**18)])
    crash = tmp_path / "crash"
    crash.mkdir()
    for name in ("events.sqlite", "events.sqlite-wal", "events.sqlite-ack"):
        shutil.copy(path.parent / name, crash / name)
    engine.close()

    code, out, err = run(["replay", str(crash / "events.sqlite")], capsys)
    assert code == 0 and err == ""
    assert "events:     2" in out
    assert ("truncated:  the log was not closed (its writer stopped, or is still writing): it "
            "ends at event 2, and all 2 acknowledged events are in it") in out
    code, out, _ = run(["replay", str(crash / "events.sqlite"), "--json"], capsys)
    report = json.loads(out)
    assert code == 0
    assert (report["events"], report["truncated"], report["format_version"]) == (2, True, "2")
    assert report["note"].startswith("the log was not closed")
    assert report["state_hash"] == engine.state_hash()


def test_replay_when_last_event_of_closed_log_damaged_then_exit_2_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    # Regression: this was taken for a torn write (exit 0), dropping an acknowledged event.
    out_dir = tmp_path / "qs"
    run(["simulate", str(WALKTHROUGH), "--out", str(out_dir), "--quiet"],
        capsys)
    log = tmp_path / "torn.sqlite"
    shutil.copy(out_dir / "events.sqlite", log)
    with sqlite3.connect(log) as db:
        last, payload = db.execute(
            "SELECT seq, payload FROM events ORDER BY seq DESC LIMIT 1").fetchone()
        db.execute("UPDATE events SET payload = ? WHERE seq = ?",
                   (payload[: len(payload) // 2], last))
    code, out, err = run(["replay", str(log)], capsys)
    assert code == 2 and out == ""
    assert err == f"error: {log}: event {last} is damaged: its payload is not whole JSON\n"


def test_replay_when_wal_lost_then_exit_2_naming_lost_events(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    from marginengine.config import protocol_from_dict
    from marginengine.engine import Engine, SetPrice

    config = protocol_from_dict({"preset": "aave-v3", "markets": {"WETH": {}, "USDC": {}}})
    path = tmp_path / "w" / "events.sqlite"
    engine = Engine.with_log(config, path)
    engine.apply_all([SetPrice("WETH", (2_000 + i) * 10**8) for i in range(5)])
    crash = tmp_path / "crash"
    crash.mkdir()
    for name in ("events.sqlite", "events.sqlite-ack"):  # the -wal file is lost
        shutil.copy(path.parent / name, crash / name)
    engine.close()

    code, _, err = run(["replay", str(crash / "events.sqlite")], capsys)
    assert code == 2 and err.count("\n") == 1
    assert "the log ends at event 0 but 5 events were acknowledged" in err


def test_unknown_command_and_option_then_exit_2_one_line(capsys: pytest.CaptureFixture[str]):
    code, _, err = run(["simulat"], capsys)
    assert code == 2 and err.startswith("error: No such command 'simulat'")
    code, _, err = run(["health", "x.toml", "--jsn"], capsys)
    assert code == 2 and "No such option '--jsn'" in err


@pytest.mark.parametrize("command", [[], *([name] for name in sorted(cli.commands))])
def test_help_on_every_command(command: list[str]):
    result = CliRunner().invoke(cli, [*command, "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_help_when_any_command_then_every_option_explained(name: str) -> None:
    # An option listed with only its type and default (serve's --port was) tells a
    # newcomer nothing; every option of every command says what it does.
    command = cli.commands[name]
    unexplained = [p.opts[0] for p in command.params
                   if isinstance(p, click.Option) and not (p.help or "").strip()]
    assert unexplained == []
    # A path in the help is not broken at the wrap ("examples/ optimize_options.toml").
    text = CliRunner().invoke(cli, [name, "--help"], terminal_width=80).output
    assert "examples/ " not in text


def test_help_when_sweep_then_the_joint_grid_syntax_is_named() -> None:
    # The README's sweep sets two markets' bonus together with PATH1+PATH2=V1,V2.
    text = " ".join(CliRunner().invoke(cli, ["sweep", "--help"]).output.split())
    assert "PATH1+PATH2=V1,V2 sets several fields to each value together" in text
    assert "[default: 1;" in text  # --workers


def test_help_when_family_then_it_says_mango_and_drift_do_not_liquidate() -> None:
    # docs/formats.md: mango-v4 "health only", drift-v2 "margin only" (their scenarios'
    # keeper does not liquidate); the help said a keeper liquidates in every family.
    text = " ".join(CliRunner().invoke(cli, ["family", "--help"]).output.split())
    assert "a Mango or Drift scenario reports each account's health or margin" in text
    assert "and liquidates nothing" in text


def test_help_when_root_then_it_says_lending_and_derivatives() -> None:
    text = " ".join(CliRunner().invoke(cli, ["--help"]).output.split())
    assert "margin engine for decentralized lending and derivatives" in text


def test_simulate_when_set_overrides_then_applied_and_bad_override_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    args = ["simulate", str(EXAMPLES / "dai_oracle_spike.toml"), "--json", "--quiet"]
    code, out, _ = run([*args, "--out", str(tmp_path / "a")], capsys)
    assert code == 0 and json.loads(out)["liquidation_count"] == 0
    code, out, _ = run([*args, "--out", str(tmp_path / "b"), "--set", "feeds.DAI.kind=direct"],
                       capsys)
    assert code == 0 and json.loads(out)["liquidation_count"] == 2
    code, _, err = run([*args, "--out", str(tmp_path / "c"), "--set", "feeds.DAI.kind=magic"],
                       capsys)
    assert code == 2 and "feeds.DAI.kind: must be 'direct', 'push', 'delayed' or 'anchored' " \
                         "(got 'magic')" in err
    code, _, err = run([*args, "--out", str(tmp_path / "d"), "--set", "oops"], capsys)
    assert code == 2 and err.strip() == "error: --set 'oops': must be PATH=VALUE with a " \
                                        "dotted PATH"


def test_health_when_snapshot_has_perps_then_bucket_figures_and_liquidation_price(
    capsys: pytest.CaptureFixture[str]
):
    code, out, _ = run(["health", str(EXAMPLES / "snapshot_perps.toml"), "--json"], capsys)
    assert code == 0
    rows = {r["account"]: r for r in json.loads(out)["accounts"]}
    trader = rows["trader/eth"]  # isolated: 10,000 USDC behind 100 ETH long from 1,800
    assert trader["liquidatable"] is True and trader["underwater"] is True
    assert trader["bankruptcy_price"] == 1_700 * 10**8  # 1,800 - 10,000 / 100
    # Binance's closed form: (10,000 - 100 x 1,800) / (100 x 3% - 100) = 1,752.577...
    assert trader["positions"]["ETH-PERP"]["liquidation_price"] == 175_257_731_959
    assert rows["safe"]["positions"]["ETH-PERP"]["liquidation_price"] is None
    assert rows["cross"]["liquidatable"] is False and rows["cross"]["collateral"] == 8_500
    code, out, _ = run(["health", str(EXAMPLES / "snapshot_perps.toml")], capsys)
    assert code == 0 and "close 100 ETH-PERP" in out


def test_replay_when_expect_then_exit_0_on_match_3_on_mismatch_2_on_bad_hash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    from marginengine.config import protocol_from_dict
    from marginengine.engine import Deposit, Engine, SetPrice

    config = protocol_from_dict({"preset": "aave-v3", "markets": {"WETH": {}, "USDC": {}}})
    path = tmp_path / "events.sqlite"
    engine = Engine.with_log(config, path)
    engine.apply_all([SetPrice("WETH", 2_000 * 10**8), Deposit("alice", "WETH", 10**18)])
    recorded = engine.state_hash()
    engine.close()

    code, out, err = run(["replay", str(path), "--expect", recorded.upper()], capsys)
    assert code == 0 and err == "" and f"state hash: {recorded}" in out
    other = "0" * 64
    code, out, err = run(["replay", str(path), "--expect", other], capsys)
    assert code == 3 and f"state hash: {recorded}" in out
    assert err == f"error: the log replays to {recorded}, not the expected {other}\n"
    code, out, _ = run(["replay", str(path), "--expect", other, "--json"], capsys)
    report = json.loads(out)
    assert code == 3 and (report["expected"], report["matches"]) == (other, False)
    assert report["state_hash"] == recorded
    code, _, err = run(["replay", str(path), "--expect", "abc"], capsys)
    assert code == 2 and "--expect" in err and "64 hexadecimal digits" in err


def test_simulate_options_crash_when_run_then_bids_table_and_no_empty_lending_tables(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    # An options book alone: the lending "Liquidations" and "Final health" tables were
    # printed empty while the run counted 7 liquidations (its portfolio-auction bids).
    code, out, _ = run(["simulate", str(EXAMPLES / "options_crash.toml"), "--out",
                        str(tmp_path / "oc")], capsys)
    assert code == 0
    assert "Final health" not in out and "Liquidations" not in out
    assert "Portfolio auction bids" in out
    rows = [line for line in out.splitlines() if "│ bidder/" in line]
    assert len(rows) == 7  # summary's liquidation_count
    # s2's insolvent portfolio at step 6: the bidder is paid 1,579.22 USDC, the security
    # module's 1,326.57 (its 1,000 and 326.57 of liquidation fees) and 252.65 socialized.
    s2 = next(line for line in rows if "│ s2 " in line)
    assert "-1,579.22 USDC" in s2 and "1,326.57 USDC" in s2 and "252.65 USDC" in s2
    assert "liquidations: 7  bad debt: 832.40 USD" in out


def test_main_when_no_command_then_the_help_exit_2_not_an_error_line(
    capsys: pytest.CaptureFixture[str]
):
    # Was "error: Usage: marginengine [OPTIONS] COMMAND ..." (click's no-args help, an
    # exception since click 8.2, printed as an error line).
    code, out, err = run([], capsys)
    assert code == 2 and out == ""
    assert err.startswith("Usage: marginengine [OPTIONS] COMMAND [ARGS]...")
    assert "error:" not in err and "simulate  Run SCENARIO" in err
