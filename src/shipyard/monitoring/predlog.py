"""The prediction log: every served prediction, written off the request path.

``PredictionLogger.log`` is called on the serving hot path and only appends a
tuple to a bounded queue (or counts a drop when the queue is full). A writer
thread drains the queue in batches and writes columnar Parquet segments to
the artifact store, partitioned by deployment, date and hour, one file per
batch and process: ``predictions/deployment=D/date=YYYY-MM-DD/hour=HH/<process>-<n>.parquet``.
A slow or failing store costs dropped log records (counted), never a failed
or slowed request. Listed input fields are dropped or hashed before they are
queued (PII), and a per-deployment sampling rate thins the log.
"""

from __future__ import annotations

import collections
import datetime as dt
import hashlib
import io
import logging
import random
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from shipyard.store.artifacts import ArtifactStore

logger = logging.getLogger(__name__)

PREFIX = "predictions"
DICTIONARY = ["arm", "prediction"]


@dataclass(frozen=True)
class LogPolicy:
    """Per-deployment logging: sampling and PII handling of input fields."""

    sample_rate: float = 1.0
    drop: tuple[str, ...] = ()
    hash: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> LogPolicy:
        data = data or {}
        return cls(
            float(data.get("sample_rate", 1.0)),
            tuple(data.get("drop", ())),
            tuple(data.get("hash", ())),
        )


@dataclass
class LogCounters:
    logged: int = 0
    dropped_full: int = 0
    dropped_write: int = 0
    sampled_out: int = 0
    segments: int = 0


#: One logged request, as it came off the data plane: (deployment, version, arm,
#: request_id, at_ms, latency_ms, columns, rows, predictions, probabilities, unit).
#: ``unit`` is the A/B assignment key (the user), hashed by the writer. ``rows``
#: is the float matrix the model received, or the validated lists. A plain tuple, not a
#: NamedTuple: the collector untracks an exact tuple of untracked things (strings,
#: numbers, arrays) at its first pass, so a full queue costs later passes nothing.
_Record = tuple[
    str,
    int,
    str,
    str,
    int,
    float,
    Sequence[str],
    "np.ndarray | list[list[Any]]",
    "np.ndarray | list[Any]",
    "np.ndarray | list[list[float]] | None",
    str | None,
]
_DEPLOYMENT: Final = 0
_AT_MS: Final = 4
_COLUMNS: Final = 6
_ROWS: Final = 7


def _unit(key: str | None) -> str | None:
    """An A/B key (often a user id) kept only as a short hash: enough to count users."""
    if key is None:
        return None
    return hashlib.blake2b(key.encode(), digest_size=8).hexdigest()


def _hashed(value: Any) -> str | None:
    if value is None:
        return None
    return hashlib.sha256(str(value).encode()).hexdigest()[:32]


@dataclass
class PredictionLogger:
    artifacts: ArtifactStore
    process_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    max_queue: int = 100_000
    batch_size: int = 5_000
    flush_interval_s: float = 0.25
    counters: LogCounters = field(default_factory=LogCounters)

    def __post_init__(self) -> None:
        # A deque: append and popleft are atomic under the GIL, no locks or conditions
        # on the request path; the bound is checked by the caller (counted drops).
        self._queue: collections.deque[_Record] = collections.deque()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sequence = 0

    # -- hot path ------------------------------------------------------------------
    def log(
        self,
        deployment: str,
        version: int,
        arm: str,
        request_id: str,
        latency_s: float,
        columns: Sequence[str],
        rows: np.ndarray | list[list[Any]],
        predictions: np.ndarray | list[Any],
        probabilities: np.ndarray | list[list[float]] | None,
        policy: LogPolicy | None = None,
        unit: str | None = None,
    ) -> None:
        """Queue one request. Pass the arrays the model call already made (views of the
        batch) where there are some: the writer then joins them without a per-row copy.
        ``unit`` is the A/B key the request was assigned by (experiments count users)."""
        if policy is not None:
            if policy.sample_rate < 1.0 and random.random() >= policy.sample_rate:
                self.counters.sampled_out += 1
                return
            if policy.drop or policy.hash:
                columns, rows = self._protect(policy, columns, rows)
        if len(self._queue) >= self.max_queue:
            self.counters.dropped_full += 1
            return
        self._queue.append(
            (
                deployment,
                version,
                arm,
                request_id,
                int(time.time() * 1000),
                latency_s * 1000,
                columns,
                rows,
                predictions,
                probabilities,
                unit,
            )
        )

    @staticmethod
    def _protect(
        policy: LogPolicy, columns: Sequence[str], rows: np.ndarray | list[list[Any]]
    ) -> tuple[Sequence[str], list[list[Any]]]:
        if isinstance(rows, np.ndarray):
            rows = rows.tolist()
        keep = [i for i, c in enumerate(columns) if c not in policy.drop]
        hashed = {i for i, c in enumerate(columns) if c in policy.hash}
        new_rows = [[_hashed(row[i]) if i in hashed else row[i] for i in keep] for row in rows]
        return tuple(columns[i] for i in keep), new_rows

    # -- writer ----------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._stop.wait(self.flush_interval_s)
            self.flush()
        self.flush()

    def flush(self) -> None:
        """Write everything queued now (called by the writer thread, or at shutdown)."""
        while True:
            batch: list[_Record] = []
            popleft = self._queue.popleft
            while len(batch) < self.batch_size:
                try:
                    batch.append(popleft())
                except IndexError:
                    break
            if not batch:
                return
            self._write(batch)

    def _write(self, batch: list[_Record]) -> None:
        by_hour: dict[tuple[str, int, tuple[str, ...]], list[_Record]] = {}
        for record in batch:
            key = (record[_DEPLOYMENT], record[_AT_MS] // 3_600_000, tuple(record[_COLUMNS]))
            group = by_hour.get(key)
            if group is None:
                by_hour[key] = [record]
            else:
                group.append(record)
        for (deployment, hour_index, columns), records in by_hour.items():
            moment = dt.datetime.fromtimestamp(hour_index * 3600, tz=dt.UTC)
            date, hour = moment.strftime("%Y-%m-%d"), moment.strftime("%H")
            rows_written = sum(len(r[_ROWS]) for r in records)
            try:
                table = _to_table(columns, records)
                self._sequence += 1
                path = (
                    f"{PREFIX}/deployment={deployment}/date={date}/hour={hour}/"
                    f"{self.process_id}-{self._sequence:08d}.parquet"
                )
                buffer = io.BytesIO()
                # Dictionary pages only where values repeat: trying them on float columns
                # doubled the write time for no smaller file.
                pq.write_table(table, buffer, compression="zstd", use_dictionary=DICTIONARY)
                self.artifacts.put_path(path, buffer.getvalue())
                self.counters.logged += rows_written
                self.counters.segments += 1
            except Exception as exc:  # never let logging hurt serving: count and go on
                self.counters.dropped_write += rows_written
                logger.warning(
                    "prediction log: %d record(s) of %s not written: %s",
                    rows_written,
                    deployment,
                    exc,
                )

    def close(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout_s)


def _to_table(columns: tuple[str, ...], records: list[_Record]) -> pa.Table:
    """One row per predicted row: request fields, every input column, the outputs.

    Built column-wise: the per-request fields by one transposition of the record
    tuples, the inputs and outputs by joining the arrays the model calls already
    made. This runs in the writer thread while holding the GIL, so it must stay
    short to not stall the event loop.
    """
    (
        _,
        versions,
        arms,
        request_ids,
        at_ms,
        latencies,
        _,
        rows,
        predictions,
        probabilities,
        units,
    ) = zip(*records, strict=True)
    counts = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(records))
    single = bool((counts == 1).all())

    def per_row(values: Sequence[Any], dtype: Any) -> pa.Array:
        array = np.asarray(values, dtype=dtype)
        return pa.array(array if single else np.repeat(array, counts))

    arrays: dict[str, pa.Array] = {
        "request_id": per_row(request_ids, object),
        "row": pa.array(
            np.zeros(len(records), np.int64)
            if single
            else np.concatenate([np.arange(n) for n in counts])
        ),
        "at_ms": per_row(at_ms, np.int64),
        "version": per_row(versions, np.int64),
        "arm": per_row(arms, object),
        "latency_ms": per_row(latencies, np.float64),
    }
    if any(u is not None for u in units):
        arrays["unit"] = per_row([_unit(u) for u in units], object)
    arrays["prediction"] = pa.array(_joined_predictions(predictions))
    score, matrix = _joined_probabilities(probabilities, predictions)
    arrays["score"] = score
    arrays["probabilities"] = matrix
    inputs = _joined_inputs(rows)
    if inputs is not None:
        for position, name in enumerate(columns):
            arrays[f"in.{name}"] = pa.array(inputs[:, position])
    else:
        flat = [row for request in rows for row in request]
        for position, name in enumerate(columns):
            arrays[f"in.{name}"] = pa.array([row[position] for row in flat])
    return pa.table(arrays)


def _joined_predictions(predictions: Sequence[np.ndarray | list[Any]]) -> np.ndarray:
    """Every predicted label as text (numpy's ``str`` is Python's, in C)."""
    if all(isinstance(p, np.ndarray) for p in predictions):
        return np.concatenate(predictions).astype(str)
    return np.array([str(p) for request in predictions for p in request], dtype=object)


def _joined_probabilities(
    probabilities: Sequence[np.ndarray | list[list[float]] | None],
    predictions: Sequence[np.ndarray | list[Any]],
) -> tuple[pa.Array, pa.Array]:
    """(score, probabilities): P(positive) for two classes, else the top probability."""
    matrix: np.ndarray
    if all(isinstance(p, np.ndarray) and p.ndim == 2 for p in probabilities):
        matrix = np.concatenate(probabilities)  # type: ignore[arg-type]
    else:
        nested = [
            row
            for request, labels in zip(probabilities, predictions, strict=True)
            for row in (request if request is not None else [None] * len(labels))
        ]
        first = nested[0] if nested else None
        if first is None or not all(p is not None and len(p) == len(first) for p in nested):
            flat_labels = [v for request in predictions for v in request]
            score = pa.array(
                [
                    (p[1] if len(p) == 2 else max(p)) if p else _as_float(v)
                    for p, v in zip(nested, flat_labels, strict=True)
                ],
                type=pa.float64(),
            )
            return score, pa.array(nested, type=pa.list_(pa.float64()))
        matrix = np.asarray(nested, dtype=np.float64)
    width = matrix.shape[1]
    score = pa.array(matrix[:, 1] if width == 2 else matrix.max(axis=1))
    listed = pa.FixedSizeListArray.from_arrays(pa.array(matrix.ravel()), width)
    return score, listed.cast(pa.list_(pa.float64()))


def _joined_inputs(rows: Sequence[np.ndarray | list[list[Any]]]) -> np.ndarray | None:
    """All requests' rows as one float matrix, when they are all numeric; else None."""
    if all(isinstance(r, np.ndarray) for r in rows):
        return np.concatenate(rows)
    try:
        return np.asarray([row for request in rows for row in request], dtype=np.float64)
    except (TypeError, ValueError):
        return None


def _as_float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def read_predictions(
    artifacts: ArtifactStore,
    deployment: str,
    *,
    since_ms: int | None = None,
    until_ms: int | None = None,
) -> pa.Table:
    """Every logged row of ``deployment`` in [since, until), merged across processes."""
    paths = artifacts.list_paths(f"{PREFIX}/deployment={deployment}")
    if since_ms is not None:
        floor = dt.datetime.fromtimestamp(since_ms / 1000, tz=dt.UTC).strftime("%Y-%m-%d/hour=%H")
        paths = [p for p in paths if _partition(p) >= floor]
    if until_ms is not None:
        ceiling = dt.datetime.fromtimestamp(until_ms / 1000, tz=dt.UTC).strftime("%Y-%m-%d/hour=%H")
        paths = [p for p in paths if _partition(p) <= ceiling]
    tables = [
        pq.read_table(io.BytesIO(artifacts.read_path(p))) for p in paths if p.endswith(".parquet")
    ]
    if not tables:
        return pa.table(
            {"request_id": pa.array([], pa.string()), "at_ms": pa.array([], pa.int64())}
        )
    table = pa.concat_tables(tables, promote_options="permissive")
    if since_ms is not None or until_ms is not None:
        import pyarrow.compute as pc

        mask = pc.greater_equal(table["at_ms"], since_ms or 0)
        if until_ms is not None:
            mask = pc.and_(mask, pc.less(table["at_ms"], until_ms))
        table = table.filter(mask)
    return table


def _partition(path: str) -> str:
    """``date=YYYY-MM-DD/hour=HH`` of a segment path, as ``YYYY-MM-DD/hour=HH``."""
    parts = path.split("/")
    date = next((p[5:] for p in parts if p.startswith("date=")), "")
    hour = next((p for p in parts if p.startswith("hour=")), "")
    return f"{date}/{hour}"
