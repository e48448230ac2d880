"""Closed-form perp prices: bankruptcy, liquidation (isolated and cross), fillable.

Units, as everywhere in the perp code: ``price`` is quote per one whole base token in
``PRICE_UNIT`` (1e8) fixed point; ``size`` is signed, in base smallest units (positive =
long); quote amounts are ints in quote smallest units. A position's value at price ``P``
is ``size * P * quote_unit / (base_unit * PRICE_UNIT)``; every formula below is solved
over exact rationals and rounded once, *against the trader*: a long's threshold prices
round up (the trader is warned and closed out earlier), a short's round down. For the
bankruptcy price this also means closing at the rounded price never needs the insurance
fund.

Sources:

- bankruptcy price: dYdX v4 (``GetBankruptcyPriceInQuoteQuantums``), single position,
  cash-flow quote balance: the price at which ``quote_balance + size * P`` is zero;
- liquidation price: Binance, "How to Calculate Liquidation Price of USDⓈ-M Contracts"
  (one-way mode), ``LP = (WB - TMM1 + UPNL1 + cum - side*Q*EP) / (Q*MMR - side*Q)`` with
  the bracket (MMR, cum) taken at the liquidation price itself;
- fillable price: dYdX v4 ``GetFillablePrice``,
  ``(PNNV - ABR * SMMR * PMMR) / PS`` with ``ABR = clamp(BA * (1 - TNC / TMMR), 0, 1)``.
"""

from __future__ import annotations

from fractions import Fraction

from marginengine.fixedpoint import PRICE_UNIT
from marginengine.margin.tiers import PPM, TierSchedule


def _floor_div(numerator: int, denominator: int) -> int:
    """Floor (toward minus infinity) of a signed ratio with a positive denominator."""
    return numerator // denominator


def _ceil_div(numerator: int, denominator: int) -> int:
    """Ceiling (toward plus infinity) of a signed ratio with a positive denominator."""
    return -(-numerator // denominator)


def _check_units(base_unit: int, quote_unit: int) -> None:
    if base_unit <= 0:
        raise ValueError(f"base_unit must be positive (got {base_unit})")
    if quote_unit <= 0:
        raise ValueError(f"quote_unit must be positive (got {quote_unit})")


def bankruptcy_price(size: int, quote_balance: int, base_unit: int, quote_unit: int) -> int:
    """Return the price at which ``quote_balance + value(size, P)`` is exactly zero.

    This is the account value of a single position held with a cash-flow quote balance
    (dYdX v4 style: opening a long with borrowed quote leaves ``quote_balance`` negative;
    opening a short credits the proceeds, so it is positive). Closing the whole position at
    this price leaves the account at exactly zero.

    Rounded against the trader: a long's price *up*, a short's *down*, so closing at the
    rounded price leaves the account at zero or above.

    Parameters
    ----------
    size
        Signed position size, base smallest units; must not be 0.
    quote_balance
        The account's quote balance (collateral plus the cash flows of its trades), quote
        smallest units.
    base_unit, quote_unit
        ``10**decimals`` of the base and quote assets.

    Returns
    -------
    int
        The bankruptcy price, clamped at 0: a long whose quote balance is not negative is
        never bankrupt (0), a short whose quote balance is not positive is bankrupt at
        every price (0).
    """
    if size == 0:
        raise ValueError("size must not be 0: a flat account has no bankruptcy price")
    _check_units(base_unit, quote_unit)
    # quote_balance + size * P * qu / (bu * PRICE_UNIT) = 0
    #   => P = -quote_balance * bu * PRICE_UNIT / (size * qu)
    numerator = -quote_balance * base_unit * PRICE_UNIT
    denominator = size * quote_unit
    if denominator < 0:
        numerator, denominator = -numerator, -denominator
    price = _ceil_div(numerator, denominator) if size > 0 else _floor_div(numerator, denominator)
    return max(price, 0)


def liquidation_price_isolated(
    size: int,
    entry_price: int,
    wallet_balance: int,
    schedule: TierSchedule,
    base_unit: int,
    quote_unit: int,
) -> int | None:
    """Return Binance's isolated liquidation price of one position (one-way mode).

    Solves ``equity(P) = maintenance(P)`` for the mark price ``P``, where
    ``equity(P) = WB + side * Q * (P - EP)`` and ``maintenance(P) = Q * P * MMR - cum``
    with ``(MMR, cum)`` the bracket holding the notional *at* ``P``::

        LP = (WB + cum - side * Q * EP) / (Q * MMR - side * Q)

    Every bracket is tried and the one whose bracket contains ``Q * LP`` is kept (Binance:
    "substitute the maintenance margin rate and the maintenance amount of the position
    level at the liquidation price"). Because ``equity - maintenance`` is strictly monotone
    in ``P`` (MMR < 100%), exactly one bracket is consistent, or two adjacent ones giving
    the same price at their common edge.

    Parameters
    ----------
    size
        Signed position size, base smallest units.
    entry_price
        Average entry price, ``PRICE_UNIT`` fixed point.
    wallet_balance
        The isolated margin (Binance's ``isolatedWalletBalance``), quote smallest units.
    schedule
        The market's brackets.
    base_unit, quote_unit
        ``10**decimals`` of the base and quote assets.

    Returns
    -------
    int or None
        The price, rounded against the trader (long *up*, short *down*): for a long it is
        the lowest whole price tick at which the position is not liquidatable (one tick
        lower, ``equity < maintenance`` exactly), for a short the highest. ``None`` when no
        positive price liquidates the position (a long whose margin covers its entry
        cost, or no position). 0 for a short that is liquidatable at every price (its
        margin plus its entry value is not positive).

    Raises
    ------
    ValueError
        For a long that is liquidatable at every price, which needs a top bracket with a
        100% maintenance fraction and too little margin: there is no finite answer.
    """
    if entry_price < 0:
        raise ValueError(f"entry_price must be non-negative (got {entry_price})")
    _check_units(base_unit, quote_unit)
    if size == 0:
        return None
    side = 1 if size > 0 else -1
    qty = abs(size)
    scale = base_unit * PRICE_UNIT  # value(size, P) = size * P * quote_unit / scale
    floors = schedule.floors
    for index, tier in enumerate(schedule.tiers):
        # Multiply the formula through by scale * PPM to keep everything in ints:
        #   N = (WB * PPM + cum * PPM) * scale - side * Q * qu * EP * PPM
        #   M = Q * qu * (MMR - side * PPM)
        cum_scaled = schedule.maintenance_amount_scaled(index)
        numerator = (wallet_balance * PPM + cum_scaled) * scale
        numerator -= side * qty * quote_unit * entry_price * PPM
        denominator = qty * quote_unit * (tier.mmf_ppm - side * PPM)
        if denominator == 0:
            # A long in a 100% bracket: equity - maintenance is constant there, no root.
            continue
        if denominator < 0:
            numerator, denominator = -numerator, -denominator
        if numerator <= 0:
            continue  # the root is at or below price 0 in this bracket
        # Notional at the exact root, times denominator * scale, against the edges.
        notional_num = qty * quote_unit * numerator
        notional_den = denominator * scale
        if notional_num < floors[index] * notional_den:
            continue
        if index + 1 < len(floors) and notional_num > floors[index + 1] * notional_den:
            continue
        if side > 0:
            return _ceil_div(numerator, denominator)
        return _floor_div(numerator, denominator)
    if side < 0:
        # equity - maintenance falls with the price and is <= 0 already at price 0.
        return 0
    if wallet_balance * scale >= qty * quote_unit * entry_price:
        return None  # the margin covers the entry cost: equity >= 0 = maintenance at 0
    raise ValueError(
        "the long is liquidatable at every price: its top bracket requires 100% "
        "maintenance margin and its margin does not cover the entry cost"
    )


def liquidation_price_cross(
    size: int,
    entry_price: int,
    other_equity: int,
    other_maintenance: int,
    schedule: TierSchedule,
    base_unit: int,
    quote_unit: int,
) -> int | None:
    """Return Binance's cross-margin liquidation price of one position.

    Binance's cross formula holds everything but this position constant::

        LP = (WB - TMM1 + UPNL1 + cum - side * Q * EP) / (Q * MMR - side * Q)

    so it is :func:`liquidation_price_isolated` with a wallet balance of
    ``other_equity - other_maintenance``.

    Parameters
    ----------
    size, entry_price, schedule, base_unit, quote_unit
        As in :func:`liquidation_price_isolated`.
    other_equity
        The account's equity without this position's unrealized PnL: its cross wallet
        balance plus the unrealized PnL of its other positions (``WB + UPNL1``), quote
        smallest units.
    other_maintenance
        The maintenance requirement of the account's other positions (``TMM1``), quote
        smallest units.

    Returns
    -------
    int or None
        As in :func:`liquidation_price_isolated`.
    """
    return liquidation_price_isolated(
        size, entry_price, other_equity - other_maintenance, schedule, base_unit, quote_unit
    )


#: dYdX's liquidations-config fields are uint32 ppm (x/clob/types/liquidations_config.pb.go).
UINT32_MAX = 2**32 - 1


def _dydx_abr(tnc: int, tmmr: int, bankruptcy_adjustment_ppm: int) -> Fraction:
    """dYdX's adjusted bankruptcy rating ``clamp(BA x (1 - TNC / TMMR), 0, 1)``, exact."""
    unbounded = Fraction(bankruptcy_adjustment_ppm, PPM) * (1 - Fraction(tnc, tmmr))
    return min(max(unbounded, Fraction(0)), Fraction(1))


def _check_fillable_inputs(smmf_ppm: int, tmmr: int, bankruptcy_adjustment_ppm: int) -> None:
    if not 0 <= smmf_ppm <= UINT32_MAX:
        raise ValueError(f"smmf_ppm must be within 0..{UINT32_MAX} (dYdX's uint32 "
                         f"spread_to_maintenance_margin_ratio_ppm; got {smmf_ppm})")
    if not 0 <= bankruptcy_adjustment_ppm <= UINT32_MAX:
        raise ValueError(f"bankruptcy_adjustment_ppm must be within 0..{UINT32_MAX} "
                         f"(got {bankruptcy_adjustment_ppm})")
    if tmmr <= 0:
        raise ValueError(f"tmmr must be positive for an account with a position (got {tmmr})")


def dydx_fillable_price_quantums(
    pnnv: int | Fraction,
    pmmr: int | Fraction,
    size: int,
    smmf_ppm: int,
    tnc: int,
    tmmr: int,
    bankruptcy_adjustment_ppm: int = PPM,
) -> Fraction:
    """Return dYdX v4's fillable price in quote quantums per base quantum, exact.

    ``GetFillablePrice`` (dydxprotocol/v4-chain@84d4664b, protocol/x/clob/keeper/
    liquidations.go)::

        ABR = clamp(BA x (1 - TNC / TMMR), 0, 1)
        FP  = (PNNV - ABR x SMMR x PMMR) / PS

    a ``big.Rat`` there and a :class:`~fractions.Fraction` here. ``PNNV`` is the whole
    position's net notional (``size x oracle``, truncated toward zero by dYdX's
    ``BaseToQuoteQuantums``), ``PMMR`` its maintenance requirement, ``PS`` its signed size:
    the price depends on the whole position, not on the size being liquidated.
    dYdX's own table (``TestGetFillablePrice``) gives, e.g., 49,999/100 for 0.1 BTC long
    (1e7 quantums) at 50,000 with TNC 499 and TMMR 500 USDC.

    Raises
    ------
    ValueError
        For size 0, a non-positive ``tmmr``, ppm outside dYdX's uint32, or a negative
        result (dYdX panics: "Calculated fillable price is negative").
    """
    if size == 0:
        raise ValueError("size must not be 0: there is no position to liquidate")
    _check_fillable_inputs(smmf_ppm, tmmr, bankruptcy_adjustment_ppm)
    abr = _dydx_abr(tnc, tmmr, bankruptcy_adjustment_ppm)
    price = (Fraction(pnnv) - abr * Fraction(pmmr) * Fraction(smmf_ppm, PPM)) / size
    if price < 0:
        raise ValueError(f"the fillable price is negative ({price}): SMMR x PMMR exceeds "
                         "the position's notional")
    return price


def dydx_fillable_price_subticks(price: Fraction, liquidating_long: bool,
                                 quantum_conversion_exponent: int,
                                 subticks_per_tick: int) -> int:
    """Return dYdX's ``ConvertFillablePriceToSubticks``: the liquidation order's subticks.

    ``price`` is in quote quantums per base quantum (:func:`dydx_fillable_price_quantums`);
    dividing by ``10**quantum_conversion_exponent`` gives subticks, rounded **up** for a
    sell closing a long and **down** for a buy closing a short (the limit protects the
    liquidated account), aligned to ``subticks_per_tick`` in the same direction, and
    clamped to ``[subticks_per_tick, 2**64 - 1 - (2**64 - 1) % subticks_per_tick]``.
    """
    if price < 0:
        raise ValueError(f"price must be non-negative (got {price})")
    if subticks_per_tick <= 0:
        raise ValueError(f"subticks_per_tick must be positive (got {subticks_per_tick})")
    subticks = price / Fraction(10) ** quantum_conversion_exponent
    rounded = _ceil_div(subticks.numerator, subticks.denominator) if liquidating_long \
        else _floor_div(subticks.numerator, subticks.denominator)
    aligned = (_ceil_div(rounded, subticks_per_tick) if liquidating_long
               else _floor_div(rounded, subticks_per_tick)) * subticks_per_tick
    top = 2**64 - 1
    return min(max(aligned, subticks_per_tick), top - top % subticks_per_tick)


def dydx_bankruptcy_quote(delta_nc: int, delta_mmr: int, tnc: int, tmmr: int) -> int:
    """Return dYdX v4's bankruptcy price of a position delta, in signed quote quantums.

    ``GetBankruptcyPriceInQuoteQuantums`` (protocol/x/clob/keeper/liquidations.go)::

        BPQ = -DNNV - floor(TNC x |DMMR| / TMMR)

    ``DNNV`` is the change of the position's net notional and ``DMMR`` (never positive) the
    change of its maintenance requirement when the delta is applied; ``TNC`` and ``TMMR`` are
    the account's. The delta is given the share ``|DMMR| / TMMR`` of the account's net
    collateral, so a position in a multi-position account goes bankrupt before the whole
    account does. The quote quantums are the amount the account receives (positive, closing a
    long) or pays (negative, closing a short) at the bankruptcy price, rounded toward
    positive infinity (Go's Euclidean ``Div``: the floor, subtracted), so that closing at it
    never needs the insurance fund. dYdX's table (``TestGetBankruptcyPriceInQuoteQuantums``):
    0.004 BTC and 0.1 ETH long, quote -490 USDC (TNC 10, TMMR 50): closing the ETH
    (DNNV -300, DMMR -30) gives 294 USDC.

    Raises
    ------
    ValueError
        If ``delta_mmr`` is positive (dYdX panics: "DMMR is positive") or ``tmmr`` is not.
    """
    if delta_mmr > 0:
        raise ValueError(f"delta_mmr must not be positive: a liquidation reduces the "
                         f"position (got {delta_mmr})")
    if tmmr <= 0:
        raise ValueError(f"tmmr must be positive (got {tmmr})")
    return -delta_nc - _floor_div(tnc * -delta_mmr, tmmr)


def dydx_insurance_fund_delta(delta_quote: int, bankruptcy_quote: int,
                              max_liquidation_fee_ppm: int) -> int:
    """Return dYdX v4's insurance-fund delta of a liquidation fill, quote quantums.

    ``GetLiquidationInsuranceFundDelta`` (protocol/x/clob/keeper/liquidations.go):
    ``delta = delta_quote - bankruptcy_quote`` (``delta_quote`` is the signed quote the
    liquidated account receives for the fill, negative when it buys). Zero or negative: the
    fund pays ``-delta``. Positive: the account pays the fee ``min(floor(|delta_quote| x
    max_liquidation_fee_ppm / 1e6), delta)`` (``BigIntMulPpm`` floors), capped at the
    collateral the fill leaves above bankruptcy. dYdX's table: 0.1 BTC sold for 5,610 USDC
    with a bankruptcy quote of 5,100 and the default 0.5% fee pays 28.05 USDC.
    """
    if not 0 <= max_liquidation_fee_ppm <= PPM:
        raise ValueError(f"max_liquidation_fee_ppm must be within 0..{PPM} "
                         f"(got {max_liquidation_fee_ppm})")
    delta = delta_quote - bankruptcy_quote
    if delta <= 0:
        return delta
    return min(abs(delta_quote) * max_liquidation_fee_ppm // PPM, delta)


def dydx_position_notional_liquidatable(abs_notional: int, min_notional: int,
                                        max_portion_ppm: int) -> tuple[int, int]:
    """Return dYdX v4's position block limits ``(min, max)`` notional liquidatable.

    ``GetMaxAndMinPositionNotionalLiquidatable`` (protocol/x/clob/keeper/liquidations.go):
    ``min = min(min_position_notional_liquidated, |PNNV|)`` and ``max = max(min,
    floor(|PNNV| x max_position_portion_liquidated_ppm / 1e6))``.
    """
    if abs_notional < 0 or min_notional < 0:
        raise ValueError(f"abs_notional and min_notional must be non-negative "
                         f"(got {abs_notional}, {min_notional})")
    if not 0 <= max_portion_ppm <= PPM:
        raise ValueError(f"max_portion_ppm must be within 0..{PPM} (got {max_portion_ppm})")
    low = min(min_notional, abs_notional)
    return low, max(low, abs_notional * max_portion_ppm // PPM)


def dydx_liquidatable_size(size: int, oracle_price: int, max_notional: int, step: int,
                           base_unit: int, quote_unit: int) -> int:
    """Return how many base units dYdX v4 liquidates of ``size`` (unsigned).

    ``GetLiquidatablePositionSizeDelta`` (protocol/x/clob/keeper/liquidations.go): the whole
    position when its net notional (truncated) is at most ``max_notional`` or it is at most
    one step; otherwise ``max_notional`` converted to base units (``QuoteToBaseQuantums``,
    truncated), rounded down to a multiple of ``step`` and clamped to ``[step, |size|]``.
    """
    if size == 0:
        raise ValueError("size must not be 0: there is no position to liquidate")
    if step <= 0 or oracle_price <= 0:
        raise ValueError(f"step and oracle_price must be positive (got {step}, {oracle_price})")
    _check_units(base_unit, quote_unit)
    notional = abs(size) * oracle_price * quote_unit // (base_unit * PRICE_UNIT)
    if notional <= max_notional or abs(size) <= step:
        return abs(size)
    base: int = max(max_notional, 0) * base_unit * PRICE_UNIT // (oracle_price * quote_unit)
    return int(min(max(base // step * step, step), abs(size)))


def fillable_price(
    oracle_price: int,
    size: int,
    pmmf_ppm: int | Fraction,
    smmf_ppm: int,
    tnc: int,
    tmmr: int,
    bankruptcy_adjustment_ppm: int = PPM,
) -> int:
    """Return dYdX v4's fillable price: the worst price a liquidation order may fill at.

    dYdX v4 ``GetFillablePrice`` (:func:`dydx_fillable_price_quantums`) with the position's
    net notional ``size x oracle`` and ``PMMR = |PNNV| x PMMF``::

        ABR = clamp(BA * (1 - TNC / TMMR), 0, 1)      # adjusted bankruptcy rating
        FP  = (PNNV - ABR * SMMR * PMMR) / PS
            = oracle * (1 - side * ABR * SMMR * PMMF)

    The spread below (long) or above (short) the oracle grows from 0, for an account just
    at its maintenance requirement, to ``SMMR * PMMF`` of the oracle price, for an account
    at zero collateral or below (``BA = 1``). Defaults in dYdX's code: ``BA = 1_000_000``,
    ``SMMR = 100_000`` (10%); its sample genesis uses ``SMMR = 1_500_000`` (150%): dYdX
    bounds it only as a uint32.

    The fillable price lies between the oracle price and ``oracle * (1 -/+ SMMR * PMMF)``.
    It is on the oracle side of the bankruptcy price while ``ABR * SMMR * PMMR <= TNC``
    (e.g. a single position with ``TNC >= SMMR * TMMR / (1 + SMMR)`` when ``BA = 1``);
    below that, and always once ``TNC < 0``, it is beyond the bankruptcy price and dYdX's
    insurance fund pays the difference (``GetLiquidationInsuranceFundDelta``).

    Parameters
    ----------
    oracle_price
        ``PRICE_UNIT`` fixed point.
    size
        The liquidated position's signed size (only its sign is used).
    pmmf_ppm
        The position's maintenance margin fraction, ``PMMR / |PNNV|``, ppm: an int, or an
        exact :class:`~fractions.Fraction` of ppm (no rounding of the fraction).
    smmf_ppm
        dYdX's ``spread_to_maintenance_margin_ratio_ppm`` (a uint32: may exceed 1e6).
    tnc
        The account's total net collateral, quote smallest units (may be negative).
    tmmr
        The account's total maintenance requirement, quote smallest units (positive).
    bankruptcy_adjustment_ppm
        dYdX's ``bankruptcy_adjustment_ppm`` (BA), 1_000_000 by default.

    Returns
    -------
    int
        The price, rounded as dYdX's ``ConvertFillablePriceToSubticks`` rounds the order's
        subticks: **up** for a long (the liquidation sells), **down** for a short, so the
        limit never asks the liquidated account for more than the exact fillable price.
    """
    if oracle_price < 0:
        raise ValueError(f"oracle_price must be non-negative (got {oracle_price})")
    if size == 0:
        raise ValueError("size must not be 0: there is no position to liquidate")
    if not 0 <= pmmf_ppm <= PPM:
        raise ValueError(f"pmmf_ppm must be within 0..{PPM} (got {pmmf_ppm})")
    side = 1 if size > 0 else -1
    # In price units: PNNV = side x oracle per unit of size, PMMR = oracle x PMMF.
    exact = dydx_fillable_price_quantums(side * oracle_price,
                                         oracle_price * Fraction(pmmf_ppm) / PPM, side,
                                         smmf_ppm, tnc, tmmr, bankruptcy_adjustment_ppm)
    num, den = int(exact.numerator), int(exact.denominator)
    return _ceil_div(num, den) if side > 0 else _floor_div(num, den)
