"""A batch job from start to finish: resolve, plan, score partitions, record, decide.

The coordinator (this module) reads the input in chunks and hands them to an
executor; it never calls the model, so it may fork workers. Each finished
partition is recorded in the store after its output file is in place; a rerun
of the same job skips those and scores the rest, so after any crash the output
has exactly one row per scored input row. Bad rows are set aside by the
workers; the job fails only when the share of them passes ``max_error_rate``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from shipyard.batch import sources
from shipyard.batch.executors import DaskExecutor, Executor, InlineExecutor, ProcessExecutor
from shipyard.batch.metrics import BatchMetrics
from shipyard.batch.package import pack_version
from shipyard.batch.scoring import ChunkResult, ChunkTask, JobSpec
from shipyard.cores import available_cores
from shipyard.datasets import service as datasets
from shipyard.deploy.policy import policy_from_dict, primary_target
from shipyard.entities import BatchJobRecord, ModelVersion
from shipyard.errors import Conflict, DeploymentNotFound, InvalidInput, ShipyardError
from shipyard.monitoring.predlog import PredictionLogger
from shipyard.registry import service as registry
from shipyard.registry.uri import parse_model_uri
from shipyard.serving.frame_validation import FrameValidator
from shipyard.store import Store
from shipyard.store.batch_store import FAILED, SUCCEEDED

logger = logging.getLogger(__name__)

MARKER = "_job.json"


class BatchJobFailed(ShipyardError):
    """The job stopped: too many bad rows, or a worker failed. Rerun it to resume."""


@dataclass(frozen=True)
class BatchRequest:
    """What to score with, what, and where to; how to split and share the work."""

    target: str
    input: str
    output: str
    id_column: str | None = None
    chunk_rows: int = 100_000
    workers: int = 1
    scheduler: str | None = None
    max_error_rate: float = 0.01
    job: str | None = None
    #: Native threads per worker; default: the cores shared out over the workers.
    model_threads: int | None = None

    def __post_init__(self) -> None:
        if self.chunk_rows < 1:
            raise InvalidInput(f"--chunk-rows must be >= 1, got {self.chunk_rows}")
        if self.workers < 1:
            raise InvalidInput(f"--workers must be >= 1, got {self.workers}")
        if not 0.0 <= self.max_error_rate <= 1.0:
            raise InvalidInput(f"--max-error-rate must be in [0, 1], got {self.max_error_rate}")
        if self.scheduler is not None and self.workers != 1:
            raise InvalidInput("give --workers or --scheduler, not both")


@dataclass
class BatchProgress:
    job: str
    rows_done: int
    rows_total: int | None
    rows_rejected: int
    started: float = field(default_factory=time.monotonic)


ProgressCallback = Callable[[BatchProgress], None]


@dataclass(frozen=True)
class _Target:
    version: ModelVersion
    deployment: str | None
    expectations: dict[str, Any] | None


def _resolve_target(store: Store, target: str) -> _Target:
    if target.startswith("models:/"):
        return _Target(registry.resolve(store, parse_model_uri(target)), None, None)
    try:
        deployment = store.deployments.get(target)
    except DeploymentNotFound:
        raise DeploymentNotFound(target) from None
    ref = primary_target(policy_from_dict(deployment.policy))
    version = store.registry.get_version(ref.name, version=ref.version, alias=ref.alias)
    dataset = deployment.config.get("expectations")
    expectations = store.datasets.expectations(dataset) if dataset else None
    return _Target(version, deployment.name, expectations)


@contextlib.contextmanager
def _input_files(store: Store, spec: str) -> Iterator[list[sources.InputFile]]:
    """The job's input files; a dataset version is verified into a temporary folder."""
    if not spec.startswith("datasets:/"):
        yield sources.resolve_files(spec)
        return
    record = datasets.resolve(store, spec)
    with tempfile.TemporaryDirectory(prefix="shipyard-batch-input-") as folder:
        paths = datasets.verified_paths(store, record, Path(folder))
        yield [
            sources.InputFile(str(p), record.format, p.stat().st_size, f"sha256:{record.sha256}")
            for p in paths
        ]


def default_threads(workers: int, scheduler: str | None = None) -> int:
    """Local workers share this machine's cores. A Dask worker runs one partition per
    worker thread, so it gets one model thread per task, the limit Dask's nannies set
    (``OMP_NUM_THREADS=1``); the cores of this machine say nothing about the cluster's."""
    if scheduler is not None:
        return 1
    return max(1, available_cores() // workers)


def new_job_name() -> str:
    return f"batch-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"


class BatchRunner:
    """Runs one request to the end (or to a recorded failure)."""

    def __init__(
        self,
        store: Store,
        request: BatchRequest,
        *,
        actor: str,
        on_progress: ProgressCallback | None = None,
        metrics: BatchMetrics | None = None,
        start_method: str | None = None,
    ) -> None:
        self.store, self.request, self.actor = store, request, actor
        self.on_progress = on_progress
        self.metrics = metrics
        self.start_method = start_method
        self.name = request.job or new_job_name()

    # -- planning --------------------------------------------------------------------
    def _options(self) -> dict[str, Any]:
        r = self.request
        return {"chunk_rows": r.chunk_rows, "id_column": r.id_column}

    def _open_job(self, files: list[sources.InputFile]) -> tuple[BatchJobRecord, _Target]:
        request, store = self.request, self.store
        fingerprints = [f.to_dict() for f in files]
        existing = store.batch.find(self.name)
        if existing is None:
            target = _resolve_target(store, request.target)
            job = store.batch.create(
                name=self.name,
                target=request.target,
                deployment=target.deployment,
                model=target.version.name,
                version=target.version.version,
                input=request.input,
                output=request.output,
                options=self._options(),
                files=fingerprints,
                rows_total=sources.parquet_rows(files),
                actor=self.actor,
            )
            return job, target
        for what, old, new in (
            ("target", existing.target, request.target),
            ("--input", existing.input, request.input),
            ("--output", existing.output, request.output),
            ("--chunk-rows", existing.options.get("chunk_rows"), request.chunk_rows),
            ("--id-column", existing.options.get("id_column"), request.id_column),
        ):
            if old != new:
                raise Conflict(
                    f"batch job {self.name!r} was started with {what} {old!r}, not {new!r}; "
                    f"rerun it with the same arguments to resume, or pick a new --job"
                )
        if existing.files != fingerprints:
            raise Conflict(
                f"batch job {self.name!r}: the input files changed since it started "
                f"(size or modification time); resuming would mix outputs. Pick a new --job"
            )
        if existing.status == SUCCEEDED:
            return existing, _Target(
                store.registry.get_version(existing.model, version=existing.version), None, None
            )
        current = _resolve_target(store, request.target) if existing.deployment else None
        version = store.registry.get_version(existing.model, version=existing.version)
        expectations = current.expectations if current is not None else None
        return store.batch.resume(self.name, actor=self.actor), _Target(
            version, existing.deployment, expectations
        )

    def _claim_output(self) -> None:
        fs, root = fsspec.core.url_to_fs(self.request.output)
        root = root.rstrip("/")
        fs.makedirs(root, exist_ok=True)
        marker = f"{root}/{MARKER}"
        if fs.exists(marker):
            owner = json.loads(fs.cat_file(marker)).get("job")
            if owner != self.name:
                raise Conflict(
                    f"--output {self.request.output} holds the output of batch job {owner!r}; "
                    f"choose an empty folder, or --job {owner} to resume that job"
                )
            return
        if any(Path(p).name.startswith("part-") for p in fs.ls(root, detail=False)):
            raise Conflict(f"--output {self.request.output} already holds part files")
        with fs.open(marker, "w") as handle:
            handle.write(json.dumps({"job": self.name}))

    def _check_columns(self, files: list[sources.InputFile], validator: FrameValidator) -> None:
        for file in files:
            names = sources.file_columns(file)
            missing = validator.missing_columns(names)
            if self.request.id_column is not None and self.request.id_column not in names:
                missing.append(self.request.id_column)
            if missing:
                raise InvalidInput(
                    f"{file.url}: no column(s) {missing[:6]}; the model expects "
                    f"{validator.columns}"
                    + (
                        f" and the id column {self.request.id_column!r}"
                        if self.request.id_column
                        else ""
                    )
                )

    def _executor(self, target: _Target, spec: JobSpec) -> Executor:
        package = pack_version(self.store, target.version, target.expectations)
        if self.request.scheduler is not None:
            return DaskExecutor(package, spec, self.request.scheduler)
        if self.request.workers > 1:
            return ProcessExecutor(package, spec, self.request.workers, self.start_method)
        return InlineExecutor(package, spec)

    def check(self) -> None:
        """Everything that can be wrong before a row is read: the target, the input files
        and their columns, the output's owner. Creates nothing."""
        target = _resolve_target(self.store, self.request.target)
        with _input_files(self.store, self.request.input) as files:
            self._check_columns(files, FrameValidator(target.version.signature))
        fs, root = fsspec.core.url_to_fs(self.request.output)
        marker = f"{root.rstrip('/')}/{MARKER}"
        if fs.exists(marker):
            owner = json.loads(fs.cat_file(marker)).get("job")
            if owner != self.name:
                raise Conflict(
                    f"--output {self.request.output} holds the output of batch job {owner!r}"
                )

    # -- running ---------------------------------------------------------------------
    def run(self) -> BatchJobRecord:
        """Run (or resume) the job; raises ``BatchJobFailed`` when it stops short."""
        with _input_files(self.store, self.request.input) as files:
            job, target = self._open_job(files)
            if job.status == SUCCEEDED:
                return job
            if self.metrics is not None:
                self.metrics.running.inc()
            try:
                return self._score(job, target, files)
            except BaseException as exc:
                reason = (
                    str(exc)
                    if isinstance(exc, ShipyardError)
                    else (f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
                )
                if self.store.batch.get(self.name).status != FAILED:
                    self.store.batch.finish(self.name, FAILED, error=reason, actor=self.actor)
                if self.metrics is not None:
                    self.metrics.jobs.labels(FAILED).inc()
                raise
            finally:
                if self.metrics is not None:
                    self.metrics.running.dec()

    def _score(
        self, job: BatchJobRecord, target: _Target, files: list[sources.InputFile]
    ) -> BatchJobRecord:
        request = self.request
        validator = FrameValidator(target.version.signature, target.expectations)
        self._check_columns(files, validator)
        self._claim_output()
        spec = JobSpec(
            job=self.name,
            output=request.output,
            id_column=request.id_column,
            model_threads=request.model_threads
            or default_threads(request.workers, request.scheduler),
            return_predictions=target.deployment is not None,
            request_prefix=f"batch:{self.name}" if target.deployment is not None else None,
        )
        columns = list(validator.columns)
        if request.id_column is not None and request.id_column not in columns:
            columns.append(request.id_column)
        done = self.store.batch.done_partitions(self.name)
        progress = BatchProgress(self.name, job.rows_done, job.rows_total, job.rows_rejected)
        seen = {"rows": 0}
        tables: dict[int, pa.Table] = {}
        read = [0]
        total_bytes = sum(f.size for f in files)

        def tasks() -> Iterator[ChunkTask]:
            for partition, first_row, table in sources.iter_chunks(
                files, columns, request.chunk_rows, read
            ):
                seen["rows"] += table.num_rows
                if job.rows_total is None and read[0]:  # CSV: estimated from bytes read
                    progress.rows_total = max(
                        seen["rows"], round(seen["rows"] * total_bytes / read[0])
                    )
                if partition in done:
                    continue
                if target.deployment is not None:
                    tables[partition] = table
                yield ChunkTask(partition, first_row, table)

        predlog = (
            PredictionLogger(self.store.artifacts, process_id=f"batch-{uuid.uuid4().hex[:12]}")
            if target.deployment is not None
            else None
        )
        shown: list[tuple[Any, str | None, str]] = []
        executor = self._executor(target, spec)
        try:
            for result in executor.run(sources.prefetch(tasks())):
                if predlog is not None:
                    self._log(predlog, target, validator, tables.pop(result.partition), result)
                if self.store.batch.finish_partition(
                    self.name,
                    result.partition,
                    rows=result.rows,
                    rejected=result.rejected,
                    seconds=result.seconds,
                    job_seconds=job.seconds + time.monotonic() - progress.started,
                ):
                    progress.rows_done += result.rows
                    progress.rows_rejected += result.rejected
                    if self.metrics is not None:
                        self.metrics.observe(self.name, result)
                shown += result.shown[: max(0, 5 - len(shown))]
                if self.on_progress is not None:
                    self.on_progress(progress)
                self._stop_early(job.rows_total, progress.rows_rejected, shown)
        except BatchJobFailed:
            executor.close()
            merge_rejects(request.output)
            raise
        finally:
            executor.close()
        total = seen["rows"]
        self.store.batch.set_total(self.name, total)
        progress.rows_total = total
        if self.on_progress is not None:
            self.on_progress(progress)
        rejected = self.store.batch.get(self.name).rows_rejected
        merge_rejects(request.output)
        if total and rejected / total > request.max_error_rate:
            raise BatchJobFailed(self._too_many(rejected, total, shown))
        _write_success(request.output)
        record = self.store.batch.finish(self.name, SUCCEEDED, actor=self.actor)
        if self.metrics is not None:
            self.metrics.jobs.labels(SUCCEEDED).inc()
        return record

    def _stop_early(self, total: int | None, rejected: int, shown: list[Any]) -> None:
        """With a known total (Parquet footers), stop once the error budget is spent for good."""
        if total and rejected > math.floor(self.request.max_error_rate * total):
            raise BatchJobFailed(self._too_many(rejected, total, shown, early=True))

    def _too_many(
        self,
        rejected: int,
        total: int,
        shown: list[tuple[Any, str | None, str]],
        early: bool = False,
    ) -> str:
        examples = "; ".join(
            f"row {row}" + (f" column {column!r}" if column else "") + f": {reason}"
            for row, column, reason in shown[:3]
        )
        when = "already " if early else ""
        return (
            f"batch job {self.name!r}: {when}{rejected:,} of {total:,} rows rejected "
            f"({rejected / total:.2%}), above --max-error-rate {self.request.max_error_rate:g}; "
            f"each is listed in {self.request.output.rstrip('/')}/rejects.parquet"
            + (f" (first: {examples})" if examples else "")
        )

    def _log(
        self,
        predlog: PredictionLogger,
        target: _Target,
        validator: FrameValidator,
        table: pa.Table,
        result: ChunkResult,
    ) -> None:
        """Scored rows of a deployment target go to its prediction log, so monitors and
        delayed labels (joined by ``request_id`` and ``request_row``) cover batch traffic."""
        assert result.positions is not None and result.labels is not None
        if not len(result.positions):
            return
        inputs = validator.check(table.take(pa.array(result.positions))).inputs
        rows = inputs if isinstance(inputs, np.ndarray) else inputs.to_numpy(dtype=object)
        assert target.deployment is not None
        predlog.log(
            target.deployment,
            target.version.version,
            "batch",
            f"batch:{self.name}:{result.partition}",
            result.seconds,
            validator.columns,
            rows,
            result.labels,
            result.probabilities,
        )
        predlog.flush()


def merge_rejects(output: str) -> None:
    """Every partition's rejects in one ``rejects.parquet``, in input order."""
    fs, root = fsspec.core.url_to_fs(output)
    root = root.rstrip("/")
    parts = sorted(fs.glob(f"{root}/_rejects/part-*.parquet"))
    target = f"{root}/rejects.parquet"
    if not parts:
        if fs.exists(target):
            fs.rm(target)
        return
    tables = []
    for path in parts:
        with fs.open(path, "rb") as handle:
            tables.append(pq.read_table(handle))
    merged = pa.concat_tables(tables, promote_options="permissive")
    with fs.open(target, "wb") as handle:
        pq.write_table(merged, handle)


def _write_success(output: str) -> None:
    fs, root = fsspec.core.url_to_fs(output)
    with fs.open(f"{root.rstrip('/')}/_SUCCESS", "w") as handle:
        handle.write("")
