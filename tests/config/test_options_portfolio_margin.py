"""``[protocol.options.portfolio_margin]``: overrides of the portfolio preset's parameters,
checked by ``portfolio_config``, each problem named at its field, and margined by the
engine."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from marginengine.config import protocol_from_dict
from marginengine.config.portfolio import PORTFOLIO_PRESETS, portfolio_config
from marginengine.engine import Engine
from marginengine.engine.events import DepositOptionCash, SetPrice, SetVolSurface, TradeOption
from marginengine.errors import ConfigError
from marginengine.fixedpoint import PRICE_UNIT


def protocol(options: dict[str, Any]) -> Any:
    return protocol_from_dict({"markets": {"WETH": {}, "USDC": {}},
                               "options": {"quote": "USDC", **options}}, prefix="protocol")


def test_overrides_when_absent_then_the_preset_as_published():
    cfg = protocol({"portfolio_preset": "derive-pm2"})
    assert cfg.options is not None and cfg.options.portfolio_margin == {}
    assert cfg.options.rules == portfolio_config(preset="derive-pm2")
    assert cfg.options.rules.mm_factor == PORTFOLIO_PRESETS["derive-pm2"]["mm_factor"] == 0.8


def test_overrides_when_given_then_laid_over_the_preset_table_by_table():
    cfg = protocol({"portfolio_margin": {"im_factor": 1.5, "vol_shock": {"min_vol_up": 0.5}}})
    assert cfg.options is not None
    rules = cfg.options.rules
    assert (rules.im_factor, rules.mm_factor) == (1.5, 0.8)  # type: ignore[union-attr]
    assert rules.vol_shock.min_vol_up == 0.5  # type: ignore[union-attr]
    assert rules.vol_shock.vol_range_up == 0.5  # the preset's, kept  # type: ignore[union-attr]
    srm = protocol({"portfolio_preset": "derive-srm", "portfolio_margin": {
        "markets": {"ETH": {"option": {"mm_put_spot_req": 0.1}}}}})
    assert srm.options is not None
    option = srm.options.rules.markets["ETH"].option  # type: ignore[union-attr]
    assert option.mm_put_spot_req == Decimal("0.1")  # exact: the SRM decides in wad


@pytest.mark.parametrize(("options", "problems"), [
    ({"portfolio_margin": {"im_factor": 0.2, "mm_factor": 0.01}},
     ["protocol.options.portfolio_margin.im_factor: must be at least 0.5 (got 0.2)",
      "protocol.options.portfolio_margin.mm_factor: must be at least 0.1 (got 0.01)"]),
    ({"portfolio_margin": {"nope": 1}},
     ["protocol.options.portfolio_margin.nope: unknown field (check the spelling)"]),
    ({"portfolio_preset": "derive-srm",
      "portfolio_margin": {"markets": {"ETH": {"perp": {"im_req": 0.01}}}}},
     ["protocol.options.portfolio_margin.markets.ETH.perp.im_req: must be >= "
      "65000000000000000 (got 10000000000000000) (in wad: 10**18 is 1)"]),
])
def test_overrides_when_out_of_bounds_then_each_problem_at_its_field(options, problems):
    with pytest.raises(ConfigError) as caught:
        protocol(options)
    assert caught.value.problems == problems


def test_engine_when_factor_overridden_then_margins_with_it():
    # One short 1800 put: IM = MtM + im_factor x worst - contingencies (margin/portfolio.py),
    # so raising im_factor from 1 to 2 lowers IM by exactly |worst| (same MtM, same worst).
    def margin(factor: float) -> Any:
        engine = Engine(protocol({"portfolio_margin": {"im_factor": factor}}))
        for event in (SetPrice("WETH", 2_000 * PRICE_UNIT), SetPrice("USDC", PRICE_UNIT),
                      SetVolSurface("WETH", 30 * 86_400, 600_000, 0),
                      DepositOptionCash("mm", 100_000 * 10**6),
                      DepositOptionCash("s1", 20_000 * 10**6),
                      TradeOption("mm", "s1", "WETH", 30 * 86_400, 1_800 * PRICE_UNIT, False,
                                  10**18, 60 * 10**6)):
            assert engine.apply(event).accepted
        return engine.portfolio_margin("s1")

    one, two = margin(1.0), margin(2.0)
    assert one.worst == two.worst < 0 and one.mtm == two.mtm
    assert one.initial - two.initial == pytest.approx(-one.worst, rel=1e-12)
    assert one.maintenance == two.maintenance  # mm_factor unchanged


def test_dump_when_no_overrides_then_as_before_and_overrides_round_trip():
    # The event log's metadata is the protocol's dump: without overrides it has no
    # portfolio_margin key (a log written before the table resumes under the same config).
    plain = protocol({}).model_dump(mode="json")["options"]
    assert "portfolio_margin" not in plain
    given = protocol({"portfolio_margin": {"mm_factor": 0.9}})
    dumped = given.model_dump(mode="json")
    assert dumped["options"]["portfolio_margin"] == {"mm_factor": 0.9}
    again = type(given).model_validate(dumped)
    assert again.options is not None and again.options.rules.mm_factor == 0.9
