"""Mango v4 account health (init, maint, liquidation end) as pure functions, in I80F48.

Mango sums, per token, ``balance x weight x price`` where the balance includes the perp
markets' *health unsettled PnL* settled in that token; a negative balance takes the
liability weight and price, a positive one the asset weight and price:

- maint health: maint weights, oracle price (liquidation starts below zero);
- liquidation-end health: init weights *unscaled*, oracle price;
- init health: init weights *scaled by the bank's deposit and borrow limits* and the
  *stable price* on the conservative side (assets at ``min(oracle, stable)``, liabilities
  at ``max(oracle, stable)``). Scaling: above ``deposit_weight_scale_start_quote`` of
  deposits (with the potential Serum tokens) the init asset weight is multiplied by
  ``start / deposits value``; above ``borrow_weight_scale_start_quote`` of borrows the init
  liability weight by ``borrows value / start``. Mango computes both scales in ``f64`` and
  converts with ``I80F48::from_num``; so does :func:`scaled_init_asset_weight`.

A perp position contributes through its settle token: the worse of "all bids execute" and
"all asks execute" of ``net base x base weight x base price - order base x order price``
plus the position's quote, and a positive result is weighted by the market's *overall*
asset weight (``init_overall_asset_weight`` for init and liquidation end).

Numbers are Mango's ``I80F48`` (signed, 48 fractional bits), held as the raw integer
(``value x 2^48``); a product is ``(a x b) >> 48`` (an arithmetic shift: floor), sums exact.

Source followed: blockworks-foundation/mango-v4 at commit
``1303a4a16228eb1e8e8d4f0eef724eaf63310c86`` (2024-09-04),
``programs/mango-v4/src/health/cache.rs`` (``Prices``, ``HealthType``, ``TokenInfo``,
``PerpInfo::new``, ``PerpInfo::unweighted_health_unsettled_pnl``, ``weigh_uhupnl_overall``,
``effective_token_balances``, ``health_sum``, ``health``),
``programs/mango-v4/src/state/bank.rs`` (``scaled_init_asset_weight``,
``scaled_init_liab_weight``, ``maint_weights``),
``programs/mango-v4/src/instructions/token_edit.rs`` (``maint_weight_shift_duration_inv``) and
``programs/mango-v4/src/state/mango_account_components.rs``
(``PerpPosition::unsettled_funding``).

The maint weights may *shift*: between ``maint_weight_shift_start`` and
``maint_weight_shift_end`` (seconds) they move linearly from the bank's maint weights to
the targets, which hold from the end on (:func:`maint_weights`; the health cache reads
them at the clock's ``now_ts``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from fractions import Fraction

from marginengine.decisions import Code, Refusal
from marginengine.fixedpoint import Rounding
from marginengine.margin.base import FamilyMargin, MarginKind, MarginState, health_of

FRAC_BITS = 48
ONE = 1 << FRAC_BITS
#: ``I80F48::MAX`` (raw).
I80F48_MAX = (1 << 127) - 1
#: Mango's sentinel for "no scaling" (``f64::MAX``).
NO_SCALING = float("inf")


def fx(value: int) -> int:
    """``I80F48::from(int)``: an integer as a raw I80F48."""
    return value << FRAC_BITS


def fx_from_f64(value: float) -> int:
    """``I80F48::from_num(f64)``: the nearest raw value, ties to even (exact on the binary)."""
    scaled = Fraction(value) * ONE
    floor = scaled.numerator // scaled.denominator
    rest = scaled - floor
    if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and floor % 2 == 1):
        return floor + 1
    return floor


#: The largest finite ``f32``: ``(2^24 - 1) x 2^104``.
F32_MAX = float((2**24 - 1) * 2**104)


def f32_nearest(value: Decimal | Fraction | int | float | str) -> float:
    """The ``f32`` nearest to ``value``'s exact value, ties to even, as a (exact) float.

    Mango's instructions take weights, fees and factors as ``f32`` (``TokenRegister``,
    ``TokenEdit``, ``PerpCreateMarket``, ``PerpEditMarket``); a decimal such as ``0.9``
    is rounded once, from its exact value (as Rust parses an ``f32`` literal), not through
    an ``f64`` first (a second rounding that can land on the other neighbour).

    Raises
    ------
    ValueError
        ``value`` is not finite or its ``f32`` would overflow (Mango's ``from_num``
        panics on a non-finite float).
    """
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"not a finite number: {value!r}")
    if isinstance(value, Decimal) and not value.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    exact = Fraction(value)
    if exact == 0:
        return 0.0
    size = abs(exact)
    # The binary exponent e with 2^e <= size < 2^(e+1).
    e = size.numerator.bit_length() - size.denominator.bit_length()
    if Fraction(2) ** e > size:
        e -= 1
    # 24 significant bits; below 2^-126 the spacing stays 2^-149 (subnormals).
    ulp = Fraction(2) ** (max(e, -126) - 23)
    rounded = round(size / ulp) * ulp        # Fraction.__round__: ties to even
    if rounded > F32_MAX:
        raise ValueError(f"{value!r} is beyond f32's range (at most {F32_MAX:.6g})")
    return float(rounded) if exact > 0 else -float(rounded)


def fx_from_f32(value: Decimal | Fraction | int | float | str) -> int:
    """``I80F48::from_num(f32)``: ``value`` rounded to the nearest ``f32``
    (:func:`f32_nearest`), then to the nearest raw I80F48, ties to even (the ``fixed``
    crate's float conversion; exact for an ``f32`` at least ``2^-25``)."""
    return fx_from_f64(f32_nearest(value))


def fx_mul(a: int, b: int) -> int:
    """I80F48 product: ``(a x b) >> 48`` (floor)."""
    return (a * b) >> FRAC_BITS


def fx_div(a: int, b: int) -> int:
    """I80F48 quotient ``(a << 48) / b``, truncated toward zero (``fixed``'s ``Div``)."""
    if b == 0:
        raise ZeroDivisionError("fx_div: division by zero")
    num = a << FRAC_BITS
    q = abs(num) // abs(b)
    return q if (num >= 0) == (b > 0) else -q


def fx_to_f64(raw: int) -> float:
    """A raw I80F48 as a float (display and ``to_num::<f64>()``)."""
    return raw / ONE


class HealthType(Enum):
    """Mango's ``HealthType``."""

    INIT = "init"
    MAINT = "maint"
    LIQUIDATION_END = "liquidation_end"


@dataclass(frozen=True)
class Prices:
    """Oracle and stable price (raw I80F48, native quote per native token)."""

    oracle: int
    stable: int

    def liab(self, kind: HealthType) -> int:
        """``Prices::liab``: ``max(oracle, stable)`` for init, the oracle otherwise."""
        return max(self.oracle, self.stable) if kind is HealthType.INIT else self.oracle

    def asset(self, kind: HealthType) -> int:
        """``Prices::asset``: ``min(oracle, stable)`` for init, the oracle otherwise."""
        return min(self.oracle, self.stable) if kind is HealthType.INIT else self.oracle


def scaled_init_asset_weight(init_asset_weight: int, scale_start_quote: float,
                             native_deposits: int, potential_serum_tokens: int,
                             price: int) -> int:
    """``Bank::scaled_init_asset_weight`` (the f64 path as Mango computes it)."""
    if scale_start_quote == NO_SCALING:
        return init_asset_weight
    deposits = fx_to_f64(native_deposits) + float(potential_serum_tokens)
    deposits_quote = deposits * fx_to_f64(price)
    if deposits_quote <= scale_start_quote:
        return init_asset_weight
    return fx_mul(init_asset_weight, fx_from_f64(scale_start_quote / deposits_quote))


def scaled_init_liab_weight(init_liab_weight: int, scale_start_quote: float,
                            native_borrows: int, price: int) -> int:
    """``Bank::scaled_init_liab_weight`` (the f64 path; ``I80F48::MAX`` at a zero start)."""
    if scale_start_quote == NO_SCALING:
        return init_liab_weight
    borrows_quote = fx_to_f64(native_borrows) * fx_to_f64(price)
    if borrows_quote <= scale_start_quote:
        return init_liab_weight
    if scale_start_quote == 0.0:
        return I80F48_MAX
    return fx_mul(init_liab_weight, fx_from_f64(borrows_quote / scale_start_quote))


def maint_weight_shift_duration_inv(start: int, end: int) -> int:
    """``Bank::maint_weight_shift_duration_inv`` as ``token_edit`` caches it: ``1 / (end -
    start)`` in I80F48 (truncated), zero (no shift) when ``end <= start``.

    Parameters
    ----------
    start, end
        ``maint_weight_shift_start`` and ``maint_weight_shift_end`` (seconds, ``u64``).
    """
    if start < 0 or end < 0:
        raise ValueError("maint_weight_shift_start/end: Mango holds them as u64 "
                         f"(non-negative); got {start}, {end}")
    return 0 if end <= start else fx_div(ONE, fx(end - start))


def maint_weights(maint_asset_weight: int, maint_liab_weight: int, shift_start: int,
                  shift_end: int, asset_target: int, liab_target: int,
                  now: int) -> tuple[int, int]:
    """``Bank::maint_weights(now_ts)``: the maint asset and liability weights at ``now``.

    No shift (a zero ``maint_weight_shift_duration_inv``, i.e. ``end <= start``) or
    ``now <= start``: the bank's weights; ``now >= end``: the targets; in between
    ``weight + scale x (target - weight)`` with ``scale = (now - start) x duration_inv``,
    every product an I80F48 product (:func:`fx_mul`, floor).

    Parameters
    ----------
    maint_asset_weight, maint_liab_weight
        The bank's maint weights (raw I80F48).
    shift_start, shift_end
        ``maint_weight_shift_start`` / ``_end`` (seconds; ``0, 0``: no shift).
    asset_target, liab_target
        ``maint_weight_shift_asset_target`` / ``_liab_target`` (raw I80F48).
    now
        The clock (``now_ts``, seconds, non-negative).

    Returns
    -------
    tuple[int, int]
        ``(asset weight, liability weight)``, raw I80F48.
    """
    if now < 0:
        raise ValueError(f"now: Mango's now_ts is a u64 (non-negative); got {now}")
    duration_inv = maint_weight_shift_duration_inv(shift_start, shift_end)
    if duration_inv == 0 or now <= shift_start:
        return maint_asset_weight, maint_liab_weight
    if now >= shift_end:
        return asset_target, liab_target
    scale = fx_mul(fx(now - shift_start), duration_inv)
    return (maint_asset_weight + fx_mul(scale, asset_target - maint_asset_weight),
            maint_liab_weight + fx_mul(scale, liab_target - maint_liab_weight))


@dataclass(frozen=True)
class TokenInfo:
    """One token of the account (``TokenInfo``), all I80F48 raw.

    Attributes
    ----------
    token_index
        The bank's token index.
    prices
        Oracle and stable price.
    maint_asset_weight, init_asset_weight, init_scaled_asset_weight
        Asset weights (the scaled one from :func:`scaled_init_asset_weight`; the maint one
        at the clock, from :func:`maint_weights`).
    maint_liab_weight, init_liab_weight, init_scaled_liab_weight
        Liability weights (the maint one from :func:`maint_weights`).
    balance_spot
        Native token balance (negative for a borrow).
    """

    token_index: int
    prices: Prices
    maint_asset_weight: int
    init_asset_weight: int
    init_scaled_asset_weight: int
    maint_liab_weight: int
    init_liab_weight: int
    init_scaled_liab_weight: int
    balance_spot: int

    def asset_weight(self, kind: HealthType) -> int:
        """``TokenInfo::asset_weight``."""
        if kind is HealthType.INIT:
            return self.init_scaled_asset_weight
        if kind is HealthType.LIQUIDATION_END:
            return self.init_asset_weight
        return self.maint_asset_weight

    def liab_weight(self, kind: HealthType) -> int:
        """``TokenInfo::liab_weight``."""
        if kind is HealthType.INIT:
            return self.init_scaled_liab_weight
        if kind is HealthType.LIQUIDATION_END:
            return self.init_liab_weight
        return self.maint_liab_weight

    def health_contribution(self, kind: HealthType, balance: int) -> int:
        """``balance x weighted price`` (liability side for a negative balance)."""
        if balance < 0:
            weighted = fx_mul(self.liab_weight(kind), self.prices.liab(kind))
        else:
            weighted = fx_mul(self.asset_weight(kind), self.prices.asset(kind))
        return fx_mul(balance, weighted)


@dataclass(frozen=True)
class PerpInfo:
    """One perp position (``PerpInfo``); weights and quote raw I80F48, lots integers.

    Attributes
    ----------
    settle_token_index
        The token its PnL settles in.
    init_base_asset_weight, init_base_liab_weight, maint_base_asset_weight,
    maint_base_liab_weight
        Weights of the base position.
    init_overall_asset_weight, maint_overall_asset_weight
        Weights of positive health unsettled PnL.
    base_lot_size, base_lots, bids_base_lots, asks_base_lots
        Position and open orders in lots (``base_lots`` includes taker lots).
    quote
        The position's quote in settle-token native units, unsettled funding removed
        (:func:`perp_health_quote`, :func:`unsettled_funding`).
    base_prices
        The perp market's oracle and stable price.
    """

    settle_token_index: int
    init_base_asset_weight: int
    init_base_liab_weight: int
    maint_base_asset_weight: int
    maint_base_liab_weight: int
    init_overall_asset_weight: int
    maint_overall_asset_weight: int
    base_lot_size: int
    base_lots: int
    bids_base_lots: int
    asks_base_lots: int
    quote: int
    base_prices: Prices

    def _case(self, kind: HealthType, orders_base_lots: int, order_price: int) -> int:
        net_base = fx((self.base_lots + orders_base_lots) * self.base_lot_size)
        negative = net_base < 0
        if kind is HealthType.MAINT:
            weight = self.maint_base_liab_weight if negative else self.maint_base_asset_weight
        else:
            weight = self.init_base_liab_weight if negative else self.init_base_asset_weight
        price = self.base_prices.liab(kind) if negative else self.base_prices.asset(kind)
        base_health = fx_mul(fx_mul(net_base, weight), price)
        orders_base = fx(orders_base_lots * self.base_lot_size)
        return base_health + fx_mul(-orders_base, order_price)

    def unweighted_health_unsettled_pnl(self, kind: HealthType) -> int:
        """``uhupnl``: the quote plus the worse of all bids or all asks executing."""
        bids = self._case(kind, self.bids_base_lots, self.base_prices.liab(kind))
        asks = self._case(kind, -self.asks_base_lots, self.base_prices.asset(kind))
        return self.quote + min(bids, asks)

    def health_unsettled_pnl(self, kind: HealthType) -> int:
        """``hupnl``: a positive uhupnl times the overall asset weight."""
        value = self.unweighted_health_unsettled_pnl(kind)
        if value > 0:
            weight = (self.maint_overall_asset_weight if kind is HealthType.MAINT
                      else self.init_overall_asset_weight)
            return fx_mul(weight, value)
        return value


def unsettled_funding(base_lots: int, long_funding: int, short_funding: int,
                      long_settled_funding: int, short_settled_funding: int) -> int:
    """``PerpPosition::unsettled_funding``: the funding the position still owes (native
    quote, raw I80F48): ``(market funding - settled funding) x base lots`` on its side (an
    I80F48 product, :func:`fx_mul`), zero when flat.

    Parameters
    ----------
    base_lots
        ``base_position_lots`` (signed; without taker lots).
    long_funding, short_funding
        The market's cumulative funding per base lot (``PerpMarket``, raw I80F48).
    long_settled_funding, short_settled_funding
        The position's funding settled so far (raw I80F48).
    """
    if base_lots > 0:
        return fx_mul(long_funding - long_settled_funding, fx(base_lots))
    if base_lots < 0:
        return fx_mul(short_funding - short_settled_funding, fx(base_lots))
    return 0


def perp_health_quote(quote_position_native: int, funding: int,
                      taker_quote_native: int = 0) -> int:
    """``PerpInfo::new``'s quote: ``quote_position_native - unsettled_funding + taker
    quote`` (raw I80F48; ``taker_quote_native`` in whole native units:
    ``taker_quote_lots x quote_lot_size``). :attr:`PerpInfo.quote` takes this."""
    return quote_position_native - funding + fx(taker_quote_native)


def effective_token_balances(tokens: Sequence[TokenInfo], perps: Sequence[PerpInfo],
                             kind: HealthType) -> list[int]:
    """``effective_token_balances``: spot balances plus each perp's hupnl in its token."""
    index = {t.token_index: i for i, t in enumerate(tokens)}
    balances = [0] * len(tokens)
    for perp in perps:
        if perp.settle_token_index not in index:
            raise ValueError(f"settle_token_index: token {perp.settle_token_index} is not "
                             "among the account's tokens")
        balances[index[perp.settle_token_index]] += perp.health_unsettled_pnl(kind)
    return [b + t.balance_spot for b, t in zip(balances, tokens, strict=True)]


def health(tokens: Sequence[TokenInfo], perps: Sequence[PerpInfo], kind: HealthType) -> int:
    """``HealthCache::health`` without Serum3 open orders (raw I80F48, quote native)."""
    balances = effective_token_balances(tokens, perps, kind)
    return sum(t.health_contribution(kind, b) for t, b in zip(tokens, balances, strict=True))


def contributions(tokens: Sequence[TokenInfo], perps: Sequence[PerpInfo],
                  kind: HealthType) -> tuple[int, int]:
    """The health's positive and negative parts: ``(assets, liabilities)`` (raw I80F48,
    both non-negative; ``assets - liabilities`` is :func:`health`)."""
    balances = effective_token_balances(tokens, perps, kind)
    parts = [t.health_contribution(kind, b) for t, b in zip(tokens, balances, strict=True)]
    return sum(p for p in parts if p > 0), -sum(p for p in parts if p < 0)


def check_health_post(pre_init_health: int, post_init_health: int) -> Refusal | None:
    """``MangoAccount::check_health_post``: after an action the init health must be
    non-negative or must not have decreased (below -1000 native quote compared at their
    ceilings); else ``HealthMustBePositiveOrIncrease`` (raw I80F48 healths).

    Source: programs/mango-v4/src/state/mango_account.rs (``check_health_post``).
    """
    if post_init_health < -fx(1000):
        not_decreased = -(-post_init_health >> FRAC_BITS) >= -(-pre_init_health >> FRAC_BITS)
    else:
        not_decreased = post_init_health >= pre_init_health
    if post_init_health >= 0 or not_decreased:
        return None
    return Refusal(Code.MANGO_HEALTH_MUST_BE_POSITIVE_OR_INCREASE,
                   f"health must be positive or not decrease: init health would be "
                   f"{fx_to_f64(post_init_health):.6f} (was {fx_to_f64(pre_init_health):.6f}, "
                   "native quote)",
                   {"pre_init_health": pre_init_health, "post_init_health": post_init_health})


def family_margin(tokens: Sequence[TokenInfo], perps: Sequence[PerpInfo],
                  quote_decimals: int, base_decimals: int) -> FamilyMargin:
    """The account's :class:`~marginengine.margin.base.FamilyMargin` by Mango's health:
    initial from init health, maintenance from maint health (value: the positive
    contributions, requirement: the negative ones, in base-currency units of
    ``base_decimals``, value rounded down, requirement up; health their exact ratio);
    liquidatable when maint health is below zero (``check_liquidatable``)."""
    scale = ONE * 10**quote_decimals
    states = []
    for kind, mkind in ((HealthType.INIT, MarginKind.INITIAL),
                        (HealthType.MAINT, MarginKind.MAINTENANCE)):
        assets, liabs = contributions(tokens, perps, kind)
        states.append(MarginState(mkind, assets * 10**base_decimals // scale,
                                  -(-liabs * 10**base_decimals // scale),
                                  health_of(assets, liabs, Rounding.DOWN)))
    maint = health(tokens, perps, HealthType.MAINT)
    return FamilyMargin(states[0], states[1], maint < 0)


__all__ = [
    "F32_MAX",
    "FRAC_BITS",
    "I80F48_MAX",
    "NO_SCALING",
    "ONE",
    "HealthType",
    "PerpInfo",
    "Prices",
    "TokenInfo",
    "check_health_post",
    "contributions",
    "effective_token_balances",
    "f32_nearest",
    "family_margin",
    "fx",
    "fx_div",
    "fx_from_f32",
    "fx_from_f64",
    "fx_mul",
    "fx_to_f64",
    "health",
    "maint_weight_shift_duration_inv",
    "maint_weights",
    "perp_health_quote",
    "scaled_init_asset_weight",
    "scaled_init_liab_weight",
    "unsettled_funding",
]
