"""Several series on one x axis, downsampled together (runs compared on one metric).

``Chart.add`` downsamples each series on its own, so the chart's shared axis is the union
of the points each one kept: with 5 runs of 5,000 steps that is ~3,300 x values and a
``null`` wherever a run kept no point (20 runs: ~5,000 x values, 800 KiB, ~0.4 s). Here the
series share the slices instead: the union of their x values is cut into equal slices, each
series keeps its lowest and highest point of every slice, and the kept x values (at most
``chart.limit``) form the axis; a series that has a point at a kept x shows it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from shipyard.server.ui.charts import Chart, Series


def add_together(
    chart: Chart, series: Sequence[tuple[str, Sequence[float], Sequence[float | None]]]
) -> Chart:
    """Add ``(label, x, y)`` series to ``chart`` with at most ``chart.limit`` x values in all."""
    if not series:
        return chart
    columns = [(label, _array(x), _array(y)) for label, x, y in series]
    axis = np.unique(np.concatenate([xs for _, xs, _ in columns]))
    if len(axis) <= chart.limit:
        for label, x, y in series:
            chart.add(label, x, y)
        return chart
    slices = max(1, (chart.limit - 2) // (2 * len(columns)))
    edges = axis[[part[0] for part in np.array_split(np.arange(len(axis)), slices)]]
    keep = {float(axis[0]), float(axis[-1])}
    for _, xs, ys in columns:
        present = ~np.isnan(ys)
        xs, ys = xs[present], ys[present]
        if not len(xs):
            continue
        bucket = np.searchsorted(edges, xs, side="right") - 1
        order = np.lexsort((ys, bucket))  # by slice, then by value
        bucket, xs = bucket[order], xs[order]
        first = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
        last = np.r_[first[1:] - 1, len(bucket) - 1]
        keep.update(xs[first].tolist())
        keep.update(xs[last].tolist())
    kept = np.asarray(sorted(keep)[: chart.limit])
    axis_values = kept.tolist()
    for label, xs, ys in columns:
        if not len(xs):
            chart.series.append(Series(label, axis_values, [None] * len(axis_values)))
            continue
        order = np.argsort(xs, kind="stable")
        xs, ys = xs[order], ys[order]
        at = np.clip(np.searchsorted(xs, kept), 0, len(xs) - 1)
        values = np.where(xs[at] == kept, ys[at], np.nan).tolist()
        chart.series.append(Series(label, axis_values, [None if v != v else v for v in values]))
    return chart


def _array(values: Sequence[float | None]) -> np.ndarray[Any, np.dtype[np.float64]]:
    return np.asarray(values, dtype=float)  # None becomes NaN
