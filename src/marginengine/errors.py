"""Errors shared by every layer.

Every error the library raises on bad input is a :class:`MarginEngineError`; the CLI turns
it into one line on stderr and exit code 2. Messages name the field and the reason.

Every message names its field by one dotted path, the notation pydantic's validation errors
use and ``simulate --set`` / ``optimize --param`` accept: ``steps.0.actions.1.amount``,
``protocol.markets.WETH.ltv``. Hand-written checks build theirs with :func:`field_path`, so
a scripted scenario, a cascade and a config file spell the same mistake the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def field_path(*parts: str | int) -> str:
    """Join the parts of a field's path the one way every bad-input message spells it.

    Parameters
    ----------
    *parts
        Field names, list indices and mapping keys, outermost first. A part may itself be a
        path built earlier (a prefix); empty parts are skipped, so an empty prefix adds
        nothing.

    Returns
    -------
    str
        The dotted path, e.g. ``field_path("steps", 0, "actions", 1, "amount")`` is
        ``"steps.0.actions.1.amount"`` (as pydantic writes ``loc``).
    """
    return ".".join(str(part) for part in parts if part != "")


class MarginEngineError(Exception):
    """Base class of every error raised on bad input or bad state."""


class ConfigError(MarginEngineError):
    """A configuration, scenario or snapshot file is invalid.

    Parameters
    ----------
    problems
        One message per problem, each starting with the dotted path of the field.
    source
        The file (or other origin) the problems were found in.
    """

    def __init__(self, problems: list[str], source: str | None = None) -> None:
        self.problems = list(problems)
        self.source = source
        where = f"{source}: " if source else ""
        super().__init__(where + "; ".join(self.problems))

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuilt from its own arguments when pickled (an error raised in a Monte Carlo
        # worker reaches the parent so): the default calls __init__ with the message,
        # which split it into one "problem" per character.
        return type(self), (self.problems, self.source), self.__dict__


class EventError(MarginEngineError):
    """An event's arguments are malformed (wrong type, unknown field).

    Parameters
    ----------
    message
        Every problem, ``"Deposit.acount: unknown field ...; Deposit.account: ..."``.
    problems
        The same problems as ``(field, reason)`` pairs, in the message's order (empty for
        an error that names one field in its message alone).
    """

    def __init__(self, message: str, problems: Sequence[tuple[str, str]] = ()) -> None:
        self.problems = list(problems)
        super().__init__(message)

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (str(self), self.problems), self.__dict__


class LogError(MarginEngineError):
    """The event log cannot be read or written."""


class InvariantViolation(MarginEngineError):
    """A ledger invariant (conservation, scaled totals) does not hold."""


class FieldError(MarginEngineError):
    """An argument given to a component is invalid; nothing was changed.

    Parameters
    ----------
    field
        The argument or field at fault (``market_price``, ``time``, ``base_in``).
    reason
        Why it was rejected, with the value seen.
    """

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")

    def __reduce__(self) -> tuple[Any, ...]:
        # As ConfigError's: the default calls __init__ with the message alone, which
        # fails (no ``reason``) in the parent of the worker that raised it.
        return type(self), (self.field, self.reason), self.__dict__


class OracleError(FieldError):
    """A price, time or source given to the oracle layer is invalid; nothing was changed."""
