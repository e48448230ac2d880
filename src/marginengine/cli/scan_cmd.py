"""``marginengine scan``: the liquidatable accounts of a book, totals, and the sensitivity
curve. A face only: the rules are the engine's, the screen is the risk book's."""

from __future__ import annotations

import gc
import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from marginengine.config import PRESET_NAMES

_SHOCK_HELP = ("Shock a price before scanning, ASSET:FRACTION (WETH:-0.3 is a 30% drop); "
               "repeat for several assets.")


def _parse_shock(ctx: click.Context, param: click.Parameter,
                 values: tuple[str, ...]) -> dict[str, Decimal]:
    from marginengine.scan.errors import ScanError
    from marginengine.scan.whatif import parse_fraction

    shocks: dict[str, Decimal] = {}
    for value in values:
        asset, sep, fraction = value.partition(":")
        if not sep or not asset.strip():
            raise click.BadParameter(
                f"expected ASSET:FRACTION such as WETH:-0.3, got {value!r}", ctx, param)
        name = asset.strip()
        try:
            shock = parse_fraction(fraction, name)
        except ScanError as exc:
            raise click.BadParameter(str(exc), ctx, param) from None
        if name in shocks:
            # The second would replace the first: not the scan the command line reads as.
            raise click.BadParameter(f"{name}: given twice ({shocks[name]} and {shock}); "
                                     "give one fraction per asset", ctx, param)
        shocks[name] = shock
    return shocks


def _check_threshold(ctx: click.Context, param: click.Parameter, value: str) -> str:
    from marginengine.scan.confirm import threshold_wad
    from marginengine.scan.errors import ScanError

    try:
        threshold_wad(value)  # the risk book's rule, before the book is read
    except ScanError as exc:
        raise click.BadParameter(str(exc).removeprefix("threshold: "), ctx, param) from None
    return value


def _parse_drops(ctx: click.Context, param: click.Parameter,
                 value: str | None) -> list[Decimal] | None:
    if value is None:
        return None
    drops = []
    for part in value.split(","):
        try:
            drop = Decimal(part.strip())
        except ArithmeticError:
            raise click.BadParameter(f"{part.strip()!r} is not a number", ctx, param) from None
        if not drop.is_finite() or not 0 <= drop < 1:
            raise click.BadParameter(f"each drop must be in [0, 1), got {part.strip()!r}",
                                     ctx, param)
        if drop in drops:
            raise click.BadParameter(f"the drop {part.strip()} is given twice", ctx, param)
        drops.append(drop)
    return drops


def _usd(base_units: int) -> float:
    return base_units / 10**8


@click.command()
@click.argument("book", type=click.Path(dir_okay=False, path_type=Path), required=False)
@click.option("--prices", "prices_path", default=None,
              type=click.Path(dir_okay=False, path_type=Path),
              help="TOML file with a [prices] table (USD per whole token); required with "
                   "BOOK.")
@click.option("--log", "log", default=None, metavar="LOG",
              help="Instead of BOOK: an engine's event log (SQLite file or PostgreSQL URL, "
                   "such as a run's events.sqlite) of a family preset (euler-v2, mango-v4, "
                   "drift-v2, liquity-v1, liquity-v1-2025, morpho-blue), replayed and its "
                   "family book scanned at the log's last prices.")
@click.option("--protocol", "protocol_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Protocol TOML (top-level keys or a [protocol] table).")
@click.option("--preset", type=click.Choice(PRESET_NAMES), default=None,
              help="Preset with all its markets when no --protocol is given (aave-v3).")
@click.option("--shock", "shocks", multiple=True, callback=_parse_shock,
              metavar="ASSET:FRACTION", help=_SHOCK_HELP)
@click.option("--threshold", default="1", show_default=True, callback=_check_threshold,
              help="Health below which an account is listed (1: liquidatable).")
@click.option("--curve-asset", default=None,
              help="Asset of the sensitivity curve (default: the shocked asset when one is "
                   "shocked, else the largest collateral of accounts that owe something).")
@click.option("--curve-drops", default=None, callback=_parse_drops,
              help="Comma-separated price drops of the curve (default 0.05,0.10,...,0.50).")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(min=0),
              help="Accounts shown in the table (--json lists all).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
def scan(book: Path | None, prices_path: Path | None, log: str | None,
         protocol_path: Path | None, preset: str | None, shocks: dict[str, Decimal],
         threshold: str, curve_asset: str | None, curve_drops: list[Decimal] | None,
         limit: int, as_json: bool) -> None:
    """Scan BOOK (CSV or Parquet: account,asset,supplied,borrowed in whole tokens) at the
    prices of --prices: the accounts below the threshold sorted by shortfall, their
    totals, and the curve of liquidatable value against a price drop.

    Or scan the family book of the engine an event log rebuilds (--log LOG, no BOOK): the
    accounts the family's rule says are liquidatable now (Euler, Mango, Drift accounts;
    Liquity troves, with the TCR and whether the system is in recovery mode; Morpho
    positions per market).

    Screened in float64 and confirmed with the engine's exact arithmetic.
    """
    from marginengine.scan import RiskBook, ScanError
    from marginengine.scan.files import load_engine
    from marginengine.scan.whatif import DEFAULT_DROPS, evaluate, shock_curve

    if log is not None:
        given = [name for name, value in (
            ("BOOK", book), ("--prices", prices_path), ("--protocol", protocol_path),
            ("--preset", preset), ("--shock", shocks), ("--curve-asset", curve_asset),
            ("--curve-drops", curve_drops)) if value] + (
            ["--threshold"] if threshold.strip() != "1" else [])
        if given:
            raise click.UsageError(f"--log: scans a family book at the log's prices, "
                                   f"without {', '.join(given)}")
        _scan_log(log, limit, as_json)
        return
    if book is None:
        raise click.UsageError("BOOK: missing (or --log LOG for a family preset)")
    if prices_path is None:
        raise click.UsageError("--prices: required with BOOK")
    # The book's accounts, positions and the risk book live until the command ends and hold
    # no reference cycles to collect: the collector's passes over them (more than half of
    # building a 200,000-row book, benchmarks/README.md "book_read.py") buy nothing in this
    # one-shot, single-threaded process, so it is paused while they are built.
    gc.disable()
    try:
        engine = load_engine(book, prices_path, protocol_path, preset)
        risk = RiskBook.from_engine(engine, subscribe=False)
    finally:
        gc.enable()
    for asset in shocks:
        if asset not in engine.config.markets:
            raise ScanError(f"--shock: unknown asset {asset!r} (markets: "
                            f"{', '.join(sorted(engine.config.markets))})")
        if asset not in engine.prices:
            raise ScanError(f"--shock: {asset} has no price in {prices_path}")
    if curve_asset is not None and curve_asset not in engine.prices:
        raise ScanError(f"--curve-asset: {curve_asset!r} is not a priced market")
    result = risk.full_scan(threshold)
    prices = dict(engine.prices)
    if shocks:
        outcome = evaluate(risk, [shocks], keep_rows=True)[0]
        rows = outcome.rows
        prices.update(outcome.prices)
    else:
        rows = risk.below_rows()
    accounts = _account_rows(engine, risk.accounts.ids(rows), prices)
    totals = {
        "accounts": len(accounts),
        "collateral": sum(a["collateral_base"] for a in accounts),
        "debt": sum(a["debt_base"] for a in accounts),
        "shortfall": sum(a["shortfall_base"] for a in accounts),
    }
    if curve_asset is None:
        curve_asset = next(iter(shocks)) if len(shocks) == 1 else _largest_collateral(risk)
    drops = curve_drops if curve_drops is not None else list(DEFAULT_DROPS)
    if not curve_asset:  # nothing held as collateral: no curve to draw
        drops = []
    curve = shock_curve(risk, curve_asset, drops, base=shocks) if curve_asset else []
    curve_name = curve_asset or ""
    report: dict[str, Any] = {
        "preset": engine.config.preset,
        "threshold": str(result.threshold),
        "shocks": {a: str(f) for a, f in shocks.items()},
        "prices": {a: str(p) for a, p in sorted(prices.items())},
        "book_accounts": risk.n_accounts,
        "accounts": accounts,
        "totals": {k: (v if k == "accounts" else str(v)) for k, v in totals.items()},
        "totals_usd": {k: _usd(v) for k, v in totals.items() if k != "accounts"},
        "curve": {
            "asset": curve_asset,
            "points": [
                {"drop": str(d), "price": str(o.prices[curve_name]),
                 "accounts": o.accounts, "debt_usd": o.debt, "collateral_usd": o.collateral,
                 "shortfall_usd": o.shortfall}
                for d, o in zip(drops, curve, strict=True)
            ],
        },
    }
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    _print_report(report, limit)


def _scan_log(log: str, limit: int, as_json: bool) -> None:
    from marginengine.engine import Engine
    from marginengine.persistence import is_postgres_url
    from marginengine.scan import FamilyRiskBook

    engine, replayed = Engine.replay(log if is_postgres_url(log) else Path(log))
    result = FamilyRiskBook(engine).scan()
    report: dict[str, Any] = {
        "preset": engine.config.preset, "log": log, "events": replayed.events,
        "time": engine.ledger.time, "screened": result.screened,
        "candidates": len(result.candidates), "liquidatable": result.liquidatable,
    }
    if result.tcr is not None:
        # Exact (18 decimals, Liquity's floor) as a string; 2**256 - 1 without debt.
        report["tcr"] = str(result.tcr)
        report["recovery_mode"] = result.recovery_mode
    if result.markets:
        report["markets"] = {name: {"screened": m.screened, "candidates": len(m.candidates),
                                    "liquidatable": m.liquidatable}
                             for name, m in result.markets.items()}
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    unit = "positions" if result.markets else "troves" if result.tcr is not None else \
        "accounts"
    console = Console(width=None if sys.stdout.isatty() else 160)
    console.print(f"Liquidatable {unit} ({engine.config.preset})")
    table = Table()
    rows: list[tuple[str, ...]]
    if result.markets:
        table.add_column("market")
        rows = [(name, a) for name, m in result.markets.items() for a in m.liquidatable]
    else:
        rows = [(a,) for a in result.liquidatable]
    table.add_column("trove" if result.tcr is not None else "account")
    for row in rows[:limit]:
        table.add_row(*row)
    if rows and limit:
        console.print(table)
    if len(rows) > limit:
        console.print(f"... and {len(rows) - limit} more (--limit, or --json for all)")
    console.print(f"{len(rows)} liquidatable of {result.screened} {unit} screened "
                  f"({len(result.candidates)} confirmed exactly) in {log} after "
                  f"{replayed.events} events")
    if result.tcr is not None:
        tcr = ("infinite (no debt)" if result.tcr == 2**256 - 1
               else f"{Decimal(result.tcr) / 10**16:.2f}%")
        mode = "recovery mode" if result.recovery_mode else "normal mode"
        console.print(f"TCR {tcr}: {mode}")


def _account_rows(engine: Any, ids: list[str], prices: dict[str, int]) -> list[dict[str, Any]]:
    from marginengine.engine import fmt_health

    rows = []
    for account_id in ids:
        data = engine.model.account_data(engine.ledger, prices, account_id)
        shortfall = data.total_debt - data.maintenance_value
        rows.append({
            "account": account_id,
            "health_factor": fmt_health(data.health_factor),
            "health_factor_wad": str(data.health_factor),
            "collateral_base": data.total_collateral,
            "debt_base": data.total_debt,
            "shortfall_base": shortfall,
        })
    rows.sort(key=lambda r: (-r["shortfall_base"], r["account"]))
    for r in rows:
        for key in ("collateral_base", "debt_base", "shortfall_base"):
            r[key.replace("_base", "_usd")] = _usd(r[key])
    return rows


def _largest_collateral(risk: Any) -> str | None:
    """The asset with the most collateral value backing debt: held by accounts that owe
    something (by every account when none does). A lender's supply is collateral no
    price fall can liquidate; counted, a pool's largest deposit (often the borrowers'
    debt asset) would be the curve's asset."""
    import numpy as np

    w = risk.assets.weights()
    owing = np.unique(risk.debt.to_coo()[0])
    best, best_value = None, 0.0
    for k, symbol in enumerate(risk.assets.symbols):
        # the market's own collateral column and its e-mode columns
        value = 0.0
        for j in risk.assets.coll_columns[k]:
            rows, vals = risk.collateral.exposure(j)
            held = vals[np.isin(rows, owing)] if owing.size else vals
            value += float(np.sum(held)) * float(w.raw_collateral[j])
        if value > best_value:
            best, best_value = symbol, value
    return best


def _percent(fraction: str, sign: bool = False) -> str:
    """A fraction as the exact percentage it is (0.025: 2.5%, not a rounded 2%)."""
    value = Decimal(fraction) * 100
    text = f"{value.quantize(Decimal(1)) if value == value.to_integral() else value.normalize():f}"
    return f"{'+' if sign and value > 0 else ''}{text}%"


def _price(base_units: str) -> str:
    """A price of 8 decimals as it is, at least to the cent (0.975, not a rounded 0.97)."""
    value = Decimal(int(base_units)) / 10**8
    return f"{value:,.2f}" if value == value.quantize(Decimal("0.01")) else \
        f"{value.normalize():,f}"


def _print_report(report: dict[str, Any], limit: int) -> None:
    console = Console(width=None if sys.stdout.isatty() else 160)
    shocks = ", ".join(f"{a} {_percent(f, sign=True)}" for a, f in report["shocks"].items())
    title = f"Accounts below health {report['threshold']}" + (f" ({shocks})" if shocks else "")
    table = Table(title=title, title_justify="left")
    for col in ("account", "health factor", "collateral", "debt", "shortfall"):
        table.add_column(col, justify="left" if col == "account" else "right")
    for row in report["accounts"][:limit]:
        table.add_row(row["account"], row["health_factor"], f"{row['collateral_usd']:,.2f}",
                      f"{row['debt_usd']:,.2f}", f"{row['shortfall_usd']:,.2f}")
    if report["accounts"] and limit:  # --limit 0: the totals only, no empty table
        console.print(table)
    hidden = len(report["accounts"]) - limit
    if hidden > 0:
        console.print(f"... and {hidden} more (--limit, or --json for all)")
    t = report["totals_usd"]
    console.print(
        f"{report['totals']['accounts']} of {report['book_accounts']} accounts; "
        f"collateral {t['collateral']:,.2f} USD, debt {t['debt']:,.2f} USD, "
        f"shortfall {t['shortfall']:,.2f} USD"
    )
    curve = report["curve"]
    if curve["asset"]:
        table = Table(title=f"Sensitivity to {curve['asset']}", title_justify="left")
        for col in ("drop", "price", "accounts", "debt (USD)", "collateral (USD)",
                    "shortfall (USD)"):
            table.add_column(col, justify="right")
        for p in curve["points"]:
            table.add_row(_percent(p["drop"]), _price(p["price"]),
                          str(p["accounts"]), f"{p['debt_usd']:,.2f}",
                          f"{p['collateral_usd']:,.2f}", f"{p['shortfall_usd']:,.2f}")
        console.print(table)
