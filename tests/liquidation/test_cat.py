"""The Cat of Liquidations 1.2 (dss cat.sol, makerdao/dss@fa4f6630): worked numbers by hand.

The vault is clip.t.sol's: ink 40, art 100 at rate 1 and spot 2 (gold at 4 DAI, mat 2),
unsafe since 40 x 2 < 100; dust 20 DAI.
"""

import copy

import pytest

from marginengine.fixedpoint import rpow
from marginengine.liquidation.cat import Cat, CatParams
from marginengine.liquidation.dutch_auction import RAD, AuctionError, Dog, DogParams
from marginengine.liquidation.english_auction import FLIP_CONTRACT_DEFAULTS, Flipper

WAD = 10**18
RAY = 10**27
SPOT = 2 * RAY


def cat(box: int = 1_000 * RAD, dunk: int = 1_000 * RAD, chop: int = 11 * WAD // 10,
        dust: int = 20 * RAD) -> Cat:
    return Cat(CatParams(box=box, dunk=dunk, chop=chop, dust=dust))


def refused(machine: Cat, code: str, call: object) -> None:
    before = copy.deepcopy(machine.__dict__)
    with pytest.raises(AuctionError) as info:
        call()  # type: ignore[operator]
    assert info.value.code == code
    assert machine.__dict__ == before


def test_bite_when_room_then_whole_vault_with_penalty():
    machine = cat()
    assert machine.bite(100 * WAD, 40 * WAD, RAY, SPOT) == (100 * WAD, 40 * WAD, 110 * RAD)
    assert machine.litter == 110 * RAD


def test_bite_when_dunk_binds_then_partial_even_if_it_leaves_a_dusty_vault():
    # dunk 85 DAI at no penalty: dart = 85, dink = 40 x 85 / 100 = 34, leaving art 15 below
    # the dust of 20; cat.sol allows it ("This may leave the CDP in a dusty state"). The
    # Dog, with the same room, takes the whole vault instead.
    machine = cat(dunk=85 * RAD, chop=WAD)
    assert machine.bite(100 * WAD, 40 * WAD, RAY, SPOT) == (85 * WAD, 34 * WAD, 85 * RAD)
    dog = Dog(DogParams(Hole=1_000 * RAD, hole=85 * RAD, chop=WAD, dust=20 * RAD))
    assert dog.bark(100 * WAD, 40 * WAD, RAY, SPOT) == (100 * WAD, 40 * WAD, 100 * RAD)


def test_bite_when_dunk_with_penalty_and_rate_then_each_division_floored():
    # min(dunk 75, room) x WAD / rate 1.02 / chop 1.1 = 66.844919786096256684 (floored
    # twice), dink = 40 x dart / 100, tab = dart x rate x chop / WAD.
    rate = 102 * RAY // 100
    machine = cat(dunk=75 * RAD)
    dart, dink, tab = machine.bite(100 * WAD, 40 * WAD, rate, SPOT)
    assert dart == 75 * RAD * WAD // rate // (11 * WAD // 10) == 66_844_919_786_096_256_684
    assert dink == 40 * WAD * dart // (100 * WAD) == 26_737_967_914_438_502_673
    assert tab == dart * rate * (11 * WAD // 10) // WAD
    assert 75 * RAD - tab < RAD // 10**15  # the floors lose less than 1e-15 DAI


def test_bite_when_room_below_dust_then_limit_hit_though_litter_below_box():
    machine = cat(box=100 * RAD, chop=WAD)
    machine.litter = 85 * RAD  # room 15 < dust 20
    refused(machine, "Cat/liquidation-limit-hit",
            lambda: machine.bite(100 * WAD, 40 * WAD, RAY, SPOT))
    machine.litter = 80 * RAD  # room 20 == dust: bites 20
    assert machine.bite(100 * WAD, 40 * WAD, RAY, SPOT) == (20 * WAD, 8 * WAD, 20 * RAD)
    assert machine.litter == 100 * RAD
    refused(machine, "Cat/liquidation-limit-hit",
            lambda: machine.bite(80 * WAD, 32 * WAD, RAY, SPOT))


def test_bite_when_safe_or_null_then_refused_unchanged():
    machine = cat()
    refused(machine, "Cat/not-unsafe", lambda: machine.bite(80 * WAD, 40 * WAD, RAY, SPOT))
    tiny = cat(dunk=RAY)  # 1e-18 DAI per bite: dart = 1e27 x 1e18 / 1e27 / 1.1e18 = 0
    refused(tiny, "Cat/null-auction", lambda: tiny.bite(100 * WAD, 40 * WAD, RAY, SPOT))


def test_claw_releases_litter_and_refuses_more():
    machine = cat()
    machine.bite(100 * WAD, 40 * WAD, RAY, SPOT)
    machine.claw(10 * RAD)
    assert machine.litter == 100 * RAD
    refused(machine, "Cat/claw-exceeds-litter", lambda: machine.claw(100 * RAD + 1))


def test_params_refuse_a_zero_chop():
    with pytest.raises(AuctionError, match="chop must be positive"):
        cat(chop=0)


# --- dss's own bite tests (makerdao/dss@fa4f6630afb0624d04a003e920b0d71a00331d98
# src/test/vat.t.sol, contract BiteTest): box 10,000,000 DAI, chop 1 and dust 0 unless a
# test files others; the Flipper has flip.sol's defaults (beg 5%, ttl 3 h, tau 2 days).
# Each test draws a vault at spot 2.5 and then lowers spot to make it unsafe.

_BOX = 10_000_000 * RAD
_T0 = 604_411_200


def _dss_cat(dunk: int, *, box: int = _BOX, chop: int = WAD, dust: int = 0) -> Cat:
    return Cat(CatParams(box=box, dunk=dunk, chop=chop, dust=dust))


def _kick(machine: Cat, bite: tuple[int, int, int], now: int = _T0) -> Flipper:
    # cat.bite kicks the Flipper with usr = the vault, gal = vow, tab, lot = dink, bid 0.
    _, dink, tab = bite
    flip = Flipper(FLIP_CONTRACT_DEFAULTS)
    assert flip.kick("me", "vow", tab, dink, 0, now) == 1
    return flip


def _deal_and_claw(machine: Cat, flip: Flipper, now: int) -> int:
    # Flipper.deal calls cat.claw(tab); returns the winning lot.
    final = flip.deal(1, now)
    machine.claw(final.tab)
    return final.lot


def test_dss_bite_under_dunk_then_whole_vault():
    # test_bite_under_dunk: ink 40, art 100 at spot 2 (gold 4, mat 2); dunk 111, chop 1.1:
    # 111 / 1.1 = 100.9 > art, so the whole vault goes; Awe 100, lot 40, tab 110.
    machine = _dss_cat(111 * RAD, chop=11 * WAD // 10)
    assert machine.bite(100 * WAD, 40 * WAD, RAY, 2 * RAY) == (100 * WAD, 40 * WAD, 110 * RAD)


def test_dss_bite_over_dunk_then_partial():
    # test_bite_over_dunk: dunk 82.5, chop 1.1: dart = 82.5 / 1.1 = 75 (vow's Awe 75),
    # dink = 40 x 75 / 100 = 30; the vault keeps ink 10, art 25; tab 82.5.
    machine = _dss_cat(825 * RAD // 10, chop=11 * WAD // 10)
    dart, dink, tab = machine.bite(100 * WAD, 40 * WAD, RAY, 2 * RAY)
    assert (dart, dink, tab) == (75 * WAD, 30 * WAD, 825 * RAD // 10)
    assert (40 * WAD - dink, 100 * WAD - dart) == (10 * WAD, 25 * WAD)


def test_dss_happy_bite_then_tend_dent_deal_claws_the_litter():
    # test_happy_bite: dunk 200 (bite everything), chop 1.1: litter 0 -> 110. The bidder
    # tends 1 then 110 (the tab: 110 paid in all, its 200 DAI fall to 90), dents to 38 gems
    # (2 go back to the vault: 960 -> 962 gems), and after 4 hours (ttl 3 h) deal claws the
    # 110 back: litter 0; the vow received the 110.
    machine = _dss_cat(200 * RAD, chop=11 * WAD // 10)
    assert machine.litter == 0
    bite = machine.bite(100 * WAD, 40 * WAD, RAY, 2 * RAY)
    assert bite == (100 * WAD, 40 * WAD, 110 * RAD)
    assert machine.litter == 110 * RAD
    flip = _kick(machine, bite)
    flip.tend(1, 40 * WAD, RAD, "me", _T0)
    flip.tend(1, 40 * WAD, 110 * RAD, "me", _T0)
    assert flip.phase(1) == "dent"
    flip.dent(1, 38 * WAD, 110 * RAD, "me", _T0)
    assert 40 * WAD - flip.bids[1].lot == 2 * WAD  # returned to usr
    assert machine.litter == 110 * RAD  # until deal
    refused_deal = pytest.raises(AuctionError, match="Flipper/not-finished")
    with refused_deal:
        flip.deal(1, _T0 + 3 * 3600)  # the bid lives ttl = 3 h (tic = now + ttl, strict <)
    assert _deal_and_claw(machine, flip, _T0 + 4 * 3600) == 38 * WAD
    assert machine.litter == 0


def test_dss_partial_litterbox_then_room_bounds_the_bite():
    # test_partial_litterbox: ink 100, art 150 at spot 1; box 75, dunk 100, chop 1: the
    # room (75) binds: dart 75, dink 50; the vault keeps ink 50, art 75; litter = box.
    machine = _dss_cat(100 * RAD, box=75 * RAD)
    bite = machine.bite(150 * WAD, 100 * WAD, RAY, RAY)
    assert bite == (75 * WAD, 50 * WAD, 75 * RAD)
    assert machine.litter == 75 * RAD
    # testFail_fill_litterbox: another bite now finds litter == box.
    refused(machine, "Cat/liquidation-limit-hit",
            lambda: machine.bite(75 * WAD, 50 * WAD, RAY, RAY))
    flip = _kick(machine, bite)
    flip.tend(1, 50 * WAD, RAD, "me", _T0)
    flip.tend(1, 50 * WAD, 75 * RAD, "me", _T0)
    flip.dent(1, 25 * WAD, 75 * RAD, "me", _T0)  # 25 gems back: 900 -> 925
    assert machine.litter == 75 * RAD
    assert _deal_and_claw(machine, flip, _T0 + 4 * 3600) == 25 * WAD  # 925 -> 950 gems
    assert machine.litter == 0


def test_dss_partial_litterbox_multiple_bites_after_deal():
    # test_partial_litterbox_multiple_bites: once the first auction is dealt and clawed,
    # the second bite takes the rest of the vault (ink 50, art 75) and fills the box again.
    machine = _dss_cat(100 * RAD, box=75 * RAD)
    flip = _kick(machine, machine.bite(150 * WAD, 100 * WAD, RAY, RAY))
    flip.tend(1, 50 * WAD, 75 * RAD, "me", _T0)
    _deal_and_claw(machine, flip, _T0 + 4 * 3600)
    assert machine.litter == 0
    assert machine.bite(75 * WAD, 50 * WAD, RAY, RAY) == (75 * WAD, 50 * WAD, 75 * RAD)
    assert machine.litter == 75 * RAD


def test_dss_partial_litterbox_realistic_values_with_jug_rate():
    # test_partial_litterbox_realistic_values: chop 1.13, 8% a year (duty
    # 1000000002440418608258400030) dripped over 10 days; box 75, dunk 100. The rate is
    # jug.drip's rmul(rpow(duty, 864,000 s), RAY): 1.002110746169979877758354116.
    rate = rpow(1_000_000_002_440_418_608_258_400_030, 10 * 86_400)
    assert rate == 1_002_110_746_169_979_877_758_354_116
    chop = 113 * WAD // 100
    machine = _dss_cat(100 * RAD, box=75 * RAD, chop=chop)
    dart, dink, tab = machine.bite(150 * WAD, 100 * WAD, rate, RAY)
    assert dart == 75 * RAD * WAD // rate // chop  # room / rate / chop
    assert dink == 100 * WAD * dart // (150 * WAD)
    assert machine.litter == tab == dart * rate * chop // WAD  # tab = 74.9999... DAI
    assert 0 < 75 * RAD - machine.litter < RAY  # "Rounding error to fill box"
    # 75 / 1.00211... / 1.13 = 66.231882723140777706 debt for 44.154588482093851804 gems;
    # tab 74.999999999999999999030386717... DAI.
    assert (dart, dink) == (66_231_882_723_140_777_706, 44_154_588_482_093_851_804)
    assert tab == 74_999_999_999_999_999_999_030_386_717_370_850_902_548_335_822


def test_dss_dusty_litterbox_then_limit_hit():
    # testFail_dusty_litterbox: box 100, dust 20; a vault of ink 50, art 80 + 1 wei goes
    # whole (litter 80 DAI + 1e-18); the room left, 20 DAI - 1e-18, is below the dust.
    machine = _dss_cat(100 * RAD, box=100 * RAD, dust=20 * RAD)
    assert machine.bite(80 * WAD + 1, 50 * WAD, RAY, RAY) == (80 * WAD + 1, 50 * WAD,
                                                             80 * RAD + RAY)
    assert machine.params.box - machine.litter < 20 * RAD
    refused(machine, "Cat/liquidation-limit-hit",
            lambda: machine.bite(150 * WAD, 100 * WAD, RAY, RAY))


def test_dss_null_auction_dart_realistic_values_then_room_dust_check_refuses():
    # testFail_null_auctions_dart_realistic_values: dust 100, rate 1.25 (fold 0.25), a
    # vault of ink 800, art 2,000 at spot 1; box 1,130 DAI + 1 rad, dunk 1,130, chop 1.13:
    # the first bite takes dart 800 for exactly 1,130 DAI; the room left is 1 rad, which
    # the room-below-dust check refuses (room x WAD / rate / chop would be 0).
    rate, chop = 125 * RAY // 100, 113 * WAD // 100
    machine = _dss_cat(1_130 * RAD, box=1_130 * RAD + 1, chop=chop, dust=100 * RAD)
    assert machine.bite(2_000 * WAD, 800 * WAD, rate, RAY) == (800 * WAD, 320 * WAD,
                                                              1_130 * RAD)
    assert machine.params.box - machine.litter == 1
    assert 1 * WAD // rate // chop == 0
    refused(machine, "Cat/liquidation-limit-hit",
            lambda: machine.bite(1_200 * WAD, 480 * WAD, rate, RAY))


def test_dss_null_auction_dart_artificial_values_then_null_auction():
    # testFail_null_auctions_dart_artificial_values: the test files dust on an ilk named
    # "dust", so gold's dust stays 0. Ink 100, art 200; box 113 DAI + 2 rad, dunk 113,
    # chop 1.13: the first bite takes dart 100 for 113 DAI; the 2 rad of room pass the
    # dust check (2 >= 0) but buy dart 0: Cat/null-auction.
    chop = 113 * WAD // 100
    machine = _dss_cat(113 * RAD, box=113 * RAD + 2, chop=chop)
    assert machine.bite(200 * WAD, 100 * WAD, RAY, RAY) == (100 * WAD, 50 * WAD, 113 * RAD)
    assert machine.params.box - machine.litter == 2
    refused(machine, "Cat/null-auction", lambda: machine.bite(100 * WAD, 50 * WAD, RAY, RAY))


def test_dss_null_auction_dink_artificial_values_then_null_auction():
    # testFail_null_auctions_dink_artificial_values: 1 wei of ink against 100 DAI, spot
    # crashed to 1 (1e-27): dunk 50 gives dart 50 but dink = 1 x 50 / 100 = 0.
    machine = _dss_cat(50 * RAD)
    refused(machine, "Cat/null-auction", lambda: machine.bite(100 * WAD, 1, RAY, 1))
    # ..._2: ink 10, art 15,000 at spot 1,000; a misfiled dunk of rad(100) = 1e-16 DAI
    # gives dart 100 (wei) and dink = 10e18 x 100 / 15,000e18 = 0.
    machine = _dss_cat(100 * RAY, box=1_000_000 * RAD)
    refused(machine, "Cat/null-auction",
            lambda: machine.bite(15_000 * WAD, 10 * WAD, RAY, 1_000 * RAY))


def test_dss_null_spot_and_safe_vault_then_not_unsafe():
    # testFail_null_spot_value: after a first bite (dunk 75: dart 75, dink 50), spot 0
    # refuses the next; testFail_vault_is_safe: ink 100 x spot 2.5 covers art 150.
    machine = _dss_cat(75 * RAD)
    assert machine.bite(150 * WAD, 100 * WAD, RAY, RAY) == (75 * WAD, 50 * WAD, 75 * RAD)
    refused(machine, "Cat/not-unsafe", lambda: machine.bite(75 * WAD, 50 * WAD, RAY, 0))
    safe = _dss_cat(75 * RAD)
    refused(safe, "Cat/not-unsafe",
            lambda: safe.bite(150 * WAD, 100 * WAD, RAY, 25 * RAY // 10))
