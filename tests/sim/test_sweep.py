"""Sweeps on common random numbers (sim/sweep.py, ``marginengine sweep``) and the Python
API (``marginengine.simulate``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import marginengine
from marginengine.config import read_toml
from marginengine.errors import ConfigError
from marginengine.sim.metrics import SERIES_COLUMNS
from marginengine.sim.montecarlo import RUN_FIELDS
from marginengine.sim.sweep import grid_points, parse_grid, run_sweep
from tests.cli.test_cli import EXAMPLES, run

QUICKSTART = EXAMPLES / "quickstart.toml"


def small() -> dict[str, Any]:
    data = read_toml(QUICKSTART)
    data["steps"] = 40
    data["book"].update({"accounts": 80, "total_debt": 3_000_000})
    return data


def test_grid_is_parsed_and_its_points_are_every_combination() -> None:
    axes = parse_grid(["protocol.markets.WETH.liquidation_bonus=0.05,0.08",
                       "keepers.0.latency=0,2,5", 'oracle.kind="direct","push"'])
    assert axes[0].values == (0.05, 0.08)
    assert axes[2].values == ("direct", "push")
    points = grid_points(axes)
    assert len(points) == 12
    assert points[1] == {"protocol.markets.WETH.liquidation_bonus": 0.05,
                         "keepers.0.latency": 0, "oracle.kind": "push"}
    assert parse_grid(["x=[1, 2],[3]"])[0].values == ([1, 2], [3])


@pytest.mark.parametrize(("items", "problem"), [
    (["book.accounts"], "--grid 'book.accounts': must be PATH=V1,V2,... with a dotted PATH"),
    (["book.accounts=1,,2"], "--grid book.accounts: an empty value (values are separated "
                             "by commas)"),
    (["a=1", "a=2"], "--grid a: given twice; list all its values in one --grid"),
    # Before: accepted, the same point run twice (and 5, 5.0 too).
    (["steps=5,6,5.0"], "--grid steps: the value 5.0 is given twice"),
    (["a+b=1,2", "b=3,4"], "--grid b: b is already on another axis; one path takes one axis"),
    ([], "--grid: at least one PATH=V1,V2,... is needed"),
])
def test_bad_grid_is_refused_naming_the_item(items: list[str], problem: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_grid(items)
    assert info.value.problems == [problem]


def test_sweep_has_points_times_runs_rows_on_the_same_seeds() -> None:
    axes = parse_grid(["protocol.markets.WETH.liquidation_bonus=0.05,0.08",
                       "description=a,b"])
    result = run_sweep(small(), axes, runs=3)
    assert len(result.rows) == 4 * 3
    seeds = {k: [r["seed"] for r in result.rows if r["point"] == k] for k in range(4)}
    assert all(s == ["42/0", "42/1", "42/2"] for s in seeds.values())
    # Common random numbers: a field that changes nothing (the description) gives the
    # same runs, figure for figure; the bonus changes them.
    by = {(r["protocol.markets.WETH.liquidation_bonus"], r["description"], r["run"]): r
          for r in result.rows}
    for bonus in (0.05, 0.08):
        for i in range(3):
            a, b = by[(bonus, "a", i)], by[(bonus, "b", i)]
            assert {k: a[k] for k in ("bad_debt", "liquidation_count", "min_price")} == \
                {k: b[k] for k in ("bad_debt", "liquidation_count", "min_price")}
    assert by[(0.05, "a", 0)]["min_price"] == by[(0.08, "a", 0)]["min_price"]
    assert by[(0.05, "a", 0)]["borrower_loss"] != by[(0.08, "a", 0)]["borrower_loss"]
    point = result.points[1]
    assert point["params"] == {"protocol.markets.WETH.liquidation_bonus": 0.05,
                               "description": "b"}
    assert "var95_bad_debt" in point["estimates"]


def test_a_bad_point_is_refused_before_anything_runs() -> None:
    axes = parse_grid(["book.accounts=80,0"])
    with pytest.raises(ConfigError) as info:
        run_sweep(small(), axes)
    assert info.value.problems[0].startswith(
        "grid point 1 (book.accounts=0): book.accounts: must be at least 1")


def test_cli_sweep_writes_parquet_json_and_chart(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sweep"
    code, stdout, _ = run(["sweep", str(QUICKSTART), "--out", str(out), "--json", "--quiet",
                           "--set", "book.accounts=80", "--set", "steps=30",
                           "--grid", "protocol.markets.WETH.liquidation_bonus=0.05,0.08",
                           "--runs", "2"], capsys)
    assert code == 0
    summary = json.loads(stdout)
    assert summary["grid"] == {"protocol.markets.WETH.liquidation_bonus": [0.05, 0.08]}
    assert [p["point"] for p in summary["points"]] == [0, 1]
    assert json.loads((out / "sweep.json").read_text()) == summary
    import pyarrow.parquet as pq

    rows = pq.read_table(out / "sweep.parquet").to_pylist()
    assert [(r["point"], r["run"], r["seed"]) for r in rows] == [
        (0, 0, "42/0"), (0, 1, "42/1"), (1, 0, "42/0"), (1, 1, "42/1")]
    assert rows[2]["protocol.markets.WETH.liquidation_bonus"] == "0.08"
    assert (out / "sweep.png").stat().st_size > 0


def test_cli_sweep_bad_point_exits_2_and_writes_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sweep"
    code, stdout, err = run(["sweep", str(QUICKSTART), "--out", str(out),
                             "--grid", "book.accounts=80,0"], capsys)
    assert code == 2
    assert "grid point 1 (book.accounts=0): book.accounts:" in err
    assert not out.exists()
    # Checked before the progress bar starts: it used to leave a blank line on stdout
    # (on stderr with --json, before the error).
    assert stdout == ""
    code, stdout, err = run(["sweep", str(QUICKSTART), "--out", str(out), "--json",
                             "--grid", "book.accounts=80,0"], capsys)
    assert code == 2 and stdout == "" and err.splitlines()[-1].startswith("error: ")
    assert "" not in err.splitlines()


def test_simulate_api_returns_summary_steps_dataframe_and_runs() -> None:
    result = marginengine.simulate(QUICKSTART, book__accounts=80, steps=40,
                                   **{"book.total_debt": 3_000_000})
    assert list(result.steps.columns) == [c.name for c in SERIES_COLUMNS]
    assert result.steps["step"].tolist() == list(range(41))
    assert result.steps["bad_debt_usd"].iloc[-1] == pytest.approx(result.summary["bad_debt"])
    assert len(result.runs) == 1 and result.runs["seed"].iloc[0] == "42"
    assert result.runs["run"].iloc[0] == 0
    assert result.engine is not None
    # The same run as the scenario with the same overrides written into it.
    again = marginengine.simulate(small())
    assert again.summary["state_hash"] == result.summary["state_hash"]


def test_simulate_api_monte_carlo_runs_dataframe() -> None:
    result = marginengine.simulate(small(), runs=3)
    assert result.runs["seed"].tolist() == ["42/0", "42/1", "42/2"]
    assert set(RUN_FIELDS) <= set(result.runs.columns)
    assert result.steps.empty
    assert result.summary["runs"] == 3 and "var95_bad_debt" in result.summary


def test_simulate_api_bad_override_names_the_field() -> None:
    with pytest.raises(ConfigError, match=r"book.accounts: must be at least 1 \(0, no "):
        marginengine.simulate(QUICKSTART, book__accounts=0)
    # A scripted scenario runs too (the one pipeline); a Monte Carlo of it needs [noise].
    with pytest.raises(ConfigError, match=r"noise: a Monte Carlo \(runs = 3\) needs "):
        marginengine.simulate(EXAMPLES / "lending_walkthrough.toml", runs=3)


def test_grid_values_when_equal_only_as_numbers_not_types_then_kept() -> None:
    assert parse_grid(["x=1,true"])[0].values == (1, True)


def test_cli_sweep_when_a_path_is_both_swept_and_set_then_exit_2_nothing_written(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Before: the grid's values silently replaced --set's.
    out = tmp_path / "sweep"
    code, _, err = run(["sweep", str(QUICKSTART), "--grid", "steps=5,6", "--set", "steps=3",
                        "--out", str(out), "--quiet"], capsys)
    assert code == 2
    assert err.strip() == ("error: --grid steps: also given by --set steps=...; the grid's "
                           "values would replace it: drop one of the two")
    assert not out.exists()


def test_sweep_labels_when_axes_share_a_last_name_then_told_apart() -> None:
    from marginengine.cli.sweep_cmd import _label

    axes = parse_grid(["protocol.markets.WETH.liquidation_bonus=0.05",
                       "protocol.markets.USDC.liquidation_bonus=0.04", "steps=5"])
    point = {"params": grid_points(axes)[0]}
    # Before: "liquidation_bonus=0.05, liquidation_bonus=0.04, steps=5".
    assert _label(point, axes) == ("WETH.liquidation_bonus=0.05, "
                                   "USDC.liquidation_bonus=0.04, steps=5")


def test_an_axis_of_joined_paths_sets_them_together() -> None:
    axes = parse_grid(["protocol.markets.WETH.liquidation_bonus + keepers.0.latency=0,1",
                       "steps=5,6"])
    assert axes[0].paths == ("protocol.markets.WETH.liquidation_bonus", "keepers.0.latency")
    assert grid_points(axes)[2] == {"protocol.markets.WETH.liquidation_bonus": 1,
                                    "keepers.0.latency": 1, "steps": 5}


def test_cli_sweep_when_grid_on_seed_then_run_seed_and_grid_value_both_kept(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The grid's "seed" column used to share the run seed's list: ints and labels mixed,
    # "internal error: ArrowInvalid" after every run had finished.
    out = tmp_path / "sweep"
    code, _, err = run(["sweep", str(EXAMPLES / "optimize_lending.toml"), "--out", str(out),
                        "--quiet", "--set", "steps=2", "--grid", "seed=1,2", "--runs", "2"],
                       capsys)
    assert code == 0, err
    import pyarrow.parquet as pq

    rows = pq.read_table(out / "sweep.parquet").to_pylist()
    assert [(r["point"], r["run"], r["seed"], r["seed (grid)"]) for r in rows] == [
        (0, 0, "1/0", "1"), (0, 1, "1/1", "1"), (1, 0, "2/0", "2"), (1, 1, "2/1", "2")]


@pytest.mark.parametrize("flag", ["--quiet", "--json"])
def test_cli_sweep_when_runs_leave_thin_tails_then_warned_once_on_stderr_and_in_report(
        flag: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # 3 runs a point: VaR95 and LaR95 rest on ceil(3 x 5%) = 1 run, ES99 on 1. simulate
    # --runs 3 warns on stderr and in its report; a sweep said so only in sweep.json.
    out = tmp_path / "sweep"
    code, stdout, err = run(["sweep", str(EXAMPLES / "optimize_weth.toml"), "--out",
                             str(out), flag, "--set", "steps=10", "--set", "book.accounts=20",
                             "--grid", "protocol.markets.WETH.liquidation_bonus=0.05,0.08",
                             "--runs", "3"], capsys)
    assert code == 0, err
    expected = [
        "warning: var95_bad_debt rests on 1 run(s) beyond the 95th percentile (fewer than "
        "10): unreliable, use at least 200 runs",
        "warning: es99_bad_debt rests on 1 run(s) beyond the 99th percentile (fewer than "
        "10): unreliable, use at least 1000 runs",
        "warning: lar95 rests on 1 run(s) beyond the 95th percentile (fewer than 10): "
        "unreliable, use at least 200 runs"]
    assert err.strip().splitlines() == expected  # once, not once per point
    points = json.loads((out / "sweep.json").read_text())["points"]
    assert [f"warning: {w}" for w in points[0]["warnings"]] == expected
    if flag == "--json":
        assert json.loads(stdout)["points"] == points
    report = (out / "report.html").read_text()
    assert all(f'<p class="note">{w}</p>' in report for w in expected)


def test_cli_sweep_when_one_run_per_point_then_no_warning(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sweep"
    code, _, err = run(["sweep", str(EXAMPLES / "optimize_weth.toml"), "--out", str(out),
                        "--quiet", "--set", "steps=10", "--set", "book.accounts=20",
                        "--grid", "protocol.markets.WETH.liquidation_bonus=0.05,0.08"],
                       capsys)
    assert code == 0 and err == ""
    assert "<p class=\"note\">warning:" not in (out / "report.html").read_text()


def test_sweep_when_runs_is_1_then_each_point_is_simulates_one_run_on_the_scenario_seed(
) -> None:
    # simulate --runs 1 is the run without --runs (seed 42); a sweep's --runs 1 was a
    # Monte Carlo of one run on child seed 42/0: other figures than the same sweep
    # without --runs, and VaR/ES "estimates" of one run, with warnings about them.
    axes = parse_grid(["protocol.markets.WETH.liquidation_bonus=0.05,0.08"])
    once = run_sweep(small(), axes)
    one = run_sweep(small(), axes, runs=1)
    assert one.runs is None
    assert [r["seed"] for r in one.rows] == [r["seed"] for r in once.rows] == ["42", "42"]
    assert one.points == once.points and one.warnings == []
    alone = marginengine.simulate(small(), runs=1,
                                  **{"protocol.markets.WETH.liquidation_bonus": 0.05})
    assert one.points[0]["mean_bad_debt"] == alone.summary["bad_debt"]


def test_sweep_point_when_runs_then_its_estimates_are_the_monte_carlo_of_that_point(
) -> None:
    # A sweep's rows lacked borrowing_power, borrowed_value, borrow_usage, demand_served,
    # auctions_started, auctions_settled_near_zero, insurance_fund_drawdown, adl_volume
    # and final_price: the point's estimates of them read every run as 0 (sweep.json said
    # mean_borrowing_power 0.0 where simulate --runs says 88,865,674 USD).
    data = small()
    data["steps"] = 10
    data["book"].update({"accounts": 30})
    axes = parse_grid(["protocol.markets.WETH.liquidation_bonus=0.05"])
    point = run_sweep(data, axes, runs=3).points[0]
    mc = marginengine.simulate(data, runs=3,
                               **{"protocol.markets.WETH.liquidation_bonus": 0.05})
    assert mc.summary["mean_borrowing_power"] > 10**6
    assert {k: v["value"] for k, v in point["estimates"].items()} == \
        {k: v["value"] for k, v in mc.summary["estimates"].items()}
    assert point["mean_borrowing_power"] == mc.summary["mean_borrowing_power"]
    assert point["mean_borrow_usage"] == mc.summary["mean_borrow_usage"]
    runs = mc.runs
    rows = run_sweep(data, axes, runs=3).rows
    assert [r["borrowing_power"] for r in rows] == runs["borrowing_power"].tolist()
    assert set(RUN_FIELDS) - {"run", "seed"} <= set(rows[0])
