"""Euler v2 inside the engine: preset euler-v2, Euler* events through the core's handler
table, health through the one margin interface, refusals with the EVK's custom errors,
rollback, the log and replay.

The figures are the EVK's own tests, as tests/liquidation/test_euler.py reproduces them
with the pure rules (euler-xyz/euler-vault-kit at 5b98b42048ba11ae82fb62dfec06d1010c8e41e6,
``test/unit/evault/modules/Liquidation/full.t.sol``: ``test_basicFullLiquidation``,
``test_ltvRamping``, ``test_debtSocialization_basic``); here they arrive through the engine.
TST (the vault's asset) and TST2 (the collateral) have 18 decimals; the engine's prices
are USD with 8 decimals, so 0.4 is 0.4e18 per token as in the EVK's mock oracle.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from marginengine.config import protocol_from_dict
from marginengine.decisions import Code
from marginengine.engine import (
    AdvanceTime,
    Deposit,
    Engine,
    EulerBorrow,
    EulerDeposit,
    EulerDepositCollateral,
    EulerLiquidate,
    EulerRepay,
    EulerSetLTV,
    EulerWithdraw,
    EulerWithdrawCollateral,
    Event,
    SetPrice,
)
from marginengine.engine.events import event_from_dict
from marginengine.engine.family_state import EulerBook
from marginengine.errors import ConfigError
from marginengine.margin import NO_DEBT_HEALTH, MarginKind
from marginengine.margin import euler as rules_euler

E18 = 10**18
T0 = 1_000


def price(value: str) -> int:
    """A USD price with 8 decimals."""
    units, _, frac = value.partition(".")
    return int(units) * 10**8 + int((frac + "0" * 8)[:8])


def config(ltv: str, max_discount: str = "0.2", **euler: Any) -> Any:
    # EVaultTestBase: setMaxLiquidationDiscount(0.2e4).
    return protocol_from_dict({
        "preset": "euler-v2",
        "markets": {"TST": {"decimals": 18, "collateral": False, "borrowable": False},
                    "TST2": {"decimals": 18, "collateral": False, "borrowable": False}},
        "euler": {"vault": "TST", "max_liquidation_discount": max_discount,
                  "collaterals": {"TST2": {"borrow_ltv": ltv, "liquidation_ltv": ltv}},
                  **euler}})


def applied(engine: Engine, *events: Event) -> dict[str, Any]:
    details: dict[str, Any] = {}
    for event in events:
        out = engine.apply(event)
        assert out.accepted, (event, out.code, out.reason)
        details = dict(out.details)
    return details


def borrower_engine(ltv: str, debt: int, borrow_price: str) -> Engine:
    """100 TST2 at 0.4 as collateral; ``debt`` TST borrowed at ``borrow_price``."""
    engine = Engine(config(ltv))
    applied(engine, AdvanceTime(1), SetPrice("TST", price(borrow_price)),
            SetPrice("TST2", price("0.4")), EulerDeposit("depositor", 100 * E18),
            EulerDepositCollateral("borrower", "TST2", 100 * E18),
            EulerBorrow("borrower", debt))
    return engine


def book(engine: Engine) -> EulerBook:
    b = engine.state.family
    assert isinstance(b, EulerBook)
    return b


def test_basic_full_liquidation_through_the_engine():
    # test_basicFullLiquidation: LTV 0.3, 100 TST2 at 0.4 (12 of value), 5 TST; TST at
    # 2.5 (12.5): HS 0.96, the whole debt repaid for 32.552083... TST2.
    engine = borrower_engine("0.3", 5 * E18, "2.2")
    assert not engine.is_liquidatable("borrower")
    applied(engine, SetPrice("TST", price("2.5")))
    assert engine.is_liquidatable("borrower")
    assert engine.health_factor("borrower") == 96 * E18 // 100
    applied(engine, EulerDepositCollateral("liquidator", "TST2", 1_000 * E18))
    d = applied(engine, EulerLiquidate("liquidator", "borrower", "TST2"))
    assert (d["repay"], d["yield"], d["socialized"]) == (5 * E18, 32_552_083_333_333_333_332,
                                                         0)
    # transferBorrow: the liquidator now owes the 5 TST, the borrower nothing.
    assert book(engine).account("liquidator").debt == 5 * E18
    assert book(engine).account("borrower").debt == 0
    assert engine.health_factor("borrower") == NO_DEBT_HEALTH
    assert not engine.is_liquidatable("borrower")


@pytest.mark.parametrize(("dt", "repay", "yield_"), [
    (15, 0, 0), (17, 5 * E18, 27_550_091_074_681_238_637),
    (50, 5 * E18, 33_611_111_111_111_111_142)])
def test_ltv_ramping_through_the_engine(dt: int, repay: int, yield_: int):
    # test_ltvRamping: LTV 0.3 ramped down to 0.15 over 100 s at T0, TST at 2.2, 5 TST
    # owed: not a violator at +15 s, then maxRepay 5e18 with the EVK test's yields.
    engine = borrower_engine("0.3", 5 * E18, "2.2")
    applied(engine, AdvanceTime(T0 - 1), EulerSetLTV("TST2", 1_500, 1_500, 100),
            AdvanceTime(dt), EulerDepositCollateral("liquidator", "TST2", 1_000 * E18))
    # The borrow LTV is 0.15 at once (6 of value against 11 of debt), the liquidation LTV
    # ramps (at +15 s: 1500 + 1500 x 85 / 100 = 2775, 11.1 > 11).
    assert engine.margin_state("borrower", MarginKind.INITIAL).health == 6 * E18 // 11
    assert engine.is_liquidatable("borrower") is (repay > 0)
    out = engine.apply(EulerLiquidate("liquidator", "borrower", "TST2"))
    assert out.accepted and (out.details["repay"], out.details["yield"]) == (repay, yield_)


def test_debt_socialization_through_the_engine():
    # test_debtSocialization_basic: LTV 0.99, 17 TST owed by the borrower and 1 by a
    # bystander, TST at 2.7: the whole collateral is taken (yield capped at its value) and
    # afterwards totalBorrows == 1e18 + maxRepay: the rest is socialized.
    engine = borrower_engine("0.99", 17 * E18, "2.2")
    applied(engine, EulerDepositCollateral("bystander", "TST2", 10 * E18),
            EulerBorrow("bystander", E18), SetPrice("TST", price("2.7")),
            EulerDepositCollateral("liquidator", "TST2", 1_000 * E18))
    d = applied(engine, EulerLiquidate("liquidator", "borrower", "TST2"))
    assert d["yield"] == 100 * E18 and d["repay"] == 12_781_408_859_840_232_385
    assert d["socialized"] == 17 * E18 - d["repay"]
    vault = book(engine).vault
    assert vault.total_borrows == E18 + d["repay"]
    # The depositor's 100 shares bear the loss (ConversionHelpers, virtual deposit 1e6).
    assert vault.convert_to_assets(book(engine).account("depositor").shares) == \
        95_781_408_859_840_274_570


def test_refusals_carry_the_evk_errors_and_change_nothing():
    engine = borrower_engine("0.3", 5 * E18, "2.2")
    before = engine.state_hash()
    cases: list[tuple[Event, Code]] = [
        (EulerBorrow("borrower", E18 // 2), Code.EULER_ACCOUNT_LIQUIDITY),     # 12 > 12.1
        (EulerWithdrawCollateral("borrower", "TST2", 10 * E18), Code.EULER_ACCOUNT_LIQUIDITY),
        (EulerWithdrawCollateral("borrower", "TST2", 101 * E18),
         Code.EULER_INSUFFICIENT_BALANCE),
        (EulerBorrow("nobody", E18), Code.EULER_ACCOUNT_LIQUIDITY),   # no collateral
        (EulerBorrow("borrower", 96 * E18), Code.EULER_INSUFFICIENT_CASH),
        (EulerRepay("borrower", 6 * E18), Code.EULER_REPAY_TOO_MUCH),
        (EulerWithdraw("depositor", 96 * E18), Code.EULER_INSUFFICIENT_CASH),
        (EulerWithdraw("borrower", E18), Code.EULER_INSUFFICIENT_BALANCE),
        # finalizeWithdraw checks the cash before the balance.
        (EulerWithdraw("borrower", 96 * E18), Code.EULER_INSUFFICIENT_CASH),
        (EulerSetLTV("TST2", 4_000, 3_000), Code.EULER_LTV_BORROW),
        (EulerSetLTV("TST2", 2_000, 4_000, 60), Code.EULER_LTV_LIQUIDATION),
        (EulerDepositCollateral("borrower", "TST", E18), Code.EULER_BAD_COLLATERAL),
        (EulerLiquidate("borrower", "borrower", "TST2"), Code.EULER_SELF_LIQUIDATION),
        (EulerLiquidate("liquidator", "borrower", "TST"), Code.EULER_BAD_COLLATERAL),
        (EulerLiquidate("liquidator", "borrower", "TST2", repay_assets=1),
         Code.EULER_EXCESSIVE_REPAY_AMOUNT),                          # healthy: max 0
        (Deposit("borrower", "TST", E18), Code.EVENT_NOT_SUPPORTED),
    ]
    for event, code in cases:
        out = engine.apply(event)
        assert (out.accepted, out.code) == (False, code), event
    assert engine.state_hash() != before          # the log counted the refusals
    applied(engine, SetPrice("TST", price("2.5")))
    # A liquidator without collateral cannot take the debt over (its own status check)...
    out = engine.apply(EulerLiquidate("liquidator", "borrower", "TST2"))
    assert (out.accepted, out.code) == (False, Code.EULER_ACCOUNT_LIQUIDITY)
    assert "liquidator" in (out.reason or "")
    out = engine.apply(EulerLiquidate("liquidator", "borrower", "TST2",
                                      min_yield_balance=33 * E18))
    assert (out.accepted, out.code) == (False, Code.EULER_MIN_YIELD)
    assert book(engine).account("borrower").debt == 5 * E18
    # ... unless it repays in the same batch: then the vault's cash comes back.
    d = applied(engine, EulerLiquidate("liquidator", "borrower", "TST2", repay=True))
    assert d["repay"] == 5 * E18
    assert book(engine).vault.total_borrows == 0 and book(engine).vault.cash == 100 * E18


def test_amounts_beyond_uint112_when_deposited_or_borrowed_then_refused_as_the_evk():
    # TypesLib.toAssets/toShares: E_AmountTooLargeToEncode above MAX_SANE_AMOUNT
    # (type(uint112).max, src/EVault/shared/Constants.sol); accepted before, held beyond
    # what the vault can store.
    limit = 2**112 - 1
    engine = borrower_engine("0.3", 5 * E18, "2.2")
    before = book(engine)
    out = engine.apply(EulerDeposit("whale", limit + 1))
    assert (out.code, out.reason) == (Code.EULER_AMOUNT_TOO_LARGE, (
        f"assets: {limit + 1} is beyond the vault's uint112 (MAX_SANE_AMOUNT, 2**112 - 1)"))
    # The totals it would bring the vault to: cash 95 TST (100 less 5 borrowed), 100 TST
    # of shares (one a unit: no interest has accrued), each plus the deposit.
    out = engine.apply(EulerDeposit("whale", limit - 90 * E18))
    assert out.code == Code.EULER_AMOUNT_TOO_LARGE and out.reason is not None
    assert out.reason.startswith(f"cash: {limit + 5 * E18} is beyond")
    out = engine.apply(EulerDeposit("whale", limit - 99 * E18))
    assert out.reason is not None and out.reason.startswith(
        f"total_shares: {limit + E18} is beyond")
    assert book(engine) == before
    fits = applied(engine, EulerDeposit("whale", limit - 100 * E18))
    assert book(engine).vault.total_shares == limit and fits["shares"] == limit - 100 * E18
    # A borrow's debt: Owed (toOwed, E_DebtAmountTooLargeToEncode) holds as many assets.
    assert rules_euler.amount_refusal({}, {"debt": limit}) is None
    debt = rules_euler.amount_refusal({}, {"debt": limit + 1})
    assert debt is not None and debt.code is Code.EULER_DEBT_AMOUNT_TOO_LARGE


def test_repay_all_and_withdraw_round_shares_as_the_evk():
    engine = borrower_engine("0.3", 5 * E18, "2.2")
    assert applied(engine, EulerRepay("borrower", -1))["assets"] == 5 * E18
    assert applied(engine, EulerWithdrawCollateral("borrower", "TST2", 100 * E18)) == \
        {"amount": 100 * E18}
    # toSharesUp on a withdrawal: 1 asset of an untouched vault costs 1 share.
    assert applied(engine, EulerWithdraw("depositor", 1))["shares"] == 1


def test_events_parse_from_the_log_format_and_the_config_is_checked():
    assert event_from_dict({"type": "EulerSetLTV", "collateral": "TST2", "borrow_ltv": 1,
                            "liquidation_ltv": 2}) == EulerSetLTV("TST2", 1, 2)
    with pytest.raises(ConfigError, match=r"euler\.collaterals\.TST2\.borrow_ltv: 0\.9 is "
                                          r"above the liquidation LTV 0\.8 \(E_LTVBorrow\)"):
        protocol_from_dict({"preset": "euler-v2", "markets": {
            "TST": {"collateral": False}, "TST2": {"collateral": False}},
                            "euler": {"vault": "TST", "collaterals": {"TST2": {
                                "borrow_ltv": "0.9", "liquidation_ltv": "0.8"}}}})
    with pytest.raises(ConfigError, match=r"euler\.vault: unknown asset 'X'"):
        protocol_from_dict({"preset": "euler-v2", "euler": {
            "vault": "X", "collaterals": {"WETH": {"borrow_ltv": "0.8",
                                                   "liquidation_ltv": "0.85"}}}})
    with pytest.raises(ConfigError, match=r"borrow_ltv: 0\.80001 has more than 4 decimals"):
        config("0.80001")
    with pytest.raises(ConfigError, match=r"euler: aave-v3 has no Euler vault"):
        protocol_from_dict({"preset": "aave-v3", "euler": {
            "vault": "USDC", "collaterals": {"WETH": {"borrow_ltv": "0.8",
                                                      "liquidation_ltv": "0.85"}}}})


def test_replay_from_the_log_gives_the_same_state_hash(tmp_path: Path):
    path = tmp_path / "events.sqlite"
    e = Engine.with_log(config("0.3"), path)
    events: list[Event] = [
        AdvanceTime(1), SetPrice("TST", price("2.2")), SetPrice("TST2", price("0.4")),
        EulerDeposit("depositor", 100 * E18), EulerDepositCollateral("b", "TST2", 100 * E18),
        EulerBorrow("b", 5 * E18), EulerBorrow("b", 5 * E18),           # refused, logged
        EulerSetLTV("TST2", 1_500, 1_500, 100), AdvanceTime(50),
        EulerLiquidate("k", "b", "TST2", repay=True)]
    for ev in events:
        e.apply(ev)
    expected = e.state_hash()
    e.close()
    replayed, report = Engine.replay(path)
    assert report.state_hash == expected == replayed.state_hash()
    assert report.events == len(events)
    assert book(replayed).account("k").collateral == {"TST2": 33_611_111_111_111_111_142}


def test_liquidation_cool_off_through_the_engine():
    # test_liquidationWithCoolOff: liquidationCoolOffTime 30 s; the borrow's account status
    # check at t=1; TST at 2.5 (HS 0.96): E_LiquidationCoolOff until t=31, then the whole
    # debt. The violator's last check is in the state hash only with a cool-off.
    engine = Engine(config("0.3", liquidation_cool_off_time=30))
    applied(engine, AdvanceTime(1), SetPrice("TST", price("2.2")),
            SetPrice("TST2", price("0.4")), EulerDeposit("depositor", 100 * E18),
            EulerDepositCollateral("borrower", "TST2", 100 * E18),
            EulerBorrow("borrower", 5 * E18), SetPrice("TST", price("2.5")),
            EulerDepositCollateral("liquidator", "TST2", 1_000 * E18))
    assert book(engine).account("borrower").last_status_check == 1
    for dt in (0, 15, 14):
        if dt:
            applied(engine, AdvanceTime(dt), SetPrice("TST", price("2.5")),
                    SetPrice("TST2", price("0.4")))
        out = engine.apply(EulerLiquidate("liquidator", "borrower", "TST2"))
        assert not out.accepted and out.code == Code.EULER_LIQUIDATION_COOL_OFF
    applied(engine, AdvanceTime(1), SetPrice("TST", price("2.5")),
            SetPrice("TST2", price("0.4")))
    d = applied(engine, EulerLiquidate("liquidator", "borrower", "TST2"))
    assert d["repay"] == 5 * E18
    # Without a cool-off nothing is recorded.
    assert book(borrower_engine("0.3", 5 * E18, "2.2")).account("borrower").last_status_check == 0
