"""Morpho Blue's isolated markets in the risk book (scan/morpho.py): positions screened per
market (borrow shares to assets rounded up, collateral at the oracle price, the LLTV), the
candidates confirmed by Morpho's ``_isHealthy`` on the book accrued to the clock; the scan
agrees with ``MorphoLiquidate`` on every position of random books.

Morpho's rules: morpho-org/morpho-blue@3085651a src/Morpho.sol (``_isHealthy``:
``collateral.mulDivDown(price, 1e36).wMulDown(lltv) >= borrowShares.toAssetsUp(...)``,
``liquidate`` accrues interest first and requires an unhealthy position),
src/libraries/SharesMathLib.sol (1e6 virtual shares, 1 virtual asset).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marginengine.config import protocol_from_dict
from marginengine.decisions import Code
from marginengine.engine import (
    AdvanceTime,
    Engine,
    Event,
    MorphoBorrow,
    MorphoLiquidate,
    MorphoSupply,
    MorphoSupplyCollateral,
    SetPrice,
)
from marginengine.fixedpoint import PRICE_UNIT
from marginengine.margin import morpho as rules
from marginengine.scan import FamilyRiskBook, MorphoRiskBook, ScanError

USDC, WETH, WBTC = 10**6, 10**18, 10**8
M = "WETH/USDC"


def built(config: dict[str, Any], events: list[Event]) -> Engine:
    engine = Engine(protocol_from_dict(config))
    for event in events:
        out = engine.apply(event)
        assert out.accepted, (event, out.code, out.reason)
    return engine


def engine_truth(config: dict[str, Any], events: list[Event], market: str,
                 accounts: list[str]) -> list[str]:
    """Each borrower the engine's MorphoLiquidate accepts (seizing 1 unit), on a fresh copy;
    the only refusal allowed is Morpho's "position is healthy"."""
    out = []
    for account in accounts:
        fresh = Engine(protocol_from_dict(config))
        for event in events:
            fresh.apply(event)
        outcome = fresh.apply(MorphoLiquidate("keeper", account, market, seized_assets=1))
        if outcome.accepted:
            out.append(account)
        else:
            assert outcome.code == Code.MORPHO_HEALTHY_POSITION, outcome
    return sorted(out)


PRESET = {"preset": "morpho-blue"}        # one WETH/USDC market, LLTV 86%


def lltv_book() -> list[Event]:
    # Borrowed at WETH 2,500, scanned at 2,000: 1 WETH x 2,000 x 0.86 = 1,720 USDC of
    # borrowing power. carol owes exactly 1,720 (1,720e12 shares -> 1,720e6 assets, rounded
    # up: exact), eve 1,720.000001, safe 1,000.
    return [SetPrice("USDC", PRICE_UNIT), SetPrice("WETH", 2_500 * PRICE_UNIT),
            MorphoSupply("lp", M, assets=1_000_000 * USDC),
            MorphoSupplyCollateral("carol", M, WETH), MorphoBorrow("carol", M, assets=1_720 * USDC),
            MorphoSupplyCollateral("eve", M, WETH), MorphoBorrow("eve", M, assets=1_720 * USDC + 1),
            MorphoSupplyCollateral("safe", M, WETH), MorphoBorrow("safe", M, assets=1_000 * USDC),
            SetPrice("WETH", 2_000 * PRICE_UNIT)]


def test_a_position_exactly_at_its_lltv_is_healthy_one_unit_more_is_not():
    events = lltv_book()
    engine = built(PRESET, events)
    book = engine.state.morpho[M]
    assert rules.borrowed_assets(book.position("carol"), book.market) == 1_720 * USDC
    assert rules.borrowed_assets(book.position("eve"), book.market) == 1_720 * USDC + 1
    result = FamilyRiskBook(engine).scan()
    assert result.liquidatable == ["eve"]
    assert result.liquidatable == engine_truth(PRESET, events, M, ["carol", "eve", "safe"])
    # Both boundary positions go to the exact check; safe (58% of its power) and the
    # lender are screened out. Every position is screened, the lender's too.
    assert result.candidates == ["carol", "eve"] and result.screened == 4
    assert result.markets[M].liquidatable == ["eve"] and result.markets[M].screened == 4
    assert result.tcr is None and result.recovery_mode is None
    # One 1e-8 USD lower and carol is below too (1,719.999999 of power).
    lower = [*events, SetPrice("WETH", 2_000 * PRICE_UNIT - 1)]
    assert FamilyRiskBook(built(PRESET, lower)).scan().liquidatable == ["carol", "eve"]


def test_interest_is_accrued_to_the_clock_before_the_health_check():
    # 10% a year on the market; carol borrows her whole 1,720 and a day passes with no
    # Morpho event: the book's totals are a day old, but liquidate accrues first, and so
    # does the scan.
    config = {"preset": "morpho-blue", "morpho": {M: {
        "loan": "USDC", "collateral": "WETH", "lltv": "0.86", "borrow_rate": "0.1"}}}
    events: list[Event] = [
        SetPrice("USDC", PRICE_UNIT), SetPrice("WETH", 2_000 * PRICE_UNIT),
        MorphoSupply("lp", M, assets=100_000 * USDC),
        MorphoSupplyCollateral("carol", M, WETH), MorphoBorrow("carol", M, assets=1_720 * USDC),
        AdvanceTime(86_400)]
    engine = built(config, events)
    stale = engine.state.morpho[M]
    oracle = 2_000 * USDC * rules.ORACLE_PRICE_SCALE // WETH
    params = rules.MarketParams(lltv=86 * 10**16)
    assert rules.is_healthy(stale.position("carol"), stale.market, oracle, params)
    result = FamilyRiskBook(engine).scan()
    assert result.liquidatable == ["carol"] == engine_truth(config, events, M, ["carol"])
    # The mirror's share price is the accrued one: 1,720 x (1 + 0.1 / 365) in the float.
    mirror = MorphoRiskBook(engine)
    row = mirror.accounts.index("carol")
    assert mirror.shares[row] * mirror.share_price[0] == pytest.approx(
        1_720 * USDC * (1 + 0.1 / 365), rel=1e-6)


TWO_MARKETS = {
    "preset": "morpho-blue",
    "markets": {"USDC": {"decimals": 6, "collateral": False, "borrowable": False},
                "WETH": {"decimals": 18, "collateral": False, "borrowable": False},
                "WBTC": {"decimals": 8, "collateral": False, "borrowable": False}},
    "morpho": {"WETH/USDC": {"loan": "USDC", "collateral": "WETH", "lltv": "0.86"},
               "WBTC/USDC": {"loan": "USDC", "collateral": "WBTC", "lltv": "0.77",
                             "borrow_rate": "0.05"}},
}


def test_markets_are_isolated_an_account_is_liquidatable_per_market():
    # carol: healthy in WETH/USDC (50% of power), underwater in WBTC/USDC after BTC falls
    # from 60,000 to 40,000: 1 WBTC x 40,000 x 0.77 = 30,800 < 35,000. Her WETH does not
    # count in the WBTC market.
    events: list[Event] = [
        SetPrice("USDC", PRICE_UNIT), SetPrice("WETH", 2_000 * PRICE_UNIT),
        SetPrice("WBTC", 60_000 * PRICE_UNIT),
        MorphoSupply("lp", "WETH/USDC", assets=100_000 * USDC),
        MorphoSupply("lp", "WBTC/USDC", assets=100_000 * USDC),
        MorphoSupplyCollateral("carol", "WETH/USDC", 10 * WETH),
        MorphoBorrow("carol", "WETH/USDC", assets=8_600 * USDC),
        MorphoSupplyCollateral("carol", "WBTC/USDC", WBTC),
        MorphoBorrow("carol", "WBTC/USDC", assets=35_000 * USDC),
        SetPrice("WBTC", 40_000 * PRICE_UNIT)]
    result = FamilyRiskBook(built(TWO_MARKETS, events)).scan()
    assert result.liquidatable == ["carol"]
    assert result.markets["WBTC/USDC"].liquidatable == ["carol"]
    assert result.markets["WETH/USDC"].liquidatable == []
    assert result.markets["WETH/USDC"].candidates == []
    assert engine_truth(TWO_MARKETS, events, "WETH/USDC", ["carol"]) == []
    assert engine_truth(TWO_MARKETS, events, "WBTC/USDC", ["carol"]) == ["carol"]
    assert result.screened == 4                       # two positions in each market


def test_bad_input_missing_price_and_wrong_preset():
    engine = built(PRESET, lltv_book())
    book = MorphoRiskBook(engine)
    # A borrower's market must have both prices; take one away as a journal's undo would.
    engine.state.prices.restore("USDC", None)
    with pytest.raises(ScanError, match=r"^prices: no price has been set for USDC "
                                        r"\(Morpho market WETH/USDC\)$"):
        book.scan()
    with pytest.raises(ScanError, match=r"^preset: aave-v3 has no Morpho markets"):
        MorphoRiskBook(Engine(protocol_from_dict({"preset": "aave-v3"})))
    # A market without borrowers needs no price.
    lender_only = built(PRESET, [MorphoSupply("lp", M, assets=USDC)])
    assert FamilyRiskBook(lender_only).scan().liquidatable == []


@st.composite
def morpho_books(draw: st.DrawFn) -> tuple[dict[str, Any], list[Event], list[str]]:
    """Two markets with drawn LLTVs and rates; borrowers at 50%-100% of their power at the
    opening prices; then time passes and the collateral prices move."""
    eth_lltv, btc_lltv = (draw(st.sampled_from(["0.625", "0.77", "0.86", "0.915", "0.945"]))
                          for _ in range(2))
    rate = draw(st.sampled_from(["0", "0.05", "0.5"]))
    config = {**TWO_MARKETS, "morpho": {
        "WETH/USDC": {"loan": "USDC", "collateral": "WETH", "lltv": eth_lltv,
                      "borrow_rate": rate},
        "WBTC/USDC": {"loan": "USDC", "collateral": "WBTC", "lltv": btc_lltv}}}
    events: list[Event] = [SetPrice("USDC", PRICE_UNIT), SetPrice("WETH", 2_000 * PRICE_UNIT),
                           SetPrice("WBTC", 60_000 * PRICE_UNIT),
                           MorphoSupply("lp", "WETH/USDC", assets=10**8 * USDC),
                           MorphoSupply("lp", "WBTC/USDC", assets=10**8 * USDC)]
    accounts = [f"b{i}" for i in range(draw(st.integers(1, 6)))]
    for account in accounts:
        for market, unit, price, lltv in (("WETH/USDC", WETH, 2_000, eth_lltv),
                                          ("WBTC/USDC", WBTC, 60_000, btc_lltv)):
            if not draw(st.booleans()):
                continue
            coll = draw(st.integers(unit // 100, 50 * unit))
            power = coll * price * USDC * int(Decimal(lltv) * 1000) // (unit * 1000)
            # Often at the power itself (less 0-2 units): the boundary of _isHealthy.
            share = draw(st.one_of(st.just(Decimal(1)),
                                   st.decimals(Decimal("0.5"), Decimal("1"), places=6)))
            borrow = max(1, int(power * share) - draw(st.integers(0, 2)))
            events += [MorphoSupplyCollateral(account, market, coll),
                       MorphoBorrow(account, market, assets=borrow)]
    events.append(AdvanceTime(draw(st.sampled_from([0, 1, 86_400, 30 * 86_400]))))
    for asset, price in (("WETH", 2_000), ("WBTC", 60_000)):
        factor = draw(st.one_of(st.just(Decimal(1)),
                                st.decimals(Decimal("0.7"), Decimal("1.2"), places=6)))
        events.append(SetPrice(asset, int(price * factor * PRICE_UNIT)))
    return config, events, accounts


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(morpho_books())
def test_scan_equals_the_engines_rule_on_every_position(
        book: tuple[dict[str, Any], list[Event], list[str]]):
    config, events, accounts = book
    engine = Engine(protocol_from_dict(config))
    for event in events:
        engine.apply(event)         # a borrow beyond the power is refused, nothing else
    result = FamilyRiskBook(engine).scan()
    union: set[str] = set()
    for market in ("WBTC/USDC", "WETH/USDC"):
        borrowers = sorted(a for a, p in engine.state.morpho[market].positions.items()
                           if p.borrow_shares)
        truth = engine_truth(config, events, market, borrowers)
        assert result.markets[market].liquidatable == truth
        assert set(truth) <= set(result.markets[market].candidates)
        union |= set(truth)
    assert result.liquidatable == sorted(union)
    assert set(accounts) >= set(result.liquidatable)
