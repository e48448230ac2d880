"""Listeners run after the commit: per event after each event's commit, per batch when the
batch commits (queued, in order); ``when="apply"`` right after the event; a failing
listener never breaks ``apply`` or a commit (docs/api.md, "When listeners run")."""

from __future__ import annotations

from pathlib import Path

import pytest

from marginengine.engine import Borrow, Change, Deposit, Engine, SetPrice
from marginengine.errors import LogError
from marginengine.persistence import SQLiteStore
from marginengine.scan import RiskBook
from tests.conftest import ETH, USD, USDC, simple_aave


def _prices_and_lender(engine: Engine) -> None:
    engine.apply(SetPrice("WETH", 2_000 * USD))
    engine.apply(SetPrice("USDC", USD))
    engine.apply(Deposit("lp", "USDC", 1_000_000 * USDC))


def _committed_at_delivery(engine: Engine) -> list[tuple[int, int]]:
    """A listener recording (its event's seq, the log's committed count when called)."""
    heard: list[tuple[int, int]] = []

    def listener(change: Change) -> None:
        assert engine.log is not None
        heard.append((change.outcome.seq, engine.log.count))

    engine.subscribe(listener)
    return heard


def test_per_event_log_when_applied_then_listener_sees_its_event_committed(
        tmp_path: Path) -> None:
    engine = Engine.with_log(simple_aave(), tmp_path / "events.sqlite")
    heard = _committed_at_delivery(engine)

    _prices_and_lender(engine)

    # Called before apply returns, once the event's own commit is done: count == seq.
    assert heard == [(1, 1), (2, 2), (3, 3)]
    engine.close()


def test_batch_log_when_applied_then_listeners_wait_for_the_commit_and_run_in_order(
        tmp_path: Path) -> None:
    engine = Engine.with_log(simple_aave(), tmp_path / "events.sqlite", durability="batch")
    heard = _committed_at_delivery(engine)

    _prices_and_lender(engine)
    assert heard == []  # applied, held in memory: a crash would lose them
    engine.commit()
    assert heard == [(1, 3), (2, 3), (3, 3)]  # every committed count >= its seq
    engine.apply(Deposit("alice", "WETH", ETH))
    assert heard[3:] == []
    engine.close()  # close commits, then delivers
    assert heard[3:] == [(4, 4)]


def test_batch_block_on_per_event_log_when_block_ends_then_changes_delivered(
        tmp_path: Path) -> None:
    engine = Engine.with_log(simple_aave(), tmp_path / "events.sqlite")
    heard = _committed_at_delivery(engine)

    with engine.batch():
        _prices_and_lender(engine)
        with engine.batch():  # an inner block commits nothing
            engine.apply(Deposit("alice", "WETH", ETH))
        assert heard == []

    assert heard == [(1, 4), (2, 4), (3, 4), (4, 4)]
    engine.close()


def test_apply_listener_when_batch_open_then_called_before_the_commit(
        tmp_path: Path) -> None:
    engine = Engine.with_log(simple_aave(), tmp_path / "events.sqlite", durability="batch")
    applied: list[tuple[int, int]] = []
    engine.subscribe(lambda c: applied.append((c.outcome.seq, engine.log.count
                                               if engine.log else -1)), when="apply")
    committed = _committed_at_delivery(engine)

    _prices_and_lender(engine)

    assert applied == [(1, 0), (2, 0), (3, 0)]  # nothing committed yet
    assert committed == []
    engine.close()
    assert committed == [(1, 3), (2, 3), (3, 3)]


def test_failing_listener_when_batch_commits_then_apply_commit_and_others_stand(
        tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite"
    engine = Engine.with_log(simple_aave(), path, durability="batch")

    def broken(change: Change) -> None:
        raise RuntimeError(f"listener down at {change.outcome.seq}")

    engine.subscribe(broken)
    engine.subscribe(broken, when="apply")
    heard = _committed_at_delivery(engine)

    _prices_and_lender(engine)
    outcome = engine.apply(Deposit("alice", "WETH", ETH))
    engine.commit()

    assert outcome.accepted and outcome.seq == 4
    assert heard == [(1, 4), (2, 4), (3, 4), (4, 4)]  # the listener after it still runs
    assert engine.log is not None and engine.log.count == 4 and engine.log.pending == 0
    assert len(engine.listener_errors) == 8  # 4 events x (apply + commit)
    assert "listener down at 4" in engine.listener_errors[-1]
    engine.close()
    _, report = Engine.replay(path)
    assert report.events == 4 and report.state_hash == engine.state_hash()


def test_failed_commit_when_retried_then_changes_delivered_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = Engine.with_log(simple_aave(), tmp_path / "events.sqlite", durability="batch")
    heard = _committed_at_delivery(engine)
    _prices_and_lender(engine)
    append = SQLiteStore.append
    calls = {"n": 0}

    def flaky(self: SQLiteStore, batch: object) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise LogError("disk full")
        append(self, batch)  # type: ignore[arg-type]

    monkeypatch.setattr(SQLiteStore, "append", flaky)

    with pytest.raises(LogError, match="disk full"):
        engine.commit()
    assert heard == []  # not durable: not told
    engine.commit()
    assert heard == [(1, 3), (2, 3), (3, 3)]
    engine.commit()  # nothing new: nothing delivered twice
    assert len(heard) == 3
    engine.close()


def test_no_log_when_applied_then_listener_called_at_once() -> None:
    engine = Engine(simple_aave())
    seqs: list[int] = []
    engine.subscribe(lambda c: seqs.append(c.outcome.seq))
    _prices_and_lender(engine)
    assert seqs == [1, 2, 3]


def test_subscribe_when_unknown_moment_then_refused() -> None:
    with pytest.raises(ValueError, match="when: must be 'commit' or 'apply'"):
        Engine(simple_aave()).subscribe(print, when="later")  # type: ignore[arg-type]


def test_risk_book_when_batch_open_then_mirrors_events_applied_in_the_batch(
        tmp_path: Path) -> None:
    # The simulator scans within a step (one batch): the book must see the step's events.
    engine = Engine.with_log(simple_aave(), tmp_path / "events.sqlite", durability="batch")
    book = RiskBook.from_engine(engine)
    with engine.batch():
        _prices_and_lender(engine)
        engine.apply(Deposit("alice", "WETH", ETH))
        assert engine.apply(Borrow("alice", "USDC", 1_500 * USDC)).accepted
        # HF = 2,000 x 0.825 / 1,500 = 1.1; at 1,700: 1,402.5 / 1,500 = 0.935.
        engine.apply(SetPrice("WETH", 1_700 * USD))
        book.incremental_scan()
        assert engine.log is not None and engine.log.count == 0
        assert list(book.below_accounts()) == ["alice"]
    engine.close()
