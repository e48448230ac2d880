"""Arbitrage: the trades that pull a venue back toward the external price.

An arbitrageur who can trade at the external price without cost (a deep centralised
exchange) trades against the venue while it pays to: selling base to a constant-product
pool is worth it while the pool's marginal bid, ``(1 - fee) * mid``, is above the external
price ``E``; buying is worth it while its marginal ask, ``mid / (1 - fee)``, is below ``E``.
Between the two lies the *fee band*, ``E * (1 - fee) <= mid <= E / (1 - fee)``, where no trade
pays and none is made.

``speed`` in ``[0, 1]`` models how much of the gap is closed in one step (competition,
block space, capital): the pool's mid is moved the fraction ``speed`` of the way, **in
price** (not log-price), from where it is to the near edge of the fee band. With ``speed =
0`` nobody arbitrages the venue (a stress: its price moves only with the trades made on
it) and no trade is made. With ``speed = 1`` the pool ends on the edge, where its
fee-adjusted price equals the external price (exactly ``E`` when the fee is zero). A
single swap that maximised the arbitrageur's profit would go slightly further, since
within one swap the marginal price is
``(1 - fee) * k / (R + (1 - fee) x) ** 2`` rather than ``(1 - fee)`` times the post-trade mid:
the difference is second order in the fee, and stopping on the band edge keeps the model's
end point simple to state and to test.

The amount is exact: the trade whose post-trade mid on the exact curve is the target is the
root of a quadratic (``new base reserve = sqrt(k / target)`` with no fee), solved with
:func:`math.isqrt` and rounded so that the pool never passes the target. The arbitrageur
then checks the trade against the external price with every rounding against itself and
does not make it at a loss (a trade of a few smallest units can lose one unit to rounding).
"""

from __future__ import annotations

import math
from fractions import Fraction

from marginengine.fixedpoint import BPS, PRICE_UNIT, Rounding, mul_div
from marginengine.venue.amm import (
    ConstantProductPool,
    Real,
    Side,
    VenueError,
    largest_input_below,
    require_fraction,
    require_int,
)
from marginengine.venue.depth import DepthVenue

_ZERO, _ONE = Fraction(0), Fraction(1)


def require_speed(speed: Real) -> Fraction:
    """``speed`` as the exact fraction the arbitrage moves by (a float read as the decimal
    its author typed), if it lies in ``[0, 1]`` (0: no arbitrage); a caller passing the
    same speed every step converts it once and passes the fraction (cheap to check again).

    Raises
    ------
    VenueError
        Naming ``speed``, if it is not a number in ``[0, 1]``.
    """
    return require_fraction(speed, "speed", _ZERO, _ONE, low_open=False)


def fee_band(pool: ConstantProductPool, external_price: int) -> tuple[Fraction, Fraction]:
    """The mids between which no arbitrage pays: ``(E * (1 - fee), E / (1 - fee))``.

    Exact fractions in price units (8 decimals).
    """
    g = BPS - pool.fee_bps
    return Fraction(external_price * g, BPS), Fraction(external_price * BPS, g)


def trade_profit(pool: ConstantProductPool, side: Side, amount: int,
                 external_price: int) -> int:
    """Quote gained by making ``(side, amount)`` on ``pool`` and unwinding at the external price.

    Selling base to the pool is paired with buying it back outside at ``external_price``
    (its cost rounded up); buying base from the pool with selling it outside (proceeds
    rounded down). The pool is not changed.

    Returns
    -------
    int
        Quote units; negative if the trade loses.
    """
    scale = pool.base_unit * PRICE_UNIT
    if side == "sell_base":
        received = pool.quote_out(amount)
        return received - mul_div(amount * external_price, pool.quote_unit, scale, Rounding.UP)
    if side == "buy_base":
        base = pool.base_out(amount)
        return mul_div(base * external_price, pool.quote_unit, scale, Rounding.DOWN) - amount
    return 0


def arbitrage_trade(pool: ConstantProductPool, external_price: int,
                    speed: Real) -> tuple[Side, int]:
    """The trade moving the pool's mid ``speed`` of the way to the fee band's near edge.

    Parameters
    ----------
    pool
        The pool; not changed.
    external_price
        The external price, a positive int (8 decimals).
    speed
        Fraction of the way, in price, from the pool's mid to the edge of the fee band
        around ``external_price``, in ``[0, 1]`` (0: no trade). A float is read as the
        decimal it prints as (``0.1`` is one tenth).

    Returns
    -------
    tuple of (str, int)
        ``("sell_base", base_in)`` when the pool is above the band, ``("buy_base",
        quote_in)`` when below (amounts in smallest units, ready for
        :meth:`~ConstantProductPool.sell_base` or :meth:`~ConstantProductPool.buy_base`),
        ``("none", 0)`` inside the band, with ``speed = 0``, or when the trade would not pay
        after rounding.

    Raises
    ------
    VenueError
        If ``external_price`` is not a positive int or ``speed`` is not in ``[0, 1]``.
    """
    external_price = require_int(external_price, "external_price", 1)
    fraction = require_speed(speed)
    if not isinstance(pool, ConstantProductPool):
        raise VenueError("pool", f"must be a ConstantProductPool, not {type(pool).__name__}")
    if fraction == 0:
        return "none", 0
    # The exact fractions of pool.mid(), fee_band and the target as ratios of ints (not
    # reduced: the comparisons and largest_input_below hold in any terms), a dozen
    # Fraction operations and their gcds fewer per step. The mid is sn Rq / (sd Rb) (the
    # price scale sn / sd), the band (E g / BPS, E BPS / g), the speed fn / fd.
    sn, sd = pool.base_unit * PRICE_UNIT, pool.quote_unit
    fn, fd = fraction.numerator, fraction.denominator
    rb, rq = pool.base_reserve, pool.quote_reserve
    g = BPS - pool.fee_bps
    mn, md = sn * rq, sd * rb
    k = rb * rq
    side: Side
    if mn * g > external_price * BPS * md:  # mid > upper
        # Post-trade mid on the exact curve: scale * k / ((Rb + g x)(Rb + x)) >= target,
        # target = mid - f (mid - upper) = ((fd - fn) mn g + fn E BPS md) / (fd md g).
        tn = (fd - fn) * mn * g + fn * external_price * BPS * md
        td = fd * md * g
        side = "sell_base"
        amount = largest_input_below(rb, sn * k * td, sd * tn, pool.fee_bps)
    elif mn * BPS < external_price * g * md:  # mid < lower
        # Post-trade mid on the exact curve: scale * (Rq + g y)(Rq + y) / k <= target,
        # target = mid + f (lower - mid) = ((fd - fn) mn BPS + fn E g md) / (fd md BPS).
        tn = (fd - fn) * mn * BPS + fn * external_price * g * md
        td = fd * md * BPS
        side = "buy_base"
        amount = largest_input_below(rq, tn * k * sd, td * sn, pool.fee_bps)
    else:
        return "none", 0
    if amount == 0 or trade_profit(pool, side, amount, external_price) < 0:
        return "none", 0
    return side, amount


def arbitrage(pool: ConstantProductPool, external_price: int, speed: Real) -> int:
    """Make the :func:`arbitrage_trade` on ``pool``; return the arbitrageur's profit.

    The profit is in quote units, valued at ``external_price`` with the rounding against
    the arbitrageur (:func:`trade_profit`), never negative; 0 when no trade is made.

    Raises
    ------
    VenueError
        As :func:`arbitrage_trade`; the pool is unchanged.
    """
    side, amount = arbitrage_trade(pool, external_price, speed)
    profit = trade_profit(pool, side, amount, external_price)
    if side == "sell_base":
        pool.sell_base(amount)
    elif side == "buy_base":
        pool.buy_base(amount)
    return profit


def arbitrage_depth(venue: DepthVenue, external_price: int, speed: Real) -> None:
    """Trade against a depth venue until its mid has moved ``speed`` of the way to the
    external price, in price (``speed = 0``: no trade).

    The depth venue charges no fee (its curve's slippage is its whole cost), so there is no
    band: the target is ``mid + speed * (external_price - mid)``, rounded toward the mid so
    it is never passed. The trade walks the venue's curve (sells into the bids when the
    venue is above the external price, buys the asks when below), so it consumes the depth
    a later sale would have used, until :meth:`~DepthVenue.recover` refills it. Every unit
    is traded at a price between the mid and the target, on the right side of the external
    price, so the arbitrageur never loses (beyond rounding).

    Raises
    ------
    VenueError
        If ``external_price`` is not a positive int or ``speed`` is not in ``[0, 1]``; the
        venue is unchanged.
    """
    external_price = require_int(external_price, "external_price", 1)
    fraction = require_speed(speed)
    if not isinstance(venue, DepthVenue):
        raise VenueError("venue", f"must be a DepthVenue, not {type(venue).__name__}")
    mid = venue.mid
    target = mid + math.trunc(fraction * (external_price - mid))
    if target == mid:
        return
    side, amount = venue.volume_to(target)
    if side == "sell_base":
        venue.sell_base(amount)
    elif side == "buy_base":
        venue.buy_exact_base(amount)
