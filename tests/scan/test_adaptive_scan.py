"""The adaptive scan: per-asset weights in force and the crowding add-on per account,
screened in float and confirmed exactly through the margin interface.

The book is the worked example of docs/margin.md section 5 (tests/margin/test_crowding.py):
WETH at 2,500, a pool of 400 WETH, a 5% bonus, no fee, an 80% threshold; A 10 WETH /
16,000, B 20 / 25,600, C 5 / 6,400, D 40 / 40,960. Crowding add-ons: B and C 15,421 ppm,
D 51,518 ppm, A 0.
"""

from __future__ import annotations

import numpy as np
import pytest

from marginengine.config import protocol_from_dict
from marginengine.engine import Borrow, Deposit, Engine, SetPrice
from marginengine.scan import RiskBook
from marginengine.scan.errors import ScanError

USD = 10**8
BOOK = {"A": (10, 16_000), "B": (20, 25_600), "C": (5, 6_400), "D": (40, 40_960)}


def crowded_book() -> tuple[Engine, RiskBook]:
    engine = Engine(protocol_from_dict({"markets": {
        "WETH": {"ltv": "0.75", "liquidation_threshold": "0.80", "liquidation_bonus": "0.05"},
        "USDC": {"decimals": 6}}}))
    engine.apply(SetPrice("WETH", 2_500 * USD))
    engine.apply(SetPrice("USDC", USD))
    engine.apply(Deposit("lp", "USDC", 10**12))
    for name, (weth, debt) in BOOK.items():
        engine.apply(Deposit(name, "WETH", weth * 10**18))
        assert engine.apply(Borrow(name, "USDC", debt * 10**6)).accepted
    book = RiskBook.from_engine(engine)
    book.full_scan()
    return engine, book


def test_crowding_addon_per_row_matches_the_worked_example() -> None:
    _, book = crowded_book()
    addon = book.crowding_addon("WETH", base_reserve=400 * 10**18, bonus_bps=500)
    by = {book.accounts.id(r): int(addon[r]) for r in range(book.n_accounts)}
    assert by["A"] == 0 and by["lp"] == 0
    # The binned kernel (1 bp bins) is never below the sorted one, and here within 1 ppm.
    assert 15_421 <= by["B"] == by["C"] <= 15_422
    assert 51_518 <= by["D"] <= 51_519


def test_adaptive_scan_when_addon_pushes_accounts_below_then_confirmed_exactly() -> None:
    engine, book = crowded_book()
    addon = book.crowding_addon("WETH", base_reserve=400 * 10**18, bonus_bps=500)
    engine.apply(SetPrice("WETH", 1_620 * USD))
    # B: 20 x 1,620 x 80% = 25,920 against 25,600 (HF 1.0125), raised by 1.5421% to
    # 25,994.8: below with the add-on only; C the same; A below anyway; D at 1.27 is not.
    plain = book.adaptive_scan()
    assert sorted(book.accounts.ids(plain.below_rows)) == ["A"]
    crowded = book.adaptive_scan(addon)
    assert sorted(book.accounts.ids(crowded.below_rows)) == ["A", "B", "C"]
    assert crowded.unconfirmed.size == 0
    model, valuation = engine.margin_model, engine.valuation()
    for name in ("B", "C"):
        row = book.accounts.row(name)
        assert row is not None
        assert model.is_below_with_addon(engine.ledger, valuation, name, int(addon[row]))
        assert not model.is_below_with_addon(engine.ledger, valuation, name, 0)


def test_adaptive_scan_bad_addon_shape_is_refused() -> None:
    _, book = crowded_book()
    with pytest.raises(ScanError, match="addon_ppm: must be 5 non-negative ints"):
        book.adaptive_scan(np.zeros(3, dtype=np.int64))
    with pytest.raises(ScanError, match="unknown asset 'DOGE'"):
        book.crowding_addon("DOGE", 1.0, 500)
