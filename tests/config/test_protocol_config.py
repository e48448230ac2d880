from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marginengine.config import PRESETS, load_protocol, protocol_from_dict
from marginengine.errors import ConfigError


def test_presets_when_loaded_then_valid_and_in_native_units():
    aave = protocol_from_dict({"preset": "aave-v3"})
    weth = aave.markets["WETH"]
    assert (weth.ltv_bps, weth.liquidation_threshold_bps, weth.liquidation_bonus_bps) == (
        8_050, 8_300, 10_500,
    )
    assert aave.aave.close_factor_bps == 5_000
    assert aave.aave.min_leftover_base_units == 1_000 * 10**8
    comet = protocol_from_dict({"preset": "compound-v3"})
    assert comet.base_asset == "USDC"
    assert [s for s, m in comet.markets.items() if m.borrowable] == ["USDC"]
    assert set(PRESETS) == {"aave-v3", "aave-v3.3", "aave-v3.5", "aave-v3.7", "compound-v3",
                            "morpho-blue", "liquity-v1", "liquity-v1-2025", "euler-v2",
                            "mango-v4", "drift-v2"}


def test_overrides_when_given_then_replace_preset_field_by_field():
    cfg = protocol_from_dict({"preset": "aave-v3", "markets": {"WETH": {"ltv": "0.70"}}})
    assert list(cfg.markets) == ["WETH"]
    assert cfg.markets["WETH"].ltv_bps == 7_000
    assert cfg.markets["WETH"].liquidation_threshold_bps == 8_300  # from the preset


def test_invalid_market_when_loaded_then_one_message_per_problem_with_path():
    with pytest.raises(ConfigError) as err:
        protocol_from_dict({"preset": "aave-v3", "markets": {
            "WETH": {"ltv": 0.80, "liquidation_threshold": 0.78},
            "USDC": {"decimals": -1, "reserve_factr": 0.1},
        }})
    assert err.value.problems == [
        "markets.WETH.liquidation_threshold: must be greater than ltv (0.78 <= 0.80)",
        "markets.USDC.decimals: must be at least 0 (got -1)",
        "markets.USDC.reserve_factr: unknown field (check the spelling)",
    ]


def test_bonus_when_threshold_times_bonus_exceeds_one_then_rejected():
    with pytest.raises(ConfigError, match=r"markets.WETH.liquidation_bonus: .*must not exceed 1"):
        protocol_from_dict({"markets": {"WETH": {"liquidation_threshold": "0.97",
                                                 "ltv": "0.9", "liquidation_bonus": "0.05"}}})


def test_bonus_when_within_aaves_half_up_percent_mul_then_accepted_as_on_chain():
    # PoolConfigurator.configureReserveAsCollateral: percentMul(9524, 10500) =
    # (100,002,000 + 5,000) // 10,000 = 10,000 <= 10,000: Aave lists it (0.9524 x 1.05 is
    # 1.00002 exactly, which was refused here); 9525 gives 10,001: refused, as on chain.
    config = protocol_from_dict({"markets": {"WETH": {
        "liquidation_threshold": "0.9524", "ltv": "0.9", "liquidation_bonus": "0.05"}}})
    assert config.markets["WETH"].liquidation_threshold_bps == 9_524
    with pytest.raises(ConfigError, match=r"markets.WETH.liquidation_bonus: .*\(0\.9525 x "
                                          r"1\.05 = 1\.000125; Aave's percentMul, rounded "
                                          r"half up: 1\.0001\)"):
        protocol_from_dict({"markets": {"WETH": {
            "liquidation_threshold": "0.9525", "ltv": "0.9", "liquidation_bonus": "0.05"}}})
    # The same rule for an e-mode category (threshold_times_bonus_bps, one place).
    from marginengine.config.base import threshold_times_bonus_bps
    assert (threshold_times_bonus_bps(9_524, 10_500),
            threshold_times_bonus_bps(9_525, 10_500)) == (10_000, 10_001)


@given(st.integers(min_value=10_001, max_value=30_000))
def test_max_threshold_for_bonus_when_any_bonus_then_largest_the_check_accepts(bonus: int) -> None:
    # The adaptive model's ceiling is this bound; it is the check's own boundary, not
    # floor(10000**2 / bonus), which is one basis point short for 5% (9523 against 9524).
    from marginengine.config.base import max_threshold_for_bonus_bps, threshold_times_bonus_bps
    top = max_threshold_for_bonus_bps(bonus)
    assert threshold_times_bonus_bps(top, bonus) <= 10_000
    assert threshold_times_bonus_bps(top + 1, bonus) > 10_000


def test_max_threshold_for_bonus_when_aave_bonuses_then_worked_values() -> None:
    from marginengine.config.base import max_threshold_for_bonus_bps
    # 100,004,999 // 10,500 = 9,524; // 10,750 = 9,302; // 11,000 = 9,091, where
    # floor(10000**2 / 11000) is 9,090 and percentMul(9091, 11000) = (100,001,000 + 5,000)
    # // 10,000 = 10,000 passes.
    tops = [max_threshold_for_bonus_bps(b) for b in (10_500, 10_750, 11_000)]
    assert tops == [9_524, 9_302, 9_091]
    with pytest.raises(ValueError, match="bonus_bps must be positive"):
        max_threshold_for_bonus_bps(0)


def test_fraction_when_not_whole_basis_points_then_rejected():
    with pytest.raises(ConfigError, match="whole number of basis points"):
        protocol_from_dict({"markets": {"WETH": {"ltv": "0.80005"}}})


def test_fraction_when_above_one_or_nan_then_rejected():
    with pytest.raises(ConfigError, match=r"markets.WETH.ltv: must be at most 1 \(got 1.5\)"):
        protocol_from_dict({"markets": {"WETH": {"ltv": 1.5}}})
    with pytest.raises(ConfigError, match="markets.WETH.reserve_factor"):
        protocol_from_dict({"markets": {"WETH": {"reserve_factor": float("nan")}}})


def test_unknown_preset_and_bad_symbol_then_rejected():
    with pytest.raises(ConfigError, match="preset: unknown preset 'aave-v9'"):
        protocol_from_dict({"preset": "aave-v9"})
    with pytest.raises(ConfigError, match="market symbol '1INCH!'"):
        protocol_from_dict({"markets": {"1INCH!": {"collateral": False}}})


def test_compound_when_second_borrowable_asset_then_rejected():
    with pytest.raises(ConfigError, match="lends only its base asset USDC"):
        protocol_from_dict({"preset": "compound-v3", "markets": {
            "USDC": {}, "WETH": {"borrowable": True}}})
    with pytest.raises(ConfigError, match="base_asset 'DAI' is not one of the markets"):
        protocol_from_dict({"preset": "compound-v3", "compound": {"base_asset": "DAI"}})


def test_load_protocol_when_file_malformed_or_missing_then_clear_error(tmp_path: Path):
    bad = tmp_path / "bad.toml"
    bad.write_text('preset = "aave-v3"\n[markets.WETH\n')
    with pytest.raises(ConfigError, match="bad.toml: malformed TOML"):
        load_protocol(bad)
    with pytest.raises(ConfigError, match="file not found"):
        load_protocol(tmp_path / "absent.toml")
    good = tmp_path / "good.toml"
    good.write_text('preset = "compound-v3"\n[markets.USDC]\n[markets.WETH]\n')
    assert set(load_protocol(good).markets) == {"USDC", "WETH"}


@pytest.mark.parametrize(("rates", "message"), [
    ({"slope1": "0.5", "slope2": "0.1"},
     "markets.WETH.interest_rate.slope1: must not exceed slope2 (Aave's "
     "Slope2MustBeGteSlope1), got 0.5 > 0.1"),
    ({"optimal_utilization": "0.995"},
     "markets.WETH.interest_rate.optimal_utilization: must be within 1% and 99% (Aave's "
     "MIN_OPTIMAL_POINT, MAX_OPTIMAL_POINT), got 0.995"),
    ({"base": "0.00005"},
     "markets.WETH.interest_rate.base: Aave's rate strategy stores whole basis points "
     "(0.0001), got 0.00005"),
])
def test_aave_rate_strategy_when_out_of_its_bounds_then_refused_naming_the_field(
        rates: dict[str, str], message: str) -> None:
    # DefaultReserveInterestRateStrategyV2._setInterestRateParams (aave-dao/aave-v3-origin
    # @4fbd7442): bps params, optimal usage in [1%, 99%], slope1 <= slope2.
    with pytest.raises(ConfigError) as info:
        protocol_from_dict({"preset": "aave-v3", "markets": {"WETH": {"interest_rate": rates}}})
    assert message in str(info.value)
    # At the bounds it is accepted.
    protocol_from_dict({"preset": "aave-v3", "markets": {"WETH": {"interest_rate": {
        "optimal_utilization": "0.99", "slope1": "0.6", "slope2": "0.6"}}}})


def test_auction_ceilings_when_bad_then_refused_naming_the_field_and_default_none():
    base = {"markets": {"WETH": {"ltv": "0.49", "liquidation_threshold": "0.5"},
                        "DAI": {"collateral": False}}}
    assert protocol_from_dict({**base, "auction": {}}).auction.line is None
    cfg = protocol_from_dict({**base, "auction": {"line": "1000000", "Line": "0"}}).auction
    assert (cfg.line, cfg.Line) == (1_000_000, 0)
    with pytest.raises(ConfigError, match=r"auction\.line: must be at least 0"):
        protocol_from_dict({**base, "auction": {"line": "-1"}})
    with pytest.raises(ConfigError, match=r"auction\.Line: 1E-19 has more than 18 decimals"):
        protocol_from_dict({**base, "auction": {"Line": "1e-19"}})
