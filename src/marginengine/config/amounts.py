"""Human amounts and prices in files, turned into exact ints with per-field errors."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator

from marginengine.config.models import ProtocolConfig
from marginengine.fixedpoint import PRICE_DECIMALS, parse_units

_TOML_TYPES = {"list": "an array", "dict": "a table", "bool": "true/false",
               "datetime": "a date", "date": "a date", "time": "a time"}


def _number_or_text(value: object) -> object:
    # One message for a value of the wrong type, instead of one per member of the union.
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        kind = _TOML_TYPES.get(type(value).__name__, type(value).__name__)
        raise ValueError(f"must be a number or a decimal string, not {kind}")
    return value


#: A human amount or price as written in TOML: a number or a decimal string.
HumanNumber = Annotated[str | int | float, BeforeValidator(_number_or_text)]

#: The largest amount or price accepted, in smallest units: an EVM token balance is a
#: uint256. Anything larger is a typo, and its value in USD would not fit a float.
MAX_UNITS = 2**256 - 1


def parse_asset_amounts(
    values: dict[str, Any], config: ProtocolConfig, path: str, problems: list[str],
    *, prices: bool = False,
) -> dict[str, int]:
    """Convert ``{asset: human amount}`` to smallest units (or prices to 8-decimal ints).

    Problems are appended to ``problems`` as ``path.ASSET: reason``; amounts and prices
    must be positive.
    """
    out: dict[str, int] = {}
    for asset, raw in values.items():
        where = f"{path}.{asset}"
        known = config.priced(asset) if prices else asset in config.markets
        if not known:
            names = sorted({*config.markets, *config.perps}) if prices else sorted(config.markets)
            problems.append(f"{where}: unknown asset (markets: {', '.join(names)})")
            continue
        decimals = PRICE_DECIMALS if prices else config.markets[asset].decimals
        value = parse_positive(raw, decimals, where, problems)
        if value is None:
            continue
        out[asset] = value
    return out


def parse_positive(raw: object, decimals: int, where: str, problems: list[str]) -> int | None:
    """One positive human amount in smallest units, or ``None`` with a problem appended."""
    try:
        value = parse_units(raw, decimals)
    except ValueError as exc:
        problems.append(f"{where}: {exc}")
        return None
    reason = positive_problem(value, raw)
    if reason is not None:
        problems.append(f"{where}: {reason}")
        return None
    return value if within_limit(value, raw, where, problems) else None


def positive_problem(value: int, raw: object) -> str | None:
    """Why a balance given as ``raw`` (``value`` smallest units) is refused, or ``None``:
    a balance written must be positive. One rule for a snapshot's amount
    (:func:`parse_positive`) and a book's row, whose balance is its supplied or borrowed
    cell (:func:`marginengine.ledger.book_file.read_book`: a row of 0 and 0 holds none)."""
    return None if value > 0 else f"must be positive (got {raw!r})"


def parse_amount(raw: object, decimals: int, where: str, problems: list[str], *,
                 signed: bool = False) -> int | None:
    """One human amount that may be zero (and negative when ``signed``: a short position)
    in smallest units, or ``None`` with a problem appended. Book files' amounts.

    Parameters
    ----------
    raw
        Text (stripped), an int, a :class:`~decimal.Decimal` or a float (read as the
        shortest decimal that gives it back, as TOML numbers are).
    """
    try:
        value = parse_units(raw, decimals)
    except ValueError as exc:
        problems.append(f"{where}: {exc}")
        return None
    if value < 0 and not signed:
        problems.append(f"{where}: must not be negative (got {raw})")
        return None
    return value if within_limit(value, raw, where, problems) else None


def within_limit(value: int, raw: object, where: str, problems: list[str]) -> bool:
    """Whether ``|value|`` (smallest units) is at most :data:`MAX_UNITS`; if not, a problem
    naming ``raw`` (shortened when long) is appended."""
    if abs(value) <= MAX_UNITS:
        return True
    shown = repr(raw) if len(repr(raw)) <= 40 else f"a {len(str(raw))}-digit number"
    problems.append(f"{where}: too large ({shown} is more than 2**256 - 1 smallest "
                    f"units, the largest on-chain balance)")
    return False
