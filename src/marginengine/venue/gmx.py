"""GMX v2 price impact, in GMX's integers (30-decimal USD and factors).

Price impact is the change in the market's imbalance, each side raised to its exponent
and scaled by its factor::

    impact = f(initial imbalance) - f(next imbalance),  f(d) = d^exponent x factor

with ``d^exponent`` by PRBMath's UD60x18 ``pow`` (:mod:`marginengine.fixedpoint.prbmath`,
release 2.4.3, the one gmx-synthetics pins). Positions: the imbalance is long minus short
open interest; swaps (and deposits, withdrawals): the USD worth of the pool's two tokens.

- **Same side** (the larger side stays the larger, or equal): one factor and exponent,
  the positive ones when the trade improves the balance (``next < initial``), else the
  negative ones; the sign is positive when it improves.
- **Crossover** (the trade flips which side is larger): the initial imbalance at the
  positive factor and exponent minus the next one at the negative ones
  (``getPriceImpactUsdForCrossoverRebalance``), so flipping the book cannot be gamed into
  a rebate for the part that creates the new imbalance.
- The positive factor (and, for positions, exponent) is capped at the negative one
  (``MarketUtils.getAdjustedPositionImpactFactors``, ``...ExponentFactors``,
  ``getAdjustedSwapImpactFactors``): otherwise opening and closing at once could profit.
- ``applyExponentFactor``: an imbalance below one USD (``1e30``) counts zero; an exponent
  of exactly 1 returns the value; else both are converted from 30 to 18 decimals
  (``/ 1e12``, down), raised by ``pow`` and converted back (``x 1e12``).
- ``applyFactor``: ``value x factor / 1e30``, rounded down (OpenZeppelin ``mulDiv``).

Source followed: gmx-io/gmx-synthetics at commit
``a5c0c8835182cbd84e47dca04b971239311d2f1d`` (2026-03-13): ``contracts/pricing/
PricingUtils.sol``, ``PositionPricingUtils.sol`` (``_getPriceImpactUsd``,
``getNextOpenInterestParams``), ``SwapPricingUtils.sol`` (``_getPriceImpactUsd``,
``getNextPoolAmountsParams``), ``contracts/utils/Precision.sol`` (``applyExponentFactor``,
``applyFactor``, ``floatToWei``, ``weiToFloat``), ``contracts/utils/Calc.sol``,
``contracts/market/MarketUtils.sol``. Not modelled: the virtual inventory (a second,
cross-market imbalance whose impact is taken when worse), open interest in tokens
(``USE_OPEN_INTEREST_IN_TOKENS_FOR_BALANCE``), the impact pool's cap on positive impact
and the pending-impact accounting of decreases.
"""

from __future__ import annotations

from dataclasses import dataclass

from marginengine.fixedpoint import div_toward_zero, prbmath
from marginengine.venue.amm import VenueError

#: GMX's ``FLOAT_PRECISION``: USD amounts and factors have 30 decimals.
FLOAT_PRECISION: int = 10**30
#: ``FLOAT_TO_WEI_DIVISOR``: 30 to 18 decimals.
FLOAT_TO_WEI_DIVISOR: int = 10**12


def _non_negative(**values: int) -> None:
    for name, value in values.items():
        if value < 0:
            raise VenueError(name, f"must be non-negative, got {value}")


def apply_factor(value: int, factor: int) -> int:
    """``Precision.applyFactor``: ``value x factor / 1e30``, rounded down."""
    _non_negative(value=value, factor=factor)
    return value * factor // FLOAT_PRECISION


def apply_exponent_factor(float_value: int, exponent_factor: int) -> int:
    """``Precision.applyExponentFactor``: ``float_value ^ exponent_factor`` (30 decimals).

    Below one USD the value counts zero (PRBMath's ``pow`` needs ``x >= 1``); an exponent
    of 1 returns the value; else ``pow`` at 18 decimals (v2.4.3) and back.

    Examples
    --------
    GMX's own test (test/pricing/PricingUtils.ts): 1,000 USD to the 1.5 (then a factor of
    1e-6): 31,622.776601683792872691 USD, against the true 31,622.776601683793319988...

    >>> apply_exponent_factor(1000 * 10**30, 15 * 10**29)
    31622776601683792872691000000000000
    """
    _non_negative(float_value=float_value, exponent_factor=exponent_factor)
    if float_value < FLOAT_PRECISION:
        return 0
    if exponent_factor == FLOAT_PRECISION:
        return float_value
    wei = prbmath.pow(float_value // FLOAT_TO_WEI_DIVISOR,
                      exponent_factor // FLOAT_TO_WEI_DIVISOR, "v2.4.3")
    return wei * FLOAT_TO_WEI_DIVISOR


def apply_impact_factor(diff_usd: int, impact_factor: int, exponent_factor: int) -> int:
    """``PricingUtils.applyImpactFactor``: ``applyFactor(diff ^ exponent, factor)``."""
    return apply_factor(apply_exponent_factor(diff_usd, exponent_factor), impact_factor)


def same_side_impact(initial_diff: int, next_diff: int, impact_factor: int,
                     exponent_factor: int) -> int:
    """``getPriceImpactUsdForSameSideRebalance``: ``|f(initial) - f(next)|``, positive
    when the balance improved (``next < initial``)."""
    delta = abs(apply_impact_factor(initial_diff, impact_factor, exponent_factor)
                - apply_impact_factor(next_diff, impact_factor, exponent_factor))
    return delta if next_diff < initial_diff else -delta


def crossover_impact(initial_diff: int, next_diff: int, positive_factor: int,
                     negative_factor: int, positive_exponent: int,
                     negative_exponent: int) -> int:
    """``getPriceImpactUsdForCrossoverRebalance``: ``f+(initial) - f-(next)`` (the
    initial imbalance at the positive factor, the next at the negative)."""
    positive = apply_impact_factor(initial_diff, positive_factor, positive_exponent)
    negative = apply_impact_factor(next_diff, negative_factor, negative_exponent)
    return positive - negative


@dataclass(frozen=True)
class ImpactParams:
    """A market's price-impact parameters (30-decimal factors, as GMX's data store).

    Attributes
    ----------
    positive_factor, negative_factor
        ``positionImpactFactorKey(market, true/false)`` (or the swap ones).
    positive_exponent, negative_exponent
        ``positionImpactExponentFactorKey(market, true/false)``; for swaps both are the
        market's one ``swapImpactExponentFactorKey``.
    """

    positive_factor: int
    negative_factor: int
    positive_exponent: int
    negative_exponent: int

    def __post_init__(self) -> None:
        _non_negative(positive_factor=self.positive_factor,
                      negative_factor=self.negative_factor,
                      positive_exponent=self.positive_exponent,
                      negative_exponent=self.negative_exponent)

    def adjusted(self) -> ImpactParams:
        """The positive factor and exponent capped at the negative ones (MarketUtils)."""
        return ImpactParams(min(self.positive_factor, self.negative_factor),
                            self.negative_factor,
                            min(self.positive_exponent, self.negative_exponent),
                            self.negative_exponent)


@dataclass(frozen=True)
class PriceImpact:
    """A price impact: ``usd`` (30 decimals, positive to the trader) and whether the
    balance improved."""

    usd: int
    balance_improved: bool


def imbalance_impact(side_a: int, side_b: int, next_a: int, next_b: int,
                     params: ImpactParams) -> PriceImpact:
    """The impact of moving the two sides from ``(side_a, side_b)`` to ``(next_a,
    next_b)`` (USD, 30 decimals) with ``params`` already adjusted: same side or crossover
    (``_getPriceImpactUsd`` of both position and swap pricing)."""
    _non_negative(side_a=side_a, side_b=side_b, next_a=next_a, next_b=next_b)
    initial_diff, next_diff = abs(side_a - side_b), abs(next_a - next_b)
    improved = next_diff < initial_diff
    if (side_a <= side_b) == (next_a <= next_b):
        factor = params.positive_factor if improved else params.negative_factor
        exponent = params.positive_exponent if improved else params.negative_exponent
        return PriceImpact(same_side_impact(initial_diff, next_diff, factor, exponent),
                           improved)
    return PriceImpact(crossover_impact(initial_diff, next_diff, params.positive_factor,
                                        params.negative_factor, params.positive_exponent,
                                        params.negative_exponent), improved)


def position_impact(long_oi: int, short_oi: int, usd_delta: int, is_long: bool,
                    params: ImpactParams) -> PriceImpact:
    """``PositionPricingUtils`` price impact of changing the ``is_long`` side's open
    interest by ``usd_delta`` (30 decimals, signed: negative to decrease).

    ``getNextOpenInterestParams``: a decrease beyond the side's open interest leaves it at
    zero (GMX's guard for single-token markets); the factors are adjusted first.

    Examples
    --------
    GMX's test (test/exchange/PositionPriceImpact/PairMarket.ts): the first 200,000 USD
    long of an empty market, negative factor 1e-8, exponent 2: -400 USD, as GMX computes
    it (a crossover from a zero imbalance).

    >>> p = ImpactParams(5 * 10**21, 10**22, 2 * 10**30, 2 * 10**30)
    >>> position_impact(0, 0, 200_000 * 10**30, True, p).usd
    -399999999999999992588018713340000
    """
    _non_negative(long_oi=long_oi, short_oi=short_oi)
    next_long, next_short = long_oi, short_oi
    if is_long:
        next_long = 0 if usd_delta < 0 and -usd_delta > long_oi else long_oi + usd_delta
    else:
        next_short = 0 if usd_delta < 0 and -usd_delta > short_oi else short_oi + usd_delta
    return imbalance_impact(long_oi, short_oi, next_long, next_short, params.adjusted())


def swap_impact(pool_a_usd: int, pool_b_usd: int, delta_a_usd: int, delta_b_usd: int,
                positive_factor: int, negative_factor: int, exponent: int) -> PriceImpact:
    """``SwapPricingUtils`` price impact of changing the pool's two sides by the deltas
    (30-decimal USD, signed); one exponent for both sides, the positive factor capped at
    the negative one.

    Raises
    ------
    VenueError
        ``UsdDeltaExceedsPoolValue``: a delta taking more than a side holds.

    Examples
    --------
    PricingUtils.sol's comment: a pool of 50,000 USD a side gets 50,000 USD of long tokens
    at a factor of 0.01 / 50,000 and exponent 2: about -500 USD (``0^2 x f - 50,000^2 x f``).

    >>> swap_impact(50_000 * 10**30, 50_000 * 10**30, 50_000 * 10**30, 0,
    ...             2 * 10**23, 2 * 10**23, 2 * 10**30).usd
    -499999999999999990735023391600000
    """
    _non_negative(pool_a_usd=pool_a_usd, pool_b_usd=pool_b_usd)
    for name, pool, delta in (("delta_a_usd", pool_a_usd, delta_a_usd),
                              ("delta_b_usd", pool_b_usd, delta_b_usd)):
        if delta < 0 and -delta > pool:
            raise VenueError(name, f"UsdDeltaExceedsPoolValue ({delta} of a {pool} side)")
    params = ImpactParams(min(positive_factor, negative_factor), negative_factor,
                          exponent, exponent)
    return imbalance_impact(pool_a_usd, pool_b_usd, pool_a_usd + delta_a_usd,
                            pool_b_usd + delta_b_usd, params)


def cap_positive_impact(impact_usd: int, size_delta_usd: int,
                        max_positive_factor: int | None) -> int:
    """``capPositiveImpactUsdByMaxPositionImpact``: a positive impact at most
    ``applyFactor(size, max factor)`` (``None``: no cap)."""
    if impact_usd < 0 or max_positive_factor is None:
        return impact_usd
    return min(impact_usd, apply_factor(size_delta_usd, max_positive_factor))


@dataclass(frozen=True)
class IncreaseFill:
    """The fill of a position increase (``PositionUtils.getExecutionPriceForIncrease``).

    Attributes
    ----------
    execution_price
        USD (30 decimals) per smallest unit of the index token, rounded down.
    size_delta_in_tokens
        Index tokens (smallest units) the size buys before the impact.
    impact_amount
        The impact in index tokens (signed; a negative impact rounded up in magnitude).
    impact_usd
        The (capped) price impact, 30-decimal USD.
    """

    execution_price: int
    size_delta_in_tokens: int
    impact_amount: int
    impact_usd: int


def increase_fill(size_delta_usd: int, price_min: int, price_max: int, is_long: bool,
                  impact_usd: int) -> IncreaseFill:
    """The execution price of an increase of ``size_delta_usd`` with ``impact_usd`` (from
    :func:`position_impact`, capped by the caller), at the index token's ``price_min`` and
    ``price_max`` (30-decimal USD per smallest unit).

    A long buys ``size / max`` tokens (down), a short ``size / min`` (up); the impact in
    tokens is ``impact / max`` when positive, ``impact / min`` rounded up in magnitude
    when negative; the execution price is ``size / (tokens +- impact tokens)`` (down).

    Raises
    ------
    VenueError
        ``PriceImpactLargerThanOrderSize`` when the impact takes every token.
    """
    _non_negative(size_delta_usd=size_delta_usd)
    if price_min <= 0 or price_max < price_min:
        raise VenueError("price_min", f"prices must satisfy 0 < min <= max (got "
                                      f"{price_min}, {price_max})")
    base = size_delta_usd // price_max if is_long else -(-size_delta_usd // price_min)
    if impact_usd > 0:
        amount = impact_usd // price_max
    else:
        # Calc.roundUpMagnitudeDivision
        amount = div_toward_zero(impact_usd - price_min + 1, price_min) if impact_usd < 0 else 0
    tokens = base + amount if is_long else base - amount
    if tokens <= 0:
        raise VenueError("size_delta_usd", f"PriceImpactLargerThanOrderSize (impact "
                                           f"{impact_usd} on {size_delta_usd})")
    return IncreaseFill(size_delta_usd // tokens, base, amount, impact_usd)


def decrease_execution_price(price_min: int, price_max: int, position_size_usd: int,
                             position_size_tokens: int, size_delta_usd: int,
                             impact_usd: int, is_long: bool) -> int:
    """``BaseOrderUtils.getExecutionPriceForDecrease``: the price a decrease of
    ``size_delta_usd`` fills at (30-decimal USD per smallest unit).

    From the price against the position (a long sells at ``min``, a short buys back at
    ``max``) moved by ``mulDiv(size usd, impact, size tokens) / size delta`` (the impact
    signed for the position's side: a long's negative impact lowers its price, a short's
    raises it), each division toward zero.

    Raises
    ------
    VenueError
        ``PriceImpactLargerThanOrderSize``, ``NegativeExecutionPrice``.
    """
    _non_negative(position_size_usd=position_size_usd,
                  position_size_tokens=position_size_tokens, size_delta_usd=size_delta_usd)
    price = price_min if is_long else price_max
    if size_delta_usd == 0 or position_size_tokens == 0:
        return price
    adjusted = impact_usd if is_long else -impact_usd
    if adjusted < 0 and -adjusted > size_delta_usd:
        raise VenueError("size_delta_usd", f"PriceImpactLargerThanOrderSize (impact "
                                           f"{impact_usd} on {size_delta_usd})")
    scaled = position_size_usd * abs(adjusted) // position_size_tokens
    adjustment = div_toward_zero(scaled if adjusted > 0 else -scaled, size_delta_usd)
    if price + adjustment < 0:
        raise VenueError("impact_usd", f"NegativeExecutionPrice ({price} + {adjustment})")
    return price + adjustment


__all__ = [
    "FLOAT_PRECISION",
    "FLOAT_TO_WEI_DIVISOR",
    "ImpactParams",
    "IncreaseFill",
    "PriceImpact",
    "apply_exponent_factor",
    "apply_factor",
    "apply_impact_factor",
    "cap_positive_impact",
    "crossover_impact",
    "decrease_execution_price",
    "imbalance_impact",
    "increase_fill",
    "position_impact",
    "same_side_impact",
    "swap_impact",
]
