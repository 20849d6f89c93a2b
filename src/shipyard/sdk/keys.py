"""The ``shipyard.Client`` methods for encryption keys (kept apart so client.py stays small)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from shipyard.sdk.operations import local_only, operation
from shipyard.security.permissions import Permission as P
from shipyard.store import encryption, key_rotation
from shipyard.store.audit import record_event
from shipyard.store.key_rotation import RotationReport

if TYPE_CHECKING:
    from shipyard.store import Store

Progress = Callable[[int, int], None]


def create_key_file(path: str | os.PathLike[str]) -> str:
    """Write a new random 256-bit key to ``path`` (0600, never overwritten); return its key id."""
    return encryption.create_key_file(Path(path)).id


class KeyMethods:
    store: Store

    @property
    def actor(self) -> str:
        raise NotImplementedError  # the Client says who is acting

    @operation(P.MANAGE_ACCESS)
    def encryption_status(self) -> dict[str, int]:
        """Files under the artifact root per key id (``plaintext``: written without a key)."""
        return key_rotation.inventory(self.store.artifacts)

    @local_only("it reads the key files on the server's disk and rewrites its artifact store")
    def rotate_encryption_key(
        self, new_key_file: str | os.PathLike[str], *, progress: Progress | None = None
    ) -> RotationReport:
        """Re-wrap every file's data key with the key in ``new_key_file`` (payloads untouched).

        Safe to run again after an interruption; then point ``SHIPYARD_ENCRYPTION_KEY_FILE``
        at the new file.
        """
        new_key = encryption.load_key_file(Path(new_key_file))
        report = key_rotation.rotate(self.store.artifacts, new_key, progress=progress)
        self._audit("keys.rotate", new_key.id, {"rewrapped": report.rewrapped})
        return report

    @local_only("it rewrites the server's artifact store with the key it holds")
    def encrypt_existing_artifacts(self, *, progress: Progress | None = None) -> int:
        """Encrypt files stored before a key was configured; return how many."""
        count = key_rotation.encrypt_plaintext(self.store.artifacts, progress=progress)
        keyring = self.store.artifacts.keyring
        key_id = keyring.primary.id if keyring else ""
        self._audit("keys.encrypt_existing", key_id, {"encrypted": count})
        return count

    def _audit(self, action: str, key_id: str, details: dict[str, int]) -> None:
        with self.store.db.write() as session:
            record_event(
                session,
                actor=self.actor,
                action=action,
                object_type="key",
                object_id=key_id,
                details=details,
            )
