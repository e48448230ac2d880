"""Liquity v1 and Morpho Blue in the cascade simulator (sim/family_cascade.py): keepers
liquidate through the engine's family events under a price path, alone or beside a
lending protocol on the same venue.

The small scenarios are worked by hand with the families' own rules: Liquity's
(liquity/dev@39f1f7f8 TroveManager.sol: offset min(debt, LUSD in the pool), the rest
redistributed; recovery mode below TCR 150% with the 110% cap; 200 LUSD and 0.5% of the
collateral to the liquidator; the last trove never liquidated) and Morpho's
(morpho-org/morpho-blue@3085651a src/Morpho.sol liquidate: LIF min(1.15, 1/(1 - 0.3 x
(1 - LLTV))), repaid rounded up, bad debt realized when the collateral runs out).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from marginengine.errors import ConfigError
from marginengine.liquidation import morpho as morpho_liq
from marginengine.margin import morpho as morpho_rules
from marginengine.scan import LiquityRiskBook
from marginengine.sim.cascade import run_cascade, runner_class, scenario_spec
from marginengine.sim.family_cascade import LiquityCascadeRunner, MorphoCascadeRunner

E = 10**18
USDC = 10**6
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def liquity_scenario(path: list[int], accounts: list[dict[str, Any]],
                     liquidity: dict[str, int], preset: str = "liquity-v1",
                     sell: bool = False, book_debt: int = 2000) -> dict[str, Any]:
    # The book is one safe trove (``book_debt`` LUSD drawn against 10x: ICR far above
    # any line);
    # the troves under test are explicit accounts, opened after it in the listed order.
    return {"kind": "cascade", "name": "t", "steps": len(path) - 1, "step_seconds": 60,
            "protocol": {"preset": preset},
            "price": {"asset": "ETH", "process": "path", "path": path},
            # A deep venue that follows the path at once, without a fee.
            "venue": {"base_reserve": 1_000_000, "fee_bps": 0, "arbitrage_speed": 1},
            "book": {"accounts": 1, "whales": 0, "total_debt": book_debt,
                     "collateralization_median": 10, "collateralization_sigma": 0,
                     "min_collateralization": 10, "debt_asset": "LUSD"},
            "accounts": accounts, "liquidity": liquidity,
            "family_agents": {"sell_pool_gains": sell}, "gas": {"gwei": 20}}


def test_liquity_normal_mode_offset_then_redistribution_by_hand():
    # t1: 10 ETH, 12,000 drawn -> debt 12,000 + 60 fee + 200 = 12,260; t2: 20 ETH,
    # 25,000 -> 25,325. At 1,300 ICRs are 106.0% and 102.7% (< 110%); the book's trove
    # (500 ETH, 100,700 debt) holds the TCR at 530 x 1,300 / 138,285 = 498%: normal mode.
    # The keeper's batch takes t2 first (lowest ICR): 15,000 offset (all the pool),
    # 10,325 redistributed; then t1: the pool is empty, all 12,260 redistributed (batch
    # totals: the redistribution happens at the end).
    data = liquity_scenario([2000, 2000, 1300],
                            [{"id": "t1", "deposit": {"ETH": 10}, "borrow": {"LUSD": 12_000}},
                             {"id": "t2", "deposit": {"ETH": 20}, "borrow": {"LUSD": 25_000}}],
                            {"LUSD": 15_000}, book_debt=100_000)
    result = run_cascade(data, amplification=False)
    s, fam = result.summary, result.summary["family"]
    assert s["liquidation_count"] == 2 and s["accounts"] == 3
    assert result.series["liquidations_step"] == [0, 0, 2]
    assert result.series["recovery_mode"] == [0.0, 0.0, 0.0]
    assert fam["debt_offset"] == 15_000 and fam["debt_redistributed"] == 22_585
    assert fam["stability_pool_end"] == 0 and fam["troves_open"] == 1
    # Gas compensation: 2 x 200 LUSD and 0.5% of 20 and of 10 ETH.
    assert fam["gas_compensation_lusd"] == 400 and fam["gas_compensation_eth"] == 0.15
    sys = result.engine.state.liquity
    assert sys is not None
    # The pool's ETH: t2's 19.9 ETH (after gas compensation) x 15,000 / 25,325 (rounded
    # down, as TroveManager's collToSendToSP), the depositor's to claim (it holds).
    assert sys.pool.eth == 199 * E // 10 * 15_000 // 25_325
    # The last trove takes the whole redistribution: 22,585 LUSD of debt and
    # 19.9 - 11.786... + 9.95 ETH of collateral, pending in the default pool.
    assert sys.default_debt == 22_585 * E
    assert sys.default_coll == 199 * E // 10 - sys.pool.eth + 995 * E // 100
    # The keeper: 400 LUSD and 0.15 ETH sold at 1,300 (the deep venue barely moves; the
    # pool's depositor holds its gain), less 2 x 300k gas at 20 gwei (at ETH 1,300).
    gas = 2 * 300_000 * 20e-9 * 1300
    assert s["liquidator_profit"] == pytest.approx(400 + 0.15 * 1300 - gas, rel=1e-5)


def test_liquity_2025_pool_keeps_one_lusd():
    # liquity/dev 800e820f: the offset leaves 1 LUSD in the pool, so 14,999 is offset and
    # 1 LUSD more redistributed than under the deployed rule.
    data = liquity_scenario([2000, 1300],
                            [{"id": "t1", "deposit": {"ETH": 10}, "borrow": {"LUSD": 12_000}},
                             {"id": "t2", "deposit": {"ETH": 20}, "borrow": {"LUSD": 25_000}}],
                            {"LUSD": 15_000}, preset="liquity-v1-2025", book_debt=100_000)
    fam = run_cascade(data, amplification=False).summary["family"]
    assert fam["debt_offset"] == 14_999 and fam["debt_redistributed"] == 22_586
    assert fam["stability_pool_end"] == 1


RECOVERY = [{"id": "whale", "deposit": {"ETH": 100}, "borrow": {"LUSD": 100_000}},
            {"id": "t1", "deposit": {"ETH": 10}, "borrow": {"LUSD": 12_000}},
            {"id": "t2", "deposit": {"ETH": 20}, "borrow": {"LUSD": 25_000}},
            {"id": "t3", "deposit": {"ETH": 30}, "borrow": {"LUSD": 36_000}},
            {"id": "sp1", "deposit": {"LUSD": 20_000}},
            {"id": "sp2", "deposit": {"LUSD": 10_000}}]


def test_liquity_recovery_mode_crash_caps_at_110_and_keeps_the_last_trove():
    # examples/families/liquity_recovery_crash.toml's troves and pool, plus the book's
    # trove (10 ETH, 2,210 debt), through ETH 1,500, 1,300, 1,100. At 1,500 the TCR is
    # 170 x 1,500 / 176,875 = 144.2% < 150%: recovery mode. Troves below it: t2 (118.5%),
    # t1 (122.3%), t3 (123.7%); the batch takes t2 first, at the 110% cap (the pool
    # covers its 25,325): 25,325 x 1.1 / 1,500 = 18.5716... ETH offset, the rest of its
    # 20 ETH a collateral surplus; the TCR then rises above t1's and t3's ICRs, so they
    # are skipped. At 1,300 and 1,100 the rest go, the pool is spent (30,000 offset) and
    # the remainder redistributed; the book's trove is the last and is never liquidated.
    data = liquity_scenario([2000, 1500, 1300, 1100], RECOVERY, {})
    result = run_cascade(data, amplification=False)
    fam = result.summary["family"]
    assert result.series["recovery_mode"] == [0.0, 1.0, 1.0, 1.0]
    assert result.series["liquidations_step"] == [0, 1, 2, 1]
    # The count is the engine's rule (liquity_system.is_liquidatable, each trove alone):
    # at 1,500 t2 and t1 (their 25,325 and 12,260 fit in the pool's 30,000), not t3: its
    # 36,380 is more than the pool holds and its 123.7% is above 110%, so
    # _liquidateRecoveryMode skips it (the cascade's own cut-off used to count it: 3).
    assert result.series["liquidatable_accounts"] == [0, 2, 2, 1]
    sys = result.engine.state.liquity
    assert sys is not None and list(sys.troves) == ["vault00000"]
    capped = 25_325 * E * (11 * E // 10) // (1_500 * E)   # coll at the 110% cap
    assert sys.surplus == {"t2": 20 * E - capped}
    assert fam["collateral_surplus"] == pytest.approx(1.428333333333, abs=1e-12)
    assert fam["debt_offset"] == 30_000 and fam["stability_pool_end"] == 0
    assert fam["gas_compensation_lusd"] == 800 and fam["recovery_mode_steps"] == 3
    # Debt is conserved: what the troves owed at opening is what the system still owes
    # (open troves and the default pool) plus what the pool burned.
    opened = 100_700 + 12_260 + 25_325 + 36_380 + 2_210
    assert sys.system_debt + 30_000 * E == opened * E
    # No debt written off: what the pool could not absorb is the other troves' now.
    assert result.summary["bad_debt_realized"] == 0


def test_liquity_example_conserves_eth_lusd_and_the_pool():
    data = tomllib.loads((EXAMPLES / "liquity_cascade.toml").read_text())
    spec, protocol = scenario_spec(data)
    runner = LiquityCascadeRunner(spec, protocol, np.random.default_rng(spec.seed))
    runner.run()
    sys = runner.system()
    fam = runner.summary()["family"]
    # ETH: every trove's collateral is in the pools, the stability pool (unclaimed), sold
    # by its depositors, a surplus to claim, or paid as gas compensation.
    assert runner.troves_opened_coll == (sys.system_coll + sys.pool.eth + runner.pool_eth_sold
                                         + sum(sys.surplus.values()) + sys.gas_coll)
    # LUSD debt: what was opened is still owed or was burned by the pool's offsets.
    assert runner.troves_opened_debt == sys.system_debt + runner.offset_debt
    # The pool lost exactly the debt it offset (totalLUSDDeposits -= debtToOffset).
    assert sys.pool.total_deposits == runner.pool_deposited - runner.offset_debt
    # The crash spends the pool and enters recovery mode; the rest is redistributed.
    assert fam["stability_pool_end"] == 0 and fam["recovery_mode_steps"] > 0
    assert fam["debt_redistributed"] > 0 and fam["lowest_tcr"] < 1.5
    assert runner.summary()["liquidation_count"] == len(runner.borrowers) - fam["troves_open"]
    # The cascade counts what the engine would liquidate, as `marginengine scan` does: at
    # the end 72 troves are below the 118.96% TCR, none liquidatable (the pool is empty
    # and each is above 110%). The cascade's own cut-off, without the pool's capacity,
    # counted all 72.
    found = LiquityRiskBook(runner.engine).scan()
    assert found.recovery_mode and len(found.candidates) == 72 and found.liquidatable == []
    assert runner.series["liquidatable_accounts"][-1] == 0
    assert runner.scan() == []


def morpho_scenario(path: list[int], accounts: list[dict[str, Any]]) -> dict[str, Any]:
    # One WETH/USDC market (the preset's, LLTV 86%); the book is one safe borrower.
    return {"kind": "cascade", "name": "m", "steps": len(path) - 1, "step_seconds": 60,
            "protocol": {"preset": "morpho-blue"},
            "price": {"asset": "WETH", "process": "path", "path": path},
            "venue": {"base_reserve": 1_000_000, "fee_bps": 0},
            "book": {"accounts": 1, "whales": 0, "total_debt": 1000,
                     "collateralization_median": 10, "collateralization_sigma": 0,
                     "min_collateralization": 10, "debt_asset": "USDC"},
            "accounts": accounts, "liquidity": {"USDC": 1_000_000},
            "keepers": [{"id": "keeper", "flash_loan": True}], "gas": {"gwei": 20}}


def test_morpho_full_repay_then_bad_debt_realized_by_hand():
    # carol: 10 WETH, 17,000 USDC (LTV 85% at 2,000); erin: 10 WETH, 15,000 (75%).
    # At 1,800 carol's LTV is 94.4% > 86%: all her shares repaid (17,000), seizing
    # 17,000 x LIF / 1,800 WETH. At 1,400 erin's 15,000 is above her 14,000 of
    # collateral: all 10 WETH seized, repaying 14,000 / LIF = 13,412.000001 (rounded up),
    # and 1,587.999999 realized as bad debt across the suppliers.
    data = morpho_scenario([2000, 1800, 1400], [
        {"id": "carol", "deposit": {"WETH": 10}, "borrow": {"USDC": 17_000}},
        {"id": "erin", "deposit": {"WETH": 10}, "borrow": {"USDC": 15_000}}])
    result = run_cascade(data, amplification=False)
    s, fam = result.summary, result.summary["family"]
    assert result.series["liquidations_step"] == [0, 1, 1]
    lif = morpho_liq.liquidation_incentive_factor(86 * 10**16)
    assert lif == 1_043841336116910229
    oracle_1800 = 1800 * 10**24            # 1,800 x 1e6 x 1e36 / 1e18
    seized_carol = morpho_rules.mul_div_down(morpho_rules.w_mul_down(17_000 * USDC, lif),
                                             10**36, oracle_1800)
    # 17,000e6 x 1.0438... = 17,745,302,713 (down); x 1e36 / 1,800e24 (down).
    assert seized_carol == 9_858_501_507_222_222_222
    book = result.engine.state.morpho["WETH/USDC"]
    assert book.position("carol").collateral == 10 * 10**18 - seized_carol
    assert book.position("carol").borrow_shares == 0
    assert fam["repaid"] == pytest.approx(17_000 + 13_412.000001, abs=1e-6)
    assert s["bad_debt_realized"] == pytest.approx(1_587.999999, abs=1e-6)
    assert fam["bad_debt_assets"] == pytest.approx(1_587.999999, abs=1e-6)
    # Realized across the suppliers: the market's supply fell by exactly the bad debt.
    assert book.market.total_supply_assets == 1_000_000 * USDC - 1_587_999_999
    assert book.position("erin") == morpho_rules.Position()
    assert s["bad_debt_underwater"] == 0 and s["bad_debt"] == s["bad_debt_realized"]


@pytest.mark.parametrize(("keeper", "reason"), [
    ({"min_profit": 10**9}, "gas_cost"),      # pays before gas and the minimum, not after
    ({"latency": 5}, "would_pay"),            # it pays; the keeper had not seen it long enough
    ({"max_gas_gwei": 10}, "gas_blocked"),    # gas is 20 gwei, above its limit
])
def test_morpho_end_reasons_ask_the_keepers_decision_again(keeper: dict[str, Any],
                                                            reason: str):
    # carol: 10 WETH, 17,000 USDC; at 1,800 her LTV is 94.4% > 86%: liquidatable, and
    # seizing 9.8585 WETH (worth 17,745 on the deep venue) for 17,000 pays 745 before gas.
    # Each keeper below does not liquidate her; the explanation says why.
    data = morpho_scenario([2000, 1800], [
        {"id": "carol", "deposit": {"WETH": 10}, "borrow": {"USDC": 17_000}}])
    data["keepers"] = [{"id": "keeper", "flash_loan": True, **keeper}]
    result = run_cascade(data, amplification=False, explain_run=True)
    assert result.summary["liquidation_count"] == 0
    assert result.explanation is not None
    assert result.explanation["still_liquidatable"] == {
        "accounts": 1, "reasons": {reason: 1}, "underwater": 0}


def test_morpho_example_conserves_loan_and_collateral():
    data = tomllib.loads((EXAMPLES / "morpho_cascade.toml").read_text())
    spec, protocol = scenario_spec(data)
    runner = MorphoCascadeRunner(spec, protocol, np.random.default_rng(spec.seed))
    runner.run()
    book = runner.book_now()
    m = book.market
    # The market's cash: supplied - borrowed + repaid (interest and bad debt move the
    # totals, not the cash).
    assert m.total_supply_assets - m.total_borrow_assets == (runner.supplied - runner.borrowed
                                                             + runner.repaid)
    # Collateral: in positions or seized.
    assert runner.collateral_in == sum(p.collateral for p in book.positions.values()) \
        + runner.seized
    s = runner.summary()
    assert s["bad_debt_realized"] > 0 and s["liquidation_count"] > 0


def test_families_share_the_venue_with_a_lending_protocol():
    data = tomllib.loads((EXAMPLES / "families_cascade.toml").read_text())
    result = run_cascade(data, amplification=False)
    per = result.summary["protocols"]
    assert list(per) == ["aave", "liquity", "morpho"]
    assert per["liquity"]["family"]["family"] == "liquity-v1"
    assert per["morpho"]["family"]["family"] == "morpho-blue"
    assert all(p["liquidation_count"] > 0 for p in per.values())
    assert result.summary["liquidation_count"] == sum(p["liquidation_count"]
                                                      for p in per.values())
    # Morpho's oracle reads the shared pool, which the others' sales moved below the
    # external price.
    assert min(result.series["oracle_price_usd.morpho"]) < min(
        result.series["external_price_usd"])


def test_runner_class_by_the_protocols_mechanism_in_a_fresh_interpreter():
    # Registered by the sim package's import, whichever simulator module is imported.
    import subprocess
    import sys

    code = ("from marginengine.sim.cascade import FAMILY_RUNNERS; "
            "print(sorted(c.__name__ for c in FAMILY_RUNNERS.values()))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == ("['DriftCascadeRunner', 'EulerCascadeRunner', 'LiquityCascadeRunner', "
                   "'MangoCascadeRunner', "
                   "'MorphoCascadeRunner']")
    for name, expected in (("liquity_cascade", LiquityCascadeRunner),
                           ("morpho_cascade", MorphoCascadeRunner)):
        _, protocol = scenario_spec(tomllib.loads((EXAMPLES / f"{name}.toml").read_text()))
        assert runner_class(protocol) is expected


@pytest.mark.parametrize(("change", "message"), [
    ({"price": {"asset": "LUSD", "process": "path", "path": [1, 1]}},
     "price.asset: 'LUSD' is not the protocol's Liquity collateral 'ETH'"),
    ({"liquidity": {"ETH": 5}}, "liquidity.ETH: a Liquity v1 protocol takes stability-pool "
     "deposits of LUSD only"),
    ({"accounts": [{"id": "a", "borrow": {"LUSD": 2000}}]},
     "accounts.0.borrow: needs a deposit of ETH"),
    ({"book": {"file": "book.csv", "debt_asset": "LUSD"}},
     "book: a Liquity v1 book is borrowers of one"),
])
def test_liquity_cascade_bad_input_names_the_field(change: dict[str, Any], message: str):
    data = {**liquity_scenario([2000, 2000], [], {}), **change}
    with pytest.raises(ConfigError) as err:
        scenario_spec(data)
    assert any(p.startswith(message) for p in err.value.problems), err.value.problems


def test_morpho_cascade_without_the_market_names_the_field():
    data = morpho_scenario([2000, 2000], [])
    data["protocol"]["markets"] = {"WETH": {"decimals": 18, "collateral": False,
                                            "borrowable": False},
                                   "DAI": {"decimals": 18, "collateral": False,
                                           "borrowable": False},
                                   "USDC": {"decimals": 6, "collateral": False,
                                            "borrowable": False}}
    data["book"]["debt_asset"] = "DAI"
    with pytest.raises(ConfigError) as err:
        scenario_spec(data)
    assert any(p.startswith("book.debt_asset: no Morpho market lends 'DAI' against "
                            "price.asset 'WETH'") for p in err.value.problems)


def test_simulate_cli_runs_a_liquity_cascade_and_its_log_replays(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    import json

    from tests.cli.test_cli import run

    out = tmp_path / "lq"
    code, stdout, _ = run(["simulate", str(EXAMPLES / "liquity_cascade.toml"), "--out",
                           str(out), "--json", "--quiet", "--set", "book.accounts=60",
                           "--set", "book.total_debt=9000000"], capsys)
    assert code == 0
    summary = json.loads(stdout)
    assert summary["family"]["family"] == "liquity-v1" and summary["liquidation_count"] > 0
    import pyarrow.parquet as pq

    steps = pq.read_table(out / "steps.parquet").to_pydict()
    assert {"tcr", "stability_pool", "recovery_mode"} <= set(steps)
    code, stdout, _ = run(["replay", str(out / "events.sqlite"), "--json"], capsys)
    assert code == 0 and json.loads(stdout)["state_hash"] == summary["state_hash"]
    code, _, err = run(["simulate", str(EXAMPLES / "morpho_cascade.toml"), "--out",
                        str(tmp_path / "bad"), "--set", "liquidity.WETH=5"], capsys)
    assert code == 2 and err.count("\n") == 1
    assert "liquidity.WETH: a Morpho Blue protocol takes supply of USDC only" in err
    assert not (tmp_path / "bad").exists()


def test_backtest_of_a_family_protocol_is_refused_in_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    # backtest compares lending margin policies; a Liquity protocol would have run as a
    # lending cascade whose every borrow the engine refuses (regression).
    from tests.cli.test_cli import run

    out = tmp_path / "bt"
    code, _, err = run(["backtest", str(EXAMPLES / "liquity_cascade.toml"), "--margin",
                        "static", "--out", str(out)], capsys)
    assert code == 2 and err.count("\n") == 1
    assert "protocol.preset: liquity-v1 keeps troves or markets of its own" in err
    assert not out.exists()


def test_a_mango_preset_runs_its_own_cascade_and_checks_its_assets():
    # Mango v4 was refused here until sim/mango_cascade.py drove its book (issue 16); a
    # Liquity scenario against it is now checked against Mango's banks and quote.
    data = liquity_scenario([2000, 1000], [], {})
    data["protocol"] = {"preset": "mango-v4"}
    with pytest.raises(ConfigError) as err:
        scenario_spec(data)
    problems = err.value.problems
    assert any(p.startswith("price.asset: 'ETH' is not a Mango bank besides the quote")
               for p in problems), problems
    assert any(p.startswith("book.debt_asset: 'LUSD' is not the Mango quote 'USDC'")
               for p in problems), problems
