"""Traffic policies and serving settings of a deployment, as typed objects.

Stored as JSON in the deployment row. This issue's policy is ``single``: one
version, or an alias that the server follows as it moves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shipyard.errors import InvalidInput
from shipyard.registry.uri import ModelRef, parse_model_spec


@dataclass(frozen=True)
class SinglePolicy:
    target: ModelRef
    kind: str = "single"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "target": _ref_to_dict(self.target)}

    @property
    def targets(self) -> list[ModelRef]:
        return [self.target]


Policy = SinglePolicy


@dataclass(frozen=True)
class ServingConfig:
    """How a deployment's models are served (``batching=False`` sends rows one call each)."""

    batching: bool = True
    max_batch_size: int = 64
    max_wait_ms: float = 2.0

    def __post_init__(self) -> None:
        if not 1 <= self.max_batch_size <= 10_000:
            raise InvalidInput(
                f"max_batch_size must be between 1 and 10000, got {self.max_batch_size}"
            )
        if not 0 <= self.max_wait_ms <= 1000:
            raise InvalidInput(f"max_wait_ms must be between 0 and 1000, got {self.max_wait_ms}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "batching": self.batching,
            "max_batch_size": self.max_batch_size,
            "max_wait_ms": self.max_wait_ms,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ServingConfig:
        known = {k: data[k] for k in ("batching", "max_batch_size", "max_wait_ms") if k in data}
        return cls(**known)


def _ref_to_dict(ref: ModelRef) -> dict[str, Any]:
    return {"model": ref.name, "version": ref.version, "alias": ref.alias}


def _ref_from_dict(data: dict[str, Any]) -> ModelRef:
    return ModelRef(data["model"], version=data.get("version"), alias=data.get("alias"))


def policy_from_dict(data: dict[str, Any]) -> Policy:
    kind = data.get("kind")
    if kind == "single":
        return SinglePolicy(_ref_from_dict(data["target"]))
    raise InvalidInput(f"unknown traffic policy kind {kind!r}")


def single(spec: str) -> SinglePolicy:
    """``fraud@champion``, ``fraud/3`` or ``models:/...`` as a single-target policy."""
    return SinglePolicy(parse_model_spec(spec))
