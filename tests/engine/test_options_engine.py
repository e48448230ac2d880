"""Options inside the engine: the clearing in the journalled state, TradeOption checked
pre-trade by PMRM_2 on both sides, SettleOption at the oracle price, SetVolSurface as a
logged event; refusals roll back; the log replays to the same hash.

Settlement figures are worked by hand (intrinsic value x size, longs rounded down, shorts
up: ledger/options.py); margins come from margin/portfolio.py's PMRM_2 (tested against
Derive's and Paradex's figures in tests/margin/test_portfolio*.py), here reached through
the engine and compared with the pure model on the same portfolio.
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from marginengine.config import protocol_from_dict
from marginengine.config.portfolio import portfolio_config
from marginengine.decisions import Code
from marginengine.engine import (
    AdvanceTime,
    DepositOptionCash,
    Engine,
    Event,
    SetPrice,
    SettleOption,
    SetVolSurface,
    TradeOption,
    WithdrawOptionCash,
)
from marginengine.engine.events import event_from_dict
from marginengine.errors import ConfigError, EventError, FieldError
from marginengine.margin.base import MarginKind
from marginengine.margin.portfolio import Expiry, OptionPosition, Portfolio, evaluate
from tests.conftest import SIMPLE_MARKETS, to_expiry_at

P, USDC, SIZE = 10**8, 10**6, 10**18
T = 30 * 86_400     # the series expire 30 days after the engine's time 0


def options_protocol(**options: Any) -> Any:
    return protocol_from_dict({"preset": "aave-v3", "markets": SIMPLE_MARKETS,
                               "options": {"quote": "USDC", **options}})


def setup() -> list[Event]:
    return [SetPrice("WETH", 2_000 * P), SetPrice("USDC", P),
            SetVolSurface("WETH", T, 600_000),
            DepositOptionCash("alice", 1_000 * USDC), DepositOptionCash("bob", 2_100 * USDC)]


def engine(**options: Any) -> Engine:
    e = Engine(options_protocol(**options))
    for ev in setup():
        assert e.apply(ev).accepted, ev
    return e


CALL = dict(underlying="WETH", expiry=T, strike=2_000 * P, is_call=True)


def test_a_protocol_without_options_hashes_as_before_and_refuses_option_events():
    plain = Engine(protocol_from_dict({"preset": "aave-v3", "markets": SIMPLE_MARKETS}))
    with_options = Engine(options_protocol())
    # The clearing enters the hash only once used: existing logs keep their hashes.
    assert plain.state_hash() == with_options.state_hash()
    out = plain.apply(DepositOptionCash("alice", USDC))
    assert not out.accepted and out.code == Code.EVENT_NOT_SUPPORTED.value
    assert "[options]" in (out.reason or "")


def test_trade_books_premium_and_sizes_and_both_sides_are_checked_by_pmrm():
    e = engine()
    out = e.apply(TradeOption("alice", "bob", size=SIZE, premium=150 * USDC, **CALL))
    assert out.accepted, out.reason
    clearing = e.state.options
    assert clearing is not None
    assert clearing.cash == {"alice": 850 * USDC, "bob": 2_250 * USDC}
    series = next(iter(clearing.positions["alice"]))
    assert clearing.positions["alice"][series] == SIZE
    assert clearing.positions["bob"][series] == -SIZE
    assert out.details["open_interest"] == SIZE
    # The engine's margin is the pure PMRM_2 model on the same portfolio (derive-pm2).
    cfg = portfolio_config(preset="derive-pm2")
    short = Portfolio(spot=2_000.0, expiries=(Expiry(float(T), 2_000.0),),
                      options=(OptionPosition(0, 2_000.0, True, -1.0, 0.6),), cash=2_250.0)
    expected = evaluate(short, cfg).initial
    margin = e.portfolio_margin("bob")
    assert margin is not None and margin.initial == pytest.approx(expected, rel=1e-12)
    assert out.details["seller_initial_margin"] == int(expected * USDC) - (expected < 0)
    assert 0 < expected < 2_250      # a naked short call ties up part of the cash


def test_a_trade_the_seller_cannot_margin_is_refused_and_changes_nothing():
    e = engine()
    e.apply(WithdrawOptionCash("bob", 2_000 * USDC))       # bob keeps 100 USDC
    before = e.state.hash_parts()      # the hash itself moves with the log's seq
    out = e.apply(TradeOption("alice", "bob", size=SIZE, premium=150 * USDC, **CALL))
    assert not out.accepted and out.code == Code.PORTFOLIO_INSUFFICIENT_MARGIN.value
    assert out.data["account"] == "bob"
    assert out.data["initial_before"] == 100 * USDC and out.data["initial_after"] < 0
    assert e.state.hash_parts() == before
    assert e.state.options is not None and not e.state.options.open_interest
    assert e.state.options is not None and e.state.options.cash["bob"] == 100 * USDC


@pytest.mark.parametrize("field", ["size", "premium"])
def test_a_trade_beyond_uint256_is_refused_naming_the_field_and_changes_nothing(field: str):
    # Was decimal.InvalidOperation out of apply (the cash fixed to wad for the SRM) or a
    # margin on a cash no token can hold.
    e = Engine(options_protocol(portfolio_preset="derive-srm"))
    for ev in setup():
        assert e.apply(ev).accepted, ev
    before = e.state.hash_parts()
    trade = {"size": SIZE, "premium": 150 * USDC, field: 2**256}
    out = e.apply(TradeOption("alice", "bob", **trade, **CALL))
    assert out.code == Code.INVALID_AMOUNT.value
    assert out.reason == f"{field}: too large (more than 2**256 - 1 smallest units)"
    assert e.state.hash_parts() == before


def test_an_srm_account_with_billions_of_cash_trades_with_exact_margins():
    # 20 billion USDC of cash: was decimal.InvalidOperation (the SRM's cash to wad).
    e = Engine(options_protocol(portfolio_preset="derive-srm"))
    for ev in (*setup(), DepositOptionCash("whale", 20_000_000_000 * USDC)):
        assert e.apply(ev).accepted, ev
    out = e.apply(TradeOption("whale", "bob", size=SIZE, premium=150 * USDC, **CALL))
    assert out.accepted, out.reason
    margin = e.portfolio_margin("whale")
    assert margin is not None and margin.wad is not None
    assert margin.wad[1] == (20_000_000_000 - 150) * 10**18      # a long: IM = its cash


def test_withdrawal_that_would_leave_the_short_under_initial_margin_is_refused():
    e = engine()
    assert e.apply(TradeOption("alice", "bob", size=SIZE, premium=150 * USDC, **CALL)).accepted
    out = e.apply(WithdrawOptionCash("bob", 2_000 * USDC))
    assert not out.accepted and out.code == Code.PORTFOLIO_INSUFFICIENT_MARGIN.value
    assert e.apply(WithdrawOptionCash("bob", 100 * USDC)).accepted
    out = e.apply(WithdrawOptionCash("alice", 5_000 * USDC))
    assert not out.accepted and out.code == Code.INSUFFICIENT_QUOTE.value


def test_settlement_when_spot_rule_then_at_the_oracle_price_pays_intrinsic_and_conserves():
    # settlement = "spot": the oracle's price at the first SettleOption of the expiry.
    e = engine(settlement="spot")
    assert e.apply(TradeOption("alice", "bob", size=SIZE * 3 // 2, premium=225 * USDC,
                               **CALL)).accepted
    early = e.apply(SettleOption(**CALL))                  # type: ignore[arg-type]
    assert not early.accepted and early.code == Code.OPTION_NOT_EXPIRED.value
    e.apply(AdvanceTime(T))
    # 2,000.00000001 x ... : intrinsic 300.00000001 per option x 1.5 = 450.000000015 USDC:
    # the long gets 450.000000 (down), the short pays 450.000001 (up), dust 1 unit.
    e.apply(SetPrice("WETH", 2_300 * P + 1))
    out = e.apply(SettleOption(**CALL))                    # type: ignore[arg-type]
    assert out.accepted, out.reason
    assert out.details["changes"] == {"alice": 450 * USDC, "bob": -(450 * USDC + 1)}
    assert out.details["dust"] == 1
    clearing = e.state.options
    assert clearing is not None
    assert clearing.cash == {"alice": 1_000 * USDC - 225 * USDC + 450 * USDC,
                             "bob": 2_100 * USDC + 225 * USDC - 450 * USDC - 1}
    assert sum(clearing.cash.values()) + clearing.settlement_dust == clearing.cash_in
    assert clearing.positions == {"alice": {}, "bob": {}}
    again = e.apply(SettleOption(**CALL))                  # type: ignore[arg-type]
    assert again.code == Code.OPTION_ALREADY_SETTLED.value
    late = e.apply(TradeOption("alice", "bob", size=SIZE, premium=0, **CALL))
    assert late.code == Code.OPTION_EXPIRED.value


def test_a_trade_needs_the_expiry_surface_and_one_underlying_per_account():
    e = engine()
    other = dict(CALL, expiry=2 * T)
    out = e.apply(TradeOption("alice", "bob", size=SIZE, premium=150 * USDC, **other))
    assert out.code == Code.VOL_NOT_SET.value and "SetVolSurface" in (out.reason or "")
    assert e.apply(TradeOption("alice", "bob", size=SIZE, premium=150 * USDC,
                               **CALL)).accepted
    e.apply(SetPrice("DAI", P))
    e.apply(SetVolSurface("DAI", T, 100_000))
    out = e.apply(TradeOption("alice", "bob", size=SIZE, premium=1, underlying="DAI",
                              expiry=T, strike=P, is_call=True))
    assert out.code == Code.OPTION_ONE_UNDERLYING.value and out.data["field"] == "buyer"
    out = e.apply(TradeOption("alice", "bob", size=SIZE, premium=1, underlying="XYZ",
                              expiry=T, strike=P, is_call=True))
    assert out.code == Code.UNKNOWN_ASSET.value


def test_a_surface_moves_the_margin_and_is_journalled():
    e = engine()
    assert e.apply(TradeOption("alice", "bob", size=SIZE, premium=150 * USDC, **CALL)).accepted
    low = e.portfolio_margin("bob")
    e.apply(SetVolSurface("WETH", T, 1_200_000))
    high = e.portfolio_margin("bob")
    assert low is not None and high is not None and high.initial < low.initial
    assert e.state.vols[("WETH", T)] == (1_200_000, 0)


@pytest.mark.parametrize(("data", "message"), [
    ({"type": "TradeOption", "buyer": "a", "seller": "b", "underlying": "WETH", "expiry": T,
      "strike": 0, "is_call": True, "size": 1, "premium": 0}, "TradeOption.strike"),
    ({"type": "TradeOption", "buyer": "a", "seller": "b", "underlying": "WETH", "expiry": T,
      "strike": 1, "is_call": True, "size": 0, "premium": 0}, "TradeOption.size"),
    ({"type": "TradeOption", "buyer": "a", "seller": "b", "underlying": "WETH", "expiry": T,
      "strike": 1, "is_call": "yes", "size": 1, "premium": 0}, "TradeOption.is_call"),
    ({"type": "TradeOption", "buyer": "a", "seller": "b", "underlying": "WETH", "expiry": T,
      "strike": 1, "is_call": True, "size": 1, "premium": -1}, "TradeOption.premium"),
    ({"type": "SettleOption", "underlying": "", "expiry": T, "strike": 1, "is_call": True},
     "SettleOption.underlying"),
    ({"type": "SetVolSurface", "underlying": "WETH", "expiry": T, "vol_ppm": 0},
     "SetVolSurface.vol_ppm"),
    ({"type": "SetVolSurface", "underlying": "WETH", "expiry": T, "vol_ppm": 0.6},
     "SetVolSurface.vol_ppm"),
    ({"type": "SetVolSurface", "underlying": "WETH", "expiry": -1, "vol_ppm": 600_000},
     "SetVolSurface.expiry"),
])
def test_malformed_option_events_name_the_field(data: dict[str, Any], message: str):
    with pytest.raises(EventError, match=message.replace(".", r"\.")):
        event_from_dict(data)


def test_options_config_names_the_bad_field():
    with pytest.raises(ConfigError, match="options.quote"):
        options_protocol(quote="EUR")
    with pytest.raises(ConfigError, match="portfolio_preset"):
        options_protocol(portfolio_preset="nope")


def test_replay_from_the_log_gives_the_same_state_hash(tmp_path: Path):
    path = tmp_path / "events.sqlite"
    e = Engine.with_log(options_protocol(), path)
    events: list[Event] = [
        *setup(),
        TradeOption("alice", "bob", size=SIZE, premium=150 * USDC, **CALL),  # type: ignore[arg-type]
        WithdrawOptionCash("bob", 2_000 * USDC),                              # refused, logged
        # The TWAP settlement's spots are state: 2,200 for the first 20 minutes of the
        # window, 2,500 for the last 10 (and a stale price that does not enter it):
        # (2,200 x 1,200 + 2,500 x 600) / 1,800 = 2,300.
        AdvanceTime(T - 1_800), SetPrice("WETH", 2_200 * P), AdvanceTime(1_200),
        SetPrice("WETH", 2_500 * P), AdvanceTime(300),
        SetPrice("WETH", 9_999 * P, status="stale"), AdvanceTime(300),
        SetPrice("WETH", 9_000 * P), SettleOption(**CALL),                    # type: ignore[arg-type]
    ]
    for ev in events:
        e.apply(ev)
    expected = e.state_hash()
    e.close()
    replayed, report = Engine.replay(path)
    assert report.state_hash == expected == replayed.state_hash()
    assert report.events == len(events)
    assert replayed.state.options is not None
    assert replayed.state.options.cash == {"alice": 1_150 * USDC, "bob": 1_950 * USDC}
    assert replayed.state.options.expiry_price("WETH", T) == 2_300 * P
    assert replayed.state.settlement_spots == e.state.settlement_spots


def test_a_portfolio_account_is_margined_by_pmrm_through_the_one_margin_interface():
    from marginengine.fixedpoint import WAD
    from marginengine.margin import MarginKind

    e = engine()
    assert e.apply(TradeOption("alice", "bob", size=SIZE, premium=150 * USDC, **CALL)).accepted
    pm = e.portfolio_margin("bob")
    assert pm is not None
    state = e.margin_state("bob", MarginKind.MAINTENANCE)
    # Value = MtM (cash 2,250 less the call's mark) and requirement = MtM - maintenance,
    # in base-currency units at USDC = 1 USD: value down, requirement up.
    assert state.value == int(pm.mtm * P)
    assert state.requirement == math.ceil(Fraction(pm.mtm - pm.maintenance) * P)
    assert e.health_factor("bob") == state.health == state.value * WAD // state.requirement
    assert not e.is_liquidatable("bob")
    # A spot jump makes the short call's MtM fall below its maintenance requirement.
    e.apply(SetPrice("WETH", 4_500 * P))
    after = e.portfolio_margin("bob")
    assert after is not None and after.maintenance < 0
    assert e.is_liquidatable("bob") and e.health_factor("bob") < WAD
    # A lending-only account keeps Aave's health factor (no options entry).
    assert e.state.margin.portfolio_margin(e.valuation(), "carol") is None


def test_valuation_at_other_prices_values_portfolios_at_those_prices():
    # A what-if reads the engine at shocked prices (scan.confirm_below): the portfolio's
    # options must be revalued there too, exactly as after the same SetPrice.
    e = engine()
    assert e.apply(TradeOption("alice", "bob", size=SIZE, premium=150 * USDC, **CALL)).accepted
    shocked = {**e.prices, "WETH": 2_400 * P}
    at_shock = e.portfolio_margin("bob", shocked)
    state = e.margin_model.margin(e.ledger, e.valuation(shocked), "bob",
                                  MarginKind.MAINTENANCE)
    now = e.portfolio_margin("bob")
    assert at_shock is not None and now is not None
    assert at_shock.maintenance < now.maintenance   # a short call loses as WETH rises
    assert e.apply(SetPrice("WETH", 2_400 * P)).accepted
    after = e.portfolio_margin("bob")
    assert after is not None and after.maintenance == at_shock.maintenance
    assert e.margin_state("bob", MarginKind.MAINTENANCE) == state


@pytest.mark.parametrize("name", ["a_ppm", "b_ppm", "rho_ppm", "m_ppm", "sigma_ppm"])
def test_svi_parameter_beyond_uint256_is_refused_naming_it(name: str):
    # Read as floats: 10**400 ppm has none (an OverflowError before the bound).
    data = {"type": "SetSviSurface", "underlying": "WETH", "expiry": T, "a_ppm": 40_000,
            "b_ppm": 100_000, "rho_ppm": -300_000, "m_ppm": 0, "sigma_ppm": 100_000,
            name: 10**400}
    with pytest.raises(EventError, match=rf"^SetSviSurface\.{name}: too large"):
        event_from_dict(data)


@pytest.mark.parametrize("preset", ["derive-srm", "derive-pm1", "derive-pm2", "paradex",
                                    "deribit-like", "span-like"])
def test_an_option_on_the_quote_asset_is_refused_naming_underlying(preset: str):
    # Derive holds its cash asset (USDC) only as cash: the SRM refuses every asset not
    # whitelisted to a market (SRM_UnsupportedAsset) and each PMRM margins one currency
    # against that cash. A USDC put quoted in USDC has no model here, under any preset.
    e = Engine(options_protocol(portfolio_preset=preset))
    for ev in setup():
        assert e.apply(ev).accepted, ev
    before = e.state.hash_parts()      # the hash itself moves with the log's seq
    vol = e.apply(SetVolSurface("USDC", T, 600_000))
    assert vol.code == Code.OPTION_ON_QUOTE.value and vol.data["field"] == "underlying"
    put = e.apply(TradeOption("alice", "bob", underlying="USDC", expiry=T, strike=P,
                              is_call=False, size=SIZE, premium=USDC // 100))
    assert put.code == Code.OPTION_ON_QUOTE.value and put.data["field"] == "underlying"
    assert "USDC is the options quote asset" in (put.reason or "")
    assert e.state.hash_parts() == before


@pytest.mark.parametrize("event", [
    SetVolSurface("WETH", T, 900_000),
    SetVolSurface("WETH", T - 1, 900_000),
])
def test_a_surface_for_an_expired_expiry_is_refused_naming_expiry(event: SetVolSurface):
    e = engine()
    assert e.apply(TradeOption("alice", "bob", size=SIZE, premium=150 * USDC,
                               **CALL)).accepted
    assert e.apply(AdvanceTime(T)).accepted          # now == expiry: the series settles
    before, vols = e.state.hash_parts(), dict(e.state.vols)
    out = e.apply(event)
    assert out.code == Code.OPTION_EXPIRED.value and out.data["field"] == "expiry"
    assert out.data == {"field": "expiry", "expiry": event.expiry, "now": T}
    assert e.state.hash_parts() == before and e.state.vols == vols == {("WETH", T): (600_000, 0)}
    # The next expiry is still open; an SVI slice for the expired one is refused the same.
    assert e.apply(SetVolSurface("WETH", T + 1, 900_000)).accepted
    from marginengine.engine import SetSviSurface
    svi = e.apply(SetSviSurface("WETH", T, 10_000, 100_000, 0, 0, 100_000))
    assert svi.code == Code.OPTION_EXPIRED.value and svi.data["field"] == "expiry"
    # Settlement needs no surface: the expired series settles at the oracle price.
    assert e.apply(SettleOption(**CALL)).accepted     # type: ignore[arg-type]


def test_settlement_when_legs_of_a_spread_settle_apart_then_one_price_per_expiry():
    # bob sells alice a 2,000/2,100 call spread (short the 2,000 call, long the 2,100 call,
    # 1 each: at most 100 USDC to pay at expiry; the SRM margins it at that width,
    # StandardManager._calcMaxLoss). Derive settles every series of an expiry at one
    # price (LyraForwardFeed.getSettlementPrice(expiry): one TWAP per expiry). The
    # 2,000 call settles first at 2,300; the oracle then falls to 1,900 before the
    # 2,100 call settles: it settles at 2,300 too (bob receives 200), so bob pays
    # 300 - 200 = 100, the width, not 300.
    e = Engine(options_protocol(portfolio_preset="derive-srm"))
    for ev in setup():
        assert e.apply(ev).accepted, ev
    low = dict(underlying="WETH", expiry=T, strike=2_000 * P, is_call=True)
    high = dict(underlying="WETH", expiry=T, strike=2_100 * P, is_call=True)
    put = dict(underlying="WETH", expiry=T, strike=2_200 * P, is_call=False)
    assert e.apply(TradeOption("alice", "bob", size=SIZE, premium=60 * USDC, **low)).accepted
    assert e.apply(TradeOption("bob", "alice", size=SIZE, premium=20 * USDC, **high)).accepted
    assert e.apply(TradeOption("alice", "bob", size=SIZE, premium=10 * USDC, **put)).accepted
    for ev in to_expiry_at("WETH", 2_300 * P, T):
        e.apply(ev)
    first = e.apply(SettleOption(**low))                   # type: ignore[arg-type]
    assert first.details["price"] == 2_300 * P
    assert first.details["changes"] == {"alice": 300 * USDC, "bob": -300 * USDC}
    e.apply(SetPrice("WETH", 1_900 * P))
    second = e.apply(SettleOption(**high))                 # type: ignore[arg-type]
    assert second.accepted, second.reason
    assert second.details["price"] == 2_300 * P
    assert second.details["changes"] == {"alice": -200 * USDC, "bob": 200 * USDC}
    # The 2,200 put of the same expiry is out of the money at 2,300 (it would pay 300 at
    # the oracle's 1,900).
    third = e.apply(SettleOption(**put))                   # type: ignore[arg-type]
    assert third.details["price"] == 2_300 * P and third.details["changes"] == {
        "alice": 0, "bob": 0}
    clearing = e.state.options
    assert clearing is not None
    # bob: 2,100 + 60 - 20 + 10 premiums, then -300 + 200 at settlement.
    assert clearing.cash["bob"] == (2_100 + 60 - 20 + 10 - 100) * USDC
    assert clearing.expiry_price("WETH", T) == 2_300 * P
    assert clearing.expiry_price("WETH", 2 * T) is None


def test_clearing_when_a_series_of_a_settled_expiry_gets_another_price_then_refused():
    from marginengine.ledger.options import OptionClearing, OptionSeries

    clearing = OptionClearing(USDC, SIZE)
    clearing.settle(OptionSeries("WETH", T, 2_000 * P, True), 2_300 * P, T)
    with pytest.raises(FieldError, match=r"^price: WETH expiry 2592000 settled at "
                                         r"230000000000; every series of it settles there "
                                         r"\(got 190000000000\)$"):
        clearing.settle(OptionSeries("WETH", T, 2_100 * P, True), 1_900 * P, T)
    assert clearing.settle(OptionSeries("WETH", T, 2_100 * P, True), 2_300 * P, T) == {}


def test_margin_when_a_series_of_the_expiry_settled_then_the_rest_valued_at_that_price():
    # After the 2,000 call settles at 2,300, the unsettled 2,100 call of the same expiry
    # will settle at 2,300 too, whatever the oracle does: alice, short it, owes 200 USDC on
    # it with the oracle at 1,900 (valued at the oracle it would be worth nothing), and no
    # spot scenario moves it (the forward is all fixed, as an expiry past Derive's
    # settlement window).
    e = Engine(options_protocol())
    for ev in setup():
        assert e.apply(ev).accepted, ev
    low = dict(underlying="WETH", expiry=T, strike=2_000 * P, is_call=True)
    high = dict(underlying="WETH", expiry=T, strike=2_100 * P, is_call=True)
    assert e.apply(TradeOption("alice", "bob", size=SIZE, premium=60 * USDC, **low)).accepted
    assert e.apply(TradeOption("bob", "alice", size=SIZE, premium=20 * USDC, **high)).accepted
    for ev in to_expiry_at("WETH", 2_300 * P, T):
        e.apply(ev)
    assert e.apply(SettleOption(**low)).accepted                # type: ignore[arg-type]
    e.apply(SetPrice("WETH", 1_900 * P))
    portfolio = e.option_portfolio("alice")
    assert portfolio is not None
    assert [(x.sec_to_expiry, x.forward, x.forward_fixed) for x in portfolio.expiries] == [
        (0.0, 0.0, 2_300.0)]
    margin = e.portfolio_margin("alice")
    assert margin is not None
    cash = (1_000 - 60 + 20 + 300) * USDC / USDC
    assert margin.mtm == pytest.approx(cash - 200.0, abs=1e-9)   # she is short the 2,100
    # Every scenario's P&L is only the static discount of the -200 (derive-pm2's
    # short_base 0.95 at no time to expiry: -190, +10 USDC) times its dampening, and -|.|
    # in the two skew scenarios (Derive's worst direction of each expiry).
    scenarios = portfolio_config(preset="derive-pm2").scenarios
    assert margin.scenario_pnl.tolist() == pytest.approx(
        [(-10.0 if x.vol_shock in ("linear", "abs") else 10.0) * x.dampening
         for x in scenarios])
