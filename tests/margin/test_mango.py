"""Mango v4 health, against Mango's own ``test_health1`` cases.

Source (blockworks-foundation/mango-v4 at 1303a4a16228eb1e8e8d4f0eef724eaf63310c86):
``programs/mango-v4/src/health/cache.rs`` (``test_health1``, its runner and ``health_eq``,
which accepts a difference below 0.001), ``programs/mango-v4/src/health/test.rs``
(``mock_bank_and_oracle``, ``mock_perp_market``), ``programs/mango-v4/src/health/client.rs``
(``test_health_stable_price_token``). The cases with Serum3 open orders (0, 1,
6-9, 14-17) are not reproduced: Serum3 reservations are not modelled.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest

from marginengine.margin.mango import (
    F32_MAX,
    NO_SCALING,
    ONE,
    HealthType,
    PerpInfo,
    Prices,
    TokenInfo,
    f32_nearest,
    fx,
    fx_from_f32,
    fx_from_f64,
    fx_mul,
    fx_to_f64,
    health,
    perp_health_quote,
    scaled_init_asset_weight,
    scaled_init_liab_weight,
    unsettled_funding,
)

INIT, MAINT, LIQ_END = HealthType.INIT, HealthType.MAINT, HealthType.LIQUIDATION_END
BASE_LOTS_TO_QUOTE = 10.0 * 5.0


def bank(index: int, price: float, init: float, maint: float, balance: int,
         deposits: int = 0, deposit_start: float = NO_SCALING, borrows: int = 0,
         borrow_start: float = NO_SCALING) -> TokenInfo:
    # mock_bank_and_oracle: weights 1 -+ w via I80F48::from_num, stable price = oracle.
    p = fx_from_f64(price)
    init_asset, init_liab = fx_from_f64(1.0 - init), fx_from_f64(1.0 + init)
    return TokenInfo(
        token_index=index, prices=Prices(p, p),
        maint_asset_weight=fx_from_f64(1.0 - maint), init_asset_weight=init_asset,
        init_scaled_asset_weight=scaled_init_asset_weight(init_asset, deposit_start,
                                                          fx(deposits), 0, p),
        maint_liab_weight=fx_from_f64(1.0 + maint), init_liab_weight=init_liab,
        init_scaled_liab_weight=scaled_init_liab_weight(init_liab, borrow_start,
                                                        fx(borrows), p),
        balance_spot=fx(balance))


def perp(base_lots: int, quote: int, bids: int = 0, asks: int = 0) -> PerpInfo:
    # mock_perp_market(price 5, base weights (0.2, 0.1), pnl weights (0.05, 0.02)), lot 10.
    p = fx_from_f64(5.0)
    return PerpInfo(
        settle_token_index=0,
        init_base_asset_weight=fx_from_f64(0.8), init_base_liab_weight=fx_from_f64(1.2),
        maint_base_asset_weight=fx_from_f64(0.9), maint_base_liab_weight=fx_from_f64(1.1),
        init_overall_asset_weight=fx_from_f64(0.95), maint_overall_asset_weight=fx_from_f64(0.98),
        base_lot_size=10, base_lots=base_lots, bids_base_lots=bids, asks_base_lots=asks,
        quote=fx(quote), base_prices=Prices(p, p))


def tokens(t1: int = 0, t2: int = 0, t3: int = 0, **scaling: dict[str, float]
           ) -> list[TokenInfo]:
    s = [scaling.get(f"b{i}", {}) for i in (1, 2, 3)]
    return [bank(0, 1.0, 0.2, 0.1, t1, **s[0]),       # type: ignore[arg-type]
            bank(4, 5.0, 0.5, 0.3, t2, **s[1]),       # type: ignore[arg-type]
            bank(5, 10.0, 0.5, 0.3, t3, **s[2])]      # type: ignore[arg-type]


def health_eq(raw: int, expected: float) -> bool:
    # cache.rs health_eq: |a - from_num(b)| < 0.001
    return abs(raw - fx_from_f64(expected)) < fx_from_f64(0.001)


@pytest.mark.parametrize(("case", "toks", "perps", "expected"), [
    ("2: weighted positive perp pnl", tokens(), [perp(-1, 100)],
     0.8 * 0.95 * (100.0 - 1.2 * 1.0 * BASE_LOTS_TO_QUOTE)),
    ("3: negative perp pnl is not weighted", tokens(), [perp(1, -100)],
     1.2 * (-100.0 + 0.8 * 1.0 * BASE_LOTS_TO_QUOTE)),
    ("4: perp health", tokens(), [perp(10, 100)],
     0.8 * 0.95 * (100.0 + 0.8 * 10.0 * BASE_LOTS_TO_QUOTE)),
    ("5: perp health", tokens(), [perp(30, -100)],
     0.8 * 0.95 * (-100.0 + 0.8 * 30.0 * BASE_LOTS_TO_QUOTE)),
    ("10: collateral limit",
     tokens(100, 100, 100, b1={"deposits": 100, "deposit_start": 1000.0},
            b2={"deposits": 1500, "deposit_start": 5000.0},
            b3={"deposits": 10000, "deposit_start": 10000.0}), [],
     0.8 * 100.0 + 0.5 * 100.0 * 5.0 * (5000.0 / (1500.0 * 5.0))
     + 0.5 * 100.0 * 10.0 * (10000.0 / (10000.0 * 10.0))),
    ("11: borrow limit",
     tokens(-100, -100, -100, b1={"borrows": 100, "borrow_start": 1000.0},
            b2={"borrows": 1500, "borrow_start": 5000.0},
            b3={"borrows": 10000, "borrow_start": 10000.0}), [],
     -1.2 * 100.0 - 1.5 * 100.0 * 5.0 * (1500.0 * 5.0 / 5000.0)
     - 1.5 * 100.0 * 10.0 * (10000.0 * 10.0 / 10000.0)),
    ("12: positive perp health offsets token borrow", tokens(-100), [perp(1, 100)],
     0.8 * (-100.0 + 0.95 * (100.0 + 0.8 * 1.0 * BASE_LOTS_TO_QUOTE))),
    ("13: negative perp health offsets token deposit", tokens(100), [perp(-1, -100)],
     1.2 * (100.0 - 100.0 - 1.2 * 1.0 * BASE_LOTS_TO_QUOTE)),
])
def test_health1_cases_without_serum(case: str, toks: list[TokenInfo], perps: list[PerpInfo],
                                     expected: float):
    assert health_eq(health(toks, perps, INIT), expected), (case, fx_to_f64(
        health(toks, perps, INIT)))


def test_open_orders_take_the_worse_of_bids_and_asks():
    # test_health1 case 0 without its Serum3 part: 100 of token1 and the perp's
    # (3 + 7 bids) lots x 50 x 0.8 + (-131 - 7 x 50) ("scenario: bids execute"), all in
    # token1 at 0.8, and token2's -10 at 5 x 1.5.
    h = health(tokens(100, -10), [perp(3, -131, bids=7, asks=11)], INIT)
    assert health_eq(h, 0.8 * (100.0 + (3.0 + 7.0) * BASE_LOTS_TO_QUOTE * 0.8
                               + (-131.0 - 7.0 * BASE_LOTS_TO_QUOTE)) - 10.0 * 5.0 * 1.5)


def test_stable_price_is_used_on_the_init_side_only():
    # Prices::asset / liab: init uses min / max of oracle and stable; maint the oracle.
    t = TokenInfo(0, Prices(fx(10), fx(8)), fx_from_f64(0.9), fx_from_f64(0.8),
                  fx_from_f64(0.8), fx_from_f64(1.1), fx_from_f64(1.2), fx_from_f64(1.2),
                  fx(100))
    assert health_eq(health([t], [], MAINT), 100 * 10 * 0.9)
    assert health_eq(health([t], [], INIT), 100 * 8 * 0.8)       # asset at min(10, 8)
    assert health_eq(health([t], [], LIQ_END), 100 * 10 * 0.8)   # init weights, oracle
    b = TokenInfo(0, Prices(fx(10), fx(12)), fx_from_f64(0.9), fx_from_f64(0.8),
                  fx_from_f64(0.8), fx_from_f64(1.1), fx_from_f64(1.2), fx_from_f64(1.2),
                  fx(-100))
    assert health_eq(health([b], [], INIT), -100 * 12 * 1.2)     # liab at max(10, 12)
    # ordering documented by Mango: init <= liquidation end <= maint
    assert health([t], [], INIT) <= health([t], [], LIQ_END) <= health([t], [], MAINT)


def test_weight_0_9_when_taken_as_mangos_f32_then_its_exact_i80f48_bits():
    # TokenRegister / PerpCreateMarket take the weights as f32 and store
    # I80F48::from_num(f32) (mango-v4@1303a4a programs/mango-v4/src/instructions/
    # token_register.rs, perp_create_market.rs). 0.9 as an f32 is 0x3F666666: sign 0,
    # exponent 126 (2^-1), significand 0x666666 | 2^23 = 15,099,494, i.e. exactly
    # 15,099,494 / 2^24 = 0.89999997615814208984375; in I80F48 (48 fractional bits) that
    # is the raw 15,099,494 x 2^24, no rounding needed.
    bits = int(np.float32(0.9).view(np.uint32))
    assert bits == 0x3F666666
    significand, exponent = (bits & 0x7FFFFF) | 1 << 23, (bits >> 23 & 0xFF) - 127 - 23
    assert (significand, exponent) == (15_099_494, -24)
    assert fx_from_f32(Decimal("0.9")) == significand << (48 + exponent) \
        == 253_327_472_328_704
    assert Fraction(f32_nearest("0.9")) == Fraction(15_099_494, 2**24)
    # what the f64 path held: 2^48 x 0.9 (as f64), rounded: 6,710,886 raw (2.4e-8) higher
    assert fx_from_f64(0.9) - fx_from_f32("0.9") == 6_710_886


def test_f32_nearest_rounds_the_decimal_once_ties_to_even():
    # 1 + 2^-24 is halfway between the f32s 1 and 1 + 2^-23. A hair above it the nearest
    # f32 is 1 + 2^-23; through an f64 first it would become the tie and then 1.0.
    above = 1 + Fraction(1, 2**24) + Fraction(1, 2**60)
    assert float(above) == 1 + 2.0**-24                      # the f64 lands on the tie
    assert f32_nearest(above) == 1 + 2.0**-23                # the f32 of the exact value
    assert f32_nearest(1 + Fraction(1, 2**24)) == 1.0        # a true tie: even
    assert f32_nearest(1 + Fraction(3, 2**24)) == 1 + 2.0**-22
    assert f32_nearest(-0.1) == -float(np.float32(0.1))
    assert f32_nearest(2.0**-149) == 2.0**-149               # the least subnormal
    assert f32_nearest(2.0**-150) == 0.0                     # half of it: a tie, to 0
    assert f32_nearest(F32_MAX) == F32_MAX == float(np.finfo(np.float32).max)
    for bad in (F32_MAX * 1.0000001, float("nan"), Decimal("Infinity")):
        with pytest.raises(ValueError):
            f32_nearest(bad)


def test_fx_from_f32_rounds_bits_below_2_to_the_minus_48_to_nearest_even():
    # fixed's from_num(f32): "rounds to the nearest, with ties rounding to even"
    # (the fixed crate's macros_from_to.rs documentation of from_num).
    assert fx_from_f32(2.0**-48) == 1
    assert fx_from_f32(3 * 2.0**-49) == 2                    # 1.5 raw: the tie to even
    assert fx_from_f32(5 * 2.0**-50) == 1                    # 1.25 raw: down
    assert fx_from_f32(2.0**-49) == 0                        # 0.5 raw: to even 0


def test_i80f48_representation():
    # cache.rs test_precision: I80F48 resolves 2^-48 but not 2^-49.
    assert fx_from_f64(2.0**-48) == 1
    assert fx_from_f64(2.0**-49) == 0          # a tie rounds to even (0)
    assert fx_mul(fx(3), fx_from_f64(0.5)) == fx(3) // 2
    assert fx_mul(-1, 1) == -1                 # floor, as an arithmetic shift
    assert ONE == 2**48
    with pytest.raises(ValueError, match="settle_token_index"):
        health(tokens()[1:], [perp(1, 1)], INIT)


def test_health_stable_price_token_of_mangos_suite():
    # programs/mango-v4/src/health/client.rs test_health_stable_price_token (same commit):
    # bank 0 (oracle 1.0, weights 0.2 / 0.1) and perp market 9 (oracle 1.0, base weights
    # (0.2, 0.1), lot 10), both with a stable price of 0.5. Init health values assets at
    # min(oracle, stable) and liabilities at max(oracle, stable); maint at the oracle; the
    # perp's PnL enters through its settle token (bank 0, liab weight 1.2 / 1.1).
    def token(balance: int) -> TokenInfo:
        return TokenInfo(0, Prices(fx_from_f64(1.0), fx_from_f64(0.5)), fx_from_f64(0.9),
                         fx_from_f64(0.8), fx_from_f64(0.8), fx_from_f64(1.1),
                         fx_from_f64(1.2), fx_from_f64(1.2), fx(balance))

    account = [token(100)]
    assert health_eq(health(account, [], INIT), 0.8 * 0.5 * 100.0)
    assert health_eq(health(account, [], MAINT), 0.9 * 1.0 * 100.0)
    account2 = [token(-100)]
    assert health_eq(health(account2, [], INIT), -1.2 * 1.0 * 100.0)
    assert health_eq(health(account2, [], MAINT), -1.1 * 1.0 * 100.0)
    # account3: record_trade(10 base lots, quote -100) and no token position.
    p = Prices(fx_from_f64(1.0), fx_from_f64(0.5))
    perp3 = PerpInfo(
        settle_token_index=0,
        init_base_asset_weight=fx_from_f64(0.8), init_base_liab_weight=fx_from_f64(1.2),
        maint_base_asset_weight=fx_from_f64(0.9), maint_base_liab_weight=fx_from_f64(1.1),
        init_overall_asset_weight=fx_from_f64(0.95),
        maint_overall_asset_weight=fx_from_f64(0.98),
        base_lot_size=10, base_lots=10, bids_base_lots=0, asks_base_lots=0,
        quote=fx(-100), base_prices=p)
    account3 = [token(0)]
    assert health_eq(health(account3, [perp3], INIT), 1.2 * (0.8 * 0.5 * 10.0 * 10.0 - 100.0))
    assert health_eq(health(account3, [perp3], MAINT), 1.1 * (0.9 * 1.0 * 10.0 * 10.0 - 100.0))


def test_health_perp_funding_of_mangos_suite():
    # programs/mango-v4/src/health/client.rs test_health_perp_funding (same commit): bank 0
    # (oracle 1.0, weights 0.2 / 0.1) holding 100; perp market 9 (oracle 1.0, base weights
    # (0.2, 0.1), lot 10) long 10 lots bought for -110 quote, the market's long_funding
    # from_num(10.1) against the position's settled from_num(10.0): unsettled funding
    # 10 x (10.1 - 10.0) = 1. Init health 0.8 x (100 + 0.8 x 100 - 110 - 1).
    funding = unsettled_funding(10, fx_from_f64(10.1), 0, fx_from_f64(10.0), 0)
    assert funding == fx_mul(fx_from_f64(10.1) - fx_from_f64(10.0), fx(10))
    assert abs(fx_to_f64(funding) - 1.0) < 1e-9
    p = fx_from_f64(1.0)
    position = PerpInfo(
        settle_token_index=0,
        init_base_asset_weight=fx_from_f64(0.8), init_base_liab_weight=fx_from_f64(1.2),
        maint_base_asset_weight=fx_from_f64(0.9), maint_base_liab_weight=fx_from_f64(1.1),
        init_overall_asset_weight=fx_from_f64(0.95), maint_overall_asset_weight=fx_from_f64(0.98),
        base_lot_size=10, base_lots=10, bids_base_lots=0, asks_base_lots=0,
        quote=perp_health_quote(fx(-110), funding), base_prices=Prices(p, p))
    token = TokenInfo(0, Prices(p, p), fx_from_f64(0.9), fx_from_f64(0.8), fx_from_f64(0.8),
                      fx_from_f64(1.1), fx_from_f64(1.2), fx_from_f64(1.2), fx(100))
    assert health_eq(health([token], [position], INIT),
                     0.8 * (100.0 + 0.8 * 100.0 - 110.0 - 1.0))
    # Without the funding the figure is Mango's plus 0.8 x 1: the funding is what moves it.
    settled = replace(position, quote=perp_health_quote(fx(-110), 0))
    assert health_eq(health([token], [settled], INIT), 0.8 * (100.0 + 0.8 * 100.0 - 110.0))


def test_unsettled_funding_when_short_or_flat_then_its_side_or_zero():
    # A short owes short_funding - settled per lot times its (negative) lots; flat: none.
    assert unsettled_funding(-4, 0, fx(3), 0, fx(1)) == -fx(8)
    assert unsettled_funding(0, fx(5), fx(5), 0, 0) == 0
    # Taker quote (lots x quote lot size) enters the health quote in native units.
    assert perp_health_quote(fx(-110), fx(1), 10 * 100) == fx(-110 - 1 + 1000)
