"""Actions of a scenario (sim/actions.py): the pool configurator's types and
repay_with_atokens in a scripted step and a cascade's [[actions]], and their bad fields
refused at load naming the field."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from marginengine.config import read_toml
from marginengine.engine import RepayWithATokens, SetDebtCeiling, SetReservePause
from marginengine.errors import ConfigError
from marginengine.sim import run_scenario, scenario_from_dict
from marginengine.sim.pipeline import run
from marginengine.sim.schema import load_spec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

#: tests/sim/test_schema.py's ONE: bob, 10 WETH against 15,000 USDC under aave-v3 (WETH:
#: threshold 0.83, bonus 0.05, protocol fee 10% of the bonus); WETH 2,000 -> 1,700 puts
#: his health at 17,000 x 0.83 / 15,000 = 0.94067, below 0.95: the whole debt may be
#: repaid. carol supplies 1,000 USDC and owes 500.
ONE: dict[str, Any] = {
    "name": "one",
    "protocol": {"preset": "aave-v3", "markets": {"WETH": {}, "USDC": {}}},
    "prices": {"WETH": 2000, "USDC": 1},
    "accounts": [{"id": "lp", "deposit": {"USDC": 100_000}},
                 {"id": "bob", "deposit": {"WETH": 10}, "borrow": {"USDC": 15_000}},
                 {"id": "carol", "deposit": {"USDC": 1_000}, "borrow": {"USDC": 500}}],
}
PAUSE = {"type": "set_reserve_pause", "asset": "WETH", "paused": True}
UNPAUSE = {"type": "set_reserve_pause", "asset": "WETH", "paused": False}


def _scripted(steps: list[dict[str, Any]]) -> dict[str, Any]:
    data = copy.deepcopy(ONE)
    data["steps"] = steps
    return data


def test_scripted_when_reserve_paused_then_no_liquidation_until_unpaused() -> None:
    # validateLiquidationCall refuses a liquidation whose collateral reserve is paused
    # (aave-dao/aave-v3-origin@fd1fbd91 ValidationLogic.sol, ReservePaused); the keeper's
    # quote asks the same rule (engine/keeper.py liquidation_pause) and skips bob.
    result = run_scenario(scenario_from_dict(_scripted([
        {"prices": {"WETH": 1700}, "actions": [PAUSE]},
        {"actions": [UNPAUSE, {"type": "repay_with_atokens", "account": "carol",
                               "asset": "USDC", "amount": 200}]}])))
    summary = result.summary()
    assert summary["rejected_actions"] == [] and summary["keeper_refusals"] == []
    [record] = result.liquidations
    assert (record.step, record.account, record.health_before) == (1, "bob",
                                                                   940_666_666_666_666_666)
    # The whole 15,000 USDC at 1,700: 15,000 x 1.05 / 1,700 = 9.2647 WETH seized, 15,750
    # USD; the protocol takes 10% of the 750 USD bonus, the liquidator 15,675 (each 1e-8
    # USD less: the seized WETH is floored at 18 decimals, its value at 8).
    assert record.debt_repaid == 15_000 * 10**6
    assert record.collateral_value == 15_750 * 10**8 - 1
    assert record.liquidator_value == 15_675 * 10**8 - 1
    # carol repays 200 USDC with her aUSDC: 800 supplied, 300 owed (no time passed).
    position = result.engine.ledger.accounts["carol"].lending["USDC"]
    assert (position.scaled_supply, position.scaled_debt) == (800 * 10**6, 300 * 10**6)


def test_scripted_when_unpaused_with_grace_period_then_liquidation_strictly_after_it() -> None:
    # setReservePause(asset, false, 3600) sets liquidationGracePeriodUntil = now + 3600
    # (PoolConfigurator.sol@fd1fbd91); validateLiquidationCall needs until < now, so at
    # exactly 3,600 s bob is still spared, at 3,601 s he is liquidated.
    result = run_scenario(scenario_from_dict(_scripted([
        {"prices": {"WETH": 1700}, "actions": [PAUSE]},
        {"actions": [{**UNPAUSE, "grace_period": "1h"}]},
        {"advance": "1h"},
        {"advance": 1}])))
    [record] = result.liquidations
    assert (record.step, record.time) == (3, 3601)
    assert result.summary()["keeper_refusals"] == []


def _path_cascade() -> dict[str, Any]:
    """tests/sim/test_schema.py's: the quickstart on an explicit path (2,000 -> 1,500 at
    step 2), 20 book accounts and alice (10 WETH against 15,000 USDC)."""
    data = read_toml(EXAMPLES / "quickstart.toml")
    data.pop("gas")
    data.update(steps=4, price={"asset": "WETH", "process": "path",
                                "path": [2000, 2000, 1500, 1500, 1500]},
                accounts=[{"id": "alice", "deposit": {"WETH": 10},
                           "borrow": {"USDC": 15_000}}])
    data["book"] = {**data["book"], "accounts": 20, "whales": 1}
    return data


def test_cascade_when_reserve_paused_mid_run_then_liquidations_wait_for_the_unpause() -> None:
    data = _path_cascade()
    alone = run(data, amplification=False)
    # Without actions: 9 accounts liquidatable at 1,500 (step 2), 6 liquidated there, the
    # last one at step 4.
    assert list(alone.series["liquidatable_accounts"]) == [0, 0, 9, 3, 3]
    assert list(alone.series["liquidations_step"]) == [0, 0, 6, 0, 1]
    data["actions"] = [{"step": 2, **PAUSE}, {"step": 4, **UNPAUSE}]
    paused = run(data, amplification=False)
    # WETH, every borrower's collateral, paused over steps 2 and 3: all 9 stay
    # liquidatable and none is liquidated until the unpause at step 4.
    assert list(paused.series["liquidatable_accounts"]) == [0, 0, 9, 9, 9]
    assert list(paused.series["liquidations_step"]) == [0, 0, 0, 0, 5]
    assert paused.summary["liquidation_count"] == 5
    assert paused.summary["explicit_actions"] == 2
    assert paused.summary["rejected_actions"] == []


def test_action_events_when_governance_types_then_engine_events() -> None:
    data = _scripted([{"actions": [
        {"type": "set_reserve_pause", "asset": "WETH", "paused": False,
         "grace_period": "30m"},
        {"type": "repay_with_atokens", "account": "carol", "asset": "USDC",
         "amount": "0.5"}]}])
    data["protocol"]["preset"] = "aave-v3.3"
    data["steps"][0]["actions"].append(
        {"type": "set_debt_ceiling", "asset": "WETH", "debt_ceiling": "1000000.25"})
    assert scenario_from_dict(data).steps[0][2] == [
        SetReservePause("WETH", False, 1800),
        RepayWithATokens("carol", "USDC", 500_000),
        SetDebtCeiling("WETH", 100_000_025)]


def _problems(action: dict[str, Any], preset: str = "aave-v3") -> list[str]:
    data = _scripted([{"actions": [action]}])
    data["protocol"]["preset"] = preset
    with pytest.raises(ConfigError) as err:
        scenario_from_dict(data)
    return err.value.problems


AT = "steps.0.actions.0"


@pytest.mark.parametrize(("action", "problem"), [
    ({"type": "set_reserve_paus", "asset": "WETH", "paused": True},
     "type: unknown action type 'set_reserve_paus' (did you mean set_reserve_pause? types: "
     "deposit, withdraw, borrow, repay, repay_with_atokens, set_liquidation_grace_period, "
     "set_reserve_pause, set_pool_pause, set_reserve_freeze, set_reserve_active, "
     "set_debt_ceiling, borrow_max)"),
    ({"type": "set_reserve_pause", "asset": "WETH"},
     "paused: required for a set_reserve_pause action"),
    ({"type": "set_reserve_pause", "asset": "WETH", "paused": "yes"},
     "paused: must be true or false (got 'yes')"),
    ({"type": "set_reserve_pause", "asset": "DAI", "paused": True},
     "asset: unknown asset 'DAI' (markets: USDC, WETH)"),
    ({"type": "set_reserve_pause", "asset": "WETH", "paused": True, "amount": 3},
     "amount: a set_reserve_pause action takes no amount (its fields: asset, paused, "
     "grace_period)"),
    ({"type": "set_reserve_pause", "asset": "WETH", "paused": True, "grace_period": "1h"},
     "grace_period: only an unpause (paused = false) starts a grace period; Aave's "
     "setReservePause ignores it when pausing"),
    ({"type": "set_reserve_pause", "asset": "WETH", "paused": False, "grace_period": "5h"},
     "grace_period: must be within 0 and 14400 s (Aave's MAX_GRACE_PERIOD, 4 hours), got "
     "18000"),
    ({"type": "set_pool_pause", "asset": "WETH", "paused": True},
     "asset: a set_pool_pause action takes no asset (its fields: paused, grace_period)"),
    ({"type": "set_pool_pause", "paused": 1}, "paused: must be true or false (got 1)"),
    ({"type": "set_liquidation_grace_period", "asset": "WETH", "grace_period": True},
     "grace_period: must be seconds or a duration like '10m', '1h', '1d'"),
    ({"type": "set_liquidation_grace_period", "asset": "WETH"},
     "grace_period: required for a set_liquidation_grace_period action"),
    ({"type": "set_reserve_freeze", "asset": "WETH", "frozen": "true"},
     "frozen: must be true or false (got 'true')"),
    ({"type": "set_reserve_freeze", "asset": "WBTC", "frozen": True},
     "asset: unknown asset 'WBTC' (markets: USDC, WETH)"),
    ({"type": "set_reserve_active", "asset": "WETH"},
     "active: required for a set_reserve_active action"),
    ({"type": "repay_with_atokens", "account": "carol", "asset": "USDC"},
     "amount: required for a repay_with_atokens action"),
    ({"type": "repay_with_atokens", "account": "carol", "asset": "USDC", "amount": 0},
     "amount: must be positive (got 0)"),
    ({"type": "borrow_max", "account": "carol", "asset": "USDC", "frozen": False},
     "frozen: a borrow_max action takes no frozen (its fields: account, asset)"),
    ({"type": "set_debt_ceiling", "asset": "WETH", "debt_ceiling": 1},
     "type: aave-v3 does not apply set_debt_ceiling (aave-v3 has no isolation mode (Aave "
     "v3.3/v3.5's setDebtCeiling; v3.7 removed it, docs/3.7/mode-removal.md))"),
])
def test_scripted_when_bad_action_field_then_named(action: dict[str, Any],
                                                   problem: str) -> None:
    assert _problems(action) == [f"{AT}.{problem}"]


@pytest.mark.parametrize(("ceiling", "problem"), [
    ("1.001", "has more than 2 decimal places ('1.001')"),
    (-1, "must not be negative (got -1)"),
    (True, "must not be true or false (got true)"),
    # 2**40 cents is one above MAX_VALID_DEBT_CEILING (ReserveConfiguration.sol).
    ("10995116277.76", "must be within 0 and 1099511627775 cents (Aave's "
                       "MAX_VALID_DEBT_CEILING, 2**40 - 1), got 1099511627776"),
])
def test_set_debt_ceiling_when_bad_then_named(ceiling: object, problem: str) -> None:
    action = {"type": "set_debt_ceiling", "asset": "WETH", "debt_ceiling": ceiling}
    assert _problems(action, "aave-v3.3") == [f"{AT}.debt_ceiling: {problem}"]


def _cascade_problems(actions: list[dict[str, Any]]) -> list[str]:
    data = _path_cascade()
    data["actions"] = actions
    with pytest.raises(ConfigError) as err:
        load_spec(data)
    return err.value.problems


def test_cascade_when_bad_governance_action_then_named() -> None:
    # A field's own type first (the table is refused as a whole), then what each type
    # needs, against the protocol's markets.
    assert _cascade_problems([
        {"step": 1, "type": "set_reserve_frezee", "asset": "WETH", "frozen": True},
        {"step": 3, "type": "set_reserve_active", "asset": "WETH", "active": "no"}]) == [
        "actions.0.type: unknown action type 'set_reserve_frezee' (did you mean "
        "set_reserve_freeze? types: deposit, withdraw, borrow, repay, repay_with_atokens, "
        "set_liquidation_grace_period, set_reserve_pause, set_pool_pause, "
        "set_reserve_freeze, set_reserve_active, set_debt_ceiling)",
        "actions.1.active: must be true or false (got 'no')"]
    assert _cascade_problems([
        {"step": 1, "type": "set_reserve_freeze", "asset": "DAI", "frozen": True},
        {"step": 2, "type": "set_pool_pause", "paused": True, "grace_period": 60},
        {"step": 5, "type": "set_debt_ceiling", "asset": "WETH", "debt_ceiling": 1},
        {"step": 1, "type": "set_reserve_active", "asset": "WETH"}]) == [
        "actions.0.asset: unknown asset 'DAI' (markets: USDC, WETH)",
        "actions.1.grace_period: only an unpause (paused = false) starts a grace period; "
        "Aave's setReservePause ignores it when pausing",
        "actions.2.step: must be at most steps (4) (got 5)",
        "actions.2.type: aave-v3 does not apply set_debt_ceiling (aave-v3 has no isolation "
        "mode (Aave v3.3/v3.5's setDebtCeiling; v3.7 removed it, "
        "docs/3.7/mode-removal.md))",
        "actions.3.active: required for a set_reserve_active action"]
