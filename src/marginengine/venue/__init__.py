"""Liquidity venues where liquidated collateral is sold (layer 9 of DESIGN.md).

- :class:`ConstantProductPool`: a Uniswap v2 pool in exact integers (``amm.py``);
- :class:`DepthCurve` and :class:`DepthVenue`: order-book depth as a curve, and a venue whose
  book recovers toward the external price (``depth.py``);
- :func:`arbitrage_trade`, :func:`arbitrage`, :func:`arbitrage_depth`: the trades that pull a
  venue back toward the external price (``arbitrage.py``);
- :class:`Twap`: a venue's time-weighted average price, for a venue-reading oracle
  (``twap.py``).

Amounts are ints in each token's smallest unit; prices are quote per whole base token with
8 decimals. Bad input raises :class:`VenueError` (a ``ValueError``) naming the parameter,
and changes nothing. See ``docs/venue.md``.
"""

from marginengine.venue.amm import ConstantProductPool, Real, Side, VenueError
from marginengine.venue.arbitrage import (
    arbitrage,
    arbitrage_depth,
    arbitrage_trade,
    fee_band,
    trade_profit,
)
from marginengine.venue.depth import DepthCurve, DepthVenue
from marginengine.venue.twap import Twap

__all__ = [
    "ConstantProductPool",
    "DepthCurve",
    "DepthVenue",
    "Real",
    "Side",
    "Twap",
    "VenueError",
    "arbitrage",
    "arbitrage_depth",
    "arbitrage_trade",
    "fee_band",
    "trade_profit",
]
