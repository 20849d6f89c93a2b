"""Walks every file under the artifact root: key inventory, key rotation, encrypting old files.

Rotation re-wraps each file's data key with the new key and rewrites only the
two header slots (in place on a local folder, one slot at a time with an fsync
between, so a crash leaves one slot that opens the file). Payload bytes are
never re-encrypted. It is idempotent: a file whose slots already hold the new
key is skipped, so an interrupted rotation is finished by running it again.
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from shipyard.errors import EncryptionKeyError
from shipyard.store import encryption
from shipyard.store.artifacts import ArtifactStore
from shipyard.store.encryption import Header, Key, Keyring

Progress = Callable[[int, int], None]
PLAINTEXT = "plaintext"


@dataclass(frozen=True)
class RotationReport:
    key_id: str
    rewrapped: int
    current: int
    plaintext: int


def stored_files(artifacts: ArtifactStore) -> list[tuple[str, bytes, str | None]]:
    """(fs path, identity, object sha256 or None) of every stored file, temp files excluded."""
    root = artifacts.root
    found: list[tuple[str, bytes, str | None]] = []
    if not artifacts.fs.exists(root):
        return found
    for path in sorted(artifacts.fs.find(root)):
        relpath = path[len(root) + 1 :] if path.startswith(root + "/") else path
        parts = relpath.split("/")
        if parts[0] == "tmp":
            continue
        if parts[0] == "objects" and len(parts) == 3:
            sha = parts[1] + parts[2]
            found.append((path, encryption.object_identity(sha), sha))
        else:
            found.append((path, encryption.path_identity(relpath), None))
    return found


def _read_header(artifacts: ArtifactStore, path: str) -> bytes:
    with artifacts.fs.open(path, "rb") as handle:
        return encryption.read_exact(handle.read, encryption.HEADER_SIZE)


def inventory(artifacts: ArtifactStore) -> dict[str, int]:
    """How many files each key id wraps, and how many are plaintext."""
    counts: Counter[str] = Counter()
    for path, _, _ in stored_files(artifacts):
        raw = _read_header(artifacts, path)
        if not encryption.is_sealed(raw):
            counts[PLAINTEXT] += 1
            continue
        ids = Header.parse(raw, path).key_ids()
        counts["+".join(ids)] += 1
    return dict(sorted(counts.items()))


def rotate(
    artifacts: ArtifactStore, new_key: Key, *, progress: Progress | None = None
) -> RotationReport:
    """Re-wrap every sealed file's data key with ``new_key``; payloads stay as they are."""
    if artifacts.keyring is None:
        raise EncryptionKeyError(
            f"no encryption key is configured; set {encryption.KEY_ENV} to the current key file "
            "before rotating to a new one"
        )
    old = artifacts.keyring
    keyring = Keyring(new_key, (old.primary, *old.others))
    files = stored_files(artifacts)
    counts: Counter[str] = Counter()
    for done, (path, identity, _) in enumerate(files, start=1):
        counts[_rewrap(artifacts, path, identity, keyring)] += 1
        if progress is not None:
            progress(done, len(files))
    return RotationReport(new_key.id, counts["rewrapped"], counts["current"], counts[PLAINTEXT])


def _rewrap(artifacts: ArtifactStore, path: str, identity: bytes, keyring: Keyring) -> str:
    raw = _read_header(artifacts, path)
    if not encryption.is_sealed(raw):
        return PLAINTEXT
    header = Header.parse(raw, path)
    dek, opened = encryption.unwrap(header, keyring, identity, path, strict=False)
    new_id = bytes.fromhex(keyring.primary.id)
    if opened == [0, 1] and all(slot[: len(new_id)] == new_id for slot in header.slots):
        return "current"
    slot = encryption.wrap(keyring.primary, dek, header.fixed, identity)
    # The slot that does not open the file goes first: one good slot survives any crash.
    order = sorted((0, 1), key=lambda index: index in opened)
    if artifacts.is_local:
        _write_slots_in_place(path, slot, order)
    else:
        _rewrite_header(artifacts, path, header.fixed + slot + slot)
    return "rewrapped"


def _write_slots_in_place(path: str, slot: bytes, order: list[int]) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        for index in order:
            os.pwrite(fd, slot, encryption.SLOT_OFFSETS[index])
            os.fsync(fd)
    finally:
        os.close(fd)


def _rewrite_header(artifacts: ArtifactStore, path: str, header: bytes) -> None:
    """Object stores cannot patch a file: copy it with the new header (payload unchanged)."""
    fs = artifacts.fs
    temp = f"{artifacts.root}/tmp/{os.urandom(16).hex()}"
    fs.makedirs(temp.rsplit("/", 1)[0], exist_ok=True)
    with fs.open(path, "rb") as source, fs.open(temp, "wb") as target:
        source.seek(encryption.HEADER_SIZE)
        target.write(header)
        while chunk := source.read(encryption.SEGMENT_SIZE):
            target.write(chunk)
    fs.mv(temp, path)


def encrypt_plaintext(artifacts: ArtifactStore, *, progress: Progress | None = None) -> int:
    """Rewrite files stored before a key was configured as sealed files; return how many."""
    if artifacts.keyring is None:
        raise EncryptionKeyError(
            f"no encryption key is configured; set {encryption.KEY_ENV} to encrypt existing files"
        )
    files = stored_files(artifacts)
    encrypted = 0
    with tempfile.TemporaryDirectory(prefix="shipyard-encrypt-") as folder:
        for done, (path, _, sha) in enumerate(files, start=1):
            if not encryption.is_sealed(_read_header(artifacts, path)):
                if sha is not None:  # verified on the way out, sealed on the way back in
                    copy = Path(folder) / sha
                    artifacts.copy_to(sha, copy)
                    artifacts.put_file(copy, sha256=sha)
                    copy.unlink()
                else:
                    relpath = path[len(artifacts.root) + 1 :]
                    artifacts.put_path(relpath, artifacts.read_path(relpath))
                encrypted += 1
            if progress is not None:
                progress(done, len(files))
    return encrypted
