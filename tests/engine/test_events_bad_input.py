"""Event argument validation.

Malformed arguments (wrong type, missing or unknown field, unknown event type) raise
``EventError`` naming the field, before the engine sees the event. Well-formed arguments
that the rules do not allow are *refused*: the outcome is ``<Type>Rejected`` with a reason
naming the field or saying why, the event takes a sequence number, and nothing else changes.

Both engines start from the same worked position: a liquidity provider supplies
1,000,000 USDC, alice supplies 1 WETH at 2,000 USD and borrows 1,000 USDC (aave-v3:
health factor 2,000 x 0.83 / 1,000 = 1.66; compound-v3: 2,000 x 0.90 / 1,000 = 1.8).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from marginengine.config import protocol_from_dict
from marginengine.engine import (
    Absorb,
    AdvanceTime,
    Borrow,
    BuyCollateral,
    Deposit,
    Engine,
    Event,
    Liquidate,
    Repay,
    SetLiquidationGracePeriod,
    SetPrice,
    SetUserEMode,
    SetVolSurface,
    Withdraw,
    event_from_dict,
)
from marginengine.errors import EventError

WETH = 10**18
USDC = 10**6
USD = 10**8

AAVE = protocol_from_dict({"preset": "aave-v3", "markets": {"WETH": {}, "USDC": {}, "DAI": {}}})
COMPOUND = protocol_from_dict({"preset": "compound-v3"})


def funded(preset: str) -> Engine:
    """lp supplies 1,000,000 USDC; alice supplies 1 WETH and borrows 1,000 USDC."""
    if preset == "aave-v3":
        engine = Engine(AAVE)
        prices = {"WETH": 2_000 * USD, "USDC": USD, "DAI": USD}
    else:
        engine = Engine(COMPOUND)
        prices = {"USDC": USD, "WETH": 2_000 * USD, "WBTC": 60_000 * USD, "COMP": 50 * USD}
    outcomes = engine.apply_all([
        *(SetPrice(asset, price) for asset, price in prices.items()),
        Deposit("lp", "USDC", 1_000_000 * USDC),
        Deposit("alice", "WETH", 1 * WETH),
        Borrow("alice", "USDC", 1_000 * USDC),
    ])
    assert all(o.accepted for o in outcomes), outcomes
    return engine


def hash_without_seq(engine: Engine) -> str:
    return engine.ledger.state_hash({"prices": engine.prices.as_dict()})


# ---------------------------------------------------------------------------- malformed
@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Deposit("alice", "WETH", 1.5),
         r"^Deposit\.amount: must be an integer in smallest units \(got 1\.5\)$"),
        (lambda: Deposit("alice", "WETH", True),
         r"^Deposit\.amount: must be an integer in smallest units \(got True\)$"),
        (lambda: Withdraw("alice", "WETH", "100"),
         r"^Withdraw\.amount: must be an integer in smallest units \(got '100'\)$"),
        (lambda: SetPrice("WETH", 2_000.0),
         r"^SetPrice\.price: must be an integer in smallest units \(got 2000\.0\)$"),
        # Not amounts: named by what they count (they were called "smallest units").
        (lambda: AdvanceTime(None),
         r"^AdvanceTime\.seconds: must be an integer number of seconds \(got None\)$"),
        (lambda: SetLiquidationGracePeriod("USDC", 1.5),
         r"^SetLiquidationGracePeriod\.grace_period: must be an integer number of "
         r"seconds \(got 1\.5\)$"),
        (lambda: SetUserEMode("alice", "1"),
         r"^SetUserEMode\.category: must be an integer \(got '1'\)$"),
        (lambda: SetVolSurface("WETH", 86_400, 0.6),
         r"^SetVolSurface\.vol_ppm: must be an integer in parts per million \(got 0\.6\)$"),
        (lambda: Borrow(None, "USDC", 1),
         r"^Borrow\.account: must be a string \(got None\)$"),
        (lambda: Repay("alice", 7, 1),
         r"^Repay\.asset: must be a string \(got 7\)$"),
        (lambda: Liquidate("keeper", "alice", "USDC", "WETH", 1, "yes"),
         r"^Liquidate\.receive_supply: must be true or false \(got 'yes'\)$"),
        (lambda: BuyCollateral("keeper", "WETH", 10, 0.5),
         r"^BuyCollateral\.min_amount: must be an integer in smallest units \(got 0\.5\)$"),
    ],
    ids=["float-amount", "bool-amount", "str-amount", "float-price", "none-seconds",
         "float-grace-period", "str-category", "float-vol", "none-account", "int-asset",
         "str-bool", "float-min-amount"],
)
def test_event_when_field_has_wrong_type_then_event_error_names_field(
    build: Any, message: str,
) -> None:
    with pytest.raises(EventError, match=message):
        build()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"type": "Deposit", "account": "alice", "asset": "WETH"},
         r"^Deposit\.amount: required field is missing$"),
        ({"type": "Liquidate", "liquidator": "k", "account": "alice", "debt_asset": "USDC",
          "collateral_asset": "WETH"},
         r"^Liquidate\.debt_to_cover: required field is missing$"),
        ({"type": "Deposit", "account": "alice", "asset": "WETH", "amount": 1, "amout": 1},
         r"^Deposit\.amout: unknown field \(did you mean amount\? fields: account, asset, "
         r"amount\)$"),
        ({"type": "Deposit", "account": "alice", "asset": "WETH", "amount": 1, 1: 2, "x": 3},
         r"^Deposit\.1: unknown field \(fields: account, asset, amount\); Deposit\.x: "
         r"unknown field \(fields: account, asset, amount\)$"),
        ({"type": "Teleport", "account": "alice"},
         r"^type: unknown event type 'Teleport' \(one of Deposit, Withdraw, Borrow, Repay, "
         r"SetPrice, AdvanceTime, Liquidate, Absorb, BuyCollateral, DepositQuote, "
         r"WithdrawQuote, TransferQuote, Trade, LiquidatePerp, FundInsurance, Bark, Take, "
         r"Redo, Tend, Dent, Deal, Tick, SetConditions, SetSequencer, SetRiskParams, "
         r"SetCrowding, SetUserEMode, SetUseAsCollateral, RepayWithATokens, "
         r"SetLiquidationGracePeriod, SetReservePause, SetPoolPause, SetReserveFreeze, "
         r"SetReserveActive, SetDebtCeiling, ImportAccount, "
         r"MorphoSupply, MorphoWithdraw, MorphoBorrow, MorphoRepay, MorphoSupplyCollateral, "
         r"MorphoWithdrawCollateral, MorphoLiquidate, MorphoAccrueInterest, LiquityOpenTrove, "
         r"LiquityAdjustTrove, LiquityCloseTrove, LiquityProvideToSP, LiquityWithdrawFromSP, "
         r"LiquityLiquidate, LiquityLiquidateTroves, LiquityBatchLiquidate, "
         r"LiquityRedeemCollateral, "
         r"DepositOptionCash, WithdrawOptionCash, TradeOption, SettleOption, SetVolSurface, "
         r"SetSviSurface, "
         r"EulerDeposit, EulerWithdraw, EulerDepositCollateral, EulerWithdrawCollateral, "
         r"EulerBorrow, EulerRepay, EulerSetLTV, EulerLiquidate, MangoDeposit, MangoWithdraw, "
         r"MangoPerpTrade, MangoPerpOrders, MangoSetStablePrice, MangoLiqTokenWithToken, "
         r"MangoTokenLiqBankruptcy, MangoPerpLiqBaseOrPositivePnl, "
         r"MangoPerpLiqNegativePnlOrBankruptcy, MangoPerpSettlePnl, MangoPerpUpdateFunding, "
         r"DriftDeposit, DriftWithdraw, "
         r"DriftPerpTrade, DriftLiquidateSpot, DriftLiquidatePerp, "
         r"DriftResolvePerpBankruptcy, DriftResolveSpotBankruptcy, "
         r"DriftLiquidatePerpPnlForDeposit, "
         r"FundSecurityModule, StartPortfolioAuction, "
         r"BidPortfolioAuction, TerminatePortfolioAuction, ConvertToInsolventAuction\)$"),
        ({"account": "alice", "asset": "WETH", "amount": 1},
         r"^type: unknown event type None"),
        ({"type": ["Deposit"]}, r"^type: unknown event type \['Deposit'\]"),
        ({"type": "Deposit", "account": "alice", "asset": "WETH", "amount": 1.0},
         r"^Deposit\.amount: must be an integer in smallest units \(got 1\.0\)$"),
        (["Deposit", "alice", "WETH", 1], r"^event must be a table/object, not list$"),
    ],
    ids=["missing-field", "missing-field-liquidate", "unknown-field", "unknown-mixed-keys",
         "unknown-type", "no-type", "unhashable-type", "float-from-dict", "not-a-dict"],
)
def test_event_from_dict_when_malformed_then_event_error_names_field(
    data: Any, message: str,
) -> None:
    with pytest.raises(EventError, match=message):
        event_from_dict(data)


def test_event_from_dict_when_well_formed_then_event_with_default_fields() -> None:
    event = event_from_dict({"type": "Liquidate", "liquidator": "keeper", "account": "alice",
                             "debt_asset": "USDC", "collateral_asset": "WETH",
                             "debt_to_cover": 500 * USDC})
    assert event == Liquidate("keeper", "alice", "USDC", "WETH", 500 * USDC, False)
    assert event_from_dict(event.to_dict()) == event


@pytest.mark.parametrize("thing", [{"type": "AdvanceTime", "seconds": 60}, Event(), None],
                         ids=["dict", "base-event", "none"])
def test_apply_when_not_an_applicable_event_then_event_error_and_nothing_changes(
    thing: Any,
) -> None:
    engine = funded("aave-v3")
    before, seq = engine.state_hash(), engine.seq

    with pytest.raises(EventError, match="not an event the engine applies"):
        engine.apply(thing)

    assert engine.seq == seq
    assert engine.state_hash() == before


# ---------------------------------------------------------------------------- refused
AAVE_REFUSED: list[tuple[str, Event, str]] = [
    ("zero-amount", Deposit("alice", "WETH", 0), r"^amount: must be positive \(got 0\)$"),
    ("negative-amount", Borrow("alice", "USDC", -5), r"^amount: must be positive \(got -5\)$"),
    ("negative-repay", Repay("alice", "USDC", -1), r"^amount: must be positive \(got -1\)$"),
    ("unknown-asset", Deposit("alice", "XYZ", WETH), r"^asset: unknown asset 'XYZ'$"),
    ("unknown-asset-price", SetPrice("XYZ", USD), r"^asset: unknown asset 'XYZ'$"),
    ("malformed-account", Deposit("bad id!", "WETH", WETH),
     r"^account: account id must be 1-64 letters, digits or \. _ : @ -, optionally /label "
     r"for an isolated sub-account \(got 'bad id!'\)$"),
    ("empty-account", Deposit("", "WETH", WETH), r"^account: account id must be 1-64"),
    ("long-account", Deposit("a" * 65, "WETH", WETH), r"^account: account id must be 1-64"),
    ("unknown-account", Withdraw("bob", "WETH", WETH), r"^account: unknown account 'bob'$"),
    ("unknown-account-borrow", Borrow("bob", "USDC", USDC), r"^account: unknown account 'bob'$"),
    ("beyond-balance", Withdraw("alice", "WETH", 2 * WETH),
     r"^amount 2 WETH is beyond the supplied balance 1 WETH$"),
    ("nothing-supplied", Withdraw("alice", "USDC", USDC), r"^alice has no USDC supplied$"),
    ("repay-no-debt", Repay("alice", "DAI", USDC), r"^alice owes no DAI$"),
    ("repay-no-debt-lp", Repay("lp", "USDC", USDC), r"^lp owes no USDC$"),
    # Beyond the LTV but not the threshold (HF stays above 1): validateHFAndLtv's last check.
    ("beyond-borrowing-power", Borrow("alice", "USDC", 650 * USDC),
     r"^debt would rise to 1,650\.00 USD, above the borrowing power of 1,610\.00 USD; "
     r"health factor would be 1\.0061$"),
    # Beyond the threshold too: Aave v3.5+ checks the health factor first.
    ("beyond-liquidation-threshold", Borrow("alice", "USDC", 700 * USDC),
     r"^health factor would fall to 0\.9765, below 1; no new borrows$"),
    ("no-liquidity", Borrow("alice", "DAI", 1), r"^not enough liquidity: the pool holds only 0 of"),
    ("zero-price", SetPrice("WETH", 0), r"^price: must be positive \(got 0\)$"),
    ("negative-price", SetPrice("WETH", -USD), r"^price: must be positive \(got -100000000\)$"),
    # A token amount is a uint256: 2**256 was supplied (and hashed, and valued) before.
    ("deposit-beyond-uint256", Deposit("alice", "WETH", 2**256),
     r"^amount: too large \(more than 2\*\*256 - 1 smallest units\)$"),
    ("price-beyond-uint256", SetPrice("WETH", 2**300),
     r"^price: too large \(more than 2\*\*256 - 1 smallest units\)$"),
    ("zero-seconds", AdvanceTime(0), r"^seconds: must be positive \(got 0\)$"),
    ("negative-seconds", AdvanceTime(-60), r"^seconds: must be positive \(got -60\)$"),
    ("absorb-in-aave", Absorb("keeper", "alice"), r"^aave-v3 liquidates by Liquidate, not Absorb$"),
    ("buy-in-aave", BuyCollateral("keeper", "WETH", USDC), r"^aave-v3 has no BuyCollateral$"),
    ("liquidate-self", Liquidate("alice", "alice", "USDC", "WETH", USDC),
     r"^an account cannot liquidate itself$"),
    ("liquidate-healthy", Liquidate("keeper", "alice", "USDC", "WETH", USDC),
     r"^health factor 1\.6600 is not below 1$"),
    ("liquidate-unknown-debt-asset", Liquidate("keeper", "alice", "XYZ", "WETH", USDC),
     r"^debt_asset: unknown asset 'XYZ'$"),
    ("liquidate-unknown-collateral-asset", Liquidate("keeper", "alice", "USDC", "XYZ", USDC),
     r"^collateral_asset: unknown asset 'XYZ'$"),
    ("liquidate-zero-cover", Liquidate("keeper", "alice", "USDC", "WETH", 0),
     r"^debt_to_cover: must be positive \(got 0\)$"),
    ("liquidate-malformed-liquidator", Liquidate("k k", "alice", "USDC", "WETH", USDC),
     r"^liquidator: account id must be 1-64"),
    ("liquidate-unknown-account", Liquidate("keeper", "bob", "USDC", "WETH", USDC),
     r"^account: unknown account 'bob'$"),
    # validateLiquidationCall asks the health factor before the collateral flag.
    ("liquidate-healthy-not-collateral", Liquidate("keeper", "alice", "USDC", "DAI", USDC),
     r"^health factor 1\.6600 is not below 1$"),
    # The whole collateral while in debt: the position disappears with the withdrawal, so
    # the health check must not depend on it still existing.
    ("withdraw-all-collateral-in-debt", Withdraw("alice", "WETH", WETH),
     r"^health factor would fall to 0, below 1$"),
    ("withdraw-to-hf-below-1", Withdraw("alice", "WETH", WETH // 2),
     r"^health factor would fall to 0\.83, below 1$"),
]

COMPOUND_REFUSED: list[tuple[str, Event, str]] = [
    ("borrow-not-borrowable", Borrow("alice", "WETH", 1), r"^WETH is not borrowable$"),
    ("borrow-unknown-account", Borrow("bob", "USDC", 200 * USDC),
     r"^account: unknown account 'bob'$"),
    ("liquidate-in-compound", Liquidate("keeper", "alice", "USDC", "WETH", USDC),
     r"^compound-v3 liquidates by Absorb, not Liquidate$"),
    ("absorb-healthy", Absorb("keeper", "alice"),
     r"^alice is not liquidatable: collateral at liquidate factors 1,800\.00 USD covers the "
     r"debt 1,000\.00 USD$"),
    ("absorb-malformed-absorber", Absorb("k k", "alice"), r"^absorber: account id must be"),
    ("absorb-unknown-account", Absorb("keeper", "bob"), r"^account: unknown account 'bob'$"),
    ("borrow-while-supplying-base", Borrow("lp", "USDC", 100 * USDC),
     r"^lp supplies USDC; in compound-v3 the base balance is signed"),
    ("buy-base-asset", BuyCollateral("keeper", "USDC", USDC), r"^USDC is not a collateral asset$"),
    ("buy-unknown-asset", BuyCollateral("keeper", "XYZ", USDC), r"^asset: unknown asset 'XYZ'$"),
    ("buy-zero", BuyCollateral("keeper", "WETH", 0), r"^base_amount: must be positive \(got 0\)$"),
    ("buy-negative-min", BuyCollateral("keeper", "WETH", USDC, -1),
     r"^min_amount: must not be negative \(got -1\)$"),
    ("buy-nothing-seized", BuyCollateral("keeper", "WETH", USDC),
     r"^the protocol holds only 0 WETH of seized WETH$"),
    ("withdraw-all-collateral-in-debt", Withdraw("alice", "WETH", WETH),
     r"^borrowing power would fall to 0\.00 USD, below the debt of 1,000\.00 USD$"),
    ("withdraw-beyond-balance", Withdraw("alice", "WETH", WETH + 1),
     r"^amount 1\.000000000000000001 WETH is beyond the supplied balance 1 WETH$"),
    ("zero-seconds", AdvanceTime(0), r"^seconds: must be positive \(got 0\)$"),
    ("zero-price", SetPrice("USDC", 0), r"^price: must be positive \(got 0\)$"),
    ("unknown-asset", Deposit("alice", "XYZ", 1), r"^asset: unknown asset 'XYZ'$"),
    ("repay-no-debt", Repay("lp", "USDC", USDC), r"^lp owes no USDC$"),
]


def assert_refused_without_change(engine: Engine, event: Event, reason: str) -> None:
    before, seq = hash_without_seq(engine), engine.seq

    outcome = engine.apply(event)

    assert outcome.accepted is False
    assert outcome.name.endswith("Rejected")
    assert outcome.reason is not None
    assert outcome.details == {}
    assert outcome.seq == engine.seq == seq + 1
    assert re.search(reason, outcome.reason), outcome.reason
    assert hash_without_seq(engine) == before
    engine.ledger.check_conservation()


@pytest.mark.parametrize(("event", "reason"), [(e, r) for _, e, r in AAVE_REFUSED],
                         ids=[name for name, _, _ in AAVE_REFUSED])
def test_apply_when_aave_event_disallowed_then_rejected_with_reason_and_state_unchanged(
    event: Event, reason: str,
) -> None:
    assert_refused_without_change(funded("aave-v3"), event, reason)


@pytest.mark.parametrize(("event", "reason"), [(e, r) for _, e, r in COMPOUND_REFUSED],
                         ids=[name for name, _, _ in COMPOUND_REFUSED])
def test_apply_when_compound_event_disallowed_then_rejected_with_reason_and_state_unchanged(
    event: Event, reason: str,
) -> None:
    assert_refused_without_change(funded("compound-v3"), event, reason)


def test_borrow_when_compound_debt_below_base_borrow_min_then_rejected() -> None:
    engine = funded("compound-v3")
    engine.apply(Deposit("bob", "WETH", WETH))

    assert_refused_without_change(
        engine, Borrow("bob", "USDC", 50 * USDC),
        r"^debt of 50 USDC would be below base_borrow_min 100 USDC$",
    )


def test_borrow_when_aave_asset_not_borrowable_then_rejected() -> None:
    config = protocol_from_dict(
        {"preset": "aave-v3", "markets": {"WETH": {"borrowable": False}, "USDC": {}}}
    )
    engine = Engine(config)
    engine.apply_all([SetPrice("WETH", 2_000 * USD), SetPrice("USDC", USD),
                      Deposit("lp", "WETH", 10 * WETH), Deposit("alice", "USDC", 10_000 * USDC)])

    assert_refused_without_change(engine, Borrow("alice", "WETH", WETH),
                                  r"^WETH is not borrowable$")


def test_borrow_when_aave_supply_is_not_collateral_then_rejected_no_collateral() -> None:
    config = protocol_from_dict(
        {"preset": "aave-v3", "markets": {"WETH": {}, "USDC": {"collateral": False}}}
    )
    engine = Engine(config)
    engine.apply_all([SetPrice("WETH", 2_000 * USD), SetPrice("USDC", USD),
                      Deposit("lp", "WETH", 10 * WETH), Deposit("alice", "USDC", 10_000 * USDC)])

    # Aave v3.5+ (the preset's v3.7): validateHFAndLtv after the mint, LtvValidationFailed.
    assert_refused_without_change(engine, Borrow("alice", "WETH", WETH),
                                  r"^alice has no collateral: it backs no borrow$")
    assert engine.apply(Borrow("alice", "WETH", WETH)).code == "LTV_VALIDATION_FAILED"


@pytest.mark.parametrize("preset", ["aave-v3", "compound-v3"])
def test_withdraw_when_whole_collateral_without_debt_then_accepted(preset: str) -> None:
    engine = funded(preset)
    engine.apply(Repay("alice", "USDC", 2_000 * USDC))  # more than owed: only the debt is taken
    assert engine.ledger.debt_of("alice", "USDC") == 0

    outcome = engine.apply(Withdraw("alice", "WETH", WETH))

    assert outcome.accepted, outcome
    assert outcome.details == {"withdrawn": WETH}
    assert engine.ledger.supply_of("alice", "WETH") == 0


def test_rejected_events_when_mixed_with_accepted_then_only_accepted_change_state() -> None:
    # The same accepted events, with and without refused ones in between, end in the same
    # state; only the sequence number differs.
    accepted = [SetPrice("WETH", 2_000 * USD), SetPrice("USDC", USD),
                Deposit("lp", "USDC", 1_000_000 * USDC), Deposit("alice", "WETH", WETH),
                Borrow("alice", "USDC", 1_000 * USDC), AdvanceTime(86_400),
                Repay("alice", "USDC", 400 * USDC)]
    refused = [Deposit("alice", "WETH", 0), Withdraw("alice", "WETH", WETH),
               AdvanceTime(0), SetPrice("WETH", -1), Repay("alice", "DAI", 1)]
    clean = Engine(AAVE)
    clean_outcomes = clean.apply_all(accepted)
    mixed = Engine(AAVE)
    mixed_outcomes = []
    for i, event in enumerate(accepted):
        mixed_outcomes.append(mixed.apply(event))
        if i >= 4:  # after the borrow, so the refusals meet a position in debt
            mixed_outcomes.extend(mixed.apply_all(refused))

    assert all(o.accepted for o in clean_outcomes)
    assert [o.accepted for o in mixed_outcomes].count(False) == 3 * len(refused)
    assert hash_without_seq(mixed) == hash_without_seq(clean)
    assert mixed.seq == clean.seq + 3 * len(refused)
