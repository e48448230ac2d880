"""Rich tables for the CLI (display only: floats appear here and nowhere upstream)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from marginengine.config.amounts import MAX_UNITS
from marginengine.engine import Engine, fmt_health, fmt_usd
from marginengine.errors import FieldError
from marginengine.fixedpoint import Rounding, format_units, parse_units
from marginengine.ledger.book_file import RESERVED_ACCOUNTS
from marginengine.ledger.options import OptionSeries
from marginengine.margin import NO_DEBT_HEALTH, MarginKind
from marginengine.margin.portfolio import PortfolioMargin
from marginengine.margin.portfolio_rules import rule_of, scenario_rows
from marginengine.sim import PerpLiquidationRecord, ScenarioResult


def liquidation_tables(result: ScenarioResult,
                       options: dict[str, Any] | None = None) -> list[Table]:
    """The liquidation tables of a scripted run: lending (liquidations and absorbs) and,
    when there were any, perps and portfolio-auction bids (``options``: the summary's
    ``options`` block), each with its own columns. The lending table is left out when
    it would be empty beside another (an options book's run printed an empty one)."""
    bids = [e for e in (options or {}).get("auction_log", [])
            if e.get("event") == "BidPortfolioAuction"]
    tables = []
    if result.liquidations or not (result.perp_liquidations or bids):
        tables.append(liquidations_table(result))
    if result.perp_liquidations:
        tables.append(perp_liquidations_table(result))
    if bids:
        tables.append(portfolio_bids_table(result.engine, bids))
    return tables


def portfolio_bids_table(engine: Engine, bids: list[dict[str, Any]]) -> Table:
    """One row per bid on a portfolio auction (Derive's ``bid``): the fraction taken,
    the price paid (negative: paid to the bidder of an insolvent portfolio), and what the
    security module paid and what was socialized for it, in quote tokens."""
    opts = engine.config.options
    quote = opts.quote if opts is not None else ""
    decimals = engine.config.markets[quote].decimals if quote in engine.config.markets else 0
    table = Table(title="Portfolio auction bids", title_justify="left")
    for col in ("step", "account", "bidder", "insolvent", "fraction", "price",
                "security module", "socialized"):
        table.add_column(col, justify="left" if col in ("account", "bidder") else "right")

    def quote_amount(raw: object) -> str:
        value = int(str(raw))
        return f"{format_units(value, decimals, 2)} {quote}" if value else "-"

    for e in bids:
        table.add_row(str(e["step"]), str(e["account"]), str(e["bidder"]),
                      "yes" if e.get("insolvent") else "no",
                      f"{int(str(e['fraction'])) / 10**18:.2%}",
                      quote_amount(e.get("price", 0)),
                      quote_amount(e.get("security_module_paid", 0)),
                      quote_amount(e.get("socialized", 0)))
    return table


def liquidations_table(result: ScenarioResult) -> Table:
    """One row per lending liquidation or absorb."""
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


def _quote(engine: Engine, market: str, amount: int) -> str:
    """A quote amount of ``market`` as ``1,234.56 USDC`` (display only)."""
    quote = engine.config.perps[market].quote
    return f"{format_units(amount, engine.config.markets[quote].decimals, 2)} {quote}"


def _ratio(requirement: int, value: int) -> str:
    """Margin ratio, maintenance requirement over margin value (liquidatable at 100%)."""
    if requirement == 0:
        return "0%"
    return "inf" if value <= 0 else f"{requirement / value:.2%}"


def perp_liquidations_table(result: ScenarioResult) -> Table:
    """One row per perp liquidation: the position closed, the fill, its PnL, and the
    backstop that paid for a bankrupt one (insurance fund, ADL, socialized loss)."""
    engine = result.engine
    table = Table(title="Perp liquidations", title_justify="left")
    for col in ("step", "account", "market", "side", "closed", "mark", "fill price",
                "bankruptcy", "PnL", "fee", "insurance paid", "ADL", "socialized",
                "equity before"):
        table.add_column(col, justify="left" if col in ("account", "market", "side")
                         else "right")
    r: PerpLiquidationRecord
    for r in result.perp_liquidations:
        perp = engine.config.perps[r.market]
        adl = (f"{format_units(r.adl_size, perp.base_decimals)} vs "
               f"{', '.join(sorted(set(r.adl_accounts)))}" if r.adl_size else "-")
        lost = r.socialized + r.deficit
        table.add_row(
            str(r.step + 1), r.account, r.market, r.side,
            format_units(r.closed, perp.base_decimals), format_units(r.mark, 8, 2),
            format_units(r.price, 8, 2), format_units(r.bankruptcy_price, 8, 2),
            _quote(engine, r.market, r.pnl), _quote(engine, r.market, r.fee),
            _quote(engine, r.market, r.insurance_paid) if r.insurance_paid else "-", adl,
            (_quote(engine, r.market, r.socialized)
             + (f" (+{_quote(engine, r.market, r.deficit)} deficit)" if r.deficit else ""))
            if lost else "-",
            fmt_usd(r.equity_before),
        )
    return table


def accounts_table(engine: Engine, title: str = "Final health") -> Table:
    """Each account's collateral, debt, perp equity and margin, and health factor."""
    perps = bool(engine.config.perps)
    table = Table(title=title, title_justify="left")
    columns = ["account", "collateral", "debt"]
    if perps:
        columns += ["perp quote", "perp equity", "perp margin"]
    columns += ["health factor", "liquidatable"]
    for col in columns:
        table.add_column(col, justify="left" if col == "account" else "right")
    for account_id in sorted(engine.ledger.accounts):
        data = engine.account_data(account_id)
        liq = engine.is_liquidatable(account_id)
        row = [account_id, fmt_usd(data.total_collateral), fmt_usd(data.total_debt)]
        if perps:
            risk = engine.bucket(account_id)
            row += [fmt_usd(risk.usd(risk.perp_quote, Rounding.DOWN)),
                    fmt_usd(risk.usd(risk.perp_equity, Rounding.DOWN)),
                    fmt_usd(risk.usd(risk.perp_maintenance, Rounding.UP))]
        row += [fmt_health(engine.health_factor(account_id)),
                "[red]yes[/red]" if liq else "no"]
        table.add_row(*row)
    return table


def health_tables(engine: Engine) -> list[Table]:
    """The ``health`` command's tables: lending accounts and, when there are any, accounts
    with perp positions (each with its own columns) and portfolio accounts (by the
    protocol's portfolio rule, with the P&L per scenario where the rule has scenarios)."""
    ids = sorted(engine.ledger.accounts)
    perp_ids = [a for a in ids if engine.has_perps(a)]
    lending_ids = [a for a in ids if a not in perp_ids]
    tables = []
    if lending_ids or not perp_ids:
        tables.append(health_table(engine, lending_ids))
    if perp_ids:
        tables.append(perp_health_table(engine, perp_ids))
        tables.append(perp_positions_table(engine, perp_ids))
    pm_ids = portfolio_ids(engine)
    if pm_ids:
        tables.append(portfolio_table(engine, pm_ids))
        if _scenarios(engine):
            tables.append(scenario_pnl_table(engine, pm_ids))
    return tables


def perp_positions_table(engine: Engine, account_ids: list[str]) -> Table:
    """Every perp position of ``account_ids``: size, entry, mark, unrealized PnL, and the
    mark price at which its bucket would reach maintenance (everything else held)."""
    table = Table(title="Perp positions", title_justify="left")
    for col in ("account", "market", "size", "entry", "mark", "unrealized PnL",
                "liquidation price"):
        table.add_column(col, justify="left" if col in ("account", "market") else "right")
    for account_id in account_ids:
        for market, p in health_row(engine, account_id)["positions"].items():
            table.add_row(
                account_id, market, p["size_display"], format_units(p["entry_price"], 8, 2),
                format_units(p["mark"], 8, 2), _quote(engine, market, int(p["unrealized"])),
                "never" if p["liquidation_price"] is None
                else format_units(p["liquidation_price"], 8, 2))
    return table


def perp_health_table(engine: Engine, account_ids: list[str]) -> Table:
    """Accounts with perps: quote cash, lending collateral and debt of the bucket, equity,
    maintenance and initial margin, margin ratio (maintenance over margin value:
    liquidatable at 100%), and the next liquidation when liquidatable."""
    quote = engine.perp_model.quote_asset
    table = Table(title="Perp accounts (USD unless said)", title_justify="left")
    for col in ("account", f"quote cash ({quote})", "collateral", "debt", "equity",
                "maint. margin", "init. margin", "margin ratio", "liquidatable",
                "next liquidation"):
        table.add_column(col, justify="left" if col == "account" else "right")
    for account_id in account_ids:
        row = health_row(engine, account_id)
        def usd(value: int) -> str:
            return format_units(value, 8, 2)

        table.add_row(
            account_id, row["perp_quote_display"].rsplit(" ", 1)[0],
            usd(row["collateral_base"]), usd(row["debt_base"]), usd(row["equity_base"]),
            usd(row["margin_requirement_base"]), usd(row["initial_requirement_base"]),
            row["margin_ratio_display"],
            "[red]yes[/red]" if row["liquidatable"] else "no",
            f"{row['max_repay_display']} {row['collateral_seized_display']}"
            if row["liquidatable"] and "max_repay_display" in row else "-",
        )
    return table


def health_table(engine: Engine, account_ids: list[str] | None = None) -> Table:
    """The ``health`` command's lending table, with the largest allowed liquidation."""
    table = Table(title="Account health", title_justify="left")
    for col in ("account", "collateral", "debt", "health factor", "liquidatable",
                "max repay", "collateral seized"):
        table.add_column(col, justify="left" if col == "account" else "right")
    for account_id in sorted(engine.ledger.accounts) if account_ids is None else account_ids:
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
    category = engine.ledger.emode_of(account_id)
    if category:
        row["emode"] = category  # Aave e-mode: the figures are at its parameters
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
    initial = risk.margin(MarginKind.INITIAL)
    health = engine.health_factor(account_id)
    quote_asset = engine.perp_model.quote_asset
    quote_decimals = engine.config.markets[quote_asset].decimals if quote_asset else 6
    row: dict[str, Any] = {
        "account": account_id,
        "collateral_base": collateral,
        "debt_base": debt,
        "collateral": float(format_units(collateral, 8)),
        "debt": float(format_units(debt, 8)),
        "perp_quote": str(risk.perp_quote),
        "perp_quote_display": f"{format_units(risk.perp_quote, quote_decimals, 2)} "
                              f"{quote_asset}",
        "perp_equity": str(risk.perp_equity),
        "perp_maintenance": str(risk.perp_maintenance),
        "perp_initial": str(risk.perp_initial),
        "equity_base": risk.equity,
        "margin_value_base": state.value,
        "margin_requirement_base": state.requirement,
        "initial_value_base": initial.value,
        "initial_requirement_base": initial.requirement,
        "margin_ratio": (None if state.value <= 0 else state.requirement / state.value),
        "margin_ratio_display": _ratio(state.requirement, state.value),
        "health_factor": None if state.requirement == 0 else health / 10**18,
        "health_factor_wad": None if state.requirement == 0 else str(health),
        "health_factor_display": fmt_health(health),
        "liquidatable": liquidatable,
        "positions": {p.market: {"size": str(p.size), "mark": p.mark,
                                 "size_display": format_units(
                                     p.size, engine.config.perps[p.market].base_decimals),
                                 "entry_price": entry_price(engine, account_id, p.market),
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


def entry_price(engine: Engine, account_id: str, market: str) -> int:
    """The average entry price of the account's ``market`` position (8 decimals, rounded
    down): its entry cost over its size."""
    from marginengine.fixedpoint import PRICE_UNIT

    perp = engine.config.perps[market]
    pos = engine.ledger.accounts[account_id].perps[market]
    unit: int = engine.config.markets[perp.quote].unit
    return int(abs(pos.cost) * perp.base_unit * PRICE_UNIT // (abs(pos.size) * unit))


def liquidation_price(engine: Engine, account_id: str, market: str) -> int | None:
    """The mark price of ``market`` at which the bucket would reach maintenance, by the
    market's ``liquidation_price`` formula for an isolated bucket (see
    :func:`marginengine.liquidation.perp_liquidation.bucket_liquidation_price`)."""
    from marginengine.liquidation.perp_liquidation import bucket_liquidation_price

    perp = engine.config.perps[market]
    cost = engine.ledger.accounts[account_id].perps[market].cost
    # An isolated bucket is a sub-account ``owner/label`` (ledger/account.py).
    return bucket_liquidation_price(engine.bucket(account_id), market, cost, perp.base_unit,
                                    engine.perp_model.schedules[market],
                                    formula=perp.liquidation_price, isolated="/" in account_id)


# ---------------------------------------------------------------------- portfolio margin
def portfolio_ids(engine: Engine) -> list[str]:
    """Accounts in portfolio mode (holding options or options cash), sorted."""
    clearing = engine.state.options
    if clearing is None:
        return []
    return sorted(a for a in {*clearing.cash, *clearing.positions}
                  if engine.is_portfolio_account(a))


def _scenarios(engine: Engine) -> list[tuple[float, str, float]]:
    cfg = engine.state.portfolio_config
    assert cfg is not None
    return scenario_rows(cfg)


def _scenario_rows(engine: Engine, pm: PortfolioMargin) -> list[dict[str, Any]]:
    return [{"index": i, "spot_shock": shock, "vol_shock": vol, "dampening": damp,
             "pnl": float(pm.scenario_pnl[i])}
            for i, (shock, vol, damp) in enumerate(_scenarios(engine))]


def _worst(engine: Engine, pm: PortfolioMargin) -> dict[str, Any]:
    rows = _scenario_rows(engine, pm)
    return {"source": pm.worst_source, "value": pm.worst,
            "scenario": None if pm.worst_scenario is None else rows[pm.worst_scenario]}


def portfolio_row(engine: Engine, account_id: str) -> dict[str, Any]:
    """One portfolio account's figures by the protocol's portfolio rule (``rule``:
    ``PMRM_2``, ``PMRM`` or ``SRM``; quote currency, floats: the screen) and its health
    through the one margin interface, with the P&L of every scenario (none for the SRM)."""
    pm = engine.portfolio_margin(account_id)
    assert pm is not None
    clearing = engine.state.options
    assert clearing is not None
    health = engine.health_factor(account_id)
    return {"account": account_id, "mode": "portfolio", "rule": pm.rule,
            "underlying": engine.option_underlying(account_id),
            "cash": clearing.cash.get(account_id, 0) / clearing.quote_unit,
            "mtm": pm.mtm, "initial_margin": pm.initial, "maintenance_margin": pm.maintenance,
            "initial_requirement": pm.initial_requirement,
            "maintenance_requirement": pm.maintenance_requirement,
            "health_factor": None if health == NO_DEBT_HEALTH else health / 10**18,
            "health_factor_wad": str(health),
            "liquidatable": engine.is_liquidatable(account_id),
            "worst": _worst(engine, pm), "scenarios": _scenario_rows(engine, pm)}


def portfolio_table(engine: Engine, account_ids: list[str]) -> Table:
    """Portfolio accounts: MtM, initial and maintenance margin (>= 0: met), the worst
    scenario and health."""
    cfg = engine.state.portfolio_config
    assert cfg is not None
    table = Table(title=f"Portfolio margin ({rule_of(cfg)})", title_justify="left")
    for col in ("account", "cash", "MtM", "initial margin", "maint. margin", "worst",
                "worst P&L", "health factor", "liquidatable"):
        table.add_column(col, justify="left" if col in ("account", "worst") else "right")
    for account_id in account_ids:
        row = portfolio_row(engine, account_id)
        worst = row["worst"]
        scen = worst["scenario"]
        where = (f"#{scen['index']} spot x{scen['spot_shock']:g} vol {scen['vol_shock']}"
                 if scen is not None else worst["source"])
        # The SRM has no scenarios (its margin is per option and per expiry): no worst.
        no_worst = row["rule"] == "SRM"
        table.add_row(account_id, f"{row['cash']:,.2f}", f"{row['mtm']:,.2f}",
                      f"{row['initial_margin']:,.2f}", f"{row['maintenance_margin']:,.2f}",
                      "-" if no_worst else where,
                      "-" if no_worst else f"{worst['value']:,.2f}",
                      fmt_health(engine.health_factor(account_id)),
                      "[red]yes[/red]" if row["liquidatable"] else "no")
    return table


def scenario_pnl_table(engine: Engine, account_ids: list[str]) -> Table:
    """The P&L of every scenario (rows) per portfolio account (columns)."""
    table = Table(title="P&L per scenario", title_justify="left")
    for col in ("#", "spot", "vol", "weight", *account_ids):
        table.add_column(col, justify="right")
    margins = {a: engine.portfolio_margin(a) for a in account_ids}
    for i, (shock, vol, damp) in enumerate(_scenarios(engine)):
        cells = []
        for a in account_ids:
            pm = margins[a]
            assert pm is not None
            cells.append(f"{float(pm.scenario_pnl[i]):,.2f}")
        table.add_row(str(i), f"x{shock:g}", vol, f"{damp:g}", *cells)
    return table


def option_what_if(engine: Engine, order: str) -> dict[str, Any]:
    """``ACCOUNT:SERIES:SIZE[:PREMIUM]`` (series ``WETH-2592000-2200-C``, size in options,
    negative to sell, premium in quote tokens for the whole order): the account's margin
    before and after, whether the pre-trade check would accept it, the worst scenario and
    the P&L per scenario after it.

    Raises
    ------
    FieldError
        A malformed order (``order``, or the part that is wrong: ``order.strike``,
        ``order.size``, ``order.premium``).
    """
    parts = order.split(":")
    if len(parts) not in (3, 4):
        raise FieldError("order", f"must be ACCOUNT:SERIES:SIZE[:PREMIUM] (got {order!r})")
    account, symbol, size_text = parts[:3]
    clearing = engine.state.options
    if clearing is None:
        raise FieldError("order", "the protocol has no [protocol.options]")
    known = {*engine.ledger.accounts, *clearing.cash, *clearing.positions}
    if account not in known:
        # A what-if on an account the snapshot does not hold would margin an empty
        # portfolio: a mistyped id answered as if it were right.
        shown = sorted(a for a in known if a not in RESERVED_ACCOUNTS)
        more = f", ... ({len(shown)} in all)" if len(shown) > 10 else ""
        raise FieldError("order", f"unknown account {account!r} (the snapshot's accounts: "
                                  f"{', '.join(shown[:10]) or 'none'}{more})")
    bits = symbol.rsplit("-", 3)
    if len(bits) != 4 or bits[3] not in ("C", "P") or not bits[1].isdigit():
        raise FieldError("order", f"series must be UNDERLYING-EXPIRY-STRIKE-C|P "
                                  f"(got {symbol!r})")
    if len(bits[1]) > 20:  # int() refuses beyond 4300 digits; 20 is 3e12 years
        raise FieldError("order", f"expiry must be unix seconds (got a {len(bits[1])}-digit "
                                  "number)")
    opts = engine.config.options
    assert opts is not None
    texts = {"strike": bits[2], "size": size_text, "premium": parts[3] if len(parts) == 4
             else "0"}
    decimals = {"strike": 8, "size": opts.size_decimals,
                "premium": engine.config.markets[opts.quote].decimals}
    parsed: dict[str, int] = {}
    for name, text in texts.items():
        try:
            parsed[name] = parse_units(text, decimals[name])
        except ValueError as exc:
            raise FieldError(f"order.{name}", str(exc)) from None
    strike, size, premium = parsed["strike"], parsed["size"], parsed["premium"]
    # Each part named with its value, so the one that is wrong is the one the user reads.
    if strike <= 0:
        raise FieldError("order.strike", f"must be positive (got {texts['strike']!r})")
    if size == 0:
        raise FieldError("order.size", f"must not be zero (got {size_text!r})")
    if premium < 0:
        raise FieldError("order.premium", f"must not be negative (got {texts['premium']!r})")
    for name, units in (("strike", strike), ("size", size), ("premium", premium)):
        # As the service bounds an event's integers: beyond, the float screen of the
        # portfolio overflowed and the refusal named "shocked_mtm", not the order.
        if abs(units) > MAX_UNITS:
            raise FieldError("order", f"{name} too large (more than 2**256 - 1 smallest "
                                      "units)")
    underlying = bits[0]
    if underlying not in engine.prices:
        raise FieldError("order", f"no price for {underlying!r}")
    series = OptionSeries(underlying, int(bits[1]), strike, bits[3] == "C")
    result = engine.option_what_if(account, series, size, premium)
    return {"account": account, "order": {"series": series.symbol, "size": float(size_text),
                                          "premium": premium / clearing.quote_unit},
            "initial_before": result.before.initial, "initial_after": result.after.initial,
            "maintenance_before": result.before.maintenance,
            "maintenance_after": result.after.maintenance, "accepted": result.accepted,
            "worst_after": _worst(engine, result.after),
            "scenarios_after": _scenario_rows(engine, result.after)}
