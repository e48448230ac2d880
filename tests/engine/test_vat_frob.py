"""Maker's Vat frob checks through the engine: a vault of the auction family is frobbed by
Borrow (draw), Repay (wipe), Withdraw (free) and Deposit (lock). Figures of dss's FrobTest
(makerdao/dss@fa4f6630 ``src/test/vat.t.sol``: spot 1, line = Line = 1,000 DAI), with the
ilk's spot 1 DAI per collateral: price 2 USD x liquidation threshold 0.5."""

from marginengine.config import protocol_from_dict
from marginengine.engine import (
    Bark,
    Borrow,
    Deposit,
    Engine,
    ImportAccount,
    Repay,
    SetPrice,
    Withdraw,
)

USD = 10**8
E = 10**18
RAD = 10**45


def vat(**auction: object) -> Engine:
    config = protocol_from_dict({
        "markets": {"WETH": {"ltv": "0.49", "liquidation_threshold": "0.5",
                             "liquidation_bonus": "0", "borrowable": False},
                    "DAI": {"collateral": False}},
        "auction": {"kind": "clip", "dust": 0, "tip": 0, "chip": 0, "line": 1000,
                    "Line": 1000, **auction},
    })
    engine = Engine(config)
    engine.apply(SetPrice("WETH", 2 * USD))
    engine.apply(SetPrice("DAI", USD))
    engine.apply(Deposit("lp", "DAI", 100_000 * E))
    return engine


def test_lock_when_deposit_and_withdraw_without_debt_then_both_accepted():
    engine = vat()
    assert engine.apply(Deposit("me", "WETH", 6 * E)).accepted
    assert engine.ledger.supply_of("me", "WETH") == 6 * E
    assert engine.apply(Withdraw("me", "WETH", 6 * E)).accepted
    assert engine.ledger.supply_of("me", "WETH") == 0


def test_calm_when_borrow_above_line_then_ceiling_exceeded_before_not_safe():
    engine = vat(line=10)
    engine.apply(Deposit("me", "WETH", 10 * E))
    assert engine.apply(Borrow("me", "DAI", 9 * E)).accepted
    refused = engine.apply(Borrow("me", "DAI", 2 * E))  # 11 > line 10 (and > 10 x spot)
    assert refused.code == "Vat/ceiling-exceeded"
    assert refused.refusal.data["ilk_debt"] == 11 * RAD
    assert refused.refusal.data["line"] == 10 * RAD


def test_cool_when_over_a_lowered_line_then_repay_accepted_and_borrow_refused():
    # dss lowers line to 5 after the draw of 8; here the vault is imported as it stands.
    engine = Engine(vat(line=5).config)
    engine.apply(SetPrice("WETH", 2 * USD))
    engine.apply(SetPrice("DAI", USD))
    engine.apply(Deposit("lp", "DAI", 100_000 * E))
    assert engine.apply(ImportAccount("me", (("WETH", 10 * E),), (("DAI", 8 * E),))).accepted
    assert engine.apply(Repay("me", "DAI", E)).accepted
    assert engine.ledger.debt_of("me", "DAI") == 7 * E
    assert engine.apply(Borrow("me", "DAI", 1)).code == "Vat/ceiling-exceeded"


def test_safe_when_borrow_beyond_ink_times_spot_then_not_safe():
    engine = vat()
    engine.apply(Deposit("me", "WETH", 10 * E))
    assert engine.apply(Borrow("me", "DAI", 5 * E)).accepted
    refused = engine.apply(Borrow("me", "DAI", 6 * E))  # tab 11 > 10 x 1
    assert refused.code == "Vat/not-safe"
    assert refused.refusal.data["max_tab"] == 10 * RAD
    assert refused.refusal.data["tab"] == 11 * RAD


def test_nice_when_unsafe_then_repay_and_deposit_only():
    engine = vat()
    engine.apply(Deposit("me", "WETH", 10 * E))
    assert engine.apply(Borrow("me", "DAI", 4 * E)).accepted
    engine.apply(SetPrice("WETH", USD * 3 // 4))  # spot 0.375: 4 > 10 x 0.375, unsafe
    assert engine.apply(Borrow("me", "DAI", E)).code == "Vat/not-safe"
    assert engine.apply(Withdraw("me", "WETH", E)).code == "Vat/not-safe"
    assert engine.apply(Repay("me", "DAI", E)).accepted     # 3 <= 3.75 now
    assert engine.apply(Deposit("me", "WETH", E)).accepted


def test_dust_when_vault_left_between_0_and_dust_then_refused():
    engine = vat(dust=5)
    engine.apply(Deposit("me", "WETH", 9 * E))
    assert engine.apply(Borrow("me", "DAI", 2 * E)).code == "Vat/dust"  # 2 < 5
    assert engine.apply(Borrow("me", "DAI", 6 * E)).accepted            # dss: art 6
    refused = engine.apply(Repay("me", "DAI", 5 * E))                   # art 1 < 5
    assert refused.code == "Vat/dust"
    assert refused.reason == ("Vat/dust: the vault's debt 1 DAI would be above 0 and "
                              "below dust 5 DAI")
    assert engine.ledger.debt_of("me", "DAI") == 6 * E                 # nothing moved
    assert engine.apply(Repay("me", "DAI", 6 * E)).accepted             # art 0
    assert engine.ledger.debt_of("me", "DAI") == 0


def test_dust_when_vault_is_dusty_then_deposit_and_withdraw_refused():
    # dss test_dust's first frob (ink 9, art 1) before dust was raised to 5.
    engine = vat(dust=5)
    assert engine.apply(ImportAccount("me", (("WETH", 9 * E),), (("DAI", E),))).accepted
    assert engine.apply(Deposit("me", "WETH", E)).code == "Vat/dust"
    assert engine.apply(Withdraw("me", "WETH", E)).code == "Vat/dust"
    assert engine.apply(Borrow("me", "DAI", 5 * E)).accepted  # dss: frob(0, 5) to art 6


def test_global_Line_when_system_debt_counts_then_borrow_refused():
    # Line 1,000 DAI: a vault of 600 barked and its auction raising nothing yet leaves
    # 600 of system debt (Maker's vice), so the next 500 would make 1,100 > Line, though
    # the vaults owe only 500 (line 1,000 holds).
    engine = vat()
    engine.apply(Deposit("a", "WETH", 700 * E))
    assert engine.apply(Borrow("a", "DAI", 600 * E)).accepted
    engine.apply(SetPrice("WETH", USD))  # 600 > 700 x 0.5: unsafe
    assert engine.apply(Bark("keeper", "a")).accepted
    engine.apply(SetPrice("WETH", 2 * USD))
    engine.apply(Deposit("b", "WETH", 1_000 * E))
    refused = engine.apply(Borrow("b", "DAI", 500 * E))
    assert refused.code == "Vat/ceiling-exceeded"
    assert refused.refusal.data["debt"] == 1_100 * RAD
    assert refused.refusal.data["ilk_debt"] == 500 * RAD
    assert engine.apply(Borrow("b", "DAI", 400 * E)).accepted  # 1,000 = Line


def test_no_ceiling_by_default_and_other_families_unchanged():
    config = protocol_from_dict({
        "markets": {"WETH": {"ltv": "0.49", "liquidation_threshold": "0.5"},
                    "DAI": {"collateral": False}},
        "auction": {"kind": "clip", "dust": 0}})
    assert config.auction is not None
    assert config.auction.line is None and config.auction.Line is None
    engine = Engine(config)
    engine.apply(SetPrice("WETH", 2 * USD))
    engine.apply(SetPrice("DAI", USD))
    engine.apply(Deposit("lp", "DAI", 10**9 * E))
    engine.apply(Deposit("me", "WETH", 10**9 * E))
    assert engine.apply(Borrow("me", "DAI", 10**8 * E)).accepted
