"""``Ledger.reuse_hash_pieces``: the state hash built from each account's kept JSON is the
hash of the whole state written out again, whatever the events did in between (writes,
refusals rolled back, accounts emptied and pruned, copies)."""

from __future__ import annotations

import hashlib
import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marginengine.engine import (
    AdvanceTime,
    Borrow,
    Deposit,
    Engine,
    Event,
    Liquidate,
    Repay,
    SetPrice,
    Withdraw,
)
from tests.conftest import ETH, USD, USDC, funded_engine

USERS = ("alice", "bob", "carol", "dave")


def _event(rng: random.Random) -> Event:
    user = rng.choice(USERS)
    kind = rng.randrange(7)
    if kind == 0:
        return Deposit(user, "WETH", rng.randrange(1, 5) * ETH)
    if kind == 1:
        # Sometimes more than the account may borrow: refused, rolled back.
        return Borrow(user, "USDC", rng.randrange(1, 12_000) * USDC)
    if kind == 2:
        return Repay(user, "USDC", rng.choice((rng.randrange(1, 3_000) * USDC, 2**256 - 1)))
    if kind == 3:
        # Withdrawing everything empties the position: the account may be pruned.
        return Withdraw(user, "WETH", rng.choice((ETH, 2**256 - 1)))
    if kind == 4:
        return SetPrice("WETH", rng.randrange(900, 2_500) * USD)
    if kind == 5:
        return AdvanceTime(rng.randrange(1, 86_400))
    return Liquidate("keeper", user, "USDC", "WETH", rng.randrange(1, 5_000) * USDC)


def _reference(engine: Engine) -> str:
    """The hash by its definition: the canonical JSON of the whole state, written out."""
    payload = {"ledger": engine.ledger.state_dict(), "seq": engine.seq,
               **engine.state.hash_parts()}
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), hash_every=st.integers(1, 4))
def test_state_hash_when_pieces_reused_then_equal_to_the_whole_state_hashed(
        seed: int, hash_every: int) -> None:
    rng = random.Random(seed)
    engine = funded_engine()
    assert engine.apply(Deposit("keeper", "USDC", 500_000 * USDC)).accepted
    engine.ledger.reuse_hash_pieces()
    for i in range(40):
        engine.apply(_event(rng))
        if i % hash_every == 0:
            assert engine.state_hash() == _reference(engine)
    assert engine.state_hash() == _reference(engine)


def test_state_hash_when_an_account_is_rolled_away_then_its_piece_goes_with_it() -> None:
    engine = funded_engine()
    ledger = engine.ledger
    ledger.reuse_hash_pieces()
    before = engine.state_hash()
    with pytest.raises(RuntimeError, match="undone"), ledger.transaction():
        ledger.deposit("zed", "WETH", ETH)
        # Hashed while zed exists: its piece is kept...
        assert engine.state_hash() == _reference(engine) != before
        assert ledger.hash_pieces_held == len(ledger.accounts) == 2
        raise RuntimeError("undone")
    # ...and the rollback removed zed (the account did not exist before): so does the hash.
    assert "zed" not in ledger.accounts
    assert engine.state_hash() == _reference(engine) == before
    assert ledger.hash_pieces_held == 1


def test_state_hash_when_the_engine_is_copied_then_each_keeps_its_own_pieces() -> None:
    live = funded_engine()
    live.ledger.reuse_hash_pieces()
    assert live.apply(Deposit("bob", "WETH", 2 * ETH)).accepted
    before = live.state_hash()
    twin = live.copy()
    assert live.apply(Borrow("bob", "USDC", 1_000 * USDC)).accepted
    # The copy's accounts are other objects: its hash is the state it was copied at,
    # and hashing it does not disturb the original's pieces.
    assert twin.state_hash() == before
    assert live.state_hash() == _reference(live) != before


def test_state_hash_when_extra_names_the_ledger_then_refused() -> None:
    engine = funded_engine()
    for reuse in (False, True):
        if reuse:
            engine.ledger.reuse_hash_pieces()
        with pytest.raises(ValueError, match="'ledger'"):
            engine.ledger.state_hash({"ledger": 1})
