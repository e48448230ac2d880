"""docs/api.md: every Python block runs as written (each asserts its own worked figures),
and every public name of the package is documented there."""

import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import marginengine

API = Path(__file__).resolve().parents[1] / "docs" / "api.md"
TEXT = API.read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", TEXT, re.S)

#: The root and every subpackage that declares its public names.
PACKAGES = ["marginengine", *sorted(
    m.name for m in pkgutil.walk_packages(marginengine.__path__, "marginengine.")
    if m.ispkg)]


def test_api_doc_has_examples():
    assert len(BLOCKS) >= 8


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_api_doc_example_when_run_then_its_assertions_hold(index: int) -> None:
    exec(compile(BLOCKS[index], f"docs/api.md block {index + 1}", "exec"), {})


def reference() -> dict[str, list[str]]:
    """The names of each package's table in "Every public name", in order."""
    section = TEXT[TEXT.index("\n## Every public name\n"):]
    tables: dict[str, list[str]] = {}
    for part in re.split(r"^### ", section, flags=re.M)[1:]:
        heading, _, body = part.partition("\n")
        package = heading.strip().strip("`")
        tables[package] = re.findall(r"^\| `([A-Za-z_][A-Za-z0-9_]*)` \|", body, re.M)
    return tables


def exported(package: str) -> list[str] | None:
    names = getattr(importlib.import_module(package), "__all__", None)
    return None if names is None else list(names)


def test_api_doc_reference_when_read_then_every_package_with_all_has_a_table() -> None:
    tables = reference()
    with_all = [p for p in PACKAGES if exported(p) is not None]
    assert sorted(tables) == sorted(with_all)
    # Sanity: the subpackages of the DESIGN layers are all there.
    assert {"marginengine.engine", "marginengine.sim.agents", "marginengine.venue"} <= set(
        tables)


@pytest.mark.parametrize("package", [p for p in PACKAGES if exported(p) is not None])
def test_api_doc_reference_when_package_exports_names_then_each_is_documented(
        package: str) -> None:
    names = exported(package)
    assert names is not None
    documented = reference()[package]
    assert [n for n in names if n not in documented] == [], "exported, not in docs/api.md"
    assert [n for n in documented if n not in names] == [], "in docs/api.md, not exported"
    assert len(documented) == len(set(documented)), "a name listed twice"
    module = importlib.import_module(package)
    assert all(hasattr(module, n) for n in names), "__all__ names a missing attribute"


def test_api_doc_reference_when_a_row_then_it_says_what_the_name_is() -> None:
    section = TEXT[TEXT.index("\n## Every public name\n"):]
    rows = re.findall(r"^\| `[A-Za-z_][A-Za-z0-9_]*` \|(.*)\|$", section, re.M)
    assert len(rows) > 300
    assert [r for r in rows if len(r.strip()) < 8 or "module docstring" in r] == []
