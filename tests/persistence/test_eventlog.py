"""Worked tests of the SQLite event log (``marginengine.engine.eventlog``) and ``Engine.replay``.

One small aave-v3 stream is logged: ten events, seven accepted and three rejected, with
worked figures (1 WETH at 2,000 USD against a 1,000 USDC borrow: health factor
2,000 x 0.83 / 1,000 = 1.66). The log is then read back, tampered with through sqlite3,
torn, truncated and misplaced to check what replay makes of it.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from marginengine.config import protocol_from_dict
from marginengine.engine import (
    AdvanceTime,
    Borrow,
    Deposit,
    Engine,
    Event,
    Outcome,
    Repay,
    SetPrice,
    Withdraw,
)
from marginengine.errors import LogError
from marginengine.persistence import (
    FORMAT_VERSION,
    EventLog,
    SQLiteStore,
    ack_path,
    encode,
    event_digest,
    open_log,
    wal_path,
)
from marginengine.persistence.chain import checkpoint_digest

CONFIG = protocol_from_dict({"preset": "aave-v3", "markets": {"WETH": {}, "USDC": {}, "DAI": {}}})
WETH = 10**18
USDC = 10**6
USD = 10**8
DATA = Path(__file__).parent / "data"
SELECT = "SELECT seq, outcome, accepted, payload, checksum FROM events ORDER BY seq"

EVENTS: list[Event] = [
    SetPrice("WETH", 2_000 * USD),  # 1 accepted
    SetPrice("USDC", 1 * USD),  # 2 accepted
    Deposit("lp", "USDC", 1_000_000 * USDC),  # 3 accepted
    Deposit("alice", "WETH", 1 * WETH),  # 4 accepted
    Deposit("alice", "WETH", 0),  # 5 rejected: zero amount
    Borrow("alice", "USDC", 1_000 * USDC),  # 6 accepted: HF 1.66
    Borrow("alice", "USDC", 1_000_000 * USDC),  # 7 rejected: beyond borrowing power
    AdvanceTime(86_400),  # 8 accepted
    Repay("alice", "USDC", 500 * USDC),  # 9 accepted
    Withdraw("bob", "WETH", 1 * WETH),  # 10 rejected: unknown account
]
ACCEPTED = [True, True, True, True, False, True, False, True, True, False]


def write_log(path: Path, events: list[Event] = EVENTS,
              **kwargs: Any) -> tuple[Engine, list[Outcome]]:
    engine = Engine.with_log(CONFIG, path, **kwargs)
    outcomes = engine.apply_all(events)
    engine.close()
    return engine, outcomes


def hash_after(events: list[Event]) -> str:
    engine = Engine(CONFIG)
    engine.apply_all(events)
    return engine.state_hash()


def rows(path: Path) -> list[tuple[int, str, int, str, str]]:
    with closing(sqlite3.connect(path)) as db:
        return db.execute(SELECT).fetchall()


def execute(path: Path, sql: str, *args: Any) -> None:
    """Change the file behind the tool's back, as an editor or a fault would."""
    with closing(sqlite3.connect(path)) as db:
        db.execute(sql, args)
        db.commit()


def set_payload(path: Path, seq: int, payload: str | bytes) -> None:
    """Replace a payload without touching its checksum (damage)."""
    execute(path, "UPDATE events SET payload = CAST(? AS TEXT) WHERE seq = ?", payload, seq)


def payload_of(path: Path, seq: int) -> str:
    return next(r[3] for r in rows(path) if r[0] == seq)


Edit = Callable[[int, str, int, dict[str, Any]], tuple[str, int, dict[str, Any]]]


def forge(path: Path, edit: Edit) -> None:
    """Rewrite rows as a deliberate forger would: recompute the whole chain and the close
    record, so only the replay's own verification can catch the change."""
    with closing(sqlite3.connect(path)) as db:
        digest = dict(db.execute("SELECT key, value FROM meta"))["meta_checksum"]
        prev = digest
        found = db.execute(SELECT).fetchall()
        for seq, outcome, accepted, payload, _ in found:
            outcome, accepted, record = edit(seq, outcome, accepted, json.loads(payload))
            payload = encode(record)
            prev = event_digest(prev, seq, outcome.encode(), accepted, payload.encode())
            db.execute("UPDATE events SET outcome = ?, accepted = ?, payload = ?, checksum = ? "
                       "WHERE seq = ?", (outcome, accepted, payload, prev, seq))
        db.execute("UPDATE checkpoint SET acknowledged = ?, last_checksum = ?, closed = 1, "
                   "checksum = ?", (len(found), prev, checkpoint_digest(digest, len(found),
                                                                         prev, 1)))
        db.commit()


def edit_record(target: int, change: Callable[[dict[str, Any]], None]) -> Edit:
    def edit(seq: int, outcome: str, accepted: int,
             record: dict[str, Any]) -> tuple[str, int, dict[str, Any]]:
        if seq == target:
            change(record)
        return outcome, accepted, record
    return edit


def crash_image(src: Path, dst: Path) -> Path:
    """Copy a log's files while its writer is still open: what a crash leaves on disk."""
    dst.mkdir()
    for name in (src.name, wal_path(src).name, ack_path(src).name):
        if (src.parent / name).exists():
            shutil.copy(src.parent / name, dst / name)
    return dst / src.name


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "log.sqlite"
    write_log(path)
    return path


# ---------------------------------------------------------------------------- writing
def test_apply_when_logged_then_every_accepted_and_rejected_event_is_a_chained_row(
    tmp_path: Path,
) -> None:
    path = tmp_path / "log.sqlite"
    _, outcomes = write_log(path)

    assert [o.accepted for o in outcomes] == ACCEPTED
    logged = rows(path)
    assert [r[0] for r in logged] == list(range(1, 11))
    assert [r[1] for r in logged] == [
        "SetPriceAccepted", "SetPriceAccepted", "DepositAccepted", "DepositAccepted",
        "DepositRejected", "BorrowAccepted", "BorrowRejected", "AdvanceTimeAccepted",
        "RepayAccepted", "WithdrawRejected",
    ]
    assert [bool(r[2]) for r in logged] == ACCEPTED
    with closing(sqlite3.connect(path)) as db:
        prev = dict(db.execute("SELECT key, value FROM meta"))["meta_checksum"]
    for (seq, name, accepted, payload, check), outcome in zip(logged, outcomes, strict=True):
        assert payload == encode(outcome.to_dict())
        # Each checksum covers the previous one, the seq and every other column.
        assert check == event_digest(prev, seq, name.encode(), accepted, payload.encode())
        assert len(check) == 64
        assert json.loads(payload)["seq"] == seq
        prev = check
    borrow = json.loads(logged[5][3])
    assert borrow["event"] == {"type": "Borrow", "account": "alice", "asset": "USDC",
                               "amount": 1_000 * USDC}
    assert borrow["details"] == {"borrowed": 1_000 * USDC, "health_factor": 1_660000000000000000}
    zero = json.loads(logged[4][3])
    assert zero["accepted"] is False
    assert zero["reason"] == "amount: must be positive (got 0)"
    assert zero["details"] == {}
    unknown = json.loads(logged[9][3])
    assert unknown["reason"] == "account: unknown account 'bob'"


def test_log_when_closed_then_one_file_with_meta_and_close_record(log: Path) -> None:
    assert sorted(p.name for p in log.parent.iterdir()) == ["log.sqlite"]  # no -wal, no -ack
    store = open_log(log)
    try:
        assert store.meta["format_version"] == FORMAT_VERSION == "2"
        assert json.loads(store.meta["protocol"]) == CONFIG.model_dump(mode="json")
        records = list(store.read())
        status = store.status()
    finally:
        store.close()
    assert [r.seq for r in records] == list(range(1, 11))
    assert [r.accepted for r in records] == ACCEPTED
    assert records[3].record["details"] == {"scaled": 1 * WETH}
    assert (status.events, status.truncated, status.note, status.acknowledged) == (10, False, "",
                                                                                     10)
    with closing(sqlite3.connect(log)) as db:
        acknowledged, last, closed = db.execute(
            "SELECT acknowledged, last_checksum, closed FROM checkpoint").fetchone()
    assert (acknowledged, last, closed) == (10, records[-1].checksum, 1)
    assert sorted(p.name for p in log.parent.iterdir()) == ["log.sqlite"]  # reading left nothing


def test_apply_when_it_returns_then_its_outcome_is_already_readable(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite"
    engine = Engine.with_log(CONFIG, path)
    engine.apply_all(EVENTS[:4])
    try:
        _, report = Engine.replay(path)  # a second connection, while the writer is open
    finally:
        engine.close()
    assert report.events == 4
    assert report.truncated is True
    assert report.note == ("the log was not closed (its writer stopped, or is still writing): "
                           "it ends at event 4, and all 4 acknowledged events are in it")


@pytest.mark.parametrize("event", [Deposit("alice", "WETH", WETH), Deposit("alice", "WETH", 0)],
                         ids=["would-accept", "would-reject"])
def test_apply_when_log_cannot_be_written_then_log_error_and_nothing_changes(
    tmp_path: Path, event: Event,
) -> None:
    engine = Engine.with_log(CONFIG, tmp_path / "log.sqlite")
    engine.apply_all(EVENTS[:4])
    before = engine.state_hash()
    engine.close()

    with pytest.raises(LogError, match="cannot append event 5: the log is closed"):
        engine.apply(event)

    assert engine.seq == 4
    assert engine.state_hash() == before
    assert engine.ledger.supply_of("alice", "WETH") == WETH


def test_with_log_when_path_exists_then_log_error_and_file_untouched(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite"
    path.write_bytes(b"precious bytes")

    with pytest.raises(LogError, match="already exists; an event log is never overwritten"):
        Engine.with_log(CONFIG, path)

    assert path.read_bytes() == b"precious bytes"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log.sqlite"]


def test_with_log_when_ack_file_exists_then_log_error_and_nothing_created(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite"
    ack_path(path).write_bytes(b"someone's file")

    with pytest.raises(LogError, match=r"log.sqlite-ack: already exists"):
        Engine.with_log(CONFIG, path)

    assert sorted(p.name for p in tmp_path.iterdir()) == ["log.sqlite-ack"]
    assert ack_path(path).read_bytes() == b"someone's file"


def test_with_log_when_path_is_an_existing_log_then_log_error_and_log_still_replays(
    log: Path,
) -> None:
    with pytest.raises(LogError, match="never overwritten"):
        Engine.with_log(CONFIG, log)

    _, report = Engine.replay(log)
    assert report.events == 10


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"synchronous": "EXTRA"}, r"synchronous: must be FULL, NORMAL or OFF \(got 'EXTRA'\)"),
    ({"checkpoint_every": 0}, r"checkpoint_every: must be a positive integer \(got 0\)"),
    ({"durability": "never"}, r"durability: must be 'event' or 'batch' \(got 'never'\)"),
], ids=["synchronous", "checkpoint_every", "durability"])
def test_event_log_when_option_invalid_then_log_error_and_no_file(
    tmp_path: Path, kwargs: dict[str, Any], message: str,
) -> None:
    path = tmp_path / "log.sqlite"
    with pytest.raises(LogError, match=message):
        EventLog.sqlite(path, {}, **kwargs)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------- durability
def test_batch_durability_when_not_committed_then_nothing_visible_and_commit_writes_all(
    tmp_path: Path,
) -> None:
    path = tmp_path / "log.sqlite"
    engine = Engine.with_log(CONFIG, path, durability="batch")
    engine.apply_all(EVENTS[:6])
    assert engine.log is not None and engine.log.pending == 6
    assert rows(path) == []  # applied in memory, not committed: a crash now loses all six

    engine.commit()

    assert engine.log.pending == 0
    assert [r[0] for r in rows(path)] == [1, 2, 3, 4, 5, 6]
    engine.apply_all(EVENTS[6:])
    engine.close()  # close commits what is held
    _, report = Engine.replay(path)
    assert (report.events, report.truncated) == (10, False)
    assert report.state_hash == hash_after(EVENTS)


def test_batch_block_when_crash_mid_batch_then_replay_reaches_last_whole_batch(
    tmp_path: Path,
) -> None:
    # Per event by default; each block is one commit. The files are copied while the third
    # block is open: what a crash at that moment leaves on disk.
    path = tmp_path / "w" / "log.sqlite"
    engine = Engine.with_log(CONFIG, path)
    with engine.batch():
        engine.apply_all(EVENTS[:3])
    with engine.batch():
        engine.apply_all(EVENTS[3:7])
    with engine.batch():
        engine.apply_all(EVENTS[7:9])
        image = crash_image(path, tmp_path / "crash")
    engine.close()

    replayed, report = Engine.replay(image)

    assert report.events == 7  # the two whole blocks; the third was never committed
    assert report.truncated is True
    assert "it ends at event 7, and all 7 acknowledged events are in it" in report.note
    assert report.state_hash == hash_after(EVENTS[:7]) == replayed.state_hash()
    _, whole = Engine.replay(path)
    assert whole.events == 9


def test_batch_block_when_body_raises_then_applied_events_still_committed(
    tmp_path: Path,
) -> None:
    path = tmp_path / "log.sqlite"
    engine = Engine.with_log(CONFIG, path, durability="batch")
    with pytest.raises(RuntimeError, match="keeper crashed"), engine.batch():
        engine.apply_all(EVENTS[:4])
        raise RuntimeError("keeper crashed")
    assert [r[0] for r in rows(path)] == [1, 2, 3, 4]  # the log matches the engine's state
    engine.close()


def test_checkpoint_when_due_then_main_file_alone_holds_events_and_acknowledged_count(
    tmp_path: Path,
) -> None:
    path = tmp_path / "w" / "log.sqlite"
    engine = Engine.with_log(CONFIG, path, checkpoint_every=4)
    engine.apply_all(EVENTS[:9])  # checkpoints after events 4 and 8
    image = crash_image(path, tmp_path / "crash")
    engine.close()
    wal_path(image).unlink()  # the -wal held event 9 only
    with closing(sqlite3.connect(f"file:{image}?mode=ro&immutable=1", uri=True)) as db:
        assert db.execute("SELECT max(seq) FROM events").fetchone() == (8,)
        assert db.execute("SELECT acknowledged, closed FROM checkpoint").fetchone() == (8, 0)

    with pytest.raises(LogError, match=r"the log ends at event 8 but 9 events were acknowledged "
                                       r"per log.sqlite-ack: events 9..9 are lost \(was the "
                                       r"log.sqlite-wal file deleted, cut or damaged\?\)"):
        Engine.replay(image)

    ack_path(image).unlink()  # and without the ack file nothing proves event 9 existed
    with pytest.raises(LogError, match=r"the log was not closed and its acknowledgement file "
                                       r"log.sqlite-ack is missing: events after event 8 \(the "
                                       r"last checkpoint\) cannot be verified"):
        Engine.replay(image)


def test_replay_when_wal_of_closed_checkpoint_deleted_then_main_file_check_detects_loss(
    tmp_path: Path,
) -> None:
    # The main file's checkpoint record says 8 were acknowledged; cut the main file's events
    # back to 4 (a forger deleting rows and the WAL), the record catches it.
    path = tmp_path / "w" / "log.sqlite"
    engine = Engine.with_log(CONFIG, path, checkpoint_every=4)
    engine.apply_all(EVENTS[:8])
    image = crash_image(path, tmp_path / "crash")
    engine.close()
    ack_path(image).unlink()
    wal_path(image).unlink()
    execute(image, "DELETE FROM events WHERE seq > 4")
    with pytest.raises(LogError, match=r"log.sqlite-ack is missing"):
        Engine.replay(image)


# ---------------------------------------------------------------------------- replay
def test_replay_when_log_whole_then_same_state_and_event_count(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite"
    engine, _ = write_log(path)

    replayed, report = Engine.replay(path)

    assert report.events == 10
    assert not report.truncated
    assert report.note == ""
    assert report.format_version == "2"
    assert report.state_hash == engine.state_hash() == replayed.state_hash()
    assert replayed.seq == 10
    assert replayed.ledger.time == 86_400
    assert replayed.ledger.supply_of("alice", "WETH") == WETH
    assert replayed.ledger.debt_of("alice", "USDC") == engine.ledger.debt_of("alice", "USDC")


def test_replay_when_unacknowledged_last_row_torn_then_ignored_and_truncated(
    tmp_path: Path,
) -> None:
    # A crash between the commit of event 10 and its acknowledgement: the ack file says 9.
    # Event 10 was never acknowledged, so a torn event 10 is a torn tail, not a loss.
    path = tmp_path / "w" / "log.sqlite"
    engine = Engine.with_log(CONFIG, path)
    engine.apply_all(EVENTS[:9])
    ack_before = ack_path(path).read_bytes()
    engine.apply(EVENTS[9])
    image = crash_image(path, tmp_path / "crash")
    engine.close()
    ack_path(image).write_bytes(ack_before)
    payload = payload_of(image, 10)
    set_payload(image, 10, payload[: len(payload) // 2])

    replayed, report = Engine.replay(image)

    assert report.events == 9
    assert report.truncated is True
    assert report.note.endswith(
        "all 9 acknowledged events are in it; the last write (event 10, never acknowledged) "
        "was cut off: its payload is not whole JSON; ignored")
    assert report.state_hash == hash_after(EVENTS[:9]) == replayed.state_hash()


def test_replay_when_last_row_of_closed_log_damaged_then_log_error_not_truncated(
    log: Path,
) -> None:
    # Regression: this was reported as a torn tail (exit 0), losing an acknowledged event.
    payload = payload_of(log, 10)
    set_payload(log, 10, payload[: len(payload) // 2])

    with pytest.raises(LogError, match=r"event 10 is damaged: its payload is not whole JSON"):
        Engine.replay(log)


def test_replay_when_middle_row_corrupt_then_log_error_naming_it(log: Path) -> None:
    payload = payload_of(log, 5)
    set_payload(log, 5, payload.replace("must be positive", "must be pos1tive"))

    with pytest.raises(LogError, match=r"event 5 is damaged: its checksum does not match its "
                                       r"columns and its predecessor's checksum"):
        Engine.replay(log)


def test_replay_when_middle_payload_invalid_utf8_then_log_error_naming_it(log: Path) -> None:
    # Regression: sqlite3's decode error mid-file was reported as a cut-off tail (exit 0).
    payload = payload_of(log, 5).encode()
    set_payload(log, 5, payload[:40] + b"\xff" + payload[41:])

    with pytest.raises(LogError, match=r"event 5 is damaged: its payload is not valid UTF-8 "
                                       r"\(byte 40\)"):
        Engine.replay(log)


def test_replay_when_middle_row_missing_then_log_error(log: Path) -> None:
    execute(log, "DELETE FROM events WHERE seq = 5")

    with pytest.raises(LogError, match=r"event 5 is missing \(the next row is event 6\)"):
        Engine.replay(log)


def test_replay_when_last_row_missing_then_log_error_acknowledged(log: Path) -> None:
    execute(log, "DELETE FROM events WHERE seq = 10")

    with pytest.raises(LogError, match=r"the log ends at event 9 but 10 events were "
                                       r"acknowledged at the last checkpoint"):
        Engine.replay(log)


def test_replay_when_rows_reordered_then_chain_breaks_at_first(log: Path) -> None:
    # Swap events 4 and 6 whole (seq inside the payload included): each row is internally
    # consistent, only the chain knows the order.
    four, six = (next(r for r in rows(log) if r[0] == n) for n in (4, 6))
    for target, (_, outcome, accepted, payload, check) in ((4, six), (6, four)):
        record = json.loads(payload)
        record["seq"] = target
        execute(log, "UPDATE events SET outcome = ?, accepted = ?, payload = ?, checksum = ? "
                "WHERE seq = ?", outcome, accepted, encode(record), check, target)

    with pytest.raises(LogError, match=r"event 4 is damaged: its checksum does not match"):
        Engine.replay(log)


@pytest.mark.parametrize(("sql", "column"), [
    ("UPDATE events SET outcome = 'BorrowAccepted' WHERE seq = 7", "outcome"),
    ("UPDATE events SET accepted = 1 WHERE seq = 7", "accepted"),
], ids=["outcome", "accepted"])
def test_replay_when_outcome_or_accepted_column_edited_then_log_error(
    log: Path, sql: str, column: str,
) -> None:
    # Regression: neither column was checked before.
    execute(log, sql)

    with pytest.raises(LogError, match=r"event 7 is damaged: its checksum does not match"):
        Engine.replay(log)


def test_replay_when_accepted_column_forged_with_chain_then_column_check_catches_it(
    log: Path,
) -> None:
    def edit(seq: int, outcome: str, accepted: int,
             record: dict[str, Any]) -> tuple[str, int, dict[str, Any]]:
        return (outcome, 1, record) if seq == 7 else (outcome, accepted, record)
    forge(log, edit)

    with pytest.raises(LogError, match=r"event 7 is damaged: its accepted column 1 differs from "
                                       r"its payload's"):
        Engine.replay(log)


def test_replay_when_forged_row_appended_after_close_then_log_error(log: Path) -> None:
    record = json.loads(payload_of(log, 10))
    record["seq"] = 11
    last = rows(log)[-1][4]
    execute(log, "INSERT INTO events VALUES (11, ?, 0, ?, ?)", record["outcome"], encode(record),
            event_digest(last, 11, record["outcome"].encode(), 0, encode(record).encode()))

    with pytest.raises(LogError, match=r"event 11 follows the close record \(the log was closed "
                                       r"after event 10\)"):
        Engine.replay(log)


def test_replay_when_accepted_details_forged_then_diverged(log: Path) -> None:
    record = json.loads(payload_of(log, 4))
    assert record["details"] == {"scaled": WETH}
    forge(log, edit_record(4, lambda r: r["details"].update(scaled=WETH - 1)))

    with pytest.raises(LogError, match=r"replay diverged at event 4: logged DepositAccepted, "
                                       r"replayed DepositAccepted \(details differ\)"):
        Engine.replay(log)


def test_replay_when_details_forged_but_not_verified_then_replays(log: Path) -> None:
    forge(log, edit_record(4, lambda r: r["details"].update(scaled=WETH - 1)))

    _, report = Engine.replay(log, verify=False)

    assert report.events == 10
    assert report.state_hash == hash_after(EVENTS)


def test_replay_when_event_amount_forged_then_diverged(log: Path) -> None:
    # 2 WETH instead of 1: the replayed deposit mints 2e18 scaled, the log says 1e18.
    forge(log, edit_record(4, lambda r: r["event"].update(amount=2 * WETH)))

    with pytest.raises(LogError, match="replay diverged at event 4"):
        Engine.replay(log)


def test_replay_when_rejected_row_forged_as_accepted_then_diverged(log: Path) -> None:
    def edit(seq: int, outcome: str, accepted: int,
             record: dict[str, Any]) -> tuple[str, int, dict[str, Any]]:
        if seq == 7:
            record.update(accepted=True, outcome="BorrowAccepted", reason=None)
            return "BorrowAccepted", 1, record
        return outcome, accepted, record
    forge(log, edit)

    with pytest.raises(LogError, match=r"replay diverged at event 7: logged BorrowAccepted, "
                                       r"replayed BorrowRejected \(accepted, "):
        Engine.replay(log)


def test_replay_when_event_unknown_type_then_log_error(log: Path) -> None:
    forge(log, edit_record(8, lambda r: r.update(event={"type": "Teleport", "seconds": 1})))

    with pytest.raises(LogError,
                       match=r"event 8 is malformed: type: unknown event type 'Teleport'"):
        Engine.replay(log)


def test_replay_when_events_table_dropped_then_log_error(log: Path) -> None:
    # Regression: a dropped table was reported as a cut-off tail with exit 0.
    execute(log, "DROP TABLE events")

    with pytest.raises(LogError, match=r"the events table cannot be read \(no such table: "
                                       r"events\)"):
        Engine.replay(log)


def test_replay_when_page_malformed_mid_file_then_log_error_naming_next_event(
    tmp_path: Path,
) -> None:
    # Regression: sqlite's DatabaseError mid-file was reported as a cut-off tail (exit 0).
    path = tmp_path / "log.sqlite"
    events: list[Event] = [*EVENTS[:4]]
    for i in range(60):
        events += [Deposit("alice", "WETH", WETH + i), AdvanceTime(3_600)]
    write_log(path, events)
    whole = path.read_bytes()
    messages = []
    for page in range(2, len(whole) // 4096):
        broken = bytearray(whole)
        broken[page * 4096] = 0x07  # not a b-tree page type
        target = tmp_path / f"page{page}.sqlite"
        target.write_bytes(bytes(broken))
        try:
            _, report = Engine.replay(target)
        except LogError as exc:
            messages.append(str(exc))
            continue
        # A page the events do not use (the meta's index, a free page): nothing lost.
        assert (report.events, report.truncated) == (len(events), False)
    assert len(messages) >= len(whole) // 4096 - 4
    assert any(" cannot be read: the file is damaged (database disk image is malformed)" in m
               for m in messages)


# ---------------------------------------------------------------------------- meta, format
def test_replay_when_text_file_then_log_error_not_readable(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("this is not a database\n" * 200)

    with pytest.raises(LogError, match=r"notes.txt: not a readable event log \(file is not a "
                                       r"database\)"):
        Engine.replay(path)


def test_replay_when_sqlite_without_meta_then_log_error_not_readable(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    with closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE t (a)")
        db.commit()

    with pytest.raises(LogError, match=r"not a readable event log \(no such table: meta\)"):
        Engine.replay(path)


def test_replay_when_meta_dropped_then_log_error_not_readable(log: Path) -> None:
    execute(log, "DROP TABLE meta")

    with pytest.raises(LogError, match=r"not a readable event log \(no such table: meta\)"):
        Engine.replay(log)


def test_replay_when_path_missing_then_log_error_no_such_log(tmp_path: Path) -> None:
    with pytest.raises(LogError, match="no such event log"):
        Engine.replay(tmp_path / "missing.sqlite")


def test_replay_when_path_is_a_folder_without_a_log_then_log_error_says_folder(
        tmp_path: Path) -> None:
    with pytest.raises(LogError) as exc:
        Engine.replay(tmp_path)
    assert str(exc.value) == f"{tmp_path}: a folder, not an event log"


def test_replay_when_path_is_a_run_folder_then_error_names_its_log(log: Path) -> None:
    # `marginengine replay runs/quickstart` (the run, not its log) was "no such event
    # log", with the log one name away.
    folder = log.parent
    with pytest.raises(LogError) as exc:
        Engine.replay(folder)
    assert str(exc.value) == (f"{folder}: a folder, not an event log (did you mean "
                              f"{folder / log.name}?)")


def test_replay_when_path_has_serves_sqlite_prefix_then_error_names_the_path(
        log: Path) -> None:
    # serve's --log takes sqlite:PATH; the log it writes is read back by its PATH.
    with pytest.raises(LogError) as exc:
        Engine.replay(f"sqlite:{log}")
    assert str(exc.value) == (f"sqlite:{log}: no such event log (a log is read by its "
                              f"path, without serve's sqlite: prefix: {log})")


def test_replay_when_format_version_unknown_then_log_error_naming_it(log: Path) -> None:
    execute(log, "UPDATE meta SET value = '3' WHERE key = 'format_version'")

    with pytest.raises(LogError, match=r"unsupported log format '3' \(this version reads formats "
                                       r"1, 2\)"):
        Engine.replay(log)


@pytest.mark.parametrize("sql", [
    "DELETE FROM meta WHERE key = 'protocol'",
    "UPDATE meta SET value = '{not json' WHERE key = 'protocol'",
    "DELETE FROM meta WHERE key = 'meta_checksum'",
], ids=["protocol-missing", "protocol-edited", "checksum-missing"])
def test_replay_when_meta_edited_then_log_error_meta_damaged(log: Path, sql: str) -> None:
    execute(log, sql)

    with pytest.raises(LogError, match=r"meta is damaged"):
        Engine.replay(log)


def test_replay_when_format_version_missing_then_log_error(log: Path) -> None:
    execute(log, "DELETE FROM meta WHERE key = 'format_version'")

    with pytest.raises(LogError, match=r"meta is damaged or missing: no format_version"):
        Engine.replay(log)


def test_replay_when_checkpoint_record_edited_then_log_error(log: Path) -> None:
    execute(log, "UPDATE checkpoint SET acknowledged = 9")

    with pytest.raises(LogError, match=r"the checkpoint record is damaged"):
        Engine.replay(log)


@pytest.mark.parametrize("value", ["{not json", '{"preset": "nope"}'], ids=["json", "config"])
def test_replay_when_protocol_unreadable_then_log_error(tmp_path: Path, value: str) -> None:
    # A consistent log whose protocol cannot be read (not damage: a log of something else).
    path = tmp_path / "log.sqlite"
    SQLiteStore.create(path, {"protocol": value}).close()

    with pytest.raises(LogError, match="the log has no readable protocol"):
        Engine.replay(path)


def test_replay_when_format_1_log_then_replays_with_same_state(tmp_path: Path) -> None:
    # tests/persistence/data/format1.sqlite: EVENTS written by the format-1 writer (commit
    # a24a588). Copied first: reading a WAL-mode file read-only may create -wal/-shm files.
    path = tmp_path / "format1.sqlite"
    shutil.copy(DATA / "format1.sqlite", path)

    replayed, report = Engine.replay(path)

    assert (report.events, report.truncated, report.format_version) == (10, False, "1")
    assert report.state_hash == hash_after(EVENTS) == replayed.state_hash()


def test_replay_when_format_1_log_damaged_mid_file_then_log_error(tmp_path: Path) -> None:
    path = tmp_path / "format1.sqlite"
    shutil.copy(DATA / "format1.sqlite", path)
    set_payload(path, 5, payload_of(path, 5)[:30])

    with pytest.raises(LogError, match=r"event 5 is damaged: its payload does not match its "
                                       r"checksum"):
        Engine.replay(path)


def test_replay_when_format_1_last_row_torn_then_truncated(tmp_path: Path) -> None:
    # Format 1 records no acknowledged count: a bad last row can only be taken as torn.
    path = tmp_path / "format1.sqlite"
    shutil.copy(DATA / "format1.sqlite", path)
    set_payload(path, 10, payload_of(path, 10)[:30])

    _, report = Engine.replay(path)

    assert (report.events, report.truncated) == (9, True)
    assert report.note == ("the last event (10) was cut off: its payload does not match its "
                           "checksum; ignored")


# ---------------------------------------------------------------------------- cut files
def test_replay_when_file_bytes_truncated_then_whole_or_log_error(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite"
    events: list[Event] = [*EVENTS[:4]]
    for i in range(60):  # enough rows to fill several pages
        events += [Deposit("alice", "WETH", WETH + i), AdvanceTime(3_600)]
    write_log(path, events)
    whole = path.read_bytes()
    assert len(whole) >= 4 * 4096
    full_hash = hash_after(events)

    cuts = sorted({*range(0, len(whole), 1_000), *range(0, len(whole), 4_096),
                   len(whole) - 1, len(whole) - 100})
    errors = 0
    for cut in cuts:
        cut_path = tmp_path / f"cut-{cut}.sqlite"
        cut_path.write_bytes(whole[:cut])
        try:
            _, report = Engine.replay(cut_path)
        except LogError as exc:
            assert str(exc).startswith(str(cut_path))
            errors += 1
            continue
        # A closed log cut short is never a shorter history: all of it, or an error.
        assert report.events == len(events)
        assert report.state_hash == full_hash
        assert not report.truncated
    assert errors == len(cuts)  # every cut of this file lands in used pages

    _, report = Engine.replay(path)  # the original is intact
    assert report.events == len(events)
    assert report.state_hash == full_hash


def test_checkpoint_by_default_when_wal_reaches_1000_pages_then_count_in_main_file(
    tmp_path: Path,
) -> None:
    # One event per commit writes one 4 KiB page frame, so the -wal file reaches SQLite's
    # 1,000-page threshold before event 1,000: the checkpoint then copies the events and
    # the acknowledged count into the main file. (synchronous=OFF: the test does not need
    # the disk's flushes, only the file layout.)
    path = tmp_path / "w" / "log.sqlite"
    engine = Engine.with_log(CONFIG, path, synchronous="OFF")
    engine.apply_all([SetPrice("WETH", (2_000 + i % 7) * USD) for i in range(1_100)])
    image = crash_image(path, tmp_path / "crash")
    engine.close()
    wal_path(image).unlink()
    ack_path(image).unlink()
    with closing(sqlite3.connect(f"file:{image}?mode=ro&immutable=1", uri=True)) as db:
        acknowledged, closed = db.execute("SELECT acknowledged, closed FROM checkpoint").fetchone()
        (last,) = db.execute("SELECT max(seq) FROM events").fetchone()
    assert 800 <= acknowledged == last <= 1_000  # 869 here: page splits add frames
    assert closed == 0
