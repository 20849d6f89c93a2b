"""Executing a pipeline run: its steps in order, each recorded as it goes.

A run executes in whichever process claims it (``shipyard pipelines run``,
``shipyard serve`` or ``shipyard worker``); the claim is a conditional UPDATE,
so no run executes twice. Steps that already succeeded (a retry, a run that
resumed after approval or after its rollout) are not executed again: their
stored outputs are read back. A failing step ends the run ``failed`` with the
error and the traceback in the step's logs; nothing later runs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from shipyard.entities import ModelVersion, Run
from shipyard.errors import InvalidInput
from shipyard.pipelines.definition import (
    JSON_TYPES,
    REFERENCE_TYPES,
    Pipeline,
    Step,
    StepContext,
    Waiting,
    check_value,
)
from shipyard.pipelines.gate import GateFailed
from shipyard.pipelines.loader import load, snapshot
from shipyard.store.dataset_store import DatasetRecord
from shipyard.store.pipeline_records import PipelineRunRecord

logger = logging.getLogger(__name__)


def encode(value: Any) -> Any:
    """A step's output as stored: references by identity, everything else as JSON."""
    if isinstance(value, DatasetRecord):
        return {"$dataset": value.name, "version": value.version}
    if isinstance(value, Run):
        return {"$run": value.id}
    if isinstance(value, ModelVersion):
        return {"$model": value.name, "version": value.version}
    try:
        return json.loads(json.dumps(value, allow_nan=True))
    except (TypeError, ValueError):
        raise InvalidInput(
            f"a step returned a {type(value).__name__}, which cannot be stored; return a "
            "DatasetRecord, Run, ModelVersion or JSON values (log models and files to a run)"
        ) from None


def decode(data: Any, client: Any) -> Any:
    if isinstance(data, dict):
        if "$dataset" in data:
            return client.get_dataset(data["$dataset"], data["version"])
        if "$run" in data:
            return client.get_run(data["$run"])
        if "$model" in data:
            return client.get_model_version(data["$model"], data["version"])
    return data


def _normalize(value: Any) -> Any:
    """``with ctx.start_run() as run: ... return run`` returns the finished Run."""
    if isinstance(value, REFERENCE_TYPES + JSON_TYPES):
        return value
    info = getattr(value, "info", None)
    info = info() if callable(info) else info
    return info if isinstance(info, Run) else value


class _StepLog(logging.Handler):
    """Collects the log records this thread emits while one step runs."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.thread = threading.get_ident()
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        self.addFilter(lambda record: record.thread == self.thread)

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@contextmanager
def _captured() -> Iterator[_StepLog]:
    handler = _StepLog()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


class _Heartbeat:
    """Tells the store this worker is alive while a long step runs."""

    def __init__(self, store: Any, run_id: int, worker: str, every_s: float) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._beat, args=(store, run_id, worker, every_s), daemon=True
        )

    def _beat(self, store: Any, run_id: int, worker: str, every_s: float) -> None:
        while not self._stop.wait(every_s):
            try:
                store.pipelines.heartbeat(run_id, worker)
            except Exception as exc:  # a store hiccup: the next beat may get through
                logger.warning("heartbeat of pipeline run %s failed: %s", run_id, exc)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


class PipelineRunner:
    """Claims queued runs and executes them with ``client`` (a ``shipyard.Client``)."""

    def __init__(
        self,
        client: Any,
        worker: str,
        *,
        heartbeat_s: float = 5.0,
        should_stop: Any = None,
    ) -> None:
        self.client = client
        self.should_stop = should_stop or (lambda: False)
        self.store = client.store
        self.worker = worker
        self.heartbeat_s = heartbeat_s
        self._loaded: dict[str, Pipeline] = {}

    def run_next(self, run_id: int | None = None) -> PipelineRunRecord | None:
        """Claim one queued run (or ``run_id``) and execute it; None when none was free."""
        run = self.store.pipelines.claim(self.worker, run_id)
        if run is None:
            return None
        with _Heartbeat(self.store, run.id, self.worker, self.heartbeat_s):
            try:
                self._execute(run)
            except Exception as exc:  # loading the code or the store failed: say so on the run
                logger.exception("pipeline run %s could not execute", run.id)
                self.store.pipelines.set_status(
                    run.id, "failed", actor=self.worker, error=str(exc), expect=("running",)
                )
        return self.store.pipelines.get_run(run.id)

    def pipeline_of(self, run: PipelineRunRecord) -> Pipeline:
        """The code the run was started with, from the store's verified snapshot."""
        if run.code_sha256 not in self._loaded:
            source = self.store.pipelines.get(run.pipeline).source
            code = snapshot(source, self.store.artifacts.get_bytes(run.code_sha256))
            self._loaded[run.code_sha256] = load(code)
        return self._loaded[run.code_sha256]

    def _execute(self, run: PipelineRunRecord) -> None:
        pipeline = self.pipeline_of(run)
        outputs: dict[str, Any] = {}
        user_params = {k: v for k, v in run.params.items() if not k.startswith("_")}
        for record in run.steps:
            step = pipeline.steps[record.name]
            if record.status in ("succeeded", "cached"):
                outputs[step.name] = decode(record.outputs.get("value"), self.client)
                continue
            if self.should_stop():  # shutting down: another process takes it from here
                self.store.pipelines.set_status(
                    run.id, "queued", actor=self.worker, expect=("running",)
                )
                return
            approval = run.params.get("_approval") or {}
            if step.approval and not (
                approval.get("approved") and approval.get("step") == step.name
            ):
                self.store.pipelines.set_status(
                    run.id,
                    "awaiting_approval",
                    actor=self.worker,
                    waiting={"step": step.name},
                    expect=("running",),
                )
                logger.info("pipeline run %s waits for approval before %s", run.id, step.name)
                return
            if not self._run_step(run, step, outputs, user_params):
                return
        self.store.pipelines.set_status(
            run.id,
            "succeeded",
            actor=self.worker,
            outcome=run.outcome or "completed",
            expect=("running",),
        )

    def _run_step(
        self,
        run: PipelineRunRecord,
        step: Step,
        outputs: dict[str, Any],
        params: dict[str, Any],
    ) -> bool:
        """Execute one step; False when the run stops here (failed or waiting)."""
        inputs = {parameter: outputs[upstream] for parameter, upstream in step.inputs.items()}
        encoded = {parameter: encode(value) for parameter, value in inputs.items()}
        cache_key = hashlib.sha256(
            json.dumps(
                {"code": step.code_hash(), "inputs": encoded, "params": params},
                sort_keys=True,
                default=str,
            ).encode()
        ).hexdigest()
        pipelines = self.store.pipelines
        pipelines.start_step(
            run.id, step.name, attempt=run.attempt, inputs=encoded, cache_key=cache_key
        )
        if step.cache:
            cached = pipelines.cached_outputs(run.pipeline, step.name, cache_key)
            if cached is not None:
                pipelines.end_step(
                    run.id,
                    step.name,
                    "cached",
                    outputs=cached,
                    logs="reused the outputs of an earlier run: same code, inputs and parameters",
                )
                outputs[step.name] = decode(cached.get("value"), self.client)
                return True
        context = StepContext(
            client=self.client,
            params=dict(params),
            run_id=run.id,
            pipeline=run.pipeline,
            step=step.name,
            trigger=dict(run.trigger),
            log=_step_logger(run.pipeline, step.name),
        )
        with _captured() as captured:
            try:
                value = _normalize(step.function(context, **inputs))
                if isinstance(value, Waiting):
                    pipelines.end_step(
                        run.id,
                        step.name,
                        "waiting",
                        outputs={"waiting": value.details},
                        logs=captured.text,
                    )
                    pipelines.set_status(
                        run.id,
                        value.status,
                        actor=self.worker,
                        waiting={"step": step.name, "kind": value.kind, **value.details},
                        expect=("running",),
                    )
                    return False
                check_value(step, value)
                stored = {"value": encode(value)}
            except Exception as exc:
                failed = {"value": exc.result.to_dict()} if isinstance(exc, GateFailed) else {}
                pipelines.end_step(
                    run.id,
                    step.name,
                    "failed",
                    outputs=failed,
                    logs="\n".join(filter(None, [captured.text, traceback.format_exc()])),
                    error=f"{type(exc).__name__}: {exc}",
                )
                pipelines.set_status(
                    run.id,
                    "failed",
                    actor=self.worker,
                    error=f"step {step.name!r} failed: {exc}",
                    expect=("running",),
                )
                logger.warning("pipeline run %s: step %s failed: %s", run.id, step.name, exc)
                return False
        pipelines.end_step(run.id, step.name, "succeeded", outputs=stored, logs=captured.text)
        outputs[step.name] = value
        return True


def _step_logger(pipeline: str, step: str) -> logging.Logger:
    log = logging.getLogger(f"shipyard.pipeline.{pipeline}.{step}")
    log.setLevel(logging.INFO)
    return log
