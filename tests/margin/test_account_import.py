"""The structural rule of an import (margin/account_import.py), called without an engine:
every problem at once, each naming its field; margin is never asked."""

from __future__ import annotations

from marginengine.config import protocol_from_dict
from marginengine.decisions import Code
from marginengine.margin.account_import import (
    book_problems,
    import_problems,
    signed_base_problems,
    validate_import,
)

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


def test_signed_base_problems_when_comet_supplies_and_owes_base_then_named():
    # Comet holds one signed base principal per account (compound-finance/comet
    # contracts/CometStorage.sol: userBasic[account].principal, an int104): 100 USDC
    # supplied and 5,000 owed would be a principal of -4,900, never both balances; Aave
    # holds each reserve's aToken and debt token apart, so it may.
    comet = protocol_from_dict({"preset": "compound-v3", "markets": {"USDC": {}, "WETH": {}}})
    reason = ("in compound-v3 the base balance is signed: an account supplies USDC or "
              "borrows it, not both")
    assert signed_base_problems(comet, ["WETH", "USDC"], ["USDC"]) == [("USDC", reason)]
    assert signed_base_problems(comet, ["WETH"], ["USDC"]) == []
    assert signed_base_problems(AAVE, ["USDC"], ["USDC"]) == []
    # The import's rule is this one, named by field.
    assert import_problems(comet, "bob", [("USDC", 100 * USDC)], [("USDC", 5_000 * USDC)],
                           0) == [("borrowed.USDC", reason)]
    # The book readers' rule: the e-mode check and this one, (what, reason) by asset.
    assert book_problems(comet, 0, ["USDC"], ["USDC"]) == [("USDC", reason)]
    assert book_problems(comet, 0, ["WETH"], ["WETH"]) == [("WETH", "WETH is not borrowable")]
    assert book_problems(AAVE, 2, [], []) == [
        ("emode", "unknown e-mode category 2 (categories: none)")]
