"""The service over HTTP and WebSocket, in process (fastapi's TestClient): worked numbers."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from marginengine.engine import Engine
from marginengine.persistence import EventLog, SQLiteStore
from marginengine.service import Service, Settings
from tests.conftest import ETH, USDC, simple_aave
from tests.service.conftest import AUTH, alice_engine


def test_tick_when_health_crosses_thresholds_then_alert_names_levels(client: Any) -> None:
    # At 2,000 alice's health is exactly 1.10: not below 1.10 (decided exactly).
    assert client.service.level == {}
    r = client.post("/ticks", json={"prices": {"WETH": "1900"}}, headers=AUTH)
    assert r.status_code == 200
    alert = r.json()["alert"]
    # 10 x 1,900 x 0.825 / 15,000 = 1.045: below 1.10 and 1.05, not 1.
    assert alert["crossed"] == [{"account": "alice", "health": 1.045, "from_level": 0,
                                 "to_level": 2, "below": ["1.10", "1.05"],
                                 "direction": "down"}]
    assert alert["liquidatable"] == {"count": 0, "new": [], "recovered": [], "quotes": []}
    assert client.get("/accounts/alice").json()["health_factor_wad"] == 1_045 * 10**15


def test_tick_when_account_becomes_liquidatable_then_quote_pushed(client: Any) -> None:
    with client.websocket_connect("/ws") as ws:
        r = client.post("/ticks", json={"prices": {"WETH": 1800}}, headers=AUTH)
        pushed = ws.receive_json()
    alert = r.json()["alert"]
    assert pushed["tick"] == alert["tick"] == 1 and pushed["crossed"] == alert["crossed"]
    # 10 x 1,800 x 0.825 / 15,000 = 0.99: liquidatable; Aave v3.3 closes 50% above 0.95.
    assert alert["liquidatable"]["new"] == ["alice"]
    quote = alert["liquidatable"]["quotes"][0]
    assert quote["debt_repaid"] == 7_500 * USDC
    assert quote["close_factor_bps"] == 5_000
    # 7,500 USD x 1.05 / 1,800 USD per WETH = 4.375 WETH, floored by the engine's integer
    # division to one wei less; the liquidator gets it less the protocol's 10% of the
    # bonus (0.0208333... WETH, rounded up as aave-v3 = v3.7 does: the engine's figure).
    assert quote["collateral_to_liquidator"] + quote["protocol_fee"] == 4_375 * 10**15 - 1
    assert quote["protocol_fee"] == 20_833_333_333_333_334
    # The engine applies exactly that liquidation.
    event = {"type": "Liquidate", "liquidator": "keeper", "account": "alice",
             "debt_asset": "USDC", "collateral_asset": "WETH",
             "debt_to_cover": quote["debt_to_cover"]}
    r = client.post("/events", json={"events": [event]}, headers=AUTH)
    assert r.json()["outcomes"][0]["outcome"] == "LiquidationExecuted"
    assert r.json()["alert"]["liquidatable"]["recovered"] == ["alice"]


def test_batch_when_one_tick_is_bad_then_nothing_applied(client: Any) -> None:
    before = client.get("/state").json()
    body = {"ticks": [{"prices": {"WETH": "1900"}}, {"prices": {"WETH": "-5"}}]}
    r = client.post("/ticks/batch", json=body, headers=AUTH)
    assert r.status_code == 422
    assert r.json()["error"] == "ticks.1.prices.WETH: must be positive (got '-5')"
    assert client.get("/state").json() == before


def test_batch_when_good_then_one_alert_for_all_ticks(client: Any) -> None:
    body = {"ticks": [{"prices": {"WETH": "1900"}}, {"prices": {"WETH": "1800"}}]}
    r = client.post("/ticks/batch", json=body, headers=AUTH)
    alert = r.json()["alert"]
    assert [o["outcome"] for o in r.json()["outcomes"]] == ["SetPriceAccepted"] * 2
    assert alert["crossed"][0]["to_level"] == 3 and alert["liquidatable"]["new"] == ["alice"]
    assert client.service.counters.ticks == 2


def test_event_refused_by_engine_then_logged_as_refusal_and_state_unchanged(
        client: Any) -> None:
    state = client.get("/state").json()
    big = {"type": "Borrow", "account": "bob", "asset": "USDC", "amount": 100_000 * USDC}
    r = client.post("/events", json={"events": [big]}, headers=AUTH)
    assert r.status_code == 200
    outcome = r.json()["outcomes"][0]
    # Far past the threshold: Aave v3.5+ validateHFAndLtv refuses on the health factor.
    assert outcome["accepted"] is False
    assert outcome["reason"] == "health factor would fall to 0.15, below 1; no new borrows"
    after = client.get("/state").json()
    assert after["seq"] == state["seq"] + 1  # the refusal is in the log ...
    assert client.get("/accounts/bob").json()["total_debt"] == 10_000 * 10**8  # ... only


def test_whatif_when_weth_drops_30pct_then_alice_liquidatable_bob_not(client: Any) -> None:
    r = client.post("/whatif", json={"shocks": {"WETH": -0.3}, "account": "alice"})
    body = r.json()
    # alice: 10 x 1,400 x 0.825 / 15,000 = 0.77; bob: 10 x 1,400 x 0.825 / 10,000 = 1.155.
    assert body["liquidatable"] == 1 and body["account"]["liquidatable"] is True
    assert body["prices"] == {"WETH": 1400.0}
    assert body["debt"] == pytest.approx(15_000)


def test_heatmap_when_weth_falls_then_accounts_enter_at_their_prices(client: Any) -> None:
    levels = client.get("/heatmap?asset=WETH&steps=10&max_drop=0.5").json()["levels"]
    by_drop = {round(lv["drop"], 2): lv["accounts"] for lv in levels}
    # alice is liquidatable below 1,818.18 (drop > 9.09%), bob below 1,212.12 (> 39.4%).
    assert by_drop[0.05] == 0 and by_drop[0.1] == 1 and by_drop[0.35] == 1
    assert by_drop[0.4] == 2
    assert levels[2]["price"] == 1800.0


def test_at_risk_and_summary_when_queried_then_exact_totals(client: Any) -> None:
    risk = client.get("/at-risk?limit=2").json()
    assert [a["account"] for a in risk] == ["alice", "bob"]
    assert risk[0]["health"] == 1.1 and risk[1]["health"] == 1.65
    summary = client.get("/summary").json()
    assert summary["assets"]["USDC"]["supplied"] == 1_000_000 * USDC
    assert summary["assets"]["USDC"]["borrowed"] == 25_000 * USDC
    assert summary["assets"]["WETH"]["supplied"] == 20 * ETH
    assert summary["accounts"] == 3 and summary["liquidatable"] == 0
    assert summary["bad_debt_usd"] == 0


def test_sse_when_tick_then_event_stream_carries_alert() -> None:
    import asyncio

    from marginengine.service.app import create_app

    service = Service(alice_engine())
    app = create_app(service, "t", rate=0)
    inner = app.app

    async def scenario() -> list[str]:
        route = next(r for r in inner.routes if getattr(r, "path", "") == "/stream")

        class _Req:
            async def is_disconnected(self) -> bool:
                return False

        response = await route.endpoint(_Req())
        iterator = response.body_iterator.__aiter__()
        first = await iterator.__anext__()
        service.apply([__import__("marginengine.engine", fromlist=["SetPrice"]).SetPrice(
            "WETH", 1_900 * 10**8)])
        second = await asyncio.wait_for(iterator.__anext__(), 5)
        return [first, second]

    first, second = asyncio.run(scenario())
    assert first == ": connected\n\n"
    head, data = second.split("\n", 1)
    assert head == "event: tick"
    assert json.loads(data.removeprefix("data: "))["crossed"][0]["account"] == "alice"


def test_ws_ingest_when_token_and_tick_then_report_else_error(client: Any) -> None:
    from starlette.websockets import WebSocketDisconnect

    with pytest.raises(WebSocketDisconnect), client.websocket_connect("/ws/ingest") as ws:
        ws.receive_json()
    with client.websocket_connect("/ws/ingest?token=test-token") as ws:
        ws.send_text(json.dumps({"prices": {"WETH": "1900"}}))
        assert ws.receive_json()["alert"]["crossed"][0]["to_level"] == 2
        ws.send_text(json.dumps({"prices": {"WETH": "abc"}}))
        assert ws.receive_json() == {"error": "prices.WETH: must be a number ('abc' is not)"}
        ws.send_text("{nope")
        assert ws.receive_json() == {"error": "body: malformed JSON"}


def test_metrics_when_ticks_then_counts_and_latency_histogram(client: Any) -> None:
    for price in ("1950", "1900"):
        client.post("/ticks", json={"prices": {"WETH": price}}, headers=AUTH)
    text = client.get("/metrics").text
    assert "marginengine_ticks_total 2.0" in text
    assert "marginengine_tick_to_alert_seconds_count 2.0" in text
    assert "marginengine_accounts 3.0" in text
    assert 'marginengine_accounts_below_threshold{threshold="1.05"} 1.0' in text
    assert "marginengine_log_pending_events 0.0" in text
    assert client.get("/healthz").json()["ok"] is True


def test_openapi_when_fetched_then_lists_every_route(client: Any) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for route in ("/ticks", "/ticks/batch", "/events", "/replay", "/accounts/{account_id}",
                  "/whatif", "/at-risk", "/heatmap", "/summary", "/healthz", "/metrics",
                  "/stream", "/liquidatable", "/state"):
        assert route in paths
    assert "dashboard.js" in client.get("/").text


def test_state_when_served_with_sqlite_log_then_equals_replay(tmp_path: Any) -> None:
    import asyncio

    import httpx

    from marginengine.service.app import create_app

    meta = {"protocol": json.dumps(simple_aave().model_dump(mode="json"), sort_keys=True)}
    log = EventLog(SQLiteStore.create(tmp_path / "events.sqlite", meta), "batch")
    engine = alice_engine(log)
    service = Service(engine, Settings(max_quotes=5))
    app = create_app(service, "t", rate=0)

    async def drive() -> dict[str, Any]:
        # In this thread: the SQLite connection belongs to the thread that opened it.
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            auth = {"Authorization": "Bearer t"}
            for price in ("1950", "1800", "1700"):
                r = await c.post("/ticks", json={"prices": {"WETH": price}}, headers=auth)
                assert r.status_code == 200
            await c.post("/events", json={"events": [
                {"type": "Repay", "account": "bob", "asset": "USDC", "amount": 1_000 * USDC},
                {"type": "Withdraw", "account": "bob", "asset": "WETH", "amount": 9 * ETH}]},
                headers=auth)
            return dict((await c.get("/state")).json())

    live = asyncio.run(drive())
    engine.close()
    _, report = Engine.replay(tmp_path / "events.sqlite")
    assert report.state_hash == live["state_hash"] and report.events == live["seq"] == 13


def test_replay_source_when_posted_then_ticks_played(client: Any) -> None:
    import time

    ticks = [{"prices": {"WETH": p}} for p in ("1990", "1980", "1970")]
    r = client.post("/replay", json={"ticks": ticks, "rate": 100}, headers=AUTH)
    assert r.json() == {"scheduled": 3, "rate": 100.0, "id": 0, "status": "/replay/0"}
    deadline = time.time() + 5
    while client.service.counters.ticks < 3 and time.time() < deadline:
        time.sleep(0.02)
    assert client.get("/summary").json()["assets"]["WETH"]["price"] == 1970.0


def test_log_failure_when_commit_fails_then_503_and_writes_refused(tmp_path: Any) -> None:
    from fastapi.testclient import TestClient

    from marginengine.service.app import create_app

    meta = {"protocol": json.dumps(simple_aave().model_dump(mode="json"), sort_keys=True)}
    # The SQLite connection belongs to this thread; the TestClient's requests run in
    # another, so the first commit fails: a real failure of the log, as a full disk would.
    log = EventLog(SQLiteStore.create(tmp_path / "events.sqlite", meta), "batch")
    with TestClient(create_app(Service(alice_engine(log)), "t", rate=0)) as c:
        auth = {"Authorization": "Bearer t"}
        r = c.post("/ticks", json={"prices": {"WETH": "1900"}}, headers=auth)
        assert r.status_code == 503 and r.json()["error"].startswith("log: ")
        r = c.post("/ticks", json={"prices": {"WETH": "1900"}}, headers=auth)
        assert r.status_code == 503
        assert "writes are refused since the log failed" in r.json()["error"]
        assert c.get("/healthz").json()["ok"] is False


def test_tick_with_conditions_when_applied_then_logged_event_and_state_changes(
        client: Any) -> None:
    before = client.get("/state").json()
    body = {"prices": {"WETH": "1990"},
            "conditions": {"WETH": {"volatility_ppm": 800_000, "depth": 5 * 10**14}}}
    r = client.post("/ticks", json=body, headers=AUTH)
    assert [o["outcome"] for o in r.json()["outcomes"]] == ["SetPriceAccepted",
                                                           "SetConditionsAccepted"]
    after = client.get("/state").json()
    assert after["seq"] == before["seq"] + 2 and after["state_hash"] != before["state_hash"]


def test_levels_when_book_regroups_rows_then_kept_per_account() -> None:
    from fastapi.testclient import TestClient

    from marginengine.service.app import create_app

    service = Service(alice_engine())
    client = TestClient(create_app(service, "test-token", rate=0))
    client.post("/ticks", json={"prices": {"WETH": "1900"}}, headers=AUTH)
    assert service.level == {"alice": 2}
    layouts = service.book.layouts
    # 1,100 new accounts in one request: the book's overflow passes its limit (1,024
    # slots) and it regroups (renumbers) its rows; levels are mapped through the ids.
    deposits = [{"type": "Deposit", "account": f"n{i:04d}", "asset": "WETH",
                 "amount": 10**18} for i in range(1_100)]
    borrow = {"type": "Borrow", "account": "n0007", "asset": "USDC", "amount": 1_500 * USDC}
    r = client.post("/events", json={"events": [*deposits, borrow]}, headers=AUTH)
    assert r.status_code == 200 and service.book.layouts > layouts
    alert = r.json()["alert"]
    assert "resync" not in alert
    assert r.json()["outcomes"][-1]["outcome"] == "BorrowAccepted"
    # n0007: 1 x 1,900 x 0.825 / 1,500 = 1.045: below 1.10 and 1.05.
    assert [(c["account"], c["to_level"]) for c in alert["crossed"]] == [("n0007", 2)]
    assert service.level == {"alice": 2, "n0007": 2}
    r = client.post("/ticks", json={"prices": {"WETH": "1800"}}, headers=AUTH)
    crossed = {c["account"]: c["to_level"] for c in r.json()["alert"]["crossed"]}
    assert crossed == {"alice": 3, "n0007": 3}
    assert client.get("/levels").json()["levels"] == {"alice": 3, "n0007": 3}


def test_unexpected_failure_when_applying_then_503_and_writes_refused(client: Any) -> None:
    service = client.service
    # A failure inside the batch that is neither a refusal nor the log's: a bug, simulated
    # on the second event of the tick (the first, WETH's price, is applied by then).
    original = service.engine.apply

    def apply(event: Any) -> Any:
        if getattr(event, "asset", "") == "DAI":
            raise RuntimeError("simulated bug")
        return original(event)

    service.engine.apply = apply  # type: ignore[method-assign]
    r = client.post("/ticks", json={"prices": {"WETH": "1990", "DAI": "1"}}, headers=AUTH)
    assert r.status_code == 503
    assert "simulated bug" in r.json()["error"]
    assert client.post("/ticks", json={"prices": {"WETH": "1980"}},
                       headers=AUTH).status_code == 503
    assert client.get("/healthz").json()["ok"] is False


def test_liquidator_points_when_comet_absorbs_then_served_as_comets_mapping() -> None:
    # compound-finance/comet@d5a30b0a Comet.sol absorb: numAbsorbs, numAbsorbed and
    # approxSpend = gasUsed x block.basefee, read through liquidatorPoints(address).
    from fastapi.testclient import TestClient

    from marginengine.config import protocol_from_dict
    from marginengine.engine import Absorb, Borrow, Deposit, SetPrice
    from marginengine.service.app import create_app
    from tests.conftest import USD
    from tests.service.conftest import TOKEN

    engine = Engine(protocol_from_dict({"preset": "compound-v3", "markets": {
        "USDC": {}, "WETH": {}}}))
    for event in (SetPrice("USDC", USD), SetPrice("WETH", 2_000 * USD),
                  Deposit("lp", "USDC", 1_000_000 * USDC), Deposit("whale", "WETH", 100 * ETH),
                  Borrow("whale", "USDC", 160_000 * USDC), SetPrice("WETH", 1_700 * USD),
                  Absorb("keeper", "whale", gas_used=250_000, base_fee=30 * 10**9)):
        assert engine.apply(event).accepted
    with TestClient(create_app(Service(engine), TOKEN, max_body=4096, rate=0)) as c:
        assert c.get("/liquidator-points/keeper").json() == {
            "absorber": "keeper", "num_absorbs": 1, "num_absorbed": 1,
            "approx_spend": 7_500_000_000_000_000}
        assert c.get("/liquidator-points/whale").json()["num_absorbs"] == 0


def test_liquidator_points_when_protocol_has_no_absorb_then_404_naming_field(client: Any) -> None:
    r = client.get("/liquidator-points/keeper")
    assert r.status_code == 404
    assert "absorber" in r.text and "no Absorb" in r.text


def test_state_when_ticks_move_prices_then_the_hash_is_the_whole_state_hashed(
        client: Any) -> None:
    # The service keeps each account's JSON between hashes (Ledger.reuse_hash_pieces):
    # after every tick, the answer equals the hash of the whole state written out again.
    engine = client.service.engine
    assert engine.ledger.hash_pieces_held is not None
    seen = []
    for price in ("1900", "1800", "1900"):
        client.post("/ticks", json={"prices": {"WETH": price}}, headers=AUTH)
        state = client.get("/state").json()
        twin = engine.copy()  # a copy keeps no pieces of the original's
        payload = {"ledger": twin.ledger.state_dict(), "seq": twin.seq,
                   **twin.state.hash_parts()}
        blob = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
        assert state == {"seq": engine.seq, "state_hash": hashlib.sha256(blob).hexdigest()}
        assert client.get("/state").json() == state  # the same seq: the same answer
        seen.append(state["state_hash"])
    # WETH at 1,900 twice, but the seq differs: three hashes.
    assert len(set(seen)) == 3
