"""Maker's Vat frob checks as pure rules, with the figures of dss's own FrobTest
(makerdao/dss@fa4f6630 ``src/test/vat.t.sol``): spot 1, line 1,000, Line 1,000 DAI."""

import pytest

from marginengine.decisions import Code
from marginengine.margin import validate_frob, vat_frob_problem, vat_spot

E = 10**18
RAY = 10**27
RAD = 10**45


class Urn:
    """One urn of FrobTest's ``gold`` ilk, frobbed through the pure rule."""

    def __init__(self, *, spot: int = RAY, line: int = 1000 * RAD, Line: int = 1000 * RAD,
                 dust: int = 0) -> None:
        self.ink = self.art = 0
        self.spot, self.line, self.Line, self.dust = spot, line, Line, dust

    def problem(self, dink: int, dart: int, **wish: bool) -> str | None:
        return vat_frob_problem(ink=self.ink, art=self.art, dink=dink, dart=dart,
                                Art=self.art, rate=RAY, spot=self.spot, dust=self.dust,
                                debt=self.art * RAY, line=self.line, Line=self.Line, **wish)

    def try_frob(self, dink: int, dart: int) -> bool:
        ok = self.problem(dink, dart) is None
        if ok:
            self.ink += dink
            self.art += dart
        return ok


def test_lock_when_frob_in_and_out_then_ink_6_then_0():
    urn = Urn()
    assert urn.try_frob(6 * E, 0) and urn.ink == 6 * E
    assert urn.try_frob(-6 * E, 0) and urn.ink == 0


def test_calm_when_draw_above_line_then_ceiling_exceeded():
    urn = Urn(line=10 * RAD)
    assert urn.try_frob(10 * E, 9 * E)
    # 11 > 10: the ceiling is checked before safety (11 > ink x spot = 10 too).
    assert urn.problem(0, 2 * E) == "Vat/ceiling-exceeded"


def test_cool_when_over_line_then_wiping_is_allowed():
    urn = Urn(line=10 * RAD)
    assert urn.try_frob(10 * E, 8 * E)
    urn.line = 5 * RAD
    assert urn.try_frob(0, -1 * E)
    assert urn.problem(0, 1) == "Vat/ceiling-exceeded"


def test_global_Line_when_exceeded_then_ceiling_exceeded_and_wipe_allowed():
    urn = Urn(line=1000 * RAD, Line=10 * RAD)
    assert urn.try_frob(20 * E, 10 * E)
    assert urn.problem(0, 1) == "Vat/ceiling-exceeded"
    assert urn.problem(0, -1) is None


def test_safe_when_draw_beyond_ink_times_spot_then_not_safe():
    urn = Urn()
    assert urn.try_frob(10 * E, 5 * E)
    assert urn.problem(0, 6 * E) == "Vat/not-safe"  # 11 > 10


def test_nice_when_unsafe_then_only_less_risky_frobs_or_a_safe_end():
    urn = Urn()
    assert urn.try_frob(10 * E, 10 * E)
    urn.spot = RAY // 2  # now unsafe: 10 > 10 x 0.5
    assert not urn.try_frob(0, 1 * E)
    assert urn.try_frob(0, -1 * E)
    assert not urn.try_frob(-1 * E, 0)
    assert urn.try_frob(1 * E, 0)
    assert not urn.try_frob(-2 * E, -4 * E)
    assert not urn.try_frob(5 * E, 1 * E)
    assert urn.try_frob(-1 * E, -4 * E)  # ink 10, art 5: 5 <= 10 x 0.5
    urn.spot = RAY * 4 // 10
    assert urn.try_frob(5 * E, 1 * E)    # ink 15, art 6: 6 <= 15 x 0.4
    assert (urn.ink, urn.art) == (15 * E, 6 * E)


def test_dust_when_debt_left_between_0_and_dust_then_refused():
    urn = Urn()
    assert urn.try_frob(9 * E, 1 * E)
    urn.dust = 5 * RAD
    assert urn.problem(5 * E, 2 * E) == "Vat/dust"  # art 3 < 5
    assert urn.try_frob(0, 5 * E)                   # art 6
    assert urn.problem(0, -5 * E) == "Vat/dust"     # art 1 < 5
    assert urn.try_frob(0, -6 * E)                  # art 0
    # A dusty urn cannot even lock collateral (dust is asked on every frob).
    urn.art = 1 * E
    assert urn.problem(1 * E, 0) == "Vat/dust"


def test_alt_callers_when_consent_missing_then_not_allowed_in_order():
    urn = Urn()
    assert urn.try_frob(10 * E, 5 * E)
    # Anyone may lock and wipe; freeing and drawing need the owner (u), locking the
    # source of the gem (v), wiping the source of the dai (w).
    assert urn.problem(1 * E, 0, wish_u=False) is None
    assert urn.problem(1 * E, 0, wish_v=False) == "Vat/not-allowed-v"
    assert urn.problem(-1 * E, 0, wish_u=False) == "Vat/not-allowed-u"
    assert urn.problem(0, 1 * E, wish_u=False) == "Vat/not-allowed-u"
    assert urn.problem(0, -1 * E, wish_u=False) is None
    assert urn.problem(0, -1 * E, wish_w=False) == "Vat/not-allowed-w"


def test_not_live_and_ilk_not_init_come_first():
    kw = dict(ink=0, art=0, dink=1, dart=1, Art=0, spot=0, dust=10 * RAD, debt=0, line=0,
              Line=0)
    assert vat_frob_problem(rate=RAY, live=False, **kw) == "Vat/not-live"
    assert vat_frob_problem(rate=0, **kw) == "Vat/ilk-not-init"
    assert vat_frob_problem(rate=RAY, **kw) == "Vat/ceiling-exceeded"


def test_no_ceiling_when_none_then_only_safety_and_dust():
    assert vat_frob_problem(ink=E, art=0, dink=0, dart=E, Art=10**30, rate=RAY, spot=RAY,
                            dust=0, debt=10**60) is None


def test_validate_frob_when_dusty_then_typed_refusal_with_figures():
    refusal = validate_frob(ink=9 * E, art=E, dink=0, dart=2 * E, Art=E, rate=RAY,
                            spot=RAY, dust=5 * RAD, debt=E * RAY)
    assert refusal is not None and refusal.code is Code.VAT_DUST
    assert refusal.message == ("Vat/dust: the vault's debt 3 DAI would be above 0 and "
                               "below dust 5 DAI")
    assert refusal.data["tab"] == 3 * RAD and refusal.data["dust"] == 5 * RAD


def test_spot_when_feed_200_and_threshold_6666_then_133_32():
    # Spotter: spot = feed / mat with mat = 1 / 0.6666 (ETH-A's 150%, as the examples).
    assert vat_spot(200 * RAY, 6666) == 13332 * RAY // 100
    assert vat_spot(3, 5000) == 1  # floored


@pytest.mark.parametrize("negative", [dict(dink=-2 * E), dict(dart=-2 * E)])
def test_problem_when_change_leaves_negative_then_value_error(negative):
    kw = dict(ink=E, art=E, dink=0, dart=0, Art=E, rate=RAY, spot=RAY, dust=0, debt=0)
    kw.update(negative)
    with pytest.raises(ValueError):
        vat_frob_problem(**kw)
