"""SQL for rollouts. Each state change, its policy change, an alias move and the
events that record it happen in one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shipyard.errors import Conflict, DeploymentNotFound, NotFound
from shipyard.store.audit import now_ms, record_event
from shipyard.store.audit_context import current_audit_context
from shipyard.store.database import Database
from shipyard.store.registry_store import RegistryStore
from shipyard.store.revision import bump_revision
from shipyard.store.schema import Deployment, Lease, Rollout, RolloutEvent

ACTIVE = ("running", "paused")


@dataclass(frozen=True)
class RolloutRecord:
    id: int
    deployment: str
    status: str
    spec: dict[str, Any]
    baseline_version: int
    candidate_version: int
    original_policy: dict[str, Any]
    step_index: int
    step_started_at: int
    reason: str
    created_by: str
    created_at: int
    updated_at: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class RolloutEventRecord:
    at: int
    kind: str
    step_index: int
    actor: str
    details: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class AliasMove:
    model: str
    alias: str
    version: int


class RolloutStore:
    def __init__(self, db: Database, registry: RegistryStore) -> None:
        self.db = db
        self.registry = registry

    def create(
        self,
        deployment: str,
        *,
        spec: dict[str, Any],
        baseline_version: int,
        candidate_version: int,
        first_policy: dict[str, Any],
        actor: str,
    ) -> RolloutRecord:
        with self.db.write() as session:
            query = select(Deployment).where(Deployment.name == deployment)
            if self.db.dialect == "postgresql":
                query = query.with_for_update()  # serializes rollout starts per deployment
            row = session.scalars(query).first()
            if row is None:
                raise DeploymentNotFound(deployment)
            active = session.scalars(
                select(Rollout).where(Rollout.deployment == deployment, Rollout.status.in_(ACTIVE))
            ).first()
            if active is not None:
                raise Conflict(
                    f"deployment {deployment!r} already has rollout {active.id} "
                    f"({active.status}); abort or finish it first"
                )
            now = now_ms()
            rollout = Rollout(
                deployment=deployment,
                status="running",
                spec=spec,
                baseline_version=baseline_version,
                candidate_version=candidate_version,
                original_policy=dict(row.policy),
                step_index=0,
                step_started_at=now,
                reason="",
                created_by=current_audit_context().actor or actor,
                created_at=now,
                updated_at=now,
            )
            session.add(rollout)
            session.flush()
            before = dict(row.policy)
            row.policy = first_policy
            row.updated_at = now
            bump_revision(session)
            session.add(
                RolloutEvent(
                    rollout_id=rollout.id,
                    at=now,
                    kind="start",
                    step_index=0,
                    actor=actor,
                    details={"policy": first_policy, "spec": spec},
                )
            )
            record_event(
                session,
                actor=actor,
                action="rollout.start",
                object_type="deployment",
                object_id=deployment,
                details={"rollout": rollout.id, "from": before, "to": first_policy},
            )
            return _record(rollout)

    def transition(
        self,
        rollout_id: int,
        *,
        kind: str,
        actor: str,
        details: dict[str, Any],
        status: str | None = None,
        step_index: int | None = None,
        policy: dict[str, Any] | None = None,
        alias_move: AliasMove | None = None,
        reason: str | None = None,
        expect_status: tuple[str, ...] = ACTIVE,
        lease: tuple[str, str] | None = None,
    ) -> RolloutRecord:
        """Apply one decision atomically; refuses if the rollout left ``expect_status``.

        ``lease`` (name, holder) fences a controller's decision: it is applied only
        if that holder still holds the lease, checked in the same transaction (the
        row locked on PostgreSQL, so a takeover waits for the decision to commit).
        A controller that stalled past its lease time thus cannot act beside the
        replica that took over; the event records the holder.
        """
        with self.db.write() as session:
            if lease is not None:
                _check_lease(session, self.db.dialect, *lease)
                details = {**details, "holder": lease[1]}
            rollout = session.get(Rollout, rollout_id)
            if rollout is None:
                raise NotFound(f"rollout {rollout_id} does not exist")
            if rollout.status not in expect_status:
                raise Conflict(f"rollout {rollout_id} is {rollout.status}; cannot {kind}")
            now = now_ms()
            if status is not None:
                rollout.status = status
            if step_index is not None:
                rollout.step_index = step_index
                rollout.step_started_at = now
            if reason is not None:
                rollout.reason = reason
            rollout.updated_at = now
            if policy is not None:
                deployment = session.scalars(
                    select(Deployment).where(Deployment.name == rollout.deployment)
                ).one()
                before = dict(deployment.policy)
                deployment.policy = policy
                deployment.updated_at = now
                details = {**details, "policy_from": before, "policy_to": policy}
                bump_revision(session)
            elif status is not None:
                bump_revision(session)  # serving processes export rollout status as metrics
            if alias_move is not None:
                previous = self.registry.set_alias_in(
                    session, alias_move.model, alias_move.alias, alias_move.version, actor=actor
                )
                details = {
                    **details,
                    "alias": alias_move.alias,
                    "alias_from": previous,
                    "alias_to": alias_move.version,
                }
            session.add(
                RolloutEvent(
                    rollout_id=rollout_id,
                    at=now,
                    kind=kind,
                    step_index=rollout.step_index,
                    actor=actor,
                    details=details,
                )
            )
            record_event(
                session,
                actor=actor,
                action=f"rollout.{kind}",
                object_type="deployment",
                object_id=rollout.deployment,
                details={"rollout": rollout_id, **details},
            )
            return _record(rollout)

    def note(self, rollout_id: int, *, kind: str, actor: str, details: dict[str, Any]) -> None:
        """An event that changes nothing (e.g. a step waiting for traffic)."""
        with self.db.write() as session:
            rollout = session.get(Rollout, rollout_id)
            if rollout is None:
                raise NotFound(f"rollout {rollout_id} does not exist")
            session.add(
                RolloutEvent(
                    rollout_id=rollout_id,
                    at=now_ms(),
                    kind=kind,
                    step_index=rollout.step_index,
                    actor=actor,
                    details=details,
                )
            )

    def get(self, rollout_id: int) -> RolloutRecord:
        with self.db.read() as session:
            rollout = session.get(Rollout, rollout_id)
            if rollout is None:
                raise NotFound(f"rollout {rollout_id} does not exist")
            return _record(rollout)

    def latest_for(self, deployment: str) -> RolloutRecord | None:
        with self.db.read() as session:
            rollout = session.scalars(
                select(Rollout)
                .where(Rollout.deployment == deployment)
                .order_by(Rollout.id.desc())
                .limit(1)
            ).first()
            return _record(rollout) if rollout else None

    def active(self) -> list[RolloutRecord]:
        with self.db.read() as session:
            return [
                _record(r)
                for r in session.scalars(
                    select(Rollout).where(Rollout.status.in_(ACTIVE)).order_by(Rollout.id)
                )
            ]

    def history(self, deployment: str | None = None) -> list[RolloutRecord]:
        with self.db.read() as session:
            query = select(Rollout).order_by(Rollout.id)
            if deployment is not None:
                query = query.where(Rollout.deployment == deployment)
            return [_record(r) for r in session.scalars(query)]

    def events(self, rollout_id: int) -> list[RolloutEventRecord]:
        with self.db.read() as session:
            return [
                RolloutEventRecord(e.at, e.kind, e.step_index, e.actor, dict(e.details))
                for e in session.scalars(
                    select(RolloutEvent)
                    .where(RolloutEvent.rollout_id == rollout_id)
                    .order_by(RolloutEvent.id)
                )
            ]


def _check_lease(session: Session, dialect: str, name: str, holder: str) -> None:
    query = select(Lease).where(Lease.name == name)
    if dialect == "postgresql":
        query = query.with_for_update()
    row = session.scalars(query).first()
    if row is None or row.holder != holder or row.expires_at < now_ms():
        raise Conflict(f"lease {name!r} is no longer held by {holder}; decision not applied")


def _record(row: Rollout) -> RolloutRecord:
    return RolloutRecord(
        id=row.id,
        deployment=row.deployment,
        status=row.status,
        spec=dict(row.spec),
        baseline_version=row.baseline_version,
        candidate_version=row.candidate_version,
        original_policy=dict(row.original_policy),
        step_index=row.step_index,
        step_started_at=row.step_started_at,
        reason=row.reason,
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
