"""Rich tables for the CLI (display only: floats appear here and nowhere upstream)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from marginengine.engine import Engine, fmt_health, fmt_usd
from marginengine.fixedpoint import format_units
from marginengine.sim import ScenarioResult


def liquidations_table(result: ScenarioResult) -> Table:
    """One row per liquidation or absorb."""
    table = Table(title="Liquidations", title_justify="left")
    for col in ("step", "account", "kind", "debt", "repaid", "collateral", "seized",
                "HF before", "HF after", "bad debt"):
        table.add_column(col, justify="right" if col not in ("account", "kind") else "left")
    for r in result.liquidations:
        table.add_row(
            str(r.step + 1), r.account, r.kind, r.debt_asset, fmt_usd(r.debt_value),
            r.collateral_asset, fmt_usd(r.collateral_value), fmt_health(r.health_before),
            fmt_health(r.health_after), fmt_usd(r.bad_debt_value) if r.bad_debt_value else "-",
        )
    return table


def accounts_table(engine: Engine, title: str = "Final health") -> Table:
    """Each account's collateral, debt and health factor."""
    table = Table(title=title, title_justify="left")
    for col in ("account", "collateral", "debt", "health factor", "liquidatable"):
        table.add_column(col, justify="left" if col == "account" else "right")
    for account_id in sorted(engine.ledger.accounts):
        data = engine.account_data(account_id)
        liq = engine.is_liquidatable(account_id)
        table.add_row(
            account_id, fmt_usd(data.total_collateral), fmt_usd(data.total_debt),
            fmt_health(data.health_factor), "[red]yes[/red]" if liq else "no",
        )
    return table


def health_table(engine: Engine) -> Table:
    """The ``health`` command's table, with the largest allowed liquidation."""
    table = Table(title="Account health", title_justify="left")
    for col in ("account", "collateral", "debt", "health factor", "liquidatable",
                "max repay", "collateral seized"):
        table.add_column(col, justify="left" if col == "account" else "right")
    for account_id in sorted(engine.ledger.accounts):
        row = health_row(engine, account_id)
        table.add_row(
            account_id, fmt_usd(row["collateral_base"]), fmt_usd(row["debt_base"]),
            row["health_factor_display"], "[red]yes[/red]" if row["liquidatable"] else "no",
            row.get("max_repay_display", "-"), row.get("collateral_seized_display", "-"),
        )
    return table


def health_row(engine: Engine, account_id: str) -> dict[str, Any]:
    """One account's health figures, exact ints plus display strings."""
    data = engine.account_data(account_id)
    liquidatable = engine.is_liquidatable(account_id)
    row: dict[str, Any] = {
        "account": account_id,
        "collateral_base": data.total_collateral,
        "debt_base": data.total_debt,
        "collateral": float(format_units(data.total_collateral, 8)),
        "debt": float(format_units(data.total_debt, 8)),
        "health_factor": None if data.total_debt == 0 else data.health_factor / 10**18,
        "health_factor_wad": None if data.total_debt == 0 else str(data.health_factor),
        "health_factor_display": fmt_health(data.health_factor),
        "liquidatable": liquidatable,
    }
    if liquidatable:
        quote = engine.liquidation_quote(account_id)
        markets = engine.config.markets
        if quote.plan is not None:
            debt_dec = markets[quote.debt_asset].decimals
            coll_dec = markets[quote.collateral_asset].decimals
            row.update({
                "debt_asset": quote.debt_asset,
                "collateral_asset": quote.collateral_asset,
                "max_repay": str(quote.plan.debt_repaid),
                "collateral_seized": str(quote.plan.collateral_seized),
                "collateral_to_liquidator": str(quote.plan.collateral_to_liquidator),
                "protocol_fee": str(quote.plan.protocol_fee),
                "close_factor": quote.plan.close_factor_bps / 10_000,
                "max_repay_display":
                    f"{format_units(quote.plan.debt_repaid, debt_dec)} {quote.debt_asset}",
                "collateral_seized_display":
                    f"{format_units(quote.plan.collateral_seized, coll_dec)} "
                    f"{quote.collateral_asset}",
            })
        elif quote.absorb is not None:
            base_dec = markets[quote.debt_asset].decimals
            row.update({
                "debt_asset": quote.debt_asset,
                "max_repay": str(-quote.absorb.old_balance),
                "collateral_seized": {s.asset: str(s.amount) for s in quote.absorb.seized},
                "bad_debt": str(quote.absorb.bad_debt),
                "max_repay_display": f"absorb {format_units(-quote.absorb.old_balance, base_dec)}"
                                     f" {quote.debt_asset}",
                "collateral_seized_display": ", ".join(
                    f"{format_units(s.amount, markets[s.asset].decimals)} {s.asset}"
                    for s in quote.absorb.seized
                ),
            })
        else:
            row["refusal"] = quote.refusal
            row["max_repay_display"] = f"refused: {quote.refusal}"
    return row


def print_tables(console: Console, *tables: Table) -> None:
    """Print tables separated by blank lines."""
    for table in tables:
        console.print(table)
