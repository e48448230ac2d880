"""The crowding add-on in the engine's own health decision (issue 12): a logged
``SetCrowding`` builds the exact heatmap of the book (margin/crowding.py, the one
implementation) and every health, liquidation and borrow check raises the requirement by
the account's add-on; the risk book and the adaptive scan agree with the engine; a replay
reproduces it.

The book is the worked example of docs/margin.md section 5 (tests/margin/test_crowding.py,
tests/scan/test_adaptive_scan.py): WETH at 2,500, a constant-product pool of 400 WETH, a 5%
bonus, no fee, an 80% threshold; A 10 WETH / 16,000 USDC, B 20 / 25,600, C 5 / 6,400,
D 40 / 40,960. Exact add-ons: A 0, B and C 15,421 ppm, D 51,518 ppm.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from marginengine.config import protocol_from_dict
from marginengine.decisions import Code
from marginengine.engine import Borrow, Deposit, Engine, Liquidate, SetCrowding, SetPrice
from marginengine.errors import EventError
from marginengine.scan import RiskBook

USD = 10**8
WETH = 10**18
USDC = 10**6
BOOK = {"A": (10, 16_000), "B": (20, 25_600), "C": (5, 6_400), "D": (40, 40_960)}
POOL = 400 * WETH


def protocol(crowding: bool = True) -> Any:
    return protocol_from_dict({
        "markets": {"WETH": {"ltv": "0.75", "liquidation_threshold": "0.80",
                             "liquidation_bonus": "0.05"},
                    "USDC": {"decimals": 6}},
        # governed: no SetRiskParams here, so the thresholds stay static; only the add-on.
        "adaptive": {"mode": "governed", "crowding": crowding}})


def crowded(crowding: bool = True, log: Path | None = None) -> Engine:
    config = protocol(crowding)
    engine = Engine.with_log(config, log) if log else Engine(config)
    engine.apply(SetPrice("WETH", 2_500 * USD))
    engine.apply(SetPrice("USDC", USD))
    engine.apply(Deposit("lp", "USDC", 10**12))
    for name, (weth, debt) in BOOK.items():
        engine.apply(Deposit(name, "WETH", weth * WETH))
        assert engine.apply(Borrow(name, "USDC", debt * USDC)).accepted
    return engine


def test_set_crowding_records_the_exact_addons_of_the_worked_example() -> None:
    engine = crowded()
    out = engine.apply(SetCrowding("WETH", base_reserve=POOL))
    assert out.accepted, out.reason
    assert out.details["addons"] == {"B": 15_421, "C": 15_421, "D": 51_518}
    # The two cliffs of the worked example (1,600 and 1,280), both below 2,500: attacked.
    assert out.details["cliffs"] == [1_600 * USD, 1_280 * USD]
    assert [a["price"] for a in out.details["attacks"]] == [1_600 * USD, 1_280 * USD]


def test_engine_and_scan_agree_on_who_is_liquidatable_with_the_addon() -> None:
    engine = crowded()
    plain = crowded(crowding=False)
    book = RiskBook.from_engine(engine)
    book.full_scan()
    scan_addon = book.crowding_addon("WETH", base_reserve=float(POOL), bonus_bps=500)
    engine.apply(SetCrowding("WETH", base_reserve=POOL))
    for e in (engine, plain):
        e.apply(SetPrice("WETH", 1_620 * USD))
    # B: 20 x 1,620 x 80% = 25,920 against 25,600 x 1.015421 = 25,994.78: below with the
    # add-on only; C the same; A (12,960 < 16,000) below anyway; D (51,840 against
    # 43,070.2) is not.
    engine_below = sorted(a for a in BOOK if engine.is_liquidatable(a))
    assert engine_below == ["A", "B", "C"]
    assert sorted(a for a in BOOK if plain.is_liquidatable(a)) == ["A"]
    book.incremental_scan()
    assert book.below_accounts() == engine_below
    assert sorted(book.accounts.ids(book.adaptive_scan(scan_addon).below_rows)) == engine_below
    assert RiskBook.from_engine(engine).full_scan().below_count == 3
    # HF with the add-on: 25,920 / ceil(25,600 x 1.015421) = 0.99712.
    assert engine.health_factor("B") == 25_920 * USD * 10**18 // 2_599_477_760_000
    assert plain.health_factor("B") == 25_920 * 10**18 // 25_600


def test_liquidate_when_only_the_addon_makes_it_unhealthy_then_accepted() -> None:
    engine = crowded()
    plain = crowded(crowding=False)
    engine.apply(SetCrowding("WETH", base_reserve=POOL))
    for e in (engine, plain):
        e.apply(SetPrice("WETH", 1_620 * USD))
    call = Liquidate("keeper", "B", "USDC", "WETH", 12_800 * USDC)
    assert plain.apply(call).code == Code.HEALTH_FACTOR_NOT_BELOW_THRESHOLD
    out = engine.apply(call)
    assert out.accepted, out.reason
    # HF 0.9971 >= 0.95: Aave's 50% close factor, 12,800 of the 25,600 repaid.
    assert engine.ledger.debt_of("B", "USDC") == 12_800 * USDC


def test_borrow_when_the_addon_raises_the_requirement_then_refused() -> None:
    engine = crowded()
    plain = crowded(crowding=False)
    engine.apply(SetCrowding("WETH", base_reserve=POOL))
    # D: 40 x 2,500 x 75% = 75,000 of borrowing power. 32,000 more makes 72,960 of debt:
    # fine without the add-on, 72,960 x 1.051518 = 76,718.8 > 75,000 with it.
    more = Borrow("D", "USDC", 32_000 * USDC)
    assert plain.apply(more).accepted
    out = engine.apply(more)
    assert out.code == Code.UNDERCOLLATERALIZED
    assert out.data["requirement"] == -(-72_960 * USD * 1_051_518 // 1_000_000)
    assert engine.apply(Borrow("D", "USDC", 30_000 * USDC)).accepted  # 74,280.3 <= 75,000


def test_set_crowding_again_with_a_deep_pool_clears_the_addons_and_the_book_follows() -> None:
    engine = crowded()
    engine.apply(SetCrowding("WETH", base_reserve=POOL))
    engine.apply(SetPrice("WETH", 1_620 * USD))
    book = RiskBook.from_engine(engine)
    assert book.full_scan().below_count == 3
    out = engine.apply(SetCrowding("WETH", base_reserve=10**9 * WETH))
    assert out.details["addons"] == {}
    book.incremental_scan()
    assert book.below_accounts() == ["A"]
    assert not engine.is_liquidatable("B")


def test_replay_with_crowding_events_gives_the_same_state_hash(tmp_path: Path) -> None:
    path = tmp_path / "crowding.db"
    engine = crowded(log=path)
    without = engine.state_hash()
    engine.apply(SetCrowding("WETH", base_reserve=POOL, fee_bps=30))
    engine.apply(SetPrice("WETH", 1_620 * USD))
    engine.apply(Liquidate("keeper", "B", "USDC", "WETH", 12_800 * USDC))
    final = engine.state_hash()
    assert final != without
    engine.close()
    replayed, report = Engine.replay(path)
    assert replayed.state_hash() == final == report.state_hash
    assert replayed.state.addons == engine.state.addons


def test_set_crowding_bad_input_names_the_field() -> None:
    with pytest.raises(EventError, match=r"^SetCrowding.base_reserve: must be an int at least 1"):
        SetCrowding("WETH", base_reserve=0)
    with pytest.raises(EventError, match=r"^SetCrowding.fee_bps: must be an int 0..9999"):
        SetCrowding("WETH", base_reserve=1, fee_bps=10_000)
    off = crowded(crowding=False)
    before = off.state.addons
    assert off.apply(SetCrowding("WETH", base_reserve=POOL)).code == Code.EVENT_NOT_SUPPORTED
    assert off.state.addons == before == {}
    assert crowded().apply(SetCrowding("DOGE", base_reserve=POOL)).code == Code.UNKNOWN_ASSET
