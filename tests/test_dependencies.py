"""A plain `pip install` brings every library the package imports."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
# Extras whose imports the code guards (it says which extra to install when they are missing).
GUARDED_EXTRAS = ("onnx", "postgres", "dask", "explain")
# Imported only where the code guards it with an error that says what to install.
GUARDED_IMPORTS = {"mlflow"}  # MLflow models whose loader_module needs MLflow itself


def _distribution_names(requirements: list[str]) -> set[str]:
    return {
        re.split(r"[\[<>=!~; ]", r, maxsplit=1)[0].lower().replace("_", "-") for r in requirements
    }


def _imported_top_level_modules() -> set[str]:
    modules: set[str] = set()
    for path in (ROOT / "src" / "shipyard").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    return modules - set(sys.stdlib_module_names) - {"shipyard", "__future__"} - GUARDED_IMPORTS


def test_every_imported_library_is_a_declared_dependency() -> None:
    declared = _distribution_names(PROJECT["dependencies"])
    for extra in GUARDED_EXTRAS:
        declared |= _distribution_names(PROJECT["optional-dependencies"][extra])
    providers = packages_distributions()
    undeclared = {
        module: providers.get(module, [module])
        for module in _imported_top_level_modules()
        if not {d.lower().replace("_", "-") for d in providers.get(module, [module])} & declared
    }
    assert not undeclared, f"imported but not in pyproject dependencies: {undeclared}"
