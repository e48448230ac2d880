"""Drift v2's perp liquidation in the engine (``DriftLiquidatePerp``): the base covering the
margin shortage moves to the liquidator at the oracle price less its fee, the insurance
fund's fee on top, with Drift's refusals.

Figures from Drift's own tests (drift-labs/protocol-v2 at
0ae3e3b1db782a6765c3525b3dec38ad4d9d3a62): ``programs/drift/src/controller/liquidation/
tests.rs`` ``liquidate_perp::successful_liquidation_to_cover_margin_shortage`` and
``programs/drift/src/math/liquidation/tests.rs`` ``calculate_perp_if_fee::test``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from marginengine.config import protocol_from_dict
from marginengine.decisions import Code
from marginengine.engine import (
    DriftDeposit,
    DriftLiquidatePerp,
    DriftPerpTrade,
    DriftWithdraw,
    Engine,
    Event,
    SetPrice,
)
from marginengine.engine.family_state import DriftBook, drift_margin
from marginengine.errors import ConfigError
from marginengine.fixedpoint import PRICE_UNIT
from marginengine.liquidation.drift import perp_if_fee
from marginengine.margin.drift import MarginRequirementType

USDC, BASE = 10**6, 10**9
MAINT = MarginRequirementType.MAINTENANCE


def engine_of(**perp: Any) -> Engine:
    # Drift's test market: margin ratios 10% / 5%, liquidator and IF fees 1%, step 0.01;
    # USDC weights 1 (quote market). Positive PnL counts fully on the initial side here so
    # the account can be opened by events (Drift's test writes the position directly).
    perp_cfg = {"margin_ratio_initial": "0.1", "margin_ratio_maintenance": "0.05",
                "liquidator_fee": "0.01", "if_liquidation_fee": "0.01",
                "order_step_size": 10_000_000, "unrealized_pnl_initial_asset_weight": "1",
                **perp}
    one = {"initial_asset_weight": "1", "maintenance_asset_weight": "1",
           "initial_liability_weight": "1", "maintenance_liability_weight": "1"}
    return Engine(protocol_from_dict({"preset": "drift-v2", "markets": {
        "USDC": {"decimals": 6, "collateral": False, "borrowable": False},
        "SOL-PERP": {"decimals": 9, "collateral": False, "borrowable": False},
        "ETH-PERP": {"decimals": 9, "collateral": False, "borrowable": False}},
        "drift": {"quote": "USDC", "spot": {"USDC": one},
                  "perps": {"SOL-PERP": perp_cfg, "ETH-PERP": perp_cfg},
                  "liquidation_margin_buffer_ratio": "0.02"}}))


def applied(engine: Engine, *events: Event) -> dict[str, Any]:
    details: dict[str, Any] = {}
    for event in events:
        out = engine.apply(event)
        assert out.accepted, (event, out.code, out.reason)
        details = dict(out.details)
    return details


def book_of(engine: Engine) -> DriftBook:
    book = engine.state.family
    assert isinstance(book, DriftBook)
    return book


def setup(engine: Engine, base: int = 2 * BASE, liquidator_usdc: int = 50 * USDC) -> None:
    # Drift's user: 5 USDC and long 2 SOL-PERP for 200 USDC; liquidator: 50 USDC. The
    # position is opened at 150 (PnL +100 counts), then SOL-PERP falls to Drift's 100.
    applied(engine, SetPrice("USDC", PRICE_UNIT), SetPrice("SOL-PERP", 150 * PRICE_UNIT),
            DriftDeposit("u", "USDC", 5 * USDC),
            DriftPerpTrade("u", "SOL-PERP", base, -200 * USDC))
    if liquidator_usdc:
        applied(engine, DriftDeposit("k", "USDC", liquidator_usdc))


def test_if_fee_of_drifts_suite():
    # calculate_perp_if_fee::test: shortage 20, price 100, liquidator fee 1%, ratio 5%,
    # 10 base, max IF fee 5%.
    args = dict(user_base_asset_amount=10 * BASE, margin_ratio=500, liquidator_fee=10_000,
                oracle_price=100 * USDC, quote_oracle_price=USDC,
                max_if_liquidation_fee=50_000)
    assert perp_if_fee(20 * USDC, **args) == 19_000          # 2% x .95
    assert perp_if_fee(USDC, **args) == 37_050               # 3.9% x .95
    assert perp_if_fee(1000 * USDC, **args) == 0
    assert perp_if_fee(20 * USDC, **{**args, "liquidator_fee": 100_000}) == 0
    assert perp_if_fee(20 * USDC, **{**args, "oracle_price": 0}) == 0
    assert perp_if_fee(20 * USDC, **{**args, "quote_oracle_price": 0}) == 0
    assert perp_if_fee(20 * USDC, **{**args, "user_base_asset_amount": 0}) == 0


def test_liquidation_covers_the_margin_shortage_as_drifts_suite():
    engine = engine_of()
    setup(engine)
    out = engine.apply(DriftLiquidatePerp("k", "u", "SOL-PERP"))
    assert (out.accepted, out.code) == (False, Code.DRIFT_SUFFICIENT_COLLATERAL)
    applied(engine, SetPrice("SOL-PERP", 100 * PRICE_UNIT))
    before = book_of(engine)
    # Shortage: 10 + 200 x 2% buffer = 14 against 5 -> 9; ratio 5% + 2% = 7%; IF fee
    # min(1%, (7% - 1% - 9/200) x .95 = 1.425%) = 1%; base 9 / (100 x (7% - 1%) - 100 x 1%)
    # = 1.8 (successful_liquidation_to_cover_margin_shortage).
    d = applied(engine, DriftLiquidatePerp("k", "u", "SOL-PERP", 10 * BASE))
    assert (d["margin_shortage"], d["to_cover"], d["base_transfer"]) == (
        9 * USDC, 1_800_000_000, 1_800_000_000)
    assert (d["quote_transfer"], d["liquidator_fee"], d["if_fee"]) == (
        180 * USDC, 1_800_000, 1_800_000)
    after = book_of(engine)
    # Drift's asserted figures: user 200000000 / -23600000, liquidator 1800000000 /
    # -178200000, amm.total_liquidation_fee 1800000.
    assert after.account("u").perps["SOL-PERP"] == (200_000_000, -23_600_000)
    assert after.account("k").perps["SOL-PERP"] == (1_800_000_000, -178_200_000)
    assert after.liquidation_fees == {"SOL-PERP": 1_800_000}
    # "user out of liq territory": total collateral == requirement plus buffer (1.4), a
    # 7% margin ratio on the 20 USDC left.
    calc = drift_margin(engine.config, after, engine.prices, "u", MAINT, 200)
    assert (calc.total_collateral, calc.margin_requirement_plus_buffer) == (1_400_000,
                                                                            1_400_000)
    # Conservation: base is only moved; quote moved plus the IF fee sums to zero.
    for acct in ("u", "k"):
        assert after.account(acct).spot == before.account(acct).spot
    pos = [(before.account(a).perps.get("SOL-PERP", (0, 0)),
            after.account(a).perps["SOL-PERP"]) for a in ("u", "k")]
    assert sum(b1 - b0 for (b0, _), (b1, _) in pos) == 0
    assert sum(q1 - q0 for (_, q0), (_, q1) in pos) + 1_800_000 == 0


def test_liquidator_maximum_bounds_the_transfer():
    engine = engine_of()
    setup(engine)
    applied(engine, SetPrice("SOL-PERP", 100 * PRICE_UNIT))
    # 1.005 floors to the 0.01 step: 1.0 SOL at 100, fees 1 + 1 USDC.
    d = applied(engine, DriftLiquidatePerp("k", "u", "SOL-PERP", 1_005_000_000))
    assert (d["base_transfer"], d["quote_transfer"], d["if_fee"]) == (BASE, 100 * USDC,
                                                                      USDC)
    assert book_of(engine).account("u").perps["SOL-PERP"] == (BASE, -102 * USDC)
    assert engine.is_liquidatable("u")


def test_refusals_carry_drifts_error_names_and_change_nothing():
    engine = engine_of()
    setup(engine)
    applied(engine, SetPrice("SOL-PERP", 100 * PRICE_UNIT), DriftDeposit("v", "USDC", USDC),
            DriftWithdraw("v", "USDC", USDC))
    book = engine.state.family
    cases: list[tuple[Event, Code]] = [
        (DriftLiquidatePerp("u", "u", "SOL-PERP"), Code.DRIFT_USER_CANT_LIQUIDATE_THEMSELF),
        (DriftLiquidatePerp("k", "u", "BTC-PERP"), Code.UNKNOWN_MARKET),
        (DriftLiquidatePerp("k", "u", "SOL-PERP", 0), Code.INVALID_AMOUNT),
        (DriftLiquidatePerp("u", "k", "SOL-PERP"), Code.DRIFT_SUFFICIENT_COLLATERAL),
        # below the step size (0.01 SOL)
        (DriftLiquidatePerp("k", "u", "SOL-PERP", 9_999_999),
         Code.DRIFT_INVALID_BASE_ASSET_AMOUNT_FOR_LIQUIDATE_PERP),
        # a liquidator with nothing cannot take the position over
        (DriftLiquidatePerp("z", "u", "SOL-PERP"), Code.DRIFT_INSUFFICIENT_COLLATERAL),
    ]
    for event, code in cases:
        out = engine.apply(event)
        assert (out.accepted, out.code) == (False, code), (event, out.reason)
    assert engine.state.family is book


def test_whole_small_position_then_position_checks():
    # 0.4 SOL-PERP for 60 USDC opened at 200 with 1 USDC; at 100 it is worth 40 <= $50,
    # so the whole position goes. Total collateral 1 + 40 - 60 = -19, its buffer 2% of the
    # -20 PnL (add_cross_margin_total_collateral): shortage (2 + 0.8) - (-19 - 0.4) = 22.2;
    # the IF fee saturates to 0 (22.2 / 40 > 7% - 1%).
    engine = engine_of()
    applied(engine, SetPrice("USDC", PRICE_UNIT), SetPrice("SOL-PERP", 200 * PRICE_UNIT),
            SetPrice("ETH-PERP", 100 * PRICE_UNIT), DriftDeposit("u", "USDC", USDC),
            DriftPerpTrade("u", "SOL-PERP", 400_000_000, -60 * USDC),
            DriftDeposit("k", "USDC", 50 * USDC), SetPrice("SOL-PERP", 100 * PRICE_UNIT))
    d = applied(engine, DriftLiquidatePerp("k", "u", "SOL-PERP"))
    assert (d["margin_shortage"], d["if_fee"], d["base_transfer"]) == (22_200_000, 0,
                                                                        400_000_000)
    assert d["to_cover"] == 3_700_000_000   # 22.2 / (100 x 6%)
    assert book_of(engine).account("u").perps["SOL-PERP"] == (0, -20_400_000)
    assert book_of(engine).account("k").perps["SOL-PERP"] == (400_000_000, -39_600_000)
    book = engine.state.family
    out = engine.apply(DriftLiquidatePerp("k", "u", "SOL-PERP"))
    assert (out.accepted, out.code) == (
        False, Code.DRIFT_POSITION_DOESNT_HAVE_OPEN_POSITION_OR_ORDERS)
    out = engine.apply(DriftLiquidatePerp("k", "u", "ETH-PERP"))
    assert (out.accepted, out.code) == (False, Code.DRIFT_USER_HAS_NO_POSITION_IN_MARKET)
    assert engine.state.family is book
    # A position off the step size: 2.005 SOL leaves 0.205 after 1.8 -> InvalidPerpPosition.
    engine = engine_of()
    setup(engine, base=2_005_000_000)
    applied(engine, SetPrice("SOL-PERP", 100 * PRICE_UNIT))
    out = engine.apply(DriftLiquidatePerp("k", "u", "SOL-PERP"))
    assert (out.accepted, out.code) == (False, Code.DRIFT_INVALID_PERP_POSITION)


def test_config_is_checked_and_events_replay_to_the_same_hash(tmp_path: Path):
    with pytest.raises(ConfigError, match=r"liquidation_margin_buffer_ratio"):
        protocol_from_dict({"preset": "drift-v2", "drift": {
            "quote": "USDC", "liquidation_margin_buffer_ratio": "0", "spot": {"USDC": {
                "initial_asset_weight": "1", "maintenance_asset_weight": "1",
                "initial_liability_weight": "1", "maintenance_liability_weight": "1"}}}})
    with pytest.raises(ConfigError, match=r"order_step_size"):
        engine_of(order_step_size=0)
    cfg = engine_of().config
    path = tmp_path / "events.sqlite"
    e = Engine.with_log(cfg, path)
    events: list[Event] = [
        SetPrice("USDC", PRICE_UNIT), SetPrice("SOL-PERP", 150 * PRICE_UNIT),
        DriftDeposit("u", "USDC", 5 * USDC), DriftPerpTrade("u", "SOL-PERP", 2 * BASE,
                                                           -200 * USDC),
        DriftDeposit("k", "USDC", 50 * USDC), SetPrice("SOL-PERP", 100 * PRICE_UNIT),
        DriftLiquidatePerp("k", "u", "SOL-PERP", 10 * BASE)]
    for ev in events:
        assert e.apply(ev).accepted
    expected = e.state_hash()
    e.close()
    replayed, report = Engine.replay(path)
    assert report.state_hash == expected == replayed.state_hash()
    assert book_of(replayed).liquidation_fees == {"SOL-PERP": 1_800_000}
