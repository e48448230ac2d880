"""A self-contained HTML report: the summary table and the charts, embedded as PNG."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any


def write_report(out_dir: Path, title: str, summary: dict[str, Any],
                 series: dict[str, list[float]], twin: dict[str, list[float]] | None = None,
                 auctions: list[dict[str, Any]] | None = None) -> Path | None:
    """Write ``report.html`` and the chart PNGs; ``None`` when matplotlib is missing."""
    try:
        from marginengine.report.charts import draw_charts
        charts = draw_charts(series, twin, auctions or [], out_dir)
    except ImportError:
        return None
    rows = "\n".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(_show(v))}</td></tr>"
        for k, v in summary.items() if not isinstance(v, dict | list)
    )
    images = "\n".join(
        f'<figure><img alt="{p.stem}" src="data:image/png;base64,'
        f'{base64.b64encode(p.read_bytes()).decode()}"><figcaption>{p.stem}</figcaption>'
        "</figure>" for p in charts
    )
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1000px}}
table{{border-collapse:collapse}}th,td{{padding:2px 10px;border-bottom:1px solid #ddd;
text-align:left}}figure{{margin:1em 0}}img{{max-width:100%}}</style></head>
<body><h1>{html.escape(title)}</h1>
<h2>Summary</h2><table>{rows}</table>
<h2>Charts</h2>{images}
<h2>Raw summary</h2><pre>{html.escape(json.dumps(summary, indent=2, default=str))}</pre>
</body></html>"""
    path = out_dir / "report.html"
    path.write_text(page)
    return path


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.4f}" if abs(value) < 1000 else f"{value:,.2f}"
    return str(value)
