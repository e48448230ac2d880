"""examples/perp_crash.toml: the backstop waterfall of issue 4, worked by hand."""

from pathlib import Path

from marginengine.config import read_toml
from marginengine.sim import apply_overrides, run_scenario, scenario_from_dict

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "perp_crash.toml"


def run(*overrides: str):
    data = apply_overrides(read_toml(EXAMPLE), list(overrides))
    return run_scenario(scenario_from_dict(data))


def test_perp_crash_when_gap_then_fund_exhausted_and_adl():
    result = run()
    s = result.summary()
    # Five 10x longs of 100 ETH at 2,000 (20,000 USDC each) through a gap to 1,600: each is
    # bankrupt at 1,800. The first is filled at 1,600 x (1 - 0.3%) = 1,595.20 and the fund
    # pays the 20,480 between; 9,520 left cannot cover the next 20,480, so the other four
    # are closed at 1,800 against the shorts: 4 x 100 x 1,800 = 720,000 of ADL.
    assert s["liquidation_count"] == 5
    assert s["insurance_fund_drawdown"] == 20_480
    assert s["insurance_fund"]["ETH-PERP"] == 9_520
    assert s["adl_volume"] == 720_000
    assert s["socialized_loss"] == 0 and s["perp_deficit"] == 0
    engine = result.engine
    # shorty (most levered short) was first in the queue and is flat; mm covers the rest.
    assert engine.ledger.perp_size("shorty", "ETH-PERP") == 0
    assert engine.ledger.perp_size("mm", "ETH-PERP") == -100 * 10**18
    assert engine.ledger.perp_size("keeper", "ETH-PERP") == 100 * 10**18
    engine.ledger.check_conservation()


def test_perp_crash_when_fund_large_then_no_adl():
    s = run("insurance.ETH-PERP=200000").summary()
    assert s["adl_volume"] == 0
    assert s["insurance_fund_drawdown"] == 5 * 20_480
