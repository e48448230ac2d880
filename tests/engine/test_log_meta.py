"""An event log's meta read under the meaning it was written with (engine/log_meta.py).

Comet's supply caps changed meaning (compound-finance/comet@d5a30b0a Comet.sol
``supplyCollateral``: a cap of 0 refuses every supply). A log written before, when a
``compound-v3`` market's ``supply_cap`` of 0 meant no cap (and an omitted cap was stored
as ``"0"``), must still replay and verify; a new log's explicit 0 must still refuse."""

from __future__ import annotations

import json
from pathlib import Path

from marginengine.config import protocol_from_dict
from marginengine.engine import Deposit, Engine, SetPrice
from marginengine.engine.log_meta import COMET_SUPPLY_CAPS, log_meta, logged_protocol
from marginengine.persistence import EventRecord, SQLiteStore

USD = 10**8
ETH = 10**18
USDC = 10**6
MARKETS = {"USDC": {"decimals": 6, "collateral": False},
           "WETH": {"ltv": "0.8", "liquidation_threshold": "0.85", "borrowable": False}}
EVENTS = [SetPrice("USDC", USD), SetPrice("WETH", 2_000 * USD),
          Deposit("lp", "USDC", 1_000 * USDC), Deposit("whale", "WETH", 100 * ETH)]


def _comet(**weth: object) -> dict[str, object]:
    markets = {**MARKETS, "WETH": {**MARKETS["WETH"], **weth}}
    return {"preset": "compound-v3", "markets": markets, "compound": {"base_asset": "USDC"}}


def test_replay_when_comet_log_predates_comets_caps_then_its_zero_caps_mean_no_cap(
        tmp_path: Path) -> None:
    config = protocol_from_dict(_comet())
    # The meta as the engine before Comet's caps wrote it: no marker, every cap "0".
    protocol = config.model_dump(mode="json")
    for market in protocol["markets"].values():
        market["supply_cap"] = "0"
    store = SQLiteStore.create(tmp_path / "old.sqlite",
                               {"protocol": json.dumps(protocol, sort_keys=True)})
    writer = Engine(config)
    for event in EVENTS:
        outcome = writer.apply(event)
        assert outcome.accepted
        store.append([EventRecord(outcome.seq, outcome.name, True, outcome.to_json())])
    store.close()

    engine, report = Engine.replay(tmp_path / "old.sqlite")  # verify: no divergence
    assert report.events == 4
    assert engine.config.markets["WETH"].supply_cap is None
    assert engine.ledger.supply_of("whale", "WETH") == 100 * ETH
    assert report.state_hash == writer.state_hash()


def test_replay_when_new_comet_log_has_a_zero_cap_then_it_still_refuses(
        tmp_path: Path) -> None:
    config = protocol_from_dict(_comet(supply_cap="0"))
    engine = Engine.with_log(config, tmp_path / "new.sqlite")
    outcomes = [engine.apply(e) for e in EVENTS]
    engine.close()
    assert [o.accepted for o in outcomes] == [True, True, True, False]
    assert outcomes[-1].code == "SUPPLY_CAP_EXCEEDED"
    replayed, report = Engine.replay(tmp_path / "new.sqlite")
    assert report.events == 4
    assert replayed.config.markets["WETH"].supply_cap == 0
    assert replayed.ledger.supply_of("whale", "WETH") == 0


def test_logged_protocol_when_not_comet_or_marked_then_read_as_written() -> None:
    aave = protocol_from_dict({"preset": "aave-v3", "markets": {"WETH": {}}})
    meta = log_meta(aave)
    assert meta[COMET_SUPPLY_CAPS] == "comet"
    assert logged_protocol(meta) == json.loads(meta["protocol"])
    # An old Aave log's cap of 0 is Aave's "no cap" still: untouched.
    old = {"protocol": json.dumps({"preset": "aave-v3", "markets": {"WETH": {
        "supply_cap": "0"}}})}
    assert logged_protocol(old)["markets"]["WETH"]["supply_cap"] == "0"
    # A marked Comet log's 0 is Comet's 0.
    marked = {"protocol": json.dumps({"preset": "compound-v3", "markets": {"WETH": {
        "supply_cap": "0"}}}), COMET_SUPPLY_CAPS: "comet"}
    assert logged_protocol(marked)["markets"]["WETH"]["supply_cap"] == "0"
