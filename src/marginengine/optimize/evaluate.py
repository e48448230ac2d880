"""Evaluators: the per-run rows of a batch of candidates on the same seeds.

Common random numbers: run ``i`` of every candidate uses the ``i``-th child of
``SeedSequence(seed)`` (:func:`marginengine.sim.montecarlo.run_one`), so two candidates
differ only by their parameters, never by their luck. A row depends only on the candidate's
scenario, the seed and ``i``: the same rows, bit for bit, inline, on a process pool or on
Dask.

Two evaluators behind one interface (:class:`Evaluator`):

- :class:`SimulatorEvaluator` runs the cascade simulator (every run through the engine),
  one long-lived process pool or Dask client for the whole optimization;
- :class:`ShockEvaluator` is the analytic twin of a one-account book under a single known
  shock (closed form, vectorized), so the optimizer's acceptance test runs in seconds and
  can be checked against :func:`shock_es99`, the exact ES99.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from marginengine.errors import ConfigError

if TYPE_CHECKING:
    from marginengine.sim.montecarlo import WorkerPool

Task = tuple[dict[str, Any], int, int]


class Evaluator(Protocol):
    """Rows of runs ``indices`` of each candidate scenario in ``batch``, from ``seed``."""

    backend: str
    model: str

    def evaluate(self, batch: Sequence[dict[str, Any]], seed: int,
                 indices: Sequence[int]) -> list[list[dict[str, Any]]]:
        """One list of rows per candidate, in the order of ``indices``."""
        ...

    def close(self) -> None:
        """Release workers."""
        ...


class SimulatorEvaluator:
    """The cascade simulator on ``workers`` local processes (``backend="process"``) or on
    Dask (``backend="dask"``: a ``LocalCluster`` of ``workers``, or ``scheduler``)."""

    def __init__(self, backend: str = "process", workers: int = 2,
                 scheduler: str | None = None) -> None:
        if backend not in ("process", "dask"):
            raise ConfigError([f"--backend: must be process or dask (got {backend!r})"])
        self.backend = backend
        self.model = "simulator"
        self.workers = workers
        self.scheduler = scheduler
        self._pool: WorkerPool | None = None
        self._client: Any = None
        self._dask: ExitStack | None = None

    def _start(self) -> None:
        if self.backend == "dask" and self._client is None:
            from marginengine.sim.montecarlo import dask_client

            # The Monte Carlo's client and its shutdown (sim.montecarlo.dask_client),
            # kept for every batch of the optimization and closed by close().
            self._dask = ExitStack()
            self._client = self._dask.enter_context(dask_client(self.workers,
                                                                self.scheduler))
        elif self.backend == "process" and self.workers > 1 and self._pool is None:
            # The Monte Carlo's pool: forked once, here, from a frozen heap, and kept for
            # every batch of the optimization; one run per task to the free worker.
            from marginengine.sim.montecarlo import WorkerPool

            self._pool = WorkerPool(self.workers)

    def evaluate(self, batch: Sequence[dict[str, Any]], seed: int,
                 indices: Sequence[int]) -> list[list[dict[str, Any]]]:
        """Run every (candidate, run) pair; rows come back in task order."""
        from marginengine.sim.montecarlo import run_one

        tasks: list[Task] = [(data, seed, i) for data in batch for i in indices]
        if not tasks:
            return [[] for _ in batch]
        self._start()
        if self._client is not None:
            futures = self._client.map(run_one, tasks, pure=False)
            rows = list(self._client.gather(futures))
        elif self._pool is not None:
            labels = [f"candidate {j} run {i}" for j in range(len(batch)) for i in indices]
            rows = list(self._pool.map(run_one, tasks, labels=labels))
        else:
            rows = [run_one(t) for t in tasks]
        n = len(indices)
        return [rows[j * n:(j + 1) * n] for j in range(len(batch))]

    def close(self) -> None:
        """Shut the pool or the Dask client down."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        if self._dask is not None:
            self._client = None
            dask, self._dask = self._dask, None
            dask.close()


# ---------------------------------------------------------------------- analytic twin
def _shock_inputs(data: dict[str, Any]) -> tuple[float, float, float, float, float, float]:
    """``(ltv, debt, median, sigma, floor, shock)`` of a one-account shock scenario."""
    book = data["book"]
    asset = data["price"]["asset"]
    path = [float(x) for x in data["price"]["path"]]
    market = data["protocol"]["markets"][asset]
    return (float(market["ltv"]), float(book["total_debt"]),
            float(book["collateralization_median"]), float(book["collateralization_sigma"]),
            float(book["min_collateralization"]), 1.0 - min(path) / path[0])


class ShockEvaluator:
    """The closed form of a one-account book under one known shock, per run.

    The scenario (the shape of ``tests/optimize``'s ``shock`` scenario): one borrower asks
    for ``D = book.total_debt`` against collateral worth ``R x D``, ``R`` lognormal with
    median ``book.collateralization_median`` and log-sigma ``book.collateralization_sigma``,
    floored at ``book.min_collateralization`` (the draws of
    :func:`marginengine.sim.book.synthetic_book`); the borrow is accepted when ``D <= LTV x R x
    D`` (``R >= 1 / LTV``); the price path (``price.path``) falls by ``s``; no keeper acts.
    Then, per run, ``borrowing_power = LTV R D``, ``demand_served = 1`` if accepted else 0
    (``borrow_usage``: that over ``LTV R``),
    and ``bad_debt = D max(0, 1 - R (1 - s))`` if accepted. ``R`` of run ``i`` is drawn from
    the ``i``-th child of ``SeedSequence(seed)``, as the simulator's runs are.
    """

    backend = "analytic"
    model = "shock"

    def evaluate(self, batch: Sequence[dict[str, Any]], seed: int,
                 indices: Sequence[int]) -> list[list[dict[str, Any]]]:
        """Rows of every candidate (vectorized over the runs)."""
        if not indices:
            return [[] for _ in batch]
        from marginengine.sim.pipeline import child_seed
        # The simulator's synthetic book draws the account's size (one normal), then its
        # collateralization (the next): the same draws here, so a run of the twin is the
        # same account as the simulator's run (tests/optimize compares them run by run).
        normals = np.array([np.random.default_rng(child_seed(seed, i)).standard_normal(2)[1]
                            for i in indices])
        out = []
        for data in batch:
            ltv, debt, median, sigma, floor, shock = _shock_inputs(data)
            ratio = np.maximum(median * np.exp(sigma * normals), floor)
            accepted = ratio * ltv >= 1.0
            bad = np.where(accepted, debt * np.maximum(0.0, 1.0 - ratio * (1.0 - shock)), 0.0)
            rows = []
            for j, i in enumerate(indices):
                rows.append({"run": i, "seed": f"{seed}/{i}", "bad_debt": float(bad[j]),
                             "liquidated_value": 0.0, "borrower_loss": 0.0,
                             "borrowing_power": float(ltv * ratio[j] * debt),
                             "borrowed_value": float(debt if accepted[j] else 0.0),
                             "borrow_usage": float(accepted[j]) / (ltv * ratio[j]),
                             "demand_served": float(accepted[j])})
            out.append(rows)
        return out

    def close(self) -> None:
        """Nothing to release."""


def shock_es99(ltv: float, debt: float, median: float, sigma: float, shock: float,
               tail: float = 0.01) -> float:
    """The exact ES99 of the :class:`ShockEvaluator`'s bad debt (population, floor below
    ``1 / LTV``).

    With ``L = 1 / LTV`` and ``U = 1 / (1 - s)``, bad debt is ``D (1 - R / U)`` on
    ``L <= R < U`` and 0 elsewhere, decreasing in ``R``, so the worst ``tail`` of runs are
    the smallest accepted ``R``: with ``p = F(U) - F(L)`` (``F`` the lognormal CDF),
    ``ES = D / tail x [q - PE(L, r) / U]`` where ``r = U, q = p`` if ``p <= tail``, else
    ``F(r) = F(L) + tail, q = tail``; ``PE(a, b) = E[R; a <= R < b] = exp(mu + sigma^2 / 2)
    (Phi((ln b - mu - sigma^2) / sigma) - Phi((ln a - mu - sigma^2) / sigma))``.
    """
    from scipy.stats import norm

    mu = math.log(median)
    low, high = 1.0 / ltv, 1.0 / (1.0 - shock)
    if low >= high:
        return 0.0

    def cdf(r: float) -> float:
        return float(norm.cdf((math.log(r) - mu) / sigma))

    def partial(a: float, b: float) -> float:
        scale = math.exp(mu + sigma**2 / 2)
        return scale * float(norm.cdf((math.log(b) - mu - sigma**2) / sigma)
                             - norm.cdf((math.log(a) - mu - sigma**2) / sigma))

    p = cdf(high) - cdf(low)
    if p <= tail:
        upper, mass = high, p
    else:
        upper = math.exp(mu + sigma * float(norm.ppf(cdf(low) + tail)))
        mass = tail
    return debt / tail * (mass - partial(low, upper) / high)
