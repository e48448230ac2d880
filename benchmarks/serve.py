"""The live service under load, on loopback: ticks/s, tick-to-alert latency, missed
liquidations, and events/s ingested with the PostgreSQL log per batch.

    python benchmarks/serve.py [--accounts 1000000] [--seconds 20] [--rate 20]
                               [--check-ticks 20] [--pg-events 20000] [--json PATH]

1. Book. A seeded synthetic book (:func:`marginengine.scan.synthetic.generate_book`,
   ``--accounts`` accounts over ``--assets`` markets) is loaded into an engine the way the
   snapshot builder does it (balances through the ledger's public methods, at index 1),
   with a SQLite log per batch (``synchronous=NORMAL``) for the ticks: every tick is
   committed before it is answered. Set-up time is reported, not timed with the run.
2. Ticks. The service runs in this process (uvicorn on 127.0.0.1, a free port); a client
   process posts ticks over HTTP at ``--rate`` per second for ``--seconds`` (WETH and WBTC
   on a seeded mean-reverting walk with a 1-in-20 chance of a 6% drop) and listens on the
   ``/ws`` push. Tick-to-alert latency is measured by the client: from sending the tick to
   receiving its alert on the WebSocket. Sustained ticks/s is ticks answered / elapsed; if
   the service keeps up, it equals the rate asked for.
3. Missed. ``--check-ticks`` more ticks, each followed (outside any timing) by a
   brute-force check: an independent risk book built from the engine, rescanned in full
   (every account screened, the band confirmed by the engine's exact rule), compared with
   the liquidatable set the client built from the alerts alone; with ``--accounts`` up to
   50,000, also every account's ``engine.is_liquidatable``, one at a time.
4. Ingest. A throwaway PostgreSQL server (initdb + pg_ctl, as in the tests), a service with
   a PostgreSQL log per batch, and ``--pg-events`` deposits posted over HTTP in batches of
   ``--batch`` events: events/s, end to end (HTTP, validation, engine, one PG commit per
   batch, alert pass). Skipped, saying why, when no server can be started (``--pg-url``
   uses an existing database instead).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def build_engine(n: int, n_assets: int, seed: int, log_url: str | None) -> tuple[Any, float]:
    """The synthetic book in an engine with a per-batch PostgreSQL log (none without a
    server); seconds taken."""
    from marginengine.engine import Engine, SetPrice
    from marginengine.persistence import EventLog, PostgresStore
    from marginengine.scan.synthetic import generate_book

    start = time.perf_counter()
    book = generate_book(n, n_assets, seed=seed, health_median=1.6, health_sigma=0.3)
    config = book.config
    meta = {"protocol": json.dumps(config.model_dump(mode="json"), sort_keys=True)}
    log = EventLog(PostgresStore.create(log_url, meta), "batch") if log_url else None
    engine = Engine(config, log)
    with engine.batch():
        for asset, price in sorted(book.prices.items()):
            engine.apply(SetPrice(asset, price))
    ledger = engine.ledger
    symbols = book.symbols
    scale = [10 ** (config.markets[s].decimals - 6) for s in symbols]
    ids = [i.decode() for i in book.account_ids]
    rows, assets = book.rows.tolist(), book.assets.tolist()
    supplied, borrowed = book.supplied_micro.tolist(), book.borrowed_micro.tolist()
    for r, k, s in zip(rows, assets, supplied, strict=True):
        if s:
            ledger.deposit(ids[r], symbols[k], s * scale[k])
    for k, symbol in enumerate(symbols):
        owed = int(np.sum(book.borrowed_micro[book.assets == k], dtype=np.int64)) * scale[k]
        gap = owed - ledger.reserves[symbol].cash
        if gap > 0:
            ledger.fund_from_protocol(symbol, gap)
    for r, k, b in zip(rows, assets, borrowed, strict=True):
        if b:
            ledger.borrow(ids[r], symbols[k], b * scale[k])
    for symbol in symbols:
        ledger.update_rates(symbol)
    return engine, time.perf_counter() - start


class Running:
    """uvicorn serving ``app`` on a free loopback port in a thread of this process."""

    def __init__(self, app: Any) -> None:
        import socket

        import uvicorn

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                access_log=False, ws_max_size=1 << 24)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        while not self.server.started:
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)


def client(port: int, token: str, ticks: list[dict[str, Any]], rate: float,
           out: Any) -> None:
    """The load generator (a separate process): post ticks at ``rate``, time the pushes."""
    import httpx
    from websockets.sync.client import connect

    received: dict[int, float] = {}
    alerts: dict[int, dict[str, Any]] = {}
    ready = threading.Event()

    def listen() -> None:
        with connect(f"ws://127.0.0.1:{port}/ws", max_size=1 << 26) as ws:
            ready.set()
            while len(received) < len(ticks):
                message = json.loads(ws.recv())
                if message.get("tick", 0) > 0:
                    received.setdefault(message["tick"], time.perf_counter())
                    alerts[message["tick"]] = message["liquidatable"]

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    ready.wait(30)
    time.sleep(0.3)  # the last alert before ours may arrive on connect
    received.clear()
    sent: dict[int, float] = {}
    headers = {"Authorization": f"Bearer {token}"}
    begin = time.perf_counter()
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers,
                      timeout=60) as http:
        first_tick = http.get("/levels").json()["tick"] + 1
        for i, body in enumerate(ticks):
            due = begin + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            sent[first_tick + i] = time.perf_counter()
            r = http.post("/ticks", json=body)
            if r.status_code != 200:
                out.put({"error": f"tick {i}: {r.status_code} {r.text}"})
                return
    end = time.perf_counter()
    listener.join(30)
    latencies = [received[t] - sent[t] for t in sent if t in received]
    out.put({"elapsed": end - begin, "latencies": latencies, "answered": len(sent),
             "pushed": len(latencies),
             "alerts": {str(t): alerts[t] for t in sorted(alerts)}})


def price_path(seed: int, n: int, prices: dict[str, int]) -> list[dict[str, Any]]:
    """Seeded WETH/WBTC log-price walks pulled back to the start (Ornstein-Uhlenbeck, 5%
    a tick), with a 1-in-20 chance per tick of a 6% (WETH) and 4% (WBTC) drop, as tick
    bodies: most ticks move prices a little, a few move many accounts at once."""
    rng = np.random.default_rng(seed)
    start = {"WETH": prices["WETH"] / 1e8, "WBTC": prices["WBTC"] / 1e8}
    log_dev = {"WETH": 0.0, "WBTC": 0.0}
    out = []
    for _ in range(n):
        drop = rng.random() < 0.05
        for asset, jump, sigma in (("WETH", 0.06, 0.004), ("WBTC", 0.04, 0.003)):
            log_dev[asset] += -0.05 * log_dev[asset] + rng.normal(0, sigma)
            if drop:
                log_dev[asset] += np.log1p(-jump)
        out.append({"prices": {a: f"{start[a] * np.exp(log_dev[a]):.2f}" for a in start}})
    return out


def run_ticks(app: Any, token: str, ticks: list[dict[str, Any]], rate: float) -> dict[str, Any]:
    server = Running(app)
    try:
        ctx = mp.get_context("spawn")
        out = ctx.Queue()
        proc = ctx.Process(target=client, args=(server.port, token, ticks, rate, out))
        proc.start()
        result: dict[str, Any] = out.get(timeout=600)
        proc.join(30)
        if "error" in result:
            raise SystemExit(f"benchmark client: {result['error']}")
    finally:
        server.stop()
    return result


def check_missed(service: Any, ticks: list[dict[str, Any]], exact: bool) -> dict[str, Any]:
    """Apply ticks one by one; after each, compare the alerts' liquidatable set with a
    brute-force full scan of an independent book (and, small books, every account)."""
    from marginengine.scan import RiskBook
    from marginengine.service.requests import price_events

    brute_book = RiskBook.from_engine(service.engine, subscribe=True)
    liquidatable = set(service.liquidatable())
    missed = spurious = exact_missed = 0
    for body in ticks:
        report = service.apply(price_events(service.config, body["prices"]))
        alert = report.alert["liquidatable"]
        liquidatable |= set(alert["new"])
        liquidatable -= set(alert["recovered"])
        scan = brute_book.full_scan(1)
        truth = set(brute_book.accounts.ids(scan.below_rows))
        missed += len(truth - liquidatable)
        spurious += len(liquidatable - truth)
        if exact:
            engine = service.engine
            every = {a for a in engine.ledger.accounts if engine.is_liquidatable(a)}
            exact_missed += len(every ^ liquidatable)
    brute_book.close()
    return {"ticks": len(ticks), "missed": missed, "spurious": spurious,
            "liquidatable_at_end": len(liquidatable),
            "exact_check": exact, "exact_differences": exact_missed if exact else None}


def pg_ingest(url: str, events: int, batch: int) -> dict[str, Any]:
    """Deposits over HTTP into a service with a PostgreSQL log per batch: events/s."""
    import httpx

    from marginengine.config import protocol_from_dict
    from marginengine.service import Service
    from marginengine.service.app import create_app
    from marginengine.service.startup import start_engine

    config = protocol_from_dict({"preset": "aave-v3", "markets": {
        "WETH": {}, "USDC": {}}})
    started = start_engine(config, {"WETH": 3000 * 10**8, "USDC": 10**8}, None, url)
    service = Service(started.engine)
    token = "bench"
    app = create_app(service, token, max_body=1 << 26, rate=0)
    server = Running(app)
    bodies = [{"events": [{"type": "Deposit", "account": f"a{(i + j) % 5000}",
                           "asset": "WETH", "amount": 10**17 + j}
                          for j in range(min(batch, events - i))]}
              for i in range(0, events, batch)]
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=120,
                          headers={"Authorization": f"Bearer {token}"}) as http:
            start = time.perf_counter()
            for body in bodies:
                http.post("/events", json=body).raise_for_status()
            elapsed = time.perf_counter() - start
            seq = http.get("/state").json()["seq"]
    finally:
        server.stop()
        started.engine.close()
    return {"events": events, "batch": batch, "seconds": round(elapsed, 3),
            "events_per_second": round(events / elapsed, 1), "log_events": seq}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--assets", type=int, default=8)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--check-ticks", type=int, default=20)
    parser.add_argument("--pg-events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--pg-url", default=None)
    parser.add_argument("--max-quotes", type=int, default=100,
                        help="newly liquidatable accounts quoted per tick (the default's)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.accounts < 1 or args.seconds <= 0 or args.rate <= 0 or args.assets < 2:
        parser.error("--accounts, --seconds, --rate must be positive; --assets at least 2")
    sys.path.insert(0, str(ROOT))

    import contextlib

    import pytest

    from tests.pgserver import new_database, pg_cluster

    with contextlib.ExitStack() as stack:
        base: str | None = None
        why = ""
        if args.pg_url is None:
            try:
                base = stack.enter_context(pg_cluster())
            except pytest.skip.Exception as exc:
                why = str(exc)
        urls = ((new_database(base, "ticks"), new_database(base, "ingest")) if base
                else (args.pg_url, None) if args.pg_url else (None, None))
        result = run_all(args, urls[0], urls[1], why)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return result


def run_all(args: Any, tick_url: str | None, ingest_url: str | None,
            why: str) -> dict[str, Any]:
    from marginengine.service import Service, Settings
    from marginengine.service.app import create_app

    engine, setup = build_engine(args.accounts, args.assets, args.seed, tick_url)
    t0 = time.perf_counter()
    service = Service(engine, Settings(max_quotes=args.max_quotes))
    book_setup = time.perf_counter() - t0
    print(f"set-up: {args.accounts:,} accounts in {setup:.1f} s, risk book + first scan "
          f"{book_setup:.1f} s; {len(service.liquidatable()):,} liquidatable at start; "
          f"tick log: {'PostgreSQL per batch' if tick_url else 'none (' + why + ')'}",
          flush=True)
    token = "bench"
    app = create_app(service, token, max_body=1 << 22, rate=0)
    n_ticks = max(1, int(args.seconds * args.rate))
    path = price_path(args.seed, n_ticks + args.check_ticks,
                      {a: engine.prices[a] for a in ("WETH", "WBTC")})
    run = run_ticks(app, token, path[:n_ticks], args.rate)
    lat = sorted(run["latencies"])
    server_lat = sorted(service.counters.latencies[-n_ticks:])

    def pct(values: list[float], q: float) -> float:
        return values[min(len(values) - 1, int(q * len(values)))] * 1000 if values else 0.0

    ticks = {
        "asked_rate": args.rate, "ticks": run["answered"], "pushed": run["pushed"],
        "elapsed_s": round(run["elapsed"], 3),
        "ticks_per_second": round(run["answered"] / run["elapsed"], 2),
        "latency_ms": {"p50": round(pct(lat, 0.5), 2), "p99": round(pct(lat, 0.99), 2),
                       "max": round(lat[-1] * 1000, 2) if lat else 0.0,
                       "mean": round(statistics.fmean(lat) * 1000, 2) if lat else 0.0},
        "server_ms": {"p50": round(pct(server_lat, 0.5), 2),
                      "p99": round(pct(server_lat, 0.99), 2)},
        "liquidatable_at_end": len(service.liquidatable()),
        "log": "postgresql, one commit per tick" if tick_url else f"none: {why}",
    }
    print(f"ticks: {ticks['ticks']} at {ticks['ticks_per_second']}/s (asked "
          f"{args.rate}/s); tick-to-alert p50 {ticks['latency_ms']['p50']} ms, p99 "
          f"{ticks['latency_ms']['p99']} ms (server p50 {ticks['server_ms']['p50']} ms, "
          f"p99 {ticks['server_ms']['p99']} ms)", flush=True)
    missed = check_missed(service, path[n_ticks:], exact=args.accounts <= 50_000)
    print(f"missed vs brute force over {missed['ticks']} ticks: {missed['missed']} missed, "
          f"{missed['spurious']} spurious", flush=True)
    engine.close()
    service.book.close()

    ingest: dict[str, Any] | None = None
    if args.pg_events > 0:
        url = ingest_url or args.pg_url
        ingest = (pg_ingest(url, args.pg_events, args.batch) if url and url != tick_url
                  else {"skipped": why or "--pg-url is the tick log; ingest needs a server"})
        print(f"PostgreSQL ingest: {ingest}", flush=True)

    result = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "accounts": args.accounts, "assets": args.assets, "seed": args.seed,
        "max_quotes": args.max_quotes,
        "setup_seconds": round(setup, 1), "book_seconds": round(book_setup, 1),
        "ticks": ticks, "missed": missed, "pg_ingest": ingest,
    }
    return result


if __name__ == "__main__":
    main()
