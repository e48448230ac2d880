"""The portfolio-margin section of docs/api.md runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

API = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def test_api_portfolio_example_when_run_then_hedge_raises_the_margin():
    text = API.read_text()
    section = text[text.index("## portfolio margin"):
                   text.index("<!-- end of section: portfolio margin -->")]
    code = re.findall(r"```python\n(.*?)```", section, re.S)[0]
    ns: dict[str, object] = {}
    exec(compile(code, "docs/api.md", "exec"), ns)
    after = ns["after"]
    # Half a 2,800 put against the long perp softens the -18% scenario that sets the
    # worst loss (-18%, vol up: -211.44): initial margin 4,583.16 -> 4,612.56, accepted.
    assert after.before.initial == pytest.approx(4583.155649702998, rel=1e-9)  # type: ignore[attr-defined]
    assert after.after.initial == pytest.approx(4612.557753097709, rel=1e-9)  # type: ignore[attr-defined]
    assert ns["worst"].spot_shock == 0.82  # type: ignore[attr-defined]
    assert after.accepted  # type: ignore[attr-defined]
    assert len(ns["table"]) == 33  # type: ignore[arg-type]
    result = ns["result"]
    # The requirement (MtM - initial margin) in USDC micro-units, rounded up.
    assert ns["required"] == 286_437_543
    assert ns["required"] >= result.initial_requirement * 10**6  # type: ignore[attr-defined,operator]
