"""The optimizer's report: the frontier with its confidence bands, the recommendation
table, the sensitivity table and each recommendation's steward path (one HTML page)."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any


def _num(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.4f}" if abs(value) < 100 else f"{value:,.0f}"
    return html.escape(str(value))


def frontier_chart(summary: dict[str, Any], frontier: Any, evaluations: Any,
                   path: Path) -> Path:
    """The frontier (efficiency against tail risk) with 95% interval bars and band, every
    other candidate in grey, the tiers and the risk budget marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = summary["frontier_axes"]["efficiency"]
    y = summary["frontier_axes"]["tail"]
    fig, ax = plt.subplots(figsize=(8, 5))
    valid = evaluations[evaluations["valid"] & evaluations[x].notna()]
    ax.scatter(valid[x], valid[y], s=10, color="#bbbbbb", label="candidates")
    f = frontier.sort_values(x)
    if len(f):
        has_ci = f[f"{y}_ci_low"].notna().all()
        if has_ci:
            ax.fill_between(f[x], f[f"{y}_ci_low"], f[f"{y}_ci_high"], color="#4477aa",
                            alpha=0.2, step="mid", label="95% interval of the tail risk")
            ax.errorbar(f[x], f[y], yerr=[f[y] - f[f"{y}_ci_low"], f[f"{y}_ci_high"] - f[y]],
                        xerr=[f[x] - f[f"{x}_ci_low"], f[f"{x}_ci_high"] - f[x]],
                        fmt="none", ecolor="#4477aa", alpha=0.6)
        ax.plot(f[x], f[y], "o-", color="#4477aa", label="frontier")
        for _, row in f[f["tier"].notna()].iterrows():
            ax.annotate(row["tier"], (row[x], row[y]), textcoords="offset points",
                        xytext=(6, 6), fontsize=9)
    for c in summary.get("constraints", []):
        if c.startswith(y) and "<=" in c:
            ax.axhline(float(c.split("<=")[1]), color="#cc3311", ls="--", lw=1,
                       label=f"budget {c}")
    cur = summary.get("current")
    if cur and cur.get("metrics", {}).get(x) and cur["metrics"].get(y):
        ax.scatter([cur["metrics"][x]["value"]], [cur["metrics"][y]["value"]], marker="*",
                   s=120, color="#ee7733", label="current parameters", zorder=5)
    ax.set_xlabel(f"{x} (higher is better)")
    ax.set_ylabel(f"{y} (lower is better)")
    ax.set_title(f"{summary['scenario']}: efficiency against tail risk")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def recommendation_rows(summary: dict[str, Any]) -> list[list[str]]:
    """The recommendation table as text cells: tier, each variable, each metric of
    interest with its interval, and, when a variable is one the Risk Stewards bound, each
    tier's steward path (steps and days, accounts it makes liquidatable).

    A problem whose variables the stewards bound none of (an options book's portfolio-margin
    factors, an auction curve) has no steward path: every change is one governance step, so
    the two path columns are left out rather than printed as ``0 (0)`` and ``0``.
    """
    names = [p["path"] for p in summary["params"]]
    metrics = _shown_metrics(summary)
    recs = summary["recommendations"]
    steward = any((r.get("path") or {}).get("bounded") for r in recs)
    path_columns = ["steward steps (days)", "newly liquidatable"] if steward else []
    rows = [["tier", *names, *metrics, *path_columns]]
    cur = summary.get("current")
    if cur:
        rows.append(["current", *[_num(cur["values"].get(n)) for n in names],
                     *[_ci((cur.get("metrics") or {}).get(m)) for m in metrics],
                     *["-"] * len(path_columns)])
    for r in recs:
        if not r.get("key"):
            # The reason no point qualifies, in the last column but one with a path,
            # else in the last.
            empty = ["-"] * (len(names) + len(metrics) + len(path_columns))
            empty[-2 if steward else -1] = r.get("why", "")
            rows.append([r["tier"], *empty])
            continue
        cells = [r["tier"], *[_num(r["values"][n]) for n in names],
                 *[_ci(r["metrics"].get(m)) for m in metrics]]
        if steward:
            cells += _path_cells(r.get("path") or {})
        rows.append(cells)
    return rows


def _path_cells(path: dict[str, Any]) -> list[str]:
    """The steward-steps and newly-liquidatable cells of one tier."""
    if not path or not path.get("bounded"):
        return ["-", "-"]
    steps = path.get("steps", [])
    accounts = sum(len(s.get("newly_liquidatable", [])) for s in steps)
    if not steps:
        return ["none needed" if path.get("arrived", True) else
                path.get("note") or "not reached", "-"]
    text = f"{len(steps)} ({path.get('days', 0):g})"
    if not path.get("arrived", True):
        text += f": {path.get('note') or 'not reached'}"
    return [text, str(accounts)]


def _shown_metrics(summary: dict[str, Any]) -> list[str]:
    axes = summary["frontier_axes"]
    out = [axes["efficiency"], axes["tail"]]
    for c in summary.get("constraints", []):
        name = c.split("<=")[0].split(">=")[0]
        if name not in out:
            out.append(name)
    # The book's own measures: an options book's (its metrics are in the summary only
    # when the scenario has one), else a lending book's.
    options = "options_leverage" in summary.get("metrics", {})
    for m in (OPTIONS_SHOWN if options else LENDING_SHOWN):
        if m not in out:
            out.append(m)
    return out


#: The further metrics the recommendation table shows, for a lending book and for an
#: options book.
LENDING_SHOWN = ("demand_served", "borrow_usage", "var95_bad_debt", "lar95", "borrower_loss")
OPTIONS_SHOWN = ("options_initial_margin", "options_trades_accepted", "var95_bad_debt",
                 "options_bad_debt", "security_module_used", "options_auctions")


def _ci(est: dict[str, Any] | None) -> str:
    if not est or est.get("value") is None:
        return "-"
    return f"{_num(est['value'])} [{_num(est.get('ci_low'))}, {_num(est.get('ci_high'))}]"


def _table(rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in rows[0])
    body = "\n".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows[1:])
    return f"<table><tr>{head}</tr>\n{body}</table>"


def write_optimize_report(folder: Path, summary: dict[str, Any], frontier: Any,
                          evaluations: Any) -> Path | None:
    """Write ``report.html`` (and ``frontier.png``); ``None`` without matplotlib."""
    try:
        chart = frontier_chart(summary, frontier, evaluations, folder / "frontier.png")
    except ImportError:
        return None
    image = base64.b64encode(chart.read_bytes()).decode()
    sens = [["variable", "metric", "at", "change per unit", "95% interval", "per grid step"]]
    for s in summary.get("sensitivity", []):
        sens.append([html.escape(s["param"]), s["metric"], _num(s["at"]), _num(s["per_unit"]),
                     f"[{_num(s['ci_low'])}, {_num(s['ci_high'])}]", _num(s["per_step"])])
    paths = []
    for r in summary["recommendations"]:
        path = r.get("path")
        if not path:
            continue
        rows = [["day", "changes", "newly liquidatable accounts", "their debt (USD)"]]
        for step in path.get("steps", []):
            changes = ", ".join(f"{html.escape(k)} {a:g} -> {b:g}"
                                for k, (a, b) in step["changes"].items())
            ids = step.get("newly_liquidatable", [])
            shown = ", ".join(ids[:8]) + (f" and {len(ids) - 8} more" if len(ids) > 8 else "")
            rows.append([f"{step['day']:g}", changes, html.escape(shown) or "none",
                         _num(step.get("debt_usd"))])
        extra = "".join(f"<p>{html.escape(k)}: {a} -> {b} in one governance step (not "
                        "bounded by the stewards)</p>" for k, (a, b) in
                        path.get("unbounded", {}).items())
        note = f"<p>{html.escape(path['note'])}</p>" if path.get("note") else ""
        # A table of steward steps only where there are some: with no bounded variable
        # (or none off today's value) an empty table would read as a path of no steps.
        steps = _table(rows) if len(rows) > 1 else (
            "<p>no steward step needed: the bounded variables are at today's values</p>"
            if path.get("bounded") else "")
        if steps or extra or note:
            paths.append(f"<h3>{r['tier']}</h3>{steps}{extra}{note}")
    counts = summary["counts"]
    # Without a steward-bounded variable there is no steward path, only governance steps.
    paths_title = ("Paths in steward-feasible steps"
                   if any((r.get("path") or {}).get("bounded")
                          for r in summary["recommendations"])
                   else "Changes from today's parameters (governance steps)")
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>marginengine optimize: {html.escape(summary['scenario'])}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}}
table{{border-collapse:collapse;margin:0.5em 0}}th,td{{padding:2px 8px;
border-bottom:1px solid #ddd;text-align:left}}img{{max-width:100%}}</style></head>
<body><h1>Optimization of {html.escape(summary['scenario'])}</h1>
<p>{html.escape(summary['algorithm'])}; objectives
{html.escape(', '.join(o['metric'] for o in summary['objectives']))}; constraints
{html.escape(', '.join(summary['constraints']) or 'none')}; {counts['evaluations']}
evaluations of {summary['settings']['runs']} runs each on the same seeds (common random
numbers), points near the frontier on {summary['settings']['runs']
+ summary['settings']['reeval_runs']} runs; {counts['runs_executed']:,} runs executed,
{counts['runs_from_cache']:,} served from the cache. Intervals: 95% percentile bootstrap.
State: {html.escape(summary['state'])}.</p>
<h2>Frontier</h2><img alt="frontier" src="data:image/png;base64,{image}">
<h2>Recommendations</h2>{_table([[html.escape(c) for c in r]
                                  for r in recommendation_rows(summary)])}
<h2>Sensitivity (around the moderate recommendation, paired on the same runs)</h2>
{_table(sens) if len(sens) > 1 else '<p>not computed (budget too small)</p>'}
<h2>{paths_title}</h2>{''.join(paths) or '<p>none</p>'}
<h2>optimize.json</h2><pre>{html.escape(json.dumps(summary, indent=1, default=str))}</pre>
</body></html>"""
    out = folder / "report.html"
    out.write_text(page)
    return out
