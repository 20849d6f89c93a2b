"""The audit hash chain: how a row's hash is computed, and what a check found.

Each audit row stores ``prev_hash`` (the hash of the row before it, or
``GENESIS`` for the first) and ``hash = sha256(prev_hash ‖ canonical(row))``,
where ``canonical`` is sorted-key compact JSON of the row's own fields. Editing
a row breaks its own hash; deleting or reordering rows breaks a link. The
format is stored data: changing ``canonical`` or ``chain_hash`` would make every
existing workspace fail ``verify``, so a golden test pins it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

#: ``prev_hash`` of the first row of a chain.
GENESIS = "0" * 64

#: The fields a row's hash covers, by column name (prev_hash is chained in separately).
HASHED_FIELDS = (
    "id",
    "at",
    "actor",
    "action",
    "object_type",
    "object_id",
    "details",
    "request_id",
    "client_address",
)

Problem = Literal["edited", "deleted", "reordered", "broken_link"]


def canonical(row: Mapping[Any, Any]) -> bytes:
    """The row's hashed fields as sorted-key compact JSON (UTF-8)."""
    fields = {name: row[name] for name in HASHED_FIELDS}
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def chain_hash(prev_hash: str, row: Mapping[Any, Any]) -> str:
    """The hex SHA-256 that links ``row`` to the row before it."""
    digest = hashlib.sha256(prev_hash.encode("ascii"))
    digest.update(canonical(row))
    return digest.hexdigest()


def normalized(details: Mapping[str, Any] | None) -> dict[str, Any]:
    """``details`` as they will read back from the JSON column (tuples become lists,
    keys become strings), so the hash written now is the hash recomputed later."""
    return json.loads(json.dumps(dict(details or {}))) if details else {}


@dataclass(frozen=True)
class AuditHead:
    """The newest row of the chain: keep ``token`` somewhere else as a checkpoint."""

    id: int
    hash: str
    at: int | None = None

    @property
    def token(self) -> str:
        """``HASH@ID``, what ``shipyard audit verify --against`` takes."""
        return f"{self.hash}@{self.id}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "checkpoint": self.token}


@dataclass(frozen=True)
class AuditCheck:
    """What ``verify`` found: ``ok``, or the first bad row and what is wrong with it."""

    ok: bool
    rows_checked: int
    bad_row_id: int | None = None
    problem: Problem | None = None
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
