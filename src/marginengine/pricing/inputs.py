"""Checks on the inputs of the pricing functions: arrays in, a :class:`FieldError` out.

Every public pricing function passes its inputs through here, so a bad forward, strike,
time, volatility or rate is refused with the field's name, the reason and, for arrays, the
index of the first offending element, before any arithmetic runs (and so before a NaN can
appear).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from marginengine.errors import FieldError

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
IntArray = NDArray[np.intp]


def _where(mask: NDArray[np.bool_], values: FloatArray) -> str:
    """The position and value of the first True element of ``mask`` (for error messages)."""
    flat = int(np.flatnonzero(mask.ravel())[0])
    index = tuple(int(i) for i in np.unravel_index(flat, mask.shape)) if mask.ndim else ()
    where = "" if not index else f"at index {index[0] if len(index) == 1 else list(index)}: "
    return f"{where}{float(values.ravel()[flat])!r}"


def float_array(field: str, value: ArrayLike, *, minimum: float | None = None,
                strict: bool = False) -> FloatArray:
    """Return ``value`` as a float64 array after checking every element.

    Parameters
    ----------
    field
        The name used in the error (``forward``, ``strike``, ``t``, ``vol``).
    value
        A number or an array-like of numbers.
    minimum
        The lowest allowed value (``None``: any finite value).
    strict
        If true the values must be strictly above ``minimum``.

    Raises
    ------
    FieldError
        If a value is not a finite number or is below (or at, when ``strict``) the minimum.
    """
    raw = np.asarray(value)
    if raw.dtype == np.bool_:
        # A boolean is almost always a misplaced flag (is_call in the vol's place).
        raise FieldError(field, f"must be numbers, not booleans ({value!r})")
    try:
        array = raw.astype(np.float64, copy=False)
    except (TypeError, ValueError):
        raise FieldError(field, f"must be numbers ({value!r} is not)") from None
    bad = ~np.isfinite(array)
    if bad.any():
        raise FieldError(field, f"must be finite ({_where(bad, array)})")
    if minimum is not None:
        bad = array <= minimum if strict else array < minimum
        if bad.any():
            relation = ">" if strict else ">="
            raise FieldError(field, f"must be {relation} {minimum:g} ({_where(bad, array)})")
    return array


def bool_array(field: str, value: ArrayLike) -> BoolArray:
    """Return ``value`` as a boolean array; only booleans (or 0/1 ints) are accepted."""
    array = np.asarray(value)
    if array.dtype == np.bool_:
        return array
    if np.issubdtype(array.dtype, np.integer) and bool(np.isin(array, (0, 1)).all()):
        return array.astype(np.bool_)
    raise FieldError(field, f"must be booleans (true for a call, false for a put), got {value!r}")


def float_scalar(field: str, value: float, *, minimum: float | None = None,
                 strict: bool = False) -> float:
    """The scalar twin of :func:`float_array`: the same checks on one float."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FieldError(field, f"must be a number ({value!r} is not)")
    number = float(value)
    if not math.isfinite(number):
        raise FieldError(field, f"must be finite ({number!r})")
    if minimum is not None and (number <= minimum if strict else number < minimum):
        relation = ">" if strict else ">="
        raise FieldError(field, f"must be {relation} {minimum:g} ({number!r})")
    return number


def bool_scalar(field: str, value: bool) -> bool:
    """The scalar twin of :func:`bool_array`."""
    if not isinstance(value, bool | np.bool_):
        raise FieldError(field, f"must be a boolean (true for a call, false for a put), "
                                f"got {value!r}")
    return bool(value)
