"""AdvanceTime, Deposit and Borrow refused where the protocol's storage cannot hold the
result (Aave's ``SafeCast.toUint128`` of the indices, Comet's ``uint64`` indices and
``int104`` principals): refused, not raised, and the state unchanged."""

from marginengine.config import protocol_from_dict
from marginengine.config.families import COMET_WIDTHS
from marginengine.decisions import Code
from marginengine.engine import AdvanceTime, Borrow, Deposit, Engine, SetPrice
from marginengine.ledger.interest import SECONDS_PER_YEAR, compounded_interest, grow_index
from tests.conftest import USD, USDC


def engine_with_debt(preset: str) -> Engine:
    config: dict[str, object] = {"preset": preset}
    if preset.startswith("aave"):
        config["markets"] = {"WETH": {}, "USDC": {"decimals": 6}}
    engine = Engine(protocol_from_dict(config))
    for event in (SetPrice("WETH", 2_000 * USD), SetPrice("USDC", USD),
                  Deposit("lp", "USDC", 10_000 * USDC), Deposit("alice", "WETH", 10**18),
                  Borrow("alice", "USDC", 1_000 * USDC)):
        assert engine.apply(event).accepted
    return engine


def test_advance_time_when_10_to_40_seconds_then_refused_and_state_unchanged():
    # Was accepted: the debt grew to 326 bits, which no uint256 (let alone Aave's uint128
    # index) holds; Aave's updateState reverts in SafeCast.toUint128.
    for preset, revert in (("aave-v3", "SafeCastOverflowedUintDowncast"),
                           ("aave-v3.3", "SafeCast: value doesn't fit in 128 bits"),
                           ("compound-v3", "InvalidUInt64")):
        engine = engine_with_debt(preset)
        before, time, debt = (engine.ledger.state_hash(), engine.ledger.time,
                              engine.ledger.debt_of("alice", "USDC"))
        outcome = engine.apply(AdvanceTime(10**40))
        assert not outcome.accepted and outcome.code == Code.SAFECAST_OVERFLOW.value
        assert outcome.reason is not None and revert in outcome.reason
        assert engine.ledger.state_hash() == before
        assert (engine.ledger.time, engine.ledger.debt_of("alice", "USDC")) == (time, debt)
        engine.ledger.check_conservation()
        # A year still accrues.
        assert engine.apply(AdvanceTime(SECONDS_PER_YEAR)).accepted


def test_advance_time_when_comet_borrow_index_reaches_uint64_max_then_next_second_refused():
    # The ledger's borrow index (a ray; Comet's 1e15 index x 1e12) grows by the family's
    # compounding; Comet stores index // 1e12 in a uint64. The last t keeping it within
    # 2**64 - 1 is accepted, the next refused with the value safe64 would see.
    engine = engine_with_debt("compound-v3")
    r = engine.ledger.reserves["USDC"]
    rules, index, rate = engine.config.rules, r.borrow_index, r.borrow_rate
    assert rules.widths is COMET_WIDTHS and rate > 0

    def index_after(seconds: int) -> int:
        return grow_index(index, compounded_interest(rate, seconds, rules.compounding))

    limit = COMET_WIDTHS.index_limit
    low, high = 1, SECONDS_PER_YEAR * 10**6          # index_after(high) is far beyond
    assert index_after(low) <= limit < index_after(high)
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (mid, high) if index_after(mid) <= limit else (low, mid)
    refused = engine.copy().apply(AdvanceTime(high))
    assert refused.code == Code.SAFECAST_OVERFLOW.value
    assert refused.reason is not None and "borrow_index" in refused.reason
    assert refused.reason.startswith(
        f"USDC borrow_index would be {index_after(high) // 10**12}, beyond uint64")
    assert engine.apply(AdvanceTime(low)).accepted
    assert engine.ledger.reserves["USDC"].borrow_index == index_after(low)
    assert engine.ledger.reserves["USDC"].borrow_index // 10**12 <= 2**64 - 1


def test_deposit_when_scaled_balance_beyond_uint120_then_refused_in_aave_v3_7_not_v3_3():
    v37, v33 = engine_with_debt("aave-v3"), engine_with_debt("aave-v3.3")
    before = v37.ledger.state_hash()
    refused = v37.apply(Deposit("whale", "USDC", 2**125))
    assert refused.code == Code.SAFECAST_OVERFLOW.value
    assert refused.reason is not None and "beyond uint120" in refused.reason
    assert v37.ledger.state_hash() == before
    assert v33.apply(Deposit("whale", "USDC", 2**125)).accepted  # uint128 in v3.3


def test_deposit_when_comet_principal_beyond_int104_then_refused():
    engine = engine_with_debt("compound-v3")
    refused = engine.apply(Deposit("whale", "USDC", 2**110))
    assert refused.code == Code.SAFECAST_OVERFLOW.value
    assert refused.reason is not None and "InvalidInt104" in refused.reason
