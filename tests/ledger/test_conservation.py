import pytest

from marginengine.errors import InvariantViolation
from tests.conftest import ETH, USDC, funded_engine


def test_check_transaction_when_account_changed_without_reserve_then_violation():
    engine = funded_engine()
    ledger = engine.ledger
    expected = "WETH: scaled totals moved 10{18}/0 but the accounts moved 10{17}1/0"
    with pytest.raises(InvariantViolation, match=expected), ledger.transaction():
        ledger.deposit("alice", "WETH", ETH)
        ledger.accounts["alice"].lending["WETH"].scaled_supply += 1  # a bug's footprint
        ledger.check_transaction()
    assert "alice" not in ledger.accounts  # rolled back


def test_check_transaction_when_cash_moved_without_booking_then_out_of_balance():
    engine = funded_engine()
    ledger = engine.ledger
    with pytest.raises(InvariantViolation, match="USDC: books out of balance by"), \
            ledger.transaction():
        ledger.withdraw("lp", "USDC", 10 * USDC)
        ledger.reserves["USDC"].cash -= 1  # tokens leaving without a claim burned
        ledger.check_transaction()
    ledger.check_conservation()  # the rollback restored balanced books


def test_check_conservation_when_totals_drift_then_full_audit_catches_it():
    engine = funded_engine()
    engine.ledger.reserves["USDC"].scaled_supply += 5
    engine.ledger.reserves["USDC"].reserves_ray -= 5 * engine.ledger.reserves[
        "USDC"].liquidity_index  # keep the identity, break the sum over accounts
    with pytest.raises(InvariantViolation, match="scaled totals .* differ from the accounts"):
        engine.ledger.check_conservation()


def test_subscribe_when_events_applied_then_listener_sees_touched_accounts_and_assets():
    from marginengine.engine import AdvanceTime, Borrow, Deposit, SetPrice

    engine = funded_engine()
    changes = []
    engine.subscribe(changes.append)
    engine.apply(Deposit("alice", "WETH", ETH))
    engine.apply(Borrow("alice", "USDC", 10**12 * USDC))  # refused: not reported
    engine.apply(SetPrice("WETH", 10**11))
    engine.apply(AdvanceTime(60))
    assert [(tuple(c.accounts), tuple(c.assets), tuple(c.prices)) for c in changes] == [
        (("alice",), ("WETH",), ()),
        ((), (), ("WETH",)),
        ((), ("DAI", "USDC", "WETH"), ()),
    ]
    # The change carries the values, not just the names (issue 10, item 7).
    assert changes[0].accounts["alice"] == engine.ledger.accounts["alice"]
    assert changes[0].accounts["alice"].lending["WETH"].scaled_supply == ETH  # index 1
    assert changes[1].prices == {"WETH": 10**11}
    assert changes[2].assets["USDC"].borrow_index == engine.ledger.reserves["USDC"].borrow_index


def test_subscribe_when_listener_raises_then_event_stands_and_error_reported():
    from marginengine.engine import Deposit

    engine = funded_engine()
    seen = []

    def broken(change):
        raise RuntimeError("mirror is down")

    engine.subscribe(broken)
    engine.subscribe(seen.append)
    outcome = engine.apply(Deposit("alice", "WETH", ETH))
    assert outcome.accepted
    assert engine.ledger.supply_of("alice", "WETH") == ETH
    assert len(seen) == 1  # the later listener still ran
    assert len(engine.listener_errors) == 1
    assert "mirror is down" in engine.listener_errors[0]
    assert f"event {outcome.seq}" in engine.listener_errors[0]
