"""Reports of simulator runs: charts (PNG) and a self-contained HTML page."""

from marginengine.report.html import write_report

__all__ = ["write_report"]
