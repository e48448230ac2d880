"""Drift v2's perp bankruptcy (``DriftResolvePerpBankruptcy``): a cross-margin bankrupt
account's negative perp quote is cleared, paid by the insurance fund, the market's fee pool,
and the rest socialized over the market's open positions through the cumulative funding
rates.

Figures from Drift's own tests (drift-labs/protocol-v2 at
0ae3e3b1db782a6765c3525b3dec38ad4d9d3a62, ``programs/drift/src/controller/liquidation/
tests.rs``, ``resolve_perp_bankruptcy::successful_resolve_perp_bankruptcy`` and
``successful_resolve_perp_bankruptcy_with_fee_pool``): a bankrupt user with -100 USDC of
quote, 5 base long and 5 short open, no insurance; the funding rates move by 10 (5 with 50
USDC in the fee pool) and each side loses 50 (25).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from marginengine.config import protocol_from_dict
from marginengine.decisions import Code
from marginengine.engine import (
    DriftDeposit,
    DriftLiquidatePerp,
    DriftLiquidateSpot,
    DriftPerpTrade,
    DriftResolvePerpBankruptcy,
    DriftWithdraw,
    Engine,
    Event,
    SetPrice,
)
from marginengine.engine.family_state import (
    DriftAccount,
    DriftBook,
    drift_is_bankrupt,
    drift_perp_bankruptcy_plan,
)
from marginengine.errors import ConfigError
from marginengine.fixedpoint import PRICE_UNIT
from marginengine.liquidation.drift import (
    funding_payment,
    funding_rate_delta_to_resolve_bankruptcy,
    is_cross_margin_bankrupt,
    perp_bankruptcy_if_payment,
)

USDC, BASE = 10**6, 10**9
#: ``FUNDING_RATE_PRECISION``.
FRP = 10**9


def protocol(insurance_fund: str = "0", **perp: Any) -> Any:
    perp_cfg = {"margin_ratio_initial": "0.1", "margin_ratio_maintenance": "0.05",
                "liquidator_fee": "0.01", "if_liquidation_fee": "0.01",
                "order_step_size": 10_000_000, **perp}
    one = {"initial_asset_weight": "1", "maintenance_asset_weight": "1",
           "initial_liability_weight": "1", "maintenance_liability_weight": "1"}
    sol = {"initial_asset_weight": "0.8", "maintenance_asset_weight": "0.9",
           "initial_liability_weight": "1.2", "maintenance_liability_weight": "1.1",
           "liquidator_fee": "0.01"}
    return protocol_from_dict({"preset": "drift-v2", "markets": {
        "USDC": {"decimals": 6, "collateral": False, "borrowable": False},
        "SOL": {"decimals": 9, "collateral": False, "borrowable": False},
        "SOL-PERP": {"decimals": 9, "collateral": False, "borrowable": False}},
        "drift": {"quote": "USDC", "spot": {"USDC": one, "SOL": sol},
                  "perps": {"SOL-PERP": perp_cfg}, "insurance_fund": insurance_fund}})


def drifts_book(fee_pool: int = 0) -> DriftBook:
    # Drift's test: the bankrupt user (quote -100), a long (5, -500), a short (-5, 500).
    return DriftBook({"u": DriftAccount(perps={"SOL-PERP": (0, -100 * USDC)}),
                      "long": DriftAccount(perps={"SOL-PERP": (5 * BASE, -500 * USDC)}),
                      "short": DriftAccount(perps={"SOL-PERP": (-5 * BASE, 500 * USDC)})},
                     fee_pools={"SOL-PERP": fee_pool} if fee_pool else {})


def test_rules_reproduce_drifts_numbers():
    # 100 USDC over 10 base: 10 USDC per base, in FUNDING_RATE_PRECISION (1e9).
    assert funding_rate_delta_to_resolve_bankruptcy(-100 * USDC, 10 * BASE) == 10 * FRP
    # the long's cumulative rate rises by it, the short's falls: each pays 50
    assert funding_payment(10 * FRP, 5 * BASE) == -50 * USDC
    assert funding_payment(-10 * FRP, -5 * BASE) == -50 * USDC
    # a negative delta pays a long (ordinary funding, longs receive)
    assert funding_payment(-10 * FRP, 5 * BASE) == 50 * USDC
    # rounding: 1 unit over 3 base rounds the rate up to 1 unit per base: each of the
    # three pays 1 (3 charged for 1 lost); half a base pays 0 (the payment floors)
    assert funding_rate_delta_to_resolve_bankruptcy(1, 3 * BASE) == 1_000
    assert funding_payment(1_000, BASE) == -1
    assert funding_payment(1_000, BASE // 2) == 0
    with pytest.raises(ValueError, match="total_base_asset_amount"):
        funding_rate_delta_to_resolve_bankruptcy(USDC, 0)
    # the vault always keeps 1 unit (saturating_sub(1)); the market's claim caps it
    assert perp_bankruptcy_if_payment(-100 * USDC, 0, 10**18) == 0
    assert perp_bankruptcy_if_payment(-100 * USDC, 30 * USDC, 10**18) == 30 * USDC - 1
    assert perp_bankruptcy_if_payment(-100 * USDC, 500 * USDC, 10**18) == 100 * USDC
    assert perp_bankruptcy_if_payment(-100 * USDC, 500 * USDC, 20 * USDC) == 20 * USDC
    # is_cross_margin_bankrupt: a liability and nothing else
    assert is_cross_margin_bankrupt([], [(0, -1)])
    assert is_cross_margin_bankrupt([-5, 0], [])
    assert not is_cross_margin_bankrupt([-5, 1], [(0, -1)])       # a deposit
    assert not is_cross_margin_bankrupt([-5], [(1, -1)])           # perp base
    assert not is_cross_margin_bankrupt([], [(0, -1), (0, 2)])     # positive quote
    assert not is_cross_margin_bankrupt([], [(0, 0)])              # owes nothing


def test_plan_reproduces_successful_resolve_perp_bankruptcy():
    config = protocol()
    plan = drift_perp_bankruptcy_plan(config, drifts_book(), "u", "SOL-PERP")
    assert plan is not None
    # cumulative_funding_rate_long 1000 -> 1010, short -1000 -> -1010; total_social_loss
    # 100000000; the long's quote -500 -> -550, the short's 500 -> 450.
    assert (plan.loss, plan.if_payment, plan.fee_pool_payment) == (100 * USDC, 0, 0)
    assert (plan.loss_to_socialize, plan.funding_rate_delta) == (100 * USDC, 10 * FRP)
    assert plan.payments == {"long": -50 * USDC, "short": -50 * USDC}
    assert plan.socialized_charged == 100 * USDC


def test_plan_reproduces_successful_resolve_perp_bankruptcy_with_fee_pool():
    plan = drift_perp_bankruptcy_plan(protocol(), drifts_book(fee_pool=50 * USDC), "u",
                                      "SOL-PERP")
    assert plan is not None
    # fee pool 50 pays first: rates 1000 -> 1005, total_social_loss 50000000, each side
    # loses 25 (-525, 475).
    assert (plan.fee_pool_payment, plan.loss_to_socialize) == (50 * USDC, 50 * USDC)
    assert plan.funding_rate_delta == 5 * FRP
    assert plan.payments == {"long": -25 * USDC, "short": -25 * USDC}


def test_plan_pays_from_the_insurance_fund_first():
    # 30 USDC in the vault (29.999999 usable), then the fee pool's 50; 20.000001 left.
    config = protocol(insurance_fund="30")
    book = drifts_book(fee_pool=50 * USDC)
    book = DriftBook(book.accounts, fee_pools=book.fee_pools, insurance_fund=30 * USDC)
    plan = drift_perp_bankruptcy_plan(config, book, "u", "SOL-PERP")
    assert plan is not None
    assert (plan.if_payment, plan.fee_pool_payment, plan.loss_to_socialize) == (
        29_999_999, 50 * USDC, 20_000_001)
    # 20.000001 / 10 base rounds up to 2.000001 per base: each side pays 10.000005
    assert plan.funding_rate_delta == 2_000_001 * 1_000
    assert plan.payments == {"long": -10_000_005, "short": -10_000_005}
    assert plan.if_payment + plan.fee_pool_payment + plan.loss_to_socialize == plan.loss
    # quote_max_insurance caps the claim
    capped = drift_perp_bankruptcy_plan(protocol(insurance_fund="30",
                                                 quote_max_insurance="10"),
                                        book, "u", "SOL-PERP")
    assert capped is not None and capped.if_payment == 10 * USDC


def applied(engine: Engine, *events: Event) -> dict[str, Any]:
    details: dict[str, Any] = {}
    for event in events:
        out = engine.apply(event)
        assert out.accepted, (event, out.code, out.reason)
        details = dict(out.details)
    return details


def book_of(engine: Engine) -> DriftBook:
    book = engine.state.family
    assert isinstance(book, DriftBook)
    return book


def test_crash_liquidations_then_bankruptcy_through_events(tmp_path: Path):
    # u: 10 SOL at 100, borrows 700 USDC, long 5 SOL-PERP at 100 (initial: 800 >= 700 +
    # 50). s: 1000 USDC, short 5. k: 10,000 USDC. The fund holds 50 USDC.
    engine = Engine.with_log(protocol(insurance_fund="50"), tmp_path / "events.sqlite")
    px = 100 * PRICE_UNIT
    applied(engine, SetPrice("USDC", PRICE_UNIT), SetPrice("SOL", px),
            SetPrice("SOL-PERP", px), DriftDeposit("u", "SOL", 10 * BASE),
            DriftWithdraw("u", "USDC", 700 * USDC),
            DriftPerpTrade("u", "SOL-PERP", 5 * BASE, -500 * USDC),
            DriftDeposit("s", "USDC", 1000 * USDC),
            DriftPerpTrade("s", "SOL-PERP", -5 * BASE, 500 * USDC),
            DriftDeposit("k", "USDC", 10_000 * USDC))
    assert book_of(engine).insurance_fund == 50 * USDC
    out = engine.apply(DriftResolvePerpBankruptcy("k", "u", "SOL-PERP"))
    assert (out.accepted, out.code) == (False, Code.DRIFT_USER_NOT_BANKRUPT)
    # SOL and SOL-PERP at 60: the SOL (600) is worth less than the borrow.
    applied(engine, SetPrice("SOL", 60 * PRICE_UNIT), SetPrice("SOL-PERP", 60 * PRICE_UNIT))
    perp = applied(engine, DriftLiquidatePerp("k", "u", "SOL-PERP"))
    # The shortage (735 + 2% buffer... = 399) is beyond what closing covers: the whole 5
    # base, worth 300, the liquidator's fee 1% (3); the IF fee: the shortage's share of
    # this market's requirement 399 x 15 / 715 = 8.37 is 2.79% of the value, so 7% - 1% -
    # 2.79% = 3.21% (x .95), capped at 1% (3), into the fee pool.
    assert (perp["base_transfer"], perp["quote_transfer"]) == (5 * BASE, 300 * USDC)
    assert (perp["liquidator_fee"], perp["if_fee"]) == (3 * USDC, 3 * USDC)
    assert book_of(engine).account("u").perps["SOL-PERP"] == (0, -206 * USDC)
    assert book_of(engine).fee_pools == {"SOL-PERP": 3 * USDC}
    spot = applied(engine, DriftLiquidateSpot("k", "u", "SOL", "USDC"))
    # all the SOL goes, for the liability it implies: 600 / 1.01 = 594.059406 (rounded up)
    assert (spot["asset_transfer"], spot["liability_transfer"]) == (10 * BASE, 594_059_406)
    owed = 700 * USDC - spot["liability_transfer"]
    assert drift_is_bankrupt(book_of(engine), "u")
    before = book_of(engine)
    d = applied(engine, DriftResolvePerpBankruptcy("k", "u", "SOL-PERP"))
    # 206 lost (500 - 300 + 3 + 3): the fund pays 49.999999 (1 unit stays), the fee pool
    # its 3, 153.000001 over the 10 base open (k's long 5 taken over, s's short 5):
    # 15.3000001 per base, rounded up to 15.300001; each pays 76.500005.
    assert (d["loss"], d["if_payment"], d["fee_pool_payment"]) == (206 * USDC, 49_999_999,
                                                                   3 * USDC)
    assert d["loss_to_socialize"] == 153_000_001
    assert d["cumulative_funding_rate_delta"] == 15_300_001 * 1_000
    assert d["payments"] == {"k": -76_500_005, "s": -76_500_005}
    after = book_of(engine)
    assert after.account("u").perps["SOL-PERP"] == (0, 0)
    assert after.account("u").spot["USDC"] == -owed        # the spot borrow stays
    assert after.account("s").perps["SOL-PERP"] == (-5 * BASE, 500 * USDC - 76_500_005)
    assert after.insurance_fund == 1
    assert after.fee_pools == {"SOL-PERP": 0}
    assert after.settled_insurance == {"SOL-PERP": 49_999_999}
    assert after.social_loss == {"SOL-PERP": 153_000_001}
    # conservation: the loss cleared = fund + fee pool + socialized; the quote moved is
    # the fund's payment plus the socialized loss less what the positions were charged
    q = [sum(x.perps.get("SOL-PERP", (0, 0))[1] for x in b.accounts.values())
         for b in (before, after)]
    assert q[1] - q[0] == d["loss"] - d["socialized_charged"]
    assert d["loss"] == d["if_payment"] + d["fee_pool_payment"] + d["loss_to_socialize"]
    assert d["socialized_charged"] - d["loss_to_socialize"] == 9   # the rounding up
    # done: u is no longer bankrupt in its perp (the borrow stays: that is
    # DriftResolveSpotBankruptcy's, tests/engine/test_drift_spot_bankruptcy.py) and a
    # second call is refused
    out = engine.apply(DriftResolvePerpBankruptcy("k", "u", "SOL-PERP"))
    assert (out.accepted, out.code) == (False, Code.DRIFT_INVALID_PERP_POSITION_TO_LIQUIDATE)
    # the log replays to the same state (fund, pools and social loss in the hash)
    expected = engine.state_hash()
    engine.close()
    replayed, report = Engine.replay(tmp_path / "events.sqlite")
    assert report.state_hash == expected == replayed.state_hash()
    assert book_of(replayed).social_loss == {"SOL-PERP": 153_000_001}


def test_bankruptcy_refusals_change_nothing():
    engine = Engine(protocol())
    applied(engine, SetPrice("USDC", PRICE_UNIT), SetPrice("SOL", 100 * PRICE_UNIT),
            SetPrice("SOL-PERP", 100 * PRICE_UNIT), DriftDeposit("k", "USDC", 10 * USDC))
    book = engine.state.family
    cases: list[tuple[Event, Code]] = [
        (DriftResolvePerpBankruptcy("k", "k", "SOL-PERP"),
         Code.DRIFT_USER_CANT_LIQUIDATE_THEMSELF),
        (DriftResolvePerpBankruptcy("k", "u", "BTC-PERP"), Code.UNKNOWN_MARKET),
        (DriftResolvePerpBankruptcy("u", "k", "SOL-PERP"), Code.DRIFT_USER_NOT_BANKRUPT),
        (DriftResolvePerpBankruptcy("k", "nobody", "SOL-PERP"), Code.DRIFT_USER_NOT_BANKRUPT),
    ]
    for event, code in cases:
        out = engine.apply(event)
        assert (out.accepted, out.code) == (False, code), (event, out.reason)
    assert engine.state.family is book


def test_config_fields_are_checked():
    with pytest.raises(ConfigError, match=r"insurance_fund"):
        protocol(insurance_fund="-1")
    with pytest.raises(ConfigError, match=r"insurance_fund: 1E-7 has more than 6 decimals"):
        protocol(insurance_fund="0.0000001")
    with pytest.raises(ConfigError, match=r"fee_pool"):
        protocol(fee_pool="0.0000001")
    with pytest.raises(ConfigError, match=r"quote_max_insurance"):
        protocol(quote_max_insurance="-5")
