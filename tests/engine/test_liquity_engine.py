"""Liquity v1 inside the engine: presets liquity-v1 and liquity-v1-2025, Liquity* events
through the core's handler table, refusals with Liquity's require strings, rollback, the
state hash, the log and replay.

The mechanisms' own figures are the pure rules' (tests/margin/test_liquity.py and
tests/liquidation/test_liquity*.py reproduce Liquity's tests); here they arrive through the
engine. Liquity's constants: liquity/dev@39f1f7f8 packages/contracts/contracts/
Dependencies/LiquityBase.sol (MCR 110%, CCR 150%, 200 LUSD reserve, 0.5% fee floor).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from marginengine.config import protocol_from_dict, validate_model
from marginengine.config.protocol_families import resolve_family_preset
from marginengine.decisions import Code
from marginengine.engine import (
    AdvanceTime,
    Deposit,
    Engine,
    LiquityAdjustTrove,
    LiquityBatchLiquidate,
    LiquityCloseTrove,
    LiquityLiquidate,
    LiquityLiquidateTroves,
    LiquityOpenTrove,
    LiquityProvideToSP,
    LiquityWithdrawFromSP,
    MorphoSupply,
    SetPrice,
)
from marginengine.engine.events import event_from_dict
from marginengine.errors import ConfigError, EventError
from marginengine.fixedpoint import PRICE_UNIT
from marginengine.margin import liquity as lm
from marginengine.sim.families import run_family_scenario
from marginengine.sim.families.liquity import LiquityScenario, run_liquity_rules

E = 10**18
FAMILIES = Path(__file__).resolve().parents[2] / "examples" / "families"


def setup_events() -> list[Any]:
    # examples/families/liquity_recovery_crash.toml's initial state.
    return [SetPrice("ETH", 2_000 * PRICE_UNIT),
            LiquityOpenTrove("whale", 100 * E, 100_000 * E),
            LiquityOpenTrove("t1", 10 * E, 12_000 * E),
            LiquityOpenTrove("t2", 20 * E, 25_000 * E),
            LiquityOpenTrove("t3", 30 * E, 36_000 * E),
            LiquityProvideToSP("sp1", 20_000 * E),
            LiquityProvideToSP("sp2", 10_000 * E)]


def engine(preset: str = "liquity-v1") -> Engine:
    e = Engine(protocol_from_dict({"preset": preset}))
    for ev in setup_events():
        assert e.apply(ev).accepted, ev
    return e


def test_open_trove_charges_the_fee_and_the_reserve():
    e = Engine(protocol_from_dict({"preset": "liquity-v1"}))
    e.apply(SetPrice("ETH", 2_000 * PRICE_UNIT))
    out = e.apply(LiquityOpenTrove("whale", 100 * E, 100_000 * E))
    # 100,000 + 0.5% fee (500) + 200 reserve = 100,700; ICR = 200,000 / 100,700.
    assert out.details["fee"] == 500 * E and out.details["debt"] == 100_700 * E
    assert out.details["icr"] == 200_000 * E * E // (100_700 * E)
    # 1 ETH for 2,000 LUSD: debt 2,210 at 2,000 is ICR 90.5% < 110%.
    out = e.apply(LiquityOpenTrove("small", E, 2_000 * E))
    assert not out.accepted and out.code == Code.LIQUITY_ICR_BELOW_MCR
    assert out.reason == ("BorrowerOps: An operation that would result in ICR < MCR is "
                          "not permitted")
    out = e.apply(LiquityOpenTrove("whale", 100 * E, 100_000 * E))
    assert out.code == Code.LIQUITY_TROVE_ACTIVE
    out = e.apply(LiquityOpenTrove("tiny", 10 * E, 1_000 * E))
    assert out.code == Code.LIQUITY_MIN_NET_DEBT


@pytest.mark.parametrize(("event", "field"), [
    (LiquityOpenTrove("big", 2**300, 2_000 * E), "coll"),
    (LiquityAdjustTrove("t1", coll_deposit=2**256), "coll_deposit"),
    (LiquityProvideToSP("sp3", 2**256), "amount"),
    (LiquityWithdrawFromSP("sp1", 2**256), "amount"),
])
def test_amounts_beyond_uint256_are_refused_naming_the_field(event: Any, field: str):
    # Liquity takes ETH (msg.value) and LUSD as uint256: a trove of 2**300 wei and a
    # stability deposit of 2**256 LUSD were accepted.
    e = engine()
    before = e.state.hash_parts()
    out = e.apply(event)
    assert out.code == Code.INVALID_AMOUNT
    assert out.reason == f"{field}: too large (more than 2**256 - 1 smallest units)"
    assert e.state.hash_parts() == before
    # withdrawFromSP of uint256's largest is "everything", as in Liquity.
    assert e.apply(LiquityWithdrawFromSP("sp2", 2**256 - 1)).details["withdrawn"] == 10_000 * E


def test_adjust_trove_in_normal_mode():
    e = Engine(protocol_from_dict({"preset": "liquity-v1"}))
    e.apply(SetPrice("ETH", 2_000 * PRICE_UNIT))
    e.apply(LiquityOpenTrove("whale", 100 * E, 100_000 * E))
    before = e.state.liquity
    # 55 ETH x 2,000 / 100,700 = 109.2% < MCR.
    out = e.apply(LiquityAdjustTrove("whale", coll_withdrawal=45 * E))
    assert out.code == Code.LIQUITY_ICR_BELOW_MCR and e.state.liquity == before
    # 60 ETH: ICR 119% passes, but the (one-trove) TCR 119% < 150%.
    out = e.apply(LiquityAdjustTrove("whale", coll_withdrawal=40 * E))
    assert out.code == Code.LIQUITY_TCR_BELOW_CCR
    # Drawing 1,000 more adds the 0.5% fee: 100,700 + 1,005.
    out = e.apply(LiquityAdjustTrove("whale", lusd_change=1_000 * E, is_debt_increase=True))
    assert out.details["fee"] == 5 * E and out.details["debt"] == 101_705 * E
    # Net debt 101,505: repaying 99,706 leaves 1,799 < 1,800; 101,506 is more than it.
    out = e.apply(LiquityAdjustTrove("whale", lusd_change=99_706 * E))
    assert out.code == Code.LIQUITY_MIN_NET_DEBT
    out = e.apply(LiquityAdjustTrove("whale", lusd_change=101_506 * E))
    assert out.code == Code.LIQUITY_REPAYMENT_TOO_LARGE
    out = e.apply(LiquityAdjustTrove("whale", coll_deposit=E, coll_withdrawal=E))
    assert out.code == Code.LIQUITY_SINGULAR_COLL_CHANGE
    assert e.apply(LiquityAdjustTrove("whale")).code == Code.LIQUITY_NO_ADJUSTMENT
    assert e.apply(LiquityAdjustTrove("nobody", coll_deposit=E)).code == \
        Code.LIQUITY_TROVE_NOT_ACTIVE
    out = e.apply(LiquityAdjustTrove("whale", coll_deposit=E))
    assert out.accepted and out.details["coll"] == 101 * E


def test_recovery_mode_rules_and_close_trove():
    e = engine()
    # Normal mode: t1 closes, repaying 12,260 - 200 (the reserve is burned) for 10 ETH.
    out = e.apply(LiquityCloseTrove("t1"))
    assert out.details["coll_returned"] == 10 * E
    assert out.details["lusd_repaid"] == 12_060 * E
    e = engine()
    e.apply(SetPrice("ETH", 1_500 * PRICE_UNIT))      # TCR 137.4% < 150%
    assert e.apply(LiquityCloseTrove("t1")).code == Code.LIQUITY_RECOVERY_MODE
    out = e.apply(LiquityAdjustTrove("whale", coll_withdrawal=E))
    assert out.code == Code.LIQUITY_RECOVERY_NO_COLL_WITHDRAWAL
    out = e.apply(LiquityOpenTrove("new", 10 * E, 8_000 * E))    # ICR 182% >= CCR, no fee
    assert out.accepted and out.details["fee"] == 0
    out = e.apply(LiquityOpenTrove("new2", 10 * E, 9_900 * E))  # 15,000 / 10,100 < 150%
    assert out.code == Code.LIQUITY_ICR_BELOW_CCR


def test_liquidate_one_trove_at_the_recovery_cap():
    e = engine()
    out = e.apply(LiquityLiquidate("keeper", "t2"))
    assert out.code == Code.LIQUITY_NOTHING_TO_LIQUIDATE
    assert out.reason == "TroveManager: nothing to liquidate"
    e.apply(SetPrice("ETH", 1_500 * PRICE_UNIT))
    # t2 (ICR 118% < TCR 137%) with the pool covering its debt: 25,325 x 1.1 / 1,500 =
    # 18.571666... ETH taken (0.5% of it to the liquidator), 1.428333... ETH surplus.
    out = e.apply(LiquityLiquidate("keeper", "t2"))
    (t2,) = out.details["liquidated"]
    assert t2["debt_to_offset"] == 25_325 * E
    assert t2["coll_surplus"] == 1_428_333_333_333_333_334
    assert t2["coll_gas_compensation"] == 92_858_333_333_333_333
    sys = e.state.liquity
    assert sys is not None and sys.surplus == {"t2": 1_428_333_333_333_333_334}
    assert sys.pool.total_deposits == 4_675 * E and "t2" not in sys.troves
    assert e.apply(LiquityLiquidate("keeper", "t2")).code == \
        Code.LIQUITY_LIQUIDATE_NOT_ACTIVE
    # The pool may not be withdrawn from while the lowest trove is under 110%.
    e.apply(SetPrice("ETH", 1_300 * PRICE_UNIT))
    out = e.apply(LiquityWithdrawFromSP("sp1", E))
    assert out.code == Code.LIQUITY_SP_UNDERCOLLATERALIZED


def test_batch_liquidate_skips_and_dedupes():
    e = engine()
    e.apply(SetPrice("ETH", 1_300 * PRICE_UNIT))
    out = e.apply(LiquityBatchLiquidate("keeper", "t1,t1,nobody"))
    assert [x["trove"] for x in out.details["liquidated"]] == ["t1"]
    out = e.apply(LiquityBatchLiquidate("keeper", ""))
    assert out.code == Code.LIQUITY_EMPTY_TROVE_ARRAY
    assert e.apply(LiquityLiquidateTroves("keeper", 0)).code == Code.INVALID_ARGUMENT


def test_2025_pool_keeps_one_lusd_on_withdrawal():
    e = Engine(protocol_from_dict({"preset": "liquity-v1-2025"}))
    e.apply(SetPrice("ETH", 2_000 * PRICE_UNIT))
    e.apply(LiquityOpenTrove("a", 10 * E, 5_000 * E))
    e.apply(LiquityProvideToSP("sp", 100 * E))
    out = e.apply(LiquityWithdrawFromSP("sp", 100 * E))
    assert out.code == Code.LIQUITY_SP_MIN_DEPOSITS
    assert e.apply(LiquityWithdrawFromSP("sp", 99 * E)).details["deposit"] == E
    legacy = Engine(protocol_from_dict({"preset": "liquity-v1"}))
    legacy.apply(SetPrice("ETH", 2_000 * PRICE_UNIT))
    legacy.apply(LiquityOpenTrove("a", 10 * E, 5_000 * E))
    legacy.apply(LiquityProvideToSP("sp", 100 * E))
    assert legacy.apply(LiquityWithdrawFromSP("sp", 100 * E)).details["deposit"] == 0


def test_other_families_refuse_liquity_events_and_liquity_refuses_theirs():
    e = engine()
    assert e.apply(Deposit("x", "ETH", 1)).code == Code.EVENT_NOT_SUPPORTED
    assert e.apply(MorphoSupply("x", "m", assets=1)).code == Code.EVENT_NOT_SUPPORTED
    aave = Engine(protocol_from_dict({"preset": "aave-v3"}))
    out = aave.apply(LiquityOpenTrove("x", E, E))
    assert out.code == Code.EVENT_NOT_SUPPORTED and out.reason == "aave-v3 has no troves"
    # The state hash has a Liquity part only where there is a Liquity system.
    assert "liquity" not in aave.state.hash_parts()
    assert "liquity" in e.state.hash_parts()


def test_config_and_event_input_errors_name_the_field():
    with pytest.raises(ConfigError, match="liquity: aave-v3 has no troves"):
        protocol_from_dict({"preset": "aave-v3", "liquity": {"collateral": "WETH",
                                                             "debt": "DAI"}})
    with pytest.raises(ConfigError, match="liquity.collateral: unknown asset 'WETH'"):
        protocol_from_dict({"preset": "liquity-v1", "liquity": {"collateral": "WETH"}})
    with pytest.raises(ConfigError, match="liquity.base_rate"):
        protocol_from_dict({"preset": "liquity-v1", "liquity": {"base_rate": "2"}})
    ev = event_from_dict({"type": "LiquityAdjustTrove", "account": "a",
                          "lusd_change": 5, "is_debt_increase": True})
    assert ev == LiquityAdjustTrove("a", lusd_change=5, is_debt_increase=True)
    with pytest.raises(EventError, match="LiquityOpenTrove.coll: must be an integer"):
        event_from_dict({"type": "LiquityOpenTrove", "account": "a", "coll": 1.5,
                         "lusd_amount": 1})


def test_replay_from_the_log_gives_the_same_state_hash(tmp_path: Path):
    path = tmp_path / "events.sqlite"
    e = Engine.with_log(protocol_from_dict({"preset": "liquity-v1"}), path)
    for ev in setup_events():
        e.apply(ev)
    e.apply(LiquityOpenTrove("small", E, 2_000 * E))               # refused, logged
    for price in (1_500, 1_300):
        e.apply(SetPrice("ETH", price * PRICE_UNIT))
        e.apply(LiquityLiquidateTroves("keeper", 10))
    expected = e.state_hash()
    e.close()
    replayed, report = Engine.replay(path)
    assert report.state_hash == expected == replayed.state_hash()
    assert report.events == len(setup_events()) + 5


@pytest.mark.parametrize("family", ["liquity-v1", "liquity-v1-2025"])
def test_example_through_the_engine_equals_the_pure_rules(family: str):
    import tomllib

    data = tomllib.loads((FAMILIES / "liquity_recovery_crash.toml").read_text())
    data["family"] = family
    engine_report = run_family_scenario(data).as_dict()
    rules = resolve_family_preset(family)
    pure = run_liquity_rules(validate_model(LiquityScenario, data), rules, None).as_dict()
    assert engine_report["steps"] == pure["steps"]
    summary = dict(engine_report["summary"])
    # Setup: a price, 4 troves, 2 deposits; 3 prices, 2 liquidateTroves (at ETH 1,100
    # only the whale is left: the last trove is never liquidated, so none is tried).
    assert summary.pop("engine_events") == 12 and len(summary.pop("state_hash")) == 64
    assert summary == pure["summary"]


def test_base_rate_decays_to_each_borrowing_event_time():
    # base_rate 2% when the engine starts (t=0); 12 hours later (MINUTE_DECAY_FACTOR^720 =
    # 0.5, TroveManager._calcDecayedBaseRate) a 100,000 LUSD trove pays 0.5% + ~1% = ~1.5%.
    e = Engine(protocol_from_dict({"preset": "liquity-v1", "liquity": {"base_rate": "0.02"}}))
    assert e.apply(SetPrice("ETH", 2_000 * PRICE_UNIT)).accepted
    first = e.apply(LiquityOpenTrove("whale", 100 * E, 100_000 * E))
    assert first.details["fee"] == 2_500 * E          # no time passed: 2.5%
    assert e.state.ledger.time == 0
    assert e.apply(AdvanceTime(720 * 60)).accepted
    assert e.apply(SetPrice("ETH", 2_000 * PRICE_UNIT)).accepted
    out = e.apply(LiquityOpenTrove("second", 100 * E, 100_000 * E))
    decayed = lm.decayed_base_rate(2 * 10**16, 720 * 60, 0)
    assert out.details["fee"] == lm.borrowing_fee(decayed, 100_000 * E)
    assert abs(out.details["fee"] - 1_500 * E) <= 10**9
    system = e.state.liquity
    assert system is not None and system.base_rate == decayed


def test_redemption_through_the_engine_raises_the_base_rate():
    # TroveManager.redeemCollateral: 20,000 LUSD from the lowest-ICR trove at or above 110%
    # (t2: 20 ETH for 25,325 LUSD, ICR 157.9% at 2,000, is the lowest): 10 ETH drawn at
    # face value; baseRate = 10 x 2,000 / system debt / 2; fee = (0.5% + baseRate) x 10 ETH.
    e = engine()
    system = e.state.liquity
    assert system is not None
    debt_at_start = system.system_debt
    out = e.apply(event_from_dict({"type": "LiquityRedeemCollateral", "account": "r",
                                   "lusd_amount": 20_000 * E}))
    assert out.accepted, out.reason
    assert [r["trove"] for r in out.details["redeemed"]] == ["t2"]
    assert out.details["eth_drawn"] == 10 * E
    base_rate = 10 * E * 2_000 * E // debt_at_start // 2
    assert out.details["base_rate"] == base_rate
    assert out.details["eth_fee"] == (lm.REDEMPTION_FEE_FLOOR + base_rate) * 10
    after = e.state.liquity
    assert after is not None and after.troves["t2"].debt == system.troves["t2"].debt - 20_000 * E
    # A following borrow pays the raised rate.
    opened = e.apply(LiquityOpenTrove("late", 100 * E, 10_000 * E))
    assert opened.details["fee"] == lm.borrowing_fee(base_rate, 10_000 * E)
    refused = e.apply(event_from_dict({"type": "LiquityRedeemCollateral", "account": "r",
                                       "lusd_amount": 0}))
    assert refused.code == Code.LIQUITY_REDEEM_ZERO_AMOUNT
