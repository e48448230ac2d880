"""The Dask backend's shutdown: a Monte Carlo on a 2-worker LocalCluster ends with nothing
from distributed on stderr, on a loaded machine too.

distributed's nanny gives a worker process 4 s to exit once asked to stop, then kills it
with ``distributed.nanny - WARNING - Worker process still alive after 4.0 seconds,
killing``; on a loaded machine a worker's exit (the interpreter's teardown) takes longer.
The run here makes every worker process take 5 s to exit (a ``sitecustomize`` on the
subprocess's path registers an exit hook that sleeps in processes with a parent, the
spawned workers: the slowness of a loaded machine, made certain), and holds port 8787,
the scheduler's default HTTP port, which another cluster on the machine may hold
(distributed then warns ``Port 8787 is already in use``). Before
``sim.montecarlo.dask_client`` both printed: two nanny warnings and the port warning.

The run is a subprocess: distributed's loggers write to the stderr of the process that
imports it, and importing it changes pickling in that process (test_montecarlo_workers.py).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SLOW_EXIT = '''
import atexit, multiprocessing, time
def _slow_exit():
    if multiprocessing.parent_process() is not None:  # a spawned Dask worker
        time.sleep(5)
atexit.register(_slow_exit)
'''

RUN = '''
import json, sys
from marginengine.config import read_toml
from marginengine.sim import apply_overrides
from marginengine.sim.montecarlo import monte_carlo
from pathlib import Path

if __name__ == "__main__":
    data = apply_overrides(read_toml(Path(sys.argv[1])),
                           ["book.accounts=60", "book.total_debt=3000000", "steps=48"])
    stats = monte_carlo(data, 99, 4, "dask", 2, None)
    print(json.dumps({"backend": stats["backend"], "seeds": stats["run_seeds"]}))
'''


def test_dask_monte_carlo_when_workers_exit_slowly_then_stderr_has_nothing_from_distributed(
        tmp_path: Path) -> None:
    pytest.importorskip("dask.distributed")
    (tmp_path / "sitecustomize.py").write_text(SLOW_EXIT)
    script = tmp_path / "run.py"
    script.write_text(RUN)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT / "src")])}
    held = socket.socket()
    try:
        try:
            held.bind(("127.0.0.1", 8787))
            held.listen()
        except OSError:
            pass  # held by another process already: the same for the run
        done = subprocess.run([sys.executable, str(script),
                               str(ROOT / "examples" / "gbm_stress.toml")],
                              cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=300)
    finally:
        held.close()
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"backend": "dask",
                                       "seeds": ["99/0", "99/1", "99/2", "99/3"]}
    noise = [line for line in done.stderr.splitlines()
             if any(w in line.lower() for w in ("nanny", "traceback", "warning",
                                                "distributed", "port 8787"))]
    assert noise == [], done.stderr


def test_scheduler_when_unreachable_then_error_names_the_flag_and_address(
        tmp_path: Path) -> None:
    # It said "error: : Timed out trying to connect to tcp://127.0.0.1:1 after 30 s": no
    # flag, and an empty name before the colon (an OSError without a file name).
    pytest.importorskip("dask.distributed")
    with socket.socket() as s:          # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"),
           "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "1s"}
    out = subprocess.run(
        [sys.executable, "-c", "from marginengine.cli.main import main; main()", "simulate",
         str(ROOT / "examples" / "quickstart.toml"), "--runs", "2", "--backend", "dask",
         "--scheduler", f"tcp://127.0.0.1:{port}", "--out", str(tmp_path / "run")],
        capture_output=True, text=True, env=env, timeout=120, check=False)
    assert out.returncode == 2, out.stderr
    line = out.stderr.strip().splitlines()[-1]
    assert line.startswith(f"error: --scheduler tcp://127.0.0.1:{port}: cannot connect "), line
    assert not (tmp_path / "run").exists()
