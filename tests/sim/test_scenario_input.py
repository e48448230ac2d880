"""Scripted scenario inputs that were accepted and must be refused (issue 9, item 5)."""

from __future__ import annotations

from typing import Any

import pytest

from marginengine.errors import ConfigError
from marginengine.sim import scenario_from_dict
from marginengine.sim.scenario import scenario_kind

PRICES = {"WETH": 2000, "USDC": 1, "DAI": 1, "WBTC": 60000}


def problems(**fields: Any) -> list[str]:
    with pytest.raises(ConfigError) as err:
        scenario_from_dict({"name": "x", "prices": PRICES, **fields})
    return err.value.problems


def test_scenario_when_account_id_has_trailing_newline_then_refused():
    # The pattern ends in $, which re.match lets match before a final "\n".
    assert problems(accounts=[{"id": "alice\n", "deposit": {"WETH": 1}}]) == [
        "accounts.0.id: account id must be 1-64 letters, digits or . _ : @ -, optionally "
        "/label for an isolated sub-account (got 'alice\\n')"]
    assert problems(liquidator={"id": "keeper\n"})[0].startswith("liquidator.id: account id")


def test_scenario_when_advance_is_true_then_refused_not_one_second():
    assert problems(steps=[{"advance": True}]) == [
        "steps.0.advance: must be seconds or a duration like '10m', '1h', '1d'"]
    assert scenario_from_dict({"prices": PRICES, "steps": [{"advance": "1h"}]}).steps[0][0] \
        == 3600


def test_scenario_when_bool_in_a_number_field_then_refused():
    assert problems(liquidator={"max_per_account_per_step": True}) == [
        "liquidator.max_per_account_per_step: must not be true or false (got true)"]
    assert problems(accounts=[{"id": "a", "deposit": {"WETH": True}}]) == [
        "accounts.0.deposit.WETH: must be a number or a decimal string, not true/false"]


def test_scenario_when_name_only_dots_then_refused():
    assert problems(name="..") == [
        "name: must not be made only of dots: it names the output folder runs/<name> "
        "(got '..')"]


def test_scenario_kind_when_scripted_cascade_or_absent_then_named_else_refused():
    assert scenario_kind({}) == "scripted"
    assert scenario_kind({"kind": "scripted"}) == "scripted"
    assert scenario_kind({"kind": "cascade"}) == "cascade"
    with pytest.raises(ConfigError) as err:
        scenario_kind({"kind": "casade"}, "s.toml")
    assert str(err.value) == ("s.toml: kind: unknown kind 'casade' (kinds: scripted, cascade;"
                              " or omit it: [price] makes a cascade, explicit [[steps]] a scripted "
                              "scenario)")
    assert scenario_from_dict({"kind": "scripted", "prices": PRICES}).name == "scenario"


def test_scenario_when_liquidator_is_a_borrower_then_refused_naming_it():
    # The walkthrough with [liquidator] id = "bob": bob's debt could never be liquidated
    # (Aave v3 refuses a self-liquidation, ValidationLogic.validateLiquidationCall:
    # SelfLiquidation), and the run ended with 18,281 USD of bad debt instead of 2,947.
    bob = {"id": "bob", "deposit": {"WETH": 50}, "borrow": {"USDC": 78_000}}
    lp = {"id": "lp", "deposit": {"USDC": 1_000_000}}
    assert problems(accounts=[lp, bob], liquidator={"id": "bob"}) == [
        "liquidator.id: 'bob' borrows (accounts.1.borrow): nobody could liquidate it (an "
        "account cannot liquidate itself); give the liquidator an id of its own"]
    alice = {"id": "alice", "deposit": {"WETH": 10}}
    borrow = {"type": "borrow", "account": "alice", "asset": "USDC", "amount": 1_000}
    assert problems(accounts=[lp, alice], liquidator={"id": "alice"},
                    steps=[{"actions": [borrow]}]) == [
        "liquidator.id: 'alice' borrows (steps.0.actions.0): nobody could liquidate it (an "
        "account cannot liquidate itself); give the liquidator an id of its own"]
    # A liquidator that is an account without debt (a lender, or a perp keeper holding
    # quote to take positions over, as examples/perp_crash.toml's) is the same as before.
    assert scenario_from_dict({"prices": PRICES, "accounts": [lp],
                               "liquidator": {"id": "lp"}}).name == "scenario"
