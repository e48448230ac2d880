"""marginengine: an exact, deterministic margin engine for decentralized lending and
derivatives, and a laboratory that stress-tests it.

The package's face: ``marginengine.simulate(scenario, **overrides)`` (see
:mod:`marginengine.sim.api` and docs/api.md), imported on first use so that
``import marginengine`` stays light and the engine layers never load the simulator.
"""

from __future__ import annotations

from typing import Any

__all__ = ["simulate"]


def __getattr__(name: str) -> Any:
    # The root re-exports the simulator's API lazily: the only import of a later layer
    # from the root, made on first use (PEP 562).
    if name == "simulate":
        from marginengine.sim.api import simulate

        return simulate
    raise AttributeError(f"module 'marginengine' has no attribute {name!r}")
