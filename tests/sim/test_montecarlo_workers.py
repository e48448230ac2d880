"""Monte Carlo workers fork from a frozen heap (sim/montecarlo.frozen_heap): a parent
holding a large engine made every forked worker's garbage collections walk, and copy page
by page, the heap it inherited (benchmarks/simulate.py: 2 workers no faster than 1)."""

import copyreg
import gc
import os
import pickle
import signal

import numpy as np
import pytest

from marginengine.errors import ConfigError, OracleError
from marginengine.sim import montecarlo
from marginengine.sim.montecarlo import (
    PoolTiming,
    WorkerPool,
    frozen_heap,
    in_run_order,
    iterate_process,
    makespan,
    predicted_speedup,
)
from marginengine.sim.pipeline import child_seed


def _tiny() -> dict[str, object]:
    return {"kind": "cascade", "name": "t", "seed": 1, "steps": 6, "step_seconds": 600,
            "protocol": {"preset": "aave-v3", "markets": {"WETH": {}, "USDC": {}}},
            "prices": {"USDC": 1},
            "price": {"asset": "WETH", "process": "path", "path": [2000, 1800, 1500, 1400]},
            "venue": {"kind": "amm", "base_reserve": 2000},
            "gas": {"kind": "constant", "gwei": 10},
            "book": {"accounts": 30, "total_debt": 300_000, "whales": 1,
                     "collateralization_median": 1.4, "collateralization_sigma": 0.15,
                     "min_collateralization": 1.2, "debt_asset": "USDC",
                     "collateral_asset": "WETH"},
            "keepers": [{"id": "keeper", "capital": 1e8}]}


def test_frozen_heap_when_entered_then_parent_objects_frozen_and_released_after() -> None:
    before = gc.get_freeze_count()
    held = [object() for _ in range(1000)]  # the parent's state
    with frozen_heap():
        assert gc.get_freeze_count() >= before + len(held)
    assert gc.get_freeze_count() == 0
    assert held


def test_monte_carlo_when_two_workers_then_same_rows_as_inline() -> None:
    inline = list(iterate_process(_tiny(), 3, 4, 1))
    pooled = list(iterate_process(_tiny(), 3, 4, 2))
    assert pooled == inline
    assert gc.get_freeze_count() == 0  # the heap is released once the pool is done


# ------------------------------------------------------- the pool's serial fraction
def test_frozen_heap_when_entered_then_no_full_collection_in_the_parent() -> None:
    # A full collection before each fork cost the parent 20-90 ms of serial time (more
    # with a large engine in its heap): the freeze alone keeps the workers' collectors
    # off the inherited heap. Cyclic garbage made before entering is still there inside.
    collected: list[bool] = []

    class Node:
        def __init__(self) -> None:
            self.me = self

        def __del__(self) -> None:
            collected.append(True)

    gc.disable()
    try:
        Node()  # unreachable, held only by its own cycle
        with frozen_heap():
            assert collected == []
    finally:
        gc.enable()
    gc.collect()
    assert collected == [True]  # unfrozen: the next collection frees it


def test_in_run_order_when_later_runs_finish_first_then_rows_in_run_order() -> None:
    # Workers finish out of order (run 2 before run 0): each row is held until every
    # earlier one has come, and then yielded at once.
    arrivals = [(2, "c"), (0, "a"), (3, "d"), (1, "b"), (4, "e")]
    seen: list[str] = []
    for item in in_run_order(iter(arrivals)):
        seen.append(item)
    assert seen == ["a", "b", "c", "d", "e"]


def test_in_run_order_when_a_run_is_missing_then_raises() -> None:
    with pytest.raises(RuntimeError, match="without run 1"):
        list(in_run_order([(0, "a"), (2, "c")]))


def test_makespan_when_runs_dispatched_in_order_then_first_free_worker_takes_each() -> None:
    # Runs of 1, 1, 1, 3 s on 2 workers: A 0-1, B 0-1, A 1-2, B 1-4 -> 4 s (the 3 s run is
    # left alone at the tail); 3, 1, 1, 1: A 0-3, B 0-1-2-3 -> 3 s.
    assert makespan([1.0, 1.0, 1.0, 3.0], 2) == 4.0
    assert makespan([3.0, 1.0, 1.0, 1.0], 2) == 3.0
    assert makespan([1.0, 2.0], 1) == 3.0


def test_predicted_speedup_when_serial_and_tail_then_amdahl_ratio() -> None:
    # 6 s of runs (1, 1, 1, 3), no serial time on 1 worker, 1 s of it on 2:
    # with the tail (1 + 3 + 1 + 1 -> makespan 4): 6 / (1 + 4) = 1.2;
    # balanced (Amdahl's law, 6 / 2 = 3): 6 / (1 + 3) = 1.5.
    runs = [1.0, 1.0, 1.0, 3.0]
    assert predicted_speedup(runs, 0.0, 1.0, 2) == pytest.approx(1.2)
    assert predicted_speedup(runs, 0.0, 1.0, 2, balanced=True) == pytest.approx(1.5)
    # No serial time, equal runs: the ideal 2x.
    assert predicted_speedup([1.0] * 8, 0.0, 0.0, 2) == pytest.approx(2.0)


def test_pool_timing_when_components_then_serial_fraction_and_busy() -> None:
    timing = PoolTiming(2, setup_s=0.5, teardown_s=0.25, aggregate_s=0.25,
                        run_s={0: 2.0, 1: 3.0, 2: 4.0}, worker_of={0: 11, 1: 12, 2: 11})
    assert timing.serial_s == 1.0
    assert timing.runs_s == 9.0
    assert timing.serial_fraction == pytest.approx(0.1)  # 1 / (1 + 9)
    assert timing.busy_s() == [6.0, 3.0]


def test_monte_carlo_when_two_workers_then_same_per_run_figures_and_timing() -> None:
    # Same seeds -> the same figures for every run, in run order, on 1 and 2 workers;
    # each run timed in the worker that ran it (never the parent).
    one, two = PoolTiming(1), PoolTiming(2)
    inline = list(iterate_process(_tiny(), 5, 7, 1, one))
    pooled = list(iterate_process(_tiny(), 5, 7, 2, two))
    assert [r["run"] for r in pooled] == list(range(7))
    assert [r["seed"] for r in pooled] == [f"5/{i}" for i in range(7)]
    assert pooled == inline
    assert sorted(two.run_s) == list(range(7)) and all(s > 0 for s in two.run_s.values())
    assert os.getpid() not in set(two.worker_of.values())
    assert set(one.worker_of.values()) == {os.getpid()}
    assert two.setup_s > 0 and two.wall_s >= two.setup_s
    # Every run started in a worker after the parent had forked it.
    assert sorted(two.started) == list(range(7))
    assert two.setup_s <= two.to_first_run_s < two.wall_s
    assert one.teardown_s == 0.0


def test_worker_pool_when_two_batches_then_forked_once_and_rows_as_inline() -> None:
    # A sweep or optimizer keeps one pool for many batches: the same worker processes
    # serve both (no second start-up), and each batch's rows are its inline rows.
    first, second = PoolTiming(2), PoolTiming(2)
    with WorkerPool(2) as pool:
        workers = pool.pids()
        a = list(iterate_process(_tiny(), 3, 4, 2, first, pool=pool))
        b = list(iterate_process(_tiny(), 4, 4, 2, second, pool=pool))
        assert pool.pids() == workers
    assert set(first.worker_of.values()) | set(second.worker_of.values()) <= workers
    assert second.setup_s == 0.0  # the pool was already up
    assert a == list(iterate_process(_tiny(), 3, 4, 1))
    assert b == list(iterate_process(_tiny(), 4, 4, 1))
    assert gc.get_freeze_count() == 0


class _TwoArgError(Exception):
    """An error the parent cannot rebuild from its message (``__init__`` wants two)."""

    def __init__(self, what: str, why: str) -> None:
        super().__init__(f"{what}: {why}")


def _raise_two_arg(task: tuple[dict[str, object], int, int]) -> dict[str, object]:
    raise _TwoArgError("book", f"run {task[2]} refused")


def test_monte_carlo_when_a_worker_raises_an_unpicklable_error_then_parent_gets_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # A process pool whose parent cannot unpickle a worker's exception waits forever for
    # the lost result; the worker sends a RuntimeError naming the run and the error.
    monkeypatch.setattr(montecarlo, "run_one", _raise_two_arg)  # inherited by the fork
    # Once dask.distributed is imported (another test's Dask backend), tblib pickles every
    # exception class that existed then by its fields: take this one back to the default.
    monkeypatch.delitem(copyreg.dispatch_table, _TwoArgError, raising=False)
    with pytest.raises(RuntimeError, match=r"run \d: _TwoArgError: book: run \d refused"):
        list(iterate_process(_tiny(), 1, 3, 2))
    with pytest.raises(_TwoArgError):  # inline: the error as it is
        list(iterate_process(_tiny(), 1, 3, 1))


def test_errors_when_pickled_to_the_parent_then_same_message_and_fields() -> None:
    # A ConfigError from a worker came back as one "problem" per character; a FieldError
    # could not be rebuilt at all (its __init__ wants field and reason).
    config = pickle.loads(pickle.dumps(ConfigError(["book.accounts: must be > 0",
                                                    "steps: too many"], "s.toml")))
    assert str(config) == "s.toml: book.accounts: must be > 0; steps: too many"
    assert config.problems == ["book.accounts: must be > 0", "steps: too many"]
    assert config.source == "s.toml"
    field = pickle.loads(pickle.dumps(OracleError("price", "must be positive (got -1)")))
    assert isinstance(field, OracleError)
    assert (str(field), field.field, field.reason) == (
        "price: must be positive (got -1)", "price", "must be positive (got -1)")


def test_child_seed_when_any_index_then_same_draws_as_spawn() -> None:
    # Run i's generator is child i of SeedSequence(seed), now built in constant time
    # (spawning i + 1 children per run cost 10 ms at run 1,000): the same draws.
    for index in (0, 1, 7, 250):
        spawned = np.random.SeedSequence(42).spawn(index + 1)[index]
        assert (np.random.default_rng(child_seed(42, index)).random(4)
                == np.random.default_rng(spawned).random(4)).all()


def _slow_tiny() -> dict[str, object]:
    data = _tiny()
    data["steps"] = 60  # runs long enough to be interrupted mid-batch
    return data


def test_worker_pool_when_a_worker_is_killed_then_raises_instead_of_waiting() -> None:
    # A multiprocessing pool replaces a dead worker but loses its run: the parent would
    # wait for that row forever. The batch stops with an error naming the worker.
    with WorkerPool(2) as pool:
        rows = iterate_process(_slow_tiny(), 1, 40, 2, pool=pool)
        next(rows)
        os.kill(sorted(pool.pids())[0], signal.SIGKILL)
        with pytest.raises(RuntimeError, match=r"worker \d+ died \(killed by signal 9\)"):
            list(rows)


def test_worker_pool_when_a_worker_gets_ctrl_c_then_batch_unaffected() -> None:
    # Ctrl-C is the parent's: a worker ignores SIGINT, so its runs and rows are intact.
    expected = list(iterate_process(_tiny(), 2, 6, 1))
    with WorkerPool(2) as pool:
        for pid in pool.pids():
            os.kill(pid, signal.SIGINT)
        assert list(iterate_process(_tiny(), 2, 6, 2, pool=pool)) == expected
        assert pool.alive()
