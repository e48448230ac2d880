"""The perp block of the risk book: buckets holding perps are screened on their whole margin
(lending value + perp equity against debt + perp maintenance) and only the band goes to the
engine's exact bucket rule; the answers stay the engine's.

(a) A worked example with hand-computed figures (cross bucket with lending collateral, an
    isolated sub-account), incremental scans after price moves and trades, and what-if
    shocks on a perp market and on a lending asset, checked against an engine that applies
    the same prices.
(b) Property: random books with lending and perps (cross and isolated buckets, two perp
    markets with one- and two-bracket tiers, funding accrued), prices pinned within a few
    units of an account's exact liquidation point: the full scan lists exactly the
    engine's liquidatable accounts, at thresholds 1, 0.97 and 1.05.
(c) Property: after random events (trades, quote moves, funding, prices, lending) with
    scans in between, every scan equals the engine and the mirror equals a rebuild.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from marginengine.config import ProtocolConfig, protocol_from_dict
from marginengine.engine import (
    AdvanceTime,
    Borrow,
    Deposit,
    DepositQuote,
    Engine,
    LiquidatePerp,
    SetPrice,
    Trade,
    TransferQuote,
    WithdrawQuote,
)
from marginengine.fixedpoint import PRICE_UNIT, Rounding, parse_units
from marginengine.margin import MarginKind
from marginengine.margin.perp import mark_price
from marginengine.scan import RiskBook, ScanError
from marginengine.scan.whatif import evaluate, shocked_price

USD = PRICE_UNIT
ETH = 10**18
BTC = 10**8
USDC = 10**6

SETTINGS = settings(max_examples=120, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def protocol(preset: str = "aave-v3") -> ProtocolConfig:
    markets: dict[str, Any] = ({"USDC": {}, "WETH": {}, "WBTC": {}} if preset == "aave-v3"
                               else {})
    return protocol_from_dict({
        "preset": preset,
        **({"markets": markets} if markets else {}),
        "perps": {
            "ETH-PERP": {"preset": "dydx-v4", "base_decimals": 18},
            "BTC-PERP": {"preset": "hyperliquid", "base_decimals": 8,
                         "tiers": [{"notional_floor": "0", "mmf": "0.0125", "imf": "0.025"},
                                   {"notional_floor": "100000", "mmf": "0.025",
                                    "imf": "0.05"}]},
        },
    })


AAVE = protocol("aave-v3")
COMPOUND = protocol("compound-v3")


def exact_below(engine: Engine, threshold: str = "1") -> list[str]:
    """The engine's own answer: ``is_liquidatable``, or the health below a threshold."""
    if threshold == "1":
        return sorted(a for a in engine.ledger.accounts if engine.is_liquidatable(a))
    t_wad = parse_units(threshold, 18)
    out = []
    for account in engine.ledger.accounts:
        if engine.has_perps(account):
            state = engine.bucket(account).margin(MarginKind.MAINTENANCE)
            if state.requirement > 0 and state.health < t_wad:
                out.append(account)
        else:
            data = engine.account_data(account)
            if data.total_debt and data.health_factor < t_wad:
                out.append(account)
    return sorted(out)


# ---------------------------------------------------------------------------- (a) worked
def worked_engine() -> Engine:
    """WETH and ETH-PERP at 2,000, USDC at 1 (aave-v3: WETH LT 83%, dydx-v4 MMF 3%).

    - ``cross``: 10 WETH supplied (maintenance value 10 x 2,000 x 0.83 = 16,600 USD), 1,000
      USDC of perp quote, long 50 ETH-PERP at 2,000: perp quote 1,000 - 100,000 = -99,000.
    - ``cross/iso`` (isolated sub-account): 5,000 USDC of quote, long 10 ETH-PERP at 2,000:
      perp quote -15,000.
    - ``bob``: 10 WETH supplied, 15,000 USDC borrowed (lending only).
    - ``mm``: the counterparty, 10,000,000 USDC of quote.
    """
    engine = Engine(AAVE)
    for asset, price in (("USDC", USD), ("WETH", 2_000 * USD), ("WBTC", 60_000 * USD),
                         ("ETH-PERP", 2_000 * USD), ("BTC-PERP", 60_000 * USD)):
        assert engine.apply(SetPrice(asset, price)).accepted
    events = [
        Deposit("lp", "USDC", 1_000_000 * USDC),
        Deposit("cross", "WETH", 10 * ETH),
        DepositQuote("cross", 1_000 * USDC),
        DepositQuote("mm", 10_000_000 * USDC),
        Trade("cross", "mm", "ETH-PERP", 50 * ETH, 2_000 * USD),
        DepositQuote("cross/iso", 5_000 * USDC),
        Trade("cross/iso", "mm", "ETH-PERP", 10 * ETH, 2_000 * USD),
        Deposit("bob", "WETH", 10 * ETH),
        Borrow("bob", "USDC", 15_000 * USDC),
    ]
    for e in events:
        assert engine.apply(e).accepted, e
    return engine


def test_perp_figures_when_worked_book_then_hand_computed_values():
    engine = worked_engine()
    book = RiskBook.from_engine(engine)
    result = book.full_scan()
    assert result.below_count == 0
    rows = book.accounts.rows(["cross", "cross/iso", "mm"])
    pe, pm, slack = book.perp_figures()
    slots = book.perps.slots_of(rows)
    # cross: equity -99,000 + 50 x 2,000 = 1,000 USD; maintenance 3% x 100,000 = 3,000 USD
    # cross/iso: -15,000 + 20,000 = 5,000; 3% x 20,000 = 600
    assert pe[slots[:2]].tolist() == pytest.approx([1_000 * USD, 5_000 * USD], rel=1e-12)
    assert pm[slots[:2]].tolist() == pytest.approx([3_000 * USD, 600 * USD], rel=1e-12)
    assert (slack[slots] < 1e-3 * USD).all()  # the error bound is a small fraction of a cent
    assert book.perps.isolated[slots].tolist() == [False, True, False]
    # health (16,600 + 1,000) / 3,000 = 5.8667 and 5,000 / 600 = 8.3333
    assert book.health(rows[:2]).tolist() == pytest.approx([17_600 / 3_000, 5_000 / 600])
    # the lending account is screened as before: 16,600 / 15,000
    assert book.health(book.accounts.rows(["bob"])).tolist() == pytest.approx([16_600 / 15_000])
    # the engine's exact bucket says the same
    state = engine.bucket("cross").margin(MarginKind.MAINTENANCE)
    assert (state.value, state.requirement) == (17_600 * USD, 3_000 * USD)


def test_scan_when_perp_mark_falls_then_cross_bucket_uses_lending_collateral():
    engine = worked_engine()
    book = RiskBook.from_engine(engine)
    book.full_scan()
    # ETH-PERP at 1,700: cross equity -99,000 + 85,000 = -14,000, value 16,600 - 14,000
    # = 2,600 >= maintenance 2,550: the WETH collateral keeps the cross bucket safe.
    # cross/iso: -15,000 + 17,000 = 2,000 >= 510.
    engine.apply(SetPrice("ETH-PERP", 1_700 * USD))
    result = book.incremental_scan()
    assert result.mode == "incremental"
    assert book.below_accounts() == exact_below(engine) == []
    # 1,698: value 16,600 - 14,100 = 2,500 < 2,547 -> liquidatable (the break-even mark is
    # 82,400 / 48.5 = 1,698.97)
    engine.apply(SetPrice("ETH-PERP", 1_698 * USD))
    result = book.incremental_scan()
    assert book.below_accounts() == exact_below(engine) == ["cross"]
    assert result.screened < book.n_accounts or book.n_accounts <= 5
    # the bucket is decided by the float screen unless it sits within the bound: here the
    # margin is 47 USD, far outside it, so the engine is not asked
    assert result.band == 0
    # WETH also falls to 1,900: bob 10 x 1,900 x 0.83 = 15,770 >= 15,000 (safe), cross
    # value 15,770 - 14,100 < 2,547 stays below
    engine.apply(SetPrice("WETH", 1_900 * USD))
    book.incremental_scan()
    assert book.below_accounts() == exact_below(engine) == ["cross"]
    # the isolated bucket at 1,500: equity 0 < 450
    engine.apply(SetPrice("ETH-PERP", 1_500 * USD))
    book.incremental_scan()
    assert book.below_accounts() == exact_below(engine) == ["cross", "cross/iso"]


def test_scan_when_liquidated_and_traded_then_mirror_follows():
    engine = worked_engine()
    book = RiskBook.from_engine(engine)
    book.full_scan()
    engine.apply(SetPrice("ETH-PERP", 1_690 * USD))
    book.incremental_scan()
    assert book.below_accounts() == ["cross"]
    assert engine.apply(LiquidatePerp("mm", "cross", "ETH-PERP", 0)).accepted
    book.incremental_scan()
    assert book.below_accounts() == exact_below(engine)
    rebuilt = RiskBook.from_engine(engine, subscribe=False)
    assert book.perp_state() == rebuilt.perp_state()


def test_whatif_when_perp_and_asset_shocked_then_equals_engine_at_same_prices():
    engine = worked_engine()
    book = RiskBook.from_engine(engine)
    # ETH-PERP -15% alone: mark 1,700 (median of 1,700, the last trade 2,000 and 1,700),
    # the cross bucket holds (2,600 >= 2,550); with WETH -15% too, 14,110 - 14,000 = 110 <
    # 2,550 and bob 10 x 1,700 x 0.83 = 14,110 < 15,000 go below.
    perp_only, both = evaluate(book, [{"ETH-PERP": "-0.15"},
                                      {"ETH-PERP": "-0.15", "WETH": "-0.15"}], keep_rows=True)
    assert perp_only.marks == {"ETH-PERP": 1_700 * USD}
    assert perp_only.accounts == 0
    assert sorted(book.accounts.ids(both.rows)) == ["bob", "cross"]
    for outcome, shocks in ((perp_only, {"ETH-PERP": "-0.15"}),
                            (both, {"ETH-PERP": "-0.15", "WETH": "-0.15"})):
        twin = worked_engine()
        for asset, fraction in shocks.items():
            price = shocked_price(twin.prices[asset], Decimal(fraction))
            assert outcome.prices[asset] == price
            assert twin.apply(SetPrice(asset, price)).accepted
        assert sorted(book.accounts.ids(outcome.rows)) == exact_below(twin)
    # the book itself did not move
    assert book.perps.mark_int[book.perps.column["ETH-PERP"]] == 2_000 * USD


def test_whatif_when_quote_asset_shocked_then_perp_buckets_revalued():
    engine = worked_engine()
    book = RiskBook.from_engine(engine)
    # USDC -50%: every USDC amount halves in USD; cross: 16,600 + 500 vs 1,500 (safe);
    # bob's debt 7,500 (safe). USDC +1000%: bob 16,600 < 165,000, cross 16,600 + 11,000 <
    # 33,000.
    low, high = evaluate(book, [{"USDC": "-0.5"}, {"USDC": "10"}], keep_rows=True)
    assert low.accounts == 0
    assert sorted(book.accounts.ids(high.rows)) == ["bob", "cross"]
    twin = worked_engine()
    twin.apply(SetPrice("USDC", 11 * USD))
    assert exact_below(twin) == ["bob", "cross"]


def test_scan_when_perp_market_has_no_price_then_error_names_market():
    config = protocol()
    engine = Engine(config)
    for asset, price in (("USDC", USD), ("ETH-PERP", 2_000 * USD)):
        engine.apply(SetPrice(asset, price))
    engine.apply(DepositQuote("a", 10_000 * USDC))
    engine.apply(DepositQuote("b", 10_000 * USDC))
    assert engine.apply(Trade("a", "b", "ETH-PERP", ETH, 2_000 * USD)).accepted
    book = RiskBook.from_engine(engine)
    book.perps.set_market(book.perps.column["ETH-PERP"], 0)
    with pytest.raises(ScanError, match=r"prices\.ETH-PERP: no index price set, and 2 perp"):
        book.full_scan()


def test_whatif_when_unknown_perp_symbol_then_error_lists_perp_markets():
    book = RiskBook.from_engine(worked_engine())
    with pytest.raises(ScanError, match="unknown asset 'SOL-PERP'.*ETH-PERP"):
        evaluate(book, [{"SOL-PERP": "-0.1"}])


def test_arrays_book_when_perps_then_screened_without_engine():
    """A book from arrays with a perp block (what the benchmark builds)."""
    from marginengine.scan.book import PerpArrays

    config = protocol()
    prices = {"USDC": USD, "WETH": 2_000 * USD, "WBTC": 60_000 * USD,
              "ETH-PERP": 2_000 * USD, "BTC-PERP": 60_000 * USD}
    ids = ["a", "b", "c"]
    k = {s: i for i, s in enumerate(sorted(config.markets))}
    # a: 10 WETH supplied, no perps. b: short 1 BTC-PERP on 1,000 USDC of quote after the
    # sale (quote 61,000): equity 61,000 - 60,000 = 1,000 >= 750 (1.25%). c: quote only.
    perps = PerpArrays(rows=np.array([1]), markets=np.array([0]),  # BTC-PERP sorts first
                       sizes=np.array([-1.0 * BTC]), quote_rows=np.array([1, 2]),
                       quote=np.array([61_000.0 * USDC, 5.0 * USDC]))
    book = RiskBook.from_positions(config, ids, np.array([0]), np.array([k["WETH"]]),
                                   np.array([10.0 * ETH]), np.array([0.0]), prices,
                                   perps=perps)
    assert book.full_scan().below_count == 0
    assert book.health(np.array([book.accounts.row("b")])).tolist() == pytest.approx(
        [1_000 / 750])
    book.set_price("BTC-PERP", 60_200 * USD)  # 800 < 752.5? no: 61,000 - 60,200 = 800 >= 752.5
    assert book.incremental_scan().below_count == 0
    book.set_price("BTC-PERP", 60_300 * USD)  # 700 < 753.75
    result = book.incremental_scan()
    assert book.below_accounts() == ["b"]
    assert result.band == 0


# ---------------------------------------------------------------------------- builders
def funded(config: ProtocolConfig) -> Engine:
    engine = Engine(config)
    prices = {"USDC": 1, "WETH": 2_000, "WBTC": 60_000, "COMP": 50, "ETH-PERP": 2_000,
              "BTC-PERP": 60_000}
    for asset in (*config.markets, *config.perps):
        assert engine.apply(SetPrice(asset, prices[asset] * USD)).accepted
    for asset, market in config.markets.items():
        if market.borrowable:
            engine.apply(Deposit("lp", asset, 10**9 * market.unit // prices[asset]))
    assert engine.apply(DepositQuote("mm", 10**12 * USDC)).accepted
    return engine


OWNERS = ["a", "b", "c", "d"]
BUCKETS = [*OWNERS, "a/iso", "b/iso"]


def trade(engine: Engine, account: str, market: str, milli: int, skew_bps: int) -> None:
    """Trade ``milli`` thousandths of a token against ``mm`` near the index (may be refused:
    initial margin)."""
    if milli == 0:
        return
    perp = engine.config.perps[market]
    size = abs(milli) * perp.base_unit // 1000
    price = max(1, engine.prices[market] * (10_000 + skew_bps) // 10_000)
    buyer, seller = (account, "mm") if milli > 0 else ("mm", account)
    engine.apply(Trade(buyer, seller, market, size, price))


def pin_perp(engine: Engine, account: str, offset: int) -> None:
    """Set the index of one of ``account``'s perp markets ``offset`` units from where its
    bucket becomes liquidatable (the mark follows the index by the engine's rule)."""
    held = engine.ledger.accounts.get(account)
    if held is None or not held.perps:
        return
    market = sorted(held.perps)[0]
    state = engine.ledger.clearing.markets[market]
    prices = dict(engine.prices)

    def liquidatable(index: int) -> bool:
        marks = engine.marks()
        marks[market] = mark_price(index, state.last_trade_price, state.basis_ema_ppm)
        s = engine.perp_model.bucket(engine.ledger, prices, marks, account).margin(
            MarginKind.MAINTENANCE)
        return s.requirement > 0 and s.value < s.requirement

    # (not from 1: at a dust mark the notional truncates to 0, so has no requirement)
    lo, hi = engine.prices[market] // 4, 4 * engine.prices[market]
    if liquidatable(lo) == liquidatable(hi):
        return
    rising = liquidatable(hi)  # a short: liquidatable when the price is high
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if liquidatable(mid) == rising:
            hi = mid
        else:
            lo = mid
    engine.apply(SetPrice(market, max(1, hi + offset)))


bucket_spec = st.lists(
    st.tuples(
        st.sampled_from(BUCKETS),
        st.integers(0, 2), st.integers(0, 50_000),          # collateral asset, USD (x 1,000)
        st.integers(0, 9_000),                               # borrow bps of the room
        st.integers(0, 40_000),                              # perp quote, USDC
        st.lists(st.tuples(st.integers(0, 1), st.integers(-60_000, 60_000),
                           st.integers(-30, 30)), max_size=3),  # market, milli-size, skew
    ),
    min_size=1, max_size=6,
)


def build(config: ProtocolConfig, spec: list[Any], moves: list[Any], hours: int,
          pins: list[Any]) -> Engine:
    engine = funded(config)
    colls = [a for a, m in config.markets.items() if m.collateral]
    markets = sorted(config.perps)
    for account, coll, usd, borrow_bps, quote, positions in spec:
        if usd and "/" not in account:
            asset = colls[coll % len(colls)]
            unit = config.markets[asset].unit
            engine.apply(Deposit(account, asset, usd * 1000 * unit * USD
                                 // engine.prices[asset]))
        if quote:
            engine.apply(DepositQuote(account, quote * USDC))
        for which, milli, skew in positions:
            trade(engine, account, markets[which], milli, skew)
        if borrow_bps and "/" not in account:
            data = engine.account_data(account)
            base = engine.config.compound.base_asset if engine.config.compound else "USDC"
            room = data.initial_value - data.total_debt
            amount = room * borrow_bps // 10_000 * USDC // engine.prices[base]
            if amount > 0:
                engine.apply(Borrow(account, base, amount))
    if hours:
        engine.apply(AdvanceTime(3_600 * hours))
    symbols = [*sorted(config.markets), *markets]
    for which, factor in moves:
        asset = symbols[which % len(symbols)]
        engine.apply(SetPrice(asset, max(1, engine.prices[asset] * factor // 10_000)))
    for who, offset in pins:
        holders = sorted(a for a, acc in engine.ledger.accounts.items()
                         if acc.perps and a != "mm")
        if holders:
            pin_perp(engine, holders[who % len(holders)], offset)
    return engine


@pytest.mark.parametrize("config", [AAVE, COMPOUND], ids=["aave-v3", "compound-v3"])
@SETTINGS
@given(spec=bucket_spec,
       moves=st.lists(st.tuples(st.integers(0, 8),
                                # price factors in bps: moves, and a rare crash to dust
                                st.one_of(st.integers(6_000, 14_000), st.integers(0, 3))),
                      max_size=4),
       dust=st.booleans(),
       hours=st.integers(0, 30),
       pins=st.lists(st.tuples(st.integers(0, 5), st.integers(-3, 3)), min_size=1,
                     max_size=3))
def test_full_scan_when_random_lending_and_perp_book_then_equals_exact_engine(
    config: ProtocolConfig, spec: list[Any], moves: list[Any], hours: int, pins: list[Any],
    dust: bool,
):
    engine = build(config, spec, moves, hours, pins)
    if dust:  # ETH-PERP at 1e-8 USD: dYdX notionals truncate to 0 (no requirement)
        engine.apply(SetPrice("ETH-PERP", 1))
    book = RiskBook.from_engine(engine, subscribe=False)
    result = book.full_scan()
    perp_buckets = sum(1 for a in engine.ledger.accounts if engine.has_perps(a))
    event(f"band {min(result.band, 2)}; below {min(result.below_count, 3)}; "
          f"perp buckets {min(perp_buckets, 4)}; positions {min(book.perps.n_pos, 4)}")
    assert book.perps.buckets == perp_buckets
    assert book.below_accounts() == exact_below(engine)
    for threshold in ("0.97", "1.05"):
        book.full_scan(threshold)
        assert book.below_accounts() == exact_below(engine, threshold)
    # the float figures are within their bound of the engine's exact bucket
    pe, pm, slack = book.perp_figures()
    for account in engine.ledger.accounts:
        if not engine.has_perps(account):
            continue
        risk = engine.bucket(account)
        slot = book.perps.row_slot[book.accounts.row(account)]
        assert abs(pe[slot] - risk.usd(risk.perp_equity, Rounding.DOWN)) <= slack[slot]
        assert abs(pm[slot] - risk.usd(risk.perp_maintenance, Rounding.UP)) <= slack[slot]


# ---------------------------------------------------------------------------- (c) events
intents = st.one_of(
    st.tuples(st.just("trade"), st.sampled_from(BUCKETS), st.integers(0, 1),
              st.integers(-40_000, 40_000), st.integers(-40, 40)),
    st.tuples(st.just("quote"), st.sampled_from(BUCKETS), st.integers(1, 30_000)),
    st.tuples(st.just("withdraw_quote"), st.sampled_from(BUCKETS), st.integers(1, 30_000)),
    st.tuples(st.just("to_iso"), st.sampled_from(OWNERS[:2]), st.integers(1, 20_000)),
    st.tuples(st.just("deposit"), st.sampled_from(OWNERS), st.integers(0, 2),
              st.integers(1, 50_000)),
    st.tuples(st.just("borrow"), st.sampled_from(OWNERS), st.integers(1, 9_000)),
    st.tuples(st.just("price"), st.integers(0, 8), st.integers(7_000, 13_000)),
    st.tuples(st.just("pin"), st.integers(0, 5), st.integers(-2, 2)),
    st.tuples(st.just("time"), st.sampled_from([60, 3_600, 7 * 3_600, 86_400])),
    st.tuples(st.just("liquidate"), st.integers(0, 5)),
    st.tuples(st.just("scan"), st.booleans()),
)


def apply_intent(engine: Engine, book: RiskBook, intent: tuple[Any, ...]) -> None:
    config = engine.config
    kind = intent[0]
    markets = sorted(config.perps)
    if kind == "trade":
        _, account, which, milli, skew = intent
        trade(engine, account, markets[which], milli, skew)
    elif kind == "quote":
        engine.apply(DepositQuote(intent[1], intent[2] * USDC))
    elif kind == "withdraw_quote":
        engine.apply(WithdrawQuote(intent[1], intent[2] * USDC))
    elif kind == "to_iso":
        engine.apply(TransferQuote(intent[1], intent[1] + "/iso", intent[2] * USDC))
    elif kind == "deposit":
        colls = [a for a, m in config.markets.items() if m.collateral]
        asset = colls[intent[2] % len(colls)]
        unit = config.markets[asset].unit
        engine.apply(Deposit(intent[1], asset, intent[3] * 1000 * unit * USD
                             // engine.prices[asset]))
    elif kind == "borrow":
        data = engine.account_data(intent[1])
        base = config.compound.base_asset if config.compound else "USDC"
        amount = (data.initial_value - data.total_debt) * intent[2] // 10_000 * USDC \
            // engine.prices[base]
        if amount > 0:
            engine.apply(Borrow(intent[1], base, amount))
    elif kind == "price":
        symbols = [*sorted(config.markets), *markets]
        asset = symbols[intent[1] % len(symbols)]
        engine.apply(SetPrice(asset, max(1, engine.prices[asset] * intent[2] // 10_000)))
    elif kind == "pin":
        holders = sorted(a for a, acc in engine.ledger.accounts.items()
                         if acc.perps and a != "mm")
        if holders:
            pin_perp(engine, holders[intent[1] % len(holders)], intent[2])
    elif kind == "time":
        engine.apply(AdvanceTime(intent[1]))
    elif kind == "liquidate":
        below = exact_below(engine)
        if below:
            account = below[intent[1] % len(below)]
            held = engine.ledger.accounts[account].perps
            if held:
                engine.apply(LiquidatePerp("mm", account, sorted(held)[0], 0))
    elif kind == "scan":
        result = book.full_scan() if intent[1] else book.incremental_scan()
        assert len(result.unconfirmed) == 0
        assert book.below_accounts() == exact_below(engine)


@pytest.mark.parametrize("config", [AAVE, COMPOUND], ids=["aave-v3", "compound-v3"])
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(spec=bucket_spec, steps=st.lists(intents, min_size=1, max_size=25))
def test_incremental_when_random_events_then_scans_exact_and_mirror_equals_rebuild(
    config: ProtocolConfig, spec: list[Any], steps: list[Any]
):
    engine = build(config, spec, [], 0, [])
    book = RiskBook.from_engine(engine)
    book.full_scan()
    for intent in steps:
        apply_intent(engine, book, intent)
    book.incremental_scan()
    assert book.below_accounts() == exact_below(engine)
    rebuilt = RiskBook.from_engine(engine, subscribe=False)
    assert book.mirror_state() == rebuilt.mirror_state()
    assert book.perp_state() == rebuilt.perp_state()
    p, q = book.perps, rebuilt.perps
    assert (p.index_int, p.mark_int, p.funding_int) == (q.index_int, q.mark_int, q.funding_int)
    rebuilt.full_scan()
    assert rebuilt.below_accounts() == book.below_accounts()
    ids = sorted(engine.ledger.accounts)
    if ids:
        mine = book.health(book.accounts.rows(ids))
        theirs = rebuilt.health(rebuilt.accounts.rows(ids))
        assert np.allclose(mine, theirs, rtol=1e-9, atol=0, equal_nan=True)


def test_mirror_when_funding_accrues_then_perp_equity_falls_by_the_funding():
    """Hyperliquid's interest component alone (mark = index, so no premium): a long of
    1 BTC at 60,000 pays about 0.0000125 x 60,000 = 0.75 USDC an hour
    (config/perp.py, PERP_PRESETS["hyperliquid"]); the book's equity falls by exactly
    what the engine's funding index charges (the rate's own rounding is the engine's)."""
    engine = worked_engine()
    assert engine.apply(DepositQuote("carol", 10_000 * USDC)).accepted
    assert engine.apply(Trade("carol", "mm", "BTC-PERP", BTC, 60_000 * USD)).accepted
    book = RiskBook.from_engine(engine)
    book.full_scan()
    slot = book.perps.row_slot[book.accounts.row("carol")]
    before = book.perp_figures()[0][slot]
    assert before == pytest.approx(10_000 * USD)
    assert engine.apply(AdvanceTime(10 * 3_600)).accepted
    book.incremental_scan()
    after = book.perp_figures()[0][slot]
    owed = 10_000 * USDC - engine.bucket("carol").perp_equity  # quote smallest units
    assert 7_000_000 <= owed <= 7_500_000  # 0.70-0.75 USDC an hour for ten hours
    assert before - after == pytest.approx(owed / USDC * USD, rel=1e-9)
    assert book.perp_state() == RiskBook.from_engine(engine, subscribe=False).perp_state()


def test_scan_when_mark_swept_across_liquidation_point_then_every_step_exact():
    """The cross bucket's exact break-even index (bisected with the engine's rule), then
    every index from 40 units (1e-8 USD each) below to 40 above, and every 50th from 2,000
    below to 2,000 above: the book's answer is the engine's at each one. Those go to the
    engine: the lending part's bound includes Aave's averaged threshold (up to one bps of
    the 20,000 USD collateral, 2 USD), far wider than these steps (5e-7 USD of value each).
    Ten dollars of index away (500 USD of value) the screen decides alone."""
    engine = worked_engine()
    pin_perp(engine, "cross", 0)  # the first index at which the bucket is not below
    edge = engine.prices["ETH-PERP"]
    assert 1_698 * USD < edge < 1_699 * USD  # 82,400 / 48.5 = 1,698.97
    book = RiskBook.from_engine(engine)
    book.full_scan()
    for offset in [*range(-40, 41), *range(-2_000, 2_001, 50)]:
        engine.apply(SetPrice("ETH-PERP", edge + offset))
        book.incremental_scan()
        assert ("cross" in book.below_accounts()) == engine.is_liquidatable("cross")
        assert ("cross" in book.below_accounts()) == (offset < 0)
    for offset, below in ((-10 * USD, True), (10 * USD, False)):
        engine.apply(SetPrice("ETH-PERP", edge + offset))
        result = book.incremental_scan()
        assert ("cross" in book.below_accounts()) is below
        assert result.band == 0


def test_scan_when_mark_is_dust_then_requirement_zero_and_not_below_like_engine():
    """At an index of 1e-8 USD the cross bucket's 50 ETH are worth 0.0000005 USDC: dYdX
    truncates that notional to 0, so the maintenance is 0 and the engine's bucket has no
    requirement (lending debt: none), so it is not liquidatable however negative its value
    (16,600 - 99,000). The screen must not call it surely below."""
    engine = worked_engine()
    book = RiskBook.from_engine(engine)
    book.full_scan()
    engine.apply(SetPrice("ETH-PERP", 1))
    state = engine.bucket("cross").margin(MarginKind.MAINTENANCE)
    assert state.requirement == 0 and state.value < 0
    book.incremental_scan()
    assert book.below_accounts() == exact_below(engine)
    assert "cross" not in book.below_accounts()
