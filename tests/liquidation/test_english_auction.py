"""English collateral auctions (MakerDAO flip.sol): tend/dent sequences, Black Thursday.

Parameters are the ETH-A Flipper's on 12 March 2020 (docs/auctions.md): beg 3%, bids live
10 minutes (ttl 600 s), auctions end 6 hours after the kick (tau 21,600 s).
"""

import copy
from typing import Any

import pytest

from marginengine.liquidation.cat import Cat, CatParams
from marginengine.liquidation.dutch_auction import RAD, AuctionError
from marginengine.liquidation.english_auction import (
    BLACK_THURSDAY_ETH_A,
    FLIP_CONTRACT_DEFAULTS,
    Bid,
    Flipper,
    FlipperParams,
)

WAD = 10**18
ETH = WAD
T0 = 1_584_000_000
TAB = 11_300 * RAD  # 10,000 DAI of debt x 1.13
LOT = 50 * ETH


def flipper_with_auction() -> Flipper:
    flip = Flipper(BLACK_THURSDAY_ETH_A)
    assert flip.kick("vault", "vow", TAB, LOT, 0, T0) == 1
    return flip


def refused(flip: Flipper, code: str, call: Any) -> AuctionError:
    before = (copy.deepcopy(flip.bids), flip.kicks)
    with pytest.raises(AuctionError) as info:
        call()
    assert info.value.code == code
    assert (flip.bids, flip.kicks) == before  # a refused call changes nothing
    return info.value


def test_parameters_found_for_black_thursday_and_contract_defaults():
    black_thursday, defaults = BLACK_THURSDAY_ETH_A, FLIP_CONTRACT_DEFAULTS
    assert (black_thursday.beg, black_thursday.ttl, black_thursday.tau) == (
        1_030_000_000_000_000_000, 600, 21_600)  # 3%, 10 minutes, 6 hours
    assert (defaults.beg, defaults.ttl, defaults.tau) == (
        1_050_000_000_000_000_000, 10_800, 172_800)  # 5%, 3 hours, 2 days


def test_kick_records_the_auction_with_the_kicker_as_bidder():
    flip = flipper_with_auction()
    assert flip.bids[1] == Bid(id=1, bid=0, lot=LOT, guy="cat", tic=0, end=T0 + 21_600,
                               usr="vault", gal="vow", tab=TAB)
    assert flip.phase(1) == "tend"


def test_full_tend_then_dent_sequence_with_the_beg_rule():
    flip = flipper_with_auction()
    flip.tend(1, LOT, 5_000 * RAD, "alice", T0 + 10)
    assert (flip.bids[1].guy, flip.bids[1].tic) == ("alice", T0 + 610)  # tic = now + ttl

    # 5,100 is only 2% more than 5,000: refused. 5,150 is exactly 3% more: accepted
    # (bid x 1e18 >= beg x old bid holds with equality).
    refused(flip, "Flipper/insufficient-increase",
            lambda: flip.tend(1, LOT, 5_100 * RAD, "bob", T0 + 20))
    flip.tend(1, LOT, 5_150 * RAD, "bob", T0 + 20)
    flip.tend(1, LOT, 11_000 * RAD, "alice", T0 + 30)
    # 11,300 is only 2.7% above 11,000, but it is the full tab: accepted.
    flip.tend(1, LOT, TAB, "bob", T0 + 40)
    assert flip.phase(1) == "dent"

    # Dent: pay the tab for less collateral. 49 ETH x 1.03 = 50.47 > 50: refused;
    # 48.5 x 1.03 = 49.955 <= 50: accepted (1.5 ETH go back to the vault).
    refused(flip, "Flipper/insufficient-decrease",
            lambda: flip.dent(1, 49 * ETH, TAB, "alice", T0 + 50))
    flip.dent(1, 485 * ETH // 10, TAB, "alice", T0 + 50)
    assert (flip.bids[1].lot, flip.bids[1].guy, flip.bids[1].tic) == (
        485 * ETH // 10, "alice", T0 + 650
    )
    refused(flip, "Flipper/lot-not-lower",
            lambda: flip.dent(1, 485 * ETH // 10, TAB, "bob", T0 + 60))

    # Settles once the last bid expired (tic < now), not at tic itself.
    refused(flip, "Flipper/not-finished", lambda: flip.deal(1, T0 + 650))
    final = flip.deal(1, T0 + 651)
    assert (final.guy, final.bid, final.lot, final.usr) == ("alice", TAB, 485 * ETH // 10,
                                                              "vault")
    assert flip.bids == {}


def test_tend_refusals():
    flip = flipper_with_auction()
    refused(flip, "Flipper/guy-not-set", lambda: flip.tend(9, LOT, RAD, "a", T0))
    refused(flip, "Flipper/lot-not-matching", lambda: flip.tend(1, LOT - 1, RAD, "a", T0))
    refused(flip, "Flipper/higher-than-tab", lambda: flip.tend(1, LOT, TAB + 1, "a", T0))
    refused(flip, "Flipper/bid-not-higher", lambda: flip.tend(1, LOT, 0, "a", T0))
    flip.tend(1, LOT, TAB, "a", T0)
    error = refused(flip, "Flipper/bid-not-higher", lambda: flip.tend(1, LOT, TAB, "b", T0))
    assert "dent phase" in str(error)  # tend after the tab is reached
    refused(flip, "Flipper/higher-than-tab", lambda: flip.tend(1, LOT, TAB + RAD, "b", T0))


def test_dent_refusals():
    flip = flipper_with_auction()
    flip.tend(1, LOT, 5_000 * RAD, "a", T0)
    refused(flip, "Flipper/tend-not-finished",
            lambda: flip.dent(1, 40 * ETH, 5_000 * RAD, "b", T0))
    refused(flip, "Flipper/not-matching-bid", lambda: flip.dent(1, 40 * ETH, TAB, "b", T0))


def test_bids_refused_after_the_bid_expired_or_the_auction_ended():
    flip = flipper_with_auction()
    flip.tend(1, LOT, 5_000 * RAD, "a", T0)
    # At tic itself the bid has expired for bidding (tic > now fails) ...
    refused(flip, "Flipper/already-finished-tic",
            lambda: flip.tend(1, LOT, 6_000 * RAD, "b", T0 + 600))
    # ... but cannot be dealt yet (tic < now fails): one second later it can.
    refused(flip, "Flipper/not-finished", lambda: flip.deal(1, T0 + 600))
    assert flip.deal(1, T0 + 601).bid == 5_000 * RAD

    unbid = flipper_with_auction()
    refused(unbid, "Flipper/already-finished-end",
            lambda: unbid.tend(1, LOT, RAD, "b", T0 + 21_600))


def test_black_thursday_lone_bidder_wins_the_lot_for_almost_nothing():
    flip = flipper_with_auction()
    # No competing keepers (gas spiked): one keeper bids the smallest unit of DAI, 1 rad
    # (1e-45 DAI). The first bid only needs bid > 0: beg x 0 = 0 sets no floor.
    flip.tend(1, LOT, 1, "lone-keeper", T0 + 1)
    assert flip.bids[1].tic == T0 + 601  # ten minutes for anyone to outbid
    refused(flip, "Flipper/not-finished", lambda: flip.deal(1, T0 + 601))
    won = flip.deal(1, T0 + 602)
    assert (won.guy, won.bid, won.lot, won.tab) == ("lone-keeper", 1, LOT, TAB)
    # The system raised 1e-45 DAI for a 11,300 DAI tab: all of it is bad debt.


def test_black_thursday_one_wei_bid_also_wins_when_auction_ends():
    flip = flipper_with_auction()
    one_wei_dai = RAD // WAD  # 1e-18 DAI, in rad
    flip.tend(1, LOT, one_wei_dai, "keeper", T0 + 21_000)  # 10 min before the end
    # The bid's tic (T0 + 21,600) equals the end: dealt once the end passed.
    assert flip.deal(1, T0 + 21_601).bid == one_wei_dai


def test_tick_restarts_an_unbid_auction_only():
    flip = flipper_with_auction()
    refused(flip, "Flipper/not-finished", lambda: flip.tick(1, T0 + 21_600))
    refused(flip, "Flipper/not-finished", lambda: flip.deal(1, T0 + 30_000))  # no bid
    flip.tick(1, T0 + 21_601)
    assert flip.bids[1].end == T0 + 21_601 + 21_600
    flip.tend(1, LOT, RAD, "a", T0 + 21_700)  # bidding is open again
    refused(flip, "Flipper/not-finished", lambda: flip.tick(1, T0 + 21_700))
    refused(flip, "Flipper/bid-already-placed", lambda: flip.tick(1, T0 + 50_000))


def test_yank_only_in_tend_phase():
    flip = flipper_with_auction()
    flip.tend(1, LOT, 5_000 * RAD, "a", T0)
    assert flip.yank(1).bid == 5_000 * RAD
    flip.kick("vault", "vow", TAB, LOT, 0, T0)
    flip.tend(2, LOT, TAB, "a", T0)
    refused(flip, "Flipper/already-dent-phase", lambda: flip.yank(2))


def test_invalid_parameters_and_inputs():
    with pytest.raises(AuctionError, match="ttl must be a non-negative int"):
        FlipperParams(beg=WAD, ttl=-1, tau=1)
    flip = flipper_with_auction()
    refused(flip, "Flipper/invalid-input", lambda: flip.tend(1, LOT, -5, "a", T0))


# --- dss's own tests (makerdao/dss@fa4f6630afb0624d04a003e920b0d71a00331d98
# src/test/flip.t.sol), with the contract's defaults: beg 5%, ttl 3 h, tau 2 days; a lot of
# 100 gems for a tab of 50 (the test's units, unscaled).
DSS_START = 604_411_200


def dss_flip() -> Flipper:
    flip = Flipper(FLIP_CONTRACT_DEFAULTS)
    assert flip.kick("usr", "gal", 50 * WAD, 100 * WAD, 0, DSS_START) == 1
    return flip


def test_dss_beg_rule_for_tend_and_dent():
    # test_beg: 1.00 then 1.01 (below 5% more, even for the high bidder) is refused, 1.07
    # passes; near the tab less than beg is fine (49, then 50 = tab); a dent needs a lot
    # below 100 / 1.05: 99 refused, 95 accepted.
    flip, now = dss_flip(), DSS_START
    flip.tend(1, 100 * WAD, WAD, "ali", now)
    for who in ("bob", "ali"):
        refused(flip, "Flipper/insufficient-increase",
                lambda who=who: flip.tend(1, 100 * WAD, 101 * WAD // 100, who, now))
    flip.tend(1, 100 * WAD, 107 * WAD // 100, "bob", now)
    flip.tend(1, 100 * WAD, 49 * WAD, "ali", now)
    flip.tend(1, 100 * WAD, 50 * WAD, "bob", now)
    refused(flip, "Flipper/lot-not-lower", lambda: flip.dent(1, 100 * WAD, 50 * WAD, "ali", now))
    refused(flip, "Flipper/insufficient-decrease",
            lambda: flip.dent(1, 99 * WAD, 50 * WAD, "ali", now))
    flip.dent(1, 95 * WAD, 50 * WAD, "ali", now)  # test_dent: 5 gems back to usr
    assert (flip.bids[1].lot, flip.bids[1].guy) == (95 * WAD, "ali")


def test_dss_deal_only_after_ttl_or_end():
    # test_deal: a bid 1 DAI is dealt only once its ttl (3 h) passed (4.1 h later); a second
    # auction bid 44 h in is dealt at its end (2 days), a day later, not before.
    flip = dss_flip()
    flip.tend(1, 100 * WAD, WAD, "ali", DSS_START)
    refused(flip, "Flipper/not-finished", lambda: flip.deal(1, DSS_START))
    assert flip.deal(1, DSS_START + 14_760).guy == "ali"
    now = DSS_START + 14_760
    second = flip.kick("usr", "gal", 50 * WAD, 100 * WAD, 0, now)
    now += 44 * 3600
    flip.tend(second, 100 * WAD, WAD, "ali", now)
    refused(flip, "Flipper/not-finished", lambda: flip.deal(second, now))
    assert flip.deal(second, now + 86_400).lot == 100 * WAD


def test_dss_tick_restarts_an_ended_auction_without_bids():
    # test_tick and test_no_deal_after_end: two weeks on, no bid is possible nor any deal,
    # until tick restarts it.
    flip = dss_flip()
    refused(flip, "Flipper/not-finished", lambda: flip.tick(1, DSS_START))
    later = DSS_START + 14 * 86_400
    refused(flip, "Flipper/already-finished-end",
            lambda: flip.tend(1, 100 * WAD, WAD, "ali", later))
    refused(flip, "Flipper/not-finished", lambda: flip.deal(1, later))
    flip.tick(1, later)
    refused(flip, "Flipper/not-finished", lambda: flip.deal(1, later))
    flip.tend(1, 100 * WAD, WAD, "ali", later)


def test_dss_tend_on_no_auction_and_later_tend_then_as_dss():
    # testFail_tend_empty (id 42 does not exist) and test_tend_later (a first bid 5 hours
    # in, well inside the 2-day tau, lives ttl = 3 h).
    flip = dss_flip()
    refused(flip, "Flipper/guy-not-set", lambda: flip.tend(42, 0, 0, "ali", DSS_START))
    flip.tend(1, 100 * WAD, WAD, "ali", DSS_START + 5 * 3600)
    assert (flip.bids[1].guy, flip.bids[1].bid) == ("ali", WAD)
    assert flip.bids[1].tic == DSS_START + 5 * 3600 + 3 * 3600


def test_dss_yank_in_tend_phase_returns_bid_and_tab_but_not_in_dent_phase():
    # test_yank_tend: tab rad(50), ali's bid of 1: yank hands back the auction so the
    # caller refunds ali's 1, takes the 100 gems and claws the 50 DAI tab from the Cat's
    # litter (5,000,000 -> 4,999,950). test_yank_dent: after a dent it is refused.
    cat = Cat(CatParams(box=10_000_000 * RAD, dunk=10_000_000 * RAD, chop=WAD, dust=0))
    cat.litter = 5_000_000 * RAD
    flip = Flipper(FLIP_CONTRACT_DEFAULTS)
    flip.kick("usr", "gal", 50 * RAD, 100 * WAD, 0, DSS_START)
    flip.tend(1, 100 * WAD, WAD, "ali", DSS_START)
    yanked = flip.yank(1)
    assert (yanked.guy, yanked.bid, yanked.lot, yanked.tab) == ("ali", WAD, 100 * WAD,
                                                                50 * RAD)
    cat.claw(yanked.tab)
    assert cat.litter == 5_000_000 * RAD - 50 * RAD
    assert 1 not in flip.bids
    flip = dss_flip()
    flip.tend(1, 100 * WAD, WAD, "ali", DSS_START)
    flip.tend(1, 100 * WAD, 50 * WAD, "bob", DSS_START)
    flip.dent(1, 95 * WAD, 50 * WAD, "ali", DSS_START)
    refused(flip, "Flipper/already-dent-phase", lambda: flip.yank(1))
