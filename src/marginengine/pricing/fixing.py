"""The boundary where a float price becomes money: an exact int, rounded as named.

Pricing is float arithmetic; the ledger is integers. Nothing computed here is ever added
to a balance as a float: a premium, a mark or a settlement value is *fixed* first, by one
of these functions, into an int of smallest units with the rounding direction stated by
the caller. The conversion takes the float's exact binary value (``float.as_integer_ratio``,
a fraction whose denominator is a power of two), multiplies it by the unit and by the size
in exact integer arithmetic, and rounds once, at the end. So the only rounding is the one
named, and it is applied to the number the float really holds.

Rounding direction: round *up* what an account pays (a premium bought, a margin
requirement) and *down* what it receives (a premium sold, a settlement owed to it), so
that rounding never moves value from the protocol to an account.

Note the consequence of fixing the exact binary value: the float ``0.1`` is
0.1000000000000000055511151231257827... so ``premium_to_units(0.1, 10**6, Rounding.UP)``
is 100,001, not 100,000. That is deliberate: the float is above 0.1, and rounding up
promised never to give less than it. Use ``Rounding.HALF_UP`` for a mark that is only
displayed or compared.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from marginengine.errors import FieldError, field_path
from marginengine.fixedpoint import Rounding, div


def _exact(field: str, value: float) -> tuple[int, int]:
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating):
        raise FieldError(field, f"must be a number ({value!r} is not)")
    number = float(value)
    if not math.isfinite(number):
        raise FieldError(field, f"must be finite ({number!r})")
    if number < 0.0:
        raise FieldError(field, f"must be >= 0 ({number!r}); fix the magnitude and carry the "
                                "sign (who pays whom) separately")
    return number.as_integer_ratio()


def _positive_int(field: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise FieldError(field, f"must be a positive int ({value!r})")
    return value


def premium_to_units(price: float, unit: int, rounding: Rounding) -> int:
    """Fix a float amount of currency into an exact int of smallest units.

    Parameters
    ----------
    price
        A non-negative float in whole currency units (USD per option, say).
    unit
        Smallest units per whole currency unit (``10**6`` for USDC, ``10**8`` for the
        engine's price scale).
    rounding
        ``Rounding.UP`` for what an account pays, ``Rounding.DOWN`` for what it receives,
        ``Rounding.HALF_UP`` for a mark.

    Returns
    -------
    int
        ``price * unit`` rounded as asked, exactly (no intermediate float).

    Raises
    ------
    FieldError
        ``price`` negative, NaN or infinite; ``unit`` not a positive int.
    """
    numerator, denominator = _exact("price", price)
    return div(numerator * _positive_int("unit", unit), denominator, rounding)


def premium_for_size(price: float, size: int, size_unit: int, unit: int,
                     rounding: Rounding) -> int:
    """Fix the premium of ``size`` options: price x (size / size_unit), in smallest units.

    Parameters
    ----------
    price
        Float price of one option (one whole unit of underlying), >= 0.
    size
        Number of options in smallest size units, an int >= 0 (e.g. 1.5 options at 18
        decimals is ``1_500_000_000_000_000_000``).
    size_unit
        Size units per option (``10**18``).
    unit
        Smallest currency units per whole currency unit.
    rounding
        As in :func:`premium_to_units`; applied once to the whole product.

    Raises
    ------
    FieldError
        ``price`` invalid, ``size`` not an int >= 0, ``size_unit`` or ``unit`` not a
        positive int.
    """
    numerator, denominator = _exact("price", price)
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise FieldError("size", f"must be an int >= 0 (got {size!r})")
    scale = _positive_int("size_unit", size_unit)
    return div(numerator * size * _positive_int("unit", unit), denominator * scale, rounding)


def premiums_to_units(prices: ArrayLike, unit: int, rounding: Rounding) -> list[int]:
    """:func:`premium_to_units` over an array of prices (exact Python ints, which an int64
    array could not hold at 18 decimals).

    Raises
    ------
    FieldError
        ``prices`` at the index of the first invalid price.
    """
    values = np.asarray(prices, dtype=np.float64).ravel().tolist()
    out = []
    for i, value in enumerate(values):
        try:
            out.append(premium_to_units(value, unit, rounding))
        except FieldError as error:
            field = field_path("prices", i) if error.field == "price" else error.field
            raise FieldError(field, error.reason) from None
    return out
