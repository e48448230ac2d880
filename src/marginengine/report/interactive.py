"""Interactive charts with plotly (an optional dependency, imported only here and only
when a report is written).

The page embeds plotly.js once, inline in its ``<head>`` (:func:`plotly_script`), so the
report works offline; each chart is then a ``<div class="plotly-graph-div">`` and a short
script that draws it (:func:`render`). Without plotly, :func:`available` is ``False`` and
the report keeps its PNG charts (matplotlib).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

#: Perp waterfall columns of ``steps.parquet`` (sim/metrics.py PERP_SERIES_COLUMNS: the
#: money ones) shown when a run writes them.
PERP_COLUMNS = ("insurance_fund_usd", "insurance_drawdown_usd", "adl_covered_usd",
                "adl_volume_usd", "socialized_loss_usd", "perp_deficit_usd")


def available() -> bool:
    """Whether plotly can be imported."""
    try:
        import plotly.graph_objects  # noqa: F401
    except ImportError:
        return False
    return True


def plotly_script() -> str:
    """plotly.js, inline, for the page's ``<head>`` (once per page)."""
    from plotly.offline import get_plotlyjs

    return f'<script type="text/javascript">{get_plotlyjs()}</script>'


def render(figures: Sequence[tuple[str, Any]]) -> str:
    """The charts' HTML (``<div>`` and its drawing script each), without plotly.js."""
    return "\n".join(
        '<figure class="chart">' + fig.to_html(
            full_html=False, include_plotlyjs=False, div_id=f"chart-{name}",
            config={"displaylogo": False}) + "</figure>" for name, fig in figures)


def _go() -> Any:
    import plotly.graph_objects as go

    return go


def _layout(fig: Any, title: str, x: str, y: str, **more: Any) -> Any:
    layout: dict[str, Any] = {"title": title, "xaxis_title": x, "yaxis_title": y,
                              "height": 380, "margin": {"l": 60, "r": 20, "t": 50, "b": 45},
                              "hovermode": "x unified",
                              "legend": {"orientation": "h", "y": -0.2}}
    fig.update_layout(**{**layout, **more})
    return fig


def cascade_figures(series: dict[str, list[float]], twin: dict[str, list[float]] | None,
                    auctions: list[dict[str, Any]],
                    keepers: Sequence[dict[str, Any]] = ()) -> list[tuple[str, Any]]:
    """The charts of a cascade run: name -> plotly figure (see :mod:`report.html`)."""
    go = _go()
    steps = series.get("step", [])
    if not steps:
        return []
    out: list[tuple[str, Any]] = []

    fig = go.Figure()
    fig.add_scatter(x=steps, y=series["liquidatable_accounts"], name="liquidatable accounts",
                    line={"color": "purple"})
    others = [c for c in series if c.startswith("liquidatable_accounts.")]
    for column in others:
        fig.add_scatter(x=steps, y=series[column],
                        name=f"liquidatable accounts, {column.split('.', 1)[1]}")
    fig.add_bar(x=steps, y=series["liquidations_step"], name="liquidations per step",
                marker={"color": "orange"}, opacity=0.7)
    out.append(("liquidatable", _layout(fig, "Liquidatable accounts over time", "step",
                                        "accounts / liquidations")))

    fig = go.Figure()
    for column, name, style in (
            ("bad_debt_usd", "bad debt (headline)", {"color": "red"}),
            ("bad_debt_realized_usd_cum", "realized", {"color": "red", "dash": "dot"}),
            ("underwater_usd", "underwater", {"color": "brown", "dash": "dash"}),
            ("bad_debt_in_auctions_usd", "in auctions", {"color": "grey", "dash": "dash"})):
        if any(series.get(column, [])):
            fig.add_scatter(x=steps, y=series[column], name=name, line=style)
    for column in (c for c in series if c.startswith("bad_debt_usd.")):
        fig.add_scatter(x=steps, y=series[column],
                        name=f"bad debt, {column.split('.', 1)[1]}")
    if not fig.data:
        fig.add_scatter(x=steps, y=series["bad_debt_usd"], name="bad debt (headline)")
    out.append(("bad_debt", _layout(fig, "Bad debt and its parts", "step", "USD")))

    fig = go.Figure()
    fig.add_scatter(x=steps, y=series["external_price_usd"], name="external price",
                    line={"color": "black", "width": 1})
    fig.add_scatter(x=steps, y=series["venue_price_usd"], name="venue, with feedback",
                    line={"color": "red"})
    fig.add_scatter(x=steps, y=series["oracle_price_usd"], name="oracle (engine)",
                    line={"color": "green", "dash": "dot"})
    if twin and twin.get("venue_price_usd"):
        fig.add_scatter(x=twin["step"], y=twin["venue_price_usd"],
                        name="venue, without feedback", line={"color": "blue", "dash": "dash"})
    out.append(("prices", _layout(fig, "Prices: market, venue and oracle", "step", "USD")))

    fig = go.Figure()
    fig.add_scatter(x=steps, y=series["gas_gwei"], name="gas", line={"color": "teal"})
    for column in [c for c in series if c.startswith("gas_gwei.")]:
        # Another chain's gas ([gas.chains.NAME]), paid by the protocols on it.
        fig.add_scatter(x=steps, y=series[column], name=f"gas, {column.partition('.')[2]}")
    for k in keepers:
        cap = k.get("max_gas_gwei")
        if cap is not None:
            fig.add_hline(y=cap, line={"dash": "dot", "color": "grey"},
                          annotation_text=f"{k['keeper']} max {cap:,.0f} gwei")
    out.append(("gas", _layout(fig, "Gas price and keepers' limits", "step", "gwei")))

    fig = go.Figure()
    fig.add_scatter(x=steps, y=series["health_p05"], name="5th percentile")
    fig.add_scatter(x=steps, y=series["health_p50"], name="median")
    fig.add_hline(y=1.0, line={"color": "grey", "width": 1})
    out.append(("health", _layout(fig, "Health factor over time", "step", "health",
                                  yaxis_type="log")))

    perp = [c for c in series if c.split(".", 1)[0] in PERP_COLUMNS]
    if perp:
        fig = go.Figure()
        for column in perp:
            fig.add_scatter(x=steps, y=series[column], name=column)
        out.append(("perp_waterfall", _layout(fig, "Perp waterfall: insurance fund, ADL, "
                                                   "socialized loss", "step", "USD")))
    from marginengine.sim.metrics import PERP_SERIES_COLUMNS, SERIES_COLUMNS

    standard = {c.name for c in (*SERIES_COLUMNS, *PERP_SERIES_COLUMNS)}
    family = [c for c in series if c not in standard and "." not in c
              and c not in PERP_COLUMNS]
    if family:
        fig = go.Figure()
        for column in family:
            fig.add_scatter(x=steps, y=series[column], name=column)
        out.append(("family", _layout(fig, "The protocol family's own columns", "step",
                                      "value")))
    if auctions:
        fig = go.Figure()
        fig.add_scatter(x=[a["price_at_kick"] for a in auctions],
                        y=[a["settle_price"] for a in auctions], mode="markers",
                        marker={"color": ["red" if a["near_zero"] else "blue"
                                          for a in auctions]},
                        text=[f"auction {a['id']}: {a['account']}" for a in auctions],
                        name="auctions")
        out.append(("auctions", _layout(fig, "Auction outcomes (red: below 5% of the oracle "
                                             "price)", "oracle price at kick",
                                        "settlement price", hovermode="closest")))
    return out


def histogram(name: str, values: Sequence[float], title: str, x: str,
              marks: Sequence[tuple[str, float]] = ()) -> tuple[str, Any]:
    """A histogram of ``values`` with vertical lines at ``marks`` (label, value)."""
    go = _go()
    fig = go.Figure()
    fig.add_histogram(x=list(values), nbinsx=min(50, max(5, len(values) // 4)), name=x)
    for label, value in marks:
        fig.add_vline(x=value, line={"dash": "dot", "color": "red"}, annotation_text=label)
    return name, _layout(fig, title, x, "runs", hovermode="closest", showlegend=False)


def bars(name: str, labels: Sequence[str], groups: Sequence[tuple[str, Sequence[float]]],
         title: str, y: str) -> tuple[str, Any]:
    """Grouped bars: one group per ``(name, values)``, one bar per label."""
    go = _go()
    fig = go.Figure()
    for group, values in groups:
        fig.add_bar(x=list(labels), y=list(values), name=group)
    return name, _layout(fig, title, "", y, barmode="group", hovermode="closest")


__all__ = ["PERP_COLUMNS", "available", "bars", "cascade_figures", "histogram",
           "plotly_script", "render"]
