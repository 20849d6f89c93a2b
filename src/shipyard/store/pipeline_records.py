"""What the pipeline store returns: runs, steps, triggers and definitions as records."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shipyard.errors import NotFound
from shipyard.store.schema import PipelineDef, PipelineRun, PipelineStep, PipelineTrigger

ACTIVE = ("queued", "running", "awaiting_approval", "deploying")
ENDED = ("succeeded", "failed", "rejected", "rolled_back")


@dataclass(frozen=True)
class PipelineRecord:
    name: str
    version: int
    source: str
    code_sha256: str
    definition: dict[str, Any]
    created_at: int
    updated_at: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class TriggerRecord:
    id: int
    pipeline: str
    key: str
    source: str
    spec: dict[str, Any]
    cursor: int
    last_fired_at: int
    suppressed: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class StepRecord:
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

    @property
    def duration_s(self) -> float | None:
        if self.started_at is None or self.ended_at is None:
            return None
        return (self.ended_at - self.started_at) / 1000

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "duration_s": self.duration_s}


@dataclass(frozen=True)
class PipelineRunRecord:
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
    steps: tuple[StepRecord, ...] = field(default=())

    def step(self, name: str) -> StepRecord:
        for step in self.steps:
            if step.name == name:
                return step
        raise NotFound(f"pipeline run {self.id} has no step {name!r}")

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if k != "steps"}
        data["steps"] = [s.to_dict() for s in self.steps]
        return data


def pipeline_of_row(row: PipelineDef) -> PipelineRecord:
    return PipelineRecord(
        row.name,
        row.version,
        row.source,
        row.code_sha256,
        dict(row.definition),
        row.created_at,
        row.updated_at,
    )


def trigger_of_row(row: PipelineTrigger) -> TriggerRecord:
    return TriggerRecord(
        row.id,
        row.pipeline,
        row.key,
        row.source,
        dict(row.spec),
        row.cursor,
        row.last_fired_at,
        row.suppressed,
    )


def step_of_row(row: PipelineStep) -> StepRecord:
    return StepRecord(
        row.name,
        row.position,
        row.status,
        row.attempt,
        row.cache_key,
        dict(row.inputs),
        dict(row.outputs),
        row.logs,
        row.error,
        row.started_at,
        row.ended_at,
    )


def run_of_row(row: PipelineRun, steps: list[PipelineStep] | None = None) -> PipelineRunRecord:
    return PipelineRunRecord(
        row.id,
        row.pipeline,
        row.pipeline_version,
        row.code_sha256,
        row.status,
        dict(row.trigger),
        dict(row.params),
        row.attempt,
        row.error,
        row.outcome,
        dict(row.waiting),
        row.worker,
        row.created_by,
        row.created_at,
        row.ended_at,
        tuple(step_of_row(s) for s in sorted(steps or [], key=lambda s: s.position)),
    )


@dataclass(frozen=True)
class NewTrigger:
    key: str
    source: str
    spec: dict[str, Any]
    cursor: int
