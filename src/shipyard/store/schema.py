"""SQLAlchemy 2 tables of the metadata store.

Times are integer milliseconds since the epoch (UTC): portable across SQLite
and PostgreSQL, cheap to compare, and what metric timestamps need anyway.
The Alembic migrations in ``migrations/versions`` create exactly these tables;
a test checks that the two agree.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Experiment(Base):
    __tablename__ = "experiments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(256), unique=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    # "active" or "deleted" (MLflow's soft delete; a deleted experiment can be restored)
    lifecycle_stage: Mapped[str] = mapped_column(String(16), server_default="active")


class ExperimentTag(Base):
    __tablename__ = "experiment_tags"

    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiments.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(256), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Run(Base):
    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiments.id"), index=True)
    name: Mapped[str] = mapped_column(String(256))
    status: Mapped[str] = mapped_column(String(16))
    start_time: Mapped[int] = mapped_column(BigInteger)
    end_time: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    git_commit: Mapped[str | None] = mapped_column(String(64), nullable=True)
    source: Mapped[str | None] = mapped_column(Text, nullable=True)
    user: Mapped[str] = mapped_column(String(128))
    lifecycle_stage: Mapped[str] = mapped_column(String(16), server_default="active")


class Param(Base):
    __tablename__ = "params"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(256), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Metric(Base):
    """Every logged point; ``LatestMetric`` keeps the newest per key for search."""

    __tablename__ = "metrics"
    __table_args__ = (Index("ix_metrics_run_key_step", "run_id", "key", "step"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"))
    key: Mapped[str] = mapped_column(String(256))
    value: Mapped[float] = mapped_column(Float)
    step: Mapped[int] = mapped_column(BigInteger)
    timestamp: Mapped[int] = mapped_column(BigInteger)


class LatestMetric(Base):
    __tablename__ = "latest_metrics"
    __table_args__ = (Index("ix_latest_metrics_key_value", "key", "value"),)

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(256), primary_key=True)
    value: Mapped[float] = mapped_column(Float)
    step: Mapped[int] = mapped_column(BigInteger)
    timestamp: Mapped[int] = mapped_column(BigInteger)


class RunTag(Base):
    __tablename__ = "run_tags"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(256), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class RunArtifact(Base):
    __tablename__ = "run_artifacts"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    path: Mapped[str] = mapped_column(String(1024), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)


class RunInput(Base):
    """A dataset version a run read (name, version, content digest)."""

    __tablename__ = "run_inputs"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    dataset: Mapped[str] = mapped_column(String(256), primary_key=True)
    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    digest: Mapped[str | None] = mapped_column(String(64), nullable=True)


class LoggedModel(Base):
    """An MLflow 3 logged model: files logged by a run before (or without) registering.

    ``tags`` and ``params`` are small JSON objects; the files are ``LoggedModelFile`` rows.
    """

    __tablename__ = "logged_models"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # m-<32 hex>
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiments.id"), index=True)
    name: Mapped[str] = mapped_column(String(256))
    source_run_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    model_type: Mapped[str] = mapped_column(String(128), default="")
    status: Mapped[str] = mapped_column(String(32))
    lifecycle_stage: Mapped[str] = mapped_column(String(16), server_default="active")
    tags: Mapped[dict[str, Any]] = mapped_column(JSON)
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class LoggedModelFile(Base):
    __tablename__ = "logged_model_files"

    model_id: Mapped[str] = mapped_column(ForeignKey("logged_models.id"), primary_key=True)
    path: Mapped[str] = mapped_column(String(1024), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)


class Model(Base):
    __tablename__ = "models"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(256), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)
    # Last version number handed out; bumped in the registering transaction so
    # that concurrent writers get 1, 2, 3... with no gaps or duplicates.
    latest_version: Mapped[int] = mapped_column(Integer, default=0)


class ModelVersion(Base):
    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("model_id", "version", name="uq_model_versions"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    flavor: Mapped[str] = mapped_column(String(64))
    artifact_sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    signature: Mapped[dict[str, Any]] = mapped_column(JSON)
    flavor_options: Mapped[dict[str, Any]] = mapped_column(JSON)
    run_id: Mapped[str | None] = mapped_column(ForeignKey("runs.id"), nullable=True)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    requirements: Mapped[list[str]] = mapped_column(JSON)
    model_card: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[str] = mapped_column(String(128))


class ModelTag(Base):
    __tablename__ = "model_tags"

    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(256), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class VersionTag(Base):
    __tablename__ = "version_tags"

    version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(256), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Alias(Base):
    __tablename__ = "aliases"

    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"), primary_key=True)
    alias: Mapped[str] = mapped_column(String(128), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class AliasEvent(Base):
    """Every set, move and delete of an alias; ``version`` is null for a delete."""

    __tablename__ = "alias_history"
    __table_args__ = (Index("ix_alias_history_model_alias", "model_id", "alias"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"))
    alias: Mapped[str] = mapped_column(String(128))
    version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    previous_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    actor: Mapped[str] = mapped_column(String(128))
    at: Mapped[int] = mapped_column(BigInteger)


class AuditEvent(Base):
    """Who changed what, when; written in the same transaction as the change.

    Append-only (triggers refuse UPDATE and DELETE) and hash-chained: ``hash``
    covers ``prev_hash`` and the row's fields (see ``audit_chain``). Ids are
    assigned by ``record_event`` as head + 1 under the chain lock, not by the
    database, so they are gapless and in commit order.
    """

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[int] = mapped_column(BigInteger, index=True)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(256))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    request_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    client_address: Mapped[str | None] = mapped_column(String(128), nullable=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class Deployment(Base):
    """A named endpoint and its traffic policy over model versions (JSON, see deploy/)."""

    __tablename__ = "deployments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(256), unique=True)
    policy: Mapped[dict[str, Any]] = mapped_column(JSON)
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class StoreRevision(Base):
    """One row whose counter moves whenever what serving depends on changes.

    Serving processes poll this single integer instead of querying per request.
    """

    __tablename__ = "store_revision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision: Mapped[int] = mapped_column(BigInteger)


class ServingStat(Base):
    """One serving process's counters for one time bucket (summed across processes)."""

    __tablename__ = "serving_stats"
    __table_args__ = (Index("ix_serving_stats_deployment_bucket", "deployment", "bucket"),)

    deployment: Mapped[str] = mapped_column(String(256), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    subject: Mapped[str] = mapped_column(String(64), primary_key=True)
    process: Mapped[str] = mapped_column(String(64), primary_key=True)
    bucket: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)


class Rollout(Base):
    """A time-ordered change of a deployment's policy under automated analysis."""

    __tablename__ = "rollouts"
    __table_args__ = (Index("ix_rollouts_deployment_status", "deployment", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    deployment: Mapped[str] = mapped_column(String(256))
    status: Mapped[str] = mapped_column(String(16))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    baseline_version: Mapped[int] = mapped_column(Integer)
    candidate_version: Mapped[int] = mapped_column(Integer)
    original_policy: Mapped[dict[str, Any]] = mapped_column(JSON)
    step_index: Mapped[int] = mapped_column(Integer)
    step_started_at: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class RolloutEvent(Base):
    __tablename__ = "rollout_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rollout_id: Mapped[int] = mapped_column(ForeignKey("rollouts.id"), index=True)
    at: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(32))
    step_index: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(128))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)


class Lease(Base):
    """Which process runs a background controller; renewed, expiring."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[int] = mapped_column(BigInteger)


class Webhook(Base):
    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    url: Mapped[str] = mapped_column(Text)
    events: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[int] = mapped_column(BigInteger)


class Feedback(Base):
    """A ground-truth label and/or business outcomes for one predicted row, joined to
    the log by request id (either may arrive first; a later one merges in)."""

    __tablename__ = "feedback"

    deployment: Mapped[str] = mapped_column(String(256), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    row: Mapped[int] = mapped_column(Integer, primary_key=True)
    label: Mapped[str | None] = mapped_column(Text, nullable=True)
    outcome: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    at: Mapped[int] = mapped_column(BigInteger, index=True)


class Monitor(Base):
    """Checks over one deployment's traffic, run on a schedule, with alert rules."""

    __tablename__ = "monitors"

    name: Mapped[str] = mapped_column(String(256), primary_key=True)
    deployment: Mapped[str] = mapped_column(String(256))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    last_run_at: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[int] = mapped_column(BigInteger)


class MonitorResult(Base):
    """One evaluated value of one monitor run: a time series per (monitor, metric)."""

    __tablename__ = "monitor_results"
    __table_args__ = (Index("ix_monitor_results_monitor_at", "monitor", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    monitor: Mapped[str] = mapped_column(String(256))
    at: Mapped[int] = mapped_column(BigInteger)
    metric: Mapped[str] = mapped_column(String(128))
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)


class Alert(Base):
    """One open (pending/firing) or resolved alert of a monitor rule."""

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_monitor_rule_status", "monitor", "rule", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    monitor: Mapped[str] = mapped_column(String(256))
    rule: Mapped[str] = mapped_column(String(128))
    severity: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    message: Mapped[str] = mapped_column(Text)
    started_at: Mapped[int] = mapped_column(BigInteger)
    fired_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    resolved_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class DatasetVersion(Base):
    """An immutable, content-addressed snapshot of a dataset (v1, v2, ...)."""

    __tablename__ = "dataset_versions"
    __table_args__ = (
        UniqueConstraint("name", "version", name="uq_dataset_versions"),
        UniqueConstraint("name", "sha256", name="uq_dataset_content"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(256), index=True)
    version: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # file | folder | frame
    format: Mapped[str] = mapped_column(String(16))  # csv | parquet
    rows: Mapped[int] = mapped_column(BigInteger)
    size: Mapped[int] = mapped_column(BigInteger)
    schema: Mapped[dict[str, Any]] = mapped_column(JSON)
    profile_sha256: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(Text)
    derived: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[int] = mapped_column(BigInteger)


class DatasetExpectations(Base):
    """The editable validation spec of a dataset (YAML-shaped JSON)."""

    __tablename__ = "dataset_expectations"

    name: Mapped[str] = mapped_column(String(256), primary_key=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class PipelineDef(Base):
    """A registered pipeline: its current definition and the code it runs (by hash)."""

    __tablename__ = "pipelines"

    name: Mapped[str] = mapped_column(String(256), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(Text)  # the file or module it was registered from
    code_sha256: Mapped[str] = mapped_column(String(64))
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class PipelineTrigger(Base):
    """What starts a pipeline, with its cool-down and how far it has read its source."""

    __tablename__ = "pipeline_triggers"
    __table_args__ = (UniqueConstraint("pipeline", "key", name="uq_pipeline_triggers"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pipeline: Mapped[str] = mapped_column(String(256), index=True)
    key: Mapped[str] = mapped_column(String(512))  # source + spec, stable across re-registration
    source: Mapped[str] = mapped_column(String(32))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    cursor: Mapped[int] = mapped_column(BigInteger)  # last audit event id / scheduled time
    last_fired_at: Mapped[int] = mapped_column(BigInteger)
    suppressed: Mapped[int] = mapped_column(Integer)


class PipelineRun(Base):
    """One execution of a pipeline; ``(trigger_id, trigger_key)`` is unique so a scheduled
    time or an event can start at most one run, whichever process sees it."""

    __tablename__ = "pipeline_runs"
    __table_args__ = (
        UniqueConstraint("trigger_id", "trigger_key", name="uq_pipeline_runs_trigger"),
        Index("ix_pipeline_runs_status", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pipeline: Mapped[str] = mapped_column(String(256), index=True)
    pipeline_version: Mapped[int] = mapped_column(Integer)
    code_sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32))
    trigger_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    trigger_key: Mapped[str | None] = mapped_column(String(128), nullable=True)
    trigger: Mapped[dict[str, Any]] = mapped_column(JSON)
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    attempt: Mapped[int] = mapped_column(Integer)
    error: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(Text)
    waiting: Mapped[dict[str, Any]] = mapped_column(JSON)  # what an unfinished run waits for
    worker: Mapped[str] = mapped_column(String(128))
    heartbeat_at: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[int] = mapped_column(BigInteger)
    ended_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class PipelineStep(Base):
    """One step of one pipeline run: status, inputs, outputs, logs, cache key."""

    __tablename__ = "pipeline_steps"
    __table_args__ = (Index("ix_pipeline_steps_cache", "pipeline", "name", "cache_key"),)

    run_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    pipeline: Mapped[str] = mapped_column(String(256))
    position: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(32))
    attempt: Mapped[int] = mapped_column(Integer)
    cache_key: Mapped[str] = mapped_column(String(64))
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON)
    outputs: Mapped[dict[str, Any]] = mapped_column(JSON)
    logs: Mapped[str] = mapped_column(Text)
    error: Mapped[str] = mapped_column(Text)
    started_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    ended_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class User(Base):
    """A person (or service) who holds tokens; disabling one disables its tokens."""

    __tablename__ = "users"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    role: Mapped[str] = mapped_column(String(32))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[int] = mapped_column(BigInteger)


class ApiToken(Base):
    """An API token: only its SHA-256 is kept; the token itself is shown once."""

    __tablename__ = "api_tokens"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    display: Mapped[str] = mapped_column(String(32))
    role: Mapped[str] = mapped_column(String(32))
    user: Mapped[str | None] = mapped_column(String(128), nullable=True)
    models: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    deployments: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    last_used_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    revoked_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class BatchJob(Base):
    """A batch scoring job: what it scores with, where from and to, and how far it got.

    The resolved model version is recorded when the job starts, so a rerun after a
    crash finishes with the same version even if the deployment has moved since.
    """

    __tablename__ = "batch_jobs"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    target: Mapped[str] = mapped_column(String(512))  # a model URI or a deployment name
    deployment: Mapped[str | None] = mapped_column(String(256), nullable=True)
    model: Mapped[str] = mapped_column(String(256))
    version: Mapped[int] = mapped_column(Integer)
    input: Mapped[str] = mapped_column(Text)
    output: Mapped[str] = mapped_column(Text)
    options: Mapped[dict[str, Any]] = mapped_column(JSON)
    files: Mapped[list[Any]] = mapped_column(JSON)  # the resolved inputs and their fingerprints
    status: Mapped[str] = mapped_column(String(16), index=True)
    rows_total: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    rows_done: Mapped[int] = mapped_column(BigInteger)
    rows_rejected: Mapped[int] = mapped_column(BigInteger)
    seconds: Mapped[float] = mapped_column(Float)  # time spent scoring, over all attempts
    attempts: Mapped[int] = mapped_column(Integer)
    error: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)
    finished_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class BatchPartition(Base):
    """One scored chunk of a batch job's input; present only once its output is written."""

    __tablename__ = "batch_partitions"

    job: Mapped[str] = mapped_column(
        String(128), ForeignKey("batch_jobs.name", ondelete="CASCADE"), primary_key=True
    )
    partition: Mapped[int] = mapped_column(Integer, primary_key=True)
    rows: Mapped[int] = mapped_column(Integer)
    rejected: Mapped[int] = mapped_column(Integer)
    seconds: Mapped[float] = mapped_column(Float)
    finished_at: Mapped[int] = mapped_column(BigInteger)


class AbExperiment(Base):
    """An A/B (or bandit) experiment on a deployment: what it compares, by which metrics,
    the policy it replaced (restored when it stops), and how it ended."""

    __tablename__ = "ab_experiments"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    deployment: Mapped[str] = mapped_column(String(256), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)  # running | stopped
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    original_policy: Mapped[dict[str, Any]] = mapped_column(JSON)
    started_by: Mapped[str] = mapped_column(String(128))
    started_at: Mapped[int] = mapped_column(BigInteger)
    stopped_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    stopped_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    outcome: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class AbWeights(Base):
    """One bandit update: the arms' routing weights and the rewards they came from."""

    __tablename__ = "ab_weights"

    experiment: Mapped[str] = mapped_column(
        String(128), ForeignKey("ab_experiments.name", ondelete="CASCADE"), primary_key=True
    )
    at: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    weights: Mapped[dict[str, Any]] = mapped_column(JSON)
    rewards: Mapped[dict[str, Any]] = mapped_column(JSON)


class StreamConsumerPresence(Base):
    """A stream consumer's last report: who it is, what it serves, how far it got.

    Consumers run as their own processes (``shipyard stream consume``); this row is how
    the dashboard and the API know they exist. Refreshed with the consumer's gauges; a row
    not refreshed for a while is a consumer that stopped or died."""

    __tablename__ = "stream_consumers"

    stream: Mapped[str] = mapped_column(String(256), primary_key=True)
    group: Mapped[str] = mapped_column(String(128), primary_key=True)
    consumer: Mapped[str] = mapped_column(String(128), primary_key=True)
    deployment: Mapped[str] = mapped_column(String(256), index=True)
    redis: Mapped[str] = mapped_column(String(512))  # without its password
    scored: Mapped[int] = mapped_column(BigInteger)
    dead_lettered: Mapped[int] = mapped_column(BigInteger)
    lag: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    pending: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    started_at: Mapped[int] = mapped_column(BigInteger)
    seen_at: Mapped[int] = mapped_column(BigInteger, index=True)
    stopped_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
