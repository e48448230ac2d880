"""Shared scenario of the optimizer's tests: one borrower per run under one known shock."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

SHOCK = Path(__file__).with_name("shock.toml")
LTV = "protocol.markets.WETH.ltv"


@pytest.fixture
def shock_data() -> dict[str, Any]:
    return tomllib.loads(SHOCK.read_text())
