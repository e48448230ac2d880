"""Text where a plain number is required (``steps = "5"``) is refused naming the field;
exact decimals keep taking decimal text, and values given on the command line (``--set``,
``--grid``) are read as TOML first, so they stay numbers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import marginengine
from marginengine.errors import ConfigError
from marginengine.sim.joint import JointPriceSpec
from marginengine.sim.schema import read_spec
from tests.cli.test_cli import EXAMPLES, run

QUICKSTART = EXAMPLES / "quickstart.toml"


def test_scenario_when_count_is_text_then_refused_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    scenario = tmp_path / "s.toml"
    text = QUICKSTART.read_text()
    assert "steps = 144 " in text and "accounts = 2000\n" in text
    scenario.write_text(text.replace("steps = 144 ", 'steps = "5" ', 1)
                        .replace("accounts = 2000\n", 'accounts = "20"\n', 1))
    code, out, err = run(["simulate", str(scenario), "--out", str(tmp_path / "o"),
                          "--quiet"], capsys)
    assert code == 2 and out == "" and "Traceback" not in err and err.count("\n") == 1
    assert "steps: must be a number, not text (got '5'; write it without quotes)" in err
    assert "book.accounts: must be a number, not text (got '20'; write it without quotes)" \
        in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.toml"]


def test_scenario_when_exact_decimal_is_text_then_still_read():
    # Protocol parameters are exact decimals, written "0.05" on purpose (examples do).
    spec = read_spec(QUICKSTART, ['protocol.markets.WETH.liquidation_bonus="0.06"',
                                  'price.s0="1999.5"'])
    assert str(spec.protocol.markets["WETH"].liquidation_bonus) == "0.06"
    assert spec.cascade is not None and str(spec.cascade.price.s0) == "1999.5"


def test_set_and_grid_when_number_given_as_command_line_text_then_a_number(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    spec = read_spec(QUICKSTART, ["steps=5", "book.accounts=20", "gas.gwei=30"])
    assert spec.cascade is not None
    assert (spec.steps, spec.cascade.book.accounts, spec.cascade.gas.gwei) == (5, 20, 30)
    code, _, err = run(["sweep", str(QUICKSTART), "--out", str(tmp_path / "g"), "--quiet",
                        "--set", "book.accounts=20", "--grid", "steps=2,3"], capsys)
    assert code == 0, err
    code, _, err = run(["simulate", str(QUICKSTART), "--out", str(tmp_path / "o"),
                        "--quiet", "--set", 'steps="5"'], capsys)
    assert code == 2 and "steps: must be a number, not text (got '5'" in err


def test_api_overrides_when_number_then_run_and_when_text_then_refused():
    result = marginengine.simulate(QUICKSTART, steps=2, book__accounts=20, explain=False)
    assert len(result.steps) == 3
    with pytest.raises(ConfigError) as err:
        marginengine.simulate(QUICKSTART, steps="2", explain=False)
    assert any(p.startswith("steps: must be a number, not text (got '2'")
               for p in err.value.problems)


@pytest.mark.parametrize(("asset", "problem"), [
    # Both were read as 1 (the joint model's tables were not strict models).
    ({"process": "bridge", "end_at": True}, "must not be true or false (got true)"),
    ({"process": "bridge", "end_at": "3"}, "must be a number, not text (got '3'"),
])
def test_joint_model_when_bool_or_text_for_a_step_then_refused(
    asset: dict[str, Any], problem: str
):
    with pytest.raises(ValueError, match="end_at") as err:
        JointPriceSpec.model_validate({"assets": {"WETH": {"s0": 2000, **asset}}})
    assert problem in str(err.value)


def test_correlation_matrix_when_text_entry_then_refused():
    with pytest.raises(ValueError, match=r"must be a number, not text \(got '0.5'"):
        JointPriceSpec.model_validate({
            "assets": {"WETH": {"process": "gbm"}, "WBTC": {"process": "gbm"}},
            "correlation": {"assets": ["WETH", "WBTC"], "matrix": [[1, "0.5"], [0.5, 1]]}})
