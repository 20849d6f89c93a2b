"""``/api/batch-jobs``: start batch jobs in the server process and follow them.

A job started here runs in a thread of this server (its workers are processes
started with ``forkserver``: this process has run models, and a forked copy of
its OpenMP runtime can hang), and counts its rows on this server's
``/metrics``. Input and output paths are the server's; starting a job needs
``run_pipelines``, the permission to make the server run work.
"""

from __future__ import annotations

import logging
import threading
from typing import Annotated

from fastapi import APIRouter, Depends, Request

from shipyard.batch.job import BatchRequest, new_job_name, run_batch
from shipyard.batch.metrics import BatchMetrics
from shipyard.sdk.client import Client
from shipyard.server.control import caller, client_of
from shipyard.server.errors import error_responses
from shipyard.server.schemas import (
    BatchJobCreate,
    BatchJobPublic,
    BatchJobStarted,
    Limit,
    NamePath,
)

logger = logging.getLogger(__name__)

ClientDep = Annotated[Client, Depends(client_of)]
router = APIRouter(prefix="/api", responses=error_responses(422), tags=["batch"])


def _run(client: Client, request: BatchRequest, actor: str, metrics: BatchMetrics) -> None:
    try:
        run_batch(client.store, request, actor=actor, metrics=metrics, start_method="forkserver")
    except Exception as exc:  # recorded on the job; the server goes on
        logger.warning("batch job %s stopped: %s", request.job, exc)


@router.get("/batch-jobs")
def list_batch_jobs(client: ClientDep, limit: Limit = 50) -> list[BatchJobPublic]:
    return [BatchJobPublic.model_validate(j.to_public()) for j in client.batch_jobs(limit=limit)]


@router.get("/batch-jobs/{name}", responses=error_responses(404))
def get_batch_job(name: NamePath, client: ClientDep) -> BatchJobPublic:
    return BatchJobPublic.model_validate(client.batch_job(name).to_public())


@router.post("/batch-jobs", status_code=202, responses=error_responses(400))
def start_batch_job(
    body: BatchJobCreate,
    request: Request,
    client: ClientDep,
    user: Annotated[str | None, Depends(caller)],
) -> BatchJobStarted:
    """Start (or resume, with the same ``job``) a batch job; follow it with GET."""
    job = BatchRequest(**{**body.model_dump(), "job": body.job or new_job_name()})
    thread = threading.Thread(
        target=_run,
        args=(client, job, user or client.actor, request.app.state.batch_metrics),
        name=f"batch-{job.job}",
        daemon=True,
    )
    thread.start()
    assert job.job is not None
    return BatchJobStarted(name=job.job)
