"""``marginengine serve``: the live service (see docs/service.md). A face only."""

from __future__ import annotations

import ipaddress
import os
import secrets
import socket
import sys
from pathlib import Path

import click


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _finite(_: click.Context, __: click.Parameter, value: float) -> float:
    # click's FloatRange lets nan through (every comparison with it is false); the replay
    # would then sleep 1 / nan seconds between ticks.
    if value != value:
        raise click.BadParameter("must be a number from 0.01 to 1000 (got nan)")
    return value


@click.command()
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--book", "book", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Book file (CSV or Parquet: account,asset,supplied,borrowed and an "
                   "optional emode; or a snapshot .toml with options cash, option positions "
                   "against _book and [[vols]]); default: [service] book in CONFIG. Entered "
                   "through events as the log's first batch (an e-mode account's "
                   "SetUserEMode before its positions), each option trade checked pre-trade.")
@click.option("--log", "log", default=None, metavar="sqlite:PATH | postgresql://...",
              help="Event log: a new SQLite file, or a PostgreSQL database (created, or "
                   "resumed after a restart). Default: no log (not durable).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (loopback by default; anything else is exposed).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on (0: a free one, chosen by the system and printed).")
@click.option("--token", default=None,
              help="API token for writes (default: $MARGINENGINE_TOKEN, else a random one "
                   "printed at startup).")
@click.option("--replay", "replay_file", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Price file to play once started (CSV: a header of asset "
                                 "symbols, one tick per line; with [protocol.options], "
                                 "vol.ASSET columns tick ASSET's ATM vol, e.g. vol.WETH "
                                 "= 0.8, on every expiry with a surface still open when "
                                 "the tick plays; expiries passed are skipped).")
@click.option("--replay-rate", default=2.0, show_default=True,
              type=click.FloatRange(min=0.01, max=1000), callback=_finite,
              help="Ticks per second of --replay.")
def serve(config: Path, book: Path | None, log: str | None, host: str, port: int,
          token: str | None, replay_file: Path | None, replay_rate: float) -> None:
    """Serve the engine of CONFIG live: ingest ticks and events over HTTP and WebSocket,
    push alerts (WebSocket /ws, SSE /stream), answer queries, show the dashboard at /.

    CONFIG is a TOML file with [protocol], [prices] (the starting prices), an optional
    [service] table (thresholds, max_quotes, max_events, max_body, rate, burst, book,
    counterparty_cash: _book's options cash for a snapshot book's option positions; a
    snapshot's [[vols]] of an expiry passed at the start are skipped with a note,
    book_open: "borrow" (default; the engine decides every deposit and borrow) or
    "import" (the book as it stands, ImportAccount per account: a snapshot holding
    accounts under margin loads)) and,
    with [protocol.options], an optional [options] table (the simulator's: security_module,
    cash, [[options.expiries]], [[options.trades]]) opening an options book.
    API documentation: /docs. Metrics: /metrics.
    """
    try:
        import uvicorn

        from marginengine.service.app import create_app
    except ImportError as exc:
        raise click.UsageError(f"serve needs the serve extra ({exc.name} is missing): "
                               "pip install 'marginengine[serve]'") from None
    from marginengine.engine import Engine
    from marginengine.service import Service
    from marginengine.service.requests import read_replay_file
    from marginengine.service.startup import read_config, start_engine

    cfg = read_config(config)
    replay = read_replay_file(replay_file, cfg.protocol) if replay_file else None

    def check_replay(engine: Engine) -> None:
        # The vol columns tick the surfaces the service starts with: checked on that
        # state before a log is written; each tick is read when it plays.
        if replay is not None:
            replay.ticks(engine.state.vols, engine.state.svi, engine.ledger.time)

    token = token or os.environ.get("MARGINENGINE_TOKEN") or None
    generated = token is None
    if token is None:
        token = secrets.token_urlsafe(24)
    started = start_engine(cfg.protocol, cfg.prices, book or cfg.book, log, cfg.source,
                           cfg.options, check=check_replay,
                           counterparty_cash=cfg.counterparty_cash,
                           book_open=cfg.section.book_open)
    check_replay(started.engine)
    service = Service(started.engine, cfg.settings())
    app = create_app(service, token, max_body=cfg.section.max_body, rate=cfg.section.rate,
                     burst=cfg.section.burst, on_close=started.engine.close,
                     replay=replay, replay_rate=replay_rate)
    err = sys.stderr
    for note in started.notes:
        print(f"note: {note}", file=err)
    print(f"marginengine serve: {service.account_count()} accounts, "
          f"{started.engine.seq} events, log {started.log}"
          + (f" (resumed {started.resumed} events)" if started.resumed else ""), file=err)
    if not _loopback(host):
        print(f"warning: listening on {host}, not loopback: the service is reachable from "
              "other machines", file=err)
    if generated:
        print(f"API token (writes): {token}", file=err)
    # Bound here, before the URL is printed: with --port 0 the system picks the port, and
    # the line must name the one it picked (uvicorn would bind its own, unknown here).
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        sock = socket.create_server((host, port), family=family)
    except OSError as exc:
        started.engine.close()
        raise click.UsageError(f"--host/--port: cannot listen on {host}:{port} ({exc})") \
            from None
    port = int(sock.getsockname()[1])
    shown = f"[{host}]" if family == socket.AF_INET6 else host
    print(f"dashboard: http://{shown}:{port}/   API docs: http://{shown}:{port}/docs",
          file=err, flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    with sock:
        server.run(sockets=[sock])
