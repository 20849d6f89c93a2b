"""The ``shipyard.Client`` methods for batch scoring (kept apart so client.py stays small)."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from shipyard.batch.job import BatchJobFailed, BatchRequest, BatchRunner, ProgressCallback
from shipyard.entities import BatchJobRecord
from shipyard.errors import NotFound
from shipyard.sdk.operations import operation
from shipyard.security.permissions import Permission as P
from shipyard.store.batch_store import RUNNING, SUCCEEDED

if TYPE_CHECKING:
    from shipyard.store import Store


class BatchMethods:
    store: Store

    @property
    def actor(self) -> str:
        raise NotImplementedError  # the Client says who is acting

    def batch_predict(
        self,
        target: str,
        input: str | os.PathLike[str],
        output: str | os.PathLike[str],
        *,
        id_column: str | None = None,
        chunk_rows: int = 100_000,
        workers: int = 1,
        scheduler: str | None = None,
        max_error_rate: float = 0.01,
        job: str | None = None,
        model_threads: int | None = None,
        progress: ProgressCallback | None = None,
    ) -> BatchJobRecord:
        """Score files (CSV/Parquet, a folder, a glob, an fsspec URL or ``datasets:/N/V``)
        with a model URI or what a deployment serves now; write Parquet parts to ``output``.

        Resumable: call again with the same ``job`` after a crash and only the partitions
        without output are scored. Rows that break the signature or the model go to
        ``output/rejects.parquet``; raises ``BatchJobFailed`` above ``max_error_rate``.

        Through a server (``SHIPYARD_URL``) the job runs there, like ``POST
        /api/batch-jobs``: ``input``/``output`` are the server's paths, confined to its
        ``SHIPYARD_BATCH_ROOTS``; the call waits for the job as the direct one does.
        """
        remote = getattr(self, "_remote", None)
        if remote is not None:
            options = {
                "id_column": id_column,
                "chunk_rows": chunk_rows,
                "workers": workers,
                "scheduler": scheduler,
                "max_error_rate": max_error_rate,
                "model_threads": model_threads,
            }
            return _run_on_server(self, remote, target, input, output, job, options)
        request = BatchRequest(
            target=target,
            input=os.fspath(input),
            output=os.fspath(output),
            id_column=id_column,
            chunk_rows=chunk_rows,
            workers=workers,
            scheduler=scheduler,
            max_error_rate=max_error_rate,
            job=job,
            model_threads=model_threads,
        )
        return BatchRunner(self.store, request, actor=self.actor, on_progress=progress).run()

    @operation(P.READ)
    def batch_jobs(self, *, limit: int = 100) -> list[BatchJobRecord]:
        """Recent batch jobs, newest first, with status, rows done, rows/s and errors."""
        return self.store.batch.list(limit=limit)

    @operation(P.READ)
    def batch_job(self, name: str) -> BatchJobRecord:
        return self.store.batch.get(name)


def _run_on_server(
    client: BatchMethods,
    remote: Any,
    target: str,
    input: str | os.PathLike[str],
    output: str | os.PathLike[str],
    job: str | None,
    options: dict[str, Any],
) -> BatchJobRecord:
    """Start the job with the server's batch route (which confines paths to its batch
    folders) and wait for it, so a remote call answers like a direct one."""
    body = {
        "target": target,
        "input": os.fspath(input),
        "output": os.fspath(output),
        "job": job,
        **options,
    }
    name = remote.request("POST", "/api/batch-jobs", json=body).json()["name"]
    started = time.monotonic()
    while True:
        try:
            record = client.batch_job(name)
        except NotFound:  # the server's thread has not recorded it yet
            if time.monotonic() - started > 60:
                raise
            record = None
        if record is not None and record.status != RUNNING:
            break
        time.sleep(0.2)
    if record.status != SUCCEEDED:
        raise BatchJobFailed(f"batch job {name} {record.status}: {record.error}")
    return record
