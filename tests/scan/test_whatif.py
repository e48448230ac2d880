"""What-if: shocked scans equal the exact engine at the shocked prices; the curve."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marginengine.config import protocol_from_dict
from marginengine.engine import Borrow, Deposit, Engine, SetPrice
from marginengine.fixedpoint import PRICE_UNIT
from marginengine.scan import RiskBook, ScanError
from marginengine.scan.whatif import (
    evaluate,
    parse_fraction,
    scenarios_from_matrix,
    shock_curve,
    shocked_price,
)
from tests.scan.test_book import three_accounts


def exact_at(engine: Engine, prices: dict[str, int]) -> list[str]:
    table = {**dict(engine.prices), **prices}
    return sorted(a for a in engine.ledger.accounts
                  if engine.model.is_liquidatable(engine.ledger, table, a))


def test_shocked_price_when_fraction_then_floor_and_positive():
    assert shocked_price(2_000 * PRICE_UNIT, Decimal("-0.3")) == 1_400 * PRICE_UNIT
    assert shocked_price(3, Decimal("-0.5")) == 1  # floor(1.5)
    assert shocked_price(1, Decimal("-0.99")) == 1  # never zero
    assert shocked_price(100, Decimal("0.105")) == 110


def test_parse_fraction_when_bad_then_error():
    assert parse_fraction("-0.3") == Decimal("-0.3")
    with pytest.raises(ScanError, match="greater than -1"):
        parse_fraction("-1")
    with pytest.raises(ScanError, match="must be a number"):
        parse_fraction("x")


def test_evaluate_when_weth_minus_10_percent_then_alice_and_carol_with_totals():
    engine = three_accounts()
    book = RiskBook.from_engine(engine)
    [outcome] = evaluate(book, [{"WETH": "-0.1"}], keep_rows=True)
    assert outcome.prices == {"WETH": 1_800 * PRICE_UNIT}
    assert sorted(book.accounts.ids(outcome.rows)) == ["alice", "carol"]
    assert outcome.accounts == 2
    assert outcome.debt == pytest.approx(23_000)  # 15,000 + 8,000 USDC
    assert outcome.collateral == pytest.approx(27_000)  # 18,000 + 9,000 of WETH
    assert outcome.shortfall == pytest.approx(23_000 - 27_000 * 0.825)
    assert book.below_accounts() == []  # the book itself is not shocked


def test_curve_when_weth_drops_then_more_accounts_and_monotone():
    engine = three_accounts()
    book = RiskBook.from_engine(engine)
    curve = shock_curve(book, "WETH", ["0.01", "0.05", "0.1", "0.2", "0.5"])
    assert [p.accounts for p in curve] == [0, 1, 2, 3, 3]  # carol at -5%, bob at -20%
    debts = [p.debt for p in curve]
    assert debts == sorted(debts)
    assert [p.prices["WETH"] for p in curve] == [
        1_980 * PRICE_UNIT, 1_900 * PRICE_UNIT, 1_800 * PRICE_UNIT, 1_600 * PRICE_UNIT,
        1_000 * PRICE_UNIT]


def test_curve_when_base_shock_then_drops_compound_on_it():
    engine = three_accounts()
    book = RiskBook.from_engine(engine)
    [point] = shock_curve(book, "WETH", ["0.5"], base={"WETH": "-0.2", "DAI": "0.1"})
    # (1 - 0.2) x (1 - 0.5) = 0.4 of 2,000
    assert point.prices == {"WETH": 800 * PRICE_UNIT, "DAI": 110_000_000}


def test_scenarios_from_matrix_when_two_assets_then_each_row_a_scenario():
    engine = three_accounts()
    book = RiskBook.from_engine(engine)
    scenarios = scenarios_from_matrix(["WETH", "USDC"], [[0, 0], ["-0.1", 0], [0, "0.2"]])
    outcomes = evaluate(book, scenarios, keep_rows=True)
    for scenario, outcome in zip(scenarios, outcomes, strict=True):
        prices = {a: shocked_price(engine.prices[a], f) for a, f in scenario.items()}
        assert sorted(book.accounts.ids(outcome.rows)) == exact_at(engine, prices)
    with pytest.raises(ScanError, match="2 fractions for 1 assets"):
        scenarios_from_matrix(["WETH"], [[0, 0]])


def test_evaluate_when_unknown_or_unpriced_asset_then_error():
    book = RiskBook.from_engine(three_accounts())
    with pytest.raises(ScanError, match="unknown asset 'XYZ'"):
        evaluate(book, [{"XYZ": -0.1}])


def test_evaluate_when_scenarios_not_a_list_of_mappings_then_error_naming_them():
    book = RiskBook.from_engine(three_accounts())
    # One scenario passed bare: was AttributeError 'str' object has no attribute 'items'.
    with pytest.raises(ScanError, match=r"^scenarios: must be a list of scenarios, each a "
                                        r"mapping .*wrap it in a list\)$"):
        evaluate(book, {"WETH": "-0.1"})
    with pytest.raises(ScanError, match=r"^scenario 1: must be a mapping of asset to "
                                        r"fraction such as \{'WETH': '-0.3'\} \(got 'WETH'\)$"):
        evaluate(book, [{"WETH": "-0.1"}, "WETH"])
    with pytest.raises(ScanError, match=r"^scenarios: must be a list of scenarios"):
        evaluate(book, "WETH")


def test_evaluate_when_no_engine_then_band_unconfirmed():
    from marginengine.scan.synthetic import generate_book

    book = generate_book(2_000, 5, seed=4).to_book(threads=1)
    outcomes = shock_curve(book, "WETH", ["0.1", "0.3"])
    assert outcomes[0].accounts < outcomes[1].accounts
    assert all(o.unconfirmed == o.band for o in outcomes)


AAVE = protocol_from_dict({"preset": "aave-v3"})
PRICES = {"WETH": 2_000, "WBTC": 60_000, "USDC": 1, "DAI": 1}


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(
    positions=st.lists(st.tuples(st.sampled_from(["WETH", "WBTC", "DAI"]),
                                 st.integers(1, 10**6), st.sampled_from(["USDC", "WETH"]),
                                 st.integers(5_000, 10_000)), min_size=1, max_size=8),
    shocks=st.lists(st.dictionaries(st.sampled_from(["WETH", "WBTC", "USDC", "DAI"]),
                                    st.integers(-9_500, 5_000), max_size=3),
                    min_size=1, max_size=4),
)
def test_evaluate_when_random_book_and_shocks_then_equals_exact_engine(positions, shocks):
    engine = Engine(AAVE)
    for asset, usd in PRICES.items():
        engine.apply(SetPrice(asset, usd * PRICE_UNIT))
        engine.apply(Deposit("lp", asset, 10**9 * AAVE.markets[asset].unit // usd))
    for i, (coll, cents, debt, frac) in enumerate(positions):
        account = f"acct{i}"
        unit = AAVE.markets[coll].unit
        engine.apply(Deposit(account, coll, max(1, cents * unit // (PRICES[coll] * 100))))
        data = engine.account_data(account)
        amount = ((data.initial_value - data.total_debt) * frac // 10_000
                  * AAVE.markets[debt].unit // engine.prices[debt])
        if amount > 0 and coll != debt:
            engine.apply(Borrow(account, debt, amount))
    book = RiskBook.from_engine(engine)
    scenarios = [{a: Decimal(bps) / 10_000 for a, bps in s.items()} for s in shocks]
    outcomes = evaluate(book, scenarios, keep_rows=True)
    for scenario, outcome in zip(scenarios, outcomes, strict=True):
        prices = {a: shocked_price(engine.prices[a], f) for a, f in scenario.items()}
        assert outcome.prices == prices
        assert sorted(book.accounts.ids(outcome.rows)) == exact_at(engine, prices)
        assert outcome.accounts == len(outcome.rows)
    assert book.below_accounts() == exact_at(engine, {})  # the book itself is not shocked
