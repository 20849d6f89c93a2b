"""``/api/ab``: A/B experiments, a thin adapter over ``Client.ab_*``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path

from shipyard.names import NAME_PATTERN
from shipyard.sdk.client import Client
from shipyard.server.control import client_of
from shipyard.server.errors import error_responses
from shipyard.server.schemas import (
    ExperimentCreate,
    ExperimentPromoted,
    ExperimentPublic,
    ExperimentStop,
    RolloutPlanIn,
    RolloutPublic,
)

ClientDep = Annotated[Client, Depends(client_of)]
ExperimentPath = Annotated[str, Path(pattern=NAME_PATTERN, max_length=128)]
router = APIRouter(prefix="/api", responses=error_responses(422), tags=["experiments"])


@router.post("/ab", status_code=201, responses=error_responses(400, 404, 409))
def start_experiment(body: ExperimentCreate, client: ClientDep) -> ExperimentPublic:
    """Set the deployment's A/B (or bandit) policy and record the experiment.
    409 while the deployment runs another experiment or a rollout."""
    arguments = body.model_dump()
    name = arguments.pop("name")
    return ExperimentPublic(**client.ab_start(name, **arguments).to_dict())


@router.get("/ab")
def list_experiments(
    client: ClientDep,
    deployment: str | None = None,
    status: Literal["running", "stopped"] | None = None,
) -> list[ExperimentPublic]:
    return [
        ExperimentPublic(**r.to_dict())
        for r in client.ab_list(deployment=deployment, status=status)
    ]


@router.get("/ab/{name}", responses=error_responses(404))
def get_experiment(name: ExperimentPath, client: ClientDep) -> ExperimentPublic:
    return ExperimentPublic(**client.ab_status(name).to_dict())


@router.get("/ab/{name}/report", responses=error_responses(404))
def experiment_report(name: ExperimentPath, client: ClientDep) -> dict[str, Any]:
    """Per arm and metric: count, mean, difference to the control with its interval and
    p-value; the sample-ratio check, guardrails and the decision."""
    return client.ab_report(name).to_dict()


@router.post("/ab/{name}/stop", responses=error_responses(404, 409))
def stop_experiment(
    name: ExperimentPath,
    client: ClientDep,
    body: Annotated[ExperimentStop | None, Body()] = None,
) -> ExperimentPublic:
    """Stop it; the deployment returns to the policy it had before."""
    reason = body.reason if body is not None else ""
    return ExperimentPublic(**client.ab_stop(name, reason=reason).to_dict())


@router.post("/ab/{name}/promote", responses=error_responses(400, 404, 409))
def promote_experiment(
    name: ExperimentPath,
    client: ClientDep,
    body: Annotated[RolloutPlanIn | None, Body()] = None,
) -> ExperimentPromoted:
    """Stop the experiment and start a canary rollout of its winner; 409 without a winner."""
    rollout = body.model_dump(exclude_none=True) if body is not None else None
    report, started = client.ab_promote(name, rollout=rollout)
    return ExperimentPromoted(
        report=report.to_dict(),
        rollout=RolloutPublic(**started.to_dict()) if started is not None else None,
    )
