"""Layer 13: parameter optimization under a risk budget (docs/optimize.md).

``marginengine.optimize`` is both this package and the function
:func:`marginengine.optimize.api.optimize`: ``import marginengine.optimize`` then
``marginengine.optimize(scenario, params=[...], ...)`` returns the frontier as a pandas
DataFrame. Nothing heavy (pandas, optuna) is imported until a search runs.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from marginengine.optimize.problem import (
    METRICS,
    Constraint,
    Metric,
    OptimizeInputError,
    Param,
    Problem,
    build_problem,
    parse_constraint,
    parse_param,
)

__all__ = [
    "METRICS",
    "Constraint",
    "Metric",
    "OptimizeInputError",
    "Param",
    "Problem",
    "build_problem",
    "parse_constraint",
    "parse_param",
]


class CallableModule(types.ModuleType):
    """This package, callable as :func:`marginengine.optimize.api.optimize`."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from marginengine.optimize.api import optimize

        return optimize(*args, **kwargs)


sys.modules[__name__].__class__ = CallableModule
