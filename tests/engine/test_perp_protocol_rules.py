"""Perp rules that follow the protocols' own code (issue 9, items 6 to 10), in the engine and
in the configuration. Each test names the protocol file it follows."""

from __future__ import annotations

from typing import Any

import pytest

from marginengine.config import protocol_from_dict
from marginengine.engine import DepositQuote, Engine, SetPrice, Trade

USD = 10**8
ETH = 10**18
USDC = 10**6


def config(**perp: Any) -> Any:
    fields = {"preset": "dydx-v4", "base_decimals": 18, **perp}
    return protocol_from_dict({
        "preset": "aave-v3",
        "markets": {"USDC": {}, "WETH": {}},
        "perps": {"ETH-PERP": fields},
    })


def engine_with(**perp: Any) -> Engine:
    engine = Engine(config(**perp))
    for asset, price in (("USDC", USD), ("WETH", 2_000 * USD), ("ETH-PERP", 2_000 * USD)):
        assert engine.apply(SetPrice(asset, price)).accepted
    return engine


# --- item 9: dYdX v4 margin roundings ------------------------------------------------------


def test_dydx_maintenance_when_fraction_of_initial_then_rounded_up_twice():
    # protocol/x/perpetuals/lib/lib.go GetMarginRequirementsInQuoteQuantums: MMR =
    # ceil(ceil(N x 5%) x 60%). N = 2,000,000,021 quote units (2,000.000021 USDC):
    # ceil(100,000,001.05) = 100,000,002; x 0.6 = 60,000,001.2 -> 60,000,002.
    # One rounding of N x 3% would give ceil(60,000,000.63) = 60,000,001.
    engine = engine_with(step_size="0.000000000000000001")
    for account in ("long", "short"):
        assert engine.apply(DepositQuote(account, 1_000 * USDC)).accepted
    size = 1_000_000_010_500_000_000  # 1.0000000105 ETH at 2,000: notional 2,000.000021
    assert engine.apply(Trade("long", "short", "ETH-PERP", size, 2_000 * USD)).accepted
    risk = engine.bucket("long")
    assert risk.positions[0].notional == 2_000_000_021
    assert risk.perp_maintenance == 60_000_002
    assert risk.perp_initial == 100_000_002


@pytest.mark.parametrize(("perp", "message"), [
    ({"tiers": [{"mmf": "0.03", "imf": "0.05"},
                {"notional_floor": "1000000", "mmf": "0.04", "imf": "0.06"}]},
     "margin_model dydx-v4 takes exactly one tier"),
    ({"tiers": [{"mmf": "0.01", "imf": "0.03"}]},
     r"tiers\[0\].mmf / tiers\[0\].imf must be a whole number of ppm"),
    ({"oi_cap": "0.0000000000000000001"}, "oi_cap must be a whole number of base"),
    ({"margin_model": "tiers", "tiers": [{"mmf": "0.03", "imf": "0.05"},
                                         {"notional_floor": "0.0000001", "mmf": "0.04",
                                          "imf": "0.06"}]},
     r"perps.ETH-PERP.tiers\[1\].notional_floor must be a whole number of quote"),
    ({"partial_above": "100000.0000001"}, "partial_above must be a whole number of quote"),
    ({"oi_scaling": {"lower_cap": "0.5", "upper_cap": "1.0000001"}},
     "oi_scaling.upper_cap must be a whole number of quote"),
    ({"margin_model": "tiers", "size_premium_factor": "0.0005",
      "tiers": [{"mmf": "0.03", "imf": "0.05005"}]},
     r"tiers\[0\].imf must be a whole number of basis points"),
])
def test_config_when_amount_not_representable_then_refused_naming_field(
    perp: dict[str, Any], message: str
):
    with pytest.raises(Exception, match=message):
        config(**perp)
