"""Scenarios driven through the same engine: scripted runs today, cascades later."""

from marginengine.sim.scenario import Scenario, load_scenario, parse_duration, scenario_from_dict
from marginengine.sim.scripted import (
    LiquidationRecord,
    ScenarioResult,
    ScenarioRunner,
    run_scenario,
)

__all__ = [
    "LiquidationRecord",
    "Scenario",
    "ScenarioResult",
    "ScenarioRunner",
    "load_scenario",
    "parse_duration",
    "run_scenario",
    "scenario_from_dict",
]
