"""Perp accounts and perp liquidations shown with perp figures (issue 9, item 16)."""

import json

import pytest

from marginengine.config import read_toml
from marginengine.sim import run_scenario, scenario_from_dict
from tests.cli.test_cli import EXAMPLES, run

USDC = 10**6
USD = 10**8


def test_health_when_perp_account_then_quote_equity_margins_ratio_not_zero_collateral(
    capsys: pytest.CaptureFixture[str],
):
    # examples/snapshot_perps.toml, "safe": 50,000 USDC deposited, long 10 ETH from 1,750,
    # mark 1,700 (dYdX v4: IMF 5%, MMF 3%). Quote cash 50,000 - 17,500 = 32,500; equity
    # 32,500 + 10 x 1,700 = 49,500; maintenance 3% x 17,000 = 510; initial 5% x 17,000 =
    # 850; margin ratio 510 / 49,500 = 1.03%.
    code, out, _ = run(["health", str(EXAMPLES / "snapshot_perps.toml"), "--json"], capsys)
    assert code == 0
    safe = {r["account"]: r for r in json.loads(out)["accounts"]}["safe"]
    assert safe["perp_quote"] == str(32_500 * USDC)
    assert safe["equity_base"] == 49_500 * USD
    assert safe["margin_requirement_base"] == 510 * USD
    assert safe["initial_requirement_base"] == 850 * USD
    assert safe["margin_ratio"] == pytest.approx(510 / 49_500)
    assert safe["positions"]["ETH-PERP"]["entry_price"] == 1_750 * USD
    code, out, _ = run(["health", str(EXAMPLES / "snapshot_perps.toml")], capsys)
    assert code == 0
    assert "Perp accounts" in out and "Perp positions" in out
    line = next(x for x in out.splitlines() if x.startswith("│ safe"))
    for shown in ("32,500.00", "49,500.00", "510.00", "850.00", "1.03%"):
        assert shown in line, shown
    # No lending table with a "collateral 0.00 USD" line for perp-only accounts.
    assert "Account health" not in out
    position = next(x for x in out.splitlines() if x.startswith("│ safe") and "ETH-PERP" in x)
    assert "1,750.00" in position and "never" in position and "-500.00 USDC" in position


def test_simulate_when_perp_liquidations_then_perp_table_with_fill_pnl_and_backstop(
    capsys: pytest.CaptureFixture[str], tmp_path,
):
    # examples/perp_crash.toml (worked in tests/sim/test_perp_crash.py): l1 is filled at
    # 1,600 x (1 - 0.3%) = 1,595.20 against its 2,000 entry: PnL 100 x -404.80 = -40,480,
    # of which the insurance fund pays the 20,480 beyond its 20,000 of margin. l2-l5 are
    # closed at their bankruptcy price 1,800 against the shorts (ADL): PnL -20,000 each.
    result = run_scenario(scenario_from_dict(read_toml(EXAMPLES / "perp_crash.toml")))
    assert result.liquidations == []
    first, *rest = result.perp_liquidations
    assert (first.account, first.side, first.closed) == ("l1", "long", 100 * 10**18)
    assert first.price == 159_520_000_000 and first.bankruptcy_price == 1_800 * USD
    assert first.pnl == -40_480 * USDC and first.insurance_paid == 20_480 * USDC
    assert first.adl_size == 0 and first.equity_before == -20_000 * USD
    assert [r.account for r in rest] == ["l2", "l3", "l4", "l5"]
    assert all(r.price == 1_800 * USD and r.pnl == -20_000 * USDC for r in rest)
    assert all(r.adl_size == 100 * 10**18 and r.insurance_paid == 0 for r in rest)
    assert [r.adl_accounts for r in rest] == [("shorty",), ("shorty",), ("mm",), ("mm",)]
    summary = result.summary()
    assert summary["liquidation_count"] == 5
    assert summary["perp_liquidations"][0]["pnl"] == str(-40_480 * USDC)
    code, out, _ = run(["simulate", str(EXAMPLES / "perp_crash.toml"), "--out",
                        str(tmp_path / "pc")], capsys)
    assert code == 0
    assert "Perp liquidations" in out and "HF before" not in out
    l1 = next(x for x in out.splitlines() if x.startswith("│    2 │ l1"))
    for shown in ("1,595.20", "1,800.00", "-40,480.00", "20,480.00"):
        assert shown in l1, shown
    l4 = next(x for x in out.splitlines() if x.startswith("│    2 │ l4"))
    assert "100 vs mm" in l4
