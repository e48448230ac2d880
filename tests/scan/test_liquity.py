"""Liquity v1's troves in the risk book (scan/liquity.py): the ICR screen against 110% (and
the TCR in recovery mode), the candidates confirmed by the engine's own rule, the TCR and
the mode reported; the scan agrees with ``LiquityLiquidate`` on every trove of random books.

Liquity's constants: liquity/dev@39f1f7f8 packages/contracts/contracts/Dependencies/
LiquityBase.sol (MCR 110%, CCR 150%, 200 LUSD reserve, 0.5% borrowing fee floor);
the recovery-mode rule: TroveManager.sol ``_liquidateRecoveryMode`` (ICR < TCR liquidated,
capped at 110%, only when the stability pool covers the whole debt; never the last trove).
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marginengine.config import protocol_from_dict
from marginengine.decisions import Code
from marginengine.engine import (
    Engine,
    Event,
    LiquityLiquidate,
    LiquityLiquidateTroves,
    LiquityOpenTrove,
    LiquityProvideToSP,
    SetPrice,
)
from marginengine.fixedpoint import PRICE_UNIT
from marginengine.margin import liquity as rules
from marginengine.scan import FamilyRiskBook, LiquityRiskBook, ScanError

E = 10**18


def built(events: list[Event], preset: str = "liquity-v1") -> Engine:
    engine = Engine(protocol_from_dict({"preset": preset}))
    for event in events:
        out = engine.apply(event)
        assert out.accepted, (event, out.code, out.reason)
    return engine


def engine_truth(events: list[Event], troves: list[str], preset: str = "liquity-v1"
                 ) -> list[str]:
    """Each trove the engine's LiquityLiquidate closes, on a fresh copy of the book."""
    out = []
    for trove in troves:
        fresh = built(events, preset)
        outcome = fresh.apply(LiquityLiquidate("keeper", trove))
        if outcome.accepted:
            out.append(trove)
        else:
            assert outcome.code == Code.LIQUITY_NOTHING_TO_LIQUIDATE, outcome
    return sorted(out)


# Net 20,000 LUSD -> debt 20,000 + 0.5% fee + 200 reserve = 20,300; net 100,000 -> 100,700.
def normal_book() -> list[Event]:
    # Opened at 3,000, scanned at 2,000: 11.165 ETH x 2,000 / 20,300 = 110.0% exactly,
    # 11.15485 ETH x 2,000 / 20,300 = 109.9%; the whale (200 ETH) keeps TCR at 314.7%.
    return [SetPrice("ETH", 3_000 * PRICE_UNIT),
            LiquityOpenTrove("whale", 200 * E, 100_000 * E),
            LiquityOpenTrove("at110", 11_165 * E // 1_000, 20_000 * E),
            LiquityOpenTrove("at1099", 1_115_485 * E // 100_000, 20_000 * E),
            LiquityOpenTrove("wei_below", 11_165 * E // 1_000 - 1, 20_000 * E),
            SetPrice("ETH", 2_000 * PRICE_UNIT)]


def test_icr_109_9_is_liquidatable_and_110_is_not_in_normal_mode():
    events = normal_book()
    engine = built(events)
    result = FamilyRiskBook(engine).scan()
    sys = engine.state.liquity
    assert sys is not None
    price = 2_000 * E
    assert sys.entire("at110").icr(price) == rules.MCR                     # 1.1e18 exactly
    assert sys.entire("at1099").icr(price) == 1_099 * 10**15
    # One wei less collateral: ICR floors below 110%, liquidatable (Liquity: ICR < MCR).
    assert sys.entire("wei_below").icr(price) == rules.MCR - 1
    assert result.liquidatable == ["at1099", "wei_below"]
    assert result.liquidatable == engine_truth(events, sorted(sys.troves))
    # The band sends the boundary trove to the exact rule; the whale is screened out.
    assert "at110" in result.candidates and "whale" not in result.candidates
    # TCR = (222.319850... ETH x 2,000) / 161,000, Liquity's floor; normal mode.
    coll = 200 * E + 11_165 * E // 1_000 * 2 - 1 + 1_115_485 * E // 100_000
    assert result.tcr == coll * price // (100_700 * E + 3 * 20_300 * E)
    assert result.recovery_mode is False and result.screened == 4


def recovery_book(sp: int, whale: bool = False) -> list[Event]:
    # Opened at 4,000, scanned at 2,000: x 12.18 ETH x 2,000 / 20,300 = 120%, y 65.455 ETH
    # x 2,000 / 100,700 = 130%: TCR 155,270 / 121,000 = 128.3% < 150% (recovery mode).
    # With the whale (300 ETH, 100,700 debt) the same x sits in a book at TCR 300%.
    events: list[Event] = [SetPrice("ETH", 4_000 * PRICE_UNIT),
                           LiquityOpenTrove("x", 12_180 * E // 1_000, 20_000 * E),
                           LiquityOpenTrove("y", 65_455 * E // 1_000, 100_000 * E)]
    if whale:
        events.append(LiquityOpenTrove("whale", 300 * E, 100_000 * E))
    if sp:
        events.append(LiquityProvideToSP("sp", sp))
    return [*events, SetPrice("ETH", 2_000 * PRICE_UNIT)]


def test_a_trove_at_120_below_the_tcr_is_liquidatable_only_in_recovery_mode():
    events = recovery_book(30_000 * E)
    engine = built(events)
    result = FamilyRiskBook(engine).scan()
    assert result.recovery_mode is True
    assert result.tcr == 155_270 * E * E // (121_000 * E)            # 128.32...%
    # x: 110% <= ICR 120% < TCR, the pool (30,000) covers its 20,300: liquidated (capped
    # at 110%). y: ICR 130% >= TCR, not liquidatable, and outside the screen's line.
    assert result.liquidatable == ["x"] == engine_truth(events, ["x", "y"])
    assert result.candidates == ["x"]
    # The same trove at 120% in a book at TCR 300%: normal mode, 120% >= 110%, safe.
    calm = recovery_book(30_000 * E, whale=True)
    calm_result = FamilyRiskBook(built(calm)).scan()
    assert calm_result.recovery_mode is False and calm_result.liquidatable == []
    assert calm_result.candidates == [] == engine_truth(calm, ["whale", "x", "y"])


def test_recovery_mode_needs_the_pool_to_cover_the_whole_debt():
    # The pool holds 20,000 < x's 20,300: Liquity does not liquidate x (the screen sends
    # it, the rule refuses), as LiquityLiquidate does.
    events = recovery_book(20_000 * E)
    result = FamilyRiskBook(built(events)).scan()
    assert result.recovery_mode is True
    assert result.candidates == ["x"] and result.liquidatable == []
    assert engine_truth(events, ["x", "y"]) == []


def test_the_last_trove_is_never_liquidated():
    # One trove, 10 ETH for debt 20,300 at 2,000: ICR = TCR = 98.5%, recovery mode, and
    # Liquity keeps its last trove (``_liquidateRecoveryMode``: troveCount <= 1).
    events: list[Event] = [SetPrice("ETH", 4_000 * PRICE_UNIT),
                           LiquityOpenTrove("solo", 10 * E, 20_000 * E),
                           SetPrice("ETH", 2_000 * PRICE_UNIT)]
    result = FamilyRiskBook(built(events)).scan()
    assert result.candidates == ["solo"] and result.liquidatable == []
    assert result.tcr == 20_000 * E * E // (20_300 * E) and result.recovery_mode is True
    assert engine_truth(events, ["solo"]) == []


def test_pending_redistribution_rewards_enter_the_screen_and_the_rule():
    # The pool is empty: a's liquidation is redistributed to b and c pro rata to stake,
    # which lowers their ICRs; the scan reads their entire troves (getEntireDebtAndColl).
    # At 3,300 a (10 ETH, debt 30,350) is at 108.7%; b and c (stakes 20 and 100) take its
    # 30,350 of debt and 9.95 ETH (less the 0.5% to the liquidator) one sixth and five.
    events: list[Event] = [SetPrice("ETH", 4_000 * PRICE_UNIT),
                           LiquityOpenTrove("c", 100 * E, 30_000 * E),
                           LiquityOpenTrove("a", 10 * E, 30_000 * E),
                           LiquityOpenTrove("b", 20 * E, 30_000 * E),
                           SetPrice("ETH", 3_300 * PRICE_UNIT),
                           LiquityLiquidateTroves("keeper", 1),
                           SetPrice("ETH", 1_750 * PRICE_UNIT)]
    engine = built(events)
    sys = engine.state.liquity
    assert sys is not None and sorted(sys.troves) == ["b", "c"]
    assert sys.entire("b").debt > sys.troves["b"].debt                 # rewards pending
    book = LiquityRiskBook(engine)
    whole = sys.entire("b")
    row = book.ids.index("b")
    assert book.coll[row] == pytest.approx(whole.coll, rel=1e-15)
    assert book.debt[row] == pytest.approx(whole.debt, rel=1e-15)
    result = book.scan()
    assert result.liquidatable == engine_truth(events, ["b", "c"])
    # b at 1,750: 21.658 ETH against 35,408 LUSD with the rewards, 107.0% < 110%; its
    # recorded trove alone (20 ETH, 30,350) would be at 115.3%.
    assert whole.icr(1_750 * E) // 10**15 == 1_070
    assert sys.troves["b"].coll * 1_750 * E // sys.troves["b"].debt // 10**15 == 1_153
    assert result.liquidatable == ["b"]


def test_the_2025_pool_keeps_one_lusd_so_it_must_hold_the_debt_plus_one():
    # liquity-v1-2025 (StabilityPool.getMaxAmountToOffset keeps 1 LUSD): a pool of exactly
    # 20,300 covers x's debt under the legacy rule, not under the 2025 one.
    events = recovery_book(20_300 * E)
    assert FamilyRiskBook(built(events)).scan().liquidatable == ["x"]
    assert engine_truth(events, ["x"]) == ["x"]
    assert FamilyRiskBook(built(events, "liquity-v1-2025")).scan().liquidatable == []
    assert engine_truth(events, ["x"], "liquity-v1-2025") == []


def test_an_empty_system_reports_liquitys_infinite_tcr_without_a_price():
    result = FamilyRiskBook(Engine(protocol_from_dict({"preset": "liquity-v1"}))).scan()
    assert result.liquidatable == [] and result.screened == 0
    assert result.tcr == rules.INFINITE_CR and result.recovery_mode is False


def test_bad_input_missing_price_and_wrong_preset():
    engine = built(normal_book())
    book = LiquityRiskBook(engine)
    # Troves cannot open without a price, so take it away as a journal's undo would: the
    # state of an engine whose price table lost the collateral's price.
    engine.state.prices.restore("ETH", None)
    with pytest.raises(ScanError, match=r"^prices: no price has been set for ETH$"):
        book.scan()
    with pytest.raises(ScanError, match=r"^preset: aave-v3 has no Liquity troves"):
        LiquityRiskBook(Engine(protocol_from_dict({"preset": "aave-v3"})))


@st.composite
def liquity_books(draw: st.DrawFn) -> tuple[list[Event], str]:
    """Troves opened at 10,000 with ICRs 160%-400% (normal mode throughout), a pool,
    optionally a liquidation at an intermediate price (pending rewards), the final price."""
    n = draw(st.integers(1, 7))
    events: list[Event] = [SetPrice("ETH", 10_000 * PRICE_UNIT)]
    for i in range(n):
        net = draw(st.integers(1_800, 200_000)) * E
        debt = net + net // 200 + 200 * E
        ratio = draw(st.decimals(Decimal("1.6"), Decimal("4"), places=4))
        coll = int(debt * ratio) // 10_000 + draw(st.integers(0, 10**6))
        events.append(LiquityOpenTrove(f"t{i}", coll, net))
    sp = draw(st.sampled_from([0, 1, 5_000, 50_000, 1_000_000]))
    if sp:
        events.append(LiquityProvideToSP("sp", sp * E))
    if draw(st.booleans()):
        mid = draw(st.integers(3_000, 7_000))
        events += [SetPrice("ETH", mid * PRICE_UNIT), LiquityLiquidateTroves("keeper", 1)]
    price = draw(st.decimals(Decimal("1500"), Decimal("10000"), places=8))
    events.append(SetPrice("ETH", int(price * PRICE_UNIT)))
    preset = draw(st.sampled_from(["liquity-v1", "liquity-v1-2025"]))
    return events, preset


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(liquity_books())
def test_scan_equals_the_engines_rule_on_every_trove(book: tuple[list[Event], str]):
    events, preset = book
    engine = Engine(protocol_from_dict({"preset": preset}))
    for event in events:
        engine.apply(event)        # a liquidation with nothing to liquidate is refused
    sys = engine.state.liquity
    assert sys is not None
    troves = sorted(sys.troves)
    result = FamilyRiskBook(engine).scan()
    truth = []
    for trove in troves:
        fresh = Engine(protocol_from_dict({"preset": preset}))
        for event in events:
            fresh.apply(event)
        if fresh.apply(LiquityLiquidate("keeper", trove)).accepted:
            truth.append(trove)
    assert result.liquidatable == truth
    assert set(result.liquidatable) <= set(result.candidates)
    price = engine.prices["ETH"] * 10**10
    assert result.tcr == sys.tcr(price)
    assert result.recovery_mode == (sys.tcr(price) < rules.CCR)
    assert result.screened == len(troves)
