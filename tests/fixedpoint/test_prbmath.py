"""PRBMath's UD60x18 pow, log2, exp2 and mul, bit for bit (fixedpoint/prbmath.py).

Vectors: PaulRBerg/prb-math at commit 982c369fe95e1d2c93d2bb1fd8650becbbfb92f1 (v4.1),
test/unit/ud60x18/math/pow/pow.t.sol, log2/log2.t.sol, exp2/exp2.t.sol (exact
``assertEq``); the exp2 factors against contracts/PRBMath.sol at tag v2.4.3 (and
src/Common.sol at that commit, the same 64 constants). v2.4.3's own tests compare to
mathjs within a tolerance, so its exact figures here are GMX's (tests/venue/test_gmx.py),
and the difference of the two releases (mul rounding) is pinned below by hand.
"""

from __future__ import annotations

import hashlib

import pytest

from marginengine.fixedpoint import prbmath
from marginengine.fixedpoint.prbmath import PRBMathError, exp2, log2, mul, pow

U = 10**18
E = 2_718281828459045235          # prb-math's E and PI (src/ud60x18/Constants.sol)
PI = 3_141592653589793238
MAX_UD60x18 = 2**256 - 1
MAX_WHOLE_UD60x18 = MAX_UD60x18 - MAX_UD60x18 % U


def test_exp2_factors_derived_by_square_roots_equal_prbmaths_constants():
    factors = prbmath.EXP2_FACTORS
    assert len(factors) == 64
    # The first four as PRBMath.sol writes them (v2.4.3 and v4 alike): 2^(1/2), 2^(1/4),
    # 2^(1/8), 2^(1/16) in 64.64, rounded to nearest (sqrt 2 x 2^64 =
    # 26087635650665564424.699..., so ...909 and not the floor ...908).
    assert [hex(f).upper().replace("0X", "0x") for f in factors[:4]] == [
        "0x16A09E667F3BCC909", "0x1306FE0A31B7152DF", "0x1172B83C7D517ADCE",
        "0x10B5586CF9890F62A"]
    # The last ones: 2^(2^-63) and 2^(2^-64) round up to 1 + 2^-64.
    assert factors[-2:] == (2**64 + 1, 2**64 + 1)
    # All 64: sha256 of PRBMath.sol's constants (uppercase hex as written, one a line, bit
    # 63 first), read from the source at tag v2.4.3 (exp2, "result * 0x...").
    text = "\n".join(hex(f).upper().replace("0X", "0x") for f in factors)
    assert hashlib.sha256(text.encode()).hexdigest() == \
        "2fb4f8d827c3fc4f02f235ba6150f02c55f399e4f844122fa93a42bb2f8eecb9"


POW_BASE_GT_UNIT = [  # pow.t.sol baseGtUnitSets
    (U + 1, 2 * U, U),
    (2 * U, 15 * 10**17, 2_828427124746190097),
    (E, 1_669760000000000000, 5_310893029888037560),
    (E, E, 15_154262241479263793),
    (PI, PI, 36_462159607207910473),
    (11 * U, 28_500000000000000000, 478290249106383504389245497918_050372801213485439),
    (3215 * 10**16, 2399 * 10**16,
     1436387590627448555101723413293079116_943375472179194989),
    (406 * U, 25 * 10**16, 4_488812947719016318),
    (1729 * U, 98 * 10**16, 1489_495149922256917866),
    (33441 * U, 21891 * 10**14, 8018621589_681923269491820156),
    (340282366920938463463374607431768211455 * U, U + 1,
     340282366920938487757736552507248225013_000000000004316573),
    (2**192 * U - 1, U - 1, 6277101735386679823624773486129835356722228023657461399187 * U),
]
POW_BASE_LT_UNIT = [  # pow.t.sol baseLtUnitSets
    (1, 178 * 10**16, 0),
    (10**16, E, 3659622955309),
    (125 * 10**15, PI, 1454987061394186),
    (25 * 10**16, 3 * U, 15625 * 10**12),
    (45 * 10**16, 22 * 10**17, 172610627076774731),
    (5 * 10**17, 481 * 10**15, 716480825186549911),
    (6 * 10**17, 95 * 10**16, 615522152723696171),
    (7 * 10**17, 31 * 10**17, 330981655626097448),
    (75 * 10**16, 4 * U, 316406250000000008),
    (8 * 10**17, 5 * U, 327680000000000015),
    (9 * 10**17, 25 * 10**17, 768433471420916194),
    (U - 1, 8 * 10**16, U),
]


@pytest.mark.parametrize(("x", "y", "expected"), POW_BASE_GT_UNIT + POW_BASE_LT_UNIT)
def test_pow_v4_when_prbmaths_vectors_then_exact(x: int, y: int, expected: int):
    assert pow(x, y, "v4") == expected


def test_pow_special_cases_of_each_release():
    # pow.t.sol: 0^0 = 1, 0^y = 0, 1^y = 1, x^0 = 1, x^1 = x (v4).
    assert pow(0, 0, "v4") == U and pow(0, E, "v4") == 0
    assert pow(U, PI, "v4") == U and pow(PI, 0, "v4") == U and pow(PI, U, "v4") == PI
    # v2.4.3 (PRBMathUD60x18.sol pow): only the zero base is special; x^1 goes through
    # exp2(log2(x)), which loses the last digits, and a base below 1 reverts in log2
    # (its pow.test.ts: "takes 1e-18 and 1 and reverts" with LogInputTooSmall).
    assert pow(0, 0) == U and pow(0, PI) == 0
    assert pow(PI, U) == exp2(log2(PI)) == 3_141592653589793203 != PI
    with pytest.raises(PRBMathError, match="LogInputTooSmall"):
        pow(U - 1, U)


def test_mul_rounding_half_up_v2_down_v4():
    # mulDivFixedPoint: a remainder above 0.5e18 - 1 rounds up; mulDiv18 never does.
    assert mul(15 * 10**17, 1, "v2.4.3") == 2 and mul(15 * 10**17, 1, "v4") == 1
    assert mul(U // 2 - 1, 1, "v2.4.3") == 0
    assert mul(U // 2, 1, "v2.4.3") == 1
    with pytest.raises(PRBMathError, match="MulDivFixedPointOverflow"):
        mul(MAX_UD60x18, MAX_UD60x18)
    # The two releases' pow differ only through mul: log2(11) x 28.5 rounds up in v2.4.3.
    assert pow(11 * U, 28_500000000000000000, "v2.4.3") != pow(11 * U,
                                                               28_500000000000000000, "v4")


@pytest.mark.parametrize(("x", "expected"), [  # log2.t.sol
    (U, 0), (2 * U, U), (4 * U, 2 * U), (8 * U, 3 * U), (16 * U, 4 * U),
    (2**195 * U, 195 * U),
    (1125 * 10**15, 169925001442312346), (E, 1_442695040888963394),
    (PI, 1_651496129472318782), (10**24, 19_931568569324174075),
    (MAX_WHOLE_UD60x18, 196_205294292027477728), (MAX_UD60x18, 196_205294292027477728),
])
def test_log2_when_prbmaths_vectors_then_exact(x: int, expected: int):
    assert log2(x) == expected == log2(x, "v4")


@pytest.mark.parametrize(("x", "expected"), [  # exp2.t.sol
    (1, U), (10**3, 1_000000000000000693), (3212 * 10**14, 1_249369313012024883),
    (U, 2 * U), (2 * U, 4 * U), (E, 6_580885991017920969), (3 * U, 8 * U),
    (PI, 8_824977827076287621), (4 * U, 16 * U),
    (1189215 * 10**13, 3800_964933301542754377), (16 * U, 65536 * U),
    (2082 * 10**16, 1851162_354076939434682641),
    (33333333 * 10**12, 10822636909_120553492168423503),
    (64 * U, 18_446744073709551616 * U),
    (71002 * 10**15, 2364458806372010440881_644926416580874919),
    (887494 * 10**14, 520273250104929479163928177_984511174562086061),
    (95 * U, 39614081257_132168796771975168 * U),
    (127 * U, 170141183460469231731_687303715884105728 * U),
    (1529065 * 10**14, 10701459987152828635116598811554803403437267307_663014047009710338),
    (192 * U - 1, 6277101735386680759401282518710514696272033118492751795945 * U),
])
def test_exp2_when_prbmaths_vectors_then_exact(x: int, expected: int):
    assert exp2(x) == expected == exp2(x, "v4")


def test_reverts_and_bad_input_name_the_error():
    with pytest.raises(PRBMathError, match="Exp2InputTooBig"):
        exp2(192 * U)
    with pytest.raises(PRBMathError, match="LogInputTooSmall"):
        log2(U - 1)
    with pytest.raises(PRBMathError, match="uint256: x must be in"):
        log2(2**256)
    with pytest.raises(ValueError, match="version: unknown PRBMath release 'v3'"):
        pow(U, U, "v3")  # type: ignore[arg-type]
