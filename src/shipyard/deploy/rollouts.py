"""Rollouts: a deployment's policy changed step by step under automated analysis.

``start_rollout`` pins the baseline (what the deployment serves now) and the
candidate by version number, then sets the first canary step. The
``RolloutController`` - inside a serving process, exactly one at a time by
lease - evaluates every running rollout each tick, from statistics that all
serving processes flushed to the store:

- a failed check rolls back at once (the original policy returns);
- checks short of samples make the step wait; past the step deadline the
  rollout fails (rolls back) or pauses, as configured;
- all checks passing for at least ``interval_s`` advances to the next step;
  the last step promotes: the alias (or pinned version) moves to the candidate.

Every decision is one transaction (policy, alias, event, audit), so a
restarted server resumes from the store exactly where the rollout was.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from shipyard.deploy.analysis import CheckResult, Thresholds, analyze
from shipyard.deploy.policy import Arm, CanaryPolicy, SinglePolicy, policy_from_dict
from shipyard.errors import Conflict, InvalidInput
from shipyard.registry.uri import ModelRef, parse_model_spec
from shipyard.store import Store
from shipyard.store.audit import now_ms
from shipyard.store.leased_loop import LeasedLoop
from shipyard.store.rollout_store import AliasMove, RolloutRecord

logger = logging.getLogger(__name__)

LEASE = "rollout-controller"
STRATEGIES = ("canary",)


@dataclass(frozen=True)
class RolloutSpec:
    """What a rollout does; also readable from YAML/JSON (``shipyard rollout start --spec``)."""

    to: str
    strategy: str = "canary"
    steps: tuple[float, ...] = (5, 25, 50, 100)
    interval_s: float = 60.0
    deadline_s: float = 600.0
    on_deadline: str = "fail"  # fail | pause
    thresholds: Thresholds = field(default_factory=Thresholds)

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise InvalidInput(
                f"unknown strategy {self.strategy!r}; use one of {STRATEGIES} "
                "(switch blue-green deployments with `shipyard deployments switch`)"
            )
        if not self.steps or any(not 0 < s <= 100 for s in self.steps):
            raise InvalidInput(f"steps must be percentages in (0, 100], got {list(self.steps)}")
        if list(self.steps) != sorted(set(self.steps)) or self.steps[-1] != 100:
            raise InvalidInput(f"steps must increase and end at 100, got {list(self.steps)}")
        if self.interval_s <= 0 or self.deadline_s < self.interval_s:
            raise InvalidInput("interval_s must be > 0 and deadline_s >= interval_s")
        if self.on_deadline not in ("fail", "pause"):
            raise InvalidInput(f"on_deadline must be 'fail' or 'pause', got {self.on_deadline!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "to": self.to,
            "strategy": self.strategy,
            "steps": list(self.steps),
            "interval_s": self.interval_s,
            "deadline_s": self.deadline_s,
            "on_deadline": self.on_deadline,
            "thresholds": self.thresholds.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RolloutSpec:
        if not isinstance(data, dict) or "to" not in data:
            raise InvalidInput('a rollout spec is a mapping with at least "to"')
        unknown = set(data) - {
            "to",
            "strategy",
            "steps",
            "interval_s",
            "deadline_s",
            "on_deadline",
            "thresholds",
        }
        if unknown:
            raise InvalidInput(f"unknown rollout spec field(s): {sorted(unknown)}")
        return cls(
            to=str(data["to"]),
            strategy=data.get("strategy", "canary"),
            steps=tuple(float(s) for s in data.get("steps", (5, 25, 50, 100))),
            interval_s=float(data.get("interval_s", 60.0)),
            deadline_s=float(data.get("deadline_s", max(600.0, data.get("interval_s", 60) * 10))),
            on_deadline=data.get("on_deadline", "fail"),
            thresholds=Thresholds.from_dict(data.get("thresholds")),
        )


def parse_duration(text: str) -> float:
    """``60s``, ``5m``, ``1h``, ``1d`` or plain seconds."""
    units = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
    text = text.strip().lower()
    for suffix in ("ms", "s", "m", "h", "d"):
        if text.endswith(suffix):
            number, scale = text[: -len(suffix)], units[suffix]
            break
    else:
        number, scale = text, 1.0
    try:
        return float(number) * scale
    except ValueError:
        raise InvalidInput(f"cannot read duration {text!r}; use e.g. 30s, 5m, 1h") from None


def _canary(baseline: ModelRef, candidate: ModelRef, weight: float) -> dict[str, Any]:
    return CanaryPolicy((Arm(baseline, 100 - weight), Arm(candidate, weight))).to_dict()


def start_rollout(store: Store, deployment: str, spec: RolloutSpec, *, actor: str) -> RolloutRecord:
    current = policy_from_dict(store.deployments.get(deployment).policy)
    latest = store.rollouts.latest_for(deployment)
    if latest is not None and latest.status in ("running", "paused"):
        raise Conflict(
            f"deployment {deployment!r} already has rollout {latest.id} "
            f"({latest.status}); abort or finish it first"
        )
    if not isinstance(current, SinglePolicy):
        raise Conflict(
            f"deployment {deployment!r} has a {current.kind} policy; a rollout starts "
            "from a single version (set one with `shipyard deployments policy`)"
        )
    ref = current.target
    baseline = store.registry.get_version(ref.name, version=ref.version, alias=ref.alias)
    target = parse_model_spec(spec.to)
    candidate = store.registry.get_version(target.name, version=target.version, alias=target.alias)
    if candidate.name == baseline.name and candidate.version == baseline.version:
        raise Conflict(
            f"deployment {deployment!r} already serves {baseline.uri}; nothing to roll out"
        )
    baseline_ref = ModelRef(baseline.name, version=baseline.version)
    candidate_ref = ModelRef(candidate.name, version=candidate.version)
    return store.rollouts.create(
        deployment,
        spec=spec.to_dict(),
        baseline_version=baseline.version,
        candidate_version=candidate.version,
        first_policy=_canary(baseline_ref, candidate_ref, spec.steps[0]),
        actor=actor,
    )


def _refs(rollout: RolloutRecord) -> tuple[ModelRef, ModelRef, SinglePolicy]:
    """Baseline and candidate pinned by number, and the policy to return to."""
    original = policy_from_dict(rollout.original_policy)
    if not isinstance(original, SinglePolicy):
        raise Conflict(f"rollout {rollout.id} started from a {original.kind} policy")
    candidate_model = parse_model_spec(rollout.spec["to"]).name
    return (
        ModelRef(original.target.name, version=rollout.baseline_version),
        ModelRef(candidate_model, version=rollout.candidate_version),
        original,
    )


def promote(
    store: Store,
    rollout: RolloutRecord,
    *,
    actor: str,
    reason: str,
    lease: tuple[str, str] | None = None,
) -> RolloutRecord:
    """Move the alias (or the pinned version) to the candidate and end the rollout."""
    _, candidate, original = _refs(rollout)
    if original.target.alias is not None and original.target.name == candidate.name:
        move = AliasMove(candidate.name, original.target.alias, candidate.version or 0)
        policy = original.to_dict()  # keeps following the alias, which now points at it
    else:
        move = None
        policy = SinglePolicy(candidate).to_dict()
    return store.rollouts.transition(
        rollout.id,
        kind="promote",
        actor=actor,
        status="promoted",
        policy=policy,
        alias_move=move,
        reason=reason,
        details={"reason": reason},
        lease=lease,
    )


def rollback(
    store: Store,
    rollout: RolloutRecord,
    *,
    actor: str,
    reason: str,
    status: str = "rolled_back",
    checks: list[CheckResult] | None = None,
    lease: tuple[str, str] | None = None,
) -> RolloutRecord:
    details: dict[str, Any] = {"reason": reason}
    if checks is not None:
        details["checks"] = [c.to_dict() for c in checks]
    return store.rollouts.transition(
        rollout.id,
        kind="rollback" if status == "rolled_back" else status,
        actor=actor,
        status=status,
        policy=rollout.original_policy,
        reason=reason,
        details=details,
        lease=lease,
    )


def set_paused(store: Store, rollout: RolloutRecord, paused: bool, *, actor: str) -> RolloutRecord:
    if paused:
        return store.rollouts.transition(
            rollout.id,
            kind="pause",
            actor=actor,
            status="paused",
            details={},
            expect_status=("running",),
        )
    return store.rollouts.transition(
        rollout.id,
        kind="resume",
        actor=actor,
        status="running",
        step_index=rollout.step_index,
        details={},
        expect_status=("paused",),
    )


def evaluate(
    store: Store,
    rollout: RolloutRecord,
    *,
    actor: str = "rollout-controller",
    holder: str | None = None,
) -> tuple[str, list[CheckResult]]:
    """One controller decision for a running rollout: wait, advance, promote or roll back.

    With ``holder`` (the controller's lease holder) every decision is fenced by the
    lease and records who made it.
    """
    lease = (LEASE, holder) if holder is not None else None
    spec = RolloutSpec.from_dict(rollout.spec)
    checks = analyze(
        store,
        rollout.deployment,
        rollout.baseline_version,
        rollout.candidate_version,
        rollout.step_started_at,
        spec.thresholds,
    )
    failed = [c for c in checks if c.status == "fail"]
    waiting = [c for c in checks if c.status == "insufficient"]
    age_s = (now_ms() - rollout.step_started_at) / 1000
    step = spec.steps[rollout.step_index]
    if failed:
        reason = "; ".join(
            f"{c.name} {c.value:.4g} (needs {c.threshold})" for c in failed if c.value is not None
        )
        rollback(
            store,
            rollout,
            actor=actor,
            reason=f"step {step:g}% failed: {reason}",
            checks=checks,
            lease=lease,
        )
        return "rolled_back", checks
    if waiting:
        if age_s >= spec.deadline_s:
            reason = (
                f"step {step:g}% saw too little traffic in {spec.deadline_s:g} s: "
                + ", ".join(f"{c.name} {c.samples}/{c.min_samples}" for c in waiting)
            )
            if spec.on_deadline == "pause":
                store.rollouts.transition(
                    rollout.id,
                    kind="pause",
                    actor=actor,
                    status="paused",
                    reason=reason,
                    details={"reason": reason, "checks": [c.to_dict() for c in checks]},
                    lease=lease,
                )
                return "paused", checks
            rollback(store, rollout, actor=actor, reason=reason, checks=checks, lease=lease)
            return "rolled_back", checks
        return "waiting", checks
    if age_s < spec.interval_s:
        return "observing", checks
    baseline, candidate, _ = _refs(rollout)
    next_index = rollout.step_index + 1
    if next_index >= len(spec.steps) or spec.steps[next_index] >= 100:
        promote(store, rollout, actor=actor, reason=f"all checks passed at {step:g}%", lease=lease)
        return "promoted", checks
    weight = spec.steps[next_index]
    store.rollouts.transition(
        rollout.id,
        kind="advance",
        actor=actor,
        step_index=next_index,
        policy=_canary(baseline, candidate, weight),
        details={"from_step": step, "to_step": weight, "checks": [c.to_dict() for c in checks]},
        lease=lease,
    )
    return "advanced", checks


class RolloutController(LeasedLoop):
    """Runs ``evaluate`` for every running rollout, in the one process holding the lease."""

    lease = LEASE

    def __init__(
        self, store: Store, holder: str, *, tick_s: float = 1.0, lease_ttl_s: float = 10.0
    ) -> None:
        super().__init__(store, holder, tick_s=tick_s, lease_ttl_s=lease_ttl_s)
        self._last_prune = 0.0

    def work(self) -> None:
        """Blocking: one round of decisions, then housekeeping."""
        for rollout in self.store.rollouts.active():
            if rollout.status != "running":
                continue
            try:
                decision, _ = evaluate(self.store, rollout, holder=self.holder)
                if decision not in ("waiting", "observing"):
                    logger.info("rollout %s of %s: %s", rollout.id, rollout.deployment, decision)
            except Conflict:
                # changed by a person between read and write, or this process lost the
                # lease while it evaluated; the next tick (or the new holder) sees it
                continue
            except Exception as exc:
                logger.error("rollout %s: evaluation failed: %s", rollout.id, exc)
        if time.monotonic() - self._last_prune > 300:
            self.store.stats.prune(int(time.time()) - 6 * 3600)
            self._last_prune = time.monotonic()
