"""Euler v2 in the cascade simulator (sim/euler_cascade.py): liquidations worked by hand
with the EVK's rules (euler-xyz/euler-vault-kit src/EVault/modules/Liquidation.sol:
calculateMaxLiquidation, discountFactor = max(HS, 1 - maxLiquidationDiscount), the yield
capped at the collateral's value, debt socialized when no collateral is left), the LTV
ramp (Governance.setLTV, LTVConfig.getLTV), the example's pinned figures and
conservation, and bad input."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from marginengine.errors import ConfigError
from marginengine.margin import euler as euler_rules
from marginengine.sim.cascade import run_cascade, runner_class, scenario_spec
from marginengine.sim.euler_cascade import EulerCascadeRunner

E = 10**18
USDC = 10**6
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def euler_scenario(path: list[int], accounts: list[dict[str, Any]],
                   **extra: Any) -> dict[str, Any]:
    # The euler-v2 preset: a USDC vault against WETH, borrow LTV 80%, liquidation LTV 85%,
    # maxLiquidationDiscount 15%. The book is one safe borrower (10x collateral); the
    # accounts under test are explicit. A deep venue without a fee that follows the path.
    return {"kind": "cascade", "name": "t", "steps": len(path) - 1, "step_seconds": 60,
            "protocol": {"preset": "euler-v2"},
            "prices": {"USDC": 1},
            "price": {"asset": "WETH", "process": "path", "path": path},
            "venue": {"base_reserve": 1_000_000, "fee_bps": 0, "arbitrage_speed": 1},
            "book": {"accounts": 1, "whales": 0, "total_debt": 1000,
                     "collateralization_median": 10, "collateralization_sigma": 0,
                     "min_collateralization": 10, "debt_asset": "USDC"},
            "accounts": accounts, "liquidity": {"USDC": 1_000_000},
            "keepers": [{"id": "keeper", "flash_loan": True}], "gas": {"gwei": 20},
            **extra}


def test_health_discount_then_capped_yield_and_socialized_debt_by_hand():
    # alice: 10 WETH, 15,000 USDC. At 1,700: collateral 17,000 x 0.85 = 14,450 <= 15,000,
    # a violator with HS = 14,450 / 15,000 = 0.9633.. > 0.85, so the discount factor is
    # HS: the whole 15,000 is repaid for 15,000 / HS = 15,570.93 USD of WETH (under her
    # 17,000: not capped), 15,570.93 / 1,700 = 9.1594 WETH.
    # bob: 10 WETH, 14,000 USDC, healthy at 1,700 (14,450 > 14,000). At 1,400: 14,000 x
    # 0.85 = 11,900, HS = 0.85 = the floor (1 - 15%). Yield 14,000 / 0.85 = 16,470 >
    # 14,000, so capped at all his WETH, the repay shrinking to 14,000 x 0.85 = 11,900;
    # no collateral left, so the other 2,100 USDC is socialized (realized bad debt).
    data = euler_scenario([2000, 1700, 1400], [
        {"id": "alice", "deposit": {"WETH": 10}, "borrow": {"USDC": 15_000}},
        {"id": "bob", "deposit": {"WETH": 10}, "borrow": {"USDC": 14_000}}])
    result = run_cascade(data, amplification=False)
    s, fam = result.summary, result.summary["family"]
    assert result.series["liquidations_step"] == [0, 1, 1]
    book = result.engine.state.family
    # alice: yield = (15,000 USD / (14,450 / 15,000)) / 1,700 in wei, in Euler's order of
    # roundings (value x 1e18 // factor, then x balance // value); by hand 15,000 x
    # 15,000 / 14,450 / 1,700 = 225,000,000 / 24,565,000 = 9.15937309... WETH.
    unit = 10**10 * 10**8                  # Euler's unit of account per USD (18 decimals)
    liability = 15_000 * unit
    coll_value = 17_000 * unit
    factor = coll_value * 85 // 100 * E // liability
    yield_value = liability * E // factor
    yield_alice = yield_value * (10 * E) // coll_value
    assert yield_alice == 9_159_373_091_797_272_545
    assert yield_alice / E == pytest.approx(225_000_000 / 24_565_000, rel=1e-15)
    assert book.account("alice").collateral["WETH"] == 10 * E - yield_alice
    assert book.account("alice").debt == 0
    assert book.account("bob").collateral["WETH"] == 0 and book.account("bob").debt == 0
    assert fam["repaid"] == pytest.approx(15_000 + 11_900, abs=1e-6)
    assert fam["socialized"] == pytest.approx(2_100, abs=1e-6)
    assert s["bad_debt_realized"] == pytest.approx(2_100, abs=1e-6)
    assert s["bad_debt_underwater"] == 0 and s["bad_debt"] == s["bad_debt_realized"]
    # The vault's depositors absorb it: total borrows fell by 2,100 with no cash in.
    assert book.vault.total_borrows == fam["exact"]["borrowed"] - 26_900 * USDC - 2_100 * USDC
    assert fam["collateral_withdrawn"] == pytest.approx(fam["collateral_seized"])


def test_ltv_ramp_makes_a_violator_at_a_constant_price():
    # carol: 10 WETH at a constant 2,000 (20,000), 15,500 USDC: healthy at 85% (17,000).
    # At step 1 governance sets 0.70 / 0.75 ramping over 120 s (two steps of 60 s): at
    # step 2 the liquidation LTV is 0.75 + 0.10 x 60 / 120 = 0.80 (16,000 > 15,500,
    # healthy); at step 3 the ramp has ended at 0.75: 15,000 <= 15,500, a violator
    # (HS 0.968, a 3.2% discount: the keeper profits), liquidated. dave (15,000) becomes
    # a violator at 0.75 too (15,000 <= 15,000) but with HS = 1 Euler gives no discount:
    # no keeper takes it at a loss of the gas.
    data = euler_scenario([2000] * 5, [
        {"id": "carol", "deposit": {"WETH": 10}, "borrow": {"USDC": 15_500}},
        {"id": "dave", "deposit": {"WETH": 10}, "borrow": {"USDC": 15_000}}],
        family_agents={"ltv_changes": [{"step": 1, "collateral": "WETH",
                                        "borrow_ltv": "0.70", "liquidation_ltv": "0.75",
                                        "ramp_seconds": 120}]})
    result = run_cascade(data, amplification=False)
    assert result.series["liquidation_ltv"] == pytest.approx([0.85, 0.85, 0.80, 0.75, 0.75])
    assert result.series["liquidations_step"] == [0, 0, 0, 1, 0]
    assert result.series["liquidatable_accounts"] == [0, 0, 0, 2, 1]
    assert result.engine.state.family.account("dave").debt == 15_000 * USDC
    assert result.summary["family"]["ltv_changes"] == [
        {"step": 1, "collateral": "WETH", "accepted": True, "reason": None}]


def test_euler_example_pinned_figures_and_conservation():
    # examples/euler_cascade.toml (seed 5): 300 borrowers, 30M USDC, WETH 2,000 -> 1,450
    # with the WETH LTVs cut to 0.70 / 0.75 (ramp 30 min) at step 4. Pinned from the run
    # (these are the engine's EVK rules on that book; a change means a rule or the
    # book's draw changed): 178 liquidations repaying 12,154,464.300426 USDC and
    # 285,001.610466 USDC socialized by accounts whose last WETH went.
    data = tomllib.loads((EXAMPLES / "euler_cascade.toml").read_text())
    spec, protocol = scenario_spec(data)
    assert runner_class(protocol) is EulerCascadeRunner
    runner = EulerCascadeRunner(spec, protocol, np.random.default_rng(spec.seed))
    runner.run()
    s = runner.summary()
    x = s["family"]["exact"]
    assert s["liquidation_count"] == 178
    assert x["repaid"] == 12_154_464_300_426
    assert x["socialized"] == 285_001_610_466
    assert s["bad_debt_realized"] == pytest.approx(285_001.610466)
    assert s["setup_rejected"] == 0 and s["accounts"] == 300
    # Conservation (exact, base units). The vault: cash is what came in (deposits,
    # repayments) less what went out (borrows); every borrowed asset is still owed,
    # repaid or socialized. The WETH: in accounts, or withdrawn by the keepers.
    v = runner.book_now().vault
    assert v.cash == x["deposited"] + x["repaid"] - x["borrowed"]
    assert x["borrowed"] == v.total_borrows + x["repaid"] + x["socialized"]
    assert x["collateral_in"] == x["collateral_held"] + x["collateral_withdrawn"]
    assert x["collateral_seized"] == x["collateral_withdrawn"]


@pytest.mark.parametrize(("change", "message"), [
    ({"book": {"accounts": 1, "total_debt": 1000, "debt_asset": "WETH"}},
     "book.debt_asset: 'WETH' is not the Euler vault's asset 'USDC'"),
    ({"liquidity": {"WETH": 5}},
     "liquidity.WETH: a Euler v2 protocol takes vault deposits of USDC only"),
    ({"family_agents": {"ltv_changes": [{"step": 1, "collateral": "WETH",
                                         "borrow_ltv": "0.8", "liquidation_ltv": "0.7"}]}},
     "family_agents.ltv_changes.0.borrow_ltv: 0.8 is above liquidation_ltv 0.7"),
    ({"family_agents": {"ltv_changes": [{"step": 9, "collateral": "USDC",
                                         "borrow_ltv": "0.7", "liquidation_ltv": "0.75"}]}},
     "family_agents.ltv_changes.0.step: 9 is after the run's last step (2)"),
    ({"family_agents": {"ltv_changes": [{"step": 1, "collateral": "USDC",
                                         "borrow_ltv": "0.7", "liquidation_ltv": "0.75"}]}},
     "family_agents.ltv_changes.0.collateral: 'USDC' is not a collateral of the vault"),
    ({"family_agents": {"ltv_changes": [{"step": 1, "collateral": "WETH",
                                         "borrow_ltv": "0.70005",
                                         "liquidation_ltv": "0.75"}]}},
     "family_agents.ltv_changes.0.borrow_ltv: 0.70005 has more than 4 decimals"),
])
def test_euler_cascade_bad_input_names_the_field(change: dict[str, Any], message: str):
    data = {**euler_scenario([2000, 1900, 1800], []), **change}
    with pytest.raises(ConfigError) as err:
        scenario_spec(data)
    assert any(p.startswith(message) for p in err.value.problems), err.value.problems


def test_ltv_changes_outside_euler_are_refused():
    data = euler_scenario([2000, 2000], [])
    data["protocol"] = {"preset": "aave-v3"}
    data["family_agents"] = {"ltv_changes": [{"step": 1, "collateral": "WETH",
                                              "borrow_ltv": "0.7", "liquidation_ltv": "0.75"}]}
    with pytest.raises(ConfigError) as err:
        scenario_spec(data)
    assert "family_agents.ltv_changes: setLTV is Euler v2 governance" in str(err.value)


def test_simulate_cli_runs_the_euler_example_and_refuses_bad_input_in_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    import json

    from tests.cli.test_cli import run

    out = tmp_path / "eu"
    code, stdout, _ = run(["simulate", str(EXAMPLES / "euler_cascade.toml"), "--out",
                           str(out), "--json", "--quiet", "--set", "book.accounts=60",
                           "--set", "book.total_debt=6000000"], capsys)
    assert code == 0
    summary = json.loads(stdout)
    assert summary["family"]["family"] == "euler-v2" and summary["liquidation_count"] > 0
    code, stdout, _ = run(["replay", str(out / "events.sqlite"), "--json"], capsys)
    assert code == 0 and json.loads(stdout)["state_hash"] == summary["state_hash"]
    code, _, err = run(["simulate", str(EXAMPLES / "euler_cascade.toml"), "--out",
                        str(tmp_path / "bad"), "--set",
                        "family_agents.ltv_changes.0.liquidation_ltv=0.6"], capsys)
    assert code == 2 and err.count("\n") == 1, err
    assert "family_agents.ltv_changes.0.borrow_ltv: 0.70 is above liquidation_ltv" in err
    assert not (tmp_path / "bad").exists()


def test_euler_scan_through_the_risk_book_equals_is_violator_over_every_account():
    # The scan is the risk book's (a float64 screen, the candidates confirmed by the
    # engine's margin interface); it must list exactly the accounts the EVK's own test
    # (is_violator at the ramping liquidation LTVs) names, at every step of the example
    # (WETH 2,000 -> 1,450, the LTV cut ramping from step 4), while the screen hands the
    # exact rule only part of the book.
    data = tomllib.loads((EXAMPLES / "euler_cascade.toml").read_text())
    spec, protocol = scenario_spec(data)
    runner = EulerCascadeRunner(spec, protocol, np.random.default_rng(spec.seed))
    seen: list[tuple[int, int, int]] = []

    def check(_: int) -> None:
        book, now, price = runner.book_now(), runner.engine.ledger.time, runner.debt_price()
        exact = [a for a in sorted(book.accounts) if euler_rules.is_violator(
            runner.collaterals(a), book.accounts[a].debt, price, now)]
        assert runner.scan() == exact
        assert runner.risk_book is not None
        found = runner.risk_book.scan()
        seen.append((len(exact), len(found.candidates), found.screened))

    runner.run(on_step=check)
    assert any(n for n, _, _ in seen)           # some step has violators
    assert all(c < total for _, c, total in seen)  # the screen skipped accounts each step
