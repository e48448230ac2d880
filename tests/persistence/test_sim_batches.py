"""The cascade simulator logs per batch: one commit for the set-up and one per step."""

from __future__ import annotations

from pathlib import Path

import pytest

from marginengine.config import read_toml
from marginengine.engine import Engine
from marginengine.persistence import EventRecord, SQLiteStore
from marginengine.sim import apply_overrides
from marginengine.sim.cascade import run_cascade

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_cascade_when_logged_then_one_commit_per_step_and_replays_same_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    batches: list[int] = []
    append = SQLiteStore.append

    def counted(self: SQLiteStore, batch: list[EventRecord]) -> None:
        batches.append(len(batch))
        append(self, batch)

    monkeypatch.setattr(SQLiteStore, "append", counted)
    data = apply_overrides(read_toml(EXAMPLES / "quickstart.toml"),
                           ["book.accounts=40", "steps=12"])
    log = tmp_path / "events.sqlite"

    result = run_cascade(data, amplification=False, log_path=log)

    # The set-up (prices, the lender, 40 borrowers) and each of the 12 steps: 13 commits,
    # never one per event (a step applies at least AdvanceTime and SetPrice).
    assert len(batches) == 13
    assert sum(batches) == result.summary["events"]
    assert batches[0] >= 2 + 1 + 2 * 40
    assert all(size >= 1 for size in batches[1:])
    _, report = Engine.replay(log)
    assert (report.events, report.truncated) == (result.summary["events"], False)
    assert report.state_hash == result.summary["state_hash"]
