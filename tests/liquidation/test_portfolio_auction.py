"""Derive's portfolio auction rules (liquidation/portfolio_auction.py) against Derive's own
unit tests: derivexyz/v2-core at 7736900d395703c4f675376caa4c315402943831,
``test/auction/unit-tests/DutchAuctionView.t.sol`` (discount curves),
``SolventAuction.t.sol`` (max proportion, bid cost) and ``InsolventAuction.t.sol``
(insolvent price, security-module payout), whose parameters are ``test/config-test.sol``
``getDefaultAuctionParam`` (start 100%, cutoff 80%, fast 10 min, slow 2 h, insolvent
10 min, fee 0, buffer 10%). Derive's amounts are 18-decimal; the rules take any unit.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marginengine.config import validate_model
from marginengine.config.portfolio_auction import PortfolioAuctionConfig
from marginengine.errors import ConfigError
from marginengine.fixedpoint import WAD
from marginengine.liquidation.portfolio_auction import (
    PortfolioAuctionParams,
    PortfolioAuctions,
    buffer_margin,
    discount,
    insolvent_bid_price,
    liquidation_fee,
    max_proportion,
    mul_up,
    share,
    solvent_bid_price,
)

E18 = 10**18
DERIVE_TEST = PortfolioAuctionParams(WAD, 8 * WAD // 10, 600, 7_200, 600, 0, WAD // 10)


def test_discount_follows_derives_view_tests():
    # testGetDiscountPercentage: 100% -> 80% over 600 s, then 80% -> 0 over 7,200 s.
    assert [discount(DERIVE_TEST, t) for t in (300, 600, 960, 960 + 7_200)] == [
        9 * WAD // 10, 8 * WAD // 10, 76 * WAD // 100, 0]
    # testGetDiscountPercentage2: 96% -> 80% over 300 s; 90% of the slow auction leaves 8%.
    p = PortfolioAuctionParams(96 * WAD // 100, 8 * WAD // 10, 300, 7_200)
    assert [discount(p, t) for t in (0, 150, 300, 300 + 6_480)] == [
        96 * WAD // 100, 88 * WAD // 100, 8 * WAD // 10, 8 * WAD // 100]


def test_discount_at_derives_mainnet_parameters():
    # scripts/config-mainnet.sol: 95% -> 70% over 15 min, then 70% -> 0 over 12 h.
    p = PortfolioAuctionParams()
    assert discount(p, 0) == 95 * WAD // 100
    assert discount(p, 450) == 825 * WAD // 1000           # 95% - 25% x 450/900
    assert discount(p, 900) == 70 * WAD // 100
    assert discount(p, 900 + 21_600) == 35 * WAD // 100    # half-way down the slow one
    assert discount(p, 900 + 43_200) == 0
    # The fall rounds down: after 1 s the multiplier is 0.95 - 0.25/900, floored fall.
    assert discount(p, 1) == 95 * WAD // 100 - (25 * WAD // 100) // 900
    with pytest.raises(ValueError, match="elapsed"):
        discount(p, -1)


def test_discount_in_the_slow_auction_is_derives_to_the_wei():
    # DutchAuction._getDiscountPercentage: cutoff.multiplyDecimal(seconds) is a wad times
    # raw seconds, truncated to whole units (0.7 x 1 s -> 0), then divideDecimal(length).
    p = PortfolioAuctionParams()
    assert discount(p, 901) == 70 * WAD // 100               # 0.7 x 1 truncates to 0
    assert discount(p, 902) == 70 * WAD // 100 - WAD // 43_200   # 0.7 x 2 -> 1
    # 0.7 x 301 = 210.7 -> 210: 0.7 - 210 / 43,200 (the exact line: 0.7 - 210.7 / 43,200).
    assert discount(p, 900 + 301) == 70 * WAD // 100 - 210 * WAD // 43_200
    assert discount(p, 900 + 301) == 695_138_888_888_888_889
    # Never below the exact line, never more than one step (1 / 43,200) above it.
    for t in range(900, 900 + 43_200, 997):
        exact = Fraction(7, 10) * (1 - Fraction(t - 900, 43_200)) * WAD
        assert exact <= discount(p, t) < exact + Fraction(WAD, 43_200)


def test_max_proportion_of_derives_capped_race_condition_test():
    # testPercentageCappedRaceCondition (buffer 0, so BM = MM): MtM 6,000, MM -10,000;
    # at the end of the fast auction (d = 0.8) Alice takes 30% for 1,440. Then MtM 5,640,
    # MM -5,560, reserved 1,440: at most 53.66% of the current portfolio, for 1,803.
    p = PortfolioAuctionParams(WAD, 8 * WAD // 10, 600, 7_200, 600, 0, 0)
    assert solvent_bid_price(p, 600, 6_000 * E18, 0) == 4_800 * E18
    assert mul_up(4_800 * E18, 3 * WAD // 10) == 1_440 * E18
    mtm, mm, reserved = 5_640 * E18, -5_560 * E18, 1_440 * E18
    bm = buffer_margin(p, mm, mtm)
    assert bm == mm
    f = max_proportion(p, mtm, bm, discount(p, 600), reserved)
    assert f // 10**14 == 5_366                               # 5,560 / 10,360
    price = solvent_bid_price(p, 600, mtm, reserved)
    assert price == 3_360 * E18                               # (5,640 - 1,440) x 0.8
    assert mul_up(price, f) // E18 == 1_803


def test_solvent_price_excludes_reserved_cash_as_derives_test():
    # testConvertToInsolventAuction_WithReservedCash: cutoff 70%, buffer 0; a 20% bid at
    # the start pays 1,600 of MtM 8,000; at the end of the fast auction MtM is 9,600 with
    # the 1,600 reserved: (9,600 - 1,600) x 0.7 = 5,600.
    p = PortfolioAuctionParams(WAD, 7 * WAD // 10, 600, 7_200, 600, 0, 0)
    assert mul_up(solvent_bid_price(p, 0, 8_000 * E18, 0), WAD // 5) == 1_600 * E18
    assert solvent_bid_price(p, 600, 9_600 * E18, 1_600 * E18) == 5_600 * E18
    # testBidMarkToMarketChange: MtM 1,000 half-way through the fast auction, 10%: 90.
    assert mul_up(solvent_bid_price(DERIVE_TEST, 300, 1_000 * E18, 0), WAD // 10) == 90 * E18


def test_max_proportion_and_bid_cost_of_derives_solvent_test():
    # _startDefaultSolventAuction: MM -100, MtM 300; buffer 10% -> BM -100 - 40 = -140.
    mm, mtm = -100 * E18, 300 * E18
    bm = buffer_margin(DERIVE_TEST, mm, mtm)
    assert bm == -140 * E18
    # testStartSolventAuction: price 300 (100% of MtM), 31.8% at most = 140 / 440.
    assert solvent_bid_price(DERIVE_TEST, 0, mtm, 0) == 300 * E18
    f0 = max_proportion(DERIVE_TEST, mtm, bm, WAD, 0)
    assert f0 // 10**15 == 318
    assert f0 == -(-140 * WAD // 440)                       # exact rational, rounded up
    # testCanBidWithMaxPercentage: half-way through the fast auction, price 270 (90%),
    # 34.1% = 140 / 410 at most, costing 270 x 0.341 = 92.2.
    assert solvent_bid_price(DERIVE_TEST, 300, mtm, 0) == 270 * E18
    f = max_proportion(DERIVE_TEST, mtm, bm, discount(DERIVE_TEST, 300), 0)
    assert f // 10**15 == 341
    assert mul_up(270 * E18, f) // E18 == 92
    # testCanBidWithLowerPercentage: 10% costs 27.
    assert mul_up(270 * E18, WAD // 10) == 27 * E18


def test_max_proportion_edges():
    p = PortfolioAuctionParams(mtm_cutoff=1_000)
    assert max_proportion(p, 999, -5, WAD, 0) == WAD        # below the cutoff: all of it
    assert max_proportion(DERIVE_TEST, 300, 0, WAD, 0) == 0  # buffer met: nothing to sell
    assert max_proportion(DERIVE_TEST, 300, 10, WAD, 0) == 0
    # A buffer deficit larger than the discounted MtM can cover: capped at 100%.
    assert max_proportion(DERIVE_TEST, 10, -1_000, 0, 0) == WAD


@given(mtm=st.integers(1, 10**12), gap=st.integers(1, 10**12), disc=st.integers(1, WAD),
       reserved_part=st.integers(0, 99))
def test_property_the_max_fraction_restores_the_buffer_margin(mtm, gap, disc, reserved_part):
    # A portfolio homogeneous in its size: after selling f of everything but the reserved
    # cash R at d x (MtM - R), the buffer margin is (1 - f)(BM - R) + R + f d (MtM - R).
    bm = -gap
    reserved = mtm * reserved_part // 100
    f = max_proportion(DERIVE_TEST, mtm, bm, disc, reserved)
    fr, d = Fraction(f, WAD), Fraction(disc, WAD)
    after = (1 - fr) * (bm - reserved) + reserved + fr * d * (mtm - reserved)
    if f < WAD:
        assert after >= 0                                  # rounded up: never short of it
        smaller = Fraction(f - 1, WAD)
        assert (1 - smaller) * (bm - reserved) + reserved + smaller * d * (mtm - reserved) < 0


def test_insolvent_price_and_payout_of_derives_insolvent_test():
    # _startDefaultInsolventAuction: MM -300, MtM -100; the price goes -100 -> -300 in 600 s.
    mm, mtm = -300 * E18, -100 * E18
    assert insolvent_bid_price(DERIVE_TEST, 0, mm, mtm) == -100 * E18
    # testBidForInsolventAuctionFromSM: 12 s in (2%), 50%: the module pays 52.
    price = insolvent_bid_price(DERIVE_TEST, 12, mm, mtm)
    assert price == -104 * E18
    assert -price * (WAD // 2) // WAD == 52 * E18
    # testBidForInsolventAuctionMakesSMInsolvent: half-way, 100%: 200.
    assert insolvent_bid_price(DERIVE_TEST, 300, mm, mtm) == -200 * E18
    assert insolvent_bid_price(DERIVE_TEST, 600, mm, mtm) == mm
    # A positive MtM starts from 0 (testCanBidOnInsolventAuctionWith0BidPositiveMTM).
    assert insolvent_bid_price(DERIVE_TEST, 0, mm, 100 * E18) == 0
    # MM met: nothing to pay (testTerminatesInsolventAuction).
    assert insolvent_bid_price(DERIVE_TEST, 300, 100 * E18, mtm) == 0
    # Rounded toward zero: -1 -> -4 over 600 s, 1 s in moves 3/600 of a unit: nothing yet.
    assert insolvent_bid_price(DERIVE_TEST, 1, -4, -1) == -1


def test_liquidation_fee_and_shares():
    # MM -100, MtM 300, buffer 10%: f(d = 1) = 140/440; fee 10% of f x MtM = 9.545...
    p = PortfolioAuctionParams(buffer_margin_percentage=WAD // 10)
    fee = liquidation_fee(p, 300 * E18, -140 * E18)
    assert fee == max_proportion(p, 300 * E18, -140 * E18, WAD, 0) * 300 * E18 // WAD // 10
    assert fee // 10**15 == 9_545
    assert liquidation_fee(DERIVE_TEST, 300 * E18, -140 * E18) == 0   # Derive's tests: 0%
    # Shares round toward zero on both signs: the account keeps the remainder.
    assert share(7, WAD // 2) == 3 and share(-7, WAD // 2) == -3
    assert share(-7, WAD) == -7


def test_auction_book_counts_insolvent_margin_and_keeps_ids():
    book = PortfolioAuctions()
    assert book.is_empty()
    a = book.start("bob", 100, insolvent=False)
    assert a.id == 1 and book.next_id == 2 and not book.is_empty()
    book.reserve("bob", 5)
    assert book.running["bob"].reserved_cash == 5
    b = book.start("bob", 200, insolvent=True, cached_mm=300)   # converted: same id
    assert b.id == 1 and b.reserved_cash == 0 and book.total_insolvent_mm == 300
    copy = book.copy()
    book.end("bob")
    assert book.total_insolvent_mm == 0 and "bob" not in book.running
    assert copy.running["bob"] == b and copy.total_insolvent_mm == 300


def test_parameters_from_the_configuration_and_their_bounds():
    params = PortfolioAuctionParams.of(PortfolioAuctionConfig(), 10**6)
    assert params == PortfolioAuctionParams()                 # Derive mainnet's defaults
    custom = PortfolioAuctionParams.of(
        PortfolioAuctionConfig(mtm_cutoff=Decimal("12.5"), buffer_margin_percentage=Decimal(1)),
        10**6)
    assert custom.mtm_cutoff == 12_500_000 and custom.buffer_margin_percentage == WAD
    # Derive's setAuctionParams bounds.
    for bad, field in (({"liquidator_fee_rate": "0.11"}, "liquidator_fee_rate"),
                       ({"buffer_margin_percentage": "4.1"}, "buffer_margin_percentage"),
                       ({"starting_mtm_percentage": "1.01"}, "starting_mtm_percentage"),
                       ({"starting_mtm_percentage": "0.5"}, "fast_auction_cutoff_percentage"),
                       ({"fast_auction_length": 0}, "fast_auction_length")):
        with pytest.raises(ConfigError, match=field):
            validate_model(PortfolioAuctionConfig, bad)
