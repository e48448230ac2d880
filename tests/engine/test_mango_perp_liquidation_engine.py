"""Mango v4 ``perp_liq_base_or_positive_pnl`` in the engine: the
MangoPerpLiqBaseOrPositivePnl event, with cases of Mango's own table, fees, conservation,
refusals with Mango's error names, log and replay.

Figures: ``test_liq_base_or_positive_pnl`` in blockworks-foundation/mango-v4 at
1303a4a16228eb1e8e8d4f0eef724eaf63310c86,
``programs/mango-v4/src/instructions/perp_liq_base_or_positive_pnl.rs`` (lines 785-1123):
the perp's price 1, base weights 0.5 / 1.5, overall weight 0.5, the settle token's
weights 1. Here the settle token USDC has 6 decimals and a lot is one whole base token (6
decimals), so a Mango native quote unit is one whole USDC (10^6 native units here); the
accounts reach the table's starting points at a higher price (each must pass
``check_health_post`` as it is built) and the price then falls to 1.
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
    MangoPerpLiqBaseOrPositivePnl,
    MangoPerpLiqNegativePnlOrBankruptcy,
    MangoPerpOrders,
    MangoPerpTrade,
    MangoWithdraw,
    SetPrice,
    event_from_dict,
)
from marginengine.engine.family_state import MangoBook
from marginengine.fixedpoint import PRICE_UNIT

M = 10**6  # one USDC: a Mango test native quote unit


def config(**fees: str) -> dict[str, Any]:
    one = {k: "1" for k in ("init_asset_weight", "maint_asset_weight", "init_liab_weight",
                            "maint_liab_weight")}
    return {"preset": "mango-v4",
            "markets": {n: {"decimals": 6, "collateral": False, "borrowable": False}
                        for n in ("USDC", "P")},
            "mango": {"quote": "USDC", "tokens": {"USDC": one}, "perps": {"P": {
                "settle": "USDC", "base_lot_size": M,
                "init_base_asset_weight": "0.5", "init_base_liab_weight": "1.5",
                "maint_base_asset_weight": "0.6", "maint_base_liab_weight": "1.4",
                "init_overall_asset_weight": "0.5", "maint_overall_asset_weight": "0.6",
                **fees}}}}


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


def position(engine: Engine, account: str) -> tuple[int, int, int]:
    """(USDC, base lots, perp quote) of ``account``."""
    held = book(engine).account(account)
    perp = held.perps.get("P")
    return (held.tokens.get("USDC", 0), perp.base_lots if perp else 0,
            perp.quote if perp else 0)


def at(price: float, spot: int, base: int, quote: int, path: Path | None = None,
       **fees: str) -> Engine:
    """The liqee ``a`` built at ``price``, then the price at 1; a keeper ``k`` with 1,000."""
    cfg = protocol_from_dict(config(**fees))
    engine = Engine.with_log(cfg, path) if path else Engine(cfg)
    applied(engine, SetPrice("USDC", PRICE_UNIT), SetPrice("P", int(price * PRICE_UNIT)),
            MangoDeposit("k", "USDC", 1000 * M))
    if spot > 0:
        applied(engine, MangoDeposit("a", "USDC", spot * M))
    applied(engine, MangoPerpTrade("a", "P", base, quote * M))
    if spot < 0:
        applied(engine, MangoWithdraw("a", "USDC", -spot * M))
    applied(engine, SetPrice("P", PRICE_UNIT))
    assert engine.is_liquidatable("a")
    return engine


@pytest.mark.parametrize(("name", "price", "start", "limits", "expected"), [
    # Mango's table: (liqee spot, base, quote) -> expected (spot, base, quote)
    ("pos base liq 3: health positive", 2, (5, 20, -20), (100, 100), (5, 10, -10)),
    ("neg base liq 3: health positive", 0.5, (5, -4, 0), (-20, 100), (5, -2, -2)),
    ("pos base liq 1: limited", 2, (5, 20, -20), (1, 100), (5, 19, -19)),
    ("base liq, pos perp health 5: base to zero even without settlement", 3,
     (-20, 20, 10), (100, 0), (-20, 0, 30)),
    ("base liq, pos perp health 2-3: base+settle until pnl limit", 4, (-23, 20, 10),
     (100, 21), (-2, 10, -1)),
])
def test_cases_of_mangos_table_through_the_engine(
        name: str, price: float, start: tuple[int, int, int], limits: tuple[int, int],
        expected: tuple[int, int, int]) -> None:
    engine = at(price, *start)
    keeper = position(engine, "k")
    # max_pnl_transfer is native settle units: Mango's 21 is 21 USDC here
    (d,) = applied(engine, MangoPerpLiqBaseOrPositivePnl("k", "a", "P", limits[0],
                                                         limits[1] * M))
    spot, base, quote = expected
    assert position(engine, "a") == (spot * M, base, quote * M), name
    # the liquidator mirrors it: the base, the quote, and the settle tokens for the pnl
    assert position(engine, "k") == (keeper[0] - (spot - start[0]) * M, start[1] - base,
                                     -(quote - start[2]) * M), name
    assert d["base_transfer"] == base - start[1] and d["platform_fee"] == 0


def test_fees_go_to_the_liquidator_and_the_market_and_everything_is_conserved() -> None:
    # A long of 20 lots: base liquidation fee 2%, platform fee 1%: per lot taken the liqee
    # gets 0.97 of quote, the liquidator pays 0.98, the market keeps 0.01.
    engine = at(2, 5, 20, -20, base_liquidation_fee="0.02", platform_liquidation_fee="0.01")

    def totals() -> tuple[int, int, int]:
        b = book(engine)
        return (sum(x.tokens.get("USDC", 0) for x in b.accounts.values()),
                sum(p.base_lots for x in b.accounts.values() for p in x.perps.values()),
                sum(p.quote for x in b.accounts.values() for p in x.perps.values())
                + sum(b.perp_fees.values()))

    before = totals()
    (d,) = applied(engine, MangoPerpLiqBaseOrPositivePnl("k", "a", "P", 100))
    lots = -d["base_transfer"]
    assert lots > 10   # the fee makes each lot worth less to the liqee's health
    # each side's quote rounded down to a native unit (0.97 and 0.98 as I80F48 from f64)
    assert d["quote_transfer_liqee"] == lots * 97 * M // 100 - 1
    assert d["quote_transfer_liqor"] == -lots * 98 * M // 100 - 1
    assert d["platform_fee"] == book(engine).perp_fees["P"] == lots * M // 100 + 2
    assert totals() == before
    assert d["liq_end_health"] > -(1 << 48) and not d["being_liquidated"]


def test_refusals_carry_mangos_error_names_and_change_nothing() -> None:
    engine = at(2, 5, 20, -20)
    applied(engine, MangoDeposit("other", "USDC", 10 * M))
    cases: list[tuple[Event, Code]] = [
        (MangoPerpLiqBaseOrPositivePnl("a", "a", "P", 1), Code.MANGO_REQUIRE_KEYS_NEQ_VIOLATED),
        (MangoPerpLiqBaseOrPositivePnl("k", "a", "Q", 1), Code.UNKNOWN_MARKET),
        (MangoPerpLiqBaseOrPositivePnl("k", "a", "P", -1), Code.MANGO_SOME_ERROR),
        (MangoPerpLiqBaseOrPositivePnl("k", "a", "P", 1, -1), Code.INVALID_AMOUNT),
        # a liquidator without funds: the 10 lots it takes leave its init health negative
        (MangoPerpLiqBaseOrPositivePnl("poor", "a", "P", 100),
         Code.MANGO_HEALTH_MUST_BE_POSITIVE),
        (MangoPerpLiqBaseOrPositivePnl("k", "bad id!", "P", 1), Code.INVALID_ACCOUNT_ID),
    ]
    before = engine.state.family
    for event, code in cases:
        out = engine.apply(event)
        assert (out.accepted, out.code) == (False, code), (event, out.reason)
        assert engine.state.family is before
    # a healthy account: Mango returns Ok and moves nothing
    (d,) = applied(engine, MangoPerpLiqBaseOrPositivePnl("k", "other", "P", 1))
    assert d["liquidatable"] == "NotLiquidatable" and d["base_transfer"] == 0
    # open orders must be cancelled first (require_after_phase1_liquidation)
    applied(engine, SetPrice("P", 2 * PRICE_UNIT), MangoPerpOrders("a", "P", 0, 1),
            SetPrice("P", PRICE_UNIT))
    out = engine.apply(MangoPerpLiqBaseOrPositivePnl("k", "a", "P", 1))
    assert out.code == Code.MANGO_HAS_OPEN_PERP_ORDERS


def test_bad_event_input_names_the_field() -> None:
    with pytest.raises(Exception, match=r"MangoPerpLiqBaseOrPositivePnl\.max_base_transfer: "
                       r"required"):
        event_from_dict({"type": "MangoPerpLiqBaseOrPositivePnl", "liquidator": "k",
                         "account": "a", "market": "P"})


def test_perp_liquidations_replay_to_the_same_hash(tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite"
    engine = at(4, -23, 20, 10, path=path, base_liquidation_fee="0.02",
                platform_liquidation_fee="0.01", positive_pnl_liquidation_fee="0.1")
    applied(engine, MangoPerpLiqBaseOrPositivePnl("k", "a", "P", 5, 10),
            MangoPerpLiqBaseOrPositivePnl("k", "a", "P", 100, 100))
    expected = engine.state_hash()
    engine.close()
    replayed, report = Engine.replay(path)
    assert report.state_hash == expected == replayed.state_hash()


def perp_bankrupt(fund: str) -> Engine:
    # a: 10 USDC and 20 lots long at -25 quote, built at 2; at 0.5 its liquidation-end
    # health is 10 - 25 + 20 x 0.5 x 0.5 = -10. The base liquidation sells all 20 lots to
    # the keeper at 0.5 (each lot gains 0.25 of health, 40 would be needed): a is left with
    # 10 USDC and -15 of perp pnl, no base: Mango's phase 3.
    cfg = config()
    cfg["mango"]["insurance_fund"] = fund
    engine = Engine(protocol_from_dict(cfg))
    applied(engine, SetPrice("USDC", PRICE_UNIT), SetPrice("P", 2 * PRICE_UNIT),
            MangoDeposit("k", "USDC", 1000 * M), MangoDeposit("a", "USDC", 10 * M),
            MangoPerpTrade("a", "P", 20, -25 * M), SetPrice("P", PRICE_UNIT // 2))
    out = engine.apply(MangoPerpLiqNegativePnlOrBankruptcy("k", "a", "P", 100 * M))
    assert out.code == Code.MANGO_HAS_LIQUIDATABLE_PERP_BASE_POSITION   # base first
    (d,) = applied(engine, MangoPerpLiqBaseOrPositivePnl("k", "a", "P", 100))
    assert d["base_transfer"] == -20 and position(engine, "a") == (10 * M, 0, -15 * M)
    return engine


def test_negative_pnl_is_settled_then_the_fund_pays_then_the_rest_is_socialized() -> None:
    # perp_liq_negative_pnl_or_bankruptcy.rs: perp_max_settle is the 10 USDC (maint health
    # without the negative pnl), so the keeper takes 10 of the -15 for a's 10 USDC; the
    # 5 that bring the liquidation-end health to zero go to the keeper for the fund's 3
    # USDC (price 1, no fee), exhausting it; the 2 left are socialized over the open
    # interest: the keeper's 20 lots (the only position).
    engine = perp_bankrupt("3")
    usdc_before = sum(x.tokens.get("USDC", 0) for x in book(engine).accounts.values())
    quote_before = sum(p.quote for x in book(engine).accounts.values()
                       for p in x.perps.values())
    keeper = position(engine, "k")
    (d,) = applied(engine, MangoPerpLiqNegativePnlOrBankruptcy("k", "a", "P", 100 * M))
    assert (d["settlement"], d["insurance_transfer"], d["insurance_liab_transfer"],
            d["socialized_loss"]) == (10 * M, 3 * M, 3 * M, 2 * M)
    assert d["insurance_fund_exhausted"] and d["socialized_unallocated"] == 0
    assert position(engine, "a") == (0, 0, 0) and not d["being_liquidated"]
    assert position(engine, "k") == (keeper[0] + 13 * M, 20, keeper[2] - 13 * M - 2 * M)
    # conservation: quote in = the fund's; perp quote moves between accounts only
    b = book(engine)
    assert sum(x.tokens.get("USDC", 0) for x in b.accounts.values()) == usdc_before + 3 * M
    assert sum(p.quote for x in b.accounts.values() for p in x.perps.values()) == quote_before
    assert b.insurance_paid == 3 * M and b.perp_socialized == {"P": 2 * M}


def test_a_limited_liquidator_is_paid_by_the_fund_without_socializing() -> None:
    # "bankruptcy, with insurance 2": the keeper takes at most 12: 10 settled, 2 for the
    # fund's 2; the fund is not exhausted, so nothing is socialized and a still owes 3.
    engine = perp_bankrupt("100")
    (d,) = applied(engine, MangoPerpLiqNegativePnlOrBankruptcy("k", "a", "P", 12 * M))
    assert (d["settlement"], d["insurance_transfer"], d["socialized_loss"]) == (
        10 * M, 2 * M, 0)
    assert position(engine, "a") == (0, 0, -3 * M) and d["being_liquidated"]


def test_perp_bankruptcy_refusals() -> None:
    engine = perp_bankrupt("0")
    applied(engine, MangoDeposit("other", "USDC", 10 * M))
    before = engine.state.family
    for event, code in [
        (MangoPerpLiqNegativePnlOrBankruptcy("a", "a", "P", 1),
         Code.MANGO_REQUIRE_KEYS_NEQ_VIOLATED),
        (MangoPerpLiqNegativePnlOrBankruptcy("k", "a", "Q", 1), Code.UNKNOWN_MARKET),
        (MangoPerpLiqNegativePnlOrBankruptcy("k", "a", "P", -1), Code.INVALID_AMOUNT),
        (MangoPerpLiqNegativePnlOrBankruptcy("a", "k", "P", 1), Code.MANGO_BEING_LIQUIDATED),
    ]:
        out = engine.apply(event)
        assert (out.accepted, out.code) == (False, code), (event, out.reason)
        assert engine.state.family is before
    (d,) = applied(engine, MangoPerpLiqNegativePnlOrBankruptcy("k", "other", "P", 1))
    assert d["liquidatable"] == "NotLiquidatable" and d["settlement"] == 0
    with pytest.raises(Exception, match=r"MangoPerpLiqNegativePnlOrBankruptcy\."
                       r"max_liab_transfer: required"):
        event_from_dict({"type": "MangoPerpLiqNegativePnlOrBankruptcy", "liquidator": "k",
                         "account": "a", "market": "P"})


def test_negative_pnl_settlement_when_the_settle_limit_binds_then_only_the_window() -> None:
    # perp_liq_negative_pnl_or_bankruptcy.rs @ 1303a4a1: the settlement is
    # min(perp_max_settle, -settleable pnl), the pnl cut to the liqee's available settle
    # limit. With settle_pnl_limit_factor 0.1 the base liquidation of 20 lots at 0.5
    # (stable = oracle) gives a recurring allowance of 20 x 0.5 x 0.1 = 1 USDC (+1 native:
    # the f32 0.1 is 0.100000001...), so of the 10 USDC a's health would back, the keeper
    # settles 1,000,001 native; the part to health zero (5) goes to the fund (3) and is
    # socialized (2); a keeps 10 USDC and -9 of pnl for the next window.
    cfg = config(settle_pnl_limit_factor="0.1")
    cfg["mango"]["insurance_fund"] = "3"
    engine = Engine(protocol_from_dict(cfg))
    applied(engine, SetPrice("USDC", PRICE_UNIT), SetPrice("P", 2 * PRICE_UNIT),
            MangoDeposit("k", "USDC", 1000 * M), MangoDeposit("a", "USDC", 10 * M),
            MangoPerpTrade("a", "P", 20, -25 * M), SetPrice("P", PRICE_UNIT // 2))
    applied(engine, MangoPerpLiqBaseOrPositivePnl("k", "a", "P", 100))
    assert book(engine).account("a").perps["P"].limit.recurring == M + 1
    (d,) = applied(engine, MangoPerpLiqNegativePnlOrBankruptcy("k", "a", "P", 100 * M))
    assert d["settlement"] == M + 1
    assert (d["insurance_transfer"], d["socialized_loss"]) == (3 * M, 2 * M)
    usdc, base, quote = position(engine, "a")
    assert (usdc, base, quote) == (10 * M - M - 1, 0, -15 * M + M + 1 + 3 * M + 2 * M)
    assert book(engine).account("a").perps["P"].limit.settled_in_window < 0
