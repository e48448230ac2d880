"""Bybit isolated liquidation price, against Bybit's help-center examples.

Source: Bybit Help Center, "Liquidation Price (USDT Contract)", isolated margin mode,
Example 1 (long 1 BTC at 20,000 USDT, 50x, MMR 0.5%: IM 400, MM 100, LP 19,700).
"""

from __future__ import annotations

from fractions import Fraction

import pytest

from marginengine.fixedpoint import PRICE_UNIT
from marginengine.liquidation.bybit import liquidation_price

BTC, USDT = 10**8, 10**6


def test_example_1_long():
    assert liquidation_price(BTC, 20_000 * PRICE_UNIT, 50, 5_000, BTC, USDT) == \
        19_700 * PRICE_UNIT


def test_short_mirrors_the_long():
    # The same position short: LP = 20,000 + (400 - 100) / 1 = 20,300.
    assert liquidation_price(-BTC, 20_000 * PRICE_UNIT, 50, 5_000, BTC, USDT) == \
        20_300 * PRICE_UNIT


def test_extra_margin_and_deduction_move_the_price():
    # 2 BTC at 30,000, 10x, MMR 1% with a 600 USDT deduction and 1,000 USDT extra margin:
    # IM 6,000, MM 600 - 600 = 0, LP = 30,000 - (6,000 - 0 + 1,000) / 2 = 26,500.
    assert liquidation_price(2 * BTC, 30_000 * PRICE_UNIT, 10, 10_000, BTC, USDT,
                             mm_deduction=600 * USDT, extra_margin=1_000 * USDT) == \
        26_500 * PRICE_UNIT


def test_rounding_is_against_the_trader():
    # 3 BTC at 10,000, 7x, MMR 0.5%: LP = 10,000 - (30,000/7 - 150) / 3 = 8,621.428571428...
    long = liquidation_price(3 * BTC, 10_000 * PRICE_UNIT, 7, 5_000, BTC, USDT)
    exact = (Fraction(10_000) - (Fraction(30_000, 7) - 150) / 3) * PRICE_UNIT
    assert long == -(-exact.numerator // exact.denominator)       # rounded up
    short = liquidation_price(-3 * BTC, 10_000 * PRICE_UNIT, 7, 5_000, BTC, USDT)
    exact_s = (Fraction(10_000) + (Fraction(30_000, 7) - 150) / 3) * PRICE_UNIT
    assert short == exact_s.numerator // exact_s.denominator      # rounded down
    with pytest.raises(ValueError, match="size"):
        liquidation_price(0, PRICE_UNIT, 10, 5_000, BTC, USDT)
    # 1x long can never be liquidated by price: 0.
    assert liquidation_price(BTC, 100 * PRICE_UNIT, 1, 0, BTC, USDT) == 0


def test_beside_binance_the_maintenance_margin_is_taken_at_entry_not_at_the_liquidation():
    # Example 1's position under Binance's isolated formula (liquidation/perp_prices.py,
    # one bracket: MMR 0.5%, cum 0, isolated wallet balance = Bybit's IM 400):
    # LP = (400 - 20,000) / (0.005 - 1) = 19,698.492462311... (a long's price rounded up),
    # 1.51 USDT below Bybit's 19,700: Binance charges the maintenance margin on the
    # notional at the liquidation price, Bybit on the position value at entry.
    from marginengine.liquidation.perp_prices import liquidation_price_isolated
    from marginengine.margin.tiers import MarginTier, TierSchedule

    one = TierSchedule((MarginTier(0, 5_000, 20_000),))
    binance = liquidation_price_isolated(BTC, 20_000 * PRICE_UNIT, 400 * USDT, one, BTC, USDT)
    assert binance == -(-(19_600 * PRICE_UNIT * 1000) // 995)       # 19,698.49246232
    bybit = liquidation_price(BTC, 20_000 * PRICE_UNIT, 50, 5_000, BTC, USDT)
    assert bybit - binance == 150_753_768                            # 1.50753768 USDT
