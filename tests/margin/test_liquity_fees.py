"""Liquity v1 fees: baseRate decay (``_decPow``), borrowing and redemption rates.

Figures from liquity/dev at commit ``39f1f7f881de23200c296a892b891a6e2fc6e98f``,
``packages/contracts/test/FeeArithmeticTest.js``: ``secondsToMinutesRoundedDown``, the
``decayBaseRateResults`` for initial rates 0.01 and 0.9976 (tolerance 1e5 wei, as the
test's ``assert.isAtMost(getDifference(...), 100000)``), ``decPow(): for exponent = 2``
(exact) and ``exponentiationResults`` (tolerance 1e4, as the test). The expected values
are the test's spreadsheet figures, so only the exact cases are asserted exactly.
"""

from __future__ import annotations

import pytest

from marginengine.decisions import Code, Refusal
from marginengine.liquidation import liquity as liq
from marginengine.liquidation import liquity_system as ops
from marginengine.margin import liquity as lm

E18 = 10**18

#: FeeArithmeticTest.js ``secondsToMinutesRoundedDown``.
SECONDS_TO_MINUTES = [
    (0, 0), (1, 0), (3, 0), (37, 0),
    (432, 7), (1179, 19), (2343, 39), (3599, 59),
    (3600, 60), (10000, 166), (15000, 250), (17900, 298),
    (18000, 300), (61328, 1022), (65932, 1098), (79420, 1323),
    (86147, 1435), (86400, 1440), (35405, 590), (100000, 1666),
    (604342, 10072), (604800, 10080), (1092099, 18201), (2591349, 43189),
    (2592000, 43200), (5940183, 99003), (8102940, 135049), (31535342, 525589),
    (31536000, 525600), (56809809, 946830), (315360000, 5256000), (793450405, 13224173),
    (1098098098, 18301634), (3153600000, 52560000), (4098977899, 68316298), (9999999999, 166666666),
    (31535999000, 525599983), (31536000000, 525600000), (50309080980, 838484683),
]

#: FeeArithmeticTest.js ``decayBaseRateResults.seconds``.
DECAY_SECONDS = [
    0, 1, 3, 37, 432, 1179,
    2343, 3547, 3600, 10000, 15000, 17900,
    18000, 61328, 65932, 79420, 86147, 86400,
    35405, 100000, 604342, 604800, 1092099, 2591349,
    2592000, 5940183, 8102940, 31535342, 31536000, 56809809,
    315360000, 793450405, 1098098098, 3153600000, 4098977899, 9999999999,
    31535999000, 31536000000, 50309080980,
]

#: FeeArithmeticTest.js ``decayBaseRateResults['0.01']`` and ``['0.9976']``.
DECAYED = {
    10**16: [
    10000000000000000, 10000000000000000, 10000000000000000,
    10000000000000000, 9932837247526310, 9818748881063180,
    9631506200700280, 9447834221836550, 9438743126816710,
    8523066208268240, 7860961982890640, 7505973548021970,
    7491535384382500, 3738562496681640, 3474795549604300,
    2798062319068760, 2512062814236710, 2499999999998550,
    5666601111155830, 2011175814816220, 615070415779,
    610351562497, 245591068, 0,
    0, 0, 0,
    0, 0, 0,
    0, 0, 0,
    0, 0, 0,
    0, 0, 0,
    ],
    9976 * 10**14: [
    997600000000000000, 997600000000000000, 997600000000000000,
    997600000000000000, 990899843813224000, 979518388374863000,
    960839058581860000, 942515941970414000, 941609014331235000,
    850261084936840000, 784209567413171000, 748795921150671000,
    747355569945998000, 372958994668961000, 346645604028525000,
    279134696950299000, 250603386348255000, 249399999999855000,
    565300126848906000, 200634899286066000, 61359424678158,
    60888671874752, 24500164955, 0,
    0, 0, 0,
    0, 0, 0,
    0, 0, 0,
    0, 0, 0,
    0, 0, 0,
    ],
}

#: FeeArithmeticTest.js ``exponentiationResults``: (base, exponent, expected).
EXPONENTIATION = [
    (187706062567632000, 17, 445791), (549137589365708000, 2, 301552092054380000),
    (14163921244333700, 3, 2841518643583), (173482812472018000, 2, 30096286223201300),
    (89043101634399300, 2, 7928673948673970), (228676956496486000, 2, 52293150432495800),
    (690422882634616000, 8, 51632293155573900), (88730376626724100, 11, 2684081),
    (73384846339964600, 5, 2128295594269), (332854710158557000, 10, 16693487237081),
    (543415023125456000, 24, 439702946262), (289299391854347000, 2, 83694138127294900),
    (356290645277924000, 2, 126943023912560000), (477806998132950000, 8, 2716564683301040),
    (410750871076822000, 6, 4802539645325750), (475222270242414000, 4, 51001992001158600),
    (121455252120304000, 22, 0), (9639247474367520, 4, 8633214298),
    (637853277178133000, 2, 406856803206885000), (484746955319000000, 6, 12974497294315000),
    (370594630844984000, 14, 921696040698), (289829200819417000, 12, 351322263034),
    (229325825269870000, 8, 7649335694527), (265776787719080000, 12, 124223733254),
    (461409786304156000, 27, 851811777), (240236841088914000, 11, 153828106713),
    (23036079879643700, 2, 530660976221324), (861616242485528000, 97, 531430041443),
    (72241661275119400, 212, 0), (924071964863292000, 17, 261215237312535000),
    (977575971186712000, 19, 649919912701292000), (904200910071210000, 15, 220787304397256000),
    (858551742150349000, 143, 337758087), (581850663606974000, 68, 102),
    (354836074035232000, 16, 63160309272), (968639062260900000, 37, 307604877091227000),
    (784478611520428000, 140, 1743), (61314555619941600, 13, 173),
    (562295998606858000, 71, 2), (896709855620154000, 20, 112989701464696000),
    (8484527608110470, 111, 0), (33987471529490900, 190, 0),
    (109333102690035000, 59, 0), (352436592744656000, 4, 15428509626763400),
    (940730690913636000, 111, 1134095778412580), (665800835711181000, 87, 428),
    (365267526644046000, 208, 0), (432669515365048000, 171, 0),
    (457498365370101000, 40, 26036), (487046034636363000, 12, 178172281758289),
    (919877008002166000, 85, 826094891277916),
]


@pytest.mark.parametrize(("seconds", "minutes"), SECONDS_TO_MINUTES)
def test_minutes_passed_rounds_down_to_whole_minutes(seconds: int, minutes: int) -> None:
    assert lm.minutes_passed(1_000 + seconds, 1_000) == minutes


@pytest.mark.parametrize("initial", sorted(DECAYED))
def test_decayed_base_rate_matches_the_liquity_table(initial: int) -> None:
    for seconds, expected in zip(DECAY_SECONDS, DECAYED[initial], strict=True):
        got = lm.decayed_base_rate(initial, seconds, 0)
        assert abs(got - expected) <= 100_000, (seconds, got, expected)
    # Under a minute nothing decays; exactly one day is a quarter (two half-lives).
    assert lm.decayed_base_rate(initial, 59, 0) == initial
    assert lm.decayed_base_rate(10**16, 86_400, 0) == 2_499_999_999_998_600


def test_dec_pow_squares_exactly_and_follows_the_table() -> None:
    for base, square in [(E18, E18), (15 * 10**17, 225 * 10**16), (5 * 10**17, 25 * 10**16),
                         (321 * 10**15, 103_041 * 10**12), (2 * E18, 4 * E18),
                         (10**17, 10**16), (10**16, 10**14), (99 * 10**16, 9_801 * 10**14),
                         (125_435 * 10**15, 15_733_939_225 * 10**12),
                         (99_999 * E18, 9_999_800_001 * 10**18)]:
        assert lm.dec_pow(base, 2) == square
    for base, exponent, expected in EXPONENTIATION:
        assert abs(lm.dec_pow(base, exponent) - expected) <= 10_000, (base, exponent)
    assert lm.dec_pow(123, 0) == E18 and lm.dec_pow(0, 5) == 0 and lm.dec_pow(E18, 99) == E18
    # The exponent is capped at 1000 years of minutes.
    assert lm.dec_pow(lm.MINUTE_DECAY_FACTOR, 10**12) == lm.dec_pow(
        lm.MINUTE_DECAY_FACTOR, lm.DEC_POW_MAX_MINUTES)


def test_last_fee_operation_time_moves_only_after_a_minute() -> None:
    assert lm.last_fee_operation_time_after(1_059, 1_000) == 1_000
    assert lm.last_fee_operation_time_after(1_060, 1_000) == 1_060


def test_redemption_rate_fee_and_base_rate_update() -> None:
    # rate = 0.5% + baseRate, capped at 100%; fee = rate x ETH drawn, below the ETH drawn.
    assert lm.redemption_rate(0) == 5 * 10**15
    assert lm.redemption_rate(E18) == E18
    assert lm.redemption_fee(5 * 10**15, 2 * E18) == 10**16
    eaten = lm.redemption_fee(E18, 2 * E18)
    assert isinstance(eaten, Refusal) and eaten.code is Code.LIQUITY_FEE_EATS_COLLATERAL
    # 1 ETH at 200 LUSD redeemed of 10,000 LUSD supply: fraction 2%, /BETA = 1%.
    assert lm.base_rate_after_redemption(0, E18, 200 * E18, 10_000 * E18) == 10**16
    assert lm.base_rate_after_redemption(99 * 10**16, E18, 200 * E18, 10 * E18) == E18


def test_a_borrow_decays_the_system_base_rate_first() -> None:
    # baseRate 5% at t=0; 12 hours later it is half (MINUTE_DECAY_FACTOR^720 = 0.5), so a
    # 2,000 LUSD trove pays 0.5% + 2.5% = 3%, and the system keeps the decayed rate.
    sys = ops.LiquitySystem.empty(liq.StabilityPoolRule.KEEP_ONE_LUSD, 5 * 10**16, 0)
    half_day = 720 * 60
    opened = ops.open_trove(sys, "a", 100 * E18, 2_000 * E18, 200 * E18, now=half_day)
    assert isinstance(opened, ops.TroveChange)
    decayed = lm.decayed_base_rate(5 * 10**16, half_day, 0)
    assert abs(decayed - 25 * 10**15) <= 10**6
    assert opened.system.base_rate == decayed
    assert opened.system.last_fee_operation_time == half_day
    assert opened.fee == lm.borrowing_rate(decayed) * 2_000 * E18 // E18
    assert abs(opened.fee - 60 * E18) <= 2 * 10**9
    # Without a clock the rate is not decayed: 0.5% + 5% capped at 5%, 100 LUSD.
    fixed = ops.open_trove(sys, "a", 100 * E18, 2_000 * E18, 200 * E18)
    assert isinstance(fixed, ops.TroveChange) and fixed.fee == 100 * E18
    assert fixed.system.base_rate == 5 * 10**16


def test_open_trove_checks_the_max_fee_before_the_trove_is_active() -> None:
    # BorrowerOperations.openTrove: _requireValidMaxFeePercentage, then
    # _requireTroveisNotActive.
    sys = ops.LiquitySystem.empty(liq.StabilityPoolRule.KEEP_ONE_LUSD)
    first = ops.open_trove(sys, "a", 100 * E18, 2_000 * E18, 200 * E18)
    assert isinstance(first, ops.TroveChange)
    again = ops.open_trove(first.system, "a", 100 * E18, 2_000 * E18, 200 * E18,
                           max_fee_percentage=10**15)
    assert isinstance(again, Refusal) and again.code is Code.LIQUITY_MAX_FEE
    again = ops.open_trove(first.system, "a", 100 * E18, 2_000 * E18, 200 * E18)
    assert isinstance(again, Refusal) and again.code is Code.LIQUITY_TROVE_ACTIVE
