"""Shipyard: from a notebook model to a monitored, safely updated service.

The public surface is listed in ``__all__``; a test checks that it is real.
"""

from __future__ import annotations

from shipyard.entities import ModelVersion, RegisteredModel, Run
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
from shipyard.flavors import PythonModel
from shipyard.registry.loaded import LoadedModel
from shipyard.sdk import ActiveRun, Client, load_dataset, load_model, log_dataset, start_run
from shipyard.signature import Signature

__version__ = "0.1.0"

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
