"""Perp rules that follow the protocols' own code (issue 9, items 6 to 10), in the engine and
in the configuration. Each test names the protocol file it follows."""

from __future__ import annotations

from typing import Any

import pytest

from marginengine.config import protocol_from_dict
from marginengine.engine import AdvanceTime, DepositQuote, Engine, SetPrice, Trade

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
     r"tiers\.0.mmf / tiers\.0.imf must be a whole number of ppm"),
    ({"margin_model": "tiers", "tiers": [{"mmf": "0.01", "imf": "0.03"}]},  # dYdX funding
     r"tiers\.0.mmf / tiers\.0.imf must be a whole number of ppm"),
    ({"oi_cap": "0.0000000000000000001"}, "oi_cap must be a whole number of base"),
    ({"margin_model": "tiers", "tiers": [{"mmf": "0.03", "imf": "0.05"},
                                         {"notional_floor": "0.0000001", "mmf": "0.04",
                                          "imf": "0.06"}]},
     r"perps.ETH-PERP.tiers\.1.notional_floor must be a whole number of quote"),
    ({"partial_above": "100000.0000001"}, "partial_above must be a whole number of quote"),
    ({"oi_scaling": {"lower_cap": "0.5", "upper_cap": "1.0000001"}},
     "oi_scaling.upper_cap must be a whole number of quote"),
    ({"margin_model": "tiers", "size_premium_factor": "0.0005",
      "funding": {"formula": "binance"}, "tiers": [{"mmf": "0.03", "imf": "0.05005"}]},
     r"tiers\.0.imf must be a whole number of basis points"),
])
def test_config_when_amount_not_representable_then_refused_naming_field(
    perp: dict[str, Any], message: str
):
    with pytest.raises(Exception, match=message):
        config(**perp)


# --- items 6 and 7: funding as Hyperliquid and dYdX v4 compute it -------------------------


def funded(preset: str, trade_price: int = 2_020) -> Engine:
    """100 ETH long against a short, traded at ``trade_price`` over an index of 2,000, then
    one hour: the trade's basis (1%) moves the basis EMA by alpha 10% to 0.1%, so the mark
    is median(2,000, 2,020, 2,002) = 2,002, a premium of 0.1%."""
    engine = engine_with(preset=preset)
    for account in ("long", "short"):
        assert engine.apply(DepositQuote(account, 100_000 * USDC)).accepted
    assert engine.apply(Trade("long", "short", "ETH-PERP", 100 * ETH, trade_price * USD)).accepted
    assert engine.mark("ETH-PERP") == 2_002 * USD
    outcome = engine.apply(AdvanceTime(3600))
    assert outcome.accepted
    return engine


def owed(engine: Engine, account: str) -> int:
    return engine.bucket(account).positions[0].funding_owed


def test_hyperliquid_funding_when_premium_then_one_eighth_of_8h_rate_an_hour():
    # Hyperliquid docs, Trading > Funding: F = P + clamp(0.01% - P, +-0.05%) per 8 hours
    # = 0.1% - 0.05% = 0.05%; one eighth an hour: 0.00625% of 100 ETH x 2,000 (oracle)
    # = 12.5 USDC. The old rule paid the 8-hour formula every hour: 100 USDC (8x).
    engine = funded("hyperliquid")
    assert owed(engine, "long") == 12_500_000
    assert owed(engine, "short") == -12_500_000


def test_hyperliquid_funding_when_no_premium_then_interest_exact_not_12_ppm():
    # No premium: 0.01% / 8 = 0.00125% an hour of 200,000 USDC = 2.5 USDC exactly. Held
    # as 12 ppm (the old whole-ppm rate) it was 2.4 USDC.
    engine = engine_with(preset="hyperliquid")
    for account in ("long", "short"):
        assert engine.apply(DepositQuote(account, 100_000 * USDC)).accepted
    assert engine.apply(Trade("long", "short", "ETH-PERP", 100 * ETH, 2_000 * USD)).accepted
    assert engine.apply(AdvanceTime(3600)).accepted
    assert owed(engine, "long") == 2_500_000


def test_dydx_funding_when_premium_then_8h_rate_scaled_to_tick_and_truncated():
    # x/perpetuals: premium samples trunc(0.1% x 1e6) = 1,000 ppm (60 one-minute samples),
    # default funding 0, clamp 600% x (5% - 3%) = 120,000 ppm -> rate 1,000 ppm per 8 h.
    # GetFundingIndexDelta at ETH's quantum 1e-9 (2 quote quantums per base quantum):
    # trunc(3,600 x 1,000 x 2 / 28,800) = 250 ppm of a quote quantum per quantum; 100 ETH
    # = 1e11 quanta pay 1e11 x 250 / 1e6 = 25 USDC (0.1% / 8 of 200,000). The old rule paid
    # the full premium, capped at 0.25%: 0.1% of 200,000 = 200 USDC an hour.
    engine = funded("dydx-v4")
    assert owed(engine, "long") == 25_000_000
    assert owed(engine, "short") == -25_000_000


def test_hyperliquid_preset_when_loaded_then_hyperliquid_adl_index():
    assert config(preset="hyperliquid").perps["ETH-PERP"].adl_policy == "hyperliquid_index"


@pytest.mark.parametrize(("funding", "message"), [
    ({"interest": "0.0000125"}, "perps.ETH-PERP.funding: interest must be a whole number of ppm"),
    ({"cap": "0.01"}, "perps.ETH-PERP.funding: cap: formula dydx-v4 has none"),
    ({"interest_clamp": "0.0005"},
     "perps.ETH-PERP.funding: interest_clamp: formula dydx-v4 has none"),
    ({"period": 3600}, "perps.ETH-PERP.funding: period: dYdX's funding rate is an 8-hour rate"),
    ({"clamp_factor": "6.0000001"},
     "perps.ETH-PERP.funding: clamp_factor must be a whole number of ppm"),
])
def test_dydx_funding_when_not_representable_then_refused_naming_field(
    funding: dict[str, Any], message: str
):
    with pytest.raises(Exception, match=message):
        config(funding=funding)


def test_hyperliquid_formula_when_period_left_out_then_8_hour_rate():
    funding = config(preset="hyperliquid", funding={"period": 0}).perps["ETH-PERP"].funding
    assert funding.rate_period == 28_800
    binance = config(funding={"formula": "binance", "interval": 28_800}).perps["ETH-PERP"]
    assert binance.funding.rate_period == 28_800
    assert config(funding={"formula": "binance"}).perps["ETH-PERP"].funding.rate_period == 3600


# --- Drift v2: funding clamped by contract tier (drift-labs/protocol-v2@0ae3e3b1
# controller/funding.rs update_funding_rate; state/perp_market.rs) -------------------------


def drift_funded(tier: str | None, trade_price: int) -> Engine:
    funding: dict[str, Any] = {"formula": "drift-v2", "interval": 3600}
    if tier is not None:
        funding["contract_tier"] = tier
    engine = engine_with(preset="hyperliquid", funding=funding)
    for account in ("long", "short"):
        assert engine.apply(DepositQuote(account, 1_000_000 * USDC)).accepted
    assert engine.apply(Trade("long", "short", "ETH-PERP", 100 * ETH, trade_price * USD)).accepted
    assert engine.apply(AdvanceTime(3600)).accepted
    return engine


def test_drift_funding_when_mark_far_above_then_clamped_by_tier():
    # Traded at 2,400 over 2,000: the basis EMA (alpha 10%) puts the mark at
    # median(2,000, 2,400, 2,040) = 2,040, a 2% spread: inside every tier's clamp. Drift:
    # (40e6 + 2,000e6 / 5000) x 1000 / 24 = 40.4e9 / 24 = 1,683,333,333 (1e9: USDC per
    # ETH an hour, truncated); 100 ETH pay 168.3333333 USDC (the ledger rounds to 1e-6).
    engine = drift_funded(None, 2_400)
    assert engine.mark("ETH-PERP") == 2_040 * USD
    assert owed(engine, "long") == 168_333_334   # the payer's share rounds up
    # Traded at 3,000: mark median(2,000, 3,000, 2,100) = 2,100, a 5% spread. Tier A
    # clamps it at 2,000e6 / 33 = 60,606,060: x 1000 / 24 = 2,525,252,500 -> 252.52525
    # USDC for 100 ETH; the default tier (10%) lets the 5% (+ offset) through:
    # 100.4e6 x 1000 / 24 = 4,183,333,333 -> 418.3333333 USDC.
    engine = drift_funded("A", 3_000)
    assert engine.mark("ETH-PERP") == 2_100 * USD
    assert owed(engine, "long") == 252_525_250
    assert owed(drift_funded(None, 3_000), "long") == 418_333_334


def test_drift_contract_tier_when_other_formula_then_refused_naming_field():
    with pytest.raises(Exception, match="funding: contract_tier: only formula drift-v2"):
        config(preset="hyperliquid", funding={"contract_tier": "A"})
    with pytest.raises(Exception, match="funding.contract_tier"):
        config(preset="hyperliquid", funding={"formula": "drift-v2", "contract_tier": "D"})


# --- Mango v4: a daily rate clamped to [min_funding, max_funding], at most an hour per
# update (blockworks-foundation/mango-v4@1303a4a1 state/perp_market.rs
# update_funding_and_stable_price; PerpPosition::settle_funding) --------------------------


def mango_funded(trade_price: int, interval: int = 3600, **bounds: str) -> Engine:
    engine = engine_with(preset="hyperliquid",
                         funding={"formula": "mango-v4", "interval": interval, **bounds})
    for account in ("long", "short"):
        assert engine.apply(DepositQuote(account, 1_000_000 * USDC)).accepted
    assert engine.apply(Trade("long", "short", "ETH-PERP", 100 * ETH, trade_price * USD)).accepted
    assert engine.apply(AdvanceTime(interval)).accepted
    return engine


def test_mango_funding_when_premium_then_daily_rate_for_an_hour_longs_pay():
    # Mark 2,002 over the oracle's 2,000 (see funded): the daily rate 0.1%, inside the
    # default +-5%; one hour of it: funding_delta = oracle x rate x 3,600 / 86,400 per
    # base, 2,000 x 0.001 / 24 = 0.083333 USDC per ETH, 8.333333 USDC for 100 ETH. Both
    # long_funding and short_funding rise by it: the long pays, the short (negative lots)
    # receives.
    engine = mango_funded(2_020)
    assert engine.mark("ETH-PERP") == 2_002 * USD
    assert owed(engine, "long") == 8_333_334      # the payer's share rounds up
    assert owed(engine, "short") == -8_333_333
    # Traded at 3,000: mark 2,100, a 5% premium, clamped to max_funding 1% a day:
    # 2,000 x 0.01 / 24 x 100 = 83.333333 USDC.
    assert owed(mango_funded(3_000, max_funding="0.01"), "long") == 83_333_334
    # An 8-hour interval still pays one hour: Mango's max_funding_timestep is 3,600 s.
    assert owed(mango_funded(2_020, interval=28_800), "long") == 8_333_334


def test_mango_funding_bounds_when_other_formula_or_crossed_then_refused_naming_field():
    with pytest.raises(Exception, match="funding: min_funding: only formula mango-v4"):
        config(preset="hyperliquid", funding={"min_funding": "-0.01"})
    with pytest.raises(Exception, match="min_funding 0.02 is above max_funding 0.01"):
        config(preset="hyperliquid", funding={"formula": "mango-v4", "min_funding": "0.02",
                                              "max_funding": "0.01"})
