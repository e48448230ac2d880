"""What the family scenarios share: strict models, field parsing, the report.

Every parser appends ``path: reason`` to a list of problems instead of raising, so a file
is checked in full and every problem reported at once (:func:`raise_problems`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from marginengine.config.amounts import parse_positive
from marginengine.config.base import StrictModel
from marginengine.decisions import Refusal
from marginengine.errors import ConfigError, field_path
from marginengine.fixedpoint import format_units, parse_units
from marginengine.sim.scenario import parse_duration

SECONDS_PER_YEAR = 365 * 86_400


class FamilyModel(StrictModel):
    """A strict, frozen scenario table (unknown fields and true/false for numbers refused)."""


class FamilyStep(FamilyModel):
    """What every step has: a label, time passing, whether the keeper acts."""

    label: str = ""
    advance: str | int = 0
    liquidate: bool = True



def parse_amount(raw: object, decimals: int, where: str, problems: list[str]) -> int:
    """A positive human amount in smallest units (0 with a problem noted)."""
    value = parse_positive(raw, decimals, where, problems)
    return 0 if value is None else value


def parse_fraction(raw: object, decimals: int, where: str, problems: list[str], *,
              below_one: bool = True, allow_zero: bool = False) -> int:
    """A fraction in ``decimals`` (below 1 unless ``below_one`` is false; 0 if allowed)."""
    try:
        value = parse_units(raw, decimals)
    except ValueError as exc:
        problems.append(f"{where}: {exc}")
        return 0
    one = 10**decimals
    if value < 0 or (value == 0 and not allow_zero) or (below_one and value >= one):
        bound = "[0, 1)" if below_one else "[0, 1]"
        problems.append(f"{where}: must be a fraction in {bound} (got {raw!r})")
        return 0
    return value


def parse_duration_field(raw: str | int, where: str, problems: list[str]) -> int:
    """Seconds from ``3600`` or ``"1h"`` (0 with a problem noted)."""
    try:
        return parse_duration(raw)
    except ValueError as exc:
        problems.append(f"{where}: {exc}")
        return 0


def id_problems(table: str, ids: Sequence[str], problems: list[str],
                reserved: Mapping[str, str] | None = None) -> None:
    """Note every id of ``table`` listed twice, or taken by the scenario's own accounts.

    Each row of a table is one account: a second row with the same id would be booked
    on the first's account (or, read into a mapping, replace it), and the report, keyed
    by id, would show one account for two rows. ``reserved`` maps the ids the scenario
    runs itself (its liquidator, the vault's depositors) to what they are.
    """
    first: dict[str, int] = {}
    for i, ident in enumerate(ids):
        where = field_path(table, i, "id")
        if reserved and ident in reserved:
            problems.append(f"{where}: {ident!r} is reserved: {reserved[ident]}")
        elif ident in first:
            problems.append(f"{where}: duplicate account id {ident!r} "
                            f"(first at {field_path(table, first[ident], 'id')})")
        else:
            first[ident] = i


def raise_problems(problems: list[str], source: str | None) -> None:
    """Raise one :class:`ConfigError` listing every problem, if any."""
    if problems:
        raise ConfigError(problems, source=source)


def refused_error(refusal: Refusal, where: str, source: str | None) -> ConfigError:
    """The error for an initial state the protocol's own rules refuse."""
    return ConfigError([f"{where}: refused by the protocol's rules: {refusal.message} "
                        f"({refusal.code.value})"], source=source)


def fmt_units(value: int, decimals: int) -> str:
    """Smallest units as a decimal string (display and JSON)."""
    return format_units(value, decimals)


def fmt_ratio(value: int | None) -> str | None:
    """A wad ratio to four places (``None`` stays ``None``)."""
    return None if value is None else format_units(value, 18, 4)


@dataclass
class FamilyReport:
    """What a family scenario did, step by step (plain JSON values, exact ints as strings).

    Attributes
    ----------
    name, family, source
        The scenario, the family preset and the code its rules follow.
    steps
        One record per step (prices, accounts, liquidations).
    summary
        Totals over the run.
    """

    name: str
    family: str
    source: str
    steps: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Plain data for ``--json`` and files."""
        return {"name": self.name, "family": self.family, "source": self.source,
                "steps": self.steps, "summary": self.summary}


def parse_signed(raw: object, decimals: int, where: str, problems: list[str]) -> int:
    """A signed human amount in smallest units (0 with a problem noted)."""
    try:
        return parse_units(raw, decimals)
    except ValueError as exc:
        problems.append(f"{where}: {exc}")
        return 0
