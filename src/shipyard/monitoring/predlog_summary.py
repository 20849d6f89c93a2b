"""A per-minute summary of a deployment's prediction log, kept up to date incrementally.

Reading a whole prediction log per question does not scale (a million rows take
seconds). Segments are immutable files, so each one is read once, only its request
columns (``at_ms``, ``version``, ``arm``, ``latency_ms``, ``row``), and folded into
per-(minute, version, shadow) counters: requests, rows, a latency histogram and a
histogram of rows per request. A later call lists the segments again and reads only the
new ones; when a segment disappeared (retention) the summary is rebuilt once. Memory is
per minute of traffic, not per segment. The latest rows are found from each segment's
newest timestamp, so they need one or two segment reads.

Latency quantiles come from a log-spaced histogram (80 bins from 0.01 ms to 100 s,
each about 22% wide), interpolated within the bin: within a few percent, not exact.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from shipyard.monitoring.predlog import PREFIX
from shipyard.store.artifacts import ArtifactStore

#: Latency histogram edges (ms): bin 0 is below 0.01 ms, the last bin above 100 s.
LATENCY_EDGES_MS = np.geomspace(0.01, 100_000.0, 81)
LATENCY_BINS = len(LATENCY_EDGES_MS) + 1
#: Rows per request: 1, 2, 3-4, 5-8, ... 513-1024, more.
SIZE_EDGES = np.array([2, 3, 5, 9, 17, 33, 65, 129, 257, 513, 1025])
SIZE_LABELS = (
    "1",
    "2",
    "3-4",
    "5-8",
    "9-16",
    "17-32",
    "33-64",
    "65-128",
    "129-256",
    "257-512",
    "513-1024",
    "more",
)
REQUEST_COLUMNS = ["at_ms", "version", "arm", "latency_ms", "row"]
MINUTE_MS = 60_000

Key = tuple[int, int, bool]  # (minute start in seconds, version, shadow)


@dataclass
class Counts:
    """One (minute, version, shadow) cell, or a sum of them."""

    requests: int = 0
    rows: int = 0
    latency: np.ndarray = field(default_factory=lambda: np.zeros(LATENCY_BINS, np.int64))
    sizes: np.ndarray = field(default_factory=lambda: np.zeros(len(SIZE_LABELS), np.int64))

    def add(self, other: Counts, sign: int = 1) -> None:
        self.requests += sign * other.requests
        self.rows += sign * other.rows
        self.latency += sign * other.latency
        self.sizes += sign * other.sizes

    def quantile_ms(self, q: float) -> float | None:
        return latency_quantile(self.latency, q)


def latency_quantile(histogram: np.ndarray, q: float) -> float | None:
    """The q-quantile (ms) of a latency histogram, interpolated geometrically in its bin."""
    total = int(histogram.sum())
    if total == 0:
        return None
    cumulative = np.cumsum(histogram)
    rank = q * total
    index = int(np.searchsorted(cumulative, rank, side="left"))
    index = min(index, LATENCY_BINS - 1)
    if index == 0:
        return float(LATENCY_EDGES_MS[0])
    if index == LATENCY_BINS - 1:
        return float(LATENCY_EDGES_MS[-1])
    low, high = LATENCY_EDGES_MS[index - 1], LATENCY_EDGES_MS[index]
    before = cumulative[index - 1] if index > 0 else 0
    inside = histogram[index]
    share = (rank - before) / inside if inside else 0.5
    return float(low * (high / low) ** min(max(share, 0.0), 1.0))


@dataclass(frozen=True)
class Segment:
    """What one segment file contributed."""

    path: str
    rows: int
    primary_rows: int
    first_ms: int
    last_ms: int
    cells: dict[Key, Counts]


@dataclass(frozen=True)
class Binned:
    """One arm's counts per time step: ``requests`` and ``rows`` are arrays over steps."""

    version: int
    shadow: bool
    requests: np.ndarray
    rows: np.ndarray
    latency: np.ndarray  # the whole window's latency histogram
    sizes: np.ndarray  # the whole window's rows-per-request histogram

    @property
    def label(self) -> str:
        return f"v{self.version} (shadow)" if self.shadow else f"v{self.version}"


@dataclass(frozen=True)
class TrafficSummary:
    """A deployment's logged traffic from ``start_s`` in steps of ``step_s`` (``steps``
    holds each step's start), per arm, plus the answered requests' latency histogram per
    step (``latency``: steps x bins, shadow calls left out) and all-time totals."""

    deployment: str
    steps: np.ndarray
    arms: list[Binned]
    latency: np.ndarray
    segments: int
    rows: int
    primary_rows: int
    first_ms: int | None
    last_ms: int | None

    def quantiles_ms(self, q: float) -> list[float | None]:
        """The q-quantile of answered requests' latency per step (None: no request),
        interpolated geometrically within its bin as ``latency_quantile`` does."""
        if not len(self.latency):
            return []
        cumulative = np.cumsum(self.latency, axis=1)
        totals = cumulative[:, -1]
        rank = q * totals
        index = np.minimum((cumulative < rank[:, None]).sum(axis=1), LATENCY_BINS - 1)
        edges = np.concatenate(([LATENCY_EDGES_MS[0]], LATENCY_EDGES_MS, [LATENCY_EDGES_MS[-1]]))
        low, high = edges[index], edges[index + 1]
        rows = np.arange(len(index))
        before = np.where(index > 0, cumulative[rows, np.maximum(index - 1, 0)], 0)
        inside = self.latency[rows, index]
        share = np.clip(np.where(inside > 0, (rank - before) / np.maximum(inside, 1), 0.5), 0, 1)
        values = low * (high / low) ** share
        return [float(v) if t else None for v, t in zip(values, totals, strict=True)]

    def sizes(self) -> np.ndarray:
        """Answered requests by rows per request (``SIZE_LABELS``) over the window."""
        total = np.zeros(len(SIZE_LABELS), np.int64)
        for arm in self.arms:
            if not arm.shadow:
                total += arm.sizes
        return total


def summarise_segment(path: str, table: pa.Table) -> Segment:
    """Fold one segment's rows into per-(minute, version, shadow) counts."""
    n = table.num_rows
    if n == 0:
        return Segment(path, 0, 0, 0, 0, {})
    at = table["at_ms"].to_numpy()
    version = table["version"].to_numpy()
    latency = table["latency_ms"].to_numpy()
    row = table["row"].to_numpy()
    shadow = pc.starts_with(table["arm"], "shadow:").to_numpy(zero_copy_only=False)
    starts = np.flatnonzero(row == 0)  # one per request: a request's rows are contiguous
    sizes = np.diff(np.append(starts, n))
    minute = at[starts] // MINUTE_MS
    keys = (minute * (1 << 24) + version[starts]) * 2 + shadow[starts]
    unique, group = np.unique(keys, return_inverse=True)
    groups = len(unique)
    lat_hist = np.zeros((groups, LATENCY_BINS), np.int64)
    np.add.at(lat_hist, (group, np.searchsorted(LATENCY_EDGES_MS, latency[starts])), 1)
    size_hist = np.zeros((groups, len(SIZE_LABELS)), np.int64)
    np.add.at(size_hist, (group, np.searchsorted(SIZE_EDGES, sizes, side="right")), 1)
    requests = np.bincount(group, minlength=groups)
    rows = np.bincount(group, weights=sizes, minlength=groups).astype(np.int64)
    cells = {}
    for i, key in enumerate(unique.tolist()):
        is_shadow = bool(key & 1)
        minute_s = (key >> 1) // (1 << 24) * 60
        cells[(minute_s, ((key >> 1) % (1 << 24)), is_shadow)] = Counts(
            int(requests[i]), int(rows[i]), lat_hist[i], size_hist[i]
        )
    return Segment(path, n, int(n - shadow.sum()), int(at.min()), int(at.max()), cells)


class PredlogSummaries:
    """Per-deployment summaries of the prediction log, cached across calls in one process.

    Thread-safe: pages are rendered on a thread pool."""

    def __init__(self, artifacts: ArtifactStore) -> None:
        self.artifacts = artifacts
        self._segments: dict[str, dict[str, Segment]] = {}
        self._cells: dict[str, dict[Key, Counts]] = {}
        self._lock = threading.Lock()

    def _read(self, path: str, columns: list[str] | None) -> pa.Table:
        """The segment's ``columns`` that it has (an older segment may lack some)."""
        source = io.BytesIO(self.artifacts.read_path(path))
        if columns is not None:
            present = set(pq.read_schema(source).names)
            columns = [c for c in columns if c in present]
            source.seek(0)
        return pq.read_table(source, columns=columns)

    def _sync(self, deployment: str) -> tuple[dict[str, Segment], dict[Key, Counts]]:
        """Read the segments written since the last call, forget removed ones. Hold the lock."""
        paths = [
            p
            for p in self.artifacts.list_paths(f"{PREFIX}/deployment={deployment}")
            if p.endswith(".parquet")
        ]
        known = self._segments.setdefault(deployment, {})
        cells = self._cells.setdefault(deployment, {})
        present = set(paths)
        if any(p not in present for p in known):
            # Retention removed segments: start over (rare), rather than keeping every
            # segment's own counts in memory to subtract them.
            known.clear()
            cells.clear()
        for path in paths:
            if path in known:
                continue
            try:
                segment = summarise_segment(path, self._read(path, REQUEST_COLUMNS))
            except FileNotFoundError:
                continue  # removed between listing and reading
            known[path] = Segment(
                path, segment.rows, segment.primary_rows, segment.first_ms, segment.last_ms, {}
            )  # its counts live on in the deployment's cells only
            for key, counts in segment.cells.items():
                cell = cells.get(key)
                if cell is None:
                    cells[key] = cell = Counts()
                cell.add(counts)
        return known, cells

    def refresh(
        self, deployment: str, window_s: int | None = None, max_steps: int = 720
    ) -> TrafficSummary:
        """The deployment's summary over the last ``window_s`` of its log (all of it: None)
        in at most ``max_steps`` steps of whole minutes, after reading new segments."""
        with self._lock:
            known, cells = self._sync(deployment)
            segments = list(known.values())
            first = min((s.first_ms for s in segments if s.rows), default=None)
            last = max((s.last_ms for s in segments if s.rows), default=None)
            arms: list[Binned] = []
            if last is None or first is None:
                steps = np.zeros(0, np.int64)
                latency = np.zeros((0, LATENCY_BINS), np.int64)
            else:
                end = min(int(time.time()), last // 1000) // 60 * 60 + 60
                start = first // 1000 // 60 * 60
                if window_s is not None:
                    start = max(start, end - window_s)
                minutes = max(1, (end - start) // 60)
                step = 60 * -(-minutes // max_steps)
                steps = np.arange(start, end, step, dtype=np.int64)
                latency = np.zeros((len(steps), LATENCY_BINS), np.int64)
                by_arm: dict[tuple[int, bool], list[np.ndarray]] = {}
                for (minute, version, shadow), counts in cells.items():
                    if minute < start or minute >= end:
                        continue
                    index = (minute - start) // step
                    arm = by_arm.get((version, shadow))
                    if arm is None:
                        arm = by_arm[(version, shadow)] = [
                            np.zeros(len(steps), np.int64),
                            np.zeros(len(steps), np.int64),
                            np.zeros(LATENCY_BINS, np.int64),
                            np.zeros(len(SIZE_LABELS), np.int64),
                        ]
                    arm[0][index] += counts.requests
                    arm[1][index] += counts.rows
                    arm[2] += counts.latency
                    arm[3] += counts.sizes
                    if not shadow:
                        latency[index] += counts.latency
                arms = [
                    Binned(version, shadow, *arrays)
                    for (version, shadow), arrays in sorted(by_arm.items())
                ]
            return TrafficSummary(
                deployment,
                steps,
                arms,
                latency,
                len(segments),
                sum(s.rows for s in segments),
                sum(s.primary_rows for s in segments),
                first,
                last,
            )

    def latest(
        self, deployment: str, limit: int = 50, columns: Sequence[str] | None = None
    ) -> pa.Table | None:
        """The newest ``limit`` answered rows (shadow calls left out), newest first: all
        logged columns, or those of ``columns`` (which must hold ``at_ms``, ``row``, ``arm``).

        Segments are chosen by their newest timestamp: only those that can hold one of the
        newest rows are read."""
        with self._lock:
            known, _ = self._sync(deployment)
            ordered = sorted(
                (s for s in known.values() if s.primary_rows),
                key=lambda s: s.last_ms,
                reverse=True,
            )
        tables: list[pa.Table] = []
        taken = 0
        threshold = None
        for segment in ordered:
            if taken >= limit and threshold is not None and segment.last_ms < threshold:
                break
            try:
                table = self._read(segment.path, None if columns is None else list(columns))
            except FileNotFoundError:
                continue
            if "arm" in table.column_names:
                table = table.filter(pc.invert(pc.starts_with(table["arm"], "shadow:")))
            tables.append(table)
            taken += table.num_rows
            if taken >= limit:
                at = np.concatenate([t["at_ms"].to_numpy() for t in tables])
                threshold = int(np.sort(at)[-limit])
        if not tables:
            return None
        # Oldest segment first, so that among rows of the same millisecond a later position
        # is a later request; a request's rows stay in their order.
        merged = pa.concat_tables(tables[::-1], promote_options="permissive")
        row = merged["row"].to_numpy()
        starts = np.flatnonzero(row == 0)
        request = np.repeat(starts, np.diff(np.append(starts, len(row))))
        order = np.lexsort((row, -request, -merged["at_ms"].to_numpy()))
        return merged.take(pa.array(order[:limit]))

    def column_sample(
        self, deployment: str, column: str, since_ms: int, max_rows: int = 50_000
    ) -> tuple[np.ndarray | list[object], int]:
        """The newest answered values of one logged column since ``since_ms``: at most
        ``max_rows`` of them, read from the newest segments only. Returns (values, answered
        rows of the segments that reach into the window)."""
        with self._lock:
            known, _ = self._sync(deployment)
            ordered = sorted(
                (s for s in known.values() if s.primary_rows and s.last_ms >= since_ms),
                key=lambda s: s.last_ms,
                reverse=True,
            )
        in_window = sum(s.primary_rows for s in ordered)
        parts: list[pa.Array] = []
        taken = 0
        for segment in ordered:
            if taken >= max_rows:
                break
            try:
                table = self._read(segment.path, ["at_ms", "arm", column])
            except (FileNotFoundError, KeyError, pa.ArrowInvalid):
                continue
            keep = pc.and_(
                pc.invert(pc.starts_with(table["arm"], "shadow:")),
                pc.greater_equal(table["at_ms"], since_ms),
            )
            values = table[column].filter(keep).combine_chunks()
            parts.append(values)
            taken += len(values)
        if not parts:
            return [], in_window
        joined = pa.concat_arrays(parts)[:max_rows]
        return joined.to_numpy(zero_copy_only=False), in_window
