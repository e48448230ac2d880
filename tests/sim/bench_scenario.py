"""The scenario of ``benchmarks/simulate.py`` (a day of 1-minute blocks: a jump diffusion,
an AMM, a keeper with capital and a flash-loan keeper), for the tests that check the
keepers' shortcuts on the run the benchmark times. It is the benchmark's own definition,
read from the script (the benchmark runs from a checkout without the tests, so the tests
import it, not the other way round)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import simulate  # a sibling script, not a package


def bench(accounts: int, steps: int) -> dict[str, Any]:
    """The benchmark's cascade scenario at ``accounts`` borrowers and ``steps`` steps."""
    return simulate.scenario(accounts, steps)
