"""Synthetix v3 fill price, against Synthetix's own tests.

Source (Synthetixio/synthetix-v3 at 23585f73c76d625b2a43aaf94dc440a8a1e7a8fa):
``markets/perps-market/contracts/storage/AsyncOrder.sol`` (``calculateFillPrice`` and its
worked comment), ``markets/perps-market/test/integration/Market/PerpsMarketModule.test.ts``
(``fillPrice`` cases: skew scale 10,000, price 1,010, skews 0 / 10 / -10).
"""

from __future__ import annotations

import pytest

from marginengine.venue.synthetix import UNIT, fill_price, mul_decimal

SCALE = 10_000 * UNIT


def test_contract_comment_example():
    # price 1200, size 100, skew 0, skew scale 1M: pd_after 0.0001, fill 1200.06
    assert fill_price(0, 10**6 * UNIT, 100 * UNIT, 1200 * UNIT) == 1200_06 * UNIT // 100


@pytest.mark.parametrize(("skew", "size", "expected"), [
    # PerpsMarketModule.test.ts fillPrice: the mean of 1010 x (1 + skew / 1e4) before and after
    (0, 1, 1010_0505 * UNIT // 10_000),          # (1010 + 1010.101) / 2
    (0, -1, 1009_9495 * UNIT // 10_000),         # (1010 + 1009.899) / 2
    (10, 1, 1011_0605 * UNIT // 10_000),         # (1011.01 + 1011.111) / 2
    (10, -1, 1010_9595 * UNIT // 10_000),        # (1011.01 + 1010.909) / 2
    (10, -11, 1010_4545 * UNIT // 10_000),       # (1011.01 + 1009.899) / 2
    (-10, 1, 1009_0405 * UNIT // 10_000),        # (1008.99 + 1009.091) / 2
    (-10, -1, 1008_9395 * UNIT // 10_000),       # (1008.99 + 1008.889) / 2
    (-10, 11, 1009_5455 * UNIT // 10_000),       # (1008.99 + 1010.101) / 2
])
def test_fill_price_cases_of_synthetix_suite(skew: int, size: int, expected: int):
    assert fill_price(skew * UNIT, SCALE, size * UNIT, 1010 * UNIT) == expected


def test_zero_skew_scale_fills_at_the_index_price_and_rounding_is_toward_zero():
    # "skewScale 0 ... should return the index price"
    assert fill_price(5 * UNIT, 0, UNIT, 1000 * UNIT) == 1000 * UNIT
    # signed mulDecimal truncates toward zero: -1 x 1 wei / 1e18 -> 0, not -1
    assert mul_decimal(-1, 1) == 0
    # a 1-wei skew over 3e18: pd = 1e18 / 3e18 truncated -> 0 (both sides)
    assert fill_price(1, 3 * UNIT, 0, UNIT) == UNIT
    with pytest.raises(ValueError, match="price"):
        fill_price(0, SCALE, UNIT, 0)
