"""A log written before an event gained fields still replays and verifies
(``Engine.replay``, ``LOG_ADDITIONS``): Comet's ``Absorb`` gained ``gas_used`` and
``base_fee`` and its outcome ``liquidator_points`` (commit 84a9c60). The old log is
written here as the engine before that commit wrote it: the same chained SQLite store,
each payload the compact JSON of the outcome, the ``Absorb`` records without the new
fields (their bytes below are that engine's own, taken on commit 84a9c60's parent)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from marginengine.cli.main import cli
from marginengine.config import ProtocolConfig, protocol_from_dict
from marginengine.engine import Absorb, Borrow, Deposit, Engine, Event, SetPrice
from marginengine.errors import LogError
from marginengine.persistence import EventRecord, SQLiteStore

USD = 10**8
ETH = 10**18
USDC = 10**6

CONFIG: ProtocolConfig = protocol_from_dict({"preset": "compound-v3",
                                             "markets": {"USDC": {}, "WETH": {}}})
EVENTS: list[Event] = [
    SetPrice("USDC", USD), SetPrice("WETH", 2_000 * USD),
    Deposit("lp", "USDC", 1_000_000 * USDC), Deposit("whale", "WETH", 100 * ETH),
    Borrow("whale", "USDC", 160_000 * USDC), SetPrice("WETH", 1_700 * USD),
    Absorb("keeper", "whale"), Absorb("keeper", "whale"),  # the second: nothing left
]
#: Events 7 and 8 as the engine before liquidator points logged them.
OLD_ABSORBS = {
    7: '{"seq":7,"outcome":"AbsorbAccepted","event":{"type":"Absorb","absorber":"keeper",'
       '"account":"whale"},"accepted":true,"reason":null,"code":null,"data":{},"details":'
       '{"debt_absorbed":160000000000,"seized":{"WETH":100000000000000000000},'
       '"credit":161500000000,"new_balance":1500000000,"bad_debt":0}}',
    8: '{"seq":8,"outcome":"AbsorbRejected","event":{"type":"Absorb","absorber":"keeper",'
       '"account":"whale"},"accepted":false,"reason":"whale is not liquidatable: collateral '
       'at liquidate factors 0.00 USD covers the debt 0.00 USD","code":"NotLiquidatable",'
       '"data":{"liquidation_value":0,"debt":0},"details":{}}',
}
#: ``state_hash()`` of that engine after these events (commit 84a9c60's parent).
OLD_STATE_HASH = "421ec3e619d207c1f0f4bb38221bd2d5ab95b7605600e6d9c200b8661211404a"


def _old_log(path: Path, absorbs: dict[int, str] = OLD_ABSORBS) -> Engine:
    """Write the old log at ``path``; return today's engine after the same events."""
    engine = Engine(CONFIG)
    meta = {"protocol": json.dumps(CONFIG.model_dump(mode="json"), sort_keys=True)}
    store = SQLiteStore.create(path, meta)
    for event in EVENTS:
        outcome = engine.apply(event)
        payload = absorbs.get(outcome.seq, outcome.to_json())
        store.append([EventRecord(outcome.seq, outcome.name, outcome.accepted, payload)])
    store.close()
    return engine


def test_replay_when_absorb_logged_before_liquidator_points_then_verified_with_writer_hash(
        tmp_path: Path) -> None:
    now = _old_log(tmp_path / "old.sqlite")
    # Today's engine logs the new fields: the old records really are of another shape.
    assert json.loads(OLD_ABSORBS[7])["event"] == {"type": "Absorb", "absorber": "keeper",
                                                   "account": "whale"}
    assert "liquidator_points" not in json.loads(OLD_ABSORBS[7])["details"]

    engine, report = Engine.replay(tmp_path / "old.sqlite")  # verify=True: no LogError

    # The missing fields took their defaults (0 gas at 0 wei): no spend, one absorb.
    assert engine.liquidator_points("keeper").as_dict() == {
        "num_absorbs": 1, "num_absorbed": 1, "approx_spend": 0}
    assert report.events == 8 and not report.truncated
    assert report.state_hash == engine.state_hash() == now.state_hash()
    # The points are state now: the hash differs from the writer's by exactly that part.
    assert report.state_hash != OLD_STATE_HASH
    assert report.writer_state_hash == OLD_STATE_HASH
    assert report.writer_note == (
        "the log predates Comet's liquidator points: 2 Absorb events without base_fee or "
        "gas_used (replayed at 0: no approxSpend); the state hash includes "
        "liquidator_points, the writer's did not")


def test_replay_when_old_absorb_record_differs_then_still_diverges(tmp_path: Path) -> None:
    # The old shape is forgiven only its missing fields: a credit the rule does not give
    # (161,499 USDC for 161,500) is still a divergence.
    edited = dict(OLD_ABSORBS)
    edited[7] = edited[7].replace('"credit":161500000000', '"credit":161499000000')
    _old_log(tmp_path / "old.sqlite", edited)
    with pytest.raises(LogError, match=r"replay diverged at event 7: logged AbsorbAccepted, "
                                       r"replayed AbsorbAccepted \(details differ\)"):
        Engine.replay(tmp_path / "old.sqlite")


def test_replay_when_log_has_new_fields_then_no_writer_hash(tmp_path: Path) -> None:
    engine = Engine.with_log(CONFIG, tmp_path / "new.sqlite")
    for event in EVENTS[:-2]:
        engine.apply(event)
    engine.apply(Absorb("keeper", "whale", gas_used=250_000, base_fee=30 * 10**9))
    engine.close()
    replayed, report = Engine.replay(tmp_path / "new.sqlite")
    assert report.state_hash == engine.state_hash()
    assert (report.writer_state_hash, report.writer_note) == (None, "")
    assert replayed.liquidator_points("keeper").approx_spend == 7_500_000_000_000_000


def test_replay_cli_when_old_log_then_exit_0_and_prints_writers_hash(tmp_path: Path) -> None:
    now = _old_log(tmp_path / "old.sqlite")
    result = CliRunner().invoke(cli, ["replay", str(tmp_path / "old.sqlite")])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"state hash: {now.state_hash()}"
    assert lines[1].startswith(f"writer's:   {OLD_STATE_HASH} (the log predates Comet's "
                               f"liquidator points: 2 Absorb events")
    assert lines[2] == "events:     8"
    result = CliRunner().invoke(cli, ["replay", str(tmp_path / "old.sqlite"), "--json"])
    report = json.loads(result.output)
    assert (report["state_hash"], report["writer_state_hash"]) == (now.state_hash(),
                                                                   OLD_STATE_HASH)
    # The hash the old writer recorded is what a keeper holds: --expect accepts it.
    result = CliRunner().invoke(cli, ["replay", str(tmp_path / "old.sqlite"), "--expect",
                                      OLD_STATE_HASH])
    assert result.exit_code == 0, result.output
