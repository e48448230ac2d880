"""Reports of simulator runs: charts (PNG, and interactive with plotly) and a
self-contained HTML page that explains the run."""

from marginengine.report.html import (
    write_monte_carlo_report,
    write_report,
    write_sweep_report,
)

__all__ = ["write_monte_carlo_report", "write_report", "write_sweep_report"]
