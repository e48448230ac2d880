"""Mango v4 perp positions: pnl settle limits, ``perp_settle_pnl`` and funding, as pure
rules in I80F48 (raw integers, ``value x 2^48``; :mod:`marginengine.margin.mango`).

**Settle limits** (``PerpPosition::settle_limit``, ``available_settle_limit``,
``apply_pnl_settle_limit``, ``update_settle_limit``, ``record_settle``): per settle window
of ``settle_pnl_limit_window_size_ts`` seconds a position may settle at most

- ``settle_pnl_limit_factor x |base native x stable price|`` (the *unrealized* part, both
  directions; an ``f64`` product truncated to an ``i64``),
- plus its *recurring* allowance (materialized from that part when the base position is
  reduced, taken back when it grows, never above ``|stable upnl|``),
- plus, in one direction, its *oneshot* allowance (fees and funding paid, pnl a
  liquidator took over: signed, consumed by settling in its direction),

less what it already settled this window. A negative factor disables the limit
(``(i64::MIN, i64::MAX)``).

**perp_settle_pnl** (:func:`perp_settle_pnl`): account A must have positive pnl at the
oracle, B negative; each is cut to its available limit (``ProfitabilityMismatch`` when
nothing is left on a side); B may settle at most ``perp_max_settle`` (its maint health
without negative perp contributions, ``HealthMustBePositive`` when not positive); the
settlement is the least of the three. A pays the settler a fee
(:func:`compute_settle_fee`).

**Funding** (:func:`update_funding`, ``PerpMarket::update_funding_and_stable_price``): the
impact prices ``impact_quantity`` base lots deep on each side of the book give a mid
price; ``book / oracle - 1`` clamped to ``[min_funding, max_funding]`` (a one-sided book
takes the bound on its side, an empty one zero) is a rate per day; over at most one hour
since the last update each base lot pays ``oracle x base_lot_size x rate x dt / 86,400``
native quote, added to both the market's long and short funding. A position owes
``(market funding - its settled funding) x base lots`` (``unsettled_funding`` in
:mod:`marginengine.margin.mango`).

Numbers follow the source: ``I80F48`` products floor, quotients truncate toward zero,
``to_num::<i64>()`` floors, ``f64 as i64`` truncates toward zero; the market's ``f32``
parameters are held as ``f32`` (:func:`f32`).

Source followed: blockworks-foundation/mango-v4 at commit
``1303a4a16228eb1e8e8d4f0eef724eaf63310c86`` (2024-09-04),
``programs/mango-v4/src/state/mango_account_components.rs`` (``PerpPosition``:
``settle_funding``, ``update_trade_stats``, ``apply_recurring_settle_pnl_allowance_constraint``,
``record_trade``, ``unsettled_pnl``, ``update_settle_limit``, ``settle_limit``,
``available_settle_limit``, ``apply_pnl_settle_limit``, ``record_settle``,
``record_trading_fee``, ``record_liquidation_quote_change``),
``programs/mango-v4/src/state/perp_market.rs`` (``update_funding_and_stable_price``,
``lot_to_native_price``, ``native_price_to_lot``, ``compute_settle_fee``),
``programs/mango-v4/src/state/orderbook/bookside.rs`` (``impact_price``),
``programs/mango-v4/src/instructions/perp_settle_pnl.rs`` and
``programs/mango-v4/src/i80f48.rs`` (``ClampToInt``).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, replace
from fractions import Fraction

from marginengine.decisions import Code, Refusal
from marginengine.margin.mango import (
    FRAC_BITS,
    ONE,
    fx,
    fx_div,
    fx_from_f64,
    fx_mul,
    fx_to_f64,
)

I64_MIN = -(2**63)
I64_MAX = 2**63 - 1
#: ``max_funding_timestep`` (seconds): funding is applied for at most an hour per update.
MAX_FUNDING_TIMESTEP = 3600
#: ``DAY_I80F48``: funding rates are per day.
DAY_SECONDS = 86_400


def f32(value: float) -> float:
    """``value`` rounded to the nearest ``f32`` (Mango's ``f32`` fields), as a float."""
    rounded: float = struct.unpack("f", struct.pack("f", value))[0]
    return rounded


def floor_int(raw: int) -> int:
    """``I80F48::to_num::<i64>()`` / ``floor()``: the integer part, toward -infinity."""
    return raw >> FRAC_BITS


def ceil_int(raw: int) -> int:
    """``I80F48::ceil()`` as an integer."""
    return -((-raw) >> FRAC_BITS)


def round_to_zero_int(raw: int) -> int:
    """``I80F48::round_to_zero()`` as an integer."""
    return floor_int(raw) if raw >= 0 else ceil_int(raw)


def clamp_i64(value: int) -> int:
    """An integer clamped to ``i64``."""
    return max(I64_MIN, min(I64_MAX, value))


def clamp_f64_to_i64(value: float) -> int:
    """``ClampToInt for f64``: ``as i64`` (toward zero) within ``i64``'s range."""
    if value <= float(I64_MIN):
        return I64_MIN
    if value >= float(I64_MAX):
        return I64_MAX
    return int(value)


def clamp_fx_to_i64(raw: int) -> int:
    """``ClampToInt for I80F48``: ``to_num::<i64>()`` (floor) within ``i64``'s range."""
    return clamp_i64(floor_int(raw))


@dataclass(frozen=True)
class SettleLimitParams:
    """A perp market's settle-limit parameters.

    Attributes
    ----------
    factor
        ``settle_pnl_limit_factor`` (an ``f32``; negative: no limit).
    window_size
        ``settle_pnl_limit_window_size_ts`` (seconds, positive).
    stable_price
        The market's stable price (raw I80F48, native quote per native base).
    base_lot_size
        Native base units per lot.
    """

    factor: float
    window_size: int
    stable_price: int
    base_lot_size: int

    @property
    def disabled(self) -> bool:
        """A negative factor: settlement is not limited."""
        return self.factor < 0.0

    @property
    def factor_fx(self) -> int:
        """``settle_pnl_limit_factor()``: ``I80F48::from_num(f32)``."""
        return fx_from_f64(self.factor)


@dataclass(frozen=True)
class SettleLimitState:
    """The settle-limit fields of a ``PerpPosition``.

    Attributes
    ----------
    window
        ``settle_pnl_limit_window``: the index of the current window.
    settled_in_window
        ``settle_pnl_limit_settled_in_current_window_native`` (``i64``, signed).
    recurring
        ``recurring_settle_pnl_allowance`` (``i64``, non-negative).
    oneshot
        ``oneshot_settle_pnl_allowance`` (raw I80F48, signed).
    """

    window: int = 0
    settled_in_window: int = 0
    recurring: int = 0
    oneshot: int = 0

    def is_default(self) -> bool:
        """Nothing recorded yet."""
        return self == SettleLimitState()


def unsettled_pnl(quote: int, base_lots: int, base_lot_size: int, price: int) -> int:
    """``PerpPosition::unsettled_pnl``: ``quote + base native x price`` (raw)."""
    return quote + fx_mul(fx(base_lots * base_lot_size), price)


def update_settle_limit(state: SettleLimitState, window_size: int,
                        now: int) -> SettleLimitState:
    """``update_settle_limit``: a new window (``now`` outside the current one, which happens
    too when the window size changed) resets what was settled in it."""
    if window_size <= 0:
        raise ValueError(f"window_size: must be positive seconds; got {window_size}")
    start = state.window * window_size
    if start <= now < start + window_size:
        return state
    return replace(state, window=now // window_size, settled_in_window=0)


def settle_limit(state: SettleLimitState, params: SettleLimitParams, quote: int,
                 base_lots: int) -> tuple[int, int]:
    """``settle_limit``: the ``(min, max)`` pnl (native quote) settleable this window
    before what was settled in it (``quote`` raw I80F48)."""
    if params.disabled:
        return I64_MIN, I64_MAX
    position_value = fx_mul(params.stable_price, fx(base_lots * params.base_lot_size))
    unrealized = clamp_f64_to_i64(params.factor * fx_to_f64(abs(position_value)))
    upnl_abs = ceil_int(abs(quote + position_value))
    max_pnl = unrealized + min(abs(state.recurring), upnl_abs)
    min_pnl = -max_pnl
    if state.oneshot >= 0:
        max_pnl = clamp_i64(max_pnl + clamp_i64(ceil_int(state.oneshot)))
    else:
        min_pnl = clamp_i64(min_pnl + clamp_i64(floor_int(state.oneshot)))
    return min(min_pnl, 0), max(max_pnl, 0)


def available_settle_limit(state: SettleLimitState, params: SettleLimitParams, quote: int,
                           base_lots: int) -> tuple[int, int]:
    """``available_settle_limit``: :func:`settle_limit` less what was settled this window
    (call :func:`update_settle_limit` first, as the instructions do)."""
    if params.disabled:
        return I64_MIN, I64_MAX
    low, high = settle_limit(state, params, quote, base_lots)
    used = state.settled_in_window
    return min(clamp_i64(low - used), 0), max(clamp_i64(high - used), 0)


def apply_pnl_settle_limit(state: SettleLimitState, params: SettleLimitParams, quote: int,
                           base_lots: int, pnl: int) -> int:
    """``apply_pnl_settle_limit``: ``pnl`` (raw) cut to the available limit on its side."""
    if params.disabled:
        return pnl
    low, high = available_settle_limit(state, params, quote, base_lots)
    return max(pnl, fx(low)) if pnl < 0 else min(pnl, fx(high))


def recurring_constraint(recurring: int, params: SettleLimitParams, quote: int,
                         base_lots: int) -> int:
    """``apply_recurring_settle_pnl_allowance_constraint``: the recurring allowance kept
    within ``[0, ceil |upnl at the stable price|]``."""
    upnl = unsettled_pnl(quote, base_lots, params.base_lot_size, params.stable_price)
    return max(min(abs(recurring), ceil_int(abs(upnl))), 0)


def record_trade(state: SettleLimitState, params: SettleLimitParams, quote: int,
                 base_lots: int, base_change: int, quote_change: int) -> SettleLimitState:
    """The settle-limit part of ``record_trade`` (``update_trade_stats``, then the base and
    quote change, then the recurring constraint): the recurring allowance gains
    ``factor x stable x lots reduced`` and loses it for lots added (``I80F48`` products,
    ``clamp_to_i64`` floors). ``quote`` and ``quote_change`` raw, lots signed."""
    recurring = abs(state.recurring)
    if base_change != 0:
        old, new = base_lots, base_lots + base_change
        if new == 0:
            reduced, increased = abs(old), 0
        elif (old > 0) != (new > 0) or old == 0:
            reduced, increased = abs(old), abs(new)
        elif (old > 0) == (base_change > 0):
            reduced, increased = 0, abs(base_change)
        else:
            reduced, increased = abs(base_change), 0
        increase = fx((increased - reduced) * params.base_lot_size)
        recurring -= clamp_fx_to_i64(fx_mul(fx_mul(increase, params.stable_price),
                                            params.factor_fx))
        recurring = max(recurring, 0)
    recurring = recurring_constraint(recurring, params, quote + quote_change,
                                     base_lots + base_change)
    return replace(state, recurring=recurring)


def record_oneshot(state: SettleLimitState, quote_change: int) -> SettleLimitState:
    """``record_trading_fee(-change)`` / ``settle_funding`` / ``record_liquidation_quote_
    change``: a quote change that is immediately settleable adds to the oneshot allowance
    (raw; a fee or funding paid is a negative change)."""
    return replace(state, oneshot=state.oneshot + quote_change)


def record_settle(state: SettleLimitState, params: SettleLimitParams, quote: int,
                  base_lots: int, settled: int) -> SettleLimitState:
    """``record_settle`` of ``settled`` pnl (raw; positive: pnl settled away, the quote
    falls by it): the oneshot allowance is consumed first in its direction, the rest is
    counted against the window, less what the recurring allowance lost to the new
    ``|stable upnl|`` bound. ``quote`` is the position's before the settlement."""
    if settled > 0:
        oneshot_reduction = max(min(settled, state.oneshot), 0)
    else:
        oneshot_reduction = min(max(settled, state.oneshot), 0)
    oneshot = state.oneshot - oneshot_reduction
    used = clamp_i64(round_to_zero_int(settled - oneshot_reduction))
    before = abs(state.recurring)
    recurring = recurring_constraint(before, params, quote - settled, base_lots)
    change = recurring - before
    if change < 0:
        used = max(used + change, 0) if used > 0 else min(used - change, 0)
    return SettleLimitState(state.window, state.settled_in_window + used, recurring, oneshot)


# ---------------------------------------------------------------------- settle fee
@dataclass(frozen=True)
class SettleFeeParams:
    """A perp market's settle incentives (``f32`` fields, native settle units).

    Attributes
    ----------
    flat
        ``settle_fee_flat``: paid for a settlement of at least ``amount_threshold``.
    amount_threshold
        ``settle_fee_amount_threshold``.
    fraction_low_health
        ``settle_fee_fraction_low_health``: of the settlement, when A's liquidation-end
        health is negative (at most twice the flat fee).
    """

    flat: float = 0.0
    amount_threshold: float = 0.0
    fraction_low_health: float = 0.0


def _at_least(raw: int, value: float) -> bool:
    # I80F48 against an f32 compares exact values (the fixed crate's PartialOrd<f32>).
    return Fraction(raw, ONE) >= Fraction(value)


def compute_settle_fee(params: SettleFeeParams, settlement: int, source_pnl_value: int,
                       source_position_value: int, source_liq_end_health: int,
                       source_maint_health: int) -> int | Refusal:
    """``PerpMarket::compute_settle_fee`` (raw I80F48): nothing unless the pnl is at least
    1% of the position's value; the flat fee for a settlement of at least the threshold,
    else the low-health fee (the fraction of the settlement, scaled down while A's maint
    health is still positive), at most twice the flat fee; never above the settlement."""
    if not 100 * source_pnl_value > source_position_value:
        return 0
    if source_maint_health < source_liq_end_health:
        raise ValueError("source_maint_health: below source_liq_end_health (Mango asserts "
                         "maint >= liquidation end)")
    low_health = 0
    if source_liq_end_health < 0:
        fraction = fx_from_f64(params.fraction_low_health)
        if source_maint_health < 0:
            low_health = fx_mul(settlement, fraction)
        else:
            low_health = fx_mul(fx_mul(settlement, fraction), fx_div(
                -source_liq_end_health, source_maint_health - source_liq_end_health))
    flat = fx_from_f64(params.flat)
    fee = flat if _at_least(settlement, params.amount_threshold) else min(low_health, 2 * flat)
    fee = min(fee, settlement)
    if fee < 0:
        return Refusal(Code.MANGO_SETTLEMENT_AMOUNT_MUST_BE_POSITIVE,
                       f"the settle fee {fx_to_f64(fee):.6f} is negative", {"fee": fee})
    return fee


# ---------------------------------------------------------------------- perp_settle_pnl
@dataclass(frozen=True)
class PerpSettlement:
    """What ``perp_settle_pnl`` settles (raw I80F48).

    Attributes
    ----------
    settlement
        Pnl moved from A's perp position into its settle tokens, and out of B's.
    a_settleable, b_settleable
        Each side's pnl cut to its available settle limit.
    bound
        What bound it: ``"a_settle_limit"`` / ``"a_pnl"`` (A's settleable pnl),
        ``"b_settle_limit"`` / ``"b_pnl"`` (B's), or ``"b_max_settle"`` (B's health).
    """

    settlement: int
    a_settleable: int
    b_settleable: int
    bound: str


def perp_settle_pnl(a_pnl: int, a_settleable: int, b_pnl: int, b_settleable: int,
                    b_max_settle: int) -> PerpSettlement | Refusal:
    """The decision of ``perp_settle_pnl`` once both positions' funding is settled: A's
    pnl must be positive and B's negative, at the oracle (``ProfitabilityMismatch``), and
    so must what each may still settle this window (:func:`apply_pnl_settle_limit`); B's
    ``perp_max_settle`` must be positive (``HealthMustBePositive``); the settlement is
    ``min(a_settleable, -b_settleable, b_max_settle)`` (all raw I80F48)."""
    for name, value, positive in (("a", a_pnl, True), ("b", b_pnl, False)):
        if (value > 0) if positive else (value < 0):
            continue
        word = "positive" if positive else "negative"
        return Refusal(Code.MANGO_PROFITABILITY_MISMATCH,
                       f"account {name} pnl is not {word}: {fx_to_f64(value):.6f}",
                       {f"{name}_pnl": value})
    for name, value, pnl, positive in (("a", a_settleable, a_pnl, True),
                                       ("b", b_settleable, b_pnl, False)):
        if (value > 0) if positive else (value < 0):
            continue
        word = "positive" if positive else "negative"
        return Refusal(Code.MANGO_PROFITABILITY_MISMATCH,
                       f"account {name} settleable pnl is not {word}: "
                       f"{fx_to_f64(value):.6f} (pnl {fx_to_f64(pnl):.6f}): its settle "
                       "limit for this window is used up",
                       {f"{name}_settleable": value, f"{name}_pnl": pnl})
    if not b_max_settle > 0:
        return Refusal(Code.MANGO_HEALTH_MUST_BE_POSITIVE,
                       f"account b settle max is not positive: {fx_to_f64(b_max_settle):.6f}",
                       {"b_max_settle": b_max_settle})
    settlement = max(min(a_settleable, -b_settleable, b_max_settle), 0)
    if settlement == b_max_settle:
        bound = "b_max_settle"
    elif settlement == -b_settleable:
        bound = "b_pnl" if b_settleable == b_pnl else "b_settle_limit"
    else:
        bound = "a_pnl" if a_settleable == a_pnl else "a_settle_limit"
    return PerpSettlement(settlement, a_settleable, b_settleable, bound)


# ---------------------------------------------------------------------- funding
@dataclass(frozen=True)
class FundingParams:
    """A perp market's funding parameters.

    Attributes
    ----------
    min_funding, max_funding
        The rate per day's bounds (raw I80F48 from the ``f32`` fields; ``min <= 0 <= max``).
    impact_quantity
        Base lots deep into the book for the impact prices.
    base_lot_size, quote_lot_size
        Native units per lot.
    """

    min_funding: int
    max_funding: int
    impact_quantity: int
    base_lot_size: int
    quote_lot_size: int


@dataclass(frozen=True)
class FundingState:
    """The market's funding (``PerpMarket``): ``long_funding`` and ``short_funding`` (raw
    I80F48, native quote per base lot) and ``funding_last_updated`` (seconds)."""

    long_funding: int = 0
    short_funding: int = 0
    last_updated: int = 0


@dataclass(frozen=True)
class FundingUpdate:
    """One ``update_funding_and_stable_price``: the new state and what it computed.

    Attributes
    ----------
    state
        The market's funding after it.
    rate
        ``instantaneous_funding_rate`` per day (raw).
    delta
        Native quote per base lot added to both fundings (raw).
    bid, ask
        The impact prices in lots (``None``: not that deep).
    seconds
        The seconds applied (at most :data:`MAX_FUNDING_TIMESTEP`).
    """

    state: FundingState
    rate: int
    delta: int
    bid: int | None
    ask: int | None
    seconds: int


def lot_to_native_price(price_lots: int, params: FundingParams) -> int:
    """``lot_to_native_price``: ``price x quote_lot_size / base_lot_size`` (raw)."""
    return fx_div(fx(price_lots) * params.quote_lot_size, fx(params.base_lot_size))


def native_price_to_lot(price: int, params: FundingParams) -> int:
    """``native_price_to_lot``: ``price x base_lot_size / quote_lot_size`` in lots
    (``to_num::<i64>()``, floor)."""
    return floor_int(fx_div(price * params.base_lot_size, fx(params.quote_lot_size)))


def impact_price(levels: Sequence[tuple[int, int]], quantity: int, bids: bool) -> int | None:
    """``BookSide::impact_price``: walking the side best price first, the price of the
    order at which the quantity seen reaches ``quantity`` lots (``None``: the side is not
    that deep). ``levels``: ``(price lots, quantity lots)`` of the valid orders."""
    total = 0
    for price, size in sorted(levels, key=lambda level: -level[0] if bids else level[0]):
        total += size
        if total >= quantity:
            return price
    return None


def funding_rate(bid: int | None, ask: int | None, oracle_price: int,
                 params: FundingParams) -> int:
    """The instantaneous rate per day (raw): the mid of the impact prices against the
    oracle, ``book / oracle - 1`` clamped; one side only: that side's bound (bids only:
    ``max_funding``); none: zero."""
    if bid is not None and ask is not None:
        book = lot_to_native_price((bid + ask) // 2, params)
        diff = fx_div(book, oracle_price) - ONE
        return min(max(diff, params.min_funding), params.max_funding)
    if bid is not None:
        return params.max_funding
    if ask is not None:
        return params.min_funding
    return 0


def update_funding(state: FundingState, params: FundingParams, oracle_price: int,
                   bids: Sequence[tuple[int, int]], asks: Sequence[tuple[int, int]],
                   now: int) -> FundingUpdate | None:
    """``update_funding_and_stable_price``'s funding: ``None`` (nothing happens) when
    ``now`` is not after the last update; else the rate from the impact prices and the
    delta ``oracle x base_lot_size x rate x min(dt, 3600) / 86,400`` (``I80F48``
    products left to right) added to both fundings.

    Parameters
    ----------
    state
        The market's funding.
    params
        Its funding parameters.
    oracle_price
        The perp's oracle price (raw, positive).
    bids, asks
        The book's valid orders, ``(price lots, quantity lots)``.
    now
        The clock (seconds).
    """
    if now <= state.last_updated:
        return None
    if oracle_price <= 0:
        raise ValueError("oracle_price: must be positive")
    bid = impact_price(bids, params.impact_quantity, True)
    ask = impact_price(asks, params.impact_quantity, False)
    rate = funding_rate(bid, ask, oracle_price, params)
    seconds = min(now - state.last_updated, MAX_FUNDING_TIMESTEP)
    time_factor = fx_div(fx(seconds), fx(DAY_SECONDS))
    delta = fx_mul(fx_mul(fx_mul(oracle_price, fx(params.base_lot_size)), rate), time_factor)
    return FundingUpdate(FundingState(state.long_funding + delta, state.short_funding + delta,
                                      now), rate, delta, bid, ask, seconds)


__all__ = [
    "DAY_SECONDS",
    "I64_MAX",
    "I64_MIN",
    "MAX_FUNDING_TIMESTEP",
    "FundingParams",
    "FundingState",
    "FundingUpdate",
    "PerpSettlement",
    "SettleFeeParams",
    "SettleLimitParams",
    "SettleLimitState",
    "apply_pnl_settle_limit",
    "available_settle_limit",
    "ceil_int",
    "clamp_f64_to_i64",
    "clamp_fx_to_i64",
    "clamp_i64",
    "compute_settle_fee",
    "f32",
    "floor_int",
    "funding_rate",
    "impact_price",
    "lot_to_native_price",
    "native_price_to_lot",
    "perp_settle_pnl",
    "record_oneshot",
    "record_settle",
    "record_trade",
    "recurring_constraint",
    "round_to_zero_int",
    "settle_limit",
    "unsettled_pnl",
    "update_funding",
    "update_settle_limit",
]
