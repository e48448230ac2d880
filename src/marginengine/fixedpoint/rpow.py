"""Fixed-point exponentiation by squaring, as MakerDAO's ``rpow`` computes it."""

from __future__ import annotations

from marginengine.fixedpoint.wadray import RAY


def rpow(x: int, n: int, base: int = RAY) -> int:
    """Return ``x ** n`` in fixed point with unit ``base``, rounding each product half up.

    This is MakerDAO's ``rpow`` (used by ``jug.drip`` and the auction abacus): exponentiation
    by squaring where every intermediate product ``a * b / base`` rounds half up. Use it to
    compound a per-second rate exactly: ``rpow(RAY + rate_per_second, seconds)``.

    Parameters
    ----------
    x
        The base, in fixed point (``base`` is one).
    n
        A non-negative integer exponent.
    base
        The fixed-point unit, ``RAY`` by default.
    """
    if n < 0:
        raise ValueError("rpow exponent must be non-negative")
    if x < 0:
        raise ValueError("rpow base must be non-negative")
    if x == 0:
        return base if n == 0 else 0
    half = base // 2
    z = x if n % 2 else base
    n //= 2
    while n:
        x = (x * x + half) // base
        if n % 2:
            z = (z * x + half) // base
        n //= 2
    return z
