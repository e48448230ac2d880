"""Pool pricing of a perp venue in the cascade (``[perps.markets.X] pricing``): a
liquidator's takeover closed against the venue as a pool at GMX v2's price impact or
Synthetix v3's skew fill price, by the pure rules of venue/gmx.py and venue/synthetix.py.

Sources of the worked numbers: Synthetixio/synthetix-v3 at commit
23585f73c76d625b2a43aaf94dc440a8a1e7a8fa, markets/perps-market/contracts/storage/
AsyncOrder.sol (``calculateFillPrice``'s comment: 100 at 1,200 on no skew and a 1,000,000
skew scale fills at 1,200.06); gmx-io/gmx-synthetics at commit
a5c0c8835182cbd84e47dca04b971239311d2f1d, test/exchange/PositionPriceImpact/PairMarket.ts
(negative factor 1e-8, positive 5e-9, exponent 2: the impact is d^2 x factor) and
BaseOrderUtils.sol ``getExecutionPriceForDecrease``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np
import pytest

from marginengine.config import read_toml
from marginengine.errors import ConfigError
from marginengine.fixedpoint import PRICE_UNIT
from marginengine.sim.cascade import CascadeRunner, scenario_spec
from marginengine.sim.cascade_config import PerpMarketSpec
from marginengine.sim.perps import pool_fill_price
from marginengine.venue import gmx, synthetix
from tests.cli.test_cli import run
from tests.sim.test_perp_cascade import EXAMPLE, alone, check_waterfall, runner_of

ETH = 10**18
GMX = {"pricing": "gmx-v2", "impact_factor_negative": "1e-8",
       "impact_factor_positive": "5e-9"}
SNX = {"pricing": "synthetix-v3", "skew_scale": 1_000_000}


def priced(**market: Any) -> dict[str, Any]:
    data = alone(read_toml(EXAMPLE))
    data["perps"]["markets"] = {"ETH-PERP": market}
    return data


def test_synthetix_fill_when_closing_a_long_on_no_skew_then_the_contracts_figure() -> None:
    # AsyncOrder.sol's comment, mirrored: selling 100 at 1,200 with no skew and a
    # 1,000,000 skew scale fills at 1,200 x (1 + (0 - 100 / 1e6) / 2) = 1,199.94.
    spec = PerpMarketSpec(pricing="synthetix-v3", skew_scale=Decimal(1_000_000))
    price = pool_fill_price(spec, 100 * ETH, 100 * ETH, 100 * ETH, True,
                            1200 * PRICE_UNIT, ETH)
    assert price == 119_994_000_000
    # ... and buying 100 back on the same (zero) skew: the contract's 1,200.06.
    assert pool_fill_price(spec, 0, 0, 100 * ETH, False, 1200 * PRICE_UNIT, ETH) == \
        120_006_000_000 == synthetix.fill_price(0, 10**6 * ETH, 100 * ETH, 1200 * ETH) \
        * PRICE_UNIT // ETH


def test_gmx_fill_when_closing_the_short_that_is_the_imbalance_then_d2_times_factor() -> None:
    # PairMarket.ts's factors: closing a 200,000 USD short (100 ETH at 2,000) that is the
    # whole imbalance improves it to zero: +200,000^2 x 5e-9 = +200 USD to the closer, so
    # the buy back fills 2 USD per ETH under the index (getExecutionPriceForDecrease).
    spec = PerpMarketSpec.model_validate(GMX)
    price = pool_fill_price(spec, 0, 100 * ETH, 100 * ETH, False, 2000 * PRICE_UNIT, ETH)
    unit = 2000 * 10**12  # 2,000 USD per ETH in GMX's 30 decimals per wei
    params = gmx.ImpactParams(5 * 10**21, 10**22, 2 * 10**30, 2 * 10**30)
    impact = gmx.position_impact(0, 100 * ETH * unit, -100 * ETH * unit, False, params)
    assert impact.balance_improved
    assert impact.usd == pytest.approx(200 * 10**30, rel=1e-15)
    execution = gmx.decrease_execution_price(unit, unit, 100 * ETH * unit, 100 * ETH,
                                             100 * ETH * unit, impact.usd, False)
    assert price == -(-execution * PRICE_UNIT * ETH // 10**30)  # rounded up: a buy
    assert price / PRICE_UNIT == pytest.approx(1998, abs=1e-7)
    # Closing a long of a long-heavy book also improves the balance: a premium.
    assert pool_fill_price(spec, 200 * ETH, 0, 100 * ETH, True, 2000 * PRICE_UNIT, ETH) \
        / PRICE_UNIT == pytest.approx(2000 + (400_000**2 - 200_000**2) * 5e-9 / 100,
                                      abs=2e-8)  # pow and 8-decimal rounding


@pytest.mark.parametrize("market", [GMX, SNX], ids=["gmx-v2", "synthetix-v3"])
def test_runner_fill_when_book_opened_then_the_pure_rule_on_the_traders_open_interest(
        market: dict[str, Any]) -> None:
    spec, protocol = scenario_spec(priced(**market))
    runner = CascadeRunner(spec, protocol, np.random.default_rng(spec.seed))
    runner.start()
    perps = runner.perps
    assert perps is not None
    ledger = runner.engine.ledger
    sizes = [ledger.perp_size(a, "ETH-PERP") for a in perps.traders]
    long_oi, short_oi = sum(s for s in sizes if s > 0), -sum(s for s in sizes if s < 0)
    assert perps.open_interest("ETH-PERP") == (long_oi, short_oi)
    assert long_oi > 2 * short_oi > 0  # 80% of the traders long
    index = runner.engine.prices["ETH-PERP"]
    assert index == 2000 * PRICE_UNIT
    closed = 50 * ETH
    for long in (True, False):
        got = perps.pool_price("ETH-PERP", closed, long)
        if market is SNX:
            fill = synthetix.fill_price(long_oi - short_oi, 10**6 * ETH,
                                        -closed if long else closed, 2000 * ETH)
            want = fill * PRICE_UNIT // ETH if long else -(-fill * PRICE_UNIT // ETH)
        else:
            unit = 2000 * 10**12
            params = gmx.ImpactParams(5 * 10**21, 10**22, 2 * 10**30, 2 * 10**30)
            impact = gmx.position_impact(long_oi * unit, short_oi * unit,
                                         -closed * unit, long, params)
            execution = gmx.decrease_execution_price(unit, unit, closed * unit, closed,
                                                     closed * unit, impact.usd, long)
            want = (execution * PRICE_UNIT * ETH // 10**30 if long
                    else -(-execution * PRICE_UNIT * ETH // 10**30))
        assert got == want
    # Long-heavy: closing a long improves the balance (above the index), a short worsens it.
    assert perps.pool_price("ETH-PERP", closed, True) > index
    assert perps.pool_price("ETH-PERP", closed, False) > index


def test_pricing_venue_when_given_then_the_same_run_as_the_default() -> None:
    default = runner_of(alone(read_toml(EXAMPLE)))
    venue = runner_of(priced(pricing="venue"))
    assert default.perps is not None and venue.perps is not None
    assert venue.perps.waterfall == default.perps.waterfall
    assert venue.engine.state_hash() == default.engine.state_hash()


@pytest.mark.parametrize("market", [GMX, SNX], ids=["gmx-v2", "synthetix-v3"])
def test_pool_pricing_when_crash_then_takeovers_close_on_the_pool_and_waterfall_conserved(
        market: dict[str, Any]) -> None:
    default = runner_of(alone(read_toml(EXAMPLE)))
    runner = runner_of(priced(**market))
    totals = check_waterfall(runner)
    assert runner.perps is not None and default.perps is not None
    assert runner.perps.liquidations > 0 and totals["shortfall"] > 0
    # The takeovers went back to the pool: the liquidator holds nothing at the end, and
    # the venue's book was not sold into (its mid stays where the default's hedges
    # pushed it down from).
    assert runner.engine.ledger.perp_size("perp-liquidator", "ETH-PERP") == 0
    assert runner.markets["WETH"].venue_price() > default.markets["WETH"].venue_price()
    assert runner.perps.waterfall != default.perps.waterfall


@pytest.mark.parametrize(("market", "message"), [
    ({"pricing": "gmx-v2"},
     "perps.markets.ETH-PERP.impact_factor_negative: required with pricing = 'gmx-v2'"),
    ({"pricing": "synthetix-v3"},
     "perps.markets.ETH-PERP.skew_scale: required with pricing = 'synthetix-v3'"),
    ({"skew_scale": 1000},
     "perps.markets.ETH-PERP.skew_scale: only with pricing = 'synthetix-v3' (pricing is "
     "'venue')"),
    ({**SNX, "impact_exponent": 2},
     "perps.markets.ETH-PERP.impact_exponent: only with pricing = 'gmx-v2'"),
    ({**GMX, "impact_exponent": 5}, "perps.markets.ETH-PERP.impact_exponent"),
    ({**GMX, "impact_factor_negative": "1e-31"},
     "perps.markets.ETH-PERP.impact_factor_negative: more than 30 decimals"),
    ({**SNX, "skew_scale": 0}, "perps.markets.ETH-PERP.skew_scale"),
    ({"pricing": "uniswap"}, "perps.markets.ETH-PERP.pricing"),
])
def test_pricing_config_when_bad_then_one_line_error_naming_the_field(
        market: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        scenario_spec(priced(**market))
    assert message in str(info.value)


def test_pricing_when_bad_at_the_cli_then_exit_2_and_no_traceback(tmp_path: Any,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    # The example overridden as docs/simulator.md shows, with a bad skew scale.
    code, _, err = run(["simulate", str(EXAMPLE), "--set", "steps=8",
                        "--set", "perps.markets.ETH-PERP.pricing=synthetix-v3",
                        "--set", "perps.markets.ETH-PERP.skew_scale=0",
                        "--out", str(tmp_path / "o"), "--quiet"], capsys)
    assert code == 2
    assert "perps.markets.ETH-PERP.skew_scale" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()
