"""``marginengine optimize``: parameter search under a risk budget (docs/optimize.md)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

CACHE_FILE = "evaluations.jsonl"


def _previous_caches(target: Path) -> list[Path]:
    """The cache of a previous run in ``target`` and of stopped runs' staging folders
    beside it (read only: what they hold is resumed, nothing is deleted here)."""
    out = []
    if (target / CACHE_FILE).is_file():
        out.append(target / CACHE_FILE)
    if target.parent.is_dir():
        out += sorted(p / CACHE_FILE for p in target.parent.glob(f"{target.name}.partial-*")
                      if (p / CACHE_FILE).is_file())
    return out


@click.command()
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--param", "params", multiple=True, metavar="PATH=LOW:HIGH[:STEP]",
              help="A decision variable: any numeric scenario path, continuous or on a grid "
                   "(repeatable), LOW below HIGH and STEP at most HIGH - LOW (a fixed value "
                   "is --set; a seed is --seed), e.g. "
                   "protocol.markets.WETH.ltv=0.70:0.82:0.0025; for an options book a "
                   "portfolio-margin parameter, e.g. "
                   "protocol.options.portfolio_margin.im_factor=1.0:2.0:0.01.")
@click.option("--objective", "objectives", multiple=True, metavar="METRIC",
              help="A metric to maximize or minimize (its sense is the metric's own); one: "
                   "CMA-ES, several: NSGA-II (default: borrowing_power, for an options "
                   "book options_leverage, and es99_bad_debt). "
                   "Metrics: borrowing_power, borrow_usage, demand_served (maximized); "
                   "var95_bad_debt, "
                   "es99_bad_debt, lar95, liquidated_value, borrower_loss, mean_bad_debt, "
                   "p_bad_debt (minimized). Of an options book: options_leverage, "
                   "options_trades_accepted (maximized); options_initial_margin, "
                   "options_bad_debt, security_module_used, options_auctions, "
                   "options_insolvent_auctions, options_liquidations (minimized).")
@click.option("--constraint", "constraints", multiple=True, metavar="METRIC<=VALUE",
              help="The risk budget, e.g. \"es99_bad_debt<=250000\" (quoted: the shell "
                   "reads an unquoted < as a redirection; repeatable; >= also).")
@click.option("--runs", type=int, default=64, show_default=True,
              help="Monte Carlo runs per candidate (2 to 100,000), on the same seeds for every "
                   "candidate.")
@click.option("--budget", type=int, default=40, show_default=True,
              help="Candidate evaluations in all (4 to 1,000).")
@click.option("--seed", type=int, default=None,
              help="Master seed of the runs, 0 to 2**32 - 1 (default: the scenario's seed).")
@click.option("--backend", type=click.Choice(["process", "dask"]), default="process",
              show_default=True, help="A local process pool or Dask.")
@click.option("--workers", type=click.IntRange(1, 256), default=2, show_default=True,
              help="Workers of the pool or the LocalCluster.")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="Dask scheduler address (default: a LocalCluster).")
@click.option("--population", type=int, default=None,
              help="Candidates per batch (default: min(16, max(4, budget / 5))).")
@click.option("--set", "overrides", multiple=True, metavar="PATH=VALUE",
              help="A fixed override of the scenario, as simulate --set (repeatable).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Output folder (default: runs/<scenario name>-optimize/).")
@click.option("--force", is_flag=True,
              help="Replace a previous run in the output folder (only what it wrote).")
@click.option("--resume", is_flag=True,
              help="Resume a stopped run in the output folder: its cached evaluations are "
                   "not run again; the finished run replaces it. Without an earlier run it "
                   "starts from scratch, saying so on stderr.")
@click.option("--json", "as_json", is_flag=True, help="Print optimize.json to stdout.")
@click.option("--quiet", is_flag=True, help="No progress bar and no tables.")
def optimize(scenario: Path, params: tuple[str, ...], objectives: tuple[str, ...],
             constraints: tuple[str, ...], runs: int, budget: int, seed: int | None,
             backend: str,
             workers: int, scheduler: str | None, population: int | None,
             overrides: tuple[str, ...], out_dir: str | None, force: bool, resume: bool,
             as_json: bool, quiet: bool) -> None:
    """Search the parameters of SCENARIO under a risk budget: a cascade scenario, or a
    scripted one whose [noise] makes its runs random (an options book:
    examples/optimize_options.toml).

    Every candidate runs on the same seeds (common random numbers); points near the
    frontier run again on more seeds; every reported figure has a 95% bootstrap interval.
    Writes frontier.parquet, evaluations.parquet, optimize.json, report.html (with
    frontier.png) and the evaluation cache (evaluations.jsonl) into the output folder, with
    the same folder rules as simulate. Ctrl-C stops and keeps what was evaluated; run the
    same command with --resume to go on.
    """
    from marginengine.cli.rundir import OutputError, prepare, read_marker, target_folder
    from marginengine.optimize.api import load_problem, recommend, summary, write_outputs
    from marginengine.optimize.cache import EvaluationCache
    from marginengine.optimize.evaluate import SimulatorEvaluator
    from marginengine.optimize.search import Search, Settings
    from marginengine.report.frontier import recommendation_rows, write_optimize_report

    problem = load_problem(scenario, params, objectives, constraints, overrides, runs)
    settings = Settings(runs=runs, budget=budget,
                        seed=problem.seed if seed is None else seed, population=population)
    settings.check()
    target = target_folder(out_dir, f"{problem.name}-optimize")
    previous = []
    if resume:
        if target.exists() and any(target.iterdir()) and read_marker(target) is None:
            raise OutputError(f"--resume: {target} is not a marginengine run")
        previous = _previous_caches(target)
        if not previous:
            # A note, not a refusal: "run with --resume until it finishes" then works on
            # the first call too, and nothing is lost by starting afresh.
            click.echo(f"note: --resume: no earlier run to resume in {target}; starting "
                       "from scratch", err=True)
    folder = prepare(target, problem.name, force or resume)
    staging = folder.staging
    console = Console(stderr=as_json, quiet=quiet, width=None if sys.stdout.isatty() else 160)
    cache = EvaluationCache(staging / CACHE_FILE)
    try:
        for old in previous:
            cache.load(old)
        cache.save_all()
        evaluator = SimulatorEvaluator(backend, workers, scheduler)
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                      MofNCompleteColumn(), TimeElapsedColumn(),
                      TextColumn("{task.fields[best]}"), console=console, transient=True,
                      disable=quiet) as progress:
            task = progress.add_task(f"optimize {problem.name}", total=budget, best="")
            goal = problem.objectives[0].name

            def show(done: int, total: int, best: Any) -> None:
                text = "" if best is None else (
                    f"best feasible: {goal}={best.estimates[goal]:,.4g} at " + ", ".join(
                        f"{p.path.rsplit('.', 1)[-1]}={float(v):g}"
                        for p, v in zip(problem.params, best.values, strict=True)))
                progress.update(task, completed=min(done, total), best=text)

            try:
                result = Search(problem, evaluator, settings, cache, show).run()
            except KeyboardInterrupt:
                cache.close()
                (staging / "optimize.json").write_text(json.dumps(
                    {"scenario": problem.name, "state": "stopped",
                     "cached_rows": len(cache.rows),
                     "resume": "run the same command with --resume"}, indent=1) + "\n")
                folder.commit()
                click.echo(f"stopped: {len(cache.rows)} runs cached in {target}; run the "
                           "same command with --resume to go on", err=True)
                raise
            finally:
                evaluator.close()
        cache.close()
        from marginengine.optimize.api import Report

        report = Report(result, recommend(result))
        write_outputs(staging, report)
        data = summary(report)
        written = write_optimize_report(staging, data, report.frontier(),
                                        report.evaluations())
        folder.commit()
    except KeyboardInterrupt:
        raise
    except BaseException:
        cache.close()
        folder.abandon()
        raise
    if as_json:
        click.echo(json.dumps(data, indent=1, default=str))
        return
    if quiet:
        return
    rows = recommendation_rows(data)
    table = Table(title="Recommendations (95% intervals)", title_justify="left")
    for name in rows[0]:
        table.add_column(name.rsplit(".", 1)[-1] if "." in name else name)
    for r in rows[1:]:
        table.add_row(*r)
    console.print(table)
    c = data["counts"]
    console.print(f"{c['evaluations']} evaluations, {c['runs_executed']:,} runs "
                  f"({c['runs_from_cache']:,} from the cache) in {c['seconds']:.1f} s")
    if written is None:
        console.print("[yellow]note[/yellow] install marginengine[sim] (matplotlib) for "
                      "report.html")
    console.print(f"wrote frontier.parquet, evaluations.parquet, optimize.json"
                  f"{', report.html' if written else ''} under {target}")
