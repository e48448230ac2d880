"""The cascade with the joint price model and a book of several assets: wstETH moves with
ETH, each asset has its own venue and oracle, a loaded book is checked by line."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from marginengine.errors import ConfigError
from marginengine.sim.cascade import CascadeRunner, run_cascade, scenario_spec

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "lst_crash.toml"


def small(**book: Any) -> dict[str, Any]:
    """lst_crash, cut to 300 borrowers and 40 one-minute steps (ETH -35% at minute 30)."""
    data = tomllib.loads(EXAMPLE.read_text())
    data = copy.deepcopy(data)
    data["steps"] = 40
    data["price"]["assets"]["WETH"]["end_at"] = 30
    data["book"].update({"accounts": 300, "total_debt": 20_000_000, "whales": 2, **book})
    return data


def profile_of(account: str, runner: CascadeRunner) -> str:
    """The account's collateral (what is left of it): each profile has its own mix."""
    held = runner.engine.ledger.accounts[account].lending
    return "+".join(sorted(a for a, p in held.items() if p.scaled_supply))


def test_wsteth_moves_with_eth_and_each_asset_has_its_venue() -> None:
    result = run_cascade(small(), amplification=False)
    s = result.series
    eth = s["external_price_usd"]
    wst = s["external_price_usd.wstETH"]
    assert eth[0] == 2000 and eth[30] == 1300
    # No depeg shock: wstETH is ETH x 1.17 x exp(3% a year x t) x (1 + a small OU).
    assert wst[0] == 2340
    assert wst[30] / eth[30] == pytest.approx(1.17, rel=2e-3)
    # Keepers sold seized WETH on its pool, which fell below the external price; the
    # wstETH pool follows wstETH by arbitrage (30% of the gap a step: it lags the fall).
    assets = result.summary["asset_prices"]
    assert assets["WETH"]["min_venue_price"] < assets["WETH"]["min_price"]
    assert wst[30] < s["venue_price_usd.wstETH"][30] < wst[25]
    assert s["venue_price_usd.USDC"] == s["external_price_usd.USDC"]  # no USDC venue
    assert result.summary["setup_rejected"] == 0
    assert result.summary["accounts"] == 300


def liquidated_profiles(data: dict[str, Any], feedback: bool = True
                        ) -> tuple[dict[str, int], CascadeRunner]:
    spec, protocol = scenario_spec(data)
    runner = CascadeRunner(spec, protocol, np.random.default_rng(spec.seed),
                           feedback=feedback)
    runner.run()
    counts: dict[str, int] = {}
    for row in runner.ltv_log:
        key = profile_of(row["account"], runner)
        counts[key] = counts.get(key, 0) + 1
    return counts, runner


def test_loops_survive_the_crash_unless_wsteth_depegs() -> None:
    # wstETH collateral against WETH debt moves with ETH: the crash alone leaves the loops
    # as healthy as they were; ETH collateral against USDC debt is liquidated.
    crash, _ = liquidated_profiles(small())
    assert crash.get("WETH", 0) > 10
    assert crash.get("wstETH", 0) == 0
    # A 10% depeg of wstETH against ETH at minute 20 liquidates the loops.
    data = small()
    data["price"]["assets"]["wstETH"]["depeg"]["shock"] = -0.10
    depeg, runner = liquidated_profiles(data)
    assert depeg.get("wstETH", 0) > 5
    # Their seized wstETH was sold on the wstETH pool: it fell further than on the same
    # path with the sales made at the external price (the twin without feedback).
    _, twin = liquidated_profiles(data, feedback=False)
    low = runner.summary()["asset_prices"]["wstETH"]["min_venue_price"]
    # (1,375.13 against 1,380.81 USD with this seed: a few million of loops on a pool
    # of 4,000 wstETH.)
    assert low < twin.summary()["asset_prices"]["wstETH"]["min_venue_price"] - 3


def test_a_loaded_book_refused_by_the_protocol_stops_the_run(tmp_path: Path) -> None:
    book = tmp_path / "book.csv"
    # At step-0 prices (WETH 2,000, the preset's 80.5% LTV) 1 WETH backs 1,610 USDC; 5
    # wstETH (2,340, 78.5%) back 9,184.5 USD of debt.
    book.write_text("account,asset,supplied,borrowed\n"
                    "alice,WETH,10,\n"
                    "alice,USDC,,16000\n"
                    "bob,wstETH,5,\n"
                    "bob,WETH,,4.5\n"
                    "carol,WETH,1,\n"
                    "carol,USDC,,1700\n")
    data = small()
    data["book"] = {"file": str(book)}
    with pytest.raises(ConfigError) as info:
        run_cascade(data, amplification=False)
    assert len(info.value.problems) == 1
    # 1 WETH (LT 83%) against 1,700 USDC: Aave v3.5+ refuses on the health factor first.
    assert info.value.problems[0].startswith(
        f"{book}:7: account carol: health factor would fall to 0.9765, below 1")
    # Fixed, the book runs: 2 accounts (alice, bob) and carol.
    book.write_text(book.read_text().replace("carol,USDC,,1700", "carol,USDC,,1500"))
    result = run_cascade(data, amplification=False)
    assert result.summary["accounts"] == 3


def test_bad_rows_of_a_book_file_are_reported_by_line(tmp_path: Path) -> None:
    book = tmp_path / "book.csv"
    book.write_text("account,asset,supplied,borrowed\nalice,DOGE,1,\nbob,WETH,-2,\n")
    data = small()
    data["book"] = {"file": str(book)}
    with pytest.raises(ConfigError) as info:
        run_cascade(data, amplification=False)
    assert info.value.problems == [
        f"{book}:2: asset: unknown asset 'DOGE' (markets: USDC, WETH, wstETH)",
        f"{book}:3: supplied: must not be negative (got -2)"]


@pytest.mark.parametrize(("change", "problem"), [
    (lambda d: d["venues"].update({"DAI": {"kind": "amm"}}),
     "venues.DAI: DAI has no simulated price (simulated: USDC, WETH, wstETH)"),
    (lambda d: d["price"].update({"asset": "BTC"}),
     "price.asset: 'BTC' is not one of [price.assets] (WETH, wstETH, USDC); it names the "
     "headline asset"),
    (lambda d: d["price"]["assets"].pop("USDC"),
     "prices.USDC: missing (the book's profiles hold USDC; give its price here or "
     "simulate it in [price.assets])"),
    (lambda d: d["book"].update({"file": "book.csv"}),
     "book: give one of profiles, file or snapshot (got profiles and file)"),
    (lambda d: d["book"]["profiles"][0].update({"share": 0.5}),
     "book.profiles: shares must sum to 1 (got 0.95)"),
    (lambda d: d["price"]["assets"]["wstETH"].update({"base": "ETH"}),
     "price.assets.wstETH.base: unknown asset 'ETH' (assets of the model: WETH, wstETH, "
     "USDC)"),
])
def test_inconsistent_joint_scenarios_are_refused_naming_the_field(
        change: Any, problem: str) -> None:
    data = small()
    change(data)
    with pytest.raises(ConfigError) as info:
        scenario_spec(data)
    assert problem in info.value.problems


def test_single_asset_fields_beside_the_joint_model_are_refused() -> None:
    data = small()
    data["price"]["s0"] = 2000
    with pytest.raises(ConfigError, match=r"price: s0: with \[price.assets\] "
                                          r"each asset has its own process"):
        scenario_spec(data)


def test_same_seed_same_run() -> None:
    a = run_cascade(small(accounts=100), amplification=False)
    b = run_cascade(small(accounts=100), amplification=False)
    assert a.summary["state_hash"] == b.summary["state_hash"]


def test_a_book_file_asset_without_a_price_is_refused(tmp_path: Path) -> None:
    book = tmp_path / "book.csv"
    book.write_text("account,asset,supplied,borrowed\nalice,WETH,10,\nalice,USDC,,1000\n")
    data = small()
    data["book"] = {"file": str(book)}
    del data["price"]["assets"]["USDC"]
    data.pop("venues", None)
    data["oracles"].pop("USDC")
    with pytest.raises(ConfigError) as info:
        run_cascade(data, amplification=False)
    assert info.value.problems == [
        f"prices.USDC: missing ({book} holds USDC; give its price in [prices] or simulate "
        "it in [price.assets])"]
    data["prices"] = {"USDC": 1}
    assert run_cascade(data, amplification=False).summary["accounts"] == 1


def test_cli_refused_book_exits_2_and_writes_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.cli.test_cli import run

    book = tmp_path / "book.csv"
    book.write_text("account,asset,supplied,borrowed\nalice,WETH,1,\nalice,USDC,,5000\n")
    out = tmp_path / "run"
    code, _, err = run(["simulate", str(EXAMPLE), "--out", str(out), "--set", "steps=5",
                        "--set", f'book={{ file = "{book}" }}'], capsys)
    assert code == 2
    assert f"{book}:3: account alice: health factor would fall to 0.332, below 1" in err
    assert not out.exists()
