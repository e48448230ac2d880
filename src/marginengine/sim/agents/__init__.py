"""The simulator's agents, each in a module of its own, all acting through engine events
(venue trades aside): the lending keeper, the auction bidder (Liquidations 2.0 and Flip),
the absorber (Comet), the perp liquidator, the arbitrageur, and the keeper and bidder of
Derive's portfolio auctions (:class:`PortfolioBidder`, driven by the scripted runner).

The cascade loop calls every agent through one interface, :class:`Agent`:
``act(world, step, unsafe)``, ``world`` being what the run offers agents
(:class:`World`: the engine, events, gas, venues, the run's counters).
"""

from marginengine.sim.agents.absorber import Absorber
from marginengine.sim.agents.arbitrageur import Arbitrageur
from marginengine.sim.agents.auction_bidder import AuctionBidder
from marginengine.sim.agents.base import Agent, KeeperState, World
from marginengine.sim.agents.lending_keeper import LendingKeeper
from marginengine.sim.agents.perp_liquidator import PerpLiquidator
from marginengine.sim.agents.portfolio_bidder import PortfolioBidder
from marginengine.sim.agents.screen import LendingScreen

__all__ = ["Absorber", "Agent", "Arbitrageur", "AuctionBidder", "KeeperState", "LendingKeeper",
           "LendingScreen", "PerpLiquidator", "PortfolioBidder", "World"]
