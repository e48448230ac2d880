"""The simulator's agents (sim/agents/): each acts through engine events, and the lending
keeper's ladder needs at most a few exact plans per liquidation."""

import sys
from typing import Any

import numpy as np

from marginengine.engine import SetPrice
from marginengine.liquidation import close_factor
from marginengine.sim.agents import Arbitrageur, KeeperState, PerpLiquidator
from marginengine.sim.cascade import CascadeRunner, run_cascade, scenario_spec
from marginengine.sim.cascade_config import KeeperSpec
from tests.sim.bench_scenario import bench

USD = 10**8
ETH = 10**18
USDC = 10**6


def test_lending_keeper_when_cascade_then_at_most_three_exact_plans_per_liquidation(
        monkeypatch: Any) -> None:
    # Every call of the close-factor rule, wherever it was imported (the keepers', the
    # quote's and the handler's own). Before the ladder this run made ~38 per liquidation
    # (every keeper re-planned every unsafe account every step, 8 rungs each).
    calls = []
    original = close_factor.plan_liquidation

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return original(*args, **kwargs)

    for module in list(sys.modules.values()):
        if getattr(module, "plan_liquidation", None) is original:
            monkeypatch.setattr(module, "plan_liquidation", counted)
    spec, protocol = scenario_spec(bench(1_000, 300))
    runner = CascadeRunner(spec, protocol, np.random.default_rng(spec.seed))
    runner.setup()
    for i in range(1, spec.steps + 1):
        runner.step(i)
    liquidations = runner.liquidation_count
    assert liquidations > 100
    assert len(calls) <= 3 * liquidations
    # The keepers' own tally agrees with the count of calls made during the steps.
    assert runner.exact_plans <= len(calls)


def test_absorber_when_comet_cascade_then_accounts_absorbed_and_collateral_bought() -> None:
    # Before the agents, a Comet protocol in a cascade liquidated nothing (the lending
    # keeper only planned close-factor liquidations).
    data = {"kind": "cascade", "name": "c3", "seed": 3, "steps": 40, "step_seconds": 600,
            "protocol": {"preset": "compound-v3", "markets": {"WETH": {}, "USDC": {}}},
            "prices": {"USDC": 1},
            "price": {"asset": "WETH", "process": "path",
                      "path": [2000, 1900, 1700, 1500, 1400, 1300]},
            "venue": {"kind": "amm", "base_reserve": 5000},
            "gas": {"kind": "constant", "gwei": 10},
            "book": {"accounts": 200, "total_debt": 2_000_000, "whales": 1,
                     "collateralization_median": 1.4, "collateralization_sigma": 0.15,
                     "min_collateralization": 1.2, "debt_asset": "USDC",
                     "collateral_asset": "WETH"},
            "keepers": [{"id": "keeper", "capital": 1e8}]}
    result = run_cascade(data, amplification=False)
    outcomes = [e for e in result.engine.ledger.accounts]  # accounts still exist
    assert outcomes
    summary = result.summary
    assert summary["liquidation_count"] > 100
    assert summary["liquidator_profit"] > 0  # it bought seized WETH below the venue
    # Every absorbed account has no debt left; the protocol holds or sold its collateral.
    ledger = result.engine.ledger
    for account in ledger.accounts:
        if account.startswith("acct"):
            assert result.engine.is_liquidatable(account) is False
    # Comet's liquidator points: one per absorb, and gasUsed x basefee at the run's gas
    # (the absorb's 300,000 gas at a constant 10 gwei: 3e15 wei each).
    points = result.engine.liquidator_points("keeper")
    assert points.num_absorbs == points.num_absorbed == summary["liquidation_count"]
    assert points.approx_spend == points.num_absorbs * 300_000 * 10 * 10**9


class _World:
    """The least a perp liquidator needs from a run."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.liquidations: list[str] = []

    def apply(self, event: Any) -> Any:
        return self.engine.apply(event)

    def gas_usd(self, action: str, step: int) -> float:
        return 1.0

    def count_liquidation(self, account: str, step: int, value: float, loss: int) -> None:
        self.liquidations.append(account)

    def perp_liquidated(self, keeper: Any, account: str, market: str, size_before: int,
                        outcome: Any, step: int) -> float:
        self.liquidations.append(account)
        return 0.0


def test_perp_liquidator_when_bucket_under_maintenance_then_liquidated_through_events():
    from tests.engine.test_perps import opened, perp_engine

    engine = opened(perp_engine())      # long 100 ETH-PERP at 2,000 on 20,000 USDC
    assert not engine.is_liquidatable("long")
    assert engine.apply(SetPrice("ETH-PERP", 1_850 * USD)).accepted  # equity 5,000 USDC
    assert engine.is_liquidatable("long")
    world = _World(engine)
    agent = PerpLiquidator(KeeperState(KeeperSpec(id="keeper"), 1e6))
    seq = engine.seq
    agent.act(world, 1, ["long", "short"])  # type: ignore[arg-type]
    assert world.liquidations == ["long"]
    assert engine.seq > seq                  # it acted by events only
    assert engine.ledger.perp_size("long", "ETH-PERP") == 0
    assert agent.state.actions == 1


def test_arbitrageur_when_venue_off_then_pulled_toward_external_price():
    spec, protocol = scenario_spec(bench(50, 3))
    runner = CascadeRunner(spec, protocol, np.random.default_rng(1))
    runner.setup()
    external = {"WETH": [2_000 * USD, 1_600 * USD]}
    before = runner.venue_price()
    Arbitrageur(external).act(runner, 1, ())
    after = runner.venue_price()
    # arbitrage_speed 0.3: the mid moves about 30% of the way (to the fee band's edge).
    assert before == 2_000 * USD
    assert 1_850 * USD < after < 1_900 * USD
