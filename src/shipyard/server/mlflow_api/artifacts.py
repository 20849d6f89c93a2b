"""The artifact proxy (``/api/2.0/mlflow-artifacts/artifacts/...``).

The client uploads and downloads every file here because the locations it is
given are ``mlflow-artifacts:/...``. An upload is streamed to a temporary file
(never held in memory) and stored content-addressed, encrypted when the store
is; a download is a verified copy; listing answers one folder level.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from shipyard.entities import RunArtifact
from shipyard.errors import InvalidInput
from shipyard.registry.mlflow_source import mlmodel_for
from shipyard.server.mlflow_api import wire
from shipyard.server.mlflow_api.routing import Args, Call, json_response, make_call, read_args
from shipyard.store import Store
from shipyard.tracking import mlflow_artifacts
from shipyard.tracking.mlflow_artifacts import Location

PREFIXES = ("/api/2.0/mlflow-artifacts", "/ajax-api/2.0/mlflow-artifacts")
_SYNTHETIC = "MLmodel"


def _files(store: Store, location: Location) -> tuple[list[RunArtifact], bytes | None]:
    """The owner's files, and the MLmodel written for a natively registered version."""
    files = mlflow_artifacts.files_of(store, location)
    if location.kind != "version":
        return files, None
    assert location.version is not None
    version = store.registry.get_version(location.owner, version=location.version)
    extra = mlmodel_for(version, store.artifacts.open_tree(version.sha256))
    if extra is not None:
        files.append(RunArtifact(_SYNTHETIC, "", len(extra)))
    return files, extra


def _list(call: Call) -> dict[str, Any]:
    path = call.args.optional_text("path")
    if not path:
        return {"files": []}
    location = mlflow_artifacts.parse_location(path)
    files, _ = _files(call.client.store, location)
    listed = mlflow_artifacts.list_folder(files, location.relpath)
    return {"files": wire.file_infos(listed)}


def _download(call: Call, path: str, workdir: Path) -> tuple[Path, str]:
    location = mlflow_artifacts.parse_location(path)
    if not location.relpath:
        raise InvalidInput("name a file to download; list a folder with ?path=")
    files, extra = _files(call.client.store, location)
    found = mlflow_artifacts.find_file(files, location.relpath)
    target = workdir / "file"
    if found.sha256 == "" and extra is not None:
        target.write_bytes(extra)
    else:
        call.client.store.artifacts.copy_to(found.sha256, target)  # verified
    return target, location.relpath.rsplit("/", 1)[-1]


def _upload(call: Call, path: str, source: Path) -> None:
    location = mlflow_artifacts.parse_location(path)
    mlflow_artifacts.put_file(call.client.store, location, source, actor=call.actor)


async def list_artifacts(request: Request) -> Response:
    call = make_call(request, await read_args(request))
    return json_response(await run_in_threadpool(_list, call))


async def download(request: Request) -> Response:
    call = make_call(request, await read_args(request))
    workdir = Path(tempfile.mkdtemp(prefix="shipyard-mlflow-get-"))
    try:
        target, name = await run_in_threadpool(
            _download, call, request.path_params["path"], workdir
        )
    except BaseException:
        _remove(workdir)
        raise
    return FileResponse(
        target,
        filename=name,
        media_type="application/octet-stream",
        background=BackgroundTask(_remove, workdir),
    )


async def upload(request: Request) -> Response:
    call = make_call(request, await read_args_without_body(request))
    handle, name = tempfile.mkstemp(prefix="shipyard-mlflow-put-")
    source = Path(name)
    try:
        with os.fdopen(handle, "wb") as out:
            async for chunk in request.stream():
                out.write(chunk)
        await run_in_threadpool(_upload, call, request.path_params["path"], source)
    finally:
        source.unlink(missing_ok=True)
    return json_response({})


async def refuse_delete(request: Request) -> Response:
    raise InvalidInput("artifacts are immutable in Shipyard: upload a file under a new path")


async def read_args_without_body(request: Request) -> Args:
    """The upload's query and path arguments (its body is the file, streamed)."""
    return Args({**dict(request.query_params), **request.path_params})


def _remove(folder: Path) -> None:
    for child in folder.iterdir():
        child.unlink(missing_ok=True)
    folder.rmdir()


def router() -> APIRouter:
    routes = APIRouter()
    for prefix in PREFIXES:
        routes.add_api_route(
            f"{prefix}/artifacts", list_artifacts, methods=["GET"], include_in_schema=False
        )
        for method, handler in (("GET", download), ("PUT", upload), ("DELETE", refuse_delete)):
            routes.add_api_route(
                f"{prefix}/artifacts/{{path:path}}",
                handler,
                methods=[method],
                include_in_schema=False,
            )
    return routes
