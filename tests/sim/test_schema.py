"""One schema and one pipeline (issue 11 item 1): every example scenario loads through the
one loader, a scripted scenario runs through the same pipeline as a cascade, Monte Carlo
and sweeps of a scripted scenario draw from its [noise], and bad input is one line naming
the field."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from marginengine.cli.main import main
from marginengine.config import read_toml
from marginengine.errors import ConfigError
from marginengine.sim import run_scenario, scenario_from_dict
from marginengine.sim.joint import fix_price
from marginengine.sim.metrics import SERIES_COLUMNS
from marginengine.sim.montecarlo import iterate_process
from marginengine.sim.pipeline import RunResult, run
from marginengine.sim.run_fields import RUN_FIELDS
from marginengine.sim.schema import load_spec
from marginengine.sim.sweep import SWEEP_FIELDS, parse_grid, run_sweep

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
#: Files in examples/ that are not scenarios: snapshots (``marginengine health``) and the
#: service's configuration (``marginengine serve``).
NOT_SCENARIOS = {"snapshot.toml", "snapshot_perps.toml", "options_book.toml", "serve.toml",
                 "serve_options.toml", "serve_snapshot.toml", "serve_snapshot_book.toml"}
SCRIPTED = {"compound_v3", "dai_oracle_spike", "lending_walkthrough", "mango_manipulation",
            "optimize_options", "options_crash", "perp_crash"}
WALKTHROUGH = EXAMPLES / "lending_walkthrough.toml"

#: One borrower, one step: 10 WETH against 15,000 USDC under aave-v3 (WETH: threshold
#: 0.83, bonus 0.05, protocol fee 10% of the bonus, the preset's values); WETH 2,000 ->
#: 1,700 puts health at 17,000 x 0.83 / 15,000 = 0.9407, below 0.95, so the whole debt
#: may be repaid (Aave v3.3's close factor).
ONE: dict[str, Any] = {
    "name": "one",
    "protocol": {"preset": "aave-v3", "markets": {"WETH": {}, "USDC": {}}},
    "prices": {"WETH": 2000, "USDC": 1},
    "accounts": [{"id": "lp", "deposit": {"USDC": 100_000}},
                 {"id": "bob", "deposit": {"WETH": 10}, "borrow": {"USDC": 15_000}}],
    "steps": [{"prices": {"WETH": 1700}}],
}


def _examples() -> list[Path]:
    return sorted(p for p in EXAMPLES.glob("*.toml") if p.name not in NOT_SCENARIOS)


@pytest.mark.parametrize("path", _examples(), ids=lambda p: p.stem)
def test_every_example_when_loaded_then_one_loader_and_kind_from_content(path: Path) -> None:
    data = read_toml(path)
    spec = load_spec(data, str(path))
    assert spec.kind == ("scripted" if path.stem in SCRIPTED else "cascade")
    assert spec.name == data.get("name")
    assert (spec.price_source == "explicit") == (path.stem in SCRIPTED)
    # kind is only a hint: without it the content gives the same kind.
    assert load_spec({k: v for k, v in data.items() if k != "kind"}, str(path)).kind == \
        spec.kind


def test_one_borrower_when_run_then_worked_figures_and_series_columns() -> None:
    result = run(ONE)
    s = result.summary
    assert isinstance(result, RunResult) and result.kind == "scripted"
    assert s["liquidation_count"] == 1 and s["liquidated_value"] == 15_000.0
    # Seized: 15,000 x 1.05 / 1,700 WETH (rounded down to the wei), worth 15,750 less one
    # price unit; the borrower loses the 5% bonus, 750 USD (sim/metrics.py), the keeper
    # 90% of it (the protocol keeps 10%: 75 USD).
    assert s["collateral_seized_value"] == pytest.approx(15_749.99999999, abs=1e-9)
    assert s["borrower_loss"] == pytest.approx(749.99999999, abs=1e-9)
    assert s["liquidator_profit"] == pytest.approx(674.99999999, abs=1e-9)
    assert s["bad_debt"] == 0.0 and s["setup_rejected"] == 0
    assert s["min_price"] == 1700.0 and s["final_price"] == 1700.0
    assert s["headline"] == "WETH" and s["price_source"] == "explicit"
    series = result.series
    assert [c.name for c in SERIES_COLUMNS] == list(series)[:len(SERIES_COLUMNS)]
    assert series["step"] == [0, 1]
    assert series["external_price_usd"] == [2000.0, 1700.0]
    assert series["liquidatable_accounts"] == [0, 1]     # before the keeper acts
    assert series["liquidations_step"] == [0, 1]
    assert series["borrower_loss_usd_cum"] == [0.0, s["borrower_loss"]]
    assert series["health_p50"][0] == pytest.approx(10 * 2000 * 0.83 / 15_000)
    assert math.isnan(series["health_p50"][1])           # no debt left
    assert series["external_price_usd.USDC"] == [1.0, 1.0]


def test_scripted_and_cascade_when_run_then_same_result_type_and_columns() -> None:
    cascade = {**read_toml(EXAMPLES / "quickstart.toml")}
    cascade["book"] = {**cascade["book"], "accounts": 30, "whales": 1}
    cascade["steps"] = 5
    a, b = run(ONE), run(cascade, amplification=False)
    assert type(a) is type(b) is RunResult
    assert (a.kind, b.kind) == ("scripted", "cascade")
    names = [c.name for c in SERIES_COLUMNS]
    assert list(a.series)[:len(names)] == list(b.series)[:len(names)] == names
    # The figures a Monte Carlo and a sweep read are in both summaries.
    for field in (*RUN_FIELDS, *SWEEP_FIELDS):
        if field not in ("run", "seed"):
            assert field in a.summary and field in b.summary, field


@pytest.mark.parametrize("name", sorted(SCRIPTED))
def test_scripted_example_when_run_by_pipeline_then_figures_of_run_scenario(name: str) -> None:
    data = read_toml(EXAMPLES / f"{name}.toml")
    alone = json.loads(json.dumps(run_scenario(scenario_from_dict(data)).summary(),
                                  default=str))
    piped = json.loads(json.dumps(run(data).summary, default=str))
    assert {k: piped[k] for k in alone} == alone
    steps = len(data.get("steps", []))
    assert len(run(data).series["step"]) == steps + 1


def test_perturbed_when_walk_then_documented_factors() -> None:
    spec = load_spec({**ONE, "steps": [{"prices": {"WETH": 1900}}, {"advance": 60},
                                       {"prices": {"WETH": 1700}}],
                      "noise": {"sigma": 0.1}})
    assert spec.scripted is not None
    out = spec.scripted.perturbed(np.random.default_rng(7))
    z = np.random.default_rng(7).standard_normal((3, 1))[:, 0]
    logs = np.cumsum(0.1 * z - 0.005)
    assert out.steps[0][1] == {"WETH": fix_price(1900 * math.exp(logs[0]))}
    assert out.steps[1][1] == {}                      # a step without a price keeps none
    assert out.steps[2][1] == {"WETH": fix_price(1700 * math.exp(logs[2]))}
    assert spec.scripted.steps[0][1] == {"WETH": 1900 * 10**8}   # the spec is untouched
    independent = load_spec({**ONE, "noise": {"sigma": 0.1, "kind": "independent"}})
    assert independent.scripted is not None
    z1 = np.random.default_rng(7).standard_normal((1, 1))[0, 0]
    assert independent.scripted.perturbed(np.random.default_rng(7)).steps[0][1] == {
        "WETH": fix_price(1700 * math.exp(0.1 * z1 - 0.005))}


def test_monte_carlo_of_scripted_when_noise_then_seeded_runs_that_differ() -> None:
    data = {**read_toml(WALKTHROUGH), "noise": {"sigma": 0.05}, "seed": 9}
    rows = list(iterate_process(data, 9, 4, 1))
    again = list(iterate_process(data, 9, 4, 2))
    assert rows == again                          # any number of workers, bit for bit
    assert [r["seed"] for r in rows] == ["9/0", "9/1", "9/2", "9/3"]
    assert len({r["liquidated_value"] for r in rows}) > 1
    # A single run is the path as written: the walkthrough's own figures.
    assert run(data).summary["bad_debt"] == pytest.approx(2947.426398, abs=1e-9)


def test_sweep_of_scripted_when_runs_then_points_times_runs_with_common_seeds() -> None:
    data = {**read_toml(WALKTHROUGH), "noise": {"sigma": 0.03}}
    axes = parse_grid(["protocol.markets.WETH.liquidation_bonus=0.05,0.08"])
    result = run_sweep(data, axes, runs=3)
    assert len(result.rows) == 2 * 3
    assert [r["seed"] for r in result.rows] == ["1/0", "1/1", "1/2"] * 2
    first, second = result.points
    assert second["mean_borrower_loss"] > first["mean_borrower_loss"]
    once = run_sweep(read_toml(WALKTHROUGH), axes)
    # 0.05 is the preset's WETH bonus: the point is the walkthrough as written.
    assert once.rows[0]["bad_debt"] == pytest.approx(2947.426398, abs=1e-9)
    assert [r["seed"] for r in once.rows] == ["1", "1"]
    with pytest.raises(ConfigError, match=r"^grid point 0: noise: a Monte Carlo"):
        run_sweep(read_toml(WALKTHROUGH), axes, runs=2)


@pytest.mark.parametrize(("change", "expected"), [
    ({"kind": "cascade"},
     ['steps: kind = "cascade" takes a step count (an integer) with [price]; a list of '
      '[[steps]] with explicit prices is a scripted scenario (omit kind, or kind = '
      '"scripted")']),
    ({"keepers": [{"id": "k"}]},
     ["keepers: applies to scenarios whose prices come from a model (steps = N with "
      "[price]); this one's prices are explicit [[steps]] (here: [liquidator])"]),
    ({"kind": "scripted", "price": {"process": "gbm"}},
     ["price: applies to scenarios whose prices come from a model (steps = N with "
      "[price]); this one's prices are explicit [[steps]] (here: prices in [[steps]])"]),
    ({"kind": "casade"},
     ["kind: unknown kind 'casade' (kinds: scripted, cascade; or omit it: [price] makes a "
      "cascade, explicit [[steps]] a scripted scenario)"]),
    ({"noise": {"sigma": 0}}, ["noise.sigma: must be greater than 0 (got 0)"]),
    ({"monte_carlo": {"runs": 0}, "headline": "BTC"},
     ["headline: unknown asset 'BTC' (markets: USDC, WETH)",
      "monte_carlo.runs: must be at least 1 (got 0)"]),
    ({"noise": {"sigma": 0.1, "assets": ["USDC"]}},
     ["noise.assets.0: 'USDC' has no explicit step price to perturb (priced in steps: "
      "WETH)"]),
    ({"headline": "BTC"}, ["headline: unknown asset 'BTC' (markets: USDC, WETH)"]),
])
def test_bad_schema_when_scripted_then_one_problem_naming_the_field(
        change: dict[str, Any], expected: list[str]) -> None:
    with pytest.raises(ConfigError) as err:
        load_spec({**ONE, **change})
    assert err.value.problems == expected


def test_bad_schema_when_cascade_with_scripted_section_then_named() -> None:
    data = {**read_toml(EXAMPLES / "quickstart.toml"), "liquidator": {"id": "k"}}
    with pytest.raises(ConfigError) as err:
        load_spec(data)
    assert err.value.problems == [
        "liquidator: applies to scenarios with explicit prices in [[steps]]; this one's "
        "prices come from [price] (here: [[keepers]])"]


def test_cli_when_bad_schema_then_exit_2_one_line_nothing_written(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(WALKTHROUGH.read_text() + '\n[[keepers]]\nid = "k"\n')
    with pytest.raises(SystemExit) as code:
        main(["simulate", str(bad), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code.value.code == 2 and err.count("\n") == 1
    assert err.startswith(f"error: {bad}: keepers: applies to scenarios whose prices come")
    assert not (tmp_path / "o").exists()


def test_walkthrough_capacity_when_run_then_borrowers_ltv_worked() -> None:
    s = run(read_toml(WALKTHROUGH)).summary
    # The borrowers' 50 + 5 + 0.6 + 8 + 10 = 73.6 WETH at 2,000 USD and aave-v3's WETH
    # LTV of 0.805 (the lender "lp" borrows nothing and is not counted).
    assert s["borrowing_power"] == pytest.approx(73.6 * 2000 * 0.805)
    assert s["borrowed_value"] == s["borrow_demand"] == 78_000 + 8_000 + 950 + 11_000 + 8_000
    assert s["borrow_usage"] == pytest.approx(105_950 / 118_496)
    assert s["demand_served"] == 1.0


def _path_cascade() -> dict[str, Any]:
    """The quickstart on an explicit path (2,000 -> 1,500 at step 2), 20 book accounts,
    and alice: 10 WETH against 15,000 USDC (health 20,000 x 0.83 / 15,000 = 1.107 at
    2,000; 0.83 at 1,500, so liquidatable)."""
    data = read_toml(EXAMPLES / "quickstart.toml")
    data.pop("gas")
    data.update(steps=4, price={"asset": "WETH", "process": "path",
                                "path": [2000, 2000, 1500, 1500, 1500]},
                accounts=[{"id": "alice", "deposit": {"WETH": 10},
                           "borrow": {"USDC": 15_000}}])
    data["book"] = {**data["book"], "accounts": 20, "whales": 1}
    return data


def test_cascade_when_explicit_actions_then_applied_at_their_step_and_refusals_listed() -> None:
    data = _path_cascade()
    alone = run(data, amplification=False)
    assert alone.engine.account_data("alice").total_debt == 0     # liquidated in full
    assert alone.summary["explicit_actions"] == 0
    data["actions"] = [
        {"step": 1, "type": "repay", "account": "alice", "asset": "USDC", "amount": 10_000},
        {"step": 2, "type": "withdraw", "account": "alice", "asset": "WETH", "amount": 100}]
    acted = run(data, amplification=False)
    # Repaid to 5,000 at step 1 (plus four steps of interest, under 0.02 USD), alice's
    # health at 1,500 is 12,450 / 5,000 = 2.49: never liquidated.
    debt = acted.engine.account_data("alice").total_debt / 10**8
    assert 5_000 < debt < 5_000.02
    assert acted.summary["liquidation_count"] == alone.summary["liquidation_count"] - 1
    assert acted.summary["explicit_actions"] == 2
    assert acted.summary["rejected_actions"] == [
        'WithdrawRejected(reason="amount 100 WETH is beyond the supplied balance 10 WETH")']


def test_cascade_when_bad_explicit_action_then_named() -> None:
    data = _path_cascade()
    data["actions"] = [
        {"step": 5, "type": "repay", "account": "alice", "asset": "USDC", "amount": 1},
        {"step": 1, "type": "repay", "account": "alice", "asset": "DAI", "amount": 1},
        {"step": 1, "type": "borrow", "account": "alice", "asset": "USDC", "amount": 0}]
    with pytest.raises(ConfigError) as err:
        load_spec(data)
    assert err.value.problems == [
        "actions.0.step: must be at most steps (4) (got 5)",
        "actions.1.asset: unknown asset 'DAI' (markets: USDC, WETH)",
        "actions.2.amount: must be positive (got 0)"]


@pytest.mark.parametrize(("path", "command"), [
    (EXAMPLES / "families" / "morpho_bad_debt.toml", "family"),
    (EXAMPLES / "serve.toml", "serve")])
def test_load_spec_when_file_of_another_command_then_named(path: Path, command: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_spec(read_toml(path), str(path))
    assert len(err.value.problems) == 1
    assert f"this file is for `marginengine {command} FILE`" in err.value.problems[0]


def test_scripted_monte_carlo_table_when_runs_but_no_noise_then_refused() -> None:
    spec = load_spec({**ONE, "monte_carlo": {"runs": 3, "workers": 1}})
    assert spec.monte_carlo.runs == 3 and not spec.random
    with pytest.raises(ConfigError, match=r"^noise: a Monte Carlo \(--runs 3\)"):
        spec.check_runs(spec.monte_carlo.runs)
    noisy = load_spec({**ONE, "monte_carlo": {"runs": 3}, "noise": {"sigma": 0.01}})
    noisy.check_runs(3)  # something to draw: accepted


def test_cli_when_scripted_sweep_and_monte_carlo_then_written(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import pyarrow.parquet as pq

    main(["sweep", str(WALKTHROUGH), "--grid",
          "protocol.markets.WETH.liquidation_bonus=0.05,0.08", "--out", str(tmp_path / "s"),
          "--json", "--quiet"])
    sweep = json.loads(capsys.readouterr().out)
    assert [p["params"] for p in sweep["points"]] == [
        {"protocol.markets.WETH.liquidation_bonus": 0.05},
        {"protocol.markets.WETH.liquidation_bonus": 0.08}]
    assert sweep["points"][0]["mean_bad_debt"] == pytest.approx(2947.426398, abs=1e-9)
    assert pq.read_table(tmp_path / "s" / "sweep.parquet").num_rows == 2
    main(["simulate", str(WALKTHROUGH), "--runs", "3", "--workers", "1", "--set",
          "noise.sigma=0.05", "--out", str(tmp_path / "m"), "--json", "--quiet"])
    summary = json.loads(capsys.readouterr().out)
    assert summary["runs"] == 3 and summary["run_seeds"] == ["1/0", "1/1", "1/2"]
    assert pq.read_table(tmp_path / "m" / "runs.parquet").column("seed").to_pylist() == [
        "1/0", "1/1", "1/2"]


def test_cli_sweep_when_the_grid_gives_the_noise_then_monte_carlo_per_point(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import pyarrow.parquet as pq

    from tests.cli.test_cli import run as run_cli

    # Before: refused ("noise: a Monte Carlo (--runs 2) needs something random") from the
    # scenario without its grid, though every point has its [noise].
    code, out, _ = run_cli(["sweep", str(WALKTHROUGH), "--grid", "noise.sigma=0.01,0.05",
                            "--runs", "2", "--workers", "1", "--out", str(tmp_path / "s"),
                            "--json", "--quiet"], capsys)
    assert code == 0
    sweep = json.loads(out)
    assert [p["params"] for p in sweep["points"]] == [{"noise.sigma": 0.01},
                                                      {"noise.sigma": 0.05}]
    rows = pq.read_table(tmp_path / "s" / "sweep.parquet").to_pylist()
    assert [(r["point"], r["seed"]) for r in rows] == [(0, "1/0"), (0, "1/1"), (1, "1/0"),
                                                       (1, "1/1")]
    # Without noise anywhere it is still refused, naming the point, and nothing written.
    code, _, err = run_cli(["sweep", str(WALKTHROUGH), "--grid",
                            "protocol.markets.WETH.liquidation_bonus=0.05,0.08", "--runs",
                            "2", "--out", str(tmp_path / "t"), "--quiet"], capsys)
    assert code == 2
    assert err.startswith(f"error: {WALKTHROUGH}: grid point 0: noise: a Monte Carlo "
                          "(--runs 2) needs something random")
    assert not (tmp_path / "t").exists()


def test_cli_backtest_when_scripted_then_one_line_naming_kind(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as code:
        main(["backtest", str(WALKTHROUGH), "--out", str(tmp_path / "b")])
    err = capsys.readouterr().err
    assert code.value.code == 2 and err == (
        f"error: {WALKTHROUGH}: kind: backtest compares margin policies on generated "
        "paths (a cascade: steps = N with [price] and [book]); this scenario's prices are "
        "explicit [[steps]]\n")
    assert not (tmp_path / "b").exists()
