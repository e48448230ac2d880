"""Soak: random ticks and events against a running server, checked after every write against a
brute-force recomputation; the state equals a replay of its PostgreSQL and SQLite logs; a
``kill -9`` mid-stream, a restart, recovery to the last whole batch, and on.

The brute force is an independent engine in this process fed by the PostgreSQL log itself
(LISTEN/NOTIFY follower): after every write it computes every account's exact health factor
and liquidatability, one account at a time, and the levels and liquidatable set implied by
the alerts received so far must equal them (zero missed, zero spurious).

Bounded: ``MARGINENGINE_SOAK_SECONDS`` (default 20) of random traffic on the PostgreSQL run.
"""

from __future__ import annotations

import os
import random
import threading
import time
from typing import Any

import pytest

from marginengine.engine import Engine, event_from_dict
from marginengine.fixedpoint import WAD
from marginengine.persistence import Follower
from marginengine.scan import threshold_wad
from tests.service.server import Server

SECONDS = float(os.environ.get("MARGINENGINE_SOAK_SECONDS", "20"))
THRESHOLDS = [threshold_wad(t) for t in ("1.10", "1.05", "1")]
BOOK = [f"acct{i:04d}" for i in range(400)]


class Traffic:
    """Seeded random writes: price walks with crashes, account events, keepers."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.weth = 3000.0
        self.wbtc = 60000.0
        self.accounts = list(BOOK)
        self.quotes: list[dict[str, Any]] = []
        self.n = 0

    def tick(self) -> dict[str, Any]:
        r = self.rng
        shock = -0.12 if r.random() < 0.05 else r.gauss(0, 0.02)
        self.weth = min(max(self.weth * (1 + shock), 1200.0), 4200.0)
        self.wbtc = min(max(self.wbtc * (1 + r.gauss(0, 0.015)), 30000.0), 80000.0)
        body: dict[str, Any] = {"prices": {"WETH": f"{self.weth:.2f}",
                                           "WBTC": f"{self.wbtc:.2f}"}}
        if r.random() < 0.05:
            body["advance_seconds"] = r.choice([60, 3600, 86400])
        events = [self.event() for _ in range(r.randint(0, 3))]
        if events:
            body["events"] = events
        return body

    def event(self) -> dict[str, Any]:
        r = self.rng
        self.n += 1
        if self.quotes and r.random() < 0.5:
            q = self.quotes.pop()
            return {"type": "Liquidate", "liquidator": "keeper", "account": q["account"],
                    "debt_asset": q["debt_asset"], "collateral_asset": q["collateral_asset"],
                    "debt_to_cover": q["debt_to_cover"]}
        kind = r.choice(["Deposit", "Deposit", "Borrow", "Borrow", "Repay", "Withdraw"])
        if kind == "Deposit":
            account = r.choice(self.accounts) if r.random() < 0.6 else f"new{self.n:05d}"
            if account not in self.accounts:
                self.accounts.append(account)
            return {"type": "Deposit", "account": account, "asset": "WETH",
                    "amount": r.randint(1, 20) * 10**17}
        account = r.choice(self.accounts[:len(BOOK)])  # these exist in the book
        asset = "WETH" if kind == "Withdraw" else r.choice(["USDC", "DAI"])
        unit = 10**18 if asset in ("WETH", "DAI") else 10**6
        return {"type": kind, "account": account, "asset": asset,
                "amount": r.randint(1, 5000) * unit // (1000 if asset == "WETH" else 1)}


class Mirror:
    """The alert state a client builds from the alerts it receives."""

    def __init__(self) -> None:
        self.level: dict[str, int] = {}
        self.liquidatable: set[str] = set()

    def sync(self, state: dict[str, Any]) -> None:
        """Start from the service's alert state (GET /levels)."""
        self.level = dict(state["levels"])
        self.liquidatable = set(state["liquidatable"])

    def take(self, alert: dict[str, Any]) -> None:
        assert alert["crossed_count"] == len(alert["crossed"])
        for c in alert["crossed"]:
            if c["to_level"]:
                self.level[c["account"]] = c["to_level"]
            else:
                self.level.pop(c["account"], None)
        self.liquidatable |= set(alert["liquidatable"]["new"])
        self.liquidatable -= set(alert["liquidatable"]["recovered"])
        assert len(self.liquidatable) == alert["liquidatable"]["count"]


def brute_force(engine: Engine) -> tuple[dict[str, int], set[str]]:
    """Every account's level and liquidatability, one at a time, exactly."""
    levels: dict[str, int] = {}
    liquidatable: set[str] = set()
    for account in engine.ledger.accounts:
        if not engine.has_risk(account):
            continue
        hf = engine.health_factor(account)
        level = sum(1 for t in THRESHOLDS if hf < t)
        if level:
            levels[account] = level
        if engine.is_liquidatable(account):
            liquidatable.add(account)
    assert all(engine.health_factor(a) < WAD for a in liquidatable)
    return levels, liquidatable


class Follow:
    """An independent engine fed by the PostgreSQL log (LISTEN/NOTIFY)."""

    def __init__(self, url: str, config: Any) -> None:
        self.follower = Follower(url)
        self.engine = Engine(config)

    def until(self, seq: int, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while self.engine.seq < seq:
            assert time.monotonic() < deadline, f"follower stuck at {self.engine.seq} < {seq}"
            for row in self.follower.poll(timeout=1):
                outcome = self.engine.apply(event_from_dict(row.record["event"]))
                assert outcome.accepted == row.accepted and outcome.seq == row.seq


def _write(server: Server, traffic: Traffic, mirror: Mirror | None) -> dict[str, Any]:
    body = traffic.tick()
    if traffic.rng.random() < 0.1:
        body = {"ticks": [body, traffic.tick()]}
        r = server.post("/ticks/batch", body)
    else:
        r = server.post("/ticks", body)
    assert r.status_code == 200, r.text
    report: dict[str, Any] = r.json()
    if mirror is not None:
        mirror.take(report["alert"])
    traffic.quotes = [q for q in report["alert"]["liquidatable"]["quotes"]
                      if q.get("debt_to_cover")]
    return report


def test_soak_postgres_then_kill_9_restart_recovers_and_goes_on(pg_url: str) -> None:
    from marginengine.service.startup import read_config

    config = read_config("examples/serve.toml").protocol
    args = ["examples/serve.toml", "--log", pg_url]
    server = Server(args)
    traffic, mirror = Traffic(seed=15), Mirror()
    mirror.sync(server.get("/levels"))
    follow = Follow(pg_url, config)
    writes = missed = 0
    try:
        deadline = time.monotonic() + SECONDS
        while time.monotonic() < deadline:
            report = _write(server, traffic, mirror)
            follow.until(report["seq"])
            levels, liquidatable = brute_force(follow.engine)
            wrong = len(liquidatable ^ mirror.liquidatable) + len(
                set(levels.items()) ^ set(mirror.level.items()))
            assert not wrong, (writes, liquidatable ^ mirror.liquidatable,
                               set(levels.items()) ^ set(mirror.level.items()), report)
            missed += wrong
            writes += 1
        assert missed == 0
        assert writes > 20
        live = server.get("/state")
        assert live["state_hash"] == follow.engine.state_hash()
        _, replay = Engine.replay(pg_url)  # while the writer runs: every batch so far
        assert replay.state_hash == live["state_hash"] and replay.truncated

        # kill -9 while writes are in flight.
        acked: list[int] = []
        stop = threading.Event()

        def hammer() -> None:
            while not stop.is_set():
                try:
                    acked.append(_write(server, traffic, None)["seq"])
                except Exception:
                    return

        thread = threading.Thread(target=hammer)
        thread.start()
        time.sleep(1.0)
        server.kill()
        stop.set()
        thread.join(30)
        assert acked, "no write was acknowledged before the kill"
    finally:
        server.kill()

    # Restart on the same log: it resumes it, at the last whole batch.
    _, replay = Engine.replay(pg_url)
    assert replay.truncated  # the writer never closed it
    assert replay.events >= acked[-1]
    server = Server(args)
    try:
        state = server.get("/state")
        assert state["seq"] == replay.events and state["state_hash"] == replay.state_hash
        follow.until(state["seq"])
        assert follow.engine.state_hash() == state["state_hash"]
        # ... and goes on, alerting exactly (a fresh client starts from the current state).
        mirror = Mirror()
        mirror.sync(server.get("/levels"))
        assert brute_force(follow.engine) == (mirror.level, mirror.liquidatable)
        for _ in range(10):
            report = _write(server, traffic, mirror)
            follow.until(report["seq"])
            assert brute_force(follow.engine) == (mirror.level, mirror.liquidatable)
        assert server.get("/state")["state_hash"] == follow.engine.state_hash()
    finally:
        server.stop()
        follow.follower.close()
    _, closed = Engine.replay(pg_url)
    assert not closed.truncated and closed.state_hash == follow.engine.state_hash()


def test_soak_sqlite_state_equals_replay_after_stop_and_after_kill_9(tmp_path: Any) -> None:
    traffic, mirror = Traffic(seed=16), Mirror()
    log = tmp_path / "events.sqlite"
    server = Server(["examples/serve.toml", "--log", f"sqlite:{log}"])
    try:
        for _ in range(30):
            _write(server, traffic, mirror)
        live = server.get("/state")
    finally:
        server.stop()
    _, report = Engine.replay(log)
    assert not report.truncated and report.state_hash == live["state_hash"]
    assert report.events == live["seq"]

    killed = tmp_path / "killed.sqlite"
    server = Server(["examples/serve.toml", "--log", f"sqlite:{killed}"])
    hashes = {}
    try:
        for _ in range(15):
            seq = _write(server, traffic, None)["seq"]
            hashes[seq] = server.get("/state")["state_hash"]
    finally:
        server.kill()
    _, report = Engine.replay(killed)
    assert report.truncated and hashes[report.events] == report.state_hash
    # The SQLite store never reopens a log for writing: a restart on it is refused.
    with pytest.raises(RuntimeError, match="never reopens a log for writing"):
        Server(["examples/serve.toml", "--log", f"sqlite:{killed}"], timeout=30)
