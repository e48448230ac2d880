"""pydantic's validation errors in our own words: one ``field.path: reason`` per problem.

The one place a pydantic error (a configuration file's, a scenario's, a service request
body's or query's) becomes a message. The path is the dotted ``loc`` (the notation of
:func:`marginengine.errors.field_path`) without the names pydantic gives the members of a
union (``str``, ``int``, ``function-after[...]``); the reason says what the field must be
and what it got, in the words a TOML or JSON writer uses ("a table", "an array"), never
pydantic's ("Input should be a valid dictionary or instance of MarketConfig").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

#: What a value of the wrong type should have been, by pydantic's error type.
_TYPE_NOUNS = {
    "int_type": "an integer", "int_parsing": "an integer", "int_from_float": "a whole number",
    "float_type": "a number", "float_parsing": "a number",
    "decimal_type": "a number", "decimal_parsing": "a number",
    "bool_type": "true or false", "bool_parsing": "true or false",
    "string_type": "a string", "bytes_type": "a string",
    "dict_type": "a table (a JSON object)", "model_type": "a table (a JSON object)",
    "model_attributes_type": "a table (a JSON object)",
    "dataclass_type": "a table (a JSON object)", "mapping_type": "a table (a JSON object)",
    "list_type": "an array", "tuple_type": "an array", "set_type": "an array",
    "frozen_set_type": "an array", "iterable_type": "an array",
    "none_required": "left out",
    "date_type": "a date", "date_parsing": "a date", "datetime_type": "a date and time",
    "datetime_parsing": "a date and time", "enum": "one of the listed values",
}

#: How a value read from TOML or JSON is named when it is not a plain scalar.
_KINDS = {"dict": "a table", "list": "an array", "tuple": "an array", "NoneType": "null",
          "datetime": "a date", "date": "a date", "time": "a time"}

#: The longest rendering of a value quoted back in a message (a huge string or number is
#: cut, so the message stays one readable line).
_MAX_SHOWN = 60

#: The prefixes pydantic puts before the text of our own validators.
_NOISE = ("Value error, ", "Assertion failed, ")

#: A name pydantic gives a union member in ``loc`` (a type, not a field or a key).
_UNION_TAG = re.compile(r"^(str|int|float|bool|bytes|decimal|none|list|dict|tuple|set)$"
                        r"|[\[\]]")


def shown(value: object) -> str:
    """``value`` as a message quotes it back: ``repr`` for a scalar (cut beyond
    :data:`_MAX_SHOWN` characters), the TOML/JSON kind for anything else."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 190:
        # Counted, not printed: repr refuses an integer beyond 4300 digits.
        sign = "a negative" if value < 0 else "an"
        return f"{sign} integer of about {int(value.bit_length() * 0.30103) + 1} digits"
    if isinstance(value, str | int | float | bool):
        text = repr(value)
        return text if len(text) <= _MAX_SHOWN else text[:_MAX_SHOWN - 4] + "...'"
    name = type(value).__name__
    return _KINDS.get(name, f"a {name}")


def _bound(value: object) -> str:
    """A bound as written in a file: ``1`` for 1.0, ``0.00000001`` for ``Decimal('1E-8')``
    (scientific, ``1E+15``, where the plain form would be long)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    if isinstance(value, Decimal) and value.is_finite():
        plain = format(value.normalize(), "f")
        return plain if len(plain) <= 12 else str(value)
    return str(value)


def error_reason(err: Mapping[str, Any]) -> str:
    """The reason of one pydantic error (an item of ``ValidationError.errors()``), in our
    words, with the value it got where that helps.

    Parameters
    ----------
    err
        The error: ``type``, ``msg``, optionally ``ctx`` and ``input``.

    Returns
    -------
    str
        ``"must be at least 1 (got 0)"``, ``"unknown field (check the spelling)"``, ...
    """
    kind = str(err.get("type", ""))
    ctx: Mapping[str, Any] = err.get("ctx") or {}
    has_input = "input" in err
    value = err.get("input")
    got = f" (got {shown(value)})" if has_input else ""
    if kind in ("value_error", "assertion_error"):
        text = str(err.get("msg", ""))
        for noise in _NOISE:
            text = text.removeprefix(noise)
        return text
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return "unknown field (check the spelling)"
    if kind == "json_invalid":
        return "malformed JSON"
    if kind in _TYPE_NOUNS:
        return f"must be {_TYPE_NOUNS[kind]}{got}"
    bounds = {"greater_than": ("greater than", "gt"), "greater_than_equal": ("at least", "ge"),
              "less_than": ("less than", "lt"), "less_than_equal": ("at most", "le"),
              "multiple_of": ("a multiple of", "multiple_of")}
    if kind in bounds and bounds[kind][1] in ctx:
        words, key = bounds[kind]
        return f"must be {words} {_bound(ctx[key])}{got}"
    if kind == "finite_number":
        return f"must be a finite number{got}"
    if kind == "int_parsing_size":
        return "must be an integer of at most 4300 digits"
    if kind == "literal_error" and "expected" in ctx:
        return f"must be {ctx['expected']}{got}"
    if kind in ("too_short", "too_long") and "actual_length" in ctx:
        n = ctx.get("min_length" if kind == "too_short" else "max_length")
        words = "at least" if kind == "too_short" else "at most"
        return f"must have {words} {n} item{'' if n == 1 else 's'} " \
               f"(got {ctx['actual_length']})"
    if kind in ("string_too_short", "string_too_long"):
        n = ctx.get("min_length" if kind == "string_too_short" else "max_length")
        words = "at least" if kind == "string_too_short" else "at most"
        return f"must be {words} {n} character{'' if n == 1 else 's'} long{got}"
    if kind == "string_pattern_mismatch" and "pattern" in ctx:
        return f"must match the pattern {ctx['pattern']}{got}"
    if kind == "union_tag_invalid" and "tag" in ctx:
        return f"unknown {ctx.get('discriminator', 'kind')} {ctx['tag']!r} " \
               f"(one of {ctx.get('expected_tags', '')})"
    if kind == "union_tag_not_found" and "discriminator" in ctx:
        return f"the required field {ctx['discriminator']} is missing"
    if kind in ("decimal_max_places", "decimal_max_digits", "decimal_whole_digits"):
        return f"has too many digits{got}"
    # Any other kind: pydantic's sentence, at least in our grammar ("must be ...").
    text = str(err.get("msg", "invalid"))
    text = text.replace("Input should be", "must be").replace("Input should", "must")
    return text[:1].lower() + text[1:] + got


def error_path(loc: Iterable[object], prefix: str = "") -> list[str]:
    """The parts of a field's path from a pydantic ``loc``, after ``prefix``, without the
    names pydantic gives union members (``str``, ``function-after[...]``)."""
    parts = [prefix] if prefix else []
    return parts + [str(p) for p in loc if not _UNION_TAG.search(str(p))]


def validation_problems(errors: Iterable[Mapping[str, Any]], prefix: str = "",
                        *, skip: Iterable[str] = (), top: str = "(top level)"
                        ) -> list[tuple[str, str]]:
    """``(field path, reason)`` for every problem of a pydantic error, in its order.

    A value that matches no member of a union (one error per member, at the same path) is
    one problem naming every type it could have been. A protocol-wide check raised at the
    top level that names its own field (``"markets.WETH.ltv: ..."``) is reported at that
    field.

    Parameters
    ----------
    errors
        ``ValidationError.errors()`` (or FastAPI's ``RequestValidationError.errors()``).
    prefix
        A path the model sits at (``"stewards"``), put before every ``loc``.
    skip
        ``loc`` parts that name no field (FastAPI's ``"body"``).
    top
        The name of the whole input, for a problem with an empty path.
    """
    dropped = set(skip)
    out: list[tuple[str, str]] = []
    nouns: dict[str, list[str]] = {}
    for err in errors:
        loc = [p for p in err.get("loc", ()) if p not in dropped]
        path = ".".join(error_path(loc, prefix)) or top
        reason = error_reason(err)
        head = reason.split(" ", 1)[0]
        if not loc and head.endswith(":") and "." in head:
            # At the model's own path too: in a scenario "protocol.markets.WETH.ltv", the
            # path --set takes. A check naming the model itself first (a portfolio
            # margin's "portfolio_margin.markets...", at "...options.portfolio_margin")
            # is not named twice.
            field = head[:-1]
            outer = prefix.split(".") if prefix else []
            if outer and field.split(".", 1)[0] == outer[-1]:
                outer.pop()
            out.append((".".join([*outer, field]), reason[len(head):].lstrip(": ")))
            continue
        kind = str(err.get("type", ""))
        parts = reason.split("; ")
        if loc and kind == "value_error" and all(
                p.split(" ", 1)[0].startswith(f"{loc[-1]}.") and ": " in p for p in parts):
            # A table's check that names fields inside it (options.portfolio_margin's
            # "portfolio_margin.im_factor: ...; portfolio_margin.mm_factor: ..."): each
            # problem reported at its field.
            outer = error_path(loc[:-1], prefix)
            for part in parts:
                field, _, why = part.partition(": ")
                out.append((".".join([*outer, field]), why))
            continue
        if kind in _TYPE_NOUNS and path in nouns and len(loc) > len(error_path(loc)):
            # Another member of the same union: one message listing what it could be.
            if _TYPE_NOUNS[kind] not in nouns[path]:
                nouns[path].append(_TYPE_NOUNS[kind])
            i = next(i for i, (p, _) in enumerate(out) if p == path)
            words = nouns[path]
            listed = words[0] if len(words) == 1 else \
                f"{', '.join(words[:-1])} or {words[-1]}"
            got = f" (got {shown(err['input'])})" if "input" in err else ""
            out[i] = (path, f"must be {listed}{got}")
            continue
        if kind in _TYPE_NOUNS:
            nouns[path] = [_TYPE_NOUNS[kind]]
        if (path, reason) not in out:
            out.append((path, reason))
    return out


def format_validation_error(exc: Any, prefix: str = "") -> list[str]:
    """One ``path.to.field: reason`` message per problem of a pydantic ``ValidationError``
    (see :func:`validation_problems`)."""
    return [f"{path}: {reason}" for path, reason in validation_problems(exc.errors(), prefix)]
