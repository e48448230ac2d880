"""Rich tables for the CLI (display only: floats appear here and nowhere upstream)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from marginengine.engine import Engine, fmt_health, fmt_usd
from marginengine.fixedpoint import Rounding, format_units
from marginengine.margin import MarginKind
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
    """Each account's collateral, debt, perp equity and margin, and health factor."""
    perps = bool(engine.config.perps)
    table = Table(title=title, title_justify="left")
    columns = ["account", "collateral", "debt"]
    if perps:
        columns += ["perp equity", "perp margin"]
    columns += ["health factor", "liquidatable"]
    for col in columns:
        table.add_column(col, justify="left" if col == "account" else "right")
    for account_id in sorted(engine.ledger.accounts):
        data = engine.account_data(account_id)
        liq = engine.is_liquidatable(account_id)
        row = [account_id, fmt_usd(data.total_collateral), fmt_usd(data.total_debt)]
        if perps:
            risk = engine.bucket(account_id)
            row += [fmt_usd(risk.usd(risk.perp_equity, Rounding.DOWN)),
                    fmt_usd(risk.usd(risk.perp_maintenance, Rounding.UP))]
        row += [fmt_health(engine.health_factor(account_id)),
                "[red]yes[/red]" if liq else "no"]
        table.add_row(*row)
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
    if engine.has_perps(account_id):
        return _perp_health_row(engine, account_id, data.total_collateral, data.total_debt,
                                liquidatable)
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


def _perp_health_row(engine: Engine, account_id: str, collateral: int, debt: int,
                     liquidatable: bool) -> dict[str, Any]:
    """Health of a bucket with perps: equity, margin, and the next liquidation."""
    from marginengine.engine.perp_handlers import plan_perp_liquidation

    risk = engine.bucket(account_id)
    state = risk.margin(MarginKind.MAINTENANCE)
    health = engine.health_factor(account_id)
    row: dict[str, Any] = {
        "account": account_id,
        "collateral_base": collateral,
        "debt_base": debt,
        "collateral": float(format_units(collateral, 8)),
        "debt": float(format_units(debt, 8)),
        "perp_equity": str(risk.perp_equity),
        "perp_maintenance": str(risk.perp_maintenance),
        "margin_value_base": state.value,
        "margin_requirement_base": state.requirement,
        "health_factor": None if state.requirement == 0 else health / 10**18,
        "health_factor_wad": None if state.requirement == 0 else str(health),
        "health_factor_display": fmt_health(health),
        "liquidatable": liquidatable,
        "positions": {p.market: {"size": str(p.size), "mark": p.mark,
                                 "unrealized": str(p.unrealized),
                                 "liquidation_price": liquidation_price(engine, account_id,
                                                                        p.market)}
                      for p in risk.positions},
    }
    if liquidatable and risk.positions:
        largest = max(risk.positions, key=lambda p: (p.notional, p.market))
        plan = plan_perp_liquidation(engine, account_id, largest.market)
        decimals = engine.config.perps[largest.market].base_decimals
        row.update({
            "liquidation_market": largest.market,
            "close": str(plan.close),
            "fill_price": plan.price,
            "bankruptcy_price": plan.bankruptcy_price,
            "underwater": plan.underwater,
            "max_repay_display": f"close {format_units(plan.close, decimals)} {largest.market}",
            "collateral_seized_display": f"at {format_units(plan.price, 8, 2)}"
                                         + (" (bankrupt)" if plan.underwater else ""),
        })
    return row


def liquidation_price(engine: Engine, account_id: str, market: str) -> int | None:
    """The mark price of ``market`` at which the bucket would reach maintenance (see
    :func:`marginengine.liquidation.perp_liquidation.bucket_liquidation_price`)."""
    from marginengine.liquidation.perp_liquidation import bucket_liquidation_price

    perp = engine.config.perps[market]
    cost = engine.ledger.accounts[account_id].perps[market].cost
    return bucket_liquidation_price(engine.bucket(account_id), market, cost, perp.base_unit,
                                    engine.perp_model.schedules[market])
