"""Scenarios driven through the same engine: one schema (:mod:`marginengine.sim.schema`)
and one pipeline (:mod:`marginengine.sim.pipeline`) for explicit prices and actions (a
scripted scenario) and for price models with agents (a cascade)."""

# The family runners register themselves with the cascade (sim/cascade.FAMILY_RUNNERS):
# importing any of the simulator's modules imports this package first, so they are there.
from marginengine.sim import drift_cascade as _drift_cascade  # noqa: F401
from marginengine.sim import euler_cascade as _euler_cascade  # noqa: F401
from marginengine.sim import family_cascade as _family_cascade  # noqa: F401
from marginengine.sim import mango_cascade as _mango_cascade  # noqa: F401
from marginengine.sim.feeds import FeedSpec, ScenarioFeed
from marginengine.sim.overrides import apply_overrides, parse_value
from marginengine.sim.scenario import Scenario, load_scenario, parse_duration, scenario_from_dict
from marginengine.sim.scripted import (
    LiquidationRecord,
    PerpLiquidationRecord,
    ScenarioResult,
    ScenarioRunner,
    run_scenario,
)

__all__ = [
    "FeedSpec",
    "LiquidationRecord",
    "PerpLiquidationRecord",
    "Scenario",
    "ScenarioFeed",
    "ScenarioResult",
    "ScenarioRunner",
    "apply_overrides",
    "load_scenario",
    "parse_duration",
    "parse_value",
    "run_scenario",
    "scenario_from_dict",
]
