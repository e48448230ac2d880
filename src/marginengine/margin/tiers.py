"""Tiered perp margin: notional brackets with a maintenance amount, and IMF scalers.

Pure rules, all in exact integers:

- :class:`TierSchedule`: Binance USDⓈ-M style brackets. Each bracket has a maintenance
  margin fraction (MMF) and an initial margin fraction (IMF); the requirement of a position
  of notional ``N`` in bracket ``i`` is ``N * f_i - cum_i``, where the "maintenance amount"
  ``cum_i`` makes the requirement continuous at every bracket edge (it is the same as
  charging each slice of notional at its own bracket's fraction).
- :func:`oi_scaled_imf`: dYdX v4 open-interest IMF scaling (liquidity tier
  ``open_interest_lower_cap`` / ``open_interest_upper_cap``).
- :func:`dydx_initial_margin`, :func:`dydx_maintenance_margin`: dYdX v4's requirements with
  its Go code's roundings.
- :func:`size_premium_imf`: Drift v2 size premium (``imf_factor``, Drift's integer square
  root of size).

Units: fractions are in parts per million (:data:`PPM`), as dYdX v4 stores them; notionals
and requirements are ints in the quote asset's smallest units. Requirements round *up*.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from dataclasses import dataclass

from marginengine.errors import field_path
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
            where = field_path("tiers", i)
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
    """Return dYdX v4's open-interest-scaled initial margin fraction (OIMF), ppm.

    Mirrors ``LiquidityTier.GetAdjustedInitialMarginPpm`` (dydxprotocol/v4-chain,
    protocol/x/perpetuals/types/liquidity_tier.go), in its order of checks:

    1. ``upper_cap == 0`` (scaling disabled) or ``open_notional <= lower_cap``: ``base``;
    2. ``open_notional >= upper_cap``: 100%;
    3. otherwise ``base + (PPM - base) * (open_notional - lower_cap) // (upper_cap -
       lower_cap)``: the increase is **floored** (Go ``big.Int.Div`` of non-negative
       operands), not rounded up. Only the requirement it multiplies is rounded up, in
       :func:`dydx_initial_margin`.

    Because the lower cap is checked first, ``lower_cap == upper_cap`` keeps ``base`` at
    the cap and steps to 100% just above it.

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
    if upper_cap == 0 or open_interest_notional <= lower_cap:
        return base_imf_ppm
    if open_interest_notional >= upper_cap:
        return PPM
    increase = (PPM - base_imf_ppm) * (open_interest_notional - lower_cap) \
        // (upper_cap - lower_cap)
    return base_imf_ppm + increase


def _mul_ppm_up(value: int, ppm: int) -> int:
    """dYdX ``lib.BigMulPpm(value, ppm, roundUp=true)``: ``ceil(value * ppm / 1e6)``."""
    return div(value * ppm, PPM, Rounding.UP)


def dydx_initial_margin(
    notional: int,
    base_imf_ppm: int,
    open_interest_notional: int = 0,
    lower_cap: int = 0,
    upper_cap: int = 0,
    custom_imf_ppm: int = 0,
) -> int:
    """Return dYdX v4's initial margin requirement, quote units.

    ``LiquidityTier.GetInitialMarginQuoteQuantums`` (protocol/x/perpetuals/types/
    liquidity_tier.go): ``ceil(notional * max(OIMF, custom_imf) / 1e6)`` with the OIMF of
    :func:`oi_scaled_imf` (not rounded up itself); ``custom_imf_ppm`` 0 means none. One
    rounding, up.

    Parameters
    ----------
    notional
        ``|position| x oracle price`` in quote units (dYdX ``BaseToQuoteQuantums``, which
        truncates toward zero).
    base_imf_ppm
        The liquidity tier's ``initial_margin_ppm``.
    open_interest_notional, lower_cap, upper_cap
        As in :func:`oi_scaled_imf`; all 0 gives the base requirement.
    custom_imf_ppm
        A per-account IMF that applies when larger (dYdX's leverage setting); 0 = none.
    """
    if notional < 0:
        raise ValueError(f"notional must be non-negative (got {notional})")
    if custom_imf_ppm < 0:
        raise ValueError(f"custom_imf_ppm must be non-negative (got {custom_imf_ppm})")
    imf = oi_scaled_imf(base_imf_ppm, open_interest_notional, lower_cap, upper_cap)
    return _mul_ppm_up(notional, max(imf, custom_imf_ppm))


def dydx_maintenance_margin(notional: int, base_imf_ppm: int, maintenance_fraction_ppm: int) -> int:
    """Return dYdX v4's maintenance margin requirement, quote units.

    ``GetMarginRequirementsInQuoteQuantums`` (protocol/x/perpetuals/lib/lib.go): the
    maintenance margin is ``maintenance_fraction_ppm`` of the *base* initial margin (open
    interest ignored), and both steps round up::

        MMR = ceil(ceil(notional * imf / 1e6) * maintenance_fraction / 1e6)

    which can be one unit above ``ceil(notional * mmf / 1e6)`` with ``mmf = imf *
    fraction``: notional 21, IMF 5%, fraction 60% gives ``ceil(ceil(1.05) * 0.6) = 2``
    where the single rounding gives ``ceil(0.63) = 1``.

    Parameters
    ----------
    notional
        ``|position| x oracle price`` in quote units.
    base_imf_ppm
        The liquidity tier's ``initial_margin_ppm``.
    maintenance_fraction_ppm
        The liquidity tier's ``maintenance_fraction_ppm`` (at most 1e6).
    """
    if notional < 0:
        raise ValueError(f"notional must be non-negative (got {notional})")
    if not 0 <= base_imf_ppm <= PPM:
        raise ValueError(f"base_imf_ppm must be within 0..{PPM} (got {base_imf_ppm})")
    if not 0 <= maintenance_fraction_ppm <= PPM:
        raise ValueError(
            f"maintenance_fraction_ppm must be within 0..{PPM} (got {maintenance_fraction_ppm})"
        )
    return _mul_ppm_up(_mul_ppm_up(notional, base_imf_ppm), maintenance_fraction_ppm)


#: Drift v2's perp margin ratios are in MARGIN_PRECISION (1e4: basis points), sizes in
#: AMM_RESERVE_PRECISION (1e9) and ``imf_factor`` in SPOT_IMF_PRECISION (1e6)
#: (programs/drift/src/math/constants.rs).
DRIFT_MARGIN_PRECISION: int = 10_000
DRIFT_BASE_PRECISION: int = 10**9
DRIFT_IMF_PRECISION: int = 1_000_000


def drift_size_premium_liability_weight(
    size: int, imf_factor: int, liability_weight: int, precision: int = DRIFT_MARGIN_PRECISION,
    bounded: bool = True,
) -> int:
    """Drift v2 ``calculate_size_premium_liability_weight``.

    programs/drift/src/math/margin.rs, in Drift's own integers::

        size_sqrt = isqrt(size * 10 + 1)            # size in 1e9 -> root in 1e5
        weight    = lw - lw // 5 + size_sqrt * imf_factor // (100_000 * 1e6 // precision)
        result    = max(lw, weight)                 # is_bounded; else weight itself

    ``precision`` is the weight's precision: ``MARGIN_PRECISION`` (1e4) for perp margin
    ratios, as ``PerpMarket::get_margin_ratio`` calls it. Every division floors, as Rust's
    unsigned division does. Not capped at 100%, like Drift.

    Parameters
    ----------
    size
        Position size in Drift's base precision (1e9), non-negative.
    imf_factor
        Drift's ``imf_factor`` (1e6 precision); 0 returns ``liability_weight``.
    liability_weight
        The margin ratio (or liability weight) without premium, in ``precision``.
    precision
        The weight's precision; ``100_000 * 1e6`` must be a multiple of it.
    bounded
        Drift's ``is_bounded``: at least ``liability_weight`` (``False``: the premium
        weight itself, which is below it for small sizes, as ``get_margin_ratio`` asks for
        a high-leverage user's initial ratio).
    """
    if size < 0 or imf_factor < 0 or liability_weight < 0:
        raise ValueError(f"size, imf_factor and liability_weight must be non-negative "
                         f"(got {size}, {imf_factor}, {liability_weight})")
    if precision <= 0 or (100_000 * DRIFT_IMF_PRECISION) % precision:
        raise ValueError(f"precision must divide 1e11 (got {precision})")
    if imf_factor == 0:
        return liability_weight
    size_sqrt = math.isqrt(size * 10 + 1)
    numerator = liability_weight - liability_weight // 5
    premium = numerator + size_sqrt * imf_factor // (100_000 * DRIFT_IMF_PRECISION // precision)
    return max(liability_weight, premium) if bounded else premium


def size_premium_imf(base_imf_ppm: int, size: int, base_unit: int, imf_factor_ppm: int) -> int:
    """Return Drift v2's size-premium margin fraction, ppm.

    ``PerpMarket::get_margin_ratio`` (programs/drift/src/state/perp_market.rs) applies
    :func:`drift_size_premium_liability_weight` to the market's margin ratio in basis points
    (``MARGIN_PRECISION``) with the size in 1e9 base units, so this converts to Drift's
    integers, applies Drift's formula with its own floors, and converts back:
    the result is a whole number of basis points, times 100.

    Conversions: ``base_imf_ppm`` must be a whole number of basis points (a multiple of
    100; Drift cannot hold a finer ratio); the size is converted to 1e9 base units rounded
    *up* (exact whenever ``base_decimals <= 9``; a finer size cannot exist on Drift, and
    rounding up only raises the requirement).

    Parameters
    ----------
    base_imf_ppm
        The market's margin fraction without premium, ppm (a multiple of 100).
    size
        Signed position size in base smallest units (the sign is ignored).
    base_unit
        ``10**base_decimals``.
    imf_factor_ppm
        Drift's ``imf_factor`` (its precision is 1e6, i.e. ppm); 0 disables the premium.
    """
    if not 0 <= base_imf_ppm <= PPM:
        raise ValueError(f"base_imf_ppm must be within 0..{PPM} (got {base_imf_ppm})")
    if base_imf_ppm % (PPM // DRIFT_MARGIN_PRECISION):
        raise ValueError(f"base_imf_ppm must be a whole number of basis points, as Drift's "
                         f"margin ratios are (got {base_imf_ppm} ppm)")
    if imf_factor_ppm < 0:
        raise ValueError(f"imf_factor_ppm must be non-negative (got {imf_factor_ppm})")
    if base_unit <= 0:
        raise ValueError(f"base_unit must be positive (got {base_unit})")
    if imf_factor_ppm == 0 or size == 0:
        return base_imf_ppm
    drift_size = div(abs(size) * DRIFT_BASE_PRECISION, base_unit, Rounding.UP)
    ratio_bps = drift_size_premium_liability_weight(
        drift_size, imf_factor_ppm, base_imf_ppm // (PPM // DRIFT_MARGIN_PRECISION)
    )
    return ratio_bps * (PPM // DRIFT_MARGIN_PRECISION)
