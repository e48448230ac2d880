"""The pricing section of docs/api.md runs as written and says what it prints."""

from __future__ import annotations

import math
import re
from fractions import Fraction
from pathlib import Path

import pytest

API = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def test_api_pricing_example_when_run_then_recovers_the_volatility():
    text = API.read_text()
    section = text[text.index("## pricing"):text.index("<!-- end of section: pricing -->")]
    code = re.findall(r"```python\n(.*?)```", section, re.S)[0]
    namespace: dict[str, object] = {}
    exec(compile(code, "docs/api.md", "exec"), namespace)
    assert namespace["sigma"].tolist() == pytest.approx([0.6, 0.6], rel=1e-10)  # type: ignore[attr-defined]
    # Three calls at the call's price, fixed up (ceil) to USDC micro-units, exactly.
    call = float(namespace["value"][1])  # type: ignore[index]
    assert namespace["paid"] == math.ceil(Fraction(call) * 3 * 10**6)
