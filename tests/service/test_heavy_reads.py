"""The heavy reads (``GET /heatmap``, ``POST /whatif``) leave the event loop free: their
portfolio accounts' exact reads run in a worker thread over a copy of the state taken
between writes, so a tick, its pushed alert and ``/healthz`` are answered meanwhile; the
figures are the synchronous path's at the state read; heatmaps asked again at the same
state are answered from the one computed.

The book is ``examples/serve_options.toml`` (WETH at 2,000 USD; ``mm`` bought 10 puts of
strike 1,800 from each of ``s1``, ``s2`` and ``s3``). The worker's computation is held
open by a ``threading.Event`` in the read the test hands the app (``Service.heatmap_read``
wrapped on this service only): the app's own path (read on the loop, ``run`` in a
thread) is unchanged. Were ``run`` called on the loop, the tick below could not be
answered until the read is released, and the test fails.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from marginengine.engine import Borrow, Deposit, Repay, SetPrice
from marginengine.service import Service
from marginengine.service.startup import read_config, start_engine
from tests.service.conftest import AUTH, TOKEN

OPTIONS = Path(__file__).resolve().parents[2] / "examples" / "serve_options.toml"
HEATMAP = "/heatmap?asset=WETH&steps=10&max_drop=0.5"
#: Seconds any step may wait before the test fails (the held read is released well
#: before; a blocked loop makes the tick wait for it).
WAIT = 20.0


def _service(config: Path = OPTIONS) -> Service:
    cfg = read_config(config)
    started = start_engine(cfg.protocol, cfg.prices, cfg.book, None, cfg.source, cfg.options)
    return Service(started.engine, cfg.settings())


class Held:
    """A read whose ``run`` says it started, then waits for ``release`` before running."""

    def __init__(self, read: Any, started: threading.Event, release: threading.Event
                 ) -> None:
        self.read = read
        self.seq = read.seq
        self.started = started
        self.release = release

    def run(self) -> dict[str, Any]:
        self.started.set()
        if not self.release.wait(WAIT):
            raise TimeoutError("the held read was never released")
        result: dict[str, Any] = self.read.run()
        return result


def _hold(monkeypatch: pytest.MonkeyPatch, service: Service, name: str
          ) -> tuple[threading.Event, threading.Event, list[int]]:
    started, release = threading.Event(), threading.Event()
    real: Callable[..., Any] = getattr(service, name)
    reads: list[int] = []

    def held(*args: Any, **kwargs: Any) -> Held:
        read = real(*args, **kwargs)
        reads.append(read.seq)
        return Held(read, started, release)

    monkeypatch.setattr(service, name, held)
    return started, release, reads


def _client(service: Service) -> Any:
    from fastapi.testclient import TestClient

    from marginengine.service.app import create_app

    return TestClient(create_app(service, TOKEN, rate=0))


@pytest.mark.parametrize(("name", "method", "path", "body"), [
    ("heatmap_read", "get", HEATMAP, None),
    ("whatif_read", "post", "/whatif", {"shocks": {"WETH": -0.3}, "account": "s3"}),
])
def test_heavy_read_when_computing_then_tick_alert_and_healthz_are_answered(
        monkeypatch: pytest.MonkeyPatch, name: str, method: str, path: str,
        body: dict[str, Any] | None) -> None:
    service = _service()
    # The synchronous path at the state the read will see.
    expected = (service.heatmap("WETH", 10, Decimal("0.5")) if name == "heatmap_read"
                else service.whatif({"WETH": Decimal("-0.3")}, "s3"))
    seq = service.engine.seq
    started, release, reads = _hold(monkeypatch, service, name)
    with _client(service) as client, ThreadPoolExecutor(1) as pool, \
            client.websocket_connect("/ws") as ws:
        kwargs = {} if body is None else {"json": body}
        pending = pool.submit(getattr(client, method), path, **kwargs)
        assert started.wait(WAIT)
        # The read is computing in its thread: a tick that makes s3 liquidatable (WETH
        # at 1,200 USD, as test_options_face.py's heatmap has it) is applied, answered
        # and pushed, and /healthz answers at its seq, all before the read returns.
        tick = client.post("/ticks", json={"prices": {"WETH": 1200}}, headers=AUTH)
        assert tick.status_code == 200
        assert "s3" in tick.json()["alert"]["liquidatable"]["new"]
        pushed = ws.receive_json()
        assert pushed["seq"] == seq + 1 and "s3" in pushed["liquidatable"]["new"]
        health = client.get("/healthz").json()
        assert health["ok"] and health["seq"] == seq + 1
        assert not pending.done()
        release.set()
        answer = pending.result(timeout=WAIT)
    assert answer.status_code == 200
    # The state read was the one before the tick, whole: the synchronous path's figures.
    assert reads == [seq]
    assert answer.json() == expected


def test_heatmap_when_asked_again_at_the_same_state_then_computed_once() -> None:
    service = _service()
    with _client(service) as client:
        first = client.get(HEATMAP).json()
        assert client.get(HEATMAP).json() == first
        assert first == service.heatmap("WETH", 10, Decimal("0.5"))
        # Other arguments are another heatmap; a tick is another state.
        assert len(client.get("/heatmap?asset=WETH&steps=2&max_drop=0.5").json()[
            "levels"]) == 3
        assert client.post("/ticks", json={"prices": {"WETH": 1900}},
                           headers=AUTH).status_code == 200
        after = client.get(HEATMAP).json()
        assert after == service.heatmap("WETH", 10, Decimal("0.5")) != first
        assert after["price"] == 1900.0 and first["price"] == 2000.0
        metrics = client.get("/metrics").text
    assert 'marginengine_heatmaps_total{source="computed"} 3.0' in metrics
    assert 'marginengine_heatmaps_total{source="reused"} 1.0' in metrics


def test_heatmap_when_refreshed_while_one_computes_then_both_get_the_one_read(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # One heavy read at a time: the second request waits for the first, then finds its
    # result at the same state; nothing more is read.
    service = _service()
    expected = service.heatmap("WETH", 10, Decimal("0.5"))
    started, release, reads = _hold(monkeypatch, service, "heatmap_read")
    with _client(service) as client, ThreadPoolExecutor(2) as pool:
        first = pool.submit(client.get, HEATMAP)
        assert started.wait(WAIT)
        second = pool.submit(client.get, HEATMAP)
        assert client.get("/healthz").status_code == 200
        assert not first.done() and not second.done()
        release.set()
        answers = [first.result(timeout=WAIT).json(), second.result(timeout=WAIT).json()]
    assert answers == [expected, expected]
    assert reads == [service.engine.seq]


@pytest.mark.parametrize("preset", ["derive-pm2", "derive-pm1", "derive-srm"])
def test_reads_when_state_moves_before_run_then_figures_are_those_of_the_state_read(
        tmp_path: Path, preset: str) -> None:
    # s3 also lends and borrows (one margin over both: its ledger account is in the
    # copy); the read is taken, then a tick and account events move the live state,
    # then the read runs: the synchronous path's figures at the state read, which the
    # moved state's differ from.
    config = tmp_path / "serve_options.toml"
    config.write_text(OPTIONS.read_text().replace('portfolio_preset = "derive-pm2"',
                                                  f'portfolio_preset = "{preset}"'))
    service = _service(config)
    assert all(o.accepted for o in service.apply([
        Deposit("mm", "USDC", 100_000 * 10**6), Deposit("s3", "WETH", 10**18),
        Borrow("s3", "USDC", 1_500 * 10**6)]).outcomes)
    surfaces = {("WETH", 30 * 86_400): (1_500_000, -100_000)}
    drop, shocks = Decimal("0.5"), {"WETH": Decimal("-0.25")}
    heat, whatif = service.heatmap("WETH", 5, drop), service.whatif(shocks, "s3", surfaces)
    heat_read = service.heatmap_read("WETH", 5, drop)
    whatif_read = service.whatif_read(shocks, "s3", surfaces)
    assert heat_read.portfolio is not None and heat_read.portfolio.engine is not service.engine
    assert all(o.accepted for o in service.apply([
        SetPrice("WETH", 1_300 * 10**8), Repay("s3", "USDC", 100 * 10**6)]).outcomes)
    assert heat_read.run() == heat != service.heatmap("WETH", 5, drop)
    assert whatif_read.run() == whatif != service.whatif(shocks, "s3", surfaces)
