"""Derive's (Lyra v2) Standard Risk Manager (SRM): options margined strike by strike, with
the max loss of each expiry as a cap, perps and base assets per market, exact in wad.

Reference (read, not copied): ``derivexyz/v2-core`` at commit
7736900d395703c4f675376caa4c315402943831, ``src/risk-managers/StandardManager.sol``
(``_getMarginAndMarkToMarket``, ``_getMarketMargin``, ``_getNetPerpMargin``,
``_getNetOptionMarginAndMtM``, ``_getBaseMarginAndMtM``, ``_calcNetBasicMarginSingleExpiry``,
``_getIsolatedMarginForCall`` / ``ForPut``, ``_calcMaxLoss``, ``_getDepegMultiplier``,
the setters' bounds) and ``src/risk-managers/SRMPortfolioViewer.sol``
(``arrangeSRMPortfolio``: the net calls and short positions of each expiry, the depeg
position of each market). Checked against every case of
``test/risk-managers/unit-tests/StandardManager/test-cases-portfolio.json`` and the
isolated-margin tests of ``TestStandardManager_Option.t.sol``
(``tests/margin/test_derive_srm.py``). The parameter structures (Derive's, with its
setters' bounds) are :mod:`marginengine.config.derive_managers`, re-exported here; the
preset ``derive-srm`` runs this rule through the portfolio faces
(:mod:`marginengine.margin.portfolio_rules`).

Every amount is an int in wad (18 decimals: 1.5 ETH is ``1_500_000_000_000_000_000``, a
price of 2,000 USD is ``2_000 * WAD``); margins use Derive's sign (a margin >= 0 is met,
``-325 * WAD`` means 325 of cash is required). Every product and quotient is rounded the
way Derive's ``DecimalMath`` (unsigned: down) and ``SignedDecimalMath`` (signed: toward
zero) round, in the same order, so the figures are Derive's to the wei once the option
marks are. The one float is each option's Black-76 mark (Derive prices it with its own
fixed-point Black76 library, undiscounted): it is fixed to the nearest wei per option
(:func:`option_mark`), then every step is exact.

For one market (one underlying) of a portfolio:

- **Options, per expiry**: each short option's *isolated* margin (below) summed, or the
  expiry's *max loss* if that is better: the least payoff at settlement over the prices 0
  and every strike held, capped at 0, plus ``unpaired_scale x forward x net calls`` when
  the expiry is net short calls (its loss is unbounded above). Longs add no margin.
- **Isolated short call**: MM ``mtm + mm_call_spot_req x spot x amount``; IM
  ``mtm + max(max_spot_req - otm, min_spot_req) x spot x amount`` with
  ``otm = (strike - spot) / spot`` (0 in the money).
- **Isolated short put**: MM ``min(mm_put_spot_req x spot x amount, mm_put_mtm_req x mtm)
  + mtm``; IM ``min(mtm + max(max_spot_req - otm, min_spot_req) x spot x amount,
  mm_offset_scale x MM)`` with ``otm = (spot - strike) / spot``.
- **Perp**: ``-|size| x perp price x (im or mm requirement)`` plus its unrealised P&L.
- **Base asset** (a positive balance): ``size x spot x margin_factor`` (IM: times
  ``im_scale``) counts as margin, ``size x spot / stable price`` as mark-to-market.
- **IM only**: oracle contingencies ``(1 - confidence) x oc_factor x spot x units`` for
  the perp (units its size, confidence the least of perp's and spot's), each expiry
  (its short units; the least of spot's, the forward's and the vols'), the base (its
  notional instead of spot x units; spot's confidence), each when below its threshold;
  and the depeg add-on ``(threshold - stable price) x depeg_factor x spot x (|perp| +
  short options)`` when the stablecoin trades below the threshold.

The portfolio's margin is the sum over markets plus cash; so is its mark-to-market
(options at mark, perps' unrealised P&L, bases' value).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from marginengine.config.derive_managers import (
    BaseMarginParams,
    DepegParams,
    MarketParams,
    OptionMarginParams,
    OracleContingencyParams,
    PerpMarginParams,
    SrmParams,
    wad_int,
)
from marginengine.errors import FieldError, field_path
from marginengine.fixedpoint import WAD, Rounding, div_toward_zero
from marginengine.pricing.black76 import price
from marginengine.pricing.fixing import premium_to_units
from marginengine.pricing.scenarios import SECONDS_PER_YEAR


def mul_trunc(a: int, b: int) -> int:
    """``a x b / WAD`` rounded toward zero (Derive's ``multiplyDecimal``; for operands >= 0
    it is the floor, as ``DecimalMath`` rounds)."""
    return div_toward_zero(a * b, WAD)


def div_trunc(a: int, b: int) -> int:
    """``a x WAD / b`` rounded toward zero (Derive's ``divideDecimal``); ``b`` != 0."""
    return div_toward_zero(a * WAD, b)


def _confidence(name: str, value: object) -> int:
    return wad_int(name, value, 0, WAD)


# --------------------------------------------------------------------------- portfolio


@dataclass(frozen=True)
class SrmOption:
    """One option held: strike (wad, >= 0), type, signed balance (wad) and the vol its
    mark is priced at (wad, 0.5 is 50%)."""

    strike: int
    is_call: bool
    balance: int
    vol: int


@dataclass(frozen=True)
class SrmExpiry:
    """The options of one expiry, its forward (wad, > 0: Derive refuses a missing one,
    ``SRM_NoForwardPrice``), seconds to expiry and the forward's and vols' confidences."""

    sec_to_expiry: int
    forward: int
    options: tuple[SrmOption, ...]
    forward_confidence: int = WAD
    vol_confidence: int = WAD


@dataclass(frozen=True)
class SrmPerp:
    """A perp position: signed size, the perp's mark price and confidence, and the
    unrealised P&L and funding owed to the account (wad, part of margin and MtM)."""

    position: int
    price: int
    confidence: int = WAD
    unrealized_pnl: int = 0


@dataclass(frozen=True)
class SrmMarket:
    """One market's holdings: spot (wad, > 0) and its confidence, a perp, a base balance
    (>= 0) and the option expiries."""

    market: str
    spot: int
    spot_confidence: int = WAD
    perp: SrmPerp | None = None
    base_position: int = 0
    expiries: tuple[SrmExpiry, ...] = ()


@dataclass(frozen=True)
class SrmPortfolio:
    """A standard-margined account: its markets, cash (wad, negative: borrowed) and the
    stablecoin's price (wad, > 0)."""

    markets: tuple[SrmMarket, ...]
    cash: int = 0
    stable_price: int = WAD


def _validate(p: SrmPortfolio, params: SrmParams) -> None:
    wad_int("cash", p.cash)
    wad_int("stable_price", p.stable_price, 1)
    seen: set[str] = set()
    for i, m in enumerate(p.markets):
        if m.market in seen:
            raise FieldError(field_path("markets", i, "market"), f"{m.market!r} appears twice")
        seen.add(m.market)
        if m.market not in params.markets:
            raise FieldError(field_path("markets", i, "market"),
                             f"{m.market!r} has no parameters in SrmParams.markets")
        wad_int(field_path("markets", i, "spot"), m.spot, 1)
        _confidence(field_path("markets", i, "spot_confidence"), m.spot_confidence)
        # Derive's viewer casts the base balance to uint: a negative one reverts.
        wad_int(field_path("markets", i, "base_position"), m.base_position, 0)
        if m.perp is not None:
            wad_int(field_path("markets", i, "perp", "position"), m.perp.position)
            wad_int(field_path("markets", i, "perp", "price"), m.perp.price, 0)
            _confidence(field_path("markets", i, "perp", "confidence"), m.perp.confidence)
            wad_int(field_path("markets", i, "perp", "unrealized_pnl"), m.perp.unrealized_pnl)
        for j, e in enumerate(m.expiries):
            where = ("markets", i, "expiries", j)
            wad_int(field_path(*where, "sec_to_expiry"), e.sec_to_expiry, 0)
            wad_int(field_path(*where, "forward"), e.forward, 1)
            _confidence(field_path(*where, "forward_confidence"), e.forward_confidence)
            _confidence(field_path(*where, "vol_confidence"), e.vol_confidence)
            held: set[tuple[int, bool]] = set()
            for k, o in enumerate(e.options):
                wad_int(field_path(*where, "options", k, "strike"), o.strike, 0)
                wad_int(field_path(*where, "options", k, "balance"), o.balance)
                wad_int(field_path(*where, "options", k, "vol"), o.vol, 0)
                if not isinstance(o.is_call, bool):
                    raise FieldError(field_path(*where, "options", k, "is_call"),
                                     f"must be true or false (got {o.is_call!r})")
                if (o.strike, o.is_call) in held:
                    raise FieldError(field_path(*where, "options", k),
                                     "holds the same option as an earlier entry (one "
                                     "balance per strike and type, as Derive's sub-ids)")
                held.add((o.strike, o.is_call))


# --------------------------------------------------------------------------- the rules


def option_mark(forward: int, strike: int, sec_to_expiry: int, vol: int, is_call: bool) -> int:
    """Mark of one option (wad per unit): undiscounted Black-76, as the SRM's
    ``_getMarkToMarket`` (discount 1), fixed to the nearest wei.

    A zero strike is Derive's limit (a call is worth the forward, a put nothing); our
    Black-76 refuses a zero strike, so it is handled here.
    """
    if strike == 0:
        return forward if is_call else 0
    value = float(price(forward / WAD, strike / WAD, sec_to_expiry / SECONDS_PER_YEAR,
                        vol / WAD, 0.0, is_call))
    return premium_to_units(value, WAD, Rounding.HALF_UP)


def _im_spot_multiplier(otm_ratio: int, o: OptionMarginParams, spot: int) -> int:
    # Derive's rule: max_spot_req - otm, unless that is not above min_spot_req.
    mult = o.min_spot_req
    if o.max_spot_req > otm_ratio and o.max_spot_req - otm_ratio > o.min_spot_req:
        mult = o.max_spot_req - otm_ratio
    return mul_trunc(mult, spot)


def isolated_call_margin(mtm: int, strike: int, amount: int, spot: int,
                         o: OptionMarginParams, initial: bool) -> int:
    """Derive's ``_getIsolatedMarginForCall``: the margin (<= 0) of ``amount`` (< 0) short
    calls whose mark-to-market is ``mtm`` (<= 0)."""
    if not initial:
        return mtm + mul_trunc(mul_trunc(o.mm_call_spot_req, spot), amount)
    otm = div_trunc(strike - spot, spot) if strike > spot else 0
    return mul_trunc(_im_spot_multiplier(otm, o, spot), amount) + mtm


def isolated_put_margin(mtm: int, strike: int, amount: int, spot: int,
                        o: OptionMarginParams, initial: bool) -> int:
    """Derive's ``_getIsolatedMarginForPut``: as :func:`isolated_call_margin` for puts."""
    maintenance = min(mul_trunc(mul_trunc(o.mm_put_spot_req, spot), amount),
                      mul_trunc(o.mm_put_mtm_req, mtm)) + mtm
    if not initial:
        return maintenance
    otm = div_trunc(spot - strike, spot) if spot > strike else 0
    return min(mul_trunc(_im_spot_multiplier(otm, o, spot), amount) + mtm,
               mul_trunc(maintenance, o.mm_offset_scale))


def isolated_margin(option: SrmOption, expiry: SrmExpiry, spot: int,
                    o: OptionMarginParams, initial: bool) -> tuple[int, int]:
    """``(margin, mark-to-market)`` of one holding in isolation (Derive's
    ``getIsolatedMargin``); a long holding has margin 0."""
    unit = option_mark(expiry.forward, option.strike, expiry.sec_to_expiry, option.vol,
                       option.is_call)
    mtm = mul_trunc(unit, option.balance)
    if option.balance > 0:
        return 0, mtm
    rule = isolated_call_margin if option.is_call else isolated_put_margin
    return rule(mtm, option.strike, option.balance, spot, o, initial), mtm


def settlement_value(option: SrmOption, settlement_price: int) -> int:
    """What ``option`` pays (signed, wad) at ``settlement_price`` (Derive's
    ``_getSettlementValue``)."""
    diff = settlement_price - option.strike
    if option.is_call and diff > 0:
        return mul_trunc(diff, option.balance)
    if not option.is_call and diff < 0:
        return -mul_trunc(diff, option.balance)
    return 0


def max_loss(options: Sequence[SrmOption], settlement_price: int) -> int:
    """The expiry's payoff at ``settlement_price``, capped at 0 (Derive's ``_calcMaxLoss``)."""
    return min(sum(settlement_value(x, settlement_price) for x in options), 0)


def expiry_margin(expiry: SrmExpiry, spot: int, o: OptionMarginParams,
                  initial: bool) -> tuple[int, int]:
    """``(margin, mark-to-market)`` of one expiry (Derive's
    ``_calcNetBasicMarginSingleExpiry``): the better of the isolated margins summed and the
    max loss over settlement at 0 and at each strike held, the latter charged
    ``unpaired_scale x forward`` per net short call."""
    worst = max_loss(expiry.options, 0)
    isolated = mtm = 0
    for x in expiry.options:
        margin, value = isolated_margin(x, expiry, spot, o, initial)
        isolated += margin
        mtm += value
        worst = min(worst, max_loss(expiry.options, x.strike))
    net_calls = sum(x.balance for x in expiry.options if x.is_call)
    if net_calls < 0:
        scale = o.unpaired_im_scale if initial else o.unpaired_mm_scale
        worst += mul_trunc(mul_trunc(scale, expiry.forward), net_calls)
    return max(isolated, worst), mtm


def _contingency(confidence: int, oc: OracleContingencyParams, exposure: int) -> int:
    """``(1 - confidence) x oc_factor x exposure`` (>= 0), each product floored in
    Derive's order."""
    return mul_trunc(mul_trunc(WAD - confidence, oc.oc_factor), exposure)


def perp_margin(market: SrmMarket, mp: MarketParams, initial: bool) -> int:
    """Derive's ``_getNetPerpMargin`` (<= 0): the requirement on the perp's notional at its
    own price, and for IM the oracle contingency when the least of the perp's and spot's
    confidences is below the perp threshold."""
    perp = market.perp
    if perp is None or perp.position == 0:
        return 0
    notional = mul_trunc(abs(perp.position), perp.price)
    margin = -mul_trunc(notional, mp.perp.im_req if initial else mp.perp.mm_req)
    if not initial:
        return margin
    conf = min(perp.confidence, market.spot_confidence)
    if mp.oracle.perp_threshold != 0 and conf < mp.oracle.perp_threshold:
        margin -= mul_trunc(_contingency(conf, mp.oracle, market.spot), abs(perp.position))
    return margin


def option_margin(market: SrmMarket, mp: MarketParams, initial: bool) -> tuple[int, int]:
    """Derive's ``_getNetOptionMarginAndMtM``: ``(margin, mark-to-market)`` summed over the
    expiries; for IM, each expiry whose least confidence (spot's, the forward's, the
    vols') is below the option threshold adds the contingency on its short units."""
    margin = mtm = 0
    for e in market.expiries:
        m, v = expiry_margin(e, market.spot, mp.option, initial)
        margin += m
        mtm += v
        if not initial:
            continue
        conf = min(market.spot_confidence, e.forward_confidence, e.vol_confidence)
        if mp.oracle.option_threshold != 0 and conf < mp.oracle.option_threshold:
            shorts = sum(-x.balance for x in e.options if x.balance < 0)
            margin -= mul_trunc(_contingency(conf, mp.oracle, market.spot), shorts)
    return margin, mtm


def base_margin(market: SrmMarket, mp: MarketParams, stable_price: int,
                initial: bool) -> tuple[int, int]:
    """Derive's ``_getBaseMarginAndMtM``: ``(margin, mark-to-market)`` of the base balance:
    ``notional x margin_factor`` (IM: times ``im_scale``, less the oracle contingency on
    the notional when spot's confidence is below the base threshold) and
    ``notional / stable price``."""
    if market.base_position == 0:
        return 0, 0
    notional = mul_trunc(market.base_position, market.spot)
    margin = mul_trunc(notional, mp.base.margin_factor)
    mtm = div_trunc(notional, stable_price)
    if not initial:
        return margin, mtm
    margin = mul_trunc(margin, mp.base.im_scale)
    if margin == 0:
        return 0, mtm
    conf = market.spot_confidence
    if mp.oracle.base_threshold != 0 and conf < mp.oracle.base_threshold:
        margin -= _contingency(conf, mp.oracle, notional)
    return margin, mtm


def depeg_multiplier(stable_price: int, depeg: DepegParams, initial: bool) -> int:
    """Derive's ``_getDepegMultiplier``: ``(threshold - stable price) x depeg_factor`` for
    IM when the stablecoin is below the threshold, else 0."""
    if not initial or stable_price >= depeg.threshold:
        return 0
    return mul_trunc(depeg.threshold - stable_price, depeg.depeg_factor)


@dataclass(frozen=True)
class MarketMargin:
    """One market's part: margin and mark-to-market, with the parts they sum."""

    market: str
    margin: int
    mtm: int
    perp: int
    options: int
    options_mtm: int
    base: int
    base_mtm: int
    depeg: int


@dataclass(frozen=True)
class SrmMargin:
    """A portfolio's SRM margin of one kind and its mark-to-market (wad, Derive's sign:
    margin >= 0 is met), and each market's part."""

    margin: int
    mtm: int
    initial: bool
    markets: tuple[MarketMargin, ...] = field(default=())


def market_margin(market: SrmMarket, mp: MarketParams, stable_price: int, depeg_mult: int,
                  initial: bool) -> MarketMargin:
    """Derive's ``_getMarketMargin``: perp, options, depeg add-on, base and the perp's
    unrealised P&L."""
    perp = perp_margin(market, mp, initial)
    options, options_mtm = option_margin(market, mp, initial)
    depeg = 0
    if depeg_mult != 0:
        units = abs(market.perp.position) if market.perp is not None else 0
        units += sum(-x.balance for e in market.expiries for x in e.options if x.balance < 0)
        depeg = -mul_trunc(mul_trunc(units, depeg_mult), market.spot)
    base, base_mtm = base_margin(market, mp, stable_price, initial)
    pnl = market.perp.unrealized_pnl if market.perp is not None and market.perp.position \
        else 0
    return MarketMargin(market.market, depeg + perp + options + base + pnl,
                        options_mtm + pnl + base_mtm, perp, options, options_mtm, base,
                        base_mtm, depeg)


def srm_margin(portfolio: SrmPortfolio, params: SrmParams, initial: bool) -> SrmMargin:
    """Derive's SRM margin (``initial``: IM, else MM) and mark-to-market of a portfolio.

    Raises
    ------
    FieldError
        A field of the portfolio out of range or of the wrong type, naming it
        (``markets.0.expiries.1.forward: must be >= 1 (got 0)``), or a market without
        parameters.

    Examples
    --------
    Derive's ``test_long_ITM_perp``: long 1 ETH perp entered at 1,400, marked at 2,001
    (spot 2,000), MM 5%: ``-2,001 x 5% + 601 = 500.95``.

    >>> p = MarketParams(OptionMarginParams(*(WAD,) * 5, WAD, WAD, WAD),
    ...                  PerpMarginParams(WAD // 20, 65 * WAD // 1000))
    >>> book = SrmPortfolio((SrmMarket("ETH", 2000 * WAD,
    ...                                perp=SrmPerp(WAD, 2001 * WAD, unrealized_pnl=601 * WAD)),))
    >>> srm_margin(book, SrmParams({"ETH": p}), initial=False).margin / WAD
    500.95
    """
    _validate(portfolio, params)
    mult = depeg_multiplier(portfolio.stable_price, params.depeg, initial)
    parts = tuple(market_margin(m, params.markets[m.market], portfolio.stable_price, mult,
                                initial) for m in portfolio.markets)
    return SrmMargin(sum(x.margin for x in parts) + portfolio.cash,
                     sum(x.mtm for x in parts) + portfolio.cash, initial, parts)


__all__ = ["BaseMarginParams", "DepegParams", "MarketMargin", "MarketParams",
           "OptionMarginParams", "OracleContingencyParams", "PerpMarginParams", "SrmExpiry",
           "SrmMargin", "SrmMarket", "SrmOption", "SrmParams", "SrmPerp", "SrmPortfolio",
           "base_margin", "depeg_multiplier", "div_trunc", "expiry_margin",
           "isolated_call_margin", "isolated_margin", "isolated_put_margin", "market_margin",
           "max_loss", "mul_trunc", "option_margin", "option_mark", "perp_margin",
           "settlement_value", "srm_margin"]
