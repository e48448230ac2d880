"""The auction house's config conversions (liquidation/auction_house.py): amounts become
dss's wads, rays and rads exactly, as dss stores them whole."""

from __future__ import annotations

from decimal import Decimal

from marginengine.config.auction import AuctionConfig
from marginengine.fixedpoint import RAY, WAD
from marginengine.liquidation.auction_house import AuctionHouse, ray_of, wad_of


def test_wad_of_when_amount_has_more_than_28_digits_then_exact() -> None:
    # 10^11 DAI with 18 decimals is 30 significant digits: the thread's 28-digit context
    # rounded the product to 100000000000123456789012345700.
    amount = Decimal("100000000000.123456789012345678")
    assert wad_of(amount) == 100_000_000_000_123_456_789_012_345_678
    assert ray_of("1.000000000000000000000000001") == RAY + 1
    # Past the unit's decimals: truncated toward zero, as before.
    assert wad_of("0.0000000000000000019") == 1
    assert wad_of(Decimal("1.13")) == 113 * WAD // 100


def test_dog_when_hole_is_a_long_amount_then_its_rad_is_exact() -> None:
    house = AuctionHouse.of(AuctionConfig(Hole=Decimal("100000000000.123456789012345678"),
                                          hole=Decimal("40000000000.000000000000000001")))
    assert house.dog is not None
    assert house.dog.params.Hole == 100_000_000_000_123_456_789_012_345_678 * RAY
    assert house.dog.params.hole == (40_000_000_000 * WAD + 1) * RAY
