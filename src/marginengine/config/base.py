"""What every configuration model shares: strict, frozen pydantic models and symbols."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

#: A market or perp symbol: a letter, then up to 15 letters, digits, ``.``, ``_`` or ``-``.
SYMBOL_PATTERN = r"^[A-Za-z][A-Za-z0-9._-]{0,15}$"


class StrictModel(BaseModel):
    """A frozen model that refuses unknown fields (every configuration table is one)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
