"""Checks on what reaches the oracle layer: prices and times at run time, parameters at setup.

One policy for the whole layer:

- input that cannot be a price or a time (NaN, a float, zero or a negative price, a clock
  running backwards, an unknown or missing source) raises :class:`~marginengine.errors.OracleError`
  naming the field, *before* any state is touched, so the feed, model or breaker is unchanged;
- a price that is real but untrustworthy (old, clamped, far from the other sources) is not an
  error: it is reported in a :class:`~marginengine.oracle.status.PriceStatus` with a reason,
  because the engine must act on it (pause, halt) rather than crash;
- a parameter out of range raises :class:`~marginengine.errors.ConfigError` at construction.
"""

from __future__ import annotations

import math

from marginengine.errors import ConfigError, FieldError, OracleError


def require_price(value: object, field: str) -> int:
    """Return ``value`` if it is a positive int price (USD with 8 decimals).

    Parameters
    ----------
    value
        The candidate price.
    field
        The name to put in the error.

    Raises
    ------
    OracleError
        If ``value`` is a float (NaN, infinite or not), a boolean, not an int, or not positive.
    """
    if isinstance(value, float):
        if math.isnan(value):
            raise OracleError(field, "is NaN, not a price")
        if math.isinf(value):
            raise OracleError(field, f"is {value}, not a finite price")
        # A float price would let binary rounding decide an account's fate; the caller
        # converts once, at the edge, with parse_units(text, PRICE_DECIMALS).
        raise OracleError(
            field, f"must be an int price in USD with 8 decimals, not the float {value!r}"
        )
    if isinstance(value, bool) or not isinstance(value, int):
        raise OracleError(
            field, f"must be an int price in USD with 8 decimals, not {type(value).__name__}"
        )
    if value <= 0:
        raise OracleError(field, f"must be positive (got {value})")
    return value


def require_time(value: object, field: str = "time", not_before: int | None = None) -> int:
    """Return ``value`` if it is a non-negative int number of seconds, not before ``not_before``.

    Parameters
    ----------
    value
        The candidate timestamp, in seconds.
    field
        The name to put in the error.
    not_before
        The last time the component saw; its clock never runs backwards.

    Raises
    ------
    OracleError
        If ``value`` is not an int, is negative, or is before ``not_before``.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise OracleError(field, f"must be an int number of seconds, not {type(value).__name__}")
    if value < 0:
        raise OracleError(field, f"must not be negative (got {value})")
    if not_before is not None and value < not_before:
        raise OracleError(
            field, f"{value} is before the last time seen, {not_before} (out of order)"
        )
    return value


def require_int_in(value: object, field: str, minimum: int, maximum: int | None = None, *,
                   error: type[FieldError] = OracleError, maximum_is: str = "") -> int:
    """Return ``value`` if it is an int (not a bool) in ``[minimum, maximum]``, else raise
    ``error(field, reason)``; ``maximum_is`` says what the maximum is, for the message
    (``"the number of returns"``). The one integer-range check of the oracle's estimators
    and of the margin models that read them."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise error(field, f"must be an int, not {type(value).__name__}")
    if value < minimum:
        raise error(field, f"must be at least {minimum} (got {value})")
    if maximum is not None and value > maximum:
        what = f", {maximum_is}" if maximum_is else ""
        raise error(field, f"must be at most {maximum}{what} (got {value})")
    return value


def require_param(value: object, field: str, minimum: int, unit: str) -> int:
    """Return ``value`` if it is an int at least ``minimum``; for parameter validation.

    Parameters
    ----------
    value
        The candidate parameter.
    field
        The parameter's name, for the error.
    minimum
        The least allowed value.
    unit
        What the number counts (``"seconds"``, ``"bps"``), for the error.

    Raises
    ------
    ConfigError
        If ``value`` is not an int or is below ``minimum``.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError([f"{field}: must be an int ({unit}), not {type(value).__name__}"])
    if value < minimum:
        raise ConfigError([f"{field}: must be at least {minimum} {unit} (got {value})"])
    return value
