"""The lending keepers' shortcuts (sim/agents/screen.py) never change a decision.

1. The scan's below set *is* the engine's liquidation rule (threshold 1): the screen takes
   an account in it, untouched since the scan, as liquidatable without asking the engine
   again. Property: over random books and random price moves and interest, every account
   is in the below set exactly when ``engine.is_liquidatable`` says so.
2. The screen's no-slippage profit bound (with the close factor where the rule surely
   applies it) never skips an account whose largest liquidation pays: for any need just
   below the exact profit of that liquidation at the oracle price, ``may_pay`` is True.
3. The pool's surplus bound (``AssetMarket.sale_surplus_bound``, with which the ladder
   skips an account no chunk of which can pay after slippage) is at least what any sale
   earns over its cost.
4. A whole cascade with the shortcuts gives the same summary, series and liquidations as
   one without them (every unsafe account checked exactly, every ladder walked).
"""

from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marginengine.config import protocol_from_dict
from marginengine.engine import AdvanceTime, Borrow, Deposit, Engine, SetPrice
from marginengine.fixedpoint import PRICE_UNIT
from marginengine.liquidation import LiquidationRefused, plan_liquidation
from marginengine.scan import RiskBook
from marginengine.sim.agents import LendingScreen
from marginengine.sim.cascade import CascadeRunner, scenario_spec
from marginengine.sim.cascade_config import OracleSpec, VenueSpec
from marginengine.sim.markets import AssetMarket
from tests.sim.bench_scenario import bench

ETH = 10**18
USDC = 10**6
BTC = 10**8

PROTOCOL = protocol_from_dict({"preset": "aave-v3",
                               "markets": {"WETH": {}, "USDC": {}, "WBTC": {}, "DAI": {}}})

#: One account: WETH and WBTC collateral (whole tokens x 1/100), USDC and DAI borrowed as a
#: share of what it may borrow (the engine refuses more).
#: Often one collateral and one debt (where the close factor's cap is proven), often near
#: the threshold (health above 0.95 but below 1 after a small move).
account = st.tuples(st.integers(0, 5_000), st.one_of(st.just(0), st.integers(1, 300)),
                    st.floats(0.5, 0.99),
                    st.one_of(st.sampled_from([0.0, 1.0]), st.floats(0.0, 1.0)))
moves = st.lists(st.tuples(st.one_of(st.floats(0.8, 1.0), st.floats(0.55, 1.15)),
                           st.floats(0.6, 1.1), st.integers(0, 30 * 86_400)),
                 min_size=1, max_size=6)


def _engine(accounts: list[tuple[int, int, float, float]]) -> tuple[Engine, list[str]]:
    engine = Engine(PROTOCOL)
    prices = {"WETH": 2_000, "USDC": 1, "WBTC": 60_000, "DAI": 1}
    for asset, price in prices.items():
        engine.apply(SetPrice(asset, price * PRICE_UNIT))
    engine.apply(Deposit("lender", "USDC", 10**9 * USDC))
    engine.apply(Deposit("lender", "DAI", 10**9 * ETH))
    ids = []
    for k, (weth, wbtc, share, usdc_part) in enumerate(accounts):
        a = f"a{k:03d}"
        ids.append(a)
        if weth:
            engine.apply(Deposit(a, "WETH", weth * ETH // 100))
        if wbtc:
            engine.apply(Deposit(a, "WBTC", wbtc * BTC // 100))
        room = engine.account_data(a).available_borrows  # base units (8 decimals)
        usd = room * share / PRICE_UNIT
        if usd * usdc_part >= 1:
            engine.apply(Borrow(a, "USDC", int(usd * usdc_part * USDC)))
        if usd * (1 - usdc_part) >= 1:
            engine.apply(Borrow(a, "DAI", int(usd * (1 - usdc_part) * 0.999 * ETH)))
    return engine, ids


def _move(engine: Engine, weth: float, wbtc: float, seconds: int) -> None:
    if seconds:
        engine.apply(AdvanceTime(seconds))
    engine.apply(SetPrice("WETH", max(1, int(2_000 * weth * PRICE_UNIT))))
    engine.apply(SetPrice("WBTC", max(1, int(60_000 * wbtc * PRICE_UNIT))))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(account, min_size=2, max_size=12), moves)
def test_scan_below_set_when_prices_and_interest_move_then_is_the_engine_rule(
        accounts: list[tuple[int, int, float, float]],
        path: list[tuple[float, float, int]]) -> None:
    engine, ids = _engine(accounts)
    book = RiskBook.from_engine(engine)
    book.incremental_scan()
    for weth, wbtc, seconds in path:
        _move(engine, weth, wbtc, seconds)
        scan = book.incremental_scan()
        assert scan.threshold == 1 and not len(scan.unconfirmed)
        below = set(book.below_accounts())
        assert below == {a for a in ids if engine.is_liquidatable(a)}


def _profit_usd(engine: Engine, account_id: str) -> float | None:
    """USD the largest liquidation of the account earns at the oracle price, no gas."""
    pair = engine.liquidation_inputs(account_id)
    if pair is None:
        return None
    _, _, inputs = pair
    try:
        plan = plan_liquidation(inputs, inputs.debt_balance, engine.config.aave,
                                engine.rules.liquidation_rounding)
    except LiquidationRefused:
        return None
    got = plan.collateral_to_liquidator / inputs.collateral_unit * inputs.collateral_price
    paid = plan.debt_repaid / inputs.debt_unit * inputs.debt_price
    return (got - paid) / PRICE_UNIT


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(account, min_size=2, max_size=12), moves, st.floats(1e-9, 1e-3))
def test_screen_bound_when_largest_liquidation_pays_then_never_skipped(
        accounts: list[tuple[int, int, float, float]],
        path: list[tuple[float, float, int]], below_by: float) -> None:
    engine, _ = _engine(accounts)
    book = RiskBook.from_engine(engine)
    screen = LendingScreen(engine, book)
    book.incremental_scan()
    for step, (weth, wbtc, seconds) in enumerate(path, start=1):
        _move(engine, weth, wbtc, seconds)
        book.incremental_scan()
        screen.begin(step, {}, engine.seq)
        for a in book.below_accounts():
            profit = _profit_usd(engine, a)
            if profit is not None and profit > 0:
                # A need just below what the largest liquidation earns: it pays, so the
                # screen must let the keeper look.
                assert screen.may_pay(a, profit * (1 - below_by)), (a, profit)


def _run(data: dict[str, Any]) -> tuple[CascadeRunner, dict[str, Any]]:
    spec, protocol = scenario_spec(data)
    runner = CascadeRunner(spec, protocol, np.random.default_rng(spec.seed))
    runner.start()
    for i in range(1, spec.steps + 1):
        runner.step(i)
    return runner, runner.summary()


def test_cascade_when_shortcuts_off_then_same_run(monkeypatch: Any) -> None:
    data = bench(800, 200)
    fast, fast_summary = _run(data)
    assert fast.liquidation_count > 50
    screen = fast.lending_screen()
    assert screen.checks_skipped > 0  # the scan's answer was used
    original_begin = LendingScreen.begin

    def begin_without(self: LendingScreen, step: int, mids: Any = None,
                      scan_seq: int | None = None) -> None:
        original_begin(self, step, mids, None)  # every account checked exactly

    monkeypatch.setattr(LendingScreen, "begin", begin_without)
    monkeypatch.setattr(LendingScreen, "may_pay", lambda self, account, need: True)
    monkeypatch.setattr(AssetMarket, "sale_surplus_bound", lambda self, cost: None)
    slow, slow_summary = _run(data)
    assert slow.lending_screen().checks_skipped == 0
    assert slow_summary == fast_summary
    assert slow.series == fast.series
    assert slow.ltv_log == fast.ltv_log


@settings(max_examples=200, deadline=None)
@given(st.floats(10, 1e6), st.integers(0, 100), st.floats(100, 5_000), st.floats(0.3, 1.5),
       st.floats(0, 1))
def test_pool_surplus_bound_when_any_sale_then_at_least_its_surplus(
        base_reserve: float, fee_bps: int, s0: float, cost_vs_mid: float,
        share: float) -> None:
    venue = VenueSpec.model_validate({"kind": "amm", "base_reserve": base_reserve,
                                      "fee_bps": fee_bps})
    market = AssetMarket("WETH", venue, OracleSpec(), int(s0 * PRICE_UNIT), ETH, USDC)
    # cost: USD (whole quote tokens) per smallest unit of the asset, around the mid
    cost = s0 * cost_vs_mid / ETH
    bound = market.sale_surplus_bound(cost)
    assert bound is not None
    pool = market.pool
    assert pool is not None
    for amount in {1, int(share * pool.base_reserve), int(share * share * pool.base_reserve),
                   int(3 * share * pool.base_reserve)}:
        surplus = market.quote_out(amount) / USDC - cost * amount
        assert surplus <= bound, (amount, surplus, bound)
    # ... and the peak is nearly attained (the bound is the closed form, not a loose one)
    if cost_vs_mid < 0.99 * (1 - fee_bps / 10_000):
        g = (10_000 - fee_bps) / 10_000
        best = int(((pool.base_reserve * pool.quote_reserve / USDC * g / cost) ** 0.5
                    - pool.base_reserve) / g)
        peak = market.quote_out(best) / USDC - cost * best
        # (less the bound's own float widening: 1e-9 of the quote reserve)
        assert peak >= bound * (1 - 1e-6) - 2e-9 * pool.quote_reserve / USDC - 1e-3
