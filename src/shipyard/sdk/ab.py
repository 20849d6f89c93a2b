"""The ``shipyard.Client`` methods for A/B experiments (kept apart so client.py stays small).

The statistics (scipy) and the prediction-log readers are imported on first use.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from shipyard.abtest.spec import (
    DEFAULT_MIN_SHARE,
    BanditSpec,
    ExperimentSpec,
    Guardrail,
    MetricSpec,
    parse_arms,
)
from shipyard.deploy.rollouts import RolloutSpec
from shipyard.sdk.operations import operation
from shipyard.security.permissions import Permission as P

if TYPE_CHECKING:
    from shipyard.abtest.report import ExperimentReport
    from shipyard.store import Store
    from shipyard.store.experiment_store import ExperimentRecord
    from shipyard.store.rollout_store import RolloutRecord


def _service() -> Any:
    from shipyard.abtest import service

    return service


class ABMethods:
    store: Store

    @property
    def actor(self) -> str:
        raise NotImplementedError  # the Client says who is acting

    @operation(P.DEPLOY)
    def ab_start(
        self,
        name: str,
        *,
        deployment: str,
        arms: str,
        metrics: Sequence[str] = (),
        key: str = "header:X-Shipyard-Key",
        guardrails: Sequence[str] = (),
        min_samples: int = 1000,
        alpha: float = 0.05,
        power: float = 0.8,
        min_effect: float = 0.05,
        sequential: bool = False,
        pre: dict[str, str] | None = None,
        bandit: bool = False,
        reward: str | None = None,
        min_share: float = DEFAULT_MIN_SHARE,
        update_every_s: float = 10.0,
        max_step: float = 0.2,
    ) -> ExperimentRecord:
        """Start an experiment on ``deployment``: ``arms`` like ``fraud/3=50,fraud/4=50``
        (the first is the control), ``metrics`` like ``accuracy`` or
        ``outcome.clicked:rate`` (the first decides), ``guardrails`` like ``p99_ms<=50``;
        ``pre`` maps a metric to its pre-period covariate for CUPED. With ``bandit``,
        Thompson sampling on ``reward`` (an outcome in [0, 1]) moves the weights."""
        parsed = [MetricSpec.parse(m) for m in metrics]
        for metric, covariate in (pre or {}).items():
            index = next((i for i, m in enumerate(parsed) if m.name == metric), None)
            if index is None:
                parsed.append(MetricSpec(metric, pre=covariate))
            else:
                parsed[index] = replace(parsed[index], pre=covariate)
        bandit_spec = None
        if bandit:
            from shipyard.errors import InvalidInput

            if reward is None:
                raise InvalidInput("a bandit experiment needs a reward, e.g. outcome.clicked")
            bandit_spec = BanditSpec(reward, min_share, update_every_s, max_step)
            if not parsed:
                parsed = [MetricSpec(reward)]
        spec = ExperimentSpec(
            deployment=deployment,
            arms=parse_arms(arms),
            metrics=tuple(parsed),
            key=key,
            guardrails=tuple(Guardrail.parse(g) for g in guardrails),
            min_samples=min_samples,
            alpha=alpha,
            power=power,
            min_effect=min_effect,
            sequential=sequential,
            bandit=bandit_spec,
        )
        return self.ab_start_spec(name, spec)

    @operation(P.DEPLOY)
    def ab_start_spec(self, name: str, spec: ExperimentSpec) -> ExperimentRecord:
        """Start an experiment from a typed spec (the control API's entry point)."""
        return _service().start_experiment(self.store, name, spec, actor=self.actor)

    @operation(P.READ)
    def ab_list(
        self, *, deployment: str | None = None, status: str | None = None
    ) -> list[ExperimentRecord]:
        return self.store.experiments.list(deployment=deployment, status=status)

    @operation(P.READ)
    def ab_status(self, name: str) -> ExperimentRecord:
        return self.store.experiments.get(name)

    @operation(P.READ_PREDICTIONS)
    def ab_report(self, name: str) -> ExperimentReport:
        """Per arm and metric: counts, means, the difference to the control with its
        interval and p-value, the sample-ratio check, guardrails and a decision."""
        return _service().report(self.store, name)

    @operation(P.DEPLOY)
    def ab_stop(self, name: str, *, reason: str = "") -> ExperimentRecord:
        """Stop it; the deployment returns to the policy it had before."""
        return _service().stop_experiment(self.store, name, actor=self.actor, reason=reason)

    @operation(P.DEPLOY)
    def ab_promote(
        self, name: str, *, rollout: RolloutSpec | dict[str, Any] | None = None
    ) -> tuple[ExperimentReport, RolloutRecord | None]:
        """Stop the experiment and start a canary rollout of its winner (None when the
        control won: nothing to roll out). ``rollout`` sets the rollout's steps and checks."""
        if isinstance(rollout, dict):
            rollout = RolloutSpec.from_dict({"to": "-", **rollout})
        return _service().promote_winner(self.store, name, actor=self.actor, rollout=rollout)
