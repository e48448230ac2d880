"""The liquidation ladder (liquidation/ladder.py): float bounds that contain the exact
close-factor plan, and a best chunk equal to planning every rung exactly.

Worked case (Aave v3.3 rules, ``LiquidationLogic``): 10 WETH at 2,000 USD against 17,000
USDC of debt, liquidation threshold 83%, bonus 5%, protocol fee 10% of the bonus: health
0.976 (above 0.95, debt above 2,000 USD), so the close factor is 50% and one liquidation
repays at most 8,500 USDC for 8,500 x 1.05 / 2,000 = 4.4625 WETH, of which the protocol
keeps 10% of the bonus, 0.02125 WETH.
"""

import random

import pytest

from marginengine.config import protocol_from_dict
from marginengine.config.families import ROUNDING_V3_3
from marginengine.liquidation import (
    CloseFactorInputs,
    LiquidationRefused,
    best_chunk,
    first_offer,
    plan_bounds,
    plan_liquidation,
)
from marginengine.liquidation.ladder import RUNGS

USD = 10**8
WETH = 10**18
USDC = 10**6
RULES = protocol_from_dict({"preset": "aave-v3.3",
                            "markets": {"WETH": {}, "USDC": {}}}).aave


def inputs(coll_weth: float, debt_usdc: float, price: float = 2_000.0,
           bonus_bps: int = 10_500, fee_bps: int = 1_000) -> CloseFactorInputs:
    coll = int(coll_weth * WETH)
    debt = int(debt_usdc * USDC)
    coll_base = int(coll * price * USD // WETH)
    debt_base = debt * USD // USDC
    hf = coll_base * 8_300 // 10_000 * 10**18 // debt_base
    return CloseFactorInputs(hf, debt_base, coll_base, debt, coll, USD, USDC,
                             int(price * USD), WETH, bonus_bps, fee_bps)


def test_plan_bounds_when_worked_case_then_contain_the_exact_plan():
    i = inputs(10, 17_000)
    plan = plan_liquidation(i, i.debt_balance, RULES, ROUNDING_V3_3)
    assert plan.debt_repaid == 8_500 * USDC
    assert plan.collateral_to_liquidator + plan.protocol_fee == 4_462_500_000_000_000_000
    assert plan.protocol_fee == 21_250_000_000_000_000
    b = plan_bounds(i, i.debt_balance, RULES, ROUNDING_V3_3)
    assert b.refused is False
    assert b.debt_lo <= plan.debt_repaid <= b.debt_hi
    assert b.to_liquidator_lo <= plan.collateral_to_liquidator <= b.to_liquidator_hi
    # Within a few units: the bounds are tight enough to decide almost every rung.
    assert b.to_liquidator_hi - b.to_liquidator_lo < 1e-9 * plan.collateral_to_liquidator


def test_plan_bounds_when_dust_or_healthy_then_refused_like_the_rule():
    healthy = inputs(10, 10_000)
    assert plan_bounds(healthy, healthy.debt_balance, RULES).refused is True
    with pytest.raises(LiquidationRefused):
        plan_liquidation(healthy, healthy.debt_balance, RULES)
    # 1.25 WETH (2,500 USD) against 2,200 USDC: health 0.943, at or below 0.95, so the
    # close factor is 100%; repaying 1,500 takes 0.7875 WETH and leaves 700 USD of debt,
    # under the 1,000 USD floor: dust, refused.
    small = inputs(1.25, 2_200)
    assert small.health_factor == 943_181_818_181_818_181
    assert plan_bounds(small, 1_500 * USDC, RULES).refused is True
    with pytest.raises(LiquidationRefused, match="dust"):
        plan_liquidation(small, 1_500 * USDC, RULES)
    # Repaying 1,200 leaves exactly 1,000 USD: on the edge, the bounds cannot tell (None)
    # and only the exact plan decides (allowed); repaying 1,100 leaves 1,100: allowed.
    assert plan_bounds(small, 1_200 * USDC, RULES).refused is None
    assert plan_liquidation(small, 1_200 * USDC, RULES).debt_repaid == 1_200 * USDC
    assert plan_bounds(small, 1_100 * USDC, RULES).refused is False


def _random_cases(n: int) -> list[tuple[CloseFactorInputs, int]]:
    rng = random.Random(11)
    cases = []
    for _ in range(n):
        debt = rng.uniform(50, 2e6)
        ratio = rng.uniform(0.9, 1.3)            # collateral value over debt
        price = rng.uniform(100, 5_000)
        i = inputs(debt * ratio / price, debt, price, rng.choice([10_250, 10_500, 11_000]),
                   rng.choice([0, 1_000, 2_000]))
        if i.health_factor >= 10**18:
            continue
        offer = rng.choice([i.debt_balance, i.debt_balance // rng.randint(2, 300),
                            rng.randint(1, i.debt_balance)])
        cases.append((i, offer))
    return cases


def test_plan_bounds_when_random_accounts_then_never_contradict_the_exact_plan():
    decided = 0
    cases = _random_cases(3_000)
    for i, offer in cases:
        b = plan_bounds(i, offer, RULES, ROUNDING_V3_3)
        try:
            plan = plan_liquidation(i, offer, RULES, ROUNDING_V3_3)
        except LiquidationRefused:
            assert b.refused is not False, (i, offer)
            decided += b.refused is True
            continue
        assert b.refused is not True, (i, offer)
        if b.refused is False:
            decided += 1
            assert b.debt_lo <= plan.debt_repaid <= b.debt_hi
            assert b.to_liquidator_lo <= plan.collateral_to_liquidator <= b.to_liquidator_hi
    assert decided >= 0.99 * len(cases) > 2_000  # the edge (exact plan needed) is rare


def _reference(i: CloseFactorInputs, offer: int, sale, mid: int, gas: float,
               min_profit: float, capital: float | None) -> int | None:
    """The keeper's loop before the ladder (sim/cascade.py at b4f5af4): plan every rung."""
    full = plan_liquidation(i, offer, RULES)
    cost = full.debt_repaid / i.debt_unit * i.debt_price / USD
    if full.collateral_to_liquidator / i.collateral_unit * mid / USD - cost - gas < min_profit:
        return None
    o = offer
    for _ in range(RUNGS):
        try:
            plan = plan_liquidation(i, o, RULES)
        except LiquidationRefused:
            plan = None
        if plan is not None:
            cost = plan.debt_repaid / i.debt_unit * i.debt_price / USD
            ok = capital is None or cost <= capital
            if ok and sale(plan.collateral_to_liquidator) - cost - gas >= min_profit:
                return o
        o //= 2
    return None


def test_best_chunk_when_random_venues_then_same_offer_as_planning_every_rung():
    rng = random.Random(5)
    plans = 0
    chosen = 0
    for i, _ in _random_cases(1_500):
        offer, bounds, plan0, planned = first_offer(i, RULES.min_leftover_base_units, RULES,
                                                    ROUNDING_V3_3)
        plans += planned
        if offer == 0:
            continue
        # A constant-product venue 0-8% below the oracle with random depth.
        mid = int(i.collateral_price * rng.uniform(0.92, 1.0))
        depth = rng.uniform(1, 500) * WETH

        def sale(amount: int, mid: int = mid, depth: float = depth) -> float:
            return amount * 0.997 / (1 + amount * 0.997 / depth) / WETH * mid / USD

        gas = rng.uniform(0, 300)
        capital = rng.choice([None, rng.uniform(1e3, 1e6)])
        chunk, planned = best_chunk(i, offer, bounds, plan0, RULES, ROUNDING_V3_3, sale, mid,
                                    gas, 0.0, capital, mid + 1)
        plans += planned
        expected = _reference(i, offer, sale, mid, gas, 0.0, capital)
        assert (chunk.offer if chunk else None) == expected, (i, offer, mid, depth, gas)
        chosen += chunk is not None
    assert chosen > 100
    assert plans < 0.05 * 1_500  # nearly every decision from the bounds alone
