"""Scenarios for the protocol families with state or rules of their own.

A family scenario names a family preset (``config.protocol_families``), the family's
initial state and steps; each family's module keeps the state between calls to that
family's pure rules (``margin/`` and ``liquidation/``) and reports it. Formats:
docs/formats.md, "Family scenarios"; examples: examples/families/.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from marginengine.config import read_toml, validate_model
from marginengine.config.protocol_families import (
    FamilyRules,
    ProtocolFamily,
    resolve_family_preset,
)
from marginengine.errors import ConfigError
from marginengine.sim.families.common import FamilyReport
from marginengine.sim.families.drift import DriftScenario, run_drift
from marginengine.sim.families.euler import EulerScenario, run_euler
from marginengine.sim.families.liquity import LiquityScenario, run_liquity
from marginengine.sim.families.mango import MangoScenario, run_mango
from marginengine.sim.families.morpho import MorphoScenario, run_morpho


def load_and_run(path: str | Path) -> FamilyReport:
    """Read, validate and run a family scenario file.

    Raises
    ------
    ConfigError
        On any problem with the file (each message names the field), before anything runs;
        or when the initial state is refused by the family's own rules (which field and
        why).
    """
    source = str(path)
    data = read_toml(path)
    return run_family_scenario(data, _resolve(data, source), source)


def _resolve(data: dict[str, Any], source: str | None) -> FamilyRules:
    try:
        return resolve_family_preset(data.get("family"))
    except ConfigError as exc:
        raise ConfigError(exc.problems, source=source) from None


def run_family_scenario(data: dict[str, Any], rules: FamilyRules | None = None,
                        source: str | None = None) -> FamilyReport:
    """Run a family scenario given as a dict (as read from TOML).

    Parameters
    ----------
    data
        The scenario's tables.
    rules
        The family preset resolved (default: from ``data["family"]``).
    source
        The file it came from, for error messages.
    """
    rules = rules or _resolve(data, source)
    family = rules.family
    if family is ProtocolFamily.MORPHO_BLUE:
        return run_morpho(validate_model(MorphoScenario, data, source), rules, source)
    if family is ProtocolFamily.LIQUITY_V1:
        return run_liquity(validate_model(LiquityScenario, data, source), rules, source)
    if family is ProtocolFamily.MANGO_V4:
        return run_mango(validate_model(MangoScenario, data, source), rules, source)
    if family is ProtocolFamily.DRIFT_V2:
        return run_drift(validate_model(DriftScenario, data, source), rules, source)
    return run_euler(validate_model(EulerScenario, data, source), rules, source)


__all__ = [
    "DriftScenario",
    "EulerScenario",
    "FamilyReport",
    "LiquityScenario",
    "MangoScenario",
    "MorphoScenario",
    "load_and_run",
    "run_family_scenario",
]
