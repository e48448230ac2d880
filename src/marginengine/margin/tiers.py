"""Tiered perp margin: notional brackets with a maintenance amount, and IMF scalers.

Three pure rules, all in exact integers:

- :class:`TierSchedule`: Binance USDⓈ-M style brackets. Each bracket has a maintenance
  margin fraction (MMF) and an initial margin fraction (IMF); the requirement of a position
  of notional ``N`` in bracket ``i`` is ``N * f_i - cum_i``, where the "maintenance amount"
  ``cum_i`` makes the requirement continuous at every bracket edge (it is the same as
  charging each slice of notional at its own bracket's fraction).
- :func:`oi_scaled_imf`: dYdX v4 open-interest IMF scaling (liquidity tier
  ``open_interest_lower_cap`` / ``open_interest_upper_cap``).
- :func:`size_premium_imf`: Drift v2 size premium (``imf_factor``, square root of size).

Units: fractions are in parts per million (:data:`PPM`), as dYdX v4 stores them; notionals
and requirements are ints in the quote asset's smallest units. Requirements round *up*.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from dataclasses import dataclass

from marginengine.fixedpoint import Rounding, div
from marginengine.ledger.perp import quote_value

#: One whole, in parts per million (dYdX v4's unit for margin fractions).
PPM: int = 1_000_000


def notional(size: int, price: int, base_unit: int, quote_unit: int, rounding: Rounding) -> int:
    """Return ``|size| * price`` in quote units, rounded as asked.

    Parameters
    ----------
    size
        Signed position size in the base asset's smallest units.
    price
        Quote per one whole base token, ``PRICE_UNIT`` (1e8) fixed point.
    base_unit, quote_unit
        ``10**decimals`` of the base and quote assets.
    rounding
        ``UP`` for a requirement or a liability, ``DOWN`` for a value credited to a trader.

    Returns
    -------
    int
        ``|size| * price * quote_unit / (base_unit * PRICE_UNIT)``.
    """
    if price < 0:
        raise ValueError(f"price must be non-negative (got {price})")
    _check_units(base_unit, quote_unit)
    # One home for size x price: the ledger's quote_value.
    return abs(quote_value(size, price, base_unit, quote_unit, rounding))


def _check_units(base_unit: int, quote_unit: int) -> None:
    if base_unit <= 0:
        raise ValueError(f"base_unit must be positive (got {base_unit})")
    if quote_unit <= 0:
        raise ValueError(f"quote_unit must be positive (got {quote_unit})")


@dataclass(frozen=True)
class MarginTier:
    """One bracket of a tier schedule.

    Attributes
    ----------
    notional_floor
        Quote units; the bracket holds notionals above this floor up to the next floor
        (Binance's ``floor < position <= cap``). The first tier's floor is 0.
    mmf_ppm
        Maintenance margin fraction in this bracket, ppm.
    imf_ppm
        Initial margin fraction in this bracket, ppm (at least ``mmf_ppm``).
    """

    notional_floor: int
    mmf_ppm: int
    imf_ppm: int


@dataclass(frozen=True)
class TierSchedule:
    """Notional brackets with continuous maintenance and initial requirements.

    The maintenance amount of bracket ``i`` is Binance's "cum":
    ``cum_0 = 0``, ``cum_i = cum_{i-1} + floor_i * (mmf_i - mmf_{i-1}) / PPM``. It is kept
    exactly, scaled by ``PPM`` (an int), so that the requirement
    ``notional * mmf_i / PPM - cum_i`` takes the same exact value on both sides of every
    edge before the single final rounding (up). The initial requirement uses the same
    scheme with the IMFs and its own cum.

    Raises
    ------
    ValueError
        At construction, naming the tier index and field, if the schedule is empty, floors
        are not strictly increasing from 0, fractions are outside ``[0, PPM]``, MMF or IMF
        decrease from one tier to the next, or a tier's IMF is below its MMF.
    """

    tiers: tuple[MarginTier, ...]

    def __post_init__(self) -> None:
        if not self.tiers:
            raise ValueError("tiers: a schedule needs at least one tier")
        for i, tier in enumerate(self.tiers):
            where = f"tiers[{i}]"
            if i == 0 and tier.notional_floor != 0:
                raise ValueError(
                    f"{where}.notional_floor: the first tier's floor must be 0 "
                    f"(got {tier.notional_floor})"
                )
            for field in ("mmf_ppm", "imf_ppm"):
                value = getattr(tier, field)
                if not 0 <= value <= PPM:
                    raise ValueError(f"{where}.{field}: must be within 0..{PPM} (got {value})")
            if tier.imf_ppm < tier.mmf_ppm:
                raise ValueError(
                    f"{where}.imf_ppm: must be at least mmf_ppm {tier.mmf_ppm} "
                    f"(got {tier.imf_ppm})"
                )
            if i == 0:
                continue
            prev = self.tiers[i - 1]
            if tier.notional_floor <= prev.notional_floor:
                raise ValueError(
                    f"{where}.notional_floor: floors must strictly increase "
                    f"({tier.notional_floor} <= {prev.notional_floor})"
                )
            if tier.mmf_ppm < prev.mmf_ppm:
                raise ValueError(
                    f"{where}.mmf_ppm: must not decrease ({tier.mmf_ppm} < {prev.mmf_ppm})"
                )
            if tier.imf_ppm < prev.imf_ppm:
                raise ValueError(
                    f"{where}.imf_ppm: must not decrease ({tier.imf_ppm} < {prev.imf_ppm})"
                )

    @property
    def floors(self) -> tuple[int, ...]:
        """The brackets' notional floors, in order."""
        return tuple(t.notional_floor for t in self.tiers)

    def tier_index(self, notional: int) -> int:
        """Return the bracket holding ``notional``: ``floor_i < notional <= floor_{i+1}``.

        A notional exactly at a floor belongs to the bracket below, as in Binance's
        published tables (``50,000 < Position <= 250,000``); the requirement is the same
        either way because it is continuous at the edge.
        """
        if notional < 0:
            raise ValueError(f"notional must be non-negative (got {notional})")
        return max(bisect_left(self.floors, notional) - 1, 0)

    def maintenance_amount_scaled(self, index: int) -> int:
        """Return the maintenance amount ``cum`` of bracket ``index``, times ``PPM`` (exact)."""
        return self._cum_scaled(index, initial=False)

    def initial_amount_scaled(self, index: int) -> int:
        """Return the initial-margin counterpart of ``cum`` for bracket ``index``, times ``PPM``."""
        return self._cum_scaled(index, initial=True)

    def maintenance_amount(self, index: int) -> int:
        """Return Binance's "maintenance amount" (cum) of bracket ``index``, in quote units.

        Exact whenever ``floor_i * (mmf_i - mmf_{i-1})`` is a multiple of ``PPM`` (every
        published schedule); otherwise rounded *down*, which only raises a requirement
        computed from it. :meth:`maintenance_margin` uses the exact scaled value.
        """
        return div(self.maintenance_amount_scaled(index), PPM, Rounding.DOWN)

    def maintenance_margin(self, notional: int) -> int:
        """Return the maintenance requirement ``notional * mmf_i / PPM - cum_i``, rounded up."""
        return self._requirement(notional, initial=False)

    def initial_margin(self, notional: int) -> int:
        """Return the initial requirement, same scheme with the IMFs, rounded up."""
        return self._requirement(notional, initial=True)

    def _fraction(self, index: int, initial: bool) -> int:
        tier = self.tiers[index]
        return tier.imf_ppm if initial else tier.mmf_ppm

    def _cum_scaled(self, index: int, initial: bool) -> int:
        if not 0 <= index < len(self.tiers):
            raise IndexError(f"tier index {index} is outside 0..{len(self.tiers) - 1}")
        cum = 0
        for i in range(1, index + 1):
            step = self._fraction(i, initial) - self._fraction(i - 1, initial)
            cum += self.tiers[i].notional_floor * step
        return cum

    def _requirement(self, notional: int, initial: bool) -> int:
        index = self.tier_index(notional)
        scaled = notional * self._fraction(index, initial) - self._cum_scaled(index, initial)
        # scaled >= 0: it equals the sum over brackets of (slice of notional) * fraction.
        return div(scaled, PPM, Rounding.UP)


def oi_scaled_imf(
    base_imf_ppm: int, open_interest_notional: int, lower_cap: int, upper_cap: int
) -> int:
    """Return dYdX v4's open-interest-scaled initial margin fraction (OIMF), ppm, rounded up.

    dYdX v4 ``LiquidityTier.GetInitialMarginQuoteQuantums``: with
    ``scaling = (open_notional - lower_cap) / (upper_cap - lower_cap)``, the effective IMF
    is ``min(base + max(scaling, 0) * (1 - base), 1)``. So: ``base`` while the open
    interest is at or below ``lower_cap``; 100% once it reaches ``upper_cap``; linear in
    between. An ``upper_cap`` of 0 disables the scaling, as in dYdX.

    dYdX applies the scaling to the requirement in quote quantums (rounding each step up);
    this returns the fraction itself, rounded up, for the caller to apply.

    Parameters
    ----------
    base_imf_ppm
        The liquidity tier's base IMF, ppm.
    open_interest_notional
        The market's open interest times the oracle price, quote units.
    lower_cap, upper_cap
        The tier's ``open_interest_lower_cap`` and ``open_interest_upper_cap``, quote units.
    """
    if not 0 <= base_imf_ppm <= PPM:
        raise ValueError(f"base_imf_ppm must be within 0..{PPM} (got {base_imf_ppm})")
    if open_interest_notional < 0:
        raise ValueError(
            f"open_interest_notional must be non-negative (got {open_interest_notional})"
        )
    if lower_cap < 0:
        raise ValueError(f"lower_cap must be non-negative (got {lower_cap})")
    if upper_cap < lower_cap:
        # dYdX's LiquidityTier.Validate rejects this too, even with upper_cap == 0.
        raise ValueError(f"lower_cap {lower_cap} must not exceed upper_cap {upper_cap}")
    if upper_cap == 0:
        return base_imf_ppm
    # dYdX checks the upper cap first, so lower_cap == upper_cap is a step to 100%.
    if open_interest_notional >= upper_cap:
        return PPM
    if open_interest_notional <= lower_cap:
        return base_imf_ppm
    increase = div(
        (open_interest_notional - lower_cap) * (PPM - base_imf_ppm),
        upper_cap - lower_cap,
        Rounding.UP,
    )
    return min(base_imf_ppm + increase, PPM)


def _isqrt_ceil(n: int) -> int:
    """Return the smallest ``k >= 0`` with ``k * k >= n``."""
    return 0 if n <= 0 else math.isqrt(n - 1) + 1


def size_premium_imf(base_imf_ppm: int, size: int, base_unit: int, imf_factor_ppm: int) -> int:
    """Return Drift v2's size-premium margin fraction, ppm, rounded up.

    Drift v2 ``PerpMarket::get_margin_ratio`` applies
    ``calculate_size_premium_liability_weight`` to the market's margin ratio (initial *and*
    maintenance): ``max(base, base - base / 5 + imf_factor * sqrt(size))`` with ``size``
    in whole base tokens and ``imf_factor`` in 1e6 precision. So the premium starts from
    80% of the base fraction and grows with the square root of size; it only bites once
    ``imf_factor * sqrt(size) > base / 5``. Drift floors the square root and the division;
    we round the sum *up* (exactly, with :func:`math.isqrt`), and leave out Drift's ``+1``
    inside the root. Like Drift, the result is not capped at 100%.

    Parameters
    ----------
    base_imf_ppm
        The market's margin fraction without premium, ppm.
    size
        Signed position size in base smallest units (the sign is ignored).
    base_unit
        ``10**base_decimals``.
    imf_factor_ppm
        Drift's ``imf_factor`` (its precision is 1e6, i.e. ppm); 0 disables the premium.
    """
    if not 0 <= base_imf_ppm <= PPM:
        raise ValueError(f"base_imf_ppm must be within 0..{PPM} (got {base_imf_ppm})")
    if imf_factor_ppm < 0:
        raise ValueError(f"imf_factor_ppm must be non-negative (got {imf_factor_ppm})")
    if base_unit <= 0:
        raise ValueError(f"base_unit must be positive (got {base_unit})")
    if imf_factor_ppm == 0 or size == 0:
        return base_imf_ppm
    # ceil(4b/5 + f*sqrt(s/u)) = ceil((4b + w) / 5) with w = sqrt(25 f^2 s / u); for an
    # integer 4b that equals ceil((4b + ceil(w)) / 5), and ceil(w) is the least k with
    # k^2 >= 25 f^2 s / u, i.e. k^2 >= ceil(25 f^2 s / u). No step is approximate.
    radicand = div(25 * imf_factor_ppm * imf_factor_ppm * abs(size), base_unit, Rounding.UP)
    premium = div(4 * base_imf_ppm + _isqrt_ceil(radicand), 5, Rounding.UP)
    return max(base_imf_ppm, premium)
