"""examples/api_tour.py runs as written (with a small book) and prints its figures."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import pytest

from marginengine.sim.explain import CAUSE_NAMES

TOUR = Path(__file__).resolve().parents[2] / "examples" / "api_tour.py"


def test_api_tour_runs(monkeypatch: pytest.MonkeyPatch,
                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "argv", [str(TOUR), "--accounts", "150", "--runs", "2"])
    runpy.run_path(str(TOUR), run_name="__main__")
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("bad debt ") and out[0].endswith(" liquidations")
    assert out[1].startswith("most liquidatable accounts: ")
    # The explanation: its first sentence, then a line per cause and per largest loss.
    assert out[2].startswith(("why: Bad debt ", "why: No bad debt"))
    causes = [line for line in out[3:-2] if line.startswith("cause ")]
    losses = [line for line in out[3:-2] if line.startswith("loss ")]
    assert len(causes) + len(losses) == len(out) - 5
    assert all(line.split(":")[0].removeprefix("cause ") in CAUSE_NAMES for line in causes)
    assert bool(causes) == out[2].startswith("why: Bad debt ")
    assert out[-2].startswith("bonus 5%: mean bad debt ")
    assert out[-1].startswith("bonus 8%: mean bad debt ")
