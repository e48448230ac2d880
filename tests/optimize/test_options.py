"""The optimizer on an options book: portfolio-margin parameters as decision variables,
the options metrics, and the refusals of variables and metrics that do not apply.

``options_factor.toml``: s1 (6,000 USDC) and s2 (2,300 USDC) each sell 10 WETH 1800 puts
to mm at 60 USDC under PMRM_2 (derive-pm2); WETH falls 25% in one step (the low perturbed
by ``[noise]``, 1% log-sd) while its ATM vol goes 60% -> 150%. s2 goes insolvent and its
portfolio auction socializes a loss in every run; s1 rides it out. The IM factor ``k``
decides whether s2 may sell at all: PMRM_2's ``IM = MtM + k x worst - contingencies``
(margin/portfolio.py) is linear in ``k``, and the pre-trade check refuses a trade that
leaves IM < 0, so s2 trades while ``k <= k* = (MtM - contingencies) / -worst``.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from marginengine.errors import ConfigError
from marginengine.optimize.api import run
from marginengine.optimize.problem import OptimizeInputError, build_problem
from marginengine.sim import apply_overrides
from marginengine.sim.montecarlo import run_one
from marginengine.sim.schema import load_spec
from marginengine.sim.scripted import ScenarioRunner
from tests.optimize.conftest import LTV, SHOCK

BOOK = Path(__file__).with_name("options_factor.toml")
IM = "protocol.options.portfolio_margin.im_factor"


@pytest.fixture
def book() -> dict[str, Any]:
    return tomllib.loads(BOOK.read_text())


def margins_after_setup(data: dict[str, Any]) -> dict[str, Any]:
    runner = ScenarioRunner(load_spec(data).scripted)  # type: ignore[arg-type]
    runner.setup()
    return {a: runner.engine.portfolio_margin(a) for a in ("s1", "s2", "mm")}


def test_threshold_when_computed_from_the_rule_then_s2_trades_up_to_1_0515(book):
    pm = margins_after_setup(book)["s2"]
    # s2's MtM: its cash, 2,300 + the premium 10 x 60 = 2,900 USDC, less the put's mark
    # (538.31); PMRM_2's option contingencies of derive-pm2: MM 0.003 and IM 0.002 of spot
    # per naked short option, 10 x 2,000 x (0.003 + 0.002) = 100 USDC.
    assert pm.mtm == pytest.approx(2_900 - 538.313699, abs=1e-6)
    assert (pm.mm_contingency, pm.im_contingency) == pytest.approx((60.0, 40.0))
    assert pm.initial == pytest.approx(pm.mtm + pm.worst - 100.0)
    threshold = (pm.mtm - 100.0) / -pm.worst
    assert threshold == pytest.approx(1.051486, abs=1e-6)
    # So on a 0.01 grid, 1.05 lets s2 sell (and it leaves bad debt in every run) and 1.06
    # refuses its trade (no bad debt in any run).
    for k, accepted, bad in (("1.05", 1.0, True), ("1.06", 0.5, False)):
        data = apply_overrides(book, [f"{IM}={k}"])
        rows = [run_one((data, 7, i)) for i in range(3)]
        assert {r["options_trades_accepted"] for r in rows} == {accepted}
        assert all((r["bad_debt"] > 0) == bad for r in rows)
        assert all(r["bad_debt"] == r["options_bad_debt"] for r in rows)


def test_capital_efficiency_when_worked_then_notional_over_initial_margin(book):
    rows = [run_one((book, 7, 0)), run_one((apply_overrides(book, [f"{IM}=1.06"]), 7, 0))]
    pm = margins_after_setup(book)
    # k = 1: all 40 options held (s1 10, s2 10 short; mm 20 long) at spot 2,000.
    assert rows[0]["options_notional"] == 80_000
    required = sum(p.mtm - p.initial for p in pm.values())
    assert required == pytest.approx(2 * (100 - pm["s1"].worst) - pm["mm"].worst)
    assert rows[0]["options_initial_margin"] == pytest.approx(required, rel=1e-12)
    assert rows[0]["options_leverage"] == pytest.approx(80_000 / required, rel=1e-12)
    assert rows[0]["options_leverage"] == pytest.approx(14.475517, abs=1e-6)
    # k = 1.06: s2's trade refused, 20 options held; s1 requires 100 + 1.06 x its worst.
    pm2 = margins_after_setup(apply_overrides(book, [f"{IM}=1.06"]))
    assert rows[1]["options_notional"] == 40_000
    assert rows[1]["options_initial_margin"] == pytest.approx(
        100 - 1.06 * pm2["s1"].worst - 1.06 * pm2["mm"].worst, rel=1e-12)
    assert rows[1]["options_leverage"] == pytest.approx(13.684179, abs=1e-6)


def test_optimizer_when_factor_decides_bad_debt_then_finds_the_smallest_safe_one():
    # Maximize capital efficiency with no run of bad debt: leverage falls as k rises (the
    # requirement k x -worst grows; s2's refusal at k* aside), so the optimum is the
    # first grid point above k* = 1.0515: 1.06.
    report = run(BOOK, [f"{IM}=1.00:1.50:0.01"], ["options_leverage"], ["p_bad_debt<=0"],
                 runs=6, budget=24, seed=3, workers=2)
    aggressive = next(r for r in report.recommendations if r["tier"] == "aggressive")
    assert aggressive["values"][IM] == 1.06
    assert aggressive["metrics"]["p_bad_debt"]["value"] == 0
    assert aggressive["metrics"]["options_leverage"]["value"] == pytest.approx(13.684179,
                                                                               abs=1e-6)
    current = report.result.current
    assert current is not None and current.values == (1.0,)
    # Derive's own factor (1.0) leaves bad debt in every run: 12 runs, all with bad debt.
    assert current.estimates["p_bad_debt"] == 1.0 and current.runs == 12
    columns = report.frontier().columns
    assert {"options_leverage", "security_module_used", "options_auctions"} <= set(columns)


def test_candidates_when_validator_refuses_then_infeasible_naming_the_field(book):
    problem = build_problem(book, [f"{IM}=0.30:1.00:0.10"], ["options_leverage"], [])
    assert problem.current == {IM: 1.0}
    data, why = problem.candidate([problem.params[0].cast(problem.params[0].grid_value(1))])
    assert data is None and why == f"{IM}: must be at least 0.5 (got 0.4)"
    data, why = problem.candidate([problem.params[0].grid_value(3)])
    assert why is None and data is not None
    assert load_spec(data).protocol.options.rules.im_factor == 0.6  # type: ignore[union-attr]


def test_preset_list_when_a_variable_indexes_it_then_written_out_unchanged(book):
    path = "protocol.options.portfolio_margin.scenarios.0.spot_shock"
    problem = build_problem(book, [f"{path}=1.10:1.30:0.01"], ["options_leverage"], [])
    assert problem.current == {path: 1.18}  # derive-pm2's first scenario, +18%
    before = load_spec(book).protocol.options.rules  # type: ignore[union-attr]
    after = load_spec(problem.data).protocol.options.rules  # type: ignore[union-attr]
    assert after == before and len(after.scenarios) == 33  # type: ignore[union-attr]
    data, why = problem.candidate([problem.params[0].grid_value(5)])
    assert why is None and data is not None
    rules = load_spec(data).protocol.options.rules  # type: ignore[union-attr]
    assert rules.scenarios[0].spot_shock == 1.15  # type: ignore[union-attr]
    assert rules.scenarios[1:] == before.scenarios[1:]  # type: ignore[union-attr]


@pytest.mark.parametrize(("param", "message"), [
    ("protocol.options.portfolio_margin.nope=1:2",
     "--param protocol.options.portfolio_margin.nope: unknown path: 'nope' is not a field of "
     "protocol.options.portfolio_margin"),
    ("protocol.options.portfolio_preset=1:2",
     "--param protocol.options.portfolio_preset: not a number (it holds str)"),
    ("options.bidder.nope=0:1",
     "--param options.bidder.nope: unknown path: 'nope' is not a field of options.bidder"),
])
def test_variable_when_not_a_numeric_field_then_refused_naming_it(book, param, message):
    with pytest.raises(OptimizeInputError, match="^" + message.replace("(", r"\(")
                       .replace(")", r"\)")):
        build_problem(book, [param], ["options_leverage"], [])


def test_options_metric_when_scenario_has_no_book_then_refused_naming_the_flag():
    shock = tomllib.loads(SHOCK.read_text())
    with pytest.raises(OptimizeInputError, match=r"^--objective options_leverage: a metric "
                       "of an options book, and shock has none"):
        build_problem(shock, [f"{LTV}=0.7:0.8:0.01"], ["options_leverage"], [])
    with pytest.raises(OptimizeInputError, match=r"^--constraint security_module_used: "):
        build_problem(shock, [f"{LTV}=0.7:0.8:0.01"], ["borrowing_power"],
                      ["security_module_used<=10"])


def test_scripted_when_no_noise_then_refused_naming_noise(book):
    del book["noise"]
    with pytest.raises(ConfigError) as caught:
        build_problem(book, [f"{IM}=1:2:0.1"], ["options_leverage"], [], runs=8)
    assert caught.value.problems[0].startswith("noise: a Monte Carlo (--runs 8) needs "
                                               "something random")


def test_defaults_when_options_book_then_leverage_and_es99(book):
    problem = build_problem(book, [f"{IM}=1:2:0.1"], [], [])
    assert [m.name for m in problem.objectives] == ["options_leverage", "es99_bad_debt"]
    assert problem.efficiency.name == "options_leverage" and problem.kind == "scripted"
    names = [m.name for m in problem.metrics]
    assert "options_bad_debt" in names and "es99_bad_debt" in names
    shock = build_problem(tomllib.loads(SHOCK.read_text()), [f"{LTV}=0.7:0.8:0.01"], [], [])
    assert not any(m.needs for m in shock.metrics)


def test_progress_bar_when_options_book_then_shows_its_objectives(monkeypatch):
    # optimize(progress=True) with the default objectives of an options book: the bar's
    # best feasible point is named by options_leverage and es99_bad_debt, the problem's
    # own objectives (it showed borrowing_power, a lending metric the book has not).
    import rich.progress

    import marginengine.optimize

    shown: list[str] = []

    class Recording(rich.progress.Progress):
        def update(self, task: Any, **fields: Any) -> None:  # type: ignore[override]
            if fields.get("best"):
                shown.append(fields["best"])
            super().update(task, **fields)

    monkeypatch.setattr(rich.progress, "Progress", Recording)
    marginengine.optimize(BOOK, [f"{IM}=1.00:1.50:0.01"], runs=2, budget=4, seed=3,
                          workers=1, progress=True)
    assert shown and all(t.startswith("best feasible: options_leverage=") for t in shown)
    assert all(", es99_bad_debt=" in t and "borrowing_power" not in t for t in shown)


def test_recommendation_when_no_steward_bounded_variable_then_no_steward_path_columns(
        tmp_path: Path):
    # The IM factor of a portfolio-margin preset is no variable the Risk Stewards bound
    # (they bound LTV, threshold, bonus and caps of a lending market), so the change is one
    # governance step: the recommendation must not print a steward path of "0 (0)" steps
    # that make "0" accounts liquidatable, and the page must not show an empty step table.
    from marginengine.optimize.api import summary
    from marginengine.report.frontier import recommendation_rows, write_optimize_report

    report = run(BOOK, [f"{IM}=1.00:1.50:0.01"], ["options_leverage"], ["p_bad_debt<=0"],
                 runs=2, budget=6, seed=3, workers=1)
    data = summary(report)
    for r in data["recommendations"]:
        assert r["path"]["bounded"] == [] and r["path"]["steps"] == []
        assert r["path"]["unbounded"] == {IM: [1.0, r["values"][IM]]}
    rows = recommendation_rows(data)
    assert "steward steps (days)" not in rows[0] and "newly liquidatable" not in rows[0]
    assert all(len(row) == len(rows[0]) for row in rows)
    assert not any("0 (0)" in row for row in rows)
    page = write_optimize_report(tmp_path, data, report.frontier(), report.evaluations())
    if page is not None:  # matplotlib installed
        text = page.read_text()
        assert "<th>day</th>" not in text and "steward-feasible" not in text
        assert "<h2>Changes from today's parameters (governance steps)</h2>" in text
        assert f"{IM}: 1.0 -> {data['recommendations'][0]['values'][IM]} in one " \
               "governance step" in text
