"""Choosing the version that answers a request, per traffic policy.

A ``Route`` holds the loaded models of every version its policy names, in
policy order, and answers two questions per request without I/O: which
model answers (``pick``), and which others get a mirrored copy to compare
(``mirrors``): a shadow policy mirrors the primary's requests to every
shadow; a canary mirrors requests answered by a new arm to the baseline
(arm 0), which is how a rollout measures agreement on live traffic; a bandit
picks at random by the weights its experiment's controller last wrote.
A/B assignment hashes the key (salted with the experiment's name when an
experiment set the policy) with a fixed function (crc32), so a key maps to the
same arm in every process and after every restart.
"""

from __future__ import annotations

import bisect
import dataclasses
import random
import zlib
from dataclasses import dataclass, field
from itertools import accumulate

from shipyard.deploy.policy import (
    ABPolicy,
    BanditPolicy,
    BlueGreenPolicy,
    CanaryPolicy,
    Policy,
    ShadowPolicy,
    ref_label,
)
from shipyard.entities import Deployment
from shipyard.errors import InvalidInput
from shipyard.monitoring.predlog import LogPolicy
from shipyard.serving.model import ServedModel

BUCKETS = 10_000


def ab_bucket(key: str) -> float:
    """A stable position in [0, 100) for a sticky key."""
    return (zlib.crc32(key.encode()) % BUCKETS) * 100 / BUCKETS


@dataclass(frozen=True)
class Route:
    deployment: Deployment
    policy: Policy
    models: tuple[ServedModel, ...]
    labels: tuple[str, ...]
    cumulative: tuple[float, ...] = ()
    mirrors: dict[int, tuple[int, ...]] = field(default_factory=dict)
    key_source: str | None = None  # "header" | "field"
    key_name: str | None = None
    key_column: int | None = None
    log_policy: LogPolicy | None = None
    salt: str = ""

    @classmethod
    def build(
        cls, deployment: Deployment, policy: Policy, models: tuple[ServedModel, ...]
    ) -> Route:
        route = cls._build(deployment, policy, models)
        return dataclasses.replace(
            route, log_policy=LogPolicy.from_dict(deployment.config.get("log"))
        )

    @classmethod
    def _build(
        cls, deployment: Deployment, policy: Policy, models: tuple[ServedModel, ...]
    ) -> Route:
        labels = tuple(ref_label(ref) for ref in policy.targets)
        if isinstance(policy, CanaryPolicy | ABPolicy | BanditPolicy):
            cumulative = tuple(accumulate(arm.weight for arm in policy.arms))
            mirrors: dict[int, tuple[int, ...]] = (
                {i: (0,) for i in range(1, len(models))} if isinstance(policy, CanaryPolicy) else {}
            )
            key_source = key_name = None
            key_column = None
            if isinstance(policy, ABPolicy):
                key_source, _, key_name = policy.key.partition(":")
                if key_source == "header":
                    key_name = key_name.lower()
                else:
                    columns = models[0].validator.columns
                    if key_name not in columns:
                        raise InvalidInput(
                            f"A/B key field {key_name!r} is not an input column of {labels[0]}"
                        )
                    key_column = columns.index(key_name)
            return cls(
                deployment,
                policy,
                models,
                labels,
                cumulative,
                mirrors,
                key_source,
                key_name,
                key_column,
                salt=policy.salt if isinstance(policy, ABPolicy) else "",
            )
        if isinstance(policy, ShadowPolicy):
            return cls(
                deployment, policy, models, labels, mirrors={0: tuple(range(1, len(models)))}
            )
        return cls(deployment, policy, models, labels)

    @property
    def primary(self) -> ServedModel:
        """The model whose signature requests are validated against."""
        if isinstance(self.policy, BlueGreenPolicy):
            return self.models[0 if self.policy.active == "blue" else 1]
        return self.models[0]

    def pick(self, key: str | None) -> int:
        policy = self.policy
        if isinstance(policy, CanaryPolicy | BanditPolicy):
            return self._arm(random.random() * 100)
        if isinstance(policy, ABPolicy):
            if key is None:
                where = (
                    f"the {self.key_name!r} header"
                    if self.key_source == "header"
                    else f"the input field {self.key_name!r}"
                )
                raise InvalidInput(
                    f"deployment {self.deployment.name!r} assigns A/B arms by "
                    f"{where}; send it with the request"
                )
            return self._arm(ab_bucket(self.salt + key if self.salt else key))
        if isinstance(policy, BlueGreenPolicy):
            return 0 if policy.active == "blue" else 1
        return 0

    def _arm(self, position: float) -> int:
        index = bisect.bisect_right(self.cumulative, position)
        return min(index, len(self.models) - 1)

    @property
    def shadow_timeout_s(self) -> float:
        if isinstance(self.policy, ShadowPolicy):
            return self.policy.timeout_ms / 1000
        return 5.0
