"""Estimates of a candidate's metrics from its runs, with bootstrap intervals.

Point estimates and intervals come from the simulator's own estimators
(:func:`marginengine.sim.montecarlo.estimators` and
:func:`~marginengine.sim.montecarlo.statistics`): one definition of VaR95, ES99, LaR95 and
the means for the simulator and the optimizer. :func:`paired_difference` bootstraps the
difference of a metric between two candidates on the same runs (common random numbers):
the same resampled run indices for both, so the interval of the difference is as narrow as
the runs' shared luck allows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from marginengine.optimize.problem import METRICS, Metric
from marginengine.sim.montecarlo import (
    BOOTSTRAP_STREAM,
    CONFIDENCE_LEVEL,
    estimators,
    statistics,
)
from marginengine.sim.run_fields import EXTRA_RUN_FIELDS


def column(rows: Sequence[dict[str, Any]], field: str) -> np.ndarray:
    """A per-run field as floats (missing or ``None`` as 0)."""
    return np.array([float(r.get(field) or 0.0) for r in rows], dtype=float)


def point_estimates(rows: Sequence[dict[str, Any]],
                    metrics: Sequence[Metric] | None = None) -> dict[str, float]:
    """Each metric's point estimate over ``rows`` (default: those every scenario has)."""
    table = estimators(EXTRA_RUN_FIELDS)
    out = {}
    for m in ([m for m in METRICS.values() if m.needs is None] if metrics is None
              else metrics):
        field, fn, _ = table[m.estimate]
        out[m.name] = float(fn(column(rows, field)))
    return out


def interval_estimates(rows: list[dict[str, Any]], seed: int, resamples: int,
                       metrics: Sequence[Metric] | None = None
                       ) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Each metric (default: those every scenario has) as ``{value, ci_low, ci_high,
    observations, tail_observations}`` and the simulator's warnings about thin tails."""
    stats = statistics(rows, seed, resamples=resamples)
    chosen = [m for m in METRICS.values() if m.needs is None] if metrics is None else metrics
    out = {m.name: dict(stats["estimates"][m.estimate]) for m in chosen}
    return out, list(stats["warnings"])


def paired_difference(a: Sequence[dict[str, Any]], b: Sequence[dict[str, Any]], metric: Metric,
                      seed: int, resamples: int) -> tuple[float, float, float]:
    """``metric(b) - metric(a)`` on the same runs, with its bootstrap interval.

    Raises
    ------
    ValueError
        If ``a`` and ``b`` are not the same runs (the same seeds, in order).
    """
    if [r.get("seed") for r in a] != [r.get("seed") for r in b]:
        raise ValueError("paired_difference: the two candidates must share their runs")
    field, fn, _ = estimators(EXTRA_RUN_FIELDS)[metric.estimate]
    xa, xb = column(a, field), column(b, field)
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed,
                                                                      BOOTSTRAP_STREAM])))
    index = rng.integers(0, len(xa), size=(resamples, len(xa)))
    diffs = fn(xb[index]) - fn(xa[index])
    low_q, high_q = (1 - CONFIDENCE_LEVEL) / 2, (1 + CONFIDENCE_LEVEL) / 2
    return (float(fn(xb) - fn(xa)), float(np.quantile(diffs, low_q)),
            float(np.quantile(diffs, high_q)))
