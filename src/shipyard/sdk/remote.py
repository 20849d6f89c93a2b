"""The SDK's remote back end: operations sent to a central ``shipyard serve``.

A remote client holds a URL and a token, never store or object-store
credentials. Each ``@operation`` becomes one ``POST /api/ops/<name>`` whose
body and answer are the method's arguments and result as its type hints
describe them (pydantic does both directions). Artifacts travel by hash:
``RemoteArtifactStore`` is the artifact store seen over HTTP, so packaging a
model, loading one (every file verified, cached by hash) and logging a file
run the same code as the direct back end.

A call that cannot reach the server (connection refused or lost, 502/503/504)
is retried with exponential backoff. Reads and content-addressed uploads are
retried on any such failure; other operations only when the request cannot
have been processed (no connection, 503), so a timeout never registers a
version twice. Run metrics are at least once: a batch whose answer was lost
is kept in the run's buffer and sent again.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from pydantic import TypeAdapter

from shipyard.config import HttpSettings, RemoteSettings, StoreSettings
from shipyard.errors import (
    Conflict,
    IntegrityError,
    InvalidInput,
    NotFound,
    ShipyardError,
    StoreError,
)
from shipyard.http import http_client
from shipyard.sdk.operations import Operation
from shipyard.security.permissions import Permission
from shipyard.store.artifacts import ArtifactRef, ArtifactStore, sha256_file

logger = logging.getLogger(__name__)

PARQUET = "application/vnd.apache.parquet"
_READS = frozenset({Permission.READ, Permission.READ_PREDICTIONS})
_RETRY_STATUSES = frozenset({502, 503, 504})
_COPY_CHUNK = 1 << 20


class AccessDenied(ShipyardError):
    """The server refused the token (401) or the operation for this token (403)."""


class ServerUnavailable(StoreError):
    """The server could not be reached, even after retrying."""


def error_from(response: httpx.Response) -> ShipyardError:
    """The server's ``{"error": {"type", "message"}}`` as the matching Shipyard error."""
    try:
        body = response.json()
        message = str(body["error"]["message"])
    except (ValueError, KeyError, TypeError):
        message = response.text[:500] or response.reason_phrase
    status = response.status_code
    if status in (401, 403):
        return AccessDenied(f"{status}: {message}")
    if status == 404:
        return NotFound(message)
    if status == 409:
        return Conflict(message)
    if status in (400, 413, 422):
        return InvalidInput(message)
    return ShipyardError(f"server error {status}: {message}")


class RemoteBackend:
    """One HTTP connection pool to the server, with retries and error mapping."""

    def __init__(
        self,
        url: str,
        token: str | None,
        *,
        settings: RemoteSettings | None = None,
        http: HttpSettings | None = None,
        cache_dir: Path | None = None,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise InvalidInput(f"SHIPYARD_URL must start with http:// or https://, got {url!r}")
        self.url = url.rstrip("/")
        self.settings = settings or RemoteSettings()
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        http = http or HttpSettings()
        timeout = httpx.Timeout(http.http_timeout_s, read=max(http.http_timeout_s, 600.0))
        self.http = http_client(http, base_url=self.url, headers=headers, timeout=timeout)
        self.artifacts = RemoteArtifactStore(self, self.settings.upload_chunk_bytes, cache_dir)
        self._adapters: dict[tuple[str, str], TypeAdapter[Any]] = {}

    def close(self) -> None:
        self.http.close()

    # -- transport -----------------------------------------------------------------
    def request(
        self, method: str, path: str, *, retry_any: bool = True, **kwargs: Any
    ) -> httpx.Response:
        """One call, retried while the server is unreachable; errors become ours."""
        tries = 0
        while True:
            tries += 1
            try:
                response = self.http.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                if self._again(tries, _unsent(exc) or retry_any, method, path, exc):
                    continue
                raise self._unavailable(tries, exc) from exc
            status = response.status_code
            if status in _RETRY_STATUSES and self._again(
                tries, status == 503 or retry_any, method, path, status
            ):
                continue
            if status >= 400:
                raise error_from(response)
            return response

    @contextmanager
    def download(self, path: str) -> Iterator[httpx.Response]:
        """A streamed GET, retried until the answer starts."""
        tries = 0
        started = False
        while True:
            tries += 1
            try:
                with self.http.stream("GET", path) as response:
                    status = response.status_code
                    if status in _RETRY_STATUSES and self._again(tries, True, "GET", path, status):
                        continue
                    if status >= 400:
                        response.read()
                        raise error_from(response)
                    started = True
                    yield response
                    return
            except httpx.TransportError as exc:
                if not started and self._again(tries, True, "GET", path, exc):
                    continue
                raise self._unavailable(tries, exc) from exc

    def _again(self, tries: int, allowed: bool, method: str, path: str, cause: object) -> bool:
        """Whether to try once more (after sleeping the backoff)."""
        if not allowed or tries > self.settings.http_retries:
            return False
        delay = min(0.5 * 2 ** (tries - 1), 30.0)
        logger.warning(
            "%s %s%s failed (%s); retrying in %.1f s", method, self.url, path, cause, delay
        )
        time.sleep(delay)
        return True

    def _unavailable(self, tries: int, exc: httpx.TransportError) -> ServerUnavailable:
        return ServerUnavailable(
            f"cannot reach {self.url} ({type(exc).__name__}: {exc}) after {tries} "
            "attempt(s); nothing logged was dropped: the call can be repeated"
        )

    # -- operations ----------------------------------------------------------------
    def call(self, op: Operation, arguments: dict[str, Any]) -> Any:
        body: dict[str, Any] = {}
        path = op.path
        for name, value in arguments.items():
            if name in op.path_params:
                path = path.replace(f"{{{name}}}", _path_segment(name, value))
            elif name in op.uploads:
                body[name] = self._upload_argument(value)
            elif name in op.hints and not _is_local_callback(op, name):
                body[name] = self._adapter(op, name).dump_python(value, mode="json")
        response = self.request("POST", path, json=body, retry_any=set(op.permissions) <= _READS)
        if response.headers.get("content-type", "").startswith(PARQUET):
            import pandas as pd

            return pd.read_parquet(io.BytesIO(response.content))
        if op.hints.get("return") is None:
            return None
        return self._adapter(op, "return").validate_python(response.json())

    def _adapter(self, op: Operation, name: str) -> TypeAdapter[Any]:
        key = (op.name, name)
        adapter = self._adapters.get(key)
        if adapter is None:
            adapter = self._adapters[key] = TypeAdapter(op.hints[name])
        return adapter

    def _upload_argument(self, value: Any) -> dict[str, Any] | None:
        """A DataFrame, file or folder uploaded by hash; anything else passed as a value."""
        if value is None:
            return None
        import pandas as pd

        if isinstance(value, list | dict) or type(value).__name__ == "ndarray":
            value = pd.DataFrame(value)  # records or a matrix travel as a table
        if isinstance(value, pd.DataFrame):
            with tempfile.TemporaryDirectory(prefix="shipyard-upload-") as temp:
                target = Path(temp) / "data.parquet"
                value.to_parquet(target, index=False)
                ref = self.artifacts.put_file(target)
            return {"kind": "file", "sha256": ref.sha256, "name": "data.parquet"}
        if isinstance(value, str | os.PathLike) and not str(value).startswith(
            ("datasets:/", "models:/", "runs:/")
        ):
            local = Path(value)
            if local.is_dir():
                return {
                    "kind": "tree",
                    "sha256": self.artifacts.put_tree(local).sha256,
                    "name": local.name,
                }
            if local.is_file():
                return {
                    "kind": "file",
                    "sha256": self.artifacts.put_file(local).sha256,
                    "name": local.name,
                }
            raise InvalidInput(f"{str(value)!r} is not a file or folder on this machine")
        if isinstance(value, str):
            return {"kind": "value", "value": value}  # a datasets:/, models:/ or runs:/ URI
        raise InvalidInput(
            f"cannot send a {type(value).__name__} as data: pass a DataFrame, records, "
            "or a file or folder path"
        )


def _unsent(exc: httpx.TransportError) -> bool:
    """Whether the request certainly never reached the server (safe to repeat anything)."""
    return isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)


def _path_segment(name: str, value: Any) -> str:
    text = str(value)
    if not text or "/" in text:
        raise InvalidInput(f"{name} must be a non-empty name without '/', got {text!r}")
    return text


def _is_local_callback(op: Operation, name: str) -> bool:
    return name not in op.wire_names


class RemoteArtifactStore(ArtifactStore):
    """The server's artifact store over HTTP: the same content-addressed interface
    (``put_file``, ``put_tree``, ``open_tree``, ``copy_to``), every download verified
    against its hash and kept in ``cache_dir/objects`` (re-verified on every use, so a
    changed cached copy is fetched again), files larger than a chunk uploaded resumably."""

    def __init__(
        self, backend: RemoteBackend, chunk_bytes: int, cache_dir: Path | None = None
    ) -> None:
        self.backend = backend
        self.chunk_bytes = chunk_bytes
        self.objects = None if cache_dir is None else cache_dir / "objects"
        self.url = f"{backend.url}/api/artifacts"
        self.keyring = None
        self.is_local = False
        self.root = ""

    def exists(self, sha256: str) -> bool:
        self.key(sha256)  # refuse a malformed digest before any call
        try:
            self.backend.request("HEAD", f"/api/artifacts/{sha256}")
        except NotFound:
            return False
        return True

    def put_bytes(self, data: bytes, *, sha256: str | None = None) -> ArtifactRef:
        sha = sha256 or hashlib.sha256(data).hexdigest()
        if not self.exists(sha):
            self.backend.request("PUT", f"/api/artifacts/{sha}", content=data)
        return ArtifactRef(sha, len(data))

    def put_file(self, path: str | os.PathLike[str], *, sha256: str | None = None) -> ArtifactRef:
        source = Path(path)
        if not source.is_file():
            raise InvalidInput(f"artifact path {str(source)!r} is not a readable file")
        ref = ArtifactRef(sha256 or sha256_file(source), source.stat().st_size)
        if self.exists(ref.sha256):
            return ref
        if ref.size <= self.chunk_bytes:
            self.backend.request("PUT", f"/api/artifacts/{ref.sha256}", content=source.read_bytes())
        else:
            self._upload_in_chunks(source, ref)
        return ref

    def _upload_in_chunks(self, source: Path, ref: ArtifactRef) -> None:
        """A resumable upload: the server keeps what arrived; after a lost connection the
        client asks where it stands and goes on from there."""
        session = self.backend.request(
            "POST", "/api/uploads", json={"sha256": ref.sha256, "size": ref.size}
        ).json()
        upload, offset = session["id"], int(session["offset"])
        with open(source, "rb") as handle:
            while offset < ref.size:
                handle.seek(offset)
                chunk = handle.read(self.chunk_bytes)
                try:
                    answer = self.backend.request(
                        "PUT", f"/api/uploads/{upload}", params={"offset": offset}, content=chunk
                    )
                except (Conflict, ServerUnavailable):
                    answer = self.backend.request("GET", f"/api/uploads/{upload}")
                offset = int(answer.json()["offset"])
        self.backend.request("POST", f"/api/uploads/{upload}/commit")

    def get_bytes(self, sha256: str) -> bytes:
        self.key(sha256)
        cached = self._cached(sha256)
        if cached is not None:
            return cached.read_bytes()
        data = self.backend.request("GET", f"/api/artifacts/{sha256}").content
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256:
            raise IntegrityError(f"{self.url}/{sha256}", sha256, actual)
        if self.objects is not None:
            self._keep(sha256, data)
        return data

    def _cached(self, sha256: str) -> Path | None:
        """The cached copy, if there is one with exactly these bytes."""
        if self.objects is None:
            return None
        path = self.objects / sha256[:2] / sha256[2:]
        try:
            return path if sha256_file(path) == sha256 else None
        except FileNotFoundError:
            return None

    def _keep(self, sha256: str, data: bytes) -> None:
        assert self.objects is not None
        path = self.objects / sha256[:2] / sha256[2:]
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        temp.write_bytes(data)
        os.replace(temp, path)

    def copy_to(self, sha256: str, destination: Path) -> None:
        self.key(sha256)
        cached = self._cached(sha256)
        if cached is not None:
            shutil.copyfile(cached, destination)
            return
        temp = destination.with_name(f".{destination.name}.{uuid.uuid4().hex}.tmp")
        digest = hashlib.sha256()
        try:
            with (
                self.backend.download(f"/api/artifacts/{sha256}") as response,
                open(temp, "wb") as target,
            ):
                for chunk in response.iter_bytes(_COPY_CHUNK):
                    digest.update(chunk)
                    target.write(chunk)
            if digest.hexdigest() != sha256:
                raise IntegrityError(f"{self.url}/{sha256}", sha256, digest.hexdigest())
            os.replace(temp, destination)
        finally:
            temp.unlink(missing_ok=True)

    def local_path(self, sha256: str) -> Path | None:
        return None

    def plaintext_dir(self, cache_dir: Path) -> Path:
        return cache_dir


class RemoteStore:
    """The parts of a ``Store`` a remote client has: artifacts over HTTP and local
    settings (where downloads are cached). Metadata is only reached through
    operations; anything else says so instead of failing obscurely."""

    #: A remote client loads models from the server's artifacts; baked image trees
    #: (``SHIPYARD_BAKED_MODELS``) belong to serving processes with store access.
    baked = None

    def __init__(self, artifacts: RemoteArtifactStore, settings: StoreSettings) -> None:
        self.artifacts = artifacts
        self.settings = settings

    def close(self) -> None:
        """Nothing to close: the backend owns the connection pool."""

    def __getattr__(self, name: str) -> Any:
        raise InvalidInput(
            f"the store's {name!r} is not reachable from a remote client "
            f"({self.artifacts.backend.url}); use the Client's methods, or run with store access"
        )
