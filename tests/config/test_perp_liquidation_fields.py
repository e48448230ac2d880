"""The dYdX v4 liquidation fields of a perp market: ``spread_to_mmr`` is dYdX's uint32
``spread_to_maintenance_margin_ratio_ppm`` (its sample genesis uses 1,500,000: above 100%),
``bankruptcy_adjustment`` its ``bankruptcy_adjustment_ppm`` (``LiquidationsConfig.Validate``:
at least 1,000,000). dydxprotocol/v4-chain@84d4664b, protocol/x/clob/types/
liquidations_config.go and protocol/scripts/genesis/sample_pregenesis.json."""

from __future__ import annotations

from typing import Any

import pytest

from marginengine.config import protocol_from_dict


def perp(**fields: Any) -> Any:
    config = protocol_from_dict({
        "preset": "aave-v3", "markets": {"USDC": {}, "WETH": {}},
        "perps": {"ETH-PERP": {"preset": "dydx-v4", **fields}},
    })
    return config.perps["ETH-PERP"]


def test_spread_to_mmr_when_sample_genesis_150_percent_then_accepted_as_ppm():
    market = perp(spread_to_mmr="1.5", bankruptcy_adjustment="2")
    assert market.ppm("spread_to_mmr") == 1_500_000
    assert market.ppm("bankruptcy_adjustment") == 2_000_000
    assert perp().ppm("bankruptcy_adjustment") == 1_000_000  # dYdX's default


@pytest.mark.parametrize(("fields", "message"), [
    ({"bankruptcy_adjustment": "0.5"}, "bankruptcy_adjustment"),
    ({"spread_to_mmr": "4294.967296"}, "spread_to_mmr"),
    ({"spread_to_mmr": "0.0000001"}, "spread_to_mmr must be a whole number of ppm"),
])
def test_liquidation_fields_when_out_of_dydx_range_then_refused_naming_field(
    fields: dict[str, Any], message: str
):
    with pytest.raises(Exception, match=message):
        perp(**fields)


def test_block_limits_when_absent_then_off_and_when_set_then_quote_units():
    # The preset keeps them off (so its pinned figures stand); set, in USDC smallest units.
    assert (perp().max_notional_liquidated, perp().max_insurance_lost) == (None, None)
    market = perp(max_notional_liquidated="2500", max_insurance_lost="0.5")
    amounts = market.quote_amounts(10**6)
    assert (amounts["max_notional_liquidated"], amounts["max_insurance_lost"]) == (
        2_500_000_000, 500_000)


@pytest.mark.parametrize(("fields", "message"), [
    ({"max_notional_liquidated": "0"}, "max_notional_liquidated"),
    ({"max_insurance_lost": "-1"}, "max_insurance_lost"),
    ({"liquidation": "takeover", "max_insurance_lost": "50"},
     "max_insurance_lost: dYdX's subaccount block limits need liquidation = 'fillable'"),
    ({"liquidation": "takeover", "adl_policy": "dydx_offset"},
     "adl_policy: 'dydx_offset'"),
])
def test_block_limits_when_invalid_then_refused_naming_field(fields: dict[str, Any],
                                                             message: str):
    with pytest.raises(Exception, match=message):
        perp(**fields)


def test_block_limits_when_finer_than_a_quote_unit_then_refused_naming_field():
    with pytest.raises(Exception, match=r"perps.ETH-PERP.max_notional_liquidated must be a "
                       r"whole number of quote smallest units \(1/1000000\), got 0.0000001"):
        perp(max_notional_liquidated="0.0000001")
