"""``marginengine``: run scenarios and sweeps, evaluate snapshots, replay event logs.

Every error is one line on stderr and exit code 2; no traceback. An unexpected exception
(a bug) is one "internal error" line and exit code 1 (``MARGINENGINE_DEBUG=1`` shows the
traceback). ``replay --expect`` exits 3 when the log replays to another state hash.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from marginengine.errors import MarginEngineError

if TYPE_CHECKING:  # pragma: no cover - types only (the engine is imported when used)
    from marginengine.engine import ReplayReport

EXIT_USAGE = 2
EXIT_INTERNAL = 1
#: ``replay --expect``: the log replayed cleanly, to another state than the one expected.
EXIT_MISMATCH = 3


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_USAGE)


def _width() -> int | None:
    """Full terminal width on a terminal; wide enough for the tables when piped."""
    return None if sys.stdout.isatty() else 160


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="marginengine")
def cli() -> None:
    """An exact, deterministic margin engine for decentralized lending and derivatives,
    and a laboratory that stress-tests it."""


@cli.command()
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Output folder (default: runs/<scenario name>/). It must not exist, be "
                   "empty, or hold a previous run (with --force).")
@click.option("--force", is_flag=True,
              help="Replace a previous run in the output folder: only the files that run "
                   "wrote are deleted, and only once the new run has finished.")
@click.option("--json", "as_json", is_flag=True, help="Print summary.json to stdout.")
@click.option("--quiet", is_flag=True, help="No progress bar and no tables.")
@click.option("--set", "overrides", multiple=True, metavar="PATH=VALUE",
              help="Override a scenario field by dotted path, e.g. "
                   "--set protocol.oracle.stable_price.enabled=false (repeatable).")
@click.option("--runs", type=click.IntRange(1, 100_000), default=None,
              help="Monte Carlo runs (default: monte_carlo.runs); a scenario with explicit "
                   "prices needs a [noise] table.")
@click.option("--backend", type=click.Choice(["process", "dask"]), default=None,
              help="Monte Carlo backend: a local process pool or Dask (default: "
                   "monte_carlo.backend, process).")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="Dask scheduler address (default: a LocalCluster).")
@click.option("--workers", type=click.IntRange(1, 256), default=None,
              help="Workers of the process pool or the LocalCluster (default: "
                   "monte_carlo.workers, 2).")
def simulate(scenario: Path, out_dir: str | None, force: bool, as_json: bool, quiet: bool,
             overrides: tuple[str, ...], runs: int | None, backend: str | None,
             scheduler: str | None, workers: int | None) -> None:
    """Run SCENARIO (a TOML file) through the engine.

    Every scenario runs through one pipeline, whether its prices come from a model
    ([price], kind = "cascade") or are explicit per step ([[steps]], a scripted scenario):
    one run writes events.sqlite, summary.json, steps.parquet, auctions.json, report.html
    (why the bad debt arose, keepers, protocols, the largest losses, the parameters,
    interactive charts) and chart PNGs; more than one run (--runs N) writes runs.parquet,
    the Monte Carlo statistics and a report.html with their distributions and VaR/ES
    intervals. A cascade with [perps] simulates perp markets too, and steps.parquet has
    the insurance fund, ADL and socialized loss per step (e.g. examples/perp_cascade.toml).

    The scenario, the overrides and the output folder are all checked before anything is
    written. The run is written into OUT.partial-<pid> (with a .marginengine-run marker)
    and renamed to OUT once finished. An existing OUT that is not empty is refused unless
    it is a previous run of marginengine and --force is given; even then only the files
    that run wrote are deleted. Staging folders of killed runs are removed by the next
    run.
    """
    from marginengine.cli import cascade_cmd
    from marginengine.cli.output import accounts_table, liquidation_tables, print_tables
    from marginengine.cli.rundir import prepare, target_folder
    from marginengine.config import read_toml
    from marginengine.sim import apply_overrides
    from marginengine.sim.cascade_config import cascade_warnings
    from marginengine.sim.pipeline import RunResult
    from marginengine.sim.schema import load_spec

    data = apply_overrides(read_toml(scenario), list(overrides))
    spec = load_spec(data, str(scenario))
    if spec.cascade is not None:
        for warning in cascade_warnings(spec.cascade):
            click.echo(f"warning: {scenario}: {warning}", err=True)
    spec.check_runs(runs or spec.monte_carlo.runs)
    target = target_folder(out_dir, spec.name)
    folder = prepare(target, spec.name, force)
    staging = folder.staging
    console = Console(stderr=as_json, quiet=quiet, width=_width())
    kept: list[RunResult] = []
    try:
        summary, notes = cascade_cmd.run(spec.data, str(scenario), staging, console, quiet,
                                         runs, backend, scheduler, workers,
                                         on_result=kept.append)
        (staging / "summary.json").write_text(json.dumps(summary, indent=2, default=str)
                                              + "\n")
        folder.commit()
    except BaseException:
        folder.abandon()
        raise
    if as_json:
        click.echo(json.dumps(summary, indent=2, default=str))
        return
    if quiet:
        return
    scripted = kept[0].scripted if kept else None
    if scripted is not None:
        # Explicit actions: every liquidation and refusal, as the scenario listed them.
        options = summary.get("options")
        # The accounts table only when the ledger has accounts (an options book's live
        # in the options ledger: the table was printed empty).
        print_tables(console, *liquidation_tables(scripted, options),
                     *([accounts_table(scripted.engine)] if scripted.engine.ledger.accounts
                       else []))
        for outcome in scripted.rejected:
            console.print(f"[yellow]refused[/yellow] {outcome}")
        if options:
            console.print(
                f"portfolio auctions: {options['auctions_started']} started, "
                f"{options['auctions_finished']} finished, {options['bids']} bids, "
                f"{options['value_liquidated']:,.2f} USD liquidated, insurance fund used "
                f"{options['insurance_fund_used']:,.2f} USD, socialized "
                f"{options['bad_debt']:,.2f} USD")
        console.print(
            f"liquidations: {summary['liquidation_count']}  bad debt: "
            f"{summary['bad_debt']:,.2f} USD  state hash: {summary['state_hash'][:16]}..."
        )
    else:
        console.print(cascade_cmd.summary_table(summary))
    for note in notes:
        console.print(f"[yellow]note[/yellow] {note}")
    files = sorted(p.name for p in target.iterdir() if not p.name.startswith("."))
    console.print(f"wrote {', '.join(files)} under {target}")


@cli.command(name="backtest")
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--margin", "policies", multiple=True, metavar="POLICY",
              help="A margin policy: static, or adaptive[:MODEL[:MODE]] with MODEL ewma "
                   "(default), realized, garch or fhs and MODE direct or governed (default: "
                   "the scenario's) (repeatable; default: static and adaptive).")
@click.option("--runs", type=click.IntRange(1, 100_000), default=None,
              help="Runs per policy (default: monte_carlo.runs); run i of every policy "
                   "uses the same seed.")
@click.option("--set", "overrides", multiple=True, metavar="PATH=VALUE",
              help="Override a scenario field by dotted path, as simulate (repeatable), "
                   "e.g. --set book.accounts=500.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Output folder (default: runs/<scenario name>-backtest/), as simulate.")
@click.option("--force", is_flag=True, help="Replace a previous run (as simulate).")
@click.option("--json", "as_json", is_flag=True, help="Print backtest.json to stdout.")
def backtest_command(scenario: Path, policies: tuple[str, ...], runs: int | None,
                     overrides: tuple[str, ...], out_dir: str | None, force: bool,
                     as_json: bool) -> None:
    """Run cascade SCENARIO under each margin policy on the same book and price paths
    (common random numbers) and compare bad debt, liquidations, liquidated value, average
    borrowing power and borrow usage, with paired bootstrap confidence intervals. Borrow
    usage is debt over the borrowing power at the LTVs in force: above 1 after an LTV cut
    or a price fall, debt already owed over the cut borrowing power (report.md says so).

    Writes backtest.json, backtest.parquet and report.md. The adaptive policy takes the
    scenario's [protocol.adaptive] table (defaults where absent; docs/margin.md).
    """
    from marginengine.cli import backtest_cmd
    from marginengine.config import read_toml
    from marginengine.sim import apply_overrides

    data = apply_overrides(read_toml(scenario), list(overrides))
    result, target = backtest_cmd.run(data, scenario, list(policies) or ["static", "adaptive"],
                                      runs, out_dir, force)
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    from marginengine.sim.backtest import report_markdown

    click.echo(report_markdown(result))
    click.echo(f"wrote {', '.join(backtest_cmd.FILES)} under {target}")


@cli.command()
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--grid", "grid", multiple=True, required=True, metavar="PATH=V1,V2,...",
              help="A scenario field by dotted path and its values, each read as TOML, "
                   "e.g. --grid protocol.markets.WETH.liquidation_bonus=0.05,0.08 "
                   "(repeatable: the points are every combination); PATH1+PATH2=V1,V2 "
                   "sets several fields to each value together.")
@click.option("--runs", type=click.IntRange(1, 100_000), default=None,
              help="Monte Carlo runs per point, on the same seeds at every point (default, "
                   "and 1: one run per point on the scenario's seed, as simulate).")
@click.option("--workers", type=click.IntRange(1, 256), default=1, show_default=True,
              help="Processes running the points and runs.")
@click.option("--set", "overrides", multiple=True, metavar="PATH=VALUE",
              help="Override a scenario field for every point (repeatable).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Output folder (default: runs/<scenario name>-sweep/).")
@click.option("--force", is_flag=True, help="Replace a previous sweep in the output folder.")
@click.option("--json", "as_json", is_flag=True, help="Print sweep.json to stdout.")
@click.option("--quiet", is_flag=True, help="No progress bar and no table.")
def sweep(scenario: Path, grid: tuple[str, ...], runs: int | None, workers: int,
          overrides: tuple[str, ...], out_dir: str | None, force: bool, as_json: bool,
          quiet: bool) -> None:
    """Run SCENARIO (any scenario) at every point of a grid, on common random numbers.

    Every point is checked before anything runs. Run i of every point uses the same seed,
    so differences come from the parameters, not the paths. Writes sweep.parquet (a row
    per point and run), sweep.json (the grid and every point's means, with --runs also
    VaR/ES with bootstrap intervals), sweep.png and report.html (the table and the chart,
    interactive with plotly), and prints the comparison table.
    """
    from marginengine.cli import sweep_cmd
    from marginengine.cli.rundir import prepare, target_folder
    from marginengine.config import read_toml
    from marginengine.sim import apply_overrides
    from marginengine.sim.cascade_config import cascade_warnings
    from marginengine.sim.schema import load_spec
    from marginengine.sim.sweep import (
        check_fixed,
        check_runs,
        grid_points,
        parse_grid,
        plan_sweep,
        run_sweep,
    )

    data = apply_overrides(read_toml(scenario), list(overrides))
    axes = parse_grid(list(grid))
    check_fixed(axes, overrides)
    spec = load_spec(data, str(scenario))
    if spec.cascade is not None:
        # The scenario's own (before the grid), as simulate prints them.
        for warning in cascade_warnings(spec.cascade):
            click.echo(f"warning: {scenario}: {warning}", err=True)
    data = spec.data
    target = target_folder(out_dir, f"{spec.name}-sweep")
    total = len(grid_points(axes)) * (runs or 1)
    console = Console(stderr=as_json, quiet=quiet, width=_width())
    # Every point is checked before the folder is prepared and before the progress bar
    # starts: a bad point writes nothing, not even the bar's blank line.
    plan = plan_sweep(data, axes, str(scenario))
    # Point by point: the grid may give every point its [noise].
    check_runs(plan, runs, str(scenario))
    folder = None
    try:
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                      MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                      transient=True, disable=quiet) as progress:
            task = progress.add_task(f"{spec.name}: sweep", total=total)
            folder = prepare(target, spec.name, force)
            result = run_sweep(plan, runs=runs, workers=workers,
                               progress=lambda n: progress.update(task, completed=n))
        notes = sweep_cmd.write_outputs(result, spec.name, folder.staging)
        folder.commit()
    except BaseException:
        if folder is not None:
            folder.abandon()
        raise
    # On stderr even with --json or --quiet, as simulate --runs: a VaR over a few runs
    # can move by orders of magnitude (they were only in sweep.json).
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    if as_json:
        click.echo(json.dumps(sweep_cmd.summary(result, spec.name), indent=2, default=str))
        return
    if not quiet:
        console.print(sweep_cmd.comparison_table(result))
        for note in notes:
            console.print(f"[yellow]note[/yellow] {note}")
        console.print(f"wrote sweep.json, sweep.parquet, sweep.png, report.html under "
                      f"{target}")


@cli.command()
@click.argument("snapshot", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--order", default=None, metavar="ACCOUNT:SERIES:SIZE[:PREMIUM]",
              help="With --json: the portfolio margin after a proposed option order "
                   "(series WETH-2592000-2200-C, size in options, negative to sell, "
                   "premium in quote tokens; ACCOUNT must be in the snapshot).")
def health(snapshot: Path, as_json: bool, order: str | None) -> None:
    """Evaluate SNAPSHOT (prices and balances, TOML): each account's collateral, debt,
    health factor, whether it is liquidatable, and the largest liquidation allowed;
    accounts with perps: quote cash, equity, maintenance and initial margin, margin ratio,
    and each position's entry, mark, PnL and liquidation price; portfolio accounts
    (options), by the rule of [protocol.options] portfolio_preset (derive-pm2 and the
    other grid presets: PMRM_2; derive-pm1: Derive's PMRM v1; derive-srm: Derive's
    Standard Risk Manager): MtM, initial and maintenance margin, and where the rule has
    scenarios the worst one and the P&L per scenario. A [[vols]] entry of an expiry
    passed at the snapshot's time 0 is skipped with a note on stderr, as serve skips it."""
    from marginengine.cli.output import (
        health_row,
        health_tables,
        option_what_if,
        portfolio_ids,
        portfolio_row,
        print_tables,
    )
    from marginengine.engine.snapshot import load_snapshot

    if order is not None and not as_json:
        raise click.UsageError("--order needs --json")
    notes: list[str] = []
    engine = load_snapshot(snapshot, notes)
    for note in notes:  # what the snapshot's read left out (a passed expiry's [[vols]])
        click.echo(f"note: {note}", err=True)
    for warning in engine.config.truncations():
        click.echo(f"warning: {warning}", err=True)
    if as_json:
        rows: list[dict[str, Any]] = [
            {k: v for k, v in health_row(engine, a).items() if not k.endswith("_display")}
            for a in sorted(engine.ledger.accounts)
        ]
        out: dict[str, Any] = {"preset": engine.config.preset, "accounts": rows}
        pm_ids = portfolio_ids(engine)
        if pm_ids:
            out["portfolio_accounts"] = [portfolio_row(engine, a) for a in pm_ids]
        if order is not None:
            out["what_if"] = option_what_if(engine, order)
        click.echo(json.dumps(out, indent=2))
        return
    print_tables(Console(width=_width()), *health_tables(engine))


@cli.command()
@click.argument("log", metavar="LOG")
@click.option("--json", "as_json", is_flag=True,
              help="Print {events, state_hash, truncated, note, format_version, "
                   "writer_state_hash, writer_note} as JSON (with --expect also "
                   "expected and matches).")
@click.option("--expect", "expected", metavar="HASH", default=None,
              help="The state hash the log must replay to (a run's summary.json "
                   "state_hash, or what a keeper recorded): exit 0 when it does (or when "
                   "it is the hash the log's writer computed), else exit 3 naming both.")
def replay(log: str, as_json: bool, expected: str | None) -> None:
    """Rebuild the state from the event LOG, verifying it; print its state hash and event count.

    LOG is a SQLite file or a PostgreSQL URL (postgresql://user@host:port/database).

    A log whose writer stopped without closing it (a torn tail) replays every acknowledged
    event, exit 0, and says so ("truncated"). A log written before a part of the state
    existed (an Absorb without gas_used and base_fee, before Comet's liquidator points)
    replays with the new fields at their defaults; its state hash then includes that
    part, and the hash its writer computed (without it) is printed beside it. Damage
    anywhere else (an edited, missing or unreadable event, a lost -wal file, a missing
    meta) is one line naming the first bad event, exit 2. The log is read only; nothing
    is written beside it.

    With --expect HASH the replay must end at HASH: a mismatch is exit 3, after the
    report, with both hashes named (a log that replays cleanly to another state was
    written by other rules, or is not the run it is said to be).
    """
    from marginengine.engine import Engine
    from marginengine.persistence import is_postgres_url

    if expected is not None:
        expected = expected.strip().lower()
        if len(expected) != 64 or any(c not in "0123456789abcdef" for c in expected):
            raise click.BadParameter("a state hash is 64 hexadecimal digits (SHA-256)",
                                     param_hint="--expect")
    _, report = Engine.replay(log if is_postgres_url(log) else Path(log))
    matches = expected is None or expected in (report.state_hash, report.writer_state_hash)
    if as_json:
        out: dict[str, Any] = {
            "events": report.events, "state_hash": report.state_hash,
            "truncated": report.truncated, "note": report.note,
            "format_version": report.format_version,
            "writer_state_hash": report.writer_state_hash, "writer_note": report.writer_note,
        }
        if expected is not None:
            out |= {"expected": expected, "matches": matches}
        click.echo(json.dumps(out))
    else:
        _print_replay(report)
    if not matches:
        click.echo(f"error: the log replays to {report.state_hash}, not the expected "
                   f"{expected}", err=True)
        sys.exit(EXIT_MISMATCH)


def _print_replay(report: ReplayReport) -> None:
    """``marginengine replay``'s report as lines."""
    click.echo(f"state hash: {report.state_hash}")
    if report.writer_state_hash is not None:
        click.echo(f"writer's:   {report.writer_state_hash} ({report.writer_note})")
    click.echo(f"events:     {report.events}")
    if report.format_version == "1":
        click.echo("format:     1 (records not chained, no acknowledged count: a lost tail "
                   "cannot be detected)")
    if report.truncated:
        click.echo(f"truncated:  {report.note}")


from marginengine.cli.optimize_cmd import optimize  # noqa: E402
from marginengine.cli.scan_cmd import scan  # noqa: E402
from marginengine.cli.serve_cmd import serve  # noqa: E402

cli.add_command(scan)
cli.add_command(optimize)
cli.add_command(serve)

from marginengine.cli.family_cmd import family  # noqa: E402

cli.add_command(family)


#: click's "no arguments: show the help" (an exception since click 8.2; absent before).
_NO_ARGS: type[click.ClickException] | None = getattr(click.exceptions, "NoArgsIsHelpError",
                                                       None)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: run the CLI, turning every error into one line."""
    try:
        cli.main(args=argv, prog_name="marginengine", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        _fail("aborted")
    except click.ClickException as exc:
        if _NO_ARGS is not None and isinstance(exc, _NO_ARGS):
            # No command: the help, as click prints it (stderr, exit 2), not an error line.
            click.echo(exc.format_message(), err=True)
            sys.exit(2)
        _fail(exc.format_message())
    except MarginEngineError as exc:
        _fail(str(exc))
    except OSError as exc:
        # A file's error names the file; a network one (no file) is its message alone.
        _fail(f"{exc.filename}: {exc.strerror or exc}" if exc.filename else
              str(exc.strerror or exc))
    except KeyboardInterrupt:
        _fail("interrupted")
    except RecursionError:
        _fail("input nested too deeply to process")
    except Exception as exc:  # last resort: a bug, not bad input
        if os.environ.get("MARGINENGINE_DEBUG"):
            raise
        click.echo(f"internal error: {type(exc).__name__}: {exc} (this is a bug in "
                   "marginengine; please report it with the command line; set "
                   "MARGINENGINE_DEBUG=1 for the traceback)", err=True)
        sys.exit(EXIT_INTERNAL)


if __name__ == "__main__":
    main()
