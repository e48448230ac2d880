"""GMX v2 price impact (venue/gmx.py) against gmx-synthetics' own test figures.

gmx-io/gmx-synthetics at commit a5c0c8835182cbd84e47dca04b971239311d2f1d:
test/pricing/PricingUtils.ts ("should apply impact factor": every row) and
test/exchange/PositionPriceImpact/PairMarket.ts (the pendingPriceImpactUsd and
priceImpactUsd of each order: same-side and crossover rebalances); the swap examples of
contracts/pricing/PricingUtils.sol's comment.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from marginengine.venue.amm import VenueError
from marginengine.venue.gmx import (
    ImpactParams,
    apply_exponent_factor,
    apply_impact_factor,
    cap_positive_impact,
    decrease_execution_price,
    increase_fill,
    position_impact,
    swap_impact,
)

F = 10**30


def f30(value: str | int) -> int:
    # ethers.utils.parseUnits(String(v), 30)
    return int(Decimal(str(value)) * F)


APPLY_IMPACT_FACTOR = [  # [diffUsd, exponentFactor, impactFactor, expected]
    (10000, 3, "0.000000000001", "999999999999999971996569854874"),
    (100000, 3, "0.000000000001", "999999999999999972158527355760923"),
    (1000000, 3, "0.000000000001", "999999999999999974481076694795741150"),
    (10000000, 3, "0.000000000001", "999999999999999977004203243086721668335"),
    (1000000000, 3, "0.000000000001", "999999999999999964992485098699963454527292263"),
    (1000000000, 3, "1", "999999999999999964992485098699963454527292263000000000000"),
    (10000, 2, "0.00000001", "999999999999999981235216490000"),
    (100000, 2, "0.00000001", "99999999999999998147004678330000"),
    (1000000, 2, "0.00000001", "9999999999999999830554320142260000"),
    (10000000, 2, "0.00000001", "999999999999999984577907497082540000"),
    (10000, "1.75", "0.0000001", "999999999999999983993282600000"),
    (100000, "1.75", "0.0000001", "56234132519034907150467965500000"),
    (1000000, "1.75", "0.0000001", "3162277660168379284617577705300000"),
    (10000000, "1.75", "0.0000001", "177827941003892277732818564790100000"),
    ("0.0000000000001", "1.5", "0.000001", "0"),
    ("0.001", "1.5", "0.000001", "0"),
    (1, "1.5", "0.000001", "1000000000000000000000000"),
    (1000, "1.5", "0.000001", "31622776601683792872691000000"),
    (10000, "1.5", "0.000001", "999999999999999985875227000000"),
    (100000, "1.5", "0.000001", "31622776601683792881032921000000"),
    (1000000, "1.5", "0.000001", "999999999999999987642846054000000"),
    (10000000, "1.5", "0.000001", "31622776601683792957603597100000000"),
    (10000, "1", "0.0001", "1000000000000000000000000000000"),
    (100000, "1", "0.0001", "10000000000000000000000000000000"),
    (1000000, "1", "0.0001", "100000000000000000000000000000000"),
    (10000000, "1", "0.0001", "1000000000000000000000000000000000"),
]


@pytest.mark.parametrize(("diff", "exponent", "factor", "expected"), APPLY_IMPACT_FACTOR)
def test_apply_impact_factor_when_gmx_rows_then_exact(diff: str | int, exponent: str | int,
                                                     factor: str, expected: str):
    assert apply_impact_factor(f30(diff), f30(factor), f30(exponent)) == int(expected)


def test_apply_exponent_factor_edges():
    # Below one USD: 0 (PRBMath's pow needs x >= 1); exponent 1: the value itself, even
    # with digits below 1e-18 that the 18-decimal pow would drop.
    assert apply_exponent_factor(F - 1, 2 * F) == 0
    assert apply_exponent_factor(F + 1, F) == F + 1
    # 30 -> 18 decimals truncates: 1.5 USD + 1e-30 squares as 1.5 USD.
    assert apply_exponent_factor(15 * 10**29 + 1, 2 * F) == \
        apply_exponent_factor(15 * 10**29, 2 * F)


# PairMarket.ts: positive factor 5e-9, negative 1e-8, both exponents 2.
PAIR = ImpactParams(f30("0.000000005"), f30("0.00000001"), 2 * F, 2 * F)


@pytest.mark.parametrize(("long_oi", "short_oi", "delta", "is_long", "expected", "improved"), [
    # Empty market, 200k long: a crossover from 0 (0 <= 0, then 200k > 0): the initial
    # zero at the positive factor (0) less 200k^2 x 1e-8 = -400.
    (0, 0, 200_000, True, "-399999999999999992588018713340000", False),
    # Same side, worse: (400k^2 - 200k^2) x 1e-8 = -1,200.
    (200_000, 0, 200_000, True, "-1199999999999999977764056140040000", False),
    # 10k short against 400k long: same side, better, positive factor:
    # (400k^2 - 390k^2) x 5e-9 = 39.5.
    (400_000, 0, 10_000, False, "39500000000000000326409486835000", True),
    # Its decrease: back from 390k to 400k of imbalance at 1e-8: -79.
    (400_000, 10_000, -10_000, False, "-79000000000000000652818973670000", False),
    # 500k short against 400k long: a crossover, 400k^2 x 5e-9 - 100k^2 x 1e-8 = 700.
    (400_000, 0, 500_000, False, "699999999999999987029032748360000", True),
    # 100k more short: same side, worse, (200k^2 - 100k^2) x 1e-8 = -300.
    (400_000, 500_000, 100_000, False, "-299999999999999994441014035010000", False),
    # 200k long into 400k/600k: same side down to 0 (600k <= 600k), 200k^2 x 5e-9 = 200.
    (400_000, 600_000, 200_000, True, "199999999999999996294009356670000", True),
    # 100k more long: a crossover from a balanced book, 0 - 100k^2 x 1e-8 = -100.
    (600_000, 600_000, 100_000, True, "-99999999999999998147004678330000", False),
])
def test_position_impact_when_pair_market_orders_then_gmx_figures(
        long_oi: int, short_oi: int, delta: int, is_long: bool, expected: str, improved: bool):
    impact = position_impact(long_oi * F, short_oi * F, delta * F, is_long, PAIR)
    assert impact.usd == int(expected) and impact.balance_improved is improved


def test_position_impact_caps_the_positive_factor_and_guards_decreases():
    # A positive factor above the negative one is capped to it (MarketUtils): improving by
    # 10k from 400k pays (400k^2 - 390k^2) x 1e-8 = 79, not 2x that.
    generous = ImpactParams(f30("0.00000002"), f30("0.00000001"), 2 * F, 2 * F)
    capped = position_impact(400_000 * F, 0, 10_000 * F, False, generous).usd
    assert capped == -position_impact(400_000 * F, 10_000 * F, -10_000 * F, False, PAIR).usd
    # A decrease beyond the side's open interest leaves it at zero (no negative OI).
    assert position_impact(100 * F, 0, -200 * F, True, PAIR) == \
        position_impact(100 * F, 0, -100 * F, True, PAIR)


def test_swap_impact_when_pricing_utils_comment_then_minus_500_then_plus_375():
    # PricingUtils.sol: 50,000 USD a side, factor 0.01 / 50,000 = 2e-7, exponent 2. A
    # deposit of 50,000 USD of long tokens: 0^2 x f - 50,000^2 x f = -500 (crossover from
    # balance); withdrawing half of it: (50,000^2 - 25,000^2) x f = +375.
    factor = f30("0.0000002")
    deposit = swap_impact(50_000 * F, 50_000 * F, 50_000 * F, 0, factor, factor, 2 * F)
    assert deposit.usd == -499999999999999990735023391600000
    assert round(deposit.usd / F, 9) == -500
    withdraw = swap_impact(100_000 * F, 50_000 * F, -25_000 * F, 0, factor, factor, 2 * F)
    assert withdraw.balance_improved and round(withdraw.usd / F, 9) == 375
    with pytest.raises(VenueError, match="delta_b_usd: UsdDeltaExceedsPoolValue"):
        swap_impact(F, F, 0, -2 * F, factor, factor, 2 * F)
    with pytest.raises(VenueError, match="long_oi: must be non-negative"):
        position_impact(-1, 0, F, True, PAIR)


# PairMarket.ts's executionPrice and pendingImpactAmount of each increase (ETH at 5,000:
# 5,000e12 USD-30 per wei), and of the 10k short's decrease.
ETH_PRICE = 5000 * 10**12


@pytest.mark.parametrize(("long_oi", "short_oi", "delta", "is_long", "price", "amount"), [
    (0, 0, 200_000, True, 5010020040080160, -79999999999999999),      # ~5010, -0.08 ETH
    (200_000, 0, 200_000, True, 5030181086519114, -239999999999999996),
    (400_000, 0, 10_000, False, 5019828321871391, 7900000000000000),  # 5019.82, 0.0079
    (400_000, 0, 500_000, False, 5007009813739234, 139999999999999997),
    (400_000, 500_000, 100_000, False, 4985044865403788, -59999999999999999),
    (400_000, 600_000, 200_000, True, 4995004995004995, 39999999999999999),
    (600_000, 600_000, 100_000, True, 5005005005005005, -20000000000000000),
])
def test_increase_fill_when_pair_market_orders_then_gmx_execution_prices(
        long_oi: int, short_oi: int, delta: int, is_long: bool, price: int, amount: int):
    # 200k long at 5,000: 40 ETH before the impact; -400 USD is -0.0799... ETH, rounded
    # up in magnitude to -0.079999999999999999; 200,000e30 / 39.920000000000000001e18.
    impact = position_impact(long_oi * F, short_oi * F, delta * F, is_long, PAIR).usd
    fill = increase_fill(delta * F, ETH_PRICE, ETH_PRICE, is_long, impact)
    assert fill.execution_price == price and fill.impact_amount == amount


def test_decrease_execution_price_when_pair_market_short_decrease_then_5039_5():
    # The 10k short (2 ETH, sizeInUsd 10k) closed with -79 USD of impact: a short buys
    # back above the price, 5,000 + 10,000 x 79 / 2 ETH / 10,000 = 5,039.5.
    impact = position_impact(400_000 * F, 10_000 * F, -10_000 * F, False, PAIR).usd
    assert decrease_execution_price(ETH_PRICE, ETH_PRICE, 10_000 * F, 2 * 10**18,
                                    10_000 * F, impact, False) == 5039500000000000
    # A long's negative impact lowers its price by the same rule.
    assert decrease_execution_price(ETH_PRICE, ETH_PRICE, 10_000 * F, 2 * 10**18,
                                    10_000 * F, -79 * F, True) == 4960500000000000
    with pytest.raises(VenueError, match="PriceImpactLargerThanOrderSize"):
        decrease_execution_price(ETH_PRICE, ETH_PRICE, F, 10**18, F, -2 * F, True)
    with pytest.raises(VenueError, match="PriceImpactLargerThanOrderSize"):
        increase_fill(F, ETH_PRICE, ETH_PRICE, True, -2 * F)


def test_cap_positive_impact_by_max_position_impact_factor():
    # capPositiveImpactUsdByMaxPositionImpact: at most size x factor; negatives untouched.
    assert cap_positive_impact(50 * F, 10_000 * F, f30("0.001")) == 10 * F
    assert cap_positive_impact(5 * F, 10_000 * F, f30("0.001")) == 5 * F
    assert cap_positive_impact(-50 * F, 10_000 * F, f30("0.001")) == -50 * F
    assert cap_positive_impact(50 * F, 10_000 * F, None) == 50 * F
