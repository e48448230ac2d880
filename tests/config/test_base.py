"""``config.base.StrictModel``: a boolean field takes only ``true`` or ``false``.

Pydantic's lax mode reads ``"yes"``, ``"on"``, ``1`` and ``"false"`` as booleans: a
scenario's ``flash_loan = "no"`` or ``--set keepers.0.flash_loan=1`` ran silently with a
value the user may not have meant. Every configuration table (protocol, scenario, family
scenario, steward bounds, ``[service]``) refuses them, naming the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from marginengine.config import protocol_from_dict, read_toml
from marginengine.config.stewards import ParamBound
from marginengine.errors import ConfigError
from marginengine.sim.schema import read_spec
from tests.cli.test_cli import EXAMPLES, run

QUICKSTART = EXAMPLES / "quickstart.toml"


@pytest.mark.parametrize(("value", "shown"), [
    ('"yes"', "'yes'"), ('"on"', "'on'"), ("1", "1"), ("0", "0"), ('"false"', "'false'")])
def test_scenario_when_bool_field_given_lenient_value_then_refused_naming_it(
    value: str, shown: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["simulate", str(QUICKSTART), "--out", str(tmp_path / "o"),
                          "--quiet", "--set", "book.accounts=10", "--set", "steps=2",
                          "--set", f"keepers.2.flash_loan={value}"], capsys)
    assert code == 2 and out == "" and "Traceback" not in err
    assert f"keepers.2.flash_loan: must be true or false (got {shown})" in err
    assert not (tmp_path / "o").exists()


def test_scenario_when_bool_field_is_a_bool_then_read() -> None:
    spec = read_spec(QUICKSTART, ["keepers.2.flash_loan=false"])
    assert spec.cascade is not None
    assert [k.flash_loan for k in spec.cascade.keepers] == [False, False, False]


@pytest.mark.parametrize(("market", "field"), [
    ({"collateral": "yes"}, "collateral"), ({"borrowable": 1}, "borrowable"),
    ({"siloed_borrowing": "on"}, "siloed_borrowing")])
def test_protocol_when_bool_field_given_lenient_value_then_refused(
    market: dict[str, Any], field: str
) -> None:
    with pytest.raises(ConfigError) as err:
        protocol_from_dict({"preset": "aave-v3.5", "markets": {"WETH": market}})
    value = next(iter(market.values()))
    assert err.value.problems == [
        f"markets.WETH.{field}: must be true or false (got {value!r})"]


def test_protocol_when_nested_bool_given_text_then_refused() -> None:
    with pytest.raises(ConfigError) as err:
        protocol_from_dict({"oracle": {"stable_price": {"enabled": "false"}}})
    assert err.value.problems == [
        "oracle.stable_price.enabled: must be true or false (got 'false')"]


def test_steward_bound_when_relative_given_text_then_refused() -> None:
    with pytest.raises(ValidationError, match="must be true or false"):
        ParamBound.model_validate({"max_change_bps": 50, "relative": "yes"})
    assert ParamBound.model_validate({"max_change_bps": 50, "relative": True}).relative


@pytest.mark.parametrize("path", sorted(p.name for p in EXAMPLES.glob("*.toml")))
def test_examples_when_bools_are_strict_then_each_still_loads(path: str) -> None:
    from marginengine.sim.schema import load_spec

    data = read_toml(EXAMPLES / path)
    if "kind" not in data and "steps" not in data:
        pytest.skip("not a scenario (a snapshot, a service or a protocol file)")
    load_spec(data, str(EXAMPLES / path))
