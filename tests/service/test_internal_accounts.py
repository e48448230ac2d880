"""The tool's own accounts (``ledger.book_file.RESERVED_ACCOUNTS``) are not the book's:
``_book``, which holds the other side of a snapshot book's option positions, and
``_liquidity``, which supplies what a lending book's borrowers owe beyond its suppliers,
appear in no count, list, alert or metric; ``GET /accounts/_book`` still reads it, marked
internal. No request may name either (test_bad_input.py), so nobody could act on an alert
about them: before, ``_book`` was counted in ``/summary``, listed in ``/at-risk`` and
alerted as newly liquidatable with a ``StartPortfolioAuction`` quote that every request
would refuse.

The book: ``examples/serve_snapshot.toml`` (derive-pm2, WETH at 2,000 USD, one 30-day
expiry at 60% ATM vol, skew -0.1; ``[service] counterparty_cash`` 1,000 USDC,
thresholds 1.25, 1.10, 1) with its own snapshot book: ``buyer`` long 2 puts of strike
2,000 (500 USDC of options cash), so ``_book`` is short them; ``lp`` supplies 100,000
USDC; ``borrower`` supplies 3 WETH and borrows 4,000 USDC (health 3 x 2,000 x 0.83 /
4,000 = 1.245; at 1,700 USD 1.05825).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from marginengine.fixedpoint import WAD
from marginengine.service import Service
from marginengine.service.startup import read_config, start_engine
from tests.service.conftest import AUTH, TOKEN

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOT = ROOT / "examples" / "serve_snapshot.toml"
BOOK = """
[[vols]]
underlying = "WETH"
expiry = 2592000
vol = 0.6
skew = -0.1

[[accounts]]
id = "buyer"
option_cash = 500
options = [{ underlying = "WETH", expiry = 2592000, strike = 2000, type = "put", size = 2 }]

[[accounts]]
id = "lp"
supplied = { USDC = 100000 }

[[accounts]]
id = "borrower"
supplied = { WETH = 3 }
borrowed = { USDC = 4000 }
"""
ACCOUNTS = ["borrower", "buyer", "lp"]


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    from marginengine.service.app import create_app

    (tmp_path / "book.toml").write_text(BOOK)
    path = tmp_path / "serve.toml"
    path.write_text(SNAPSHOT.read_text().replace('book = "serve_snapshot_book.toml"',
                                                 'book = "book.toml"'))
    cfg = read_config(path)
    started = start_engine(cfg.protocol, cfg.prices, cfg.book, None, cfg.source,
                           cfg.options, counterparty_cash=cfg.counterparty_cash)
    service = Service(started.engine, cfg.settings())
    with TestClient(create_app(service, TOKEN, rate=0)) as c:
        c.service = service  # type: ignore[attr-defined]
        yield c


def _crash(client: Any) -> dict[str, Any]:
    # At 1,700 USD _book's two short 2,000 puts put it below its maintenance margin.
    r = client.post("/ticks", json={"prices": {"WETH": "1700"}}, headers=AUTH)
    assert r.status_code == 200, r.text
    engine = client.service.engine
    assert engine.is_liquidatable("_book") and engine.health_factor("_book") < WAD
    alert: dict[str, Any] = r.json()["alert"]
    return alert


def test_alert_when_book_becomes_liquidatable_then_not_named(client: Any) -> None:
    alert = _crash(client)
    assert alert["liquidatable"] == {"count": 0, "new": [], "recovered": [], "quotes": []}
    # The borrower moves from below 1.25 to below 1.10 (health 1.05825); _book is not
    # listed (it fell through 1.25, 1.10 and 1).
    assert [(c["account"], c["from_level"], c["to_level"]) for c in alert["crossed"]] == [
        ("borrower", 1, 2)]
    assert alert["crossed_count"] == 1


def test_summary_when_internal_accounts_then_not_counted(client: Any) -> None:
    _crash(client)
    summary = client.get("/summary").json()
    assert summary["accounts"] == len(ACCOUNTS)
    assert summary["liquidatable"] == 0
    assert summary["at_levels"] == {"1.25": 1, "1.10": 1, "1": 0}
    dist = summary["health_distribution"]
    assert sum(dist["counts"]) + dist["no_debt"] == len(ACCOUNTS)
    options = summary["options"]
    assert (options["accounts"], options["liquidatable"]) == (1, 0)
    assert [row["account"] for row in options["lowest"]] == ["buyer"]
    # The clearing's totals stay whole: _book's 1,000 USDC is options cash held.
    assert options["cash"] == 1_500 * 10**6


def test_reads_when_internal_accounts_then_not_listed(client: Any) -> None:
    _crash(client)
    assert [row["account"] for row in client.get("/at-risk").json()] == ["borrower",
                                                                         "buyer"]
    assert client.get("/liquidatable").json() == {"count": 0, "accounts": []}
    levels = client.get("/levels").json()
    assert (levels["levels"], levels["liquidatable"]) == ({"borrower": 2}, [])
    whatif = client.post("/whatif", json={"shocks": {"WETH": "-0.05"}}).json()
    # At 1,615 USD the borrower (health 3 x 1,615 x 0.83 / 4,000 = 1.0053) is still
    # above 1; buyer is long options; _book is left out.
    assert whatif["liquidatable"] == 0
    assert (whatif["portfolio"]["accounts"], whatif["portfolio"]["liquidatable"]) == (1, 0)
    heat = client.get("/heatmap?asset=WETH&steps=2&max_drop=0.2").json()
    assert [(lv["accounts"], lv["portfolio"]["accounts"]) for lv in heat["levels"]] == [
        (0, 0), (1, 0), (1, 0)]  # the borrower below 1 at 1,530 and 1,360 USD


def test_metrics_when_internal_accounts_then_not_counted(client: Any) -> None:
    _crash(client)
    text = client.get("/metrics").text
    assert "marginengine_accounts 3.0" in text
    assert "marginengine_liquidatable_accounts 0.0" in text
    assert 'marginengine_accounts_below_threshold{threshold="1"} 0.0' in text
    assert client.get("/healthz").json()["ok"] is True


def test_account_when_internal_then_read_and_marked(client: Any) -> None:
    _crash(client)
    book = client.get("/accounts/_book").json()
    assert book["internal"] == ("it takes the other side of loaded perp positions; not "
                                "in the service's counts, lists or alerts")
    assert book["cash"] == 1_000 * 10**6 and book["liquidatable"] is True
    assert [(o["series"], o["size"]) for o in book["options"]] == [
        ("WETH-2592000-2000-P", -2 * 10**18)]
    assert "internal" not in client.get("/accounts/buyer").json()


def test_summary_when_liquidity_account_then_not_counted(tmp_path: Path) -> None:
    # alice borrows 15,000 USDC, bob supplied 5,000: _liquidity supplies the 10,000
    # beyond. The book has two accounts: alice (health 10 x 2,000 x 0.825 / 15,000 = 1.1)
    # and bob (no debt).
    from fastapi.testclient import TestClient

    from marginengine.ledger.book_file import LIQUIDITY_ACCOUNT
    from marginengine.service.app import create_app

    (tmp_path / "book.csv").write_text("account,asset,supplied,borrowed\n"
                                       "alice,WETH,10,\nalice,USDC,,15000\nbob,USDC,5000,\n")
    path = tmp_path / "serve.toml"
    path.write_text('[protocol]\npreset = "aave-v3"\n[protocol.markets.WETH]\n'
                    '[protocol.markets.USDC]\n[prices]\nWETH = 2000\nUSDC = 1\n'
                    '[service]\nbook = "book.csv"\n')
    cfg = read_config(path)
    engine = start_engine(cfg.protocol, cfg.prices, cfg.book, None).engine
    assert engine.ledger.supply_of(LIQUIDITY_ACCOUNT, "USDC") == 10_000 * 10**6
    with TestClient(create_app(Service(engine), TOKEN, rate=0)) as client:
        summary = client.get("/summary").json()
        metrics = client.get("/metrics").text
        liquidity = client.get(f"/accounts/{LIQUIDITY_ACCOUNT}").json()
    dist = summary["health_distribution"]
    assert (summary["accounts"], sum(dist["counts"]), dist["no_debt"]) == (2, 1, 1)
    assert "marginengine_accounts 2.0" in metrics
    assert liquidity["positions"] == {"USDC": {"supplied": 10_000 * 10**6, "borrowed": 0}}
    assert liquidity["internal"].endswith("; not in the service's counts, lists or alerts")
