"""The structural rule of an import (margin/account_import.py), called without an engine:
every problem at once, each naming its field; margin is never asked."""

from __future__ import annotations

from marginengine.config import protocol_from_dict
from marginengine.decisions import Code
from marginengine.margin.account_import import import_problems, validate_import

AAVE = protocol_from_dict({"preset": "aave-v3", "markets": {"WETH": {}, "USDC": {}}})
ETH, USDC = 10**18, 10**6


def test_import_problems_when_well_formed_then_none_even_under_margin():
    # 1 WETH (2,000 USD at any price) against 1,000,000 USDC: health near 0, still well
    # formed; the rule has no prices to ask.
    assert import_problems(AAVE, "alice", [("WETH", ETH)], [("USDC", 10**6 * USDC)], 0) == []
    # Debt with no collateral at all is a state a protocol can hold (bad debt), too.
    assert import_problems(AAVE, "dust", [], [("USDC", 1)], 0) == []


def test_import_problems_when_several_then_every_one_in_field_order():
    problems = import_problems(AAVE, "x y", [("WETH", 0), ("DOGE", 1)], [("USDC", -1)], 3)
    assert [f for f, _ in problems] == ["account", "supplied.WETH", "supplied.DOGE",
                                        "borrowed.USDC", "emode"]
    assert problems[-1] == ("emode", "unknown e-mode category 3 (categories: none)")


def test_validate_import_when_problem_then_first_as_typed_refusal():
    refusal = validate_import(AAVE, "alice", [("WETH", 0)], [], 0)
    assert refusal is not None and refusal.code is Code.INVALID_IMPORT
    assert refusal.message == "supplied.WETH: must be positive (got 0)"
    assert refusal.data == {"field": "supplied.WETH", "account": "alice",
                            "reason": "must be positive (got 0)"}
    assert validate_import(AAVE, "alice", [("WETH", 1)], [], 0) is None
