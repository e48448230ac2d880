"""Dutch auctions (MakerDAO Liquidations 2.0: dog.sol, clip.sol): worked numbers by hand.

The running example is ETH-A-like (its 2021 Liquidations 2.0 parameters, docs/auctions.md):
buf 1.30, tail 140 min, cusp 0.40, chip 0.1%, tip 300 DAI, a 1% price cut every 90 s;
chop 13%, dust 15,000 DAI, so chost = 15,000 x 1.13 = 16,950 DAI.
"""

import copy
import dataclasses
from fractions import Fraction
from math import floor
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marginengine.fixedpoint import Rounding
from marginengine.liquidation.abaci import LinearDecrease, StairstepExponentialDecrease
from marginengine.liquidation.base import LiquidationRefused
from marginengine.liquidation.dutch_auction import (
    RAD,
    AuctionError,
    Clipper,
    ClipperParams,
    Dog,
    DogParams,
    chost_of,
    feed_price,
    rad_to_wad,
    units_to_ray,
    wad_to_rad,
)

WAD = 10**18
RAY = 10**27
ETH = WAD
T0 = 1_600_000_000  # kick time

CALC = StairstepExponentialDecrease(step=90, cut=99 * RAY // 100)
PARAMS = ClipperParams(buf=130 * RAY // 100, tail=140 * 60, cusp=40 * RAY // 100,
                       chip=WAD // 1000, tip=300 * RAD, calc=CALC)
DOG = DogParams(Hole=100_000_000 * RAD, hole=40_000_000 * RAD, chop=113 * WAD // 100,
                dust=15_000 * RAD)
CHOST = 16_950 * RAD
TAB = 56_500 * RAD  # a 50,000 DAI debt x 1.13
# 10 steps after the kick at 2,000 DAI: 2,600 x 0.99^10 = 2,351.393395022891674026 (exact:
# 99^10 = 90438207500880449001 has 20 digits, every rpow product fits a ray).
P10 = 2_351_393_395_022_891_674_026 * 10**9


def clipper(**changes: Any) -> Clipper:
    params = ClipperParams(**{**PARAMS.__dict__, **changes})
    return Clipper(params, DOG.dust, chop=DOG.chop)


def kicked(tab: int = TAB, lot: int = 40 * ETH, **changes: Any) -> Clipper:
    clip = clipper(**changes)
    clip.kick(tab, lot, "vault", "keeper", 2_000 * RAY, T0)
    return clip


def state(clip: Clipper) -> tuple[Any, ...]:
    return copy.deepcopy(clip.active), clip.kicks, clip.ids(), clip.chost


def refused(clip: Clipper, code: str, call: Any) -> AuctionError:
    before = state(clip)
    with pytest.raises(AuctionError) as info:
        call()
    assert info.value.code == code
    assert state(clip) == before  # a refused call changes nothing
    return info.value


# --- Units ------------------------------------------------------------------------------


def test_unit_conversions():
    assert wad_to_rad(3 * WAD) == 3 * RAD
    assert rad_to_wad(RAD + 1) == WAD  # down by default
    assert rad_to_wad(RAD + 1, rounding=Rounding.UP) == WAD + 1
    assert units_to_ray(2_000 * 10**8) == 2_000 * RAY  # 8-decimal oracle price
    assert feed_price(2_000 * WAD) == 2_000 * RAY  # OSM val (wad) over par = 1
    assert feed_price(2_000 * WAD, par=101 * RAY // 100) == floor(Fraction(2_000 * RAY, 101) * 100)
    assert chost_of(15_000 * RAD, 113 * WAD // 100) == CHOST


def test_auction_error_is_a_value_error_and_a_liquidation_refusal():
    error = AuctionError("Clipper/too-expensive", "price 2 above 1")
    assert isinstance(error, ValueError)
    assert isinstance(error, LiquidationRefused)
    assert error.reason == "Clipper/too-expensive: price 2 above 1"


# --- Clipper: kick ----------------------------------------------------------------------


def test_kick_top_is_feed_price_times_buf_and_coin_is_tip_plus_chip():
    clip = clipper()
    result = clip.kick(TAB, 40 * ETH, "vault", "keeper", 2_000 * RAY, T0)
    assert result.id == 1
    assert result.top == 2_600 * RAY  # 2,000 x 1.30
    # coin = tip + tab x chip = 300 + 56,500 x 0.001 = 356.5 DAI
    assert result.coin == 356_500 * RAD // 1000
    sale = clip.active[1]
    assert (sale.tab, sale.lot, sale.usr, sale.tic, sale.top) == (
        TAB, 40 * ETH, "vault", T0, 2_600 * RAY
    )
    assert clip.kicks == 1 and clip.ids() == [1] and clip.count() == 1


def test_kick_top_floors_rmul():
    clip = clipper()
    price = 1_999_999_999_999_999_999_999_999_999_999  # 1,999.999... ray
    top = clip.kick(TAB, ETH, "vault", "keeper", price, T0).top
    assert top == floor(Fraction(price * 13, 10))


def test_kick_without_incentives_pays_no_coin():
    clip = clipper(tip=0, chip=0)
    assert clip.kick(TAB, ETH, "vault", "keeper", 2_000 * RAY, T0).coin == 0


def test_kick_refusals_change_nothing():
    clip = clipper()
    refused(clip, "Clipper/zero-tab", lambda: clip.kick(0, ETH, "v", "k", RAY, T0))
    refused(clip, "Clipper/zero-lot", lambda: clip.kick(TAB, 0, "v", "k", RAY, T0))
    refused(clip, "Clipper/zero-usr", lambda: clip.kick(TAB, ETH, "", "k", RAY, T0))
    refused(clip, "Clipper/zero-top-price", lambda: clip.kick(TAB, ETH, "v", "k", 0, T0))
    refused(clip, "Clipper/invalid-input", lambda: clip.kick(-1, ETH, "v", "k", RAY, T0))
    clip.stopped = 1
    refused(clip, "Clipper/stopped-incorrect", lambda: clip.kick(TAB, ETH, "v", "k", RAY, T0))


# --- Clipper: take ----------------------------------------------------------------------


def test_take_partial_then_full_with_exact_owe_and_slice():
    clip = kicked()
    now = T0 + 900  # 10 steps: price P10
    assert clip.status(1, now) == (False, P10, 40 * ETH, TAB)

    # Partial: 10 ETH x 2,351.393395022891674026 = 23,513.93395022891674026 DAI. The tab
    # left, 32,986.06604977108325974 DAI, is above chost (16,950): no dust adjustment.
    first = clip.take(1, 10 * ETH, 2_400 * RAY, "buyer", now)
    assert first.slice == 10 * ETH
    assert first.owe == 10 * ETH * P10 == 2_351_393_395_022_891_674_026 * RAD // 10**17
    assert first.tab_left == 3_298_606_604_977_108_325_974 * RAD // 10**17
    assert (first.lot_left, first.done, first.leftover_lot) == (30 * ETH, False, 0)
    assert first.digs == first.owe
    assert (clip.active[1].tab, clip.active[1].lot) == (first.tab_left, 30 * ETH)

    # Full: 30 ETH would cost 70,541.8 DAI > tab, so owe = tab and slice = tab / price,
    # floored: 32,986.066... / 2,351.393... = 14.028305990648558342 ETH. The other
    # 15.971694009351441658 ETH go back to the vault.
    second = clip.take(1, 30 * ETH, 2_400 * RAY, "buyer", now)
    assert second.owe == first.tab_left
    assert second.slice == floor(Fraction(first.tab_left, P10)) == 14_028_305_990_648_558_342
    assert second.leftover_lot == 30 * ETH - second.slice == 15_971_694_009_351_441_658
    assert (second.tab_left, second.done, second.digs) == (0, True, second.owe)
    assert clip.active == {} and clip.ids() == []


def test_take_when_lot_runs_out_before_tab_then_done_and_whole_tab_released():
    clip = kicked(lot=20 * ETH)
    # 20 ETH x 2,351.39... = 47,027.87 DAI < 56,500: the buyer takes the whole lot (no dust
    # rule when slice == lot); 9,472.13 DAI is never raised; digs releases all 56,500.
    result = clip.take(1, 25 * ETH, 2_400 * RAY, "buyer", T0 + 900)
    assert result.slice == 20 * ETH
    assert result.owe == 20 * ETH * P10
    assert result.tab_left == TAB - 20 * ETH * P10
    assert (result.lot_left, result.leftover_lot, result.done) == (0, 0, True)
    assert result.digs == TAB


def test_take_that_would_leave_less_than_chost_is_cut_to_leave_chost():
    clip = kicked()
    # 17 ETH would cost 39,973.69 DAI and leave 16,526.31 < chost 16,950: Maker cuts the
    # purchase to owe = tab - chost = 39,550 DAI, slice = 39,550 / price (floored).
    result = clip.take(1, 17 * ETH, 2_400 * RAY, "buyer", T0 + 900)
    assert result.owe == 39_550 * RAD
    assert result.slice == floor(Fraction(39_550 * RAD, P10)) == 16_819_814_193_453_990_839
    assert result.tab_left == CHOST
    assert not result.done


def test_take_when_tab_at_or_below_chost_then_only_the_whole_lot():
    clip = kicked()
    clip.take(1, 17 * ETH, 2_400 * RAY, "buyer", T0 + 900)  # leaves tab == chost
    error = refused(clip, "Clipper/no-partial-purchase",
                    lambda: clip.take(1, ETH, 2_400 * RAY, "buyer", T0 + 900))
    assert "16,950 DAI" in str(error)
    # The whole lot (23.18 ETH) is worth more than 16,950 DAI: owe = tab, rest to the vault.
    lot = clip.active[1].lot
    result = clip.take(1, lot, 2_400 * RAY, "buyer", T0 + 900)
    assert result.owe == CHOST and result.done
    assert result.slice == floor(Fraction(CHOST, P10))
    assert result.leftover_lot == lot - result.slice


def test_small_auction_below_chost_refuses_partial_purchases():
    clip = kicked(tab=10_000 * RAD, lot=10 * ETH)
    refused(clip, "Clipper/no-partial-purchase",
            lambda: clip.take(1, ETH, 2_400 * RAY, "buyer", T0 + 900))
    refused(clip, "Clipper/no-partial-purchase",
            lambda: clip.take(1, 0, 2_400 * RAY, "buyer", T0 + 900))
    assert clip.take(1, 10 * ETH, 2_400 * RAY, "buyer", T0 + 900).done


def test_take_of_nothing_is_a_no_op():
    clip = kicked()
    before = state(clip)
    result = clip.take(1, 0, 2_400 * RAY, "buyer", T0 + 900)
    assert (result.slice, result.owe, result.done, result.digs) == (0, 0, False, 0)
    assert state(clip) == before


def test_take_refusals_change_nothing():
    clip = kicked()
    refused(clip, "Clipper/not-running-auction",
            lambda: clip.take(7, ETH, 10**40, "buyer", T0))
    error = refused(clip, "Clipper/too-expensive",
                    lambda: clip.take(1, ETH, 2_351 * RAY, "buyer", T0 + 900))
    assert "2,351.393395022891674026" in str(error)
    refused(clip, "Clipper/needs-reset",
            lambda: clip.take(1, ETH, 10**40, "buyer", T0 + 140 * 60 + 1))
    refused(clip, "Clipper/time-before-kick", lambda: clip.take(1, ETH, 10**40, "b", T0 - 1))
    clip.stopped = 3
    refused(clip, "Clipper/stopped-incorrect", lambda: clip.take(1, ETH, 10**40, "b", T0))


# --- Clipper: status and redo -----------------------------------------------------------


def test_status_needs_redo_after_tail():
    clip = kicked(cusp=0, tail=600, calc=LinearDecrease(tau=3600))
    # Linear: factor floor(3,000 / 3,600 in ray) = 0.833...3 (27 threes), times 2,600.
    assert clip.status(1, T0 + 600) == (False, 2_600 * (3_000 * RAY // 3_600), 40 * ETH, TAB)
    assert clip.status(1, T0 + 601)[0]  # more than tail seconds


def test_status_needs_redo_below_cusp():
    clip = kicked()
    # 0.99^91 = 0.4007 of top: still running; 0.99^92 = 0.3967 < cusp 0.40: reset needed,
    # at 8,280 s, before the 8,400 s tail.
    assert not clip.status(1, T0 + 91 * 90)[0]
    needs, price, _, _ = clip.status(1, T0 + 92 * 90)
    assert needs
    assert floor(Fraction(price * RAY, 2_600 * RAY)) < 40 * RAY // 100


def test_redo_refused_while_running():
    clip = kicked()
    refused(clip, "Clipper/cannot-reset", lambda: clip.redo(1, "k2", 1_500 * RAY, T0 + 900))
    refused(clip, "Clipper/not-running-auction", lambda: clip.redo(2, "k2", RAY, T0))


def test_redo_resets_tic_and_top_and_pays_incentive():
    clip = kicked()
    now = T0 + 92 * 90
    result = clip.redo(1, "keeper2", 1_500 * RAY, now)
    assert result.top == 1_950 * RAY  # 1,500 x 1.30
    assert result.coin == 356_500 * RAD // 1000  # 300 + 56,500 x 0.001, tab >= chost
    assert (clip.active[1].tic, clip.active[1].top) == (now, 1_950 * RAY)
    assert clip.status(1, now) == (False, 1_950 * RAY, 40 * ETH, TAB)
    assert clip.take(1, ETH, 1_950 * RAY, "buyer", now).owe == 1_950 * RAD


def test_redo_pays_nothing_below_chost():
    small = kicked(tab=10_000 * RAD, lot=10 * ETH)  # tab < chost
    assert small.redo(1, "k", 1_500 * RAY, T0 + 92 * 90).coin == 0
    thin = kicked(lot=ETH)  # tab >= chost, but lot x price = 1 x 10,000 < 16,950
    assert thin.redo(1, "k", 10_000 * RAY, T0 + 92 * 90).coin == 0
    assert thin.redo(1, "k", 16_950 * RAY, T0 + 2 * 92 * 90).coin > 0  # exactly chost


def test_redo_refused_when_breaker_at_two():
    clip = kicked()
    clip.stopped = 2
    refused(clip, "Clipper/stopped-incorrect", lambda: clip.redo(1, "k", RAY, T0 + 9_000))


def test_removal_swaps_last_id_into_place_as_maker():
    clip = clipper()
    for _ in range(3):
        clip.kick(TAB, 40 * ETH, "vault", "keeper", 2_000 * RAY, T0)
    clip.take(1, 40 * ETH, 10**40, "buyer", T0)  # auction 1 done
    assert clip.ids() == [3, 2]
    assert (clip.active[3].pos, clip.active[2].pos) == (0, 1)
    assert clip.yank(2).tab == TAB
    assert clip.ids() == [3]


# --- Dog --------------------------------------------------------------------------------

RATE = 105 * RAY // 100  # debt index 1.05


def dog(hole: int = 40_000 * RAD) -> Dog:
    return Dog(DogParams(Hole=100_000_000 * RAD, hole=hole, chop=113 * WAD // 100,
                         dust=15_000 * RAD))


def test_bark_whole_vault_when_room():
    d = dog(hole=40_000_000 * RAD)
    dart, dink, tab = d.bark(50_000 * WAD, 40 * ETH, RATE)
    assert (dart, dink) == (50_000 * WAD, 40 * ETH)
    assert tab == 59_325 * RAD  # 50,000 x 1.05 x 1.13
    assert d.Dirt == d.dirt == tab


def test_bark_partial_when_room_below_tab():
    d = dog()
    # room 40,000 DAI: dart = 40,000 / 1.05 / 1.13 (each division floored) = 33,712.6 debt;
    # the 16,287.4 x 1.05 = 17,101.8 DAI left is above dust: a partial liquidation.
    dart, dink, tab = d.bark(50_000 * WAD, 40 * ETH, RATE)
    assert dart == 40_000 * RAD * WAD // RATE // (113 * WAD // 100)
    assert dart == 33_712_600_084_281_500_210_703
    assert dink == 40 * ETH * dart // (50_000 * WAD)  # pro rata, floored
    assert tab == dart * RATE * 113 // 100 <= 40_000 * RAD
    assert d.Dirt == tab
    assert d.room() == 40_000 * RAD - tab  # a crumb: 0.0000000000000000008905 DAI


def test_bark_partial_when_global_hole_is_the_binding_limit():
    d = Dog(DogParams(Hole=40_000 * RAD, hole=100_000_000 * RAD, chop=113 * WAD // 100,
                      dust=15_000 * RAD))
    dart, _, tab = d.bark(50_000 * WAD, 40 * ETH, RATE)
    assert dart == 33_712_600_084_281_500_210_703  # the same room, now from Hole
    assert d.Dirt == d.dirt == tab <= 40_000 * RAD


def test_bark_refused_when_room_below_dust_and_state_unchanged():
    d = dog()
    d.bark(50_000 * WAD, 40 * ETH, RATE)  # fills the hole but for a crumb
    with pytest.raises(AuctionError) as info:
        d.bark(50_000 * WAD, 40 * ETH, RATE)
    assert info.value.code == "Dog/dusty-auction-from-partial-liquidation"
    d2 = dog()
    d2.bark(25_000 * WAD, 20 * ETH, RATE)  # 29,662.5 DAI: room 10,337.5 < dust 15,000
    before = (d2.Dirt, d2.dirt)
    with pytest.raises(AuctionError, match="below the dust of 15,000 DAI"):
        d2.bark(50_000 * WAD, 40 * ETH, RATE)
    assert (d2.Dirt, d2.dirt) == before


def test_bark_takes_whole_vault_when_remainder_would_be_dust_and_limit_then_hit():
    d = dog()
    # 40,000 debt at 1.05: the room allows 33,712.6, leaving 6,287.4 x 1.05 = 6,601.8 DAI
    # < dust: the whole vault goes, tab = 40,000 x 1.05 x 1.13 = 47,460 > hole (overshoot
    # 7,460 DAI, less than dust x chop = 16,950, as dog.sol's comment bounds it).
    dart, dink, tab = d.bark(40_000 * WAD, 40 * ETH, RATE)
    assert (dart, dink, tab) == (40_000 * WAD, 40 * ETH, 47_460 * RAD)
    assert d.Dirt - 40_000 * RAD == 7_460 * RAD < chost_of(15_000 * RAD, 113 * WAD // 100)
    assert d.room() == 0
    with pytest.raises(AuctionError, match="Dog/liquidation-limit-hit"):
        d.bark(10_000 * WAD, 10 * ETH, RATE)


def test_bark_checks_unsafe_when_spot_given():
    d = dog()
    # ink x spot = 40 x 1,400 = 56,000 >= debt 50,000 x 1.05 = 52,500: safe.
    with pytest.raises(AuctionError, match="Dog/not-unsafe"):
        d.bark(50_000 * WAD, 40 * ETH, RATE, spot=1_400 * RAY)
    assert d.bark(50_000 * WAD, 40 * ETH, RATE, spot=1_300 * RAY)[2] > 0


def test_bark_null_auction_when_no_collateral_comes_out():
    d = dog()
    with pytest.raises(AuctionError, match="Dog/null-auction"):
        d.bark(50_000 * WAD, 1, RATE)
    assert d.Dirt == 0


def test_digs_releases_dirt_and_refuses_more_than_dirt():
    d = dog()
    _, _, tab = d.bark(50_000 * WAD, 40 * ETH, RATE)
    d.digs(tab // 2)
    assert d.Dirt == d.dirt == tab - tab // 2
    with pytest.raises(AuctionError, match="Dog/digs-exceeds-dirt"):
        d.digs(tab)
    assert d.Dirt == tab - tab // 2


def test_dog_params_refuse_chop_below_one():
    with pytest.raises(AuctionError, match="Dog/file-chop-lt-WAD"):
        DogParams(Hole=RAD, hole=RAD, chop=WAD - 1, dust=0)


def test_dog_and_clipper_end_to_end_release_the_whole_tab():
    d = dog(hole=40_000_000 * RAD)
    clip = Clipper.from_dog(PARAMS, d)
    assert clip.chost == CHOST
    _, dink, tab = d.bark(50_000 * WAD, 40 * ETH, RATE)
    clip.kick(tab, dink, "vault", "keeper", 2_000 * RAY, T0)
    for amt in (5 * ETH, 7 * ETH, 40 * ETH):
        d.digs(clip.take(1, amt, 10**40, "buyer", T0 + 900).digs)
    assert clip.active == {} and d.Dirt == 0


# --- Properties -------------------------------------------------------------------------

takes = st.lists(
    st.tuples(st.integers(0, 3_000), st.integers(0, 60 * ETH), st.booleans()),
    min_size=1, max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(
    tab=st.integers(1, 200_000 * RAD),
    lot=st.integers(1, 50 * ETH),
    price=st.integers(1, 5_000 * RAY),
    steps=takes,
)
def test_take_never_sells_more_than_lot_nor_raises_more_than_tab(
    tab: int, lot: int, price: int, steps: list[tuple[int, int, bool]]
):
    d = dog(hole=10**9 * RAD)
    d.Dirt = d.dirt = tab  # as if barked
    clip = Clipper.from_dog(PARAMS, d)
    clip.kick(tab, lot, "vault", "keeper", price, T0)
    now, sold, raised, released = T0, 0, 0, 0
    for dt, amt, reset in steps:
        now += dt
        if 1 not in clip.active:
            break
        sale = clip.active[1]
        before_tab, before_lot, before = sale.tab, sale.lot, state(clip)
        if clip.status(1, now)[0]:
            if reset:
                clip.redo(1, "keeper", price, now)
            continue
        try:
            result = clip.take(1, amt, 10**60, "buyer", now)
        except AuctionError as error:
            assert error.code == "Clipper/no-partial-purchase"
            assert before_tab <= clip.chost and state(clip) == before
            continue
        assert result.slice <= before_lot and result.owe <= before_tab
        assert result.owe + result.tab_left == before_tab
        assert result.slice + result.lot_left == before_lot
        if not result.done and result.owe > 0:
            assert result.tab_left >= clip.chost
        sold, raised = sold + result.slice, raised + result.owe
        released += result.digs
        d.digs(result.digs)
        if result.done:
            assert released == tab  # the whole tab leaves the Dog's limits
    assert sold <= lot and raised <= tab


@settings(max_examples=150, deadline=None)
@given(
    hole=st.integers(1, 2_000_000 * RAD),
    vaults=st.lists(
        st.tuples(st.integers(1, 300_000 * WAD), st.integers(1, 200 * ETH),
                  st.integers(RAY, 2 * RAY), st.integers(0, 3)),
        min_size=1, max_size=15,
    ),
)
def test_dirt_never_exceeds_hole_but_by_the_dusty_remainder(
    hole: int, vaults: list[tuple[int, int, int, int]]
):
    params = DogParams(Hole=hole, hole=hole + RAD, chop=113 * WAD // 100, dust=15_000 * RAD)
    d = Dog(params)
    bound = chost_of(params.dust, params.chop)
    overshot = False
    tabs: list[int] = []
    for art, ink, rate, settle in vaults:
        room = min(params.Hole - d.Dirt, params.hole - d.dirt)
        before = (d.Dirt, d.dirt)
        try:
            dart, _, tab = d.bark(art, ink, rate)
        except AuctionError:
            assert (d.Dirt, d.dirt) == before
        else:
            assert tab > 0 and dart <= art
            if dart == art and art > room * WAD // rate // params.chop:
                overshot = True  # the whole vault went to avoid leaving dust
            tabs.append(tab)
        assert d.Dirt <= params.Hole + bound
        if not overshot:
            assert d.Dirt <= params.Hole
        if settle and tabs:
            d.digs(tabs.pop(0))
            overshot = overshot and d.Dirt > params.Hole


# --- dss's own test vectors -------------------------------------------------------------
# makerdao/dss@fa4f6630afb0624d04a003e920b0d71a00331d98 src/test/clip.t.sol: a vault of
# ink 40, art 100 at rate 1, gold at 4 DAI with mat 2 (spot 2): unsafe; dust 20 DAI,
# chop 1.1, hole = Hole = 1,000 DAI. takeSetup: buf 1.25, a 1% cut every second, cusp 0.3,
# tail 3,600 s; bark kicks tab 110 DAI, lot 40, top 5.
DSS_DOG = DogParams(Hole=1_000 * RAD, hole=1_000 * RAD, chop=11 * WAD // 10, dust=20 * RAD)
DSS_CALC = StairstepExponentialDecrease(step=1, cut=RAY - RAY // 100)
DSS_CLIP = ClipperParams(buf=125 * RAY // 100, tail=3_600, cusp=3 * RAY // 10, chip=0,
                         tip=0, calc=DSS_CALC)
DSS_SPOT = 2 * RAY


def dss_take_setup(**changes: Any) -> tuple[Dog, Clipper]:
    dog = Dog(DSS_DOG)
    clip = Clipper.from_dog(ClipperParams(**{**DSS_CLIP.__dict__, **changes}), dog)
    dart, dink, tab = dog.bark(100 * WAD, 40 * WAD, RAY, DSS_SPOT)
    assert (dart, dink, tab) == (100 * WAD, 40 * WAD, 110 * RAD)
    kick = clip.kick(tab, dink, "me", "keeper", 4 * RAY, T0)
    assert (kick.top, clip.chost) == (5 * RAY, 22 * RAD)
    return dog, clip


@pytest.mark.parametrize(("amt", "bought", "paid", "returned"), [
    (25 * WAD, 22 * WAD, 110 * RAD, 18 * WAD),  # test_take_over_tab: owe 125 > tab 110
    (22 * WAD, 22 * WAD, 110 * RAD, 18 * WAD),  # test_take_at_tab
])
def test_dss_take_when_at_or_over_tab_then_tab_paid_rest_returned_dirt_cleared(
        amt: int, bought: int, paid: int, returned: int) -> None:
    dog, clip = dss_take_setup()
    result = clip.take(1, amt, 5 * RAY, "ali", T0)
    assert (result.slice, result.owe, result.leftover_lot) == (bought, paid, returned)
    assert result.done and clip.count() == 0
    dog.digs(result.digs)
    assert dog.Dirt == dog.dirt == 0


def test_dss_take_under_tab_then_auction_runs_on():
    dog, clip = dss_take_setup()
    result = clip.take(1, 11 * WAD, 5 * RAY, "ali", T0)  # test_take_under_tab
    assert (result.owe, result.tab_left, result.lot_left) == (55 * RAD, 55 * RAD, 29 * WAD)
    dog.digs(result.digs)
    assert dog.Dirt == dog.dirt == 55 * RAD


def test_dss_take_when_full_lot_below_tab_then_all_dirt_released():
    # test_take_full_lot_partial_tab: 69 s later the price is ~2.5; 40 gold raise ~100 DAI.
    dog, clip = dss_take_setup()
    result = clip.take(1, 40 * WAD, 25 * RAY // 10, "ali", T0 + 69)
    assert result.slice == 40 * WAD and result.done and result.leftover_lot == 0
    assert abs(result.owe - 100 * RAD) < RAD // 10
    dog.digs(result.digs)
    assert dog.Dirt == 0


def test_dss_take_when_it_would_leave_less_than_chost_then_cut_to_chost():
    # test_take_bid_recalculates_due_to_chost_check: 18 gold cost 90, leaving 20 < 22.
    _, clip = dss_take_setup()
    result = clip.take(1, 18 * WAD, 5 * RAY, "ali", T0)
    assert result.tab_left == clip.chost == 22 * RAD
    assert result.lot_left == 40 * WAD - (110 * RAD - 22 * RAD) // (5 * RAY)


def test_dss_take_when_whole_lot_then_no_chost_cut():
    # test_take_bid_avoids_recalculate_due_no_more_lot: at 60 s the price is
    # 2.735783211953807380973706855; the whole lot (109.43 DAI) ends the auction.
    _, clip = dss_take_setup()
    assert clip.status(1, T0 + 60)[1] == 2_735_783_211_953_807_380_973_706_855
    result = clip.take(1, 40 * WAD, 28 * RAY // 10, "ali", T0 + 60)
    assert (result.lot_left, result.done) == (0, True)


def test_dss_take_when_tab_not_above_chost_then_only_whole_purchases():
    # test_take_bid_fails_no_partial_allowed: 17.6 gold leave tab 22 = chost, lot 22.4.
    _, clip = dss_take_setup()
    first = clip.take(1, 176 * WAD // 10, 5 * RAY, "me", T0)
    assert (first.tab_left, first.lot_left) == (22 * RAD, 224 * WAD // 10)
    refused(clip, "Clipper/no-partial-purchase",
            lambda: clip.take(1, WAD, 5 * RAY, "me", T0))
    assert clip.take(1, 22 * RAD // (5 * RAY), 5 * RAY, "me", T0).done


def test_dss_take_multiple_bids_at_different_prices():
    # test_take_multiple_bids_different_prices: 10 gold at 5, then the rest 30 s later at
    # 5 x 0.99^30; bob gets 60 DAI / price, the vault the rest.
    _, clip = dss_take_setup()
    first = clip.take(1, 10 * WAD, 5 * RAY, "ali", T0)
    assert (first.owe, first.tab_left, first.lot_left) == (50 * RAD, 60 * RAD, 30 * WAD)
    _, price, lot, _ = clip.status(1, T0 + 30)
    second = clip.take(1, lot, price, "bob", T0 + 30)
    assert second.slice == RAY * 60 * WAD // price
    assert second.owe == 60 * RAD
    assert second.leftover_lot == 30 * WAD - second.slice


@pytest.mark.parametrize(("tau", "last_running"), [(36_000, 3_600), (3_600, 1_800)])
def test_dss_redo_after_tail_or_below_cusp_then_new_top_from_fresh_price(
        tau: int, last_running: int) -> None:
    # test_auction_reset_tail (10 h linear, tail 3,600 s) and test_auction_reset_cusp (1 h
    # linear, cusp 0.5: below it after 1,801 s); the reset reads the new feed price 3.
    _, clip = dss_take_setup(calc=LinearDecrease(tau), cusp=RAY // 2)
    assert not clip.status(1, T0 + last_running)[0]
    refused(clip, "Clipper/cannot-reset",
            lambda: clip.redo(1, "keeper", 3 * RAY, T0 + last_running))
    assert clip.status(1, T0 + last_running + 1)[0]
    redo = clip.redo(1, "keeper", 3 * RAY, T0 + last_running + 1)
    assert redo.top == 375 * RAY // 100
    assert clip.active[1].tic == T0 + last_running + 1
    refused(clip, "Clipper/cannot-reset",
            lambda: clip.redo(1, "keeper", 3 * RAY, T0 + last_running + 1))


def test_dss_redo_incentive_when_tip_chip_and_dusty_tab_or_lot():
    # test_redo_incentive, each reset 300 s after the last (0.99^300 of top is below cusp).
    _, clip = dss_take_setup(tip=100 * RAD)
    now = T0 + 300
    assert clip.redo(1, "k123", 4 * RAY, now).coin == 100 * RAD
    clip.params = ClipperParams(**{**clip.params.__dict__, "chip": 2 * WAD // 100})
    now += 300
    assert clip.redo(1, "k234", 4 * RAY, now).coin == 100 * RAD + 2 * 110 * RAD // 100
    clip.params = ClipperParams(**{**clip.params.__dict__, "tip": 0})
    now += 300
    assert clip.redo(1, "k345", 4 * RAY, now).coin == 2 * 110 * RAD // 100
    clip.upchost(100 * RAD + 1, DSS_DOG.chop)  # chost = 110 DAI + 1: above the tab
    assert clip.chost == 110 * RAD + 1
    now += 300
    assert clip.redo(1, "k456", 4 * RAY, now).coin == 0
    clip.upchost(20 * RAD, DSS_DOG.chop)
    now += 100
    price = clip.status(1, now)[1]
    assert price == 1_830_161_706_366_147_524_653_080_130
    taken = clip.take(1, 38 * WAD, 5 * RAY, "me", now)
    assert taken.tab_left == 110 * RAD - 38 * WAD * price
    assert taken.lot_left == 2 * WAD  # 2 x 4 DAI < chost: a dusty lot
    now += 300
    assert clip.redo(1, "k567", 4 * RAY, now).coin == 0


@pytest.mark.parametrize(("hole", "chop", "dart", "dink", "tab"), [
    # test_bark_not_leaving_dust: room 80 leaves exactly dust (20): partial.
    (80 * RAD, WAD, 80 * WAD, 32 * WAD, 80 * RAD),
    # test_bark_not_leaving_dust_over_hole: room 80 + 1 wei would leave < dust: all of it.
    (80 * RAD + RAY, WAD, 100 * WAD, 40 * WAD, 100 * RAD),
    # test_partial_liquidation_hole_limit: 75 / 1.1 floored; 0.2 ray of rounding.
    (75 * RAD, 11 * WAD // 10, 75 * RAD * WAD // RAY // (11 * WAD // 10),
     40 * WAD * (75 * RAD * WAD // RAY // (11 * WAD // 10)) // (100 * WAD),
     75 * RAD - 2 * RAY // 10),
])
def test_dss_bark_partial_and_dust_rule(hole: int, chop: int, dart: int, dink: int,
                                        tab: int) -> None:
    dog = Dog(DogParams(Hole=1_000 * RAD, hole=hole, chop=chop, dust=20 * RAD))
    assert dog.bark(100 * WAD, 40 * WAD, RAY, DSS_SPOT) == (dart, dink, tab)
    assert dog.dirt == dog.Dirt == tab


@pytest.mark.parametrize(("hole", "dust", "dart", "dink"), [
    # test_bark_not_leaving_dust_rate: rate 1.02, room 100 -> remnant ~2 DAI: all of it.
    (100 * RAD, 20 * RAD, 100 * WAD, 40 * WAD),
    # test_bark_only_leaving_dust_over_hole_rate: room 81.6 -> dart 80, remnant 20.4 = dust.
    (816 * RAD // 10, 204 * RAD // 10, 80 * WAD, 32 * WAD),
])
def test_dss_bark_with_rate_then_dust_rule_on_debt_with_interest(
        hole: int, dust: int, dart: int, dink: int) -> None:
    rate = 102 * RAY // 100
    dog = Dog(DogParams(Hole=1_000 * RAD, hole=hole, chop=WAD, dust=dust))
    assert dog.bark(100 * WAD, 40 * WAD, rate, DSS_SPOT) == (dart, dink, dart * rate)


def test_dss_partial_liquidation_when_global_hole_binds():
    # test_partial_liquidation_Hole_limit: the same numbers with Hole = 75 DAI.
    dog = Dog(DogParams(Hole=75 * RAD, hole=1_000 * RAD, chop=11 * WAD // 10, dust=20 * RAD))
    _, _, tab = dog.bark(100 * WAD, 40 * WAD, RAY, DSS_SPOT)
    assert tab == 75 * RAD - 2 * RAY // 10


# --- dss's dog.t.sol (makerdao/dss@fa4f6630afb0624d04a003e920b0d71a00331d98
# src/test/dog.t.sol): spot 1,000 ray, dust 100 DAI, chop 1.1, Hole = hole = 10,000 DAI;
# each vault holds ink 1 (WAD) unless said.
_T = 1_000
_SPOT = _T * 10**27
_DOG_T = DogParams(Hole=10 * _T * RAD, hole=10 * _T * RAD, chop=11 * WAD // 10, dust=100 * RAD)
_RATE_1_5 = 15 * 10**27 // 10


def _dog(**changes: int) -> Dog:
    return Dog(dataclasses.replace(_DOG_T, **changes))


def test_dss_dog_bark_basic_and_not_unsafe() -> None:
    # test_bark_basic: ink 1, art 2,000 at spot 1,000: the whole vault goes.
    assert _dog().bark(2 * _T * WAD, WAD, 10**27, _SPOT)[:2] == (2 * _T * WAD, WAD)
    # testFail_bark_not_unsafe: art 500 is safe.
    with pytest.raises(AuctionError, match="not below the debt"):
        _dog().bark(500 * WAD, WAD, 10**27, _SPOT)


def test_dss_dog_bark_dusty_vault_then_liquidated_anyway() -> None:
    # test_bark_dusty_vault: dust 200, a vault of 1 wei of ink and 100 DAI of debt.
    dart, dink, tab = _dog(dust=200 * RAD).bark(100 * WAD, 1, 10**27, _SPOT)
    assert (dart, dink, tab) == (100 * WAD, 1, 110 * RAD)


@pytest.mark.parametrize("limit", ["hole", "Hole"])
def test_dss_dog_bark_when_remnant_one_wei_under_dust_then_limit_exceeded(limit: str) -> None:
    # test_bark_partial_liquidation_{dirt,Dirt}_exceeds_{hole,Hole}_to_avoid_dusty_remnant:
    # limit 5,000, dust 200, artStart = limit x WAD x WAD / chop + dust x WAD - 1: the room
    # would leave a remnant one unit under dust, so the whole vault goes; dirt and Dirt are
    # artStart x RAY x chop / WAD, above the limit.
    dog = _dog(dust=200 * RAD, **{limit: 5 * _T * RAD})
    art = 5 * _T * WAD * WAD // dog.params.chop + 200 * WAD - 1
    dart, _, tab = dog.bark(art, WAD, 10**27, _SPOT)
    assert dart == art
    assert tab == art * 10**27 * dog.params.chop // WAD > 5 * _T * RAD
    assert dog.Dirt == dog.dirt == tab


@pytest.mark.parametrize("limit", ["hole", "Hole"])
def test_dss_dog_bark_when_remnant_exactly_dust_then_partial_within_limit(limit: str) -> None:
    # ..._does_not_exceed_{hole,Hole}_if_remnant_is_nondusty: one more unit of art leaves
    # exactly dust x WAD; dirt = limit x RAD x WAD / RAY / chop x RAY x chop / WAD.
    dog = _dog(dust=200 * RAD, **{limit: 5 * _T * RAD})
    chop = dog.params.chop
    art = 5 * _T * WAD * WAD // chop + 200 * WAD
    dart, _, tab = dog.bark(art, WAD, 10**27, _SPOT)
    assert art - dart == 200 * WAD
    assert tab == 5 * _T * RAD * WAD // 10**27 // chop * 10**27 * chop // WAD <= 5 * _T * RAD
    assert dog.Dirt == tab


def test_dss_dog_bark_when_dusty_room_but_vault_fits_then_barked() -> None:
    # test_bark_dusty_vault_dusty_room: rate 1.5, Hole = hole = 33,200; a first vault fills
    # all but exactly 200 DAI of room. A 30 DAI vault (ink 1e-4) then becomes dusty when
    # dust rises to 1,500 (the room allows only dusty auctions) but still fits the room.
    room, hole = 200, 33 * _T + 200
    dog = _dog(Hole=hole * RAD, hole=hole * RAD)
    chop = dog.params.chop
    dog.bark((hole - room) * RAD // _RATE_1_5 * WAD // chop, WAD, _RATE_1_5, _SPOT)
    assert hole * RAD - dog.Dirt == room * RAD
    assert hole * RAD - dog.dirt == room * RAD
    dog.params = dataclasses.replace(dog.params, dust=1_500 * RAD)
    small = 30 * RAD // _RATE_1_5
    dart, dink, _ = dog.bark(small, WAD // 10**4, _RATE_1_5, _SPOT)
    assert (dart, dink) == (small, WAD // 10**4)


@pytest.mark.parametrize("limit", ["hole", "Hole"])
def test_dss_dog_bark_when_only_a_dusty_partial_fits_then_refused(limit: str) -> None:
    # test_bark_do_not_create_dusty_auction_{hole,Hole}: dust 300, limit 3,000, rate 1.5;
    # a first vault of (limit - dust / 2) leaves a room whose partial would be dusty, and a
    # vault too big for the room (limit x WAD x WAD / chop) is refused.
    dog = _dog(dust=300 * RAD, **{limit: 3 * _T * RAD})
    chop = dog.params.chop
    dog.bark((3 * _T - 150) * RAD // _RATE_1_5 * WAD // chop, WAD, _RATE_1_5, _SPOT)
    room = 3 * _T * RAD - dog.Dirt
    assert room * WAD // _RATE_1_5 // chop * _RATE_1_5 < 300 * RAD
    before = (dog.Dirt, dog.dirt)
    with pytest.raises(AuctionError, match="below the dust") as refused:
        dog.bark(3 * _T * WAD * WAD // chop, WAD, _RATE_1_5, _SPOT)
    assert refused.value.code == "Dog/dusty-auction-from-partial-liquidation"
    assert (dog.Dirt, dog.dirt) == before


# --- more of clip.t.sol (makerdao/dss@fa4f6630afb0624d04a003e920b0d71a00331d98
# src/test/clip.t.sol): kick incentives, zero prices, resets twice, the breaker, the
# incentive limits, yank and the active list.


def test_dss_kick_when_tip_then_coin_tip_and_then_tip_plus_chip_of_tab():
    # test_kick: the Clipper's own buf (RAY) starts at the feed price, 4; a tip of 100 and
    # no chip pay the barker 100 DAI. The vault drawn again and barked with buf 1.25, tip
    # 100, chip 2%: the second auction (pos 1) starts at 5 and pays 100 + 110 x 0.02.
    dog = Dog(DSS_DOG)
    clip = Clipper.from_dog(ClipperParams(**{**DSS_CLIP.__dict__, "buf": RAY,
                                             "tip": 100 * RAD, "chip": 0}), dog)
    _, dink, tab = dog.bark(100 * WAD, 40 * WAD, RAY, DSS_SPOT)
    first = clip.kick(tab, dink, "me", "ali", 4 * RAY, T0)
    assert (first.id, first.tab, first.lot, first.top, first.coin) == (
        1, 110 * RAD, 40 * WAD, 4 * RAY, 100 * RAD)
    assert clip.active[1].pos == 0 and clip.active[1].tic == T0
    clip.params = ClipperParams(**{**clip.params.__dict__, "buf": 125 * RAY // 100,
                                   "chip": 2 * WAD // 100})
    _, dink, tab = dog.bark(100 * WAD, 40 * WAD, RAY, DSS_SPOT)
    second = clip.kick(tab, dink, "me", "bob", 4 * RAY, T0 + 100)
    assert (second.id, second.top) == (2, 5 * RAY)
    assert clip.active[2].pos == 1
    assert second.coin == 100 * RAD + tab * 2 * WAD // 100 // WAD == 1022 * RAD // 10


def test_dss_kick_and_redo_when_feed_price_zero_then_zero_top_price():
    # testFail_kick_zero_price and testFail_redo_zero_price (1 h linear curve, cusp 0.5:
    # the reset is due at 1,801 s, but the feed reads 0).
    dog = Dog(DSS_DOG)
    clip = Clipper.from_dog(DSS_CLIP, dog)
    refused(clip, "Clipper/zero-top-price",
            lambda: clip.kick(110 * RAD, 40 * WAD, "me", "k", 0, T0))
    _, clip = dss_take_setup(calc=LinearDecrease(3_600), cusp=RAY // 2)
    assert clip.status(1, T0 + 1_801)[0]
    refused(clip, "Clipper/zero-top-price", lambda: clip.redo(1, "k", 0, T0 + 1_801))


@pytest.mark.parametrize(("tau", "due"), [(36_000, 3_601), (3_600, 1_801)])
def test_dss_redo_twice_when_just_reset_then_cannot_reset(tau: int, due: int) -> None:
    # test_auction_reset_tail_twice and test_auction_reset_cusp_twice.
    _, clip = dss_take_setup(calc=LinearDecrease(tau), cusp=RAY // 2)
    clip.redo(1, "k", 4 * RAY, T0 + due)
    refused(clip, "Clipper/cannot-reset", lambda: clip.redo(1, "k", 4 * RAY, T0 + due))


def test_dss_breaker_levels_for_kick_take_and_redo():
    # test_stopped_kick: any level stops kick; test_stopped_{1,2}_take: levels 1 and 2 let
    # a take of 25 (slice 22 for the 110 tab) through; testFail_stopped_3_take: 3 stops it.
    dog = Dog(DSS_DOG)
    clip = Clipper.from_dog(DSS_CLIP, dog)
    for level in (1, 2, 3):
        clip.stopped = level
        refused(clip, "Clipper/stopped-incorrect",
                lambda: clip.kick(110 * RAD, 40 * WAD, "me", "k", 4 * RAY, T0))
    clip.stopped = 0
    assert clip.kick(110 * RAD, 40 * WAD, "me", "k", 4 * RAY, T0).id == 1
    for level in (1, 2):
        _, clip = dss_take_setup()
        clip.stopped = level
        taken = clip.take(1, 25 * WAD, 5 * RAY, "ali", T0)
        assert (taken.slice, taken.owe, taken.done) == (22 * WAD, 110 * RAD, True)
    _, clip = dss_take_setup()
    clip.stopped = 3
    refused(clip, "Clipper/stopped-incorrect",
            lambda: clip.take(1, 25 * WAD, 5 * RAY, "ali", T0))


@pytest.mark.parametrize("level", [1, 2, 3])
def test_dss_breaker_levels_for_redo_after_tail(level: int) -> None:
    # test_stopped_{1,2,3}_auction_reset_tail (10 h linear, tail 1 h, the feed now 3): at
    # level 1 the reset goes through (top 3.75); at 2 and 3 it is due but refused.
    _, clip = dss_take_setup(calc=LinearDecrease(36_000), cusp=RAY // 2)
    clip.stopped = level
    refused(clip, "Clipper/stopped-incorrect" if level > 1 else "Clipper/cannot-reset",
            lambda: clip.redo(1, "k", 3 * RAY, T0 + 3_600))
    assert clip.status(1, T0 + 3_601)[0]
    if level == 1:
        assert clip.redo(1, "k", 3 * RAY, T0 + 3_601).top == 375 * RAY // 100
        assert clip.active[1].tic == T0 + 3_601
    else:
        refused(clip, "Clipper/stopped-incorrect",
                lambda: clip.redo(1, "k", 3 * RAY, T0 + 3_601))


def test_dss_incentive_max_values_then_accepted_and_one_more_refused():
    # test_incentive_max_values: chip 2^64 - 1 (18.446744073709551615) and tip 2^192 - 1
    # (6,277,101,735,386.68... DAI) are the largest the Clipper stores. Maker's file
    # truncates 2^64 and 2^192 to 0 (uint64/uint192 casts); marginengine refuses them.
    chip, tip = 2**64 - 1, 2**192 - 1
    assert chip == 18_446_744_073_709_551_615
    assert tip // RAD == 6_277_101_735_386
    clip = clipper(chip=chip, tip=tip)
    coin = clip.kick(TAB, ETH, "vault", "keeper", 2_000 * RAY, T0).coin
    assert coin == tip + TAB * chip // WAD
    for name, value, width in (("chip", 2**64, "uint64"), ("tip", 2**192, "uint192")):
        with pytest.raises(AuctionError, match=width):
            clipper(**{name: value})


def test_dss_yank_then_sale_deleted_dirt_cleared_and_lot_to_caller():
    # test_Clipper_yank: the caller digs the sale's tab from the Dog (Dirt and dirt back to
    # 0) and receives its 40 gold.
    dog, clip = dss_take_setup()
    sale = clip.yank(1)
    assert (sale.tab, sale.lot) == (110 * RAD, 40 * WAD)
    dog.digs(sale.tab)
    assert dog.Dirt == dog.dirt == 0
    assert clip.count() == 0 and 1 not in clip.active
    refused(clip, "Clipper/not-running-auction", lambda: clip.yank(1))


def test_dss_remove_id_swaps_the_last_into_the_hole():
    # test_remove_id: [1, 2, 3, 4, 5], remove 3 -> [1, 2, 5, 4] (5 moves to slot 2), then
    # remove 4 -> [1, 2, 5] with positions 0, 1, 2.
    clip = clipper()
    for _ in range(5):
        clip.kick(TAB, ETH, "vault", "keeper", 2_000 * RAY, T0)
    assert clip.ids() == [1, 2, 3, 4, 5]
    clip.yank(3)
    assert clip.ids() == [1, 2, 5, 4] and clip.active[5].pos == 2
    clip.yank(4)
    assert clip.ids() == [1, 2, 5]
    assert [clip.active[i].pos for i in (1, 2, 5)] == [0, 1, 2]


def test_dss_take_when_max_below_price_or_no_auction_then_refused():
    # testFail_take_bid_too_low (max 4 below the price 5) and test_take_zero_usr (id 2).
    _, clip = dss_take_setup()
    refused(clip, "Clipper/too-expensive", lambda: clip.take(1, 22 * WAD, 4 * RAY, "ali", T0))
    refused(clip, "Clipper/not-running-auction",
            lambda: clip.take(2, 25 * WAD, 5 * RAY, "ali", T0))
