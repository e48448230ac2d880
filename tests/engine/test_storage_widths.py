"""AdvanceTime, Deposit and Borrow refused where the protocol's storage cannot hold the
result (Aave's ``SafeCast.toUint128`` of the indices, Comet's ``uint64`` indices and
``int104`` principals): refused, not raised, and the state unchanged."""

from marginengine.config import protocol_from_dict
from marginengine.config.families import COMET_WIDTHS
from marginengine.decisions import Code
from marginengine.engine import (
    Absorb,
    AdvanceTime,
    Borrow,
    Deposit,
    Engine,
    ImportAccount,
    Liquidate,
    SetPrice,
)
from marginengine.ledger.interest import SECONDS_PER_YEAR, compounded_interest, grow_index
from tests.aave_listing import MARKETS as LISTING
from tests.aave_listing import PRICES, USDX, WETH
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
    # Comet's accrueInternal asks getNowInternal first: past its uint40 clock the call
    # reverts TimestampTooLarge before any index is computed (compound-finance/
    # comet@d5a30b0a contracts/Comet.sol).
    for preset, code, revert in (
            ("aave-v3", Code.SAFECAST_OVERFLOW, "SafeCastOverflowedUintDowncast"),
            ("aave-v3.3", Code.SAFECAST_OVERFLOW, "SafeCast: value doesn't fit in 128 bits"),
            ("compound-v3", Code.TIMESTAMP_TOO_LARGE, "TimestampTooLarge")):
        engine = engine_with_debt(preset)
        before, time, debt = (engine.ledger.state_hash(), engine.ledger.time,
                              engine.ledger.debt_of("alice", "USDC"))
        outcome = engine.apply(AdvanceTime(10**40))
        assert not outcome.accepted and outcome.code == code.value
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
    # All of the pool borrowed (3.05 a year): the index passes uint64 after about 6,000
    # years, within Comet's uint40 clock (34,800 years), which would refuse first at the
    # 10% utilization of engine_with_debt.
    engine = engine_with_debt("compound-v3")
    assert engine.apply(Deposit("alice", "WETH", 100 * 10**18)).accepted
    assert engine.apply(Borrow("alice", "USDC", 9_000 * USDC)).accepted
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
    assert high < 2**40  # within the clock
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


def _liquidatable(preset: str, liquidator_weth: int) -> Engine:
    # aave_listing: WETH LTV 82.5%, threshold 86%, bonus 5%, protocol fee 10%. Alice's
    # 1 WETH against 1,400 USDX at WETH 1,500: HF 1,500 x 0.86 / 1,400 = 0.9214.
    engine = Engine(protocol_from_dict({"preset": preset, "markets": LISTING}))
    for event in (*(SetPrice(a, p) for a, p in PRICES.items()),
                  Deposit("carol", "USDX", 100_000 * USDX), Deposit("alice", "WETH", WETH),
                  Borrow("alice", "USDX", 1_400 * USDX),
                  Deposit("keeper", "WETH", liquidator_weth), SetPrice("WETH", 1_500 * USD)):
        assert engine.apply(event).accepted
    return engine


def test_liquidate_receive_supply_when_liquidator_balance_beyond_uint120_then_refused():
    # Was accepted: the liquidator's aTokens grew past what v3.4+'s uint120 holds.
    probe = _liquidatable("aave-v3", WETH)
    plan = probe.liquidation_plan("alice", "USDX", "WETH", 1_400 * USDX)
    assert plan is not None
    # The whole debt (HF below 0.95): 1,400 x 1.05 / 1,500 = 0.98 WETH, less the protocol's
    # 10% of the bonus (0.98 - 0.98 / 1.05 = 0.046666..., rounded): 0.975333333333333332.
    moved = plan.collateral_to_liquidator  # the index is 1: scaled = amount
    assert moved == 975_333_333_333_333_332
    event = Liquidate("keeper", "alice", "USDX", "WETH", 1_400 * USDX, receive_supply=True)
    at_limit = _liquidatable("aave-v3", 2**120 - 1 - moved)
    assert at_limit.apply(event).accepted
    assert at_limit.ledger.scaled_supply_of("keeper", "WETH") == 2**120 - 1
    beyond = _liquidatable("aave-v3", 2**120 - moved)
    before = beyond.ledger.state_hash()
    refused = beyond.apply(event)
    assert refused.code == Code.SAFECAST_OVERFLOW.value
    assert refused.data["name"] == "scaled supply balance" and refused.data["value"] == 2**120
    assert refused.reason is not None and "beyond uint120" in refused.reason
    assert "panic 0x11" in refused.reason
    assert beyond.ledger.state_hash() == before
    # v3.3's uint128 holds it; paid out instead of received, nothing is minted.
    assert _liquidatable("aave-v3.3", 2**120 - moved).apply(event).accepted
    assert beyond.apply(Liquidate("keeper", "alice", "USDX", "WETH", 1_400 * USDX)).accepted


def test_absorb_when_credit_takes_total_supply_base_beyond_uint104_then_refused():
    # Comet absorbInternal: totalSupplyBase += supplyAmount, a checked uint104 add.
    probe = engine_with_debt("compound-v3")
    assert probe.apply(SetPrice("WETH", 1_100 * USD)).accepted
    credit = probe.copy().apply(Absorb("absorber", "alice")).details["new_balance"]
    assert credit > 0
    lent = probe.ledger.reserves["USDC"].scaled_supply  # the lp's 10,000 USDC
    assert lent == 10_000 * USDC

    def whales(room: int) -> Engine:
        engine = probe.copy()
        # Two principals within int104, leaving ``room`` below 2**104 - 1 in the total.
        second = 2**104 - 1 - room - lent - (2**103 - 1)
        for whale, amount in (("w1", 2**103 - 1), ("w2", second)):
            assert engine.apply(Deposit(whale, "USDC", amount)).accepted
        return engine

    at_limit = whales(credit)
    assert at_limit.apply(Absorb("absorber", "alice")).accepted
    assert at_limit.ledger.reserves["USDC"].scaled_supply == 2**104 - 1
    beyond = whales(credit - 1)
    before = beyond.ledger.state_hash()
    refused = beyond.apply(Absorb("absorber", "alice"))
    assert refused.code == Code.SAFECAST_OVERFLOW.value
    assert refused.data["name"] == "total scaled supply" and refused.data["value"] == 2**104
    assert refused.data["revert"] == COMET_WIDTHS.total_revert
    assert beyond.ledger.state_hash() == before


def test_import_when_balance_beyond_uint120_then_invalid_import_naming_the_field():
    config = protocol_from_dict({"preset": "aave-v3", "markets": LISTING})
    engine = Engine(config)
    before = engine.ledger.state_hash()
    refused = engine.apply(ImportAccount("whale", {"WETH": 2**120}))
    assert refused.code == Code.INVALID_IMPORT.value
    assert refused.data["field"] == "supplied.WETH" and refused.data["bits"] == 120
    assert refused.reason is not None and refused.reason.startswith(
        "supplied.WETH: WETH scaled supply balance would be 1329227995784915872903807060280"
        "344576, beyond uint120")
    assert engine.ledger.state_hash() == before and "whale" not in engine.ledger.accounts
    debt = engine.apply(ImportAccount("whale", {"WETH": WETH}, {"USDX": 2**120}))
    assert debt.code == Code.INVALID_IMPORT.value and debt.data["field"] == "borrowed.USDX"
    assert engine.ledger.state_hash() == before
    assert engine.apply(ImportAccount("whale", {"WETH": 2**120 - 1},
                                      {"USDX": 2**120 - 1})).accepted
    assert engine.ledger.scaled_supply_of("whale", "WETH") == 2**120 - 1
    # v3.3's uint128 holds 2**120.
    assert Engine(protocol_from_dict({"preset": "aave-v3.3", "markets": LISTING})).apply(
        ImportAccount("whale", {"WETH": 2**120})).accepted
