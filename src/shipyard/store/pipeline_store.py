"""SQL for pipelines, their triggers, runs and steps.

Two rules keep runs from being started twice, whichever process sees the
trigger: firing a trigger is one conditional UPDATE of its row (cool-down and
cursor checked in the WHERE clause), and ``(trigger_id, trigger_key)`` is
unique, so one scheduled time or one event starts at most one run. Claiming a
queued run is a conditional UPDATE too, so two executors never run the same one.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shipyard.errors import Conflict, NotFound
from shipyard.store.audit import now_ms, record_event
from shipyard.store.database import Database
from shipyard.store.pipeline_records import (
    ACTIVE,
    ENDED,
    NewTrigger,
    PipelineRecord,
    PipelineRunRecord,
    TriggerRecord,
    pipeline_of_row,
    run_of_row,
    trigger_of_row,
)
from shipyard.store.schema import PipelineDef, PipelineRun, PipelineStep, PipelineTrigger


class PipelineStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- definitions ------------------------------------------------------------
    def register(
        self,
        name: str,
        *,
        source: str,
        code_sha256: str,
        definition: dict[str, Any],
        triggers: list[NewTrigger],
        actor: str,
    ) -> PipelineRecord:
        """Create or update ``name``; triggers that stay the same keep their cursors."""
        now = now_ms()
        with self.db.write() as session:
            row = session.get(PipelineDef, name)
            if row is None:
                row = PipelineDef(name=name, version=0, created_at=now)
                session.add(row)
            row.version += 1
            row.source = source
            row.code_sha256 = code_sha256
            row.definition = definition
            row.updated_at = now
            keys = {t.key for t in triggers}
            existing = {
                t.key: t
                for t in session.scalars(
                    select(PipelineTrigger).where(PipelineTrigger.pipeline == name)
                )
            }
            for key, old in existing.items():
                if key not in keys:
                    session.delete(old)
            for new in triggers:
                if new.key not in existing:
                    session.add(
                        PipelineTrigger(
                            pipeline=name,
                            key=new.key,
                            source=new.source,
                            spec=new.spec,
                            cursor=new.cursor,
                            last_fired_at=0,
                            suppressed=0,
                        )
                    )
            record_event(
                session,
                actor=actor,
                action="pipeline.register",
                object_type="pipeline",
                object_id=name,
                details={"version": row.version, "code_sha256": code_sha256, "source": source},
            )
            session.flush()
            return pipeline_of_row(row)

    def get(self, name: str) -> PipelineRecord:
        with self.db.read() as session:
            row = session.get(PipelineDef, name)
            if row is None:
                raise NotFound(f"pipeline {name!r} is not registered")
            return pipeline_of_row(row)

    def all(self) -> list[PipelineRecord]:
        with self.db.read() as session:
            return [
                pipeline_of_row(r) for r in session.scalars(select(PipelineDef).order_by("name"))
            ]

    def triggers(self, pipeline: str | None = None) -> list[TriggerRecord]:
        with self.db.read() as session:
            query = select(PipelineTrigger).order_by(PipelineTrigger.id)
            if pipeline is not None:
                query = query.where(PipelineTrigger.pipeline == pipeline)
            return [trigger_of_row(r) for r in session.scalars(query)]

    # -- starting runs ----------------------------------------------------------
    def create_run(
        self,
        pipeline: PipelineRecord,
        steps: list[str],
        *,
        params: dict[str, Any],
        trigger: dict[str, Any],
        actor: str,
    ) -> PipelineRunRecord:
        with self.db.write() as session:
            row = self._insert_run(session, pipeline, steps, params, trigger, actor, None, None)
            return run_of_row(row)

    def fire(
        self,
        trigger: TriggerRecord,
        pipeline: PipelineRecord,
        steps: list[str],
        *,
        cooldown_s: float,
        cursor: int,
        key: str,
        details: dict[str, Any],
        params: dict[str, Any],
    ) -> PipelineRunRecord | None:
        """Start a run for ``trigger`` unless cooling down, already active, or already started.

        The cursor moves to ``cursor`` either way (the event or time is consumed).
        Returns the new run, or None when it was suppressed.
        """
        now = now_ms()
        try:
            with self.db.write() as session:
                active = session.scalars(
                    select(PipelineRun.id).where(
                        PipelineRun.trigger_id == trigger.id, PipelineRun.status.in_(ACTIVE)
                    )
                ).first()
                claimed = 0
                if active is None:
                    result = session.execute(
                        update(PipelineTrigger)
                        .where(
                            PipelineTrigger.id == trigger.id,
                            PipelineTrigger.cursor < cursor,
                            PipelineTrigger.last_fired_at <= now - int(cooldown_s * 1000),
                        )
                        .values(cursor=cursor, last_fired_at=now)
                    )
                    claimed = result.rowcount  # type: ignore[attr-defined]
                if not claimed:
                    self._suppress(session, trigger.id, cursor)
                    return None
                row = self._insert_run(
                    session,
                    pipeline,
                    steps,
                    params,
                    {"source": trigger.source, "trigger": trigger.key, **details},
                    "trigger",
                    trigger.id,
                    key,
                )
                return run_of_row(row)
        except IntegrityError:  # another process started this very (trigger, key)
            return None

    def _suppress(self, session: Session, trigger_id: int, cursor: int) -> None:
        """Consume what the trigger saw without starting a run, and count it (once)."""
        session.execute(
            update(PipelineTrigger)
            .where(PipelineTrigger.id == trigger_id, PipelineTrigger.cursor < cursor)
            .values(cursor=cursor, suppressed=PipelineTrigger.suppressed + 1)
        )

    def move_cursor(self, trigger_id: int, cursor: int) -> None:
        with self.db.write() as session:
            session.execute(
                update(PipelineTrigger)
                .where(PipelineTrigger.id == trigger_id, PipelineTrigger.cursor < cursor)
                .values(cursor=cursor)
            )

    def _insert_run(
        self,
        session: Session,
        pipeline: PipelineRecord,
        steps: list[str],
        params: dict[str, Any],
        trigger: dict[str, Any],
        actor: str,
        trigger_id: int | None,
        trigger_key: str | None,
    ) -> PipelineRun:
        now = now_ms()
        row = PipelineRun(
            pipeline=pipeline.name,
            pipeline_version=pipeline.version,
            code_sha256=pipeline.code_sha256,
            status="queued",
            trigger_id=trigger_id,
            trigger_key=trigger_key,
            trigger=trigger,
            params=params,
            attempt=1,
            error="",
            outcome="",
            waiting={},
            worker="",
            heartbeat_at=0,
            created_by=actor,
            created_at=now,
        )
        session.add(row)
        session.flush()
        for position, name in enumerate(steps):
            session.add(
                PipelineStep(
                    run_id=row.id,
                    name=name,
                    pipeline=pipeline.name,
                    position=position,
                    status="pending",
                    attempt=0,
                    cache_key="",
                    inputs={},
                    outputs={},
                    logs="",
                    error="",
                )
            )
        record_event(
            session,
            actor=actor,
            action="pipeline_run.start",
            object_type="pipeline",
            object_id=pipeline.name,
            details={"run": row.id, "trigger": trigger, "params": params},
        )
        session.flush()
        return row

    # -- executing --------------------------------------------------------------
    def claim(self, worker: str, run_id: int | None = None) -> PipelineRunRecord | None:
        """Take the oldest queued run (or ``run_id``) for ``worker``; None if there is none."""
        query = select(PipelineRun.id).where(PipelineRun.status == "queued")
        if run_id is not None:
            query = query.where(PipelineRun.id == run_id)
        with self.db.read() as session:  # polled every tick: no write lock when idle
            candidate = session.scalars(query.order_by(PipelineRun.id).limit(1)).first()
        if candidate is None:
            return None
        with self.db.write() as session:
            taken = session.execute(
                update(PipelineRun)
                .where(PipelineRun.id == candidate, PipelineRun.status == "queued")
                .values(status="running", worker=worker, heartbeat_at=now_ms())
            ).rowcount  # type: ignore[attr-defined]
            if not taken:
                return None
        return self.get_run(candidate)

    def heartbeat(self, run_id: int, worker: str) -> None:
        with self.db.write() as session:
            session.execute(
                update(PipelineRun)
                .where(PipelineRun.id == run_id, PipelineRun.worker == worker)
                .values(heartbeat_at=now_ms())
            )

    def start_step(
        self, run_id: int, name: str, *, attempt: int, inputs: dict[str, Any], cache_key: str
    ) -> None:
        self._update_step(
            run_id,
            name,
            status="running",
            attempt=attempt,
            inputs=inputs,
            cache_key=cache_key,
            outputs={},
            logs="",
            error="",
            started_at=now_ms(),
            ended_at=None,
        )

    def end_step(
        self,
        run_id: int,
        name: str,
        status: str,
        *,
        outputs: dict[str, Any] | None = None,
        logs: str = "",
        error: str = "",
    ) -> None:
        self._update_step(
            run_id,
            name,
            status=status,
            outputs=outputs or {},
            logs=logs,
            error=error,
            ended_at=now_ms(),
        )

    def _update_step(self, run_id: int, name: str, **values: Any) -> None:
        with self.db.write() as session:
            session.execute(
                update(PipelineStep)
                .where(PipelineStep.run_id == run_id, PipelineStep.name == name)
                .values(**values)
            )

    def cached_outputs(self, pipeline: str, name: str, cache_key: str) -> dict[str, Any] | None:
        """Outputs of the newest successful execution of this step with this cache key."""
        with self.db.read() as session:
            row = session.scalars(
                select(PipelineStep)
                .where(
                    PipelineStep.pipeline == pipeline,
                    PipelineStep.name == name,
                    PipelineStep.cache_key == cache_key,
                    PipelineStep.status == "succeeded",
                )
                .order_by(PipelineStep.ended_at.desc())
                .limit(1)
            ).first()
            return dict(row.outputs) if row is not None else None

    def set_status(
        self,
        run_id: int,
        status: str,
        *,
        actor: str,
        error: str = "",
        outcome: str = "",
        waiting: dict[str, Any] | None = None,
        expect: tuple[str, ...] | None = None,
    ) -> bool:
        """Move a run to ``status`` (only from ``expect``, when given); audited when it ends."""
        with self.db.write() as session:
            query = update(PipelineRun).where(PipelineRun.id == run_id)
            if expect is not None:
                query = query.where(PipelineRun.status.in_(expect))
            values: dict[str, Any] = {"status": status, "waiting": waiting or {}}
            if error:
                values["error"] = error
            if outcome:
                values["outcome"] = outcome
            if status in ENDED:
                values["ended_at"] = now_ms()
            changed = session.execute(query.values(**values)).rowcount  # type: ignore[attr-defined]
            if changed:
                row = session.get(PipelineRun, run_id)
                record_event(
                    session,
                    actor=actor,
                    action=f"pipeline_run.{status}",
                    object_type="pipeline",
                    object_id=row.pipeline if row else "",
                    details={"run": run_id, "error": error, "outcome": outcome},
                )
            return bool(changed)

    def decide(self, run_id: int, *, approve: bool, actor: str, comment: str = "") -> None:
        """Approve (the run resumes) or reject (it ends) a run awaiting approval."""
        with self.db.write() as session:
            row = session.get(PipelineRun, run_id)
            if row is None:
                raise NotFound(f"pipeline run {run_id} does not exist")
            if row.status != "awaiting_approval":
                raise Conflict(f"pipeline run {run_id} is {row.status}, not awaiting approval")
            decision = {
                "approved": approve,
                "by": actor,
                "at": now_ms(),
                "comment": comment,
                "step": row.waiting.get("step"),
            }
            row.params = {**row.params, "_approval": decision}
            row.status = "queued" if approve else "rejected"
            row.waiting = {}
            if not approve:
                row.ended_at = now_ms()
                row.outcome = f"rejected by {actor}" + (f": {comment}" if comment else "")
            record_event(
                session,
                actor=actor,
                action="pipeline_run.approve" if approve else "pipeline_run.reject",
                object_type="pipeline",
                object_id=row.pipeline,
                details={"run": run_id, "comment": comment},
            )

    def retry(self, run_id: int, *, actor: str) -> PipelineRunRecord:
        """Queue a failed run again from its failed step; earlier steps keep their outputs."""
        with self.db.write() as session:
            row = session.get(PipelineRun, run_id)
            if row is None:
                raise NotFound(f"pipeline run {run_id} does not exist")
            if row.status not in ("failed", "rolled_back"):
                raise Conflict(
                    f"pipeline run {run_id} is {row.status}; only failed runs can be retried"
                )
            steps = list(session.scalars(select(PipelineStep).where(PipelineStep.run_id == run_id)))
            first = min(
                (s.position for s in steps if s.status not in ("succeeded", "cached")),
                default=None,
            )
            if row.status == "rolled_back":  # deploy again: the deploy step is the last one
                first = max(s.position for s in steps)
            for step in steps:
                if first is not None and step.position >= first:
                    step.status = "pending"
            row.status = "queued"
            row.attempt += 1
            row.error = ""
            row.outcome = ""
            row.waiting = {}
            row.ended_at = None
            record_event(
                session,
                actor=actor,
                action="pipeline_run.retry",
                object_type="pipeline",
                object_id=row.pipeline,
                details={"run": run_id, "attempt": row.attempt},
            )
            session.flush()
            return run_of_row(row, steps)

    def reap(self, stale_before: int) -> list[int]:
        """Fail runs whose worker stopped sending heartbeats (it died mid-run)."""
        with self.db.read() as session:
            ids = list(
                session.scalars(
                    select(PipelineRun.id).where(
                        PipelineRun.status == "running", PipelineRun.heartbeat_at < stale_before
                    )
                )
            )
        return [
            run_id
            for run_id in ids
            if self.set_status(
                run_id,
                "failed",
                actor="scheduler",
                error="the worker running it stopped (no heartbeat); retry it",
                expect=("running",),
            )
        ]

    # -- reading ----------------------------------------------------------------
    def get_run(self, run_id: int) -> PipelineRunRecord:
        with self.db.read() as session:
            row = session.get(PipelineRun, run_id)
            if row is None:
                raise NotFound(f"pipeline run {run_id} does not exist")
            steps = list(session.scalars(select(PipelineStep).where(PipelineStep.run_id == run_id)))
            return run_of_row(row, steps)

    def runs(
        self,
        pipeline: str | None = None,
        *,
        status: tuple[str, ...] | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[PipelineRunRecord]:
        """Runs newest first (without their steps), ``offset`` rows skipped: a page."""
        with self.db.read() as session:
            query = select(PipelineRun).order_by(PipelineRun.id.desc()).limit(limit)
            if offset:
                query = query.offset(offset)
            if pipeline is not None:
                query = query.where(PipelineRun.pipeline == pipeline)
            if status is not None:
                query = query.where(PipelineRun.status.in_(status))
            return [run_of_row(r) for r in session.scalars(query)]

    def delete(self, name: str, *, actor: str) -> None:
        with self.db.write() as session:
            if session.get(PipelineDef, name) is None:
                raise NotFound(f"pipeline {name!r} is not registered")
            session.execute(delete(PipelineTrigger).where(PipelineTrigger.pipeline == name))
            session.execute(delete(PipelineDef).where(PipelineDef.name == name))
            record_event(
                session,
                actor=actor,
                action="pipeline.delete",
                object_type="pipeline",
                object_id=name,
                details={},
            )
