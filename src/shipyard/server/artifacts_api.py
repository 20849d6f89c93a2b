"""Artifacts by hash over HTTP: what the remote SDK uploads and downloads.

``PUT /api/artifacts/{sha256}`` stores a body whose hash must be the one named;
``GET`` answers a verified copy (a corrupt object is never sent). Files larger
than one request go through a resumable upload session: ``POST /api/uploads``,
``PUT /api/uploads/{id}?offset=N`` per chunk (a chunk at the wrong offset gets
409 and the offset the server has, so a client that lost a connection goes on
from there), ``POST /api/uploads/{id}/commit``. Sessions live under
``<home>/uploads`` (shared by the workers of one server; on several replicas,
a shared volume or sticky sessions), belong to the caller that opened them, and
are removed when committed or after a day. Bodies are streamed to disk, never
held whole in memory; what is stored is encrypted like any artifact.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.background import BackgroundTask

from shipyard.errors import Conflict, InvalidInput, NotFound
from shipyard.sdk.client import Client
from shipyard.server.errors import error_responses
from shipyard.store.audit_context import current_audit_context

SESSION_TTL_S = 24 * 3600
Sha256 = Annotated[str, PathParam(pattern=r"^[0-9a-f]{64}$")]
UploadId = Annotated[str, PathParam(pattern=r"^[0-9a-f]{32}$")]
MAX_UPLOAD_BYTES = 1 << 42

router = APIRouter(prefix="/api", tags=["artifacts"], responses=error_responses(400, 404, 422))


class StoredArtifact(BaseModel):
    sha256: str
    size: int


class UploadCreate(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="The whole file's sha256.")
    size: int = Field(ge=0, le=MAX_UPLOAD_BYTES, description="The whole file's size in bytes.")


class UploadState(BaseModel):
    id: str
    offset: int = Field(description="Bytes the server holds; the next chunk starts here.")
    size: int


def _client(request: Request) -> Client:
    return request.app.state.client


@router.head("/artifacts/{sha256}", responses=error_responses(404))
@router.get("/artifacts/{sha256}", responses=error_responses(404))
def download(sha256: Sha256, request: Request) -> Response:
    """The object's bytes, verified against its hash before the first byte is sent."""
    artifacts = _client(request).store.artifacts
    if not artifacts.exists(sha256):
        raise NotFound(f"no artifact {sha256}")
    if request.method == "HEAD":
        return Response(status_code=200)
    workdir = Path(tempfile.mkdtemp(prefix="shipyard-download-"))
    path = artifacts.verified_path(sha256, workdir, "object")
    cleanup = BackgroundTask(_remove_tree, workdir)
    return FileResponse(path, media_type="application/octet-stream", background=cleanup)


@router.put("/artifacts/{sha256}", status_code=201, responses=error_responses(400))
async def upload(sha256: Sha256, request: Request) -> StoredArtifact:
    """Store a whole file in one request; its bytes must hash to ``sha256``."""
    client = _client(request)
    workdir = Path(tempfile.mkdtemp(prefix="shipyard-upload-"))
    try:
        target = workdir / "object"
        digest, size = await _receive(request, target, mode="wb")
        if digest.hexdigest() != sha256:
            raise InvalidInput(
                f"the body hashes to {digest.hexdigest()}, not {sha256}: it was changed or cut "
                "on the way"
            )
        ref = client.store.artifacts.put_file(target, sha256=sha256)
        return StoredArtifact(sha256=ref.sha256, size=size)
    finally:
        _remove_tree(workdir)


@router.post("/uploads", status_code=201, responses=error_responses(400))
def open_upload(body: UploadCreate, request: Request) -> UploadState:
    """A resumable upload of one large file."""
    folder = _uploads(request)
    _expire(folder)
    upload_id = uuid.uuid4().hex
    meta = {"sha256": body.sha256, "size": body.size, "owner": _owner(), "created": time.time()}
    (folder / f"{upload_id}.json").write_text(json.dumps(meta))
    (folder / f"{upload_id}.part").touch()
    return UploadState(id=upload_id, offset=0, size=body.size)


@router.get("/uploads/{upload_id}", responses=error_responses(404))
def upload_state(upload_id: UploadId, request: Request) -> UploadState:
    meta, part = _session(request, upload_id)
    return UploadState(id=upload_id, offset=part.stat().st_size, size=meta["size"])


@router.put("/uploads/{upload_id}", responses=error_responses(400, 404, 409))
async def upload_chunk(
    upload_id: UploadId,
    request: Request,
    offset: Annotated[int, Query(ge=0, le=MAX_UPLOAD_BYTES)],
) -> UploadState:
    """Append a chunk at ``offset`` (409 with the server's offset if it is not the end)."""
    meta, part = _session(request, upload_id)
    held = part.stat().st_size
    if offset != held:
        raise Conflict(f"upload {upload_id} holds {held} bytes; send the chunk at offset {held}")
    _, size = await _receive(request, part, mode="ab", limit=int(meta["size"]) - held)
    return UploadState(id=upload_id, offset=held + size, size=meta["size"])


@router.post("/uploads/{upload_id}/commit", status_code=201, responses=error_responses(400, 404))
def commit_upload(upload_id: UploadId, request: Request) -> StoredArtifact:
    """Verify the whole file against the hash declared at the start and store it."""
    meta, part = _session(request, upload_id)
    held = part.stat().st_size
    if held != meta["size"]:
        raise InvalidInput(f"upload {upload_id} holds {held} of {meta['size']} bytes")
    digest = hashlib.sha256()
    with open(part, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    if digest.hexdigest() != meta["sha256"]:
        _discard(part)
        raise InvalidInput(
            f"upload {upload_id} hashes to {digest.hexdigest()}, not {meta['sha256']}; "
            "start it again"
        )
    ref = _client(request).store.artifacts.put_file(part, sha256=meta["sha256"])
    _discard(part)
    return StoredArtifact(sha256=ref.sha256, size=ref.size)


async def _receive(
    request: Request, target: Path, *, mode: str, limit: int | None = None
) -> tuple[hashlib._Hash, int]:
    digest = hashlib.sha256()
    size = 0
    with open(target, mode) as handle:
        async for chunk in request.stream():
            size += len(chunk)
            if limit is not None and size > limit:
                raise InvalidInput(f"the chunk runs past the declared size by {size - limit} bytes")
            digest.update(chunk)
            handle.write(chunk)
    return digest, size


def _uploads(request: Request) -> Path:
    folder = Path(_client(request).settings.home).resolve() / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _owner() -> str:
    return current_audit_context().actor or "local"


def _session(request: Request, upload_id: str) -> tuple[dict[str, Any], Path]:
    folder = _uploads(request)
    meta_path, part = folder / f"{upload_id}.json", folder / f"{upload_id}.part"
    try:
        meta = json.loads(meta_path.read_text())
    except FileNotFoundError:
        meta = None
    if meta is None or not part.exists() or meta.get("owner") != _owner():
        raise NotFound(f"no upload {upload_id} of yours (committed, expired or never opened)")
    return meta, part


def _discard(part: Path) -> None:
    part.unlink(missing_ok=True)
    part.with_suffix(".json").unlink(missing_ok=True)


def _expire(folder: Path) -> None:
    cutoff = time.time() - SESSION_TTL_S
    for meta in folder.glob("*.json"):
        try:
            if meta.stat().st_mtime < cutoff:
                _discard(meta.with_suffix(".part"))
        except FileNotFoundError:
            continue


def _remove_tree(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
