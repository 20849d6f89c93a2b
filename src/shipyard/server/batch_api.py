"""``/api/batch-jobs``: start batch jobs in the server process and follow them.

A job started here runs in a thread of this server (its workers are processes
started with ``forkserver``: this process has run models, and a forked copy of
its OpenMP runtime can hang), and counts its rows on this server's
``/metrics``. Input and output paths are the server's, and only inside its
batch folders (``SHIPYARD_BATCH_ROOTS``, default ``<home>/batch``); starting a
job needs ``run_pipelines``, the permission to make the server run work.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Annotated

from fastapi import APIRouter, Depends, Request

from shipyard.batch.job import BatchRequest, BatchRunner, new_job_name
from shipyard.errors import InvalidInput
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


def _run(runner: BatchRunner) -> None:
    try:
        runner.run()
    except Exception as exc:  # recorded on the job; the server goes on
        logger.warning("batch job %s stopped: %s", runner.name, exc)


def _inside(location: str, roots: list[str], what: str) -> None:
    """Callers name files on the server: only under the configured batch roots
    (``SHIPYARD_BATCH_ROOTS``), never elsewhere, and never by a relative path."""
    if "://" in location:
        allowed = any(location.startswith(root.rstrip("/") + "/") for root in roots)
    else:
        if not os.path.isabs(location):
            raise InvalidInput(f"{what} must be an absolute path on the server: {location!r}")
        real = os.path.realpath(location)
        allowed = any(
            real.startswith(os.path.realpath(root).rstrip(os.sep) + os.sep)
            for root in roots
            if "://" not in root
        )
    if not allowed:
        raise InvalidInput(
            f"{what} {location!r} is outside the server's batch folders {roots} "
            f"(set SHIPYARD_BATCH_ROOTS to allow more)"
        )


@router.get("/batch-jobs")
def list_batch_jobs(client: ClientDep, limit: Limit = 50) -> list[BatchJobPublic]:
    return [BatchJobPublic.model_validate(j.to_public()) for j in client.batch_jobs(limit=limit)]


@router.get("/batch-jobs/{name}", responses=error_responses(404))
def get_batch_job(name: NamePath, client: ClientDep) -> BatchJobPublic:
    return BatchJobPublic.model_validate(client.batch_job(name).to_public())


@router.post("/batch-jobs", status_code=202, responses=error_responses(400, 404, 409))
def start_batch_job(
    body: BatchJobCreate,
    request: Request,
    client: ClientDep,
    user: Annotated[str | None, Depends(caller)],
) -> BatchJobStarted:
    """Start (or resume, with the same ``job``) a batch job; follow it with GET. The
    target, the input files and their columns are checked before the answer (404/400)."""
    roots = request.app.state.batch_roots
    if not body.input.startswith("datasets:/"):
        _inside(body.input, roots, "input")
    _inside(body.output, roots, "output")
    job = BatchRequest(**{**body.model_dump(), "job": body.job or new_job_name()})
    runner = BatchRunner(
        client.store,
        job,
        actor=user or client.actor,
        metrics=request.app.state.batch_metrics,
        start_method="forkserver",
    )
    runner.check()
    threading.Thread(target=_run, args=(runner,), name=f"batch-{runner.name}", daemon=True).start()
    return BatchJobStarted(name=runner.name)
