"""What every configuration model shares: strict, frozen pydantic models and symbols."""

from __future__ import annotations

import copy
import types
import typing
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

#: A market or perp symbol: a letter, then up to 15 letters, digits, ``.``, ``_`` or ``-``.
SYMBOL_PATTERN = r"^[A-Za-z][A-Za-z0-9._-]{0,15}$"  # use with re.fullmatch ($ allows "\n")


def _admits_bool(annotation: object) -> bool:
    """Whether a field's type takes ``true``/``false`` (``bool``, ``Any`` or a union with
    either); pydantic would otherwise read ``true`` as 1 in an int or number field."""
    if annotation is bool or annotation is typing.Any:
        return True
    return any(_admits_bool(arg) for arg in typing.get_args(annotation))


def _bool_only(annotation: object) -> bool:
    """Whether a field's type is ``bool`` (optionally ``None``): pydantic would otherwise
    read ``"yes"``, ``"on"``, ``1`` or ``"false"`` as a boolean."""
    if annotation is bool:
        return True
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _bool_only(typing.get_args(annotation)[0])
    if origin is typing.Union or origin is types.UnionType:
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        return bool(members) and all(_bool_only(a) for a in members)
    return False


def _numbers_only(annotation: object) -> bool:
    """Whether a field's type is a plain number (``int``, ``float``, optionally ``None``,
    possibly constrained): pydantic would otherwise read the text ``"5"`` as 5. Exact
    decimals (``Decimal``) and human amounts take decimal text on purpose and are not
    plain numbers."""
    if annotation is int or annotation is float:
        return True
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _numbers_only(typing.get_args(annotation)[0])
    if origin is typing.Union or origin is types.UnionType:
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        return bool(members) and all(_numbers_only(a) for a in members)
    return False


def _text_for_number(value: object, annotation: object) -> str | None:
    """The text given where ``annotation`` wants plain numbers (the value itself, or an
    item of a list or the value of a table of numbers), else ``None``."""
    if isinstance(value, str):
        return value if _numbers_only(annotation) else None
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _text_for_number(value, args[0])
    if origin in (list, tuple) and isinstance(value, list | tuple) and args:
        found = (_text_for_number(v, args[0]) for v in value)
    elif origin is dict and isinstance(value, dict) and len(args) == 2:
        found = (_text_for_number(v, args[1]) for v in value.values())
    else:
        return None
    return next((t for t in found if t is not None), None)


class StrictModel(BaseModel):
    """A frozen model that refuses unknown fields, booleans given for numbers, text given
    for plain numbers, and anything but ``true`` or ``false`` for a boolean (every
    configuration table is one)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_for_numbers(cls, value: object, info: ValidationInfo) -> object:
        if info.field_name is None:
            return value
        annotation = cls.model_fields[info.field_name].annotation
        if isinstance(value, bool) and not _admits_bool(annotation):
            raise ValueError(f"must not be true or false (got {str(value).lower()})")
        # Lax pydantic reads "yes", "on", 1 and even "false" as booleans: a switch is
        # written true or false, anything else is most likely a slip.
        if not isinstance(value, bool) and value is not None and _bool_only(annotation):
            raise ValueError(f"must be true or false (got {value!r})")
        # TOML's "5" is text: a number field given text is most likely a quoting slip
        # (or a value meant for another field), so it is named rather than read as 5.
        # Values from the command line (--set, --grid) are read as TOML first, so 5
        # there is a number.
        text = _text_for_number(value, annotation)
        if text is not None:
            raise ValueError(f"must be a number, not text (got {text!r}; write it "
                             "without quotes)")
        return value


#: The portfolio-margin presets (config/portfolio.py); here so that the protocol model
#: can check ``[options].portfolio_preset`` without importing the portfolio module.
PORTFOLIO_PRESET_NAMES: tuple[str, ...] = ("derive-pm2", "paradex", "deribit-like", "span-like",
                                           "derive-pm1", "derive-srm")

#: How each portfolio preset fixes an expiry's settlement price when
#: ``[options].settlement`` is not given: ``"twap"`` for Derive's three managers (their
#: options settle through LyraForwardFeed.getSettlementPrice, the 30-minute TWAP of spot
#: before the expiry: oracle/settlement_feed.py), ``"spot"`` (the oracle's price at the
#: first ``SettleOption`` of the expiry) for the margin models of other venues.
PORTFOLIO_PRESET_SETTLEMENT: dict[str, str] = {
    "derive-pm2": "twap", "derive-pm1": "twap", "derive-srm": "twap",
    "paradex": "spot", "deribit-like": "spot", "span-like": "spot"}


def threshold_times_bonus_bps(threshold_bps: int, bonus_bps: int) -> int:
    """Aave's ``PoolConfigurator`` check of a liquidation threshold and bonus (both in
    basis points, the bonus as Aave encodes it: 10500 for 5%):
    ``liquidationThreshold.percentMul(liquidationBonus)``, rounded half up as
    ``PercentageMath.percentMul``; ``configureReserveAsCollateral`` and
    ``setEModeCategory`` refuse it above 10000 (aave-dao/aave-v3-origin@4fbd7442
    ``PoolConfigurator.sol``). One rule for a market and an e-mode category."""
    return (threshold_bps * bonus_bps + 5_000) // 10_000


def max_threshold_for_bonus_bps(bonus_bps: int) -> int:
    """The largest liquidation threshold (basis points) that
    :func:`threshold_times_bonus_bps` accepts with ``bonus_bps`` (Aave's encoding, 10500
    for 5%): ``(t * b + 5000) // 10000 <= 10000`` holds exactly when
    ``t * b <= 100_004_999``. For a 5% bonus it is 9524 (95.24%, as Aave lists it), one
    basis point above ``floor(10000**2 / 10500)``."""
    if bonus_bps <= 0:
        raise ValueError(f"bonus_bps must be positive (got {bonus_bps})")
    return (10_000 * 10_000 + 5_000 - 1) // bonus_bps


def merge_tables(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``override`` laid over a deep copy of ``base``, table by table at every level (a
    value that is not a table replaces the base's)."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_tables(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out
