"""Importing skops without its half-second start-up cost, safely.

At import, ``skops.io`` computes the names of the scikit-learn types it
trusts by default by calling ``sklearn.utils.all_estimators()``, which
imports every scikit-learn module: about half a second, paid by every cold
``load_model``. The result depends only on the installed scikit-learn and
skops versions, so after one normal import we keep the list of names in the
user's cache directory; later imports hand skops the same names through light
stand-in classes, and then check that skops ended up with exactly the cached
list. Any mismatch or problem falls back to the normal import.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import os
import sys
import threading
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

from shipyard.config import user_cache_dir

logger = logging.getLogger(__name__)
_lock = threading.Lock()


def _cache_file(cache_dir: Path) -> Path:
    versions = "-".join(importlib.metadata.version(p) for p in ("scikit-learn", "skops"))
    return cache_dir / f"skops-trusted-{versions}.json"


def import_skops(cache_dir: Path | None = None) -> ModuleType:
    """``skops.io``, imported fast when this version pair was imported here before."""
    cache_dir = cache_dir if cache_dir is not None else user_cache_dir()
    if "skops.io" in sys.modules:
        return _import_and_remember(cache_dir)
    with _lock:
        if "skops.io" in sys.modules:
            return sys.modules["skops.io"]
        try:
            names = json.loads(_cache_file(cache_dir).read_text())
        except (OSError, ValueError):
            names = None
        if not isinstance(names, list) or not names:
            return _import_and_remember(cache_dir)
        import sklearn.utils

        original = sklearn.utils.all_estimators

        def stand_ins(*_: Any, **__: Any) -> list[tuple[str, type]]:
            pairs = []
            for name in names:
                module, _, qualname = name.rpartition(".")
                pairs.append((qualname, type(qualname, (), {"__module__": module})))
            return pairs

        sklearn.utils.all_estimators = stand_ins  # only while skops computes its list
        try:
            import skops.io
            from skops.io import _trusted_types
        finally:
            sklearn.utils.all_estimators = original
        if list(_trusted_types.SKLEARN_ESTIMATOR_TYPE_NAMES) != names:  # pragma: no cover
            logger.warning("skops trusted-type cache disagrees; using a normal import")
            for module in [m for m in sys.modules if m.startswith("skops.io")]:
                del sys.modules[module]
            return _import_and_remember(None)
        return skops.io


def _import_and_remember(cache_dir: Path | None) -> ModuleType:
    import skops.io
    from skops.io import _trusted_types

    if cache_dir is not None:
        target = _cache_file(cache_dir)
        if not target.exists():
            try:
                cache_dir.mkdir(parents=True, exist_ok=True)
                temp = target.with_name(f".{target.name}.{uuid.uuid4().hex}")
                temp.write_text(json.dumps(list(_trusted_types.SKLEARN_ESTIMATOR_TYPE_NAMES)))
                os.replace(temp, target)
            except OSError as exc:  # a read-only cache only costs speed
                logger.debug("cannot cache skops trusted types: %s", exc)
    return skops.io
