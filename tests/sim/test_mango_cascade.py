"""Mango v4 token accounts in the cascade simulator (sim/mango_cascade.py):
token_liq_with_token pays in the liability that brings the liquidation-end health to zero
(blockworks-foundation/mango-v4 at 1303a4a16228eb1e8e8d4f0eef724eaf63310c86,
programs/mango-v4/src/instructions/token_liq_with_token.rs ``liquidation_action``), the
asset at the oracle price times the fee factor, the example's pinned figures and exact
conservation, bad input."""

from __future__ import annotations

import math
import tomllib
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from marginengine.engine import MangoDeposit, MangoWithdraw
from marginengine.errors import ConfigError
from marginengine.margin import mango as mango_rules
from marginengine.sim.cascade import run_cascade, runner_class, scenario_spec
from marginengine.sim.explain import RunObserver, explain
from marginengine.sim.mango_cascade import MAINT, MangoCascadeRunner

SOL = 10**9
USDC = 10**6
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
MANGO = {"quote": "USDC", "tokens": {
    "USDC": {"init_asset_weight": "1", "maint_asset_weight": "1",
             "init_liab_weight": "1.05", "maint_liab_weight": "1.025"},
    "SOL": {"init_asset_weight": "0.8", "maint_asset_weight": "0.9",
            "init_liab_weight": "1.2", "maint_liab_weight": "1.1", "liquidation_fee": "0.02"}}}
MARKETS = {"USDC": {"decimals": 6, "collateral": False, "borrowable": False},
           "SOL": {"decimals": 9, "collateral": False, "borrowable": False}}


def mango_scenario(path: list[int], accounts: list[dict[str, Any]]) -> dict[str, Any]:
    # The mango-v4 preset's weights with a 2% SOL liquidation fee. One safe book account
    # (10x); the accounts under test explicit; a deep venue without a fee that follows the
    # path; a keeper with 1M USDC deposited.
    return {"kind": "cascade", "name": "t", "steps": len(path) - 1, "step_seconds": 60,
            "protocol": {"preset": "mango-v4", "markets": MARKETS, "mango": MANGO},
            "prices": {"USDC": 1},
            "price": {"asset": "SOL", "process": "path", "path": path},
            "venue": {"base_reserve": 10_000_000, "fee_bps": 0, "arbitrage_speed": 1},
            "book": {"accounts": 1, "whales": 0, "total_debt": 1000,
                     "collateralization_median": 10, "collateralization_sigma": 0,
                     "min_collateralization": 10, "debt_asset": "USDC"},
            "accounts": accounts,
            "keepers": [{"id": "keeper", "capital": 1_000_000}], "gas": {"gwei": 1}}


def test_liquidation_brings_liquidation_end_health_to_zero_at_the_fee():
    # alice: 100 SOL at 100, 7,600 USDC borrowed (init: 8,000 - 7,600 x 1.05 = 20 >= 0).
    # At 85: maint 8,500 x 0.9 - 7,600 x 1.025 = -140 < 0, liquidatable; liquidation-end
    # health 8,500 x 0.8 - 7,600 x 1.05 = -1,180. Each USDC paid in gains 1.05 and costs
    # 1.02 x 0.8 of weighted SOL: x = 1,180 / (1.05 - 0.816) = 5,042.735 USDC for
    # x x 1.02 / 85 = 60.5128 SOL.
    data = mango_scenario([100, 85], [
        {"id": "alice", "deposit": {"SOL": 100}, "borrow": {"USDC": 7_600}}])
    result = run_cascade(data, amplification=False)
    fam = result.summary["family"]
    assert result.series["liquidations_step"] == [0, 1]
    x = fam["exact"]["liability_transferred"]
    assert x / USDC == pytest.approx(1180 / 0.234, rel=1e-6)
    assert fam["exact"]["collateral_transferred"] / SOL == pytest.approx(
        x / USDC * 1.02 / 85, rel=1e-6)
    alice = result.engine.state.family.account("alice")
    assert alice.tokens["USDC"] == -7_600 * USDC + x
    # pinned: the weights and fee are Mango's f32 (0.8 and 0.02 a little above and below,
    # 1.05 a little above), so x is 0.7 native below the decimal 5,042.735042.
    assert (x, fam["exact"]["collateral_transferred"]) == (5_042_734_342, 60_512_812_077)
    # back above -1 native USDC of liquidation-end health: no longer being liquidated
    assert alice.being_liquidated is False and fam["accounts_liquidatable"] == 0
    assert result.summary["bad_debt"] == 0


def test_mango_example_pinned_figures_and_conservation():
    # examples/mango_cascade.toml (seed 11): 200 accounts, 8M USDC borrowed against SOL,
    # SOL 150 -> 105 on a pool that lags the oracle. Pinned from the run (Mango's rules on
    # that book; a change means a rule or the draw changed): 162 liquidations paying in
    # 2,736,729.190962 USDC (2,736,729.482505 with the weights from f64 before Mango's
    # f32); once the pool trades more than the 2% fee under the oracle, liquidating loses
    # money: 83 accounts stay liquidatable and 45,281.77 USD of debt
    # ends above its collateral.
    data = tomllib.loads((EXAMPLES / "mango_cascade.toml").read_text())
    spec, protocol = scenario_spec(data)
    assert runner_class(protocol) is MangoCascadeRunner
    runner = MangoCascadeRunner(spec, protocol, np.random.default_rng(spec.seed))
    runner.run()
    s = runner.summary()
    x = s["family"]["exact"]
    assert s["liquidation_count"] == 162
    assert x["liability_transferred"] == 2_736_729_190_962
    assert s["family"]["accounts_liquidatable"] == 83
    assert s["bad_debt_underwater"] == pytest.approx(45_281.77053745)
    # Conservation (native units): no quote enters or leaves but the keepers' deposits
    # and the borrows; the SOL is in the accounts, the bank's fees or was withdrawn.
    assert x["quote_balances"] == x["keeper_deposits"] - x["borrowed"]
    assert x["collateral_in"] == (x["collateral_balances"] + x["collateral_fees"]
                                  + x["collateral_withdrawn"])
    assert x["collateral_to_keepers"] == x["collateral_withdrawn"]


def test_mango_example_when_explained_then_bulk_cause_is_the_bad_debt():
    # Regression (issue 11 item 5): `marginengine simulate examples/mango_cascade.toml`
    # (which explains the run for report.html) died with "'MangoCascadeRunner' object has
    # no attribute 'book'": Mango was not among explain.FAMILIES, whose runners keep no
    # lending risk book. Its bad debt is now the bulk cause, the 45,281.77 USD above.
    data = tomllib.loads((EXAMPLES / "mango_cascade.toml").read_text())
    result = run_cascade(data, amplification=False, explain_run=True)
    e = result.explanation
    assert e is not None
    assert result.summary["bad_debt"] == pytest.approx(45_281.77053745)
    assert e["causes"] == {"unclassified": {"accounts": 0, "bad_debt_usd": pytest.approx(
        45_281.77053745)}}
    assert e["sentences"][1].startswith("45,282 USD in a Liquity, Morpho, Euler, Drift or "
                                        "Mango protocol")


@pytest.mark.parametrize(("change", "message"), [
    ({"liquidity": {"USDC": 5}}, "liquidity.USDC: a Mango v4 protocol has no lenders"),
    ({"book": {"accounts": 1, "total_debt": 1000, "debt_asset": "SOL"}},
     "book.debt_asset: 'SOL' is not the Mango quote 'USDC'"),
    ({"price": {"asset": "USDC", "process": "path", "path": [1, 1]}},
     "price.asset: 'USDC' is not a Mango bank besides the quote"),
    ({"accounts": [{"id": "a", "deposit": {"SOL": 1}, "borrow": {"SOL": 1}}]},
     "accounts.0.borrow.SOL: a Mango v4 account borrows USDC only"),
])
def test_mango_cascade_bad_input_names_the_field(change: dict[str, Any], message: str):
    data = {**mango_scenario([100, 90], []), **change}
    with pytest.raises(ConfigError) as err:
        scenario_spec(data)
    assert any(p.startswith(message) for p in err.value.problems), err.value.problems


def test_an_account_left_bankrupt_is_settled_by_the_insurance_fund_then_socialized():
    # bob: 100 SOL at 100, 7,600 USDC borrowed; SOL gaps to 70: 7,000 of SOL for 7,600
    # owed. token_liq_with_token takes all the SOL for 7,000 / 1.02 = 6,862.745 USDC
    # (liab_possible binds), which leaves 737.255 USDC owed and no asset: bankrupt. The
    # keeper calls token_liq_bankruptcy: the 500 USDC fund repays 500, the remaining
    # 237.255 is socialized over the USDC bank's depositors: the keeper's 1M deposit (less
    # what it paid in) and 3M outside, in proportion.
    data = mango_scenario([100, 70], [
        {"id": "bob", "deposit": {"SOL": 100}, "borrow": {"USDC": 7_600}}])
    data["protocol"]["mango"] = {**MANGO, "insurance_fund": 500, "tokens": {
        **MANGO["tokens"], "USDC": {**MANGO["tokens"]["USDC"], "deposits": 3_000_000}}}
    result = run_cascade(data, amplification=False)
    fam = result.summary["family"]
    x = fam["exact"]
    assert fam["bankruptcies"] == 1 and x["insurance_paid"] == 500 * USDC
    paid = x["liability_transferred"]
    # 7,000 / (1 + f32(0.02)), rounded down: 6,862.745101 USDC (f32(0.02) is a little
    # below 0.02, so a little more than 7,000 / 1.02 = 6,862.745098)
    fee = Fraction(mango_rules.f32_nearest("0.02"))
    assert paid == math.floor(7_000 * USDC / (1 + fee)) == 6_862_745_101
    assert x["socialized_loss"] == 7_600 * USDC - paid - 500 * USDC
    keeper_deposit = 1_000_000 * USDC - paid
    outside = x["socialized_loss"] * 3_000_000 * USDC / (3_000_000 * USDC + keeper_deposit)
    assert x["socialized_outside"] == pytest.approx(outside, abs=1)
    bob = result.engine.state.family.account("bob")
    assert bob.tokens.get("USDC", 0) == 0 and not bob.being_liquidated
    assert result.summary["bad_debt_realized"] == pytest.approx(
        (x["insurance_paid"] + x["socialized_loss"]) / USDC, abs=1e-6)
    assert result.summary["insurance_fund_drawdown"] == 500
    assert x["quote_balances"] == (x["keeper_deposits"] - x["borrowed"] + x["insurance_paid"]
                                   + x["socialized_outside"])


def test_mango_bankruptcy_example_pinned_figures_and_conservation():
    # examples/mango_bankruptcy_cascade.toml (seed 11): the book of mango_cascade.toml,
    # SOL gapping 150 -> 100. Pinned from the run (Mango's rules on that book; a change
    # means a rule or the draw changed): 101 liquidations, 80 of them leave the account
    # bankrupt; the 25,000 USDC fund is exhausted and 153,541.384990 USDC is socialized,
    # 132,625.234146 of it on the 20M of outside deposits (the rest on the keeper's).
    # With the weights from f64 (before Mango's f32): 82, 154,778.187592, 133,709.581352.
    data = tomllib.loads((EXAMPLES / "mango_bankruptcy_cascade.toml").read_text())
    spec, protocol = scenario_spec(data)
    runner = MangoCascadeRunner(spec, protocol, np.random.default_rng(spec.seed))
    runner.run()
    s = runner.summary()
    fam, x = s["family"], s["family"]["exact"]
    assert s["liquidation_count"] == 101 and fam["bankruptcies"] == 80
    assert x["insurance_paid"] == 25_000 * USDC == s["insurance_fund_drawdown"] * USDC
    assert x["socialized_loss"] == 153_541_384_990
    assert x["socialized_outside"] == 132_625_234_146
    assert s["bad_debt_realized"] == pytest.approx(178_541.384990)
    assert x["quote_balances"] == (x["keeper_deposits"] - x["borrowed"] + x["insurance_paid"]
                                   + x["socialized_outside"])
    assert x["collateral_in"] == (x["collateral_balances"] + x["collateral_fees"]
                                  + x["collateral_withdrawn"])
    book = runner.book_now()
    assert book.socialized == {"USDC": x["socialized_loss"]}
    assert book.outside_loss == {"USDC": x["socialized_outside"]}
    assert book.deposit_index["USDC"] < 1 << 48


def test_a_mango_run_is_explained_as_a_family_in_bulk():
    # Regression: the report's explanation (run_cascade(explain_run=True), which
    # `marginengine simulate` asks for) read a lending risk book the Mango runner does not
    # keep (AttributeError); it is explained in bulk like the other families.
    data = mango_scenario([100, 70], [
        {"id": "bob", "deposit": {"SOL": 100}, "borrow": {"USDC": 7_600}}])
    result = run_cascade(data, amplification=False, explain_run=True)
    assert result.explanation is not None
    assert result.explanation["bad_debt_usd"] == pytest.approx(
        result.summary["bad_debt"], abs=1e-6)


def test_an_account_negative_only_through_a_non_quote_borrow_is_listed_liquidatable():
    # Regression: the scan asked check_liquidatable only of accounts owing the quote, so
    # carol (no USDC borrow) was never listed. carol: 100 SOL at 100 and 3.3 ETH borrowed
    # at 2,000 (init 8,000 - 6,600 x 1.2 = 80 >= 0). SOL at 75: maint 7,500 x 0.9 -
    # 6,600 x 1.1 = -510 native-quote-weighted USD < 0: Mango's rule lists her
    # (mango-v4 1303a4a, health/account_retriever + token_liq_with_token.rs
    # check_liquidatable: any negative maint health). The keepers hold only USDC to pay
    # in, so they leave her: the end reason says why.
    eth = {"init_asset_weight": "0.8", "maint_asset_weight": "0.9",
           "init_liab_weight": "1.2", "maint_liab_weight": "1.1"}
    data = mango_scenario([100, 75], [])
    data["protocol"]["markets"] = {**MARKETS, "ETH": {"decimals": 8, "collateral": False,
                                                      "borrowable": False}}
    data["protocol"]["mango"] = {**MANGO, "tokens": {**MANGO["tokens"], "ETH": eth}}
    data["prices"] = {"USDC": 1, "ETH": 2000}
    spec, protocol = scenario_spec(data)

    class WithCarol(MangoCascadeRunner):
        def setup(self) -> None:
            super().setup()
            assert self.apply(MangoDeposit("carol", "SOL", 100 * SOL)).accepted
            assert self.apply(MangoWithdraw("carol", "ETH", 330_000_000)).accepted

    runner = WithCarol(spec, protocol, np.random.default_rng(spec.seed))
    observer = RunObserver()
    observer.attach(runner)
    runner.run()
    maint = runner.health("carol", MAINT)
    # 7,500 x 0.9 - 6,600 x 1.1 = -510 with the weights as Mango's f32 (-510.000336)
    w09, w11 = (float(mango_rules.f32_nearest(w)) for w in ("0.9", "1.1"))
    deficit = -(7_500 * w09 - 6_600 * w11)
    assert deficit == pytest.approx(510.000336, abs=1e-6)
    assert maint / mango_rules.ONE / USDC == pytest.approx(-deficit, rel=1e-9)
    assert runner.scan() == ["carol"]
    assert runner.series["liquidatable_accounts"] == [0, 1]
    assert runner.series["maint_health_deficit"][1] == pytest.approx(deficit, rel=1e-9)
    assert runner.liquidation_count == 0
    assert runner.end_reasons(1) == {"carol": "no_quote_debt"}
    s = runner.summary()
    assert s["family"]["accounts_liquidatable"] == 1
    e = explain(runner, observer)
    assert e["still_liquidatable"]["reasons"] == {"no_quote_debt": 1}
    assert any("1 owing no quote" in t for t in e["sentences"])
