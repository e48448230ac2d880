"""dYdX v4's subaccount block limits and deleveraging through the engine.

Source: dydxprotocol/v4-chain@84d4664bae71e3a077adaac67fb77ad19cd28d30,
protocol/x/clob/keeper/liquidations.go (GetLiquidatablePositionSizeDelta,
GetSubaccountMaxNotionalLiquidatable, validateLiquidationAgainstSubaccountBlockLimits) and
deleveraging.go (MaybeDeleverageSubaccount, OffsetSubaccountPerpetualPosition); the worked
numbers are those of liquidations_test.go ``TestGetPerpetualPositionToLiquidate`` and
deleveraging_test.go ``TestOffsetSubaccountPerpetualPosition``.
"""

from __future__ import annotations

from typing import Any

import pytest

from marginengine.config import protocol_from_dict
from marginengine.decisions import Code
from marginengine.engine import (
    AdvanceTime,
    DepositQuote,
    Engine,
    FundInsurance,
    LiquidatePerp,
    SetPrice,
    Trade,
)
from marginengine.engine.perp_handlers import plan_perp_liquidation

USD = 10**8
USDC = 10**6
BTC = 10**8


def engine_of(**perp: Any) -> Engine:
    fields = {"preset": "dydx-v4", "tiers": [{"mmf": "0.1", "imf": "0.2"}],
              "base_decimals": 8, "step_size": "0.00000001", **perp}
    return Engine(protocol_from_dict({
        "preset": "aave-v3", "markets": {"USDC": {}},
        "perps": {"BTC-PERP": fields, "ETH-PERP": fields}}))


def price(engine: Engine, market: str, usd: int) -> None:
    assert engine.apply(SetPrice(market, usd * USD)).accepted


def tenth_btc_long(eth: bool = False, **perp: Any) -> Engine:
    """0.1 BTC long (dYdX's PerpetualPosition_OneTenthBTCLong, 5,000 USDC at 50,000),
    opened at 62,500 on 1,300 USDC: at 50,000 its TNC is 50 < its MMR 500. ``eth``: also
    0.1 ETH long opened at 3,750 (75 USDC more deposited), at 3,000."""
    engine = engine_of(**perp)
    price(engine, "USDC", 1)
    price(engine, "BTC-PERP", 62_500)
    price(engine, "ETH-PERP", 3_750)
    for account, quote in (("sub", 1_375 if eth else 1_300), ("short", 1_000_000),
                           ("keeper", 1_000_000)):
        assert engine.apply(DepositQuote(account, quote * USDC)).accepted
    trades = [("BTC-PERP", 62_500)] + ([("ETH-PERP", 3_750)] if eth else [])
    for market, usd in trades:
        outcome = engine.apply(Trade("sub", "short", market, BTC // 10, usd * USD))
        assert outcome.accepted, outcome.reason
    price(engine, "BTC-PERP", 50_000)
    price(engine, "ETH-PERP", 3_000)
    return engine


@pytest.mark.parametrize(("fields", "close", "bound"), [
    # "Full position is returned when position smaller than subaccount limit": $10,000.
    ({"max_notional_liquidated": "10000"}, BTC // 10, ""),
    # "Max subaccount limit is returned when position larger than subaccount limit": $2,500.
    ({"max_notional_liquidated": "2500"}, 5 * BTC // 100, "max_notional_liquidated"),
    # "position size is capped by subaccount block limit when subaccount limit is lower
    # than position block limit": 50% of $5,000 vs $2,000 -> 0.04 BTC.
    ({"max_notional_liquidated": "2000", "partial_fraction": "0.5",
      "partial_above": "0.001"}, 4 * BTC // 100, "max_notional_liquidated"),
    # "... capped by position block limit when position limit is lower than subaccount
    # block limit": 40% of $5,000 = $2,000 vs $2,500 -> 0.04 BTC.
    ({"max_notional_liquidated": "2500", "partial_fraction": "0.4",
      "partial_above": "0.001"}, 4 * BTC // 100, "partial_fraction"),
])
def test_plan_when_subaccount_limit_then_dydx_size_delta(fields: dict[str, str], close: int,
                                                         bound: str) -> None:
    plan = plan_perp_liquidation(tenth_btc_long(**fields), "sub", "BTC-PERP")
    assert (plan.close, plan.limited_by) == (close, bound)


def test_liquidate_when_limited_then_recorded_refused_again_and_reset_next_block() -> None:
    engine = tenth_btc_long(max_notional_liquidated="2500")
    outcome = engine.apply(LiquidatePerp("keeper", "sub", "BTC-PERP"))
    assert outcome.accepted, outcome.reason
    assert outcome.details["closed"] == 5 * BTC // 100
    assert outcome.details["limited_by"] == "max_notional_liquidated"
    info = engine.ledger.block_liquidation_of("sub")
    # 0.05 BTC at the 50,000 oracle: 2,500 USDC; the fill paid a fee, the fund lost nothing.
    assert (info.markets, info.notional, info.insurance_lost) == (("BTC-PERP",), 2_500 * USDC, 0)
    # HasPerpetualBeenLiquidatedForSubaccount: once per perpetual per block.
    again = engine.apply(LiquidatePerp("keeper", "sub", "BTC-PERP"))
    assert not again.accepted
    assert again.refusal is not None
    assert again.refusal.code is Code.SUBACCOUNT_HAS_LIQUIDATED_PERPETUAL
    # A new block forgets the totals (dYdX's transient store).
    assert engine.apply(AdvanceTime(1)).accepted
    assert engine.ledger.block_liquidation_of("sub").notional == 0
    plan = plan_perp_liquidation(engine, "sub", "BTC-PERP")
    assert plan.close == 5 * BTC // 100
    engine.ledger.check_conservation()


def test_liquidate_when_notional_limit_used_by_another_market_then_refused_naming_it() -> None:
    # "PlacePerpetualLiquidation considers pre-existing liquidations and stops before
    # exceeding max notional liquidated per block": the block's notional is the account's
    # over every market. After 2,500 of BTC, 0 of the 2,500 is left for ETH.
    engine = tenth_btc_long(eth=True, max_notional_liquidated="2500")
    assert engine.apply(LiquidatePerp("keeper", "sub", "BTC-PERP")).accepted
    outcome = engine.apply(LiquidatePerp("keeper", "sub", "ETH-PERP"))
    assert not outcome.accepted
    assert outcome.refusal is not None
    assert outcome.refusal.code is Code.LIQUIDATION_EXCEEDS_MAX_NOTIONAL_LIQUIDATED
    assert outcome.refusal.data["limit"] == "max_notional_liquidated"
    assert outcome.refusal.data["allowed"] == 0


def carl_and_daves(**perp: Any) -> Engine:
    """Carl 1 BTC short with 54,999 USDC (Carl_Num0_1BTC_Short_54999USD), Dave_Num0 and
    Dave_Num1 0.5 BTC long each with 50,000 USDC, all opened at 50,000."""
    engine = engine_of(tiers=[{"mmf": "0.03", "imf": "0.05"}], adl_policy="dydx_offset",
                       **perp)
    price(engine, "USDC", 1)
    price(engine, "BTC-PERP", 50_000)
    price(engine, "ETH-PERP", 3_000)
    for account, quote in (("carl", 4_999), ("dave/0", 75_000), ("dave/1", 75_000),
                           ("keeper", 1_000_000)):
        assert engine.apply(DepositQuote(account, quote * USDC)).accepted
    for dave in ("dave/0", "dave/1"):
        outcome = engine.apply(Trade(dave, "carl", "BTC-PERP", BTC // 2, 50_000 * USD))
        assert outcome.accepted, outcome.reason
    assert engine.ledger.perp_quote_of("carl") == 54_999 * USDC
    return engine


def test_deleverage_when_dydx_offset_then_each_fill_at_its_bankruptcy_quote() -> None:
    # TestOffsetSubaccountPerpetualPosition "Can get multiple offsetting subaccounts": each
    # Dave receives 27,499.5 USDC (the bankruptcy quote of 0.5 BTC, fill by fill).
    engine = carl_and_daves()
    price(engine, "BTC-PERP", 55_500)  # TNC 54,999 - 55,500 = -501: deleveraged
    outcome = engine.apply(LiquidatePerp("keeper", "carl", "BTC-PERP"))
    assert outcome.accepted, outcome.reason
    assert sorted(f["account"] for f in outcome.details["adl"]) == ["dave/0", "dave/1"]
    assert [f["quote"] for f in outcome.details["adl"]] == [-27_499_500_000] * 2
    for dave in ("dave/0", "dave/1"):
        assert engine.ledger.perp_quote_of(dave) == 50_000 * USDC + 27_499_500_000
        assert engine.ledger.perp_size(dave, "BTC-PERP") == 0
    assert engine.ledger.perp_quote_of("carl") == 0
    assert engine.ledger.perp_size("carl", "BTC-PERP") == 0
    engine.ledger.check_conservation()


def test_liquidate_when_fund_payment_above_insurance_limit_then_deleveraged_not_paid() -> None:
    # validateLiquidationAgainstSubaccountBlockLimits: the fund would pay 667.5 USDC of
    # the fill's loss, above the 0.5 USDC max_insurance_lost ("... stops before exceeding
    # max insurance lost per block"); Carl's TNC is negative, so it is deleveraged instead
    # and the fund keeps its 10,000 USDC.
    engine = carl_and_daves(max_insurance_lost="0.5")
    assert engine.apply(FundInsurance(10_000 * USDC, "BTC-PERP")).accepted
    price(engine, "BTC-PERP", 55_500)
    outcome = engine.apply(LiquidatePerp("keeper", "carl", "BTC-PERP"))
    assert outcome.accepted, outcome.reason
    assert outcome.details["block_limit"] == "max_insurance_lost"
    assert [f["quote"] for f in outcome.details["adl"]] == [-27_499_500_000] * 2
    assert engine.ledger.insurance_of("BTC-PERP") == 10_000 * USDC
    # Deleveraging is no liquidation: the block's totals are untouched (ProcessDeleveraging).
    assert engine.ledger.block_liquidation_of("carl").notional == 0
    engine.ledger.check_conservation()


def test_liquidate_when_fund_payment_within_insurance_limit_then_paid_and_recorded() -> None:
    engine = carl_and_daves(max_insurance_lost="1000")
    assert engine.apply(FundInsurance(10_000 * USDC, "BTC-PERP")).accepted
    price(engine, "BTC-PERP", 55_500)
    outcome = engine.apply(LiquidatePerp("keeper", "carl", "BTC-PERP"))
    assert outcome.accepted, outcome.reason
    assert outcome.details["adl"] == []
    # Filled at the fillable price 55,666.5 against the bankruptcy quote 54,999: the fund
    # pays 667.5 USDC (GetLiquidationInsuranceFundDelta), within the 1,000 left.
    assert (outcome.details["price"], outcome.details["bankruptcy_price"]) == (
        55_666_500 * 10**5, 54_999 * USD)
    paid = outcome.details["insurance_paid"]
    assert paid == 667_500_000
    info = engine.ledger.block_liquidation_of("carl")
    assert info.markets == ("BTC-PERP",) and info.notional == 55_500 * USDC
    assert info.insurance_lost == paid
    engine.ledger.check_conservation()
