"""Imports point down the layers of docs/architecture.md (checked on the source)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "shipyard"

# package -> the layer it belongs to; higher numbers sit above lower ones.
LAYERS = {
    "cli": 3,
    "server": 3,
    "sdk": 2,
    "tracking": 1,
    "registry": 1,
    "deploy": 1,
    "serving": 1,
    "monitoring": 1,
    "datasets": 1,
    "pipelines": 1,
    "batch": 1,
    "explain": 1,
    "optimize": 1,
    "abtest": 1,
    "packaging": 1,
    "store": 0,
    "flavors": 0,
}
CORE_MODULES = {
    "config",
    "errors",
    "entities",
    "signature",
    "query",
    "names",
    "http",
    "cores",
    "estimators",
}


def _layer(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "shipyard" or len(parts) == 1:
        return None
    head = parts[1]
    if head in LAYERS:
        return LAYERS[head]
    return 0 if head in CORE_MODULES else None


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
    return found


@pytest.mark.parametrize("path", sorted(SRC.rglob("*.py")), ids=lambda p: str(p.relative_to(SRC)))
def test_no_module_imports_a_higher_layer(path: Path) -> None:
    module = "shipyard." + ".".join(path.relative_to(SRC).with_suffix("").parts)
    own = _layer(module)
    if own is None:
        return
    for imported in _imports(path):
        target = _layer(imported)
        if target is not None:
            assert target <= own, f"{module} (layer {own}) imports {imported} (layer {target})"


def test_no_sql_outside_the_store() -> None:
    for path in SRC.rglob("*.py"):
        if "store" in path.relative_to(SRC).parts:
            continue
        text = path.read_text()
        assert "from sqlalchemy" not in text and "import sqlalchemy" not in text, path
