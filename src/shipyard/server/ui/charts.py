"""Charts as data: what a page hands to ``_chart.html`` (a uPlot chart plus the table of the
same numbers). Series are downsampled here, on the server, so a page never ships more than
``MAX_POINTS`` points per series however long the history is."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

MAX_POINTS = 1000
TABLE_ROWS = 200


@dataclass(frozen=True)
class Series:
    label: str
    x: Sequence[float]
    y: Sequence[float | None]


def downsample(
    x: Sequence[float], y: Sequence[float | None], limit: int = MAX_POINTS
) -> tuple[list[float], list[float | None]]:
    """At most ``limit`` points that keep the shape: the first and last point and, for each
    of ``limit // 2`` equal slices, its lowest and highest value (spikes survive, unlike a
    stride or a mean)."""
    if len(x) <= limit:
        return [float(v) for v in x], [_finite(v) for v in y]
    xs = np.asarray(x, dtype=float)
    ys = np.asarray([np.nan if v is None else v for v in y], dtype=float)
    keep = {0, len(xs) - 1}
    for part in np.array_split(np.arange(len(xs)), max(1, (limit - 2) // 2)):
        values = ys[part]
        if np.all(np.isnan(values)):
            keep.add(int(part[0]))
            continue
        keep.add(int(part[np.nanargmin(values)]))
        keep.add(int(part[np.nanargmax(values)]))
    index = sorted(keep)[:limit]
    return [float(v) for v in xs[index]], [_finite(v) for v in ys[index]]


def _finite(value: float | None) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


@dataclass
class Chart:
    """One chart: series joined on a shared x axis (a gap where a series has no point)."""

    id: str
    title: str
    series: list[Series] = field(default_factory=list)
    time: bool = False  # x in seconds since the epoch
    xlabel: str = "step"
    y: str = ""
    limit: int = MAX_POINTS

    def add(self, label: str, x: Sequence[float], y: Sequence[float | None]) -> Chart:
        xs, ys = downsample(x, y, self.limit)
        self.series.append(Series(label, xs, ys))
        return self

    @property
    def x(self) -> list[float]:
        return sorted({v for s in self.series for v in s.x})

    def aligned(self) -> list[list[float | None]]:
        axis = self.x
        columns = []
        for s in self.series:
            at = dict(zip(s.x, s.y, strict=True))
            columns.append([at.get(v) for v in axis])
        return columns

    def json(self) -> str:
        """The chart's data for charts.js, safe inside a <script> element."""
        payload = {
            "title": self.title,
            "time": self.time,
            "xlabel": self.xlabel,
            "y": self.y,
            "x": self.x,
            "series": [
                {"label": s.label, "values": values}
                for s, values in zip(self.series, self.aligned(), strict=True)
            ],
        }
        text = json.dumps(payload, separators=(",", ":"), allow_nan=False)
        return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")

    def rows(self) -> list[list[str]]:
        """The table beside the chart: at most ``TABLE_ROWS`` rows, evenly spread."""
        axis = self.x
        columns = self.aligned()
        step = max(1, math.ceil(len(axis) / TABLE_ROWS))
        rows = []
        for i in range(0, len(axis), step):
            label = _time(axis[i]) if self.time else f"{axis[i]:g}"
            rows.append([label, *(_cell(c[i]) for c in columns)])
        return rows


def _time(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"
