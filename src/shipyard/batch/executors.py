"""Where partitions are scored: in this process, in N local processes, or on Dask.

Each executor takes the job's partitions as they are read and yields results as
they finish, holding at most a few partitions in flight, so memory stays about
the model plus a few chunks however large the input. The model travels once
per worker: as the process pool's initializer argument, or scattered to every
Dask worker once (``broadcast=True``) and passed to tasks by reference.
"""

from __future__ import annotations

import multiprocessing
import os
import uuid
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa

from shipyard.batch.package import ModelPackage, load_package
from shipyard.batch.scoring import ChunkResult, ChunkTask, JobSpec, score_chunk
from shipyard.errors import MissingDependency, ShipyardError


class BatchWorkerError(ShipyardError):
    """A worker failed on a partition (not a bad row: rows are set aside, not raised)."""


class Executor(Protocol):
    def run(self, tasks: Iterable[ChunkTask]) -> Iterator[ChunkResult]: ...

    def close(self) -> None: ...


class InlineExecutor:
    """One worker: this process."""

    def __init__(self, package: ModelPackage, spec: JobSpec) -> None:
        self.package, self.spec = package, spec

    def run(self, tasks: Iterable[ChunkTask]) -> Iterator[ChunkResult]:
        for task in tasks:
            yield score_chunk(self.package, self.spec, task)

    def close(self) -> None:
        return None


_worker_state: dict[str, Any] = {}


def _init_worker(package: ModelPackage, spec: JobSpec) -> None:
    _worker_state["package"], _worker_state["spec"] = package, spec


def _score_in_worker(task: ChunkTask | SharedChunk) -> ChunkResult:
    if isinstance(task, SharedChunk):
        task = task.open()
    return score_chunk(_worker_state["package"], _worker_state["spec"], task)


SHARED_MEMORY = Path("/dev/shm")


@dataclass(frozen=True)
class SharedChunk:
    """A partition handed to a local worker as an Arrow file in shared memory: the worker
    maps it without a copy, where pickling 16 MB through the pool's pipe cost ~55 ms of
    CPU per 100,000 rows on each side, CPU the workers need on a small machine."""

    partition: int
    first_row: int
    path: str

    @classmethod
    def write(cls, task: ChunkTask, prefix: str) -> SharedChunk:
        path = f"{SHARED_MEMORY}/{prefix}-{task.partition}-{uuid.uuid4().hex[:8]}.arrow"
        with pa.OSFile(path, "wb") as sink, pa.ipc.new_file(sink, task.table.schema) as writer:
            writer.write_table(task.table)
        return cls(task.partition, task.first_row, path)

    def open(self) -> ChunkTask:
        table = pa.ipc.open_file(pa.memory_map(self.path)).read_all()
        os.unlink(self.path)  # the mapping stays valid until the table is released
        return ChunkTask(self.partition, self.first_row, table)


def _bounded(
    submit: Any, tasks: Iterable[ChunkTask], in_flight: int, wait_any: Any
) -> Iterator[Any]:
    """Submit tasks keeping at most ``in_flight`` unfinished; yield finished futures."""
    pending: set[Any] = set()
    for task in tasks:
        pending.add(submit(task))
        while len(pending) >= in_flight:
            done, pending = wait_any(pending)
            yield from done
    while pending:
        done, pending = wait_any(pending)
        yield from done


def _start_method() -> str:
    """``fork`` starts workers in milliseconds, but only a process that has not run
    OpenMP code may fork (GNU libgomp's pool does not survive it): the CLI and SDK
    coordinator never calls a model. A server process has, so it uses forkserver."""
    return "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"


#: Flavors whose load starts no native threads, so a loaded model may be forked.
FORK_SAFE_LOADS = frozenset({"sklearn"})


def _remove_orphans() -> None:
    """Shared partitions of a coordinator that was killed would hold memory until reboot."""
    for path in SHARED_MEMORY.glob("shipyard-batch-*"):
        try:
            owner = int(path.name.split("-")[2])
            os.kill(owner, 0)
        except ProcessLookupError:
            path.unlink(missing_ok=True)
        except (ValueError, IndexError, PermissionError):
            continue


class ProcessExecutor:
    """N local worker processes, each loading the model once."""

    def __init__(
        self, package: ModelPackage, spec: JobSpec, workers: int, start_method: str | None = None
    ) -> None:
        method = start_method or _start_method()
        context = multiprocessing.get_context(method)
        if method == "fork" and package.version.flavor in FORK_SAFE_LOADS:
            # Loaded here, the model is in every forked worker already: no per-worker load
            # (0.5-0.9 s of imports and unpickling each). Unpickling a scikit-learn model
            # starts no threads; a flavor whose load starts a pool (onnxruntime) is not
            # listed, since its threads would not survive the fork.
            load_package(package)
        self.workers = workers
        _remove_orphans()
        self.pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=context,
            initializer=_init_worker,
            initargs=(package, spec),
        )

    def run(self, tasks: Iterable[ChunkTask]) -> Iterator[ChunkResult]:
        def wait_any(pending: set[Future[ChunkResult]]) -> Any:
            return wait(pending, return_when=FIRST_COMPLETED)

        shared = SHARED_MEMORY.is_dir() and os.access(SHARED_MEMORY, os.W_OK)
        prefix = f"shipyard-batch-{os.getpid()}"

        def submit(task: ChunkTask) -> Future[ChunkResult]:
            return self.pool.submit(
                _score_in_worker, SharedChunk.write(task, prefix) if shared else task
            )

        for future in _bounded(submit, tasks, 2 * self.workers, wait_any):
            yield _result(future)

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        for leftover in SHARED_MEMORY.glob(f"shipyard-batch-{os.getpid()}-*"):
            leftover.unlink(missing_ok=True)  # partitions cancelled before a worker took them


def _result(future: Any) -> ChunkResult:
    try:
        result: ChunkResult = future.result()
    except ShipyardError:
        raise
    except Exception as exc:
        raise BatchWorkerError(f"a batch worker failed: {type(exc).__name__}: {exc}") from exc
    return result


class DaskExecutor:
    """Partitions scattered over a Dask cluster; the model broadcast to workers once."""

    def __init__(self, package: ModelPackage, spec: JobSpec, scheduler: str) -> None:
        try:
            from distributed import Client
        except ImportError as exc:  # the dask extra is optional
            raise MissingDependency("dask", "dask") from exc
        self.client = Client(scheduler, set_as_default=False)
        self.spec = spec
        self.workers = max(1, sum(self.client.nthreads().values()))
        [self.package] = self.client.scatter([package], broadcast=True, hash=False)

    def run(self, tasks: Iterable[ChunkTask]) -> Iterator[ChunkResult]:
        from distributed import as_completed

        finished = as_completed(loop=self.client.loop)
        in_flight = 0
        for task in tasks:
            finished.add(self.client.submit(score_chunk, self.package, self.spec, task, pure=False))
            in_flight += 1
            while in_flight >= 2 * self.workers:
                in_flight -= 1
                yield _result(next(finished))
        for future in finished:
            yield _result(future)

    def close(self) -> None:
        self.client.close()
