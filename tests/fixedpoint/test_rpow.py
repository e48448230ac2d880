"""``rpow`` against MakerDAO's own Jug tests (makerdao/dss@fa4f6630afb0624d04a003e920b0d71a00331d98
src/test/jug.t.sol, src/jug.sol ``drip``).

marginengine has no Jug: ``rpow`` is the part of ``jug.drip`` it shares (the Clipper's
abaci use it too). ``drip`` sets ``rate = rmul(rpow(base + duty, now - rho), rate)``
(``rmul`` floored) and ``Vat.fold`` pays ``Art x (new rate - old rate)`` (rad) to the vow;
each test below drips an ilk with ``Art = 100`` DAI at ``rate = 1`` and checks the vow's
DAI in wad (``rad / 1e27``, floored), the figure jug.t.sol asserts.
"""

import pytest

from marginengine.fixedpoint import RAY, WAD, Rounding, ray_mul, rpow

RAD = 10**45
ART = 100 * WAD  # jug.t.sol draw("i", 100 ether) at rate 1
DAY = 86_400
FIVE_PCT_A_DAY = 1_000_000_564_701_133_626_865_910_626
TEN_PCT_A_DAY = 1_000_001_103_127_689_513_476_993_127
MINUS_2_5_PCT_A_DAY = 999_999_706_969_857_929_985_428_567


def dripped(rate: int, duty: int, seconds: int, base: int = 0) -> int:
    """The rate after ``jug.drip``: ``rmul(rpow(base + duty, seconds), rate)``."""
    return ray_mul(rpow(base + duty, seconds), rate, Rounding.DOWN)


def vow_dai_wad(old_rate: int, new_rate: int, held: int = 0) -> int:
    """``wad(vat.dai(vow))`` after ``Vat.fold``: ``held + Art x (new - old)`` rad, floored."""
    return (held + ART * (new_rate - old_rate)) // RAY


@pytest.mark.parametrize(("days", "fee_wad"), [
    (0, 0),                      # test_drip_0d: nothing accrues at the same second
    (1, 5 * WAD),                # test_drip_1d: 5% of 100
    (2, 1025 * WAD // 100),      # test_drip_2d: 100 x (1.05^2 - 1) = 10.25
    (3, 157_625 * WAD // 10_000),  # test_drip_3d: 100 x (1.05^3 - 1) = 15.7625
])
def test_drip_at_five_percent_a_day_then_the_vow_gets_the_tests_fee(days: int,
                                                                    fee_wad: int) -> None:
    rate = dripped(RAY, FIVE_PCT_A_DAY, days * DAY)
    assert vow_dai_wad(RAY, rate) == fee_wad
    # rpow's half-up rounding over 86,400 squarings leaves the rate 1e-22 above 1.05^days
    # at most: the vow's wad figure is exact.
    assert 0 <= rate - 105**days * RAY // 100**days < 10**5


def test_drip_negative_rate_over_three_days_then_the_vow_loses():
    # test_drip_negative_3d: the vow holds 100 DAI; at -2.5% a day for 3 days the fold
    # takes 100 x (1 - 0.975^3) from it: 92.6859375 left.
    rate = dripped(RAY, MINUS_2_5_PCT_A_DAY, 3 * DAY)
    assert rate == 926_859_375_000_000_000_000_022_885
    assert vow_dai_wad(RAY, rate, held=100 * RAD) == 926_859_375 * WAD // 10**7


def test_drip_twice_at_two_duties_then_rates_compound():
    # test_drip_multi: a day at 5%, then a day at 10%: the vow has 15.5 DAI, the system
    # debt is 115.5 and the rate 1.155 (wad precision, rate / 1e9).
    day1 = dripped(RAY, FIVE_PCT_A_DAY, DAY)
    assert vow_dai_wad(RAY, day1) == 5 * WAD
    day2 = dripped(day1, TEN_PCT_A_DAY, DAY)
    assert vow_dai_wad(RAY, day2) == 155 * WAD // 10
    assert ART * day2 // RAY == 1155 * WAD // 10  # vat.debt(): 100 drawn + 15.5 of fees
    assert day2 // 10**9 == 1155 * WAD // 1000
    assert day2 == 1_155_000_000_000_000_000_000_061_517


def test_drip_with_base_then_base_adds_to_duty():
    # test_drip_base: duty 1.05 per second plus base 0.05: one second at 1.10 gives 10 DAI.
    rate = dripped(RAY, 105 * RAY // 100, 1, base=5 * RAY // 100)
    assert rate == 110 * RAY // 100
    assert vow_dai_wad(RAY, rate) == 10 * WAD


def test_rpow_of_the_jug_test_to_ten_decimals():
    # test_rpow: rpow(1.000234891009084238901289093, 3724) matches python's
    # 2.397991232255757e27 to ten decimals (the test compares result / 1e17).
    result = rpow(1_000_234_891_009_084_238_901_289_093, 3_724)
    assert result // 10**17 == 2_397_991_232_255_757 * 10**12 // 10**17
    assert result == 2_397_991_232_254_682_910_951_344_872


def test_rpow_at_zero_and_one_as_dss():
    # jug.sol and abaci.sol: rpow(0, 0) = b, rpow(0, n) = 0, rpow(x, 0) = b.
    assert (rpow(0, 0), rpow(0, 7), rpow(12345, 0)) == (RAY, 0, RAY)
    assert rpow(RAY, 10**6) == RAY
