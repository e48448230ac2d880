"""Every issue-16 family example runs from the CLI with its figures (a smoke test per example).

``marginengine family examples/families/*.toml`` and ``marginengine simulate
examples/*_cascade.toml`` of the families (Liquity v1, Morpho Blue, both together, Euler v2,
Drift v2, Mango v4), run as a user runs them, whole. The figures are the examples' own,
pinned from a run and checked by hand where the arithmetic is short (comments); the cascade
figures are those the library-level tests pin (tests/sim/test_family_cascade.py,
test_euler_cascade.py, test_drift_cascade.py, test_mango_cascade.py), so the CLI is shown
to give the library's run, its explanation and a log that replays to the same state.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli.test_cli import EXAMPLES, run

FAMILIES = EXAMPLES / "families"


def family(name: str, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    code, out, err = run(["family", str(FAMILIES / f"{name}.toml"), "--json"], capsys)
    assert code == 0, err
    report: dict[str, Any] = json.loads(out)
    assert report["name"] == name
    return report


def test_morpho_bad_debt_example(capsys: pytest.CaptureFixture[str]):
    r = family("morpho_bad_debt", capsys)
    assert r["family"] == "morpho-blue"
    assert r["source"] == "morpho-org/morpho-blue@3085651a79553bbabbfd8be309c262dab45b686e"
    dave, carol = (s["liquidations"][0] for s in r["steps"] if s["liquidations"])
    # LLTV 86%: LIF = 1 / (1 - 0.3 x 0.14) = 1.04384 (4 decimals in the report).
    assert dave["incentive_factor"] == carol["incentive_factor"] == "1.0438"
    assert (dave["borrower"], dave["repaid"], dave["bad_debt"]) == ("dave", "17002.425973", "0")
    # The gap takes carol's collateral to zero; the rest of its debt is bad debt, realized
    # across the suppliers (total supply down by it).
    assert (carol["borrower"], carol["seized"], carol["bad_debt"]) == ("carol", "100",
                                                                      "5900.777794")
    assert r["summary"]["bad_debt_realized"] == "5900.777794"
    assert (r["summary"]["total_supply"], r["summary"]["total_borrow"]) == ("994122.425975",
                                                                            "0")


def test_liquity_recovery_crash_example(capsys: pytest.CaptureFixture[str]):
    r = family("liquity_recovery_crash", capsys)
    assert r["family"] == "liquity-v1"
    assert "15853ad8999760a7b4fc03e8d7d9967e36fe3fe5" in r["source"]
    rows = [(s["label"], v) for s in r["steps"] for v in s["liquidations"]]
    (_, t2), (_, t1), (_, t3) = rows
    # ETH 1,500, recovery mode, t2 at ICR 30,000 / 25,325 = 118.5% >= 110%: capped at
    # 25,325 x 1.1 / 1,500 = 18.5716... ETH, 0.5% of it to the liquidator, the rest of the
    # 20 ETH (1.4283...) is t2's surplus; the whole debt is offset.
    assert (t2["trove"], t2["offset"], t2["redistributed"]) == ("t2", "25325", "0")
    assert t2["coll_surplus"] == "1.428333333333333334"
    assert t2["gas_compensation_eth"] == "0.092858333333333333"
    # ETH 1,300: t1 (ICR 106%) takes what is left of the pool and redistributes the rest;
    # t3 (107%) meets an empty pool (legacy rule) and is redistributed whole.
    assert (t1["offset"], t1["redistributed"], t1["gas_compensation_eth"]) == (
        "4675", "7585", "0.05")
    assert (t3["offset"], t3["redistributed"]) == ("0", "36380")
    s = r["summary"]
    assert s["stability_pool_rule"] == "legacy" and s["stability_pool"] == "0"
    assert s["redistributed_debt_pending"] == "43965"          # 7,585 + 36,380
    assert s["gas_compensation"] == {"eth": "0.292858333333333333", "lusd": "600"}
    assert s["open_troves"] == 1                               # the last trove stays


def test_euler_ramp_liquidation_example(capsys: pytest.CaptureFixture[str]):
    r = family("euler_ramp_liquidation", capsys)
    assert r["family"] == "euler-v2"
    bob, alice = (v for s in r["steps"] for v in s["liquidations"])
    assert "liquidation LTV 0.7625" in next(s["label"] for s in r["steps"]
                                            if s["liquidations"])
    assert (bob["borrower"], bob["repay"], bob["yield"]) == ("bob", "7900",
                                                             "4.092459016393442627")
    # ETH -35%: alice's yield is capped at all her collateral (10 WETH); the 2,950 USDC
    # left is socialized: share value (cash + borrows) / deposits = 0.99705.
    assert (alice["repay"], alice["yield"], alice["socialized"]) == ("11050", "10", "2950")
    assert r["summary"]["socialized"] == "2950" and r["summary"]["share_value"] == "0.99705"


def test_mango_health_example(capsys: pytest.CaptureFixture[str]):
    r = family("mango_health", capsys)
    assert r["family"] == "mango-v4"
    alice = [s["accounts"]["alice"] for s in r["steps"]]
    # the weights as Mango's f32 (were 187.999999, ..., -143.200001 from f64)
    assert [a["init"] for a in alice] == ["188.000413", "-873.399608", "-1947.399601",
                                          "-2678.099615"]
    assert [a["maint"] for a in alice] == ["2747.500004", "1676.300005", "584.600027",
                                           "-143.199959"]
    # init <= liquidation end <= maint at every step; liquidatable once maint < 0.
    assert all(float(a["init"]) <= float(a["liquidation_end"]) <= float(a["maint"])
               for a in alice)
    assert [a["liquidatable"] for a in alice] == [False, False, False, True]
    assert r["summary"]["liquidatable_at_end"] == ["alice"]


def test_drift_cross_margin_example(capsys: pytest.CaptureFixture[str]):
    r = family("drift_cross_margin", capsys)
    assert r["family"] == "drift-v2"
    m = [s["margin"]["trader"] for s in r["steps"]]
    # 200 SOL, -10,000 USDC, short 1 BTC at 60,000. At SOL 100 and BTC 70,000: initial
    # collateral 200 x 100 x 0.8 - 10,000 (the short's loss) = 6,000 against 10,000 x 1
    # + 70,000 x 10% = 17,000; maintenance 18,000 - 10,000 = 8,000 against 13,500.
    assert [(x["initial"]["total_collateral"], x["initial"]["margin_requirement"])
            for x in m] == [("24000", "16000"), ("13200", "16600"), ("6000", "17000")]
    assert [(x["maintenance"]["total_collateral"], x["maintenance"]["margin_requirement"])
            for x in m] == [("27000", "13000"), ("15600", "13300"), ("8000", "13500")]
    assert [x["liquidatable"] for x in m] == [False, False, True]


# name -> (liquidation_count, liquidated value, bad debt, realized bad debt), as the
# library-level tests pin them. Liquity's (and so families_cascade's, whose Morpho market
# reads the venue Liquity's keepers sell on) moved when the cascade's scan became the
# engine's rule (liquity_system.is_liquidatable): its list no longer holds the
# recovery-mode troves the pool cannot absorb, so the keepers' batches of 25 carry other
# troves, in another order (was 47,551,454.29; 30,819,266.34, 3,195,341.31, 2,910,987.94).
CASCADES: dict[str, tuple[int, float, float, float]] = {
    "liquity_cascade": (268, 47_507_148.45, 0.0, 0.0),
    "morpho_cascade": (127, 11_846_814.73, 5_850_185.91, 1_307_158.87),
    "families_cascade": (352, 30_820_214.70, 3_195_338.10, 2_910_984.72),
    "euler_cascade": (178, 12_154_464.30, 509_962.49, 285_001.61),
    # drift: 582.50 of the bad debt is realized: resolve_spot_bankruptcy clears the one
    # account left with only a borrow. Were 459, 2,443,137.70, 144,024.51 and 314.88 (7
    # accounts) before liquidate_spot sized against the liquidation buffer and took a
    # liability of $10 or less whole (controller/liquidation.rs).
    "drift_cascade": (366, 2_458_585.00, 150_866.45, 582.50),
    # mango: the weights and fees as Mango's f32 (I80F48::from_num(f32)); were 2,736,729.48
    # and, for the bankruptcy cascade, 2,854,277.01, 402,584.44 and 179,778.19 from f64.
    "mango_cascade": (162, 2_736_729.19, 45_281.77, 0.0),
    # token_liq_bankruptcy: the fund's 25,000 and 153,541.38 socialized are realized
    "mango_bankruptcy_cascade": (101, 2_854_276.99, 402_584.44, 178_541.38),
}


@pytest.mark.parametrize("name", sorted(CASCADES))
def test_family_cascade_example_runs_from_the_cli(name: str, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]):
    # The CLI's run also explains the bad debt (report.html): Mango's cascade crashed there
    # (the explanation read a lending risk book its runner does not keep).
    out = tmp_path / name
    code, stdout, err = run(["simulate", str(EXAMPLES / f"{name}.toml"), "--out", str(out),
                             "--json", "--quiet"], capsys)
    assert code == 0, err
    s = json.loads(stdout)
    count, liquidated, bad, realized = CASCADES[name]
    assert s["liquidation_count"] == count
    assert s["liquidated_value"] == pytest.approx(liquidated, abs=0.01)
    assert s["bad_debt"] == pytest.approx(bad, abs=0.01)
    assert s["bad_debt_realized"] == pytest.approx(realized, abs=0.01)
    if name == "families_cascade":      # the mean over every protocol's liquidations
        per = s["protocols"].values()
        assert s["time_to_liquidate_mean_steps"] == pytest.approx(
            sum(p["time_to_liquidate_mean_steps"] * p["liquidation_count"] for p in per)
            / count)
        assert s["time_to_liquidate_mean_steps"] > 0
    page = (out / "report.html").read_text()
    assert ("unclassified" in page) == (bad > 0)
    # Every protocol's log replays to its own state (several protocols: one log each).
    logs = {"": s["state_hash"]} if "protocols" not in s else {
        "" if i == 0 else f".{n}": p["state_hash"]
        for i, (n, p) in enumerate(s["protocols"].items())}
    for suffix, state_hash in logs.items():
        code, stdout, _ = run(["replay", str(out / f"events{suffix}.sqlite"), "--json"],
                              capsys)
        assert code == 0 and json.loads(stdout)["state_hash"] == state_hash, suffix
