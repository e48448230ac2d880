"""The import graph of ``src/marginengine`` (read with ``ast``, nothing imported):

- no layer imports a later one (the order of /work/shared/DESIGN.md, "Layers"; top-level
  modules such as ``errors`` and ``decisions`` are the foundation every layer may use);
- no import cycle between modules, at import time or under ``TYPE_CHECKING``;
- no module uses another module's private names (``from x import _y``, ``x._y``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "marginengine"

#: DESIGN.md's layers, in order; a folder may import only folders at or before its rank.
LAYERS: dict[str, int] = {
    "": 0,  # marginengine/errors.py, decisions.py, __init__.py: the foundation
    "fixedpoint": 1,
    "config": 2,
    "pricing": 3,
    "oracle": 4,
    "ledger": 5,
    "margin": 6,
    "liquidation": 7,
    "persistence": 8,
    "engine": 9,
    "scan": 10,
    "venue": 11,
    "sim": 12,
    "optimize": 13,
    "report": 14,
    "service": 14,
    "cli": 14,
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, ast.Module]:
    return {_module_name(p): ast.parse(p.read_text(), str(p))
            for p in sorted(PACKAGE.rglob("*.py"))}


MODULES = _modules()


def _layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return ""
    return parts[1] if (PACKAGE / parts[1]).is_dir() else ""


def _resolve(module: str, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    is_package = (PACKAGE.parent / module.replace(".", "/") / "__init__.py").exists()
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(module: str, tree: ast.Module) -> list[tuple[str, list[str], int]]:
    """``(imported module, names, line)`` for every import of the package's own modules."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("marginengine"):
                    out.append((alias.name, [], node.lineno))
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, node)
            if target.startswith("marginengine"):
                names = [a.name for a in node.names]
                # ``from package import module`` imports the module.
                subs = [f"{target}.{n}" for n in names if f"{target}.{n}" in MODULES]
                plain = [n for n in names if f"{target}.{n}" not in MODULES]
                if plain or not subs:
                    out.append((target, plain, node.lineno))
                out.extend((s, [], node.lineno) for s in subs)
    return out


#: The one import of a later layer allowed: the package root's face
#: ``marginengine.simulate`` (issue 11 item 6), imported lazily by the root's module
#: ``__getattr__`` on first use, so importing any layer never loads the simulator.
FACE = {("marginengine", "marginengine.sim.api")}


def test_layers_when_walked_then_no_layer_imports_a_later_one() -> None:
    unknown = sorted({_layer(m) for m in MODULES} - set(LAYERS))
    assert not unknown, f"folders without a layer in DESIGN.md: {unknown}"
    problems = []
    for module, tree in MODULES.items():
        rank = LAYERS[_layer(module)]
        for target, _, line in _imports(module, tree):
            target_layer = _layer(target)
            if LAYERS[target_layer] > rank and (module, target) not in FACE:
                problems.append(f"{module}:{line} imports {target} "
                                f"({_layer(module) or 'top'} -> {target_layer})")
    assert problems == []


def test_root_when_imported_then_simulator_not_loaded() -> None:
    # The face's import is lazy: a fresh interpreter importing the root (and the engine)
    # has not imported the simulator.
    import subprocess
    import sys

    code = ("import sys, marginengine, marginengine.engine; "
            "print('marginengine.sim.api' in sys.modules, 'marginengine.sim' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "False"]


def test_imports_when_walked_then_no_cycle_between_modules() -> None:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for module, tree in MODULES.items():
        for target, _, _ in _imports(module, tree):
            # Importing a package runs its __init__; the edge goes to the module named.
            if target in MODULES and target != module:
                graph[module].add(target)
    # A package's __init__ importing its own submodules is how packages export names;
    # a submodule importing its own package's __init__ would be the cycle, and is caught.
    cycles = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt):], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)
    assert cycles == []


def test_private_names_when_walked_then_never_used_across_modules() -> None:
    problems = []
    for module, tree in MODULES.items():
        for target, names, line in _imports(module, tree):
            if target == module:
                continue
            for name in names:
                if name.startswith("_"):
                    problems.append(f"{module}:{line} imports {name} from {target}")
        aliases = {a.asname or a.name: a.name for node in ast.walk(tree)
                   if isinstance(node, ast.Import | ast.ImportFrom) for a in node.names}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and node.attr.startswith("_")
                    and not node.attr.startswith("__")
                    and isinstance(node.value, ast.Name)
                    and node.value.id not in ("self", "cls")
                    and aliases.get(node.value.id, "").startswith("marginengine")):
                problems.append(f"{module}:{node.lineno} uses {node.value.id}.{node.attr}")
    assert problems == []


def test_private_attributes_when_walked_then_objects_of_other_modules_not_reached_into() -> None:
    """``engine._handlers``-style reach-ins: an underscore attribute read on anything but
    ``self``/``cls`` (or a local copy made by the same class) in another module."""
    problems = []
    for module, tree in MODULES.items():
        # Names this module itself defines on its objects (attributes set on self, methods
        # of its classes): reading them on another instance of the same class is fine.
        defined: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                    and node.value.id in ("self", "cls"):
                defined.add(node.attr)
            elif isinstance(node, ast.ClassDef):
                defined.update(n.name for n in node.body
                               if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef))
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and node.attr.startswith("_")
                    and not node.attr.startswith("__") and not node.attr.endswith("_")
                    and not (isinstance(node.value, ast.Name)
                             and node.value.id in ("self", "cls"))
                    and node.attr not in defined):
                problems.append(f"{module}:{node.lineno} reads .{node.attr}")
    assert problems == []


@pytest.mark.parametrize("module", ["marginengine.config.models", "marginengine.config.perp",
                                    "marginengine.config.auction"])
def test_config_when_walked_then_its_models_do_not_import_each_other_in_a_circle(
        module: str) -> None:
    targets = {t for t, _, _ in _imports(module, MODULES[module])}
    if module != "marginengine.config.models":
        assert "marginengine.config.models" not in targets
