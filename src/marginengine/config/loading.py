"""TOML loading and validation into :class:`ConfigError` (one message per problem, worded
by :mod:`marginengine.config.problems`)."""

from __future__ import annotations

import copy
import re
import sys
import tomllib
from pathlib import Path
from typing import Any

from marginengine.config.base import merge_tables
from marginengine.config.models import PRESET_NAMES, ProtocolConfig
from marginengine.config.perp import PERP_PRESETS
from marginengine.config.presets import PRESETS
from marginengine.config.stewards import StewardBounds

# validate_model lives in config/validation.py (no import of the protocol model there, so
# the portfolio model's loader can use it); re-exported here.
from marginengine.config.validation import validate_model as validate_model
from marginengine.errors import ConfigError


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


#: How deep tables and arrays may nest in an input file (the deepest real one is 5).
MAX_DEPTH = 32


def nesting_problem(data: object, max_depth: int = MAX_DEPTH) -> str | None:
    """``path: nested more than N levels deep`` for the first value nested deeper than
    ``max_depth`` tables or arrays, or ``None`` (walked without recursion)."""
    stack: list[tuple[object, str, int]] = [(data, "", 0)]
    while stack:
        node, path, depth = stack.pop()
        if depth > max_depth:
            return f"{path or '(top level)'}: nested more than {max_depth} levels deep"
        items = node.items() if isinstance(node, dict) else (
            enumerate(node) if isinstance(node, list) else ())
        for key, value in items:
            if isinstance(value, dict | list):
                stack.append((value, f"{path}.{key}" if path else str(key), depth + 1))
    return None


def too_many_digits(text: str) -> str:
    """``line N: a number has more than D digits`` for the first integer in ``text`` longer
    than Python converts (``sys.get_int_max_str_digits()``); a TOML or JSON parser refuses
    it without saying where."""
    limit = sys.get_int_max_str_digits() or 4300
    plain = text.replace("_", "")  # TOML's 1_000 is one integer
    found = re.search(rf"\d{{{limit + 1},}}", plain)
    line = plain[:found.start()].count("\n") + 1 if found else None
    where = f"line {line}: " if line is not None else ""
    return f"{where}a number has more than {limit} digits"


def loads_toml(text: str, source: str | None = None) -> dict[str, Any]:
    """Parse TOML text with a nesting limit (:data:`MAX_DEPTH`), turning syntax errors and
    values nested too deep for the parser into :class:`ConfigError`."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"malformed TOML: {exc}"], source=source) from None
    except RecursionError:  # tomllib parses nested values recursively
        raise ConfigError([f"a value is nested more than {MAX_DEPTH} levels deep"],
                          source=source) from None
    except ValueError:  # int() refuses an integer beyond sys.get_int_max_str_digits()
        raise ConfigError([too_many_digits(text)], source=source) from None
    problem = nesting_problem(data)
    if problem is not None:
        raise ConfigError([problem], source=source)
    return data


def read_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML file, turning I/O and syntax errors, and values nested deeper than
    :data:`MAX_DEPTH`, into :class:`ConfigError`."""
    p = Path(path)
    return loads_toml(read_text(p, "TOML"), source=str(p))


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
            merged[table] = merge_tables(base[table], data.get(table, {}))
    if "morpho" in base and "morpho" not in data:
        merged["morpho"] = copy.deepcopy(base["morpho"])
    if "liquity" in base and isinstance(data.get("liquity", {}), dict):
        merged["liquity"] = merge_tables(base["liquity"], data.get("liquity", {}))
    for table in ("euler", "mango", "drift"):
        # A family's table is the preset's unless given whole (its collaterals name assets).
        if table in base and table not in data:
            merged[table] = copy.deepcopy(base[table])
    given = data.get("markets")
    if given is None:
        merged["markets"] = copy.deepcopy(base["markets"])
    elif isinstance(given, dict):
        merged["markets"] = {
            sym: merge_tables(base["markets"].get(sym, {}), fields)
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
            name = fields.get("preset") if isinstance(fields, dict) else None
            # Only a string can name a preset (a list or table is not hashable); anything
            # else is left for the model to refuse, naming perps.SYM.preset.
            if isinstance(name, str) and name in PERP_PRESETS:
                base_fields = PERP_PRESETS[name]
            merged["perps"][sym] = (merge_tables(base_fields, fields) if isinstance(fields, dict)
                                    else fields)
    return validate_model(ProtocolConfig, merged, source=source, prefix=prefix)


def load_protocol(path: str | Path) -> ProtocolConfig:
    """Load a protocol configuration TOML file (see :func:`protocol_from_dict`)."""
    return protocol_from_dict(read_toml(path), source=str(path))


def steward_bounds_from_dict(data: Any, source: str | None = None) -> StewardBounds:
    """Validate a ``[stewards]`` table; raise :class:`~marginengine.errors.ConfigError` naming
    each bad field (``stewards.ltv.max_change_bps: ...``). (Here, not in ``stewards``: the
    protocol model holds a ``StewardBounds``, and this module imports the protocol model.)"""
    return validate_model(StewardBounds, data, source=source, prefix="stewards")
