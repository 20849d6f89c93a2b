"""The Pipelines pages: pipelines with their latest run, every run (paged), one run's steps,
logs and gate results, and the approve / reject buttons of a run waiting for approval.

Reads and decisions go through the same Client operations as ``shipyard pipelines ...``
(``pipeline_runs``, ``get_pipeline_run``, ``approve_pipeline_run``, ``reject_pipeline_run``);
the auth layer has already checked the control API's permission for each route."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from shipyard.errors import InvalidInput, NotFound, ShipyardError
from shipyard.sdk.client import Client
from shipyard.server.ui.rendering import read_form, render, render_error
from shipyard.server.ui.viewer import Viewer, check_csrf, viewer_of
from shipyard.store.pipeline_records import ACTIVE, ENDED, PipelineRunRecord, StepRecord

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
DECISIONS = ("approve", "reject")
#: A step's log is shown from its end: at most this many lines and characters.
LOG_LINES = 200
LOG_CHARS = 20_000
STATUSES = ACTIVE + ENDED


def page_number(text: str | None) -> int:
    """``?page=`` as a number from 1 (a bad one is the caller's mistake: 400)."""
    if text is None or text == "":
        return 1
    try:
        number = int(text)
    except ValueError:
        raise InvalidInput(f"page must be a whole number, got {text!r}") from None
    if number < 1:
        raise InvalidInput(f"page must be 1 or more, got {number}")
    return number


def run_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise NotFound(f"no pipeline run {text!r}: run ids are numbers") from None


def log_tail(logs: str) -> dict[str, Any]:
    """The end of a step's log, and how much of it was left out."""
    lines = logs.splitlines()
    kept = lines[-LOG_LINES:]
    text = "\n".join(kept)
    if len(text) > LOG_CHARS:
        text = text[-LOG_CHARS:]
    return {
        "text": text,
        "lines": len(lines),
        "cut": len(kept) < len(lines) or text != "\n".join(kept),
    }


def gate_of(step: StepRecord) -> dict[str, Any] | None:
    """A gate step's result (what ``pipelines.gate`` wrote: checks with value and bound)."""
    value = step.outputs.get("value")
    if isinstance(value, dict) and "passed" in value and "checks" in value:
        return value
    return None


@router.get("/ui/pipelines")
def pipelines_page(
    request: Request,
    pipeline: str | None = None,
    status: str | None = None,
    page: str | None = None,
) -> Response:
    """Every pipeline with its latest run, then the runs, newest first, a page at a time."""
    viewer = viewer_of(request)
    client: Client = request.app.state.client
    try:
        number = page_number(page)
        if status and status not in STATUSES:
            raise InvalidInput(f"unknown run status {status!r}; use one of {list(STATUSES)}")
        pipelines = client.list_pipelines()
        if pipeline and pipeline not in {p.name for p in pipelines}:
            raise NotFound(f"pipeline {pipeline!r} is not registered")
        runs = client.pipeline_runs(
            pipeline or None,
            status=status or None,
            limit=PAGE_SIZE + 1,  # one more: is there a next page?
            offset=(number - 1) * PAGE_SIZE,
        )
    except ShipyardError as error:
        return render_error(request, viewer, error)
    latest = {p.name: client.pipeline_runs(p.name, limit=1) for p in pipelines}
    triggers: dict[str, list[str]] = {}
    for trigger in client.pipeline_triggers():
        triggers.setdefault(trigger.pipeline, []).append(trigger.source)
    rows = [
        {
            "pipeline": p,
            "steps": [str(s.get("name")) for s in p.definition.get("steps", [])],
            "latest": latest[p.name][0] if latest[p.name] else None,
            "triggers": triggers.get(p.name, []),
        }
        for p in pipelines
    ]
    filters = {k: v for k, v in (("pipeline", pipeline), ("status", status)) if v}
    context = {
        "pipelines": rows,
        "runs": runs[:PAGE_SIZE],
        "page": number,
        "more": len(runs) > PAGE_SIZE,
        "filters": filters,
        "statuses": STATUSES,
        "cli": "shipyard pipelines runs"
        + (f" {pipeline}" if pipeline else "")
        + (f" --status {status}" if status else "")
        + f" --limit {PAGE_SIZE}"
        + (f" --offset {(number - 1) * PAGE_SIZE}" if number > 1 else ""),
    }
    return render(request, viewer, "pipelines.html", context)


@router.get("/ui/pipelines/runs/{run_id}")
def run_page(request: Request, run_id: str) -> Response:
    """One run: its steps with status, duration and the end of their logs, gate results,
    and approve / reject when it waits for approval and the viewer may decide."""
    viewer = viewer_of(request)
    client: Client = request.app.state.client
    try:
        record = client.get_pipeline_run(run_number(run_id))
    except ShipyardError as error:
        return render_error(request, viewer, error)
    return render(request, viewer, "pipeline_run.html", run_context(viewer, record))


def run_context(viewer: Viewer, record: PipelineRunRecord) -> dict[str, Any]:
    waiting = record.status == "awaiting_approval"
    buttons = [
        d
        for d in DECISIONS
        if waiting
        and viewer.can("POST", "/ui/pipelines/runs/{run_id}/{action}", run_id=str(record.id))
    ]
    steps = [
        {"step": s, "log": log_tail(s.logs) if s.logs else None, "gate": gate_of(s)}
        for s in record.steps
    ]
    return {
        "run": record,
        "params": {k: v for k, v in record.params.items() if not k.startswith("_")},
        "approval": record.params.get("_approval"),
        "steps": steps,
        "waiting": waiting,
        "buttons": buttons,
        "active": record.status in ACTIVE,
        "log_lines": LOG_LINES,
        "cli": f"shipyard pipelines show {record.id} --logs",
    }


@router.post("/ui/pipelines/runs/{run_id}/{action}")
async def decide_run(request: Request, run_id: str, action: str) -> Response:
    """approve or reject a run waiting for approval, as ``shipyard pipelines approve``."""
    viewer = viewer_of(request)
    try:
        form = await read_form(request)
        check_csrf(request, viewer, form)
        if action not in DECISIONS:
            raise NotFound(f"no pipeline run action {action!r}; use one of {list(DECISIONS)}")
        number = run_number(run_id)
        comment = form.get("comment", "").strip()[:1000]
        client: Client = request.app.state.client
        if action == "approve":
            client.approve_pipeline_run(number, comment=comment)
        else:
            client.reject_pipeline_run(number, comment=comment)
    except ShipyardError as error:
        return render_error(request, viewer, error)
    return RedirectResponse(f"/ui/pipelines/runs/{number}", status_code=303)
