"""Latency of the source and the converted model: one row and 1,000 rows, one thread.

Each side is called the way the server calls it (the float matrix fast path
when the predictor takes it, else a DataFrame), repeatedly; the report keeps
the medians. scikit-learn's OpenMP/BLAS pools are limited to one thread, as
onnxruntime's session is, so the numbers compare one core with one core.
"""

from __future__ import annotations

import statistics
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from shipyard.flavors.base import Predictor

BATCH_ROWS = 1_000
ONE_ROW_CALLS = 200
BATCH_CALLS = 15


@dataclass(frozen=True)
class LatencyReport:
    source_1_row_ms: float
    onnx_1_row_ms: float
    source_1000_rows_ms: float
    onnx_1000_rows_ms: float
    speedup_1_row: float
    speedup_1000_rows: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        return (
            f"1 row {self.source_1_row_ms:.3f} -> {self.onnx_1_row_ms:.3f} ms "
            f"({self.speedup_1_row:.1f}x), {BATCH_ROWS:,} rows {self.source_1000_rows_ms:.2f} -> "
            f"{self.onnx_1000_rows_ms:.2f} ms ({self.speedup_1000_rows:.1f}x)"
        )


def _call(predictor: Predictor, frame: pd.DataFrame) -> Callable[[], Any]:
    """What the server would run for these rows."""
    proba = predictor.supports_proba and predictor.classes is not None
    numeric = all(dtype.kind in "fiub" for dtype in frame.dtypes)
    if numeric and predictor.accepts_matrix([str(c) for c in frame.columns]):
        matrix = frame.to_numpy(dtype=np.float64)
        if proba:
            return lambda: predictor.predict_proba_matrix(matrix)
        return lambda: predictor.predict_matrix(matrix)
    if proba:
        return lambda: predictor.predict_proba(frame)
    return lambda: predictor.predict(frame)


def _median_ms(call: Callable[[], Any], repeats: int) -> float:
    call()  # warm-up
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def measure_latency(source: Predictor, onnx: Predictor, frame: pd.DataFrame) -> LatencyReport:
    one = frame.iloc[:1]
    batch = frame.iloc[np.arange(BATCH_ROWS) % len(frame)].reset_index(drop=True)
    with threadpool_limits(1), warnings.catch_warnings():
        # a matrix has no column names; the server silences scikit-learn's warning too
        warnings.simplefilter("ignore", UserWarning)
        timings = [
            _median_ms(_call(predictor, rows), calls)
            for rows, calls in ((one, ONE_ROW_CALLS), (batch, BATCH_CALLS))
            for predictor in (source, onnx)
        ]
    src1, onnx1, src_n, onnx_n = timings
    return LatencyReport(
        round(src1, 4),
        round(onnx1, 4),
        round(src_n, 3),
        round(onnx_n, 3),
        round(src1 / onnx1, 2) if onnx1 else 0.0,
        round(src_n / onnx_n, 2) if onnx_n else 0.0,
    )
