"""MLflow's tracking REST API as one more adapter over Shipyard's domain services.

Unmodified MLflow clients (2.x and 3.x) point ``MLFLOW_TRACKING_URI`` at
``shipyard serve`` and send their token as ``MLFLOW_TRACKING_TOKEN``:
experiments, runs and their values, run search, registered models, versions,
aliases, MLflow 3's logged models, and the artifact proxy all land in the same
store, audit trail and artifact store as the SDK's calls. See docs/mlflow-api.md.
"""

from __future__ import annotations

from fastapi import FastAPI

from shipyard.server.mlflow_api import artifacts, logged_models, registry, tracking


def install(api: FastAPI) -> None:
    """Add the routes (``SHIPYARD_TRUST_UPLOADED_CODE`` decides whether clients may
    register models that run code when loaded)."""
    for module in (tracking, registry, logged_models, artifacts):
        api.include_router(module.router())
