"""Mango v4 ``perp_settle_pnl`` and ``perp_update_funding`` in the engine: the
MangoPerpSettlePnl and MangoPerpUpdateFunding events.

Figures: blockworks-foundation/mango-v4 @ 1303a4a16228eb1e8e8d4f0eef724eaf63310c86,
programs/mango-v4/tests/cases/test_perp_settle.rs: ``test_perp_settle_pnl_basic`` (B's
health lets it settle 10000 x 0.8 / 0.8 + 1001 x 0.8 / 1.2 = 10,667.333: 10,667 here, in
whole native units) and ``test_perp_pnl_settle_limit`` (factor 0.8, stable price 1000:
80,000 per window, then the realized pnl's recurring allowance 80,001, 39,998 left).
Native units are the test's: both tokens and the perp have 6 decimals, a base lot is 100
native base, a quote lot 10 native quote; the perp's oracle is 1000 native per native.
"""

from __future__ import annotations

from typing import Any

from marginengine.config import protocol_from_dict
from marginengine.decisions import Code
from marginengine.engine import (
    AdvanceTime,
    Engine,
    Event,
    MangoDeposit,
    MangoPerpSettlePnl,
    MangoPerpTrade,
    MangoPerpUpdateFunding,
    MangoSetStablePrice,
    SetPrice,
    event_from_dict,
)
from marginengine.engine.family_state import MangoBook
from marginengine.fixedpoint import PRICE_UNIT
from marginengine.margin.mango import ONE


def config(factor: str, **perp: Any) -> dict[str, Any]:
    weights = {"init_asset_weight": "0.6", "maint_asset_weight": "0.8",
               "init_liab_weight": "1.4", "maint_liab_weight": "1.2"}
    return {"preset": "mango-v4",
            "markets": {n: {"decimals": 6, "collateral": False, "borrowable": False}
                        for n in ("USDC", "T2", "P")},
            "mango": {"quote": "USDC", "tokens": {"USDC": weights, "T2": weights},
                      "perps": {"P": {
                          "settle": "USDC", "base_lot_size": 100, "quote_lot_size": 10,
                          "init_base_asset_weight": "0.95", "init_base_liab_weight": "1.05",
                          "maint_base_asset_weight": "0.975",
                          "maint_base_liab_weight": "1.025",
                          "init_overall_asset_weight": "1", "maint_overall_asset_weight": "1",
                          "settle_pnl_limit_factor": factor, **perp}}}}


def applied(engine: Engine, *events: Event) -> list[dict[str, Any]]:
    out = []
    for event in events:
        outcome = engine.apply(event)
        assert outcome.accepted, (event, outcome.code, outcome.reason)
        out.append(dict(outcome.details or {}))
    return out


def book(engine: Engine) -> MangoBook:
    b = engine.state.family
    assert isinstance(b, MangoBook)
    return b


def opened(factor: str, deposit_a: int, deposit_b: int, fee_a: int = 0,
           **perp: Any) -> Engine:
    """A long one lot at 1000 (``a``), B short one lot (``b``): Mango's PerpPlaceOrder pair."""
    engine = Engine(protocol_from_dict(config(factor, **perp)))
    applied(engine, SetPrice("USDC", PRICE_UNIT), SetPrice("T2", PRICE_UNIT),
            SetPrice("P", 1000 * PRICE_UNIT), MangoSetStablePrice("P", 1000 * PRICE_UNIT),
            MangoDeposit("a", "USDC", deposit_a), MangoDeposit("b", "USDC", deposit_b),
            MangoPerpTrade("a", "P", 1, -100_000, fee=fee_a),
            MangoPerpTrade("b", "P", -1, 100_000))
    return engine


def test_settle_pnl_when_b_health_binds_then_mango_basic_10667() -> None:
    engine = opened("-1", 10_000, 10_000, fee_a=20)     # maker fee 0.0002 x 100,000
    assert book(engine).account("a").perps["P"].quote == -100_020
    refused = engine.apply(MangoPerpSettlePnl("s", "a", "a", "P"))
    assert refused.code == Code.MANGO_CANNOT_SETTLE_WITH_SELF.value
    refused = engine.apply(MangoPerpSettlePnl("s", "a", "c", "P"))
    assert refused.code == Code.MANGO_PERP_POSITION_DOES_NOT_EXIST.value
    applied(engine, SetPrice("P", 1200 * PRICE_UNIT))
    wrong = engine.apply(MangoPerpSettlePnl("s", "b", "a", "P"))
    assert wrong.code == Code.MANGO_PROFITABILITY_MISMATCH.value
    applied(engine, SetPrice("P", 1500 * PRICE_UNIT), MangoDeposit("b", "T2", 1001))
    (done,) = applied(engine, MangoPerpSettlePnl("s", "a", "b", "P"))
    assert done["settlement"] == 10_667
    assert done["bound"] == "b_max_settle"
    assert done["b_max_settle"] // (ONE // 1000) == 10_667_333     # 10,667.333
    assert done["fee"] == 0
    a, b = book(engine).account("a"), book(engine).account("b")
    assert (a.tokens["USDC"], b.tokens["USDC"]) == (10_000 + 10_667, 10_000 - 10_667)
    assert (a.perps["P"].quote, b.perps["P"].quote) == (-100_020 - 10_667, 100_000 + 10_667)
    # The fee paid is negative pnl settleable once (record_trading_fee: oneshot -20); the
    # settlement does not consume it (it is on the other side) and counts in the window.
    assert a.perps["P"].limit.oneshot == -20 * ONE
    assert a.perps["P"].limit.settled_in_window == 10_667


def test_settle_pnl_when_limits_bind_then_mango_pnl_settle_limit_figures() -> None:
    engine = opened("0.8", 1_000_000, 100_000_000)
    applied(engine, SetPrice("P", 3000 * PRICE_UNIT))     # the stable price stays 1000
    (first,) = applied(engine, MangoPerpSettlePnl("s", "a", "b", "P"))
    assert first["settlement"] == 80_000                  # 0.8 x 1000 x 100
    assert first["bound"] == "b_settle_limit"
    assert first["a_available_settle_limit"][1] == 0
    assert first["b_available_settle_limit"][0] == 0
    again = engine.apply(MangoPerpSettlePnl("s", "a", "b", "P"))
    assert again.code == Code.MANGO_PROFITABILITY_MISMATCH.value
    # Test 3: closing at 3x realizes the pnl: recurring 0.8 x 1000 x 100 + 1 (the f32)
    applied(engine, MangoPerpTrade("b", "P", 1, -300_000), MangoPerpTrade("a", "P", -1, 300_000))
    assert book(engine).account("a").perps["P"].limit.recurring == 80_001
    (one,) = applied(engine, MangoPerpSettlePnl("s", "a", "b", "P"))
    assert one["settlement"] == 1
    # Test 4: a new window: the recurring allowance settles, then shrinks to the pnl left
    applied(engine, AdvanceTime(86_400), SetPrice("USDC", PRICE_UNIT),
            SetPrice("T2", PRICE_UNIT), SetPrice("P", 3000 * PRICE_UNIT))
    (fourth,) = applied(engine, MangoPerpSettlePnl("s", "a", "b", "P"))
    assert fourth["settlement"] == 80_001
    a = book(engine).account("a").perps["P"]
    assert (a.quote, a.limit.recurring) == (39_998, 39_998)
    assert not engine.apply(MangoPerpSettlePnl("s", "a", "b", "P")).accepted
    # Test 5: the next window settles the rest; nothing is left
    applied(engine, AdvanceTime(86_400), SetPrice("USDC", PRICE_UNIT),
            SetPrice("T2", PRICE_UNIT), SetPrice("P", 3000 * PRICE_UNIT))
    (fifth,) = applied(engine, MangoPerpSettlePnl("s", "a", "b", "P"))
    assert fifth["settlement"] == 39_998
    assert book(engine).account("a").perps["P"].limit.recurring == 0
    assert book(engine).account("a").tokens["USDC"] == 1_000_000 + 200_000


def test_update_funding_when_bids_above_oracle_then_the_long_pays_at_its_next_fill() -> None:
    engine = opened("-1", 1_000_000, 1_000_000, min_funding="-0.05", max_funding="0.05",
                    impact_quantity=1)
    # oracle 1000 native: 10,000 in lots; impact bid 10,100 and ask 10,300: mid 10,200
    # lots = 1,020 native, 2% per day; after an hour 1000 x 100 x 0.02 / 24 = 83.33 per lot.
    applied(engine, AdvanceTime(3600), SetPrice("USDC", PRICE_UNIT),
            SetPrice("P", 1000 * PRICE_UNIT))
    (update,) = applied(engine, MangoPerpUpdateFunding("P", ((10_100, 1),), ((10_300, 1),)))
    assert update["updated"] is True and update["seconds"] == 3600
    assert abs(update["funding_rate"] / ONE - 0.02) < 1e-12
    assert abs(update["long_funding"] / ONE - 1000 * 100 * 0.02 / 24) < 1e-9
    # the same second: nothing moves
    assert applied(engine, MangoPerpUpdateFunding("P"))[0]["updated"] is False
    # the long owes 83.33 (its quote: floor(-100,083.33) = -100,084), the short is owed it
    # (floor(100,083.33) = 100,083), settled at their next fill
    applied(engine, MangoPerpTrade("a", "P", 1, -100_000), MangoPerpTrade("b", "P", -1, 100_000))
    a, b = book(engine).account("a").perps["P"], book(engine).account("b").perps["P"]
    assert a.quote == -100_084 - 100_000
    assert b.quote == 100_083 + 100_000
    # the long paid 84 whole units, the short got 83: the market keeps exactly one
    assert book(engine).funding_dust["P"] == ONE
    assert b.long_settled_funding == book(engine).funding_of("P").long_funding
    # JSON round trip of the book levels
    event = MangoPerpUpdateFunding("P", ((10_100, 1),), ((10_300, 2),))
    assert event_from_dict(event.to_dict()) == event


def test_update_funding_when_levels_malformed_then_event_error_names_the_field() -> None:
    import pytest

    from marginengine.errors import EventError

    with pytest.raises(EventError, match=r"MangoPerpUpdateFunding\.bids: must be a list"):
        event_from_dict({"type": "MangoPerpUpdateFunding", "market": "P", "bids": 5})
    with pytest.raises(EventError, match=r"asks\[1\]: the quantity lots must be positive"):
        MangoPerpUpdateFunding("P", (), ((10, 1), (11, 0)))
    with pytest.raises(EventError, match=r"bids\[0\]: the price lots must be an integer"):
        event_from_dict({"type": "MangoPerpUpdateFunding", "market": "P",
                         "bids": [[1.5, 1]]})
    engine = opened("-1", 10_000, 10_000)
    refused = engine.apply(MangoPerpUpdateFunding("Q"))
    assert refused.code == Code.UNKNOWN_MARKET.value and "market" in (refused.reason or "")


def test_perp_config_when_window_zero_or_funding_bound_wrong_side_then_field_named() -> None:
    import pytest

    from marginengine.errors import ConfigError

    for field, value in (("settle_pnl_limit_window_size_ts", 0), ("min_funding", "0.1"),
                         ("max_funding", "-0.1"), ("quote_lot_size", 0)):
        with pytest.raises(ConfigError, match=field):
            protocol_from_dict(config("0.2", **{field: value}))
