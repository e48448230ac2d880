"""TWAP settlement in the engine (Derive's presets): SettleOption fixes an expiry at the
spot's 30-minute time-weighted average before it (LyraForwardFeed.getSettlementPrice,
v2-core 7736900), from the prices SetPrice reported; refused while the window's start is
not covered (Derive's feed answers unsettled); the spots are journalled state that
replays; the other presets settle at the oracle's spot unless told otherwise.

Figures worked by hand: WETH call 2,000, size 1, USDC quote.
"""

from __future__ import annotations

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
)
from marginengine.errors import ConfigError, FieldError
from marginengine.ledger.options import OptionSeries
from marginengine.margin.base import MarginKind
from marginengine.margin.portfolio import expiry_of, portfolio_of
from marginengine.margin.portfolio_rules import evaluate_portfolio
from marginengine.oracle.settlement_feed import SETTLEMENT_TWAP_DURATION as W
from marginengine.scan.portfolio_screens import portfolio_screen
from tests.conftest import SIMPLE_MARKETS

P, USDC, SIZE = 10**8, 10**6, 10**18
T = 30 * 86_400
CALL = dict(underlying="WETH", expiry=T, strike=2_000 * P, is_call=True)


def protocol(**options: Any) -> Any:
    return protocol_from_dict({"preset": "aave-v3", "markets": SIMPLE_MARKETS,
                               "options": {"quote": "USDC", **options}})


def traded(start: int = 0, **options: Any) -> Engine:
    """alice long, bob short one 2,000 call of T, traded at ``start`` (WETH 2,000)."""
    e = Engine(protocol(**options))
    events: list[Event] = [
        *([AdvanceTime(start)] if start else []), SetPrice("USDC", P),
        SetPrice("WETH", 2_000 * P), SetVolSurface("WETH", T, 600_000),
        DepositOptionCash("alice", 1_000 * USDC), DepositOptionCash("bob", 3_000 * USDC),
        TradeOption("alice", "bob", size=SIZE, premium=100 * USDC, **CALL)]  # type: ignore[arg-type]
    for ev in events:
        assert e.apply(ev).accepted, ev
    return e


def run(e: Engine, *events: Event) -> None:
    for ev in events:
        assert e.apply(ev).accepted, ev


def test_settle_when_price_moves_in_window_then_at_the_twap_not_the_spot():
    e = traded()
    # 2,000 until 10 minutes into the window, 2,450 for 15 minutes, 2,600 for the last 5,
    # 3,000 at the expiry itself (it holds for no second of the window):
    # (2,000 x 600 + 2,450 x 900 + 2,600 x 300) / 1,800 = 2,325.
    run(e, AdvanceTime(T - W + 600), SetPrice("WETH", 2_450 * P), AdvanceTime(900),
        SetPrice("WETH", 2_600 * P), AdvanceTime(300), SetPrice("WETH", 3_000 * P))
    assert e.settlement_price_now("WETH", T) == 2_325 * P
    out = e.apply(SettleOption(**CALL))                     # type: ignore[arg-type]
    assert out.accepted, out.reason
    assert out.details["price"] == 2_325 * P
    assert out.details["changes"] == {"alice": 325 * USDC, "bob": -325 * USDC}


def test_settle_when_first_price_inside_window_then_refused_and_nothing_changes():
    # The protocol's first WETH price comes 10 minutes before the expiry: the spot at the
    # window's start is unknown, so is the TWAP (Derive: getSettlementPrice (false, 0),
    # settleOptions skips the position).
    e = traded(start=T - 600)
    run(e, AdvanceTime(600))
    before = e.state.hash_parts()
    out = e.apply(SettleOption(**CALL))                     # type: ignore[arg-type]
    assert not out.accepted and out.code == Code.OPTION_NOT_SETTLEABLE.value
    assert out.data["window_start"] == T - W
    assert "settlement window's start" in (out.reason or "")
    assert e.state.hash_parts() == before
    assert e.settleable_series("alice") == []
    # The spot rule settles it at the oracle price.
    spot = traded(start=T - 600, settlement="spot")
    run(spot, AdvanceTime(600))
    assert spot.apply(SettleOption(**CALL)).accepted        # type: ignore[arg-type]


def test_settle_when_settled_late_then_its_window_is_kept_and_used():
    # Nobody settles for a day while WETH moves every hour: the expiry's window is still
    # held (open interest, nothing of it settled) and the kept spots stay few.
    e = traded()
    run(e, AdvanceTime(T - W), SetPrice("WETH", 2_200 * P), AdvanceTime(W))
    for hour in range(24):
        run(e, AdvanceTime(3_600), SetPrice("WETH", (1_000 + hour) * P))
    assert len(e.state.settlement_spots["WETH"]) <= 4
    out = e.apply(SettleOption(**CALL))                     # type: ignore[arg-type]
    assert out.accepted and out.details["price"] == 2_200 * P
    # Settled: its window is no longer kept.
    run(e, AdvanceTime(3_600), SetPrice("WETH", 1_500 * P))
    assert e.state.settlement_spots["WETH"][0][0] > T


def test_margin_when_expired_unsettled_then_valued_at_its_twap():
    e = traded()
    run(e, AdvanceTime(T - W), SetPrice("WETH", 2_300 * P), AdvanceTime(W),
        SetPrice("WETH", 1_900 * P))
    portfolio = e.option_portfolio("bob")
    assert portfolio is not None
    assert [(x.sec_to_expiry, x.forward, x.forward_fixed) for x in portfolio.expiries] == [
        (0.0, 0.0, 2_300.0)]
    margin = e.portfolio_margin("bob")
    assert margin is not None
    assert margin.mtm == pytest.approx(3_000 + 100 - 300.0, abs=1e-9)


@pytest.mark.parametrize(("preset", "rule"), [
    ("derive-pm2", "twap"), ("derive-pm1", "twap"), ("derive-srm", "twap"),
    ("paradex", "spot"), ("deribit-like", "spot"), ("span-like", "spot")])
def test_settlement_rule_when_not_given_then_the_presets(preset: str, rule: str):
    config = protocol(portfolio_preset=preset)
    assert config.options is not None and config.options.settlement_rule == rule
    # Absent, it is left out of the dump (the log's metadata keeps its form).
    assert "settlement" not in config.options.model_dump()
    other = "spot" if rule == "twap" else "twap"
    chosen = protocol(portfolio_preset=preset, settlement=other).options
    assert chosen is not None and chosen.settlement_rule == other


def test_settlement_rule_when_unknown_then_config_names_the_field():
    with pytest.raises(ConfigError, match="settlement"):
        protocol(settlement="vwap")


def test_spots_when_spot_rule_then_not_recorded_and_hash_as_before():
    e = traded(portfolio_preset="paradex")
    run(e, AdvanceTime(60), SetPrice("WETH", 2_100 * P))
    assert e.state.settlement_spots == {}
    assert "settlement_spots" not in e.state.hash_parts()


def test_expiry_of_when_settled_at_zero_then_fixed_at_zero_not_live():
    # A settlement price of 0 is a settlement (Derive's settled flag is the feed's
    # timestamp test; OptionAsset pays a put its strike at 0), not "no price yet".
    e = traded()
    clearing = e.state.options
    assert clearing is not None
    c = clearing.copy()
    changes = c.settle(OptionSeries("WETH", T, 2_000 * P, False), 0, T)
    assert changes == {}
    got = expiry_of(c, "WETH", T, T, 1_900.0)
    assert (got.sec_to_expiry, got.forward, got.forward_fixed) == (0.0, 0.0, 0.0)
    assert c.expiry_price("WETH", T) == 0
    put = OptionSeries("WETH", 2 * T, 2_000 * P, False)
    c.trade("alice", "bob", put, SIZE, 0, T)
    call = OptionSeries("WETH", 2 * T, 2_100 * P, True)
    c.trade("alice", "bob", call, SIZE, 0, T)
    assert c.settle(put, 0, 2 * T) == {"alice": 2_000 * USDC, "bob": -2_000 * USDC}
    # An open series of an expiry fixed at 0 has a forward of 0, which the margin model
    # refuses, naming it, as Derive's Black76.prices reverts on it (strike / fwd).
    with pytest.raises(FieldError, match="forward \\+ forward_fixed must be > 0"):
        evaluate_portfolio(portfolio_of(c, "bob", "WETH", 1_900.0, 2 * T,
                                        {T: 1_900.0, 2 * T: 1_900.0}, lambda s: 0.5),
                           portfolio_config(preset="derive-pm2"))


def test_margin_when_inside_window_then_forward_split_fixed_and_variable_as_derive():
    # Derive's getForwardPricePortions 10 minutes before the expiry: 2,000 for the first
    # 10 minutes of the window, 2,450 since: fixed (2,000 x 600 + 2,450 x 600) / 1,800 =
    # 1,483.33333333 (rounded down to the price unit), variable 2,450 x 600 / 1,800 =
    # 816.66666666; the spot shocks move only the variable part.
    e = traded()
    run(e, AdvanceTime(T - W + 600), SetPrice("WETH", 2_450 * P), AdvanceTime(600))
    assert e.forward_portions_now("WETH", T, 2_450 * P) == (148_333_333_333 / P,
                                                            81_666_666_666 / P)
    portfolio = e.option_portfolio("bob")
    assert portfolio is not None
    (x,) = portfolio.expiries
    assert (x.sec_to_expiry, x.forward, x.forward_fixed) == (600.0, 816.66666666,
                                                             1483.33333333)
    # The screen reads the same split: its figures bound the exact ones.
    result = portfolio_screen(e, ["alice", "bob"]).screen()
    valuation = e.valuation()
    for i, account in enumerate(result.accounts):
        exact = e.margin_model.margin(e.ledger, valuation, account, MarginKind.MAINTENANCE)
        assert abs(result.value[i] - exact.value) <= result.error[i]
        assert abs(result.requirement[i] - exact.requirement) <= result.error[i]
    # Before the window, or under the spot rule, the forward is all variable.
    assert traded().forward_portions_now("WETH", T, 2_000 * P) is None
    spot = traded(settlement="spot")
    run(spot, AdvanceTime(T - 600))
    assert spot.forward_portions_now("WETH", T, 2_000 * P) is None
