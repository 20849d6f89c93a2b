"""Wire schemas of the control API, kept apart from the domain records."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from shipyard.entities import Deployment, ModelVersion, RegisteredModel


class ServingConfigIn(BaseModel):
    batching: bool = True
    max_batch_size: int = Field(default=64, ge=1, le=10_000)
    max_wait_ms: float = Field(default=2.0, ge=0, le=1000)


class DeploymentCreate(BaseModel):
    name: str = Field(description="Endpoint name, used in /v1/deployments/{name}/predict.")
    model: str = Field(description="fraud@champion, fraud/3, fraud (latest) or models:/...")
    description: str = ""
    serving: ServingConfigIn = ServingConfigIn()


class DeploymentUpdate(BaseModel):
    model: str | None = None
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


class AliasUpdate(BaseModel):
    version: int = Field(ge=1)


class RolloutCreate(BaseModel):
    deployment: str
    spec: dict[str, Any] = Field(
        description='e.g. {"to": "fraud@challenger", "steps": [5, 25, 50, 100], "interval_s": 60}'
    )


class WebhookCreate(BaseModel):
    url: str
    events: list[str] | None = None
