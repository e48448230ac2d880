"""dYdX v4 liquidation through the engine (``liquidation = "fillable"``), on the accounts of
dYdX's own keeper tables.

Source: dydxprotocol/v4-chain@84d4664bae71e3a077adaac67fb77ad19cd28d30,
protocol/x/clob/keeper/liquidations.go (GetBankruptcyPriceInQuoteQuantums, GetFillablePrice,
GetLiquidationInsuranceFundDelta, GetLiquidatablePositionSizeDelta) and the
"multiple long positions" rows of liquidations_test.go: 0.004 BTC and 0.1 ETH long with
-490 USDC (BTC 50,000, ETH 3,000, IMF 20%, maintenance fraction 50%): fillable price 2,976,
bankruptcy quote of the ETH 294 USDC.
"""

from __future__ import annotations

from typing import Any

from marginengine.config import protocol_from_dict
from marginengine.engine import DepositQuote, Engine, LiquidatePerp, SetPrice, Trade
from marginengine.engine.perp_handlers import plan_perp_liquidation

USD = 10**8
USDC = 10**6
BTC, ETH = 10**8, 10**9  # base_decimals 8 and 9: dYdX's quanta at resolutions -8 and -9


def engine_of(**perp: Any) -> Engine:
    fields = {"preset": "dydx-v4", "tiers": [{"mmf": "0.1", "imf": "0.2"}], **perp}
    config = protocol_from_dict({
        "preset": "aave-v3",
        "markets": {"USDC": {}, "WETH": {}},
        "perps": {"BTC-PERP": {**fields, "base_decimals": 8},
                  "ETH-PERP": {**fields, "base_decimals": 9}},
    })
    return Engine(config)


def prices(engine: Engine, btc: int, eth: int) -> None:
    for asset, price in (("USDC", USD), ("WETH", 2_000 * USD), ("BTC-PERP", btc * USD),
                         ("ETH-PERP", eth * USD)):
        assert engine.apply(SetPrice(asset, price)).accepted


def two_longs(**perp: Any) -> Engine:
    """dYdX's subaccount: 0.004 BTC and 0.1 ETH long with -490 USDC at 50,000 and 3,000.

    Opened at 1.25x the prices (62,500 and 3,750: cost 625 USDC on a 135 USDC deposit, IMR
    125), then the prices fall to the table's: quote balance 135 - 625 = -490.
    """
    engine = engine_of(**perp)
    prices(engine, 62_500, 3_750)
    for account, quote in (("sub", 135), ("short", 1_000_000), ("keeper", 1_000_000)):
        assert engine.apply(DepositQuote(account, quote * USDC)).accepted
    for market, size, price in (("BTC-PERP", 4 * BTC // 1000, 62_500),
                                ("ETH-PERP", ETH // 10, 3_750)):
        outcome = engine.apply(Trade("sub", "short", market, size, price * USD))
        assert outcome.accepted, outcome.reason
    prices(engine, 50_000, 3_000)
    assert engine.ledger.perp_quote_of("sub") == -490 * USDC
    return engine


def test_plan_when_two_positions_then_dydx_fillable_and_bankruptcy_of_the_closed_size():
    engine = two_longs()
    risk = engine.bucket("sub")
    assert engine.equity_quote(risk) == 10 * USDC  # TNC
    assert risk.perp_maintenance == 50 * USDC  # TMMR: 20 + 30
    plan = plan_perp_liquidation(engine, "sub", "ETH-PERP")
    # dYdX's table: 372/125 quote quantums per base quantum = 2,976 USD per ETH.
    assert plan.price == 2_976 * USD
    # The ETH may lose its share 30/50 of TNC: 300 - 6 = 294 USDC, 2,940 per ETH. The
    # whole-bucket rule used before gave 290 USDC (2,900): all of TNC.
    assert plan.bankruptcy_quote == 294 * USDC
    assert plan.bankruptcy_price == 2_940 * USD
    assert (plan.close, plan.underwater) == (ETH // 10, False)


def test_liquidate_when_two_positions_then_fee_capped_at_fill_less_bankruptcy_quote():
    engine = two_longs()
    outcome = engine.apply(LiquidatePerp("keeper", "sub", "ETH-PERP"))
    assert outcome.accepted, outcome.reason
    # Sold 0.1 ETH at 2,976: 297.6 USDC. dYdX's fee: min(floor(297.6 x 1.5%) = 4.464,
    # 297.6 - 294 = 3.6) = 3.6 USDC (was 4.464: the cap was the whole bucket's equity).
    assert outcome.details["fee"] == 3_600_000
    assert engine.ledger.insurance_of("ETH-PERP") == 3_600_000
    assert engine.ledger.perp_quote_of("sub") == -490 * USDC + 297_600_000 - 3_600_000
    engine.ledger.check_conservation()


def test_liquidate_when_partial_limits_then_dydx_block_limits():
    # Sample-genesis position block limits (max_position_portion_liquidated_ppm 100,000,
    # min_position_notional_liquidated 1,000 USDC) as partial_fraction and partial_above.
    engine = engine_of(partial_fraction="0.1", partial_above="1000")
    prices(engine, 50_000, 3_000)
    for account, quote in (("sub", 10_300), ("short", 1_000_000), ("keeper", 1_000_000)):
        assert engine.apply(DepositQuote(account, quote * USDC)).accepted
    assert engine.apply(Trade("sub", "short", "BTC-PERP", BTC, 50_000 * USD)).accepted
    prices(engine, 44_000, 3_000)  # TNC 4,300 < TMMR 4,400: liquidatable
    plan = plan_perp_liquidation(engine, "sub", "BTC-PERP")
    # max(1,000, 10% x 44,000) = 4,400 USDC -> 0.1 BTC; ABR 1/44, spread 10 USDC.
    assert plan.close == BTC // 10 and not plan.underwater
    assert plan.price == 43_990 * USD
    # Bankruptcy of the 0.1 BTC: DNNV -4,400, DMMR 3,960 - 4,400 = -440 (the remaining
    # 0.9 BTC's requirement from the engine's margin model): 4,400 - 4,300 x 440 / 4,400.
    assert plan.bankruptcy_quote == 3_970 * USDC
    outcome = engine.apply(LiquidatePerp("keeper", "sub", "BTC-PERP"))
    assert outcome.accepted, outcome.reason
    assert engine.ledger.perp_size("sub", "BTC-PERP") == 9 * BTC // 10
    engine.ledger.check_conservation()


def _print_above_the_oracle(engine: Engine) -> None:
    """A print of 0.01 ETH at 3,100 while the oracle is 3,000: the basis EMA takes 10% of
    the 33,333 ppm basis (3,333 ppm), so the mark is median(3,000, 3,100, 3,000 x
    1.003333) = 3,009.999 USD while the oracle stays 3,000."""
    outcome = engine.apply(Trade("keeper", "short", "ETH-PERP", ETH // 100, 3_100 * USD))
    assert outcome.accepted, outcome.reason
    assert engine.mark("ETH-PERP") == 300_999_900_000
    assert engine.prices["ETH-PERP"] == 3_000 * USD


def test_margin_when_mark_above_oracle_then_dydx_margins_at_the_oracle():
    # dYdX values net collateral and requirements at x/prices' oracle price
    # (x/subaccounts/lib/updates.go GetRiskForSubaccount -> x/perpetuals/lib/lib.go
    # GetNetCollateralAndMarginRequirements with perpInfo.Price): the table's figures hold
    # whatever the mark.
    engine = two_longs()
    _print_above_the_oracle(engine)
    assert engine.margin_prices()["ETH-PERP"] == 3_000 * USD
    risk = engine.bucket("sub")
    assert engine.equity_quote(risk) == 10 * USDC  # TNC at the oracle
    assert risk.perp_maintenance == 50 * USDC
    plan = plan_perp_liquidation(engine, "sub", "ETH-PERP")
    assert plan.mark == 3_000 * USD
    assert plan.price == 2_976 * USD and plan.bankruptcy_quote == 294 * USDC
    outcome = engine.apply(LiquidatePerp("keeper", "sub", "ETH-PERP"))
    assert outcome.accepted, outcome.reason
    assert outcome.details["mark"] == 3_000 * USD and outcome.details["fee"] == 3_600_000


def test_margin_when_margin_price_mark_then_the_mark_moves_the_figures():
    # The same subaccount margined at the mark (the rule before, still a choice): the ETH's
    # notional trunc(0.1 x 3,009.999) = 300.9999 USDC, IMR ceil(20%) = 60.19998, MMR
    # ceil(50%) = 30.09999 USDC; TNC 10 + 0.9999.
    engine = two_longs(margin_price="mark")
    _print_above_the_oracle(engine)
    risk = engine.bucket("sub")
    eth = next(p for p in risk.positions if p.market == "ETH-PERP")
    assert (eth.mark, eth.maintenance) == (300_999_900_000, 30_099_990)
    assert engine.equity_quote(risk) == 10_999_900
    assert plan_perp_liquidation(engine, "sub", "ETH-PERP").price != 2_976 * USD
