"""SQL for MLflow 3 logged models: the row, its tags and params, and its files.

A logged model is what ``mlflow.<flavor>.log_model`` creates before any
registration: a ``models:/m-<hex>`` id and files uploaded below it. Registering
one makes an ordinary model version from those files (``registry``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shipyard import entities
from shipyard.errors import NotFound
from shipyard.store.audit import now_ms, record_event
from shipyard.store.database import Database
from shipyard.store.schema import LoggedModel, LoggedModelFile


class LoggedModelNotFound(NotFound):
    def __init__(self, model_id: str) -> None:
        super().__init__(f"logged model {model_id!r} does not exist")
        self.model_id = model_id


class LoggedModelStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(
        self,
        model_id: str,
        *,
        experiment_id: int,
        name: str,
        source_run_id: str | None,
        model_type: str,
        tags: dict[str, str],
        params: dict[str, str],
        actor: str,
    ) -> entities.LoggedModel:
        with self.db.write() as session:
            now = now_ms()
            row = LoggedModel(
                id=model_id,
                experiment_id=experiment_id,
                name=name,
                source_run_id=source_run_id,
                model_type=model_type,
                status="LOGGED_MODEL_PENDING",
                lifecycle_stage="active",
                tags=dict(tags),
                params=dict(params),
                created_by=actor,
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            session.flush()
            record_event(
                session,
                actor=actor,
                action="logged_model.create",
                object_type="logged_model",
                object_id=model_id,
                details={"name": name, "experiment_id": experiment_id, "run_id": source_run_id},
            )
            return _entity(row)

    def get(self, model_id: str) -> entities.LoggedModel:
        with self.db.read() as session:
            return _entity(self._row(session, model_id))

    def search(
        self, experiment_ids: Sequence[int] | None, *, include_deleted: bool = False
    ) -> list[entities.LoggedModel]:
        with self.db.read() as session:
            query = select(LoggedModel).order_by(LoggedModel.created_at.desc(), LoggedModel.id)
            if experiment_ids is not None:
                query = query.where(LoggedModel.experiment_id.in_(list(experiment_ids)))
            if not include_deleted:
                query = query.where(LoggedModel.lifecycle_stage == "active")
            return [_entity(row) for row in session.scalars(query)]

    def update(
        self,
        model_id: str,
        *,
        actor: str,
        status: str | None = None,
        lifecycle_stage: str | None = None,
        set_tags: dict[str, str] | None = None,
        delete_tag: str | None = None,
        set_params: dict[str, str] | None = None,
    ) -> entities.LoggedModel:
        """Change status, tags, params or the lifecycle stage, audited as one event."""
        with self.db.write() as session:
            row = self._row(session, model_id)
            details: dict[str, Any] = {}
            if status is not None:
                row.status = details["status"] = status
            if lifecycle_stage is not None:
                row.lifecycle_stage = details["lifecycle_stage"] = lifecycle_stage
            if set_tags or delete_tag is not None:
                tags = dict(row.tags or {})
                tags.update(set_tags or {})
                if delete_tag is not None:
                    tags.pop(delete_tag, None)
                    details["deleted_tag"] = delete_tag
                row.tags = tags
                if set_tags:
                    details["tags"] = set_tags
            if set_params:
                row.params = {**(row.params or {}), **set_params}
                details["params"] = set_params
            row.updated_at = now_ms()
            session.flush()
            record_event(
                session,
                actor=actor,
                action="logged_model.update",
                object_type="logged_model",
                object_id=model_id,
                details=details,
            )
            return _entity(row)

    # -- files ------------------------------------------------------------------------
    def add_file(self, model_id: str, path: str, sha256: str, size: int, *, actor: str) -> None:
        with self.db.write() as session:
            self._row(session, model_id)
            current = session.get(LoggedModelFile, (model_id, path))
            if current is None:
                session.add(LoggedModelFile(model_id=model_id, path=path, sha256=sha256, size=size))
            else:
                current.sha256, current.size = sha256, size
            record_event(
                session,
                actor=actor,
                action="logged_model.artifact",
                object_type="logged_model",
                object_id=model_id,
                details={"path": path, "sha256": sha256, "size": size},
            )

    def files(self, model_id: str) -> list[entities.RunArtifact]:
        """The model's files (path, sha256, size), sorted by path."""
        with self.db.read() as session:
            self._row(session, model_id)
            rows = session.execute(
                select(LoggedModelFile.path, LoggedModelFile.sha256, LoggedModelFile.size)
                .where(LoggedModelFile.model_id == model_id)
                .order_by(LoggedModelFile.path)
            )
            return [entities.RunArtifact(path, sha, size) for path, sha, size in rows]

    def _row(self, session: Session, model_id: str) -> LoggedModel:
        row = session.get(LoggedModel, model_id)
        if row is None:
            raise LoggedModelNotFound(model_id)
        return row


def _entity(row: LoggedModel) -> entities.LoggedModel:
    return entities.LoggedModel(
        id=row.id,
        experiment_id=row.experiment_id,
        name=row.name,
        source_run_id=row.source_run_id,
        model_type=row.model_type,
        status=row.status,
        lifecycle_stage=row.lifecycle_stage,
        tags=dict(row.tags or {}),
        params=dict(row.params or {}),
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
