"""``create_app``: the one ASGI app a serving process runs.

The hot prediction path (``server.predict``) sits in front; everything else
is a FastAPI app: the control API, OIP and MLflow metadata/health routes,
``/metrics``, the OpenAPI docs at ``/docs`` and the dashboard at ``/ui``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Body, FastAPI
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from shipyard import __version__
from shipyard.abtest.controller import BanditController
from shipyard.batch.metrics import BatchMetrics
from shipyard.config import HttpSettings, ServerSettings, StoreSettings
from shipyard.deploy.rollouts import RolloutController
from shipyard.deploy.webhooks import WebhookDispatcher
from shipyard.errors import NotFound
from shipyard.explain.importance import ImportanceRunner
from shipyard.monitoring.monitors import MonitorRunner
from shipyard.monitoring.predlog import PredictionLogger
from shipyard.pipelines.scheduler import PipelineExecutor, PipelineScheduler
from shipyard.sdk.client import Client
from shipyard.security.access_table import AccessTable
from shipyard.security.denials import DenialLog
from shipyard.server import ab_api, artifacts_api, batch_api, control, mlflow_api, ops_api, ui
from shipyard.server.auth import AuthApp, app_routes, document_access
from shipyard.server.errors import OipErrorBody, error_responses, install_error_handlers
from shipyard.server.explain import Explanations
from shipyard.server.predict import PredictApp
from shipyard.server.protocols import oip
from shipyard.server.schemas import (
    FeedbackAccepted,
    FeedbackItem,
    HealthStatus,
    OipLive,
    OipModelMetadata,
    OipModelReady,
    OipReady,
    OipServerMetadata,
)
from shipyard.server.ui.sessions import SessionCodec, load_key
from shipyard.serving.core import ServingCore
from shipyard.serving.metrics import ServingMetrics


def _metrics_payload(metrics: ServingMetrics) -> bytes:
    """With several workers: the file-backed metrics of all of them, plus the
    collectors every worker answers alike (``serving.collectors`` explains)."""
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        for collector in metrics.shared:
            registry.register(collector)
        return bytes(generate_latest(registry))
    return bytes(generate_latest(metrics.registry))


def create_app(
    settings: ServerSettings | None = None,
    store_settings: StoreSettings | None = None,
    *,
    client: Client | None = None,
    prediction_log: PredictionLogger | None = None,
    http_settings: HttpSettings | None = None,
) -> AuthApp:
    """Build a serving process's app from real collaborators (tests pass their own)."""
    settings = settings or ServerSettings()
    client = client or Client(settings=store_settings)
    core = ServingCore.build(client.store, settings, prediction_log=prediction_log)
    metrics, routing, dataplane = core.metrics, core.routing, core.dataplane
    access = (
        AccessTable(client.store, poll_interval_s=settings.poll_interval_s)
        if settings.auth
        else None
    )
    denials = DenialLog(client.store) if settings.auth else None
    monitor_runner = MonitorRunner(
        client.store,
        dataplane.process_id,
        tick_s=settings.controller_tick_s,
        lease_ttl_s=settings.lease_ttl_s,
    )
    metrics.watch_monitors(monitor_runner.latest)
    explanations = Explanations(dataplane, threads=settings.explain_threads)
    importance_runner = ImportanceRunner(
        client.store, dataplane.process_id, interval_s=settings.importance_interval_s
    )

    @asynccontextmanager
    async def lifespan(started: FastAPI) -> AsyncIterator[None]:
        await core.load()
        if access is not None:
            await asyncio.to_thread(access.load)
            access.start_watching()
        if denials is not None:
            denials.start()
        # Everything loaded so far (libraries, models) lives as long as the process:
        # keep it out of the collector's full passes, which otherwise stall requests.
        gc.collect()
        gc.freeze()
        core.start()
        # The dashboard's summary of the prediction log: built off the event loop now,
        # so that the first Deployment page after a start need not read the whole log.
        warming = asyncio.get_running_loop().run_in_executor(None, started.state.ui_warm)
        controller = RolloutController(
            client.store,
            dataplane.process_id,
            tick_s=settings.controller_tick_s,
            lease_ttl_s=settings.lease_ttl_s,
        )
        dispatcher = WebhookDispatcher(client.store, dataplane.process_id, http=http_settings)
        bandits = BanditController(
            client.store,
            dataplane.process_id,
            tick_s=settings.controller_tick_s,
            lease_ttl_s=settings.lease_ttl_s,
        )
        controller.start()
        bandits.start()
        dispatcher.start()
        monitor_runner.start()
        importance_runner.start()
        scheduler = executor = None
        if settings.pipelines:
            scheduler = PipelineScheduler(
                client.store, dataplane.process_id, tick_s=settings.pipeline_tick_s
            )
            executor = PipelineExecutor(
                client, dataplane.process_id, poll_s=settings.pipeline_tick_s
            )
            scheduler.start()
            executor.start()
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                await warming
            await controller.close()
            await bandits.close()
            await dispatcher.close()
            await monitor_runner.close()
            await importance_runner.close()
            explanations.close()
            if scheduler is not None and executor is not None:
                await scheduler.close()
                await asyncio.to_thread(executor.close)
            if access is not None:
                await access.close()
            if denials is not None:
                await denials.close()
            await core.close()

    api = FastAPI(
        title="Shipyard",
        version=__version__,
        lifespan=lifespan,
        description="Control API, Open Inference Protocol v2 and MLflow scoring.",
    )
    api.state.client = client
    api.state.dataplane = dataplane
    api.state.metrics = metrics
    api.state.batch_metrics = BatchMetrics(metrics.registry)
    api.state.batch_roots = settings.batch_roots or [str(client.settings.home / "batch")]
    install_error_handlers(api)
    oip_errors = error_responses(404, 422, 503, body=OipErrorBody)

    @api.get(
        "/health",
        tags=["health"],
        response_model=HealthStatus,
        responses={503: {"model": HealthStatus, "description": "Still loading a model"}},
    )
    def health() -> Response:
        """Ready (200) once every deployment's model is loaded and warmed, else 503."""
        ready = dataplane.ready
        return JSONResponse(
            {
                "status": "ok" if ready else "loading",
                "deployments": dataplane.deployments(),
                "failures": routing.failures,
            },
            status_code=200 if ready else 503,
        )

    @api.get("/metrics", tags=["health"], response_class=PlainTextResponse)
    def prometheus() -> Response:
        """Prometheus text exposition format."""
        return Response(_metrics_payload(metrics), media_type=CONTENT_TYPE_LATEST)

    @api.post(
        "/v1/deployments/{name}/feedback",
        tags=["monitoring"],
        responses=error_responses(400, 404, 422),
    )
    def feedback(
        name: str, body: Annotated[list[FeedbackItem], Body(min_length=1)]
    ) -> FeedbackAccepted:
        """Ground-truth labels and business outcomes for served predictions, joined to
        the prediction log by request id whenever they arrive."""
        items = [item.model_dump(exclude_none=True) for item in body]
        return FeedbackAccepted(accepted=client.add_feedback(name, items))

    # -- Open Inference Protocol v2: metadata and health ---------------------------
    @api.get("/v2", tags=["oip"])
    def oip_server() -> OipServerMetadata:
        return OipServerMetadata(**oip.server_metadata())

    @api.get("/v2/health/live", tags=["oip"])
    def oip_live() -> OipLive:
        return OipLive(live=True)

    @api.get(
        "/v2/health/ready",
        tags=["oip"],
        response_model=OipReady,
        responses={503: {"model": OipReady, "description": "Still loading a model"}},
    )
    def oip_ready() -> Response:
        return JSONResponse({"ready": dataplane.ready}, status_code=200 if dataplane.ready else 503)

    @api.get("/v2/models/{name}", tags=["oip"], responses=oip_errors)
    def oip_model(name: str) -> OipModelMetadata:
        return OipModelMetadata.model_validate(oip.model_metadata(name, dataplane.model(name)))

    @api.get("/v2/models/{name}/ready", tags=["oip"], responses=oip_errors)
    def oip_model_ready(name: str) -> OipModelReady:
        dataplane.model(name)
        return OipModelReady(name=name, ready=True)

    @api.get("/v2/models/{name}/versions/{version}", tags=["oip"], responses=oip_errors)
    def oip_model_version(name: str, version: str) -> OipModelMetadata:
        model = dataplane.model(name)
        if str(model.version.version) != version:
            raise NotFound(
                f"deployment {name!r} serves version {model.version.version}, not version {version}"
            )
        return OipModelMetadata.model_validate(oip.model_metadata(name, model))

    @api.get("/v2/models/{name}/versions/{version}/ready", tags=["oip"], responses=oip_errors)
    def oip_model_version_ready(name: str, version: str) -> OipModelReady:
        oip_model_version(name, version)
        return OipModelReady(name=name, ready=True)

    # -- MLflow scoring server compatibility ------------------------------------------
    @api.get(
        "/ping",
        tags=["mlflow"],
        response_class=PlainTextResponse,
        responses={503: {"description": "Still loading a model", "content": {"text/plain": {}}}},
    )
    def ping() -> Response:
        return PlainTextResponse("\n", status_code=200 if dataplane.ready else 503)

    @api.get("/version", tags=["mlflow"], response_class=PlainTextResponse)
    def version() -> Response:
        return PlainTextResponse(__version__)

    # FastAPI tries routes in order: health checks and metadata first, then the
    # control API, then the chattiest clients' routes (MLflow's client makes 17 calls a
    # run, the SDK 2), each scan of ~5 us per route kept off the busiest paths.
    api.include_router(control.router)
    api.include_router(batch_api.router)
    api.include_router(ab_api.router)
    api.include_router(artifacts_api.router)
    mlflow_api.install(api)
    sessions = SessionCodec(
        load_key(
            settings.ui_session_key.get_secret_value() if settings.ui_session_key else None,
            client.settings.home,
        )
    )
    ui.install(api, sessions=sessions, access=access, workers=settings.workers)
    operations, operation_schemas = ops_api.build_router()
    api.include_router(operations)
    document_access(api)
    ops_api.document_operations(api, operation_schemas)
    predict = PredictApp(
        dataplane,
        metrics,
        api,
        max_body_bytes=settings.max_body_bytes,
        max_rows=settings.max_rows_per_request,
        default_deployment=settings.default_deployment,
        explanations=explanations,
    )
    return AuthApp(
        predict,
        access,
        served_routes=list(app_routes(api.routes)),
        open_metrics=settings.open_metrics,
        default_deployment=settings.default_deployment or "",
        denials=denials,
        sessions=sessions,
    )
