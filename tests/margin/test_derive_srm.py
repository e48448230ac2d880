"""Derive's Standard Risk Manager (SRM) against Derive's own test vectors.

Source: derivexyz/v2-core at commit 7736900d395703c4f675376caa4c315402943831,
``test/risk-managers/unit-tests/StandardManager/``: ``test-cases-portfolio.json`` with its
harness ``TestStandardManager_Portfolio_Cases.t.sol`` (the 42 portfolios below, transcribed:
name, cash, options (underlying, 2023 expiry MMDD, strike, call/put, amount), perps
(underlying, amount, entry price), bases (underlying, amount), and Derive's IM and MM in
whole dollars, ``margin / 1e18`` truncated), its environment ``TestCaseExpiries.t.sol`` and
``TestStandardManagerBase.t.sol`` (spots, forwards, expiries, perp requirements), the
parameters of ``test/config-test.sol`` ``getSRMParams``; ``test-cases.json`` with
``TestStandardManager_Cases.t.sol`` (eight of its 28 scenarios, asserted there to 0.1%);
and the isolated-margin tests of ``TestStandardManager_Option.t.sol``. Run outside the
suite over all 28 scenarios of ``test-cases.json`` the module matches every IM, MM and MtM
to 1e-13 relative.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marginengine.errors import FieldError
from marginengine.fixedpoint import WAD
from marginengine.margin.derive_srm import (
    BaseMarginParams,
    DepegParams,
    MarketParams,
    OptionMarginParams,
    OracleContingencyParams,
    PerpMarginParams,
    SrmExpiry,
    SrmMarket,
    SrmOption,
    SrmParams,
    SrmPerp,
    SrmPortfolio,
    div_trunc,
    isolated_margin,
    max_loss,
    mul_trunc,
    option_mark,
    srm_margin,
)


def wad(x: float | int | str) -> int:
    """A decimal figure as wad, exactly (through its shortest repr)."""
    return int(Decimal(str(x)) * WAD)


# config-test.sol getSRMParams: the option margin parameters every case uses.
OPTION = OptionMarginParams(max_spot_req=wad("0.15"), min_spot_req=wad("0.1"),
                            mm_call_spot_req=wad("0.075"), mm_put_spot_req=wad("0.075"),
                            mm_put_mtm_req=wad("0.075"), unpaired_im_scale=wad("1.2"),
                            unpaired_mm_scale=wad("1.1"), mm_offset_scale=wad("1.05"))
ORACLE = OracleContingencyParams(wad("0.4"), wad("0.4"), wad("0.4"), wad("0.4"))
# TestStandardManagerBase.setUp: perps MM 5%, IM 6.5%.
PERP = PerpMarginParams(mm_req=wad("0.05"), im_req=wad("0.065"))

DAY = 86_400
# TestCaseExpiries: the expiries (days + 8 hours from the test's clock) and the forwards
# (spot plus these) of ETH and BTC.
EXPIRY_DAYS = {"0104": 3, "0111": 10, "0118": 17, "0227": 57, "0804": 215, "0811": 222,
               "0818": 229, "0825": 238}
FORWARD_ADD = {"eth": ["0.91345", "2.83305", "4.7545", "15.7696", "59.87416", "61.85933",
                       "63.8284", "66.3744"],
               "btc": ["12.7883", "39.66276", "66.56301", "220.77451", "838.23835",
                       "865.90472", "893.59763", "929.24184"]}
SPOT = {"eth": 2000 * WAD, "btc": 28_000 * WAD}
PERP_PRICE = {"eth": 2001 * WAD, "btc": 28_020 * WAD}  # _setUpAdditional: $1 and $20 over

PORTFOLIO_CASES: list[Any] = [
 ('long_ATM_call', 0.0, [('eth', '0111', 2000, 'c', 1.0)], [], [], 0, 0),
 ('long_ATM_put', 0.0, [('eth', '0111', 2000, 'p', 1.0)], [], [], 0, 0),
 ('short_ITM_call', 0.0, [('eth', '0111', 1500, 'c', -1.0)], [], [], -802, -652),
 ('short_ITM_put', 0.0, [('eth', '0111', 3000, 'p', -2.0)], [], [], -2594, -2294),
 ('short_OTM_call', 0.0, [('eth', '0118', 2500, 'c', -1.0)], [], [], -201, -151),
 ('short_OTM_put', 0.0, [('eth', '0111', 1100, 'p', -1.0)], [], [], -200, -150),
 ('short_call_spread_with_MaxLoss', 0.0,
  [('eth', '0111', 1800, 'c', -1.0), ('eth', '0111', 2000, 'c', 1.0)], [], [], -200, -200),
 ('short_put_spread_with_MaxLoss', 0.0,
  [('eth', '0111', 2500, 'p', 1.0), ('eth', '0111', 3000, 'p', -1.0)], [], [], -500, -500),
 ('short_call_spread_with_iso_margin', 0.0,
  [('eth', '0111', 2300, 'c', -1.0), ('eth', '0111', 4000, 'c', 1.0)], [], [], -203, -153),
 ('short_put_spread_with_iso_margin', 0.0,
  [('eth', '0111', 1200, 'p', 1.0), ('eth', '0111', 2000, 'p', -1.0)], [], [], -365, -215),
 ('short_spread_over_two_expiries_both_MaxLoss', 0.0,
  [('eth', '0111', 1800, 'c', -1.0), ('eth', '0111', 2000, 'c', 1.0),
   ('eth', '0118', 1800, 'c', -1.0), ('eth', '0118', 2000, 'c', 1.0)],
  [], [], -400, -400),
 ('short_spread_two_expiries_both_iso', 0.0,
  [('eth', '0111', 1200, 'p', 1.0), ('eth', '0111', 1500, 'p', -1.0),
   ('eth', '0227', 2500, 'c', -1.0), ('eth', '0227', 2700, 'c', 1.0)],
  [], [], -400, -331),
 ('short_spread_two_currencies_one_iso_one_MaxLoss', 0.0,
  [('eth', '0111', 3200, 'c', -1.0), ('eth', '0111', 3500, 'c', 1.0),
   ('btc', '0227', 33000, 'c', -1.0), ('btc', '0227', 35000, 'c', 1.0)],
  [], [], -2200, -2150),
 ('two_currencies_two_expiries_each_iso_and_MaxLoss_for_each', 0.0,
  [('eth', '0118', 2900, 'p', 1.0), ('eth', '0118', 3500, 'p', -1.0),
   ('eth', '0227', 3000, 'c', -1.0), ('eth', '0227', 3200, 'c', 1.0),
   ('btc', '0118', 35000, 'p', 1.0), ('btc', '0118', 38000, 'p', -1.0),
   ('btc', '0111', 36000, 'c', -1.0), ('btc', '0111', 40000, 'c', 1.0)],
  [], [], -6601, -5855),
 ('long_call_spread', 0.0, [('eth', '0111', 2900, 'c', 1.0), ('eth', '0111', 3500, 'c', -1.0)],
  [], [], 0, 0),
 ('long_put_spread', 0.0, [('eth', '0111', 2900, 'p', -1.0), ('eth', '0111', 3500, 'p', 1.0)],
  [], [], 0, 0),
 ('long_box', 0.0,
  [('eth', '0111', 1000, 'c', 1.0), ('eth', '0111', 1000, 'p', -1.0),
   ('eth', '0111', 2000, 'c', -1.0), ('eth', '0111', 2000, 'p', 1.0)],
  [], [], 0, 0),
 ('short_box', 0.0,
  [('eth', '0111', 1000, 'c', -1.0), ('eth', '0111', 1000, 'p', 1.0),
   ('eth', '0111', 2000, 'c', 1.0), ('eth', '0111', 2000, 'p', -1.0)],
  [], [], -1000, -1000),
 ('short_put_with_0_strike_MaxLoss', 0.0, [('eth', '0118', 100, 'p', -1.0)], [], [], -100,
  -100),
 ('USDC_depeg', 0.0, [('eth', '0118', 2000, 'p', -1.0)], [], [], -2496, -234),
 ('short_call_spread_with_offset', 0.0,
  [('eth', '0111', 1100, 'c', -1.01), ('eth', '0111', 1200, 'c', 1.0)], [], [], -125, -123),
 ('short_eth_call_with_btc_collateral', 0.0, [('eth', '0118', 2000, 'c', -1.0)], [],
  [('btc', 1.0)], 22010, 22160),
 ('short_btc_spread_with_eth_collateral', 0.0,
  [('btc', '0111', 20000, 'c', -1.0), ('btc', '0111', 22000, 'c', 1.0)], [], [('eth', 1.0)],
  -400, -400),
 ('borrowing_ETH', 0.0, [], [], [('eth', 1.0)], 1600, 1600),
 ('short_eth_call_with_USDC_and_BTC', 10000.0, [('eth', '0118', 2000, 'c', -1.0)], [],
  [('btc', 1.0)], 32010, 32160),
 ('long_ATM_perp', 0.0, [], [('eth', 1.0, 2005.0)], [], -134, -104),
 ('long_OTM_perp', 0.0, [], [('eth', 1.0, 2200.0)], [], -329, -299),
 ('long_ITM_perp', 0.0, [], [('eth', 1.0, 1400.0)], [], 470, 500),
 ('short_ATM_perp', 0.0, [], [('eth', -1.0, 2000.0)], [], -131, -101),
 ('short_OTM_perp', 0.0, [], [('eth', -1.0, 1500.0)], [], -631, -601),
 ('short_ITM_perp', 0.0, [], [('eth', -1.0, 2200.0)], [], 68, 98),
 ('long_perp_with_btc', 0.0, [], [('eth', 1.0, 2005.0)], [('btc', 1.0)], 22265, 22295),
 ('short_call_low_vol_conf', 0.0, [('eth', '0118', 2000, 'c', -1.0)], [], [], -1109, -239),
 ('short_call_low_vol_and_fwd_confidence', 0.0, [('eth', '0118', 2000, 'c', -1.0)], [], [],
  -869, -239),
 ('short_call_low_spot_vol_fwd_confidence', 0.0, [('eth', '0118', 2000, 'c', -1.0)], [], [],
  -1029, -239),
 ('long_call_low_spot_vol_fwd_confidence', 0.0, [('eth', '0118', 2000, 'c', 1.0)], [], [], 0,
  0),
 ('short_options_two_expiries_low_conf_one_expiry', 0.0,
  [('eth', '0118', 2000, 'c', -1.0), ('eth', '0227', 2300, 'p', -2.0)], [], [], -2246, -1236),
 ('long_eth_perp_low_perp_confidence', 0.0, [], [('eth', 1.0, 2005.0)], [], -854, -104),
 ('base_asset_low_spot_confidence', 0.0, [], [], [('eth', 1.0)], 880, 1600),
 ('ITM_put_with_IM_multiple_of_MM', 0.0, [('eth', '0104', 7400, 'p', -1.0)], [], [], -6094,
  -5804),
 ('long_perp_and_USDC_depeg', 0.0, [], [('eth', 1.0, 2005.0)], [], -2246, -104),
 ('general_portfolio', -3522.42,
  [('eth', '0104', 7400, 'p', -1.0), ('eth', '0118', 7400, 'p', -1.0),
   ('eth', '0118', 2000, 'c', -4.0), ('eth', '0118', 2000, 'p', 2.1),
   ('eth', '0118', 2500, 'c', 14.0), ('eth', '0118', 2500, 'p', 32.1),
   ('eth', '0227', 1000, 'c', 100.0), ('btc', '0111', 24450, 'c', -1.2),
   ('btc', '0111', 24800, 'c', 1.2), ('btc', '0227', 10000, 'p', -11.0)],
  [('eth', 2.0, 2007.0), ('btc', -4.0, 30000.0)], [('eth', 4.0), ('btc', 19.0)], 371310,
  394499)]

# The per-test overrides of TestStandardManager_Portfolio_Cases.t.sol: stable price, vols
# (vol, confidence) of (underlying, expiry, strike), forwards (price, confidence), spot and
# perp confidences.
OVERRIDES: dict[str, dict[str, Any]] = {
    "USDC_depeg": {"stable": wad("0.1")},
    "long_perp_and_USDC_depeg": {"stable": wad("0.1")},
    "short_call_low_vol_conf": {"vols": {("eth", "0118", 2000): (wad("0.5"), wad("0.1"))}},
    "short_call_low_vol_and_fwd_confidence": {
        "vols": {("eth", "0118", 2000): (wad("0.5"), wad("0.5"))},
        "forwards": {("eth", "0118"): (wad("2004.75"), wad("0.4") - 1)}},
    "short_call_low_spot_vol_fwd_confidence": {
        "vols": {("eth", "0118", 2000): (wad("0.5"), wad("0.5"))},
        "forwards": {("eth", "0118"): (wad("2004.75"), wad("0.4"))}, "spot_conf": wad("0.2")},
    "long_call_low_spot_vol_fwd_confidence": {
        "vols": {("eth", "0118", 2000): (wad("0.5"), wad("0.5"))},
        "forwards": {("eth", "0118"): (wad("2004.75"), wad("0.4"))}, "spot_conf": wad("0.2")},
    "short_options_two_expiries_low_conf_one_expiry": {
        "vols": {("eth", "0118", 2000): (wad("0.5"), wad("0.3"))},
        "forwards": {("eth", "0118"): (wad("2004.75"), wad("0.4"))}, "spot_conf": wad("0.9")},
    "long_eth_perp_low_perp_confidence": {"perp_conf": wad("0.1")},
    "base_asset_low_spot_confidence": {"spot_conf": wad("0.1")},
    "general_portfolio": {
        "stable": wad("0.97"), "vols": {("eth", "0118", 2000): (wad("0.5"), wad("0.5"))},
        "forwards": {("eth", "0118"): (wad("2004.75"), wad("0.4") - 1)},
        "spot_conf": wad("0.2")},
}


def portfolio_case(name: str, cash: float, options: list[Any], perps: list[Any],
                   bases: list[Any]) -> tuple[SrmPortfolio, SrmParams]:
    """The harness's portfolio: a vol of 50% at confidence 1 for each strike not set
    before (MockFeeds keeps one vol confidence per expiry: the last one set), ETH-only
    overrides, perps' unrealised P&L ``(perp price - entry) x amount``."""
    o = OVERRIDES.get(name, {})
    vols: dict[tuple[str, str, int], int] = {}
    vol_conf: dict[tuple[str, str], int] = {}
    for (u, e, k), (v, c) in o.get("vols", {}).items():
        vols[u, e, k] = v
        vol_conf[u, e] = c
    for u, e, k, _, _ in options:
        if (u, e, k) not in vols:
            vols[u, e, k] = wad("0.5")
            vol_conf[u, e] = WAD
    markets = []
    for u in ("eth", "btc"):
        by_expiry: dict[str, list[SrmOption]] = {}
        for ou, e, k, kind, amount in options:
            if ou == u:
                by_expiry.setdefault(e, []).append(
                    SrmOption(k * WAD, kind == "c", wad(amount), vols[u, e, k]))
        perp = None
        for pu, amount, entry in perps:
            if pu == u:
                size = wad(amount)
                perp = SrmPerp(size, PERP_PRICE[u],
                               o.get("perp_conf", WAD) if u == "eth" else WAD,
                               mul_trunc(PERP_PRICE[u] - wad(entry), size))
        base = sum(wad(a) for bu, a in bases if bu == u)
        if not by_expiry and perp is None and not base:
            continue
        expiries = []
        for e, held in by_expiry.items():
            default = SPOT[u] + wad(FORWARD_ADD[u][list(EXPIRY_DAYS).index(e)])
            fwd, fwd_conf = o.get("forwards", {}).get((u, e), (default, WAD))
            expiries.append(SrmExpiry(EXPIRY_DAYS[e] * DAY + 8 * 3600, fwd, tuple(held),
                                      fwd_conf, vol_conf[u, e]))
        markets.append(SrmMarket(u, SPOT[u], o.get("spot_conf", WAD) if u == "eth" else WAD,
                                 perp, base, tuple(expiries)))
    # The portfolio cases' setUp: bases count 80% (IM scale 1), depeg 0.98 / 1.2.
    mp = MarketParams(OPTION, PERP, BaseMarginParams(wad("0.8"), WAD), ORACLE)
    params = SrmParams({"eth": mp, "btc": mp}, DepegParams(wad("0.98"), wad("1.2")))
    return (SrmPortfolio(tuple(markets), wad(cash), o.get("stable", WAD)), params)


def whole(x: int) -> int:
    """Solidity's ``x / 1e18``: toward zero."""
    return int(Decimal(x) / WAD)


@pytest.mark.parametrize("case", PORTFOLIO_CASES, ids=[c[0] for c in PORTFOLIO_CASES])
def test_srm_margin_when_derive_portfolio_case_then_im_and_mm_match(case: Any) -> None:
    name, cash, options, perps, bases, im, mm = case
    portfolio, params = portfolio_case(name, cash, options, perps, bases)
    assert whole(srm_margin(portfolio, params, initial=True).margin) == im
    assert whole(srm_margin(portfolio, params, initial=False).margin) == mm


def test_srm_margin_when_general_portfolio_then_parts_are_derives_rules() -> None:
    # The largest case, to the wei of our figures: two markets, perps, bases, four
    # expiries, depeg (stable 0.97) and low spot confidence on ETH.
    case = next(c for c in PORTFOLIO_CASES if c[0] == "general_portfolio")
    portfolio, params = portfolio_case(*case[:5])
    im = srm_margin(portfolio, params, initial=True)
    eth = im.markets[0]
    # depeg: (0.98 - 0.97) x 1.2 = 0.012 per unit, on |perp| 2 + shorts 1 + 1 + 4 = 8, x spot.
    assert eth.depeg == -mul_trunc(mul_trunc(8 * WAD, wad("0.012")), 2000 * WAD)
    assert eth.depeg == -192 * WAD
    # base: 4 ETH x 2,000 x 80%, less (1 - 0.2) x 0.4 of the 8,000 notional (spot conf 0.2).
    assert eth.base == 6400 * WAD - 2560 * WAD
    assert im.margin == sum(m.margin for m in im.markets) + portfolio.cash
    assert whole(im.margin) == 371_310


# --- test-cases.json (TestStandardManager_Cases.t.sol): 0.1% there; ours to 1e-12.
# Spot 1,500 ETH / 28,000 BTC; perp prices 1,505 / 27,990; bases count 10% (IM scale 1).
# Per scenario: options (expiry s, strike, call, amount, vol, vol confidence), the
# forward of that expiry, cash, ETH perp (size, entry, global and account funding index),
# wETH, stable price; Derive's realIM, realMM and PortfolioMtM (wei).
SCENARIOS: list[Any] = [('Test1',
  [(500400, 1500, True, -WAD, 1047884494084986240, WAD)],
  {500400: (1500833279310993817600, WAD)}, None, 0, WAD,
  -304371585189059952640, -191871585189059952640, -79371585189059936256),
 ('Test5',
  [(500400, 1100, True, -WAD, 1198874027186882048, WAD),
   (500400, 1300, True, WAD, 1083189415509876480, WAD)],
  {500400: (1500833279310993817600, WAD)}, None, 0, WAD,
  -200000000000000000000, -200000000000000000000, -187084637669546065920),
 ('Test17', [], {}, (WAD, 1535000000000000000000, 0, 10000000000000000000), 0,
  WAD, -117825000000000000000, -95250000000000000000, -20000000000000000000),
 ('Test19',
  [(500400, 1800, True, -WAD, 1149296483209361792, WAD)],
  {500400: (1500833279310993817600, WAD)}, None, WAD,
  WAD, -11877712074679975936, 25622287925320024064, 1488122287925319958528),
 ('Test20', [], {}, None, WAD, 150000000000000000, -360000000000000000000,
  149999999999999967232, 1500000000000000000000),
 ('Test21',
  [(500400, 4500, False, -WAD, 1597344442228649472, WAD)],
  {500400: (1500833279310993817600, WAD)}, None, 0, WAD,
  -3385309438429764255744, -3224104227075965583360, -2999166722861363625984),
 ('Test24',
  [(900, 1500, True, -WAD, 1048124566815733120, WAD)],
  {900: (1450168707905438089216, WAD)}, None, 0, WAD,
  -225000000001042219008, -112500000001042202624, -1042212373),
 ('Test25',
  [(900, 1200, True, WAD, 1138552060953866880, WAD),
   (900, 1000, True, -WAD, 1261652886173746688, WAD),
   (900, 2500, True, -100000000000000000, 1326819474341134848, WAD)],
  {900: (1450168707905438089216, WAD)}, None, 0, WAD,
  -374020244948652589056, -359518557869598244864, -200000000000000000000)]


@pytest.mark.parametrize("case", SCENARIOS, ids=[c[0] for c in SCENARIOS])
def test_srm_margin_when_derive_scenario_then_im_mm_and_mtm_match(case: Any) -> None:
    _, options, forwards, perp, weth, spot_conf, im, mm, mtm = case
    by_expiry: dict[int, list[SrmOption]] = {}
    vol_conf: dict[int, int] = {}
    for tte, strike, is_call, amount, vol, conf in options:
        by_expiry.setdefault(tte, []).append(SrmOption(strike * WAD, is_call, amount, vol))
        vol_conf[tte] = conf  # MockFeeds: the last vol set on an expiry sets its confidence
    expiries = tuple(SrmExpiry(t, forwards[t][0], tuple(held), forwards[t][1], vol_conf[t])
                     for t, held in by_expiry.items())
    srm_perp = None
    if perp is not None:
        size, entry, global_index, account_index = perp
        price = 1505 * WAD
        # The harness's P&L (price - entry) x size and funding -size x (global - account).
        pnl = mul_trunc(price - entry, size) - mul_trunc(size, global_index - account_index)
        srm_perp = SrmPerp(size, price, WAD, pnl)
    market = SrmMarket("ETH", 1500 * WAD, spot_conf, srm_perp, weth, expiries)
    mp = MarketParams(OPTION, PERP, BaseMarginParams(wad("0.1"), WAD), ORACLE)
    params = SrmParams({"ETH": mp}, DepegParams(wad("0.98"), wad("1.2")))
    portfolio = SrmPortfolio((market,))
    got_im = srm_margin(portfolio, params, initial=True)
    got_mm = srm_margin(portfolio, params, initial=False)
    # Derive asserts 0.1%; the only float is each option's Black-76 mark.
    assert got_im.margin == pytest.approx(im, rel=1e-12, abs=1e4)
    assert got_mm.margin == pytest.approx(mm, rel=1e-12, abs=1e4)
    assert got_im.mtm == pytest.approx(mtm, rel=1e-12, abs=1e4)
    assert got_mm.mtm == got_im.mtm


# --- TestStandardManager_Option.t.sol: spot and forward 1,500, 91 days, no vol set (0:
# the mark is the intrinsic value), unpaired scales 1.4 (IM) and 1.2 (MM).
OPTION_TEST = OptionMarginParams(wad("0.15"), wad("0.1"), wad("0.075"), wad("0.075"),
                                 wad("0.075"), wad("1.4"), wad("1.2"), wad("1.05"))
EXPIRY_91D = SrmExpiry(91 * DAY, 1500 * WAD, ())


@pytest.mark.parametrize(("strike", "is_call", "im", "mm"), [
    (1400, True, "-325", "-212.5"),    # ATM call, mark 100: 0.15 x 1,500 + 100
    (400, True, "-1325", "-1212.5"),   # ITM call, mark 1,100
    (1600, True, "-150", "-112.5"),    # OTM call: the 10% floor
    (1600, False, "-325", "-212.5"),   # ATM put, mark 100
    (3000, False, "-1725", "-1612.5"),  # ITM put, mark 1,500: IM below 1.05 x MM
    (1400, False, "-150", "-112.5"),   # OTM put
])
def test_isolated_margin_when_one_short_option_then_derives_figures(
        strike: int, is_call: bool, im: str, mm: str) -> None:
    short = SrmOption(strike * WAD, is_call, -WAD, 0)
    assert isolated_margin(short, EXPIRY_91D, 1500 * WAD, OPTION_TEST, True)[0] == wad(im)
    assert isolated_margin(short, EXPIRY_91D, 1500 * WAD, OPTION_TEST, False)[0] == wad(mm)
    long = SrmOption(strike * WAD, is_call, WAD, 0)
    assert isolated_margin(long, EXPIRY_91D, 1500 * WAD, OPTION_TEST, True)[0] == 0


def _option_test_params(oracle: OracleContingencyParams | None = None) -> SrmParams:
    mp = MarketParams(OPTION_TEST, PerpMarginParams(wad("0.05"), wad("0.1")),
                      oracle=oracle or OracleContingencyParams())
    return SrmParams({"ETH": mp}, DepegParams(wad("0.98"), wad("1.3")))


def test_srm_margin_when_unpaired_short_call_then_charged_forward_times_scale() -> None:
    # testUnpairedLegsAreChargedInMargin: short 1.01 1500-calls, long 1 1600-call, 123
    # cash: max loss at 1,600 is -101, plus 1.4 x 1,500 x -0.01 = -21 for the unpaired
    # 0.01: IM = 123 - 122 = 1 (the trade passes). The isolated margin, -227.25, is worse.
    spread = SrmExpiry(91 * DAY, 1500 * WAD, (SrmOption(1500 * WAD, True, wad("-1.01"), 0),
                                              SrmOption(1600 * WAD, True, WAD, 0)))
    book = SrmPortfolio((SrmMarket("ETH", 1500 * WAD, expiries=(spread,)),), cash=123 * WAD)
    assert srm_margin(book, _option_test_params(), initial=True).margin == WAD
    assert max_loss(spread.options, 1600 * WAD) == -101 * WAD
    # MM: the max loss is -101 - 1.2 x 1,500 x 0.01 = -119, the isolated margin
    # 0.075 x 1,500 x -1.01 = -113.625 is the better of the two: MM = 123 - 113.625.
    assert srm_margin(book, _option_test_params(), initial=False).margin == wad("9.375")


def test_srm_margin_when_spot_confidence_low_then_im_adds_oracle_contingency() -> None:
    # testOracleContingencyOnOptions: 10 short 2000-calls, thresholds (0.8, 0.9, 0.8),
    # factor 0.1; spot confidence 1 -> 0.8: IM falls by (1 - 0.8) x 1,500 x 10 x 0.1 = 300,
    # MM and MtM do not move.
    params = _option_test_params(OracleContingencyParams(wad("0.8"), wad("0.9"), wad("0.8"),
                                                         wad("0.1")))
    expiry = SrmExpiry(91 * DAY, 1500 * WAD, (SrmOption(2000 * WAD, True, -10 * WAD, 0),))

    def book(conf: int) -> SrmPortfolio:
        return SrmPortfolio((SrmMarket("ETH", 1500 * WAD, conf, expiries=(expiry,)),))

    before = srm_margin(book(WAD), params, initial=True)
    after = srm_margin(book(wad("0.8")), params, initial=True)
    assert after.margin - before.margin == -300 * WAD
    assert after.mtm == before.mtm
    assert (srm_margin(book(wad("0.8")), params, initial=False).margin
            == srm_margin(book(WAD), params, initial=False).margin)


def test_srm_margin_when_zero_strike_call_spread_then_max_loss_is_the_width() -> None:
    # testCanTradeZeroStrikeSpreadWithMaxLoss: short a 0-strike call, long a 400-call;
    # 400 of cash suffices (a zero-strike call is worth the forward, Derive's limit).
    spread = SrmExpiry(91 * DAY, 1500 * WAD, (SrmOption(0, True, -WAD, 0),
                                              SrmOption(400 * WAD, True, WAD, 0)))
    book = SrmPortfolio((SrmMarket("ETH", 1500 * WAD, expiries=(spread,)),), cash=400 * WAD)
    result = srm_margin(book, _option_test_params(), initial=True)
    assert result.margin == 0
    # Marks: -1,500 (the zero-strike call) + 1,100 (the 400-call's intrinsic value).
    assert result.markets[0].options_mtm == -400 * WAD
    assert result.mtm == 0


def test_fixed_point_when_negative_then_rounds_toward_zero_as_solidity() -> None:
    assert mul_trunc(-3, WAD // 2) == -1  # -1.5 wei -> -1
    assert mul_trunc(3, WAD // 2) == 1
    assert div_trunc(-WAD, 3 * WAD) == -333_333_333_333_333_333
    assert div_trunc(WAD, -3 * WAD) == -333_333_333_333_333_333


@pytest.mark.parametrize(("build", "message"), [
    (lambda: OptionMarginParams(wad("1.3"), 0, 0, 0, 0, WAD, WAD, WAD),
     "option.max_spot_req: must be <= 1200000000000000000 (got 1300000000000000000)"),
    (lambda: OptionMarginParams(0, 0, 0, 0, 0, WAD, WAD, WAD // 2),
     "option.mm_offset_scale: must be >= 1000000000000000000 (got 500000000000000000)"),
    (lambda: PerpMarginParams(wad("0.1"), wad("0.05")),
     "perp.im_req: must be >= 100000000000000000 (got 50000000000000000)"),
    (lambda: PerpMarginParams(0, wad("0.05")), "perp.mm_req: must be >= 1 (got 0)"),
    (lambda: DepegParams(WAD, 4 * WAD),
     "depeg.depeg_factor: must be <= 3000000000000000000 (got 4000000000000000000)"),
    (lambda: OptionMarginParams(0.15, 0, 0, 0, 0, WAD, WAD, WAD),  # type: ignore[arg-type]
     "option.max_spot_req: must be an int in wad (got 0.15)"),
])
def test_params_when_out_of_derives_bounds_then_error_names_field(build: Any,
                                                                   message: str) -> None:
    with pytest.raises(FieldError) as err:
        build()
    assert str(err.value) == message


def test_srm_margin_when_bad_portfolio_then_error_names_field() -> None:
    params = _option_test_params()
    no_forward = SrmExpiry(DAY, 0, (SrmOption(WAD, True, -WAD, 0),))
    with pytest.raises(FieldError, match=r"^markets\.0\.expiries\.0\.forward: must be >= 1"):
        srm_margin(SrmPortfolio((SrmMarket("ETH", WAD, expiries=(no_forward,)),)), params, True)
    with pytest.raises(FieldError, match=r"^markets\.0\.base_position: must be >= 0"):
        srm_margin(SrmPortfolio((SrmMarket("ETH", WAD, base_position=-1),)), params, True)
    with pytest.raises(FieldError, match="'BTC' has no parameters"):
        srm_margin(SrmPortfolio((SrmMarket("BTC", WAD),)), params, True)
    twice = SrmExpiry(DAY, WAD, (SrmOption(WAD, True, -WAD, 0), SrmOption(WAD, True, WAD, 0)))
    with pytest.raises(FieldError, match=r"options\.1: holds the same option"):
        srm_margin(SrmPortfolio((SrmMarket("ETH", WAD, expiries=(twice,)),)), params, True)


def test_option_mark_when_zero_strike_then_derives_limit() -> None:
    # derivexyz/lyra-utils test/math/Black76.t.sol testPrices case 7 (ZSC): the call is
    # worth the forward (undiscounted, as the SRM prices), the put 0. Our Black-76 refuses
    # K = 0; the SRM's mark takes it.
    assert option_mark(1000 * WAD, 0, 365 * DAY, 4 * WAD, True) == 1000 * WAD
    assert option_mark(1000 * WAD, 0, 365 * DAY, 4 * WAD, False) == 0


@settings(max_examples=200, deadline=None)
@given(st.integers(100, 5_000), st.integers(1, 400 * DAY), st.integers(1, 50),
       st.floats(0.5, 1.5), st.floats(0.001, 0.4), st.booleans(), st.booleans(),
       st.integers(1, 30), st.integers(10**16, 3 * WAD), st.integers(10**16, 3 * WAD))
def test_srm_margin_when_any_short_spread_then_cash_needed_at_most_the_width(
        spot: int, tte: int, forward_bp: int, moneyness: float, width: float, is_call: bool,
        initial: bool, n: int, vol_short: int, vol_long: int) -> None:
    # StandardManager._calcNetBasicMarginSingleExpiry: an expiry's margin is the better of
    # its isolated margins and its max loss (the payoff at 0 and at each strike held), and
    # a spread has no net short call (no unpaired charge). So the cash a short vertical
    # spread needs (margin with no cash, its marks included) is never above its width x
    # size, whatever the spot, forward, vols and time (the premium it sold aside).
    low = int(spot * moneyness) * WAD
    high = low + max(1, int(spot * width)) * WAD
    size = n * WAD
    legs = ((SrmOption(low, True, -size, vol_short), SrmOption(high, True, size, vol_long))
            if is_call else
            (SrmOption(high, False, -size, vol_short), SrmOption(low, False, size, vol_long)))
    forward = spot * WAD * (10_000 + forward_bp - 25) // 10_000
    book = SrmPortfolio((SrmMarket("ETH", spot * WAD,
                                   expiries=(SrmExpiry(tte, forward, legs),)),))
    result = srm_margin(book, _option_test_params(), initial=initial)
    assert -result.margin <= (high - low) * n
    # And a short spread always needs some cash: both of the two bounds are negative.
    assert result.margin < 0
