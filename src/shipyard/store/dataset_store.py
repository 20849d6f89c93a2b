"""SQL for dataset versions: numbered per name, deduplicated by content hash."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError as SAIntegrityError

from shipyard.errors import NotFound
from shipyard.store.audit import now_ms, record_event
from shipyard.store.database import Database
from shipyard.store.schema import DatasetExpectations, DatasetVersion


@dataclass(frozen=True)
class DatasetRecord:
    name: str
    version: int
    sha256: str
    kind: str
    format: str
    rows: int
    size: int
    schema: dict[str, Any]
    profile_sha256: str
    source: str
    derived: dict[str, Any]
    created_by: str
    created_at: int

    @property
    def uri(self) -> str:
        return f"datasets:/{self.name}/{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "uri": self.uri}


def _record(row: DatasetVersion) -> DatasetRecord:
    return DatasetRecord(
        row.name,
        row.version,
        row.sha256,
        row.kind,
        row.format,
        row.rows,
        row.size,
        dict(row.schema),
        row.profile_sha256,
        row.source,
        dict(row.derived),
        row.created_by,
        row.created_at,
    )


class DatasetStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def find(self, name: str, sha256: str) -> DatasetRecord | None:
        with self.db.read() as session:
            row = session.scalars(
                select(DatasetVersion).where(
                    DatasetVersion.name == name, DatasetVersion.sha256 == sha256
                )
            ).first()
            return _record(row) if row else None

    def create(
        self,
        name: str,
        *,
        sha256: str,
        kind: str,
        format: str,
        rows: int,
        size: int,
        schema: dict[str, Any],
        profile_sha256: str,
        source: str,
        derived: dict[str, Any],
        actor: str,
    ) -> tuple[DatasetRecord, bool]:
        """The next version, or the existing one with the same content (created=False)."""
        try:
            with self.db.write() as session:
                existing = session.scalars(
                    select(DatasetVersion).where(
                        DatasetVersion.name == name, DatasetVersion.sha256 == sha256
                    )
                ).first()
                if existing is not None:
                    return _record(existing), False
                number = (
                    session.scalar(
                        select(func.max(DatasetVersion.version)).where(DatasetVersion.name == name)
                    )
                    or 0
                ) + 1
                row = DatasetVersion(
                    name=name,
                    version=number,
                    sha256=sha256,
                    kind=kind,
                    format=format,
                    rows=rows,
                    size=size,
                    schema=schema,
                    profile_sha256=profile_sha256,
                    source=source,
                    derived=derived,
                    created_by=actor,
                    created_at=now_ms(),
                )
                session.add(row)
                session.flush()
                record_event(
                    session,
                    actor=actor,
                    action="dataset.add",
                    object_type="dataset",
                    object_id=f"{name}/{number}",
                    details={"sha256": sha256, "rows": rows, "source": source},
                )
                return _record(row), True
        except SAIntegrityError:  # a concurrent add of the same content or number
            found = self.find(name, sha256)
            if found is not None:
                return found, False
            raise

    def get(self, name: str, version: int | None = None) -> DatasetRecord:
        with self.db.read() as session:
            query = select(DatasetVersion).where(DatasetVersion.name == name)
            query = (
                query.where(DatasetVersion.version == version)
                if version is not None
                else query.order_by(DatasetVersion.version.desc()).limit(1)
            )
            row = session.scalars(query).first()
            if row is None:
                what = f"version {version}" if version is not None else "versions"
                raise NotFound(
                    f"dataset {name!r} has no {what}"
                    if self.exists(name)
                    else f"dataset {name!r} does not exist"
                )
            return _record(row)

    def exists(self, name: str) -> bool:
        with self.db.read() as session:
            count = session.scalar(select(func.count()).where(DatasetVersion.name == name))
            return bool(count)

    def versions(
        self,
        name: str | None = None,
        *,
        limit: int | None = None,
        offset: int = 0,
        newest_first: bool = False,
    ) -> list[DatasetRecord]:
        """Versions by name and number (``newest_first``: numbers descending); ``limit`` and
        ``offset`` page in the query."""
        with self.db.read() as session:
            number = DatasetVersion.version.desc() if newest_first else DatasetVersion.version
            query = select(DatasetVersion).order_by(DatasetVersion.name, number)
            if name is not None:
                query = query.where(DatasetVersion.name == name)
            if limit is not None:
                query = query.limit(limit)
            if offset:
                query = query.offset(offset)
            return [_record(r) for r in session.scalars(query)]

    def latest(
        self, *, limit: int | None = None, offset: int = 0
    ) -> list[tuple[DatasetRecord, int]]:
        """Each dataset's newest version and how many versions it has, by name; ``limit``
        and ``offset`` page over datasets in the query."""
        with self.db.read() as session:
            newest = (
                select(
                    DatasetVersion.name,
                    func.max(DatasetVersion.version).label("version"),
                    func.count().label("versions"),
                )
                .group_by(DatasetVersion.name)
                .order_by(DatasetVersion.name)
            )
            if limit is not None:
                newest = newest.limit(limit)
            if offset:
                newest = newest.offset(offset)
            page = newest.subquery()
            query = (
                select(DatasetVersion, page.c.versions)
                .join(
                    page,
                    (DatasetVersion.name == page.c.name)
                    & (DatasetVersion.version == page.c.version),
                )
                .order_by(DatasetVersion.name)
            )
            return [(_record(row), int(count)) for row, count in session.execute(query)]

    def set_expectations(self, name: str, spec: dict[str, Any], *, actor: str) -> None:
        with self.db.write() as session:
            row = session.get(DatasetExpectations, name)
            if row is None:
                session.add(DatasetExpectations(name=name, spec=spec, updated_at=now_ms()))
            else:
                row.spec = spec
                row.updated_at = now_ms()
            record_event(
                session,
                actor=actor,
                action="dataset.expectations",
                object_type="dataset",
                object_id=name,
                details={},
            )

    def expectations(self, name: str) -> dict[str, Any] | None:
        with self.db.read() as session:
            row = session.get(DatasetExpectations, name)
            return dict(row.spec) if row else None
