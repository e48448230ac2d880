"""Decision variables, metrics and constraints: parsing, exact grids, feasibility by the
config validator, and the one-line errors of bad flags."""

from __future__ import annotations

from decimal import Decimal

import pytest

from marginengine.optimize.problem import (
    OptimizeInputError,
    build_problem,
    parse_constraint,
    parse_param,
    text_of,
)
from tests.optimize.conftest import LTV


def test_param_when_grid_then_exact_decimal_points():
    p = parse_param(f"{LTV}=0.70:0.80:0.0025")
    assert p.points == 41
    assert p.grid_value(3) == Decimal("0.7075")
    assert text_of(p.grid_value(40)) == "0.8"
    # A grid value and a preset's value name the same candidate.
    assert text_of(Decimal("0.8050")) == text_of(Decimal("0.805")) == "0.805"
    assert p.value(0.5) == Decimal("0.7500")
    whole = parse_param("keepers.0.latency=0:10:2")
    assert whole.integer and whole.points == 6 and whole.cast(whole.grid_value(2)) == 4


def test_constraint_when_parsed_then_violation_relative_to_limit():
    c = parse_constraint("es99_bad_debt<=250_000")
    assert c.limit == 250_000 and c.holds(250_000) and not c.holds(250_001)
    assert c.violation(300_000) == pytest.approx(0.2)
    assert parse_constraint("borrow_usage>=0.9").violation(0.45) == pytest.approx(0.45)


@pytest.mark.parametrize(("params", "objectives", "constraints", "message"), [
    (["protocol.markets.WETH.ltv"], [], [], "--param 'protocol.markets.WETH.ltv': must be "
     "PATH=LOW:HIGH"),
    ([f"{LTV}=0.8:0.7"], [], [], "LOW 0.8 is above HIGH 0.7"),
    ([f"{LTV}=0.75:0.750"], [], [], f"LOW equals HIGH (0.75): a range of one value is a "
     f"fixed value, not a variable; use --set {LTV}=0.75"),
    (["seed=1:9"], [], [], "--param 'seed=1:9': the seed is not a parameter to optimize"),
    ([f"{LTV}=a:0.7"], [], [], "LOW 'a' is not a number"),
    ([f"{LTV}=0.7:0.8:0"], [], [], "STEP must be positive"),
    # A STEP beyond the range leaves the grid LOW alone: a fixed value, as LOW == HIGH.
    ([f"{LTV}=0.7:0.8:0.5"], [], [], f"--param '{LTV}=0.7:0.8:0.5': STEP 0.5 is larger "
     f"than HIGH - LOW (0.1): the grid holds LOW alone, a fixed value, not a variable; "
     f"use --set {LTV}=0.7 or a smaller STEP"),
    (["protocol.markets.WETH.ltvv=0.7:0.8:0.01"], [], [], "unknown path: 'ltvv' is not a "
     "field of protocol.markets.WETH"),
    (["protocol.markets.WBTC.ltv=0.7:0.8:0.01"], [], [], "protocol.markets has no 'WBTC'"),
    (["price.asset=1:2"], [], [], "--param price.asset: not a number"),
    # A table the scenario leaves out (no [protocol.drift] on an Aave book) is not set,
    # not "a value, not a table".
    (["protocol.drift.slot_ms=100:400:100"], [], [], "--param protocol.drift.slot_ms: "
     "unknown path: protocol.drift is not set in this scenario (nothing to vary)"),
    ([f"{LTV}=0.7:0.8"], [], [], "--param protocol.markets.WETH.ltv: the field takes whole "
     "basis points; give a STEP"),
    ([f"{LTV}=0.7:0.8:0.01", f"{LTV}=0.7:0.8:0.01"], [], [], "given twice"),
    ([f"{LTV}=0.7:0.8:0.01"], ["efficiency"], [], "--objective 'efficiency': unknown metric"),
    ([f"{LTV}=0.7:0.8:0.01"], [], ["es99_bad_debt<250000"], "must be METRIC<=VALUE"),
    ([f"{LTV}=0.7:0.8:0.01"], [], ["es99<=1"], "unknown metric"),
    ([f"{LTV}=0.7:0.8:0.01"], [], ["es99_bad_debt<=lots"], "'lots' is not a number"),
    ([], [], [], "--param: give at least one decision variable"),
])
def test_build_when_bad_flags_then_error_names_flag_and_reason(shock_data, params, objectives,
                                                                constraints, message):
    with pytest.raises(OptimizeInputError) as exc:
        build_problem(shock_data, params, objectives, constraints)
    assert message in str(exc.value)
    assert "\n" not in str(exc.value)


def test_candidate_when_protocol_constraints_broken_then_refused_by_validator(shock_data):
    problem = build_problem(shock_data, [f"{LTV}=0.70:0.99:0.01",
                                         "protocol.markets.WETH.liquidation_bonus=0:0.2:0.01"],
                            [], [])
    # The current values come from the scenario (and the preset where it is silent).
    assert problem.current == {LTV: Decimal("0.70"),
                               "protocol.markets.WETH.liquidation_bonus": Decimal("0.05")}
    data, why = problem.candidate([Decimal("0.80"), Decimal("0.05")])
    assert why is None and data is not None
    assert data["protocol"]["markets"]["WETH"]["ltv"] == 0.8
    # LTV at the threshold (0.95): refused by the config validator, not simulated.
    _, why = problem.candidate([Decimal("0.95"), Decimal("0.05")])
    assert why is not None and "must be greater than ltv" in why
    # 0.95 x (1 + 0.06) > 1: a liquidation could seize more collateral than exists.
    _, why = problem.candidate([Decimal("0.80"), Decimal("0.06")])
    assert why is not None and "must not exceed 1" in why


def test_build_when_scripted_scenario_then_needs_noise():
    from marginengine.config import read_toml
    from marginengine.errors import ConfigError

    # A scripted scenario's runs are all the same run without [noise]: refused naming it,
    # with simulate --runs's message; with it, its fields are variables like a cascade's.
    data = read_toml("examples/lending_walkthrough.toml")
    data.pop("noise", None)
    with pytest.raises(ConfigError, match=r"^noise: a Monte Carlo \(--runs 2\) needs "):
        build_problem(data, [f"{LTV}=0.7:0.8:0.01"], [], [])
    data["noise"] = {"sigma": 0.02}
    problem = build_problem(data, [f"{LTV}=0.7:0.8:0.01"], [], [])
    assert problem.kind == "scripted" and not problem.options
    assert problem.current == {LTV: Decimal("0.805")}  # aave-v3's WETH LTV
    assert [m.name for m in problem.objectives] == ["borrowing_power", "es99_bad_debt"]
