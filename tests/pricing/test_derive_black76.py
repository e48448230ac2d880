"""Black-76 prices and deltas against Derive's own table.

Source: derivexyz/lyra-utils (v2-core's ``lib/lyra-utils``) at commit
759e962526c7e7f04c19506cb4ba24b88be8159b, ``test/math/Black76.t.sol`` ``testPrices``
(nine inputs, call and put benchmarks "computed in python", delta benchmarks; asserted to
1e6 wei, i.e. 1e-12 absolute at 18 decimals) and ``testAnnualise``;
``test/math/FixedPointMathLib.t.sol`` ``testStdNormalCDF``. Derive's ``Black76.sol``
takes a discount factor D where we take a rate: r = -ln(D) / T. Its fixed-point
``ln``, ``exp`` and ``stdNormalCDF`` are approximations; ours are float64, within Derive's
own tolerance of its Python benchmarks. Its case 7 (a zero strike) is the SRM's mark
(``tests/margin/test_derive_srm.py``); our Black-76 refuses a zero strike or forward.
"""

from __future__ import annotations

import math

import pytest

from marginengine.pricing import price, price_and_greeks
from marginengine.pricing.scalar import norm_cdf, price_scalar
from marginengine.pricing.scenarios import SECONDS_PER_YEAR

DAY = 86_400
# (seconds to expiry, vol, forward, strike, discount, call, put, call delta / D)
DERIVE_TABLE = [
    (7 * DAY, 1.0, 1500.0, 1500.0, 1.0,                               # ATM
     82.805080668634559515, 82.805080668634559515, 0.5276016935562116),
    (30 * DAY, 0.25, 1000.0, 1200.0, 0.9991784198737006,              # OTM call / ITM put
     0.137082128426579297, 199.972766103166719631, 0.006071372605597036),
    (2 * DAY, 0.75, 1000.0, 700.0, 0.9998904169635637,                # deep ITM call
     299.967125089526177817, 0.00000000045708468, 0.999999999944921),
    (365 * DAY, 25.0, 1000.0, 700.0, 0.9801986733067553,              # total vol over 24
     980.198673306755267731, 686.139071314728653306, 1.0),
    (365 * DAY, 5.0, 1000.0, 700.0, 0.9801986733067553,               # large total vol
     970.034553583819047162, 675.974951591792546424, 0.9949346359666408),
]
TOLERANCE = 1e-12  # Derive's accuracy, 1e6 wei at 18 decimals


@pytest.mark.parametrize("case", DERIVE_TABLE, ids=["atm", "otm", "deep_itm", "capped",
                                                    "large_vol"])
def test_price_when_derives_black76_table_then_within_its_tolerance(case):
    secs, vol, fwd, strike, disc, call, put, delta = case
    t = secs / SECONDS_PER_YEAR
    rate = -math.log(disc) / t
    value, greeks = price_and_greeks([fwd, fwd], strike, t, vol, rate, [True, False])
    assert float(value[0]) == pytest.approx(call, abs=TOLERANCE)
    assert float(value[1]) == pytest.approx(put, abs=TOLERANCE)
    # Derive's callDelta is N(d1) x D: our forward-flavour delta.
    assert float(greeks.delta[0]) == pytest.approx(delta * disc, abs=TOLERANCE)
    assert price_scalar(fwd, strike, t, vol, rate, False) == pytest.approx(put, abs=TOLERANCE)


def test_price_when_total_vol_above_derives_cap_then_bounds():
    # Derive returns exactly D F and D K once sigma sqrt(T) >= 24; our closed form is
    # there already (N(d1) = 1, N(d2) ~ 1e-35).
    d = 0.9801986733067553
    r = -math.log(d)
    assert float(price(1000.0, 700.0, 1.0, 25.0, r, True)) == pytest.approx(1000 * d, abs=1e-12)
    assert float(price(1000.0, 700.0, 1.0, 25.0, r, False)) == pytest.approx(700 * d, abs=1e-12)


def test_annualise_when_derives_table_then_365_day_years():
    # testAnnualise (to 1e6 wei): 1 s, 1 min, 1 h, 1 day, 1 week, 4 weeks, 12 weeks.
    table = [(1, 0.000000031709791983), (60, 0.000001902587519025),
             (3600, 0.000114155251141552), (DAY, 0.00273972602739726),
             (7 * DAY, 0.019178082191780821), (28 * DAY, 0.076712328767123287),
             (84 * DAY, 0.230136986301369863), (365 * DAY, 1.0), (730 * DAY, 2.0)]
    for secs, years in table:
        assert secs / SECONDS_PER_YEAR == pytest.approx(years, abs=1e-12)


@pytest.mark.parametrize(("x", "derive"), [
    (1.0, 0.841344746068542957), (-1.0, 0.158655253931457043),
    (2.0, 0.977249868051820775), (-2.0, 0.022750131948179225),
    (10.0, 1.0), (-10.0, 0.0), (38.0, 1.0), (-38.0, 0.0), (0.0, 0.5),
])
def test_norm_cdf_when_derives_std_normal_cdf_table_then_agrees(x, derive):
    # Derive's fixed-point stdNormalCDF (Hart's approximation; 0.5 - 1e-18 at 0): ours
    # agrees to 1e-15, well inside the 1e-12 its Black76 test allows.
    assert norm_cdf(x) == pytest.approx(derive, abs=1e-15)
