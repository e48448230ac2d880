"""Auto-deleveraging: a five-account book worked by hand for each policy, and properties."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marginengine.fixedpoint import PRICE_UNIT
from marginengine.liquidation.adl import (
    AdlCandidate,
    AdlFill,
    AdlPolicy,
    adl_score,
    allocate_adl,
    hyperliquid_adl_index,
    rank_adl,
)

BTC = 10**8
USDC = 10**6
P = PRICE_UNIT
MARK = 40_000 * P
BANKRUPT = 41_000 * P  # a bankrupt LONG: its bankruptcy price is above mark

# The book: shorts on the other side of a bankrupt long. Mark 40,000.
#   quote_balance = entry proceeds; uPnL = quote_balance - |size| * 40,000;
#   PnL% = uPnL / |quote_balance|; leverage = |size| * 40,000 / equity.
# acct size  entry  quote    uPnL    PnL%     notional equity lev   score
# A    -1    50,000 50,000   10,000  20%      40,000   20,000 2     0.2 * 2    = 2/5
# B    -2    44,000 88,000    8,000  1/11     80,000    8,000 10    10/11      = 0.909
# C    -0.5  60,000 30,000   10,000  1/3      20,000   40,000 0.5   1/6        = 0.167
# D    -1.5  38,000 57,000   -3,000  -1/19    60,000   12,000 5     -1/19 / 5  = -1/95
# E    -1    42,000 42,000    2,000  1/21     40,000    4,000 10    10/21      = 0.476
BOOK = (
    AdlCandidate("A", -BTC, 50_000 * USDC, 20_000 * USDC, 200 * USDC),
    AdlCandidate("B", -2 * BTC, 88_000 * USDC, 8_000 * USDC, 400 * USDC),
    AdlCandidate("C", -BTC // 2, 30_000 * USDC, 40_000 * USDC, 100 * USDC),
    AdlCandidate("D", -3 * BTC // 2, 57_000 * USDC, 12_000 * USDC, 300 * USDC),
    AdlCandidate("E", -BTC, 42_000 * USDC, 4_000 * USDC, 200 * USDC),
)
SIZE_TO_CLOSE = 35 * BTC // 10  # the bankrupt long: 3.5 BTC


def allocate(
    policy: AdlPolicy, size: int = SIZE_TO_CLOSE, book: Sequence[AdlCandidate] = BOOK
) -> list[AdlFill]:
    return allocate_adl(size, BANKRUPT, MARK, book, policy, BTC, USDC)


def fill(account: str, btc: Fraction, haircut_usdc: Fraction) -> AdlFill:
    """A short candidate's fill: closes -btc at 41,000, giving up haircut_usdc."""
    return AdlFill(account, -int(btc * BTC), BANKRUPT, int(haircut_usdc * USDC))


def test_adl_score_worked_book() -> None:
    scores = {c.account: adl_score(c, MARK, BTC, USDC) for c in BOOK}
    assert scores == {"A": (2, 5), "B": (10, 11), "C": (1, 6), "D": (-1, 95), "E": (10, 21)}


def test_allocate_pnl_leverage_queue_fills_in_score_order() -> None:
    # Queue B (10/11) > E (10/21) > A (2/5) > C (1/6) > D (-1/95, the only loser, last).
    # 3.5 BTC: B closes all 2, E all 1, A 0.5. Each gives up (41,000 - 40,000) per BTC
    # bought back: 2,000, 1,000, 500 USDC.
    assert allocate(AdlPolicy.PNL_LEVERAGE) == [
        fill("B", Fraction(2), Fraction(2_000)),
        fill("E", Fraction(1), Fraction(1_000)),
        fill("A", Fraction(1, 2), Fraction(500)),
    ]


def test_allocate_pro_rata_profit_caps_and_redistributes() -> None:
    # Profitable: A 10,000, B 8,000, C 10,000, E 2,000 (sum 30,000); exposure 4.5 >= 3.5.
    # Shares of 3.5: A 1.1667 > its 1 BTC and C 1.1667 > its 0.5: both closed fully.
    # The other 2.0 BTC split 8,000 : 2,000 between B and E: 1.6 and 0.4 (under caps).
    fills = allocate(AdlPolicy.PRO_RATA_PROFIT)
    assert fills == [
        fill("A", Fraction(1), Fraction(1_000)),
        fill("B", Fraction(16, 10), Fraction(1_600)),
        fill("C", Fraction(1, 2), Fraction(500)),
        fill("E", Fraction(4, 10), Fraction(400)),
    ]
    assert sum(-f.size for f in fills) == SIZE_TO_CLOSE
    assert sum(f.haircut for f in fills) == 3_500 * USDC


def test_allocate_pro_rata_profit_when_profit_runs_out_then_rest_by_size() -> None:
    # 5 BTC > the 4.5 BTC of profitable exposure: A, B, C, E close fully, the loser D
    # takes the remaining 0.5 (pro rata by size among the rest: D alone).
    fills = allocate(AdlPolicy.PRO_RATA_PROFIT, 5 * BTC)
    assert [(f.account, f.size) for f in fills] == [
        ("A", -BTC), ("B", -2 * BTC), ("C", -BTC // 2), ("D", -BTC // 2), ("E", -BTC),
    ]


def test_allocate_risk_aware_weights_profit_times_leverage_largest_remainder() -> None:
    # Weights uPnL * leverage: A 10,000*2 = 20,000; B 8,000*10 = 80,000; C 10,000*0.5 =
    # 5,000; E 2,000*10 = 20,000 (sum 125,000). Shares of 3.5 BTC: B 2.24 > its 2: closed
    # fully. The other 1.5 BTC = 150,000,000 sat over 20,000 : 5,000 : 20,000:
    #   A 66,666,666.67, C 16,666,666.67, E 66,666,666.67 -> floors sum to 149,999,998;
    # the 2 leftover satoshis go to the largest remainders, all equal (2/3), so by
    # account id: A and C. Haircut = 1,000 USDC per BTC, rounded up:
    #   A 0.66666667 BTC -> 666.66667 USDC; C 0.16666667 -> 166.66667; E 0.66666666 ->
    #   666.66666.
    fills = allocate(AdlPolicy.RISK_AWARE)
    assert fills == [
        AdlFill("A", -66_666_667, BANKRUPT, 666_666_670),
        AdlFill("B", -2 * BTC, BANKRUPT, 2_000 * USDC),
        AdlFill("C", -16_666_667, BANKRUPT, 166_666_670),
        AdlFill("E", -66_666_666, BANKRUPT, 666_666_660),
    ]
    assert sum(-f.size for f in fills) == SIZE_TO_CLOSE


def test_allocate_when_equal_weights_then_leftover_by_account_id() -> None:
    # Three equal winners share 100 units: 33 each and 1 left over -> the first id.
    book = [AdlCandidate(name, -BTC, 41_000 * USDC, 1_000 * USDC, 0) for name in "zyx"]
    fills = allocate_adl(100, BANKRUPT, MARK, book, AdlPolicy.PRO_RATA_PROFIT, BTC, USDC)
    assert [(f.account, f.size) for f in fills] == [("x", -34), ("y", -33), ("z", -33)]


def test_allocate_when_rest_split_by_size_then_proportional_to_size() -> None:
    # No winner (all entered at 39,000 < mark 40,000): 1 BTC split 3 : 1 by size.
    book = [
        AdlCandidate("a", -3 * BTC, 117_000 * USDC, 10_000 * USDC, 0),
        AdlCandidate("b", -BTC, 39_000 * USDC, 10_000 * USDC, 0),
    ]
    fills = allocate_adl(BTC, BANKRUPT, MARK, book, AdlPolicy.PRO_RATA_PROFIT, BTC, USDC)
    assert [(f.account, f.size) for f in fills] == [("a", -75_000_000), ("b", -25_000_000)]


def test_allocate_when_bankrupt_short_then_longs_sell_below_mark() -> None:
    # A bankrupt short: its bankruptcy price (39,000) is below mark. A long candidate sells
    # 1 BTC there and gives up 40,000 - 39,000 = 1,000 USDC versus mark.
    book = [AdlCandidate("L", 2 * BTC, -60_000 * USDC, 30_000 * USDC, 0)]
    fills = allocate_adl(-BTC, 39_000 * P, MARK, book, AdlPolicy.PNL_LEVERAGE, BTC, USDC)
    assert fills == [AdlFill("L", BTC, 39_000 * P, 1_000 * USDC)]


def test_haircut_when_bankruptcy_price_better_than_mark_then_negative() -> None:
    # Mark moved above the bankruptcy price: the short buys back at 39,000 < 40,000.
    fills = allocate_adl(BTC, 39_000 * P, MARK, BOOK[:1], AdlPolicy.PNL_LEVERAGE, BTC, USDC)
    assert fills == [AdlFill("A", -BTC, 39_000 * P, -1_000 * USDC)]


def test_haircut_rounds_up() -> None:
    # 1 satoshi bought back 1 price unit (1e-8 USDC per BTC) above mark: 1e-16 USDC -> 1.
    fills = allocate_adl(1, MARK + 1, MARK, BOOK[:1], AdlPolicy.PNL_LEVERAGE, BTC, USDC)
    assert fills[0].haircut == 1


def test_allocate_in_steps() -> None:
    # Step 0.001 BTC: 0.003 BTC over three equal winners is 0.001 each.
    book = [AdlCandidate(n, -BTC, 41_000 * USDC, 1_000 * USDC, 0) for n in "abc"]
    fills = allocate_adl(
        300_000, BANKRUPT, MARK, book, AdlPolicy.PRO_RATA_PROFIT, BTC, USDC, step=100_000
    )
    assert [f.size for f in fills] == [-100_000] * 3
    with pytest.raises(ValueError, match="not a multiple of step"):
        allocate_adl(150_000, BANKRUPT, MARK, book, AdlPolicy.PRO_RATA_PROFIT, BTC, USDC,
                     step=100_000)


def test_allocate_when_exposure_insufficient_then_error_names_both_numbers() -> None:
    # Opposite exposure 1 + 2 + 0.5 + 1.5 + 1 = 6 BTC < 7 BTC to close.
    with pytest.raises(ValueError, match="opposite exposure 600000000 is smaller than the "
                                         "size to close 700000000"):
        allocate(AdlPolicy.PNL_LEVERAGE, 7 * BTC)


@pytest.mark.parametrize(
    ("book", "message"),
    [
        # The field is named by the dotted path (errors.field_path), keyed by account.
        ([AdlCandidate("A", BTC, 0, 1, 0)], r"^candidates\.A\.size: \d+ is not on the opposite"),
        ([AdlCandidate("A", 0, 0, 1, 0)], r"^candidates\.A\.size: 0 is not on the opposite side"),
        ([BOOK[0], BOOK[0]], "appears more than once"),
    ],
)
def test_allocate_when_bad_candidates_then_error(book: list[AdlCandidate], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        allocate_adl(BTC, BANKRUPT, MARK, book, AdlPolicy.PNL_LEVERAGE, BTC, USDC)


def test_allocate_when_nothing_to_close_then_no_fills() -> None:
    assert allocate(AdlPolicy.RISK_AWARE, 0) == []


def test_adl_score_when_equity_not_positive_then_clamped_to_one_unit() -> None:
    # Profitable but the account is under water elsewhere: leverage counts as notional / 1.
    c = AdlCandidate("A", -BTC, 50_000 * USDC, -5, 0)
    num, den = adl_score(c, MARK, BTC, USDC)
    # PnL% 1/5, leverage 40,000e6 / 1 -> score 8e9.
    assert Fraction(num, den) == Fraction(1, 5) * 40_000 * USDC


candidates = st.lists(
    st.tuples(
        st.integers(1, 10 * BTC),  # |size|
        st.integers(1_000, 100_000),  # entry price, whole dollars
        st.integers(-(10**10), 10**12),  # equity
    ),
    min_size=1,
    max_size=6,
)


@given(candidates, st.sampled_from(list(AdlPolicy)), st.integers(0, 10**12))
def test_allocate_property_exact_total_within_sizes_and_deterministic(
    rows: list[tuple[int, int, int]], policy: AdlPolicy, seed: int
) -> None:
    book = [
        AdlCandidate(f"acct{i}", -size, size * entry * USDC // BTC, equity, 0)
        for i, (size, entry, equity) in enumerate(rows)
    ]
    total = sum(size for size, _, _ in rows)
    need = 1 + seed % total
    fills = allocate_adl(need, BANKRUPT, MARK, book, policy, BTC, USDC)
    assert sum(-f.size for f in fills) == need
    by_account = {c.account: c for c in book}
    for f in fills:
        assert by_account[f.account].size <= f.size < 0
    shuffled = list(reversed(book))
    assert allocate_adl(need, BANKRUPT, MARK, shuffled, policy, BTC, USDC) == fills


# --- Hyperliquid's index and the ranking's components (issue 9 item 8) --------------------
# Two shorts at mark 40,000 where the two rankings disagree:
#   X: entry 40,400 (PnL% 1/101), notional 40,000, equity 4,000 -> leverage 10
#      BitMEX: 1/101 * 10 = 0.099;  Hyperliquid: (40,400 / 40,000) * 10 = 10.1
#   Y: entry 80,000 (PnL% 1/2), notional 40,000, equity 40,000 -> leverage 1
#      BitMEX: 1/2 * 1 = 0.5;       Hyperliquid: (80,000 / 40,000) * 1 = 2
DISAGREE = (
    AdlCandidate("X", -BTC, 40_400 * USDC, 4_000 * USDC, 200 * USDC),
    AdlCandidate("Y", -BTC, 80_000 * USDC, 40_000 * USDC, 200 * USDC),
)


def test_hyperliquid_index_when_rankings_disagree_then_documented_index_decides() -> None:
    # Hyperliquid docs, Trading > Auto-deleveraging: index = (mark / entry) x (notional /
    # account value); a short's ratio is taken in its favour (entry / mark).
    assert hyperliquid_adl_index(DISAGREE[0], MARK, BTC, USDC) == Fraction(101, 10)
    assert hyperliquid_adl_index(DISAGREE[1], MARK, BTC, USDC) == 2
    hl = allocate_adl(BTC, BANKRUPT, MARK, DISAGREE, AdlPolicy.HYPERLIQUID_INDEX, BTC, USDC)
    bitmex = allocate_adl(BTC, BANKRUPT, MARK, DISAGREE, AdlPolicy.PNL_LEVERAGE, BTC, USDC)
    assert [f.account for f in hl] == ["X"]
    assert [f.account for f in bitmex] == ["Y"]


def test_rank_adl_when_hyperliquid_then_components_beside_score_profit_first() -> None:
    ranks = rank_adl(BOOK, MARK, AdlPolicy.HYPERLIQUID_INDEX, BTC, USDC)
    # In profit first by index (B 11/10 * 10 = 11, E 21/20 * 10 = 21/2, A 5/4 * 2 = 5/2,
    # C 3/2 * 1/2 = 3/4), then the loser D (19/20 * 5 = 19/4) although its index is higher.
    assert [(r.account, r.score) for r in ranks] == [
        ("B", Fraction(11)), ("E", Fraction(21, 2)), ("A", Fraction(5, 2)),
        ("C", Fraction(3, 4)), ("D", Fraction(19, 4))]
    b = ranks[0]
    assert (b.pnl_pct, b.leverage, b.price_ratio, b.in_profit) == (
        Fraction(1, 11), Fraction(10), Fraction(11, 10), True)
    d = ranks[-1]
    assert (d.pnl_pct, d.leverage, d.in_profit) == (Fraction(-1, 19), Fraction(5), False)


def test_rank_adl_when_bitmex_then_score_is_pnl_pct_times_leverage() -> None:
    ranks = rank_adl(BOOK, MARK, AdlPolicy.PNL_LEVERAGE, BTC, USDC)
    assert [r.account for r in ranks] == ["B", "E", "A", "C", "D"]
    for r in ranks:
        expected = r.pnl_pct * r.leverage if r.pnl_pct >= 0 else r.pnl_pct / r.leverage
        assert r.score == expected


def test_adl_policies_when_listed_then_each_names_its_source() -> None:
    assert "hyperliquid.gitbook.io" in AdlPolicy.HYPERLIQUID_INDEX.source
    assert "BitMEX" in AdlPolicy.PNL_LEVERAGE.source
    assert all(policy.source for policy in AdlPolicy)
