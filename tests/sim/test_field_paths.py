"""One notation for field paths in bad-input errors, whichever check finds the mistake.

A scripted scenario's accounts and steps are checked by hand (sim/scenario.py); a cascade's
keepers by pydantic (config/loading.py formats its ``loc``) and its book profiles and
further protocols by hand (sim/books.py, sim/cascade.py). The same kind of mistake must be
named the same way in both: ``<list>.<index>.<field>``, dotted, as ``errors.field_path``
writes it and ``simulate --set`` accepts it.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest

from marginengine.config import read_toml
from marginengine.errors import ConfigError, field_path
from marginengine.sim import scenario_from_dict
from marginengine.sim.cascade import scenario_spec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SCRIPTED = EXAMPLES / "lending_walkthrough.toml"
CASCADE = EXAMPLES / "quickstart.toml"
SHARED = EXAMPLES / "shared_collateral.toml"

#: A dotted path: names, indices and keys joined by "." (no "[", no "]").
DOTTED = re.compile(r"[A-Za-z_][\w-]*(\.[\w-]+)*")


def problems(check: Any, data: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as err:
        check(data)
    return err.value.problems


def paths(found: list[str]) -> list[str]:
    return [p.partition(": ")[0] for p in found]


def scripted(change: Any) -> list[str]:
    data = copy.deepcopy(read_toml(SCRIPTED))
    change(data)
    return problems(scenario_from_dict, data)


def cascade(change: Any, path: Path = CASCADE) -> list[str]:
    data = copy.deepcopy(read_toml(path))
    change(data)
    return problems(scenario_spec, data)


def test_field_path_joins_names_indices_and_keys_dotted() -> None:
    assert field_path("steps", 0, "actions", 1, "amount") == "steps.0.actions.1.amount"
    assert field_path("", "book.profiles", 2) == "book.profiles.2"   # an empty prefix adds nothing
    assert field_path(field_path("accounts", 3), "perps", "ETH-PERP") == "accounts.3.perps.ETH-PERP"


def test_negative_amount_in_a_list_entry_is_named_alike_by_scripted_and_cascade() -> None:
    # Scripted, checked by hand: the second account's borrow (examples/lending_walkthrough.toml
    # has bob at index 1 borrowing USDC), and the first step's first action.
    def bad_account(d: dict[str, Any]) -> None:
        d["accounts"][1]["borrow"] = {"USDC": -5}

    def bad_action(d: dict[str, Any]) -> None:
        d["steps"][0]["actions"][0]["amount"] = -5

    # Cascade, checked by pydantic: the second keeper's capital (examples/quickstart.toml).
    def bad_keeper(d: dict[str, Any]) -> None:
        d["keepers"][1]["capital"] = -5

    assert scripted(bad_account) == ["accounts.1.borrow.USDC: must be positive (got -5)"]
    assert scripted(bad_action) == ["steps.0.actions.0.amount: must be positive (got -5)"]
    (keeper,) = cascade(bad_keeper)
    assert keeper.startswith("keepers.1.capital: ")
    for path, expected in zip(
            paths([*scripted(bad_account), *scripted(bad_action), keeper]),
            [field_path("accounts", 1, "borrow", "USDC"),
             field_path("steps", 0, "actions", 0, "amount"),
             field_path("keepers", 1, "capital")], strict=True):
        assert path == expected and DOTTED.fullmatch(path), path


def test_unknown_asset_in_a_list_entry_is_named_alike_by_scripted_and_cascade() -> None:
    def scripted_doge(d: dict[str, Any]) -> None:
        d["accounts"][1]["borrow"] = {"DOGE": 1}

    def cascade_doge(d: dict[str, Any]) -> None:
        d["book"]["profiles"] = [
            {"name": "eth", "share": "0.5", "collateral": {"WETH": 1}, "debt": {"USDC": 1}},
            {"name": "doge", "share": "0.5", "collateral": {"DOGE": 1}, "debt": {"USDC": 1}}]

    def further_protocol_dai(d: dict[str, Any]) -> None:
        d["protocols"][0]["book"]["debt_asset"] = "DAI"

    s = scripted(scripted_doge)
    c = cascade(cascade_doge)
    f = cascade(further_protocol_dai, SHARED)
    assert s == ["accounts.1.borrow.DOGE: unknown asset (markets: DAI, USDC, WETH)"]
    assert c[0] == "book.profiles.1.collateral.DOGE: unknown asset (markets: USDC, WETH)"
    assert f == ["protocols.0.book.debt_asset: unknown asset 'DAI' (markets: USDC, WETH)"]
    # The scripted and the cascade path differ only in their names, never in notation.
    assert paths(s)[0].split(".")[1:] == ["1", "borrow", "DOGE"]
    assert paths(c)[0].split(".")[2:] == ["1", "collateral", "DOGE"]
    for path in paths([*s, *c, *f]):
        assert DOTTED.fullmatch(path) and "[" not in path, path
