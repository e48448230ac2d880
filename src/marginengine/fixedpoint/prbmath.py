"""PRBMath's unsigned 60.18-decimal ``pow``, ``log2``, ``exp2`` and ``mul``, bit for bit.

GMX v2 raises price-impact imbalances to their exponent with PRBMath's ``pow``
(:mod:`marginengine.venue.gmx`), so an exact mirror needs PRBMath's integer algorithms,
not a float power. Two releases are followed, as the same algorithms with two ``mul``
roundings and two ``pow`` front ends:

``"v2.4.3"`` (what gmx-synthetics pins: ``package.json`` ``"prb-math": "2.4.3"``)
    PaulRBerg/prb-math at tag ``v2.4.3``, ``contracts/PRBMathUD60x18.sol`` (``pow``,
    ``log2``, ``exp2``, ``mul``) and ``contracts/PRBMath.sol`` (``exp2``,
    ``mostSignificantBit``, ``mulDivFixedPoint``): ``mul`` rounds half up (a remainder
    above ``0.5e18 - 1`` adds one unit); ``pow(x, y) = exp2(mul(log2(x), y))``, ``0^0 = 1``,
    ``0^y = 0``, and ``x`` below 1 reverts (``log2``).
``"v4"``
    PaulRBerg/prb-math at commit ``982c369fe95e1d2c93d2bb1fd8650becbbfb92f1`` (v4.1),
    ``src/ud60x18/Math.sol`` (``pow``, ``log2``, ``exp2``, ``mul``) and ``src/Common.sol``
    (``exp2``, ``msb``, ``mulDiv18``): ``mul`` rounds down; ``pow`` returns 1 for
    ``x = 1`` or ``y = 0`` and ``x`` for ``y = 1``, and for ``x < 1`` computes
    ``1e36 / exp2(mul(log2(1e36 / x), y))``.

The algorithms (shared):

- ``log2(x)``, ``x >= 1``: the integer part ``n`` is the most significant bit of
  ``x / 1e18``; ``y = x >> n`` is then squared 60 times (``y = y * y / 1e18``, each time
  halving it and adding the next ``2^-m`` to the result when it reaches 2), the binary
  digits of the fraction from ``0.5e18`` down by halving.
- ``exp2(x)``, ``x < 192``: ``x`` in 192.64 binary fixed point (``(x << 64) / 1e18``);
  starting from ``2^191`` (one half), every set bit ``i`` (1 to 64) of the fraction
  multiplies by ``2^(2^-i)`` in 64.64 (``(r * c_i) >> 64``); then ``r * 1e18 >> (191 -
  integer part)``.

The 64 factors ``c_i = round(2^(2^-i) x 2^64)`` are computed here (:data:`EXP2_FACTORS`),
by repeated integer square roots at 256 extra bits, rounded to nearest; they equal PRBMath's
published constants (tests/fixedpoint/test_prbmath.py checks every one).

Every value is a ``uint256``: inputs beyond ``2^256 - 1`` are refused, and PRBMath's
reverts are :class:`PRBMathError` with PRBMath's error name.
"""

from __future__ import annotations

from math import isqrt
from typing import Literal

#: 1e18: one in 60.18-decimal fixed point (``SCALE``, ``uUNIT``).
UNIT: int = 10**18
HALF_UNIT: int = UNIT // 2
#: ``2^256 - 1``: every value is a Solidity ``uint256``.
MAX_UINT256: int = 2**256 - 1
#: ``exp2`` of 192 does not fit the 192.64-bit format.
EXP2_INPUT_LIMIT: int = 192 * UNIT

Version = Literal["v2.4.3", "v4"]
VERSIONS: tuple[str, ...] = ("v2.4.3", "v4")


class PRBMathError(ValueError):
    """A PRBMath revert (``name``: its error, e.g. ``PRBMathUD60x18__LogInputTooSmall``)."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name


def _derive_exp2_factors(extra_bits: int = 256) -> tuple[int, ...]:
    # 2^(2^-i) for i = 1..64 by repeated square roots of 2, kept at 64 + extra_bits
    # fractional bits (each isqrt floors: at most one unit of error per step, far below
    # the 2^-64 the factors are rounded to), then rounded to the nearest 2^-64.
    bits = 64 + extra_bits
    root = 2 << bits                       # 2.0
    out = []
    for _ in range(64):
        root = isqrt(root << bits)         # sqrt, still at `bits` fractional bits
        out.append((root + (1 << (extra_bits - 1))) >> extra_bits)
    return tuple(out)


#: ``c_i = round(2^(2^-i) x 2^64)`` for ``i = 1..64`` (index ``i - 1``): the factors of
#: ``exp2``'s bit-by-bit product.
EXP2_FACTORS: tuple[int, ...] = _derive_exp2_factors()


def _uint(value: int, name: str) -> None:
    if not 0 <= value <= MAX_UINT256:
        raise PRBMathError("uint256", f"{name} must be in [0, 2^256 - 1], got {value}")


def msb(x: int) -> int:
    """``mostSignificantBit`` / ``msb``: the index of the highest set bit (0 for 0 and 1)."""
    _uint(x, "x")
    return max(x.bit_length() - 1, 0)


def exp2_192x64(x: int) -> int:
    """``PRBMath.exp2`` / ``Common.exp2``: ``2^x`` for ``x`` in 192.64 binary fixed point
    below ``192 x 2^64``, as a 60.18-decimal number (see the module docstring)."""
    if not 0 <= x < 192 << 64:
        raise PRBMathError("exp2", f"x must be below 192 x 2^64 (192.64 format), got {x}")
    result = 1 << 191                      # 0.5 in the 192.64-bit format
    for i, factor in enumerate(EXP2_FACTORS, start=1):
        if x & (1 << (64 - i)):
            result = (result * factor) >> 64
    return (result * UNIT) >> (191 - (x >> 64))


def exp2(x: int, version: Version = "v2.4.3") -> int:
    """``exp2`` of a 60.18-decimal ``x`` below 192 (both releases alike).

    Raises
    ------
    PRBMathError
        ``Exp2InputTooBig`` for ``x >= 192e18``.
    """
    _check_version(version)
    _uint(x, "x")
    if x >= EXP2_INPUT_LIMIT:
        raise PRBMathError("Exp2InputTooBig", f"x must be below 192e18, got {x}")
    return exp2_192x64((x << 64) // UNIT)


def log2(x: int, version: Version = "v2.4.3") -> int:
    """``log2`` of a 60.18-decimal ``x >= 1``, rounded down (both releases alike).

    Raises
    ------
    PRBMathError
        ``LogInputTooSmall`` for ``x < 1e18``.
    """
    _check_version(version)
    _uint(x, "x")
    if x < UNIT:
        raise PRBMathError("LogInputTooSmall", f"x must be at least 1e18, got {x}")
    n = msb(x // UNIT)
    result = n * UNIT
    y = x >> n
    if y == UNIT:
        return result
    delta = HALF_UNIT
    while delta > 0:
        y = y * y // UNIT
        if y >= 2 * UNIT:
            result += delta
            y >>= 1
        delta >>= 1
    return result


def mul(x: int, y: int, version: Version = "v2.4.3") -> int:
    """``mul``: ``x * y / 1e18``; v2.4.3's ``mulDivFixedPoint`` rounds half up (a remainder
    above ``499999999999999999`` adds one), v4's ``mulDiv18`` rounds down.

    Raises
    ------
    PRBMathError
        ``MulDivFixedPointOverflow`` / ``MulDiv18_Overflow`` when the high 256 bits of
        ``x * y`` reach 1e18 (the result would not fit 256 bits).
    """
    _check_version(version)
    _uint(x, "x")
    _uint(y, "y")
    product = x * y
    if product >> 256 >= UNIT:
        name = "MulDivFixedPointOverflow" if version == "v2.4.3" else "MulDiv18_Overflow"
        raise PRBMathError(name, f"x * y = {product} overflows")
    quotient, remainder = divmod(product, UNIT)
    if version == "v2.4.3" and remainder > HALF_UNIT - 1:
        quotient += 1
    return quotient


def pow(x: int, y: int, version: Version = "v2.4.3") -> int:
    """``pow``: ``x^y`` for 60.18-decimal ``x`` and ``y`` (see the module docstring for
    each release's special cases).

    Examples
    --------
    PRBMath v4's own test (test/unit/ud60x18/math/pow/pow.t.sol): ``2^1.5``

    >>> pow(2 * 10**18, 15 * 10**17, "v4")
    2828427124746190097

    Raises
    ------
    PRBMathError
        From ``log2`` (``x`` below 1 under v2.4.3), ``mul`` and ``exp2`` (a result of
        ``2^192`` or more).
    """
    _check_version(version)
    _uint(x, "x")
    _uint(y, "y")
    if x == 0:
        return UNIT if y == 0 else 0
    if version == "v2.4.3":
        return exp2(mul(log2(x, version), y, version), version)
    if x == UNIT or y == 0:
        return UNIT
    if y == UNIT:
        return x
    if x > UNIT:
        return exp2(mul(log2(x, version), y, version), version)
    inverse = UNIT * UNIT // x
    return UNIT * UNIT // exp2(mul(log2(inverse, version), y, version), version)


def _check_version(version: str) -> None:
    if version not in VERSIONS:
        raise ValueError(f"version: unknown PRBMath release {version!r} (one of "
                         f"{', '.join(VERSIONS)})")


__all__ = [
    "EXP2_FACTORS",
    "EXP2_INPUT_LIMIT",
    "MAX_UINT256",
    "UNIT",
    "VERSIONS",
    "PRBMathError",
    "exp2",
    "exp2_192x64",
    "log2",
    "msb",
    "mul",
    "pow",
]
