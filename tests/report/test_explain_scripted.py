"""Why a scripted run's bad debt arose (issue 11): the same explanation (sim/explain.py,
through sim/scripted_explain.py) for a scenario with explicit prices, its report.html and
the Python API's ``explanation``.

The vault is test_explain.py's: 10 WETH owing 12,000 USDC on Aave v3 rules (WETH
threshold 83%, bonus 5% with a protocol fee of 10% of the bonus, docs/presets.md), no
interest, here in explicit steps with the scripted keeper (no gas, no venue: it liquidates
at the oracle price).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from marginengine.config import read_toml
from marginengine.sim.pipeline import run
from tests.cli.test_cli import run as cli
from tests.report.test_explain import AAVE, explained, only_row, vault

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def scripted_vault(prices: list[float], liquidator: dict[str, Any] | None = None
                   ) -> dict[str, Any]:
    """The vault in explicit steps: step 0 (set-up) at 2,000, then one 10-minute step per
    price."""
    return {
        "name": "vault", "protocol": AAVE, "prices": {"WETH": 2000, "USDC": 1},
        "accounts": [{"id": "lp", "deposit": {"USDC": 100_000}},
                     {"id": "vault", "deposit": {"WETH": 10}, "borrow": {"USDC": 12_000}}],
        "liquidator": liquidator or {"id": "keeper"},
        "steps": [{"advance": "10m", "prices": {"WETH": p}} for p in prices],
    }


def test_scripted_gapped_when_price_falls_through_the_bonus_then_same_as_the_cascade():
    # 2,000 -> 1,100 in one step: collateral 11,000 < debt 12,000 when first found (step
    # 2, health 11,000 x 0.83 / 12,000 = 0.76: close factor 100%). The keeper repays
    # 11,000 / 1.05 = 10,476.19 for all the collateral; 1,523.81 is written off. The
    # cascade of the same path (test_explain.py) gives the same row: one implementation.
    result = run(scripted_vault([2000, 1100]), explain=True)
    e = result.explanation
    assert e is not None
    row = only_row(e)
    assert row["cause"] == "gapped"
    assert row["first_liquidatable_step"] == 2
    assert row["collateral_at_first_usd"] == pytest.approx(11_000)
    assert row["debt_at_first_usd"] == pytest.approx(12_000)
    assert row["written_off_usd"] == pytest.approx(1_523.81, abs=0.01)
    assert row["liquidations"] == 1
    assert e["bad_debt_usd"] == pytest.approx(result.summary["bad_debt"])
    assert sum(c["bad_debt_usd"] for c in e["causes"].values()) + e["residual_usd"] == \
        pytest.approx(result.summary["bad_debt"])
    assert abs(e["residual_usd"]) < 0.01
    [keeper] = e["keepers"]
    assert keeper["keeper"] == "keeper" and keeper["liquidations"] == 1
    assert keeper["value_usd"] == pytest.approx(11_000 / 1.05, abs=0.01)
    assert keeper["gas_spent_usd"] == 0
    cascade, _ = explained(vault([2000, 2000, 1100]))
    same = ("cause", "first_liquidatable_step", "collateral_at_first_usd",
            "debt_at_first_usd", "liquidations")
    assert {k: row[k] for k in same} == {k: only_row(cascade)[k] for k in same}
    assert row["bad_debt_usd"] == pytest.approx(only_row(cascade)["bad_debt_usd"], abs=1e-6)
    assert ("1,524 USD from 1 account already under water when first liquidatable"
            in e["sentences"][1])


def test_scripted_no_keeper_when_liquidator_disabled_then_its_own_cause():
    # No keeper: liquidatable above water at 1,400 (step 2: health 14,000 x 0.83 /
    # 12,000 = 0.97, collateral 14,000 > 12,000), never liquidated, 11,000 of collateral
    # against 12,000 at 1,100: 1,000 under water, still liquidatable, no keeper to ask.
    result = run(scripted_vault([2000, 1400, 1100], {"id": "keeper", "enabled": False}),
                 explain=True)
    e = result.explanation
    assert e is not None
    row = only_row(e)
    assert row["cause"] == "no_keeper" and row["liquidations"] == 0
    assert row["first_liquidatable_step"] == 2
    assert row["bad_debt_usd"] == pytest.approx(1_000)
    assert e["keepers"] == []
    assert e["still_liquidatable"] == {"accounts": 1, "reasons": {"no_keeper": 1}}
    assert "1,000 USD from 1 account never liquidated: the run has no keeper" in \
        e["sentences"][1]


def test_scripted_explanation_changes_no_figure_of_the_run():
    # The recording only reads: the same summary (state hash, bad debt, liquidations) with
    # and without the explanation.
    path = EXAMPLES / "lending_walkthrough.toml"
    plain = run(read_toml(path), source=str(path))
    explained_run = run(read_toml(path), source=str(path), explain=True)
    assert plain.explanation is None
    assert explained_run.summary == plain.summary
    assert explained_run.series == plain.series


def test_options_crash_when_explained_then_insolvent_portfolio_auctions_carry_the_bad_debt():
    # examples/options_crash.toml: four insolvent portfolio auctions (s2 to s5) whose bids
    # the security module could not pay in full; what it could not pay was socialized:
    # the options bad debt, 832.400661 USD (summary.json's options.bad_debt). Each
    # account's bad debt is its bids' socialized amounts in the auction log.
    path = EXAMPLES / "options_crash.toml"
    result = run(read_toml(path), source=str(path), explain=True)
    e = result.explanation
    assert e is not None
    options = result.summary["options"]
    socialized: dict[str, float] = {}
    for r in options["auction_log"]:
        if r["event"] == "BidPortfolioAuction" and r["socialized"]:
            socialized[r["account"]] = socialized.get(r["account"], 0) + r["socialized"] / 1e6
    assert sorted(socialized) == ["s2", "s3", "s4", "s5"]
    assert {r["account"]: r["bad_debt_usd"] for r in e["accounts"]} == pytest.approx(
        socialized)
    assert e["causes"] == {"portfolio_insolvent": {
        "accounts": 4, "bad_debt_usd": pytest.approx(options["bad_debt"])}}
    assert e["bad_debt_usd"] == pytest.approx(result.summary["bad_debt"]) == \
        pytest.approx(832.400661)
    # The bidders' breakdown: one row per bidding account, each with its bid.
    bidders = [k for k in e["keepers"] if k["keeper"].startswith("bidder/")]
    assert len(bidders) == options["bids"] == 7
    assert sum(k["value_usd"] for k in bidders) == pytest.approx(options["value_liquidated"],
                                                               abs=1e-5)


def test_perp_crash_when_explained_then_keeper_tally_is_the_perp_liquidations():
    path = EXAMPLES / "perp_crash.toml"
    result = run(read_toml(path), source=str(path), explain=True)
    e = result.explanation
    assert e is not None
    [keeper] = e["keepers"]
    assert keeper["liquidations"] == len(result.summary["perp_liquidations"]) == 5
    assert keeper["value_usd"] == pytest.approx(result.summary["perp_liquidated_volume"])
    assert e["causes"] == {} and e["sentences"][0].startswith("No bad debt")


def test_cli_report_of_a_scripted_scenario_says_why_from_another_cwd(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # Regression (issue 11): a scripted run's report.html had no explanation. The
    # walkthrough's bad debt, 2,947.43 USD, is bob's and erin's: liquidated at the 50%
    # close factor once a step, they ran out of collateral before their debt.
    monkeypatch.chdir(tmp_path)
    code, stdout, stderr = cli(["simulate", str(EXAMPLES / "lending_walkthrough.toml"),
                                "--out", "walk", "--json", "--quiet"], capsys)
    assert code == 0, stderr
    summary = json.loads(stdout)
    assert round(summary["bad_debt"], 2) == 2947.43           # docs/api.md's figure
    page = (tmp_path / "walk" / "report.html").read_text()
    assert "Why the bad debt arose" in page
    assert ("2,947 USD from 2 accounts liquidated in part (4 liquidations) but the price "
            "fell through the bonus before keepers were done.") in page
    assert "<h2>Largest losses</h2>" in page and "<td>bob</td><td>outpaced</td>" in page
    assert "<h2>Keepers</h2>" in page
