"""A constant-product pool (Uniswap v2) in exact integer arithmetic.

Reserves are ints in each token's smallest unit (``base_unit`` and ``quote_unit`` are the
sizes of one whole token: ``10**18`` for WETH, ``10**6`` for USDC). Prices are quote per
whole base token with 8 decimals (:data:`~marginengine.fixedpoint.PRICE_UNIT`): with a USD
stablecoin as the quote token this is the USD price the oracle layer uses.

Swaps are Uniswap v2's ``getAmountOut`` and ``getAmountIn`` with the fee taken from the
input and left in the pool, so ``base_reserve * quote_reserve`` never decreases. Every
division rounds in favour of the pool: what the pool pays out is rounded down, what it asks
for is rounded up.

Two measures of a sale's cost, chosen once for the whole venue layer:

- :meth:`ConstantProductPool.price_impact_bps` compares the *execution* price (average fill,
  fee included) with the mid before the trade: the loss a liquidator actually takes;
- :meth:`ConstantProductPool.sellable_within` bounds the *post-trade mid* (the marginal
  price, fee excluded), which is what an order book's "depth within 1%" means; the depth
  curves of :mod:`marginengine.venue.depth` use the same convention, so the two venues can
  be compared and swapped.

Both are computed on the exact curve, before the output is rounded down to whole units; the
pool's rounding only ever makes the real trade slightly better for the pool (the real
post-trade mid is never below the one computed), so the bounds are safe to act on.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace
from decimal import Decimal
from fractions import Fraction
from typing import Literal

from marginengine.errors import FieldError
from marginengine.fixedpoint import BPS, PRICE_UNIT, Rounding, div, mul_div

#: A trade's direction from the trader's side; ``"none"`` with an amount of 0 for no trade.
Side = Literal["sell_base", "buy_base", "none"]

#: A real parameter (speed, resilience, exponent): read exactly, never through binary floats.
Real = float | Decimal | Fraction

#: Bound once: an enum member read through its class costs several times a plain name on
#: this Python, and a cascade quotes and prices the pool tens of thousands of times.
_DOWN = Rounding.DOWN


class VenueError(FieldError, ValueError):
    """An amount, price or parameter given to a venue is invalid; nothing was changed.

    A :class:`ValueError` as well as a :class:`~marginengine.errors.FieldError` (with
    ``field`` and ``reason``), so callers may catch either.
    """


def require_int(value: object, field: str, minimum: int) -> int:
    """Return ``value`` if it is an int (not a bool) of at least ``minimum``.

    Raises
    ------
    VenueError
        Naming ``field``, if ``value`` is not an int or is below ``minimum``.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise VenueError(field, f"must be an int, not {type(value).__name__}")
    if value < minimum:
        what = "positive" if minimum == 1 else "non-negative" if minimum == 0 else f">= {minimum}"
        raise VenueError(field, f"must be {what} (got {value})")
    return value


@functools.lru_cache(maxsize=256)
def _float_fraction(value: float) -> Fraction:
    """A finite float as the shortest decimal that round-trips (cached: a simulator reads
    the same arbitrage speed every step)."""
    return Fraction(repr(value))


def require_fraction(value: object, field: str, low: Fraction, high: Fraction,
                     low_open: bool) -> Fraction:
    """Return ``value`` as an exact fraction if it lies in ``(low, high]`` or ``[low, high]``.

    A float is read as the shortest decimal that round-trips (``0.1`` is one tenth, not the
    binary double nearest to it), the number its author typed; an int, a ``Decimal`` (as
    configuration files give) or a ``Fraction`` exactly.

    Raises
    ------
    VenueError
        Naming ``field``, if ``value`` is not a finite real number within the bounds.
    """
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | Fraction):
        raise VenueError(field, f"must be a number, not {type(value).__name__}")
    if isinstance(value, float | Decimal):
        if not (value.is_finite() if isinstance(value, Decimal) else math.isfinite(value)):
            raise VenueError(field, f"must be a finite number (got {value})")
        result = _float_fraction(value) if isinstance(value, float) else Fraction(value)
    elif isinstance(value, Fraction):
        result = value  # immutable: the caller's own (a speed converted once, checked again)
    else:
        result = Fraction(value)
    below = result <= low if low_open else result < low
    if below or result > high:
        bracket = "(" if low_open else "["
        raise VenueError(field, f"must be in {bracket}{low}, {high}] (got {value})")
    return result


def largest_input_within(reserve_in: int, bound: Fraction, fee_bps: int) -> int:
    """Largest ``x >= 0`` with ``(reserve_in + g x) (reserve_in + x) <= bound``, ``g = 1 - fee``.

    After a swap of ``x`` into a constant-product pool, on the exact curve, the reserve the
    input went into is ``reserve_in + x`` and the other one is ``k / (reserve_in + g x)``;
    bounding their product of growth bounds the post-trade mid. Solved in closed form with
    :func:`math.isqrt`, then corrected by the exact integer test, so the answer is exact.
    With no fee it is ``isqrt(bound) - reserve_in``: Uniswap's ``sqrt(k / target_price)``.

    Parameters
    ----------
    reserve_in
        The reserve that receives the input, positive.
    bound
        The largest allowed value of the product, a positive fraction.
    fee_bps
        The pool's fee, in ``[0, 10000)``.

    Returns
    -------
    int
        The largest such ``x``; ``0`` if even ``x = 0`` exceeds the bound.
    """
    return largest_input_below(reserve_in, bound.numerator, bound.denominator, fee_bps)


def largest_input_below(reserve_in: int, num: int, den: int, fee_bps: int) -> int:
    """:func:`largest_input_within` of the bound ``num / den`` (positive ints, in any
    terms: the answer is the exact integer one whatever their common factor), for callers
    holding the bound as a ratio of ints (the arbitrage: no ``Fraction`` reduced per step).
    """
    g = BPS - fee_bps
    # (D R + G x)(R + x) <= D bound, times den:  a x^2 + b x + c <= 0.
    a = g * den
    b = (BPS + g) * reserve_in * den
    c = BPS * reserve_in * reserve_in * den - BPS * num
    if c > 0:
        return 0

    def over(x: int) -> bool:
        return a * x * x + b * x + c > 0

    x = (math.isqrt(b * b - 4 * a * c) - b) // (2 * a)
    while not over(x + 1):
        x += 1
    while x > 0 and over(x):
        x -= 1
    return x


@dataclass
class ConstantProductPool:
    """A Uniswap v2 pool of a base token (the collateral) against a quote token.

    Parameters
    ----------
    base_reserve, quote_reserve
        The reserves, positive ints in each token's smallest unit.
    base_unit, quote_unit
        Smallest units per whole token (``10**18``, ``10**6``).
    fee_bps
        The swap fee in basis points, taken from the input and left in the pool (30: 0.3%,
        Uniswap v2's). In ``[0, 10000)``.

    Raises
    ------
    VenueError
        At construction, naming the field, if a reserve or unit is not a positive int or the
        fee is outside ``[0, 10000)``.

    Examples
    --------
    >>> pool = ConstantProductPool(1_000 * 10**18, 2_000_000 * 10**6, 10**18, 10**6)
    >>> pool.price()  # 2,000 USDC per ETH, 8 decimals
    200000000000
    >>> pool.quote_out(10 * 10**18)  # 19,743.160687 USDC after the 0.3% fee and the impact
    19743160687
    """

    base_reserve: int
    quote_reserve: int
    base_unit: int
    quote_unit: int
    fee_bps: int = 30

    def __post_init__(self) -> None:
        require_int(self.base_reserve, "base_reserve", 1)
        require_int(self.quote_reserve, "quote_reserve", 1)
        require_int(self.base_unit, "base_unit", 1)
        require_int(self.quote_unit, "quote_unit", 1)
        require_int(self.fee_bps, "fee_bps", 0)
        if self.fee_bps >= BPS:
            raise VenueError("fee_bps", f"must be less than {BPS} (got {self.fee_bps})")

    # --- prices -------------------------------------------------------------------------

    def price_scale(self) -> Fraction:
        """Price units (8 decimals, per whole base) per quote unit per base unit."""
        return Fraction(self.base_unit * PRICE_UNIT, self.quote_unit)

    def mid(self) -> Fraction:
        """The exact mid, ``quote_reserve / base_reserve`` in price units (8 decimals)."""
        return self.price_scale() * Fraction(self.quote_reserve, self.base_reserve)

    def price(self) -> int:
        """The mid: quote per whole base token, 8 decimals, rounded down."""
        return mul_div(self.quote_reserve, self.base_unit * PRICE_UNIT,
                       self.base_reserve * self.quote_unit, _DOWN)

    def price_float(self) -> float:
        """The exact mid as a float in whole quote per whole base (for plots only)."""
        return float(self.mid() / PRICE_UNIT)

    def invariant(self) -> int:
        """``k = base_reserve * quote_reserve``; never decreases."""
        return self.base_reserve * self.quote_reserve

    # --- quotes (no state change) -------------------------------------------------------

    def _amount_out(self, amount_in: int, reserve_in: int, reserve_out: int) -> int:
        # Uniswap v2 getAmountOut, fee in bps: in*(1-f)*Rout / (Rin + in*(1-f)), rounded down.
        with_fee = amount_in * (BPS - self.fee_bps)
        return div(with_fee * reserve_out, reserve_in * BPS + with_fee, _DOWN)

    def _amount_in(self, amount_out: int, reserve_in: int, reserve_out: int,
                   field: str) -> int:
        # Uniswap v2 getAmountIn: the least input whose getAmountOut is at least amount_out.
        # Uniswap adds one unconditionally; rounding up is the least amount that keeps the
        # fee-adjusted k, so it is never more than Uniswap's and never less than needed.
        if amount_out >= reserve_out:
            raise VenueError(field, f"must be less than the reserve it is taken from, "
                                    f"{reserve_out} (got {amount_out})")
        return div(reserve_in * amount_out * BPS, (reserve_out - amount_out)
                   * (BPS - self.fee_bps), Rounding.UP)

    def quote_out(self, base_in: int) -> int:
        """Quote paid for ``base_in`` base sold (Uniswap v2 ``getAmountOut``), rounded down.

        ``base_in * (1 - fee) * quote_reserve / (base_reserve + base_in * (1 - fee))``.

        Raises
        ------
        VenueError
            If ``base_in`` is not a non-negative int.
        """
        base_in = require_int(base_in, "base_in", 0)
        return self._amount_out(base_in, self.base_reserve, self.quote_reserve)

    def base_out(self, quote_in: int) -> int:
        """Base paid for ``quote_in`` quote (``getAmountOut`` the other way), rounded down."""
        quote_in = require_int(quote_in, "quote_in", 0)
        return self._amount_out(quote_in, self.quote_reserve, self.base_reserve)

    def base_in_for(self, quote_out: int) -> int:
        """Least base to sell to receive ``quote_out`` (``getAmountIn``), rounded up.

        Raises
        ------
        VenueError
            If ``quote_out`` is not a non-negative int below the quote reserve.
        """
        quote_out = require_int(quote_out, "quote_out", 0)
        return self._amount_in(quote_out, self.base_reserve, self.quote_reserve, "quote_out")

    def quote_in_for(self, base_out: int) -> int:
        """Least quote to pay to receive ``base_out`` base, rounded up."""
        base_out = require_int(base_out, "base_out", 0)
        return self._amount_in(base_out, self.quote_reserve, self.base_reserve, "base_out")

    def price_impact_bps(self, base_in: int) -> int:
        """Cost of selling ``base_in``: execution price below the mid, in bps, rounded up.

        The execution price is the average fill, fee included, on the exact curve:
        ``1 - exec / mid = (f R + (1 - f) x) / (R + (1 - f) x)`` with ``R`` the base reserve
        and ``f`` the fee. It is ``fee_bps`` for an infinitesimal sale and increases with
        size toward 10,000. The real output is rounded down to a whole quote unit, which
        costs at most one more unit.

        Raises
        ------
        VenueError
            If ``base_in`` is not a non-negative int.
        """
        base_in = require_int(base_in, "base_in", 0)
        g = BPS - self.fee_bps
        numerator = self.fee_bps * self.base_reserve + g * base_in
        return mul_div(BPS, numerator, BPS * self.base_reserve + g * base_in, Rounding.UP)

    def sellable_within(self, slippage_bps: int) -> int:
        """Most base that can be sold keeping the post-trade mid within ``slippage_bps``.

        The post-trade mid (the marginal price, fee excluded) must stay at least
        ``mid * (1 - slippage)``: the order-book meaning of "depth within x%". On the exact
        curve the fee stays in the pool, so after selling ``x`` the mid is
        ``mid * R^2 / ((R + (1 - f) x)(R + x))``; the bound is a quadratic in ``x`` solved
        with :func:`math.isqrt` (:func:`largest_input_within`). With no fee it is
        ``R * (1 / sqrt(1 - slippage) - 1)``, about ``R * slippage / 2``. Selling the
        amount returned really keeps the pool's mid within the bound (the pool's rounding
        only raises it).

        Parameters
        ----------
        slippage_bps
            In ``[0, 10000)``: a pool's price never reaches zero.

        Raises
        ------
        VenueError
            If ``slippage_bps`` is not an int in ``[0, 10000)``.
        """
        slippage_bps = require_int(slippage_bps, "slippage_bps", 0)
        if slippage_bps >= BPS:
            raise VenueError("slippage_bps", f"must be less than {BPS}: a pool's price never "
                                             f"reaches zero (got {slippage_bps})")
        bound = Fraction(self.base_reserve**2 * BPS, BPS - slippage_bps)
        return largest_input_within(self.base_reserve, bound, self.fee_bps)

    # --- swaps (mutate) -----------------------------------------------------------------

    def sell_base(self, base_in: int) -> int:
        """Sell ``base_in`` base to the pool; return the quote paid out (rounded down).

        Raises
        ------
        VenueError
            If ``base_in`` is not a non-negative int; the pool is unchanged.
        """
        out = self.quote_out(base_in)
        self.base_reserve += base_in
        self.quote_reserve -= out
        return out

    def buy_base(self, quote_in: int) -> int:
        """Pay ``quote_in`` quote to the pool; return the base paid out (rounded down).

        Raises
        ------
        VenueError
            If ``quote_in`` is not a non-negative int; the pool is unchanged.
        """
        out = self.base_out(quote_in)
        self.quote_reserve += quote_in
        self.base_reserve -= out
        return out

    def copy(self) -> ConstantProductPool:
        """An independent copy (to try a trade without making it)."""
        return replace(self)
