"""dYdX v4 liquidation arithmetic against dYdX's own keeper test tables.

Source: dydxprotocol/v4-chain@84d4664bae71e3a077adaac67fb77ad19cd28d30,
protocol/x/clob/keeper/liquidations_test.go: TestGetBankruptcyPriceInQuoteQuantums,
TestGetFillablePrice, TestGetLiquidationInsuranceFundDelta, TestConvertFillablePriceToSubticks,
TestGetMaxAndMinPositionNotionalLiquidatable; the rules in protocol/x/clob/keeper/
liquidations.go. The tables' markets: BTC at 50,000 USD (atomic resolution -8: a base quantum
is 1e-8 BTC), ETH at 3,000 (-9), USDC quote quantums 1e-6; the perpetuals
``*_20PercentInitial_10PercentMaintenance`` (IMF 20%, maintenance fraction 50%). Our units
are dYdX's quanta here: base_unit 1e8 (BTC) or 1e9 (ETH), quote_unit 1e6.
"""

from __future__ import annotations

from fractions import Fraction

import pytest

from marginengine.fixedpoint import PRICE_UNIT, Rounding
from marginengine.ledger.perp import quote_value
from marginengine.liquidation.perp_prices import (
    dydx_bankruptcy_quote,
    dydx_fillable_price_quantums,
    dydx_fillable_price_subticks,
    dydx_insurance_fund_delta,
    dydx_liquidatable_size,
    dydx_position_notional_liquidatable,
    fillable_price,
)
from marginengine.margin.tiers import dydx_maintenance_margin

USDC = 10**6
BTC, ETH = 10**8, 10**9  # dYdX base quanta per token at resolutions -8 and -9
PRICES = {"BTC": (50_000 * PRICE_UNIT, BTC), "ETH": (3_000 * PRICE_UNIT, ETH)}


def nc(market: str, size: int) -> int:
    """dYdX GetNetNotionalInQuoteQuantums: BaseToQuoteQuantums, truncated toward zero."""
    price, unit = PRICES[market]
    return quote_value(size, price, unit, USDC, Rounding.DOWN)


def mmr(market: str, size: int) -> int:
    """The maintenance margin of the tables' perpetuals: IMF 20%, fraction 50%."""
    return dydx_maintenance_margin(abs(nc(market, size)), 200_000, 500_000)


def account(quote: int, positions: dict[str, int]) -> tuple[int, int]:
    """TNC and TMMR of a subaccount: USDC ``quote`` (whole dollars) and its positions."""
    return (quote * USDC + sum(nc(m, s) for m, s in positions.items()),
            sum(mmr(m, s) for m, s in positions.items()))


def bankruptcy(quote: int, positions: dict[str, int], market: str, delta: int) -> int:
    tnc, tmmr = account(quote, positions)
    size = positions[market]
    return dydx_bankruptcy_quote(nc(market, size + delta) - nc(market, size),
                                 mmr(market, size + delta) - mmr(market, size), tnc, tmmr)


# (USDC balance in dollars, positions in quanta, market, delta quanta, expected quote
# quantums): every row of TestGetBankruptcyPriceInQuoteQuantums that has an answer.
@pytest.mark.parametrize(("quote", "positions", "market", "delta", "expected"), [
    (-4_501, {"BTC": 10_000_000}, "BTC", -10_000_000, 4_501_000_000),
    (5_499, {"BTC": -10_000_000}, "BTC", 10_000_000, -5_499_000_000),
    (-5_000, {"BTC": 10_000_000}, "BTC", -10_000_000, 5_000_000_000),
    (-5_000, {"BTC": 10_000_000}, "BTC", -5_000_000, 2_500_000_000),  # half closed
    (5_000, {"BTC": -10_000_000}, "BTC", 5_000_000, -2_500_000_000),
    (5_000, {"BTC": -10_000_000}, "BTC", 10_000_000, -5_000_000_000),
    (-5_100, {"BTC": 10_000_000}, "BTC", -10_000_000, 5_100_000_000),
    (4_900, {"BTC": -10_000_000}, "BTC", 10_000_000, -4_900_000_000),
    # Two positions: TNC 10, TMMR 20 + 30; closing the ETH may lose 30/50 of TNC: 294.
    (-490, {"BTC": 400_000, "ETH": 100_000_000}, "ETH", -100_000_000, 294_000_000),
    (510, {"BTC": -400_000, "ETH": -100_000_000}, "ETH", 100_000_000, -306_000_000),
    (110, {"BTC": 400_000, "ETH": -100_000_000}, "ETH", 100_000_000, -306_000_000),
    # Partial closes of 1 BTC: 2,775.11 quote quantums rounded toward +infinity.
    (-13, {"BTC": 100_000_000}, "BTC", -21_347, 2_776),
    (13, {"BTC": -100_000_000}, "BTC", 21_347, -2_775),
    # A long whose balance covers it: negative (no price can bankrupt it).
    (1, {"BTC": 100_000_000}, "BTC", -100_000_000, -1_000_000),
])
def test_dydx_bankruptcy_quote_when_dydx_table_then_same_quote_quantums(
    quote: int, positions: dict[str, int], market: str, delta: int, expected: int
) -> None:
    assert bankruptcy(quote, positions, market, delta) == expected


def test_dydx_bankruptcy_quote_when_mmr_grows_then_value_error() -> None:
    # dYdX panics ("DMMR is positive"): a liquidation never increases the requirement.
    with pytest.raises(ValueError, match="delta_mmr must not be positive"):
        dydx_bankruptcy_quote(-1, 1, 10, 10)
    with pytest.raises(ValueError, match="tmmr must be positive"):
        dydx_bankruptcy_quote(-1, -1, 10, 0)


# (USDC balance, positions, market, BA ppm, SMMR ppm, expected quote quantums per base
# quantum): every row of TestGetFillablePrice that has an answer. The default config is
# dYdX's LiquidationsConfig_Default (BA 1,000,000, SMMR 100,000).
@pytest.mark.parametrize(("quote", "positions", "market", "ba", "smmr", "expected"), [
    (-4_501, {"BTC": 10_000_000}, "BTC", 1_000_000, 100_000, Fraction(49_999, 100)),
    (-4_501, {"BTC": 10_000_000}, "BTC", 2_000_000, 100_000, Fraction(49_998, 100)),
    (-4_501, {"BTC": 10_000_000}, "BTC", 1_000_000, 200_000, Fraction(49_998, 100)),
    (5_499, {"BTC": -10_000_000}, "BTC", 1_000_000, 100_000, Fraction(50_001, 100)),
    (5_499, {"BTC": -10_000_000}, "BTC", 2_000_000, 100_000, Fraction(50_002, 100)),
    (5_499, {"BTC": -10_000_000}, "BTC", 1_000_000, 200_000, Fraction(50_002, 100)),
    (-5_000, {"BTC": 10_000_000}, "BTC", 1_000_000, 100_000, Fraction(495)),
    (5_000, {"BTC": -10_000_000}, "BTC", 1_000_000, 100_000, Fraction(505)),
    (-5_500, {"BTC": 10_000_000}, "BTC", 1_000_000, 100_000, Fraction(495)),
    (4_500, {"BTC": -10_000_000}, "BTC", 1_000_000, 100_000, Fraction(505)),
    (-490, {"BTC": 400_000, "ETH": 100_000_000}, "ETH", 1_000_000, 100_000,
     Fraction(372, 125)),  # 2,976 USD per ETH
    (-4_501, {"BTC": 10_000_000}, "BTC", 2**32 - 1, 100_000, Fraction(495)),
    (-4_501, {"BTC": 10_000_000}, "BTC", 1_000_000, 1, Fraction(4_999_999_999, 10_000_000)),
    (-4_501, {"BTC": 10_000_000}, "BTC", 1_000_000, 1_000_000, Fraction(49_990, 100)),
])
def test_dydx_fillable_price_when_dydx_table_then_same_rational(
    quote: int, positions: dict[str, int], market: str, ba: int, smmr: int,
    expected: Fraction
) -> None:
    tnc, tmmr = account(quote, positions)
    size = positions[market]
    got = dydx_fillable_price_quantums(nc(market, size), mmr(market, size), size, smmr, tnc,
                                       tmmr, ba)
    assert got == expected
    # The same rule in PRICE_UNIT per whole token (exact here, so no rounding shows).
    price, unit = PRICES[market]
    pmmf = Fraction(mmr(market, size) * 1_000_000, abs(nc(market, size)))
    assert fillable_price(price, size, pmmf, smmr, tnc, tmmr, ba) == \
        expected * unit * PRICE_UNIT / USDC


def test_fillable_price_when_smmr_above_one_million_then_allowed_as_dydx_genesis() -> None:
    # dYdX bounds spread_to_maintenance_margin_ratio_ppm only as a uint32; its sample
    # genesis (protocol/scripts/genesis/sample_pregenesis.json) uses 1,500,000. Long 0.1 BTC
    # at TNC 0: spread 150% of PMMR 500 = 750: (5,000 - 750) / 0.1 = 42,500 USD.
    tnc, tmmr = account(-5_000, {"BTC": 10_000_000})
    assert dydx_fillable_price_quantums(5_000 * USDC, 500 * USDC, 10_000_000, 1_500_000, tnc,
                                        tmmr) == Fraction(425)
    with pytest.raises(ValueError, match="fillable price is negative"):
        dydx_fillable_price_quantums(5_000 * USDC, 5_000 * USDC, 10_000_000, 1_500_000, tnc,
                                     tmmr)


# (is the fill a buy, fill in quote quantums paid (-) or received (+), USDC balance,
# position, max liquidation fee ppm, expected delta): TestGetLiquidationInsuranceFundDelta.
@pytest.mark.parametrize(("received", "quote", "size", "fee", "expected"), [
    (5_610_000_000, -5_100, 10_000_000, 5_000, 28_050_000),
    (5_610_000_000, -5_100, 10_000_000, 25_000, 140_250_000),
    (5_610_000_000, -5_100, 10_000_000, 1_000_000, 510_000_000),
    (-4_410_000_000, 4_900, -10_000_000, 5_000, 22_050_000),
    (-4_410_000_000, 4_900, -10_000_000, 25_000, 110_250_000),
    (-4_410_000_000, 4_900, -10_000_000, 1_000_000, 490_000_000),
    (5_105_100_000, -5_100, 10_000_000, 5_000, 5_100_000),  # the leftover, below the fee
    (-4_895_100_000, 4_900, -10_000_000, 5_000, 4_900_000),
    (5_100_000_000, -5_100, 10_000_000, 5_000, 0),  # at the bankruptcy price
    (-4_900_000_000, 4_900, -10_000_000, 5_000, 0),
    (5_049_000_000, -5_100, 10_000_000, 5_000, -51_000_000),  # the fund pays
    (-4_949_000_000, 4_900, -10_000_000, 5_000, -49_000_000),
    (0, 4_900, -10_000_000, 5_000, 0),  # 1 subtick: 0.1 quote quantum, truncated to 0
])
def test_dydx_insurance_fund_delta_when_dydx_table_then_same_delta(
    received: int, quote: int, size: int, fee: int, expected: int
) -> None:
    bpq = bankruptcy(quote, {"BTC": size}, "BTC", -size)
    assert dydx_insurance_fund_delta(received, bpq, fee) == expected


def test_dydx_fillable_price_subticks_when_dydx_table_then_same_subticks() -> None:
    # TestConvertFillablePriceToSubticks. ClobPair_Btc: quantum conversion exponent -8,
    # 5 subticks per tick (constants/clob_pair.go): 5e9 quote quantums per base quantum.
    assert dydx_fillable_price_subticks(Fraction(5_000_000_000), True, -8, 5) == \
        500_000_000_000_000_000
    assert dydx_fillable_price_subticks(Fraction(5_000_000_000), False, -8, 5) == \
        500_000_000_000_000_000
    # Exponent 1, 100 subticks a tick: 7 -> 0.7 subticks, up to one tick; 197 -> 19.7 -> up
    # to 100 (the table's "rounds down" rows liquidate longs too); 0 -> bounded at a tick.
    assert dydx_fillable_price_subticks(Fraction(7), True, 1, 100) == 100
    assert dydx_fillable_price_subticks(Fraction(197), True, 1, 100) == 100
    assert dydx_fillable_price_subticks(Fraction(0), True, 1, 100) == 100
    # Bounded above by the largest uint64 that is a multiple of the tick.
    assert dydx_fillable_price_subticks(Fraction(10**22), True, 1, 100) == \
        18_446_744_073_709_551_600
    # A buy closing a short rounds down: 1,999 / 10 = 199.9 -> 199 -> 100.
    assert dydx_fillable_price_subticks(Fraction(1_999), False, 1, 100) == 100


@pytest.mark.parametrize(("notional", "minimum", "portion", "expected"), [
    # TestGetMaxAndMinPositionNotionalLiquidatable: 1 BTC at 50,000 (BtcUsd 100% margin).
    (50_000_000_000, 100, 1_000_000, (100, 50_000_000_000)),
    (50_000_000_000, 100, 500_000, (100, 25_000_000_000)),
    (5_000_000, 10_000_000, 1_000_000, (5_000_000, 5_000_000)),  # $5 position, $10 minimum
])
def test_dydx_position_notional_liquidatable_when_dydx_table_then_same_limits(
    notional: int, minimum: int, portion: int, expected: tuple[int, int]
) -> None:
    assert dydx_position_notional_liquidatable(notional, minimum, portion) == expected


def test_dydx_liquidatable_size_when_above_the_limit_then_steps_of_the_notional() -> None:
    price = 50_000 * PRICE_UNIT
    # Sample genesis limits: 10% of the position, at least 1,000 USDC. 1 BTC (50,000 USDC):
    # max(1,000, 5,000) = 5,000 USDC -> 0.1 BTC = 10,000,000 quanta, whole steps of 1e5.
    _, most = dydx_position_notional_liquidatable(50_000 * USDC, 1_000 * USDC, 100_000)
    assert dydx_liquidatable_size(BTC, price, most, 100_000, BTC, USDC) == 10_000_000
    # 0.1 BTC (5,000 USDC): the 1,000 USDC minimum -> 0.02 BTC.
    _, most = dydx_position_notional_liquidatable(5_000 * USDC, 1_000 * USDC, 100_000)
    assert dydx_liquidatable_size(-BTC // 10, price, most, 100_000, BTC, USDC) == 2_000_000
    # 0.015 BTC (750 USDC, below the minimum): whole. One step or less: whole.
    _, most = dydx_position_notional_liquidatable(750 * USDC, 1_000 * USDC, 100_000)
    assert dydx_liquidatable_size(1_500_000, price, most, 100_000, BTC, USDC) == 1_500_000
    assert dydx_liquidatable_size(100_000, price, 0, 100_000, BTC, USDC) == 100_000
    # An odd limit rounds down to a step, never below one step.
    assert dydx_liquidatable_size(BTC, price, 1_234 * USDC, 100_000, BTC, USDC) == 2_400_000
    assert dydx_liquidatable_size(BTC, price, 1, 100_000, BTC, USDC) == 100_000


U64_MAX = 2**64 - 1


# (position quanta, min position notional, max portion ppm, subaccount max notional, step,
# expected |delta| quanta): TestGetPerpetualPositionToLiquidate (BTC at 50,000, resolution
# -8; ClobPair_Btc steps of 5, ClobPair_Btc3 of 10; LiquidationsConfig_No_Limit: minimum 1,
# portion 100%, subaccount limit u64 max). GetLiquidatablePositionSizeDelta caps the quote
# by min(position block limit, subaccount block limit) before converting it to quanta.
@pytest.mark.parametrize(("size", "minimum", "portion", "subaccount", "step", "expected"), [
    (10_000_000, 1, 1_000_000, U64_MAX, 5, 10_000_000),              # no limit: whole
    (10_000_000, 10_000_000_000, 1_000_000, U64_MAX, 5, 10_000_000),  # minimum above it
    (10_000_000, 1_000, 500_000, U64_MAX, 5, 5_000_000),             # half
    (5, 1, 100_000, U64_MAX, 10, 5),                                 # below one step
    (140, 1, 100_000, U64_MAX, 5, 10),                               # 14 -> 10
    (20, 1, 100_000, U64_MAX, 5, 5),                                 # 2 -> at least a step
    (10_000_000, 1, 1_000_000, 10_000_000_000, 5, 10_000_000),       # $5,000 < $10,000
    (10_000_000, 1, 1_000_000, 2_500_000_000, 5, 5_000_000),         # subaccount $2,500
    (10_000_000, 1_000, 500_000, 2_000_000_000, 5, 4_000_000),       # subaccount $2,000
    (10_000_000, 1_000, 400_000, 2_500_000_000, 5, 4_000_000),       # position 40%
    (-100_000_000, 1, 1_000_000, U64_MAX, 5, 100_000_000),           # 1 BTC short
    (-10_000_000, 10_000_000_000, 1_000_000, U64_MAX, 5, 10_000_000),
    (-10_000_000, 1_000, 500_000, U64_MAX, 5, 5_000_000),
    (-10_000_000, 1, 1_000_000, 10_000_000_000, 5, 10_000_000),
    (-10_000_000, 1, 1_000_000, 2_500_000_000, 5, 5_000_000),
])
def test_dydx_liquidatable_size_when_position_to_liquidate_rows_then_same_quanta(
    size: int, minimum: int, portion: int, subaccount: int, step: int, expected: int
) -> None:
    _, most = dydx_position_notional_liquidatable(abs(nc("BTC", size)), minimum, portion)
    price = PRICES["BTC"][0]
    assert dydx_liquidatable_size(size, price, min(most, subaccount), step, BTC, USDC) == \
        expected


def test_dydx_liquidatable_size_when_step_3_or_max_uint64_eth_then_dydx_rows() -> None:
    # "Result is rounded to nearest step size": 21 quanta, 50% -> 10.5 -> 10, down to 9.
    _, most = dydx_position_notional_liquidatable(abs(nc("BTC", 21)), 1_000, 500_000)
    assert dydx_liquidatable_size(21, PRICES["BTC"][0], most, 3, BTC, USDC) == 9
    # PerpetualPosition_MaxUint64EthLong / Short: 6,148,914,691,236,517,000 ETH quanta at
    # 3,000 (notional 18,446,744,073,709,551,000, just under u64 max): whole, ClobPair_Eth
    # steps of 1,000.
    size = 6_148_914_691_236_517_000
    _, most = dydx_position_notional_liquidatable(abs(nc("ETH", size)), 1, 1_000_000)
    for signed in (size, -size):
        assert dydx_liquidatable_size(signed, PRICES["ETH"][0], min(most, U64_MAX), 1_000,
                                      ETH, USDC) == size


def test_dydx_bankruptcy_quote_when_deleveraging_two_shorts_then_50_500() -> None:
    # protocol/x/clob/keeper/deleveraging_test.go TestProcessDeleveraging, "can deleverage
    # when there are multiple positions": 80,800 USDC, -1 BTC and -10 ETH (TNC 800, MMR
    # 5,000 + 3,000). Closing the BTC costs 50,000 + 800 x 5,000 / 8,000 = 50,500 USDC.
    assert bankruptcy(80_800, {"BTC": -BTC, "ETH": -10 * ETH}, "BTC", BTC) == \
        -50_500 * USDC
    # ... and 0.1 of Carl_Num0_1BTC_Short_54999USD (TNC 4,999): 5,499.9 USDC.
    assert bankruptcy(54_999, {"BTC": -BTC}, "BTC", BTC // 10) == -5_499_900_000
