"""The PostgreSQL log store against a real server (tests/pgserver.py starts one)."""

from __future__ import annotations

import json

import pytest

from marginengine.engine import Borrow, Deposit, Engine, SetPrice
from marginengine.errors import LogError
from marginengine.persistence import EventLog, Follower, PostgresStore, open_log
from tests.conftest import ETH, USD, USDC, simple_aave


def _meta() -> dict[str, str]:
    config = simple_aave()
    return {"protocol": json.dumps(config.model_dump(mode="json"), sort_keys=True)}


def _stream() -> list[object]:
    return [SetPrice("WETH", 2000 * USD), SetPrice("USDC", USD), SetPrice("DAI", USD),
            Deposit("lp", "USDC", 1_000_000 * USDC), Deposit("alice", "WETH", 10 * ETH),
            Borrow("alice", "USDC", 12_000 * USDC),
            Borrow("alice", "USDC", 10**12),  # refused: beyond the borrowing power
            SetPrice("WETH", 1400 * USD)]


def _run(url: str, durability: str = "batch") -> Engine:
    engine = Engine(simple_aave(), EventLog(PostgresStore.create(url, _meta()), durability))
    with engine.batch():
        for event in _stream()[:4]:
            engine.apply(event)  # type: ignore[arg-type]
    for event in _stream()[4:]:
        with engine.batch():
            engine.apply(event)  # type: ignore[arg-type]
    return engine


def test_replay_of_postgres_log_when_closed_then_same_state_hash(pg_url: str) -> None:
    engine = _run(pg_url)
    expected = engine.state_hash()
    engine.close()
    replayed, report = Engine.replay(pg_url)
    assert report.events == 8
    assert not report.truncated
    assert report.state_hash == expected == replayed.state_hash()
    # The refused borrow is in the log, as a refusal.
    store = open_log(pg_url)
    rows = list(store.read())
    store.close()
    assert [r.accepted for r in rows] == [True] * 6 + [False, True]


def test_replay_when_writer_did_not_close_then_truncated_but_whole(pg_url: str) -> None:
    engine = _run(pg_url, durability="event")
    expected = engine.state_hash()
    # No close: the writer "crashed"; every committed batch is there.
    _, report = Engine.replay(pg_url)
    assert report.truncated and "not closed" in report.note
    assert report.events == 8 and report.state_hash == expected
    engine.close()


def test_resume_after_writer_stopped_then_chain_goes_on(pg_url: str) -> None:
    engine = _run(pg_url)
    engine.log.store._conn.close()  # type: ignore[union-attr]  # a dead writer
    store, records = PostgresStore.resume(pg_url)
    assert len(records) == 8 and store.count == 8
    again = Engine(simple_aave())
    from marginengine.engine import event_from_dict
    for r in records:
        again.apply(event_from_dict(r.record["event"]))
    again.log = EventLog(store, "batch")
    with again.batch():
        assert again.apply(Deposit("bob", "WETH", ETH)).accepted
    expected = again.state_hash()
    again.close()
    _, report = Engine.replay(pg_url)
    assert report.events == 9 and report.state_hash == expected and not report.truncated


def test_create_when_log_exists_then_refused(pg_url: str) -> None:
    _run(pg_url).close()
    with pytest.raises(LogError, match="never overwritten"):
        PostgresStore.create(pg_url, _meta())


def test_second_writer_when_first_alive_then_refused(pg_url: str) -> None:
    engine = _run(pg_url)
    with pytest.raises(LogError, match="another writer"):
        PostgresStore.resume(pg_url)
    engine.close()


def test_edited_row_when_read_then_damage_named(pg_url: str) -> None:
    import psycopg

    _run(pg_url).close()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE marginengine_events SET payload = replace(payload, "
                     "'12000000000', '13000000000') WHERE seq = 6")
    with pytest.raises(LogError, match="event 6 is damaged"):
        Engine.replay(pg_url)


def test_deleted_tail_when_read_then_lost_events_named(pg_url: str) -> None:
    import psycopg

    _run(pg_url).close()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DELETE FROM marginengine_events WHERE seq = 8")
    with pytest.raises(LogError, match="ends at event 7 but the checkpoint record "
                                       "acknowledges 8"):
        Engine.replay(pg_url)


def test_follower_when_batch_committed_then_notified_and_reads_it(pg_url: str) -> None:
    store = PostgresStore.create(pg_url, _meta())
    engine = Engine(simple_aave(), EventLog(store, "batch"))
    follower = Follower(pg_url)
    assert follower.poll(timeout=0.05) == []
    with engine.batch():
        engine.apply(SetPrice("WETH", 2000 * USD))
        engine.apply(SetPrice("USDC", USD))
    got = follower.poll(timeout=5)
    assert [r.seq for r in got] == [1, 2]
    assert got[1].record["event"] == {"type": "SetPrice", "asset": "USDC", "price": USD,
                                      "status": "fresh", "reason": ""}
    follower.close()
    engine.close()


@pytest.mark.parametrize("host", ["a" * 70, "a..b"])
def test_connect_when_host_not_a_dns_name_then_log_error(host: str) -> None:
    # Fuzzed: the resolver's UnicodeError (idna: "label too long") was an internal error.
    with pytest.raises(LogError) as info:
        PostgresStore.open(f"postgresql://u:secret@{host}/db")
    assert str(info.value) == (f"postgresql://u:***@{host}/db: cannot connect to PostgreSQL "
                               "(the host name is not a valid DNS name: a label longer than "
                               "63 characters, or empty)")


def test_connect_when_no_server_then_one_line_error() -> None:
    with pytest.raises(LogError, match="cannot connect to PostgreSQL"):
        PostgresStore.open("postgresql://nobody:secret@127.0.0.1:1/none")
    try:
        PostgresStore.open("postgresql://nobody:secret@127.0.0.1:1/none")
    except LogError as exc:
        assert "secret" not in str(exc)
