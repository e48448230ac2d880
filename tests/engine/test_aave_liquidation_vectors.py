"""Aave's liquidation tests (v3.7 suite), reproduced through the engine on Aave's own
test listing (:mod:`tests.aave_listing`).

Sources (aave-dao/aave-v3-origin@fd1fbd9150426ca8ace9cee45b4acf912ae84f5b; ``src`` and
``tests`` identical to the v3.7.0 commit 4fbd7442):
``tests/protocol/pool/Pool.Liquidations.CloseFactor.t.sol``
(``test_liquidationdataprovider_edge_range``,
``test_hf_gt_095_borrow_gt_threshold_collateral_lt_threshold_closeFactorShouldBe100``,
``_getRequiredBorrowsForHfBelow``),
``src/contracts/helpers/LiquidationDataProvider.sol`` (``_getMaxDebtToLiquidate``,
``_adjustAmountsForGoodLeftovers``), ``tests/protocol/pool/Pool.Liquidations.t.sol``
(``test_weth_dust_leftover_rounds_to_zero_in_base_currency``) and
``src/contracts/protocol/libraries/logic/LiquidationLogic.sol`` (``hasNoCollateralLeft``,
``_burnBadDebt``); ``Pool.Liquidations.t.sol`` ``test_liquidation_when_grace_period_disabled``
and ``_testLiquidationGracePeriod`` (``test_liquidation_with_liquidation_grace_period_*``),
``pool-configurator/PoolConfigurator.reserveRiskConfig.t.sol``
(``test_setLiquidationGracePeriodAboveCap``) and ``ValidationLogic.validateLiquidationCall``
(``liquidationGracePeriodUntil < block.timestamp``; the same at v3.3.0 and v3.5.0). Where
Aave's test mocks a price to 0 for a borrow or writes an index,
the same state is reached here by borrowing at another price and setting it back.
"""

from __future__ import annotations

import pytest

from marginengine.config import protocol_from_dict
from marginengine.engine import (
    AdvanceTime,
    Borrow,
    Deposit,
    Engine,
    Liquidate,
    SetLiquidationGracePeriod,
    SetPrice,
)
from tests.aave_listing import MARKETS, PRICES, USD, USDX, WBTC, WETH, pool

_MAX = 2**256 - 1


def _edge_range() -> Engine:
    # bob supplies 8,000 USDX, borrows 4,200 USDX, then WETH to just below HF 0.98:
    # _getRequiredBorrowsForHfBelow = percentMul(8,000e8, 8,601) x 1e18 / 0.98e18 - 4,200e8
    # = 2,821.22448979 USD, i.e. 2,821.22448979e8 x 1e18 / 1,800e8 wei of WETH.
    engine = pool()
    assert engine.apply(Deposit("whale", "WETH", 1_000_000 * WETH)).accepted
    assert engine.apply(Deposit("bob", "USDX", 8_000 * USDX)).accepted
    assert engine.apply(Borrow("bob", "USDX", 4_200 * USDX)).accepted
    assert engine.apply(SetPrice("WETH", USD)).accepted    # Aave's test mocks it to 0
    assert engine.apply(Borrow("bob", "WETH", 1_567_346_938_772_222_222)).accepted
    assert engine.apply(SetPrice("WETH", PRICES["WETH"])).accepted
    assert engine.apply(Deposit("liquidator", "USDX", 1)).accepted
    return engine


def test_liquidation_when_edge_range_then_max_leaves_dust_and_provider_amount_passes() -> None:
    engine = _edge_range()
    data = engine.account_data("bob")
    assert data.total_debt == 702_122_448_979                  # 7,021.22448979 USD
    assert data.health_factor == 979_886_059_761_318_936       # 6,880 / 7,021.22 < 0.98
    # HF > 0.95 and both sides above 2,000 USD: 50% of the total debt, percentMul half
    # up 3,510.61224490 USD = 3,510.612244 USDX, leaves 689.387756 USDX (ceil 689.38775600
    # USD) of the 4,200: under MIN_LEFTOVER_BASE, so type(uint256).max reverts.
    refused = engine.apply(Liquidate("liquidator", "bob", "USDX", "USDX", _MAX, False))
    assert refused.code == "MUST_NOT_LEAVE_DUST"
    assert refused.data["debt_left_base"] == 68_938_775_600
    # LiquidationDataProvider: the debt leftover is raised to 1,000 USD, 310.61224400 USD
    # (310.612244 USDX) less, so maxDebtToLiquidate = 3,200 USDX; its collateral
    # percentMulFloor(3,200, 105%) = 3,360 USDX, the fee percentMulCeil(160, 10%) = 16.
    quote = engine.liquidation_quote("bob")
    assert (quote.debt_asset, quote.collateral_asset) == ("USDX", "USDX")
    assert quote.debt_to_cover == 3_200 * USDX
    outcome = engine.apply(Liquidate("liquidator", "bob", "USDX", "USDX", 3_200 * USDX, False))
    assert outcome.accepted
    d = outcome.details
    assert d["debt_repaid"] == 3_200 * USDX
    assert d["collateral_to_liquidator"] == 3_344 * USDX        # maxCollateralToLiquidate
    assert d["protocol_fee"] == 16 * USDX
    assert engine.ledger.debt_of("bob", "USDX") == 1_000 * USDX
    engine.ledger.check_conservation()


def _weth_dust(preset: str = "aave-v3") -> tuple[Engine, dict[str, object]]:
    # test_weth_dust_leftover_rounds_to_zero_in_base_currency: 0.525 WETH + 3 wei at LTV
    # 80%, threshold 85%, bonus 5%, fee 10%, against 900 USDX (Aave's test: 360 at a
    # borrow index set to 2.5) and 1e12 wei of WETH debt; bob liquidates all the USDX.
    markets = {**MARKETS, "WETH": {**MARKETS["WETH"], "ltv": "0.80",
                                   "liquidation_threshold": "0.85"}}
    engine = Engine(protocol_from_dict({"preset": preset, "markets": markets}))
    for asset, price in PRICES.items():
        assert engine.apply(SetPrice(asset, price)).accepted
    assert engine.apply(Deposit("carol", "USDX", 100_000 * USDX)).accepted
    assert engine.apply(Deposit("carol", "WETH", 10 * WETH)).accepted
    assert engine.apply(SetPrice("WETH", 2_500 * USD)).accepted
    assert engine.apply(Deposit("alice", "WETH", 525 * WETH // 1_000 + 3)).accepted
    assert engine.apply(Borrow("alice", "USDX", 900 * USDX)).accepted
    assert engine.apply(Borrow("alice", "WETH", 10**12)).accepted
    assert engine.apply(SetPrice("WETH", PRICES["WETH"])).accepted
    assert engine.ledger.debt_of("alice", "USDX") == 900 * USDX     # 'pre: USDX debt 900'
    assert engine.ledger.collateral_flag("alice", "WETH")
    assert engine.apply(Deposit("bob", "USDX", 1)).accepted
    outcome = engine.apply(Liquidate("bob", "alice", "USDX", "WETH", _MAX, False))
    assert outcome.accepted
    return engine, outcome.details


def test_liquidation_when_weth_dust_worth_zero_base_then_all_debt_burned_as_deficit() -> None:
    engine, d = _weth_dust()
    # HF 945 x 85% / 900.0018 = 0.8925: close factor 100%. 900 USDX buys 0.5 WETH, with
    # the bonus percentMulFloor = 0.525 WETH, of which the fee is 10% of 0.025.
    assert d["close_factor_bps"] == 10_000
    assert d["debt_repaid"] == 900 * USDX                           # 'post: fully repaid'
    assert d["collateral_to_liquidator"] == 5_225 * WETH // 10_000
    assert d["protocol_fee"] == 25 * WETH // 10_000
    # 3 wei left is 3 x 1,800e8 / 1e18 = 0 USD: consumed$ == totalCollateral$, so
    # hasNoCollateralLeft and _burnBadDebt books the WETH debt as deficit.
    assert engine.ledger.supply_of("alice", "WETH") == 3
    assert d["deficit"] == {"WETH": 10**12}
    assert engine.ledger.reserves["WETH"].deficit == 10**12
    assert engine.ledger.debt_of("alice", "WETH") == 0
    # v3.7 clears the collateral bit on hasNoCollateralLeft too (the test's assertFalse(
    # isUsingAsCollateral)): the 3 wei stay, switched off.
    assert not engine.ledger.collateral_flag("alice", "WETH")
    assert not engine.ledger.uses_as_collateral("alice", "WETH")
    engine.ledger.check_conservation()


def test_liquidation_when_weth_dust_under_v3_5_then_dust_stays_collateral() -> None:
    # v3.3/v3.5 LiquidationLogic clears the bit only when the seized amount and fee equal
    # the balance (tags v3.3.0, v3.5.0); the deficit is the same, the 3 wei stay on.
    for preset in ("aave-v3.5", "aave-v3.3"):
        engine, d = _weth_dust(preset)
        assert d["deficit"] == {"WETH": 10**12}
        assert engine.ledger.supply_of("alice", "WETH") == 3
        assert engine.ledger.collateral_flag("alice", "WETH")
        # Either way the dust is worth 0: no figure moves.
        assert engine.account_data("alice").total_collateral == 0


def test_close_factor_when_liquidated_reserve_below_2000_usd_though_total_above_then_100() -> None:
    # test_hf_gt_095_borrow_gt_threshold_collateral_lt_threshold_closeFactorShouldBe100:
    # 1,999 USDX and 1,999 USD of WETH ((2,000e8 - 1e8) x 1e18 / 1,800e8 wei) supplied, 3,998
    # USD in all; USDX borrowed to just below HF 0.97 (percentMul(3,997.99999999, 8,601) x
    # 1e18 / 0.97e18 = 3,545.03072163 USD). The debt (3,545) and the total collateral are
    # above MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD and HF > 0.95, but the liquidated reserve's
    # collateral (borrowerReserveCollateralInBaseCurrency, 1,998.99999999 USD) is not: 100%.
    engine = pool()
    assert engine.apply(Deposit("whale", "WETH", 1_000_000 * WETH)).accepted
    assert engine.apply(Deposit("bob", "USDX", 1_999 * USDX)).accepted
    assert engine.apply(Deposit("bob", "WETH", 1_110_555_555_555_555_555)).accepted
    assert engine.apply(SetPrice("USDX", 1)).accepted      # Aave's test mocks it to 0
    assert engine.apply(Borrow("bob", "USDX", 3_545_030_721)).accepted
    assert engine.apply(SetPrice("USDX", USD)).accepted
    data = engine.account_data("bob")
    assert data.total_collateral == 399_799_999_999
    assert data.health_factor == 969_887_222_591_265_098
    assert engine.apply(Deposit("liquidator", "USDX", 1)).accepted
    outcome = engine.apply(Liquidate("liquidator", "bob", "USDX", "WETH", _MAX, False))
    d = outcome.details
    assert d["close_factor_bps"] == 10_000
    # All the WETH goes; the debt it covers is its value / 1.05, rounded up (v3.5+).
    assert d["collateral_to_liquidator"] + d["protocol_fee"] == 1_110_555_555_555_555_555
    assert d["debt_repaid"] == 1_903_809_523
    assert engine.ledger.supply_of("bob", "WETH") == 0
    engine.ledger.check_conservation()


# ---------------------------------------------------------------------------- grace period
def _grace_pool(preset: str) -> Engine:
    # _testLiquidationGracePeriod: 1.25 WBTC against 22,500 USDX, WBTC down 25% (20,250
    # USD: HF 25,312.5 x 86% / 22,500 = 0.9675); bob liquidates 5,000 USDX at a time.
    engine = pool(preset)
    assert engine.apply(Deposit("alice", "WBTC", 125 * WBTC // 100)).accepted
    assert engine.apply(Borrow("alice", "USDX", 22_500 * USDX)).accepted
    assert engine.apply(SetPrice("WBTC", 20_250 * USD)).accepted
    assert engine.apply(Deposit("bob", "USDX", 1)).accepted
    return engine


def _liquidate(engine: Engine) -> str | None:
    return engine.apply(Liquidate("bob", "alice", "USDX", "WBTC", 5_000 * USDX, False)).code


@pytest.mark.parametrize("preset", ["aave-v3.3", "aave-v3.5", "aave-v3"])
@pytest.mark.parametrize("in_grace", [("WBTC",), ("USDX",), ("WBTC", "USDX")],
                         ids=["collateral", "debt", "both"])
def test_liquidation_when_grace_period_active_then_refused_until_after_it(
        preset: str, in_grace: tuple[str, ...]) -> None:
    # Allowed before; after setReservePause(asset, false, 3,600) refused now and at
    # now + 3,600 (until < block.timestamp), allowed one second later.
    engine = _grace_pool(preset)
    assert _liquidate(engine) is None
    start = engine.ledger.time
    for asset in in_grace:
        out = engine.apply(SetLiquidationGracePeriod(asset, 3_600))
        assert out.accepted and out.details == {"until": start + 3_600}
    refused = engine.apply(Liquidate("bob", "alice", "USDX", "WBTC", 5_000 * USDX, False))
    assert refused.code == "LIQUIDATION_GRACE_SENTINEL_CHECK_FAILED"
    assert refused.data == {"asset": in_grace[0], "until": start + 3_600, "time": start}
    assert engine.apply(AdvanceTime(3_600)).accepted
    assert _liquidate(engine) == "LIQUIDATION_GRACE_SENTINEL_CHECK_FAILED"
    # The keeper's quote and plan read the same check.
    quote = engine.liquidation_quote("alice")
    assert quote.plan is None and quote.refusal is not None
    assert "liquidation grace period" in quote.refusal
    assert engine.liquidation_plan("alice", "USDX", "WBTC", 5_000 * USDX) is None
    assert engine.apply(AdvanceTime(1)).accepted
    assert engine.liquidation_quote("alice").plan is not None
    assert _liquidate(engine) is None


def test_liquidation_when_grace_period_disabled_then_allowed_at_once() -> None:
    # test_liquidation_when_grace_period_disabled: USDX in grace, refused;
    # disableLiquidationGracePeriod (grace_period 0 here), allowed.
    engine = _grace_pool("aave-v3")
    assert engine.apply(SetLiquidationGracePeriod("USDX", 4 * 3_600)).accepted
    assert _liquidate(engine) == "LIQUIDATION_GRACE_SENTINEL_CHECK_FAILED"
    assert engine.apply(SetLiquidationGracePeriod("USDX", 0)).details == {"until": 0}
    assert _liquidate(engine) is None


def test_grace_period_when_above_max_or_not_aave_then_refused_naming_it() -> None:
    # test_setLiquidationGracePeriodAboveCap: more than MAX_GRACE_PERIOD (4 hours) reverts
    # InvalidGracePeriod; nothing changes.
    engine = _grace_pool("aave-v3")
    out = engine.apply(SetLiquidationGracePeriod("USDX", 4 * 3_600 + 1))
    assert out.code == "INVALID_GRACE_PERIOD"
    assert out.reason.startswith("grace_period: must be within 0 and 14400 s")
    assert engine.ledger.reserves["USDX"].liquidation_grace_period_until == 0
    assert engine.apply(SetLiquidationGracePeriod("XYZ", 60)).code is not None
    comet = Engine(protocol_from_dict({"preset": "compound-v3"}))
    assert comet.apply(SetLiquidationGracePeriod("USDC", 60)).code == "EVENT_NOT_SUPPORTED"
