"""Bankruptcy, liquidation and fillable prices: published examples and exact properties."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from marginengine.fixedpoint import PRICE_UNIT
from marginengine.liquidation.perp_prices import (
    bankruptcy_price,
    fillable_price,
    liquidation_price_cross,
    liquidation_price_isolated,
)
from marginengine.margin.tiers import PPM, MarginTier, TierSchedule
from tests.margin.test_tiers import BINANCE_BTCUSDT

BTC = 10**8  # base unit (8 decimals)
USDT = 10**6  # quote unit (6 decimals)
P: int = PRICE_UNIT
SCALE = BTC * P  # value(size, price) = size * price * USDT / SCALE


def cents(price: int) -> int:
    """A PRICE_UNIT price to whole cents, half up (how the exchanges display it)."""
    return (price + P // 200) // (P // 100)


# --- liquidation price: published example -------------------------------------------------


def test_liquidation_price_long_reproduces_binance_faq_example() -> None:
    """Binance FAQ "How to avoid liquidation" (Binance, USDⓈ-M futures):
    https://binance.com/en/support/faq/25edcd7fe0e544839d0847b8cbb2e400

    "Assume you have a wallet balance of 500 USDT. You entered a long BTCUSDT position
    worth 1,000 USDT with 20x leverage at $50,000. In this example, your liquidation price
    will be $25,100.40."

    Q = 1,000 / 50,000 = 0.02 BTC; the notional at the liquidation price (~502 USDT) is in
    the first bracket (MMR 0.4%, cum 0). Binance's formula:
    LP = (WB + cum - Q * EP) / (Q * MMR - Q) = (500 + 0 - 1,000) / (0.02 * 0.004 - 0.02)
       = -500 / -0.01992 = 25,100.4016... -> 25,100.40.
    The account holds a single position, so the cross (default) and isolated formulas agree.
    """
    q = 2 * BTC // 100
    lp = liquidation_price_isolated(q, 50_000 * P, 500 * USDT, BINANCE_BTCUSDT, BTC, USDT)
    assert lp == 2_510_040_160_643  # 25,100.40160643 (25,100.401606425..., rounded up)
    assert cents(lp) == 2_510_040  # $25,100.40, as published
    cross = liquidation_price_cross(q, 50_000 * P, 500 * USDT, 0, BINANCE_BTCUSDT, BTC, USDT)
    assert cross == lp


def test_liquidation_price_short_worked_by_hand() -> None:
    """Isolated short, Binance's formula (no published short example was found).

    Short 2 BTC at 40,000 with 4,000 USDT isolated margin (20x). Notional at entry is
    80,000, in bracket 2 (MMR 0.5%, cum 50). Side = -1:
    LP = (WB + cum + Q * EP) / (Q * MMR + Q) = (4,000 + 50 + 80,000) / (2 * 0.005 + 2)
       = 84,050 / 2.01 = 41,815.920398009...; notional there 83,631.84 is still in
    (50,000, 250,000], so the bracket is consistent. Rounded down: 41,815.92039800.
    """
    lp = liquidation_price_isolated(-2 * BTC, 40_000 * P, 4_000 * USDT, BINANCE_BTCUSDT, BTC, USDT)
    assert lp == 4_181_592_039_800
    assert cents(lp) == 4_181_592


def test_liquidation_price_when_bracket_at_lp_differs_from_entry_then_uses_lp_bracket() -> None:
    """Binance: "if your position (calculated at the liquidation price) and the current
    position (calculated at the opening price) are of different levels", use the level at
    the liquidation price.

    Long 5.2 BTC at 50,000 (notional 260,000: bracket 3, MMR 1%, cum 1,300), WB 26,000.
    Bracket 3: (26,000 + 1,300 - 260,000) / (5.2 * 0.01 - 5.2) = 45,202.02; notional
    235,050.5 < 250,000: inconsistent. Bracket 2: (26,000 + 50 - 260,000) / (5.2 * 0.005 -
    5.2) = 233,950 / 5.174 = 45,216.466950135...; notional 235,125.6 is in bracket 2.
    """
    size = 52 * BTC // 10
    lp = liquidation_price_isolated(size, 50_000 * P, 26_000 * USDT, BINANCE_BTCUSDT, BTC, USDT)
    assert lp == 4_521_646_695_014  # rounded up
    assert BINANCE_BTCUSDT.tier_index(size * lp * USDT // SCALE) == 1


def test_liquidation_price_cross_worked_by_hand() -> None:
    """Binance cross formula: LP = (WB - TMM1 + UPNL1 + cum - side*Q*EP) / (Q*MMR - side*Q).

    Wallet 10,000 USDT; another position (ETH short) with unrealized PnL -500 and
    maintenance 150; long 1 BTC at 30,000. other_equity = WB + UPNL1 = 9,500,
    other_maintenance = TMM1 = 150. Bracket 1 (notional <= 50,000, MMR 0.4%, cum 0):
    LP = (10,000 - 150 - 500 + 0 - 30,000) / (0.004 - 1) = 20,650 / 0.996 = 20,732.9317...
    -> 20,732.93172691 rounded up.
    """
    lp = liquidation_price_cross(
        BTC, 30_000 * P, 9_500 * USDT, 150 * USDT, BINANCE_BTCUSDT, BTC, USDT
    )
    assert lp == 2_073_293_172_691
    assert cents(lp) == 2_073_293


def test_liquidation_price_when_long_margin_covers_cost_then_none() -> None:
    # 1x long: WB = entry cost, equity at price 0 is 0 = maintenance at 0: never liquidated.
    lp = liquidation_price_isolated(BTC, 30_000 * P, 30_000 * USDT, BINANCE_BTCUSDT, BTC, USDT)
    assert lp is None
    assert liquidation_price_isolated(0, 30_000 * P, 1, BINANCE_BTCUSDT, BTC, USDT) is None


def test_liquidation_price_when_short_with_no_margin_then_just_below_entry() -> None:
    # WB 0: at entry the equity is 0 < maintenance; LP = 30,000 / 1.004 = 29,880.478...
    lp = liquidation_price_isolated(-BTC, 30_000 * P, 0, BINANCE_BTCUSDT, BTC, USDT)
    assert lp == 2_988_047_808_764


def test_liquidation_price_when_short_liquidatable_at_every_price_then_zero() -> None:
    # Cross: other equity 100, other maintenance 30,100 -> WB' = -30,000 = -Q * EP, so
    # equity - maintenance is 0 at price 0 and negative above.
    lp = liquidation_price_cross(
        -BTC, 30_000 * P, 100 * USDT, 30_100 * USDT, BINANCE_BTCUSDT, BTC, USDT
    )
    assert lp == 0


def test_liquidation_price_when_long_in_full_bracket_and_short_of_margin_then_error() -> None:
    # Every notional requires 100%: a long is either always safe or never safe.
    full = TierSchedule((MarginTier(0, PPM, PPM),))
    assert liquidation_price_isolated(BTC, 100 * P, 100 * USDT, full, BTC, USDT) is None
    with pytest.raises(ValueError, match="liquidatable at every price"):
        liquidation_price_isolated(BTC, 100 * P, 99 * USDT, full, BTC, USDT)


def exact_gap(size: int, price: int, entry: int, wb: int, sched: TierSchedule) -> Fraction:
    """The twin: equity - maintenance at ``price``, exactly, for an isolated position."""
    side = 1 if size > 0 else -1
    q = abs(size)
    equity = Fraction(wb) + Fraction(side * q * (price - entry) * USDT, SCALE)
    notional = Fraction(q * price * USDT, SCALE)
    floors = sched.floors
    index = max(i for i, f in enumerate(floors) if f < notional or i == 0)
    mm = notional * Fraction(sched.tiers[index].mmf_ppm, PPM) - Fraction(
        sched.maintenance_amount_scaled(index), PPM
    )
    return equity - mm


@given(
    st.integers(1, 10 * BTC),
    st.sampled_from([1, -1]),
    st.integers(1_000 * P, 200_000 * P),
    st.integers(1, 100),
)
def test_liquidation_price_property_is_the_exact_threshold_tick(
    qty: int, side: int, entry: int, leverage: int
) -> None:
    size = side * qty
    cost = qty * entry * USDT // SCALE
    wb = cost // leverage
    lp = liquidation_price_isolated(size, entry, wb, BINANCE_BTCUSDT, BTC, USDT)
    if lp is None:
        assert side > 0 and wb * SCALE >= qty * entry * USDT
        return
    assume(lp > 1)
    gap = exact_gap(size, lp, entry, wb, BINANCE_BTCUSDT)
    # Not liquidatable at the returned tick, liquidatable one tick further against the
    # trader: the returned price is the exact threshold rounded against the trader.
    assert gap >= 0
    assert exact_gap(size, lp - side, entry, wb, BINANCE_BTCUSDT) < 0
    # In ints, as the engine sees it (equity rounded down, requirement rounded up): equal
    # within one unit. (One price tick is worth at most 0.1 unit here, size <= 10 BTC.)
    equity_int = wb + (side * qty * (lp - entry) * USDT) // SCALE
    mm_exact = Fraction(wb) + Fraction(side * qty * (lp - entry) * USDT, SCALE) - gap
    mm_int = -(-mm_exact.numerator // mm_exact.denominator)
    assert abs(equity_int - mm_int) <= 1


# --- bankruptcy price ----------------------------------------------------------------------


def test_bankruptcy_price_long_and_short_worked() -> None:
    # Long 1 BTC bought at 50,000 with 5,000 USDT of collateral: quote balance -45,000;
    # account value -45,000 + 1 * P = 0 at P = 45,000.
    assert bankruptcy_price(BTC, -45_000 * USDT, BTC, USDT) == 45_000 * P
    # Short 1 BTC sold at 50,000 with 5,000 collateral: quote balance 55,000 -> 55,000.
    assert bankruptcy_price(-BTC, 55_000 * USDT, BTC, USDT) == 55_000 * P
    # Inexact: 100,000 / 3 = 33,333.333333333...: long rounds up, short down.
    assert bankruptcy_price(3 * BTC, -100_000 * USDT, BTC, USDT) == 3_333_333_333_334
    assert bankruptcy_price(-3 * BTC, 100_000 * USDT, BTC, USDT) == 3_333_333_333_333


def test_bankruptcy_price_when_never_or_always_bankrupt_then_zero() -> None:
    assert bankruptcy_price(BTC, 0, BTC, USDT) == 0  # fully paid long
    assert bankruptcy_price(BTC, 10 * USDT, BTC, USDT) == 0
    assert bankruptcy_price(-BTC, -1, BTC, USDT) == 0  # short already under water
    with pytest.raises(ValueError, match="size must not be 0"):
        bankruptcy_price(0, 1, BTC, USDT)


@given(st.integers(1, 10**4 * BTC), st.sampled_from([1, -1]), st.integers(1, 10**12 * USDT))
def test_bankruptcy_price_property_closing_there_leaves_zero_or_more(
    qty: int, side: int, magnitude: int
) -> None:
    size = side * qty
    quote = -side * magnitude  # the bankrupt-able sign
    bp = bankruptcy_price(size, quote, BTC, USDT)

    def value_scaled(price: int) -> int:
        return quote * SCALE + size * price * USDT

    assert value_scaled(bp) >= 0
    assert value_scaled(bp - side) < 0


# --- fillable price ------------------------------------------------------------------------


def test_fillable_price_long_worked_between_oracle_and_bankruptcy() -> None:
    """dYdX v4: FP = (PNNV - ABR * SMMR * PMMR) / PS, ABR = clamp(BA * (1 - TNC/TMMR), 0, 1).

    Long 1 BTC, oracle 50,000, PMMF 3% (PMMR 1,500), SMMR 10% (dYdX default), BA 100%.
    TNC 1,000, TMMR 1,500: ABR = 1 - 1,000 / 1,500 = 1/3.
    FP = (50,000 - 1/3 * 0.1 * 1,500) / 1 = 50,000 - 50 = 49,950.
    The account's quote balance is 1,000 - 50,000 = -49,000, so its bankruptcy price is
    49,000: 49,000 < 49,950 < 50,000.
    """
    fp = fillable_price(50_000 * P, BTC, 30_000, 100_000, 1_000 * USDT, 1_500 * USDT)
    assert fp == 49_950 * P
    bp = bankruptcy_price(BTC, -49_000 * USDT, BTC, USDT)
    assert bp == 49_000 * P
    assert bp < fp < 50_000 * P


def test_fillable_price_short_worked_between_oracle_and_bankruptcy() -> None:
    """Short 2 ETH, oracle 3,000, PMMF 3% (PMMR 180), SMMR 10%, TNC 100, TMMR 180.

    ABR = 1 - 100/180 = 4/9; spread = 4/9 * 0.1 * 0.03 = 1/750 of the oracle = 4 USDT;
    FP = 3,004. Quote balance 100 + 6,000 = 6,100: bankruptcy price 3,050 > 3,004 > 3,000.
    """
    eth = 10**18
    fp = fillable_price(3_000 * P, -2 * eth, 30_000, 100_000, 100 * USDT, 180 * USDT)
    assert fp == 3_004 * P
    assert bankruptcy_price(-2 * eth, 6_100 * USDT, eth, USDT) == 3_050 * P


def test_fillable_price_when_tnc_negative_then_full_spread_beyond_bankruptcy() -> None:
    # TNC -100 < 0: ABR = 1 + 100/1,500 clamps to 1; FP = 50,000 * (1 - 0.1 * 0.03) = 49,850.
    # The bankruptcy price is 50,100 (quote balance -50,100): the insurance fund pays
    # 50,100 - 49,850 = 250 USDT if the order fills at the fillable price.
    fp = fillable_price(50_000 * P, BTC, 30_000, 100_000, -100 * USDT, 1_500 * USDT)
    assert fp == 49_850 * P
    assert bankruptcy_price(BTC, -50_100 * USDT, BTC, USDT) == 50_100 * P


def test_fillable_price_when_healthy_then_oracle_and_ba_scales_rating() -> None:
    for tnc in (1_500 * USDT, 9_000 * USDT):  # at or above the requirement: ABR 0
        assert fillable_price(50_000 * P, BTC, 30_000, 100_000, tnc, 1_500 * USDT) == 50_000 * P
    # BA 200%: ABR = 2 * (1/3) = 2/3; FP = 50,000 - 2/3 * 0.1 * 1,500 = 49,900.
    fp = fillable_price(50_000 * P, BTC, 30_000, 100_000, 1_000 * USDT, 1_500 * USDT, 2 * PPM)
    assert fp == 49_900 * P


def test_fillable_price_when_inexact_then_rounded_as_dydx_subticks() -> None:
    # ABR = 1 - 1/3 = 2/3, spread = 2/3 * 0.1 * 0.03 = 0.2%. Oracle 123.45678901:
    # long 123.45678901 * 0.998 = 123.209875431... -> up (dYdX's
    # ConvertFillablePriceToSubticks rounds a sell closing a long up); short * 1.002 =
    # 123.703702588... -> down. (Until this audit: down for a long, up for a short.)
    assert fillable_price(12_345_678_901, 1, 30_000, 100_000, 1, 3) == 12_320_987_544
    assert fillable_price(12_345_678_901, -1, 30_000, 100_000, 1, 3) == 12_370_370_258


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tmmr": 0}, "tmmr must be positive"),
        ({"size": 0}, "size must not be 0"),
        ({"pmmf_ppm": PPM + 1}, "pmmf_ppm"),
        ({"smmf_ppm": -1}, "smmf_ppm"),
        ({"smmf_ppm": 2**32}, "smmf_ppm"),
    ],
)
def test_fillable_price_when_bad_input_then_value_error(
    kwargs: dict[str, int], message: str
) -> None:
    args = {"oracle_price": P, "size": 1, "pmmf_ppm": 30_000, "smmf_ppm": 100_000,
            "tnc": 1, "tmmr": 3} | kwargs
    with pytest.raises(ValueError, match=message):
        fillable_price(**args)


@given(
    st.integers(1, 10**6 * P),
    st.sampled_from([1, -1]),
    st.integers(0, PPM),
    st.integers(0, PPM),
    st.integers(-(10**12), 10**12),
    st.integers(1, 10**12),
    st.integers(0, 3 * PPM),
)
def test_fillable_price_property_bounded_and_monotone_in_collateral(
    oracle: int, side: int, pmmf: int, smmf: int, tnc: int, tmmr: int, ba: int
) -> None:
    fp = fillable_price(oracle, side, pmmf, smmf, tnc, tmmr, ba)
    widest = Fraction(oracle) * (1 - side * Fraction(smmf * pmmf, PPM * PPM))
    lo, hi = sorted((Fraction(oracle), widest))
    # Within [oracle, oracle * (1 -/+ SMMR * PMMF)], up to the one rounding.
    assert lo - 1 < fp < hi + 1
    # More collateral never moves the price further from the oracle.
    closer = fillable_price(oracle, side, pmmf, smmf, tnc + 1, tmmr, ba)
    assert abs(closer - oracle) <= abs(fp - oracle)


@given(
    st.integers(1, 100),
    st.sampled_from([1, -1]),
    st.integers(100, 100_000),
    st.integers(1, 200_000),
    st.integers(0, PPM),
    st.integers(0, 10**12),
)
def test_fillable_price_property_on_oracle_side_of_bankruptcy_iff_collateral_covers_spread(
    whole_btc: int, side: int, dollars: int, pmmf: int, smmf: int, tnc_seed: int
) -> None:
    """Single position with PMMR = TMMR, BA = 100%: FP is between the oracle and the
    bankruptcy price exactly when ABR * SMMR * PMMR <= TNC (else the insurance fund pays).
    """
    # Whole BTC at whole dollars: PNNV and PMMR are whole units, so TMMR = PMMR exactly.
    qty, oracle = whole_btc * BTC, dollars * P
    size = side * qty
    pnnv = whole_btc * dollars * USDT
    pmmr = pnnv * pmmf // PPM  # exact: pnnv is a multiple of 1e6
    tnc = tnc_seed % (pmmr + 1)  # liquidatable: 0 <= TNC <= TMMR
    fp = fillable_price(oracle, size, pmmf, smmf, tnc, pmmr)
    quote = tnc - side * pnnv
    bp = bankruptcy_price(size, quote, BTC, USDT)
    abr = 1 - Fraction(tnc, pmmr)
    covers = abr * Fraction(smmf, PPM) * pmmr <= tnc
    exact_fp = Fraction(oracle) * (1 - side * abr * Fraction(smmf * pmmf, PPM * PPM))
    exact_bp = Fraction(oracle) - side * Fraction(tnc * SCALE, qty * USDT)
    assert (side * (exact_fp - exact_bp) >= 0) == covers
    if covers and side * (exact_fp - exact_bp) > 1:
        assert side * (fp - bp) >= 0


@pytest.mark.parametrize("side", [1, -1])
def test_liquidation_price_when_hyperliquid_docs_formula_then_same_root(side: int) -> None:
    """Hyperliquid docs, Trading > Liquidations
    (https://hyperliquid.gitbook.io/hyperliquid-docs/trading/liquidations):
    ``liq_price = price - side * margin_available / position_size / (1 - l * side)`` with
    ``l`` the maintenance rate and ``margin_available = account_value - maintenance``.

    1 BTC at mark 50,000 (entry 50,000), account value 5,000 USDT, 40x asset (MM 1.25%):
    margin available 5,000 - 625 = 4,375; long 50,000 - 4,375 / 0.9875 = 45,569.6202...,
    short 50,000 + 4,375 / 1.0125 = 54,320.9876...
    """
    mmr = Fraction(125, 10_000)
    available = Fraction(5_000) - 50_000 * mmr
    exact = (50_000 - side * available / (1 - mmr * side)) * P
    one_tier = TierSchedule((MarginTier(0, 12_500, 25_000),))
    ours = liquidation_price_cross(side * BTC, 50_000 * P, 5_000 * USDT, 0, one_tier, BTC,
                                   USDT)
    assert ours is not None
    # Rounded against the trader: a long's up, a short's down.
    rounded = -(-exact.numerator // exact.denominator) if side > 0 \
        else exact.numerator // exact.denominator
    assert ours == rounded
    assert cents(ours) == (4_556_962 if side > 0 else 5_432_099)
