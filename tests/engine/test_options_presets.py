"""The engine's options accounts margined by Derive's other managers: ``[options]
portfolio_preset = "derive-srm"`` (the Standard Risk Manager) and ``"derive-pm1"`` (PMRM
v1). The engine's margin is the pure rule's on the account's portfolio (through
margin/portfolio_rules.py), the pre-trade check refuses with the manager's own error,
health and the portfolio auction read the same figures.

A worked SRM figure (Derive mainnet's common parameters, the engine's WETH having no
market of its own in ``getSRMParams``): bob sells 1 WETH 2,000 call, 30 days, vol 60%,
spot = forward 2,000, for 150 USDC, holding 2,250 USDC after it. The call's undiscounted
Black-76 mark is m = 137.08...; MM = 2,250 - m - 9% x 2,000 = 2,250 - m - 180; IM =
2,250 - m - max(15% - 0, 13%) x 2,000 = 2,250 - m - 300 (at the money: otm 0); the max
loss of a naked call (unbounded, charged 1.1 / 1.2 forwards) is worse, so not taken.
"""

from __future__ import annotations

import pytest

from marginengine.config import protocol_from_dict
from marginengine.config.portfolio import portfolio_config
from marginengine.decisions import Code
from marginengine.engine import (
    DepositOptionCash,
    Engine,
    Event,
    SetPrice,
    SetVolSurface,
    TradeOption,
    WithdrawOptionCash,
)
from marginengine.errors import ConfigError
from marginengine.fixedpoint import WAD
from marginengine.margin.derive_pmrm1 import evaluate_pmrm1
from marginengine.margin.derive_srm import option_mark
from marginengine.margin.portfolio import Expiry, OptionPosition, Portfolio
from marginengine.margin.portfolio_rules import evaluate_portfolio
from tests.conftest import SIMPLE_MARKETS

P, USDC, SIZE = 10**8, 10**6, 10**18
T = 30 * 86_400
CALL = dict(underlying="WETH", expiry=T, strike=2_000 * P, is_call=True)


def engine(preset: str) -> Engine:
    e = Engine(protocol_from_dict({"preset": "aave-v3", "markets": SIMPLE_MARKETS,
                                   "options": {"quote": "USDC",
                                               "portfolio_preset": preset}}))
    events: list[Event] = [SetPrice("WETH", 2_000 * P), SetPrice("USDC", P),
                           SetVolSurface("WETH", T, 600_000),
                           DepositOptionCash("alice", 1_000 * USDC),
                           DepositOptionCash("bob", 2_100 * USDC)]
    for ev in events:
        assert e.apply(ev).accepted, ev
    return e


SHORT_CALL = Portfolio(spot=2_000.0, expiries=(Expiry(float(T), 2_000.0),),
                       options=(OptionPosition(0, 2_000.0, True, -1.0, 0.6),), cash=2_250.0)


def test_srm_preset_when_naked_call_sold_then_engine_margin_is_derives_rule() -> None:
    e = engine("derive-srm")
    out = e.apply(TradeOption("alice", "bob", size=SIZE, premium=150 * USDC, **CALL))
    assert out.accepted, out.reason
    margin = e.portfolio_margin("bob")
    assert margin is not None and margin.rule == "SRM" and margin.wad is not None
    mark = option_mark(2_000 * WAD, 2_000 * WAD, T, 6 * WAD // 10, True)
    assert 137 * WAD < mark < 138 * WAD
    mtm, initial, maintenance = margin.wad
    assert mtm == 2_250 * WAD - mark
    assert maintenance == mtm - 180 * WAD and initial == mtm - 300 * WAD
    # The same figures as the pure rule on the account's portfolio.
    cfg = portfolio_config(preset="derive-srm")
    assert evaluate_portfolio(SHORT_CALL, cfg, "WETH").wad == margin.wad
    # The trade's details: the seller's initial margin in USDC units, floored (exact).
    assert out.details["seller_initial_margin"] == (initial * USDC) // WAD
    # Health through the one margin interface: value MtM over requirement 180 (in the
    # base currency's 8 decimals at USDC = 1).
    assert e.health_factor("bob") == (mtm * P // WAD) * WAD // (180 * P)
    assert not e.is_liquidatable("bob")
    assert e.portfolio_margin_units("bob") == ((maintenance * USDC) // WAD,
                                               (mtm * USDC) // WAD)


def test_srm_preset_when_seller_cannot_margin_then_refused_with_srm_error() -> None:
    e = engine("derive-srm")
    assert e.apply(WithdrawOptionCash("bob", 2_000 * USDC)).accepted     # keeps 100
    out = e.apply(TradeOption("alice", "bob", size=SIZE, premium=150 * USDC, **CALL))
    # 250 of cash against a 137.08 mark and a 300 add-on: IM -187.08.
    assert not out.accepted and out.code == Code.SRM_PORTFOLIO_BELOW_MARGIN.value
    assert out.code == "SRM_PortfolioBelowMargin"
    assert out.data["initial_before"] == 100 * USDC
    assert -188 * USDC < out.data["initial_after"] < -187 * USDC


def test_pm1_preset_when_naked_call_sold_then_engine_margin_is_pmrm1() -> None:
    e = engine("derive-pm1")
    assert e.apply(TradeOption("alice", "bob", size=SIZE, premium=150 * USDC,
                               **CALL)).accepted
    margin = e.portfolio_margin("bob")
    assert margin is not None and margin.rule == "PMRM" and margin.wad is None
    pure = evaluate_pmrm1(SHORT_CALL, portfolio_config(preset="derive-pm1").params)
    assert (margin.initial, margin.maintenance, margin.mtm) == (pure.initial,
                                                                pure.maintenance, pure.mtm)
    # 23 scenarios; a naked short call's worst is spot +20% with vol up (scenario 0); the
    # static contingency is option_percent 2% x 2,000 = 40 on its one naked unit.
    assert margin.scenario_pnl.size == 23 and margin.worst_scenario == 0
    assert margin.mm_contingency == pytest.approx(40.0, abs=1e-9)
    assert margin.maintenance == pytest.approx(margin.mtm + margin.worst - 40.0, abs=1e-9)
    assert margin.initial == pytest.approx(margin.mtm + (margin.worst - 40.0) * 1.25,
                                           abs=1e-9)


def test_pm1_preset_when_seller_cannot_margin_then_refused_with_pmrm_error() -> None:
    e = engine("derive-pm1")
    assert e.apply(WithdrawOptionCash("bob", 2_000 * USDC)).accepted
    out = e.apply(TradeOption("alice", "bob", size=SIZE, premium=150 * USDC, **CALL))
    assert not out.accepted and out.code == "PMRM_InsufficientMargin"


def test_options_config_when_unknown_portfolio_preset_then_lists_the_six() -> None:
    with pytest.raises(ConfigError) as err:
        engine("derive-pm3")
    message = str(err.value)
    assert "portfolio_preset" in message and "derive-pm1, derive-srm" in message

