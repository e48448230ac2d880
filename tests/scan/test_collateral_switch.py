"""The risk book follows Aave's collateral switch (``SetUseAsCollateral``): the account's
entries are rebuilt on the change, so the scan reads the same switch as the margin model."""

from __future__ import annotations

from marginengine.engine import Borrow, Deposit, SetUseAsCollateral
from marginengine.scan import RiskBook
from tests.aave_listing import USDX, WBTC, pool


def test_incremental_scan_when_collateral_switched_off_then_account_below() -> None:
    # 0.5 WBTC (13,500 USD) and 1,000 USDX at threshold 86% against 11,200 USDX: HF
    # 12,470 / 11,200 = 1.113 with both, 11,610 / 11,200 = 1.0366 with USDX off.
    engine = pool()
    assert engine.apply(Deposit("alice", "WBTC", WBTC // 2)).accepted
    assert engine.apply(Deposit("alice", "USDX", 1_000 * USDX)).accepted
    assert engine.apply(Borrow("alice", "USDX", 11_200 * USDX)).accepted
    book = RiskBook.from_engine(engine)
    assert book.full_scan(1.05).below_count == 0
    out = engine.apply(SetUseAsCollateral("alice", "USDX", False))
    assert out.details["health_factor"] == 1_036_607_142_857_142_857
    book.incremental_scan(1.05)
    assert book.below_accounts() == ["alice"]
    assert RiskBook.from_engine(engine).full_scan(1.05).below_count == 1
