"""The sweep and the optimizer run on the Monte Carlo's pool (sim/montecarlo.WorkerPool: forked
once from a frozen heap, one run per task, rows in task order), and the backtest seeds its
runs with ``pipeline.child_seed``: the same rows as one worker's, and as the old seeds'."""

from __future__ import annotations

import copyreg
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ClassVar

import numpy as np
import pytest

from marginengine.config import read_toml
from marginengine.optimize.evaluate import SimulatorEvaluator
from marginengine.sim import backtest as backtest_module
from marginengine.sim import montecarlo, sweep
from marginengine.sim.backtest import run_policy
from marginengine.sim.overrides import apply_overrides
from marginengine.sim.sweep import parse_grid, run_sweep
from tests.cli.test_cli import EXAMPLES


class _CountingPool(montecarlo.WorkerPool):
    """The Monte Carlo's pool, counting the pools made and the batches they served."""

    made = 0
    batches = 0
    pids: ClassVar[list[set[int]]] = []

    def __init__(self, workers: int) -> None:
        super().__init__(workers)
        type(self).made += 1

    def map(self, fn: Callable[[Any], Any], tasks: Sequence[Any],
            timing: montecarlo.PoolTiming | None = None,
            labels: Sequence[str] | None = None) -> Iterator[Any]:
        type(self).batches += 1
        type(self).pids.append(super().pids())
        return super().map(fn, tasks, timing, labels)


@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch) -> type[_CountingPool]:
    monkeypatch.setattr(_CountingPool, "made", 0)
    monkeypatch.setattr(_CountingPool, "batches", 0)
    monkeypatch.setattr(_CountingPool, "pids", [])
    monkeypatch.setattr(montecarlo, "WorkerPool", _CountingPool)
    return _CountingPool


def _small() -> dict[str, Any]:
    data = read_toml(EXAMPLES / "quickstart.toml")
    data["steps"] = 12
    data["book"].update({"accounts": 30, "total_debt": 1_000_000})
    return data


def test_sweep_when_two_workers_then_worker_pool_and_same_rows_as_one(
        counting: type[_CountingPool]) -> None:
    axes = parse_grid(["protocol.markets.WETH.liquidation_bonus=0.05,0.08"])
    one = run_sweep(_small(), axes, runs=3, workers=1)
    assert counting.made == 0  # one worker runs inline
    two = run_sweep(_small(), axes, runs=3, workers=2)
    assert (counting.made, counting.batches) == (1, 1)
    assert two.rows == one.rows  # the same seeds at every point, in the same order
    assert [r["seed"] for r in two.rows] == ["42/0", "42/1", "42/2"] * 2
    assert two.points == one.points


def test_optimizer_evaluation_when_two_workers_then_one_pool_and_same_rows_as_one(
        counting: type[_CountingPool]) -> None:
    # Common random numbers: run i of every candidate on child i of the seed, whatever the
    # number of workers; the pool forks once and serves every batch.
    candidates = [apply_overrides(_small(), [f"protocol.markets.WETH.ltv={x}"])
                  for x in ("0.70", "0.80")]
    one = SimulatorEvaluator("process", workers=1)
    two = SimulatorEvaluator("process", workers=2)
    try:
        expected = [one.evaluate(candidates, 5, range(3)), one.evaluate(candidates, 5, [3, 4])]
        got = [two.evaluate(candidates, 5, range(3)), two.evaluate(candidates, 5, [3, 4])]
    finally:
        one.close()
        two.close()
    assert got == expected
    assert [[r["seed"] for r in rows] for rows in got[1]] == [["5/3", "5/4"]] * 2
    assert (counting.made, counting.batches) == (1, 2)
    assert counting.pids[0] == counting.pids[1]  # the same workers: forked once


class _TwoArgError(Exception):
    """An error the parent cannot rebuild from its message (``__init__`` wants two)."""

    def __init__(self, what: str, why: str) -> None:
        super().__init__(f"{what}: {why}")


def _raise_two_arg(task: tuple[dict[str, Any], int, int | None]) -> dict[str, Any]:
    raise _TwoArgError("book", "refused")


def test_sweep_when_a_worker_raises_an_unpicklable_error_then_it_names_the_point(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sweep, "_task", _raise_two_arg)  # inherited by the fork
    monkeypatch.delitem(copyreg.dispatch_table, _TwoArgError, raising=False)
    axes = parse_grid(["protocol.markets.WETH.liquidation_bonus=0.05,0.08"])
    with pytest.raises(RuntimeError,
                       match=r"grid point \d run \d: _TwoArgError: book: refused"):
        run_sweep(_small(), axes, runs=2, workers=2)


def _spawned(seed: int, index: int) -> np.random.SeedSequence:
    return np.random.SeedSequence(seed).spawn(index + 1)[index]  # the old O(i) seeds


def test_backtest_when_seeded_by_child_seed_then_same_figures_as_spawn(
        monkeypatch: pytest.MonkeyPatch) -> None:
    data = read_toml(EXAMPLES / "backtest_crash.toml")
    data["steps"] = 12
    data["price"]["crash_at"] = 6
    data["book"]["accounts"] = 25
    for index in (0, 3):
        assert (np.random.default_rng(backtest_module.child_seed(9, index)).random(4)
                == np.random.default_rng(_spawned(9, index)).random(4)).all()
    new = [run_policy(data, "adaptive:realized", 9, i) for i in (0, 3)]
    monkeypatch.setattr(backtest_module, "child_seed", _spawned)
    old = [run_policy(data, "adaptive:realized", 9, i) for i in (0, 3)]
    assert new == old
    assert new[0]["state_hash"] != new[1]["state_hash"]  # the two runs differ
