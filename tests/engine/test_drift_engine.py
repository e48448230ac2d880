"""Drift v2 inside the engine: preset drift-v2, Drift* events through the core's handler
table, margin through the one margin interface, ``InsufficientCollateral`` /
``SufficientCollateral`` refusals, the spot liquidation that transfers the liability
covering the margin shortage, the log and replay.

The figures are Drift's own tests (drift-labs/protocol-v2 at
0ae3e3b1db782a6765c3525b3dec38ad4d9d3a62): ``programs/drift/src/math/margin/tests.rs``
(``spot_market_asset_weight``, ``calculate_user_equity_value_tests``) and
``programs/drift/src/math/liquidation/tests.rs``
(``calculate_liability_transfer_to_cover_margin_shortage``: ``zero_asset_and_liability_fee``
250000000, ``ten_percent_asset_and_liability_fee`` 449984250), as tests/margin/
test_drift_spot.py and tests/liquidation/test_drift_liquidation.py reproduce them with the
pure rules; here the accounts are built by events.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from marginengine.config import protocol_from_dict
from marginengine.decisions import Code
from marginengine.engine import (
    Deposit,
    DriftDeposit,
    DriftLiquidateSpot,
    DriftPerpTrade,
    DriftWithdraw,
    Engine,
    Event,
    SetPrice,
)
from marginengine.engine.family_state import DriftBook, drift_margin
from marginengine.errors import ConfigError
from marginengine.fixedpoint import PRICE_UNIT
from marginengine.margin import MarginKind
from marginengine.margin.drift import MarginRequirementType

INITIAL, MAINT = MarginRequirementType.INITIAL, MarginRequirementType.MAINTENANCE
USDC, SOL = 10**6, 10**9


def spot(initial: str, maint: str, liab_initial: str = "1", liab_maint: str = "1",
         **more: Any) -> dict[str, Any]:
    return {"initial_asset_weight": initial, "maintenance_asset_weight": maint,
            "initial_liability_weight": liab_initial, "maintenance_liability_weight": liab_maint,
            **more}


def engine_of(spots: dict[str, dict[str, Any]], perps: dict[str, dict[str, Any]] | None = None,
              decimals: dict[str, int] | None = None) -> Engine:
    decimals = decimals or {}
    markets = {n: {"decimals": decimals.get(n, 6), "collateral": False, "borrowable": False}
               for n in spots}
    markets.update({n: {"decimals": 9, "collateral": False, "borrowable": False}
                    for n in perps or {}})
    return Engine(protocol_from_dict({"preset": "drift-v2", "markets": markets, "drift": {
        "quote": next(iter(spots)), "spot": spots, "perps": perps or {}}}))


def applied(engine: Engine, *events: Event) -> dict[str, Any]:
    details: dict[str, Any] = {}
    for event in events:
        out = engine.apply(event)
        assert out.accepted, (event, out.code, out.reason)
        details = dict(out.details)
    return details


def calc(engine: Engine, account: str, kind: MarginRequirementType) -> tuple[int, int]:
    book = engine.state.family
    assert isinstance(book, DriftBook)
    c = drift_margin(engine.config, book, engine.prices, account, kind)
    return c.total_collateral, c.margin_requirement


def test_spot_size_discount_and_premium_of_drifts_suite():
    # spot_market_asset_weight: 1,000 of a 6-decimal token at 1 with imf_factor 10,000
    # (0.01): asset weight 8357, liability weight 11962 (initial 0.9 / 1.1).
    engine = engine_of({"USDC": spot("1", "1"),
                        "X": spot("0.9", "0.9", "1.1", "1.1", imf_factor="0.01")})
    applied(engine, SetPrice("USDC", PRICE_UNIT), SetPrice("X", PRICE_UNIT),
            DriftDeposit("a", "X", 1_000 * USDC))
    assert calc(engine, "a", INITIAL) == (835_700_000, 0)
    applied(engine, DriftDeposit("b", "USDC", 2_000 * USDC), DriftWithdraw("b", "X", 1_000 * USDC))
    assert calc(engine, "b", INITIAL) == (2_000 * USDC, 1_196_200_000)


def test_perp_requirement_with_imf_premium_and_the_initial_pnl_cap_of_drifts_suite():
    # calculate_user_equity_value_tests: margin_ratio_initial 1000, imf_factor 1000, a short
    # of 12295081967 / 2 base at 22,050 with quote 153688524588: pmr 13555327867 and the
    # unrealized PnL counted at most 100 USDC initially; at 21,050 pmr 12940573769.
    engine = engine_of({"USDC": spot("1", "1")}, {"BTC-PERP": {
        "margin_ratio_initial": "0.1", "margin_ratio_maintenance": "0.05",
        "imf_factor": "0.001", "unrealized_pnl_initial_asset_weight": "1",
        "unrealized_pnl_maintenance_asset_weight": "1", "unrealized_pnl_imf_factor": "0.001"}})
    applied(engine, SetPrice("USDC", PRICE_UNIT), SetPrice("BTC-PERP", 22_050 * PRICE_UNIT),
            DriftDeposit("a", "USDC", 20_000 * USDC),
            DriftPerpTrade("a", "BTC-PERP", -(12_295_081_967 // 2), 153_688_524_588))
    assert calc(engine, "a", INITIAL) == (20_000 * USDC + 100_000_000, 13_555_327_867)
    state = engine.margin_state("a", MarginKind.INITIAL)
    assert (state.value, state.requirement) == ((20_000 * USDC + 100_000_000) * 100,
                                                13_555_327_867 * 100)
    applied(engine, SetPrice("BTC-PERP", 21_050 * PRICE_UNIT))
    assert calc(engine, "a", INITIAL)[1] == 12_940_573_769


@pytest.mark.parametrize(("fee", "to_cover", "asset_transfer"), [
    # The math tests' case (zero_asset_and_liability_fee: 0.25 SOL for a $10 shortage at
    # weight 1.2) with liquidate_spot's buffer (the preset's 2%): the shortage is 10 + 2% x
    # 100 = 12 against the weight 1.2 + 0.02: 12 / (100 x (1.22 - 0.8)) = 0.285714285 SOL,
    # 28.571428 USDC for it. (Before the spot liquidation read the buffer: 0.25 SOL, 25.)
    ("0", 285_714_285, 28_571_428),
    # ten_percent_asset_and_liability_fee likewise: 12 / (100 x (1.22 x 0.9 - 0.8 x 1.1))
    # = 0.495396936 SOL; the asset paid is liability x 100 x 1.1 / 0.9
    # (calculate_asset_transfer_for_liability_transfer): 60.548514 USDC. (Was 0.44998425
    # SOL for 54.998075.)
    ("0.1", 495_396_936, 60_548_514),
])
def test_spot_liquidation_transfers_the_liability_covering_the_shortage(
        fee: str, to_cover: int, asset_transfer: int):
    # Asset weight 0.8 (USDC at 1), liability weight 1.2 (SOL, 9 decimals, at 100): 137.5
    # USDC against 1 SOL borrowed at 90 (initial 110 >= 108); SOL at 100: maintenance
    # 110 < 120, a $10 shortage, 12 with the buffer on the 100 of liability
    # (controller/liquidation.rs liquidate_spot: MarginContext::liquidation, the liability
    # weight plus liquidation_margin_buffer_ratio).
    engine = engine_of({"USDC": spot("0.8", "0.8", liquidator_fee=fee),
                        "SOL": spot("0.8", "0.8", "1.2", "1.2", liquidator_fee=fee)},
                       decimals={"SOL": 9})
    applied(engine, SetPrice("USDC", PRICE_UNIT), SetPrice("SOL", 90 * PRICE_UNIT),
            DriftDeposit("a", "USDC", 137_500_000), DriftWithdraw("a", "SOL", SOL),
            DriftDeposit("keeper", "USDC", 1_000 * USDC))
    out = engine.apply(DriftLiquidateSpot("keeper", "a", "USDC", "SOL"))
    assert (out.accepted, out.code) == (False, Code.DRIFT_SUFFICIENT_COLLATERAL)
    applied(engine, SetPrice("SOL", 100 * PRICE_UNIT))
    assert engine.is_liquidatable("a")
    assert calc(engine, "a", MAINT) == (110 * USDC, 120 * USDC)
    d = applied(engine, DriftLiquidateSpot("keeper", "a", "USDC", "SOL"))
    assert (d["margin_shortage"], d["to_cover"]) == (12 * USDC, to_cover)
    assert (d["liability_transfer"], d["asset_transfer"]) == (to_cover, asset_transfer)
    book = engine.state.family
    assert isinstance(book, DriftBook)
    assert book.account("keeper").spot == {"USDC": 1_000 * USDC + asset_transfer,
                                           "SOL": -to_cover}
    # Without fees the transfer restores the account to its requirement plus the buffer
    # (87.142857 against 85.714286 + 2% of 71.43), as Drift's "out of liq territory".
    if fee == "0":
        assert calc(engine, "a", MAINT) == (87_142_857, 85_714_286)
        after = drift_margin(engine.config, book, engine.prices, "a", MAINT, 200)
        assert after.margin_requirement_plus_buffer == after.total_collateral == 87_142_857
        assert not engine.is_liquidatable("a")


def test_refusals_carry_drifts_error_names_and_change_nothing():
    engine = engine_of({"USDC": spot("0.8", "0.8"), "SOL": spot("0.8", "0.8", "1.2", "1.2")},
                       decimals={"SOL": 9})
    applied(engine, SetPrice("USDC", PRICE_UNIT), SetPrice("SOL", 100 * PRICE_UNIT),
            DriftDeposit("a", "USDC", 150 * USDC))
    book = engine.state.family
    cases: list[tuple[Event, Code]] = [
        (DriftWithdraw("a", "SOL", SOL + 1), Code.DRIFT_INSUFFICIENT_COLLATERAL),
        (DriftWithdraw("a", "USDC", 151 * USDC), Code.DRIFT_INSUFFICIENT_COLLATERAL),
        (DriftLiquidateSpot("a", "a", "USDC", "SOL"), Code.DRIFT_USER_CANT_LIQUIDATE_THEMSELF),
        (DriftLiquidateSpot("k", "a", "USDC", "XYZ"), Code.UNKNOWN_MARKET),
        (DriftPerpTrade("a", "BTC-PERP", 1, 0), Code.UNKNOWN_MARKET),
        (DriftDeposit("a", "USDC", 0), Code.INVALID_AMOUNT),
        (Deposit("a", "USDC", 1), Code.EVENT_NOT_SUPPORTED),
    ]
    for event, code in cases:
        out = engine.apply(event)
        assert (out.accepted, out.code) == (False, code), event
    assert engine.state.family is book
    # 0.8 x 150 = 120 covers 1 SOL x 100 x 1.2 exactly (meets: >=).
    applied(engine, DriftWithdraw("a", "SOL", SOL // 2), DriftWithdraw("a", "SOL", SOL // 2))
    applied(engine, SetPrice("SOL", 101 * PRICE_UNIT))
    out = engine.apply(DriftLiquidateSpot("k", "a", "SOL", "USDC"))
    assert out.code == Code.DRIFT_INVALID_SPOT_POSITION
    # A liquidator with nothing cannot take the borrow over.
    out = engine.apply(DriftLiquidateSpot("k", "a", "USDC", "SOL"))
    assert (out.accepted, out.code) == (False, Code.DRIFT_INSUFFICIENT_COLLATERAL)
    assert "liquidator k" in (out.reason or "")


def test_config_is_checked_and_events_replay_to_the_same_hash(tmp_path: Path):
    with pytest.raises(ConfigError, match=r"initial_liability_weight: must be at least 1"):
        engine_of({"USDC": spot("1", "1", "0.9")})
    with pytest.raises(ConfigError, match=r"markets\.P\.decimals: a Drift perp's base has 9"):
        protocol_from_dict({"preset": "drift-v2", "markets": {
            "USDC": {"decimals": 6, "collateral": False},
            "P": {"decimals": 6, "collateral": False}}, "drift": {
                "quote": "USDC", "spot": {"USDC": spot("1", "1")},
                "perps": {"P": {"margin_ratio_initial": "0.1",
                                "margin_ratio_maintenance": "0.05"}}}})
    cfg = protocol_from_dict({"preset": "drift-v2"})
    path = tmp_path / "events.sqlite"
    e = Engine.with_log(cfg, path)
    events: list[Event] = [
        SetPrice("USDC", PRICE_UNIT), SetPrice("SOL", 150 * PRICE_UNIT),
        SetPrice("BTC-PERP", 60_000 * PRICE_UNIT), DriftDeposit("t", "SOL", 200 * SOL),
        DriftPerpTrade("t", "BTC-PERP", -SOL, 60_000 * USDC),
        DriftWithdraw("t", "USDC", 10_000 * USDC), DriftWithdraw("t", "USDC", 10**12),
        SetPrice("SOL", 100 * PRICE_UNIT), DriftDeposit("k", "USDC", 10**11),
        DriftLiquidateSpot("k", "t", "SOL", "USDC")]
    for ev in events:
        e.apply(ev)
    expected = e.state_hash()
    e.close()
    replayed, report = Engine.replay(path)
    assert report.state_hash == expected == replayed.state_hash()
    assert report.events == len(events)


@pytest.mark.parametrize(("outside", "weight"), [
    (0, 9_000), (19_999, 9_000), (39_999, 4_500), (59_999, 3_000)])
def test_scaled_initial_asset_weight_of_drifts_suite_through_the_engine(outside: int,
                                                                         weight: int):
    # math/margin/tests.rs spot_market_scale_initial_asset_weight: SOL (9 decimals) at 25,
    # initial weight 9000, scale_initial_asset_weight_start 500,000 USD; market deposits of
    # 1, 20,000, 40,000 and 60,000 SOL give 9000, 9000, 4500 and 3000. Here the market's
    # deposits are the configured outside ones plus the engine account's 1 SOL. (Before,
    # the engine built SpotMarket without the deposits: always 9000.)
    engine = engine_of({"USDC": spot("1", "1"),
                        "SOL": spot("0.9", "0.9", "1.1", "1.1",
                                    scale_initial_asset_weight_start="500000",
                                    deposits=str(outside))},
                       decimals={"SOL": 9})
    applied(engine, SetPrice("USDC", PRICE_UNIT), SetPrice("SOL", 25 * PRICE_UNIT),
            DriftDeposit("a", "SOL", SOL))
    # 1 SOL x 25 USD x weight / 1e4, in quote (1e6); maintenance is not scaled.
    assert calc(engine, "a", INITIAL) == (25 * USDC * weight // 10_000, 0)
    assert calc(engine, "a", MAINT) == (25 * USDC * 9 // 10, 0)


def test_scaled_initial_asset_weight_limits_a_borrow_as_deposits_grow():
    # The same market with 39,999 SOL outside: 1 SOL's initial collateral is 11.25 USDC
    # (weight 4500), so an 11.25 USDC borrow passes and 11.250001 is refused; without the
    # outside deposits (weight 9000) 22.5 USDC would pass.
    def market(outside: str) -> Engine:
        e = engine_of({"USDC": spot("1", "1"),
                       "SOL": spot("0.9", "0.9", "1.1", "1.1",
                                   scale_initial_asset_weight_start="500000",
                                   deposits=outside)},
                      decimals={"SOL": 9})
        applied(e, SetPrice("USDC", PRICE_UNIT), SetPrice("SOL", 25 * PRICE_UNIT),
                DriftDeposit("lp", "USDC", 1_000 * USDC), DriftDeposit("a", "SOL", SOL))
        return e

    e = market("39999")
    out = e.apply(DriftWithdraw("a", "USDC", 11_250_001))
    assert (out.accepted, out.code) == (False, Code.DRIFT_INSUFFICIENT_COLLATERAL)
    applied(e, DriftWithdraw("a", "USDC", 11_250_000))
    applied(market("0"), DriftWithdraw("a", "USDC", 22_500_000))


@pytest.mark.parametrize(("field", "value", "message"), [
    ("deposits", "0.0000000001", "drift.spot.SOL.deposits: more decimals than the token's 9"),
    ("deposits", "-1", "deposits"),
    ("scale_initial_asset_weight_start", "0.0000001", "scale_initial_asset_weight_start"),
])
def test_scaled_weight_inputs_are_checked(field: str, value: str, message: str):
    with pytest.raises(ConfigError) as err:
        engine_of({"USDC": spot("1", "1"),
                   "SOL": spot("0.9", "0.9", "1.1", "1.1", **{field: value})},
                  decimals={"SOL": 9})
    assert message in str(err.value)
