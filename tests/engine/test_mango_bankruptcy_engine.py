"""Mango v4 ``token_liq_bankruptcy`` in the engine: the MangoTokenLiqBankruptcy event, the
insurance fund, the socialized loss, refusals with Mango's error names, conservation,
log and replay.

Figures: ``test_bankrupt_tokens_insurance_fund`` of blockworks-foundation/mango-v4 at
1303a4a16228eb1e8e8d4f0eef724eaf63310c86, ``programs/mango-v4/tests/cases/
test_bankrupt_tokens.rs`` (lines 270-594): the insurance vault holds 1051 USDC; the liqee
deposits 20 and 1000 of two collaterals, borrows 50 USDC and 350 of a second token whose
price then goes to 20; token_liq_with_token takes both collaterals, USDC goes to 2, and
three bankruptcies follow. Mango's test amounts are native units; here each token has 6
decimals and a Mango native is one whole token (10^6 native units here), so the ceil of the
insurance transfer acts on the engine's native units. The test banks' weights and fee are
those of ``tests/program_test/mango_setup.rs`` (0.6 / 0.8 / 1.2 / 1.4, liquidation fee
0.02); the engine has no loan origination fee (Mango's 0.0005 is why its USDC bankruptcy
takes 51 instead of 50 from the vault).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from marginengine.config import protocol_from_dict
from marginengine.decisions import Code
from marginengine.engine import (
    Engine,
    Event,
    MangoDeposit,
    MangoLiqTokenWithToken,
    MangoTokenLiqBankruptcy,
    MangoWithdraw,
    SetPrice,
    event_from_dict,
)
from marginengine.engine.family_state import MangoBook, mango_is_bankrupt
from marginengine.errors import ConfigError
from marginengine.fixedpoint import PRICE_UNIT

M = 10**6  # one token: a Mango test native
TEST_BANK = {"init_asset_weight": "0.6", "maint_asset_weight": "0.8",
             "maint_liab_weight": "1.2", "init_liab_weight": "1.4", "liquidation_fee": "0.02"}


def config(fund: str = "1051", b2: dict[str, Any] | None = None) -> dict[str, Any]:
    usdc = {"init_asset_weight": "1", "maint_asset_weight": "1", "init_liab_weight": "1",
            "maint_liab_weight": "1", "liquidation_fee": "0.02"}
    return {"preset": "mango-v4",
            "markets": {n: {"decimals": 6, "collateral": False, "borrowable": False}
                        for n in ("USDC", "B2", "C1", "C2")},
            "mango": {"quote": "USDC", "insurance_fund": fund, "tokens": {
                "USDC": usdc, "B2": {**TEST_BANK, **(b2 or {})}, "C1": TEST_BANK,
                "C2": TEST_BANK}}}


def applied(engine: Engine, *events: Event) -> list[dict[str, Any]]:
    details = []
    for event in events:
        out = engine.apply(event)
        assert out.accepted, (event, out.code, out.reason)
        details.append(dict(out.details or {}))
    return details


def book(engine: Engine) -> MangoBook:
    b = engine.state.family
    assert isinstance(b, MangoBook)
    return b


def tokens(engine: Engine, account: str) -> dict[str, int]:
    return dict(book(engine).account(account).tokens)


def funded(fund: str = "1051", b2: dict[str, Any] | None = None,
           path: Path | None = None) -> Engine:
    cfg = protocol_from_dict(config(fund, b2))
    engine = Engine.with_log(cfg, path) if path else Engine(cfg)
    applied(engine, *(SetPrice(n, PRICE_UNIT) for n in ("USDC", "B2", "C1", "C2")),
            *(MangoDeposit("vault", n, 100_000 * M) for n in ("USDC", "B2", "C1", "C2")),
            MangoDeposit("a", "C1", 20 * M), MangoDeposit("a", "C2", 1000 * M),
            MangoWithdraw("a", "USDC", 50 * M), MangoWithdraw("a", "B2", 350 * M),
            SetPrice("B2", 20 * PRICE_UNIT))
    return engine


def eaten(engine: Engine) -> Engine:
    # "eat collateral1", "eat collateral2, leaving the account bankrupt" (lines 453-491).
    # Mango's fractional native amounts take both collaterals to zero; the engine's whole
    # units leave remainders (17 and 3 native units: the weights and fee are Mango's f32,
    # 0.6 and 0.02 a little below, 1.4 a little above) that still buy USDC, so the
    # liquidator takes those against the USDC borrow too: what is left then buys less
    # than one native unit of any borrow.
    applied(engine, MangoLiqTokenWithToken("vault", "a", "C1", "B2"),
            MangoLiqTokenWithToken("vault", "a", "C2", "B2"))
    assert {n: tokens(engine, "a")[n] for n in ("C1", "C2")} == {"C1": 17, "C2": 3}
    applied(engine, MangoLiqTokenWithToken("vault", "a", "C1", "USDC"),
            MangoLiqTokenWithToken("vault", "a", "C2", "USDC"))
    return engine


def test_the_insurance_fund_case_of_mangos_test_bankrupt_tokens() -> None:
    engine = eaten(funded())
    a = tokens(engine, "a")
    # the remainders bought 17 + 1 USDC native units
    assert (a["C1"], a["C2"], a["USDC"]) == (1, 1, -50 * M + 18)
    assert book(engine).account("a").being_liquidated
    assert mango_is_bankrupt(engine.config, book(engine), engine.prices,
                             engine.stable_prices(), "a", now=engine.ledger.time)
    applied(engine, SetPrice("USDC", 2 * PRICE_UNIT))
    # USDC liability: the fund repays it, the liqor is not involved (lines 501-529)
    liqor = tokens(engine, "vault")
    (d,) = applied(engine, MangoTokenLiqBankruptcy("vault", "a", "USDC"))
    assert d["insurance_transfer"] == d["liab_transfer"] == 50 * M - 18
    assert tokens(engine, "a").get("USDC", 0) == 0 and tokens(engine, "vault") == liqor
    assert book(engine).account("a").being_liquidated and d["socialized_loss"] == 0
    # a partial B2 bankruptcy (lines 531-565): max 500 x 2/20 = 50 B2 for
    # ceil(50 / 0.1 x 1.02) = 510 USDC to the liqor
    b2_before = tokens(engine, "a")["B2"]
    (d,) = applied(engine, MangoTokenLiqBankruptcy("vault", "a", "B2", 50 * M))
    assert d["insurance_transfer"] == 510 * M and d["liab_transfer"] == 50 * M
    assert tokens(engine, "a")["B2"] == b2_before + 50 * M
    assert tokens(engine, "vault")["USDC"] == liqor["USDC"] + 510 * M
    assert tokens(engine, "vault")["B2"] == liqor["B2"] - 50 * M
    # the rest (lines 567-591): the fund's last 491 USDC to the liqor, the vault at 0,
    # the rest of the borrow socialized over B2's depositors (the vault account alone)
    liqor, b2_before = tokens(engine, "vault"), tokens(engine, "a")["B2"]
    (d,) = applied(engine, MangoTokenLiqBankruptcy("vault", "a", "B2"))
    rest = (1051 - 510) * M - (50 * M - 18)
    assert d["insurance_transfer"] == rest and d["insurance_fund_exhausted"]
    bought = d["liab_transfer"]
    assert bought == rest * 10 // 102   # 491 / 10.2, rounded down
    assert d["socialized_loss"] == -b2_before - bought > 0
    assert tokens(engine, "a")["B2"] == 0 and not book(engine).account("a").being_liquidated
    assert tokens(engine, "vault")["USDC"] == liqor["USDC"] + rest
    assert tokens(engine, "vault")["B2"] == liqor["B2"] - bought - d["socialized_loss"]
    assert book(engine).insurance_paid == 1051 * M
    # Mango's index: 1 - loss / indexed deposits (all the vault's, at index 1)
    deposits = liqor["B2"] - bought
    assert d["ending_deposit_index"] == (1 << 48) - (d["socialized_loss"] << 48) // deposits
    assert book(engine).deposit_index["B2"] == d["ending_deposit_index"]


def test_conservation_quote_in_is_out_plus_fund_plus_socialized() -> None:
    # B2 also has 400,000 deposited outside the engine: they bear four fifths of the loss.
    engine = eaten(funded(fund="100", b2={"deposits": "400000"}))
    total = {n: sum(x.tokens.get(n, 0) for x in book(engine).accounts.values())
             for n in ("USDC", "B2")}
    (d,) = applied(engine, MangoTokenLiqBankruptcy("vault", "a", "B2"))
    after = {n: sum(x.tokens.get(n, 0) for x in book(engine).accounts.values())
             for n in ("USDC", "B2")}
    assert d["insurance_transfer"] == 100 * M and d["insurance_fund_exhausted"]
    # USDC: what came in is the fund's payment
    assert after["USDC"] - total["USDC"] == d["insurance_transfer"] == book(engine).insurance_paid
    # B2: the liqee's borrow is closed by the liqor's payment and the socialized loss;
    # the engine's depositors paid their share, those outside the rest
    loss, outside = d["socialized_loss"], d["socialized_outside"]
    assert after["B2"] - total["B2"] == outside
    inside = loss - outside
    vault_deposit = 100_000 * M - (tokens(engine, "vault")["B2"] + inside)
    assert vault_deposit >= 0
    assert outside == pytest.approx(loss * 400_000 / (400_000 + 100_000 - vault_deposit / M),
                                    abs=1)
    assert book(engine).outside_loss == {"B2": outside}
    assert book(engine).socialized == {"B2": loss}
    assert tokens(engine, "a")["B2"] == 0


def test_an_empty_fund_socializes_everything() -> None:
    engine = eaten(funded(fund="0"))
    owed = -tokens(engine, "a")["B2"]
    vault = tokens(engine, "vault")["B2"]
    (d,) = applied(engine, MangoTokenLiqBankruptcy("vault", "a", "B2"))
    assert (d["insurance_transfer"], d["liab_transfer"]) == (0, 0)
    assert d["socialized_loss"] == owed and tokens(engine, "vault")["B2"] == vault - owed


def test_a_bank_outside_the_group_insurance_fund_socializes_at_once() -> None:
    engine = eaten(funded(b2={"group_insurance_fund": False}))
    owed = -tokens(engine, "a")["B2"]
    (d,) = applied(engine, MangoTokenLiqBankruptcy("vault", "a", "B2"))
    assert d["insurance_transfer"] == 0 and d["socialized_loss"] == owed
    assert book(engine).insurance_paid == 0


def test_refusals_carry_mangos_error_names_and_change_nothing() -> None:
    engine = funded()
    applied(engine, MangoDeposit("rich", "USDC", 10 * M), MangoDeposit("poor", "C1", 1),
            MangoDeposit("healthy", "C1", 100 * M), MangoWithdraw("healthy", "USDC", 10 * M))
    cases: list[tuple[Event, Code]] = [
        # not bankrupt: its collaterals can still be liquidated
        (MangoTokenLiqBankruptcy("vault", "a", "B2"), Code.MANGO_HAS_LIQUIDATABLE_TOKEN_POSITION),
        # a healthy account with a borrow and an asset: the same phase-2 requirement
        (MangoTokenLiqBankruptcy("vault", "healthy", "USDC"),
         Code.MANGO_HAS_LIQUIDATABLE_TOKEN_POSITION),
        # no borrow of the token: require_gt!(0, initial_liab_native)
        (MangoTokenLiqBankruptcy("vault", "rich", "USDC"), Code.MANGO_REQUIRE_GT_VIOLATED),
        (MangoTokenLiqBankruptcy("vault", "a", "XYZ"), Code.UNKNOWN_ASSET),
        (MangoTokenLiqBankruptcy("a", "a", "B2"), Code.MANGO_REQUIRE_KEYS_NEQ_VIOLATED),
        (MangoTokenLiqBankruptcy("vault", "a", "B2", 0), Code.INVALID_AMOUNT),
        (MangoTokenLiqBankruptcy("vault", "bad id!", "B2"), Code.INVALID_ACCOUNT_ID),
    ]
    before = engine.state.family
    for event, code in cases:
        out = engine.apply(event)
        assert (out.accepted, out.code) == (False, code), (event, out.reason)
        assert engine.state.family is before
    out = engine.apply(MangoTokenLiqBankruptcy("vault", "a", "XYZ"))
    assert "liab_token" in (out.reason or "")
    eaten(engine)
    before = engine.state.family
    # the liqor is being liquidated itself
    out = engine.apply(MangoTokenLiqBankruptcy("a", "vault", "B2"))
    assert out.code == Code.MANGO_BEING_LIQUIDATED
    # a liquidator without funds would borrow B2: its init health would be negative
    out = engine.apply(MangoTokenLiqBankruptcy("poor", "a", "B2"))
    assert out.code == Code.MANGO_HEALTH_MUST_BE_POSITIVE
    assert engine.state.family is before


def test_bad_config_and_event_input_name_the_field() -> None:
    with pytest.raises(ConfigError, match="insurance_fund"):
        protocol_from_dict(config(fund="0.0000001"))
    with pytest.raises(ConfigError, match="insurance_fund"):
        protocol_from_dict(config(fund="-1"))
    with pytest.raises(Exception, match=r"MangoTokenLiqBankruptcy\.liab_token: required"):
        event_from_dict({"type": "MangoTokenLiqBankruptcy", "liquidator": "k", "account": "a"})
    with pytest.raises(Exception, match=r"MangoTokenLiqBankruptcy\.max_liab_transfer: must be"):
        event_from_dict({"type": "MangoTokenLiqBankruptcy", "liquidator": "k", "account": "a",
                         "liab_token": "B2", "max_liab_transfer": 1.5})


def test_bankruptcy_events_replay_to_the_same_hash(tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite"
    engine = eaten(funded(fund="100", b2={"deposits": "1000"}, path=path))
    applied(engine, MangoTokenLiqBankruptcy("vault", "a", "USDC"),
            MangoTokenLiqBankruptcy("vault", "a", "B2"))
    expected = engine.state_hash()
    engine.close()
    replayed, report = Engine.replay(path)
    assert report.state_hash == expected == replayed.state_hash()
    assert isinstance(replayed.state.family, MangoBook)
    assert replayed.state.family.outside_loss == book(engine).outside_loss != {}


def test_a_fund_too_small_to_buy_one_native_unit_pays_nothing() -> None:
    # 5 native USDC left in the fund buy 5 / 20.4 of a native unit of B2: Mango moves that
    # fraction; in whole units the liquidator would get 5 USDC for nothing, call after
    # call, so the fund keeps them and the loss is socialized (it is exhausted).
    engine = eaten(funded(fund="0.000005"))
    owed = -tokens(engine, "a")["B2"]
    liqor = tokens(engine, "vault")
    (d,) = applied(engine, MangoTokenLiqBankruptcy("vault", "a", "B2"))
    assert (d["insurance_transfer"], d["liab_transfer"]) == (0, 0)
    assert d["insurance_fund_exhausted"] and d["socialized_loss"] == owed
    assert tokens(engine, "vault")["USDC"] == liqor["USDC"]
    assert book(engine).insurance_paid == 0
