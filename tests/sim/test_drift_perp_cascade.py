"""Drift v2 perps in the cascade simulator (sim/drift_cascade.py, ``[drift_perps]``): the
keepers' ``liquidate_perp`` (drift-labs/protocol-v2 programs/drift/src/controller/
liquidation.rs ``liquidate_perp``, sized by ``drift_perp_liq_plan`` as the engine's
handler), the unwind on the venue, ``resolve_perp_bankruptcy`` in a crash with exact
conservation, and bad ``[drift_perps]`` input."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import pytest

from marginengine.cli.main import main
from marginengine.errors import ConfigError
from marginengine.sim.cascade import run_cascade, scenario_spec

SOL = 10**9
USDC = 10**6
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

SOL_PERP = {"margin_ratio_initial": "0.1", "margin_ratio_maintenance": "0.05",
            "liquidator_fee": "0.01", "if_liquidation_fee": "0.01",
            "order_step_size": 10_000_000}
ONE = {"initial_asset_weight": 1, "maintenance_asset_weight": 1,
       "initial_liability_weight": 1, "maintenance_liability_weight": 1}


def perp_scenario(path: list[int], **extra: Any) -> dict[str, Any]:
    # USDC and SOL spot, SOL-PERP (margin 10% / 5%, fees 1% + 1%, step 0.01) marked at
    # SOL's oracle. One safe book account (10x, no perp); the trader under test
    # explicit: 200 USDC, long 10 SOL-PERP at 150 (initial 150 <= 200). Sales at the
    # external price (no feedback).
    data: dict[str, Any] = {
        "kind": "cascade", "name": "t", "steps": len(path) - 1, "step_seconds": 60,
        "protocol": {"preset": "drift-v2", "markets": {
            "USDC": {"decimals": 6, "collateral": False, "borrowable": False},
            "SOL": {"decimals": 9, "collateral": False, "borrowable": False},
            "SOL-PERP": {"decimals": 9, "collateral": False, "borrowable": False}},
            "drift": {"quote": "USDC", "spot": {
                "USDC": ONE, "SOL": {"initial_asset_weight": "0.8",
                                     "maintenance_asset_weight": "0.9",
                                     "initial_liability_weight": "1.2",
                                     "maintenance_liability_weight": "1.1",
                                     "liquidator_fee": "0.01"}},
                "perps": {"SOL-PERP": SOL_PERP}}},
        "prices": {"USDC": 1},
        "price": {"asset": "SOL", "process": "path", "path": path},
        "venue": {"feedback": False},
        "book": {"accounts": 1, "whales": 0, "total_debt": 1000,
                 "collateralization_median": 10, "collateralization_sigma": 0,
                 "min_collateralization": 10, "debt_asset": "USDC"},
        "accounts": [{"id": "t", "deposit": {"USDC": 200}}],
        "drift_perps": {"market": "SOL-PERP",
                        "positions": [{"account": "t", "base": 10}]},
        "keepers": [{"id": "keeper", "capital": 10_000}], "gas": {"gwei": 0.000001},
    }
    data.update(extra)
    return data


def test_keeper_perp_liquidation_worked_numbers():
    # At 135: PnL -150, total collateral 50 against 1,350 x 5% = 67.5. With the 2% buffer
    # the requirement is 67.5 + 27 = 94.5, the collateral 50 - 3 = 47: shortage 47.5.
    # Ratio 7%; the IF fee min(1%, (7% - 1% - 47.5/1,350) x .95) = 1%; the base to cover
    # 47.5 / (135 x 6% - 135 x 1%) = 7.037 SOL, up to the 0.01 step: 7.04, worth 950.40,
    # the keeper's fee 9.504 and the insurance fund's 9.504 (into the fee pool).
    result = run_cascade(perp_scenario([150, 135, 135]), amplification=False)
    perps = result.summary["family"]["perps"]
    exact = perps["exact"]
    assert result.series["perp_liquidations"] == [0, 1, 0]
    assert (exact["base_liquidated"], exact["quote_liquidated"]) == (7_040_000_000,
                                                                     950_400_000)
    assert (exact["liquidator_fees"], exact["if_fees"]) == (9_504_000, 9_504_000)
    book = result.engine.state.family
    # t: 2.96 left, quote -1,500 + 950.40 - 19.008; out of liquidation territory
    assert book.account("t").perps["SOL-PERP"] == (2_960_000_000, -568_608_000)
    # the keeper took 7.04 for 950.40 - 9.504 and sold it at 135 (950.40): flat, +9.504
    assert book.account("keeper").perps["SOL-PERP"] == (0, 9_504_000)
    assert exact["unwind_quote"] == 950_400_000
    assert book.fee_pools == {"SOL-PERP": 9_504_000}
    assert result.summary["liquidator_profit"] == pytest.approx(9.504, abs=1e-3)
    assert result.series["perp_if_fees"] == [0.0, 9.504, 0.0]
    assert result.summary["family"]["accounts_below_maintenance"] == 0
    # the borrower's loss is the two fees, at USDC's 1
    assert result.summary["borrower_loss"] == pytest.approx(19.008)


def test_synthetic_positions_are_the_notional_of_the_collateral():
    # The book's one account: 1,000 USDC borrowed at 10x, 10,000 USD of SOL at 150. All
    # of the book holds (share 1), long: half the collateral's value, 5,000 / 150 =
    # 33.333 SOL, down to the 0.01 step: 33.33, paying 4,999.50 (rounded up).
    data = perp_scenario([150, 150])
    data["drift_perps"] = {"market": "SOL-PERP", "share": 1, "notional": "0.5"}
    result = run_cascade(data, amplification=False)
    book = result.engine.state.family
    held = [x.perps["SOL-PERP"] for x in book.accounts.values() if "SOL-PERP" in x.perps]
    assert held == [(33_330_000_000, -4_999_500_000)]
    perps = result.summary["family"]["perps"]
    assert (perps["positions_opened"], perps["setup_rejected"]) == (1, 0)
    assert perps["exact"]["opened_quote"] == -4_999_500_000
    # short (long_share 0): the same base, receiving the value rounded down
    data["drift_perps"]["long_share"] = 0
    book = run_cascade(data, amplification=False).engine.state.family
    held = [x.perps["SOL-PERP"] for x in book.accounts.values() if "SOL-PERP" in x.perps]
    assert held == [(-33_330_000_000, 4_999_500_000)]
    # a position beyond the initial margin is refused and counted
    data["drift_perps"] = {"market": "SOL-PERP",
                           "positions": [{"account": "t", "base": 100}]}
    s = run_cascade(data, amplification=False).summary
    assert s["family"]["perps"]["setup_rejected"] == 1 and s["setup_rejected"] == 1


def test_keeper_holds_the_base_without_unwind_and_skips_unprofitable():
    data = perp_scenario([150, 135, 135])
    data["drift_perps"]["unwind"] = False
    result = run_cascade(data, amplification=False)
    book = result.engine.state.family
    assert book.account("keeper").perps["SOL-PERP"] == (7_040_000_000, -940_896_000)
    assert result.summary["family"]["perps"]["unwinds"] == 0
    # a keeper asking more than the 9.504 fee for the action does nothing
    data = perp_scenario([150, 135, 135])
    data["keepers"] = [{"id": "keeper", "capital": 10_000, "min_profit": 10}]
    result = run_cascade(data, amplification=False)
    assert result.summary["family"]["perps"]["liquidations"] == 0
    assert result.summary["family"]["accounts_below_maintenance"] == 1


def crash(**drift_perps: Any) -> dict[str, Any]:
    data = tomllib.loads((EXAMPLES / "drift_perp_cascade.toml").read_text())
    data["drift_perps"].update(drift_perps)
    return data


def test_crash_perp_liquidations_bankruptcies_and_conservation():
    # examples/drift_perp_cascade.toml (seed 16): SOL 150 -> 96, 117 perp positions.
    result = run_cascade(crash(), amplification=False)
    s = result.summary
    perps = s["family"]["perps"]
    e = perps["exact"]
    assert perps["positions_opened"] == 117 and perps["setup_rejected"] == 0
    assert perps["liquidations"] > 0 and perps["unwinds"] == perps["liquidations"]
    assert perps["bankruptcies"] > 0
    # pinned from the run (docs/simulator.md quotes them; a change means a rule, the draw
    # or the venue changed): 62 perp liquidations, 10 bankruptcies, 102,947.682288
    # socialized. The 34 spot bankruptcies draw the whole quote insurance fund
    # (49,999.999999) first, so the perp bankruptcies get none of it, then the fee pool.
    # Moved when liquidate_spot came to size against the liquidation buffer and to take a
    # liability of $10 or less whole (controller/liquidation.rs): were 8 perp bankruptcies,
    # 93,418.359575 socialized, 32 spot bankruptcies drawing 48,474.865599 and the perp
    # ones 1,525.1344 (41,743.7812 socialized before resolve_spot_bankruptcy existed).
    assert (perps["liquidations"], perps["bankruptcies"]) == (62, 10)
    assert e["loss_to_socialize"] == 102_947_682_288
    # every bankrupt loss is paid: fund + fee pool + socialized
    assert e["bankrupt_loss"] == e["insurance_paid"] + e["fee_pool_paid"] + \
        e["loss_to_socialize"]
    assert e["bankrupt_loss"] > 0 and e["loss_to_socialize"] > 0
    # the fund is drawn down to its last unit (saturating_sub(1)) in this crash, by the
    # spot and the perp bankruptcies together
    sb = s["family"]["spot_bankruptcies"]
    spot = sb["exact"]
    assert sb["bankruptcies"] == 34
    assert (e["insurance_paid"], spot["insurance_paid"]) == (0, 49_999_999_999)
    assert e["spot_insurance_paid"] == spot["insurance_paid"]
    assert e["insurance_paid"] + spot["insurance_paid"] == e["fund_start"] - 1 == \
        50_000 * USDC - 1
    assert e["insurance_fund"] == 1
    assert s["insurance_fund_drawdown"] == pytest.approx(49_999.999999)
    # quote in = quote out + fund + pools + socialized (exact), the fund's spot payments
    # beside
    assert (e["perp_quote"] + e["insurance_fund"] + e["spot_insurance_paid"] + e["fee_pools"]
            + e["socialized_charged"] - e["loss_to_socialize"]) == (
        e["opened_quote"] + e["unwind_quote"] + e["fund_start"] + e["fee_pool_start"])
    # the fee pool is the IF fees less what bankruptcies drew
    assert e["fee_pools"] == e["fee_pool_start"] + e["if_fees"] - e["fee_pool_paid"]
    # the charged loss exceeds the socialized one by the rounding only: the rate rounds
    # up, at most 1 unit per whole base open (at most what was opened: the liquidated
    # base is unwound at once)
    opened = (e["open_base"] + e["base_liquidated"]) // SOL
    assert 0 <= e["socialized_charged"] - e["loss_to_socialize"] <= \
        perps["bankruptcies"] * (opened + 1)
    # spot conservation as without perps, with the borrows the spot bankruptcies cleared
    # (97,984.247450: the fund's 49,999.999999 and 47,984.247451 socialized over the
    # USDC deposits, which lost 47,984.249287 with the rounding; were 95,247.828092,
    # 48,474.865599, 46,772.962493 and 46,772.96409)
    x = s["family"]["exact"]
    assert spot["borrow_cleared"] == 97_984_247_450
    assert spot["borrow_cleared"] == spot["insurance_paid"] + spot["loss_to_socialize"]
    assert spot["socialized_charged"] == 47_984_249_287
    assert x["quote_balances"] == x["keeper_deposits"] - x["borrowed"] + \
        spot["borrow_cleared"] - spot["socialized_charged"]
    assert x["collateral_balances"] == x["collateral_in"] - x["collateral_withdrawn"]
    # the step series add up to the totals; bad_debt_realized is what the perp and spot
    # bankruptcies cleared
    series = result.series
    assert sum(series["perp_liquidations"]) == perps["liquidations"]
    assert sum(series["perp_bankruptcies"]) == perps["bankruptcies"]
    assert sum(series["insurance_paid"]) == pytest.approx(perps["insurance_paid"])
    assert sum(series["socialized_loss"]) == pytest.approx(perps["loss_to_socialize"])
    assert sum(series["fee_pool_paid"]) == pytest.approx(perps["fee_pool_paid"])
    assert sum(series["spot_bankruptcies"]) == sb["bankruptcies"]
    assert sum(series["spot_insurance_paid"]) == pytest.approx(sb["insurance_paid"])
    assert s["bad_debt_realized"] == pytest.approx(perps["bankrupt_loss"]
                                                   + sb["borrow_cleared"])
    # the unwinds sell on the pool: the venue falls further than without them
    held = run_cascade(crash(unwind=False), amplification=False).summary
    assert s["min_venue_price"] < held["min_venue_price"]


def test_crash_with_pnl_for_deposit_conserves():
    # The same crash with pnl_for_deposit = true: after liquidate_perp and liquidate_spot
    # the keeper also takes over the negative quote left beside the SOL
    # (liquidate_perp_pnl_for_deposit). Pinned from the run: 74 such liquidations move
    # 577,507.462476 of quote for 5,701.570306259 SOL; the accounts whose SOL goes are
    # then bankrupt more often (27 perp bankruptcies instead of 10). (Were 76, 586,078.366689,
    # 5,755.181963271 SOL and 25 instead of 8 before liquidate_spot read the buffer.)
    result = run_cascade(crash(pnl_for_deposit=True), amplification=False)
    s = result.summary
    perps = s["family"]["perps"]
    e = perps["exact"]
    pnl = perps["pnl_for_deposit"]
    assert pnl["exact"] == {"liquidations": 74, "pnl_transfer": 577_507_462_476,
                            "asset_transfer": 5_701_570_306_259}
    assert perps["bankruptcies"] == 27
    # a PnL liquidation moves quote between two perp positions: the perp identity holds
    assert (e["perp_quote"] + e["insurance_fund"] + e.get("spot_insurance_paid", 0)
            + e["fee_pools"] + e["socialized_charged"] - e["loss_to_socialize"]) == (
        e["opened_quote"] + e["unwind_quote"] + e["fund_start"] + e["fee_pool_start"])
    # the SOL paid is withdrawn by the keeper: in = balances + withdrawn
    x = s["family"]["exact"]
    assert x["collateral_balances"] == x["collateral_in"] - x["collateral_withdrawn"]
    assert x["collateral_withdrawn"] == x["collateral_transferred"] + pnl["exact"][
        "asset_transfer"]
    spot = s["family"]["spot_bankruptcies"]["exact"]
    assert x["quote_balances"] == x["keeper_deposits"] - x["borrowed"] + \
        spot["borrow_cleared"] - spot["socialized_charged"]
    # off (the default): no such figure
    assert "pnl_for_deposit" not in run_cascade(crash(), amplification=False).summary[
        "family"]["perps"]


def cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, capsys.readouterr().err


def test_example_runs_from_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    out = tmp_path / "run"
    code, err = cli(["simulate", str(EXAMPLES / "drift_perp_cascade.toml"), "--out",
                     str(out)], capsys)
    assert code == 0, err
    assert (out / "steps.parquet").exists() and (out / "summary.json").exists()


BAD = [
    ({"market": "BTC-PERP"}, r"drift_perps\.market: 'BTC-PERP' is not a Drift perp market "
                             r"\(drift\.perps: SOL-PERP\)"),
    ({"underlying": "USDC"}, r"drift_perps\.underlying: 'USDC' is not a simulated asset"),
    ({"positions": [{"account": "nobody", "base": 1}]},
     r"drift_perps\.positions\.0\.account: 'nobody' is not an explicit account"),
    ({"positions": [{"account": "t", "base": "1.005"}]},
     r"drift_perps\.positions\.0\.base: 1\.005 is not a multiple of the market's step "
     r"size 0\.01"),
    ({"positions": [{"account": "t", "base": 0}]},
     r"drift_perps\.positions\.0\.base: .*a position has base"),
    ({"share": 2}, r"drift_perps\.share: must be at most 1 \(got 2\)$"),
    ({"notional": 0}, r"drift_perps\.notional: .*greater than 0"),
    ({"sideways": 1}, r"drift_perps\.sideways: .*"),
    ({"pnl_for_deposit": "maybe"},
     r"drift_perps\.pnl_for_deposit: must be true or false"),
]


@pytest.mark.parametrize(("change", "message"), BAD,
                         ids=["market", "underlying", "account", "step", "zero", "share",
                              "notional", "unknown", "pnl_for_deposit"])
def test_bad_drift_perps_name_the_field(change: dict[str, Any], message: str):
    data = perp_scenario([150, 135])
    data["drift_perps"] = {**data["drift_perps"], **change}
    with pytest.raises(ConfigError, match=message):
        scenario_spec(data)


def test_drift_perps_need_a_drift_protocol(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]):
    data = tomllib.loads((EXAMPLES / "drift_cascade.toml").read_text())
    data = copy.deepcopy(data)
    data["protocol"] = {"preset": "aave-v3"}
    data["price"]["asset"] = "WETH"
    data["book"]["debt_asset"] = "USDC"
    data["prices"] = {"USDC": 1}
    data["drift_perps"] = {"market": "SOL-PERP"}
    with pytest.raises(ConfigError, match=r"drift_perps: perp positions of a Drift v2 "
                                          r"cascade; protocol\.preset aave-v3"):
        scenario_spec(data)
    # at the CLI: exit 2, one line naming the field, nothing written
    bad = tmp_path / "bad.toml"
    bad.write_text((EXAMPLES / "drift_perp_cascade.toml").read_text().replace(
        'market = "SOL-PERP"', 'market = "ETH-PERP"'))
    out = tmp_path / "run"
    code, err = cli(["simulate", str(bad), "--out", str(out)], capsys)
    assert code == 2
    assert "drift_perps.market: 'ETH-PERP' is not a Drift perp market" in err
    assert "Traceback" not in err
    assert not out.exists()
