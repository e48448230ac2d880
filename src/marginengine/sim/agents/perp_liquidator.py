"""The perp liquidator: ``LiquidatePerp`` of every position of a bucket whose margin no
longer covers its maintenance requirement, largest notional first; the engine closes it at
a fillable price and runs the backstop waterfall (insurance fund, ADL, socialized loss)
when the bucket is bankrupt.

It stands for the venue's liquidation engine (dYdX's validators, Hyperliquid's HLP): it
acts on every liquidatable bucket it has seen for its latency, when gas lets it through,
whatever the fill earns it; it takes over what the engine fills to it (the engine refuses
a takeover its own margin cannot carry) and the world lays that off on the asset's venue
(:meth:`PerpWorld.perp_liquidated`, the feedback of liquidations on the price). The fee a
liquidation charges goes to the insurance fund, not to it: its profit is the hedge's
proceeds against the fill, less gas.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from marginengine.engine import Engine, Event, LiquidatePerp, Outcome
from marginengine.sim.agents.base import KeeperState


class PerpWorld(Protocol):
    """What a run offers the perp liquidator (:class:`marginengine.sim.perps.PerpSim`)."""

    @property
    def engine(self) -> Engine:
        """The run's engine."""

    def apply(self, event: Event) -> Outcome:
        """Apply an event to the engine."""

    def gas_usd(self, action: str, step: int) -> float:
        """USD of gas one ``action`` costs at ``step``."""

    def perp_liquidated(self, keeper: KeeperState, account: str, market: str,
                        size_before: int, outcome: Outcome, step: int) -> float:
        """Record an accepted liquidation; the keeper's profit on it in USD before gas."""


class PerpLiquidator:
    """A perp keeper (see the module docstring).

    Parameters
    ----------
    state
        Its spec, capital and tallies.
    """

    def __init__(self, state: KeeperState) -> None:
        self.state = state

    def act(self, world: PerpWorld, step: int, unsafe: Sequence[str]) -> None:
        """Liquidate the perp positions of the liquidatable buckets among ``unsafe``."""
        keeper = self.state
        engine = world.engine
        ledger = engine.ledger
        for account in unsafe:
            held = ledger.accounts.get(account)
            if held is None or not held.perps or account == keeper.spec.id:
                continue
            if not keeper.ready(("perp", account), step):
                continue
            # Largest position first (by size times its margin price): it frees the most
            # margin.
            marks = engine.margin_prices()
            order = sorted(held.perps, key=lambda m: (
                -abs(held.perps[m].size) * marks.get(m, 0), m))
            for market in order:
                if not engine.is_liquidatable(account):
                    break
                size = ledger.perp_size(account, market)
                gas = world.gas_usd("liquidate_perp", step)
                outcome = world.apply(LiquidatePerp(keeper.spec.id, account, market))
                if not outcome.accepted:
                    continue
                earned = world.perp_liquidated(keeper, account, market, size, outcome, step)
                keeper.profit += earned - gas
                keeper.gas_spent += gas
                keeper.actions += 1


__all__ = ["PerpLiquidator", "PerpWorld"]
