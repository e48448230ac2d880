"""The arbitrageur: each step, before the oracles read, it trades every simulated asset's
venue toward that asset's external price (``arbitrage_speed`` of the gap; a depth venue's
book also refills). Its trades are on the venues, not through the engine."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from marginengine.sim.agents.base import World


class Arbitrageur:
    """Pulls every venue toward its external price (see the module docstring).

    Parameters
    ----------
    external
        Exact external prices (8 decimals) per asset and step.
    """

    def __init__(self, external: Mapping[str, Sequence[int]]) -> None:
        self.external = external

    def act(self, world: World, step: int, unsafe: Sequence[str]) -> None:
        """Move every venue of ``world`` at ``step`` (``unsafe`` is not used)."""
        for asset, market in world.markets.items():
            market.move(self.external[asset][step])


__all__ = ["Arbitrageur"]
