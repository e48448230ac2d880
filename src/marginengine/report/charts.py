"""The key charts of a cascade run, drawn with matplotlib (an optional dependency)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def draw_charts(series: dict[str, list[float]], twin: dict[str, list[float]] | None,
                auctions: list[dict[str, Any]], out_dir: Path) -> list[Path]:
    """Write the charts as PNG files under ``out_dir``; return their paths.

    ``series`` and ``twin`` have the columns of ``steps.parquet``
    (:data:`marginengine.sim.metrics.SERIES_COLUMNS`).
    """
    plt = _plt()
    paths: list[Path] = []
    steps = series.get("step", [])
    if not steps:
        return paths

    def save(fig: Any, name: str) -> None:
        path = out_dir / f"{name}.png"
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)

    fig, ax = plt.subplots(figsize=(8, 4))
    ax.plot(steps, series["external_price_usd"], label="external price", color="black", lw=1)
    ax.plot(steps, series["venue_price_usd"], label="venue, with feedback", color="tab:red")
    if twin and twin.get("venue_price_usd"):
        ax.plot(twin["step"], twin["venue_price_usd"], label="venue, without feedback",
                color="tab:blue", ls="--")
    ax.set_title("Price with and without liquidation feedback")
    ax.set_xlabel("step")
    ax.set_ylabel("USD")
    ax.legend()
    save(fig, "price_feedback")

    fig, ax = plt.subplots(figsize=(8, 4))
    ax.plot(steps, series["oracle_price_usd"], label="oracle (engine)", color="tab:green")
    ax.plot(steps, series["venue_price_usd"], label="venue", color="tab:red", alpha=0.7)
    ax.set_title("Oracle against venue")
    ax.set_xlabel("step")
    ax.set_ylabel("USD")
    ax.legend()
    save(fig, "oracle_venue")

    fig, ax = plt.subplots(figsize=(8, 4))
    ax.plot(steps, series["health_p05"], label="5th percentile")
    ax.plot(steps, series["health_p50"], label="median")
    ax.axhline(1.0, color="grey", lw=0.8)
    ax.set_yscale("log")
    ax.set_title("Health factor distribution over time")
    ax.set_xlabel("step")
    ax.legend()
    save(fig, "health")

    # The headline bad debt (summary.json's bad_debt at every step), with its realized part:
    # plotting the realized part alone hides a loss that exists from the crash on.
    fig, ax1 = plt.subplots(figsize=(8, 4))
    ax1.bar(steps, series["liquidations_step"], color="tab:orange",
            label="liquidations per step")
    ax1.plot(steps, series["liquidatable_accounts"], color="tab:purple", lw=1,
             label="liquidatable accounts")
    ax1.set_xlabel("step")
    ax1.set_ylabel("accounts / liquidations")
    ax2 = ax1.twinx()
    ax2.plot(steps, series["bad_debt_usd"], color="tab:red",
             label="bad debt, USD (realized + in auctions + underwater)")
    ax2.plot(steps, series["bad_debt_realized_usd_cum"], color="tab:red", ls=":",
             label="of which realized, USD")
    ax2.set_ylabel("bad debt, USD")
    ax1.set_ylim(bottom=0)
    ax2.set_ylim(bottom=0)
    handles = ax1.get_legend_handles_labels()
    more = ax2.get_legend_handles_labels()
    ax1.legend(handles[0] + more[0], handles[1] + more[1], loc="upper left", fontsize=8)
    ax1.set_title("Liquidatable accounts, liquidations and bad debt")
    save(fig, "liquidations_bad_debt")

    if "bankrupt_shortfall_usd" in series:
        save(_perp_waterfall(plt, steps, series), "perp_waterfall")

    if auctions:
        fig, ax = plt.subplots(figsize=(8, 4))
        x = [a["price_at_kick"] for a in auctions]
        y = [a["settle_price"] for a in auctions]
        colors = ["tab:red" if a["near_zero"] else "tab:blue" for a in auctions]
        ax.scatter(x, y, c=colors, s=12)
        top = max(x) if x else 1
        ax.plot([0, top], [0, top], color="grey", lw=0.8)
        ax.plot([0, top], [0, top * 0.05], color="tab:red", lw=0.8, ls=":")
        ax.set_xlabel("oracle price at kick")
        ax.set_ylabel("settlement price")
        ax.set_title("Auction outcomes (red: below 5% of the oracle price)")
        save(fig, "auctions")
    return paths


def draw_histograms(out_dir: Path, bad_debt: list[float], liquidations: list[float],
                    marks: list[tuple[str, float]]) -> list[Path]:
    """A Monte Carlo's histograms as PNG (``bad_debt_hist.png`` with vertical lines at
    ``marks``, label and value; ``liquidations_hist.png``); return their paths."""
    plt = _plt()
    paths = []
    for name, values, label, lines, color in (
            ("bad_debt_hist", bad_debt, "bad debt, USD", marks, "tab:red"),
            ("liquidations_hist", liquidations, "liquidations", [], "tab:orange")):
        fig, ax = plt.subplots(figsize=(8, 4))
        ax.hist(values, bins=min(50, max(5, len(values) // 4)), color=color)
        for text, x in lines:
            ax.axvline(x, color="black", ls=":", lw=1)
            ax.annotate(text, (x, ax.get_ylim()[1] * 0.9))
        ax.set_xlabel(label)
        ax.set_ylabel("runs")
        ax.set_title(f"{label} over the runs")
        fig.tight_layout()
        path = out_dir / f"{name}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths


def _perp_waterfall(plt: Any, steps: list[float], series: dict[str, list[float]]) -> Any:
    """The perp backstop waterfall per step (sim/perps.py): what paid each step's bankrupt
    shortfall, stacked (insurance fund, ADL, socialized, deficit), with the funds' balance;
    summed over every protocol with a perp venue (their ``<column>.<name>`` columns)."""
    fig, ax1 = plt.subplots(figsize=(8, 4))
    bottom = [0.0] * len(steps)
    for column, label, color in (
            ("insurance_drawdown_usd", "insurance fund", "tab:blue"),
            ("adl_covered_usd", "auto-deleveraging", "tab:orange"),
            ("socialized_loss_usd", "socialized", "tab:red"),
            ("perp_deficit_usd", "deficit", "black")):
        values = _summed(series, column)
        if any(values):
            ax1.bar(steps, values, bottom=bottom, color=color, label=f"{label}, USD")
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax1.set_xlabel("step")
    ax1.set_ylabel("bankrupt shortfall paid, USD")
    ax2 = ax1.twinx()
    ax2.plot(steps, _summed(series, "insurance_fund_usd"), color="tab:green",
             label="insurance funds, USD")
    ax2.set_ylabel("insurance funds, USD")
    ax1.set_ylim(bottom=0)
    ax2.set_ylim(bottom=0)
    handles = ax1.get_legend_handles_labels()
    more = ax2.get_legend_handles_labels()
    ax1.legend(handles[0] + more[0], handles[1] + more[1], loc="upper right", fontsize=8)
    ax1.set_title("Perp backstop waterfall per step")
    return fig


def _summed(series: dict[str, list[float]], column: str) -> list[float]:
    """``column`` plus every further protocol's ``column.<name>``, step by step."""
    parts = [v for k, v in series.items() if k == column or k.startswith(column + ".")]
    return [float(sum(x)) for x in zip(*parts, strict=True)]
