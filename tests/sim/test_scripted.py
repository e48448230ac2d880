from pathlib import Path
from typing import Any

import pytest

from marginengine.config import read_toml
from marginengine.errors import ConfigError
from marginengine.sim import parse_duration, run_scenario, scenario_from_dict

WALKTHROUGH = Path(__file__).resolve().parents[2] / "examples" / "lending_walkthrough.toml"


def walkthrough(**changes: Any) -> dict[str, Any]:
    data = read_toml(WALKTHROUGH)
    data.update(changes)
    return data


def test_quickstart_when_run_then_gap_down_creates_deficit_and_books_balance():
    result = run_scenario(scenario_from_dict(walkthrough()))
    by_account = {(r.step, r.account): r for r in result.liquidations}
    # Step 1 (-5%): erin at 80% LTV is liquidated at the 50% close factor.
    assert by_account[(0, "erin")].health_before < 10**18
    # Step 3 (gap to 1,400): erin and bob lose all collateral; the rest is deficit.
    assert by_account[(2, "erin")].bad_debt_value > 0
    assert by_account[(2, "bob")].bad_debt_value > 0
    summary = result.summary()
    assert summary["bad_debt_realized"] == pytest.approx(
        sum(r.bad_debt_value for r in result.liquidations) / 1e8, abs=1e-6)
    assert summary["deficit"]["USDC"]
    assert summary["accounts"]["alice"]["liquidatable"] is False
    # alice's extra borrow was refused with its reason and the run went on.
    # (Past the liquidation threshold too: Aave v3.5+ names the health factor first.)
    assert summary["rejected_actions"][0] == (
        'BorrowRejected(reason="health factor would fall to 0.9276, below 1; no new borrows")')
    result.engine.ledger.check_conservation()


def test_keeper_when_disabled_then_no_liquidations_and_unrealized_bad_debt():
    data = walkthrough()
    data["liquidator"] = {"enabled": False}
    summary = run_scenario(scenario_from_dict(data)).summary()
    assert summary["liquidation_count"] == 0
    assert summary["bad_debt_realized"] == 0
    assert summary["bad_debt_unrealized"] > 0  # erin and bob end under water


def test_keeper_when_cap_would_leave_dust_then_offers_the_amount_leaving_the_minimum():
    # carol at 1,200 USD/ETH: the 50% cap on 8,000 of debt would leave 999.99 USD of DAI
    # debt; the keeper offers what leaves exactly 1,000 instead and liquidates at once.
    result = run_scenario(scenario_from_dict(walkthrough()))
    carol = [r for r in result.liquidations if r.account == "carol"]
    assert [r.step for r in carol] == [4]


def test_run_when_same_scenario_then_same_state_hash():
    a = run_scenario(scenario_from_dict(walkthrough())).summary()["state_hash"]
    b = run_scenario(scenario_from_dict(walkthrough())).summary()["state_hash"]
    assert a == b


def test_scenario_when_duplicate_accounts_or_bad_amounts_then_all_problems_listed():
    data = walkthrough()
    data["accounts"] = [{"id": "x", "deposit": {"WETH": "1.0000000000000000001"}},
                        {"id": "x", "borrow": {"USDC": -5}}]
    with pytest.raises(ConfigError) as err:
        scenario_from_dict(data)
    assert err.value.problems == [
        "accounts.0.deposit.WETH: has more than 18 decimal places ('1.0000000000000000001')",
        "accounts.1.borrow.USDC: must be positive (got -5)",
        "accounts: duplicate account id 'x'",
    ]


@pytest.mark.parametrize(("text", "seconds"), [(90, 90), ("90s", 90), ("10m", 600),
                                               ("1h", 3600), ("2d", 172800)])
def test_parse_duration(text: Any, seconds: int):
    assert parse_duration(text) == seconds


def test_parse_duration_when_bad_then_error():
    with pytest.raises(ValueError, match="duration"):
        parse_duration("1 week")
    with pytest.raises(ValueError, match="negative"):
        parse_duration(-1)
