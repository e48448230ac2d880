"""Perp liquidation plans: how one liquidation of a perp position would go now.

A pure rule over a bucket's risk (:class:`~marginengine.margin.perp.BucketRisk`) and the
market's parameters; the engine's ``LiquidatePerp`` handler, the simulator's keeper and the
CLI's health table all call it. The price formulas are those of
:mod:`marginengine.liquidation.perp_prices`.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from marginengine.config.perp import PPM, PerpMarketConfig
from marginengine.fixedpoint import PRICE_UNIT, Rounding, div
from marginengine.liquidation import bybit
from marginengine.liquidation.perp_prices import (
    bankruptcy_price,
    fillable_price,
    liquidation_price_cross,
)
from marginengine.margin.base import MarginKind
from marginengine.margin.perp import BucketRisk
from marginengine.margin.tiers import TierSchedule


def _close_size(perp: PerpMarketConfig, size: int, notional: int, quote_unit: int,
                requested: int) -> int:
    """How much of ``|size|`` one liquidation closes: a fraction of large positions."""
    close = abs(size)
    threshold = perp.quote_amounts(quote_unit)["partial_above"]
    if threshold and notional > threshold and perp.partial_fraction < 1:
        step = perp.step_units
        close = max(step, abs(size) * perp.ppm("partial_fraction") // PPM // step * step)
        close = min(close, abs(size))
    if requested:
        close = min(close, requested)
    return close


@dataclass(frozen=True)
class PerpLiquidationPlan:
    """How one perp liquidation would go now.

    Attributes
    ----------
    close
        Base smallest units to close (a fraction of large positions; all when underwater).
    price
        The fill price: dYdX's fillable price, or the mark less the takeover discount.
    bankruptcy_price
        Where the bucket's equity is used up.
    underwater
        Whether the fill is beyond the bankruptcy price (the waterfall runs).
    """

    market: str
    size: int
    close: int
    mark: int
    price: int
    bankruptcy_price: int
    underwater: bool


def plan_perp_liquidation(perp: PerpMarketConfig, risk: BucketRisk, market: str,
                          requested: int = 0) -> PerpLiquidationPlan:
    """Plan the liquidation of the bucket's ``market`` position (funding settled), from the
    bucket's risk at maintenance: the fill price (dYdX's fillable price, or the mark less
    the takeover discount), the bankruptcy price, and how much one liquidation closes.
    Callable without an engine; the engine's handler and the CLI call this."""
    quote_unit = risk.quote_unit
    state = risk.margin(MarginKind.MAINTENANCE)
    position = next(p for p in risk.positions if p.market == market)
    size, mark = position.size, position.mark
    # Equity without this position's value: bankruptcy is where the rest is used up.
    rest = risk.equity_quote() - position.value
    bankrupt_at = bankruptcy_price(size, rest, perp.base_unit, quote_unit)
    if perp.liquidation == "fillable":
        pmmf = div(position.maintenance * PPM, max(position.notional, 1), Rounding.UP)
        tmmr = div(max(state.requirement, 1) * quote_unit, risk.quote_price, Rounding.UP)
        price = fillable_price(mark, size, pmmf, perp.ppm("spread_to_mmr"),
                               risk.equity_quote(), tmmr)
    else:
        discount = perp.ppm("takeover_discount")
        price = (mark * (PPM - discount) // PPM if size > 0
                 else div(mark * (PPM + discount), PPM, Rounding.UP))
    underwater = (price < bankrupt_at) if size > 0 else (price > bankrupt_at)
    close = abs(size) if underwater else _close_size(perp, size, position.notional,
                                                     quote_unit, requested)
    return PerpLiquidationPlan(market, size, close, mark, price, bankrupt_at, underwater)


def bucket_liquidation_price(risk: BucketRisk, market: str, cost: int, base_unit: int,
                             schedule: TierSchedule, formula: str = "binance",
                             isolated: bool = False) -> int | None:
    """The mark price of ``market`` at which the bucket would reach maintenance, everything
    else held at current prices (``None``: never).

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


__all__ = ["PerpLiquidationPlan", "bucket_liquidation_price", "plan_perp_liquidation"]
