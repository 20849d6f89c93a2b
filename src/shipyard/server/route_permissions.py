"""The permission every HTTP route needs: one entry per (method, path template).

``server/auth.py`` enforces it in front of everything; a route that is
missing here is denied (fail closed), and ``tests/server/test_access.py``
walks the app's routes so a route added without an entry fails the suite.
``model``/``deployment`` name the path parameter that a narrowed token is
checked against.
"""

from __future__ import annotations

from dataclasses import dataclass

from shipyard.security.permissions import PROTECTED_ALIASES, Permission
from shipyard.security.principal import Principal

P = Permission


@dataclass(frozen=True)
class Rule:
    """What a route needs. ``anyone``: open (liveness/readiness, dashboard sign-in)."""

    permissions: tuple[Permission, ...] = ()
    anyone: bool = False
    model: str | None = None  # path parameter holding a model name
    deployment: str | None = None  # path parameter holding a deployment name

    @property
    def audited(self) -> bool:
        """Whether the route may change something the audit trail records (not predict)."""
        return self.permissions != (P.PREDICT,)

    def permission_for(self, params: dict[str, str]) -> tuple[Permission, ...]:
        if P.REGISTER in self.permissions and params.get("alias") in PROTECTED_ALIASES:
            return (P.SET_PROTECTED_ALIAS,)  # moving champion decides what production serves
        return self.permissions


OPEN = Rule(anyone=True)


def denial(
    principal: Principal,
    rule: Rule,
    params: dict[str, str],
    *,
    default_deployment: str | None = None,
) -> str | None:
    """Why ``principal`` may not use a route with this rule and these path parameters (None:
    it may). The server checks every request with it and the dashboard decides which
    buttons to show with it, so the two cannot disagree."""
    if rule.anyone:
        return None
    deployment = params.get(rule.deployment) if rule.deployment else None
    if rule.deployment and deployment is None:
        deployment = default_deployment  # the bare /invocations route
    model = params.get(rule.model) if rule.model else None
    reasons = []
    for permission in rule.permission_for(params):
        reason = principal.denial(permission, model=model, deployment=deployment)
        if reason is None:
            return None
        reasons.append(reason)
    return reasons[0] if reasons else "no permission allows this route"


def needs(
    *permissions: Permission, model: str | None = None, deployment: str | None = None
) -> Rule:
    return Rule(tuple(permissions), model=model, deployment=deployment)


ROUTES: dict[tuple[str, str], Rule] = {
    # liveness and readiness: the only open routes
    ("GET", "/health"): OPEN,
    ("GET", "/ping"): OPEN,
    ("GET", "/v2/health/live"): OPEN,
    ("GET", "/v2/health/ready"): OPEN,
    # documentation and server facts
    ("GET", "/openapi.json"): needs(P.READ),
    ("GET", "/docs"): needs(P.READ),
    ("GET", "/docs/oauth2-redirect"): needs(P.READ),
    ("GET", "/redoc"): needs(P.READ),
    ("GET", "/version"): needs(P.READ, P.PREDICT),
    ("GET", "/metrics"): needs(P.READ),
    # prediction protocols (the bare predict app) and their metadata
    ("POST", "/v1/deployments/{name}/predict"): needs(P.PREDICT, deployment="name"),
    ("POST", "/v1/deployments/{name}/invocations"): needs(P.PREDICT, deployment="name"),
    ("POST", "/invocations"): needs(P.PREDICT, deployment="name"),
    ("POST", "/v2/models/{name}/infer"): needs(P.PREDICT, deployment="name"),
    ("POST", "/v2/models/{name}/versions/{version}/infer"): needs(P.PREDICT, deployment="name"),
    # explanations: whoever may predict on a deployment may explain its predictions
    ("POST", "/v1/deployments/{name}/explain"): needs(P.PREDICT, deployment="name"),
    ("POST", "/v1/models/{name}:explain"): needs(P.PREDICT, deployment="name"),
    ("POST", "/v2/models/{name}/explain"): needs(P.PREDICT, deployment="name"),
    ("POST", "/v1/deployments/{name}/feedback"): needs(P.FEEDBACK, deployment="name"),
    ("GET", "/v2"): needs(P.PREDICT, P.READ),
    ("GET", "/v2/models/{name}"): needs(P.PREDICT, P.READ, deployment="name"),
    ("GET", "/v2/models/{name}/ready"): needs(P.PREDICT, P.READ, deployment="name"),
    ("GET", "/v2/models/{name}/versions/{version}"): needs(P.PREDICT, P.READ, deployment="name"),
    ("GET", "/v2/models/{name}/versions/{version}/ready"): needs(
        P.PREDICT, P.READ, deployment="name"
    ),
    # deployments
    ("GET", "/api/deployments"): needs(P.READ),
    ("POST", "/api/deployments"): needs(P.DEPLOY),
    ("GET", "/api/deployments/{name}"): needs(P.READ, deployment="name"),
    ("PATCH", "/api/deployments/{name}"): needs(P.DEPLOY, deployment="name"),
    ("DELETE", "/api/deployments/{name}"): needs(P.DEPLOY, deployment="name"),
    ("PUT", "/api/deployments/{name}/policy"): needs(P.DEPLOY, deployment="name"),
    ("POST", "/api/deployments/{name}/switch"): needs(P.DEPLOY, deployment="name"),
    ("GET", "/api/deployments/{name}/drift"): needs(P.READ_PREDICTIONS, deployment="name"),
    ("GET", "/api/deployments/{name}/quality"): needs(P.READ_PREDICTIONS, deployment="name"),
    # registry
    ("GET", "/api/models"): needs(P.READ),
    ("GET", "/api/models/{name}"): needs(P.READ, model="name"),
    ("GET", "/api/models/{name}/versions"): needs(P.READ, model="name"),
    ("GET", "/api/models/{name}/versions/{version}"): needs(P.READ, model="name"),
    ("PUT", "/api/models/{name}/aliases/{alias}"): needs(P.REGISTER, model="name"),
    ("DELETE", "/api/models/{name}/aliases/{alias}"): needs(P.REGISTER, model="name"),
    # A/B experiments (a report reads outcomes and logged predictions)
    ("GET", "/api/ab"): needs(P.READ),
    ("POST", "/api/ab"): needs(P.DEPLOY),
    ("GET", "/api/ab/{name}"): needs(P.READ),
    ("GET", "/api/ab/{name}/report"): needs(P.READ_PREDICTIONS),
    ("POST", "/api/ab/{name}/stop"): needs(P.DEPLOY),
    ("POST", "/api/ab/{name}/promote"): needs(P.DEPLOY),
    # rollouts
    ("GET", "/api/rollouts"): needs(P.READ),
    ("POST", "/api/rollouts"): needs(P.DEPLOY),
    ("GET", "/api/rollouts/{rollout_id}"): needs(P.READ),
    ("POST", "/api/rollouts/{rollout_id}/{action}"): needs(P.DEPLOY),
    # monitoring
    ("GET", "/api/monitors"): needs(P.READ),
    ("POST", "/api/monitors/{name}"): needs(P.DEPLOY),
    ("POST", "/api/monitors/{name}/run"): needs(P.DEPLOY),
    ("GET", "/api/monitors/{name}/results"): needs(P.READ),
    ("GET", "/api/alerts"): needs(P.READ),
    # pipelines
    ("GET", "/api/pipelines"): needs(P.READ),
    ("GET", "/api/pipelines/{name}/runs"): needs(P.READ),
    ("POST", "/api/pipelines/{name}/runs"): needs(P.RUN_PIPELINES),
    ("GET", "/api/pipeline-runs/{run_id}"): needs(P.READ),
    ("POST", "/api/pipeline-runs/{run_id}/{action}"): needs(P.RUN_PIPELINES),
    # batch jobs: running one makes the server read and write files, like a pipeline
    ("GET", "/api/batch-jobs"): needs(P.READ),
    ("POST", "/api/batch-jobs"): needs(P.RUN_PIPELINES),
    ("GET", "/api/batch-jobs/{name}"): needs(P.READ),
    # webhooks carry secrets and send data out: admins only
    ("GET", "/api/webhooks"): needs(P.MANAGE_WEBHOOKS),
    ("POST", "/api/webhooks"): needs(P.MANAGE_WEBHOOKS),
    ("DELETE", "/api/webhooks/{webhook_id}"): needs(P.MANAGE_WEBHOOKS),
    # the dashboard (server/ui): pages need the read permission of what they show, buttons
    # the permission of the matching control API operation; signing in and out, the
    # redirect from / and the vendored static files are open (they reveal nothing)
    ("GET", "/"): OPEN,
    ("GET", "/ui/login"): OPEN,
    ("POST", "/ui/login"): OPEN,
    ("POST", "/ui/logout"): OPEN,
    ("GET", "/ui/static/{path:path}"): OPEN,
    ("GET", "/favicon.ico"): OPEN,
    ("GET", "/ui"): needs(P.READ),
    ("GET", "/ui/deployments/{name}"): needs(P.READ, deployment="name"),
    ("GET", "/ui/rollouts/{deployment}"): needs(P.READ, deployment="deployment"),
    ("POST", "/ui/rollouts/{deployment}/{action}"): needs(P.DEPLOY, deployment="deployment"),
    ("GET", "/ui/pipelines"): needs(P.READ),
    ("GET", "/ui/pipelines/runs/{run_id}"): needs(P.READ),
    ("POST", "/ui/pipelines/runs/{run_id}/{action}"): needs(P.RUN_PIPELINES),
    ("GET", "/ui/audit"): needs(P.MANAGE_ACCESS),  # as `shipyard audit log` and verify
    ("GET", "/ui/runs"): needs(P.READ),
    ("GET", "/ui/runs/compare"): needs(P.READ),
    ("GET", "/ui/runs/{run_id}"): needs(P.READ),
    ("GET", "/ui/models"): needs(P.READ),
    ("GET", "/ui/models/{name}"): needs(P.READ, model="name"),
    ("GET", "/ui/models/{name}/versions/{version}"): needs(P.READ, model="name"),
    ("GET", "/ui/datasets"): needs(P.READ),
    ("GET", "/ui/datasets/{name}"): needs(P.READ),
    ("GET", "/ui/monitoring"): needs(P.READ),
    ("GET", "/ui/monitoring/{deployment}"): needs(P.READ_PREDICTIONS, deployment="deployment"),
    # artifacts by hash (the remote SDK's uploads and downloads)
    ("GET", "/api/artifacts/{sha256}"): needs(P.READ),
    ("PUT", "/api/artifacts/{sha256}"): needs(P.WRITE_RUNS, P.REGISTER),
    ("POST", "/api/uploads"): needs(P.WRITE_RUNS, P.REGISTER),
    ("GET", "/api/uploads/{upload_id}"): needs(P.WRITE_RUNS, P.REGISTER),
    ("PUT", "/api/uploads/{upload_id}"): needs(P.WRITE_RUNS, P.REGISTER),
    ("POST", "/api/uploads/{upload_id}/commit"): needs(P.WRITE_RUNS, P.REGISTER),
}


def _operation_routes() -> dict[tuple[str, str], Rule]:
    """Every ``@operation`` of the Client: the permission it declares, narrowed by the
    model or deployment argument its route carries in the path."""
    from shipyard.sdk.client import Client
    from shipyard.sdk.operations import operations_of

    return {
        ("POST", op.path): needs(*op.permissions, model=op.model, deployment=op.deployment)
        for op in operations_of(Client).values()
    }


ROUTES.update(_operation_routes())

# MLflow's tracking API (server/mlflow_api), the same under /api/2.0 and /ajax-api/2.0.
# Registered-model names travel in the body: a narrowed token is refused here (no path
# parameter to check it against) and the handlers check protected aliases themselves.
_MLFLOW_READ = needs(P.READ)
_MLFLOW_RUNS = needs(P.WRITE_RUNS)
_MLFLOW_REGISTER = needs(P.REGISTER)
_MLFLOW: dict[tuple[str, str], Rule] = {
    ("GET", "/mlflow/experiments/get-by-name"): _MLFLOW_READ,
    ("POST", "/mlflow/experiments/create"): _MLFLOW_RUNS,
    ("GET", "/mlflow/experiments/get"): _MLFLOW_READ,
    ("POST", "/mlflow/experiments/search"): _MLFLOW_READ,
    ("GET", "/mlflow/experiments/search"): _MLFLOW_READ,
    ("POST", "/mlflow/experiments/delete"): _MLFLOW_RUNS,
    ("POST", "/mlflow/experiments/restore"): _MLFLOW_RUNS,
    ("POST", "/mlflow/experiments/update"): _MLFLOW_RUNS,
    ("POST", "/mlflow/experiments/set-experiment-tag"): _MLFLOW_RUNS,
    ("POST", "/mlflow/experiments/delete-experiment-tag"): _MLFLOW_RUNS,
    ("POST", "/mlflow/runs/create"): _MLFLOW_RUNS,
    ("POST", "/mlflow/runs/update"): _MLFLOW_RUNS,
    ("POST", "/mlflow/runs/delete"): _MLFLOW_RUNS,
    ("POST", "/mlflow/runs/restore"): _MLFLOW_RUNS,
    ("GET", "/mlflow/runs/get"): _MLFLOW_READ,
    ("POST", "/mlflow/runs/log-metric"): _MLFLOW_RUNS,
    ("POST", "/mlflow/runs/log-parameter"): _MLFLOW_RUNS,
    ("POST", "/mlflow/runs/set-tag"): _MLFLOW_RUNS,
    ("POST", "/mlflow/runs/delete-tag"): _MLFLOW_RUNS,
    ("POST", "/mlflow/runs/log-batch"): _MLFLOW_RUNS,
    ("POST", "/mlflow/runs/log-model"): _MLFLOW_RUNS,
    ("POST", "/mlflow/runs/log-inputs"): _MLFLOW_RUNS,
    ("POST", "/mlflow/runs/outputs"): _MLFLOW_RUNS,
    ("POST", "/mlflow/runs/search"): _MLFLOW_READ,
    ("GET", "/mlflow/metrics/get-history"): _MLFLOW_READ,
    ("GET", "/mlflow/artifacts/list"): _MLFLOW_READ,
    ("POST", "/mlflow/logged-models"): _MLFLOW_RUNS,
    ("POST", "/mlflow/logged-models/search"): _MLFLOW_READ,
    ("GET", "/mlflow/logged-models/{model_id}"): _MLFLOW_READ,
    ("PATCH", "/mlflow/logged-models/{model_id}"): _MLFLOW_RUNS,
    ("DELETE", "/mlflow/logged-models/{model_id}"): _MLFLOW_RUNS,
    ("PATCH", "/mlflow/logged-models/{model_id}/tags"): _MLFLOW_RUNS,
    ("DELETE", "/mlflow/logged-models/{model_id}/tags/{tag_key}"): _MLFLOW_RUNS,
    ("POST", "/mlflow/logged-models/{model_id}/params"): _MLFLOW_RUNS,
    ("GET", "/mlflow/logged-models/{model_id}/artifacts/directories"): _MLFLOW_READ,
    ("POST", "/mlflow/registered-models/create"): _MLFLOW_REGISTER,
    ("GET", "/mlflow/registered-models/get"): _MLFLOW_READ,
    ("GET", "/mlflow/registered-models/search"): _MLFLOW_READ,
    ("PATCH", "/mlflow/registered-models/update"): _MLFLOW_REGISTER,
    ("POST", "/mlflow/registered-models/rename"): _MLFLOW_REGISTER,
    ("DELETE", "/mlflow/registered-models/delete"): _MLFLOW_REGISTER,
    ("POST", "/mlflow/registered-models/get-latest-versions"): _MLFLOW_READ,
    ("GET", "/mlflow/registered-models/get-latest-versions"): _MLFLOW_READ,
    ("POST", "/mlflow/registered-models/set-tag"): _MLFLOW_REGISTER,
    ("DELETE", "/mlflow/registered-models/delete-tag"): _MLFLOW_REGISTER,
    ("POST", "/mlflow/registered-models/alias"): _MLFLOW_REGISTER,
    ("DELETE", "/mlflow/registered-models/alias"): _MLFLOW_REGISTER,
    ("GET", "/mlflow/registered-models/alias"): _MLFLOW_READ,
    ("POST", "/mlflow/model-versions/create"): _MLFLOW_REGISTER,
    ("GET", "/mlflow/model-versions/get"): _MLFLOW_READ,
    ("PATCH", "/mlflow/model-versions/update"): _MLFLOW_REGISTER,
    ("POST", "/mlflow/model-versions/transition-stage"): _MLFLOW_REGISTER,
    ("DELETE", "/mlflow/model-versions/delete"): _MLFLOW_REGISTER,
    ("GET", "/mlflow/model-versions/search"): _MLFLOW_READ,
    ("GET", "/mlflow/model-versions/get-download-uri"): _MLFLOW_READ,
    ("POST", "/mlflow/model-versions/set-tag"): _MLFLOW_REGISTER,
    ("DELETE", "/mlflow/model-versions/delete-tag"): _MLFLOW_REGISTER,
    # the artifact proxy: every byte a client uploads or downloads
    ("GET", "/mlflow-artifacts/artifacts"): _MLFLOW_READ,
    ("GET", "/mlflow-artifacts/artifacts/{path:path}"): _MLFLOW_READ,
    ("PUT", "/mlflow-artifacts/artifacts/{path:path}"): _MLFLOW_RUNS,
    ("DELETE", "/mlflow-artifacts/artifacts/{path:path}"): _MLFLOW_RUNS,
}
ROUTES.update(
    {
        (method, prefix + path): rule
        for (method, path), rule in _MLFLOW.items()
        for prefix in ("/api/2.0", "/ajax-api/2.0")
    }
)
