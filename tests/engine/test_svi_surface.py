"""SVI slices as an alternative to the ATM + skew surface (SetSviSurface): raw SVI
``w(k) = a + b (rho (k - m) + sqrt((k - m)^2 + sigma^2))`` per expiry, a strike's vol
``sqrt(w / T)``; checked against a hand-computed point and Durrleman's no-butterfly
condition (Gatheral and Jacquier, *Arbitrage-free SVI volatility surfaces*, 2014).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from marginengine.engine import (
    DepositOptionCash,
    Engine,
    SetPrice,
    SetSviSurface,
    SetVolSurface,
    TradeOption,
)
from marginengine.engine.events import event_from_dict
from marginengine.errors import EventError
from marginengine.ledger.options import OptionSeries
from marginengine.pricing.svi import SVIParams
from tests.engine.test_options_engine import options_protocol

P, USDC, SIZE = 10**8, 10**6, 10**18
T = 30 * 86_400
# a 0.02, b 0.1, rho -0.5, m 0, sigma 0.1 (ppm).
SLICE = SetSviSurface("WETH", T, 20_000, 100_000, -500_000, 0, 100_000)
# Axel Vogt's slice (Gatheral and Jacquier 2014, section 2.3): inside SVI's bounds, yet
# with butterfly arbitrage.
VOGT = dict(a=-0.0410, b=0.1331, rho=0.3060, m=0.3586, sigma=0.4153)


def test_the_slice_gives_the_hand_computed_vols():
    # ATM: w(0) = 0.02 + 0.1 x 0.1 = 0.03; T = 30/365: vol = sqrt(0.03 x 365/30) = 0.604152.
    # K = 2200, F = 2000: k = ln 1.1 = 0.0953102, sqrt(k^2 + 0.01) = 0.1381450,
    # w = 0.02 + 0.1 (-0.0476551 + 0.1381450) = 0.0290490, vol = 0.594499.
    e = Engine(options_protocol())
    for ev in (SetPrice("WETH", 2_000 * P), SetPrice("USDC", P), SLICE):
        assert e.apply(ev).accepted
    vol = {k: e.option_vol(OptionSeries("WETH", T, k * P, True), 2_000.0)
           for k in (2_000, 2_200, 1_800)}
    assert vol[2_000] == pytest.approx(0.604152, abs=1e-6)
    assert vol[2_200] == pytest.approx(0.594499, abs=1e-6)
    assert vol[1_800] == pytest.approx(0.695818, abs=1e-6)     # the put wing is richer
    assert math.sqrt(0.03 * 365 / 30) == pytest.approx(vol[2_000], rel=1e-12)


def test_svi_and_atm_surfaces_replace_each_other_and_margin_reads_the_latest():
    e = Engine(options_protocol())
    for ev in (SetPrice("WETH", 2_000 * P), SetPrice("USDC", P), SLICE,
               DepositOptionCash("alice", 1_000 * USDC), DepositOptionCash("bob", 3_000 * USDC),
               TradeOption("alice", "bob", "WETH", T, 1_800 * P, False, SIZE, 40 * USDC)):
        out = e.apply(ev)
        assert out.accepted, out.reason
    put = OptionSeries("WETH", T, 1_800 * P, False)
    with_svi = e.portfolio_margin("bob")
    assert e.option_vol(put, 2_000.0) == pytest.approx(0.695818, abs=1e-6)
    assert e.apply(SetVolSurface("WETH", T, 600_000)).accepted
    assert not e.state.svi and e.option_vol(put, 2_000.0) == pytest.approx(0.6)
    flat = e.portfolio_margin("bob")
    assert with_svi is not None and flat is not None
    assert with_svi.maintenance < flat.maintenance   # the richer put wing costs margin
    assert e.apply(SLICE).accepted and not e.state.vols
    again = e.portfolio_margin("bob")
    assert again is not None and again.maintenance == with_svi.maintenance


def test_durrleman_condition_holds_on_the_slice_and_fails_on_vogts():
    ours = SLICE.params
    assert min(ours.butterfly_density_scalar(i / 20) for i in range(-60, 61)) > 0
    vogt = SVIParams(**VOGT)
    g = [vogt.butterfly_density_scalar(i / 100) for i in range(-150, 151)]
    assert min(g) < 0 and g[150] > 0         # fine at the money, negative in the wing
    with pytest.raises(EventError, match=r"SetSviSurface\.a_ppm\.\.sigma_ppm: butterfly"):
        SetSviSurface("WETH", T, *(round(VOGT[n] * 1e6) for n in ("a", "b", "rho", "m",
                                                                    "sigma")))


@pytest.mark.parametrize(("fields", "message"), [
    ({"rho_ppm": 1_000_000}, r"SetSviSurface\.rho_ppm: must be strictly between -1 and 1"),
    ({"b_ppm": -1}, r"SetSviSurface\.b_ppm: must be >= 0"),
    ({"sigma_ppm": 0}, r"SetSviSurface\.sigma_ppm: must be > 0"),
    ({"a_ppm": -100_000}, r"SetSviSurface\.a_ppm: .* < 0"),
    ({"b_ppm": 1_500_000}, r"SetSviSurface\.b_ppm: .* Lee's moment bound"),
    ({"a_ppm": 0.5}, r"SetSviSurface\.a_ppm: must be an integer"),
])
def test_bad_slices_name_the_field(fields: dict[str, object], message: str) -> None:
    data = {"type": "SetSviSurface", "underlying": "WETH", "expiry": T, "a_ppm": 20_000,
            "b_ppm": 100_000, "rho_ppm": -500_000, "m_ppm": 0, "sigma_ppm": 100_000,
            **fields}
    with pytest.raises(EventError, match=message):
        event_from_dict(data)


def test_svi_slices_replay_to_the_same_hash(tmp_path: Path) -> None:
    path = tmp_path / "svi.sqlite"
    e = Engine.with_log(options_protocol(), path)
    for ev in (SetPrice("WETH", 2_000 * P), SetPrice("USDC", P), SLICE,
               DepositOptionCash("bob", 3_000 * USDC)):
        assert e.apply(ev).accepted
    expected = e.state_hash()
    e.close()
    replayed, report = Engine.replay(path)
    assert report.state_hash == expected == replayed.state_hash()
    assert replayed.state.svi == {("WETH", T): (20_000, 100_000, -500_000, 0, 100_000)}
