"""Morpho Blue's invariant tests, over random action sequences (hypothesis).

Source: morpho-org/morpho-blue at 3085651a79553bbabbfd8be309c262dab45b686e,
``test/invariant/DynamicInvariantTest.sol``: ``invariantSupplyShares`` (the users' and the
fee recipient's supply shares sum to ``totalSupplyShares``), ``invariantBorrowShares``,
``invariantTotalSupplyGeTotalBorrow``, ``invariantMorphoBalance`` (tokens held plus
``totalBorrowAssets`` cover ``totalSupplyAssets``); and the collateral the contract holds
equals the users' collateral.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from marginengine.decisions import Refusal
from marginengine.liquidation.morpho import MorphoLiquidation, liquidate
from marginengine.margin.morpho import (
    ORACLE_PRICE_SCALE,
    Market,
    MarketParams,
    Moved,
    Position,
    accrue_interest,
    borrow,
    repay,
    supply,
    supply_collateral,
    withdraw,
    withdraw_collateral,
)

USERS = ("a", "b", "c")
FEE = "fee"
PARAMS = MarketParams(lltv=86 * 10**16)

action = st.one_of(
    st.tuples(st.just("supply"), st.sampled_from(USERS), st.integers(1, 10**24)),
    st.tuples(st.just("withdraw"), st.sampled_from(USERS), st.integers(1, 10**24)),
    st.tuples(st.just("collateral"), st.sampled_from(USERS), st.integers(1, 10**24)),
    st.tuples(st.just("withdraw_collateral"), st.sampled_from(USERS), st.integers(1, 10**24)),
    st.tuples(st.just("borrow"), st.sampled_from(USERS), st.integers(1, 10**24)),
    st.tuples(st.just("repay_shares"), st.sampled_from(USERS), st.integers(1, 10**30)),
    st.tuples(st.just("price"), st.just(""), st.integers(10**34, 4 * 10**36)),
    st.tuples(st.just("wait"), st.just(""), st.integers(1, 365 * 86_400)),
    st.tuples(st.just("liquidate"), st.sampled_from(USERS), st.integers(0, 1)),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(action, min_size=1, max_size=40))
def test_morpho_invariants_hold_after_any_sequence(actions: list[tuple[str, str, int]]):
    market = Market(fee=10**17)
    pos = {u: Position() for u in (*USERS, FEE)}
    price, now, cash, collateral_held = ORACLE_PRICE_SCALE, 0, 0, 0
    for kind, user, n in actions:
        acc = accrue_interest(market, 10**18 // (365 * 86_400) // 5, now)   # 20% a year
        market = acc.market
        pos[FEE] = Position(supply_shares=pos[FEE].supply_shares + acc.fee_shares)
        if kind == "supply":
            r = supply(market, pos[user], assets=n)
            if isinstance(r, Moved):
                market, pos[user], cash = r.market, r.position, cash + r.assets
        elif kind == "withdraw":
            r = withdraw(market, pos[user], assets=n)
            if isinstance(r, Moved) and r.assets <= cash:
                market, pos[user], cash = r.market, r.position, cash - r.assets
        elif kind == "collateral":
            c = supply_collateral(pos[user], n)
            if isinstance(c, Position):
                pos[user], collateral_held = c, collateral_held + n
        elif kind == "withdraw_collateral":
            c = withdraw_collateral(market, pos[user], price, PARAMS, n)
            if isinstance(c, Position):
                pos[user], collateral_held = c, collateral_held - n
        elif kind == "borrow":
            r = borrow(market, pos[user], price, PARAMS, assets=n)
            if isinstance(r, Moved) and r.assets <= cash:
                market, pos[user], cash = r.market, r.position, cash - r.assets
        elif kind == "repay_shares":
            shares = min(n, pos[user].borrow_shares)
            if shares:
                r = repay(market, pos[user], shares=shares)
                if isinstance(r, Moved):
                    market, pos[user], cash = r.market, r.position, cash + r.assets
        elif kind == "price":
            price = n
        elif kind == "wait":
            now += n
        else:
            p = pos[user]
            res: MorphoLiquidation | Refusal = (
                liquidate(market, p, price, PARAMS, seized_assets=p.collateral) if n
                else liquidate(market, p, price, PARAMS, repaid_shares=p.borrow_shares))
            if isinstance(res, MorphoLiquidation):
                market, pos[user] = res.market, res.position
                cash += res.repaid_assets
                collateral_held -= res.seized_assets
        # invariantSupplyShares / invariantBorrowShares
        assert sum(p.supply_shares for p in pos.values()) == market.total_supply_shares
        assert sum(p.borrow_shares for p in pos.values()) == market.total_borrow_shares
        # invariantTotalSupplyGeTotalBorrow
        assert market.total_supply_assets >= market.total_borrow_assets
        # invariantMorphoBalance
        assert cash + market.total_borrow_assets >= market.total_supply_assets
        assert collateral_held == sum(p.collateral for p in pos.values())
