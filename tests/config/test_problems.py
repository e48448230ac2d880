"""pydantic's errors in our words (config/problems.py): one ``field.path: reason`` each."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from marginengine.config import format_validation_error, protocol_from_dict
from marginengine.config.loading import loads_toml
from marginengine.config.problems import shown, validation_problems
from marginengine.errors import ConfigError

#: Words pydantic uses that no message of ours may carry.
PYDANTIC_WORDING = ("Input should", "Field required", "Extra inputs", "valid integer",
                    "valid dictionary", "instance of", "List should", "[type=")


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    x: str | int | float = 1
    counts: list[int] = Field(default_factory=lambda: [1], min_length=1)
    rate: float = Field(default=1.0, gt=0, le=1000)


def _problems(data: Any) -> list[str]:
    with pytest.raises(ValidationError) as info:
        _Spec.model_validate(data)
    return format_validation_error(info.value)


@pytest.mark.parametrize(("data", "expected"), [
    ({"x": [1]}, ["x: must be a string, an integer or a number (got an array)"]),
    ({"counts": []}, ["counts: must have at least 1 item (got 0)"]),
    ({"counts": ["a"]}, ["counts.0: must be an integer (got 'a')"]),
    ({"rate": 0}, ["rate: must be greater than 0 (got 0)"]),
    ({"rate": 1e300}, ["rate: must be at most 1000 (got 1e+300)"]),
    ({"rat": 1}, ["rat: unknown field (check the spelling)"]),
    ([1, 2], ["(top level): must be a table (a JSON object) (got an array)"]),
])
def test_problems_when_pydantic_refuses_then_our_words(data: Any,
                                                       expected: list[str]) -> None:
    assert _problems(data) == expected


def test_problems_when_a_union_member_fails_then_one_message_without_its_tag() -> None:
    # pydantic reports x three times, at x.str, x.int and x.float.
    with pytest.raises(ValidationError) as info:
        _Spec.model_validate({"x": None})
    assert [e["loc"] for e in info.value.errors()] == [("x", "str"), ("x", "int"),
                                                       ("x", "float")]
    assert validation_problems(info.value.errors()) == [
        ("x", "must be a string, an integer or a number (got null)")]


@pytest.mark.parametrize(("data", "expected"), [
    ({"markets": {"WETH": {"decimals": 1.5}}},
     "markets.WETH.decimals: must be a whole number (got 1.5)"),
    ({"markets": {"WETH": 5}}, "markets.WETH: must be a table (a JSON object) (got 5)"),
    ({"name": 5}, "name: must be a string (got 5)"),
    ({"markets": {"WETH": {"ltv": "abc"}}}, "markets.WETH.ltv: must be a number (got 'abc')"),
    ({"markets": {"WETH": {"ltv": 1.5}}}, "markets.WETH.ltv: must be at most 1 (got 1.5)"),
    # repr() of an integer beyond 4300 digits raises: the formatter crashed on it.
    ({"markets": {"WETH": {"decimals": 10**5000}}},
     "markets.WETH.decimals: must be at most 36 (got an integer of about 5001 digits)"),
    ({"markets": {"WETH": {"decimals": -(10**100)}}},
     "markets.WETH.decimals: must be at least 0 (got a negative integer of about 101 "
     "digits)"),
])
def test_protocol_when_field_bad_then_message_in_our_words(data: dict[str, Any],
                                                           expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        protocol_from_dict(data)
    assert info.value.problems == [expected]
    assert not any(w in str(info.value) for w in PYDANTIC_WORDING)


def test_shown_when_long_text_then_cut() -> None:
    assert shown("x" * 500) == "'" + "x" * 55 + "...'"
    assert shown({"a": 1}) == "a table" and shown(None) == "null"


def test_toml_when_integer_beyond_4300_digits_then_config_error_naming_the_line() -> None:
    # tomllib's ValueError escaped loads_toml (a traceback at the CLI).
    with pytest.raises(ConfigError) as info:
        loads_toml("a = 1\nb = " + "9" * 5000, source="x.toml")
    assert str(info.value) == "x.toml: line 2: a number has more than 4300 digits"
