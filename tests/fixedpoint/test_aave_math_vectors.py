"""Aave's own WadRayMath and PercentageMath test vectors, through our fixed-point helpers.

Sources (aave-dao/aave-v3-origin@fd1fbd9150426ca8ace9cee45b4acf912ae84f5b):
``tests/protocol/libraries/math/WadRayMath.t.sol`` and
``tests/protocol/libraries/math/PercentageMath.t.sol``. Aave's default ``wadMul``,
``rayMul``, ``wadDiv``, ``rayDiv``, ``rayToWad``, ``percentMul`` and ``percentDiv`` round
half up (``+ HALF_WAD``, ``+ b / 2``); the v3.4+ ``Floor`` / ``Ceil`` twins are our
``Rounding.DOWN`` / ``Rounding.UP``.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marginengine.fixedpoint import (
    RAY,
    WAD,
    Rounding,
    bps_div,
    bps_mul,
    ray_div,
    ray_mul,
    ray_to_wad,
    wad_div,
    wad_mul,
)
from marginengine.fixedpoint.wadray import wad_to_ray

_E18 = 10**18
_E27 = 10**27


@pytest.mark.parametrize(("a", "b", "product"), [
    (25 * _E18 // 10, 5 * _E18 // 10, 125 * _E18 // 100),
    (4122 * _E18 // 10, _E18, 4122 * _E18 // 10),
    (6 * _E18, 2 * _E18, 12 * _E18),
])
def test_wad_mul_when_aave_test_wadmul_then_same(a: int, b: int, product: int) -> None:
    assert wad_mul(a, b) == product
    # test_rayMul: the same figures at 27 decimals.
    assert ray_mul(a * 10**9, b * 10**9) == product * 10**9


@pytest.mark.parametrize(("a", "b", "quotient_wad", "quotient_ray"), [
    (25, 5, 5 * _E18, 5 * _E27),
    (4122, 10, 4122 * _E18 // 10, 4122 * _E27 // 10),
    # test_wadDiv / test_rayDiv: 8.745 / 0.67, rounded half up at each scale.
    (8745, 670, 13_052_238_805_970_149_254, 13_052_238_805_970_149_253_731_343_284),
    (6, 2, 3 * _E18, 3 * _E27),
])
def test_wad_div_and_ray_div_when_aave_vectors_then_same(a: int, b: int, quotient_wad: int,
                                                         quotient_ray: int) -> None:
    assert wad_div(a * _E18 // 10, b * _E18 // 10) == quotient_wad
    assert ray_div(a * _E27 // 10, b * _E27 // 10) == quotient_ray


def test_wad_to_ray_and_back_when_aave_vectors_then_same() -> None:
    assert wad_to_ray(_E18) == _E27 and wad_to_ray(4122 * _E18 // 10) == 4122 * _E27 // 10
    assert ray_to_wad(_E27) == _E18 and ray_to_wad(4122 * _E27 // 10) == 4122 * _E18 // 10
    assert wad_to_ray(0) == 0 and ray_to_wad(0) == 0


@given(st.integers(min_value=0, max_value=2**256 - 1))
def test_ray_to_wad_when_aave_fuzz_rule_then_remainder_at_half_rounds_up(a: int) -> None:
    # test_rayToWad_fuzz: remainder < 1e9 / 2 floors, otherwise one more.
    ratio = 10**9
    expected = a // ratio + (0 if a % ratio < ratio // 2 else 1)
    assert ray_to_wad(a) == expected


@given(st.integers(min_value=0, max_value=2**200), st.integers(min_value=1, max_value=2**200))
def test_half_up_when_aave_fuzz_formulas_then_same(a: int, b: int) -> None:
    # test_wadMul_fuzzing / test_wadDiv_fuzzing / test_percentMul_fuzz /
    # test_percentDiv_fuzz: Aave adds half the divisor, floored (b / 2 for an odd b).
    assert wad_mul(a, b) == (a * b + WAD // 2) // WAD
    assert wad_div(a, b) == (a * WAD + b // 2) // b
    assert ray_mul(a, b) == (a * b + RAY // 2) // RAY
    assert ray_div(a, b) == (a * RAY + b // 2) // b
    assert bps_mul(a, b) == (a * b + 5_000) // 10_000
    assert bps_div(a, b) == (a * 10_000 + b // 2) // b


def test_ray_floor_and_ceil_when_aave_vectors_then_same() -> None:
    # testRayMulFloor_* / testRayMulCeil_* / testRayDivFloor_* / testRayDivCeil_*.
    assert ray_mul(_E27, 5 * _E27, Rounding.DOWN) == 5 * _E27
    assert ray_mul(_E27, 5 * _E27, Rounding.UP) == 5 * _E27
    assert ray_mul(3, 5, Rounding.DOWN) == 0          # 15 / RAY truncates
    assert ray_mul(3, 5, Rounding.UP) == 1            # and ceils to 1
    assert ray_mul(0, 123, Rounding.UP) == 0 and ray_mul(123, 0, Rounding.UP) == 0
    assert ray_div(_E27, _E27, Rounding.UP) == _E27
    assert ray_div(5, 3, Rounding.UP) == 1_666_666_666_666_666_666_666_666_667
    assert ray_div(5, 3, Rounding.DOWN) == 1_666_666_666_666_666_666_666_666_666
    assert ray_div(0, 123, Rounding.UP) == 0
    with pytest.raises(ZeroDivisionError):
        ray_div(100, 0, Rounding.UP)
    with pytest.raises(ZeroDivisionError):
        ray_div(100, 0, Rounding.DOWN)


def test_percent_mul_and_div_when_aave_vectors_then_same() -> None:
    # test_percentMul / test_percentDiv.
    assert bps_mul(_E18, 50_00) == _E18 // 2
    assert bps_mul(142_515 * _E18 // 10_000, 74_42) == 10_605_966_300_000_000_000
    assert bps_mul(9_087_312 * _E27, 13_33) == 1_211_338_689_600_000_000_000_000_000_000_000
    assert bps_div(_E18, 50_00) == 2 * _E18
    assert bps_div(142_515 * _E18 // 10_000, 74_42) == 19_150_094_060_736_361_193
    assert bps_div(9_087_312 * _E27, 13_33) == 68_171_882_970_742_685_671_417_854_463_615_904


def test_percent_floor_and_ceil_when_aave_vectors_then_same() -> None:
    # testPercentMulCeil_* / testPercentMulFloor_* / testPercentDivFloor_* /
    # testPercentDivCeil_*.
    assert bps_mul(100 * _E18, 10_000, Rounding.UP) == 100 * _E18
    assert bps_mul(1, 1, Rounding.UP) == 1
    assert bps_mul(1, 1, Rounding.DOWN) == 0
    assert bps_mul(0, 100, Rounding.UP) == 0 and bps_mul(100, 0, Rounding.UP) == 0
    assert bps_mul(100 * _E18, 10_000, Rounding.DOWN) == 100 * _E18
    assert bps_div(100 * _E18, 10_000, Rounding.DOWN) == 100 * _E18
    assert bps_div(100 * _E18, 10_000, Rounding.UP) == 100 * _E18
    assert bps_div(5, 3, Rounding.DOWN) == 16_666
    assert bps_div(5, 3, Rounding.UP) == 16_667
    with pytest.raises(ZeroDivisionError):
        bps_div(1_234, 0, Rounding.DOWN)
    with pytest.raises(ZeroDivisionError):
        bps_div(1_234, 0, Rounding.UP)
