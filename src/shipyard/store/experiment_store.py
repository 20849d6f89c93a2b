"""SQL for A/B experiments. Starting or stopping one changes its deployment's policy
in the same transaction (with the audit event), so the routing table and the
experiment record never disagree; bandit weight updates go to a history table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select

from shipyard.errors import Conflict, DeploymentNotFound, NotFound
from shipyard.store.audit import now_ms, record_event
from shipyard.store.audit_context import current_audit_context
from shipyard.store.database import Database
from shipyard.store.revision import bump_revision
from shipyard.store.rollout_store import ACTIVE as ACTIVE_ROLLOUTS
from shipyard.store.schema import AbExperiment, AbWeights, Deployment, Rollout

#: How many bandit updates the history keeps per experiment (older ones are thinned).
HISTORY_LIMIT = 2_000


class ExperimentNotFound(NotFound):
    def __init__(self, name: str) -> None:
        super().__init__(f"A/B experiment {name!r} not found; list them with `shipyard ab status`")


@dataclass(frozen=True)
class ExperimentRecord:
    name: str
    deployment: str
    status: str  # running | stopped
    spec: dict[str, Any]
    original_policy: dict[str, Any]
    started_by: str
    started_at: int
    stopped_by: str | None
    stopped_at: int | None
    outcome: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class WeightsRecord:
    at: int
    weights: dict[str, float]
    rewards: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class ExperimentStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def start(
        self,
        name: str,
        deployment: str,
        spec: dict[str, Any],
        policy: dict[str, Any],
        *,
        actor: str,
    ) -> ExperimentRecord:
        with self.db.write() as session:
            query = select(Deployment).where(Deployment.name == deployment)
            if self.db.dialect == "postgresql":
                query = query.with_for_update()  # serializes starts per deployment
            row = session.scalars(query).first()
            if row is None:
                raise DeploymentNotFound(deployment)
            if session.get(AbExperiment, name) is not None:
                raise Conflict(f"an A/B experiment named {name!r} exists already; pick a new name")
            running = session.scalars(
                select(AbExperiment.name).where(
                    AbExperiment.deployment == deployment, AbExperiment.status == "running"
                )
            ).first()
            if running is not None:
                raise Conflict(
                    f"deployment {deployment!r} already runs experiment {running!r}; stop it first"
                )
            rollout = session.scalars(
                select(Rollout.id).where(
                    Rollout.deployment == deployment, Rollout.status.in_(ACTIVE_ROLLOUTS)
                )
            ).first()
            if rollout is not None:
                raise Conflict(
                    f"deployment {deployment!r} is in rollout {rollout}; finish or abort it first"
                )
            now = now_ms()
            record = AbExperiment(
                name=name,
                deployment=deployment,
                status="running",
                spec=spec,
                original_policy=dict(row.policy),
                started_by=current_audit_context().actor or actor,
                started_at=now,
            )
            session.add(record)
            row.policy = policy
            row.updated_at = now
            bump_revision(session)
            record_event(
                session,
                actor=actor,
                action="experiment.start",
                object_type="experiment",
                object_id=name,
                details={"deployment": deployment, "spec": spec, "policy": policy},
            )
            session.flush()
            return _record(record)

    def stop(
        self,
        name: str,
        *,
        actor: str,
        outcome: dict[str, Any],
        policy: dict[str, Any] | None = None,
        action: str = "experiment.stop",
    ) -> ExperimentRecord:
        """End a running experiment; the deployment gets ``policy`` (default: the one the
        experiment replaced)."""
        with self.db.write() as session:
            record = session.get(
                AbExperiment, name, with_for_update=self.db.dialect == "postgresql"
            )
            if record is None:
                raise ExperimentNotFound(name)
            if record.status != "running":
                raise Conflict(f"experiment {name!r} is {record.status} already")
            row = session.scalars(
                select(Deployment).where(Deployment.name == record.deployment)
            ).first()
            now = now_ms()
            record.status = "stopped"
            record.stopped_by = current_audit_context().actor or actor
            record.stopped_at = now
            record.outcome = outcome
            restored = policy if policy is not None else dict(record.original_policy)
            if row is not None:
                row.policy = restored
                row.updated_at = now
                bump_revision(session)
            record_event(
                session,
                actor=actor,
                action=action,
                object_type="experiment",
                object_id=name,
                details={"deployment": record.deployment, "policy": restored, **outcome},
            )
            return _record(record)

    def record_weights(
        self,
        name: str,
        weights: dict[str, float],
        rewards: dict[str, Any],
        policy: dict[str, Any] | None,
    ) -> bool:
        """A bandit update: the history row, and the new policy when ``policy`` is given.
        False (nothing written) when the experiment stopped meanwhile."""
        with self.db.write() as session:
            record = session.get(
                AbExperiment, name, with_for_update=self.db.dialect == "postgresql"
            )
            if record is None or record.status != "running":
                return False
            now = now_ms()
            latest = session.scalars(
                select(AbWeights.at)
                .where(AbWeights.experiment == name)
                .order_by(AbWeights.at.desc())
                .limit(1)
            ).first()
            at = max(now, (latest or 0) + 1)
            session.add(AbWeights(experiment=name, at=at, weights=weights, rewards=rewards))
            if policy is not None:
                row = session.scalars(
                    select(Deployment).where(Deployment.name == record.deployment)
                ).first()
                if row is not None:
                    row.policy = policy
                    row.updated_at = now
                    bump_revision(session)
            self._thin(session, name)
            return True

    @staticmethod
    def _thin(session: Any, name: str) -> None:
        """Keep the newest HISTORY_LIMIT updates (a 10 s cadence is ~5.5 hours of them)."""
        cutoff = session.scalars(
            select(AbWeights.at)
            .where(AbWeights.experiment == name)
            .order_by(AbWeights.at.desc())
            .offset(HISTORY_LIMIT)
            .limit(1)
        ).first()
        if cutoff is not None:
            session.execute(
                delete(AbWeights).where(AbWeights.experiment == name, AbWeights.at <= cutoff)
            )

    def weights(self, name: str) -> list[WeightsRecord]:
        with self.db.read() as session:
            return [
                WeightsRecord(r.at, dict(r.weights), dict(r.rewards))
                for r in session.scalars(
                    select(AbWeights).where(AbWeights.experiment == name).order_by(AbWeights.at)
                )
            ]

    def get(self, name: str) -> ExperimentRecord:
        with self.db.read() as session:
            record = session.get(AbExperiment, name)
            if record is None:
                raise ExperimentNotFound(name)
            return _record(record)

    def list(
        self, *, deployment: str | None = None, status: str | None = None
    ) -> list[ExperimentRecord]:
        query = select(AbExperiment).order_by(AbExperiment.started_at.desc())
        if deployment is not None:
            query = query.where(AbExperiment.deployment == deployment)
        if status is not None:
            query = query.where(AbExperiment.status == status)
        with self.db.read() as session:
            return [_record(r) for r in session.scalars(query)]

    def running_for(self, deployment: str) -> ExperimentRecord | None:
        found = self.list(deployment=deployment, status="running")
        return found[0] if found else None


def _record(row: AbExperiment) -> ExperimentRecord:
    return ExperimentRecord(
        name=row.name,
        deployment=row.deployment,
        status=row.status,
        spec=dict(row.spec),
        original_policy=dict(row.original_policy),
        started_by=row.started_by,
        started_at=row.started_at,
        stopped_by=row.stopped_by,
        stopped_at=row.stopped_at,
        outcome=dict(row.outcome) if row.outcome is not None else None,
    )
