"""Drift v2's gradual liquidation through the engine: ``liquidate_spot`` over slots, on the
account of Drift's own controller test.

Source: drift-labs/protocol-v2@0ae3e3b1db782a6765c3525b3dec38ad4d9d3a62,
``programs/drift/src/controller/liquidation/tests.rs``, module ``liquidate_spot``, test
``liquidate_over_multiple_slots``; the rules are ``controller/liquidation.rs``
``liquidate_spot`` and ``math/liquidation.rs`` ``calculate_max_pct_to_liquidate``. Its
state: ``initial_pct_to_liquidate`` 10%, ``liquidation_duration`` 150 slots, buffer 2%; its
markets: USDC (weights 1) and SOL at 100 (6 decimals, asset weights 0.8 / 0.9, liability
weights 1.2 / 1.1, liquidator and insurance fees 0.1%); the user: 1,050 USDC against 10
SOL; each call takes at most 10 SOL, at slots 1, 51 and 136. Here a slot is a second
(``slot_ms = 1000``) so the engine's clock gives those slots. Drift's tests write scaled
balances (1e9, so a 6-decimal token's is its amount x 1000; a borrow's rounds up): the
figures below are their token amounts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from marginengine.config import protocol_from_dict
from marginengine.decisions import Code
from marginengine.engine import (
    AdvanceTime,
    DriftDeposit,
    DriftLiquidatePerp,
    DriftLiquidatePerpPnlForDeposit,
    DriftLiquidateSpot,
    DriftPerpTrade,
    DriftWithdraw,
    Engine,
    Event,
    SetPrice,
)
from marginengine.engine.family_state import (
    DriftAccount,
    DriftBook,
    DriftLiquidation,
    drift_margin,
)
from marginengine.errors import ConfigError
from marginengine.fixedpoint import PRICE_UNIT
from marginengine.margin.drift import MarginRequirementType

USDC = SOL = 10**6


def engine_of(initial_pct: str = "0.1", duration: int = 150) -> Engine:
    one = {"initial_asset_weight": "1", "maintenance_asset_weight": "1",
           "initial_liability_weight": "1", "maintenance_liability_weight": "1"}
    sol = {"initial_asset_weight": "0.8", "maintenance_asset_weight": "0.9",
           "initial_liability_weight": "1.2", "maintenance_liability_weight": "1.1",
           "liquidator_fee": "0.001", "if_liquidation_fee": "0.001"}
    return Engine(protocol_from_dict({"preset": "drift-v2", "markets": {
        "USDC": {"decimals": 6, "collateral": False, "borrowable": False},
        "SOL": {"decimals": 6, "collateral": False, "borrowable": False}},
        "drift": {"quote": "USDC", "spot": {"USDC": one, "SOL": sol},
                  "liquidation_margin_buffer_ratio": "0.02",
                  "initial_pct_to_liquidate": initial_pct,
                  "liquidation_duration": duration, "slot_ms": 1000}}))


def applied(engine: Engine, *events: Event) -> dict[str, Any]:
    details: dict[str, Any] = {}
    for event in events:
        out = engine.apply(event)
        assert out.accepted, (event, out.code, out.reason)
        details = dict(out.details)
    return details


def book(engine: Engine) -> DriftBook:
    family = engine.state.family
    assert isinstance(family, DriftBook)
    return family


def underwater(engine: Engine) -> None:
    """1,050 USDC against 10 SOL borrowed at 50 (initial margin holds), then SOL at 100;
    the liquidator holds 1,000 USDC; the clock at slot 1."""
    applied(engine, SetPrice("USDC", PRICE_UNIT), SetPrice("SOL", 50 * PRICE_UNIT),
            DriftDeposit("u", "USDC", 1050 * USDC), DriftWithdraw("u", "SOL", 10 * SOL),
            DriftDeposit("k", "USDC", 1000 * USDC), SetPrice("SOL", 100 * PRICE_UNIT),
            AdvanceTime(1))


def pct_freed(engine: Engine) -> int:
    """The test's ``pct_margin_freed``: freed / (shortage now + freed), 1e6."""
    calc = drift_margin(engine.config, book(engine), engine.prices, "u",
                        MarginRequirementType.MAINTENANCE, 200)
    freed = book(engine).liquidations["u"].margin_freed
    return freed * 10**6 // (calc.margin_shortage + freed)


def test_liquidate_spot_when_over_multiple_slots_then_drifts_balances_and_freed_margin():
    engine = engine_of()
    underwater(engine)
    # slot 1: the liquidation starts; 10% of the 70 USDC shortage may be freed at once
    d = applied(engine, DriftLiquidateSpot("k", "u", "USDC", "SOL", 10 * SOL))
    assert (d["slot"], d["max_pct"], d["margin_shortage"]) == (1, 1_000, 70 * USDC)
    assert book(engine).liquidations["u"] == DriftLiquidation(1, 7_000_031)
    assert book(engine).account("u").spot == {"USDC": 990_558_159, "SOL": -9_406_769}
    assert pct_freed(engine) == 100_000                                    # ~10%
    # slot 51: 10% + 50 / 150 of the shortage at the start
    applied(engine, AdvanceTime(50))
    d = applied(engine, DriftLiquidateSpot("k", "u", "USDC", "SOL", 10 * SOL))
    assert d["slot"] == 51 and not d["exited_liquidation"]
    assert book(engine).liquidations["u"] == DriftLiquidation(1, 30_328_714)
    assert book(engine).account("u").spot == {"USDC": 792_456_458, "SOL": -7_429_712}
    assert pct_freed(engine) == 433_267                                    # ~43.3%
    # slot 136: 10% + 135 / 150 is all of it: the transfer covers the shortage, the
    # liquidation ends (Drift: status 0, margin freed 0)
    applied(engine, AdvanceTime(85))
    d = applied(engine, DriftLiquidateSpot("k", "u", "USDC", "SOL", 10 * SOL))
    assert d["slot"] == 136 and d["exited_liquidation"]
    assert "u" not in book(engine).liquidations
    assert book(engine).account("u").spot == {"USDC": 455_580_082, "SOL": -4_067_682}


def test_liquidate_spot_when_drifts_initialize_state_then_all_at_once():
    # Drift's initialize (instructions/admin.rs): initial_pct_to_liquidate 0,
    # liquidation_duration 0; the division by 0 lets all of it go at the first slot,
    # which is the slot-136 transfer of the test above made in one call.
    engine = engine_of("0", 0)
    underwater(engine)
    d = applied(engine, DriftLiquidateSpot("k", "u", "USDC", "SOL", 10 * SOL))
    assert d["max_pct"] == 10_000 and d["exited_liquidation"]
    assert book(engine).liquidations == {}
    assert d["liability_transfer"] >= d["to_cover"]


def test_liquidation_status_when_replayed_then_same_state_hash_and_hashed_only_when_set():
    engine = engine_of()
    underwater(engine)
    before = engine.state_hash()
    replay = engine_of()
    underwater(replay)
    assert replay.state_hash() == before          # no status yet: the hash as before
    assert "liquidations" not in book(engine).state_dict()
    event = DriftLiquidateSpot("k", "u", "USDC", "SOL", 10 * SOL)
    applied(engine, event)
    assert book(engine).state_dict()["liquidations"] == {"u": [1, 7_000_031]}
    applied(replay, event)
    assert replay.state_hash() == engine.state_hash() != before


def test_liquidate_spot_when_in_liquidation_and_above_buffer_then_it_exits():
    # can_exit_cross_margin_liquidation: SOL falling to 90 lifts the account over the
    # requirement plus buffer (990.56 USDC against 9.41 SOL x 90 x (1.1 + 0.02) = 948.2);
    # the next call ends the liquidation and moves nothing. (A deposit would end it
    # itself: handle_deposit, tests/engine/test_drift_user_status.py.)
    engine = engine_of()
    underwater(engine)
    applied(engine, DriftLiquidateSpot("k", "u", "USDC", "SOL", 10 * SOL))
    applied(engine, SetPrice("SOL", 90 * PRICE_UNIT))
    d = applied(engine, DriftLiquidateSpot("k", "u", "USDC", "SOL", 10 * SOL))
    assert d["exited_liquidation"] and d["liability_transfer"] == 0
    assert "u" not in book(engine).liquidations
    out = engine.apply(DriftLiquidateSpot("k", "u", "USDC", "SOL", 10 * SOL))
    assert out.code == Code.DRIFT_SUFFICIENT_COLLATERAL


def test_liquidate_perp_pnl_for_deposit_when_over_multiple_slots_then_drifts_figures():
    # liquidate_perp_pnl_for_deposit::successful_liquidation_over_multiple_slots (same
    # file and commit): 10 SOL deposited against a -950 perp quote (no base; SOL-PERP
    # liquidator fee 1%), the liquidator with 1,000 USDC, at most 200 quote a call, the
    # same state (10%, 150 slots, buffer 2%). Drift: margin freed 6,900,038 then
    # 28,900,058 (~10%, then ~43%), then the liquidation ends (freed 0).
    one = {"initial_asset_weight": "1", "maintenance_asset_weight": "1",
           "initial_liability_weight": "1", "maintenance_liability_weight": "1"}
    sol = {"initial_asset_weight": "0.8", "maintenance_asset_weight": "0.9",
           "initial_liability_weight": "1.2", "maintenance_liability_weight": "1.1",
           "liquidator_fee": "0.001"}
    perp = {"margin_ratio_initial": "0.1", "margin_ratio_maintenance": "0.05",
            "unrealized_pnl_initial_asset_weight": "0.9", "liquidator_fee": "0.01",
            "if_liquidation_fee": "0.01", "order_step_size": 10_000_000}
    engine = Engine(protocol_from_dict({"preset": "drift-v2", "markets": {
        "USDC": {"decimals": 6, "collateral": False, "borrowable": False},
        "SOL": {"decimals": 6, "collateral": False, "borrowable": False},
        "SOL-PERP": {"decimals": 9, "collateral": False, "borrowable": False}},
        "drift": {"quote": "USDC", "spot": {"USDC": one, "SOL": sol},
                  "perps": {"SOL-PERP": perp}, "initial_pct_to_liquidate": "0.1",
                  "liquidation_duration": 150, "slot_ms": 1000}}))
    for asset, price in (("USDC", 1), ("SOL", 100), ("SOL-PERP", 100)):
        applied(engine, SetPrice(asset, price * PRICE_UNIT))
    engine.state.family = DriftBook({
        "u": DriftAccount(spot={"SOL": 10 * SOL}, perps={"SOL-PERP": (0, -950 * USDC)}),
        "k": DriftAccount(spot={"USDC": 1000 * USDC})})
    applied(engine, AdvanceTime(1))
    event = DriftLiquidatePerpPnlForDeposit("k", "u", "SOL-PERP", "SOL", 200 * USDC)
    applied(engine, event)
    assert book(engine).liquidations["u"] == DriftLiquidation(1, 6_900_038)
    assert book(engine).account("u").spot["SOL"] == 9_365_758
    assert book(engine).account("u").perps["SOL-PERP"] == (0, -887_272_728)
    assert pct_freed(engine) == 100_000
    applied(engine, AdvanceTime(50), event)
    assert book(engine).liquidations["u"] == DriftLiquidation(1, 28_900_058)
    assert book(engine).account("u").spot["SOL"] == 7_343_536
    assert book(engine).account("u").perps["SOL-PERP"] == (0, -687_272_728)
    assert pct_freed(engine) == 418_841
    d = applied(engine, AdvanceTime(85),
                DriftLiquidatePerpPnlForDeposit("k", "u", "SOL-PERP", "SOL", 2000 * USDC))
    assert d["exited_liquidation"] and "u" not in book(engine).liquidations


def test_liquidate_perp_when_shortage_under_50_then_all_at_once_and_still_in_liquidation():
    # liquidate_perp::partial_liquidation_oracle_down_20_pct (same file and commit): 10
    # USDC and long 1 SOL-PERP for 100, oracle 80, the state 10% / 150 slots, buffer 2%,
    # up to 10 SOL. The 15.6 shortage is under $50: calculate_max_pct_to_liquidate lets
    # all of it go at once; the whole position cannot cover it, so the account stays in
    # liquidation. Drift: base 0, last_active_slot 1, liquidation_margin_freed 4,784,000.
    perp = {"margin_ratio_initial": "0.1", "margin_ratio_maintenance": "0.05",
            "liquidator_fee": "0.01", "if_liquidation_fee": "0.01",
            "order_step_size": 10_000_000, "unrealized_pnl_initial_asset_weight": "1"}
    one = {"initial_asset_weight": "1", "maintenance_asset_weight": "1",
           "initial_liability_weight": "1", "maintenance_liability_weight": "1"}
    engine = Engine(protocol_from_dict({"preset": "drift-v2", "markets": {
        "USDC": {"decimals": 6, "collateral": False, "borrowable": False},
        "SOL-PERP": {"decimals": 9, "collateral": False, "borrowable": False}},
        "drift": {"quote": "USDC", "spot": {"USDC": one}, "perps": {"SOL-PERP": perp},
                  "liquidation_margin_buffer_ratio": "0.02", "initial_pct_to_liquidate": "0.1",
                  "liquidation_duration": 150, "slot_ms": 1000}}))
    applied(engine, SetPrice("USDC", PRICE_UNIT), SetPrice("SOL-PERP", 100 * PRICE_UNIT),
            DriftDeposit("u", "USDC", 10 * USDC),
            DriftPerpTrade("u", "SOL-PERP", 10**9, -100 * USDC),
            DriftDeposit("k", "USDC", 50 * USDC), SetPrice("SOL-PERP", 80 * PRICE_UNIT),
            AdvanceTime(1))
    d = applied(engine, DriftLiquidatePerp("k", "u", "SOL-PERP", 10 * 10**9))
    assert d["max_pct"] == 10_000 and d["base_transfer"] == 10**9
    assert d["liquidator_fee_rate"] == 10_000          # the base fee: within the grace
    assert book(engine).account("u").perps["SOL-PERP"][0] == 0
    assert book(engine).liquidations["u"] == DriftLiquidation(1, 4_784_000)


def test_liquidate_perp_when_long_in_liquidation_then_the_fee_rises_by_slot():
    # get_liquidation_fee on the engine's clock (slot_ms 400, the default): a liquidation
    # capped at 0.1 SOL starts at t = 0 (slot 0) and leaves the account in liquidation;
    # at t = 400 s (slot 1,000, within the 1,500-slot grace) the fee is the base 1%; at
    # t = 4,000 s (slot 10,000) it is 1% + 10,000 x 0.01 bps = 2% (its maximum is
    # min(3 x 1%, the 5% maintenance ratio) = 3%): 2% of the 0.1 SOL's 8 USDC = 0.16.
    perp = {"margin_ratio_initial": "0.1", "margin_ratio_maintenance": "0.05",
            "liquidator_fee": "0.01", "order_step_size": 10_000_000,
            "unrealized_pnl_initial_asset_weight": "1"}
    one = {"initial_asset_weight": "1", "maintenance_asset_weight": "1",
           "initial_liability_weight": "1", "maintenance_liability_weight": "1"}
    engine = Engine(protocol_from_dict({"preset": "drift-v2", "markets": {
        "USDC": {"decimals": 6, "collateral": False, "borrowable": False},
        "SOL-PERP": {"decimals": 9, "collateral": False, "borrowable": False}},
        "drift": {"quote": "USDC", "spot": {"USDC": one}, "perps": {"SOL-PERP": perp}}}))
    applied(engine, SetPrice("USDC", PRICE_UNIT), SetPrice("SOL-PERP", 100 * PRICE_UNIT),
            DriftDeposit("u", "USDC", 10 * USDC),
            DriftPerpTrade("u", "SOL-PERP", 10**9, -100 * USDC),
            DriftDeposit("k", "USDC", 50 * USDC), SetPrice("SOL-PERP", 80 * PRICE_UNIT))
    fees = []
    for wait in (0, 400, 3_600):
        if wait:
            applied(engine, AdvanceTime(wait))
        d = applied(engine, DriftLiquidatePerp("k", "u", "SOL-PERP", 10**8))
        fees.append((d["slot"], d["liquidator_fee_rate"], d["liquidator_fee"]))
    assert fees == [(0, 10_000, 80_000), (1_000, 10_000, 80_000), (10_000, 20_000, 160_000)]
    assert book(engine).liquidations["u"].start_slot == 0


@pytest.mark.parametrize(("field", "value"), [
    ("initial_pct_to_liquidate", "1.5"), ("initial_pct_to_liquidate", "0.12345"),
    ("liquidation_duration", 256), ("slot_ms", 0),
    ("liquidation_margin_buffer_ratio", "0.00001"), ("insurance_fund", "0.0000001")])
def test_config_when_gradual_field_is_bad_then_error_names_it(field: str, value: object):
    one = {"initial_asset_weight": "1", "maintenance_asset_weight": "1",
           "initial_liability_weight": "1", "maintenance_liability_weight": "1"}
    # The path ends at the field itself (drift.FIELD: reason), whichever check refuses it:
    # a precision check was "drift: initial_pct_to_liquidate: ..." at the table's path.
    with pytest.raises(ConfigError, match=rf"(^|\s)drift\.{field}: "):
        protocol_from_dict({"preset": "drift-v2", "drift": {
            "quote": "USDC", "spot": {"USDC": one}, field: value}})


def test_liquidation_status_when_replayed_from_the_log_then_same_book(tmp_path: Path):
    path = tmp_path / "events.sqlite"
    engine = Engine.with_log(engine_of().config, path)
    underwater(engine)
    applied(engine, DriftLiquidateSpot("k", "u", "USDC", "SOL", 10 * SOL), AdvanceTime(50),
            DriftLiquidateSpot("k", "u", "USDC", "SOL", 10 * SOL))
    replayed, _ = Engine.replay(path)
    family = replayed.state.family
    assert isinstance(family, DriftBook)
    assert family.liquidations == {"u": DriftLiquidation(1, 30_328_714)}
    assert replayed.state_hash() == engine.state_hash()
