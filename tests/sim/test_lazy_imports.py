"""Heavy imports only when used (issue 11 item 7): importing the simulator, Monte Carlo and
the CLI loads neither scipy.signal (~0.3 s, an OU path only) nor matplotlib, pyarrow,
pandas or plotly (outputs only)."""

import subprocess
import sys


def test_import_simulator_when_nothing_run_then_no_heavy_modules_loaded():
    code = ("import sys, marginengine.sim.cascade, marginengine.sim.montecarlo, "
            "marginengine.cli.main; print(','.join(m for m in ('scipy.signal', "
            "'matplotlib', 'pyarrow', 'pandas', 'plotly') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == ""
