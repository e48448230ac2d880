"""Perps in the engine: trades, pre-trade checks, funding, liquidation and the waterfall."""

from typing import Any

import pytest

from marginengine.config import protocol_from_dict
from marginengine.decisions import Code
from marginengine.engine import (
    AdvanceTime,
    Borrow,
    Deposit,
    DepositQuote,
    Engine,
    FundInsurance,
    LiquidatePerp,
    SetPrice,
    Trade,
    TransferQuote,
    Withdraw,
)
from marginengine.errors import FieldError
from marginengine.margin import InitialScope, MarginKind

USD = 10**8
ETH = 10**18
USDC = 10**6


def perp_engine(**perp: Any) -> Engine:
    fields = {"preset": "dydx-v4", "base_decimals": 18, **perp}
    config = protocol_from_dict({
        "preset": "aave-v3",
        "markets": {"USDC": {}, "WETH": {}},
        "perps": {"ETH-PERP": fields},
    })
    engine = Engine(config)
    for asset, price in (("USDC", USD), ("WETH", 2_000 * USD), ("ETH-PERP", 2_000 * USD)):
        assert engine.apply(SetPrice(asset, price)).accepted
    return engine


def opened(engine: Engine, long_quote: int = 20_000, size: int = 100) -> Engine:
    for account, quote in (("long", long_quote), ("short", 1_000_000), ("keeper", 5_000_000)):
        assert engine.apply(DepositQuote(account, quote * USDC)).accepted
    outcome = engine.apply(Trade("long", "short", "ETH-PERP", size * ETH, 2_000 * USD))
    assert outcome.accepted, outcome.reason
    return engine


def test_trade_when_opened_then_both_positions_and_quote_balances_exact():
    engine = opened(perp_engine())
    ledger = engine.ledger
    assert ledger.perp_size("long", "ETH-PERP") == 100 * ETH
    assert ledger.perp_size("short", "ETH-PERP") == -100 * ETH
    # 100 ETH x 2,000 = 200,000 USDC moved from the buyer's quote to the seller's.
    assert ledger.perp_quote_of("long") == (20_000 - 200_000) * USDC
    assert ledger.perp_quote_of("short") == (1_000_000 + 200_000) * USDC
    assert ledger.clearing.markets["ETH-PERP"].open_interest == 100 * ETH
    ledger.check_conservation()
    # Equity at mark is the deposit; initial margin 5% of 200,000 = 10,000 USDC.
    risk = engine.bucket("long")
    assert engine.equity_quote(risk) == 20_000 * USDC
    assert risk.perp_initial == 10_000 * USDC and risk.perp_maintenance == 6_000 * USDC


def test_trade_when_beyond_initial_margin_then_rejected_and_nothing_changed():
    engine = perp_engine()
    engine.apply(DepositQuote("long", 10_000 * USDC))
    engine.apply(DepositQuote("short", 1_000_000 * USDC))
    before = engine.ledger.state_hash()
    outcome = engine.apply(Trade("long", "short", "ETH-PERP", 101 * ETH, 2_000 * USD))
    assert outcome.reason == ("initial margin: long would need 10,100.00 USD and would have "
                              "10,000.00 USD")
    assert engine.ledger.state_hash() == before
    assert engine.apply(Trade("long", "short", "ETH-PERP", 100 * ETH, 2_000 * USD)).accepted


@pytest.mark.parametrize(("trade", "reason"), [
    (Trade("long", "short", "BTC-PERP", ETH, 2_000 * USD),
     "market: unknown perp market 'BTC-PERP'"),
    (Trade("long", "short", "ETH-PERP", 0, 2_000 * USD), "size: must be positive (got 0)"),
    (Trade("long", "short", "ETH-PERP", ETH, 0), "price: must be positive (got 0)"),
    (Trade("long", "short", "ETH-PERP", ETH, -1), "price: must be positive (got -1)"),
    (Trade("long", "short", "ETH-PERP", ETH + 1, 2_000 * USD),
     "size: 1.000000000000000001 is not a multiple of the step size 0.001"),
    (Trade("long", "long", "ETH-PERP", ETH, 2_000 * USD), "an account cannot trade with itself"),
])
def test_trade_when_bad_input_then_clear_rejection(trade: Trade, reason: str):
    engine = opened(perp_engine())
    before = engine.ledger.state_hash()
    assert engine.apply(trade).reason == reason
    assert engine.ledger.state_hash() == before


def test_trade_when_open_interest_cap_exceeded_then_rejected():
    engine = opened(perp_engine(oi_cap="150"))
    outcome = engine.apply(Trade("keeper", "short", "ETH-PERP", 51 * ETH, 2_000 * USD))
    assert outcome.reason == "open interest would reach 151 ETH-PERP, above the cap 150"
    assert engine.apply(Trade("keeper", "short", "ETH-PERP", 50 * ETH, 2_000 * USD)).accepted


def test_trade_when_only_reducing_risk_then_allowed_even_below_initial_margin():
    engine = opened(perp_engine())
    engine.apply(SetPrice("ETH-PERP", 1_860 * USD))  # equity 6,000: below IM, above MM
    state = engine.bucket("long").margin(MarginKind.INITIAL)
    assert state.value < state.requirement
    assert not engine.is_liquidatable("long")
    grow = engine.apply(Trade("long", "keeper", "ETH-PERP", ETH, 1_860 * USD))
    assert grow.reason.startswith("initial margin: long would need")
    shrink = engine.apply(Trade("keeper", "long", "ETH-PERP", 10 * ETH, 1_860 * USD))
    assert shrink.accepted


def test_funding_over_several_intervals_sums_to_zero_across_accounts():
    # Binance's per-interval formula (the dydx-v4 preset's own has no interest clamp or cap).
    engine = opened(perp_engine(funding={"formula": "binance", "interval": 3600,
                                         "interest": "0", "interest_clamp": "0",
                                         "cap": "0.01"}))
    # The last trade at 2,020 lifts the mark above the index: longs pay shorts.
    engine.apply(Trade("keeper", "short", "ETH-PERP", 10 * ETH, 2_020 * USD))
    quotes = {a: engine.ledger.perp_quote_of(a) for a in ("long", "short", "keeper")}
    pool = engine.ledger.clearing.fee_pool
    for _ in range(5):
        engine.apply(AdvanceTime(3600))
    for account in quotes:  # settle everyone (a deposit settles nothing; a tiny trade does)
        engine.apply(Trade(account, "short" if account != "short" else "long", "ETH-PERP",
                           10**15, 2_000 * USD))
        engine.apply(Trade("short" if account != "short" else "long", account, "ETH-PERP",
                           10**15, 2_000 * USD))
    paid = {a: quotes[a] - engine.ledger.perp_quote_of(a) for a in quotes}
    assert paid["long"] > 0 and paid["keeper"] > 0 and paid["short"] < 0
    # Zero-sum up to rounding, which is never in the traders' favour.
    residual = sum(paid.values())
    assert 0 <= residual <= 10
    assert engine.ledger.clearing.fee_pool - pool == residual
    engine.ledger.check_conservation()


def test_liquidation_when_below_maintenance_then_fillable_price_fee_to_fund():
    engine = opened(perp_engine())
    engine.apply(SetPrice("ETH-PERP", 1_850 * USD))  # equity 5,000 < MM 5,550
    assert engine.is_liquidatable("long")
    outcome = engine.apply(LiquidatePerp("keeper", "long", "ETH-PERP"))
    assert outcome.accepted, outcome.reason
    d = outcome.details
    assert d["closed"] == 100 * ETH
    # Between the bankruptcy price (1,800) and the oracle (1,850): dYdX's fillable price,
    # 1,850 x (1 - 10% spread ratio x 3% MMF x ABR) = 1,849.45 here.
    assert d["bankruptcy_price"] == 1_800 * USD
    assert d["price"] == 184_945_000_000
    # 1.5% of the 184,945 USDC closed, within the 4,945 USDC of equity left.
    assert d["fee"] == 2_774_175_000
    assert engine.ledger.clearing.markets["ETH-PERP"].insurance == d["fee"]
    assert engine.ledger.perp_size("keeper", "ETH-PERP") == 100 * ETH
    assert engine.ledger.perp_quote_of("long") >= 0
    engine.ledger.check_conservation()


def test_liquidation_when_healthy_then_rejected():
    engine = opened(perp_engine())
    outcome = engine.apply(LiquidatePerp("keeper", "long", "ETH-PERP"))
    assert outcome.reason.startswith("long is not liquidatable: margin")


def test_liquidation_when_large_position_then_partial_fraction():
    engine = opened(perp_engine(preset="hyperliquid"), long_quote=10_000)
    # Hyperliquid-like: MMF 1.25%. At 1,920 equity is 2,000 < MM 2,400 USDC, and above
    # 2/3 of it (1,600): a liquidation through the book, not the backstop.
    engine.apply(SetPrice("ETH-PERP", 1_920 * USD))
    assert engine.is_liquidatable("long")
    outcome = engine.apply(LiquidatePerp("keeper", "long", "ETH-PERP"))
    # Notional above 100,000 USDC: 20% per liquidation.
    assert outcome.details["closed"] == 20 * ETH
    assert outcome.details["backstop_margin"] == 0
    assert engine.ledger.perp_size("long", "ETH-PERP") == 80 * ETH


def test_liquidation_when_below_two_thirds_of_maintenance_then_hyperliquid_backstop():
    # Hyperliquid docs, Trading > Liquidations: "If the account equity drops below 2/3 of
    # the maintenance margin ... a backstop liquidation happens through the liquidator
    # vault": the positions and the margin go to the liquidator, "the maintenance margin is
    # not returned to the user". At 1,915 equity is 1,500 < 2/3 x 2,393.75 = 1,595.83.
    engine = opened(perp_engine(preset="hyperliquid"), long_quote=10_000)
    engine.apply(SetPrice("ETH-PERP", 1_915 * USD))
    keeper_before = engine.ledger.perp_quote_of("keeper")
    outcome = engine.apply(LiquidatePerp("keeper", "long", "ETH-PERP"))
    assert outcome.accepted, outcome.reason
    # The whole position (no 20% step) at the mark, then the 1,500 USDC left.
    assert outcome.details["closed"] == 100 * ETH and outcome.details["price"] == 1_915 * USD
    assert outcome.details["backstop_margin"] == 1_500 * USDC
    assert engine.ledger.perp_quote_of("long") == 0
    assert engine.ledger.perp_quote_of("keeper") == keeper_before - 191_500 * USDC + 1_500 * USDC
    assert engine.ledger.perp_size("keeper", "ETH-PERP") == 100 * ETH
    engine.ledger.check_conservation()
    # Without the backstop (the rule off) the same liquidation closes 20% and keeps the margin.
    plain = opened(perp_engine(preset="hyperliquid", backstop=False), long_quote=10_000)
    plain.apply(SetPrice("ETH-PERP", 1_915 * USD))
    assert plain.apply(LiquidatePerp("keeper", "long", "ETH-PERP")).details["closed"] == 20 * ETH


def test_backstop_when_not_takeover_then_refused_naming_field():
    with pytest.raises(Exception, match="backstop: Hyperliquid's backstop liquidation needs"):
        perp_engine(backstop=True)


def test_waterfall_when_bankrupt_then_insurance_then_adl():
    engine = opened(perp_engine())
    engine.apply(DepositQuote("long2", 20_000 * USDC))
    engine.apply(Trade("long2", "short", "ETH-PERP", 100 * ETH, 2_000 * USD))
    engine.apply(FundInsurance(25_000 * USDC, "ETH-PERP"))
    engine.apply(SetPrice("ETH-PERP", 1_600 * USD))  # both longs: equity -20,000
    first = engine.apply(LiquidatePerp("keeper", "long", "ETH-PERP"))
    # Bankruptcy at 1,800; the fill, with equity below zero, is 1,600 x (1 - 0.3%) =
    # 1,595.20, and the fund pays the 20,480 USDC between the two.
    assert first.details["bankruptcy_price"] == 1_800 * USD
    assert first.details["price"] == 159_520_000_000
    assert first.details["insurance_paid"] == 20_480 * USDC
    assert engine.ledger.clearing.markets["ETH-PERP"].insurance == 4_520 * USDC
    assert engine.ledger.clearing.insurance_drawdown == 20_480 * USDC
    second = engine.apply(LiquidatePerp("keeper", "long2", "ETH-PERP"))
    # The fund cannot cover the second: the short is deleveraged at 1,800. Its rank's
    # components: -200 ETH sold for 400,000, worth 320,000 at 1,600: PnL% 80,000 / 400,000
    # = 1/5; leverage 320,000 / (1,000,000 + 80,000) = 8/27; BitMEX score 1/5 x 8/27.
    assert second.details["adl"] == [{"account": "short", "size": -100 * ETH,
                                      "haircut": 20_000 * USDC, "policy": "pnl_leverage",
                                      "score": "8/135", "pnl_pct": "1/5", "leverage": "8/27"}]
    assert engine.ledger.perp_size("short", "ETH-PERP") == -100 * ETH
    assert engine.ledger.perp_quote_of("long2") == 0
    assert engine.ledger.clearing.markets["ETH-PERP"].adl_volume == 180_000 * USDC
    engine.ledger.check_conservation()


def _two_bankrupt_longs(**perp: Any) -> Engine:
    engine = opened(perp_engine(**perp))
    engine.apply(DepositQuote("long2", 20_000 * USDC))
    engine.apply(Trade("long2", "short", "ETH-PERP", 100 * ETH, 2_000 * USD))
    engine.apply(FundInsurance(25_000 * USDC, "ETH-PERP"))
    engine.apply(SetPrice("ETH-PERP", 1_600 * USD))  # both longs: equity -20,000
    return engine


def test_waterfall_when_bankrupt_then_outcome_reports_shortfall_and_its_payers():
    engine = _two_bankrupt_longs()
    first = engine.apply(LiquidatePerp("keeper", "long", "ETH-PERP")).details
    # As above: the fill at 1,595.20 is 204.80 below the bankruptcy price of 1,800 on
    # 100 ETH; the fund pays all of the 20,480 USDC.
    assert (first["shortfall"], first["insurance_paid"], first["adl_covered"]) == (
        20_480 * USDC, 20_480 * USDC, 0)
    second = engine.apply(LiquidatePerp("keeper", "long2", "ETH-PERP")).details
    # The fund (4,520 left) cannot: ADL at 1,800 moves the same 20,480 onto the short.
    assert (second["shortfall"], second["insurance_paid"], second["adl_covered"],
            second["socialized"], second["deficit"]) == (20_480 * USDC, 0, 20_480 * USDC,
                                                         0, 0)


def test_waterfall_when_adl_off_then_fund_then_socialized_over_the_markets_positions():
    engine = _two_bankrupt_longs(adl=False)
    engine.apply(DepositQuote("bystander", 3_000_000 * USDC))   # no position in ETH-PERP
    engine.apply(LiquidatePerp("keeper", "long", "ETH-PERP"))
    holders = {a: engine.ledger.perp_quote_of(a) for a in ("short", "keeper", "bystander")}
    second = engine.apply(LiquidatePerp("keeper", "long2", "ETH-PERP"))
    d = second.details
    # No ADL: the keeper takes long2 over at the fill (1,595.20); of its 20,480 USDC loss
    # the fund pays the 4,520 it holds and 15,960 is socialized, nothing left as deficit.
    assert d["adl"] == [] and d["price"] == 159_520_000_000
    assert (d["shortfall"], d["insurance_paid"], d["socialized"], d["deficit"]) == (
        20_480 * USDC, 4_520 * USDC, 15_960 * USDC, 0)
    assert engine.ledger.perp_size("keeper", "ETH-PERP") == 200 * ETH
    assert engine.ledger.perp_size("short", "ETH-PERP") == -200 * ETH
    assert engine.ledger.clearing.markets["ETH-PERP"].insurance == 0
    assert engine.ledger.clearing.socialized_loss == 15_960 * USDC
    # Socialized over the market's open positions, long and short, per unit of size:
    # Drift v2 (math/liquidation.rs calculate_funding_rate_deltas_to_resolve_bankruptcy,
    # the loss over |longs| + |shorts|) and Mango v4 (state/perp_market.rs socialize_loss,
    # the loss over open_interest). 200 ETH long (the keeper) and 200 ETH short: 7,980
    # USDC each, 39.90 USDC per ETH; the bystander, with 3M of perp balance and no
    # position, pays nothing (pro rata to positive balances, the rule before, it paid
    # 5,272.570301 of it, the short 2,460.532807).
    takeover = 159_520 * USDC
    taken = {a: holders[a] - engine.ledger.perp_quote_of(a) for a in holders}
    taken["keeper"] -= takeover
    assert taken == {"short": 7_980 * USDC, "keeper": 7_980 * USDC, "bystander": 0}
    assert engine.ledger.perp_quote_of("long2") == 0
    engine.ledger.check_conservation()


def test_socialization_when_no_open_position_left_then_deficit():
    from marginengine.liquidation import socialize_over_open_interest

    # Drift refuses a bankruptcy over no open interest (CantResolvePerpBankruptcy) and
    # Mango socializes nothing (open_interest == 0): the clearing keeps it as deficit.
    plan = socialize_over_open_interest(500, {"a": 0})
    assert (plan.shares, plan.taken, plan.deficit) == ({}, 0, 500)
    # 100 over 30 long and 60 short: 33.33 and 66.67 -> 33 and 67 (largest remainder).
    plan = socialize_over_open_interest(100, {"b": -60, "a": 30})
    assert (plan.shares, plan.taken, plan.deficit) == ({"a": 33, "b": 67}, 100, 0)


def test_isolated_sub_account_when_bankrupt_then_owner_collateral_untouched():
    engine = opened(perp_engine())
    engine.apply(Deposit("owner", "WETH", 10 * ETH))
    engine.apply(DepositQuote("owner", 50_000 * USDC))
    assert engine.apply(TransferQuote("owner", "owner/eth", 10_000 * USDC)).accepted
    assert engine.apply(Trade("owner/eth", "short", "ETH-PERP", 100 * ETH,
                              2_000 * USD)).accepted
    engine.apply(FundInsurance(100_000 * USDC, "ETH-PERP"))
    engine.apply(SetPrice("ETH-PERP", 1_700 * USD))
    assert engine.is_liquidatable("owner/eth") and not engine.is_liquidatable("owner")
    assert engine.apply(LiquidatePerp("keeper", "owner/eth", "ETH-PERP")).accepted
    assert engine.ledger.perp_quote_of("owner") == 40_000 * USDC
    assert engine.ledger.supply_of("owner", "WETH") == 10 * ETH
    refused = engine.apply(TransferQuote("owner", "stranger", 1 * USDC))
    assert "is not an isolated sub-account" in refused.reason


def test_cross_bucket_when_lending_collateral_then_counts_toward_perp_margin():
    engine = perp_engine()
    engine.apply(DepositQuote("short", 1_000_000 * USDC))
    engine.apply(Deposit("alice", "WETH", 10 * ETH))  # 20,000 USD at LTV 80.5%
    outcome = engine.apply(Trade("alice", "short", "ETH-PERP", 100 * ETH, 2_000 * USD))
    assert outcome.accepted, outcome.reason  # 10,000 IM covered by 16,100 of borrowing power
    # Withdrawing most of the collateral would break the bucket's initial margin.
    refused = engine.apply(Withdraw("alice", "WETH", 9 * ETH))
    assert refused.reason.startswith("initial margin: alice would need")


def test_cross_bucket_when_borrow_breaches_initial_margin_then_refused_through_interface():
    # alice: 10 WETH (20,000 USD at LTV 80.5%: 16,100 of borrowing power) and a 100 ETH
    # long at 2,000 (dYdX v4's 5% IMF: 10,000 USD of initial margin, equity 0).
    engine = perp_engine()
    engine.apply(DepositQuote("short", 1_000_000 * USDC))
    engine.apply(Deposit("lp", "USDC", 1_000_000 * USDC))
    engine.apply(Deposit("alice", "WETH", 10 * ETH))
    assert engine.apply(Trade("alice", "short", "ETH-PERP", 100 * ETH, 2_000 * USD)).accepted
    model = engine.margin_model

    # 8,000 USDC passes the lending rule alone (8,000 <= 16,100) but not the bucket's:
    # 8,000 of debt + 10,000 of perp initial margin = 18,000 > 16,100.
    refused = engine.apply(Borrow("alice", "USDC", 8_000 * USDC))

    assert refused.code == Code.UNDERCOLLATERALIZED.value
    assert refused.data == {"account": "alice", "requirement": 18_000 * USD,
                            "value": 16_100 * USD}
    assert refused.reason == ("initial margin: alice would need 18,000.00 USD and would "
                              "have 16,100.00 USD")
    assert engine.ledger.debt_of("alice", "USDC") == 0  # nothing changed
    # The interface gives the same decision, without an Engine (ledger and valuation).
    assert model.initial_binds(engine.ledger, "alice", InitialScope.HOLDS_PERPS)
    assert model.initial_refusal(engine.ledger, engine.initial_valuation(), "alice") is None
    # 6,000 leaves 16,000 <= 16,100: accepted, and the interface agrees after it.
    assert engine.apply(Borrow("alice", "USDC", 6_000 * USDC)).accepted
    assert model.initial_refusal(engine.ledger, engine.initial_valuation(), "alice") is None
    # One more 200 USDC: 16,200 > 16,100, refused with the same code by either path.
    again = engine.apply(Borrow("alice", "USDC", 200 * USDC))
    assert again.code == Code.UNDERCOLLATERALIZED.value
    assert again.data["requirement"] == 16_200 * USD


def test_initial_scope_when_account_has_no_perps_then_only_always_binds():
    engine = perp_engine()
    engine.apply(Deposit("bob", "WETH", ETH))
    engine.apply(DepositQuote("carol", 100 * USDC))  # a perp balance, no position
    model, ledger = engine.margin_model, engine.ledger
    assert [model.initial_binds(ledger, "bob", s) for s in InitialScope] == [True, False, False]
    assert [model.initial_binds(ledger, "carol", s) for s in InitialScope] == [True, True, False]


def _partially_liquidated() -> Engine:
    """The 100 ETH long on 10,000 USDC at 1,920 under the hyperliquid preset: 20 ETH taken
    over at time t0 (equity 2,000 < MM 2,400, above 2/3 of it), 80 ETH left."""
    engine = opened(perp_engine(preset="hyperliquid"), long_quote=10_000)
    engine.apply(SetPrice("ETH-PERP", 1_920 * USD))
    outcome = engine.apply(LiquidatePerp("keeper", "long", "ETH-PERP"))
    assert outcome.details["closed"] == 20 * ETH and "cooldown_until" not in outcome.details
    assert engine.ledger.partial_liquidation_time("long") == engine.ledger.time
    return engine


@pytest.mark.parametrize(("wait", "closed"), [(0, 80), (10, 80), (29, 80), (30, 16)])
def test_liquidation_when_within_30s_of_a_partial_one_then_whole_position(wait: int,
                                                                         closed: int):
    # Hyperliquid docs, Trading > Liquidations: "After a block where any position of a user
    # is partially liquidated, there is a cooldown period of 30 seconds. During this
    # cooldown period, all market liquidation orders for that user will be for the entire
    # position." At 1,915 the 80 ETH left hold 2,000 - 80 x 5 = 1,600 < MM 1,915 (above
    # 2/3 of it: no backstop); 153,200 USDC of notional, so 20% (16 ETH) once it is over.
    engine = _partially_liquidated()
    t0 = engine.ledger.time
    if wait:
        assert engine.apply(AdvanceTime(wait)).accepted
    engine.apply(SetPrice("ETH-PERP", 1_915 * USD))
    assert engine.is_liquidatable("long")
    outcome = engine.apply(LiquidatePerp("keeper", "long", "ETH-PERP"))
    assert outcome.accepted, outcome.reason
    assert outcome.details["closed"] == closed * ETH
    assert outcome.details["backstop_margin"] == 0
    if closed == 80:
        assert outcome.details["cooldown_until"] == t0 + 30
    else:
        # A new partial liquidation: a new cooldown from now.
        assert "cooldown_until" not in outcome.details
        assert engine.ledger.partial_liquidation_time("long") == t0 + 30
    engine.ledger.check_conservation()


def test_cooldown_when_owner_partially_liquidated_then_its_sub_accounts_too_and_no_other():
    from marginengine.engine.perp_handlers import in_partial_cooldown

    engine = _partially_liquidated()
    perp = engine.config.perps["ETH-PERP"]
    # Hyperliquid's "user" is the address: the owner and its isolated sub-accounts.
    assert in_partial_cooldown(engine, "long", perp)
    assert in_partial_cooldown(engine, "long/eth", perp)
    assert not in_partial_cooldown(engine, "short", perp)
    # dydx-v4 has no cooldown: nothing is recorded, and state hashes are as before.
    dydx = opened(perp_engine(partial_above="1000", partial_fraction="0.1"))
    dydx.apply(SetPrice("ETH-PERP", 1_840 * USD))
    outcome = dydx.apply(LiquidatePerp("keeper", "long", "ETH-PERP"))
    assert outcome.accepted and outcome.details["closed"] < 100 * ETH
    assert dydx.ledger.clearing.partial_liquidations == {}
    assert "partial_liquidations" not in dydx.ledger.clearing.as_dict()


def test_cooldown_when_refused_liquidation_then_nothing_recorded():
    engine = opened(perp_engine(preset="hyperliquid"), long_quote=10_000)
    outcome = engine.apply(LiquidatePerp("keeper", "long", "ETH-PERP"))  # healthy
    assert not outcome.accepted
    assert engine.ledger.partial_liquidation_time("long") is None


def test_partial_cooldown_when_negative_then_refused_naming_field():
    with pytest.raises(Exception, match="partial_cooldown"):
        perp_engine(preset="hyperliquid", partial_cooldown=-1)


def test_mark_when_market_unknown_or_unpriced_then_field_error_naming_market():
    engine = perp_engine()
    assert engine.mark("ETH-PERP") == 2_000 * USD       # no trade, no basis: the index
    # Was: KeyError 'BTC-PERP' (and 'ETH-PERP' before its first price).
    with pytest.raises(FieldError, match=r"^market: unknown perp market 'BTC-PERP'$"):
        engine.mark("BTC-PERP")
    with pytest.raises(FieldError, match=r"^market: no price has been set for ETH-PERP$"):
        Engine(engine.config).mark("ETH-PERP")
