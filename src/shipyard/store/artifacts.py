"""Content-addressed, verified artifact storage on any fsspec filesystem.

An object's key is the sha256 of its bytes: ``objects/ab/cdef…``. Writes go
to a temporary name and are renamed into place, so a reader never sees half
an object and a killed writer leaves only a stray temp file. Every read
re-hashes the bytes and refuses a mismatch. A folder (a model bundle) is
stored as its files plus a JSON manifest; the manifest's hash names the tree.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fsspec
from fsspec.implementations.local import LocalFileSystem

from shipyard.errors import IntegrityError, InvalidInput, StoreError

_CHUNK = 1 << 20
MANIFEST_KIND = "shipyard.tree/v1"


@dataclass(frozen=True)
class ArtifactRef:
    sha256: str
    size: int


def sha256_file(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class ArtifactStore:
    """Immutable blobs named by their sha256, on a local folder or an object store."""

    def __init__(self, url: str) -> None:
        try:
            self.fs, self.root = fsspec.core.url_to_fs(url)
        except (ValueError, ImportError) as exc:
            raise StoreError(f"cannot open artifact store {url!r}: {exc}") from exc
        self.url = url
        self.is_local = isinstance(self.fs, LocalFileSystem)
        self.root = self.root.rstrip("/")
        if self.is_local:
            os.makedirs(self.root, exist_ok=True)

    # -- keys -------------------------------------------------------------
    def key(self, sha256: str) -> str:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise InvalidInput(f"not a sha256 digest: {sha256!r}")
        return f"{self.root}/objects/{sha256[:2]}/{sha256[2:]}"

    def _temp_key(self) -> str:
        return f"{self.root}/tmp/{uuid.uuid4().hex}"

    def exists(self, sha256: str) -> bool:
        return bool(self.fs.exists(self.key(sha256)))

    # -- writes -----------------------------------------------------------
    def put_bytes(self, data: bytes, *, sha256: str | None = None) -> ArtifactRef:
        """Store bytes; pass ``sha256`` when the caller just computed it."""
        sha = sha256 or hashlib.sha256(data).hexdigest()
        ref = ArtifactRef(sha, len(data))
        if self._has_intact(ref):
            return ref
        temp = self._temp_key()
        self.fs.makedirs(temp.rsplit("/", 1)[0], exist_ok=True)
        with self.fs.open(temp, "wb") as handle:
            handle.write(data)
        self._publish(temp, ref)
        return ref

    def put_file(self, path: str | os.PathLike[str], *, sha256: str | None = None) -> ArtifactRef:
        """Store a file; pass ``sha256`` when the caller just computed it (large files)."""
        source = Path(path)
        if not source.is_file():
            raise InvalidInput(f"artifact path {str(source)!r} is not a readable file")
        ref = ArtifactRef(sha256 or sha256_file(source), source.stat().st_size)
        if self._has_intact(ref):
            return ref
        temp = self._temp_key()
        self.fs.makedirs(temp.rsplit("/", 1)[0], exist_ok=True)
        self.fs.put_file(str(source), temp)
        self._publish(temp, ref)
        return ref

    def _has_intact(self, ref: ArtifactRef) -> bool:
        key = self.key(ref.sha256)
        try:
            return bool(self.fs.size(key) == ref.size)
        except FileNotFoundError:
            return False

    def _publish(self, temp: str, ref: ArtifactRef) -> None:
        final = self.key(ref.sha256)
        self.fs.makedirs(final.rsplit("/", 1)[0], exist_ok=True)
        if self.is_local:
            os.replace(temp, final)  # atomic on one filesystem
        else:
            self.fs.mv(temp, final)

    # -- reads ------------------------------------------------------------
    def get_bytes(self, sha256: str) -> bytes:
        key = self.key(sha256)
        try:
            with self.fs.open(key, "rb") as handle:
                data: bytes = handle.read()
        except FileNotFoundError as exc:
            raise StoreError(f"artifact {sha256} is missing from {self.url}") from exc
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256:
            raise IntegrityError(key, sha256, actual)
        return data

    def copy_to(self, sha256: str, destination: Path) -> None:
        """Stream an object to a local file, verifying it; the file appears only if intact."""
        key = self.key(sha256)
        temp = destination.with_name(f".{destination.name}.{uuid.uuid4().hex}.tmp")
        digest = hashlib.sha256()
        try:
            with self.fs.open(key, "rb") as source, open(temp, "wb") as target:
                while chunk := source.read(_CHUNK):
                    digest.update(chunk)
                    target.write(chunk)
        except FileNotFoundError as exc:
            temp.unlink(missing_ok=True)
            raise StoreError(f"artifact {sha256} is missing from {self.url}") from exc
        if digest.hexdigest() != sha256:
            temp.unlink(missing_ok=True)
            raise IntegrityError(key, sha256, digest.hexdigest())
        os.replace(temp, destination)

    def verified_path(self, sha256: str, workdir: Path, name: str) -> Path:
        """A local file with exactly these bytes: the stored file itself when the store
        is a local folder (re-hashed first), else a verified copy at ``workdir/name``."""
        local = self.local_path(sha256)
        if local is None:
            target = workdir / name
            self.copy_to(sha256, target)
            return target
        try:
            actual = sha256_file(local)
        except FileNotFoundError as exc:
            raise StoreError(f"artifact {sha256} is missing from {self.url}") from exc
        if actual != sha256:
            raise IntegrityError(str(local), sha256, actual)
        return local

    def local_path(self, sha256: str) -> Path | None:
        """The object's own file when the store is a local folder (not verified)."""
        return Path(self.key(sha256)) if self.is_local else None

    # -- named files (logs: append-only, not content-addressed) -----------------
    def _named(self, relpath: str) -> str:
        if relpath.startswith("/") or ".." in relpath.split("/") or relpath.startswith("objects/"):
            raise InvalidInput(f"invalid artifact path {relpath!r}")
        return f"{self.root}/{relpath}"

    def put_path(self, relpath: str, data: bytes) -> None:
        """Write a named file atomically (temp + rename); readers never see half of it."""
        final = self._named(relpath)
        temp = self._temp_key()
        self.fs.makedirs(temp.rsplit("/", 1)[0], exist_ok=True)
        with self.fs.open(temp, "wb") as handle:
            handle.write(data)
        self.fs.makedirs(final.rsplit("/", 1)[0], exist_ok=True)
        if self.is_local:
            os.replace(temp, final)
        else:
            self.fs.mv(temp, final)

    def list_paths(self, prefix: str) -> list[str]:
        """Named files below ``prefix`` (relative paths, sorted)."""
        base = self._named(prefix.rstrip("/"))
        if not self.fs.exists(base):
            return []
        found = self.fs.find(base)
        start = len(self.root) + 1
        return sorted(path[start:] if path.startswith(self.root) else path for path in found)

    def read_path(self, relpath: str) -> bytes:
        with self.fs.open(self._named(relpath), "rb") as handle:
            data: bytes = handle.read()
            return data

    # -- trees (folders) ----------------------------------------------------
    def put_tree(self, folder: Path) -> ArtifactRef:
        """Store every file below ``folder``; return the manifest's reference."""
        files: dict[str, dict[str, Any]] = {}
        total = 0
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                ref = self.put_file(path)
                files[path.relative_to(folder).as_posix()] = {
                    "sha256": ref.sha256,
                    "size": ref.size,
                }
                total += ref.size
        manifest = json.dumps({"kind": MANIFEST_KIND, "files": files}, sort_keys=True).encode()
        ref = self.put_bytes(manifest)
        return ArtifactRef(ref.sha256, total)

    def open_tree(self, sha256: str) -> Tree:
        try:
            manifest = json.loads(self.get_bytes(sha256))
        except json.JSONDecodeError as exc:
            raise StoreError(f"artifact {sha256} is not a tree manifest") from exc
        if not isinstance(manifest, dict) or manifest.get("kind") != MANIFEST_KIND:
            raise StoreError(f"artifact {sha256} is not a tree manifest")
        return Tree(self, sha256, manifest["files"])


class Tree:
    """A stored folder: read single files verified, or materialize it locally."""

    def __init__(self, store: ArtifactStore, sha256: str, files: dict[str, dict[str, Any]]):
        self.store = store
        self.sha256 = sha256
        self.files = files

    def __iter__(self) -> Iterator[str]:
        return iter(self.files)

    def has(self, relpath: str) -> bool:
        return relpath in self.files

    def read_bytes(self, relpath: str) -> bytes:
        entry = self.files.get(relpath)
        if entry is None:
            raise StoreError(f"file {relpath!r} is not in artifact tree {self.sha256}")
        return self.store.get_bytes(entry["sha256"])

    def materialize(self, cache_dir: Path) -> Path:
        """A local folder with exactly these files, each verified on the way in.

        The folder is built under a temporary name and renamed into place; an
        existing cached copy is re-verified before it is trusted.
        """
        target = cache_dir / self.sha256
        if target.is_dir() and self._cached_copy_intact(target):
            return target
        cache_dir.mkdir(parents=True, exist_ok=True)
        building = cache_dir / f".{self.sha256}.{uuid.uuid4().hex}"
        try:
            for relpath, entry in self.files.items():
                destination = building / relpath
                destination.parent.mkdir(parents=True, exist_ok=True)
                self.store.copy_to(entry["sha256"], destination)
            if target.exists():
                shutil.rmtree(target, ignore_errors=True)
            try:
                os.replace(building, target)
            except OSError:  # another process won the race with an identical copy
                shutil.rmtree(building, ignore_errors=True)
        finally:
            if building.exists():
                shutil.rmtree(building, ignore_errors=True)
        return target

    def _cached_copy_intact(self, folder: Path) -> bool:
        for relpath, entry in self.files.items():
            path = folder / relpath
            if not path.is_file() or sha256_file(path) != entry["sha256"]:
                return False
        return True
