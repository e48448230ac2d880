"""Synthetix v3 perps: the skew-based fill price (premium/discount), in Synthetix's integers.

A trade of ``size`` against a market whose skew (long minus short open interest) is
``skew`` fills at the mean of the oracle price adjusted by the premium before and after
the trade, ``pd = skew / skewScale``::

    pdBefore    = skew.divDecimal(skewScale)
    pdAfter     = (skew + size).divDecimal(skewScale)
    priceBefore = price + price.mulDecimal(pdBefore)
    priceAfter  = price + price.mulDecimal(pdAfter)
    fillPrice   = (priceBefore + priceAfter).divDecimal(2e18)

with 18-decimal fixed point; ``mulDecimal`` and ``divDecimal`` on signed ints truncate toward
zero (Solidity's ``/``). A zero ``skewScale`` fills at the oracle price.

Source followed: Synthetixio/synthetix-v3 at commit
``23585f73c76d625b2a43aaf94dc440a8a1e7a8fa`` (2025-06-12),
``markets/perps-market/contracts/storage/AsyncOrder.sol`` (``calculateFillPrice``),
``utils/core-contracts/contracts/utils/DecimalMath.sol``.
"""

from __future__ import annotations

from marginengine.fixedpoint import div_toward_zero

UNIT = 10**18


def mul_decimal(x: int, y: int) -> int:
    """``DecimalMath.mulDecimal(int256, int256)``: ``x * y / 1e18`` toward zero."""
    return div_toward_zero(x * y, UNIT)


def div_decimal(x: int, y: int) -> int:
    """``DecimalMath.divDecimal(int256, int256)``: ``x * 1e18 / y`` toward zero."""
    if y == 0:
        raise ZeroDivisionError("divDecimal by zero")
    return div_toward_zero(x * UNIT, y)


def fill_price(skew: int, skew_scale: int, size: int, price: int) -> int:
    """``AsyncOrder.calculateFillPrice`` (all 18-decimal ints; ``size`` and ``skew`` signed).

    Parameters
    ----------
    skew
        The market's skew before the trade (base units, 1e18).
    skew_scale
        The market's ``skewScale`` (1e18); 0 disables the premium.
    size
        The trade's signed size (1e18).
    price
        The oracle price (1e18), positive.

    Examples
    --------
    The contract's own comment: 100 at 1,200 with no skew and a 1,000,000 skew scale
    fills at 1,200.06.

    >>> fill_price(0, 10**6 * UNIT, 100 * UNIT, 1200 * UNIT) == 120006 * UNIT // 100
    True
    """
    if skew_scale < 0:
        raise ValueError(f"skew_scale: must be non-negative, got {skew_scale}")
    if price <= 0:
        raise ValueError(f"price: must be positive, got {price}")
    if skew_scale == 0:
        return price
    pd_before = div_decimal(skew, skew_scale)
    pd_after = div_decimal(skew + size, skew_scale)
    before = price + mul_decimal(price, pd_before)
    after = price + mul_decimal(price, pd_after)
    total = before + after
    if total < 0:
        # SafeCast.toUint reverts: a premium below -100% cannot fill.
        raise ValueError("fill price would be negative (the skew exceeds the skew scale)")
    return total * UNIT // (2 * UNIT)


__all__ = ["UNIT", "div_decimal", "fill_price", "mul_decimal"]
