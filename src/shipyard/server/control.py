"""The control API (``/api/...``) that the CLI and the dashboard call.

Every route group hangs off one router with one ``authorize`` dependency:
authentication and roles are enforced there, in one place, when the
security issue lands (today it records who the caller claims to be).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response

from shipyard.deploy.policy import ServingConfig, policy_from_dict
from shipyard.deploy.rollouts import RolloutSpec
from shipyard.errors import Conflict, InvalidInput
from shipyard.sdk.client import Client
from shipyard.server.schemas import (
    AliasUpdate,
    DeploymentCreate,
    DeploymentPublic,
    DeploymentUpdate,
    ModelPublic,
    ModelVersionPublic,
    RolloutCreate,
    WebhookCreate,
)
from shipyard.serving.dataplane import DataPlane


def authorize(x_shipyard_user: Annotated[str | None, Header()] = None) -> str | None:
    """The single place where the control API will check identity and role."""
    return x_shipyard_user


def client_of(request: Request) -> Client:
    return request.app.state.client


def dataplane_of(request: Request) -> DataPlane:
    return request.app.state.dataplane


ClientDep = Annotated[Client, Depends(client_of)]
DataPlaneDep = Annotated[DataPlane, Depends(dataplane_of)]

router = APIRouter(prefix="/api", dependencies=[Depends(authorize)])


def _public(client: Client, dataplane: DataPlane, name: str) -> DeploymentPublic:
    deployment = client.get_deployment(name)
    route = dataplane.routing.routes.get(name)
    version = route.primary.version.version if route else None
    return DeploymentPublic.of(deployment, version, route is not None)


@router.get("/deployments", response_model=list[DeploymentPublic], tags=["deployments"])
def list_deployments(client: ClientDep, dataplane: DataPlaneDep) -> list[DeploymentPublic]:
    return [_public(client, dataplane, d.name) for d in client.list_deployments()]


@router.post("/deployments", response_model=DeploymentPublic, status_code=201, tags=["deployments"])
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


@router.get("/deployments/{name}", response_model=DeploymentPublic, tags=["deployments"])
def get_deployment(name: str, client: ClientDep, dataplane: DataPlaneDep) -> DeploymentPublic:
    return _public(client, dataplane, name)


@router.patch("/deployments/{name}", response_model=DeploymentPublic, tags=["deployments"])
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


@router.delete("/deployments/{name}", status_code=204, tags=["deployments"])
def delete_deployment(name: str, client: ClientDep) -> Response:
    client.delete_deployment(name)
    return Response(status_code=204)


@router.get("/models", response_model=list[ModelPublic], tags=["models"])
def list_models(client: ClientDep) -> list[ModelPublic]:
    return [ModelPublic.of(m) for m in client.list_models()]


@router.get("/models/{name}", response_model=ModelPublic, tags=["models"])
def get_model(name: str, client: ClientDep) -> ModelPublic:
    return ModelPublic.of(client.get_model(name))


@router.get("/models/{name}/versions", response_model=list[ModelVersionPublic], tags=["models"])
def list_versions(name: str, client: ClientDep) -> list[ModelVersionPublic]:
    return [ModelVersionPublic.of(v) for v in client.list_model_versions(name)]


@router.get("/models/{name}/versions/{version}", response_model=ModelVersionPublic, tags=["models"])
def get_version(name: str, version: str, client: ClientDep) -> ModelVersionPublic:
    return ModelVersionPublic.of(client.get_model_version(name, version))


@router.put("/models/{name}/aliases/{alias}", tags=["models"])
def set_alias(name: str, alias: str, body: AliasUpdate, client: ClientDep) -> dict[str, object]:
    previous = client.set_alias(name, alias, body.version)
    return {"model": name, "alias": alias, "version": body.version, "previous": previous}


@router.delete("/models/{name}/aliases/{alias}", tags=["models"])
def delete_alias(name: str, alias: str, client: ClientDep) -> dict[str, object]:
    return {"model": name, "alias": alias, "previous": client.delete_alias(name, alias)}


@router.put("/deployments/{name}/policy", response_model=DeploymentPublic, tags=["deployments"])
def set_policy(
    name: str, body: dict[str, Any], client: ClientDep, dataplane: DataPlaneDep
) -> DeploymentPublic:
    """Body: a policy as stored, e.g. {"kind": "canary", "arms": [{"model": "fraud",
    "version": 1, "weight": 90}, {"model": "fraud", "version": 2, "weight": 10}]}."""
    client.set_policy(name, policy_from_dict(body))
    return _public(client, dataplane, name)


@router.post("/deployments/{name}/switch", response_model=DeploymentPublic, tags=["deployments"])
def switch(name: str, client: ClientDep, dataplane: DataPlaneDep) -> DeploymentPublic:
    client.switch_deployment(name)
    return _public(client, dataplane, name)


@router.post("/rollouts", status_code=201, tags=["rollouts"])
def start_rollout(body: RolloutCreate, client: ClientDep) -> dict[str, Any]:
    return client.start_rollout(body.deployment, RolloutSpec.from_dict(body.spec)).to_dict()


@router.get("/rollouts", tags=["rollouts"])
def list_rollouts(client: ClientDep, deployment: str | None = None) -> list[dict[str, Any]]:
    return [r.to_dict() for r in client.store.rollouts.history(deployment)]


@router.get("/rollouts/{rollout_id}", tags=["rollouts"])
def get_rollout(rollout_id: int, client: ClientDep) -> dict[str, Any]:
    record = client.store.rollouts.get(rollout_id)
    checks = (
        client.rollout_checks(record.deployment) if record.status in ("running", "paused") else []
    )
    return {
        "rollout": record.to_dict(),
        "events": [e.to_dict() for e in client.rollout_events(rollout_id)],
        "checks": [c.to_dict() for c in checks],
    }


@router.post("/rollouts/{rollout_id}/{action}", tags=["rollouts"])
def act_on_rollout(rollout_id: int, action: str, client: ClientDep) -> dict[str, Any]:
    if action not in ("pause", "resume", "promote", "abort"):
        raise InvalidInput(
            f"unknown rollout action {action!r}; use pause, resume, promote or abort"
        )
    record = client.store.rollouts.get(rollout_id)
    latest = client.rollout(record.deployment)
    if latest.id != rollout_id:
        raise Conflict(f"rollout {rollout_id} is not the latest of {record.deployment!r}")
    return getattr(client, f"{action}_rollout")(record.deployment).to_dict()


@router.get("/webhooks", tags=["webhooks"])
def list_webhooks(client: ClientDep) -> list[dict[str, Any]]:
    return [{"id": i, "url": u, "events": e} for i, u, e in client.list_webhooks()]


@router.post("/webhooks", status_code=201, tags=["webhooks"])
def add_webhook(body: WebhookCreate, client: ClientDep) -> dict[str, Any]:
    return {"id": client.add_webhook(body.url, body.events), "url": body.url}


@router.delete("/webhooks/{webhook_id}", status_code=204, tags=["webhooks"])
def remove_webhook(webhook_id: int, client: ClientDep) -> Response:
    client.remove_webhook(webhook_id)
    return Response(status_code=204)


@router.get("/deployments/{name}/drift", tags=["monitoring"])
def drift(name: str, client: ClientDep, window_s: float | None = None) -> dict[str, Any]:
    return client.drift(name, window_s=window_s).to_dict()


@router.get("/deployments/{name}/quality", tags=["monitoring"])
def quality(
    name: str, client: ClientDep, window_s: float | None = None, by: str | None = None
) -> list[dict[str, Any]]:
    return [q.to_dict() for q in client.model_quality(name, window_s=window_s, by=by)]


@router.get("/monitors", tags=["monitoring"])
def list_monitors(client: ClientDep) -> list[dict[str, Any]]:
    return [m.to_dict() for m in client.list_monitors()]


@router.post("/monitors/{name}", status_code=201, tags=["monitoring"])
def create_monitor(name: str, body: dict[str, Any], client: ClientDep) -> dict[str, Any]:
    """Body: {"deployment": "fraud", "window_s": 3600, "interval_s": 300,
    "rules": ["drift_share >= 0.3", {"when": "accuracy < 0.9", "severity": "critical"}]}."""
    return client.create_monitor(name, body).to_dict()


@router.post("/monitors/{name}/run", tags=["monitoring"])
def run_monitor(name: str, client: ClientDep) -> dict[str, Any]:
    return {"values": client.run_monitor(name)}


@router.get("/monitors/{name}/results", tags=["monitoring"])
def monitor_results(
    name: str, client: ClientDep, metric: str | None = None, limit: int = 1000
) -> list[dict[str, Any]]:
    return client.monitor_results(name, metric, limit)


@router.get("/alerts", tags=["monitoring"])
def alerts(
    client: ClientDep, monitor: str | None = None, open_only: bool = False
) -> list[dict[str, Any]]:
    return [a.to_dict() for a in client.alerts(monitor, open_only=open_only)]


@router.get("/pipelines", tags=["pipelines"])
def list_pipelines(client: ClientDep) -> list[dict[str, Any]]:
    triggers = client.pipeline_triggers()
    return [
        {**p.to_dict(), "triggers": [t.to_dict() for t in triggers if t.pipeline == p.name]}
        for p in client.list_pipelines()
    ]


@router.get("/pipelines/{name}/runs", tags=["pipelines"])
def list_pipeline_runs(
    name: str, client: ClientDep, status: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    client.get_pipeline(name)
    return [r.to_dict() for r in client.pipeline_runs(name, status=status, limit=limit)]


@router.post("/pipelines/{name}/runs", status_code=202, tags=["pipelines"])
def start_pipeline_run(
    name: str, client: ClientDep, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Queue a run (body: {"params": {...}}); this server's executor picks it up."""
    params = (body or {}).get("params") or {}
    if not isinstance(params, dict):
        raise InvalidInput('"params" is a mapping of parameter names to values')
    return client.run_pipeline(name, params, wait=False).to_dict()


@router.get("/pipeline-runs/{run_id}", tags=["pipelines"])
def get_pipeline_run(run_id: int, client: ClientDep) -> dict[str, Any]:
    return client.get_pipeline_run(run_id).to_dict()


@router.post("/pipeline-runs/{run_id}/{action}", tags=["pipelines"])
def act_on_pipeline_run(
    run_id: int,
    action: str,
    client: ClientDep,
    user: Annotated[str | None, Depends(authorize)],
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """approve / reject (body: {"comment": "..."}; the caller is recorded) or retry."""
    comment = str((body or {}).get("comment", ""))
    if action in ("approve", "reject"):
        client.store.pipelines.decide(
            run_id, approve=action == "approve", actor=user or client.actor, comment=comment
        )
    elif action == "retry":
        client.store.pipelines.retry(run_id, actor=user or client.actor)
    else:
        raise InvalidInput(f"unknown pipeline run action {action!r}; use approve, reject or retry")
    return client.get_pipeline_run(run_id).to_dict()
