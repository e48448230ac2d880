"""Drift v2 ``liquidate_perp`` through the engine on the accounts of Drift's own controller
tests.

Source: drift-labs/protocol-v2@0ae3e3b1db782a6765c3525b3dec38ad4d9d3a62,
``programs/drift/src/controller/liquidation/tests.rs``, module ``liquidate_perp``:
``successful_liquidation_long_perp``, ``successful_liquidation_short_perp``,
``liquidate_user_with_step_size_position``, ``successful_liquidation_half_of_if_fee`` and
``successful_liquidation_portion_of_if_fee``. Their market: SOL-PERP, margin ratios 10% / 5%,
liquidator and insurance-fund fees 1%, order step 0.01 SOL; USDC of weight 1. Drift's tests
write the positions directly; here each is opened by a ``DriftPerpTrade`` at a price where
its initial margin holds (positive PnL counts at weight 1, at most 100 USDC), then the
oracle moves to the test's price. The open orders of the first two tests are cancelled by
``liquidate_perp`` before it measures the account, so they do not enter.
"""

from __future__ import annotations

from typing import Any

from marginengine.config import protocol_from_dict
from marginengine.engine import (
    DriftDeposit,
    DriftLiquidatePerp,
    DriftPerpTrade,
    Engine,
    Event,
    SetPrice,
)
from marginengine.engine.family_state import DriftBook
from marginengine.fixedpoint import PRICE_UNIT

USDC, BASE = 10**6, 10**9


def engine_of(buffer: str) -> Engine:
    perp = {"margin_ratio_initial": "0.1", "margin_ratio_maintenance": "0.05",
            "liquidator_fee": "0.01", "if_liquidation_fee": "0.01",
            "order_step_size": 10_000_000, "unrealized_pnl_initial_asset_weight": "1"}
    one = {"initial_asset_weight": "1", "maintenance_asset_weight": "1",
           "initial_liability_weight": "1", "maintenance_liability_weight": "1"}
    return Engine(protocol_from_dict({"preset": "drift-v2", "markets": {
        "USDC": {"decimals": 6, "collateral": False, "borrowable": False},
        "SOL-PERP": {"decimals": 9, "collateral": False, "borrowable": False}},
        "drift": {"quote": "USDC", "spot": {"USDC": one}, "perps": {"SOL-PERP": perp},
                  "liquidation_margin_buffer_ratio": buffer}}))


def applied(engine: Engine, *events: Event) -> dict[str, Any]:
    details: dict[str, Any] = {}
    for event in events:
        out = engine.apply(event)
        assert out.accepted, (event, out.code, out.reason)
        details = dict(out.details)
    return details


def liquidated(buffer: str, deposit: int, base: int, quote: int, open_at: int, price: int,
               most: int) -> tuple[Engine, dict[str, Any]]:
    """The user (``deposit`` USDC units, ``base`` SOL-PERP for ``quote``) opened at
    ``open_at`` and liquidated at ``price`` (PRICE_PRECISION, 1e6) by a liquidator with 50
    USDC (50,000 in the last test), at most ``most`` base."""
    engine = engine_of(buffer)
    applied(engine, SetPrice("USDC", PRICE_UNIT), SetPrice("SOL-PERP", open_at * PRICE_UNIT))
    if deposit:
        applied(engine, DriftDeposit("u", "USDC", deposit))
    applied(engine, DriftPerpTrade("u", "SOL-PERP", base, quote),
            DriftDeposit("k", "USDC", (50_000 if abs(base) > 100 * BASE else 50) * USDC),
            SetPrice("SOL-PERP", price * 100))
    return engine, applied(engine, DriftLiquidatePerp("k", "u", "SOL-PERP", most))


def book(engine: Engine) -> DriftBook:
    family = engine.state.family
    assert isinstance(family, DriftBook)
    return family


def test_liquidate_perp_when_long_without_collateral_then_drifts_quotes():
    # successful_liquidation_long_perp: long 1 SOL for 150 USDC, nothing deposited, oracle
    # 100, buffer 0.1%: the whole position goes at 100 less the 1% fee; the IF fee is 0
    # (the shortage is far above what the margin ratio can pay).
    engine, d = liquidated("0.001", 0, BASE, -150 * USDC, 250, 100 * USDC, BASE)
    assert d["if_fee"] == 0
    assert book(engine).account("u").perps["SOL-PERP"] == (0, -51 * USDC)
    assert book(engine).account("k").perps["SOL-PERP"] == (BASE, -99 * USDC)
    assert book(engine).liquidation_fees.get("SOL-PERP", 0) == 0


def test_liquidate_perp_when_short_without_collateral_then_drifts_quotes():
    # successful_liquidation_short_perp: short 1 SOL for +50 USDC at oracle 100: bought
    # back at 101, the user keeps -51, the liquidator +101.
    engine, d = liquidated("0.001", 0, -BASE, 50 * USDC, 40, 100 * USDC, BASE)
    assert d["if_fee"] == 0
    assert book(engine).account("u").perps["SOL-PERP"] == (0, -51 * USDC)
    assert book(engine).account("k").perps["SOL-PERP"] == (-BASE, 101 * USDC)


def test_liquidate_perp_when_one_step_position_then_drifts_quotes_and_if_fee():
    # liquidate_user_with_step_size_position: 6/11 USDC (scaled balance 545,454,545 ->
    # 545,454 units) and long 0.01 SOL for 1.5 USDC at 100: the 0.01 SOL goes at 0.99, the
    # insurance fund takes 0.01: user quote -0.52, liquidator -0.99.
    engine, d = liquidated("0.001", 545_454, BASE // 100, -150 * USDC // 100, 250,
                           100 * USDC, BASE // 100)
    assert book(engine).account("u").perps["SOL-PERP"] == (0, -52 * USDC // 100)
    assert book(engine).account("k").perps["SOL-PERP"] == (BASE // 100, -99 * USDC // 100)
    assert book(engine).liquidation_fees == {"SOL-PERP": USDC // 100}
    assert d["if_fee"] == USDC // 100


def test_liquidate_perp_when_shortage_leaves_half_the_if_fee_then_0_475():
    # successful_liquidation_half_of_if_fee: short 1 SOL for +100 with 1.5 USDC, oracle
    # 100, buffer 0.1%: shortage 5 + 0.1 - 1.5 = 3.6; IF fee (5.1% - 1% - 3.6%) x .95 =
    # 0.475% of 100: "amm.total_liquidation_fee == 475000".
    engine, d = liquidated("0.001", 1_500_000, -BASE, 100 * USDC, 50, 100 * USDC, BASE)
    assert d["margin_shortage"] == 3_600_000
    assert book(engine).liquidation_fees == {"SOL-PERP": 475_000}


def test_liquidate_perp_when_large_short_then_drifts_portion_of_if_fee():
    # successful_liquidation_portion_of_if_fee: short 299.4 SOL for +6,959.294318 with
    # 113.838792 USDC, oracle 23.244136, buffer 2%, up to 300 SOL:
    # "amm.total_liquidation_fee == 41787043", and the user leaves liquidation.
    engine, _ = liquidated("0.02", 113_838_792, -299_400_000_000, 6_959_294_318, 5,
                           23_244_136, 300 * BASE)
    assert book(engine).liquidation_fees == {"SOL-PERP": 41_787_043}
    assert not engine.is_liquidatable("u")
