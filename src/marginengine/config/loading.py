"""TOML loading and the one-message-per-problem error format."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from marginengine.config.models import PRESET_NAMES, ProtocolConfig
from marginengine.config.perp import PERP_PRESETS
from marginengine.config.presets import PRESETS
from marginengine.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


def read_text(path: str | Path, kind: str) -> str:
    """Read a UTF-8 text file, turning I/O errors into :class:`ConfigError` (``kind`` names
    what the file should be, as in "not a TOML file")."""
    p = Path(path)
    try:
        return p.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError([f"file not found: {p}"]) from None
    except IsADirectoryError:
        raise ConfigError([f"is a directory, not a {kind} file: {p}"]) from None
    except UnicodeDecodeError:
        raise ConfigError(["not UTF-8 text"], source=str(p)) from None
    except OSError as exc:
        raise ConfigError([f"cannot read {p}: {exc.strerror}"]) from None


def read_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML file, turning I/O and syntax errors into :class:`ConfigError`."""
    p = Path(path)
    text = read_text(p, "TOML")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"malformed TOML: {exc}"], source=str(p)) from None


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


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def protocol_from_dict(
    data: dict[str, Any], source: str | None = None, prefix: str = ""
) -> ProtocolConfig:
    """Build a :class:`ProtocolConfig` from a preset name and field-by-field overrides.

    ``data`` holds ``preset`` (default ``aave-v3``) and optionally ``name``, ``markets``,
    ``aave`` and ``compound``. When ``markets`` is given, exactly those markets are used:
    each starts from the preset's market of the same symbol (if any) and the given fields
    replace the preset's. Without ``markets``, every market of the preset is used.
    """
    if not isinstance(data, dict):
        raise ConfigError([f"{prefix or 'protocol'}: must be a table"], source=source)
    preset = data.get("preset", "aave-v3")
    if preset not in PRESET_NAMES:
        where = f"{prefix}.preset" if prefix else "preset"
        raise ConfigError(
            [f"{where}: unknown preset {preset!r} (choose one of {', '.join(PRESET_NAMES)})"],
            source=source,
        )
    base = PRESETS[preset]
    merged: dict[str, Any] = {k: v for k, v in data.items() if k != "markets"}
    for table in ("aave", "compound"):
        if table in base and isinstance(data.get(table, {}), dict):
            merged[table] = _merge(base[table], data.get(table, {}))
    given = data.get("markets")
    if given is None:
        merged["markets"] = copy.deepcopy(base["markets"])
    elif isinstance(given, dict):
        merged["markets"] = {
            sym: _merge(base["markets"].get(sym, {}), fields)
            if isinstance(fields, dict)
            else fields
            for sym, fields in given.items()
        }
    else:
        merged["markets"] = given
    perps = data.get("perps")
    if isinstance(perps, dict):
        merged["perps"] = {}
        for sym, fields in perps.items():
            base_fields: dict[str, Any] = {}
            if isinstance(fields, dict) and fields.get("preset") in PERP_PRESETS:
                base_fields = PERP_PRESETS[fields["preset"]]
            merged["perps"][sym] = (_merge(base_fields, fields) if isinstance(fields, dict)
                                    else fields)
    return validate_model(ProtocolConfig, merged, source=source, prefix=prefix)


def load_protocol(path: str | Path) -> ProtocolConfig:
    """Load a protocol configuration TOML file (see :func:`protocol_from_dict`)."""
    return protocol_from_dict(read_toml(path), source=str(path))
