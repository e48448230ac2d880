"""Worked tests of the SQLite event log (``marginengine.engine.eventlog``) and ``Engine.replay``.

One small aave-v3 stream is logged: ten events, seven accepted and three rejected, with
worked figures (1 WETH at 2,000 USD against a 1,000 USDC borrow: health factor
2,000 x 0.83 / 1,000 = 1.66). The log is then read back, tampered with through sqlite3,
torn, truncated and misplaced to check what replay makes of it.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

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
from marginengine.persistence import FORMAT_VERSION, EventLog, SQLiteStore, encode
from marginengine.errors import LogError

CONFIG = protocol_from_dict({"preset": "aave-v3", "markets": {"WETH": {}, "USDC": {}, "DAI": {}}})
WETH = 10**18
USDC = 10**6
USD = 10**8

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


def write_log(path: Path, events: list[Event] = EVENTS) -> tuple[Engine, list[Outcome]]:
    engine = Engine.with_log(CONFIG, path)
    outcomes = engine.apply_all(events)
    engine.close()
    return engine, outcomes


def hash_after(events: list[Event]) -> str:
    engine = Engine(CONFIG)
    engine.apply_all(events)
    return engine.state_hash()


def rows(path: Path) -> list[tuple[int, str, int, str, str]]:
    with closing(sqlite3.connect(path)) as db:
        return db.execute(
            "SELECT seq, outcome, accepted, payload, checksum FROM events ORDER BY seq"
        ).fetchall()


def set_payload(path: Path, seq: int, payload: str, fix_checksum: bool) -> None:
    with closing(sqlite3.connect(path)) as db:
        if fix_checksum:
            db.execute("UPDATE events SET payload = ?, checksum = ? WHERE seq = ?",
                       (payload, checksum(payload), seq))
        else:
            db.execute("UPDATE events SET payload = ? WHERE seq = ?", (payload, seq))
        db.commit()


def payload_of(path: Path, seq: int) -> str:
    return next(r[3] for r in rows(path) if r[0] == seq)


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "log.sqlite"
    write_log(path)
    return path


# ---------------------------------------------------------------------------- writing
def test_apply_when_logged_then_every_accepted_and_rejected_event_is_a_row(tmp_path: Path) -> None:
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
    for (seq, _, _, payload, check), outcome in zip(logged, outcomes, strict=True):
        assert payload == encode(outcome.to_dict())
        assert check == checksum(payload)
        assert json.loads(payload)["seq"] == seq
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


def test_log_when_created_then_meta_holds_format_and_protocol(log: Path) -> None:
    reader = LogReader(log)
    try:
        assert reader.meta["format_version"] == FORMAT_VERSION == "1"
        assert json.loads(reader.meta["protocol"]) == CONFIG.model_dump(mode="json")
        records = list(reader)
    finally:
        reader.close()
    assert [r.seq for r in records] == list(range(1, 11))
    assert [r.accepted for r in records] == ACCEPTED
    assert records[3].record["details"] == {"scaled": 1 * WETH}
    assert not reader.truncated
    assert reader.note == ""


def test_apply_when_it_returns_then_its_outcome_is_already_readable(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite"
    engine = Engine.with_log(CONFIG, path)
    engine.apply_all(EVENTS[:4])
    reader = LogReader(path)  # a second connection, while the writer is still open
    try:
        seen = [(r.seq, r.outcome) for r in reader]
    finally:
        reader.close()
        engine.close()
    assert seen == [(1, "SetPriceAccepted"), (2, "SetPriceAccepted"),
                    (3, "DepositAccepted"), (4, "DepositAccepted")]


@pytest.mark.parametrize("event", [Deposit("alice", "WETH", WETH), Deposit("alice", "WETH", 0)],
                         ids=["would-accept", "would-reject"])
def test_apply_when_log_cannot_be_written_then_log_error_and_nothing_changes(
    tmp_path: Path, event: Event,
) -> None:
    engine = Engine.with_log(CONFIG, tmp_path / "log.sqlite")
    engine.apply_all(EVENTS[:4])
    before = engine.state_hash()
    engine.close()

    with pytest.raises(LogError, match="cannot append event 5"):
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


def test_with_log_when_path_is_an_existing_log_then_log_error_and_log_still_replays(
    log: Path,
) -> None:
    with pytest.raises(LogError, match="never overwritten"):
        Engine.with_log(CONFIG, log)

    _, report = Engine.replay(log)
    assert report.events == 10


def test_event_log_when_synchronous_unknown_then_log_error_and_no_file(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite"
    with pytest.raises(LogError, match=r"synchronous: must be FULL, NORMAL or OFF \(got 'EXTRA'\)"):
        EventLog(path, {}, synchronous="EXTRA")
    assert not path.exists()


# ---------------------------------------------------------------------------- replay
def test_replay_when_log_whole_then_same_state_and_event_count(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite"
    engine, _ = write_log(path)

    replayed, report = Engine.replay(path)

    assert report.events == 10
    assert not report.truncated
    assert report.note == ""
    assert report.state_hash == engine.state_hash() == replayed.state_hash()
    assert replayed.seq == 10
    assert replayed.ledger.time == 86_400
    assert replayed.ledger.supply_of("alice", "WETH") == WETH
    assert replayed.ledger.debt_of("alice", "USDC") == engine.ledger.debt_of("alice", "USDC")


def test_replay_when_last_row_torn_then_whole_events_replayed_and_truncated(log: Path) -> None:
    payload = payload_of(log, 10)
    set_payload(log, 10, payload[: len(payload) // 2], fix_checksum=False)

    replayed, report = Engine.replay(log)

    assert report.events == 9
    assert report.truncated is True
    assert report.note == (
        "the last event (10) was cut off: its payload does not match its checksum; ignored"
    )
    assert report.state_hash == hash_after(EVENTS[:9]) == replayed.state_hash()


def test_replay_when_last_row_torn_with_matching_checksum_then_truncated(log: Path) -> None:
    # A torn write whose checksum happens to match: half a JSON document.
    payload = payload_of(log, 10)
    set_payload(log, 10, payload[: len(payload) // 2], fix_checksum=True)

    _, report = Engine.replay(log)

    assert report.events == 9
    assert report.truncated is True
    assert "its payload is not whole JSON" in report.note


def test_replay_when_only_row_torn_then_no_events_and_truncated(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite"
    write_log(path, EVENTS[:1])
    set_payload(path, 1, payload_of(path, 1)[:20], fix_checksum=False)

    replayed, report = Engine.replay(path)

    assert report.events == 0
    assert report.truncated is True
    assert replayed.prices.as_dict() == {}


def test_replay_when_middle_row_corrupt_then_log_error(log: Path) -> None:
    payload = payload_of(log, 5)
    set_payload(log, 5, payload[: len(payload) // 2], fix_checksum=False)

    with pytest.raises(LogError, match=r"corrupt event 5: its payload does not match its checksum"):
        Engine.replay(log)


def test_replay_when_middle_row_missing_then_log_error(log: Path) -> None:
    with closing(sqlite3.connect(log)) as db:
        db.execute("DELETE FROM events WHERE seq = 5")
        db.commit()

    with pytest.raises(LogError, match=r"event 5 is missing \(found 6\)"):
        Engine.replay(log)


def test_replay_when_accepted_details_tampered_then_diverged(log: Path) -> None:
    record = json.loads(payload_of(log, 4))
    assert record["details"] == {"scaled": WETH}
    record["details"]["scaled"] = WETH - 1
    set_payload(log, 4, encode(record), fix_checksum=True)

    with pytest.raises(LogError, match=r"replay diverged at event 4: logged DepositAccepted, "
                                       r"replayed DepositAccepted"):
        Engine.replay(log)


def test_replay_when_details_tampered_but_not_verified_then_replays(log: Path) -> None:
    record = json.loads(payload_of(log, 4))
    record["details"]["scaled"] = WETH - 1
    set_payload(log, 4, encode(record), fix_checksum=True)

    _, report = Engine.replay(log, verify=False)

    assert report.events == 10
    assert report.state_hash == hash_after(EVENTS)


def test_replay_when_event_amount_tampered_then_diverged(log: Path) -> None:
    # 2 WETH instead of 1: the replayed deposit mints 2e18 scaled, the log says 1e18.
    record = json.loads(payload_of(log, 4))
    record["event"]["amount"] = 2 * WETH
    set_payload(log, 4, encode(record), fix_checksum=True)

    with pytest.raises(LogError, match="replay diverged at event 4"):
        Engine.replay(log)


def test_replay_when_rejected_row_claims_acceptance_then_diverged(log: Path) -> None:
    record = json.loads(payload_of(log, 7))
    with closing(sqlite3.connect(log)) as db:
        db.execute("UPDATE events SET accepted = 1, outcome = 'BorrowAccepted' WHERE seq = 7")
        db.commit()
    assert record["accepted"] is False

    with pytest.raises(LogError, match=r"replay diverged at event 7: logged BorrowAccepted, "
                                       r"replayed BorrowRejected"):
        Engine.replay(log)


def test_replay_when_event_unknown_type_then_log_error(log: Path) -> None:
    record = json.loads(payload_of(log, 8))
    record["event"] = {"type": "Teleport", "seconds": 1}
    set_payload(log, 8, encode(record), fix_checksum=True)

    with pytest.raises(LogError,
                       match=r"event 8 is malformed: type: unknown event type 'Teleport'"):
        Engine.replay(log)


# ---------------------------------------------------------------------------- not a log
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


@pytest.mark.parametrize("name", ["missing.sqlite", "."], ids=["missing", "directory"])
def test_replay_when_path_not_a_file_then_log_error_no_such_log(tmp_path: Path, name: str) -> None:
    with pytest.raises(LogError, match="no such event log"):
        Engine.replay(tmp_path / name)


def test_replay_when_format_version_unknown_then_log_error(log: Path) -> None:
    with closing(sqlite3.connect(log)) as db:
        db.execute("UPDATE meta SET value = '2' WHERE key = 'format_version'")
        db.commit()

    with pytest.raises(LogError, match="unsupported log format '2'"):
        Engine.replay(log)


def test_replay_when_protocol_missing_then_log_error(log: Path) -> None:
    with closing(sqlite3.connect(log)) as db:
        db.execute("DELETE FROM meta WHERE key = 'protocol'")
        db.commit()

    with pytest.raises(LogError, match="the log has no readable protocol"):
        Engine.replay(log)


@pytest.mark.parametrize("value", ["{not json", '{"preset": "nope"}'], ids=["json", "config"])
def test_replay_when_protocol_invalid_then_log_error(log: Path, value: str) -> None:
    with closing(sqlite3.connect(log)) as db:
        db.execute("UPDATE meta SET value = ? WHERE key = 'protocol'", (value,))
        db.commit()

    with pytest.raises(LogError, match="the log has no readable protocol"):
        Engine.replay(log)


# ---------------------------------------------------------------------------- cut files
def test_replay_when_file_bytes_truncated_then_truncated_report_or_log_error(
    tmp_path: Path,
) -> None:
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
        # Never a silent loss: fewer events only with the truncated flag and a note.
        assert report.events <= len(events)
        if report.events < len(events):
            assert report.truncated and report.note
        else:  # the cut fell in unused page space: then every event is there
            assert report.state_hash == full_hash
    assert errors > 0

    _, report = Engine.replay(path)  # the original is intact
    assert report.events == len(events)
    assert report.state_hash == full_hash
