"""The log's records on the fast path: the prebuilt JSON encoder, the chain digest in one
bytes format, ``Outcome.to_json`` and the per-batch log encoding its held outcomes at the
commit. Each gives exactly the bytes of the plain definitions (docs/formats.md), so logs
written before and after read the same."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from marginengine.config import protocol_from_dict
from marginengine.engine import (
    Borrow,
    Deposit,
    DepositQuote,
    Engine,
    Liquidate,
    LiquidatePerp,
    Outcome,
    SetConditions,
    SetPrice,
    SetSequencer,
    Trade,
    Withdraw,
)
from marginengine.errors import LogError
from marginengine.persistence import EventLog, SQLiteStore, encode, event_digest

USD = 10**8
ETH = 10**18
USDC = 10**6
PLAIN = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True, check_circular=False)


@pytest.mark.parametrize("record", [
    {"seq": 1, "amount": 5 * 10**25, "neg": -(10**40), "ok": True, "no": None},
    {"reason": "account: unknown account 'bob\"\\'\n\t\u00e9\u4e2d\U0001f600"},
    {"nested": {"adl": [{"account": "a", "size": -100 * ETH}], "empty": {}, "list": []}},
    {"ratio": 0.1, "big": 1e308, "tiny": 5e-324, "zero": 0.0},
    {},
])
def test_encode_when_any_record_then_same_bytes_as_plain_json_encoder(
        record: dict[str, Any]) -> None:
    assert encode(record) == PLAIN.encode(record)


def test_encode_when_value_not_json_then_type_error_naming_its_type() -> None:
    with pytest.raises(TypeError, match="Object of type bytes is not JSON serializable"):
        encode({"x": b"raw"})


def test_event_digest_when_computed_then_the_documented_formula() -> None:
    # docs/formats.md: SHA-256 of prev:seq:len(outcome):outcome:accepted:len(payload):payload.
    prev = "ab" * 32
    outcome, payload = b"BorrowAccepted", b'{"seq":7}'
    expected = hashlib.sha256(
        f"{prev}:7:{len(outcome)}:".encode() + outcome + f":1:{len(payload)}:".encode()
        + payload).hexdigest()
    assert event_digest(prev, 7, outcome, 1, payload) == expected
    assert expected == hashlib.sha256(
        b"abababababababababababababababababababababababababababababababab"
        b':7:14:BorrowAccepted:1:9:{"seq":7}').hexdigest()


def _outcomes() -> list[Outcome]:
    """Outcomes of every kind: accepted with and without details, refused with data,
    liquidations, perp trades and liquidations, conditions with unset fields, booleans."""
    config = protocol_from_dict({
        "preset": "aave-v3", "markets": {"USDC": {}, "WETH": {}},
        "perps": {"ETH-PERP": {"preset": "dydx-v4", "base_decimals": 18}},
    })
    engine = Engine(config)
    events = [
        SetPrice("USDC", USD), SetPrice("WETH", 2_000 * USD), SetPrice("ETH-PERP", 2_000 * USD),
        Deposit("lp", "USDC", 1_000_000 * USDC), Deposit("alice", "WETH", ETH),
        Borrow("alice", "USDC", 1_500 * USDC), Borrow("alice", "USDC", 10**12),
        Withdraw("alice", "WETH", 0), SetConditions("WETH", volatility_ppm=650_000),
        SetSequencer(True), SetPrice("WETH", 1_700 * USD),
        Liquidate("keeper", "alice", "USDC", "WETH", 500 * USDC, False),
        DepositQuote("long", 20_000 * USDC), DepositQuote("short", 1_000_000 * USDC),
        DepositQuote("keeper", 5_000_000 * USDC),
        Trade("long", "short", "ETH-PERP", 100 * ETH, 2_000 * USD),
        SetPrice("ETH-PERP", 1_600 * USD), LiquidatePerp("keeper", "long", "ETH-PERP"),
        LiquidatePerp("keeper", "short", "ETH-PERP"),
    ]
    return engine.apply_all(events)


def test_outcome_to_json_when_any_outcome_then_bytes_of_encode_to_dict() -> None:
    outcomes = _outcomes()
    kinds = {o.name for o in outcomes}
    assert {"LiquidationExecuted", "PerpLiquidationExecuted", "BorrowRejected",
            "SetConditionsAccepted", "SetSequencerAccepted"} <= kinds
    assert any(o.details for o in outcomes) and any(not o.accepted for o in outcomes)
    for outcome in outcomes:
        assert outcome.to_json() == encode(outcome.to_dict()), outcome.name
        assert json.loads(outcome.to_json()) == outcome.to_dict()


def test_batch_log_when_committed_then_rows_hold_each_outcome_as_returned(
        tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite"
    engine = Engine.with_log(protocol_from_dict({"markets": {"WETH": {}, "USDC": {}}}), path,
                             durability="batch")
    outcomes = [engine.apply(SetPrice("WETH", 2_000 * USD)),
                engine.apply(Deposit("alice", "WETH", ETH)),
                engine.apply(Deposit("alice", "WETH", 0))]
    assert engine.log is not None and engine.log.pending == 3
    engine.close()
    with closing(sqlite3.connect(path)) as db:
        rows = db.execute("SELECT seq, outcome, accepted, payload FROM events").fetchall()
    assert rows == [(o.seq, o.name, int(o.accepted), encode(o.to_dict())) for o in outcomes]
    _, report = Engine.replay(path)
    assert report.events == 3


def test_held_record_when_not_encodable_at_commit_then_log_error_naming_event(
        tmp_path: Path) -> None:
    store = SQLiteStore.create(tmp_path / "events.sqlite", {"protocol": "{}"})
    log = EventLog(store, "batch")
    log.write_encoder(1, "XAccepted", True, lambda: encode({"seq": 1, "bad": b"x"}))
    with pytest.raises(LogError, match=r"cannot encode event 1 \(XAccepted\)"):
        log.commit()
    assert store.count == 0
    store.close()
