"""Family scenarios (examples/families/) run the families' own rules step by step.

The figures asserted are worked from the rules (cited in each module) and the example
files; a change in any rule's rounding or order shows here.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from marginengine.config import read_toml
from marginengine.config.protocol_families import (
    FAMILY_PRESETS,
    ProtocolFamily,
    StabilityPoolVariant,
    resolve_family_preset,
)
from marginengine.errors import ConfigError
from marginengine.sim.families import load_and_run, run_family_scenario

FAMILIES = Path(__file__).resolve().parents[2] / "examples" / "families"


def data(name: str) -> dict[str, Any]:
    return read_toml(FAMILIES / f"{name}.toml")


def test_presets_resolve_to_rules_once():
    assert resolve_family_preset("morpho-blue").family is ProtocolFamily.MORPHO_BLUE
    assert FAMILY_PRESETS["liquity-v1"].stability_pool is StabilityPoolVariant.LEGACY
    assert FAMILY_PRESETS["liquity-v1-2025"].stability_pool is \
        StabilityPoolVariant.KEEP_ONE_LUSD
    with pytest.raises(ConfigError, match="family: unknown family preset 'aave'"):
        resolve_family_preset("aave")


def test_morpho_bad_debt_is_realized_across_suppliers():
    r = load_and_run(FAMILIES / "morpho_bad_debt.toml").as_dict()
    dip, gap = r["steps"][1], r["steps"][2]
    # -10%: dave (LTV 85% -> 94%) is liquidated in full with LIF 1/(0.3 x 0.86 + 0.7).
    assert [x["borrower"] for x in dip["liquidations"]] == ["dave"]
    assert dip["liquidations"][0]["bad_debt"] == "0"
    # The gap: carol's 100 WETH at 1,400 buy 140,000 / 1.0438... = 134,120.000002 USDC of
    # debt (rounded up against the liquidator); the rest is bad debt.
    (carol,) = gap["liquidations"]
    assert (carol["seized"], carol["repaid"], carol["bad_debt"]) == \
        ("100", "134120.000002", "5900.777794")
    assert gap["borrowers"]["carol"] == {"collateral": "0", "debt": "0", "health": None}
    # Both suppliers lose through the share price, in proportion to their shares (3 : 2;
    # the fee recipient's shares take the rest of the loss).
    before = {k: float(v) for k, v in dip["suppliers"].items()}
    after = {k: float(v) for k, v in gap["suppliers"].items()}
    loss = {k: before[k] - after[k] for k in before}
    assert loss["alice"] / loss["bob"] == pytest.approx(1.5, rel=1e-6)
    assert 0.99 * 5900 < loss["alice"] + loss["bob"] < 5900.777794
    assert r["summary"]["bad_debt_realized"] == "5900.777794"
    # ... through the engine: setup (2 prices, 2 supplies, 2 x collateral + borrow), then
    # per step an accrual (and time, price, liquidation events).
    assert r["summary"]["engine_events"] == 19 and len(r["summary"]["state_hash"]) == 64


def test_liquity_recovery_crash_legacy_pool():
    r = load_and_run(FAMILIES / "liquity_recovery_crash.toml").as_dict()
    s1, s2, s3 = r["steps"]
    # ETH 1,500: TCR 137% -> recovery mode; t2 (ICR 118% < TCR) is offset in full at the
    # 110% cap: 25,325 x 1.1 / 1,500 = 18.571666... ETH taken, 1.428333... ETH surplus.
    assert s1["recovery_mode"] and s1["tcr_before"] == "1.3741"
    (t2,) = s1["liquidations"]
    assert (t2["trove"], t2["offset"], t2["coll_surplus"]) == \
        ("t2", "25325", "1.428333333333333334")
    assert s1["stability_pool"] == "4675"
    # ETH 1,300: t1 (106%) takes the pool's last 4,675 (the legacy pool empties), the
    # rest of t1 and all of t3 are redistributed to the whale (the last trove stays).
    assert [(x["trove"], x["offset"], x["redistributed"]) for x in s2["liquidations"]] == \
        [("t1", "4675", "7585"), ("t3", "0", "36380")]
    assert s2["stability_pool"] == "0"
    assert list(s2["troves"]) == ["whale"]
    assert s2["troves"]["whale"]["debt"] == "144665"        # 100,700 + 7,585 + 36,380
    assert s3["liquidations"] == []                          # never the last trove
    assert r["summary"]["gas_compensation"]["lusd"] == "600"


def test_liquity_2025_pool_keeps_one_lusd():
    d = data("liquity_recovery_crash")
    d["family"] = "liquity-v1-2025"
    r = run_family_scenario(d).as_dict()
    s2 = r["steps"][1]
    # getMaxAmountToOffset keeps 1 LUSD: t1 offsets 4,674 and redistributes 1 LUSD more.
    assert [(x["trove"], x["offset"], x["redistributed"]) for x in s2["liquidations"]] == \
        [("t1", "4674", "7586"), ("t3", "0", "36380")]
    assert s2["stability_pool"] == "1"
    assert r["summary"]["stability_pool_rule"] == "keep_one_lusd"


def test_euler_ramp_then_socialization():
    r = load_and_run(FAMILIES / "euler_ramp_liquidation.toml").as_dict()
    s0, s1, s2, s3 = r["steps"]
    # setLTV with a ramp: the borrow LTV falls at once, the liquidation LTV does not.
    assert (s0["borrow_ltv"], s0["liquidation_ltv"]) == ({"WETH": 7000}, {"WETH": 8500})
    assert s1["liquidation_ltv"] == {"WETH": 8000} and s1["liquidations"] == []
    # 21 h in: 7500 + 1000 x 3 / 24 = 7625; bob (79%) is a violator at a 3.5% discount.
    assert s2["liquidation_ltv"] == {"WETH": 7625}
    (bob,) = s2["liquidations"]
    assert (bob["repay"], bob["yield"]) == ("7900", "4.092459016393442627")
    # ETH -35%: alice's 10 WETH (13,000) for 13,000 x 0.85 = 11,050 (discount capped at
    # 15%, yield capped at the collateral); 2,950 socialized.
    (alice,) = s3["liquidations"]
    assert (alice["repay"], alice["yield"], alice["socialized"]) == ("11050", "10", "2950")
    assert s3["share_value"] == "0.99705"
    # ... through the engine: the keeper repays what it takes over in the same batch, so
    # no borrow is left (the share value is the same either way: cash + borrows).
    assert r["summary"]["total_borrows"] == "0"
    assert r["summary"]["engine_events"] == 15 and len(r["summary"]["state_hash"]) == 64


@pytest.mark.parametrize(("name", "path", "value", "message"), [
    ("morpho_bad_debt", ("market", "lltv"), "1.2", "market.lltv: must be a fraction in [0, 1)"),
    ("morpho_bad_debt", ("market", "fee"), "0.3", "market.fee: at most 0.25"),
    ("morpho_bad_debt", ("market", "colour"), 1, "market.colour: unknown field"),
    ("morpho_bad_debt", ("market", "price"), "2000.123456789",
     "market.price: has more than 8 decimal places"),
    ("morpho_bad_debt", ("borrowers", 0, "borrow"), "abc", "borrowers.0.borrow: must be a"),
    ("morpho_bad_debt", ("borrowers", 0, "borrow"), 200_000,
     "borrowers.0.borrow: refused by the protocol's rules: assets: the position would be "
     "unhealthy after the borrow (insufficient collateral)"),
    ("liquity_recovery_crash", ("troves", 1, "debt"), 1_000,
     "troves.1: refused by the protocol's rules: BorrowerOps: Trove's net debt must be "
     "greater than minimum"),
    ("liquity_recovery_crash", ("price",), True,
     "price: must not be true or false (got true)"),
    ("euler_ramp_liquidation", ("collaterals", "WETH", "borrow_ltv"), "0.9",
     "collaterals.WETH: borrow LTV above liquidation LTV (E_LTVBorrow)"),
    ("euler_ramp_liquidation", ("borrowers", 1, "collateral"), {"WBTC": 1},
     "borrowers.1.collateral.WBTC: unknown collateral (collaterals: WETH)"),
    ("euler_ramp_liquidation", ("steps", 0, "set_ltv", "WETH", "ramp"), "soon",
     "steps.0.set_ltv.WETH.ramp: must be seconds or a duration"),
    # Fuzzed: beyond Mango's I80F48 the health's float conversion overflowed (internal
    # error: OverflowError). 2**79 native units is 6.04e17 USDC of 6 decimals.
    ("mango_health", ("tokens", "USDC", "borrows"), 1e308,
     "tokens.USDC.borrows: too large (Mango holds a bank's total as an I80F48 of native "
     "units, at most 2**79 - 1 = 6.045e+23; got 1.000e+314)"),
    ("mango_health", ("tokens", "USDC", "deposits"), "604462909807314587.353088",
     "tokens.USDC.deposits: too large (Mango holds a bank's total as an I80F48 of native "
     "units, at most 2**79 - 1 = 6.045e+23; got 6.045e+23)"),
])
def test_bad_field_is_one_error_naming_it(name: str, path: tuple[Any, ...], value: object,
                                          message: str):
    d = copy.deepcopy(data(name))
    node: Any = d
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(ConfigError) as exc:
        run_family_scenario(d)
    assert message in str(exc.value)


def test_mango_health_init_goes_negative_before_maint():
    r = load_and_run(FAMILIES / "mango_health.toml").as_dict()
    rows = [step["accounts"]["alice"] for step in r["steps"]]
    # SOL 100: maint = 100 x 100 x 0.9 - (6,000 + 100) x 1.025 (the perp's -20 x 1.05 x 100
    # + 2,000 quote, settled in USDC) = 2,747.5; init uses USDC's init liability weight
    # scaled by 30M / 25M borrowed: 8,000 - 6,200 x 1.26 = 188. The weights are Mango's
    # f32 (I80F48::from_num(f32)): 10,000 x f32(0.9) - (6,000 + 2,000 x f32(1.05) - 2,000)
    # x f32(1.025) = 8,999.9997616 - 6,099.9999046 x 1.0249999762 = 2,747.5000048 (with
    # the weights from f64 the figures were a micro-dollar under: 2,747.499999, 187.999999).
    assert (rows[0]["maint"], rows[0]["init"]) == ("2747.500004", "188.000413")
    # SOL 85 with the stable price at 95: init takes SOL at 85 and the short at 95.
    assert rows[1]["init"] == "-873.399608" and not rows[1]["can_open_positions"]
    assert rows[1]["maint"] == "1676.300005"
    # SOL 60: maint below zero -> liquidatable.
    assert rows[3]["maint"] == "-143.199959" and rows[3]["liquidatable"]
    assert r["summary"]["liquidatable_at_end"] == ["alice"]
    # ... through the engine: 2 tokens and the perp priced with their stable prices, a
    # deposit, the perp fill and the USDC borrow (each passing check_health_post), then
    # the steps' 3 x 4 price changes.
    assert r["summary"]["engine_events"] == 21


def test_drift_cross_margin_initial_fails_before_maintenance():
    r = load_and_run(FAMILIES / "drift_cross_margin.toml").as_dict()
    rows = [step["margin"]["trader"] for step in r["steps"]]
    # SOL 150: 200 SOL x 150 x 0.8 (the IMF size discount, 1.1 / (1 + isqrt(2e12 + 1) x
    # 0.0005 / 1e5) = 1.0922, does not bind) = 24,000 against 10,000 USDC borrowed + 60,000
    # of BTC notional x 10% (the size premium 0.8 x 10% + 0.05% stays under 10%) = 16,000.
    assert rows[0]["initial"] == {"total_collateral": "24000", "margin_requirement": "16000"}
    assert rows[0]["maintenance"] == {"total_collateral": "27000",
                                      "margin_requirement": "13000"}
    # SOL 120, BTC 66,000: the -6,000 PnL counts in full: 19,200 - 6,000 < 10,000 + 6,600.
    assert rows[1]["initial"] == {"total_collateral": "13200", "margin_requirement": "16600"}
    assert not rows[1]["can_open_positions"] and not rows[1]["liquidatable"]
    # SOL 100, BTC 70,000: 18,000 - 10,000 = 8,000 < 10,000 + 3,500 -> liquidatable.
    assert rows[2]["maintenance"] == {"total_collateral": "8000",
                                      "margin_requirement": "13500"}
    assert rows[2]["liquidatable"]
    # ... through the engine: 3 prices, the SOL deposit, the BTC short, the USDC borrow
    # (each meeting the initial requirement), then 2 x 2 price changes.
    assert r["summary"]["engine_events"] == 10


def test_every_family_preset_is_an_engine_preset_too():
    from marginengine.config import PRESET_NAMES, protocol_from_dict

    # (A family preset used to be refused in an engine scenario, pointing to the family
    # command; Morpho, Liquity, then Euler, Mango and Drift became engine presets.)
    assert set(FAMILY_PRESETS) <= set(PRESET_NAMES)
    tables = {"euler-v2": "euler", "mango-v4": "mango", "drift-v2": "drift"}
    for name, table in tables.items():
        assert getattr(protocol_from_dict({"preset": name}), table) is not None


@pytest.mark.parametrize(("name", "table", "message"), [
    # A supplier listed twice was read into a dict: the second row replaced the first, and
    # the market opened with 400,000 USDC instead of 1,000,000.
    ("morpho_bad_debt", "suppliers",
     "suppliers.1.id: duplicate account id 'alice' (first at suppliers.0.id)"),
    ("morpho_bad_debt", "borrowers",
     "borrowers.1.id: duplicate account id 'carol' (first at borrowers.0.id)"),
    ("liquity_recovery_crash", "troves",
     "troves.1.id: duplicate account id 'whale' (first at troves.0.id)"),
    ("liquity_recovery_crash", "depositors",
     "depositors.1.id: duplicate account id 'sp1' (first at depositors.0.id)"),
    # Euler, Mango and Drift booked both rows on one account: its figures were the sum.
    ("euler_ramp_liquidation", "borrowers",
     "borrowers.1.id: duplicate account id 'alice' (first at borrowers.0.id)"),
])
def test_duplicate_id_when_listed_twice_then_one_error_naming_both(name: str, table: str,
                                                                   message: str):
    d = copy.deepcopy(data(name))
    d[table][1]["id"] = d[table][0]["id"]
    with pytest.raises(ConfigError) as exc:
        run_family_scenario(d)
    assert message in str(exc.value)


@pytest.mark.parametrize("name", ["mango_health", "drift_cross_margin"])
def test_duplicate_account_when_listed_twice_then_refused(name: str):
    d = copy.deepcopy(data(name))
    d["accounts"].append(copy.deepcopy(d["accounts"][0]))
    ident = d["accounts"][0]["id"]
    with pytest.raises(ConfigError) as exc:
        run_family_scenario(d)
    assert f"accounts.1.id: duplicate account id {ident!r} (first at accounts.0.id)" in \
        str(exc.value)


@pytest.mark.parametrize(("ident", "reason"), [
    # The liquidator: bob named so was "refused by the protocol's rules: an account cannot
    # liquidate itself (E_SelfLiquidation)" at steps.2.liquidate, a step away from the cause.
    ("keeper", "the scenario's liquidator"),
    # The vault's depositors: bob named so was silently merged with the vault's cash.
    ("depositors", "the vault's depositors (vault.cash)"),
])
def test_euler_borrower_named_as_the_scenarios_own_account_then_refused(ident: str,
                                                                         reason: str):
    d = copy.deepcopy(data("euler_ramp_liquidation"))
    d["borrowers"][1]["id"] = ident
    with pytest.raises(ConfigError) as exc:
        run_family_scenario(d)
    assert f"borrowers.1.id: {ident!r} is reserved: {reason}" in str(exc.value)
