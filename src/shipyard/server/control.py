"""The control API (``/api/...``) that the CLI and the dashboard call.

Authentication and roles are enforced in front of every route by
``server/auth.py`` against ``server/route_permissions.py``; ``caller``
gives a route the name the audit trail records for the request.

Each route declares what it returns - its success model and, through
``error_responses``, the error statuses it answers - so ``/openapi.json``
describes the API as it behaves (``tests/server/test_openapi_fuzz.py``
holds it to that). Ids and limits are bounded types from ``schemas``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from shipyard.deploy.policy import ServingConfig, policy_from_dict
from shipyard.deploy.rollouts import RolloutSpec
from shipyard.errors import Conflict
from shipyard.sdk.client import Client
from shipyard.server.errors import error_responses
from shipyard.server.schemas import (
    AlertPublic,
    AliasChange,
    AliasPath,
    AliasRemoved,
    AliasUpdate,
    DeploymentCreate,
    DeploymentPublic,
    DeploymentUpdate,
    DriftReport,
    Limit,
    ModelPublic,
    ModelVersionPublic,
    MonitorCreate,
    MonitorPublic,
    MonitorResultPublic,
    MonitorRun,
    NamePath,
    PipelineDecision,
    PipelinePublic,
    PipelineRunAction,
    PipelineRunCreate,
    PipelineRunPublic,
    PipelineRunStatus,
    PolicyIn,
    QualityPublic,
    RecordId,
    RolloutAction,
    RolloutCreate,
    RolloutDetail,
    RolloutPublic,
    VersionRef,
    WebhookCreate,
    WebhookCreated,
    WebhookPublic,
    WindowSeconds,
)
from shipyard.serving.dataplane import DataPlane
from shipyard.store.audit_context import current_audit_context


def caller() -> str | None:
    """The authenticated caller (set by ``server/auth.py``), None with auth off."""
    return current_audit_context().actor


def client_of(request: Request) -> Client:
    return request.app.state.client


def dataplane_of(request: Request) -> DataPlane:
    return request.app.state.dataplane


ClientDep = Annotated[Client, Depends(client_of)]
DataPlaneDep = Annotated[DataPlane, Depends(dataplane_of)]

router = APIRouter(
    prefix="/api",
    # FastAPI validates every route's input and answers 422 in our error shape.
    responses=error_responses(422),
)


def _public(client: Client, dataplane: DataPlane, name: str) -> DeploymentPublic:
    deployment = client.get_deployment(name)
    route = dataplane.routing.routes.get(name)
    version = route.primary.version.version if route else None
    return DeploymentPublic.of(deployment, version, route is not None)


@router.get("/deployments", tags=["deployments"])
def list_deployments(client: ClientDep, dataplane: DataPlaneDep) -> list[DeploymentPublic]:
    return [_public(client, dataplane, d.name) for d in client.list_deployments()]


@router.post(
    "/deployments", status_code=201, tags=["deployments"], responses=error_responses(400, 404, 409)
)
def create_deployment(
    body: DeploymentCreate, client: ClientDep, dataplane: DataPlaneDep
) -> DeploymentPublic:
    client.create_deployment(
        body.name,
        body.model,
        description=body.description,
        serving=ServingConfig(**body.serving.model_dump()),
    )
    return _public(client, dataplane, body.name)


@router.get("/deployments/{name}", tags=["deployments"], responses=error_responses(404))
def get_deployment(name: str, client: ClientDep, dataplane: DataPlaneDep) -> DeploymentPublic:
    return _public(client, dataplane, name)


@router.patch("/deployments/{name}", tags=["deployments"], responses=error_responses(400, 404))
def update_deployment(
    name: str, body: DeploymentUpdate, client: ClientDep, dataplane: DataPlaneDep
) -> DeploymentPublic:
    client.update_deployment(
        name,
        model=body.model,
        description=body.description,
        serving=ServingConfig(**body.serving.model_dump()) if body.serving else None,
    )
    return _public(client, dataplane, name)


@router.delete(
    "/deployments/{name}",
    status_code=204,
    tags=["deployments"],
    responses=error_responses(404, 409),
)
def delete_deployment(name: str, client: ClientDep) -> Response:
    """409 while a rollout of the deployment is running or paused."""
    client.delete_deployment(name)
    return Response(status_code=204)


@router.get("/models", tags=["models"])
def list_models(client: ClientDep) -> list[ModelPublic]:
    return [ModelPublic.of(m) for m in client.list_models()]


@router.get("/models/{name}", tags=["models"], responses=error_responses(404))
def get_model(name: str, client: ClientDep) -> ModelPublic:
    return ModelPublic.of(client.get_model(name))


@router.get("/models/{name}/versions", tags=["models"], responses=error_responses(404))
def list_versions(name: str, client: ClientDep) -> list[ModelVersionPublic]:
    return [ModelVersionPublic.of(v) for v in client.list_model_versions(name)]


@router.get("/models/{name}/versions/{version}", tags=["models"], responses=error_responses(404))
def get_version(name: str, version: VersionRef, client: ClientDep) -> ModelVersionPublic:
    return ModelVersionPublic.of(client.get_model_version(name, version))


@router.put("/models/{name}/aliases/{alias}", tags=["models"], responses=error_responses(400, 404))
def set_alias(name: str, alias: AliasPath, body: AliasUpdate, client: ClientDep) -> AliasChange:
    """400 for the reserved alias ``latest``."""
    previous = client.set_alias(name, alias, body.version)
    return AliasChange(model=name, alias=alias, version=body.version, previous=previous)


@router.delete("/models/{name}/aliases/{alias}", tags=["models"], responses=error_responses(404))
def delete_alias(name: str, alias: str, client: ClientDep) -> AliasRemoved:
    return AliasRemoved(model=name, alias=alias, previous=client.delete_alias(name, alias))


@router.put(
    "/deployments/{name}/policy", tags=["deployments"], responses=error_responses(400, 404, 409)
)
def set_policy(
    name: str, body: PolicyIn, client: ClientDep, dataplane: DataPlaneDep
) -> DeploymentPublic:
    """Body: a policy as stored, e.g. {"kind": "canary", "arms": [{"model": "fraud",
    "version": 1, "weight": 90}, {"model": "fraud", "version": 2, "weight": 10}]};
    400 when its fields do not fit the kind."""
    client.set_policy(name, policy_from_dict(body.model_dump()))
    return _public(client, dataplane, name)


@router.post(
    "/deployments/{name}/switch", tags=["deployments"], responses=error_responses(404, 409)
)
def switch(name: str, client: ClientDep, dataplane: DataPlaneDep) -> DeploymentPublic:
    client.switch_deployment(name)
    return _public(client, dataplane, name)


@router.post(
    "/rollouts", status_code=201, tags=["rollouts"], responses=error_responses(400, 404, 409)
)
def start_rollout(body: RolloutCreate, client: ClientDep) -> RolloutPublic:
    """400 when the steps do not increase to 100 or deadline_s < interval_s."""
    spec = RolloutSpec.from_dict(body.spec.model_dump(exclude_unset=True, exclude_none=True))
    return RolloutPublic(**client.start_rollout(body.deployment, spec).to_dict())


@router.get("/rollouts", tags=["rollouts"])
def list_rollouts(client: ClientDep, deployment: str | None = None) -> list[RolloutPublic]:
    return [RolloutPublic(**r.to_dict()) for r in client.store.rollouts.history(deployment)]


@router.get("/rollouts/{rollout_id}", tags=["rollouts"], responses=error_responses(404))
def get_rollout(rollout_id: RecordId, client: ClientDep) -> RolloutDetail:
    record = client.store.rollouts.get(rollout_id)
    checks = (
        client.rollout_checks(record.deployment) if record.status in ("running", "paused") else []
    )
    return RolloutDetail.model_validate(
        {
            "rollout": record.to_dict(),
            "events": [e.to_dict() for e in client.rollout_events(rollout_id)],
            "checks": [c.to_dict() for c in checks],
        }
    )


@router.post(
    "/rollouts/{rollout_id}/{action}", tags=["rollouts"], responses=error_responses(404, 409)
)
def act_on_rollout(rollout_id: RecordId, action: RolloutAction, client: ClientDep) -> RolloutPublic:
    """409 unless the rollout is its deployment's latest and in a state that allows it."""
    record = client.store.rollouts.get(rollout_id)
    latest = client.rollout(record.deployment)
    if latest.id != rollout_id:
        raise Conflict(f"rollout {rollout_id} is not the latest of {record.deployment!r}")
    return RolloutPublic(**getattr(client, f"{action}_rollout")(record.deployment).to_dict())


@router.get("/webhooks", tags=["webhooks"])
def list_webhooks(client: ClientDep) -> list[WebhookPublic]:
    return [WebhookPublic(id=i, url=u, events=e) for i, u, e in client.list_webhooks()]


@router.post("/webhooks", status_code=201, tags=["webhooks"], responses=error_responses(400))
def add_webhook(body: WebhookCreate, client: ClientDep) -> WebhookCreated:
    return WebhookCreated(id=client.add_webhook(body.url, body.events), url=body.url)


@router.delete(
    "/webhooks/{webhook_id}", status_code=204, tags=["webhooks"], responses=error_responses(404)
)
def remove_webhook(webhook_id: RecordId, client: ClientDep) -> Response:
    client.remove_webhook(webhook_id)
    return Response(status_code=204)


@router.get("/deployments/{name}/drift", tags=["monitoring"], responses=error_responses(400, 404))
def drift(name: str, client: ClientDep, window_s: WindowSeconds = None) -> DriftReport:
    """400 while the deployment has no logged predictions (in the window) to compare."""
    return DriftReport.model_validate(client.drift(name, window_s=window_s).to_dict())


@router.get("/deployments/{name}/quality", tags=["monitoring"], responses=error_responses(400, 404))
def quality(
    name: str, client: ClientDep, window_s: WindowSeconds = None, by: str | None = None
) -> list[QualityPublic]:
    """400 while nothing is logged, or when ``by`` names no logged column."""
    results = client.model_quality(name, window_s=window_s, by=by)
    return [QualityPublic.model_validate(q.to_dict()) for q in results]


@router.get("/monitors", tags=["monitoring"])
def list_monitors(client: ClientDep) -> list[MonitorPublic]:
    return [MonitorPublic(**m.to_dict()) for m in client.list_monitors()]


@router.post(
    "/monitors/{name}",
    status_code=201,
    tags=["monitoring"],
    responses=error_responses(400, 404, 409),
)
def create_monitor(
    name: NamePath,
    body: MonitorCreate,
    client: ClientDep,
) -> MonitorPublic:
    """400 when rule names repeat."""
    record = client.create_monitor(name, body.model_dump(exclude_unset=True, exclude_none=True))
    return MonitorPublic(**record.to_dict())


@router.post("/monitors/{name}/run", tags=["monitoring"], responses=error_responses(400, 404))
def run_monitor(name: str, client: ClientDep) -> MonitorRun:
    return MonitorRun(values=client.run_monitor(name))


@router.get("/monitors/{name}/results", tags=["monitoring"], responses=error_responses(404))
def monitor_results(
    name: str, client: ClientDep, metric: str | None = None, limit: Limit = 1000
) -> list[MonitorResultPublic]:
    return [MonitorResultPublic(**r) for r in client.monitor_results(name, metric, limit)]


@router.get("/alerts", tags=["monitoring"])
def alerts(
    client: ClientDep, monitor: str | None = None, open_only: bool = False
) -> list[AlertPublic]:
    return [AlertPublic(**a.to_dict()) for a in client.alerts(monitor, open_only=open_only)]


@router.get("/pipelines", tags=["pipelines"])
def list_pipelines(client: ClientDep) -> list[PipelinePublic]:
    triggers = client.pipeline_triggers()
    return [
        PipelinePublic.model_validate(
            {**p.to_dict(), "triggers": [t.to_dict() for t in triggers if t.pipeline == p.name]}
        )
        for p in client.list_pipelines()
    ]


@router.get("/pipelines/{name}/runs", tags=["pipelines"], responses=error_responses(404))
def list_pipeline_runs(
    name: str, client: ClientDep, status: PipelineRunStatus = None, limit: Limit = 50
) -> list[PipelineRunPublic]:
    client.get_pipeline(name)
    runs = client.pipeline_runs(name, status=status, limit=limit)
    return [PipelineRunPublic.model_validate(r.to_dict()) for r in runs]


@router.post(
    "/pipelines/{name}/runs",
    status_code=202,
    tags=["pipelines"],
    responses=error_responses(400, 404),
)
def start_pipeline_run(
    name: str, client: ClientDep, body: PipelineRunCreate | None = None
) -> PipelineRunPublic:
    """Queue a run; this server's executor picks it up. 400 for parameters the pipeline
    does not declare or values it cannot take."""
    params = body.params if body is not None else {}
    run = client.run_pipeline(name, params, wait=False)
    return PipelineRunPublic.model_validate(run.to_dict())


@router.get("/pipeline-runs/{run_id}", tags=["pipelines"], responses=error_responses(404))
def get_pipeline_run(run_id: RecordId, client: ClientDep) -> PipelineRunPublic:
    return PipelineRunPublic.model_validate(client.get_pipeline_run(run_id).to_dict())


@router.post(
    "/pipeline-runs/{run_id}/{action}",
    tags=["pipelines"],
    responses=error_responses(400, 404, 409),
)
def act_on_pipeline_run(
    run_id: RecordId,
    action: PipelineRunAction,
    client: ClientDep,
    user: Annotated[str | None, Depends(caller)],
    body: PipelineDecision | None = None,
) -> PipelineRunPublic:
    """approve / reject (the comment and the caller are recorded) or retry; 409 when the
    run is not waiting for that."""
    comment = body.comment if body is not None else ""
    if action == "retry":
        client.store.pipelines.retry(run_id, actor=user or client.actor)
    else:
        client.store.pipelines.decide(
            run_id, approve=action == "approve", actor=user or client.actor, comment=comment
        )
    return PipelineRunPublic.model_validate(client.get_pipeline_run(run_id).to_dict())
