"""SQL for batch scoring jobs: the job row and one row per finished partition.

A partition row is written in the same transaction that adds its counts to the
job, after its output file is in place, so a rerun after a crash skips exactly
the partitions whose output exists and the job's counts never count one twice.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError as SqlIntegrityError

from shipyard.entities import BatchJobRecord
from shipyard.errors import Conflict, NotFound
from shipyard.store.audit import now_ms, record_event
from shipyard.store.database import Database
from shipyard.store.schema import BatchJob, BatchPartition

RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"


def _record(row: BatchJob) -> BatchJobRecord:
    return BatchJobRecord(
        row.name,
        row.target,
        row.deployment,
        row.model,
        row.version,
        row.input,
        row.output,
        dict(row.options),
        list(row.files),
        row.status,
        row.rows_total,
        row.rows_done,
        row.rows_rejected,
        row.seconds,
        row.attempts,
        row.error,
        row.created_by,
        row.created_at,
        row.updated_at,
        row.finished_at,
    )


class BatchStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(
        self,
        *,
        name: str,
        target: str,
        deployment: str | None,
        model: str,
        version: int,
        input: str,
        output: str,
        options: dict[str, Any],
        files: list[Any],
        rows_total: int | None,
        actor: str,
    ) -> BatchJobRecord:
        at = now_ms()
        try:
            with self.db.write() as session:
                if session.get(BatchJob, name) is not None:
                    raise Conflict(f"batch job {name!r} already exists")
                row = BatchJob(
                    name=name,
                    target=target,
                    deployment=deployment,
                    model=model,
                    version=version,
                    input=input,
                    output=output,
                    options=options,
                    files=files,
                    status=RUNNING,
                    rows_total=rows_total,
                    rows_done=0,
                    rows_rejected=0,
                    seconds=0.0,
                    attempts=1,
                    error="",
                    created_by=actor,
                    created_at=at,
                    updated_at=at,
                    finished_at=None,
                )
                session.add(row)
                session.flush()
                record_event(
                    session,
                    actor=actor,
                    action="batch.start",
                    object_type="batch_job",
                    object_id=name,
                    details={"target": target, "model": model, "version": version},
                )
                return _record(row)
        except SqlIntegrityError as exc:  # a concurrent create of the same name
            raise Conflict(f"batch job {name!r} already exists") from exc

    def get(self, name: str) -> BatchJobRecord:
        with self.db.read() as session:
            row = session.get(BatchJob, name)
            if row is None:
                raise NotFound(f"batch job {name!r} does not exist")
            return _record(row)

    def find(self, name: str) -> BatchJobRecord | None:
        with self.db.read() as session:
            row = session.get(BatchJob, name)
            return _record(row) if row is not None else None

    def list(self, *, limit: int = 100) -> list[BatchJobRecord]:
        with self.db.read() as session:
            rows = session.scalars(
                select(BatchJob).order_by(BatchJob.created_at.desc()).limit(limit)
            )
            return [_record(r) for r in rows]

    def done_partitions(self, name: str) -> set[int]:
        with self.db.read() as session:
            return set(
                session.scalars(select(BatchPartition.partition).where(BatchPartition.job == name))
            )

    def resume(self, name: str, *, actor: str) -> BatchJobRecord:
        """Mark a stopped job running again (a new attempt)."""
        with self.db.write() as session:
            row = session.get(BatchJob, name)
            if row is None:
                raise NotFound(f"batch job {name!r} does not exist")
            row.status = RUNNING
            row.attempts += 1
            row.error = ""
            row.finished_at = None
            row.updated_at = now_ms()
            record_event(
                session,
                actor=actor,
                action="batch.resume",
                object_type="batch_job",
                object_id=name,
                details={"attempt": row.attempts, "rows_done": row.rows_done},
            )
            return _record(row)

    def finish_partition(
        self,
        name: str,
        partition: int,
        *,
        rows: int,
        rejected: int,
        seconds: float,
        job_seconds: float,
    ) -> bool:
        """Record one partition as done; False if it was already (counted once either way).

        ``seconds`` is the worker's time on this partition; ``job_seconds`` the job's wall
        time so far over all attempts (what rows/s is computed from)."""
        at = now_ms()
        try:
            with self.db.write() as session:
                if session.get(BatchPartition, (name, partition)) is not None:
                    return False
                session.add(
                    BatchPartition(
                        job=name,
                        partition=partition,
                        rows=rows,
                        rejected=rejected,
                        seconds=seconds,
                        finished_at=at,
                    )
                )
                job = session.get(BatchJob, name)
                if job is None:
                    raise NotFound(f"batch job {name!r} does not exist")
                job.rows_done += rows
                job.rows_rejected += rejected
                job.seconds = job_seconds
                job.updated_at = at
                return True
        except SqlIntegrityError:
            return False

    def set_total(self, name: str, rows_total: int) -> None:
        with self.db.write() as session:
            job = session.get(BatchJob, name)
            if job is not None:
                job.rows_total = rows_total

    def finish(self, name: str, status: str, *, error: str = "", actor: str) -> BatchJobRecord:
        with self.db.write() as session:
            row = session.get(BatchJob, name)
            if row is None:
                raise NotFound(f"batch job {name!r} does not exist")
            row.status = status
            row.error = error
            row.finished_at = row.updated_at = now_ms()
            record_event(
                session,
                actor=actor,
                action=f"batch.{status}",
                object_type="batch_job",
                object_id=name,
                details={
                    "rows_done": row.rows_done,
                    "rows_rejected": row.rows_rejected,
                    **({"error": error[:500]} if error else {}),
                },
            )
            return _record(row)
