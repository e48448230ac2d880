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
import dataclasses
import difflib
import functools
import json
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from decimal import Decimal
from importlib import resources
from typing import Annotated, Any

import anyio
from fastapi import Depends, FastAPI, HTTPException, Query, Request, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocketDisconnect

from marginengine.config.amounts import HumanNumber
from marginengine.config.loading import too_many_digits
from marginengine.config.problems import validation_problems
from marginengine.engine import EVENT_TYPES, Event, SetVolSurface
from marginengine.errors import LogError, MarginEngineError, field_path
from marginengine.service.core import Service, TickReport
from marginengine.service.metrics import Metrics
from marginengine.service.requests import (
    ReplayFile,
    RequestError,
    account_events,
    advance_event,
    advanced,
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


#: What /docs shows of an event (validation is the engine's ``event_from_dict``): its
#: ``type``, one of the engine's event names, and each type's fields, from the events
#: themselves, so an event the engine gains is described the same day.
_EVENT_SCHEMA: dict[str, Any] = {
    "items": {"type": "object", "required": ["type"], "additionalProperties": True,
              "properties": {"type": {"type": "string", "enum": list(EVENT_TYPES)}}},
    "x-event-fields": {name: [f.name for f in dataclasses.fields(cls)]
                       for name, cls in EVENT_TYPES.items()},
}


class TickIn(_Strict):
    """One tick: prices (USD per whole token, decimal strings or numbers), market conditions
    (``{"WETH": {"volatility_ppm": 800000, "depth": ..., "open_interest": ...}}``, integers
    in the units of :mod:`marginengine.oracle.conditions`), options' ATM vols (``{"WETH":
    0.8}``: every expiry of WETH with a surface, skews kept), optionally time advanced first
    (seconds), and account events applied after the prices, conditions and vols."""

    prices: dict[str, HumanNumber] = Field(default_factory=dict)
    conditions: dict[str, dict[str, Any]] = Field(default_factory=dict)
    vols: dict[str, HumanNumber] = Field(default_factory=dict)
    # Strict: true is not one second, nor "5" five (as a config file's numbers).
    advance_seconds: StrictInt | None = None
    events: list[dict[str, Any]] = Field(default_factory=list,
                                         json_schema_extra=_EVENT_SCHEMA)


class BatchIn(_Strict):
    """Several ticks, applied in order as one batch (one log commit, all or nothing)."""

    ticks: list[TickIn] = Field(min_length=1)


class EventsIn(_Strict):
    """Account events, as the engine logs them (amounts in smallest units, integers)."""

    events: list[dict[str, Any]] = Field(
        min_length=1, json_schema_extra=_EVENT_SCHEMA,
        description="Engine events: {\"type\": NAME, **fields}; the fields of each NAME "
                    "are in x-event-fields (docs/api.md describes each event).")


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


class _ErrorResponse(JSONResponse):
    """A refusal's JSON, ASCII-escaped: it quotes the request back, and a lone surrogate
    (``"\\ud800"``, valid JSON) cannot be encoded as UTF-8 (the answer was a 500)."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, separators=(",", ":")).encode("ascii")


def _error(field: str, reason: str, status: int = 422) -> JSONResponse:
    return _ErrorResponse({"error": f"{field}: {reason}",
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
               replay: ReplayFile | None = None, replay_rate: float = 2.0) -> Any:
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
        A price file to play once started (the ``--replay`` source, ``GET /replay/0``;
        checked against the surfaces beforehand, :meth:`ReplayFile.check`), ticks per
        second. Each tick is read when it plays, at the engine's time then
        (:meth:`ReplayFile.tick`: its vols skip the expiries passed); its refusals and
        errors name its line and column (``line 3, column WETH``).
    """
    if not token:
        raise ValueError("token: an API token is required for writes")
    hub = Hub()
    metrics = Metrics(service)
    limiter = RateLimit(rate, burst)
    lock = asyncio.Lock()
    # The heavy reads (heatmap, what-if): read under ``lock`` between writes, computed
    # one at a time in a worker thread; heatmaps kept by their arguments while the
    # engine's seq stays where they were read (docs/service.md, heavy reads).
    heavy = asyncio.Lock()
    heatmaps: dict[tuple[str, int, Decimal], dict[str, Any]] = {}
    heatmaps_seq = [-1]
    # GET /state's last answer: [seq, state hash].
    state_seen: list[Any] = [-1, ""]
    background: set[asyncio.Task[None]] = set()
    replays: list[dict[str, Any]] = []

    def push(alert: dict[str, Any]) -> None:
        if hub.queues:
            hub.publish(json.dumps(alert, separators=(",", ":")))

    service.listeners.append(push)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if replay is not None and replay.rows:
            schedule([(f"line {line}", functools.partial(file_tick, replay, i, line))
                      for i, (line, _, _) in enumerate(replay.rows)], replay_rate)
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
        dependencies=[Depends(_query_once)],
    )
    app.state.service = service
    app.state.hub = hub
    app.state.metrics = metrics

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        kind = request.headers.get("content-type")
        if (kind is None or not _is_json(kind)) and any(
                isinstance(e.get("input"), bytes) for e in errors):
            # FastAPI reads a body as JSON only when its Content-Type says so (`curl -d`
            # sends a form type) and passes the bytes on unread: they were refused as
            # "not an object (got a bytes)".
            got = "no Content-Type given" if kind is None else f"got Content-Type: " \
                                                                f"{kind[:100]}"
            return _error("body", f"send JSON with Content-Type: application/json ({got})",
                          415)
        if any(e.get("type") == "json_invalid" for e in errors):
            return _error("body", "malformed JSON")
        problems = _problems(errors) or [("body", "invalid request")]
        return _ErrorResponse({"error": "; ".join(f"{f}: {r}" for f, r in problems),
                             "detail": [{"field": f, "reason": r} for f, r in problems]},
                            status_code=422)

    @app.exception_handler(RequestError)
    async def refused(_: Request, exc: RequestError) -> JSONResponse:
        # Each problem its own entry of detail (an event missing two fields names both).
        return _ErrorResponse({"error": f"{exc.field}: {exc.reason}",
                               "detail": [{"field": f, "reason": r} for f, r in exc.problems]},
                              status_code=exc.status)

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

    def named_tick_events(tick: TickIn, where: str, start: int | None = None
                          ) -> list[tuple[str, Event]]:
        # Each event with the field of the request it came from (a refusal names it);
        # its vols read at the time it applies: ``start`` (the engine's time now by
        # default) plus its own advance.
        named: list[tuple[str, Event]] = []
        named += [(f"{where}advance_seconds", e) for e in
                  advance_event(tick.advance_seconds, f"{where}advance_seconds")]
        named += [(f"{where}prices.{getattr(e, 'asset', '')}", e) for e in
                  price_events(service.config, tick.prices, f"{where}prices")]
        named += [(f"{where}conditions.{getattr(e, 'asset', '')}", e) for e in
                  condition_events(service.config, tick.conditions, f"{where}conditions")]
        state = service.engine.state
        now = (service.engine.ledger.time if start is None else start) + (
            tick.advance_seconds or 0)
        named += [(f"{where}vols.{getattr(e, 'underlying', '')}", e) for e in
                  vol_events(service.config, state.vols, state.svi, tick.vols,
                             f"{where}vols", now)]
        named += [(field_path(f"{where}events", i), e) for i, e in enumerate(
            account_events(service.config, service.known, tick.events, f"{where}events"))]
        return named

    def tick_events(tick: TickIn, where: str) -> list[Event]:
        return [e for _, e in named_tick_events(tick, where)]

    def batch_events(ticks: list[TickIn]) -> list[tuple[str, list[tuple[str, Event]]]]:
        # Ticks applied in order, one after the other: each reads its vols at the time
        # the earlier ticks' advances (and its own) bring, as it would alone then.
        clock = service.engine.ledger.time
        out: list[tuple[str, list[tuple[str, Event]]]] = []
        for i, tick in enumerate(ticks):
            where = field_path("ticks", i)
            named = named_tick_events(tick, f"{where}.", clock)
            clock = advanced(clock, (e for _, e in named))
            out.append((where, named))
        return out

    def file_tick(source: ReplayFile, index: int, line: int) -> list[tuple[str, Event]]:
        # A price file's tick as it plays now (its vols at the engine's time then).
        engine = service.engine
        return [(_csv_field(line, e), e)
                for e in source.tick(index, engine.state.vols, engine.ledger.time)]

    def check_size(events: list[Event], where: str = "events") -> None:
        if len(events) > service.settings.max_events:
            raise RequestError(where, f"too many events in one request ({len(events)}; "
                                      f"at most {service.settings.max_events})", 413)

    async def apply(events: list[Event], ticks: int, received: float) -> TickReport:
        check_size(events)
        if service.log_failure is not None:
            raise LogError(f"writes are refused since the log failed: {service.log_failure}")
        async with lock:
            report = service.apply(events, received, ticks)
        metrics.observe(report)
        return report

    async def run(events: list[Event], ticks: int, received: float) -> Response:
        report = await apply(events, ticks, received)
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
        return await run(tick_events(_not_empty(tick), ""), 1, received)

    @app.post("/ticks/batch", dependencies=auth, tags=["ingest"])
    async def post_ticks(batch: BatchIn) -> Response:
        """Apply several ticks in order as one batch: every tick is checked before any is
        applied; one log commit; one alert pass."""
        received = time.perf_counter()
        events = [e for _, named in batch_events(batch.ticks) for _, e in named]
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
        source); every tick is checked first. Its progress, every event refused and the
        error that stopped it, if any, are at ``GET /replay/{id}``."""
        # Every tick checked now, in order; each is read again when it plays, at the
        # engine's time then (another write may have moved the clock meanwhile).
        for where, tick in batch_events(body.ticks):
            check_size([e for _, e in tick], field_path(where, "events"))
        if service.log_failure is not None:
            raise LogError(f"writes are refused since the log failed: {service.log_failure}")
        status = schedule([(field_path("ticks", i), functools.partial(
            named_tick_events, t, f"{field_path('ticks', i)}.")) for i, t in
            enumerate(body.ticks)], body.rate)
        return {"scheduled": len(body.ticks), "rate": body.rate, "id": status["id"],
                "status": f"/replay/{status['id']}"}

    @app.get("/replay/{replay_id}", tags=["ingest"])
    async def get_replay(replay_id: int) -> dict[str, Any]:
        """A replay's progress: ``state`` (running, done or failed), ticks played, the
        events refused (each with the field of the tick it came from and the engine's
        reason) and the error that stopped it (naming the tick)."""
        if not 0 <= replay_id < len(replays):
            raise HTTPException(404, f"replay_id: no replay {replay_id} (ids 0 to "
                                     f"{len(replays) - 1})" if replays else
                                f"replay_id: no replay {replay_id} (none scheduled)")
        return replays[replay_id]

    def schedule(ticks: list[tuple[str, Callable[[], list[tuple[str, Event]]]]],
                 rate: float) -> dict[str, Any]:
        status: dict[str, Any] = {"id": len(replays), "ticks": len(ticks), "rate": rate,
                                  "played": 0, "state": "running", "refused_count": 0,
                                  "refused": [], "error": None}
        replays.append(status)
        task = asyncio.create_task(play(ticks, rate, status))
        background.add(task)
        task.add_done_callback(background.discard)
        return status

    async def play(ticks: list[tuple[str, Callable[[], list[tuple[str, Event]]]]],
                   rate: float, status: dict[str, Any]) -> None:
        for n, (where, build) in enumerate(ticks):
            try:
                received = time.perf_counter()
                # Built and applied with no await between: nothing else writes meanwhile.
                tick = build()
                report = await apply([e for _, e in tick], 1, received)
            except Exception as exc:
                # Stopped (the log failed, say): told to the client at GET /replay/{id},
                # not only to the server's log as an unretrieved task's exception.
                status["state"] = "failed"
                status["error"] = f"{where}: log: {exc}" if isinstance(exc, LogError) \
                    else f"{where}: {exc}" if isinstance(exc, MarginEngineError) \
                    else f"{where}: {type(exc).__name__}: {exc}"
                return
            status["played"] = n + 1
            for (field, _), outcome in zip(tick, report.outcomes, strict=False):
                if not outcome.accepted:
                    status["refused_count"] += 1
                    if len(status["refused"]) < _MAX_REFUSALS_SHOWN:
                        status["refused"].append({"field": field, "reason": outcome.reason,
                                                  "code": outcome.code})
            await asyncio.sleep(1.0 / rate)
        status["state"] = "done"

    app.state.play = play
    app.state.replays = replays

    async def ws_answer(text: str, received: float) -> str:
        """The answer to one ingest message: its report, or ``{"error": "<field>:
        <reason>"}`` with nothing applied. Every failure is answered here, so one bad
        message never closes the socket (or leaves a traceback)."""
        try:
            data = json.loads(text)
        except RecursionError:
            # Nested beyond the decoder's depth: as the HTTP routes' 400.
            return _ws_refusal("body", "cannot be parsed (malformed or nested too deep)")
        except ValueError as exc:  # JSONDecodeError, or an integer beyond 4300 digits
            return _ws_refusal("body", "malformed JSON" if isinstance(
                exc, json.JSONDecodeError) else too_many_digits(text))
        try:
            if isinstance(data, dict) and "ticks" in data:
                batch = BatchIn.model_validate(data)
                events = [e for _, named in batch_events(batch.ticks) for _, e in named]
                count = len(batch.ticks)
            else:
                events = tick_events(_not_empty(TickIn.model_validate(data)), "")
                count = 1
            response = await run(events, count, received)
        except ValidationError as exc:
            problems = _problems(exc.errors())
            return json.dumps({"error": "; ".join(f"{f}: {r}" for f, r in problems)})
        except RequestError as exc:
            return _ws_refusal(exc.field, exc.reason)
        except MarginEngineError as exc:
            return json.dumps({"error": str(exc)})
        except Exception as exc:
            # A value no check above foresaw (the engine's own faults arrive as
            # LogError): answered, and the socket kept, where it closed with a traceback.
            return _ws_refusal("body", f"cannot be applied ({type(exc).__name__}: "
                                       f"{str(exc)[:200]})")
        return bytes(response.body).decode()

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
                await ws.send_text(await ws_answer(text, received))
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
        account would be liquidatable. The portfolio accounts' exact reads run in a
        worker thread over the state read when the request is taken in."""
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
        async with heavy:
            async with lock:
                state = service.engine.state
                # The tick's own reading of vols: one surface per expiry, its skew kept.
                # The expiries passed are left out, as a tick now would leave them out.
                surfaces = {(e.underlying, e.expiry): (e.vol_ppm, e.skew_ppm)
                            for e in vol_events(service.config, state.vols, state.svi,
                                                body.vols, now=service.engine.ledger.time)
                            if isinstance(e, SetVolSurface)}
                read = service.whatif_read(shocks, body.account, surfaces or None)
            return await anyio.to_thread.run_sync(read.run)

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
                      max_drop: Annotated[str, Query(
                          description="a fraction, 0 < max_drop < 1 (exact decimal)")]
                      = "0.5") -> dict[str, Any]:
        """Liquidations by price level of ``asset``, from its price down by ``max_drop``
        in ``steps`` levels. A bad query is refused naming ``query.FIELD``, as FastAPI
        names the others (``query.steps``). Computed in a worker thread over the state
        read when the request is taken in (ticks are applied meanwhile); asked again at
        the same state (``seq``), answered from the one computed."""
        if asset not in service.config.markets:
            raise RequestError("query.asset", f"unknown asset {asset!r} (markets: "
                                              f"{', '.join(sorted(service.config.markets))})")
        if asset not in service.engine.prices:
            raise RequestError("query.asset", f"{asset} has no price yet")
        key = (asset, steps, _drop(max_drop))
        # One heatmap at a time; a refresh at the same state (seq) while one computes
        # waits for it and is answered from it.
        async with heavy:
            async with lock:
                if heatmaps_seq[0] != service.engine.seq:
                    heatmaps.clear()
                    heatmaps_seq[0] = service.engine.seq
                done = heatmaps.get(key)
                if done is None:
                    read = service.heatmap_read(*key)
            if done is not None:
                metrics.heatmaps.labels("reused").inc()
                return done
            # Kept under the seq it was read at (a tick meanwhile moves the seq on: the
            # next request starts afresh).
            result = await anyio.to_thread.run_sync(read.run)
            metrics.heatmaps.labels("computed").inc()
            if len(heatmaps) < _MAX_HEATMAPS:
                heatmaps[key] = result
            return result

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
        """The engine's state hash and event count (equal to a replay of the log). The
        ledger's part is built from each account's JSON kept since the last hash, made
        again only for the accounts written since (see ``Ledger.reuse_hash_pieces``); asked
        again at the same ``seq``, answered from the last one."""
        async with lock:
            seq = service.engine.seq
            if state_seen[0] != seq:
                state_seen[:] = [seq, service.engine.state_hash()]
            return {"seq": seq, "state_hash": state_seen[1]}

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


#: Heatmaps kept at one state (distinct assets, steps and drops asked at one seq).
_MAX_HEATMAPS = 16

#: The most refusals a replay's status lists (it counts all of them).
_MAX_REFUSALS_SHOWN = 100

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


def _not_empty(tick: TickIn) -> TickIn:
    # One tick by itself (POST /ticks, a WebSocket message) must carry something; an
    # empty tick in a batch is a pause.
    if not (tick.prices or tick.conditions or tick.vols or tick.events) \
            and tick.advance_seconds is None:
        raise RequestError("body", "an empty tick (give prices, conditions, vols, events "
                                   "or advance_seconds)")
    return tick


def _is_json(content_type: str) -> bool:
    # As FastAPI decides it: application/json, or a +json subtype (application/merge+json).
    media = content_type.partition(";")[0].strip().lower()
    main, _, sub = media.partition("/")
    return main == "application" and (sub == "json" or sub.endswith("+json"))


def _query_names(dependant: Any) -> list[str]:
    """The query parameters a route reads: its own and its dependencies' (FastAPI's
    ``Dependant`` tree, read through its public fields)."""
    names = [p.alias for p in dependant.query_params]
    for sub in dependant.dependencies:
        names += [n for n in _query_names(sub) if n not in names]
    return names


def _query_once(connection: HTTPConnection) -> None:
    """Refuse a query parameter given twice (the last would be taken silently: no query
    of the service takes a list) or one the route does not take (it would be ignored: a
    misspelt ``max_drop`` answered at the default 0.5 as if read)."""
    if connection.scope["type"] != "http":
        return
    seen: dict[str, str] = {}
    for name, value in connection.query_params.multi_items():
        if name in seen:
            raise RequestError(f"query.{name[:40]}", f"given twice ({seen[name][:40]!r} and "
                                                     f"{value[:40]!r}); give it once")
        seen[name] = value
    route = connection.scope.get("route")
    # The API's own routes only: the dashboard page takes what a browser adds to it.
    if not seen or not isinstance(route, APIRoute) or not route.include_in_schema:
        return
    taken = _query_names(route.dependant)
    for name in seen:
        if name in taken:
            continue
        if not taken:
            method = connection.scope.get("method", "GET")
            raise RequestError(f"query.{name[:40]}",
                               f"unknown parameter ({method} {route.path} takes none)")
        close = difflib.get_close_matches(name, taken, n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        raise RequestError(f"query.{name[:40]}", f"unknown parameter ({hint}parameters: "
                                                 f"{', '.join(taken)})")


def _drop(text: str) -> Decimal:
    # Read exactly (as the heatmap's levels are Decimals): 0.1 is 0.1, nan and inf no
    # fraction, and a number too long to be one refused before Decimal reads it.
    drop: Decimal | None = None
    if len(text) <= 40:
        with contextlib.suppress(ArithmeticError, ValueError):
            drop = Decimal(text.strip())
    if drop is None or not drop.is_finite() or not 0 < drop < 1:
        raise RequestError("query.max_drop", f"must be a fraction greater than 0 and less "
                                             f"than 1 (got {text!r})")
    return drop


def _csv_field(line: int, event: Event) -> str:
    # The price file's columns: an asset's price, a vol column, or advance_seconds.
    column = f"vol.{event.underlying}" if isinstance(event, SetVolSurface) else (
        getattr(event, "asset", None) or "advance_seconds")
    return f"line {line}, column {column}"


def _ws_refusal(field: str, reason: str) -> str:
    return json.dumps({"error": f"{field}: {reason}"})


def _problems(errors: Any) -> list[tuple[str, str]]:
    # The one wording of pydantic's errors (config.problems), paths without FastAPI's
    # "body" part, so a 422 names ``ticks.1.prices.WETH`` as a config file's error would.
    return validation_problems(errors, skip=("body",), top="body")


def _asset(name: str) -> str:
    return resources.files("marginengine.service").joinpath("static", name).read_text("utf-8")
