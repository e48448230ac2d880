"""The HTTP face of :class:`~marginengine.service.core.Service`: FastAPI routes, pushes,
limits and the dashboard. Imported only by ``marginengine serve`` and tests (it needs the
``serve`` extra: fastapi, uvicorn, psycopg).

Every request body is a pydantic model; a bad one is answered ``422`` with
``{"error": "<field>: <reason>", "detail": [...]}`` and nothing is applied. Writes need the
API token (``Authorization: Bearer <token>`` or ``X-API-Token``; ``?token=`` on the
ingest WebSocket); bodies above ``max_body`` bytes get ``413``; writes beyond the ingest
rate get ``429``. See docs/service.md for every route.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from decimal import Decimal
from importlib import resources
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.websockets import WebSocketDisconnect

from marginengine.config.amounts import HumanNumber
from marginengine.engine import Event, SetVolSurface
from marginengine.errors import LogError, MarginEngineError, field_path
from marginengine.service.core import Service
from marginengine.service.metrics import Metrics
from marginengine.service.requests import (
    RequestError,
    account_events,
    advance_event,
    condition_events,
    price_events,
    vol_events,
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Largest request body accepted by default (bytes).
DEFAULT_MAX_BODY = 1 << 20


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False)


class TickIn(_Strict):
    """One tick: prices (USD per whole token, decimal strings or numbers), market conditions
    (``{"WETH": {"volatility_ppm": 800000, "depth": ..., "open_interest": ...}}``, integers
    in the units of :mod:`marginengine.oracle.conditions`), options' ATM vols (``{"WETH":
    0.8}``: every expiry of WETH with a surface, skews kept), optionally time advanced first
    (seconds), and account events applied after the prices, conditions and vols."""

    prices: dict[str, HumanNumber] = Field(default_factory=dict)
    conditions: dict[str, dict[str, Any]] = Field(default_factory=dict)
    vols: dict[str, HumanNumber] = Field(default_factory=dict)
    advance_seconds: int | None = None
    events: list[dict[str, Any]] = Field(default_factory=list)


class BatchIn(_Strict):
    """Several ticks, applied in order as one batch (one log commit, all or nothing)."""

    ticks: list[TickIn] = Field(min_length=1)


class EventsIn(_Strict):
    """Account events, as the engine logs them (amounts in smallest units, integers)."""

    events: list[dict[str, Any]] = Field(min_length=1)


class WhatIfIn(_Strict):
    """Price shocks as fractions (``{"WETH": -0.3}``: a 30% drop) and, for options, ATM
    vols per underlying (``{"WETH": 1.5}``: every expiry with a surface, skews kept)."""

    shocks: dict[str, HumanNumber] = Field(default_factory=dict)
    vols: dict[str, HumanNumber] = Field(default_factory=dict)
    account: str | None = None


class ReplayIn(_Strict):
    """A replay source: ticks played at ``rate`` ticks per second in the background."""

    ticks: list[TickIn] = Field(min_length=1)
    rate: float = Field(default=2.0, gt=0, le=1000)


def _field(loc: Any) -> str:
    # The one dotted notation (errors.field_path) so a 422 names ``ticks.1.prices.WETH``
    # exactly as a config file's or a scenario's error would.
    return field_path(*(str(p) for p in loc if p != "body")) or "body"


def _error(field: str, reason: str, status: int = 422) -> JSONResponse:
    return JSONResponse({"error": f"{field}: {reason}",
                         "detail": [{"field": field, "reason": reason}]}, status_code=status)


class BodyLimit:
    """Refuse bodies above ``limit`` bytes (``413``), declared or streamed."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await _error("body", f"too large ({int(declared)} bytes; at most {self.limit})",
                         413)(scope, receive, send)
            return
        # Read the whole body first (it is small by construction), so a streamed body
        # beyond the limit is refused before the application sees any of it.
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > self.limit:
                await _error("body", f"too large (more than {self.limit} bytes)", 413)(
                    scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class RateLimit:
    """A token bucket: ``rate`` writes per second on average, bursts of ``burst``."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.at = time.monotonic()

    def take(self, n: float = 1.0) -> bool:
        """Whether ``n`` writes may go now (and take them)."""
        if self.rate <= 0:
            return True
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < n:
            return False
        self.tokens -= n
        return True


class Hub:
    """Fan-out of alerts to WebSocket and SSE clients (bounded queues: a slow client loses
    its oldest messages, counted, and never slows the engine)."""

    def __init__(self, size: int = 256) -> None:
        self.queues: set[asyncio.Queue[str]] = set()
        self.size = size
        self.dropped = 0

    def publish(self, message: str) -> None:
        """Queue ``message`` (JSON text, encoded once for every client) for every client."""
        for q in list(self.queues):
            if q.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    q.get_nowait()
                    self.dropped += 1
            q.put_nowait(message)

    @contextlib.contextmanager
    def subscribe(self) -> Any:
        """A queue for one client, removed when it leaves."""
        q: asyncio.Queue[str] = asyncio.Queue(self.size)
        self.queues.add(q)
        try:
            yield q
        finally:
            self.queues.discard(q)


def create_app(service: Service, token: str, *, max_body: int = DEFAULT_MAX_BODY,
               rate: float = 200.0, burst: int = 400, on_close: Callable[[], None] | None = None,
               replay: list[list[Event]] | None = None, replay_rate: float = 2.0) -> Any:
    """The ASGI application around ``service``.

    Parameters
    ----------
    service
        The engine, book and alert state.
    token
        The API token every write must carry.
    max_body
        Largest request body, bytes.
    rate, burst
        Ingest rate limit (writes per second, and the burst allowed); ``rate <= 0``: none.
    on_close
        Called at shutdown (closes the log).
    replay, replay_rate
        Ticks to play once started (the ``--replay`` source), ticks per second.
    """
    if not token:
        raise ValueError("token: an API token is required for writes")
    hub = Hub()
    metrics = Metrics(service)
    limiter = RateLimit(rate, burst)
    lock = asyncio.Lock()
    background: set[asyncio.Task[None]] = set()

    def push(alert: dict[str, Any]) -> None:
        if hub.queues:
            hub.publish(json.dumps(alert, separators=(",", ":")))

    service.listeners.append(push)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if replay:
            task = asyncio.create_task(play(replay, replay_rate))
            background.add(task)
            task.add_done_callback(background.discard)
        yield
        for task in background:
            task.cancel()
        if on_close is not None:
            on_close()

    app = FastAPI(
        title="marginengine live service",
        version="0.1.0",
        description="Price ticks and account events in; alerts, account health, what-if, "
                    "heatmaps and protocol totals out. Writes need the API token.",
        lifespan=lifespan,
    )
    app.state.service = service
    app.state.hub = hub
    app.state.metrics = metrics

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {"loc": ("body",), "msg": "invalid request"}
        field = _field(first.get("loc", ()))
        reason = _msg(first.get("msg", "invalid"))
        if first.get("type") == "json_invalid":
            return _error("body", "malformed JSON")
        return JSONResponse({"error": f"{field}: {reason}",
                             "detail": [{"field": _field(e.get("loc", ())),
                                         "reason": _msg(e.get("msg"))} for e in errors]},
                            status_code=422)

    @app.exception_handler(RequestError)
    async def refused(_: Request, exc: RequestError) -> JSONResponse:
        return _error(exc.field, exc.reason, exc.status)

    @app.exception_handler(LogError)
    async def log_error(_: Request, exc: LogError) -> JSONResponse:
        # The service's fault, not the request's: no write is accepted until restarted.
        return _error("log", str(exc), 503)

    @app.exception_handler(MarginEngineError)
    async def engine_error(_: Request, exc: MarginEngineError) -> JSONResponse:
        field, sep, reason = str(exc).partition(": ")
        return _error(field if sep else "request", reason if sep else str(exc), 422)

    def check_token(given: str | None) -> None:
        if not given or not secrets.compare_digest(given.encode(), token.encode()):
            raise HTTPException(401, "token: missing or wrong API token "
                                     "(send Authorization: Bearer <token>)")

    async def writer(request: Request) -> None:
        auth = request.headers.get("authorization", "")
        given = auth[7:] if auth.lower().startswith("bearer ") else request.headers.get(
            "x-api-token")
        check_token(given)
        if not limiter.take():
            metrics.rate_limited.inc()
            raise HTTPException(429, "rate: ingest rate limit exceeded; retry later")

    # Starlette's class, so its own refusals (no such route: 404; wrong method: 405; a body
    # FastAPI cannot parse, e.g. nested too deep for the JSON decoder: 400) answer
    # ``{"error": ...}`` too, not ``{"detail": ...}``.
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        text = str(exc.detail)
        field, sep, reason = text.partition(": ")
        if not sep:
            field, reason = _STARLETTE_FIELDS.get(exc.status_code, "request"), text
            if exc.status_code == 400:
                reason = "cannot be parsed (malformed or nested too deep)"
            elif exc.status_code in (404, 405):
                reason = f"{text.lower()} ({request.method} {request.url.path})"
        return _error(field, reason, exc.status_code)

    def tick_events(tick: TickIn, where: str) -> list[Event]:
        events: list[Event] = []
        events += advance_event(tick.advance_seconds, f"{where}advance_seconds")
        events += price_events(service.config, tick.prices, f"{where}prices")
        events += condition_events(service.config, tick.conditions, f"{where}conditions")
        state = service.engine.state
        now = service.engine.ledger.time + (tick.advance_seconds or 0)
        events += vol_events(service.config, state.vols, state.svi, tick.vols,
                             f"{where}vols", now)
        events += account_events(service.config, service.known, tick.events,
                                 f"{where}events")
        return events

    def check_size(events: list[Event]) -> None:
        if len(events) > service.settings.max_events:
            raise RequestError("events", f"too many events in one request ({len(events)}; "
                                         f"at most {service.settings.max_events})", 413)

    async def run(events: list[Event], ticks: int, received: float) -> Response:
        check_size(events)
        if service.log_failure is not None:
            raise LogError(f"writes are refused since the log failed: {service.log_failure}")
        async with lock:
            report = service.apply(events, received, ticks)
        metrics.observe(report)
        # Encoded once here (plain ints, strings and floats): FastAPI's generic encoder
        # costs more than the alert pass on a large book's crash tick.
        return Response(json.dumps(report.to_dict(), separators=(",", ":")),
                        media_type="application/json")

    auth = [Depends(writer)]

    # ------------------------------------------------------------------ ingest
    @app.post("/ticks", dependencies=auth, tags=["ingest"])
    async def post_tick(tick: TickIn) -> Response:
        """Apply one tick (prices, then events) as one batch; answer with its alert."""
        received = time.perf_counter()
        if not (tick.prices or tick.conditions or tick.vols or tick.events) \
                and tick.advance_seconds is None:
            raise RequestError("body", "an empty tick (give prices, conditions, vols, events "
                                       "or advance_seconds)")
        return await run(tick_events(tick, ""), 1, received)

    @app.post("/ticks/batch", dependencies=auth, tags=["ingest"])
    async def post_ticks(batch: BatchIn) -> Response:
        """Apply several ticks in order as one batch: every tick is checked before any is
        applied; one log commit; one alert pass."""
        received = time.perf_counter()
        events: list[Event] = []
        for i, tick in enumerate(batch.ticks):
            events += tick_events(tick, f"{field_path('ticks', i)}.")
        return await run(events, len(batch.ticks), received)

    @app.post("/events", dependencies=auth, tags=["ingest"])
    async def post_events(body: EventsIn) -> Response:
        """Apply account events (deposit, borrow, repay, withdraw, trade, liquidate, ...)
        as one batch; each outcome is reported (an engine refusal is logged and changes
        nothing)."""
        received = time.perf_counter()
        events = account_events(service.config, service.known, body.events)
        return await run(events, 0, received)

    @app.post("/replay", dependencies=auth, tags=["ingest"])
    async def post_replay(body: ReplayIn) -> dict[str, Any]:
        """Play ticks in the background at ``rate`` ticks per second (a demonstration
        source); every tick is checked first."""
        ticks = [tick_events(t, f"{field_path('ticks', i)}.") for i, t in enumerate(body.ticks)]
        task = asyncio.create_task(play(ticks, body.rate))
        background.add(task)
        task.add_done_callback(background.discard)
        return {"scheduled": len(ticks), "rate": body.rate}

    async def play(ticks: list[list[Event]], rate: float) -> None:
        for events in ticks:
            await run(events, 1, time.perf_counter())
            await asyncio.sleep(1.0 / rate)

    app.state.play = play

    @app.websocket("/ws/ingest")
    async def ws_ingest(ws: WebSocket, token_q: Annotated[str | None, Query(alias="token")]
                        = None) -> None:
        """Ingest over a WebSocket: each message is a tick (``TickIn``) or a batch
        (``{"ticks": [...]}``); each answer is the tick's report, or
        ``{"error": "<field>: <reason>"}`` with nothing applied."""
        given = token_q or ws.headers.get("x-api-token")
        if not given or not secrets.compare_digest(given.encode(), token.encode()):
            await ws.close(code=1008, reason="token: missing or wrong API token")
            return
        await ws.accept()
        try:
            while True:
                text = await ws.receive_text()
                received = time.perf_counter()
                if len(text) > max_body:
                    await ws.send_json({"error": f"body: too large ({len(text)} bytes; at "
                                                 f"most {max_body})"})
                    continue
                if not limiter.take():
                    metrics.rate_limited.inc()
                    await ws.send_json({"error": "rate: ingest rate limit exceeded"})
                    continue
                try:
                    try:
                        data = json.loads(text)
                    except RecursionError:
                        # Nested beyond the decoder's depth: as the HTTP routes' 400, and
                        # the socket stays open (it was closed with the traceback).
                        await ws.send_json({"error": "body: cannot be parsed (malformed "
                                                     "or nested too deep)"})
                        continue
                    if isinstance(data, dict) and "ticks" in data:
                        batch = BatchIn.model_validate(data)
                        events: list[Event] = []
                        for i, tick in enumerate(batch.ticks):
                            events += tick_events(tick, f"{field_path('ticks', i)}.")
                        count = len(batch.ticks)
                    else:
                        events = tick_events(TickIn.model_validate(data), "")
                        count = 1
                    response = await run(events, count, received)
                    await ws.send_text(bytes(response.body).decode())
                except ValueError as exc:
                    await ws.send_json({"error": _ws_error(exc)})
                except MarginEngineError as exc:
                    await ws.send_json({"error": str(exc)})
        except WebSocketDisconnect:
            return

    # ------------------------------------------------------------------ push
    @app.websocket("/ws")
    async def ws_alerts(ws: WebSocket) -> None:
        """Every tick's alert, as JSON messages (read-only: no token needed)."""
        await ws.accept()
        with hub.subscribe() as q:
            if service.last_alert:
                await ws.send_text(json.dumps(service.last_alert, separators=(",", ":")))
            receiver = asyncio.create_task(_drain(ws))
            try:
                while True:
                    getter = asyncio.create_task(q.get())
                    done, _ = await asyncio.wait({getter, receiver},
                                                 return_when=asyncio.FIRST_COMPLETED)
                    if receiver in done:
                        getter.cancel()
                        return
                    await ws.send_text(getter.result())
            except (WebSocketDisconnect, RuntimeError):
                return
            finally:
                receiver.cancel()

    @app.get("/stream", tags=["push"])
    async def sse(request: Request) -> StreamingResponse:
        """Every tick's alert as Server-Sent Events (``event: tick``)."""

        async def events() -> AsyncIterator[str]:
            with hub.subscribe() as q:
                yield ": connected\n\n"
                while True:
                    try:
                        message = await asyncio.wait_for(q.get(), timeout=15)
                    except TimeoutError:
                        if await request.is_disconnected():
                            return
                        yield ": keep-alive\n\n"
                        continue
                    yield f"event: tick\ndata: {message}\n\n"

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache"})

    # ------------------------------------------------------------------ queries
    @app.get("/accounts/{account_id}", tags=["query"])
    async def get_account(account_id: str) -> dict[str, Any]:
        """An account's exact figures (smallest units, base-currency 8-decimal values),
        health, alert level and, if liquidatable, the engine's best liquidation."""
        async with lock:
            out = service.account(account_id)
        if out is None:
            raise HTTPException(404, f"account: unknown account {account_id!r}")
        return out

    @app.post("/whatif", tags=["query"])
    async def post_whatif(body: WhatIfIn) -> dict[str, Any]:
        """The book under price shocks (exactly confirmed): liquidatable accounts, debt at
        risk; portfolio accounts also under ``vols``; with ``account``, whether that
        account would be liquidatable."""
        if not body.shocks and not body.vols:
            raise RequestError("shocks", "give at least one price shock (or vols)")
        shocks: dict[str, Decimal] = {}
        for asset, value in body.shocks.items():
            if asset not in service.config.markets:
                raise RequestError(f"shocks.{asset}", "unknown asset")
            if isinstance(value, float) and value != value:
                raise RequestError(f"shocks.{asset}", "must be a finite fraction (got nan)")
            shocks[asset] = service.shock_fraction(value, f"shocks.{asset}")
        if body.account is not None and body.account not in service.known:
            raise RequestError("account", f"unknown account {body.account!r}", 404)
        async with lock:
            state = service.engine.state
            # The tick's own reading of vols: one surface per expiry, its skew kept.
            surfaces = {(e.underlying, e.expiry): (e.vol_ppm, e.skew_ppm)
                        for e in vol_events(service.config, state.vols, state.svi,
                                            body.vols)
                        if isinstance(e, SetVolSurface)}
            return service.whatif(shocks, body.account, surfaces or None)

    @app.get("/at-risk", tags=["query"])
    async def at_risk(limit: Annotated[int, Query(ge=1, le=1000)] = 20
                      ) -> list[dict[str, Any]]:
        """The accounts with the lowest health, lowest first."""
        async with lock:
            return service.at_risk(limit)

    @app.get("/liquidatable", tags=["query"])
    async def liquidatable(limit: Annotated[int, Query(ge=1, le=100_000)] = 1000
                           ) -> dict[str, Any]:
        """Every liquidatable account (exact), up to ``limit`` ids."""
        async with lock:
            ids = service.liquidatable()
        return {"count": len(ids), "accounts": ids[:limit]}

    @app.get("/levels", tags=["query"])
    async def levels() -> dict[str, Any]:
        """The alert state now: every account below a threshold with its level, and every
        liquidatable account (a client syncs from this, then applies each tick's alert)."""
        async with lock:
            return {"tick": service.tick_no, "seq": service.engine.seq,
                    "thresholds": [str(t) for t in service.thresholds],
                    "levels": dict(sorted(service.level.items())),
                    "liquidatable": service.liquidatable()}

    @app.get("/heatmap", tags=["query"])
    async def heatmap(asset: str,
                      steps: Annotated[int, Query(ge=1, le=50)] = 10,
                      max_drop: Annotated[float, Query(gt=0, lt=1)] = 0.5) -> dict[str, Any]:
        """Liquidations by price level of ``asset``, from its price down by ``max_drop``."""
        if asset not in service.config.markets:
            raise RequestError("asset", f"unknown asset {asset!r}", 422)
        if asset not in service.engine.prices:
            raise RequestError("asset", f"{asset} has no price yet", 422)
        async with lock:
            return service.heatmap(asset, steps, Decimal(str(max_drop)))

    @app.get("/summary", tags=["query"])
    async def summary() -> dict[str, Any]:
        """Supplied, borrowed, bad debt and insurance funds; accounts, liquidatable."""
        async with lock:
            return service.summary()

    @app.get("/liquidator-points/{absorber}", tags=["query"])
    async def liquidator_points(absorber: str) -> dict[str, Any]:
        """Comet's ``liquidatorPoints(absorber)`` (compound-v3): its absorbs, the accounts
        they absorbed and its approximate spend in wei (gas used x base fee), zeros for an
        address that never absorbed, as Comet's mapping reads."""
        if not service.engine.rules.accepts("Absorb"):
            raise RequestError("absorber", f"{service.engine.rules.family} keeps no "
                               "liquidator points (it has no Absorb)", 404)
        async with lock:
            points = service.engine.liquidator_points(absorber)
        return {"absorber": absorber, **points.as_dict()}

    @app.get("/state", tags=["query"])
    async def state() -> dict[str, Any]:
        """The engine's state hash and event count (equal to a replay of the log)."""
        async with lock:
            return {"seq": service.engine.seq, "state_hash": service.engine.state_hash()}

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, Any]:
        """Liveness: the event count and the log's pending events."""
        return {"ok": service.log_failure is None, "seq": service.engine.seq,
                "log_pending": metrics.log_pending(), "log_failure": service.log_failure}

    @app.get("/metrics", tags=["ops"])
    async def prometheus() -> Response:
        """Prometheus text format: ticks, tick-to-alert latency, accounts, candidates,
        log lag."""
        body, kind = metrics.render()
        return Response(body, media_type=kind)

    # ------------------------------------------------------------------ dashboard
    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def dashboard() -> HTMLResponse:
        return HTMLResponse(_asset("index.html"))

    @app.get("/static/{name}", include_in_schema=False)
    async def static(name: str) -> Response:
        kinds = {"js": "text/javascript", "css": "text/css"}
        kind = kinds.get(name.rpartition(".")[2])
        if kind is None or "/" in name or name.startswith("."):
            raise HTTPException(404, f"static: no such file {name!r}")
        try:
            return Response(_asset(name), media_type=kind)
        except FileNotFoundError:
            raise HTTPException(404, f"static: no such file {name!r}") from None

    return BodyLimit(app, max_body)


#: The field a Starlette refusal without one names: the body it could not parse, the path
#: it has no route for, the method the route does not take.
_STARLETTE_FIELDS = {400: "body", 404: "path", 405: "method"}


async def _drain(ws: WebSocket) -> None:
    """Read (and ignore) what a push client sends, until it leaves."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            message = await ws.receive()
            if message.get("type") == "websocket.disconnect":
                return


def _msg(text: object) -> str:
    """pydantic's message without its "Value error, " prefix (our validators' own text)."""
    return str(text).removeprefix("Value error, ")


def _ws_error(exc: ValueError) -> str:
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        return f"{_field(first.get('loc', ()))}: {_msg(first.get('msg'))}"
    return "body: malformed JSON"


def _asset(name: str) -> str:
    return resources.files("marginengine.service").joinpath("static", name).read_text("utf-8")
