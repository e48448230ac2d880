"""Self-contained HTML reports of simulator runs.

A run's ``report.html`` (a cascade's or a scripted scenario's) says why its bad debt
arose (the causes of :mod:`marginengine.sim.explain`, computed from the run), breaks the
liquidations down per keeper (or bidder) and per protocol, lists the largest losses and
the scenario's parameters, and draws the charts: interactive (plotly, its JavaScript
inline once, so the page works offline) when plotly is installed, and always as PNG
(matplotlib) for docs. A Monte Carlo run's ``report.html`` shows the distributions of
bad debt and liquidations over the runs and the VaR/ES table with their bootstrap
confidence intervals and tail counts.

Neither plotly nor matplotlib is needed for the page itself: without them it says which
charts are missing and why.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from marginengine.errors import field_path
from marginengine.sim.explain import CAUSES, END_REASONS

#: Rows of the largest-losses table.
TOP_LOSSES = 25
#: Headline figures of a cascade run, in order (the rest are in the raw summary).
HEADLINE = ("bad_debt", "bad_debt_realized", "bad_debt_in_auctions", "bad_debt_underwater",
            "liquidated_value", "liquidation_count", "liquidator_profit", "keeper_gas_spent",
            "borrower_loss", "auctions_started", "auctions_settled_near_zero",
            "insurance_fund_drawdown", "adl_volume", "amplification",
            "time_to_liquidate_mean_steps", "min_price", "final_price", "min_venue_price",
            "accounts", "events", "seed")
#: Headline figures of a book imported as it stands, after :data:`HEADLINE`.
OPENED = ("book_open", "opened_above_borrowing_power", "opened_below_health_1")
PROTOCOL_FIGURES = (("bad_debt", "bad debt"), ("bad_debt_realized", "realized"),
                    ("liquidation_count", "liquidations"),
                    ("liquidated_value", "liquidated value"),
                    ("liquidator_profit", "keeper profit"), ("accounts", "accounts"))
STYLE = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;padding:0 1em}
table{border-collapse:collapse;margin:.5em 0}th,td{padding:2px 10px;border-bottom:1px solid #ddd;
text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:1em 0}img{max-width:100%}.why li{margin:.3em 0}.note{color:#a60}
details{margin:1em 0}"""


def write_report(out_dir: Path, title: str, summary: dict[str, Any],
                 series: dict[str, list[float]], twin: dict[str, list[float]] | None = None,
                 auctions: list[dict[str, Any]] | None = None, *,
                 explanation: dict[str, Any] | None = None,
                 scenario: dict[str, Any] | None = None) -> Path | None:
    """Write a single run's ``report.html`` (and its chart PNGs) into ``out_dir``.

    Parameters
    ----------
    out_dir
        The run's folder.
    title
        The page's title.
    summary
        The run's summary (summary.json).
    series, twin
        The per-step series (the columns of ``steps.parquet``) with and without feedback.
    auctions
        Settled auctions (auctions.json).
    explanation
        Why the bad debt arose (:func:`marginengine.sim.explain.explain`); without it the
        page has no explanation section.
    scenario
        The scenario's parameters (its TOML, as read), shown as a table.

    Returns
    -------
    Path or None
        The page; ``None`` when matplotlib is missing (the PNGs and the page need it as
        before; the interactive charts are added when plotly is installed).
    """
    try:
        from marginengine.report.charts import draw_charts
        charts = draw_charts(series, twin, auctions or [], out_dir)
    except ImportError:
        return None
    from marginengine.report import interactive

    e = explanation or {}
    body: list[str] = [f"<h1>{_esc(title)}</h1>"]
    if scenario and scenario.get("description"):
        body.append(f"<p>{_esc(scenario['description'])}</p>")
    if explanation is not None:
        body.append(_explanation_html(explanation))
    body.append(_perp_html(series, summary))
    # A book imported as it stands (``[book] open = "import"``) says how much of it stood
    # under margin before the first step; opened by borrows, both counts are 0 by rule.
    opened = OPENED if summary.get("book_open") == "import" else ()
    body.append("<h2>Summary</h2>" + _table(
        ("figure", "value"),
        ((k, summary[k]) for k in (*HEADLINE, *opened)
         if k in summary and summary[k] is not None)))
    if e.get("keepers"):
        body.append(_keepers_html(e["keepers"]))
    if summary.get("protocols"):
        body.append(_protocols_html(summary["protocols"], e.get("protocols", {})))
    plotly = interactive.available()
    if plotly:
        figures = interactive.cascade_figures(series, twin, auctions or [],
                                              e.get("keepers", ()))
        body.append("<h2>Charts</h2>" + interactive.render(figures))
    else:
        body.append('<h2>Charts</h2><p class="note">plotly is not installed (pip install '
                    'plotly, or marginengine[sim]): the charts below are the PNG versions, '
                    'not interactive.</p>')
    if explanation is not None:
        body.append(_losses_html(explanation))
        body.append(_still_html(explanation))
    if scenario:
        body.append("<h2>Scenario parameters</h2>" + _table(
            ("parameter", "value"), _flatten(scenario)))
    images = _images(charts)
    body.append(f"<details><summary>PNG charts (for docs)</summary>{images}</details>"
                if plotly else f"<h2>PNG charts</h2>{images}")
    body.append("<details><summary>Raw summary</summary><pre>"
                f"{_esc(json.dumps(summary, indent=2, default=str))}</pre></details>")
    path = out_dir / "report.html"
    path.write_text(_page(title, body, interactive.plotly_script() if plotly else ""))
    return path


def write_monte_carlo_report(out_dir: Path, title: str, summary: dict[str, Any],
                             rows: Sequence[dict[str, Any]],
                             scenario: dict[str, Any] | None = None) -> Path:
    """Write a Monte Carlo run's ``report.html`` into ``out_dir``: the estimates with their
    bootstrap intervals and tail counts, the thin-tail warnings, and the distributions of
    bad debt and liquidations over the runs (``rows``: one summary row per run, as in
    ``runs.parquet``); histograms are interactive with plotly, PNG with matplotlib."""
    from marginengine.report import interactive

    estimates = summary.get("estimates", {})
    conf = summary.get("confidence", {})
    level = conf.get("level", 0.95)
    min_tail = conf.get("min_tail", 10)
    body = [f"<h1>{_esc(title)}</h1>"]
    if scenario and scenario.get("description"):
        body.append(f"<p>{_esc(scenario['description'])}</p>")
    body.append(f"<p>{summary.get('runs', len(rows)):,} runs from master seed "
                f"{_esc(summary.get('seed'))}; intervals: {level:.0%} "
                f"{_esc(conf.get('method', 'bootstrap'))} "
                f"({_esc(conf.get('resamples', ''))} resamples).</p>")
    for warning in summary.get("warnings", []):
        body.append(f'<p class="note">warning: {_esc(warning)}</p>')
    table_rows = []
    for name, est in estimates.items():
        tail = est.get("tail_observations")
        shown = "-" if tail is None else (f"{tail} (fewer than {min_tail})"
                                          if tail < min_tail else str(tail))
        table_rows.append((name, est["value"], est["ci_low"], est["ci_high"], shown))
    body.append('<h2>Estimates: VaR, ES and means</h2><div id="estimates">' + _table(
        ("estimate", "value", f"{level:.0%} low", f"{level:.0%} high", "runs in tail"),
        table_rows) + "</div>")
    bad = [float(r.get("bad_debt") or 0.0) for r in rows]
    liq = [float(r.get("liquidation_count") or 0.0) for r in rows]
    marks = [(label, estimates[k]["value"]) for label, k in
             (("VaR95", "var95_bad_debt"), ("ES99", "es99_bad_debt")) if k in estimates]
    if interactive.available():
        figures = [interactive.histogram("bad_debt_hist", bad, "Bad debt over the runs",
                                         "bad debt, USD", marks),
                   interactive.histogram("liquidations_hist", liq,
                                         "Liquidations over the runs", "liquidations")]
        body.append("<h2>Distributions</h2>" + interactive.render(figures))
        script = interactive.plotly_script()
    else:
        body.append('<h2>Distributions</h2><p class="note">plotly is not installed: '
                    "histograms as PNG only.</p>")
        script = ""
    try:
        from marginengine.report.charts import draw_histograms
        pngs = draw_histograms(out_dir, bad, liq, marks)
    except ImportError:
        pngs = []
        body.append('<p class="note">matplotlib is not installed: no PNG histograms.</p>')
    if pngs:
        images = _images(pngs)
        body.append(f"<details><summary>PNG charts (for docs)</summary>{images}</details>"
                    if script else images)
    worst = sorted(rows, key=lambda r: -float(r.get("bad_debt") or 0.0))[:10]
    body.append("<h2>Worst runs</h2>" + _table(
        ("run", "seed", "bad debt", "liquidations", "liquidated value", "min price"),
        ((r.get("run"), r.get("seed"), r.get("bad_debt"), r.get("liquidation_count"),
          r.get("liquidated_value"), r.get("min_price")) for r in worst)))
    if scenario:
        body.append("<h2>Scenario parameters</h2>" + _table(
            ("parameter", "value"), _flatten(scenario)))
    body.append("<details><summary>Raw summary</summary><pre>"
                f"{_esc(json.dumps(summary, indent=2, default=str))}</pre></details>")
    path = out_dir / "report.html"
    path.write_text(_page(title, body, script))
    return path


def write_sweep_report(out_dir: Path, title: str, labels: Sequence[str],
                       points: Sequence[dict[str, Any]], runs: int | None,
                       png: Path | None = None, warnings: Sequence[str] = ()) -> Path:
    """Write a sweep's ``report.html`` into ``out_dir``: the comparison table (a row per
    point: mean bad debt, VaR95 with its interval when the points are Monte Carlos, the
    change against the first point, liquidations, liquidated value, borrower loss) and the
    comparison chart, interactive with plotly (VaR95 intervals as error bars), with the
    PNG (``png``, matplotlib) kept.

    Parameters
    ----------
    labels
        Each point's parameters in words (``liquidation_bonus=1.05``).
    points
        The sweep's per-point summaries (sweep.json's ``points``).
    runs
        Runs per point (``None``: one run on the scenario's seed).
    warnings
        The points' thin-tail warnings (``SweepResult.warnings``), shown above the table.
    """
    from marginengine.report import interactive

    first = points[0].get("mean_bad_debt") or 0.0 if points else 0.0
    # A perp venue's waterfall (sim/perps.py), where a perp scenario's losses are.
    perps = bool(points) and "mean_bankrupt_shortfall" in points[0]
    rows = []
    for label, p in zip(labels, points, strict=True):
        bad = p.get("mean_bad_debt") or 0.0
        var = p.get("estimates", {}).get("var95_bad_debt") if runs else None
        rows.append((label, bad, *((var["value"], var["ci_low"], var["ci_high"])
                                   if var else ()),
                     bad - first, _count(p.get("mean_liquidation_count"), runs),
                     p.get("mean_liquidated_value"), p.get("mean_borrower_loss"),
                     *((p.get("mean_bankrupt_shortfall"), p.get("mean_socialized_loss"),
                        p.get("mean_adl_covered")) if perps else ())))
    headers = ("point", "bad debt" + (" (mean)" if runs else ""),
               *(("VaR95 bad debt", "95% low", "95% high") if runs else ()),
               "vs first", "liquidations", "liquidated", "borrower loss",
               *(("perp shortfall", "socialized loss", "ADL covered") if perps else ()))
    what = (f"{len(points)} points x {runs} runs on common random numbers" if runs
            else f"{len(points)} points, one run each on the scenario's seed")
    body = [f"<h1>{_esc(title)}</h1>", f"<p>{_esc(what)}.</p>",
            *(f'<p class="note">warning: {_esc(w)}</p>' for w in warnings),
            '<h2>Comparison</h2><div id="comparison">' + _table(headers, rows) + "</div>"]
    script = ""
    if interactive.available():
        bad = [p.get("mean_bad_debt") or 0.0 for p in points]
        loss = [p.get("mean_borrower_loss") or 0.0 for p in points]
        figure = interactive.bars("sweep", labels, [("bad debt", bad),
                                                    ("borrower loss", loss)],
                                  "Bad debt and borrower loss per point",
                                  "USD" + (" (mean over runs)" if runs else ""))
        if runs:
            vars_ = [p.get("estimates", {}).get("var95_bad_debt") for p in points]
            if all(vars_):
                figure[1].add_scatter(
                    x=list(labels), y=[v["value"] for v in vars_], mode="markers",
                    name="VaR95 bad debt (95% interval)",
                    error_y={"type": "data", "symmetric": False,
                             "array": [v["ci_high"] - v["value"] for v in vars_],
                             "arrayminus": [v["value"] - v["ci_low"] for v in vars_]})
        body.append("<h2>Chart</h2>" + interactive.render([figure]))
        script = interactive.plotly_script()
    else:
        body.append('<p class="note">plotly is not installed: the chart is the PNG.</p>')
    if png is not None and png.exists():
        body.append(_images([png]))
    path = out_dir / "report.html"
    path.write_text(_page(title, body, script))
    return path


def _count(mean: float | None, runs: int | None) -> float | int | None:
    """A point's liquidation count: the count itself for one run (``1,122``, not
    ``1,122.00``), the mean over the runs otherwise."""
    return int(mean) if mean is not None and not runs else mean


# ---------------------------------------------------------------------- sections
def _explanation_html(e: dict[str, Any]) -> str:
    items = "".join(f"<li>{_esc(s)}</li>" for s in e.get("sentences", []))
    total = e.get("bad_debt_usd", 0.0)
    rows = []
    for cause in CAUSES:
        c = e.get("causes", {}).get(cause.name)
        if c is None:
            continue
        share = c["bad_debt_usd"] / total if total > 0 else 0.0
        rows.append((cause.name, cause.title, c["accounts"], c["bad_debt_usd"],
                     f"{share:.1%}", cause.rule))
    table = _table(("cause", "what", "accounts", "bad debt, USD", "share", "rule"),
                   rows) if rows else ""
    return (f'<h2>Why the bad debt arose</h2><ul class="why" id="why">{items}</ul>{table}'
            "<p>Causes and their rules: docs/simulator.md, “Why the bad debt arose”.</p>")


def _perp_html(series: dict[str, list[float]], summary: dict[str, Any]) -> str:
    """The perp waterfall, when the run has one: the columns of ``steps.parquet`` named in
    :data:`~marginengine.report.interactive.PERP_COLUMNS` (start, lowest, highest, end)
    and the summary's insurance fund drawdown and ADL volume."""
    from marginengine.report.interactive import PERP_COLUMNS

    columns = [c for c in series if c.split(".", 1)[0] in PERP_COLUMNS and series[c]]
    figures = [(k, summary[k]) for k in ("insurance_fund_drawdown", "adl_volume")
               if summary.get(k)]
    if not columns and not figures:
        return ""
    out = '<h2>Perp waterfall</h2><div id="perp">'
    if figures:
        out += "<ul>" + "".join(f"<li>{_esc(k.replace('_', ' '))}: {_esc(_show(v))}</li>"
                                for k, v in figures) + "</ul>"
    if columns:
        out += _table(("column", "step 0", "lowest", "highest", "end"),
                      ((c, series[c][0], min(series[c]), max(series[c]), series[c][-1])
                       for c in columns))
    return out + "</div>"


def _keepers_html(keepers: Sequence[dict[str, Any]]) -> str:
    return "<h2>Keepers</h2>" + _table(
        ("keeper", "liquidations", "value, USD", "profit, USD", "gas spent, USD",
         "latency, steps", "max gas, gwei", "steps priced out"),
        ((k["keeper"], k["liquidations"], k["value_usd"], k["profit_usd"],
          k["gas_spent_usd"], k["latency_steps"],
          "flash loan" if k["max_gas_gwei"] is None and k["flash_loan"] else
          ("-" if k["max_gas_gwei"] is None else k["max_gas_gwei"]),
          k["steps_priced_out"]) for k in keepers))


def _protocols_html(protocols: dict[str, dict[str, Any]],
                    explained: dict[str, dict[str, Any]]) -> str:
    rows = []
    for name, s in protocols.items():
        causes = explained.get(name, {}).get("causes", {})
        top = max(causes, key=lambda c: causes[c]["bad_debt_usd"]) if causes else "-"
        rows.append((name, *(s.get(f) for f, _ in PROTOCOL_FIGURES), top))
    out = "<h2>Protocols</h2>" + _table(
        ("protocol", *(label for _, label in PROTOCOL_FIGURES), "main cause"), rows)
    for name, e in explained.items():
        items = "".join(f"<li>{_esc(s)}</li>" for s in e.get("sentences", []))
        out += f"<h3>{_esc(name)}</h3><ul>{items}</ul>"
    return out


def _losses_html(e: dict[str, Any]) -> str:
    accounts = e.get("accounts", [])
    if not accounts:
        return "<h2>Largest losses</h2><p>No account has bad debt.</p>"
    rows = ((r["account"], r["cause"], r["first_liquidatable_step"],
             r["collateral_at_first_usd"], r["debt_at_first_usd"], r["collateral_usd"],
             r["debt_usd"], r["written_off_usd"], r["bad_debt_usd"], r["liquidations"])
            for r in accounts[:TOP_LOSSES])
    return (f"<h2>Largest losses</h2><p>The {min(TOP_LOSSES, len(accounts))} largest of "
            f"{len(accounts):,} accounts with bad debt (USD; “at first”: when a scan first "
            "found it liquidatable, at the oracle; “now”: at the end).</p>"
            + _table(("account", "cause", "first liquidatable step", "collateral at first",
                      "debt at first", "collateral now", "debt now", "written off",
                      "bad debt", "liquidations"), rows))


def _still_html(e: dict[str, Any]) -> str:
    still = e.get("still_liquidatable", {})
    if not still.get("accounts"):
        return ""
    return (f"<h2>Still liquidatable at the end</h2><p>{still['accounts']:,} accounts.</p>"
            + _table(("reason", "accounts", "meaning"),
                     ((k, v, END_REASONS[k]) for k, v in still["reasons"].items())))


# ---------------------------------------------------------------------- helpers
def _images(paths: Iterable[Path]) -> str:
    return "\n".join(
        f'<figure><img alt="{p.stem}" src="data:image/png;base64,'
        f'{base64.b64encode(p.read_bytes()).decode()}"><figcaption>{p.stem}</figcaption>'
        "</figure>" for p in paths)


def _page(title: str, body: list[str], head: str) -> str:
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{_esc(title)}</title><style>{STYLE}</style>{head}</head>\n<body>\n"
            + "\n".join(body) + "\n</body></html>\n")


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    head = "".join(f"<th>{_esc(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(
            f'<td class="n">{_esc(_show(v))}</td>' if isinstance(v, int | float)
            and not isinstance(v, bool) else f"<td>{_esc(_show(v))}</td>" for v in row)
        + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _flatten(data: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """A scenario's tables as ``a.b.c = value`` rows (lists of tables numbered)."""
    out: list[tuple[str, Any]] = []
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out += _flatten(value, f"{name}.")
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for k, item in enumerate(value):
                out += _flatten(item, f"{field_path(name, k)}.")
        elif isinstance(value, list) and len(value) > 12:
            out.append((name, f"{len(value)} values: {value[:6]} ..."))
        else:
            out.append((name, value))
    return out


def _esc(value: Any) -> str:
    return html.escape(str(value))


def _show(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and value == 0:
        return "0"
    if isinstance(value, float):
        # Money to the cent; ratios and small figures to four places.
        return f"{value:,.4f}" if abs(value) < 100 else f"{value:,.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)
