"""What every configuration model shares: strict, frozen pydantic models and symbols."""

from __future__ import annotations

import copy
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


class StrictModel(BaseModel):
    """A frozen model that refuses unknown fields and booleans given for numbers (every
    configuration table is one)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_for_numbers(cls, value: object, info: ValidationInfo) -> object:
        if isinstance(value, bool) and info.field_name is not None:
            field = cls.model_fields[info.field_name]
            if not _admits_bool(field.annotation):
                raise ValueError(f"must not be true or false (got {str(value).lower()})")
        return value


#: The portfolio-margin presets (config/portfolio.py); here so that the protocol model
#: can check ``[options].portfolio_preset`` without importing the portfolio module.
PORTFOLIO_PRESET_NAMES: tuple[str, ...] = ("derive-pm2", "paradex", "deribit-like", "span-like",
                                           "derive-pm1", "derive-srm")


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
