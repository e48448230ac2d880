"""A later keeper of a step takes an earlier keeper's refusal of an account
(``LendingScreen.refusal_holds``, sim/agents/screen.py) only where it is proven, and the
reuse never changes a decision.

1. ``AssetMarket.sells_no_higher``: when it says no sale now fetches more than at an
   earlier state, the same sale simulated on a copy of the pool at that state fetches at
   least as much, for every amount, and the mid, the sale price cap (the mid + 1) and
   the surplus bound are no higher.
2. ``LendingScreen.refusal_holds``: when it holds, the keeper's fresh decision (its ladder,
   :func:`~marginengine.liquidation.best_chunk`, asked as the keeper asks it) is a
   refusal too: on an engine's accounts directly, and inside whole cascades with random
   keepers (the ladder run anyway, and checked, every time the reuse would have held).
3. Cascades with the reuse on and off (``refusal_holds`` always ``False``) give the same
   summaries, series, liquidations and final state hash: the quickstart and the LST crash
   shrunk, the quickstart with a circuit breaker that halts liquidations, and the
   benchmark's jump scenario.
4. The breaker's and the market oracle's bound enum members read as before.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import marginengine.sim.agents.lending_keeper as lending_keeper
from marginengine.config import protocol_from_dict, read_toml
from marginengine.engine import Borrow, Deposit, Engine, SetPrice
from marginengine.fixedpoint import PRICE_UNIT
from marginengine.liquidation import Chunk, best_chunk
from marginengine.oracle.circuit_breaker import BreakerState
from marginengine.oracle.market_oracle import MarketOracle
from marginengine.scan import RiskBook
from marginengine.sim import apply_overrides
from marginengine.sim.agents import LendingScreen
from marginengine.sim.cascade import CascadeResult, run_cascade
from marginengine.sim.cascade_config import OracleSpec, VenueSpec
from marginengine.sim.markets import AssetMarket, SaleState
from marginengine.venue import ConstantProductPool

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
ETH = 10**18
USDC = 10**6


# --------------------------------------------------------------------------- 1. the pool
def _market(base_reserve: float, fee_bps: int, s0: float = 2_000.0) -> AssetMarket:
    venue = VenueSpec.model_validate({"kind": "amm", "base_reserve": base_reserve,
                                      "fee_bps": fee_bps, "arbitrage_speed": 0.5})
    return AssetMarket("WETH", venue, OracleSpec(), int(s0 * PRICE_UNIT), ETH, USDC)


def _at(market: AssetMarket, state: SaleState) -> AssetMarket:
    """A copy of ``market`` whose pool is a copy at ``state`` (its fee and reserves)."""
    pool, fee_bps, base_reserve, quote_reserve = state
    old = copy.copy(market)
    old.pool = dataclasses.replace(pool, base_reserve=base_reserve,
                                   quote_reserve=quote_reserve, fee_bps=fee_bps)
    return old


#: What may happen to a pool within a step: keepers sell, a buyer buys, arbitrage to an
#: external price, a donation of either token (reserves moved without a swap).
operation = st.one_of(
    st.tuples(st.just("sell"), st.one_of(st.floats(1e-9, 0.5), st.just(0.0))),
    st.tuples(st.just("buy"), st.floats(1e-9, 0.3)),
    st.tuples(st.just("arbitrage"), st.floats(0.5, 1.5)),
    st.tuples(st.just("donate_base"), st.floats(0.0, 0.1)),
    st.tuples(st.just("donate_quote"), st.floats(0.0, 0.1)),
)


def _apply(market: AssetMarket, op: tuple[str, float]) -> None:
    kind, x = op
    pool = market.pool
    assert pool is not None
    if kind == "sell":
        pool.sell_base(max(1, int(x * pool.base_reserve)))  # at least one smallest unit
    elif kind == "buy":
        market.buy(max(1, int(x * pool.base_reserve)))
    elif kind == "arbitrage":
        market.move(max(1, int(market.venue_price() * x)))
    elif kind == "donate_base":
        pool.base_reserve += int(x * pool.base_reserve)
    else:
        pool.quote_reserve += int(x * pool.quote_reserve)


@settings(max_examples=300, deadline=None)
@given(st.floats(1, 1e6), st.integers(0, 1000), st.lists(operation, min_size=1, max_size=8),
       st.lists(st.floats(0, 2), min_size=1, max_size=6),
       st.lists(st.one_of(st.floats(0, 3), st.floats(0.999_999, 1.000_001)), min_size=1,
                max_size=6))
def test_sells_no_higher_when_it_holds_then_every_sale_mid_cap_and_surplus_no_higher(
        base_reserve: float, fee_bps: int, ops: list[tuple[str, float]],
        shares: list[float], costs: list[float]) -> None:
    market = _market(base_reserve, fee_bps)
    states = [market.sale_state()]
    for op in ops:
        _apply(market, op)
        states.append(market.sale_state())
    pool = market.pool
    assert pool is not None
    for state in states:
        assert state is not None
        if not market.sells_no_higher(state):
            continue
        before = _at(market, state)
        assert before.pool is not None
        # Every sale, simulated on copies of the pool then and now.
        for share in shares:
            amount = max(1, int(share * pool.base_reserve))
            then = dataclasses.replace(before.pool).sell_base(amount)
            now = dataclasses.replace(pool).sell_base(amount)
            assert now <= then, (amount, now, then)
            assert market.quote_out(amount) == now  # the quote is the sale
        assert market.venue_price() <= before.venue_price()
        # the keeper's price cap (world.sale_price_cap on a venue): the mid plus one
        assert market.venue_price() + 1 <= before.venue_price() + 1
        g = (10_000 - fee_bps) / 10_000
        mid = g * before.pool.quote_reserve / USDC / before.pool.base_reserve
        for c in costs:
            cost = c * mid  # USD per smallest unit, around the fee-adjusted mid
            now_bound, then_bound = market.sale_surplus_bound(cost), \
                before.sale_surplus_bound(cost)
            assert now_bound is not None and then_bound is not None
            assert now_bound <= then_bound, (cost, now_bound, then_bound)


def test_sells_no_higher_when_sold_into_then_true_when_bought_or_other_pool_then_false(
        ) -> None:
    market = _market(1_000, 30)
    pool = market.pool
    assert pool is not None
    start = market.sale_state()
    assert start == (pool, 30, 1_000 * ETH, 2_000_000 * USDC)
    assert market.sells_no_higher(start)  # nothing moved
    # 1 WETH sold: 1 x 0.997 x 2,000,000 / (1,000 + 0.997) = 1,992.013962 USDC out
    assert pool.sell_base(ETH) == 1_992_013_962
    assert (pool.base_reserve, pool.quote_reserve) == (1_001 * ETH, 1_998_007_986_038)
    assert market.sells_no_higher(start)
    sold = market.sale_state()
    assert sold is not None
    market.buy(ETH // 2)  # the quote reserve grows: a sale may fetch more than after the
    assert not market.sells_no_higher(sold)  # sale, but still less than at the start
    assert (pool.base_reserve, pool.quote_reserve) == (1_000_499_999_999_727_566_418,
                                                       1_999_009_495_307)
    assert market.sells_no_higher(start)
    market.buy(ETH)  # now beyond the start: 999.5 WETH left
    assert not market.sells_no_higher(start)
    other = _market(1_000, 30)
    assert not other.sells_no_higher(start)  # another pool with the same reserves
    pool.fee_bps = 5  # a lower fee pays more for the same reserves
    assert not market.sells_no_higher((pool, 30, pool.base_reserve, pool.quote_reserve))
    depth = AssetMarket("WETH", VenueSpec.model_validate({"kind": "depth"}), OracleSpec(),
                        2_000 * PRICE_UNIT, ETH, USDC)
    assert depth.sale_state() is None  # no proof for a depth venue: never reused


# --------------------------------------------------------------------- 2. the refusal
PROTOCOL = protocol_from_dict({"preset": "aave-v3", "markets": {"WETH": {}, "USDC": {}}})


def _decide(engine: Engine, screen: LendingScreen, account: str, market: AssetMarket,
            gas: float, min_profit: float, capital: float | None) -> Chunk | None:
    """The keeper's ladder on ``account`` as LendingKeeper.act asks it of an asset sold on
    its venue (sale: the venue's quote; mid: the lower of oracle and venue; cap: the mid
    plus one; the pool's surplus bound); ``None``: no chunk pays."""
    pair = screen.inputs(account)
    assert pair is not None
    _, coll_asset, inputs = pair
    offer, bounds, plan0 = screen.offer(account, inputs)
    if offer <= 0:
        return None
    mid = min(engine.prices[coll_asset], market.venue_price())
    chunk, _ = best_chunk(
        inputs, offer, bounds, plan0, engine.config.aave, engine.rules.liquidation_rounding,
        lambda amount: market.quote_out(amount) / market.quote_unit, mid, gas, min_profit,
        capital, market.venue_price() + 1, surplus=market.sale_surplus_bound)
    return chunk


#: An account: whole WETH x 1/10 deposited, the share of its borrowing power borrowed.
account = st.tuples(st.integers(1, 2_000), st.floats(0.8, 0.999))
#: Keeper parameters: gas USD, minimum profit USD, capital USD (None: a flash loan).
asked = st.tuples(st.floats(0, 3_000), st.sampled_from([0.0, 5.0, 50.0, 500.0]),
                  st.one_of(st.none(), st.floats(0, 200_000)))
#: A later keeper's parameters against the first's: factors on gas and minimum profit
#: (often exactly the same), capital the same, a factor on it, or a flash loan.
#: Mostly no lower and no higher (where the record may hold), sometimes the other way.
factor = st.one_of(st.just(1.0), st.floats(1.0, 1.5), st.floats(0.5, 1.0))
later = st.tuples(factor, factor, st.one_of(st.just(1.0), st.floats(0.0, 1.0),
                                            st.floats(1.0, 2.0), st.none()))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(account, min_size=1, max_size=8), st.floats(0.75, 0.92),
       st.floats(50, 5_000), st.integers(0, 100), st.floats(0.9, 1.1), asked,
       st.one_of(st.lists(st.tuples(st.just("sell"), st.floats(0.0, 0.05)), max_size=4),
                 st.lists(operation, max_size=4)), later)
def test_refusal_holds_when_it_holds_then_the_fresh_ladder_refuses_too(
        accounts: list[tuple[int, float]], drop: float, base_reserve: float, fee_bps: int,
        venue_vs_oracle: float, first: tuple[float, float, float | None],
        ops: list[tuple[str, float]], then: tuple[float, float, float | None]) -> None:
    engine = Engine(PROTOCOL)
    engine.apply(SetPrice("USDC", PRICE_UNIT))
    engine.apply(SetPrice("WETH", 2_000 * PRICE_UNIT))
    engine.apply(Deposit("lender", "USDC", 10**10 * USDC))
    ids = []
    for k, (weth, share) in enumerate(accounts):
        a = f"a{k}"
        ids.append(a)
        engine.apply(Deposit(a, "WETH", weth * ETH // 10))
        room = engine.account_data(a).available_borrows  # base units (8 decimals)
        engine.apply(Borrow(a, "USDC", max(1, int(room * share / PRICE_UNIT * USDC))))
    oracle = int(2_000 * drop * PRICE_UNIT)
    engine.apply(SetPrice("WETH", oracle))
    market = _market(base_reserve, fee_bps)
    market.move(int(oracle * venue_vs_oracle))  # arbitrage toward (about) the oracle
    book = RiskBook.from_engine(engine)
    book.incremental_scan()
    screen = LendingScreen(engine, book)
    screen.begin(1, {"WETH": market.venue_price()}, engine.seq)
    liquidatable = [a for a in ids if screen.inputs(a) is not None]
    gas0, min_profit0, capital0 = first
    state = market.sale_state()
    assert state is not None
    for a in liquidatable:  # the first keeper: a ladder for each, its refusals noted
        if _decide(engine, screen, a, market, gas0, min_profit0, capital0) is None:
            screen.note_refusal(a, gas0, min_profit0, capital0, state)
    for op in ops:  # what happens to the venue before the next keeper looks
        _apply(market, op)
    f_gas, f_profit, f_capital = then
    gas, min_profit = gas0 * f_gas, min_profit0 * f_profit
    capital = None if f_capital is None else (
        capital0 * f_capital if capital0 is not None else 1e6 * f_capital)
    for a in liquidatable:
        if screen.refusal_holds(a, gas, min_profit, capital, market):
            assert _decide(engine, screen, a, market, gas, min_profit, capital) is None, a
