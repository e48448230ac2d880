"""``--set PATH=VALUE`` (``sim/overrides.py``): one value per path."""

from __future__ import annotations

from pathlib import Path

import pytest

from marginengine.errors import ConfigError
from marginengine.sim.overrides import apply_overrides
from tests.cli.test_cli import WALKTHROUGH, run


def test_overrides_when_a_path_is_set_twice_then_refused_naming_both_values():
    # --set seed=1 --set seed=2 ran on seed 2, silently: the first was dropped.
    with pytest.raises(ConfigError) as err:
        apply_overrides({"seed": 0, "book": {"accounts": 5}},
                        ["seed=1", "book.accounts=7", "seed = 2"])
    assert err.value.problems == [
        "--set seed: given twice (1 and 2); give one value per path"]


def test_overrides_when_a_table_then_a_field_inside_it_then_both_applied_in_order():
    # Not the same path: the table is set, then one of its fields (documented: in order).
    data = apply_overrides({}, ["book={ accounts = 5, whales = 1 }", "book.accounts=7"])
    assert data == {"book": {"accounts": 7, "whales": 1}}


def test_simulate_when_set_twice_then_exit_2_and_nothing_written(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    code, stdout, err = run(["simulate", str(WALKTHROUGH), "--out", str(out), "--quiet",
                             "--set", "seed=1", "--set", "seed=2"], capsys)
    assert (code, stdout) == (2, "")
    assert err == ("error: --set seed: given twice (1 and 2); give one value per path\n")
    assert not out.exists() and list(tmp_path.iterdir()) == []
