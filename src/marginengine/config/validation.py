"""The one-message-per-problem error format of every configuration model, and
:func:`validate_model` (imports no model: the portfolio model's loader and the protocol's
both use it)."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from marginengine.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


def format_validation_error(exc: ValidationError, prefix: str = "") -> list[str]:
    """Turn a pydantic error into one ``path.to.field: reason`` message per problem."""
    problems = []
    for err in exc.errors():
        loc = [str(part) for part in err["loc"]]
        path = ".".join(([prefix] if prefix else []) + loc) or "(top level)"
        msg = str(err["msg"])
        for noise in ("Value error, ", "Assertion failed, "):
            msg = msg.removeprefix(noise)
        if err["type"] == "extra_forbidden":
            msg = "unknown field (check the spelling)"
        elif err["type"] == "missing":
            msg = "required field is missing"
        else:
            value = err.get("input")
            if isinstance(value, str | int | float | bool) and err["type"] != "value_error":
                msg = f"{msg} (got {value!r})"
        head = msg.split(" ", 1)[0]
        if not loc and head.endswith(":") and "." in head:
            head = head[:-1]
            # A protocol-wide check that names its own field: report it at that field.
            problems.append(f"{head}: {msg[len(head):].lstrip(': ')}")
            continue
        parts = msg.split("; ")
        if loc and err["type"] == "value_error" and all(
                p.split(" ", 1)[0].startswith(f"{loc[-1]}.") and ": " in p for p in parts):
            # A table's check that names fields inside it (options.portfolio_margin's
            # "portfolio_margin.im_factor: ...; portfolio_margin.mm_factor: ..."): each
            # problem reported at its field.
            outer = [*([prefix] if prefix else []), *loc[:-1]]
            for part in parts:
                field, _, reason = part.partition(": ")
                problems.append(f"{'.'.join([*outer, field])}: {reason}")
            continue
        problems.append(f"{path}: {msg}")
    return problems


def validate_model(
    model: type[M], data: Any, source: str | None = None, prefix: str = ""
) -> M:
    """Validate ``data`` as ``model`` or raise :class:`ConfigError` listing every problem."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, prefix), source=source) from None
