"""Conversions between human decimal text and integer native units."""

from __future__ import annotations

from decimal import Context, Decimal, InvalidOperation, Overflow, Rounded

#: Prices are integers in the base currency (USD) with 8 decimals, as Aave's and Compound's
#: oracles report them.
PRICE_DECIMALS = 8
PRICE_UNIT = 10**PRICE_DECIMALS
#: The most digits an amount in smallest units may have before :func:`parse_units` refuses
#: it (far above any limit a caller sets, 2**256 has 78): "1e999999" is refused, not built.
MAX_DIGITS = 1000
#: Where amounts are scaled: exact up to MAX_DIGITS significant digits, else it raises.
_EXACT = Context(prec=MAX_DIGITS, Emax=10**9, Emin=-(10**9), traps=[Rounded, Overflow])


def _to_decimal(value: object) -> Decimal:
    if isinstance(value, bool):
        raise ValueError("must be a number, not a boolean")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int | str):
        try:
            result = Decimal(str(value).strip().replace("_", ""))
        except InvalidOperation:
            raise ValueError(f"must be a number ({value!r} is not)") from None
    elif isinstance(value, float):
        # str() gives the shortest decimal that round-trips, which is what the author typed.
        result = Decimal(str(value))
    else:
        raise ValueError(f"must be a number, not {type(value).__name__}")
    if not result.is_finite():
        raise ValueError(f"must be a finite number ({value!r} is not)")
    return result


def parse_units(value: object, decimals: int) -> int:
    """Convert a human amount (``"1.5"``, ``1.5``, ``2``) to an int of smallest units, exactly.

    Raises
    ------
    ValueError
        If the value is not a finite number or has more fractional digits than ``decimals``.
    """
    amount = _to_decimal(value)
    # In a context of MAX_DIGITS digits that traps rounding, not the thread's: its 28
    # significant digits made scaleb round a longer amount silently
    # ("12345678901.123456789012345678" lost its last digits) and overflow on "1e999999".
    try:
        scaled = _EXACT.scaleb(amount, decimals)
    except (Rounded, Overflow):
        raise ValueError(f"too large ({_shown(value)} has more than {MAX_DIGITS} "
                         "digits)") from None
    if not scaled:
        return 0
    if scaled != scaled.to_integral_value():
        raise ValueError(f"has more than {decimals} decimal places ({value!r})")
    if scaled.adjusted() >= MAX_DIGITS:
        raise ValueError(f"too large ({_shown(value)} has more than {MAX_DIGITS} digits "
                         "in smallest units)")
    return int(scaled)


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"a {len(str(value))}-character number"


def format_units(amount: int, decimals: int, places: int | None = None) -> str:
    """Format an int of smallest units as a decimal string (for display only)."""
    value = Decimal(amount).scaleb(-decimals)
    if places is not None:
        return f"{value:,.{places}f}"
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def fraction_to_bps(value: object) -> int:
    """Convert a fraction (``0.8``) to basis points (``8000``), exactly.

    Raises
    ------
    ValueError
        If the fraction is not a whole number of basis points.
    """
    return parse_units(value, 4)
