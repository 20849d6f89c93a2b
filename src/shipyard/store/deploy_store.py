"""SQL for deployments. Every change bumps the store revision, in the same transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError as SAIntegrityError

from shipyard import entities
from shipyard.errors import Conflict, DeploymentNotFound
from shipyard.store.audit import now_ms, record_event
from shipyard.store.database import Database
from shipyard.store.revision import bump_revision, read_revision
from shipyard.store.rollout_store import ACTIVE as ACTIVE_ROLLOUTS
from shipyard.store.schema import Deployment, Rollout


class DeployStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def revision(self) -> int:
        return read_revision(self.db)

    def create(
        self,
        name: str,
        policy: dict[str, Any],
        config: dict[str, Any],
        description: str,
        *,
        actor: str,
    ) -> entities.Deployment:
        try:
            with self.db.write() as session:
                if session.scalars(select(Deployment).where(Deployment.name == name)).first():
                    raise Conflict(f"deployment {name!r} already exists; update it instead")
                now = now_ms()
                row = Deployment(
                    name=name,
                    policy=policy,
                    config=config,
                    description=description,
                    created_at=now,
                    updated_at=now,
                )
                session.add(row)
                bump_revision(session)
                record_event(
                    session,
                    actor=actor,
                    action="deployment.create",
                    object_type="deployment",
                    object_id=name,
                    details={"policy": policy, "config": config},
                )
                session.flush()
                return _deployment(row)
        except SAIntegrityError as exc:
            raise Conflict(f"deployment {name!r} already exists; update it instead") from exc

    def update(
        self,
        name: str,
        *,
        policy: dict[str, Any] | None = None,
        config: dict[str, Any] | None = None,
        description: str | None = None,
        actor: str,
    ) -> entities.Deployment:
        with self.db.write() as session:
            row = session.scalars(select(Deployment).where(Deployment.name == name)).first()
            if row is None:
                raise DeploymentNotFound(name)
            before = {"policy": row.policy, "config": row.config}
            if policy is not None:
                row.policy = policy
            if config is not None:
                row.config = config
            if description is not None:
                row.description = description
            row.updated_at = now_ms()
            bump_revision(session)
            record_event(
                session,
                actor=actor,
                action="deployment.update",
                object_type="deployment",
                object_id=name,
                details={"before": before, "after": {"policy": row.policy, "config": row.config}},
            )
            return _deployment(row)

    def delete(self, name: str, *, actor: str) -> None:
        with self.db.write() as session:
            row = session.scalars(select(Deployment).where(Deployment.name == name)).first()
            if row is None:
                raise DeploymentNotFound(name)
            active = session.scalars(
                select(Rollout.id).where(
                    Rollout.deployment == name, Rollout.status.in_(ACTIVE_ROLLOUTS)
                )
            ).first()
            if active is not None:
                # The rollout would be left driving a policy that no longer exists.
                raise Conflict(
                    f"deployment {name!r} has rollout {active} under way; abort it first"
                )
            session.delete(row)
            bump_revision(session)
            record_event(
                session,
                actor=actor,
                action="deployment.delete",
                object_type="deployment",
                object_id=name,
                details={},
            )

    def get(self, name: str) -> entities.Deployment:
        with self.db.read() as session:
            row = session.scalars(select(Deployment).where(Deployment.name == name)).first()
            if row is None:
                raise DeploymentNotFound(name)
            return _deployment(row)

    def list(self) -> list[entities.Deployment]:
        with self.db.read() as session:
            return [
                _deployment(r)
                for r in session.scalars(select(Deployment).order_by(Deployment.name))
            ]


def _deployment(row: Deployment) -> entities.Deployment:
    return entities.Deployment(
        name=row.name,
        policy=dict(row.policy),
        config=dict(row.config),
        description=row.description,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
