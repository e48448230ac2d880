"""Perp liquidation plans: how one liquidation of a perp position would go now.

A pure rule over a bucket's risk (:class:`~marginengine.margin.perp.BucketRisk`) and the
market's parameters; the engine's ``LiquidatePerp`` handler, the simulator's keeper and the
CLI's health table all call it. The price formulas are those of
:mod:`marginengine.liquidation.perp_prices`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from marginengine.config.perp import PPM, PerpMarketConfig
from marginengine.fixedpoint import PRICE_UNIT, Rounding, div
from marginengine.ledger.perp import quote_value
from marginengine.liquidation import bybit
from marginengine.liquidation.perp_prices import (
    bankruptcy_price,
    dydx_bankruptcy_quote,
    dydx_fillable_price_quantums,
    dydx_liquidatable_size,
    dydx_position_notional_liquidatable,
    liquidation_price_cross,
)
from marginengine.margin.base import MarginKind
from marginengine.margin.perp import BucketRisk
from marginengine.margin.tiers import TierSchedule


def _close_size(perp: PerpMarketConfig, size: int, notional: int, mark: int, quote_unit: int,
                requested: int, whole: bool = False,
                subaccount_notional: int | None = None) -> tuple[int, str]:
    """How much of ``|size|`` one liquidation closes: a fraction of large positions, all of
    it when ``whole`` (the owner is in its ``partial_cooldown``); at most ``requested``.

    ``fillable`` (dYdX v4): the position block limits of ``GetLiquidatablePositionSizeDelta``
    with ``partial_above`` as ``min_position_notional_liquidated`` and ``partial_fraction``
    as ``max_position_portion_liquidated_ppm``: the whole position up to ``max(partial_above,
    partial_fraction x notional)``, else that notional in whole steps (at least one step);
    that notional is at most ``subaccount_notional``, what is left of the account's
    ``max_notional_liquidated`` in the block (``GetSubaccountMaxNotionalLiquidatable``).
    ``takeover`` (Hyperliquid): above ``partial_above``, ``partial_fraction`` of the size in
    whole steps (Hyperliquid sends 20% of a position above 100k USDC to the book).

    Returns the size and the bound that cut it (:attr:`PerpLiquidationPlan.limited_by`).
    """
    close = abs(size)
    bound = ""
    threshold = perp.quote_amounts(quote_unit)["partial_above"]
    step = perp.step_units
    if whole:
        close = abs(size)  # the cooldown's whole position: no block limits, no fraction
    elif perp.liquidation == "fillable":
        dydx_notional = abs(quote_value(size, mark, perp.base_unit, quote_unit, Rounding.DOWN))
        _, most = dydx_position_notional_liquidatable(dydx_notional, threshold,
                                                      perp.ppm("partial_fraction"))
        bound = "partial_fraction"
        if subaccount_notional is not None and subaccount_notional < most:
            # GetLiquidatablePositionSizeDelta: the smaller of the two limits (a tie is
            # named by the position's limit).
            most, bound = subaccount_notional, "max_notional_liquidated"
        close = dydx_liquidatable_size(size, mark, most, step, perp.base_unit, quote_unit)
    elif threshold and notional > threshold and perp.partial_fraction < 1:
        close = max(step, abs(size) * perp.ppm("partial_fraction") // PPM // step * step)
        close = min(close, abs(size))
        bound = "partial_fraction"
    if requested and requested < close:
        close, bound = requested, "size"
    return close, bound if close < abs(size) else ""


@dataclass(frozen=True)
class PerpLiquidationPlan:
    """How one perp liquidation would go now.

    Attributes
    ----------
    close
        Base smallest units to close (a fraction of large positions; ``takeover``: all when
        underwater; ``fillable``: dYdX's size whatever the fill, since an underwater fill is
        paid by the fund or the whole position is deleveraged).
    price
        The fill price: dYdX's fillable price, or the mark less the takeover discount.
    bankruptcy_price
        Where the bucket's equity is used up.
    underwater
        Whether the fill is beyond the bankruptcy price (the waterfall runs).
    bankruptcy_quote
        dYdX's bankruptcy quote of the closed size (``fillable`` only).
    backstop
        Hyperliquid's backstop liquidation applies (``takeover`` with ``backstop`` only).
    partial
        The liquidation closes less than the whole position (it starts the owner's
        ``partial_cooldown``, where the market has one).
    """

    market: str
    size: int
    close: int
    mark: int
    price: int
    bankruptcy_price: int
    underwater: bool
    #: ``fillable`` (dYdX v4): the bankruptcy price of the closed size in signed quote
    #: units (:func:`~marginengine.liquidation.perp_prices.dydx_bankruptcy_quote`: received
    #: when closing a long, negative when closing a short); ``None`` for ``takeover``.
    bankruptcy_quote: int | None = None
    #: ``takeover`` with ``backstop`` (Hyperliquid): the bucket's equity is below 2/3 of its
    #: maintenance margin, so the whole position is taken over and, once the bucket is
    #: flat, its margin goes to the liquidator.
    backstop: bool = False
    #: What cut ``close`` below the whole position: ``"partial_fraction"`` (the position's
    #: own limit: dYdX's ``PositionBlockLimits``, Hyperliquid's 20%),
    #: ``"max_notional_liquidated"`` (what is left of the account's dYdX subaccount block
    #: limit), ``"size"`` (the liquidator asked for less); ``""``: the whole position.
    limited_by: str = ""

    @property
    def partial(self) -> bool:
        """Whether less than the whole position is closed."""
        return self.close < abs(self.size)


def _dydx_tmmr(risk: BucketRisk) -> int:
    """dYdX's TMMR of the bucket in quote smallest units (rounded up, at least 1 unit of
    the margin's value so that an account with a position has a positive one)."""
    state = risk.margin(MarginKind.MAINTENANCE)
    return div(max(state.requirement, 1) * risk.quote_unit, risk.quote_price, Rounding.UP)


def dydx_close_bankruptcy(perp: PerpMarketConfig, risk: BucketRisk, market: str, close: int,
                          maintenance_at: Callable[[int], int] | None = None
                          ) -> tuple[int, int]:
    """Return dYdX v4's bankruptcy quote and price of closing ``close`` base units (unsigned)
    of the bucket's ``market`` position now: ``(quote, price)``.

    ``GetBankruptcyPriceInQuoteQuantums`` (dydxprotocol/v4-chain@84d4664b,
    protocol/x/clob/keeper/liquidations.go) from the bucket's TNC and TMMR and the position's
    net notional and maintenance requirement before and after the close
    (:func:`~marginengine.liquidation.perp_prices.dydx_bankruptcy_quote`); the liquidation
    plan and dYdX's deleveraging (one call per fill, on the bucket as the previous fills
    left it) both take it from here. ``quote`` is signed as dYdX's (received when closing a
    long, negative when closing a short); ``price`` is it per base unit in ``PRICE_UNIT``,
    toward positive infinity, clamped at 0. ``maintenance_at(size)`` is the position's
    maintenance requirement at another size (without it, scaled linearly, rounded up).
    """
    quote_unit = risk.quote_unit
    position = next(p for p in risk.positions if p.market == market)
    size, mark = position.size, position.mark
    if not 0 < close <= abs(size):
        raise ValueError(f"close must be within 1..{abs(size)} (got {close})")
    pnnv = quote_value(size, mark, perp.base_unit, quote_unit, Rounding.DOWN)
    left = abs(size) - close
    left_signed = left if size > 0 else -left
    if maintenance_at is not None:
        left_mmr = maintenance_at(left_signed) if left else 0
    else:
        left_mmr = div(position.maintenance * left, abs(size), Rounding.UP)
    delta_nc = quote_value(left_signed, mark, perp.base_unit, quote_unit, Rounding.DOWN) - pnnv
    quote = dydx_bankruptcy_quote(delta_nc, min(left_mmr - position.maintenance, 0),
                                  risk.equity_quote(), _dydx_tmmr(risk))
    # Signed quote for ``close`` base units to a price, toward positive infinity as dYdX's
    # quote (closing a long: up; closing a short, a payment: down), clamped at 0.
    scale, per = perp.base_unit * PRICE_UNIT, close * quote_unit
    return quote, max(-(-quote * scale // per) if size > 0 else -quote * scale // per, 0)


def plan_perp_liquidation(perp: PerpMarketConfig, risk: BucketRisk, market: str,
                          requested: int = 0,
                          maintenance_at: Callable[[int], int] | None = None,
                          whole: bool = False,
                          max_notional: int | None = None) -> PerpLiquidationPlan:
    """Plan the liquidation of the bucket's ``market`` position (funding settled), from the
    bucket's risk at maintenance: the fill price (dYdX's fillable price, or the mark less
    the takeover discount), the bankruptcy price, and how much one liquidation closes.
    Callable without an engine; the engine's handler and the CLI call this.

    ``fillable`` (dYdX v4) takes the bankruptcy price of the closed size from
    :func:`~marginengine.liquidation.perp_prices.dydx_bankruptcy_quote`: the closed size
    may lose only its share ``|DMMR| / TMMR`` of the bucket's net collateral (the whole of
    it for a position closed whole in a bucket with no other requirement).
    ``maintenance_at(size)`` is the position's maintenance requirement at another size
    (the engine passes its margin model's); without it, a partial close scales the
    requirement linearly (rounded up). ``takeover``: where the bucket's equity, everything
    else held, is zero.

    ``whole``: close the whole position (at most ``requested``), whatever its size: the
    owner was partially liquidated less than the market's ``partial_cooldown`` ago
    (Hyperliquid's 30 seconds; the engine decides it from its clearing).

    ``max_notional`` (``fillable``): what is left of the account's ``max_notional_liquidated``
    in the block (:func:`~marginengine.liquidation.dydx_block_limits.max_notional_liquidatable`;
    ``None``: no limit); ``GetLiquidatablePositionSizeDelta`` closes at most that notional
    (at least one step: the engine refuses a step beyond it).
    """
    quote_unit = risk.quote_unit
    state = risk.margin(MarginKind.MAINTENANCE)
    position = next(p for p in risk.positions if p.market == market)
    size, mark = position.size, position.mark
    tnc = risk.equity_quote()
    if perp.liquidation == "takeover":
        # Equity without this position's value: bankruptcy is where the rest is used up.
        bankrupt_at = bankruptcy_price(size, tnc - position.value, perp.base_unit, quote_unit)
        discount = perp.ppm("takeover_discount")
        price = (mark * (PPM - discount) // PPM if size > 0
                 else div(mark * (PPM + discount), PPM, Rounding.UP))
        underwater = (price < bankrupt_at) if size > 0 else (price > bankrupt_at)
        # Hyperliquid: "if the account equity drops below 2/3 of the maintenance margin", the
        # liquidator vault takes the position (whole) and the margin.
        backstop = perp.backstop and not underwater and 3 * state.value < 2 * state.requirement
        close, bound = (abs(size), "") if underwater or backstop else _close_size(
            perp, size, position.notional, mark, quote_unit, requested, whole)
        if backstop and requested and requested < close:
            close, bound = requested, "size"
        return PerpLiquidationPlan(market, size, close, mark, price, bankrupt_at, underwater,
                                   backstop=backstop, limited_by=bound)
    # dYdX v4: TNC and TMMR of the account, PNNV (truncated) and PMMR of the position.
    tmmr = _dydx_tmmr(risk)
    pnnv = quote_value(size, mark, perp.base_unit, quote_unit, Rounding.DOWN)
    exact = dydx_fillable_price_quantums(pnnv, position.maintenance, size,
                                         perp.ppm("spread_to_mmr"), tnc, tmmr,
                                         perp.ppm("bankruptcy_adjustment"))
    # Quote units per base unit to PRICE_UNIT, rounded as dYdX's subticks (long up).
    scaled = exact * perp.base_unit * PRICE_UNIT / quote_unit
    price = -(-scaled.numerator // scaled.denominator) if size > 0 \
        else scaled.numerator // scaled.denominator

    close, bound = _close_size(perp, size, position.notional, mark, quote_unit, requested,
                               whole, max_notional)
    # The closed size does not depend on the fill being beyond bankruptcy: dYdX sizes the
    # liquidation order by the block limits alone (GetLiquidationOrderForPerpetual), and the
    # fund pays the closed size's loss (or the whole position is deleveraged).
    quote, bankrupt_at = dydx_close_bankruptcy(perp, risk, market, close, maintenance_at)
    underwater = (price < bankrupt_at) if size > 0 else (price > bankrupt_at)
    return PerpLiquidationPlan(market, size, close, mark, price, bankrupt_at, underwater,
                               quote, limited_by=bound)


def bucket_liquidation_price(risk: BucketRisk, market: str, cost: int, base_unit: int,
                             schedule: TierSchedule, formula: str = "binance",
                             isolated: bool = False) -> int | None:
    """The margin price of ``market`` (its mark, or its oracle price for ``margin_price =
    "oracle"``) at which the bucket would reach maintenance, everything else held at
    current prices (``None``: never).

    ``cost`` is the position's signed cost in quote smallest units (the ledger's
    ``PerpPosition.cost``), which gives its entry price (``PRICE_UNIT``, rounded down). The
    bucket's margin for this position is its maintenance value without the position's
    unrealized PnL, less the other requirements (Binance's ``WB + UPNL1 - TMM1``).

    ``formula`` is the market's ``liquidation_price`` option. ``"binance"``, and every cross
    bucket: Binance's closed form
    (:func:`~marginengine.liquidation.perp_prices.liquidation_price_cross`). ``"bybit"`` for
    an ``isolated`` bucket: Bybit's isolated formula
    (:func:`~marginengine.liquidation.bybit.liquidation_price`) with the tier holding the
    position value at entry giving the MMR, the maintenance deduction (the tier's exact
    cumulative amount) and the leverage (1 / IMF); the initial margin plus the extra margin
    is the bucket's margin (the extra margin is the margin less the initial margin, so the
    leverage does not move the price). Bybit's 0 for a long (no price liquidates it) is
    ``None``; a short liquidatable at every price is 0, as Binance's. Only the reported
    price: the engine liquidates by margin, not at this price.
    """
    if formula not in ("binance", "bybit"):
        raise ValueError(f"liquidation_price: must be 'binance' or 'bybit', got {formula!r}")
    state = risk.margin(MarginKind.MAINTENANCE)
    position = next(p for p in risk.positions if p.market == market)
    unit = risk.quote_unit
    entry = abs(cost) * base_unit * PRICE_UNIT // (abs(position.size) * unit)
    value_quote = state.value * unit // risk.quote_price
    requirement_quote = -(-state.requirement * unit // risk.quote_price)
    other_equity = value_quote - position.unrealized
    other_maintenance = requirement_quote - position.maintenance
    if formula == "bybit" and isolated:
        return _bybit_price(position.size, entry, other_equity - other_maintenance, schedule,
                            base_unit, unit)
    return liquidation_price_cross(position.size, entry, other_equity, other_maintenance,
                                   schedule, base_unit, unit)


def _bybit_price(size: int, entry: int, margin: int, schedule: TierSchedule, base_unit: int,
                 quote_unit: int) -> int | None:
    """Bybit's isolated price of one position holding ``margin`` (quote smallest units)."""
    # Bybit's risk-limit tier is by position value at entry; at a tier edge either side
    # gives the same maintenance margin (the deduction keeps it continuous).
    value = Fraction(abs(size) * entry * quote_unit, base_unit * PRICE_UNIT)
    index = schedule.tier_index(int(value))
    tier = schedule.tiers[index]
    initial = value * Fraction(tier.imf_ppm, PPM)
    price = bybit.liquidation_price(
        size, entry, Fraction(PPM, tier.imf_ppm), tier.mmf_ppm, base_unit, quote_unit,
        mm_deduction=Fraction(schedule.maintenance_amount_scaled(index), PPM),
        extra_margin=margin - initial)
    if size > 0:
        return price or None
    return max(price, 0)


__all__ = ["PerpLiquidationPlan", "bucket_liquidation_price", "dydx_close_bankruptcy",
           "plan_perp_liquidation"]
