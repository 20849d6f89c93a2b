"""Shipyard: from a notebook model to a monitored, safely updated service.

The public surface is listed in ``__all__``; a test checks that it is real.
Names are imported on first use (PEP 562): ``import shipyard.batch.scoring`` in
a Dask worker, or ``shipyard --help``, should not pay for the whole SDK.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from shipyard.errors import (
    Conflict,
    IntegrityError,
    InvalidInput,
    InvalidURI,
    ModelNotFound,
    NotFound,
    RunNotFound,
    ShipyardError,
    SignatureError,
    UnsupportedModel,
)

if TYPE_CHECKING:
    from shipyard.entities import ModelVersion, RegisteredModel, Run
    from shipyard.flavors import PythonModel
    from shipyard.registry.loaded import LoadedModel
    from shipyard.sdk import (
        ActiveRun,
        Client,
        load_dataset,
        load_model,
        log_dataset,
        start_run,
    )
    from shipyard.signature import Signature

__version__ = "0.1.0"

_LAZY = {
    "ModelVersion": "shipyard.entities",
    "RegisteredModel": "shipyard.entities",
    "Run": "shipyard.entities",
    "PythonModel": "shipyard.flavors",
    "LoadedModel": "shipyard.registry.loaded",
    "ActiveRun": "shipyard.sdk",
    "Client": "shipyard.sdk",
    "load_dataset": "shipyard.sdk",
    "load_model": "shipyard.sdk",
    "log_dataset": "shipyard.sdk",
    "start_run": "shipyard.sdk",
    "Signature": "shipyard.signature",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'shipyard' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "ActiveRun",
    "Client",
    "Conflict",
    "IntegrityError",
    "InvalidInput",
    "InvalidURI",
    "LoadedModel",
    "ModelNotFound",
    "ModelVersion",
    "NotFound",
    "PythonModel",
    "RegisteredModel",
    "Run",
    "RunNotFound",
    "ShipyardError",
    "Signature",
    "SignatureError",
    "UnsupportedModel",
    "__version__",
    "load_dataset",
    "load_model",
    "log_dataset",
    "start_run",
]
