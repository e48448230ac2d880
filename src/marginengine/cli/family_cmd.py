"""``marginengine family``: run a Morpho Blue, Liquity v1 or Euler v2 scenario.

A face only: the figures are the family's own rules (``margin/`` and ``liquidation/``),
driven step by step by :mod:`marginengine.sim.families`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table


def _liquidation_rows(report: dict[str, Any]) -> Table:
    table = Table(title=f"{report['name']} ({report['family']}): liquidations")
    keys: list[str] = []
    for step in report["steps"]:
        for liq in step["liquidations"]:
            keys.extend(k for k in liq if k not in keys)
    table.add_column("step")
    for key in keys:
        table.add_column(key.replace("_", " "), justify="right")
    for step in report["steps"]:
        for liq in step["liquidations"]:
            table.add_row(step["label"] or str(step["step"]),
                          *(str(liq.get(k, "")) for k in keys))
    return table


def _health_rows(report: dict[str, Any]) -> Table:
    table = Table(title=f"{report['name']} ({report['family']}): health")
    for name in ("step", "account", "init", "maint", "liquidation end", "liquidatable"):
        table.add_column(name, justify="left" if name in ("step", "account") else "right")
    for step in report["steps"]:
        for account, row in step.get("accounts", {}).items():
            table.add_row(step["label"] or str(step["step"]), account, row["init"],
                          row["maint"], row["liquidation_end"],
                          "yes" if row["liquidatable"] else "no")
    return table


def _margin_rows(report: dict[str, Any]) -> Table:
    table = Table(title=f"{report['name']} ({report['family']}): margin")
    for name in ("step", "account", "collateral (init)", "requirement (init)",
                 "collateral (maint)", "requirement (maint)", "liquidatable"):
        table.add_column(name, justify="left" if name in ("step", "account") else "right")
    for step in report["steps"]:
        for account, row in step.get("margin", {}).items():
            table.add_row(step["label"] or str(step["step"]), account,
                          row["initial"]["total_collateral"],
                          row["initial"]["margin_requirement"],
                          row["maintenance"]["total_collateral"],
                          row["maintenance"]["margin_requirement"],
                          "yes" if row["liquidatable"] else "no")
    return table


@click.command()
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON.")
def family(scenario: Path, as_json: bool) -> None:
    """Run SCENARIO, a family scenario (TOML with family = "morpho-blue", "liquity-v1",
    "liquity-v1-2025", "euler-v2", "mango-v4" or "drift-v2"; see examples/families/ and
    docs/formats.md).

    Every step: time passes, prices and parameters change, then (Morpho, Liquity, Euler) a
    keeper liquidates every account the family's rules allow; a Mango or Drift scenario
    reports each account's health or margin and whether it is liquidatable, and
    liquidates nothing. The file is checked in full before anything runs; a problem is
    one line naming the field (exit 2).
    """
    from marginengine.sim.families import load_and_run

    report = load_and_run(scenario).as_dict()
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    console = Console(width=None if sys.stdout.isatty() else 160)
    if any(step["liquidations"] for step in report["steps"]):
        console.print(_liquidation_rows(report))
    if any("accounts" in step for step in report["steps"]):
        console.print(_health_rows(report))
    if any("margin" in step for step in report["steps"]):
        console.print(_margin_rows(report))
    summary = Table(title="summary")
    summary.add_column("figure")
    summary.add_column("value", justify="right")
    for key, value in report["summary"].items():
        summary.add_row(key.replace("_", " "), json.dumps(value) if isinstance(value, dict)
                        else str(value))
    console.print(summary)
    console.print(f"rules: {report['source']}")
