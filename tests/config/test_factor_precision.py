"""Factor precision per family (issue 9, items 3 and 12): Aave stores whole basis points and
refuses anything finer; Compound III accepts any factor in [0, 1] and keeps 4 decimals,
truncated, as Comet's ``getPackedAssetInternal`` does (``descale = FACTOR_SCALE / 1e4``;
compound-finance/comet ``contracts/Comet.sol``, ``contracts/AssetList.sol``), and says so;
a store-front discount of 100% is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from marginengine.cli.main import cli
from marginengine.config import protocol_from_dict
from marginengine.errors import ConfigError


def comet(**weth: str):
    return protocol_from_dict({"preset": "compound-v3",
                               "markets": {"USDC": {}, "WETH": weth}})


def test_comet_factor_when_not_whole_bps_then_accepted_truncated_and_reported():
    config = comet(ltv="0.66669", liquidation_threshold="0.7", liquidation_factor="0.93339")
    assert config.markets["WETH"].ltv_bps == 6666  # truncated, not rounded to 6667
    assert config.markets["WETH"].liquidation_factor_bps == 9333
    assert config.truncations() == [
        "markets.WETH.ltv: 0.66669 is stored as 0.6666 (Comet keeps 4 decimals, truncated)",
        "markets.WETH.liquidation_factor: 0.93339 is stored as 0.9333 (Comet keeps 4 "
        "decimals, truncated)",
    ]


def test_comet_factor_when_two_thirds_then_stored_as_0_6666():
    config = comet(ltv=str(2 / 3), liquidation_threshold="0.7")
    assert config.markets["WETH"].ltv_bps == 6666
    assert len(config.truncations()) == 1


def test_comet_factors_when_equal_after_truncation_then_borrow_cf_too_large():
    with pytest.raises(ConfigError, match=r"markets\.WETH\.ltv: stored with 4 decimals it is "
                                          r"0\.7, not below liquidation_threshold 0\.7"):
        comet(ltv="0.70001", liquidation_threshold="0.70009")


def test_aave_factor_when_not_whole_bps_then_refused_naming_the_field():
    with pytest.raises(ConfigError, match=r"^markets\.WETH\.ltv: must be a whole number of "
                                          r"basis points \(0\.0001\), got 0\.80005$"):
        protocol_from_dict({"markets": {"WETH": {"ltv": "0.80005"}}})
    assert protocol_from_dict({"markets": {"WETH": {}}}).truncations() == []


def test_store_front_discount_when_100_percent_then_refused_naming_the_field():
    # Issue 9, item 3: store_front_price_factor = 1 with liquidation_factor = 0 made every
    # BuyCollateral divide by a zero price.
    with pytest.raises(ConfigError, match=r"markets\.WETH\.liquidation_factor: .*discount is "
                                          r"100%"):
        protocol_from_dict({"preset": "compound-v3",
                            "markets": {"USDC": {}, "WETH": {"liquidation_factor": "0"}},
                            "compound": {"base_asset": "USDC",
                                         "store_front_price_factor": "1"}})


def test_health_cli_when_factor_truncated_then_warning_on_stderr(tmp_path: Path):
    snapshot = tmp_path / "snap.toml"
    snapshot.write_text(
        '[protocol]\npreset = "compound-v3"\n[protocol.markets.USDC]\n'
        '[protocol.markets.WETH]\nltv = 0.66669\nliquidation_threshold = 0.7\n'
        '[prices]\nWETH = 2000\nUSDC = 1\n'
        '[[accounts]]\nid = "a"\nsupplied = { WETH = "1" }\n')
    result = CliRunner().invoke(cli, ["health", str(snapshot), "--json"])
    assert result.exit_code == 0, result.output
    assert ("warning: markets.WETH.ltv: 0.66669 is stored as 0.6666 (Comet keeps 4 "
            "decimals, truncated)") in result.stderr


@pytest.mark.parametrize(("data", "field"), [
    ({"preset": "compound-v3", "markets": {"USDC": {}, "WETH": {}},
      "compound": {"base_asset": "USDC", "base_borrow_min": "0.0000001"}},
     "compound.base_borrow_min"),
    ({"markets": {"WETH": {"interest_rate": {"slope1": "0." + "0" * 27 + "1"}}}},
     "markets.WETH.interest_rate.slope1"),
    ({"markets": {"WETH": {}, "DAI": {"collateral": False}},
      "auction": {"collateral": "WETH", "debt": "DAI", "tip": "0." + "0" * 18 + "1"}},
     "auction.tip"),
])
def test_amount_when_finer_than_its_unit_then_refused_not_truncated(data, field):
    # int(x * unit) would have truncated these silently (issue 9, item 7's last sentence).
    with pytest.raises(ConfigError, match=rf"^{field.replace('.', r'[.]')}: .* cannot be held "
                                          r"exactly$"):
        protocol_from_dict(data)


def test_comet_store_front_factor_when_finer_than_bps_then_kept_at_18_decimals():
    # Comet keeps storeFrontPriceFactor at 18 decimals (compound-finance/comet@d5a30b0a
    # contracts/Comet.sol constructor: copied whole, no descale): nothing is truncated.
    config = protocol_from_dict({"preset": "compound-v3",
                                 "compound": {"store_front_price_factor": "0.55555"}})
    assert config.compound is not None
    assert config.compound.store_front_price_factor_scaled == 555_550_000_000_000_000
    assert config.truncations() == []


def test_comet_store_front_factor_when_finer_than_factor_scale_then_refused():
    with pytest.raises(ConfigError, match=r"^compound[.]store_front_price_factor: .* cannot "
                                          r"be held exactly$"):
        protocol_from_dict({"preset": "compound-v3", "compound": {
            "store_front_price_factor": "0." + "0" * 18 + "1"}})


def test_comet_interest_when_rate_finer_than_factor_scale_then_refused_naming_the_field():
    with pytest.raises(ConfigError, match=r"compound\.interest\.borrow_base: "
                                          r"1E-19 has more than 18 decimals"):
        protocol_from_dict({"preset": "compound-v3", "compound": {
            "interest": {"borrow_base": "0.0000000000000000001"}}})
    with pytest.raises(ConfigError, match=r"compound\.interest\.supply_kink"):
        protocol_from_dict({"preset": "compound-v3", "compound": {
            "interest": {"supply_kink": "1.5"}}})
