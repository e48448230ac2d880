"""dYdX v4 pre-trade checks through the engine, on the subaccounts of dYdX's own keeper tests.

Source: dydxprotocol/v4-chain@84d4664bae71e3a077adaac67fb77ad19cd28d30:
protocol/x/subaccounts/keeper/subaccount.go ``internalCanUpdateSubaccountsWithLeverage``
(an update is accepted when the subaccount's net collateral covers its initial margin
after it, ``margin.Risk.IsInitialCollateralized``; the open interest used for the OIMF is
the market's after the match, ``perpOpenInterestDelta``), protocol/x/perpetuals/lib/lib.go
``GetNetCollateralAndMarginRequirements`` (net collateral = USDC + the positions' net
notional at the oracle price, unrealized profit included) and the OIMF rows of
protocol/x/subaccounts/keeper/subaccount_test.go ``TestUpdateSubaccounts``:
``BtcUsd_20PercentInitial_10PercentMaintenance`` (resolution -8) and its
``_25mmLowerCap_50mmUpperCap`` twin, BTC at 50,000, two subaccounts of 900,000 USDC
matching 90 BTC (4,500,000 USDC: "just enough to collateralize 90 BTC at $50,000 and 20%
IMF").
"""

from __future__ import annotations

from typing import Any

import pytest

from marginengine.config import protocol_from_dict
from marginengine.decisions import Code
from marginengine.engine import DepositQuote, Engine, SetPrice, Trade

USD, USDC, BTC = 10**8, 10**6, 10**8


def engine_of(**perp: Any) -> Engine:
    fields = {"preset": "dydx-v4", "tiers": [{"mmf": "0.1", "imf": "0.2"}],
              "base_decimals": 8, **perp}
    engine = Engine(protocol_from_dict({
        "preset": "aave-v3", "markets": {"USDC": {}, "WETH": {}},
        "perps": {"BTC-PERP": fields}}))
    for asset, price in (("USDC", USD), ("WETH", 2_000 * USD), ("BTC-PERP", 50_000 * USD)):
        assert engine.apply(SetPrice(asset, price)).accepted
    return engine


CAPS = {"oi_scaling": {"lower_cap": "25000000", "upper_cap": "50000000"}}


@pytest.mark.parametrize(("caps", "open_interest", "accepted"), [
    # "(OIMF) OI increased, still at base IMF, match is collateralized" (no caps).
    ({"oi_scaling": None}, 0, True),
    # "(OIMF) current OI soft lower cap, match collateralized at base IMF but not OIMF":
    # 500 BTC open (25,000,000 USDC) -> 590 after the match: OIMF 20% + 80% x 4.5 / 25.
    (CAPS, 500 * BTC, False),
    # "(OIMF) match collateralized at base IMF and just collateralized at OIMF": 410 BTC ->
    # 500 after the match, exactly the lower cap: base IMF.
    (CAPS, 410 * BTC, True),
    # "... and just failed collateralization at OIMF": 410.001 BTC -> 25,000,050 USDC after
    # the match: OIMF 200,001 ppm, IMR 900,004.5 > 900,000.
    (CAPS, 41_000_100_000, False),
])
def test_trade_when_dydx_oimf_rows_then_accepted_as_dydx(caps: dict[str, Any],
                                                        open_interest: int,
                                                        accepted: bool) -> None:
    engine = engine_of(**caps)
    for account, quote in (("bob", 900_000), ("alice", 900_000), ("whale", 10**9),
                           ("whale2", 10**9)):
        assert engine.apply(DepositQuote(account, quote * USDC)).accepted
    if open_interest:
        assert engine.apply(Trade("whale", "whale2", "BTC-PERP", open_interest,
                                  50_000 * USD)).accepted
    outcome = engine.apply(Trade("bob", "alice", "BTC-PERP", 90 * BTC, 50_000 * USD))
    assert outcome.accepted is accepted, outcome.reason
    if not accepted:
        assert outcome.code == Code.UNDERCOLLATERALIZED


def test_trade_when_dydx_position_in_profit_then_net_collateral_counts_the_profit() -> None:
    # 10,000 USDC, 1 BTC bought at 40,000 (IMR 8,000); BTC at 50,000: TNC = 10,000 -
    # 40,000 + 50,000 = 20,000 (GetNetCollateralAndMarginRequirements: USDC + net notional).
    # Buying 0.5 BTC more needs IMR 20% x 75,000 = 15,000 <= 20,000: dYdX accepts it. (Our
    # rule before left the 10,000 unrealized profit out of initial margin: 10,000 < 15,000.)
    engine = engine_of(oi_scaling=None)
    assert engine.apply(SetPrice("BTC-PERP", 40_000 * USD)).accepted
    for account, quote in (("bob", 10_000), ("alice", 10**6)):
        assert engine.apply(DepositQuote(account, quote * USDC)).accepted
    assert engine.apply(Trade("bob", "alice", "BTC-PERP", BTC, 40_000 * USD)).accepted
    assert engine.apply(SetPrice("BTC-PERP", 50_000 * USD)).accepted
    risk = engine.bucket("bob")
    assert engine.equity_quote(risk) == 20_000 * USDC
    outcome = engine.apply(Trade("bob", "alice", "BTC-PERP", BTC // 2, 50_000 * USD))
    assert outcome.accepted, outcome.reason
    assert engine.bucket("bob").perp_initial == 15_000 * USDC
    # 0.25 BTC more: IMR 20% x 87,500 = 17,500 <= 20,000, accepted; 0.25 more: 20% x
    # 100,000 = 20,000 <= 20,000, accepted; 0.01 more is refused.
    for _ in range(2):
        assert engine.apply(Trade("bob", "alice", "BTC-PERP", BTC // 4, 50_000 * USD)).accepted
    refused = engine.apply(Trade("bob", "alice", "BTC-PERP", BTC // 100, 50_000 * USD))
    assert (refused.accepted, refused.code) == (False, Code.UNDERCOLLATERALIZED)



def _under_initial_long() -> Engine:
    """10,000 USDC long 1 BTC from 50,000 (IMR 10,000); BTC at 46,000: TNC 6,000 below the
    IMR of 9,200, above the MMR of 4,600."""
    engine = engine_of(oi_scaling=None)
    for account, quote in (("bob", 10_000), ("alice", 10**6), ("carl", 10**6)):
        assert engine.apply(DepositQuote(account, quote * USDC)).accepted
    assert engine.apply(Trade("bob", "alice", "BTC-PERP", BTC, 50_000 * USD)).accepted
    assert engine.apply(SetPrice("BTC-PERP", 46_000 * USD)).accepted
    risk = engine.bucket("bob")
    assert (engine.equity_quote(risk), risk.perp_initial, risk.perp_maintenance) == (
        6_000 * USDC, 9_200 * USDC, 4_600 * USDC)
    return engine


def test_trade_when_dydx_undercollateralized_reduces_at_a_bad_price_then_refused() -> None:
    # internalCanUpdateSubaccountsWithLeverage -> IsValidStateTransitionForUndercollateralized
    # Subaccount: selling 0.5 BTC at 38,000 against the oracle's 46,000 costs 4,000: TNC
    # 2,000 against IMR 4,600 and MMR 2,300, NC / MMR 6,000 / 4,600 -> 2,000 / 2,300
    # falls: refused, as dYdX refuses it. Our rule before let a side that only reduces
    # risk trade at any price.
    engine = _under_initial_long()
    refused = engine.apply(Trade("carl", "bob", "BTC-PERP", BTC // 2, 38_000 * USD))
    assert (refused.accepted, refused.code) == (False, Code.UNDERCOLLATERALIZED)
    assert refused.data["status"] == "StillUndercollateralized"
    # At 40,000 the ratio is the same, 6,000 x 2,300 = 3,000 x 4,600: Risk.Cmp's tie goes
    # to the lower maintenance requirement, so the sale is allowed.
    outcome = engine.apply(Trade("carl", "bob", "BTC-PERP", BTC // 2, 40_000 * USD))
    assert outcome.accepted, outcome.reason
    assert engine.equity_quote(engine.bucket("bob")) == 3_000 * USDC
