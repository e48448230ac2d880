"""The pricing layer imports only the layers above it (DESIGN.md: fixedpoint, config)."""

from __future__ import annotations

import ast
from pathlib import Path

import marginengine.pricing

ALLOWED = ("marginengine.pricing", "marginengine.fixedpoint", "marginengine.config",
           "marginengine.errors")


def test_pricing_modules_when_parsed_then_import_only_layers_above():
    folder = Path(marginengine.pricing.__file__).parent
    seen = []
    for path in sorted(folder.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            for name in names:
                if name.startswith("marginengine"):
                    seen.append(name)
                    assert name.startswith(ALLOWED), f"{path.name} imports {name}"
    assert "marginengine.fixedpoint" in seen  # the check sees the imports it guards
