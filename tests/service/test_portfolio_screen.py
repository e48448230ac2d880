"""The portfolio watch's float screen decides as the exact rule does, on random books and
random ticks, under every manager: PMRM_2 (``derive-pm2``, ``scan.portfolio_screen``),
PMRM v1 (``derive-pm1``, ``scan.pmrm1_screen``) and the SRM (``derive-srm``,
``scan.srm_screen``).

Books: the example (``examples/serve_options.toml``: ``mm`` long 30 WETH puts from three
sellers) plus random accounts, each with random options cash, trading random WETH calls
and puts (strikes 1,400 to 2,600, the 30-day expiry and a 90-day one) with ``mm``;
trades beyond initial margin are the engine's refusal. Ticks: WETH prices, vol surfaces
and time, alone and together. After every request the watch's level, liquidatability and
pricing of every account must equal a fresh exact read of all of them, and so must the
liquidatable list and the alert's counts; the exact figures read on demand must equal
the fresh read's. With the screen's error bound widened (5% of notional) most accounts
fall back to the exact read: the routing itself is checked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marginengine.engine import (
    AdvanceTime,
    DepositOptionCash,
    Event,
    SetPrice,
    SetVolSurface,
    TradeOption,
)
from marginengine.fixedpoint import PRICE_UNIT
from marginengine.scan import pmrm1_screen, portfolio_screen, srm_screen
from marginengine.service import Service
from marginengine.service.core import PortfolioWatch
from marginengine.service.startup import read_config, start_engine

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "serve_options.toml"
EXPIRIES = (30 * 86_400, 90 * 86_400)
USDC6 = 10**6
SIZE = 10**18

account = st.tuples(
    st.integers(300, 20_000),                      # options cash, USDC
    st.lists(st.tuples(st.sampled_from(EXPIRIES),
                       st.integers(14, 26),         # strike, hundreds of USD
                       st.booleans(),               # call
                       st.integers(-20, 20).filter(bool),  # size, options (< 0: sells)
                       ), min_size=1, max_size=4))
tick = st.one_of(
    st.builds(lambda p: ("price", p), st.integers(1_000, 3_000)),
    st.builds(lambda v: ("vol", v), st.integers(200_000, 2_500_000)),
    st.builds(lambda s: ("time", s), st.integers(3_600, 20 * 86_400)),
    st.builds(lambda p, v: ("both", (p, v)), st.integers(1_000, 3_000),
              st.integers(200_000, 2_500_000)),
)


PRESETS = ["derive-pm2", "derive-pm1", "derive-srm"]
#: The module whose REL_ERROR bounds each preset's screen.
SCREEN_MODULE = {"derive-pm2": portfolio_screen, "derive-pm1": pmrm1_screen,
                 "derive-srm": srm_screen}


def _service(tmp_path: Path | None = None, preset: str = "derive-pm2") -> Service:
    path = EXAMPLE
    if preset != "derive-pm2":
        assert tmp_path is not None
        path = tmp_path / f"options-{preset}.toml"
        path.write_text(EXAMPLE.read_text().replace('portfolio_preset = "derive-pm2"',
                                                    f'portfolio_preset = "{preset}"'))
    cfg = read_config(path)
    started = start_engine(cfg.protocol, cfg.prices, cfg.book, None, cfg.source, cfg.options)
    return Service(started.engine, cfg.settings())


def _tick_events(kind: str, arg: Any) -> list[Event]:
    if kind == "price":
        return [SetPrice("WETH", arg * PRICE_UNIT)]
    if kind == "vol":
        return [SetVolSurface("WETH", t, arg, -100_000) for t in EXPIRIES]
    if kind == "time":
        return [AdvanceTime(arg)]
    price, vol = arg
    return [SetPrice("WETH", price * PRICE_UNIT), SetVolSurface("WETH", EXPIRIES[0], vol, 0)]


def _check(service: Service) -> None:
    watch = service.portfolios
    fresh = PortfolioWatch(service.engine, watch.thresholds_wad, screen=False).figures
    assert {a: f.decisions() for a, f in watch.figures.items()} == {
        a: f.decisions() for a, f in fresh.items()}
    assert service.liquidatable() == sorted(a for a, f in fresh.items() if f.liquidatable)
    assert service.last_alert["liquidatable"]["count"] == sum(
        f.liquidatable for f in fresh.values())
    levels = [f.level for f in fresh.values()]
    assert service.counts_below() == [sum(lv > i for lv in levels)
                                      for i in range(len(service.thresholds))]
    assert {a: watch.exact(a) for a in sorted(watch.figures)} == fresh


@pytest.mark.parametrize("preset", PRESETS)
@pytest.mark.parametrize("widened", [False, True])
@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(accounts=st.lists(account, min_size=1, max_size=8),
       ticks=st.lists(tick, min_size=1, max_size=5))
def test_screen_when_random_books_and_ticks_then_decisions_equal_exact(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, preset: str, widened: bool,
        accounts: list[tuple[int, list[tuple[int, int, bool, int]]]],
        ticks: list[tuple[str, Any]]) -> None:
    module = SCREEN_MODULE[preset]
    rel_error = 0.05 if widened else module.REL_ERROR
    monkeypatch.setattr(module, "REL_ERROR", rel_error)
    service = _service(tmp_path, preset)
    assert service.portfolios.screening
    events: list[Event] = [SetVolSurface("WETH", EXPIRIES[1], 650_000, -100_000)]
    for i, (cash, trades) in enumerate(accounts):
        a = f"r{i}"
        events.append(DepositOptionCash(a, cash * USDC6))
        for expiry, strike, call, size in trades:
            buyer, seller = (a, "mm") if size > 0 else ("mm", a)
            events.append(TradeOption(buyer, seller, "WETH", expiry, strike * 100 * PRICE_UNIT,
                                      call, abs(size) * SIZE, 50 * USDC6))
    service.apply(events)
    _check(service)
    for kind, arg in ticks:
        service.apply(_tick_events(kind, arg))
        _check(service)
        if rel_error > 0.01:
            # The widened bound sends (nearly) every account to the exact read.
            assert service.portfolios.last_exact >= 1


@pytest.mark.parametrize("preset", PRESETS)
def test_screen_when_tick_then_screened_accounts_not_read_exactly(tmp_path: Path,
                                                                 preset: str) -> None:
    # A calm tick: every account far from every line is decided by the screen alone.
    service = _service(tmp_path, preset)
    service.apply([SetPrice("WETH", 2_050 * PRICE_UNIT)])
    watch = service.portfolios
    assert watch.last_exact == 0
    assert sorted(a for a, f in watch.figures.items() if not f.exact) == [
        "mm", "s1", "s2", "s3"]
    _check(service)


@pytest.mark.parametrize("preset", PRESETS)
def test_screen_when_account_on_a_threshold_then_the_exact_rule_decides(tmp_path: Path,
                                                                       preset: str) -> None:
    # Bisect WETH's price (exact ints) to where s3's exact health crosses 1.25 (the
    # example's highest threshold): the screen cannot tell there, the exact read does.
    service = _service(tmp_path, preset)
    engine = service.engine
    t_wad = service.portfolios.thresholds_wad[0]

    def below(price: int) -> bool:
        valuation = engine.valuation({**engine.prices, "WETH": price})
        return engine.margin_model.is_below(engine.ledger, valuation, "s3", t_wad)

    lo, hi = 1_500 * PRICE_UNIT, 2_000 * PRICE_UNIT  # below at 1,500, above at 2,000
    assert below(lo) and not below(hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if below(mid) else (lo, mid)
    for price, level in ((lo, 1), (hi, 0)):
        service.apply([SetPrice("WETH", price)])
        s3 = service.portfolios.figures["s3"]
        assert s3.exact and s3.level == level  # read exactly, not screened
        assert service.portfolios.last_exact >= 1
        assert not service.portfolios.figures["mm"].exact  # far from every line
        _check(service)
