"""Why the bad debt arose (issue 11 item 8): each cause of sim/explain.py on a small
hand-built run with its figures worked by hand.

The runs: one vault of 10 WETH owing 12,000 USDC beside one tiny, very safe book account,
on Aave v3 rules (docs/presets.md: WETH threshold 83%, bonus 5% with a protocol fee of 10%
of the bonus; close factor 50%, 100% below health 0.95); sales at the external price (no
venue feedback), so a liquidation's profit is the bonus less the fee less gas.
"""

from __future__ import annotations

from typing import Any

import pytest

from marginengine.sim.cascade import run_cascade
from marginengine.sim.explain import CAUSE_NAMES, CAUSES, END_REASONS, sentences

AAVE = {"preset": "aave-v3", "markets": {"WETH": {}, "USDC": {"interest_rate": {
    "base": 0, "slope1": 0, "slope2": 0, "optimal_utilization": 0.8}}}}  # no interest


def vault(path: list[float], *, gwei: float = 0.000001, oracle: dict[str, Any] | None = None,
          keeper: dict[str, Any] | None = None, protocol: dict[str, Any] | None = None,
          debt_asset: str = "USDC", debt: int = 12_000, steps: int | None = None
          ) -> dict[str, Any]:
    return {
        "kind": "cascade", "name": "vault", "seed": 3,
        "steps": steps if steps is not None else len(path) - 1, "step_seconds": 600,
        "protocol": protocol or AAVE, "prices": {debt_asset: 1},
        "price": {"asset": "WETH", "process": "path", "path": path},
        "venue": {"kind": "amm", "base_reserve": 100_000, "feedback": False},
        "oracle": oracle or {"kind": "direct"},
        "gas": {"kind": "constant", "gwei": gwei},
        "book": {"accounts": 1, "total_debt": 100, "whales": 0, "whale_share": 0,
                 "collateralization_median": 50, "collateralization_sigma": 0,
                 "min_collateralization": 40, "debt_asset": debt_asset,
                 "collateral_asset": "WETH"},
        "liquidity": {debt_asset: 100_000},
        "accounts": [{"id": "vault", "deposit": {"WETH": 10}, "borrow": {debt_asset: debt}}],
        "keepers": [keeper or {"id": "keeper", "flash_loan": True, "margin": 0,
                               "min_profit": 0}],
    }


def explained(data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    result = run_cascade(data, amplification=False, explain_run=True)
    assert result.explanation is not None
    return result.explanation, result.summary


def only_row(e: dict[str, Any]) -> dict[str, Any]:
    [row] = e["accounts"]
    assert row["account"] == "vault"
    return row


def test_gapped_when_price_falls_through_the_bonus_in_one_step_then_written_off():
    # WETH 2,000 -> 1,100 in one step: collateral 11,000 < debt 12,000 when the scan first
    # finds it (health 11,000 x 0.83 / 12,000 = 0.76 < 0.95: close factor 100%). The keeper
    # repays 11,000 / 1.05 = 10,476.19 USDC for all the collateral; the rest, 12,000 -
    # 10,476.19 = 1,523.81, is written off (Aave v3.3 deficit).
    e, summary = explained(vault([2000, 2000, 1100]))
    row = only_row(e)
    assert row["cause"] == "gapped"
    assert row["first_liquidatable_step"] == 2
    assert row["collateral_at_first_usd"] == pytest.approx(11_000)
    assert row["debt_at_first_usd"] == pytest.approx(12_000)
    assert row["bad_debt_usd"] == pytest.approx(12_000 - 11_000 / 1.05, abs=0.01)
    assert row["written_off_usd"] == pytest.approx(1_523.81, abs=0.01)
    assert row["liquidations"] == 1
    assert e["causes"] == {"gapped": {"accounts": 1,
                                      "bad_debt_usd": pytest.approx(1_523.81, abs=0.01)}}
    assert e["bad_debt_usd"] == pytest.approx(summary["bad_debt"])
    assert abs(e["residual_usd"]) < 0.01
    assert ("1,524 USD from 1 account already under water when first liquidatable"
            in e["sentences"][1])


def test_oracle_lag_when_osm_shows_the_fall_a_step_late_then_cause_is_the_lag():
    # The same fall under an OSM one step late (hop = step): at step 2 the oracle still
    # says 2,000 while the market is at 1,100 (2,000 / 1,100 - 1 = 81.8% above), so the
    # scan first finds the vault at step 3, already under water: the oracle's lag.
    e, _ = explained(vault([2000, 2000, 1100, 1100],
                           oracle={"kind": "osm", "hop": 600}))
    row = only_row(e)
    assert row["cause"] == "oracle_lag"
    assert row["first_liquidatable_step"] == 3
    assert row["bad_debt_usd"] == pytest.approx(1_523.81, abs=0.01)
    assert e["oracle"]["max_lag"] == pytest.approx(2000 / 1100 - 1)
    assert e["oracle"]["max_lag_step"] == 2
    assert any("oracle lag (up to 81.8% above the market" in s for s in e["sentences"])


def test_outpaced_when_gas_outweighs_half_the_bonus_then_liquidated_late_in_part():
    # 2,000 -> 1,400 -> 1,100. At 1,400: collateral 14,000 > 12,000, health 14,000 x 0.83
    # / 12,000 = 0.968 (>= 0.95: half the debt): repaying 6,000 earns 6,000 x 5% x 90%
    # = 270 USD; gas 1,000 gwei x 300,000 gas x 1,400 USD = 420 USD > 270: no keeper
    # acts. At 1,100 (health 0.76, all of it): all the collateral for 10,476.19 earns
    # 523.81 x 90% = 471.43 > gas 1,000 gwei x 300,000 x 1,100 = 330: liquidated, and
    # 1,523.81 is written off. Above water when found, liquidated once: outpaced.
    e, _ = explained(vault([2000, 2000, 1400, 1100], gwei=1000))
    row = only_row(e)
    assert row["cause"] == "outpaced"
    assert row["first_liquidatable_step"] == 2
    assert row["collateral_at_first_usd"] == pytest.approx(14_000)
    assert row["liquidations"] == 1
    assert row["bad_debt_usd"] == pytest.approx(1_523.81, abs=0.01)
    [keeper] = e["keepers"]
    assert keeper["liquidations"] == 1
    assert keeper["value_usd"] == pytest.approx(11_000 / 1.05, abs=0.01)
    assert keeper["gas_spent_usd"] == pytest.approx(330)


def test_unprofitable_when_gas_outweighs_every_chunk_then_never_liquidated():
    # Gas 3,000 gwei: 3,000 x 300,000 x 1,100 = 990 USD at 1,100 > the 471.43 the whole
    # collateral earns. Never liquidated: 12,000 - 11,000 = 1,000 USD under water at the
    # end; still liquidatable, and a chunk pays before gas (471.43 > 0) but not after.
    e, summary = explained(vault([2000, 2000, 1400, 1100], gwei=3000))
    row = only_row(e)
    assert row["cause"] == "unprofitable"
    assert row["liquidations"] == 0
    assert row["bad_debt_usd"] == pytest.approx(1_000)
    assert summary["bad_debt_underwater"] == pytest.approx(1_000)
    assert e["still_liquidatable"] == {"accounts": 1, "reasons": {"gas_cost": 1}}
    assert ("1 account still liquidatable at the end: 1 with no keeper able to profit "
            "after gas and slippage." in e["sentences"])


def test_gas_blocked_when_gas_above_every_keepers_limit_then_keepers_stopped():
    # Gas 200 gwei, the only keeper stops above 100: it never acts; 1,000 under water.
    keeper = {"id": "capped", "flash_loan": True, "margin": 0, "min_profit": 0,
              "max_gas_gwei": 100}
    e, _ = explained(vault([2000, 2000, 1400, 1100], gwei=200, keeper=keeper))
    row = only_row(e)
    assert row["cause"] == "gas_blocked"
    assert row["bad_debt_usd"] == pytest.approx(1_000)
    assert e["gas"]["all_blocked_steps"] == 3
    assert e["still_liquidatable"]["reasons"] == {"gas_blocked": 1}
    assert any("keepers stopped: gas above 100 gwei for 3 steps" in s
               for s in e["sentences"])
    assert e["keepers"][0]["steps_priced_out"] == 3


def test_late_when_keeper_latency_outlasts_the_run_then_a_keeper_would_still_pay():
    # The keeper reacts after 10 steps; the run ends 2 steps after the vault is found:
    # never liquidated, 1,000 under water, and the keeper's ladder pays at the end.
    keeper = {"id": "sleepy", "flash_loan": True, "margin": 0, "min_profit": 0,
              "latency": 10}
    e, _ = explained(vault([2000, 2000, 1400, 1100], keeper=keeper))
    row = only_row(e)
    assert row["cause"] == "late"
    assert e["still_liquidatable"]["reasons"] == {"would_pay": 1}


MAKER = {
    "preset": "aave-v3",
    "markets": {
        "WETH": {"ltv": 0.66, "liquidation_threshold": 0.6666, "liquidation_bonus": 0,
                 "borrowable": False},
        "DAI": {"collateral": False, "interest_rate": {
            "base": 0, "slope1": 0, "slope2": 0, "optimal_utilization": 0.8}},
    },
    "auction": {"kind": "clip", "chop": 1.13, "dust": 20, "buf": 1.2, "curve": "stairstep",
                "step": 600, "cut": 0.75, "chip": 0, "tip": 0, "tail": 100_000,
                "cusp": 0.1},
}


def test_auction_shortfall_when_clip_sells_below_the_debt_then_its_cause():
    # Maker rules (tests/sim/test_outputs.py): 10 WETH against 12,000 DAI, barked at
    # 1,500 (health 15,000 x 0.6666 / 12,000 = 0.83); the Clipper starts at 1,500 x 1.2 =
    # 1,800 and cuts by 0.75 each 600 s: 1,350, 1,012.5, 759.375, 569.53 at steps 2-5. The
    # market is 600 from step 2: the keeper takes all 10 WETH at 569.53 at step 5,
    # raising 5,695.31: 12,000 - 5,695.31 = 6,304.69 DAI of shortfall.
    e, summary = explained(vault([2000, 1500, 600], protocol=MAKER, debt_asset="DAI",
                                 steps=6))
    row = only_row(e)
    assert row["cause"] == "auction_shortfall"
    assert row["bad_debt_usd"] == pytest.approx(12_000 - 10 * 1800 * 0.75 ** 4, abs=0.01)
    assert e["bad_debt_usd"] == pytest.approx(summary["bad_debt"])


def test_in_auction_when_run_ends_before_the_sale_then_bulk_cause():
    # The same, ended at step 3: the auction runs on; its lot is worth 10 x 600 = 6,000
    # at the market against 12,000 of debt: 6,000 not covered.
    e, summary = explained(vault([2000, 1500, 600], protocol=MAKER, debt_asset="DAI",
                                 steps=3))
    assert e["causes"] == {"in_auction": {"accounts": 1,
                                          "bad_debt_usd": pytest.approx(6_000)}}
    assert summary["bad_debt_in_auctions"] == pytest.approx(6_000)
    assert any("1 running auction whose lots would not cover" in s for s in e["sentences"])


def test_no_bad_debt_when_keeper_liquidates_in_time_then_says_so():
    # 2,000 -> 1,400 with next to no gas: half the debt is repaid at once, no bad debt.
    e, _ = explained(vault([2000, 2000, 1400]))
    assert e["accounts"] == [] and e["causes"] == {}
    assert e["sentences"][0].startswith("No bad debt")


def test_causes_table_names_every_cause_once_in_rule_order_and_docs_list_them():
    from pathlib import Path

    assert len(set(CAUSE_NAMES)) == len(CAUSES)
    docs = (Path(__file__).resolve().parents[2] / "docs" / "simulator.md").read_text()
    for name in (*CAUSE_NAMES, *END_REASONS):
        if name != "not_evaluated":
            assert f"`{name}`" in docs, name


def test_sentences_when_counts_given_then_each_figure_appears():
    e = {"bad_debt_usd": 3_000.0, "residual_usd": 0.0,
         "causes": {"unprofitable": {"accounts": 3_490, "bad_debt_usd": 3_000.0}},
         "accounts": [{"cause": "unprofitable", "liquidations": 0}] * 3_490,
         "still_liquidatable": {"accounts": 3_490, "reasons": {"gas_cost": 3_490}},
         "keepers": [], "gas": {"all_blocked_steps": 0, "peak_gwei": 20, "peak_step": 0,
                                "all_blocked_above_gwei": None},
         "oracle": {"max_lag": 0.0, "max_lag_step": 0, "steps_lagging": 0},
         "venue": {"max_discount": 0.0, "max_discount_step": 0, "end_discount": 0.0}}
    text = sentences(e)
    assert text[0] == "Bad debt 3,000 USD across 3,490 accounts."
    assert "3,490 accounts still liquidatable at the end: 3,490 with no keeper able to " \
           "profit after gas and slippage." in text


COMET = {"preset": "compound-v3", "markets": {"WETH": {}, "USDC": {"interest_rate": {
    "base": 0, "slope1": 0, "slope2": 0, "optimal_utilization": 0.9}}}}


def test_absorb_shortfall_when_comet_absorbs_above_water_then_factor_cause():
    # Comet rules (config/presets.py): WETH liquidates below 90% of its value, and Absorb
    # credits it at 95%. WETH 2,000 -> 1,230: 12,300 x 0.9 = 11,070 < 12,000, so it is
    # absorbed at once, above water (12,300 > 12,000), yet credited 12,300 x 0.95 =
    # 11,685: 12,000 - 11,685 = 315 USDC of bad debt.
    e, summary = explained(vault([2000, 2000, 1230], protocol=COMET))
    row = only_row(e)
    assert row["cause"] == "absorb_shortfall"
    assert row["bad_debt_usd"] == pytest.approx(315, abs=0.01)
    assert summary["bad_debt_realized"] == pytest.approx(315, abs=0.01)
    assert e["keepers"][0]["liquidations"] == 1


def test_gapped_when_comet_account_under_water_then_gapped_not_absorb():
    # 2,000 -> 1,100: under water when found (11,000 < 12,000): 12,000 - 11,000 x 0.95
    # = 1,550 written off by the absorb, and the cause is the gap.
    e, _ = explained(vault([2000, 2000, 1100], protocol=COMET))
    row = only_row(e)
    assert row["cause"] == "gapped"
    assert row["bad_debt_usd"] == pytest.approx(1_550, abs=0.01)
