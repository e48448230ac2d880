"""Account data read once per state (engine/state.py ``StateReads.account_data``).

The engine keeps each account's data keyed by what it depends on: the ledger's
``account_version`` (bumped by every write to the account, and by a rollback), its
``index_epoch`` (any accrual), the price table's ``version`` and the margin model in
force. These tests drive an engine through every kind of change, refused events
included, and after each event compare every account's cached read with a fresh
computation by the margin model: a stale entry anywhere fails them. The close-factor
inputs (``StateReads.close_factor_inputs``, which a keeper's read and the ``Liquidate`` it
sends share) are compared with a fresh ``close_factor_inputs`` alike.
"""

import random

from marginengine.config import protocol_from_dict
from marginengine.engine import (
    AdvanceTime,
    Borrow,
    Deposit,
    Engine,
    Liquidate,
    Repay,
    SetPrice,
    SetRiskParams,
    Withdraw,
)
from marginengine.fixedpoint import PRICE_UNIT
from marginengine.ledger import Ledger
from marginengine.liquidation import close_factor_inputs

ETH = 10**18
USDC = 10**6
CONFIG = protocol_from_dict({"preset": "aave-v3", "markets": {"WETH": {}, "USDC": {}}})


def _fresh(engine: Engine, account: str) -> object:
    return engine.state.margin.lending.account_data(engine.ledger, engine.prices, account)


def _check_all(engine: Engine, accounts: list[str]) -> None:
    for account in accounts:
        data = _fresh(engine, account)
        assert engine.account_data(account) == data, account
        pair = engine.liquidation_inputs(account)  # through StateReads.close_factor_inputs
        if pair is not None:
            debt_asset, coll_asset, inputs = pair
            assert inputs == close_factor_inputs(
                engine.config, engine.ledger, engine.prices, account, data.health_factor,
                data.total_debt, data.total_collateral, debt_asset, coll_asset), account


def test_account_version_moves_with_every_write_and_rollback() -> None:
    ledger = Ledger(CONFIG)
    assert ledger.account_version("alice") == 0
    with ledger.transaction():
        ledger.deposit("alice", "WETH", ETH)
    first = ledger.account_version("alice")
    assert first > 0
    assert ledger.account_version("bob") == 0  # untouched accounts keep theirs
    try:
        with ledger.transaction():
            ledger.deposit("alice", "WETH", ETH)
            raise RuntimeError("refused")
    except RuntimeError:
        pass
    # Rolled back to the first state, under a version never seen before.
    assert ledger.supply_of("alice", "WETH") == ETH
    assert ledger.account_version("alice") > first
    epoch = ledger.index_epoch
    with ledger.transaction():
        ledger.advance(60)
    assert ledger.index_epoch > epoch


def test_cached_reads_follow_every_kind_of_change() -> None:
    engine = Engine(CONFIG)
    engine.apply(SetPrice("WETH", 2_000 * PRICE_UNIT))
    engine.apply(SetPrice("USDC", PRICE_UNIT))
    engine.apply(Deposit("lender", "USDC", 10_000_000 * USDC))
    accounts = [f"a{k}" for k in range(6)]
    for k, account in enumerate(accounts):
        engine.apply(Deposit(account, "WETH", (k + 1) * ETH))
        engine.apply(Borrow(account, "USDC", (k + 1) * 1_500 * USDC))
    _check_all(engine, ["lender", *accounts])
    rng = random.Random(11)
    refused = 0
    for _ in range(300):
        account = rng.choice(accounts)
        kind = rng.randrange(8)
        if kind == 0:
            event = SetPrice("WETH", rng.randint(1_500, 2_300) * PRICE_UNIT)
        elif kind == 1:
            event = AdvanceTime(rng.randint(1, 30 * 86_400))
        elif kind == 2:
            event = Borrow(account, "USDC", rng.randint(1, 4_000) * USDC)  # often refused
        elif kind == 3:
            event = Repay(account, "USDC", rng.randint(1, 2_000) * USDC)
        elif kind == 4:
            event = Withdraw(account, "WETH", rng.randint(1, 10) * ETH // 4)
        elif kind == 5:
            event = Deposit(account, "WETH", rng.randint(1, 4) * ETH // 2)
        elif kind == 6:
            event = Liquidate("keeper", account, "USDC", "WETH", 10**12)
        else:
            event = SetRiskParams("WETH", liquidation_threshold_bps=rng.choice([8250, 8300]))
        # Read before (fills the cache at the old state), apply, compare after.
        _check_all(engine, accounts)
        if not engine.apply(event).accepted:
            refused += 1
        _check_all(engine, ["lender", "keeper", *accounts])
    assert refused > 20  # refusals (rolled-back writes) were exercised
