"""Tier schedules, OI-scaled IMF and size-premium IMF, checked against published numbers."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marginengine.fixedpoint import PRICE_UNIT, Rounding
from marginengine.margin.tiers import (
    PPM,
    MarginTier,
    TierSchedule,
    notional,
    oi_scaled_imf,
    size_premium_imf,
)

USDT = 10**6  # quote unit used for every schedule below
BTC = 10**8


def schedule(rows: list[tuple[int, str, str]]) -> TierSchedule:
    """Build a schedule from (floor in whole quote, MMF %, IMF %) rows."""

    def ppm(pct: str) -> int:
        value = Fraction(pct) * PPM / 100
        return math.ceil(value)

    return TierSchedule(tuple(MarginTier(f * USDT, ppm(m), ppm(i)) for f, m, i in rows))


# Binance BTCUSDT 125x brackets (USDⓈ-M), as announced in "Updates to Leverage and Margin
# Tiers of Binance Futures Contracts (2021-03-18)",
# https://www.binance.com/tr/support/announcement/86cf9aa472574b8cb2e05bb751c2a9a6
# (floor, maintenance margin rate, initial margin rate = 1 / max leverage).
BINANCE_BTCUSDT = schedule([
    (0, "0.4", "0.8"),
    (50_000, "0.5", "1"),
    (250_000, "1", "2"),
    (1_000_000, "2.5", "5"),
    (10_000_000, "5", "10"),
    (20_000_000, "10", "20"),
    (50_000_000, "12.5", "25"),
    (100_000_000, "15", "33.3"),
    (200_000_000, "25", "50"),
    (300_000_000, "50", "100"),
])
# The "maintenance amount" column of that schedule. Binance's FAQ "How to Calculate
# Liquidation Price of USDⓈ-M Futures Contracts"
# (https://www.binance.com/en/support/faq/b3c689c1f50a44cabb3a84e663b81d93) works the
# third one: "if the position ... is 500,000 USDT, then the maintenance amount would be
# 1,300 USDT ... = 250,000 * (1% - 0.5%) + 50 USDT". The whole column is the one Binance's
# web calculator uses (cumFastMaintenanceAmount, transcribed in
# https://gist.github.com/highfestiva/b71e76f51eed84d56c1be8ebbcc286b5).
BINANCE_BTCUSDT_CUM = [
    0, 50, 1_300, 16_300, 266_300, 1_266_300, 2_516_300, 5_016_300, 25_016_300, 100_016_300,
]

# Pionex BTCUSDT perpetual, "Maintenance Margin" (https://www.pionex.com/blog/maintenance-
# margin/): risk levels with a published "Margin Amount" column. IMF = 1 / max leverage
# (1/15 = 6.6667% rounds up to 66,667 ppm).
PIONEX_BTCUSDT = schedule([
    (0, "0.5", "1"),
    (150_000, "1", "4"),
    (500_000, "2.5", "6.66667"),
    (2_000_000, "5", "10"),
    (5_000_000, "10", "20"),
    (10_000_000, "25", "50"),
    (20_000_000, "50", "100"),
])
PIONEX_BTCUSDT_CUM = [0, 750, 8_250, 58_250, 308_250, 1_808_250, 6_808_250]


@pytest.mark.parametrize(
    ("sched", "published"),
    [(BINANCE_BTCUSDT, BINANCE_BTCUSDT_CUM), (PIONEX_BTCUSDT, PIONEX_BTCUSDT_CUM)],
    ids=["binance", "pionex"],
)
def test_maintenance_amount_when_published_schedule_then_equals_published_column(
    sched: TierSchedule, published: list[int]
) -> None:
    # e.g. Binance level 3: 250,000 * (1% - 0.5%) + 50 = 1,300; level 4:
    # 1,000,000 * (2.5% - 1%) + 1,300 = 16,300.
    assert [sched.maintenance_amount(i) for i in range(len(sched.tiers))] == [
        c * USDT for c in published
    ]
    assert [sched.maintenance_amount_scaled(i) for i in range(len(sched.tiers))] == [
        c * USDT * PPM for c in published
    ]


def test_binance_faq_500k_position_then_level_3_and_1300_amount() -> None:
    # Binance FAQ: a 500,000 USDT BTCUSDT position has maintenance amount 1,300 USDT;
    # MM = 500,000 * 1% - 1,300 = 3,700 USDT.
    index = BINANCE_BTCUSDT.tier_index(500_000 * USDT)
    assert index == 2
    assert BINANCE_BTCUSDT.maintenance_amount(index) == 1_300 * USDT
    assert BINANCE_BTCUSDT.maintenance_margin(500_000 * USDT) == 3_700 * USDT


def test_pionex_example_200k_position_then_mm_1250() -> None:
    # Pionex: "the Maintenance Margin would be 200,000 * 1.00% - 750 = 1,250", also
    # 150,000 * 0.5% + 50,000 * 1% = 750 + 500 = 1,250 by slices.
    assert PIONEX_BTCUSDT.maintenance_margin(200_000 * USDT) == 1_250 * USDT


def test_tier_index_when_at_floor_then_lower_bracket() -> None:
    # Binance's tables read "50,000 < Position <= 250,000": 50,000 is still level 1.
    assert BINANCE_BTCUSDT.tier_index(0) == 0
    assert BINANCE_BTCUSDT.tier_index(50_000 * USDT) == 0
    assert BINANCE_BTCUSDT.tier_index(50_000 * USDT + 1) == 1
    assert BINANCE_BTCUSDT.tier_index(10**18) == 9


@pytest.mark.parametrize("sched", [BINANCE_BTCUSDT, PIONEX_BTCUSDT], ids=["binance", "pionex"])
def test_requirements_when_at_every_edge_then_continuous(sched: TierSchedule) -> None:
    for i in range(1, len(sched.tiers)):
        edge = sched.tiers[i].notional_floor
        lo, hi = sched.tiers[i - 1], sched.tiers[i]
        # Proof of continuity, exactly: the scaled requirement of the edge notional is the
        # same with either bracket's fraction and cum, by the definition of cum_i.
        assert (
            edge * lo.mmf_ppm - sched.maintenance_amount_scaled(i - 1)
            == edge * hi.mmf_ppm - sched.maintenance_amount_scaled(i)
        )
        assert (
            edge * lo.imf_ppm - sched.initial_amount_scaled(i - 1)
            == edge * hi.imf_ppm - sched.initial_amount_scaled(i)
        )
        # And the rounded requirement steps by at most one unit across the edge (one
        # quote unit of notional at a fraction <= 100% adds at most 1 unit).
        for req in (sched.maintenance_margin, sched.initial_margin):
            assert 0 <= req(edge) - req(edge - 1) <= 1
            assert 0 <= req(edge + 1) - req(edge) <= 1


def test_requirements_worked_numbers_in_every_binance_bracket() -> None:
    # MM(N) = N * MMR - cum at N = 2 * floor of each bracket (e.g. 100,000 * 0.5% - 50 = 450;
    # 2,000,000 * 2.5% - 16,300 = 33,700). IM with its own cum: level 2 at 100,000 is
    # 100,000 * 1% - 50,000 * (1% - 0.8%) = 1,000 - 100 = 900.
    assert BINANCE_BTCUSDT.maintenance_margin(100_000 * USDT) == 450 * USDT
    assert BINANCE_BTCUSDT.maintenance_margin(2_000_000 * USDT) == 33_700 * USDT
    assert BINANCE_BTCUSDT.initial_margin(100_000 * USDT) == 900 * USDT
    assert BINANCE_BTCUSDT.maintenance_margin(0) == 0


def test_requirement_rounds_up() -> None:
    # 1 unit of notional at 0.4% needs 0.004 units: 1.
    assert BINANCE_BTCUSDT.maintenance_margin(1) == 1
    assert BINANCE_BTCUSDT.maintenance_margin(250) == 1
    assert BINANCE_BTCUSDT.maintenance_margin(251) == 2


def test_maintenance_amount_when_not_whole_then_rounded_down_scaled_exact() -> None:
    # floor 1,001 units, MMF 0.4% -> 0.5%: cum = 1,001 * 1,000 / 1e6 = 1.001 units.
    sched = TierSchedule((MarginTier(0, 4_000, 8_000), MarginTier(1_001, 5_000, 10_000)))
    assert sched.maintenance_amount_scaled(1) == 1_001_000
    assert sched.maintenance_amount(1) == 1


@pytest.mark.parametrize(
    ("tiers", "message"),
    [
        ((), "tiers: a schedule needs at least one tier"),
        ((MarginTier(1, 10, 20),), "tiers.0.notional_floor"),
        ((MarginTier(0, 10, 20), MarginTier(0, 10, 20)), "tiers.1.notional_floor"),
        ((MarginTier(0, 10, 20), MarginTier(5, 9, 20)), "tiers.1.mmf_ppm"),
        ((MarginTier(0, 10, 20), MarginTier(5, 10, 19)), "tiers.1.imf_ppm: must not decrease"),
        ((MarginTier(0, 30, 20),), "tiers.0.imf_ppm: must be at least"),
        ((MarginTier(0, -1, 20),), "tiers.0.mmf_ppm: must be within"),
        ((MarginTier(0, 10, PPM + 1),), "tiers.0.imf_ppm: must be within"),
    ],
)
def test_schedule_when_invalid_then_value_error_names_tier_and_field(
    tiers: tuple[MarginTier, ...], message: str
) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        TierSchedule(tiers)


def test_notional_rounding_and_units() -> None:
    # 0.5 BTC at 40,000.5 USDT = 20,000.25 USDT exactly; 1 satoshi at 40,000.5 is
    # 0.000400005 USDT: 400 units down, 401 up.
    price = 40_000 * PRICE_UNIT + PRICE_UNIT // 2
    assert notional(BTC // 2, price, BTC, USDT, Rounding.DOWN) == 20_000_250_000
    assert notional(-BTC // 2, price, BTC, USDT, Rounding.UP) == 20_000_250_000
    assert notional(1, price, BTC, USDT, Rounding.DOWN) == 400
    assert notional(1, price, BTC, USDT, Rounding.UP) == 401


@st.composite
def schedules(draw: st.DrawFn) -> TierSchedule:
    n = draw(st.integers(1, 6))
    gaps = draw(st.lists(st.integers(1, 10**12), min_size=n - 1, max_size=n - 1))
    mmfs = sorted(draw(st.lists(st.integers(0, PPM), min_size=n, max_size=n)))
    extra = sorted(draw(st.lists(st.integers(0, PPM), min_size=n, max_size=n)))
    floors = [0]
    for g in gaps:
        floors.append(floors[-1] + g)
    # IMF: non-decreasing and >= MMF (max of two sorted sequences is sorted).
    imfs = [min(max(m, e), PPM) for m, e in zip(mmfs, extra, strict=True)]
    return TierSchedule(
        tuple(MarginTier(f, m, i) for f, m, i in zip(floors, mmfs, imfs, strict=True))
    )


def slow_requirement(sched: TierSchedule, n: int, initial: bool) -> int:
    """The twin: charge each slice of notional at its own bracket's fraction."""
    total = Fraction(0)
    tiers = sched.tiers
    for i, tier in enumerate(tiers):
        top = tiers[i + 1].notional_floor if i + 1 < len(tiers) else n
        piece = max(0, min(n, top) - tier.notional_floor)
        total += Fraction(piece * (tier.imf_ppm if initial else tier.mmf_ppm), PPM)
    return math.ceil(total)


@given(schedules(), st.integers(0, 10**13))
def test_requirements_property_continuous_monotone_and_mm_below_im(
    sched: TierSchedule, n: int
) -> None:
    mm, im = sched.maintenance_margin(n), sched.initial_margin(n)
    assert mm == slow_requirement(sched, n, initial=False)
    assert im == slow_requirement(sched, n, initial=True)
    assert mm <= im
    # Continuous (a one-unit step moves it by at most one unit) and non-decreasing.
    assert 0 <= sched.maintenance_margin(n + 1) - mm <= 1
    assert 0 <= sched.initial_margin(n + 1) - im <= 1


# --- dYdX v4 open-interest IMF -------------------------------------------------------------


def test_oi_scaled_imf_worked_numbers() -> None:
    # Base IMF 5%, caps 20M and 50M USDC (dYdX liquidity tier style).
    lo, hi = 20_000_000 * USDT, 50_000_000 * USDT
    assert oi_scaled_imf(50_000, 10_000_000 * USDT, lo, hi) == 50_000  # below the lower cap
    assert oi_scaled_imf(50_000, lo, lo, hi) == 50_000  # at the lower cap: not scaled
    # Half way: 5% + 0.5 * (100% - 5%) = 52.5%.
    assert oi_scaled_imf(50_000, 35_000_000 * USDT, lo, hi) == 525_000
    assert oi_scaled_imf(50_000, hi, lo, hi) == PPM  # at the upper cap: 100%
    assert oi_scaled_imf(50_000, 60_000_000 * USDT, lo, hi) == PPM
    # One unit above the lower cap: 950,000 / 3e13 ppm is floored to 0, as dYdX's
    # big.Int Div does (issue 9 item 9; this was 50,001 when the OIMF was rounded up).
    assert oi_scaled_imf(50_000, lo + 1, lo, hi) == 50_000


def test_oi_scaled_imf_when_upper_cap_zero_then_disabled() -> None:
    assert oi_scaled_imf(50_000, 10**15, 0, 0) == 50_000


def test_oi_scaled_imf_when_caps_equal_then_base_at_cap_and_full_above() -> None:
    # dYdX GetAdjustedInitialMarginPpm checks OI <= lower first, so at lower == upper the
    # IMF stays at base at the cap and is 100% just above it (was 100% at the cap).
    assert oi_scaled_imf(50_000, 99, 100, 100) == 50_000
    assert oi_scaled_imf(50_000, 100, 100, 100) == 50_000
    assert oi_scaled_imf(50_000, 101, 100, 100) == PPM


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((50_000, 1, 10, 5), "lower_cap 10 must not exceed upper_cap 5"),
        ((50_000, 1, 10, 0), "lower_cap 10 must not exceed upper_cap 0"),
        ((PPM + 1, 1, 0, 5), "base_imf_ppm"),
        ((50_000, -1, 0, 5), "open_interest_notional"),
    ],
)
def test_oi_scaled_imf_when_bad_input_then_value_error(
    args: tuple[int, int, int, int], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        oi_scaled_imf(*args)


@given(st.integers(0, PPM), st.integers(0, 10**14), st.integers(0, 10**14), st.integers(0, 10**14))
def test_oi_scaled_imf_property_bounded_and_monotone(
    base: int, oi: int, a: int, b: int
) -> None:
    lo, hi = min(a, b), max(a, b)
    imf = oi_scaled_imf(base, oi, lo, hi)
    assert base <= imf <= PPM
    assert oi_scaled_imf(base, oi + 1, lo, hi) >= imf
    if hi > lo and lo < oi < hi:
        # Exactly the greatest ppm at or below base + (oi - lo) / (hi - lo) * (1 - base).
        exact = Fraction(base) + Fraction((oi - lo) * (PPM - base), hi - lo)
        assert imf == math.floor(exact)


# --- Drift v2 size premium -----------------------------------------------------------------


def test_size_premium_imf_worked_numbers() -> None:
    # base 5% = 500 bps, imf_factor 500: Drift's ratio = 400 + isqrt(10 s + 1) * 500 // 1e7
    # bps with s in 1e9 base units (isqrt(10 s + 1) = 1e5 * sqrt(size in tokens)).
    assert size_premium_imf(50_000, 100 * BTC, BTC, 500) == 50_000  # 400 + 50 < base
    assert size_premium_imf(50_000, 400 * BTC, BTC, 500) == 50_000  # 400 + 100 = base
    assert size_premium_imf(50_000, 10_000 * BTC, BTC, 500) == 90_000  # 400 + 500 bps
    assert size_premium_imf(50_000, -10_000 * BTC, BTC, 500) == 90_000  # sign ignored
    # 2 BTC, factor 1e6: isqrt(2e10 + 1) = 141,421; 141,421 * 1e6 // 1e7 = 14,142 bps;
    # 400 + 14,142 = 14,542 bps = 1,454,200 ppm. (The exact root rounded up gave 1,454,214
    # before issue 9 item 10.)
    assert size_premium_imf(50_000, 2 * BTC, BTC, PPM) == 1_454_200
    assert size_premium_imf(50_000, 10**9, BTC, 0) == 50_000  # factor 0: no premium


def test_size_premium_imf_when_base_not_whole_bps_then_value_error() -> None:
    with pytest.raises(ValueError, match="whole number of basis points"):
        size_premium_imf(50_050, BTC, BTC, 500)


def drift_reference(base_bps: int, size_1e9: int, factor: int) -> int:
    """Drift v2 calculate_size_premium_liability_weight at MARGIN_PRECISION, re-typed from
    programs/drift/src/math/margin.rs as a test oracle (bps)."""
    size_sqrt = math.isqrt(size_1e9 * 10 + 1)
    return max(base_bps, base_bps - base_bps // 5 + size_sqrt * factor // 10_000_000)


@given(st.integers(0, 10_000), st.integers(0, 10**18), st.integers(0, PPM))
def test_size_premium_imf_property_equals_drift_integers(
    base_bps: int, size: int, factor: int
) -> None:
    got = size_premium_imf(base_bps * 100, size, 10**9, factor)
    assert got == drift_reference(base_bps, size, factor) * 100
    assert got >= base_bps * 100
