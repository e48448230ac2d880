"""Typed decisions (issue 10, item 5): every refusal carries a stable code, a message and its
data; programs and replay compare codes, not prose; a refused event changes nothing in any
part of the state (one journalled transaction); market conditions and the sequencer enter
as logged, replayed and hashed events."""

from __future__ import annotations

from pathlib import Path

import pytest

from marginengine.config import protocol_from_dict
from marginengine.decisions import Code
from marginengine.engine import (
    Absorb,
    Bark,
    Borrow,
    BuyCollateral,
    Deposit,
    Engine,
    Liquidate,
    SetConditions,
    SetPrice,
    SetSequencer,
    Take,
    Withdraw,
)
from marginengine.engine.state import EngineState
from marginengine.errors import EventError
from tests.conftest import ETH, USD, USDC, funded_engine

RAY = 10**27


def comet(weth_price: int = 2_000) -> Engine:
    engine = Engine(protocol_from_dict({"preset": "compound-v3", "markets": {
        "USDC": {}, "WETH": {}}}))
    engine.apply(SetPrice("USDC", USD))
    engine.apply(SetPrice("WETH", weth_price * USD))
    engine.apply(Deposit("lp", "USDC", 1_000_000 * USDC))
    engine.apply(Deposit("whale", "WETH", 100 * ETH))
    assert engine.apply(Borrow("whale", "USDC", 160_000 * USDC)).accepted  # 200k x 83%
    return engine


def test_withdraw_when_health_would_fall_then_aave_code_with_health_in_data():
    engine = funded_engine()  # WETH 2,000, threshold 82.5%
    engine.apply(Deposit("alice", "WETH", ETH))
    assert engine.apply(Borrow("alice", "USDC", 1_500 * USDC)).accepted
    outcome = engine.apply(Withdraw("alice", "WETH", ETH // 10))
    # 0.9 x 2,000 x 0.825 / 1,500 = 0.99: below 1.
    assert outcome.code == "HEALTH_FACTOR_LOWER_THAN_LIQUIDATION_THRESHOLD"
    assert outcome.data == {"health_factor": 990_000_000_000_000_000}
    assert outcome.reason == "health factor would fall to 0.99, below 1"
    assert outcome.refusal is not None
    assert outcome.refusal.code is Code.HEALTH_FACTOR_LOWER_THAN_LIQUIDATION_THRESHOLD


def test_borrow_when_beyond_ltv_then_collateral_cannot_cover_new_borrow():
    engine = funded_engine()
    engine.apply(Deposit("alice", "WETH", ETH))
    outcome = engine.apply(Borrow("alice", "USDC", 1_600 * USDC + 1))  # 2,000 x 80% = 1,600
    assert outcome.code == Code.COLLATERAL_CANNOT_COVER_NEW_BORROW.value
    assert outcome.data["borrowing_power"] == 1_600 * USD
    assert outcome.data["debt"] == 1_600 * USD + 100  # 1e-6 USDC is 100 base units


def test_comet_refusals_when_refused_then_comet_error_names():
    engine = comet()
    assert engine.apply(Borrow("whale", "USDC", 6_000 * USDC + 1)).code == "NotCollateralized"
    assert engine.apply(Absorb("keeper", "whale")).code == "NotLiquidatable"
    # Reserves (0) are below the preset's 20M target, but nothing was seized yet:
    assert engine.apply(BuyCollateral("buyer", "WETH", 100 * USDC)).code == "InsufficientReserves"
    liquidate = engine.apply(Liquidate("keeper", "whale", "USDC", "WETH", 1))
    assert liquidate.code == "EVENT_NOT_SUPPORTED"
    assert liquidate.reason == "compound-v3 liquidates by Absorb, not Liquidate"


def test_buy_collateral_when_slippage_or_reserves_short_then_comet_codes():
    engine = Engine(protocol_from_dict({"preset": "compound-v3", "markets": {
            "USDC": {}, "WETH": {}}, "compound": {"base_asset": "USDC",
                                               "target_reserves": "0"}}))
    engine.apply(SetPrice("USDC", USD))
    engine.apply(SetPrice("WETH", 2_000 * USD))
    assert engine.apply(BuyCollateral("buyer", "WETH", 100 * USDC)).code == "NotForSale"
    engine = Engine(protocol_from_dict({"preset": "compound-v3", "markets": {
        "USDC": {}, "WETH": {}}}))
    engine.apply(SetPrice("USDC", USD))
    engine.apply(SetPrice("WETH", 2_000 * USD))
    engine.apply(Deposit("lp", "USDC", 1_000_000 * USDC))
    engine.apply(Deposit("whale", "WETH", 100 * ETH))
    engine.apply(Borrow("whale", "USDC", 160_000 * USDC))
    engine.apply(SetPrice("WETH", 1_700 * USD))
    assert engine.apply(Absorb("keeper", "whale")).accepted  # 100 WETH seized
    # Store-front price: 1,700 x (1 - 0.6 x (1 - 0.95)) = 1,649 USD per WETH (the preset's
    # store-front price factor 0.6 and WETH liquidation factor 0.95).
    slippage = engine.apply(BuyCollateral("buyer", "WETH", 1_649 * USDC, 2 * ETH))
    assert slippage.code == "TooMuchSlippage"
    assert slippage.data == {"quantity": ETH, "min_amount": 2 * ETH}
    short = engine.apply(BuyCollateral("buyer", "WETH", 200_000 * USDC))
    assert short.code == "InsufficientReserves"
    assert short.data["available"] == 100 * ETH


def test_buy_collateral_when_store_front_price_rounds_to_zero_then_refused_not_raised():
    # Issue 9, item 3: after an absorb, a collateral price of 1e-8 USD made the store-front
    # price 0 and apply raised ZeroDivisionError.
    engine = comet()
    engine.apply(SetPrice("WETH", 1_700 * USD))
    assert engine.apply(Absorb("keeper", "whale")).accepted
    engine.apply(SetPrice("WETH", 1))  # 1e-8 USD: x (1 - 0.5 x 0.07) rounds down to 0
    outcome = engine.apply(BuyCollateral("buyer", "WETH", 100 * USDC))
    assert not outcome.accepted
    assert outcome.code == "BadAsset"
    assert outcome.data == {"asset": "WETH", "price": 1}
    assert "store-front price of WETH rounds to 0" in outcome.reason


def test_auction_refusals_when_refused_then_maker_revert_strings():
    config = protocol_from_dict({
        "markets": {"WETH": {"ltv": "0.66", "liquidation_threshold": "0.6666",
                             "liquidation_bonus": "0", "borrowable": False},
                    "DAI": {"collateral": False}},
        "auction": {"kind": "clip", "dust": 100, "tip": 0, "chip": 0},
    })
    engine = Engine(config)
    engine.apply(SetPrice("WETH", 200 * USD))
    engine.apply(SetPrice("DAI", USD))
    engine.apply(Deposit("lp", "DAI", 10_000_000 * ETH))
    engine.apply(Deposit("vault", "WETH", 100 * ETH))
    engine.apply(Borrow("vault", "DAI", 13_000 * ETH))
    assert engine.apply(Bark("keeper", "vault")).code == "Dog/not-unsafe"
    assert engine.apply(Take("buyer", 7, ETH, 200 * RAY)).code == "Clipper/not-running-auction"


def test_outcome_to_dict_when_refused_then_code_message_and_data_logged():
    engine = funded_engine()
    outcome = engine.apply(Deposit("alice", "GOLD", 1))
    record = outcome.to_dict()
    assert record["code"] == "UNKNOWN_ASSET"
    assert record["reason"] == "asset: unknown asset 'GOLD'"
    assert record["data"] == {"field": "asset", "asset": "GOLD"}
    accepted = engine.apply(Deposit("alice", "WETH", ETH)).to_dict()
    assert accepted["code"] is None and accepted["data"] == {}


# ---------------------------------------------------------------------- one transaction
def test_transaction_when_exception_escapes_then_prices_oracles_and_conditions_restored():
    state = EngineState(funded_engine().config)
    with state.transaction():
        state.set_price("WETH", 2_000 * USD)
        state.oracle_for_update("WETH").observe(0, 2_000 * USD,
                                                state.oracles["WETH"].status)
    before_oracle = state.oracles["WETH"].state_dict()
    from marginengine.oracle.conditions import MarketConditions

    with pytest.raises(RuntimeError, match="boom"), state.transaction():
        state.set_price("WETH", 1 * USD)
        state.set_price("DAI", 1 * USD)
        state.oracle_for_update("WETH").observe(5, 1 * USD, state.oracles["WETH"].status)
        state.set_conditions("WETH", MarketConditions(volatility_ppm=800_000))
        state.ledger.deposit("alice", "WETH", ETH)
        raise RuntimeError("boom")
    assert state.prices.as_dict() == {"WETH": 2_000 * USD}
    assert state.oracles["WETH"].state_dict() == before_oracle
    assert state.conditions == {}
    assert "alice" not in state.ledger.accounts


def test_state_when_changed_outside_a_transaction_then_refused():
    state = EngineState(funded_engine().config)
    with pytest.raises(RuntimeError, match="only inside a transaction"):
        state.set_price("WETH", USD)


# ---------------------------------------------------------------------- market conditions
@pytest.mark.parametrize(("field", "value", "message"), [
    ("volatility_ppm", -1, "must not be negative"),
    ("depth", 1.5, "must be an integer"),
    ("open_interest", True, "must be an integer"),
    ("volatility_ppm", 10**12, "must be at most"),
])
def test_set_conditions_when_bad_value_then_event_error_names_field(field, value, message):
    with pytest.raises(EventError, match=rf"^SetConditions\.{field}: {message}"):
        SetConditions("WETH", **{field: value})


def test_set_conditions_when_applied_then_kept_partially_updated_and_hashed():
    engine = funded_engine()
    before = engine.state_hash()
    outcome = engine.apply(SetConditions("WETH", volatility_ppm=800_000, depth=5_000_000 * USD))
    assert outcome.details == {"conditions": {"volatility_ppm": 800_000,
                                              "depth": 5_000_000 * USD, "open_interest": None}}
    engine.apply(SetConditions("WETH", open_interest=12 * ETH))  # the others are kept
    assert engine.conditions["WETH"].as_dict() == {
        "volatility_ppm": 800_000, "depth": 5_000_000 * USD, "open_interest": 12 * ETH}
    assert engine.valuation().conditions["WETH"].volatility_ppm == 800_000
    assert engine.state_hash() != before
    unknown = engine.apply(SetConditions("GOLD", depth=1))
    assert unknown.code == "UNKNOWN_ASSET"


def test_set_conditions_and_sequencer_when_logged_then_replay_gives_same_hash(tmp_path: Path):
    path = tmp_path / "log.sqlite"
    engine = Engine.with_log(funded_engine().config, path)
    engine.apply(SetPrice("WETH", 2_000 * USD))
    engine.apply(SetConditions("WETH", volatility_ppm=650_000))
    engine.apply(SetSequencer(False))
    engine.close()
    replayed, report = Engine.replay(path)
    assert report.state_hash == engine.state_hash()
    assert replayed.conditions["WETH"].volatility_ppm == 650_000
    assert replayed.state.sequencer is not None and not replayed.state.sequencer.up


def test_state_hash_when_no_conditions_reported_then_unchanged_by_the_new_parts():
    # Logs written before SetConditions replay to the hashes they had (pinned figures).
    engine = funded_engine()
    assert "conditions" not in engine.state.hash_parts()
    assert "sequencer" not in engine.state.hash_parts()


def test_deposit_quote_when_no_perp_markets_then_refused_no_usdc_fallback():
    # Issue 10, item 4: the bucket no longer values a perp balance in a hard-coded "USDC"
    # with 10**6 units; without perp markets there is no quote asset, so no perp balance.
    from marginengine.engine import DepositQuote

    engine = funded_engine()
    outcome = engine.apply(DepositQuote("alice", 100 * USDC))
    assert outcome.code == "EVENT_NOT_SUPPORTED"
    assert engine.perp_model.quote_asset == ""


def test_perps_when_two_quote_assets_then_config_refused():
    from marginengine.errors import ConfigError

    with pytest.raises(ConfigError, match=r"perps\.BTC-PERP\.quote 'DAI': every perp market "
                                          r"must settle in the same quote asset \('USDC'\)"):
        protocol_from_dict({"markets": {"USDC": {}, "DAI": {}, "WETH": {}},
                            "perps": {"ETH-PERP": {"preset": "dydx-v4", "quote": "USDC"},
                                      "BTC-PERP": {"preset": "dydx-v4", "quote": "DAI"}}})
