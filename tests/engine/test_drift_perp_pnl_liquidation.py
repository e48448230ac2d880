"""Drift v2's ``liquidate_perp_pnl_for_deposit`` (``DriftLiquidatePerpPnlForDeposit``): a
liquidator takes over an account's negative perp quote (no base left) for its deposit, at
the oracle prices and the liquidation multipliers, enough to cover the margin shortage.

Figures from Drift's own tests (drift-labs/protocol-v2 at
0ae3e3b1db782a6765c3525b3dec38ad4d9d3a62, ``programs/drift/src/controller/liquidation/
tests.rs``, ``liquidate_perp_pnl_for_deposit``): a user with 1 SOL (6 decimals in the
test) at 100 and a negative quote, a liquidator with 100 USDC, SOL's maintenance asset
weight 0.9 and liquidator fee 0.1%, the perp's liquidator fee 1%, the buffer 2%
(``MARGIN_PRECISION / 50``); the scaled balances asserted there are token amounts x 1000
(6 decimals, interest 1).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from marginengine.config import protocol_from_dict
from marginengine.decisions import Code
from marginengine.engine import (
    DriftDeposit,
    DriftLiquidatePerpPnlForDeposit,
    DriftPerpTrade,
    DriftResolvePerpBankruptcy,
    Engine,
    Event,
    SetPrice,
    event_from_dict,
)
from marginengine.engine.family_state import DriftAccount, DriftBook, drift_is_bankrupt
from marginengine.errors import EventError
from marginengine.fixedpoint import PRICE_UNIT

USDC = SOL = 10**6   # Drift's test gives SOL 6 decimals
BASE = 10**9


def protocol() -> Any:
    one = {"initial_asset_weight": "1", "maintenance_asset_weight": "1",
           "initial_liability_weight": "1", "maintenance_liability_weight": "1"}
    sol = {"initial_asset_weight": "0.8", "maintenance_asset_weight": "0.9",
           "initial_liability_weight": "1.2", "maintenance_liability_weight": "1.1",
           "liquidator_fee": "0.001"}
    perp = {"margin_ratio_initial": "0.1", "margin_ratio_maintenance": "0.05",
            "unrealized_pnl_initial_asset_weight": "0.9", "liquidator_fee": "0.01",
            "if_liquidation_fee": "0.01", "order_step_size": 10_000_000}
    return protocol_from_dict({"preset": "drift-v2", "markets": {
        "USDC": {"decimals": 6, "collateral": False, "borrowable": False},
        "SOL": {"decimals": 6, "collateral": False, "borrowable": False},
        "BTC": {"decimals": 8, "collateral": False, "borrowable": False},
        "SOL-PERP": {"decimals": 9, "collateral": False, "borrowable": False}},
        "drift": {"quote": "USDC", "spot": {"USDC": one, "SOL": sol, "BTC": sol},
                  "perps": {"SOL-PERP": perp}}})


def engine_with(sol: int, quote: int, path: Path | None = None) -> Engine:
    # Drift's accounts: u holds ``sol`` and the quote, k (the liquidator) 100 USDC
    engine = Engine.with_log(protocol(), path) if path else Engine(protocol())
    for asset, price in (("USDC", 1), ("SOL", 100), ("BTC", 100), ("SOL-PERP", 100)):
        assert engine.apply(SetPrice(asset, price * PRICE_UNIT)).accepted
    engine.state.family = DriftBook({
        "u": DriftAccount(spot={"SOL": sol}, perps={"SOL-PERP": (0, quote)}),
        "k": DriftAccount(spot={"USDC": 100 * USDC})})
    return engine


def book_of(engine: Engine) -> DriftBook:
    book = engine.state.family
    assert isinstance(book, DriftBook)
    return book


@pytest.mark.parametrize(
    ("sol", "quote", "cap", "user", "liquidator"),
    [
        # successful_liquidation_liquidator_max_pnl_transfer: -100 with a 50 maximum;
        # 50 x 1.001 / 0.99 / 100 = 0.505555 SOL
        (SOL, -100 * USDC, 50 * USDC, (494_445, -50_000_000), (505_555, -50_000_000)),
        # successful_liquidation_pnl_transfer_to_cover_margin_shortage: -91, the shortage
        # 1 + 2% x 91 = 2.82 over (1.02 - 0.9 x 1.001 / 0.99) = 25.636363
        (SOL, -91 * USDC, 200 * USDC, (740_788, -65_363_637), (259_212, -25_636_363)),
        # successful_liquidation_pnl_transfer_implied_by_asset_amount: -150, the whole SOL
        # pays for 100 x 0.99 / 1.001 = 98.901099
        (SOL, -150 * USDC, 200 * USDC, (0, -51_098_901), (SOL, -98_901_099)),
        # successful_liquidate_dust_position: 0.02 SOL and -1.82: a quote of $10 or less
        # goes whole
        (SOL // 50, -91 * USDC // 50, 200 * USDC, (0, 0), (SOL // 50, -1_820_000)),
    ],
    ids=["max-pnl-transfer", "cover-margin-shortage", "implied-by-asset", "dust"])
def test_reproduces_drifts_liquidate_perp_pnl_for_deposit(
        sol: int, quote: int, cap: int, user: tuple[int, int],
        liquidator: tuple[int, int]):
    engine = engine_with(sol, quote)
    d = engine.apply(DriftLiquidatePerpPnlForDeposit("k", "u", "SOL-PERP", "SOL", cap))
    assert d.accepted, d.reason
    book = book_of(engine)
    u, k = book.account("u"), book.account("k")
    assert (u.spot["SOL"], u.perps["SOL-PERP"][1]) == user
    assert (k.spot["SOL"], k.perps["SOL-PERP"][1]) == liquidator
    assert k.spot["USDC"] == 100 * USDC and k.perps["SOL-PERP"][0] == 0
    # conservation: the quote and the SOL move between the two accounts
    assert u.perps["SOL-PERP"][1] + k.perps["SOL-PERP"][1] == quote
    assert u.spot["SOL"] + k.spot["SOL"] == sol
    assert d.details["pnl_transfer"] == -liquidator[1]
    assert d.details["asset_transfer"] == liquidator[0]


def test_shortage_and_cover_figures():
    engine = engine_with(SOL, -91 * USDC)
    d = engine.apply(DriftLiquidatePerpPnlForDeposit("k", "u", "SOL-PERP", "SOL")).details
    # total collateral 90 - 91 = -1, the buffer 2% of the 91 owed: 2.82 short
    assert (d["margin_shortage"], d["to_cover"]) == (2_820_000, 25_636_363)
    assert d["bankrupt"] is False
    # the account now meets its maintenance requirement: a second call is refused
    out = engine.apply(DriftLiquidatePerpPnlForDeposit("k", "u", "SOL-PERP", "SOL"))
    assert (out.accepted, out.code) == (False, Code.DRIFT_SUFFICIENT_COLLATERAL)


def test_deposit_gone_then_perp_bankruptcy_clears_the_rest(tmp_path: Path):
    # Through events: u deposits 1 SOL at 100, goes long 1 SOL-PERP at 100 and closes it
    # at 50 (quote -50, no base); l and s hold 5 long and 5 short. SOL at 40: u's 36 of
    # weighted SOL is below the 50 owed. The SOL pays for 40 x 0.99 / 1.001 = 39.5604395
    # of the quote, rounded up to 39.560440 (all of it goes): u keeps -10.439560 and
    # nothing else, bankrupt; resolve_perp_bankruptcy clears it over the 10 base open:
    # 1.043956 per base, 5.21978 from each side.
    engine = Engine.with_log(protocol(), tmp_path / "events.sqlite")
    for event in (SetPrice("USDC", PRICE_UNIT), SetPrice("SOL", 100 * PRICE_UNIT),
                  SetPrice("SOL-PERP", 100 * PRICE_UNIT), DriftDeposit("u", "SOL", SOL),
                  DriftPerpTrade("u", "SOL-PERP", BASE, -100 * USDC),
                  SetPrice("SOL-PERP", 50 * PRICE_UNIT),
                  DriftPerpTrade("u", "SOL-PERP", -BASE, 50 * USDC),
                  DriftDeposit("k", "USDC", 100 * USDC),
                  DriftDeposit("l", "USDC", 1000 * USDC), DriftDeposit("s", "USDC", 1000 * USDC),
                  DriftPerpTrade("l", "SOL-PERP", 5 * BASE, -250 * USDC),
                  DriftPerpTrade("s", "SOL-PERP", -5 * BASE, 250 * USDC),
                  SetPrice("SOL", 40 * PRICE_UNIT)):
        out = engine.apply(event)
        assert out.accepted, (event, out.reason)
    out = engine.apply(DriftResolvePerpBankruptcy("k", "u", "SOL-PERP"))
    assert (out.accepted, out.code) == (False, Code.DRIFT_USER_NOT_BANKRUPT)  # SOL left
    d = engine.apply(DriftLiquidatePerpPnlForDeposit("k", "u", "SOL-PERP", "SOL")).details
    assert (d["pnl_transfer"], d["asset_transfer"]) == (39_560_440, SOL)
    assert d["bankrupt"] is True and drift_is_bankrupt(book_of(engine), "u")
    assert book_of(engine).account("u").perps["SOL-PERP"] == (0, -10_439_560)
    out = engine.apply(DriftResolvePerpBankruptcy("k", "u", "SOL-PERP"))
    assert out.accepted, out.reason
    assert out.details["loss"] == 10_439_560
    assert out.details["cumulative_funding_rate_delta"] == 1_043_956 * 1_000
    assert out.details["payments"] == {"l": -5_219_780, "s": -5_219_780}
    assert book_of(engine).account("u").perps["SOL-PERP"] == (0, 0)
    expected = engine.state_hash()
    engine.close()
    replayed, report = Engine.replay(tmp_path / "events.sqlite")
    assert report.state_hash == expected == replayed.state_hash()


def test_refusals_change_nothing():
    engine = engine_with(SOL, -91 * USDC)
    book = book_of(engine)
    engine.state.family = DriftBook({
        **book.accounts,
        "b": DriftAccount(perps={"SOL-PERP": (0, -5 * USDC)}),          # bankrupt
        "open": DriftAccount(spot={"SOL": SOL}, perps={"SOL-PERP": (BASE, -200 * USDC)}),
        "gain": DriftAccount(spot={"SOL": SOL}, perps={"SOL-PERP": (0, 5 * USDC)}),
        "owes": DriftAccount(spot={"SOL": -SOL, "USDC": 50 * USDC},
                             perps={"SOL-PERP": (0, -5 * USDC)}),
        "safe": DriftAccount(spot={"SOL": SOL}, perps={"SOL-PERP": (0, -5 * USDC)}),
        "empty": DriftAccount(spot={"SOL": 0, "USDC": 10 * USDC},
                              perps={"SOL-PERP": (0, -20 * USDC)})})
    book = book_of(engine)
    cases: list[tuple[Event, Code]] = [
        (DriftLiquidatePerpPnlForDeposit("u", "u", "SOL-PERP", "SOL"),
         Code.DRIFT_USER_CANT_LIQUIDATE_THEMSELF),
        (DriftLiquidatePerpPnlForDeposit("k", "u", "BTC-PERP", "SOL"), Code.UNKNOWN_MARKET),
        (DriftLiquidatePerpPnlForDeposit("k", "u", "SOL-PERP", "ETH"), Code.UNKNOWN_MARKET),
        (DriftLiquidatePerpPnlForDeposit("k", "u", "SOL-PERP", "SOL", 0),
         Code.INVALID_AMOUNT),
        (DriftLiquidatePerpPnlForDeposit("k", "b", "SOL-PERP", "USDC"), Code.DRIFT_USER_BANKRUPT),
        (DriftLiquidatePerpPnlForDeposit("b", "u", "SOL-PERP", "SOL"), Code.DRIFT_USER_BANKRUPT),
        (DriftLiquidatePerpPnlForDeposit("u", "k", "SOL-PERP", "USDC"),
         Code.DRIFT_USER_HAS_NO_POSITION_IN_MARKET),
        (DriftLiquidatePerpPnlForDeposit("k", "u", "SOL-PERP", "BTC"),
         Code.DRIFT_COULD_NOT_FIND_SPOT_POSITION),
        (DriftLiquidatePerpPnlForDeposit("k", "owes", "SOL-PERP", "SOL"),
         Code.DRIFT_WRONG_SPOT_BALANCE_TYPE),
        (DriftLiquidatePerpPnlForDeposit("k", "open", "SOL-PERP", "SOL"),
         Code.DRIFT_INVALID_PERP_POSITION_TO_LIQUIDATE),
        (DriftLiquidatePerpPnlForDeposit("k", "gain", "SOL-PERP", "SOL"),
         Code.DRIFT_INVALID_PERP_POSITION_TO_LIQUIDATE),
        (DriftLiquidatePerpPnlForDeposit("k", "safe", "SOL-PERP", "SOL"),
         Code.DRIFT_SUFFICIENT_COLLATERAL),
        # below maintenance (10 - 20), but its SOL deposit is empty: nothing moves
        (DriftLiquidatePerpPnlForDeposit("k", "empty", "SOL-PERP", "SOL"),
         Code.DRIFT_INVALID_LIQUIDATION),
    ]
    for event, code in cases:
        out = engine.apply(event)
        assert (out.accepted, out.code) == (False, code), (event, out.reason)
    assert engine.state.family is book
    # a liquidator that cannot carry the quote it takes over (initial margin)
    engine.state.family = DriftBook({**book.accounts, "k": DriftAccount(spot={"USDC": 1})})
    out = engine.apply(DriftLiquidatePerpPnlForDeposit("k", "u", "SOL-PERP", "SOL"))
    assert (out.accepted, out.code) == (False, Code.DRIFT_INSUFFICIENT_COLLATERAL)
    assert "liquidator k" in out.reason


@pytest.mark.parametrize(("data", "message"), [
    ({"type": "DriftLiquidatePerpPnlForDeposit", "liquidator": "k", "account": "u",
      "perp_market": "SOL-PERP"},
     r"^DriftLiquidatePerpPnlForDeposit\.asset_market: required field is missing$"),
    ({"type": "DriftLiquidatePerpPnlForDeposit", "liquidator": "k", "account": "u",
      "perp_market": "SOL-PERP", "asset_market": "SOL", "max_pnl_transfer": "5"},
     r"^DriftLiquidatePerpPnlForDeposit\.max_pnl_transfer: must be an integer"),
    ({"type": "DriftLiquidatePerpPnlForDeposit", "liquidator": "k", "account": "u",
      "perp_market": "SOL-PERP", "asset_market": "SOL", "market": "SOL"},
     r"^DriftLiquidatePerpPnlForDeposit\.market: unknown field \(did you mean perp_market\? "
     r"fields: liquidator, account, perp_market, asset_market, max_pnl_transfer\)$"),
], ids=["missing-asset-market", "max-not-an-integer", "unknown-field"])
def test_malformed_event_names_the_field(data: dict[str, Any], message: str):
    with pytest.raises(EventError, match=message):
        event_from_dict(data)


def test_negative_max_other_than_minus_one_is_refused():
    engine = engine_with(SOL, -91 * USDC)
    out = engine.apply(DriftLiquidatePerpPnlForDeposit("k", "u", "SOL-PERP", "SOL", -5))
    assert (out.accepted, out.code) == (False, Code.INVALID_AMOUNT)
    assert "max_pnl_transfer" in out.reason
