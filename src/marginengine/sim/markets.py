"""One asset's market in a cascade: its venue (an AMM or a depth curve) and its oracle.

Every simulated asset of a cascade has one :class:`AssetMarket`. Each step the runner
gives it the asset's external price: arbitrage pulls the venue toward it (a depth venue's
book also refills), and the oracle turns it (or the venue's spot or TWAP) into the price
the engine is sent, when the feed publishes. Liquidated collateral is sold on the
asset's venue; an asset without a venue is sold at its external price (no impact).

Venue quotes are in ``quote_unit`` smallest units of the quote currency (the book's debt
asset in a single-asset cascade; USD at 8 decimals in a multi-asset one).
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction

from marginengine.fixedpoint import PRICE_UNIT
from marginengine.oracle import DelayedFeed, DelayedFeedParams, PushFeed, PushFeedParams
from marginengine.sim.cascade_config import OracleSpec, VenueSpec
from marginengine.venue import ConstantProductPool, DepthCurve, DepthVenue, Twap
from marginengine.venue.arbitrage import arbitrage, arbitrage_depth, require_speed

#: A constant-product pool's state (the pool, its fee, its base and quote reserves), as
#: :meth:`AssetMarket.sale_state` takes it.
SaleState = tuple[ConstantProductPool, int, int, int]


class AssetMarket:
    """An asset's venue and oracle (see the module docstring).

    Parameters
    ----------
    asset
        The asset's symbol.
    venue
        Its venue's parameters, or ``None`` (sold at the external price).
    oracle
        Its oracle's parameters.
    s0
        Its external price at step 0 (8 decimals): the venue opens there.
    base_unit, quote_unit
        Smallest units per whole token of the asset and of the venue's quote currency.
    """

    def __init__(self, asset: str, venue: VenueSpec | None, oracle: OracleSpec, s0: int,
                 base_unit: int, quote_unit: int) -> None:
        self.asset = asset
        self.venue = venue
        self.oracle = oracle
        self.base_unit = base_unit
        self.quote_unit = quote_unit
        self.external = s0
        self.pool: ConstantProductPool | None = None
        self.depth: DepthVenue | None = None
        if venue is not None and venue.kind == "amm":
            base = int(venue.base_reserve * base_unit)
            quote = base * s0 * quote_unit // (base_unit * PRICE_UNIT)
            self.pool = ConstantProductPool(base, quote, base_unit, quote_unit, venue.fee_bps)
        elif venue is not None:
            self.depth = DepthVenue(s0, DepthCurve(int(venue.depth_at_1pct * base_unit),
                                                   float(venue.exponent)),
                                    float(venue.resilience), base_unit, quote_unit)
        o = oracle
        self.osm = DelayedFeed(DelayedFeedParams(hop=o.hop)) if o.kind == "osm" else None
        self.push = (PushFeed(PushFeedParams(deviation_bps=int(o.deviation * 10_000),
                                             heartbeat=o.heartbeat))
                     if o.kind == "push" else None)
        self.twap = Twap(o.twap_window) if o.kind == "venue" and o.twap_window else None
        #: Whether the venue belongs to another market (another protocol's view of the
        #: same asset): its owner arbitrages it; this one only reads and trades on it.
        self.shared = False

    @functools.cached_property
    def _speed(self) -> Fraction:
        # The venue's speed as its arbitrage reads it, converted once (the spec does not
        # change during a run), at the first move as before.
        assert self.venue is not None
        return require_speed(float(self.venue.arbitrage_speed))

    def share_venue(self, owner: AssetMarket) -> None:
        """Trade on ``owner``'s venue (the same pool or book, moved by ``owner`` only)."""
        self.venue, self.pool, self.depth = owner.venue, owner.pool, owner.depth
        self.quote_unit = owner.quote_unit  # the venue's quote currency, as its owner's
        self.shared = True

    @property
    def has_venue(self) -> bool:
        """Whether sales trade on a venue (else at the external price)."""
        return self.pool is not None or self.depth is not None

    def venue_price(self) -> int:
        """The venue's mid price (8 decimals); the external price without a venue."""
        if self.pool is not None:
            return self.pool.price()
        if self.depth is not None:
            return self.depth.price()
        return self.external

    def move(self, external: int) -> None:
        """The step's external price: arbitrage pulls the venue toward it; a depth venue's
        book refills."""
        self.external = external
        if self.venue is None or self.shared:
            return
        speed = self._speed
        if self.pool is not None:
            arbitrage(self.pool, external, speed)
        elif self.depth is not None:
            arbitrage_depth(self.depth, external, speed)
            self.depth.recover(external)

    def oracle_price(self, now: int) -> int | None:
        """The price to publish now (``None``: the feed does not publish this step)."""
        kind = self.oracle.kind
        external = self.external
        if kind == "direct":
            return external
        if kind == "osm":
            assert self.osm is not None
            if self.osm.observe(now, external):
                reading = self.osm.peek(now)
                return reading.price if reading else None
            return None
        if kind == "push":
            assert self.push is not None
            reading = self.push.observe(now, external)
            return reading.price if reading else None
        spot = self.venue_price()
        if self.twap is not None:
            self.twap.observe(now, spot)
            return self.twap.value(now)
        return spot

    def sell(self, amount: int) -> int:
        """Sell ``amount`` of the asset on the venue; quote smallest units received (at the
        external price, rounded down, without a venue)."""
        if amount <= 0:
            return 0
        if self.pool is not None:
            return self.pool.sell_base(amount)
        if self.depth is not None:
            return self.depth.sell_base(amount)
        return int(amount * self.external * self.quote_unit // (self.base_unit * PRICE_UNIT))

    def sale_state(self) -> SaleState | None:
        """The venue's state now, for :meth:`sells_no_higher` later; ``None`` where no such
        comparison is proven (a depth venue, no venue)."""
        pool = self.pool
        if pool is None:
            return None
        return pool, pool.fee_bps, pool.base_reserve, pool.quote_reserve

    def sells_no_higher(self, state: SaleState) -> bool:
        """Whether no sale now fetches more than the same sale did at ``state`` (from
        :meth:`sale_state`), and the mid and :meth:`sale_surplus_bound` are no higher.

        Proven for the same constant-product pool with the same fee whose base reserve has
        not shrunk and whose quote reserve has not grown (it has only been sold into):
        ``getAmountOut`` (``Y g x / (X + g x)``, floored) grows with ``Y`` and falls with
        ``X`` for every amount ``x``; so do the mid ``Y / X`` (floored) and the surplus
        bound ``(sqrt(Y) - sqrt(c X / g))^2``."""
        pool, fee_bps, base_reserve, quote_reserve = state
        now = self.pool
        return now is pool and now.fee_bps == fee_bps \
            and now.base_reserve >= base_reserve and now.quote_reserve <= quote_reserve

    def sale_surplus_bound(self, cost: float) -> float | None:
        """An upper bound, in whole quote tokens, of ``quote_out(x) / quote_unit - cost * x``
        over every amount ``x`` (smallest units) sold now, for ``cost`` whole quote tokens
        per smallest unit; ``None`` where no closed form is known (a depth venue, no venue).

        A constant-product pool pays at most ``Y g x / (X + g x)`` (``getAmountOut`` before
        its floor; ``g`` one less the fee), whose surplus over ``cost * x`` peaks at
        ``(sqrt(Y) - sqrt(cost X / g))^2`` (0 when ``cost`` is at least the fee-adjusted
        mid ``g Y / X``); widened by a relative 1e-9 for the float arithmetic.
        """
        pool = self.pool
        if pool is None or cost < 0:
            return None
        g = (10_000 - pool.fee_bps) / 10_000
        x = float(pool.base_reserve)
        y = float(pool.quote_reserve) / self.quote_unit
        if g <= 0 or cost * x >= g * y:
            return 1e-9 * y + 1e-9
        gap = math.sqrt(y) - math.sqrt(cost * x / g)
        return gap * gap * (1 + 1e-9) + 1e-9 * y + 1e-9

    def buy(self, amount: int) -> int:
        """Buy ``amount`` of the asset on the venue (at least that much); quote smallest
        units paid (at the external price, rounded up, without a venue)."""
        if amount <= 0:
            return 0
        if self.pool is not None:
            cost = self.pool.quote_in_for(amount)
            self.pool.buy_base(cost)
            return cost
        if self.depth is not None:
            cost = self.depth.quote_in_for(amount)
            self.depth.buy_base(cost)
            return cost
        return int(-(-amount * self.external * self.quote_unit // (self.base_unit * PRICE_UNIT)))

    def buy_cost(self, amount: int) -> int:
        """What buying ``amount`` now would cost, without buying (quote units, as
        :meth:`buy`)."""
        if amount <= 0:
            return 0
        if self.pool is not None:
            return self.pool.quote_in_for(amount)
        if self.depth is not None:
            return self.depth.quote_in_for(amount)
        return int(-(-amount * self.external * self.quote_unit // (self.base_unit * PRICE_UNIT)))

    def quote_out(self, amount: int) -> int:
        """What selling ``amount`` now would fetch, without selling (quote units)."""
        if amount <= 0:
            return 0
        if self.pool is not None:
            return self.pool.quote_out(amount)
        if self.depth is not None:
            return self.depth.quote_out(amount)
        return int(amount * self.external * self.quote_unit // (self.base_unit * PRICE_UNIT))
