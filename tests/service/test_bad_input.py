"""Bad input at every endpoint: a 4xx naming the field and the reason, nothing applied."""

from __future__ import annotations

from typing import Any

import pytest

from marginengine.engine import EVENT_TYPES
from tests.service.conftest import AUTH

JSON = {**AUTH, "content-type": "application/json"}

#: (method, path, body, status, error) for the write endpoints.
WRITES: list[tuple[str, dict[str, Any] | bytes, int, str]] = [
    ("/ticks", b"{not json", 422, "body: malformed JSON"),
    ("/ticks", b"[1, 2]", 422, "body: must be a table (a JSON object) (got an array)"),
    ("/ticks", {}, 422,
     "body: an empty tick (give prices, conditions, vols, events or advance_seconds)"),
    ("/ticks", {"conditions": {"WETH": {"volatility_ppm": -1}}}, 422,
     "conditions.WETH.volatility_ppm: must not be negative (got -1)"),
    ("/ticks", {"conditions": {"WETH": {"depth": 1.5}}}, 422,
     "conditions.WETH.depth: must be an integer (got 1.5)"),
    ("/ticks", {"conditions": {"WETH": {"vol": 1}}}, 422,
     "conditions.WETH.vol: unknown field (one of volatility_ppm, depth, open_interest)"),
    ("/ticks", {"conditions": {"DOGE": {"depth": 1}}}, 422,
     "conditions.DOGE: unknown asset (markets: DAI, USDC, WETH)"),
    ("/ticks", {"prices": {"WETH": "NaN"}}, 422,
     "prices.WETH: must be a finite number ('NaN' is not)"),
    ("/ticks", {"prices": {"WETH": "-1800"}}, 422, "prices.WETH: must be positive (got '-1800')"),
    ("/ticks", {"prices": {"WETH": 0}}, 422, "prices.WETH: must be positive (got 0)"),
    ("/ticks", {"prices": {"WETH": "1800.123456789"}}, 422,
     "prices.WETH: has more than 8 decimal places ('1800.123456789')"),
    ("/ticks", {"prices": {"WETH": [1]}}, 422,
     "prices.WETH: must be a number or a decimal string, not an array"),
    ("/ticks", {"prices": {"DOGE": "1"}}, 422,
     "prices.DOGE: unknown asset (markets: DAI, USDC, WETH)"),
    ("/ticks", {"prices": {"WETH": "1800"}, "extra": 1}, 422, "extra: unknown field (check "
                                                              "the spelling)"),
    ("/ticks", {"advance_seconds": -5}, 422, "advance_seconds: must be a positive integer "
                                             "(got -5)"),
    ("/ticks", {"advance_seconds": "soon"}, 422,
     "advance_seconds: must be an integer (got 'soon')"),
    ("/ticks/batch", {"ticks": []}, 422, "ticks: must have at least 1 item (got 0)"),
    ("/ticks/batch", {"ticks": [{"prices": {"WETH": "1"}}, {"prices": {"WETH": "x"}}]}, 422,
     "ticks.1.prices.WETH: must be a number ('x' is not)"),
    ("/events", {"events": [{"type": "Steal", "account": "a"}]}, 422,
     f"events.0.type: unknown event type 'Steal' (one of {', '.join(EVENT_TYPES)})"),
    ("/events", {"events": [{"type": "Deposit", "account": "a", "asset": "WETH",
                             "amount": 1.5}]}, 422,
     "events.0.amount: must be an integer in smallest units (got 1.5)"),
    ("/events", {"events": [{"type": "Deposit", "account": "a", "asset": "WETH",
                             "amount": "10"}]}, 422,
     "events.0.amount: must be an integer in smallest units (got '10')"),
    ("/events", {"events": [{"type": "Deposit", "account": "a", "asset": "WETH",
                             "amount": -10}]}, 422, "events.0.amount: must be positive "
                                                    "(got -10)"),
    ("/events", {"events": [{"type": "Deposit", "account": "a", "asset": "WETH",
                             "amount": 2**256}]}, 422,
     "events.0.amount: too large (more than 2**256 - 1 smallest units)"),
    ("/events", {"events": [{"type": "Deposit", "account": "a b", "asset": "WETH",
                             "amount": 1}]}, 422,
     "events.0.account: account id must be 1-64 letters, digits or . _ : @ -, optionally "
     "/label for an isolated sub-account (got 'a b')"),
    ("/events", {"events": [{"type": "Deposit", "account": "_liquidity", "asset": "USDC",
                             "amount": 1}]}, 422,
     "events.0.account: '_liquidity' is reserved (the service's account that supplies what "
     "a book's borrowers owe beyond its suppliers' supply)"),
    ("/ticks", {"events": [{"type": "Deposit", "account": "a", "asset": "WETH", "amount": 1},
                           {"type": "Liquidate", "account": "alice", "liquidator": "_book",
                            "debt_asset": "USDC", "collateral_asset": "WETH",
                            "debt_to_cover": 1}]}, 422,
     "events.1.liquidator: '_book' is reserved (it takes the other side of loaded perp "
     "positions)"),
    ("/events", {"events": [{"type": "Deposit", "account": "a", "asset": "DOGE",
                             "amount": 1}]}, 422,
     "events.0.asset: unknown asset 'DOGE' (markets: DAI, USDC, WETH)"),
    ("/events", {"events": [{"type": "Borrow", "account": "ghost", "asset": "USDC",
                             "amount": 1}]}, 422, "events.0.account: unknown account 'ghost'"),
    ("/events", {"events": [{"type": "Deposit", "account": "a", "asset": "WETH"}]}, 422,
     "events.0.amount: required field is missing"),
    ("/events", {"events": [{"type": "Deposit", "account": "a", "asset": "WETH",
                             "amount": 1, "memo": "x"}]}, 422,
     "events.0.memo: unknown field (fields: account, asset, amount)"),
    ("/events", {"events": "Deposit"}, 422, "events: must be an array (got 'Deposit')"),
    ("/replay", {"ticks": [{"prices": {"WETH": "1"}}], "rate": 0}, 422,
     "rate: must be greater than 0 (got 0)"),
    ("/replay", {"ticks": [{"prices": {"WETH": "-1"}}]}, 422,
     "ticks.0.prices.WETH: must be positive (got '-1')"),
]


@pytest.mark.parametrize(("path", "body", "status", "error"), WRITES,
                         ids=[f"{p}-{i}" for i, (p, *_rest) in enumerate(WRITES)])
def test_write_when_bad_then_4xx_names_field_and_nothing_applied(
        client: Any, path: str, body: dict[str, Any] | bytes, status: int, error: str) -> None:
    before = client.get("/state").json()
    if isinstance(body, bytes):
        r = client.post(path, content=body, headers=JSON)
    else:
        r = client.post(path, json=body, headers=AUTH)
    assert r.status_code == status, r.text
    assert r.json()["error"] == error
    assert client.get("/state").json() == before


@pytest.mark.parametrize("path", ["/ticks", "/ticks/batch", "/events", "/replay"])
def test_write_when_token_missing_or_wrong_then_401_nothing_applied(client: Any,
                                                                    path: str) -> None:
    before = client.get("/state").json()
    body = {"prices": {"WETH": "1"}, "ticks": [], "events": []}
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"X-API-Token": ""}):
        r = client.post(path, json=body, headers=headers)
        assert r.status_code == 401
        assert r.json()["error"].startswith("token: missing or wrong API token")
    assert client.get("/state").json() == before


def test_body_when_oversized_then_413(client: Any) -> None:
    # The fixture's limit is 4,096 bytes.
    big = {"prices": {"WETH": "1" * 5000}}
    r = client.post("/ticks", json=big, headers=AUTH)
    assert r.status_code == 413
    assert r.json()["error"].startswith("body: too large")


def test_body_when_streamed_beyond_limit_then_413(client: Any) -> None:
    def chunks() -> Any:
        for _ in range(10):
            yield b" " * 1000

    r = client.post("/ticks", content=chunks(), headers=JSON)
    assert r.status_code == 413 and r.json()["error"] == "body: too large (more than 4096 bytes)"


def test_writes_when_rate_exceeded_then_429() -> None:
    from fastapi.testclient import TestClient

    from marginengine.service import Service
    from marginengine.service.app import create_app
    from tests.service.conftest import TOKEN, alice_engine

    app = create_app(Service(alice_engine()), TOKEN, rate=0.001, burst=2)
    with TestClient(app) as c:
        codes = [c.post("/ticks", json={"prices": {"WETH": "1990"}}, headers=AUTH).status_code
                 for _ in range(4)]
        assert codes == [200, 200, 429, 429]
        r = c.post("/ticks", json={"prices": {"WETH": "1990"}}, headers=AUTH)
        assert r.json()["error"] == "rate: ingest rate limit exceeded; retry later"


def test_too_many_events_when_one_request_then_413(client: Any) -> None:
    client.service.settings = type(client.service.settings)(max_events=2)
    r = client.post("/ticks", json={"prices": {"WETH": "1", "USDC": "1", "DAI": "1"}},
                    headers=AUTH)
    assert r.status_code == 413
    assert r.json()["error"] == "events: too many events in one request (3; at most 2)"


QUERIES: list[tuple[str, str, dict[str, Any] | None, int, str]] = [
    ("get", "/accounts/ghost", None, 404, "account: unknown account 'ghost'"),
    ("get", "/at-risk?limit=0", None, 422, "query.limit: must be at least 1 (got '0')"),
    ("get", "/at-risk?limit=abc", None, 422,
     "query.limit: must be an integer (got 'abc')"),
    ("get", "/heatmap", None, 422, "query.asset: required field is missing"),
    # The query's fields as query.FIELD, as FastAPI names the others (query.limit).
    ("get", "/heatmap?asset=DOGE", None, 422,
     "query.asset: unknown asset 'DOGE' (markets: DAI, USDC, WETH)"),
    ("get", "/heatmap?asset=WETH&max_drop=1.5", None, 422,
     "query.max_drop: must be a fraction greater than 0 and less than 1 (got '1.5')"),
    ("get", "/heatmap?asset=WETH&max_drop=nan", None, 422,
     "query.max_drop: must be a fraction greater than 0 and less than 1 (got 'nan')"),
    ("get", "/heatmap?asset=WETH&max_drop=0", None, 422,
     "query.max_drop: must be a fraction greater than 0 and less than 1 (got '0')"),
    ("get", "/heatmap?asset=WETH&max_drop=x", None, 422,
     "query.max_drop: must be a fraction greater than 0 and less than 1 (got 'x')"),
    ("get", "/heatmap?asset=WETH&steps=0", None, 422,
     "query.steps: must be at least 1 (got '0')"),
    ("get", "/heatmap?asset=WETH&steps=51", None, 422,
     "query.steps: must be at most 50 (got '51')"),
    ("get", "/liquidatable?limit=-1", None, 422,
     "query.limit: must be at least 1 (got '-1')"),
    # A parameter twice: the last was taken silently (every level at 0.6, not 0.5).
    ("get", "/heatmap?asset=WETH&max_drop=0.5&max_drop=0.6", None, 422,
     "query.max_drop: given twice ('0.5' and '0.6'); give it once"),
    ("get", "/at-risk?limit=5&limit=5", None, 422,
     "query.limit: given twice ('5' and '5'); give it once"),
    # A parameter the route does not take: it was ignored, so a misspelt max_drop gave
    # the default 0.5 and a misspelt limit the default 20, answered 200 as if read.
    ("get", "/heatmap?asset=WETH&maxdrop=0.2", None, 422,
     "query.maxdrop: unknown parameter (did you mean max_drop? parameters: asset, steps, "
     "max_drop)"),
    ("get", "/at-risk?lmit=2", None, 422,
     "query.lmit: unknown parameter (did you mean limit? parameters: limit)"),
    ("get", "/summary?asset=WETH", None, 422,
     "query.asset: unknown parameter (GET /summary takes none)"),
    ("get", "/accounts/alice?verbose=1", None, 422,
     "query.verbose: unknown parameter (GET /accounts/{account_id} takes none)"),
    ("post", "/whatif", {"shocks": {"WETH": -1.5}}, 422,
     "shocks.WETH: must be a finite fraction greater than -1 (got -1.5)"),
    ("post", "/whatif", {"shocks": {"WETH": "nan"}}, 422,
     "shocks.WETH: must be a finite fraction greater than -1 (got 'nan')"),
    ("post", "/whatif", {"shocks": {"DOGE": -0.1}}, 422, "shocks.DOGE: unknown asset"),
    ("post", "/whatif", {"shocks": {}}, 422,
     "shocks: give at least one price shock (or vols)"),
    ("post", "/whatif", {"shocks": {"WETH": -0.1}, "account": "ghost"}, 404,
     "account: unknown account 'ghost'"),
]


@pytest.mark.parametrize(("method", "path", "body", "status", "error"), QUERIES,
                         ids=[q[1] for q in QUERIES])
def test_query_when_bad_then_4xx_names_field(client: Any, method: str, path: str,
                                             body: dict[str, Any] | None, status: int,
                                             error: str) -> None:
    r = client.get(path) if method == "get" else client.post(path, json=body)
    assert r.status_code == status, r.text
    assert r.json()["error"] == error


def test_query_when_only_known_parameters_then_read(client: Any) -> None:
    assert len(client.get("/at-risk?limit=2").json()) == 2
    # The dashboard page takes whatever a browser adds (a cache-buster).
    assert client.get("/?v=2").status_code == 200


def test_static_when_path_escapes_then_404(client: Any) -> None:
    assert client.get("/static/..%2Fapp.py").status_code == 404
    assert client.get("/static/nothing.js").status_code == 404


def test_svi_parameter_when_beyond_a_float_then_422_names_it(client: Any) -> None:
    # The slice is read as floats; 10**400 ppm has no float (was a 500: OverflowError).
    before = client.get("/state").json()
    svi = {"type": "SetSviSurface", "underlying": "WETH", "expiry": 1, "a_ppm": 1,
           "b_ppm": 1, "rho_ppm": 1, "m_ppm": 1, "sigma_ppm": 1}
    for path in ("/events", "/ticks"):
        for name in ("a_ppm", "b_ppm", "rho_ppm", "m_ppm", "sigma_ppm"):
            r = client.post(path, json={"events": [{**svi, name: -(10**400)}]},
                            headers=AUTH)
            assert r.status_code == 422, r.text
            assert r.json()["error"] == (f"events.0.{name}: too large (beyond "
                                         f"+-(2**256 - 1) ppm)")
    assert client.get("/state").json() == before


@pytest.mark.parametrize("vol", ["NaN", "inf", "-Infinity", "1e999999999", "-1e999999999"])
def test_vol_when_not_finite_or_huge_then_422_names_it(tmp_path: Any, vol: str) -> None:
    # vol_ppm converted to an integer before bounding it (was a 500: ValueError on NaN,
    # decimal.Overflow on 1e999999999), at /ticks and /whatif alike.
    from tests.service.test_options import _client, _config

    with _client(_config(tmp_path, "derive-pm2")) as c:
        before = c.get("/state").json()
        error = f"vols.WETH: must be in 0.01..10 (got {vol})"
        r = c.post("/ticks", json={"vols": {"WETH": vol}}, headers=AUTH)
        assert (r.status_code, r.json()["error"]) == (422, error)
        r = c.post("/whatif", json={"shocks": {"WETH": -0.1}, "vols": {"WETH": vol}})
        assert (r.status_code, r.json()["error"]) == (422, error)
        assert c.get("/state").json() == before


def test_body_when_nested_too_deep_to_parse_then_400_names_body(client: Any) -> None:
    # The JSON decoder's recursion limit: FastAPI's own 400, answered as every refusal is.
    r = client.post("/ticks", content=b"[" * 4000, headers=JSON)  # within the 4 KiB limit
    assert r.status_code == 400
    assert r.json() == {"error": "body: cannot be parsed (malformed or nested too deep)",
                        "detail": [{"field": "body", "reason": "cannot be parsed "
                                                               "(malformed or nested too deep)"}]}


def test_route_when_unknown_or_wrong_method_then_4xx_names_it(client: Any) -> None:
    r = client.get("/nope")
    assert (r.status_code, r.json()["error"]) == (404, "path: not found (GET /nope)")
    r = client.get("/accounts/")
    assert (r.status_code, r.json()["error"]) == (404, "path: not found (GET /accounts/)")
    r = client.delete("/ticks", headers=AUTH)
    assert (r.status_code, r.json()["error"]) == (405, "method: method not allowed "
                                                       "(DELETE /ticks)")


def test_ws_ingest_when_nested_too_deep_then_error_and_socket_stays_open(client: Any) -> None:
    # json.loads raised RecursionError (not a ValueError): the socket closed with a
    # traceback. Now the same answer as the HTTP 400, and the next tick goes through.
    before = client.get("/state").json()
    with client.websocket_connect("/ws/ingest?token=test-token") as ws:
        ws.send_text("[" * 4000)
        assert ws.receive_json() == {"error": "body: cannot be parsed (malformed or "
                                              "nested too deep)"}
        assert client.get("/state").json() == before
        ws.send_text('{"prices": {"WETH": "1990"}}')
        assert ws.receive_json()["outcomes"][0]["outcome"] == "SetPriceAccepted"


#: (message, answer) over the ingest WebSocket: each answered, the socket kept.
WS_BAD: list[tuple[str, str]] = [
    ("5", "body: must be a table (a JSON object) (got 5)"),
    ("null", "body: must be a table (a JSON object) (got null)"),
    ("[1, 2]", "body: must be a table (a JSON object) (got an array)"),
    ('{"ticks": 5}', "ticks: must be an array (got 5)"),
    ('{"ticks": [5]}', "ticks.0: must be a table (a JSON object) (got 5)"),
    ('{"prices": 5}', "prices: must be a table (a JSON object) (got 5)"),
    ('{"prices": {"WETH": 1e400}}', "prices.WETH: must be a finite number (inf is not)"),
    ('{"prices": {"WETH": ' + "9" * 5000 + "}}",
     "body: line 1: a number has more than 4300 digits"),
    ('{"advance_seconds": true}', "advance_seconds: must be an integer (got True)"),
    ('{"advance_seconds": 1e400}', "advance_seconds: must be an integer (got inf)"),
    ('{"events": [5]}', "events.0: must be a table (a JSON object) (got 5)"),
    ('{"events": [{"type": "Deposit", "account": 5, "asset": "WETH", "amount": 1}]}',
     "events.0.account: must be a string (got 5)"),
    ('{"conditions": {"WETH": {"depth": "x"}}}',
     "conditions.WETH.depth: must be an integer (got 'x')"),
    ('{"x": 1}', "x: unknown field (check the spelling)"),
    ("{}", "body: an empty tick (give prices, conditions, vols, events or advance_seconds)"),
    ("{oops", "body: malformed JSON"),
]


def test_ws_ingest_when_malformed_then_each_answered_and_socket_kept() -> None:
    # Only ValueError and engine errors were caught: a non-object message or a huge
    # integer closed the socket with a traceback; true was taken as one second.
    from fastapi.testclient import TestClient

    from marginengine.service import Service
    from marginengine.service.app import create_app
    from tests.service.conftest import TOKEN, alice_engine

    app = create_app(Service(alice_engine()), TOKEN, max_body=1 << 16, rate=0)
    with TestClient(app) as client:
        before = client.get("/state").json()
        with client.websocket_connect(f"/ws/ingest?token={TOKEN}") as ws:
            for text, answer in WS_BAD:
                ws.send_text(text)
                assert ws.receive_json() == {"error": answer}, text[:60]
            assert client.get("/state").json() == before
            ws.send_text('{"prices": {"WETH": "1990"}}')
            assert ws.receive_json()["outcomes"][0]["outcome"] == "SetPriceAccepted"


def test_event_when_field_mistyped_then_unknown_first_and_every_problem(client: Any) -> None:
    # It named the missing "account" or the unknown "acount" alone, one per request.
    r = client.post("/events", json={"events": [{"type": "Deposit", "acount": "a",
                                                 "asset": "WETH", "amont": 1}]}, headers=AUTH)
    assert r.status_code == 422
    assert r.json()["error"] == (
        "events.0.acount: unknown field (did you mean account? fields: account, asset, "
        "amount); events.0.amont: unknown field (did you mean amount? fields: account, "
        "asset, amount); events.0.account: required field is missing; events.0.amount: "
        "required field is missing")


def _replay_status(client: Any, replay_id: int) -> dict[str, Any]:
    import time

    deadline = time.time() + 5
    while True:
        status: dict[str, Any] = client.get(f"/replay/{replay_id}").json()
        if status["state"] != "running" or time.time() > deadline:
            return status
        time.sleep(0.02)


def test_replay_when_an_event_is_refused_then_status_names_its_tick_and_field(
        client: Any) -> None:
    # A scheduled replay's refusals and failures went to the server's log only.
    ticks = [{"prices": {"WETH": "1990"}},
             {"events": [{"type": "Borrow", "account": "alice", "asset": "USDC",
                          "amount": 10**12}]},
             {"prices": {"WETH": "1980"}}]
    r = client.post("/replay", json={"ticks": ticks, "rate": 100}, headers=AUTH)
    assert r.json() == {"scheduled": 3, "rate": 100.0, "id": 0, "status": "/replay/0"}
    assert _replay_status(client, 0) == {
        "id": 0, "ticks": 3, "rate": 100.0, "played": 3, "state": "done",
        "refused_count": 1, "error": None,
        "refused": [{"field": "ticks.1.events.0", "code": "NOT_ENOUGH_LIQUIDITY",
                     "reason": "not enough liquidity: the pool holds only 975000000000 "
                               "of USDC"}]}


def test_replay_when_the_log_fails_while_playing_then_status_names_the_tick(
        client: Any) -> None:
    import asyncio

    from marginengine.engine import SetPrice

    service = client.service
    # Each tick as play takes it: built when it plays.
    ticks = [("ticks.0", lambda: [("ticks.0.prices.WETH", SetPrice("WETH", 1990 * 10**8))]),
             ("ticks.1", lambda: [("ticks.1.prices.WETH", SetPrice("WETH", 1980 * 10**8))])]
    status = {"id": 0, "ticks": 2, "rate": 1000.0, "played": 0, "state": "running",
              "refused_count": 0, "refused": [], "error": None}

    async def fail_after_first() -> None:
        play = client.app.app.state.play
        real = service.apply

        def once(*args: Any, **kwargs: Any) -> Any:
            report = real(*args, **kwargs)
            service.log_failure = "disk full"
            return report

        service.apply = once
        await play(ticks, 1000.0, status)

    asyncio.run(fail_after_first())
    assert (status["state"], status["played"], status["error"]) == (
        "failed", 1, "ticks.1: log: writes are refused since the log failed: disk full")


def test_replay_status_when_unknown_id_then_404_naming_it(client: Any) -> None:
    r = client.get("/replay/3")
    assert (r.status_code, r.json()["error"]) == (404, "replay_id: no replay 3 (none "
                                                       "scheduled)")
    r = client.get("/replay/x")
    assert (r.status_code, r.json()["error"]) == (422, "path.replay_id: must be an integer "
                                                       "(got 'x')")


def test_write_when_key_is_a_lone_surrogate_then_422_quoting_it_escaped(client: Any) -> None:
    # Fuzzed: "\ud800" is valid JSON; quoting it back as UTF-8 raised UnicodeEncodeError,
    # a 500. The refusal is ASCII-escaped JSON now.
    for path, body in (("/ticks", b'{"prices": {"\\ud800": 1}}'),
                       ("/whatif", b'{"shocks": {"\\ud800": -0.1}}')):
        r = client.post(path, content=body, headers=JSON)
        assert r.status_code == 422
        assert b"\\ud800" in r.content
    assert r.json()["error"] == "shocks.\ud800: unknown asset"


def test_heatmap_when_asset_has_no_price_then_422_names_the_query_field() -> None:
    from fastapi.testclient import TestClient

    from marginengine.engine import Engine, SetPrice
    from marginengine.service import Service
    from marginengine.service.app import create_app
    from tests.conftest import USD, simple_aave

    engine = Engine(simple_aave())
    assert engine.apply(SetPrice("WETH", 2000 * USD)).accepted
    with TestClient(create_app(Service(engine), "t", rate=0)) as c:
        r = c.get("/heatmap?asset=DAI")
    assert (r.status_code, r.json()["error"]) == (422, "query.asset: DAI has no price yet")


@pytest.mark.parametrize(("headers", "got"), [
    ({"content-type": "application/x-www-form-urlencoded"},
     "got Content-Type: application/x-www-form-urlencoded"),  # what `curl -d` sends
    ({"content-type": "text/plain"}, "got Content-Type: text/plain"),
    ({}, "no Content-Type given"),
])
def test_write_when_body_not_sent_as_json_then_415_names_the_header(
        client: Any, headers: dict[str, str], got: str) -> None:
    # Before: 422 "body: must be a table (a JSON object) (got a bytes)", for a body that
    # is a JSON object (the commands in examples/serve_options.toml's header).
    seq = client.service.engine.seq
    body = b'{"prices": {"WETH": "1990"}}'
    for path in ("/ticks", "/whatif"):
        r = client.post(path, content=body, headers={**AUTH, **headers})
        assert r.status_code == 415, r.text
        assert r.json()["error"] == (f"body: send JSON with Content-Type: application/json "
                                     f"({got})")
    assert client.service.engine.seq == seq
    # A JSON type with parameters, or a +json type, is JSON.
    for kind in ("application/json; charset=utf-8", "application/merge+json"):
        r = client.post("/ticks", content=body, headers={**AUTH, "content-type": kind})
        assert r.status_code == 200, r.text


def test_event_when_two_fields_missing_then_detail_names_each(client: Any) -> None:
    # Before: one detail entry whose reason carried the second field's problem.
    r = client.post("/events", headers=AUTH, json={"events": [
        {"type": "Deposit", "account": "alice"}]})
    assert r.status_code == 422
    assert r.json() == {
        "error": "events.0.asset: required field is missing; events.0.amount: required "
                 "field is missing",
        "detail": [{"field": "events.0.asset", "reason": "required field is missing"},
                   {"field": "events.0.amount", "reason": "required field is missing"}]}
