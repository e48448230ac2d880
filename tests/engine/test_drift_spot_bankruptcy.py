"""Drift v2's spot bankruptcy (``DriftResolveSpotBankruptcy``): a cross-margin bankrupt
account's borrow is cleared, paid by the market's insurance fund (at most its vault less
1), the rest socialized over the market's deposits by lowering the cumulative deposit
interest.

Figures from Drift's own tests (drift-labs/protocol-v2 at
0ae3e3b1db782a6765c3525b3dec38ad4d9d3a62): ``programs/drift/src/controller/liquidation/
tests.rs`` ``resolve_spot_bankruptcy::successful_resolve_spot_bankruptcy`` (a 100 USDC
borrow, 1000 USDC deposited, no insurance: the cumulative deposit interest falls from 1 to
0.9, the deposits are then worth 900, the social loss is 100) and ``programs/drift/src/
math/liquidation/tests.rs`` ``calculate_cumulative_deposit_interest_delta_to_resolve_
bankruptcy`` (11 USDC over 120 deposited: 916666667; no deposits: 0; the rules' own tests
are in tests/liquidation/test_drift_liquidation.py).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from marginengine.config import protocol_from_dict
from marginengine.decisions import Code
from marginengine.engine import (
    DriftDeposit,
    DriftLiquidateSpot,
    DriftResolveSpotBankruptcy,
    DriftWithdraw,
    Engine,
    Event,
    SetPrice,
    event_from_dict,
)
from marginengine.engine.family_state import (
    DriftAccount,
    DriftBook,
    DriftLiquidation,
    drift_is_bankrupt,
    drift_spot_bankruptcy_plan,
)
from marginengine.errors import ConfigError, EventError
from marginengine.fixedpoint import PRICE_UNIT
from marginengine.liquidation.drift import SPOT_CUMULATIVE_INTEREST_PRECISION

USDC, SOL, BTC = 10**6, 10**9, 10**8
#: ``SPOT_CUMULATIVE_INTEREST_PRECISION``.
ONE = SPOT_CUMULATIVE_INTEREST_PRECISION


def protocol(insurance_fund: str = "0", sol_fund: str = "0", usdc_fund: str = "0",
             usdc_outside: str = "0") -> Any:
    one = {"initial_asset_weight": "1", "maintenance_asset_weight": "1",
           "initial_liability_weight": "1", "maintenance_liability_weight": "1",
           "insurance_fund": usdc_fund, "deposits": usdc_outside}
    sol = {"initial_asset_weight": "0.8", "maintenance_asset_weight": "0.9",
           "initial_liability_weight": "1.2", "maintenance_liability_weight": "1.1",
           "liquidator_fee": "0.01"}
    return protocol_from_dict({"preset": "drift-v2", "markets": {
        "USDC": {"decimals": 6, "collateral": False, "borrowable": False},
        "SOL": {"decimals": 9, "collateral": False, "borrowable": False},
        "BTC": {"decimals": 8, "collateral": False, "borrowable": False}},
        "drift": {"quote": "USDC", "spot": {"USDC": one,
                                            "SOL": {**sol, "insurance_fund": sol_fund},
                                            "BTC": sol},
                  "insurance_fund": insurance_fund}})


def applied(engine: Engine, *events: Event) -> dict[str, Any]:
    details: dict[str, Any] = {}
    for event in events:
        out = engine.apply(event)
        assert out.accepted, (event, out.reason)
        details = dict(out.details)
    return details


def book_of(engine: Engine) -> DriftBook:
    book = engine.state.family
    assert isinstance(book, DriftBook)
    return book


def test_plan_reproduces_successful_resolve_spot_bankruptcy():
    # Drift's test: the user borrows 100 USDC; the market holds 1000 USDC of deposits (the
    # liquidator's 50 among them); the insurance vault is empty.
    book = DriftBook({"u": DriftAccount(spot={"USDC": -100 * USDC}),
                      "liquidator": DriftAccount(spot={"USDC": 50 * USDC}),
                      "others": DriftAccount(spot={"USDC": 950 * USDC})})
    plan = drift_spot_bankruptcy_plan(protocol(), book, {"USDC": PRICE_UNIT}, "u", "USDC")
    assert (plan.borrow, plan.if_payment, plan.loss_to_socialize) == (100 * USDC, 0, 100 * USDC)
    # expected_spot_market.cumulative_deposit_interest = 9 * PRECISION / 10
    assert (plan.interest_delta, plan.interest_after) == (ONE // 10, 9 * ONE // 10)
    # deposit_token_amount == 900 USDC; total_quote_social_loss == 100 USDC
    assert plan.haircuts == {"liquidator": 5 * USDC, "others": 95 * USDC}
    assert 1000 * USDC - plan.socialized_charged == 900 * USDC
    assert plan.quote_social_loss == 100 * USDC


def test_outside_deposits_share_the_loss():
    # Drift's test again with the liquidator's 50 in the engine and the other 950 as the
    # market's outside deposits (drift.spot.USDC.deposits): the interest still falls to
    # 0.9; the engine's deposit loses 5, the outside ones 95.
    book = DriftBook({"u": DriftAccount(spot={"USDC": -100 * USDC}),
                      "liquidator": DriftAccount(spot={"USDC": 50 * USDC})})
    plan = drift_spot_bankruptcy_plan(protocol(usdc_outside="950"), book,
                                      {"USDC": PRICE_UNIT}, "u", "USDC")
    assert (plan.interest_delta, plan.interest_after) == (ONE // 10, 9 * ONE // 10)
    assert plan.haircuts == {"liquidator": 5 * USDC}
    assert plan.outside_charged == 95 * USDC
    # a second 100 on the lowered interest: the outside deposits are worth 855 now
    after = DriftBook({"v": DriftAccount(spot={"USDC": -90 * USDC}),
                       "liquidator": DriftAccount(spot={"USDC": 45 * USDC})},
                      deposit_interest={"USDC": 9 * ONE // 10})
    plan = drift_spot_bankruptcy_plan(protocol(usdc_outside="950"), after,
                                      {"USDC": PRICE_UNIT}, "v", "USDC")
    # 90 over 855 + 45 = 900 deposited: 0.1 of the deposits, 0.09 of the interest
    assert plan.interest_delta == 9 * ONE // 100
    assert (plan.haircuts, plan.outside_charged) == ({"liquidator": 4_500_000}, 85_500_000)


def crashed(engine: Engine) -> None:
    # u: 10 SOL at 100, borrows 700 USDC; k (the liquidator) 10,000 USDC, d 1000 USDC.
    # SOL at 60: the SOL (540 weighted) is below the borrow; k takes all of it for the
    # liability it implies, 600 / 1.01 = 594.059406: 105.940594 of borrow stays.
    applied(engine, SetPrice("USDC", PRICE_UNIT), SetPrice("SOL", 100 * PRICE_UNIT),
            SetPrice("BTC", 100 * PRICE_UNIT), DriftDeposit("u", "SOL", 10 * SOL),
            DriftWithdraw("u", "USDC", 700 * USDC), DriftDeposit("k", "USDC", 10_000 * USDC),
            DriftDeposit("d", "USDC", 1000 * USDC))
    out = engine.apply(DriftResolveSpotBankruptcy("k", "u", "USDC"))
    assert (out.accepted, out.code) == (False, Code.DRIFT_USER_NOT_BANKRUPT)
    applied(engine, SetPrice("SOL", 60 * PRICE_UNIT))
    spot = applied(engine, DriftLiquidateSpot("k", "u", "SOL", "USDC"))
    assert (spot["asset_transfer"], spot["liability_transfer"]) == (10 * SOL, 594_059_406)
    assert drift_is_bankrupt(book_of(engine), "u")


def test_liquidation_then_spot_bankruptcy_through_events(tmp_path: Path):
    engine = Engine.with_log(protocol(insurance_fund="50"), tmp_path / "events.sqlite")
    crashed(engine)
    before = book_of(engine)
    d = applied(engine, DriftResolveSpotBankruptcy("k", "u", "USDC"))
    # the fund pays 49.999999 (1 unit stays); 55.940595 over the USDC deposits, k's
    # 9405.940594 and d's 1000 (10,405.940594): the interest falls by 1e10 x 55.940595 /
    # 10,405.940594 = 53,758,326.3, rounded up.
    assert (d["borrow_amount"], d["if_payment"]) == (105_940_594, 49_999_999)
    assert d["loss_to_socialize"] == 55_940_595
    assert d["cumulative_deposit_interest_delta"] == 53_758_327
    assert d["cumulative_deposit_interest"] == ONE - 53_758_327
    # each deposit x 9,946,241,673 / 1e10, rounded down: d 994.624167 (-5.375833), k
    # 9,355.375830 (-50.564764)
    k_deposit = 10_000 * USDC - 594_059_406
    k_after = k_deposit * (ONE - 53_758_327) // ONE
    assert d["haircuts"] == {"d": 5_375_833, "k": k_deposit - k_after}
    assert k_deposit - k_after == 50_564_764
    # the deposits pay 2 units more than the loss (the rounding up of the delta and down
    # of each deposit: the vault keeps them)
    assert d["socialized_charged"] == 55_940_597
    assert (d["quote_social_loss"], d["margin_requirement"], d["total_collateral"]) == (
        105_940_594, 105_940_594, 0)
    after = book_of(engine)
    assert after.account("u").spot == {"SOL": 0, "USDC": 0}
    assert not drift_is_bankrupt(after, "u")
    assert after.account("d").spot["USDC"] == 994_624_167
    assert after.insurance_fund == 1
    assert after.deposit_interest == {"USDC": ONE - 53_758_327}
    assert after.spot_social_loss == {"USDC": 105_940_594}
    # conservation: the balances rise by the borrow cleared less what the deposits
    # lost; the fund paid the borrow less the loss socialized
    q = [sum(x.spot.get("USDC", 0) for x in b.accounts.values()) for b in (before, after)]
    assert q[1] - q[0] == d["borrow_amount"] - d["socialized_charged"]
    assert before.insurance_fund - after.insurance_fund == d["if_payment"]
    assert d["borrow_amount"] == d["if_payment"] + d["loss_to_socialize"]
    # done: the position is emptied, a second call is refused
    out = engine.apply(DriftResolveSpotBankruptcy("k", "u", "USDC"))
    assert (out.accepted, out.code) == (False, Code.DRIFT_USER_NOT_BANKRUPT)
    expected = engine.state_hash()
    engine.close()
    replayed, report = Engine.replay(tmp_path / "events.sqlite")
    assert report.state_hash == expected == replayed.state_hash()
    assert book_of(replayed).deposit_interest == {"USDC": ONE - 53_758_327}


def test_a_second_bankruptcy_compounds_on_the_lowered_interest():
    # Two borrows of 100 USDC each; 1000 deposited by d; no fund. The first lowers the
    # interest to 0.9 (d: 900), the second by 0.9 x 100 / 900 = 0.1 to 0.8 (d: 800).
    book = DriftBook({"u": DriftAccount(spot={"USDC": -100 * USDC}),
                      "v": DriftAccount(spot={"USDC": -100 * USDC}),
                      "d": DriftAccount(spot={"USDC": 1000 * USDC})})
    engine = Engine(protocol())
    applied(engine, SetPrice("USDC", PRICE_UNIT))
    engine.state.family = book
    first = applied(engine, DriftResolveSpotBankruptcy("d", "u", "USDC"))
    second = applied(engine, DriftResolveSpotBankruptcy("d", "v", "USDC"))
    assert first["cumulative_deposit_interest"] == 9 * ONE // 10
    assert second["cumulative_deposit_interest_delta"] == ONE // 10
    assert second["cumulative_deposit_interest"] == 8 * ONE // 10
    assert book_of(engine).account("d").spot["USDC"] == 800 * USDC
    assert book_of(engine).spot_social_loss == {"USDC": 200 * USDC}


def test_a_spot_markets_own_insurance_fund_pays_its_borrow():
    # u deposits 1000 USDC and borrows 5 SOL at 100 (initial 500 x 1.2 = 600 <= 1000).
    # SOL at 250: the borrow weighs 1,375 against 1,000; k takes all the USDC for the SOL
    # it implies, 1000 x 0.99 / 250 = 3.96 SOL: 1.04 SOL of borrow stays. SOL's fund
    # holds 0.5 SOL: it pays 0.499999999, and 0.540000001 is taken from the SOL deposits
    # (k's 20 less the 3.96 it took over: 16.04, and d's 4: 20.04).
    engine = Engine(protocol(sol_fund="0.5"))
    assert book_of(engine).spot_insurance == {"SOL": SOL // 2}
    applied(engine, SetPrice("USDC", PRICE_UNIT), SetPrice("SOL", 100 * PRICE_UNIT),
            DriftDeposit("u", "USDC", 1000 * USDC), DriftWithdraw("u", "SOL", 5 * SOL),
            DriftDeposit("k", "SOL", 20 * SOL), DriftDeposit("d", "SOL", 4 * SOL),
            SetPrice("SOL", 250 * PRICE_UNIT))
    spot = applied(engine, DriftLiquidateSpot("k", "u", "USDC", "SOL"))
    assert (spot["asset_transfer"], spot["liability_transfer"]) == (1000 * USDC, 3_960_000_000)
    d = applied(engine, DriftResolveSpotBankruptcy("k", "u", "SOL"))
    assert (d["borrow_amount"], d["if_payment"]) == (1_040_000_000, 499_999_999)
    assert d["loss_to_socialize"] == 540_000_001
    # 1e10 x 0.540000001 / 20.04 = 269,461,078.3, rounded up
    assert d["cumulative_deposit_interest_delta"] == 269_461_079
    # the social loss's value: 1.04 SOL at 250
    assert d["quote_social_loss"] == 260 * USDC
    after = book_of(engine)
    assert after.spot_insurance == {"SOL": 1}
    assert after.insurance_fund == 0          # the quote's vault is not touched
    assert after.deposit_interest == {"SOL": ONE - 269_461_079}


def test_no_deposits_leave_the_loss_uncovered_and_too_few_refuse():
    # k takes over the borrow against SOL of its own: no USDC deposit is left in the
    # market but d's, 0 or 10 USDC.
    def setup(d_deposit: int) -> Engine:
        engine = Engine(protocol())
        applied(engine, SetPrice("USDC", PRICE_UNIT), SetPrice("SOL", 100 * PRICE_UNIT),
                SetPrice("BTC", 100 * PRICE_UNIT), DriftDeposit("u", "SOL", 10 * SOL),
                DriftWithdraw("u", "USDC", 700 * USDC), DriftDeposit("k", "SOL", 100 * SOL),
                SetPrice("SOL", 60 * PRICE_UNIT))
        if d_deposit:
            applied(engine, DriftDeposit("d", "USDC", d_deposit))
        applied(engine, DriftLiquidateSpot("k", "u", "SOL", "USDC"))
        return engine
    # no deposits: Drift's delta is 0, the borrow is cleared and nobody pays
    engine = setup(0)
    d = applied(engine, DriftResolveSpotBankruptcy("k", "u", "USDC"))
    assert (d["loss_to_socialize"], d["cumulative_deposit_interest_delta"]) == (105_940_594, 0)
    assert (d["socialized_charged"], d["haircuts"]) == (0, {})
    assert book_of(engine).account("u").spot["USDC"] == 0
    # 10 USDC cannot carry 105.94: the interest would go below 0 (Drift's MathError)
    engine = setup(10 * USDC)
    book = engine.state.family
    out = engine.apply(DriftResolveSpotBankruptcy("k", "u", "USDC"))
    assert (out.accepted, out.code) == (False, Code.DRIFT_MATH_ERROR)
    assert "USDC" in out.reason and "deposits" in out.reason
    assert engine.state.family is book


def test_spot_bankruptcy_refusals_change_nothing():
    engine = Engine(protocol())
    crashed(engine)
    applied(engine, DriftDeposit("z", "USDC", 1))
    book = engine.state.family
    cases: list[tuple[Event, Code]] = [
        (DriftResolveSpotBankruptcy("u", "u", "USDC"), Code.DRIFT_USER_CANT_LIQUIDATE_THEMSELF),
        (DriftResolveSpotBankruptcy("k", "u", "ETH"), Code.UNKNOWN_MARKET),
        (DriftResolveSpotBankruptcy("u", "k", "USDC"), Code.DRIFT_USER_NOT_BANKRUPT),
        (DriftResolveSpotBankruptcy("k", "nobody", "USDC"), Code.DRIFT_USER_NOT_BANKRUPT),
        # u never held BTC; its SOL position was emptied by the liquidation
        (DriftResolveSpotBankruptcy("k", "u", "BTC"), Code.DRIFT_COULD_NOT_FIND_SPOT_POSITION),
        (DriftResolveSpotBankruptcy("k", "u", "SOL"), Code.DRIFT_USER_HAS_INVALID_BORROW),
    ]
    for event, code in cases:
        out = engine.apply(event)
        assert (out.accepted, out.code) == (False, code), (event, out.reason)
    assert engine.state.family is book
    # a liquidator with the Bankrupt status is refused (UserBankrupt), one being liquidated
    # too (UserIsBeingLiquidated): resolve_spot_bankruptcy reads the status, not balances
    held = book_of(engine)
    for status, code in ((DriftLiquidation(0, bankrupt=True), Code.DRIFT_USER_BANKRUPT),
                         (DriftLiquidation(0), Code.DRIFT_USER_IS_BEING_LIQUIDATED)):
        engine.state.family = replace(
            held, accounts={**held.accounts, "b": DriftAccount(spot={"USDC": -1})},
            liquidations={**held.liquidations, "b": status})
        out = engine.apply(DriftResolveSpotBankruptcy("b", "u", "USDC"))
        assert (out.accepted, out.code) == (False, code), out.reason


def test_spot_insurance_fund_config_is_checked():
    with pytest.raises(ConfigError, match=r"drift.spot.SOL.insurance_fund: 1E-10 has more "
                                          r"than the token's 9 decimals"):
        protocol(sol_fund="0.0000000001")
    with pytest.raises(ConfigError, match=r"drift.spot.USDC.insurance_fund: the quote "
                                          r"market's vault is drift.insurance_fund"):
        protocol(usdc_fund="5")
    with pytest.raises(ConfigError, match=r"insurance_fund"):
        protocol(sol_fund="-1")


@pytest.mark.parametrize(("data", "message"), [
    ({"type": "DriftResolveSpotBankruptcy", "liquidator": "k", "account": "u"},
     r"^DriftResolveSpotBankruptcy\.market: required field is missing$"),
    ({"type": "DriftResolveSpotBankruptcy", "liquidator": "k", "account": "u", "market": 5},
     r"^DriftResolveSpotBankruptcy\.market: must be a string \(got 5\)$"),
    ({"type": "DriftResolveSpotBankruptcy", "liquidator": "k", "account": "u",
      "market": "USDC", "amount": 3},
     r"^DriftResolveSpotBankruptcy\.amount: unknown field \(did you mean account\? fields: "
     r"liquidator, account, market\)$"),
], ids=["missing-market", "market-not-a-string", "unknown-field"])
def test_malformed_event_names_the_field(data: dict[str, Any], message: str):
    with pytest.raises(EventError, match=message):
        event_from_dict(data)


def test_event_round_trips_and_is_refused_outside_drift():
    event = DriftResolveSpotBankruptcy("k", "u", "USDC")
    assert event_from_dict(event.to_dict()) == event
    engine = Engine(protocol_from_dict({"preset": "aave-v3", "markets": {"USDC": {}}}))
    out = engine.apply(event)
    assert not out.accepted and "Drift" in out.reason
