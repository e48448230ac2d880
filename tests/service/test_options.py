"""The service on an options protocol, for each of Derive's three portfolio presets:
option trades and vol surfaces posted as events, each portfolio account's margin read
through GET /accounts/{id}, accounts moving into /liquidatable after a price or vol tick,
alerts pushed, /whatif at shocked prices, bad option events refused with the field.

The book is ``examples/serve_options.toml``: WETH at 2,000 USD, one 30-day expiry at 60%
ATM vol (skew -0.1); ``mm`` buys 10 puts of strike 1,800 at 60 USDC each from each of
``s1`` (6,000 USDC of options cash), ``s2`` (4,500) and ``s3`` (3,700). Every figure the
service shows is compared with the engine's own read of the same account.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from marginengine.engine import Engine
from marginengine.errors import ConfigError
from marginengine.fixedpoint import PRICE_UNIT, WAD
from marginengine.margin.base import MarginKind
from marginengine.service import Service
from marginengine.service.startup import read_config, start_engine
from tests.service.conftest import AUTH, TOKEN

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "serve_options.toml"
PRESETS = ("derive-pm2", "derive-pm1", "derive-srm")
EXPIRY = 30 * 86_400
USDC6 = 10**6           # USDC smallest units per USDC
SIZE = 10**18           # option size units per option


def _config(tmp_path: Path, preset: str, replace: tuple[str, str] | None = None) -> Path:
    text = EXAMPLE.read_text().replace('portfolio_preset = "derive-pm2"',
                                       f'portfolio_preset = "{preset}"')
    if replace is not None:
        assert replace[0] in text
        text = text.replace(*replace)
    path = tmp_path / "serve_options.toml"
    path.write_text(text)
    return path


def _client(path: Path) -> Any:
    from fastapi.testclient import TestClient

    from marginengine.service.app import create_app

    cfg = read_config(path)
    started = start_engine(cfg.protocol, cfg.prices, cfg.book, None, cfg.source, cfg.options)
    service = Service(started.engine, cfg.settings())
    client = TestClient(create_app(service, TOKEN, rate=0))
    client.service = service  # type: ignore[attr-defined]
    return client


@pytest.fixture(params=PRESETS)
def preset_client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """The example book under each preset."""
    with _client(_config(tmp_path, request.param)) as c:
        yield c


@pytest.fixture
def pm2(tmp_path: Path) -> Iterator[Any]:
    """The example book under derive-pm2 (PMRM_2)."""
    with _client(_config(tmp_path, "derive-pm2")) as c:
        yield c


@pytest.fixture
def srm(tmp_path: Path) -> Iterator[Any]:
    """The example book under derive-srm (Derive's Standard Risk Manager, exact in wad)."""
    with _client(_config(tmp_path, "derive-srm")) as c:
        yield c


def _engine(client: Any) -> Engine:
    engine: Engine = client.service.engine
    return engine


# ---------------------------------------------------------------------- reads
def test_account_when_portfolio_then_figures_are_the_engines(preset_client: Any) -> None:
    engine = _engine(preset_client)
    for account in ("mm", "s1", "s2", "s3"):
        body = preset_client.get(f"/accounts/{account}").json()
        pm = engine.portfolio_margin(account)
        assert pm is not None
        maintenance, mtm = engine.portfolio_margin_units(account) or (0, 0)
        assert body["mode"] == "portfolio" and body["rule"] == pm.rule
        assert body["maintenance_margin"] == maintenance and body["mtm"] == mtm
        assert body["initial_margin"] == math.floor(pm.fraction("initial") * USDC6)
        assert body["health_factor_wad"] == engine.health_factor(account)
        assert body["liquidatable"] is engine.is_liquidatable(account) is False
        assert body["level"] == 0
    s3 = preset_client.get("/accounts/s3").json()
    # 3,700 USDC deposited plus 10 x 60 USDC of premium received.
    assert s3["cash"] == 4_300 * USDC6
    assert s3["options"] == [{"series": "WETH-2592000-1800-P", "underlying": "WETH",
                              "expiry": EXPIRY, "strike": 1_800 * PRICE_UNIT,
                              "is_call": False, "size": -10 * SIZE}]
    assert preset_client.get("/accounts/nobody").status_code == 404


def test_account_when_srm_then_maintenance_is_derives_isolated_put_margin(srm: Any) -> None:
    # The SRM's maintenance margin of a short put (StandardManager._getIsolatedMarginForPut):
    # min(mm_put_spot_req x spot x amount, mm_put_mtm_req x mark) + mark, with
    # mm_put_spot_req = mm_put_mtm_req = 0.09: the spot term 0.09 x 2,000 x 10 = 1,800 USD
    # binds (the mark term is 0.09 x ~557 USD), so the requirement is 1,800 USD exactly.
    body = srm.get("/accounts/s3").json()
    assert body["maintenance_requirement"] == 1_800 * PRICE_UNIT
    assert body["maintenance_margin"] == body["mtm"] - 1_800 * USDC6
    # Health = value / requirement, rounded down (the value floored to 8 decimals).
    assert body["health_factor_wad"] == body["total_value"] * WAD // (1_800 * PRICE_UNIT)
    assert body["health_factor_wad"] == 2_079_301_590_933_333_333
    # At 1,500 USD: 0.09 x 1,500 x 10 = 1,350 USD, more than s3's mark-to-market.
    r = srm.post("/ticks", json={"prices": {"WETH": 1500}}, headers=AUTH)
    alert = r.json()["alert"]
    assert alert["liquidatable"]["new"] == ["s3"] and alert["liquidatable"]["count"] == 1
    body = srm.get("/accounts/s3").json()
    assert body["maintenance_requirement"] == 1_350 * PRICE_UNIT
    assert body["liquidatable"] is True and body["level"] == 3
    assert body["maintenance_margin"] == body["mtm"] - 1_350 * USDC6 < 0


def test_summary_when_options_then_open_interest_and_security_module(pm2: Any) -> None:
    engine = _engine(pm2)
    body = pm2.get("/summary").json()
    assert body["accounts"] == 4
    assert body["options"] == {
        "rule": "PMRM_2", "quote_asset": "USDC", "accounts": 4, "liquidatable": 0,
        "unpriced": [], "cash": (500_000 + 6_000 + 4_500 + 3_700) * USDC6,
        "security_module": 1_000 * USDC6,
        "open_interest": {"WETH-2592000-1800-P": 30 * SIZE}, "auctions": [],
        "vols": {"WETH-2592000": {"underlying": "WETH", "expiry": EXPIRY,
                                  "vol_ppm": 600_000, "skew_ppm": -100_000}},
        "svi": [],
        # The dashboard's options panel: portfolio accounts by the watch's health.
        "lowest": [{"account": a, "health": round(engine.health_factor(a) / WAD, 6),
                    "level": 0, "liquidatable": False, "unpriced": None, "auction": False}
                   for a in ("s3", "s2", "s1", "mm")]}
    # The health histogram counts the portfolio accounts by their exact health:
    # s2 (2.56) and s3 (2.11) in [2, 3), s1 (3.40) in [3, 5), mm in [5, inf).
    dist = body["health_distribution"]
    assert dist["counts"][-3:] == [2, 1, 1] and sum(dist["counts"]) == 4


# ---------------------------------------------------------------------- ticks and alerts
def test_price_tick_when_seller_falls_below_maintenance_then_alert_and_liquidatable(
        preset_client: Any) -> None:
    engine = _engine(preset_client)
    with preset_client.websocket_connect("/ws") as ws:
        r = preset_client.post("/ticks", json={"prices": {"WETH": 1500}}, headers=AUTH)
        pushed = ws.receive_json()
    alert = r.json()["alert"]
    assert pushed["liquidatable"] == alert["liquidatable"]
    expected = sorted(a for a in ("s1", "s2", "s3") if engine.is_liquidatable(a))
    # s3, the thinnest seller, is below maintenance at 1,500 under every preset.
    assert "s3" in expected
    assert alert["liquidatable"]["new"] == expected
    assert preset_client.get("/liquidatable").json() == {"count": len(expected),
                                                         "accounts": expected}
    quote = next(q for q in alert["liquidatable"]["quotes"] if q["account"] == "s3")
    maintenance, mtm = engine.portfolio_margin_units("s3") or (0, 0)
    assert quote == {"account": "s3", "mechanism": "portfolio_auction",
                     "event": "StartPortfolioAuction", "maintenance_margin": maintenance,
                     "mtm": mtm, "auction": None}
    assert maintenance < 0
    crossed = {c["account"]: c for c in alert["crossed"]}
    assert crossed["s3"]["to_level"] == 3 and crossed["s3"]["direction"] == "down"
    assert crossed["s3"]["health"] == round(engine.health_factor("s3") / WAD, 6)
    first = preset_client.get("/at-risk?limit=2").json()[0]
    assert first["mode"] == "portfolio" and first["liquidatable"] is True
    assert preset_client.get("/levels").json()["levels"]["s3"] == 3
    # Back up: recovered, and the levels clear.
    r = preset_client.post("/ticks", json={"prices": {"WETH": 2000}}, headers=AUTH)
    assert r.json()["alert"]["liquidatable"]["recovered"] == expected
    assert preset_client.get("/levels").json()["levels"] == {}


def test_vol_tick_when_vol_jumps_then_seller_liquidatable_and_auction_started(
        pm2: Any) -> None:
    engine = _engine(pm2)
    r = pm2.post("/ticks", json={"vols": {"WETH": "1.5"}}, headers=AUTH)
    assert [o["outcome"] for o in r.json()["outcomes"]] == ["SetVolSurfaceAccepted"]
    # The expiry's ATM vol replaced, its skew kept.
    assert engine.state.vols[("WETH", EXPIRY)] == (1_500_000, -100_000)
    alert = r.json()["alert"]
    assert alert["liquidatable"]["new"] == ["s3"]
    # PMRM_2 at 150% vol: s3's health 0.885, s2's 1.249 (below the 1.25 threshold only).
    levels = {c["account"]: c["to_level"] for c in alert["crossed"]}
    assert levels == {"s3": 3, "s2": 1}
    assert engine.health_factor("s2") < 125 * WAD // 100 < engine.health_factor("s1")
    # A keeper starts the auction through POST /events; the account shows it.
    start = {"type": "StartPortfolioAuction", "keeper": "keeper", "account": "s3"}
    r = pm2.post("/events", json={"events": [start]}, headers=AUTH)
    assert r.json()["outcomes"][0]["outcome"] == "StartPortfolioAuctionAccepted"
    body = pm2.get("/accounts/s3").json()
    assert body["auction"] == {"id": 1, "insolvent": False, "start_time": 0}
    assert body["quote"]["event"] == "BidPortfolioAuction"
    options = pm2.get("/summary").json()["options"]
    assert options["auctions"] == [{"account": "s3", "id": 1, "insolvent": False,
                                    "start_time": 0}]
    assert options["vols"]["WETH-2592000"]["vol_ppm"] == 1_500_000
    assert [(r["account"], r["level"], r["liquidatable"], r["auction"])
            for r in options["lowest"][:2]] == [("s3", 3, True, True), ("s2", 1, False, False)]


def test_events_when_option_trade_posted_then_new_accounts_margined(pm2: Any) -> None:
    engine = _engine(pm2)
    events = [
        {"type": "SetVolSurface", "underlying": "WETH", "expiry": 2 * EXPIRY,
         "vol_ppm": 700_000},                                  # skew 0: flat
        {"type": "SetVolSurface", "underlying": "WETH", "expiry": 3 * EXPIRY,
         "vol_ppm": 700_000, "skew_ppm": -150_000},            # signed skew
        {"type": "DepositOptionCash", "account": "carol", "amount": 5_000 * USDC6},
        {"type": "TradeOption", "buyer": "mm", "seller": "carol", "underlying": "WETH",
         "expiry": 2 * EXPIRY, "strike": 2_200 * PRICE_UNIT, "is_call": True, "size": SIZE,
         "premium": 0},                                        # a premium of 0
    ]
    r = pm2.post("/events", json={"events": events}, headers=AUTH)
    assert [o["accepted"] for o in r.json()["outcomes"]] == [True] * 4
    body = pm2.get("/accounts/carol").json()
    assert body["options"][0]["series"] == "WETH-5184000-2200-C"
    assert body["maintenance_margin"] == (engine.portfolio_margin_units("carol") or (0,))[0]
    # carol is known now: a withdrawal in the next request is the engine's to decide.
    withdraw = {"type": "WithdrawOptionCash", "account": "carol", "amount": USDC6}
    r = pm2.post("/events", json={"events": [withdraw]}, headers=AUTH)
    assert r.json()["outcomes"][0]["outcome"] == "WithdrawOptionCashAccepted"
    assert pm2.get("/accounts/carol").json()["cash"] == 4_999 * USDC6

def test_events_when_signed_fields_negative_then_the_engine_decides(pm2: Any) -> None:
    # Negative SVI correlation and shift, a negative bid limit: well formed, not refused
    # at the request; the engine accepts the slice and refuses the bid (no auction).
    events = [
        {"type": "SetSviSurface", "underlying": "WETH", "expiry": 4 * EXPIRY,
         "a_ppm": 20_000, "b_ppm": 100_000, "rho_ppm": -300_000, "m_ppm": -50_000,
         "sigma_ppm": 200_000},
        {"type": "BidPortfolioAuction", "bidder": "mm", "account": "s3",
         "fraction": WAD // 10, "price_limit": -5},
    ]
    r = pm2.post("/events", json={"events": events}, headers=AUTH)
    assert r.status_code == 200
    outcomes = r.json()["outcomes"]
    assert outcomes[0]["outcome"] == "SetSviSurfaceAccepted"
    assert outcomes[1]["outcome"] == "BidPortfolioAuctionRejected"
    assert outcomes[1]["code"] == "DA_NotOngoingAuction"
    # A vol tick cannot replace an SVI slice's ATM vol: named, nothing applied.
    r = pm2.post("/ticks", json={"vols": {"WETH": 0.9}}, headers=AUTH)
    assert r.status_code == 422
    assert r.json()["error"] == ("vols.WETH: WETH has SVI slices (send SetSviSurface "
                                 "events for them)")


def test_account_when_portfolio_also_lends_then_one_margin_through_the_interface(
        pm2: Any) -> None:
    engine = _engine(pm2)
    deposit = {"type": "Deposit", "account": "s3", "asset": "WETH", "amount": 10**18}
    assert pm2.post("/events", json={"events": [deposit]}, headers=AUTH).json()[
        "outcomes"][0]["accepted"]
    body = pm2.get("/accounts/s3").json()
    assert body["mode"] == "portfolio"
    assert body["positions"] == {"WETH": {"supplied": 10**18, "borrowed": 0}}
    # The margin interface adds the lending value to the portfolio's.
    assert body["health_factor_wad"] == engine.health_factor("s3")
    assert body["total_value"] > (engine.portfolio_margin_units("s3") or (0, 0))[1] * 100
    rows = [r["account"] for r in pm2.get("/at-risk?limit=10").json()]
    assert rows.count("s3") == 1


def _lend_and_borrow(client: Any) -> None:
    """``mm`` supplies 100,000 USDC to lending; ``s3`` (a put seller) supplies 1 WETH
    and borrows 1,500 USDC: an account holding options and lending."""
    events = [{"type": "Deposit", "account": "mm", "asset": "USDC", "amount": 100_000 * USDC6},
              {"type": "Deposit", "account": "s3", "asset": "WETH", "amount": 10**18},
              {"type": "Borrow", "account": "s3", "asset": "USDC", "amount": 1_500 * USDC6}]
    outcomes = client.post("/events", json={"events": events}, headers=AUTH).json()["outcomes"]
    assert [o["accepted"] for o in outcomes] == [True, True, True]


def test_summary_when_portfolio_account_also_lends_then_counted_once(pm2: Any) -> None:
    _lend_and_borrow(pm2)
    body = pm2.get("/summary").json()
    dist = body["health_distribution"]
    # 4 accounts, 4 counted: before, s3 was binned also by its lending-only float health
    # (1.10, in [1.1, 1.25)) and mm by its lending supply as "no debt".
    assert body["accounts"] == 4
    assert sum(dist["counts"]) + dist["no_debt"] == 4 and dist["no_debt"] == 0
    # s3 by its whole margin in [1.5, 2); s2 [2, 3), s1 [3, 5), mm [5, inf).
    assert 1.5 <= pm2.get("/accounts/s3").json()["health"] < 2
    assert dist["counts"] == [0] * 9 + [1, 1, 1, 1]


def test_whatif_when_portfolio_account_also_lends_then_totals_count_it_once(
        pm2: Any) -> None:
    _lend_and_borrow(pm2)
    engine = _engine(pm2)
    # At 1,700 s3's lending alone is below 1 (1 WETH x 0.825 x 1,700 = 1,402.5 < 1,500)
    # but its whole margin is met: no account is liquidatable, and no debt is at risk
    # (before: 1,500 USD of debt with 0 accounts).
    calm = pm2.post("/whatif", json={"shocks": {"WETH": -0.15}}).json()
    assert calm["liquidatable"] == 0
    assert (calm["debt"], calm["collateral"], calm["shortfall"]) == (0, 0, 0)
    # At 1,500 s2 and s3 are liquidatable by their whole margin: the totals are their
    # maintenance requirement and value there, the margin interface's, once each.
    shocked = pm2.post("/whatif", json={"shocks": {"WETH": -0.25}}).json()
    assert shocked["portfolio"]["new"] == ["s2", "s3"] and shocked["liquidatable"] == 2
    valuation = engine.valuation({**engine.prices, "WETH": 1_500 * PRICE_UNIT})
    states = [engine.margin_model.margin(engine.ledger, valuation, a, MarginKind.MAINTENANCE)
              for a in ("s2", "s3")]
    requirement = sum(st.requirement for st in states) / PRICE_UNIT
    value = sum(st.value for st in states) / PRICE_UNIT
    assert shocked["debt"] == shocked["portfolio"]["requirement"] == requirement
    assert shocked["collateral"] == shocked["portfolio"]["value"] == value
    assert shocked["shortfall"] == pytest.approx(requirement - value, abs=1e-8)
    assert round(requirement, 2) == 5_423.26 and round(value, 2) == 4_264.62


def test_watch_when_requests_touch_some_accounts_then_equal_to_a_fresh_read(
        preset_client: Any) -> None:
    # The watch re-reads only the accounts an account-event request names, and screens
    # the rest in float (PMRM_2) reading exactly only those near a line; after any mix of
    # requests its decisions must equal reading every account afresh and exactly, and
    # its figures, made exact on demand, the exact read's.
    from marginengine.service.core import PortfolioWatch

    service = preset_client.service
    requests: list[tuple[str, dict[str, Any]]] = [
        ("/ticks", {"prices": {"WETH": 1700}}),
        ("/events", {"events": [{"type": "DepositOptionCash", "account": "s3",
                                 "amount": 500 * USDC6}]}),
        ("/ticks", {"vols": {"WETH": 0.9}, "advance_seconds": 86_400}),
        ("/events", {"events": [{"type": "WithdrawOptionCash", "account": "s1",
                                 "amount": 100 * USDC6},
                                {"type": "TradeOption", "buyer": "s2", "seller": "mm",
                                 "underlying": "WETH", "expiry": EXPIRY,
                                 "strike": 1_800 * PRICE_UNIT, "is_call": False,
                                 "size": SIZE, "premium": 40 * USDC6}]}),
        ("/ticks", {"prices": {"WETH": 1550}}),
    ]
    screened = False
    for path, body in requests:
        assert preset_client.post(path, json=body, headers=AUTH).status_code == 200
        watch = service.portfolios
        screened |= any(not f.exact for f in watch.figures.values())
        fresh = PortfolioWatch(service.engine, watch.thresholds_wad, screen=False).figures
        assert all(f.exact for f in fresh.values())
        assert {a: f.decisions() for a, f in watch.figures.items()} == {
            a: f.decisions() for a, f in fresh.items()}
        assert {a: watch.exact(a) for a in watch.figures} == fresh
        assert sorted(preset_client.get("/liquidatable").json()["accounts"]) == sorted(
            a for a, f in fresh.items() if f.liquidatable)
    # Every manager's rule is screened (PMRM_2's grid, PMRM v1, the SRM).
    assert screened and watch.screening


# ---------------------------------------------------------------------- what-if
def test_whatif_when_price_shocked_then_portfolios_revalued_as_a_tick_would(
        preset_client: Any) -> None:
    shocked = preset_client.post("/whatif", json={"shocks": {"WETH": -0.25},
                                                  "account": "s3"}).json()
    assert shocked["account"] == {"account": "s3", "liquidatable": True}
    portfolio = shocked["portfolio"]
    # The what-if's answer is the tick's: the same accounts fall below maintenance.
    r = preset_client.post("/ticks", json={"prices": {"WETH": 1500}}, headers=AUTH)
    assert portfolio["new"] == r.json()["alert"]["liquidatable"]["new"]
    assert shocked["liquidatable"] == portfolio["liquidatable"] == len(portfolio["new"])
    calm = preset_client.post("/whatif", json={"shocks": {"WETH": 1 / 3}}).json()
    assert calm["portfolio"]["recovered"] == portfolio["new"]


def test_whatif_when_vol_shocked_then_as_the_vol_tick(pm2: Any) -> None:
    # Without posting it: 150% ATM on every WETH expiry, skews kept, as the tick reads it.
    shocked = pm2.post("/whatif", json={"vols": {"WETH": 1.5}, "account": "s3"}).json()
    assert shocked["vols"] == {"WETH-2592000": {"vol_ppm": 1_500_000, "skew_ppm": -100_000}}
    assert shocked["account"] == {"account": "s3", "liquidatable": True}
    assert shocked["portfolio"]["new"] == ["s3"] and shocked["liquidatable"] == 1
    assert _engine(pm2).state.vols[("WETH", EXPIRY)] == (600_000, -100_000)  # unchanged
    r = pm2.post("/ticks", json={"vols": {"WETH": 1.5}}, headers=AUTH)
    assert r.json()["alert"]["liquidatable"]["new"] == shocked["portfolio"]["new"]
    # Price and vol together: s2 too (its health at 1,700 and 150%).
    both = pm2.post("/whatif", json={"shocks": {"WETH": -0.15}, "vols": {"WETH": 1.5}}).json()
    assert both["portfolio"]["new"] == ["s2"] and both["portfolio"]["liquidatable"] == 2
    r = pm2.post("/whatif", json={"vols": {"WETH": 0}})
    assert r.status_code == 422 and r.json()["error"] == "vols.WETH: must be in 0.01..10 (got 0)"


# ---------------------------------------------------------------------- bad input
BAD: list[tuple[str, dict[str, Any], str]] = [
    ("/events", {"events": [{"type": "TradeOption", "buyer": "mm", "seller": "s1",
                             "underlying": "DOGE", "expiry": EXPIRY, "strike": 10**11,
                             "is_call": True, "size": SIZE, "premium": 0}]},
     "events.0.underlying: unknown asset 'DOGE' (markets: USDC, WETH)"),
    ("/events", {"events": [{"type": "TradeOption", "buyer": "mm", "seller": "s1",
                             "underlying": "WETH", "expiry": EXPIRY, "strike": 10**11,
                             "is_call": True, "size": 0, "premium": 0}]},
     "events.0.size: must be > 0 size units (got 0)"),
    ("/events", {"events": [{"type": "TradeOption", "buyer": "mm", "seller": "s1",
                             "underlying": "WETH", "expiry": EXPIRY, "strike": 10**11,
                             "is_call": "yes", "size": 1, "premium": 0}]},
     "events.0.is_call: must be true or false (got 'yes')"),
    ("/events", {"events": [{"type": "SetVolSurface", "underlying": "WETH",
                             "expiry": EXPIRY, "vol_ppm": 5}]},
     "events.0.vol_ppm: must be in 10000..10000000 (got 5)"),
    ("/events", {"events": [{"type": "WithdrawOptionCash", "account": "ghost",
                             "amount": 1}]},
     "events.0.account: unknown account 'ghost'"),
    ("/events", {"events": [{"type": "StartPortfolioAuction", "keeper": "k",
                             "account": "ghost"}]},
     "events.0.account: unknown account 'ghost'"),
    ("/events", {"events": [{"type": "DepositOptionCash", "account": "a", "amount": -1}]},
     "events.0.amount: must be positive (got -1)"),
    ("/ticks", {"vols": {"WETH": "x"}}, "vols.WETH: must be a number (got 'x')"),
    ("/ticks", {"vols": {"WETH": 0.001}}, "vols.WETH: must be in 0.01..10 (got 0.001)"),
    ("/ticks", {"vols": {"USDC": 0.5}},
     "vols.USDC: no vol surface on USDC yet (send SetVolSurface events first)"),
    ("/ticks", {"vols": {"DOGE": 0.5}}, "vols.DOGE: unknown asset (markets: USDC, WETH)"),
]


@pytest.mark.parametrize(("path", "body", "error"), BAD)
def test_bad_option_request_then_422_naming_field_and_nothing_applied(
        pm2: Any, path: str, body: dict[str, Any], error: str) -> None:
    before = pm2.get("/state").json()
    r = pm2.post(path, json=body, headers=AUTH)
    assert r.status_code == 422
    assert r.json()["error"] == error
    assert pm2.get("/state").json() == before


def test_option_events_when_protocol_has_no_options_then_422(client: Any) -> None:
    body = {"events": [{"type": "DepositOptionCash", "account": "a", "amount": 1}]}
    r = client.post("/events", json=body, headers=AUTH)
    assert r.status_code == 422
    assert r.json()["error"] == ("events.0.type: DepositOptionCash: the protocol has no "
                                 "options (add [protocol.options] to the configuration)")
    r = client.post("/ticks", json={"vols": {"WETH": 0.8}}, headers=AUTH)
    assert r.json()["error"] == ("vols.WETH: the protocol has no options (add "
                                 "[protocol.options] to the configuration)")
    assert "options" not in client.get("/summary").json()


# ---------------------------------------------------------------------- startup
def test_config_when_options_then_book_enters_log_and_replays(tmp_path: Path) -> None:
    cfg = read_config(_config(tmp_path, "derive-pm2"))
    log = tmp_path / "events.sqlite"
    started = start_engine(cfg.protocol, cfg.prices, cfg.book, f"sqlite:{log}", cfg.source,
                           cfg.options)
    expected = started.engine.state_hash()
    started.engine.close()
    _, report = Engine.replay(log)
    # 2 prices, 1 vol surface, the security module, 4 cash deposits, 3 trades.
    assert report.events == 11 and report.state_hash == expected


def test_config_when_trade_beyond_initial_margin_then_book_refused(tmp_path: Path) -> None:
    # PMRM v1 needs about 3,582 USDC of s3 for 10 short puts; 2,700 is refused.
    path = _config(tmp_path, "derive-pm1", ("s3 = 3_700", "s3 = 2_700"))
    cfg = read_config(path)
    with pytest.raises(ConfigError, match="the engine refuses this book") as caught:
        start_engine(cfg.protocol, cfg.prices, cfg.book, None, cfg.source, cfg.options)
    assert "TradeOption" in str(caught.value) and "s3: initial margin" in str(caught.value)


@pytest.mark.parametrize(("old", "new", "error"), [
    ("[options]\n", "[options]\nbidder = { id = 'b' }\n",
     "options.bidder: the service runs no agents"),
    ('strike = 1800\ntype = "put"\nsize = 10\npremium = 60                  # USDC',
     'strike = -1\ntype = "put"\nsize = 10\npremium = 60                  # USDC',
     "options.trades.0.strike: must be positive"),
    ('expiry = "30d"                # seconds', 'expiry = "31d"                # seconds',
     "options.trades.0.expiry: no [[options.expiries]] entry for WETH"),
])
def test_config_when_options_table_bad_then_error_names_field(
        tmp_path: Path, old: str, new: str, error: str) -> None:
    with pytest.raises(ConfigError, match=error.replace("[", r"\[")):
        read_config(_config(tmp_path, "derive-pm2", (old, new)))


def test_vol_tick_when_it_reaches_the_expiry_then_no_expired_surface_is_sent(
        pm2: Any) -> None:
    # The engine refuses a surface for an expiry the clock has reached (its series
    # settle): a tick that advances to the 30-day expiry moves no vol for it.
    engine = _engine(pm2)
    r = pm2.post("/ticks", json={"advance_seconds": EXPIRY, "vols": {"WETH": "1.5"}},
                 headers=AUTH)
    assert r.status_code == 200, r.text
    assert [o["outcome"] for o in r.json()["outcomes"]] == ["AdvanceTimeAccepted"]
    assert engine.state.vols[("WETH", EXPIRY)] == (600_000, -100_000)
    # A surface posted as an event for the expired expiry is refused naming it.
    event = {"type": "SetVolSurface", "underlying": "WETH", "expiry": EXPIRY,
             "vol_ppm": 900_000}
    out = pm2.post("/events", json={"events": [event]}, headers=AUTH).json()["outcomes"][0]
    assert out["outcome"] == "SetVolSurfaceRejected" and out["code"] == "OPTION_EXPIRED"
    assert out["reason"].startswith("expiry: ")
