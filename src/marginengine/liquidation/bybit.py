"""Bybit's isolated-margin liquidation price of a USDT contract (linear perpetual).

Bybit, Help Center, "Liquidation Price (USDT Contract)", isolated margin mode::

    LP (long)  = Entry Price - (Initial Margin - Maintenance Margin) / Position Size
                 - Extra Margin Added / Position Size
    LP (short) = Entry Price + (Initial Margin - Maintenance Margin) / Position Size
                 + Extra Margin Added / Position Size

    Position Value = Position Size x Entry Price
    Initial Margin = Position Value / Leverage
    Maintenance Margin = Position Value x MMR - Maintenance Margin Deduction

(https://www.bybit.com/en/help-center/article/Liquidation-Price-USDT-Contract; Example 1: a
long of 1 BTC at 20,000 USDT with 50x leverage and MMR 0.5% has IM 400, MM 100 and LP
19,700.) Beside Binance's (``liquidation/perp_prices.py``), in the same units: prices in
``PRICE_UNIT`` (1e8) per whole base token, sizes signed in base smallest units, margins in
quote smallest units; the formula is solved over exact rationals and rounded once against
the trader (a long's price up, a short's down). A non-positive result means the position
cannot be liquidated by price (it is 0 for a long).
"""

from __future__ import annotations

from fractions import Fraction

from marginengine.fixedpoint import PRICE_UNIT

PPM = 1_000_000


def liquidation_price(size: int, entry_price: int, leverage: Fraction | int, mmr_ppm: int,
                      base_unit: int, quote_unit: int, mm_deduction: int | Fraction = 0,
                      extra_margin: int | Fraction = 0) -> int:
    """Bybit's isolated liquidation price (``PRICE_UNIT`` fixed point).

    Parameters
    ----------
    size
        Signed position size (base smallest units; positive = long); not 0.
    entry_price
        Average entry price (``PRICE_UNIT``), positive.
    leverage
        The position's leverage (``Initial Margin = Position Value / Leverage``), positive.
    mmr_ppm
        Maintenance margin rate of the position's risk-limit tier, ppm.
    base_unit, quote_unit
        ``10**decimals`` of the base and quote tokens.
    mm_deduction
        The tier's maintenance-margin deduction (quote smallest units; an exact
        ``Fraction`` is taken as it is, e.g. a tier's cumulative amount, which need not be a
        whole smallest unit).
    extra_margin
        Margin added to the position beyond the initial margin (quote smallest units; an
        exact ``Fraction`` likewise; negative when the margin is below the initial margin).
    """
    if size == 0:
        raise ValueError("size: must not be 0")
    if entry_price <= 0:
        raise ValueError(f"entry_price: must be positive, got {entry_price}")
    lev = Fraction(leverage)
    if lev <= 0:
        raise ValueError(f"leverage: must be positive, got {leverage}")
    if not 0 <= mmr_ppm < PPM:
        raise ValueError(f"mmr_ppm: must be in [0, 1e6), got {mmr_ppm}")
    if base_unit <= 0 or quote_unit <= 0:
        raise ValueError("base_unit and quote_unit: must be positive")
    qty = Fraction(abs(size), base_unit)                       # whole base tokens
    entry = Fraction(entry_price, PRICE_UNIT)                  # quote per base token
    value = qty * entry                                        # whole quote tokens
    initial = value / lev
    maintenance = value * Fraction(mmr_ppm, PPM) - Fraction(mm_deduction, quote_unit)
    cushion = (initial - maintenance + Fraction(extra_margin, quote_unit)) / qty
    lp = (entry - cushion) if size > 0 else (entry + cushion)
    scaled = lp * PRICE_UNIT
    num, den = int(scaled.numerator), int(scaled.denominator)
    if size > 0:
        return max(0, -(-num // den))      # up, against a long
    return num // den                      # down, against a short


__all__ = ["liquidation_price"]
