"""The family risk book: Euler, Mango and Drift accounts screened through per-asset weights
and confirmed by the engine's margin interface (the family's rule): the scan's
liquidatable accounts are the engine's, for a small book of each family."""

from __future__ import annotations

import copy

import pytest

from marginengine.config import protocol_from_dict
from marginengine.config.presets import PRESETS
from marginengine.engine import (
    AdvanceTime,
    DriftDeposit,
    DriftPerpTrade,
    DriftWithdraw,
    Engine,
    EulerBorrow,
    EulerDeposit,
    EulerDepositCollateral,
    EulerSetLTV,
    Event,
    MangoDeposit,
    MangoPerpTrade,
    MangoWithdraw,
    SetPrice,
)
from marginengine.fixedpoint import PRICE_UNIT
from marginengine.scan import FamilyRiskBook, ScanError

USDC, E18, SOL = 10**6, 10**18, 10**9


def applied(engine: Engine, *events: Event) -> None:
    for event in events:
        out = engine.apply(event)
        assert out.accepted, (event, out.code, out.reason)


def engine_truth(engine: Engine, accounts: list[str]) -> list[str]:
    return sorted(a for a in accounts if engine.is_liquidatable(a))


def test_euler_book_scan_agrees_with_the_engine_through_the_ramp():
    engine = Engine(protocol_from_dict({"preset": "euler-v2"}))     # WETH 80% / 85%
    applied(engine, AdvanceTime(1), SetPrice("USDC", PRICE_UNIT),
            SetPrice("WETH", 2_000 * PRICE_UNIT), EulerDeposit("lp", 10**7 * USDC))
    # LTV 70% .. 78.4%, and one exactly at the boundary the ramp reaches: 5 WETH x 2,000 x
    # 0.7625 = 7,625 of collateral for 7,625 of debt is a violator (collateral <= liability).
    borrowers = {**{f"b{i}": 7_000 + 120 * i for i in range(8)}, "edge": 7_625}
    for name, debt in borrowers.items():
        applied(engine, EulerDepositCollateral(name, "WETH", 5 * E18),
                EulerBorrow(name, debt * USDC))
    book = FamilyRiskBook(engine)
    assert book.scan().liquidatable == [] and book.scan().candidates == []
    applied(engine, EulerSetLTV("WETH", 7_000, 7_500, 86_400), AdvanceTime(21 * 3_600))
    accounts = [*borrowers, "lp"]
    result = book.scan()
    assert result.liquidatable == engine_truth(engine, accounts) == ["b6", "b7", "edge"]
    assert result.screened == 10 and len(result.candidates) < 9    # the screen excludes some
    applied(engine, SetPrice("WETH", 1_800 * PRICE_UNIT))
    assert book.scan().liquidatable == engine_truth(engine, accounts)


def test_mango_book_scan_agrees_with_the_engine():
    engine = Engine(protocol_from_dict({"preset": "mango-v4"}))
    applied(engine, SetPrice("USDC", PRICE_UNIT), SetPrice("SOL", 100 * PRICE_UNIT),
            SetPrice("SOL-PERP", 100 * PRICE_UNIT))
    accounts = []
    for i in range(6):
        name = f"m{i}"
        accounts.append(name)
        # 10 SOL (maint 900 at 100) against 600 + 20 i USDC borrowed (maint x 1.025).
        applied(engine, MangoDeposit(name, "SOL", 10 * SOL),
                MangoWithdraw(name, "USDC", (600 + 20 * i) * USDC))
    applied(engine, MangoPerpTrade("m0", "SOL-PERP", -100, 100 * USDC))    # short 1 SOL at 100
    applied(engine, SetPrice("SOL", 71 * PRICE_UNIT), SetPrice("SOL-PERP", 71 * PRICE_UNIT))
    result = FamilyRiskBook(engine).scan()
    # SOL 71: 639 - (600 + 20 i) x 1.025 < 0 from i = 2 (m0's short adds its positive PnL,
    # 100 - 71 x 1.05, at the 0.8 overall weight).
    assert result.liquidatable == engine_truth(engine, accounts) == ["m2", "m3", "m4", "m5"]
    assert result.liquidatable and set(result.liquidatable) != set(accounts)
    assert "m0" in result.candidates          # a perp holder is always confirmed exactly


def test_mango_book_scan_when_maint_weights_shift_then_agrees_with_the_engine():
    # SOL's maint asset weight shifts 0.9 -> 0.5 over 1000 .. 2000 s (Bank::maint_weights);
    # the screen takes the worse of the two weights, so it never misses an account the
    # shift makes liquidatable; the engine confirms at its clock.
    raw = copy.deepcopy(PRESETS["mango-v4"])
    raw["mango"]["tokens"]["SOL"].update({
        "maint_weight_shift_start": 1000, "maint_weight_shift_end": 2000,
        "maint_weight_shift_asset_target": "0.5", "maint_weight_shift_liab_target": "1.5"})
    engine = Engine(protocol_from_dict(raw))
    applied(engine, SetPrice("USDC", PRICE_UNIT), SetPrice("SOL", 100 * PRICE_UNIT),
            SetPrice("SOL-PERP", 100 * PRICE_UNIT))
    accounts = [f"m{i}" for i in range(6)]
    for i, name in enumerate(accounts):
        applied(engine, MangoDeposit(name, "SOL", 10 * SOL),
                MangoWithdraw(name, "USDC", (600 + 20 * i) * USDC))
    book = FamilyRiskBook(engine)
    assert book.scan().liquidatable == engine_truth(engine, accounts) == []
    # At 1600 s the weight is 0.66: 660 against (600 + 20 i) x 1.025, short from i = 3.
    applied(engine, AdvanceTime(1600))
    result = book.scan()
    assert result.liquidatable == engine_truth(engine, accounts) == ["m3", "m4", "m5"]


def test_drift_book_scan_agrees_with_the_engine():
    cfg = protocol_from_dict({"preset": "drift-v2", "drift": {
        "quote": "USDC",
        "spot": {"USDC": {"initial_asset_weight": "1", "maintenance_asset_weight": "1",
                          "initial_liability_weight": "1", "maintenance_liability_weight": "1"},
                 "SOL": {"initial_asset_weight": "0.8", "maintenance_asset_weight": "0.9",
                         "initial_liability_weight": "1.2",
                         "maintenance_liability_weight": "1.1"}},
        "perps": {"BTC-PERP": {"margin_ratio_initial": "0.1",
                               "margin_ratio_maintenance": "0.05"}}}})
    engine = Engine(cfg)
    applied(engine, SetPrice("USDC", PRICE_UNIT), SetPrice("SOL", 150 * PRICE_UNIT),
            SetPrice("BTC-PERP", 60_000 * PRICE_UNIT))
    accounts = []
    for i in range(6):
        name = f"d{i}"
        accounts.append(name)
        applied(engine, DriftDeposit(name, "SOL", 100 * SOL),
                DriftWithdraw(name, "USDC", (9_000 + 500 * i) * USDC))
    applied(engine, DriftDeposit("t", "USDC", 10_000 * USDC),
            DriftPerpTrade("t", "BTC-PERP", -SOL, 60_000 * USDC))
    accounts.append("t")
    applied(engine, SetPrice("SOL", 110 * PRICE_UNIT), SetPrice("BTC-PERP", 69_000 * PRICE_UNIT))
    result = FamilyRiskBook(engine).scan()
    # SOL 110: 9,900 of maintenance collateral against 9,000 + 500 i; t: 10,000 - 9,000 of
    # PnL against 69,000 x 5%.
    assert result.liquidatable == engine_truth(engine, accounts) == \
        ["d2", "d3", "d4", "d5", "t"]
    assert "t" in result.candidates and "d0" not in result.candidates


def test_a_protocol_without_a_family_book_is_refused():
    with pytest.raises(ScanError, match="preset: aave-v3 has no family book"):
        FamilyRiskBook(Engine(protocol_from_dict({"preset": "aave-v3"})))
