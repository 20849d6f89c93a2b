"""Wire schemas of the control API, kept apart from the domain records.

The types here say what a route accepts, so FastAPI refuses the rest with 422
before a store sees it: ids and limits are bounded integers (SQLite and
PostgreSQL refuse larger ones; they used to reach the driver and answer
500), names follow ``shipyard.names``, and request bodies are strict
(``false`` is not a number) and closed (unknown fields are refused).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Path, Query
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from shipyard.abtest.spec import DEFAULT_MIN_SHARE
from shipyard.deploy.policy import KINDS
from shipyard.entities import Deployment, ModelVersion, RegisteredModel
from shipyard.monitoring.monitors import RULE_PATTERN
from shipyard.names import ALIAS_PATTERN, NAME_MAX_LENGTH, NAME_PATTERN
from shipyard.store.pipeline_records import ACTIVE, ENDED

MAX_ID = 2**31 - 1
"""The largest id or version number the store keeps on every back end: they are
INTEGER columns, 64-bit on SQLite but 32-bit on PostgreSQL."""

RecordId = Annotated[int, Path(ge=1, le=MAX_ID, description="A stored record's id.")]
"""Path parameter naming a rollout, pipeline run or webhook by id."""

Limit = Annotated[int, Query(ge=1, le=10_000, description="At most this many items.")]
"""Query parameter bounding the size of a list."""

Name = Annotated[str, Field(pattern=NAME_PATTERN, min_length=1, max_length=NAME_MAX_LENGTH)]
"""A user-chosen name of a model, deployment, monitor or pipeline (``shipyard.names``)."""

MAX_SECONDS = 10 * 365 * 86400.0
"""Durations and windows past ten years are mistakes (and overflow timestamps)."""


def _whole_number(value: object) -> object:
    """JSON Schema counts 3.0 as an integer; strict pydantic would not."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


WholeNumber = BeforeValidator(_whole_number)
StoredInt = Annotated[int, Field(ge=0, le=MAX_ID), WholeNumber]
Version = Annotated[int, Field(ge=1, le=MAX_ID), WholeNumber]
Seconds = Annotated[float, Field(gt=0, le=MAX_SECONDS, allow_inf_nan=False)]
Delay = Annotated[float, Field(ge=0, le=MAX_SECONDS, allow_inf_nan=False)]
VersionRef = Annotated[
    str, Path(pattern=r"^(latest|[0-9]{1,9})$", description="A version number or 'latest'.")
]
"""Nine digits stay under ``MAX_ID``; no model gets near a billion versions."""
NamePath = Annotated[str, Path(pattern=NAME_PATTERN, max_length=NAME_MAX_LENGTH)]
"""A name the route creates, in the path."""

AliasPath = Annotated[str, Path(pattern=ALIAS_PATTERN)]
WindowSeconds = Annotated[
    float | None,
    Query(
        gt=0,
        le=MAX_SECONDS,
        allow_inf_nan=False,
        description="Seconds of traffic to look at; default: all.",
    ),
]
PipelineRunStatus = Annotated[str | None, Query(pattern=f"^({'|'.join(ACTIVE + ENDED)})$")]
RolloutAction = Literal["pause", "resume", "promote", "abort"]
PipelineRunAction = Literal["approve", "reject", "retry"]


class Body(BaseModel):
    """Base of request bodies: strict types, no unknown fields."""

    model_config = ConfigDict(strict=True, extra="forbid")


class ServingConfigIn(Body):
    batching: bool = True
    max_batch_size: Annotated[int, Field(ge=1, le=10_000), WholeNumber] = 64
    max_wait_ms: float = Field(default=2.0, ge=0, le=1000)


ModelSpec = Annotated[
    str,
    Field(min_length=1, description="fraud@champion, fraud/3, fraud (latest) or models:/..."),
]


class DeploymentCreate(Body):
    name: Name = Field(description="Endpoint name, used in /v1/deployments/{name}/predict.")
    model: ModelSpec
    description: str = ""
    serving: ServingConfigIn = ServingConfigIn()


class DeploymentUpdate(Body):
    model: ModelSpec | None = None
    description: str | None = None
    serving: ServingConfigIn | None = None


class DeploymentPublic(BaseModel):
    name: str
    policy: dict[str, Any]
    config: dict[str, Any]
    description: str
    created_at: int
    updated_at: int
    serving_version: int | None = None
    ready: bool = False

    @classmethod
    def of(
        cls, deployment: Deployment, serving_version: int | None, ready: bool
    ) -> DeploymentPublic:
        return cls(**deployment.to_dict(), serving_version=serving_version, ready=ready)


class ModelPublic(BaseModel):
    name: str
    description: str
    latest_version: int
    aliases: dict[str, int]
    tags: dict[str, str]
    created_at: int
    updated_at: int

    @classmethod
    def of(cls, model: RegisteredModel) -> ModelPublic:
        return cls(**model.to_dict())


class ModelVersionPublic(BaseModel):
    name: str
    version: int
    uri: str
    flavor: str
    sha256: str
    size: int
    signature: dict[str, Any]
    run_id: str | None
    metrics: dict[str, float]
    aliases: list[str]
    tags: dict[str, str]
    description: str
    created_at: int
    created_by: str

    @classmethod
    def of(cls, version: ModelVersion) -> ModelVersionPublic:
        data = version.to_dict()
        return cls(**{k: data[k] for k in cls.model_fields})


class AliasUpdate(Body):
    version: Version


class PolicyIn(BaseModel):
    """A traffic policy as stored; the fields besides ``kind`` depend on it (see the route)."""

    model_config = ConfigDict(extra="allow")

    kind: Literal[KINDS]  # type: ignore[valid-type]


class AliasChange(BaseModel):
    model: str
    alias: str
    version: int
    previous: int | None


class AliasRemoved(BaseModel):
    model: str
    alias: str
    previous: int


# -- rollouts -----------------------------------------------------------------------


class ThresholdsIn(Body):
    """Analysis thresholds; any left out keep their defaults."""

    max_error_rate_increase: float | None = Field(default=None, ge=0)
    max_p99_ratio: float | None = Field(default=None, gt=0)
    p99_margin_ms: float | None = Field(default=None, ge=0)
    min_latency_samples: StoredInt | None = None
    max_divergence: float | None = Field(default=None, ge=0)
    min_agreement: float | None = Field(default=None, ge=0, le=1)
    min_requests: StoredInt | None = None
    min_compared: StoredInt | None = None
    min_divergence_samples: StoredInt | None = None


class RolloutPlanIn(Body):
    """How a rollout runs; steps must also increase and end at 100, and deadline_s >=
    interval_s. Promoting an experiment's winner takes it without ``to``."""

    strategy: Literal["canary"] = "canary"
    steps: list[Annotated[float, Field(gt=0, le=100)]] = Field(
        default=[5, 25, 50, 100], min_length=1
    )
    interval_s: Seconds = 60.0
    deadline_s: Seconds | None = Field(default=None, description="Default: 10 x interval_s.")
    on_deadline: Literal["fail", "pause"] = "fail"
    thresholds: ThresholdsIn = ThresholdsIn()


class RolloutSpecIn(RolloutPlanIn):
    """A rollout spec: the version to roll out and how."""

    to: ModelSpec


class RolloutCreate(Body):
    deployment: str
    spec: RolloutSpecIn


class RolloutPublic(BaseModel):
    id: int
    deployment: str
    status: str
    spec: dict[str, Any]
    baseline_version: int
    candidate_version: int
    original_policy: dict[str, Any]
    step_index: int
    step_started_at: int
    reason: str
    created_by: str
    created_at: int
    updated_at: int


class RolloutEventPublic(BaseModel):
    at: int
    kind: str
    step_index: int
    actor: str
    details: dict[str, Any]


class CheckPublic(BaseModel):
    name: str
    status: Literal["pass", "fail", "insufficient", "skipped"]
    value: float | None
    threshold: str
    samples: int
    min_samples: int
    detail: str


class RolloutDetail(BaseModel):
    rollout: RolloutPublic
    events: list[RolloutEventPublic]
    checks: list[CheckPublic] = Field(description="Live analysis while running or paused.")


# -- A/B experiments ----------------------------------------------------------------

ExperimentName = Annotated[str, Field(pattern=NAME_PATTERN, min_length=1, max_length=128)]


class ExperimentCreate(Body):
    """The arguments of ``shipyard ab start`` (``Client.ab_start``)."""

    name: ExperimentName
    deployment: str = Field(min_length=1)
    arms: str = Field(
        min_length=1,
        max_length=4096,
        description="fraud/3=50,fraud/4=50 (the first arm is the control); a bandit may "
        "omit the weights.",
        examples=["fraud/3=50,fraud/4=50"],
    )
    metrics: list[Annotated[str, Field(min_length=1, max_length=256)]] = Field(
        default=[],
        max_length=32,
        description="accuracy, abs_error, latency_ms or outcome.<name>[:rate|mean][:lower]; "
        "the first decides.",
    )
    key: str = Field(default="header:X-Shipyard-Key", max_length=256)
    guardrails: list[Annotated[str, Field(min_length=1, max_length=256)]] = Field(
        default=[], max_length=32, description="e.g. p99_ms<=50, error_rate<=0.01"
    )
    min_samples: Annotated[int, Field(ge=1, le=1_000_000_000), WholeNumber] = 1000
    alpha: float = Field(default=0.05, gt=0, lt=0.5)
    power: float = Field(default=0.8, ge=0.5, lt=1)
    min_effect: float = Field(
        default=0.05, gt=0, le=1_000_000, description="Relative to the control's mean."
    )
    sequential: bool = False
    pre: dict[str, Annotated[str, Field(max_length=256)]] = Field(
        default={}, max_length=32, description="metric -> pre-period covariate (CUPED)"
    )
    bandit: bool = False
    reward: str | None = Field(default=None, max_length=256)
    min_share: float = Field(default=DEFAULT_MIN_SHARE, ge=0, lt=1)
    update_every_s: float = Field(default=10.0, gt=0, le=MAX_SECONDS)
    max_step: float = Field(default=0.2, gt=0, le=1)


class ExperimentPublic(BaseModel):
    name: str
    deployment: str
    status: str
    spec: dict[str, Any]
    original_policy: dict[str, Any]
    started_by: str
    started_at: int
    stopped_by: str | None
    stopped_at: int | None
    outcome: dict[str, Any] | None


class ExperimentStop(Body):
    reason: str = Field(default="", max_length=1024)


class ExperimentPromoted(BaseModel):
    report: dict[str, Any]
    rollout: RolloutPublic | None = Field(description="None when the control won.")


# -- webhooks -----------------------------------------------------------------------


class WebhookCreate(Body):
    url: str = Field(
        pattern=r"^https?://[A-Za-z0-9](?:[A-Za-z0-9.\-]*[A-Za-z0-9])?(?::[0-9]{1,5})?(?:/\S*)?$",
        max_length=2048,
        description="An http:// or https:// URL with an ASCII host name.",
    )
    events: list[str] | None = Field(default=None, description="Audit actions; default all.")


class WebhookCreated(BaseModel):
    id: int
    url: str


class WebhookPublic(WebhookCreated):
    events: list[str]


# -- monitoring ---------------------------------------------------------------------

Rule = Annotated[str, Field(pattern=RULE_PATTERN, description="e.g. drift_share >= 0.3")]
Severity = Literal["info", "warning", "critical"]


class RuleWhen(Body):
    when: Rule
    severity: Severity = "warning"
    for_s: Delay = 0.0
    name: str | None = None


class RuleFull(Body):
    name: str
    metric: str
    op: Literal[">", ">=", "<", "<="]
    threshold: float
    severity: Severity = "warning"
    for_s: Delay = 0.0


class MonitorCreate(Body):
    """A monitor spec; rule names must also be unique."""

    deployment: str
    window_s: Seconds = 3600.0
    interval_s: Seconds = 300.0
    rules: list[Rule | RuleWhen | RuleFull] = []
    quality_metrics: list[str] | None = None


class MonitorPublic(BaseModel):
    name: str
    deployment: str
    spec: dict[str, Any]
    last_run_at: int
    created_at: int


class MonitorRun(BaseModel):
    values: dict[str, float | None]


class MonitorResultPublic(BaseModel):
    at: int
    metric: str
    value: float | None
    details: dict[str, Any] | None


class AlertPublic(BaseModel):
    id: int
    monitor: str
    rule: str
    severity: str
    status: str
    value: float | None
    message: str
    started_at: int
    fired_at: int | None
    resolved_at: int | None


class DriftColumn(BaseModel):
    column: str
    kind: str
    method: str
    statistic: float
    p_value: float | None
    threshold: float
    drifted: bool
    n_reference: int
    n_current: int


class DriftReport(BaseModel):
    drifted: bool
    share: float
    threshold: float
    drifted_columns: list[str]
    columns: list[DriftColumn]


class QualityPublic(BaseModel):
    group: str
    rows: int
    labelled: int
    metrics: dict[str, float]
    estimated: dict[str, float]


class FeedbackItem(Body):
    """A label, business outcomes, or both, for one served row (either may come later)."""

    request_id: str = Field(min_length=1)
    label: bool | int | float | str | None = None
    outcome: dict[str, float] | None = Field(
        default=None,
        description='Business outcomes by name, e.g. {"clicked": 1, "revenue": 12.5}',
        examples=[{"clicked": 1, "revenue": 12.5}],
    )
    row: StoredInt = 0


class FeedbackAccepted(BaseModel):
    accepted: int


# -- pipelines ----------------------------------------------------------------------


class PipelineRunCreate(Body):
    params: dict[str, Any] = Field(
        default={}, description="Values for the pipeline's declared parameters."
    )


class PipelineDecision(Body):
    comment: str = ""


class TriggerPublic(BaseModel):
    id: int
    pipeline: str
    key: str
    source: str
    spec: dict[str, Any]
    cursor: int
    last_fired_at: int
    suppressed: int


class PipelinePublic(BaseModel):
    name: str
    version: int
    source: str
    code_sha256: str
    definition: dict[str, Any]
    created_at: int
    updated_at: int
    triggers: list[TriggerPublic]


class StepPublic(BaseModel):
    name: str
    position: int
    status: str
    attempt: int
    cache_key: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    logs: str
    error: str
    started_at: int | None
    ended_at: int | None
    duration_s: float | None


class PipelineRunPublic(BaseModel):
    id: int
    pipeline: str
    pipeline_version: int
    code_sha256: str
    status: str
    trigger: dict[str, Any]
    params: dict[str, Any]
    attempt: int
    error: str
    outcome: str
    waiting: dict[str, Any]
    worker: str
    created_by: str
    created_at: int
    ended_at: int | None
    steps: list[StepPublic]


# -- health, OIP metadata -----------------------------------------------------------


class HealthStatus(BaseModel):
    status: Literal["ok", "loading"]
    deployments: list[str]
    failures: dict[str, str] = Field(description="Deployments whose model failed to load.")


class OipServerMetadata(BaseModel):
    name: str
    version: str
    extensions: list[str]


class OipTensorMetadata(BaseModel):
    name: str
    datatype: str
    shape: list[int]


class OipModelMetadata(BaseModel):
    name: str
    versions: list[str]
    platform: str
    inputs: list[OipTensorMetadata]
    outputs: list[OipTensorMetadata]


class OipLive(BaseModel):
    live: bool


class OipReady(BaseModel):
    ready: bool


class OipModelReady(BaseModel):
    name: str
    ready: bool


# -- batch jobs ------------------------------------------------------------------


class BatchJobCreate(Body):
    """A batch job run by this server: paths and URLs are the server's, not the caller's."""

    target: str = Field(min_length=1, max_length=512, description="models:/… URI or deployment")
    input: str = Field(min_length=1, max_length=4096)
    output: str = Field(min_length=1, max_length=4096)
    id_column: str | None = Field(default=None, max_length=256)
    chunk_rows: int = Field(default=100_000, ge=1, le=10_000_000)
    workers: int = Field(default=1, ge=1, le=64)
    scheduler: str | None = Field(default=None, max_length=512)
    max_error_rate: float = Field(default=0.01, ge=0.0, le=1.0)
    job: Name | None = None
    model_threads: int | None = Field(default=None, ge=1, le=256)


class BatchJobPublic(BaseModel):
    name: str
    target: str
    deployment: str | None
    model: str
    version: int
    input: str
    output: str
    options: dict[str, Any]
    files: int
    status: str
    rows_total: int | None
    rows_done: int
    rows_rejected: int
    rows_per_s: float | None
    seconds: float
    attempts: int
    error: str
    created_by: str
    created_at: int
    updated_at: int
    finished_at: int | None


class BatchJobStarted(BaseModel):
    name: str
    status: Literal["started"] = "started"
