"""The vectorized perp margin kernel agrees with the exact model (its slow twin)."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from marginengine.config import protocol_from_dict
from marginengine.ledger import Account, Ledger
from marginengine.margin import WeightedMarginModel
from marginengine.margin.perp import PerpMarginModel, schedule_of
from marginengine.margin.perp_kernel import (
    PerpBookArrays,
    TierArrays,
    TierTable,
    bucket_margin,
    group_by_account,
    naive_bucket_margin,
)

CONFIG = protocol_from_dict({"markets": {"USDC": {}}, "perps": {
    "A": {"preset": "hyperliquid"},
    "B": {"tiers": [{"notional_floor": 0, "mmf": "0.004", "imf": "0.008"},
                    {"notional_floor": 50_000, "mmf": "0.005", "imf": "0.01"},
                    {"notional_floor": 250_000, "mmf": "0.01", "imf": "0.02"}]},
}})
MARKETS = ("A", "B")


@settings(max_examples=40, deadline=None)
@given(positions=st.lists(st.tuples(st.integers(0, 4), st.integers(0, 1),
                                    st.integers(-400_000, 400_000)), min_size=1, max_size=20),
       marks=st.tuples(st.integers(1, 90_000), st.integers(1, 90_000)),
       quotes=st.lists(st.integers(0, 10**7), min_size=5, max_size=5))
def test_kernel_equals_exact_model(positions, marks, quotes):
    ledger = Ledger(CONFIG)
    seen = set()
    rows = []
    for account, market, milli in positions:
        if (account, market) in seen or milli == 0:
            continue
        seen.add((account, market))
        units = milli * 10**15  # thousandths of a token, 18 decimals
        ledger.fill(f"a{account}", MARKETS[market], units, marks[market] * 10**8, 10**18,
                    10**6)
        ledger.fill("_book", MARKETS[market], -units, marks[market] * 10**8, 10**18, 10**6)
        rows.append((account, market, milli / 1000))
    for a, q in enumerate(quotes):
        ledger.deposit_quote(f"a{a}", q * 10**6)
    book = PerpBookArrays(
        np.array([r[0] for r in rows], dtype=np.intp),
        np.array([r[1] for r in rows], dtype=np.intp),
        np.array([r[2] for r in rows], dtype=np.float64),
        np.array([float(q) + sum(-r[2] * marks[r[1]] for r in rows if r[0] == a)
                  for a, q in enumerate(quotes)]),
    )
    tiers = [TierArrays.of(schedule_of(CONFIG.perps[m], 10**6), 10**6) for m in MARKETS]
    equity, maintenance, _ = bucket_margin(book, np.array(marks, dtype=float),
                                           TierTable.of(tiers))
    naive = naive_bucket_margin(group_by_account(book), book.quote.tolist(),
                                [float(m) for m in marks], tiers)
    model = PerpMarginModel(WeightedMarginModel(CONFIG))
    int_marks = {m: marks[i] * 10**8 for i, m in enumerate(MARKETS)}
    for a in range(len(quotes)):
        exact = model.bucket(ledger, {"USDC": 10**8}, int_marks, f"a{a}")
        assert abs(equity[a] - exact.perp_equity / 10**6) <= 1e-6 * max(1, abs(equity[a])) + 1e-5
        assert abs(maintenance[a] - exact.perp_maintenance / 10**6) <= \
            1e-9 * max(1.0, maintenance[a]) + 1e-5
        assert naive[a][1] == maintenance[a] or abs(naive[a][1] - maintenance[a]) < 1e-6


@settings(max_examples=60, deadline=None)
@given(positions=st.lists(st.tuples(st.integers(0, 4), st.integers(0, 1),
                                    st.integers(-4_000_000, 4_000_000),
                                    st.integers(-10**6, 10**6)), min_size=1, max_size=20),
       marks=st.tuples(st.integers(1, 90_000 * 10**8), st.integers(1, 90_000 * 10**8)),
       funding=st.tuples(st.integers(-10**30, 10**30), st.integers(-10**30, 10**30)),
       quotes=st.lists(st.integers(-10**13, 10**13), min_size=5, max_size=5))
def test_funded_kernel_when_funding_and_brackets_then_within_slack_of_exact_model(
        positions, marks, funding, quotes):
    """``funded_bucket_sums`` (its exact twin: ``PerpMarginModel.bucket``) with funding
    indices moved after the positions opened, notionals across the 50,000 and 250,000
    bracket edges of market B, and marks down to one 1e-8 unit: each bucket's equity and
    maintenance are within ``funded_bucket_slack`` of the exact figures."""
    from marginengine.ledger.perp import FUNDING_SCALE
    from marginengine.margin.perp_kernel import funded_bucket_slack, funded_bucket_sums

    ledger = Ledger(CONFIG)
    seen = set()
    rows = []
    for account, market, milli, move in positions:
        if (account, market) in seen or milli == 0:
            continue
        seen.add((account, market))
        units = milli * 10**15
        ledger.fill(f"a{account}", MARKETS[market], units, 2_000 * 10**8, 10**18, 10**6)
        ledger.fill("_book", MARKETS[market], -units, 2_000 * 10**8, 10**18, 10**6)
        rows.append((account, market, units))
        # the market's funding moves after this position opened: later ones snapshot it
        ledger.accrue_funding(MARKETS[market], move * 10**20, 0)
    for m, f in enumerate(funding):
        ledger.accrue_funding(MARKETS[m], f, 0)
    for a, q in enumerate(quotes):  # balances of either sign, as after losses
        ledger.accounts.setdefault(f"a{a}", Account(f"a{a}")).perp_quote += q
    state = ledger.clearing.markets
    slot = np.array([r[0] for r in rows], dtype=np.intp)
    market = np.array([r[1] for r in rows], dtype=np.intp)
    size = np.array([r[2] / 10**18 for r in rows])
    snapshot = np.array([ledger.accounts[f"a{r[0]}"].perps[MARKETS[r[1]]].funding_index
                         / (10**6 * FUNDING_SCALE) for r in rows])
    mark_q = np.array([m / 10**8 for m in marks])
    funding_q = np.array([state[m].funding_index / (10**6 * FUNDING_SCALE) for m in MARKETS])
    tiers = [TierArrays.of(schedule_of(CONFIG.perps[m], 10**6), 10**6) for m in MARKETS]
    table = TierTable.of(tiers)
    equity, maintenance = funded_bucket_sums(slot, market, size, snapshot, 5, mark_q,
                                             funding_q, table)
    quote = np.array([ledger.accounts[f"a{a}"].perp_quote / 10**6 for a in range(5)])
    equity += quote
    npos = np.bincount(slot, minlength=5)
    top = max(abs(f) for f in (*funding_q, *snapshot, 0.0))
    ratio = top / min(mark_q)
    slack = funded_bucket_slack(quote, equity, maintenance, npos, int(npos.max()), ratio,
                                float(table.mmf.min()), 10**6)
    model = PerpMarginModel(WeightedMarginModel(CONFIG))
    int_marks = dict(zip(MARKETS, marks, strict=True))
    for a in range(5):
        exact = model.bucket(ledger, {"USDC": 10**8}, int_marks, f"a{a}")
        assert abs(equity[a] - exact.perp_equity / 10**6) <= slack[a]
        assert abs(maintenance[a] - exact.perp_maintenance / 10**6) <= slack[a]
