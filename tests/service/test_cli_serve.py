"""``marginengine serve`` and ``replay postgresql://`` at the CLI: bad input is one line,
exit 2, nothing written; the book enters through events; a price file is a replay source."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from marginengine.cli.main import main
from marginengine.engine import Engine, SetPrice
from marginengine.errors import ConfigError
from marginengine.service.requests import read_price_file, read_replay_file
from marginengine.service.startup import LIQUIDITY_ACCOUNT, read_config, start_engine
from tests.conftest import ETH, USDC

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "examples" / "serve.toml"

SMALL = """
[protocol]
preset = "aave-v3"
[protocol.markets.WETH]
[protocol.markets.USDC]
[prices]
WETH = 2000
USDC = 1
[service]
book = "book.csv"
"""


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def _config(tmp_path: Path, book: str, extra: str = "") -> Path:
    (tmp_path / "book.csv").write_text(book)
    path = tmp_path / "serve.toml"
    path.write_text(SMALL + extra)
    return path


@pytest.mark.parametrize(("args", "message"), [
    (["serve", "missing.toml"], "missing.toml"),
    (["serve", str(CONFIG), "--log", "mysql://x"],
     "--log: expected sqlite:PATH or postgresql://... (got 'mysql://x')"),
    (["serve", str(CONFIG), "--port", "70000"], "70000 is not in the range 0<=x<=65535"),
    (["serve", str(CONFIG), "--log", "postgresql://u:pw@127.0.0.1:1/x"],
     "postgresql://u:***@127.0.0.1:1/x: cannot connect to PostgreSQL"),
])
def test_serve_when_bad_arguments_then_one_line_exit_2(
        args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(args, capsys)
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1
    assert "pw" not in err


def test_serve_when_sqlite_log_exists_then_refused_and_untouched(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "events.sqlite"
    log.write_bytes(b"not mine")
    code, _, err = run(["serve", str(CONFIG), "--log", f"sqlite:{log}"], capsys)
    assert code == 2 and "never reopens a log for writing" in err
    assert log.read_bytes() == b"not mine"


def test_serve_when_config_has_bad_service_table_then_field_named(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _config(tmp_path, "account,asset,supplied,borrowed\n",
                   'thresholds = ["1.1", "abc"]\n')
    code, _, err = run(["serve", str(path)], capsys)
    assert code == 2 and "service.thresholds" in err


@pytest.mark.parametrize(("thresholds", "message"), [
    # Out of the risk book's bounds: was "error: threshold: must be between ...", without
    # the file or which threshold (a ScanError, which read_config did not catch).
    ('["1.1", "0"]', "service.thresholds.1: must be between 0.001 and 1000 (got 0)"),
    ('["2000"]', "service.thresholds.0: must be between 0.001 and 1000 (got 2000)"),
])
def test_serve_when_threshold_out_of_bounds_then_file_and_index_named(
        tmp_path: Path, thresholds: str, message: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    path = _config(tmp_path, "account,asset,supplied,borrowed\n",
                   f"thresholds = {thresholds}\n")
    code, out, err = run(["serve", str(path)], capsys)
    assert (code, out) == (2, "")
    assert err == f"error: {path}: {message}\n"


def test_book_when_loaded_then_entered_through_events_and_replays(tmp_path: Path) -> None:
    # alice borrows more USDC than bob supplies: _liquidity supplies the rest.
    path = _config(tmp_path, "account,asset,supplied,borrowed\n"
                             "alice,WETH,10,\nalice,USDC,,15000\nbob,USDC,5000,\n")
    cfg = read_config(path)
    log = tmp_path / "events.sqlite"
    started = start_engine(cfg.protocol, cfg.prices, cfg.book, f"sqlite:{log}")
    engine = started.engine
    assert engine.ledger.debt_of("alice", "USDC") == 15_000 * USDC
    assert engine.ledger.supply_of(LIQUIDITY_ACCOUNT, "USDC") == 10_000 * USDC
    assert engine.ledger.supply_of("alice", "WETH") == 10 * ETH
    expected = engine.state_hash()
    engine.close()
    replayed, report = Engine.replay(log)
    # 2 prices, 3 deposits (alice WETH, bob USDC, _liquidity USDC), 1 borrow.
    assert report.events == 6 and report.state_hash == expected
    assert isinstance(replayed.ledger, type(engine.ledger))


def test_book_when_engine_refuses_a_borrow_then_nothing_written(tmp_path: Path) -> None:
    # 10 WETH x 2,000 x LTV 0.805 = 16,100 USD of borrowing power: 17,000 is refused.
    path = _config(tmp_path, "account,asset,supplied,borrowed\n"
                             "alice,WETH,10,\nalice,USDC,,17000\n")
    cfg = read_config(path)
    log = tmp_path / "events.sqlite"
    with pytest.raises(ConfigError, match="the engine refuses this book") as caught:
        start_engine(cfg.protocol, cfg.prices, cfg.book, f"sqlite:{log}")
    assert "Borrow" in str(caught.value) and "alice" in str(caught.value)
    assert not log.exists()


def test_book_when_it_names_liquidity_account_then_refused_by_line_and_nothing_written(
        tmp_path: Path) -> None:
    # Its supply would be merged with the liquidity the genesis deposits by _liquidity.
    path = _config(tmp_path, "account,asset,supplied,borrowed\n"
                             "alice,WETH,10,\nalice,USDC,,15000\n_liquidity,USDC,5000,\n")
    cfg = read_config(path)
    log = tmp_path / "events.sqlite"
    with pytest.raises(ConfigError) as caught:
        start_engine(cfg.protocol, cfg.prices, cfg.book, f"sqlite:{log}")
    assert caught.value.problems == [
        f"{tmp_path / 'book.csv'}:4: account: '_liquidity' is reserved (the service's account "
        "that supplies what a book's borrowers owe beyond its suppliers' supply)"]
    assert not log.exists()


def test_request_when_it_acts_as_liquidity_account_then_422_and_liquidity_kept(
        tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from marginengine.service import Service
    from marginengine.service.app import create_app
    from tests.service.conftest import AUTH, TOKEN

    path = _config(tmp_path, "account,asset,supplied,borrowed\n"
                             "alice,WETH,10,\nalice,USDC,,15000\nbob,USDC,5000,\n")
    cfg = read_config(path)
    engine = start_engine(cfg.protocol, cfg.prices, cfg.book, None).engine
    assert engine.ledger.supply_of(LIQUIDITY_ACCOUNT, "USDC") == 10_000 * USDC
    with TestClient(create_app(Service(engine), TOKEN, rate=0)) as client:
        r = client.post("/events", headers=AUTH, json={"events": [
            {"type": "Withdraw", "account": LIQUIDITY_ACCOUNT, "asset": "USDC",
             "amount": 10_000 * USDC}]})
    assert r.status_code == 422
    assert r.json()["error"].startswith("events.0.account: '_liquidity' is reserved (")
    assert engine.ledger.supply_of(LIQUIDITY_ACCOUNT, "USDC") == 10_000 * USDC


def test_price_file_when_read_then_ticks_of_set_price(tmp_path: Path) -> None:
    config = read_config(CONFIG).protocol
    path = tmp_path / "prices.csv"
    path.write_text("advance_seconds,WETH,WBTC\n60,2900,59000\n,2800.5,\n")
    ticks = read_price_file(path, config)
    assert len(ticks) == 2
    assert ticks[1] == [SetPrice("WETH", 280_050_000_000)]
    assert [e.name for e in ticks[0]] == ["AdvanceTime", "SetPrice", "SetPrice"]


def test_price_file_lines_when_blank_lines_then_each_tick_keeps_its_line(
        tmp_path: Path) -> None:
    # The replay's status (GET /replay/0) names the line, as the file's own errors do.
    import time

    from fastapi.testclient import TestClient

    from marginengine.service import Service
    from marginengine.service.app import create_app

    cfg = read_config(CONFIG)
    path = tmp_path / "prices.csv"
    path.write_text("WETH\n2900\n\n2800\n")
    replay = read_replay_file(path, cfg.protocol)
    assert [n for n, _, _ in replay.rows] == [2, 4]
    started = start_engine(cfg.protocol, cfg.prices, cfg.book, None, cfg.source, cfg.options)
    service = Service(started.engine, cfg.settings())
    service.log_failure = "disk full"
    app = create_app(service, "t", rate=0, replay=replay, replay_rate=100)
    with TestClient(app) as client:
        deadline = time.time() + 5
        while client.get("/replay/0").json()["state"] == "running" and time.time() < deadline:
            time.sleep(0.02)
        status = client.get("/replay/0").json()
    assert (status["state"], status["played"], status["error"]) == (
        "failed", 0, "line 2: log: writes are refused since the log failed: disk full")


def test_serve_when_replay_rate_nan_then_refused_naming_it(
        capsys: pytest.CaptureFixture[str]) -> None:
    # Fuzzed: click's FloatRange takes nan (no comparison with it is true).
    with pytest.raises(SystemExit) as info:
        main(["serve", str(CONFIG), "--replay-rate", "nan"])
    assert info.value.code == 2
    assert capsys.readouterr().err == ("error: Invalid value for '--replay-rate': must be a "
                                       "number from 0.01 to 1000 (got nan)\n")


def test_price_file_when_bad_then_every_problem_named(tmp_path: Path) -> None:
    config = read_config(CONFIG).protocol
    path = tmp_path / "prices.csv"
    path.write_text("WETH,DOGE\n-1,2\n1,2,3\n")
    with pytest.raises(ConfigError) as caught:
        read_price_file(path, config)
    text = str(caught.value)
    assert "line 1: unknown asset 'DOGE'" in text
    assert "line 3: 3 fields, expected 2" in text


@pytest.mark.parametrize(("text", "message"), [
    # A column given twice: the second cell replaced the first (one SetPrice, of 2,100),
    # as a vol column given twice already was refused.
    ("WETH,WBTC,WETH\n2000,60000,2100\n", "line 1, column WETH: given twice (columns 1 "
                                            "and 3)"),
    # Two advances: both were applied, the clock moving 120 s for a tick saying 60.
    ("advance_seconds,WETH,advance_seconds\n60,2000,60\n",
     "line 1, column advance_seconds: given twice (columns 1 and 3)"),
    # A header and no tick: the service started, played nothing and said nothing (POST
    # /replay refuses an empty "ticks").
    ("WETH,WBTC\n", "line 2: no ticks after the header (one tick per line)"),
    ("WETH,WBTC\n\n,\n", "line 2: no ticks after the header (one tick per line)"),
])
def test_price_file_when_column_twice_or_no_tick_then_refused_naming_it(
        tmp_path: Path, text: str, message: str) -> None:
    config = read_config(CONFIG).protocol
    path = tmp_path / "prices.csv"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        read_replay_file(path, config)
    assert str(caught.value) == f"{path}: {message}"


def test_example_price_file_when_read_then_120_ticks() -> None:
    config = read_config(CONFIG).protocol
    assert len(read_price_file(ROOT / "examples" / "serve_prices.csv", config)) == 120


def test_replay_cli_when_postgres_url_then_state_hash(
        pg_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = read_config(CONFIG)
    started = start_engine(cfg.protocol, cfg.prices, cfg.book, pg_url)
    expected = started.engine.state_hash()
    events = started.engine.seq
    started.engine.close()
    code, out, _ = run(["replay", pg_url, "--json"], capsys)
    assert code == 0
    report = json.loads(out)
    assert report["state_hash"] == expected and report["events"] == events == 806
    assert report["truncated"] is False


def test_service_table_when_screen_portfolios_then_in_settings_and_text_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    book = "account,asset,supplied,borrowed\nalice,WETH,10,\n"
    assert read_config(_config(tmp_path, book)).settings().screen_portfolios is True
    off = read_config(_config(tmp_path, book, "screen_portfolios = false\n"))
    assert off.settings().screen_portfolios is False
    code, _, err = run(["serve", str(_config(tmp_path, book, 'screen_portfolios = "no"\n'))],
                       capsys)
    assert code == 2 and "service.screen_portfolios" in err


@pytest.mark.parametrize(("line", "problem"), [
    # ServiceSection was a lax pydantic model: true was 1 quote, "5" five writes a second.
    ("max_quotes = true\n", "service.max_quotes: must not be true or false (got true)"),
    ('rate = "5"\n', "service.rate: must be a number, not text (got '5'"),
    ('burst = "7"\n', "service.burst: must be a number, not text (got '7'"),
    ("screen_portfolios = 1\n", "service.screen_portfolios: must be true or false (got 1)"),
])
def test_service_table_when_bool_for_number_or_text_for_number_then_refused_naming_it(
        line: str, problem: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    book = "account,asset,supplied,borrowed\nalice,WETH,10,\n"
    code, out, err = run(["serve", str(_config(tmp_path, book, line))], capsys)
    assert code == 2 and out == "" and "Traceback" not in err
    assert problem in err, err


EMODE_CONFIG = """
[protocol]
preset = "aave-v3"
[protocol.markets.WETH]
[protocol.markets.USDC]
[protocol.emode.categories.1]
ltv = 0.93
liquidation_threshold = 0.95
liquidation_bonus = 0.01
collateral = ["WETH"]
borrowable = ["WETH"]
[prices]
WETH = 2000
USDC = 1
[service]
book = "{book}"
"""
# alice: 10 WETH supplied, 9 WETH borrowed, in e-mode category 1. Inside it her health is
# 20,000 x 0.95 / 18,000 = 1.0555...; outside (Aave v3's WETH threshold 0.83) 0.922, so
# she would be liquidatable (and her borrow beyond LTV 0.80 refused).
EMODE_HF = 1_055_555_555_555_555_555


def _emode_config(tmp_path: Path, name: str, text: str) -> Path:
    (tmp_path / name).write_text(text)
    path = tmp_path / "serve.toml"
    path.write_text(EMODE_CONFIG.replace("{book}", name))
    return path


@pytest.mark.parametrize(("name", "text"), [
    ("book.csv", "account,asset,supplied,borrowed,emode\nalice,WETH,10,9,1\n"),
    ("book.toml", '[[accounts]]\nid = "alice"\nsupplied = { WETH = "10" }\n'
                  'borrowed = { WETH = "9" }\nemode = 1\n'),
])
def test_book_when_emode_account_then_service_health_equals_scan_and_replays(
        tmp_path: Path, name: str, text: str) -> None:
    from marginengine.engine import SetUserEMode
    from marginengine.engine.snapshot import engine_from_snapshot
    from marginengine.scan.files import engine_from_book, read_book
    from marginengine.service import Service
    from marginengine.service.startup import genesis_events, read_service_book

    cfg = read_config(_emode_config(tmp_path, name, text))
    assert cfg.book is not None
    book, _ = read_service_book(cfg.book, cfg.protocol)
    # The category is entered right after the prices, before alice's deposit and borrow.
    assert genesis_events(cfg.protocol, cfg.prices, book)[2] == SetUserEMode("alice", 1)
    log = tmp_path / "events.sqlite"
    engine = start_engine(cfg.protocol, cfg.prices, cfg.book, f"sqlite:{log}").engine
    service = Service(engine)
    served = service.account("alice")
    assert served is not None
    assert served["health_factor_wad"] == EMODE_HF and not served["liquidatable"]
    assert engine.ledger.emode_of("alice") == 1
    # The scan's engine (marginengine scan / health) on the same book agrees exactly.
    if name.endswith(".csv"):
        scanned = engine_from_book(cfg.protocol, cfg.prices, read_book(cfg.book, cfg.protocol))
    else:
        scanned = engine_from_snapshot({**tomllib.loads(text),
                                        "protocol": cfg.protocol.model_dump(mode="json"),
                                        "prices": {"WETH": "2000", "USDC": "1"}})
    assert scanned.health_factor("alice") == EMODE_HF
    expected = engine.state_hash()
    engine.close()
    replayed, report = Engine.replay(log)
    # 2 prices, SetUserEMode, 1 deposit, 1 borrow (alice supplies what she borrows).
    assert report.events == 5 and report.state_hash == expected
    assert replayed.ledger.emode_of("alice") == 1


def test_serve_when_port_0_then_prints_the_port_it_listens_on(tmp_path: Path) -> None:
    # --port 0: the system picks a free port; the dashboard line names it (it printed
    # ":0" while uvicorn bound a port of its own), and the service answers there.
    import os
    import re
    import subprocess
    import sys
    import time

    import httpx

    stderr = tmp_path / "serve.err"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "MARGINENGINE_TOKEN": "t"}
    with open(stderr, "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "marginengine.cli.main", "serve",
                                 str(CONFIG), "--port", "0"], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=err)
        try:
            deadline = time.monotonic() + 60
            found = None
            while found is None and time.monotonic() < deadline and proc.poll() is None:
                found = re.search(r"dashboard: http://127\.0\.0\.1:(\d+)/", stderr.read_text())
                time.sleep(0.1)
            assert found is not None, stderr.read_text()
            port = int(found.group(1))
            assert port > 0
            status = 0
            while status != 200 and time.monotonic() < deadline:
                try:
                    status = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code
                except httpx.HTTPError:
                    time.sleep(0.1)
            assert status == 200
        finally:
            proc.terminate()
            proc.wait(10)


def test_serve_when_port_taken_then_one_line_exit_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        code, _, err = run(["serve", str(CONFIG), "--port", str(port)], capsys)
    assert code == 2
    assert f"--host/--port: cannot listen on 127.0.0.1:{port}" in err
    assert "Traceback" not in err
