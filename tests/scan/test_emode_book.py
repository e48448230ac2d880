"""The risk book with Aave e-mode accounts: each account is screened at its category's
liquidation thresholds (the e-mode collateral columns of ``scan/assets.py``), and the
screen stays conservative: a full scan lists exactly what the engine lists, an incremental
mirror through any events (``SetUserEMode`` switches among them) equals the engine and a
rebuild. Property tests as ``test_properties.py``, on a protocol with three categories:
one raising the thresholds of WETH and WBTC, one of the stablecoins, one *lowering* WETH's
(v3.2+ allows a category below the reserve's)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from marginengine.config import ProtocolConfig, protocol_from_dict
from marginengine.engine import Borrow, Deposit, Engine, SetPrice, SetUserEMode
from marginengine.fixedpoint import PRICE_UNIT, RAY
from marginengine.scan import RiskBook, sidematrix
from marginengine.scan.errors import ScanError
from marginengine.scan.whatif import evaluate
from tests.scan.test_properties import (
    ACCOUNTS,
    SETTINGS,
    accounts_spec,
    apply_intent,
    assert_equals_rebuild,
    borrow_up_to,
    build,
    exact_below,
    funded,
    intents,
    moves,
    pins,
)

CATEGORIES: dict[str, Any] = {
    "1": {"label": "BTC/ETH", "ltv": "0.90", "liquidation_threshold": "0.93",
          "liquidation_bonus": "0.02", "collateral": ["WBTC", "WETH"],
          "borrowable": ["DAI", "USDC", "WBTC", "WETH"]},
    "2": {"label": "stables", "ltv": "0.93", "liquidation_threshold": "0.95",
          "liquidation_bonus": "0.01", "collateral": ["DAI", "USDC"],
          "borrowable": ["DAI", "USDC"]},
    "3": {"label": "WETH low", "ltv": "0.50", "liquidation_threshold": "0.60",
          "liquidation_bonus": "0.05", "collateral": ["WETH"],
          "borrowable": ["DAI", "USDC", "WBTC", "WETH"]},
}
CONFIGS = {preset: protocol_from_dict({"preset": preset, "emode": {"categories": CATEGORIES}})
           for preset in ("aave-v3.3", "aave-v3.7")}

emodes = st.lists(st.integers(0, 3), min_size=len(ACCOUNTS), max_size=len(ACCOUNTS))


def enter(engine: Engine, categories: list[int]) -> None:
    for account, category in zip(ACCOUNTS, categories, strict=True):
        engine.apply(SetUserEMode(account, category))


@pytest.mark.parametrize("preset", sorted(CONFIGS))
@SETTINGS
@given(cats=emodes, spec=accounts_spec, price_moves=moves, pin=pins)
def test_full_scan_when_emode_accounts_then_equals_exact_engine(
    preset: str, cats: list[int], spec: list[Any], price_moves: list[Any], pin: list[Any]
):
    config = CONFIGS[preset]
    original = funded

    def funded_in_emode(cfg: ProtocolConfig) -> Engine:
        engine = original(cfg)
        enter(engine, cats)
        return engine

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("tests.scan.test_properties.funded", funded_in_emode)
        engine = build(config, spec, price_moves, pin)
    book = RiskBook.from_engine(engine, subscribe=False)
    result = book.full_scan()
    assert book.below_accounts() == exact_below(engine)
    assert len(result.unconfirmed) == 0
    for threshold in ("0.97", "1.05"):
        book.full_scan(threshold)
        assert book.below_accounts() == exact_below(engine, threshold)


emode_intents = st.one_of(
    intents,
    st.tuples(st.just("emode"), st.sampled_from(ACCOUNTS), st.integers(0, 3)),
)


@pytest.mark.parametrize("preset", sorted(CONFIGS))
@SETTINGS
@given(cats=emodes, opening=accounts_spec, stream=st.lists(emode_intents, min_size=5,
                                                           max_size=40))
def test_mirror_when_emode_switches_then_scans_exact_and_equals_rebuild(
    preset: str, cats: list[int], opening: list[Any], stream: list[Any]
):
    config = CONFIGS[preset]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sidematrix, "MIN_LAYOUT_SLOTS", 3)  # re-lay out often
        engine = funded(config)
        book = RiskBook.from_engine(engine)
        book.full_scan()
        enter(engine, cats)
        for account, deposits, borrow_asset, frac in opening:
            for which, mantissa, exponent in deposits:
                apply_intent(engine, book, ("deposit", account, which, mantissa, exponent))
            apply_intent(engine, book, ("borrow", account, borrow_asset, frac))
        for intent in stream:
            if intent[0] == "emode":
                engine.apply(SetUserEMode(intent[1], intent[2]))  # may be refused
            else:
                apply_intent(engine, book, intent)
        book.incremental_scan()
        assert book.below_accounts() == exact_below(engine)
        assert_equals_rebuild(engine, book)
        book.full_scan()
        assert book.below_accounts() == exact_below(engine)


def _levered(preset: str = "aave-v3.7") -> tuple[Engine, RiskBook]:
    """alice in category 1 at 92% of 10 WETH's value borrowed in USDC; bob the same
    outside e-mode at 80%; carol in category 3 at 55%."""
    engine = funded(CONFIGS[preset])
    for account, category in (("alice", 1), ("bob", 0), ("carol", 3)):
        engine.apply(SetUserEMode(account, category))
        engine.apply(Deposit(account, "WETH", 10 * 10**18))
    engine.apply(Borrow("alice", "USDC", 18_000 * 10**6))  # LTV 90%: 18,000 of 20,000
    borrow_up_to(engine, "bob", "USDC", 10_000)
    borrow_up_to(engine, "carol", "USDC", 10_000)
    return engine, RiskBook.from_engine(engine)


def test_book_when_emode_accounts_then_weighted_at_category_threshold():
    engine, book = _levered()
    cw, _ = book.sums()
    ids = list(book.accounts.ids(range(book.n_accounts)))
    weighted = dict(zip(ids, (cw / PRICE_UNIT).tolist(), strict=True))
    # 20,000 USD of WETH at 93% (category 1), 83% (the reserve), 60% (category 3).
    assert weighted["alice"] == pytest.approx(18_600, rel=1e-12)
    assert weighted["bob"] == pytest.approx(16_600, rel=1e-12)
    assert weighted["carol"] == pytest.approx(12_000, rel=1e-12)
    assert book.mirror_state()["alice"][0] == {"WETH@1": 10 * 10**18}
    assert book.mirror_state()["bob"][0] == {"WETH": 10 * 10**18}
    # A 2.5% fall: alice's HF 19,500 x 93% / 18,000 = 1.0075 stays above 1; bob (HF
    # 19,500 x 83% / 16,100 = 1.005) too; carol (19,500 x 60% / 10,000 = 1.17) too.
    engine.apply(SetPrice("WETH", 1_950 * PRICE_UNIT))
    assert book.incremental_scan().below_count == 0
    # At 1,930: alice 0.9972 (below), bob 0.9950 (below), carol 1.158.
    engine.apply(SetPrice("WETH", 1_930 * PRICE_UNIT))
    book.incremental_scan()
    assert book.below_accounts() == exact_below(engine) == ["alice", "bob"]
    # Switching carol from category 3 to 1 moves her collateral to the category's column.
    assert engine.apply(SetUserEMode("carol", 1)).accepted
    assert book.mirror_state()["carol"][0] == {"WETH@1": 10 * 10**18}
    assert_equals_rebuild(engine, book)


def test_whatif_when_emode_accounts_then_scenario_equals_engine():
    engine, book = _levered()
    book.full_scan()
    (scenario,) = evaluate(book, [{"WETH": "-0.035"}])
    shocked = {**engine.prices, "WETH": 1_930 * PRICE_UNIT}
    exact = sorted(a for a in engine.ledger.accounts
                   if engine.model.is_liquidatable(engine.ledger, shocked, a))
    assert exact == ["alice", "bob"]
    assert scenario.prices["WETH"] == 1_930 * PRICE_UNIT
    assert scenario.accounts == len(exact)
    # alice's weighted collateral at the category's 93%, bob's at the reserve's 83%.
    assert scenario.weighted_collateral == pytest.approx(19_300 * (0.93 + 0.83), rel=1e-9)


def test_from_positions_when_emode_rows_then_category_columns_and_bad_ids_refused():
    config = CONFIGS["aave-v3.7"]
    k_weth = sorted(config.markets).index("WETH")
    k_usdc = sorted(config.markets).index("USDC")
    ids = ["a", "b"]
    rows = np.array([0, 0, 1, 1])
    assets = np.array([k_weth, k_usdc, k_weth, k_usdc])
    supply = np.array([10e18, 0.0, 10e18, 0.0])
    debt = np.array([0.0, 18_000e6, 0.0, 16_000e6])
    prices = {s: p * PRICE_UNIT for s, p in
              {"WETH": 1_930, "WBTC": 60_000, "USDC": 1, "DAI": 1}.items()}
    book = RiskBook.from_positions(config, ids, rows, assets, supply, debt, prices,
                                   emode=np.array([1, 0]))
    book.full_scan()
    h = book.health()
    order = list(book.accounts.ids(range(2)))
    health = dict(zip(order, h.tolist(), strict=True))
    assert health["a"] == pytest.approx(19_300 * 0.93 / 18_000, rel=1e-12)
    assert health["b"] == pytest.approx(19_300 * 0.83 / 16_000, rel=1e-12)
    with pytest.raises(ScanError, match="emode: unknown e-mode category 7"):
        RiskBook.from_positions(config, ids, rows, assets, supply, debt, prices,
                                emode=np.array([7, 0]))
    with pytest.raises(ScanError, match="emode: must be 2 category ids"):
        RiskBook.from_positions(config, ids, rows, assets, supply, debt, prices,
                                emode=np.array([1]))
    assert book.assets.liquidity_index_ray[k_weth] == RAY
