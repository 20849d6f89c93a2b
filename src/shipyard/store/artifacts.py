"""Content-addressed, verified artifact storage on any fsspec filesystem.

An object's key is the sha256 of its bytes: ``objects/ab/cdef…``. Writes go
to a temporary name and are renamed into place, so a reader never sees half
an object and a killed writer leaves only a stray temp file. Every read
re-hashes the bytes and refuses a mismatch. A folder (a model bundle) is
stored as its files plus a JSON manifest; the manifest's hash names the tree.

With a keyring, every file is written sealed (store/encryption.py): the key is
still the plaintext's sha256 (dedup and verification unchanged), the bytes on
disk are AES-GCM segments that are authenticated on every read, and no method
hands out a path to an encrypted file. Files written before a key was set stay
readable as they are.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fsspec
from fsspec.implementations.local import LocalFileSystem

from shipyard.errors import IntegrityError, InvalidInput, ShipyardError, StoreError
from shipyard.store import encryption
from shipyard.store.encryption import Keyring, object_identity, path_identity

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

    def __init__(self, url: str, keyring: Keyring | None = None) -> None:
        try:
            self.fs, self.root = fsspec.core.url_to_fs(url)
        except (ValueError, ImportError) as exc:
            raise StoreError(f"cannot open artifact store {url!r}: {exc}") from exc
        self.url = url
        self.keyring = keyring
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
        temp = self._write_temp(data, object_identity(sha))
        self._publish(temp, ref)
        return ref

    def put_file(self, path: str | os.PathLike[str], *, sha256: str | None = None) -> ArtifactRef:
        """Store a file; pass ``sha256`` when the caller just computed it (large files)."""
        source = Path(path)
        if not source.is_file():
            raise InvalidInput(f"artifact path {str(source)!r} is not a readable file")
        if self.keyring is not None and self.is_local and sha256 is None:
            return self._seal_file_one_pass(source)
        ref = ArtifactRef(sha256 or sha256_file(source), source.stat().st_size)
        if self._has_intact(ref):
            return ref
        temp = self._temp_key()
        self.fs.makedirs(temp.rsplit("/", 1)[0], exist_ok=True)
        if self.keyring is None:
            self.fs.put_file(str(source), temp)
        else:
            with open(source, "rb") as handle:
                read = encryption.file_reader(handle)
                self._seal_to(temp, object_identity(ref.sha256), ref.size, read)
        self._publish(temp, ref)
        return ref

    def _seal_file_one_pass(self, source: Path) -> ArtifactRef:
        """Hash and encrypt in the same read of ``source``; the header, which binds the
        hash, is written last. An object already stored costs this one pass."""
        assert self.keyring is not None
        temp = self._temp_key()
        os.makedirs(temp.rsplit("/", 1)[0], exist_ok=True)
        digest = hashlib.sha256()
        try:
            with open(source, "rb") as handle, open(temp, "wb") as target:
                writer = encryption.SealWriter(os.fstat(handle.fileno()).st_size)
                read = encryption.file_reader(handle)
                target.seek(encryption.HEADER_SIZE)
                while not writer.done:
                    chunk = read(writer.next_size)
                    digest.update(chunk)
                    target.write(writer.segment(chunk))
                if handle.read(1):
                    raise InvalidInput(f"{str(source)!r} changed size while it was being stored")
                target.seek(0)
                identity = object_identity(digest.hexdigest())
                target.write(writer.header(self.keyring.primary, identity))
            ref = ArtifactRef(digest.hexdigest(), writer.size)
            if self._has_intact(ref):
                os.unlink(temp)
            else:
                self._publish(temp, ref)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        return ref

    def _write_temp(self, data: bytes, identity: bytes) -> str:
        """Write ``data`` (sealed when a key is set) to a fresh temp file; return its key."""
        temp = self._temp_key()
        self.fs.makedirs(temp.rsplit("/", 1)[0], exist_ok=True)
        if self.keyring is None:
            with self.fs.open(temp, "wb") as handle:
                handle.write(data)
        else:
            self._seal_to(temp, identity, len(data), _memory_reader(data))
        return temp

    def _seal_to(self, temp: str, identity: bytes, size: int, read: encryption.Reader) -> None:
        assert self.keyring is not None
        with self.fs.open(temp, "wb") as handle:
            for piece in encryption.seal(self.keyring, identity, size, read):
                handle.write(piece)

    def _has_intact(self, ref: ArtifactRef) -> bool:
        """Whether the object is already stored, judged by size (sealed size with a key)."""
        key = self.key(ref.sha256)
        expected = ref.size if self.keyring is None else encryption.sealed_size(ref.size)
        try:
            return bool(self.fs.size(key) == expected)
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
                sealed = encryption.is_sealed(handle.read(len(encryption.MAGIC)))
                handle.seek(0)
                if sealed:
                    return self._open_object_bytes(handle, sha256, key)
                data: bytes = handle.read()
        except FileNotFoundError as exc:
            raise StoreError(f"artifact {sha256} is missing from {self.url}") from exc
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256:
            raise IntegrityError(key, sha256, actual)
        return data

    def _open_object_bytes(self, handle: Any, sha256: str, key: str) -> bytes:
        """Decrypt and verify a whole object, hashing each segment while it is hot in cache.
        A plaintext object that merely starts with the magic bytes (an encrypted file
        stored as an artifact) is recognized by its hash."""
        digest = hashlib.sha256()
        try:
            read = encryption.file_reader(handle)
            reader = encryption.SealReader(self.keyring, object_identity(sha256), read, key)
            plaintext = reader.read_all(digest)
        except ShipyardError:
            handle.seek(0)
            raw: bytes = handle.read()
            if hashlib.sha256(raw).hexdigest() == sha256:
                return raw
            raise
        if digest.hexdigest() != sha256:
            raise IntegrityError(key, sha256, digest.hexdigest())
        return plaintext

    def copy_to(self, sha256: str, destination: Path) -> None:
        """Stream an object to a local file, verifying it; the file appears only if intact."""
        key = self.key(sha256)
        temp = destination.with_name(f".{destination.name}.{uuid.uuid4().hex}.tmp")
        try:
            actual = self._copy_plaintext(key, sha256, temp)
        except FileNotFoundError as exc:
            temp.unlink(missing_ok=True)
            raise StoreError(f"artifact {sha256} is missing from {self.url}") from exc
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        if actual != sha256:
            temp.unlink(missing_ok=True)
            raise IntegrityError(key, sha256, actual)
        os.replace(temp, destination)

    def _copy_plaintext(self, key: str, sha256: str, temp: Path) -> str:
        """Stream the object's plaintext (decrypted when sealed) to ``temp``; return its hash."""
        try:
            return self._stream_plaintext(key, sha256, temp)
        except ShipyardError:
            if self._raw_sha256(key) != sha256:
                raise
            return self._copy_raw(key, temp)  # a plaintext object that starts with the magic

    def _stream_plaintext(self, key: str, sha256: str, temp: Path) -> str:
        digest = hashlib.sha256()
        with self.fs.open(key, "rb") as source, open(temp, "wb") as target:
            sealed = encryption.is_sealed(source.read(len(encryption.MAGIC)))
            source.seek(0)
            if sealed:
                read = encryption.file_reader(source)
                reader = encryption.SealReader(self.keyring, object_identity(sha256), read, key)
                for segment in reader.segments():
                    digest.update(segment)
                    target.write(segment)
            else:
                while chunk := source.read(_CHUNK):
                    digest.update(chunk)
                    target.write(chunk)
        return digest.hexdigest()

    def _raw_sha256(self, key: str) -> str:
        digest = hashlib.sha256()
        with self.fs.open(key, "rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
        return digest.hexdigest()

    def _copy_raw(self, key: str, temp: Path) -> str:
        digest = hashlib.sha256()
        with self.fs.open(key, "rb") as source, open(temp, "wb") as target:
            while chunk := source.read(_CHUNK):
                digest.update(chunk)
                target.write(chunk)
        return digest.hexdigest()

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
        """The object's own file when the store is a local folder and the file is
        plaintext (not verified); ``None`` when the caller must copy (remote or sealed)."""
        if not self.is_local:
            return None
        path = Path(self.key(sha256))
        try:
            with open(path, "rb") as handle:
                if encryption.is_sealed(handle.read(len(encryption.MAGIC))):
                    return None
        except FileNotFoundError:
            pass  # reported by the caller that reads it
        return path

    def plaintext_dir(self, cache_dir: Path) -> Path:
        """Where decrypted copies may live: ``cache_dir`` for an unencrypted store, else a
        private folder of this process (0700, removed at exit), so a key-protected
        workspace never holds plaintext at rest."""
        return cache_dir if self.keyring is None else _private_plaintext_dir()

    # -- named files (logs: append-only, not content-addressed) -----------------
    def _named(self, relpath: str) -> str:
        if relpath.startswith("/") or ".." in relpath.split("/") or relpath.startswith("objects/"):
            raise InvalidInput(f"invalid artifact path {relpath!r}")
        return f"{self.root}/{relpath}"

    def put_path(self, relpath: str, data: bytes) -> None:
        """Write a named file atomically (temp + rename); readers never see half of it."""
        final = self._named(relpath)
        temp = self._write_temp(data, path_identity(relpath))
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

    def list_folders(self, prefix: str) -> list[str]:
        """The names of the folders directly below ``prefix`` (sorted): one listing of one
        level, whatever the number of files further down (on an object store, its common
        prefixes)."""
        base = self._named(prefix.rstrip("/"))
        if not self.fs.exists(base):
            return []
        return sorted(
            entry["name"].rstrip("/").rsplit("/", 1)[-1]
            for entry in self.fs.ls(base, detail=True)
            if entry["type"] == "directory"
        )

    def read_path(self, relpath: str) -> bytes:
        """A named file's bytes, decrypted and authenticated when it was written sealed."""
        path = self._named(relpath)
        with self.fs.open(path, "rb") as handle:
            data: bytes = handle.read()
        if encryption.is_sealed(data):
            read = _memory_reader(data)
            return encryption.SealReader(
                self.keyring, path_identity(relpath), read, path
            ).read_all()
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
        cache_dir = self.store.plaintext_dir(cache_dir)
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


def _memory_reader(data: bytes) -> encryption.Reader:
    """A ``read(n)`` over bytes without copying the whole buffer."""
    view = memoryview(data)
    position = 0

    def read(size: int) -> bytes:
        nonlocal position
        piece = view[position : position + size]
        position += len(piece)
        return piece  # type: ignore[return-value]  # AESGCM takes any buffer

    return read


_plaintext_lock = threading.Lock()
_plaintext_dirs: dict[int, Path] = {}


def _private_plaintext_dir() -> Path:
    """One 0700 temp folder per process for decrypted copies, removed at interpreter exit."""
    with _plaintext_lock:
        folder = _plaintext_dirs.get(os.getpid())  # a forked worker makes its own
        if folder is None:
            folder = Path(tempfile.mkdtemp(prefix="shipyard-decrypted-"))
            _plaintext_dirs[os.getpid()] = folder
            atexit.register(_remove_if_mine, folder, os.getpid())
        return folder


def _remove_if_mine(folder: Path, pid: int) -> None:
    """A forked child inherits the parent's exit hooks; only the creator removes its folder."""
    if os.getpid() == pid:
        shutil.rmtree(folder, ignore_errors=True)
