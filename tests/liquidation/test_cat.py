"""The Cat of Liquidations 1.2 (dss cat.sol, makerdao/dss@fa4f6630): worked numbers by hand.

The vault is clip.t.sol's: ink 40, art 100 at rate 1 and spot 2 (gold at 4 DAI, mat 2),
unsafe since 40 x 2 < 100; dust 20 DAI.
"""

import copy

import pytest

from marginengine.liquidation.cat import Cat, CatParams
from marginengine.liquidation.dutch_auction import RAD, AuctionError, Dog, DogParams

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
