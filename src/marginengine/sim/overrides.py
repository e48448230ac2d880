"""``--set PATH=VALUE``: override any scenario field by its dotted path.

``VALUE`` is read as a TOML value (``0.5``, ``true``, ``"direct"``, ``[1, 2]``,
``{ WETH = 1800 }``); text that is not a TOML value is taken as a string, so
``--set feeds.DAI.kind=direct`` works unquoted. Path parts that are integers index lists
(``steps.2.prices.WETH=1500``). Missing tables on the way are created.
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Iterable, Sequence
from typing import Any

from marginengine.config.loading import MAX_DEPTH, nesting_problem, too_many_digits
from marginengine.errors import ConfigError


def parse_value(text: str) -> Any:
    """A TOML value, or the text itself when it is not one.

    Raises
    ------
    ConfigError
        When the value nests tables or arrays more than ``MAX_DEPTH`` levels deep, or
        holds an integer longer than Python converts (4300 digits).
    """
    try:
        value = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text
    except RecursionError:
        raise ConfigError([f"value nested more than {MAX_DEPTH} levels deep"]) from None
    except ValueError:  # an integer beyond int()'s 4300 digits (an internal error)
        raise ConfigError([too_many_digits(text).partition(": ")[2]]) from None
    problem = nesting_problem(value)
    if problem is not None:
        raise ConfigError([f"value {problem.split(': ', 1)[1]}"])
    return value


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Return a copy of ``data`` with every ``PATH=VALUE`` applied, in order.

    Raises
    ------
    ConfigError
        Naming the override and why it cannot apply (no ``=``, empty path, a path given
        twice, an index past the end of a list, a path through a value that is not a
        table or list).
    """
    out = copy.deepcopy(data)
    problems = []
    given: dict[str, str] = {}
    for item in overrides:
        path, sep, raw = item.partition("=")
        path = path.strip()
        if not sep or not path or any(not p for p in path.split(".")):
            problems.append(f"--set {item!r}: must be PATH=VALUE with a dotted PATH")
            continue
        if path in given:
            # The second would replace the first silently. (A table, then a field inside
            # it, are two paths, applied in order.)
            problems.append(f"--set {path}: given twice ({given[path]} and {raw.strip()}); "
                            "give one value per path")
            continue
        given[path] = raw.strip()
        try:
            _assign(out, path.split("."), parse_value(raw.strip()))
        except (KeyError, IndexError, TypeError) as exc:
            problems.append(f"--set {path}: {exc.args[0]}")
        except ConfigError as exc:
            problems.append(f"--set {path}: {'; '.join(exc.problems)}")
    deep = nesting_problem(out)
    if deep is not None:
        problems.append(f"--set: {deep}")
    if problems:
        raise ConfigError(problems)
    return out


def refuse_fixed(flag: str, varied: Iterable[str], fixed: Sequence[str],
                 varies: str) -> None:
    """Refuse a path both varied (a sweep's ``--grid``, the optimizer's ``--param``) and
    fixed by ``--set``: the varied values would replace the fixed one silently.

    Raises
    ------
    ConfigError
        ``{flag} PATH: also given by --set PATH=...; {varies} would replace it: drop one
        of the two``, one per path.
    """
    paths = {f.partition("=")[0].strip() for f in fixed}
    problems = [f"{flag} {p}: also given by --set {p}=...; {varies} would replace it: "
                "drop one of the two" for p in dict.fromkeys(varied) if p in paths]
    if problems:
        raise ConfigError(problems)


def assign_values(data: dict[str, Any], values: dict[str, Any],
                  label: str = "override") -> dict[str, Any]:
    """A copy of ``data`` with each ``{dotted path: Python value}`` set (as
    :func:`apply_overrides`, without reading the values as TOML text).

    Raises
    ------
    ConfigError
        Naming the path (``label path: reason``) when it cannot be set.
    """
    out = copy.deepcopy(data)
    problems = []
    for path, value in values.items():
        if not path or any(not p for p in path.split(".")):
            problems.append(f"{label} {path!r}: must be a dotted path")
            continue
        try:
            _assign(out, path.split("."), copy.deepcopy(value))
        except (KeyError, IndexError, TypeError) as exc:
            problems.append(f"{label} {path}: {exc.args[0]}")
    if problems:
        raise ConfigError(problems)
    return out


def _assign(node: Any, parts: list[str], value: Any) -> None:
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        where = ".".join(parts[: depth + 1])
        if isinstance(node, list):
            if not part.isdigit():
                raise TypeError(f"{where}: {part!r} must be an index into a list")
            index = int(part)
            if index >= len(node):
                raise IndexError(f"{where}: index {index} is past the end ({len(node)} items)")
            if last:
                node[index] = value
            else:
                node = node[index]
        elif isinstance(node, dict):
            if last:
                node[part] = value
            else:
                node = node.setdefault(part, {})
        else:
            raise TypeError(f"{where}: cannot set a field inside a {type(node).__name__}")
