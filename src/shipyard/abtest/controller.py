"""The bandit controller: recomputes each bandit experiment's weights from rewards.

Runs in exactly one process (a store lease), like the rollout controller. Every
``update_every_s`` it reads what every serving process logged for the
experiment, joins the rewards fed back since, draws Thompson-sampling weights
(with the exploration floor and the cap on one update's move) and writes them
as the deployment's policy: the routing tables of all replicas pick them up
like any policy change, so every replica routes alike.

Each round re-reads the experiment's log and feedback, so a new leader needs no
state from the old one. Segments already read are remembered (request id and
arm only), so a round costs the new segments plus one feedback query.
"""

from __future__ import annotations

import io
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from shipyard.abtest.spec import ExperimentSpec
from shipyard.deploy.policy import Arm, BanditPolicy
from shipyard.monitoring.predlog import PREFIX
from shipyard.store import Store
from shipyard.store.experiment_store import ExperimentRecord
from shipyard.store.leased_loop import LeasedLoop

if TYPE_CHECKING:
    from shipyard.abtest import bandit

logger = logging.getLogger(__name__)

LEASE = "bandit-controller"
#: A weight change smaller than this (a share) is recorded but not pushed to the routers.
MIN_CHANGE = 0.001


@dataclass
class ArmLedger:
    """Which arm answered each logged row of one experiment, read segment by segment."""

    seen: set[str] = field(default_factory=set)
    frames: list[pd.DataFrame] = field(default_factory=list)

    def update(
        self, store: Store, record: ExperimentRecord, labels: tuple[str, ...]
    ) -> pd.DataFrame:
        paths = store.artifacts.list_paths(f"{PREFIX}/deployment={record.deployment}")
        for path in sorted(set(paths) - self.seen):
            self.seen.add(path)
            if not path.endswith(".parquet"):
                continue
            table = pq.read_table(
                io.BytesIO(store.artifacts.read_path(path)),
                columns=["request_id", "row", "arm", "at_ms"],
            )
            frame = table.to_pandas()
            frame = frame[(frame["at_ms"] >= record.started_at) & frame["arm"].isin(labels)]
            if len(frame):
                self.frames.append(frame[["request_id", "row", "arm"]])
        if len(self.frames) > 1:
            self.frames = [pd.concat(self.frames, ignore_index=True)]
        return self.frames[0] if self.frames else pd.DataFrame(columns=["request_id", "row", "arm"])


def rewards_by_arm(
    store: Store, record: ExperimentRecord, spec: ExperimentSpec, arms: pd.DataFrame
) -> dict[str, bandit.ArmReward]:
    """Per arm, the rewards fed back for its rows so far."""
    # The statistics (scipy, scikit-learn's metrics) load at the first bandit round, not
    # with every serving process: a replica without bandits starts ~1 s sooner.
    from shipyard.abtest.report import arm_rewards

    assert spec.bandit is not None
    name = spec.bandit.reward.removeprefix("outcome.")
    feedback = [
        (f.request_id, f.row, f.outcome[name])
        for f in store.feedback.all_for(record.deployment, since_ms=record.started_at)
        if f.outcome and name in f.outcome
    ]
    rewards = pd.DataFrame(feedback, columns=["request_id", "row", spec.bandit.reward])
    return arm_rewards(arms.merge(rewards, on=["request_id", "row"], how="inner"), spec)


def update_weights(
    store: Store,
    record: ExperimentRecord,
    ledger: ArmLedger,
    rng: np.random.Generator | None = None,
) -> dict[str, float] | None:
    """One bandit update of ``record``; the new shares by arm (None if it stopped)."""
    from shipyard.abtest import bandit  # scipy: loaded at the first round (see above)

    spec = ExperimentSpec.from_dict(record.spec)
    assert spec.bandit is not None
    deployment = store.deployments.get(record.deployment)
    current = {
        label: float(arm["weight"]) / 100
        for label, arm in zip(spec.labels, deployment.policy.get("arms", []), strict=False)
    }
    previous = [current.get(label, 1 / len(spec.labels)) for label in spec.labels]
    rewards = rewards_by_arm(store, record, spec, ledger.update(store, record, spec.labels))
    shares = bandit.thompson_weights(
        [rewards[label] for label in spec.labels],
        previous=previous,
        min_share=spec.bandit.min_share,
        max_step=spec.bandit.max_step,
        rng=rng,
    )
    weights = dict(zip(spec.labels, shares, strict=True))
    moved = max(abs(a - b) for a, b in zip(shares, previous, strict=True)) >= MIN_CHANGE
    policy = None
    if moved:
        arms = tuple(
            Arm(arm.target, share * 100)
            for arm, share in zip(spec.arms, _percent(shares), strict=True)
        )
        policy = BanditPolicy(arms, record.name).to_dict()
    written = store.experiments.record_weights(
        record.name,
        weights,
        {label: {"successes": r.successes, "trials": r.trials} for label, r in rewards.items()},
        policy,
    )
    return weights if written else None


def _percent(shares: list[float]) -> list[float]:
    """Shares as fractions whose percentages sum to exactly 100 (the policy's check)."""
    rounded = [round(s, 6) for s in shares]
    rounded[-1] = round(1 - sum(rounded[:-1]), 6)
    return rounded


class BanditController(LeasedLoop):
    """Updates every running bandit experiment when its interval is due."""

    lease = LEASE

    def __init__(
        self, store: Store, holder: str, *, tick_s: float = 1.0, lease_ttl_s: float | None = None
    ) -> None:
        super().__init__(
            store, holder, tick_s=tick_s, lease_ttl_s=lease_ttl_s or max(tick_s * 10, 10.0)
        )
        self._ledgers: dict[str, ArmLedger] = {}
        self._last: dict[str, float] = {}

    def work(self) -> None:
        running = [r for r in self.store.experiments.list(status="running") if r.spec.get("bandit")]
        self._ledgers = {r.name: self._ledgers.get(r.name, ArmLedger()) for r in running}
        self._last = {r.name: self._last[r.name] for r in running if r.name in self._last}
        for record in running:
            every = float(record.spec["bandit"].get("update_every_s", 10.0))
            if time.monotonic() - self._last.get(record.name, 0.0) < every:
                continue
            self._last[record.name] = time.monotonic()
            try:
                update_weights(self.store, record, self._ledgers[record.name])
            except Exception as exc:  # one experiment's failure must not stop the others
                logger.error("bandit %s: update failed: %s", record.name, exc)
