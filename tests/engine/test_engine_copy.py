"""``Engine.copy``: an engine at the same state, independent of the original, for reads
in another thread (the service's heatmap and what-if) while the original applies events.

The state hash covers everything the engine holds (``EngineState.hash_parts``), so "the
copy is as it was" is checked as "its hash is the hash before the events"; every kind of
state an event changes in place (the ledger's accounts, reserves and perp clearing, the
prices, vol surfaces, the clock) or replaces (the options clearing) is moved.
"""

from __future__ import annotations

from marginengine.engine import (
    AdvanceTime,
    Borrow,
    Deposit,
    DepositOptionCash,
    Engine,
    Event,
    Repay,
    SetPrice,
    SetVolSurface,
    TradeOption,
    Withdraw,
)
from marginengine.fixedpoint import WAD
from tests.engine.test_options_engine import CALL, SIZE, USDC, P, T
from tests.engine.test_options_engine import engine as options_engine

ETH = 10**18


def _lend(engine: Engine) -> Engine:
    # bob supplies USDC; alice (an options account, 1,000 USDC of options cash) supplies
    # 10 WETH and borrows 12,000 USDC: one margin over both, health (10 x 2,000 x 0.825
    # + 1,000) / 12,000 = 1.4583 (SIMPLE_MARKETS' WETH threshold).
    for event in (Deposit("bob", "USDC", 1_000_000 * USDC), Deposit("alice", "WETH", 10 * ETH),
                  Borrow("alice", "USDC", 12_000 * USDC)):
        assert engine.apply(event).accepted, event
    return engine


LATER: list[Event] = [
    SetPrice("WETH", 1_700 * P), AdvanceTime(86_400), SetVolSurface("WETH", T, 900_000),
    Repay("alice", "USDC", 1_000 * USDC), Withdraw("bob", "USDC", 10_000 * USDC),
    Deposit("carol", "WETH", ETH), DepositOptionCash("carol", 5_000 * USDC),
    TradeOption("bob", "alice", **CALL, size=SIZE, premium=100 * USDC),
]


def test_copy_when_the_original_applies_events_then_the_copy_keeps_its_state() -> None:
    live = _lend(options_engine())
    before, health = live.state_hash(), live.health_factor("alice")
    assert health == (10 * 2_000 * 8_250 + 1_000 * 10_000) * WAD // (12_000 * 10_000)
    twin = live.copy()
    assert twin.state_hash() == before and twin.seq == live.seq
    outcomes = live.apply_all(LATER)
    assert all(o.accepted for o in outcomes), [o.reason for o in outcomes if not o.accepted]
    assert live.state_hash() != before
    # Every part the events moved is the copy's as it was.
    assert twin.state_hash() == before
    assert twin.prices["WETH"] == 2_000 * P and twin.ledger.time == 0
    assert twin.state.vols[("WETH", T)] == (600_000, 0)
    assert "carol" not in twin.ledger.accounts and not twin.state.options.positions.get("bob")
    assert twin.health_factor("alice") == health
    # And the other way: events on the copy leave the original as it is.
    after = live.state_hash()
    assert twin.apply(Borrow("alice", "USDC", 1_000 * USDC)).accepted
    assert live.state_hash() == after


def test_copy_when_accounts_named_then_only_those_and_every_market_are_copied() -> None:
    live = _lend(options_engine())
    # alice sells bob one 2,000 call: her portfolio margin moves with WETH.
    assert live.apply(TradeOption("bob", "alice", **CALL, size=SIZE,
                                  premium=100 * USDC)).accepted
    margin = live.portfolio_margin("alice")
    assert margin is not None
    twin = live.copy(["alice", "nobody"])
    assert sorted(twin.ledger.accounts) == ["alice"]
    assert twin.health_factor("alice") == live.health_factor("alice")
    assert live.apply(SetPrice("WETH", 2_500 * P)).accepted
    assert live.apply(DepositOptionCash("alice", 500 * USDC)).accepted
    # The options clearing is shared (replaced on write, never changed in place): on
    # the copy alice's margin is still the one before the price move and the deposit.
    moved = live.portfolio_margin("alice")
    copied = twin.portfolio_margin("alice")
    assert moved is not None and copied is not None
    assert copied.fraction("maintenance") == margin.fraction("maintenance")
    assert moved.fraction("maintenance") != margin.fraction("maintenance")


def test_copy_when_inside_an_event_then_refused() -> None:
    live = options_engine()
    live.ledger.begin()
    try:
        try:
            live.copy()
        except RuntimeError as exc:
            assert "between transactions" in str(exc)
        else:
            raise AssertionError("a copy inside a transaction was taken")
    finally:
        live.ledger.end()
