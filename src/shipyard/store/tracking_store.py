"""SQL for experiments, runs, params, metrics, tags, run artifacts and inputs."""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    bindparam,
    delete,
    exists,
    false,
    insert,
    not_,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError as SAIntegrityError
from sqlalchemy.orm import Session

from shipyard import entities
from shipyard.errors import Conflict, ExperimentNotFound, InvalidFilter, RunNotFound
from shipyard.query import BoolOp, Comparison, Expression, OrderBy
from shipyard.store.audit import now_ms, record_event
from shipyard.store.database import Database
from shipyard.store.schema import (
    Base,
    Experiment,
    ExperimentTag,
    LatestMetric,
    Metric,
    Param,
    Run,
    RunArtifact,
    RunInput,
    RunTag,
)

_CHUNK = 500


class TrackingStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- experiments ---------------------------------------------------------
    def ensure_experiment(self, name: str, *, actor: str) -> entities.Experiment:
        with self.db.read() as session:
            row = session.scalars(select(Experiment).where(Experiment.name == name)).first()
        if row is not None:
            return _experiment(row)
        try:
            with self.db.write() as session:
                row = session.scalars(select(Experiment).where(Experiment.name == name)).first()
                if row is None:
                    row = Experiment(name=name, created_at=now_ms())
                    session.add(row)
                    session.flush()
                    record_event(
                        session,
                        actor=actor,
                        action="experiment.create",
                        object_type="experiment",
                        object_id=name,
                    )
                return _experiment(row)
        except SAIntegrityError:  # created concurrently by another process
            with self.db.read() as session:
                row = session.scalars(select(Experiment).where(Experiment.name == name)).one()
                return _experiment(row)

    def list_experiments(self) -> list[entities.Experiment]:
        with self.db.read() as session:
            rows = list(session.scalars(select(Experiment).order_by(Experiment.id)))
            tags: dict[int, dict[str, str]] = defaultdict(dict)
            for experiment_id, key, value in session.execute(
                select(ExperimentTag.experiment_id, ExperimentTag.key, ExperimentTag.value)
            ):
                tags[experiment_id][key] = value
            return [_experiment(r, tags[r.id]) for r in rows]

    def get_experiment(
        self, *, experiment_id: int | None = None, name: str | None = None
    ) -> entities.Experiment:
        """One experiment by id or by name, with its tags."""
        with self.db.read() as session:
            return self._experiment_entity(
                session, self._experiment_row(session, experiment_id, name)
            )

    def _experiment_row(
        self, session: Session, experiment_id: int | None, name: str | None
    ) -> Experiment:
        if experiment_id is not None:
            row = session.get(Experiment, experiment_id)
        else:
            row = session.scalars(select(Experiment).where(Experiment.name == name)).first()
        if row is None:
            raise ExperimentNotFound(str(experiment_id if experiment_id is not None else name))
        return row

    def _experiment_entity(self, session: Session, row: Experiment) -> entities.Experiment:
        tags = dict(
            session.execute(
                select(ExperimentTag.key, ExperimentTag.value).where(
                    ExperimentTag.experiment_id == row.id
                )
            ).all()
        )
        return _experiment(row, tags)

    def create_experiment(
        self, name: str, *, tags: dict[str, str] | None = None, actor: str
    ) -> entities.Experiment:
        """A new experiment; ``Conflict`` when the name is taken (even by a deleted one)."""
        try:
            with self.db.write() as session:
                if session.scalars(select(Experiment.id).where(Experiment.name == name)).first():
                    raise Conflict(f"experiment {name!r} already exists")
                row = Experiment(name=name, created_at=now_ms(), lifecycle_stage="active")
                session.add(row)
                session.flush()
                for key, value in (tags or {}).items():
                    session.add(ExperimentTag(experiment_id=row.id, key=key, value=value))
                record_event(
                    session,
                    actor=actor,
                    action="experiment.create",
                    object_type="experiment",
                    object_id=name,
                )
                return _experiment(row, dict(tags or {}))
        except SAIntegrityError:
            raise Conflict(f"experiment {name!r} already exists") from None

    def update_experiment(
        self,
        experiment_id: int,
        *,
        name: str | None = None,
        lifecycle_stage: str | None = None,
        actor: str,
    ) -> None:
        """Rename, delete (soft) or restore an experiment."""
        try:
            with self.db.write() as session:
                row = self._experiment_row(session, experiment_id, None)
                details: dict[str, Any] = {}
                if name is not None and name != row.name:
                    details["renamed_from"] = row.name
                    row.name = name
                if lifecycle_stage is not None:
                    row.lifecycle_stage = lifecycle_stage
                    details["lifecycle_stage"] = lifecycle_stage
                session.flush()
                record_event(
                    session,
                    actor=actor,
                    action="experiment.update",
                    object_type="experiment",
                    object_id=row.name,
                    details=details,
                )
        except SAIntegrityError:
            raise Conflict(f"experiment {name!r} already exists") from None

    def set_experiment_tag(
        self, experiment_id: int, key: str, value: str | None, *, actor: str
    ) -> None:
        """Set a tag (``value=None`` deletes it)."""
        with self.db.write() as session:
            row = self._experiment_row(session, experiment_id, None)
            session.execute(
                delete(ExperimentTag).where(
                    ExperimentTag.experiment_id == row.id, ExperimentTag.key == key
                )
            )
            if value is not None:
                session.add(ExperimentTag(experiment_id=row.id, key=key, value=value))
            record_event(
                session,
                actor=actor,
                action="experiment.tag" if value is not None else "experiment.untag",
                object_type="experiment",
                object_id=row.name,
                details={key: value},
            )

    # -- runs -----------------------------------------------------------------
    def create_run(
        self,
        *,
        run_id: str,
        experiment_id: int,
        name: str,
        user: str,
        start_time: int,
        git_commit: str | None,
        source: str | None,
        params: dict[str, str],
        tags: dict[str, str],
    ) -> None:
        with self.db.write() as session:
            session.add(
                Run(
                    id=run_id,
                    experiment_id=experiment_id,
                    name=name,
                    status=entities.RunStatus.RUNNING,
                    start_time=start_time,
                    user=user,
                    git_commit=git_commit,
                    source=source,
                )
            )
            session.flush()
            self._write_batch(session, run_id, params, [], tags)
            record_event(
                session,
                actor=user,
                action="run.start",
                object_type="run",
                object_id=run_id,
                details={"name": name},
            )

    def log_batch(
        self,
        run_id: str,
        *,
        params: dict[str, str] | None = None,
        metrics: Sequence[entities.MetricPoint] = (),
        tags: dict[str, str] | None = None,
    ) -> None:
        with self.db.write() as session:
            self._require_run(session, run_id)
            self._write_batch(session, run_id, params or {}, metrics, tags or {})

    def end_run(
        self,
        run_id: str,
        *,
        status: str,
        end_time: int,
        error: str | None,
        actor: str,
        params: dict[str, str] | None = None,
        metrics: Sequence[entities.MetricPoint] = (),
        tags: dict[str, str] | None = None,
    ) -> None:
        """Flush what is left and close the run, in one transaction."""
        with self.db.write() as session:
            # The UPDATE's row count doubles as the existence check (no ORM load of the run).
            table = Base.metadata.tables["runs"]
            closed = session.connection().execute(
                update(table)
                .where(table.c.id == run_id)
                .values(status=status, end_time=end_time, error=error)
            )
            if closed.rowcount == 0:
                raise RunNotFound(run_id)
            self._write_batch(session, run_id, params or {}, metrics, tags or {})
            record_event(
                session,
                actor=actor,
                action="run.end",
                object_type="run",
                object_id=run_id,
                details={"status": status, "error": error},
            )

    def update_run(
        self,
        run_id: str,
        *,
        status: str | None = None,
        end_time: int | None = None,
        name: str | None = None,
        lifecycle_stage: str | None = None,
        actor: str,
    ) -> None:
        """Change a run's status, end time, name or lifecycle stage (soft delete/restore)."""
        values: dict[str, Any] = {
            k: v
            for k, v in {
                "status": status,
                "end_time": end_time,
                "name": name,
                "lifecycle_stage": lifecycle_stage,
            }.items()
            if v is not None
        }
        with self.db.write() as session:
            table = Base.metadata.tables["runs"]
            if values:
                changed = session.connection().execute(
                    update(table).where(table.c.id == run_id).values(**values)
                )
                if changed.rowcount == 0:
                    raise RunNotFound(run_id)
            else:
                self._require_run(session, run_id)
            record_event(
                session,
                actor=actor,
                action="run.update",
                object_type="run",
                object_id=run_id,
                details=values,
            )

    def delete_run_tag(self, run_id: str, key: str, *, actor: str) -> None:
        with self.db.write() as session:
            self._require_run(session, run_id)
            session.execute(delete(RunTag).where(RunTag.run_id == run_id, RunTag.key == key))
            record_event(
                session,
                actor=actor,
                action="run.untag",
                object_type="run",
                object_id=run_id,
                details={"key": key},
            )

    def _require_run(self, session: Session, run_id: str) -> None:
        # A one-column Core select: loading the ORM row cost ~2 ms per logged value.
        if session.execute(self._run_exists, {"run_id": run_id}).first() is None:
            raise RunNotFound(run_id)

    def _write_batch(
        self,
        session: Session,
        run_id: str,
        params: dict[str, str],
        metrics: Sequence[entities.MetricPoint],
        tags: dict[str, str],
    ) -> None:
        if params:
            self._insert_params(session, run_id, params)
        if metrics:
            # Core insert of the table, not the ORM entity: the same SQL through one
            # executemany, without the ORM's per-row bookkeeping (~40% of a flush).
            session.execute(
                insert(Base.metadata.tables["metrics"]),
                [
                    {
                        "run_id": run_id,
                        "key": m.key,
                        "value": m.value,
                        "step": m.step,
                        "timestamp": m.timestamp,
                    }
                    for m in metrics
                ],
            )
            self._upsert_latest(session, run_id, metrics)
        if tags:
            self._upsert(
                session,
                RunTag,
                [{"run_id": run_id, "key": k, "value": v} for k, v in tags.items()],
                ["run_id", "key"],
                ["value"],
            )

    def _insert_params(self, session: Session, run_id: str, params: dict[str, str]) -> None:
        existing = dict(
            session.execute(
                select(Param.key, Param.value).where(
                    Param.run_id == run_id, Param.key.in_(list(params))
                )
            ).all()
        )
        for key, value in params.items():
            if key in existing and existing[key] != value:
                raise Conflict(
                    f"param {key!r} of run {run_id} is already {existing[key]!r}; params are "
                    f"immutable, cannot set it to {value!r} (log a metric or tag instead)"
                )
        new = [
            {"run_id": run_id, "key": k, "value": v} for k, v in params.items() if k not in existing
        ]
        if new:
            session.execute(insert(Base.metadata.tables["params"]), new)

    def _upsert_latest(
        self, session: Session, run_id: str, metrics: Sequence[entities.MetricPoint]
    ) -> None:
        newest: dict[str, entities.MetricPoint] = {}
        for point in metrics:
            best = newest.get(point.key)
            if best is None or (point.step, point.timestamp) >= (best.step, best.timestamp):
                newest[point.key] = point
        rows = [
            {
                "run_id": run_id,
                "key": p.key,
                "value": p.value,
                "step": p.step,
                "timestamp": p.timestamp,
            }
            for p in newest.values()
        ]
        # One statement executed for many rows: its compiled form is cached. A multi-row
        # .values(rows) statement is not cacheable and was recompiled on every flush.
        session.execute(self._latest_upsert, rows)

    @functools.cached_property
    def _latest_upsert(self) -> Any:
        """The latest-metric upsert, built once (building it cost ~1 ms per flush)."""
        table = LatestMetric.__table__
        statement = self._dialect_insert(table)
        excluded = statement.excluded
        newer = or_(
            excluded.step > table.c.step,
            and_(excluded.step == table.c.step, excluded.timestamp >= table.c.timestamp),
        )
        return statement.on_conflict_do_update(
            index_elements=["run_id", "key"],
            set_={
                "value": excluded.value,
                "step": excluded.step,
                "timestamp": excluded.timestamp,
            },
            where=newer,
        )

    @functools.cached_property
    def _run_exists(self) -> Any:
        runs = Base.metadata.tables["runs"]
        return select(runs.c.id).where(runs.c.id == bindparam("run_id"))

    def _upsert(
        self,
        session: Session,
        model: Any,
        rows: list[dict[str, Any]],
        keys: list[str],
        updates: list[str],
    ) -> None:
        statement = self._dialect_insert(model.__table__)  # executemany: cached, see above
        session.execute(
            statement.on_conflict_do_update(
                index_elements=keys, set_={c: statement.excluded[c] for c in updates}
            ),
            rows,
        )

    def _dialect_insert(self, model: Any) -> Any:
        if self.db.dialect == "postgresql":
            return postgresql.insert(model)
        return sqlite.insert(model)

    # -- artifacts and inputs ----------------------------------------------------
    def add_artifact(
        self, run_id: str, path: str, sha256: str, size: int, *, actor: str | None = None
    ) -> None:
        """Record a file of the run; with ``actor`` (an upload over HTTP) also audit it."""
        with self.db.write() as session:
            self._require_run(session, run_id)
            self._upsert(
                session,
                RunArtifact,
                [{"run_id": run_id, "path": path, "sha256": sha256, "size": size}],
                ["run_id", "path"],
                ["sha256", "size"],
            )
            if actor is not None:
                record_event(
                    session,
                    actor=actor,
                    action="run.artifact",
                    object_type="run",
                    object_id=run_id,
                    details={"path": path, "sha256": sha256, "size": size},
                )

    def add_input(self, run_id: str, dataset_input: entities.DatasetInput) -> None:
        with self.db.write() as session:
            self._require_run(session, run_id)
            self._upsert(
                session,
                RunInput,
                [
                    {
                        "run_id": run_id,
                        "dataset": dataset_input.dataset,
                        "version": dataset_input.version,
                        "digest": dataset_input.digest,
                    }
                ],
                ["run_id", "dataset", "version"],
                ["digest"],
            )

    # -- reads -------------------------------------------------------------------
    def get_run(self, run_id: str) -> entities.Run:
        with self.db.read() as session:
            row = session.execute(
                select(Run, Experiment.name).join(Experiment).where(Run.id == run_id)
            ).first()
            if row is None:
                raise RunNotFound(run_id)
            return self._hydrate(session, [(row[0], row[1])])[0]

    def runs_reading(self, dataset: str, version: str, *, limit: int | None = None) -> list[str]:
        """The ids of the runs that recorded ``dataset`` version ``version`` as an input,
        newest first (one query on the inputs, not a scan of every run)."""
        with self.db.read() as session:
            query = (
                select(RunInput.run_id)
                .join(Run, Run.id == RunInput.run_id)
                .where(RunInput.dataset == dataset, RunInput.version == version)
                .order_by(Run.start_time.desc(), Run.id)
            )
            if limit is not None:
                query = query.limit(limit)
            return list(session.scalars(query))

    def metric_history(self, run_id: str, key: str) -> list[entities.MetricPoint]:
        with self.db.read() as session:
            self._require_run(session, run_id)
            rows = session.execute(
                select(Metric.key, Metric.value, Metric.step, Metric.timestamp)
                .where(Metric.run_id == run_id, Metric.key == key)
                .order_by(Metric.step, Metric.timestamp, Metric.id)
            )
            return [entities.MetricPoint(*row) for row in rows]

    def run_keys(self, experiments: Sequence[str] | None = None) -> entities.RunKeys:
        """The param and metric keys logged to any run (of ``experiments``), sorted: the
        columns a run table can show. Two index scans, whatever the number of points."""
        with self.db.read() as session:
            runs: Any = None
            if experiments is not None:
                runs = select(Run.id).join(Experiment).where(Experiment.name.in_(list(experiments)))
            keys = []
            for table in (Param, LatestMetric):
                query = select(table.key).distinct().order_by(table.key)
                if runs is not None:
                    query = query.where(table.run_id.in_(runs))
                keys.append(list(session.scalars(query)))
            return entities.RunKeys(params=keys[0], metrics=keys[1])

    def search_runs(
        self,
        experiments: Sequence[str] | None,
        expression: Expression | None,
        order_by: Sequence[OrderBy],
        max_results: int,
        *,
        experiment_ids: Sequence[int] | None = None,
        lifecycle_stages: Sequence[str] | None = None,
        offset: int = 0,
    ) -> list[entities.Run]:
        """Runs matching ``expression``; ``experiment_ids``/``lifecycle_stages`` narrow it
        further and ``offset`` skips the first results (MLflow's page tokens)."""
        with self.db.read() as session:
            query = select(Run, Experiment.name).join(Experiment)
            if experiment_ids is not None:
                query = query.where(Run.experiment_id.in_(list(experiment_ids)))
            if lifecycle_stages is not None:
                query = query.where(Run.lifecycle_stage.in_(list(lifecycle_stages)))
            if experiments is not None:
                known = set(
                    session.scalars(select(Experiment.name).where(Experiment.name.in_(experiments)))
                )
                missing = [name for name in experiments if name not in known]
                if missing:
                    raise ExperimentNotFound(missing[0])
                query = query.where(Experiment.name.in_(experiments))
            if expression is not None:
                query = query.where(_condition(expression))
            for clause in order_by:
                column = _order_column(clause)
                query = query.order_by(
                    column.desc().nulls_last() if clause.descending else column.asc().nulls_last()
                )
            query = query.order_by(Run.start_time.desc(), Run.id).limit(max_results)
            if offset:
                query = query.offset(offset)
            rows = [(row[0], row[1]) for row in session.execute(query)]
            return self._hydrate(session, rows)

    def _hydrate(self, session: Session, rows: list[tuple[Run, str]]) -> list[entities.Run]:
        ids = [run.id for run, _ in rows]
        params: dict[str, dict[str, str]] = defaultdict(dict)
        metrics: dict[str, dict[str, float]] = defaultdict(dict)
        tags: dict[str, dict[str, str]] = defaultdict(dict)
        artifacts: dict[str, list[entities.RunArtifact]] = defaultdict(list)
        inputs: dict[str, list[entities.DatasetInput]] = defaultdict(list)
        for chunk in _chunks(ids, _CHUNK):
            for run_id, key, value in session.execute(
                select(Param.run_id, Param.key, Param.value).where(Param.run_id.in_(chunk))
            ):
                params[run_id][key] = value
            for run_id, key, number in session.execute(
                select(LatestMetric.run_id, LatestMetric.key, LatestMetric.value).where(
                    LatestMetric.run_id.in_(chunk)
                )
            ):
                metrics[run_id][key] = number
            for run_id, key, value in session.execute(
                select(RunTag.run_id, RunTag.key, RunTag.value).where(RunTag.run_id.in_(chunk))
            ):
                tags[run_id][key] = value
            for run_id, path, sha, size in session.execute(
                select(
                    RunArtifact.run_id, RunArtifact.path, RunArtifact.sha256, RunArtifact.size
                ).where(RunArtifact.run_id.in_(chunk))
            ):
                artifacts[run_id].append(entities.RunArtifact(path, sha, size))
            for run_id, dataset, version, digest in session.execute(
                select(RunInput.run_id, RunInput.dataset, RunInput.version, RunInput.digest).where(
                    RunInput.run_id.in_(chunk)
                )
            ):
                inputs[run_id].append(entities.DatasetInput(dataset, version, digest))
        return [
            entities.Run(
                id=run.id,
                experiment=experiment,
                name=run.name,
                status=run.status,
                start_time=run.start_time,
                end_time=run.end_time,
                user=run.user,
                error=run.error,
                git_commit=run.git_commit,
                source=run.source,
                params=dict(sorted(params[run.id].items())),
                metrics=dict(sorted(metrics[run.id].items())),
                tags=dict(sorted(tags[run.id].items())),
                artifacts=tuple(sorted(artifacts[run.id], key=lambda a: a.path)),
                inputs=tuple(inputs[run.id]),
                experiment_id=run.experiment_id,
                lifecycle_stage=run.lifecycle_stage,
            )
            for run, experiment in rows
        ]


def _experiment(row: Experiment, tags: dict[str, str] | None = None) -> entities.Experiment:
    return entities.Experiment(
        id=row.id,
        name=row.name,
        created_at=row.created_at,
        lifecycle_stage=row.lifecycle_stage or "active",
        tags=dict(tags or {}),
    )


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _compare(column: Any, op: str, value: Any) -> ColumnElement[bool]:
    if op == "=":
        return column == value
    if op == "!=":
        return column != value
    if op == ">":
        return column > value
    if op == ">=":
        return column >= value
    if op == "<":
        return column < value
    if op == "<=":
        return column <= value
    if op == "LIKE":
        return column.like(value)
    if op == "ILIKE":
        return column.ilike(value)
    if op == "IN":
        return column.in_(value)
    if op == "NOT IN":
        return column.not_in(value)
    raise InvalidFilter(op, "unknown operator")


def _condition(expression: Expression) -> ColumnElement[bool]:
    if isinstance(expression, BoolOp):
        parts = [_condition(item) for item in expression.items]
        return and_(*parts) if expression.op == "AND" else or_(*parts)
    assert isinstance(expression, Comparison)
    if expression.entity == "attribute":
        return _compare(getattr(Run, expression.key), expression.op, expression.value)
    table: Any = {"metric": LatestMetric, "param": Param, "tag": RunTag}[expression.entity]
    if expression.op == "NOT IN" or (expression.op == "!=" and expression.entity != "metric"):
        # "key != v" also matches runs that never set the key, as users expect for text keys.
        positive = "IN" if expression.op == "NOT IN" else "="
        return not_(
            _condition(Comparison(expression.entity, expression.key, positive, expression.value))
        )
    if expression.op in ("IN",) and not expression.value:
        return false()
    return exists().where(
        table.run_id == Run.id,
        table.key == expression.key,
        _compare(table.value, expression.op, expression.value),
    )


def _order_column(clause: OrderBy) -> Any:
    if clause.entity == "attribute":
        return getattr(Run, clause.key)
    table: Any = {"metric": LatestMetric, "param": Param, "tag": RunTag}[clause.entity]
    return (
        select(table.value).where(table.run_id == Run.id, table.key == clause.key).scalar_subquery()
    )
