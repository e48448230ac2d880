"""Invariants of the perp clearing under random sequences of events (hypothesis)."""

from hypothesis import given, settings
from hypothesis import strategies as st

from marginengine.engine import (
    AdvanceTime,
    FundInsurance,
    LiquidatePerp,
    SetPrice,
    Trade,
    TransferQuote,
)
from tests.engine.test_perps import ETH, USD, USDC, opened, perp_engine

ACCOUNTS = ("long", "short", "keeper", "owner/iso")

events = st.lists(
    st.one_of(
        st.tuples(st.just("trade"), st.sampled_from(ACCOUNTS), st.sampled_from(ACCOUNTS),
                  st.integers(1, 80), st.integers(1_500, 2_500)),
        st.tuples(st.just("price"), st.integers(1_200, 2_800)),
        st.tuples(st.just("time"), st.integers(60, 20_000)),
        st.tuples(st.just("liquidate"), st.sampled_from(ACCOUNTS)),
        st.tuples(st.just("insurance"), st.integers(1, 50_000)),
    ),
    min_size=1, max_size=25,
)


@settings(max_examples=120, deadline=None)
@given(events=events, preset=st.sampled_from(["dydx-v4", "hyperliquid"]))
def test_quote_conserved_and_no_negative_equity_left_unaccounted(events, preset):
    engine = opened(perp_engine(preset=preset))
    engine.apply(TransferQuote("keeper", "keeper/x", 1 * USDC))
    from marginengine.engine import DepositQuote

    engine.apply(DepositQuote("owner", 30_000 * USDC))
    engine.apply(TransferQuote("owner", "owner/iso", 10_000 * USDC))
    owner_quote = engine.ledger.perp_quote_of("owner")
    for event in events:
        kind = event[0]
        if kind == "trade":
            _, buyer, seller, size, price = event
            engine.apply(Trade(buyer, seller, "ETH-PERP", size * ETH, price * USD))
        elif kind == "price":
            engine.apply(SetPrice("ETH-PERP", event[1] * USD))
        elif kind == "time":
            engine.apply(AdvanceTime(event[1]))
        elif kind == "insurance":
            engine.apply(FundInsurance(event[1] * USDC, "ETH-PERP" if preset == "dydx-v4"
                                       else ""))
        else:
            outcome = engine.apply(LiquidatePerp("keeper", event[1], "ETH-PERP"))
            if outcome.accepted:
                account = engine.ledger.accounts.get(event[1])
                if account is not None and not account.perps:
                    # The waterfall leaves no negative balance: it was covered by the
                    # fund, auto-deleveraging, socialization or recorded as deficit.
                    assert account.perp_quote >= 0
        # Exact: balances + funds + pool == cash + deficit; sizes sum to zero.
        engine.ledger.check_conservation()
        # An isolated sub-account's losses never reach its owner's balance.
        assert engine.ledger.perp_quote_of("owner") == owner_quote


@settings(max_examples=60, deadline=None)
@given(prices=st.lists(st.integers(1_000, 3_000), min_size=1, max_size=8),
       hours=st.lists(st.integers(1, 10), min_size=1, max_size=8))
def test_funding_never_creates_quote(prices, hours):
    engine = opened(perp_engine())
    start = engine.ledger.clearing.cash
    for price, h in zip(prices, hours, strict=False):
        engine.apply(SetPrice("ETH-PERP", price * USD))
        engine.apply(Trade("keeper", "short", "ETH-PERP", ETH, price * USD))
        engine.apply(AdvanceTime(h * 3600))
    engine.ledger.check_conservation()
    assert engine.ledger.clearing.cash == start  # no deposit, so no quote entered
    assert engine.ledger.clearing.deficit >= 0
