""":func:`validate_model`: a configuration model validated into :class:`ConfigError`, one
message per problem in :mod:`marginengine.config.problems`' wording (imports no model: the
portfolio model's loader and the protocol's both use it)."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from marginengine.config.problems import format_validation_error
from marginengine.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


def validate_model(
    model: type[M], data: Any, source: str | None = None, prefix: str = ""
) -> M:
    """Validate ``data`` as ``model`` or raise :class:`ConfigError` listing every problem."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, prefix), source=source) from None
