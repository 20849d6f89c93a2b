"""The active run a training script logs to: ``with shipyard.start_run(...) as run``.

Logging calls only check values and append to an in-memory buffer; the
buffer is written in one transaction when it grows past ``flush_every``
points, when ``flush_interval_s`` has passed, on ``flush()``, before a model
is registered, and when the run ends. A run left open at interpreter exit is
flushed and closed by an ``atexit`` hook, so nothing logged is lost.
"""

from __future__ import annotations

import atexit
import contextvars
import logging
import os
import time
import traceback
import weakref
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from shipyard.entities import ModelVersion, Run, RunArtifact, RunStatus
from shipyard.errors import InvalidInput
from shipyard.names import check_name
from shipyard.registry import service as registry_service
from shipyard.tracking.service import RunBuffer, check_key

if TYPE_CHECKING:
    from shipyard.sdk.client import Client

logger = logging.getLogger(__name__)

_OPEN_RUNS: weakref.WeakSet[ActiveRun] = weakref.WeakSet()
# The run a ``with`` block is in: load_dataset records its input there.
CURRENT_RUN: contextvars.ContextVar[ActiveRun | None] = contextvars.ContextVar(
    "shipyard_current_run", default=None
)


class ActiveRun:
    def __init__(
        self,
        client: Client,
        run_id: str,
        *,
        experiment: str,
        name: str,
        params: dict[str, str],
        flush_every: int = 5000,
        flush_interval_s: float = 5.0,
    ) -> None:
        self._client = client
        self.id = run_id
        self.experiment = experiment
        self.name = name
        self._buffer = RunBuffer(params_written=dict(params))
        self._flush_every = flush_every
        self._flush_interval_s = flush_interval_s
        self._last_flush = time.monotonic()
        self._ended = False
        _OPEN_RUNS.add(self)

    # -- logging -------------------------------------------------------------
    def log_param(self, key: str, value: Any) -> None:
        self.log_params({key: value})

    def log_params(self, params: dict[str, Any]) -> None:
        self._require_open()
        self._buffer.add_params(self.id, params)
        self._maybe_flush(len(self._buffer.params))

    def log_metric(
        self, key: str, value: Any, step: int | None = None, timestamp: int | None = None
    ) -> None:
        self.log_metrics({key: value}, step=step, timestamp=timestamp)

    def log_metrics(
        self, metrics: dict[str, Any], step: int | None = None, timestamp: int | None = None
    ) -> None:
        self._require_open()
        if step is not None and (isinstance(step, bool) or not isinstance(step, int)):
            raise InvalidInput(f"step must be an integer, got {step!r}")
        when = timestamp if timestamp is not None else int(time.time() * 1000)
        pending = self._buffer.add_metrics(metrics, step or 0, when)
        self._maybe_flush(pending)

    def set_tag(self, key: str, value: Any) -> None:
        self.set_tags({key: value})

    def set_tags(self, tags: dict[str, Any]) -> None:
        self._require_open()
        checked = {check_key(k, "tag"): str(v) for k, v in tags.items()}
        with self._buffer.lock:
            self._buffer.tags.update(checked)

    def log_artifact(self, path: str | os.PathLike[str], name: str | None = None) -> RunArtifact:
        """Store a file (content-addressed) and attach it to the run under ``name``."""
        source = Path(path)
        ref = self._client.store.artifacts.put_file(source)  # remote: uploaded by hash
        return self._client.add_run_artifact(self.id, name or source.name, ref.sha256, ref.size)

    def log_input(self, dataset: str, version: str | int, digest: str | None = None) -> None:
        """Record a dataset version this run read."""
        self._client.log_input(self.id, dataset, str(version), digest)

    def log_batch(
        self,
        metrics: Any = (),
        *,
        params: dict[str, Any] | None = None,
        tags: dict[str, Any] | None = None,
    ) -> None:
        """Write many points now, in one transaction (``(key, value, step)`` tuples)."""
        self._require_open()
        self.flush()
        self._client.log_batch(self.id, metrics=metrics, params=params, tags=tags)

    def log_model(
        self, model: Any, name: str = "model", *, sample_input: Any = None, **options: Any
    ) -> str:
        """Store ``model`` with this run; returns ``runs:/<run id>/<name>`` to register later."""
        self._require_open()
        check_name(name, "artifact")
        packaged = registry_service.package_model(
            self._client.store, model, sample_input=sample_input, flavor_options=options
        )
        self._client.add_run_artifact(self.id, f"models/{name}", packaged.sha256, packaged.size)
        return f"runs:/{self.id}/{name}"

    def register_model(
        self, model: Any, *, name: str, sample_input: Any = None, **options: Any
    ) -> ModelVersion:
        """Register ``model`` as a new version linked to this run and its metrics."""
        self.flush()
        return self._client.register_model(
            model, name=name, sample_input=sample_input, run_id=self.id, **options
        )

    # -- life cycle ------------------------------------------------------------
    def _require_open(self) -> None:
        if self._ended:
            raise InvalidInput(f"run {self.id} has ended; start a new run to log more")

    def _maybe_flush(self, pending: int) -> None:
        if pending >= self._flush_every or (
            time.monotonic() - self._last_flush >= self._flush_interval_s
        ):
            self.flush()

    def flush(self) -> None:
        """Write everything logged so far in one transaction."""
        params, metrics, tags = self._buffer.take()
        self._last_flush = time.monotonic()
        if not (params or metrics or tags):
            return
        try:
            self._client.log_batch(self.id, metrics=metrics, params=params, tags=tags)
        except BaseException:
            self._buffer.give_back(params, metrics, tags)
            raise

    def end(self, status: str = RunStatus.FINISHED, error: str | None = None) -> None:
        if self._ended:
            return
        if status not in RunStatus.ALL:
            raise InvalidInput(f"unknown run status {status!r}; use one of {RunStatus.ALL}")
        params, metrics, tags = self._buffer.take()
        try:
            self._client.end_run(
                self.id,
                status=status,
                error=error,
                end_time=int(time.time() * 1000),
                params=params,
                metrics=list(metrics),
                tags=tags,
            )
        except BaseException:
            self._buffer.give_back(params, metrics, tags)
            raise
        self._ended = True
        _OPEN_RUNS.discard(self)

    @property
    def info(self) -> Run:
        """The run as stored (flushes first)."""
        self.flush()
        return self._client.get_run(self.id)

    def __enter__(self) -> ActiveRun:
        self._token = CURRENT_RUN.set(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        token = getattr(self, "_token", None)
        if token is not None:
            CURRENT_RUN.reset(token)
        if exc is None:
            self.end(RunStatus.FINISHED)
        elif isinstance(exc, KeyboardInterrupt):
            self.end(RunStatus.KILLED, "interrupted (KeyboardInterrupt)")
        else:
            last = traceback.extract_tb(tb)[-1] if tb else None
            where = f" at {last.filename}:{last.lineno}" if last else ""
            self.end(RunStatus.FAILED, f"{type(exc).__name__}: {exc}{where}")

    def __repr__(self) -> str:
        return f"<ActiveRun {self.id} {self.name!r} experiment={self.experiment!r}>"


@atexit.register
def _close_open_runs() -> None:
    for run in list(_OPEN_RUNS):
        try:
            run.end(RunStatus.FINISHED)
        except Exception as exc:  # the interpreter is exiting: report, do not raise
            logger.warning("could not close run %s at exit: %s", run.id, exc)
