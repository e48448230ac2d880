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
from tests.sim.bench_scenario import bench

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


# ------------------------------------------------------------------- 3. whole cascades
class Shadow:
    """Every time ``refusal_holds`` would hold, the keeper walks its ladder anyway (the
    reuse off), and the ladder must refuse: the claim checked on the keeper's own call."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.held = 0
        self.checked = 0
        self._pending = False
        holds, ladder = LendingScreen.refusal_holds, best_chunk  # the keeper's

        def shadow_holds(screen: LendingScreen, *args: Any) -> bool:
            self._pending = holds(screen, *args)
            self.held += self._pending
            return False

        def checked_ladder(*args: Any, **kwargs: Any) -> tuple[Chunk | None, int]:
            pending, self._pending = self._pending, False
            chunk, planned = ladder(*args, **kwargs)
            if pending:
                self.checked += 1
                assert chunk is None, "a reused refusal where the fresh ladder pays"
            return chunk, planned

        monkeypatch.setattr(LendingScreen, "refusal_holds", shadow_holds)
        monkeypatch.setattr(lending_keeper, "best_chunk", checked_ladder)


def _figures(result: CascadeResult) -> dict[str, Any]:
    """What a run decided: its summary (the final state hash in it), series and
    liquidations, as plain data."""
    figures: dict[str, Any] = json.loads(json.dumps(
        {"summary": result.summary, "series": result.series, "liquidations": result.ltv_log},
        sort_keys=True, default=str))
    return figures


def _reuses(data: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """The run's figures with the reuse on, and how often it held."""
    held = 0
    holds = LendingScreen.refusal_holds

    def counted(screen: LendingScreen, *args: Any) -> bool:
        nonlocal held
        answer = holds(screen, *args)
        held += answer
        return answer

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(LendingScreen, "refusal_holds", counted)
        result = run_cascade(copy.deepcopy(data), amplification=False)
    return _figures(result), held


SMALL_QUICKSTART = ["book.accounts=300", "book.total_debt=9000000", "book.whales=1",
                    "steps=40", "price.crash_at=10",
                    # a thin pool: slippage refuses many ladders (what the reuse answers)
                    "venue.base_reserve=2000"]
#: Liquidations halted for a while after the crash (a 30% move within the hour).
BREAKER = ["protocol.oracle.breaker.enabled=true", "protocol.oracle.breaker.window=3600",
           "protocol.oracle.breaker.pause_borrowing_move=0.05",
           "protocol.oracle.breaker.halt_move=0.3", "protocol.oracle.breaker.cool_off=3600"]
SMALL_LST = ["book.accounts=400", "book.total_debt=24000000", "book.whales=2", "steps=40",
             "price.assets.WETH.end_at=20", "venues.WETH.base_reserve=4000",
             "venues.wstETH.base_reserve=800"]


@pytest.mark.parametrize("name", ["quickstart", "quickstart_breaker", "lst_crash", "bench"])
def test_cascade_when_refusal_reuse_off_then_same_run(name: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    if name == "bench":
        data = bench(1_000, 200)
    else:
        example = "lst_crash" if name == "lst_crash" else "quickstart"
        overrides = SMALL_LST if name == "lst_crash" else SMALL_QUICKSTART
        overrides = overrides + (BREAKER if name == "quickstart_breaker" else [])
        data = apply_overrides(read_toml(EXAMPLES / f"{example}.toml"), overrides)
    on, held = _reuses(data)
    assert held > 0  # the reuse answered some ladders: the comparison can fail
    shadow = Shadow(monkeypatch)
    off = run_cascade(copy.deepcopy(data), amplification=False)
    assert shadow.held == shadow.checked == held  # each reuse was a fresh refusal
    assert _figures(off) == on
    assert on["summary"]["liquidation_count"] > 0
    if name == "quickstart_breaker":
        # The breaker halted the market (no liquidation then) and came back.
        history = off.engine.state.oracles["WETH"].breaker.history  # type: ignore[union-attr]
        assert [t.to_state for t in history] == [BreakerState.HALTED, BreakerState.NORMAL]


#: A cascade's keepers: capital (None: a flash loan) and minimum profit, all without
#: latency, so each asks of the accounts the others refused.
keeper = st.tuples(st.one_of(st.none(), st.sampled_from([2e4, 1e5, 1e6, 1e12])),
                   st.sampled_from([0, 5, 50, 500]))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(keeper, min_size=2, max_size=4), st.integers(0, 2**16),
       st.sampled_from([300, 1_000, 5_000]), st.sampled_from([5, 30, 100]))
def test_cascade_when_random_keepers_then_every_reused_refusal_is_a_fresh_refusal(
        keepers: list[tuple[float | None, int]], seed: int, base_reserve: int,
        fee_bps: int) -> None:
    data = apply_overrides(read_toml(EXAMPLES / "quickstart.toml"), [
        "book.accounts=150", "book.total_debt=4500000", "book.whales=1", "steps=25",
        "price.crash_at=8", f"seed={seed}", f"venue.base_reserve={base_reserve}",
        f"venue.fee_bps={fee_bps}"])
    data["keepers"] = [
        {"id": f"k{i}", "min_profit": profit,
         **({"flash_loan": True} if capital is None else {"capital": capital})}
        for i, (capital, profit) in enumerate(keepers)]
    with pytest.MonkeyPatch.context() as patch:
        shadow = Shadow(patch)
        run_cascade(data, amplification=False)
    assert shadow.checked == shadow.held


# ------------------------------------------------------------- 4. bound enum members
@pytest.mark.parametrize(("state", "allows"), [
    (BreakerState.NORMAL, True), (BreakerState.BORROWING_PAUSED, True),
    (BreakerState.LIQUIDATIONS_PAUSED, False), (BreakerState.HALTED, False)])
def test_breaker_state_when_asked_then_liquidation_allowed_up_to_borrowing_paused(
        state: BreakerState, allows: bool) -> None:
    assert state.allows_liquidation is allows
    assert allows is (state.severity <= BreakerState.BORROWING_PAUSED.severity)


def test_market_oracle_when_no_breaker_then_normal() -> None:
    oracle = MarketOracle("WETH", PROTOCOL.oracle)
    assert oracle.breaker is None and oracle.breaker_state is BreakerState.NORMAL
