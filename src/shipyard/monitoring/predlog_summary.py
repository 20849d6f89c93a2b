"""A per-minute summary of a deployment's prediction log, kept up to date incrementally.

Reading a whole prediction log per question does not scale (a million rows take
seconds). Segments are immutable files, so each one is read once, only its request
columns (``at_ms``, ``version``, ``arm``, ``latency_ms``, ``row``), and folded into
per-(minute, version, shadow) counters: requests, rows, a latency histogram and a
histogram of rows per request. A later call lists the segments again and reads only the
new ones; a segment that disappeared (retention) is subtracted. The latest rows are
found from each segment's newest timestamp, so they need one or two segment reads.

Latency quantiles come from a log-spaced histogram (80 bins from 0.01 ms to 100 s,
each about 22% wide), interpolated within the bin: within a few percent, not exact.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
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
class TrafficSummary:
    """A deployment's logged traffic, per minute. ``cells`` maps (minute s, version,
    shadow) to its counts; ``segments`` is how many files it summarises."""

    deployment: str
    cells: dict[Key, Counts]
    segments: int
    rows: int
    primary_rows: int
    first_ms: int | None
    last_ms: int | None

    def minutes(self) -> list[int]:
        return sorted({minute for minute, _, _ in self.cells})

    def versions(self) -> list[tuple[int, bool]]:
        return sorted({(version, shadow) for _, version, shadow in self.cells})

    def by_version(self) -> dict[tuple[int, bool], Counts]:
        totals: dict[tuple[int, bool], Counts] = {}
        for (_, version, shadow), counts in self.cells.items():
            totals.setdefault((version, shadow), Counts()).add(counts)
        return totals

    def primary_by_minute(self) -> dict[int, Counts]:
        """Every version's answers to callers (shadow calls left out), per minute."""
        totals: dict[int, Counts] = {}
        for (minute, _, shadow), counts in self.cells.items():
            if not shadow:
                totals.setdefault(minute, Counts()).add(counts)
        return totals


def summarise_segment(path: str, table: pa.Table) -> Segment:
    """Fold one segment's rows into per-(minute, version, shadow) counts."""
    n = table.num_rows
    if n == 0:
        return Segment(path, 0, 0, 0, 0, {})
    at = table["at_ms"].to_numpy()
    version = table["version"].to_numpy()
    latency = table["latency_ms"].to_numpy()
    row = table["row"].to_numpy()
    arms = table["arm"].to_numpy(zero_copy_only=False).astype(str)
    shadow = np.char.startswith(arms, "shadow:")
    starts = np.flatnonzero(row == 0)  # one per request: a request's rows are contiguous
    sizes = np.diff(np.append(starts, n))
    minute = at[starts] // MINUTE_MS * 60
    keys = np.stack([minute, version[starts], shadow[starts].astype(np.int64)], axis=1)
    unique, group = np.unique(keys, axis=0, return_inverse=True)
    group = group.reshape(-1)
    groups = len(unique)
    lat_hist = np.zeros((groups, LATENCY_BINS), np.int64)
    np.add.at(lat_hist, (group, np.searchsorted(LATENCY_EDGES_MS, latency[starts])), 1)
    size_hist = np.zeros((groups, len(SIZE_LABELS)), np.int64)
    np.add.at(size_hist, (group, np.searchsorted(SIZE_EDGES, sizes, side="right")), 1)
    requests = np.bincount(group, minlength=groups)
    rows = np.bincount(group, weights=sizes, minlength=groups).astype(np.int64)
    cells = {
        (int(m), int(v), bool(s)): Counts(int(requests[i]), int(rows[i]), lat_hist[i], size_hist[i])
        for i, (m, v, s) in enumerate(unique)
    }
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
        return pq.read_table(io.BytesIO(self.artifacts.read_path(path)), columns=columns)

    def refresh(self, deployment: str, since_s: int | None = None) -> TrafficSummary:
        """The deployment's summary, after reading the segments written since last time;
        its ``cells`` only from the minute ``since_s`` on (the totals are all time)."""
        paths = [
            p
            for p in self.artifacts.list_paths(f"{PREFIX}/deployment={deployment}")
            if p.endswith(".parquet")
        ]
        with self._lock:
            known = self._segments.setdefault(deployment, {})
            cells = self._cells.setdefault(deployment, {})
            present = set(paths)
            for gone in [p for p in known if p not in present]:
                for key, counts in known.pop(gone).cells.items():
                    cells[key].add(counts, -1)
                    if cells[key].requests == 0:
                        del cells[key]
            for path in paths:
                if path in known:
                    continue
                try:
                    segment = summarise_segment(path, self._read(path, REQUEST_COLUMNS))
                except FileNotFoundError:
                    continue  # removed between listing and reading
                known[path] = segment
                for key, counts in segment.cells.items():
                    cell = cells.get(key)
                    if cell is None:
                        cells[key] = cell = Counts()
                    cell.add(counts)
            segments = list(known.values())
            return TrafficSummary(
                deployment,
                {k: _copy(c) for k, c in cells.items() if since_s is None or k[0] >= since_s},
                len(segments),
                sum(s.rows for s in segments),
                sum(s.primary_rows for s in segments),
                min((s.first_ms for s in segments if s.rows), default=None),
                max((s.last_ms for s in segments if s.rows), default=None),
            )

    def latest(self, deployment: str, limit: int = 50) -> pa.Table | None:
        """The newest ``limit`` answered rows (shadow calls left out), newest first.

        Call ``refresh`` first: segments are chosen by their newest timestamp and only
        those that can hold one of the newest rows are read."""
        with self._lock:
            ordered = sorted(
                (s for s in self._segments.get(deployment, {}).values() if s.primary_rows),
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
                table = self._read(segment.path, None)
            except FileNotFoundError:
                continue
            if "arm" in table.column_names:
                arms = table["arm"].to_numpy(zero_copy_only=False).astype(str)
                table = table.filter(pa.array(~np.char.startswith(arms, "shadow:")))
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
        ``max_rows`` of them, read from the newest segments only (call ``refresh`` first).
        Returns (values, rows in the window it was taken from, as the summary counts)."""
        with self._lock:
            ordered = sorted(
                (
                    s
                    for s in self._segments.get(deployment, {}).values()
                    if s.primary_rows and s.last_ms >= since_ms
                ),
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
            arms = table["arm"].to_numpy(zero_copy_only=False).astype(str)
            keep = ~np.char.startswith(arms, "shadow:") & (table["at_ms"].to_numpy() >= since_ms)
            values = table[column].filter(pa.array(keep)).combine_chunks()
            parts.append(values)
            taken += len(values)
        if not parts:
            return [], in_window
        joined = pa.concat_arrays(parts)[:max_rows]
        return joined.to_numpy(zero_copy_only=False), in_window


def _copy(counts: Counts) -> Counts:
    return Counts(counts.requests, counts.rows, counts.latency.copy(), counts.sizes.copy())
