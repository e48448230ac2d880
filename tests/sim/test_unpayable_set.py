"""The keepers' step-wide skip set (``LendingScreen.unpayable`` with ``bounded``) is
``not may_pay``, account by account: the keeper skipping the set's accounts makes the
decisions it made asking ``may_pay`` of each (sim/agents/lending_keeper.py)."""

import sys
from pathlib import Path

import numpy as np

from marginengine.engine import Liquidate

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import simulate  # a sibling script, not a package


def test_unpayable_set_is_not_may_pay_through_a_cascade() -> None:
    spec, protocol = simulate.scenario_spec(simulate.scenario(1_500, 400))
    runner = simulate.CascadeRunner(spec, protocol, np.random.default_rng(spec.seed))
    runner.record_series = False
    runner.setup()
    runner.book.incremental_scan()
    checked = skipped = 0
    for i in range(1, spec.steps + 1):
        runner.step(i)
        screen = runner.lending_screen()  # the step's bounds, as the keepers used them
        unsafe = runner.book.below_accounts()
        if unsafe:
            # A small liquidation of one listed account: once accepted, that account is
            # touched since the bounds (bounded() turns False for it).
            runner.engine.apply(Liquidate("nobody", unsafe[0], "USDC", "WETH", 10**6))
        for need in (0.0, runner.gas_usd("liquidate", i), 50.0, 1e12, float("nan")):
            skip = screen.unpayable(need)
            for account in unsafe:
                checked += 1
                by_set = account in skip and screen.bounded(account)
                skipped += by_set
                assert by_set == (not screen.may_pay(account, need)), (i, account, need)
    assert checked > 1_000 and 0 < skipped < checked
