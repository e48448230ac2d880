"""Wad, ray and basis-point arithmetic over Python ints with the rounding named in each call.

Mirrors Aave's ``WadRayMath`` and ``PercentageMath`` (whose defaults round half up) and the
floor/ceil variants later Aave versions added so that rounding always favours the protocol.
Every function takes non-negative operands; the caller chooses the direction: round *down*
what the protocol owes an account, round *up* what an account owes the protocol.
"""

from __future__ import annotations

from enum import Enum

WAD = 10**18
HALF_WAD = WAD // 2
RAY = 10**27
HALF_RAY = RAY // 2
WAD_RAY_RATIO = 10**9
BPS = 10_000
HALF_BPS = BPS // 2


class Rounding(Enum):
    """Direction of the rounding of one division."""

    DOWN = "down"
    UP = "up"
    HALF_UP = "half_up"


#: The members, bound once: ``Rounding.DOWN`` is an attribute lookup through the enum's
#: metaclass (about 0.14 us, several times a plain name's), and :func:`div` runs a few
#: hundred thousand times in a cascade.
_DOWN = Rounding.DOWN
_UP = Rounding.UP


def div(numerator: int, denominator: int, rounding: Rounding) -> int:
    """Divide two non-negative ints with an explicit rounding.

    Parameters
    ----------
    numerator, denominator
        Non-negative ints; ``denominator`` must be positive.
    rounding
        ``DOWN`` (floor), ``UP`` (ceil) or ``HALF_UP`` (ties away from zero).

    Returns
    -------
    int
        The rounded quotient.
    """
    if denominator <= 0:
        raise ZeroDivisionError("fixed-point division by a non-positive denominator")
    if numerator < 0:
        raise ValueError("fixed-point division of a negative numerator")
    if rounding is _DOWN:
        return numerator // denominator
    if rounding is _UP:
        return -(-numerator // denominator)
    return (2 * numerator + denominator) // (2 * denominator)


def div_toward_zero(numerator: int, denominator: int) -> int:
    """Signed division rounded toward zero, as Solidity's ``/`` on signed ints and Rust's
    integer division do (Python's ``//`` floors); ``denominator`` must not be 0."""
    q = abs(numerator) // abs(denominator)
    return q if (numerator >= 0) == (denominator > 0) else -q


def mul_div(a: int, b: int, denominator: int, rounding: Rounding) -> int:
    """Return ``a * b / denominator`` rounded as asked, with no intermediate rounding."""
    return div(a * b, denominator, rounding)


def wad_mul(a: int, b: int, rounding: Rounding = Rounding.HALF_UP) -> int:
    """Multiply two wads (``a * b / 1e18``); Aave's ``wadMul`` is ``HALF_UP``."""
    return div(a * b, WAD, rounding)


def wad_div(a: int, b: int, rounding: Rounding = Rounding.HALF_UP) -> int:
    """Divide two wads (``a * 1e18 / b``); Aave's ``wadDiv`` is ``HALF_UP``."""
    return div(a * WAD, b, rounding)


def ray_mul(a: int, b: int, rounding: Rounding = Rounding.HALF_UP) -> int:
    """Multiply two rays (``a * b / 1e27``); Aave's ``rayMul`` is ``HALF_UP``."""
    return div(a * b, RAY, rounding)


def ray_div(a: int, b: int, rounding: Rounding = Rounding.HALF_UP) -> int:
    """Divide two rays (``a * 1e27 / b``); Aave's ``rayDiv`` is ``HALF_UP``."""
    return div(a * RAY, b, rounding)


def ray_to_wad(a: int, rounding: Rounding = Rounding.HALF_UP) -> int:
    """Convert a ray to a wad."""
    return div(a, WAD_RAY_RATIO, rounding)


def wad_to_ray(a: int) -> int:
    """Convert a wad to a ray (exact)."""
    return a * WAD_RAY_RATIO


def bps_mul(value: int, bps: int, rounding: Rounding = Rounding.HALF_UP) -> int:
    """Return ``value * bps / 10000``; Aave's ``percentMul`` is ``HALF_UP``."""
    return div(value * bps, BPS, rounding)


def bps_div(value: int, bps: int, rounding: Rounding = Rounding.HALF_UP) -> int:
    """Return ``value * 10000 / bps``; Aave's ``percentDiv`` is ``HALF_UP``."""
    return div(value * BPS, bps, rounding)
