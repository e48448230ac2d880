"""examples/options_crash.toml through the simulator: WETH -25% with ATM vol 60% -> 150%
(logged SetVolSurface events), Derive's portfolio auctions of the put sellers, the bidder
agent (sim/agents/portfolio_bidder.py), the security module and the socialized loss.

The figures are pinned from a run (the engine is deterministic); what they must satisfy
is checked beside them: the money each bid moved is the auction's own arithmetic
(tests/engine/test_portfolio_auction_engine.py works it by hand), the security module
paid what it held and the rest is the bad debt, conservation holds, and the log replays
to the same state hash.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from marginengine.engine import Engine
from marginengine.errors import ConfigError
from marginengine.sim import run_scenario
from marginengine.sim.scenario import load_scenario, scenario_from_dict
from tests.cli.test_cli import EXAMPLES, run

CRASH = EXAMPLES / "options_crash.toml"
USDC = 10**6


def test_options_crash_summary_is_pinned_and_replays(tmp_path: Path) -> None:
    log = tmp_path / "events.sqlite"
    result = run_scenario(load_scenario(CRASH), log)
    summary = result.summary()
    o = summary["options"]
    # Five put sellers (10 x WETH 1800 puts each): s1 rides it out; s3, s4, s5 go below
    # maintenance at -5% / 80% vol, are bid at 86.7% of MtM five minutes later down to
    # their buffer margin; the crash goes on and every seller but s1, and the bidder's
    # own sub-accounts, end in insolvent auctions.
    assert (o["auctions_started"], o["auctions_started_insolvent"],
            o["auctions_finished"], o["bids"]) == (17, 7, 14, 7)
    assert o["auctions_running"] == ["bidder/1", "bidder/2", "bidder/3"]
    assert o["value_liquidated"] == pytest.approx(3_366.197588, abs=1e-6)
    assert o["liquidation_fees"] == pytest.approx(326.568806, abs=1e-6)
    assert o["paid_by_bidders"] == pytest.approx(1_493.807029, abs=1e-6)
    # The security module (1,000 USDC plus the fees) is used up; the rest is socialized.
    assert o["insurance_fund_used"] == pytest.approx(1_000 + 326.568806, abs=1e-6)
    assert o["insurance_fund"] == 0
    assert o["bad_debt"] == pytest.approx(832.400661, abs=1e-6)
    assert summary["bad_debt_realized"] == pytest.approx(832.400661, abs=1e-6)
    # The book's liquidations are its seven bids (no lending or perp liquidation ran),
    # their value the mark-to-market sold: 3,366.197588 USD (8-decimal base units).
    assert summary["liquidation_count"] == o["bids"] == 7
    assert o["value_liquidated_base_units"] == 336_619_758_800
    assert summary["liquidated_value"] == o["value_liquidated"]
    bids = [r for r in o["auction_log"] if r["event"] == "BidPortfolioAuction"]
    assert [(r["step"], r["account"], r["insolvent"]) for r in bids] == [
        (2, "s3", False), (2, "s4", False), (2, "s5", False), (6, "s2", True),
        (7, "s3", True), (7, "s4", True), (7, "s5", True)]
    insolvent = [r for r in bids if r["insolvent"]]
    assert sum(r["security_module_paid"] for r in insolvent) == 1_326_568_806
    assert sum(r["socialized"] for r in insolvent) == 832_400_661
    for r in insolvent:     # the fund pays -price for 100%, what it lacks is printed
        assert r["cash_to_bidder"] == -r["price"] == r["security_module_paid"] + r["socialized"]
    clearing = result.engine.state.options
    assert clearing is not None
    assert clearing.socialized_loss == 832_400_661
    assert clearing.cash_in + clearing.socialized_loss == (
        sum(clearing.cash.values()) + clearing.settlement_dust + clearing.security_module)
    # The vol spike is in the log: one SetVolSurface per step that moves it; the state
    # holds the WETH spots a TWAP settlement may need (derive-pm2: the last 30 minutes).
    assert summary["state_hash"] == (
        "3882a211c2c4b5fa104ed173d388d3aee0cd5c73278c0fc0df7b18ce5f50377d")
    replayed, report = Engine.replay(log)
    assert report.state_hash == replayed.state_hash() == summary["state_hash"]


def test_simulate_cli_prints_the_auction_line_and_writes_the_options_block(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["simulate", str(CRASH), "--out", str(tmp_path / "crash")], capsys)
    assert code == 0, out
    assert "portfolio auctions: 17 started, 14 finished, 7 bids" in out
    assert "socialized 832.40 USD" in out
    summary = json.loads((tmp_path / "crash" / "summary.json").read_text())
    assert summary["options"]["bad_debt"] == pytest.approx(832.400661, abs=1e-6)


def _crash(**changes: Any) -> dict[str, Any]:
    import tomllib
    data = tomllib.loads(CRASH.read_text())
    for path, value in changes.items():
        node = data
        *parents, leaf = path.split(".")
        for p in parents:
            node = node[int(p)] if p.isdigit() else node[p]
        if value is None:
            del node[leaf]
        else:
            node[leaf] = value
    return data


@pytest.mark.parametrize(("changes", "message"), [
    ({"protocol.options": None}, "options: the protocol has no [protocol.options] table"),
    ({"options.expiries.0.underlying": "BTC"}, "options.expiries.0.underlying: unknown asset"),
    ({"options.expiries.0.vol": 0.001}, "options.expiries.0.vol: must be in 0.01..10"),
    ({"options.trades.0.expiry": "60d"}, "options.trades.0.expiry: no [[options.expiries]]"),
    ({"options.trades.0.size": -1}, "options.trades.0.size:"),
    ({"options.cash": {"bad id!": 5}}, "options.cash.bad id!: account id"),
    ({"steps.0.vols": {"WETH": 20}}, "steps.0.vols.WETH: must be in 0.01..10"),
    ({"steps.0.vols": {"USDC": 1}}, "steps.0.vols.USDC: no [[options.expiries]] on USDC"),
    ({"options": None}, "steps.0.vols: needs an [options] section"),
    ({"options.bidder.min_edge": 2}, "options.bidder.min_edge"),
])
def test_bad_options_sections_name_the_field(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        scenario_from_dict(_crash(**changes))
    assert message in str(err.value)


@pytest.mark.parametrize(("preset", "pinned"), [
    # Derive's SRM at mainnet: a short 1800 put (10% out of the money) needs
    # max(15% - 10%, 13%) x 2,000 = 260 per unit on top of its mark for IM, so s3, s4 and
    # s5 cannot sell their 10 puts (the pre-trade check refuses); s2 goes insolvent in
    # the crash (step 6).
    ("derive-srm", ((2, 1, 2, 1), 1_396.341829, 1_044.046314, 464.795515,
                    [(6, "s2", True)])),
    # PMRM v1 at mainnet (IM factor 1.25, 2% of spot per naked short): only s1 sells;
    # it is bid once, solvent, at step 5; no bad debt.
    ("derive-pm1", ((1, 0, 1, 1), 1_055.931271, 0.0, 0.0, [(5, "s1", False)])),
])
def test_options_crash_when_other_derive_manager_then_pinned(
        preset: str, pinned: tuple[Any, ...], tmp_path: Path) -> None:
    counts, liquidated, fund_used, bad_debt, bids = pinned
    scenario = scenario_from_dict(_crash(**{"protocol.options.portfolio_preset": preset}))
    result = run_scenario(scenario, tmp_path / "events.sqlite")
    o = result.summary()["options"]
    assert (o["auctions_started"], o["auctions_started_insolvent"],
            o["auctions_finished"], o["bids"]) == counts
    assert o["value_liquidated"] == pytest.approx(liquidated, abs=1e-6)
    assert o["insurance_fund_used"] == pytest.approx(fund_used, abs=1e-6)
    assert o["bad_debt"] == pytest.approx(bad_debt, abs=1e-6)
    assert [(r["step"], r["account"], r["insolvent"]) for r in o["auction_log"]
            if r["event"] == "BidPortfolioAuction"] == bids
    # The sellers whose trade the manager refused hold no options.
    clearing = result.engine.state.options
    assert clearing is not None
    traded = {"s1"} if preset == "derive-pm1" else {"s1", "s2"}
    assert {a for a in ("s1", "s2", "s3", "s4", "s5") if clearing.positions.get(a)} <= traded
    assert result.engine.portfolio_margin("s1") is not None
    assert result.engine.portfolio_margin("s1").rule == ("SRM" if preset == "derive-srm"
                                                         else "PMRM")


def test_sweep_when_grid_over_derive_managers_then_each_point_is_its_rule(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The portfolio preset is a scenario field like any other: one sweep compares the
    # managers on the same crash (the pins above: 832.40 / 464.80 USD of bad debt).
    out = tmp_path / "sweep"
    code, _, err = run(["sweep", str(CRASH), "--grid",
                        "protocol.options.portfolio_preset=derive-pm2,derive-srm",
                        "--out", str(out), "--quiet"], capsys)
    assert code == 0, err
    points = json.loads((out / "sweep.json").read_text())["points"]
    assert [(p["params"]["protocol.options.portfolio_preset"], round(p["mean_bad_debt"], 6))
            for p in points] == [("derive-pm2", 832.400661), ("derive-srm", 464.795515)]
    # The rows carry the options run fields (sim/options_metrics.py) as summary.json and
    # a Monte Carlo's rows do: the pins above, per manager; the points average them.
    import pyarrow.parquet as pq
    rows = pq.read_table(out / "sweep.parquet").to_pylist()
    assert [(r["options_bids"], r["options_auctions_started"],
             r["options_auctions_insolvent"], round(r["options_bad_debt"], 6),
             round(r["options_security_module_used"], 6),
             round(r["options_value_liquidated"], 6), r["liquidation_count"])
            for r in rows] == [
        (7, 17, 7, 832.400661, 1_326.568806, 3_366.197588, 7),
        (1, 2, 1, 464.795515, 1_044.046314, 1_396.341829, 1)]
    assert [r["options_trades_accepted"] for r in rows] == [1.0, 0.4]
    assert [p["mean_options_bids"] for p in points] == [7, 1]


def test_a_step_past_the_expiry_moves_no_expired_surface() -> None:
    # The engine refuses a surface for an expiry the clock has reached (its series
    # settle); a step's vols past the 30-day expiry therefore send none for it.
    data = _crash()
    data["steps"].append({"label": "past expiry", "advance": "30d", "vols": {"WETH": 1.2}})
    result = run_scenario(scenario_from_dict(data), None)
    assert result.summary()["rejected_actions"] == []
    state = result.engine.state
    assert state.vols == {("WETH", 30 * 86_400): (1_500_000, 0)}   # the last open one
