"""Bounds that keep bad input from reaching the rules (issue 9, items 4 and 5)."""

import pytest

from marginengine.config import PRESETS, protocol_from_dict
from marginengine.errors import ConfigError


def markets(**usdc: object) -> dict[str, object]:
    return {"preset": "aave-v3", "markets": {"WETH": {}, "USDC": usdc}}


def test_interest_rate_when_above_aave_max_borrow_rate_then_refused():
    # Aave v3.2 DefaultReserveInterestRateStrategyV2: MAX_BORROW_RATE = 1000_00 bps.
    ok = protocol_from_dict(markets(interest_rate={"base": "0", "slope1": "4",
                                                   "slope2": "6"}))
    assert ok.markets["USDC"].interest_rate.slope2 == 6
    with pytest.raises(ConfigError) as err:
        protocol_from_dict(markets(interest_rate={"slope1": "100000000000"}))
    assert err.value.problems == [
        "markets.USDC.interest_rate: base + slope1 + slope2 must be at most 10 (1,000% a "
        "year, Aave's MAX_BORROW_RATE), got 100000000000.40"]  # preset slope2 0.40


def test_market_symbol_when_trailing_newline_then_refused():
    usdc = PRESETS["aave-v3"]["markets"]["USDC"]
    with pytest.raises(ConfigError, match=r"market symbol 'USDC\\n' must start with a letter"):
        protocol_from_dict({"preset": "aave-v3", "markets": {"USDC\n": usdc}})


def test_number_field_when_true_then_refused_not_read_as_one():
    with pytest.raises(ConfigError) as err:
        protocol_from_dict(markets(decimals=True))
    assert err.value.problems == ["markets.USDC.decimals: must not be true or false (got true)"]
    assert protocol_from_dict(markets(borrowable=False)).markets["USDC"].borrowable is False


def test_auction_tip_when_beyond_makers_uint192_then_refused_naming_why():
    # dss clip.sol keeps tip as a uint192 of rad: at most 6.28e12 DAI. 1e300 reached the
    # Clipper's own check when the engine was built (an unnamed AuctionError).
    table = {"preset": "aave-v3", "markets": {"WETH": {}, "DAI": {}},
             "auction": {"kind": "clip", "tip": "1e300"}}
    with pytest.raises(ConfigError) as err:
        protocol_from_dict(table)
    assert err.value.problems == [
        "auction.tip: must be at most 6,000,000,000,000 DAI: Maker's Clipper keeps it as a "
        "uint192 of rad (clip.sol; got 1E+300)"]
    table["auction"]["tip"] = "6e12"
    assert protocol_from_dict(table).auction.tip == 6 * 10**12
