"""Plain, immutable records that the store returns and the SDK hands to users.

They are domain objects, not wire schemas and not ORM rows: the store maps
rows to these, and interfaces render them (``to_dict`` for ``--json``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from shipyard.signature import Signature


class RunStatus:
    RUNNING = "RUNNING"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"
    ALL = (RUNNING, FINISHED, FAILED, KILLED)


@dataclass(frozen=True)
class Experiment:
    id: int
    name: str
    created_at: int
    lifecycle_stage: str = "active"
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class MetricPoint:
    key: str
    value: float
    step: int
    timestamp: int


@dataclass(frozen=True)
class RunArtifact:
    path: str
    sha256: str
    size: int


@dataclass(frozen=True)
class DatasetInput:
    dataset: str
    version: str
    digest: str | None = None


@dataclass(frozen=True)
class RunKeys:
    """The param and metric keys logged to a set of runs (the columns a run table can show)."""

    params: list[str]
    metrics: list[str]


@dataclass(frozen=True)
class NewRun:
    """A run just created: what ``start_run`` needs to log to it."""

    id: str
    name: str


@dataclass(frozen=True)
class Run:
    id: str
    experiment: str
    name: str
    status: str
    start_time: int
    end_time: int | None
    user: str
    error: str | None = None
    git_commit: str | None = None
    source: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    artifacts: tuple[RunArtifact, ...] = ()
    inputs: tuple[DatasetInput, ...] = ()
    experiment_id: int = 0
    lifecycle_stage: str = "active"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class LoggedModel:
    """Model files a run logged through MLflow 3's API (``models:/m-...``), not yet a version."""

    id: str
    experiment_id: int
    name: str
    source_run_id: str | None
    model_type: str
    status: str
    lifecycle_stage: str
    tags: dict[str, str]
    params: dict[str, str]
    created_by: str
    created_at: int
    updated_at: int


@dataclass(frozen=True)
class ModelVersion:
    name: str
    version: int
    flavor: str
    sha256: str
    size: int
    signature: Signature
    created_at: int
    created_by: str
    run_id: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    requirements: tuple[str, ...] = ()
    model_card: str = ""
    description: str = ""
    flavor_options: dict[str, Any] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["signature"] = self.signature.to_dict()
        data["requirements"] = list(self.requirements)
        data["aliases"] = list(self.aliases)
        data["uri"] = self.uri
        return data


@dataclass(frozen=True)
class RegisteredModel:
    name: str
    description: str
    latest_version: int
    created_at: int
    updated_at: int
    aliases: dict[str, int] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class AliasChange:
    alias: str
    version: int | None
    previous_version: int | None
    actor: str
    at: int

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Deployment:
    """A named endpoint; ``policy`` says which versions answer (see shipyard.deploy)."""

    name: str
    policy: dict[str, Any]
    config: dict[str, Any]
    description: str
    created_at: int
    updated_at: int

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class UserRecord:
    name: str
    role: str
    disabled: bool
    created_at: int


@dataclass(frozen=True)
class TokenRecord:
    """A token as stored: its hash and grants, never the token itself."""

    name: str
    token_hash: str
    display: str
    role: str
    user: str | None
    models: tuple[str, ...] | None
    deployments: tuple[str, ...] | None
    created_at: int
    created_by: str
    expires_at: int | None
    last_used_at: int | None
    revoked_at: int | None

    def to_public(self) -> dict[str, object]:
        """Everything but the hash (for lists, --json and the API)."""
        return {
            "name": self.name,
            "display": self.display,
            "role": self.role,
            "user": self.user,
            "models": list(self.models) if self.models is not None else None,
            "deployments": list(self.deployments) if self.deployments is not None else None,
            "created_at": self.created_at,
            "created_by": self.created_by,
            "expires_at": self.expires_at,
            "last_used_at": self.last_used_at,
            "revoked_at": self.revoked_at,
        }


@dataclass(frozen=True)
class BatchJobRecord:
    """A batch scoring job as stored: target, resolved version, progress and outcome."""

    name: str
    target: str
    deployment: str | None
    model: str
    version: int
    input: str
    output: str
    options: dict[str, Any]
    files: list[Any]
    status: str
    rows_total: int | None
    rows_done: int
    rows_rejected: int
    seconds: float
    attempts: int
    error: str
    created_by: str
    created_at: int
    updated_at: int
    finished_at: int | None

    @property
    def rows_per_s(self) -> float | None:
        return self.rows_done / self.seconds if self.seconds > 0 else None

    def to_public(self) -> dict[str, Any]:
        """The job for lists, ``--json`` and the API (the file fingerprints left out)."""
        return {
            "name": self.name,
            "target": self.target,
            "deployment": self.deployment,
            "model": self.model,
            "version": self.version,
            "input": self.input,
            "output": self.output,
            "options": self.options,
            "files": len(self.files),
            "status": self.status,
            "rows_total": self.rows_total,
            "rows_done": self.rows_done,
            "rows_rejected": self.rows_rejected,
            "rows_per_s": round(self.rows_per_s, 1) if self.rows_per_s else None,
            "seconds": round(self.seconds, 3),
            "attempts": self.attempts,
            "error": self.error,
            "created_by": self.created_by,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "finished_at": self.finished_at,
        }


@dataclass(frozen=True)
class StreamConsumerRecord:
    """A stream consumer as it last reported itself (``stopped_at`` set when it ended)."""

    stream: str
    group: str
    consumer: str
    deployment: str
    redis: str
    scored: int
    dead_lettered: int
    lag: int | None
    pending: int | None
    started_at: int
    seen_at: int
    stopped_at: int | None

    def state(self, now_ms: int, stale_after_ms: int) -> str:
        """``running``, ``stopped``, or ``silent`` (no report for ``stale_after_ms``: died?)."""
        if self.stopped_at is not None:
            return "stopped"
        return "silent" if now_ms - self.seen_at > stale_after_ms else "running"
