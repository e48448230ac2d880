"""The service's options face beyond test_options.py: the ``--replay`` file's vol
columns, snapshot option books seeding the log, and the heatmap of portfolio accounts.

The options book is ``examples/serve_options.toml`` (WETH at 2,000 USD, one 30-day
expiry at 60% ATM vol, skew -0.1; ``mm`` buys 10 puts of strike 1,800 from each of
``s1``, ``s2`` and ``s3``), as in test_options.py.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from marginengine.engine import SetPrice, SetVolSurface
from marginengine.errors import ConfigError
from marginengine.fixedpoint import WAD
from marginengine.service import Service
from marginengine.service.requests import read_replay_file
from marginengine.service.startup import read_config, start_engine
from tests.service.conftest import AUTH, TOKEN
from tests.service.test_cli_serve import run

ROOT = Path(__file__).resolve().parents[2]
OPTIONS = ROOT / "examples" / "serve_options.toml"
LENDING = ROOT / "examples" / "serve.toml"
EXPIRY = 30 * 86_400


def _service(config: Path, log: str | None = None) -> Service:
    cfg = read_config(config)
    started = start_engine(cfg.protocol, cfg.prices, cfg.book, log, cfg.source, cfg.options)
    return Service(started.engine, cfg.settings())


# ---------------------------------------------------------------------- --replay vols
def test_replay_file_when_vol_column_then_vol_ticks_keep_the_skew(tmp_path: Path) -> None:
    path = tmp_path / "path.csv"
    # Tick 1: price only; tick 2: vol only (150%); tick 3: both.
    path.write_text("WETH,vol.WETH\n1900,\n,1.5\n1700,0.9\n")
    service = _service(OPTIONS)
    state = service.engine.state
    ticks = read_replay_file(path, service.config).ticks(state.vols, state.svi)
    assert ticks == [
        [SetPrice("WETH", 1_900 * 10**8)],
        [SetVolSurface("WETH", EXPIRY, 1_500_000, -100_000)],
        [SetPrice("WETH", 1_700 * 10**8), SetVolSurface("WETH", EXPIRY, 900_000, -100_000)],
    ]
    # Played as the service plays them (each tick one request, as POST /ticks): at
    # 1,900 USD and 150% ATM vol s3 is liquidatable and s2 below 1.10 (level 2 of the
    # thresholds 1.25, 1.10, 1), each by the engine's exact health.
    assert service.apply(ticks[0]).alert["crossed_count"] == 0
    alert = service.apply(ticks[1]).alert
    assert alert["liquidatable"]["new"] == ["s3"]
    assert {c["account"]: c["to_level"] for c in alert["crossed"]} == {"s3": 3, "s2": 2}
    health = service.engine.health_factor
    assert health("s3") < WAD <= health("s2") < 11 * WAD // 10 <= health("s1")
    assert service.engine.state.vols[("WETH", EXPIRY)] == (1_500_000, -100_000)


@pytest.mark.parametrize(("config", "csv", "problem"), [
    (OPTIONS, "WETH,vol.WETH\n1900,0\n", "line 2, column vol.WETH: must be in 0.01..10 (got 0)"),
    (OPTIONS, "WETH,vol.WETH\n1900,abc\n", "line 2, column vol.WETH: must be a number (got 'abc')"),
    (OPTIONS, "vol.WETH\n11\n", "line 2, column vol.WETH: must be in 0.01..10 (got 11)"),
    (OPTIONS, "vol.DOGE\n0.5\n", "line 1, column vol.DOGE: unknown asset 'DOGE'"),
    (LENDING, "WETH,vol.WETH\n2900,0.8\n",
     "line 1, column vol.WETH: the protocol has no options (add [protocol.options]"),
    (OPTIONS, "advance_seconds,WETH\nx,1\n",
     "line 2, column advance_seconds: must be a positive integer (got 'x')"),
])
def test_replay_file_when_bad_vol_then_file_line_and_column_named(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], config: Path, csv: str,
        problem: str) -> None:
    path = tmp_path / "path.csv"
    path.write_text(csv)
    with pytest.raises(ConfigError) as caught:
        read_replay_file(path, read_config(config).protocol)
    assert str(caught.value).startswith(f"{path}: {problem}")
    # At the CLI: one line, exit 2, no log written.
    log = tmp_path / "events.sqlite"
    code, _, err = run(["serve", str(config), "--replay", str(path), "--log",
                        f"sqlite:{log}"], capsys)
    assert code == 2 and problem in err and len(err.strip().splitlines()) == 1
    assert not log.exists()


def test_replay_file_when_underlying_has_no_surface_then_refused_before_the_log(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # USDC is a priced market of the options protocol, but no expiry of it has a
    # surface at startup: known only from the started state, refused before any write.
    path = tmp_path / "path.csv"
    path.write_text("WETH,vol.USDC\n1900,0.5\n")
    log = tmp_path / "events.sqlite"
    code, _, err = run(["serve", str(OPTIONS), "--replay", str(path), "--log",
                        f"sqlite:{log}"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert (f"{path}: line 1, column vol.USDC: no vol surface on USDC when the service "
            "starts") in err
    assert not log.exists()


def test_replay_file_when_no_vol_column_then_as_before(tmp_path: Path) -> None:
    path = tmp_path / "path.csv"
    path.write_text("advance_seconds,WETH\n60,2900\n")
    ticks = read_replay_file(path, read_config(LENDING).protocol).ticks({})
    assert [e.name for e in ticks[0]] == ["AdvanceTime", "SetPrice"]


# ---------------------------------------------------------------------- heatmap
def _options_config(tmp_path: Path, preset: str) -> Path:
    path = tmp_path / "serve_options.toml"
    path.write_text(OPTIONS.read_text().replace('portfolio_preset = "derive-pm2"',
                                                f'portfolio_preset = "{preset}"'))
    return path


def _app(service: Service) -> Any:
    from fastapi.testclient import TestClient

    from marginengine.service.app import create_app

    return TestClient(create_app(service, TOKEN, rate=0))


def test_heatmap_when_srm_then_portfolio_accounts_at_derives_put_requirement(
        tmp_path: Path) -> None:
    # Before: the heatmap left portfolio accounts out (0 accounts at every level). The
    # SRM's maintenance requirement of a short put is 0.09 x spot x size when that term
    # binds (StandardManager._getIsolatedMarginForPut; test_options.py), so a level's
    # debt is 0.09 x price x 10 per seller liquidatable there: s3 at 1,500 (1,350 USD),
    # s2 and s3 at 1,400 (2 x 1,260), all three at 1,200 (3 x 1,080) and at 1,000.
    with _app(_service(_options_config(tmp_path, "derive-srm"))) as client:
        body = client.get("/heatmap?asset=WETH&steps=10&max_drop=0.5").json()
    levels = {level["price"]: level for level in body["levels"]}
    assert [level["price"] for level in body["levels"]] == [
        2000.0 - 100 * i for i in range(11)]
    assert [levels[p]["accounts"] for p in (2000.0, 1600.0, 1500.0, 1400.0, 1200.0, 1000.0)
            ] == [0, 0, 1, 2, 3, 3]
    assert levels[1500.0]["debt"] == 1_350.0
    assert levels[1400.0]["debt"] == 2_520.0
    assert levels[1200.0]["debt"] == 3_240.0
    assert levels[1000.0]["debt"] == 2_700.0
    # The portfolio part is the whole level here (no lending borrower in the book).
    for level in body["levels"]:
        part = level["portfolio"]
        assert (part["accounts"], part["requirement"], part["value"]) == (
            level["accounts"], level["debt"], level["collateral"])
        assert level["shortfall"] == pytest.approx(level["debt"] - level["collateral"],
                                                   abs=0.011)


@pytest.mark.parametrize("preset", ["derive-pm2", "derive-pm1", "derive-srm"])
def test_heatmap_when_options_then_each_level_is_the_whatif_at_that_drop(
        tmp_path: Path, preset: str) -> None:
    # One rule: a level of the heatmap is POST /whatif at that shock, and the accounts
    # it counts are those a price tick to that level makes liquidatable.
    service = _service(_options_config(tmp_path, preset))
    with _app(service) as client:
        # mm supplies 100,000 USDC; s3 (a put seller) supplies 1 WETH and borrows
        # 1,500 USDC: a portfolio account holding lending too, counted once.
        events = [{"type": "Deposit", "account": "mm", "asset": "USDC",
                   "amount": 100_000 * 10**6},
                  {"type": "Deposit", "account": "s3", "asset": "WETH", "amount": 10**18},
                  {"type": "Borrow", "account": "s3", "asset": "USDC",
                   "amount": 1_500 * 10**6}]
        r = client.post("/events", json={"events": events}, headers=AUTH)
        assert all(o["accepted"] for o in r.json()["outcomes"])
        body = client.get("/heatmap?asset=WETH&steps=5&max_drop=0.5").json()
        assert len(body["levels"]) == 6
        for level in body["levels"]:
            if level["drop"] == 0:
                assert level["accounts"] == 0
                continue
            whatif = client.post("/whatif", json={"shocks": {"WETH": -level["drop"]}}).json()
            assert level["accounts"] == whatif["liquidatable"]
            assert level["debt"] == round(whatif["debt"], 2)
            assert level["collateral"] == round(whatif["collateral"], 2)
            assert level["portfolio"]["accounts"] == whatif["portfolio"]["liquidatable"]
        # At 1,200 USD every seller is liquidatable by its whole margin, s3 once.
        at_1200 = next(lv for lv in body["levels"] if lv["price"] == 1200.0)
        assert at_1200["portfolio"]["accounts"] == 3 and at_1200["accounts"] == 3
        r = client.post("/ticks", json={"prices": {"WETH": 1200}}, headers=AUTH)
        assert sorted(r.json()["alert"]["liquidatable"]["new"]) == ["s1", "s2", "s3"]


@pytest.mark.parametrize("preset", ["derive-pm2", "derive-pm1", "derive-srm"])
def test_heatmap_when_options_then_screened_levels_equal_the_exact_ones(
        tmp_path: Path, preset: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # The heatmap and the what-if screen the portfolio accounts at each level's shocked
    # prices (the watch's screen, scan.portfolio_screens) and read exactly only those
    # its error bound leaves in doubt, and the liquidatable ones for the totals: every
    # figure equal to the exact path's (screen_portfolios = false). The exact path
    # evaluates each account's rule once per level (benchmarks/heatmap.py's bound;
    # before: twice, is_below reading value and requirement, and once more per account
    # liquidatable there: 1.9 x the bound).
    from marginengine.service import Settings

    config = _options_config(tmp_path, preset)
    screened = _service(config)
    cfg = read_config(config)
    started = start_engine(cfg.protocol, cfg.prices, cfg.book, None, cfg.source, cfg.options)
    exact = Service(started.engine, Settings(thresholds=cfg.settings().thresholds,
                                             screen_portfolios=False))
    calls: dict[str, list[str]] = {"screened": [], "exact": []}
    for name, service in (("screened", screened), ("exact", exact)):
        real = service.engine.portfolio_margin

        def counted(account_id: str, *args: Any, _real: Any = real, _name: str = name,
                    **kwargs: Any) -> Any:
            calls[_name].append(account_id)
            return _real(account_id, *args, **kwargs)

        monkeypatch.setattr(service.engine, "portfolio_margin", counted)
    for vols in (None, {("WETH", 30 * 86_400): (1_500_000, -100_000)}):
        assert screened.whatif({"WETH": Decimal("-0.2")}, "s3", vols) == exact.whatif(
            {"WETH": Decimal("-0.2")}, "s3", vols)
    for name in calls:
        calls[name].clear()
    body = screened.heatmap("WETH", 5, Decimal("0.5"))
    assert body == exact.heatmap("WETH", 5, Decimal("0.5"))
    watched = sorted(exact.portfolios.figures)
    assert watched == ["mm", "s1", "s2", "s3"]
    assert sorted(calls["exact"]) == sorted(watched * 6)
    # Screened: only the sellers liquidatable at a level are read (for the totals), and
    # those the bound leaves in doubt.
    liquidatable = sum(lv["portfolio"]["accounts"] for lv in body["levels"])
    assert liquidatable <= len(calls["screened"]) < len(calls["exact"])
    # At 1,200 USD (drop 0.4) the three sellers are liquidatable.
    assert [lv["portfolio"]["accounts"] for lv in body["levels"]][4] == 3


def test_heatmap_when_lending_only_then_unchanged(tmp_path: Path) -> None:
    # No portfolio account: no "portfolio" part, the book's curve as before.
    with _app(_service(LENDING)) as client:
        body = client.get("/heatmap?asset=WETH&steps=2&max_drop=0.5").json()
    assert [set(level) for level in body["levels"]] == [
        {"drop", "price", "accounts", "debt", "collateral", "shortfall"}] * 3
    assert body["levels"][0]["price"] == 3000.0 and body["levels"][2]["price"] == 1500.0


# ---------------------------------------------------------------------- snapshot books
SNAPSHOT = ROOT / "examples" / "serve_snapshot.toml"
SNAPSHOT_BOOK = ROOT / "examples" / "serve_snapshot_book.toml"


def _snapshot_config(tmp_path: Path, preset: str = "derive-pm2", cash: str = "1_000",
                     book: str | None = None) -> Path:
    """examples/serve_snapshot.toml under ``preset``, with ``counterparty_cash = cash``
    and, if given, ``book`` as its snapshot book."""
    text = SNAPSHOT.read_text().replace('portfolio_preset = "derive-pm2"',
                                        f'portfolio_preset = "{preset}"')
    text = text.replace("counterparty_cash = 1_000", f"counterparty_cash = {cash}")
    (tmp_path / "book.toml").write_text(book if book is not None else
                                        SNAPSHOT_BOOK.read_text())
    text = text.replace('book = "serve_snapshot_book.toml"', 'book = "book.toml"')
    path = tmp_path / "serve.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("preset", ["derive-pm2", "derive-pm1", "derive-srm"])
def test_snapshot_book_when_options_then_entered_as_events_with_the_snapshots_figures(
        tmp_path: Path, preset: str) -> None:
    from marginengine.config import read_toml
    from marginengine.engine import Engine
    from marginengine.engine.snapshot import engine_from_snapshot

    path = _snapshot_config(tmp_path, preset)
    cfg = read_config(path)
    assert cfg.counterparty_cash == 1_000 * 10**6
    log = tmp_path / "events.sqlite"
    started = start_engine(cfg.protocol, cfg.prices, cfg.book, f"sqlite:{log}", cfg.source,
                           cfg.options, counterparty_cash=cfg.counterparty_cash)
    engine = started.engine
    service = Service(engine, cfg.settings())
    # The snapshot as `marginengine health` builds it (no events, no margin checks).
    data = read_toml(tmp_path / "book.toml")
    data["protocol"]["options"]["portfolio_preset"] = preset
    snap = engine_from_snapshot(data)
    for account in ("writer", "spread", "seller", "borrower"):
        assert engine.health_factor(account) == snap.health_factor(account)
        assert service.account(account)["health_factor_wad"] == snap.health_factor(account)
    assert engine.portfolio_margin_units("seller") == snap.portfolio_margin_units("seller")
    # Aave's health of the lending borrower: 3 WETH x 2,000 x 0.83 / 4,000 USDC.
    assert engine.health_factor("borrower") == 1_245 * 10**15
    seller = service.account("seller")
    assert seller["cash"] == 1_200 * 10**6 and seller["options"][0]["size"] == -2 * 10**18
    assert service.summary()["options"]["open_interest"] == {
        "WETH-2592000-2000-C": 10**18, "WETH-2592000-2000-P": 2 * 10**18,
        "WETH-2592000-2200-C": 2 * 10**18}
    # _book holds the other side: 1,000 USDC of options cash, sizes net to zero.
    book = service.account("_book")
    assert book["cash"] == 1_000 * 10**6
    assert sorted((o["series"], o["size"]) for o in book["options"]) == [
        ("WETH-2592000-2000-C", -10**18), ("WETH-2592000-2000-P", 2 * 10**18),
        ("WETH-2592000-2200-C", 2 * 10**18)]
    # The log's first batch: 2 prices, 2 deposits, 1 borrow, 1 vol surface, 4 options
    # cash deposits (3 accounts and _book), 4 trades; it replays to the same state.
    expected = engine.state_hash()
    engine.close()
    _, report = Engine.replay(log)
    assert report.events == 14 and report.state_hash == expected


def test_snapshot_book_when_counterparty_cannot_sell_then_refused_naming_the_field(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Without options cash _book cannot sell spread its long 2,000 call (PMRM_2 initial
    # margin -149.64 USDC after it); spread's short leg is then refused too (naked).
    path = _snapshot_config(tmp_path, cash="0")
    cfg = read_config(path)
    with pytest.raises(ConfigError) as caught:
        start_engine(cfg.protocol, cfg.prices, cfg.book, None, cfg.source, cfg.options,
                     counterparty_cash=cfg.counterparty_cash)
    text = str(caught.value)
    assert text.startswith(f"{tmp_path / 'book.toml'}: the engine refuses this book")
    assert ("; accounts.1.options.1: TradeOption {\"type\": \"TradeOption\", \"buyer\": "
            "\"spread\", \"seller\": \"_book\"") in text
    assert ("_book: initial margin after the trade would be -149.64 (before 1.88); the "
            "trade adds risk (_book takes the other side of the book's option positions; "
            "give it options cash with [service] counterparty_cash)") in text
    assert "accounts.1.options.0: TradeOption" in text and "spread: initial margin" in text
    # At the CLI: one line, exit 2, no log.
    log = tmp_path / "events.sqlite"
    code, _, err = run(["serve", str(path), "--log", f"sqlite:{log}"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "accounts.1.options.1" in err
    assert not log.exists()


THIN = """
[[vols]]
underlying = "WETH"
expiry = 2592000
vol = 0.6
[[accounts]]
id = "thin"
option_cash = 50
options = [{ underlying = "WETH", expiry = 2592000, strike = 2000, type = "put", size = -2 }]
"""


@pytest.mark.parametrize(("book", "cash", "problem"), [
    # An account short two puts with 50 USDC: the pre-trade check refuses its position.
    (THIN, "1_000", "accounts.0.options.0: TradeOption"),
    (THIN, "1_000", "thin: initial margin after the trade would be -776.65 (before 50.00)"),
    (THIN.replace("expiry = 2592000\nvol", "expiry = 86400\nvol"), "0",
     "accounts.0.options.0.expiry: no [[vols]] entry for WETH expiry 2592000"),
    (THIN.replace('underlying = "WETH", expiry', 'underlying = "DOGE", expiry'), "0",
     "accounts.0.options.0.underlying: no price for 'DOGE'"),
    ('[[accounts]]\nid = "p"\npositions = { ETH-PERP = { size = 1, entry = 1 } }\n',
     "0", "accounts.0.positions.ETH-PERP: unknown perp market"),
    (THIN, "-5", "service.counterparty_cash"),
])
def test_snapshot_book_when_bad_then_refused_naming_the_field(
        tmp_path: Path, book: str, cash: str, problem: str) -> None:
    path = _snapshot_config(tmp_path, cash=cash, book=book)
    with pytest.raises(ConfigError) as caught:
        cfg = read_config(path)
        start_engine(cfg.protocol, cfg.prices, cfg.book, None, cfg.source, cfg.options,
                     counterparty_cash=cfg.counterparty_cash)
    assert problem in str(caught.value)


def test_snapshot_book_when_protocol_has_no_options_then_options_refused(
        tmp_path: Path) -> None:
    config = tmp_path / "serve.toml"
    config.write_text(LENDING.read_text().replace('book = "serve_book.csv"',
                                                  'book = "book.toml"'))
    (tmp_path / "book.toml").write_text(THIN)
    cfg = read_config(config)
    with pytest.raises(ConfigError, match=r"accounts\.0\.options: the protocol has no "
                                          r"\[protocol\.options\]"):
        start_engine(cfg.protocol, cfg.prices, cfg.book, None, cfg.source, cfg.options)
    (tmp_path / "serve.toml").write_text(config.read_text().replace(
        "[service]", "[service]\ncounterparty_cash = 5"))
    with pytest.raises(ConfigError, match="service.counterparty_cash: the protocol has no "
                                          "options"):
        read_config(config)


def test_snapshot_book_when_perp_positions_then_refused_naming_the_field(
        tmp_path: Path) -> None:
    from marginengine.scan.files import read_protocol
    from marginengine.service.startup import read_service_book

    protocol = read_protocol(ROOT / "examples" / "snapshot_perps.toml")
    book = tmp_path / "book.toml"
    book.write_text('[[accounts]]\nid = "p"\nquote = 100\n'
                    'positions = { ETH-PERP = { size = 1, entry = 2000 } }\n')
    with pytest.raises(ConfigError) as caught:
        read_service_book(book, protocol)
    assert str(caught.value) == (f"{book}: accounts.0.positions: the service opens no perp "
                                 f"positions from a book (post Trade events to POST /events)")
