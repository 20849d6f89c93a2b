"""The web dashboard at ``/ui``: server-rendered pages over the same Client and the same
permission table as the control API (see docs/dashboard.md).

``install`` adds its routes to the app; none of them is in the OpenAPI schema.
"""

from __future__ import annotations

import logging
import time

from fastapi import FastAPI

from shipyard.errors import ShipyardError
from shipyard.monitoring.predlog_summary import PredlogSummaries
from shipyard.sdk.client import Client
from shipyard.security.access_table import AccessTable
from shipyard.server.ui import (
    actions,
    audit_page,
    datasets_pages,
    models_pages,
    monitoring_pages,
    pages,
    pipeline_pages,
    runs_pages,
    signin,
)
from shipyard.server.ui.chain_status import ChainVerifier
from shipyard.server.ui.deployment_history import COUNTER_WINDOW_S
from shipyard.server.ui.rendering import build_environment
from shipyard.server.ui.serving_stats import ServingStats
from shipyard.server.ui.sessions import SessionCodec
from shipyard.server.ui.static import static_files
from shipyard.serving.history import ServingHistories

__all__ = ["install"]

logger = logging.getLogger(__name__)


def install(
    api: FastAPI,
    *,
    sessions: SessionCodec,
    access: AccessTable | None,
    workers: int = 1,
) -> None:
    """Serve the dashboard from ``api`` (``access`` None: the server runs with --no-auth)."""
    api.state.ui_sessions = sessions
    api.state.ui_access = access
    api.state.ui_auth = access is not None
    api.state.ui_templates = build_environment()
    api.state.ui_static = static_files()
    api.state.ui_stats = ServingStats(api.state.metrics.registry)
    api.state.ui_workers = workers
    summaries = api.state.ui_predlog = PredlogSummaries(api.state.client.store.artifacts)
    histories = api.state.ui_histories = ServingHistories(api.state.client.store)
    api.state.ui_warm = lambda: warm(api.state.client, summaries, histories)
    api.state.ui_audit_verifier = ChainVerifier()
    api.include_router(signin.router)
    api.include_router(pages.router)
    api.include_router(actions.router)
    api.include_router(pipeline_pages.router)
    api.include_router(audit_page.router)
    api.include_router(runs_pages.router)
    api.include_router(models_pages.router)
    api.include_router(datasets_pages.router)
    api.include_router(monitoring_pages.router)


def warm(client: Client, summaries: PredlogSummaries, histories: ServingHistories) -> None:
    """Summarise every deployment's prediction log and serving counters once (called off
    the event loop at start)."""
    for deployment in client.list_deployments():
        try:
            summaries.refresh(deployment.name)
            histories.read(deployment.name, int(time.time()) - COUNTER_WINDOW_S)
        except (ShipyardError, OSError) as exc:  # a page view will try again
            logger.warning("could not summarise the prediction log of %s: %s", deployment.name, exc)
