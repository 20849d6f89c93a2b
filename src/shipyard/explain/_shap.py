"""The one place shap is imported (lazily: it loads numba, about a second)."""

from __future__ import annotations

from typing import Any

from shipyard.errors import MissingDependency


def import_shap() -> Any:
    try:
        import shap
    except ImportError as exc:
        raise MissingDependency("shap", "explain") from exc
    return shap
