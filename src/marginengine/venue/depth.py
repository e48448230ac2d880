"""Order-book depth as a curve, and a venue whose book recovers after a sale.

A :class:`DepthCurve` says how much base can be sold before the marginal price has fallen
by a given slippage, the way exchanges and risk dashboards quote "depth within 1%, 2%":

    volume(s) = depth_at_1pct * (s / 1%) ** exponent

- ``exponent = 1``: a book of even density; the price falls linearly with the volume sold.
  A constant-product pool is close to this, with ``depth_at_1pct`` about half a percent of
  its base reserve (``ConstantProductPool.sellable_within(100)``).
- ``exponent = 2``: a book that thickens away from the mid (density growing linearly with
  the distance): thin at the touch, deep further out; slippage grows as the square root of
  the volume.
- ``exponent < 1``: liquidity concentrated near the mid, thinning out.

Inverting, the marginal price after selling ``v`` into an undisturbed book at ``mid`` is
``mid * (1 - 1% * (v / depth_at_1pct) ** (1 / exponent))`` and the average fill over the
sale is ``mid * (1 - 1% * (v / depth_at_1pct) ** (1 / exponent) * e / (e + 1))``: the
integral of the marginal price, in closed form (half the final slippage for ``e = 1``, two
thirds for ``e = 2``). The ask side is the mirror image: buying ``v`` raises the price by the
same slippage. Selling more than ``volume(100%)`` would take the price to zero; it is refused.

Exactness: the exponent is read as an exact fraction ``a / b``, a multiple of 0.05
(``1.5`` is ``3 / 2``, ``1.35`` is ``27 / 20``), and every power ``x ** (b / a)`` is
computed as an exact integer ``a``-th root (:func:`integer_root`) of an exact rational,
rounded in the direction named in each call: prices a seller receives and volumes offered
are rounded down, prices a buyer pays are rounded up. The one exception is the quote paid
or received for a trade that starts from a displaced book, a difference of two such roots:
each is bounded at 64 extra bits on the side that favours the venue, so the amount is never
better for the trader than the exact one and at most one unit worse (exact when the trade
starts from the anchor). No floats decide an amount.

A :class:`DepthVenue` is such a book around a reference price (the *anchor*, the external
price it was last rebuilt around) with a displacement: after a sale its mid stays lower and
the next sale starts there, walking further down the same curve (the book's state is the
signed volume consumed from it, so selling 10 then 10 fetches what selling 20 does, up to
rounding). Between sales the book refills: each :meth:`DepthVenue.recover` step closes the
fraction ``resilience`` of the distance between the mid and the external price, and rebuilds
the book around that price. This is the "price impact reversion" model of Alfonsi, Fruth
and Schied (2010), generalising Obizhaeva and Wang's block-shaped book, in discrete steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

from marginengine.fixedpoint import BPS, PRICE_UNIT, Rounding
from marginengine.venue.amm import Real, Side, VenueError, require_fraction, require_int

#: Bits of extra precision when a difference of two irrational integrals is rounded.
_SCALE = 1 << 64


def integer_root(value: int, degree: int) -> int:
    """Return ``floor(value ** (1 / degree))`` exactly, for ``value >= 0``, ``degree >= 1``.

    Newton's iteration on integers from a float estimate just above the root.
    """
    if value < 0 or degree < 1:
        raise ValueError("integer_root needs value >= 0 and degree >= 1")
    if degree == 1 or value < 2:
        return value
    if degree == 2:
        return math.isqrt(value)
    log2_root = math.log2(value) / degree
    shift = max(int(log2_root) - 52, 0)
    x = (int(2.0 ** (log2_root - shift) * (1 + 2.0**-40)) + 2) << shift
    while x**degree <= value:  # the estimate must be above the root
        x *= 2
    while True:
        y = ((degree - 1) * x + value // x ** (degree - 1)) // degree
        if y >= x:
            return x
        x = y


def rational_root(numerator: int, denominator: int, degree: int, rounding: Rounding) -> int:
    """Return ``(numerator / denominator) ** (1 / degree)`` rounded ``DOWN`` or ``UP``."""
    root = integer_root(numerator // denominator, degree)
    if rounding is Rounding.UP and root**degree * denominator < numerator:
        root += 1
    return root


def _round(value: Fraction, rounding: Rounding) -> int:
    return math.floor(value) if rounding is Rounding.DOWN else math.ceil(value)


@dataclass(frozen=True)
class DepthCurve:
    """The volume of base sellable within a slippage: ``depth_at_1pct * (s / 1%) ** exponent``.

    Parameters
    ----------
    depth_at_1pct
        Base (smallest units) that moves the marginal price by 1%, positive.
    exponent
        How volume grows with slippage (1: even book; 2: thickening away from the mid), in
        ``(0, 4]``, a multiple of 0.05 read exactly (``1.25`` is ``5 / 4``): that keeps the
        degree of the exact roots small, and depth data does not support finer fits.

    Raises
    ------
    VenueError
        At construction, naming the field, if a value is out of range.

    Examples
    --------
    >>> curve = DepthCurve(depth_at_1pct=100 * 10**18, exponent=2)
    >>> curve.sellable_within(200) // 10**18  # within 2%: 100 * 2 ** 2
    400
    >>> curve.mid_after(2_000 * 10**8, 100 * 10**18) // 10**8  # 100 ETH: 1% down
    1980
    """

    depth_at_1pct: int
    exponent: Real
    _ratio: Fraction = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        require_int(self.depth_at_1pct, "depth_at_1pct", 1)
        ratio = require_fraction(self.exponent, "exponent", Fraction(0), Fraction(4),
                                 low_open=True)
        if 20 % ratio.denominator:
            raise VenueError("exponent", f"must be a multiple of 0.05 (got {self.exponent})")
        object.__setattr__(self, "_ratio", ratio)

    # --- the exact core -----------------------------------------------------------------

    def volume_within(self, slippage: Fraction, rounding: Rounding = Rounding.DOWN) -> int:
        """``depth_at_1pct * (slippage / 1%) ** exponent``, for ``slippage`` a fraction."""
        a, b = self._ratio.numerator, self._ratio.denominator
        in_pct = slippage * 100
        # (D1 * p ** (a/b)) ** b = D1^b * p^a
        return rational_root(self.depth_at_1pct**b * in_pct.numerator**a,
                             in_pct.denominator**a, b, rounding)

    def scaled_slippage(self, coefficient: Fraction, volume: int, rounding: Rounding) -> int:
        """``coefficient * (volume / depth_at_1pct) ** (1 / exponent)``, rounded.

        ``(volume / depth_at_1pct) ** (1 / exponent)`` is the slippage, in percent, of the
        marginal unit after ``volume`` has been sold; every price and integral of the curve
        is that times a rational coefficient.
        """
        if volume == 0 or coefficient == 0:
            return 0
        a, b = self._ratio.numerator, self._ratio.denominator
        return rational_root(coefficient.numerator**a * volume**b,
                             coefficient.denominator**a * self.depth_at_1pct**b, a, rounding)

    def average_factor(self) -> Fraction:
        """Average slippage of a sale over its final slippage: ``e / (e + 1)``."""
        return self._ratio / (self._ratio + 1)

    # --- public measures ----------------------------------------------------------------

    def sellable_within(self, slippage_bps: int) -> int:
        """Base that can be sold before the marginal price falls ``slippage_bps``, rounded down.

        Raises
        ------
        VenueError
            If ``slippage_bps`` is not an int in ``[0, 10000]``.
        """
        slippage_bps = require_int(slippage_bps, "slippage_bps", 0)
        if slippage_bps > BPS:
            raise VenueError("slippage_bps", f"must be at most {BPS} (got {slippage_bps})")
        return self.volume_within(Fraction(slippage_bps, BPS))

    def capacity(self) -> int:
        """All the base the bid side holds: selling it takes the price to zero."""
        return self.volume_within(Fraction(1))

    def _check(self, mid: int, amount: int, field: str) -> None:
        require_int(mid, "mid", 1)
        require_int(amount, field, 0)

    def _check_sale(self, mid: int, base_in: int) -> None:
        self._check(mid, base_in, "base_in")
        if base_in > self.capacity():
            raise VenueError("base_in", f"exceeds the whole bid side of the book, "
                                        f"{self.capacity()} (got {base_in})")

    def mid_after(self, mid: int, base_in: int) -> int:
        """Marginal price after selling ``base_in`` into an undisturbed book, rounded down.

        ``mid * (1 - 1% * (base_in / depth_at_1pct) ** (1 / exponent))``.

        Raises
        ------
        VenueError
            If ``mid`` is not a positive int, ``base_in`` not a non-negative int, or
            ``base_in`` exceeds :meth:`capacity`.
        """
        self._check_sale(mid, base_in)
        return mid - self.scaled_slippage(Fraction(mid, 100), base_in, Rounding.UP)

    def execution_price(self, mid: int, base_in: int) -> int:
        """Average fill price selling ``base_in`` into an undisturbed book, rounded down.

        The integral of the marginal price over the sale divided by its size:
        ``mid * (1 - 1% * (base_in / depth_at_1pct) ** (1 / e) * e / (e + 1))``, exact up
        to the final rounding. ``mid`` for ``base_in = 0``.

        Raises
        ------
        VenueError
            As :meth:`mid_after`.
        """
        self._check_sale(mid, base_in)
        coefficient = Fraction(mid, 100) * self.average_factor()
        return mid - self.scaled_slippage(coefficient, base_in, Rounding.UP)

    def mid_after_buy(self, mid: int, base_out: int) -> int:
        """Marginal price after buying ``base_out`` from an undisturbed book, rounded down."""
        self._check(mid, base_out, "base_out")
        return mid + self.scaled_slippage(Fraction(mid, 100), base_out, Rounding.DOWN)

    def execution_price_buy(self, mid: int, base_out: int) -> int:
        """Average price paid buying ``base_out`` from an undisturbed book, rounded up."""
        self._check(mid, base_out, "base_out")
        coefficient = Fraction(mid, 100) * self.average_factor()
        return mid + self.scaled_slippage(coefficient, base_out, Rounding.UP)


class DepthVenue:
    """A venue quoting around an anchor price with a :class:`DepthCurve` on each side.

    The state is the anchor and the signed volume consumed from the book (``position``:
    positive after net sales, the mid below the anchor; negative after net purchases). The
    mid is the curve's marginal price at that position, rounded down.

    Parameters
    ----------
    mid
        The starting price (8 decimals), also the first anchor; a positive int.
    curve
        The depth of each side.
    resilience
        Fraction of the distance between the mid and the external price closed at each
        :meth:`recover` step, in ``[0, 1]`` (0: the book never refills; 1: at once). After
        ``n`` steps at a constant external price a displacement ``d`` is ``d * (1 - r) ** n``.
    base_unit, quote_unit
        Smallest units per whole base and quote token (``10**18``, ``10**6``).

    Raises
    ------
    VenueError
        At construction, naming the parameter, if a value is out of range.
    """

    def __init__(self, mid: int, curve: DepthCurve, resilience: Real, base_unit: int,
                 quote_unit: int) -> None:
        require_int(mid, "mid", 1)
        if not isinstance(curve, DepthCurve):
            raise VenueError("curve", f"must be a DepthCurve, not {type(curve).__name__}")
        self._resilience = require_fraction(resilience, "resilience", Fraction(0), Fraction(1),
                                            low_open=False)
        self.base_unit = require_int(base_unit, "base_unit", 1)
        self.quote_unit = require_int(quote_unit, "quote_unit", 1)
        self.curve = curve
        self.resilience = resilience
        self._anchor = mid
        self._position = 0

    # --- state --------------------------------------------------------------------------

    @property
    def anchor(self) -> int:
        """The price the book is built around (the last external price seen)."""
        return self._anchor

    @property
    def position(self) -> int:
        """Base consumed from the book: positive after net sales, negative after purchases."""
        return self._position

    @property
    def mid(self) -> int:
        """The marginal price now, 8 decimals, rounded down."""
        return self._price_at(self._position)

    def price(self) -> int:
        """The mid, quote per whole base with 8 decimals."""
        return self.mid

    def price_float(self) -> float:
        """The mid as a float in whole quote per whole base (for plots only)."""
        return float(Fraction(self.mid, PRICE_UNIT))

    def copy(self) -> DepthVenue:
        """An independent copy (to try a trade without making it)."""
        twin = DepthVenue(self._anchor, self.curve, self.resilience, self.base_unit,
                          self.quote_unit)
        twin._position = self._position
        return twin

    # --- the curve at a position --------------------------------------------------------

    def _price_at(self, position: int) -> int:
        step = Fraction(self._anchor, 100)
        if position >= 0:
            return self._anchor - self.curve.scaled_slippage(step, position, Rounding.UP)
        return self._anchor + self.curve.scaled_slippage(step, -position, Rounding.DOWN)

    def position_of(self, price: int) -> int:
        """The largest position whose exact marginal price is at least ``price``.

        So that the mid there, rounded down, is ``price`` (for books deep compared with
        one base unit).

        Raises
        ------
        VenueError
            If ``price`` is not a positive int.
        """
        price = require_int(price, "price", 1)
        if price <= self._anchor:
            return self.curve.volume_within(Fraction(self._anchor - price, self._anchor))
        return -self.curve.volume_within(Fraction(price - self._anchor, self._anchor),
                                         Rounding.UP)

    def _quote_per_base_unit(self) -> Fraction:
        return Fraction(self._anchor * self.quote_unit, self.base_unit * PRICE_UNIT)

    def _integral(self, position: int, rounding: Rounding) -> int:
        """``_SCALE`` times the quote lost to slippage from the anchor to ``position``."""
        volume = abs(position)
        coefficient = (self._quote_per_base_unit() * volume * self.curve.average_factor()
                       / 100 * _SCALE)
        return self.curve.scaled_slippage(coefficient, volume, rounding)

    def _fill(self, start: int, end: int, rounding: Rounding,
              start_integral: int | None = None) -> int:
        """Quote exchanged walking the book from ``start`` to ``end``, rounded.

        ``anchor * ((|end - start|) - (G(|end|) - G(|start|)))`` for a sale (``end >
        start``), the same with the ends swapped for a purchase, where ``G`` is the
        integral of the slippage; each ``G`` is bounded on the side that keeps the
        rounding in favour of the venue.
        """
        other = Rounding.UP if rounding is Rounding.DOWN else Rounding.DOWN
        high, low = max(start, end), min(start, end)
        # G(|high|) is bounded from above for a sale (rounded DOWN), from below for a
        # purchase; G(|low|) the other way.
        high_integral = (start_integral if start == high and start_integral is not None
                         else self._integral(high, other))
        low_integral = (start_integral if start == low and start_integral is not None
                        else self._integral(low, rounding))
        scaled = (self._quote_per_base_unit() * (high - low) * _SCALE
                  - high_integral + low_integral)
        return max(_round(scaled / _SCALE, rounding), 0)

    def _max_position(self) -> int:
        """The furthest position on the bid side that keeps the mid positive."""
        return self.position_of(1)

    # --- quotes (no state change) -------------------------------------------------------

    def quote_out(self, base_in: int) -> int:
        """Quote a sale of ``base_in`` would pay now, rounded down.

        Raises
        ------
        VenueError
            If ``base_in`` is not a non-negative int or would take the mid to zero.
        """
        base_in = require_int(base_in, "base_in", 0)
        left = self._max_position() - self._position
        if base_in > left:
            raise VenueError("base_in", f"exceeds the bid depth left in the book, {left} "
                                        f"(got {base_in})")
        return self._fill(self._position, self._position + base_in, Rounding.DOWN)

    def quote_in_for(self, base_out: int) -> int:
        """Quote needed to buy ``base_out`` now, rounded up."""
        base_out = require_int(base_out, "base_out", 0)
        return self._fill(self._position, self._position - base_out, Rounding.UP)

    def base_out(self, quote_in: int) -> int:
        """Most base ``quote_in`` buys now (a search over :meth:`quote_in_for`)."""
        quote_in = require_int(quote_in, "quote_in", 0)
        # Every unit costs at least the current mid, which bounds the search.
        per_unit = Fraction(max(self.mid, 1) * self.quote_unit, self.base_unit * PRICE_UNIT)
        low, high = 0, math.floor(quote_in / per_unit) + 1
        # A purchase walks down from the position: its start is the high end, whose
        # integral is bounded from below (Rounding.DOWN) for a cost rounded up.
        start_integral = self._integral(self._position, Rounding.DOWN)
        while low < high:
            middle = (low + high + 1) // 2
            cost = self._fill(self._position, self._position - middle, Rounding.UP,
                              start_integral)
            if cost <= quote_in:
                low = middle
            else:
                high = middle - 1
        return low

    def sellable_within(self, slippage_bps: int) -> int:
        """Base that can be sold now before the mid falls ``slippage_bps`` below the mid now.

        Raises
        ------
        VenueError
            If ``slippage_bps`` is not an int in ``[0, 10000]``.
        """
        slippage_bps = require_int(slippage_bps, "slippage_bps", 0)
        if slippage_bps > BPS:
            raise VenueError("slippage_bps", f"must be at most {BPS} (got {slippage_bps})")
        floor_price = max(-(-self.mid * (BPS - slippage_bps) // BPS), 1)
        return max(self.position_of(floor_price) - self._position, 0)

    def volume_to(self, price: int) -> tuple[Side, int]:
        """The trade that moves the mid to ``price``: ``('sell_base', base)`` when below the
        mid, ``('buy_base', base)`` when above, ``('none', 0)`` when there."""
        target = self.position_of(price)
        if target > self._position:
            return "sell_base", target - self._position
        if target < self._position:
            return "buy_base", self._position - target
        return "none", 0

    # --- trades and recovery (mutate) ---------------------------------------------------

    def sell_base(self, base_in: int) -> int:
        """Sell ``base_in`` into the bids; return the quote received, rounded down.

        Raises
        ------
        VenueError
            If ``base_in`` is not a non-negative int or would take the mid to zero; the
            venue is unchanged.
        """
        out = self.quote_out(base_in)
        self._position += base_in
        return out

    def buy_base(self, quote_in: int) -> int:
        """Spend ``quote_in`` on the asks; return the base received, rounded down.

        Raises
        ------
        VenueError
            If ``quote_in`` is not a non-negative int; the venue is unchanged.
        """
        out = self.base_out(quote_in)
        self._position -= out
        return out

    def buy_exact_base(self, base_out: int) -> int:
        """Buy exactly ``base_out``; return the quote paid, rounded up."""
        cost = self.quote_in_for(base_out)
        self._position -= base_out
        return cost

    def recover(self, external_price: int) -> None:
        """One step of resilience: close ``resilience`` of the gap to ``external_price``.

        The new mid is ``mid + resilience * (external_price - mid)``, the recovery rounded
        toward zero (never more than the fraction), and the book is rebuilt around
        ``external_price``: the anchor moves there and the position becomes the one whose
        mid is the new mid.

        Raises
        ------
        VenueError
            If ``external_price`` is not a positive int; the venue is unchanged.
        """
        external_price = require_int(external_price, "external_price", 1)
        mid = self.mid
        step = self._resilience * (external_price - mid)
        target = mid + math.trunc(step)
        self._anchor = external_price
        self._position = self.position_of(max(target, 1))
