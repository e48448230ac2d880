"""Accounts holding perps: the perp block screens them on their whole bucket (lending and
perps) and the engine decides only the band; the answer stays the engine's (see also
``test_perp_block.py``)."""

from __future__ import annotations

from decimal import Decimal

from marginengine.config import protocol_from_dict
from marginengine.engine import Borrow, Deposit, DepositQuote, Engine, SetPrice, Trade
from marginengine.margin import MarginKind
from marginengine.scan import RiskBook
from marginengine.scan.whatif import evaluate, shocked_price

USD = 10**8
ETH = 10**18
USDC = 10**6


def perp_engine() -> Engine:
    config = protocol_from_dict({
        "preset": "aave-v3",
        "markets": {"USDC": {}, "WETH": {}},
        "perps": {"ETH-PERP": {"preset": "dydx-v4", "base_decimals": 18}},
    })
    engine = Engine(config)
    for asset, price in (("USDC", USD), ("WETH", 2_000 * USD), ("ETH-PERP", 2_000 * USD)):
        assert engine.apply(SetPrice(asset, price)).accepted
    return engine


def opened(engine: Engine) -> Engine:
    """A 100 ETH long on 20,000 USDC of quote, against a well-funded short."""
    for account, quote in (("long", 20_000), ("short", 1_000_000)):
        assert engine.apply(DepositQuote(account, quote * USDC)).accepted
    assert engine.apply(Trade("long", "short", "ETH-PERP", 100 * ETH, 2_000 * USD)).accepted
    return engine


def exact(engine) -> list[str]:
    return sorted(a for a in engine.ledger.accounts if engine.is_liquidatable(a))


def test_scans_when_accounts_hold_perps_then_engine_answer():
    engine = opened(perp_engine())
    engine.apply(Deposit("lp", "USDC", 1_000_000 * USDC))
    engine.apply(Deposit("alice", "WETH", 10 * ETH))
    assert engine.apply(Borrow("alice", "USDC", 16_000 * USDC)).accepted
    book = RiskBook.from_engine(engine)
    assert book.accounts.ids(sorted(book.perp_rows())) != []
    result = book.full_scan()
    assert book.below_accounts() == exact(engine)
    assert result.band < len(book.perp_rows())  # no longer every perp account
    # the perp market falls: no lending column moves, yet the long's bucket does
    engine.apply(SetPrice("ETH-PERP", 1_850 * USD))
    result = book.incremental_scan()
    assert result.mode == "incremental"
    assert book.below_accounts() == exact(engine)
    assert "long" in exact(engine)
    engine.apply(SetPrice("WETH", 1_900 * USD))  # 10 x 1,900 x 83% < 16,000
    book.incremental_scan()
    assert book.below_accounts() == exact(engine)
    assert "alice" in exact(engine)


def test_whatif_when_accounts_hold_perps_then_shocked_engine_answer():
    engine = opened(perp_engine())
    engine.apply(Deposit("lp", "USDC", 1_000_000 * USDC))
    engine.apply(Deposit("alice", "WETH", 10 * ETH))
    engine.apply(Borrow("alice", "USDC", 15_000 * USDC))
    book = RiskBook.from_engine(engine)
    [outcome] = evaluate(book, [{"WETH": "-0.1", "USDC": "0.02"}], keep_rows=True)
    prices = dict(engine.prices)
    prices.update({"WETH": shocked_price(prices["WETH"], Decimal("-0.1")),
                   "USDC": shocked_price(prices["USDC"], Decimal("0.02"))})
    marks = engine.marks()
    expected = []
    for account in sorted(engine.ledger.accounts):
        if engine.has_perps(account):
            state = engine.perp_model.bucket(engine.ledger, prices, marks, account).margin(
                MarginKind.MAINTENANCE)
            if state.requirement > 0 and state.value < state.requirement:
                expected.append(account)
        elif engine.model.is_liquidatable(engine.ledger, prices, account):
            expected.append(account)
    assert sorted(book.accounts.ids(outcome.rows)) == expected
    assert "alice" in expected  # 10 x 1,800 x 83% < 15,000 x 1.02


def test_scans_when_dydx_mark_above_oracle_then_book_margins_at_the_oracle_as_the_engine():
    # dydx-v4 margins at the oracle price (margin_price = "oracle"): a print at 2,400 puts
    # the mark at median(1,850, 2,400, 1,850 x 1.02) = 1,887 after the oracle falls to
    # 1,850, where the long's equity 5,000 is below its requirement 3% x 185,000 = 5,550
    # (at the mark: 8,700 against 5,661, safe). The book screens at the same price.
    engine = opened(perp_engine())
    assert engine.apply(DepositQuote("mm", 10_000 * USDC)).accepted
    assert engine.apply(Trade("mm", "short", "ETH-PERP", ETH, 2_400 * USD)).accepted
    book = RiskBook.from_engine(engine)
    book.full_scan()
    engine.apply(SetPrice("ETH-PERP", 1_850 * USD))
    assert engine.mark("ETH-PERP") == 1_887 * USD
    book.incremental_scan()
    assert "long" in exact(engine)
    assert book.below_accounts() == exact(engine)
    k = book.perps.column["ETH-PERP"]
    assert book.perps.mark_int[k] == 1_850 * USD
