"""``marginengine.simulate`` (sim/api.py): bad arguments are named, never a traceback."""

from __future__ import annotations

from typing import Any

import pytest

import marginengine
from marginengine.errors import ConfigError
from tests.cli.test_cli import EXAMPLES

QUICKSTART = EXAMPLES / "quickstart.toml"


@pytest.mark.parametrize(("kwargs", "problem"), [
    ({"runs": "3"}, "runs: must be a whole number of at least 1 (got '3')"),
    ({"runs": 2.5}, "runs: must be a whole number of at least 1 (got 2.5)"),
    ({"runs": 0}, "runs: must be a whole number of at least 1 (got 0)"),
    ({"runs": True}, "runs: must be a whole number of at least 1 (got True)"),
    ({"runs": 2, "workers": "a"}, "workers: must be a whole number of at least 1 (got 'a')"),
    ({"workers": 0}, "workers: must be a whole number of at least 1 (got 0)"),
    # Was taken as truthy: explain="no" explained the run.
    ({"explain": "no"}, "explain: must be True or False (got 'no')"),
    ({"explain": 0}, "explain: must be True or False (got 0)"),
])
def test_simulate_when_runs_or_workers_not_a_count_then_config_error_naming_it(
        kwargs: dict[str, Any], problem: str) -> None:
    # Before: runs="3" raised TypeError ('<' between str and int) from deep in the
    # Monte Carlo, and workers=0 was taken silently.
    with pytest.raises(ConfigError) as info:
        marginengine.simulate(QUICKSTART, **kwargs)
    assert info.value.problems == [problem]


def test_simulate_when_one_path_overridden_by_two_names_then_refused_naming_both() -> None:
    # book__accounts=50 and **{"book.accounts": 60} are one path: the run took 60 and
    # dropped 50 silently (as --set seed=1 --set seed=2 took 2).
    with pytest.raises(ConfigError) as info:
        marginengine.simulate(QUICKSTART, book__accounts=50, **{"book.accounts": 60})
    assert info.value.problems == [
        "override book.accounts: given twice (book__accounts=50 and book.accounts=60); "
        "give one value per path"]
