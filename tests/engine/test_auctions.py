"""Maker-style auction liquidation through the engine (Bark, Take, Redo, Tend, Dent, Deal)."""

import pytest

from marginengine.config import protocol_from_dict
from marginengine.engine import (
    AdvanceTime,
    Bark,
    Borrow,
    Deal,
    Dent,
    Deposit,
    Engine,
    Liquidate,
    Redo,
    SetPrice,
    Take,
    Tend,
)

USD = 10**8
E = 10**18
RAY = 10**27


def maker(kind: str, **auction: object) -> Engine:
    config = protocol_from_dict({
        "markets": {"WETH": {"ltv": "0.66", "liquidation_threshold": "0.6666",
                             "liquidation_bonus": "0", "borrowable": False},
                    "DAI": {"collateral": False}},
        "auction": {"kind": kind, "dust": 100, "tip": 0, "chip": 0, **auction},
    })
    engine = Engine(config)
    engine.apply(SetPrice("WETH", 200 * USD))
    engine.apply(SetPrice("DAI", USD))
    engine.apply(Deposit("lp", "DAI", 10_000_000 * E))
    engine.apply(Deposit("vault", "WETH", 100 * E))
    assert engine.apply(Borrow("vault", "DAI", 13_000 * E)).accepted
    return engine


def test_bark_when_safe_then_refused_and_liquidate_points_to_bark():
    engine = maker("clip")
    assert engine.apply(Bark("keeper", "vault")).reason.startswith("vault is not unsafe")
    engine.apply(SetPrice("WETH", 150 * USD))
    outcome = engine.apply(Liquidate("keeper", "vault", "DAI", "WETH", E))
    assert outcome.reason == "this protocol liquidates by auction: use Bark"


def test_clip_when_taken_then_tab_raised_and_leftover_returned():
    engine = maker("clip", buf="1.2", curve="linear", tau=3600)
    engine.apply(SetPrice("WETH", 150 * USD))  # 15,000 < 13,000 / 0.6666: unsafe
    bark = engine.apply(Bark("keeper", "vault"))
    # tab = 13,000 x 1.13 chop = 14,690 DAI; top = 150 x 1.2 = 180 DAI per ETH.
    assert bark.details["tab"] == 14_690 * E * RAY
    assert engine.ledger.debt_of("vault", "DAI") == 0
    assert engine.ledger.supply_of("vault", "WETH") == 0
    engine.apply(AdvanceTime(600))  # linear over an hour: 180 x 5/6 = 150 DAI per ETH
    take = engine.apply(Take("buyer", 1, 100 * E, 150 * RAY))
    price = take.details["price"]  # Maker floors the linear factor: 150 less 60e-27
    assert 150 * RAY - 100 < price <= 150 * RAY
    # The tab buys 14,690 / 150 = 97.9333... ETH; the rest goes back to the vault.
    assert take.details["paid"] == 14_690 * E
    assert take.details["bought"] == 14_690 * E * RAY // price
    assert take.details["settled"] and take.details["shortfall"] == 0
    assert engine.ledger.supply_of("vault", "WETH") == 100 * E - take.details["bought"]
    engine.ledger.check_conservation()


def test_clip_when_price_falls_below_debt_then_shortfall_is_deficit():
    engine = maker("clip", buf="1.2", curve="linear", tau=3600, cusp="0.1")
    engine.apply(SetPrice("WETH", 150 * USD))
    engine.apply(Bark("keeper", "vault"))
    engine.apply(AdvanceTime(1800))  # half way: 90 DAI per ETH
    take = engine.apply(Take("buyer", 1, 100 * E, 91 * RAY))
    # The whole lot of 100 ETH raises 9,000 of the 13,000 debt: 4,000 of deficit.
    assert take.details["paid"] == 9_000 * E and take.details["bought"] == 100 * E
    assert take.details["shortfall"] == 4_000 * E
    assert engine.ledger.reserves["DAI"].deficit == 4_000 * E
    engine.ledger.check_conservation()


def test_clip_when_price_too_high_or_reset_needed_then_refused_then_redo():
    engine = maker("clip", buf="1.2", curve="linear", tau=3600, cusp="0.5", tail=10_000)
    engine.apply(SetPrice("WETH", 150 * USD))
    engine.apply(Bark("keeper", "vault"))
    refused = engine.apply(Take("buyer", 1, 100 * E, 100 * RAY))  # at 180 > 100
    assert "Clipper/too-expensive" in refused.reason
    engine.apply(AdvanceTime(2000))  # price fell below cusp x top: needs a reset
    assert "Clipper/needs-reset" in engine.apply(Take("buyer", 1, 100 * E, 200 * RAY)).reason
    assert engine.apply(Redo("keeper", 1)).accepted


def test_flip_when_lone_zero_bid_then_settles_near_zero_and_deficit():
    engine = maker("flip")
    engine.apply(SetPrice("WETH", 150 * USD))
    engine.apply(Bark("keeper", "vault"))
    # Black Thursday: one bidder offers 1 DAI for the whole lot and nobody outbids it.
    assert engine.apply(Tend("lowball", 1, 100 * E, E * RAY)).accepted
    assert "Flipper/not-finished" in engine.apply(Deal(1)).reason
    engine.apply(AdvanceTime(601))
    deal = engine.apply(Deal(1))
    assert deal.details["near_zero"] is True
    assert deal.details["shortfall"] == 12_999 * E
    assert engine.ledger.reserves["DAI"].deficit == 12_999 * E
    assert engine.bad_debt_value() == 12_999 * USD
    engine.ledger.check_conservation()


def test_flip_when_competitive_then_dent_returns_collateral_and_no_deficit():
    engine = maker("flip")
    engine.apply(SetPrice("WETH", 150 * USD))
    engine.apply(Bark("keeper", "vault"))
    tab = 14_690 * E * RAY
    assert engine.apply(Tend("k1", 1, 100 * E, 10_000 * E * RAY)).accepted
    assert engine.apply(Tend("k2", 1, 100 * E, tab)).accepted  # the whole tab
    refused = engine.apply(Dent("k1", 1, 99 * E, tab))  # not 3% less collateral
    assert "beg" in refused.reason or "Flipper" in refused.reason
    dent = engine.apply(Dent("k1", 1, 97 * E, tab))
    assert dent.details["returned"] == 3 * E
    assert engine.ledger.supply_of("vault", "WETH") == 3 * E
    engine.apply(AdvanceTime(601))
    deal = engine.apply(Deal(1))
    assert deal.details["shortfall"] == 0 and deal.details["winner"] == "k1"
    assert engine.ledger.reserves["DAI"].deficit == 0
    engine.ledger.check_conservation()


@pytest.mark.parametrize("event", [Take("k", 1, E, RAY), Redo("k", 1)])
def test_dutch_events_when_flip_protocol_then_refused(event):
    engine = maker("flip")
    assert "Dutch auctions" in engine.apply(event).reason


def test_flip_bark_when_dunk_binds_then_cat_bites_part_and_deal_claws_it_back():
    # Liquidations 1.2: the Cat sends at most dunk = 5,650 DAI (debt 5,000 x chop 1.13) to
    # one auction and leaves the rest of the vault for the next bite.
    engine = maker("flip", dunk=5_650)
    engine.apply(SetPrice("WETH", 150 * USD))
    first = engine.apply(Bark("keeper", "vault"))
    assert (first.details["debt"], first.details["tab"]) == (5_000 * E, 5_650 * E * RAY)
    assert first.details["lot"] == 100 * E * 5_000 // 13_000
    assert engine.ledger.debt_of("vault", "DAI") == 8_000 * E
    house = engine.state.auctions
    assert house is not None and house.cat is not None
    assert house.cat.litter == 5_650 * E * RAY
    assert engine.apply(Bark("keeper", "vault")).details["debt"] == 5_000 * E
    assert engine.apply(Tend("k1", 1, first.details["lot"], 5_650 * E * RAY)).accepted
    engine.apply(AdvanceTime(601))
    assert engine.apply(Deal(1)).accepted
    assert engine.state.auctions is not None and engine.state.auctions.cat is not None
    assert engine.state.auctions.cat.litter == 5_650 * E * RAY  # the second auction's
    engine.ledger.check_conservation()


# --- flip.t.sol's money (makerdao/dss@fa4f6630afb0624d04a003e920b0d71a00331d98
# src/test/flip.t.sol): a lot of 100 gems for a tab of 50 DAI. Here a vault of 100 WETH owing
# 50 DAI, barked at 0.70 (70 x 0.6666 < 50) with chop 1, so the Cat's tab is 50 DAI. The
# bidders are outside the ledger: what they pay lands in the DAI reserves (Maker's gal, the
# vow) and what they are refunded leaves it.


def flip_fifty(tab_dai: int = 50) -> Engine:
    config = protocol_from_dict({
        "markets": {"WETH": {"ltv": "0.66", "liquidation_threshold": "0.6666",
                             "liquidation_bonus": "0", "borrowable": False},
                    "DAI": {"collateral": False}},
        "auction": {"kind": "flip", "dust": 0, "chop": 1},
    })
    engine = Engine(config)
    engine.apply(SetPrice("WETH", 4 * USD))
    engine.apply(SetPrice("DAI", USD))
    engine.apply(Deposit("lp", "DAI", 10_000 * E))
    engine.apply(Deposit("vault", "WETH", 100 * E))
    assert engine.apply(Borrow("vault", "DAI", tab_dai * E)).accepted
    engine.apply(SetPrice("WETH", 70 * USD // 100 * tab_dai // 50))
    bark = engine.apply(Bark("keeper", "vault"))
    assert (bark.details["tab"], bark.details["lot"]) == (tab_dai * E * RAY, 100 * E)
    return engine


def dai_cash(engine: Engine) -> int:
    return engine.ledger.reserves["DAI"].cash


def test_dss_tend_when_outbid_then_previous_bidder_refunded_and_gal_gets_the_excess():
    # test_tend: ali bids 1 (ali 199, gal 1); bob bids 2 (bob 198, ali refunded to 200,
    # gal 2); 5 hours later bob deals and gets the 100 gems.
    engine = flip_fifty()
    start = dai_cash(engine)
    ali = engine.apply(Tend("ali", 1, 100 * E, E * RAY))
    assert (ali.details["paid"], ali.details["refund"]) == (E, 0)
    assert dai_cash(engine) - start == E
    bob = engine.apply(Tend("bob", 1, 100 * E, 2 * E * RAY))
    assert (bob.details["paid"], bob.details["refund"]) == (2 * E, E)
    assert dai_cash(engine) - start == 2 * E
    engine.apply(AdvanceTime(5 * 3600))
    deal = engine.apply(Deal(1))
    assert (deal.details["winner"], deal.details["lot"]) == ("bob", 100 * E)
    engine.ledger.check_conservation()


def test_dss_dent_when_tab_reached_then_bidder_refunded_and_gems_to_the_vault():
    # test_dent: ali 1, bob 50 (= tab), ali dents to 95 gems for 50: bob is refunded
    # (back to 200), ali has paid 50 (150 left), 5 gems go back to the vault.
    engine = flip_fifty()
    start = dai_cash(engine)
    engine.apply(Tend("ali", 1, 100 * E, E * RAY))
    engine.apply(Tend("bob", 1, 100 * E, 50 * E * RAY))
    dent = engine.apply(Dent("ali", 1, 95 * E, 50 * E * RAY))
    assert dent.details["returned"] == 5 * E
    assert engine.ledger.supply_of("vault", "WETH") == 5 * E
    assert dai_cash(engine) - start == 50 * E  # ali's 50; ali's 1 and bob's 50 refunded
    engine.ledger.check_conservation()


def test_dss_tend_dent_same_bidder_then_pays_only_the_raise():
    # test_tend_dent_same_bidder: tab 200; ali bids 190 (200 -> 10), then 200 (10 -> 0):
    # in all 200 into the reserves, and a dent by the same bidder moves no DAI.
    engine = flip_fifty(tab_dai=200)
    start = dai_cash(engine)
    engine.apply(Tend("ali", 1, 100 * E, 190 * E * RAY))
    assert dai_cash(engine) - start == 190 * E
    engine.apply(Tend("ali", 1, 100 * E, 200 * E * RAY))
    assert dai_cash(engine) - start == 200 * E
    assert engine.apply(Dent("ali", 1, 80 * E, 200 * E * RAY)).accepted
    assert dai_cash(engine) - start == 200 * E
    engine.ledger.check_conservation()


def test_bark_top_is_getfeedprice_of_the_oracle_over_par_times_buf():
    # clip.sol getFeedPrice: rdiv(val * BLN, par), then top = rmul(feed, buf). With WETH at
    # 150 USD and DAI (par) at 1.01 USD: feed = 150 / 1.01 = 148.514851485148514851485148514
    # (floored), top = feed x 1.2 = 178.217821782178217821782178216 (floored).
    engine = maker("clip", buf="1.2", curve="linear", tau=3600)
    engine.apply(SetPrice("DAI", 101 * USD // 100))
    engine.apply(SetPrice("WETH", 150 * USD))
    assert engine.apply(Bark("keeper", "vault")).accepted
    house = engine.state.auctions
    assert house is not None and house.clipper is not None
    feed = 150 * RAY * 100 // 101
    assert feed == 148_514_851_485_148_514_851_485_148_514
    assert house.clipper.active[1].top == feed * 12 // 10 == 178_217_821_782_178_217_821_782_178_216
