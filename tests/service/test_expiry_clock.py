"""Vol ticks against the clock: every way a vol tick enters the service (one tick, a batch
of ticks over HTTP or the ingest WebSocket, a replay posted or read from a price file)
moves only the expiries still open at the time the tick applies, by the one rule
(``ledger.options.expired``: from its expiry on a series settles and no vol enters its
value; the engine refuses such a surface, ``OPTION_EXPIRED``).

The book is ``examples/serve_options.toml`` (one 30-day WETH expiry at 60% ATM vol, skew
-0.1), with a 60-day expiry opened at 70% (skew 0) by a ``SetVolSurface`` event, so a
tick past 30 days has one expiry to skip and one to move.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from marginengine.engine import AdvanceTime, SetVolSurface
from marginengine.ledger.options import expired
from marginengine.service import Service
from marginengine.service.requests import read_replay_file
from marginengine.service.startup import read_config, start_engine
from tests.service.conftest import AUTH, TOKEN

ROOT = Path(__file__).resolve().parents[2]
OPTIONS = ROOT / "examples" / "serve_options.toml"
DAY = 86_400
NEAR, FAR = 30 * DAY, 60 * DAY
#: The surfaces before any vol tick: (ATM vol, skew), ppm.
NEAR_SURFACE, FAR_SURFACE = (600_000, -100_000), (700_000, 0)


def _service() -> Service:
    cfg = read_config(OPTIONS)
    started = start_engine(cfg.protocol, cfg.prices, cfg.book, None, cfg.source, cfg.options)
    service = Service(started.engine, cfg.settings())
    assert service.apply([SetVolSurface("WETH", FAR, *FAR_SURFACE)]).outcomes[0].accepted
    return service


def _app(service: Service, **kwargs: Any) -> Any:
    from fastapi.testclient import TestClient

    from marginengine.service.app import create_app

    return TestClient(create_app(service, TOKEN, rate=0, **kwargs))


@pytest.fixture
def two_expiries() -> Iterator[Any]:
    service = _service()
    with _app(service) as client:
        client.service = service  # type: ignore[attr-defined]
        yield client


def _vols(service: Service) -> dict[int, tuple[int, int]]:
    return {t: v for (u, t), v in service.engine.state.vols.items() if u == "WETH"}


def test_expired_when_now_reaches_the_expiry_then_true() -> None:
    # Derive's OptionAsset settles once block.timestamp >= expiry.
    assert (expired(NEAR, NEAR - 1), expired(NEAR, NEAR), expired(NEAR, NEAR + 1)) == (
        False, True, True)


def test_single_tick_when_its_advance_reaches_the_near_expiry_then_far_only(
        two_expiries: Any) -> None:
    r = two_expiries.post("/ticks", json={"advance_seconds": NEAR, "vols": {"WETH": "1.5"}},
                          headers=AUTH)
    assert r.status_code == 200, r.text
    assert [o["outcome"] for o in r.json()["outcomes"]] == [
        "AdvanceTimeAccepted", "SetVolSurfaceAccepted"]
    assert _vols(two_expiries.service) == {NEAR: NEAR_SURFACE, FAR: (1_500_000, 0)}


BATCH = {"ticks": [{"advance_seconds": NEAR - 60},
                   {"advance_seconds": 60, "vols": {"WETH": "1.5"}}]}


def test_batch_when_earlier_ticks_advance_past_an_expiry_then_its_vol_skipped(
        two_expiries: Any) -> None:
    # Tick 2 applies at 30 days (29 days 23:59 from tick 1, then its own 60 s): the near
    # expiry has passed, so only the 60-day surface moves (its skew kept), as a single
    # tick advancing 30 days does. Before: tick 2 was read at 60 s and sent a surface
    # for the near expiry, which the engine refused (OPTION_EXPIRED).
    r = two_expiries.post("/ticks/batch", json=BATCH, headers=AUTH)
    assert r.status_code == 200, r.text
    outcomes = r.json()["outcomes"]
    assert [o["outcome"] for o in outcomes] == [
        "AdvanceTimeAccepted", "AdvanceTimeAccepted", "SetVolSurfaceAccepted"]
    assert two_expiries.service.engine.ledger.time == NEAR
    assert _vols(two_expiries.service) == {NEAR: NEAR_SURFACE, FAR: (1_500_000, 0)}


def test_batch_when_an_account_event_advances_time_then_later_ticks_see_it(
        two_expiries: Any) -> None:
    # An AdvanceTime posted among a tick's events moves the clock of the ticks after it.
    batch = {"ticks": [{"events": [{"type": "AdvanceTime", "seconds": NEAR}]},
                       {"vols": {"WETH": "0.9"}}]}
    r = two_expiries.post("/ticks/batch", json=batch, headers=AUTH)
    assert r.status_code == 200, r.text
    assert [o["accepted"] for o in r.json()["outcomes"]] == [True, True]
    assert _vols(two_expiries.service) == {NEAR: NEAR_SURFACE, FAR: (900_000, 0)}


def test_ws_batch_when_ticks_cross_an_expiry_then_its_vol_skipped(
        two_expiries: Any) -> None:
    with two_expiries.websocket_connect(f"/ws/ingest?token={TOKEN}") as ws:
        ws.send_json(BATCH)
        answer = ws.receive_json()
    assert [o["outcome"] for o in answer["outcomes"]] == [
        "AdvanceTimeAccepted", "AdvanceTimeAccepted", "SetVolSurfaceAccepted"]
    assert _vols(two_expiries.service) == {NEAR: NEAR_SURFACE, FAR: (1_500_000, 0)}


def _wait(client: Any, replay_id: int) -> dict[str, Any]:
    deadline = time.time() + 20
    status: dict[str, Any] = client.get(f"/replay/{replay_id}").json()
    while status["state"] == "running" and time.time() < deadline:
        time.sleep(0.02)
        status = client.get(f"/replay/{replay_id}").json()
    return status


def test_posted_replay_when_ticks_cross_an_expiry_then_its_vol_skipped(
        two_expiries: Any) -> None:
    r = two_expiries.post("/replay", json={**BATCH, "rate": 100}, headers=AUTH)
    assert r.status_code == 200, r.text
    status = _wait(two_expiries, r.json()["id"])
    assert (status["state"], status["played"], status["refused_count"]) == ("done", 2, 0)
    assert _vols(two_expiries.service) == {NEAR: NEAR_SURFACE, FAR: (1_500_000, 0)}


def test_posted_replay_when_time_passes_an_expiry_before_a_tick_plays_then_skipped(
        two_expiries: Any) -> None:
    # A replay tick is read at the time it plays: another write advances the clock past
    # the near expiry between the replay's two ticks (2 s apart), and the second tick's
    # vol moves the far expiry only, with nothing refused.
    ticks = [{"prices": {"WETH": "2000"}}, {"vols": {"WETH": "1.2"}}]
    r = two_expiries.post("/replay", json={"ticks": ticks, "rate": 0.5}, headers=AUTH)
    assert r.status_code == 200, r.text
    assert two_expiries.post("/ticks", json={"advance_seconds": NEAR},
                             headers=AUTH).status_code == 200
    status = _wait(two_expiries, r.json()["id"])
    assert (status["state"], status["played"], status["refused_count"]) == ("done", 2, 0)
    assert _vols(two_expiries.service) == {NEAR: NEAR_SURFACE, FAR: (1_200_000, 0)}


REPLAY_CSV = "advance_seconds,WETH,vol.WETH\n2591940,1950,\n60,,1.5\n60,,0.8\n"


def test_replay_file_when_its_advances_cross_an_expiry_then_its_vol_skipped(
        tmp_path: Path) -> None:
    path = tmp_path / "path.csv"
    path.write_text(REPLAY_CSV)
    service = _service()
    state = service.engine.state
    ticks = read_replay_file(path, service.config).ticks(state.vols, state.svi,
                                                        service.engine.ledger.time)
    # Line 3 applies at 30 days: the near expiry has passed; line 4 likewise.
    assert ticks[1:] == [[AdvanceTime(60), SetVolSurface("WETH", FAR, 1_500_000, 0)],
                         [AdvanceTime(60), SetVolSurface("WETH", FAR, 800_000, 0)]]
    # Before the near expiry, a vol cell moves both (each keeping its skew).
    early = tmp_path / "early.csv"
    early.write_text("vol.WETH\n1.5\n")
    assert read_replay_file(early, service.config).ticks(state.vols, state.svi) == [[
        SetVolSurface("WETH", NEAR, 1_500_000, -100_000),
        SetVolSurface("WETH", FAR, 1_500_000, 0)]]


def test_replay_file_when_played_then_nothing_refused_and_far_vol_moved(
        tmp_path: Path) -> None:
    path = tmp_path / "path.csv"
    path.write_text(REPLAY_CSV)
    service = _service()
    with _app(service, replay=read_replay_file(path, service.config),
              replay_rate=100) as client:
        status = _wait(client, 0)
    assert (status["state"], status["played"], status["refused_count"]) == ("done", 3, 0)
    assert _vols(service) == {NEAR: NEAR_SURFACE, FAR: (800_000, 0)}
    assert service.engine.ledger.time == NEAR + 60


# ---------------------------------------------------------------------- snapshot books
SNAPSHOT = ROOT / "examples" / "serve_snapshot.toml"
SNAPSHOT_BOOK = ROOT / "examples" / "serve_snapshot_book.toml"
PASSED_VOL = '\n[[vols]]\nunderlying = "WETH"\nexpiry = 0\nvol = 0.7\n'


def _snapshot(tmp_path: Path, extra: str) -> Path:
    (tmp_path / "book.toml").write_text(SNAPSHOT_BOOK.read_text() + extra)
    path = tmp_path / "serve.toml"
    path.write_text(SNAPSHOT.read_text().replace('book = "serve_snapshot_book.toml"',
                                                 'book = "book.toml"'))
    return path


def test_snapshot_when_a_vol_is_of_an_expiry_passed_then_skipped_with_a_note(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The book's [[vols]] entry 1 is for expiry 0, passed at the service's time 0 (its
    # series would settle): skipped as a vol tick skips it, with a note naming the
    # file and the entry; the 30-day surface enters. Before: the whole book was refused
    # (the engine's OPTION_EXPIRED on that SetVolSurface).
    cfg = read_config(_snapshot(tmp_path, PASSED_VOL))
    started = start_engine(cfg.protocol, cfg.prices, cfg.book, None, cfg.source,
                           cfg.options, counterparty_cash=cfg.counterparty_cash)
    note = (f"{tmp_path / 'book.toml'}: vols.1: WETH expiry 0 is not after the service's "
            f"time 0 (its series settle; a surface for it is refused): skipped")
    assert started.notes == [note]
    assert started.engine.state.vols == {("WETH", NEAR): NEAR_SURFACE}
    # At the CLI: the note on stderr before the service listens.
    import uvicorn

    from marginengine.cli.main import main

    # The server is not run (its socket is bound, on a free port, and closed).
    monkeypatch.setattr(uvicorn.Server, "run", lambda *args, **kwargs: None)
    main(["serve", str(tmp_path / "serve.toml"), "--token", TOKEN, "--port", "0"])
    assert f"note: {note}\n" in capsys.readouterr().err


def test_snapshot_when_a_position_is_of_an_expiry_passed_then_refused_naming_it(
        tmp_path: Path) -> None:
    # A position cannot be skipped (its account's margin would change): a snapshot
    # position's expiry must be at least 1, after the service's time 0, naming the field.
    from marginengine.errors import ConfigError

    extra = (PASSED_VOL + '\n[[accounts]]\nid = "late"\noption_cash = 100\noptions = '
             '[{ underlying = "WETH", expiry = 0, strike = 2000, type = "put", size = 1 }]\n')
    cfg = read_config(_snapshot(tmp_path, extra))
    with pytest.raises(ConfigError) as caught:
        start_engine(cfg.protocol, cfg.prices, cfg.book, None, cfg.source, cfg.options,
                     counterparty_cash=cfg.counterparty_cash)
    assert str(caught.value) == (f"{tmp_path / 'book.toml'}: accounts.5.options.0.expiry: "
                                 f"must be at least 1 (got 0)")


def test_whatif_when_an_expiry_has_passed_then_its_vol_is_not_used(
        two_expiries: Any) -> None:
    # After 30 days the near expiry has passed: a what-if's vols move the far one only,
    # as a tick would (before: the answer listed the near expiry's surface too).
    assert two_expiries.post("/ticks", json={"advance_seconds": NEAR},
                             headers=AUTH).status_code == 200
    body = two_expiries.post("/whatif", json={"vols": {"WETH": "1.5"}}).json()
    assert body["vols"] == {f"WETH-{FAR}": {"vol_ppm": 1_500_000, "skew_ppm": 0}}
