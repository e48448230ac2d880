"""Cascade scenario inputs that were accepted and must be refused or warned about
(issue 9, item 5), and relative files read from the scenario's folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from marginengine.config import read_toml
from marginengine.errors import ConfigError
from marginengine.sim import apply_overrides
from marginengine.sim.cascade import run_cascade, scenario_spec
from marginengine.sim.cascade_config import cascade_warnings
from tests.cli.test_cli import EXAMPLES, ROOT, run

QUICKSTART = EXAMPLES / "quickstart.toml"
SMALL = ["book.accounts=20", "book.whales=1", "book.total_debt=600000", "steps=4"]


def quickstart(*overrides: str) -> dict[str, Any]:
    # The small book first, then the test's own (which may set a path SMALL sets: one
    # list would refuse the path given twice).
    return apply_overrides(apply_overrides(read_toml(QUICKSTART), SMALL), list(overrides))


def problems(*overrides: str) -> list[str]:
    with pytest.raises(ConfigError) as err:
        scenario_spec(quickstart(*overrides))
    return err.value.problems


@pytest.mark.parametrize(("override", "expected"), [
    ('keepers=[{id="bad id!"}]', "keepers.0.id: account id must be 1-64 letters"),
    ('keepers=[{id="k\\n"}]', "keepers.0.id: account id must be 1-64 letters"),
    ("liquidity.USDC=-5", "liquidity.USDC: must be positive (got -5)"),
    ("prices.FOO=3", "prices.FOO: unknown asset (markets: USDC, WETH)"),
    ("prices.WETH=1500", "prices.WETH: WETH's price comes from [price]; remove it"),
    ("book.collateral_asset=WBTC",
     "book.collateral_asset: 'WBTC' differs from price.asset 'WETH'; the book's collateral "
     "is the asset whose price path is simulated, so set price.asset instead"),
    ("book.whales=50", "book.whales: must be fewer than accounts (50 whales, 20 accounts)"),
    ("book.whales=20", "book.whales: must be fewer than accounts (20 whales, 20 accounts)"),
    # Whales (or the others) of no debt: the Liquity and family books divided by it.
    ("book.whale_share=0", "book.whale_share: 0 leaves the whales (1 of 20 accounts) without "
                           "debt; for a book without whales set whales = 0"),
    ("book.whale_share=1", "book.whale_share: 1 leaves the 19 accounts that are not whales "
                           "without debt; give them a share below 1"),
    ('accounts=[{id="alice\\n"}]', "accounts.0.id: account id must be 1-64 letters"),
    ('accounts=[{id="lender"}]', "accounts.0.id: 'lender' is the runner's own account"),
    ("steps=true", "steps: must not be true or false (got true)"),
    ("seed=false", "seed: must not be true or false (got false)"),
    # Bounds that keep the float book inside float64 (these ended in OverflowError).
    ("price.s0=1e-300", "price.s0: must be at least 0.00000001"),
    ("book.total_debt=1e300", "book.total_debt: must be at most 1E+15"),
    ("book.collateralization_median=1e300",
     "book.collateralization_median: must be at most 1000"),
    ("venue.base_reserve=1e300", "venue.base_reserve: must be at most 1E+15"),
    ("venue.depth_at_1pct=1e16", "venue.depth_at_1pct: must be at most 1E+15"),
    ("book.collateralization_sigma=1e12",
     "book.collateralization_sigma: must be at most 10"),
    ("book.health_sigma=11", "book.health_sigma: must be at most 10"),
    ("step_seconds=1000000000000", "step_seconds: must be at most "
                                   "31536000"),
    ("price.process=path", "price.path: a path process needs at least one price"),
    # The feed compares in whole bps: 0 was refused at run time as 'deviation_bps' (no
    # field path, no file), 0.00015 read as 1 bps.
    ("oracle.deviation=0", "oracle.deviation: must be at least "
                           "0.0001 (got 0)"),
    ("oracle.deviation=0.00015", "oracle.deviation: must be a multiple of 0.0001"),
    # A negative amount paid the keepers for their gas; a misspelt action cost 200,000.
    ("gas.gas_used.liquidate=-300000",
     "gas.gas_used: liquidate: must be at least 0 gas (got -300000)"),
    # Above the gas process's ceiling (sim/gas.py MAX_GAS_GWEI) no keeper could pay; 0 is
    # allowed (a chain with no fee), below it is not.
    ("gas.gwei=2e12", "gas.gwei: must be at most 1e+12 gwei, the highest gas price modelled "
                      "(1,000 ETH per unit of gas; got 2000000000000.0)"),
    ("gas.gwei=-1", "gas.gwei: must be at least 0 (got -1)"),
    ("venue.arbitrage_speed=-0.1",
     "venue.arbitrage_speed: must be at least 0 (got -0.1)"),
    ("venue.arbitrage_speed=1.5",
     "venue.arbitrage_speed: must be at most 1 (got 1.5)"),
    ("gas.gas_used.liquidat=1", "gas.gas_used: liquidat: unknown action (actions: absorb, "
                                "bark, buy_collateral, deal, dent, liquidate, "),
])
def test_scenario_spec_when_input_not_meant_then_refused_naming_field(override: str,
                                                                       expected: str):
    assert any(p.startswith(expected) for p in problems(override)), problems(override)


def test_scenario_spec_when_no_whales_then_any_whale_share_accepted():
    # The share is of the whales' debt: with none (or a book of one account) it is unused.
    scenario_spec(quickstart("book.whales=0", "book.whale_share=0"))
    scenario_spec(quickstart("book.whales=0", "book.whale_share=1"))
    scenario_spec(quickstart("book.accounts=1", "book.whales=0", "book.whale_share=1"))


def test_scenario_spec_when_collateral_asset_given_as_price_asset_then_accepted():
    spec, _ = scenario_spec(quickstart("book.collateral_asset=WETH"))
    assert spec.book.collateral_asset == "WETH"


def test_scenario_spec_when_only_kind_then_required_fields_named():
    with pytest.raises(ConfigError) as err:
        scenario_spec({"kind": "cascade"})
    assert err.value.problems == ["protocol: required field is missing",
                                  "price: required field is missing",
                                  "book: required field is missing"]


def test_cascade_warnings_when_crash_bridge_end_or_shock_after_the_last_step_then_warned(
) -> None:
    # Before: nothing said; the crash and the bridge's end moved to the last step, the
    # shock was dropped.
    assert cascade_warnings(scenario_spec(quickstart("steps=20"))[0]) == [
        "price.crash_at = 36 is after the last step (20): the crash comes at step 20"]
    assert cascade_warnings(scenario_spec(quickstart("steps=36"))[0]) == []
    lst = read_toml(EXAMPLES / "lst_crash.toml")
    lst["steps"] = 15
    lst["price"]["assets"]["wstETH"]["depeg"]["shock"] = -0.06
    assert cascade_warnings(scenario_spec(lst)[0]) == [
        "price.assets.WETH.end_at = 60 is after the last step (15): the bridge reaches 1300 "
        "at step 15",
        "price.assets.wstETH.depeg.shock_at = 20 is after the last step (15): the shock of "
        "-0.06 never happens"]


def test_cascade_warnings_when_sigma_80_then_warned_and_run_continues(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    spec, _ = scenario_spec(quickstart("price.sigma=80", "price.crash_at=2"))
    assert cascade_warnings(spec) == [
        "price.sigma = 80 is 8,000% a year (above 3); sigma is a fraction: 0.8 means 80% "
        "a year"]
    assert cascade_warnings(scenario_spec(quickstart("price.sigma=3",
                                                     "price.crash_at=2"))[0]) == []
    args = [f"--set={o}" for o in [*SMALL, "price.crash_at=2"]]
    code, out, err = run(["simulate", str(QUICKSTART), "--out", str(tmp_path / "o"),
                          "--json", "--quiet", *args, "--set", "price.sigma=80"], capsys)
    assert code == 0 and json.loads(out)["scenario"] == "quickstart"
    assert err == (f"warning: {QUICKSTART}: price.sigma = 80 is 8,000% a year (above 3); "
                   "sigma is a fraction: 0.8 means 80% a year\n")


def test_simulate_when_kind_misspelled_then_one_error_naming_kind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    scenario = tmp_path / "s.toml"
    scenario.write_text(QUICKSTART.read_text().replace('kind = "cascade"', 'kind = "casade"'))
    code, _, err = run(["simulate", str(scenario), "--out", str(tmp_path / "o")], capsys)
    assert code == 2
    assert err == (f"error: {scenario}: kind: unknown kind 'casade' (kinds: scripted, "
                   "cascade; or omit it: [price] makes a cascade, explicit [[steps]] a "
                   "scripted scenario)\n")


def test_simulate_when_only_kind_cascade_then_refused_naming_required_fields(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    scenario = tmp_path / "s.toml"
    scenario.write_text('kind = "cascade"\n')
    code, _, err = run(["simulate", str(scenario), "--out", str(tmp_path / "o")], capsys)
    assert code == 2
    assert err == (f"error: {scenario}: protocol: required field is missing; price: required "
                   "field is missing; book: required field is missing\n")
    assert not (tmp_path / "o").exists()


def replay_scenario(folder: Path) -> Path:
    """The Black Thursday flip scenario copied to ``folder`` with its two data files
    beside it, named relative to it."""
    data = ROOT / "data" / "black_thursday"
    for name in ("eth_usd_10min_2020-03-12_stablesims.json",
                 "eth_gas_10min_2020-03-12_stablesims.json"):
        shutil.copy(data / name, folder / name)
    text = (EXAMPLES / "black_thursday_flip.toml").read_text()
    text = text.replace('file = "../data/black_thursday/', 'file = "')
    scenario = folder / "flip.toml"
    scenario.write_text(text)
    return scenario


def test_replay_files_when_relative_then_read_from_the_scenario_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    folder = tmp_path / "scenarios"
    folder.mkdir()
    scenario = replay_scenario(folder)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # neither the checkout nor the scenario's folder
    reduced = ["book.accounts=30", "book.whales=1", "book.total_debt=1500000", "steps=6"]
    data = apply_overrides(read_toml(scenario), reduced)
    result = run_cascade(data, amplification=False, source=str(scenario))
    # Step 1 is the file's second 10-minute bar (00:10 UTC): its close, 193.93 USD (the
    # series starts at step 0, the initial state, since issue 9 item 14).
    assert result.series["step"][1] == 1
    assert result.series["external_price_usd"][1] == pytest.approx(193.93, abs=1e-8)
    code, out, err = run(["simulate", str(scenario), "--out", "o", "--json", "--quiet",
                          *[f"--set={o}" for o in reduced]], capsys)
    assert code == 0, err
    assert json.loads(out)["state_hash"] == result.summary["state_hash"]


def test_replay_files_when_missing_then_named_before_running(tmp_path: Path):
    data = quickstart("price.process=replay", "price.file=nope.json")
    with pytest.raises(ConfigError) as err:
        scenario_spec(data, source=str(tmp_path / "s.toml"))
    assert err.value.problems == [f"price.file: no such file {str(tmp_path / 'nope.json')!r}"]


def test_anchor_files_when_applied_twice_then_same_file(tmp_path, monkeypatch):
    # Regression: the CLI anchored price.file to the scenario's folder and scenario_spec
    # anchored it again, so `simulate examples/black_thursday_flip.toml` looked for
    # examples/examples/../data/... and exited 2.
    from marginengine.sim.cascade_config import anchor_files

    (tmp_path / "data").mkdir()
    (tmp_path / "examples").mkdir()
    series = tmp_path / "data" / "eth.json"
    series.write_text("[]")
    monkeypatch.chdir(tmp_path)
    data = {"price": {"file": "../data/eth.json"}, "gas": {"gwei": 20}}
    once = anchor_files(data, "examples/scenario.toml")
    twice = anchor_files(once, "examples/scenario.toml")
    assert Path(once["price"]["file"]).resolve() == series.resolve()
    assert twice == once
    assert data["price"]["file"] == "../data/eth.json"      # the input is not changed
