"""The float screens of PMRM v1 and the SRM (``scan.pmrm1_screen``, ``scan.srm_screen``,
chosen by ``scan.portfolio_screens``) against the engine's exact margin interface.

Books: ``examples/serve_options.toml`` under ``derive-pm1`` or ``derive-srm`` (``mm``
long 10 WETH puts, strike 1,800, 30 days, from each of ``s1``, ``s2``, ``s3``; WETH at
2,000 USD, 60% ATM vol) plus random accounts trading random WETH calls and puts with
``mm`` (strikes 1,000 to 3,000, fractional sizes, a 1-day, the 30-day and a 1-year
expiry; trades beyond initial margin are the engine's refusals), then a random market
(WETH's price, every surface, time). Every account's screened value and requirement must
lie within the screen's bound of the exact figures, and no account the screen clears
(above a threshold, or the liquidation line, by more than the bound) may be below it by
the exact rule.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marginengine.engine import (
    AdvanceTime,
    DepositOptionCash,
    Engine,
    Event,
    SetPrice,
    SetVolSurface,
    TradeOption,
)
from marginengine.fixedpoint import PRICE_UNIT, WAD
from marginengine.margin.base import MarginKind
from marginengine.margin.derive_pmrm1 import evaluate_pmrm1
from marginengine.pricing.black76 import price
from marginengine.scan.pmrm1_screen import EnginePmrm1Screen
from marginengine.scan.portfolio_screen import EnginePortfolioScreen, ScreenResult
from marginengine.scan.portfolio_screens import expired_unsettled, has_screen, portfolio_screen
from marginengine.scan.srm_screen import EngineSrmScreen
from marginengine.service.startup import read_config, start_engine

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "serve_options.toml"
DAY = 86_400
EXPIRIES = (DAY, 30 * DAY, 365 * DAY)
USDC6 = 10**6
THRESHOLDS = (1.25, 1.10, 1.0)


def _engine(tmp_path: Path, preset: str) -> Engine:
    path = tmp_path / "options.toml"
    path.write_text(EXAMPLE.read_text().replace('portfolio_preset = "derive-pm2"',
                                                f'portfolio_preset = "{preset}"'))
    cfg = read_config(path)
    engine = start_engine(cfg.protocol, cfg.prices, cfg.book, None, cfg.source,
                          cfg.options).engine
    with engine.batch():
        for t in (DAY, 365 * DAY):
            engine.apply(SetVolSurface("WETH", t, 700_000, -150_000))
    return engine


def _exact(engine: Engine, accounts: list[str]) -> tuple[np.ndarray, np.ndarray, list[bool]]:
    valuation = engine.valuation()
    model = engine.margin_model
    states = [model.margin(engine.ledger, valuation, a, MarginKind.MAINTENANCE)
              for a in accounts]
    liquidatable = [model.is_liquidatable(engine.ledger, valuation, a) for a in accounts]
    return (np.array([s.value for s in states], dtype=np.float64),
            np.array([s.requirement for s in states], dtype=np.float64), liquidatable)


def _held(engine: Engine) -> list[str]:
    clearing = engine.state.options
    assert clearing is not None
    return sorted(a for a, book in clearing.positions.items() if book)


def _assert_conservative(engine: Engine, result: ScreenResult) -> None:
    value, requirement, liquidatable = _exact(engine, result.accounts)
    err = result.error
    # Bounded but where an expiry passed with nothing of it settled (in doubt: the exact
    # rule fixes such a series at its settlement value; scan.portfolio_screens).
    doubt = np.array(expired_unsettled(engine, result.accounts), dtype=bool)
    assert np.all(np.isfinite(err) | doubt)
    assert np.all(np.abs(result.value - value) <= err)
    assert np.all(np.abs(result.requirement - requirement) <= err)
    # Cleared by the screen -> not below by the exact rule (value >= t x requirement).
    for t in THRESHOLDS:
        cleared = (result.requirement < -err) | (result.value - t * result.requirement
                                                 > err * (1.0 + t))
        exact_below = (requirement > 0) & (value < t * requirement)
        assert not np.any(cleared & exact_below)
    cleared = (result.requirement < -err) | (result.value - result.requirement > 2.0 * err)
    assert not np.any(cleared & np.array(liquidatable, dtype=bool))


trade = st.tuples(st.sampled_from(EXPIRIES),
                  st.integers(20, 60),                            # strike, fifties of USD
                  st.booleans(),                                  # call
                  st.integers(-200, 200).filter(bool))            # size, tenths (< 0: sells)
book = st.lists(st.tuples(st.integers(100, 30_000),                # options cash, USDC
                          st.lists(trade, min_size=1, max_size=5)),
                min_size=1, max_size=6)
market = st.tuples(st.integers(800, 3_500),                        # WETH, USD
                   st.integers(150_000, 2_500_000),                # ATM vol, ppm
                   st.integers(-300_000, 300_000),                 # skew, ppm
                   st.integers(0, 40 * DAY))                       # time advanced


@pytest.mark.parametrize("preset", ["derive-pm1", "derive-srm"])
@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(accounts=book, move=market)
def test_screen_when_random_books_and_markets_then_conservative_within_bound(
        tmp_path: Path, preset: str,
        accounts: list[tuple[int, list[tuple[int, int, bool, int]]]],
        move: tuple[int, int, int, int]) -> None:
    engine = _engine(tmp_path, preset)
    events: list[Event] = []
    for i, (cash, trades) in enumerate(accounts):
        a = f"r{i}"
        events.append(DepositOptionCash(a, cash * USDC6))
        for expiry, strike, call, size in trades:
            buyer, seller = (a, "mm") if size > 0 else ("mm", a)
            events.append(TradeOption(buyer, seller, "WETH", expiry, strike * 50 * PRICE_UNIT,
                                      call, abs(size) * WAD // 10, 30 * USDC6))
    with engine.batch():
        for e in events:
            engine.apply(e)
    weth, vol, skew, dt = move
    with engine.batch():
        engine.apply(SetPrice("WETH", weth * PRICE_UNIT))
        for t in EXPIRIES:
            engine.apply(SetVolSurface("WETH", t, vol, skew))
        if dt:
            engine.apply(AdvanceTime(dt))
    screen = portfolio_screen(engine, _held(engine))
    _assert_conservative(engine, screen.screen())


@pytest.mark.parametrize("preset", ["derive-pm1", "derive-srm"])
@pytest.mark.parametrize("weth", [2_000, 1_700, 1_450, 2_600])
def test_screen_when_example_book_then_within_a_few_base_units(tmp_path: Path, preset: str,
                                                               weth: int) -> None:
    engine = _engine(tmp_path, preset)
    engine.apply(SetPrice("WETH", weth * PRICE_UNIT))
    result = portfolio_screen(engine, ["mm", "s1", "s2", "s3"]).screen()
    value, requirement, _ = _exact(engine, result.accounts)
    # Base units (1e-8 USD): the float figures a few units off, the bound thousands.
    assert np.all(np.abs(result.value - value) < 8)
    assert np.all(np.abs(result.requirement - requirement) < 8)
    # The bound: 1e-9 of notional (mm holds 500,000 USDC), at most 0.002 USD here.
    assert np.all(result.error > 1_000) and np.all(result.error < 200_000)
    _assert_conservative(engine, result)


def test_pmrm1_screen_when_short_puts_against_a_call_then_naked_shorts_net_per_strike(
        tmp_path: Path) -> None:
    # t: short 2 puts and long 1 call, strike 1,800, 30 days: one naked short at that
    # strike (Derive nets a call and a put of one strike), so the static contingency is
    # 1 x 2% x 2,000 = 40 USD, and the requirement is 40 - worst.
    engine = _engine(tmp_path, "derive-pm1")
    k = 1_800 * PRICE_UNIT
    with engine.batch():
        engine.apply(DepositOptionCash("t", 20_000 * USDC6))
        engine.apply(TradeOption("mm", "t", "WETH", 30 * DAY, k, False, 2 * WAD, 30 * USDC6))
        engine.apply(TradeOption("t", "mm", "WETH", 30 * DAY, k, True, WAD, 300 * USDC6))
    exact = engine.portfolio_margin("t")
    assert exact is not None and exact.mm_contingency == pytest.approx(40.0, rel=1e-12)
    result = EnginePmrm1Screen(engine, ["t"]).screen()
    usd = engine.prices["USDC"]  # base units per USD
    assert result.requirement[0] / usd == pytest.approx(40.0 - exact.worst, abs=1e-6)
    assert result.value[0] / usd == pytest.approx(exact.mtm, abs=1e-6)
    # The rule itself, on the account's own portfolio, agrees.
    portfolio = engine.option_portfolio("t")
    assert portfolio is not None
    cfg = engine.state.portfolio_config
    assert evaluate_pmrm1(portfolio, cfg.params).static_contingency == exact.mm_contingency  # type: ignore[union-attr]


def test_srm_screen_when_call_spread_then_max_loss_binds(tmp_path: Path) -> None:
    # t: short 1 call 2,000, long 1 call 2,200 (30 days, WETH 2,000): the spread loses at
    # most 200 at settlement and holds no net short call, so its maintenance margin is
    # max(isolated, -200) = -200 (the isolated short call needs its mark + 2,000 x
    # mm_call_spot_req, more); requirement = MtM - MM = (C(2,200) - C(2,000)) + 200.
    engine = _engine(tmp_path, "derive-srm")
    with engine.batch():
        engine.apply(DepositOptionCash("t", 5_000 * USDC6))
        engine.apply(TradeOption("mm", "t", "WETH", 30 * DAY, 2_000 * PRICE_UNIT, True, WAD,
                                 100 * USDC6))
        engine.apply(TradeOption("t", "mm", "WETH", 30 * DAY, 2_200 * PRICE_UNIT, True, WAD,
                                 30 * USDC6))
    clearing = engine.state.options
    assert clearing is not None
    vols = [engine.option_vol(s, 2_000.0) or 0.0 for s in sorted(clearing.positions["t"])]
    tau = 30 * DAY / (365 * DAY)
    c_2000, c_2200 = (float(price(2_000.0, k, tau, v, 0.0, True))
                      for k, v in zip((2_000.0, 2_200.0), vols, strict=True))
    result = EngineSrmScreen(engine, ["t"]).screen()
    usd = engine.prices["USDC"]
    assert result.requirement[0] / usd == pytest.approx(c_2200 - c_2000 + 200.0, abs=1e-6)
    _, requirement, _ = _exact(engine, ["t"])
    assert abs(result.requirement[0] - requirement[0]) < 8


def test_screens_when_any_manager_then_chosen_by_its_rule(tmp_path: Path) -> None:
    for preset, kind in (("derive-pm2", EnginePortfolioScreen),
                         ("derive-pm1", EnginePmrm1Screen), ("derive-srm", EngineSrmScreen)):
        engine = _engine(tmp_path, preset)
        assert has_screen(engine)
        assert isinstance(portfolio_screen(engine, ["s1"]).inner, kind)


@pytest.mark.parametrize("preset", ["derive-pm1", "derive-srm"])
def test_screen_when_a_series_has_no_vol_then_its_accounts_unbounded(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, preset: str) -> None:
    # A series the screen cannot price (no surface) sends every account holding it to
    # the exact read (whose answer is "unpriced") through an infinite bound.
    engine = _engine(tmp_path, preset)
    engine.apply(DepositOptionCash("t", 5_000 * USDC6))
    engine.apply(TradeOption("t", "mm", "WETH", DAY, 2_000 * PRICE_UNIT, True, WAD,
                             100 * USDC6))
    screen = portfolio_screen(engine, ["s1", "t"])
    real = engine.option_vol
    monkeypatch.setattr(engine, "option_vol", lambda s, f, surfaces=None: (
        None if s.expiry == DAY else real(s, f, surfaces)))
    error = screen.screen().error
    assert np.isfinite(error[0]) and np.isinf(error[1])
