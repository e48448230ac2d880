"""``simulate`` outputs that say what they hold (issue 9, items 14 and 15)."""

import json
from pathlib import Path

import pytest

from tests.cli.test_cli import EXAMPLES, run

REDUCED = ["--set", "book.accounts=60", "--set", "book.total_debt=3000000", "--set",
           "steps=12"]


def test_simulate_when_replay_then_parquet_metadata_names_scenario_seed_units_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    out = tmp_path / "liq2"
    code, stdout, _ = run(["simulate", str(EXAMPLES / "black_thursday_liq2.toml"), "--out",
                           str(out), "--json", "--quiet", *REDUCED], capsys)
    assert code == 0
    summary = json.loads(stdout)
    import pyarrow.parquet as pq

    table = pq.read_table(out / "steps.parquet")
    meta = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
    assert meta["marginengine.scenario"] == "black_thursday_liq2"
    assert meta["marginengine.seed"] == "12" and meta["marginengine.step_seconds"] == "600"
    assert meta["marginengine.start_time_utc"] == "2020-03-12T00:00:00Z"
    units = json.loads(meta["marginengine.units"])
    kinds = json.loads(meta["marginengine.kinds"])
    assert units["bad_debt_usd"] == "USD" and kinds["bad_debt_usd"] == "state"
    assert kinds["bad_debt_realized_usd_cum"] == "cumulative"
    assert kinds["liquidations_step"] == "per_step"
    assert set(units) == set(table.column_names) == set(kinds)
    rows = table.to_pydict()
    assert rows["step"] == list(range(13))
    assert rows["bad_debt_usd"][-1] == pytest.approx(summary["bad_debt"])


def test_simulate_when_not_replay_then_no_start_time(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]):
    out = tmp_path / "q"
    code, _, _ = run(["simulate", str(EXAMPLES / "quickstart.toml"), "--out", str(out),
                      "--quiet", *REDUCED], capsys)
    assert code == 0
    import pyarrow.parquet as pq

    meta = pq.read_table(out / "steps.parquet").schema.metadata or {}
    assert meta[b"marginengine.scenario"] == b"quickstart"
    assert b"marginengine.start_time_utc" not in meta
    assert json.loads((out / "summary.json").read_text())["start_time_utc"] is None


def test_simulate_when_monte_carlo_then_labelled_estimates_intervals_and_tail_warnings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    out = tmp_path / "mc"
    code, stdout, err = run(["simulate", str(EXAMPLES / "gbm_stress.toml"), "--out", str(out),
                             "--json", "--quiet", "--runs", "6", "--workers", "1", *REDUCED],
                            capsys)
    assert code == 0
    summary = json.loads(stdout)
    assert json.loads((out / "summary.json").read_text()) == summary
    # The mean is labelled as one; the unlabelled per-run names are gone.
    assert "bad_debt" not in summary and "liquidated_value" not in summary
    e = summary["estimates"]
    for name in ("mean_bad_debt", "var95_bad_debt", "es99_bad_debt", "lar95", "p_bad_debt",
                 "mean_liquidated_value", "mean_borrower_loss"):
        assert e[name]["ci_low"] <= e[name]["value"] <= e[name]["ci_high"], name
        assert e[name]["observations"] == 6
        assert summary[name] == e[name]["value"]
    # 6 runs: 1 beyond the 95th and the 99th percentiles: warned in the file and on stderr.
    assert e["var95_bad_debt"]["tail_observations"] == 1
    assert len(summary["warnings"]) == 3
    for warning in summary["warnings"]:
        assert f"warning: {warning}" in err
    code, stdout, err = run(["simulate", str(EXAMPLES / "gbm_stress.toml"), "--out",
                             str(tmp_path / "mc2"), "--runs", "6", "--workers", "1",
                             *REDUCED], capsys)
    assert code == 0
    assert "95% interval" in stdout and "runs in tail" in stdout and "var95_bad_debt" in stdout
    assert err.count("warning: ") == 3
