"""SQL for models, versions, aliases (with history) and tags.

Version numbers come from ``models.latest_version``, bumped with
``UPDATE … RETURNING`` inside the registering transaction. The row lock (or
SQLite's write lock) serializes concurrent registrations, and a rolled-back
transaction gives its number back: versions are 1..N with no gaps.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from shipyard import entities
from shipyard.errors import Conflict, ModelNotFound
from shipyard.signature import Signature
from shipyard.store.audit import now_ms, record_event
from shipyard.store.database import Database
from shipyard.store.revision import bump_revision
from shipyard.store.schema import (
    Alias,
    AliasEvent,
    Model,
    ModelTag,
    ModelVersion,
    VersionTag,
)


@dataclass(frozen=True)
class NewVersion:
    """Everything a version stores, decided before the registering transaction."""

    flavor: str
    sha256: str
    size: int
    signature: Signature
    flavor_options: dict[str, Any]
    run_id: str | None
    metrics: dict[str, float]
    requirements: list[str]
    description: str
    tags: dict[str, str]


class RegistryStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def _insert(self, model: Any) -> Any:
        return postgresql.insert(model) if self.db.dialect == "postgresql" else sqlite.insert(model)

    # -- writes --------------------------------------------------------------------
    def create_version(
        self, name: str, new: NewVersion, *, actor: str, card: Any
    ) -> entities.ModelVersion:
        """Allocate the next number and insert the version, in one transaction.

        ``card(version_number) -> str`` renders the model card once the number
        is known, so the card always names the version it describes.
        """
        with self.db.write() as session:
            now = now_ms()
            session.execute(
                self._insert(Model)
                .values(name=name, description="", created_at=now, updated_at=now, latest_version=0)
                .on_conflict_do_nothing(index_elements=["name"])
            )
            model_id, number = session.execute(
                update(Model)
                .where(Model.name == name)
                .values(latest_version=Model.latest_version + 1, updated_at=now)
                .returning(Model.id, Model.latest_version)
            ).one()
            row = ModelVersion(
                model_id=model_id,
                version=number,
                flavor=new.flavor,
                artifact_sha256=new.sha256,
                size=new.size,
                signature=new.signature.to_dict(),
                flavor_options=new.flavor_options,
                run_id=new.run_id,
                metrics=new.metrics,
                requirements=new.requirements,
                model_card=card(number),
                description=new.description,
                created_at=now,
                created_by=actor,
            )
            session.add(row)
            session.flush()
            for key, value in new.tags.items():
                session.add(VersionTag(version_id=row.id, key=key, value=value))
            record_event(
                session,
                actor=actor,
                action="model_version.register",
                object_type="model_version",
                object_id=f"{name}/{number}",
                details={"sha256": new.sha256, "flavor": new.flavor, "run_id": new.run_id},
            )
            return _version(name, row, (), dict(new.tags))

    def create_model(
        self, name: str, *, description: str = "", tags: dict[str, str] | None = None, actor: str
    ) -> entities.RegisteredModel:
        """A registered model with no versions yet; ``Conflict`` if the name is taken."""
        with self.db.write() as session:
            if session.scalars(select(Model.id).where(Model.name == name)).first() is not None:
                raise Conflict(f"model {name!r} already exists")
            now = now_ms()
            model = Model(
                name=name, description=description, created_at=now, updated_at=now, latest_version=0
            )
            session.add(model)
            session.flush()
            for key, value in (tags or {}).items():
                session.add(ModelTag(model_id=model.id, key=key, value=value))
            record_event(
                session,
                actor=actor,
                action="model.create",
                object_type="model",
                object_id=name,
                details={"tags": dict(tags or {})},
            )
            return self._model_entity(session, model)

    def delete_tag(self, name: str, key: str, *, version: int | None, actor: str) -> None:
        """Remove a tag of the model (``version=None``) or of one version."""
        with self.db.write() as session:
            model = self._model(session, name)
            if version is None:
                session.execute(
                    delete(ModelTag).where(ModelTag.model_id == model.id, ModelTag.key == key)
                )
                object_type, object_id = "model", name
            else:
                row = self._version_row(session, model, version)
                session.execute(
                    delete(VersionTag).where(VersionTag.version_id == row.id, VersionTag.key == key)
                )
                object_type, object_id = "model_version", f"{name}/{version}"
            record_event(
                session,
                actor=actor,
                action=f"{object_type}.untag",
                object_type=object_type,
                object_id=object_id,
                details={"key": key},
            )

    def set_alias(self, name: str, alias: str, version: int, *, actor: str) -> int | None:
        """Point ``alias`` at ``version``; returns the version it pointed at before."""
        with self.db.write() as session:
            return self.set_alias_in(session, name, alias, version, actor=actor)

    def set_alias_in(
        self, session: Session, name: str, alias: str, version: int, *, actor: str
    ) -> int | None:
        """``set_alias`` inside a caller's transaction (a rollout's promotion)."""
        model = self._model(session, name)
        self._version_row(session, model, version)
        current = session.get(Alias, (model.id, alias))
        previous = current.version if current else None
        now = now_ms()
        if current is None:
            session.add(Alias(model_id=model.id, alias=alias, version=version, updated_at=now))
        else:
            current.version = version
            current.updated_at = now
        session.add(
            AliasEvent(
                model_id=model.id,
                alias=alias,
                version=version,
                previous_version=previous,
                actor=actor,
                at=now,
            )
        )
        bump_revision(session)
        record_event(
            session,
            actor=actor,
            action="alias.set",
            object_type="model",
            object_id=name,
            details={"alias": alias, "version": version, "previous_version": previous},
        )
        return previous

    def delete_alias(self, name: str, alias: str, *, actor: str) -> int:
        with self.db.write() as session:
            model = self._model(session, name)
            current = session.get(Alias, (model.id, alias))
            if current is None:
                raise ModelNotFound(name, alias=alias)
            previous = current.version
            session.delete(current)
            session.add(
                AliasEvent(
                    model_id=model.id,
                    alias=alias,
                    version=None,
                    previous_version=previous,
                    actor=actor,
                    at=now_ms(),
                )
            )
            bump_revision(session)
            record_event(
                session,
                actor=actor,
                action="alias.delete",
                object_type="model",
                object_id=name,
                details={"alias": alias, "previous_version": previous},
            )
            return previous

    def set_model_tag(self, name: str, key: str, value: str, *, actor: str) -> None:
        with self.db.write() as session:
            model = self._model(session, name)
            tag = session.get(ModelTag, (model.id, key))
            if tag is None:
                session.add(ModelTag(model_id=model.id, key=key, value=value))
            else:
                tag.value = value
            record_event(
                session,
                actor=actor,
                action="model.tag",
                object_type="model",
                object_id=name,
                details={key: value},
            )

    def set_version_tag(self, name: str, version: int, key: str, value: str, *, actor: str) -> None:
        with self.db.write() as session:
            row = self._version_row(session, self._model(session, name), version)
            tag = session.get(VersionTag, (row.id, key))
            if tag is None:
                session.add(VersionTag(version_id=row.id, key=key, value=value))
            else:
                tag.value = value
            record_event(
                session,
                actor=actor,
                action="model_version.tag",
                object_type="model_version",
                object_id=f"{name}/{version}",
                details={key: value},
            )

    def set_description(
        self, name: str, description: str, *, version: int | None, actor: str
    ) -> None:
        with self.db.write() as session:
            model = self._model(session, name)
            if version is None:
                model.description = description
                object_type, object_id = "model", name
            else:
                self._version_row(session, model, version).description = description
                object_type, object_id = "model_version", f"{name}/{version}"
            record_event(
                session,
                actor=actor,
                action=f"{object_type}.describe",
                object_type=object_type,
                object_id=object_id,
                details={"description": description},
            )

    # -- reads ---------------------------------------------------------------------
    def _model(self, session: Session, name: str) -> Model:
        model = session.scalars(select(Model).where(Model.name == name)).first()
        if model is None:
            raise ModelNotFound(name)
        return model

    def _version_row(self, session: Session, model: Model, version: int) -> ModelVersion:
        row = session.scalars(
            select(ModelVersion).where(
                ModelVersion.model_id == model.id, ModelVersion.version == version
            )
        ).first()
        if row is None:
            raise ModelNotFound(model.name, version=version)
        return row

    def get_version(
        self, name: str, *, version: int | None = None, alias: str | None = None
    ) -> entities.ModelVersion:
        """A version by number, by alias, or the latest when neither is given."""
        with self.db.read() as session:
            model = self._model(session, name)
            if alias is not None:
                pointer = session.get(Alias, (model.id, alias))
                if pointer is None:
                    raise ModelNotFound(name, alias=alias)
                version = pointer.version
            elif version is None:
                if model.latest_version == 0:
                    raise ModelNotFound(name, version=0)
                version = session.scalars(
                    select(ModelVersion.version)
                    .where(ModelVersion.model_id == model.id)
                    .order_by(ModelVersion.version.desc())
                    .limit(1)
                ).one()
            row = self._version_row(session, model, version)
            return self._hydrate(session, name, model.id, [row])[0]

    def list_versions(
        self, name: str, *, limit: int | None = None, offset: int = 0, newest_first: bool = False
    ) -> list[entities.ModelVersion]:
        """The versions in number order (``newest_first``: descending); ``limit`` and
        ``offset`` page in the query, so a page of 20 reads 20 rows however many exist."""
        with self.db.read() as session:
            model = self._model(session, name)
            order = ModelVersion.version.desc() if newest_first else ModelVersion.version
            query = select(ModelVersion).where(ModelVersion.model_id == model.id).order_by(order)
            if limit is not None:
                query = query.limit(limit)
            if offset:
                query = query.offset(offset)
            rows = list(session.scalars(query))
            return self._hydrate(session, name, model.id, rows)

    def versions_tagged(self, name: str, key: str, value: str) -> list[int]:
        """The numbers of the model's versions whose tag ``key`` is ``value`` (one indexed
        query, not every version hydrated)."""
        with self.db.read() as session:
            model = self._model(session, name)
            return list(
                session.scalars(
                    select(ModelVersion.version)
                    .join(VersionTag, VersionTag.version_id == ModelVersion.id)
                    .where(
                        ModelVersion.model_id == model.id,
                        VersionTag.key == key,
                        VersionTag.value == value,
                    )
                    .order_by(ModelVersion.version)
                )
            )

    def versions_from_runs(self, run_ids: list[str]) -> list[tuple[str, str, int]]:
        """(run id, model name, version number) of the versions registered from these runs."""
        if not run_ids:
            return []
        with self.db.read() as session:
            return [
                (run_id, name, version)
                for run_id, name, version in session.execute(
                    select(ModelVersion.run_id, Model.name, ModelVersion.version)
                    .join(Model, Model.id == ModelVersion.model_id)
                    .where(ModelVersion.run_id.in_(run_ids))
                    .order_by(Model.name, ModelVersion.version)
                )
                if run_id is not None
            ]

    def version_metrics(self, name: str) -> list[tuple[int, dict[str, float]]]:
        """Every version's number and registered metrics, oldest first (two columns only:
        no signature, card or tags, for a chart across versions)."""
        with self.db.read() as session:
            model = self._model(session, name)
            return [
                (version, dict(metrics or {}))
                for version, metrics in session.execute(
                    select(ModelVersion.version, ModelVersion.metrics)
                    .where(ModelVersion.model_id == model.id)
                    .order_by(ModelVersion.version)
                )
            ]

    def versions_of_run(self, run_id: str) -> list[entities.ModelVersion]:
        """Every version registered from the run ``run_id``, by model name then version."""
        with self.db.read() as session:
            rows = session.execute(
                select(ModelVersion, Model.name)
                .join(Model, Model.id == ModelVersion.model_id)
                .where(ModelVersion.run_id == run_id)
                .order_by(Model.name, ModelVersion.version)
            ).all()
            by_model: dict[tuple[int, str], list[ModelVersion]] = defaultdict(list)
            for row, name in rows:
                by_model[(row.model_id, name)].append(row)
            return [
                version
                for (model_id, name), versions in by_model.items()
                for version in self._hydrate(session, name, model_id, versions)
            ]

    def _hydrate(
        self, session: Session, name: str, model_id: int, rows: list[ModelVersion]
    ) -> list[entities.ModelVersion]:
        aliases: dict[int, list[str]] = defaultdict(list)
        for alias, version in session.execute(
            select(Alias.alias, Alias.version)
            .where(Alias.model_id == model_id)
            .order_by(Alias.alias)
        ):
            aliases[version].append(alias)
        tags: dict[int, dict[str, str]] = defaultdict(dict)
        ids = [row.id for row in rows]
        if ids:
            for version_id, key, value in session.execute(
                select(VersionTag.version_id, VersionTag.key, VersionTag.value).where(
                    VersionTag.version_id.in_(ids)
                )
            ):
                tags[version_id][key] = value
        return [_version(name, row, tuple(aliases[row.version]), tags[row.id]) for row in rows]

    def get_model(self, name: str) -> entities.RegisteredModel:
        with self.db.read() as session:
            return self._model_entity(session, self._model(session, name))

    def list_models(
        self, *, limit: int | None = None, offset: int = 0
    ) -> list[entities.RegisteredModel]:
        """Models by name; ``limit`` and ``offset`` page in the query."""
        with self.db.read() as session:
            query = select(Model).order_by(Model.name)
            if limit is not None:
                query = query.limit(limit)
            if offset:
                query = query.offset(offset)
            return [self._model_entity(session, m) for m in session.scalars(query)]

    def _model_entity(self, session: Session, model: Model) -> entities.RegisteredModel:
        aliases = dict(
            session.execute(
                select(Alias.alias, Alias.version)
                .where(Alias.model_id == model.id)
                .order_by(Alias.alias)
            ).all()
        )
        tags = dict(
            session.execute(
                select(ModelTag.key, ModelTag.value).where(ModelTag.model_id == model.id)
            ).all()
        )
        return entities.RegisteredModel(
            name=model.name,
            description=model.description,
            latest_version=model.latest_version,
            created_at=model.created_at,
            updated_at=model.updated_at,
            aliases=aliases,
            tags=tags,
        )

    def alias_history(
        self, name: str, alias: str | None = None, *, limit: int | None = None
    ) -> list[entities.AliasChange]:
        """Alias changes, oldest first; ``limit``: only the newest ``limit`` of them."""
        with self.db.read() as session:
            model = self._model(session, name)
            query = select(AliasEvent).where(AliasEvent.model_id == model.id)
            if alias is not None:
                query = query.where(AliasEvent.alias == alias)
            if limit is not None:
                query = query.order_by(AliasEvent.id.desc()).limit(limit)
                events = list(session.scalars(query))[::-1]
            else:
                events = list(session.scalars(query.order_by(AliasEvent.id)))
            return [
                entities.AliasChange(e.alias, e.version, e.previous_version, e.actor, e.at)
                for e in events
            ]


def _version(
    name: str, row: ModelVersion, aliases: tuple[str, ...], tags: dict[str, str]
) -> entities.ModelVersion:
    return entities.ModelVersion(
        name=name,
        version=row.version,
        flavor=row.flavor,
        sha256=row.artifact_sha256,
        size=row.size,
        signature=Signature.from_dict(row.signature),
        created_at=row.created_at,
        created_by=row.created_by,
        run_id=row.run_id,
        metrics=dict(row.metrics or {}),
        requirements=tuple(row.requirements or ()),
        model_card=row.model_card,
        description=row.description,
        flavor_options=dict(row.flavor_options or {}),
        aliases=aliases,
        tags=dict(tags),
    )
