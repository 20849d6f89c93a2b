"""Starting runs and checking what is logged to them.

Values are checked when they are logged (so the error points at the caller's
line), then buffered by ``RunBuffer`` and written in batches.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from dataclasses import dataclass, field
from numbers import Real
from typing import Any

from shipyard.entities import MetricPoint, Run
from shipyard.errors import Conflict, InvalidInput
from shipyard.names import check_name
from shipyard.store import Store

MAX_KEY_LENGTH = 250
MAX_PARAM_LENGTH = 6000


def check_key(key: Any, what: str) -> str:
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidInput(
            f"{what} key must be a non-empty string of at most "
            f"{MAX_KEY_LENGTH} characters, got {key!r}"
        )
    if key != key.strip() or any(c in key for c in "\n\r\t"):
        raise InvalidInput(f"{what} key {key!r} has surrounding spaces or control characters")
    return key


def metric_value(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        try:
            import numpy as np

            if isinstance(value, np.generic) and np.issubdtype(type(value), np.number):
                return float(value)
        except ImportError:  # pragma: no cover
            pass
        raise InvalidInput(f"metric {key!r} must be a number, got {type(value).__name__} {value!r}")
    number = float(value)
    if math.isinf(number):
        raise InvalidInput(f"metric {key!r} is infinite; log a finite value")
    return number


def param_value(key: str, value: Any) -> str:
    text = str(value)
    if len(text) > MAX_PARAM_LENGTH:
        raise InvalidInput(
            f"param {key!r} is {len(text)} characters long; the limit is "
            f"{MAX_PARAM_LENGTH} (log it as an artifact instead)"
        )
    return text


def start_run_record(
    store: Store,
    *,
    experiment: str,
    name: str | None,
    params: dict[str, Any] | None,
    tags: dict[str, Any] | None,
    actor: str,
    git_commit: str | None = None,
    source: str | None = None,
) -> tuple[str, str]:
    """Create the run row (with its initial params and tags); returns (run id, name).

    ``git_commit``/``source`` describe the training code; a remote client sends its
    own (the server's working directory says nothing about the job)."""
    check_name(experiment, "experiment")
    exp = store.tracking.ensure_experiment(experiment, actor=actor)
    run_id = uuid.uuid4().hex
    run_name = name or f"run-{run_id[:8]}"
    store.tracking.create_run(
        run_id=run_id,
        experiment_id=exp.id,
        name=run_name,
        user=actor,
        start_time=int(time.time() * 1000),
        git_commit=git_commit,
        source=source,
        params={check_key(k, "param"): param_value(k, v) for k, v in (params or {}).items()},
        tags={check_key(k, "tag"): str(v) for k, v in (tags or {}).items()},
    )
    return run_id, run_name


@dataclass
class RunBuffer:
    """Params, metrics and tags logged but not yet written; thread-safe."""

    params_written: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    metrics: list[MetricPoint] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_params(self, run_id: str, params: dict[str, Any]) -> None:
        checked = {check_key(k, "param"): param_value(k, v) for k, v in params.items()}
        with self.lock:
            for key, value in checked.items():
                known = self.params.get(key, self.params_written.get(key))
                if known is not None and known != value:
                    raise Conflict(
                        f"param {key!r} of run {run_id} is already {known!r}; params "
                        f"are immutable, cannot set it to {value!r}"
                    )
            self.params.update(checked)

    def add_metrics(self, metrics: dict[str, Any], step: int, timestamp: int) -> int:
        points = [
            MetricPoint(check_key(k, "metric"), metric_value(k, v), step, timestamp)
            for k, v in metrics.items()
        ]
        with self.lock:
            self.metrics.extend(points)
            return len(self.metrics)

    def take(self) -> tuple[dict[str, str], list[MetricPoint], dict[str, str]]:
        with self.lock:
            taken = self.params, self.metrics, self.tags
            self.params_written.update(self.params)
            self.params, self.metrics, self.tags = {}, [], {}
            return taken

    def give_back(
        self, params: dict[str, str], metrics: list[MetricPoint], tags: dict[str, str]
    ) -> None:
        """Put a batch back after a failed write, so nothing logged is lost."""
        with self.lock:
            for key in params:
                self.params_written.pop(key, None)
            self.params = {**params, **self.params}
            self.metrics = metrics + self.metrics
            self.tags = {**tags, **self.tags}


def finished_run_summary(run: Run) -> str:
    metrics = ", ".join(f"{k}={v:.4g}" for k, v in list(run.metrics.items())[:5])
    return f"run {run.id} ({run.name}) {run.status}" + (f": {metrics}" if metrics else "")
