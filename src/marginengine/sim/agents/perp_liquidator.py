"""The perp liquidator: ``LiquidatePerp`` of every position of a bucket whose margin no
longer covers its maintenance requirement, largest notional first; the engine closes it at
a fillable price and runs the backstop waterfall (insurance fund, ADL, socialized loss)
when the bucket is bankrupt."""

from __future__ import annotations

from collections.abc import Sequence

from marginengine.engine import LiquidatePerp
from marginengine.sim.agents.base import KeeperState, World


class PerpLiquidator:
    """A perp keeper (see the module docstring).

    Parameters
    ----------
    state
        Its spec, capital and tallies.
    """

    def __init__(self, state: KeeperState) -> None:
        self.state = state

    def act(self, world: World, step: int, unsafe: Sequence[str]) -> None:
        """Liquidate the perp positions of the liquidatable buckets among ``unsafe``."""
        keeper = self.state
        engine = world.engine
        ledger = engine.ledger
        for account in unsafe:
            held = ledger.accounts.get(account)
            if held is None or not held.perps:
                continue
            if not keeper.ready(("perp", account), step):
                continue
            # Largest position first (by size times mark): it frees the most margin.
            marks = engine.marks()
            order = sorted(held.perps, key=lambda m: (
                -abs(held.perps[m].size) * marks.get(m, 0), m))
            for market in order:
                if not engine.is_liquidatable(account):
                    break
                gas = world.gas_usd("liquidate_perp", step)
                outcome = world.apply(LiquidatePerp(keeper.spec.id, account, market))
                if not outcome.accepted:
                    continue
                world.count_liquidation(account, step, 0.0, 0)
                quote = engine.config.markets.get(engine.perp_model.quote_asset or "")
                fee = outcome.details.get("fee", 0) / quote.unit if quote else 0.0
                keeper.profit += fee - gas
                keeper.gas_spent += gas
                keeper.actions += 1


__all__ = ["PerpLiquidator"]
