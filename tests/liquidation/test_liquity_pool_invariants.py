"""The stability pool's rounding always favours the pool, under either rule (hypothesis).

liquity/dev ``StabilityPool.sol`` rounds the loss per unit staked up ("slightly too much
LUSD loss, which ensures the error in any given compoundedLUSDDeposit favors the Stability
Pool") and the ETH gain per unit down, so over any sequence of deposits and offsets the
depositors' compounded deposits never sum above the pool's total, nor their ETH gains above
the ETH it holds (``StabilityPool_RoundingErrors.js``, ``SP_P_TruncationTest.js`` test this
on fixed sequences).
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from marginengine.liquidation.liquity import (
    DepositChange,
    DepositSnapshot,
    StabilityPool,
    StabilityPoolRule,
    compounded_deposit,
    eth_gain,
    max_amount_to_offset,
    offset,
    provide_to_sp,
)

E18 = 10**18

step = st.one_of(
    st.tuples(st.just("deposit"), st.integers(0, 4), st.integers(1, 10**6 * E18)),
    st.tuples(st.just("offset"), st.integers(1, 10**4), st.integers(0, 10**3 * E18)),
)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(list(StabilityPoolRule)), st.lists(step, min_size=1, max_size=30))
def test_pool_rounding_favours_the_pool(rule: StabilityPoolRule,
                                        steps: list[tuple[str, int, int]]):
    pool = StabilityPool(rule=rule)
    deposits: dict[int, DepositSnapshot] = {}
    paid_eth = 0
    for kind, a, b in steps:
        if kind == "deposit":
            ch = provide_to_sp(pool, deposits.get(a), b)
            assert isinstance(ch, DepositChange)
            pool, deposits[a], paid_eth = ch.pool, ch.deposit, paid_eth + ch.eth_paid
        else:
            usable = max_amount_to_offset(pool)
            debt = usable * a // 10**4        # a share of what the pool may absorb
            before = pool.total_deposits
            if debt:
                pool = offset(pool, debt, b)
            if rule is StabilityPoolRule.KEEP_ONE_LUSD:
                # 800e820f: a liquidation never takes the pool below min(1 LUSD, total)
                assert pool.total_deposits >= min(E18, before)
        assert sum(compounded_deposit(pool, d) for d in deposits.values()) <= \
            pool.total_deposits
        assert sum(eth_gain(pool, d) for d in deposits.values()) <= pool.eth
