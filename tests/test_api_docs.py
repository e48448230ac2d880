"""docs/api.md: every Python block runs as written (each asserts its own worked figures)."""

import re
from pathlib import Path

import pytest

API = Path(__file__).resolve().parents[1] / "docs" / "api.md"
BLOCKS = re.findall(r"```python\n(.*?)```", API.read_text(), re.S)


def test_api_doc_has_examples():
    assert len(BLOCKS) >= 8


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_api_doc_example_when_run_then_its_assertions_hold(index: int) -> None:
    exec(compile(BLOCKS[index], f"docs/api.md block {index + 1}", "exec"), {})
