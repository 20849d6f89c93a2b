"""Traffic policies and serving settings of a deployment, as typed objects.

Stored as JSON in the deployment row and applied by every serving process
from its routing table:

- ``single``: one version, or an alias the server follows as it moves;
- ``canary``: weights over versions, random per request;
- ``ab``: weights with sticky assignment by a key (header or input field);
- ``bandit``: weights over versions, random per request, that an experiment's
  controller moves toward the arm with the best reward (``shipyard ab --bandit``);
- ``shadow``: a primary answers, shadows get a mirrored copy off the hot path;
- ``blue-green``: two versions loaded and warm, all traffic on the active one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from shipyard.errors import InvalidInput
from shipyard.registry.uri import ModelRef, parse_model_spec

KINDS = ("single", "canary", "ab", "bandit", "shadow", "blue-green")


def ref_label(ref: ModelRef) -> str:
    """``fraud@champion``, ``fraud/3`` or ``fraud`` (latest): the CLI spelling."""
    if ref.alias is not None:
        return f"{ref.name}@{ref.alias}"
    if ref.version is not None:
        return f"{ref.name}/{ref.version}"
    return ref.name


def _ref_to_dict(ref: ModelRef) -> dict[str, Any]:
    return {"model": ref.name, "version": ref.version, "alias": ref.alias}


def _ref_from_dict(data: dict[str, Any]) -> ModelRef:
    return ModelRef(data["model"], version=data.get("version"), alias=data.get("alias"))


@dataclass(frozen=True)
class Arm:
    target: ModelRef
    weight: float

    def to_dict(self) -> dict[str, Any]:
        return {**_ref_to_dict(self.target), "weight": self.weight}


@dataclass(frozen=True)
class SinglePolicy:
    target: ModelRef
    kind: Literal["single"] = "single"  # the wire tells the policies apart by it

    @property
    def targets(self) -> list[ModelRef]:
        return [self.target]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "target": _ref_to_dict(self.target)}


def _check_arms(arms: tuple[Arm, ...], kind: str) -> None:
    if len(arms) < 2:
        raise InvalidInput(f"a {kind} policy needs at least two versions, got {len(arms)}")
    if any(not math.isfinite(arm.weight) for arm in arms):
        raise InvalidInput(f"{kind} weights must be numbers: {[a.weight for a in arms]}")
    if any(arm.weight < 0 for arm in arms):
        raise InvalidInput(f"{kind} weights must not be negative: {[a.weight for a in arms]}")
    total = sum(arm.weight for arm in arms)
    if abs(total - 100) > 1e-6:
        raise InvalidInput(
            f"{kind} weights must sum to 100, got {total:g} "
            f"({', '.join(f'{ref_label(a.target)}={a.weight:g}' for a in arms)})"
        )
    labels = [ref_label(a.target) for a in arms]
    if len(set(labels)) != len(labels):
        raise InvalidInput(f"{kind} policy names a version twice: {labels}")


@dataclass(frozen=True)
class CanaryPolicy:
    arms: tuple[Arm, ...]
    kind: Literal["canary"] = "canary"  # the wire tells the policies apart by it

    def __post_init__(self) -> None:
        _check_arms(self.arms, self.kind)

    @property
    def targets(self) -> list[ModelRef]:
        return [arm.target for arm in self.arms]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "arms": [a.to_dict() for a in self.arms]}


@dataclass(frozen=True)
class ABPolicy:
    """Sticky arms: ``key`` is ``header:X-Shipyard-Key`` or ``field:<input column>``.

    ``salt`` is hashed with the key: an experiment salts with its name, so the users
    in one experiment's treatment are not the same users in the next one's.
    """

    arms: tuple[Arm, ...]
    key: str = "header:X-Shipyard-Key"
    salt: str = ""
    kind: Literal["ab"] = "ab"  # the wire tells the policies apart by it

    def __post_init__(self) -> None:
        _check_arms(self.arms, "A/B")
        source, _, name = self.key.partition(":")
        if source not in ("header", "field") or not name:
            raise InvalidInput(
                f"A/B key must be 'header:<name>' or 'field:<column>', got {self.key!r}"
            )

    @property
    def targets(self) -> list[ModelRef]:
        return [arm.target for arm in self.arms]

    def to_dict(self) -> dict[str, Any]:
        data = {"kind": self.kind, "arms": [a.to_dict() for a in self.arms], "key": self.key}
        if self.salt:
            data["salt"] = self.salt
        return data


@dataclass(frozen=True)
class BanditPolicy:
    """Weights the ``experiment``'s bandit controller recomputes from rewards; a request
    goes to an arm at random by weight, like a canary, and nothing is mirrored."""

    arms: tuple[Arm, ...]
    experiment: str
    kind: Literal["bandit"] = "bandit"  # the wire tells the policies apart by it

    def __post_init__(self) -> None:
        _check_arms(self.arms, self.kind)

    @property
    def targets(self) -> list[ModelRef]:
        return [arm.target for arm in self.arms]

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "arms": [a.to_dict() for a in self.arms],
            "experiment": self.experiment,
        }


@dataclass(frozen=True)
class ShadowPolicy:
    primary: ModelRef
    shadows: tuple[ModelRef, ...]
    timeout_ms: float = 1000.0
    kind: Literal["shadow"] = "shadow"  # the wire tells the policies apart by it

    def __post_init__(self) -> None:
        if not self.shadows:
            raise InvalidInput("a shadow policy needs at least one shadow version")
        labels = [ref_label(self.primary), *map(ref_label, self.shadows)]
        if len(set(labels)) != len(labels):
            raise InvalidInput(f"a shadow must differ from the primary and the others: {labels}")

    @property
    def targets(self) -> list[ModelRef]:
        return [self.primary, *self.shadows]

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "primary": _ref_to_dict(self.primary),
            "shadows": [_ref_to_dict(s) for s in self.shadows],
            "timeout_ms": self.timeout_ms,
        }


@dataclass(frozen=True)
class BlueGreenPolicy:
    blue: ModelRef
    green: ModelRef
    active: str = "blue"
    kind: Literal["blue-green"] = "blue-green"  # the wire tells the policies apart by it

    def __post_init__(self) -> None:
        if self.active not in ("blue", "green"):
            raise InvalidInput(f"active must be 'blue' or 'green', got {self.active!r}")
        if ref_label(self.blue) == ref_label(self.green):
            raise InvalidInput("blue and green must be different versions")

    @property
    def targets(self) -> list[ModelRef]:
        return [self.blue, self.green]

    @property
    def live(self) -> ModelRef:
        return self.blue if self.active == "blue" else self.green

    def switched(self) -> BlueGreenPolicy:
        return BlueGreenPolicy(self.blue, self.green, "green" if self.active == "blue" else "blue")

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "blue": _ref_to_dict(self.blue),
            "green": _ref_to_dict(self.green),
            "active": self.active,
        }


Policy = SinglePolicy | CanaryPolicy | ABPolicy | BanditPolicy | ShadowPolicy | BlueGreenPolicy


def policy_from_dict(data: dict[str, Any]) -> Policy:
    kind = data.get("kind")
    try:
        if kind == "single":
            return SinglePolicy(_ref_from_dict(data["target"]))
        if kind in ("canary", "ab", "bandit"):
            arms = tuple(Arm(_ref_from_dict(a), float(a["weight"])) for a in data["arms"])
            if kind == "canary":
                return CanaryPolicy(arms)
            if kind == "bandit":
                return BanditPolicy(arms, str(data["experiment"]))
            return ABPolicy(
                arms, data.get("key", "header:X-Shipyard-Key"), str(data.get("salt", ""))
            )
        if kind == "shadow":
            return ShadowPolicy(
                _ref_from_dict(data["primary"]),
                tuple(_ref_from_dict(s) for s in data["shadows"]),
                float(data.get("timeout_ms", 1000.0)),
            )
        if kind == "blue-green":
            return BlueGreenPolicy(
                _ref_from_dict(data["blue"]),
                _ref_from_dict(data["green"]),
                data.get("active", "blue"),
            )
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput(f"malformed {kind} policy: {exc}") from exc
    raise InvalidInput(f"unknown traffic policy kind {kind!r}; use one of {list(KINDS)}")


def single(spec: str) -> SinglePolicy:
    """``fraud@champion``, ``fraud/3`` or ``models:/...`` as a single-target policy."""
    return SinglePolicy(parse_model_spec(spec))


def parse_weights(spec: str) -> tuple[Arm, ...]:
    """``fraud/1=90,fraud/2=10`` → arms."""
    arms = []
    for part in spec.split(","):
        target, sep, weight = part.strip().rpartition("=")
        if not sep or not target:
            raise InvalidInput(
                f"expected MODEL=WEIGHT pairs like fraud/1=90,fraud/2=10; got {part.strip()!r}"
            )
        try:
            arms.append(Arm(parse_model_spec(target), float(weight)))
        except ValueError as exc:
            raise InvalidInput(f"weight {weight!r} of {target} is not a number") from exc
    return tuple(arms)


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


def primary_target(policy: Policy) -> ModelRef:
    """The version a deployment serves as its main answer: the live colour of a blue-green
    policy, else the first target (the single version, the canary's baseline arm, the
    A/B control, the shadow policy's primary). Batch jobs on a deployment score with it."""
    if isinstance(policy, BlueGreenPolicy):
        return policy.live
    return policy.targets[0]
