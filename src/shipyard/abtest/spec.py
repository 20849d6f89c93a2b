"""What an A/B experiment compares and how it decides, as typed objects.

Spelled on the command line as ``--metric outcome.clicked:rate``,
``--guardrail p99_ms<=50`` and ``--arms fraud/3=50,fraud/4=50``; stored as
JSON in the experiment row. The first metric is the primary one: the
decision is made on it; the others are reported beside it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from shipyard.deploy.policy import Arm, parse_weights, ref_label
from shipyard.errors import InvalidInput
from shipyard.registry.uri import ModelRef, parse_model_spec

#: Per-row metrics computed from a logged prediction and its label.
LABEL_METRICS = {"accuracy": "rate", "abs_error": "mean", "squared_error": "mean"}
#: Per-row metrics straight from the prediction log.
LOG_METRICS = {"latency_ms": "mean"}
LOWER_IS_BETTER = {"abs_error", "squared_error", "latency_ms"}
#: Guardrails read from the serving counters rather than from per-row metrics.
SERVING_GUARDRAILS = ("p50_ms", "p95_ms", "p99_ms", "error_rate")
KINDS = ("auto", "rate", "mean")
#: A bandit's exploration floor per arm (a share of traffic); why 0.01: ``abtest/bandit.py``.
DEFAULT_MIN_SHARE = 0.01
#: Largest move of one arm's share in one bandit update.
DEFAULT_MAX_STEP = 0.2
_OUTCOME = re.compile(r"^outcome\.[A-Za-z_][A-Za-z0-9_]{0,63}$")
_COVARIATE = re.compile(r"^(outcome|in)\.[A-Za-z_][A-Za-z0-9_ .-]{0,127}$")
_NUMBER = r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"
_GUARDRAIL = re.compile(rf"^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(<=|>=|<|>)\s*({_NUMBER})\s*$")


def _check_metric_name(name: str) -> None:
    if name in LABEL_METRICS or name in LOG_METRICS or _OUTCOME.match(name):
        return
    raise InvalidInput(
        f"unknown metric {name!r}: use accuracy, abs_error, squared_error, latency_ms "
        "or outcome.<name> (a business outcome sent as feedback)"
    )


@dataclass(frozen=True)
class MetricSpec:
    """One per-row metric: ``kind`` rate (0/1 values, two-proportion test) or mean
    (Welch); ``auto`` picks rate when every value is 0 or 1. ``pre`` names a pre-period
    covariate (``in.<input>`` or ``outcome.<name>``) for CUPED."""

    name: str
    kind: str = "auto"
    lower_is_better: bool = False
    pre: str | None = None

    def __post_init__(self) -> None:
        _check_metric_name(self.name)
        if self.kind not in KINDS:
            raise InvalidInput(
                f"metric {self.name}: kind must be one of {KINDS}, not {self.kind!r}"
            )
        if self.pre is not None and not _COVARIATE.match(self.pre):
            raise InvalidInput(
                f"metric {self.name}: the pre-period covariate must be in.<input column> or "
                f"outcome.<name>, not {self.pre!r}"
            )

    @classmethod
    def parse(cls, text: str) -> MetricSpec:
        """``accuracy``, ``outcome.clicked[:rate|mean|auto][:lower]``."""
        name, *options = [part.strip() for part in text.strip().split(":")]
        kind = LABEL_METRICS.get(name) or LOG_METRICS.get(name) or "auto"
        lower = name in LOWER_IS_BETTER
        for option in options:
            if option in KINDS:
                kind = option
            elif option in ("lower", "higher"):
                lower = option == "lower"
            else:
                raise InvalidInput(
                    f"cannot read metric {text!r}: after ':' use rate, mean, auto, lower or higher"
                )
        return cls(name, kind, lower)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MetricSpec:
        return cls(
            str(data["name"]),
            str(data.get("kind", "auto")),
            bool(data.get("lower_is_better", False)),
            data.get("pre"),
        )


@dataclass(frozen=True)
class Guardrail:
    """``p99_ms<=50``, ``error_rate<=0.01`` or a metric's mean, e.g. ``outcome.refund<=0.02``:
    a treatment arm that breaks it makes the experiment invalid."""

    metric: str
    op: str
    threshold: float

    def __post_init__(self) -> None:
        if self.metric not in SERVING_GUARDRAILS:
            _check_metric_name(self.metric)
        if self.op not in ("<=", ">=", "<", ">"):
            raise InvalidInput(f"guardrail {self.metric}: operator must be <=, >=, < or >")

    @classmethod
    def parse(cls, text: str) -> Guardrail:
        match = _GUARDRAIL.match(text) if isinstance(text, str) else None
        if match is None:
            raise InvalidInput(
                f"cannot read guardrail {text!r}; write e.g. p99_ms<=50 or error_rate<=0.01"
            )
        metric, op, threshold = match.groups()
        return cls(metric, op, float(threshold))

    def holds(self, value: float) -> bool:
        return {
            "<=": value <= self.threshold,
            ">=": value >= self.threshold,
            "<": value < self.threshold,
            ">": value > self.threshold,
        }[self.op]

    def __str__(self) -> str:
        return f"{self.metric}{self.op}{self.threshold:g}"

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class BanditSpec:
    """Thompson sampling on ``reward`` (an outcome in [0, 1]); weights move at most
    ``max_step`` (a share) per update, every arm keeps at least ``min_share``."""

    reward: str
    min_share: float = DEFAULT_MIN_SHARE
    update_every_s: float = 10.0
    max_step: float = DEFAULT_MAX_STEP

    def __post_init__(self) -> None:
        if not _OUTCOME.match(self.reward):
            raise InvalidInput(
                f"a bandit's reward is a business outcome, outcome.<name>, not {self.reward!r}"
            )
        if not 0 <= self.min_share < 1:
            raise InvalidInput(f"min_share must be in [0, 1), got {self.min_share}")
        if self.update_every_s <= 0:
            raise InvalidInput(f"update_every must be positive, got {self.update_every_s}")
        if not 0 < self.max_step <= 1:
            raise InvalidInput(f"max_step must be in (0, 1], got {self.max_step}")

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class ExperimentSpec:
    deployment: str
    arms: tuple[Arm, ...]
    metrics: tuple[MetricSpec, ...] = ()
    key: str = "header:X-Shipyard-Key"
    guardrails: tuple[Guardrail, ...] = ()
    min_samples: int = 1000
    alpha: float = 0.05
    power: float = 0.8
    min_effect: float = 0.05
    sequential: bool = False
    bandit: BanditSpec | None = None
    labels: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", tuple(ref_label(a.target) for a in self.arms))
        if len(self.arms) < 2:
            raise InvalidInput(f"an experiment needs at least two arms, got {len(self.arms)}")
        if len(set(self.labels)) != len(self.labels):
            raise InvalidInput(f"an experiment names an arm twice: {list(self.labels)}")
        if not self.metrics:
            raise InvalidInput("an experiment needs at least one --metric to decide on")
        if self.min_samples < 1:
            raise InvalidInput(f"min_samples must be at least 1, got {self.min_samples}")
        if not 0 < self.alpha < 0.5:
            raise InvalidInput(f"alpha must be in (0, 0.5), got {self.alpha}")
        if not 0.5 <= self.power < 1:
            raise InvalidInput(f"power must be in [0.5, 1), got {self.power}")
        if not self.min_effect > 0:
            raise InvalidInput(f"min_effect (relative) must be positive, got {self.min_effect}")
        if self.bandit is not None and self.bandit.min_share * len(self.arms) > 1:
            raise InvalidInput(
                f"min_share {self.bandit.min_share:g} x {len(self.arms)} arms exceeds all traffic"
            )

    @property
    def primary(self) -> MetricSpec:
        return self.metrics[0]

    @property
    def control(self) -> str:
        return self.labels[0]

    def to_dict(self) -> dict[str, Any]:
        return {
            "deployment": self.deployment,
            "arms": [a.to_dict() for a in self.arms],
            "metrics": [m.to_dict() for m in self.metrics],
            "key": self.key,
            "guardrails": [g.to_dict() for g in self.guardrails],
            "min_samples": self.min_samples,
            "alpha": self.alpha,
            "power": self.power,
            "min_effect": self.min_effect,
            "sequential": self.sequential,
            "bandit": self.bandit.to_dict() if self.bandit else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExperimentSpec:
        if not isinstance(data, dict) or "deployment" not in data or "arms" not in data:
            raise InvalidInput('an experiment spec is a mapping with "deployment" and "arms"')
        try:
            arms = tuple(
                Arm(
                    ModelRef(a["model"], version=a.get("version"), alias=a.get("alias")),
                    float(a.get("weight", 0)),
                )
                for a in data["arms"]
            )
            bandit = data.get("bandit")
            return cls(
                deployment=str(data["deployment"]),
                arms=arms,
                metrics=tuple(MetricSpec.from_dict(m) for m in data.get("metrics", ())),
                key=str(data.get("key", "header:X-Shipyard-Key")),
                guardrails=tuple(Guardrail(**g) for g in data.get("guardrails", ())),
                min_samples=int(data.get("min_samples", 1000)),
                alpha=float(data.get("alpha", 0.05)),
                power=float(data.get("power", 0.8)),
                min_effect=float(data.get("min_effect", 0.05)),
                sequential=bool(data.get("sequential", False)),
                bandit=BanditSpec(**bandit) if bandit else None,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(f"malformed experiment spec: {exc}") from exc


def parse_arms(text: str) -> tuple[Arm, ...]:
    """``fraud/3=50,fraud/4=50``, or ``fraud/3,fraud/4`` for equal shares."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if parts and all("=" not in p for p in parts):
        return tuple(Arm(parse_model_spec(p), 100 / len(parts)) for p in parts)
    return parse_weights(text)
