"""Portfolio liquidation through the engine: Derive's auction of a whole options
portfolio (engine/portfolio_auction_handlers.py) on a short-put seller caught by a spot
drop and a vol spike.

The book: bob sells 5 WETH 1800 puts (30 days) to alice for 300 USDC and holds 1,500
USDC of options cash; at spot 1,900 and ATM vol 80% his PMRM_2 (derive-pm2) maintenance
margin is -76.559165 USDC on a mark-to-market of 882.241320 USDC. Margins are the model's
floats fixed into USDC units rounding down (tests/margin/test_portfolio*.py check the
model against Derive's own cases); every amount the auction moves is then worked here in
exact ints from the rules of liquidation/portfolio_auction.py, Derive's mainnet
parameters (95% -> 70% in 15 min, then -> 0 in 12 h; insolvent 60 min; fee 10%; buffer
15%).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from marginengine.config import protocol_from_dict
from marginengine.decisions import Code
from marginengine.engine import (
    AdvanceTime,
    BidPortfolioAuction,
    ConvertToInsolventAuction,
    DepositOptionCash,
    Engine,
    Event,
    FundSecurityModule,
    SetPrice,
    SetVolSurface,
    StartPortfolioAuction,
    TerminatePortfolioAuction,
    TradeOption,
    WithdrawOptionCash,
)
from marginengine.engine.events import event_from_dict
from marginengine.errors import EventError
from marginengine.fixedpoint import WAD
from marginengine.liquidation.portfolio_auction import (
    PortfolioAuctionParams,
    buffer_margin,
    liquidation_fee,
    max_proportion,
    mul_up,
    share,
)
from tests.conftest import SIMPLE_MARKETS

P, USDC, SIZE = 10**8, 10**6, 10**18
T = 30 * 86_400
PUT = dict(underlying="WETH", expiry=T, strike=1_800 * P, is_call=False)
MAINNET = PortfolioAuctionParams()


def protocol(**auction: Any) -> Any:
    return protocol_from_dict({"preset": "aave-v3", "markets": SIMPLE_MARKETS,
                               "options": {"quote": "USDC", "auction": auction}})


def book(sm: int = 5_000, **auction: Any) -> list[Event]:
    events: list[Event] = [
        SetPrice("WETH", 2_000 * P), SetPrice("USDC", P), SetVolSurface("WETH", T, 600_000),
        DepositOptionCash("alice", 10_000 * USDC), DepositOptionCash("bob", 1_200 * USDC),
        TradeOption("alice", "bob", size=5 * SIZE, premium=300 * USDC, **PUT)]
    if sm:
        events.append(FundSecurityModule(sm * USDC))
    return events


def engine(*shock: Event, sm: int = 5_000, **auction: Any) -> Engine:
    e = Engine(protocol(**auction))
    for ev in (*book(sm), *shock):
        out = e.apply(ev)
        assert out.accepted, (ev, out.reason)
    return e


SOLVENT_SHOCK = (SetPrice("WETH", 1_900 * P), SetVolSurface("WETH", T, 800_000))
INSOLVENT_SHOCK = (SetPrice("WETH", 1_500 * P), SetVolSurface("WETH", T, 1_500_000))


def cash(e: Engine, account: str) -> int:
    assert e.state.options is not None
    return e.state.options.cash.get(account, 0)


def test_a_solvent_auction_runs_to_completion_with_worked_amounts():
    e = engine(*SOLVENT_SHOCK)
    start = e.apply(StartPortfolioAuction("keeper", "bob"))
    assert start.accepted, start.reason
    d = start.details
    mm, mtm = -76_559_165, 882_241_320
    assert (d["maintenance_margin"], d["mtm"], d["insolvent"]) == (mm, mtm, False)
    # BM = MM + (MM - MtM) x 15% = -76.559165 - 143.820073 (rounded down) = -220.379238
    bm = buffer_margin(MAINNET, mm, mtm)
    assert bm == mm + (mm - mtm) * 15 // 100 == d["buffer_margin"] == -220_379_238
    # Fee: f(d=1) = 220.379238 / (220.379238 + 882.241320) = 19.99%, x MtM x 10% = 17.63
    fee = liquidation_fee(MAINNET, mtm, bm)
    assert fee == max_proportion(MAINNET, mtm, bm, WAD, 0) * mtm // WAD // 10
    assert d["fee"] == fee == 17_633_234
    assert cash(e, "bob") == 1_500 * USDC - fee
    assert e.state.options is not None and e.state.options.security_module == 5_000 * USDC + fee

    # Half-way through the fast auction the bidder pays 82.5% of MtM: carol takes 10%.
    e.apply(AdvanceTime(450))
    e.apply(DepositOptionCash("carol", 2_000 * USDC))
    bid = e.apply(BidPortfolioAuction("carol", "bob", WAD // 10))
    assert bid.accepted, bid.reason
    b = bid.details
    mm1, mtm1 = b["maintenance_margin"], b["mtm"]            # after the fee, 450 s later
    assert (mm1, mtm1) == (-94_119_504, 864_679_050)
    assert b["discount"] == 825 * WAD // 1000
    assert b["price"] == mtm1 * 825 // 1000 == 713_360_216
    assert b["cash_from_bidder"] == mul_up(713_360_216, WAD // 10) == 71_336_022
    assert b["positions"] == {"WETH-2592000-1800-P": -SIZE // 2}     # 10% of -5 puts
    assert b["cash_moved"] == share(1_500 * USDC - fee, WAD // 10) == 148_236_676
    assert not b["terminated"]
    assert cash(e, "carol") == 2_000 * USDC + 148_236_676 - 71_336_022
    assert cash(e, "bob") == 1_500 * USDC - fee - 148_236_676 + 71_336_022
    auction = e.portfolio_auction("bob")
    assert auction is not None and auction.reserved_cash == 71_336_022

    # dave asks for everything: cut to the fraction that restores the buffer margin,
    # BM / (BM - MtM d - R (1 - d)), which ends the auction.
    e.apply(DepositOptionCash("dave", 2_000 * USDC))
    bid2 = e.apply(BidPortfolioAuction("dave", "bob", WAD))
    assert bid2.accepted, bid2.reason
    b2 = bid2.details
    r = 71_336_022
    most = max_proportion(MAINNET, b2["mtm"], b2["buffer_margin"], 825 * WAD // 1000, r)
    assert b2["fraction"] == b2["max_fraction"] == most == 166_800_297_236_147_881
    assert b2["price"] == (b2["mtm"] - r) * 825 // 1000
    assert b2["cash_from_bidder"] == mul_up(b2["price"], most)
    assert b2["terminated"] and e.portfolio_auction("bob") is None
    # Back above the margin: maintenance > 0 and the buffer margin ~0 (a unit of rounding).
    m = e.portfolio_margin("bob")
    assert m is not None and m.maintenance > 0
    assert abs(m.maintenance + (m.maintenance - m.mtm) * 0.15) < 0.01
    # Nothing left to auction: a new start is refused as above maintenance margin.
    again = e.apply(StartPortfolioAuction("keeper", "bob"))
    assert again.code == Code.DA_ABOVE_MAINTENANCE_MARGIN.value


def test_an_insolvent_auction_draws_on_the_security_module_then_socializes():
    e = engine(*INSOLVENT_SHOCK, sm=300)
    start = e.apply(StartPortfolioAuction("keeper", "bob"))
    assert start.accepted, start.reason
    d = start.details
    mm, mtm = d["maintenance_margin"], d["mtm"]
    assert d["insolvent"] and d["fee"] == 0
    assert (mm, mtm) == (-1_788_375_477, -776_584_947)
    auctions = e.state.portfolio_auctions
    assert auctions is not None and auctions.total_insolvent_mm == -mm
    # Withdrawals are blocked while insolvent auctions need more than the module holds.
    out = e.apply(WithdrawOptionCash("alice", USDC))
    assert out.code == Code.WITHDRAW_BLOCKED_BY_AUCTION.value

    # 30 min in (half of 60): the price is MtM + (MM - MtM) / 2 at the margins of now
    # (30 minutes of time decay later); carol takes 100%.
    e.apply(AdvanceTime(1_800))
    e.apply(DepositOptionCash("carol", 2_000 * USDC))
    bid = e.apply(BidPortfolioAuction("carol", "bob", WAD))
    assert bid.accepted, bid.reason
    b = bid.details
    mm, mtm = b["maintenance_margin"], b["mtm"]
    assert (mm, mtm) == (-1_787_935_710, -776_147_758)
    price = mtm - (mtm - mm) * 1_800 // 3_600
    assert b["price"] == price == -1_282_041_734
    assert b["cash_to_bidder"] == -price
    # The module holds 300 USDC: it pays that; the rest is printed to carol, bad debt.
    assert b["security_module_paid"] == 300 * USDC
    assert b["socialized"] == -price - 300 * USDC == 982_041_734
    assert b["terminated"] and b["positions"] == {"WETH-2592000-1800-P": -5 * SIZE}
    clearing = e.state.options
    assert clearing is not None
    assert clearing.security_module == 0 and clearing.socialized_loss == 982_041_734
    assert cash(e, "bob") == 0 and not clearing.positions.get("bob")
    assert cash(e, "carol") == 2_000 * USDC + 1_500 * USDC + (-price)
    # Conservation with the printed cash: cash_in + socialized == balances + module.
    assert clearing.cash_in + clearing.socialized_loss == (
        sum(clearing.cash.values()) + clearing.settlement_dust + clearing.security_module)
    assert e.state.portfolio_auctions is not None
    assert e.state.portfolio_auctions.total_insolvent_mm == 0


def test_a_solvent_auction_that_runs_out_converts_to_insolvent():
    e = engine(*SOLVENT_SHOCK)
    assert e.apply(StartPortfolioAuction("keeper", "bob")).accepted
    out = e.apply(ConvertToInsolventAuction("bob"))
    assert out.code == Code.DA_ONGOING_SOLVENT_AUCTION.value
    e.apply(AdvanceTime(900 + 43_200))                      # fast + slow: price 0
    e.apply(DepositOptionCash("carol", 2_000 * USDC))
    out = e.apply(BidPortfolioAuction("carol", "bob", WAD // 2))
    assert out.code == Code.DA_SOLVENT_AUCTION_ENDED.value
    conv = e.apply(ConvertToInsolventAuction("bob"))
    assert conv.accepted, conv.reason
    auction = e.portfolio_auction("bob")
    assert auction is not None and auction.insolvent and auction.id == 1
    assert e.apply(ConvertToInsolventAuction("bob")).code == Code.DA_ALREADY_INSOLVENT.value
    # At its start the insolvent price is min(MtM, 0) = 0: the module pays nothing.
    bid = e.apply(BidPortfolioAuction("carol", "bob", WAD // 2))
    assert bid.accepted, bid.reason
    assert bid.details["cash_to_bidder"] == 0 and not bid.details["terminated"]


def test_an_owner_tops_up_and_terminates_the_auction():
    e = engine(*SOLVENT_SHOCK)
    assert e.apply(StartPortfolioAuction("keeper", "bob")).accepted
    out = e.apply(TerminatePortfolioAuction("bob"))
    assert out.code == Code.DA_AUCTION_CANNOT_TERMINATE.value
    # Trades and withdrawals of an account under auction are refused (Derive's managers);
    # deposits are not, so the owner can restore the buffer margin.
    out = e.apply(WithdrawOptionCash("bob", USDC))
    assert out.code == Code.ACCOUNT_UNDER_LIQUIDATION.value
    out = e.apply(TradeOption("bob", "alice", size=SIZE, premium=60 * USDC, **PUT))
    assert out.code == Code.ACCOUNT_UNDER_LIQUIDATION.value and out.data["field"] == "buyer"
    assert e.apply(DepositOptionCash("bob", 300 * USDC)).accepted
    e.apply(DepositOptionCash("carol", 2_000 * USDC))
    out = e.apply(BidPortfolioAuction("carol", "bob", WAD // 10))
    assert out.code == Code.DA_AUCTION_SHOULD_BE_TERMINATED.value
    end = e.apply(TerminatePortfolioAuction("bob"))
    assert end.accepted, end.reason
    assert end.details["buffer_margin"] >= 0 and e.portfolio_auction("bob") is None


def test_refusals_are_typed_and_change_nothing():
    e = engine(*SOLVENT_SHOCK)
    e.apply(DepositOptionCash("carol", 2_000 * USDC))
    before = e.state.hash_parts()

    def refused(event: Event, code: Code) -> dict[str, Any]:
        out = e.apply(event)
        assert not out.accepted and out.code == code.value, (event, out.reason)
        assert e.state.hash_parts() == before
        return out.data

    # A bid on an account not under auction.
    refused(BidPortfolioAuction("carol", "bob", WAD // 10), Code.DA_NOT_ONGOING_AUCTION)
    refused(TerminatePortfolioAuction("bob"), Code.DA_NOT_ONGOING_AUCTION)
    refused(ConvertToInsolventAuction("bob"), Code.DA_AUCTION_NOT_STARTED)
    # A healthy account cannot be auctioned.
    data = refused(StartPortfolioAuction("keeper", "alice"), Code.DA_ABOVE_MAINTENANCE_MARGIN)
    assert data["maintenance_margin"] > 0
    assert e.apply(StartPortfolioAuction("keeper", "bob")).accepted
    before = e.state.hash_parts()
    refused(StartPortfolioAuction("keeper", "bob"), Code.DA_AUCTION_ALREADY_STARTED)
    # Fractions outside (0, 100%].
    data = refused(BidPortfolioAuction("carol", "bob", WAD + 1), Code.DA_INVALID_PERCENTAGE)
    assert data == {"field": "fraction", "value": WAD + 1}
    refused(BidPortfolioAuction("carol", "bob", 0), Code.DA_INVALID_PERCENTAGE)
    refused(BidPortfolioAuction("bob", "bob", WAD // 10), Code.SELF_LIQUIDATION)
    # A bidder holding options (alice is long the puts), or without the cash.
    refused(BidPortfolioAuction("alice", "bob", WAD // 10), Code.DA_INVALID_BIDDER_PORTFOLIO)
    data = refused(BidPortfolioAuction("erin", "bob", WAD // 10), Code.DA_INSUFFICIENT_CASH)
    assert data["cash"] == 0 and data["needed"] > 0
    # A price limit below the cost.
    data = refused(BidPortfolioAuction("carol", "bob", WAD // 10, price_limit=USDC),
                   Code.DA_PRICE_LIMIT_EXCEEDED)
    assert data["cash_from_bidder"] > USDC
    # A fraction above the maximum is cut to it (Derive's bid), not refused.
    out = e.apply(BidPortfolioAuction("carol", "bob", WAD))
    assert out.accepted and out.details["fraction"] == out.details["max_fraction"] < WAD


def test_events_without_options_are_refused_and_fields_are_checked():
    plain = Engine(protocol_from_dict({"preset": "aave-v3", "markets": SIMPLE_MARKETS}))
    out = plain.apply(FundSecurityModule(USDC))
    assert out.code == Code.EVENT_NOT_SUPPORTED.value and "[options]" in (out.reason or "")
    e = engine()
    assert e.apply(FundSecurityModule(0)).code == Code.INVALID_AMOUNT.value
    with pytest.raises(EventError, match="BidPortfolioAuction.fraction: must be an integer"):
        event_from_dict({"type": "BidPortfolioAuction", "bidder": "c", "account": "b",
                         "fraction": 0.5})
    with pytest.raises(EventError, match="StartPortfolioAuction.account: required"):
        event_from_dict({"type": "StartPortfolioAuction", "keeper": "k"})


def test_the_log_replays_auctions_to_the_same_state_hash(tmp_path: Path):
    path = tmp_path / "events.sqlite"
    e = Engine.with_log(protocol(), path)
    events = [*book(sm=300), *INSOLVENT_SHOCK, StartPortfolioAuction("keeper", "bob"),
              AdvanceTime(600), DepositOptionCash("carol", 2_000 * USDC),
              BidPortfolioAuction("carol", "bob", WAD // 4),
              BidPortfolioAuction("carol", "bob", WAD // 4),          # refused: holds options
              DepositOptionCash("dave", 3_000 * USDC),
              BidPortfolioAuction("dave", "bob", WAD)]
    outcomes = [e.apply(ev) for ev in events]
    assert [o.accepted for o in outcomes[-5:]] == [True, True, False, True, True]
    expected = e.state_hash()
    e.close()
    replayed, report = Engine.replay(path)
    assert report.state_hash == expected == replayed.state_hash()
    clearing = replayed.state.options
    assert clearing is not None and clearing.socialized_loss > 0
    assert replayed.state.portfolio_auctions is not None
    assert not replayed.state.portfolio_auctions.running
